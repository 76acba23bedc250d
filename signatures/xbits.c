/* xbits: bits kept per host or per host pair across flows, with Suricata's
 * syntax and semantics:
 *
 *     xbits:set,name,track ip_src|ip_dst|ip_pair[,expire <seconds>];
 *     xbits:unset,...;  xbits:toggle,...;  (same arguments)
 *     xbits:isset,name,track ...;  xbits:isnotset,name,track ...;
 *
 * A bit set with track ip_dst on a request is seen with track ip_src on the
 * reply. ip_pair is the two addresses in either order. A bit lives `expire`
 * seconds of packet time after its last set (30 when not given, as
 * Suricata's).
 *
 * The bits live in one table shared by all workers (the flows of one host
 * go to different workers), allocated when the rules load if a rule uses
 * xbits, sized by detect.xbits.max-entries, and taking no lock: an
 * open-addressing array whose slots hold a 64-bit key (a hash of the name,
 * the track and the address or addresses; never 0) and the time the bit
 * expires (milliseconds since the epoch; 0 when unset). A slot whose bit
 * has expired is free for any key. A set that finds neither its key nor a
 * free slot among PROBE_LIMIT slots is dropped and counted (table_full):
 * later checks do not see that bit. As with the threshold table, two keys
 * whose hashes collide share a bit, and two workers setting a new key at
 * the same moment may claim two slots (the first found wins from then on).
 *
 * Conditions (isset, isnotset) are tested with the flowbits before the
 * rule's contents; actions run when the whole rule matched, after the
 * flowbits' (postmatch.c). */
#include <ctype.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vigil/config.h"

#include "rule_int.h"

#define XBITS_PROBE_LIMIT     16u
#define XBITS_DEFAULT_ENTRIES 65536u
#define XBITS_MAX_ENTRIES     (1u << 30)
#define XBITS_DEFAULT_EXPIRE  30u
#define XBITS_MAX_EXPIRE      (86400u * 365u)

/* ---- The table ------------------------------------------------------------------ */

struct xbit_slot {
    _Atomic uint64_t key;     /* 0: never used */
    _Atomic uint64_t expires; /* ms since the epoch; 0: unset */
};

struct sig_xbits_table {
    uint64_t mask;
    struct xbit_slot *slots;
    _Alignas(VG_CACHE_LINE) _Atomic uint64_t full;
};

static struct sig_xbits_table *table_new(uint32_t max_entries)
{
    struct sig_xbits_table *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->slots = sig_slots_new(max_entries, XBITS_MAX_ENTRIES, sizeof(*t->slots), &t->mask);
    if (t->slots == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void sig_xbits_table_free(struct sig_xbits_table *t)
{
    if (t == NULL)
        return;
    free(t->slots);
    free(t);
}

uint64_t vg_ruleset_xbits_table_full(const struct vg_ruleset *rs)
{
    return rs->xbits != NULL ? atomic_load_explicit(&rs->xbits->full, memory_order_relaxed) : 0;
}

/* The slot holding key, or NULL. */
static struct xbit_slot *slot_find(struct sig_xbits_table *t, uint64_t key)
{
    for (uint32_t i = 0; i < XBITS_PROBE_LIMIT; i++) {
        struct xbit_slot *s = &t->slots[(key + i) & t->mask];
        const uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key)
            return s;
        if (k == 0)
            return NULL; /* keys are never removed: the probe ends at an unused slot */
    }
    return NULL;
}

/* The slot holding key, or a free one claimed for it; NULL when the probe
 * window has neither (counted). */
static struct xbit_slot *slot_claim(struct sig_xbits_table *t, uint64_t key, uint64_t now_ms)
{
    struct xbit_slot *s = slot_find(t, key);
    if (s != NULL)
        return s;
    for (uint32_t i = 0; i < XBITS_PROBE_LIMIT; i++) {
        s = &t->slots[(key + i) & t->mask];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key)
            return s;
        const uint64_t exp = atomic_load_explicit(&s->expires, memory_order_relaxed);
        if (k != 0 && exp > now_ms)
            continue;
        if (atomic_compare_exchange_strong_explicit(&s->key, &k, key, memory_order_acq_rel,
                                                    memory_order_acquire)) {
            atomic_store_explicit(&s->expires, 0, memory_order_relaxed);
            return s;
        }
        if (k == key)
            return s;
    }
    atomic_fetch_add_explicit(&t->full, 1, memory_order_relaxed);
    return NULL;
}

/* The key of op's bit for packet p: the name and one host (ip_src and
 * ip_dst name the same host bits) or a pair. */
static uint64_t bit_key(const struct sig_xbit_op *op, const struct vg_packet *p)
{
    const bool pair = op->track == SIG_XBIT_PAIR;
    uint64_t h = op->name_hash ^ (UINT64_C(0x9e3779b97f4a7c15) * (pair + 1u));
    switch (op->track) {
    case SIG_XBIT_SRC:
        h = sig_fnv64(h, p->src.b, sizeof(p->src.b));
        break;
    case SIG_XBIT_DST:
        h = sig_fnv64(h, p->dst.b, sizeof(p->dst.b));
        break;
    default:
        h = sig_fnv64_addr_pair(h, &p->src, &p->dst);
        break;
    }
    h = sig_mix64(h);
    return h != 0 ? h : 1;
}

static bool bit_isset(struct sig_xbits_table *t, uint64_t key, uint64_t now_ms)
{
    const struct xbit_slot *s = slot_find(t, key);
    return s != NULL && atomic_load_explicit(&s->expires, memory_order_relaxed) > now_ms;
}

/* ---- Matching ------------------------------------------------------------------- */

bool sig_xbits_hold(const struct vg_detect_ctx *ctx, const struct sig_rule *r,
                    const struct vg_packet *p)
{
    const struct sig_xbits *xb = r->xbits;
    if (xb == NULL || xb->nconds == 0)
        return true;
    struct sig_xbits_table *t = ctx->rs->xbits;
    if (t == NULL || p == NULL)
        return false; /* no addresses to look up */
    const uint64_t now_ms = p->ts_us / 1000u;
    for (uint32_t i = 0; i < xb->nconds; i++) {
        const struct sig_xbit_op *op = &xb->ops[i];
        if (bit_isset(t, bit_key(op, p), now_ms) != (op->cmd == SIG_FLOWBIT_ISSET))
            return false;
    }
    return true;
}

void sig_xbits_run(struct vg_detect_ctx *ctx, const struct sig_rule *r, const struct vg_packet *p)
{
    const struct sig_xbits *xb = r->xbits;
    struct sig_xbits_table *t = ctx->rs->xbits;
    if (xb == NULL || t == NULL || p == NULL)
        return;
    const uint64_t now_ms = p->ts_us / 1000u;
    for (uint32_t i = xb->nconds; i < (uint32_t)xb->nconds + xb->nacts; i++) {
        const struct sig_xbit_op *op = &xb->ops[i];
        const uint64_t key = bit_key(op, p);
        uint8_t cmd = op->cmd;
        if (cmd == SIG_FLOWBIT_TOGGLE)
            cmd = bit_isset(t, key, now_ms) ? SIG_FLOWBIT_UNSET : SIG_FLOWBIT_SET;
        if (cmd == SIG_FLOWBIT_SET) {
            struct xbit_slot *s = slot_claim(t, key, now_ms);
            if (s != NULL)
                atomic_store_explicit(&s->expires, now_ms + (uint64_t)op->expire_s * 1000u,
                                      memory_order_relaxed);
        } else {
            struct xbit_slot *s = slot_find(t, key);
            if (s != NULL)
                atomic_store_explicit(&s->expires, 0, memory_order_relaxed);
        }
    }
}

/* ---- Parsing -------------------------------------------------------------------- */

static const char *const track_names[] = {
    [SIG_XBIT_SRC] = "ip_src",
    [SIG_XBIT_DST] = "ip_dst",
    [SIG_XBIT_PAIR] = "ip_pair",
};

/* "word value" after a comma: the value of word, or NULL. */
static const char *named_value(char *part, const char *word)
{
    const size_t n = strlen(word);
    if (strncasecmp(part, word, n) != 0 || !isspace((unsigned char)part[n]))
        return NULL;
    return sig_trim(part + n);
}

/* Adds op: conditions ahead of actions, each in the rule's order. */
static int add_op(struct sig_rule_ctx *rc, struct sig_rule *r, const struct sig_xbit_op *op)
{
    const struct sig_xbits *old = r->xbits;
    const uint32_t nconds = old != NULL ? old->nconds : 0;
    const uint32_t nacts = old != NULL ? old->nacts : 0;
    if (nconds + nacts >= UINT16_MAX)
        return sig_fail(rc, "too many xbits options");
    const bool cond = sig_bit_cmd_is_condition(op->cmd);
    struct sig_xbits *xb = sig_arena_alloc(rc->ld->arena, sizeof(*xb));
    struct sig_xbit_op *ops = sig_bit_ops_add(rc->ld->arena, old != NULL ? old->ops : NULL, nconds,
                                              nacts, op, sizeof(*op), cond);
    if (xb == NULL || ops == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    xb->nconds = (uint16_t)(nconds + cond);
    xb->nacts = (uint16_t)(nacts + !cond);
    xb->ops = ops;
    r->xbits = xb;
    return 0;
}

static int parse_xbits(struct sig_rule_ctx *rc, struct sig_rule *r, char *val)
{
    char *parts[4];
    uint32_t nparts = 0;
    char *save = NULL;
    for (char *tok = strtok_r(val, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (nparts == VG_ARRAY_SIZE(parts))
            return sig_fail(rc, "xbits takes at most 4 parts: command, name, track, expire");
        parts[nparts++] = sig_trim(tok);
    }
    if (nparts < 3)
        return sig_fail(rc, "xbits needs a command, a name and a track: "
                            "xbits:set,name,track ip_src[,expire 60]");
    const int parsed = sig_bit_cmd_parse(parts[0]);
    if (parsed < 0)
        return sig_fail(rc, "unknown xbits command '%s' (set, unset, toggle, isset, isnotset)",
                        parts[0]);
    const uint8_t cmd = (uint8_t)parsed;
    if (!sig_bit_name_valid(parts[1]))
        return sig_fail(rc, "bad xbits name '%s'", parts[1]);
    const char *track = named_value(parts[2], "track");
    if (track == NULL)
        return sig_fail(rc, "xbits: expected 'track ip_src|ip_dst|ip_pair', got '%s'", parts[2]);
    uint8_t tk = 0;
    while (tk < VG_ARRAY_SIZE(track_names) && strcasecmp(track, track_names[tk]) != 0)
        tk++;
    if (tk == VG_ARRAY_SIZE(track_names))
        return sig_fail(rc, "xbits: unknown track '%s' (ip_src, ip_dst, ip_pair)", track);
    int64_t expire = XBITS_DEFAULT_EXPIRE;
    if (nparts == 4) {
        const char *v = named_value(parts[3], "expire");
        if (v == NULL)
            return sig_fail(rc, "xbits: expected 'expire <seconds>', got '%s'", parts[3]);
        if (sig_bit_cmd_is_condition(cmd) || cmd == SIG_FLOWBIT_UNSET)
            return sig_fail(rc, "xbits:%s takes no expire", sig_bit_cmd_name(cmd));
        if (!sig_parse_int(v, 1, XBITS_MAX_EXPIRE, &expire))
            return sig_fail(rc, "xbits: bad expire '%s' (1 to %u seconds)", v, XBITS_MAX_EXPIRE);
    }
    const char *name = sig_arena_strdup(rc->ld->arena, parts[1]);
    if (name == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    const struct sig_xbit_op op = {
        .cmd = cmd,
        .track = tk,
        .expire_s = (uint32_t)expire,
        .name_hash = sig_fnv64(SIG_FNV64_OFFSET, name, strlen(name)),
        .name = name,
    };
    return add_op(rc, r, &op);
}

int sig_kw_xbits(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "xbits") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    char *val = strdup(o->val);
    if (val == NULL) {
        rc->ld->out_of_memory = true;
        return sig_fail(rc, "out of memory");
    }
    const int ret = parse_xbits(rc, b->r, val);
    free(val);
    return ret;
}

/* ---- After loading -------------------------------------------------------------- */

/* Whether some loaded rule sets (or toggles) name with track, or checks it. */
static bool used_as(const struct vg_ruleset *rs, const struct sig_xbit_op *want, bool setter)
{
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_xbits *xb = rs->rules[i].xbits;
        if (xb == NULL)
            continue;
        for (uint32_t k = 0; k < (uint32_t)xb->nconds + xb->nacts; k++) {
            const struct sig_xbit_op *op = &xb->ops[k];
            if (op->name_hash != want->name_hash || strcmp(op->name, want->name) != 0)
                continue;
            if (setter ? (op->cmd == SIG_FLOWBIT_SET || op->cmd == SIG_FLOWBIT_TOGGLE)
                       : sig_bit_cmd_is_condition(op->cmd))
                return true;
        }
    }
    return false;
}

int sig_xbits_prepare(struct vg_ruleset *rs, const struct vg_config *cfg, FILE *err)
{
    rs->stats.xbits_rules = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        if (r->xbits == NULL)
            continue;
        rs->stats.xbits_rules += !r->response_twin;
        /* A check no rule can satisfy, or a set no rule reads: a typo. */
        const uint32_t nops = (uint32_t)r->xbits->nconds + r->xbits->nacts;
        for (uint32_t k = 0; k < nops && err != NULL && !r->response_twin; k++) {
            const struct sig_xbit_op *op = &r->xbits->ops[k];
            const char *what = NULL;
            if (op->cmd == SIG_FLOWBIT_ISSET && !used_as(rs, op, true))
                what = "checked but never set";
            else if (op->cmd == SIG_FLOWBIT_SET && !used_as(rs, op, false))
                what = "set but never checked";
            if (what != NULL)
                fprintf(err, "%s:%u: warning: xbit '%s' is %s (sid %u)\n", r->file, r->line,
                        op->name, what, r->meta.sid);
        }
    }
    if (rs->stats.xbits_rules == 0)
        return 0;
    uint64_t entries = XBITS_DEFAULT_ENTRIES;
    char msg[256];
    if (cfg != NULL && vg_config_get_u64(cfg, "detect.xbits.max-entries", XBITS_DEFAULT_ENTRIES,
                                         &entries, msg, sizeof(msg)) != 0) {
        if (err != NULL)
            fprintf(err, "rules: %s\n", msg);
        return -1;
    }
    if (entries == 0 || entries > XBITS_MAX_ENTRIES) {
        if (err != NULL)
            fprintf(err, "rules: detect.xbits.max-entries must be 1 to %u\n", XBITS_MAX_ENTRIES);
        return -1;
    }
    rs->xbits = table_new((uint32_t)entries);
    if (rs->xbits == NULL) {
        if (err != NULL)
            fprintf(err, "rules: out of memory for the xbits table\n");
        return -1;
    }
    rs->stats.xbits_entries = (uint32_t)(rs->xbits->mask + 1);
    rs->stats.xbits_table_bytes = (uint64_t)rs->stats.xbits_entries * sizeof(struct xbit_slot);
    return 0;
}
