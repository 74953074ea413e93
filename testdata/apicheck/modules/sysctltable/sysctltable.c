#include <linux/module.h>
#include <linux/sysctl.h>
static struct ctl_table t[] = { {} };
static int __init x_init(void) { return register_sysctl_table(t) ? 0 : -1; }
module_init(x_init);
MODULE_LICENSE("GPL");
