/* Dataplane internals shared by the reader, the workers and the runtime. */
#ifndef VIGIL_DATAPLANE_INT_H
#define VIGIL_DATAPLANE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil/applayer.h"
#include "vigil/behaviour.h"
#include "vigil/config.h"
#include "vigil/dataplane.h"
#include "vigil/defrag.h"
#include "vigil/stream.h"
#include "vigil/detect.h"
#include "vigil/event.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

struct vg_worker_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t alerts;
    uint64_t events_dropped; /* event ring full in live mode */
    uint64_t event_waits;    /* event ring full in offline mode: the worker waited */
    uint64_t fragments_unreassembled;
    uint64_t stream_inspect_full; /* a reassembled direction found no stream-matching state:
                                     its packets are matched one by one instead */
    /* The detection context's own counters, copied in at each publish (live
     * stats events); the exit summary reads the context directly. */
    uint64_t pcre_limit_hits;
    uint64_t flowbits_refused;
    uint64_t stream_windows_too_short;
    uint64_t stream_pending_overflow;
    uint64_t stream_undecided_at_close;
    uint64_t stream_looks_deferred;
};

/* Everything a worker needs from the configuration, read once at start. */
struct vg_worker_config {
    struct vg_flow_timeouts timeouts;
    uint64_t flow_memcap;           /* flow.memcap, split evenly between workers */
    uint64_t ring_bytes;            /* capture.ring-size: packet ring per worker */
    uint64_t event_ring_size;       /* event-ring.size: events queued per worker */
    struct vg_decode_config decode; /* decoder.* (tunnel ports) and -k */
    bool defrag_enabled;            /* defrag.enabled */
    struct vg_defrag_config defrag; /* defrag.*: memcap and trackers split between workers */
    bool stream_enabled;            /* stream.reassembly.enabled */
    struct vg_stream_config stream; /* stream.*: memcap and pool split between workers */
    uint64_t inspect_streams;       /* stream.inspect-streams: directions matched at once */
    struct vg_applayer_config app;  /* app-layer.*: caps split between workers */
};

/* Reads the worker settings from the configuration. Returns 0, or -1 with a
 * message naming the bad key. */
int vg_worker_config_load(struct vg_worker_config *wc, const struct vg_config *cfg, char *err,
                          size_t errlen);

struct vg_worker {
    unsigned id;
    bool offline; /* wait rather than drop when the event ring is full */
    struct vg_pktring *ring;
    struct vg_event_ring *events;
    struct vg_flow_table *flows;
    struct vg_detect_ctx *detect;
    struct vg_defrag *defrag;       /* NULL when defrag.enabled is off */
    struct vg_stream_table *stream; /* NULL when stream reassembly is off */
    /* Stream detection state per flow slot and direction (2 * slot + dir);
     * NULL when that direction is not matched as a stream. */
    struct vg_detect_stream **dstreams;
    struct vg_applayer *app;        /* NULL when app-layer.enabled is off */
    struct vg_behaviour *behaviour; /* shared by all workers; NULL: no detector */
    struct vg_decode_stats dec;     /* decoding done in this worker (rebuilt datagrams) */
    uint64_t clock_us;              /* packet time as this worker knows it */
    uint64_t next_expire_us;        /* next second boundary at which to expire flows */
    struct vg_worker_stats st;
    pthread_t thread;
    atomic_bool finished;
    /* Quiescent-state counter: the thread running the worker advances it
     * once per loop iteration, between packets and bursts, never inside a
     * lookup; vg_workers_wait_quiescent watches it. */
    _Atomic uint64_t epoch;
    /* Copies of st, dec and the flow table's counters for the stats thread,
     * refreshed once a second by vg_worker_publish. */
    struct vg_worker_stats pub_st;
    struct vg_flow_table_stats pub_flows;
    struct vg_decode_stats pub_dec;
    struct vg_applayer_stats pub_app;
    /* Metadata of the event being built (application objects). */
    uint8_t meta[VG_EVENT_META_MAX];
};

/* Flow table callback: turns an ended flow into a flow event (user is the
 * worker). */
void vg_worker_flow_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                        uint64_t now_us);

/* Allocates everything one worker owns (rings, flow table, detection
 * context) before the first packet. offline: wait rather than drop when the
 * event ring is full. Returns 0, or -1 when memory runs out (then
 * vg_worker_destroy cleans up what was allocated). */
int vg_worker_init(struct vg_worker *w, unsigned id, unsigned nworkers,
                   const struct vg_worker_config *wc, const struct vg_ruleset *rs, bool offline);
void vg_worker_destroy(struct vg_worker *w);

/* Every capture source feeds workers through these three calls, so all
 * backends share one worker path. vg_worker_packet takes a decoded packet
 * (its bytes must stay valid during the call); vg_worker_tick moves the
 * worker's packet clock (flow timeouts) without a packet; vg_worker_finish
 * ends every flow at shutdown. */
void vg_worker_packet(struct vg_worker *w, struct vg_packet *p);
void vg_worker_tick(struct vg_worker *w, uint64_t now_us);
void vg_worker_finish(struct vg_worker *w, uint64_t now_us);

/* Fills an event's addresses, ports, VLAN and tunnel fields from a packet. */
void vg_event_tuple_from_packet(struct vg_event_tuple *t, const struct vg_packet *p);

/* The worker thread body: consumes its ring until a VG_REC_END record. */
void *vg_worker_main(void *arg);

/* Called by the thread running the worker at the top of each loop
 * iteration, idle or not: it holds no dataset contents here. */
static inline void vg_worker_quiescent(struct vg_worker *w)
{
    atomic_store_explicit(&w->epoch, atomic_load_explicit(&w->epoch, memory_order_relaxed) + 1,
                          memory_order_release);
}

/* The workers a dataset reload waits for. */
struct vg_worker_group {
    struct vg_worker *workers;
    unsigned n;
};

/* wait_readers of vg_ruleset_reload_lists (arg: a struct vg_worker_group):
 * returns once every worker has passed a quiescent state after the call
 * began, or has finished. Sleeps in short steps; after 5 s warns on stderr
 * and waits on. Not for the packet path. */
void vg_workers_wait_quiescent(void *arg);

/* Copies the worker's counters into pub_st, pub_flows and pub_dec, where another thread
 * may read them (vg_counters_read). Called by the thread that runs the
 * worker, once a second; after that thread ends, by anyone. */
void vg_worker_publish(struct vg_worker *w);

/* ---- live operation (dataplane/live.c) ---- */

/* Set by SIGINT and SIGTERM: capture stops, rings drain, outputs flush. */
extern atomic_bool vg_stop_flag;
static inline bool vg_stop_requested(void)
{
    return atomic_load_explicit(&vg_stop_flag, memory_order_relaxed);
}
/* Set by SIGHUP in live mode: the dataset lists are read again. */
extern atomic_bool vg_reload_flag;
/* Installs the SIGINT / SIGTERM handlers that set vg_stop_flag, and for
 * SIGHUP: live, the handler that sets vg_reload_flag; offline, ignore it
 * (a capture file has no reload). */
void vg_signals_install(bool live);
/* From the start of a run until vg_signals_install: a SIGHUP (an operator
 * reloading while the rules still load) is remembered, not fatal; a live
 * run serves it once its reload thread starts. */
void vg_signals_hold_reload(void);

/* Counter blocks (structs of uint64_t) copied between threads one 64-bit
 * word at a time with relaxed atomics: each counter is read whole, without
 * a lock; counters of one block may be up to a publication apart. */
void vg_counters_publish(void *dst, const void *src, size_t bytes);
void vg_counters_read(void *dst, const void *src, size_t bytes);

/* Capture-side counters, as the stats event and the summary report them.
 * Every drop before a worker has its own counter. */
struct vg_capture_counters {
    uint64_t packets;           /* handed to vigil by the capture source */
    uint64_t bytes;             /* their on-wire lengths */
    uint64_t kernel_packets;    /* seen by the kernel filter (libpcap) or the NIC (DPDK) */
    uint64_t kernel_drops;      /* lost there: capture buffer full, NIC full, no mbuf */
    uint64_t kernel_ifdrops;    /* libpcap: dropped by the interface */
    uint64_t errors;            /* DPDK: receive errors (ierrors) */
    uint64_t nic_missed;        /* DPDK: imissed, the NIC's queue was full */
    uint64_t nic_nombuf;        /* DPDK: rx_nombuf, no mbuf to receive into */
    uint64_t ring_full;         /* dropped: the worker's ring was full (live only) */
    uint64_t oversize;          /* larger than a ring record, or than one mbuf */
    uint64_t tap_sent;          /* DPDK tap forwarding: sent out of the paired port */
    uint64_t tap_dropped;       /* not sent: the paired port's queue was full */
    uint64_t anomalies_dropped; /* decoder anomaly records lost: their ring was full */
    uint64_t first_us;          /* DPDK: wall time the first packet arrived (0: none yet) */
    uint64_t last_us;           /* DPDK: wall time the last packet was analysed */
};

/* One DPDK port, for the stats event and the summary (no DPDK types, so
 * the summary needs no DPDK header). */
#define VG_PORT_MAX_QUEUES 16
struct vg_port_summary {
    char name[64];
    char driver[32];
    bool capture; /* polled for packets (false: only a tap output) */
    bool link_up;
    uint16_t nqueues;
    int tap_to; /* index of the port every packet is forwarded to, or -1 */
    uint64_t ipackets, ibytes, imissed, ierrors, rx_nombuf, opackets, oerrors;
    uint64_t q_ipackets[VG_PORT_MAX_QUEUES];
    uint64_t q_errors[VG_PORT_MAX_QUEUES];
    uint64_t tap_sent, tap_dropped;
};

/* Waits a little when a ring is empty or full: spin briefly, then sleep, so
 * idle threads do not steal the cores that busy ones need. */
void vg_backoff(unsigned *spins);

/* Reader: reads a capture with libpcap, decodes each packet once and hands it
 * to the worker that owns its flow. */
struct vg_reader_stats {
    uint64_t packets;
    uint64_t bytes;
    uint64_t ring_waits; /* a worker ring was full: the reader waited */
    uint64_t oversize;   /* packet larger than a ring record: counted and skipped */
    uint64_t ring_drops; /* live: a worker ring was full: the packet was dropped */
    uint64_t kernel_packets, kernel_drops, kernel_ifdrops; /* live: pcap_stats() */
    bool truncated;             /* the capture ended in the middle of a record */
    bool interrupted;           /* SIGINT or SIGTERM stopped the read */
    char error[256];            /* libpcap's message when the read stopped early */
    uint64_t anomalies_dropped; /* live mode: anomaly ring full */
};

struct vg_reader {
    const char *path;  /* a capture file, or NULL for live capture from iface */
    const char *iface; /* live: the interface, with bpf, snaplen, buffer_size */
    const char *bpf;
    int snaplen;
    int buffer_size; /* bytes of kernel capture buffer; 0: libpcap's default */
    bool preload;
    bool progress; /* print a progress line on stderr */
    enum vg_checksum_mode csum;
    struct vg_decode_config decode; /* tunnel ports and checksum mode */
    struct vg_event_ring *events;   /* decoder anomalies, drained by the exporter */
    unsigned nworkers;
    struct vg_worker *workers;
    struct vg_decode_stats dec;
    struct vg_reader_stats st;
    uint64_t last_ts_us;
    /* set by vg_reader_open */
    void *pcap; /* pcap_t */
    int linktype;
    void *preload_buf;
    uint64_t file_size;
    /* live: counters for the stats thread, refreshed once a second */
    struct vg_capture_counters pub_cap;
    struct vg_decode_stats pub_dec;
};

/* Opens the capture (and preloads it when asked). Returns 0, or -1 with a
 * message in err. */
int vg_reader_open(struct vg_reader *r, char *err, size_t errlen);

/* Reads every packet and dispatches it; then sends VG_REC_END to every
 * worker. Returns 0 at the end of the file (live: when stopped by a signal),
 * 1 when the read stopped early. Live capture never waits for a worker: a
 * packet whose worker ring is full is dropped and counted. */
int vg_reader_run(struct vg_reader *r);
void vg_reader_close(struct vg_reader *r);

/* The reader's capture counters as of its last publication (any thread). */
void vg_reader_read_counters(void *reader, struct vg_capture_counters *cap,
                             struct vg_decode_stats *dec);

#endif
