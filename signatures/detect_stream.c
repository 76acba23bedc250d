/* Detection on reassembled TCP streams.
 *
 * The fast patterns of the stream rules form one Hyperscan streaming-mode
 * database (pattern id = rule index, as in the packet database). Each
 * stream state owns a Hyperscan stream, so a fast pattern split over chunks
 * is reported once, at the stream offset E where it ends. That end is the
 * candidate's match position: the rule is verified with its fast pattern
 * pinned at E, so each position alerts at most once however the bytes were
 * chunked. No start-of-match tracking is compiled in (it would make every
 * Hyperscan stream larger): the patterns are literals, so a match starts at
 * E minus the pattern length.
 *
 * Verification needs bytes around E. For every content of a rule the span
 * analysis below bounds the bytes it may read, relative to E (through the
 * relative chain that holds the fast pattern) and absolutely (offset, depth,
 * and the chain from the stream start). From that each rule gets the bytes
 * before and after E a candidate may read, capped by STREAM_WINDOW_MAX; the
 * rule set's window is the largest before + after. Each stream keeps the
 * last window bytes in a ring, so every candidate's bytes are at hand: in
 * the chunk being scanned, or in the ring joined to the head of the chunk.
 *
 * A candidate that needs bytes after E which have not come yet waits on the
 * stream (a few per stream, STREAM_PENDING_MAX) and is verified again as
 * chunks come until it matches or its last needed byte has come. Verifying
 * early is sound because more bytes cannot undo a match of positive
 * contents; a negated content whose window is not complete yet keeps the
 * candidate waiting. A look that would read more than STREAM_REVISIT_FREE
 * bytes is taken again only once the new bytes are at least
 * 1/STREAM_REVISIT_RATIO of them, or the candidate's last needed byte has
 * come: with small segments (an evasion, or an attacker's way to make every
 * look re-run a costly pcre over a wide window) the work stays linear in the
 * bytes received, at the price of an alert that may come a few segments
 * after the one that completed the match (counted: revisits_deferred).
 * A gap or the end of the direction decides the waiting candidates on the
 * bytes before it; so does a full list for its oldest (counted), and
 * closing drops them (counted, never alerting). */
#include <hs.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/detect.h"

#include "rule_int.h"

/* Cap on the bytes one candidate may read around its match position, and so
 * on the bytes a stream keeps. Rules that could need more are verified on
 * what the cap leaves (counted in windows_too_short). */
#define STREAM_WINDOW_MAX 4096u

/* Candidates that may wait for bytes on one stream. */
#define STREAM_PENDING_MAX 32u
/* Fast-pattern matches of one chunk held back so that they are judged in
 * rule order (a flowbit setter before its checker, a pass rule before the
 * rules it passes), whatever their order in the bytes. Beyond this many in
 * one chunk, a match is judged at once (counted: order_overflow). */
#define STREAM_FOUND_MAX 1024u
/* A waiting candidate whose look reads more than STREAM_REVISIT_FREE bytes
 * is looked at again once the bytes come since its last look are at least
 * 1/STREAM_REVISIT_RATIO of them. */
#define STREAM_REVISIT_FREE  512u
#define STREAM_REVISIT_RATIO 8u

struct sig_pending {
    uint64_t end;    /* stream offset where the fast pattern ends */
    uint64_t looked; /* the stream offset the bytes had reached at its last look */
    uint64_t needed; /* the stream offset its last needed byte ends at */
    uint32_t rule;
};

struct vg_detect_stream {
    hs_stream_t *hs;             /* NULL when the rule set has no stream rule */
    uint8_t *ring;               /* the last ring_len bytes before next */
    struct sig_pending *pending; /* oldest first */
    uint64_t seg_start; /* where the bytes since the last gap start; Hyperscan counts from here */
    uint64_t next;      /* stream offset of the next new byte */
    uint32_t ring_len;
    uint32_t ring_head; /* where the next byte goes in the ring */
    uint32_t npending;
    uint32_t slot;
    bool open;
};

struct sig_stream_pool {
    struct vg_detect_stream *states;
    uint32_t *free_slots;
    uint32_t nfree;
    uint32_t max;
    uint8_t *rings;
    struct sig_pending *pendings;
    uint8_t *joined;           /* 2 x window: the ring followed by the head of a chunk */
    struct sig_pending *found; /* the current chunk's matches, STREAM_FOUND_MAX */
    uint32_t nfound;
    uint64_t bytes_per_stream;
    uint64_t pool_exhausted;
    uint64_t windows_too_short;
    uint64_t pending_overflow;
    uint64_t undecided_at_close;
    uint64_t order_overflow;
    uint64_t revisits;
    uint64_t revisits_deferred;
};

/* ---- Span analysis ---------------------------------------------------------------- */

static int64_t span_add(int64_t a, int64_t b)
{
    if (a >= SIG_SPAN_INF || b >= SIG_SPAN_INF)
        return SIG_SPAN_INF;
    if (a <= -SIG_SPAN_INF || b <= -SIG_SPAN_INF)
        return -SIG_SPAN_INF;
    int64_t v = a + b;
    return v > SIG_SPAN_INF ? SIG_SPAN_INF : v < -SIG_SPAN_INF ? -SIG_SPAN_INF : v;
}

static inline int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static inline int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t content_distance(const struct sig_content *c)
{
    return (c->flags & SIG_CONTENT_DISTANCE) ? c->distance : 0;
}

static bool elem_relative(const struct sig_content *c)
{
    return c->kind == SIG_ELEM_CONTENT ? (c->flags & SIG_CONTENT_RELATIVE) != 0
                                       : (c->flags & SIG_ELEM_RELATIVE) != 0;
}

static bool is_byte_op(const struct sig_content *c)
{
    return c->kind == SIG_ELEM_BYTE_TEST || c->kind == SIG_ELEM_BYTE_JUMP ||
           c->kind == SIG_ELEM_ISDATAAT;
}

/* The bytes a byte_test, byte_jump or isdataat needs for a cursor at C:
 * [C + *a, C + *b). A relative isdataat needs the bytes up to C + n, an
 * absolute one the byte at n. */
static void byte_reach(const struct sig_content *c, int64_t *a, int64_t *b)
{
    const struct sig_byte_op *op = c->ext;
    *a = op->offset;
    if (c->kind == SIG_ELEM_ISDATAAT)
        *b = (int64_t)op->offset + !(c->flags & SIG_ELEM_RELATIVE);
    else
        *b = (int64_t)op->offset + op->nbytes;
}

/* The least a byte_jump whose bytes start at read_lo moves the cursor to:
 * the bytes' end plus post_offset (the value, scaled and aligned, is never
 * negative); -SIG_SPAN_INF when it counts from the buffer's start or end. */
static int64_t jump_low(const struct sig_content *c, int64_t read_lo)
{
    const struct sig_byte_op *op = c->ext;
    if (op->jump & (SIG_JUMP_FROM_BEGINNING | SIG_JUMP_FROM_END))
        return -SIG_SPAN_INF;
    return span_add(read_lo, (op->base != 0 ? 1 : op->nbytes) + (int64_t)op->post_offset);
}

/* Absolute bounds: where each element's bytes may start and must end,
 * counting from the stream start, following the cursor as the matcher
 * does (a relative element after no positive one counts from the start). A
 * byte_jump or pcre moves the cursor by an amount known only at match
 * time: the elements relative to it are unbounded above. */
static void absolute_spans(const struct sig_rule *r, struct sig_span *sp)
{
    int64_t cur_lo = 0, cur_hi = 0; /* where the cursor may be */
    for (uint32_t i = 0; i < r->ncontents; i++) {
        const struct sig_content *c = &r->contents[i];
        const bool rel = elem_relative(c);
        const int64_t from_lo = rel ? cur_lo : 0, from_hi = rel ? cur_hi : 0;
        int64_t lo = 0, hi = SIG_SPAN_INF;
        if (c->kind == SIG_ELEM_CONTENT) {
            if (rel) {
                int64_t dist = content_distance(c);
                lo = max64(0, span_add(cur_lo, dist));
                hi = (c->flags & SIG_CONTENT_WITHIN) ? span_add(cur_hi, dist + c->within)
                                                     : SIG_SPAN_INF;
            } else {
                lo = c->offset;
                hi = (c->flags & SIG_CONTENT_DEPTH) ? (int64_t)c->offset + c->depth : SIG_SPAN_INF;
            }
            if (!(c->flags & SIG_CONTENT_NEGATED)) {
                cur_lo = span_add(lo, c->len);
                cur_hi = hi;
            }
        } else if (is_byte_op(c)) {
            int64_t a, b;
            byte_reach(c, &a, &b);
            lo = max64(0, span_add(from_lo, a));
            hi = max64(lo, span_add(from_hi, b));
            if (c->kind == SIG_ELEM_BYTE_JUMP) {
                cur_lo = max64(0, jump_low(c, lo));
                cur_hi = SIG_SPAN_INF;
            }
        } else if (c->kind == SIG_ELEM_PCRE) {
            lo = max64(0, from_lo);
            cur_lo = lo;
            cur_hi = SIG_SPAN_INF;
        }
        sp[i].abs_lo = lo;
        sp[i].abs_hi = hi;
    }
}

/* Bounds relative to the fast pattern's end E, for the elements chained to
 * it through the cursor: back from the fast pattern to the head of its
 * chain, then forward to the chain's end. Negated contents and tests that
 * do not move the cursor pass it on; a byte_jump or pcre ends the chain
 * backwards and leaves what follows it unbounded above (a byte_jump keeps a
 * lower bound). Other elements stay unbounded. */
static void relative_spans(const struct sig_rule *r, struct sig_span *sp)
{
    const uint32_t n = r->ncontents;
    for (uint32_t i = 0; i < n; i++) {
        sp[i].rel_lo = -SIG_SPAN_INF;
        sp[i].rel_hi = SIG_SPAN_INF;
    }
    const uint32_t f = (uint32_t)r->fast;
    const struct sig_content *fc = &r->contents[f];
    sp[f].rel_lo = -(int64_t)fc->len;
    sp[f].rel_hi = 0;

    /* Backwards: [lo, hi] holds the cursor before element k + 1. */
    if (fc->flags & SIG_CONTENT_RELATIVE) {
        int64_t dist = content_distance(fc);
        int64_t lo = (fc->flags & SIG_CONTENT_WITHIN) ? -(dist + fc->within) : -SIG_SPAN_INF;
        int64_t hi = -(dist + fc->len);
        for (uint32_t k = f; k-- > 0;) {
            const struct sig_content *c = &r->contents[k];
            const bool rel = elem_relative(c);
            if (c->kind == SIG_ELEM_CONTENT && !(c->flags & SIG_CONTENT_NEGATED)) {
                sp[k].rel_lo = span_add(lo, -(int64_t)c->len);
                sp[k].rel_hi = hi;
                if (!rel)
                    break;
                dist = content_distance(c);
                lo = (c->flags & SIG_CONTENT_WITHIN) ? span_add(lo, -(dist + c->within))
                                                     : -SIG_SPAN_INF;
                hi = span_add(hi, -(dist + c->len));
            } else if (c->kind == SIG_ELEM_CONTENT) {
                if (rel) {
                    dist = content_distance(c);
                    sp[k].rel_lo = span_add(lo, dist);
                    sp[k].rel_hi = (c->flags & SIG_CONTENT_WITHIN) ? span_add(hi, dist + c->within)
                                                                   : SIG_SPAN_INF;
                }
            } else if (c->kind == SIG_ELEM_BYTE_JUMP || c->kind == SIG_ELEM_PCRE) {
                break;
            } else if (is_byte_op(c) && rel) {
                int64_t a, b;
                byte_reach(c, &a, &b);
                sp[k].rel_lo = span_add(lo, a);
                sp[k].rel_hi = span_add(hi, b);
            }
        }
    }

    /* Forwards: [lo, hi] holds the cursor after the element before i. */
    int64_t lo = 0, hi = 0;
    for (uint32_t i = f + 1; i < n; i++) {
        const struct sig_content *c = &r->contents[i];
        const bool rel = elem_relative(c);
        if (c->kind == SIG_ELEM_CONTENT) {
            const bool negated = (c->flags & SIG_CONTENT_NEGATED) != 0;
            if (!rel) {
                if (negated)
                    continue;
                break; /* a new chain starts */
            }
            const int64_t dist = content_distance(c);
            const int64_t s_lo = span_add(lo, dist);
            const int64_t s_hi =
                (c->flags & SIG_CONTENT_WITHIN) ? span_add(hi, dist + c->within) : SIG_SPAN_INF;
            sp[i].rel_lo = s_lo;
            sp[i].rel_hi = s_hi;
            if (!negated) {
                lo = span_add(s_lo, c->len);
                hi = s_hi;
            }
        } else if (is_byte_op(c)) {
            if (!rel) {
                if (c->kind == SIG_ELEM_BYTE_JUMP)
                    break;
                continue;
            }
            int64_t a, b;
            byte_reach(c, &a, &b);
            sp[i].rel_lo = span_add(lo, a);
            sp[i].rel_hi = span_add(hi, b);
            if (c->kind == SIG_ELEM_BYTE_JUMP) {
                lo = jump_low(c, sp[i].rel_lo);
                hi = SIG_SPAN_INF;
            }
        } else if (c->kind == SIG_ELEM_PCRE) {
            if (!rel)
                break;
            sp[i].rel_lo = lo;
            hi = SIG_SPAN_INF;
        }
    }
}

/* Spans of one stream rule, and the bytes before and after E it may read. */
static int analyse_rule(struct vg_ruleset *rs, struct sig_rule *r)
{
    struct sig_span *sp = sig_arena_alloc(&rs->arena, r->ncontents * sizeof(*sp));
    if (sp == NULL)
        return -1;
    absolute_spans(r, sp);
    relative_spans(r, sp);
    r->spans = sp;

    /* The fast pattern's own absolute bounds limit E. */
    const int64_t flen = r->contents[r->fast].len;
    const int64_t e_min = span_add(sp[r->fast].abs_lo, flen);
    const int64_t e_max = sp[r->fast].abs_hi;
    int64_t before = flen, ahead = 0;
    for (uint32_t i = 0; i < r->ncontents; i++) {
        const int64_t b = min64(-sp[i].rel_lo, span_add(e_max, -sp[i].abs_lo));
        const int64_t a = min64(sp[i].rel_hi, span_add(sp[i].abs_hi, -e_min));
        before = max64(before, b);
        ahead = max64(ahead, a);
    }
    const int64_t cap = STREAM_WINDOW_MAX, half = STREAM_WINDOW_MAX / 2;
    if (before + ahead > cap) {
        if (ahead <= half)
            before = cap - ahead;
        else if (before <= half)
            ahead = cap - before;
        else
            before = ahead = half;
    }
    /* The fast pattern itself is always kept, however long. */
    r->stream_before = (uint32_t)max64(before, flen);
    r->stream_ahead = (uint32_t)ahead;
    return 0;
}

static bool pick_stream(const struct sig_rule *r, const void *arg)
{
    (void)arg;
    return r->inspect != SIG_INSPECT_PACKET;
}

int sig_stream_prepare(struct vg_ruleset *rs, FILE *err)
{
    uint32_t n = 0;
    uint64_t window = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        struct sig_rule *r = &rs->rules[i];
        if (r->inspect == SIG_INSPECT_PACKET)
            continue;
        if (analyse_rule(rs, r) != 0) {
            if (err != NULL)
                fprintf(err, "rules: out of memory\n");
            return -1;
        }
        n++;
        if ((uint64_t)r->stream_before + r->stream_ahead > window)
            window = (uint64_t)r->stream_before + r->stream_ahead;
    }
    rs->stats.stream_rules = n;
    rs->stream_window = (uint32_t)window;
    rs->stats.stream_window = rs->stream_window;
    if (n == 0)
        return 0;

    /* Every occurrence counts in a stream: no single-match flag. */
    return sig_compile_fast_patterns(rs, pick_stream, NULL, HS_MODE_STREAM, 0, "stream",
                                     &rs->stream_db, &rs->stats.stream_db_bytes, err);
}

/* ---- The pool of stream states ------------------------------------------------------ */

void sig_stream_pool_free(struct sig_stream_pool *pool)
{
    if (pool == NULL)
        return;
    for (uint32_t i = 0; i < pool->max; i++) {
        if (pool->states[i].hs != NULL)
            hs_close_stream(pool->states[i].hs, NULL, NULL, NULL);
    }
    free(pool->states);
    free(pool->free_slots);
    free(pool->rings);
    free(pool->pendings);
    free(pool->joined);
    free(pool->found);
    free(pool);
}

int vg_detect_ctx_streams(struct vg_detect_ctx *ctx, uint32_t max_streams)
{
    struct sig_stream_pool *old = ctx->streams;
    if (old != NULL && old->nfree != old->max)
        return -1;
    const struct vg_ruleset *rs = ctx->rs;
    const size_t window = rs->stream_window;
    struct sig_stream_pool *pool = calloc(1, sizeof(*pool));
    if (pool == NULL)
        return -1;
    const size_t n = max_streams ? max_streams : 1;
    pool->states = calloc(n, sizeof(*pool->states));
    pool->free_slots = malloc(n * sizeof(*pool->free_slots));
    pool->rings = malloc(n * (window ? window : 1));
    pool->pendings = malloc(n * STREAM_PENDING_MAX * sizeof(*pool->pendings));
    pool->joined = malloc(2 * window + 1);
    pool->found = malloc(STREAM_FOUND_MAX * sizeof(*pool->found));
    if (pool->states == NULL || pool->free_slots == NULL || pool->rings == NULL ||
        pool->pendings == NULL || pool->joined == NULL || pool->found == NULL) {
        sig_stream_pool_free(pool);
        return -1;
    }
    size_t hs_bytes = 0;
    if (rs->stream_db != NULL && hs_stream_size(rs->stream_db, &hs_bytes) != HS_SUCCESS)
        hs_bytes = 0;
    for (uint32_t i = 0; i < max_streams; i++) {
        struct vg_detect_stream *s = &pool->states[i];
        s->ring = pool->rings + (size_t)i * window;
        s->pending = pool->pendings + (size_t)i * STREAM_PENDING_MAX;
        s->slot = i;
        pool->max = i + 1; /* the states so far are freed with the pool */
        if (rs->stream_db != NULL && hs_open_stream(rs->stream_db, 0, &s->hs) != HS_SUCCESS) {
            sig_stream_pool_free(pool);
            return -1;
        }
        /* Handed out lowest slot first. */
        pool->free_slots[i] = max_streams - 1 - i;
    }
    pool->max = max_streams;
    pool->nfree = max_streams;
    pool->bytes_per_stream = sizeof(struct vg_detect_stream) + window +
                             STREAM_PENDING_MAX * sizeof(struct sig_pending) + hs_bytes;
    sig_stream_pool_free(old);
    ctx->streams = pool;
    return 0;
}

struct vg_detect_stream *vg_detect_stream_open(struct vg_detect_ctx *ctx)
{
    struct sig_stream_pool *pool = ctx->streams;
    if (pool == NULL)
        return NULL;
    if (pool->nfree == 0) {
        pool->pool_exhausted++;
        return NULL;
    }
    struct vg_detect_stream *s = &pool->states[pool->free_slots[--pool->nfree]];
    s->seg_start = 0;
    s->next = 0;
    s->ring_len = 0;
    s->ring_head = 0;
    s->npending = 0;
    s->open = true;
    return s;
}

void vg_detect_stream_close(struct vg_detect_ctx *ctx, struct vg_detect_stream *s)
{
    struct sig_stream_pool *pool = ctx->streams;
    if (s == NULL || pool == NULL || !s->open)
        return;
    /* No scratch and no callback: a reset reports nothing. */
    if (s->hs != NULL)
        hs_reset_stream(s->hs, 0, NULL, NULL, NULL);
    pool->undecided_at_close += s->npending;
    s->npending = 0;
    s->open = false;
    pool->free_slots[pool->nfree++] = s->slot;
}

void vg_detect_ctx_stream_stats(const struct vg_detect_ctx *ctx, struct vg_detect_stream_stats *out)
{
    memset(out, 0, sizeof(*out));
    const struct sig_stream_pool *pool = ctx->streams;
    if (pool == NULL)
        return;
    out->max_streams = pool->max;
    out->streams_in_use = pool->max - pool->nfree;
    out->window = ctx->rs->stream_window;
    out->bytes_per_stream = pool->bytes_per_stream;
    out->pool_exhausted = pool->pool_exhausted;
    out->windows_too_short = pool->windows_too_short;
    out->pending_overflow = pool->pending_overflow;
    out->undecided_at_close = pool->undecided_at_close;
    out->order_overflow = pool->order_overflow;
    out->revisits = pool->revisits;
    out->revisits_deferred = pool->revisits_deferred;
}

/* ---- Matching ------------------------------------------------------------------------ */

/* One call of vg_detect_stream_data: the chunk being inspected and where
 * alerts go. */
struct stream_call {
    struct vg_detect_ctx *ctx;
    struct vg_detect_stream *s;
    const uint8_t *chunk; /* bytes [chunk_start, chunk_end) */
    uint64_t chunk_start;
    uint64_t chunk_end;
    uint64_t joined_start; /* the pool's joined buffer holds [joined_start, joined_end) */
    uint64_t joined_end;
    bool joined_ready;
    const struct vg_packet *p;
    uint32_t flow_flags;
    vg_alert_fn on_alert;
    void *user;
    uint32_t alerts;
};

enum verdict {
    VERDICT_NO,
    VERDICT_ALERT,
    VERDICT_WAIT, /* more bytes may decide it */
};

static void ring_append(struct vg_detect_stream *s, uint32_t window, const uint8_t *data,
                        uint32_t len)
{
    if (window == 0)
        return;
    if (len >= window) {
        memcpy(s->ring, data + (len - window), window);
        s->ring_head = 0;
        s->ring_len = window;
        return;
    }
    uint32_t first = window - s->ring_head;
    if (first > len)
        first = len;
    memcpy(s->ring + s->ring_head, data, first);
    memcpy(s->ring, data + first, len - first);
    s->ring_head = (s->ring_head + len) % window;
    s->ring_len = s->ring_len + len > window ? window : s->ring_len + len;
}

/* Joins the ring and the head of the chunk, for candidates whose bytes
 * start before the chunk: at most window bytes, so they end within the
 * first window bytes of the chunk. */
static void join_ring_and_chunk(struct stream_call *c)
{
    const struct vg_detect_stream *s = c->s;
    const uint32_t window = c->ctx->rs->stream_window;
    uint8_t *out = c->ctx->streams->joined;
    const uint32_t oldest = (s->ring_head + window - s->ring_len) % (window ? window : 1);
    uint32_t first = window - oldest;
    if (first > s->ring_len)
        first = s->ring_len;
    memcpy(out, s->ring + oldest, first);
    memcpy(out + first, s->ring, s->ring_len - first);
    uint64_t head = c->chunk_end - c->chunk_start;
    if (head > window)
        head = window;
    if (head > 0)
        memcpy(out + s->ring_len, c->chunk, head);
    c->joined_start = c->chunk_start - s->ring_len;
    c->joined_end = c->chunk_start + head;
    c->joined_ready = true;
}

/* Decides a candidate of rule at match position end on the bytes so far;
 * final when no more bytes will come for it. fresh on its first look. */
static enum verdict judge(struct stream_call *c, uint32_t rule, uint64_t end, bool final,
                          bool fresh, uint64_t *needed)
{
    const struct sig_rule *r = &c->ctx->rs->rules[rule];
    *needed = end;
    if (c->p == NULL || !sig_rule_header_matches(r, c->p, c->flow_flags) ||
        !sig_rule_state_ok(c->ctx, r, c->p))
        return VERDICT_NO;
    const struct sig_span *fast = &r->spans[r->fast];
    const int64_t e = (int64_t)end;
    const int64_t flen = r->contents[r->fast].len;
    if (e - flen < fast->abs_lo || e > fast->abs_hi)
        return VERDICT_NO;

    /* The bytes the rule may read for this candidate ... */
    int64_t lo = SIG_SPAN_INF, hi = -SIG_SPAN_INF;
    for (uint32_t i = 0; i < r->ncontents; i++) {
        const struct sig_span *sp = &r->spans[i];
        lo = min64(lo, max64(span_add(e, sp->rel_lo), sp->abs_lo));
        hi = max64(hi, min64(span_add(e, sp->rel_hi), sp->abs_hi));
    }
    /* ... within what the window keeps. */
    const int64_t seg_start = (int64_t)c->s->seg_start;
    const int64_t keep_lo = max64(e - r->stream_before, seg_start);
    const int64_t keep_hi = e + r->stream_ahead;
    const int64_t avail = (int64_t)c->chunk_end;
    /* Counted once: bytes before the window exist from the first look on,
     * bytes after it once the stream reaches its end (which decides). */
    const bool cut_before = lo < keep_lo && keep_lo > seg_start;
    if ((fresh && cut_before) || (!cut_before && hi > keep_hi && avail >= keep_hi))
        c->ctx->streams->windows_too_short++;
    lo = max64(lo, keep_lo);
    hi = min64(hi, keep_hi);
    *needed = (uint64_t)hi;
    if (hi <= avail)
        final = true;
    else
        hi = avail;

    struct sig_inspection in = {
        .base = lo,
        .end = hi,
        .anchor = e - flen,
        .open_end = !final,
        .budget = SIG_INSPECT_BUDGET,
        .ctx = c->ctx,
    };
    if (lo >= (int64_t)c->chunk_start) {
        in.data = c->chunk + (lo - (int64_t)c->chunk_start);
    } else {
        if (!c->joined_ready)
            join_ring_and_chunk(c);
        /* The window keeps every byte a waiting candidate needs; a
         * candidate outside it (never expected) is dropped, not misread. */
        if (lo < (int64_t)c->joined_start || hi > (int64_t)c->joined_end)
            return VERDICT_NO;
        in.data = c->ctx->streams->joined + (lo - (int64_t)c->joined_start);
    }
    if (sig_inspect_contents(r, &in) == 1 && !in.provisional)
        return VERDICT_ALERT;
    return final ? VERDICT_NO : VERDICT_WAIT;
}

static void alert(struct stream_call *c, uint32_t rule)
{
    const struct sig_rule *r = &c->ctx->rs->rules[rule];
    if (c->ctx->flow != NULL && c->ctx->flow->passed)
        return;
    if (sig_rule_fire(c->ctx, r, c->p)) {
        c->alerts++;
        c->on_alert(c->user, &r->meta);
    }
}

/* Whether a waiting candidate is worth a look with the bytes up to the
 * chunk's end: enough new bytes against what the look would read. */
static bool worth_a_look(const struct stream_call *c, const struct sig_pending *pd)
{
    const struct sig_rule *r = &c->ctx->rs->rules[pd->rule];
    uint64_t from = pd->end > r->stream_before ? pd->end - r->stream_before : 0;
    if (from < c->s->seg_start)
        from = c->s->seg_start;
    const uint64_t reads = c->chunk_end - from;
    const uint64_t fresh = c->chunk_end - pd->looked;
    return reads <= STREAM_REVISIT_FREE || c->chunk_end >= pd->needed ||
           fresh * STREAM_REVISIT_RATIO >= reads;
}

/* Looks again at the waiting candidates; final when no more bytes will
 * come for any of them (then every one is decided). */
static void revisit_pending(struct stream_call *c, bool final)
{
    struct vg_detect_stream *s = c->s;
    struct sig_stream_pool *pool = c->ctx->streams;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < s->npending; i++) {
        struct sig_pending pd = s->pending[i];
        if (!final && !worth_a_look(c, &pd)) {
            pool->revisits_deferred++;
            s->pending[kept++] = pd;
            continue;
        }
        pool->revisits++;
        pd.looked = c->chunk_end;
        enum verdict v = judge(c, pd.rule, pd.end, final, false, &pd.needed);
        if (v == VERDICT_ALERT)
            alert(c, pd.rule);
        else if (v == VERDICT_WAIT)
            s->pending[kept++] = pd;
    }
    s->npending = kept;
}

static void add_pending(struct stream_call *c, uint32_t rule, uint64_t end, uint64_t needed)
{
    struct vg_detect_stream *s = c->s;
    if (s->npending == STREAM_PENDING_MAX) {
        /* Full: the oldest is decided on the bytes so far. */
        c->ctx->streams->pending_overflow++;
        const struct sig_pending oldest = s->pending[0];
        memmove(s->pending, s->pending + 1, (s->npending - 1) * sizeof(s->pending[0]));
        s->npending--;
        uint64_t oldest_needed;
        if (judge(c, oldest.rule, oldest.end, true, false, &oldest_needed) == VERDICT_ALERT)
            alert(c, oldest.rule);
    }
    s->pending[s->npending].rule = rule;
    s->pending[s->npending].end = end;
    s->pending[s->npending].looked = c->chunk_end;
    s->pending[s->npending].needed = needed;
    s->npending++;
}

static void judge_fresh(struct stream_call *c, uint32_t rule, uint64_t end)
{
    uint64_t needed;
    enum verdict v = judge(c, rule, end, false, true, &needed);
    if (v == VERDICT_ALERT)
        alert(c, rule);
    else if (v == VERDICT_WAIT)
        add_pending(c, rule, end, needed);
}

static int on_stream_match(unsigned int id, unsigned long long from, unsigned long long to,
                           unsigned int flags, void *user)
{
    (void)from;
    (void)flags;
    struct stream_call *c = user;
    struct sig_stream_pool *pool = c->ctx->streams;
    const uint64_t end = c->s->seg_start + to;
    if (pool->nfound < STREAM_FOUND_MAX) {
        pool->found[pool->nfound].rule = id;
        pool->found[pool->nfound].end = end;
        pool->nfound++;
    } else {
        pool->order_overflow++;
        judge_fresh(c, id, end);
    }
    return 0;
}

/* The chunk's matches in rule order (then position), judged. Insertion
 * sort: a chunk holds few matches, and nothing is allocated. */
static void judge_found(struct stream_call *c)
{
    struct sig_stream_pool *pool = c->ctx->streams;
    struct sig_pending *f = pool->found;
    const uint32_t n = pool->nfound;
    for (uint32_t i = 1; i < n; i++) {
        const struct sig_pending x = f[i];
        uint32_t k = i;
        while (k > 0 &&
               (f[k - 1].rule > x.rule || (f[k - 1].rule == x.rule && f[k - 1].end > x.end))) {
            f[k] = f[k - 1];
            k--;
        }
        f[k] = x;
    }
    pool->nfound = 0;
    for (uint32_t i = 0; i < n; i++)
        judge_fresh(c, f[i].rule, f[i].end);
}

/* The call now inspects bytes [start, start + len) at data. */
static void set_chunk(struct stream_call *c, const uint8_t *data, uint64_t start, uint32_t len)
{
    c->chunk = data;
    c->chunk_start = start;
    c->chunk_end = start + len;
    c->joined_ready = false;
}

uint32_t vg_detect_stream_data(struct vg_detect_ctx *ctx, struct vg_detect_stream *s,
                               const uint8_t *data, uint32_t len, uint64_t stream_offset,
                               uint32_t chunk_flags, const struct vg_packet *p, uint32_t flow_flags,
                               vg_alert_fn on_alert, void *user)
{
    if (s == NULL || !s->open)
        return 0;
    /* A passed flow is not inspected any more: its bytes are not scanned. */
    if (ctx->flow != NULL && ctx->flow->passed)
        return 0;
    if (data == NULL)
        len = 0;
    const struct vg_ruleset *rs = ctx->rs;
    struct stream_call c = {
        .ctx = ctx,
        .s = s,
        .p = p,
        .flow_flags = flow_flags,
        .on_alert = on_alert,
        .user = user,
    };

    if ((chunk_flags & VG_DS_GAP) || stream_offset > s->next) {
        /* Nothing spans a gap: decide what waits on the bytes before it,
         * then start over. */
        if (s->npending > 0) {
            set_chunk(&c, NULL, s->next, 0);
            revisit_pending(&c, true);
        }
        if (s->hs != NULL)
            hs_reset_stream(s->hs, 0, NULL, NULL, NULL);
        s->seg_start = stream_offset;
        s->next = stream_offset;
        s->ring_len = 0;
        s->ring_head = 0;
    } else if (stream_offset < s->next) {
        /* Bytes seen already are not inspected twice. */
        const uint64_t seen = s->next - stream_offset;
        if (seen >= len) {
            len = 0;
        } else {
            data += seen;
            len -= (uint32_t)seen;
        }
        stream_offset = s->next;
    }

    set_chunk(&c, data, stream_offset, len);
    if (len > 0 && s->hs != NULL) {
        /* Older positions first: the waiting candidates, then the chunk's. */
        if (s->npending > 0)
            revisit_pending(&c, false);
        ctx->streams->nfound = 0;
        hs_scan_stream(s->hs, (const char *)data, len, 0, ctx->scratch, on_stream_match, &c);
        judge_found(&c);
    }
    if ((chunk_flags & VG_DS_END) && s->npending > 0)
        revisit_pending(&c, true);
    if (len > 0)
        ring_append(s, rs->stream_window, data, len);
    s->next = stream_offset + len;
    return c.alerts;
}
