/* The single-producer single-consumer event ring. */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vigil/event.h"

static void make_event(struct vg_event *ev, uint64_t seq)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = VG_EVENT_FLOW;
    ev->ts_us = seq;
    ev->flow_id = ~seq;
    ev->pcap_cnt = seq * 3;
    ev->u.flow.pkts_toserver = seq + 7;
}

static void check_event(const struct vg_event *ev, uint64_t seq)
{
    cr_assert_eq(ev->ts_us, seq, "expected event %llu, got %llu", (unsigned long long)seq,
                 (unsigned long long)ev->ts_us);
    cr_assert_eq(ev->flow_id, ~seq);
    cr_assert_eq(ev->pcap_cnt, seq * 3);
    cr_assert_eq(ev->u.flow.pkts_toserver, seq + 7);
}

Test(event_ring, capacity_rounds_up_to_power_of_two)
{
    struct vg_event_ring *r = vg_event_ring_new(5);
    cr_assert_not_null(r);
    struct vg_event ev;
    unsigned pushed = 0;
    for (uint64_t i = 0; i < 100; i++) {
        make_event(&ev, i);
        if (!vg_event_ring_push(r, &ev))
            break;
        pushed++;
    }
    cr_assert_eq(pushed, 8);
    vg_event_ring_free(r);
}

Test(event_ring, too_large_capacity_is_refused)
{
    cr_assert_null(vg_event_ring_new(UINT32_MAX));
    vg_event_ring_free(NULL);
}

Test(event_ring, empty_pop_returns_zero)
{
    struct vg_event_ring *r = vg_event_ring_new(4);
    struct vg_event out[4];
    cr_assert_eq(vg_event_ring_pop(r, out, 4), 0);
    cr_assert_eq(vg_event_ring_pop(r, out, 0), 0);
    vg_event_ring_free(r);
}

Test(event_ring, full_ring_refuses_then_accepts_after_pop)
{
    struct vg_event_ring *r = vg_event_ring_new(4);
    struct vg_event ev, out[4];
    for (uint64_t i = 0; i < 4; i++) {
        make_event(&ev, i);
        cr_assert(vg_event_ring_push(r, &ev));
    }
    make_event(&ev, 4);
    cr_assert_not(vg_event_ring_push(r, &ev));
    cr_assert_not(vg_event_ring_push(r, &ev));

    cr_assert_eq(vg_event_ring_pop(r, out, 1), 1);
    check_event(&out[0], 0);
    cr_assert(vg_event_ring_push(r, &ev));
    cr_assert_not(vg_event_ring_push(r, &ev));

    cr_assert_eq(vg_event_ring_pop(r, out, 4), 4);
    for (uint64_t i = 0; i < 4; i++)
        check_event(&out[i], i + 1);
    vg_event_ring_free(r);
}

/* Many laps around a small ring with odd batch sizes, so pops straddle the
 * end of the slot array. */
Test(event_ring, wraparound_keeps_order)
{
    struct vg_event_ring *r = vg_event_ring_new(8);
    struct vg_event ev, out[8];
    uint64_t next_push = 0, next_pop = 0;

    for (unsigned lap = 0; lap < 1000; lap++) {
        unsigned want = 1 + lap % 8;
        for (unsigned k = 0; k < want; k++) {
            make_event(&ev, next_push);
            if (!vg_event_ring_push(r, &ev))
                break;
            next_push++;
        }
        uint32_t max = 1 + (lap * 7) % 8;
        uint32_t n = vg_event_ring_pop(r, out, max);
        cr_assert_leq(n, max);
        for (uint32_t i = 0; i < n; i++)
            check_event(&out[i], next_pop++);
    }
    uint32_t n;
    while ((n = vg_event_ring_pop(r, out, 8)) != 0) {
        for (uint32_t i = 0; i < n; i++)
            check_event(&out[i], next_pop++);
    }
    cr_assert_eq(next_pop, next_push);
    cr_assert_gt(next_push, 1000);
    vg_event_ring_free(r);
}

#define THREADED_EVENTS 1000000u

struct producer_arg {
    struct vg_event_ring *r;
    uint64_t full_hits;
};

static void *producer_main(void *p)
{
    struct producer_arg *a = p;
    struct vg_event ev;
    for (uint64_t i = 0; i < THREADED_EVENTS; i++) {
        make_event(&ev, i);
        while (!vg_event_ring_push(a->r, &ev)) {
            a->full_hits++;
            sched_yield();
        }
    }
    return NULL;
}

Test(event_ring, two_threads_no_loss_in_order, .timeout = 60)
{
    struct vg_event_ring *r = vg_event_ring_new(1024);
    cr_assert_not_null(r);
    struct producer_arg arg = {.r = r};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, producer_main, &arg), 0);

    static struct vg_event out[100];
    uint64_t next = 0;
    while (next < THREADED_EVENTS) {
        uint32_t n = vg_event_ring_pop(r, out, VG_ARRAY_SIZE(out));
        if (n == 0) {
            sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < n; i++) {
            /* cheap check per event, full check on a sample */
            if (out[i].ts_us != next)
                cr_assert_fail("event %llu arrived as %llu", (unsigned long long)next,
                               (unsigned long long)out[i].ts_us);
            if ((next & 1023) == 0)
                check_event(&out[i], next);
            next++;
        }
    }
    pthread_join(th, NULL);
    cr_assert_eq(vg_event_ring_pop(r, out, VG_ARRAY_SIZE(out)), 0);
    cr_assert_eq(next, THREADED_EVENTS);
    vg_event_ring_free(r);
}
