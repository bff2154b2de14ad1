// SPDX-License-Identifier: GPL-2.0
/*
 * integrity.c - kernel integrity checks, each finding an INTEGRITY record:
 *
 *	HIDDEN_MODULE	a module with a kobject in /sys/module (module_kset)
 *			that is not on the kernel's module list, so lsmod and
 *			/proc/modules do not show it
 *	SYSCALL_HOOK	a sys_call_table entry outside kernel text
 *	PROC_FOPS_HOOK	the /proc root inode's file or inode operations outside
 *			kernel rodata, or their iterate_shared / lookup outside
 *			kernel text
 *	CHECK_DONE	closes every run: number of findings, skipped checks
 *
 * owner = the module whose memory holds the address, where one does.
 *
 * The checks run in one delayed work item (sleepable, never concurrent with
 * itself): at load and then every integrity_interval_s seconds (0: no
 * timer), and when the "check" control command asks for a run.
 *
 * Addresses the kernel does not export (sys_call_table, the bounds of its
 * text and rodata) are resolved once at load through kprobes:
 * register_kprobe() looks the name up with kallsyms and stores the address
 * in kp.addr before it checks that the address can be probed - a text
 * symbol is registered disabled and removed at once, a data symbol is
 * refused after the lookup.  No unexported function is called through a
 * pointer (safe with IBT).  The module list and module_kset are reached
 * from THIS_MODULE.  A check whose addresses are unknown is skipped and
 * named in CHECK_DONE; nothing fails the load.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/kobject.h>
#include <linux/kprobes.h>
#include <linux/kallsyms.h>
#include <linux/workqueue.h>
#include <linux/rculist.h>
#include <linux/poison.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/namei.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/atomic.h>
#include <asm/unistd.h>
#include "vigil_priv.h"
#include "compat.h"

/* Records per kind and run; findings past it are only counted. */
#define VG_INTEG_MAX_REPORT	64
/* Hidden modules remembered under the kset lock per run. */
#define VG_INTEG_MAX_HIDDEN	16
/* Bound on a module list walk (a corrupted list must not loop forever). */
#define VG_INTEG_MAX_MODULES	65536
#define VG_INTEG_MAX_INTERVAL	(7 * 24 * 3600)

enum vg_integ_trigger { VG_TRIG_TIMER, VG_TRIG_LOAD, VG_TRIG_COMMAND };

static const char *const vg_trig_names[] = {
	[VG_TRIG_TIMER] = "timer",
	[VG_TRIG_LOAD] = "load",
	[VG_TRIG_COMMAND] = "command",
};

static struct {
	unsigned long stext, etext;		/* kernel text */
	unsigned long rodata_start, rodata_end;	/* kernel rodata */
	const unsigned long *sys_call_table;
} vg_ks;

static unsigned long vg_integ_interval;		/* jiffies, 0: no timer */
static bool vg_integ_stopping;
static atomic_t vg_integ_requested = ATOMIC_INIT(0);
static atomic_t vg_integ_loaded = ATOMIC_INIT(0);
static unsigned int vg_integ_last = UINT_MAX;	/* findings of the last run */

/* One run's scratch (the work item never runs concurrently with itself). */
struct vg_integ_run {
	unsigned int findings;
	unsigned int reported[VIGIL_INTEG_CHECK_DONE];
	unsigned long ran;
	char skipped[128];
	char owner[MODULE_NAME_LEN];
	char sym[KSYM_SYMBOL_LEN];
	struct {
		char name[MODULE_NAME_LEN];
		unsigned long base;
	} hidden[VG_INTEG_MAX_HIDDEN];
};

static void vg_integ_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(vg_integ_work, vg_integ_fn);

/* Address of a kernel symbol (text or data) or 0; see the top comment. */
static unsigned long vg_ksym(const char *name)
{
	struct kprobe kp = {
		.symbol_name = name,
		.flags = KPROBE_FLAG_DISABLED,
	};
	int ret = register_kprobe(&kp);

	if (!ret)
		unregister_kprobe(&kp);
	return (unsigned long)kp.addr;
}

static bool vg_in(unsigned long addr, unsigned long start, unsigned long end)
{
	return start && addr >= start && addr < end;
}

static void vg_emit(u16 kind, u32 index, u64 address, const char *owner,
		    const char *name)
{
	struct vg_rec r;

	if (!vg_rec_begin_meta(&r, VIGIL_INTEGRITY))
		return;
	vg_put_u16(&r, kind);
	vg_put_u32(&r, index);
	vg_put_u64(&r, address);
	vg_put_cstr(&r, owner);
	vg_put_cstr(&r, name);
	vg_rec_commit(&r);
}

static void vg_skip(struct vg_integ_run *run, const char *what)
{
	size_t len = strlen(run->skipped);

	snprintf(run->skipped + len, sizeof(run->skipped) - len, "%s%s",
		 len ? " " : "", what);
}

/* The kset every module kobject is in (/sys/module); NULL without sysfs. */
static struct kset *vg_module_kset(void)
{
	return THIS_MODULE->mkobj.kobj.kset;
}

/*
 * Whether mod is on the kernel's module list.  The walk starts at this
 * module's own entry (always on the list while it runs), so the list head
 * (a static of the kernel) is never needed.  Caller holds rcu_read_lock().
 */
static bool vg_module_listed(const struct module *mod)
{
	struct list_head *start = &THIS_MODULE->list;
	struct list_head *n;
	unsigned int i;

	if (mod == THIS_MODULE)
		return true;
	n = rcu_dereference(list_next_rcu(start));
	for (i = 0; n != start && i < VG_INTEG_MAX_MODULES; i++) {
		if (n == &mod->list)
			return true;
		if (!n || n == LIST_POISON1 || n == LIST_POISON2)
			return true;	/* list being changed: no verdict */
		n = rcu_dereference(list_next_rcu(n));
	}
	return n != start;	/* no verdict on an endless list */
}

/* The module of a module kobject, NULL for built-ins and other kobjects. */
static struct module *vg_kobj_module(struct kobject *k)
{
	if (k->ktype != THIS_MODULE->mkobj.kobj.ktype)
		return NULL;
	return container_of(k, struct module_kobject, kobj)->mod;
}

/*
 * Owner and symbol of an address.  kallsyms (sprint_symbol) finds the
 * module through the module address tree, which still holds modules that
 * left the list; the module kobjects cover addresses kallsyms has no symbol
 * for (e.g. a module's data without CONFIG_KALLSYMS_ALL).
 */
static void vg_owner(struct vg_integ_run *run, unsigned long addr)
{
	struct kset *kset = vg_module_kset();
	struct module *mod;
	struct kobject *k;
	char *p;

	run->owner[0] = '\0';
	/* "sym+0xoff/0xsize [mod]", or "0x..." without a symbol */
	sprint_symbol(run->sym, addr);
	if (run->sym[0] == '0' && run->sym[1] == 'x') {
		run->sym[0] = '\0';
	} else {
		p = strstr(run->sym, " [");
		if (p) {
			strscpy(run->owner, p + 2, sizeof(run->owner));
			*p = '\0';
			p = strpbrk(run->owner, "] ");	/* "]" or " buildid]" */
			if (p)
				*p = '\0';
		}
		/* A module's data symbol has no meaningful size: keep sym+off. */
		p = strchr(run->sym, '/');
		if (p)
			*p = '\0';
	}
	if (run->owner[0] || !kset)
		return;
	spin_lock(&kset->list_lock);
	list_for_each_entry(k, &kset->list, entry) {
		mod = vg_kobj_module(k);
		if (mod && within_module(addr, mod)) {
			strscpy(run->owner, mod->name, sizeof(run->owner));
			break;
		}
	}
	spin_unlock(&kset->list_lock);
}

static void vg_finding(struct vg_integ_run *run, u16 kind, u32 index,
		       unsigned long addr)
{
	run->findings++;
	if (run->reported[kind - 1] >= VG_INTEG_MAX_REPORT)
		return;
	run->reported[kind - 1]++;
	vg_owner(run, addr);
	vg_emit(kind, index, addr, run->owner, run->sym);
}

/*
 * Hidden modules: a module kobject whose module is not on the list.  A
 * module is on the list (UNFORMED) before its kobject exists and its
 * kobject is gone before it leaves the list, so load and unload never look
 * hidden; UNFORMED and GOING modules are skipped all the same.  While the
 * kset lock is held a kobject's module is not freed (the module's kobject
 * release, which unload waits for, comes after kobject_del).
 */
static void vg_check_modules(struct vg_integ_run *run)
{
	struct kset *kset = vg_module_kset();
	unsigned int n = 0, i;
	struct module *mod;
	struct kobject *k;

	if (!kset) {
		vg_skip(run, "modules:no-sysfs");
		return;
	}
	spin_lock(&kset->list_lock);
	rcu_read_lock();
	list_for_each_entry(k, &kset->list, entry) {
		mod = vg_kobj_module(k);
		if (!mod || mod->state == MODULE_STATE_UNFORMED ||
		    mod->state == MODULE_STATE_GOING || vg_module_listed(mod))
			continue;
		if (n < VG_INTEG_MAX_HIDDEN) {
			strscpy(run->hidden[n].name, mod->name,
				sizeof(run->hidden[n].name));
			run->hidden[n].base = vg_module_base(mod);
		}
		n++;
	}
	rcu_read_unlock();
	spin_unlock(&kset->list_lock);
	run->ran |= VIGIL_INTEG_RAN_MODULES;
	for (i = 0; i < n; i++) {
		run->findings++;
		if (i >= VG_INTEG_MAX_HIDDEN || i >= VG_INTEG_MAX_REPORT)
			continue;
		vg_emit(VIGIL_INTEG_HIDDEN_MODULE, 0, run->hidden[i].base,
			run->hidden[i].name, run->hidden[i].name);
	}
}

/*
 * The system call table.  Since the 2024 branch-history-injection fixes
 * x86-64 dispatches through x64_sys_call (a switch), not through this
 * table, but the table is still what rootkits patch.
 */
static void vg_check_syscalls(struct vg_integ_run *run)
{
	unsigned long addr;
	unsigned int i;

	if (!vg_ks.sys_call_table || !vg_ks.stext) {
		vg_skip(run, vg_ks.stext ? "syscalls:no-sys_call_table" :
					   "syscalls:no-text-bounds");
		return;
	}
	for (i = 0; i < NR_syscalls; i++) {
		addr = READ_ONCE(vg_ks.sys_call_table[i]);
		if (!vg_in(addr, vg_ks.stext, vg_ks.etext))
			vg_finding(run, VIGIL_INTEG_SYSCALL_HOOK, i, addr);
	}
	run->ran |= VIGIL_INTEG_RAN_SYSCALLS;
}

/* The operations of the /proc root: tables in rodata, functions in text. */
static void vg_check_proc(struct vg_integ_run *run)
{
	const struct file_operations *fop;
	const struct inode_operations *iop;
	struct inode *inode;
	struct path path;
	void *fn;

	if (!vg_ks.stext || !vg_ks.rodata_start) {
		vg_skip(run, vg_ks.stext ? "proc:no-rodata-bounds" :
					   "proc:no-text-bounds");
		return;
	}
	if (kern_path("/proc", LOOKUP_FOLLOW, &path)) {
		vg_skip(run, "proc:no-/proc");
		return;
	}
	if (path.dentry->d_sb->s_magic != PROC_SUPER_MAGIC) {
		path_put(&path);
		vg_skip(run, "proc:not-procfs");
		return;
	}
	inode = d_inode(path.dentry->d_sb->s_root);
	fop = READ_ONCE(inode->i_fop);
	iop = READ_ONCE(inode->i_op);
	if (!vg_in((unsigned long)fop, vg_ks.rodata_start, vg_ks.rodata_end))
		vg_finding(run, VIGIL_INTEG_PROC_FOPS_HOOK,
			   VIGIL_INTEG_PROC_FOPS, (unsigned long)fop);
	/* The tables may be a module's: read them without trusting them. */
	if (fop && !vg_copy_from_kernel_nofault(&fn, &fop->iterate_shared,
						sizeof(fn)) &&
	    fn && !vg_in((unsigned long)fn, vg_ks.stext, vg_ks.etext))
		vg_finding(run, VIGIL_INTEG_PROC_FOPS_HOOK,
			   VIGIL_INTEG_PROC_ITERATE, (unsigned long)fn);
	if (!vg_in((unsigned long)iop, vg_ks.rodata_start, vg_ks.rodata_end))
		vg_finding(run, VIGIL_INTEG_PROC_FOPS_HOOK,
			   VIGIL_INTEG_PROC_IOPS, (unsigned long)iop);
	if (iop && !vg_copy_from_kernel_nofault(&fn, &iop->lookup,
						sizeof(fn)) &&
	    fn && !vg_in((unsigned long)fn, vg_ks.stext, vg_ks.etext))
		vg_finding(run, VIGIL_INTEG_PROC_FOPS_HOOK,
			   VIGIL_INTEG_PROC_LOOKUP, (unsigned long)fn);
	path_put(&path);
	run->ran |= VIGIL_INTEG_RAN_PROC;
}

static void vg_integ_fn(struct work_struct *work)
{
	bool command = atomic_xchg(&vg_integ_requested, 0);
	bool load = atomic_xchg(&vg_integ_loaded, 0);
	enum vg_integ_trigger trig = VG_TRIG_TIMER;
	struct vg_integ_run *run;

	if (command)
		trig = VG_TRIG_COMMAND;
	else if (load)
		trig = VG_TRIG_LOAD;
	run = kzalloc(sizeof(*run), GFP_KERNEL);
	if (run) {
		vg_check_modules(run);
		vg_check_syscalls(run);
		vg_check_proc(run);
		vg_emit(VIGIL_INTEG_CHECK_DONE, run->findings, run->ran,
			vg_trig_names[trig], run->skipped);
		if (run->findings != vg_integ_last && run->findings)
			pr_warn("vigil: integrity: %u finding(s) (INTEGRITY records)\n",
				run->findings);
		vg_integ_last = run->findings;
		kfree(run);
	}
	if (vg_integ_interval && !READ_ONCE(vg_integ_stopping))
		queue_delayed_work(system_wq, &vg_integ_work,
				   vg_integ_interval);
}

/* The "check" command: a run as soon as possible, answered by CHECK_DONE. */
void vg_integrity_request(void)
{
	if (READ_ONCE(vg_integ_stopping))
		return;
	atomic_set(&vg_integ_requested, 1);
	mod_delayed_work(system_wq, &vg_integ_work, 0);
}

void vg_integrity_init(unsigned int interval_s)
{
	vg_ks.stext = vg_ksym("_stext");
	vg_ks.etext = vg_ksym("_etext");
	if (!vg_ks.etext || vg_ks.etext <= vg_ks.stext)
		vg_ks.stext = 0;
	vg_ks.rodata_start = vg_ksym("__start_rodata");
	vg_ks.rodata_end = vg_ksym("__end_rodata");
	if (!vg_ks.rodata_end || vg_ks.rodata_end <= vg_ks.rodata_start)
		vg_ks.rodata_start = 0;
	vg_ks.sys_call_table = (const unsigned long *)vg_ksym("sys_call_table");
	pr_info("vigil: integrity: text %s, rodata %s, sys_call_table %s, interval %us\n",
		vg_ks.stext ? "ok" : "unknown",
		vg_ks.rodata_start ? "ok" : "unknown",
		vg_ks.sys_call_table ? "ok" : "unknown", interval_s);

	WRITE_ONCE(vg_integ_stopping, false);
	vg_integ_last = UINT_MAX;
	interval_s = min_t(unsigned int, interval_s, VG_INTEG_MAX_INTERVAL);
	vg_integ_interval = (unsigned long)interval_s * HZ;
	if (vg_integ_interval) {
		atomic_set(&vg_integ_loaded, 1);
		queue_delayed_work(system_wq, &vg_integ_work, 0);
	}
}

/* No run is queued or running after this returns. */
void vg_integrity_exit(void)
{
	WRITE_ONCE(vg_integ_stopping, true);
	cancel_delayed_work_sync(&vg_integ_work);
}
