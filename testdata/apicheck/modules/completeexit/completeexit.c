#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/completion.h>
static struct completion c;
static int t(void *d) { complete_and_exit(&c, 0); }
static int __init x_init(void) { init_completion(&c); return t(NULL); }
module_init(x_init);
MODULE_LICENSE("GPL");
