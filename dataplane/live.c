/* Live operation: the stop signal, counters shared between threads, and the
 * stats thread that appends periodic EVE "stats" events while live capture
 * (libpcap or DPDK) runs. Nothing here is on the packet path. */
#include "dataplane_int.h"
#include "live.h"
#include "summary.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

atomic_bool vg_stop_flag;
atomic_bool vg_reload_flag;

static void on_stop_signal(int sig)
{
    (void)sig;
    atomic_store_explicit(&vg_stop_flag, true, memory_order_relaxed);
}

static void on_reload_signal(int sig)
{
    (void)sig;
    atomic_store_explicit(&vg_reload_flag, true, memory_order_relaxed);
}

void vg_signals_hold_reload(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_reload_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

void vg_signals_install(bool live)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* No SA_RESTART: a blocking call returns, so its loop sees the flag. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* SIGHUP must not cut a read short: the reload thread polls its flag. */
    sa.sa_handler = live ? on_reload_signal : SIG_IGN;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
}

/* ---- dataset reload on SIGHUP ---- */

static void *reload_main(void *arg)
{
    struct vg_reload_thread *t = arg;
    const struct timespec step = {0, 100 * 1000 * 1000};
    while (!atomic_load_explicit(&t->stop, memory_order_acquire)) {
        nanosleep(&step, NULL);
        if (!atomic_exchange_explicit(&vg_reload_flag, false, memory_order_relaxed))
            continue;
        struct vg_reload_stats st;
        vg_ruleset_reload_lists(t->rs, stderr, vg_workers_wait_quiescent, &t->group, &st);
        fprintf(stderr, "vigil: reloaded IOC lists: %u datasets (%llu entries), %u failed\n",
                st.datasets_reloaded, (unsigned long long)st.entries, st.datasets_failed);
    }
    return NULL;
}

int vg_reload_thread_start(struct vg_reload_thread *t, struct vg_ruleset *rs,
                           struct vg_worker *workers, unsigned nworkers)
{
    memset(t, 0, sizeof(*t));
    t->rs = rs;
    t->group = (struct vg_worker_group){.workers = workers, .n = nworkers};
    atomic_init(&t->stop, false);
    int rc = pthread_create(&t->thread, NULL, reload_main, t);
    if (rc != 0)
        return rc;
    pthread_setname_np(t->thread, "vg-reload");
    t->running = true;
    return 0;
}

void vg_reload_thread_stop(struct vg_reload_thread *t)
{
    if (!t->running)
        return;
    atomic_store_explicit(&t->stop, true, memory_order_release);
    pthread_join(t->thread, NULL);
    t->running = false;
}

void vg_counters_publish(void *dst, const void *src, size_t bytes)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
        __atomic_store_n(&d[i], s[i], __ATOMIC_RELAXED);
}

void vg_counters_read(void *dst, const void *src, size_t bytes)
{
    uint64_t *d = dst;
    const uint64_t *s = src;
    for (size_t i = 0; i < bytes / sizeof(uint64_t); i++)
        d[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

void vg_reader_read_counters(void *reader, struct vg_capture_counters *cap,
                             struct vg_decode_stats *dec)
{
    struct vg_reader *r = reader;
    vg_counters_read(cap, &r->pub_cap, sizeof(*cap));
    vg_counters_read(dec, &r->pub_dec, sizeof(*dec));
}

/* ---- stats events ---- */

struct vg_stats_thread {
    struct vg_live_source src;
    const struct vg_worker *workers;
    unsigned nworkers;
    unsigned interval_s;
    uint64_t start_us;
    int fd;
    pthread_t thread;
    bool running;
    atomic_bool stop;
    struct vg_jbuf buf;
    struct vg_stats_view view;
    struct vg_worker_stats *wst;
    struct vg_flow_table_stats *wflows;
    struct vg_port_summary *ports;
    uint64_t write_errors;
};

static uint64_t realtime_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000u;
}

/* Gathers the latest published counters into the view. */
static void stats_collect(struct vg_stats_thread *s)
{
    struct vg_stats_view *v = &s->view;
    memset(&v->cap, 0, sizeof(v->cap));
    memset(&v->dec, 0, sizeof(v->dec));
    s->src.read(s->src.ctx, &v->cap, &v->dec);
    for (unsigned i = 0; i < s->nworkers; i++) {
        vg_counters_read(&s->wst[i], &s->workers[i].pub_st, sizeof(s->wst[i]));
        vg_counters_read(&s->wflows[i], &s->workers[i].pub_flows, sizeof(s->wflows[i]));
        /* datagrams the worker rebuilt and decoded itself */
        struct vg_decode_stats wdec;
        vg_counters_read(&wdec, &s->workers[i].pub_dec, sizeof(wdec));
        vg_decode_stats_add(&v->dec, &wdec);
    }
    vg_behaviour_stats(s->nworkers > 0 ? s->workers[0].behaviour : NULL, &v->detectors);
    v->nports = s->src.ports != NULL ? s->src.ports(s->src.ctx, s->ports, VG_LIVE_MAX_PORTS) : 0;
    v->now_us = realtime_us();
    v->uptime_s = (v->now_us - s->start_us) / 1000000u;
}

/* Appends one event with a single write() on an O_APPEND descriptor: the
 * exporter writes whole lines the same way, so lines never interleave. */
static void stats_write(struct vg_stats_thread *s)
{
    vg_jbuf_reset(&s->buf);
    vg_stats_event_format(&s->buf, &s->view);
    vg_jbuf_append(&s->buf, "\n", 1);
    if (s->buf.truncated) {
        s->write_errors++;
        return;
    }
    const char *p = s->buf.buf;
    size_t left = s->buf.len;
    while (left > 0) {
        ssize_t n = write(s->fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            s->write_errors++;
            return;
        }
        p += n;
        left -= (size_t)n;
    }
}

static void *stats_main(void *arg)
{
    struct vg_stats_thread *s = arg;
    uint64_t next = s->start_us + (uint64_t)s->interval_s * 1000000u;
    while (!atomic_load_explicit(&s->stop, memory_order_acquire)) {
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
        uint64_t now = realtime_us();
        if (now < next)
            continue;
        next += (uint64_t)s->interval_s * 1000000u;
        if (next <= now) /* the clock jumped: start counting again from now */
            next = now + (uint64_t)s->interval_s * 1000000u;
        stats_collect(s);
        stats_write(s);
    }
    return NULL;
}

struct vg_stats_thread *vg_stats_thread_new(const char *eve_path, unsigned interval_s,
                                            const struct vg_worker *workers, unsigned nworkers,
                                            const struct vg_live_source *src, char *err,
                                            size_t errlen)
{
    struct vg_stats_thread *s = calloc(1, sizeof(*s));
    if (s == NULL)
        goto oom;
    s->fd = -1;
    s->src = *src;
    s->workers = workers;
    s->nworkers = nworkers;
    s->interval_s = interval_s;
    s->start_us = realtime_us();
    atomic_init(&s->stop, false);
    vg_jbuf_init(&s->buf);
    s->wst = calloc(nworkers ? nworkers : 1, sizeof(*s->wst));
    s->wflows = calloc(nworkers ? nworkers : 1, sizeof(*s->wflows));
    s->ports = calloc(VG_LIVE_MAX_PORTS, sizeof(*s->ports));
    if (s->buf.buf == NULL || s->wst == NULL || s->wflows == NULL || s->ports == NULL)
        goto oom;
    s->view.dpdk = src->ports != NULL;
    s->view.nworkers = nworkers;
    s->view.workers = s->wst;
    s->view.worker_flows = s->wflows;
    s->view.ports = s->ports;
    s->fd = open(eve_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        snprintf(err, errlen, "%s: %s", eve_path, strerror(errno));
        vg_stats_thread_free(s);
        return NULL;
    }
    return s;
oom:
    snprintf(err, errlen, "stats: out of memory");
    vg_stats_thread_free(s);
    return NULL;
}

int vg_stats_thread_start(struct vg_stats_thread *s)
{
    if (s->interval_s == 0)
        return 0;
    int rc = pthread_create(&s->thread, NULL, stats_main, s);
    if (rc != 0)
        return rc;
    pthread_setname_np(s->thread, "vg-stats");
    s->running = true;
    return 0;
}

void vg_stats_thread_stop(struct vg_stats_thread *s)
{
    if (s == NULL || !s->running)
        return;
    atomic_store_explicit(&s->stop, true, memory_order_release);
    pthread_join(s->thread, NULL);
    s->running = false;
}

void vg_stats_thread_final(struct vg_stats_thread *s)
{
    vg_stats_thread_stop(s);
    stats_collect(s);
    stats_write(s);
}

void vg_stats_thread_free(struct vg_stats_thread *s)
{
    if (s == NULL)
        return;
    vg_stats_thread_stop(s);
    if (s->fd >= 0)
        close(s->fd);
    vg_jbuf_free(&s->buf);
    free(s->wst);
    free(s->wflows);
    free(s->ports);
    free(s);
}
