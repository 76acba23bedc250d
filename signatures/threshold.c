/* Thresholds: the threshold and detection_filter keywords, Suricata's
 * threshold file (suppress, threshold, event_filter), and the table that
 * counts matches for them.
 *
 * Semantics are Suricata's. A window opens at the first match of a key and
 * lasts `seconds` (a match at open + seconds is in the next window):
 *   limit N      the first N matches of a window alert;
 *   threshold N  every N-th match of a window alerts (the count restarts);
 *   both N       the N-th match of a window alerts, the others do not;
 *   detection_filter N  every match after the N-th of a window alerts.
 * Time is the packet's timestamp.
 *
 * The tracking table is shared by all workers (flows of one host go to
 * different workers) and takes no lock. It is an open-addressing array of
 * slots allocated once at rule load; a slot holds a 64-bit key (a hash of
 * rule, track kind and address(es) or flow id, never 0) and a state word
 * packing the end of the current window (milliseconds since the epoch, 42
 * bits) and the window's match count (22 bits), updated by compare-and-swap
 * loops. A slot whose window has ended is free for any key: an ended window
 * counts exactly as no entry at all. When none of the PROBE_LIMIT slots of
 * a key holds it or is free, the match alerts (fail open) and table_full
 * counts it.
 *
 * What the lock-free design accepts:
 *  - window edges are resolved to the millisecond;
 *  - two keys whose 64-bit hashes collide share one count;
 *  - when a slot whose window ended is taken over by a new key while a
 *    match of its old key is being counted at that very moment, that one
 *    match may be counted under the new key, and two workers claiming
 *    different free slots for the same new key at the same moment may
 *    start two counts for it (one of them is found first from then on);
 *  - counts saturate at SIG_THRESHOLD_COUNT_MAX (the parser refuses larger
 *    counts). */
#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/config.h"

#include "rule_int.h"

#define COUNT_BITS            22
#define COUNT_MASK            ((UINT64_C(1) << COUNT_BITS) - 1)
#define END_MAX               ((UINT64_C(1) << (64 - COUNT_BITS)) - 1)
#define PROBE_LIMIT           16u
#define CLAIM_ATTEMPTS        4
#define DEFAULT_TABLE_ENTRIES 65536u
#define MAX_TABLE_ENTRIES     (1u << 30)
#define THRESHOLD_LINE_MAX    8192

/* ---- The tracking table ----------------------------------------------------- */

struct threshold_slot {
    _Atomic uint64_t key;   /* 0: never used */
    _Atomic uint64_t state; /* window end (ms) << COUNT_BITS | count */
};

struct sig_threshold_table {
    uint64_t mask;
    struct threshold_slot *slots;
    _Alignas(VG_CACHE_LINE) _Atomic uint64_t full;
};

void *sig_slots_new(uint64_t want, uint64_t max, size_t slot_size, uint64_t *mask)
{
    uint64_t n = 1;
    while (n < want && n < max)
        n <<= 1;
    void *slots = calloc(n, slot_size);
    if (slots != NULL)
        *mask = n - 1;
    return slots;
}

struct sig_threshold_table *sig_threshold_table_new(uint32_t max_entries)
{
    struct sig_threshold_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->slots = sig_slots_new(max_entries, MAX_TABLE_ENTRIES, sizeof(*t->slots), &t->mask);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void sig_threshold_table_free(struct sig_threshold_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t);
}

uint32_t sig_threshold_table_slots(const struct sig_threshold_table *t)
{
    return (uint32_t)(t->mask + 1);
}

uint64_t sig_threshold_table_full(const struct sig_threshold_table *t)
{
    return atomic_load_explicit(&t->full, memory_order_relaxed);
}

static inline uint64_t state_end(uint64_t st)
{
    return st >> COUNT_BITS;
}

static inline uint64_t state_make(uint64_t end, uint64_t count)
{
    return end << COUNT_BITS | (count > COUNT_MASK ? COUNT_MASK : count);
}

/* One match on a slot whose window ended (or a fresh one): Suricata's
 * first match of a key. */
static bool first_match(const struct sig_threshold *th, uint64_t now_ms, uint64_t *next)
{
    uint64_t end = now_ms + (uint64_t)th->seconds * 1000u;
    if (end > END_MAX)
        end = END_MAX;
    *next = state_make(end, 1);
    switch (th->type) {
    case SIG_THRESHOLD_LIMIT:
        return true;
    case SIG_THRESHOLD_THRESHOLD:
    case SIG_THRESHOLD_BOTH:
        return th->count == 1;
    default:
        return false;
    }
}

/* One more match inside the slot's window. */
static bool next_match(const struct sig_threshold *th, uint64_t st, uint64_t *next)
{
    const uint64_t end = state_end(st);
    uint64_t count = (st & COUNT_MASK) + 1;
    bool alert;
    switch (th->type) {
    case SIG_THRESHOLD_LIMIT:
        alert = count <= th->count;
        break;
    case SIG_THRESHOLD_THRESHOLD:
        alert = count >= th->count;
        if (alert)
            count = 0;
        break;
    case SIG_THRESHOLD_BOTH:
        alert = count == th->count;
        break;
    default: /* detection_filter */
        alert = count > th->count;
        break;
    }
    *next = state_make(end, count);
    return alert;
}

static bool slot_count(struct threshold_slot *s, const struct sig_threshold *th, uint64_t now_ms)
{
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
    for (;;) {
        uint64_t next;
        const bool alert =
            now_ms < state_end(st) ? next_match(th, st, &next) : first_match(th, now_ms, &next);
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return alert;
    }
}

bool sig_threshold_table_hit(struct sig_threshold_table *t, uint64_t key,
                             const struct sig_threshold *th, uint64_t ts_us)
{
    const uint64_t now_ms = ts_us / 1000u;
    if (key == 0)
        key = 1;
    for (int attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        struct threshold_slot *reusable = NULL;
        uint64_t reusable_key = 0;
        for (uint32_t i = 0; i < PROBE_LIMIT; i++) {
            struct threshold_slot *s = &t->slots[(key + i) & t->mask];
            uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
            if (k == key)
                return slot_count(s, th, now_ms);
            if (k == 0) {
                /* Keys are never cleared, so the key is not further on. */
                if (reusable == NULL) {
                    reusable = s;
                    reusable_key = 0;
                }
                break;
            }
            if (reusable == NULL &&
                now_ms >= state_end(atomic_load_explicit(&s->state, memory_order_acquire))) {
                reusable = s;
                reusable_key = k;
            }
        }
        if (reusable == NULL)
            break;
        uint64_t expected = reusable_key;
        if (atomic_compare_exchange_strong_explicit(&reusable->key, &expected, key,
                                                    memory_order_acq_rel, memory_order_acquire) ||
            expected == key)
            return slot_count(reusable, th, now_ms);
        /* Another key took the slot first: look again. */
    }
    atomic_fetch_add_explicit(&t->full, 1, memory_order_relaxed);
    return true;
}

/* ---- Suppressions ------------------------------------------------------------- */

static bool suppress_addr(const struct sig_suppress *sp, const struct vg_ip_addr *a, uint8_t family)
{
    return sig_addr_set_has(&sp->addrs, family, a);
}

static bool suppressed(const struct sig_suppress *sp, const struct vg_packet *p)
{
    switch (sp->track) {
    case SIG_SUPPRESS_SRC:
        return suppress_addr(sp, &p->src, p->family);
    case SIG_SUPPRESS_DST:
        return suppress_addr(sp, &p->dst, p->family);
    case SIG_SUPPRESS_EITHER:
        return suppress_addr(sp, &p->src, p->family) || suppress_addr(sp, &p->dst, p->family);
    default:
        return true;
    }
}

/* ---- The check after a match ----------------------------------------------------- */

bool sig_threshold_allows(struct vg_detect_ctx *ctx, const struct sig_rule *r,
                          const struct vg_packet *p)
{
    const struct sig_threshold *th = r->threshold;
    for (uint32_t i = 0; i < th->nsuppress; i++) {
        if (p == NULL ? th->suppress[i]->track == SIG_SUPPRESS_ALL : suppressed(th->suppress[i], p))
            return false;
    }
    if (th->type == SIG_THRESHOLD_NONE || ctx->rs->thresholds == NULL)
        return true;
    /* threshold count 1 alerts on every match: Suricata keeps no entry. */
    if (th->type == SIG_THRESHOLD_THRESHOLD && th->count == 1)
        return true;
    if (th->track == SIG_TRACK_FLOW && ctx->flow == NULL)
        return false; /* as Suricata: by_flow needs a flow */
    if (p == NULL)
        return true;

    uint64_t h = SIG_FNV64_OFFSET;
    const uint32_t id[3] = {r->meta.gid, r->meta.sid, th->track};
    h = sig_fnv64(h, (const uint8_t *)id, sizeof(id));
    switch (th->track) {
    case SIG_TRACK_SRC:
        h = sig_fnv64(h, p->src.b, sizeof(p->src.b));
        break;
    case SIG_TRACK_DST:
        h = sig_fnv64(h, p->dst.b, sizeof(p->dst.b));
        break;
    case SIG_TRACK_BOTH:
        h = sig_fnv64_addr_pair(h, &p->src, &p->dst);
        break;
    case SIG_TRACK_FLOW:
        h = sig_fnv64(h, (const uint8_t *)&ctx->flow_id, sizeof(ctx->flow_id));
        break;
    default:
        break;
    }
    return sig_threshold_table_hit(ctx->rs->thresholds, sig_mix64(h), th, p->ts_us);
}

uint64_t vg_ruleset_threshold_table_full(const struct vg_ruleset *rs)
{
    return rs->thresholds != NULL ? sig_threshold_table_full(rs->thresholds) : 0;
}

/* ---- "name value, name value" lists ----------------------------------------------- */

enum item {
    ITEM_TYPE = 0,
    ITEM_TRACK,
    ITEM_COUNT,
    ITEM_SECONDS,
    ITEM_GEN_ID,
    ITEM_SIG_ID,
    ITEM_IP,
    ITEM_COUNT_OF,
};

static const char *const item_names[ITEM_COUNT_OF] = {
    "type", "track", "count", "seconds", "gen_id", "sig_id", "ip",
};

struct items {
    const char *v[ITEM_COUNT_OF]; /* NULL: not given */
};

struct parse_err {
    char msg[SIG_ERR_MSG_LEN];
};

__attribute__((format(printf, 2, 3))) static int perr(struct parse_err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    return -1;
}

/* Splits text (modified in place) at the commas outside brackets into
 * "name value" items; allowed and required are masks of 1 << enum item. */
static int split_items(char *text, const char *what, uint32_t allowed, uint32_t required,
                       struct items *it, struct parse_err *e)
{
    memset(it, 0, sizeof(*it));
    char *p = text;
    for (;;) {
        char *start = p;
        int depth = 0;
        while (*p != '\0' && (*p != ',' || depth > 0)) {
            if (*p == '[')
                depth++;
            else if (*p == ']' && depth > 0)
                depth--;
            p++;
        }
        const bool last = *p == '\0';
        *p = '\0';
        char *item = sig_trim(start);
        char *val = item;
        while (*val != '\0' && !isspace((unsigned char)*val))
            val++;
        if (*val != '\0')
            *val++ = '\0';
        val = sig_trim(val);
        int k = -1;
        for (int i = 0; i < ITEM_COUNT_OF; i++) {
            if ((allowed & (1u << i)) && strcmp(item, item_names[i]) == 0)
                k = i;
        }
        if (k < 0)
            return perr(e, "%s: unknown option '%s'", what, item);
        if (*val == '\0')
            return perr(e, "%s: '%s' needs a value", what, item);
        if (it->v[k] != NULL)
            return perr(e, "%s: '%s' given twice", what, item);
        it->v[k] = val;
        if (last)
            break;
        p++;
    }
    for (int i = 0; i < ITEM_COUNT_OF; i++) {
        if ((required & (1u << i)) && it->v[i] == NULL)
            return perr(e, "%s: '%s' missing", what, item_names[i]);
    }
    return 0;
}

static const char *const type_names[] = {
    [SIG_THRESHOLD_LIMIT] = "limit",
    [SIG_THRESHOLD_THRESHOLD] = "threshold",
    [SIG_THRESHOLD_BOTH] = "both",
};

static const char *const track_names[] = {
    [SIG_TRACK_SRC] = "by_src",   [SIG_TRACK_DST] = "by_dst",   [SIG_TRACK_RULE] = "by_rule",
    [SIG_TRACK_BOTH] = "by_both", [SIG_TRACK_FLOW] = "by_flow",
};

/* type (unless detection_filter), track, count and seconds. */
static int fill_threshold(const struct items *it, const char *what, bool detection,
                          struct sig_threshold *th, struct parse_err *e)
{
    memset(th, 0, sizeof(*th));
    if (detection) {
        th->type = SIG_THRESHOLD_DETECTION;
    } else {
        for (size_t i = SIG_THRESHOLD_LIMIT; i < VG_ARRAY_SIZE(type_names); i++) {
            if (strcmp(it->v[ITEM_TYPE], type_names[i]) == 0)
                th->type = (uint8_t)i;
        }
        if (th->type == SIG_THRESHOLD_NONE)
            return perr(e, "%s: bad type '%s' (limit, threshold or both)", what, it->v[ITEM_TYPE]);
    }
    bool known = false;
    for (size_t i = 0; i < VG_ARRAY_SIZE(track_names); i++) {
        if (strcmp(it->v[ITEM_TRACK], track_names[i]) == 0) {
            th->track = (uint8_t)i;
            known = true;
        }
    }
    if (!known)
        return perr(e, "%s: bad track '%s' (by_src, by_dst, by_rule, by_both or by_flow)", what,
                    it->v[ITEM_TRACK]);
    const int64_t min_count = detection ? 1 : 0;
    int64_t count;
    if (!sig_parse_int(it->v[ITEM_COUNT], min_count, SIG_THRESHOLD_COUNT_MAX, &count))
        return perr(e, "%s: bad count '%s' (%lld to %u)", what, it->v[ITEM_COUNT],
                    (long long)min_count, SIG_THRESHOLD_COUNT_MAX);
    th->count = (uint32_t)count;
    int64_t seconds;
    if (!sig_parse_int(it->v[ITEM_SECONDS], detection ? 1 : 0, UINT32_MAX, &seconds))
        return perr(e, "%s: bad seconds '%s' (%d to 4294967295)", what, it->v[ITEM_SECONDS],
                    detection ? 1 : 0);
    th->seconds = (uint32_t)seconds;
    return 0;
}

/* ---- The keywords ------------------------------------------------------------------ */

int sig_kw_threshold(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    const bool detection = strcasecmp(o->kw, "detection_filter") == 0;
    if (!detection && strcasecmp(o->kw, "threshold") != 0)
        return 1;
    const struct sig_threshold *prev = b->r->threshold;
    if (prev != NULL) {
        const bool prev_detection = prev->type == SIG_THRESHOLD_DETECTION;
        if (detection && prev_detection)
            return sig_fail(rc, "at most one \"detection_filter\" is allowed per rule");
        if (!detection && !prev_detection)
            return sig_fail(rc, "multiple \"threshold\" options are not allowed in the same rule");
        return sig_fail(rc, "\"detection_filter\" and \"threshold\" are not allowed in the same "
                            "rule");
    }
    if (sig_need_value(rc, o) != 0)
        return -1;
    const char *what = detection ? "detection_filter" : "threshold";
    char *text = strdup(o->val);
    if (text == NULL)
        return sig_fail(rc, "out of memory");
    const uint32_t allowed = (detection ? 0u : 1u << ITEM_TYPE) | 1u << ITEM_TRACK |
                             1u << ITEM_COUNT | 1u << ITEM_SECONDS;
    struct items it;
    struct parse_err e;
    struct sig_threshold parsed;
    int ret = split_items(text, what, allowed, allowed, &it, &e);
    if (ret == 0)
        ret = fill_threshold(&it, what, detection, &parsed, &e);
    free(text);
    if (ret != 0)
        return sig_fail(rc, "%s", e.msg);
    struct sig_threshold *th = sig_arena_memdup(rc->ld->arena, &parsed, sizeof(parsed));
    if (th == NULL)
        return sig_fail(rc, "out of memory");
    b->r->threshold = th;
    return 0;
}

/* ---- Address lists of suppress lines ---------------------------------------------- */

/* Parses an ip value into sp's address set (in the arena), as a rule
 * header's address is parsed: the same variables, negations and lists, and
 * a group set to "none" leaves the set empty (the line suppresses nothing
 * until the group is configured). */
static int parse_ip(struct sig_arena *a, const struct vg_config *cfg, const char *text,
                    struct sig_suppress *sp, struct parse_err *e)
{
    char why[sizeof(e->msg)];
    bool waits;
    if (sig_eval_address_expr(cfg, a, text, "ip", &sp->addrs, &waits, why, sizeof(why)) != 0)
        return perr(e, "suppress: %s", why);
    return 0;
}

/* ---- The threshold file ------------------------------------------------------------ */

enum directive_kind { DIRECTIVE_SUPPRESS, DIRECTIVE_THRESHOLD };

struct directive {
    uint8_t kind;
    uint32_t gid, sid;
    struct sig_threshold th;        /* DIRECTIVE_THRESHOLD */
    const struct sig_suppress *sup; /* DIRECTIVE_SUPPRESS, in the arena */
};

struct directives {
    struct directive *v;
    uint32_t n, cap;
};

static int parse_id(const char *what, const char *name, const char *v, uint32_t *out,
                    struct parse_err *e)
{
    if (!sig_parse_u32(v, out))
        return perr(e, "%s: bad %s '%s'", what, name, v);
    return 0;
}

/* One directive line (modified in place). */
static int parse_directive(char *line, struct sig_arena *a, const struct vg_config *cfg,
                           struct directive *d, struct parse_err *e)
{
    char *rest = line;
    while (*rest != '\0' && !isspace((unsigned char)*rest))
        rest++;
    if (*rest != '\0')
        *rest++ = '\0';
    const char *kw = line;
    memset(d, 0, sizeof(*d));
    struct items it;
    if (strcmp(kw, "rate_filter") == 0)
        return perr(e, "rate_filter is not supported: it changes rule actions, which needs "
                       "an inline sensor");
    if (strcmp(kw, "suppress") == 0) {
        const uint32_t allowed =
            1u << ITEM_GEN_ID | 1u << ITEM_SIG_ID | 1u << ITEM_TRACK | 1u << ITEM_IP;
        const uint32_t required = 1u << ITEM_GEN_ID | 1u << ITEM_SIG_ID;
        if (split_items(rest, kw, allowed, required, &it, e) != 0 ||
            parse_id(kw, "gen_id", it.v[ITEM_GEN_ID], &d->gid, e) != 0 ||
            parse_id(kw, "sig_id", it.v[ITEM_SIG_ID], &d->sid, e) != 0)
            return -1;
        struct sig_suppress sp;
        memset(&sp, 0, sizeof(sp));
        if (it.v[ITEM_TRACK] != NULL && it.v[ITEM_IP] == NULL)
            return perr(e, "suppress: 'track' needs 'ip'");
        if (it.v[ITEM_IP] != NULL && it.v[ITEM_TRACK] == NULL)
            return perr(e, "suppress: 'ip' needs 'track'");
        if (it.v[ITEM_TRACK] != NULL) {
            const char *t = it.v[ITEM_TRACK];
            if (strcmp(t, "by_src") == 0)
                sp.track = SIG_SUPPRESS_SRC;
            else if (strcmp(t, "by_dst") == 0)
                sp.track = SIG_SUPPRESS_DST;
            else if (strcmp(t, "by_either") == 0)
                sp.track = SIG_SUPPRESS_EITHER;
            else
                return perr(e, "suppress: bad track '%s' (by_src, by_dst or by_either)", t);
            if (parse_ip(a, cfg, it.v[ITEM_IP], &sp, e) != 0)
                return -1;
        }
        d->kind = DIRECTIVE_SUPPRESS;
        d->sup = sig_arena_memdup(a, &sp, sizeof(sp));
        return d->sup != NULL ? 0 : perr(e, "out of memory");
    }
    if (strcmp(kw, "threshold") == 0 || strcmp(kw, "event_filter") == 0) {
        const uint32_t allowed = 1u << ITEM_GEN_ID | 1u << ITEM_SIG_ID | 1u << ITEM_TYPE |
                                 1u << ITEM_TRACK | 1u << ITEM_COUNT | 1u << ITEM_SECONDS;
        if (split_items(rest, kw, allowed, allowed, &it, e) != 0 ||
            parse_id(kw, "gen_id", it.v[ITEM_GEN_ID], &d->gid, e) != 0 ||
            parse_id(kw, "sig_id", it.v[ITEM_SIG_ID], &d->sid, e) != 0 ||
            fill_threshold(&it, kw, false, &d->th, e) != 0)
            return -1;
        d->kind = DIRECTIVE_THRESHOLD;
        return 0;
    }
    return perr(e, "unknown directive '%s' (suppress, threshold, event_filter or rate_filter)", kw);
}

/* Reads the file into ds; bad lines are reported on err and counted. */
static int read_threshold_file(const char *path, struct sig_arena *a, const struct vg_config *cfg,
                               FILE *err, struct directives *ds, uint32_t *errors)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (err != NULL)
            fprintf(err, "%s: cannot open the threshold file\n", path);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    char joined[THRESHOLD_LINE_MAX];
    size_t jlen = 0;
    uint32_t lineno = 0, first_line = 0;
    int ret = 0;
    while (getline(&line, &cap, f) != -1) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL)
            *hash = '\0';
        char *t = sig_trim(line);
        size_t n = strlen(t);
        const bool more = n > 0 && t[n - 1] == '\\';
        if (more)
            t[--n] = '\0';
        if (jlen == 0)
            first_line = lineno;
        if (jlen + n + 2 > sizeof(joined)) {
            if (err != NULL)
                fprintf(err, "%s:%u: line too long\n", path, first_line);
            (*errors)++;
            jlen = 0;
            continue;
        }
        memcpy(joined + jlen, t, n);
        jlen += n;
        joined[jlen++] = ' ';
        joined[jlen] = '\0';
        if (more)
            continue;
        char *text = sig_trim(joined);
        jlen = 0;
        if (*text == '\0')
            continue;
        struct directive d;
        struct parse_err e;
        if (parse_directive(text, a, cfg, &d, &e) != 0) {
            if (err != NULL)
                fprintf(err, "%s:%u: %s\n", path, first_line, e.msg);
            (*errors)++;
            continue;
        }
        if (ds->n == ds->cap) {
            uint32_t ncap = ds->cap ? ds->cap * 2 : 16;
            struct directive *v = realloc(ds->v, ncap * sizeof(*v));
            if (v == NULL) {
                ret = -1;
                break;
            }
            ds->v = v;
            ds->cap = ncap;
        }
        ds->v[ds->n++] = d;
    }
    free(line);
    fclose(f);
    if (ret != 0 && err != NULL)
        fprintf(err, "%s: out of memory\n", path);
    return ret;
}

/* Whether a directive names the rule: sig_id 0 with gen_id 0 is every
 * rule, sig_id 0 with gen_id G every rule of generator G. */
static bool directive_applies(const struct directive *d, const struct sig_rule *r)
{
    if (d->sid == 0)
        return d->gid == 0 || d->gid == r->meta.gid;
    return d->sid == r->meta.sid && d->gid == r->meta.gid;
}

/* Where a rule's threshold comes from; a higher rank overrides a lower. */
enum threshold_rank { RANK_NONE = 0, RANK_GLOBAL, RANK_KEYWORD, RANK_SPECIFIC };

static int apply_directives(struct vg_ruleset *rs, const struct directives *ds)
{
    for (uint32_t i = 0; i < rs->nrules; i++) {
        struct sig_rule *r = &rs->rules[i];
        struct sig_threshold th;
        memset(&th, 0, sizeof(th));
        int rank = RANK_NONE;
        if (r->threshold != NULL) {
            th = *r->threshold;
            rank = RANK_KEYWORD;
        }
        uint32_t nsup = 0;
        bool changed = false;
        for (uint32_t k = 0; k < ds->n; k++) {
            const struct directive *d = &ds->v[k];
            if (!directive_applies(d, r))
                continue;
            if (d->kind == DIRECTIVE_SUPPRESS) {
                nsup++;
                changed = true;
                continue;
            }
            /* A global threshold leaves rules with their own alone. */
            const int drank = d->sid == 0 ? RANK_GLOBAL : RANK_SPECIFIC;
            if (drank >= rank) {
                th.type = d->th.type;
                th.track = d->th.track;
                th.count = d->th.count;
                th.seconds = d->th.seconds;
                rank = drank;
                changed = true;
            }
        }
        if (!changed)
            continue;
        if (nsup > 0) {
            const struct sig_suppress **list = sig_arena_alloc(&rs->arena, nsup * sizeof(*list));
            if (list == NULL)
                return -1;
            uint32_t n = 0;
            for (uint32_t k = 0; k < ds->n; k++) {
                if (ds->v[k].kind == DIRECTIVE_SUPPRESS && directive_applies(&ds->v[k], r))
                    list[n++] = ds->v[k].sup;
            }
            th.suppress = list;
            th.nsuppress = nsup;
        }
        struct sig_threshold *copy = sig_arena_memdup(&rs->arena, &th, sizeof(th));
        if (copy == NULL)
            return -1;
        r->threshold = copy;
    }
    return 0;
}

int sig_threshold_prepare(struct vg_ruleset *rs, const struct vg_config *cfg, const char *path,
                          FILE *err)
{
    if (path != NULL) {
        struct directives ds = {0};
        uint32_t errors = 0;
        int ret = read_threshold_file(path, &rs->arena, cfg, err, &ds, &errors);
        rs->stats.threshold_file_errors = errors;
        if (ret != 0) {
            rs->stats.files_failed++;
            free(ds.v);
            return -1;
        }
        ret = apply_directives(rs, &ds);
        free(ds.v);
        if (ret != 0) {
            if (err != NULL)
                fprintf(err, "rules: out of memory\n");
            return -1;
        }
    }
    bool need_table = false;
    rs->stats.threshold_rules = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_threshold *th = rs->rules[i].threshold;
        if (th == NULL)
            continue;
        rs->stats.threshold_rules += !rs->rules[i].response_twin;
        if (th->type != SIG_THRESHOLD_NONE)
            need_table = true;
    }
    if (!need_table)
        return 0;
    uint64_t entries = DEFAULT_TABLE_ENTRIES;
    char msg[256];
    if (cfg != NULL && vg_config_get_u64(cfg, "detect.thresholds.max-entries",
                                         DEFAULT_TABLE_ENTRIES, &entries, msg, sizeof(msg)) != 0) {
        if (err != NULL)
            fprintf(err, "rules: %s\n", msg);
        return -1;
    }
    if (entries == 0 || entries > MAX_TABLE_ENTRIES) {
        if (err != NULL)
            fprintf(err, "rules: detect.thresholds.max-entries must be 1 to %u\n",
                    MAX_TABLE_ENTRIES);
        return -1;
    }
    rs->thresholds = sig_threshold_table_new((uint32_t)entries);
    if (rs->thresholds == NULL) {
        if (err != NULL)
            fprintf(err, "rules: out of memory for the threshold table\n");
        return -1;
    }
    rs->stats.threshold_entries = sig_threshold_table_slots(rs->thresholds);
    rs->stats.threshold_table_bytes =
        (uint64_t)rs->stats.threshold_entries * sizeof(struct threshold_slot);
    return 0;
}
