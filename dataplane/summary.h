/* The summary printed at exit and written as JSON for scripts, and the
 * periodic EVE stats event of live capture. */
#ifndef VIGIL_SUMMARY_H
#define VIGIL_SUMMARY_H

#include <stdio.h>

#include "dataplane_int.h"

struct vg_summary {
    const char *pcap_path; /* what was read: the capture file, or the live source */
    const char *eve_path;
    double elapsed_s; /* from the first read to the last worker done */
    unsigned nworkers;
    const struct vg_worker *workers;
    const struct vg_reader *reader; /* file and libpcap; NULL with DPDK */
    const struct vg_exporter *exporter;
    const struct vg_ruleset_stats *rules;
    const struct vg_ruleset *ruleset;     /* for its run-time counters; may be NULL */
    const struct vg_behaviour *behaviour; /* the detectors' counters; may be NULL */
    /* Live capture (libpcap or DPDK); all NULL / 0 when reading a file. */
    const struct vg_capture_counters *capture;
    const struct vg_decode_stats *dec; /* decoder totals; NULL: the reader's */
    const struct vg_port_summary *ports;
    unsigned nports;
};

void vg_summary_print(const struct vg_summary *s, FILE *out);
int vg_summary_write_json(const struct vg_summary *s, const char *path);

/* What one stats event reports: counters as last published by every
 * thread (see vg_counters_read). */
struct vg_stats_view {
    uint64_t now_us;
    uint64_t uptime_s;
    bool dpdk;
    struct vg_capture_counters cap;
    struct vg_decode_stats dec;
    unsigned nworkers;
    const struct vg_worker_stats *workers;
    const struct vg_flow_table_stats *worker_flows;
    unsigned nports;
    const struct vg_port_summary *ports;
    struct vg_behaviour_stats detectors; /* shared by the workers, read as they run */
};

/* Appends a Suricata-layout EVE stats event (no trailing newline):
 * {"timestamp":..,"event_type":"stats","stats":{"uptime":..,"capture":{
 * "kernel_packets","kernel_drops","errors",..},"decoder":{..},"flow":{..},
 * "detect":{"alert":.., detection's bounds},"detectors":{..},"drops":{..},
 * "workers":[..]}}. */
void vg_stats_event_format(struct vg_jbuf *j, const struct vg_stats_view *v);

#endif
