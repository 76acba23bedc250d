/* nDPI glue: per-worker detection module, a pool of nDPI flow states, and
 * the arena that serves nDPI's allocations while packets are classified.
 *
 * nDPI's allocation hooks (set_ndpi_malloc and friends) are process-wide, so
 * they are installed once and look at a thread-local pointer: while a
 * worker is inside nDPI on behalf of its context, the pointer names that
 * context's arena and every allocation is served from it; outside (module
 * initialisation and teardown) they fall through to malloc. A free goes to
 * the arena when the pointer lies inside it, else to free().
 *
 * The same hooks serve libgcrypt, which nDPI uses to decrypt QUIC Initial
 * packets (a cipher handle is allocated per packet). libgcrypt aborts the
 * process when some of its allocations fail, so its requests fall back to
 * malloc when the arena is full, and that is counted (alloc_fallback); it
 * is only used by nDPI here, for public keys, so its "secure" (locked)
 * memory is not needed and is served the same way.
 *
 * One lazy initialisation on the packet path is also done up front: the
 * TLS dissector converts certificate dates with timegm(), whose first call
 * makes glibc load the time zone (strdup, fopen), so vg_ndpi_new() calls
 * tzset() first.
 *
 * The arena is a binary buddy allocator over one region: freed blocks merge
 * with their buddy, so flows that come and go with different string sizes
 * do not fragment it for good. A region that is not a power of two starts
 * as a row of power-of-two blocks, largest first; a block whose buddy would
 * run past the end never merges. Block sizes run from 32 bytes up; each
 * allocated block starts with a 16-byte header (order and a check word), so
 * payloads stay 16-byte aligned. */
#include <gcrypt.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "ndpi_api.h"

#include "vigil/common.h"
#include "vigil/ndpi.h"

/* ---- arena ---- */

#define ARENA_MIN_SHIFT 5 /* smallest block: 32 bytes */
#define ARENA_MIN_BLOCK (1u << ARENA_MIN_SHIFT)
#define ARENA_MAX_ORDER 40 /* orders 0 .. 40: 32 B .. 32 TiB */
#define ARENA_HDR       16u
#define ARENA_MAGIC     0x7a6e6470u

struct free_block {
    struct free_block *next;
    struct free_block *prev;
};

struct block_hdr {
    uint32_t magic;
    uint32_t order;
    uint64_t pad;
};

struct arena {
    uint8_t *base;
    size_t size;
    unsigned top_order; /* the largest block: ARENA_MIN_BLOCK << top_order <= size */
    uint8_t *tag;       /* per 32-byte unit: order + 1 when a free block starts here, else 0 */
    struct free_block lists[ARENA_MAX_ORDER + 1]; /* circular, the entry is the sentinel */
    struct vg_ndpi_stats *stats;                  /* arena_used, arena_peak, alloc_failed */
};

static inline size_t order_size(unsigned order)
{
    return (size_t)ARENA_MIN_BLOCK << order;
}

static void list_push(struct arena *a, unsigned order, struct free_block *b)
{
    struct free_block *head = &a->lists[order];
    b->next = head->next;
    b->prev = head;
    head->next->prev = b;
    head->next = b;
    a->tag[((uint8_t *)b - a->base) >> ARENA_MIN_SHIFT] = (uint8_t)(order + 1);
}

static void list_unlink(struct arena *a, struct free_block *b)
{
    b->prev->next = b->next;
    b->next->prev = b->prev;
    a->tag[((uint8_t *)b - a->base) >> ARENA_MIN_SHIFT] = 0;
}

static int arena_init(struct arena *a, size_t bytes, struct vg_ndpi_stats *stats)
{
    memset(a, 0, sizeof(*a));
    a->size = (bytes + 4095) & ~(size_t)4095;
    unsigned order = 0;
    while (order < ARENA_MAX_ORDER && order_size(order + 1) <= a->size)
        order++;
    a->top_order = order;
    /* MAP_POPULATE: the pages are real from the start, so no page is first
     * touched on the packet path. */
    void *mem = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED)
        return -1;
    a->base = mem;
    a->tag = calloc(a->size >> ARENA_MIN_SHIFT, 1);
    if (a->tag == NULL) {
        munmap(a->base, a->size);
        return -1;
    }
    for (unsigned i = 0; i <= ARENA_MAX_ORDER; i++)
        a->lists[i].next = a->lists[i].prev = &a->lists[i];
    a->stats = stats;
    stats->arena_bytes = a->size;
    size_t off = 0;
    for (unsigned o = a->top_order + 1; o-- > 0;) {
        if (a->size - off >= order_size(o)) {
            list_push(a, o, (struct free_block *)(a->base + off));
            off += order_size(o);
        }
    }
    return 0;
}

static void arena_destroy(struct arena *a)
{
    if (a->base != NULL)
        munmap(a->base, a->size);
    free(a->tag);
    a->base = NULL;
    a->tag = NULL;
}

static inline bool arena_owns(const struct arena *a, const void *p)
{
    const uint8_t *q = p;
    return q >= a->base && q < a->base + a->size;
}

static void *arena_alloc(struct arena *a, size_t bytes)
{
    if (bytes > a->size - ARENA_HDR) {
        a->stats->alloc_failed++;
        return NULL;
    }
    unsigned order = 0;
    while (order_size(order) < bytes + ARENA_HDR)
        order++;
    unsigned o = order;
    while (o <= a->top_order && a->lists[o].next == &a->lists[o])
        o++;
    if (o > a->top_order) {
        a->stats->alloc_failed++;
        return NULL;
    }
    struct free_block *b = a->lists[o].next;
    list_unlink(a, b);
    while (o > order) { /* split, keeping the lower half */
        o--;
        list_push(a, o, (struct free_block *)((uint8_t *)b + order_size(o)));
    }
    struct block_hdr *h = (struct block_hdr *)b;
    h->magic = ARENA_MAGIC;
    h->order = order;
    a->stats->arena_used += order_size(order);
    if (a->stats->arena_used > a->stats->arena_peak)
        a->stats->arena_peak = a->stats->arena_used;
    return (uint8_t *)b + ARENA_HDR;
}

static void arena_release(struct arena *a, void *p)
{
    struct block_hdr *h = (struct block_hdr *)((uint8_t *)p - ARENA_HDR);
    if (h->magic != ARENA_MAGIC || h->order > a->top_order)
        return; /* not a live block (a double free): leave it rather than corrupt the lists */
    unsigned order = h->order;
    h->magic = 0;
    a->stats->arena_used -= order_size(order);
    size_t off = (size_t)((uint8_t *)h - a->base);
    while (order < a->top_order) {
        size_t buddy = off ^ order_size(order);
        if (buddy + order_size(order) > a->size || a->tag[buddy >> ARENA_MIN_SHIFT] != order + 1)
            break;
        list_unlink(a, (struct free_block *)(a->base + buddy));
        off &= ~order_size(order);
        order++;
    }
    list_push(a, order, (struct free_block *)(a->base + off));
}

/* ---- allocation hooks ---- */

static _Thread_local struct arena *tls_arena;

static void *hook_malloc(size_t size)
{
    struct arena *a = tls_arena;
    return a != NULL ? arena_alloc(a, size) : malloc(size);
}

static void hook_free(void *p)
{
    if (p == NULL)
        return;
    struct arena *a = tls_arena;
    if (a != NULL && arena_owns(a, p))
        arena_release(a, p);
    else
        free(p);
}

static size_t arena_block_payload(const void *p)
{
    const struct block_hdr *h = (const struct block_hdr *)((const uint8_t *)p - ARENA_HDR);
    return order_size(h->order) - ARENA_HDR;
}

static void *gcry_hook_malloc(size_t size)
{
    struct arena *a = tls_arena;
    if (a == NULL)
        return malloc(size);
    void *p = arena_alloc(a, size);
    if (p == NULL) {
        a->stats->alloc_fallback++;
        p = malloc(size);
    }
    return p;
}

static void *gcry_hook_realloc(void *p, size_t size)
{
    if (p == NULL)
        return gcry_hook_malloc(size);
    struct arena *a = tls_arena;
    bool in_arena = a != NULL && arena_owns(a, p);
    if (!in_arena && a == NULL)
        return realloc(p, size);
    size_t old = in_arena ? arena_block_payload(p) : malloc_usable_size(p);
    void *q = gcry_hook_malloc(size);
    if (q == NULL)
        return NULL;
    memcpy(q, p, old < size ? old : size);
    hook_free(p);
    return q;
}

static int gcry_hook_is_secure(const void *p)
{
    (void)p;
    return 0;
}

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
/* nDPI's initialisation must not run in parallel with itself. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

static void install_hooks(void)
{
    set_ndpi_malloc(hook_malloc);
    set_ndpi_free(hook_free);
    set_ndpi_flow_malloc(hook_malloc);
    set_ndpi_flow_free(hook_free);
    gcry_set_allocation_handler(gcry_hook_malloc, gcry_hook_malloc, gcry_hook_is_secure,
                                gcry_hook_realloc, hook_free);
    tzset();
}

/* ---- context ---- */

#define NO_SLOT UINT32_MAX

struct flow_slot {
    uint32_t next_free;
    uint32_t payload_pkts;
    ndpi_protocol last; /* nDPI's answer to the flow's latest packet */
};

struct vg_ndpi {
    struct ndpi_detection_module_struct *mod;
    uint8_t *states; /* max_flows nDPI flow states of state_size bytes */
    struct flow_slot *slots;
    size_t state_size;
    uint32_t max_flows;
    uint32_t max_packets;
    uint32_t free_head;
    struct arena arena;
    struct vg_ndpi_stats stats;
};

static inline struct ndpi_flow_struct *state_of(const struct vg_ndpi *n, uint32_t slot)
{
    return (struct ndpi_flow_struct *)(void *)(n->states + (size_t)slot * n->state_size);
}

struct vg_ndpi *vg_ndpi_new(uint32_t max_flows, uint32_t max_packets)
{
    size_t arena = VG_NDPI_ARENA_BASE + (size_t)max_flows * VG_NDPI_ARENA_PER_FLOW;
    return vg_ndpi_new_ex(max_flows, max_packets, arena);
}

struct vg_ndpi *vg_ndpi_new_ex(uint32_t max_flows, uint32_t max_packets, size_t arena_bytes)
{
    if (max_flows == 0 || max_flows >= NO_SLOT)
        return NULL;
    pthread_once(&hooks_once, install_hooks);
    struct vg_ndpi *n = calloc(1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->max_flows = max_flows;
    n->max_packets = max_packets != 0 ? max_packets : VG_NDPI_DEFAULT_MAX_PACKETS;
    /* The library's own size, not the header's: they differ when the
     * library was built with other options. */
    size_t sz = ndpi_detection_get_sizeof_ndpi_flow_struct();
    n->state_size = (sz + VG_CACHE_LINE - 1) & ~(size_t)(VG_CACHE_LINE - 1);
    n->states = aligned_alloc(VG_CACHE_LINE, n->state_size * max_flows);
    n->slots = calloc(max_flows, sizeof(*n->slots));
    if (n->states == NULL || n->slots == NULL)
        goto fail;
    memset(n->states, 0, n->state_size * max_flows);
    for (uint32_t i = 0; i < max_flows; i++)
        n->slots[i].next_free = i + 1 < max_flows ? i + 1 : NO_SLOT;
    n->free_head = 0;
    if (arena_bytes < 4096)
        arena_bytes = 4096;
    if (arena_init(&n->arena, arena_bytes, &n->stats) != 0)
        goto fail;

    pthread_mutex_lock(&init_lock);
    n->mod = ndpi_init_detection_module(ndpi_no_prefs);
    if (n->mod != NULL) {
        NDPI_PROTOCOL_BITMASK all;
        NDPI_BITMASK_SET_ALL(all);
        ndpi_set_protocol_detection_bitmask2(n->mod, &all);
        ndpi_finalize_initialization(n->mod);
    }
    pthread_mutex_unlock(&init_lock);
    if (n->mod == NULL)
        goto fail;
    return n;
fail:
    vg_ndpi_free(n);
    return NULL;
}

/* Frees what nDPI hung on the state and puts the slot back. Runs with the
 * arena installed, so the frees reach it. */
static void release_slot(struct vg_ndpi *n, uint32_t slot)
{
    struct ndpi_flow_struct *f = state_of(n, slot);
    ndpi_free_flow_data(f);
    memset(f, 0, n->state_size);
    n->slots[slot].next_free = n->free_head;
    n->free_head = slot;
    n->stats.flows_active--;
}

void vg_ndpi_free(struct vg_ndpi *n)
{
    if (n == NULL)
        return;
    struct arena *saved = tls_arena;
    if (n->arena.base != NULL)
        tls_arena = &n->arena;
    if (n->slots != NULL && n->states != NULL) {
        /* Slots in use are those not on the free list. */
        uint8_t *is_free = calloc(n->max_flows, 1);
        if (is_free != NULL) {
            for (uint32_t s = n->free_head; s != NO_SLOT; s = n->slots[s].next_free)
                is_free[s] = 1;
            for (uint32_t s = 0; s < n->max_flows; s++)
                if (!is_free[s])
                    ndpi_free_flow_data(state_of(n, s));
            free(is_free);
        }
    }
    if (n->mod != NULL)
        ndpi_exit_detection_module(n->mod);
    tls_arena = saved;
    arena_destroy(&n->arena);
    free(n->states);
    free(n->slots);
    free(n);
}

_Static_assert(NDPI_PROTOCOL_NUM_CATEGORIES <= 256, "categories fit struct vg_ndpi_result");

/* Master: the protocol ndpiReader prints first ("TLS" of "TLS.Google", or
 * the only one); app: the second, or the same when there is one. */
static void set_result(struct vg_ndpi_result *out, ndpi_protocol r, bool done, bool guessed)
{
    uint16_t m = r.master_protocol, a = r.app_protocol;
    out->master = m != NDPI_PROTOCOL_UNKNOWN ? m : a;
    out->app = a != NDPI_PROTOCOL_UNKNOWN ? a : m;
    out->category = (uint8_t)r.category;
    out->done = done;
    out->guessed = guessed;
}

/* Gives up on an undecided flow: nDPI's guess (ports, addresses, what the
 * dissectors half-saw). */
static void give_up(struct vg_ndpi *n, struct ndpi_flow_struct *f, struct vg_ndpi_result *out)
{
    uint8_t guessed = 0;
    ndpi_protocol r = ndpi_detection_giveup(n->mod, f, 1, &guessed);
    bool known =
        r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    set_result(out, r, true, known && guessed);
    if (!known)
        n->stats.flows_unknown++;
    else if (guessed)
        n->stats.flows_guessed++;
    else
        n->stats.flows_detected++;
}

static inline bool is_known(ndpi_protocol r)
{
    return r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
}

bool vg_ndpi_packet(struct vg_ndpi *n, uint32_t *handle, const struct vg_packet *p, int dir,
                    uint64_t ts_us, struct vg_ndpi_result *out)
{
    (void)dir;
    if (p->l3 == NULL || p->l3_len == 0 || (p->flags & VG_PKT_FRAGMENT)) {
        /* Nothing nDPI can read (a fragment): the result so far stands. */
        if (*handle != 0 && *handle <= n->max_flows)
            set_result(out, n->slots[*handle - 1].last, false, false);
        else
            memset(out, 0, sizeof(*out));
        return true;
    }
    uint32_t slot;
    if (*handle == 0) {
        if (n->free_head == NO_SLOT) {
            n->stats.pool_exhausted++;
            memset(out, 0, sizeof(*out));
            out->done = 1;
            return false;
        }
        slot = n->free_head;
        n->free_head = n->slots[slot].next_free;
        n->slots[slot].payload_pkts = 0;
        memset(&n->slots[slot].last, 0, sizeof(n->slots[slot].last));
        n->stats.flows_active++;
        *handle = slot + 1;
    } else if (*handle <= n->max_flows) {
        slot = *handle - 1;
    } else {
        memset(out, 0, sizeof(*out)); /* not a handle of this context */
        out->done = 1;
        return false;
    }
    struct ndpi_flow_struct *f = state_of(n, slot);
    struct arena *saved = tls_arena;
    tls_arena = &n->arena;

    uint32_t len = p->l3_len > UINT16_MAX ? UINT16_MAX : p->l3_len;
    ndpi_protocol r =
        ndpi_detection_process_packet(n->mod, f, p->l3, (unsigned short)len, ts_us / 1000);
    n->stats.packets_inspected++;
    n->slots[slot].last = r;
    if (p->payload_len > 0)
        n->slots[slot].payload_pkts++;
    bool enough = n->slots[slot].payload_pkts >= n->max_packets;
    bool final = false;
    /* As ndpiReader: once found, keep feeding while the dissector can still
     * add to the answer (DNS answer, TLS certificate), up to max_packets. */
    if (is_known(r) && (enough || !ndpi_extra_dissection_possible(n->mod, f))) {
        set_result(out, r, true, false);
        n->stats.flows_detected++;
        final = true;
    } else if (enough) {
        give_up(n, f, out);
        final = true;
    } else {
        set_result(out, r, false, false);
    }
    if (final) {
        release_slot(n, slot);
        *handle = 0;
    }
    tls_arena = saved;
    return !final;
}

void vg_ndpi_flow_end(struct vg_ndpi *n, uint32_t *handle, struct vg_ndpi_result *out)
{
    if (*handle == 0 || *handle > n->max_flows)
        return;
    uint32_t slot = *handle - 1;
    struct ndpi_flow_struct *f = state_of(n, slot);
    struct arena *saved = tls_arena;
    tls_arena = &n->arena;
    if (is_known(n->slots[slot].last)) {
        /* Found, but still waiting for more metadata: the answer stands. */
        set_result(out, n->slots[slot].last, true, false);
        n->stats.flows_detected++;
    } else {
        give_up(n, f, out);
    }
    release_slot(n, slot);
    *handle = 0;
    tls_arena = saved;
}

/* ---- names ---- */

static const char *name_of(const struct vg_ndpi *n, uint16_t id)
{
    const char *s = ndpi_get_proto_name(n->mod, id);
    return s != NULL ? s : "Unknown";
}

const char *vg_ndpi_proto_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r, char *buf,
                               size_t len)
{
    if (len == 0)
        return buf;
    if (r->master != r->app && r->master != NDPI_PROTOCOL_UNKNOWN &&
        r->app != NDPI_PROTOCOL_UNKNOWN)
        snprintf(buf, len, "%s.%s", name_of(n, r->master), name_of(n, r->app));
    else
        snprintf(buf, len, "%s", name_of(n, r->master != 0 ? r->master : r->app));
    return buf;
}

const char *vg_ndpi_master_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r)
{
    return name_of(n, r->master != 0 ? r->master : r->app);
}

const char *vg_ndpi_app_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r)
{
    return name_of(n, r->app != 0 ? r->app : r->master);
}

const char *vg_ndpi_category_name(const struct vg_ndpi *n, const struct vg_ndpi_result *r)
{
    const char *s = ndpi_category_get_name(n->mod, (ndpi_protocol_category_t)r->category);
    return s != NULL ? s : "Unspecified";
}

static enum vg_app_proto parser_of(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_HTTP:
    case NDPI_PROTOCOL_HTTP_CONNECT:
    case NDPI_PROTOCOL_HTTP_PROXY:
        return VG_APP_HTTP;
    case NDPI_PROTOCOL_TLS:
        return VG_APP_TLS;
    case NDPI_PROTOCOL_DNS:
        return VG_APP_DNS;
    case NDPI_PROTOCOL_SSH:
        return VG_APP_SSH;
    default:
        return VG_APP_UNKNOWN;
    }
}

enum vg_app_proto vg_ndpi_app_proto(const struct vg_ndpi_result *r)
{
    enum vg_app_proto p = parser_of(r->master);
    if (p == VG_APP_UNKNOWN)
        p = parser_of(r->app);
    if (p != VG_APP_UNKNOWN)
        return p;
    return r->master != NDPI_PROTOCOL_UNKNOWN || r->app != NDPI_PROTOCOL_UNKNOWN ? VG_APP_OTHER
                                                                                 : VG_APP_UNKNOWN;
}

const struct vg_ndpi_stats *vg_ndpi_stats(const struct vg_ndpi *n)
{
    return &n->stats;
}

void vg_ndpi_stats_add(struct vg_ndpi_stats *dst, const struct vg_ndpi_stats *src)
{
    dst->flows_detected += src->flows_detected;
    dst->flows_guessed += src->flows_guessed;
    dst->flows_unknown += src->flows_unknown;
    dst->pool_exhausted += src->pool_exhausted;
    dst->packets_inspected += src->packets_inspected;
    dst->alloc_failed += src->alloc_failed;
    dst->alloc_fallback += src->alloc_fallback;
    dst->arena_bytes += src->arena_bytes;
    dst->arena_used += src->arena_used;
    dst->arena_peak += src->arena_peak;
    dst->flows_active += src->flows_active;
}
