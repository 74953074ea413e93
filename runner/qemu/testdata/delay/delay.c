// delay runs mdelay(5000) on each online CPU in turn and prints how long
// each took by the kernel's monotonic clock.
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/workqueue.h>

static long measure(void *data)
{
	ktime_t start = ktime_get();

	mdelay(5000);
	pr_info("delay: cpu %d: mdelay(5000) took %lld ms\n", smp_processor_id(),
		ktime_ms_delta(ktime_get(), start));
	return 0;
}

static int __init delay_init(void)
{
	int cpu;

	for_each_online_cpu(cpu)
		work_on_cpu(cpu, measure, NULL);
	return 0;
}

static void __exit delay_exit(void)
{
}

module_init(delay_init);
module_exit(delay_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("mdelay(5000) on every CPU, timed");
