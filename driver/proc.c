// SPDX-License-Identifier: GPL-2.0
/*
 * proc.c - process hooks: exec, fork, exit (tracepoints sched_process_*,
 * looked up by name so they need not be exported) and credential changes
 * (kprobe on commit_creds).
 *
 * All of them run in atomic context (tracepoint probes with preemption off,
 * kprobe handlers likewise): user memory is only read with the no-fault
 * copy, paths are resolved under the locks that pin them, nothing sleeps.
 */
#include <linux/kernel.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/binfmts.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/file.h>
#include <linux/dcache.h>
#include <linux/tty.h>
#include <linux/cred.h>
#include <linux/kprobes.h>
#include <linux/tracepoint.h>
#include <linux/string.h>
#include <asm/syscall.h>
#include "vigil_priv.h"
#include "compat.h"

#define VG_ENV_SCAN_MAX	(64 * 1024)
#define VG_ENV_VAL_MAX	512

static struct tracepoint *vg_tp_exec, *vg_tp_fork, *vg_tp_exit;

struct vg_env {
	const char *name;	/* "LD_PRELOAD=" */
	char val[VG_ENV_VAL_MAX];
	u16 len;
};

static const char *const vg_env_names[] = {
	"LD_PRELOAD=", "LD_LIBRARY_PATH=", "SSH_CONNECTION=",
};

/* Used only while this cpu holds its record scratch (preemption off). */
static DEFINE_PER_CPU(struct vg_env[ARRAY_SIZE(vg_env_names)], vg_envs);

static void vg_env_match(struct vg_env *env, const char *s, size_t len)
{
	unsigned int i;
	size_t n;

	for (i = 0; i < ARRAY_SIZE(vg_env_names); i++) {
		n = strlen(vg_env_names[i]);
		if (len >= n && !memcmp(s, vg_env_names[i], n)) {
			env[i].len = min_t(size_t, len - n, VG_ENV_VAL_MAX);
			memcpy(env[i].val, s + n, env[i].len);
		}
	}
}

/* Scan the environment of the new image for the variables we report. */
static bool vg_env_scan(struct mm_struct *mm, char *tmp, struct vg_env *env)
{
	unsigned long pos = mm->env_start, end = mm->env_end;
	unsigned long n, off;
	char *nul;

	while (pos < end) {
		if (pos - mm->env_start >= VG_ENV_SCAN_MAX)
			return false;
		n = min_t(unsigned long, end - pos, PATH_MAX);
		if (vg_copy_from_user_nofault(tmp, (void __user *)pos, n))
			return false;
		off = 0;
		while (off < n) {
			nul = memchr(tmp + off, '\0', n - off);
			if (!nul)
				break;
			vg_env_match(env, tmp + off, nul - (tmp + off));
			off = nul - tmp + 1;
		}
		/* A string longer than tmp is skipped. */
		pos += off ? off : n;
	}
	return true;
}

static void vg_put_cwd(struct vg_rec *r, char *tmp)
{
	struct fs_struct *fs = current->fs;
	char *p = NULL;

	if (fs) {
		/* fs->lock keeps pwd referenced; d_path does not sleep. */
		spin_lock(&fs->lock);
		p = d_path(&fs->pwd, tmp, PATH_MAX);
		spin_unlock(&fs->lock);
	}
	vg_put_cstr(r, IS_ERR_OR_NULL(p) ? NULL : p);
}

/*
 * The file the task runs now, as /proc/<pid>/exe names it: d_path of
 * bprm->file, symlinks and "." / ".." resolved, relative to the task's root.
 * For a #! script (or binfmt_misc) bprm->file is the interpreter by now;
 * an unlinked file or a memfd ends in " (deleted)" ("/memfd:name (deleted)").
 * bprm holds its reference on the file; d_path does not sleep.
 */
static void vg_put_exe_path(struct vg_rec *r, struct linux_binprm *bprm,
			    char *tmp)
{
	char *p = NULL;

	if (bprm->file)
		p = d_path(&bprm->file->f_path, tmp, PATH_MAX);
	vg_put_cstr(r, IS_ERR_OR_NULL(p) ? NULL : p);
}

static void vg_put_tty(struct vg_rec *r, char *tmp)
{
	struct tty_struct *tty;
	unsigned long flags;

	tmp[0] = '\0';
	spin_lock_irqsave(&current->sighand->siglock, flags);
	tty = current->signal->tty;
	if (tty)
		strscpy(tmp, tty->name, 64);
	spin_unlock_irqrestore(&current->sighand->siglock, flags);
	vg_put_cstr(r, tmp);
}

static void vg_put_fd(struct vg_rec *r, unsigned int fd)
{
	struct vigil_addr local, remote;
	struct file *f = fget_raw(fd);

	vg_put_u8(r, vg_file_kind(f, &local, &remote));
	vg_put_addr(r, &local);
	vg_put_addr(r, &remote);
	if (f)
		fput(f);
}

static u32 vg_put_argv(struct vg_rec *r, struct mm_struct *mm, u32 *flags)
{
	unsigned long start = mm->arg_start, end = mm->arg_end;
	u32 room, len, argc = 0, i;
	char *dst = vg_put_args_reserve(r, &room);

	len = end > start ? min_t(unsigned long, end - start, room) : 0;
	if (len < end - start)
		*flags |= VIGIL_EXEC_ARGV_TRUNCATED;
	if (dst && len &&
	    vg_copy_from_user_nofault(dst, (void __user *)start, len)) {
		*flags |= VIGIL_EXEC_ARGV_UNREADABLE;
		len = 0;
	}
	for (i = 0; dst && i < len; i++)
		if (!dst[i])
			argc++;
	if (len && dst[len - 1])
		argc++;			/* the cut last argument */
	vg_put_args_commit(r, len);
	return argc;
}

static void vg_exec_probe(void *data, struct task_struct *p, pid_t old_pid,
			  struct linux_binprm *bprm)
{
	struct vg_env *env;
	struct mm_struct *mm = current->mm;
	struct inode *inode;
	u32 flags = 0, argc_off, flags_off, argc;
	unsigned int i;
	struct vg_rec r;
	char *tmp;

	if (!mm || !vg_rec_begin(&r, VIGIL_EXEC))
		return;
	tmp = vg_rec_tmp(&r);
	env = this_cpu_ptr(&vg_envs)[0];
	vg_put_cstr(&r, bprm->filename);
	vg_put_cstr(&r, bprm->interp != bprm->filename ? bprm->interp : NULL);
	argc_off = vg_put_u32(&r, 0);
	argc = vg_put_argv(&r, mm, &flags);
	vg_patch_u32(&r, argc_off, argc);
	flags_off = vg_put_u32(&r, 0);
	vg_put_cwd(&r, tmp);
	vg_put_tty(&r, tmp);
	inode = bprm->file ? file_inode(bprm->file) : NULL;
	vg_put_u64(&r, inode ? inode->i_ino : 0);
	vg_put_u32(&r, inode ? vg_encode_dev(inode->i_sb->s_dev) : 0);

	for (i = 0; i < ARRAY_SIZE(vg_env_names); i++)
		env[i].len = 0;
	if (!vg_env_scan(mm, tmp, env))
		flags |= VIGIL_EXEC_ENV_TRUNCATED;
	for (i = 0; i < ARRAY_SIZE(vg_env_names); i++)
		vg_put_str(&r, env[i].val, env[i].len);
	vg_patch_u32(&r, flags_off, flags);

	for (i = 0; i < 3; i++)
		vg_put_fd(&r, i);
	vg_put_exe_path(&r, bprm, tmp);
	vg_rec_commit(&r);
}

static void vg_fork_probe(void *data, struct task_struct *parent,
			  struct task_struct *child)
{
	struct vg_rec r;

	if (!vg_rec_begin(&r, VIGIL_FORK))
		return;
	vg_put_u32(&r, task_pid_nr(child));
	vg_put_u32(&r, task_tgid_nr(child));
	vg_put_u8(&r, task_tgid_nr(child) == task_tgid_nr(parent));
	vg_rec_commit(&r);
}

static void vg_exit_probe(void *data, struct task_struct *p)
{
	struct vg_rec r;

	if (!vg_rec_begin(&r, VIGIL_EXIT))
		return;
	vg_put_s32(&r, p->exit_code);
	/* signal->live is already decremented: > 0 means not the last one. */
	vg_put_u8(&r, atomic_read(&p->signal->live) > 0);
	vg_rec_commit(&r);
}

static u64 vg_cap_u64(kernel_cap_t cap)
{
	u64 v;

	BUILD_BUG_ON(sizeof(cap) != sizeof(v));
	memcpy(&v, &cap, sizeof(v));
	return v;
}

static int vg_commit_creds_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct cred *new = (const struct cred *)vg_kprobe_arg(regs, 0);
	const struct cred *old = current->real_cred;
	struct vg_rec r;
	long nr = -1;

	if (!new || !old)
		return 0;
	if (uid_eq(old->uid, new->uid) && uid_eq(old->euid, new->euid) &&
	    gid_eq(old->gid, new->gid) && gid_eq(old->egid, new->egid) &&
	    vg_cap_u64(old->cap_effective) == vg_cap_u64(new->cap_effective))
		return 0;
	if (!vg_rec_begin(&r, VIGIL_CRED_CHANGE))
		return 0;
	vg_put_u32(&r, from_kuid_munged(&init_user_ns, old->uid));
	vg_put_u32(&r, from_kuid_munged(&init_user_ns, old->euid));
	vg_put_u32(&r, from_kgid_munged(&init_user_ns, old->gid));
	vg_put_u32(&r, from_kgid_munged(&init_user_ns, old->egid));
	vg_put_u32(&r, from_kuid_munged(&init_user_ns, new->uid));
	vg_put_u32(&r, from_kuid_munged(&init_user_ns, new->euid));
	vg_put_u32(&r, from_kgid_munged(&init_user_ns, new->gid));
	vg_put_u32(&r, from_kgid_munged(&init_user_ns, new->egid));
	vg_put_u64(&r, vg_cap_u64(old->cap_effective));
	vg_put_u64(&r, vg_cap_u64(new->cap_effective));
	if (!(current->flags & PF_KTHREAD))
		nr = syscall_get_nr(current, task_pt_regs(current));
	vg_put_s32(&r, nr);
	vg_rec_commit(&r);
	return 0;
}

static struct kprobe vg_kp_commit_creds = {
	.symbol_name = "commit_creds",
	.pre_handler = vg_commit_creds_pre,
};

static int vg_tp_register(struct tracepoint **slot, const char *name,
			  void *probe)
{
	struct tracepoint *tp = vg_find_tracepoint(name);
	int ret;

	if (!tp) {
		pr_warn("vigil: tracepoint %s not found\n", name);
		return -ENOENT;
	}
	ret = tracepoint_probe_register(tp, probe, NULL);
	if (ret) {
		pr_warn("vigil: tracepoint %s: %d\n", name, ret);
		return ret;
	}
	*slot = tp;
	return 0;
}

static void vg_tp_unregister(struct tracepoint **slot, void *probe)
{
	if (*slot)
		tracepoint_probe_unregister(*slot, probe, NULL);
	*slot = NULL;
}

int vg_proc_init(void)
{
	int ret;

	ret = vg_tp_register(&vg_tp_exec, "sched_process_exec", vg_exec_probe);
	if (ret)
		return ret;
	ret = vg_tp_register(&vg_tp_fork, "sched_process_fork", vg_fork_probe);
	if (ret)
		goto err_exec;
	ret = vg_tp_register(&vg_tp_exit, "sched_process_exit", vg_exit_probe);
	if (ret)
		goto err_fork;
	ret = register_kprobe(&vg_kp_commit_creds);
	if (ret) {
		pr_warn("vigil: kprobe commit_creds: %d\n", ret);
		goto err_exit;
	}
	return 0;

err_exit:
	vg_tp_unregister(&vg_tp_exit, vg_exit_probe);
err_fork:
	vg_tp_unregister(&vg_tp_fork, vg_fork_probe);
err_exec:
	vg_tp_unregister(&vg_tp_exec, vg_exec_probe);
	tracepoint_synchronize_unregister();
	return ret;
}

void vg_proc_exit(void)
{
	unregister_kprobe(&vg_kp_commit_creds);
	vg_tp_unregister(&vg_tp_exit, vg_exit_probe);
	vg_tp_unregister(&vg_tp_fork, vg_fork_probe);
	vg_tp_unregister(&vg_tp_exec, vg_exec_probe);
}
