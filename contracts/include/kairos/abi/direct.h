/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * ABI between kairosd and a mode=direct app (versioned; C for both sides).
 *
 * For an app line "app ADDR:PORT mode=direct pin=DIR [queues=LIST]"
 * kairosd loads and attaches the steering program (xdp/kairos_steer.bpf.c)
 * with ADDR:PORT in its 'apps' map (flag KAIROS_XDP_APP_OWN_XSKS), gives
 * the app its own XSKMAP in the program's 'app_xsks' and pins, in the
 * bpffs directory DIR:
 *
 *   DIR/xsks_map   the app's own XSKMAP (key: device rx queue). The app
 *                  inserts its AF_XDP socket of each queue it owns
 *                  (xsk_socket__update_xskmap); the kernel removes it when
 *                  the socket closes, and frames of that queue then pass
 *                  to the kernel stack (counter PASS_NO_SOCKET). Other
 *                  apps on the device have their own maps: no app can
 *                  take another's frames.
 *   DIR/info       a one-entry BPF array (key 0) holding
 *                  struct kairos_direct_info: which device and queues
 *                  (queue_mask: the kernel binds one socket per device
 *                  queue, so apps sharing a device own disjoint queues),
 *                  the app's address, and the id of the attached program
 *                  (the app checks that it is still attached: stale pins
 *                  of a kairosd that died, or a wrong network namespace,
 *                  are refused).
 *
 * kairosd creates DIR (mounting bpffs on /sys/fs/bpf when absent),
 * refuses an existing pin, and removes both pins and DIR on exit.
 * The app needs root, or CAP_BPF (open the pins, update the XSKMAP) plus
 * CAP_NET_RAW (AF_XDP sockets) and read/write access to DIR's pins.
 */
#ifndef KAIROS_DIRECT_ABI_H
#define KAIROS_DIRECT_ABI_H

#include "types.h"

#define KAIROS_DIRECT_ABI_VERSION 2
#define KAIROS_DIRECT_MAGIC 0x4b445031u	/* "KDP1" */
#define KAIROS_DIRECT_PIN_XSKS "xsks_map"
#define KAIROS_DIRECT_PIN_INFO "info"

struct kairos_direct_info {
	kairos_u32 magic;		/* KAIROS_DIRECT_MAGIC */
	kairos_u32 version;		/* KAIROS_DIRECT_ABI_VERSION */
	kairos_u32 ifindex;		/* device, in kairosd's network namespace */
	kairos_u32 nr_queues;	/* rx queues of the device kairosd serves */
	kairos_u32 prog_id;		/* the steering program attached to ifindex */
	kairos_u32 owner_pid;	/* kairosd (for messages) */
	char ifname[16];	/* the device's name (IFNAMSIZ) */
	kairos_u8 addr[16];		/* the app's address, IPv4-mapped for IPv4 */
	kairos_u16 port;		/* the app's port, host order */
	kairos_u16 pad[3];		/* zero */
	kairos_u64 queue_mask;	/* bit q: the app owns rx queue q (< nr_queues) */
};

#endif /* KAIROS_DIRECT_ABI_H */
