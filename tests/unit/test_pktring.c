#include <criterion/criterion.h>
#include <pthread.h>
#include <string.h>

#include "vigil/dataplane.h"

Test(pktring, records_come_out_in_order_across_wraps)
{
    struct vg_pktring *r = vg_pktring_new(65536);
    cr_assert_not_null(r);
    uint8_t buf[3000];
    for (int round = 0; round < 1000; round++) {
        uint32_t len = (uint32_t)(1 + (round * 977) % 2999);
        uint8_t *slot = vg_pktring_reserve(r, len, VG_REC_PACKET);
        cr_assert_not_null(slot);
        memset(slot, round & 0xff, len);
        vg_pktring_commit(r);
        uint32_t got_len, kind;
        const uint8_t *rec = vg_pktring_peek(r, &got_len, &kind);
        cr_assert_not_null(rec);
        cr_assert_eq(got_len, len);
        cr_assert_eq(kind, VG_REC_PACKET);
        memset(buf, round & 0xff, len);
        cr_assert_eq(memcmp(rec, buf, len), 0);
        vg_pktring_release(r);
        cr_assert_null(vg_pktring_peek(r, &got_len, &kind));
    }
    vg_pktring_free(r);
}

Test(pktring, full_ring_refuses_and_oversize_is_refused)
{
    struct vg_pktring *r = vg_pktring_new(65536);
    int n = 0;
    while (vg_pktring_reserve(r, 1000, VG_REC_PACKET) != NULL) {
        vg_pktring_commit(r);
        n++;
    }
    cr_assert(n > 50 && n <= 65, "about 64 records of ~1 KB fit, got %d", n);
    cr_assert_null(vg_pktring_reserve(r, vg_pktring_max_record(r) + 1, VG_REC_PACKET));
    uint32_t len, kind;
    cr_assert_not_null(vg_pktring_peek(r, &len, &kind));
    vg_pktring_release(r);
    cr_assert_not_null(vg_pktring_reserve(r, 1000, VG_REC_PACKET), "room after a release");
    vg_pktring_free(r);
}

#define THREADED_RECORDS 500000

static void *producer(void *arg)
{
    struct vg_pktring *r = arg;
    for (uint32_t i = 0; i < THREADED_RECORDS; i++) {
        uint32_t len = 8 + (i % 1500);
        uint8_t *slot;
        while ((slot = vg_pktring_reserve(r, len, VG_REC_PACKET)) == NULL)
            ;
        memcpy(slot, &i, sizeof(i));
        memset(slot + 4, (int)(i & 0xff), len - 4);
        vg_pktring_commit(r);
    }
    return NULL;
}

Test(pktring, two_threads_lose_nothing)
{
    struct vg_pktring *r = vg_pktring_new(1 << 17);
    pthread_t t;
    pthread_create(&t, NULL, producer, r);
    for (uint32_t i = 0; i < THREADED_RECORDS; i++) {
        uint32_t len, kind;
        const uint8_t *rec;
        while ((rec = vg_pktring_peek(r, &len, &kind)) == NULL)
            ;
        uint32_t seq;
        memcpy(&seq, rec, sizeof(seq));
        cr_assert_eq(seq, i);
        cr_assert_eq(len, 8 + (i % 1500));
        cr_assert_eq(rec[len - 1], (uint8_t)(i & 0xff));
        vg_pktring_release(r);
    }
    pthread_join(t, NULL);
    vg_pktring_free(r);
}
