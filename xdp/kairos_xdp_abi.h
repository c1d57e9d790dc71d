/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ABI of the Kairos XDP program's maps, shared with userspace.
 * Counter slots of the per-CPU 'counters' array map.
 */
#ifndef KAIROS_XDP_ABI_H
#define KAIROS_XDP_ABI_H

#define KAIROS_XDP_ABI_VERSION 1

enum kairos_xdp_counter {
	KAIROS_XDP_SEEN = 0,		/* every frame */
	KAIROS_XDP_IPV4,		/* well-formed IPv4 header */
	KAIROS_XDP_IPV6,		/* well-formed IPv6 header */
	KAIROS_XDP_NON_IP,		/* ARP, LLDP, ...: passed untouched */
	KAIROS_XDP_VLAN,		/* frames that carried VLAN tags */
	KAIROS_XDP_SHORT_ETH,		/* shorter than an Ethernet header: dropped */
	KAIROS_XDP_BAD_L3,		/* truncated or invalid IP header: passed */
	KAIROS_XDP_NR_COUNTERS,
};

#endif /* KAIROS_XDP_ABI_H */
