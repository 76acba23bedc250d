/* Shared by the parser benchmarks: a transaction sink that counts (and
 * optionally encodes, as the worker would), and a monotonic clock. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "vigil/applayer.h"
#include "vigil/meta.h"

struct sink {
    uint64_t tx;
    uint64_t bytes;
    bool encode;
};

static inline void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct sink *s = user;
    s->tx++;
    if (s->encode) {
        static uint8_t mb[8192];
        struct vg_meta_writer w;
        vg_meta_init(&w, mb, sizeof(mb));
        tx->encode(tx->obj, &w);
        s->bytes += vg_meta_finish(&w);
    }
}

/* The benchmarks feed well-formed traffic: an anomaly means a broken input. */
static inline void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    const char *name = vg_app_event_name(proto, ev);
    fprintf(stderr, "bench: unexpected anomaly %s\n", name != NULL ? name : "?");
    exit(1);
}

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
