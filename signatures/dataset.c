/* Datasets: Suricata's dataset keyword on a sticky buffer, and on the
 * packet's addresses through ip.src / ip.dst.
 *
 *     dataset:<isset|isnotset>,<name>[,type <string|md5|sha256|ipv4|ip>]
 *             [,load <file>][,format <base64|plain>][,memcap <size>][,hashsize <n>]
 *
 * A set is loaded once per name, when the first rule (or the datasets:
 * section of the configuration) defines it, and shared by every rule and
 * worker. Sets are read-only while packets flow: Suricata's set/unset, save
 * and state, which write at run time, are refused.
 *
 * List files as Suricata's: a string set holds one base64-encoded string
 * per line, md5/sha256 sets one hex digest per line, ipv4/ip sets one
 * address per line. Extensions: ipv4/ip sets also take CIDR blocks
 * (a.b.c.d/N, v6/N); 'format plain' makes a string set take each line as
 * written (the domain lists threat-intelligence feeds hand out), where
 * Suricata's format, the default, is 'base64'. Blank lines, lines starting
 * with '#' and a trailing comment (whitespace then '#') are skipped; a bad
 * line is skipped and counted, with one warning per file naming the first.
 * Relative paths resolve against the directory of the rule file (for a set
 * of the configuration: default-rule-path when set).
 *
 * The configuration's datasets.<name>.load and .format win over what a rule
 * says, so an operator replaces a shipped list (customer IOC files) without
 * editing the rules; the set's type stays the rule's.
 *
 * Lookups take the whole buffer (string sets are case-sensitive) and cost
 * one hash and, usually, one probe: open addressing over a power-of-two
 * table at most half full, each slot holding the entry's index and 32 bits
 * of its hash, so other keys are rarely compared. md5 and sha256 sets take
 * the raw digest (after a transform) or its hex text (ja3.hash).
 *
 * Reload (vg_ruleset_reload_lists): a set's contents sit behind an atomic
 * pointer. A reload builds new contents off to the side, publishes them
 * with one release store, waits until no worker can still hold the old
 * pointer (the caller's wait_readers) and frees the old contents. Lookups
 * pay one acquire load and take no lock. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rule_int.h"

#define DATASET_NAME_MAX     63
#define DATASET_HASHSIZE_MAX (1u << 26)

/* What a set holds: built whole from a list file, then read-only. */
struct dataset_contents {
    /* Exact entries: slot = (hash >> 32) << 32 | (entry + 1); 0 is empty.
     * Entry i's key is keys[off[i], off[i + 1]). */
    uint64_t *slots;
    uint32_t mask;
    uint32_t *off;
    uint8_t *keys;
    uint32_t nkeys; /* keys stored (duplicates included) */
    uint32_t n;     /* distinct entries */
    /* CIDR blocks of an address set. */
    struct sig_ip_table blocks;
    uint32_t nblocks; /* blocks as listed, before nested ones are merged */
    uint64_t bytes;
};

struct sig_dataset {
    struct sig_dataset *next;
    char *name;
    char *path;           /* the list file, as resolved */
    const char *def_file; /* where the set was first defined (rule file, or the configuration) */
    uint32_t def_line;
    uint8_t type;      /* enum sig_dataset_type */
    uint8_t format;    /* enum dataset_format */
    uint32_t hashsize; /* as given (0: sized by the list), kept for reload */
    uint64_t memcap;   /* 0: none */
    /* Replaced whole by a reload; workers load it once per lookup. */
    _Atomic(struct dataset_contents *) cur;
};

static const char *const type_names[] = {
    [SIG_DATASET_STRING] = "string", [SIG_DATASET_MD5] = "md5", [SIG_DATASET_SHA256] = "sha256",
    [SIG_DATASET_IPV4] = "ipv4",     [SIG_DATASET_IP] = "ip",
};

/* How a string set's lines are written; the other types ignore it. */
enum dataset_format {
    DATASET_FORMAT_BASE64 = 0, /* Suricata's */
    DATASET_FORMAT_PLAIN,
};

static const char *const format_names[] = {
    [DATASET_FORMAT_BASE64] = "base64",
    [DATASET_FORMAT_PLAIN] = "plain",
};

static bool type_is_addr(uint8_t t)
{
    return t == SIG_DATASET_IPV4 || t == SIG_DATASET_IP;
}

/* ---- Hashing and lookup --------------------------------------------------------- */

static inline uint64_t key_hash(const uint8_t *p, uint32_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        h = sig_mix64(h ^ v);
        p += 8;
        n -= 8;
    }
    uint64_t v = 0;
    memcpy(&v, p, n);
    return sig_mix64(h ^ v ^ 0x5bd1e9955bd1e995ull);
}

/* The slot holding the key, or the empty slot where it would go. */
static inline uint64_t *find_slot(const struct dataset_contents *s, const uint8_t *key,
                                  uint32_t len, uint64_t h)
{
    const uint64_t tag = h >> 32;
    uint32_t i = (uint32_t)h & s->mask;
    for (;;) {
        uint64_t *slot = &s->slots[i];
        const uint64_t v = *slot;
        if (v == 0)
            return slot;
        if ((v >> 32) == tag) {
            const uint32_t e = (uint32_t)v - 1;
            const uint32_t elen = s->off[e + 1] - s->off[e];
            if (elen == len && memcmp(s->keys + s->off[e], key, len) == 0)
                return slot;
        }
        i = (i + 1) & s->mask;
    }
}

static inline bool has_key(const struct dataset_contents *s, const uint8_t *key, uint32_t len)
{
    return s->slots != NULL && *find_slot(s, key, len, key_hash(key, len)) != 0;
}

/* n hex digits to n / 2 bytes; false when one is not hex. */
static bool hex_decode(const uint8_t *hex, uint32_t n, uint8_t *out)
{
    for (uint32_t i = 0; i < n; i += 2) {
        const int hi = vg_hex_value(hex[i]), lo = vg_hex_value(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* The contents in force. The cast only drops const for the atomic load
 * (older compilers refuse a load through a const _Atomic). */
static inline const struct dataset_contents *contents_of(const struct sig_dataset *set)
{
    return atomic_load_explicit(&((struct sig_dataset *)set)->cur, memory_order_acquire);
}

bool sig_dataset_contains(const struct sig_dataset *set, const uint8_t *data, uint32_t len)
{
    const struct dataset_contents *c = contents_of(set);
    uint32_t digest = 0;
    if (set->type == SIG_DATASET_MD5)
        digest = 16;
    else if (set->type == SIG_DATASET_SHA256)
        digest = 32;
    else if (set->type != SIG_DATASET_STRING)
        return false;
    if (digest != 0 && len == 2 * digest) {
        uint8_t raw[32];
        return hex_decode(data, len, raw) && has_key(c, raw, digest);
    }
    if (digest != 0 && len != digest)
        return false;
    return has_key(c, data, len);
}

bool sig_dataset_contains_addr(const struct sig_dataset *set, uint8_t family,
                               const struct vg_ip_addr *a)
{
    if (family == 6 && set->type != SIG_DATASET_IP)
        return false;
    if (family != 4 && family != 6)
        return false;
    const struct dataset_contents *c = contents_of(set);
    if (has_key(c, a->b, family == 4 ? 4 : 16))
        return true;
    return (c->blocks.n4 | c->blocks.n6) != 0 && sig_ip_table_find(&c->blocks, family, a) >= 0;
}

/* ---- Address tables ------------------------------------------------------------- */

struct sig_ip_entry {
    sig_u128 lo, hi;
    uint32_t seq; /* order of addition: the later of two equal blocks wins */
    uint8_t family;
    uint8_t value;
};

/* A table piece while building. */
struct ip_piece {
    sig_u128 lo, hi;
    uint8_t value;
};

#define V4_INDEX_MIN 64u /* below this many ranges a plain binary search is as fast */

bool sig_parse_cidr(const char *s, uint8_t *family, sig_u128 *lo, sig_u128 *hi, uint32_t *prefix)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n + 1);
    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    uint8_t b[16];
    uint32_t bits;
    sig_u128 v = 0;
    if (inet_pton(AF_INET, buf, b) == 1) {
        *family = 4;
        bits = 32;
        for (int i = 0; i < 4; i++)
            v = (v << 8) | b[i];
    } else if (inet_pton(AF_INET6, buf, b) == 1) {
        *family = 6;
        bits = 128;
        for (int i = 0; i < 16; i++)
            v = (v << 8) | b[i];
    } else {
        return false;
    }
    int64_t plen = bits;
    if (slash != NULL &&
        (!isdigit((unsigned char)slash[1]) || !sig_parse_int(slash + 1, 0, bits, &plen)))
        return false;
    const sig_u128 full = bits == 32 ? (sig_u128)UINT32_MAX : ~(sig_u128)0;
    const sig_u128 hostmask = plen == 0 ? full : (((sig_u128)1 << (bits - (uint32_t)plen)) - 1);
    *lo = v & ~hostmask & full;
    *hi = (v & ~hostmask) | hostmask;
    *prefix = (uint32_t)plen;
    return true;
}

int sig_ip_builder_add(struct sig_ip_builder *b, uint8_t family, sig_u128 lo, sig_u128 hi,
                       uint8_t value)
{
    if (b->n == b->cap) {
        uint32_t cap = b->cap ? b->cap * 2 : 64;
        struct sig_ip_entry *e = realloc(b->e, cap * sizeof(*e));
        if (e == NULL)
            return -1;
        b->e = e;
        b->cap = cap;
    }
    b->e[b->n] =
        (struct sig_ip_entry){.lo = lo, .hi = hi, .seq = b->n, .family = family, .value = value};
    b->n++;
    return 0;
}

void sig_ip_builder_free(struct sig_ip_builder *b)
{
    free(b->e);
    memset(b, 0, sizeof(*b));
}

/* Family first, then start, then the larger block first (it encloses the
 * next), then the order of addition. */
static int entry_order(const void *a, const void *b)
{
    const struct sig_ip_entry *x = a, *y = b;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    if (x->hi != y->hi)
        return x->hi > y->hi ? -1 : 1;
    return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

static void emit_piece(struct ip_piece *out, uint32_t *n, sig_u128 lo, sig_u128 hi, uint8_t value)
{
    if (*n > 0 && out[*n - 1].value == value && out[*n - 1].hi + 1 == lo) {
        out[*n - 1].hi = hi;
        return;
    }
    out[(*n)++] = (struct ip_piece){.lo = lo, .hi = hi, .value = value};
}

/* The disjoint pieces of e[0, n) (one family, sorted): a sweep keeping the
 * blocks that enclose the current point on a stack, the innermost on top. */
static uint32_t paint(const struct sig_ip_entry *e, uint32_t n, uint32_t *stack,
                      struct ip_piece *out)
{
    uint32_t nout = 0, depth = 0;
    sig_u128 cur = 0;
    bool done = false; /* the last address of the family is emitted */
    for (uint32_t i = 0; i <= n; i++) {
        /* Close the blocks that end before this one starts (all at the end). */
        while (depth > 0 && (i == n || e[stack[depth - 1]].hi < e[i].lo)) {
            const struct sig_ip_entry *top = &e[stack[--depth]];
            if (!done && cur <= top->hi) {
                emit_piece(out, &nout, cur, top->hi, top->value);
                if (top->hi == ~(sig_u128)0)
                    done = true;
                else
                    cur = top->hi + 1;
            }
        }
        if (i == n)
            break;
        if (depth > 0 && cur < e[i].lo)
            emit_piece(out, &nout, cur, e[i].lo - 1, e[stack[depth - 1]].value);
        cur = e[i].lo;
        stack[depth++] = i;
    }
    return nout;
}

int sig_ip_table_build(struct sig_ip_builder *b, struct sig_ip_table *out)
{
    memset(out, 0, sizeof(*out));
    const uint32_t n = b->n;
    if (n == 0) {
        sig_ip_builder_free(b);
        return 0;
    }
    qsort(b->e, n, sizeof(b->e[0]), entry_order);
    uint32_t n4 = 0;
    while (n4 < n && b->e[n4].family == 4)
        n4++;
    uint32_t *stack = malloc(n * sizeof(*stack));
    struct ip_piece *pieces = malloc((2 * (size_t)n + 1) * sizeof(*pieces));
    int ret = -1;
    if (stack == NULL || pieces == NULL)
        goto out;

    const uint32_t p4 = paint(b->e, n4, stack, pieces);
    if (p4 > 0) {
        out->v4 = malloc(p4 * sizeof(*out->v4));
        out->v4_val = malloc(p4);
        if (out->v4 == NULL || out->v4_val == NULL)
            goto out;
        for (uint32_t i = 0; i < p4; i++) {
            out->v4[i].lo = (uint32_t)pieces[i].lo;
            out->v4[i].hi = (uint32_t)pieces[i].hi;
            out->v4_val[i] = pieces[i].value;
        }
        out->n4 = p4;
        if (p4 >= V4_INDEX_MIN) {
            out->v4_first = malloc(65537 * sizeof(uint32_t));
            if (out->v4_first == NULL)
                goto out;
            uint32_t j = 0;
            for (uint64_t p = 0; p <= 65536; p++) {
                while (j < p4 && out->v4[j].hi < (p << 16))
                    j++;
                out->v4_first[p] = j;
            }
        }
    }
    const uint32_t p6 = paint(b->e + n4, n - n4, stack, pieces);
    if (p6 > 0) {
        out->v6 = malloc(p6 * sizeof(*out->v6));
        out->v6_val = malloc(p6);
        if (out->v6 == NULL || out->v6_val == NULL)
            goto out;
        for (uint32_t i = 0; i < p6; i++) {
            out->v6[i].lo = pieces[i].lo;
            out->v6[i].hi = pieces[i].hi;
            out->v6_val[i] = pieces[i].value;
        }
        out->n6 = p6;
    }
    ret = 0;
out:
    free(stack);
    free(pieces);
    sig_ip_builder_free(b);
    if (ret != 0)
        sig_ip_table_free(out);
    return ret;
}

void sig_ip_table_free(struct sig_ip_table *t)
{
    free(t->v4);
    free(t->v4_val);
    free(t->v4_first);
    free(t->v6);
    free(t->v6_val);
    memset(t, 0, sizeof(*t));
}

uint64_t sig_ip_table_bytes(const struct sig_ip_table *t)
{
    return (uint64_t)t->n4 * (sizeof(t->v4[0]) + 1) + (t->v4_first ? 65537 * 4 : 0) +
           (uint64_t)t->n6 * (sizeof(t->v6[0]) + 1);
}

int sig_ip_table_find(const struct sig_ip_table *t, uint8_t family, const struct vg_ip_addr *a)
{
    if (family == 4) {
        const uint32_t x =
            (uint32_t)a->b[0] << 24 | (uint32_t)a->b[1] << 16 | (uint32_t)a->b[2] << 8 | a->b[3];
        uint32_t lo = 0, hi = t->n4;
        if (t->v4_first != NULL) {
            /* Only ranges from the first one reaching this /16 to the first
             * one reaching the next can hold x. */
            lo = t->v4_first[x >> 16];
            hi = t->v4_first[(x >> 16) + 1] + 1;
            if (hi > t->n4)
                hi = t->n4;
        }
        while (lo < hi) {
            const uint32_t mid = lo + (hi - lo) / 2;
            if (t->v4[mid].hi < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        return lo < t->n4 && t->v4[lo].lo <= x && t->v4[lo].hi >= x ? t->v4_val[lo] : -1;
    }
    if (family != 6)
        return -1;
    sig_u128 x = 0;
    for (int i = 0; i < 16; i++)
        x = (x << 8) | a->b[i];
    uint32_t lo = 0, hi = t->n6;
    while (lo < hi) {
        const uint32_t mid = lo + (hi - lo) / 2;
        if (t->v6[mid].hi < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < t->n6 && t->v6[lo].lo <= x && t->v6[lo].hi >= x ? t->v6_val[lo] : -1;
}

/* ---- Loading a list ------------------------------------------------------------- */

static int b64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64, padding optional; decodes in place. Returns the length,
 * or -1 when the text is not base64. */
static int64_t b64_decode(char *s, size_t n)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const int v = b64_value((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            s[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    return (int64_t)o;
}

static int append_key(struct dataset_contents *s, const void *key, uint32_t len, uint32_t *cap_off,
                      size_t *cap_keys)
{
    if (s->nkeys + 2 > *cap_off) {
        uint32_t cap = *cap_off ? *cap_off * 2 : 1024;
        uint32_t *off = realloc(s->off, cap * sizeof(*off));
        if (off == NULL)
            return -1;
        s->off = off;
        *cap_off = cap;
    }
    const size_t used = s->nkeys ? s->off[s->nkeys] : 0;
    if (used + len > *cap_keys) {
        size_t cap = *cap_keys ? *cap_keys : 16384;
        while (cap < used + len)
            cap *= 2;
        uint8_t *keys = realloc(s->keys, cap);
        if (keys == NULL)
            return -1;
        s->keys = keys;
        *cap_keys = cap;
    }
    if (used + len > UINT32_MAX)
        return -1;
    s->off[s->nkeys] = (uint32_t)used;
    memcpy(s->keys + used, key, len);
    s->off[++s->nkeys] = (uint32_t)(used + len);
    return 0;
}

/* One line of the list: 1 when added, 0 when bad, -1 out of memory. */
static int add_line(const struct sig_dataset *set, struct dataset_contents *s, char *line,
                    struct sig_ip_builder *blocks, uint32_t *cap_off, size_t *cap_keys)
{
    const size_t n = strlen(line);
    uint8_t raw[32];
    switch (set->type) {
    case SIG_DATASET_STRING: {
        if (set->format == DATASET_FORMAT_PLAIN)
            return append_key(s, line, (uint32_t)n, cap_off, cap_keys) == 0 ? 1 : -1;
        const int64_t len = b64_decode(line, n);
        if (len <= 0)
            return 0;
        return append_key(s, line, (uint32_t)len, cap_off, cap_keys) == 0 ? 1 : -1;
    }
    case SIG_DATASET_MD5:
    case SIG_DATASET_SHA256: {
        const uint32_t digest = set->type == SIG_DATASET_MD5 ? 16 : 32;
        if (n != 2 * digest || !hex_decode((const uint8_t *)line, (uint32_t)n, raw))
            return 0;
        return append_key(s, raw, digest, cap_off, cap_keys) == 0 ? 1 : -1;
    }
    default: {
        uint8_t family;
        sig_u128 lo, hi;
        uint32_t prefix;
        if (!sig_parse_cidr(line, &family, &lo, &hi, &prefix) ||
            (family == 6 && set->type == SIG_DATASET_IPV4))
            return 0;
        const uint32_t bits = family == 4 ? 32 : 128;
        if (prefix < bits)
            return sig_ip_builder_add(blocks, family, lo, hi, 1) == 0 ? 1 : -1;
        const uint32_t len = bits / 8;
        for (uint32_t i = 0; i < len; i++)
            raw[len - 1 - i] = (uint8_t)(lo >> (8 * i));
        return append_key(s, raw, len, cap_off, cap_keys) == 0 ? 1 : -1;
    }
    }
}

static int build_table(struct dataset_contents *s, uint32_t hashsize)
{
    uint64_t want = (uint64_t)s->nkeys * 2;
    if (want < hashsize)
        want = hashsize;
    uint32_t cap = 16;
    while (cap < want)
        cap *= 2;
    s->slots = calloc(cap, sizeof(*s->slots));
    if (s->slots == NULL)
        return -1;
    s->mask = cap - 1;
    for (uint32_t e = 0; e < s->nkeys; e++) {
        const uint8_t *key = s->keys + s->off[e];
        const uint32_t len = s->off[e + 1] - s->off[e];
        const uint64_t h = key_hash(key, len);
        uint64_t *slot = find_slot(s, key, len, h);
        if (*slot == 0) {
            *slot = (h >> 32) << 32 | (uint64_t)(e + 1);
            s->n++;
        }
    }
    s->bytes = (uint64_t)cap * sizeof(*s->slots) + (uint64_t)(s->nkeys + 1) * sizeof(*s->off) +
               (s->nkeys ? s->off[s->nkeys] : 0) + sig_ip_table_bytes(&s->blocks);
    return 0;
}

static void contents_free(struct dataset_contents *c)
{
    if (c == NULL)
        return;
    free(c->slots);
    free(c->off);
    free(c->keys);
    sig_ip_table_free(&c->blocks);
    free(c);
}

/* Why a list could not be read: a message, or the lines that are bad. */
struct list_status {
    char msg[256];      /* set when the file cannot be read or memory runs out */
    uint32_t bad;       /* lines that are not an entry of the set's type */
    uint32_t first_bad; /* line number of the first */
};

/* Reads the set's list file into new contents. Returns them, or NULL with
 * st->msg set. Bad lines are skipped and counted in st. */
static struct dataset_contents *read_list(const struct sig_dataset *s, struct list_status *st)
{
    memset(st, 0, sizeof(*st));
    FILE *f = fopen(s->path, "r");
    if (f == NULL) {
        snprintf(st->msg, sizeof(st->msg), "dataset '%s': cannot read '%s': %s", s->name, s->path,
                 strerror(errno));
        return NULL;
    }
    struct dataset_contents *c = calloc(1, sizeof(*c));
    char *line = NULL;
    size_t cap = 0;
    uint32_t lineno = 0;
    uint32_t cap_off = 0;
    size_t cap_keys = 0;
    struct sig_ip_builder blocks = {0};
    int ret = c != NULL ? 0 : -1;
    while (ret == 0 && getline(&line, &cap, f) >= 0) {
        lineno++;
        char *t = sig_trim(line);
        if (*t == '\0' || *t == '#')
            continue;
        for (char *p = t + 1; *p != '\0'; p++) {
            if (*p == '#' && isspace((unsigned char)p[-1])) {
                *p = '\0';
                t = sig_trim(t);
                break;
            }
        }
        const int added = add_line(s, c, t, &blocks, &cap_off, &cap_keys);
        if (added < 0)
            ret = -1;
        else if (added == 0 && st->bad++ == 0)
            st->first_bad = lineno;
    }
    free(line);
    fclose(f);
    if (ret == 0) {
        c->nblocks = blocks.n;
        if (sig_ip_table_build(&blocks, &c->blocks) != 0 || build_table(c, s->hashsize) != 0)
            ret = -1;
    }
    sig_ip_builder_free(&blocks);
    if (ret != 0) {
        contents_free(c);
        snprintf(st->msg, sizeof(st->msg), "out of memory");
        return NULL;
    }
    return c;
}

/* Entries of the contents as listed: distinct exact entries and blocks. */
static uint64_t contents_entries(const struct dataset_contents *c)
{
    return (uint64_t)c->n + c->nblocks;
}

/* Reads the list at start-up: bad lines are skipped with one warning.
 * Returns 0, or -1 with the error set. */
static int load_list(struct sig_rule_ctx *rc, struct sig_dataset *s)
{
    struct list_status st;
    struct dataset_contents *c = read_list(s, &st);
    if (c == NULL)
        return sig_fail(rc, "%s", st.msg);
    atomic_init(&s->cur, c);
    if (st.bad > 0 && rc->ld->err != NULL)
        fprintf(rc->ld->err,
                "%s:%u: warning: dataset '%s': bad %s entry; bad lines skipped in this file: %u\n",
                s->path, st.first_bad, s->name, type_names[s->type], st.bad);
    return 0;
}

static void dataset_free(struct sig_dataset *s)
{
    free(s->name);
    free(s->path);
    contents_free(atomic_load_explicit(&s->cur, memory_order_relaxed));
    free(s);
}

void sig_datasets_free(struct sig_dataset *list)
{
    while (list != NULL) {
        struct sig_dataset *next = list->next;
        dataset_free(list);
        list = next;
    }
}

/* A reload is stricter than start-up: a list with a bad line (a file
 * caught half-written, a feed in the wrong format) is not applied at all,
 * so the set never runs on part of a list. */
int vg_ruleset_reload_lists(struct vg_ruleset *rs, FILE *err, void (*wait_readers)(void *arg),
                            void *arg, struct vg_reload_stats *st)
{
    struct vg_reload_stats local;
    if (st == NULL)
        st = &local;
    memset(st, 0, sizeof(*st));
    uint32_t nsets = 0;
    for (const struct sig_dataset *s = rs->datasets; s != NULL; s = s->next)
        nsets++;
    /* The contents replaced, freed once no worker can hold them. */
    struct dataset_contents **old = calloc(nsets ? nsets : 1, sizeof(*old));
    if (old == NULL) {
        if (err != NULL)
            fprintf(err, "datasets: out of memory; keeping the previous lists\n");
        st->datasets_failed = nsets;
        return nsets > 0 ? -1 : 0;
    }
    uint32_t nold = 0;
    for (struct sig_dataset *s = rs->datasets; s != NULL; s = s->next) {
        struct list_status ls;
        struct dataset_contents *c = read_list(s, &ls);
        if (c == NULL) {
            if (err != NULL)
                fprintf(err, "%s:%u: %s; keeping the previous list\n", s->def_file, s->def_line,
                        ls.msg);
        } else if (ls.bad > 0) {
            if (err != NULL)
                fprintf(err,
                        "%s:%u: dataset '%s': bad %s entry; keeping the previous list (bad lines "
                        "in this file: %u)\n",
                        s->path, ls.first_bad, s->name, type_names[s->type], ls.bad);
        } else if (s->memcap != 0 && c->bytes > s->memcap) {
            if (err != NULL)
                fprintf(err,
                        "%s: dataset '%s': %llu entries take %llu bytes, over its memcap of %llu "
                        "bytes; keeping the previous list\n",
                        s->path, s->name, (unsigned long long)contents_entries(c),
                        (unsigned long long)c->bytes, (unsigned long long)s->memcap);
        } else {
            old[nold++] = atomic_exchange_explicit(&s->cur, c, memory_order_acq_rel);
            st->datasets_reloaded++;
            st->entries += contents_entries(c);
            continue;
        }
        contents_free(c);
        st->datasets_failed++;
    }
    if (wait_readers != NULL)
        wait_readers(arg);
    for (uint32_t i = 0; i < nold; i++)
        contents_free(old[i]);
    free(old);
    return st->datasets_failed > 0 ? -1 : 0;
}

/* ---- The keyword ---------------------------------------------------------------- */

/* What a rule or the configuration says about a set. */
struct dataset_def {
    const char *name;
    int type; /* enum sig_dataset_type, -1 when not given */
    const char *load;
    bool load_in_rule; /* load is the rule's: relative to the rule file */
    int format;        /* enum dataset_format, -1 when not given */
    bool has_memcap;
    uint64_t memcap;
    uint32_t hashsize; /* 0: not given */
};

static int parse_format(const char *v)
{
    for (size_t i = 0; i < VG_ARRAY_SIZE(format_names); i++) {
        if (strcasecmp(v, format_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

static int parse_type(const char *v)
{
    for (size_t i = 0; i < VG_ARRAY_SIZE(type_names); i++) {
        if (strcasecmp(v, type_names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* N, Nkb, Nmb, Ngb (binary units, case-insensitive). */
static bool parse_size(const char *v, uint64_t *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)*v))
        return false;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno != 0)
        return false;
    uint64_t mult = 1;
    if (strcasecmp(end, "kb") == 0)
        mult = 1ull << 10;
    else if (strcasecmp(end, "mb") == 0)
        mult = 1ull << 20;
    else if (strcasecmp(end, "gb") == 0)
        mult = 1ull << 30;
    else if (*end != '\0')
        return false;
    if (n > UINT64_MAX / mult)
        return false;
    *out = n * mult;
    return true;
}

static int parse_memcap(struct sig_rule_ctx *rc, const char *v, struct dataset_def *d)
{
    if (!parse_size(v, &d->memcap) || d->memcap == 0)
        return sig_fail(rc, "dataset: bad memcap '%s'", v);
    d->has_memcap = true;
    return 0;
}

static int parse_hashsize(struct sig_rule_ctx *rc, const char *v, struct dataset_def *d)
{
    int64_t n;
    if (!sig_parse_int(v, 1, DATASET_HASHSIZE_MAX, &n))
        return sig_fail(rc, "dataset: bad hashsize '%s' (1 to %u)", v, DATASET_HASHSIZE_MAX);
    d->hashsize = (uint32_t)n;
    return 0;
}

/* The configuration's datasets.<name>.* and datasets.defaults.*: load and
 * format over what the rule gave (the operator's list replaces the shipped
 * one), the others under it. */
static int config_def(struct sig_rule_ctx *rc, struct dataset_def *d)
{
    const struct vg_config *cfg = rc->ld->cfg;
    if (cfg == NULL)
        return 0;
    char key[128];
    snprintf(key, sizeof(key), "datasets.%s.type", d->name);
    const char *v = vg_config_get(cfg, key);
    if (v != NULL && d->type < 0) {
        d->type = parse_type(v);
        if (d->type < 0)
            return sig_fail(rc, "dataset: unknown type '%s' in %s (string, md5, sha256, ipv4, ip)",
                            v, key);
    }
    snprintf(key, sizeof(key), "datasets.%s.format", d->name);
    v = vg_config_get(cfg, key);
    if (v != NULL) {
        d->format = parse_format(v);
        if (d->format < 0)
            return sig_fail(rc, "dataset: unknown format '%s' in %s (base64, plain)", v, key);
    }
    snprintf(key, sizeof(key), "datasets.%s.load", d->name);
    v = vg_config_get(cfg, key);
    if (v != NULL) {
        const char *dir = vg_config_get(cfg, "default-rule-path");
        if (v[0] != '/' && dir != NULL && *dir != '\0') {
            static char joined[4096];
            snprintf(joined, sizeof(joined), "%s/%s", dir, v);
            v = joined;
        }
        d->load = v;
        d->load_in_rule = false;
    }
    const char *scopes[] = {d->name, "defaults"};
    for (size_t i = 0; i < VG_ARRAY_SIZE(scopes); i++) {
        snprintf(key, sizeof(key), "datasets.%s.memcap", scopes[i]);
        v = vg_config_get(cfg, key);
        if (v != NULL && !d->has_memcap && parse_memcap(rc, v, d) != 0)
            return -1;
        snprintf(key, sizeof(key), "datasets.%s.hashsize", scopes[i]);
        v = vg_config_get(cfg, key);
        if (v != NULL && d->hashsize == 0 && parse_hashsize(rc, v, d) != 0)
            return -1;
    }
    return 0;
}

/* A rule file's relative path, against the rule file's directory. */
static char *resolve_path(const char *rule_file, const char *path)
{
    const char *slash = strrchr(rule_file, '/');
    if (path[0] == '/' || slash == NULL)
        return strdup(path);
    const size_t dlen = (size_t)(slash - rule_file);
    char *out = malloc(dlen + 1 + strlen(path) + 1);
    if (out != NULL)
        sprintf(out, "%.*s/%s", (int)dlen, rule_file, path);
    return out;
}

/* The set of this name: the one already loaded (it must agree with what
 * the rule says), else loaded now. */
static struct sig_dataset *get_set(struct sig_rule_ctx *rc, struct dataset_def *d)
{
    struct sig_loader *ld = rc->ld;
    char *path = NULL;
    if (d->load != NULL) {
        path = d->load_in_rule ? resolve_path(rc->file, d->load) : strdup(d->load);
        if (path == NULL) {
            sig_fail(rc, "out of memory");
            return NULL;
        }
    }
    for (struct sig_dataset *s = ld->datasets; s != NULL; s = s->next) {
        if (strcmp(s->name, d->name) != 0)
            continue;
        if (d->type >= 0 && d->type != s->type)
            sig_fail(rc, "dataset '%s' is type %s here but type %s at %s:%u", d->name,
                     type_names[d->type], type_names[s->type], s->def_file, s->def_line);
        else if (path != NULL && strcmp(path, s->path) != 0)
            sig_fail(rc, "dataset '%s' loads '%s' here but '%s' at %s:%u", d->name, path, s->path,
                     s->def_file, s->def_line);
        else if (d->format >= 0 && d->format != s->format)
            sig_fail(rc, "dataset '%s' is format %s here but format %s at %s:%u", d->name,
                     format_names[d->format], format_names[s->format], s->def_file, s->def_line);
        else {
            free(path);
            return s;
        }
        free(path);
        return NULL;
    }
    if (d->type < 0) {
        free(path);
        sig_fail(rc,
                 "dataset '%s': no type (give 'type string|md5|sha256|ipv4|ip' or "
                 "datasets.%s.type in the configuration)",
                 d->name, d->name);
        return NULL;
    }
    if (path == NULL) {
        sig_fail(rc,
                 "dataset '%s': no file to load (give 'load <file>' or datasets.%s.load in the "
                 "configuration)",
                 d->name, d->name);
        return NULL;
    }
    struct sig_dataset *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->name = strdup(d->name)) == NULL) {
        free(s);
        free(path);
        sig_fail(rc, "out of memory");
        return NULL;
    }
    s->path = path;
    s->type = (uint8_t)d->type;
    s->format = d->format < 0 ? DATASET_FORMAT_BASE64 : (uint8_t)d->format;
    s->def_file = rc->file;
    s->def_line = rc->line;
    s->hashsize = d->hashsize;
    s->memcap = d->has_memcap ? d->memcap : 0;
    if (load_list(rc, s) != 0) {
        dataset_free(s);
        return NULL;
    }
    const struct dataset_contents *c = atomic_load_explicit(&s->cur, memory_order_relaxed);
    if (d->has_memcap && c->bytes > d->memcap) {
        sig_fail(rc, "dataset '%s': %u entries take %llu bytes, over its memcap of %llu bytes",
                 s->name, c->n + c->blocks.n4 + c->blocks.n6, (unsigned long long)c->bytes,
                 (unsigned long long)d->memcap);
        dataset_free(s);
        return NULL;
    }
    s->next = ld->datasets;
    ld->datasets = s;
    return s;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > DATASET_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && strchr("_-.", s[i]) == NULL)
            return false;
    }
    return true;
}

/* ip.src / ip.dst: a sticky "buffer" that only a dataset may follow. */
static int parse_addr_sticky(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                             const struct sig_option *o, uint8_t which)
{
    if (sig_no_value(rc, o) != 0)
        return -1;
    if (b->sticky_kw != NULL && !b->sticky_used)
        return sig_fail(rc, "sticky buffer '%s' is not followed by a content", b->sticky_kw);
    b->cur_buf = which;
    b->cur_resolve = SIG_RESOLVE_NONE;
    b->sticky_kw = o->kw;
    b->sticky_used = false;
    return 0;
}

int sig_kw_dataset(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o)
{
    if (strcasecmp(o->kw, "ip.src") == 0)
        return parse_addr_sticky(rc, b, o, SIG_BUF_IP_SRC);
    if (strcasecmp(o->kw, "ip.dst") == 0)
        return parse_addr_sticky(rc, b, o, SIG_BUF_IP_DST);
    if (strcasecmp(o->kw, "dataset") != 0)
        return 1;
    if (sig_need_value(rc, o) != 0)
        return -1;

    char buf[1024];
    if (strlen(o->val) >= sizeof(buf))
        return sig_fail(rc, "dataset: value too long");
    snprintf(buf, sizeof(buf), "%s", o->val);
    char *parts[8];
    int nparts = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        if (nparts == (int)VG_ARRAY_SIZE(parts))
            return sig_fail(rc, "dataset: too many options in '%s'", o->val);
        parts[nparts++] = sig_trim(t);
    }
    if (nparts < 2)
        return sig_fail(rc, "dataset needs a command and a name: "
                            "dataset:<isset|isnotset>,<name>[,type <type>][,load <file>]");
    bool negated;
    if (strcasecmp(parts[0], "isset") == 0)
        negated = false;
    else if (strcasecmp(parts[0], "isnotset") == 0)
        negated = true;
    else if (strcasecmp(parts[0], "set") == 0 || strcasecmp(parts[0], "unset") == 0)
        return sig_fail(rc,
                        "dataset: command '%s' writes to the set at run time; sets are read-only "
                        "here (isset, isnotset)",
                        parts[0]);
    else
        return sig_fail(rc, "dataset: unknown command '%s' (isset, isnotset)", parts[0]);
    if (!valid_name(parts[1]))
        return sig_fail(rc, "dataset: bad name '%s' (letters, digits, '_', '-', '.'; at most %d)",
                        parts[1], DATASET_NAME_MAX);

    struct dataset_def d = {.name = parts[1], .type = -1, .format = -1};
    for (int i = 2; i < nparts; i++) {
        char *key = parts[i];
        char *val = key;
        while (*val != '\0' && !isspace((unsigned char)*val))
            val++;
        if (*val != '\0')
            *val++ = '\0';
        val = sig_trim(val);
        if (strcasecmp(key, "save") == 0 || strcasecmp(key, "state") == 0)
            return sig_fail(rc, "dataset: '%s' writes the set at run time; sets are read-only here",
                            key);
        if (*val == '\0')
            return sig_fail(rc, "dataset: option '%s' needs a value", key);
        if (strcasecmp(key, "type") == 0) {
            d.type = parse_type(val);
            if (d.type < 0)
                return sig_fail(rc, "dataset: unknown type '%s' (string, md5, sha256, ipv4, ip)",
                                val);
        } else if (strcasecmp(key, "load") == 0) {
            d.load = val;
            d.load_in_rule = true;
        } else if (strcasecmp(key, "format") == 0) {
            d.format = parse_format(val);
            if (d.format < 0)
                return sig_fail(rc, "dataset: unknown format '%s' (base64, plain)", val);
        } else if (strcasecmp(key, "memcap") == 0) {
            if (parse_memcap(rc, val, &d) != 0)
                return -1;
        } else if (strcasecmp(key, "hashsize") == 0) {
            if (parse_hashsize(rc, val, &d) != 0)
                return -1;
        } else {
            return sig_fail(
                rc, "dataset: unknown option '%s' (type, load, format, memcap, hashsize)", key);
        }
    }
    if (config_def(rc, &d) != 0)
        return -1;

    /* The buffer decides what the set must hold, before any file is read. */
    const bool on_addr = b->cur_buf == SIG_BUF_IP_SRC || b->cur_buf == SIG_BUF_IP_DST;
    if (b->sticky_kw == NULL)
        return sig_fail(rc,
                        "dataset '%s' needs a sticky buffer before it (dns.query, tls.sni, "
                        "http.host, ip.src, ...)",
                        d.name);
    struct sig_dataset *set = get_set(rc, &d);
    if (set == NULL)
        return -1;
    if (on_addr && !type_is_addr(set->type))
        return sig_fail(rc, "dataset '%s' of type %s cannot inspect '%s' (type ipv4 or ip)", d.name,
                        type_names[set->type], b->sticky_kw);
    if (!on_addr && type_is_addr(set->type))
        return sig_fail(rc, "dataset '%s' of type %s needs ip.src or ip.dst before it", d.name,
                        type_names[set->type]);

    if (on_addr) {
        const struct sig_addr_test t = {
            .set = set,
            .side = b->cur_buf == SIG_BUF_IP_SRC ? SIG_SIDE_SRC : SIG_SIDE_DST,
            .negated = negated,
        };
        if (sig_add_addr_test(rc, b, &t) != 0)
            return -1;
        b->sticky_used = true;
        return 0;
    }
    struct sig_dataset_test *t = sig_arena_alloc(rc->ld->arena, sizeof(*t));
    if (t == NULL)
        return sig_fail(rc, "out of memory");
    t->set = set;
    t->negated = negated;
    return sig_add_elem(rc, b, SIG_ELEM_DATASET, t) != NULL ? 0 : -1;
}
