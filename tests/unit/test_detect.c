/* Matcher semantics on hand-built packets: header tests, flow facts, integer
 * and flag tests, content with Suricata's modifiers and backtracking, alert
 * order. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(detect, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

#define MAX_ALERTS 256

struct alerts {
    uint32_t sid[MAX_ALERTS];
    uint32_t priority[MAX_ALERTS];
    uint32_t n;
};

static void collect(void *user, const struct vg_rule_meta *m)
{
    struct alerts *a = user;
    cr_assert_lt(a->n, MAX_ALERTS);
    a->sid[a->n] = m->sid;
    a->priority[a->n] = m->priority;
    a->n++;
}

struct engine {
    struct sig_load l;
    struct vg_detect_ctx *ctx;
};

static void engine_start(struct engine *e, const char *rules)
{
    sig_load_text(&e->l, rules, NULL);
    cr_assert_not_null(e->l.rs);
    cr_assert_str_empty(e->l.err, "unexpected errors: %s", e->l.err);
    e->ctx = vg_detect_ctx_new(e->l.rs);
    cr_assert_not_null(e->ctx);
}

static void engine_stop(struct engine *e)
{
    vg_detect_ctx_free(e->ctx);
    sig_load_done(&e->l);
}

static uint32_t run(struct engine *e, const struct vg_packet *p, uint32_t flow_flags,
                    struct alerts *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t n = vg_detect_packet(e->ctx, p, flow_flags, collect, a);
    cr_assert_eq(n, a->n, "return value %u, callbacks %u", n, a->n);
    return n;
}

static bool has_sid(const struct alerts *a, uint32_t sid)
{
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->sid[i] == sid)
            return true;
    }
    return false;
}

/* True when the packet raises exactly one alert, for sid. */
static bool fires(struct engine *e, const struct vg_packet *p, uint32_t flow_flags, uint32_t sid)
{
    struct alerts a;
    run(e, p, flow_flags, &a);
    return a.n == 1 && a.sid[0] == sid;
}

static bool silent(struct engine *e, const struct vg_packet *p, uint32_t flow_flags)
{
    struct alerts a;
    return run(e, p, flow_flags, &a) == 0;
}

static struct vg_packet packet(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport, const char *payload, uint32_t len)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert(p.family == 4 || p.family == 6);
    cr_assert_eq(vg_ip_addr_parse(dst, &p.dst), p.family);
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.flags = VG_PKT_HAS_L4;
    p.payload = (const uint8_t *)payload;
    p.payload_len = len;
    p.caplen = p.wirelen = 40 + len;
    return p;
}

static struct vg_packet tcp(const char *payload)
{
    return packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 80, payload,
                  (uint32_t)strlen(payload));
}

static struct vg_packet udp(const char *payload)
{
    return packet(IPPROTO_UDP, "192.168.1.10", 40000, "203.0.113.5", 53, payload,
                  (uint32_t)strlen(payload));
}

static struct vg_packet icmp4(uint8_t type, uint8_t code)
{
    struct vg_packet p = packet(IPPROTO_ICMP, "192.168.1.10", 0, "203.0.113.5", 0, "ping", 4);
    p.icmp_type = type;
    p.icmp_code = code;
    return p;
}

static struct vg_packet icmp6(uint8_t type, uint8_t code)
{
    struct vg_packet p = packet(IPPROTO_ICMPV6, "2001:db8::1", 0, "2001:db8::2", 0, "ping", 4);
    p.icmp_type = type;
    p.icmp_code = code;
    return p;
}

/* ---- Content ----------------------------------------------------------------- */

Test(detect, content_case_sensitive_and_nocase)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"Admin\"; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"LOGIN\"; nocase; sid:2;)\n");
    struct vg_packet p = tcp("xx Admin yy");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("xx admin yy");
    cr_assert(silent(&e, &p, 0));
    p = tcp("user LoGiN now");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("login");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("logi");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, hex_content_with_nul_bytes)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"|00 01|cmi|00|\"; sid:1;)\n");
    static const char bytes[] = {'x', 0, 1, 'c', 'm', 'i', 0, 'y'};
    struct vg_packet p = packet(IPPROTO_TCP, "10.0.0.1", 1, "10.0.0.2", 873, bytes, sizeof(bytes));
    cr_assert(fires(&e, &p, 0, 1));
    p.payload_len = 6; /* cut before the last NUL */
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, depth_and_offset)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"GET \"; depth:4; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"mgmt\"; offset:5; depth:6; sid:2;)\n"
                     "alert tcp any any -> any any (content:\"tail\"; offset:10; sid:3;)\n");
    struct vg_packet p = tcp("GET /");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp(" GET /");
    cr_assert(silent(&e, &p, 0));
    /* window [5, 11) */
    p = tcp("01234mgmt");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("012345mgmt");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("0123456mgmt");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("01234567mgmt");
    cr_assert(silent(&e, &p, 0));
    p = tcp("0123mgmt");
    cr_assert(silent(&e, &p, 0));
    p = tcp("0123456789tail");
    cr_assert(fires(&e, &p, 0, 3));
    p = tcp("012345678tail");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, distance_and_within)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"AB\"; content:\"CD\"; distance:2; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"EF\"; content:\"GH\"; within:4; "
                     "sid:2;)\n"
                     "alert tcp any any -> any any (content:\"IJ\"; content:\"KL\"; distance:1; "
                     "within:3; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"MN\"; content:\"OP\"; distance:0; "
                     "sid:4;)\n");
    struct vg_packet p = tcp("AB..CD");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("AB.CD");
    cr_assert(silent(&e, &p, 0));
    p = tcp("CD AB");
    cr_assert(silent(&e, &p, 0));
    p = tcp("EF..GH");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("EF...GH");
    cr_assert(silent(&e, &p, 0));
    /* window [end + 1, end + 1 + 3) */
    p = tcp("IJ.KL");
    cr_assert(fires(&e, &p, 0, 3));
    p = tcp("IJ..KL");
    cr_assert(fires(&e, &p, 0, 3));
    p = tcp("IJKL");
    cr_assert(silent(&e, &p, 0));
    p = tcp("IJ...KL");
    cr_assert(silent(&e, &p, 0));
    p = tcp("MNOP");
    cr_assert(fires(&e, &p, 0, 4));
    p = tcp("OPMN");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, negative_distance)
{
    struct engine e;
    /* "b" may start up to 3 bytes before the end of "xyz" */
    engine_start(&e, "alert tcp any any -> any any (content:\"xyz\"; content:\"yz!\"; "
                     "distance:-2; within:3; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"QRS\"; content:\"Q\"; distance:-10; "
                     "sid:2;)\n");
    struct vg_packet p = tcp("..xyz!");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("..xyz.yz!");
    cr_assert(silent(&e, &p, 0));
    /* a start before the buffer is clamped to 0 */
    p = tcp("QRS");
    cr_assert(fires(&e, &p, 0, 2));
    engine_stop(&e);
}

Test(detect, relative_on_first_content_is_from_the_start)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"abc\"; distance:2; within:5; "
                     "sid:1;)\n");
    struct vg_packet p = tcp("..abc");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp(".abc");
    cr_assert(silent(&e, &p, 0));
    p = tcp("....abc");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp(".....abc");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, negated_content)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"user\"; content:!\"admin\"; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"GET\"; content:!\"HTTP/1.1\"; "
                     "distance:0; within:20; sid:2;)\n"
                     "alert tcp any any -> any any (content:!\"zzz\"; sid:3;)\n");
    struct vg_packet p = tcp("user bob");
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 2);
    cr_assert(has_sid(&a, 1) && has_sid(&a, 3));
    p = tcp("user admin");
    cr_assert(fires(&e, &p, 0, 3));
    p = tcp("GET / HTTP/1.0");
    cr_assert(fires(&e, &p, 0, 3) == false);
    run(&e, &p, 0, &a);
    cr_assert(has_sid(&a, 2) && has_sid(&a, 3) && a.n == 2);
    p = tcp("GET / HTTP/1.1");
    cr_assert(fires(&e, &p, 0, 3));
    /* HTTP/1.1 too far away for the within: rule 2 matches */
    p = tcp("GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1");
    run(&e, &p, 0, &a);
    cr_assert(has_sid(&a, 2));
    p = tcp("zzz");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, negated_relative_content_backtracks)
{
    struct engine e;
    /* "a" not followed by "b": the first "a" is followed by "b", the second is not */
    engine_start(&e, "alert tcp any any -> any any (content:\"a\"; content:!\"b\"; within:1; "
                     "sid:1;)\n");
    struct vg_packet p = tcp("ab ac");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("ab ab");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, backtracking_retries_earlier_content)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"a\"; content:\"b\"; within:1; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"k\"; content:\"l\"; within:2; "
                     "content:\"m\"; within:2; sid:2;)\n");
    struct vg_packet p = tcp("a..a b ab");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("axxab");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("a..a b a b");
    cr_assert(silent(&e, &p, 0));
    /* the first k and l fit, m does not: retry l, then k */
    p = tcp("kl..kxlm");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("kl..kxl.m");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("kl..kxl..m");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, no_retry_when_next_content_has_no_within)
{
    struct engine e;
    /* As in Suricata, only a within on the next content makes an earlier
     * content try its next occurrence: with distance alone, the first "a"
     * decides. */
    engine_start(&e, "alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:3; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"x\"; content:!\"y\"; distance:0; "
                     "sid:2;)\n");
    struct vg_packet p = tcp("a...b");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("a.b a..b");
    cr_assert(fires(&e, &p, 0, 1));
    p = tcp("a.b a");
    cr_assert(silent(&e, &p, 0));
    p = tcp("x x");
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("xy x");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, backtracking_is_bounded)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"a\"; content:\"a\"; within:1; "
                     "content:\"a\"; within:1; content:\"b\"; within:1; sid:1;)\n");
    static char buf[20001];
    memset(buf, 'a', sizeof(buf) - 1);
    struct vg_packet p = tcp(buf);
    cr_assert(silent(&e, &p, 0));
    buf[sizeof(buf) - 2] = 'b';
    p = tcp(buf);
    /* the match is beyond the retry budget: giving up is the bounded answer */
    cr_assert(silent(&e, &p, 0));
    buf[5] = 'b';
    p = tcp(buf);
    cr_assert(fires(&e, &p, 0, 1));
    engine_stop(&e);
}

/* A random content chain: positive contents only, where Suricata's
 * inspection is equivalent to "some choice of occurrences satisfies every
 * constraint", which a brute force can check on short payloads. */
struct chain_content {
    char pat[4];
    int len;
    bool relative;
    bool has_offset, has_depth, has_distance, has_within;
    int offset, depth, distance, within;
};

static bool chain_oracle(const struct chain_content *c, int n, int i, const char *buf, int len,
                         int prev_end)
{
    if (i == n)
        return true;
    for (int p = 0; p + c[i].len <= len; p++) {
        if (memcmp(buf + p, c[i].pat, (size_t)c[i].len) != 0)
            continue;
        if (c[i].relative) {
            int dist = c[i].has_distance ? c[i].distance : 0;
            int start = prev_end + dist < 0 ? 0 : prev_end + dist;
            if (p < start)
                continue;
            if (c[i].has_within && p + c[i].len > prev_end + dist + c[i].within)
                continue;
        } else {
            if (c[i].has_offset && p < c[i].offset)
                continue;
            if (c[i].has_depth && p + c[i].len > c[i].offset + c[i].depth)
                continue;
        }
        if (chain_oracle(c, n, i + 1, buf, len, p + c[i].len))
            return true;
    }
    return false;
}

Test(detect, content_chains_agree_with_brute_force)
{
    enum { NRULES = 300, NPAYLOADS = 400 };
    static struct chain_content chains[NRULES][4];
    static int nchain[NRULES];
    static char lines[NRULES][256];
    static char rules[NRULES * 256];
    srand(12345);
    rules[0] = '\0';
    for (int r = 0; r < NRULES; r++) {
        char line[256];
        int off = snprintf(line, sizeof(line), "alert tcp any any -> any any (");
        nchain[r] = 1 + rand() % 4;
        for (int i = 0; i < nchain[r]; i++) {
            struct chain_content *c = &chains[r][i];
            memset(c, 0, sizeof(*c));
            c->len = 1 + rand() % 2;
            for (int k = 0; k < c->len; k++)
                c->pat[k] = "ab"[rand() % 2];
            off += snprintf(line + off, sizeof(line) - (size_t)off, "content:\"%s\"; ", c->pat);
            c->relative = rand() % 3 != 0;
            if (c->relative) {
                c->has_distance = rand() % 2;
                c->has_within = rand() % 2;
                c->distance = rand() % 7 - 3;
                c->within = c->len + rand() % 4;
                if (!c->has_within)
                    c->has_distance = true; /* no modifier would make it absolute */
                if (c->has_distance)
                    off += snprintf(line + off, sizeof(line) - (size_t)off, "distance:%d; ",
                                    c->distance);
                if (c->has_within)
                    off +=
                        snprintf(line + off, sizeof(line) - (size_t)off, "within:%d; ", c->within);
            } else {
                c->has_offset = rand() % 2;
                c->has_depth = rand() % 2;
                c->offset = rand() % 5;
                c->depth = c->len + rand() % 5;
                if (c->has_offset)
                    off +=
                        snprintf(line + off, sizeof(line) - (size_t)off, "offset:%d; ", c->offset);
                if (c->has_depth)
                    off += snprintf(line + off, sizeof(line) - (size_t)off, "depth:%d; ", c->depth);
                if (!c->has_offset)
                    c->offset = 0;
            }
        }
        snprintf(line + off, sizeof(line) - (size_t)off, "sid:%d;)\n", r + 1);
        strcat(rules, line);
        memcpy(lines[r], line, sizeof(line));
    }
    struct engine e;
    engine_start(&e, rules);
    for (int k = 0; k < NPAYLOADS; k++) {
        char buf[17];
        int len = rand() % 17;
        for (int i = 0; i < len; i++)
            buf[i] = "abx"[rand() % 3];
        buf[len] = '\0';
        struct vg_packet p = tcp(buf);
        struct alerts a;
        run(&e, &p, 0, &a);
        for (int r = 0; r < NRULES; r++) {
            bool want = chain_oracle(chains[r], nchain[r], 0, buf, len, 0);
            cr_assert_eq(has_sid(&a, (uint32_t)r + 1), want, "on \"%s\" expected %s: %s", buf,
                         want ? "a match" : "no match", lines[r]);
        }
    }
    engine_stop(&e);
}

Test(detect, content_on_empty_payload)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"x\"; sid:1;)\n"
                     "alert tcp any any -> any any (content:!\"x\"; sid:2;)\n"
                     "alert tcp any any -> any any (dsize:0; sid:3;)\n");
    struct vg_packet p = tcp("");
    p.payload = NULL;
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.sid[0], 2);
    cr_assert_eq(a.sid[1], 3);
    engine_stop(&e);
}

Test(detect, content_longer_than_payload)
{
    struct engine e;
    engine_start(&e, "alert udp any any -> any any (content:\"abcdef\"; sid:1;)\n");
    struct vg_packet p = udp("abc");
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, fragment_payload_is_inspected)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"secret\"; sid:1;)\n"
                     "alert tcp any any -> any 80 (content:\"secret\"; sid:2;)\n");
    struct vg_packet p = tcp("..secret..");
    p.flags = VG_PKT_FRAGMENT;
    p.sport = p.dport = 0;
    /* no ports on a fragment: only the rule without ports applies */
    cr_assert(fires(&e, &p, 0, 1));
    engine_stop(&e);
}

/* ---- Header ------------------------------------------------------------------- */

Test(detect, protocols)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"x\"; sid:1;)\n"
                     "alert udp any any -> any any (content:\"x\"; sid:2;)\n"
                     "alert icmp any any -> any any (content:\"ping\"; sid:3;)\n"
                     "alert ip any any -> any any (content:\"x\"; sid:4;)\n"
                     "alert tcp-pkt any any -> any any (content:\"x\"; sid:5;)\n");
    struct alerts a;
    struct vg_packet p = tcp("x");
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 3);
    cr_assert(has_sid(&a, 1) && has_sid(&a, 4) && has_sid(&a, 5));
    p = udp("x");
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 2);
    cr_assert(has_sid(&a, 2) && has_sid(&a, 4));
    p = icmp4(8, 0);
    cr_assert(fires(&e, &p, 0, 3));
    p = icmp6(128, 0);
    cr_assert(fires(&e, &p, 0, 3));
    p = packet(47, "10.0.0.1", 0, "10.0.0.2", 0, "x", 1); /* GRE */
    p.flags = 0;
    cr_assert(fires(&e, &p, 0, 4));
    engine_stop(&e);
}

Test(detect, non_ip_packet_is_ignored)
{
    struct engine e;
    engine_start(&e, "alert ip any any -> any any (sid:1;)\n");
    struct vg_packet p = tcp("x");
    cr_assert(fires(&e, &p, 0, 1));
    p.family = 0;
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, addresses)
{
    struct engine e;
    engine_start(&e, "alert tcp $HOME_NET any -> $EXTERNAL_NET any (content:\"x\"; sid:1;)\n"
                     "alert tcp 10.0.0.0/8 any -> [203.0.113.0/24,!203.0.113.7] any "
                     "(content:\"x\"; sid:2;)\n"
                     "alert tcp 2001:db8::/32 any -> any any (content:\"x\"; sid:3;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "192.168.1.1", 1000, "8.8.8.8", 80, "x", 1);
    cr_assert(fires(&e, &p, 0, 1));
    p = packet(IPPROTO_TCP, "8.8.8.8", 80, "192.168.1.1", 1000, "x", 1);
    cr_assert(silent(&e, &p, 0));
    p = packet(IPPROTO_TCP, "10.1.1.1", 1000, "203.0.113.9", 80, "x", 1);
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && has_sid(&a, 1) && has_sid(&a, 2));
    p = packet(IPPROTO_TCP, "10.1.1.1", 1000, "203.0.113.7", 80, "x", 1);
    cr_assert(fires(&e, &p, 0, 1));
    p = packet(IPPROTO_TCP, "2001:db8::5", 1000, "2001:db9::1", 80, "x", 1);
    /* EXTERNAL_NET holds every IPv6 address, HOME_NET none */
    cr_assert(fires(&e, &p, 0, 3));
    p = packet(IPPROTO_TCP, "2001:db9::5", 1000, "2001:db8::1", 80, "x", 1);
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, ports_and_negation)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any !80 (content:\"x\"; sid:1;)\n"
                     "alert tcp any 1024: -> any [80,443] (content:\"x\"; sid:2;)\n"
                     "alert tcp any any -> any [8000:9000,!8080] (content:\"x\"; sid:3;)\n"
                     "alert udp any any -> any $HTTP_PORTS (sid:4;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "1.1.1.1", 5000, "2.2.2.2", 80, "x", 1);
    cr_assert(fires(&e, &p, 0, 2));
    p.dport = 81;
    cr_assert(fires(&e, &p, 0, 1));
    p.dport = 443;
    p.sport = 1023;
    cr_assert(fires(&e, &p, 0, 1));
    p.sport = 1024;
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 1 && a.sid[1] == 2);
    p.dport = 8080;
    cr_assert(fires(&e, &p, 0, 1));
    p.dport = 8081;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && has_sid(&a, 1) && has_sid(&a, 3));
    /* no-content rule with a port */
    p = packet(IPPROTO_UDP, "1.1.1.1", 5000, "2.2.2.2", 80, "", 0);
    cr_assert(fires(&e, &p, 0, 4));
    p.dport = 81;
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, rules_with_ports_need_ports)
{
    struct engine e;
    engine_start(&e, "alert ip any any -> any 80 (sid:1;)\n"
                     "alert ip any any -> any any (sid:2;)\n");
    struct vg_packet p = icmp4(8, 0);
    cr_assert(fires(&e, &p, 0, 2));
    p = tcp("x");
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 2);
    engine_stop(&e);
}

Test(detect, bidirectional)
{
    struct engine e;
    engine_start(&e, "alert tcp 10.0.0.1 any <> 10.0.0.2 22 (content:\"SSH\"; sid:1;)\n"
                     "alert tcp 10.0.0.1 any -> 10.0.0.2 22 (content:\"SSH\"; sid:2;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "10.0.0.1", 50000, "10.0.0.2", 22, "SSH-2.0", 7);
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 1 && a.sid[1] == 2);
    p = packet(IPPROTO_TCP, "10.0.0.2", 22, "10.0.0.1", 50000, "SSH-2.0", 7);
    cr_assert(fires(&e, &p, 0, 1));
    p = packet(IPPROTO_TCP, "10.0.0.2", 23, "10.0.0.1", 50000, "SSH-2.0", 7);
    cr_assert(silent(&e, &p, 0));
    p = packet(IPPROTO_TCP, "10.0.0.3", 22, "10.0.0.1", 50000, "SSH-2.0", 7);
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

/* ---- Flow, integers, flags ----------------------------------------------------------- */

Test(detect, flow_direction_and_state)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (flow:to_server; content:\"q\"; sid:1;)\n"
                     "alert tcp any any -> any any (flow:to_client,established; content:\"q\"; "
                     "sid:2;)\n"
                     "alert tcp any any -> any any (flow:not_established; content:\"q\"; sid:3;)\n"
                     "alert tcp any any -> any any (flow:stateless; content:\"q\"; sid:4;)\n"
                     "alert tcp any any -> any any (flow:established; content:\"q\"; sid:5;)\n");
    struct vg_packet p = tcp("q");
    struct alerts a;

    run(&e, &p, VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED, &a);
    cr_assert(a.n == 3 && has_sid(&a, 1) && has_sid(&a, 4) && has_sid(&a, 5));

    run(&e, &p, VG_DF_HAS_FLOW | VG_DF_TOSERVER, &a);
    cr_assert(a.n == 3 && has_sid(&a, 1) && has_sid(&a, 3) && has_sid(&a, 4));

    run(&e, &p, VG_DF_HAS_FLOW | VG_DF_TOCLIENT | VG_DF_ESTABLISHED, &a);
    cr_assert(a.n == 3 && has_sid(&a, 2) && has_sid(&a, 4) && has_sid(&a, 5));

    run(&e, &p, VG_DF_HAS_FLOW | VG_DF_TOCLIENT, &a);
    cr_assert(a.n == 2 && has_sid(&a, 3) && has_sid(&a, 4));

    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && has_sid(&a, 3) && has_sid(&a, 4));
    engine_stop(&e);
}

Test(detect, itype_and_icode)
{
    struct engine e;
    engine_start(&e, "alert icmp any any -> any any (itype:8; sid:1;)\n"
                     "alert icmp any any -> any any (itype:3; icode:>1; sid:2;)\n"
                     "alert icmp any any -> any any (itype:128<>136; sid:3;)\n"
                     "alert ip any any -> any any (icode:!0; sid:4;)\n");
    struct vg_packet p = icmp4(8, 0);
    cr_assert(fires(&e, &p, 0, 1));
    p = icmp4(3, 1);
    cr_assert(fires(&e, &p, 0, 4));
    p = icmp4(3, 3);
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 2 && a.sid[1] == 4);
    p = icmp6(129, 0);
    cr_assert(fires(&e, &p, 0, 3));
    p = icmp6(128, 0); /* the range excludes its ends */
    cr_assert(silent(&e, &p, 0));
    p = icmp6(136, 0);
    cr_assert(silent(&e, &p, 0));
    /* itype and icode only match ICMP packets */
    p = tcp("x");
    p.icmp_type = 8;
    p.icmp_code = 1;
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, tcp_flags)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (flags:S; sid:1;)\n"
                     "alert tcp any any -> any any (flags:SA+; sid:2;)\n"
                     "alert tcp any any -> any any (flags:*FR; sid:3;)\n"
                     "alert tcp any any -> any any (flags:!A; sid:4;)\n"
                     "alert tcp any any -> any any (flags:S,CE; sid:5;)\n"
                     "alert tcp any any -> any any (tcp.flags:0; sid:6;)\n");
    const uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, ECE = 0x40,
                  CWR = 0x80;
    struct vg_packet p = tcp("");
    struct alerts a;

    p.tcp_flags = SYN;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 3 && a.sid[0] == 1 && a.sid[1] == 4 && a.sid[2] == 5);

    p.tcp_flags = SYN | ECE | CWR; /* exact S fails, S with C and E ignored matches */
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 4 && a.sid[1] == 5);

    p.tcp_flags = SYN | ACK;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 1 && a.sid[0] == 2);

    p.tcp_flags = SYN | ACK | PSH;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 1 && a.sid[0] == 2);

    p.tcp_flags = RST | ACK;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 1 && a.sid[0] == 3);

    p.tcp_flags = FIN;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 3 && a.sid[1] == 4);

    p.tcp_flags = 0;
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 4 && a.sid[1] == 6);

    /* not a TCP packet */
    p = udp("");
    p.tcp_flags = SYN;
    cr_assert(silent(&e, &p, 0));
    engine_stop(&e);
}

Test(detect, dsize)
{
    struct engine e;
    engine_start(&e, "alert udp any any -> any any (dsize:4; sid:1;)\n"
                     "alert udp any any -> any any (dsize:>5; sid:2;)\n"
                     "alert udp any any -> any any (dsize:<2; sid:3;)\n"
                     "alert udp any any -> any any (dsize:2<>4; sid:4;)\n"
                     "alert udp any any -> any any (dsize:!4; content:\"a\"; sid:5;)\n");
    struct alerts a;
    struct vg_packet p = udp("aaaa");
    cr_assert(fires(&e, &p, 0, 1));
    p = udp("aaaaaa");
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 2 && a.sid[1] == 5);
    p = udp("a");
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 3 && a.sid[1] == 5);
    p = udp("");
    cr_assert(fires(&e, &p, 0, 3));
    p = udp("aaa");
    run(&e, &p, 0, &a);
    cr_assert(a.n == 2 && a.sid[0] == 4 && a.sid[1] == 5);
    p = udp("aaaaa");
    cr_assert(fires(&e, &p, 0, 5));
    engine_stop(&e);
}

/* ---- Alerts ------------------------------------------------------------------------------ */

Test(detect, alert_order_and_once_per_rule)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"ab\"; content:\"ab\"; sid:30; "
                     "priority:3;)\n"
                     "alert tcp any any -> any any (content:\"ab\"; sid:20; priority:1;)\n"
                     "alert tcp any any -> any any (content:\"b\"; classtype:trojan-activity; "
                     "sid:40;)\n"
                     "alert tcp any any -> any any (dsize:>0; sid:10;)\n"
                     "alert tcp any any -> any any (content:\"AB\"; nocase; sid:5; priority:2;)\n");
    struct vg_packet p = tcp("ab ab ab ab");
    struct alerts a;
    run(&e, &p, 0, &a);
    const uint32_t sids[] = {20, 40, 5, 10, 30};
    const uint32_t prio[] = {1, 1, 2, 3, 3};
    cr_assert_eq(a.n, 5);
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq(a.sid[i], sids[i], "alert %u: sid %u", i, a.sid[i]);
        cr_assert_eq(a.priority[i], prio[i]);
    }
    /* the context is clean for the next packet */
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 5);
    p = tcp("zz");
    cr_assert(fires(&e, &p, 0, 10));
    engine_stop(&e);
}

Test(detect, many_candidates_stay_in_order)
{
    char rules[16384] = "";
    for (uint32_t i = 0; i < 100; i++) {
        char line[160];
        /* priorities 1..3 interleaved, sids descending in file order */
        snprintf(line, sizeof(line),
                 "alert tcp any any -> any any (content:\"p%u\"; priority:%u; sid:%u;)\n", i % 7,
                 1 + i % 3, 1000 - i);
        strcat(rules, line);
    }
    struct engine e;
    engine_start(&e, rules);
    struct vg_packet p = tcp("p0 p1 p2 p3 p4 p5 p6");
    struct alerts a;
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 100);
    for (uint32_t i = 1; i < a.n; i++) {
        bool ordered = a.priority[i - 1] < a.priority[i] ||
                       (a.priority[i - 1] == a.priority[i] && a.sid[i - 1] < a.sid[i]);
        cr_assert(ordered, "alert %u out of order", i);
    }
    /* a packet with some of the patterns */
    p = tcp("p3");
    run(&e, &p, 0, &a);
    cr_assert_eq(a.n, 14);
    for (uint32_t i = 0; i < a.n; i++)
        cr_assert_eq((1000 - a.sid[i]) % 7, 3);
    engine_stop(&e);
}

Test(detect, contexts_are_independent)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"evil\"; sid:1;)\n");
    struct vg_detect_ctx *second = vg_detect_ctx_new(e.l.rs);
    cr_assert_not_null(second);
    struct vg_packet p = tcp("so evil");
    struct alerts a;
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_detect_packet(second, &p, 0, collect, &a), 1);
    cr_assert(fires(&e, &p, 0, 1));
    vg_detect_ctx_free(second);
    engine_stop(&e);
}

Test(detect, empty_rule_set)
{
    struct vg_rule_load_opts opts = {0};
    struct vg_ruleset *rs = vg_ruleset_load(&opts, NULL);
    cr_assert_not_null(rs);
    struct vg_detect_ctx *ctx = vg_detect_ctx_new(rs);
    cr_assert_not_null(ctx);
    struct vg_packet p = tcp("anything");
    struct alerts a;
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_detect_packet(ctx, &p, 0, collect, &a), 0);
    vg_detect_ctx_free(ctx);
    vg_ruleset_free(rs);
    vg_detect_ctx_free(NULL);
    vg_ruleset_free(NULL);
}

static void keep_meta(void *user, const struct vg_rule_meta *m)
{
    *(const struct vg_rule_meta **)user = m;
}

Test(detect, rule_meta_in_alert)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (msg:\"BIG-IP TMUI traversal\"; "
                     "content:\"/tmui/login.jsp/..|3b|/\"; nocase; "
                     "classtype:web-application-attack; sid:2030469; rev:2;)\n");
    struct vg_packet p = tcp("GET /TMUI/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp");
    const struct vg_rule_meta *m = NULL;
    cr_assert_eq(vg_detect_packet(e.ctx, &p, 0, keep_meta, &m), 1);
    cr_assert_not_null(m);
    cr_assert_str_eq(m->msg, "BIG-IP TMUI traversal");
    cr_assert_eq(m->sid, 2030469);
    cr_assert_eq(m->rev, 2);
    cr_assert_eq(m->gid, 1);
    cr_assert_eq(m->priority, 1);
    cr_assert_str_eq(m->classtype, "web-application-attack");
    cr_assert_str_eq(m->category, "Web Application Attack");
    engine_stop(&e);
}

/* ---- Stream or packet ------------------------------------------------------------ */

Test(detect, stream_flag_leaves_stream_content_to_the_stream)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n"
                     "alert tcp-stream any any -> any any (content:\"EVIL\"; sid:2;)\n"
                     "alert tcp-pkt any any -> any any (content:\"EVIL\"; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flow:only_stream; sid:4;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flow:no_stream; sid:5;)\n"
                     "alert ip any any -> any any (content:\"EVIL\"; sid:6;)\n"
                     "alert tcp any any -> any any (dsize:6; sid:7;)\n");
    struct vg_packet p = tcp("xEVILx");
    struct alerts a;
    cr_assert_eq(run(&e, &p, 0, &a), 5);
    cr_assert(has_sid(&a, 1) && has_sid(&a, 3) && has_sid(&a, 5) && has_sid(&a, 6) &&
              has_sid(&a, 7));
    cr_assert_eq(run(&e, &p, VG_DF_STREAM, &a), 3);
    cr_assert(has_sid(&a, 3) && has_sid(&a, 5) && has_sid(&a, 7));
    /* The flag only concerns TCP payloads. */
    struct vg_packet u = udp("xEVILx");
    cr_assert(fires(&e, &u, VG_DF_STREAM, 6));
    engine_stop(&e);
}

/* ---- IP-only rules ------------------------------------------------------------ */

Test(detect, ip_only_rules_see_the_first_packet_of_each_direction)
{
    struct engine e;
    engine_start(&e, "alert ip 192.168.1.0/24 any <> any any (sid:1;)\n"
                     "alert tcp any any -> any 80 (sid:2;)\n"
                     "alert ip any any -> any any (flow:established; sid:3;)\n");
    cr_assert(sig_rule_is_ip_only(sig_ruleset_find(e.l.rs, 1, 1)));
    cr_assert_not(sig_rule_is_ip_only(sig_ruleset_find(e.l.rs, 1, 2)), "ports");
    cr_assert_not(sig_rule_is_ip_only(sig_ruleset_find(e.l.rs, 1, 3)), "flow keyword");

    struct vg_packet p = tcp("");
    struct vg_flow_vars vars;
    memset(&vars, 0, sizeof(vars));
    vg_detect_set_flow(e.ctx, &vars, 7);
    struct alerts a;
    const uint32_t ts = VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED;
    const uint32_t tc = VG_DF_HAS_FLOW | VG_DF_TOCLIENT | VG_DF_ESTABLISHED;
    /* first packet to the server: sid 1 (IP-only), 2 and 3 */
    cr_assert_eq(run(&e, &p, ts, &a), 3);
    /* later packets that way: the per-packet rules only */
    cr_assert_eq(run(&e, &p, ts, &a), 2);
    cr_assert_not(has_sid(&a, 1));
    /* the first packet back: sid 1 once more */
    run(&e, &p, tc, &a);
    cr_assert(has_sid(&a, 1));
    run(&e, &p, tc, &a);
    cr_assert_not(has_sid(&a, 1));
    /* without a flow, every packet */
    vg_detect_set_flow(e.ctx, NULL, 0);
    cr_assert_eq(run(&e, &p, 0, &a), 2);
    cr_assert(has_sid(&a, 1));
    cr_assert_eq(run(&e, &p, 0, &a), 2);
    cr_assert(has_sid(&a, 1));
    engine_stop(&e);
}
