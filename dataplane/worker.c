/* The worker loop: one per core, owning a packet ring, a flow table, a
 * detection context and an event ring. Nothing here locks, allocates, makes
 * a system call or logs per packet (the backoff only runs when idle). */
#include "dataplane_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define SECOND_US 1000000ull

void vg_backoff(unsigned *spins)
{
    if (*spins < 64) {
        (*spins)++;
        __builtin_ia32_pause();
        return;
    }
    struct timespec ts = {0, 50 * 1000};
    nanosleep(&ts, NULL);
}

static void worker_emit(struct vg_worker *w, const struct vg_event *ev)
{
    unsigned spins = 0;
    while (!vg_event_ring_push(w->events, ev)) {
        if (!w->offline) {
            w->st.events_dropped++;
            return;
        }
        w->st.event_waits++;
        vg_backoff(&spins);
    }
}

static void tuple_from_packet(struct vg_event_tuple *t, const struct vg_packet *p)
{
    memset(t, 0, sizeof(*t));
    t->src = p->src;
    t->dst = p->dst;
    t->family = p->family;
    t->proto = p->proto;
    t->vlan_count = p->vlan_count;
    for (unsigned i = 0; i < p->vlan_count && i < VG_MAX_VLAN; i++)
        t->vlan[i] = p->vlan[i];
    t->icmp_type = p->icmp_type;
    t->icmp_code = p->icmp_code;
    if ((p->flags & VG_PKT_HAS_L4) && (p->proto == 6 || p->proto == 17 || p->proto == 132)) {
        t->has_ports = 1;
        t->sport = p->sport;
        t->dport = p->dport;
    }
}

/* Called by the flow table for every flow that ends. */
void vg_worker_flow_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                        uint64_t now_us)
{
    (void)now_us;
    struct vg_worker *w = user;
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_FLOW;
    ev.ts_us = f->last_us;
    ev.flow_id = f->flow_id;
    struct vg_event_tuple *t = &ev.tuple;
    vg_flow_endpoints(f, &t->src, &t->sport, &t->dst, &t->dport);
    t->family = f->key.family;
    t->proto = f->key.proto;
    for (unsigned i = 0; i < VG_MAX_VLAN; i++) {
        t->vlan[i] = f->key.vlan[i];
        if (f->key.vlan[i] != 0)
            t->vlan_count = (uint8_t)(i + 1);
    }
    t->has_ports = f->key.proto == 6 || f->key.proto == 17 || f->key.proto == 132;
    t->icmp_type = f->icmp_type;
    t->icmp_code = f->icmp_code;
    struct vg_event_flow *fl = &ev.u.flow;
    fl->pkts_toserver = f->pkts[VG_DIR_TOSERVER];
    fl->pkts_toclient = f->pkts[VG_DIR_TOCLIENT];
    fl->bytes_toserver = f->bytes[VG_DIR_TOSERVER];
    fl->bytes_toclient = f->bytes[VG_DIR_TOCLIENT];
    fl->start_us = f->start_us;
    fl->end_us = f->last_us;
    fl->state = f->state;
    fl->reason = (uint8_t)why;
    fl->alerted = (f->flags & VG_FLOW_F_ALERTED) != 0;
    fl->tcp_state = f->tcp_state;
    fl->tcp_flags_ts = f->tcp_flags[VG_DIR_TOSERVER];
    fl->tcp_flags_tc = f->tcp_flags[VG_DIR_TOCLIENT];
    worker_emit(w, &ev);
}

struct alert_ctx {
    struct vg_worker *w;
    const struct vg_packet *p;
    struct vg_flow *flow;
    enum vg_flow_dir dir;
};

static void worker_alert(void *user, const struct vg_rule_meta *rule)
{
    struct alert_ctx *a = user;
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ALERT;
    ev.ts_us = a->p->ts_us;
    ev.pcap_cnt = a->p->pcap_cnt;
    tuple_from_packet(&ev.tuple, a->p);
    ev.u.alert.rule = rule;
    if (a->flow != NULL) {
        ev.flow_id = a->flow->flow_id;
        ev.u.alert.has_flow = 1;
        ev.u.alert.to_server = a->dir == VG_DIR_TOSERVER;
        a->flow->flags |= VG_FLOW_F_ALERTED;
    }
    a->w->st.alerts++;
    worker_emit(a->w, &ev);
}

/* Moves this worker's clock to now_us and expires flows once per second of
 * packet time. Every worker expires at the same packet times whatever the
 * worker count, because the reader broadcasts a tick at each new second. */
static void worker_advance_clock(struct vg_worker *w, uint64_t now_us)
{
    if (now_us <= w->clock_us)
        return;
    w->clock_us = now_us;
    if (now_us >= w->next_expire_us) {
        vg_flow_table_expire(w->flows, now_us);
        w->next_expire_us = (now_us / SECOND_US + 1) * SECOND_US;
    }
}

static uint32_t flow_detect_flags(struct vg_flow *f, enum vg_flow_dir dir)
{
    if (f->state == VG_FLOW_STATE_ESTABLISHED)
        f->flags |= VG_FLOW_F_WAS_ESTABLISHED;
    uint32_t flags = VG_DF_HAS_FLOW | (dir == VG_DIR_TOSERVER ? VG_DF_TOSERVER : VG_DF_TOCLIENT);
    /* Like Suricata, a TCP session stays established while it closes. */
    if (f->state == VG_FLOW_STATE_ESTABLISHED ||
        (f->state == VG_FLOW_STATE_CLOSED && (f->flags & VG_FLOW_F_WAS_ESTABLISHED)))
        flags |= VG_DF_ESTABLISHED;
    return flags;
}

void vg_worker_packet(struct vg_worker *w, struct vg_packet *p)
{
    worker_advance_clock(w, p->ts_us);
    w->st.packets++;
    w->st.bytes += p->wirelen;

    struct alert_ctx a = {.w = w, .p = p, .flow = NULL, .dir = VG_DIR_TOSERVER};
    uint32_t flags = 0;
    if (VG_UNLIKELY(p->flags & VG_PKT_FRAGMENT)) {
        /* Without reassembly a fragment has no trustworthy ports: inspect it
         * as an IP packet, outside any flow. */
        w->st.fragments_unreassembled++;
    } else {
        a.flow = vg_flow_table_packet(w->flows, p, &a.dir);
        if (a.flow != NULL) {
            if (a.flow->pkts[0] + a.flow->pkts[1] == 1) {
                a.flow->icmp_type = p->icmp_type;
                a.flow->icmp_code = p->icmp_code;
            }
            flags = flow_detect_flags(a.flow, a.dir);
        }
    }
    if (w->detect != NULL)
        vg_detect_packet(w->detect, p, flags, worker_alert, &a);
}

void vg_worker_tick(struct vg_worker *w, uint64_t now_us)
{
    worker_advance_clock(w, now_us);
}

void vg_worker_finish(struct vg_worker *w, uint64_t now_us)
{
    worker_advance_clock(w, now_us);
    vg_flow_table_flush(w->flows, VG_FLOW_END_SHUTDOWN, w->clock_us);
}

int vg_worker_config_load(struct vg_worker_config *wc, const struct vg_config *cfg, char *err,
                          size_t errlen)
{
    memset(wc, 0, sizeof(*wc));
    struct vg_flow_timeouts *t = &wc->timeouts;
    vg_flow_timeouts_default(t);
    static const char *const states[3] = {"new", "established", "closed"};
    struct {
        const char *name;
        uint32_t *v;
    } protos[] = {{"tcp", t->tcp}, {"udp", t->udp}, {"icmp", t->icmp}, {"default", t->other}};
    for (size_t p = 0; p < VG_ARRAY_SIZE(protos); p++) {
        for (int s = 0; s < 3; s++) {
            char key[128];
            snprintf(key, sizeof(key), "flow-timeouts.%s.%s", protos[p].name, states[s]);
            uint64_t v;
            if (vg_config_get_u64(cfg, key, protos[p].v[s], &v, err, errlen) != 0)
                return -1;
            protos[p].v[s] = (uint32_t)(v > UINT32_MAX ? UINT32_MAX : v);
        }
    }
    if (vg_config_get_size(cfg, "flow.memcap", 128ull << 20, &wc->flow_memcap, err, errlen) ||
        vg_config_get_size(cfg, "capture.ring-size", 16ull << 20, &wc->ring_bytes, err, errlen) ||
        vg_config_get_u64(cfg, "event-ring.size", 65536, &wc->event_ring_size, err, errlen))
        return -1;
    if (wc->event_ring_size == 0 || wc->event_ring_size > (1u << 30)) {
        snprintf(err, errlen, "event-ring.size: must be between 1 and 2^30");
        return -1;
    }
    return 0;
}

int vg_worker_init(struct vg_worker *w, unsigned id, unsigned nworkers,
                   const struct vg_worker_config *wc, const struct vg_ruleset *rs, bool offline)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    w->offline = offline;
    uint64_t flow_cost = sizeof(struct vg_flow) + 2 * sizeof(uint32_t);
    uint64_t flows = wc->flow_memcap / flow_cost / (nworkers ? nworkers : 1);
    if (flows < 1024)
        flows = 1024;
    if (flows > UINT32_MAX / 2)
        flows = UINT32_MAX / 2;
    w->ring = vg_pktring_new(wc->ring_bytes);
    w->events = vg_event_ring_new((uint32_t)wc->event_ring_size);
    w->flows = vg_flow_table_new((uint32_t)flows, &wc->timeouts, vg_worker_flow_end, w);
    w->detect = vg_detect_ctx_new(rs);
    if (!w->ring || !w->events || !w->flows || !w->detect)
        return -1;
    return 0;
}

void vg_worker_destroy(struct vg_worker *w)
{
    vg_pktring_free(w->ring);
    vg_event_ring_free(w->events);
    vg_flow_table_free(w->flows);
    vg_detect_ctx_free(w->detect);
    memset(w, 0, sizeof(*w));
}

void *vg_worker_main(void *arg)
{
    struct vg_worker *w = arg;
    unsigned spins = 0;
    for (;;) {
        uint32_t len, kind;
        void *rec = (void *)vg_pktring_peek(w->ring, &len, &kind);
        if (rec == NULL) {
            vg_backoff(&spins);
            continue;
        }
        spins = 0;
        if (VG_LIKELY(kind == VG_REC_PACKET)) {
            struct vg_packet *p = rec;
            vg_packet_rebase(p, (const uint8_t *)(p + 1));
            vg_worker_packet(w, p);
        } else if (kind == VG_REC_TICK) {
            uint64_t ts;
            memcpy(&ts, rec, sizeof(ts));
            vg_worker_tick(w, ts);
        } else if (kind == VG_REC_END) {
            uint64_t ts;
            memcpy(&ts, rec, sizeof(ts));
            vg_pktring_release(w->ring);
            vg_worker_finish(w, ts);
            break;
        }
        vg_pktring_release(w->ring);
    }
    atomic_store(&w->finished, true);
    return NULL;
}
