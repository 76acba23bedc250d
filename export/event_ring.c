/* Single-producer single-consumer ring of struct vg_event.
 *
 * head counts events pushed and is written only by the producer; tail counts
 * events popped and is written only by the consumer. Both are free-running
 * 32-bit counters (unsigned wraparound), so head - tail is the fill level as
 * long as the capacity is at most 2^31. Each side also keeps a private copy of
 * the other side's counter and reloads it only when the copy says the ring
 * looks full (producer) or empty (consumer); that keeps the shared cache lines
 * from bouncing on every call. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/event.h"

#define VG_EVENT_RING_MAX_CAPACITY (UINT32_C(1) << 31)

struct vg_event_ring {
    /* written by the producer */
    _Alignas(VG_CACHE_LINE) _Atomic uint32_t head;
    uint32_t tail_cache;

    /* written by the consumer */
    _Alignas(VG_CACHE_LINE) _Atomic uint32_t tail;
    uint32_t head_cache;

    /* read-only after creation */
    _Alignas(VG_CACHE_LINE) uint32_t mask;
    uint32_t capacity;
    struct vg_event *slots;
};

static uint32_t round_up_pow2(uint32_t v)
{
    if (v <= 1)
        return 1;
    v--;
    v |= v >> 1;
    v |= v >> 2;
    v |= v >> 4;
    v |= v >> 8;
    v |= v >> 16;
    return v + 1;
}

struct vg_event_ring *vg_event_ring_new(uint32_t capacity)
{
    if (capacity > VG_EVENT_RING_MAX_CAPACITY)
        return NULL;
    uint32_t cap = round_up_pow2(capacity);

    struct vg_event_ring *r = aligned_alloc(VG_CACHE_LINE, sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(r, 0, sizeof(*r));

    size_t bytes = (size_t)cap * sizeof(struct vg_event);
    /* aligned_alloc wants a size that is a multiple of the alignment */
    size_t alloc = (bytes + VG_CACHE_LINE - 1) & ~(size_t)(VG_CACHE_LINE - 1);
    r->slots = aligned_alloc(VG_CACHE_LINE, alloc);
    if (r->slots == NULL) {
        free(r);
        return NULL;
    }
    /* touch every page now so the first pushes do not fault */
    memset(r->slots, 0, alloc);

    r->mask = cap - 1;
    r->capacity = cap;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    return r;
}

void vg_event_ring_free(struct vg_event_ring *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    free(r);
}

bool vg_event_ring_push(struct vg_event_ring *r, const struct vg_event *ev)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

    if (VG_UNLIKELY(head - r->tail_cache >= r->capacity)) {
        /* acquire: the consumer's copy out of the slot is complete before we
         * overwrite it */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - r->tail_cache >= r->capacity)
            return false;
    }

    r->slots[head & r->mask] = *ev;
    /* release: the slot contents are visible before the new head */
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return true;
}

uint32_t vg_event_ring_pop(struct vg_event_ring *r, struct vg_event *out, uint32_t max)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t avail = r->head_cache - tail;

    if (avail < max) {
        /* acquire: pairs with the producer's release of head */
        r->head_cache = atomic_load_explicit(&r->head, memory_order_acquire);
        avail = r->head_cache - tail;
    }
    uint32_t n = avail < max ? avail : max;
    if (n == 0)
        return 0;

    uint32_t start = tail & r->mask;
    uint32_t first = r->capacity - start;
    if (first > n)
        first = n;
    memcpy(out, &r->slots[start], (size_t)first * sizeof(*out));
    if (n > first)
        memcpy(out + first, &r->slots[0], (size_t)(n - first) * sizeof(*out));

    /* release: the copies above are done before the producer may reuse the
     * slots */
    atomic_store_explicit(&r->tail, tail + n, memory_order_release);
    return n;
}
