#include <linux/module.h>
#include <linux/platform_device.h>
static int x_remove(struct platform_device *p) { return 0; }
static struct platform_driver d = { .remove = x_remove, .driver = { .name = "x" } };
module_platform_driver(d);
MODULE_LICENSE("GPL");
