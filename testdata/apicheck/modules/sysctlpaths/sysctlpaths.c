#include <linux/module.h>
#include <linux/sysctl.h>
static struct ctl_table t[] = { {} };
static struct ctl_path p[] = { { .procname = "x" }, {} };
static int __init x_init(void) { return register_sysctl_paths(p, t) ? 0 : -1; }
module_init(x_init);
MODULE_LICENSE("GPL");
