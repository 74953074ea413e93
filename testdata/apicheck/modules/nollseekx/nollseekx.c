#include <linux/module.h>
#include <linux/fs.h>
static const struct file_operations f = { .llseek = no_llseek };
static int __init x_init(void) { return f.llseek ? 0 : 0; }
module_init(x_init);
MODULE_LICENSE("GPL");
