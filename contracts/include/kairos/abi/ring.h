/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Kairos dataplane <-> runtime shared-memory ABI: one region (a memfd the
 * runtime maps) holding, per kthread, an RX ring (dataplane produces,
 * kthread consumes) and a TX ring (kthread produces, dataplane consumes).
 *
 * Each ring is single-producer single-consumer. head and tail are
 * free-running 32-bit counters on their own cache lines: the producer
 * writes head (release) after filling a slot, the consumer writes tail
 * (release) after it is done with a slot. head - tail (mod 2^32) is the
 * occupancy, the congestion signal the allocator reads without touching
 * the slots. A slot is owned by the consumer between head and tail and
 * must not be referenced after tail passes it.
 *
 * Parking: an idle consumer sets parked = 1, re-checks head, and sleeps
 * on the futex word 'parked' (shared, not private: it may live in another
 * process). A producer that advanced head and sees parked == 1 clears it
 * and wakes it. Both sides order their store and load with a full fence.
 *
 * Layout: struct kairos_dp_region (128 bytes) at offset 0, then nr_kthreads ring pairs
 * of ring_bytes each (RX ring, then TX ring), each ring a struct
 * kairos_dp_ring header followed by nr_slots slots of slot_size bytes.
 * Plain C so that any runtime (C, C++, Rust) can use it.
 *
 * Finding the region across processes (kairosd --dataplane-config): the
 * dataplane creates it as a POSIX shared-memory object (shm_open, so
 * /dev/shm/<name>) named in its configuration, with O_EXCL (an existing
 * name is an error, unless it holds the region of a dataplane of the same
 * owner whose process dp_pid is gone: that one is unlinked and made
 * anew), mode 0600, sizes it, fills the header
 * and stores magic last (release). An app opens the same name, maps it,
 * and checks magic (acquire), version and geometry before touching any
 * ring; magic == 0 means "not ready yet, retry". app is the address the
 * dataplane steers to this region. The dataplane unlinks the name when it
 * stops; a mapping an app still holds stays valid memory but no longer
 * moves traffic. In-process users may pass the memfd instead.
 *
 * TX doorbell (v3): the dataplane sleeps in one ppoll over its device fds
 * and every region's eventfd. Before it sleeps it sets doorbell_armed = 1
 * and re-checks the TX rings; a TX producer, after advancing head (full
 * fence between), that sees doorbell_armed == 1 and swaps it to 0 writes
 * the eventfd, so a reply wakes the dataplane at once (one eventfd write
 * per sleep, not per reply). The eventfd is doorbell_fd in the fd table of
 * process dp_pid: an app gets its own copy with pidfd_getfd() (root, or
 * ptrace rights over the dataplane).
 *
 * Liveness (v3): dp_state is RUNNING from creation until the dataplane
 * destroys the region (then STOPPED); an app that also watches dp_pid
 * (a pidfd: readable once the process exited) can tell that the dataplane
 * went away, cleanly or not.
 *
 * Version history: 1 = layout; 2 = app endpoint in the header, named
 * regions (the layout of rings and slots is unchanged); 3 = the header
 * grows to two cache lines (doorbell and liveness in the second), so the
 * rings start at offset 128.
 */
#ifndef KAIROS_DP_RING_ABI_H
#define KAIROS_DP_RING_ABI_H

#include "types.h"

#define KAIROS_DP_ABI_VERSION 3
#define KAIROS_DP_MAGIC 0x4b445052u		/* "KDPR" */
#define KAIROS_DP_SLOT_SIZE 2048u
#define KAIROS_DP_SLOT_HDR 64u
#define KAIROS_DP_MAX_PAYLOAD (KAIROS_DP_SLOT_SIZE - KAIROS_DP_SLOT_HDR)
#define KAIROS_DP_MAX_KTHREADS 256u
#define KAIROS_DP_MAX_SLOTS 65536u		/* power of two, per ring */

/* An address is IPv6-sized; IPv4 is IPv4-mapped (::ffff:a.b.c.d). */
struct kairos_dp_endpoint {
	kairos_u8 addr[16];
	kairos_u16 port;		/* host order */
	kairos_u16 pad;
};

struct kairos_dp_region {
	kairos_u32 magic;
	kairos_u32 version;
	kairos_u32 nr_kthreads;
	kairos_u32 nr_slots;	/* per ring, power of two */
	kairos_u32 slot_size;	/* KAIROS_DP_SLOT_SIZE */
	kairos_u32 ring_hdr_size;	/* sizeof(struct kairos_dp_ring) */
	kairos_u64 ring_bytes;	/* header + slots of one ring */
	kairos_u64 total_bytes;	/* the whole region */
	struct kairos_dp_endpoint app;	/* v2: address steered here (or zero) */
	kairos_u8 pad[4];
	/* v3, second cache line: written while the region is in use */
	kairos_u32 dp_state;		/* KAIROS_DP_STATE_* */
	int32_t dp_pid;			/* the dataplane's process */
	int32_t doorbell_fd;		/* eventfd, in dp_pid's fd table */
	kairos_u32 doorbell_armed;	/* 1 while the dataplane sleeps */
	kairos_u64 doorbell_rings;	/* eventfd writes by TX producers */
	kairos_u8 pad2[40];
};

#define KAIROS_DP_STATE_RUNNING 1u
#define KAIROS_DP_STATE_STOPPED 2u

struct kairos_dp_ring {
	/* producer's line */
	kairos_u32 head;
	kairos_u32 pad0;
	kairos_u64 produced;	/* items ever pushed */
	kairos_u64 full;		/* pushes refused: ring full (never silent) */
	kairos_u8 pad1[40];
	/* consumer's line */
	kairos_u32 tail;
	kairos_u32 parked;	/* futex word: 1 while the consumer sleeps */
	kairos_u64 consumed;
	kairos_u8 pad3[48];
};

/* Slot header; the payload follows at KAIROS_DP_SLOT_HDR. */
struct kairos_dp_slot {
	kairos_u32 len;		/* payload bytes, <= KAIROS_DP_MAX_PAYLOAD */
	kairos_u32 flow_hash;	/* RX: the hash that picked the bucket */
	struct kairos_dp_endpoint peer;		/* RX: source, TX: destination */
	struct kairos_dp_endpoint local;	/* RX: destination, TX: source */
	kairos_u8 pad[KAIROS_DP_SLOT_HDR - 48];
};

#ifdef __cplusplus
static_assert(sizeof(struct kairos_dp_region) == 128, "ABI");
static_assert(sizeof(struct kairos_dp_ring) == 128, "ABI");
static_assert(sizeof(struct kairos_dp_slot) == KAIROS_DP_SLOT_HDR, "ABI");
#else
_Static_assert(sizeof(struct kairos_dp_region) == 128, "ABI");
_Static_assert(sizeof(struct kairos_dp_ring) == 128, "ABI");
_Static_assert(sizeof(struct kairos_dp_slot) == KAIROS_DP_SLOT_HDR, "ABI");
#endif

#endif /* KAIROS_DP_RING_ABI_H */
