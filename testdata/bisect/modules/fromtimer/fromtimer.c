// A timer as tutorials before 6.16 write it: its callback finds its data
// with from_timer(), which 6.16 renamed timer_container_of().
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/timer.h>

struct my_data {
	struct timer_list timer;
	int ticks;
};

static struct my_data data;

static void tick(struct timer_list *t)
{
	struct my_data *d = from_timer(d, t, timer);

	d->ticks++;
	pr_info("fromtimer: tick %d\n", d->ticks);
}

static int __init fromtimer_init(void)
{
	timer_setup(&data.timer, tick, 0);
	mod_timer(&data.timer, jiffies + msecs_to_jiffies(10));
	pr_info("fromtimer: armed\n");
	return 0;
}

static void __exit fromtimer_exit(void)
{
	timer_delete_sync(&data.timer);
	pr_info("fromtimer: bye after %d tick(s)\n", data.ticks);
}

module_init(fromtimer_init);
module_exit(fromtimer_exit);
MODULE_LICENSE("GPL");
