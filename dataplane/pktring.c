/* Single-producer single-consumer ring of variable-size records.
 *
 * Positions grow without wrapping (64-bit); the offset in the buffer is the
 * position masked by the size. A record that would cross the end of the
 * buffer is preceded by a skip marker, so every record is contiguous. */
#include "vigil/dataplane.h"
#include "vigil/common.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct vg_pktring_hdr {
    uint32_t len;  /* payload bytes */
    uint32_t kind; /* enum vg_pktring_kind, or RING_SKIP */
};

#define RING_SKIP  0xffffffffu
#define RING_ALIGN 8u

struct vg_pktring {
    /* producer side */
    _Atomic uint64_t head VG_CACHE_ALIGNED;
    uint64_t head_reserved; /* end of the reserved record, published by commit */
    uint64_t tail_cache;
    /* consumer side */
    _Atomic uint64_t tail VG_CACHE_ALIGNED;
    uint64_t tail_next;
    uint64_t head_cache;
    /* shared, read-only */
    uint8_t *buf VG_CACHE_ALIGNED;
    uint64_t size;
    uint64_t mask;
};

static inline uint64_t align_up(uint64_t v)
{
    return (v + RING_ALIGN - 1) & ~(uint64_t)(RING_ALIGN - 1);
}

struct vg_pktring *vg_pktring_new(uint64_t bytes)
{
    uint64_t size = 65536;
    while (size < bytes)
        size <<= 1;
    struct vg_pktring *r = aligned_alloc(VG_CACHE_LINE, sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));
    r->buf = aligned_alloc(VG_CACHE_LINE, size);
    if (r->buf == NULL) {
        free(r);
        return NULL;
    }
    r->size = size;
    r->mask = size - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void vg_pktring_free(struct vg_pktring *r)
{
    if (r == NULL)
        return;
    free(r->buf);
    free(r);
}

uint32_t vg_pktring_max_record(const struct vg_pktring *r)
{
    /* Half the ring, so a record always fits after a skip marker. */
    return (uint32_t)(r->size / 2 - sizeof(struct vg_pktring_hdr));
}

void *vg_pktring_reserve(struct vg_pktring *r, uint32_t len, uint32_t kind)
{
    if (VG_UNLIKELY(len > vg_pktring_max_record(r)))
        return NULL;
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t need = align_up(sizeof(struct vg_pktring_hdr) + len);
    uint64_t off = head & r->mask;
    uint64_t skip = 0;
    if (off + need > r->size)
        skip = r->size - off;
    uint64_t end = head + skip + need;
    if (end - r->tail_cache > r->size) {
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (end - r->tail_cache > r->size)
            return NULL;
    }
    if (skip) {
        struct vg_pktring_hdr *h = (struct vg_pktring_hdr *)(r->buf + off);
        h->len = (uint32_t)(skip - sizeof(*h));
        h->kind = RING_SKIP;
        off = 0;
    }
    struct vg_pktring_hdr *h = (struct vg_pktring_hdr *)(r->buf + off);
    h->len = len;
    h->kind = kind;
    r->head_reserved = end;
    return h + 1;
}

void vg_pktring_commit(struct vg_pktring *r)
{
    atomic_store_explicit(&r->head, r->head_reserved, memory_order_release);
}

const void *vg_pktring_peek(struct vg_pktring *r, uint32_t *len, uint32_t *kind)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        if (tail == r->head_cache) {
            r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
            if (tail == r->head_cache)
                return NULL;
        }
        const struct vg_pktring_hdr *h = (const struct vg_pktring_hdr *)(r->buf + (tail & r->mask));
        uint64_t rec = align_up(sizeof(*h) + h->len);
        if (h->kind == RING_SKIP) {
            tail += rec;
            atomic_store_explicit(&r->tail, tail, memory_order_release);
            continue;
        }
        r->tail_next = tail + rec;
        *len = h->len;
        *kind = h->kind;
        return h + 1;
    }
}

void vg_pktring_release(struct vg_pktring *r)
{
    atomic_store_explicit(&r->tail, r->tail_next, memory_order_release);
}
