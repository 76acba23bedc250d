/* Rule parser: Suricata rule syntax
 *     action proto src_addr src_port dir dst_addr dst_port (options)
 * into struct sig_rule. Errors are reported as "file:line: message (sid N)"
 * and the rule is skipped; the other rules still load. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_int.h"

#define VAR_NEST_LIMIT    16
#define MAX_HEADER_TOKENS 8

/* ---- Error reporting ------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) int sig_fail(struct sig_rule_ctx *rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rc->msg, sizeof(rc->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static void report(struct sig_rule_ctx *rc)
{
    FILE *err = rc->ld->err;
    if (err == NULL)
        return;
    if (rc->has_sid)
        fprintf(err, "%s:%u: %s (sid %u)\n", rc->file, rc->line, rc->msg, rc->sid);
    else
        fprintf(err, "%s:%u: %s\n", rc->file, rc->line, rc->msg);
}

/* ---- Small string helpers ------------------------------------------------- */

char *sig_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* Parses a decimal integer in [min, max]; the whole string must be used. */
bool sig_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char)*p))
        return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    while (end != NULL && isspace((unsigned char)*end))
        end++;
    if (errno != 0 || end == NULL || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool sig_parse_u32(const char *s, uint32_t *out)
{
    int64_t v;
    if (!sig_parse_int(s, 0, UINT32_MAX, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* ---- Range sets ---------------------------------------------------------- */

/* Address expressions are computed on sets of 128-bit ranges, one set per
 * family ([0] IPv4, [1] IPv6); port expressions use [0] only. */
struct rv_range {
    sig_u128 lo, hi;
};

struct rvec {
    struct rv_range *r;
    uint32_t n;
    uint32_t cap;
};

struct xset {
    struct rvec fam[2];
};

enum expr_kind { EXPR_ADDR, EXPR_PORT };

static const sig_u128 U128_MAX = ~(sig_u128)0;

static void xset_free(struct xset *s)
{
    free(s->fam[0].r);
    free(s->fam[1].r);
    memset(s, 0, sizeof(*s));
}

static int rvec_push(struct rvec *v, sig_u128 lo, sig_u128 hi)
{
    if (v->n == v->cap) {
        uint32_t cap = v->cap ? v->cap * 2 : 8;
        struct rv_range *r = realloc(v->r, cap * sizeof(*r));
        if (r == NULL)
            return -1;
        v->r = r;
        v->cap = cap;
    }
    v->r[v->n].lo = lo;
    v->r[v->n].hi = hi;
    v->n++;
    return 0;
}

static int range_cmp(const void *a, const void *b)
{
    const struct rv_range *x = a, *y = b;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    return 0;
}

/* Sorts and merges overlapping or adjacent ranges. */
static void rvec_normalize(struct rvec *v)
{
    if (v->n < 2)
        return;
    qsort(v->r, v->n, sizeof(v->r[0]), range_cmp);
    uint32_t out = 0;
    for (uint32_t i = 1; i < v->n; i++) {
        struct rv_range *cur = &v->r[out];
        const struct rv_range *nx = &v->r[i];
        if (nx->lo <= cur->hi || (cur->hi != U128_MAX && nx->lo == cur->hi + 1)) {
            if (nx->hi > cur->hi)
                cur->hi = nx->hi;
        } else {
            v->r[++out] = *nx;
        }
    }
    v->n = out + 1;
}

static int rvec_add_all(struct rvec *dst, const struct rvec *src)
{
    for (uint32_t i = 0; i < src->n; i++) {
        if (rvec_push(dst, src->r[i].lo, src->r[i].hi) != 0)
            return -1;
    }
    rvec_normalize(dst);
    return 0;
}

/* out = a minus b; both normalized. */
static int rvec_subtract(const struct rvec *a, const struct rvec *b, struct rvec *out)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < a->n; i++) {
        sig_u128 cur = a->r[i].lo;
        const sig_u128 hi = a->r[i].hi;
        bool done = false;
        while (j < b->n && b->r[j].hi < cur)
            j++;
        for (uint32_t k = j; k < b->n && b->r[k].lo <= hi; k++) {
            if (b->r[k].lo > cur && rvec_push(out, cur, b->r[k].lo - 1) != 0)
                return -1;
            if (b->r[k].hi >= hi) {
                done = true;
                break;
            }
            if (b->r[k].hi + 1 > cur)
                cur = b->r[k].hi + 1;
        }
        if (!done && rvec_push(out, cur, hi) != 0)
            return -1;
    }
    return 0;
}

static int nfamilies(enum expr_kind kind)
{
    return kind == EXPR_ADDR ? 2 : 1;
}

static sig_u128 universe_max(enum expr_kind kind, int fam)
{
    if (kind == EXPR_PORT)
        return 65535;
    return fam == 0 ? (sig_u128)UINT32_MAX : U128_MAX;
}

static int xset_universe(struct xset *s, enum expr_kind kind)
{
    for (int f = 0; f < nfamilies(kind); f++) {
        if (rvec_push(&s->fam[f], 0, universe_max(kind, f)) != 0)
            return -1;
    }
    return 0;
}

static bool xset_is_universe(const struct xset *s, enum expr_kind kind)
{
    for (int f = 0; f < nfamilies(kind); f++) {
        const struct rvec *v = &s->fam[f];
        if (v->n != 1 || v->r[0].lo != 0 || v->r[0].hi != universe_max(kind, f))
            return false;
    }
    return true;
}

/* ---- Address and port expressions ----------------------------------------- */

struct expr {
    struct sig_rule_ctx *rc;
    enum expr_kind kind;
    const char *s;
    size_t i;
    int depth; /* variable nesting */
    char err[256];
};

__attribute__((format(printf, 2, 3))) static int expr_fail(struct expr *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, sizeof(e->err), fmt, ap);
    va_end(ap);
    return -1;
}

static void expr_skip_ws(struct expr *e)
{
    while (isspace((unsigned char)e->s[e->i]))
        e->i++;
}

/* The value of $name: the configuration's (which starts from the built-in
 * defaults), or the built-in default when there is no configuration. */
static const char *lookup_var(const struct expr *e, const char *name)
{
    char key[192];
    snprintf(key, sizeof(key), "vars.%s.%s",
             e->kind == EXPR_ADDR ? "address-groups" : "port-groups", name);
    const struct vg_config *cfg = e->rc->ld->cfg;
    const char *v = cfg != NULL ? vg_config_get(cfg, key) : NULL;
    return v != NULL ? v : vg_config_default(key);
}

static sig_u128 v6_from_bytes(const uint8_t b[16])
{
    sig_u128 v = 0;
    for (int i = 0; i < 16; i++)
        v = (v << 8) | b[i];
    return v;
}

static bool parse_v4(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return false;
    *out = ntohl(a.s_addr);
    return true;
}

/* One address: a.b.c.d, a.b.c.d/N, a.b.c.d/m.m.m.m, a.b.c.d-e.f.g.h,
 * an IPv6 address, or IPv6/N. Host bits under the mask are cleared. */
static int parse_address_literal(struct expr *e, char *tok, struct xset *out)
{
    char *slash = strchr(tok, '/');
    char *dash = strchr(tok, '-');
    if (slash != NULL)
        *slash = '\0';
    if (strchr(tok, ':') != NULL) {
        if (dash != NULL)
            return expr_fail(e, "IPv6 ranges are not supported: '%s'", tok);
        uint8_t b[16];
        if (inet_pton(AF_INET6, tok, b) != 1)
            return expr_fail(e, "invalid address '%s'", tok);
        sig_u128 v = v6_from_bytes(b);
        int64_t bits = 128;
        if (slash != NULL && !sig_parse_int(slash + 1, 0, 128, &bits))
            return expr_fail(e, "invalid prefix length '/%s'", slash + 1);
        sig_u128 hostmask = bits == 0 ? U128_MAX : (((sig_u128)1 << (128 - bits)) - 1);
        return rvec_push(&out->fam[1], v & ~hostmask, v | hostmask) != 0
                   ? expr_fail(e, "out of memory")
                   : 0;
    }
    if (dash != NULL && slash == NULL) {
        *dash = '\0';
        uint32_t lo, hi;
        if (!parse_v4(tok, &lo) || !parse_v4(dash + 1, &hi))
            return expr_fail(e, "invalid address range '%s-%s'", tok, dash + 1);
        if (lo > hi)
            return expr_fail(e, "address range '%s-%s' is reversed", tok, dash + 1);
        return rvec_push(&out->fam[0], lo, hi) != 0 ? expr_fail(e, "out of memory") : 0;
    }
    uint32_t v;
    if (!parse_v4(tok, &v))
        return expr_fail(e, "invalid address '%s'", tok);
    uint32_t hostmask = 0;
    if (slash != NULL) {
        const char *m = slash + 1;
        int64_t bits;
        uint32_t mask;
        if (strchr(m, '.') != NULL) {
            /* dotted netmask: must be contiguous ones */
            if (!parse_v4(m, &mask) || (~mask & (~mask + 1)) != 0)
                return expr_fail(e, "invalid netmask '/%s'", m);
            hostmask = ~mask;
        } else {
            if (!sig_parse_int(m, 0, 32, &bits))
                return expr_fail(e, "invalid prefix length '/%s'", m);
            hostmask = bits == 0 ? UINT32_MAX : (uint32_t)((1ull << (32 - bits)) - 1);
        }
    }
    return rvec_push(&out->fam[0], v & ~hostmask, v | hostmask) != 0 ? expr_fail(e, "out of memory")
                                                                     : 0;
}

static bool parse_port_number(const char *s, uint32_t *out)
{
    int64_t v;
    if (*s == '\0' || !sig_parse_int(s, 0, 65535, &v) || !isdigit((unsigned char)*s))
        return false;
    *out = (uint32_t)v;
    return true;
}

/* One port: N, N:M, N: or :M. */
static int parse_port_literal(struct expr *e, char *tok, struct xset *out)
{
    uint32_t lo = 0, hi = 65535;
    char *colon = strchr(tok, ':');
    if (colon == NULL) {
        if (!parse_port_number(tok, &lo))
            return expr_fail(e, "invalid port '%s'", tok);
        hi = lo;
    } else {
        *colon = '\0';
        const char *a = tok, *b = colon + 1;
        if (*a == '\0' && *b == '\0')
            return expr_fail(e, "invalid port range ':'");
        if (*a != '\0' && !parse_port_number(a, &lo))
            return expr_fail(e, "invalid port '%s'", a);
        if (*b != '\0' && !parse_port_number(b, &hi))
            return expr_fail(e, "invalid port '%s'", b);
        if (lo > hi)
            return expr_fail(e, "port range '%s:%s' is reversed", a, b);
    }
    return rvec_push(&out->fam[0], lo, hi) != 0 ? expr_fail(e, "out of memory") : 0;
}

static int expr_list(struct expr *e, struct xset *out, char close);

/* One element: a literal, "any", $VAR or a [list], each possibly negated
 * with '!'. The set is returned in out and the negation in *neg: inside a
 * list, negated elements are removed from the union of the others. */
static int expr_element(struct expr *e, struct xset *out, bool *neg)
{
    expr_skip_ws(e);
    while (e->s[e->i] == '!') {
        *neg = !*neg;
        e->i++;
        expr_skip_ws(e);
    }
    char c = e->s[e->i];
    if (c == '[') {
        e->i++;
        return expr_list(e, out, ']');
    }
    if (c == '$') {
        e->i++;
        char name[128];
        size_t n = 0;
        while (isalnum((unsigned char)e->s[e->i]) || e->s[e->i] == '_') {
            if (n + 1 >= sizeof(name))
                return expr_fail(e, "variable name too long");
            name[n++] = e->s[e->i++];
        }
        name[n] = '\0';
        if (n == 0)
            return expr_fail(e, "'$' without a variable name");
        const char *value = lookup_var(e, name);
        if (value == NULL)
            return expr_fail(e, "unknown %s variable '$%s'",
                             e->kind == EXPR_ADDR ? "address" : "port", name);
        if (e->depth >= VAR_NEST_LIMIT)
            return expr_fail(e, "variable '$%s' nests too deeply (a loop?)", name);
        struct expr sub = {.rc = e->rc, .kind = e->kind, .s = value, .i = 0, .depth = e->depth + 1};
        if (expr_list(&sub, out, '\0') != 0) {
            if (strncmp(sub.err, "in $", 4) == 0)
                return expr_fail(e, "%s", sub.err);
            return expr_fail(e, "in $%s: %s", name, sub.err);
        }
        return 0;
    }
    char tok[128];
    size_t n = 0;
    while (e->s[e->i] != '\0' && !isspace((unsigned char)e->s[e->i]) &&
           strchr(",[]!$", e->s[e->i]) == NULL) {
        if (n + 1 >= sizeof(tok))
            return expr_fail(e, "element too long");
        tok[n++] = e->s[e->i++];
    }
    tok[n] = '\0';
    if (n == 0) {
        if (c == '\0')
            return expr_fail(e, "unexpected end");
        return expr_fail(e, "unexpected '%c'", c);
    }
    if (strcasecmp(tok, "any") == 0)
        return xset_universe(out, e->kind) != 0 ? expr_fail(e, "out of memory") : 0;
    /* "none": an address group left empty until the operator sets it (the
     * BIG-IP groups); "!none" is any. */
    if (e->kind == EXPR_ADDR && strcasecmp(tok, "none") == 0) {
        e->rc->saw_none = true;
        return 0;
    }
    return e->kind == EXPR_ADDR ? parse_address_literal(e, tok, out)
                                : parse_port_literal(e, tok, out);
}

/* A comma-separated list up to close (']' or the end of the string), with
 * Suricata's meaning: the union of the plain elements (everything when there
 * is none) minus the union of the negated ones. */
static int expr_list(struct expr *e, struct xset *out, char close)
{
    struct xset pos = {0}, negs = {0};
    bool has_pos = false;
    int rc = -1;
    expr_skip_ws(e);
    if (e->s[e->i] == close) {
        expr_fail(e, close == ']' ? "empty list" : "empty expression");
        goto out;
    }
    for (;;) {
        struct xset item = {0};
        bool neg = false;
        if (expr_element(e, &item, &neg) != 0) {
            xset_free(&item);
            goto out;
        }
        struct xset *acc = neg ? &negs : &pos;
        has_pos |= !neg;
        for (int f = 0; f < 2; f++) {
            if (rvec_add_all(&acc->fam[f], &item.fam[f]) != 0) {
                xset_free(&item);
                expr_fail(e, "out of memory");
                goto out;
            }
        }
        xset_free(&item);
        expr_skip_ws(e);
        char c = e->s[e->i];
        if (c == ',') {
            e->i++;
            continue;
        }
        if (c == close)
            break;
        if (c == '\0')
            expr_fail(e, "missing ']'");
        else
            expr_fail(e, "unexpected '%c'", c);
        goto out;
    }
    if (close != '\0')
        e->i++;
    if (!has_pos && xset_universe(&pos, e->kind) != 0) {
        expr_fail(e, "out of memory");
        goto out;
    }
    for (int f = 0; f < 2; f++) {
        if (rvec_subtract(&pos.fam[f], &negs.fam[f], &out->fam[f]) != 0) {
            expr_fail(e, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    xset_free(&pos);
    xset_free(&negs);
    return rc;
}

static int parse_address_expr(struct sig_rule_ctx *rc, const char *text, const char *what,
                              struct sig_addr_set *out)
{
    struct expr e = {.rc = rc, .kind = EXPR_ADDR, .s = text};
    struct xset s = {0};
    int ret = -1;
    if (expr_list(&e, &s, '\0') != 0) {
        sig_fail(rc, "bad %s '%s': %s", what, text, e.err);
        goto out;
    }
    if (s.fam[0].n == 0 && s.fam[1].n == 0) {
        rc->dormant = rc->saw_none;
        sig_fail(rc, "bad %s '%s': matches no address", what, text);
        goto out;
    }
    out->any = xset_is_universe(&s, EXPR_ADDR);
    if (!out->any) {
        struct sig_arena *a = rc->ld->arena;
        struct sig_v4_range *v4 = sig_arena_alloc(a, s.fam[0].n * sizeof(*v4));
        struct sig_v6_range *v6 = sig_arena_alloc(a, s.fam[1].n * sizeof(*v6));
        if (v4 == NULL || v6 == NULL) {
            sig_fail(rc, "out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < s.fam[0].n; i++) {
            v4[i].lo = (uint32_t)s.fam[0].r[i].lo;
            v4[i].hi = (uint32_t)s.fam[0].r[i].hi;
        }
        for (uint32_t i = 0; i < s.fam[1].n; i++) {
            v6[i].lo = s.fam[1].r[i].lo;
            v6[i].hi = s.fam[1].r[i].hi;
        }
        out->v4 = v4;
        out->n4 = s.fam[0].n;
        out->v6 = v6;
        out->n6 = s.fam[1].n;
    }
    ret = 0;
out:
    xset_free(&s);
    return ret;
}

static int parse_port_expr(struct sig_rule_ctx *rc, const char *text, const char *what,
                           struct sig_port_set *out)
{
    struct expr e = {.rc = rc, .kind = EXPR_PORT, .s = text};
    struct xset s = {0};
    int ret = -1;
    if (expr_list(&e, &s, '\0') != 0) {
        sig_fail(rc, "bad %s '%s': %s", what, text, e.err);
        goto out;
    }
    if (s.fam[0].n == 0) {
        sig_fail(rc, "bad %s '%s': matches no port", what, text);
        goto out;
    }
    out->any = xset_is_universe(&s, EXPR_PORT);
    if (!out->any) {
        struct sig_port_range *r = sig_arena_alloc(rc->ld->arena, s.fam[0].n * sizeof(*r));
        if (r == NULL) {
            sig_fail(rc, "out of memory");
            goto out;
        }
        for (uint32_t i = 0; i < s.fam[0].n; i++) {
            r[i].lo = (uint16_t)s.fam[0].r[i].lo;
            r[i].hi = (uint16_t)s.fam[0].r[i].hi;
        }
        out->r = r;
        out->n = s.fam[0].n;
    }
    ret = 0;
out:
    xset_free(&s);
    return ret;
}

int sig_eval_address_expr(const struct vg_config *cfg, struct sig_arena *a, const char *text,
                          const char *what, struct sig_addr_set *out, bool *waits, char *err,
                          size_t errlen)
{
    struct sig_loader ld = {.cfg = cfg, .arena = a};
    struct sig_rule_ctx rc = {.ld = &ld};
    memset(out, 0, sizeof(*out));
    *waits = false;
    if (parse_address_expr(&rc, text, what, out) == 0)
        return 0;
    if (rc.dormant) {
        *waits = true;
        return 0;
    }
    snprintf(err, errlen, "%s", rc.msg);
    return -1;
}

int sig_eval_port_expr(const struct vg_config *cfg, struct sig_arena *a, const char *text,
                       struct sig_port_set *out, char *err, size_t errlen)
{
    struct sig_loader ld = {.cfg = cfg, .arena = a};
    struct sig_rule_ctx rc = {.ld = &ld};
    memset(out, 0, sizeof(*out));
    if (parse_port_expr(&rc, text, "port expression", out) == 0)
        return 0;
    snprintf(err, errlen, "%s", rc.msg);
    return -1;
}

/* ---- Header --------------------------------------------------------------- */

/* Application-layer protocols vigil parses: a rule naming one matches the
 * flows speaking it (over TCP; DNS over TCP or UDP). */
static const struct {
    const char *name;
    uint8_t proto; /* enum sig_proto */
    uint8_t app;   /* enum vg_app_proto */
} parsed_protocols[] = {
    {"http", SIG_PROTO_TCP, VG_APP_HTTP}, {"http1", SIG_PROTO_TCP, VG_APP_HTTP},
    {"tls", SIG_PROTO_TCP, VG_APP_TLS},   {"ssl", SIG_PROTO_TCP, VG_APP_TLS},
    {"dns", SIG_PROTO_IP, VG_APP_DNS},    {"ssh", SIG_PROTO_TCP, VG_APP_SSH},
};

/* The other application-layer protocols Suricata accepts in the header;
 * named so the message says they are not supported yet rather than
 * unknown. */
static const char *const app_protocols[] = {
    "http2",     "ftp",  "ftp-data", "smb",  "smtp", "imap",    "pop3",  "dcerpc", "dhcp",
    "sip",       "krb5", "nfs",      "ntp",  "snmp", "tftp",    "ike",   "ikev2",  "rdp",
    "rfb",       "mqtt", "modbus",   "dnp3", "enip", "quic",    "pgsql", "telnet", "bittorrent-dht",
    "websocket", "ldap", "doh2",     "mdns", "sctp", "udp-pkt",
};

static int parse_header(struct sig_rule_ctx *rc, char *header, struct sig_rule *r, uint32_t *ask)
{
    char *tok[MAX_HEADER_TOKENS];
    int ntok = 0;
    char *p = header;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        if (ntok == MAX_HEADER_TOKENS)
            return sig_fail(rc, "malformed rule header: expected 'action proto src_addr src_port "
                                "direction dst_addr dst_port'");
        tok[ntok++] = p;
        int depth = 0;
        while (*p != '\0' && (depth > 0 || !isspace((unsigned char)*p))) {
            if (*p == '[')
                depth++;
            else if (*p == ']' && depth > 0)
                depth--;
            p++;
        }
        if (*p != '\0')
            *p++ = '\0';
    }
    if (ntok != 7)
        return sig_fail(rc, "malformed rule header: expected 'action proto src_addr src_port "
                            "direction dst_addr dst_port'");

    static const struct {
        const char *name;
        uint8_t action;
    } actions[] = {
        {"alert", SIG_ACTION_ALERT},       {"pass", SIG_ACTION_PASS},
        {"drop", SIG_ACTION_DROP},         {"reject", SIG_ACTION_REJECT},
        {"rejectsrc", SIG_ACTION_REJECT},  {"rejectdst", SIG_ACTION_REJECT},
        {"rejectboth", SIG_ACTION_REJECT},
    };
    size_t act = 0;
    while (act < VG_ARRAY_SIZE(actions) && strcmp(tok[0], actions[act].name) != 0)
        act++;
    if (act == VG_ARRAY_SIZE(actions))
        return sig_fail(rc, "unknown action '%s' (alert, pass, drop, reject)", tok[0]);
    r->action = actions[act].action;
    if (r->action == SIG_ACTION_DROP || r->action == SIG_ACTION_REJECT) {
        /* A passive sensor cannot block: the rule alerts, and says so once. */
        rc->ld->passive_actions++;
        if (rc->ld->err != NULL)
            fprintf(rc->ld->err,
                    "%s:%u: warning: action '%s' acts as 'alert' on a passive sensor\n", rc->file,
                    rc->line, tok[0]);
    }

    const char *proto = tok[1];
    if (strcasecmp(proto, "ip") == 0) {
        r->proto = SIG_PROTO_IP;
    } else if (strcasecmp(proto, "tcp") == 0) {
        r->proto = SIG_PROTO_TCP;
    } else if (strcasecmp(proto, "tcp-stream") == 0) {
        r->proto = SIG_PROTO_TCP;
        *ask = SIG_ASK_STREAM;
    } else if (strcasecmp(proto, "tcp-pkt") == 0) {
        r->proto = SIG_PROTO_TCP;
        *ask = SIG_ASK_PACKET;
    } else if (strcasecmp(proto, "udp") == 0) {
        r->proto = SIG_PROTO_UDP;
    } else if (strcasecmp(proto, "icmp") == 0) {
        r->proto = SIG_PROTO_ICMP;
    } else if (strcasecmp(proto, "pkthdr") == 0) {
        /* Suricata's protocol of decoder-event rules: any packet. */
        r->proto = SIG_PROTO_IP;
    } else {
        for (size_t i = 0; i < VG_ARRAY_SIZE(parsed_protocols) && r->app_proto == 0; i++) {
            if (strcasecmp(proto, parsed_protocols[i].name) == 0) {
                r->proto = parsed_protocols[i].proto;
                r->app_proto = parsed_protocols[i].app;
            }
        }
        if (r->app_proto == 0) {
            for (size_t i = 0; i < VG_ARRAY_SIZE(app_protocols); i++) {
                if (strcasecmp(proto, app_protocols[i]) == 0)
                    return sig_fail(rc, "protocol '%s' not supported yet", proto);
            }
            return sig_fail(rc, "unknown protocol '%s'", proto);
        }
    }

    if (strcmp(tok[4], "->") == 0)
        r->bidir = 0;
    else if (strcmp(tok[4], "<>") == 0)
        r->bidir = 1;
    else
        return sig_fail(rc, "bad direction '%s' (expected '->' or '<>')", tok[4]);

    if (parse_address_expr(rc, tok[2], "source address", &r->src) != 0 ||
        parse_port_expr(rc, tok[3], "source port", &r->sport) != 0 ||
        parse_address_expr(rc, tok[5], "destination address", &r->dst) != 0 ||
        parse_port_expr(rc, tok[6], "destination port", &r->dport) != 0)
        return -1;
    return 0;
}

/* ---- Options ---------------------------------------------------------------- */

/* Splits the text between the parentheses into options. A ';' ends an option
 * unless escaped with a backslash (quotes do not protect it, as in
 * Suricata). Returns the number of options, or -1 with rc->msg set; the
 * options found before an error are kept so their sid can be reported. */
static int split_options(struct sig_rule_ctx *rc, char *body, struct sig_option **out,
                         uint32_t *nout)
{
    uint32_t n = 0, cap = 0;
    struct sig_option *v = NULL;
    char *p = body;
    *out = NULL;
    *nout = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0')
            break;
        char *start = p;
        while (*p != '\0' && *p != ';') {
            if (*p == '\\' && p[1] != '\0')
                p++;
            p++;
        }
        bool terminated = *p == ';';
        if (terminated)
            *p++ = '\0';
        char *colon = strchr(start, ':');
        if (colon != NULL)
            *colon = '\0';
        char *kw = sig_trim(start);
        char *val = colon != NULL ? sig_trim(colon + 1) : NULL;
        if (*kw == '\0') {
            sig_fail(rc, "empty option");
            goto error;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            struct sig_option *nv = realloc(v, cap * sizeof(*nv));
            if (nv == NULL) {
                sig_fail(rc, "out of memory");
                goto error;
            }
            v = nv;
        }
        v[n].kw = kw;
        v[n].val = val;
        n++;
        if (!terminated) {
            sig_fail(rc, "option '%s' is not terminated by ';'", kw);
            goto error;
        }
    }
    *out = v;
    *nout = n;
    return 0;
error:
    *out = v;
    *nout = n;
    return -1;
}

int sig_once(struct sig_rule_ctx *rc, struct sig_rule_build *b, uint32_t bit, const char *kw)
{
    if (b->seen & bit)
        return sig_fail(rc, "duplicate '%s' keyword", kw);
    b->seen |= bit;
    return 0;
}

int sig_need_value(struct sig_rule_ctx *rc, const struct sig_option *o)
{
    if (o->val == NULL || *o->val == '\0')
        return sig_fail(rc, "'%s' needs a value", o->kw);
    return 0;
}

int sig_no_value(struct sig_rule_ctx *rc, const struct sig_option *o)
{
    if (o->val != NULL)
        return sig_fail(rc, "'%s' takes no value", o->kw);
    return 0;
}

/* A quoted string: the quotes are removed and backslash escapes resolved. */
char *sig_unquote(struct sig_arena *a, const char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    char *out = sig_arena_alloc(a, n + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n)
            i++;
        out[o++] = v[i];
    }
    out[o] = '\0';
    return out;
}

/* content:[!]"text|41 42|text": escapes \" \; \: \\, hex bytes between pipes. */
static int parse_content(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                         const struct sig_option *o)
{
    if (sig_need_value(rc, o) != 0)
        return -1;
    if (b->nc == SIG_MAX_CONTENTS)
        return sig_fail(rc, "too many contents (at most %d)", SIG_MAX_CONTENTS);
    const char *v = o->val;
    bool negated = false;
    if (*v == '!') {
        negated = true;
        v++;
        while (isspace((unsigned char)*v))
            v++;
    }
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return sig_fail(rc, "content must be a quoted string: %s", o->val);
    v++;
    n -= 2;
    uint8_t *pat = sig_arena_alloc(rc->ld->arena, n + 1);
    if (pat == NULL)
        return sig_fail(rc, "out of memory");
    size_t len = 0;
    bool in_hex = false;
    int nibble = -1;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (in_hex) {
            if (c == '|') {
                if (nibble >= 0)
                    return sig_fail(rc, "bad content %s: odd number of hex digits", o->val);
                in_hex = false;
            } else if (isspace((unsigned char)c)) {
                continue;
            } else if (vg_hex_value((unsigned char)c) >= 0) {
                if (nibble < 0) {
                    nibble = vg_hex_value((unsigned char)c);
                } else {
                    pat[len++] = (uint8_t)(nibble << 4 | vg_hex_value((unsigned char)c));
                    nibble = -1;
                }
            } else {
                return sig_fail(rc, "bad content %s: invalid hex character '%c'", o->val, c);
            }
        } else if (c == '|') {
            in_hex = true;
        } else if (c == '\\') {
            if (i + 1 >= n || strchr("\\;\":", v[i + 1]) == NULL)
                return sig_fail(rc, "bad content %s: invalid escape '\\%c'", o->val,
                                i + 1 < n ? v[i + 1] : ' ');
            pat[len++] = (uint8_t)v[++i];
        } else if (c == '"') {
            return sig_fail(rc, "bad content %s: unescaped '\"'", o->val);
        } else {
            pat[len++] = (uint8_t)c;
        }
    }
    if (in_hex)
        return sig_fail(rc, "bad content %s: unterminated hex block", o->val);
    if (len == 0)
        return sig_fail(rc, "bad content %s: empty pattern", o->val);
    if (len > SIG_MAX_CONTENT_LEN)
        return sig_fail(rc, "bad content: longer than %u bytes", SIG_MAX_CONTENT_LEN);
    if (b->cur_buf >= VG_BUF_COUNT)
        return sig_fail(rc, "only dataset may follow '%s'", b->sticky_kw);
    struct sig_content *ct = &b->c[b->nc];
    memset(ct, 0, sizeof(*ct));
    ct->pattern = pat;
    ct->len = (uint32_t)len;
    ct->flags = negated ? SIG_CONTENT_NEGATED : 0;
    ct->buffer = b->cur_buf;
    ct->transform = b->cur_transform;
    b->resolve[b->nc] = b->cur_resolve;
    b->pat[b->nc] = pat;
    b->nc++;
    b->sticky_used = true;
    return 0;
}

struct sig_content *sig_add_elem(struct sig_rule_ctx *rc, struct sig_rule_build *b, uint8_t kind,
                                 const void *ext)
{
    if (b->nc == SIG_MAX_CONTENTS) {
        sig_fail(rc, "too many contents and other inspection keywords (at most %d)",
                 SIG_MAX_CONTENTS);
        return NULL;
    }
    if (b->cur_buf >= VG_BUF_COUNT) {
        sig_fail(rc, "only dataset may follow '%s'", b->sticky_kw);
        return NULL;
    }
    struct sig_content *e = &b->c[b->nc];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    e->ext = ext;
    e->buffer = b->cur_buf;
    e->transform = b->cur_transform;
    b->resolve[b->nc] = b->cur_resolve;
    b->pat[b->nc] = NULL;
    b->nc++;
    b->sticky_used = true;
    return e;
}

/* The content a modifier applies to: the last one. */
struct sig_content *sig_last_content(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                                     const char *kw)
{
    if (b->nc == 0 || b->c[b->nc - 1].kind != SIG_ELEM_CONTENT) {
        sig_fail(rc, "'%s' needs a preceding content", kw);
        return NULL;
    }
    return &b->c[b->nc - 1];
}

static int parse_content_modifier(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                                  const struct sig_option *o)
{
    const char *kw = o->kw;
    struct sig_content *c = sig_last_content(rc, b, kw);
    if (c == NULL)
        return -1;

    if (strcasecmp(kw, "nocase") == 0) {
        if (sig_no_value(rc, o) != 0)
            return -1;
        c->flags |= SIG_CONTENT_NOCASE;
        return 0;
    }
    if (strcasecmp(kw, "fast_pattern") == 0) {
        /* "only" and the chop form "offset,length" select this content as
         * plain fast_pattern does: the whole content is the prefilter. */
        if (o->val != NULL && strcmp(o->val, "only") != 0) {
            uint32_t x, y;
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%s", o->val);
            char *comma = strchr(tmp, ',');
            if (comma == NULL)
                return sig_fail(rc, "bad fast_pattern value '%s'", o->val);
            *comma = '\0';
            if (!sig_parse_u32(tmp, &x) || !sig_parse_u32(comma + 1, &y))
                return sig_fail(rc, "bad fast_pattern value '%s'", o->val);
        }
        for (uint32_t i = 0; i < b->nc; i++) {
            if (&b->c[i] != c && (b->c[i].flags & SIG_CONTENT_FAST_PATTERN))
                return sig_fail(rc, "fast_pattern set on more than one content");
        }
        c->flags |= SIG_CONTENT_FAST_PATTERN;
        return 0;
    }

    if (sig_need_value(rc, o) != 0)
        return -1;
    if (c->flags & SIG_CONTENT_STARTSWITH)
        return sig_fail(rc, "'%s' cannot be mixed with startswith on the same content", kw);
    bool absolute = strcasecmp(kw, "depth") == 0 || strcasecmp(kw, "offset") == 0;
    if (absolute && (c->flags & SIG_CONTENT_RELATIVE))
        return sig_fail(rc, "'%s' cannot be mixed with distance/within on the same content", kw);
    if (!absolute && (c->flags & (SIG_CONTENT_DEPTH | SIG_CONTENT_OFFSET)))
        return sig_fail(rc, "'%s' cannot be mixed with depth/offset on the same content", kw);

    if (strcasecmp(kw, "distance") == 0) {
        int64_t v;
        if (!sig_parse_int(o->val, INT32_MIN, INT32_MAX, &v))
            return sig_fail(rc, "bad distance value '%s'", o->val);
        if (c->flags & SIG_CONTENT_DISTANCE)
            return sig_fail(rc, "duplicate 'distance' on one content");
        c->distance = (int32_t)v;
        c->flags |= SIG_CONTENT_DISTANCE;
        return 0;
    }
    uint32_t v;
    if (!sig_parse_u32(o->val, &v))
        return sig_fail(rc, "bad %s value '%s'", kw, o->val);
    if (strcasecmp(kw, "depth") == 0) {
        if (c->flags & SIG_CONTENT_DEPTH)
            return sig_fail(rc, "duplicate 'depth' on one content");
        if (v < c->len)
            return sig_fail(rc, "depth %u is smaller than the content length %u", v, c->len);
        c->depth = v;
        c->flags |= SIG_CONTENT_DEPTH;
    } else if (strcasecmp(kw, "offset") == 0) {
        if (c->flags & SIG_CONTENT_OFFSET)
            return sig_fail(rc, "duplicate 'offset' on one content");
        c->offset = v;
        c->flags |= SIG_CONTENT_OFFSET;
    } else { /* within */
        if (c->flags & SIG_CONTENT_WITHIN)
            return sig_fail(rc, "duplicate 'within' on one content");
        if (v < c->len)
            return sig_fail(rc, "within %u is smaller than the content length %u", v, c->len);
        if (v > INT32_MAX)
            return sig_fail(rc, "bad within value '%s'", o->val);
        c->within = v;
        c->flags |= SIG_CONTENT_WITHIN;
    }
    return 0;
}

static int parse_flow(struct sig_rule_ctx *rc, struct sig_rule_build *b, const char *val)
{
    struct sig_rule *r = b->r;
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", val);
    char *save = NULL;
    bool dir = false, state = false, stream = false;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        t = sig_trim(t);
        uint8_t bit = 0, value = 0;
        bool *group = &state;
        if (strcasecmp(t, "to_server") == 0 || strcasecmp(t, "from_client") == 0) {
            bit = value = VG_DF_TOSERVER;
            group = &dir;
        } else if (strcasecmp(t, "to_client") == 0 || strcasecmp(t, "from_server") == 0) {
            bit = value = VG_DF_TOCLIENT;
            group = &dir;
        } else if (strcasecmp(t, "established") == 0) {
            bit = value = VG_DF_ESTABLISHED;
        } else if (strcasecmp(t, "not_established") == 0) {
            bit = VG_DF_ESTABLISHED;
            value = 0;
        } else if (strcasecmp(t, "stateless") == 0) {
            continue; /* no constraint */
        } else if (strcasecmp(t, "only_stream") == 0) {
            b->flow_ask = SIG_ASK_STREAM;
            group = &stream;
        } else if (strcasecmp(t, "no_stream") == 0) {
            b->flow_ask = SIG_ASK_PACKET;
            group = &stream;
        } else if (strcasecmp(t, "only_frag") == 0 || strcasecmp(t, "no_frag") == 0) {
            return sig_fail(rc, "flow option '%s' not supported yet", t);
        } else {
            return sig_fail(rc, "unknown flow option '%s'", *t ? t : "(empty)");
        }
        if (*group)
            return sig_fail(rc, "conflicting flow options in '%s'", val);
        *group = true;
        r->flow_mask |= bit;
        r->flow_value |= value;
    }
    return 0;
}

/* N, !N, <N, <=N, >N, >=N, N<>M or N-M (a range excludes its ends). */
static int parse_uint_test(struct sig_rule_ctx *rc, const char *kw, const char *val, uint32_t max,
                           struct sig_uint_test *t)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", val);
    char *s = sig_trim(buf);
    int64_t a, b;
    const char *ops[] = {"<=", ">=", "<", ">", "!"};
    const uint8_t opv[] = {SIG_UINT_LE, SIG_UINT_GE, SIG_UINT_LT, SIG_UINT_GT, SIG_UINT_NE};
    for (size_t i = 0; i < VG_ARRAY_SIZE(ops); i++) {
        size_t n = strlen(ops[i]);
        if (strncmp(s, ops[i], n) == 0) {
            if (!sig_parse_int(s + n, 0, max, &a))
                return sig_fail(rc, "bad %s value '%s'", kw, val);
            t->op = opv[i];
            t->a = (uint32_t)a;
            return 0;
        }
    }
    char *sep = strstr(s, "<>");
    size_t seplen = 2;
    if (sep == NULL) {
        sep = strchr(s, '-');
        seplen = 1;
    }
    if (sep != NULL) {
        *sep = '\0';
        if (!sig_parse_int(s, 0, max, &a) || !sig_parse_int(sep + seplen, 0, max, &b))
            return sig_fail(rc, "bad %s value '%s'", kw, val);
        if (a >= b)
            return sig_fail(rc, "bad %s range '%s': the first value must be the smaller", kw, val);
        t->op = SIG_UINT_RANGE;
        t->a = (uint32_t)a;
        t->b = (uint32_t)b;
        return 0;
    }
    if (!sig_parse_int(s, 0, max, &a))
        return sig_fail(rc, "bad %s value '%s'", kw, val);
    t->op = SIG_UINT_EQ;
    t->a = (uint32_t)a;
    return 0;
}

/* The bit of a flag letter; 1 and 2 are the old names of C and E. */
static int tcp_flag_bit(char c, uint8_t *bit)
{
    static const char letters[] = "FSRPAUEC"; /* bit 0 (FIN) to bit 7 (CWR) */
    if (c == '1')
        c = 'C';
    else if (c == '2')
        c = 'E';
    const char *p = c != '\0' ? strchr(letters, toupper((unsigned char)c)) : NULL;
    if (p == NULL)
        return -1;
    *bit = (uint8_t)(1u << (p - letters));
    return 0;
}

/* [modifier]flags[modifier][,mask]: modifiers + * !, flags FSRPAUCE12, 0 for
 * none; the flags of the mask are ignored. */
static int parse_tcp_flags(struct sig_rule_ctx *rc, struct sig_rule *r, const char *kw,
                           const char *val)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", val);
    char *comma = strchr(buf, ',');
    char *mask = NULL;
    if (comma != NULL) {
        *comma = '\0';
        mask = sig_trim(comma + 1);
    }
    char *s = sig_trim(buf);
    uint8_t want = 0, keep = 0xff;
    int mod = -1;
    int nflags = 0;
    for (; *s != '\0'; s++) {
        uint8_t bit;
        int m = -1;
        if (*s == '!')
            m = SIG_TCPFLAGS_NOT;
        else if (*s == '+')
            m = SIG_TCPFLAGS_PLUS;
        else if (*s == '*')
            m = SIG_TCPFLAGS_ANY;
        if (m >= 0) {
            if (mod >= 0)
                return sig_fail(rc, "bad %s value '%s': only one modifier allowed", kw, val);
            mod = m;
        } else if (*s == '0') {
            nflags++;
        } else if (tcp_flag_bit(*s, &bit) == 0) {
            want |= bit;
            nflags++;
        } else if (!isspace((unsigned char)*s)) {
            return sig_fail(rc, "bad %s value '%s': unknown flag '%c'", kw, val, *s);
        }
    }
    if (nflags == 0)
        return sig_fail(rc, "bad %s value '%s': no flags", kw, val);
    if (mask != NULL) {
        if (*mask == '\0')
            return sig_fail(rc, "bad %s value '%s': empty mask", kw, val);
        for (; *mask != '\0'; mask++) {
            uint8_t bit;
            if (tcp_flag_bit(*mask, &bit) == 0)
                keep &= (uint8_t)~bit;
            else if (*mask != '0' && !isspace((unsigned char)*mask))
                return sig_fail(rc, "bad %s value '%s': unknown flag '%c'", kw, val, *mask);
        }
    }
    r->tcpflags_mod = (uint8_t)(mod < 0 ? SIG_TCPFLAGS_EXACT : mod);
    r->tcpflags_want = want;
    r->tcpflags_keep = keep;
    r->tests |= SIG_TEST_TCPFLAGS;
    return 0;
}

/* ---- Application-layer buffers ------------------------------------------------ */

/* Sticky buffers (Suricata 7 names and their older aliases) and the old
 * content modifiers, which move the content before them to the buffer. A
 * header buffer of both directions names its request variant here. */
static const struct buffer_keyword {
    const char *name;
    uint8_t buffer;  /* enum vg_buffer */
    uint8_t resolve; /* enum sig_buffer_resolve */
    bool modifier;   /* applies to the preceding content */
} buffer_keywords[] = {
    {"pkt_data", VG_BUF_PAYLOAD, SIG_RESOLVE_NONE, false},
    {"http.method", VG_BUF_HTTP_METHOD, SIG_RESOLVE_NONE, false},
    {"http_method", VG_BUF_HTTP_METHOD, SIG_RESOLVE_NONE, true},
    {"http.uri", VG_BUF_HTTP_URI, SIG_RESOLVE_NONE, false},
    {"http_uri", VG_BUF_HTTP_URI, SIG_RESOLVE_NONE, true},
    {"http.uri.raw", VG_BUF_HTTP_URI_RAW, SIG_RESOLVE_NONE, false},
    {"http_raw_uri", VG_BUF_HTTP_URI_RAW, SIG_RESOLVE_NONE, true},
    {"http.protocol", VG_BUF_HTTP_PROTOCOL, SIG_RESOLVE_NONE, false},
    {"http_protocol", VG_BUF_HTTP_PROTOCOL, SIG_RESOLVE_NONE, false},
    {"http.request_line", VG_BUF_HTTP_REQUEST_LINE, SIG_RESOLVE_NONE, false},
    {"http_request_line", VG_BUF_HTTP_REQUEST_LINE, SIG_RESOLVE_NONE, false},
    {"http.host", VG_BUF_HTTP_HOST, SIG_RESOLVE_NONE, false},
    {"http_host", VG_BUF_HTTP_HOST, SIG_RESOLVE_NONE, true},
    {"http.host.raw", VG_BUF_HTTP_HOST_RAW, SIG_RESOLVE_NONE, false},
    {"http_raw_host", VG_BUF_HTTP_HOST_RAW, SIG_RESOLVE_NONE, true},
    {"http.user_agent", VG_BUF_HTTP_USER_AGENT, SIG_RESOLVE_NONE, false},
    {"http_user_agent", VG_BUF_HTTP_USER_AGENT, SIG_RESOLVE_NONE, true},
    {"http.referer", VG_BUF_HTTP_REFERER, SIG_RESOLVE_NONE, false},
    {"http_referer", VG_BUF_HTTP_REFERER, SIG_RESOLVE_NONE, false},
    {"http.header", VG_BUF_HTTP_HEADER, SIG_RESOLVE_DIRECTION, false},
    {"http_header", VG_BUF_HTTP_HEADER, SIG_RESOLVE_DIRECTION, true},
    {"http.header.raw", VG_BUF_HTTP_HEADER_RAW, SIG_RESOLVE_DIRECTION, false},
    {"http_raw_header", VG_BUF_HTTP_HEADER_RAW, SIG_RESOLVE_DIRECTION, true},
    {"http.header_names", VG_BUF_HTTP_HEADER_NAMES, SIG_RESOLVE_DIRECTION, false},
    {"http_header_names", VG_BUF_HTTP_HEADER_NAMES, SIG_RESOLVE_DIRECTION, false},
    {"http.connection", VG_BUF_HTTP_CONNECTION, SIG_RESOLVE_DIRECTION, false},
    {"http_connection", VG_BUF_HTTP_CONNECTION, SIG_RESOLVE_DIRECTION, false},
    {"http.cookie", VG_BUF_HTTP_COOKIE, SIG_RESOLVE_DIRECTION, false},
    {"http_cookie", VG_BUF_HTTP_COOKIE, SIG_RESOLVE_DIRECTION, true},
    {"http.content_type", VG_BUF_HTTP_CONTENT_TYPE, SIG_RESOLVE_DIRECTION, false},
    {"http_content_type", VG_BUF_HTTP_CONTENT_TYPE, SIG_RESOLVE_DIRECTION, false},
    {"http.content_len", VG_BUF_HTTP_CONTENT_LEN, SIG_RESOLVE_DIRECTION, false},
    {"http_content_len", VG_BUF_HTTP_CONTENT_LEN, SIG_RESOLVE_DIRECTION, false},
    {"http.start", VG_BUF_HTTP_START, SIG_RESOLVE_DIRECTION, false},
    {"http_start", VG_BUF_HTTP_START, SIG_RESOLVE_DIRECTION, false},
    {"http.request_body", VG_BUF_HTTP_REQUEST_BODY, SIG_RESOLVE_NONE, false},
    {"http_client_body", VG_BUF_HTTP_REQUEST_BODY, SIG_RESOLVE_NONE, true},
    {"http.stat_code", VG_BUF_HTTP_STAT_CODE, SIG_RESOLVE_NONE, false},
    {"http_stat_code", VG_BUF_HTTP_STAT_CODE, SIG_RESOLVE_NONE, true},
    {"http.stat_msg", VG_BUF_HTTP_STAT_MSG, SIG_RESOLVE_NONE, false},
    {"http_stat_msg", VG_BUF_HTTP_STAT_MSG, SIG_RESOLVE_NONE, true},
    {"http.response_line", VG_BUF_HTTP_RESPONSE_LINE, SIG_RESOLVE_NONE, false},
    {"http_response_line", VG_BUF_HTTP_RESPONSE_LINE, SIG_RESOLVE_NONE, false},
    {"http.response_body", VG_BUF_HTTP_RESPONSE_BODY, SIG_RESOLVE_NONE, false},
    {"http_server_body", VG_BUF_HTTP_RESPONSE_BODY, SIG_RESOLVE_NONE, true},
    {"http.server", VG_BUF_HTTP_SERVER, SIG_RESOLVE_NONE, false},
    {"http.location", VG_BUF_HTTP_LOCATION, SIG_RESOLVE_NONE, false},
    {"file.data", VG_BUF_HTTP_RESPONSE_BODY, SIG_RESOLVE_FILE_DATA, false},
    {"file_data", VG_BUF_HTTP_RESPONSE_BODY, SIG_RESOLVE_FILE_DATA, false},
    {"tls.sni", VG_BUF_TLS_SNI, SIG_RESOLVE_NONE, false},
    {"tls_sni", VG_BUF_TLS_SNI, SIG_RESOLVE_NONE, false},
    {"tls.cert_subject", VG_BUF_TLS_CERT_SUBJECT, SIG_RESOLVE_NONE, false},
    {"tls_cert_subject", VG_BUF_TLS_CERT_SUBJECT, SIG_RESOLVE_NONE, false},
    {"tls.cert_issuer", VG_BUF_TLS_CERT_ISSUER, SIG_RESOLVE_NONE, false},
    {"tls_cert_issuer", VG_BUF_TLS_CERT_ISSUER, SIG_RESOLVE_NONE, false},
    {"tls.cert_serial", VG_BUF_TLS_CERT_SERIAL, SIG_RESOLVE_NONE, false},
    {"tls_cert_serial", VG_BUF_TLS_CERT_SERIAL, SIG_RESOLVE_NONE, false},
    {"tls.cert_fingerprint", VG_BUF_TLS_CERT_FINGERPRINT, SIG_RESOLVE_NONE, false},
    {"tls_cert_fingerprint", VG_BUF_TLS_CERT_FINGERPRINT, SIG_RESOLVE_NONE, false},
    {"ja3.hash", VG_BUF_JA3_HASH, SIG_RESOLVE_NONE, false},
    {"ja3_hash", VG_BUF_JA3_HASH, SIG_RESOLVE_NONE, false},
    {"ja3.string", VG_BUF_JA3_STRING, SIG_RESOLVE_NONE, false},
    {"ja3_string", VG_BUF_JA3_STRING, SIG_RESOLVE_NONE, false},
    {"ja3s.hash", VG_BUF_JA3S_HASH, SIG_RESOLVE_NONE, false},
    {"ja3s.string", VG_BUF_JA3S_STRING, SIG_RESOLVE_NONE, false},
    {"ja4.hash", VG_BUF_JA4_HASH, SIG_RESOLVE_NONE, false},
    {"tls.alpn", VG_BUF_TLS_ALPN, SIG_RESOLVE_NONE, false},
    {"dns.query", VG_BUF_DNS_QUERY, SIG_RESOLVE_NONE, false},
    {"dns_query", VG_BUF_DNS_QUERY, SIG_RESOLVE_NONE, false},
    {"ssh.proto", VG_BUF_SSH_PROTO, SIG_RESOLVE_NONE, false},
    {"ssh_proto", VG_BUF_SSH_PROTO, SIG_RESOLVE_NONE, false},
    {"ssh.software", VG_BUF_SSH_SOFTWARE, SIG_RESOLVE_NONE, false},
    {"ssh_software", VG_BUF_SSH_SOFTWARE, SIG_RESOLVE_NONE, false},
    {"ssh.hassh", VG_BUF_SSH_HASSH, SIG_RESOLVE_NONE, false},
    {"ssh.hassh.string", VG_BUF_SSH_HASSH_STRING, SIG_RESOLVE_NONE, false},
    {"ssh.hassh.server", VG_BUF_SSH_HASSH_SERVER, SIG_RESOLVE_NONE, false},
    {"ssh.hassh.server.string", VG_BUF_SSH_HASSH_SERVER_STRING, SIG_RESOLVE_NONE, false},
};

static const struct buffer_keyword *find_buffer_keyword(const char *kw)
{
    for (size_t i = 0; i < VG_ARRAY_SIZE(buffer_keywords); i++) {
        if (strcasecmp(kw, buffer_keywords[i].name) == 0)
            return &buffer_keywords[i];
    }
    return NULL;
}

/* The response variant of a header buffer of both directions. */
static uint8_t response_variant(uint8_t b)
{
    switch (b) {
    case VG_BUF_HTTP_HEADER:
        return VG_BUF_HTTP_RESPONSE_HEADER;
    case VG_BUF_HTTP_HEADER_RAW:
        return VG_BUF_HTTP_RESPONSE_HEADER_RAW;
    case VG_BUF_HTTP_HEADER_NAMES:
        return VG_BUF_HTTP_RESPONSE_HEADER_NAMES;
    case VG_BUF_HTTP_CONNECTION:
        return VG_BUF_HTTP_RESPONSE_CONNECTION;
    case VG_BUF_HTTP_COOKIE:
        return VG_BUF_HTTP_SET_COOKIE;
    case VG_BUF_HTTP_CONTENT_TYPE:
        return VG_BUF_HTTP_RESPONSE_CONTENT_TYPE;
    case VG_BUF_HTTP_CONTENT_LEN:
        return VG_BUF_HTTP_RESPONSE_CONTENT_LEN;
    case VG_BUF_HTTP_START:
        return VG_BUF_HTTP_RESPONSE_START;
    default:
        return b;
    }
}

/* A sticky buffer must be followed by a content before the next one (or the
 * end of the rule). */
static int check_sticky_used(struct sig_rule_ctx *rc, const struct sig_rule_build *b)
{
    if (b->sticky_kw != NULL && !b->sticky_used)
        return sig_fail(rc, "sticky buffer '%s' is not followed by a content", b->sticky_kw);
    return 0;
}

static int parse_buffer_keyword(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                                const struct sig_option *o, const struct buffer_keyword *bk)
{
    if (sig_no_value(rc, o) != 0)
        return -1;
    if (bk->modifier) {
        struct sig_content *c = sig_last_content(rc, b, o->kw);
        if (c == NULL)
            return -1;
        if (c->buffer != VG_BUF_PAYLOAD)
            return sig_fail(rc, "'%s' applied to a content already in buffer '%s'", o->kw,
                            sig_buffer_info(c->buffer)->name);
        c->buffer = bk->buffer;
        b->resolve[b->nc - 1] = bk->resolve;
        return 0;
    }
    if (check_sticky_used(rc, b) != 0)
        return -1;
    b->cur_buf = bk->buffer;
    b->cur_resolve = bk->resolve;
    b->cur_transform = SIG_XFORM_NONE;
    b->sticky_kw = bk->buffer == VG_BUF_PAYLOAD ? NULL : o->kw;
    b->sticky_used = false;
    return 0;
}

static bool is_modifier(const char *kw)
{
    static const char *const mods[] = {"nocase",   "depth",  "offset",
                                       "distance", "within", "fast_pattern"};
    for (size_t i = 0; i < VG_ARRAY_SIZE(mods); i++) {
        if (strcasecmp(kw, mods[i]) == 0)
            return true;
    }
    return false;
}

/* metadata:key value[, key value]...: pairs without a value are ignored, as
 * are pairs beyond SIG_MAX_METADATA. */
static int parse_metadata(struct sig_rule_ctx *rc, struct sig_rule_build *b, const char *val)
{
    char *copy = sig_arena_strdup(rc->ld->arena, val);
    if (copy == NULL)
        return sig_fail(rc, "out of memory");
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        t = sig_trim(t);
        char *sp = t;
        while (*sp != '\0' && !isspace((unsigned char)*sp))
            sp++;
        if (*sp == '\0' || b->nmetadata == SIG_MAX_METADATA)
            continue;
        *sp = '\0';
        b->metadata[b->nmetadata].key = t;
        b->metadata[b->nmetadata].value = sig_trim(sp + 1);
        b->nmetadata++;
    }
    return 0;
}

/* The metadata pairs grouped by key, keys in first-seen order. */
static int finish_metadata(struct sig_rule_ctx *rc, struct sig_rule_build *b)
{
    if (b->nmetadata == 0)
        return 0;
    struct vg_rule_kv *out = sig_arena_alloc(rc->ld->arena, b->nmetadata * sizeof(*out));
    if (out == NULL)
        return sig_fail(rc, "out of memory");
    bool placed[SIG_MAX_METADATA] = {false};
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->nmetadata; i++) {
        if (placed[i])
            continue;
        for (uint32_t k = i; k < b->nmetadata; k++) {
            if (!placed[k] && strcmp(b->metadata[k].key, b->metadata[i].key) == 0) {
                placed[k] = true;
                out[n++] = b->metadata[k];
            }
        }
    }
    b->r->meta.metadata = out;
    b->r->meta.nmetadata = (uint16_t)n;
    return 0;
}

static int parse_option(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                        const struct sig_option *o)
{
    struct sig_rule *r = b->r;
    const char *kw = o->kw;
    struct sig_arena *a = rc->ld->arena;

    if (strcasecmp(kw, "content") == 0)
        return parse_content(rc, b, o);
    if (is_modifier(kw))
        return parse_content_modifier(rc, b, o);
    const struct buffer_keyword *bk = find_buffer_keyword(kw);
    if (bk != NULL)
        return parse_buffer_keyword(rc, b, o, bk);
    if (strcasecmp(kw, "uricontent") == 0) {
        /* a content in the normalised URI, whatever sticky buffer is in force */
        const bool used = b->sticky_used;
        if (parse_content(rc, b, o) != 0)
            return -1;
        b->c[b->nc - 1].buffer = VG_BUF_HTTP_URI;
        b->c[b->nc - 1].transform = SIG_XFORM_NONE;
        b->resolve[b->nc - 1] = SIG_RESOLVE_NONE;
        b->sticky_used = used;
        return 0;
    }

    if (strcasecmp(kw, "msg") == 0) {
        if (sig_once(rc, b, SIG_SEEN_MSG, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        b->msg = sig_unquote(a, o->val);
        return b->msg != NULL ? 0 : sig_fail(rc, "out of memory");
    }
    if (strcasecmp(kw, "sid") == 0) {
        if (sig_once(rc, b, SIG_SEEN_SID, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        if (!sig_parse_u32(o->val, &r->meta.sid) || r->meta.sid == 0)
            return sig_fail(rc, "bad sid value '%s'", o->val);
        return 0;
    }
    if (strcasecmp(kw, "rev") == 0) {
        if (sig_once(rc, b, SIG_SEEN_REV, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        return sig_parse_u32(o->val, &r->meta.rev) ? 0 : sig_fail(rc, "bad rev value '%s'", o->val);
    }
    if (strcasecmp(kw, "gid") == 0) {
        if (sig_once(rc, b, SIG_SEEN_GID, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        return sig_parse_u32(o->val, &r->meta.gid) ? 0 : sig_fail(rc, "bad gid value '%s'", o->val);
    }
    if (strcasecmp(kw, "classtype") == 0) {
        if (sig_once(rc, b, SIG_SEEN_CLASSTYPE, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        b->classtype = sig_class_find(rc->ld->classes, o->val);
        if (b->classtype == NULL)
            return sig_fail(rc, "unknown classtype '%s'", o->val);
        return 0;
    }
    if (strcasecmp(kw, "priority") == 0) {
        if (sig_once(rc, b, SIG_SEEN_PRIORITY, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        int64_t v;
        if (!sig_parse_int(o->val, 1, 255, &v))
            return sig_fail(rc, "bad priority value '%s' (1 to 255)", o->val);
        b->has_priority = true;
        b->priority = (uint32_t)v;
        return 0;
    }
    if (strcasecmp(kw, "reference") == 0)
        return sig_need_value(rc, o); /* accepted; alerts do not show references */
    if (strcasecmp(kw, "metadata") == 0) {
        if (sig_need_value(rc, o) != 0)
            return -1;
        return parse_metadata(rc, b, o->val);
    }
    if (strcasecmp(kw, "target") == 0) {
        if (sig_once(rc, b, SIG_SEEN_TARGET, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        if (strcmp(o->val, "src_ip") == 0)
            r->meta.target = VG_TARGET_SRC;
        else if (strcmp(o->val, "dest_ip") == 0)
            r->meta.target = VG_TARGET_DEST;
        else
            return sig_fail(rc, "bad target value '%s' (src_ip or dest_ip)", o->val);
        return 0;
    }
    if (strcasecmp(kw, "flow") == 0) {
        if (sig_once(rc, b, SIG_SEEN_FLOW, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        return parse_flow(rc, b, o->val);
    }
    if (strcasecmp(kw, "dsize") == 0) {
        if (sig_once(rc, b, SIG_SEEN_DSIZE, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        r->tests |= SIG_TEST_DSIZE;
        return parse_uint_test(rc, kw, o->val, 65535, &r->dsize);
    }
    if (strcasecmp(kw, "itype") == 0) {
        if (sig_once(rc, b, SIG_SEEN_ITYPE, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        r->tests |= SIG_TEST_ITYPE;
        return parse_uint_test(rc, kw, o->val, 255, &r->itype);
    }
    if (strcasecmp(kw, "icode") == 0) {
        if (sig_once(rc, b, SIG_SEEN_ICODE, kw) != 0 || sig_need_value(rc, o) != 0)
            return -1;
        r->tests |= SIG_TEST_ICODE;
        return parse_uint_test(rc, kw, o->val, 255, &r->icode);
    }
    if (strcasecmp(kw, "flags") == 0 || strcasecmp(kw, "tcp.flags") == 0) {
        if (sig_once(rc, b, SIG_SEEN_FLAGS, "flags") != 0 || sig_need_value(rc, o) != 0)
            return -1;
        return parse_tcp_flags(rc, r, kw, o->val);
    }
    static int (*const keyword_parsers[])(struct sig_rule_ctx *, struct sig_rule_build *,
                                          const struct sig_option *) = {
        sig_kw_pcre,  sig_kw_bytes, sig_kw_flowbits, sig_kw_threshold, sig_kw_dataset,
        sig_kw_iprep, sig_kw_event, sig_kw_detector, sig_kw_xbits,
    };
    for (size_t i = 0; i < VG_ARRAY_SIZE(keyword_parsers); i++) {
        int ret = keyword_parsers[i](rc, b, o);
        if (ret <= 0)
            return ret;
    }
    return sig_fail(rc, "unsupported keyword '%s'", kw);
}

/* Settles the buffer of every content now that the rule's direction is
 * known; a rule with a content in an application buffer gets its protocol,
 * its stage and its contents grouped by buffer. */
static int resolve_buffers(struct sig_rule_ctx *rc, struct sig_rule_build *b)
{
    struct sig_rule *r = b->r;
    const uint8_t dir = r->flow_mask & r->flow_value;
    bool to_client = (dir & VG_DF_TOCLIENT) != 0;
    bool app = false;
    for (uint32_t i = 0; i < b->nc; i++) {
        const struct sig_buffer_info *info = sig_buffer_info(b->c[i].buffer);
        if (b->resolve[i] == SIG_RESOLVE_NONE && info->stage >= VG_STAGE_RESPONSE &&
            !info->both_dirs)
            to_client = true; /* a response-only buffer */
    }
    for (uint32_t i = 0; i < b->nc; i++) {
        struct sig_content *c = &b->c[i];
        if (b->resolve[i] == SIG_RESOLVE_DIRECTION && to_client)
            c->buffer = response_variant(c->buffer);
        else if (b->resolve[i] == SIG_RESOLVE_FILE_DATA)
            c->buffer =
                (dir & VG_DF_TOSERVER) ? VG_BUF_HTTP_REQUEST_BODY : VG_BUF_HTTP_RESPONSE_BODY;
        app |= c->buffer != VG_BUF_PAYLOAD;
    }
    if (!app)
        return 0;

    uint8_t stage = VG_STAGE_NONE;
    for (uint32_t i = 0; i < b->nc; i++) {
        const struct sig_buffer_info *info = sig_buffer_info(b->c[i].buffer);
        if (b->c[i].buffer == VG_BUF_PAYLOAD)
            continue;
        if (r->app_proto != 0 && r->app_proto != info->proto)
            return sig_fail(rc, "buffer '%s' cannot be used in a rule for %s", info->name,
                            vg_app_proto_name((enum vg_app_proto)r->app_proto));
        r->app_proto = info->proto;
        uint8_t s = info->both_dirs && to_client ? VG_STAGE_RESPONSE : info->stage;
        if (s > stage)
            stage = s;
    }
    r->app_stage = stage;

    /* Group by buffer, in the order buffers first appear, keeping the order
     * of the contents within each. */
    struct sig_content c[SIG_MAX_CONTENTS];
    uint8_t *pat[SIG_MAX_CONTENTS];
    struct sig_buffer_group groups[SIG_MAX_CONTENTS];
    bool placed[SIG_MAX_CONTENTS] = {false};
    uint32_t n = 0, ng = 0;
    for (uint32_t i = 0; i < b->nc; i++) {
        if (placed[i])
            continue;
        struct sig_buffer_group *g = &groups[ng++];
        g->buffer = b->c[i].buffer;
        g->transform = b->c[i].transform;
        g->first = (uint16_t)n;
        g->all_negated = true;
        for (uint32_t k = i; k < b->nc; k++) {
            if (placed[k] || b->c[k].buffer != g->buffer || b->c[k].transform != g->transform)
                continue;
            placed[k] = true;
            g->all_negated &= (b->c[k].flags & SIG_CONTENT_NEGATED) != 0;
            c[n] = b->c[k];
            pat[n] = b->pat[k];
            n++;
        }
        g->n = (uint16_t)(n - g->first);
    }
    memcpy(b->c, c, n * sizeof(c[0]));
    memcpy(b->pat, pat, n * sizeof(pat[0]));
    r->groups = sig_arena_memdup(rc->ld->arena, groups, ng * sizeof(groups[0]));
    if (r->groups == NULL)
        return sig_fail(rc, "out of memory");
    r->ngroups = (uint8_t)ng;
    return 0;
}

/* Whether a positive content's match position decides the outcome of a
 * later element in its buffer: a within or a relative endswith, or a
 * relative element other than content, reached before another element sets
 * the cursor anew (a positive content, byte_jump or pcre that is not
 * relative). Negated contents and non-relative tests pass the cursor on. */
static bool later_element_depends(const struct sig_rule_build *b, uint32_t i)
{
    const struct sig_content *c = &b->c[i];
    for (uint32_t k = i + 1; k < b->nc; k++) {
        const struct sig_content *e = &b->c[k];
        if (e->buffer != c->buffer || e->transform != c->transform)
            return false;
        if (e->kind == SIG_ELEM_CONTENT) {
            if ((e->flags & SIG_CONTENT_WITHIN) ||
                ((e->flags & SIG_CONTENT_ENDSWITH) && (e->flags & SIG_CONTENT_RELATIVE)))
                return true;
            if (!(e->flags & SIG_CONTENT_NEGATED))
                return false;
            continue;
        }
        if (e->flags & SIG_ELEM_RELATIVE)
            return true;
        if (e->kind == SIG_ELEM_BYTE_JUMP || e->kind == SIG_ELEM_PCRE)
            return false;
    }
    return false;
}

/* Content flags that depend on neighbours, case folding and the choice of
 * the fast pattern: an explicit fast_pattern, else the longest positive
 * content, one in an application buffer before one in the payload. A
 * content of a transformed buffer prefilters the raw buffer without the
 * bytes the transform adds (sig_prefilter_skip): one made only of those
 * cannot be the fast pattern. */
static int finish_contents(struct sig_rule_ctx *rc, struct sig_rule_build *b)
{
    struct sig_rule *r = b->r;
    if (check_sticky_used(rc, b) != 0 || resolve_buffers(rc, b) != 0)
        return -1;
    int32_t explicit_fp = -1, longest = -1;
    for (uint32_t i = 0; i < b->nc; i++) {
        struct sig_content *c = &b->c[i];
        if (c->kind != SIG_ELEM_CONTENT)
            continue;
        if ((c->transform & SIG_XFORM_LOWERCASE) && !(c->flags & SIG_CONTENT_NOCASE)) {
            for (uint32_t k = 0; k < c->len; k++) {
                if (b->pat[i][k] != sig_lower(b->pat[i][k]))
                    return sig_fail(rc,
                                    "a content with an upper-case letter ('%c' at byte %u) "
                                    "in a buffer that to_lowercase folds could never match",
                                    b->pat[i][k], k + 1);
            }
        }
        if (c->flags & SIG_CONTENT_NOCASE) {
            for (uint32_t k = 0; k < c->len; k++)
                b->pat[i][k] = sig_lower(b->pat[i][k]);
        }
        /* relative modifiers chain within one buffer */
        if (!(c->flags & SIG_CONTENT_NEGATED) && later_element_depends(b, i))
            c->flags |= SIG_CONTENT_WITHIN_NEXT;
        if ((c->flags & SIG_CONTENT_NEGATED) || c->len <= sig_prefilter_skip(c)) {
            /* a negated content cannot prefilter: fast_pattern is ignored */
            c->flags &= ~SIG_CONTENT_FAST_PATTERN;
            continue;
        }
        if (c->flags & SIG_CONTENT_FAST_PATTERN)
            explicit_fp = (int32_t)i;
        if (longest < 0) {
            longest = (int32_t)i;
            continue;
        }
        const struct sig_content *best = &b->c[longest];
        const bool in_app = c->buffer != VG_BUF_PAYLOAD;
        const bool best_in_app = best->buffer != VG_BUF_PAYLOAD;
        if (in_app != best_in_app
                ? in_app
                : c->len - sig_prefilter_skip(c) > best->len - sig_prefilter_skip(best))
            longest = (int32_t)i;
    }
    r->fast = explicit_fp >= 0 ? explicit_fp : longest;
    /* No usable content: a pcre Hyperscan can prefilter, one in an
     * application buffer before one in the payload. Not one of a transformed
     * buffer: the prefilter scans the raw bytes, which the regex was not
     * written for. */
    for (uint32_t i = 0; i < b->nc && r->fast < 0; i++) {
        if (b->c[i].buffer != VG_BUF_PAYLOAD && b->c[i].transform == SIG_XFORM_NONE &&
            sig_pcre_prefilter(rc->ld->arena, &b->c[i]))
            r->fast = (int32_t)i;
    }
    for (uint32_t i = 0; i < b->nc && r->fast < 0; i++) {
        if (b->c[i].transform == SIG_XFORM_NONE && sig_pcre_prefilter(rc->ld->arena, &b->c[i]))
            r->fast = (int32_t)i;
    }
    r->ncontents = b->nc;
    if (b->nc > 0) {
        r->contents = sig_arena_memdup(rc->ld->arena, b->c, b->nc * sizeof(b->c[0]));
        if (r->contents == NULL)
            return sig_fail(rc, "out of memory");
    }
    return 0;
}

/* Where the content is inspected (enum sig_inspect), from the protocol, the
 * flow keyword and what the rule tests. */
static int choose_inspection(struct sig_rule_ctx *rc, struct sig_rule_build *b)
{
    struct sig_rule *r = b->r;
    if (b->proto_ask != 0 && b->flow_ask != 0 && b->proto_ask != b->flow_ask)
        return sig_fail(rc, "flow:%s contradicts protocol '%s'",
                        b->flow_ask == SIG_ASK_STREAM ? "only_stream" : "no_stream",
                        b->proto_ask == SIG_ASK_STREAM ? "tcp-stream" : "tcp-pkt");
    const uint32_t ask = b->proto_ask | b->flow_ask;
    if (r->app_stage != 0)
        return 0; /* inspected on transactions only */
    if (ask == SIG_ASK_STREAM) {
        const char *who = b->proto_ask ? "protocol 'tcp-stream'" : "flow:only_stream";
        if (r->proto != SIG_PROTO_TCP && r->proto != SIG_PROTO_IP)
            return sig_fail(rc, "%s needs a tcp or ip rule", who);
        /* Only content is inspected on the stream: a pcre fast pattern has
         * no fixed length to pin at a stream position. */
        if (r->fast < 0 || b->c[r->fast].kind != SIG_ELEM_CONTENT)
            return sig_fail(rc, "%s needs a content to inspect on the stream", who);
        if (r->tests & SIG_TEST_DSIZE)
            return sig_fail(rc, "%s cannot be used with dsize, a packet test", who);
        if (b->needs_end != NULL)
            return sig_fail(rc, "%s cannot be used with %s: a stream has no end to test", who,
                            b->needs_end);
        r->inspect = SIG_INSPECT_STREAM;
        return 0;
    }
    /* A rule whose fast pattern is a pcre is a packet rule: the stream
     * matcher pins a literal fast pattern at its match end. */
    const bool streamable = (r->proto == SIG_PROTO_TCP || r->proto == SIG_PROTO_IP) &&
                            r->fast >= 0 && b->c[r->fast].kind == SIG_ELEM_CONTENT &&
                            !(r->tests & SIG_TEST_DSIZE) && b->needs_end == NULL;
    r->inspect = ask == 0 && streamable ? SIG_INSPECT_STREAM_OR_PACKET : SIG_INSPECT_PACKET;
    return 0;
}

/* ---- Duplicate sids ---------------------------------------------------------- */

static uint32_t sid_hash(uint32_t gid, uint32_t sid, uint32_t cap)
{
    uint64_t key = ((uint64_t)gid << 32) | sid;
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

/* The slot of gid:sid: it holds the index + 1 of the rule already loaded
 * with it, or 0 where that rule would go. */
static uint32_t *sid_slot(struct sig_loader *ld, uint32_t gid, uint32_t sid)
{
    uint32_t h = sid_hash(gid, sid, ld->sid_cap);
    for (;;) {
        uint32_t v = ld->sid_slots[h];
        if (v == 0)
            return &ld->sid_slots[h];
        const struct vg_rule_meta *m = &ld->rules[v - 1].meta;
        if (m->sid == sid && m->gid == gid)
            return &ld->sid_slots[h];
        h = (h + 1) & (ld->sid_cap - 1);
    }
}

/* Makes room for n more rules (a rule and its twin) in the rule array and
 * the sid table. */
static int loader_reserve(struct sig_loader *ld, uint32_t n)
{
    if (ld->nrules + n > ld->cap) {
        uint32_t cap = ld->cap ? ld->cap * 2 : 256;
        struct sig_rule *v = realloc(ld->rules, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        ld->rules = v;
        ld->cap = cap;
    }
    if ((uint64_t)(ld->nrules + n) * 2 > ld->sid_cap) {
        uint32_t cap = ld->sid_cap ? ld->sid_cap * 2 : 1024;
        uint32_t *slots = calloc(cap, sizeof(*slots));
        if (slots == NULL)
            return -1;
        uint32_t *old = ld->sid_slots;
        uint32_t old_cap = ld->sid_cap;
        ld->sid_slots = slots;
        ld->sid_cap = cap;
        for (uint32_t i = 0; i < old_cap; i++) {
            if (old[i] != 0) {
                const struct vg_rule_meta *m = &ld->rules[old[i] - 1].meta;
                *sid_slot(ld, m->gid, m->sid) = old[i];
            }
        }
        free(old);
    }
    return 0;
}

/* ---- One rule ---------------------------------------------------------------- */

/* Finds the sid among the options, so every message about the rule can name
 * it. */
static void prescan_sid(struct sig_rule_ctx *rc, const struct sig_option *opts, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint32_t sid;
        if (strcasecmp(opts[i].kw, "sid") == 0 && opts[i].val != NULL &&
            sig_parse_u32(opts[i].val, &sid) && sid != 0) {
            rc->has_sid = true;
            rc->sid = sid;
            return;
        }
    }
}

/* Whether the rule inspects the response as well as the request: it says
 * neither flow:to_server nor flow:to_client, names a header buffer of both
 * directions, and names no buffer of one direction only. */
static bool needs_response_twin(const struct sig_rule_build *b)
{
    const struct sig_rule *r = b->r;
    if (r->flow_mask & r->flow_value & (VG_DF_TOSERVER | VG_DF_TOCLIENT))
        return false;
    bool both = false;
    for (uint32_t i = 0; i < b->nc; i++) {
        if (b->resolve[i] == SIG_RESOLVE_DIRECTION)
            both = true;
        else if (b->resolve[i] != SIG_RESOLVE_NONE || b->c[i].buffer != VG_BUF_PAYLOAD)
            return false;
    }
    return both;
}

/* Parses one rule into *r. A rule that also inspects the response gets its
 * second entry in *twin and *has_twin set. */
static int parse_rule_text(struct sig_rule_ctx *rc, char *text, struct sig_rule *r,
                           struct sig_rule *twin, bool *has_twin)
{
    /* The option list starts at the first '(' (the header never holds one)
     * and must end the rule. */
    char *open = strchr(text, '(');
    if (open == NULL)
        return sig_fail(rc, "rule has no option list '(...)'");
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    const bool closed = text + n - 1 > open && text[n - 1] == ')';
    text[closed ? n - 1 : n] = '\0';
    *open = '\0';

    struct sig_option *opts = NULL;
    uint32_t nopts = 0;
    int split_rc = split_options(rc, open + 1, &opts, &nopts);
    char split_msg[SIG_ERR_MSG_LEN];
    snprintf(split_msg, sizeof(split_msg), "%s", rc->msg);
    /* even a rule cut short can be named by its sid */
    prescan_sid(rc, opts, nopts);
    if (!closed) {
        free(opts);
        return sig_fail(rc, "unterminated option list (missing ')')");
    }

    int ret = -1;
    uint32_t proto_ask = 0;
    if (parse_header(rc, text, r, &proto_ask) != 0)
        goto out;
    if (split_rc != 0) {
        snprintf(rc->msg, sizeof(rc->msg), "%s", split_msg);
        goto out;
    }

    struct sig_rule_build *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        sig_fail(rc, "out of memory");
        goto out;
    }
    b->r = r;
    b->proto_ask = proto_ask;
    r->meta.gid = 1;
    for (uint32_t i = 0; i < nopts; i++) {
        if (parse_option(rc, b, &opts[i]) != 0) {
            free(b);
            goto out;
        }
    }
    if (!(b->seen & SIG_SEEN_SID)) {
        free(b);
        sig_fail(rc, "rule has no sid");
        goto out;
    }
    if (sig_event_finish(rc, b) != 0 || sig_detector_finish(rc, b) != 0) {
        free(b);
        goto out;
    }
    /* The response twin starts from the unresolved build: as flow:to_client,
     * its header buffers resolve to the response variants. */
    struct sig_rule_build *tb = NULL;
    if (needs_response_twin(b)) {
        tb = malloc(sizeof(*tb));
        if (tb == NULL) {
            free(b);
            sig_fail(rc, "out of memory");
            goto out;
        }
        *tb = *b;
        *twin = *r;
        tb->r = twin;
        twin->flow_mask |= VG_DF_TOCLIENT;
        twin->flow_value |= VG_DF_TOCLIENT;
        twin->response_twin = 1;
    }
    if (finish_contents(rc, b) != 0 || choose_inspection(rc, b) != 0 ||
        (tb != NULL && (finish_contents(rc, tb) != 0 || choose_inspection(rc, tb) != 0)) ||
        finish_metadata(rc, b) != 0) {
        free(tb);
        free(b);
        goto out;
    }
    r->meta.msg = b->msg != NULL ? b->msg : "";
    r->meta.classtype = b->classtype != NULL ? b->classtype->name : NULL;
    r->meta.category = b->classtype != NULL ? b->classtype->desc : "";
    r->meta.priority = b->has_priority        ? b->priority
                       : b->classtype != NULL ? b->classtype->priority
                                              : 3;
    if (tb != NULL) {
        twin->meta = r->meta;
        *has_twin = true;
    }
    free(tb);
    free(b);
    ret = 0;
out:
    free(opts);
    return ret;
}

/* The cause of a skipped rule, for the counts vigil -T shows: a message
 * that names what vigil does not support is its own cause; otherwise its
 * words before the first value it quotes or details it adds ("bad content
 * \"x\": odd number of hex digits" -> "bad content"). */
static void skip_reason_of(const char *msg, char *out, size_t outlen)
{
    size_t n = strlen(msg);
    if (strncmp(msg, "unsupported keyword", 19) != 0 && strstr(msg, "not supported") == NULL &&
        strstr(msg, "not raised by vigil") == NULL) {
        /* A message opening with a quoted keyword keeps it. */
        size_t from = 0;
        if (msg[0] == '\'') {
            const char *close = strchr(msg + 1, '\'');
            from = close != NULL ? (size_t)(close - msg) + 1 : 0;
        }
        size_t cut = from + strcspn(msg + from, ":'\",(");
        while (cut > 0 && msg[cut - 1] == ' ')
            cut--;
        if (cut > 0)
            n = cut;
    }
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, msg, n);
    out[n] = '\0';
}

static void count_skip_reason(struct sig_loader *ld, const char *msg)
{
    char reason[160];
    skip_reason_of(msg, reason, sizeof(reason));
    for (uint32_t i = 0; i < ld->nskip_reasons; i++) {
        if (strcmp(ld->skip_reasons[i].reason, reason) == 0) {
            ld->skip_reasons[i].count++;
            return;
        }
    }
    if (ld->nskip_reasons == ld->skip_reasons_cap) {
        uint32_t cap = ld->skip_reasons_cap ? ld->skip_reasons_cap * 2 : 16;
        struct vg_skip_reason *v = realloc(ld->skip_reasons, cap * sizeof(*v));
        if (v == NULL)
            return; /* the rule is still counted in skipped */
        ld->skip_reasons = v;
        ld->skip_reasons_cap = cap;
    }
    const char *copy = sig_arena_strdup(ld->arena, reason);
    if (copy == NULL)
        return;
    ld->skip_reasons[ld->nskip_reasons].reason = copy;
    ld->skip_reasons[ld->nskip_reasons].count = 1;
    ld->nskip_reasons++;
}

int sig_parse_rule(struct sig_loader *ld, const char *file, uint32_t line, const char *text)
{
    struct sig_rule_ctx rc = {.ld = ld, .file = file, .line = line};
    struct sig_rule r, twin;
    memset(&r, 0, sizeof(r));
    r.fast = -1;
    bool has_twin = false;
    char *copy = strdup(text);
    int ret = -1;
    if (copy == NULL) {
        sig_fail(&rc, "out of memory");
        ld->out_of_memory = true;
        goto out;
    }
    if (parse_rule_text(&rc, copy, &r, &twin, &has_twin) != 0)
        goto out;

    /* room for the rule and its twin: neither goes in without the other */
    if (loader_reserve(ld, has_twin ? 2 : 1) != 0) {
        ld->out_of_memory = true;
        sig_fail(&rc, "out of memory");
        goto out;
    }
    uint32_t *slot = sid_slot(ld, r.meta.gid, r.meta.sid);
    if (*slot != 0) {
        const struct sig_rule *first = &ld->rules[*slot - 1];
        sig_fail(&rc, "duplicate sid, first defined at %s:%u", first->file, first->line);
        goto out;
    }
    *slot = ld->nrules + 1;
    r.file = file;
    r.line = line;
    ld->rules[ld->nrules++] = r;
    if (has_twin) {
        twin.file = file;
        twin.line = line;
        ld->rules[ld->nrules++] = twin;
    }
    ret = 0;
out:
    free(copy);
    if (ret != 0 && rc.dormant) {
        ld->dormant++;
    } else if (ret != 0) {
        ld->skipped++;
        count_skip_reason(ld, rc.msg);
        report(&rc);
    }
    return ret;
}

/* ---- Files --------------------------------------------------------------------- */

struct text_buf {
    char *s;
    size_t len;
    size_t cap;
};

static int buf_append(struct text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *ns = realloc(b->s, cap);
        if (ns == NULL)
            return -1;
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int sig_load_file(struct sig_loader *ld, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (ld->err != NULL)
            fprintf(ld->err, "%s: cannot open rule file: %s\n", path, strerror(errno));
        ld->files_failed++;
        return -1;
    }
    /* Rules keep a pointer to their file name for later messages. */
    const char *name = sig_arena_strdup(ld->arena, path);
    if (name == NULL) {
        ld->out_of_memory = true;
        fclose(f);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    uint32_t lineno = 0, start = 0;
    bool continued = false;
    struct text_buf rule = {0};
    while ((got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t n = (size_t)got;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        line[n] = '\0';
        if (!continued) {
            const char *s = line;
            while (isspace((unsigned char)*s))
                s++;
            if (*s == '\0' || *s == '#')
                continue;
            start = lineno;
            rule.len = 0;
        }
        continued = n > 0 && line[n - 1] == '\\';
        if (continued)
            n--;
        if (buf_append(&rule, line, n) != 0) {
            ld->out_of_memory = true;
            break;
        }
        if (!continued)
            sig_parse_rule(ld, name, start, rule.s);
    }
    if (continued && rule.len > 0)
        sig_parse_rule(ld, name, start, rule.s);
    free(rule.s);
    free(line);
    fclose(f);
    return 0;
}

void sig_loader_release(struct sig_loader *ld)
{
    free(ld->skip_reasons);
    ld->skip_reasons = NULL;
    ld->nskip_reasons = ld->skip_reasons_cap = 0;
    sig_datasets_free(ld->datasets);
    sig_iprep_free(ld->iprep);
    ld->datasets = NULL;
    ld->iprep = NULL;
    free(ld->rules);
    free(ld->sid_slots);
    sig_flowbits_release(ld);
    ld->rules = NULL;
    ld->sid_slots = NULL;
    ld->nrules = ld->cap = ld->sid_cap = 0;
}
