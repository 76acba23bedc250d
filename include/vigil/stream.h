/* TCP stream reassembly (parsers/stream.c): one table per worker, no locks.
 *
 * Each flow slot of the worker's flow table has a session slot here (index =
 * vg_flow_table_index()). For every TCP packet of a flow the worker calls
 * vg_stream_packet(); the engine rebuilds the byte stream of each direction
 * as the receiving host would and hands it to a sink: every byte once, in
 * order, with its offset from the start of that direction's stream (the byte
 * after the SYN's sequence number is offset 0).
 *
 * Delivery waits for the receiver's acknowledgement, so overlapping or
 * retransmitted data that arrives before the ACK is resolved by the overlap
 * policy first and never delivered twice. When the other direction is never
 * seen (a one-sided capture), contiguous data is delivered at once
 * (async_oneside). At session end whatever is still buffered is delivered in
 * order, with the holes marked.
 *
 * Memory: segment data lives in a pool of fixed-size chunks (memcap bytes,
 * counted in whole VG_STREAM_CHUNK_SIZE chunks), segment descriptors in a
 * pool of segment_pool entries; both are allocated by vg_stream_table_new()
 * and nothing is allocated per packet. */
#ifndef VIGIL_STREAM_H
#define VIGIL_STREAM_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/flow.h"
#include "vigil/packet.h"

/* Segment data is stored in chunks of this many bytes; a buffered segment
 * uses whole chunks, and memcap and flow_cap count chunk bytes. */
#define VG_STREAM_CHUNK_SIZE 512u

/* Which copy of overlapping bytes the receiving host keeps (target-based
 * reassembly). The rules are those of Snort 3's stream_tcp overlap resolvers
 * and Suricata's stream engine; stream.c documents each. */
enum vg_stream_policy {
    VG_STREAM_POLICY_FIRST = 0,
    VG_STREAM_POLICY_LAST = 1,
    VG_STREAM_POLICY_BSD = 2,
    VG_STREAM_POLICY_LINUX = 3,
    VG_STREAM_POLICY_WINDOWS = 4,
};

/* "first", "last", "bsd", "linux", "windows". */
const char *vg_stream_policy_name(enum vg_stream_policy p);

/* Parses a policy name (case-insensitive). Returns 0, or -1 when unknown. */
int vg_stream_policy_parse(const char *name, enum vg_stream_policy *out);

struct vg_stream_config {
    uint64_t memcap;       /* bytes of buffered segment data, whole table */
    uint32_t segment_pool; /* preallocated segment descriptors */
    uint32_t depth;        /* reassembly depth per direction, bytes (0 = unlimited) */
    uint32_t flow_cap;     /* max bytes buffered per flow direction before data is
                              delivered without waiting for the ACK (0 = no cap) */
    enum vg_stream_policy policy;
    bool midstream;     /* pick up sessions without a handshake (default false, as Suricata) */
    bool async_oneside; /* one-sided capture: deliver contiguous data at once (default true) */
};

/* memcap 64 MiB, segment_pool 65536, depth 1 MiB, flow_cap 1 MiB, policy bsd,
 * midstream off, async_oneside on. */
void vg_stream_config_default(struct vg_stream_config *cfg);

/* Anomalies, with Suricata's stream event names. */
enum vg_stream_event {
    VG_STREAM_EV_OVERLAP_DIFFERENT_DATA,  /* overlapping segments carry different bytes */
    VG_STREAM_EV_PKT_RETRANSMISSION,      /* a segment that adds no new byte */
    VG_STREAM_EV_SEQ_GAP,                 /* bytes lost: the stream continues after a gap */
    VG_STREAM_EV_RST_WITH_DATA,           /* a RST carrying payload (never reassembled) */
    VG_STREAM_EV_RST_INVALID_SEQ,         /* a RST the receiver would ignore */
    VG_STREAM_EV_SUSPECTED_RST_INJECT,    /* new data after an accepted RST */
    VG_STREAM_EV_SYNACK_WRONG_DIRECTION,  /* SYN+ACK from the side that sent the SYN */
    VG_STREAM_EV_SYNACK_WRONG_ACK,        /* SYN+ACK that does not acknowledge the SYN */
    VG_STREAM_EV_SYNACK_TFO_DATA_IGNORED, /* the SYN+ACK acknowledged the SYN but not its data */
    VG_STREAM_EV_4WHS_SYNACK_WRONG_ACK,   /* split handshake: SYN+ACK with the wrong numbers */
    VG_STREAM_EV_DEPTH_REACHED,           /* a direction reached the reassembly depth */
    VG_STREAM_EV_MEMCAP,                  /* a segment dropped: memcap or segment pool full */
    VG_STREAM_EV_PKT_INVALID_ACK,         /* ACK for data the other side never sent */
    VG_STREAM_EV_OUT_OF_WINDOW,           /* a segment too far from the stream position */
    VG_STREAM_EVENT_COUNT
};

/* Name as used in EVE anomaly events and stats, e.g. "stream.reassembly_seq_gap". */
const char *vg_stream_event_name(enum vg_stream_event ev);

/* Flags of a delivered chunk:
 *   GAP_BEFORE  bytes were lost just before this chunk (its offset skips them)
 *   MIDSTREAM   the session was picked up midstream: offsets count from the
 *               first byte seen, not from the SYN
 *   UNACKED     delivered without the receiver's ACK (one-sided capture,
 *               per-flow cap, RST, session end) */
#define VG_STREAM_GAP_BEFORE 0x01u
#define VG_STREAM_MIDSTREAM  0x02u
#define VG_STREAM_UNACKED    0x04u

/* Where reassembled data and anomalies go. Either callback may be NULL. Data
 * and events are only reported during the vg_stream_packet() or
 * vg_stream_session_end() call that produces them; data points into the
 * engine's memory and is valid for the duration of the callback only. */
struct vg_stream_sink {
    void (*data)(void *user, enum vg_flow_dir dir, const uint8_t *data, uint32_t len,
                 uint64_t stream_offset, uint32_t flags);
    void (*event)(void *user, enum vg_stream_event ev);
    void *user;
};

struct vg_stream_stats {
    uint64_t sessions;           /* sessions reassembled (handshake or pick-up) */
    uint64_t sessions_midstream; /* picked up without a handshake */
    uint64_t sessions_4whs;      /* split (4-way) handshakes */
    uint64_t sessions_tfo;       /* SYN data acknowledged by the SYN+ACK (TCP Fast Open) */
    uint64_t no_handshake;       /* packets of sessions not picked up (midstream off) */
    uint64_t segments;           /* data segments taken in */
    uint64_t segment_bytes;
    uint64_t delivered_bytes;
    uint64_t delivered_unacked_bytes; /* of which delivered without an ACK */
    uint64_t retransmissions;         /* segments that added no new byte */
    uint64_t overlaps;                /* segments overlapping buffered data */
    uint64_t overlaps_different;      /* of which with different bytes */
    uint64_t gaps;                    /* holes skipped */
    uint64_t gap_bytes;
    uint64_t depth_reached; /* directions that reached the depth */
    uint64_t depth_bytes;   /* bytes beyond the depth, not reassembled */
    uint64_t memcap_drops;  /* segments dropped: chunk memory full */
    uint64_t memcap_drop_bytes;
    uint64_t pool_drops; /* segments dropped: no free segment descriptor */
    uint64_t pool_drop_bytes;
    uint64_t flow_cap_flushes; /* segments delivered early: a direction passed flow_cap */
    uint64_t out_of_window;    /* segments too far from the stream position: ignored */
    uint64_t rst_with_data;
    uint64_t resets;      /* RSTs accepted */
    uint64_t rst_invalid; /* RSTs ignored (wrong sequence number) */
    uint64_t invalid_acks;
    uint64_t memuse; /* chunk bytes in use now */
    uint64_t memuse_max;
    uint64_t segments_in_use; /* segment descriptors in use now */
    uint64_t segments_in_use_max;
    uint64_t events[VG_STREAM_EVENT_COUNT];
};

struct vg_stream_table;

/* Allocates a table with one session slot per flow slot (max_sessions =
 * vg_flow_table_capacity()) and the pools the configuration sizes; cfg NULL
 * means the defaults. NULL on allocation failure or a bad configuration. */
struct vg_stream_table *vg_stream_table_new(uint32_t max_sessions,
                                            const struct vg_stream_config *cfg);
void vg_stream_table_free(struct vg_stream_table *t);

/* Feeds one decoded TCP packet of the flow in slot `session` (non-TCP
 * packets are ignored). dir is the packet's direction in its flow;
 * first_packet_of_flow resets the slot for a new flow. Every TCP packet of
 * the flow must come through here, payload or not: the ACKs of one direction
 * release the data of the other. Data ready for delivery and events go to
 * sink (which may be NULL). */
void vg_stream_packet(struct vg_stream_table *t, uint32_t session, enum vg_flow_dir dir,
                      const struct vg_packet *p, bool first_packet_of_flow,
                      const struct vg_stream_sink *sink);

/* The flow in slot `session` ended: delivers what is still buffered (each
 * direction in order, holes marked VG_STREAM_GAP_BEFORE) and frees the
 * session's segments, leaving the slot clean for reuse. */
void vg_stream_session_end(struct vg_stream_table *t, uint32_t session,
                           const struct vg_stream_sink *sink);

/* True while the direction is being reassembled, so its payload reaches the
 * sink: false before a session is picked up (no handshake with midstream
 * off), and once the direction reached the depth. Meant to be asked after
 * vg_stream_packet() for the packet at hand: when false, packet-level
 * detection still has to look at that packet's payload. */
bool vg_stream_direction_active(const struct vg_stream_table *t, uint32_t session,
                                enum vg_flow_dir dir);

const struct vg_stream_stats *vg_stream_table_stats(const struct vg_stream_table *t);

/* Adds every counter of src to dst (memuse and the maxima add up too). */
void vg_stream_stats_add(struct vg_stream_stats *dst, const struct vg_stream_stats *src);

#endif
