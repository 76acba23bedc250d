/* Private types of the signatures module: the parsed form of a rule, the
 * rule set, the classification table and the bump allocator that owns them.
 *
 * A rule is parsed once into a struct sig_rule whose every pointer refers
 * into the rule set's arena, so the whole set is freed in one go and the
 * matcher reads compact, immutable data. */
#ifndef VIGIL_SIG_RULE_INT_H
#define VIGIL_SIG_RULE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "vigil/behaviour.h"
#include "vigil/config.h"
#include "vigil/detect.h"

/* IPv6 addresses compare as 128-bit integers. */
typedef unsigned __int128 sig_u128;

/* ---- Bump allocator ------------------------------------------------------ */

struct sig_arena_chunk;

struct sig_arena {
    struct sig_arena_chunk *head;
    size_t bytes; /* total bytes obtained from malloc */
};

/* Zeroed memory aligned to 16 bytes, or NULL when out of memory. */
void *sig_arena_alloc(struct sig_arena *a, size_t size);
void *sig_arena_memdup(struct sig_arena *a, const void *src, size_t size);
char *sig_arena_strdup(struct sig_arena *a, const char *s);
void sig_arena_free(struct sig_arena *a);

/* ---- Classification ------------------------------------------------------ */

struct sig_classtype {
    const char *name;
    const char *desc;
    uint32_t priority;
};

struct sig_class_table {
    struct sig_classtype *v;
    uint32_t n;
    uint32_t cap;
};

/* The standard Snort/Suricata classtypes. Returns 0, or -1 when out of memory. */
int sig_class_load_builtin(struct sig_class_table *t, struct sig_arena *a);

/* Reads "config classification: name,description,priority" lines. Bad lines
 * are reported as "file:line: message" on err and skipped. Returns -1 when
 * the file cannot be read. */
int sig_class_load_file(struct sig_class_table *t, struct sig_arena *a, const char *path,
                        FILE *err);

const struct sig_classtype *sig_class_find(const struct sig_class_table *t, const char *name);
void sig_class_release(struct sig_class_table *t);

/* ---- Address and port sets ----------------------------------------------- */

/* Sorted, disjoint, non-adjacent inclusive ranges. */
struct sig_v4_range {
    uint32_t lo, hi;
};

struct sig_v6_range {
    sig_u128 lo, hi;
};

struct sig_port_range {
    uint16_t lo, hi;
};

struct sig_addr_set {
    bool any;
    uint32_t n4;
    uint32_t n6;
    const struct sig_v4_range *v4;
    const struct sig_v6_range *v6;
};

struct sig_port_set {
    bool any;
    uint32_t n;
    const struct sig_port_range *r;
};

/* Membership by binary search: the expression evaluator leaves the ranges
 * sorted and disjoint. Used by rule headers and the behaviour detectors. */
static inline bool sig_port_set_has(const struct sig_port_set *s, uint16_t port)
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

static inline bool sig_addr_set_has(const struct sig_addr_set *s, uint8_t family,
                                    const struct vg_ip_addr *a)
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
    if (family != 6)
        return false;
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

/* ---- Rules ---------------------------------------------------------------- */

enum sig_proto {
    SIG_PROTO_IP = 0, /* any IP packet */
    SIG_PROTO_TCP,
    SIG_PROTO_UDP,
    SIG_PROTO_ICMP, /* ICMPv4 and ICMPv6 */
};

/* Comparison of an integer field (dsize, itype, icode), as Suricata's
 * detect-engine-uint: a range N<>M excludes both ends. */
enum sig_uint_op {
    SIG_UINT_EQ = 0,
    SIG_UINT_NE,
    SIG_UINT_LT,
    SIG_UINT_LE,
    SIG_UINT_GT,
    SIG_UINT_GE,
    SIG_UINT_RANGE,
};

struct sig_uint_test {
    uint8_t op;
    uint32_t a;
    uint32_t b;
};

static inline bool sig_uint_test_holds(const struct sig_uint_test *t, uint64_t v)
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

/* Content flags. */
#define SIG_CONTENT_NOCASE       0x0001u
#define SIG_CONTENT_NEGATED      0x0002u
#define SIG_CONTENT_FAST_PATTERN 0x0004u
#define SIG_CONTENT_OFFSET       0x0008u
#define SIG_CONTENT_DEPTH        0x0010u
#define SIG_CONTENT_DISTANCE     0x0020u
#define SIG_CONTENT_WITHIN       0x0040u
/* A later element depends on where this content matched (a within, a
 * relative endswith, a relative element other than content): when the rest
 * fails, the content is retried at its next occurrence. */
#define SIG_CONTENT_WITHIN_NEXT 0x0080u
#define SIG_CONTENT_RELATIVE    (SIG_CONTENT_DISTANCE | SIG_CONTENT_WITHIN)
/* An element other than content that starts from the previous element's
 * end (pcre R, byte_test/byte_jump/isdataat relative): its parser sets it. */
#define SIG_ELEM_RELATIVE 0x0100u
/* startswith: offset 0 and depth len, set together with those two flags;
 * endswith: the content must end at the buffer's end (kw_bytes.c). */
#define SIG_CONTENT_STARTSWITH 0x0200u
#define SIG_CONTENT_ENDSWITH   0x0400u

/* What an element of a rule's content list is. The list keeps Suricata's
 * order, so relative elements chain on the one before them. Elements other
 * than content have no pattern (len 0) and keep their parameters behind
 * ext; they are never a fast pattern. */
enum sig_elem_kind {
    SIG_ELEM_CONTENT = 0,
    SIG_ELEM_PCRE,      /* ext: struct sig_pcre (pcre.c) */
    SIG_ELEM_BYTE_TEST, /* ext: struct sig_byte_op (kw_bytes.c) */
    SIG_ELEM_BYTE_JUMP, /* ext: struct sig_byte_op */
    SIG_ELEM_ISDATAAT,  /* ext: struct sig_byte_op */
    SIG_ELEM_BSIZE,     /* ext: struct sig_uint_test; the buffer's length */
    SIG_ELEM_DATASET,   /* ext: struct sig_dataset_test (dataset.c); the whole buffer */
};

/* Transforms of a sticky buffer (kw_bytes.c), a set of flags: the elements
 * after them inspect the transformed copy of the buffer. The two commute,
 * so their order in the rule does not matter. */
enum sig_transform {
    SIG_XFORM_NONE = 0,
    SIG_XFORM_DOTPREFIX = 1u << 0, /* a '.' in front of the buffer */
    SIG_XFORM_LOWERCASE = 1u << 1, /* to_lowercase: ASCII upper case folded */
};

struct sig_content {
    const uint8_t *pattern; /* lower-cased when SIG_CONTENT_NOCASE */
    uint32_t len;
    uint32_t flags;
    uint32_t offset;
    uint32_t depth;
    int32_t distance;
    uint32_t within;
    uint8_t buffer;    /* enum vg_buffer the content inspects */
    uint8_t kind;      /* enum sig_elem_kind */
    uint8_t transform; /* enum sig_transform applied to the buffer first */
    const void *ext;   /* the parameters of an element other than content */
};

/* Leading bytes of a content's pattern that its transform puts in front of
 * the raw buffer (dotprefix's '.'): the raw buffer's prefilter searches the
 * pattern without them, which finds a superset of the matches. */
static inline uint32_t sig_prefilter_skip(const struct sig_content *c)
{
    return c->kind == SIG_ELEM_CONTENT && (c->transform & SIG_XFORM_DOTPREFIX) && c->len > 0 &&
                   c->pattern[0] == '.'
               ? 1
               : 0;
}

/* byte_test, byte_jump and isdataat (kw_bytes.c); relative ones carry
 * SIG_ELEM_RELATIVE in their element's flags. */
enum sig_byte_cmp {
    SIG_BYTE_LT = 0,
    SIG_BYTE_GT,
    SIG_BYTE_EQ,
    SIG_BYTE_LE,
    SIG_BYTE_GE,
    SIG_BYTE_AND, /* any bit of the value set */
    SIG_BYTE_XOR, /* differs from the value */
};

#define SIG_JUMP_ALIGN          0x1u /* round the jump up to a multiple of 4 */
#define SIG_JUMP_FROM_BEGINNING 0x2u
#define SIG_JUMP_FROM_END       0x4u

struct sig_byte_op {
    int32_t offset;   /* where the bytes are read; isdataat: the position tested */
    uint8_t nbytes;   /* bytes read (1-8 binary, 1-20 as a string) */
    uint8_t base;     /* 0: binary; 8, 10 or 16: a number written in that base */
    uint8_t op;       /* byte_test: enum sig_byte_cmp */
    uint8_t jump;     /* byte_jump: SIG_JUMP_* */
    bool negated;     /* byte_test !op, isdataat !n */
    bool little;      /* little endian binary */
    uint8_t shift;    /* trailing zero bits of bitmask */
    uint64_t bitmask; /* 0: none */
    uint64_t value;   /* byte_test: the value compared with */
    uint32_t multiplier;
    int32_t post_offset;
};

/* The contents of an application-layer rule in one buffer: a run of the
 * rule's contents (they are grouped by buffer when the rule is parsed, in
 * their order within each buffer, so relative modifiers chain only inside
 * one buffer). */
struct sig_buffer_group {
    uint8_t buffer;    /* enum vg_buffer */
    uint8_t transform; /* enum sig_transform applied to the buffer first */
    bool all_negated;  /* a missing buffer satisfies the group */
    uint16_t first;    /* index of the group's first content */
    uint16_t n;
};

#define SIG_MAX_CONTENTS    64
#define SIG_MAX_CONTENT_LEN 65535u

/* Which optional tests a rule carries. */
#define SIG_TEST_DSIZE    0x01u
#define SIG_TEST_ITYPE    0x02u
#define SIG_TEST_ICODE    0x04u
#define SIG_TEST_TCPFLAGS 0x08u

/* tcp.flags modifiers, as Suricata's detect-tcp-flags. */
enum sig_tcpflags_mod {
    SIG_TCPFLAGS_EXACT = 0,
    SIG_TCPFLAGS_NOT,  /* '!': not all of the listed flags are set */
    SIG_TCPFLAGS_PLUS, /* '+': all listed flags set, others may be */
    SIG_TCPFLAGS_ANY,  /* '*': any of the listed flags set */
};

/* Where a rule's content is inspected. Suricata's: tcp-stream and
 * flow:only_stream inspect the reassembled stream only; tcp-pkt and
 * flow:no_stream the packet payload only; any other TCP (or IP) rule with a
 * content the stream when its direction is reassembled and the packet
 * payload otherwise. A rule without a positive content, or with dsize, is a
 * packet rule. */
enum sig_inspect {
    SIG_INSPECT_PACKET = 0,
    SIG_INSPECT_STREAM,
    SIG_INSPECT_STREAM_OR_PACKET,
};

/* The stream bytes a content may read, for a candidate whose fast pattern
 * ends at stream offset E: [max(E + rel_lo, abs_lo), min(E + rel_hi, abs_hi)).
 * rel_* bound it through the relative chain that holds the fast pattern,
 * abs_* through offset/depth and the chain from the stream start;
 * +-SIG_SPAN_INF where nothing bounds it. */
#define SIG_SPAN_INF ((int64_t)1 << 60)

struct sig_span {
    int64_t rel_lo, rel_hi;
    int64_t abs_lo, abs_hi;
};

/* Rule actions. drop and reject are accepted and act as alert in this
 * passive sensor (with a warning when loaded); pass stops inspection of the
 * packet and, on a TCP or UDP flow, of the rest of the flow. */
enum sig_action {
    SIG_ACTION_ALERT = 0,
    SIG_ACTION_PASS,
    SIG_ACTION_DROP,
    SIG_ACTION_REJECT,
};

/* flowbits (flowbits.c): conditions are read before the contents, actions
 * run when the whole rule matched. A condition on several names (a|b) holds
 * when any of them holds. */
enum sig_flowbit_cmd {
    SIG_FLOWBIT_SET = 0,
    SIG_FLOWBIT_UNSET,
    SIG_FLOWBIT_TOGGLE,
    SIG_FLOWBIT_ISSET,
    SIG_FLOWBIT_ISNOTSET,
};

#define SIG_FLOWBIT_MAX_NAMES 64 /* names in one isset/isnotset list */

struct sig_flowbit_op {
    uint8_t cmd; /* enum sig_flowbit_cmd */
    uint8_t nbits;
    const uint16_t *bits; /* indices in the loader's name registry */
};

struct sig_flowbits {
    uint16_t nconds; /* ops[0, nconds): isset, isnotset */
    uint16_t nacts;  /* ops[nconds, nconds + nacts): set, unset, toggle, in rule order */
    const struct sig_flowbit_op *ops;
};

/* xbits (xbits.c): the same commands as flowbits, on a bit kept per host
 * or host pair in the rule set's shared table. */
enum sig_xbit_track {
    SIG_XBIT_SRC = 0,
    SIG_XBIT_DST,
    SIG_XBIT_PAIR,
};

struct sig_xbit_op {
    uint8_t cmd;        /* enum sig_flowbit_cmd */
    uint8_t track;      /* enum sig_xbit_track */
    uint32_t expire_s;  /* set and toggle: the bit's lifetime after it is set */
    uint64_t name_hash; /* of name: part of the table key */
    const char *name;
};

struct sig_xbits {
    uint16_t nconds; /* ops[0, nconds): isset, isnotset */
    uint16_t nacts;  /* ops[nconds, nconds + nacts): set, unset, toggle, in rule order */
    const struct sig_xbit_op *ops;
};

struct sig_threshold;
struct sig_addr_test;

/* An event keyword (kw_event.c): the rule matches when vigil raises this
 * anomaly, and is run by vg_detect_event only. */
struct sig_event_test {
    uint8_t kind;        /* enum vg_anomaly_kind */
    uint8_t app_proto;   /* VG_ANOMALY_APPLAYER: enum vg_app_proto of the parser */
    uint8_t family;      /* 4 or 6: a per-family defragmentation name; 0: either */
    uint8_t dir;         /* VG_DF_TOSERVER or VG_DF_TOCLIENT: a one-direction name; 0: either */
    uint16_t event;      /* the event number of that kind (and parser) */
    const char *keyword; /* as written, for messages */
};

struct sig_rule {
    /* Header tests, read first for every candidate. */
    uint8_t proto;      /* enum sig_proto */
    uint8_t inspect;    /* enum sig_inspect */
    uint8_t bidir;      /* "<>": either direction matches */
    uint8_t tests;      /* SIG_TEST_* */
    uint8_t flow_mask;  /* VG_DF_* bits the flow keyword tests ... */
    uint8_t flow_value; /* ... and the value they must have */
    uint8_t tcpflags_mod;
    uint8_t tcpflags_want;
    uint8_t tcpflags_keep; /* mask applied to the packet's flags first */
    struct sig_uint_test dsize;
    struct sig_uint_test itype;
    struct sig_uint_test icode;
    struct sig_port_set sport;
    struct sig_port_set dport;
    struct sig_addr_set src;
    struct sig_addr_set dst;
    /* Application layer: the protocol the flow must have (enum vg_app_proto,
     * from the header or the buffers; 0: any), and for rules that inspect
     * application buffers the stage they are inspected at (enum
     * vg_app_stage; 0: a packet or stream rule) with their buffer groups.
     * Such a rule keeps inspect at SIG_INSPECT_PACKET but takes no part in
     * the packet and stream databases: it is matched by vg_detect_app. */
    uint8_t app_proto;
    uint8_t app_stage;
    uint8_t ngroups;
    const struct sig_buffer_group *groups;
    uint32_t ncontents;
    int32_t fast; /* index of the fast pattern content, -1 when none */
    const struct sig_content *contents;

    /* Stream inspection (set when the rule set is compiled): one span per
     * content, and the bytes before and after the fast pattern's end a
     * candidate may read, capped so that a stream's window holds them. */
    const struct sig_span *spans;
    uint32_t stream_before;
    uint32_t stream_ahead;

    /* After a match (postmatch.c): the action, flow state the rule reads
     * and writes, and the thresholds that decide whether it alerts. */
    uint8_t action;                        /* enum sig_action */
    uint8_t noalert;                       /* a match acts on flow state but raises no alert */
    const struct sig_flowbits *flowbits;   /* NULL: none (flowbits.c) */
    const struct sig_xbits *xbits;         /* NULL: none (xbits.c) */
    const struct sig_threshold *threshold; /* NULL: none (threshold.c) */
    const struct sig_event_test *event;    /* NULL: none (kw_event.c) */
    /* A behaviour detector's rule (kw_detector.c): enum vg_detector + 1; 0 for
     * every other rule. Never inspected by packet, stream or app matching. */
    uint8_t detector;

    /* Header-level tests of the packet's addresses: datasets on ip.src /
     * ip.dst and iprep (iprep.c); run after the endpoints match. */
    uint32_t naddr_tests;
    const struct sig_addr_test *addr_tests;

    /* A rule that names a header buffer of both directions (http.header,
     * ...) and no direction inspects the request and the response, as
     * Suricata does: the loader adds a second entry, this flag set, resolved
     * to the response variants. It shares sid and meta and counts as one rule. */
    uint8_t response_twin;

    struct vg_rule_meta meta;
    const char *file;
    uint32_t line;
};

/* ---- Thresholds (threshold.c) ---------------------------------------------- */

/* What a rule's threshold or detection_filter does with its matches
 * (SIG_THRESHOLD_NONE: it has only suppressions). */
enum sig_threshold_type {
    SIG_THRESHOLD_NONE = 0,
    SIG_THRESHOLD_LIMIT,     /* the first count matches of a window alert */
    SIG_THRESHOLD_THRESHOLD, /* every count-th match of a window alerts */
    SIG_THRESHOLD_BOTH,      /* the count-th match of a window alerts, once */
    SIG_THRESHOLD_DETECTION, /* detection_filter: matches after the count-th alert */
};

/* What matches are counted together. */
enum sig_track {
    SIG_TRACK_SRC = 0,
    SIG_TRACK_DST,
    SIG_TRACK_RULE,
    SIG_TRACK_BOTH, /* the address pair, either direction */
    SIG_TRACK_FLOW,
};

/* Which address of a packet a suppression tests. */
enum sig_suppress_track {
    SIG_SUPPRESS_ALL = 0, /* no address: the rule never alerts */
    SIG_SUPPRESS_SRC,
    SIG_SUPPRESS_DST,
    SIG_SUPPRESS_EITHER,
};

/* A suppress line of the threshold file: the packet's address must be in
 * addrs (any when the list had only negations) and not in except. */
struct sig_suppress {
    uint8_t track;             /* enum sig_suppress_track */
    struct sig_addr_set addrs; /* as a rule header's: sorted, negations applied */
};

/* Largest count a threshold may have: the tracking table packs it in 22 bits. */
#define SIG_THRESHOLD_COUNT_MAX 4194303u

struct sig_threshold {
    uint8_t type;  /* enum sig_threshold_type */
    uint8_t track; /* enum sig_track */
    uint32_t count;
    uint32_t seconds;
    uint32_t nsuppress;
    const struct sig_suppress *const *suppress;
};

struct sig_threshold_table;

/* A table of max_entries slots (rounded up to a power of two), all memory
 * allocated here; NULL when out of memory. */
struct sig_threshold_table *sig_threshold_table_new(uint32_t max_entries);
void sig_threshold_table_free(struct sig_threshold_table *t);
uint32_t sig_threshold_table_slots(const struct sig_threshold_table *t);
/* Counts one match of key (a hash of rule, track kind and address or flow)
 * at packet time ts_us under th's type, count and seconds; returns whether
 * it alerts. With no free slot it alerts and counts it in table_full. */
bool sig_threshold_table_hit(struct sig_threshold_table *t, uint64_t key,
                             const struct sig_threshold *th, uint64_t ts_us);
uint64_t sig_threshold_table_full(const struct sig_threshold_table *t);

/* After the rules are loaded and sorted: reads the threshold file (path
 * NULL: none), applies it to the rules, counts the rules with thresholds
 * and creates the tracking table (size from detect.thresholds.max-entries)
 * when one needs it. Bad lines are reported as "file:line: message" and
 * skipped. Returns 0, or -1 when the file cannot be read, the size key does
 * not parse or memory runs out. */
int sig_threshold_prepare(struct vg_ruleset *rs, const struct vg_config *cfg, const char *path,
                          FILE *err);

/* The rule matched: whether its suppressions and threshold let it alert. */
bool sig_threshold_allows(struct vg_detect_ctx *ctx, const struct sig_rule *r,
                          const struct vg_packet *p);

/* ---- Loading ------------------------------------------------------------- */

/* State while rule files are read: the rules parsed so far and the sids
 * already taken. */
struct sig_loader {
    const struct vg_config *cfg;
    const struct sig_class_table *classes;
    struct sig_arena *arena;
    FILE *err;

    struct sig_rule *rules;
    uint32_t nrules;
    uint32_t cap;

    uint32_t *sid_slots; /* open addressing on gid:sid: index + 1 of a rule, 0 is empty */
    uint32_t sid_cap;

    /* Flowbit names (flowbits.c): a name's index is its bit number;
     * open addressing on the name, index + 1 of a name, 0 is empty. */
    const char **flowbit_names;
    uint32_t nflowbits;
    uint32_t flowbit_names_cap;
    uint32_t *flowbit_slots;
    uint32_t flowbit_slots_cap;

    struct sig_pcre **pcres; /* the rule set's list of compiled regexes (pcre.c) */

    /* Datasets and IP reputation the rules named, loaded once and shared
     * (they move to the rule set). */
    struct sig_dataset *datasets;
    struct sig_iprep *iprep;

    uint32_t skipped;
    uint32_t dormant; /* rules waiting for an address group set to none */
    /* Skipped rules grouped by cause (rule_parse.c), for vigil -T. */
    struct vg_skip_reason *skip_reasons;
    uint32_t nskip_reasons;
    uint32_t skip_reasons_cap;
    uint32_t passive_actions; /* drop and reject rules loaded as alert */
    uint32_t files_failed;
    bool out_of_memory;
};

/* Reads one rule file. Returns 0, or -1 when it cannot be opened (reported
 * and counted in files_failed). */
int sig_load_file(struct sig_loader *ld, const char *path);

/* Parses the text of one rule (continuation lines already joined) found at
 * file:line. Returns 0 when the rule was added, -1 when it was reported and
 * skipped. */
int sig_parse_rule(struct sig_loader *ld, const char *file, uint32_t line, const char *text);

void sig_loader_release(struct sig_loader *ld);

/* After every file is read: one warning per flowbit that the loaded rules
 * check but never set, or set but never check ("file:line: warning: ..."
 * at the first rule that uses it so). */
void sig_flowbits_check_usage(const struct sig_loader *ld);
/* Frees the flowbit name registry. */
void sig_flowbits_release(struct sig_loader *ld);

/* Shared by flowbits and xbits (flowbits.c): the commands, bit names, and
 * the op arrays that keep conditions ahead of actions. */
int sig_bit_cmd_parse(const char *text); /* enum sig_flowbit_cmd, or -1 */
const char *sig_bit_cmd_name(uint8_t cmd);
bool sig_bit_cmd_is_condition(uint8_t cmd);
bool sig_bit_name_valid(const char *s); /* printable, no spaces, no ',' '|' ';' */
/* A copy of ops (nconds conditions, then nacts actions, each size bytes)
 * in arena a with op added at the end of its kind; NULL when out of memory. */
void *sig_bit_ops_add(struct sig_arena *a, const void *ops, uint32_t nconds, uint32_t nacts,
                      const void *op, size_t size, bool cond);

/* What a rule does with flowbits and xbits, for rule order: 0 none, 1
 * reads only, 2 sets and reads, 3 sets only (unset and toggle count as
 * setting). */
int sig_flowbits_order_class(const struct sig_rule *r);

/* xbits (xbits.c, keyword sig_kw_xbits): after loading, the usage warnings and the
 * shared table (detect.xbits.max-entries) when a rule uses xbits; the
 * conditions before a rule's contents and the actions after it matched. */
int sig_xbits_prepare(struct vg_ruleset *rs, const struct vg_config *cfg, FILE *err);
struct sig_xbits_table;
void sig_xbits_table_free(struct sig_xbits_table *t);
bool sig_xbits_hold(const struct vg_detect_ctx *ctx, const struct sig_rule *r,
                    const struct vg_packet *p);
void sig_xbits_run(struct vg_detect_ctx *ctx, const struct sig_rule *r, const struct vg_packet *p);

/* ---- Rule parsing: shared by the keyword parsers ------------------------- */

#define SIG_ERR_MSG_LEN 512

/* What is known about the rule being parsed, for its error message. */
struct sig_rule_ctx {
    struct sig_loader *ld;
    const char *file;
    uint32_t line;
    bool has_sid;
    uint32_t sid;
    /* An address group of the rule was set to "none" (not configured):
     * a rule whose source or destination is then empty waits for it and
     * is counted as dormant, not as an error. */
    bool saw_none;
    bool dormant;
    char msg[SIG_ERR_MSG_LEN];
};

/* One option of a rule: keyword and value (NULL when it has no ':'). */
struct sig_option {
    char *kw;
    char *val; /* NULL when the option has no ':' */
};

/* How a content's buffer is settled once the whole rule is known. */
enum sig_buffer_resolve {
    SIG_RESOLVE_NONE = 0,
    SIG_RESOLVE_DIRECTION, /* a header buffer of both directions: the response's
                            * when the rule inspects to_client */
    SIG_RESOLVE_FILE_DATA, /* the request body in a to_server rule, else the
                            * response body */
};

/* What a rule asks about where its content is inspected: the protocol
 * (tcp-stream, tcp-pkt) and the flow keyword (only_stream, no_stream). */
#define SIG_ASK_STREAM 0x1u
#define SIG_ASK_PACKET 0x2u

/* Metadata pairs kept per rule; further pairs are ignored. */
#define SIG_MAX_METADATA 64

/* Builder state for the options of one rule. */
struct sig_rule_build {
    struct sig_rule *r;
    struct sig_content c[SIG_MAX_CONTENTS];
    uint8_t *pat[SIG_MAX_CONTENTS];    /* writable view of c[i].pattern */
    uint8_t resolve[SIG_MAX_CONTENTS]; /* enum sig_buffer_resolve of c[i] */
    uint32_t nc;
    /* The sticky buffer the next contents go to, and how it resolves. */
    uint8_t cur_buf;
    uint8_t cur_resolve;
    const char *sticky_kw; /* the sticky keyword in force; NULL for the payload */
    bool sticky_used;      /* a content followed it */
    uint8_t cur_transform; /* enum sig_transform flags of the sticky buffer in force */
    /* A payload keyword that needs the buffer's end (endswith, ...): the
     * rule is not inspected on the stream. NULL when none. */
    const char *needs_end;
    uint32_t seen; /* single-use keywords already given */
    bool has_priority;
    uint32_t priority;
    const struct sig_classtype *classtype;
    struct vg_rule_kv metadata[SIG_MAX_METADATA]; /* in the order given */
    uint32_t nmetadata;
    const char *msg;
    uint32_t proto_ask; /* ASK_* of the protocol */
    uint32_t flow_ask;  /* ASK_* of the flow keyword */
};

/* Single-use keywords (struct sig_rule_build.seen). */
enum {
    SIG_SEEN_MSG = 1u << 0,
    SIG_SEEN_SID = 1u << 1,
    SIG_SEEN_REV = 1u << 2,
    SIG_SEEN_GID = 1u << 3,
    SIG_SEEN_CLASSTYPE = 1u << 4,
    SIG_SEEN_PRIORITY = 1u << 5,
    SIG_SEEN_FLOW = 1u << 6,
    SIG_SEEN_DSIZE = 1u << 7,
    SIG_SEEN_ITYPE = 1u << 8,
    SIG_SEEN_ICODE = 1u << 9,
    SIG_SEEN_FLAGS = 1u << 10,
    SIG_SEEN_TARGET = 1u << 11,
};

/* Sets the rule's error message; returns -1. */
__attribute__((format(printf, 2, 3))) int sig_fail(struct sig_rule_ctx *rc, const char *fmt, ...);
char *sig_trim(char *s);
/* A decimal integer in [min, max]; the whole string must be used. */
bool sig_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);
bool sig_parse_u32(const char *s, uint32_t *out);
/* Fails on a second use of a single-use keyword (bit: SEEN_*). */
int sig_once(struct sig_rule_ctx *rc, struct sig_rule_build *b, uint32_t bit, const char *kw);
int sig_need_value(struct sig_rule_ctx *rc, const struct sig_option *o);
int sig_no_value(struct sig_rule_ctx *rc, const struct sig_option *o);
/* A quoted string without its quotes, backslash escapes resolved, in the arena. */
char *sig_unquote(struct sig_arena *a, const char *v);
/* Appends an element other than content (enum sig_elem_kind) to the rule's
 * list, in the sticky buffer in force. Returns it (zeroed but for kind, ext
 * and buffer), or NULL with the error set. */
struct sig_content *sig_add_elem(struct sig_rule_ctx *rc, struct sig_rule_build *b, uint8_t kind,
                                 const void *ext);

/* The sticky "buffers" ip.src and ip.dst (dataset.c): only a dataset of
 * addresses may follow them, as a header-level test. Values past the
 * application buffers, never a content's buffer. */
#define SIG_BUF_IP_SRC ((uint8_t)VG_BUF_COUNT)
#define SIG_BUF_IP_DST ((uint8_t)(VG_BUF_COUNT + 1))

/* Keyword parsers of the other files: each returns 1 when the keyword is
 * not one of its own, 0 when it parsed it, -1 on an error (rc->msg set). */
int sig_kw_pcre(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* byte_test, byte_jump, isdataat, bsize, startswith, endswith, dotprefix */
int sig_kw_bytes(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* flowbits, noalert */
int sig_kw_flowbits(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
int sig_kw_xbits(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* threshold, detection_filter */
int sig_kw_threshold(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* dataset, ip.src, ip.dst */
int sig_kw_dataset(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* iprep */
int sig_kw_iprep(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* app-layer-event, decode-event, stream-event */
int sig_kw_event(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* Once every option is parsed: what an event rule may not combine with. */
int sig_event_finish(struct sig_rule_ctx *rc, const struct sig_rule_build *b);
/* detector */
int sig_kw_detector(struct sig_rule_ctx *rc, struct sig_rule_build *b, const struct sig_option *o);
/* Once every option is parsed: a detector rule takes no match keyword and
 * an any-to-any header. */
int sig_detector_finish(struct sig_rule_ctx *rc, const struct sig_rule_build *b);
/* After the rules are sorted: finds each detector's rule. */
void sig_detector_prepare(struct vg_ruleset *rs);

/* An address or port expression outside a rule (the behaviour detectors'
 * configuration, threshold.config's ip), evaluated as rule headers are,
 * with cfg's vars; the sets live in arena a. An address expression left
 * empty by a group set to "none" returns 0 with *waits set and an empty
 * set. Returns -1 with the reason in err ("bad <what> '<text>': ..."). */
int sig_eval_address_expr(const struct vg_config *cfg, struct sig_arena *a, const char *text,
                          const char *what, struct sig_addr_set *out, bool *waits, char *err,
                          size_t errlen);
int sig_eval_port_expr(const struct vg_config *cfg, struct sig_arena *a, const char *text,
                       struct sig_port_set *out, char *err, size_t errlen);

/* A pcre element (pcre.c). The compiled regex is PCRE2's memory, not the
 * arena's: every one is on the rule set's list and freed with it. */
struct sig_pcre {
    struct pcre2_real_code_8 *code; /* pcre2_code, JIT-compiled when the CPU allows */
    const char *source;             /* the regex between the slashes */
    const char *hs_expr;            /* Hyperscan prefilter expression; NULL: none */
    struct sig_pcre *next;          /* the rule set's list */
    uint32_t ovector_pairs;         /* captures + 1 */
    uint32_t match_limit;           /* detect.pcre.match-limit (O: override-match-limit) */
    uint32_t depth_limit;           /* detect.pcre.match-limit-recursion */
    unsigned hs_flags;              /* HS_FLAG_* of the i, s and m flags */
    bool relative;                  /* R */
    bool no_limit;                  /* O: the override ceiling instead */
    bool extended;                  /* x */
    bool hs_checked;                /* sig_pcre_prefilter ran */
};

/* Whether the pcre element e may be its rule's fast pattern: positive and
 * accepted by Hyperscan in prefiltering mode (checked once; a, the rule
 * set's arena, keeps the expression). */
bool sig_pcre_prefilter(struct sig_arena *a, const struct sig_content *e);
/* The Hyperscan expression of a pcre fast pattern and its flags
 * (HS_FLAG_PREFILTER included). */
const char *sig_pcre_hs_expression(const struct sig_content *e, unsigned *hs_flags);
/* Frees the compiled regexes of a rule set's list. */
void sig_pcre_release(struct sig_pcre *list);

/* The content a modifier applies to (the last one), or NULL with the error set. */
struct sig_content *sig_last_content(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                                     const char *kw);

/* ---- Application-layer buffers -------------------------------------------- */

/* What the rule engine knows about a buffer: the protocol whose
 * transactions carry it and the stage at which it becomes available.
 * both_dirs: the buffer holds the data of the stage's direction (SSH
 * banners), so a rule inspecting to_client reads it at VG_STAGE_RESPONSE. */
struct sig_buffer_info {
    const char *name; /* the rule keyword selecting it */
    uint8_t proto;    /* enum vg_app_proto; VG_APP_UNKNOWN for the payload */
    uint8_t stage;    /* enum vg_app_stage */
    bool both_dirs;
};

/* The buffer's facts, or NULL when b is out of range. */
const struct sig_buffer_info *sig_buffer_info(uint32_t b);

/* 64-bit hashing for the tables of signatures/ (thresholds, xbits,
 * datasets, the behaviour detectors): FNV-1a over bytes, then a finaliser
 * (MurmurHash3's fmix64) so that the low bits, which pick a slot, depend
 * on every input bit. */
#define SIG_FNV64_OFFSET UINT64_C(0xcbf29ce484222325)

static inline uint64_t sig_fnv64(uint64_t h, const void *data, size_t n)
{
    const uint8_t *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* Two addresses hashed in a fixed order, so that either direction of a
 * pair gives the same value (threshold by_both, xbits ip_pair). */
static inline uint64_t sig_fnv64_addr_pair(uint64_t h, const struct vg_ip_addr *a,
                                           const struct vg_ip_addr *b)
{
    if (memcmp(b->b, a->b, sizeof(a->b)) < 0) {
        const struct vg_ip_addr *t = a;
        a = b;
        b = t;
    }
    return sig_fnv64(sig_fnv64(h, a->b, sizeof(a->b)), b->b, sizeof(b->b));
}

static inline uint64_t sig_mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 33;
    h *= UINT64_C(0xc4ceb9fe1a85ec53);
    h ^= h >> 33;
    return h;
}

/* A zeroed array of slot_size-byte slots for an open-addressing table: a
 * power of two, at least want (at most max); *mask is its count - 1. NULL
 * when out of memory. */
void *sig_slots_new(uint64_t want, uint64_t max, size_t slot_size, uint64_t *mask);

/* Lower-cases an ASCII byte. */
static inline uint8_t sig_lower(uint8_t c)
{
    return (uint8_t)((c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c);
}

/* ---- Datasets and IP reputation (dataset.c, iprep.c) ----------------------- */

enum sig_dataset_type {
    SIG_DATASET_STRING = 0,
    SIG_DATASET_MD5,
    SIG_DATASET_SHA256,
    SIG_DATASET_IPV4,
    SIG_DATASET_IP, /* IPv4 and IPv6 */
};

struct sig_dataset; /* a named set, loaded once, read-only while packets flow */
struct sig_iprep;   /* the reputation categories and tables of the configuration */

/* ext of a SIG_ELEM_DATASET element. */
struct sig_dataset_test {
    const struct sig_dataset *set;
    bool negated; /* isnotset */
};

/* Whether the whole buffer is in the set (string: exact bytes; md5/sha256:
 * the raw digest or its hex text). */
bool sig_dataset_contains(const struct sig_dataset *set, const uint8_t *data, uint32_t len);
/* Whether an address is in an ipv4/ip set (exact entries or CIDR blocks). */
bool sig_dataset_contains_addr(const struct sig_dataset *set, uint8_t family,
                               const struct vg_ip_addr *a);
void sig_datasets_free(struct sig_dataset *list);

/* Sorted disjoint address ranges, each with a value (an iprep score; 1 in
 * a dataset). Built at load, looked up in a few memory accesses: IPv4
 * through an index on the top 16 bits, IPv6 by binary search. */
struct sig_ip_table {
    struct sig_v4_range *v4;
    uint8_t *v4_val;
    uint32_t *v4_first; /* 65537 entries, or NULL for a small table */
    uint32_t n4;
    struct sig_v6_range *v6;
    uint8_t *v6_val;
    uint32_t n6;
};

/* Addresses or CIDR blocks collected before a table is built. */
struct sig_ip_entry;
struct sig_ip_builder {
    struct sig_ip_entry *e;
    uint32_t n;
    uint32_t cap;
};

/* "a.b.c.d", "a.b.c.d/N", an IPv6 address or "v6/N" (host bits cleared):
 * family 4 or 6, the block's bounds and its prefix length. */
bool sig_parse_cidr(const char *s, uint8_t *family, sig_u128 *lo, sig_u128 *hi, uint32_t *prefix);
int sig_ip_builder_add(struct sig_ip_builder *b, uint8_t family, sig_u128 lo, sig_u128 hi,
                       uint8_t value);
/* Builds the table (where blocks nest, the most specific one's value
 * holds; the same block twice: the later one) and empties the builder.
 * Returns 0, or -1 when out of memory. */
int sig_ip_table_build(struct sig_ip_builder *b, struct sig_ip_table *out);
void sig_ip_builder_free(struct sig_ip_builder *b);
void sig_ip_table_free(struct sig_ip_table *t);
uint64_t sig_ip_table_bytes(const struct sig_ip_table *t);
/* The value of the range holding the address, or -1 when none does. */
int sig_ip_table_find(const struct sig_ip_table *t, uint8_t family, const struct vg_ip_addr *a);

/* Which addresses of the packet an address test reads. */
enum sig_addr_side {
    SIG_SIDE_SRC = 0,
    SIG_SIDE_DST,
    SIG_SIDE_ANY,  /* either */
    SIG_SIDE_BOTH, /* both */
};

/* A header-level test: a dataset of addresses (ip.src / ip.dst), or an
 * iprep score of one category compared with op (enum sig_uint_op). */
struct sig_addr_test {
    const struct sig_dataset *set; /* NULL: an iprep test */
    const struct sig_ip_table *rep;
    uint8_t side;
    uint8_t negated; /* dataset isnotset */
    uint8_t op;
    uint8_t value;
};

/* Appends a test to the rule being built. Returns 0, or -1 with the error set. */
int sig_add_addr_test(struct sig_rule_ctx *rc, struct sig_rule_build *b,
                      const struct sig_addr_test *t);
/* Every address test of the rule on the packet. */
bool sig_addr_tests_match(const struct sig_rule *r, const struct vg_packet *p);
void sig_iprep_free(struct sig_iprep *rep);

/* ---- The compiled rule set ------------------------------------------------ */

struct hs_database;

/* Protocol classes of packets. */
enum sig_pkt_class {
    SIG_PKT_TCP = 0,
    SIG_PKT_UDP,
    SIG_PKT_ICMP,
    SIG_PKT_OTHER,
    SIG_PKT_CLASS_COUNT,
};

/* Direction of a packet in its flow (VG_DF_TOSERVER / VG_DF_TOCLIENT, or
 * neither when it has no flow). */
enum sig_pkt_dir {
    SIG_DIR_NONE = 0,
    SIG_DIR_TOSERVER,
    SIG_DIR_TOCLIENT,
    SIG_DIR_COUNT,
};

/* Packet rule groups: protocol class x direction x whether stream
 * reassembly covers the payload (TCP only: then the rules the stream
 * inspects are left out). A group holds exactly the packet rules that can
 * match a packet of its kind. */
#define SIG_PKT_GROUP_COUNT (SIG_PKT_CLASS_COUNT * SIG_DIR_COUNT * 2)

static inline uint32_t sig_pkt_group_index(enum sig_pkt_class cls, enum sig_pkt_dir dir,
                                           bool stream)
{
    return ((uint32_t)cls * SIG_DIR_COUNT + (uint32_t)dir) * 2 +
           (uint32_t)(stream && cls == SIG_PKT_TCP);
}

/* A rule without a fast pattern, with the destination port range used to
 * skip it cheaply ([0, 65535] when the rule does not restrict it). */
struct sig_always {
    uint32_t rule;
    uint16_t dport_lo;
    uint16_t dport_hi;
    bool ip_only; /* see sig_rule_is_ip_only */
};

/* An IP-only rule tests addresses, protocol and address lists only (no
 * ports, content, packet field, flow keyword or flow state). As in
 * Suricata, it is inspected on the first packet of each direction of a
 * flow (on every packet that has no flow): one alert per flow direction,
 * not one per packet. */
bool sig_rule_is_ip_only(const struct sig_rule *r);

/* One packet rule group: its Hyperscan database of fast patterns (NULL when
 * none; groups with the same rules share one) and its rules without a fast
 * pattern. */
struct sig_pkt_group {
    struct hs_database *db;
    struct sig_always *always;
    uint32_t nalways;
};

struct vg_ruleset {
    /* Sorted in rule order (detect.c rule_order): a rule's index is its alert rank and its
     * Hyperscan pattern id. */
    struct sig_rule *rules;
    uint32_t nrules;
    /* Packet payloads: the groups (indexed by sig_pkt_group_index) and the
     * distinct databases they use, owned here. */
    struct sig_pkt_group pkt[SIG_PKT_GROUP_COUNT];
    struct hs_database *pkt_db[SIG_PKT_GROUP_COUNT];
    uint32_t npkt_db;
    struct hs_database *stream_db; /* streaming mode, stream rules; NULL when none */
    uint32_t stream_window; /* bytes a stream keeps: max over stream rules of before + ahead */
    /* Application-layer rules: one block-mode database per buffer holding
     * the fast patterns in that buffer (NULL when none), and per stage the
     * rules without a fast pattern. */
    struct hs_database *app_db[VG_BUF_COUNT];
    uint32_t *app_always[VG_STAGE_COUNT];
    uint32_t napp_always[VG_STAGE_COUNT];
    struct sig_pcre *pcres;                 /* every compiled regex, freed with the set */
    struct sig_threshold_table *thresholds; /* shared by all workers; NULL when unused */
    struct sig_xbits_table *xbits;          /* shared by all workers; NULL when unused */
    struct sig_dataset *datasets;           /* shared by the rules' dataset tests */
    struct sig_iprep *iprep;                /* NULL when no rule uses iprep */
    /* Event rules (kw_event.c): per (kind, protocol, event) slot, the
     * range [event_first[s], event_first[s + 1]) of event_rules holds the
     * indices of its rules in rule order. NULL when no rule has an event. */
    uint32_t *event_first;
    uint32_t *event_rules;
    /* Per detector (enum vg_detector), the index + 1 of its rule; 0: not
     * loaded (kw_detector.c). */
    uint32_t detector_rule[VG_DETECTOR_COUNT];
    /* Skipped rules by cause, most frequent first (strings in the arena). */
    struct vg_skip_reason *skip_reasons;
    uint32_t nskip_reasons;
    struct vg_ruleset_stats stats;
    struct sig_class_table classes;
    struct sig_arena arena;
};

/* The rule with this gid:sid, or NULL. */
const struct sig_rule *sig_ruleset_find(const struct vg_ruleset *rs, uint32_t gid, uint32_t sid);

/* Whether a rule's fast pattern goes into the database being built. */
typedef bool (*sig_rule_pick_fn)(const struct sig_rule *r, const void *arg);

/* Compiles the fast patterns of the rules pick() selects into one Hyperscan
 * database (mode HS_MODE_BLOCK or HS_MODE_STREAM; pattern id = rule index;
 * pattern_flags added to each, with HS_FLAG_CASELESS for nocase). *out
 * stays NULL when no rule is picked; its size is added to *db_bytes.
 * Returns 0, or -1 with the reason on err (file:line when Hyperscan names
 * the pattern). `what` names the set in messages. */
int sig_compile_fast_patterns(const struct vg_ruleset *rs, sig_rule_pick_fn pick, const void *arg,
                              unsigned mode, unsigned pattern_flags, const char *what,
                              struct hs_database **out, uint64_t *db_bytes, FILE *err);

/* Stream inspection of the loaded rules: spans and windows of the stream
 * rules, and their streaming database. Returns 0, or -1 with the reason on
 * err. */
int sig_stream_prepare(struct vg_ruleset *rs, FILE *err);

/* The application-layer databases and lists of the loaded rules. Returns 0,
 * or -1 with the reason on err. */
int sig_app_prepare(struct vg_ruleset *rs, FILE *err);
void sig_app_release(struct vg_ruleset *rs);

/* The event index of the loaded rules (and stats.event_rules). Returns 0,
 * or -1 with the reason on err. */
int sig_event_prepare(struct vg_ruleset *rs, FILE *err);
void sig_event_release(struct vg_ruleset *rs);

/* ---- Matching --------------------------------------------------------------- */

struct hs_scratch;
struct sig_stream_pool;

struct vg_detect_ctx {
    const struct vg_ruleset *rs;
    struct hs_scratch *scratch; /* fits every database of the rule set */
    uint32_t *cand;             /* candidate rule indices, nrules entries */
    uint32_t ncand;
    uint64_t *seen; /* one bit per rule: already a candidate for this packet */
    uint32_t nwords;
    struct sig_stream_pool *streams; /* NULL until vg_detect_ctx_streams */
    /* The flow the current calls run for (vg_detect_set_flow); NULL when
     * the packet has none. */
    struct vg_flow_vars *flow;
    uint64_t flow_id;
    bool stop;                     /* a pass rule matched: no further rule runs on this packet */
    struct sig_pcre_scratch *pcre; /* PCRE2 match data (pcre.c); NULL without pcre rules */
    uint64_t flowbits_refused;     /* sets refused: the flow held VG_FLOWBITS_PER_FLOW bits */
    /* Scratch for a transformed buffer (SIG_TRANSFORM_MAX bytes), and the
     * buffers too long for it (their group does not match). */
    uint8_t *xform;
    uint64_t transform_too_long;
};

#define SIG_TRANSFORM_MAX 8192u

/* The worker's PCRE2 match data, sized for the rule set's regexes.
 * Returns 0, or -1 when out of memory. */
int sig_pcre_ctx_init(struct vg_detect_ctx *ctx);
void sig_pcre_ctx_free(struct vg_detect_ctx *ctx);

/* After the header (and before the contents): the rule's state
 * conditions, flowbits and xbits isset / isnotset (xbits need p). */
bool sig_rule_state_ok(const struct vg_detect_ctx *ctx, const struct sig_rule *r,
                       const struct vg_packet *p);

/* The rule matched: applies what it does to flow state (flowbits, pass)
 * and returns whether it raises an alert (noalert and thresholds may say
 * no). */
bool sig_rule_fire(struct vg_detect_ctx *ctx, const struct sig_rule *r, const struct vg_packet *p);

void sig_stream_pool_free(struct sig_stream_pool *pool);

/* Adds a rule to the candidates unless it is one already. */
static inline void sig_add_candidate(struct vg_detect_ctx *ctx, uint32_t id)
{
    uint64_t bit = 1ull << (id & 63);
    uint64_t *w = &ctx->seen[id >> 6];
    if (!(*w & bit)) {
        *w |= bit;
        ctx->cand[ctx->ncand++] = id;
    }
}

/* Puts the candidates in rule order and clears their bits. */
void sig_order_candidates(struct vg_detect_ctx *ctx);

/* A buffer inspected for one rule. Positions are absolute: a packet payload
 * starts at 0, stream bytes at their stream offset, so offset and depth
 * count from the start of the stream. */
struct sig_inspection {
    const uint8_t *data; /* the byte at position base */
    int64_t base;
    int64_t end;               /* position after the last byte */
    int64_t anchor;            /* where the fast pattern content must start; -1: anywhere */
    bool open_end;             /* bytes after end may still come */
    bool provisional;          /* out: the match needs a negated content absent from a
                                * window that reaches past end while open_end */
    uint32_t budget;           /* content search attempts left */
    struct vg_detect_ctx *ctx; /* the worker's scratch (PCRE2 match data); may be NULL in tests */
};

/* byte_test, byte_jump, isdataat and bsize elements (kw_bytes.c), as
 * sig_elem_eval. */
int sig_bytes_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                   int64_t *cursor);

/* The transformed copy of a buffer in the worker's scratch (ctx->xform):
 * false when it does not fit (counted in ctx->transform_too_long). */
bool sig_transform_apply(struct vg_detect_ctx *ctx, uint8_t transform, const uint8_t **data,
                         uint32_t *len);

/* An element other than content (kind != SIG_ELEM_CONTENT) after the
 * previous element ended at prev_end: returns 1 when it holds, with
 * *cursor where the next relative element starts (prev_end for tests that
 * do not move it), 0 when it does not. Negation is handled inside. */
int sig_elem_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                  int64_t *cursor);
/* sig_elem_eval of a pcre element. */
int sig_pcre_eval(const struct sig_content *e, struct sig_inspection *in, int64_t prev_end,
                  int64_t *cursor);

/* Bound on content search attempts per rule and buffer, as Suricata's
 * inspection recursion limit: backtracking over many occurrences of an
 * early content cannot blow up. */
#define SIG_INSPECT_BUDGET 3000u

/* The rule's contents on the buffer, with Suricata's semantics. Returns 1 on
 * a match. */
int sig_inspect_contents(const struct sig_rule *r, struct sig_inspection *in);

/* The same on n contents taken alone (one buffer's group), with no anchor. */
int sig_inspect_slice(const struct sig_content *contents, uint32_t n, struct sig_inspection *in);

/* Every test of the rule but its contents, on the packet and flow facts. */
bool sig_rule_header_matches(const struct sig_rule *r, const struct vg_packet *p,
                             uint32_t flow_flags);

#endif
