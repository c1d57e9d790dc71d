// SPDX-License-Identifier: GPL-2.0
/*
 * Kairos XDP steering program.
 *
 * Frames for a managed app (destination address, port and protocol found
 * in the 'apps' map) go to the AF_XDP socket of the rx queue they arrived
 * on; everything else is passed to the kernel stack, so ARP/ND, ping and
 * ordinary services keep working.
 *
 * Malformed-frame policy (every case has its own counter):
 *  - shorter than an Ethernet header: dropped, no stack could use it;
 *  - truncated VLAN tag, more than KAIROS_MAX_VLAN_TAGS tags, truncated
 *    or invalid IPv4/IPv6 header, truncated or too many IPv6 extension
 *    headers (a header is truncated when it does not fit the frame or the
 *    payload length; a fragment header too): passed, the kernel's own
 *    checks drop and count them;
 *  - IPv4/IPv6 fragments: passed, the kernel reassembles them (managed
 *    apps keep datagrams within the MTU, as in Shenango);
 *  - L4 header truncated, so the port is unknown: passed;
 *  - UDP length or TCP data offset invalid on a frame for a managed app:
 *    dropped, counted per app (the kernel has no socket for that port and
 *    would only answer with ICMP);
 *  - the same on unmanaged traffic: passed.
 * An app frame with no socket to take it is passed (the kernel stack is
 * the fallback), counted per app: PASS_NO_SOCKET (no socket on the rx
 * queue in the app's XSKMAP: the app is not running, or the frame came in
 * on a queue another app owns), PASS_NO_APP_MAP (an app flagged
 * KAIROS_XDP_APP_OWN_XSKS has no XSKMAP in app_xsks yet).
 * Every read is bounds-checked against data_end before it happens.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kairos/xdp_abi.h"

char _license[] SEC("license") = "GPL";

/* In .rodata, read by userspace through the skeleton (const volatile is
 * the libbpf idiom for read-only globals the loader can see).
 */
const volatile __u32 kairos_xdp_abi_version = KAIROS_XDP_ABI_VERSION;

#define KAIROS_MAX_VLAN_TAGS 2
#define KAIROS_MAX_EXT_HDRS 6
#define KAIROS_FRAG_HDR_LEN 8	/* an IPv6 fragment header */
#define IP_MF 0x2000
#define IP_OFFSET 0x1fff

/* steer() reads struct kairos_xdp_app in one load, app_id in the low half. */
_Static_assert(sizeof(struct kairos_xdp_app) == 8 &&
	       __builtin_offsetof(struct kairos_xdp_app, app_id) == 0,
	       "kairos_xdp_app must be one little-endian __u64: app_id, flags");

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct ext_hdr {
	__u8 nexthdr;
	__u8 len;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KAIROS_XDP_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, KAIROS_XDP_MAX_APP_KEYS);
	__type(key, struct kairos_xdp_app_key);
	__type(value, struct kairos_xdp_app);
} apps SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KAIROS_XDP_MAX_APPS);
	__type(key, __u32);
	__type(value, struct kairos_xdp_app_stats);
} app_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, KAIROS_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks_map SEC(".maps");

/* The template of every app's own XSKMAP (userspace creates the real
 * ones with the same shape and stores them in app_xsks).
 */
struct app_xsks_inner {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, KAIROS_XDP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, KAIROS_XDP_MAX_APPS);
	__type(key, __u32);
	__array(values, struct app_xsks_inner);
} app_xsks SEC(".maps");

/* What the parser learned about a frame's transport header. */
struct l4_info {
	void *l4;		/* start of the UDP/TCP header */
	__u32 l4_room;		/* IP payload length from the IP header */
	__u8 proto;
};

static __always_inline int count(__u32 slot, int verdict)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	if (v)
		*v += 1;
	return verdict;
}

static __always_inline struct kairos_xdp_app_stats *stats_of(__u32 app_id)
{
	return bpf_map_lookup_elem(&app_stats, &app_id);
}

/* Exact address first, then the wildcard (app bound to any address). */
static __always_inline struct kairos_xdp_app *
find_app(struct kairos_xdp_app_key *key)
{
	struct kairos_xdp_app *app = bpf_map_lookup_elem(&apps, key);

	if (app)
		return app;
	__builtin_memset(key->addr, 0, sizeof(key->addr));
	return bpf_map_lookup_elem(&apps, key);
}

/* Returns 0 and fills *li for UDP/TCP, or an XDP verdict (>0 is +1). */
static __always_inline int parse_ipv4(void *l3, void *end,
				      struct kairos_xdp_app_key *key,
				      struct l4_info *li)
{
	struct iphdr *ip = l3;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl < 5)
		return count(KAIROS_XDP_PASS_BAD_IPV4, XDP_PASS) + 1;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (l3 + hlen > end || tot < hlen || l3 + tot > end)
		return count(KAIROS_XDP_PASS_BAD_IPV4, XDP_PASS) + 1;
	count(KAIROS_XDP_IPV4, 0);
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return count(KAIROS_XDP_PASS_FRAGMENT, XDP_PASS) + 1;
	key->addr[10] = 0xff;
	key->addr[11] = 0xff;
	__builtin_memcpy(&key->addr[12], &ip->daddr, 4);
	li->l4 = l3 + hlen;
	li->l4_room = tot - hlen;
	li->proto = ip->protocol;
	return 0;
}

static __always_inline int parse_ipv6(void *l3, void *end,
				      struct kairos_xdp_app_key *key,
				      struct l4_info *li)
{
	struct ipv6hdr *ip6 = l3;
	void *pos = ip6 + 1;
	__u32 room;
	__u8 next;
	int i;

	if ((void *)(ip6 + 1) > end || ip6->version != 6)
		return count(KAIROS_XDP_PASS_BAD_IPV6, XDP_PASS) + 1;
	room = bpf_ntohs(ip6->payload_len);
	if (pos + room > end)
		return count(KAIROS_XDP_PASS_BAD_IPV6, XDP_PASS) + 1;
	next = ip6->nexthdr;
#pragma unroll
	for (i = 0; i < KAIROS_MAX_EXT_HDRS; i++) {
		struct ext_hdr *eh = pos;
		__u32 len;

		if (next == IPPROTO_FRAGMENT) {
			/* Only a whole fragment header (in the frame and in
			 * the payload length) makes a fragment.
			 */
			if (pos + KAIROS_FRAG_HDR_LEN > end ||
			    room < KAIROS_FRAG_HDR_LEN)
				return count(KAIROS_XDP_PASS_BAD_EXTHDR,
					     XDP_PASS) + 1;
			count(KAIROS_XDP_IPV6, 0);
			return count(KAIROS_XDP_PASS_FRAGMENT, XDP_PASS) + 1;
		}
		if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING &&
		    next != IPPROTO_DSTOPTS && next != IPPROTO_AH)
			break;
		if ((void *)(eh + 1) > end)
			return count(KAIROS_XDP_PASS_BAD_EXTHDR, XDP_PASS) + 1;
		len = next == IPPROTO_AH ? (eh->len + 2) * 4 : (eh->len + 1) * 8;
		if (len > room)
			return count(KAIROS_XDP_PASS_BAD_EXTHDR, XDP_PASS) + 1;
		room -= len;
		next = eh->nexthdr;
		pos += len;
	}
	if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING ||
	    next == IPPROTO_DSTOPTS || next == IPPROTO_AH ||
	    next == IPPROTO_FRAGMENT)
		return count(KAIROS_XDP_PASS_BAD_EXTHDR, XDP_PASS) + 1;
	count(KAIROS_XDP_IPV6, 0);
	__builtin_memcpy(key->addr, &ip6->daddr, 16);
	li->l4 = pos;
	li->l4_room = room;
	li->proto = next;
	return 0;
}

static __always_inline int udp_invalid(struct l4_info *li, void *end)
{
	struct udphdr *udp = li->l4;
	__u32 len;

	if ((void *)(udp + 1) > end)
		return 1;
	len = bpf_ntohs(udp->len);
	return len < sizeof(*udp) || len > li->l4_room;
}

static __always_inline int tcp_invalid(struct l4_info *li, void *end)
{
	struct tcphdr *tcp = li->l4;

	if ((void *)(tcp + 1) > end)
		return 1;
	return tcp->doff < 5 || (void *)tcp + tcp->doff * 4 > end ||
	       tcp->doff * 4 > li->l4_room;
}

/* Checks the L4 header past the port; 0 when valid. */
static __always_inline int l4_invalid(struct l4_info *li, void *end)
{
	if (li->proto == IPPROTO_UDP)
		return udp_invalid(li, end);
	return tcp_invalid(li, end);
}

static __always_inline int steer(struct xdp_md *ctx, void *end,
				 struct kairos_xdp_app_key *key,
				 struct l4_info *li)
{
	struct kairos_xdp_app_stats *st;
	struct kairos_xdp_app *app;
	__u64 id_and_flags;
	__u32 app_id, flags;
	long ret;

	if (li->proto != IPPROTO_UDP && li->proto != IPPROTO_TCP)
		return count(KAIROS_XDP_PASS_OTHER_L4, XDP_PASS);
	/* Both headers start with the 16-bit source and destination ports. */
	if (li->l4 + 4 > end || li->l4_room < 4)
		return count(KAIROS_XDP_PASS_BAD_L4, XDP_PASS);
	key->port = *(__be16 *)(li->l4 + 2);
	key->l4_proto = li->proto;
	app = find_app(key);
	if (!app) {
		if (l4_invalid(li, end))
			return count(KAIROS_XDP_PASS_BAD_L4, XDP_PASS);
		return count(KAIROS_XDP_PASS_UNMANAGED, XDP_PASS);
	}
	/* One 8-byte load for id and flags: a hash element is recycled for
	 * another key as soon as it is deleted or replaced, so two loads could
	 * pair one app's id with another app's flags.
	 */
	id_and_flags = *(volatile __u64 *)app;
	app_id = (__u32)id_and_flags;
	flags = (__u32)(id_and_flags >> 32);
	st = stats_of(app_id);
	if (l4_invalid(li, end)) {
		if (st)
			st->dropped_bad_l4++;
		return count(KAIROS_XDP_DROP_BAD_L4_APP, XDP_DROP);
	}
	/* XDP_PASS when this queue has no socket: the kernel stack is the
	 * fallback (e.g. the kernel-UDP backend listens on the port, or the
	 * direct app has not started, or the frame came in on a queue that
	 * another app owns: the device's flow steering is wrong).
	 */
	if (flags & KAIROS_XDP_APP_OWN_XSKS) {
		void *own = bpf_map_lookup_elem(&app_xsks, &app_id);

		if (!own) {
			if (st)
				st->no_socket++;
			return count(KAIROS_XDP_PASS_NO_APP_MAP, XDP_PASS);
		}
		ret = bpf_redirect_map(own, ctx->rx_queue_index, XDP_PASS);
	} else {
		ret = bpf_redirect_map(&xsks_map, ctx->rx_queue_index,
				       XDP_PASS);
	}
	if (ret != XDP_REDIRECT) {
		if (st)
			st->no_socket++;
		return count(KAIROS_XDP_PASS_NO_SOCKET, XDP_PASS);
	}
	if (st) {
		st->redirected++;
		st->redirected_bytes += ctx->data_end - ctx->data;
	}
	return count(KAIROS_XDP_REDIRECT, XDP_REDIRECT);
}

SEC("xdp")
int kairos_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct kairos_xdp_app_key key = {};
	struct l4_info li = {};
	struct ethhdr *eth = data;
	void *l3;
	__u16 proto;
	int i, ret;

	count(KAIROS_XDP_SEEN, 0);
	if ((void *)(eth + 1) > end)
		return count(KAIROS_XDP_DROP_SHORT_ETH, XDP_DROP);
	proto = eth->h_proto;
	l3 = eth + 1;
#pragma unroll
	for (i = 0; i < KAIROS_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > end)
			return count(KAIROS_XDP_PASS_BAD_VLAN, XDP_PASS);
		if (i == 0)
			count(KAIROS_XDP_VLAN, 0);
		proto = tag->proto;
		l3 = tag + 1;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return count(KAIROS_XDP_PASS_VLAN_DEPTH, XDP_PASS);

	if (proto == bpf_htons(ETH_P_IP))
		ret = parse_ipv4(l3, end, &key, &li);
	else if (proto == bpf_htons(ETH_P_IPV6))
		ret = parse_ipv6(l3, end, &key, &li);
	else
		return count(KAIROS_XDP_PASS_NON_IP, XDP_PASS);
	if (ret)
		return ret - 1;
	return steer(ctx, end, &key, &li);
}
