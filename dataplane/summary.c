/* Exit summary: one screen for people, one JSON object for scripts; and the
 * stats event that live capture appends to the EVE file. */
#include "summary.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

struct summary_totals {
    uint64_t packets;
    uint64_t bytes;
    uint64_t alerts;
    uint64_t events_dropped;
    uint64_t event_waits;
    uint64_t fragments;
    struct vg_flow_table_stats flows;
    struct vg_decode_stats dec;
    struct vg_defrag_stats defrag;
    struct vg_stream_stats stream;
    uint64_t stream_inspect_full;
    uint64_t flowbits_refused;
    uint64_t pcre_limit_hits;
    struct vg_detect_stream_stats detect_stream;
    uint64_t anomalies;
    struct vg_applayer_stats app;
};

static void summary_totals(const struct vg_summary *s, struct summary_totals *t)
{
    memset(t, 0, sizeof(*t));
    t->dec = s->dec != NULL ? *s->dec : s->reader->dec;
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct vg_worker *w = &s->workers[i];
        t->packets += w->st.packets;
        t->bytes += w->st.bytes;
        t->alerts += w->st.alerts;
        t->events_dropped += w->st.events_dropped;
        t->event_waits += w->st.event_waits;
        t->fragments += w->st.fragments_unreassembled;
        vg_decode_stats_add(&t->dec, &w->dec);
        if (w->defrag != NULL)
            vg_defrag_stats_add(&t->defrag, vg_defrag_stats(w->defrag));
        if (w->stream != NULL)
            vg_stream_stats_add(&t->stream, vg_stream_table_stats(w->stream));
        t->stream_inspect_full += w->st.stream_inspect_full;
        if (w->detect != NULL) {
            struct vg_detect_flowbit_stats fb;
            vg_detect_ctx_flowbit_stats(w->detect, &fb);
            t->flowbits_refused += fb.set_refused;
            t->pcre_limit_hits += vg_detect_ctx_pcre_limit_hits(w->detect);
            struct vg_detect_stream_stats ds;
            vg_detect_ctx_stream_stats(w->detect, &ds);
            struct vg_detect_stream_stats *sum = &t->detect_stream;
            sum->pool_exhausted += ds.pool_exhausted;
            sum->windows_too_short += ds.windows_too_short;
            sum->pending_overflow += ds.pending_overflow;
            sum->undecided_at_close += ds.undecided_at_close;
            sum->order_overflow += ds.order_overflow;
            sum->revisits += ds.revisits;
            sum->revisits_deferred += ds.revisits_deferred;
        }
        if (w->app != NULL) {
            /* every counter of the block is a uint64_t: add them word by word */
            const uint64_t *src = (const uint64_t *)vg_applayer_stats(w->app);
            uint64_t *dst = (uint64_t *)&t->app;
            for (size_t k = 0; k < sizeof(t->app) / sizeof(uint64_t); k++)
                dst[k] += src[k];
        }
        const struct vg_flow_table_stats *fs = vg_flow_table_stats(w->flows);
        t->flows.created += fs->created;
        t->flows.ended_timeout += fs->ended_timeout;
        t->flows.ended_forced += fs->ended_forced;
        t->flows.ended_shutdown += fs->ended_shutdown;
        t->flows.max_active += fs->max_active;
        t->flows.tcp_midstream += fs->tcp_midstream;
    }
    for (int e = 0; e < VG_DEC_EVENT_COUNT; e++)
        t->anomalies += t->dec.events[e];
}

static void print_defrag(FILE *out, const struct vg_defrag_stats *d)
{
    uint64_t frags = d->ipv4_fragments + d->ipv6_fragments;
    if (frags == 0)
        return;
    fprintf(out,
            "  defrag     %llu fragments, %llu datagrams rebuilt; %llu timed out, %llu overlaps "
            "(%llu with different data); dropped: %llu at the memcap, %llu tracker table full, "
            "%llu too many fragments, %llu oversize, %llu invalid\n",
            (unsigned long long)frags,
            (unsigned long long)(d->ipv4_reassembled + d->ipv6_reassembled),
            (unsigned long long)d->timeouts, (unsigned long long)d->overlaps,
            (unsigned long long)d->overlaps_different, (unsigned long long)d->memcap_drops,
            (unsigned long long)d->tracker_table_full, (unsigned long long)d->too_many_fragments,
            (unsigned long long)d->oversize, (unsigned long long)d->invalid);
}

static void print_stream(FILE *out, const struct summary_totals *t)
{
    const struct vg_stream_stats *s = &t->stream;
    if (s->sessions == 0 && s->no_handshake == 0)
        return;
    fprintf(out,
            "  stream     %llu sessions (%llu midstream, %llu without handshake not followed), "
            "%llu bytes reassembled; %llu gaps (%llu bytes), %llu overlaps (%llu with different "
            "data), %llu retransmissions; dropped: %llu segments at the memcap, %llu with no "
            "free segment, %llu bytes past the depth; %llu directions matched packet by packet "
            "(stream-matching pool full)\n",
            (unsigned long long)s->sessions, (unsigned long long)s->sessions_midstream,
            (unsigned long long)s->no_handshake, (unsigned long long)s->delivered_bytes,
            (unsigned long long)s->gaps, (unsigned long long)s->gap_bytes,
            (unsigned long long)s->overlaps, (unsigned long long)s->overlaps_different,
            (unsigned long long)s->retransmissions, (unsigned long long)s->memcap_drops,
            (unsigned long long)s->pool_drops, (unsigned long long)s->depth_bytes,
            (unsigned long long)t->stream_inspect_full);
}

static void json_stream(FILE *f, const struct summary_totals *t)
{
    const struct vg_stream_stats *s = &t->stream;
    fprintf(f,
            "\"stream\":{\"sessions\":%llu,\"sessions_midstream\":%llu,\"sessions_4whs\":%llu,"
            "\"sessions_tfo\":%llu,\"no_handshake\":%llu,\"segments\":%llu,"
            "\"delivered_bytes\":%llu,\"gaps\":%llu,\"gap_bytes\":%llu,\"overlaps\":%llu,"
            "\"overlaps_different\":%llu,\"retransmissions\":%llu,\"depth_reached\":%llu,"
            "\"depth_bytes\":%llu,\"memcap_drops\":%llu,\"memcap_drop_bytes\":%llu,"
            "\"pool_drops\":%llu,\"memuse_max\":%llu,\"inspect_pool_full\":%llu},",
            (unsigned long long)s->sessions, (unsigned long long)s->sessions_midstream,
            (unsigned long long)s->sessions_4whs, (unsigned long long)s->sessions_tfo,
            (unsigned long long)s->no_handshake, (unsigned long long)s->segments,
            (unsigned long long)s->delivered_bytes, (unsigned long long)s->gaps,
            (unsigned long long)s->gap_bytes, (unsigned long long)s->overlaps,
            (unsigned long long)s->overlaps_different, (unsigned long long)s->retransmissions,
            (unsigned long long)s->depth_reached, (unsigned long long)s->depth_bytes,
            (unsigned long long)s->memcap_drops, (unsigned long long)s->memcap_drop_bytes,
            (unsigned long long)s->pool_drops, (unsigned long long)s->memuse_max,
            (unsigned long long)t->stream_inspect_full);
}

/* Detection's own bounds: pcre limits and stream matching's caps. Printed
 * only when one was reached. */
static void print_detect(FILE *out, const struct summary_totals *t)
{
    const struct vg_detect_stream_stats *d = &t->detect_stream;
    if (t->pcre_limit_hits == 0 && d->windows_too_short == 0 && d->pending_overflow == 0 &&
        d->undecided_at_close == 0 && d->order_overflow == 0 && d->revisits_deferred == 0)
        return;
    fprintf(out,
            "  detection  %llu pcre gave up at their match limit (no match); stream matching: "
            "%llu candidates needed bytes beyond the window, %llu decided early (too many "
            "waiting), %llu undecided when their stream closed, %llu judged out of rule order, "
            "%llu looks put off (small segments)\n",
            (unsigned long long)t->pcre_limit_hits, (unsigned long long)d->windows_too_short,
            (unsigned long long)d->pending_overflow, (unsigned long long)d->undecided_at_close,
            (unsigned long long)d->order_overflow, (unsigned long long)d->revisits_deferred);
}

static void json_detect(FILE *f, const struct summary_totals *t)
{
    const struct vg_detect_stream_stats *d = &t->detect_stream;
    fprintf(f,
            "\"detect\":{\"pcre_limit_hits\":%llu,\"stream\":{\"windows_too_short\":%llu,"
            "\"pending_overflow\":%llu,\"undecided_at_close\":%llu,\"order_overflow\":%llu,"
            "\"revisits\":%llu,\"revisits_deferred\":%llu}},",
            (unsigned long long)t->pcre_limit_hits, (unsigned long long)d->windows_too_short,
            (unsigned long long)d->pending_overflow, (unsigned long long)d->undecided_at_close,
            (unsigned long long)d->order_overflow, (unsigned long long)d->revisits,
            (unsigned long long)d->revisits_deferred);
}

/* The behaviour detectors' counters as one JSON object, for the summary and
 * the live stats events. */
#define DETECTORS_JSON_MAX 256

static void detectors_json(char *buf, size_t len, const struct vg_behaviour_stats *bs)
{
    snprintf(buf, len,
             "{\"long_session\":{\"alerts\":%llu},\"new_egress\":{\"alerts\":%llu,\"pairs\":%llu,"
             "\"table_full\":%llu},\"mgmt_access\":{\"alerts\":%llu}}",
             (unsigned long long)bs->alerts[VG_DETECTOR_LONG_SESSION],
             (unsigned long long)bs->alerts[VG_DETECTOR_NEW_EGRESS],
             (unsigned long long)bs->new_egress_pairs,
             (unsigned long long)bs->new_egress_table_full,
             (unsigned long long)bs->alerts[VG_DETECTOR_MGMT_ACCESS]);
}

/* Application layer: per protocol flows taken, transactions, anomalies and
 * flows left unparsed at the state-pool cap; nDPI's results. */
static const enum vg_app_proto summary_protos[] = {VG_APP_HTTP, VG_APP_TLS, VG_APP_DNS, VG_APP_SSH};

static void print_app(FILE *out, const struct vg_applayer_stats *a)
{
    uint64_t any = a->ndpi_detected + a->ndpi_guessed;
    for (size_t i = 0; i < VG_ARRAY_SIZE(summary_protos); i++)
        any += a->flows[summary_protos[i]];
    if (any == 0)
        return;
    fprintf(out, "  app-layer ");
    for (size_t i = 0; i < VG_ARRAY_SIZE(summary_protos); i++) {
        enum vg_app_proto p = summary_protos[i];
        fprintf(out, " %s %llu flows/%llu tx/%llu anomalies/%llu unparsed (pool full);",
                vg_app_proto_name(p), (unsigned long long)a->flows[p],
                (unsigned long long)a->transactions[p], (unsigned long long)a->anomalies[p],
                (unsigned long long)a->state_pool_full[p]);
    }
    fprintf(out, " %llu midstream reversed;", (unsigned long long)a->reversed);
    fprintf(out, " nDPI %llu detected, %llu guessed, %llu not inspected (pool full)\n",
            (unsigned long long)a->ndpi_detected, (unsigned long long)a->ndpi_guessed,
            (unsigned long long)a->ndpi_pool_full);
}

static void json_app(FILE *f, const struct vg_applayer_stats *a)
{
    fprintf(f, "\"app_layer\":{");
    for (size_t i = 0; i < VG_ARRAY_SIZE(summary_protos); i++) {
        enum vg_app_proto p = summary_protos[i];
        fprintf(f,
                "\"%s\":{\"flows\":%llu,\"transactions\":%llu,\"anomalies\":%llu,"
                "\"state_pool_full\":%llu},",
                vg_app_proto_name(p), (unsigned long long)a->flows[p],
                (unsigned long long)a->transactions[p], (unsigned long long)a->anomalies[p],
                (unsigned long long)a->state_pool_full[p]);
    }
    fprintf(f,
            "\"gaps\":%llu,\"reversed\":%llu,\"ndpi_detected\":%llu,\"ndpi_guessed\":%llu,"
            "\"ndpi_pool_full\":%llu},",
            (unsigned long long)a->gaps, (unsigned long long)a->reversed,
            (unsigned long long)a->ndpi_detected, (unsigned long long)a->ndpi_guessed,
            (unsigned long long)a->ndpi_pool_full);
}

static void json_defrag(FILE *f, const struct vg_defrag_stats *d)
{
    fprintf(f,
            "\"defrag\":{\"ipv4_fragments\":%llu,\"ipv6_fragments\":%llu,\"ipv4_reassembled\":%llu,"
            "\"ipv6_reassembled\":%llu,\"timeouts\":%llu,\"overlaps\":%llu,"
            "\"overlaps_different\":%llu,\"duplicates\":%llu,\"memcap_drops\":%llu,"
            "\"tracker_table_full\":%llu,\"too_many_fragments\":%llu,\"oversize\":%llu,"
            "\"invalid\":%llu},",
            (unsigned long long)d->ipv4_fragments, (unsigned long long)d->ipv6_fragments,
            (unsigned long long)d->ipv4_reassembled, (unsigned long long)d->ipv6_reassembled,
            (unsigned long long)d->timeouts, (unsigned long long)d->overlaps,
            (unsigned long long)d->overlaps_different, (unsigned long long)d->duplicates,
            (unsigned long long)d->memcap_drops, (unsigned long long)d->tracker_table_full,
            (unsigned long long)d->too_many_fragments, (unsigned long long)d->oversize,
            (unsigned long long)d->invalid);
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ru.ru_maxrss;
}

struct sid_print {
    FILE *out;
    int first;
};

static void print_sid(void *user, uint32_t sid, const char *msg, uint64_t count)
{
    struct sid_print *sp = user;
    fprintf(sp->out, "    %10llu  sid %-9u %s\n", (unsigned long long)count, sid, msg ? msg : "");
}

/* The reader's counters, or the capture's when there is no reader (DPDK). */
static const struct vg_reader_stats *summary_reader_stats(const struct vg_summary *s,
                                                          struct vg_reader_stats *tmp)
{
    if (s->reader != NULL)
        return &s->reader->st;
    memset(tmp, 0, sizeof(*tmp));
    if (s->capture != NULL) {
        tmp->packets = s->capture->packets;
        tmp->bytes = s->capture->bytes;
        tmp->oversize = s->capture->oversize;
        tmp->ring_drops = s->capture->ring_full;
    }
    return tmp;
}

static void print_capture(const struct vg_summary *s, FILE *out)
{
    const struct vg_capture_counters *c = s->capture;
    if (s->nports == 0) {
        fprintf(out,
                "  capture    %" PRIu64 " seen by the kernel, %" PRIu64
                " dropped there (buffer full), %" PRIu64 " by the interface; %" PRIu64
                " dropped (worker ring full)\n",
                c->kernel_packets, c->kernel_drops, c->kernel_ifdrops, c->ring_full);
        return;
    }
    for (unsigned i = 0; i < s->nports; i++) {
        const struct vg_port_summary *p = &s->ports[i];
        if (p->capture) {
            fprintf(out,
                    "  port %-5u %s (%s, link %s): %" PRIu64 " received, %" PRIu64
                    " missed (NIC queue full), %" PRIu64 " no mbuf, %" PRIu64 " errors; per queue",
                    i, p->name, p->driver, p->link_up ? "up" : "down", p->ipackets, p->imissed,
                    p->rx_nombuf, p->ierrors);
            for (unsigned q = 0; q < p->nqueues && q < VG_PORT_MAX_QUEUES; q++)
                fprintf(out, " %" PRIu64, p->q_ipackets[q]);
            fprintf(out, "\n");
        } else {
            fprintf(out,
                    "  port %-5u %s (%s, link %s): tap output, %" PRIu64 " sent, %" PRIu64
                    " errors\n",
                    i, p->name, p->driver, p->link_up ? "up" : "down", p->opackets, p->oerrors);
        }
        if (p->tap_to >= 0 && (unsigned)p->tap_to < s->nports)
            fprintf(out,
                    "  tap        %s -> %s: %" PRIu64 " sent, %" PRIu64
                    " not sent (TX queue full)\n",
                    p->name, s->ports[p->tap_to].name, p->tap_sent, p->tap_dropped);
    }
    fprintf(out, "  dispatch   %" PRIu64 " dropped (worker ring full)\n", c->ring_full);
}

void vg_summary_print(const struct vg_summary *s, FILE *out)
{
    struct summary_totals t;
    summary_totals(s, &t);
    struct vg_reader_stats rd_tmp;
    const struct vg_reader_stats *rd = summary_reader_stats(s, &rd_tmp);
    double secs = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
    fprintf(out, "vigil %s summary for %s\n", VG_VERSION, s->pcap_path);
    fprintf(out, "  packets    %llu read (%.1f MB), %llu analysed, %llu not IP, %llu invalid\n",
            (unsigned long long)rd->packets, (double)rd->bytes / 1e6, (unsigned long long)t.packets,
            (unsigned long long)t.dec.non_ip, (unsigned long long)t.dec.invalid);
    fprintf(out,
            "  flows      %llu (ended: %llu timeout, %llu evicted at the flow cap, %llu at "
            "shutdown; %llu TCP picked up midstream)\n",
            (unsigned long long)t.flows.created, (unsigned long long)t.flows.ended_timeout,
            (unsigned long long)t.flows.ended_forced, (unsigned long long)t.flows.ended_shutdown,
            (unsigned long long)t.flows.tcp_midstream);
    fprintf(out, "  rules      %u loaded, %u skipped, %u dormant\n", s->rules->rules_loaded,
            s->rules->rules_skipped, s->rules->rules_dormant);
    fprintf(out, "  alerts     %llu\n", (unsigned long long)t.alerts);
    struct sid_print sp = {out, 1};
    vg_exporter_foreach_sid(s->exporter, print_sid, &sp);
    if (t.flowbits_refused > 0)
        fprintf(out, "  flowbits   %llu sets refused (the flow held %d flowbits)\n",
                (unsigned long long)t.flowbits_refused, VG_FLOWBITS_PER_FLOW);
    print_detect(out, &t);
    const uint64_t threshold_full =
        s->ruleset != NULL ? vg_ruleset_threshold_table_full(s->ruleset) : 0;
    const uint64_t xbits_full = s->ruleset != NULL ? vg_ruleset_xbits_table_full(s->ruleset) : 0;
    if (xbits_full > 0)
        fprintf(out, "  xbits      %llu sets dropped (table full: detect.xbits.max-entries)\n",
                (unsigned long long)xbits_full);
    if (threshold_full > 0)
        fprintf(out,
                "  thresholds %llu alerts raised untracked (tracking table full: "
                "detect.thresholds.max-entries)\n",
                (unsigned long long)threshold_full);
    if (s->behaviour != NULL) {
        struct vg_behaviour_stats bs;
        vg_behaviour_stats(s->behaviour, &bs);
        bool any = bs.new_egress_table_full > 0;
        for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++)
            any |= vg_behaviour_inactive_reason(s->behaviour, (enum vg_detector)d) == NULL;
        if (any) {
            fprintf(out, "  detectors ");
            for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++) {
                const bool on =
                    vg_behaviour_inactive_reason(s->behaviour, (enum vg_detector)d) == NULL;
                fprintf(out, "%s %s %s", d ? "," : "", vg_detector_name((enum vg_detector)d),
                        on ? "" : "off");
                if (on)
                    fprintf(out, "%llu alerts", (unsigned long long)bs.alerts[d]);
            }
            fprintf(out,
                    "; new-egress %llu pairs, %llu untracked (table full: "
                    "detectors.new-egress.max-tracked)\n",
                    (unsigned long long)bs.new_egress_pairs,
                    (unsigned long long)bs.new_egress_table_full);
        }
    }
    fprintf(out, "  anomalies  %llu", (unsigned long long)t.anomalies);
    const char *sep = ": ";
    for (int e = 0; e < VG_DEC_EVENT_COUNT; e++) {
        if (t.dec.events[e] == 0)
            continue;
        fprintf(out, "%s%s %llu", sep, vg_decode_event_name((enum vg_decode_event)e),
                (unsigned long long)t.dec.events[e]);
        sep = ", ";
    }
    fprintf(out, "\n");
    const struct vg_exporter_stats *xs = vg_exporter_stats(s->exporter);
    fprintf(out,
            "  drops      %llu malformed, %llu bad checksum (-k all), %llu oversize, %llu "
            "events (ring full), %llu event write errors; %llu fragments inspected "
            "without reassembly\n",
            (unsigned long long)t.dec.invalid, (unsigned long long)t.dec.csum_dropped,
            (unsigned long long)rd->oversize, (unsigned long long)t.events_dropped,
            (unsigned long long)xs->write_errors, (unsigned long long)t.fragments);
    print_defrag(out, &t.defrag);
    print_stream(out, &t);
    print_app(out, &t.app);
    if (s->capture != NULL)
        print_capture(s, out);
    double pps = (double)rd->packets / secs;
    double gbps = (double)rd->bytes * 8 / secs / 1e9;
    fprintf(out,
            "  time       %.3f s, %.0f packets/s, %.3f Gbit/s with %u worker%s (%.0f "
            "packets/s per worker)\n",
            s->elapsed_s, pps, gbps, s->nworkers, s->nworkers == 1 ? "" : "s", pps / s->nworkers);
    if (s->reader != NULL && s->reader->preload)
        fprintf(out,
                "  memory     %ld MB peak resident, of which %llu MB is the preloaded capture\n",
                peak_rss_kb() / 1024, (unsigned long long)(s->reader->file_size >> 20));
    else
        fprintf(out, "  memory     %ld MB peak resident\n", peak_rss_kb() / 1024);
    fprintf(out, "  eve        %s (%llu events)\n", s->eve_path,
            (unsigned long long)xs->events_written);
}

struct sid_json {
    FILE *f;
    int first;
};

static void json_ports(FILE *f, const struct vg_port_summary *ports, unsigned nports)
{
    fprintf(f, "\"ports\":[");
    for (unsigned i = 0; i < nports; i++) {
        const struct vg_port_summary *p = &ports[i];
        fprintf(f,
                "%s{\"name\":\"%s\",\"driver\":\"%s\",\"capture\":%s,\"link_up\":%s,"
                "\"ipackets\":%" PRIu64 ",\"ibytes\":%" PRIu64 ",\"imissed\":%" PRIu64
                ",\"ierrors\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64 ",\"opackets\":%" PRIu64
                ",\"oerrors\":%" PRIu64 ",\"queues\":[",
                i ? "," : "", p->name, p->driver, p->capture ? "true" : "false",
                p->link_up ? "true" : "false", p->ipackets, p->ibytes, p->imissed, p->ierrors,
                p->rx_nombuf, p->opackets, p->oerrors);
        for (unsigned q = 0; q < p->nqueues && q < VG_PORT_MAX_QUEUES; q++)
            fprintf(f, "%s{\"ipackets\":%" PRIu64 ",\"errors\":%" PRIu64 "}", q ? "," : "",
                    p->q_ipackets[q], p->q_errors[q]);
        fprintf(f, "]");
        if (p->tap_to >= 0 && (unsigned)p->tap_to < nports)
            fprintf(f, ",\"tap\":{\"to\":\"%s\",\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64 "}",
                    ports[p->tap_to].name, p->tap_sent, p->tap_dropped);
        fprintf(f, "}");
    }
    fprintf(f, "],");
}

/* Live capture: where every packet went before a worker saw it, and what
 * each worker did. */
static void json_capture(const struct vg_summary *s, FILE *f)
{
    const struct vg_capture_counters *c = s->capture;
    fprintf(f,
            "\"capture\":{\"packets\":%" PRIu64 ",\"kernel_packets\":%" PRIu64
            ",\"kernel_drops\":%" PRIu64 ",\"kernel_ifdrops\":%" PRIu64 ",\"errors\":%" PRIu64
            ",\"nic_missed\":%" PRIu64 ",\"nic_nombuf\":%" PRIu64 ",\"worker_ring_full\":%" PRIu64
            ",\"oversize\":%" PRIu64 ",\"tap_sent\":%" PRIu64 ",\"tap_dropped\":%" PRIu64,
            c->packets, c->kernel_packets, c->kernel_drops, c->kernel_ifdrops, c->errors,
            c->nic_missed, c->nic_nombuf, c->ring_full, c->oversize, c->tap_sent, c->tap_dropped);
    /* DPDK: from the first packet received to the last one analysed. */
    if (c->first_us != 0 && c->last_us > c->first_us)
        fprintf(f, ",\"active_s\":%.6f", (double)(c->last_us - c->first_us) / 1e6);
    fprintf(f, "},");
    if (s->nports > 0)
        json_ports(f, s->ports, s->nports);
    fprintf(f, "\"worker_stats\":[");
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct vg_worker *w = &s->workers[i];
        fprintf(f,
                "%s{\"packets\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"alerts\":%" PRIu64
                ",\"events_dropped\":%" PRIu64 ",\"flows\":%" PRIu64 "}",
                i ? "," : "", w->st.packets, w->st.bytes, w->st.alerts, w->st.events_dropped,
                vg_flow_table_stats(w->flows)->created);
    }
    fprintf(f, "],");
}

static void json_sid(void *user, uint32_t sid, const char *msg, uint64_t count)
{
    (void)msg;
    struct sid_json *sj = user;
    fprintf(sj->f, "%s\"%u\":%llu", sj->first ? "" : ",", sid, (unsigned long long)count);
    sj->first = 0;
}

int vg_summary_write_json(const struct vg_summary *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    struct summary_totals t;
    summary_totals(s, &t);
    struct vg_reader_stats rd_tmp;
    const struct vg_reader_stats *rd = summary_reader_stats(s, &rd_tmp);
    const struct vg_exporter_stats *xs = vg_exporter_stats(s->exporter);
    double secs = s->elapsed_s > 0 ? s->elapsed_s : 1e-9;
    fprintf(f,
            "{\"version\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"elapsed_s\":%.6f,"
            "\"workers\":%u,\"pps\":%.1f,\"gbps\":%.4f,\"flows\":%llu,\"alerts\":%llu,",
            VG_VERSION, (unsigned long long)rd->packets, (unsigned long long)rd->bytes,
            s->elapsed_s, s->nworkers, (double)rd->packets / secs,
            (double)rd->bytes * 8 / secs / 1e9, (unsigned long long)t.flows.created,
            (unsigned long long)t.alerts);
    fprintf(f, "\"alerts_by_sid\":{");
    struct sid_json sj = {f, 1};
    vg_exporter_foreach_sid(s->exporter, json_sid, &sj);
    fprintf(
        f, "},\"peak_rss_kb\":%ld,\"preload_bytes\":%llu,", peak_rss_kb(),
        (unsigned long long)(s->reader != NULL && s->reader->preload ? s->reader->file_size : 0));
    fprintf(
        f,
        "\"rules\":{\"loaded\":%u,\"skipped\":%u,\"dormant\":%u,\"flowbits_set_refused\":%llu,"
        "\"threshold_table_full\":%llu,\"xbits_table_full\":%llu},",
        s->rules->rules_loaded, s->rules->rules_skipped, s->rules->rules_dormant,
        (unsigned long long)t.flowbits_refused,
        (unsigned long long)(s->ruleset != NULL ? vg_ruleset_threshold_table_full(s->ruleset) : 0),
        (unsigned long long)(s->ruleset != NULL ? vg_ruleset_xbits_table_full(s->ruleset) : 0));
    json_detect(f, &t);
    struct vg_behaviour_stats bs;
    vg_behaviour_stats(s->behaviour, &bs);
    char detectors[DETECTORS_JSON_MAX];
    detectors_json(detectors, sizeof(detectors), &bs);
    fprintf(f, "\"detectors\":%s,", detectors);
    fprintf(f,
            "\"flow\":{\"created\":%llu,\"timeout\":%llu,\"forced\":%llu,\"shutdown\":%llu,"
            "\"midstream\":%llu},",
            (unsigned long long)t.flows.created, (unsigned long long)t.flows.ended_timeout,
            (unsigned long long)t.flows.ended_forced, (unsigned long long)t.flows.ended_shutdown,
            (unsigned long long)t.flows.tcp_midstream);
    const struct vg_decode_stats *d = &t.dec;
    fprintf(f,
            "\"decoder\":{\"pkts\":%llu,\"bytes\":%llu,\"ethernet\":%llu,\"sll\":%llu,"
            "\"raw\":%llu,\"null\":%llu,\"vlan\":%llu,\"vlan_qinq\":%llu,\"ipv4\":%llu,"
            "\"ipv6\":%llu,\"ipv4_frag\":%llu,\"ipv6_frag\":%llu,\"tcp\":%llu,\"udp\":%llu,"
            "\"icmpv4\":%llu,\"icmpv6\":%llu,\"other_ip_proto\":%llu,\"non_ip\":%llu,"
            "\"invalid\":%llu,",
            (unsigned long long)d->pkts, (unsigned long long)d->bytes,
            (unsigned long long)d->ethernet, (unsigned long long)d->sll, (unsigned long long)d->raw,
            (unsigned long long)d->null, (unsigned long long)d->vlan,
            (unsigned long long)d->vlan_qinq, (unsigned long long)d->ipv4,
            (unsigned long long)d->ipv6, (unsigned long long)d->ipv4_frag,
            (unsigned long long)d->ipv6_frag, (unsigned long long)d->tcp,
            (unsigned long long)d->udp, (unsigned long long)d->icmpv4,
            (unsigned long long)d->icmpv6, (unsigned long long)d->other_ip_proto,
            (unsigned long long)d->non_ip, (unsigned long long)d->invalid);
    fprintf(f,
            "\"mpls\":%llu,\"gre\":%llu,\"gre_pptp\":%llu,\"erspan\":%llu,\"vxlan\":%llu,"
            "\"geneve\":%llu,\"ipv4_in_ipv4\":%llu,\"ipv6_in_ipv4\":%llu,\"ipv4_in_ipv6\":%llu,"
            "\"ipv6_in_ipv6\":%llu,\"teredo\":%llu,\"pppoe\":%llu,\"pppoe_discovery\":%llu,"
            "\"event\":{",
            (unsigned long long)d->mpls, (unsigned long long)d->gre,
            (unsigned long long)d->gre_pptp, (unsigned long long)d->erspan,
            (unsigned long long)d->vxlan, (unsigned long long)d->geneve,
            (unsigned long long)d->ipv4_in_ipv4, (unsigned long long)d->ipv6_in_ipv4,
            (unsigned long long)d->ipv4_in_ipv6, (unsigned long long)d->ipv6_in_ipv6,
            (unsigned long long)d->teredo, (unsigned long long)d->pppoe,
            (unsigned long long)d->pppoe_discovery);
    for (int e = 0; e < VG_DEC_EVENT_COUNT; e++)
        fprintf(f, "%s\"%s\":%llu", e ? "," : "", vg_decode_event_name((enum vg_decode_event)e),
                (unsigned long long)d->events[e]);
    fprintf(f, "}},");
    json_defrag(f, &t.defrag);
    json_stream(f, &t);
    json_app(f, &t.app);
    fprintf(f,
            "\"drops\":{\"malformed\":%llu,\"checksum\":%llu,\"oversize\":%llu,"
            "\"event_ring_full\":%llu,\"event_write_errors\":%llu},",
            (unsigned long long)d->invalid, (unsigned long long)d->csum_dropped,
            (unsigned long long)rd->oversize, (unsigned long long)t.events_dropped,
            (unsigned long long)xs->write_errors);
    fprintf(f, "\"waits\":{\"reader_ring_full\":%llu,\"worker_event_ring_full\":%llu},",
            (unsigned long long)rd->ring_waits, (unsigned long long)t.event_waits);
    if (s->capture != NULL)
        json_capture(s, f);
    fprintf(f, "\"truncated\":%s,\"events_written\":%llu}\n", rd->truncated ? "true" : "false",
            (unsigned long long)xs->events_written);
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the EVE stats event ---- */

#define JU64(j, name, v) vg_jbuf_appendf(j, "\"" name "\":%" PRIu64, (uint64_t)(v))

void vg_stats_event_format(struct vg_jbuf *j, const struct vg_stats_view *v)
{
    char ts[40];
    vg_format_timestamp(v->now_us, ts, sizeof(ts));
    struct vg_worker_stats w;
    struct vg_flow_table_stats fl;
    memset(&w, 0, sizeof(w));
    memset(&fl, 0, sizeof(fl));
    for (unsigned i = 0; i < v->nworkers; i++) {
        w.packets += v->workers[i].packets;
        w.alerts += v->workers[i].alerts;
        w.events_dropped += v->workers[i].events_dropped;
        w.pcre_limit_hits += v->workers[i].pcre_limit_hits;
        w.flowbits_refused += v->workers[i].flowbits_refused;
        w.stream_windows_too_short += v->workers[i].stream_windows_too_short;
        w.stream_pending_overflow += v->workers[i].stream_pending_overflow;
        w.stream_undecided_at_close += v->workers[i].stream_undecided_at_close;
        w.stream_looks_deferred += v->workers[i].stream_looks_deferred;
        fl.created += v->worker_flows[i].created;
        fl.active += v->worker_flows[i].active;
        fl.ended_timeout += v->worker_flows[i].ended_timeout;
        fl.ended_forced += v->worker_flows[i].ended_forced;
        fl.ended_shutdown += v->worker_flows[i].ended_shutdown;
        fl.tcp_midstream += v->worker_flows[i].tcp_midstream;
    }
    const struct vg_capture_counters *c = &v->cap;
    const struct vg_decode_stats *d = &v->dec;

    vg_jbuf_appendf(j, "{\"timestamp\":\"%s\",\"event_type\":\"stats\",\"stats\":{", ts);
    JU64(j, "uptime", v->uptime_s);
    vg_jbuf_appendf(j, ",\"capture\":{");
    JU64(j, "kernel_packets", c->kernel_packets);
    vg_jbuf_appendf(j, ",");
    JU64(j, "kernel_drops", c->kernel_drops);
    vg_jbuf_appendf(j, ",");
    JU64(j, "errors", c->errors);
    vg_jbuf_appendf(j, ",");
    JU64(j, "packets", c->packets);
    vg_jbuf_appendf(j, ",");
    JU64(j, "bytes", c->bytes);
    if (v->dpdk) {
        vg_jbuf_appendf(j,
                        ",\"dpdk\":{\"imissed\":%" PRIu64 ",\"rx_nombuf\":%" PRIu64
                        ",\"ierrors\":%" PRIu64 "},\"ports\":[",
                        c->nic_missed, c->nic_nombuf, c->errors);
        for (unsigned i = 0; i < v->nports; i++) {
            const struct vg_port_summary *p = &v->ports[i];
            vg_jbuf_appendf(j, "%s{\"name\":", i ? "," : "");
            vg_jbuf_append_json_string(j, (const uint8_t *)p->name, strlen(p->name));
            vg_jbuf_appendf(j,
                            ",\"ipackets\":%" PRIu64 ",\"imissed\":%" PRIu64
                            ",\"rx_nombuf\":%" PRIu64 ",\"ierrors\":%" PRIu64
                            ",\"opackets\":%" PRIu64 ",\"queues\":[",
                            p->ipackets, p->imissed, p->rx_nombuf, p->ierrors, p->opackets);
            for (unsigned q = 0; q < p->nqueues && q < VG_PORT_MAX_QUEUES; q++)
                vg_jbuf_appendf(j, "%s%" PRIu64, q ? "," : "", p->q_ipackets[q]);
            vg_jbuf_appendf(j, "]");
            if (p->tap_to >= 0 && (unsigned)p->tap_to < v->nports) {
                const char *to = v->ports[p->tap_to].name;
                vg_jbuf_appendf(j, ",\"tap\":{\"to\":");
                vg_jbuf_append_json_string(j, (const uint8_t *)to, strlen(to));
                vg_jbuf_appendf(j, ",\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64 "}", p->tap_sent,
                                p->tap_dropped);
            }
            vg_jbuf_appendf(j, "}");
        }
        vg_jbuf_appendf(j, "]");
    } else {
        vg_jbuf_appendf(j, ",");
        JU64(j, "kernel_ifdrops", c->kernel_ifdrops);
    }
    vg_jbuf_appendf(j, "},\"decoder\":{");
    JU64(j, "pkts", d->pkts);
    vg_jbuf_appendf(j, ",");
    JU64(j, "bytes", d->bytes);
    vg_jbuf_appendf(j, ",");
    JU64(j, "invalid", d->invalid);
    vg_jbuf_appendf(j, ",");
    JU64(j, "ethernet", d->ethernet);
    vg_jbuf_appendf(j, ",");
    JU64(j, "vlan", d->vlan);
    vg_jbuf_appendf(j, ",");
    JU64(j, "vlan_qinq", d->vlan_qinq);
    vg_jbuf_appendf(j, ",");
    JU64(j, "ipv4", d->ipv4);
    vg_jbuf_appendf(j, ",");
    JU64(j, "ipv6", d->ipv6);
    vg_jbuf_appendf(j, ",");
    JU64(j, "ipv4_frag", d->ipv4_frag);
    vg_jbuf_appendf(j, ",");
    JU64(j, "ipv6_frag", d->ipv6_frag);
    vg_jbuf_appendf(j, ",");
    JU64(j, "tcp", d->tcp);
    vg_jbuf_appendf(j, ",");
    JU64(j, "udp", d->udp);
    vg_jbuf_appendf(j, ",");
    JU64(j, "icmpv4", d->icmpv4);
    vg_jbuf_appendf(j, ",");
    JU64(j, "icmpv6", d->icmpv6);
    vg_jbuf_appendf(j, ",");
    JU64(j, "non_ip", d->non_ip);
    vg_jbuf_appendf(j, ",\"event\":{");
    for (int e = 0; e < VG_DEC_EVENT_COUNT; e++)
        vg_jbuf_appendf(j, "%s\"%s\":%" PRIu64, e ? "," : "",
                        vg_decode_event_name((enum vg_decode_event)e), d->events[e]);
    vg_jbuf_appendf(j, "}},\"flow\":{");
    JU64(j, "total", fl.created);
    vg_jbuf_appendf(j, ",");
    JU64(j, "active", fl.active);
    vg_jbuf_appendf(j, ",");
    JU64(j, "timeout", fl.ended_timeout);
    vg_jbuf_appendf(j, ",");
    JU64(j, "forced", fl.ended_forced);
    vg_jbuf_appendf(j, ",");
    JU64(j, "shutdown", fl.ended_shutdown);
    vg_jbuf_appendf(j, ",");
    JU64(j, "tcp_midstream", fl.tcp_midstream);
    vg_jbuf_appendf(j, "},\"detect\":{");
    JU64(j, "alert", w.alerts);
    /* detection's own bounds, as in the exit summary's detect block */
    vg_jbuf_appendf(j, ",");
    JU64(j, "pcre_limit_hits", w.pcre_limit_hits);
    vg_jbuf_appendf(j, ",");
    JU64(j, "flowbits_set_refused", w.flowbits_refused);
    vg_jbuf_appendf(j, ",\"stream\":{");
    JU64(j, "windows_too_short", w.stream_windows_too_short);
    vg_jbuf_appendf(j, ",");
    JU64(j, "pending_overflow", w.stream_pending_overflow);
    vg_jbuf_appendf(j, ",");
    JU64(j, "undecided_at_close", w.stream_undecided_at_close);
    vg_jbuf_appendf(j, ",");
    JU64(j, "revisits_deferred", w.stream_looks_deferred);
    char detectors[DETECTORS_JSON_MAX];
    detectors_json(detectors, sizeof(detectors), &v->detectors);
    vg_jbuf_appendf(j, "}},\"detectors\":%s", detectors);
    /* Every loss between the wire and the EVE file, by cause. */
    vg_jbuf_appendf(j, ",\"drops\":{");
    JU64(j, "kernel", c->kernel_drops);
    vg_jbuf_appendf(j, ",");
    JU64(j, "interface", c->kernel_ifdrops);
    vg_jbuf_appendf(j, ",");
    JU64(j, "nic_full", c->nic_missed);
    vg_jbuf_appendf(j, ",");
    JU64(j, "no_mbuf", c->nic_nombuf);
    vg_jbuf_appendf(j, ",");
    JU64(j, "nic_errors", c->errors);
    vg_jbuf_appendf(j, ",");
    JU64(j, "worker_ring_full", c->ring_full);
    vg_jbuf_appendf(j, ",");
    JU64(j, "oversize", c->oversize);
    vg_jbuf_appendf(j, ",");
    JU64(j, "malformed", d->invalid);
    vg_jbuf_appendf(j, ",");
    JU64(j, "checksum", d->csum_dropped);
    vg_jbuf_appendf(j, ",");
    JU64(j, "event_ring_full", w.events_dropped + c->anomalies_dropped);
    vg_jbuf_appendf(j, ",");
    JU64(j, "flow_memcap_evictions", fl.ended_forced);
    vg_jbuf_appendf(j, ",");
    JU64(j, "tap_tx_full", c->tap_dropped);
    vg_jbuf_appendf(j, "},\"workers\":[");
    for (unsigned i = 0; i < v->nworkers; i++)
        vg_jbuf_appendf(j,
                        "%s{\"packets\":%" PRIu64 ",\"alerts\":%" PRIu64
                        ",\"flows_active\":%" PRIu64 ",\"events_dropped\":%" PRIu64 "}",
                        i ? "," : "", v->workers[i].packets, v->workers[i].alerts,
                        v->worker_flows[i].active, v->workers[i].events_dropped);
    vg_jbuf_appendf(j, "]}}");
}
