// A character device as tutorials written before 6.12 declare it: its
// file_operations say .llseek = no_llseek, which 6.12 removed.
#include <linux/fs.h>
#include <linux/module.h>

static int major;

static const struct file_operations fops = {
	.owner = THIS_MODULE,
	.llseek = no_llseek,
};

static int __init nollseek_init(void)
{
	major = register_chrdev(0, "nollseek", &fops);
	if (major < 0)
		return major;
	pr_info("nollseek: registered\n");
	return 0;
}

static void __exit nollseek_exit(void)
{
	unregister_chrdev(major, "nollseek");
	pr_info("nollseek: unregistered\n");
}

module_init(nollseek_init);
module_exit(nollseek_exit);
MODULE_LICENSE("GPL");
