/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h - every kernel-version difference of vigil.ko, and only here.
 * Supported: 5.4 .. 6.x.  The .c files contain no #if on versions.
 */
#ifndef _VIGIL_COMPAT_H
#define _VIGIL_COMPAT_H

#include <linux/version.h>
#include <linux/uaccess.h>
#include <linux/cgroup.h>
#include <linux/kprobes.h>
#include <linux/ptrace.h>
#include <linux/module.h>
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#include <linux/unaligned.h>
#else
#include <asm/unaligned.h>
#endif

/* Copy from user memory without sleeping; 0 or -EFAULT. */
static inline long vg_copy_from_user_nofault(void *dst, const void __user *src,
					     size_t len)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 8, 0)
	return copy_from_user_nofault(dst, src, len);
#else
	return probe_user_read(dst, src, len);
#endif
}

/* Copy from kernel memory that may be unmapped; 0 or -EFAULT. */
static inline long vg_copy_from_kernel_nofault(void *dst, const void *src,
					       size_t len)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(5, 8, 0)
	return copy_from_kernel_nofault(dst, src, len);
#else
	return probe_kernel_read(dst, src, len);
#endif
}

/* Start of a loaded module's core text. */
static inline unsigned long vg_module_base(const struct module *mod)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	return (unsigned long)mod->mem[MOD_TEXT].base;
#else
	return (unsigned long)mod->core_layout.base;
#endif
}

/* Symbol of a system call's entry wrapper (kprobe target). */
#if defined(CONFIG_X86_64)
#define VG_SYSCALL_SYM(name)	"__x64_sys_" name
#elif defined(CONFIG_ARM64)
#define VG_SYSCALL_SYM(name)	"__arm64_sys_" name
#else
#define VG_SYSCALL_SYM(name)	"sys_" name
#endif

/* The n-th (from 0) integer/pointer argument at a kprobe on function entry. */
static inline unsigned long vg_kprobe_arg(struct pt_regs *regs, unsigned int n)
{
	return regs_get_kernel_argument(regs, n);
}

/* cgroup v2 id of a task; caller holds rcu_read_lock(). */
static inline u64 vg_task_cgroup_id(struct task_struct *task)
{
	struct cgroup *cgrp = task_dfl_cgroup(task);

	return cgrp ? cgroup_id(cgrp) : 0;
}

#endif /* _VIGIL_COMPAT_H */
