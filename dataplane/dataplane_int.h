/* Dataplane internals shared by the reader, the workers and the runtime. */
#ifndef VIGIL_DATAPLANE_INT_H
#define VIGIL_DATAPLANE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vigil/config.h"
#include "vigil/dataplane.h"
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
};

/* Everything a worker needs from the configuration, read once at start. */
struct vg_worker_config {
    struct vg_flow_timeouts timeouts;
    uint64_t flow_memcap;     /* flow.memcap, split evenly between workers */
    uint64_t ring_bytes;      /* capture.ring-size: packet ring per worker */
    uint64_t event_ring_size; /* event-ring.size: events queued per worker */
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
    uint64_t clock_us;       /* packet time as this worker knows it */
    uint64_t next_expire_us; /* next second boundary at which to expire flows */
    struct vg_worker_stats st;
    pthread_t thread;
    atomic_bool finished;
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

/* The worker thread body: consumes its ring until a VG_REC_END record. */
void *vg_worker_main(void *arg);

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
    bool truncated;      /* the capture ended in the middle of a record */
    char error[256];     /* libpcap's message when the read stopped early */
};

struct vg_reader {
    const char *path;
    bool preload;
    bool progress; /* print a progress line on stderr */
    enum vg_checksum_mode csum;
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
};

/* Opens the capture (and preloads it when asked). Returns 0, or -1 with a
 * message in err. */
int vg_reader_open(struct vg_reader *r, char *err, size_t errlen);

/* Reads every packet and dispatches it; then sends VG_REC_END to every
 * worker. Returns 0 at the end of the file, 1 when the read stopped early. */
int vg_reader_run(struct vg_reader *r);
void vg_reader_close(struct vg_reader *r);

#endif
