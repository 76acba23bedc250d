/* IP fragment reassembly (parsers/defrag.c): IPv4 and IPv6, one instance per
 * worker, no locks.
 *
 * The decoder marks a fragment with VG_PKT_FRAGMENT and stops at the IP
 * header. Each fragment goes to vg_defrag_packet(); the one that completes a
 * datagram gets the rebuilt datagram back, decoded, to be analysed like any
 * other packet (flow, detection). Fragments are matched by (family, source,
 * destination, identification, IPv4 protocol, VLAN ids).
 *
 * Overlapping fragments are resolved as the target's IP stack would, with
 * the target-based policies of Snort's frag3 and Suricata's defrag (Novak,
 * "Target-Based Fragmentation Reassembly", 2005). A fragment queue holds
 * non-overlapping pieces; when a new fragment N overlaps a held piece P, the
 * policy decides which one supplies the overlapping bytes:
 *
 *   first    P always (the data seen first wins)
 *   last     N always (the data seen last wins)
 *   bsd      P when P starts at or before N, else N (4.4BSD ip_reass)
 *   linux    P when P starts before N, else N (Linux before 4.19)
 *   windows  P, unless N starts before P and ends after it
 *   solaris  P, unless N starts before P and ends at or after its end
 *
 * P's extents are those of the piece as queued (after earlier trims), N's
 * those of the fragment as sent, as a real queue compares them.
 *
 * Memory is bounded at creation: a tracker table of max_trackers entries and
 * a pool of fixed-size chunks (VG_DEFRAG_CHUNK_SIZE bytes each, memcap bytes
 * in all) that holds fragment data and the first fragment's header. Nothing
 * is allocated per packet. At a cap the policies are:
 *   - no chunk left (memcap): the datagram of the fragment being stored is
 *     given up: its data is freed and its tracker stays, empty, until its
 *     timeout so that the rest of its fragments are absorbed, not stored;
 *   - more than max_fragments fragments for one datagram: the same;
 *   - no free tracker: trackers past their timeout are reclaimed first; if
 *     none is, the fragment is dropped.
 * Each case is counted. Time is packet time: a tracker times out
 * timeout_us after its first fragment, whatever arrives later. */
#ifndef VIGIL_DEFRAG_H
#define VIGIL_DEFRAG_H

#include <stdint.h>

#include "vigil/packet.h"

/* The allocation unit of fragment storage; memcap is spent in these. */
#define VG_DEFRAG_CHUNK_SIZE 256u

enum vg_defrag_policy {
    VG_DEFRAG_POLICY_BSD = 0, /* Suricata's default */
    VG_DEFRAG_POLICY_FIRST,
    VG_DEFRAG_POLICY_LAST,
    VG_DEFRAG_POLICY_LINUX,
    VG_DEFRAG_POLICY_WINDOWS,
    VG_DEFRAG_POLICY_SOLARIS,
    VG_DEFRAG_POLICY_COUNT
};

/* "bsd", "first", ...; NULL for an unknown value. */
const char *vg_defrag_policy_name(enum vg_defrag_policy p);

/* Parses a policy name as Suricata's defrag host-os-policy knows it
 * ("bsd", "first", "last", "linux", "windows", "solaris", case-insensitive).
 * Returns 0, or -1 when the name is unknown. */
int vg_defrag_policy_parse(const char *name, enum vg_defrag_policy *out);

struct vg_defrag_config {
    uint64_t memcap;        /* bytes of fragment storage, all trackers together */
    uint32_t max_trackers;  /* datagrams being reassembled at once */
    uint32_t max_fragments; /* fragments one datagram may receive */
    uint64_t timeout_us;    /* from a datagram's first fragment, packet time */
    enum vg_defrag_policy policy;
};

/* Defaults, per instance: memcap 32 MiB and 65535 trackers (Suricata's
 * defrag.memcap and defrag.trackers), 256 fragments per datagram, 60 s
 * timeout, policy bsd. */
void vg_defrag_config_default(struct vg_defrag_config *cfg);

/* Anomalies. vg_defrag_last_events() tells which ones the last call of
 * vg_defrag_packet() raised, as a mask of VG_DEFRAG_EVENT_BIT(). */
enum vg_defrag_event {
    VG_DEFRAG_EV_OVERLAP = 0,            /* the fragment overlapped data already held */
    VG_DEFRAG_EV_OVERLAP_DIFFERENT_DATA, /* ... and some overlapping byte differed */
    VG_DEFRAG_EV_TOO_MANY_FRAGMENTS,     /* datagram given up at max_fragments */
    VG_DEFRAG_EV_DATAGRAM_TOO_LARGE,     /* fragment would end past the IP maximum: dropped */
    VG_DEFRAG_EV_INVALID_FRAGMENT,       /* malformed fragment: dropped */
    VG_DEFRAG_EV_MEMCAP,                 /* datagram given up: no storage left */
    VG_DEFRAG_EV_TRACKER_TABLE_FULL,     /* fragment dropped: no tracker free */
    VG_DEFRAG_EV_TIMEOUT,                /* datagram given up incomplete at its timeout */
    VG_DEFRAG_EV_COUNT
};

#define VG_DEFRAG_EVENT_BIT(ev) (1u << (unsigned)(ev))

/* Family-neutral name, for statistics: "defrag.overlap",
 * "defrag.max_frag_hits", ... */
const char *vg_defrag_event_name(enum vg_defrag_event ev);

/* The name an EVE anomaly record uses for an event raised by a fragment of
 * the given family (4 or 6): Suricata's decoder event where it has one
 * ("ipv4.frag_overlap", "ipv6.frag_pkt_too_large", "ipv6.frag_invalid_length",
 * "ipv4.frag_ignored" for memcap), else the family-neutral name. */
const char *vg_defrag_event_name_family(enum vg_defrag_event ev, int family);

struct vg_defrag_stats {
    uint64_t ipv4_fragments; /* fragments fed in */
    uint64_t ipv6_fragments;
    uint64_t ipv4_reassembled; /* datagrams rebuilt and handed back */
    uint64_t ipv6_reassembled;
    uint64_t timeouts;            /* datagrams given up incomplete at their timeout */
    uint64_t overlaps;            /* fragments that overlapped held data */
    uint64_t overlaps_different;  /* ... with at least one differing byte */
    uint64_t duplicates;          /* fragments that brought no byte not already held, identical */
    uint64_t memcap_drops;        /* datagrams given up: no storage left */
    uint64_t tracker_table_full;  /* fragments dropped: no tracker free */
    uint64_t too_many_fragments;  /* datagrams given up at max_fragments */
    uint64_t oversize;            /* fragments dropped: datagram past 65535 (IPv6: payload) */
    uint64_t invalid;             /* fragments dropped as malformed */
    uint64_t truncated;           /* fragments dropped: not fully captured (snap length) */
    uint64_t absorbed;            /* fragments of a given-up datagram, dropped */
    uint64_t rebuilt_undecodable; /* rebuilt datagrams the decoder refused */
    uint64_t trackers_active;     /* gauge: trackers in use now */
    uint64_t memuse;              /* gauge: bytes of chunks in use now */
};

/* Adds every counter of src to dst (gauges add up across instances too). */
void vg_defrag_stats_add(struct vg_defrag_stats *dst, const struct vg_defrag_stats *src);

struct vg_defrag;

/* Allocates everything up front. cfg NULL, or a zero field, takes the
 * default. NULL on allocation failure. */
struct vg_defrag *vg_defrag_new(const struct vg_defrag_config *cfg);
void vg_defrag_free(struct vg_defrag *d);

/* Feeds one decoded fragment (VG_PKT_FRAGMENT set; p->l3 and p->l3_len as
 * the decoder left them). now_us is the caller's packet clock and must not
 * go backwards.
 *
 * Returns 1 when this fragment completed its datagram: the datagram (IP
 * header with its total / payload length set, MF and offset cleared and the
 * IPv4 checksum recomputed; for IPv6 the fragment header removed) is in a
 * buffer owned by d, valid until the next call of vg_defrag_packet() or
 * vg_defrag_free(), and out is that datagram decoded as raw IP without
 * checksum checks, with ts_us, pcap_cnt and the VLAN ids of the completing
 * fragment. out->caplen is the datagram's length; out->wirelen is the sum of
 * the wire lengths of the fragments that made it, so that byte counters keep
 * counting what crossed the wire.
 * The decode of the rebuilt datagram counts its layers in st (ipv4, tcp, ...)
 * but not in st->pkts, st->bytes or the link counter: the fragments were
 * those packets.
 *
 * Returns 0 otherwise: the fragment was stored, or dropped and counted (also
 * when the rebuilt datagram does not decode). Never reads outside
 * [p->l3, p->l3 + p->l3_len). */
int vg_defrag_packet(struct vg_defrag *d, const struct vg_packet *frag, uint64_t now_us,
                     struct vg_packet *out, struct vg_decode_stats *st);

/* Events raised by the last vg_defrag_packet() call (VG_DEFRAG_EVENT_BIT
 * mask). VG_DEFRAG_EV_TIMEOUT never appears here: a timeout belongs to no
 * packet; vg_defrag_expire() returns them. */
uint32_t vg_defrag_last_events(const struct vg_defrag *d);

/* Gives up every datagram whose timeout passed at now_us. Returns how many
 * incomplete datagrams timed out (also counted in stats.timeouts).
 * vg_defrag_packet() does the same before it looks at a fragment, so calling
 * this only keeps memory free while no fragment arrives. */
uint32_t vg_defrag_expire(struct vg_defrag *d, uint64_t now_us);

const struct vg_defrag_stats *vg_defrag_stats(const struct vg_defrag *d);

#endif
