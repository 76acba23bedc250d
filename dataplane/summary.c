/* Exit summary: one screen for people, one JSON object for scripts. */
#include "summary.h"

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
    uint64_t anomalies;
};

static void summary_totals(const struct vg_summary *s, struct summary_totals *t)
{
    memset(t, 0, sizeof(*t));
    t->dec = s->reader->dec;
    for (unsigned i = 0; i < s->nworkers; i++) {
        const struct vg_worker *w = &s->workers[i];
        t->packets += w->st.packets;
        t->bytes += w->st.bytes;
        t->alerts += w->st.alerts;
        t->events_dropped += w->st.events_dropped;
        t->event_waits += w->st.event_waits;
        t->fragments += w->st.fragments_unreassembled;
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

void vg_summary_print(const struct vg_summary *s, FILE *out)
{
    struct summary_totals t;
    summary_totals(s, &t);
    const struct vg_reader_stats *rd = &s->reader->st;
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
    fprintf(out, "  rules      %u loaded, %u skipped\n", s->rules->rules_loaded,
            s->rules->rules_skipped);
    fprintf(out, "  alerts     %llu\n", (unsigned long long)t.alerts);
    struct sid_print sp = {out, 1};
    vg_exporter_foreach_sid(s->exporter, print_sid, &sp);
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
    double pps = (double)rd->packets / secs;
    double gbps = (double)rd->bytes * 8 / secs / 1e9;
    fprintf(out,
            "  time       %.3f s, %.0f packets/s, %.3f Gbit/s with %u worker%s (%.0f "
            "packets/s per worker)\n",
            s->elapsed_s, pps, gbps, s->nworkers, s->nworkers == 1 ? "" : "s", pps / s->nworkers);
    if (s->reader->preload)
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
    const struct vg_reader_stats *rd = &s->reader->st;
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
    fprintf(f, "},\"peak_rss_kb\":%ld,\"preload_bytes\":%llu,", peak_rss_kb(),
            (unsigned long long)(s->reader->preload ? s->reader->file_size : 0));
    fprintf(f, "\"rules\":{\"loaded\":%u,\"skipped\":%u},", s->rules->rules_loaded,
            s->rules->rules_skipped);
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
            "\"invalid\":%llu,\"event\":{",
            (unsigned long long)d->pkts, (unsigned long long)d->bytes,
            (unsigned long long)d->ethernet, (unsigned long long)d->sll, (unsigned long long)d->raw,
            (unsigned long long)d->null, (unsigned long long)d->vlan,
            (unsigned long long)d->vlan_qinq, (unsigned long long)d->ipv4,
            (unsigned long long)d->ipv6, (unsigned long long)d->ipv4_frag,
            (unsigned long long)d->ipv6_frag, (unsigned long long)d->tcp,
            (unsigned long long)d->udp, (unsigned long long)d->icmpv4,
            (unsigned long long)d->icmpv6, (unsigned long long)d->other_ip_proto,
            (unsigned long long)d->non_ip, (unsigned long long)d->invalid);
    for (int e = 0; e < VG_DEC_EVENT_COUNT; e++)
        fprintf(f, "%s\"%s\":%llu", e ? "," : "", vg_decode_event_name((enum vg_decode_event)e),
                (unsigned long long)d->events[e]);
    fprintf(f, "}},");
    fprintf(f,
            "\"drops\":{\"malformed\":%llu,\"checksum\":%llu,\"oversize\":%llu,"
            "\"event_ring_full\":%llu,\"event_write_errors\":%llu},",
            (unsigned long long)d->invalid, (unsigned long long)d->csum_dropped,
            (unsigned long long)rd->oversize, (unsigned long long)t.events_dropped,
            (unsigned long long)xs->write_errors);
    fprintf(f, "\"waits\":{\"reader_ring_full\":%llu,\"worker_event_ring_full\":%llu},",
            (unsigned long long)rd->ring_waits, (unsigned long long)t.event_waits);
    fprintf(f, "\"truncated\":%s,\"events_written\":%llu}\n", rd->truncated ? "true" : "false",
            (unsigned long long)xs->events_written);
    return fclose(f) == 0 ? 0 : -1;
}
