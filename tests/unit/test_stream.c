/* TCP stream reassembly tests on hand-built struct vg_packet values. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/flow.h"
#include "vigil/packet.h"
#include "vigil/stream.h"

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

#define IMAGE_SIZE (1u << 20)

/* What a sink received, per direction: the bytes at their stream offsets,
 * with a check that every chunk continues the previous one (or follows a
 * gap it announces). */
struct capture {
    uint8_t image[2][IMAGE_SIZE];
    uint64_t next_off[2]; /* end of the last chunk */
    uint64_t bytes[2];    /* bytes delivered */
    unsigned chunks[2];
    unsigned gap_chunks[2];
    uint64_t gap_bytes[2];
    uint32_t flags_seen[2];
    uint32_t first_flags[2];
    unsigned events[VG_STREAM_EVENT_COUNT];
    bool far_offsets; /* offsets beyond the image are expected */
};

static struct capture cap;

static void on_data(void *user, enum vg_flow_dir dir, const uint8_t *data, uint32_t len,
                    uint64_t off, uint32_t flags)
{
    struct capture *c = user;
    cr_assert(dir == VG_DIR_TOSERVER || dir == VG_DIR_TOCLIENT);
    cr_assert_gt(len, 0, "no empty chunks");
    if (flags & VG_STREAM_GAP_BEFORE) {
        cr_assert_gt(off, c->next_off[dir], "a gap moves the offset forward");
        c->gap_chunks[dir]++;
        c->gap_bytes[dir] += off - c->next_off[dir];
    } else {
        cr_assert_eq(off, c->next_off[dir], "chunk at %llu continues %llu", (unsigned long long)off,
                     (unsigned long long)c->next_off[dir]);
    }
    if (off + len <= IMAGE_SIZE)
        memcpy(c->image[dir] + off, data, len);
    else
        cr_assert(c->far_offsets, "offset %llu beyond the test image", (unsigned long long)off);
    if (c->chunks[dir] == 0)
        c->first_flags[dir] = flags;
    c->chunks[dir]++;
    c->bytes[dir] += len;
    c->next_off[dir] = off + len;
    c->flags_seen[dir] |= flags;
}

static void on_event(void *user, enum vg_stream_event ev)
{
    struct capture *c = user;
    cr_assert_lt((unsigned)ev, VG_STREAM_EVENT_COUNT);
    c->events[ev]++;
}

static const struct vg_stream_sink sink = {on_data, on_event, &cap};

static void reset_capture(void)
{
    memset(&cap, 0, sizeof(cap));
}

static struct vg_packet pkt(uint32_t seq, uint32_t ack, uint8_t flags, const void *data,
                            uint32_t len)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = 4;
    p.proto = 6;
    p.flags = VG_PKT_HAS_L4;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.tcp_flags = flags;
    p.payload = data;
    p.payload_len = len;
    p.caplen = p.wirelen = 54 + len;
    return p;
}

static struct vg_stream_table *table(uint32_t sessions, const struct vg_stream_config *cfg)
{
    struct vg_stream_table *t = vg_stream_table_new(sessions, cfg);
    cr_assert_not_null(t);
    return t;
}

static struct vg_stream_config config(enum vg_stream_policy policy)
{
    struct vg_stream_config c;
    vg_stream_config_default(&c);
    c.policy = policy;
    return c;
}

/* One connection: the initial sequence numbers of both sides and what each
 * side acknowledges. Offsets are stream offsets (0 = first data byte). */
struct conn {
    struct vg_stream_table *t;
    uint32_t slot;
    uint32_t isn[2];
    uint32_t acked[2]; /* stream offset this side acknowledges of the other */
    bool started;
    const struct vg_stream_sink *sink;
};

static struct conn conn(struct vg_stream_table *t, uint32_t slot, uint32_t isn_c, uint32_t isn_s)
{
    struct conn c = {.t = t, .slot = slot, .isn = {isn_c, isn_s}, .sink = &sink};
    return c;
}

static void feed(struct conn *c, enum vg_flow_dir dir, const struct vg_packet *p)
{
    vg_stream_packet(c->t, c->slot, dir, p, !c->started, c->sink);
    c->started = true;
}

static uint32_t seq_of(const struct conn *c, enum vg_flow_dir dir, uint32_t off)
{
    return c->isn[dir] + 1 + off;
}

static void handshake(struct conn *c)
{
    struct vg_packet p = pkt(c->isn[0], 0, SYN, NULL, 0);
    feed(c, VG_DIR_TOSERVER, &p);
    p = pkt(c->isn[1], c->isn[0] + 1, SYN | ACK, NULL, 0);
    feed(c, VG_DIR_TOCLIENT, &p);
    p = pkt(c->isn[0] + 1, c->isn[1] + 1, ACK, NULL, 0);
    feed(c, VG_DIR_TOSERVER, &p);
}

/* Data from dir at stream offset off. */
static void send_at(struct conn *c, enum vg_flow_dir dir, uint32_t off, const void *data,
                    uint32_t len)
{
    struct vg_packet p =
        pkt(seq_of(c, dir, off), seq_of(c, dir ^ 1, c->acked[dir]), ACK | PSH, data, len);
    feed(c, dir, &p);
}

/* A pure ACK from dir acknowledging the other side up to stream offset off. */
static void ack_to(struct conn *c, enum vg_flow_dir dir, uint32_t off)
{
    c->acked[dir] = off;
    struct vg_packet p = pkt(seq_of(c, dir, 0), seq_of(c, dir ^ 1, off), ACK, NULL, 0);
    feed(c, dir, &p);
}

static void end(struct conn *c)
{
    vg_stream_session_end(c->t, c->slot, c->sink);
}

static const char *message(void)
{
    return "GET /tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd "
           "HTTP/1.1\r\nHost: 10.1.1.245:8443\r\nUser-Agent: python-requests/2.32.3\r\n"
           "Accept: */*\r\nConnection: keep-alive\r\n\r\n";
}

static void assert_stream(enum vg_flow_dir dir, const void *want, uint32_t len)
{
    cr_assert_eq(cap.bytes[dir], len, "delivered %llu bytes, want %u",
                 (unsigned long long)cap.bytes[dir], len);
    cr_assert_eq(cap.next_off[dir], len);
    cr_assert(memcmp(cap.image[dir], want, len) == 0, "stream content differs");
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ---- names and configuration ---- */

Test(stream, names_and_defaults)
{
    for (unsigned i = 0; i < VG_STREAM_EVENT_COUNT; i++) {
        const char *n = vg_stream_event_name((enum vg_stream_event)i);
        cr_assert_not_null(n);
        cr_assert(strncmp(n, "stream.", 7) == 0, "%s", n);
        for (unsigned j = 0; j < i; j++)
            cr_assert_str_neq(n, vg_stream_event_name((enum vg_stream_event)j));
    }
    cr_assert_str_eq(vg_stream_event_name(VG_STREAM_EV_OVERLAP_DIFFERENT_DATA),
                     "stream.reassembly_overlap_different_data");
    cr_assert_str_eq(vg_stream_event_name(VG_STREAM_EV_SEQ_GAP), "stream.reassembly_seq_gap");
    cr_assert_str_eq(vg_stream_event_name(VG_STREAM_EV_SYNACK_WRONG_DIRECTION),
                     "stream.3whs_synack_in_wrong_direction");
    cr_assert_str_eq(vg_stream_event_name(VG_STREAM_EVENT_COUNT), "stream.unknown");

    const char *names[] = {"first", "last", "bsd", "linux", "windows"};
    for (unsigned i = 0; i < 5; i++) {
        enum vg_stream_policy p;
        cr_assert_eq(vg_stream_policy_parse(names[i], &p), 0);
        cr_assert_eq((unsigned)p, i);
        cr_assert_str_eq(vg_stream_policy_name(p), names[i]);
    }
    enum vg_stream_policy p;
    cr_assert_eq(vg_stream_policy_parse("LINUX", &p), 0);
    cr_assert_eq(p, VG_STREAM_POLICY_LINUX);
    cr_assert_eq(vg_stream_policy_parse("solaris", &p), -1);

    struct vg_stream_config c;
    vg_stream_config_default(&c);
    cr_assert_eq(c.policy, VG_STREAM_POLICY_BSD);
    cr_assert(!c.midstream);
    cr_assert(c.async_oneside);
    cr_assert_eq(c.depth, 1u << 20);
    cr_assert_eq(c.memcap, 64ull << 20);

    cr_assert_null(vg_stream_table_new(0, &c));
    c.policy = (enum vg_stream_policy)9;
    cr_assert_null(vg_stream_table_new(4, &c));
    struct vg_stream_table *t = vg_stream_table_new(4, NULL);
    cr_assert_not_null(t);
    vg_stream_table_free(t);
    vg_stream_table_free(NULL);
}

Test(stream, stats_add)
{
    struct vg_stream_stats a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.gaps = 2;
    a.events[VG_STREAM_EV_SEQ_GAP] = 3;
    b.gaps = 5;
    b.memuse = 512;
    b.events[VG_STREAM_EV_SEQ_GAP] = 1;
    vg_stream_stats_add(&a, &b);
    cr_assert_eq(a.gaps, 7);
    cr_assert_eq(a.memuse, 512);
    cr_assert_eq(a.events[VG_STREAM_EV_SEQ_GAP], 4);
}

/* ---- ordering ---- */

Test(stream, in_order_waits_for_ack)
{
    reset_capture();
    struct vg_stream_table *t = table(4, NULL);
    struct conn c = conn(t, 2, 1000, 5000);
    handshake(&c);
    cr_assert(vg_stream_direction_active(t, 2, VG_DIR_TOSERVER));
    cr_assert(vg_stream_direction_active(t, 2, VG_DIR_TOCLIENT));
    const char *m = message();
    uint32_t n = (uint32_t)strlen(m);
    send_at(&c, VG_DIR_TOSERVER, 0, m, 30);
    send_at(&c, VG_DIR_TOSERVER, 30, m + 30, 40);
    cr_assert_eq(cap.bytes[0], 0, "nothing before the server's ACK");
    ack_to(&c, VG_DIR_TOCLIENT, 20);
    cr_assert_eq(cap.bytes[0], 20, "up to the ACK");
    send_at(&c, VG_DIR_TOSERVER, 70, m + 70, n - 70);
    ack_to(&c, VG_DIR_TOCLIENT, n);
    assert_stream(VG_DIR_TOSERVER, m, n);
    cr_assert_eq(cap.flags_seen[0], 0, "acked, in order, from the handshake");
    /* The response, acked by the client. */
    send_at(&c, VG_DIR_TOCLIENT, 0, "HTTP/1.1 200 OK\r\n", 17);
    ack_to(&c, VG_DIR_TOSERVER, 17);
    assert_stream(VG_DIR_TOCLIENT, "HTTP/1.1 200 OK\r\n", 17);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->sessions, 1);
    cr_assert_eq(st->delivered_bytes, n + 17);
    cr_assert_eq(st->delivered_unacked_bytes, 0);
    cr_assert_eq(st->gaps, 0);
    cr_assert_eq(st->retransmissions, 0);
    end(&c);
    cr_assert_eq(st->memuse, 0);
    cr_assert_eq(st->segments_in_use, 0);
    vg_stream_table_free(t);
}

Test(stream, reversed_segments)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 77, 99);
    handshake(&c);
    const char *m = message();
    uint32_t n = (uint32_t)strlen(m);
    for (uint32_t k = (n + 9) / 10; k-- > 0;) {
        uint32_t len = k * 10 + 10 <= n ? 10 : n - k * 10;
        send_at(&c, VG_DIR_TOSERVER, k * 10, m + k * 10, len);
    }
    cr_assert_eq(cap.bytes[0], 0);
    ack_to(&c, VG_DIR_TOCLIENT, n);
    assert_stream(VG_DIR_TOSERVER, m, n);
    cr_assert_eq(cap.events[VG_STREAM_EV_SEQ_GAP], 0);
    end(&c);
    cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
    vg_stream_table_free(t);
}

/* Random segmentation, random order, identical retransmissions and ACKs
 * scattered in between, for every policy and ISNs around 2^32: the stream
 * comes out whole, each byte once. */
Test(stream, random_permutations)
{
    static uint8_t msg[6000];
    for (unsigned i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(rng() >> 3);
    for (int iter = 0; iter < 300; iter++) {
        reset_capture();
        struct vg_stream_config cfg = config((enum vg_stream_policy)(iter % 5));
        struct vg_stream_table *t = table(1, &cfg);
        uint32_t isn = iter % 3 == 0 ? 0xffffffffu - (rng() % 4000) : rng();
        struct conn c = conn(t, 0, isn, rng());
        handshake(&c);
        uint32_t n = 1 + rng() % (uint32_t)sizeof(msg);
        /* cut into segments */
        uint32_t starts[6000], lens[6000], nseg = 0;
        for (uint32_t off = 0; off < n;) {
            uint32_t len = 1 + rng() % (iter % 2 ? 40 : 700);
            if (off + len > n)
                len = n - off;
            starts[nseg] = off;
            lens[nseg++] = len;
            off += len;
        }
        for (uint32_t i = nseg; i > 1; i--) {
            uint32_t j = rng() % i;
            uint32_t s = starts[i - 1], l = lens[i - 1];
            starts[i - 1] = starts[j];
            lens[i - 1] = lens[j];
            starts[j] = s;
            lens[j] = l;
        }
        static bool have[6000];
        memset(have, 0, sizeof(have));
        uint32_t contiguous = 0;
        for (uint32_t i = 0; i < nseg; i++) {
            send_at(&c, VG_DIR_TOSERVER, starts[i], msg + starts[i], lens[i]);
            memset(have + starts[i], 1, lens[i]);
            if (rng() % 8 == 0) {
                /* a retransmission of an earlier segment */
                uint32_t j = rng() % (i + 1);
                send_at(&c, VG_DIR_TOSERVER, starts[j], msg + starts[j], lens[j]);
            }
            while (contiguous < n && have[contiguous])
                contiguous++;
            if (rng() % 4 == 0) {
                /* the receiver acknowledges what it holds contiguously */
                ack_to(&c, VG_DIR_TOCLIENT, contiguous);
                cr_assert_eq(cap.next_off[0], contiguous);
            }
        }
        ack_to(&c, VG_DIR_TOCLIENT, n);
        assert_stream(VG_DIR_TOSERVER, msg, n);
        cr_assert_eq(cap.gap_chunks[0], 0);
        const struct vg_stream_stats *st = vg_stream_table_stats(t);
        cr_assert_eq(st->overlaps_different, 0);
        cr_assert_eq(st->memuse, 0, "everything acknowledged is released");
        end(&c);
        cr_assert_eq(cap.bytes[0], n, "session end delivers nothing twice");
        vg_stream_table_free(t);
    }
}

Test(stream, large_stream_in_long_runs)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 0x7ffffff0u, 1);
    handshake(&c);
    static uint8_t big[200000];
    for (unsigned i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i * 7 + (i >> 9));
    for (uint32_t off = 0; off < sizeof(big); off += 1460) {
        uint32_t len = off + 1460 <= sizeof(big) ? 1460 : (uint32_t)sizeof(big) - off;
        send_at(&c, VG_DIR_TOSERVER, off, big + off, len);
        if ((off / 1460) % 20 == 19)
            ack_to(&c, VG_DIR_TOCLIENT, off + len);
    }
    ack_to(&c, VG_DIR_TOCLIENT, sizeof(big));
    assert_stream(VG_DIR_TOSERVER, big, sizeof(big));
    cr_assert_lt(cap.chunks[0], 40, "runs are coalesced (%u calls)", cap.chunks[0]);
    end(&c);
    vg_stream_table_free(t);
}

/* ---- retransmissions ---- */

Test(stream, retransmissions_counted_not_delivered_twice)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 10, 20);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0, "abcdefgh", 8);
    send_at(&c, VG_DIR_TOSERVER, 0, "abcdefgh", 8); /* before the ACK */
    send_at(&c, VG_DIR_TOSERVER, 2, "cdef", 4);     /* part of it */
    ack_to(&c, VG_DIR_TOCLIENT, 8);
    send_at(&c, VG_DIR_TOSERVER, 0, "abcdefgh", 8); /* after delivery */
    send_at(&c, VG_DIR_TOSERVER, 4, "efghijkl", 8); /* half old, half new */
    ack_to(&c, VG_DIR_TOCLIENT, 12);
    assert_stream(VG_DIR_TOSERVER, "abcdefghijkl", 12);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->retransmissions, 3);
    cr_assert_eq(cap.events[VG_STREAM_EV_PKT_RETRANSMISSION], 3);
    cr_assert_eq(st->overlaps_different, 0);
    cr_assert_eq(st->delivered_bytes, 12);
    end(&c);
    vg_stream_table_free(t);
}

/* ---- overlap policies ---- */

struct overlap_case {
    const char *name;
    uint32_t old_off, old_len; /* buffered first, out of order */
    uint32_t new_off, new_len; /* then the overlapping copy */
    const char *want[5];       /* first, last, bsd, linux, windows */
};

/* Offsets 0-4 are a hole filled last, so both copies wait in the
 * out-of-order queue; the old copy is 'A's, the new one 'B's, '-' fills. */
static const struct overlap_case overlap_cases[] = {
    {"new starts before, ends inside",
     10,
     10,
     5,
     10,
     {"-----BBBBBAAAAAAAAAA", "-----BBBBBBBBBBAAAAA", "-----BBBBBBBBBBAAAAA",
      "-----BBBBBBBBBBAAAAA", "-----BBBBBBBBBBAAAAA"}},
    {"new starts inside, ends after",
     5,
     10,
     10,
     10,
     {"-----AAAAAAAAAABBBBB", "-----AAAAABBBBBBBBBB", "-----AAAAAAAAAABBBBB",
      "-----AAAAAAAAAABBBBB", "-----AAAAAAAAAABBBBB"}},
    {"same start, new longer",
     5,
     5,
     5,
     10,
     {"-----AAAAABBBBB", "-----BBBBBBBBBB", "-----AAAAABBBBB", "-----BBBBBBBBBB",
      "-----AAAAABBBBB"}},
    {"same start, same end",
     5,
     10,
     5,
     10,
     {"-----AAAAAAAAAA", "-----BBBBBBBBBB", "-----AAAAAAAAAA", "-----AAAAAAAAAA",
      "-----AAAAAAAAAA"}},
    {"same start, new shorter",
     5,
     10,
     5,
     4,
     {"-----AAAAAAAAAA", "-----BBBBAAAAAA", "-----AAAAAAAAAA", "-----AAAAAAAAAA",
      "-----AAAAAAAAAA"}},
    {"new inside old",
     5,
     10,
     8,
     4,
     {"-----AAAAAAAAAA", "-----AAABBBBAAA", "-----AAAAAAAAAA", "-----AAAAAAAAAA",
      "-----AAAAAAAAAA"}},
    {"new covers old",
     8,
     4,
     5,
     10,
     {"-----BBBAAAABBB", "-----BBBBBBBBBB", "-----BBBBBBBBBB", "-----BBBBBBBBBB",
      "-----BBBBBBBBBB"}},
    {"new ends where old starts",
     10,
     5,
     5,
     5,
     {"-----BBBBBAAAAA", "-----BBBBBAAAAA", "-----BBBBBAAAAA", "-----BBBBBAAAAA",
      "-----BBBBBAAAAA"}},
};

Test(stream, overlap_policies)
{
    for (unsigned k = 0; k < VG_ARRAY_SIZE(overlap_cases); k++) {
        const struct overlap_case *oc = &overlap_cases[k];
        for (unsigned pol = 0; pol < 5; pol++) {
            reset_capture();
            struct vg_stream_config cfg = config((enum vg_stream_policy)pol);
            struct vg_stream_table *t = table(1, &cfg);
            struct conn c = conn(t, 0, 0xfffffff8u, 4242); /* wraps inside the data */
            handshake(&c);
            char a[32], b[32];
            memset(a, 'A', sizeof(a));
            memset(b, 'B', sizeof(b));
            send_at(&c, VG_DIR_TOSERVER, oc->old_off, a, oc->old_len);
            send_at(&c, VG_DIR_TOSERVER, oc->new_off, b, oc->new_len);
            send_at(&c, VG_DIR_TOSERVER, 0, "-----", 5);
            const char *want = oc->want[pol];
            uint32_t n = (uint32_t)strlen(want);
            ack_to(&c, VG_DIR_TOCLIENT, n);
            cr_assert_eq(cap.bytes[0], n, "%s / %s: %llu bytes", oc->name,
                         vg_stream_policy_name((enum vg_stream_policy)pol),
                         (unsigned long long)cap.bytes[0]);
            cr_assert(memcmp(cap.image[0], want, n) == 0, "%s / %s: got %.*s want %s", oc->name,
                      vg_stream_policy_name((enum vg_stream_policy)pol), (int)n,
                      (const char *)cap.image[0], want);
            bool overlapping =
                oc->new_off < oc->old_off + oc->old_len && oc->old_off < oc->new_off + oc->new_len;
            cr_assert_eq(cap.events[VG_STREAM_EV_OVERLAP_DIFFERENT_DATA], overlapping ? 1 : 0,
                         "%s / %s", oc->name, vg_stream_policy_name((enum vg_stream_policy)pol));
            cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
            end(&c);
            vg_stream_table_free(t);
        }
    }
}

/* Three copies: what the receiver keeps after earlier trims decides. Under
 * bsd the middle copy (starting first) wins over the piece after it, and
 * the third loses against the piece that now starts before it. */
Test(stream, overlap_against_trimmed_pieces)
{
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    reset_capture();
    struct vg_stream_table *t = table(1, &cfg);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 10, "AAAAAAAAAA", 10); /* [10,20) */
    send_at(&c, VG_DIR_TOSERVER, 6, "BBBBBBBB", 8);     /* [6,14): wins over [10,14) */
    send_at(&c, VG_DIR_TOSERVER, 8, "CCCCCCCCCC", 10);  /* [8,18): loses to [6,14), wins over
                                                           [14,20), which starts after it */
    send_at(&c, VG_DIR_TOSERVER, 0, "------", 6);
    ack_to(&c, VG_DIR_TOCLIENT, 20);
    assert_stream(VG_DIR_TOSERVER, "------BBBBBBBBCCCCAA", 20);
    cr_assert_eq(cap.events[VG_STREAM_EV_OVERLAP_DIFFERENT_DATA], 2);
    end(&c);
    vg_stream_table_free(t);
}

/* Delivered bytes are final: a different copy afterwards changes nothing. */
Test(stream, delivered_bytes_are_final)
{
    for (unsigned pol = 0; pol < 5; pol++) {
        reset_capture();
        struct vg_stream_config cfg = config((enum vg_stream_policy)pol);
        struct vg_stream_table *t = table(1, &cfg);
        struct conn c = conn(t, 0, 1, 2);
        handshake(&c);
        send_at(&c, VG_DIR_TOSERVER, 0, "GOOD", 4);
        ack_to(&c, VG_DIR_TOCLIENT, 4);
        send_at(&c, VG_DIR_TOSERVER, 0, "EVIL", 4);
        end(&c);
        assert_stream(VG_DIR_TOSERVER, "GOOD", 4);
        vg_stream_table_free(t);
    }
}

/* ---- sequence numbers ---- */

Test(stream, wraparound)
{
    const char *m = message();
    uint32_t n = (uint32_t)strlen(m);
    for (uint32_t back = 1; back < 130; back += 7) {
        reset_capture();
        struct vg_stream_table *t = table(1, NULL);
        /* the SYN sits `back` before 2^32 */
        struct conn c = conn(t, 0, (uint32_t)(0x100000000ull - back), 0xffffffffu);
        handshake(&c);
        /* out of order across the wrap */
        send_at(&c, VG_DIR_TOSERVER, 60, m + 60, n - 60);
        send_at(&c, VG_DIR_TOSERVER, 0, m, 60);
        ack_to(&c, VG_DIR_TOCLIENT, n);
        assert_stream(VG_DIR_TOSERVER, m, n);
        /* the server's stream starts at 0 exactly (its SYN was 0xffffffff) */
        send_at(&c, VG_DIR_TOCLIENT, 0, "HTTP", 4);
        ack_to(&c, VG_DIR_TOSERVER, 4);
        assert_stream(VG_DIR_TOCLIENT, "HTTP", 4);
        cr_assert_eq(vg_stream_table_stats(t)->out_of_window, 0);
        end(&c);
        vg_stream_table_free(t);
    }
}

/* A stream longer than 2^32 bytes keeps 64-bit offsets: checked by moving
 * through 5 GB of sequence space in 1 MB strides of 1-byte segments with
 * the depth off and a gap over each stride. */
Test(stream, offsets_beyond_4g)
{
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.depth = 0;
    struct vg_stream_table *t = table(1, &cfg);
    struct capture *cp = &cap;
    reset_capture();
    cp->far_offsets = true;
    struct conn c = conn(t, 0, 123, 456);
    handshake(&c);
    uint64_t off = 0;
    unsigned last_chunks = 0;
    for (int i = 0; i < 5 * 1024; i++) {
        uint32_t o32 = (uint32_t)off;
        /* each byte is preceded by a hole the ACK covers */
        struct vg_packet p = pkt(c.isn[0] + 1 + o32 + (1u << 20) - 1, c.isn[1] + 1, ACK, "x", 1);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
        struct vg_packet a = pkt(c.isn[1] + 1, c.isn[0] + 1 + o32 + (1u << 20), ACK, NULL, 0);
        vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &a, false, &sink);
        off += 1u << 20;
        cr_assert_eq(cp->chunks[0], last_chunks + 1);
        last_chunks = cp->chunks[0];
    }
    cr_assert_eq(cp->next_off[0], 5ull << 30);
    cr_assert_eq(cp->gap_bytes[0], (5ull << 30) - 5 * 1024);
    end(&c);
    vg_stream_table_free(t);
}

Test(stream, out_of_window_ignored)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0x60000000u, "far", 3);
    send_at(&c, VG_DIR_TOSERVER, 0xa0000000u, "back", 4); /* 1.5 GB behind, wrapped */
    cr_assert_eq(vg_stream_table_stats(t)->out_of_window, 1);
    cr_assert_eq(vg_stream_table_stats(t)->retransmissions, 1);
    cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
    send_at(&c, VG_DIR_TOSERVER, 0, "ok", 2);
    ack_to(&c, VG_DIR_TOCLIENT, 2);
    assert_stream(VG_DIR_TOSERVER, "ok", 2);
    end(&c);
    vg_stream_table_free(t);
}

/* ---- gaps ---- */

Test(stream, ack_beyond_hole)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 5, 6);
    handshake(&c);
    static uint8_t m[300];
    for (unsigned i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)('a' + i % 26);
    send_at(&c, VG_DIR_TOSERVER, 0, m, 100);
    /* [100,200) lost on the way to the sensor */
    send_at(&c, VG_DIR_TOSERVER, 200, m + 200, 100);
    ack_to(&c, VG_DIR_TOCLIENT, 150); /* covers half the hole */
    cr_assert_eq(cap.bytes[0], 100);
    cr_assert_eq(cap.events[VG_STREAM_EV_SEQ_GAP], 1, "the hole is known lost");
    ack_to(&c, VG_DIR_TOCLIENT, 300);
    cr_assert_eq(cap.bytes[0], 200);
    cr_assert_eq(cap.gap_chunks[0], 1);
    cr_assert_eq(cap.gap_bytes[0], 100);
    cr_assert(memcmp(cap.image[0], m, 100) == 0);
    cr_assert(memcmp(cap.image[0] + 200, m + 200, 100) == 0);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->gaps, 1);
    cr_assert_eq(st->gap_bytes, 100);
    cr_assert_eq(cap.events[VG_STREAM_EV_SEQ_GAP], 1);
    /* the lost bytes arrive late: already skipped */
    send_at(&c, VG_DIR_TOSERVER, 100, m + 100, 100);
    cr_assert_eq(cap.bytes[0], 200);
    cr_assert_eq(st->retransmissions, 1);
    end(&c);
    vg_stream_table_free(t);
}

Test(stream, hole_waits_for_retransmission)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 5, 6);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0, "0123", 4);
    send_at(&c, VG_DIR_TOSERVER, 8, "89ab", 4);
    ack_to(&c, VG_DIR_TOCLIENT, 4); /* the receiver lost [4,8) too: dup ACKs */
    ack_to(&c, VG_DIR_TOCLIENT, 4);
    cr_assert_eq(cap.bytes[0], 4);
    send_at(&c, VG_DIR_TOSERVER, 4, "4567", 4); /* retransmitted */
    ack_to(&c, VG_DIR_TOCLIENT, 12);
    assert_stream(VG_DIR_TOSERVER, "0123456789ab", 12);
    cr_assert_eq(vg_stream_table_stats(t)->gaps, 0);
    end(&c);
    vg_stream_table_free(t);
}

Test(stream, session_end_flushes_with_gaps)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 5, 6);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0, "abc", 3);
    send_at(&c, VG_DIR_TOSERVER, 10, "klm", 3);
    send_at(&c, VG_DIR_TOCLIENT, 2, "CD", 2); /* the server's first bytes lost */
    cr_assert_eq(cap.bytes[0] + cap.bytes[1], 0, "nothing acknowledged");
    end(&c);
    cr_assert_eq(cap.bytes[0], 6);
    cr_assert(memcmp(cap.image[0], "abc", 3) == 0);
    cr_assert(memcmp(cap.image[0] + 10, "klm", 3) == 0);
    cr_assert_eq(cap.gap_chunks[0], 1);
    cr_assert_eq(cap.gap_bytes[0], 7);
    cr_assert_eq(cap.bytes[1], 2);
    cr_assert_eq(cap.gap_bytes[1], 2);
    cr_assert(cap.first_flags[1] & VG_STREAM_GAP_BEFORE);
    cr_assert(cap.flags_seen[0] & VG_STREAM_UNACKED);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->gaps, 2);
    cr_assert_eq(st->gap_bytes, 9);
    cr_assert_eq(st->delivered_unacked_bytes, 8);
    cr_assert_eq(st->memuse, 0);
    vg_stream_table_free(t);
}

Test(stream, fin_ack_is_not_a_gap)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 100, 200);
    handshake(&c);
    struct vg_packet p = pkt(seq_of(&c, 0, 0), seq_of(&c, 1, 0), ACK | PSH | FIN, "bye", 3);
    feed(&c, VG_DIR_TOSERVER, &p);
    p = pkt(seq_of(&c, 1, 0), seq_of(&c, 0, 4), ACK | FIN, NULL, 0); /* acks data + FIN */
    feed(&c, VG_DIR_TOCLIENT, &p);
    p = pkt(seq_of(&c, 0, 4), seq_of(&c, 1, 1), ACK, NULL, 0);
    feed(&c, VG_DIR_TOSERVER, &p);
    assert_stream(VG_DIR_TOSERVER, "bye", 3);
    end(&c);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->gaps, 0);
    cr_assert_eq(st->invalid_acks, 0);
    cr_assert_eq(cap.bytes[1], 0);
    vg_stream_table_free(t);
}

Test(stream, invalid_ack)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 100, 200);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0, "abcd", 4);
    send_at(&c, VG_DIR_TOSERVER, 20, "uvwx", 4);
    ack_to(&c, VG_DIR_TOCLIENT, 5000); /* acknowledges data never sent */
    cr_assert_eq(cap.events[VG_STREAM_EV_PKT_INVALID_ACK], 1);
    cr_assert_eq(vg_stream_table_stats(t)->invalid_acks, 1);
    /* treated as an ACK of everything seen */
    cr_assert_eq(cap.bytes[0], 8);
    cr_assert_eq(cap.gap_bytes[0], 16);
    end(&c);
    vg_stream_table_free(t);
}

/* ---- RST ---- */

Test(stream, rst_with_data_is_not_reassembled)
{
    for (unsigned pol = 0; pol < 5; pol++) {
        reset_capture();
        struct vg_stream_config cfg = config((enum vg_stream_policy)pol);
        struct vg_stream_table *t = table(1, &cfg);
        struct conn c = conn(t, 0, 100, 200);
        handshake(&c);
        send_at(&c, VG_DIR_TOSERVER, 0, "GET /tmui/login", 15);
        struct vg_packet p =
            pkt(seq_of(&c, 0, 15), seq_of(&c, 1, 0), RST | ACK, ".jsp/..;/tmui", 13);
        feed(&c, VG_DIR_TOSERVER, &p);
        cr_assert_eq(cap.events[VG_STREAM_EV_RST_WITH_DATA], 1);
        /* the accepted RST releases what was buffered, not its own data */
        assert_stream(VG_DIR_TOSERVER, "GET /tmui/login", 15);
        cr_assert(cap.flags_seen[0] & VG_STREAM_UNACKED);
        const struct vg_stream_stats *st = vg_stream_table_stats(t);
        cr_assert_eq(st->rst_with_data, 1);
        cr_assert_eq(st->resets, 1);
        cr_assert_eq(st->memuse, 0);
        end(&c);
        cr_assert_eq(cap.bytes[0], 15);
        vg_stream_table_free(t);
    }
}

Test(stream, rst_sequence_check_and_injection)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 100, 200);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 0, "abcd", 4);
    /* a RST the receiver ignores: not at its next expected sequence number */
    struct vg_packet p = pkt(seq_of(&c, 0, 1000), 0, RST, NULL, 0);
    feed(&c, VG_DIR_TOSERVER, &p);
    cr_assert_eq(cap.events[VG_STREAM_EV_RST_INVALID_SEQ], 1);
    cr_assert_eq(cap.bytes[0], 0, "an ignored RST releases nothing");
    /* the server resets: its next sequence number is its stream start */
    p = pkt(seq_of(&c, 1, 0), 0, RST, NULL, 0);
    feed(&c, VG_DIR_TOCLIENT, &p);
    cr_assert_eq(vg_stream_table_stats(t)->resets, 1);
    assert_stream(VG_DIR_TOSERVER, "abcd", 4);
    /* data after it: the target did not take the RST */
    send_at(&c, VG_DIR_TOSERVER, 4, "efgh", 4);
    send_at(&c, VG_DIR_TOSERVER, 8, "ijkl", 4);
    cr_assert_eq(cap.events[VG_STREAM_EV_SUSPECTED_RST_INJECT], 1);
    ack_to(&c, VG_DIR_TOCLIENT, 12);
    assert_stream(VG_DIR_TOSERVER, "abcdefghijkl", 12);
    end(&c);
    vg_stream_table_free(t);
}

/* ---- handshakes ---- */

Test(stream, tcp_fast_open)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 0xfffffffeu, 900);
    struct vg_packet p = pkt(c.isn[0], 0, SYN, "GET /tmui", 9);
    feed(&c, VG_DIR_TOSERVER, &p);
    cr_assert(vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
    cr_assert_eq(cap.bytes[0], 0, "SYN data waits for the SYN+ACK");
    p = pkt(c.isn[1], c.isn[0] + 1 + 9, SYN | ACK, NULL, 0);
    feed(&c, VG_DIR_TOCLIENT, &p);
    assert_stream(VG_DIR_TOSERVER, "GET /tmui", 9);
    send_at(&c, VG_DIR_TOSERVER, 9, "/login.jsp", 10);
    ack_to(&c, VG_DIR_TOCLIENT, 19);
    assert_stream(VG_DIR_TOSERVER, "GET /tmui/login.jsp", 19);
    cr_assert_eq(vg_stream_table_stats(t)->sessions_tfo, 1);
    cr_assert_eq(cap.flags_seen[0], 0);
    end(&c);
    vg_stream_table_free(t);
}

Test(stream, tcp_fast_open_data_refused)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct conn c = conn(t, 0, 1000, 2000);
    struct vg_packet p = pkt(c.isn[0], 0, SYN, "EVIL", 4);
    feed(&c, VG_DIR_TOSERVER, &p);
    p = pkt(c.isn[1], c.isn[0] + 1, SYN | ACK, NULL, 0); /* only the SYN acknowledged */
    feed(&c, VG_DIR_TOCLIENT, &p);
    cr_assert_eq(cap.events[VG_STREAM_EV_SYNACK_TFO_DATA_IGNORED], 1);
    cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
    /* what the server takes is the data sent after the handshake */
    send_at(&c, VG_DIR_TOSERVER, 0, "GOOD", 4);
    ack_to(&c, VG_DIR_TOCLIENT, 4);
    assert_stream(VG_DIR_TOSERVER, "GOOD", 4);
    cr_assert_eq(vg_stream_table_stats(t)->sessions_tfo, 0);
    end(&c);
    vg_stream_table_free(t);
}

/* The 4-way (split) handshake of suricata-verify tcp-split-handshake-01-4whs:
 * SYN 1000, SYN 3000, SYN+ACK 1000/3001, ACK 1001, data, ACK, RST. */
Test(stream, four_way_handshake)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct vg_packet p = pkt(1000, 0, SYN, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, &sink);
    p = pkt(3000, 0, SYN, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    p = pkt(1000, 3001, SYN | ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    p = pkt(3001, 1001, ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    p = pkt(1001, 3001, ACK, "EVIL", 4);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    cr_assert_eq(cap.bytes[0], 0);
    p = pkt(3001, 1005, ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    assert_stream(VG_DIR_TOSERVER, "EVIL", 4);
    p = pkt(1005, 0, RST, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->sessions_4whs, 1);
    cr_assert_eq(st->resets, 1);
    cr_assert_eq(cap.events[VG_STREAM_EV_SYNACK_WRONG_DIRECTION], 0);
    vg_stream_session_end(t, 0, &sink);
    cr_assert_eq(cap.bytes[0], 4);
    vg_stream_table_free(t);
}

Test(stream, synack_in_wrong_direction_and_wrong_ack)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct vg_packet p = pkt(1000, 0, SYN, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, &sink);
    p = pkt(1000, 7001, SYN | ACK, NULL, 0); /* from the client */
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    cr_assert_eq(cap.events[VG_STREAM_EV_SYNACK_WRONG_DIRECTION], 1);
    p = pkt(7000, 1234, SYN | ACK, NULL, 0); /* does not acknowledge the SYN */
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    cr_assert_eq(cap.events[VG_STREAM_EV_SYNACK_WRONG_ACK], 1);
    cr_assert(!vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
    p = pkt(7000, 1001, SYN | ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    cr_assert(vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
    p = pkt(1001, 7001, ACK, "hi", 2);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    p = pkt(7001, 1003, ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    assert_stream(VG_DIR_TOSERVER, "hi", 2);
    vg_stream_session_end(t, 0, &sink);
    vg_stream_table_free(t);
}

/* A capture that starts at the SYN+ACK (the SYN not captured): offsets are
 * exact, since the SYN+ACK gives both stream starts. */
Test(stream, pick_up_at_synack)
{
    reset_capture();
    struct vg_stream_table *t = table(1, NULL);
    struct vg_packet p = pkt(7000, 1001, SYN | ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, true, &sink);
    p = pkt(1001, 7001, ACK | PSH, "GET /", 5);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    p = pkt(7001, 1006, ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
    assert_stream(VG_DIR_TOSERVER, "GET /", 5);
    cr_assert_eq(cap.flags_seen[0], 0);
    vg_stream_session_end(t, 0, &sink);
    vg_stream_table_free(t);
}

/* Only the client side is captured: SYN, ACK, data. */
Test(stream, one_sided_capture)
{
    for (int async = 0; async < 2; async++) {
        reset_capture();
        struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
        cfg.async_oneside = async;
        struct vg_stream_table *t = table(1, &cfg);
        struct vg_packet p = pkt(1000, 0, SYN, NULL, 0);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, &sink);
        p = pkt(1001, 5001, ACK, NULL, 0);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
        p = pkt(1006, 5001, ACK, "world", 5);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
        p = pkt(1001, 5001, ACK, "hello", 5);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
        if (async) {
            cr_assert(vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
            assert_stream(VG_DIR_TOSERVER, "helloworld", 10);
            cr_assert(cap.flags_seen[0] & VG_STREAM_UNACKED);
        } else {
            cr_assert(!vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
            cr_assert_eq(cap.bytes[0], 0);
            cr_assert_eq(vg_stream_table_stats(t)->no_handshake, 3);
        }
        vg_stream_session_end(t, 0, &sink);
        vg_stream_table_free(t);
    }
}

Test(stream, midstream)
{
    for (int on = 0; on < 2; on++) {
        reset_capture();
        struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
        cfg.midstream = on;
        struct vg_stream_table *t = table(1, &cfg);
        /* picked up at a data packet from the client, the server answering */
        struct vg_packet p = pkt(50000, 90000, ACK | PSH, "login.jsp/..;", 13);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, &sink);
        cr_assert_eq(vg_stream_direction_active(t, 0, VG_DIR_TOSERVER), (bool)on);
        p = pkt(90000, 50013, ACK, "HTTP", 4);
        vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
        p = pkt(50013, 90004, ACK, "/tmui", 5);
        vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
        p = pkt(90004, 50018, ACK, NULL, 0);
        vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, &sink);
        vg_stream_session_end(t, 0, &sink);
        const struct vg_stream_stats *st = vg_stream_table_stats(t);
        if (on) {
            assert_stream(VG_DIR_TOSERVER, "login.jsp/..;/tmui", 18);
            assert_stream(VG_DIR_TOCLIENT, "HTTP", 4);
            cr_assert(cap.first_flags[0] & VG_STREAM_MIDSTREAM);
            cr_assert(cap.first_flags[1] & VG_STREAM_MIDSTREAM);
            cr_assert_eq(st->sessions_midstream, 1);
            cr_assert_eq(st->no_handshake, 0);
        } else {
            cr_assert_eq(cap.bytes[0] + cap.bytes[1], 0);
            cr_assert_eq(st->sessions, 0);
            cr_assert_eq(st->no_handshake, 4);
        }
        vg_stream_table_free(t);
    }
}

/* ---- caps ---- */

Test(stream, depth_reached)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.depth = 100;
    struct vg_stream_table *t = table(1, &cfg);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    static uint8_t m[250];
    for (unsigned i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)i;
    send_at(&c, VG_DIR_TOSERVER, 0, m, 60);
    cr_assert(vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
    send_at(&c, VG_DIR_TOSERVER, 60, m + 60, 60); /* crosses the depth */
    cr_assert(!vg_stream_direction_active(t, 0, VG_DIR_TOSERVER));
    cr_assert(vg_stream_direction_active(t, 0, VG_DIR_TOCLIENT));
    send_at(&c, VG_DIR_TOSERVER, 120, m + 120, 130);
    ack_to(&c, VG_DIR_TOCLIENT, 250);
    assert_stream(VG_DIR_TOSERVER, m, 100);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->depth_reached, 1);
    cr_assert_eq(st->depth_bytes, 150);
    cr_assert_eq(cap.events[VG_STREAM_EV_DEPTH_REACHED], 1);
    cr_assert_eq(st->memuse, 0);
    send_at(&c, VG_DIR_TOSERVER, 250, m, 10);
    cr_assert_eq(st->depth_bytes, 150, "nothing is looked at once the depth is done");
    end(&c);
    cr_assert_eq(cap.bytes[0], 100);
    vg_stream_table_free(t);
}

Test(stream, memcap_drop_and_gap)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.memcap = 4 * VG_STREAM_CHUNK_SIZE + 100; /* 4 chunks */
    struct vg_stream_table *t = table(1, &cfg);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    static uint8_t m[3072];
    for (unsigned i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)(i * 13);
    /* [0,512) missing; five segments of one chunk each wait for it */
    for (uint32_t off = 512; off < 3072; off += 512)
        send_at(&c, VG_DIR_TOSERVER, off, m + off, 512);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->memcap_drops, 1);
    cr_assert_eq(st->memcap_drop_bytes, 512);
    cr_assert_eq(st->memuse, 4 * VG_STREAM_CHUNK_SIZE);
    cr_assert_eq(st->memuse_max, 4 * VG_STREAM_CHUNK_SIZE);
    cr_assert_eq(cap.events[VG_STREAM_EV_MEMCAP], 1);
    /* the receiver has it all */
    ack_to(&c, VG_DIR_TOCLIENT, 3072);
    cr_assert_eq(cap.bytes[0], 2048);
    cr_assert_eq(cap.gap_chunks[0], 1, "the dropped segment is the last: no chunk after it");
    cr_assert_eq(st->gaps, 2, "the hole at 0 and the dropped segment");
    cr_assert_eq(st->gap_bytes, 1024);
    cr_assert(memcmp(cap.image[0] + 512, m + 512, 2048) == 0);
    cr_assert_eq(st->memuse, 0);
    end(&c);
    vg_stream_table_free(t);
}

/* One-sided: a segment dropped at the delivery point leaves a hole that will
 * never be filled: the direction continues after a gap. */
Test(stream, memcap_drop_at_delivery_point)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.memcap = 2 * VG_STREAM_CHUNK_SIZE;
    struct vg_stream_table *t = table(1, &cfg);
    struct vg_packet p = pkt(99, 0, SYN, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, &sink);
    static uint8_t m[2048];
    memset(m, 'x', sizeof(m));
    p = pkt(100 + 1024, 1, ACK, m, 512); /* waits for [0,1024) */
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    p = pkt(100 + 512, 1, ACK, m, 512); /* waits too: memory now full */
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    p = pkt(100, 1, ACK, m, 512); /* does not fit */
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, &sink);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->memcap_drops, 1);
    cr_assert_eq(cap.bytes[0], 1024, "delivered after the gap");
    cr_assert_eq(cap.gap_bytes[0], 512);
    cr_assert_eq(st->gaps, 1);
    cr_assert_eq(st->memuse, 0);
    vg_stream_session_end(t, 0, &sink);
    vg_stream_table_free(t);
}

Test(stream, segment_pool_exhausted)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.segment_pool = 3;
    struct vg_stream_table *t = table(1, &cfg);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    for (uint32_t i = 1; i <= 5; i++)
        send_at(&c, VG_DIR_TOSERVER, i * 10, "0123456789", 10);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->pool_drops, 2);
    cr_assert_eq(st->pool_drop_bytes, 20);
    cr_assert_eq(st->segments_in_use, 3);
    cr_assert_eq(st->segments_in_use_max, 3);
    cr_assert_eq(cap.events[VG_STREAM_EV_MEMCAP], 2);
    send_at(&c, VG_DIR_TOSERVER, 0, "0123456789", 10); /* the pool is still full */
    cr_assert_eq(st->pool_drops, 3);
    ack_to(&c, VG_DIR_TOCLIENT, 60);
    cr_assert_eq(cap.bytes[0], 30);
    cr_assert_eq(st->gaps, 2, "[0,10) and [40,60): seen, acknowledged, dropped");
    cr_assert_eq(st->gap_bytes, 30);
    cr_assert_eq(st->segments_in_use, 0);
    end(&c);
    vg_stream_table_free(t);
}

Test(stream, flow_cap_delivers_early)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.flow_cap = 2 * VG_STREAM_CHUNK_SIZE;
    struct vg_stream_table *t = table(1, &cfg);
    struct conn c = conn(t, 0, 1, 2);
    handshake(&c);
    static uint8_t m[1536];
    for (unsigned i = 0; i < sizeof(m); i++)
        m[i] = (uint8_t)(i * 3);
    send_at(&c, VG_DIR_TOSERVER, 0, m, 512);
    send_at(&c, VG_DIR_TOSERVER, 512, m + 512, 512);
    cr_assert_eq(cap.bytes[0], 0);
    send_at(&c, VG_DIR_TOSERVER, 1024, m + 1024, 512); /* a third chunk: over the cap */
    cr_assert_eq(cap.bytes[0], 512);
    cr_assert(cap.flags_seen[0] & VG_STREAM_UNACKED);
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    cr_assert_eq(st->flow_cap_flushes, 1);
    ack_to(&c, VG_DIR_TOCLIENT, 1536);
    assert_stream(VG_DIR_TOSERVER, m, 1536);
    end(&c);
    vg_stream_table_free(t);
}

/* Many sessions share one sink here: only counted. */
static uint64_t counted_bytes;

static void count_data(void *user, enum vg_flow_dir dir, const uint8_t *data, uint32_t len,
                       uint64_t off, uint32_t flags)
{
    (void)user;
    (void)dir;
    (void)data;
    (void)off;
    (void)flags;
    counted_bytes += len;
}

static const struct vg_stream_sink counting_sink = {count_data, NULL, NULL};

/* Many sessions flooded with small out-of-order segments (the first bytes
 * never come): memory stays within the caps, and the counters account for
 * every byte. First 1-byte segments until the descriptor pool runs out,
 * then, once those sessions ended, 600-byte segments (two chunks each)
 * until the chunk memory runs out. */
Test(stream, small_segment_flood)
{
    reset_capture();
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    cfg.memcap = 40 * VG_STREAM_CHUNK_SIZE;
    cfg.segment_pool = 30;
    cfg.flow_cap = 4 * VG_STREAM_CHUNK_SIZE;
    enum { SESSIONS = 32, SEGS = 40, HALF = SESSIONS / 2 };
    struct vg_stream_table *t = table(SESSIONS, &cfg);
    static struct conn cs[SESSIONS];
    static uint8_t big[600];
    memset(big, 'w', sizeof(big));
    const struct vg_stream_stats *st = vg_stream_table_stats(t);
    uint64_t late_small = 0;
    for (uint32_t s = 0; s < SESSIONS; s++) {
        cs[s] = conn(t, s, rng(), rng());
        cs[s].sink = &counting_sink;
        handshake(&cs[s]);
        uint32_t size = s < HALF ? 1 : (uint32_t)sizeof(big);
        for (uint32_t i = 0; i < SEGS; i++) {
            /* offsets 1..SEGS (in units of size) in a shuffled order */
            uint32_t k = 1 + (i * 7 + s * 3) % SEGS;
            send_at(&cs[s], VG_DIR_TOSERVER, k * size, big, size);
            cr_assert_leq(st->memuse, cfg.memcap);
            cr_assert_leq(st->segments_in_use, cfg.segment_pool);
        }
        if (s == HALF - 1) {
            cr_assert_gt(st->pool_drops, 0, "1-byte segments exhaust the descriptors");
            cr_assert_eq(st->memcap_drops, 0);
            late_small = st->retransmissions;
            for (uint32_t e = 0; e < HALF; e++)
                end(&cs[e]);
            cr_assert_eq(st->memuse, 0);
        }
    }
    cr_assert_gt(st->memcap_drops, 0, "600-byte segments exhaust the chunks");
    cr_assert_gt(st->flow_cap_flushes, 0, "sessions passed their cap");
    /* Bytes that came after the cap had pushed the stream past them are
     * retransmissions of delivered data; the rest was taken in. */
    uint64_t late_big = st->retransmissions - late_small;
    cr_assert_gt(late_small, 0);
    cr_assert_eq(st->segment_bytes + late_small + late_big * sizeof(big),
                 HALF * SEGS * (1 + sizeof(big)));
    for (uint32_t s = HALF; s < SESSIONS; s++)
        end(&cs[s]);
    /* every byte was delivered or dropped at a cap, and nothing is left */
    cr_assert_eq(st->delivered_bytes + st->memcap_drop_bytes + st->pool_drop_bytes,
                 st->segment_bytes);
    cr_assert_eq(counted_bytes, st->delivered_bytes);
    cr_assert_eq(st->memuse, 0);
    cr_assert_eq(st->segments_in_use, 0);
    cr_assert_eq(st->memuse_max, cfg.memcap);
    cr_assert_eq(st->segments_in_use_max, cfg.segment_pool);
    cr_assert_eq(st->events[VG_STREAM_EV_MEMCAP], st->memcap_drops + st->pool_drops);
    vg_stream_table_free(t);
}

/* ---- slots ---- */

Test(stream, slot_reuse)
{
    reset_capture();
    struct vg_stream_table *t = table(2, NULL);
    struct conn c = conn(t, 1, 100, 200);
    handshake(&c);
    send_at(&c, VG_DIR_TOSERVER, 5, "tail", 4); /* left buffered */
    end(&c);
    cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
    cr_assert(!vg_stream_direction_active(t, 1, VG_DIR_TOSERVER), "ended slot is clean");

    /* a new flow in the same slot: nothing of the old one shows */
    reset_capture();
    struct conn d = conn(t, 1, 5000, 6000);
    handshake(&d);
    send_at(&d, VG_DIR_TOSERVER, 0, "fresh", 5);
    ack_to(&d, VG_DIR_TOCLIENT, 5);
    assert_stream(VG_DIR_TOSERVER, "fresh", 5);
    cr_assert_eq(cap.gap_chunks[0], 0);

    /* reused without session_end (first_packet_of_flow): released silently */
    send_at(&d, VG_DIR_TOSERVER, 50, "stale", 5);
    cr_assert_gt(vg_stream_table_stats(t)->memuse, 0);
    reset_capture();
    struct conn e = conn(t, 1, 1, 2);
    handshake(&e);
    cr_assert_eq(vg_stream_table_stats(t)->memuse, 0);
    send_at(&e, VG_DIR_TOSERVER, 0, "new", 3);
    ack_to(&e, VG_DIR_TOCLIENT, 3);
    assert_stream(VG_DIR_TOSERVER, "new", 3);
    end(&e);
    vg_stream_session_end(t, 1, &sink); /* twice: harmless */
    vg_stream_session_end(t, 99, &sink);
    cr_assert(!vg_stream_direction_active(t, 99, VG_DIR_TOSERVER));
    vg_stream_table_free(t);
}

Test(stream, non_tcp_and_null_sink)
{
    struct vg_stream_table *t = table(1, NULL);
    struct vg_packet p = pkt(1, 0, SYN, NULL, 0);
    p.proto = 17;
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, NULL);
    cr_assert_eq(vg_stream_table_stats(t)->sessions, 0);
    p = pkt(1, 0, SYN, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, true, NULL);
    p = pkt(9, 2, SYN | ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, NULL);
    p = pkt(2, 10, ACK, "data", 4);
    vg_stream_packet(t, 0, VG_DIR_TOSERVER, &p, false, NULL);
    p = pkt(10, 6, ACK, NULL, 0);
    vg_stream_packet(t, 0, VG_DIR_TOCLIENT, &p, false, NULL);
    cr_assert_eq(vg_stream_table_stats(t)->delivered_bytes, 4);
    vg_stream_session_end(t, 0, NULL);
    vg_stream_packet(t, 5, VG_DIR_TOSERVER, &p, true, NULL); /* slot out of range */
    vg_stream_table_free(t);
}

/* ---- the captures of pcaps/stream/ through decode, flow table and stream ---- */

#define PCAP_SLOTS  64
#define PCAP_STREAM 65536

struct pcap_run {
    struct vg_flow_table *flows;
    struct vg_stream_table *streams;
    uint32_t slot; /* session being fed */
    uint8_t *client[PCAP_SLOTS];
    uint32_t client_len[PCAP_SLOTS];
    unsigned sessions_with_pattern;
};

static void pcap_data(void *user, enum vg_flow_dir dir, const uint8_t *data, uint32_t len,
                      uint64_t off, uint32_t flags)
{
    struct pcap_run *r = user;
    (void)off;
    if (dir != VG_DIR_TOSERVER)
        return;
    uint8_t *b = r->client[r->slot];
    uint32_t *n = &r->client_len[r->slot];
    if ((flags & VG_STREAM_GAP_BEFORE) && *n < PCAP_STREAM)
        b[(*n)++] = 0; /* no match across a gap */
    for (uint32_t i = 0; i < len && *n < PCAP_STREAM; i++)
        b[(*n)++] = data[i];
}

static const struct vg_stream_sink pcap_sink_template = {pcap_data, NULL, NULL};

static void pcap_flow_end(void *user, const struct vg_flow *f, enum vg_flow_end_reason why,
                          uint64_t now_us)
{
    (void)why;
    (void)now_us;
    struct pcap_run *r = user;
    uint32_t slot = vg_flow_table_index(r->flows, f);
    struct vg_stream_sink sink_ = pcap_sink_template;
    sink_.user = r;
    r->slot = slot;
    vg_stream_session_end(r->streams, slot, &sink_);
    if (memmem(r->client[slot], r->client_len[slot], "/tmui/login.jsp/..;", 19) != NULL)
        r->sessions_with_pattern++;
    r->client_len[slot] = 0;
}

/* Runs a capture of pcaps/stream/; returns the sessions whose client stream
 * holds the pattern of sid 9000001. */
static unsigned run_capture(const char *name, const struct vg_stream_config *cfg,
                            struct vg_stream_stats *stats_out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pcaps/stream/%s", VG_SOURCE_ROOT, name);
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    static uint8_t file[1 << 20];
    size_t size = fread(file, 1, sizeof(file), fp);
    fclose(fp);
    cr_assert_gt(size, 24);
    cr_assert_lt(size, sizeof(file));
    uint32_t magic, linktype;
    memcpy(&magic, file, 4);
    memcpy(&linktype, file + 20, 4);
    cr_assert_eq(magic, 0xa1b2c3d4u);

    static struct pcap_run r;
    memset(&r, 0, sizeof(r));
    for (unsigned i = 0; i < PCAP_SLOTS; i++)
        r.client[i] = malloc(PCAP_STREAM);
    r.flows = vg_flow_table_new(PCAP_SLOTS, NULL, pcap_flow_end, &r);
    cr_assert_not_null(r.flows);
    r.streams = vg_stream_table_new(vg_flow_table_capacity(r.flows), cfg);
    cr_assert_not_null(r.streams);
    struct vg_stream_sink sink_ = pcap_sink_template;
    sink_.user = &r;
    struct vg_decode_stats ds;
    memset(&ds, 0, sizeof(ds));
    uint64_t last_ts = 0;
    for (size_t off = 24; off + 16 <= size;) {
        uint32_t hdr[4];
        memcpy(hdr, file + off, 16);
        off += 16;
        cr_assert_leq(off + hdr[2], size);
        struct vg_packet p;
        memset(&p, 0, sizeof(p));
        p.data = file + off;
        p.caplen = hdr[2];
        p.wirelen = hdr[3];
        p.ts_us = (uint64_t)hdr[0] * 1000000 + hdr[1];
        off += hdr[2];
        last_ts = p.ts_us;
        if (vg_decode(&p, (int)linktype, VG_CSUM_ALL, &ds) != 0)
            continue;
        enum vg_flow_dir dir;
        struct vg_flow *f = vg_flow_table_packet(r.flows, &p, &dir);
        if (f == NULL)
            continue;
        r.slot = vg_flow_table_index(r.flows, f);
        vg_stream_packet(r.streams, r.slot, dir, &p, f->pkts[0] + f->pkts[1] == 1, &sink_);
    }
    cr_assert_eq(ds.invalid, 0);
    cr_assert_eq(ds.csum_dropped, 0);
    vg_flow_table_flush(r.flows, VG_FLOW_END_SHUTDOWN, last_ts);
    if (stats_out != NULL)
        *stats_out = *vg_stream_table_stats(r.streams);
    cr_assert_eq(vg_stream_table_stats(r.streams)->memuse, 0);
    vg_stream_table_free(r.streams);
    vg_flow_table_free(r.flows);
    for (unsigned i = 0; i < PCAP_SLOTS; i++)
        free(r.client[i]);
    return r.sessions_with_pattern;
}

/* The stream alerts of pcaps/stream/expected.json (sid 9000001) per policy
 * (first, last, bsd, linux, windows) and with stream.midstream on. */
static const struct {
    const char *file;
    unsigned by_policy[5];
    unsigned midstream;
} pcap_cases[] = {
    {"split-2.pcap", {1, 1, 1, 1, 1}, 1},       {"split-1byte.pcap", {1, 1, 1, 1, 1}, 1},
    {"out-of-order.pcap", {1, 1, 1, 1, 1}, 1},  {"retransmission.pcap", {1, 1, 1, 1, 1}, 1},
    {"overlap.pcap", {0, 2, 1, 2, 1}, 1},       {"gap.pcap", {1, 1, 1, 1, 1}, 1},
    {"wrap.pcap", {1, 1, 1, 1, 1}, 1},          {"4whs.pcap", {1, 1, 1, 1, 1}, 1},
    {"tfo.pcap", {2, 2, 2, 2, 2}, 2},           {"midstream.pcap", {0, 0, 0, 0, 0}, 1},
    {"rst-with-data.pcap", {0, 0, 0, 0, 0}, 0}, {"flood.pcap", {1, 1, 1, 1, 1}, 1},
};

Test(stream, captures, .timeout = 60)
{
    for (unsigned i = 0; i < VG_ARRAY_SIZE(pcap_cases); i++) {
        for (unsigned pol = 0; pol < 5; pol++) {
            struct vg_stream_config cfg = config((enum vg_stream_policy)pol);
            cr_assert_eq(run_capture(pcap_cases[i].file, &cfg, NULL), pcap_cases[i].by_policy[pol],
                         "%s / %s", pcap_cases[i].file,
                         vg_stream_policy_name((enum vg_stream_policy)pol));
        }
        struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
        cfg.midstream = true;
        cr_assert_eq(run_capture(pcap_cases[i].file, &cfg, NULL), pcap_cases[i].midstream,
                     "%s / midstream", pcap_cases[i].file);
    }
}

Test(stream, capture_stats)
{
    struct vg_stream_config cfg = config(VG_STREAM_POLICY_BSD);
    struct vg_stream_stats st;
    run_capture("gap.pcap", &cfg, &st);
    cr_assert_eq(st.gaps, 1);
    cr_assert_eq(st.gap_bytes, 104, "the lost first request (104 bytes)");

    run_capture("retransmission.pcap", &cfg, &st);
    cr_assert_eq(st.retransmissions, 3);
    cr_assert_eq(st.overlaps_different, 0);

    run_capture("overlap.pcap", &cfg, &st);
    cr_assert_eq(st.overlaps_different, 2);

    run_capture("rst-with-data.pcap", &cfg, &st);
    cr_assert_eq(st.rst_with_data, 1);

    run_capture("4whs.pcap", &cfg, &st);
    cr_assert_eq(st.sessions_4whs, 1);
    run_capture("tfo.pcap", &cfg, &st);
    cr_assert_eq(st.sessions_tfo, 1);
    cr_assert_eq(st.events[VG_STREAM_EV_SYNACK_TFO_DATA_IGNORED], 1);

    /* flood.pcap: 32 x 128 one-byte segments stay buffered (no ACK) */
    run_capture("flood.pcap", &cfg, &st);
    cr_assert_eq(st.memcap_drops, 0);
    cr_assert_eq(st.memuse_max, (32 * 128 + 2) * VG_STREAM_CHUNK_SIZE);
    cfg.memcap = 1u << 20;
    cr_assert_eq(run_capture("flood.pcap", &cfg, &st), 0, "the request is dropped at the cap");
    /* the rest of the flood, the request's two segments and the response */
    cr_assert_eq(st.memcap_drops, 32 * 128 - 2048 + 3);
    cr_assert_eq(st.memuse_max, 1u << 20);
}
