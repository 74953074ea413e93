#include <linux/module.h>
#include <linux/device.h>
static struct class *cls;
static int __init x_init(void) { cls = class_create(THIS_MODULE, "x"); return 0; }
module_init(x_init);
MODULE_LICENSE("GPL");
