/* Flow table: a preallocated array of flows, hash buckets of array indices,
 * a free list, and one least-recently-seen list per timeout class.
 *
 * Each timeout class (protocol class x flow state) has a single timeout, so
 * a list kept in last-seen order has its next flow to expire at the head:
 * expiry and eviction only ever look at list heads. Nothing here allocates
 * after vg_flow_table_new(). */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/flow.h"

#define NO_FLOW   UINT32_MAX
#define US_PER_S  1000000ull
#define N_STATES  3
#define N_CLASSES (4 * N_STATES)

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

#define SEEN_BOTH (VG_FLOW_F_SEEN_TOSERVER | VG_FLOW_F_SEEN_TOCLIENT)

/* Protocol classes, in the order of struct vg_flow_timeouts. */
enum proto_class {
    PC_TCP = 0,
    PC_UDP = 1,
    PC_ICMP = 2,
    PC_OTHER = 3,
};

struct lru_list {
    uint32_t head; /* least recently seen */
    uint32_t tail;
};

struct vg_flow_table {
    struct vg_flow *flows;
    uint32_t *buckets;
    uint32_t bucket_shift; /* bucket = (hash * golden) >> shift */
    uint32_t max_flows;
    uint32_t free_head; /* free slots, linked through bucket_next */
    struct lru_list lru[N_CLASSES];
    uint64_t timeout_us[N_CLASSES];
    vg_flow_end_fn on_end;
    void *user;
    struct vg_flow_table_stats stats;
};

/* ---- keys and hashes ---- */

void vg_flow_key_from_packet(struct vg_flow_key *k, const struct vg_packet *p, bool *src_is_a)
{
    memset(k, 0, sizeof(*k));
    uint16_t sport = 0, dport = 0;
    /* Only a decoded TCP or UDP header gives ports; ICMP and fragments key on
     * addresses alone so every packet of the exchange lands in one flow. */
    if ((p->flags & VG_PKT_HAS_L4) && p->proto != IPPROTO_ICMP && p->proto != IPPROTO_ICMPV6) {
        sport = p->sport;
        dport = p->dport;
    }
    int cmp = memcmp(p->src.b, p->dst.b, sizeof(p->src.b));
    bool a = cmp < 0 || (cmp == 0 && sport <= dport);
    if (a) {
        k->addr_a = p->src;
        k->addr_b = p->dst;
        k->port_a = sport;
        k->port_b = dport;
    } else {
        k->addr_a = p->dst;
        k->addr_b = p->src;
        k->port_a = dport;
        k->port_b = sport;
    }
    for (unsigned i = 0; i < p->vlan_count && i < VG_MAX_VLAN; i++)
        k->vlan[i] = p->vlan[i];
    k->tunnel_id = p->tunnel_id;
    k->proto = p->proto;
    k->family = p->family;
    *src_is_a = a;
}

static inline uint32_t rotl32(uint32_t x, unsigned r)
{
    return (x << r) | (x >> (32 - r));
}

/* MurmurHash3 (x86, 32-bit) over the key's 32-bit words: a good avalanche
 * for the price of a few multiplications per word. */
uint32_t vg_flow_key_hash(const struct vg_flow_key *k)
{
    _Static_assert(sizeof(struct vg_flow_key) % sizeof(uint32_t) == 0,
                   "flow key must be a whole number of 32-bit words");
    uint32_t w[sizeof(*k) / sizeof(uint32_t)];
    memcpy(w, k, sizeof(w));
    const uint32_t c1 = 0xcc9e2d51u, c2 = 0x1b873593u;
    uint32_t h = 0x5f3759dfu;
    for (size_t i = 0; i < VG_ARRAY_SIZE(w); i++) {
        uint32_t x = w[i] * c1;
        x = rotl32(x, 15) * c2;
        h ^= x;
        h = rotl32(h, 13) * 5 + 0xe6546b64u;
    }
    h ^= (uint32_t)sizeof(*k);
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

uint32_t vg_packet_flow_hash(const struct vg_packet *p)
{
    struct vg_flow_key k;
    bool src_is_a;
    vg_flow_key_from_packet(&k, p, &src_is_a);
    return vg_flow_key_hash(&k);
}

uint32_t vg_packet_dispatch_hash(const struct vg_packet *p)
{
    struct vg_flow_key k;
    bool src_is_a;
    vg_flow_key_from_packet(&k, p, &src_is_a);
    /* Addresses only: fragments (no ports) and the flow they reassemble into
     * must reach the same worker. */
    k.port_a = 0;
    k.port_b = 0;
    k.proto = 0;
    return vg_flow_key_hash(&k);
}

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Depends only on the flow itself, so any worker count gives the same id. */
static uint64_t flow_id_of(uint32_t hash, uint64_t start_us)
{
    uint64_t id = splitmix64(((uint64_t)hash << 32) ^ start_us) & 0x7fffffffffffffffull;
    return id != 0 ? id : 1;
}

/* The dispatcher may pick workers from the low bits of the same hash, which
 * would leave most buckets of each worker's table empty; the multiplicative
 * step makes the bucket depend on every bit. */
static inline uint32_t bucket_of(const struct vg_flow_table *t, uint32_t hash)
{
    return (uint32_t)(hash * 0x9e3779b1u) >> t->bucket_shift;
}

/* ---- timeouts ---- */

void vg_flow_timeouts_default(struct vg_flow_timeouts *t)
{
    *t = (struct vg_flow_timeouts){
        .tcp = {60, 600, 60},
        .udp = {30, 300, 0},
        .icmp = {30, 300, 0},
        .other = {30, 300, 0},
    };
}

static enum proto_class proto_class_of(uint8_t proto)
{
    switch (proto) {
    case IPPROTO_TCP:
        return PC_TCP;
    case IPPROTO_UDP:
        return PC_UDP;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        return PC_ICMP;
    default:
        return PC_OTHER;
    }
}

static inline uint8_t timeout_class_of(const struct vg_flow *f)
{
    return (uint8_t)(proto_class_of(f->key.proto) * N_STATES + f->state);
}

/* Strictly more than the timeout since the flow's last packet. */
static inline bool flow_timed_out(const struct vg_flow_table *t, const struct vg_flow *f,
                                  uint64_t now_us)
{
    return now_us > f->last_us && now_us - f->last_us > t->timeout_us[f->timeout_class];
}

/* ---- lists ---- */

static void lru_unlink(struct vg_flow_table *t, struct vg_flow *f)
{
    struct lru_list *l = &t->lru[f->timeout_class];
    if (f->lru_prev != NO_FLOW)
        t->flows[f->lru_prev].lru_next = f->lru_next;
    else
        l->head = f->lru_next;
    if (f->lru_next != NO_FLOW)
        t->flows[f->lru_next].lru_prev = f->lru_prev;
    else
        l->tail = f->lru_prev;
    f->lru_prev = f->lru_next = NO_FLOW;
}

static void lru_append(struct vg_flow_table *t, struct vg_flow *f)
{
    uint32_t idx = (uint32_t)(f - t->flows);
    struct lru_list *l = &t->lru[f->timeout_class];
    f->lru_next = NO_FLOW;
    f->lru_prev = l->tail;
    if (l->tail != NO_FLOW)
        t->flows[l->tail].lru_next = idx;
    else
        l->head = idx;
    l->tail = idx;
}

static void bucket_unlink(struct vg_flow_table *t, struct vg_flow *f)
{
    uint32_t idx = (uint32_t)(f - t->flows);
    uint32_t *link = &t->buckets[bucket_of(t, f->hash)];
    while (*link != NO_FLOW) {
        if (*link == idx) {
            *link = f->bucket_next;
            break;
        }
        link = &t->flows[*link].bucket_next;
    }
    f->bucket_next = NO_FLOW;
}

/* Reports the flow and returns its slot to the free list. */
static void flow_end(struct vg_flow_table *t, struct vg_flow *f, enum vg_flow_end_reason why,
                     uint64_t now_us)
{
    if (t->on_end != NULL)
        t->on_end(t->user, f, why, now_us);
    switch (why) {
    case VG_FLOW_END_TIMEOUT:
        t->stats.ended_timeout++;
        break;
    case VG_FLOW_END_FORCED:
        t->stats.ended_forced++;
        break;
    case VG_FLOW_END_SHUTDOWN:
        t->stats.ended_shutdown++;
        break;
    }
    bucket_unlink(t, f);
    lru_unlink(t, f);
    f->in_use = 0;
    f->bucket_next = t->free_head;
    t->free_head = (uint32_t)(f - t->flows);
    t->stats.active--;
}

/* ---- table ---- */

struct vg_flow_table *vg_flow_table_new(uint32_t max_flows, const struct vg_flow_timeouts *to,
                                        vg_flow_end_fn on_end, void *user)
{
    if (max_flows == 0 || max_flows > (1u << 31))
        return NULL;
    struct vg_flow_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    uint32_t bits = 1;
    while ((1u << bits) < max_flows)
        bits++;
    t->bucket_shift = 32 - bits;
    t->max_flows = max_flows;
    t->flows = calloc(max_flows, sizeof(*t->flows));
    t->buckets = malloc(((size_t)1 << bits) * sizeof(*t->buckets));
    if (t->flows == NULL || t->buckets == NULL) {
        vg_flow_table_free(t);
        return NULL;
    }
    memset(t->buckets, 0xff, ((size_t)1 << bits) * sizeof(*t->buckets));
    /* Free list in index order, so slot use is deterministic. */
    for (uint32_t i = 0; i < max_flows; i++) {
        t->flows[i].bucket_next = i + 1 < max_flows ? i + 1 : NO_FLOW;
        t->flows[i].lru_prev = t->flows[i].lru_next = NO_FLOW;
    }
    t->free_head = 0;
    for (unsigned c = 0; c < N_CLASSES; c++)
        t->lru[c].head = t->lru[c].tail = NO_FLOW;

    struct vg_flow_timeouts defaults;
    if (to == NULL) {
        vg_flow_timeouts_default(&defaults);
        to = &defaults;
    }
    const uint32_t *per_class[4] = {to->tcp, to->udp, to->icmp, to->other};
    for (unsigned pc = 0; pc < 4; pc++)
        for (unsigned s = 0; s < N_STATES; s++)
            t->timeout_us[pc * N_STATES + s] = (uint64_t)per_class[pc][s] * US_PER_S;
    t->on_end = on_end;
    t->user = user;
    return t;
}

void vg_flow_table_free(struct vg_flow_table *t)
{
    if (t == NULL)
        return;
    free(t->flows);
    free(t->buckets);
    free(t);
}

uint32_t vg_flow_table_index(const struct vg_flow_table *t, const struct vg_flow *f)
{
    return (uint32_t)(f - t->flows);
}

uint32_t vg_flow_table_capacity(const struct vg_flow_table *t)
{
    return t->max_flows;
}

const struct vg_flow_table_stats *vg_flow_table_stats(const struct vg_flow_table *t)
{
    return &t->stats;
}

/* Makes room by ending the least recently seen flow of any class. */
static void evict_oldest(struct vg_flow_table *t, uint64_t now_us)
{
    struct vg_flow *oldest = NULL;
    for (unsigned c = 0; c < N_CLASSES; c++) {
        if (t->lru[c].head == NO_FLOW)
            continue;
        struct vg_flow *f = &t->flows[t->lru[c].head];
        if (oldest == NULL || f->last_us < oldest->last_us)
            oldest = f;
    }
    if (oldest != NULL)
        flow_end(t, oldest, VG_FLOW_END_FORCED, now_us);
}

/* Keeps the tunnel metadata of a flow's first packet, the outer endpoints
 * turned client to server like the flow's own. */
static void flow_set_tunnel(struct vg_flow *f, const struct vg_packet *p, bool src_is_a)
{
    f->tunnel_type = p->tunnel_type;
    f->encap_depth = p->encap_depth;
    f->tunnel_family = p->tunnel_family;
    f->tunnel_proto = p->tunnel_proto;
    if (src_is_a == (bool)f->client_is_a) {
        f->tunnel_src = p->tunnel_src;
        f->tunnel_dst = p->tunnel_dst;
        f->tunnel_sport = p->tunnel_sport;
        f->tunnel_dport = p->tunnel_dport;
    } else {
        f->tunnel_src = p->tunnel_dst;
        f->tunnel_dst = p->tunnel_src;
        f->tunnel_sport = p->tunnel_dport;
        f->tunnel_dport = p->tunnel_sport;
    }
}

static struct vg_flow *flow_create(struct vg_flow_table *t, const struct vg_flow_key *k,
                                   uint32_t hash, bool src_is_a, const struct vg_packet *p)
{
    if (t->free_head == NO_FLOW)
        evict_oldest(t, p->ts_us);
    uint32_t idx = t->free_head;
    struct vg_flow *f = &t->flows[idx];
    t->free_head = f->bucket_next;

    memset(f, 0, sizeof(*f));
    f->key = *k;
    f->hash = hash;
    f->start_us = f->last_us = p->ts_us;
    f->flow_id = flow_id_of(hash, p->ts_us);
    f->state = VG_FLOW_STATE_NEW;
    f->in_use = 1;
    f->client_is_a = src_is_a;
    if (k->proto == IPPROTO_TCP && (p->flags & VG_PKT_HAS_L4)) {
        uint8_t syn_ack = p->tcp_flags & (TCP_SYN | TCP_ACK);
        /* A SYN+ACK seen first comes from the server. */
        if (syn_ack == (TCP_SYN | TCP_ACK))
            f->client_is_a = !src_is_a;
        if (syn_ack != TCP_SYN) {
            f->flags |= VG_FLOW_F_MIDSTREAM;
            t->stats.tcp_midstream++;
        }
        if (syn_ack == TCP_SYN)
            f->tcp_state = VG_TCP_SYN_SENT;
        else if (syn_ack == (TCP_SYN | TCP_ACK))
            f->tcp_state = VG_TCP_SYN_RECV;
    }

    if (p->encap_depth != 0)
        flow_set_tunnel(f, p, src_is_a);

    uint32_t b = bucket_of(t, hash);
    f->bucket_next = t->buckets[b];
    t->buckets[b] = idx;
    f->timeout_class = timeout_class_of(f);
    f->lru_prev = f->lru_next = NO_FLOW;
    lru_append(t, f);

    t->stats.created++;
    t->stats.active++;
    if (t->stats.active > t->stats.max_active)
        t->stats.max_active = t->stats.active;
    return f;
}

static struct vg_flow *flow_find(struct vg_flow_table *t, const struct vg_flow_key *k,
                                 uint32_t hash)
{
    uint32_t idx = t->buckets[bucket_of(t, hash)];
    while (idx != NO_FLOW) {
        struct vg_flow *f = &t->flows[idx];
        if (f->hash == hash && memcmp(&f->key, k, sizeof(*k)) == 0)
            return f;
        idx = f->bucket_next;
    }
    return NULL;
}

/* Coarse TCP tracking: enough for flow:established and the flow record. The
 * packet's flags are already in f->tcp_flags[dir]. */
static void tcp_track(struct vg_flow *f, enum vg_flow_dir dir, uint8_t flags)
{
    uint8_t syn_ack = flags & (TCP_SYN | TCP_ACK);
    switch (f->tcp_state) {
    case VG_TCP_NONE:
        /* Picked up midstream: both sides talking is the best evidence. */
        if ((f->flags & SEEN_BOTH) == SEEN_BOTH)
            f->tcp_state = VG_TCP_ESTABLISHED;
        break;
    case VG_TCP_SYN_SENT:
        /* Split (4-way) handshake: the server answers with a bare SYN, the
         * client sends the SYN+ACK and the server the final ACK. */
        if (syn_ack == TCP_SYN && dir == VG_DIR_TOCLIENT)
            f->flags |= VG_FLOW_F_4WHS;
        if (syn_ack == (TCP_SYN | TCP_ACK) &&
            dir == ((f->flags & VG_FLOW_F_4WHS) ? VG_DIR_TOSERVER : VG_DIR_TOCLIENT))
            f->tcp_state = VG_TCP_SYN_RECV;
        break;
    case VG_TCP_SYN_RECV:
        if (syn_ack == TCP_ACK &&
            dir == ((f->flags & VG_FLOW_F_4WHS) ? VG_DIR_TOCLIENT : VG_DIR_TOSERVER))
            f->tcp_state = VG_TCP_ESTABLISHED;
        break;
    default:
        break;
    }
    if (f->tcp_state == VG_TCP_ESTABLISHED)
        f->state = VG_FLOW_STATE_ESTABLISHED;

    if ((flags & TCP_RST) ||
        (f->tcp_flags[VG_DIR_TOSERVER] & f->tcp_flags[VG_DIR_TOCLIENT] & TCP_FIN)) {
        f->tcp_state = VG_TCP_CLOSED;
        f->state = VG_FLOW_STATE_CLOSED;
    } else if ((flags & TCP_FIN) && f->tcp_state != VG_TCP_CLOSED) {
        f->tcp_state = VG_TCP_FIN_WAIT;
    }
}

struct vg_flow *vg_flow_table_packet(struct vg_flow_table *t, const struct vg_packet *p,
                                     enum vg_flow_dir *dir)
{
    if (VG_UNLIKELY(p->family == 0))
        return NULL;
    struct vg_flow_key k;
    bool src_is_a;
    vg_flow_key_from_packet(&k, p, &src_is_a);
    uint32_t hash = vg_flow_key_hash(&k);
    bool tcp = p->proto == IPPROTO_TCP && (p->flags & VG_PKT_HAS_L4);

    struct vg_flow *f = flow_find(t, &k, hash);
    if (f != NULL) {
        if (flow_timed_out(t, f, p->ts_us)) {
            flow_end(t, f, VG_FLOW_END_TIMEOUT, p->ts_us);
            f = NULL;
        } else if (tcp && f->tcp_state == VG_TCP_CLOSED &&
                   (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
            /* A new connection reusing the tuple of a closed one. */
            flow_end(t, f, VG_FLOW_END_TIMEOUT, p->ts_us);
            f = NULL;
        }
    }
    if (f == NULL)
        f = flow_create(t, &k, hash, src_is_a, p);

    enum vg_flow_dir d = (src_is_a == (bool)f->client_is_a) ? VG_DIR_TOSERVER : VG_DIR_TOCLIENT;
    *dir = d;
    f->pkts[d]++;
    f->bytes[d] += p->wirelen;
    if (p->ts_us > f->last_us)
        f->last_us = p->ts_us;
    f->flags |= d == VG_DIR_TOSERVER ? VG_FLOW_F_SEEN_TOSERVER : VG_FLOW_F_SEEN_TOCLIENT;
    if (tcp) {
        f->tcp_flags[d] |= p->tcp_flags;
        tcp_track(f, d, p->tcp_flags);
    } else if (f->state == VG_FLOW_STATE_NEW && (f->flags & SEEN_BOTH) == SEEN_BOTH) {
        f->state = VG_FLOW_STATE_ESTABLISHED;
    }

    /* Most recently seen goes last, in the list of its (maybe new) class.
     * A flow already there (a burst of one flow) is left alone, which saves
     * touching its list neighbours. */
    uint8_t cls = timeout_class_of(f);
    if (cls != f->timeout_class || t->lru[cls].tail != (uint32_t)(f - t->flows)) {
        lru_unlink(t, f);
        f->timeout_class = cls;
        lru_append(t, f);
    }
    return f;
}

void vg_flow_table_expire(struct vg_flow_table *t, uint64_t now_us)
{
    for (unsigned c = 0; c < N_CLASSES; c++) {
        while (t->lru[c].head != NO_FLOW) {
            struct vg_flow *f = &t->flows[t->lru[c].head];
            if (!flow_timed_out(t, f, now_us))
                break;
            flow_end(t, f, VG_FLOW_END_TIMEOUT, now_us);
        }
    }
}

void vg_flow_table_flush(struct vg_flow_table *t, enum vg_flow_end_reason why, uint64_t now_us)
{
    for (unsigned c = 0; c < N_CLASSES; c++)
        while (t->lru[c].head != NO_FLOW)
            flow_end(t, &t->flows[t->lru[c].head], why, now_us);
}

void vg_flow_endpoints(const struct vg_flow *f, struct vg_ip_addr *client, uint16_t *client_port,
                       struct vg_ip_addr *server, uint16_t *server_port)
{
    const struct vg_flow_key *k = &f->key;
    if (f->client_is_a) {
        *client = k->addr_a;
        *client_port = k->port_a;
        *server = k->addr_b;
        *server_port = k->port_b;
    } else {
        *client = k->addr_b;
        *client_port = k->port_b;
        *server = k->addr_a;
        *server_port = k->port_a;
    }
}

const char *vg_flow_state_name(enum vg_flow_state s)
{
    switch (s) {
    case VG_FLOW_STATE_NEW:
        return "new";
    case VG_FLOW_STATE_ESTABLISHED:
        return "established";
    case VG_FLOW_STATE_CLOSED:
        return "closed";
    }
    return "unknown";
}

const char *vg_flow_end_reason_name(enum vg_flow_end_reason r)
{
    switch (r) {
    case VG_FLOW_END_TIMEOUT:
        return "timeout";
    case VG_FLOW_END_FORCED:
        return "forced";
    case VG_FLOW_END_SHUTDOWN:
        return "shutdown";
    }
    return "unknown";
}
