// SPDX-License-Identifier: GPL-2.0
/*
 * net.c - network hooks (filled in below).
 */
#include "vigil_priv.h"

int vg_net_init(void)
{
	return 0;
}

void vg_net_exit(void)
{
}
