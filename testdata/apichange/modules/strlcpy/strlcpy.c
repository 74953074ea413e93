// A module that copies a string with strlcpy, as tutorials written before
// 6.8 do; 6.8 removed strlcpy (use strscpy).
#include <linux/module.h>
#include <linux/string.h>

static char name[8];

static int __init strlcpy_init(void)
{
	strlcpy(name, "strlcpy example", sizeof(name));
	pr_info("strlcpy: copied \"%s\"\n", name);
	return 0;
}

static void __exit strlcpy_exit(void)
{
	pr_info("strlcpy: bye\n");
}

module_init(strlcpy_init);
module_exit(strlcpy_exit);
MODULE_LICENSE("GPL");
