// SPDX-License-Identifier: GPL-2.0
/*
 * kthread_queue_work: a kthread creates a kthread worker and queues two
 * works on it, one second apart: the first counts up from 0 to 3, the
 * second down from 3 to 0. The thread then prints "thread execution" every
 * second until the module is removed.
 *
 * Unlike the tutorial's listing, the works live in static storage and the
 * counters in the works themselves: the tutorial's kmalloc in each work
 * function is never freed.
 */
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/kthread.h>
#include <linux/delay.h>

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Linux Usr");
MODULE_DESCRIPTION("Example of kthread_queue_work");

struct my_work {
	struct kthread_work my_kthread_work;
	int i;
};

static struct task_struct *my_thread;
static struct kthread_worker *my_worker;
static struct my_work my_def_work_1, my_def_work_2;

static void def_work_fn_1(struct kthread_work *work)
{
	struct my_work *w = container_of(work, struct my_work, my_kthread_work);

	pr_info("Inside work function 1\n");
	for (w->i = 0; w->i <= 3; w->i++) {
		pr_info("my_work_fn_1 = %d\n", w->i);
		msleep(100);
	}
}

static void def_work_fn_2(struct kthread_work *work)
{
	struct my_work *w = container_of(work, struct my_work, my_kthread_work);

	pr_info("Inside work function 2\n");
	for (w->i = 3; w->i >= 0; w->i--) {
		pr_info("my_work_fn_2 = %d\n", w->i);
		msleep(100);
	}
}

static int my_thread_fun(void *data)
{
	kthread_init_work(&my_def_work_1.my_kthread_work, def_work_fn_1);
	pr_info("kthread work 1 intialized\n");
	my_worker = kthread_create_worker(0, "kthread_queue_work worker example");
	if (IS_ERR(my_worker)) {
		pr_info("error in creating kthread_worker\n");
		my_worker = NULL;
		goto idle;
	}
	pr_info("kthread worker created\n");
	if (kthread_queue_work(my_worker, &my_def_work_1.my_kthread_work))
		pr_info("kthread work 1 is queued to worker\n");
	else
		pr_info("work 1 is pending\n");

	msleep(1000);

	kthread_init_work(&my_def_work_2.my_kthread_work, def_work_fn_2);
	pr_info("kthread_work_2_initialized\n");
	if (kthread_queue_work(my_worker, &my_def_work_2.my_kthread_work))
		pr_info("kthread work 2 is queued to worker\n");
	else
		pr_info("work 2 is pending\n");
idle:
	while (!kthread_should_stop()) {
		pr_info("thread execution\n");
		msleep(1000);
	}
	return 0;
}

static int __init kthread_queue_work_init(void)
{
	pr_info("Inside kthread init function\n");
	my_thread = kthread_run(my_thread_fun, NULL, "kthread_queue_work thread example");
	if (IS_ERR(my_thread)) {
		pr_info("Error in creating thread\n");
		return PTR_ERR(my_thread);
	}
	pr_info("Thread created successfully\n");
	return 0;
}

static void __exit kthread_queue_work_exit(void)
{
	pr_info("Inside kthread exit function\n");
	kthread_stop(my_thread);
	if (my_worker)
		kthread_destroy_worker(my_worker);
	pr_info("Destroyed threads and worker\n");
}

module_init(kthread_queue_work_init);
module_exit(kthread_queue_work_exit);
