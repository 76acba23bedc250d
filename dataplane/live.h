/* Live capture support shared by the libpcap and DPDK backends: the stats
 * thread that appends EVE "stats" events to the EVE file. */
#ifndef VIGIL_LIVE_H
#define VIGIL_LIVE_H

#include "dataplane_int.h"

#define VG_LIVE_MAX_PORTS 32

/* Where the stats thread gets the capture side's counters. read is called
 * from the stats thread and must only read published counters; ports is
 * NULL unless the source has ports (DPDK). */
struct vg_live_source {
    void (*read)(void *ctx, struct vg_capture_counters *cap, struct vg_decode_stats *dec);
    unsigned (*ports)(void *ctx, struct vg_port_summary *out, unsigned max);
    void *ctx;
};

struct vg_stats_thread;

/* Prepares a stats writer appending to eve_path every interval_s seconds
 * (0: only the final event). NULL with a message in err on failure. */
struct vg_stats_thread *vg_stats_thread_new(const char *eve_path, unsigned interval_s,
                                            const struct vg_worker *workers, unsigned nworkers,
                                            const struct vg_live_source *src, char *err,
                                            size_t errlen);
/* Starts the periodic thread. Returns 0 or an errno value. */
int vg_stats_thread_start(struct vg_stats_thread *s);
void vg_stats_thread_stop(struct vg_stats_thread *s);
/* Stops the thread and writes one last event: call once every worker has
 * stopped and published its final counters. */
void vg_stats_thread_final(struct vg_stats_thread *s);
void vg_stats_thread_free(struct vg_stats_thread *s);

#endif
