// SPDX-License-Identifier: GPL-2.0
/*
 * kthread_cancel_work_sync: a kthread creates a kthread worker and queues a
 * work that counts my_data->i from 0 to 10; the thread then loops, printing
 * "thread execution" and calling kthread_cancel_work_sync, which cancels the
 * work if it has not started yet or waits for it to finish if it has.
 *
 * Unlike the tutorial's listing, the work lives in static storage rather than
 * on the thread's stack.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Linux Usr");
MODULE_DESCRIPTION("Example of kthread_cancel_work_sync");

struct my_work {
	struct kthread_work my_kthread_work;
	int i;
};

static struct task_struct *my_thread;
static struct kthread_worker *worker;
static struct my_work my_def_work;

static void def_work_function(struct kthread_work *work)
{
	struct my_work *my_data = container_of(work, struct my_work, my_kthread_work);

	pr_info("Inside work function\n");
	for (my_data->i = 0; my_data->i <= 10; my_data->i++) {
		pr_info("my_data->i = %d\n", my_data->i);
		msleep(100);
	}
}

static int def_thread_fun(void *data)
{
	kthread_init_work(&my_def_work.my_kthread_work, def_work_function);
	pr_info("Initializing kthread work\n");
	worker = kthread_create_worker(0, "kthread_cancel_work_sync worker example");
	if (IS_ERR(worker)) {
		pr_info("Error creating worker\n");
		worker = NULL;
	} else {
		pr_info("Created kthread worker\n");
		if (kthread_queue_work(worker, &my_def_work.my_kthread_work))
			pr_info("Queue the work to worker\n");
		else
			pr_info("Work is in pending state"); /* no newline, as in the tutorial */
	}
	while (!kthread_should_stop()) {
		pr_info("thread execution\n");
		if (worker)
			kthread_cancel_work_sync(&my_def_work.my_kthread_work);
		msleep(100);
	}
	pr_info("Cancelled kthread work\n");
	return 0;
}

static int __init kthread_cancel_work_sync_init(void)
{
	pr_info("Inside kthread_init function\n");
	my_thread = kthread_run(def_thread_fun, NULL, "kthread_cancel_work_sync thread example");
	if (IS_ERR(my_thread)) {
		pr_info("Error creating thread\n");
		return PTR_ERR(my_thread);
	}
	pr_info("Created kthread\n");
	return 0;
}

static void __exit kthread_cancel_work_sync_exit(void)
{
	pr_info("Inside kthread exit function\n");
	kthread_stop(my_thread);
	if (worker)
		kthread_destroy_worker(worker);
	/* No newline, as in the tutorial: the kernel holds this line back
	 * until it prints again. */
	pr_info("Destroyed kthread and worker");
}

module_init(kthread_cancel_work_sync_init);
module_exit(kthread_cancel_work_sync_exit);
