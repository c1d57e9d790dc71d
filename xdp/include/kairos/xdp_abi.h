/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ABI of the Kairos XDP steering program's maps, shared with userspace
 * (kairosd's dataplane fills 'apps', 'xsks_map' and 'app_xsks', reads the
 * counters).
 *
 * Maps:
 *   counters   per-CPU array, one __u64 per enum kairos_xdp_counter slot
 *   apps       hash, struct kairos_xdp_app_key -> struct kairos_xdp_app
 *   app_stats  per-CPU array indexed by app id, struct kairos_xdp_app_stats
 *   xsks_map   XSKMAP indexed by the device rx queue: that queue's socket
 *              (the name DPDK's net_af_xdp expects of an xdp_prog= object);
 *              shared by every app without KAIROS_XDP_APP_OWN_XSKS (the
 *              relayed dataplane's sockets, DPDK's)
 *   app_xsks   array of maps indexed by app id: an app with
 *              KAIROS_XDP_APP_OWN_XSKS has its own XSKMAP (inner map,
 *              KAIROS_XDP_MAX_QUEUES entries, key: rx queue) there, so
 *              several processes can each own the sockets of their app
 *              (direct mode, several apps on one device). The kernel binds
 *              one socket (one UMEM) per device queue, so such apps own
 *              disjoint sets of queues and the device (flow steering, RSS)
 *              must deliver an app's frames on its queues.
 *
 * Addresses are IPv6-sized; an IPv4 address is stored IPv4-mapped
 * (::ffff:a.b.c.d). An all-zero address is the wildcard (bound to any).
 * The program's .rodata holds kairos_xdp_abi_version for userspace to check.
 */
#ifndef KAIROS_XDP_ABI_H
#define KAIROS_XDP_ABI_H

#include <linux/types.h>

#define KAIROS_XDP_ABI_VERSION 3

#define KAIROS_XDP_MAX_APPS 64		/* app ids are 0 .. MAX_APPS-1 */
#define KAIROS_XDP_MAX_APP_KEYS 256	/* (address, port, protocol) entries */
#define KAIROS_XDP_MAX_QUEUES 64	/* device rx queues with a socket */

/*
 * Counter slots. PASS_* frames go to the kernel stack untouched, DROP_*
 * frames are dropped. The policy per case is in kairos_steer.bpf.c.
 */
enum kairos_xdp_counter {
	KAIROS_XDP_SEEN = 0,		/* every frame */
	KAIROS_XDP_VLAN,		/* frames that carried VLAN tags */
	KAIROS_XDP_IPV4,		/* well-formed IPv4 header */
	KAIROS_XDP_IPV6,		/* well-formed IPv6 header (+ext. headers) */
	KAIROS_XDP_PASS_NON_IP,		/* ARP, LLDP, ...: passed */
	KAIROS_XDP_DROP_SHORT_ETH,	/* shorter than an Ethernet header */
	KAIROS_XDP_PASS_BAD_VLAN,	/* truncated VLAN tag */
	KAIROS_XDP_PASS_VLAN_DEPTH,	/* more VLAN tags than we parse */
	KAIROS_XDP_PASS_BAD_IPV4,	/* truncated, bad version/IHL/length */
	KAIROS_XDP_PASS_BAD_IPV6,	/* truncated, bad version/length */
	KAIROS_XDP_PASS_BAD_EXTHDR,	/* truncated or too many ext. headers */
	KAIROS_XDP_PASS_FRAGMENT,	/* IPv4 or IPv6 fragment */
	KAIROS_XDP_PASS_OTHER_L4,	/* ICMP, SCTP, ESP, ...: passed */
	KAIROS_XDP_PASS_BAD_L4,		/* L4 header truncated/invalid, unmanaged */
	KAIROS_XDP_PASS_UNMANAGED,	/* well-formed UDP/TCP, no app matches */
	KAIROS_XDP_DROP_BAD_L4_APP,	/* invalid UDP length/TCP offset to an app */
	KAIROS_XDP_REDIRECT,		/* handed to the queue's AF_XDP socket */
	KAIROS_XDP_PASS_NO_SOCKET,	/* app frame, but no socket on its queue */
	KAIROS_XDP_PASS_NO_APP_MAP,	/* OWN_XSKS app without a map at its id */
	KAIROS_XDP_NR_COUNTERS,
};

struct kairos_xdp_app_key {
	__u8 addr[16];		/* destination, IPv4-mapped for IPv4; 0 = any */
	__be16 port;		/* destination port, network order */
	__u8 l4_proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	__u8 pad;		/* must be zero */
};

/* kairos_xdp_app.flags */
#define KAIROS_XDP_APP_OWN_XSKS 0x1	/* sockets in app_xsks[app_id] */

struct kairos_xdp_app {
	__u32 app_id;		/* < KAIROS_XDP_MAX_APPS */
	__u32 flags;		/* KAIROS_XDP_APP_*, other bits zero */
};

struct kairos_xdp_app_stats {
	__u64 redirected;	/* frames handed to an AF_XDP socket */
	__u64 redirected_bytes;
	__u64 no_socket;	/* passed: no socket on the rx queue (or
				 * no map: PASS_NO_APP_MAP)
				 */
	__u64 dropped_bad_l4;	/* dropped: invalid L4 header */
};

#endif /* KAIROS_XDP_ABI_H */
