/* IP fragment reassembly: IPv4 and IPv6, target-based overlap policies.
 *
 * Each datagram being rebuilt has a tracker: its key, the header of the
 * fragment that supplied byte 0, and a list of pieces sorted by offset that
 * never overlap. A piece is a run of datagram bytes [start, end) held in a
 * chain of fixed-size chunks. A new fragment is resolved against the pieces
 * it overlaps (the policy takes each overlap either from the piece or from
 * the fragment, trimming or removing the losing piece), then whatever part of
 * the fragment is still not covered by a piece is queued as new pieces. The
 * datagram is complete when the last fragment set its length and the pieces
 * cover [0, length) without a hole.
 *
 * All memory comes from pools sized at creation: trackers (with a hash table
 * and a list in creation order, so the oldest is always at its head), piece
 * descriptors and chunks. Every piece holds at least one chunk, so there are
 * never more pieces than chunks and one descriptor per chunk suffices. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "vigil/defrag.h"

#define NONE UINT32_MAX

#define IPV4_HDR_LEN      20
#define IPV6_HDR_LEN      40
#define IPV6_EXT_MIN      8
#define IPV6_FRAG_HDR_LEN 8
#define IPV6_MAX_EXTS     8
#define IPV4_MF           0x2000u
#define IPV4_OFFSET_MASK  0x1fffu
#define IPV4_FLAGS_KEEP   0xc000u /* reserved bit and DF survive reassembly */
#define IPV6_OFFSET_MASK  0xfff8u
#define IPV6_M_FLAG       0x0001u
#define IP_MAX_LEN        65535u /* IPv4 total length / IPv6 payload length */
#define OUT_BUF_LEN       (IPV6_HDR_LEN + IP_MAX_LEN)

#define CHUNK VG_DEFRAG_CHUNK_SIZE

#define DEFAULT_MEMCAP        (32ull << 20)
#define DEFAULT_MAX_TRACKERS  65535u
#define DEFAULT_MAX_FRAGMENTS 256u
#define DEFAULT_TIMEOUT_US    (60ull * 1000000ull)

enum tracker_state {
    TRACKER_FREE = 0,
    TRACKER_ACTIVE,
    TRACKER_GIVEN_UP, /* memcap or too many fragments: absorbs the rest until its timeout */
};

/* Compared with memcmp and hashed as six 64-bit words: no implicit padding. */
struct defrag_key {
    struct vg_ip_addr src;
    struct vg_ip_addr dst;
    uint32_t id;
    uint16_t vlan[VG_MAX_VLAN];
    uint8_t family;
    uint8_t proto; /* IPv4 only: IPv6 fragments are matched without it (RFC 8200) */
    uint8_t pad[6];
};
_Static_assert(sizeof(struct defrag_key) == 48, "defrag key must have no implicit padding");

struct tracker {
    struct defrag_key key;
    uint64_t created_us;
    uint64_t wire_bytes; /* of every fragment fed to it */
    uint32_t hash;
    uint32_t hash_next;
    uint32_t prev; /* creation-order list; the free list uses next only */
    uint32_t next;
    uint32_t pieces;    /* first piece, lowest offset */
    uint32_t hdr_chunk; /* header of the fragment that supplied byte 0 */
    uint32_t hdr_len;
    uint32_t end; /* datagram data length, known once the last fragment came */
    uint32_t nfrags;
    uint32_t hdr_nh_off; /* IPv6: offset in the header of the byte naming the fragment header */
    uint8_t frag_nh;     /* IPv6: next header announced by that fragment header */
    uint8_t state;       /* enum tracker_state */
    uint8_t has_end;
    uint8_t pad;
};

struct piece {
    uint32_t start;
    uint32_t end;
    uint32_t chunk; /* first chunk of the data */
    uint32_t skip;  /* bytes of the first chunk before start (left by front trims) */
    uint32_t next;
};

struct vg_defrag {
    struct vg_defrag_config cfg;
    struct vg_defrag_stats st;
    uint32_t events;
    uint64_t seed;

    struct tracker *trackers;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t free_trackers;
    uint32_t oldest; /* creation-order list of trackers in use */
    uint32_t newest;

    struct piece *pieces;
    uint32_t free_pieces;

    uint8_t *chunks;
    uint32_t *chunk_next;
    uint32_t free_chunks;
    uint32_t n_free_chunks;
    uint32_t n_chunks;

    uint8_t *out;
};

/* What a fragment says about itself. */
struct frag_info {
    const uint8_t *hdr; /* the IP header */
    uint32_t hdr_len;   /* IPv4: header length; IPv6: the part before the fragment header */
    const uint8_t *data;
    uint32_t data_len;
    uint32_t offset; /* in bytes */
    bool more;
    uint32_t id;
    uint8_t proto;       /* IPv4 protocol */
    uint8_t frag_nh;     /* IPv6: next header of the fragment header */
    uint32_t hdr_nh_off; /* IPv6: where the header names the fragment header */
};

enum parse_result {
    PARSE_OK,
    PARSE_INVALID,
    PARSE_TRUNCATED,
    PARSE_TOO_LARGE,
};

/* ---- names ---- */

static const char *const policy_names[VG_DEFRAG_POLICY_COUNT] = {
    [VG_DEFRAG_POLICY_BSD] = "bsd",         [VG_DEFRAG_POLICY_FIRST] = "first",
    [VG_DEFRAG_POLICY_LAST] = "last",       [VG_DEFRAG_POLICY_LINUX] = "linux",
    [VG_DEFRAG_POLICY_WINDOWS] = "windows", [VG_DEFRAG_POLICY_SOLARIS] = "solaris",
};

const char *vg_defrag_policy_name(enum vg_defrag_policy p)
{
    if ((unsigned)p >= VG_DEFRAG_POLICY_COUNT)
        return NULL;
    return policy_names[p];
}

int vg_defrag_policy_parse(const char *name, enum vg_defrag_policy *out)
{
    if (name == NULL)
        return -1;
    for (unsigned i = 0; i < VG_DEFRAG_POLICY_COUNT; i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            *out = (enum vg_defrag_policy)i;
            return 0;
        }
    }
    return -1;
}

static const char *const event_names[VG_DEFRAG_EV_COUNT] = {
    [VG_DEFRAG_EV_OVERLAP] = "defrag.overlap",
    [VG_DEFRAG_EV_OVERLAP_DIFFERENT_DATA] = "defrag.overlap_different_data",
    [VG_DEFRAG_EV_TOO_MANY_FRAGMENTS] = "defrag.max_frag_hits",
    [VG_DEFRAG_EV_DATAGRAM_TOO_LARGE] = "defrag.frag_pkt_too_large",
    [VG_DEFRAG_EV_INVALID_FRAGMENT] = "defrag.frag_invalid",
    [VG_DEFRAG_EV_MEMCAP] = "defrag.memcap",
    [VG_DEFRAG_EV_TRACKER_TABLE_FULL] = "defrag.max_trackers_reached",
    [VG_DEFRAG_EV_TIMEOUT] = "defrag.tracker_timeout",
};

/* Suricata's per-family decoder events; NULL where it has none. */
static const char *const event_names_v4[VG_DEFRAG_EV_COUNT] = {
    [VG_DEFRAG_EV_OVERLAP] = "ipv4.frag_overlap",
    [VG_DEFRAG_EV_DATAGRAM_TOO_LARGE] = "ipv4.frag_pkt_too_large",
    [VG_DEFRAG_EV_MEMCAP] = "ipv4.frag_ignored",
};

static const char *const event_names_v6[VG_DEFRAG_EV_COUNT] = {
    [VG_DEFRAG_EV_OVERLAP] = "ipv6.frag_overlap",
    [VG_DEFRAG_EV_DATAGRAM_TOO_LARGE] = "ipv6.frag_pkt_too_large",
    [VG_DEFRAG_EV_INVALID_FRAGMENT] = "ipv6.frag_invalid_length",
    [VG_DEFRAG_EV_MEMCAP] = "ipv6.frag_ignored",
};

const char *vg_defrag_event_name(enum vg_defrag_event ev)
{
    if ((unsigned)ev >= VG_DEFRAG_EV_COUNT)
        return "unknown";
    return event_names[ev];
}

const char *vg_defrag_event_name_family(enum vg_defrag_event ev, int family)
{
    if ((unsigned)ev >= VG_DEFRAG_EV_COUNT)
        return "unknown";
    const char *name = NULL;
    if (family == 4)
        name = event_names_v4[ev];
    else if (family == 6)
        name = event_names_v6[ev];
    return name != NULL ? name : event_names[ev];
}

void vg_defrag_stats_add(struct vg_defrag_stats *dst, const struct vg_defrag_stats *src)
{
    _Static_assert(sizeof(struct vg_defrag_stats) % sizeof(uint64_t) == 0,
                   "defrag stats must be made of uint64_t counters only");
    uint64_t a[sizeof(*dst) / sizeof(uint64_t)], b[sizeof(*src) / sizeof(uint64_t)];
    memcpy(a, dst, sizeof(a));
    memcpy(b, src, sizeof(b));
    for (size_t i = 0; i < VG_ARRAY_SIZE(a); i++)
        a[i] += b[i];
    memcpy(dst, a, sizeof(a));
}

/* ---- helpers ---- */

static inline uint16_t rd16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline void wr16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
    return a > b ? a : b;
}

static inline void raise_event(struct vg_defrag *d, enum vg_defrag_event ev)
{
    d->events |= VG_DEFRAG_EVENT_BIT(ev);
}

/* RFC 1071 checksum of an IPv4 header (at most 60 bytes). */
static uint16_t ipv4_header_checksum(const uint8_t *h, uint32_t len)
{
    uint32_t sum = 0;
    for (uint32_t i = 0; i + 1 < len; i += 2)
        sum += rd16(h + i);
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* Keyed with a per-instance random seed, so that nobody can aim fragment
 * ids at one bucket. */
static uint32_t key_hash(const struct defrag_key *k, uint64_t seed)
{
    uint64_t w[sizeof(*k) / sizeof(uint64_t)];
    memcpy(w, k, sizeof(w));
    uint64_t h = seed;
    for (size_t i = 0; i < VG_ARRAY_SIZE(w); i++)
        h = mix64(h ^ w[i]);
    return (uint32_t)h;
}

/* ---- chunks ---- */

static inline uint8_t *chunk_data(struct vg_defrag *d, uint32_t c)
{
    return d->chunks + (size_t)c * CHUNK;
}

static inline uint32_t chunks_for(uint32_t bytes)
{
    return (bytes + CHUNK - 1) / CHUNK;
}

static void chunk_free(struct vg_defrag *d, uint32_t c)
{
    d->chunk_next[c] = d->free_chunks;
    d->free_chunks = c;
    d->n_free_chunks++;
    d->st.memuse -= CHUNK;
}

static void chain_free(struct vg_defrag *d, uint32_t c)
{
    while (c != NONE) {
        uint32_t next = d->chunk_next[c];
        chunk_free(d, c);
        c = next;
    }
}

/* A chain of enough chunks for len bytes (len > 0), or NONE when the pool
 * has too few left. */
static uint32_t chain_alloc(struct vg_defrag *d, uint32_t len)
{
    uint32_t need = chunks_for(len);
    if (need > d->n_free_chunks)
        return NONE;
    uint32_t head = NONE;
    for (uint32_t i = 0; i < need; i++) {
        uint32_t c = d->free_chunks;
        d->free_chunks = d->chunk_next[c];
        d->chunk_next[c] = head;
        head = c;
    }
    d->n_free_chunks -= need;
    d->st.memuse += (uint64_t)need * CHUNK;
    return head;
}

/* Moves to the chunk holding byte pos of the chain; *pos becomes the offset
 * within it. */
static uint32_t chain_seek(const struct vg_defrag *d, uint32_t c, uint32_t *pos)
{
    while (*pos >= CHUNK) {
        c = d->chunk_next[c];
        *pos -= CHUNK;
    }
    return c;
}

static void chain_write(struct vg_defrag *d, uint32_t c, uint32_t pos, const uint8_t *src,
                        uint32_t n)
{
    c = chain_seek(d, c, &pos);
    while (n > 0) {
        uint32_t k = min_u32(n, CHUNK - pos);
        memcpy(chunk_data(d, c) + pos, src, k);
        src += k;
        n -= k;
        pos = 0;
        c = d->chunk_next[c];
    }
}

static void chain_read(struct vg_defrag *d, uint32_t c, uint32_t pos, uint8_t *dst, uint32_t n)
{
    c = chain_seek(d, c, &pos);
    while (n > 0) {
        uint32_t k = min_u32(n, CHUNK - pos);
        memcpy(dst, chunk_data(d, c) + pos, k);
        dst += k;
        n -= k;
        pos = 0;
        c = d->chunk_next[c];
    }
}

static bool chain_equal(struct vg_defrag *d, uint32_t c, uint32_t pos, const uint8_t *src,
                        uint32_t n)
{
    c = chain_seek(d, c, &pos);
    while (n > 0) {
        uint32_t k = min_u32(n, CHUNK - pos);
        if (memcmp(chunk_data(d, c) + pos, src, k) != 0)
            return false;
        src += k;
        n -= k;
        pos = 0;
        c = d->chunk_next[c];
    }
    return true;
}

/* Copies n bytes from one chain position to another, chunk by chunk. */
static void chain_copy(struct vg_defrag *d, uint32_t dc, uint32_t dpos, uint32_t sc, uint32_t spos,
                       uint32_t n)
{
    dc = chain_seek(d, dc, &dpos);
    sc = chain_seek(d, sc, &spos);
    while (n > 0) {
        uint32_t k = min_u32(n, min_u32(CHUNK - dpos, CHUNK - spos));
        memcpy(chunk_data(d, dc) + dpos, chunk_data(d, sc) + spos, k);
        n -= k;
        dpos += k;
        spos += k;
        if (dpos == CHUNK) {
            dc = d->chunk_next[dc];
            dpos = 0;
        }
        if (spos == CHUNK) {
            sc = d->chunk_next[sc];
            spos = 0;
        }
    }
}

/* ---- pieces ---- */

static inline uint32_t piece_len(const struct piece *p)
{
    return p->end - p->start;
}

/* A piece holding [start, end) with the given bytes, or NONE when the chunk
 * pool is exhausted. */
static uint32_t piece_new(struct vg_defrag *d, uint32_t start, uint32_t end, const uint8_t *src)
{
    uint32_t c = chain_alloc(d, end - start);
    if (c == NONE)
        return NONE;
    chain_write(d, c, 0, src, end - start);
    /* one descriptor per chunk: a chain was available, so is a descriptor */
    uint32_t i = d->free_pieces;
    d->free_pieces = d->pieces[i].next;
    d->pieces[i] = (struct piece){.start = start, .end = end, .chunk = c, .skip = 0, .next = NONE};
    return i;
}

static void piece_free(struct vg_defrag *d, uint32_t i)
{
    chain_free(d, d->pieces[i].chunk);
    d->pieces[i].chunk = NONE;
    d->pieces[i].next = d->free_pieces;
    d->free_pieces = i;
}

/* Drops the first n bytes (n < length), and the chunks they emptied. */
static void piece_trim_front(struct vg_defrag *d, struct piece *p, uint32_t n)
{
    p->start += n;
    p->skip += n;
    while (p->skip >= CHUNK) {
        uint32_t c = p->chunk;
        p->chunk = d->chunk_next[c];
        chunk_free(d, c);
        p->skip -= CHUNK;
    }
}

/* Drops the last n bytes (n < length), and the chunks they emptied. */
static void piece_trim_back(struct vg_defrag *d, struct piece *p, uint32_t n)
{
    p->end -= n;
    uint32_t keep = chunks_for(p->skip + piece_len(p));
    uint32_t c = p->chunk;
    for (uint32_t i = 1; i < keep; i++)
        c = d->chunk_next[c];
    chain_free(d, d->chunk_next[c]);
    d->chunk_next[c] = NONE;
}

/* Copies bytes [at, end) of piece i into a new piece linked after it, or
 * returns NONE when the chunk pool is exhausted. The caller trims i. */
static uint32_t piece_split(struct vg_defrag *d, uint32_t i, uint32_t at)
{
    struct piece *p = &d->pieces[i];
    uint32_t c = chain_alloc(d, p->end - at);
    if (c == NONE)
        return NONE;
    chain_copy(d, c, 0, p->chunk, p->skip + (at - p->start), p->end - at);
    uint32_t r = d->free_pieces;
    d->free_pieces = d->pieces[r].next;
    d->pieces[r] =
        (struct piece){.start = at, .end = p->end, .chunk = c, .skip = 0, .next = p->next};
    p->next = r;
    return r;
}

/* ---- trackers ---- */

static void tracker_free_data(struct vg_defrag *d, struct tracker *t)
{
    uint32_t i = t->pieces;
    while (i != NONE) {
        uint32_t next = d->pieces[i].next;
        piece_free(d, i);
        i = next;
    }
    t->pieces = NONE;
    chain_free(d, t->hdr_chunk);
    t->hdr_chunk = NONE;
    t->hdr_len = 0;
}

/* Frees the tracker's data but keeps it, so that the datagram's remaining
 * fragments are absorbed instead of starting a tracker that can never finish. */
static void tracker_give_up(struct vg_defrag *d, struct tracker *t)
{
    tracker_free_data(d, t);
    t->state = TRACKER_GIVEN_UP;
}

static void tracker_release(struct vg_defrag *d, uint32_t i)
{
    struct tracker *t = &d->trackers[i];
    tracker_free_data(d, t);

    uint32_t *link = &d->buckets[t->hash & d->bucket_mask];
    while (*link != i)
        link = &d->trackers[*link].hash_next;
    *link = t->hash_next;

    if (t->prev != NONE)
        d->trackers[t->prev].next = t->next;
    else
        d->oldest = t->next;
    if (t->next != NONE)
        d->trackers[t->next].prev = t->prev;
    else
        d->newest = t->prev;

    t->state = TRACKER_FREE;
    t->next = d->free_trackers;
    d->free_trackers = i;
    d->st.trackers_active--;
}

static uint32_t expire(struct vg_defrag *d, uint64_t now_us)
{
    uint32_t timed_out = 0;
    while (d->oldest != NONE) {
        struct tracker *t = &d->trackers[d->oldest];
        if (now_us < t->created_us || now_us - t->created_us < d->cfg.timeout_us)
            break;
        if (t->state == TRACKER_ACTIVE) {
            d->st.timeouts++;
            timed_out++;
        }
        tracker_release(d, d->oldest);
    }
    return timed_out;
}

uint32_t vg_defrag_expire(struct vg_defrag *d, uint64_t now_us)
{
    return expire(d, now_us);
}

static uint32_t tracker_find(const struct vg_defrag *d, const struct defrag_key *k, uint32_t h)
{
    uint32_t i = d->buckets[h & d->bucket_mask];
    while (i != NONE) {
        const struct tracker *t = &d->trackers[i];
        if (t->hash == h && memcmp(&t->key, k, sizeof(*k)) == 0)
            return i;
        i = t->hash_next;
    }
    return NONE;
}

static uint32_t tracker_new(struct vg_defrag *d, const struct defrag_key *k, uint32_t h,
                            uint64_t now_us)
{
    uint32_t i = d->free_trackers;
    if (i == NONE)
        return NONE;
    struct tracker *t = &d->trackers[i];
    d->free_trackers = t->next;
    memset(t, 0, sizeof(*t));
    t->key = *k;
    t->created_us = now_us;
    t->hash = h;
    t->pieces = NONE;
    t->hdr_chunk = NONE;
    t->state = TRACKER_ACTIVE;

    uint32_t *bucket = &d->buckets[h & d->bucket_mask];
    t->hash_next = *bucket;
    *bucket = i;

    t->next = NONE;
    t->prev = d->newest;
    if (d->newest != NONE)
        d->trackers[d->newest].next = i;
    else
        d->oldest = i;
    d->newest = i;
    d->st.trackers_active++;
    return i;
}

/* ---- reading a fragment ---- */

static enum parse_result parse_ipv4(const struct vg_packet *p, struct frag_info *f)
{
    const uint8_t *ip = p->l3;
    if (p->l3_len < IPV4_HDR_LEN || ip[0] >> 4 != 4)
        return PARSE_INVALID;
    uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
    uint32_t total = rd16(ip + 2);
    if (hlen < IPV4_HDR_LEN || total < hlen)
        return PARSE_INVALID;
    if (p->l3_len < total)
        return PARSE_TRUNCATED;
    uint16_t fo = rd16(ip + 6);
    f->hdr = ip;
    f->hdr_len = hlen;
    f->data = ip + hlen;
    f->data_len = total - hlen;
    f->offset = (uint32_t)(fo & IPV4_OFFSET_MASK) * 8;
    f->more = (fo & IPV4_MF) != 0;
    f->id = rd16(ip + 4);
    f->proto = ip[9];
    if (hlen + f->offset + f->data_len > IP_MAX_LEN)
        return PARSE_TOO_LARGE;
    return PARSE_OK;
}

/* Walks the extension headers to the fragment header. Those before it (the
 * per-fragment part: hop-by-hop, routing, destination options; an atomic
 * fragment header is skipped like them) stay in the rebuilt datagram. */
static enum parse_result parse_ipv6(const struct vg_packet *p, struct frag_info *f)
{
    const uint8_t *ip = p->l3;
    if (p->l3_len < IPV6_HDR_LEN || ip[0] >> 4 != 6)
        return PARSE_INVALID;
    uint32_t total = IPV6_HDR_LEN + rd16(ip + 4);
    if (p->l3_len < total)
        return PARSE_TRUNCATED;
    uint32_t hoff = IPV6_HDR_LEN;
    uint32_t nh_off = 6;
    uint8_t nh = ip[6];
    for (unsigned n = 0;; n++) {
        if (n >= IPV6_MAX_EXTS || total - hoff < IPV6_EXT_MIN)
            return PARSE_INVALID;
        const uint8_t *h = ip + hoff;
        uint32_t hlen;
        switch (nh) {
        case IPPROTO_FRAGMENT: {
            uint16_t fo = rd16(h + 2);
            if ((fo & (IPV6_OFFSET_MASK | IPV6_M_FLAG)) == 0) {
                hlen = IPV6_FRAG_HDR_LEN;
                break;
            }
            f->hdr = ip;
            f->hdr_len = hoff;
            f->hdr_nh_off = nh_off;
            f->frag_nh = h[0];
            f->data = h + IPV6_FRAG_HDR_LEN;
            f->data_len = total - hoff - IPV6_FRAG_HDR_LEN;
            f->offset = fo & IPV6_OFFSET_MASK;
            f->more = (fo & IPV6_M_FLAG) != 0;
            f->id = rd32(h + 4);
            f->proto = 0;
            if (hoff - IPV6_HDR_LEN + f->offset + f->data_len > IP_MAX_LEN)
                return PARSE_TOO_LARGE;
            return PARSE_OK;
        }
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
            hlen = ((uint32_t)h[1] + 1) * 8;
            break;
        case IPPROTO_AH:
            hlen = ((uint32_t)h[1] + 2) * 4;
            break;
        default:
            return PARSE_INVALID; /* no fragment header */
        }
        if (hlen > total - hoff)
            return PARSE_INVALID;
        nh_off = hoff;
        nh = h[0];
        hoff += hlen;
    }
}

/* ---- overlap policies ---- */

/* Whether new fragment [ns, ne) supplies the bytes it shares with the queued
 * piece [ps, pe). See defrag.h for the policies. */
static bool new_wins(enum vg_defrag_policy policy, uint32_t ns, uint32_t ne, uint32_t ps,
                     uint32_t pe)
{
    switch (policy) {
    case VG_DEFRAG_POLICY_FIRST:
        return false;
    case VG_DEFRAG_POLICY_LAST:
        return true;
    case VG_DEFRAG_POLICY_LINUX:
        return ps >= ns;
    case VG_DEFRAG_POLICY_WINDOWS:
        return ns < ps && ne > pe;
    case VG_DEFRAG_POLICY_SOLARIS:
        return ns < ps && ne >= pe;
    case VG_DEFRAG_POLICY_BSD:
    default:
        return ps > ns;
    }
}

/* Resolves the fragment against the pieces it overlaps, then queues what of
 * it is still uncovered. Returns false when the chunk pool ran out. */
static bool tracker_insert(struct vg_defrag *d, struct tracker *t, const struct frag_info *f,
                           bool *took_byte0)
{
    const uint32_t ns = f->offset, ne = f->offset + f->data_len;
    bool overlap = false, differ = false;
    uint32_t covered = 0;

    uint32_t *link = &t->pieces;
    uint32_t i = *link;
    while (i != NONE) {
        struct piece *p = &d->pieces[i];
        if (p->end <= ns) {
            link = &p->next;
            i = p->next;
            continue;
        }
        if (p->start >= ne)
            break;
        uint32_t os = max_u32(ns, p->start), oe = min_u32(ne, p->end);
        overlap = true;
        covered += oe - os;
        if (!differ &&
            !chain_equal(d, p->chunk, p->skip + (os - p->start), f->data + (os - ns), oe - os))
            differ = true;
        if (!new_wins(d->cfg.policy, ns, ne, p->start, p->end)) {
            link = &p->next;
            i = p->next;
            continue;
        }
        if (p->start < os && p->end > oe) {
            /* the fragment lands inside the piece: keep both ends of it */
            if (piece_split(d, i, oe) == NONE)
                return false;
            piece_trim_back(d, p, p->end - os);
            break;
        }
        if (p->start < os) {
            piece_trim_back(d, p, p->end - os);
            link = &p->next;
            i = p->next;
        } else if (p->end > oe) {
            piece_trim_front(d, p, oe - p->start);
            break;
        } else {
            *link = p->next;
            piece_free(d, i);
            i = *link;
        }
    }
    if (overlap) {
        d->st.overlaps++;
        raise_event(d, VG_DEFRAG_EV_OVERLAP);
        if (differ) {
            d->st.overlaps_different++;
            raise_event(d, VG_DEFRAG_EV_OVERLAP_DIFFERENT_DATA);
        } else if (covered == ne - ns) {
            d->st.duplicates++;
        }
    }

    /* Queue the runs of [ns, ne) that no piece covers now. */
    uint32_t pos = ns;
    link = &t->pieces;
    i = *link;
    while (pos < ne) {
        while (i != NONE && d->pieces[i].end <= pos) {
            link = &d->pieces[i].next;
            i = *link;
        }
        if (i != NONE && d->pieces[i].start <= pos) {
            pos = d->pieces[i].end;
            continue;
        }
        uint32_t run_end = i == NONE ? ne : min_u32(ne, d->pieces[i].start);
        uint32_t n = piece_new(d, pos, run_end, f->data + (pos - ns));
        if (n == NONE)
            return false;
        d->pieces[n].next = i;
        *link = n;
        link = &d->pieces[n].next;
        if (pos == 0)
            *took_byte0 = true;
        pos = run_end;
    }
    return true;
}

/* The header of the fragment whose data now starts the datagram. */
static bool tracker_set_header(struct vg_defrag *d, struct tracker *t, const struct frag_info *f)
{
    chain_free(d, t->hdr_chunk);
    t->hdr_chunk = chain_alloc(d, f->hdr_len);
    if (t->hdr_chunk == NONE)
        return false;
    chain_write(d, t->hdr_chunk, 0, f->hdr, f->hdr_len);
    t->hdr_len = f->hdr_len;
    t->hdr_nh_off = f->hdr_nh_off;
    t->frag_nh = f->frag_nh;
    return true;
}

static bool tracker_complete(const struct vg_defrag *d, const struct tracker *t)
{
    if (!t->has_end || t->hdr_chunk == NONE)
        return false;
    uint32_t covered = 0;
    for (uint32_t i = t->pieces; i != NONE; i = d->pieces[i].next) {
        const struct piece *p = &d->pieces[i];
        if (p->start > covered)
            return false;
        covered = max_u32(covered, p->end);
        if (covered >= t->end)
            return true;
    }
    return false;
}

/* Writes the datagram into d->out. Returns its length, or 0 when the header
 * and the data together exceed the IP maximum. Data past the end the last
 * fragment announced is left out. */
static uint32_t tracker_build(struct vg_defrag *d, const struct tracker *t)
{
    uint32_t ext_len = t->key.family == 4 ? t->hdr_len : t->hdr_len - IPV6_HDR_LEN;
    if (ext_len + t->end > IP_MAX_LEN)
        return 0;
    uint8_t *o = d->out;
    chain_read(d, t->hdr_chunk, 0, o, t->hdr_len);
    for (uint32_t i = t->pieces; i != NONE; i = d->pieces[i].next) {
        const struct piece *p = &d->pieces[i];
        if (p->start >= t->end)
            break;
        uint32_t n = min_u32(p->end, t->end) - p->start;
        chain_read(d, p->chunk, p->skip, o + t->hdr_len + p->start, n);
    }
    uint32_t len = t->hdr_len + t->end;
    if (t->key.family == 4) {
        wr16(o + 2, len);
        wr16(o + 6, rd16(o + 6) & IPV4_FLAGS_KEEP);
        wr16(o + 10, 0);
        wr16(o + 10, ipv4_header_checksum(o, t->hdr_len));
    } else {
        wr16(o + 4, len - IPV6_HDR_LEN);
        o[t->hdr_nh_off] = t->frag_nh;
    }
    return len;
}

/* ---- the entry point ---- */

static int drop(struct vg_defrag *d, uint64_t *counter, enum vg_defrag_event ev)
{
    (*counter)++;
    raise_event(d, ev);
    return 0;
}

int vg_defrag_packet(struct vg_defrag *d, const struct vg_packet *frag, uint64_t now_us,
                     struct vg_packet *out, struct vg_decode_stats *st)
{
    d->events = 0;
    expire(d, now_us);

    struct frag_info f;
    memset(&f, 0, sizeof(f));
    enum parse_result pr = PARSE_INVALID;
    if (frag->l3 != NULL && (frag->flags & VG_PKT_FRAGMENT)) {
        if (frag->family == 4) {
            d->st.ipv4_fragments++;
            pr = parse_ipv4(frag, &f);
        } else if (frag->family == 6) {
            d->st.ipv6_fragments++;
            pr = parse_ipv6(frag, &f);
        }
    }
    switch (pr) {
    case PARSE_OK:
        break;
    case PARSE_TRUNCATED:
        d->st.truncated++;
        return 0;
    case PARSE_TOO_LARGE:
        return drop(d, &d->st.oversize, VG_DEFRAG_EV_DATAGRAM_TOO_LARGE);
    case PARSE_INVALID:
    default:
        return drop(d, &d->st.invalid, VG_DEFRAG_EV_INVALID_FRAGMENT);
    }
    /* Only the last fragment may end off an 8-byte boundary; an empty
     * fragment carries nothing. */
    if (f.data_len == 0 || (f.more && f.data_len % 8 != 0))
        return drop(d, &d->st.invalid, VG_DEFRAG_EV_INVALID_FRAGMENT);

    struct defrag_key k;
    memset(&k, 0, sizeof(k));
    k.src = frag->src;
    k.dst = frag->dst;
    k.id = f.id;
    k.family = frag->family;
    k.proto = f.proto;
    for (unsigned v = 0; v < frag->vlan_count && v < VG_MAX_VLAN; v++)
        k.vlan[v] = frag->vlan[v];
    uint32_t h = key_hash(&k, d->seed);
    uint32_t ti = tracker_find(d, &k, h);
    if (ti == NONE) {
        ti = tracker_new(d, &k, h, now_us);
        if (ti == NONE)
            return drop(d, &d->st.tracker_table_full, VG_DEFRAG_EV_TRACKER_TABLE_FULL);
    }
    struct tracker *t = &d->trackers[ti];
    if (t->state == TRACKER_GIVEN_UP) {
        d->st.absorbed++;
        return 0;
    }

    /* The last fragment fixes the length; nothing may contradict it. */
    uint32_t fend = f.offset + f.data_len;
    if (!f.more) {
        if (t->has_end && t->end != fend)
            return drop(d, &d->st.invalid, VG_DEFRAG_EV_INVALID_FRAGMENT);
    } else if (t->has_end && fend > t->end) {
        return drop(d, &d->st.invalid, VG_DEFRAG_EV_INVALID_FRAGMENT);
    }
    if (t->nfrags >= d->cfg.max_fragments) {
        tracker_give_up(d, t);
        return drop(d, &d->st.too_many_fragments, VG_DEFRAG_EV_TOO_MANY_FRAGMENTS);
    }
    t->nfrags++;
    t->wire_bytes += frag->wirelen > frag->caplen ? frag->wirelen : frag->caplen;
    if (!f.more) {
        t->has_end = 1;
        t->end = fend;
    }

    bool took_byte0 = false;
    if (!tracker_insert(d, t, &f, &took_byte0) || (took_byte0 && !tracker_set_header(d, t, &f))) {
        tracker_give_up(d, t);
        return drop(d, &d->st.memcap_drops, VG_DEFRAG_EV_MEMCAP);
    }
    if (!tracker_complete(d, t))
        return 0;

    /* Keep what out needs from the fragment: the caller may pass one
     * struct as both. */
    const uint64_t ts_us = frag->ts_us, pcap_cnt = frag->pcap_cnt, wire = t->wire_bytes;
    const uint8_t vlan_count = frag->vlan_count;
    uint16_t vlan[VG_MAX_VLAN];
    memcpy(vlan, frag->vlan, sizeof(vlan));
    const int family = t->key.family;

    uint32_t len = tracker_build(d, t);
    tracker_release(d, ti);
    if (len == 0)
        return drop(d, &d->st.oversize, VG_DEFRAG_EV_DATAGRAM_TOO_LARGE);

    memset(out, 0, sizeof(*out));
    out->data = d->out;
    out->caplen = len;
    out->wirelen = len;
    out->ts_us = ts_us;
    out->pcap_cnt = pcap_cnt;
    /* The fragments were the captured packets: only the layers count. */
    const uint64_t pkts = st->pkts, bytes = st->bytes, raw = st->raw;
    int rc = vg_decode(out, VG_LINK_RAW, VG_CSUM_NONE, st);
    st->pkts = pkts;
    st->bytes = bytes;
    st->raw = raw;
    if (rc != 0) {
        d->st.rebuilt_undecodable++;
        return 0;
    }
    out->wirelen = (uint32_t)(wire > UINT32_MAX ? UINT32_MAX : wire);
    out->vlan_count = vlan_count;
    memcpy(out->vlan, vlan, sizeof(vlan));
    if (family == 4)
        d->st.ipv4_reassembled++;
    else
        d->st.ipv6_reassembled++;
    return 1;
}

uint32_t vg_defrag_last_events(const struct vg_defrag *d)
{
    return d->events;
}

const struct vg_defrag_stats *vg_defrag_stats(const struct vg_defrag *d)
{
    return &d->st;
}

/* ---- life cycle ---- */

void vg_defrag_config_default(struct vg_defrag_config *cfg)
{
    cfg->memcap = DEFAULT_MEMCAP;
    cfg->max_trackers = DEFAULT_MAX_TRACKERS;
    cfg->max_fragments = DEFAULT_MAX_FRAGMENTS;
    cfg->timeout_us = DEFAULT_TIMEOUT_US;
    cfg->policy = VG_DEFRAG_POLICY_BSD;
}

static uint64_t random_seed(const void *salt)
{
    uint64_t s = 0;
    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
        s = 0x6a09e667f3bcc909ull ^ (uint64_t)(uintptr_t)salt;
    return s;
}

struct vg_defrag *vg_defrag_new(const struct vg_defrag_config *cfg)
{
    struct vg_defrag_config c;
    vg_defrag_config_default(&c);
    if (cfg != NULL) {
        if (cfg->memcap != 0)
            c.memcap = cfg->memcap;
        if (cfg->max_trackers != 0)
            c.max_trackers = cfg->max_trackers;
        if (cfg->max_fragments != 0)
            c.max_fragments = cfg->max_fragments;
        if (cfg->timeout_us != 0)
            c.timeout_us = cfg->timeout_us;
        if ((unsigned)cfg->policy < VG_DEFRAG_POLICY_COUNT)
            c.policy = cfg->policy;
    }
    /* indices are 32-bit with UINT32_MAX meaning none */
    uint64_t n_chunks = c.memcap / CHUNK;
    if (n_chunks == 0)
        n_chunks = 1;
    if (n_chunks >= NONE)
        n_chunks = NONE - 1;
    if (c.max_trackers >= (NONE >> 1))
        c.max_trackers = (NONE >> 1) - 1;
    c.memcap = n_chunks * CHUNK;

    struct vg_defrag *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return NULL;
    d->cfg = c;
    d->n_chunks = (uint32_t)n_chunks;
    uint32_t nb = 16;
    while (nb < c.max_trackers)
        nb <<= 1;
    d->bucket_mask = nb - 1;
    d->trackers = calloc(c.max_trackers, sizeof(*d->trackers));
    d->buckets = malloc((size_t)nb * sizeof(*d->buckets));
    d->pieces = malloc((size_t)n_chunks * sizeof(*d->pieces));
    d->chunks = malloc((size_t)n_chunks * CHUNK);
    d->chunk_next = malloc((size_t)n_chunks * sizeof(*d->chunk_next));
    d->out = malloc(OUT_BUF_LEN);
    if (d->trackers == NULL || d->buckets == NULL || d->pieces == NULL || d->chunks == NULL ||
        d->chunk_next == NULL || d->out == NULL) {
        vg_defrag_free(d);
        return NULL;
    }
    memset(d->buckets, 0xff, (size_t)nb * sizeof(*d->buckets));
    for (uint32_t i = 0; i < c.max_trackers; i++)
        d->trackers[i].next = i + 1 < c.max_trackers ? i + 1 : NONE;
    d->free_trackers = 0;
    d->oldest = d->newest = NONE;
    for (uint32_t i = 0; i < d->n_chunks; i++) {
        d->chunk_next[i] = i + 1 < d->n_chunks ? i + 1 : NONE;
        d->pieces[i].next = i + 1 < d->n_chunks ? i + 1 : NONE;
        d->pieces[i].chunk = NONE;
    }
    d->free_chunks = 0;
    d->free_pieces = 0;
    d->n_free_chunks = d->n_chunks;
    d->seed = random_seed(d);
    return d;
}

void vg_defrag_free(struct vg_defrag *d)
{
    if (d == NULL)
        return;
    free(d->trackers);
    free(d->buckets);
    free(d->pieces);
    free(d->chunks);
    free(d->chunk_next);
    free(d->out);
    free(d);
}
