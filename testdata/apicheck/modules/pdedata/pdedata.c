#include <linux/module.h>
#include <linux/proc_fs.h>
static void *f(struct inode *i) { return PDE_DATA(i); }
static int __init x_init(void) { return f(NULL) ? 0 : 0; }
module_init(x_init);
MODULE_LICENSE("GPL");
