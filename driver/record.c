// SPDX-License-Identifier: GPL-2.0
/*
 * record.c - the event table (from events.def) and the record builder.
 *
 * A hook builds its record in a per-cpu scratch buffer (preallocated at
 * load, no allocation in hook context), field by field in events.def order;
 * every put is checked against the table, so the bytes always match what
 * the decoders generated from events.def expect.  The record is then copied
 * into the ring buffer in one go.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/cred.h>
#include <linux/pid_namespace.h>
#include <linux/timekeeping.h>
#include <linux/limits.h>
#include <linux/string.h>
#include "vigil_priv.h"
#include "compat.h"

/* The flat field table. */
#define VG_EVENT(id, NAME, name, cat)
#define VG_FIELD(EV, T, f) \
	[VG_FI_##EV##_##f] = { VIGIL_##EV, VIGIL_FT_##T, #f },
const struct vg_field_desc vg_fields[VG_NFIELDS_ALL] = {
#include "events.def"
};
#undef VG_EVENT
#undef VG_FIELD

/* Event names; first/nfields are filled in by vg_record_init(). */
#define VG_EVENT(id, NAME, name, cat) [id] = { #name, 0, 0 },
#define VG_FIELD(EV, T, f)
struct vg_event_desc vg_events[VG_NTYPES] = {
#include "events.def"
};
#undef VG_EVENT
#undef VG_FIELD

/* events.def ids must be those of the uapi enum. */
#define VG_EVENT(id, NAME, name, cat) BUILD_BUG_ON((id) != VIGIL_##NAME);
#define VG_FIELD(EV, T, f)
static void __maybe_unused vg_check_ids(void)
{
#include "events.def"
	BUILD_BUG_ON(sizeof(struct vigil_hdr) != VIGIL_HDR_SIZE);
	BUILD_BUG_ON(sizeof(struct vigil_addr) != VIGIL_ADDR_SIZE);
	BUILD_BUG_ON(VG_NTYPES > BITS_PER_LONG);
}
#undef VG_EVENT
#undef VG_FIELD

struct vg_cpu {
	bool busy;
	char rec[VIGIL_MAX_RECORD];
	char tmp[PATH_MAX];
};

static struct vg_cpu **vg_cpus;

int vg_record_init(void)
{
	unsigned int i;
	int cpu;

	for (i = 0; i < VG_NFIELDS_ALL; i++) {
		struct vg_event_desc *e = &vg_events[vg_fields[i].event];

		if (e->nfields == 0)
			e->first = i;
		else if (WARN_ON_ONCE(e->first + e->nfields != i))
			return -EINVAL;	/* an event's fields are split */
		e->nfields++;
	}

	vg_cpus = kcalloc(nr_cpu_ids, sizeof(*vg_cpus), GFP_KERNEL);
	if (!vg_cpus)
		return -ENOMEM;
	for_each_possible_cpu(cpu) {
		vg_cpus[cpu] = vzalloc(sizeof(struct vg_cpu));
		if (!vg_cpus[cpu])
			goto err_free;
	}
	return 0;

err_free:
	vg_record_exit();
	return -ENOMEM;
}

void vg_record_exit(void)
{
	int cpu;

	if (!vg_cpus)
		return;
	for_each_possible_cpu(cpu)
		vfree(vg_cpus[cpu]);
	kfree(vg_cpus);
	vg_cpus = NULL;
}

bool vg_type_enabled(u16 type)
{
	return type < VG_NTYPES && test_bit(type, &vg_hook_mask);
}

static void vg_fill_hdr(struct vigil_hdr *h, u16 type)
{
	struct task_struct *t = current;
	const struct cred *cred;

	memset(h, 0, sizeof(*h));
	h->magic = cpu_to_le32(VIGIL_MAGIC);
	h->version = cpu_to_le16(VIGIL_ABI_VERSION);
	h->type = cpu_to_le16(type);
	h->hdr_size = cpu_to_le16(VIGIL_HDR_SIZE);
	h->ts_real_ns = cpu_to_le64(ktime_get_real_ns());
	h->ts_mono_ns = cpu_to_le64(ktime_get_ns());
	h->pid = cpu_to_le32(task_pid_nr(t));
	h->tgid = cpu_to_le32(task_tgid_nr(t));

	rcu_read_lock();
	h->ppid = cpu_to_le32(task_tgid_nr(rcu_dereference(t->real_parent)));
	cred = __task_cred(t);
	h->uid = cpu_to_le32(from_kuid_munged(&init_user_ns, cred->uid));
	h->euid = cpu_to_le32(from_kuid_munged(&init_user_ns, cred->euid));
	h->gid = cpu_to_le32(from_kgid_munged(&init_user_ns, cred->gid));
	h->sid = cpu_to_le32(task_session_nr_ns(t, &init_pid_ns));
	if (task_active_pid_ns(t))
		h->pidns_inum = cpu_to_le32(task_active_pid_ns(t)->ns.inum);
	h->cgroup_id = cpu_to_le64(vg_task_cgroup_id(t));
	rcu_read_unlock();

	BUILD_BUG_ON(sizeof(h->comm) != sizeof(t->comm));
	memcpy(h->comm, t->comm, sizeof(h->comm));
	h->comm[sizeof(h->comm) - 1] = '\0';
}

/*
 * Start a record of the module itself (DROPPED/STATS/INTEGRITY, and any
 * event that passed its filters).  Returns false when the record must not be
 * made: type disabled (for events), scratch busy (nested hook on this cpu).
 * On true, preemption stays disabled until commit or cancel.
 */
bool vg_rec_begin_meta(struct vg_rec *r, u16 type)
{
	struct vg_cpu *c;

	preempt_disable();
	c = vg_cpus[smp_processor_id()];
	if (c->busy) {
		preempt_enable();
		return false;
	}
	c->busy = true;
	r->buf = c->rec;
	r->len = VIGIL_HDR_SIZE;
	r->type = type;
	r->nf = 0;
	r->overflow = false;
	/*
	 * The header is filled in at commit: most hook calls are cancelled
	 * (unwatched path, filtered socket) and should not pay for it.
	 */
	return true;
}

bool vg_rec_begin(struct vg_rec *r, u16 type)
{
	if (!vg_type_enabled(type))
		return false;
	if (vg_exe_allowed())
		return false;
	return vg_rec_begin_meta(r, type);
}

static void vg_rec_release(struct vg_rec *r)
{
	struct vg_cpu *c = container_of(r->buf, struct vg_cpu, rec[0]);

	c->busy = false;
	r->buf = NULL;
	preempt_enable();
}

char *vg_rec_tmp(struct vg_rec *r)
{
	return container_of(r->buf, struct vg_cpu, rec[0])->tmp;
}

void vg_rec_cancel(struct vg_rec *r)
{
	vg_rec_release(r);
}

int vg_rec_commit(struct vg_rec *r)
{
	struct vigil_hdr *h = (struct vigil_hdr *)r->buf;
	int ret;

	if (WARN_ON_ONCE(r->nf != vg_events[r->type].nfields))
		r->overflow = true;
	if (r->overflow) {
		vg_rec_release(r);
		return -EINVAL;
	}
	vg_fill_hdr(h, r->type);
	h->size = cpu_to_le32(r->len);
	h->nfields = cpu_to_le16(r->nf);
	ret = vg_ring_push(r->buf, r->len);
	vg_rec_release(r);
	return ret;
}

/* Reserve room for the next field, checking its type against the table. */
static char *vg_field(struct vg_rec *r, u8 type, u32 size)
{
	const struct vg_event_desc *e = &vg_events[r->type];
	char *p;

	if (r->overflow)
		return NULL;
	if (WARN_ON_ONCE(r->nf >= e->nfields ||
			 vg_fields[e->first + r->nf].type != type) ||
	    size > VIGIL_MAX_RECORD - r->len) {
		r->overflow = true;
		return NULL;
	}
	p = r->buf + r->len;
	r->len += size;
	r->nf++;
	return p;
}

void vg_put_u8(struct vg_rec *r, u8 v)
{
	char *p = vg_field(r, VIGIL_FT_U8, 1);

	if (p)
		*p = v;
}

void vg_put_u16(struct vg_rec *r, u16 v)
{
	char *p = vg_field(r, VIGIL_FT_U16, 2);

	if (p)
		put_unaligned_le16(v, p);
}

u32 vg_put_u32(struct vg_rec *r, u32 v)
{
	char *p = vg_field(r, VIGIL_FT_U32, 4);

	if (!p)
		return 0;
	put_unaligned_le32(v, p);
	return p - r->buf;
}

void vg_patch_u32(struct vg_rec *r, u32 off, u32 v)
{
	if (off >= VIGIL_HDR_SIZE && off + 4 <= r->len)
		put_unaligned_le32(v, r->buf + off);
}

void vg_put_u64(struct vg_rec *r, u64 v)
{
	char *p = vg_field(r, VIGIL_FT_U64, 8);

	if (p)
		put_unaligned_le64(v, p);
}

void vg_put_s32(struct vg_rec *r, s32 v)
{
	char *p = vg_field(r, VIGIL_FT_S32, 4);

	if (p)
		put_unaligned_le32((u32)v, p);
}

void vg_put_s64(struct vg_rec *r, s64 v)
{
	char *p = vg_field(r, VIGIL_FT_S64, 8);

	if (p)
		put_unaligned_le64((u64)v, p);
}

void vg_put_str(struct vg_rec *r, const char *s, size_t len)
{
	char *p;

	if (!s)
		len = 0;
	len = min_t(size_t, len, VIGIL_MAX_STR);
	p = vg_field(r, VIGIL_FT_STR, 2 + len);
	if (!p)
		return;
	put_unaligned_le16(len, p);
	if (len)
		memcpy(p + 2, s, len);
}

void vg_put_cstr(struct vg_rec *r, const char *s)
{
	vg_put_str(r, s, s ? strnlen(s, VIGIL_MAX_STR) : 0);
}

void vg_put_blob(struct vg_rec *r, const void *src, u32 len)
{
	char *p = vg_field(r, VIGIL_FT_BLOB, 4 + len);

	if (!p)
		return;
	put_unaligned_le32(len, p);
	if (len)
		memcpy(p + 4, src, len);
}

/*
 * ARGS is written in place: reserve returns where the bytes go and how many
 * fit (at most VIGIL_MAX_ARGS), commit sets the length actually used.
 */
char *vg_put_args_reserve(struct vg_rec *r, u32 *room)
{
	u32 left = VIGIL_MAX_RECORD - r->len;

	if (r->overflow || left < 4) {
		*room = 0;
		return NULL;
	}
	*room = min_t(u32, left - 4, VIGIL_MAX_ARGS);
	return r->buf + r->len + 4;
}

void vg_put_args_commit(struct vg_rec *r, u32 len)
{
	u32 room;
	char *data = vg_put_args_reserve(r, &room);
	char *p;

	if (!data || len > room) {
		r->overflow = true;
		return;
	}
	p = vg_field(r, VIGIL_FT_ARGS, 4 + len);
	if (p)
		put_unaligned_le32(len, p);
}

void vg_put_addr(struct vg_rec *r, const struct vigil_addr *a)
{
	struct vigil_addr *p = (struct vigil_addr *)vg_field(r, VIGIL_FT_ADDR,
							     sizeof(*a));

	if (!p)
		return;
	memcpy(p, a, sizeof(*a));
	p->family = cpu_to_le16(a->family);
	p->port = cpu_to_le16(a->port);
}
