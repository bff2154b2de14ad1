// SPDX-License-Identifier: GPL-2.0
/*
 * util.c - helpers shared by the hooks: socket addresses, what an open
 * file is, tracepoint lookup.
 */
#include <linux/kernel.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/major.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include "vigil_priv.h"

void vg_sockaddr(const void *sa, int len, struct vigil_addr *a)
{
	const struct sockaddr_in *in = sa;
	const struct sockaddr_in6 *in6 = sa;

	memset(a, 0, sizeof(*a));
	if (!sa || len < (int)sizeof(sa_family_t))
		return;
	if (in->sin_family == AF_INET && len >= (int)sizeof(*in)) {
		a->family = AF_INET;
		a->port = ntohs(in->sin_port);
		memcpy(a->addr, &in->sin_addr, 4);
	} else if (in6->sin6_family == AF_INET6 &&
		   len >= (int)sizeof(*in6)) {
		a->family = AF_INET6;
		a->port = ntohs(in6->sin6_port);
		memcpy(a->addr, &in6->sin6_addr, 16);
	}
}

void vg_sk_addrs(struct sock *sk, struct vigil_addr *local,
		 struct vigil_addr *remote)
{
	const struct inet_sock *inet;

	memset(local, 0, sizeof(*local));
	memset(remote, 0, sizeof(*remote));
	if (!sk)
		return;
	inet = inet_sk(sk);
	switch (READ_ONCE(sk->sk_family)) {
	case AF_INET:
		local->family = AF_INET;
		remote->family = AF_INET;
		memcpy(local->addr, &sk->sk_rcv_saddr, 4);
		memcpy(remote->addr, &sk->sk_daddr, 4);
		break;
	case AF_INET6:
		local->family = AF_INET6;
		remote->family = AF_INET6;
		memcpy(local->addr, &sk->sk_v6_rcv_saddr, 16);
		memcpy(remote->addr, &sk->sk_v6_daddr, 16);
		break;
	default:
		return;
	}
	local->port = ntohs(READ_ONCE(inet->inet_sport));
	remote->port = ntohs(READ_ONCE(sk->sk_dport));
}

static bool vg_is_tty_major(unsigned int major)
{
	return major == TTY_MAJOR || major == TTYAUX_MAJOR ||
	       (major >= UNIX98_PTY_SLAVE_MAJOR &&
		major < UNIX98_PTY_SLAVE_MAJOR + UNIX98_PTY_MAJOR_COUNT);
}

/* What an open file is; for inet sockets also fills the addresses. */
u8 vg_file_kind(struct file *f, struct vigil_addr *local,
		struct vigil_addr *remote)
{
	struct inode *inode;
	struct socket *sock;

	memset(local, 0, sizeof(*local));
	memset(remote, 0, sizeof(*remote));
	if (!f)
		return VIGIL_FD_NONE;
	inode = file_inode(f);
	switch (inode->i_mode & S_IFMT) {
	case S_IFREG:
	case S_IFDIR:
		return VIGIL_FD_FILE;
	case S_IFIFO:
		return VIGIL_FD_PIPE;
	case S_IFCHR:
		return vg_is_tty_major(imajor(inode)) ? VIGIL_FD_TTY :
							VIGIL_FD_CHAR;
	case S_IFSOCK:
		sock = SOCKET_I(inode);
		if (sock && sock->sk)
			vg_sk_addrs(sock->sk, local, remote);
		return VIGIL_FD_SOCKET;
	default:
		return VIGIL_FD_OTHER;
	}
}

struct vg_tp_find {
	const char *name;
	struct tracepoint *tp;
};

static void vg_tp_match(struct tracepoint *tp, void *priv)
{
	struct vg_tp_find *f = priv;

	if (!strcmp(tp->name, f->name))
		f->tp = tp;
}

/* Look a tracepoint of the core kernel up by name (exported or not). */
void *vg_find_tracepoint(const char *name)
{
	struct vg_tp_find f = { .name = name };

	for_each_kernel_tracepoint(vg_tp_match, &f);
	return f.tp;
}
