/* Flow table (parsers/flow.c): one per worker, bidirectional, preallocated.
 *
 * Flows are keyed by the normalised 5-tuple plus the VLAN ids and the tunnel
 * id (two VXLAN segments may reuse the same inner addresses); both
 * directions map to the same key, so the key's hash is symmetric and also
 * serves to pick the worker. Time is packet time: a flow times out when the
 * packet clock passes its last packet plus the timeout of its protocol and
 * state, so offline results do not depend on how fast the capture is read. */
#ifndef VIGIL_FLOW_H
#define VIGIL_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/common.h"
#include "vigil/packet.h"

/* Normalised key: endpoint a is the smaller (address, then port). */
struct vg_flow_key {
    struct vg_ip_addr addr_a;
    struct vg_ip_addr addr_b;
    uint16_t port_a;
    uint16_t port_b;
    uint16_t vlan[VG_MAX_VLAN];
    uint32_t tunnel_id; /* the packet's tunnel_id: VNI, GRE key, ... (0 outside tunnels) */
    uint8_t proto;
    uint8_t family;
    uint8_t pad[2]; /* always zero, so keys compare with memcmp */
};

/* Builds the key of a decoded packet. *src_is_a tells whether the packet's
 * source is endpoint a. ICMP uses type/code-free keys (ports 0). */
void vg_flow_key_from_packet(struct vg_flow_key *k, const struct vg_packet *p, bool *src_is_a);

/* Hash of a normalised key; equal for both directions of a flow. */
uint32_t vg_flow_key_hash(const struct vg_flow_key *k);

/* Symmetric flow hash of a decoded packet (key + hash in one call). */
uint32_t vg_packet_flow_hash(const struct vg_packet *p);

/* Symmetric hash of the packet's address pair (plus VLAN ids), without
 * ports or protocol: the worker-selection hash. Every fragment of a datagram
 * and the flow it belongs to get the same value, so defragmentation and the
 * flow stay on one worker. The price: all flows between two hosts share a
 * worker. */
uint32_t vg_packet_dispatch_hash(const struct vg_packet *p);

enum vg_flow_state {
    VG_FLOW_STATE_NEW = 0,
    VG_FLOW_STATE_ESTABLISHED = 1,
    VG_FLOW_STATE_CLOSED = 2,
};

enum vg_flow_end_reason {
    VG_FLOW_END_TIMEOUT = 0,
    VG_FLOW_END_FORCED = 1, /* evicted at the flow cap */
    VG_FLOW_END_SHUTDOWN = 2,
};

/* TCP connection tracking, coarse: what flow:established needs and what the
 * flow record reports. */
enum vg_tcp_state {
    VG_TCP_NONE = 0,
    VG_TCP_SYN_SENT,
    VG_TCP_SYN_RECV,
    VG_TCP_ESTABLISHED,
    VG_TCP_FIN_WAIT,
    VG_TCP_CLOSED,
};

#define VG_FLOW_F_ALERTED       0x01u
#define VG_FLOW_F_SEEN_TOSERVER 0x02u
#define VG_FLOW_F_SEEN_TOCLIENT 0x04u
#define VG_FLOW_F_MIDSTREAM     0x08u /* TCP picked up without a SYN */
#define VG_FLOW_F_4WHS          0x20u /* split handshake: SYN answered by a SYN */
#define VG_FLOW_F_APP_DONE      0x40u /* the app layer was closed early (set by the worker) */
#define VG_FLOW_F_WAS_ESTABLISHED                                                                  \
    0x10u /* reached established at least once (set by the worker)                                 \
           */

/* Direction of a packet within its flow. */
enum vg_flow_dir {
    VG_DIR_TOSERVER = 0,
    VG_DIR_TOCLIENT = 1,
};

/* Detection state a flow carries (the rule engine reads and writes it; the
 * flow table zeroes it with the flow): the flowbits set on the flow, as
 * indices the rule set gave their names, and whether a pass rule matched.
 * At most VG_FLOWBITS_PER_FLOW bits are set at once; a set beyond that is
 * refused and counted. */
#define VG_FLOWBITS_PER_FLOW 15

struct vg_flow_vars {
    uint8_t nbits;
    uint8_t passed;       /* a pass rule matched: the flow is no longer inspected */
    uint8_t ip_only_dirs; /* directions (1 << enum vg_flow_dir) whose first
                           * packet went through the IP-only rules */
    uint16_t bits[VG_FLOWBITS_PER_FLOW];
};

struct vg_flow {
    struct vg_flow_key key;
    uint64_t flow_id; /* stable for the flow's life, independent of worker count */
    uint64_t start_us;
    uint64_t last_us;
    uint64_t pkts[2];  /* indexed by enum vg_flow_dir */
    uint64_t bytes[2]; /* wire bytes of the frames */
    uint32_t hash;
    uint8_t client_is_a;  /* 1 when key endpoint a is the client */
    uint8_t state;        /* enum vg_flow_state */
    uint8_t tcp_state;    /* enum vg_tcp_state */
    uint8_t flags;        /* VG_FLOW_F_* */
    uint8_t tcp_flags[2]; /* union of TCP flags seen per direction */
    uint8_t timeout_class;
    uint8_t in_use;
    uint8_t icmp_type; /* of the first packet, for the record's Community ID */
    uint8_t icmp_code;
    uint8_t app_proto; /* enum vg_app_proto, as the worker's app layer knows it */
    uint8_t behaviour; /* VG_BEHAVIOUR_* bits of the behaviour detectors (vigil/behaviour.h) */
    struct vg_flow_vars vars;
    /* The tunnel the first packet came in (see struct vg_packet), its outer
     * addresses and ports turned to read client to server. */
    uint8_t tunnel_type;
    uint8_t encap_depth;
    uint8_t tunnel_family;
    uint8_t tunnel_proto;
    uint16_t tunnel_sport;
    uint16_t tunnel_dport;
    struct vg_ip_addr tunnel_src;
    struct vg_ip_addr tunnel_dst;
    /* table links (indices into the table's array; UINT32_MAX = none) */
    uint32_t bucket_next;
    uint32_t lru_prev;
    uint32_t lru_next;
};

/* Timeouts in seconds, per protocol class and state. */
struct vg_flow_timeouts {
    uint32_t tcp[3]; /* new, established, closed */
    uint32_t udp[3];
    uint32_t icmp[3];
    uint32_t other[3];
};

/* Suricata's defaults. */
void vg_flow_timeouts_default(struct vg_flow_timeouts *t);

struct vg_flow_table_stats {
    uint64_t created;
    uint64_t ended_timeout;
    uint64_t ended_forced; /* evicted because the table was full */
    uint64_t ended_shutdown;
    uint64_t active;
    uint64_t max_active;
    uint64_t tcp_midstream; /* TCP flows started without a SYN */
};

struct vg_flow_table;

/* Called for every flow that ends, before its slot is reused. */
typedef void (*vg_flow_end_fn)(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                               uint64_t now_us);

/* Allocates a table for max_flows flows (all memory up front). NULL on
 * allocation failure. */
struct vg_flow_table *vg_flow_table_new(uint32_t max_flows, const struct vg_flow_timeouts *t,
                                        vg_flow_end_fn on_end, void *user);
void vg_flow_table_free(struct vg_flow_table *t);

/* Finds or creates the flow of a decoded packet, updates its counters, TCP
 * state and time, and sets *dir. A flow found timed out (by packet time) is
 * ended first and a new one starts. When the table is full the least
 * recently seen flow is ended with VG_FLOW_END_FORCED to make room.
 * Returns NULL only for packets that carry no flow (non-IP). */
struct vg_flow *vg_flow_table_packet(struct vg_flow_table *t, const struct vg_packet *p,
                                     enum vg_flow_dir *dir);

/* Ends every flow whose timeout expired at now_us. Call as packet time
 * advances (the worker does this once per second of packet time). */
void vg_flow_table_expire(struct vg_flow_table *t, uint64_t now_us);

/* Ends every remaining flow with the given reason (shutdown at exit). */
void vg_flow_table_flush(struct vg_flow_table *t, enum vg_flow_end_reason why, uint64_t now_us);

const struct vg_flow_table_stats *vg_flow_table_stats(const struct vg_flow_table *t);

/* A flow's slot number, 0 .. max_flows-1: later stages keep per-flow state
 * (stream reassembly, app-layer) in arrays indexed by it. */
uint32_t vg_flow_table_index(const struct vg_flow_table *t, const struct vg_flow *f);
uint32_t vg_flow_table_capacity(const struct vg_flow_table *t);

/* Client and server endpoints of a flow, for records. */
void vg_flow_endpoints(const struct vg_flow *f, struct vg_ip_addr *client, uint16_t *client_port,
                       struct vg_ip_addr *server, uint16_t *server_port);

/* Names for EVE: "new", "established", "closed"; "timeout", "forced", "shutdown". */
const char *vg_flow_state_name(enum vg_flow_state s);
const char *vg_flow_end_reason_name(enum vg_flow_end_reason r);

#endif
