// SPDX-License-Identifier: GPL-2.0
/*
 * file.c - file hooks on watched path prefixes (control: "watch <prefix>").
 *
 *	FILE_CREATE	kprobe security_path_mknod (also open(O_CREAT))
 *	FILE_OPEN_WRITE	kprobe security_file_open, FMODE_WRITE only
 *	FILE_RENAME	kprobe security_path_rename
 *	FILE_UNLINK	kprobe security_path_unlink
 *	FILE_CHMOD	kprobe security_path_chmod
 *
 * The security_path_* hooks need CONFIG_SECURITY_PATH (Debian, Ubuntu,
 * RHEL have it); a missing one is logged and skipped.  The dentries are
 * pinned by the caller; d_path() does not sleep.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/fs.h>
#include <linux/path.h>
#include <linux/dcache.h>
#include <linux/limits.h>
#include <linux/err.h>
#include <linux/fs_struct.h>
#include <linux/seqlock.h>
#include <linux/percpu.h>
#include "vigil_priv.h"
#include "compat.h"

#define VG_HALF	(PATH_MAX / 2)

/*
 * Per-cpu memory of the last directory found to hold no watched path, so a
 * program opening many files for writing in one unwatched directory (logs,
 * caches, build trees) pays for one d_path(), not one per open.  It misses
 * after any rename anywhere and any new mountpoint (both take rename_lock),
 * after a mount, bind or move and any watch-list change (vg_path_gen), and
 * for a task with another root (chroot, containers).  Entries are compared by address only, never
 * dereferenced.
 */
struct vg_unwatched_dir {
	const void *mnt, *dir, *root_mnt, *root_dir;
	unsigned int rename_seq, gen;
};

static DEFINE_PER_CPU(struct vg_unwatched_dir, vg_unwatched_dir);
static atomic_t vg_path_gen = ATOMIC_INIT(0);

void vg_paths_changed(void)
{
	atomic_inc(&vg_path_gen);
}

/* Preemption is off (kprobe handler). */
static bool vg_unwatched_hit(const struct file *file, unsigned int seq)
{
	const struct vg_unwatched_dir *c = this_cpu_ptr(&vg_unwatched_dir);
	const struct fs_struct *fs = current->fs;

	return fs && c->dir && !(seq & 1) && c->rename_seq == seq &&
	       c->gen == (unsigned int)atomic_read(&vg_path_gen) &&
	       c->mnt == file->f_path.mnt &&
	       c->dir == READ_ONCE(file->f_path.dentry->d_parent) &&
	       c->root_mnt == fs->root.mnt && c->root_dir == fs->root.dentry;
}

/* s (len bytes) is the unwatched path of file, read while rename_lock was at seq. */
static void vg_unwatched_remember(const struct file *file, const char *s,
				  size_t len, unsigned int seq, unsigned int gen)
{
	struct vg_unwatched_dir *c = this_cpu_ptr(&vg_unwatched_dir);
	const struct dentry *dentry = file->f_path.dentry;
	const struct fs_struct *fs = current->fs;
	size_t nlen = dentry->d_name.len;

	/* The path must end in "/<name>" (not "(deleted)" or a pseudo path). */
	if (!fs || (seq & 1) || read_seqretry(&rename_lock, seq) ||
	    len <= nlen || s[len - nlen - 1] != '/' ||
	    memcmp(s + len - nlen, dentry->d_name.name, nlen) ||
	    vg_prefix_below(s, len - nlen))
		return;
	c->mnt = file->f_path.mnt;
	c->dir = dentry->d_parent;
	c->root_mnt = fs->root.mnt;
	c->root_dir = fs->root.dentry;
	c->rename_seq = seq;
	c->gen = gen;
}

/* d_path of (mnt of dir, dentry) into buf; NULL when not watched. */
static char *vg_watched_path(const struct path *dir, struct dentry *dentry,
			     char *buf, int buflen, size_t *len)
{
	struct path p = { .mnt = dir->mnt, .dentry = dentry };
	char *s = d_path(&p, buf, buflen);

	if (IS_ERR(s))
		return NULL;
	*len = strlen(s);
	return s;
}

/*
 * Path of dentry in dir as d_path(dir) + "/" + name. A file being created
 * (mknod, rename target) still has a negative dentry, which d_path() would
 * report as "<path> (deleted)". d_path() fills the end of the space it is
 * given, so leaving NAME_MAX + 2 bytes free behind it makes room for the name.
 */
static char *vg_child_path(const struct path *dir, struct dentry *dentry,
			   char *buf, int buflen, size_t *len)
{
	u32 nlen = dentry->d_name.len;
	char *s;
	size_t dlen;

	if (buflen <= NAME_MAX + 2 || nlen > NAME_MAX)
		return NULL;
	s = d_path(dir, buf, buflen - NAME_MAX - 2);
	if (IS_ERR(s))
		return NULL;
	dlen = strlen(s);
	if (dlen > 1)
		s[dlen++] = '/';
	memcpy(s + dlen, dentry->d_name.name, nlen);
	dlen += nlen;
	s[dlen] = '\0';
	*len = dlen;
	return s;
}

static int vg_mknod_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct path *dir = (const struct path *)vg_kprobe_arg(regs, 0);
	struct dentry *dentry = (struct dentry *)vg_kprobe_arg(regs, 1);
	umode_t mode = (umode_t)vg_kprobe_arg(regs, 2);
	struct vg_rec r;
	size_t len;
	char *s;

	if ((mode & S_IFMT) && !S_ISREG(mode))
		return 0;
	if (!dir || !dentry || !vg_rec_begin(&r, VIGIL_FILE_CREATE))
		return 0;
	s = vg_child_path(dir, dentry, vg_rec_tmp(&r), PATH_MAX, &len);
	if (!s || !vg_path_watched(s, len)) {
		vg_rec_cancel(&r);
		return 0;
	}
	vg_put_str(&r, s, len);
	vg_put_u32(&r, mode);
	vg_rec_commit(&r);
	return 0;
}

static int vg_file_open_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct file *file = (struct file *)vg_kprobe_arg(regs, 0);
	unsigned int seq, gen;
	struct vg_rec r;
	size_t len;
	char *s;

	if (!file || !(file->f_mode & FMODE_WRITE))
		return 0;
	seq = raw_read_seqcount(&rename_lock.seqcount);
	gen = (unsigned int)atomic_read(&vg_path_gen);
	if (vg_unwatched_hit(file, seq))
		return 0;
	if (!vg_rec_begin(&r, VIGIL_FILE_OPEN_WRITE))
		return 0;
	s = vg_watched_path(&file->f_path, file->f_path.dentry,
			    vg_rec_tmp(&r), PATH_MAX, &len);
	if (!s || !vg_path_watched(s, len)) {
		if (s)
			vg_unwatched_remember(file, s, len, seq, gen);
		vg_rec_cancel(&r);
		return 0;
	}
	vg_put_str(&r, s, len);
	vg_put_u32(&r, file->f_flags);
	vg_put_u32(&r, file_inode(file)->i_mode);
	vg_rec_commit(&r);
	return 0;
}

static int vg_rename_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct path *odir = (const struct path *)vg_kprobe_arg(regs, 0);
	struct dentry *od = (struct dentry *)vg_kprobe_arg(regs, 1);
	const struct path *ndir = (const struct path *)vg_kprobe_arg(regs, 2);
	struct dentry *nd = (struct dentry *)vg_kprobe_arg(regs, 3);
	size_t olen, nlen;
	struct vg_rec r;
	char *os, *ns;

	if (!odir || !od || !ndir || !nd ||
	    !vg_rec_begin(&r, VIGIL_FILE_RENAME))
		return 0;
	os = vg_child_path(odir, od, vg_rec_tmp(&r), VG_HALF, &olen);
	ns = vg_child_path(ndir, nd, vg_rec_tmp(&r) + VG_HALF, VG_HALF, &nlen);
	if (!os || !ns ||
	    (!vg_path_watched(os, olen) && !vg_path_watched(ns, nlen))) {
		vg_rec_cancel(&r);
		return 0;
	}
	vg_put_str(&r, os, olen);
	vg_put_str(&r, ns, nlen);
	vg_rec_commit(&r);
	return 0;
}

static int vg_unlink_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct path *dir = (const struct path *)vg_kprobe_arg(regs, 0);
	struct dentry *dentry = (struct dentry *)vg_kprobe_arg(regs, 1);
	struct vg_rec r;
	size_t len;
	char *s;

	if (!dir || !dentry || !vg_rec_begin(&r, VIGIL_FILE_UNLINK))
		return 0;
	s = vg_child_path(dir, dentry, vg_rec_tmp(&r), PATH_MAX, &len);
	if (!s || !vg_path_watched(s, len)) {
		vg_rec_cancel(&r);
		return 0;
	}
	vg_put_str(&r, s, len);
	vg_rec_commit(&r);
	return 0;
}

static int vg_chmod_pre(struct kprobe *kp, struct pt_regs *regs)
{
	const struct path *path = (const struct path *)vg_kprobe_arg(regs, 0);
	umode_t mode = (umode_t)vg_kprobe_arg(regs, 1);
	umode_t old_mode;
	struct vg_rec r;
	size_t len;
	char *s;

	if (!path || !path->dentry || !vg_rec_begin(&r, VIGIL_FILE_CHMOD))
		return 0;
	s = vg_watched_path(path, path->dentry, vg_rec_tmp(&r), PATH_MAX,
			    &len);
	if (!s || !vg_path_watched(s, len)) {
		vg_rec_cancel(&r);
		return 0;
	}
	old_mode = d_inode(path->dentry) ? d_inode(path->dentry)->i_mode : 0;
	vg_put_str(&r, s, len);
	vg_put_u32(&r, old_mode);
	/* chmod's mode has no file-type bits; report it in old_mode's terms. */
	vg_put_u32(&r, (old_mode & S_IFMT) | (mode & S_IALLUGO));
	vg_rec_commit(&r);
	return 0;
}

static struct kprobe vg_file_kps[] = {
	{ .symbol_name = "security_path_mknod", .pre_handler = vg_mknod_pre },
	{ .symbol_name = "security_file_open",
	  .pre_handler = vg_file_open_pre },
	{ .symbol_name = "security_path_rename", .pre_handler = vg_rename_pre },
	{ .symbol_name = "security_path_unlink", .pre_handler = vg_unlink_pre },
	{ .symbol_name = "security_path_chmod", .pre_handler = vg_chmod_pre },
};

static bool vg_file_ok[ARRAY_SIZE(vg_file_kps)];

int vg_file_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(vg_file_kps); i++) {
		ret = register_kprobe(&vg_file_kps[i]);
		vg_file_ok[i] = !ret;
		if (ret)
			pr_warn("vigil: kprobe %s: %d (skipped)\n",
				vg_file_kps[i].symbol_name, ret);
	}
	return 0;
}

void vg_file_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vg_file_kps); i++)
		if (vg_file_ok[i])
			unregister_kprobe(&vg_file_kps[i]);
	memset(vg_file_ok, 0, sizeof(vg_file_ok));
}
