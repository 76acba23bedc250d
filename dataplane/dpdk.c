/* DPDK capture: EAL, ports, queues and mbuf pools, and the poll-mode loops
 * that feed vg_worker_packet.
 *
 * Two layouts, chosen at start:
 *  - direct: each worker lcore polls its own RX queue of every capture port
 *    and decodes in place on the mbuf. With more than one worker this needs
 *    RSS on IP addresses with a symmetric key (0x6d5a repeated), so both
 *    directions of a flow and its IP fragments land on the same queue index.
 *  - software dispatch: when a port has no such RSS (most vdevs), one lcore
 *    polls every port, decodes into the mbuf's private area, and hands the
 *    mbuf to the worker that owns its address pair (vg_packet_dispatch_hash)
 *    through a single-producer single-consumer rte_ring.
 * Tap forwarding sends every received packet, unchanged, out of the paired
 * port first: the mbuf's reference count is raised, tx_burst takes what the
 * queue has room for, and the rest is released and counted.
 *
 * Packet time is the wall clock, read from the TSC once per burst and
 * re-anchored on CLOCK_REALTIME once a second; or, with
 * dpdk.packet-time: capture, the time net_pcap stores with each packet (the
 * capture file's timestamps), for replaying a capture exactly as -r would. */
#include "dpdk.h"
#include "live.h"
#include "vigil/config.h"
#include "vigil/flow.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_mempool.h>
#include <rte_pause.h>
#include <rte_prefetch.h>
#include <rte_ring.h>

#define DP_MAX_PORTS   32
#define DP_BURST_MAX   256
#define DP_PREFETCH    4
#define DP_SECOND_US   1000000ull
#define DP_RSS_KEY_MAX 128

/* Ring entries that are not mbufs: mbufs are cache-line aligned, so the two
 * low bits tell a marker, and the rest carries a packet time. */
#define DP_MARK_TICK 1u
#define DP_MARK_END  2u
#define DP_MARK_MASK 3u

enum dp_packet_time {
    DP_TIME_WALL,
    DP_TIME_CAPTURE,
};

_Static_assert(DP_MAX_PORTS <= VG_LIVE_MAX_PORTS, "the stats thread reads every port");

struct dp_port {
    char name[RTE_ETH_NAME_MAX_LEN];
    char driver[32];
    uint16_t id;
    bool capture; /* polled for packets */
    bool rss;     /* hardware RSS on IP addresses */
    int tap_to;   /* index into vg_dpdk.ports, or -1 */
    int socket;
    uint16_t nrxq, ntxq;
    uint16_t rx_desc, tx_desc;
    uint32_t mtu; /* 0: the PMD's default */
    bool promisc;
    bool started;
    uint16_t nqstats; /* queues with per-queue xstats ids resolved */
    uint64_t xid_packets[VG_PORT_MAX_QUEUES];
    uint64_t xid_errors[VG_PORT_MAX_QUEUES];
};

struct dp_rxq {
    uint16_t port_idx; /* index into vg_dpdk.ports */
    uint16_t port_id;
    uint16_t queue;
    bool tap;
    uint16_t tap_port_id;
    uint16_t tap_queue;
};

/* What a polling lcore counts; all uint64_t so it can be published. */
struct dp_counters {
    uint64_t packets;
    uint64_t bytes;
    uint64_t oversize;
    uint64_t ring_full;
    uint64_t tap_sent[DP_MAX_PORTS]; /* by receiving port */
    uint64_t tap_dropped[DP_MAX_PORTS];
    uint64_t anomalies_dropped; /* decoder anomaly ring full (live) */
    uint64_t first_us;          /* wall time the first packet arrived */
    uint64_t last_us;           /* direct layout: wall time the last packet was analysed */
};

/* Wall clock from the TSC: anchored on CLOCK_REALTIME once a second, so no
 * per-packet call and no drift. */
struct dp_clock {
    uint64_t hz;
    uint64_t base_tsc;
    uint64_t base_us;
    uint64_t next_tsc; /* next re-anchoring (and per-second work) */
};

/* A polling lcore: a worker in the direct layout, or the dispatcher. */
struct dp_poller {
    struct vg_dpdk *d;
    struct vg_worker *w;          /* direct layout: the worker this lcore runs */
    struct vg_event_ring *events; /* decoder anomalies, drained by the exporter */
    unsigned lcore;
    unsigned nrxq;
    struct dp_rxq rxq[DP_MAX_PORTS];
    uint64_t last_ts_us; /* packet-time capture: latest packet time */
    uint64_t last_tick_sec;
    struct dp_counters ctr;
    struct vg_decode_stats dec;
    struct dp_counters pub_ctr;
    struct vg_decode_stats pub_dec;
    /* dispatcher: a batch per worker */
    void **batch;
    uint16_t *nbatch;
} __rte_cache_aligned;

/* A worker fed through a ring (software dispatch). */
struct dp_worker {
    struct vg_dpdk *d;
    struct vg_worker *w;
    unsigned lcore;
    struct rte_ring *ring;
    uint64_t last_us;     /* wall time the last packet was analysed */
    uint64_t pub_last_us; /* last_us as of the last publication */
} __rte_cache_aligned;

struct vg_dpdk {
    struct vg_decode_config decode;
    enum dp_packet_time ptime;
    bool software_dispatch;
    unsigned nworkers;
    unsigned burst;
    unsigned ring_size;
    uint32_t event_ring_size;
    unsigned link_wait_s;
    uint64_t mempool_size; /* 0: computed */
    unsigned mempool_cache;
    unsigned nports;
    struct dp_port ports[DP_MAX_PORTS];
    struct rte_mempool *pools[RTE_MAX_NUMA_NODES];
    unsigned npollers;
    struct dp_poller *pollers;
    struct dp_worker *workers;
    unsigned lcores[RTE_MAX_LCORE];
    unsigned nlcores;
    int ts_offset; /* mbuf timestamp dynfield, or -1 */
    bool launched;
    atomic_bool stop;
    char label[256];
};

/* ---- small helpers ---- */

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * DP_SECOND_US + (uint64_t)ts.tv_nsec / 1000u;
}

static void clock_anchor(struct dp_clock *c, uint64_t tsc)
{
    c->base_us = wall_us();
    c->base_tsc = tsc;
    c->next_tsc = tsc + c->hz;
}

static void clock_init(struct dp_clock *c)
{
    c->hz = rte_get_tsc_hz();
    if (c->hz == 0)
        c->hz = 1;
    clock_anchor(c, rte_rdtsc());
}

static inline uint64_t clock_now_us(const struct dp_clock *c, uint64_t tsc)
{
    return c->base_us + (tsc - c->base_tsc) * DP_SECOND_US / c->hz;
}

static inline uint64_t *mbuf_ts(const struct vg_dpdk *d, struct rte_mbuf *m)
{
    return RTE_MBUF_DYNFIELD(m, d->ts_offset, uint64_t *);
}

static void poller_publish(struct dp_poller *pl)
{
    vg_counters_publish(&pl->pub_ctr, &pl->ctr, sizeof(pl->ctr));
    vg_counters_publish(&pl->pub_dec, &pl->dec, sizeof(pl->dec));
}

/* Sends every packet of the burst out of the paired port as well. Never
 * waits: what the TX queue has no room for is released and counted. */
static inline void tap_forward(struct dp_poller *pl, const struct dp_rxq *q, struct rte_mbuf **pkts,
                               uint16_t n)
{
    for (uint16_t i = 0; i < n; i++)
        rte_mbuf_refcnt_update(pkts[i], 1);
    uint16_t sent = rte_eth_tx_burst(q->tap_port_id, q->tap_queue, pkts, n);
    if (VG_UNLIKELY(sent < n)) {
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
        pl->ctr.tap_dropped[q->port_idx] += n - sent;
    }
    pl->ctr.tap_sent[q->port_idx] += sent;
}

/* A decoder anomaly becomes an EVE record, as with -r. Checksum errors only
 * count: a mirror port sees NIC-offloaded checksums on every packet. Live,
 * a full ring drops the record; replaying a capture, the lcore waits. */
static void poller_anomaly(struct dp_poller *pl, const struct vg_packet *p)
{
    unsigned ev = (unsigned)p->decode_event - 1;
    if (ev == VG_DEC_IPV4_BAD_CHECKSUM || ev == VG_DEC_TCP_BAD_CHECKSUM ||
        ev == VG_DEC_UDP_BAD_CHECKSUM || ev == VG_DEC_ICMP_BAD_CHECKSUM)
        return;
    struct vg_event e;
    memset(&e, 0, sizeof(e));
    e.type = VG_EVENT_ANOMALY;
    e.ts_us = p->ts_us;
    vg_event_tuple_from_packet(&e.tuple, p);
    e.u.anomaly.kind = VG_ANOMALY_DECODE;
    e.u.anomaly.event = (uint16_t)ev;
    while (!vg_event_ring_push(pl->events, &e)) {
        if (pl->d->ptime != DP_TIME_CAPTURE) {
            pl->ctr.anomalies_dropped++;
            return;
        }
        rte_pause();
    }
}

/* Fills the decoded view of one mbuf (in place: p points into the mbuf's
 * data). Returns 0 when the packet is to be analysed. */
static inline int decode_mbuf(struct dp_poller *pl, struct rte_mbuf *m, struct vg_packet *p,
                              uint64_t ts_us)
{
    pl->ctr.packets++;
    pl->ctr.bytes += m->pkt_len;
    if (VG_UNLIKELY(m->nb_segs != 1)) {
        /* Mbufs are sized from the MTU; a longer frame is counted and
         * skipped, as a file reader skips records larger than its ring. */
        pl->ctr.oversize++;
        return -1;
    }
    memset(p, 0, sizeof(*p));
    p->data = rte_pktmbuf_mtod(m, const uint8_t *);
    p->caplen = m->data_len;
    p->wirelen = m->pkt_len;
    p->ts_us = ts_us;
    int rc = vg_decode_ex(p, VG_LINK_ETHERNET, &pl->d->decode, &pl->dec);
    if (VG_UNLIKELY(p->decode_event != 0))
        poller_anomaly(pl, p);
    return rc;
}

/* ---- the direct layout: one lcore per worker, polling its own queues ---- */

static int direct_main(void *arg)
{
    struct dp_poller *pl = arg;
    struct vg_dpdk *d = pl->d;
    struct vg_worker *w = pl->w;
    const bool capture_time = d->ptime == DP_TIME_CAPTURE;
    const uint16_t burst = (uint16_t)d->burst;
    struct rte_mbuf *pkts[DP_BURST_MAX];
    struct dp_clock clk;
    clock_init(&clk);

    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        vg_worker_quiescent(w);
        uint64_t tsc = rte_rdtsc();
        if (VG_UNLIKELY(tsc >= clk.next_tsc)) {
            clock_anchor(&clk, tsc);
            if (!capture_time)
                vg_worker_tick(w, clk.base_us);
            poller_publish(pl);
            vg_worker_publish(w);
        }
        bool idle = true;
        for (unsigned r = 0; r < pl->nrxq; r++) {
            const struct dp_rxq *q = &pl->rxq[r];
            uint16_t n = rte_eth_rx_burst(q->port_id, q->queue, pkts, burst);
            if (n == 0)
                continue;
            idle = false;
            if (q->tap)
                tap_forward(pl, q, pkts, n);
            uint64_t rx_us = clock_now_us(&clk, rte_rdtsc());
            if (VG_UNLIKELY(pl->ctr.first_us == 0))
                pl->ctr.first_us = rx_us;
            uint64_t now_us = capture_time ? 0 : rx_us;
            for (uint16_t i = 0; i < n; i++) {
                if (i + DP_PREFETCH < n)
                    rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH], void *));
                struct rte_mbuf *m = pkts[i];
                if (capture_time) {
                    /* As the file reader does: the clock moves with every
                     * packet, decodable or not. */
                    now_us = *mbuf_ts(d, m);
                    if (now_us > pl->last_ts_us)
                        pl->last_ts_us = now_us;
                    uint64_t sec = pl->last_ts_us / DP_SECOND_US;
                    if (sec != pl->last_tick_sec) {
                        pl->last_tick_sec = sec;
                        vg_worker_tick(w, pl->last_ts_us);
                    }
                }
                struct vg_packet p;
                if (decode_mbuf(pl, m, &p, now_us) == 0)
                    vg_worker_packet(w, &p);
            }
            rte_pktmbuf_free_bulk(pkts, n);
            pl->ctr.last_us = clock_now_us(&clk, rte_rdtsc());
        }
        if (idle)
            rte_pause();
    }
    uint64_t end_us = capture_time ? pl->last_ts_us : clock_now_us(&clk, rte_rdtsc());
    vg_worker_finish(w, end_us);
    poller_publish(pl);
    vg_worker_publish(w);
    atomic_store(&w->finished, true);
    return 0;
}

/* ---- the software dispatch layout ---- */

/* Queues a marker on one worker's ring, waiting for room: markers are few
 * and a worker always drains its ring. */
static void ring_mark(struct dp_worker *dw, unsigned kind, uint64_t ts_us)
{
    void *mark = (void *)(uintptr_t)((ts_us << 2) | kind);
    while (rte_ring_sp_enqueue(dw->ring, mark) != 0)
        rte_pause();
}

/* Hands each worker its batch. Live, what a full ring cannot take is
 * dropped and counted; replaying a capture (packet-time capture), the
 * dispatcher waits, so the result does not depend on timing. */
static void dispatch_flush(struct dp_poller *pl)
{
    struct vg_dpdk *d = pl->d;
    for (unsigned i = 0; i < d->nworkers; i++) {
        uint16_t n = pl->nbatch[i];
        if (n == 0)
            continue;
        void **objs = pl->batch + (size_t)i * d->burst;
        unsigned done = rte_ring_sp_enqueue_burst(d->workers[i].ring, objs, n, NULL);
        while (done < n && d->ptime == DP_TIME_CAPTURE) {
            rte_pause();
            done += rte_ring_sp_enqueue_burst(d->workers[i].ring, objs + done, n - done, NULL);
        }
        if (VG_UNLIKELY(done < n)) {
            rte_pktmbuf_free_bulk((struct rte_mbuf **)(objs + done), n - done);
            pl->ctr.ring_full += n - done;
        }
        pl->nbatch[i] = 0;
    }
}

static int dispatch_main(void *arg)
{
    struct dp_poller *pl = arg;
    struct vg_dpdk *d = pl->d;
    const bool capture_time = d->ptime == DP_TIME_CAPTURE;
    const uint16_t burst = (uint16_t)d->burst;
    const unsigned nworkers = d->nworkers;
    struct rte_mbuf *pkts[DP_BURST_MAX];
    struct rte_mbuf *unused[DP_BURST_MAX];
    struct dp_clock clk;
    clock_init(&clk);

    while (!atomic_load_explicit(&d->stop, memory_order_relaxed)) {
        uint64_t tsc = rte_rdtsc();
        if (VG_UNLIKELY(tsc >= clk.next_tsc)) {
            clock_anchor(&clk, tsc);
            poller_publish(pl);
        }
        bool idle = true;
        for (unsigned r = 0; r < pl->nrxq; r++) {
            const struct dp_rxq *q = &pl->rxq[r];
            uint16_t n = rte_eth_rx_burst(q->port_id, q->queue, pkts, burst);
            if (n == 0)
                continue;
            idle = false;
            if (q->tap)
                tap_forward(pl, q, pkts, n);
            uint64_t rx_us = clock_now_us(&clk, rte_rdtsc());
            if (VG_UNLIKELY(pl->ctr.first_us == 0))
                pl->ctr.first_us = rx_us;
            uint64_t now_us = capture_time ? 0 : rx_us;
            uint16_t nunused = 0;
            for (uint16_t i = 0; i < n; i++) {
                if (i + DP_PREFETCH < n)
                    rte_prefetch0(rte_pktmbuf_mtod(pkts[i + DP_PREFETCH], void *));
                struct rte_mbuf *m = pkts[i];
                if (capture_time) {
                    now_us = *mbuf_ts(d, m);
                    if (now_us > pl->last_ts_us)
                        pl->last_ts_us = now_us;
                    uint64_t sec = pl->last_ts_us / DP_SECOND_US;
                    if (sec != pl->last_tick_sec) {
                        /* A new second of packet time reaches every worker
                         * after the packets before it, as with -r. */
                        pl->last_tick_sec = sec;
                        dispatch_flush(pl);
                        for (unsigned k = 0; k < nworkers; k++)
                            ring_mark(&d->workers[k], DP_MARK_TICK, pl->last_ts_us);
                    }
                }
                struct vg_packet *p = rte_mbuf_to_priv(m);
                if (decode_mbuf(pl, m, p, now_us) != 0) {
                    unused[nunused++] = m;
                    continue;
                }
                unsigned wi = 0;
                if (nworkers > 1)
                    wi = (unsigned)(((uint64_t)vg_packet_dispatch_hash(p) * nworkers) >> 32);
                pl->batch[(size_t)wi * d->burst + pl->nbatch[wi]++] = m;
            }
            dispatch_flush(pl);
            if (nunused > 0)
                rte_pktmbuf_free_bulk(unused, nunused);
        }
        if (idle)
            rte_pause();
    }
    uint64_t end_us = capture_time ? pl->last_ts_us : 0;
    for (unsigned k = 0; k < nworkers; k++)
        ring_mark(&d->workers[k], DP_MARK_END, end_us);
    poller_publish(pl);
    return 0;
}

static int ring_worker_main(void *arg)
{
    struct dp_worker *dw = arg;
    struct vg_dpdk *d = dw->d;
    struct vg_worker *w = dw->w;
    const bool capture_time = d->ptime == DP_TIME_CAPTURE;
    void *objs[DP_BURST_MAX];
    struct rte_mbuf *done[DP_BURST_MAX];
    struct dp_clock clk;
    clock_init(&clk);
    bool end = false;
    uint64_t end_us = 0;

    while (!end) {
        vg_worker_quiescent(w);
        uint64_t tsc = rte_rdtsc();
        if (VG_UNLIKELY(tsc >= clk.next_tsc)) {
            clock_anchor(&clk, tsc);
            if (!capture_time)
                vg_worker_tick(w, clk.base_us);
            vg_worker_publish(w);
            __atomic_store_n(&dw->pub_last_us, dw->last_us, __ATOMIC_RELAXED);
        }
        unsigned n = rte_ring_sc_dequeue_burst(dw->ring, objs, d->burst, NULL);
        if (n == 0) {
            rte_pause();
            continue;
        }
        unsigned ndone = 0;
        for (unsigned i = 0; i < n; i++) {
            uintptr_t v = (uintptr_t)objs[i];
            if (VG_UNLIKELY(v & DP_MARK_MASK)) {
                if ((v & DP_MARK_MASK) == DP_MARK_TICK) {
                    vg_worker_tick(w, (uint64_t)v >> 2);
                } else {
                    end = true;
                    end_us = (uint64_t)v >> 2;
                }
                continue;
            }
            if (i + 1 < n && !(((uintptr_t)objs[i + 1]) & DP_MARK_MASK)) {
                struct rte_mbuf *next = objs[i + 1];
                rte_prefetch0(rte_mbuf_to_priv(next));
                rte_prefetch0(rte_pktmbuf_mtod(next, void *));
            }
            struct rte_mbuf *m = objs[i];
            vg_worker_packet(w, rte_mbuf_to_priv(m));
            done[ndone++] = m;
        }
        if (ndone > 0) {
            rte_pktmbuf_free_bulk(done, ndone);
            dw->last_us = clock_now_us(&clk, rte_rdtsc());
        }
    }
    if (!capture_time)
        end_us = clock_now_us(&clk, rte_rdtsc());
    vg_worker_finish(w, end_us);
    vg_worker_publish(w);
    __atomic_store_n(&dw->pub_last_us, dw->last_us, __ATOMIC_RELAXED);
    atomic_store(&w->finished, true);
    return 0;
}

/* ---- start-up ---- */

static bool hugepages_reserved(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL)
        return true;
    char line[256];
    unsigned long total = 0;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "HugePages_Total: %lu", &total) == 1)
            break;
    fclose(f);
    return total > 0;
}

static bool args_have(int argc, char **argv, const char *opt)
{
    size_t n = strlen(opt);
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], opt, n) == 0)
            return true;
    return false;
}

static int eal_init(const struct vg_dpdk_opts *o, char *err, size_t errlen)
{
    /* argv[0], EAL's start-up chatter kept to warnings (the user's own
     * --log-level comes later and wins), then the user's arguments. */
    int argc = o->eal_argc + 1;
    char **argv = calloc((size_t)argc + 1, sizeof(*argv));
    if (argv == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    static char quiet[] = "--log-level=lib.eal:warning";
    argv[0] = o->eal_argv[0];
    argv[1] = quiet;
    for (int i = 1; i < o->eal_argc; i++)
        argv[i + 1] = o->eal_argv[i];
    rte_errno = 0;
    int rc = rte_eal_init(argc, argv);
    int e = rte_errno;
    free(argv);
    if (rc >= 0)
        return 0;
    bool no_huge = args_have(o->eal_argc, o->eal_argv, "--no-huge");
    switch (e) {
    case EACCES:
        if (!no_huge && !hugepages_reserved())
            snprintf(err, errlen,
                     "DPDK found no hugepages: reserve some (e.g. echo 1024 > "
                     "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages) or run without "
                     "them with the EAL option --no-huge (vigil --dpdk --no-huge ... --; -m MB "
                     "sets how much memory EAL takes)");
        else
            snprintf(err, errlen,
                     "DPDK: permission denied (hugepages, devices: run as root or give access)");
        break;
    case EINVAL:
        snprintf(err, errlen,
                 "bad EAL arguments (see the EAL usage above); vigil's own options go after "
                 "'--': vigil --dpdk [EAL args] -- [vigil args]");
        break;
    case ENODEV:
    case ENOENT:
        snprintf(err, errlen, "EAL cannot parse a device argument (see the EAL message above)");
        break;
    case ENOMEM:
        snprintf(err, errlen,
                 "EAL cannot reserve its memory: give more with -m MB (or --socket-mem), or "
                 "reserve more hugepages");
        break;
    default:
        snprintf(err, errlen,
                 "EAL initialisation failed (see the EAL messages above%s%s); if another DPDK "
                 "process runs, give this one its own --file-prefix=NAME, or --no-shconf",
                 e ? ": " : "", e ? rte_strerror(e) : "");
        break;
    }
    return -1;
}

/* Counts the configuration keys under a prefix. */
static void count_key(void *user, const char *key, const char *value)
{
    (void)key;
    (void)value;
    (*(unsigned *)user)++;
}

static unsigned keys_under(const struct vg_config *cfg, const char *prefix)
{
    unsigned n = 0;
    vg_config_foreach(cfg, prefix, count_key, &n);
    return n;
}

static void list_ports(char *buf, size_t len)
{
    buf[0] = '\0';
    size_t used = 0;
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid)
    {
        char name[RTE_ETH_NAME_MAX_LEN];
        if (rte_eth_dev_get_name_by_port(pid, name) != 0)
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (used == 0)
        snprintf(buf, len, "none");
}

/* A port by name; a name with devargs ("net_pcap0,rx_pcap=x.pcap") that EAL
 * was not given is probed now. */
static int find_port(const char *name, uint16_t *id)
{
    if (rte_eth_dev_get_port_by_name(name, id) == 0)
        return 0;
    const char *comma = strchr(name, ',');
    if (comma == NULL)
        return -1;
    if (rte_dev_probe(name) != 0)
        return -1;
    char base[RTE_ETH_NAME_MAX_LEN];
    snprintf(base, sizeof(base), "%.*s", (int)(comma - name), name);
    return rte_eth_dev_get_port_by_name(base, id);
}

static int port_index(struct vg_dpdk *d, uint16_t id)
{
    for (unsigned i = 0; i < d->nports; i++)
        if (d->ports[i].id == id)
            return (int)i;
    return -1;
}

/* Adds a port (or finds it when already there). Returns its index, -1 when
 * the table is full. */
static int add_port(struct vg_dpdk *d, uint16_t id)
{
    int idx = port_index(d, id);
    if (idx >= 0)
        return idx;
    if (d->nports == DP_MAX_PORTS)
        return -1;
    struct dp_port *p = &d->ports[d->nports];
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->tap_to = -1;
    p->promisc = true;
    rte_eth_dev_get_name_by_port(id, p->name);
    /* Names end up in JSON and messages: keep them plain. */
    for (char *c = p->name; *c; c++)
        if (!(*c == '_' || *c == '-' || *c == '.' || *c == ':' || (*c >= '0' && *c <= '9') ||
              (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')))
            *c = '_';
    int s = rte_eth_dev_socket_id(id);
    p->socket = s >= 0 ? s : (int)rte_socket_id();
    if (p->socket < 0 || p->socket >= RTE_MAX_NUMA_NODES)
        p->socket = 0;
    struct rte_eth_dev_info info;
    if (rte_eth_dev_info_get(id, &info) == 0 && info.driver_name != NULL)
        snprintf(p->driver, sizeof(p->driver), "%s", info.driver_name);
    return (int)d->nports++;
}

static int cfg_u64(const struct vg_config *cfg, const char *key, uint64_t def, uint64_t max,
                   uint64_t *out, char *err, size_t errlen)
{
    if (vg_config_get_u64(cfg, key, def, out, err, errlen) != 0)
        return -1;
    if (*out > max) {
        snprintf(err, errlen, "%s: %llu is more than %llu", key, (unsigned long long)*out,
                 (unsigned long long)max);
        return -1;
    }
    return 0;
}

/* Reads dpdk.ports (a list of names, or of maps with interface, tap-to,
 * rx-queues, rx-descriptors, tx-descriptors, mtu, promisc), or takes every
 * port EAL probed when the list is absent. */
static int load_ports(struct vg_dpdk *d, const struct vg_config *cfg, uint64_t rx_desc,
                      uint64_t tx_desc, uint64_t *rxq_wanted, char *err, size_t errlen)
{
    char known[512];
    list_ports(known, sizeof(known));
    *rxq_wanted = 0;
    for (unsigned n = 0; n < DP_MAX_PORTS; n++) {
        char key[128], prefix[64];
        snprintf(prefix, sizeof(prefix), "dpdk.ports.%u.", n);
        snprintf(key, sizeof(key), "dpdk.ports.%u", n);
        const char *name = vg_config_get(cfg, key);
        if (name == NULL) {
            if (keys_under(cfg, prefix) == 0)
                break;
            snprintf(key, sizeof(key), "dpdk.ports.%u.interface", n);
            name = vg_config_get(cfg, key);
            if (name == NULL || name[0] == '\0') {
                snprintf(err, errlen, "dpdk.ports.%u: no interface (a PCI address or a vdev name)",
                         n);
                return -1;
            }
        }
        uint16_t id;
        if (find_port(name, &id) != 0) {
            snprintf(err, errlen,
                     "%s: no DPDK port '%s' (EAL has: %s); give EAL the device (-a PCI-ADDRESS "
                     "for a NIC bound to vfio-pci, --vdev=... for a virtual device)",
                     key, name, known);
            return -1;
        }
        int idx = add_port(d, id);
        if (idx < 0) {
            snprintf(err, errlen, "dpdk.ports: more than %d ports", DP_MAX_PORTS);
            return -1;
        }
        struct dp_port *p = &d->ports[idx];
        if (p->capture) {
            snprintf(err, errlen, "%s: port '%s' is listed twice", key, name);
            return -1;
        }
        p->capture = true;
        uint64_t v;
        snprintf(key, sizeof(key), "dpdk.ports.%u.rx-descriptors", n);
        if (cfg_u64(cfg, key, rx_desc, 65535, &v, err, errlen) != 0)
            return -1;
        p->rx_desc = (uint16_t)v;
        snprintf(key, sizeof(key), "dpdk.ports.%u.tx-descriptors", n);
        if (cfg_u64(cfg, key, tx_desc, 65535, &v, err, errlen) != 0)
            return -1;
        p->tx_desc = (uint16_t)v;
        snprintf(key, sizeof(key), "dpdk.ports.%u.mtu", n);
        if (cfg_u64(cfg, key, 0, 65000, &v, err, errlen) != 0)
            return -1;
        p->mtu = (uint32_t)v;
        snprintf(key, sizeof(key), "dpdk.ports.%u.promisc", n);
        if (vg_config_get_bool(cfg, key, true, &p->promisc, err, errlen) != 0)
            return -1;
        snprintf(key, sizeof(key), "dpdk.ports.%u.rx-queues", n);
        if (cfg_u64(cfg, key, 0, RTE_MAX_QUEUES_PER_PORT, &v, err, errlen) != 0)
            return -1;
        if (v != 0) {
            if (*rxq_wanted != 0 && *rxq_wanted != v) {
                snprintf(err, errlen,
                         "%s: every port needs the same number of RX queues (worker i polls "
                         "queue i of every port, so both directions of a flow meet)",
                         key);
                return -1;
            }
            *rxq_wanted = v;
        }
        snprintf(key, sizeof(key), "dpdk.ports.%u.tap-to", n);
        const char *tap = vg_config_get(cfg, key);
        if (tap != NULL && tap[0] != '\0') {
            uint16_t tid;
            if (find_port(tap, &tid) != 0) {
                snprintf(err, errlen, "%s: no DPDK port '%s' (EAL has: %s)", key, tap, known);
                return -1;
            }
            if (tid == id) {
                snprintf(err, errlen, "%s: a port cannot tap to itself", key);
                return -1;
            }
            int tidx = add_port(d, tid);
            if (tidx < 0) {
                snprintf(err, errlen, "dpdk.ports: more than %d ports", DP_MAX_PORTS);
                return -1;
            }
            d->ports[idx].tap_to = tidx;
        }
    }
    if (d->nports == 0) {
        /* No list: every port EAL probed is a capture port. */
        uint16_t pid;
        RTE_ETH_FOREACH_DEV(pid)
        {
            int idx = add_port(d, pid);
            if (idx < 0)
                break;
            d->ports[idx].capture = true;
            d->ports[idx].rx_desc = (uint16_t)rx_desc;
            d->ports[idx].tx_desc = (uint16_t)tx_desc;
        }
    }
    unsigned ncapture = 0;
    for (unsigned i = 0; i < d->nports; i++) {
        ncapture += d->ports[i].capture;
        if (!d->ports[i].capture) {
            /* a tap output only: the global descriptor counts */
            d->ports[i].rx_desc = (uint16_t)rx_desc;
            d->ports[i].tx_desc = (uint16_t)tx_desc;
        }
    }
    if (ncapture == 0) {
        snprintf(err, errlen,
                 "no DPDK ports to capture from: EAL has %s (a device that failed to start "
                 "is named in EAL's messages above). Bind a NIC to vfio-pci and "
                 "give it with -a PCI-ADDRESS, or give a virtual device such as "
                 "--vdev=net_pcap0,rx_pcap=FILE.pcap or --vdev=net_af_packet0,iface=eth0; "
                 "list ports under dpdk.ports in the configuration",
                 strcmp(known, "none") == 0 ? "none" : known);
        return -1;
    }
    return 0;
}

/* Chooses the layout and the worker count from the lcores and the ports'
 * RSS. */
static int plan_workers(struct vg_dpdk *d, unsigned want, uint64_t rxq_wanted, const char *dispatch,
                        char *err, size_t errlen)
{
    unsigned spare = rte_lcore_count() > 0 ? rte_lcore_count() - 1 : 0;
    if (spare == 0) {
        snprintf(err, errlen,
                 "DPDK needs at least two lcores, the main one and one per worker: give EAL "
                 "-l 0-1 (or --lcores)");
        return -1;
    }
    bool all_rss = true;
    for (unsigned i = 0; i < d->nports; i++) {
        struct dp_port *p = &d->ports[i];
        if (!p->capture)
            continue;
        struct rte_eth_dev_info info;
        if (rte_eth_dev_info_get(p->id, &info) != 0 ||
            (info.flow_type_rss_offloads & RTE_ETH_RSS_IP) == 0 || info.max_rx_queues < 2)
            all_rss = false;
    }
    bool force_sw = strcmp(dispatch, "software") == 0;
    if (!force_sw && strcmp(dispatch, "auto") != 0) {
        snprintf(err, errlen, "dpdk.dispatch: '%s' is neither auto nor software", dispatch);
        return -1;
    }
    bool hw = all_rss && !force_sw;
    unsigned n = want;
    if (n == 0 && rxq_wanted != 0)
        n = (unsigned)rxq_wanted;
    if (n == 0)
        n = hw ? spare : (spare >= 3 ? spare - 1 : 1);
    if (rxq_wanted != 0 && rxq_wanted != n) {
        snprintf(err, errlen,
                 "dpdk.ports.N.rx-queues (%llu) must equal the number of workers (%u): worker i "
                 "polls queue i of every port",
                 (unsigned long long)rxq_wanted, n);
        return -1;
    }
    d->nworkers = n;
    d->software_dispatch = n > 1 && !hw;
    if (d->software_dispatch && rxq_wanted > 1) {
        snprintf(err, errlen,
                 "dpdk.ports.N.rx-queues: the ports have no RSS on IP addresses, so one lcore "
                 "reads one queue per port and dispatches in software");
        return -1;
    }
    unsigned need = n + (d->software_dispatch ? 1 : 0);
    if (need > spare) {
        snprintf(err, errlen,
                 "%u worker%s%s: %u lcores besides the main one, and EAL has %u; give EAL more "
                 "(-l 0-%u, or --lcores) or fewer --workers",
                 n, n == 1 ? "" : "s",
                 d->software_dispatch ? " and the software dispatch lcore (the ports have no RSS)"
                                      : "",
                 need, spare, need);
        return -1;
    }
    unsigned lc;
    d->nlcores = 0;
    RTE_LCORE_FOREACH_WORKER(lc)
    {
        d->lcores[d->nlcores++] = lc;
    }
    d->npollers = d->software_dispatch ? 1 : n;
    for (unsigned i = 0; i < d->nports; i++) {
        struct dp_port *p = &d->ports[i];
        if (p->capture)
            p->nrxq = (uint16_t)(d->software_dispatch || n == 1 ? 1 : n);
        p->rss = p->capture && !d->software_dispatch && n > 1;
    }
    for (unsigned i = 0; i < d->nports; i++)
        if (d->ports[i].capture && d->ports[i].tap_to >= 0)
            d->ports[d->ports[i].tap_to].ntxq = (uint16_t)d->npollers;
    return 0;
}

/* Mbuf data room for a port: a whole frame in one mbuf. */
static unsigned port_data_room(const struct dp_port *p)
{
    unsigned frame =
        p->mtu ? p->mtu + RTE_ETHER_HDR_LEN + RTE_ETHER_CRC_LEN + 8 : RTE_ETHER_MAX_LEN + 8;
    unsigned room = RTE_PKTMBUF_HEADROOM + frame;
    room = RTE_ALIGN_CEIL(room, 64);
    return room < RTE_MBUF_DEFAULT_BUF_SIZE ? RTE_MBUF_DEFAULT_BUF_SIZE : room;
}

static int make_pools(struct vg_dpdk *d, char *err, size_t errlen)
{
    for (int s = 0; s < RTE_MAX_NUMA_NODES; s++) {
        uint64_t need = 0;
        unsigned room = 0;
        bool used = false;
        for (unsigned i = 0; i < d->nports; i++) {
            const struct dp_port *p = &d->ports[i];
            if (p->socket != s)
                continue;
            used = true;
            need += (uint64_t)p->nrxq * p->rx_desc + (uint64_t)p->ntxq * p->tx_desc;
            unsigned r = port_data_room(p);
            if (r > room)
                room = r;
        }
        if (!used)
            continue;
        if (room > UINT16_MAX) {
            snprintf(err, errlen,
                     "an MTU that large needs mbufs over 64 KB: lower dpdk.ports.N.mtu");
            return -1;
        }
        /* What the rings, the lcore caches and the bursts in flight hold. */
        if (d->software_dispatch)
            need += (uint64_t)d->nworkers * d->ring_size;
        need += (uint64_t)(d->nlcores + 1) * (d->mempool_cache * 3 / 2 + 2 * d->burst) + 1024;
        uint64_t n = d->mempool_size;
        if (n == 0) {
            n = 1;
            while (n < need + 1)
                n <<= 1;
            n -= 1; /* 2^k - 1 mbufs is the mempool's most compact size */
        }
        unsigned cache = d->mempool_cache;
        if (cache > RTE_MEMPOOL_CACHE_MAX_SIZE)
            cache = RTE_MEMPOOL_CACHE_MAX_SIZE;
        if (cache > n / 2)
            cache = (unsigned)(n / 2);
        uint16_t priv = d->software_dispatch
                            ? RTE_ALIGN_CEIL(sizeof(struct vg_packet), RTE_MBUF_PRIV_ALIGN)
                            : 0;
        char name[RTE_MEMPOOL_NAMESIZE];
        snprintf(name, sizeof(name), "vg_mbuf_s%d", s);
        d->pools[s] = rte_pktmbuf_pool_create(name, (unsigned)n, cache, priv, (uint16_t)room, s);
        if (d->pools[s] == NULL) {
            unsigned long long mb =
                (unsigned long long)n * (room + priv + sizeof(struct rte_mbuf) + 64) >> 20;
            snprintf(err, errlen,
                     "cannot allocate %llu mbufs of %u bytes (about %llu MB) on NUMA socket %d: "
                     "%s; give EAL more memory (-m MB or --socket-mem; --no-huge alone gives "
                     "64 MB; with hugepages, reserve more) or set a smaller dpdk.mempool-size",
                     (unsigned long long)n, room, mb, s, rte_strerror(rte_errno));
            return -1;
        }
    }
    return 0;
}

static int configure_port(struct vg_dpdk *d, struct dp_port *p, char *err, size_t errlen)
{
    struct rte_eth_dev_info info;
    int rc = rte_eth_dev_info_get(p->id, &info);
    if (rc != 0) {
        snprintf(err, errlen, "port %s: cannot read its capabilities: %s", p->name,
                 rte_strerror(-rc));
        return -1;
    }
    if (p->nrxq > info.max_rx_queues && p->capture) {
        snprintf(err, errlen, "port %s: %u RX queues wanted, the device offers %u", p->name,
                 p->nrxq, info.max_rx_queues);
        return -1;
    }
    if (p->ntxq > info.max_tx_queues) {
        snprintf(err, errlen,
                 "port %s: tap forwarding needs one TX queue per polling lcore (%u), the "
                 "device offers %u (net_af_packet: give qpairs=%u)",
                 p->name, p->ntxq, info.max_tx_queues, p->ntxq);
        return -1;
    }
    if (p->mtu != 0 && (p->mtu > info.max_mtu || p->mtu < info.min_mtu)) {
        snprintf(err, errlen, "port %s: MTU %u is outside what the device takes (%u-%u)", p->name,
                 p->mtu, info.min_mtu, info.max_mtu);
        return -1;
    }
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof(conf));
    conf.rxmode.mtu = p->mtu;
    uint8_t key[DP_RSS_KEY_MAX];
    if (p->rss) {
        /* 0x6d5a repeated makes Toeplitz symmetric; IP fields only, so
         * fragments hash with their flow, as vg_packet_dispatch_hash does. */
        unsigned klen = info.hash_key_size ? info.hash_key_size : 40;
        if (klen > sizeof(key))
            klen = sizeof(key);
        for (unsigned i = 0; i < klen; i++)
            key[i] = (i & 1) ? 0x5a : 0x6d;
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = key;
        conf.rx_adv_conf.rss_conf.rss_key_len = (uint8_t)klen;
        conf.rx_adv_conf.rss_conf.rss_hf = RTE_ETH_RSS_IP & info.flow_type_rss_offloads;
    }
    uint16_t nrxq = p->capture ? p->nrxq : 0;
    rc = rte_eth_dev_configure(p->id, nrxq, p->ntxq, &conf);
    if (rc != 0 && nrxq == 0) {
        /* Some devices want an RX queue even when only sending. */
        nrxq = 1;
        rc = rte_eth_dev_configure(p->id, nrxq, p->ntxq, &conf);
    }
    if (rc != 0) {
        snprintf(err, errlen, "port %s: configuration refused: %s", p->name, rte_strerror(-rc));
        return -1;
    }
    uint16_t rxd = p->rx_desc, txd = p->tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(p->id, &rxd, &txd);
    struct rte_mempool *pool = d->pools[p->socket];
    for (uint16_t q = 0; q < nrxq; q++) {
        rc = rte_eth_rx_queue_setup(p->id, q, rxd, (unsigned)p->socket, NULL, pool);
        if (rc != 0) {
            snprintf(err, errlen, "port %s: RX queue %u: %s", p->name, q, rte_strerror(-rc));
            return -1;
        }
    }
    for (uint16_t q = 0; q < p->ntxq; q++) {
        rc = rte_eth_tx_queue_setup(p->id, q, txd, (unsigned)p->socket, NULL);
        if (rc != 0) {
            snprintf(err, errlen, "port %s: TX queue %u: %s", p->name, q, rte_strerror(-rc));
            return -1;
        }
    }
    return 0;
}

static int make_pollers(struct vg_dpdk *d, char *err, size_t errlen)
{
    d->pollers = rte_zmalloc("vg_pollers", sizeof(*d->pollers) * d->npollers, RTE_CACHE_LINE_SIZE);
    d->workers = rte_zmalloc("vg_workers", sizeof(*d->workers) * d->nworkers, RTE_CACHE_LINE_SIZE);
    if (d->pollers == NULL || d->workers == NULL)
        goto oom;
    for (unsigned i = 0; i < d->npollers; i++) {
        struct dp_poller *pl = &d->pollers[i];
        pl->d = d;
        pl->events = vg_event_ring_new(d->event_ring_size);
        if (pl->events == NULL)
            goto oom;
        for (unsigned k = 0; k < d->nports; k++) {
            const struct dp_port *p = &d->ports[k];
            if (!p->capture || i >= p->nrxq)
                continue;
            struct dp_rxq *q = &pl->rxq[pl->nrxq++];
            q->port_idx = (uint16_t)k;
            q->port_id = p->id;
            q->queue = (uint16_t)i;
            if (p->tap_to >= 0) {
                q->tap = true;
                q->tap_port_id = d->ports[p->tap_to].id;
                q->tap_queue = (uint16_t)i;
            }
        }
    }
    if (d->software_dispatch) {
        struct dp_poller *pl = &d->pollers[0];
        pl->batch = rte_zmalloc("vg_batch", sizeof(void *) * d->burst * d->nworkers, 0);
        pl->nbatch = rte_zmalloc("vg_nbatch", sizeof(uint16_t) * d->nworkers, 0);
        if (pl->batch == NULL || pl->nbatch == NULL)
            goto oom;
        for (unsigned i = 0; i < d->nworkers; i++) {
            char name[RTE_RING_NAMESIZE];
            snprintf(name, sizeof(name), "vg_worker_%u", i);
            unsigned lc = d->lcores[i];
            int socket = (int)rte_lcore_to_socket_id(lc);
            d->workers[i].ring =
                rte_ring_create(name, d->ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
            if (d->workers[i].ring == NULL) {
                snprintf(err, errlen,
                         "cannot create the ring of worker %u (%u entries): %s; give EAL more "
                         "memory (-m MB) or a smaller dpdk.worker-ring-size",
                         i, d->ring_size, rte_strerror(rte_errno));
                return -1;
            }
        }
    }
    return 0;
oom:
    snprintf(err, errlen, "DPDK: out of memory for the polling state (give EAL more with -m MB)");
    return -1;
}

struct vg_dpdk *vg_dpdk_open(const struct vg_dpdk_opts *o, unsigned *nworkers, char *err,
                             size_t errlen)
{
    const struct vg_config *cfg = o->cfg;
    uint64_t rx_desc, tx_desc, burst, ring_size, link_wait, pool, cache;
    if (cfg_u64(cfg, "dpdk.rx-descriptors", 1024, 65535, &rx_desc, err, errlen) ||
        cfg_u64(cfg, "dpdk.tx-descriptors", 1024, 65535, &tx_desc, err, errlen) ||
        cfg_u64(cfg, "dpdk.burst-size", 32, DP_BURST_MAX, &burst, err, errlen) ||
        cfg_u64(cfg, "dpdk.worker-ring-size", 1024, 1u << 24, &ring_size, err, errlen) ||
        cfg_u64(cfg, "dpdk.link-wait", 10, 3600, &link_wait, err, errlen) ||
        cfg_u64(cfg, "dpdk.mempool-cache-size", 256, 512, &cache, err, errlen))
        return NULL;
    const char *pool_s = vg_config_get(cfg, "dpdk.mempool-size");
    if (pool_s == NULL || strcmp(pool_s, "auto") == 0)
        pool = 0;
    else if (cfg_u64(cfg, "dpdk.mempool-size", 0, UINT32_MAX, &pool, err, errlen) != 0)
        return NULL;
    if (burst == 0 || ring_size < 2 || (ring_size & (ring_size - 1)) != 0) {
        snprintf(err, errlen,
                 "dpdk.burst-size must be 1-%d and dpdk.worker-ring-size a power of two",
                 DP_BURST_MAX);
        return NULL;
    }
    const char *ptime = vg_config_get(cfg, "dpdk.packet-time");
    enum dp_packet_time pt = DP_TIME_WALL;
    if (ptime != NULL && strcmp(ptime, "capture") == 0)
        pt = DP_TIME_CAPTURE;
    else if (ptime != NULL && strcmp(ptime, "wall") != 0) {
        snprintf(err, errlen, "dpdk.packet-time: '%s' is neither wall nor capture", ptime);
        return NULL;
    }
    const char *dispatch = vg_config_get(cfg, "dpdk.dispatch");

    if (eal_init(o, err, errlen) != 0)
        return NULL;
    struct vg_dpdk *d = rte_zmalloc("vg_dpdk", sizeof(*d), RTE_CACHE_LINE_SIZE);
    if (d == NULL) {
        snprintf(err, errlen, "DPDK: out of memory (give EAL more with -m MB)");
        rte_eal_cleanup();
        return NULL;
    }
    d->decode = o->decode;
    d->event_ring_size = o->event_ring_size ? o->event_ring_size : 1;
    d->ptime = pt;
    d->burst = (unsigned)burst;
    d->ring_size = (unsigned)ring_size;
    d->link_wait_s = (unsigned)link_wait;
    d->mempool_size = pool;
    d->mempool_cache = (unsigned)cache;
    d->ts_offset = -1;
    atomic_init(&d->stop, false);

    uint64_t rxq_wanted;
    if (load_ports(d, cfg, rx_desc, tx_desc, &rxq_wanted, err, errlen) != 0 ||
        plan_workers(d, o->workers, rxq_wanted, dispatch ? dispatch : "auto", err, errlen) != 0)
        goto fail;
    if (d->ptime == DP_TIME_CAPTURE) {
        for (unsigned i = 0; i < d->nports; i++) {
            if (d->ports[i].capture && strcmp(d->ports[i].driver, "net_pcap") != 0) {
                snprintf(err, errlen,
                         "dpdk.packet-time: capture replays a capture file's time: every port "
                         "must be net_pcap with rx_pcap=FILE, and %s is %s",
                         d->ports[i].name, d->ports[i].driver);
                goto fail;
            }
        }
        d->ts_offset = rte_mbuf_dynfield_lookup(RTE_MBUF_DYNFIELD_TIMESTAMP_NAME, NULL);
        if (d->ts_offset < 0) {
            snprintf(err, errlen, "dpdk.packet-time: capture: the ports give no timestamps");
            goto fail;
        }
    }
    if (make_pools(d, err, errlen) != 0)
        goto fail;
    for (unsigned i = 0; i < d->nports; i++)
        if (configure_port(d, &d->ports[i], err, errlen) != 0)
            goto fail;
    if (make_pollers(d, err, errlen) != 0)
        goto fail;

    size_t used = 0;
    for (unsigned i = 0; i < d->nports; i++) {
        if (!d->ports[i].capture)
            continue;
        int n = snprintf(d->label + used, sizeof(d->label) - used, "%s%s", used ? "," : "",
                         d->ports[i].name);
        if (n < 0 || (size_t)n >= sizeof(d->label) - used)
            break;
        used += (size_t)n;
    }
    *nworkers = d->nworkers;
    return d;
fail:
    vg_dpdk_close(d);
    return NULL;
}

static void resolve_queue_xstats(struct dp_port *p)
{
    p->nqstats = 0;
    for (uint16_t q = 0; q < p->nrxq && q < VG_PORT_MAX_QUEUES; q++) {
        char name[RTE_ETH_XSTATS_NAME_SIZE];
        snprintf(name, sizeof(name), "rx_q%u_packets", q);
        if (rte_eth_xstats_get_id_by_name(p->id, name, &p->xid_packets[q]) != 0)
            return;
        snprintf(name, sizeof(name), "rx_q%u_errors", q);
        if (rte_eth_xstats_get_id_by_name(p->id, name, &p->xid_errors[q]) != 0)
            return;
        p->nqstats = (uint16_t)(q + 1);
    }
}

static bool link_up(uint16_t id)
{
    struct rte_eth_link link;
    memset(&link, 0, sizeof(link));
    return rte_eth_link_get_nowait(id, &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

int vg_dpdk_start(struct vg_dpdk *d, struct vg_worker *workers, char *err, size_t errlen)
{
    for (unsigned i = 0; i < d->nports; i++) {
        struct dp_port *p = &d->ports[i];
        int rc = rte_eth_dev_start(p->id);
        if (rc != 0) {
            snprintf(err, errlen, "port %s: cannot start: %s", p->name, rte_strerror(-rc));
            return -1;
        }
        p->started = true;
        if (p->capture && p->promisc) {
            rc = rte_eth_promiscuous_enable(p->id);
            if (rc != 0 && rc != -ENOTSUP)
                fprintf(stderr, "vigil: port %s: cannot enable promiscuous mode: %s\n", p->name,
                        rte_strerror(-rc));
        }
        resolve_queue_xstats(p);
    }
    /* Links come up a while after start: wait a bounded time, then go on
     * (packets flow once the link is up). */
    uint64_t deadline = wall_us() + (uint64_t)d->link_wait_s * DP_SECOND_US;
    for (;;) {
        bool all = true;
        for (unsigned i = 0; i < d->nports; i++)
            all = all && link_up(d->ports[i].id);
        if (all || wall_us() >= deadline || vg_stop_requested())
            break;
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    for (unsigned i = 0; i < d->nports; i++)
        if (!link_up(d->ports[i].id))
            fprintf(stderr, "vigil: warning: port %s: link still down after %u s; going on\n",
                    d->ports[i].name, d->link_wait_s);

    for (unsigned i = 0; i < d->nworkers; i++) {
        d->workers[i].d = d;
        d->workers[i].w = &workers[i];
        d->workers[i].lcore = d->lcores[i];
    }
    for (unsigned i = 0; i < d->npollers; i++) {
        d->pollers[i].w = d->software_dispatch ? NULL : &workers[i];
        d->pollers[i].lcore = d->software_dispatch ? d->lcores[d->nworkers] : d->lcores[i];
        for (unsigned r = 0; r < d->pollers[i].nrxq; r++) {
            int ps = d->ports[d->pollers[i].rxq[r].port_idx].socket;
            int ls = (int)rte_lcore_to_socket_id(d->pollers[i].lcore);
            if (ps != ls)
                fprintf(stderr,
                        "vigil: warning: lcore %u (NUMA socket %d) polls port %s on socket %d: "
                        "every packet crosses sockets; choose lcores with -l\n",
                        d->pollers[i].lcore, ls, d->ports[d->pollers[i].rxq[r].port_idx].name, ps);
        }
    }
    d->launched = true;
    unsigned launched = 0;
    if (d->software_dispatch) {
        for (; launched < d->nworkers; launched++)
            if (rte_eal_remote_launch(ring_worker_main, &d->workers[launched],
                                      d->workers[launched].lcore) != 0)
                goto launch_failed;
        if (rte_eal_remote_launch(dispatch_main, &d->pollers[0], d->pollers[0].lcore) != 0)
            goto launch_failed;
    } else {
        for (unsigned i = 0; i < d->npollers; i++)
            if (rte_eal_remote_launch(direct_main, &d->pollers[i], d->pollers[i].lcore) != 0)
                goto launch_failed;
    }
    return 0;
launch_failed:
    snprintf(err, errlen, "cannot launch the DPDK lcores");
    /* No dispatcher will end the ring workers that started: do it here. */
    if (d->software_dispatch)
        for (unsigned i = 0; i < launched; i++)
            ring_mark(&d->workers[i], DP_MARK_END, 0);
    vg_dpdk_stop(d);
    return -1;
}

void vg_dpdk_stop(struct vg_dpdk *d)
{
    if (d == NULL || !d->launched)
        return;
    atomic_store_explicit(&d->stop, true, memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    d->launched = false;
}

void vg_dpdk_read_counters(void *ctx, struct vg_capture_counters *cap, struct vg_decode_stats *dec)
{
    struct vg_dpdk *d = ctx;
    memset(cap, 0, sizeof(*cap));
    memset(dec, 0, sizeof(*dec));
    for (unsigned i = 0; i < d->npollers; i++) {
        struct dp_counters c;
        struct vg_decode_stats ds;
        vg_counters_read(&c, &d->pollers[i].pub_ctr, sizeof(c));
        vg_counters_read(&ds, &d->pollers[i].pub_dec, sizeof(ds));
        cap->packets += c.packets;
        cap->bytes += c.bytes;
        cap->oversize += c.oversize;
        cap->ring_full += c.ring_full;
        cap->anomalies_dropped += c.anomalies_dropped;
        for (unsigned k = 0; k < DP_MAX_PORTS; k++) {
            cap->tap_sent += c.tap_sent[k];
            cap->tap_dropped += c.tap_dropped[k];
        }
        vg_decode_stats_add(dec, &ds);
        if (c.first_us != 0 && (cap->first_us == 0 || c.first_us < cap->first_us))
            cap->first_us = c.first_us;
        if (c.last_us > cap->last_us)
            cap->last_us = c.last_us;
    }
    for (unsigned i = 0; d->software_dispatch && i < d->nworkers; i++) {
        uint64_t last = __atomic_load_n(&d->workers[i].pub_last_us, __ATOMIC_RELAXED);
        if (last > cap->last_us)
            cap->last_us = last;
    }
    for (unsigned i = 0; i < d->nports; i++) {
        const struct dp_port *p = &d->ports[i];
        struct rte_eth_stats st;
        if (!p->capture || rte_eth_stats_get(p->id, &st) != 0)
            continue;
        cap->kernel_packets += st.ipackets + st.imissed + st.rx_nombuf;
        cap->kernel_drops += st.imissed + st.rx_nombuf;
        cap->nic_missed += st.imissed;
        cap->nic_nombuf += st.rx_nombuf;
        cap->errors += st.ierrors;
    }
}

unsigned vg_dpdk_port_stats(void *ctx, struct vg_port_summary *out, unsigned max)
{
    struct vg_dpdk *d = ctx;
    unsigned n = d->nports < max ? d->nports : max;
    for (unsigned i = 0; i < n; i++) {
        const struct dp_port *p = &d->ports[i];
        struct vg_port_summary *o = &out[i];
        memset(o, 0, sizeof(*o));
        snprintf(o->name, sizeof(o->name), "%s", p->name);
        snprintf(o->driver, sizeof(o->driver), "%s", p->driver);
        o->capture = p->capture;
        o->tap_to = p->tap_to;
        o->nqueues = p->capture ? p->nrxq : 0;
        o->link_up = link_up(p->id);
        struct rte_eth_stats st;
        if (rte_eth_stats_get(p->id, &st) == 0) {
            o->ipackets = st.ipackets;
            o->ibytes = st.ibytes;
            o->imissed = st.imissed;
            o->ierrors = st.ierrors;
            o->rx_nombuf = st.rx_nombuf;
            o->opackets = st.opackets;
            o->oerrors = st.oerrors;
            for (unsigned q = 0; q < o->nqueues && q < VG_PORT_MAX_QUEUES; q++) {
                o->q_ipackets[q] = q < RTE_ETHDEV_QUEUE_STAT_CNTRS ? st.q_ipackets[q] : 0;
                o->q_errors[q] = q < RTE_ETHDEV_QUEUE_STAT_CNTRS ? st.q_errors[q] : 0;
            }
        }
        if (p->nqstats > 0) {
            uint64_t ids[2 * VG_PORT_MAX_QUEUES], vals[2 * VG_PORT_MAX_QUEUES];
            for (unsigned q = 0; q < p->nqstats; q++) {
                ids[2 * q] = p->xid_packets[q];
                ids[2 * q + 1] = p->xid_errors[q];
            }
            if (rte_eth_xstats_get_by_id(p->id, ids, vals, 2u * p->nqstats) ==
                (int)(2 * p->nqstats)) {
                for (unsigned q = 0; q < p->nqstats; q++) {
                    o->q_ipackets[q] = vals[2 * q];
                    o->q_errors[q] = vals[2 * q + 1];
                }
            }
        }
        for (unsigned k = 0; k < d->npollers; k++) {
            struct dp_counters c;
            vg_counters_read(&c, &d->pollers[k].pub_ctr, sizeof(c));
            o->tap_sent += c.tap_sent[i];
            o->tap_dropped += c.tap_dropped[i];
        }
    }
    return n;
}

unsigned vg_dpdk_event_rings(struct vg_dpdk *d, struct vg_event_ring **out, unsigned max)
{
    for (unsigned i = 0; out != NULL && i < d->npollers && i < max; i++)
        out[i] = d->pollers[i].events;
    return d->npollers;
}

const char *vg_dpdk_label(const struct vg_dpdk *d)
{
    return d->label;
}

void vg_dpdk_close(struct vg_dpdk *d)
{
    if (d == NULL)
        return;
    vg_dpdk_stop(d);
    for (unsigned i = 0; i < d->nports; i++) {
        if (d->ports[i].started)
            rte_eth_dev_stop(d->ports[i].id);
        rte_eth_dev_close(d->ports[i].id);
    }
    if (d->workers != NULL)
        for (unsigned i = 0; i < d->nworkers; i++)
            rte_ring_free(d->workers[i].ring);
    if (d->pollers != NULL && d->npollers > 0) {
        rte_free(d->pollers[0].batch);
        rte_free(d->pollers[0].nbatch);
        for (unsigned i = 0; i < d->npollers; i++)
            vg_event_ring_free(d->pollers[i].events);
    }
    rte_free(d->pollers);
    rte_free(d->workers);
    for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
        rte_mempool_free(d->pools[s]);
    rte_free(d);
    rte_eal_cleanup();
}
