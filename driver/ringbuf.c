// SPDX-License-Identifier: GPL-2.0
/*
 * ringbuf.c - the record ring buffer behind /dev/vigil.
 *
 * Writers (hooks, any context but NMI) copy whole records in under a
 * spinlock taken with interrupts off; they never sleep and never allocate.
 * There is exactly one reader (the device allows one open), which copies
 * whole records straight from the ring to user space without the lock:
 * writers only ever write into the free part, so [tail, tail + used) is
 * stable until the reader itself advances tail.
 *
 * When a record does not fit it is dropped and counted; the next time a
 * record fits together with a DROPPED record, the DROPPED record (count
 * since the last one, total) goes in first.  The reader is woken through
 * irq_work so that no hook ever takes the wait queue lock.
 */
#include <linux/kernel.h>
#include <linux/vmalloc.h>
#include <linux/uaccess.h>
#include <linux/sched.h>
#include <linux/mutex.h>
#include "vigil_priv.h"
#include "compat.h"

#define VG_DROPPED_LEN	(VIGIL_HDR_SIZE + 8 + 8)

struct vg_ring {
	spinlock_t lock;
	char *data;
	u32 size;
	u32 head;		/* next write offset */
	u32 tail;		/* next read offset */
	u32 used;
	u64 seq;
	u64 records;
	u64 dropped;
	u64 drop_pending;	/* drops not yet in a DROPPED record */
	u64 per_type[VG_NTYPES];
	u64 per_type_drops[VG_NTYPES];
	bool shutdown;
	wait_queue_head_t wq;
	struct irq_work wake;
	struct mutex read_lock;
};

static struct vg_ring vg_ring;

static void vg_ring_wake(struct irq_work *w)
{
	wake_up_interruptible(&vg_ring.wq);
}

int vg_ring_init(unsigned int size_kb)
{
	struct vg_ring *r = &vg_ring;

	if (size_kb < VIGIL_MAX_RECORD / 1024 * 2)
		size_kb = VIGIL_MAX_RECORD / 1024 * 2;
	if (size_kb > 1024 * 1024)
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->size = size_kb * 1024;
	r->data = vmalloc(r->size);
	if (!r->data)
		return -ENOMEM;
	spin_lock_init(&r->lock);
	init_waitqueue_head(&r->wq);
	init_irq_work(&r->wake, vg_ring_wake);
	mutex_init(&r->read_lock);
	return 0;
}

void vg_ring_shutdown(void)
{
	unsigned long flags;

	spin_lock_irqsave(&vg_ring.lock, flags);
	vg_ring.shutdown = true;
	spin_unlock_irqrestore(&vg_ring.lock, flags);
	wake_up_interruptible(&vg_ring.wq);
}

void vg_ring_exit(void)
{
	irq_work_sync(&vg_ring.wake);
	vfree(vg_ring.data);
	vg_ring.data = NULL;
}

wait_queue_head_t *vg_ring_waitq(void)
{
	return &vg_ring.wq;
}

/* Copy len bytes in at head, wrapping.  Lock held. */
static void vg_ring_put(struct vg_ring *r, const void *src, u32 len)
{
	u32 first = min(len, r->size - r->head);

	memcpy(r->data + r->head, src, first);
	memcpy(r->data, (const char *)src + first, len - first);
	r->head = (r->head + len) % r->size;
	r->used += len;
}

/* Write the header of rec with its sequence number, then the rest. */
static void vg_ring_put_rec(struct vg_ring *r, const char *rec, u32 len)
{
	struct vigil_hdr h;

	memcpy(&h, rec, sizeof(h));
	h.seq = cpu_to_le64(r->seq++);
	vg_ring_put(r, &h, sizeof(h));
	vg_ring_put(r, rec + sizeof(h), len - sizeof(h));
}

static void vg_ring_put_dropped(struct vg_ring *r, const char *like)
{
	char buf[VG_DROPPED_LEN];
	struct vigil_hdr *h = (struct vigil_hdr *)buf;

	memcpy(h, like, sizeof(*h));
	h->type = cpu_to_le16(VIGIL_DROPPED);
	h->size = cpu_to_le32(VG_DROPPED_LEN);
	h->nfields = cpu_to_le16(2);
	put_unaligned_le64(r->drop_pending, buf + VIGIL_HDR_SIZE);
	put_unaligned_le64(r->dropped, buf + VIGIL_HDR_SIZE + 8);
	vg_ring_put_rec(r, buf, VG_DROPPED_LEN);
	r->per_type[VIGIL_DROPPED]++;
	r->records++;
	r->drop_pending = 0;
}

int vg_ring_push(const char *rec, u32 len)
{
	struct vg_ring *r = &vg_ring;
	u16 type = get_unaligned_le16(rec + 6);
	unsigned long flags;
	u32 need = len;
	int ret = 0;

	if (WARN_ON_ONCE(len < VIGIL_HDR_SIZE || type >= VG_NTYPES))
		return -EINVAL;

	spin_lock_irqsave(&r->lock, flags);
	if (r->shutdown || !r->data) {
		ret = -ESHUTDOWN;
		goto out_unlock;
	}
	if (r->drop_pending)
		need += VG_DROPPED_LEN;
	if (need > r->size - r->used) {
		r->dropped++;
		r->drop_pending++;
		r->per_type_drops[type]++;
		ret = -ENOSPC;
		goto out_unlock;
	}
	if (r->drop_pending)
		vg_ring_put_dropped(r, rec);
	vg_ring_put_rec(r, rec, len);
	r->per_type[type]++;
	r->records++;
out_unlock:
	spin_unlock_irqrestore(&r->lock, flags);
	if (!ret && wq_has_sleeper(&r->wq))
		irq_work_queue(&r->wake);
	return ret;
}

bool vg_ring_readable(void)
{
	return READ_ONCE(vg_ring.used) != 0;
}

static u32 vg_ring_peek_size(struct vg_ring *r, u32 off)
{
	u8 b[4];
	u32 i;

	off = (off + 8) % r->size;	/* offsetof(struct vigil_hdr, size) */
	for (i = 0; i < 4; i++)
		b[i] = r->data[(off + i) % r->size];
	return get_unaligned_le32(b);
}

/*
 * Copy as many whole records as fit in count.  Returns bytes, -EAGAIN
 * (nonblocking, empty), -EINVAL (count smaller than the next record),
 * -ERESTARTSYS, or 0 when the module is going away.
 */
ssize_t vg_ring_read(char __user *ubuf, size_t count, bool nonblock)
{
	struct vg_ring *r = &vg_ring;
	unsigned long flags;
	u32 used, tail, n, sz, first;
	ssize_t ret;

	if (mutex_lock_interruptible(&r->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		spin_lock_irqsave(&r->lock, flags);
		used = r->used;
		tail = r->tail;
		spin_unlock_irqrestore(&r->lock, flags);
		if (used)
			break;
		if (READ_ONCE(r->shutdown)) {
			ret = 0;
			goto out;
		}
		if (nonblock) {
			ret = -EAGAIN;
			goto out;
		}
		ret = wait_event_interruptible(r->wq, READ_ONCE(r->used) ||
					       READ_ONCE(r->shutdown));
		if (ret)
			goto out;
	}

	for (n = 0; n < used; n += sz) {
		sz = vg_ring_peek_size(r, tail + n);
		if (WARN_ON_ONCE(sz < VIGIL_HDR_SIZE || sz > used - n))
			break;
		if (n + sz > count)
			break;
	}
	if (n == 0) {
		ret = -EINVAL;
		goto out;
	}
	first = min(n, r->size - tail);
	if (copy_to_user(ubuf, r->data + tail, first) ||
	    copy_to_user(ubuf + first, r->data, n - first)) {
		ret = -EFAULT;
		goto out;
	}
	spin_lock_irqsave(&r->lock, flags);
	r->tail = (r->tail + n) % r->size;
	r->used -= n;
	spin_unlock_irqrestore(&r->lock, flags);
	ret = n;
out:
	mutex_unlock(&r->read_lock);
	return ret;
}

/* A new reader starts with whatever is queued; nothing to do for now. */
void vg_ring_reset_reader(void)
{
}

void vg_ring_stats(struct vg_stats *st)
{
	struct vg_ring *r = &vg_ring;
	unsigned long flags;

	spin_lock_irqsave(&r->lock, flags);
	st->records = r->records;
	st->dropped = r->dropped;
	st->size = r->size;
	st->used = r->used;
	memcpy(st->per_type, r->per_type, sizeof(st->per_type));
	memcpy(st->per_type_drops, r->per_type_drops,
	       sizeof(st->per_type_drops));
	spin_unlock_irqrestore(&r->lock, flags);
}
