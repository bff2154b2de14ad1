// SPDX-License-Identifier: GPL-2.0
/*
 * net.c - network hooks for IPv4 and IPv6 sockets.
 *
 *	CONNECT	kretprobe inet_stream_connect, inet_dgram_connect
 *	ACCEPT	kprobe security_sock_graft (the accepted socket being
 *		attached to its new file, in the accepting task); without
 *		CONFIG_SECURITY, kretprobe inet_csk_accept (return value only:
 *		its arguments changed in 6.10, the returned socket did not).
 *		A kretprobe costs several times a kprobe, and accept is hot
 *		on servers.
 *	BIND	kretprobe inet_bind, inet6_bind
 *	LISTEN	kretprobe inet_listen
 *	DNS	kprobe udp_sendmsg, udpv6_sendmsg to port 53
 *
 * These functions have kept their signatures from 5.4 to 6.x.  A probe that
 * cannot be registered (function missing or inlined) is logged and skipped;
 * the others still work.
 */
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <linux/uio.h>
#include <linux/uaccess.h>
#include <linux/in.h>
#include <net/sock.h>
#include <net/inet_sock.h>
#include "vigil_priv.h"
#include "compat.h"

#define VG_DNS_PORT	53
#define VG_DNS_MAX	512

struct vg_net_call {
	struct socket *sock;
	int addrlen;
	int backlog;
	struct sockaddr_storage addr;
};

static bool vg_inet_sock(struct socket *sock)
{
	struct sock *sk = sock ? sock->sk : NULL;

	return sk && (sk->sk_family == AF_INET || sk->sk_family == AF_INET6);
}

/* Entry of f(struct socket *, struct sockaddr *, int addrlen, ...). */
static int vg_addr_entry(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vg_net_call *c = (struct vg_net_call *)ri->data;
	const void *uaddr = (const void *)vg_kprobe_arg(regs, 1);

	c->sock = (struct socket *)vg_kprobe_arg(regs, 0);
	if (!vg_inet_sock(c->sock) || !uaddr)
		return 1;	/* not ours: skip the return handler */
	c->addrlen = clamp_t(int, (int)vg_kprobe_arg(regs, 2), 0,
			     sizeof(c->addr));
	memcpy(&c->addr, uaddr, c->addrlen);
	return 0;
}

static int vg_connect_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vg_net_call *c = (struct vg_net_call *)ri->data;
	struct vigil_addr local, remote, req;
	struct sock *sk = c->sock->sk;
	struct vg_rec r;

	vg_sockaddr(&c->addr, c->addrlen, &req);
	if (!req.family)
		return 0;	/* AF_UNSPEC: a disconnect */
	if (!sk || !vg_rec_begin(&r, VIGIL_CONNECT))
		return 0;
	vg_sk_addrs(sk, &local, &remote);
	vg_put_u16(&r, sk->sk_protocol);
	vg_put_u16(&r, c->sock->type);
	vg_put_addr(&r, &local);
	vg_put_addr(&r, &req);
	vg_put_s32(&r, (int)regs_return_value(regs));
	vg_rec_commit(&r);
	return 0;
}

static int vg_bind_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vg_net_call *c = (struct vg_net_call *)ri->data;
	struct vigil_addr local, remote;
	int ret = (int)regs_return_value(regs);
	struct sock *sk = c->sock->sk;
	struct vg_rec r;

	if (!sk || !vg_rec_begin(&r, VIGIL_BIND))
		return 0;
	/* On success the socket holds the bound (maybe chosen) port. */
	if (ret == 0)
		vg_sk_addrs(sk, &local, &remote);
	else
		vg_sockaddr(&c->addr, c->addrlen, &local);
	vg_put_u16(&r, sk->sk_protocol);
	vg_put_u16(&r, c->sock->type);
	vg_put_addr(&r, &local);
	vg_put_s32(&r, ret);
	vg_rec_commit(&r);
	return 0;
}

static int vg_listen_entry(struct kretprobe_instance *ri,
			   struct pt_regs *regs)
{
	struct vg_net_call *c = (struct vg_net_call *)ri->data;

	c->sock = (struct socket *)vg_kprobe_arg(regs, 0);
	c->backlog = (int)vg_kprobe_arg(regs, 1);
	return vg_inet_sock(c->sock) ? 0 : 1;
}

static int vg_listen_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	struct vg_net_call *c = (struct vg_net_call *)ri->data;
	struct vigil_addr local, remote;
	struct sock *sk = c->sock->sk;
	struct vg_rec r;

	if (!sk || !vg_rec_begin(&r, VIGIL_LISTEN))
		return 0;
	vg_sk_addrs(sk, &local, &remote);
	vg_put_u16(&r, sk->sk_protocol);
	vg_put_addr(&r, &local);
	vg_put_s32(&r, c->backlog);
	vg_put_s32(&r, (int)regs_return_value(regs));
	vg_rec_commit(&r);
	return 0;
}

static void vg_accept_record(struct sock *sk)
{
	struct vigil_addr local, remote;
	struct vg_rec r;

	if (!sk || (sk->sk_family != AF_INET && sk->sk_family != AF_INET6))
		return;
	if (!vg_rec_begin(&r, VIGIL_ACCEPT))
		return;
	vg_sk_addrs(sk, &local, &remote);
	vg_put_u16(&r, sk->sk_protocol);
	vg_put_u16(&r, sk->sk_type);
	vg_put_addr(&r, &local);
	vg_put_addr(&r, &remote);
	vg_put_s32(&r, 0);
	vg_rec_commit(&r);
}

static int vg_sock_graft_pre(struct kprobe *kp, struct pt_regs *regs)
{
	vg_accept_record((struct sock *)vg_kprobe_arg(regs, 0));
	return 0;
}

static int vg_accept_ret(struct kretprobe_instance *ri, struct pt_regs *regs)
{
	vg_accept_record((struct sock *)regs_return_value(regs));
	return 0;
}

/* Decode the first question name of a DNS query into out (dotted). */
static int vg_dns_name(const u8 *p, int len, char *out, int outlen)
{
	int pos = 12, o = 0, l;

	while (pos < len) {
		l = p[pos++];
		if (l == 0)
			break;
		if (l > 63 || pos + l > len || o + l + 1 >= outlen)
			return -EINVAL;
		if (o)
			out[o++] = '.';
		memcpy(out + o, p + pos, l);
		o += l;
		pos += l;
	}
	out[o] = '\0';
	return pos;	/* offset of qtype */
}

static int vg_udp_sendmsg_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct sock *sk = (struct sock *)vg_kprobe_arg(regs, 0);
	struct msghdr *msg = (struct msghdr *)vg_kprobe_arg(regs, 1);
	size_t len = vg_kprobe_arg(regs, 2);
	struct vigil_addr dst, local;
	struct iov_iter it;
	int n, qpos;
	struct vg_rec r;
	u8 *buf;
	char *name;

	if (!sk || !msg || len < 17)
		return 0;
	if (msg->msg_name)
		vg_sockaddr(msg->msg_name, msg->msg_namelen, &dst);
	else
		vg_sk_addrs(sk, &local, &dst);
	if (!dst.family || dst.port != VG_DNS_PORT)
		return 0;
	if (!vg_rec_begin(&r, VIGIL_DNS_QUERY))
		return 0;
	buf = (u8 *)vg_rec_tmp(&r);
	name = (char *)buf + VG_DNS_MAX;
	it = msg->msg_iter;	/* a copy: the real one is not advanced */
	pagefault_disable();
	n = copy_from_iter(buf, min_t(size_t, len, VG_DNS_MAX), &it);
	pagefault_enable();
	/* A query (QR bit clear) with at least one question. */
	if (n < 17 || (buf[2] & 0x80) || !(buf[4] | buf[5]))
		goto cancel;
	qpos = vg_dns_name(buf, n, name, 256);
	if (qpos < 0 || qpos + 4 > n)
		goto cancel;
	vg_put_u16(&r, sk->sk_protocol);
	vg_put_addr(&r, &dst);
	vg_put_u16(&r, get_unaligned_be16(buf));
	vg_put_u16(&r, get_unaligned_be16(buf + qpos));
	vg_put_cstr(&r, name);
	vg_rec_commit(&r);
	return 0;
cancel:
	vg_rec_cancel(&r);
	return 0;
}

#define VG_KRETPROBE(sym, entry, ret) {					\
	.kp.symbol_name = sym,						\
	.entry_handler = entry,						\
	.handler = ret,							\
	.data_size = sizeof(struct vg_net_call),			\
	.maxactive = 64,						\
}

static struct kretprobe vg_net_krps[] = {
	VG_KRETPROBE("inet_stream_connect", vg_addr_entry, vg_connect_ret),
	VG_KRETPROBE("inet_dgram_connect", vg_addr_entry, vg_connect_ret),
	VG_KRETPROBE("inet_bind", vg_addr_entry, vg_bind_ret),
	VG_KRETPROBE("inet6_bind", vg_addr_entry, vg_bind_ret),
	VG_KRETPROBE("inet_listen", vg_listen_entry, vg_listen_ret),
};

/* Only when the security_sock_graft kprobe cannot be placed. */
static struct kretprobe vg_accept_krp =
	VG_KRETPROBE("inet_csk_accept", NULL, vg_accept_ret);
static bool vg_accept_krp_ok;

/* Index of security_sock_graft in vg_net_kps. */
#define VG_KP_SOCK_GRAFT	2

static struct kprobe vg_net_kps[] = {
	{ .symbol_name = "udp_sendmsg", .pre_handler = vg_udp_sendmsg_pre },
	{ .symbol_name = "udpv6_sendmsg", .pre_handler = vg_udp_sendmsg_pre },
	[VG_KP_SOCK_GRAFT] = { .symbol_name = "security_sock_graft",
			       .pre_handler = vg_sock_graft_pre },
};

static bool vg_krp_ok[ARRAY_SIZE(vg_net_krps)];
static bool vg_kp_ok[ARRAY_SIZE(vg_net_kps)];

int vg_net_init(void)
{
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(vg_net_krps); i++) {
		ret = register_kretprobe(&vg_net_krps[i]);
		vg_krp_ok[i] = !ret;
		if (ret)
			pr_warn("vigil: kretprobe %s: %d (skipped)\n",
				vg_net_krps[i].kp.symbol_name, ret);
	}
	for (i = 0; i < ARRAY_SIZE(vg_net_kps); i++) {
		ret = register_kprobe(&vg_net_kps[i]);
		vg_kp_ok[i] = !ret;
		if (ret)
			pr_warn("vigil: kprobe %s: %d (skipped)\n",
				vg_net_kps[i].symbol_name, ret);
	}
	if (!vg_kp_ok[VG_KP_SOCK_GRAFT]) {
		ret = register_kretprobe(&vg_accept_krp);
		vg_accept_krp_ok = !ret;
		if (ret)
			pr_warn("vigil: kretprobe inet_csk_accept: %d (skipped)\n",
				ret);
	}
	return 0;
}

void vg_net_exit(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(vg_net_kps); i++)
		if (vg_kp_ok[i])
			unregister_kprobe(&vg_net_kps[i]);
	for (i = 0; i < ARRAY_SIZE(vg_net_krps); i++)
		if (vg_krp_ok[i])
			unregister_kretprobe(&vg_net_krps[i]);
	if (vg_accept_krp_ok)
		unregister_kretprobe(&vg_accept_krp);
	vg_accept_krp_ok = false;
	memset(vg_kp_ok, 0, sizeof(vg_kp_ok));
	memset(vg_krp_ok, 0, sizeof(vg_krp_ok));
}
