/* Dataplane (dataplane/): capture backends, the packet ring that carries
 * packets from a reader to a worker, the worker loop and the runtime that
 * wires threads together. */
#ifndef VIGIL_DATAPLANE_H
#define VIGIL_DATAPLANE_H

#include <stdbool.h>
#include <stdint.h>

#include "vigil/packet.h"

/* ---- packet ring: single producer, single consumer, variable-size records ----
 * Records are 8-byte aligned and contiguous in memory, so a worker decodes a
 * packet in place with no copy beyond the one into the ring. */

struct vg_pktring;

enum vg_pktring_kind {
    VG_REC_PACKET = 1, /* struct vg_packet followed by the packet bytes */
    VG_REC_TICK = 2,   /* uint64_t packet time: the capture clock advanced */
    VG_REC_END = 3,    /* uint64_t packet time of the last packet: no more input */
};

/* bytes is rounded up to a power of two (at least 64 KB). NULL on failure. */
struct vg_pktring *vg_pktring_new(uint64_t bytes);
void vg_pktring_free(struct vg_pktring *r);

/* Producer: room for a record of len bytes, or NULL while the ring is full. */
void *vg_pktring_reserve(struct vg_pktring *r, uint32_t len, uint32_t kind);
/* Producer: publishes the record returned by the last reserve. */
void vg_pktring_commit(struct vg_pktring *r);

/* Consumer: the oldest record, or NULL when the ring is empty. */
const void *vg_pktring_peek(struct vg_pktring *r, uint32_t *len, uint32_t *kind);
/* Consumer: done with the record returned by the last peek. */
void vg_pktring_release(struct vg_pktring *r);

/* Largest record the ring accepts. */
uint32_t vg_pktring_max_record(const struct vg_pktring *r);

/* ---- runtime ---- */

/* Exit codes of the vigil command. */
enum vg_exit_code {
    VG_EXIT_OK = 0,
    VG_EXIT_FATAL = 1,    /* nothing (or not everything asked) could be done */
    VG_EXIT_PROBLEMS = 2, /* the run completed with problems: truncated capture, skipped rules */
};

/* What the command line asked for. */
struct vg_run_opts {
    const char *pcap_path;         /* -r */
    const char *logdir;            /* -l, default "." */
    const char *const *rule_files; /* -S, in order */
    int nrule_files;
    const char *config_path; /* -c */
    const char *const *sets; /* --set key=value, in order */
    int nsets;
    int checksum_mode;        /* enum vg_checksum_mode, or -1 for the default */
    unsigned workers;         /* 0: available cores minus one, at least one */
    bool preload;             /* read the capture into memory before timing */
    bool quiet;               /* no summary and no progress line */
    bool test_only;           /* -T: check config and rules, then exit */
    const char *summary_json; /* write the summary as JSON here */
    const char *iface;        /* -i: live capture through libpcap */
    const char *bpf;          /* --bpf: capture filter for -i */
    bool dpdk;                /* --dpdk: capture from DPDK ports */
    int eal_argc;             /* --dpdk: EAL's arguments, argv[0] first */
    char **eal_argv;
};

/* Runs vigil as asked. Returns an enum vg_exit_code. */
int vg_run(const struct vg_run_opts *o);

#endif
