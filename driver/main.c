// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - vigil.ko: module init/exit, parameters and the /dev/vigil
 * character device (read/poll/write, one reader at a time).
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/atomic.h>
#include <linux/tracepoint.h>
#include "vigil_priv.h"

static unsigned int buffer_kb = 4096;
module_param(buffer_kb, uint, 0444);
MODULE_PARM_DESC(buffer_kb, "Ring buffer size in KiB (default 4096, min 32)");

static unsigned int integrity_interval_s = 300;
module_param(integrity_interval_s, uint, 0444);
MODULE_PARM_DESC(integrity_interval_s,
		 "Seconds between integrity checks, first one at load (default 300, 0 = only on the check command)");

static atomic_t vg_open_count = ATOMIC_INIT(0);

static int vg_open(struct inode *inode, struct file *file)
{
	if (atomic_cmpxchg(&vg_open_count, 0, 1) != 0) {
		vg_emit_device_opened(file->f_flags, -EBUSY);
		return -EBUSY;
	}
	vg_emit_device_opened(file->f_flags, 0);
	return 0;
}

static int vg_release(struct inode *inode, struct file *file)
{
	atomic_set(&vg_open_count, 0);
	return 0;
}

static ssize_t vg_read(struct file *file, char __user *buf, size_t count,
		       loff_t *ppos)
{
	return vg_ring_read(buf, count, file->f_flags & O_NONBLOCK);
}

static ssize_t vg_write(struct file *file, const char __user *buf,
			size_t count, loff_t *ppos)
{
	return vg_control_write(buf, count);
}

static __poll_t vg_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, vg_ring_waitq(), wait);
	return vg_ring_readable() ? EPOLLIN | EPOLLRDNORM : 0;
}

static const struct file_operations vg_fops = {
	.owner = THIS_MODULE,
	.open = vg_open,
	.release = vg_release,
	.read = vg_read,
	.write = vg_write,
	.poll = vg_poll,
	.llseek = noop_llseek,
};

static struct miscdevice vg_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = VG_NAME,
	.fops = &vg_fops,
	.mode = 0600,
};

static int __init vg_init(void)
{
	int ret;

	ret = vg_record_init();
	if (ret)
		return ret;
	ret = vg_control_init();
	if (ret)
		goto err_record;
	ret = vg_ring_init(buffer_kb);
	if (ret)
		goto err_control;
	/* Before the device: a "check" written to it needs the work ready. */
	vg_integrity_init(integrity_interval_s);
	ret = misc_register(&vg_misc);
	if (ret)
		goto err_integrity;
	ret = vg_proc_init();
	if (ret)
		goto err_misc;
	ret = vg_net_init();
	if (ret)
		goto err_proc;
	ret = vg_file_init();
	if (ret)
		goto err_net;
	ret = vg_misc_init();
	if (ret)
		goto err_file;
	pr_info("vigil: loaded, abi %d schema %d, buffer %u KiB\n",
		VIGIL_ABI_VERSION, VIGIL_SCHEMA_VERSION, buffer_kb);
	return 0;

err_file:
	vg_file_exit();
err_net:
	vg_net_exit();
err_proc:
	vg_proc_exit();
err_misc:
	misc_deregister(&vg_misc);
err_integrity:
	vg_integrity_exit();
	tracepoint_synchronize_unregister();
	vg_ring_exit();
err_control:
	vg_control_exit();
err_record:
	vg_record_exit();
	return ret;
}

static void __exit vg_exit(void)
{
	/* No integrity run is queued or running after this. */
	vg_integrity_exit();
	vg_misc_exit();
	vg_file_exit();
	vg_net_exit();
	vg_proc_exit();
	/* No probe runs or will run after this. */
	tracepoint_synchronize_unregister();
	vg_ring_shutdown();
	misc_deregister(&vg_misc);
	vg_ring_exit();
	vg_control_exit();
	vg_record_exit();
	pr_info("vigil: unloaded\n");
}

module_init(vg_init);
module_exit(vg_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("Vigil");
MODULE_DESCRIPTION("Vigil host intrusion detection event source (/dev/vigil)");
MODULE_VERSION("0.1.0");
MODULE_INFO(vigil_abi, __stringify(VIGIL_ABI_VERSION));
MODULE_INFO(vigil_schema, __stringify(VIGIL_SCHEMA_VERSION));
