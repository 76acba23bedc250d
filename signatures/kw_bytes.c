/* Byte and buffer keywords: byte_test, byte_jump, isdataat, bsize, the
 * content modifiers startswith and endswith, and the dotprefix and
 * to_lowercase transforms, with Suricata's syntax and semantics.
 *
 * byte_test, byte_jump and isdataat are elements of the rule's content list
 * (struct sig_byte_op behind ext): positions are absolute, so a packet or
 * application buffer starts at 0 and a stream at its first byte. byte_test,
 * isdataat and bsize leave the cursor where it was; byte_jump moves it. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_int.h"

/* Largest |offset| and post_offset, as Suricata. */
#define BYTE_OFFSET_MAX  65535
#define BYTES_BINARY_MAX 8
#define BYTES_STRING_MAX 20
#define ARGS_MAX         16

/* ---- Parsing -------------------------------------------------------------- */

/* Splits v (modified) at commas into trimmed arguments; false when there
 * are too many. */
static bool split_args(char *v, char **args, uint32_t *n)
{
    *n = 0;
    for (char *p = v;;) {
        char *comma = strchr(p, ',');
        if (comma != NULL)
            *comma = '\0';
        if (*n == ARGS_MAX)
            return false;
        args[(*n)++] = sig_trim(p);
        if (comma == NULL)
            return true;
        p = comma + 1;
    }
}

/* A byte_extract variable name where a number was expected. */
static bool is_variable(const char *s)
{
    return (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_';
}

/* A decimal or 0x-prefixed hexadecimal unsigned number. */
static bool parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s != '\0'; s++) {
        int d = vg_hex_value((unsigned char)*s);
        if (d < 0 || d >= base || v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

/* A number argument that may not be a byte_extract variable. */
static int parse_number(struct sig_rule_ctx *rc, const char *kw, const char *what, const char *s,
                        int64_t min, int64_t max, int64_t *out)
{
    if (is_variable(s))
        return sig_fail(rc, "%s: %s '%s' is a byte_extract variable, which vigil does not support",
                        kw, what, s);
    if (!sig_parse_int(s, min, max, out))
        return sig_fail(rc, "%s: bad %s '%s'", kw, what, s);
    return 0;
}

/* The options after the fixed arguments of byte_test and byte_jump. */
static int parse_byte_options(struct sig_rule_ctx *rc, const char *kw, char **args, uint32_t n,
                              struct sig_byte_op *op, bool *relative, bool jump)
{
    bool big = false, string = false;
    for (uint32_t i = 0; i < n; i++) {
        const char *a = args[i];
        char *sp = strpbrk(args[i], " \t");
        const char *arg = NULL; /* the value of "name value" options */
        if (sp != NULL) {
            *sp = '\0';
            arg = sig_trim(sp + 1);
        }
        const bool takes_value =
            strcasecmp(a, "bitmask") == 0 || strcasecmp(a, "endian") == 0 ||
            (jump && (strcasecmp(a, "multiplier") == 0 || strcasecmp(a, "post_offset") == 0));
        if (takes_value && (arg == NULL || *arg == '\0'))
            return sig_fail(rc, "%s: '%s' needs a value", kw, a);
        if (!takes_value && arg != NULL)
            return sig_fail(rc, "%s: unknown option '%s %s'", kw, a, arg);
        if (strcasecmp(a, "endian") == 0)
            a = arg;
        if (strcasecmp(a, "relative") == 0) {
            *relative = true;
        } else if (strcasecmp(a, "big") == 0) {
            big = true;
        } else if (strcasecmp(a, "little") == 0) {
            op->little = true;
        } else if (strcasecmp(a, "string") == 0) {
            string = true;
        } else if (strcasecmp(a, "hex") == 0 || strcasecmp(a, "dec") == 0 ||
                   strcasecmp(a, "oct") == 0) {
            if (op->base != 0)
                return sig_fail(rc, "%s: more than one number base", kw);
            op->base = a[0] == 'h' || a[0] == 'H' ? 16 : a[0] == 'd' || a[0] == 'D' ? 10 : 8;
        } else if (strcasecmp(a, "dce") == 0) {
            return sig_fail(rc, "%s: 'dce' needs the DCERPC parser, which vigil does not have", kw);
        } else if (strcasecmp(a, "bitmask") == 0) {
            if (!parse_u64(arg, &op->bitmask) || op->bitmask == 0)
                return sig_fail(rc, "%s: bad bitmask '%s'", kw, arg);
            op->shift = (uint8_t)__builtin_ctzll(op->bitmask);
        } else if (jump && strcasecmp(a, "multiplier") == 0) {
            int64_t v;
            if (!sig_parse_int(arg, 1, 65535, &v))
                return sig_fail(rc, "%s: bad multiplier '%s' (1 to 65535)", kw, arg);
            op->multiplier = (uint32_t)v;
        } else if (jump && strcasecmp(a, "post_offset") == 0) {
            int64_t v;
            if (parse_number(rc, kw, "post_offset", arg, -BYTE_OFFSET_MAX, BYTE_OFFSET_MAX, &v) !=
                0)
                return -1;
            op->post_offset = (int32_t)v;
        } else if (jump && strcasecmp(a, "align") == 0) {
            op->jump |= SIG_JUMP_ALIGN;
        } else if (jump && strcasecmp(a, "from_beginning") == 0) {
            op->jump |= SIG_JUMP_FROM_BEGINNING;
        } else if (jump && strcasecmp(a, "from_end") == 0) {
            op->jump |= SIG_JUMP_FROM_END;
        } else {
            return sig_fail(rc, "%s: unknown option '%s'", kw, a);
        }
    }
    if (big && op->little)
        return sig_fail(rc, "%s: both big and little endian given", kw);
    if (op->base != 0 && !string)
        return sig_fail(rc, "%s: a number base needs 'string'", kw);
    if (string && (big || op->little))
        return sig_fail(rc, "%s: endian cannot be used with 'string'", kw);
    if (string && op->base == 0)
        op->base = 10;
    if ((op->jump & SIG_JUMP_FROM_BEGINNING) && (op->jump & SIG_JUMP_FROM_END))
        return sig_fail(rc, "%s: from_beginning and from_end cannot both be given", kw);
    const uint32_t max = string ? BYTES_STRING_MAX : BYTES_BINARY_MAX;
    if (op->nbytes > max)
        return sig_fail(rc, "%s: %u bytes is more than %u %s", kw, op->nbytes, max,
                        string ? "as a string" : "in binary");
    return 0;
}

/* The element of a byte keyword, in the current buffer; a relative one
 * after a content moved to a buffer by a modifier (content:"x"; http_uri;)
 * goes to that content's buffer, as in Suricata. */
static int add_byte_elem(struct sig_rule_ctx *rc, struct sig_rule_build *b, uint8_t kind,
                         const struct sig_byte_op *src, bool relative)
{
    struct sig_byte_op *op = sig_arena_memdup(rc->ld->arena, src, sizeof(*src));
    if (op == NULL)
        return sig_fail(rc, "out of memory");
    struct sig_content *e = sig_add_elem(rc, b, kind, op);
    if (e == NULL)
        return -1;
    if (relative) {
        e->flags |= SIG_ELEM_RELATIVE;
        if (b->sticky_kw == NULL && b->nc >= 2 && b->c[b->nc - 2].buffer != e->buffer) {
            e->buffer = b->c[b->nc - 2].buffer;
            b->resolve[b->nc - 1] = b->resolve[b->nc - 2];
        }
    }
    return 0;
}

/* byte_test:<bytes>,[!]<op>,<value>,<offset>[,options] */
static int parse_byte_test(struct sig_rule_ctx *rc, struct sig_rule_build *b, char *v)
{
    const char *kw = "byte_test";
    char *args[ARGS_MAX];
    uint32_t n;
    if (!split_args(v, args, &n))
        return sig_fail(rc, "%s: too many options", kw);
    if (n < 4)
        return sig_fail(rc, "%s needs bytes, operator, value and offset", kw);
    struct sig_byte_op op = {.multiplier = 1};
    int64_t x;
    if (parse_number(rc, kw, "number of bytes", args[0], 1, BYTES_STRING_MAX, &x) != 0)
        return -1;
    op.nbytes = (uint8_t)x;

    const char *o = args[1];
    if (*o == '!') {
        op.negated = true;
        o = sig_trim((char *)o + 1);
        if (*o == '=' && o[1] == '\0')
            o = "=";
    }
    static const struct {
        const char *name;
        uint8_t op;
    } ops[] = {{"<", SIG_BYTE_LT},  {">", SIG_BYTE_GT},  {"=", SIG_BYTE_EQ}, {"<=", SIG_BYTE_LE},
               {">=", SIG_BYTE_GE}, {"&", SIG_BYTE_AND}, {"^", SIG_BYTE_XOR}};
    bool known = false;
    for (size_t i = 0; i < VG_ARRAY_SIZE(ops) && !known; i++) {
        if (strcmp(o, ops[i].name) == 0) {
            op.op = ops[i].op;
            known = true;
        }
    }
    if (!known)
        return sig_fail(rc, "%s: bad operator '%s'", kw, args[1]);
    if (is_variable(args[2]))
        return sig_fail(rc,
                        "%s: value '%s' is a byte_extract variable, which vigil does not support",
                        kw, args[2]);
    if (!parse_u64(args[2], &op.value))
        return sig_fail(rc, "%s: bad value '%s'", kw, args[2]);
    if (parse_number(rc, kw, "offset", args[3], -BYTE_OFFSET_MAX, BYTE_OFFSET_MAX, &x) != 0)
        return -1;
    op.offset = (int32_t)x;
    bool relative = false;
    if (parse_byte_options(rc, kw, args + 4, n - 4, &op, &relative, false) != 0)
        return -1;
    if (op.offset < 0 && !relative)
        return sig_fail(rc, "%s: a negative offset needs 'relative'", kw);
    return add_byte_elem(rc, b, SIG_ELEM_BYTE_TEST, &op, relative);
}

/* byte_jump:<bytes>,<offset>[,options] */
static int parse_byte_jump(struct sig_rule_ctx *rc, struct sig_rule_build *b, char *v)
{
    const char *kw = "byte_jump";
    char *args[ARGS_MAX];
    uint32_t n;
    if (!split_args(v, args, &n))
        return sig_fail(rc, "%s: too many options", kw);
    if (n < 2)
        return sig_fail(rc, "%s needs bytes and offset", kw);
    struct sig_byte_op op = {.multiplier = 1};
    int64_t x;
    if (parse_number(rc, kw, "number of bytes", args[0], 1, BYTES_STRING_MAX, &x) != 0)
        return -1;
    op.nbytes = (uint8_t)x;
    if (parse_number(rc, kw, "offset", args[1], -BYTE_OFFSET_MAX, BYTE_OFFSET_MAX, &x) != 0)
        return -1;
    op.offset = (int32_t)x;
    bool relative = false;
    if (parse_byte_options(rc, kw, args + 2, n - 2, &op, &relative, true) != 0)
        return -1;
    if (op.offset < 0 && !relative)
        return sig_fail(rc, "%s: a negative offset needs 'relative'", kw);
    if ((op.jump & SIG_JUMP_FROM_END) && b->sticky_kw == NULL)
        b->needs_end = "byte_jump from_end";
    return add_byte_elem(rc, b, SIG_ELEM_BYTE_JUMP, &op, relative);
}

/* isdataat:[!]<n>[,relative][,rawbytes] */
static int parse_isdataat(struct sig_rule_ctx *rc, struct sig_rule_build *b, char *v)
{
    const char *kw = "isdataat";
    char *args[ARGS_MAX];
    uint32_t n;
    if (!split_args(v, args, &n))
        return sig_fail(rc, "%s: too many options", kw);
    struct sig_byte_op op = {.multiplier = 1};
    char *at = args[0];
    if (*at == '!') {
        op.negated = true;
        at = sig_trim(at + 1);
    }
    int64_t x;
    if (parse_number(rc, kw, "position", at, 0, BYTE_OFFSET_MAX, &x) != 0)
        return -1;
    op.offset = (int32_t)x;
    bool relative = false;
    for (uint32_t i = 1; i < n; i++) {
        if (strcasecmp(args[i], "relative") == 0)
            relative = true;
        else if (strcasecmp(args[i], "rawbytes") != 0) /* accepted, as Suricata: no effect */
            return sig_fail(rc, "%s: unknown option '%s'", kw, args[i]);
    }
    /* Absent data is only known once the buffer has ended. */
    if (op.negated && b->sticky_kw == NULL)
        b->needs_end = "isdataat with '!'";
    return add_byte_elem(rc, b, SIG_ELEM_ISDATAAT, &op, relative);
}

/* bsize:<n>, <n, >n, <=n, >=n, !n, n<>m (ends excluded) or n-m (the same). */
static int parse_bsize(struct sig_rule_ctx *rc, struct sig_rule_build *b, const char *v)
{
    if (b->sticky_kw == NULL)
        return sig_fail(rc, "bsize needs a sticky buffer");
    struct sig_uint_test t = {0};
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", v);
    char *s = sig_trim(buf);
    char *range = strstr(s, "<>");
    size_t skip = 2;
    if (range == NULL && (range = strchr(s + (*s == '-'), '-')) != NULL)
        skip = 1;
    if (range != NULL) {
        *range = '\0';
        if (!sig_parse_u32(sig_trim(s), &t.a) || !sig_parse_u32(sig_trim(range + skip), &t.b))
            return sig_fail(rc, "bad bsize value '%s'", v);
        if (t.a >= t.b)
            return sig_fail(rc, "bad bsize range '%s': the low end must be below the high end", v);
        t.op = SIG_UINT_RANGE;
    } else {
        t.op = SIG_UINT_EQ;
        if (strncmp(s, "<=", 2) == 0) {
            t.op = SIG_UINT_LE;
            s += 2;
        } else if (strncmp(s, ">=", 2) == 0) {
            t.op = SIG_UINT_GE;
            s += 2;
        } else if (strncmp(s, "!=", 2) == 0) {
            t.op = SIG_UINT_NE;
            s += 2;
        } else if (*s == '<' || *s == '>' || *s == '!' || *s == '=') {
            t.op = *s == '<'   ? SIG_UINT_LT
                   : *s == '>' ? SIG_UINT_GT
                   : *s == '!' ? SIG_UINT_NE
                               : SIG_UINT_EQ;
            s++;
        }
        if (!sig_parse_u32(sig_trim(s), &t.a))
            return sig_fail(rc, "bad bsize value '%s'", v);
    }
    struct sig_uint_test *ext = sig_arena_memdup(rc->ld->arena, &t, sizeof(t));
    if (ext == NULL)
        return sig_fail(rc, "out of memory");
    return sig_add_elem(rc, b, SIG_ELEM_BSIZE, ext) != NULL ? 0 : -1;
}

static int parse_startswith(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                            const struct sig_option *o)
{
    struct sig_content *c = sig_last_content(rc, b, o->kw);
    if (c == NULL || sig_no_value(rc, o) != 0)
        return -1;
    if (c->flags & SIG_CONTENT_STARTSWITH)
        return sig_fail(rc, "duplicate 'startswith' on one content");
    if (c->flags & (SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH | SIG_CONTENT_RELATIVE))
        return sig_fail(rc, "'startswith' cannot be mixed with offset, depth, distance or within");
    c->offset = 0;
    c->depth = c->len;
    c->flags |= SIG_CONTENT_STARTSWITH | SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH;
    return 0;
}

static int parse_endswith(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                          const struct sig_option *o)
{
    struct sig_content *c = sig_last_content(rc, b, o->kw);
    if (c == NULL || sig_no_value(rc, o) != 0)
        return -1;
    if (c->flags & SIG_CONTENT_ENDSWITH)
        return sig_fail(rc, "duplicate 'endswith' on one content");
    c->flags |= SIG_CONTENT_ENDSWITH;
    if (c->buffer == VG_BUF_PAYLOAD)
        b->needs_end = "endswith";
    return 0;
}

/* A transform applies to the whole sticky buffer: it comes right after the
 * buffer's keyword, before its first element. */
static int parse_transform(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                           const struct sig_option *o, uint8_t transform)
{
    if (sig_no_value(rc, o) != 0)
        return -1;
    if (b->sticky_kw == NULL)
        return sig_fail(rc, "%s needs a sticky buffer such as dns.query", o->kw);
    if (b->cur_transform & transform)
        return sig_fail(rc, "duplicate '%s' on buffer '%s'", o->kw, b->sticky_kw);
    if (b->sticky_used)
        return sig_fail(rc, "%s must come before the first content of buffer '%s'", o->kw,
                        b->sticky_kw);
    b->cur_transform |= transform;
    return 0;
}

int sig_kw_bytes(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    const char *kw = o->kw;
    if (strcasecmp(kw, "startswith") == 0)
        return parse_startswith(rc, b, o);
    if (strcasecmp(kw, "endswith") == 0)
        return parse_endswith(rc, b, o);
    if (strcasecmp(kw, "dotprefix") == 0)
        return parse_transform(rc, b, o, SIG_XFORM_DOTPREFIX);
    if (strcasecmp(kw, "to_lowercase") == 0)
        return parse_transform(rc, b, o, SIG_XFORM_LOWERCASE);
    const bool test = strcasecmp(kw, "byte_test") == 0;
    const bool jump = strcasecmp(kw, "byte_jump") == 0;
    const bool dataat = strcasecmp(kw, "isdataat") == 0;
    const bool bsize = strcasecmp(kw, "bsize") == 0;
    if (!test && !jump && !dataat && !bsize)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;
    if (bsize)
        return parse_bsize(rc, b, o->val);
    char buf[256];
    if (strlen(o->val) >= sizeof(buf))
        return sig_fail(rc, "%s: value too long", kw);
    snprintf(buf, sizeof(buf), "%s", o->val);
    if (test)
        return parse_byte_test(rc, b, buf);
    if (jump)
        return parse_byte_jump(rc, b, buf);
    return parse_isdataat(rc, b, buf);
}

/* ---- Matching ----------------------------------------------------------------- */

/* The number of op->nbytes bytes at position at: false when they are not
 * all in the buffer, or a string holds no digit or overflows. *used: the
 * bytes the number took (a string may stop at its first non-digit). */
static bool extract(const struct sig_byte_op *op, const struct sig_inspection *in, int64_t at,
                    uint64_t *val, uint32_t *used)
{
    if (at < in->base || at + op->nbytes > in->end)
        return false;
    const uint8_t *p = in->data + (at - in->base);
    uint64_t v = 0;
    if (op->base == 0) {
        for (uint32_t i = 0; i < op->nbytes; i++)
            v |= (uint64_t)p[i] << (8 * (op->little ? i : op->nbytes - 1 - i));
        *used = op->nbytes;
    } else {
        uint32_t i = 0;
        for (; i < op->nbytes; i++) {
            const int d = vg_hex_value(p[i]);
            if (d < 0 || d >= op->base)
                break;
            if (v > (UINT64_MAX - (uint64_t)d) / op->base)
                return false;
            v = v * op->base + (uint64_t)d;
        }
        if (i == 0)
            return false;
        *used = i;
    }
    if (op->bitmask != 0)
        v = (v & op->bitmask) >> op->shift;
    *val = v;
    return true;
}

static bool compare(const struct sig_byte_op *op, uint64_t v)
{
    bool r;
    switch (op->op) {
    case SIG_BYTE_LT:
        r = v < op->value;
        break;
    case SIG_BYTE_GT:
        r = v > op->value;
        break;
    case SIG_BYTE_EQ:
        r = v == op->value;
        break;
    case SIG_BYTE_LE:
        r = v <= op->value;
        break;
    case SIG_BYTE_GE:
        r = v >= op->value;
        break;
    case SIG_BYTE_AND:
        r = (v & op->value) != 0;
        break;
    default:
        r = (v ^ op->value) != 0;
        break;
    }
    return r != op->negated;
}

int sig_bytes_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                   int64_t *cursor)
{
    *cursor = prev_end;
    if (e->kind == SIG_ELEM_BSIZE)
        return sig_uint_test_holds(e->ext, (uint64_t)in->end);
    const struct sig_byte_op *op = e->ext;
    const int64_t from = (e->flags & SIG_ELEM_RELATIVE) ? prev_end : 0;
    if (e->kind == SIG_ELEM_ISDATAAT) {
        /* Suricata: relative, n more bytes from the cursor; else a byte at n. */
        const bool there =
            (e->flags & SIG_ELEM_RELATIVE) ? from + op->offset <= in->end : op->offset < in->end;
        if (!there && op->negated && in->open_end)
            in->provisional = true;
        return there != op->negated;
    }
    const int64_t at = from + op->offset;
    uint64_t v;
    uint32_t used;
    if (!extract(op, in, at, &v, &used))
        return 0;
    if (e->kind == SIG_ELEM_BYTE_TEST)
        return compare(op, v);

    /* byte_jump: the value scaled, aligned and offset, from the bytes'
     * end, the buffer's start or its end; before the start it stops at the
     * start, past the end it fails. */
    __int128 jump = (__int128)v * op->multiplier;
    if ((op->jump & SIG_JUMP_ALIGN) && (jump % 4) != 0)
        jump += 4 - (jump % 4);
    jump += op->post_offset;
    __int128 to;
    if (op->jump & SIG_JUMP_FROM_BEGINNING)
        to = jump;
    else if (op->jump & SIG_JUMP_FROM_END)
        to = in->end + jump;
    else
        to = at + used + jump;
    if (to < 0)
        to = 0;
    if (to > in->end)
        return 0;
    *cursor = (int64_t)to;
    return 1;
}

bool sig_transform_apply(struct vg_detect_ctx *ctx, uint8_t transform, const uint8_t **data,
                         uint32_t *len)
{
    if (transform == SIG_XFORM_NONE)
        return true;
    const uint32_t dot = (transform & SIG_XFORM_DOTPREFIX) ? 1 : 0;
    if (ctx == NULL || ctx->xform == NULL || *len > SIG_TRANSFORM_MAX - dot) {
        if (ctx != NULL)
            ctx->transform_too_long++;
        return false;
    }
    uint8_t *out = ctx->xform;
    if (dot)
        out[0] = '.';
    if (transform & SIG_XFORM_LOWERCASE) {
        for (uint32_t i = 0; i < *len; i++)
            out[dot + i] = sig_lower((*data)[i]);
    } else {
        memcpy(out + dot, *data, *len);
    }
    *data = out;
    *len += dot;
    return true;
}
