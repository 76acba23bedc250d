/* TCP stream reassembly: per-direction lists of buffered segments, resolved
 * against each other by a target-based overlap policy, delivered in order
 * once the receiver acknowledges them.
 *
 * Storage. A direction keeps its not-yet-delivered bytes as a list of
 * non-overlapping pieces sorted by sequence number. A piece is a segment
 * descriptor (from a pool of cfg.segment_pool) whose bytes sit in a chain of
 * fixed-size chunks (from a pool of cfg.memcap / VG_STREAM_CHUNK_SIZE). The
 * list is doubly linked and searched from its tail, where in-order and most
 * out-of-order segments land. Because flow_cap counts chunk bytes, a
 * direction holds at most flow_cap / VG_STREAM_CHUNK_SIZE pieces, which
 * bounds the walk of any insertion.
 *
 * Overlaps. When a new segment overlaps a buffered piece, the policy decides
 * which bytes the receiver keeps, piece by piece, as the receiving stacks do
 * in their out-of-order queues (FreeBSD tcp_reass(), Linux
 * tcp_data_queue_ofo()): the new segment's start is compared with the start
 * of the piece it overlaps. Pieces are what the receiver would hold after
 * earlier trims, so a piece's start is where its surviving bytes begin.
 *
 *   first    the buffered bytes always win.
 *   last     the new bytes always win.
 *   bsd      the new bytes win over a piece that starts after the new segment
 *            starts; a piece that starts at or before it keeps its bytes
 *            (tcp_reass() trims the new segment against the preceding piece
 *            and trims or drops the following ones). Snort 3 "bsd"
 *            (left_overlap_keep_first, right_overlap_truncate_existing,
 *            full_right_overlap_os1) and Suricata OS_POLICY_BSD agree.
 *   linux    as bsd, and the new bytes also win over a piece that starts at
 *            the same sequence number when the new segment ends after it.
 *            Snort 3 "linux" (full_right_overlap_os2) and Suricata
 *            OS_POLICY_LINUX agree.
 *   windows  the bsd rule: Snort 3 "windows" uses the same resolvers as
 *            "bsd" (full_right_overlap_os1) and Suricata OS_POLICY_WINDOWS
 *            the same branch. (Snort 3's "vista" differs: first.)
 *
 * Bytes already delivered are final: a later copy is compared by nothing and
 * counted as a retransmission.
 *
 * RST. No target hands the payload of a RST to the application (RFC 1122
 * 4.2.2.12 describes it as diagnostic text; Snort 3 trims it, "tcp_trim_rst"),
 * so under every policy the data of a RST is counted
 * (stream.rst_with_data) and never reassembled. A RST is accepted, as RFC 5961
 * receivers (Linux since 3.6, Windows, the BSDs) accept it, when its sequence
 * number is the receiver's next expected one: the end of the contiguous data
 * seen, the highest sequence number seen, or the receiver's last ACK. An
 * accepted RST delivers what is buffered in both directions; reassembly goes
 * on, so data after it (a RST the target ignored) is still seen and reported
 * as stream.suspected_rst_inject.
 *
 * Delivery. A direction's bytes are delivered up to the receiver's highest
 * ACK (stopping at the sender's FIN). An ACK is never taken beyond the
 * highest byte seen from the sender, so when it covers a hole, the bytes
 * there were lost before the sensor (and data after them was seen) or
 * dropped at a cap: the hole is skipped and the next chunk carries
 * VG_STREAM_GAP_BEFORE. Until the other direction is seen at all,
 * contiguous bytes are delivered at once (cfg.async_oneside). Past flow_cap,
 * the oldest buffered piece is delivered without waiting. At session end
 * everything is delivered in order, holes skipped.
 *
 * Caps. A segment that does not fit (no free chunks or descriptors) is
 * dropped and counted; when the drop leaves a hole at the delivery point the
 * direction continues after a gap. Bytes beyond cfg.depth are counted and not
 * stored; the direction stops once everything before the depth is delivered.
 *
 * Sequence numbers are compared with serial-number arithmetic throughout;
 * stream offsets are 64-bit, so a stream may cross 2^32 any number of times. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/stream.h"

#define NONE            UINT32_MAX
#define CHUNK           VG_STREAM_CHUNK_SIZE
#define TCP_FIN         0x01u
#define TCP_SYN         0x02u
#define TCP_RST         0x04u
#define TCP_ACK         0x10u
#define IPPROTO_TCP_NUM 6u

/* Segments that end more than this far beyond the delivery point are
 * ignored: the largest scaled window (65535 << 14) is just below it, and
 * serial-number arithmetic needs distances under 2^31. */
#define MAX_AHEAD (1u << 30)

/* Delivered bytes are gathered here so the sink sees long contiguous runs
 * rather than one call per chunk. */
#define SCRATCH_SIZE (16u * 1024u)

/* Direction flags. */
#define DF_BASE      0x0001u /* the stream start is known: bytes can be placed */
#define DF_SEEN      0x0002u /* a packet came from this side */
#define DF_ACK       0x0004u /* last_ack holds the receiver's highest ACK */
#define DF_FIN       0x0008u /* fin_seq holds the sender's FIN */
#define DF_DEPTH     0x0010u /* bytes beyond the depth arrived */
#define DF_DONE      0x0020u /* nothing more is reassembled */
#define DF_GAP       0x0040u /* bytes were skipped: flag the next chunk */
#define DF_MIDSTREAM 0x0080u /* offsets count from the first byte seen */
#define DF_LOST      0x0100u /* [lost_start, lost_end) was dropped at a cap */

/* Session flags. */
#define SF_IN_USE     0x01u
#define SF_RESET      0x02u /* an acceptable RST was seen */
#define SF_RST_INJECT 0x04u /* data after the RST already reported */

enum session_state {
    SS_NONE = 0,      /* nothing usable seen yet */
    SS_SYN_SENT,      /* the initiator's SYN */
    SS_SYN_SENT_4WHS, /* both sides sent a SYN: waiting for the SYN+ACK */
    SS_ESTABLISHED,   /* both stream starts known (or picked up): reassembling */
};

enum deliver_mode {
    DELIVER_ACKED, /* what the receiver acknowledged (or contiguous, one-sided) */
    DELIVER_ONE,   /* the oldest buffered piece, whatever the ACKs say */
    DELIVER_ALL,   /* everything buffered, holes skipped */
};

/* A buffered piece: bytes [seq, seq + len), starting at byte `off` of the
 * first chunk of its chain. */
struct seg {
    uint32_t seq;
    uint32_t len;
    uint32_t chunk;
    uint32_t prev;
    uint32_t next;
    uint32_t off;
};

struct dir_state {
    uint32_t next_seq; /* next byte to deliver */
    uint32_t last_ack; /* receiver's highest ACK (DF_ACK) */
    uint32_t max_end;  /* end of the highest sequence space seen (SYN and FIN count) */
    uint32_t fin_seq;  /* sequence number of the FIN (DF_FIN) */
    uint32_t lost_start;
    uint32_t lost_end;
    uint64_t next_off; /* stream offset of next_seq */
    uint32_t head;     /* pieces, in sequence order */
    uint32_t tail;
    uint32_t nchunks; /* chunks held by the pieces */
    uint16_t flags;
};

struct session {
    struct dir_state d[2];
    uint8_t state;
    uint8_t flags;
    uint8_t initiator;     /* direction that sent the first SYN */
    uint32_t isn[2];       /* sequence number of each side's SYN, once seen */
    uint32_t syn_data_len; /* bytes carried by the initiator's SYN (TCP Fast Open) */
};

struct vg_stream_table {
    struct vg_stream_config cfg;
    uint32_t max_sessions;
    struct session *sessions;

    struct seg *segs;
    uint32_t nsegs;
    uint32_t seg_free; /* free descriptors, linked through next */
    uint32_t seg_hwm;  /* descriptors never used start here */
    uint32_t segs_used;

    uint8_t *chunk_data;
    uint32_t *chunk_next;
    uint32_t nchunks;
    uint32_t chunk_free;
    uint32_t chunk_hwm;
    uint32_t chunks_used;

    const struct vg_stream_sink *sink; /* during a call */
    uint32_t scratch_len;
    uint32_t scratch_flags;
    uint64_t scratch_off;
    enum vg_flow_dir scratch_dir;

    struct vg_stream_stats stats;
    uint8_t scratch[SCRATCH_SIZE];
};

/* ---- names and configuration ---- */

static const char *const policy_names[] = {
    [VG_STREAM_POLICY_FIRST] = "first",     [VG_STREAM_POLICY_LAST] = "last",
    [VG_STREAM_POLICY_BSD] = "bsd",         [VG_STREAM_POLICY_LINUX] = "linux",
    [VG_STREAM_POLICY_WINDOWS] = "windows",
};

const char *vg_stream_policy_name(enum vg_stream_policy p)
{
    if ((unsigned)p < VG_ARRAY_SIZE(policy_names))
        return policy_names[p];
    return "unknown";
}

int vg_stream_policy_parse(const char *name, enum vg_stream_policy *out)
{
    for (unsigned i = 0; i < VG_ARRAY_SIZE(policy_names); i++) {
        if (strcasecmp(name, policy_names[i]) == 0) {
            *out = (enum vg_stream_policy)i;
            return 0;
        }
    }
    return -1;
}

static const char *const event_names[VG_STREAM_EVENT_COUNT] = {
    [VG_STREAM_EV_OVERLAP_DIFFERENT_DATA] = "stream.reassembly_overlap_different_data",
    [VG_STREAM_EV_PKT_RETRANSMISSION] = "stream.pkt_retransmission",
    [VG_STREAM_EV_SEQ_GAP] = "stream.reassembly_seq_gap",
    [VG_STREAM_EV_RST_WITH_DATA] = "stream.rst_with_data",
    [VG_STREAM_EV_RST_INVALID_SEQ] = "stream.rst_invalid_seq",
    [VG_STREAM_EV_SUSPECTED_RST_INJECT] = "stream.suspected_rst_inject",
    [VG_STREAM_EV_SYNACK_WRONG_DIRECTION] = "stream.3whs_synack_in_wrong_direction",
    [VG_STREAM_EV_SYNACK_WRONG_ACK] = "stream.3whs_synack_with_wrong_ack",
    [VG_STREAM_EV_SYNACK_TFO_DATA_IGNORED] = "stream.3whs_synack_tfo_data_ignored",
    [VG_STREAM_EV_4WHS_SYNACK_WRONG_ACK] = "stream.4whs_synack_with_wrong_ack",
    [VG_STREAM_EV_DEPTH_REACHED] = "stream.reassembly_depth_reached",
    [VG_STREAM_EV_MEMCAP] = "stream.reassembly_memcap",
    [VG_STREAM_EV_PKT_INVALID_ACK] = "stream.pkt_invalid_ack",
    [VG_STREAM_EV_OUT_OF_WINDOW] = "stream.est_packet_out_of_window",
};

const char *vg_stream_event_name(enum vg_stream_event ev)
{
    if ((unsigned)ev < VG_STREAM_EVENT_COUNT)
        return event_names[ev];
    return "stream.unknown";
}

void vg_stream_config_default(struct vg_stream_config *cfg)
{
    *cfg = (struct vg_stream_config){
        .memcap = 64ull << 20,
        .segment_pool = 65536,
        .depth = 1u << 20,
        .flow_cap = 1u << 20,
        .policy = VG_STREAM_POLICY_BSD,
        .midstream = false,
        .async_oneside = true,
    };
}

/* ---- serial-number arithmetic (RFC 1982) ---- */

static inline bool seq_lt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) < 0;
}

static inline bool seq_leq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) <= 0;
}

static inline bool seq_gt(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

static inline bool seq_geq(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) >= 0;
}

static inline uint32_t seq_min(uint32_t a, uint32_t b)
{
    return seq_lt(a, b) ? a : b;
}

static inline uint32_t seq_max(uint32_t a, uint32_t b)
{
    return seq_gt(a, b) ? a : b;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* ---- table ---- */

struct vg_stream_table *vg_stream_table_new(uint32_t max_sessions,
                                            const struct vg_stream_config *cfg)
{
    struct vg_stream_config defaults;
    if (cfg == NULL) {
        vg_stream_config_default(&defaults);
        cfg = &defaults;
    }
    if (max_sessions == 0 || (unsigned)cfg->policy >= VG_ARRAY_SIZE(policy_names) ||
        cfg->segment_pool == NONE)
        return NULL;
    uint64_t nchunks = cfg->memcap / CHUNK;
    if (nchunks >= NONE)
        return NULL;
    struct vg_stream_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->cfg = *cfg;
    t->max_sessions = max_sessions;
    t->nsegs = cfg->segment_pool;
    t->nchunks = (uint32_t)nchunks;
    t->sessions = calloc(max_sessions, sizeof(*t->sessions));
    t->segs = malloc(((size_t)t->nsegs + 1) * sizeof(*t->segs));
    /* Chunks are handed out from a high-water mark, so pages of the pool that
     * are never needed are never touched. */
    t->chunk_data = malloc((size_t)t->nchunks * CHUNK + 1);
    t->chunk_next = malloc(((size_t)t->nchunks + 1) * sizeof(*t->chunk_next));
    if (t->sessions == NULL || t->segs == NULL || t->chunk_data == NULL || t->chunk_next == NULL) {
        vg_stream_table_free(t);
        return NULL;
    }
    t->seg_free = NONE;
    t->chunk_free = NONE;
    return t;
}

void vg_stream_table_free(struct vg_stream_table *t)
{
    if (t == NULL)
        return;
    free(t->sessions);
    free(t->segs);
    free(t->chunk_data);
    free(t->chunk_next);
    free(t);
}

const struct vg_stream_stats *vg_stream_table_stats(const struct vg_stream_table *t)
{
    return &t->stats;
}

void vg_stream_stats_add(struct vg_stream_stats *dst, const struct vg_stream_stats *src)
{
    _Static_assert(sizeof(struct vg_stream_stats) % sizeof(uint64_t) == 0,
                   "stream stats must be 64-bit counters only");
    uint64_t d[sizeof(*dst) / sizeof(uint64_t)], s[sizeof(*src) / sizeof(uint64_t)];
    memcpy(d, dst, sizeof(d));
    memcpy(s, src, sizeof(s));
    for (size_t i = 0; i < VG_ARRAY_SIZE(d); i++)
        d[i] += s[i];
    memcpy(dst, d, sizeof(d));
}

/* ---- sink ---- */

static void emit_event(struct vg_stream_table *t, enum vg_stream_event ev)
{
    t->stats.events[ev]++;
    if (t->sink != NULL && t->sink->event != NULL)
        t->sink->event(t->sink->user, ev);
}

static void scratch_flush(struct vg_stream_table *t)
{
    if (t->scratch_len == 0)
        return;
    if (t->sink != NULL && t->sink->data != NULL)
        t->sink->data(t->sink->user, t->scratch_dir, t->scratch, t->scratch_len, t->scratch_off,
                      t->scratch_flags);
    t->scratch_len = 0;
}

/* Queues delivered bytes; a run continues the pending one when it follows
 * it in the same direction with the same flags (a gap flag only ever starts
 * a run). */
static void emit_data(struct vg_stream_table *t, enum vg_flow_dir dir, const uint8_t *p, uint32_t n,
                      uint64_t off, uint32_t flags)
{
    if (t->scratch_len != 0 &&
        (t->scratch_dir != dir || t->scratch_off + t->scratch_len != off ||
         (flags & VG_STREAM_GAP_BEFORE) || (t->scratch_flags & ~VG_STREAM_GAP_BEFORE) != flags))
        scratch_flush(t);
    while (n > 0) {
        if (t->scratch_len == 0) {
            t->scratch_dir = dir;
            t->scratch_off = off;
            t->scratch_flags = flags;
            flags &= ~VG_STREAM_GAP_BEFORE;
        }
        uint32_t m = min_u32(n, SCRATCH_SIZE - t->scratch_len);
        memcpy(t->scratch + t->scratch_len, p, m);
        t->scratch_len += m;
        p += m;
        n -= m;
        off += m;
        if (t->scratch_len == SCRATCH_SIZE)
            scratch_flush(t);
    }
}

/* ---- pools ---- */

static uint32_t chunk_alloc(struct vg_stream_table *t)
{
    uint32_t c;
    if (t->chunk_free != NONE) {
        c = t->chunk_free;
        t->chunk_free = t->chunk_next[c];
    } else {
        c = t->chunk_hwm++;
    }
    t->chunk_next[c] = NONE;
    t->chunks_used++;
    t->stats.memuse += CHUNK;
    if (t->stats.memuse > t->stats.memuse_max)
        t->stats.memuse_max = t->stats.memuse;
    return c;
}

static void chunk_release(struct vg_stream_table *t, uint32_t c)
{
    t->chunk_next[c] = t->chunk_free;
    t->chunk_free = c;
    t->chunks_used--;
    t->stats.memuse -= CHUNK;
}

static inline uint8_t *chunk_ptr(const struct vg_stream_table *t, uint32_t c)
{
    return t->chunk_data + (size_t)c * CHUNK;
}

static uint32_t seg_alloc(struct vg_stream_table *t)
{
    uint32_t i;
    if (t->seg_free != NONE) {
        i = t->seg_free;
        t->seg_free = t->segs[i].next;
    } else {
        i = t->seg_hwm++;
    }
    t->segs_used++;
    t->stats.segments_in_use = t->segs_used;
    if (t->segs_used > t->stats.segments_in_use_max)
        t->stats.segments_in_use_max = t->segs_used;
    return i;
}

static void seg_release(struct vg_stream_table *t, uint32_t i)
{
    t->segs[i].next = t->seg_free;
    t->seg_free = i;
    t->segs_used--;
    t->stats.segments_in_use = t->segs_used;
}

static inline uint32_t segs_available(const struct vg_stream_table *t)
{
    return t->nsegs - t->segs_used;
}

static inline uint32_t chunks_available(const struct vg_stream_table *t)
{
    return t->nchunks - t->chunks_used;
}

/* ---- pieces ---- */

static inline uint32_t piece_end(const struct seg *s)
{
    return s->seq + s->len;
}

/* Chunk and position holding byte `rel` of a piece. */
static void piece_locate(const struct vg_stream_table *t, const struct seg *s, uint32_t rel,
                         uint32_t *chunk, uint32_t *pos)
{
    uint32_t at = s->off + rel;
    uint32_t c = s->chunk;
    while (at >= CHUNK) {
        c = t->chunk_next[c];
        at -= CHUNK;
    }
    *chunk = c;
    *pos = at;
}

static bool piece_equal(const struct vg_stream_table *t, const struct seg *s, uint32_t rel,
                        const uint8_t *data, uint32_t n)
{
    uint32_t c, pos;
    piece_locate(t, s, rel, &c, &pos);
    while (n > 0) {
        uint32_t m = min_u32(n, CHUNK - pos);
        if (memcmp(chunk_ptr(t, c) + pos, data, m) != 0)
            return false;
        data += m;
        n -= m;
        c = t->chunk_next[c];
        pos = 0;
    }
    return true;
}

static void piece_write(struct vg_stream_table *t, const struct seg *s, uint32_t rel,
                        const uint8_t *data, uint32_t n)
{
    uint32_t c, pos;
    piece_locate(t, s, rel, &c, &pos);
    while (n > 0) {
        uint32_t m = min_u32(n, CHUNK - pos);
        memcpy(chunk_ptr(t, c) + pos, data, m);
        data += m;
        n -= m;
        c = t->chunk_next[c];
        pos = 0;
    }
}

/* A new piece holding data[0..len); the caller made sure the pools have
 * room. Not linked into any list yet. */
static uint32_t piece_new(struct vg_stream_table *t, struct dir_state *d, uint32_t seq,
                          const uint8_t *data, uint32_t len)
{
    uint32_t idx = seg_alloc(t);
    struct seg *s = &t->segs[idx];
    s->seq = seq;
    s->len = len;
    s->off = 0;
    s->prev = s->next = NONE;
    s->chunk = NONE;
    uint32_t last = NONE;
    for (uint32_t done = 0; done < len;) {
        uint32_t c = chunk_alloc(t);
        uint32_t m = min_u32(CHUNK, len - done);
        memcpy(chunk_ptr(t, c), data + done, m);
        if (last == NONE)
            s->chunk = c;
        else
            t->chunk_next[last] = c;
        last = c;
        done += m;
        d->nchunks++;
    }
    return idx;
}

static void piece_link_after(struct vg_stream_table *t, struct dir_state *d, uint32_t after,
                             uint32_t idx)
{
    struct seg *s = &t->segs[idx];
    s->prev = after;
    s->next = after == NONE ? d->head : t->segs[after].next;
    if (after == NONE)
        d->head = idx;
    else
        t->segs[after].next = idx;
    if (s->next == NONE)
        d->tail = idx;
    else
        t->segs[s->next].prev = idx;
}

static void piece_remove(struct vg_stream_table *t, struct dir_state *d, uint32_t idx)
{
    struct seg *s = &t->segs[idx];
    if (s->prev == NONE)
        d->head = s->next;
    else
        t->segs[s->prev].next = s->next;
    if (s->next == NONE)
        d->tail = s->prev;
    else
        t->segs[s->next].prev = s->prev;
    for (uint32_t c = s->chunk; c != NONE;) {
        uint32_t nx = t->chunk_next[c];
        chunk_release(t, c);
        d->nchunks--;
        c = nx;
    }
    seg_release(t, idx);
}

/* Drops the first n bytes of a piece (n < len). */
static void piece_trim_front(struct vg_stream_table *t, struct dir_state *d, struct seg *s,
                             uint32_t n)
{
    uint32_t at = s->off + n;
    while (at >= CHUNK) {
        uint32_t nx = t->chunk_next[s->chunk];
        chunk_release(t, s->chunk);
        d->nchunks--;
        s->chunk = nx;
        at -= CHUNK;
    }
    s->off = at;
    s->seq += n;
    s->len -= n;
}

/* Keeps the first keep bytes of a piece (0 < keep < len). */
static void piece_trim_back(struct vg_stream_table *t, struct dir_state *d, struct seg *s,
                            uint32_t keep)
{
    uint32_t nkeep = (s->off + keep + CHUNK - 1) / CHUNK;
    uint32_t c = s->chunk;
    for (uint32_t i = 1; i < nkeep; i++)
        c = t->chunk_next[c];
    uint32_t nx = t->chunk_next[c];
    t->chunk_next[c] = NONE;
    while (nx != NONE) {
        uint32_t after = t->chunk_next[nx];
        chunk_release(t, nx);
        d->nchunks--;
        nx = after;
    }
    s->len = keep;
}

static void dir_release(struct vg_stream_table *t, struct dir_state *d)
{
    while (d->head != NONE)
        piece_remove(t, d, d->head);
}

/* ---- directions ---- */

static void dir_set_base(struct dir_state *d, uint32_t seq, bool midstream)
{
    d->next_seq = seq;
    d->max_end = seq;
    d->next_off = 0;
    d->flags |= DF_BASE;
    if (midstream)
        d->flags |= DF_MIDSTREAM;
}

static void dir_finish(struct vg_stream_table *t, struct dir_state *d)
{
    dir_release(t, d);
    d->flags |= DF_DONE;
}

static void depth_hit(struct vg_stream_table *t, struct dir_state *d, uint64_t bytes)
{
    t->stats.depth_bytes += bytes;
    if (!(d->flags & DF_DEPTH)) {
        d->flags |= DF_DEPTH;
        t->stats.depth_reached++;
        emit_event(t, VG_STREAM_EV_DEPTH_REACHED);
    }
}

/* Moves the delivery point over n bytes that will never be delivered. */
static void skip_gap(struct vg_stream_table *t, struct dir_state *d, uint32_t n)
{
    if (!(d->flags & DF_GAP)) {
        d->flags |= DF_GAP;
        t->stats.gaps++;
        emit_event(t, VG_STREAM_EV_SEQ_GAP);
    }
    t->stats.gap_bytes += n;
    d->next_seq += n;
    d->next_off += n;
    if (t->cfg.depth != 0 && d->next_off >= t->cfg.depth) {
        if (d->next_off > t->cfg.depth)
            depth_hit(t, d, d->next_off - t->cfg.depth);
        dir_finish(t, d);
    }
}

/* Flags of the next delivered chunk; a pending gap is reported with it. */
static uint32_t chunk_flags(struct dir_state *d, bool unacked)
{
    uint32_t flags = (d->flags & DF_GAP ? VG_STREAM_GAP_BEFORE : 0) |
                     (d->flags & DF_MIDSTREAM ? VG_STREAM_MIDSTREAM : 0) |
                     (unacked ? VG_STREAM_UNACKED : 0);
    d->flags &= ~DF_GAP;
    return flags;
}

/* The receiver's highest ACK, stopped at the sender's FIN; false when none
 * was seen. */
static bool ack_horizon(const struct dir_state *d, uint32_t *h)
{
    if (!(d->flags & DF_ACK))
        return false;
    *h = d->last_ack;
    if ((d->flags & DF_FIN) && seq_gt(*h, d->fin_seq))
        *h = d->fin_seq;
    return true;
}

/* Delivers the first n bytes of the head piece (which starts at next_seq). */
static void deliver_head(struct vg_stream_table *t, struct dir_state *d, enum vg_flow_dir dir,
                         uint32_t n, bool unacked)
{
    uint32_t idx = d->head;
    struct seg *s = &t->segs[idx];
    uint32_t flags = chunk_flags(d, unacked);
    uint32_t c = s->chunk, pos = s->off;
    uint64_t off = d->next_off;
    for (uint32_t left = n; left > 0;) {
        uint32_t m = min_u32(left, CHUNK - pos);
        emit_data(t, dir, chunk_ptr(t, c) + pos, m, off, flags);
        flags &= ~VG_STREAM_GAP_BEFORE;
        off += m;
        left -= m;
        c = t->chunk_next[c];
        pos = 0;
    }
    t->stats.delivered_bytes += n;
    if (unacked)
        t->stats.delivered_unacked_bytes += n;
    d->next_seq += n;
    d->next_off += n;
    if (n == s->len)
        piece_remove(t, d, idx);
    else
        piece_trim_front(t, d, s, n);
}

/* Delivers what the mode allows; see the file comment for the rules. */
static void deliver(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                    enum deliver_mode mode)
{
    struct dir_state *d = &ss->d[dir];
    if (!(d->flags & DF_BASE) || (d->flags & DF_DONE))
        return;
    bool one_sided = !(ss->d[dir ^ 1].flags & DF_SEEN);
    uint32_t h = 0;
    bool have_ack = !one_sided && ack_horizon(d, &h);
    /* Nothing is released before the handshake completes: a SYN+ACK may
     * still refuse TCP Fast Open data. */
    if (mode == DELIVER_ACKED &&
        (ss->state != SS_ESTABLISHED || (one_sided ? !t->cfg.async_oneside : !have_ack)))
        return;
    for (;;) {
        if ((d->flags & DF_DEPTH) && d->next_off >= t->cfg.depth) {
            dir_finish(t, d);
            return;
        }
        uint32_t next = d->next_seq;
        uint32_t idx = d->head;
        if ((d->flags & DF_LOST) && seq_leq(d->lost_end, next))
            d->flags &= ~DF_LOST;
        if (idx == NONE || seq_gt(t->segs[idx].seq, next)) {
            /* A hole at the delivery point: how far it may be skipped. The
             * ACK never passes the highest byte seen (handle_ack), so bytes
             * it covers were seen, or lie before data that was. */
            uint32_t to = next;
            if ((d->flags & DF_LOST) && seq_leq(d->lost_start, next))
                to = d->lost_end;
            if (have_ack && seq_gt(h, to))
                to = h;
            if (idx != NONE)
                to = mode == DELIVER_ACKED ? seq_min(to, t->segs[idx].seq) : t->segs[idx].seq;
            if (!seq_gt(to, next))
                break;
            skip_gap(t, d, to - next);
            if (d->flags & DF_DONE)
                return;
            continue;
        }
        struct seg *s = &t->segs[idx];
        uint32_t n = s->len;
        if (mode == DELIVER_ACKED && !one_sided) {
            if (!seq_gt(h, next))
                break;
            n = min_u32(n, h - next);
        }
        bool unacked = !have_ack || seq_lt(h, next + n);
        bool whole = n == s->len;
        deliver_head(t, d, dir, n, unacked);
        if (mode == DELIVER_ONE || !whole)
            break;
    }
    if ((d->flags & DF_DEPTH) && d->next_off >= t->cfg.depth)
        dir_finish(t, d);
}

/* ---- insertion ---- */

/* Whether the new segment [nseq, nend) replaces the bytes it shares with the
 * buffered piece [pseq, pend). */
static bool new_wins(enum vg_stream_policy policy, uint32_t nseq, uint32_t nend, uint32_t pseq,
                     uint32_t pend)
{
    switch (policy) {
    case VG_STREAM_POLICY_FIRST:
        return false;
    case VG_STREAM_POLICY_LAST:
        return true;
    case VG_STREAM_POLICY_LINUX:
        return seq_lt(nseq, pseq) || (nseq == pseq && seq_gt(nend, pend));
    case VG_STREAM_POLICY_BSD:
    case VG_STREAM_POLICY_WINDOWS:
    default:
        return seq_lt(nseq, pseq);
    }
}

static void note_lost(struct dir_state *d, uint32_t seq, uint32_t end)
{
    if ((d->flags & DF_LOST) && seq_leq(seq, d->lost_end) && seq_geq(end, d->lost_start)) {
        d->lost_start = seq_min(d->lost_start, seq);
        d->lost_end = seq_max(d->lost_end, end);
    } else if (!(d->flags & DF_LOST) || seq_lt(seq, d->lost_start)) {
        /* One range is kept: the earliest, which the delivery point meets first. */
        d->lost_start = seq;
        d->lost_end = end;
        d->flags |= DF_LOST;
    }
}

/* Puts data [seq, seq + len) into the direction's pieces (seq is at or after
 * the delivery point), resolving overlaps by the policy. */
static void insert(struct vg_stream_table *t, struct dir_state *d, uint32_t seq,
                   const uint8_t *data, uint32_t len)
{
    const uint32_t end = seq + len;

    /* Pieces that start at or after the end come after the new segment;
     * before them, the ones that end after its start overlap it. */
    uint32_t cur = d->tail;
    while (cur != NONE && seq_geq(t->segs[cur].seq, end))
        cur = t->segs[cur].prev;
    uint32_t first = NONE, noverlap = 0;
    while (cur != NONE && seq_gt(piece_end(&t->segs[cur]), seq)) {
        first = cur;
        noverlap++;
        cur = t->segs[cur].prev;
    }
    uint32_t before = cur; /* the last piece entirely before the new segment */

    /* An exact copy of one piece: nothing to change under any policy. */
    if (noverlap == 1 && t->segs[first].seq == seq && t->segs[first].len == len &&
        piece_equal(t, &t->segs[first], 0, data, len)) {
        t->stats.overlaps++;
        t->stats.retransmissions++;
        emit_event(t, VG_STREAM_EV_PKT_RETRANSMISSION);
        return;
    }

    /* Room for the worst case: the new bytes split into noverlap + 1 pieces,
     * each wasting at most one partial chunk. */
    uint32_t need_segs = noverlap + 1;
    uint32_t need_chunks = (len + CHUNK - 1) / CHUNK + (noverlap ? noverlap + 1 : 0);
    if (segs_available(t) < need_segs || chunks_available(t) < need_chunks) {
        if (segs_available(t) < need_segs) {
            t->stats.pool_drops++;
            t->stats.pool_drop_bytes += len;
        } else {
            t->stats.memcap_drops++;
            t->stats.memcap_drop_bytes += len;
        }
        emit_event(t, VG_STREAM_EV_MEMCAP);
        note_lost(d, seq, end);
        return;
    }

    uint32_t pos = seq;  /* bytes before pos are resolved */
    uint32_t run = NONE; /* start of the pending run of new bytes */
    bool run_open = false;
    uint32_t fresh = 0; /* new bytes that overlap nothing */
    bool different = false;
    uint32_t prev_keep = before; /* where the pending run gets linked */
    for (uint32_t i = first; i != NONE && seq_lt(t->segs[i].seq, end);) {
        struct seg *p = &t->segs[i];
        uint32_t nx = p->next;
        if (seq_lt(pos, p->seq)) {
            if (!run_open) {
                run = pos;
                run_open = true;
            }
            fresh += p->seq - pos;
            pos = p->seq;
        }
        uint32_t pseq = p->seq, pend = piece_end(p);
        uint32_t ov_end = seq_min(end, pend);
        if (!piece_equal(t, p, pos - pseq, data + (pos - seq), ov_end - pos))
            different = true;
        if (new_wins(t->cfg.policy, seq, end, pseq, pend)) {
            if (seq_leq(seq, pseq)) {
                /* The new segment covers the piece's start: it runs on. */
                if (!run_open) {
                    run = pos;
                    run_open = true;
                }
                if (seq_geq(end, pend))
                    piece_remove(t, d, i);
                else
                    piece_trim_front(t, d, p, end - pseq);
            } else if (seq_geq(end, pend)) {
                /* It covers the piece's tail (last only). */
                piece_trim_back(t, d, p, seq - pseq);
                prev_keep = i;
                run = pos;
                run_open = true;
            } else {
                /* Inside the piece (last only): written in place. */
                piece_write(t, p, seq - pseq, data, len);
                prev_keep = i;
            }
        } else {
            if (run_open) {
                uint32_t idx = piece_new(t, d, run, data + (run - seq), pos - run);
                piece_link_after(t, d, prev_keep, idx);
                run_open = false;
            }
            prev_keep = i;
        }
        pos = ov_end;
        i = nx;
    }
    if (seq_lt(pos, end)) {
        if (!run_open) {
            run = pos;
            run_open = true;
        }
        fresh += end - pos;
        pos = end;
    }
    if (run_open) {
        uint32_t idx = piece_new(t, d, run, data + (run - seq), pos - run);
        piece_link_after(t, d, prev_keep, idx);
    }

    if (noverlap > 0)
        t->stats.overlaps++;
    if (different) {
        t->stats.overlaps_different++;
        emit_event(t, VG_STREAM_EV_OVERLAP_DIFFERENT_DATA);
    } else if (fresh == 0) {
        t->stats.retransmissions++;
        emit_event(t, VG_STREAM_EV_PKT_RETRANSMISSION);
    }
}

/* A segment at the delivery point with nothing buffered, that may go out at
 * once (one-sided capture, or already acknowledged), is delivered without
 * passing through the pools. */
static bool deliver_direct(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                           uint32_t seq, const uint8_t *data, uint32_t len)
{
    struct dir_state *d = &ss->d[dir];
    if (d->head != NONE || seq != d->next_seq || ss->state != SS_ESTABLISHED)
        return false;
    bool one_sided = !(ss->d[dir ^ 1].flags & DF_SEEN);
    uint32_t h;
    if (one_sided ? !t->cfg.async_oneside : !ack_horizon(d, &h) || seq_lt(h, seq + len))
        return false;
    emit_data(t, dir, data, len, d->next_off, chunk_flags(d, one_sided));
    t->stats.delivered_bytes += len;
    if (one_sided)
        t->stats.delivered_unacked_bytes += len;
    d->next_seq += len;
    d->next_off += len;
    if ((d->flags & DF_DEPTH) && d->next_off >= t->cfg.depth)
        dir_finish(t, d);
    return true;
}

/* A data segment of direction dir. */
static void handle_data(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                        uint32_t seq, const uint8_t *data, uint32_t len)
{
    struct dir_state *d = &ss->d[dir];
    if (!(d->flags & DF_BASE) || (d->flags & DF_DONE) || len == 0 || data == NULL)
        return;
    uint32_t end = seq + len;
    if (seq_leq(end, d->next_seq)) {
        /* Already delivered: the receiver has these bytes. */
        t->stats.retransmissions++;
        emit_event(t, VG_STREAM_EV_PKT_RETRANSMISSION);
        return;
    }
    if (seq_gt(end, d->next_seq + MAX_AHEAD)) {
        t->stats.out_of_window++;
        emit_event(t, VG_STREAM_EV_OUT_OF_WINDOW);
        return;
    }
    t->stats.segments++;
    t->stats.segment_bytes += len;
    if (seq_gt(end, d->max_end))
        d->max_end = end;
    if ((ss->flags & (SF_RESET | SF_RST_INJECT)) == SF_RESET) {
        ss->flags |= SF_RST_INJECT;
        emit_event(t, VG_STREAM_EV_SUSPECTED_RST_INJECT);
    }
    if (seq_lt(seq, d->next_seq)) {
        uint32_t k = d->next_seq - seq;
        data += k;
        len -= k;
        seq = d->next_seq;
    }
    if (t->cfg.depth != 0) {
        uint64_t off = d->next_off + (seq - d->next_seq);
        if (off >= t->cfg.depth) {
            depth_hit(t, d, len);
            return;
        }
        if (off + len > t->cfg.depth) {
            uint32_t keep = (uint32_t)(t->cfg.depth - off);
            depth_hit(t, d, len - keep);
            len = keep;
        }
    }
    if (!deliver_direct(t, ss, dir, seq, data, len))
        insert(t, d, seq, data, len);

    /* Past the per-flow cap the oldest bytes go out without waiting. */
    if (t->cfg.flow_cap != 0 && (uint64_t)d->nchunks * CHUNK > t->cfg.flow_cap) {
        deliver(t, ss, dir, DELIVER_ACKED);
        while ((uint64_t)d->nchunks * CHUNK > t->cfg.flow_cap && d->head != NONE &&
               !(d->flags & DF_DONE)) {
            deliver(t, ss, dir, DELIVER_ONE);
            t->stats.flow_cap_flushes++;
        }
    }
    deliver(t, ss, dir, DELIVER_ACKED);
}

/* The ACK of a packet from the other side acknowledges direction dir. */
static void handle_ack(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                       uint32_t ack)
{
    struct dir_state *d = &ss->d[dir];
    if (!(d->flags & DF_BASE) || (d->flags & DF_DONE))
        return;
    if (seq_gt(ack, d->max_end)) {
        t->stats.invalid_acks++;
        emit_event(t, VG_STREAM_EV_PKT_INVALID_ACK);
        ack = d->max_end;
    }
    if (!(d->flags & DF_ACK) || seq_gt(ack, d->last_ack)) {
        d->last_ack = ack;
        d->flags |= DF_ACK;
    }
    deliver(t, ss, dir, DELIVER_ACKED);
}

/* ---- sessions ---- */

static void session_release(struct vg_stream_table *t, struct session *ss)
{
    dir_release(t, &ss->d[0]);
    dir_release(t, &ss->d[1]);
    memset(ss, 0, sizeof(*ss));
    ss->d[0].head = ss->d[0].tail = NONE;
    ss->d[1].head = ss->d[1].tail = NONE;
}

static void session_start(struct vg_stream_table *t, struct session *ss)
{
    if (ss->flags & SF_IN_USE)
        session_release(t, ss);
    else {
        memset(ss, 0, sizeof(*ss));
        ss->d[0].head = ss->d[0].tail = NONE;
        ss->d[1].head = ss->d[1].tail = NONE;
    }
    ss->flags = SF_IN_USE;
}

/* Whether a RST with this sequence number would reset the receiver. */
static bool rst_acceptable(const struct vg_stream_table *t, const struct dir_state *d, uint32_t seq)
{
    if (!(d->flags & DF_BASE))
        return true;
    uint32_t x = d->next_seq;
    for (uint32_t i = d->head; i != NONE && t->segs[i].seq == x; i = t->segs[i].next)
        x = piece_end(&t->segs[i]);
    if ((d->flags & DF_FIN) && x == d->fin_seq)
        x++;
    return seq == x || seq == d->max_end || ((d->flags & DF_ACK) && seq == d->last_ack);
}

static void handle_rst(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                       const struct vg_packet *p)
{
    if (p->payload_len != 0) {
        t->stats.rst_with_data++;
        emit_event(t, VG_STREAM_EV_RST_WITH_DATA);
    }
    if (ss->state == SS_NONE)
        return;
    if (ss->state == SS_ESTABLISHED && !rst_acceptable(t, &ss->d[dir], p->tcp_seq)) {
        t->stats.rst_invalid++;
        emit_event(t, VG_STREAM_EV_RST_INVALID_SEQ);
        return;
    }
    t->stats.resets++;
    ss->flags |= SF_RESET;
    deliver(t, ss, VG_DIR_TOSERVER, DELIVER_ALL);
    deliver(t, ss, VG_DIR_TOCLIENT, DELIVER_ALL);
}

/* SYN and SYN+ACK: the handshake, including split (4-way) handshakes, TCP
 * Fast Open and pick-up at a SYN+ACK. */
static void handle_syn(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                       const struct vg_packet *p)
{
    struct dir_state *d = &ss->d[dir], *o = &ss->d[dir ^ 1];
    uint32_t seq = p->tcp_seq, ack = p->tcp_ack;
    bool synack = (p->tcp_flags & TCP_ACK) != 0;
    enum vg_flow_dir init = (enum vg_flow_dir)ss->initiator;

    if (!synack) {
        switch (ss->state) {
        case SS_NONE:
            ss->initiator = (uint8_t)dir;
            ss->state = SS_SYN_SENT;
            t->stats.sessions++;
            break;
        case SS_SYN_SENT:
            if (dir != init) {
                /* The responder answers with a SYN of its own: split handshake. */
                ss->isn[dir] = seq;
                dir_set_base(d, seq + 1, false);
                ss->state = SS_SYN_SENT_4WHS;
                return;
            }
            /* A retransmission, or a new ISN after bytes went out already
             * (offsets never go back within a session): ignored. */
            if (seq == ss->isn[dir] || d->next_off != 0 || (d->flags & DF_GAP))
                return;
            /* A new ISN: the direction starts over. */
            dir_release(t, d);
            d->flags &= DF_SEEN;
            break;
        default:
            return;
        }
        ss->isn[dir] = seq;
        ss->syn_data_len = 0;
        dir_set_base(d, seq + 1, false);
        if (p->payload_len != 0) {
            /* TCP Fast Open: data on the SYN is offset 0 once acknowledged. */
            ss->syn_data_len = p->payload_len;
            handle_data(t, ss, dir, seq + 1, p->payload, p->payload_len);
        }
        return;
    }

    switch (ss->state) {
    case SS_NONE:
        if (!t->cfg.midstream && !t->cfg.async_oneside) {
            t->stats.no_handshake++;
            return;
        }
        /* Picked up at the SYN+ACK: both stream starts are exact. */
        ss->initiator = (uint8_t)(dir ^ 1);
        ss->state = SS_ESTABLISHED;
        t->stats.sessions++;
        dir_set_base(o, ack, false);
        break;
    case SS_SYN_SENT:
        if (dir == init) {
            emit_event(t, VG_STREAM_EV_SYNACK_WRONG_DIRECTION);
            return;
        }
        if (ack != ss->isn[init] + 1 + ss->syn_data_len) {
            if (ss->syn_data_len == 0 || ack != ss->isn[init] + 1) {
                emit_event(t, VG_STREAM_EV_SYNACK_WRONG_ACK);
                return;
            }
            /* The server took the SYN but not its data: the client sends
             * the data again after the handshake. */
            emit_event(t, VG_STREAM_EV_SYNACK_TFO_DATA_IGNORED);
            dir_release(t, o);
            o->flags &= (uint16_t) ~(DF_LOST | DF_GAP | DF_DEPTH);
            o->max_end = ack;
            ss->syn_data_len = 0;
        } else if (ss->syn_data_len != 0) {
            t->stats.sessions_tfo++;
        }
        ss->state = SS_ESTABLISHED;
        break;
    case SS_SYN_SENT_4WHS:
        if (dir == init) {
            /* The initiator's SYN+ACK answers the responder's SYN. */
            if (seq != ss->isn[init] || ack != ss->isn[dir ^ 1] + 1) {
                emit_event(t, VG_STREAM_EV_4WHS_SYNACK_WRONG_ACK);
                return;
            }
            t->stats.sessions_4whs++;
            ss->state = SS_ESTABLISHED;
            handle_ack(t, ss, dir ^ 1, ack);
            return;
        }
        /* The responder fell back to an ordinary SYN+ACK. */
        if (ack != ss->isn[init] + 1 + ss->syn_data_len) {
            emit_event(t, VG_STREAM_EV_SYNACK_WRONG_ACK);
            return;
        }
        ss->state = SS_ESTABLISHED;
        break;
    default:
        return; /* a retransmitted SYN+ACK */
    }
    /* The responder's SYN+ACK: its stream starts after it. */
    ss->isn[dir] = seq;
    dir_set_base(d, seq + 1, false);
    handle_ack(t, ss, dir ^ 1, ack);
    if (p->payload_len != 0)
        handle_data(t, ss, dir, seq + 1, p->payload, p->payload_len);
}

/* A packet without SYN or RST in a session that is not established yet:
 * whether it establishes one. */
static bool pick_up(struct vg_stream_table *t, struct session *ss, enum vg_flow_dir dir,
                    const struct vg_packet *p)
{
    struct dir_state *d = &ss->d[dir], *o = &ss->d[dir ^ 1];
    bool has_ack = (p->tcp_flags & TCP_ACK) != 0;
    switch (ss->state) {
    case SS_NONE:
        if (!t->cfg.midstream)
            break;
        ss->initiator = (uint8_t)dir;
        ss->state = SS_ESTABLISHED;
        t->stats.sessions++;
        t->stats.sessions_midstream++;
        dir_set_base(d, p->tcp_seq, true);
        if (has_ack)
            dir_set_base(o, p->tcp_ack, true);
        return true;
    case SS_SYN_SENT:
        if (dir == ss->initiator) {
            /* The SYN+ACK was not captured: the initiator's ACK gives the
             * responder's stream start exactly. */
            if (!has_ack || (!t->cfg.async_oneside && !t->cfg.midstream))
                break;
            ss->state = SS_ESTABLISHED;
            dir_set_base(o, p->tcp_ack, false);
            deliver(t, ss, dir, DELIVER_ACKED); /* SYN data waiting for the handshake */
            return true;
        }
        if (!t->cfg.midstream)
            break;
        /* The responder talks but its SYN+ACK was not captured. */
        ss->state = SS_ESTABLISHED;
        t->stats.sessions_midstream++;
        dir_set_base(d, p->tcp_seq, true);
        return true;
    default:
        break;
    }
    t->stats.no_handshake++;
    return false;
}

void vg_stream_packet(struct vg_stream_table *t, uint32_t session, enum vg_flow_dir dir,
                      const struct vg_packet *p, bool first_packet_of_flow,
                      const struct vg_stream_sink *sink)
{
    if (VG_UNLIKELY(session >= t->max_sessions) || p->proto != IPPROTO_TCP_NUM ||
        !(p->flags & VG_PKT_HAS_L4) || (p->flags & VG_PKT_FRAGMENT))
        return;
    dir = dir == VG_DIR_TOCLIENT ? VG_DIR_TOCLIENT : VG_DIR_TOSERVER;
    struct session *ss = &t->sessions[session];
    if (first_packet_of_flow || !(ss->flags & SF_IN_USE))
        session_start(t, ss);
    t->sink = sink;
    struct dir_state *d = &ss->d[dir];
    d->flags |= DF_SEEN;
    uint8_t fl = p->tcp_flags;

    if (fl & TCP_RST) {
        handle_rst(t, ss, dir, p);
    } else if (fl & TCP_SYN) {
        handle_syn(t, ss, dir, p);
    } else if (ss->state == SS_ESTABLISHED || pick_up(t, ss, dir, p)) {
        if (!(d->flags & DF_BASE))
            dir_set_base(d, p->tcp_seq, true); /* midstream, first packet of this side */
        if (fl & TCP_FIN) {
            uint32_t fin = p->tcp_seq + p->payload_len;
            if (!(d->flags & DF_FIN) || seq_gt(fin, d->fin_seq))
                d->fin_seq = fin;
            d->flags |= DF_FIN;
            if (seq_gt(fin + 1, d->max_end) && seq_leq(fin + 1, d->next_seq + MAX_AHEAD))
                d->max_end = fin + 1;
        }
        if (fl & TCP_ACK)
            handle_ack(t, ss, dir ^ 1, p->tcp_ack);
        if (p->payload_len != 0)
            handle_data(t, ss, dir, p->tcp_seq, p->payload, p->payload_len);
    }
    scratch_flush(t);
    t->sink = NULL;
}

void vg_stream_session_end(struct vg_stream_table *t, uint32_t session,
                           const struct vg_stream_sink *sink)
{
    if (session >= t->max_sessions)
        return;
    struct session *ss = &t->sessions[session];
    if (!(ss->flags & SF_IN_USE))
        return;
    t->sink = sink;
    deliver(t, ss, VG_DIR_TOSERVER, DELIVER_ALL);
    scratch_flush(t);
    deliver(t, ss, VG_DIR_TOCLIENT, DELIVER_ALL);
    scratch_flush(t);
    session_release(t, ss);
    t->sink = NULL;
}

bool vg_stream_direction_active(const struct vg_stream_table *t, uint32_t session,
                                enum vg_flow_dir dir)
{
    if (session >= t->max_sessions)
        return false;
    const struct session *ss = &t->sessions[session];
    if (!(ss->flags & SF_IN_USE) || ss->state == SS_NONE)
        return false;
    const struct dir_state *d = &ss->d[dir == VG_DIR_TOCLIENT ? 1 : 0];
    if (!(d->flags & DF_BASE) || (d->flags & (DF_DEPTH | DF_DONE)))
        return false;
    /* Before the handshake completes only the initiator's SYN data is taken. */
    return ss->state == SS_ESTABLISHED || (dir == ss->initiator && ss->syn_data_len != 0);
}
