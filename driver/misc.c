// SPDX-License-Identifier: GPL-2.0
/*
 * misc.c - kernel-level hooks and the DEVICE_OPENED record.
 *
 *	PTRACE		kprobe security_ptrace_access_check (attach)
 *	MODULE_LOAD	tracepoint module_load
 *	MEMFD_CREATE	kprobe on the memfd_create syscall entry
 *	MOUNT		kprobe security_sb_mount
 *	BPF_PROG_LOAD	kprobe bpf_prog_kallsyms_add (every program)
 *	USERMODE_HELPER	kprobe call_usermodehelper_exec
 *
 * Each is optional: one that cannot be registered is logged and skipped.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/module.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/umh.h>
#include <linux/path.h>
#include <linux/dcache.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <asm/syscall.h>
#include <asm/unistd.h>
#include "vigil_priv.h"
#include "compat.h"

void vg_emit_device_opened(unsigned int flags, int result)
{
	struct vg_rec r;

	if (!vg_rec_begin_meta(&r, VIGIL_DEVICE_OPENED))
		return;
	vg_put_u32(&r, flags);
	vg_put_s32(&r, result);
	vg_rec_commit(&r);
}

static bool vg_user_args(unsigned long *args)
{
	if (current->flags & PF_KTHREAD)
		return false;
	syscall_get_arguments(current, task_pt_regs(current), args);
	return true;
}

static int vg_ptrace_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct task_struct *child =
		(struct task_struct *)vg_kprobe_arg(regs, 0);
	unsigned int mode = (unsigned int)vg_kprobe_arg(regs, 1);
	unsigned long args[6];
	s64 request = -1;
	struct vg_rec r;

	if (!child || !(mode & PTRACE_MODE_ATTACH))
		return 0;
	if (!vg_rec_begin(&r, VIGIL_PTRACE))
		return 0;
	if (vg_user_args(args) &&
	    syscall_get_nr(current, task_pt_regs(current)) == __NR_ptrace)
		request = (long)args[0];
	vg_put_u32(&r, mode);
	vg_put_u32(&r, task_pid_nr(child));
	vg_put_u32(&r, task_tgid_nr(child));
	vg_put_str(&r, child->comm, strnlen(child->comm, TASK_COMM_LEN));
	vg_put_s64(&r, request);
	vg_rec_commit(&r);
	return 0;
}

static void vg_module_load_probe(void *data, struct module *mod)
{
	struct vg_rec r;

	if (!vg_rec_begin(&r, VIGIL_MODULE_LOAD))
		return;
	vg_put_str(&r, mod->name, strnlen(mod->name, MODULE_NAME_LEN));
	vg_put_u32(&r, (u32)mod->taints);
	vg_rec_commit(&r);
}

/*
 * Copy a user string of at most count bytes without sleeping
 * (strncpy_from_user_nofault is not exported): page by page, so a string
 * ending just before an unmapped page is still read.  Returns its length.
 */
static long vg_user_str(char *dst, unsigned long src, long count)
{
	long done = 0, n;
	char *nul;

	while (done < count) {
		n = min_t(long, count - done,
			  PAGE_SIZE - offset_in_page(src + done));
		if (vg_copy_from_user_nofault(dst + done,
					      (const void __user *)(src + done),
					      n))
			break;
		nul = memchr(dst + done, '\0', n);
		if (nul)
			return nul - dst;
		done += n;
	}
	return done;
}

static int vg_memfd_pre(struct kprobe *kp, struct pt_regs *regs)
{
	unsigned long args[6];
	struct vg_rec r;
	char *tmp;
	long n;

	if (!vg_user_args(args) || !vg_rec_begin(&r, VIGIL_MEMFD_CREATE))
		return 0;
	tmp = vg_rec_tmp(&r);
	n = vg_user_str(tmp, args[0], 256);
	vg_put_str(&r, tmp, n);
	vg_put_u32(&r, (u32)args[1]);
	vg_rec_commit(&r);
	return 0;
}

static int vg_mount_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const char *dev = (const char *)vg_kprobe_arg(regs, 0);
	const struct path *path = (const struct path *)vg_kprobe_arg(regs, 1);
	const char *type = (const char *)vg_kprobe_arg(regs, 2);
	unsigned long flags = vg_kprobe_arg(regs, 3);
	struct vg_rec r;
	char *target = NULL;

	vg_paths_changed();	/* a bind or move changes where files appear */
	if (!vg_rec_begin(&r, VIGIL_MOUNT))
		return 0;
	if (path)
		target = d_path(path, vg_rec_tmp(&r), PATH_MAX);
	vg_put_cstr(&r, dev);
	vg_put_cstr(&r, IS_ERR_OR_NULL(target) ? NULL : target);
	vg_put_cstr(&r, type);
	vg_put_u64(&r, flags);
	vg_rec_commit(&r);
	return 0;
}

static int vg_bpf_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct bpf_prog *prog = (struct bpf_prog *)vg_kprobe_arg(regs, 0);
	struct vg_rec r;

	if (!prog || !vg_rec_begin(&r, VIGIL_BPF_PROG_LOAD))
		return 0;
	vg_put_u32(&r, prog->type);
	vg_put_u32(&r, prog->len);
	vg_put_cstr(&r, prog->aux ? prog->aux->name : NULL);
	vg_rec_commit(&r);
	return 0;
}

static int vg_umh_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct subprocess_info *info =
		(struct subprocess_info *)vg_kprobe_arg(regs, 0);
	u32 room, len = 0, n;
	struct vg_rec r;
	unsigned int i;
	char *dst;

	if (!info || !vg_rec_begin(&r, VIGIL_USERMODE_HELPER))
		return 0;
	vg_put_cstr(&r, info->path);
	dst = vg_put_args_reserve(&r, &room);
	for (i = 0; dst && info->argv && info->argv[i] && i < 64; i++) {
		n = strnlen(info->argv[i], VIGIL_MAX_STR);
		if (len + n + 1 > room)
			break;
		memcpy(dst + len, info->argv[i], n);
		dst[len + n] = '\0';
		len += n + 1;
	}
	vg_put_args_commit(&r, len);
	vg_rec_commit(&r);
	return 0;
}

/* move_mount(2) (5.2+) moves mounts without security_sb_mount. */
static int vg_move_mount_pre(struct kprobe *kp, struct pt_regs *regs)
{
	vg_paths_changed();
	return 0;
}

static struct kprobe vg_misc_kps[] = {
	{ .symbol_name = "security_move_mount",
	  .pre_handler = vg_move_mount_pre },
	{ .symbol_name = "security_ptrace_access_check",
	  .pre_handler = vg_ptrace_pre },
	{ .symbol_name = VG_SYSCALL_SYM("memfd_create"),
	  .pre_handler = vg_memfd_pre },
	{ .symbol_name = "security_sb_mount", .pre_handler = vg_mount_pre },
	{ .symbol_name = "bpf_prog_kallsyms_add", .pre_handler = vg_bpf_pre },
	{ .symbol_name = "call_usermodehelper_exec",
	  .pre_handler = vg_umh_pre },
};

static bool vg_misc_ok[ARRAY_SIZE(vg_misc_kps)];
static struct tracepoint *vg_tp_module_load;

int vg_misc_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(vg_misc_kps); i++) {
		ret = register_kprobe(&vg_misc_kps[i]);
		vg_misc_ok[i] = !ret;
		if (ret)
			pr_warn("vigil: kprobe %s: %d (skipped)\n",
				vg_misc_kps[i].symbol_name, ret);
	}
	vg_tp_module_load = vg_find_tracepoint("module_load");
	if (vg_tp_module_load &&
	    tracepoint_probe_register(vg_tp_module_load, vg_module_load_probe,
				      NULL))
		vg_tp_module_load = NULL;
	if (!vg_tp_module_load)
		pr_warn("vigil: tracepoint module_load: skipped\n");
	return 0;
}

void vg_misc_exit(void)
{
	unsigned int i;

	if (vg_tp_module_load)
		tracepoint_probe_unregister(vg_tp_module_load,
					    vg_module_load_probe, NULL);
	vg_tp_module_load = NULL;
	for (i = 0; i < ARRAY_SIZE(vg_misc_kps); i++)
		if (vg_misc_ok[i])
			unregister_kprobe(&vg_misc_kps[i]);
	memset(vg_misc_ok, 0, sizeof(vg_misc_ok));
}
