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

bool vg_event_ring_push_meta(struct vg_event_ring *r, const struct vg_event *ev,
                             const uint8_t *meta)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t meta_len = meta != NULL && ev->meta_len <= VG_EVENT_META_MAX ? ev->meta_len : 0;
    struct vg_event hdr = *ev;
    hdr.meta_len = (uint16_t)meta_len;
    uint32_t slots = vg_event_slots(&hdr);
    if (VG_UNLIKELY(slots > r->capacity))
        return false;

    if (VG_UNLIKELY(head - r->tail_cache > r->capacity - slots)) {
        /* acquire: the consumer's copy out of the slots is complete before
         * we overwrite them */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (head - r->tail_cache > r->capacity - slots)
            return false;
    }

    r->slots[head & r->mask] = hdr;
    /* The metadata fills the following slots, wrapping at the ring's end. */
    for (uint32_t s = 1, off = 0; s < slots; s++, off += sizeof(struct vg_event)) {
        uint32_t n = meta_len - off < sizeof(struct vg_event) ? meta_len - off
                                                              : (uint32_t)sizeof(struct vg_event);
        memcpy(&r->slots[(head + s) & r->mask], meta + off, n);
    }
    /* release: the slot contents are visible before the new head */
    atomic_store_explicit(&r->head, head + slots, memory_order_release);
    return true;
}

bool vg_event_ring_push(struct vg_event_ring *r, const struct vg_event *ev)
{
    return vg_event_ring_push_meta(r, ev, NULL);
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

    /* The producer publishes whole events; only max may cut one: keep the
     * cut one for the next call. */
    uint32_t whole = 0;
    while (whole < n) {
        uint32_t k = vg_event_slots(&out[whole]);
        if (whole + k > n)
            break;
        whole += k;
    }

    /* release: the copies above are done before the producer may reuse the
     * slots */
    atomic_store_explicit(&r->tail, tail + whole, memory_order_release);
    return whole;
}
