/* Events (export/): compact records that workers put on their own event
 * ring, and the exporter thread that drains the rings and writes EVE JSON.
 *
 * A worker never formats text and never waits on I/O: it fills a fixed-size
 * struct vg_event and pushes it onto a single-producer single-consumer ring.
 * In offline mode a full ring makes the worker wait (the capture file waits
 * too, so nothing is lost); in live mode the event is dropped and counted. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/common.h"
#include "vigil/detect.h"
#include "vigil/packet.h"

enum vg_event_type {
    VG_EVENT_ALERT = 1,
    VG_EVENT_FLOW = 2,
    VG_EVENT_ANOMALY = 3,
    VG_EVENT_APP = 4, /* an application record: http, tls, dns, ssh (event.app_proto) */
};

/* Addresses and ports as the record shows them: for an alert and an anomaly
 * the packet's source and destination; for a flow record the client and
 * server. */
struct vg_event_tuple {
    struct vg_ip_addr src;
    struct vg_ip_addr dst;
    uint16_t sport;
    uint16_t dport;
    uint16_t vlan[VG_MAX_VLAN];
    uint8_t vlan_count;
    uint8_t proto;
    uint8_t family;
    uint8_t icmp_type; /* for Community ID of ICMP */
    uint8_t icmp_code;
    uint8_t has_ports; /* 0 for fragments and other protocols */
    /* Encapsulation, as in struct vg_packet (encap_depth 0: none). */
    uint8_t tunnel_type; /* enum vg_tunnel_type */
    uint8_t encap_depth;
    uint8_t tunnel_family; /* 0: no outer IP (MPLS or PPPoE on Ethernet) */
    uint8_t tunnel_proto;
    uint16_t tunnel_sport; /* UDP carriers only */
    uint16_t tunnel_dport;
    uint32_t tunnel_id;
    struct vg_ip_addr tunnel_src;
    struct vg_ip_addr tunnel_dst;
};

struct vg_event_alert {
    const struct vg_rule_meta *rule;
    uint8_t to_server; /* 1 when the packet went client to server */
    uint8_t has_flow;
};

struct vg_event_flow {
    uint64_t pkts_toserver;
    uint64_t pkts_toclient;
    uint64_t bytes_toserver;
    uint64_t bytes_toclient;
    uint64_t start_us;
    uint64_t end_us;
    uint8_t state;  /* enum vg_flow_state */
    uint8_t reason; /* enum vg_flow_end_reason */
    uint8_t alerted;
    uint8_t tcp_state; /* enum vg_tcp_state */
    uint8_t tcp_flags_ts;
    uint8_t tcp_flags_tc;
};

/* Which stage raised an anomaly: it selects the enum of `event`. */
enum vg_anomaly_kind {
    VG_ANOMALY_DECODE = 0,   /* enum vg_decode_event */
    VG_ANOMALY_DEFRAG = 1,   /* enum vg_defrag_event */
    VG_ANOMALY_STREAM = 2,   /* enum vg_stream_event */
    VG_ANOMALY_APPLAYER = 3, /* the event numbers of the parser of event.app_proto */
};

struct vg_event_anomaly {
    uint16_t event;
    uint8_t kind; /* enum vg_anomaly_kind */
};

struct vg_event {
    uint8_t type;      /* enum vg_event_type */
    uint8_t app_proto; /* enum vg_app_proto of the flow (0: unknown) */
    uint16_t meta_len; /* bytes of metadata (include/vigil/meta.h) after the event */
    uint8_t pad[4];
    uint64_t ts_us;
    uint64_t flow_id; /* 0 when the event has no flow */
    uint64_t pcap_cnt;
    struct vg_event_tuple tuple;
    union {
        struct vg_event_alert alert;
        struct vg_event_flow flow;
        struct vg_event_anomaly anomaly;
    } u;
};

/* Metadata an event may carry, at most: an application record, or the
 * app objects an alert shows. */
#define VG_EVENT_META_MAX 8192u

/* An event and its metadata take consecutive ring slots. */
static inline uint32_t vg_event_slots(const struct vg_event *ev)
{
    return 1u + ((uint32_t)ev->meta_len + sizeof(struct vg_event) - 1) / sizeof(struct vg_event);
}

/* The metadata bytes of an event popped from a ring (meta_len of them). */
static inline const uint8_t *vg_event_meta(const struct vg_event *ev)
{
    return (const uint8_t *)(ev + 1);
}

/* Ring slots the largest event takes: a consumer pops at least this many. */
#define VG_EVENT_MAX_SLOTS                                                                         \
    (1u + (VG_EVENT_META_MAX + sizeof(struct vg_event) - 1) / sizeof(struct vg_event))

/* ---- single-producer single-consumer event ring ---- */

struct vg_event_ring;

/* capacity is rounded up to a power of two. NULL on allocation failure. */
struct vg_event_ring *vg_event_ring_new(uint32_t capacity);
void vg_event_ring_free(struct vg_event_ring *r);

/* Producer side. Returns true when queued; false when the ring is full (the
 * caller decides: wait in offline mode, count a drop in live mode). */
bool vg_event_ring_push(struct vg_event_ring *r, const struct vg_event *ev);

/* Same, with ev->meta_len bytes of metadata (at most VG_EVENT_META_MAX)
 * following the event in the ring. */
bool vg_event_ring_push_meta(struct vg_event_ring *r, const struct vg_event *ev,
                             const uint8_t *meta);

/* Consumer side: copies whole events (each with its metadata slots) out,
 * up to max slots; walk them with vg_event_slots. Returns the slots
 * copied. max must be at least VG_EVENT_MAX_SLOTS once events carry
 * metadata. */
uint32_t vg_event_ring_pop(struct vg_event_ring *r, struct vg_event *out, uint32_t max);

/* ---- Community ID v1 ---- */

/* Writes "1:<base64 sha1>" (29 characters plus NUL) into out (>= 32 bytes).
 * ICMP and ICMPv6 use the type/code port mapping of the specification. */
void vg_community_id_v1(const struct vg_event_tuple *t, uint16_t seed, char *out, size_t outlen);

/* ---- JSON text ---- */

/* A growable text buffer used by the exporter (never by workers). */
struct vg_jbuf {
    char *buf;
    size_t len;
    size_t cap;
    bool truncated; /* an append did not fit (allocation failed); cleared by reset */
};

void vg_jbuf_init(struct vg_jbuf *j);
void vg_jbuf_free(struct vg_jbuf *j);
void vg_jbuf_reset(struct vg_jbuf *j);
void vg_jbuf_append(struct vg_jbuf *j, const char *s, size_t n);
void vg_jbuf_appendf(struct vg_jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends bytes as a quoted JSON string. Quotes, backslashes and control
 * bytes are escaped; bytes that are not valid UTF-8 become U+FFFD, so the
 * output is always valid JSON in valid UTF-8 whatever arrives. */
void vg_jbuf_append_json_string(struct vg_jbuf *j, const uint8_t *s, size_t n);

/* Appends one event to j as an EVE JSON object (no trailing newline). */
struct vg_eve_opts {
    uint16_t community_id_seed;
    bool community_id;
    const char *pcap_filename; /* NULL when live */
    const char *in_iface;      /* NULL when none */
};
void vg_eve_format(struct vg_jbuf *j, const struct vg_event *ev, const struct vg_eve_opts *o);

/* ---- the exporter thread ---- */

struct vg_exporter;

struct vg_exporter_stats {
    uint64_t events_written;
    uint64_t alerts;
    uint64_t flows;
    uint64_t anomalies;
    uint64_t app_records; /* http, tls, dns, ssh records */
    uint64_t write_errors;
};

/* Creates an exporter that drains the given rings into eve_path (opened in
 * append mode; created if missing). NULL with a message in err on failure. */
struct vg_exporter *vg_exporter_new(const char *eve_path, struct vg_event_ring *const *rings,
                                    uint32_t nrings, const struct vg_eve_opts *opts, char *err,
                                    size_t errlen);

/* Starts the thread. Returns 0 or an errno value. */
int vg_exporter_start(struct vg_exporter *x);

/* Drains everything still queued, flushes the file and joins the thread.
 * Call after every producer has stopped. */
void vg_exporter_stop(struct vg_exporter *x);
void vg_exporter_free(struct vg_exporter *x);

const struct vg_exporter_stats *vg_exporter_stats(const struct vg_exporter *x);

/* Alert counts per sid seen by the exporter, for the exit summary: calls fn
 * for each sid in ascending order. */
void vg_exporter_foreach_sid(const struct vg_exporter *x,
                             void (*fn)(void *user, uint32_t sid, const char *msg, uint64_t count),
                             void *user);

#endif
