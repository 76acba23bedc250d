/* The exporter thread: drains the workers' event rings round-robin, formats
 * EVE JSON into one large buffer and writes it out in big blocks.
 *
 * Workers never wait for it: when every ring is empty it sleeps a little
 * instead of blocking on anything a producer would have to signal. Stats
 * are written only by the exporter thread, with relaxed atomic stores so
 * another thread may read them while it runs (exact once it has stopped). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vigil/event.h"

#define EXPORT_BATCH       (64 + VG_EVENT_MAX_SLOTS) /* ring slots popped at a time */
#define EXPORT_FLUSH_BYTES (256u * 1024u)            /* write when the buffer reaches this */
#define EXPORT_IDLE_SPINS  16                        /* empty rounds before sleeping */
#define EXPORT_IDLE_NS     (200L * 1000L)            /* sleep when idle */
#define SID_TABLE_INITIAL  256                       /* slots; a power of two */

struct sid_slot {
    uint32_t sid;
    uint32_t used;
    const char *msg;
    uint64_t count;
};

struct vg_exporter {
    int fd;
    uint32_t nrings;
    struct vg_event_ring **rings;
    struct vg_eve_opts opts;
    char *pcap_filename;
    char *in_iface;

    pthread_t thread;
    bool started;
    bool stopped;
    atomic_bool stop;

    struct vg_event batch[EXPORT_BATCH];
    struct vg_jbuf out;
    uint64_t out_events; /* events in out, not yet written */

    struct sid_slot *sids;
    uint32_t sid_cap; /* power of two, or 0 when the table could not be made */
    uint32_t sid_used;

    struct vg_exporter_stats stats;
};

static void stat_add(uint64_t *counter, uint64_t n)
{
    __atomic_store_n(counter, *counter + n, __ATOMIC_RELAXED);
}

/* ---- per-sid alert counts: open addressing, linear probing ---- */

static uint32_t sid_hash(uint32_t sid)
{
    /* Fibonacci hashing spreads sequential sids over the table */
    return (uint32_t)((sid * UINT64_C(0x9E3779B97F4A7C15)) >> 32);
}

static struct sid_slot *sid_find_slot(struct sid_slot *tab, uint32_t cap, uint32_t sid)
{
    uint32_t mask = cap - 1;
    uint32_t i = sid_hash(sid) & mask;
    while (tab[i].used && tab[i].sid != sid)
        i = (i + 1) & mask;
    return &tab[i];
}

static bool sid_grow(struct vg_exporter *x)
{
    uint32_t ncap = x->sid_cap != 0 ? x->sid_cap * 2 : SID_TABLE_INITIAL;
    if (ncap < x->sid_cap)
        return false;
    struct sid_slot *nt = calloc(ncap, sizeof(*nt));
    if (nt == NULL)
        return false;
    for (uint32_t i = 0; i < x->sid_cap; i++) {
        if (x->sids[i].used)
            *sid_find_slot(nt, ncap, x->sids[i].sid) = x->sids[i];
    }
    free(x->sids);
    x->sids = nt;
    x->sid_cap = ncap;
    return true;
}

static void sid_count(struct vg_exporter *x, const struct vg_rule_meta *rule)
{
    if (rule == NULL)
        return;
    struct sid_slot *s = sid_find_slot(x->sids, x->sid_cap, rule->sid);
    if (!s->used) {
        /* keep the load at or under 1/2; when growing fails, go on filling
         * the table we have but leave one slot free, as probing needs it */
        if ((uint64_t)(x->sid_used + 1) * 2 > x->sid_cap) {
            if (sid_grow(x))
                s = sid_find_slot(x->sids, x->sid_cap, rule->sid);
            else if (x->sid_used + 1 >= x->sid_cap)
                return;
        }
        s->used = 1;
        s->sid = rule->sid;
        s->msg = rule->msg;
        x->sid_used++;
    }
    s->count++;
}

static int sid_cmp(const void *a, const void *b)
{
    const struct sid_slot *x = *(const struct sid_slot *const *)a;
    const struct sid_slot *y = *(const struct sid_slot *const *)b;
    return (x->sid > y->sid) - (x->sid < y->sid);
}

/* Reads the table without a lock: call it once the exporter has stopped. */
void vg_exporter_foreach_sid(const struct vg_exporter *x,
                             void (*fn)(void *user, uint32_t sid, const char *msg, uint64_t count),
                             void *user)
{
    if (x == NULL || x->sid_used == 0)
        return;

    const struct sid_slot **order = malloc((size_t)x->sid_used * sizeof(*order));
    if (order != NULL) {
        uint32_t n = 0;
        for (uint32_t i = 0; i < x->sid_cap; i++) {
            if (x->sids[i].used)
                order[n++] = &x->sids[i];
        }
        qsort(order, n, sizeof(*order), sid_cmp);
        for (uint32_t i = 0; i < n; i++)
            fn(user, order[i]->sid, order[i]->msg, order[i]->count);
        free(order);
        return;
    }

    /* no memory for sorting: walk the sids in order by repeated scans */
    uint64_t next = 0;
    for (;;) {
        const struct sid_slot *best = NULL;
        for (uint32_t i = 0; i < x->sid_cap; i++) {
            const struct sid_slot *s = &x->sids[i];
            if (s->used && s->sid >= next && (best == NULL || s->sid < best->sid))
                best = s;
        }
        if (best == NULL)
            return;
        fn(user, best->sid, best->msg, best->count);
        next = (uint64_t)best->sid + 1;
    }
}

/* ---- output ---- */

/* Writes the whole buffer. A failed write is counted and its events are
 * lost; the exporter keeps going. */
static void flush_out(struct vg_exporter *x)
{
    const char *p = x->out.buf;
    size_t left = x->out.len;
    bool ok = true;

    while (left > 0) {
        ssize_t n = write(x->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ok = false;
            break;
        }
        if (n == 0) {
            ok = false;
            break;
        }
        p += n;
        left -= (size_t)n;
    }
    if (ok) {
        stat_add(&x->stats.events_written, x->out_events);
    } else {
        stat_add(&x->stats.write_errors, 1);
        /* end a half-written line so the next record starts on its own */
        if (p != x->out.buf && p[-1] != '\n' && write(x->fd, "\n", 1) < 0)
            stat_add(&x->stats.write_errors, 1);
    }
    x->out_events = 0;
    vg_jbuf_reset(&x->out);
}

static void export_event(struct vg_exporter *x, const struct vg_event *ev)
{
    size_t start = x->out.len;

    vg_eve_format(&x->out, ev, &x->opts);
    vg_jbuf_append(&x->out, "\n", 1);
    if (VG_UNLIKELY(x->out.truncated)) {
        /* out of memory: drop this record whole rather than write half */
        x->out.truncated = false;
        x->out.len = start;
        if (x->out.buf != NULL)
            x->out.buf[start] = '\0';
        stat_add(&x->stats.write_errors, 1);
        return;
    }
    x->out_events++;

    switch (ev->type) {
    case VG_EVENT_ALERT:
        stat_add(&x->stats.alerts, 1);
        sid_count(x, ev->u.alert.rule);
        break;
    case VG_EVENT_FLOW:
        stat_add(&x->stats.flows, 1);
        break;
    case VG_EVENT_ANOMALY:
        stat_add(&x->stats.anomalies, 1);
        break;
    case VG_EVENT_APP:
        stat_add(&x->stats.app_records, 1);
        break;
    default:
        break;
    }
}

/* One pass over every ring. Returns how many events it handled. */
static uint64_t drain_round(struct vg_exporter *x)
{
    uint64_t total = 0;
    for (uint32_t r = 0; r < x->nrings; r++) {
        uint32_t n = vg_event_ring_pop(x->rings[r], x->batch, EXPORT_BATCH);
        for (uint32_t i = 0; i < n; i += vg_event_slots(&x->batch[i])) {
            export_event(x, &x->batch[i]);
            total++;
        }
        if (x->out.len >= EXPORT_FLUSH_BYTES)
            flush_out(x);
    }
    return total;
}

static void *exporter_main(void *arg)
{
    struct vg_exporter *x = arg;
    unsigned idle = 0;

    for (;;) {
        /* read the flag before the round: once it is set, producers are
         * done, so a round that finds every ring empty has seen it all */
        bool stopping = atomic_load_explicit(&x->stop, memory_order_acquire);
        if (drain_round(x) != 0) {
            idle = 0;
            continue;
        }
        if (x->out.len > 0)
            flush_out(x);
        if (stopping)
            break;
        if (++idle < EXPORT_IDLE_SPINS)
            continue;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = EXPORT_IDLE_NS};
        nanosleep(&ts, NULL);
    }
    if (x->out.len > 0)
        flush_out(x);
    return NULL;
}

/* ---- life cycle ---- */

struct vg_exporter *vg_exporter_new(const char *eve_path, struct vg_event_ring *const *rings,
                                    uint32_t nrings, const struct vg_eve_opts *opts, char *err,
                                    size_t errlen)
{
    struct vg_exporter *x = calloc(1, sizeof(*x));
    if (x == NULL)
        goto nomem;
    x->fd = -1;
    atomic_init(&x->stop, false);

    if (nrings > 0) {
        x->rings = calloc(nrings, sizeof(*x->rings));
        if (x->rings == NULL)
            goto nomem;
        memcpy(x->rings, rings, (size_t)nrings * sizeof(*x->rings));
    }
    x->nrings = nrings;

    if (opts != NULL)
        x->opts = *opts;
    /* own copies of the strings, so the caller's may go away */
    if (x->opts.pcap_filename != NULL) {
        x->pcap_filename = strdup(x->opts.pcap_filename);
        if (x->pcap_filename == NULL)
            goto nomem;
        x->opts.pcap_filename = x->pcap_filename;
    }
    if (x->opts.in_iface != NULL) {
        x->in_iface = strdup(x->opts.in_iface);
        if (x->in_iface == NULL)
            goto nomem;
        x->opts.in_iface = x->in_iface;
    }

    vg_jbuf_init(&x->out);
    if (x->out.buf == NULL)
        goto nomem;
    /* room for a full block plus the record that crosses the threshold */
    size_t want = EXPORT_FLUSH_BYTES + 64u * 1024u;
    char *nb = realloc(x->out.buf, want);
    if (nb == NULL)
        goto nomem;
    x->out.buf = nb;
    x->out.cap = want;

    if (!sid_grow(x))
        goto nomem;

    x->fd = open(eve_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (x->fd < 0) {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "%s: %s", eve_path, strerror(errno));
        vg_exporter_free(x);
        return NULL;
    }
    return x;

nomem:
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "exporter: out of memory");
    vg_exporter_free(x);
    return NULL;
}

int vg_exporter_start(struct vg_exporter *x)
{
    if (x->started || x->stopped)
        return EINVAL;
    int rc = pthread_create(&x->thread, NULL, exporter_main, x);
    if (rc != 0)
        return rc;
    pthread_setname_np(x->thread, "vg-export");
    x->started = true;
    return 0;
}

void vg_exporter_stop(struct vg_exporter *x)
{
    if (x == NULL || x->stopped)
        return;
    atomic_store_explicit(&x->stop, true, memory_order_release);
    if (x->started)
        pthread_join(x->thread, NULL);
    else
        exporter_main(x); /* never started: drain here */
    x->stopped = true;
}

void vg_exporter_free(struct vg_exporter *x)
{
    if (x == NULL)
        return;
    if (x->started && !x->stopped)
        vg_exporter_stop(x);
    if (x->fd >= 0)
        close(x->fd);
    vg_jbuf_free(&x->out);
    free(x->sids);
    free(x->rings);
    free(x->pcap_filename);
    free(x->in_iface);
    free(x);
}

const struct vg_exporter_stats *vg_exporter_stats(const struct vg_exporter *x)
{
    return &x->stats;
}
