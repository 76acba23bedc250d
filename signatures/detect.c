/* Rule set compilation and packet matching.
 *
 * Packet rules are grouped by protocol class (tcp, udp, icmp, other; an ip
 * rule is in each), by the direction flow:to_server / to_client asks for
 * (a rule without one is in both directions and in the flow-less group),
 * and for TCP by whether stream reassembly covers the payload (then the
 * rules the stream inspects are left out). Each rule with a positive
 * content that packets may match contributes one literal, its fast
 * pattern, to the Hyperscan block-mode database of each of its groups
 * (pattern id = rule index); a packet scans its group's database only. A
 * scan yields candidate rules; rules without a usable content are always
 * candidates of their groups (skipped cheaply by destination port).
 * Candidates are then verified in full, in rule order (action, flowbits,
 * priority, then sid: see rule_order), which is simply index order since
 * the rule array is sorted that way.
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

/* Suricata's action order: pass, drop, reject, alert. */
static int action_rank(uint8_t action)
{
    switch (action) {
    case SIG_ACTION_PASS:
        return 0;
    case SIG_ACTION_DROP:
        return 1;
    case SIG_ACTION_REJECT:
        return 2;
    default:
        return 3;
    }
}

/* Suricata's default rule order: action, then flowbits (rules that only
 * set, then those that set and read, then those that only read, then the
 * rest, so a bit set on a packet is seen by the rules that check it on the
 * same packet), then priority, then sid. */
static int rule_order(const void *a, const void *b)
{
    const struct sig_rule *x = a, *y = b;
    const int ax = action_rank(x->action), ay = action_rank(y->action);
    if (ax != ay)
        return ax < ay ? -1 : 1;
    const int fx = sig_flowbits_order_class(x), fy = sig_flowbits_order_class(y);
    if (fx != fy)
        return fx > fy ? -1 : 1;
    if (x->meta.priority != y->meta.priority)
        return x->meta.priority < y->meta.priority ? -1 : 1;
    if (x->meta.sid != y->meta.sid)
        return x->meta.sid < y->meta.sid ? -1 : 1;
    if (x->meta.gid != y->meta.gid)
        return x->meta.gid < y->meta.gid ? -1 : 1;
    return (int)x->response_twin - (int)y->response_twin;
}

static double elapsed_ms(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* A rule whose fast pattern belongs in the packet databases. */
static bool packet_pattern(const struct sig_rule *r)
{
    return r->fast >= 0 && r->inspect != SIG_INSPECT_STREAM && r->app_stage == 0;
}

static const uint8_t dir_flags[SIG_DIR_COUNT] = {
    [SIG_DIR_NONE] = 0,
    [SIG_DIR_TOSERVER] = VG_DF_TOSERVER,
    [SIG_DIR_TOCLIENT] = VG_DF_TOCLIENT,
};

/* A packet rule group: which packets scan it. */
struct group_key {
    enum sig_pkt_class cls;
    enum sig_pkt_dir dir;
    bool stream;
};

/* Whether rule_matches can accept the rule for some packet of the group:
 * the groups only pre-filter, every test still runs on the candidate. */
static bool rule_in_group(const struct sig_rule *r, const struct group_key *k)
{
    if (r->app_stage != 0 || r->inspect == SIG_INSPECT_STREAM || r->event != NULL ||
        r->detector != 0)
        return false;
    bool fits = r->proto == SIG_PROTO_IP || (r->proto == SIG_PROTO_TCP && k->cls == SIG_PKT_TCP) ||
                (r->proto == SIG_PROTO_UDP && k->cls == SIG_PKT_UDP) ||
                (r->proto == SIG_PROTO_ICMP && k->cls == SIG_PKT_ICMP);
    if (!fits)
        return false;
    const uint8_t dir_bits = VG_DF_TOSERVER | VG_DF_TOCLIENT;
    if (((dir_flags[k->dir] ^ r->flow_value) & r->flow_mask & dir_bits) != 0)
        return false;
    /* A TCP payload the stream covers is left to the rules the stream
     * inspects. */
    return !(k->stream && r->inspect != SIG_INSPECT_PACKET);
}

static bool pick_group(const struct sig_rule *r, const void *arg)
{
    return packet_pattern(r) && rule_in_group(r, arg);
}

bool sig_rule_is_ip_only(const struct sig_rule *r)
{
    return r->ncontents == 0 && r->tests == 0 && r->flow_mask == 0 && r->flowbits == NULL &&
           r->event == NULL && r->app_proto == 0 && r->app_stage == 0 && r->sport.any &&
           r->dport.any && r->action != SIG_ACTION_PASS;
}

/* The rules of one group without a fast pattern. */
static int build_always_list(struct vg_ruleset *rs, struct sig_pkt_group *g,
                             const struct group_key *k)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < rs->nrules; i++)
        n += rs->rules[i].fast < 0 && rule_in_group(&rs->rules[i], k);
    g->always = malloc((n ? n : 1) * sizeof(struct sig_always));
    if (g->always == NULL)
        return -1;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (r->fast >= 0 || !rule_in_group(r, k))
            continue;
        struct sig_always entry = {
            .rule = i, .dport_lo = 0, .dport_hi = 65535, .ip_only = sig_rule_is_ip_only(r)};
        if (!r->bidir && !r->dport.any && r->dport.n == 1) {
            entry.dport_lo = r->dport.r[0].lo;
            entry.dport_hi = r->dport.r[0].hi;
        }
        g->always[g->nalways++] = entry;
    }
    return 0;
}

/* The fast-pattern rules of a group, one bit per rule; returns whether
 * there is any. Groups with the same rules share one database. */
static bool group_members(const struct vg_ruleset *rs, const struct group_key *k, uint64_t *bits,
                          uint32_t nwords)
{
    bool any = false;
    memset(bits, 0, nwords * sizeof(*bits));
    for (uint32_t i = 0; i < rs->nrules; i++) {
        if (pick_group(&rs->rules[i], k)) {
            bits[i >> 6] |= 1ull << (i & 63);
            any = true;
        }
    }
    return any;
}

/* One group per protocol class and direction, and for TCP per stream
 * coverage; a packet scans the one database of its group. Classes other
 * than TCP use their stream-free group for both slots. */
static int build_packet_groups(struct vg_ruleset *rs, FILE *err)
{
    rs->stats.patterns = 0;
    rs->stats.no_pattern_rules = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        rs->stats.patterns += packet_pattern(&rs->rules[i]);
        const struct sig_rule *r = &rs->rules[i];
        /* event and detector rules are not packet rules */
        const bool other_path = r->event != NULL || r->detector != 0;
        rs->stats.no_pattern_rules += r->fast < 0 && !other_path;
        rs->stats.packet_rules +=
            r->app_stage == 0 && !other_path && r->inspect != SIG_INSPECT_STREAM;
    }
    rs->stats.db_bytes = 0;
    const uint32_t nwords = (rs->nrules + 63) / 64 + 1; /* never 0 */
    uint64_t *members = calloc((size_t)SIG_PKT_GROUP_COUNT * nwords, sizeof(uint64_t));
    if (members == NULL)
        goto oom;
    for (int c = 0; c < SIG_PKT_CLASS_COUNT; c++) {
        for (int d = 0; d < SIG_DIR_COUNT; d++) {
            for (int st = 0; st < (c == SIG_PKT_TCP ? 2 : 1); st++) {
                const struct group_key k = {(enum sig_pkt_class)c, (enum sig_pkt_dir)d, st == 1};
                const uint32_t gi = sig_pkt_group_index(k.cls, k.dir, k.stream);
                struct sig_pkt_group *g = &rs->pkt[gi];
                if (build_always_list(rs, g, &k) != 0)
                    goto oom;
                uint64_t *bits = members + (size_t)gi * nwords;
                if (!group_members(rs, &k, bits, nwords))
                    continue;
                for (uint32_t o = 0; o < gi && g->db == NULL; o++) {
                    if (rs->pkt[o].db != NULL &&
                        memcmp(members + (size_t)o * nwords, bits, nwords * sizeof(*bits)) == 0)
                        g->db = rs->pkt[o].db;
                }
                if (g->db != NULL)
                    continue;
                if (sig_compile_fast_patterns(rs, pick_group, &k, HS_MODE_BLOCK,
                                              HS_FLAG_SINGLEMATCH, "packet", &g->db,
                                              &rs->stats.db_bytes, err) != 0) {
                    free(members);
                    return -1;
                }
                rs->pkt_db[rs->npkt_db++] = g->db;
            }
        }
    }
    rs->stats.packet_databases = rs->npkt_db;
    free(members);
    return 0;
oom:
    free(members);
    if (err != NULL)
        fprintf(err, "rules: out of memory\n");
    return -1;
}

/* A literal as a Hyperscan regex: every byte as \xHH. NULL when out of memory. */
static char *literal_as_regex(const uint8_t *pat, uint32_t len)
{
    char *out = malloc((size_t)len * 4 + 1);
    if (out == NULL)
        return NULL;
    for (uint32_t i = 0; i < len; i++)
        snprintf(out + 4 * (size_t)i, 5, "\\x%02x", pat[i]);
    out[(size_t)len * 4] = '\0';
    return out;
}

/* Compiles fast patterns among which some are pcre prefilters: one regex
 * database, the literals escaped. */
static hs_error_t compile_with_regexes(const struct vg_ruleset *rs, const char **exprs,
                                       unsigned *flags, const unsigned *ids, uint32_t n,
                                       unsigned mode, hs_database_t **db, hs_compile_error_t **cerr)
{
    char **owned = calloc(n, sizeof(*owned));
    hs_error_t ret = HS_NOMEM;
    if (owned == NULL)
        return ret;
    for (uint32_t k = 0; k < n; k++) {
        const struct sig_rule *r = &rs->rules[ids[k]];
        const struct sig_content *c = &r->contents[r->fast];
        if (c->kind == SIG_ELEM_PCRE) {
            unsigned pf;
            exprs[k] = sig_pcre_hs_expression(c, &pf);
            flags[k] |= pf;
        } else {
            const uint32_t skip = sig_prefilter_skip(c); /* as the literal database does */
            owned[k] = literal_as_regex(c->pattern + skip, c->len - skip);
            if (owned[k] == NULL)
                goto out;
            exprs[k] = owned[k];
        }
    }
    ret = hs_compile_multi(exprs, flags, ids, n, mode, NULL, db, cerr);
out:
    for (uint32_t k = 0; k < n; k++)
        free(owned[k]);
    free(owned);
    return ret;
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
    bool regexes = false; /* a pcre fast pattern: the database is compiled as regexes */
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (!pick(r, arg))
            continue;
        const struct sig_content *c = &r->contents[r->fast];
        regexes |= c->kind == SIG_ELEM_PCRE;
        /* a content of a transformed buffer prefilters the raw buffer; a
         * pcre has no literal (compile_with_regexes takes its expression) */
        const uint32_t skip = c->pattern != NULL ? sig_prefilter_skip(c) : 0;
        exprs[k] = c->pattern != NULL ? (const char *)c->pattern + skip : NULL;
        lens[k] = c->len - skip;
        /* a lower-cased buffer's pattern finds every case in the raw one */
        const bool caseless =
            (c->flags & SIG_CONTENT_NOCASE) || (c->transform & SIG_XFORM_LOWERCASE);
        flags[k] = pattern_flags | (caseless ? HS_FLAG_CASELESS : 0);
        ids[k] = i;
        k++;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    const hs_error_t rc =
        regexes ? compile_with_regexes(rs, exprs, flags, ids, n, mode, &db, &cerr)
                : hs_compile_lit_multi(exprs, flags, ids, lens, n, mode, NULL, &db, &cerr);
    if (rc != HS_SUCCESS) {
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

/* Per application buffer: its database's size and fast patterns. */
static void app_buffer_stats(struct vg_ruleset *rs)
{
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (r->app_stage != 0 && r->fast >= 0 && r->contents[r->fast].buffer < VG_BUF_COUNT)
            rs->stats.app_buf_patterns[r->contents[r->fast].buffer]++;
    }
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        size_t size = 0;
        if (rs->app_db[b] != NULL && hs_database_size(rs->app_db[b], &size) == HS_SUCCESS)
            rs->stats.app_buf_bytes[b] = size;
    }
}

static int skip_reason_order(const void *a, const void *b)
{
    const struct vg_skip_reason *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->reason, y->reason);
}

/* The loader's skip causes move to the rule set, most frequent first. */
static void sig_skip_reasons_take(struct vg_ruleset *rs, struct sig_loader *ld)
{
    rs->skip_reasons = ld->skip_reasons;
    rs->nskip_reasons = ld->nskip_reasons;
    ld->skip_reasons = NULL;
    ld->nskip_reasons = ld->skip_reasons_cap = 0;
    if (rs->nskip_reasons > 1)
        qsort(rs->skip_reasons, rs->nskip_reasons, sizeof(rs->skip_reasons[0]), skip_reason_order);
}

uint32_t vg_ruleset_skip_reasons(const struct vg_ruleset *rs, const struct vg_skip_reason **out)
{
    *out = rs->skip_reasons;
    return rs->nskip_reasons;
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
        .pcres = &rs->pcres,
    };
    if (ok) {
        for (int i = 0; i < opts->nfiles; i++)
            sig_load_file(&ld, opts->files[i]);
    }
    sig_flowbits_check_usage(&ld);
    rs->stats.rules_skipped = ld.skipped;
    rs->stats.rules_dormant = ld.dormant;
    sig_skip_reasons_take(rs, &ld);
    rs->stats.files_failed += ld.files_failed;
    if (ld.out_of_memory && opts->err != NULL)
        fprintf(opts->err, "rules: out of memory\n");
    ok = ok && ld.files_failed == 0 && !ld.out_of_memory;

    /* The rule array moves to the rule set; sorted, an index is a rank. */
    rs->rules = ld.rules;
    rs->nrules = ld.nrules;
    ld.rules = NULL;
    rs->datasets = ld.datasets;
    rs->iprep = ld.iprep;
    ld.datasets = NULL;
    ld.iprep = NULL;
    sig_loader_release(&ld);
    if (rs->nrules > 1)
        qsort(rs->rules, rs->nrules, sizeof(rs->rules[0]), rule_order);
    rs->stats.rules_loaded = 0;
    for (uint32_t i = 0; i < rs->nrules; i++)
        rs->stats.rules_loaded += !rs->rules[i].response_twin;

    struct timespec tdb;
    clock_gettime(CLOCK_MONOTONIC, &tdb);
    if (ok && build_packet_groups(rs, opts->err) != 0)
        ok = false;
    rs->stats.packet_compile_ms = elapsed_ms(&tdb);
    clock_gettime(CLOCK_MONOTONIC, &tdb);
    if (ok && sig_stream_prepare(rs, opts->err) != 0)
        ok = false;
    rs->stats.stream_compile_ms = elapsed_ms(&tdb);
    clock_gettime(CLOCK_MONOTONIC, &tdb);
    if (ok && sig_app_prepare(rs, opts->err) != 0)
        ok = false;
    rs->stats.app_compile_ms = elapsed_ms(&tdb);
    if (ok)
        app_buffer_stats(rs);
    if (ok && sig_event_prepare(rs, opts->err) != 0)
        ok = false;
    if (ok)
        sig_detector_prepare(rs);
    if (ok && sig_threshold_prepare(rs, opts->cfg, opts->threshold_file, opts->err) != 0)
        ok = false;
    if (ok && sig_xbits_prepare(rs, opts->cfg, opts->err) != 0)
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
    for (uint32_t i = 0; i < rs->npkt_db; i++)
        hs_free_database(rs->pkt_db[i]);
    hs_free_database(rs->stream_db);
    for (int g = 0; g < SIG_PKT_GROUP_COUNT; g++)
        free(rs->pkt[g].always);
    sig_app_release(rs);
    sig_event_release(rs);
    free(rs->skip_reasons);
    sig_threshold_table_free(rs->thresholds);
    sig_xbits_table_free(rs->xbits);
    free(rs->rules);
    sig_datasets_free(rs->datasets);
    sig_iprep_free(rs->iprep);
    sig_class_release(&rs->classes);
    sig_pcre_release(rs->pcres);
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
    ctx->xform = malloc(SIG_TRANSFORM_MAX);
    if (ctx->cand == NULL || ctx->seen == NULL || ctx->xform == NULL ||
        (rs->stream_db != NULL && hs_alloc_scratch(rs->stream_db, &ctx->scratch) != HS_SUCCESS)) {
        vg_detect_ctx_free(ctx);
        return NULL;
    }
    for (uint32_t i = 0; i < rs->npkt_db; i++) {
        if (hs_alloc_scratch(rs->pkt_db[i], &ctx->scratch) != HS_SUCCESS) {
            vg_detect_ctx_free(ctx);
            return NULL;
        }
    }
    for (int b = 0; b < VG_BUF_COUNT; b++) {
        if (rs->app_db[b] != NULL && hs_alloc_scratch(rs->app_db[b], &ctx->scratch) != HS_SUCCESS) {
            vg_detect_ctx_free(ctx);
            return NULL;
        }
    }
    if (sig_pcre_ctx_init(ctx) != 0) {
        vg_detect_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

void vg_detect_ctx_free(struct vg_detect_ctx *ctx)
{
    if (ctx == NULL)
        return;
    sig_stream_pool_free(ctx->streams);
    sig_pcre_ctx_free(ctx);
    hs_free_scratch(ctx->scratch);
    free(ctx->cand);
    free(ctx->seen);
    free(ctx->xform);
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
    if (sig_addr_set_has(&r->src, p->family, &p->src) &&
        sig_addr_set_has(&r->dst, p->family, &p->dst) && sig_port_set_has(&r->sport, p->sport) &&
        sig_port_set_has(&r->dport, p->dport))
        return true;
    return r->bidir && sig_addr_set_has(&r->src, p->family, &p->dst) &&
           sig_addr_set_has(&r->dst, p->family, &p->src) && sig_port_set_has(&r->sport, p->dport) &&
           sig_port_set_has(&r->dport, p->sport);
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

/* Whether the content's pattern is at p. */
static inline bool content_at(const struct sig_content *c, const uint8_t *p)
{
    if (!(c->flags & SIG_CONTENT_NOCASE))
        return memcmp(p, c->pattern, c->len) == 0;
    for (uint32_t k = 0; k < c->len; k++) {
        if (sig_lower(p[k]) != c->pattern[k])
            return false;
    }
    return true;
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
 * relative to prev_end, a negated content must be absent from its window,
 * an endswith content must end at the buffer's end. When a later element
 * that depends on where this content matched fails (SIG_CONTENT_WITHIN_NEXT),
 * this content is retried at its next occurrence. The fast pattern content
 * only matches at in->anchor when that is set. Returns 1 on a match, 0 on no
 * match (the caller may retry), -1 to give up. */
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
            if (in->anchor >= start && in->anchor + c->len <= end &&
                (!(c->flags & SIG_CONTENT_ENDSWITH) || in->anchor + c->len == in->end))
                found = in->anchor;
        } else if (c->flags & SIG_CONTENT_ENDSWITH) {
            /* the one place it may match: against the buffer's end */
            const int64_t at = in->end - c->len;
            if (limit >= in->end && at >= start && content_at(c, in->data + (at - in->base)))
                found = at;
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
        /* Only a later element that depends on where this one matched (a
         * within, a relative endswith or element) may do better elsewhere. */
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
        if ((r->tests & SIG_TEST_DSIZE) && !sig_uint_test_holds(&r->dsize, p->payload_len))
            return false;
        if (r->tests & (SIG_TEST_ITYPE | SIG_TEST_ICODE)) {
            if ((p->proto != 1 && p->proto != 58) || !(p->flags & VG_PKT_HAS_L4))
                return false;
            if ((r->tests & SIG_TEST_ITYPE) && !sig_uint_test_holds(&r->itype, p->icmp_type))
                return false;
            if ((r->tests & SIG_TEST_ICODE) && !sig_uint_test_holds(&r->icode, p->icmp_code))
                return false;
        }
        if (r->tests & SIG_TEST_TCPFLAGS) {
            if (p->proto != 6 || !(p->flags & VG_PKT_HAS_L4) || !tcp_flags_match(r, p->tcp_flags))
                return false;
        }
    }
    if (!endpoints_match(r, p))
        return false;
    return r->naddr_tests == 0 || sig_addr_tests_match(r, p);
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
    if (!sig_rule_header_matches(r, p, flow_flags) || !sig_rule_state_ok(ctx, r, p))
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

static inline enum sig_pkt_dir packet_dir(uint32_t flow_flags)
{
    if (flow_flags & VG_DF_TOSERVER)
        return SIG_DIR_TOSERVER;
    return (flow_flags & VG_DF_TOCLIENT) ? SIG_DIR_TOCLIENT : SIG_DIR_NONE;
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

    const struct sig_pkt_group *g = &rs->pkt[sig_pkt_group_index(
        packet_class(p), packet_dir(flow_flags), (flow_flags & VG_DF_STREAM) != 0)];
    if (g->db != NULL && p->payload_len > 0 && p->payload != NULL)
        hs_scan(g->db, (const char *)p->payload, p->payload_len, 0, ctx->scratch, on_fast_pattern,
                ctx);

    /* IP-only rules see the first packet of each direction of a flow. */
    bool ip_only_done = false;
    if (ctx->flow != NULL && (flow_flags & (VG_DF_TOSERVER | VG_DF_TOCLIENT))) {
        const uint8_t dir_bit = (flow_flags & VG_DF_TOCLIENT) ? 2u : 1u;
        ip_only_done = (ctx->flow->ip_only_dirs & dir_bit) != 0;
        ctx->flow->ip_only_dirs |= dir_bit;
    }
    const struct sig_always *always = g->always;
    const uint32_t nalways = g->nalways;
    const bool has_ports = packet_has_ports(p);
    for (uint32_t i = 0; i < nalways; i++) {
        if (has_ports && (p->dport < always[i].dport_lo || p->dport > always[i].dport_hi))
            continue;
        if (always[i].ip_only && ip_only_done)
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
