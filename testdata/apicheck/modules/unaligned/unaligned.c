#include <linux/module.h>
#include <asm/unaligned.h>
static int __init x_init(void) { u8 b[4] = {0}; return get_unaligned_le32(b); }
module_init(x_init);
MODULE_LICENSE("GPL");
