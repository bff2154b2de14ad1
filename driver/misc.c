// SPDX-License-Identifier: GPL-2.0
/*
 * misc.c - kernel/integrity hooks and the DEVICE_OPENED record.
 */
#include "vigil_priv.h"

void vg_emit_device_opened(unsigned int flags, int result)
{
	struct vg_rec r;

	if (!vg_rec_begin_meta(&r, VIGIL_DEVICE_OPENED))
		return;
	vg_put_u32(&r, flags);
	vg_put_s32(&r, result);
	vg_rec_commit(&r);
}

int vg_misc_init(void)
{
	return 0;
}

void vg_misc_exit(void)
{
}
