/* The pcre keyword: pcre:[!]"/regex/flags", compiled with PCRE2 (and its
 * JIT) when the rule is loaded, matched with per-worker match data so that
 * matching allocates nothing.
 *
 * Flags, as Suricata's: i s m x A E G set PCRE2 options (A anchors the
 * match where the inspection starts: the buffer's start, or the previous
 * element's end with R); R makes the pcre relative to the previous element;
 * U I P Q H D M C S Y V W Z move it to an HTTP buffer as the old http_*
 * modifiers move a content; B is accepted and changes nothing; O lifts the
 * configured match limits up to detect.pcre.override-match-limit (default
 * PCRE2's own, as Suricata's O): a ceiling an operator can lower so that a
 * third-party rule with O and a catastrophic regex cannot stall a worker.
 *
 * Named captures such as (?P<flow_ua>...) or (?P<pkt_x>...) are accepted,
 * but what they capture is not stored in flow or packet variables: the
 * regex only decides whether the rule matches.
 *
 * A rule with no usable content but a pcre Hyperscan accepts in
 * prefiltering mode (a superset of the regex's matches) gets that pcre as
 * its fast pattern; PCRE2 then verifies each candidate. */
#include <hs.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "vigil/config.h"
#include "vigil/detect.h"

#include "rule_int.h"

/* Suricata's defaults for detect.pcre.match-limit and
 * detect.pcre.match-limit-recursion. */
#define PCRE_MATCH_LIMIT_DEFAULT 3500u
#define PCRE_DEPTH_LIMIT_DEFAULT 1500u

/* JIT stack of each worker: PCRE2's default (32 KiB on the machine stack)
 * is too small for some rule sets' regexes. */
#define PCRE_JIT_STACK_START (32u * 1024u)
#define PCRE_JIT_STACK_MAX   (512u * 1024u)

/* ---- Parsing --------------------------------------------------------------------- */

/* A buffer flag: the buffer it selects, as the http_* modifier would. */
struct pcre_buffer_flag {
    char flag;
    uint8_t buffer; /* enum vg_buffer */
    uint8_t resolve;
};

static const struct pcre_buffer_flag buffer_flags[] = {
    {'U', VG_BUF_HTTP_URI, SIG_RESOLVE_NONE},
    {'I', VG_BUF_HTTP_URI_RAW, SIG_RESOLVE_NONE},
    {'P', VG_BUF_HTTP_REQUEST_BODY, SIG_RESOLVE_NONE},
    {'Q', VG_BUF_HTTP_RESPONSE_BODY, SIG_RESOLVE_FILE_DATA},
    {'H', VG_BUF_HTTP_HEADER, SIG_RESOLVE_DIRECTION},
    {'D', VG_BUF_HTTP_HEADER_RAW, SIG_RESOLVE_DIRECTION},
    {'M', VG_BUF_HTTP_METHOD, SIG_RESOLVE_NONE},
    {'C', VG_BUF_HTTP_COOKIE, SIG_RESOLVE_DIRECTION},
    {'S', VG_BUF_HTTP_STAT_CODE, SIG_RESOLVE_NONE},
    {'Y', VG_BUF_HTTP_STAT_MSG, SIG_RESOLVE_NONE},
    {'V', VG_BUF_HTTP_USER_AGENT, SIG_RESOLVE_NONE},
    {'W', VG_BUF_HTTP_HOST, SIG_RESOLVE_NONE},
    {'Z', VG_BUF_HTTP_HOST_RAW, SIG_RESOLVE_NONE},
};

static const struct pcre_buffer_flag *find_buffer_flag(char c)
{
    for (size_t i = 0; i < VG_ARRAY_SIZE(buffer_flags); i++) {
        if (buffer_flags[i].flag == c)
            return &buffer_flags[i];
    }
    return NULL;
}

static uint32_t clamp_u32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* The match limits of p (config NULL: the defaults); with the O flag the
 * override ceiling and PCRE2's own depth limit. */
static int read_limits(struct sig_rule_ctx *rc, struct sig_pcre *p)
{
    const struct vg_config *cfg = rc->ld->cfg;
    uint32_t pcre_match = 10000000u, pcre_depth = 10000000u;
    (void)pcre2_config(PCRE2_CONFIG_MATCHLIMIT, &pcre_match);
    (void)pcre2_config(PCRE2_CONFIG_DEPTHLIMIT, &pcre_depth);
    uint64_t match = PCRE_MATCH_LIMIT_DEFAULT, depth = PCRE_DEPTH_LIMIT_DEFAULT;
    uint64_t override = pcre_match;
    char why[256];
    if (cfg != NULL &&
        (vg_config_get_u64(cfg, "detect.pcre.match-limit", PCRE_MATCH_LIMIT_DEFAULT, &match, why,
                           sizeof(why)) != 0 ||
         vg_config_get_u64(cfg, "detect.pcre.match-limit-recursion", PCRE_DEPTH_LIMIT_DEFAULT,
                           &depth, why, sizeof(why)) != 0 ||
         vg_config_get_u64(cfg, "detect.pcre.override-match-limit", pcre_match, &override, why,
                           sizeof(why)) != 0))
        return sig_fail(rc, "bad configuration: %s", why);
    if (p->no_limit) {
        p->match_limit = clamp_u32(override);
        p->depth_limit = pcre_depth;
    } else {
        p->match_limit = clamp_u32(match);
        p->depth_limit = clamp_u32(depth);
    }
    return 0;
}

/* Parses the flags after the closing '/'. */
static int parse_flags(struct sig_rule_ctx *rc, const struct sig_option *o, const char *flags,
                       struct sig_pcre *p, uint32_t *options,
                       const struct pcre_buffer_flag **buffer)
{
    *options = 0;
    *buffer = NULL;
    for (const char *f = flags; *f != '\0'; f++) {
        const struct pcre_buffer_flag *bf = find_buffer_flag(*f);
        if (bf != NULL) {
            if (*buffer != NULL && (*buffer)->buffer != bf->buffer)
                return sig_fail(rc, "bad pcre %s: flags '%c' and '%c' select different buffers",
                                o->val, (*buffer)->flag, bf->flag);
            *buffer = bf;
            continue;
        }
        switch (*f) {
        case 'i':
            *options |= PCRE2_CASELESS;
            p->hs_flags |= HS_FLAG_CASELESS;
            break;
        case 's':
            *options |= PCRE2_DOTALL;
            p->hs_flags |= HS_FLAG_DOTALL;
            break;
        case 'm':
            *options |= PCRE2_MULTILINE;
            p->hs_flags |= HS_FLAG_MULTILINE;
            break;
        case 'x':
            *options |= PCRE2_EXTENDED;
            p->extended = true;
            break;
        case 'A':
            *options |= PCRE2_ANCHORED;
            break;
        case 'E':
            *options |= PCRE2_DOLLAR_ENDONLY;
            break;
        case 'G':
            *options |= PCRE2_UNGREEDY;
            break;
        case 'R':
            p->relative = true;
            break;
        case 'O':
            p->no_limit = true;
            break;
        case 'B':
            break;
        default:
            return sig_fail(rc, "bad pcre %s: unknown flag '%c'", o->val, *f);
        }
    }
    return 0;
}

int sig_kw_pcre(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "pcre") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    const char *v = o->val;
    bool negated = false;
    if (*v == '!') {
        negated = true;
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
    }
    size_t n = strlen(v);
    if (n < 2 || v[0] != '"' || v[n - 1] != '"')
        return sig_fail(rc, "pcre must be a quoted string: %s", o->val);
    /* Between the quotes: /regex/flags. The regex keeps its backslashes:
     * \; and \" are PCRE escapes of ';' and '"' as well. */
    const char *open = v + 1;
    const char *close = v + n - 1;
    while (close > open && *close != '/')
        close--;
    if (*open != '/' || close == open)
        return sig_fail(rc, "bad pcre %s: the regex must be enclosed in '/'", o->val);

    struct sig_arena *a = rc->ld->arena;
    struct sig_pcre *p = sig_arena_alloc(a, sizeof(*p));
    char *flags = sig_arena_alloc(a, (size_t)(v + n - 1 - close));
    char *regex = sig_arena_alloc(a, (size_t)(close - open));
    if (p == NULL || flags == NULL || regex == NULL)
        return sig_fail(rc, "out of memory");
    memcpy(flags, close + 1, (size_t)(v + n - 2 - close));
    memcpy(regex, open + 1, (size_t)(close - open - 1));
    p->source = regex;

    uint32_t options;
    const struct pcre_buffer_flag *bf;
    if (parse_flags(rc, o, flags, p, &options, &bf) != 0)
        return -1;
    if (bf != NULL && b->sticky_kw != NULL)
        return sig_fail(rc, "bad pcre %s: flag '%c' conflicts with sticky buffer '%s'", o->val,
                        bf->flag, b->sticky_kw);
    if (read_limits(rc, p) != 0)
        return -1;

    int errcode;
    PCRE2_SIZE erroffset;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)regex, PCRE2_ZERO_TERMINATED, options, &errcode,
                                     &erroffset, NULL);
    if (code == NULL) {
        PCRE2_UCHAR why[256];
        if (pcre2_get_error_message(errcode, why, sizeof(why)) < 0)
            snprintf((char *)why, sizeof(why), "error %d", errcode);
        return sig_fail(rc, "bad pcre %s: %s at offset %zu", o->val, (const char *)why,
                        (size_t)erroffset);
    }
    /* Owned by the rule set from here on, whatever happens to the rule. */
    p->code = code;
    p->next = *rc->ld->pcres;
    *rc->ld->pcres = p;
    /* Without JIT (an unsupported CPU) PCRE2 interprets: slower, same result. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    uint32_t captures = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
    p->ovector_pairs = captures + 1;

    struct sig_content *e = sig_add_elem(rc, b, SIG_ELEM_PCRE, p);
    if (e == NULL)
        return -1;
    if (negated)
        e->flags |= SIG_CONTENT_NEGATED;
    if (p->relative)
        e->flags |= SIG_ELEM_RELATIVE;
    if (bf != NULL) {
        e->buffer = bf->buffer;
        b->resolve[b->nc - 1] = bf->resolve;
    }
    return 0;
}

void sig_pcre_release(struct sig_pcre *list)
{
    while (list != NULL) {
        struct sig_pcre *next = list->next;
        pcre2_code_free(list->code);
        list->code = NULL;
        list = next;
    }
}

/* ---- Prefilter ------------------------------------------------------------------- */

bool sig_pcre_prefilter(struct sig_arena *a, const struct sig_content *e)
{
    if (e->kind != SIG_ELEM_PCRE || (e->flags & SIG_CONTENT_NEGATED))
        return false;
    struct sig_pcre *p = (struct sig_pcre *)e->ext;
    if (p->hs_checked)
        return p->hs_expr != NULL;
    p->hs_checked = true;
    /* Extended syntax reaches Hyperscan as an inline option. */
    const char *expr = p->source;
    if (p->extended) {
        size_t len = strlen(p->source);
        char *with_x = sig_arena_alloc(a, len + 5);
        if (with_x == NULL)
            return false;
        memcpy(with_x, "(?x)", 4);
        memcpy(with_x + 4, p->source, len + 1);
        expr = with_x;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *cerr = NULL;
    const bool ok = hs_compile(expr, p->hs_flags | HS_FLAG_PREFILTER | HS_FLAG_SINGLEMATCH,
                               HS_MODE_BLOCK, NULL, &db, &cerr) == HS_SUCCESS;
    hs_free_compile_error(cerr);
    hs_free_database(db);
    p->hs_expr = ok ? expr : NULL;
    return ok;
}

const char *sig_pcre_hs_expression(const struct sig_content *e, unsigned *hs_flags)
{
    const struct sig_pcre *p = e->ext;
    *hs_flags = p->hs_flags | HS_FLAG_PREFILTER;
    return p->hs_expr;
}

/* ---- Matching -------------------------------------------------------------------- */

struct sig_pcre_scratch {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    uint64_t limit_hits;
};

static void scratch_free(struct sig_pcre_scratch *s)
{
    if (s == NULL)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jit_stack);
    free(s);
}

static struct sig_pcre_scratch *scratch_new(uint32_t pairs)
{
    struct sig_pcre_scratch *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->md = pcre2_match_data_create(pairs, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jit_stack = pcre2_jit_stack_create(PCRE_JIT_STACK_START, PCRE_JIT_STACK_MAX, NULL);
    if (s->md == NULL || s->mctx == NULL) {
        scratch_free(s);
        return NULL;
    }
    if (s->jit_stack != NULL)
        pcre2_jit_stack_assign(s->mctx, NULL, s->jit_stack);
    return s;
}

int sig_pcre_ctx_init(struct vg_detect_ctx *ctx)
{
    const struct vg_ruleset *rs = ctx->rs;
    uint32_t pairs = 0;
    for (uint32_t i = 0; i < rs->nrules; i++) {
        const struct sig_rule *r = &rs->rules[i];
        for (uint32_t k = 0; k < r->ncontents; k++) {
            const struct sig_content *e = &r->contents[k];
            if (e->kind != SIG_ELEM_PCRE)
                continue;
            const struct sig_pcre *p = e->ext;
            if (p->ovector_pairs > pairs)
                pairs = p->ovector_pairs;
        }
    }
    if (pairs == 0)
        return 0; /* no pcre in the rule set */
    ctx->pcre = scratch_new(pairs);
    return ctx->pcre != NULL ? 0 : -1;
}

void sig_pcre_ctx_free(struct vg_detect_ctx *ctx)
{
    scratch_free(ctx->pcre);
    ctx->pcre = NULL;
}

uint64_t vg_detect_ctx_pcre_limit_hits(const struct vg_detect_ctx *ctx)
{
    return ctx->pcre != NULL ? ctx->pcre->limit_hits : 0;
}

int sig_pcre_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                  int64_t *cursor)
{
    const struct sig_pcre *p = e->ext;
    const bool negated = (e->flags & SIG_CONTENT_NEGATED) != 0;
    *cursor = prev_end;
    /* R: the subject starts where the previous element ended, so ^ and A
     * anchor there. */
    int64_t start = in->base;
    if (p->relative && prev_end > start)
        start = prev_end;
    if (start > in->end)
        return negated ? 1 : 0;

    struct sig_pcre_scratch *s = in->ctx != NULL ? in->ctx->pcre : NULL;
    struct sig_pcre_scratch *own = NULL;
    if (s == NULL) {
        /* Only an inspection without a worker context (a unit test calling
         * the matcher directly) gets here: workers always have scratch. */
        own = scratch_new(p->ovector_pairs);
        if (own == NULL)
            return 0;
        s = own;
    }
    pcre2_set_match_limit(s->mctx, p->match_limit);
    pcre2_set_depth_limit(s->mctx, p->depth_limit);
    const uint8_t *subject = in->data + (start - in->base);
    const int rc = pcre2_match(p->code, (PCRE2_SPTR)subject, (PCRE2_SIZE)(in->end - start), 0,
                               PCRE2_NO_UTF_CHECK, s->md, s->mctx);
    int result;
    if (rc >= 0) {
        /* rc 0: more captures than the ovector holds; the match stands. */
        if (negated) {
            result = 0;
        } else {
            *cursor = start + (int64_t)pcre2_get_ovector_pointer(s->md)[1];
            result = 1;
        }
    } else if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL) {
        result = negated ? 1 : 0;
    } else {
        /* A match or depth limit (or the JIT stack) ran out: as Suricata,
         * the pcre does not match, negated or not. */
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT)
            s->limit_hits++;
        result = 0;
    }
    scratch_free(own);
    return result;
}
