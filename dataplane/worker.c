/* The worker loop: one per core, owning a packet ring, a flow table, a
 * detection context and an event ring. Nothing here locks, allocates, makes
 * a system call or logs per packet (the backoff only runs when idle). */
#include "dataplane_int.h"

#include "vigil/meta.h"

#include <linux/membarrier.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

static void worker_emit_meta(struct vg_worker *w, const struct vg_event *ev, const uint8_t *meta)
{
    unsigned spins = 0;
    while (!vg_event_ring_push_meta(w->events, ev, meta)) {
        if (!w->offline) {
            w->st.events_dropped++;
            return;
        }
        w->st.event_waits++;
        vg_backoff(&spins);
    }
}

static void worker_emit(struct vg_worker *w, const struct vg_event *ev)
{
    worker_emit_meta(w, ev, NULL);
}

void vg_event_tuple_from_packet(struct vg_event_tuple *t, const struct vg_packet *p)
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
    if (p->encap_depth != 0) {
        t->tunnel_type = p->tunnel_type;
        t->encap_depth = p->encap_depth;
        t->tunnel_family = p->tunnel_family;
        t->tunnel_proto = p->tunnel_proto;
        t->tunnel_sport = p->tunnel_sport;
        t->tunnel_dport = p->tunnel_dport;
        t->tunnel_id = p->tunnel_id;
        t->tunnel_src = p->tunnel_src;
        t->tunnel_dst = p->tunnel_dst;
    }
}

/* Called by the flow table for every flow that ends. */
static void worker_stream_end(struct vg_worker *w, struct vg_flow *f, const struct vg_packet *view);
static void worker_app_end(struct vg_worker *w, struct vg_flow *f, uint32_t slot,
                           const struct vg_packet *p, enum vg_flow_dir p_dir);
static void worker_behaviour_end(struct vg_worker *w, struct vg_flow *f,
                                 const struct vg_packet *view);

/* No packet ends a flow: a packet-shaped view of its client-to-server side,
 * built from the flow, stands in for one (records, last stream bytes). */
static void flow_packet_view(const struct vg_flow *f, struct vg_packet *view)
{
    memset(view, 0, sizeof(*view));
    vg_flow_endpoints(f, &view->src, &view->sport, &view->dst, &view->dport);
    view->family = f->key.family;
    view->proto = f->key.proto;
    view->flags = VG_PKT_HAS_L4;
    view->ts_us = f->last_us;
    view->icmp_type = f->icmp_type;
    view->icmp_code = f->icmp_code;
    for (unsigned i = 0; i < VG_MAX_VLAN; i++) {
        view->vlan[i] = f->key.vlan[i];
        if (f->key.vlan[i] != 0)
            view->vlan_count = (uint8_t)(i + 1);
    }
    view->tunnel_type = f->tunnel_type;
    view->encap_depth = f->encap_depth;
    view->tunnel_family = f->tunnel_family;
    view->tunnel_proto = f->tunnel_proto;
    view->tunnel_sport = f->tunnel_sport;
    view->tunnel_dport = f->tunnel_dport;
    view->tunnel_id = f->key.tunnel_id;
    view->tunnel_src = f->tunnel_src;
    view->tunnel_dst = f->tunnel_dst;
}

void vg_worker_flow_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                        uint64_t now_us)
{
    (void)now_us;
    struct vg_worker *w = user;
    struct vg_packet view;
    flow_packet_view(f, &view);
    /* A flow ends outside its own packets (a timeout, another flow's packet
     * evicting it, shutdown): what detection runs now runs for this flow. */
    if (w->detect != NULL)
        vg_detect_set_flow(w->detect, (struct vg_flow_vars *)&f->vars, f->flow_id);
    if (w->stream != NULL && f->key.proto == 6) {
        /* The table still owns the slot during this call; the last stream
         * bytes may raise alerts that mark the flow as alerted. */
        worker_stream_end(w, (struct vg_flow *)f, &view);
    }
    /* A long session decided by the flow's last counted packet alerts
     * before the record that says the flow alerted. */
    if (w->behaviour != NULL)
        worker_behaviour_end(w, (struct vg_flow *)f, &view);
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    if (w->app != NULL) {
        /* Open transactions are reported before the flow's record. */
        uint32_t slot = vg_flow_table_index(w->flows, f);
        worker_app_end(w, (struct vg_flow *)f, slot, &view, VG_DIR_TOSERVER);
        struct vg_meta_writer mw;
        vg_meta_init(&mw, w->meta, sizeof(w->meta));
        vg_applayer_flow_meta(w->app, slot, &mw);
        ev.meta_len = (uint16_t)vg_meta_finish(&mw);
    }
    ev.app_proto = f->app_proto;
    ev.type = VG_EVENT_FLOW;
    ev.ts_us = f->last_us;
    ev.flow_id = f->flow_id;
    vg_event_tuple_from_packet(&ev.tuple, &view);
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
    worker_emit_meta(w, &ev, w->meta);
}

/* Writes a transaction's id and EVE object into the worker's metadata
 * buffer; returns the bytes written. */
static uint16_t worker_tx_meta(struct vg_worker *w, const struct vg_app_tx *tx)
{
    struct vg_meta_writer mw;
    vg_meta_init(&mw, w->meta, sizeof(w->meta));
    vg_meta_uint(&mw, "tx_id", tx->tx_id);
    if (tx->encode != NULL)
        tx->encode(tx->obj, &mw);
    return (uint16_t)vg_meta_finish(&mw);
}

struct alert_ctx {
    struct vg_worker *w;
    const struct vg_packet *p;
    struct vg_flow *flow;
    enum vg_flow_dir dir;
    const struct vg_app_tx *tx; /* the transaction an app rule matched in, or NULL */
};

static void worker_alert(void *user, const struct vg_rule_meta *rule)
{
    struct alert_ctx *a = user;
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ALERT;
    ev.ts_us = a->p->ts_us;
    ev.pcap_cnt = a->p->pcap_cnt;
    vg_event_tuple_from_packet(&ev.tuple, a->p);
    ev.u.alert.rule = rule;
    if (a->flow != NULL) {
        ev.flow_id = a->flow->flow_id;
        ev.app_proto = a->flow->app_proto;
        ev.u.alert.has_flow = 1;
        ev.u.alert.to_server = a->dir == VG_DIR_TOSERVER;
        a->flow->flags |= VG_FLOW_F_ALERTED;
    }
    /* The alert shows the transaction it matched in. */
    if (a->tx != NULL)
        ev.meta_len = worker_tx_meta(a->w, a->tx);
    a->w->st.alerts++;
    worker_emit_meta(a->w, &ev, a->w->meta);
}

static uint32_t flow_detect_flags(struct vg_flow *f, enum vg_flow_dir dir);

/* The behaviour detectors that decided on this packet (bits 1u << enum
 * vg_detector) alert like rules: same event path, their rule's meta, the
 * rule's threshold and suppressions. */
static void worker_detector_alerts(struct vg_worker *w, struct alert_ctx *a, uint32_t fire)
{
    for (unsigned d = 0; fire != 0 && d < VG_DETECTOR_COUNT; d++) {
        if (!(fire & (1u << d)))
            continue;
        fire &= ~(1u << d);
        const struct vg_rule_meta *rule = vg_behaviour_rule(w->behaviour, (enum vg_detector)d);
        if (rule == NULL || w->detect == NULL ||
            !vg_detect_detector_allows(w->detect, (enum vg_detector)d, a->p))
            continue;
        worker_alert(a, rule);
        vg_behaviour_count_alert(w->behaviour, (enum vg_detector)d);
    }
}

static void worker_behaviour_end(struct vg_worker *w, struct vg_flow *f,
                                 const struct vg_packet *view)
{
    if (vg_behaviour_flow_update(w->behaviour, f) && !f->vars.passed) {
        struct alert_ctx a = {.w = w, .p = view, .flow = f, .dir = VG_DIR_TOSERVER};
        worker_detector_alerts(w, &a, 1u << VG_DETECTOR_LONG_SESSION);
    }
}

/* An anomaly's record, and the rules waiting for it (event keywords). dir:
 * the packet's direction in its flow. */
static void worker_anomaly(struct vg_worker *w, const struct vg_packet *p, struct vg_flow *flow,
                           enum vg_flow_dir dir, uint8_t kind, uint16_t event)
{
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ANOMALY;
    ev.ts_us = p->ts_us;
    ev.pcap_cnt = p->pcap_cnt;
    vg_event_tuple_from_packet(&ev.tuple, p);
    if (flow != NULL) {
        ev.flow_id = flow->flow_id;
        ev.app_proto = flow->app_proto;
    }
    ev.u.anomaly.kind = kind;
    ev.u.anomaly.event = event;
    worker_emit(w, &ev);
    if (w->detect != NULL) {
        struct alert_ctx a = {.w = w, .p = p, .flow = flow, .dir = dir};
        uint32_t flags =
            flow != NULL ? flow_detect_flags(flow, dir) | VG_DF_APP(flow->app_proto) : 0;
        vg_detect_event(w->detect, kind, 0, event, p, flags, worker_alert, &a);
    }
}

/* ---- application layer ---- */

/* What the app-layer callbacks need: the packet that delivered the bytes
 * and its direction. */
struct app_ctx {
    struct vg_worker *w;
    struct vg_flow *flow;
    const struct vg_packet *p;
    enum vg_flow_dir p_dir;
    enum vg_flow_dir data_dir; /* the direction of the bytes being parsed */
};

/* The packet seen in direction dir: a stream's bytes may be released by the
 * other side's ACK; alerts show the data's own direction for the inner
 * addresses, and the encapsulation of the packet that released it (a
 * mirror session's outer header is the same both ways). */
static void packet_view_in(const struct vg_packet *p, enum vg_flow_dir p_dir, enum vg_flow_dir dir,
                           struct vg_packet *view)
{
    *view = *p;
    if (dir != p_dir) {
        view->src = p->dst;
        view->dst = p->src;
        view->sport = p->dport;
        view->dport = p->sport;
    }
}

static void app_tx(void *user, const struct vg_app_tx *tx)
{
    struct app_ctx *c = user;
    struct vg_worker *w = c->w;
    struct vg_flow *f = c->flow;
    if (f->app_proto == VG_APP_UNKNOWN || f->app_proto == VG_APP_FAILED ||
        f->app_proto == VG_APP_OTHER)
        f->app_proto = tx->proto;
    enum vg_flow_dir dir = tx->dir == VG_DIR_TOCLIENT ? VG_DIR_TOCLIENT : VG_DIR_TOSERVER;
    /* A flow whose sides the application layer swapped (picked up
     * midstream at a server's data): tx->dir is the real direction, the
     * addresses are still the flow's. */
    const unsigned rev = vg_applayer_reversed(w->app, vg_flow_table_index(w->flows, f));
    struct vg_packet view;
    packet_view_in(c->p, c->p_dir, (enum vg_flow_dir)(dir ^ rev), &view);
    if (w->detect != NULL && !tx->repeated) {
        struct alert_ctx a = {.w = w, .p = &view, .flow = f, .dir = dir, .tx = tx};
        uint32_t flags = flow_detect_flags(f, dir) | VG_DF_APP(f->app_proto);
        vg_detect_app(w->detect, tx, &view, flags, worker_alert, &a);
    }
    /* A transaction's record when it completes; DNS logs queries and
     * answers each, as Suricata does. */
    bool record = tx->proto == VG_APP_DNS ? !tx->repeated : tx->last;
    if (!record)
        return;
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_APP;
    ev.app_proto = tx->proto;
    ev.ts_us = view.ts_us;
    ev.pcap_cnt = view.pcap_cnt;
    ev.flow_id = f->flow_id;
    /* Records read client to server, whichever side completed them. */
    struct vg_packet cs;
    packet_view_in(c->p, c->p_dir, (enum vg_flow_dir)(VG_DIR_TOSERVER ^ rev), &cs);
    vg_event_tuple_from_packet(&ev.tuple, &cs);
    ev.meta_len = worker_tx_meta(w, tx);
    worker_emit_meta(w, &ev, w->meta);
}

static void app_anomaly(void *user, enum vg_app_proto proto, uint16_t event)
{
    struct app_ctx *c = user;
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ANOMALY;
    ev.app_proto = (uint8_t)proto;
    ev.ts_us = c->p->ts_us;
    ev.pcap_cnt = c->p->pcap_cnt;
    /* the anomaly is in the parsed bytes: show their direction */
    struct vg_packet view;
    packet_view_in(c->p, c->p_dir, c->data_dir, &view);
    vg_event_tuple_from_packet(&ev.tuple, &view);
    ev.flow_id = c->flow->flow_id;
    ev.u.anomaly.kind = VG_ANOMALY_APPLAYER;
    ev.u.anomaly.event = event;
    worker_emit(c->w, &ev);
    if (c->w->detect != NULL) {
        /* rules see the real direction of a flow the application layer swapped */
        const enum vg_flow_dir dir = (enum vg_flow_dir)(
            c->data_dir ^
            vg_applayer_reversed(c->w->app, vg_flow_table_index(c->w->flows, c->flow)));
        struct alert_ctx a = {.w = c->w, .p = &view, .flow = c->flow, .dir = dir};
        uint32_t flags = flow_detect_flags(c->flow, dir) | VG_DF_APP(proto);
        vg_detect_event(c->w->detect, VG_ANOMALY_APPLAYER, (uint8_t)proto, event, &view, flags,
                        worker_alert, &a);
    }
}

/* The flow ends: open transactions are reported, parser states freed. */
static void worker_app_end(struct vg_worker *w, struct vg_flow *f, uint32_t slot,
                           const struct vg_packet *p, enum vg_flow_dir p_dir)
{
    struct app_ctx c = {.w = w, .flow = f, .p = p, .p_dir = p_dir, .data_dir = p_dir};
    struct vg_app_cb cb = {.user = &c, .tx = app_tx, .anomaly = app_anomaly};
    vg_applayer_flow_end(w->app, slot, &cb);
    f->app_proto = vg_applayer_proto(w->app, slot);
}

/* What the stream sink needs to turn reassembled bytes into alerts. */
struct stream_ctx {
    struct vg_worker *w;
    struct vg_flow *flow;
    uint32_t slot;
    const struct vg_packet *p; /* the packet that made the data deliverable */
    enum vg_flow_dir p_dir;
};

/* The matching state of a reassembled direction, opened on first use. NULL
 * when the pool is exhausted: that direction is then matched packet by
 * packet, and counted. */
static struct vg_detect_stream *stream_state(struct vg_worker *w, uint32_t slot,
                                             enum vg_flow_dir dir)
{
    struct vg_detect_stream **ds = &w->dstreams[2 * (size_t)slot + dir];
    if (*ds == NULL) {
        *ds = vg_detect_stream_open(w->detect);
        if (*ds == NULL)
            w->st.stream_inspect_full++;
    }
    return *ds;
}

static void stream_data(void *user, enum vg_flow_dir dir, const uint8_t *data, uint32_t len,
                        uint64_t stream_offset, uint32_t flags)
{
    struct stream_ctx *sc = user;
    struct vg_worker *w = sc->w;
    if (w->app != NULL) {
        struct app_ctx c = {
            .w = w, .flow = sc->flow, .p = sc->p, .p_dir = sc->p_dir, .data_dir = dir};
        struct vg_app_cb cb = {.user = &c, .tx = app_tx, .anomaly = app_anomaly};
        vg_applayer_stream(w->app, sc->slot, dir, data, len,
                           ((flags & VG_STREAM_GAP_BEFORE) ? VG_APP_GAP : 0) |
                               ((flags & VG_STREAM_MIDSTREAM) ? VG_APP_MIDSTREAM : 0),
                           &cb);
        if (sc->flow->app_proto == VG_APP_UNKNOWN)
            sc->flow->app_proto = vg_applayer_proto(w->app, sc->slot);
    }
    /* The first bytes may come in the very call that activated the direction. */
    struct vg_detect_stream *ds = stream_state(w, sc->slot, dir);
    if (ds == NULL)
        return;
    struct vg_packet view;
    packet_view_in(sc->p, sc->p_dir, dir, &view);
    struct alert_ctx a = {.w = w, .p = &view, .flow = sc->flow, .dir = dir};
    uint32_t chunk_flags = (flags & VG_STREAM_GAP_BEFORE) ? VG_DS_GAP : 0;
    uint32_t flow_flags = flow_detect_flags(sc->flow, dir) | VG_DF_APP(sc->flow->app_proto);
    /* As in Suricata, a session picked up midstream counts as established. */
    if (flags & VG_STREAM_MIDSTREAM)
        flow_flags |= VG_DF_ESTABLISHED;
    vg_detect_stream_data(w->detect, ds, data, len, stream_offset, chunk_flags, &view, flow_flags,
                          worker_alert, &a);
}

static void stream_event(void *user, enum vg_stream_event ev)
{
    struct stream_ctx *sc = user;
    worker_anomaly(sc->w, sc->p, sc->flow, sc->p_dir, VG_ANOMALY_STREAM, (uint16_t)ev);
}

/* Reassembles a TCP packet's payload; returns VG_DF_STREAM when the packet's
 * direction is matched as a stream (so packet matching skips stream rules). */
static uint32_t worker_stream(struct vg_worker *w, struct vg_flow *f, enum vg_flow_dir dir,
                              const struct vg_packet *p)
{
    uint32_t slot = vg_flow_table_index(w->flows, f);
    struct stream_ctx sc = {.w = w, .flow = f, .slot = slot, .p = p, .p_dir = dir};
    struct vg_stream_sink sink = {.data = stream_data, .event = stream_event, .user = &sc};
    bool first = f->pkts[0] + f->pkts[1] == 1;
    vg_stream_packet(w->stream, slot, dir, p, first, &sink);
    if (!vg_stream_direction_active(w->stream, slot, dir))
        return 0;
    return stream_state(w, slot, dir) != NULL ? VG_DF_STREAM : 0;
}

/* A TCP flow ends: deliver what is left, settle pending matches, and free
 * the slot's reassembly and matching state for the next flow. */
static void worker_stream_end(struct vg_worker *w, struct vg_flow *f, const struct vg_packet *view)
{
    uint32_t slot = vg_flow_table_index(w->flows, f);
    struct stream_ctx sc = {.w = w, .flow = f, .slot = slot, .p = view, .p_dir = VG_DIR_TOSERVER};

    struct vg_stream_sink sink = {.data = stream_data, .event = stream_event, .user = &sc};
    vg_stream_session_end(w->stream, slot, &sink);
    for (int d = 0; d < 2; d++) {
        struct vg_detect_stream **ds = &w->dstreams[2 * (size_t)slot + d];
        if (*ds == NULL)
            continue;
        struct vg_packet dview;
        packet_view_in(sc.p, sc.p_dir, (enum vg_flow_dir)d, &dview);
        struct alert_ctx a = {.w = w, .p = &dview, .flow = f, .dir = (enum vg_flow_dir)d};
        vg_detect_stream_data(w->detect, *ds, NULL, 0, 0, VG_DS_END, &dview,
                              flow_detect_flags(f, (enum vg_flow_dir)d) | VG_DF_APP(f->app_proto),
                              worker_alert, &a);
        vg_detect_stream_close(w->detect, *ds);
        *ds = NULL;
    }
}

/* Feeds a fragment to the defragmenter. Returns true when it completed a
 * datagram, which then replaces the fragment in *p. */
static bool worker_defrag(struct vg_worker *w, struct vg_packet *p, struct vg_packet *whole)
{
    int done = vg_defrag_packet(w->defrag, p, w->clock_us, whole, &w->dec);
    if (done == 1) {
        /* The rebuilt datagram travelled in the same tunnel as its fragments. */
        whole->tunnel_type = p->tunnel_type;
        whole->encap_depth = p->encap_depth;
        whole->tunnel_family = p->tunnel_family;
        whole->tunnel_proto = p->tunnel_proto;
        whole->tunnel_id = p->tunnel_id;
        whole->tunnel_sport = p->tunnel_sport;
        whole->tunnel_dport = p->tunnel_dport;
        whole->tunnel_src = p->tunnel_src;
        whole->tunnel_dst = p->tunnel_dst;
    }
    uint32_t events = vg_defrag_last_events(w->defrag);
    for (unsigned e = 0; events != 0 && e < VG_DEFRAG_EV_COUNT; e++) {
        if (events & VG_DEFRAG_EVENT_BIT(e)) {
            worker_anomaly(w, p, NULL, VG_DIR_TOSERVER, VG_ANOMALY_DEFRAG, (uint16_t)e);
            events &= ~VG_DEFRAG_EVENT_BIT(e);
        }
    }
    return done == 1;
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
        if (w->defrag != NULL)
            vg_defrag_expire(w->defrag, now_us);
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

/* nDPI sees every packet until it decides; UDP payloads go to the parsers
 * (TCP bytes come through the stream sink). */
static void worker_app_packet(struct vg_worker *w, struct vg_flow *f, enum vg_flow_dir dir,
                              const struct vg_packet *p)
{
    uint32_t slot = vg_flow_table_index(w->flows, f);
    vg_applayer_packet(w->app, slot, p, dir);
    if (p->proto == 17 && (p->flags & VG_PKT_HAS_L4) && p->payload_len != 0) {
        struct app_ctx c = {.w = w, .flow = f, .p = p, .p_dir = dir, .data_dir = dir};
        struct vg_app_cb cb = {.user = &c, .tx = app_tx, .anomaly = app_anomaly};
        vg_applayer_udp(w->app, slot, dir, p->payload, p->payload_len, &cb);
    }
    uint8_t proto = vg_applayer_proto(w->app, slot);
    if (f->app_proto == VG_APP_UNKNOWN || proto != VG_APP_FAILED)
        f->app_proto = proto;
}

void vg_worker_packet(struct vg_worker *w, struct vg_packet *p)
{
    worker_advance_clock(w, p->ts_us);
    w->st.packets++;
    w->st.bytes += p->wirelen;

    struct vg_packet whole;
    if (VG_UNLIKELY(p->flags & VG_PKT_FRAGMENT) && w->defrag != NULL) {
        /* Only the rebuilt datagram is analysed, like Suricata: a fragment
         * on its own joins no flow and is not inspected. */
        if (!worker_defrag(w, p, &whole))
            return;
        p = &whole;
    }

    struct alert_ctx a = {.w = w, .p = p, .flow = NULL, .dir = VG_DIR_TOSERVER};
    uint32_t flags = 0;
    uint32_t fire = 0; /* behaviour detectors that decided on this packet (flow set) */
    if (VG_UNLIKELY(p->flags & VG_PKT_FRAGMENT)) {
        /* Defragmentation off: a fragment has no trustworthy ports, so it is
         * inspected as an IP packet outside any flow. */
        w->st.fragments_unreassembled++;
    } else {
        a.flow = vg_flow_table_packet(w->flows, p, &a.dir);
        if (w->detect != NULL)
            vg_detect_set_flow(w->detect, a.flow != NULL ? &a.flow->vars : NULL,
                               a.flow != NULL ? a.flow->flow_id : 0);
        if (a.flow != NULL) {
            const bool first = a.flow->pkts[0] + a.flow->pkts[1] == 1;
            if (first) {
                a.flow->icmp_type = p->icmp_type;
                a.flow->icmp_code = p->icmp_code;
                if (w->app != NULL)
                    vg_applayer_flow_start(w->app, vg_flow_table_index(w->flows, a.flow));
            }
            if (w->app != NULL)
                worker_app_packet(w, a.flow, a.dir, p);
            flags = flow_detect_flags(a.flow, a.dir);
            if (w->stream != NULL && p->proto == 6 && (p->flags & VG_PKT_HAS_L4)) {
                flags |= worker_stream(w, a.flow, a.dir, p);
                /* A session closed by a RST, or by both FINs and then an ACK
                 * (which releases the last bytes: reassembly hands data over
                 * when it is acknowledged), has nothing more for its parser:
                 * the state goes back to the pool now rather than when the
                 * flow times out. */
                if (w->app != NULL && a.flow->tcp_state == VG_TCP_CLOSED &&
                    ((p->tcp_flags & 0x04u) || !(p->tcp_flags & 0x01u)) &&
                    !(a.flow->flags & VG_FLOW_F_APP_DONE)) {
                    a.flow->flags |= VG_FLOW_F_APP_DONE;
                    worker_app_end(w, a.flow, vg_flow_table_index(w->flows, a.flow), p, a.dir);
                }
            }
            flags |= VG_DF_APP(a.flow->app_proto);
            if (w->behaviour != NULL) {
                fire = first ? vg_behaviour_flow_start(w->behaviour, a.flow) : 0;
                if (vg_behaviour_flow_update(w->behaviour, a.flow))
                    fire |= 1u << VG_DETECTOR_LONG_SESSION;
            }
        }
    }
    if (w->detect != NULL) {
        /* The reader raised the decoder's anomaly; the packet was still
         * decoded, so the rules waiting for it run here. */
        if (VG_UNLIKELY(p->decode_event != 0))
            vg_detect_event(w->detect, VG_ANOMALY_DECODE, 0, (uint16_t)(p->decode_event - 1), p,
                            flags, worker_alert, &a);
        vg_detect_packet(w->detect, p, flags, worker_alert, &a);
    }
    /* After the rules: a pass rule for the flow (a trusted scanner) silences
     * the detectors too. */
    if (VG_UNLIKELY(fire != 0) && !a.flow->vars.passed)
        worker_detector_alerts(w, &a, fire);
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
    vg_decode_config_default(&wc->decode);
    if (vg_decode_config_load(&wc->decode, cfg, err, errlen) != 0)
        return -1;
    vg_defrag_config_default(&wc->defrag);
    uint64_t trackers = wc->defrag.max_trackers, max_frags = wc->defrag.max_fragments;
    uint64_t timeout_s = wc->defrag.timeout_us / SECOND_US;
    if (vg_config_get_bool(cfg, "defrag.enabled", true, &wc->defrag_enabled, err, errlen) ||
        vg_config_get_size(cfg, "defrag.memcap", wc->defrag.memcap, &wc->defrag.memcap, err,
                           errlen) ||
        vg_config_get_u64(cfg, "defrag.trackers", trackers, &trackers, err, errlen) ||
        vg_config_get_u64(cfg, "defrag.max-frags", max_frags, &max_frags, err, errlen) ||
        vg_config_get_u64(cfg, "defrag.timeout", timeout_s, &timeout_s, err, errlen))
        return -1;
    if (trackers == 0 || trackers > UINT32_MAX || max_frags == 0 || max_frags > 65535 ||
        timeout_s == 0) {
        snprintf(err, errlen,
                 "defrag: trackers, max-frags and timeout must be positive "
                 "(max-frags at most 65535)");
        return -1;
    }
    wc->defrag.max_trackers = (uint32_t)trackers;
    wc->defrag.max_fragments = (uint32_t)max_frags;
    wc->defrag.timeout_us = timeout_s * SECOND_US;
    const char *policy = vg_config_get(cfg, "defrag.policy");
    if (policy != NULL && vg_defrag_policy_parse(policy, &wc->defrag.policy) != 0) {
        snprintf(err, errlen,
                 "defrag.policy: '%s' is not one of bsd, first, last, linux, "
                 "windows, solaris",
                 policy);
        return -1;
    }
    /* Stream reassembly, with Suricata's key names where they exist. */
    vg_stream_config_default(&wc->stream);
    struct vg_stream_config *sc = &wc->stream;
    uint64_t depth = sc->depth, pool = sc->segment_pool, flow_cap = sc->flow_cap;
    wc->inspect_streams = 65536;
    if (vg_config_get_bool(cfg, "stream.reassembly.enabled", true, &wc->stream_enabled, err,
                           errlen) ||
        vg_config_get_size(cfg, "stream.reassembly.memcap", sc->memcap, &sc->memcap, err, errlen) ||
        vg_config_get_size(cfg, "stream.reassembly.depth", depth, &depth, err, errlen) ||
        vg_config_get_u64(cfg, "stream.reassembly.segment-prealloc", pool, &pool, err, errlen) ||
        vg_config_get_size(cfg, "stream.reassembly.flow-cap", flow_cap, &flow_cap, err, errlen) ||
        vg_config_get_bool(cfg, "stream.midstream", sc->midstream, &sc->midstream, err, errlen) ||
        vg_config_get_bool(cfg, "stream.async-oneside", sc->async_oneside, &sc->async_oneside, err,
                           errlen) ||
        vg_config_get_u64(cfg, "stream.inspect-streams", wc->inspect_streams, &wc->inspect_streams,
                          err, errlen))
        return -1;
    if (depth > UINT32_MAX || flow_cap > UINT32_MAX || pool == 0 || pool > UINT32_MAX ||
        wc->inspect_streams > UINT32_MAX) {
        snprintf(err, errlen,
                 "stream.reassembly: depth and flow-cap must be below 4gb, "
                 "segment-prealloc between 1 and 2^32");
        return -1;
    }
    sc->depth = (uint32_t)depth;
    sc->flow_cap = (uint32_t)flow_cap;
    sc->segment_pool = (uint32_t)pool;
    const char *spolicy = vg_config_get(cfg, "stream.reassembly.policy");
    if (spolicy != NULL && vg_stream_policy_parse(spolicy, &sc->policy) != 0) {
        snprintf(err, errlen,
                 "stream.reassembly.policy: '%s' is not one of bsd, first, last, "
                 "linux, windows",
                 spolicy);
        return -1;
    }
    vg_applayer_config_default(&wc->app);
    if (vg_applayer_config_load(&wc->app, cfg, err, errlen) != 0)
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
    if (wc->defrag_enabled) {
        /* Caps in the configuration are for the whole sensor. */
        struct vg_defrag_config dc = wc->defrag;
        unsigned n = nworkers ? nworkers : 1;
        dc.memcap = dc.memcap / n;
        dc.max_trackers = dc.max_trackers / n ? dc.max_trackers / n : 1;
        w->defrag = vg_defrag_new(&dc);
        if (w->defrag == NULL)
            return -1;
    }
    if (wc->stream_enabled) {
        struct vg_stream_config sc = wc->stream;
        unsigned n = nworkers ? nworkers : 1;
        sc.memcap = sc.memcap / n;
        sc.segment_pool = sc.segment_pool / n ? sc.segment_pool / n : 1;
        uint32_t slots = vg_flow_table_capacity(w->flows);
        uint64_t inspect = wc->inspect_streams / n ? wc->inspect_streams / n : 1;
        w->stream = vg_stream_table_new(slots, &sc);
        w->dstreams = calloc(2 * (size_t)slots, sizeof(*w->dstreams));
        if (w->stream == NULL || w->dstreams == NULL ||
            vg_detect_ctx_streams(w->detect, (uint32_t)inspect) != 0)
            return -1;
    }
    if (wc->app.enabled) {
        struct vg_applayer_config ac = wc->app;
        vg_applayer_config_split(&ac, nworkers ? nworkers : 1);
        w->app = vg_applayer_new(&ac, vg_flow_table_capacity(w->flows));
        if (w->app == NULL)
            return -1;
    }
    return 0;
}

void vg_worker_destroy(struct vg_worker *w)
{
    vg_pktring_free(w->ring);
    vg_event_ring_free(w->events);
    vg_flow_table_free(w->flows);
    vg_detect_ctx_free(w->detect);
    vg_defrag_free(w->defrag);
    vg_stream_table_free(w->stream);
    free(w->dstreams);
    vg_applayer_free(w->app);
    memset(w, 0, sizeof(*w));
}

void *vg_worker_main(void *arg)
{
    struct vg_worker *w = arg;
    unsigned spins = 0;
    for (;;) {
        vg_worker_quiescent(w);
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
            vg_worker_publish(w);
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

/* Quiescent-state detection. A worker's epoch store is a release store
 * without a fence, so a store buffer may delay it past the worker's next
 * load of a set's contents. membarrier(PRIVATE_EXPEDITED) runs a full
 * barrier on every thread of the process: after it, each worker's current
 * epoch is visible and any lookup it starts later sees the new contents,
 * so one advance past the snapshot suffices. Without membarrier (an old
 * kernel, a seccomp filter) a fence here and two advances stand in. */
static bool membarrier_all_threads(void)
{
#ifdef __NR_membarrier
    static atomic_int registered; /* 0 unknown, 1 yes, -1 refused */
    int reg = atomic_load(&registered);
    if (reg == 0) {
        reg =
            syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : -1;
        atomic_store(&registered, reg);
    }
    return reg > 0 && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
    return false;
#endif
}

void vg_workers_wait_quiescent(void *arg)
{
    const struct vg_worker_group *g = arg;
    const uint64_t need = membarrier_all_threads() ? 1 : 2;
    atomic_thread_fence(memory_order_seq_cst);
    const struct timespec step = {0, 1000 * 1000};
    unsigned waited_ms = 0;
    /* A snapshot taken after the swap is enough, so workers are taken one
     * after the other: an idle worker advances on every spin. */
    for (unsigned i = 0; i < g->n; i++) {
        struct vg_worker *w = &g->workers[i];
        const uint64_t seen = atomic_load_explicit(&w->epoch, memory_order_acquire);
        while (!atomic_load_explicit(&w->finished, memory_order_acquire) &&
               atomic_load_explicit(&w->epoch, memory_order_acquire) - seen < need) {
            nanosleep(&step, NULL);
            if (++waited_ms == 5000)
                fprintf(stderr,
                        "vigil: warning: dataset reload: worker %u has not moved for 5 s; "
                        "still waiting before freeing the old lists\n",
                        w->id);
        }
    }
}

void vg_worker_publish(struct vg_worker *w)
{
    if (w->detect != NULL) {
        struct vg_detect_flowbit_stats fb;
        struct vg_detect_stream_stats ds;
        vg_detect_ctx_flowbit_stats(w->detect, &fb);
        vg_detect_ctx_stream_stats(w->detect, &ds);
        w->st.pcre_limit_hits = vg_detect_ctx_pcre_limit_hits(w->detect);
        w->st.flowbits_refused = fb.set_refused;
        w->st.stream_windows_too_short = ds.windows_too_short;
        w->st.stream_pending_overflow = ds.pending_overflow;
        w->st.stream_undecided_at_close = ds.undecided_at_close;
        w->st.stream_looks_deferred = ds.revisits_deferred;
    }
    vg_counters_publish(&w->pub_st, &w->st, sizeof(w->st));
    vg_counters_publish(&w->pub_flows, vg_flow_table_stats(w->flows), sizeof(w->pub_flows));
    vg_counters_publish(&w->pub_dec, &w->dec, sizeof(w->pub_dec));
    if (w->app != NULL)
        vg_counters_publish(&w->pub_app, vg_applayer_stats(w->app), sizeof(w->pub_app));
}
