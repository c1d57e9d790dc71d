// SPDX-License-Identifier: GPL-2.0
/*
 * Kairos XDP program. This first version classifies frames and counts
 * them; steering managed apps to AF_XDP sockets builds on this parser.
 *
 * Malformed-frame policy: a frame too short for an Ethernet header is
 * dropped (no stack could use it); an IP frame whose header is truncated
 * or invalid is passed, so the kernel's own checks decide and count it.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "kairos_xdp_abi.h"

char _license[] SEC("license") = "GPL";

#define KAIROS_MAX_VLAN_TAGS 2

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KAIROS_XDP_NR_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &slot);

	if (v)
		*v += 1;
}

SEC("xdp")
int kairos_steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3;
	__u16 proto;
	int i;

	count(KAIROS_XDP_SEEN);
	if ((void *)(eth + 1) > end) {
		count(KAIROS_XDP_SHORT_ETH);
		return XDP_DROP;
	}
	proto = eth->h_proto;
	l3 = eth + 1;
#pragma unroll
	for (i = 0; i < KAIROS_MAX_VLAN_TAGS; i++) {
		struct vlan_tag *tag = l3;

		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(tag + 1) > end) {
			count(KAIROS_XDP_BAD_L3);
			return XDP_PASS;
		}
		if (i == 0)
			count(KAIROS_XDP_VLAN);
		proto = tag->proto;
		l3 = tag + 1;
	}

	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = l3;

		if ((void *)(ip + 1) > end || ip->ihl < 5 || ip->version != 4 ||
		    (void *)ip + ip->ihl * 4 > end) {
			count(KAIROS_XDP_BAD_L3);
			return XDP_PASS;
		}
		count(KAIROS_XDP_IPV4);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = l3;

		if ((void *)(ip6 + 1) > end || ip6->version != 6) {
			count(KAIROS_XDP_BAD_L3);
			return XDP_PASS;
		}
		count(KAIROS_XDP_IPV6);
	} else {
		count(KAIROS_XDP_NON_IP);
	}
	return XDP_PASS;
}
