/* Protocol detection with nDPI (parsers/ndpi.c): one context per worker, no
 * locks.
 *
 * Each worker owns an nDPI detection module (initialised once, with every
 * protocol enabled) and a bounded pool of nDPI flow states. A flow takes a
 * state on its first packet and gives it back as soon as its result is
 * final, so the pool only has to cover the flows still being classified.
 * The caller keeps one uint32_t handle per flow slot (0 = no state held).
 *
 * Memory: the flow states are allocated by vg_ndpi_new(). nDPI's dissectors
 * also allocate as they go (URLs, user agents, TLS names, the TLS and QUIC
 * reassembly buffers); every allocation nDPI makes through its allocation
 * hooks while a packet is being classified is served from a per-worker
 * arena of fixed size (a buddy allocator over one preallocated region), never
 * from malloc. When the arena cannot serve a request nDPI gets NULL, which
 * its dissectors treat as "skip this metadata"; the refusal is counted in
 * alloc_failed. libgcrypt, which nDPI uses to decrypt QUIC Initial packets,
 * is served from the same arena, but cannot take a refusal: at a full
 * arena its requests go to malloc (alloc_fallback). The module's own tables
 * (host automata) are allocated once, with malloc, in vg_ndpi_new(); a few
 * LRU caches nDPI creates on first use (BitTorrent's takes 512 KiB) come
 * from the arena and stay until vg_ndpi_free(). */
#ifndef VIGIL_NDPI_H
#define VIGIL_NDPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/applayer.h"
#include "vigil/packet.h"

/* Packets with payload a flow may take before detection gives up (nDPI's
 * ndpiReader stops UDP flows after 24 packets). */
#define VG_NDPI_DEFAULT_MAX_PACKETS 24

/* Arena sizing of vg_ndpi_new(): VG_NDPI_ARENA_BASE for the caches nDPI
 * creates on first use, plus this many bytes per flow state. */
#define VG_NDPI_ARENA_PER_FLOW 4096u
#define VG_NDPI_ARENA_BASE     (1024u * 1024u)

struct vg_ndpi;

/* A flow's classification. master and app are nDPI protocol ids: for
 * "TLS.Google" master is TLS and app Google; for plain "DNS" both are DNS;
 * both are 0 (NDPI_PROTOCOL_UNKNOWN) when nothing was found. */
struct vg_ndpi_result {
    uint16_t master;
    uint16_t app;
    uint8_t category; /* ndpi_protocol_category_t */
    uint8_t done;     /* final: detection finished, gave up, or had no state */
    uint8_t guessed;  /* given by nDPI's guess at giving up (ports, addresses),
                       * not by inspecting the payload */
};

struct vg_ndpi_stats {
    uint64_t flows_detected;    /* final result found by inspection */
    uint64_t flows_guessed;     /* final result guessed at giving up */
    uint64_t flows_unknown;     /* gave up with nothing found */
    uint64_t pool_exhausted;    /* a flow found no free state: left unknown */
    uint64_t packets_inspected; /* packets handed to nDPI */
    uint64_t alloc_failed;      /* nDPI allocations the arena refused */
    uint64_t alloc_fallback;    /* libgcrypt allocations (QUIC decryption) the arena could
                                 * not serve, given by malloc instead */
    uint64_t arena_bytes;       /* arena size */
    uint64_t arena_used;        /* arena bytes allocated now (whole buddy blocks) */
    uint64_t arena_peak;        /* highest arena_used seen */
    uint64_t flows_active;      /* states in use now */
};

/* Creates a worker's context: max_flows flow states (each
 * ndpi_detection_get_sizeof_ndpi_flow_struct() bytes, allocated now), at
 * most max_packets packets with payload per flow (0: the default), and an
 * arena of VG_NDPI_ARENA_BASE + max_flows * VG_NDPI_ARENA_PER_FLOW bytes. Call from
 * the thread that will use it or any other; contexts may be created in
 * parallel (nDPI's initialisation is serialised inside). NULL when memory
 * or nDPI's initialisation fails. */
struct vg_ndpi *vg_ndpi_new(uint32_t max_flows, uint32_t max_packets);

/* The same with an explicit arena size in bytes (rounded up to a multiple
 * of 4 KiB, at least 4 KiB). */
struct vg_ndpi *vg_ndpi_new_ex(uint32_t max_flows, uint32_t max_packets, size_t arena_bytes);

/* Releases every state still held, the nDPI module and the arena. */
void vg_ndpi_free(struct vg_ndpi *n);

/* Feeds one packet of a flow: p->l3 .. p->l3 + p->l3_len is the innermost
 * IP header and what follows it. A packet nDPI cannot read (no IP header, an
 * IP fragment: feed the reassembled datagram instead) changes nothing and
 * returns true. handle is the flow's handle (0 before its first packet). dir (enum vg_flow_dir) is
 * not needed by nDPI, which tells the directions apart by the addresses itself.
 *
 * Returns true while detection is still running: keep feeding the flow's
 * packets. Returns false when the flow's result is final; the state is then
 * already released (*handle is 0 again) and the caller stops feeding. Final
 * means: nDPI found the protocol (after the packets its dissector still
 * wants for metadata, such as a DNS answer or the TLS certificate), or
 * max_packets packets with payload were seen and nDPI gave up (with its
 * guess), or no state was free (pool_exhausted counted; result unknown).
 * *out always holds the result so far. */
bool vg_ndpi_packet(struct vg_ndpi *n, uint32_t *handle, const struct vg_packet *p, int dir,
                    uint64_t ts_us, struct vg_ndpi_result *out);

/* The flow ends: when it still holds a state, asks nDPI for its final
 * answer (a guess when nothing was found), writes it to *out (done set),
 * releases the state and sets *handle to 0. When *handle is 0, does
 * nothing and leaves *out as it is. */
void vg_ndpi_flow_end(struct vg_ndpi *n, uint32_t *handle, struct vg_ndpi_result *out);

/* "TLS.Google", "DNS", "Unknown", as ndpiReader prints the protocol.
 * Writes into buf and returns it. */
const char *vg_ndpi_proto_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r, char *buf,
                               size_t len);

/* "TLS" for TLS.Google; "Unknown" when nothing was found. Static strings. */
const char *vg_ndpi_master_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r);

/* "Google" for TLS.Google, "DNS" for DNS; "Unknown" when nothing was found. */
const char *vg_ndpi_app_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r);

/* "Web", "Network", "Unspecified", ... as nDPI names the category. */
const char *vg_ndpi_category_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r);

/* The vigil parser the result points to: VG_APP_HTTP, TLS, DNS or SSH when
 * nDPI's master or app protocol is HTTP (or HTTP_Connect, HTTP_Proxy), TLS,
 * DNS or SSH; VG_APP_OTHER for any other protocol nDPI knows (DTLS and QUIC
 * included); VG_APP_UNKNOWN when nothing was found. */
enum vg_app_proto vg_ndpi_app_proto(const struct vg_ndpi_result *r);

/* Counters of this context (arena figures read at the call). */
const struct vg_ndpi_stats *vg_ndpi_stats(const struct vg_ndpi *n);

/* Adds the counters of src to dst (arena_bytes, arena_used, arena_peak and
 * flows_active add up too: the sum over workers). */
void vg_ndpi_stats_add(struct vg_ndpi_stats *dst, const struct vg_ndpi_stats *src);

#endif
