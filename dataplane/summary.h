/* The summary printed at exit and written as JSON for scripts. */
#ifndef VIGIL_SUMMARY_H
#define VIGIL_SUMMARY_H

#include <stdio.h>

#include "dataplane_int.h"

struct vg_summary {
    const char *pcap_path;
    const char *eve_path;
    double elapsed_s; /* from the first read to the last worker done */
    unsigned nworkers;
    const struct vg_worker *workers;
    const struct vg_reader *reader;
    const struct vg_exporter *exporter;
    const struct vg_ruleset_stats *rules;
};

void vg_summary_print(const struct vg_summary *s, FILE *out);
int vg_summary_write_json(const struct vg_summary *s, const char *path);

#endif
