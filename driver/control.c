// SPDX-License-Identifier: GPL-2.0
/*
 * control.c - the write() command protocol of /dev/vigil and the filters
 * it sets (watched path prefixes, executable allow-list, enabled hooks).
 *
 * A write holds one or more commands, one per line.  The whole write is
 * parsed into a new filter set first; only if every line is valid is the
 * set published (RCU) - a bad command returns -EINVAL and changes nothing.
 * Syntax: see README.md.
 */
#include <linux/kernel.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/namei.h>
#include <linux/mm_types.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/kdev_t.h>
#include "vigil_priv.h"
#include "compat.h"

#define VG_MAX_WATCH	64
#define VG_MAX_ALLOW	64
#define VG_MAX_PREFIX	256
#define VG_MAX_WRITE	16384

struct vg_exe_id {
	u32 dev;		/* vg_encode_dev() of the superblock */
	u64 ino;
};

struct vg_filters {
	struct rcu_head rcu;
	unsigned int nwatch;
	unsigned int nallow;
	unsigned long hook_mask;
	bool stats;		/* queue a STATS record after publishing */
	bool check;		/* request an integrity check after publishing */
	u16 watch_len[VG_MAX_WATCH];
	char watch[VG_MAX_WATCH][VG_MAX_PREFIX];
	struct vg_exe_id allow[VG_MAX_ALLOW];
};

/* Bit n set: hook/record type n enabled.  Written under vg_ctl_lock. */
unsigned long vg_hook_mask;

static struct vg_filters __rcu *vg_filters;
static DEFINE_MUTEX(vg_ctl_lock);

u32 vg_encode_dev(dev_t dev)
{
	return new_encode_dev(dev);
}

int vg_control_init(void)
{
	struct vg_filters *f = kzalloc(sizeof(*f), GFP_KERNEL);
	unsigned int i;

	if (!f)
		return -ENOMEM;
	for (i = 1; i < VG_NTYPES; i++)
		f->hook_mask |= BIT(i);
	WRITE_ONCE(vg_hook_mask, f->hook_mask);
	rcu_assign_pointer(vg_filters, f);
	return 0;
}

void vg_control_exit(void)
{
	struct vg_filters *f = rcu_dereference_protected(vg_filters, 1);

	RCU_INIT_POINTER(vg_filters, NULL);
	synchronize_rcu();
	kfree(f);
}

bool vg_exe_allowed(void)
{
	struct mm_struct *mm = current->mm;
	const struct vg_filters *f;
	struct file *exe;
	struct inode *inode;
	bool hit = false;
	unsigned int i;

	if (!mm)
		return false;
	rcu_read_lock();
	f = rcu_dereference(vg_filters);
	if (!f || !f->nallow)
		goto out;
	exe = rcu_dereference(mm->exe_file);
	if (!exe)
		goto out;
	inode = file_inode(exe);
	for (i = 0; i < f->nallow; i++) {
		if (f->allow[i].ino == inode->i_ino &&
		    f->allow[i].dev == vg_encode_dev(inode->i_sb->s_dev)) {
			hit = true;
			break;
		}
	}
out:
	rcu_read_unlock();
	return hit;
}

/* True when path starts with a watched prefix; no prefixes: nothing. */
bool vg_path_watched(const char *path, size_t len)
{
	const struct vg_filters *f;
	bool hit = false;
	unsigned int i;

	rcu_read_lock();
	f = rcu_dereference(vg_filters);
	for (i = 0; f && i < f->nwatch; i++) {
		if (len >= f->watch_len[i] &&
		    !memcmp(path, f->watch[i], f->watch_len[i])) {
			hit = true;
			break;
		}
	}
	rcu_read_unlock();
	return hit;
}

/*
 * True when some watched prefix reaches below dir (dir ends with '/'): a
 * file in dir that is not watched itself does not mean its siblings are not.
 */
bool vg_prefix_below(const char *dir, size_t len)
{
	const struct vg_filters *f;
	bool hit = false;
	unsigned int i;

	rcu_read_lock();
	f = rcu_dereference(vg_filters);
	for (i = 0; f && i < f->nwatch; i++) {
		if (f->watch_len[i] > len && !memcmp(f->watch[i], dir, len)) {
			hit = true;
			break;
		}
	}
	rcu_read_unlock();
	return hit;
}

void vg_emit_stats(void)
{
	struct vg_stats *st;
	struct vg_rec r;
	__le64 *counts;
	unsigned int i;

	st = kzalloc(sizeof(*st), GFP_KERNEL);
	counts = kcalloc(VG_NTYPES, sizeof(*counts), GFP_KERNEL);
	if (!st || !counts)
		goto out;
	vg_ring_stats(st);
	if (!vg_rec_begin_meta(&r, VIGIL_STATS))
		goto out;
	vg_put_u64(&r, st->records);
	vg_put_u64(&r, st->dropped);
	vg_put_u32(&r, st->size);
	vg_put_u32(&r, st->used);
	vg_put_u64(&r, READ_ONCE(vg_hook_mask));
	for (i = 0; i < VG_NTYPES; i++)
		counts[i] = cpu_to_le64(st->per_type[i]);
	vg_put_blob(&r, counts, VG_NTYPES * sizeof(*counts));
	for (i = 0; i < VG_NTYPES; i++)
		counts[i] = cpu_to_le64(st->per_type_drops[i]);
	vg_put_blob(&r, counts, VG_NTYPES * sizeof(*counts));
	vg_rec_commit(&r);
out:
	kfree(counts);
	kfree(st);
}

static int vg_hook_index(const char *name)
{
	unsigned int i;

	for (i = 1; i < VG_NTYPES; i++)
		if (vg_events[i].name && !strcmp(vg_events[i].name, name))
			return i;
	return -EINVAL;
}

static int vg_cmd_watch(struct vg_filters *f, const char *arg, bool add)
{
	size_t len = strlen(arg);
	unsigned int i;

	if (!len || len >= VG_MAX_PREFIX || arg[0] != '/')
		return -EINVAL;
	for (i = 0; i < f->nwatch; i++)
		if (f->watch_len[i] == len && !memcmp(f->watch[i], arg, len))
			break;
	if (add) {
		if (i < f->nwatch)
			return 0;
		if (f->nwatch == VG_MAX_WATCH)
			return -EINVAL;
		memcpy(f->watch[f->nwatch], arg, len);
		f->watch_len[f->nwatch++] = len;
		return 0;
	}
	if (i == f->nwatch)
		return -EINVAL;
	f->nwatch--;
	memmove(f->watch[i], f->watch[f->nwatch], VG_MAX_PREFIX);
	f->watch_len[i] = f->watch_len[f->nwatch];
	return 0;
}

static int vg_allow_add(struct vg_filters *f, u32 dev, u64 ino)
{
	unsigned int i;

	for (i = 0; i < f->nallow; i++)
		if (f->allow[i].dev == dev && f->allow[i].ino == ino)
			return 0;
	if (f->nallow == VG_MAX_ALLOW)
		return -EINVAL;
	f->allow[f->nallow].dev = dev;
	f->allow[f->nallow++].ino = ino;
	return 0;
}

static int vg_cmd_allow_exe(struct vg_filters *f, const char *arg)
{
	struct inode *inode;
	struct path path;
	int ret;

	if (arg[0] != '/')
		return -EINVAL;
	ret = kern_path(arg, LOOKUP_FOLLOW, &path);
	if (ret)
		return -EINVAL;
	inode = d_inode(path.dentry);
	ret = -EINVAL;
	if (inode && S_ISREG(inode->i_mode))
		ret = vg_allow_add(f, vg_encode_dev(inode->i_sb->s_dev),
				   inode->i_ino);
	path_put(&path);
	return ret;
}

static int vg_cmd_allow_ino(struct vg_filters *f, char *arg)
{
	char *ino_s = strchr(arg, ' ');
	u32 dev;
	u64 ino;

	if (!ino_s)
		return -EINVAL;
	*ino_s++ = '\0';
	if (kstrtou32(arg, 0, &dev) || kstrtou64(ino_s, 0, &ino))
		return -EINVAL;
	return vg_allow_add(f, dev, ino);
}

static int vg_cmd_hook(struct vg_filters *f, char *arg)
{
	char *state = strrchr(arg, ' ');
	unsigned long bits;
	bool on;
	int idx;

	if (!state)
		return -EINVAL;
	*state++ = '\0';
	if (!strcmp(state, "on"))
		on = true;
	else if (!strcmp(state, "off"))
		on = false;
	else
		return -EINVAL;
	if (!strcmp(arg, "all")) {
		bits = GENMASK(VG_NTYPES - 1, 1);
	} else {
		idx = vg_hook_index(arg);
		if (idx < 0)
			return idx;
		bits = BIT(idx);
	}
	if (on)
		f->hook_mask |= bits;
	else
		f->hook_mask &= ~bits;
	return 0;
}

/* One command line, without its newline, into the staged filter set. */
static int vg_cmd(struct vg_filters *f, char *line)
{
	char *arg = strchr(line, ' ');

	if (arg)
		*arg++ = '\0';
	if (!strcmp(line, "stats") && !arg) {
		f->stats = true;
		return 0;
	}
	if (!strcmp(line, "check") && !arg) {
		f->check = true;
		return 0;
	}
	if (!strcmp(line, "clear-watch") && !arg) {
		f->nwatch = 0;
		return 0;
	}
	if (!strcmp(line, "clear-allow") && !arg) {
		f->nallow = 0;
		return 0;
	}
	if (!arg || !*arg)
		return -EINVAL;
	if (!strcmp(line, "watch"))
		return vg_cmd_watch(f, arg, true);
	if (!strcmp(line, "unwatch"))
		return vg_cmd_watch(f, arg, false);
	if (!strcmp(line, "allow-exe"))
		return vg_cmd_allow_exe(f, arg);
	if (!strcmp(line, "allow-ino"))
		return vg_cmd_allow_ino(f, arg);
	if (!strcmp(line, "hook"))
		return vg_cmd_hook(f, arg);
	return -EINVAL;
}

static int vg_parse(struct vg_filters *f, char *buf)
{
	char *line;
	int ret;

	while ((line = strsep(&buf, "\n")) != NULL) {
		if (!*line && !buf)
			break;		/* the final newline */
		if (!*line || strlen(line) >= VG_MAX_PREFIX + 16)
			return -EINVAL;
		ret = vg_cmd(f, line);
		if (ret)
			return ret;
	}
	return 0;
}

ssize_t vg_control_write(const char __user *ubuf, size_t count)
{
	struct vg_filters *old, *f;
	bool stats, check;
	char *buf;
	int ret;

	if (!count || count > VG_MAX_WRITE)
		return -EINVAL;
	buf = memdup_user_nul(ubuf, count);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	if (strlen(buf) != count) {	/* NUL inside: not text */
		ret = -EINVAL;
		goto out_free_buf;
	}
	f = kmalloc(sizeof(*f), GFP_KERNEL);
	if (!f) {
		ret = -ENOMEM;
		goto out_free_buf;
	}

	mutex_lock(&vg_ctl_lock);
	old = rcu_dereference_protected(vg_filters,
					lockdep_is_held(&vg_ctl_lock));
	memcpy(f, old, sizeof(*f));
	f->stats = false;
	f->check = false;
	ret = vg_parse(f, buf);
	if (ret) {
		mutex_unlock(&vg_ctl_lock);
		kfree(f);
		goto out_free_buf;
	}
	stats = f->stats;
	check = f->check;
	WRITE_ONCE(vg_hook_mask, f->hook_mask);
	rcu_assign_pointer(vg_filters, f);
	vg_paths_changed();
	mutex_unlock(&vg_ctl_lock);
	kfree_rcu(old, rcu);
	if (stats)
		vg_emit_stats();
	if (check)
		vg_integrity_request();
	ret = count;
out_free_buf:
	kfree(buf);
	return ret;
}
