#include <linux/module.h>
#include <linux/mm.h>
static void f(struct vm_area_struct *v) { v->vm_flags |= VM_IO; }
static int __init x_init(void) { f(NULL); return 0; }
module_init(x_init);
MODULE_LICENSE("GPL");
