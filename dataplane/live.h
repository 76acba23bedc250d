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

/* Live mode: a thread that waits for SIGHUP (vg_reload_flag, polled every
 * 100 ms) and reloads the rule set's dataset lists while the workers keep
 * matching, then prints one line on stderr. Rules and iprep lists are not
 * reloaded. */
struct vg_reload_thread {
    struct vg_ruleset *rs;
    struct vg_worker_group group;
    pthread_t thread;
    bool running;
    atomic_bool stop;
};
/* Returns 0 or an errno value. */
int vg_reload_thread_start(struct vg_reload_thread *t, struct vg_ruleset *rs,
                           struct vg_worker *workers, unsigned nworkers);
/* Waits for a reload in progress to end; safe when never started. */
void vg_reload_thread_stop(struct vg_reload_thread *t);

#endif
