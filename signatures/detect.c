/* Rule set compilation and packet matching.
 *
 * Every rule with a positive content that packets may match (all but the
 * stream-only ones) contributes one literal, its fast pattern, to a
 * Hyperscan block-mode database whose pattern id is the rule's index. A
 * scan yields candidate rules; rules without a usable content are always
 * candidates (chosen by protocol, skipped cheaply by destination port).
 * Candidates are then verified in full, in rule order (priority, then sid),
 * which is simply index order since the rule array is sorted that way.
 * Streams are matched in detect_stream.c, application-layer transactions
 * in detect_app.c: rules that inspect application buffers take no part in
 * the packet database or its lists. */
#include <errno.h>
#include <hs.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/detect.h"

#include "rule_int.h"

/* Below this many candidates an insertion sort is cheaper than a walk over
 * the whole candidate bitmap. */
#define SMALL_CANDIDATE_COUNT 32u

/* ---- Loading and compiling --------------------------------------------------- */

static int rule_order(const void *a, const void *b)
{
    const struct sig_rule *x = a, *y = b;
    if (x->meta.priority != y->meta.priority)
        return x->meta.priority < y->meta.priority ? -1 : 1;
    if (x->meta.sid != y->meta.sid)
        return x->meta.sid < y->meta.sid ? -1 : 1;
    if (x->meta.gid != y->meta.gid)
        return x->meta.gid < y->meta.gid ? -1 : 1;
    return 0;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int build_always_lists(struct vg_ruleset *rs)
{
    for (int k = 0; k < SIG_PKT_CLASS_COUNT; k++) {
        rs->always[k] = malloc((rs->nrules ? rs->nrules : 1) * sizeof(struct sig_always));
        if (rs->always[k] == NULL)
            return -1;
    }
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (r->fast >= 0)
            continue;
        rs->stats.no_pattern_rules++;
        if (r->app_stage != 0)
            continue;
        struct sig_always entry = {.rule = i, .dport_lo = 0, .dport_hi = 65535};
        if (!r->bidir && !r->dport.any && r->dport.n == 1) {
            entry.dport_lo = r->dport.r[0].lo;
            entry.dport_hi = r->dport.r[0].hi;
        }
        for (int k = 0; k < SIG_PKT_CLASS_COUNT; k++) {
            bool fits = r->proto == SIG_PROTO_IP ||
                        (r->proto == SIG_PROTO_TCP && k == SIG_PKT_TCP) ||
                        (r->proto == SIG_PROTO_UDP && k == SIG_PKT_UDP) ||
                        (r->proto == SIG_PROTO_ICMP && k == SIG_PKT_ICMP);
            if (fits)
                rs->always[k][rs->nalways[k]++] = entry;
        }
    }
    return 0;
}

/* A rule whose fast pattern belongs in the packet database. */
static bool packet_pattern(const struct sig_rule *r)
{
    return r->fast >= 0 && r->inspect != SIG_INSPECT_STREAM && r->app_stage == 0;
}

int sig_compile_fast_patterns(const struct vg_ruleset *rs, sig_rule_pick_fn pick, const void *arg,
                              unsigned mode, unsigned pattern_flags, const char *what,
                              struct hs_database **out, uint64_t *db_bytes, FILE *err)
{
    *out = NULL;
    uint32_t n = 0;
    for (uint32_t i = 0; i < rs->nrules; i++)
        n += pick(&rs->rules[i], arg);
    if (n == 0)
        return 0;

    const char **exprs = malloc(n * sizeof(*exprs));
    unsigned *flags = malloc(n * sizeof(*flags));
    unsigned *ids = malloc(n * sizeof(*ids));
    size_t *lens = malloc(n * sizeof(*lens));
    int ret = -1;
    if (exprs == NULL || flags == NULL || ids == NULL || lens == NULL) {
        if (err != NULL)
            fprintf(err, "rules: out of memory compiling the %s patterns\n", what);
        goto out;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (!pick(r, arg))
            continue;
        const struct sig_content *c = &r->contents[r->fast];
        exprs[k] = (const char *)c->pattern;
        lens[k] = c->len;
        flags[k] = pattern_flags | ((c->flags & SIG_CONTENT_NOCASE) ? HS_FLAG_CASELESS : 0);
        ids[k] = i;
        k++;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    if (hs_compile_lit_multi(exprs, flags, ids, lens, n, mode, NULL, &db, &cerr) != HS_SUCCESS) {
        if (err != NULL) {
            const char *why = cerr != NULL ? cerr->message : "unknown error";
            if (cerr != NULL && cerr->expression >= 0 && (uint32_t)cerr->expression < n) {
                const struct sig_rule *r = &rs->rules[ids[cerr->expression]];
                fprintf(err, "%s:%u: Hyperscan cannot compile the fast pattern: %s (sid %u)\n",
                        r->file, r->line, why, r->meta.sid);
            } else {
                fprintf(err, "rules: Hyperscan cannot compile the %s patterns: %s\n", what, why);
            }
        }
        hs_free_compile_error(cerr);
        goto out;
    }
    size_t size = 0;
    if (hs_database_size(db, &size) == HS_SUCCESS)
        *db_bytes += size;
    *out = db;
    ret = 0;
out:
    free(exprs);
    free(flags);
    free(ids);
    free(lens);
    return ret;
}

static bool pick_packet(const struct sig_rule *r, const void *arg)
{
    (void)arg;
    return packet_pattern(r);
}

static int compile_database(struct vg_ruleset *rs, FILE *err)
{
    rs->stats.patterns = 0;
    for (uint32_t i = 0; i < rs->nrules; i++)
        rs->stats.patterns += packet_pattern(&rs->rules[i]);
    rs->stats.db_bytes = 0;
    return sig_compile_fast_patterns(rs, pick_packet, NULL, HS_MODE_BLOCK, HS_FLAG_SINGLEMATCH,
                                     "packet", &rs->db, &rs->stats.db_bytes, err);
}

struct vg_ruleset *vg_ruleset_load(const struct vg_rule_load_opts *opts,
                                   struct vg_ruleset_stats *stats)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (stats != NULL)
        memset(stats, 0, sizeof(*stats));

    struct vg_ruleset *rs = calloc(1, sizeof(*rs));
    if (rs == NULL) {
        if (opts->err != NULL)
            fprintf(opts->err, "rules: out of memory\n");
        return NULL;
    }
    bool ok = true;
    if (opts->classification_file != NULL) {
        if (sig_class_load_file(&rs->classes, &rs->arena, opts->classification_file, opts->err) !=
            0) {
            rs->stats.files_failed++;
            ok = false;
        }
    } else if (sig_class_load_builtin(&rs->classes, &rs->arena) != 0) {
        ok = false;
    }

    struct sig_loader ld = {
        .cfg = opts->cfg,
        .classes = &rs->classes,
        .arena = &rs->arena,
        .err = opts->err,
    };
    if (ok) {
        for (int i = 0; i < opts->nfiles; i++)
            sig_load_file(&ld, opts->files[i]);
    }
    rs->stats.rules_skipped = ld.skipped;
    rs->stats.files_failed += ld.files_failed;
    if (ld.out_of_memory && opts->err != NULL)
        fprintf(opts->err, "rules: out of memory\n");
    ok = ok && ld.files_failed == 0 && !ld.out_of_memory;

    /* The rule array moves to the rule set; sorted, an index is a rank. */
    rs->rules = ld.rules;
    rs->nrules = ld.nrules;
    ld.rules = NULL;
    sig_loader_release(&ld);
    if (rs->nrules > 1)
        qsort(rs->rules, rs->nrules, sizeof(rs->rules[0]), rule_order);
    rs->stats.rules_loaded = rs->nrules;

    if (ok && build_always_lists(rs) != 0) {
        if (opts->err != NULL)
            fprintf(opts->err, "rules: out of memory\n");
        ok = false;
    }
    if (ok && compile_database(rs, opts->err) != 0)
        ok = false;
    if (ok && sig_stream_prepare(rs, opts->err) != 0)
        ok = false;
    if (ok && sig_app_prepare(rs, opts->err) != 0)
        ok = false;
    rs->stats.compile_ms = elapsed_ms(&t0);
    if (stats != NULL)
        *stats = rs->stats;
    if (!ok) {
        vg_ruleset_free(rs);
        return NULL;
    }
    return rs;
}

void vg_ruleset_free(struct vg_ruleset *rs)
{
    if (rs == NULL)
        return;
    hs_free_database(rs->db);
    hs_free_database(rs->stream_db);
    for (int k = 0; k < SIG_PKT_CLASS_COUNT; k++)
        free(rs->always[k]);
    sig_app_release(rs);
    free(rs->rules);
    sig_class_release(&rs->classes);
    sig_arena_free(&rs->arena);
    free(rs);
}

const struct vg_ruleset_stats *vg_ruleset_stats(const struct vg_ruleset *rs)
{
    return &rs->stats;
}

const struct sig_rule *sig_ruleset_find(const struct vg_ruleset *rs, uint32_t gid, uint32_t sid)
{
    for (uint32_t i = 0; i < rs->nrules; i++) {
        if (rs->rules[i].meta.sid == sid && rs->rules[i].meta.gid == gid)
            return &rs->rules[i];
    }
    return NULL;
}

/* ---- Per-worker context ------------------------------------------------------- */

struct vg_detect_ctx *vg_detect_ctx_new(const struct vg_ruleset *rs)
{
    struct vg_detect_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return NULL;
    ctx->rs = rs;
    ctx->nwords = (rs->nrules + 63) / 64;
    ctx->cand = malloc((rs->nrules ? rs->nrules : 1) * sizeof(*ctx->cand));
    ctx->seen = calloc(ctx->nwords ? ctx->nwords : 1, sizeof(*ctx->seen));
    if (ctx->cand == NULL || ctx->seen == NULL ||
        (rs->db != NULL && hs_alloc_scratch(rs->db, &ctx->scratch) != HS_SUCCESS) ||
        (rs->stream_db != NULL && hs_alloc_scratch(rs->stream_db, &ctx->scratch) != HS_SUCCESS)) {
        vg_detect_ctx_free(ctx);
        return NULL;
    }
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        if (rs->app_db[b] != NULL && hs_alloc_scratch(rs->app_db[b], &ctx->scratch) != HS_SUCCESS) {
            vg_detect_ctx_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

void vg_detect_ctx_free(struct vg_detect_ctx *ctx)
{
    if (ctx == NULL)
        return;
    sig_stream_pool_free(ctx->streams);
    hs_free_scratch(ctx->scratch);
    free(ctx->cand);
    free(ctx->seen);
    free(ctx);
}

/* ---- Matching ------------------------------------------------------------------ */

static int on_fast_pattern(unsigned int id, unsigned long long from, unsigned long long to,
                           unsigned int flags, void *user)
{
    (void)from;
    (void)to;
    (void)flags;
    sig_add_candidate(user, id);
    return 0;
}

void sig_order_candidates(struct vg_detect_ctx *ctx)
{
    uint32_t *c = ctx->cand;
    uint32_t n = ctx->ncand;
    if (n <= SMALL_CANDIDATE_COUNT) {
        for (uint32_t i = 0; i < n; i++) {
            ctx->seen[c[i] >> 6] = 0;
            uint32_t v = c[i];
            uint32_t j = i;
            while (j > 0 && c[j - 1] > v) {
                c[j] = c[j - 1];
                j--;
            }
            c[j] = v;
        }
        return;
    }
    /* Many candidates: the bitmap already holds them in order. */
    uint32_t k = 0;
    for (uint32_t w = 0; w < ctx->nwords && k < n; w++) {
        uint64_t bits = ctx->seen[w];
        if (bits == 0)
            continue;
        ctx->seen[w] = 0;
        while (bits != 0) {
            c[k++] = w * 64 + (uint32_t)__builtin_ctzll(bits);
            bits &= bits - 1;
        }
    }
}

static inline bool uint_test(const struct sig_uint_test *t, uint32_t v)
{
    switch (t->op) {
    case SIG_UINT_EQ:
        return v == t->a;
    case SIG_UINT_NE:
        return v != t->a;
    case SIG_UINT_LT:
        return v < t->a;
    case SIG_UINT_LE:
        return v <= t->a;
    case SIG_UINT_GT:
        return v > t->a;
    case SIG_UINT_GE:
        return v >= t->a;
    case SIG_UINT_RANGE:
        return v > t->a && v < t->b;
    default:
        return false;
    }
}

static inline bool port_in(const struct sig_port_set *s, uint16_t port)
{
    if (s->any)
        return true;
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (port < s->r[mid].lo)
            hi = mid;
        else if (port > s->r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static inline bool addr_in(const struct sig_addr_set *s, uint8_t family, const struct vg_ip_addr *a)
{
    if (s->any)
        return true;
    if (family == 4) {
        uint32_t v =
            (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 | a->b[3];
        uint32_t lo = 0, hi = s->n4;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (v < s->v4[mid].lo)
                hi = mid;
            else if (v > s->v4[mid].hi)
                lo = mid + 1;
            else
                return true;
        }
        return false;
    }
    sig_u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | a->b[i];
    uint32_t lo = 0, hi = s->n6;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (v < s->v6[mid].lo)
            hi = mid;
        else if (v > s->v6[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

static inline bool packet_has_ports(const struct vg_packet *p)
{
    return (p->flags & (VG_PKT_HAS_L4 | VG_PKT_FRAGMENT)) == VG_PKT_HAS_L4 &&
           (p->proto == 6 || p->proto == 17);
}

static bool endpoints_match(const struct sig_rule *r, const struct vg_packet *p)
{
    /* Like Suricata, a rule that names ports only matches packets that have
     * ports. */
    if (!(r->sport.any && r->dport.any) && !packet_has_ports(p))
        return false;
    if (addr_in(&r->src, p->family, &p->src) && addr_in(&r->dst, p->family, &p->dst) &&
        port_in(&r->sport, p->sport) && port_in(&r->dport, p->dport))
        return true;
    return r->bidir && addr_in(&r->src, p->family, &p->dst) &&
           addr_in(&r->dst, p->family, &p->src) && port_in(&r->sport, p->dport) &&
           port_in(&r->dport, p->sport);
}

static inline bool tcp_flags_match(const struct sig_rule *r, uint8_t pflags)
{
    const uint8_t want = r->tcpflags_want;
    if (want == 0 && pflags != 0)
        return r->tcpflags_mod == SIG_TCPFLAGS_NOT;
    const uint8_t f = pflags & r->tcpflags_keep;
    switch (r->tcpflags_mod) {
    case SIG_TCPFLAGS_ANY:
        return (f & want) != 0;
    case SIG_TCPFLAGS_PLUS:
        return (f & want) == want;
    case SIG_TCPFLAGS_NOT:
        return (f & want) != want;
    default:
        return f == want;
    }
}

static const uint8_t *find_nocase(const uint8_t *hay, uint32_t n, const uint8_t *pat, uint32_t m)
{
    const uint8_t first = pat[0];
    const uint8_t first_upper = (first >= 'a' && first <= 'z') ? (uint8_t)(first - 32) : first;
    for (uint32_t i = 0; i + m <= n; i++) {
        if (hay[i] != first && hay[i] != first_upper)
            continue;
        uint32_t k = 1;
        while (k < m && sig_lower(hay[i + k]) == pat[k])
            k++;
        if (k == m)
            return hay + i;
    }
    return NULL;
}

static inline const uint8_t *content_find(const struct sig_content *c, const uint8_t *hay,
                                          uint32_t n)
{
    if (c->flags & SIG_CONTENT_NOCASE)
        return find_nocase(hay, n, c->pattern, c->len);
    return memmem(hay, n, c->pattern, c->len);
}

/* The contents one inspection walks, and which of them is the fast pattern
 * pinned at sig_inspection.anchor (-1: none). */
struct content_list {
    const struct sig_content *c;
    uint32_t n;
    int32_t fast;
};

/* Inspects contents[i..] after a previous positive match ending at prev_end,
 * with Suricata's semantics: offset/depth are absolute, distance/within are
 * relative to prev_end, a negated content must be absent from its window.
 * When a later content with within fails, this content is retried at its
 * next occurrence. The fast pattern content only matches at in->anchor when
 * that is set. Returns 1 on a match, 0 on no match (the caller may retry),
 * -1 to give up. */
static int inspect_from(const struct content_list *r, uint32_t i, struct sig_inspection *in,
                        int64_t prev_end)
{
    const struct sig_content *c = &r->c[i];
    const bool last = i + 1 == r->n;
    if (c->kind != SIG_ELEM_CONTENT) {
        if (in->budget == 0)
            return -1;
        in->budget--;
        int64_t cursor;
        if (sig_elem_eval(c, in, prev_end, &cursor) != 1)
            return 0;
        return last ? 1 : inspect_from(r, i + 1, in, cursor);
    }
    const bool anchored = in->anchor >= 0 && (int32_t)i == r->fast;
    bool retrying = false;
    int64_t retry_from = 0;
    for (;;) {
        if (in->budget == 0)
            return -1;
        in->budget--;

        /* [start, limit) is the content's window; the buffer may cut it. */
        int64_t start, limit = INT64_MAX;
        if (c->flags & SIG_CONTENT_RELATIVE) {
            int64_t dist = (c->flags & SIG_CONTENT_DISTANCE) ? c->distance : 0;
            start = prev_end + dist;
            if (c->flags & SIG_CONTENT_WITHIN)
                limit = prev_end + dist + c->within;
        } else {
            start = c->offset;
            if (c->flags & SIG_CONTENT_DEPTH)
                limit = (int64_t)c->offset + c->depth;
        }
        if (retrying)
            start = retry_from;
        if (start < in->base)
            start = in->base;
        const int64_t end = limit < in->end ? limit : in->end;

        int64_t found = -1;
        if (anchored) {
            if (in->anchor >= start && in->anchor + c->len <= end)
                found = in->anchor;
        } else if (end - start >= (int64_t)c->len) {
            const uint8_t *at =
                content_find(c, in->data + (start - in->base), (uint32_t)(end - start));
            if (at != NULL)
                found = in->base + (at - in->data);
        }

        if (c->flags & SIG_CONTENT_NEGATED) {
            if (found >= 0)
                return 0;
            int rc = last ? 1 : inspect_from(r, i + 1, in, prev_end);
            /* Absent so far: bytes still to come may hold it. */
            if (rc == 1 && in->open_end && limit > in->end)
                in->provisional = true;
            return rc;
        }
        if (found < 0)
            return 0;
        if (last)
            return 1;
        int next = inspect_from(r, i + 1, in, found + c->len);
        if (next != 0)
            return next;
        /* Only a within on the next content makes its outcome depend on
         * where this one matched. */
        if (!(c->flags & SIG_CONTENT_WITHIN_NEXT))
            return -1;
        retrying = true;
        retry_from = found + 1;
    }
}

int sig_inspect_contents(const struct sig_rule *r, struct sig_inspection *in)
{
    if (r->ncontents == 0)
        return 1;
    const struct content_list list = {.c = r->contents, .n = r->ncontents, .fast = r->fast};
    return inspect_from(&list, 0, in, 0) == 1;
}

int sig_inspect_slice(const struct sig_content *contents, uint32_t n, struct sig_inspection *in)
{
    if (n == 0)
        return 1;
    const struct content_list list = {.c = contents, .n = n, .fast = -1};
    return inspect_from(&list, 0, in, 0) == 1;
}

bool sig_rule_header_matches(const struct sig_rule *r, const struct vg_packet *p,
                             uint32_t flow_flags)
{
    switch (r->proto) {
    case SIG_PROTO_TCP:
        if (p->proto != 6)
            return false;
        break;
    case SIG_PROTO_UDP:
        if (p->proto != 17)
            return false;
        break;
    case SIG_PROTO_ICMP:
        if (p->proto != 1 && p->proto != 58)
            return false;
        break;
    default:
        break;
    }
    if ((flow_flags & r->flow_mask) != r->flow_value)
        return false;
    if (r->app_proto != 0 &&
        ((flow_flags & VG_DF_APP_MASK) >> VG_DF_APP_SHIFT) != (uint32_t)r->app_proto)
        return false;
    if (r->tests != 0) {
        if ((r->tests & SIG_TEST_DSIZE) && !uint_test(&r->dsize, p->payload_len))
            return false;
        if (r->tests & (SIG_TEST_ITYPE | SIG_TEST_ICODE)) {
            if ((p->proto != 1 && p->proto != 58) || !(p->flags & VG_PKT_HAS_L4))
                return false;
            if ((r->tests & SIG_TEST_ITYPE) && !uint_test(&r->itype, p->icmp_type))
                return false;
            if ((r->tests & SIG_TEST_ICODE) && !uint_test(&r->icode, p->icmp_code))
                return false;
        }
        if (r->tests & SIG_TEST_TCPFLAGS) {
            if (p->proto != 6 || !(p->flags & VG_PKT_HAS_L4) || !tcp_flags_match(r, p->tcp_flags))
                return false;
        }
    }
    return endpoints_match(r, p);
}

static bool rule_matches(struct vg_detect_ctx *ctx, const struct sig_rule *r,
                         const struct vg_packet *p, uint32_t flow_flags)
{
    /* Content the stream inspects is not inspected again on the packet;
     * application buffers are inspected on transactions only. */
    if (r->app_stage != 0)
        return false;
    if (r->inspect != SIG_INSPECT_PACKET &&
        (r->inspect == SIG_INSPECT_STREAM || ((flow_flags & VG_DF_STREAM) && p->proto == 6)))
        return false;
    if (!sig_rule_header_matches(r, p, flow_flags) || !sig_rule_state_ok(ctx, r))
        return false;
    if (r->ncontents == 0)
        return true;
    static const uint8_t empty[1];
    struct sig_inspection in = {
        .data = p->payload != NULL ? p->payload : empty,
        .base = 0,
        .end = p->payload != NULL ? p->payload_len : 0,
        .anchor = -1,
        .budget = SIG_INSPECT_BUDGET,
        .ctx = ctx,
    };
    return sig_inspect_contents(r, &in) == 1;
}

static inline enum sig_pkt_class packet_class(const struct vg_packet *p)
{
    switch (p->proto) {
    case 6:
        return SIG_PKT_TCP;
    case 17:
        return SIG_PKT_UDP;
    case 1:
    case 58:
        return SIG_PKT_ICMP;
    default:
        return SIG_PKT_OTHER;
    }
}

uint32_t vg_detect_packet(struct vg_detect_ctx *ctx, const struct vg_packet *p, uint32_t flow_flags,
                          vg_alert_fn on_alert, void *user)
{
    if (p->family != 4 && p->family != 6)
        return 0;
    const struct vg_ruleset *rs = ctx->rs;
    ctx->ncand = 0;
    if (ctx->flow != NULL && ctx->flow->passed)
        return 0;

    if (rs->db != NULL && p->payload_len > 0 && p->payload != NULL)
        hs_scan(rs->db, (const char *)p->payload, p->payload_len, 0, ctx->scratch, on_fast_pattern,
                ctx);

    const enum sig_pkt_class cls = packet_class(p);
    const struct sig_always *always = rs->always[cls];
    const uint32_t nalways = rs->nalways[cls];
    const bool has_ports = packet_has_ports(p);
    for (uint32_t i = 0; i < nalways; i++) {
        if (has_ports && (p->dport < always[i].dport_lo || p->dport > always[i].dport_hi))
            continue;
        sig_add_candidate(ctx, always[i].rule);
    }
    if (ctx->ncand == 0)
        return 0;

    sig_order_candidates(ctx);
    uint32_t alerts = 0;
    ctx->stop = false;
    for (uint32_t i = 0; i < ctx->ncand && !ctx->stop; i++) {
        const struct sig_rule *r = &rs->rules[ctx->cand[i]];
        if (rule_matches(ctx, r, p, flow_flags) && sig_rule_fire(ctx, r, p)) {
            alerts++;
            on_alert(user, &r->meta);
        }
    }
    return alerts;
}
