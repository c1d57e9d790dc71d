// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper: the sending side's stand-in for a NIC's flow steering
 * (ntuple rules). Attached at tcx egress of the client's veth, it gives an
 * IPv4 UDP packet whose destination port is in 'port_hash' that flow hash,
 * chosen by the test so that the kernel's TX queue pick (skb_tx_hash:
 * reciprocal_scale(hash, queues)) lands on the queue it wants. On veth the
 * TX queue of the sender is the RX queue of the peer, so every flow to
 * that port arrives on that queue of the server's device.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char _license[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u16);	/* destination port, host order */
	__type(value, __u32);	/* flow hash to set */
} port_hash SEC(".maps");

SEC("tcx/egress")
int txq_by_port(struct __sk_buff *skb)
{
	__u8 ihl, proto;
	__be16 eth_proto, dport;
	__u16 port;
	__u32 *hash;

	if (bpf_skb_load_bytes(skb, 12, &eth_proto, 2) ||
	    eth_proto != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ihl, 1) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN + 9, &proto, 1) ||
	    proto != IPPROTO_UDP)
		return TCX_NEXT;
	ihl = (ihl & 0x0f) * 4;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + ihl + 2, &dport, 2))
		return TCX_NEXT;
	port = bpf_ntohs(dport);
	hash = bpf_map_lookup_elem(&port_hash, &port);
	if (hash)
		bpf_set_hash(skb, *hash);
	return TCX_NEXT;
}
