// A module whose message depends on the kernel's version, so that its
// golden, written on 6.1, differs on 6.12 at one line.
#include <linux/module.h>
#include <linux/version.h>

static int __init banner_init(void)
{
	pr_info("banner: hello\n");
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
	pr_info("banner: a kernel of 6.12 or later\n");
#else
	pr_info("banner: a kernel before 6.12\n");
#endif
	return 0;
}

static void __exit banner_exit(void)
{
	pr_info("banner: bye\n");
}

module_init(banner_init);
module_exit(banner_exit);
MODULE_LICENSE("GPL");
