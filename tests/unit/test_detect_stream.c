/* Detection on reassembled TCP streams: matches split over chunks are found
 * exactly once, offsets count from the stream start, gaps break matches,
 * the choice between stream and packet inspection, the pool of stream
 * states, and a randomized comparison with a brute-force matcher. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/packet.h"

#include "sig_test_util.h"

TestSuite(detect_stream, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

#define MAX_SID 64

struct alerts {
    uint32_t count[MAX_SID]; /* alerts per sid */
    uint32_t n;
};

static void collect(void *user, const struct vg_rule_meta *m)
{
    struct alerts *a = user;
    cr_assert_lt(m->sid, MAX_SID);
    a->count[m->sid]++;
    a->n++;
}

struct engine {
    struct sig_load l;
    struct vg_detect_ctx *ctx;
    struct vg_packet p; /* the packet that delivers stream bytes */
    uint32_t flow_flags;
};

static struct vg_packet packet(uint8_t proto, uint16_t dport, const char *payload)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse("192.168.1.10", &p.src);
    cr_assert_eq(vg_ip_addr_parse("203.0.113.5", &p.dst), 4);
    p.proto = proto;
    p.sport = 40000;
    p.dport = dport;
    p.flags = VG_PKT_HAS_L4;
    p.tcp_flags = 0x18; /* PSH ACK */
    p.payload = (const uint8_t *)payload;
    p.payload_len = (uint32_t)strlen(payload);
    p.caplen = p.wirelen = 54 + p.payload_len;
    return p;
}

static void engine_start_n(struct engine *e, const char *rules, uint32_t max_streams)
{
    sig_load_text(&e->l, rules, NULL);
    cr_assert_not_null(e->l.rs);
    cr_assert_str_empty(e->l.err, "unexpected errors: %s", e->l.err);
    e->ctx = vg_detect_ctx_new(e->l.rs);
    cr_assert_not_null(e->ctx);
    cr_assert_eq(vg_detect_ctx_streams(e->ctx, max_streams), 0);
    e->p = packet(IPPROTO_TCP, 80, "");
    e->flow_flags = VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED | VG_DF_STREAM;
}

static void engine_start(struct engine *e, const char *rules)
{
    engine_start_n(e, rules, 4);
}

static void engine_stop(struct engine *e)
{
    vg_detect_ctx_free(e->ctx);
    sig_load_done(&e->l);
}

static struct vg_detect_stream *open_stream(struct engine *e)
{
    struct vg_detect_stream *s = vg_detect_stream_open(e->ctx);
    cr_assert_not_null(s);
    return s;
}

/* Feeds len bytes at off; returns the alerts of this call (added to a). */
static uint32_t feed_flags(struct engine *e, struct vg_detect_stream *s, const char *data,
                           uint32_t len, uint64_t off, uint32_t flags, struct alerts *a)
{
    uint32_t before = a->n;
    uint32_t n = vg_detect_stream_data(e->ctx, s, (const uint8_t *)data, len, off, flags, &e->p,
                                       e->flow_flags, collect, a);
    cr_assert_eq(n, a->n - before, "returned %u, callbacks %u", n, a->n - before);
    return n;
}

static uint32_t feed(struct engine *e, struct vg_detect_stream *s, const char *data, uint64_t off,
                     struct alerts *a)
{
    return feed_flags(e, s, data, (uint32_t)strlen(data), off, 0, a);
}

/* Feeds text as chunks of the given sizes (the last chunk takes the rest),
 * then ends the stream. */
static void feed_split(struct engine *e, struct vg_detect_stream *s, const char *text,
                       const uint32_t *sizes, uint32_t nsizes, struct alerts *a)
{
    const uint32_t len = (uint32_t)strlen(text);
    uint32_t off = 0;
    for (uint32_t i = 0; i < nsizes && off < len; i++) {
        uint32_t n = sizes[i] < len - off ? sizes[i] : len - off;
        feed_flags(e, s, text + off, n, off, 0, a);
        off += n;
    }
    feed_flags(e, s, text + off, len - off, off, VG_DS_END, a);
}

static struct vg_detect_stream_stats stream_stats(const struct engine *e)
{
    struct vg_detect_stream_stats st;
    vg_detect_ctx_stream_stats(e->ctx, &st);
    return st;
}

/* ---- Split matches ----------------------------------------------------------------- */

Test(detect_stream, pattern_split_at_every_position)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVILPATTERN\"; sid:1;)\n");
    const char *text = "xxxxEVILPATTERNyyyy";
    const uint32_t len = (uint32_t)strlen(text);
    for (uint32_t k = 0; k <= len; k++) {
        struct vg_detect_stream *s = open_stream(&e);
        struct alerts a = {0};
        uint32_t first = feed_flags(&e, s, text, k, 0, 0, &a);
        uint32_t second = feed_flags(&e, s, text + k, len - k, k, 0, &a);
        cr_assert_eq(a.n, 1, "split at %u: %u alerts", k, a.n);
        cr_assert_eq(a.count[1], 1);
        /* The alert comes with the chunk that completes the pattern. */
        cr_assert_eq(first, k >= 15 ? 1u : 0u, "split at %u", k);
        cr_assert_eq(second, k >= 15 ? 0u : 1u, "split at %u", k);
        vg_detect_stream_close(e.ctx, s);
    }
    engine_stop(&e);
}

Test(detect_stream, one_byte_chunks)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVILPATTERN\"; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"AB\"; content:\"CD\"; distance:2; "
                     "within:4; fast_pattern; sid:2;)\n");
    const char *text = "..EVILPATTERN..AB..CD..";
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    for (uint32_t i = 0; text[i] != '\0'; i++)
        feed_flags(&e, s, text + i, 1, i, 0, &a);
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.count[1], 1);
    cr_assert_eq(a.count[2], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, two_occurrences_two_alerts)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "EVIL..EV", 0, &a), 1);
    cr_assert_eq(feed(&e, s, "IL..", 8, &a), 1);
    cr_assert_eq(feed(&e, s, "EVILEVIL", 12, &a), 2);
    cr_assert_eq(a.count[1], 4);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, overlapping_occurrences)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"aa\"; sid:1;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "aa", 0, &a), 1);
    cr_assert_eq(feed(&e, s, "a", 2, &a), 1);
    cr_assert_eq(feed(&e, s, "ba", 3, &a), 0);
    cr_assert_eq(feed(&e, s, "a", 5, &a), 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, no_match_across_a_gap)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVILPATTERN\"; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"AB\"; content:\"CD\"; distance:0; "
                     "sid:2;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    feed(&e, s, "..EVIL", 0, &a);
    feed_flags(&e, s, "PATTERN..", 9, 20, VG_DS_GAP, &a);
    cr_assert_eq(a.n, 0);
    /* A gap without the flag: the chunk starts past the bytes seen. */
    feed(&e, s, "..AB", 29, &a);
    feed(&e, s, "CD", 40, &a);
    cr_assert_eq(a.n, 0);
    /* After a gap matching goes on. */
    cr_assert_eq(feed(&e, s, "EVILPATTERN CD", 42, &a), 1);
    cr_assert_eq(a.count[1], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, gap_decides_waiting_candidates_on_the_bytes_before_it)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"GET\"; content:!\"Host\"; "
                     "distance:0; within:20; sid:1;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "GET /", 0, &a), 0);
    /* "Host" after the gap is not in the same stretch of bytes. */
    cr_assert_eq(feed_flags(&e, s, "Host", 4, 50, VG_DS_GAP, &a), 1);
    cr_assert_eq(a.count[1], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, bytes_seen_twice_are_inspected_once)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "..EVIL", 0, &a), 1);
    cr_assert_eq(feed(&e, s, "EVIL", 2, &a), 0);
    cr_assert_eq(feed(&e, s, "VIL..EVIL", 3, &a), 1);
    cr_assert_eq(a.count[1], 2);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

/* ---- Content modifiers on streams ---------------------------------------------------- */

Test(detect_stream, depth_and_offset_count_from_the_stream_start)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"GET \"; depth:4; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"mark\"; offset:10; depth:10; "
                     "sid:2;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "GE", 0, &a), 0);
    cr_assert_eq(feed(&e, s, "T /x", 2, &a), 1);
    /* past the depth */
    cr_assert_eq(feed(&e, s, "mark GET GET ", 6, &a), 0);
    /* window [10, 20) */
    cr_assert_eq(feed(&e, s, "mark", 19, &a), 0);
    cr_assert_eq(a.count[1], 1);
    vg_detect_stream_close(e.ctx, s);

    s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(feed(&e, s, "0123456789ma", 0, &a), 0);
    cr_assert_eq(feed(&e, s, "rk", 12, &a), 1);
    cr_assert_eq(feed(&e, s, "..mark", 14, &a), 1); /* ends at 20 */
    cr_assert_eq(feed(&e, s, "mark", 20, &a), 0);
    cr_assert_eq(a.count[2], 2);
    vg_detect_stream_close(e.ctx, s);

    /* After a gap the offsets still count from the start of the stream. */
    s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(feed_flags(&e, s, "GET mark", 8, 12, VG_DS_GAP, &a), 1);
    cr_assert_eq(a.count[2], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, distance_and_within_across_chunks)
{
    struct engine e;
    engine_start(&e,
                 /* the fast pattern comes first: the rule waits for the bytes after it */
                 "alert tcp any any -> any any (content:\"USER\"; fast_pattern; content:\"root\"; "
                 "distance:1; within:10; sid:1;)\n"
                 /* the fast pattern comes last: the bytes before it are kept */
                 "alert tcp any any -> any any (content:\"PASS\"; content:\"secret\"; "
                 "distance:0; within:12; sid:2;)\n");
    const uint32_t sizes_a[] = {5, 3};
    const uint32_t sizes_b[] = {2, 2, 2, 2, 2, 2, 2, 2};
    const uint32_t sizes_c[] = {100};
    const uint32_t *splits[] = {sizes_a, sizes_b, sizes_c};
    const uint32_t nsplits[] = {2, 8, 1};
    for (int k = 0; k < 3; k++) {
        struct vg_detect_stream *s = open_stream(&e);
        struct alerts a = {0};
        feed_split(&e, s, "xxUSER rootxx PASS: secretxx", splits[k], nsplits[k], &a);
        cr_assert_eq(a.count[1], 1, "split %d", k);
        cr_assert_eq(a.count[2], 1, "split %d", k);
        vg_detect_stream_close(e.ctx, s);

        s = open_stream(&e);
        memset(&a, 0, sizeof(a));
        feed_split(&e, s, "USER          root PASS:     ....   secret", splits[k], nsplits[k], &a);
        cr_assert_eq(a.n, 0, "split %d", k);
        vg_detect_stream_close(e.ctx, s);
    }

    /* The alert comes with the chunk that completes the match. */
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "USER", 0, &a), 0);
    cr_assert_eq(feed(&e, s, " ro", 4, &a), 0);
    cr_assert_eq(feed(&e, s, "ot", 7, &a), 1);
    cr_assert_eq(stream_stats(&e).windows_too_short, 0);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, negated_content_waits_for_its_window)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"GET\"; content:!\"Host\"; "
                     "distance:0; within:20; sid:1;)\n"
                     "alert tcp any any -> any any (content:!\"admin\"; depth:8; "
                     "content:\"login\"; sid:2;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "GET /", 0, &a), 0);
    cr_assert_eq(feed(&e, s, " Host: x", 5, &a), 0);
    cr_assert_eq(feed(&e, s, "..........................", 13, &a), 0);
    cr_assert_eq(a.n, 0);
    vg_detect_stream_close(e.ctx, s);

    /* Alerts once the window is complete without "Host". */
    s = open_stream(&e);
    cr_assert_eq(feed(&e, s, "GET /", 0, &a), 0);
    cr_assert_eq(feed(&e, s, "...........", 5, &a), 0);
    cr_assert_eq(feed(&e, s, ".......Host", 16, &a), 1);
    vg_detect_stream_close(e.ctx, s);

    /* The end of the stream decides. */
    s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(feed(&e, s, "GET /", 0, &a), 0);
    cr_assert_eq(feed_flags(&e, s, NULL, 0, 5, VG_DS_END, &a), 1);
    vg_detect_stream_close(e.ctx, s);

    /* Negated content before the fast pattern, with an absolute window. */
    s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(feed(&e, s, "/adm", 0, &a), 0);
    cr_assert_eq(feed(&e, s, "in/login", 4, &a), 0);
    vg_detect_stream_close(e.ctx, s);
    s = open_stream(&e);
    cr_assert_eq(feed(&e, s, "/a", 0, &a), 0);
    cr_assert_eq(feed(&e, s, "xmin/login", 2, &a), 1);
    cr_assert_eq(a.count[2], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, nocase_across_chunks)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"evil\"; nocase; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"Good\"; sid:2;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    feed(&e, s, "xEv", 0, &a);
    feed(&e, s, "IL GOOD go", 3, &a);
    feed(&e, s, "od Go", 13, &a);
    feed(&e, s, "od", 18, &a);
    cr_assert_eq(a.count[1], 1);
    cr_assert_eq(a.count[2], 1);
    cr_assert_eq(a.n, 2);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, header_tests_use_the_delivering_packet)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any 80 (content:\"EVIL\"; sid:1;)\n"
                     "alert tcp any any -> any 81 (content:\"EVIL\"; sid:2;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flow:to_client; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flags:PA; sid:4;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flags:S; sid:5;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    feed(&e, s, "EV", 0, &a);
    feed(&e, s, "IL", 2, &a);
    cr_assert_eq(a.n, 2);
    cr_assert_eq(a.count[1], 1);
    cr_assert_eq(a.count[4], 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

/* ---- Stream or packet ------------------------------------------------------------------ */

static uint32_t packet_alerts(struct engine *e, const struct vg_packet *p, uint32_t flags,
                              struct alerts *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t n = vg_detect_packet(e->ctx, p, flags, collect, a);
    cr_assert_eq(n, a->n);
    return n;
}

Test(detect_stream, stream_and_packet_rules)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n"
                     "alert tcp-stream any any -> any any (content:\"EVIL\"; sid:2;)\n"
                     "alert tcp-pkt any any -> any any (content:\"EVIL\"; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flow:only_stream; sid:4;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; flow:no_stream; sid:5;)\n"
                     "alert ip any any -> any any (content:\"EVIL\"; sid:6;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; dsize:>0; sid:7;)\n"
                     "alert tcp any any -> any any (flags:PA; sid:8;)\n"
                     "alert tcp any any -> any any (content:!\"GOOD\"; sid:9;)\n"
                     "alert udp any any -> any any (content:\"EVIL\"; sid:10;)\n");
    const uint32_t est = VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED;
    struct vg_packet p = packet(IPPROTO_TCP, 80, "xEVILx");
    struct alerts a;
    /* Not reassembled: every rule but the stream-only ones. */
    cr_assert_eq(packet_alerts(&e, &p, est, &a), 7);
    cr_assert(a.count[1] && a.count[3] && a.count[5] && a.count[6] && a.count[7] && a.count[8] &&
              a.count[9]);
    /* Reassembled: the packet keeps its packet-only rules. */
    cr_assert_eq(packet_alerts(&e, &p, est | VG_DF_STREAM, &a), 5);
    cr_assert(a.count[3] && a.count[5] && a.count[7] && a.count[8] && a.count[9]);
    /* Other protocols are not affected. */
    struct vg_packet u = packet(IPPROTO_UDP, 53, "EVIL");
    cr_assert_eq(packet_alerts(&e, &u, VG_DF_STREAM, &a), 2);
    cr_assert(a.count[6] && a.count[10]);

    /* The stream: the rules the stream covers. */
    struct vg_detect_stream *s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    feed(&e, s, "xEV", 0, &a);
    feed(&e, s, "ILx", 3, &a);
    cr_assert_eq(a.n, 4);
    cr_assert(a.count[1] && a.count[2] && a.count[4] && a.count[6]);
    vg_detect_stream_close(e.ctx, s);

    const struct vg_ruleset_stats *st = vg_ruleset_stats(e.l.rs);
    cr_assert_eq(st->stream_rules, 4);
    cr_assert_eq(st->stream_window, 4);
    cr_assert_gt(st->stream_db_bytes, 0);
    cr_assert_eq(st->patterns, 6); /* the packet database: all but the stream-only rules */
    engine_stop(&e);
}

Test(detect_stream, suricata_verify_rules_load)
{
    static const char *const tests[] = {"tcp-split-handshake-01-4whs",
                                        "eve-payload-01-tcp-exact-overlap"};
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/pcaps/suricata-verify/%s/test.rules", VG_SOURCE_ROOT,
                 tests[i]);
        const char *files[] = {path};
        struct sig_load l;
        sig_load_files(&l, files, 1, NULL, NULL);
        cr_assert_not_null(l.rs);
        cr_assert_str_empty(l.err, "%s: %s", tests[i], l.err);
        cr_assert_eq(l.st.rules_skipped, 0);
        cr_assert_gt(l.st.stream_rules, 0);
        sig_load_done(&l);
    }
}

/* ---- Pool ------------------------------------------------------------------------------- */

Test(detect_stream, pool_exhaustion_and_reuse)
{
    struct engine e;
    engine_start_n(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n", 2);
    struct vg_detect_stream *s1 = open_stream(&e);
    struct vg_detect_stream *s2 = open_stream(&e);
    cr_assert_neq(s1, s2);
    cr_assert_null(vg_detect_stream_open(e.ctx));
    cr_assert_null(vg_detect_stream_open(e.ctx));
    struct vg_detect_stream_stats st = stream_stats(&e);
    cr_assert_eq(st.max_streams, 2);
    cr_assert_eq(st.streams_in_use, 2);
    cr_assert_eq(st.pool_exhausted, 2);
    cr_assert_eq(st.window, 4);
    cr_assert_gt(st.bytes_per_stream, 4);
    /* The pool cannot be replaced while states are open. */
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 8), -1);

    /* Two streams at once keep their own state. */
    struct alerts a = {0};
    feed(&e, s1, "EV", 0, &a);
    feed(&e, s2, "xx", 0, &a);
    feed(&e, s2, "IL", 2, &a);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(feed(&e, s1, "IL", 2, &a), 1);

    vg_detect_stream_close(e.ctx, s1);
    cr_assert_eq(stream_stats(&e).streams_in_use, 1);
    struct vg_detect_stream *s3 = open_stream(&e);
    cr_assert_eq(s3, s1);
    vg_detect_stream_close(e.ctx, s2);
    vg_detect_stream_close(e.ctx, s3);
    vg_detect_stream_close(e.ctx, s3); /* closing twice is harmless */
    cr_assert_eq(stream_stats(&e).streams_in_use, 0);
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 8), 0);
    cr_assert_eq(stream_stats(&e).max_streams, 8);
    cr_assert_eq(stream_stats(&e).pool_exhausted, 0);
    engine_stop(&e);

    /* No pool, or an empty one: no state. */
    engine_start_n(&e, "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n", 0);
    cr_assert_null(vg_detect_stream_open(e.ctx));
    cr_assert_eq(stream_stats(&e).pool_exhausted, 1);
    cr_assert_eq(
        vg_detect_stream_data(e.ctx, NULL, (const uint8_t *)"EVIL", 4, 0, 0, &e.p, 0, collect, &a),
        0);
    engine_stop(&e);
}

Test(detect_stream, close_does_not_alert_and_reuse_starts_clean)
{
    struct engine e;
    engine_start_n(&e,
                   "alert tcp any any -> any any (content:\"EVILPATTERN\"; sid:1;)\n"
                   "alert tcp any any -> any any (content:\"AB\"; content:\"CDEF\"; distance:0; "
                   "sid:2;)\n"
                   "alert tcp any any -> any any (content:\"GET\"; content:!\"Host\"; "
                   "distance:0; sid:3;)\n",
                   1);
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    feed(&e, s, "..AB..GET /..EVILPAT", 0, &a);
    cr_assert_eq(a.n, 0);
    vg_detect_stream_close(e.ctx, s);
    cr_assert_eq(a.n, 0);
    cr_assert_eq(stream_stats(&e).undecided_at_close, 1); /* sid 3 waited for more bytes */

    /* The same state again: nothing of the previous stream is left. */
    struct vg_detect_stream *s2 = open_stream(&e);
    cr_assert_eq(s2, s);
    feed(&e, s2, "TERN..CDEF", 0, &a);
    feed_flags(&e, s2, NULL, 0, 10, VG_DS_END, &a);
    cr_assert_eq(a.n, 0);
    vg_detect_stream_close(e.ctx, s2);
    engine_stop(&e);
}

Test(detect_stream, rules_without_stream_rules)
{
    struct engine e;
    engine_start(&e, "alert tcp-pkt any any -> any any (content:\"EVIL\"; sid:1;)\n"
                     "alert tcp any any -> any any (dsize:4; sid:2;)\n");
    cr_assert_eq(vg_ruleset_stats(e.l.rs)->stream_rules, 0);
    cr_assert_eq(vg_ruleset_stats(e.l.rs)->stream_db_bytes, 0);
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    cr_assert_eq(feed(&e, s, "EVIL", 0, &a), 0);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, pending_overflow_decides_the_oldest)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"KEYWORD\"; fast_pattern; "
                     "content:\"!\"; distance:0; sid:1;)\n");
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    uint64_t off = 0;
    /* One more than the 32 candidates a stream holds. */
    for (int i = 0; i < 33; i++) {
        cr_assert_eq(feed(&e, s, "KEYWORD ", off, &a), 0);
        off += 8;
    }
    cr_assert_eq(stream_stats(&e).pending_overflow, 1);
    /* The 32 still waiting all find their "!". */
    cr_assert_eq(feed(&e, s, "!", off, &a), 32);
    vg_detect_stream_close(e.ctx, s);
    cr_assert_eq(stream_stats(&e).undecided_at_close, 0);
    engine_stop(&e);
}

/* KEYWORD, 993 dots and "!", one byte per chunk after KEYWORD: the
 * offset after the "!". */
static uint64_t feed_keyword_and_mark_bytewise(struct engine *e, struct vg_detect_stream *s,
                                               struct alerts *a)
{
    cr_assert_eq(feed(e, s, "KEYWORD", 0, a), 0);
    uint64_t off = 7;
    for (; off < 1000; off++)
        feed(e, s, ".", off, a);
    cr_assert_eq(feed(e, s, "!", off, a), 0); /* put off: 1 new byte against 1000 */
    return off + 1;
}

/* One-byte segments do not make a wide candidate re-read its whole window
 * with every byte: looks are put off until enough new bytes have come, and
 * the match is still found, a few bytes after the one that completed it. */
Test(detect_stream, small_segments_do_not_rescan_a_wide_window)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"KEYWORD\"; fast_pattern; "
                     "content:\"!\"; distance:0; sid:1;)\n");
    cr_assert_geq(vg_ruleset_stats(e.l.rs)->stream_window, 4000);
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    uint64_t alerted_at = 0;
    for (uint64_t off = feed_keyword_and_mark_bytewise(&e, s, &a); off < 4000; off++) {
        if (feed(&e, s, ".", off, &a) == 1)
            alerted_at = off;
    }
    cr_assert_eq(a.n, 1);
    cr_assert_eq(a.count[1], 1);
    /* The next look once an eighth of the 1000 bytes has come. */
    cr_assert(alerted_at > 1000 && alerted_at <= 1000 + 1000 / 8 + 1, "alerted at %llu",
              (unsigned long long)alerted_at);
    const struct vg_detect_stream_stats st = stream_stats(&e);
    /* Every byte up to 512 bytes read, then one look per eighth: far fewer
     * than the 1000 looks one per byte would take. */
    cr_assert_lt(st.revisits, 600, "%llu looks", (unsigned long long)st.revisits);
    cr_assert_gt(st.revisits_deferred, 0);
    vg_detect_stream_close(e.ctx, s);

    /* The end of the direction decides a candidate whose look was put off. */
    s = open_stream(&e);
    memset(&a, 0, sizeof(a));
    const uint64_t end = feed_keyword_and_mark_bytewise(&e, s, &a);
    cr_assert_eq(feed_flags(&e, s, NULL, 0, end, VG_DS_END, &a), 1);
    vg_detect_stream_close(e.ctx, s);
    cr_assert_eq(stream_stats(&e).undecided_at_close, 0);
    engine_stop(&e);
}

Test(detect_stream, window_too_short_is_counted)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"start\"; depth:5; "
                     "content:\"LONGPATTERN\"; distance:0; sid:1;)\n");
    static char text[6000];
    memset(text, '.', sizeof(text) - 1);
    memcpy(text, "start", 5);
    memcpy(text + 100, "LONGPATTERN", 11);
    memcpy(text + 5500, "LONGPATTERN", 11);
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    feed(&e, s, text, 0, &a);
    cr_assert_eq(a.count[1], 1);
    struct vg_detect_stream_stats st = stream_stats(&e);
    cr_assert_eq(st.window, 4096);
    cr_assert_eq(st.windows_too_short, 1);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

Test(detect_stream, long_stream_keeps_a_bounded_window)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"AB\"; content:\"CDEFGH\"; "
                     "distance:0; within:100; sid:1;)\n");
    cr_assert_eq(vg_ruleset_stats(e.l.rs)->stream_window, 102);
    struct vg_detect_stream *s = open_stream(&e);
    struct alerts a = {0};
    static char block[1000];
    memset(block, '.', sizeof(block));
    uint64_t off = 0;
    for (int i = 0; i < 50; i++) {
        block[990] = 'A';
        block[991] = 'B';
        feed_flags(&e, s, block, sizeof(block), off, 0, &a);
        off += sizeof(block);
        feed(&e, s, "..CDEFGH", off, &a);
        off += 8;
    }
    cr_assert_eq(a.count[1], 50);
    cr_assert_eq(stream_stats(&e).windows_too_short, 0);
    vg_detect_stream_close(e.ctx, s);
    engine_stop(&e);
}

/* Contents placed as far from the fast pattern as their modifiers allow:
 * the window is exactly what the rule may need, and every chunking finds
 * the match. */
static void expect_every_chunking(struct engine *e, const char *text, uint32_t sid, uint32_t want)
{
    const uint32_t len = (uint32_t)strlen(text);
    for (uint32_t size = 1; size <= len; size++) {
        struct vg_detect_stream *s = open_stream(e);
        struct alerts a = {0};
        uint32_t off = 0;
        while (off < len) {
            uint32_t n = size < len - off ? size : len - off;
            feed_flags(e, s, text + off, n, off, 0, &a);
            off += n;
        }
        feed_flags(e, s, NULL, 0, off, VG_DS_END, &a);
        cr_assert_eq(a.count[sid], want, "sid %u, chunks of %u: %u alerts", sid, size,
                     a.count[sid]);
        vg_detect_stream_close(e->ctx, s);
    }
}

Test(detect_stream, window_holds_the_bytes_before_the_fast_pattern)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"HEAD\"; content:\"X\"; distance:5; "
                     "within:10; content:\"LONGPATTERN\"; distance:3; within:20; sid:1;)\n");
    /* HEAD may start 4 + 14 + 1 + 12 + 11 bytes before the end of LONGPATTERN. */
    cr_assert_eq(vg_ruleset_stats(e.l.rs)->stream_window, 42);
    expect_every_chunking(&e, "....................HEAD..............X............LONGPATTERN..", 1,
                          1);
    /* One byte further apart: no match. */
    expect_every_chunking(&e, "....................HEAD..............X.............LONGPATTERN..",
                          1, 0);
    expect_every_chunking(&e, "....................HEAD...............X............LONGPATTERN..",
                          1, 0);
    cr_assert_eq(stream_stats(&e).windows_too_short, 0);
    engine_stop(&e);
}

Test(detect_stream, window_holds_the_bytes_after_the_fast_pattern)
{
    struct engine e;
    engine_start(&e, "alert tcp any any -> any any (content:\"LONGPATTERN\"; fast_pattern; "
                     "content:\"X\"; distance:5; within:10; content:\"TAIL\"; distance:3; "
                     "within:20; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"FASTPATTERN\"; content:!\"NO\"; "
                     "distance:2; within:6; sid:2;)\n");
    /* 11 bytes before the end of the fast pattern, TAIL may end 15 + 3 + 20 after it. */
    cr_assert_eq(vg_ruleset_stats(e.l.rs)->stream_window, 49);
    expect_every_chunking(&e, "..LONGPATTERN..............X...................TAIL..", 1, 1);
    expect_every_chunking(&e, "..LONGPATTERN..............X....................TAIL..", 1, 0);
    expect_every_chunking(&e, "..LONGPATTERN...............X...................TAIL..", 1, 0);
    /* The negated window is [E + 2, E + 8). */
    expect_every_chunking(&e, "..FASTPATTERN....NO..", 2, 0);
    expect_every_chunking(&e, "..FASTPATTERN..NO..", 2, 0);
    expect_every_chunking(&e, "..FASTPATTERN......NO..", 2, 0);
    expect_every_chunking(&e, "..FASTPATTERN.......NO..", 2, 1);
    expect_every_chunking(&e, "..FASTPATTERN.NO..", 2, 1);
    expect_every_chunking(&e, "..FASTPATTERN", 2, 1);
    cr_assert_eq(stream_stats(&e).windows_too_short, 0);
    engine_stop(&e);
}

/* ---- Randomized comparison --------------------------------------------------------------- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

#define BF_MAX_CONTENTS 4

struct bf_content {
    char pat[8];
    uint32_t len;
    bool nocase, negated, relative;
    bool has_offset, has_depth, has_distance, has_within;
    int64_t offset, depth, distance, within;
};

struct bf_rule {
    struct bf_content c[BF_MAX_CONTENTS];
    uint32_t n;
    uint32_t fast;
};

static bool bf_eq(const struct bf_content *c, const uint8_t *s)
{
    for (uint32_t k = 0; k < c->len; k++) {
        uint8_t a = s[k], b = (uint8_t)c->pat[k];
        if (c->nocase) {
            a = (uint8_t)(a >= 'A' && a <= 'Z' ? a + 32 : a);
            b = (uint8_t)(b >= 'A' && b <= 'Z' ? b + 32 : b);
        }
        if (a != b)
            return false;
    }
    return true;
}

/* Is there any placement of the contents, the fast pattern at anchor? */
static bool bf_match(const struct bf_rule *r, const uint8_t *s, int64_t n, uint32_t i,
                     int64_t prev_end, int64_t anchor)
{
    if (i == r->n)
        return true;
    const struct bf_content *c = &r->c[i];
    int64_t start, limit = INT64_MAX;
    if (c->relative) {
        start = prev_end + (c->has_distance ? c->distance : 0);
        if (c->has_within)
            limit = start + c->within;
    } else {
        start = c->has_offset ? c->offset : 0;
        if (c->has_depth)
            limit = start + c->depth;
    }
    if (start < 0)
        start = 0;
    const int64_t end = limit < n ? limit : n;
    if (c->negated) {
        for (int64_t pos = start; pos + c->len <= end; pos++) {
            if (bf_eq(c, s + pos))
                return false;
        }
        return bf_match(r, s, n, i + 1, prev_end, anchor);
    }
    for (int64_t pos = start; pos + c->len <= end; pos++) {
        if (i == r->fast && pos != anchor)
            continue;
        if (bf_eq(c, s + pos) && bf_match(r, s, n, i + 1, pos + c->len, anchor))
            return true;
    }
    return false;
}

/* Alerts the stream semantics give: one per fast pattern occurrence that a
 * placement of the whole rule uses. */
static uint32_t bf_count(const struct bf_rule *r, const uint8_t *s, int64_t n)
{
    const struct bf_content *f = &r->c[r->fast];
    uint32_t count = 0;
    for (int64_t pos = 0; pos + f->len <= n; pos++) {
        if (bf_eq(f, s + pos) && bf_match(r, s, n, 0, 0, pos))
            count++;
    }
    return count;
}

static const char alphabet[] = "abcdABCD";

/* A random rule; negated contents have absolute windows unless
 * relative_negation (the brute force and Suricata's matcher part ways on
 * relative negated contents, which only the chunking comparison covers). */
static void random_rule(struct bf_rule *r, bool relative_negation)
{
    memset(r, 0, sizeof(*r));
    r->n = 1 + rnd(BF_MAX_CONTENTS);
    r->fast = rnd(r->n);
    for (uint32_t i = 0; i < r->n; i++) {
        struct bf_content *c = &r->c[i];
        c->len = i == r->fast ? 4 : 1 + rnd(3);
        for (uint32_t k = 0; k < c->len; k++)
            c->pat[k] = alphabet[rnd(8)];
        c->nocase = rnd(3) == 0;
        c->negated = i != r->fast && rnd(5) == 0;
        c->relative = i > 0 ? rnd(3) != 0 : rnd(6) == 0;
        if (c->negated && !relative_negation)
            c->relative = false;
        if (c->relative) {
            c->has_distance = rnd(2) == 0;
            c->distance = (int64_t)rnd(30) - 6;
            c->has_within = rnd(2) == 0;
            c->within = c->len + rnd(40);
        } else {
            c->has_offset = rnd(3) == 0;
            c->offset = rnd(60);
            c->has_depth = rnd(3) == 0;
            c->depth = c->len + rnd(150);
        }
    }
    /* Suricata's matcher retries a content at its next occurrence only when
     * the content right after it has within; a negated content in between
     * stops that retry, where the brute force tries every placement. */
    for (uint32_t i = 0; !relative_negation && i + 1 < r->n; i++) {
        if (r->c[i].negated && r->c[i + 1].relative)
            r->c[i].negated = false;
    }
}

static int rule_text(const struct bf_rule *r, uint32_t sid, char *out, size_t cap)
{
    int n = snprintf(out, cap, "alert tcp any any -> any any (");
    for (uint32_t i = 0; i < r->n; i++) {
        const struct bf_content *c = &r->c[i];
        n += snprintf(out + n, cap - (size_t)n, "content:%s\"%.*s\"; ", c->negated ? "!" : "",
                      (int)c->len, c->pat);
        if (c->nocase)
            n += snprintf(out + n, cap - (size_t)n, "nocase; ");
        if (i == r->fast)
            n += snprintf(out + n, cap - (size_t)n, "fast_pattern; ");
        if (c->has_offset)
            n += snprintf(out + n, cap - (size_t)n, "offset:%lld; ", (long long)c->offset);
        if (c->has_depth)
            n += snprintf(out + n, cap - (size_t)n, "depth:%lld; ", (long long)c->depth);
        if (c->relative && c->has_distance)
            n += snprintf(out + n, cap - (size_t)n, "distance:%lld; ", (long long)c->distance);
        if (c->relative && c->has_within)
            n += snprintf(out + n, cap - (size_t)n, "within:%lld; ", (long long)c->within);
        if (c->relative && !c->has_distance && !c->has_within)
            n += snprintf(out + n, cap - (size_t)n, "distance:0; ");
    }
    n += snprintf(out + n, cap - (size_t)n, "sid:%u;)\n", sid);
    return n;
}

#define RANDOM_RULES   24
#define RANDOM_STREAMS 40
#define RANDOM_LEN     400

static void random_stream(const struct bf_rule *rules, uint8_t *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        s[i] = (uint8_t)alphabet[rnd(8)];
    /* Plant the positive contents of rules, mostly where their modifiers
     * want them, so that matches (and near misses) happen. */
    for (int k = 0; k < 30; k++) {
        const struct bf_rule *r = &rules[rnd(RANDOM_RULES)];
        int64_t prev_end = rnd(n);
        for (uint32_t i = 0; i < r->n; i++) {
            const struct bf_content *c = &r->c[i];
            if (c->negated)
                continue;
            int64_t at;
            if (c->relative) {
                int64_t slack = c->has_within ? (int64_t)c->within - c->len : 6;
                at = prev_end + (c->has_distance ? c->distance : 0) + rnd((uint32_t)slack + 2);
            } else if (c->has_offset || c->has_depth) {
                int64_t from = c->has_offset ? c->offset : 0;
                at = from + rnd(c->has_depth ? (uint32_t)(c->depth - c->len) + 2 : 30);
            } else {
                at = prev_end + rnd(12);
            }
            if (at < 0)
                at = 0;
            if (at + c->len > n)
                break;
            memcpy(s + at, c->pat, c->len);
            prev_end = at + c->len;
        }
    }
}

/* Feeds the stream in random chunks (every chunk size from 1 byte up),
 * ends it, and returns the alerts per sid. */
static void feed_random_chunks(struct engine *e, const uint8_t *s, uint32_t n, bool one_chunk,
                               struct alerts *a)
{
    memset(a, 0, sizeof(*a));
    struct vg_detect_stream *st = open_stream(e);
    uint32_t off = 0;
    while (off < n) {
        uint32_t len = one_chunk ? n : rnd(4) == 0 ? 1 : 1 + rnd(rnd(2) ? 8 : 120);
        if (len > n - off)
            len = n - off;
        feed_flags(e, st, (const char *)s + off, len, off, 0, a);
        off += len;
    }
    feed_flags(e, st, NULL, 0, off, VG_DS_END, a);
    vg_detect_stream_close(e->ctx, st);
}

static void load_random_rules(struct engine *e, struct bf_rule *rules, bool relative_negation)
{
    static char text[RANDOM_RULES * 512];
    size_t len = 0;
    for (uint32_t i = 0; i < RANDOM_RULES; i++) {
        random_rule(&rules[i], relative_negation);
        len += (size_t)rule_text(&rules[i], i + 1, text + len, sizeof(text) - len);
    }
    engine_start(e, text);
    cr_assert_eq(e->l.st.rules_loaded, RANDOM_RULES);
}

Test(detect_stream, random_chunkings_match_brute_force)
{
    rng_state = 0x9E3779B97F4A7C15ull;
    uint64_t total = 0;
    for (int round = 0; round < 8; round++) {
        struct bf_rule rules[RANDOM_RULES];
        struct engine e;
        load_random_rules(&e, rules, false);
        for (int k = 0; k < RANDOM_STREAMS; k++) {
            uint8_t s[RANDOM_LEN];
            random_stream(rules, s, sizeof(s));
            struct alerts a;
            feed_random_chunks(&e, s, sizeof(s), false, &a);
            for (uint32_t i = 0; i < RANDOM_RULES; i++) {
                uint32_t want = bf_count(&rules[i], s, sizeof(s));
                char text[512];
                rule_text(&rules[i], i + 1, text, sizeof(text));
                cr_assert_eq(a.count[i + 1], want, "round %d stream %d: %s got %u, want %u", round,
                             k, text, a.count[i + 1], want);
                total += want;
            }
        }
        struct vg_detect_stream_stats st = stream_stats(&e);
        cr_assert_eq(st.pending_overflow, 0);
        cr_assert_eq(st.windows_too_short, 0);
        cr_assert_eq(st.undecided_at_close, 0);
        engine_stop(&e);
    }
    cr_assert_gt(total, 2000, "too few matches to mean anything: %llu", (unsigned long long)total);
}

Test(detect_stream, random_chunkings_agree_with_one_chunk)
{
    rng_state = 0x2545F4914F6CDD1Dull;
    for (int round = 0; round < 8; round++) {
        struct bf_rule rules[RANDOM_RULES];
        struct engine e;
        load_random_rules(&e, rules, true);
        for (int k = 0; k < RANDOM_STREAMS; k++) {
            uint8_t s[RANDOM_LEN];
            random_stream(rules, s, sizeof(s));
            struct alerts whole, split;
            feed_random_chunks(&e, s, sizeof(s), true, &whole);
            for (int t = 0; t < 3; t++) {
                feed_random_chunks(&e, s, sizeof(s), false, &split);
                for (uint32_t i = 0; i < RANDOM_RULES; i++) {
                    char text[512];
                    rule_text(&rules[i], i + 1, text, sizeof(text));
                    cr_assert_eq(split.count[i + 1], whole.count[i + 1],
                                 "round %d stream %d: %s chunked %u, whole %u", round, k, text,
                                 split.count[i + 1], whole.count[i + 1]);
                }
            }
        }
        engine_stop(&e);
    }
}
