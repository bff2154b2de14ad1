/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vigil_priv.h - declarations shared by the files of vigil.ko.
 */
#ifndef _VIGIL_PRIV_H
#define _VIGIL_PRIV_H

#include <linux/types.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/irq_work.h>
#include <linux/rcupdate.h>
#include "include/uapi/vigil.h"

#define VG_NAME		"vigil"
#define VG_NTYPES	(VIGIL_TYPE_MAX + 1)

/* Flat index of every field of events.def: VG_FI_<EVENT>_<field>. */
#define VG_EVENT(id, NAME, name, cat)
#define VG_FIELD(EV, T, f) VG_FI_##EV##_##f,
enum vg_field_index {
#include "events.def"
	VG_NFIELDS_ALL
};
#undef VG_EVENT
#undef VG_FIELD

struct vg_event_desc {
	const char *name;	/* hook / event name, "" for holes */
	u16 first;		/* index of the first field in vg_fields[] */
	u16 nfields;
};

struct vg_field_desc {
	u16 event;
	u8 type;		/* enum vigil_field_type */
	const char *name;
};

extern struct vg_event_desc vg_events[VG_NTYPES];
extern const struct vg_field_desc vg_fields[VG_NFIELDS_ALL];

/* ---- record builder (record.c) ---- */

struct vg_rec {
	char *buf;
	u32 len;
	u16 type;
	u16 nf;			/* fields written */
	bool overflow;		/* a field did not fit / wrong type */
};

int vg_record_init(void);
void vg_record_exit(void);
bool vg_type_enabled(u16 type);
bool vg_rec_begin(struct vg_rec *r, u16 type);
bool vg_rec_begin_meta(struct vg_rec *r, u16 type);
void vg_rec_cancel(struct vg_rec *r);
int vg_rec_commit(struct vg_rec *r);
char *vg_rec_tmp(struct vg_rec *r);	/* PATH_MAX scratch of this cpu */
void vg_put_u8(struct vg_rec *r, u8 v);
void vg_put_u16(struct vg_rec *r, u16 v);
u32 vg_put_u32(struct vg_rec *r, u32 v);	/* returns offset for patch */
void vg_put_u64(struct vg_rec *r, u64 v);
void vg_put_s32(struct vg_rec *r, s32 v);
void vg_put_s64(struct vg_rec *r, s64 v);
void vg_put_str(struct vg_rec *r, const char *s, size_t len);
void vg_put_cstr(struct vg_rec *r, const char *s);
void vg_put_blob(struct vg_rec *r, const void *p, u32 len);
char *vg_put_args_reserve(struct vg_rec *r, u32 *room);
void vg_put_args_commit(struct vg_rec *r, u32 len);
void vg_put_addr(struct vg_rec *r, const struct vigil_addr *a);
void vg_patch_u32(struct vg_rec *r, u32 off, u32 v);

/* ---- ring buffer (ringbuf.c) ---- */

struct vg_stats {
	u64 records;
	u64 dropped;
	u32 size;
	u32 used;
	u64 per_type[VG_NTYPES];
	u64 per_type_drops[VG_NTYPES];
};

int vg_ring_init(unsigned int size_kb);
void vg_ring_exit(void);
int vg_ring_push(const char *rec, u32 len);
ssize_t vg_ring_read(char __user *ubuf, size_t count, bool nonblock);
bool vg_ring_readable(void);
wait_queue_head_t *vg_ring_waitq(void);
void vg_ring_shutdown(void);
void vg_ring_reset_reader(void);
void vg_ring_stats(struct vg_stats *st);

/* ---- control (control.c) ---- */

int vg_control_init(void);
void vg_control_exit(void);
ssize_t vg_control_write(const char __user *ubuf, size_t count);
bool vg_exe_allowed(void);	/* current's exe is allow-listed */
bool vg_path_watched(const char *path, size_t len);
bool vg_prefix_below(const char *dir, size_t len);
/* Watched prefixes or mounts changed: forget cached "unwatched" directories. */
void vg_paths_changed(void);
void vg_emit_stats(void);
extern unsigned long vg_hook_mask;		/* bit = record type */

/* ---- hooks ---- */

int vg_proc_init(void);
void vg_proc_exit(void);
int vg_net_init(void);
void vg_net_exit(void);
int vg_file_init(void);
void vg_file_exit(void);
int vg_misc_init(void);
void vg_misc_exit(void);
void vg_emit_device_opened(unsigned int flags, int result);

/* ---- integrity checks (integrity.c) ---- */

void vg_integrity_init(unsigned int interval_s);
void vg_integrity_exit(void);
void vg_integrity_request(void);

/* ---- helpers (util.c) ---- */

struct sock;
struct file;
struct task_struct;
void vg_sk_addrs(struct sock *sk, struct vigil_addr *local,
		 struct vigil_addr *remote);
void vg_sockaddr(const void *sa, int len, struct vigil_addr *a);
u8 vg_file_kind(struct file *f, struct vigil_addr *local,
		struct vigil_addr *remote);
void *vg_find_tracepoint(const char *name);
u32 vg_encode_dev(dev_t dev);

#endif /* _VIGIL_PRIV_H */
