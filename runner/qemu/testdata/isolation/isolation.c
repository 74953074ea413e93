// isolation leaves traces a later case must not see: a record in the
// kernel log, a loaded module (which taints the kernel: out of tree,
// unsigned) and a kernel thread that runs until the module is removed.
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/module.h>

static struct task_struct *thread;

static int idle(void *data)
{
	while (!kthread_should_stop())
		msleep(100);
	return 0;
}

static int __init isolation_init(void)
{
	pr_info("isolation: loaded\n");
	thread = kthread_run(idle, NULL, "isolation thread");
	return PTR_ERR_OR_ZERO(thread);
}

static void __exit isolation_exit(void)
{
	kthread_stop(thread);
}

module_init(isolation_init);
module_exit(isolation_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("leaves traces for kmodcheck's isolation test");
