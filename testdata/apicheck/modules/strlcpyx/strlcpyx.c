#include <linux/module.h>
#include <linux/string.h>
static char n[4];
static int __init x_init(void) { strlcpy(n, "abc", sizeof(n)); return 0; }
module_init(x_init);
MODULE_LICENSE("GPL");
