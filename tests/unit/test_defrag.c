/* Fragment reassembly tests on hand-built IPv4 and IPv6 fragments, decoded by
 * the real decoder before they are fed in. The overlap tests use the fragment
 * pattern of Novak's "Target-Based Fragmentation Reassembly" (as Snort's
 * frag3 and Suricata's defrag tests do) with the result each policy must
 * give; a byte-level reference model checks random fragment sequences. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/defrag.h"
#include "vigil/packet.h"

#define SECOND_US 1000000ull
#define T0        (1760529600ull * SECOND_US)
#define MAX_PKT   70000

static const uint8_t SRC4[4] = {192, 0, 2, 1};
static const uint8_t DST4[4] = {198, 51, 100, 2};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t DST6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};

static uint8_t frame[MAX_PKT];
static struct vg_decode_stats dst;
static struct vg_packet out;

static void put16(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *b)
{
    return (uint16_t)(b[0] << 8 | b[1]);
}

static uint16_t ref_csum(const uint8_t *b, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)b[i] << 8 | b[i + 1];
    if (len & 1)
        sum += (uint32_t)b[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* ---- fragment builders ---- */

struct frag4 {
    uint16_t id;
    uint8_t proto;
    uint32_t off; /* bytes */
    int mf;
    const uint8_t *data;
    uint32_t len;
    uint32_t opt_len; /* IPv4 options (NOPs), multiple of 4 */
    const uint8_t *src, *dst;
};

static uint32_t build4(uint8_t *b, const struct frag4 *f)
{
    uint32_t hlen = 20 + f->opt_len;
    memset(b, 0, hlen);
    b[0] = (uint8_t)(0x40 | hlen / 4);
    put16(b + 2, hlen + f->len);
    put16(b + 4, f->id);
    put16(b + 6, (f->mf ? 0x2000u : 0) | (f->off / 8));
    b[8] = 64;
    b[9] = f->proto;
    memcpy(b + 12, f->src ? f->src : SRC4, 4);
    memcpy(b + 16, f->dst ? f->dst : DST4, 4);
    memset(b + 20, 1, f->opt_len);
    put16(b + 10, ref_csum(b, hlen));
    if (f->len > 0)
        memcpy(b + hlen, f->data, f->len);
    return hlen + f->len;
}

/* Extension headers placed before the fragment header. */
struct ext6 {
    uint8_t type;  /* 0 hop-by-hop, 60 destination options, 43 routing */
    uint8_t units; /* length in 8-byte units, minus one */
};

struct frag6 {
    uint32_t id;
    uint8_t nh; /* next header in the fragment header */
    uint32_t off;
    int mf;
    const uint8_t *data;
    uint32_t len;
    const struct ext6 *ext;
    unsigned n_ext;
};

static uint32_t build6(uint8_t *b, const struct frag6 *f)
{
    memset(b, 0, 40);
    b[0] = 0x60;
    b[7] = 64;
    memcpy(b + 8, SRC6, 16);
    memcpy(b + 24, DST6, 16);
    uint32_t off = 40;
    uint8_t *nh = b + 6;
    for (unsigned i = 0; i < f->n_ext; i++) {
        uint32_t hl = ((uint32_t)f->ext[i].units + 1) * 8;
        *nh = f->ext[i].type;
        memset(b + off, 0, hl);
        b[off + 1] = f->ext[i].units;
        if (f->ext[i].type != 43) {
            /* one PadN option filling the header */
            b[off + 2] = 1;
            b[off + 3] = (uint8_t)(hl - 4);
        }
        nh = b + off;
        off += hl;
    }
    *nh = 44;
    b[off] = f->nh;
    put16(b + off + 2, f->off | (f->mf ? 1u : 0));
    b[off + 4] = (uint8_t)(f->id >> 24);
    b[off + 5] = (uint8_t)(f->id >> 16);
    b[off + 6] = (uint8_t)(f->id >> 8);
    b[off + 7] = (uint8_t)f->id;
    off += 8;
    if (f->len > 0)
        memcpy(b + off, f->data, f->len);
    put16(b + 4, off - 40 + f->len);
    return off + f->len;
}

static void decode_frame(struct vg_packet *p, uint32_t len, uint64_t ts, uint64_t cnt)
{
    memset(p, 0, sizeof(*p));
    p->data = frame;
    p->caplen = len;
    p->wirelen = len;
    p->ts_us = ts;
    p->pcap_cnt = cnt;
    cr_assert_eq(vg_decode(p, VG_LINK_RAW, VG_CSUM_NONE, &dst), 0);
}

static int feed4(struct vg_defrag *d, const struct frag4 *f, uint64_t ts, uint64_t cnt)
{
    struct vg_packet p;
    decode_frame(&p, build4(frame, f), ts, cnt);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    return vg_defrag_packet(d, &p, ts, &out, &dst);
}

static int feed6(struct vg_defrag *d, const struct frag6 *f, uint64_t ts, uint64_t cnt)
{
    struct vg_packet p;
    decode_frame(&p, build6(frame, f), ts, cnt);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    return vg_defrag_packet(d, &p, ts, &out, &dst);
}

static struct vg_defrag *defrag_with(uint64_t memcap, uint32_t trackers, uint32_t frags,
                                     enum vg_defrag_policy policy)
{
    struct vg_defrag_config c;
    vg_defrag_config_default(&c);
    if (memcap)
        c.memcap = memcap;
    if (trackers)
        c.max_trackers = trackers;
    if (frags)
        c.max_fragments = frags;
    c.policy = policy;
    struct vg_defrag *d = vg_defrag_new(&c);
    cr_assert_not_null(d);
    return d;
}

/* len bytes of letter c */
static const uint8_t *fill(uint8_t *buf, char c, uint32_t len)
{
    memset(buf, c, len);
    return buf;
}

static void assert_idle(const struct vg_defrag *d)
{
    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->trackers_active, 0);
    cr_assert_eq(s->memuse, 0);
}

/* ---- the three-fragment datagram ---- */

/* ICMP echo data "AAAAAAAA" "BBBBBBBB" "CCC" in fragments at 0, 8, 16. */
static void abc4(struct frag4 f[3], uint8_t bufs[3][8], uint16_t id)
{
    static const char letters[3] = {'A', 'B', 'C'};
    for (int i = 0; i < 3; i++) {
        f[i] = (struct frag4){.id = id,
                              .proto = 1,
                              .off = (uint32_t)i * 8,
                              .mf = i < 2,
                              .data = fill(bufs[i], letters[i], 8),
                              .len = i < 2 ? 8 : 3};
    }
}

static void assert_abc4(uint64_t ts, uint64_t cnt)
{
    cr_assert_eq(out.family, 4);
    cr_assert_eq(out.proto, 1);
    cr_assert_eq(out.caplen, 39);
    cr_assert_eq(out.l3, out.data);
    cr_assert_eq(out.l3_len, 39);
    cr_assert_eq(get16(out.l3 + 2), 39);
    cr_assert_eq(get16(out.l3 + 6), 0, "MF and offset cleared");
    cr_assert_eq(ref_csum(out.l3, 20), 0, "header checksum recomputed");
    cr_assert(out.flags & VG_PKT_HAS_L4);
    cr_assert_not(out.flags & VG_PKT_FRAGMENT);
    cr_assert_eq(out.icmp_type, 'A');
    cr_assert_eq(memcmp(out.l3 + 20, "AAAAAAAABBBBBBBBCCC", 19), 0);
    cr_assert_eq(out.ts_us, ts);
    cr_assert_eq(out.pcap_cnt, cnt);
    cr_assert_eq(memcmp(out.src.b, SRC4, 4), 0);
    cr_assert_eq(memcmp(out.dst.b, DST4, 4), 0);
}

Test(defrag, ipv4_in_order)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 1);
    memset(&dst, 0, sizeof(dst));
    cr_assert_eq(feed4(d, &f[0], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[1], T0 + 10, 2), 0);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 3 * VG_DEFRAG_CHUNK_SIZE, "two data chunks + header");
    cr_assert_eq(feed4(d, &f[2], T0 + 20, 3), 1);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    assert_abc4(T0 + 20, 3);
    cr_assert_eq(out.wirelen, 28 + 28 + 23, "wire bytes of the three fragments");

    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->ipv4_fragments, 3);
    cr_assert_eq(s->ipv4_reassembled, 1);
    cr_assert_eq(s->overlaps, 0);
    assert_idle(d);
    /* the fragments were the captured packets; the rebuilt one adds layers */
    cr_assert_eq(dst.pkts, 3);
    cr_assert_eq(dst.raw, 3);
    cr_assert_eq(dst.ipv4, 4);
    cr_assert_eq(dst.icmpv4, 1);
    vg_defrag_free(d);
}

Test(defrag, ipv4_reversed)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 2);
    cr_assert_eq(feed4(d, &f[2], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[1], T0 + 1, 2), 0);
    cr_assert_eq(feed4(d, &f[0], T0 + 2, 3), 1);
    assert_abc4(T0 + 2, 3);
    assert_idle(d);
    vg_defrag_free(d);
}

/* Every order of four fragments completes exactly with the fourth. */
Test(defrag, ipv4_every_order)
{
    static const int perms[24][4] = {
        {0, 1, 2, 3}, {0, 1, 3, 2}, {0, 2, 1, 3}, {0, 2, 3, 1}, {0, 3, 1, 2}, {0, 3, 2, 1},
        {1, 0, 2, 3}, {1, 0, 3, 2}, {1, 2, 0, 3}, {1, 2, 3, 0}, {1, 3, 0, 2}, {1, 3, 2, 0},
        {2, 0, 1, 3}, {2, 0, 3, 1}, {2, 1, 0, 3}, {2, 1, 3, 0}, {2, 3, 0, 1}, {2, 3, 1, 0},
        {3, 0, 1, 2}, {3, 0, 2, 1}, {3, 1, 0, 2}, {3, 1, 2, 0}, {3, 2, 0, 1}, {3, 2, 1, 0},
    };
    uint8_t data[300];
    for (int i = 0; i < 300; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    /* a UDP header: ports 4660 -> 53, length 300, no checksum */
    static const uint8_t udp[8] = {0x12, 0x34, 0, 53, 0x01, 0x2c, 0, 0};
    memcpy(data, udp, sizeof(udp));
    /* pieces of 96, 104, 64 and 36 bytes */
    static const uint32_t offs[4] = {0, 96, 200, 264};
    static const uint32_t lens[4] = {96, 104, 64, 36};
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    for (int p = 0; p < 24; p++) {
        for (int k = 0; k < 4; k++) {
            int i = perms[p][k];
            struct frag4 f = {.id = (uint16_t)(100 + p),
                              .proto = 17,
                              .off = offs[i],
                              .mf = i < 3,
                              .data = data + offs[i],
                              .len = lens[i]};
            int rc = feed4(d, &f, T0 + (uint64_t)k, (uint64_t)k + 1);
            cr_assert_eq(rc, k == 3, "permutation %d step %d", p, k);
        }
        cr_assert_eq(out.proto, 17);
        cr_assert_eq(out.l3_len, 320);
        cr_assert_eq(memcmp(out.l3 + 20, data, 300), 0, "permutation %d", p);
        cr_assert_eq(out.sport, 4660);
        cr_assert_eq(out.payload_len, 292);
        assert_idle(d);
    }
    cr_assert_eq(vg_defrag_stats(d)->ipv4_reassembled, 24);
    vg_defrag_free(d);
}

Test(defrag, duplicate_fragment)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 3);
    cr_assert_eq(feed4(d, &f[0], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[0], T0, 2), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_OVERLAP));
    cr_assert_eq(feed4(d, &f[1], T0, 3), 0);
    cr_assert_eq(feed4(d, &f[1], T0, 4), 0);
    cr_assert_eq(feed4(d, &f[2], T0, 5), 1);
    assert_abc4(T0, 5);
    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->duplicates, 2);
    cr_assert_eq(s->overlaps, 2);
    cr_assert_eq(s->overlaps_different, 0);
    assert_idle(d);
    vg_defrag_free(d);
}

/* Fragments beyond the end the last fragment announced are left out. */
Test(defrag, data_past_last_fragment_ignored)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t a[8], bb[8], c[8];
    struct frag4 fc = {.id = 9, .proto = 1, .off = 16, .mf = 1, .data = fill(c, 'C', 8), .len = 8};
    struct frag4 fa = {.id = 9, .proto = 1, .off = 0, .mf = 1, .data = fill(a, 'A', 8), .len = 8};
    struct frag4 fb = {.id = 9, .proto = 1, .off = 8, .mf = 0, .data = fill(bb, 'B', 8), .len = 8};
    cr_assert_eq(feed4(d, &fc, T0, 1), 0);
    cr_assert_eq(feed4(d, &fa, T0, 2), 0);
    cr_assert_eq(feed4(d, &fb, T0, 3), 1);
    cr_assert_eq(get16(out.l3 + 2), 36);
    cr_assert_eq(out.l3_len, 36);
    assert_idle(d);
    vg_defrag_free(d);
}

/* ---- target-based overlap policies ---- */

/* Novak's pattern: nine fragments, then eight that overlap them, the last
 * one closing the datagram at 192 bytes. Offsets and lengths in bytes. */
static const struct {
    char c;
    uint32_t off, len;
} novak[17] = {
    {'A', 0, 24},   {'B', 32, 16},  {'C', 48, 24}, {'D', 80, 8},  {'E', 104, 16}, {'F', 120, 24},
    {'G', 144, 16}, {'H', 160, 16}, {'I', 176, 8}, {'J', 8, 32},  {'K', 48, 24},  {'L', 72, 24},
    {'M', 96, 24},  {'N', 128, 8},  {'O', 152, 8}, {'P', 160, 8}, {'Q', 176, 16},
};

/* Each letter stands for 8 bytes of the rebuilt datagram. */
static const struct {
    enum vg_defrag_policy policy;
    const char *blocks;
} novak_result[] = {
    {VG_DEFRAG_POLICY_BSD, "AAAJJBCCCLLLMMMFFFGGHHIQ"},
    {VG_DEFRAG_POLICY_LINUX, "AAAJJBKKKLLLMMMFFFGGPHQQ"},
    {VG_DEFRAG_POLICY_WINDOWS, "AAAJBBCCCLLLMEEFFFGGHHIQ"},
    {VG_DEFRAG_POLICY_SOLARIS, "AAAJBBCCCLLLMMMFFFGGHHIQ"},
    {VG_DEFRAG_POLICY_FIRST, "AAAJBBCCCLDLMEEFFFGGHHIQ"},
    {VG_DEFRAG_POLICY_LAST, "AJJJJBKKKLLLMMMFNFGOPHQQ"},
};

static void run_novak(int family, enum vg_defrag_policy policy, const char *blocks)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, policy);
    const uint32_t overlapping = VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_OVERLAP) |
                                 VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_OVERLAP_DIFFERENT_DATA);
    uint8_t buf[32];
    for (int i = 0; i < 17; i++) {
        int last = i == 16;
        int rc;
        if (family == 4) {
            struct frag4 f = {.id = 7,
                              .proto = 1,
                              .off = novak[i].off,
                              .mf = !last,
                              .data = fill(buf, novak[i].c, novak[i].len),
                              .len = novak[i].len};
            rc = feed4(d, &f, T0 + (uint64_t)i, (uint64_t)i + 1);
        } else {
            struct frag6 f = {.id = 7,
                              .nh = 58,
                              .off = novak[i].off,
                              .mf = !last,
                              .data = fill(buf, novak[i].c, novak[i].len),
                              .len = novak[i].len};
            rc = feed6(d, &f, T0 + (uint64_t)i, (uint64_t)i + 1);
        }
        cr_assert_eq(rc, last, "%s fragment %c", vg_defrag_policy_name(policy), novak[i].c);
        cr_assert_eq(vg_defrag_last_events(d), i < 9 ? 0 : overlapping, "%s fragment %c",
                     vg_defrag_policy_name(policy), novak[i].c);
    }
    uint32_t hlen = family == 4 ? 20 : 40;
    cr_assert_eq(out.l3_len, hlen + 192);
    if (family == 4)
        cr_assert_eq(get16(out.l3 + 2), 212);
    else
        cr_assert_eq(get16(out.l3 + 4), 192);
    char got[25];
    for (int b = 0; b < 24; b++) {
        got[b] = (char)out.l3[hlen + (uint32_t)b * 8];
        for (int k = 1; k < 8; k++)
            cr_assert_eq(out.l3[hlen + (uint32_t)b * 8 + (uint32_t)k], (uint8_t)got[b]);
    }
    got[24] = '\0';
    cr_assert_str_eq(got, blocks, "policy %s IPv%d", vg_defrag_policy_name(policy), family);
    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->overlaps, 8);
    cr_assert_eq(s->overlaps_different, 8);
    cr_assert_eq(s->duplicates, 0);
    assert_idle(d);
    vg_defrag_free(d);
}

Test(defrag, novak_ipv4_every_policy)
{
    for (size_t i = 0; i < sizeof(novak_result) / sizeof(novak_result[0]); i++)
        run_novak(4, novak_result[i].policy, novak_result[i].blocks);
}

Test(defrag, novak_ipv6_every_policy)
{
    for (size_t i = 0; i < sizeof(novak_result) / sizeof(novak_result[0]); i++)
        run_novak(6, novak_result[i].policy, novak_result[i].blocks);
}

/* A later fragment covering the end of one piece and the start of another. */
Test(defrag, linux_overlap_across_pieces)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_LINUX);
    uint8_t buf[48];
    struct frag4 f[4] = {
        {.id = 4, .proto = 1, .off = 0, .mf = 1, .len = 24},
        {.id = 4, .proto = 1, .off = 40, .mf = 1, .len = 48},
        {.id = 4, .proto = 1, .off = 24, .mf = 1, .len = 48},
        {.id = 4, .proto = 1, .off = 88, .mf = 0, .len = 14},
    };
    const char letters[4] = {'A', 'B', 'C', 'D'};
    for (int i = 0; i < 4; i++) {
        f[i].data = fill(buf, letters[i], f[i].len);
        cr_assert_eq(feed4(d, &f[i], T0, (uint64_t)i + 1), i == 3);
    }
    char want[103];
    memset(want, 'A', 24);
    memset(want + 24, 'C', 48);
    memset(want + 72, 'B', 16);
    memset(want + 88, 'D', 14);
    cr_assert_eq(memcmp(out.l3 + 20, want, 102), 0);
    vg_defrag_free(d);
}

/* Which header the datagram gets when two fragments start at 0. */
Test(defrag, first_fragment_header_follows_policy)
{
    for (int pol = 0; pol < 2; pol++) {
        enum vg_defrag_policy policy = pol == 0 ? VG_DEFRAG_POLICY_FIRST : VG_DEFRAG_POLICY_LAST;
        struct vg_defrag *d = defrag_with(0, 0, 0, policy);
        uint8_t x[16], y[16];
        struct frag4 a = {.id = 5,
                          .proto = 1,
                          .off = 0,
                          .mf = 1,
                          .data = fill(x, 'x', 16),
                          .len = 16,
                          .opt_len = 0};
        struct frag4 b = {.id = 5,
                          .proto = 1,
                          .off = 0,
                          .mf = 1,
                          .data = fill(y, 'y', 16),
                          .len = 16,
                          .opt_len = 4};
        struct frag4 c = {.id = 5, .proto = 1, .off = 16, .mf = 0, .data = x, .len = 8};
        cr_assert_eq(feed4(d, &a, T0, 1), 0);
        cr_assert_eq(feed4(d, &b, T0, 2), 0);
        cr_assert_eq(feed4(d, &c, T0, 3), 1);
        uint32_t hlen = pol == 0 ? 20 : 24;
        cr_assert_eq((out.l3[0] & 0x0f) * 4u, hlen);
        cr_assert_eq(out.l3_len, hlen + 24);
        cr_assert_eq(out.l3[hlen], pol == 0 ? 'x' : 'y');
        cr_assert_eq(ref_csum(out.l3, hlen), 0);
        vg_defrag_free(d);
    }
}

Test(defrag, policy_names)
{
    enum vg_defrag_policy p;
    cr_assert_eq(vg_defrag_policy_parse("Windows", &p), 0);
    cr_assert_eq(p, VG_DEFRAG_POLICY_WINDOWS);
    cr_assert_eq(vg_defrag_policy_parse("bsd-right", &p), -1);
    cr_assert_str_eq(vg_defrag_policy_name(VG_DEFRAG_POLICY_SOLARIS), "solaris");
    cr_assert_null(vg_defrag_policy_name(VG_DEFRAG_POLICY_COUNT));
    cr_assert_str_eq(vg_defrag_event_name(VG_DEFRAG_EV_TOO_MANY_FRAGMENTS), "defrag.max_frag_hits");
    cr_assert_str_eq(vg_defrag_event_name_family(VG_DEFRAG_EV_OVERLAP, 4), "ipv4.frag_overlap");
    cr_assert_str_eq(vg_defrag_event_name_family(VG_DEFRAG_EV_OVERLAP, 6), "ipv6.frag_overlap");
    cr_assert_str_eq(vg_defrag_event_name_family(VG_DEFRAG_EV_DATAGRAM_TOO_LARGE, 4),
                     "ipv4.frag_pkt_too_large");
    cr_assert_str_eq(vg_defrag_event_name_family(VG_DEFRAG_EV_INVALID_FRAGMENT, 6),
                     "ipv6.frag_invalid_length");
    cr_assert_str_eq(vg_defrag_event_name_family(VG_DEFRAG_EV_TRACKER_TABLE_FULL, 6),
                     "defrag.max_trackers_reached");
    cr_assert_str_eq(vg_defrag_event_name(VG_DEFRAG_EV_COUNT), "unknown");
}

/* ---- matching ---- */

Test(defrag, vlan_and_protocol_separate_datagrams)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t a[8], b[8];
    struct frag4 fa = {.id = 11, .proto = 1, .off = 0, .mf = 1, .data = fill(a, 'A', 8), .len = 8};
    struct frag4 fb = {.id = 11, .proto = 1, .off = 8, .mf = 0, .data = fill(b, 'B', 8), .len = 8};
    struct vg_packet p;

    /* VLAN 1 then VLAN 2: two datagrams */
    decode_frame(&p, build4(frame, &fa), T0, 1);
    p.vlan_count = 1;
    p.vlan[0] = 1;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    decode_frame(&p, build4(frame, &fb), T0, 2);
    p.vlan_count = 1;
    p.vlan[0] = 2;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    /* same outer VLAN, different inner one */
    decode_frame(&p, build4(frame, &fa), T0, 3);
    p.vlan_count = 2;
    p.vlan[0] = 5;
    p.vlan[1] = 1;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    decode_frame(&p, build4(frame, &fb), T0, 4);
    p.vlan_count = 2;
    p.vlan[0] = 5;
    p.vlan[1] = 2;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    /* VLAN 5/1 again: completes, and the datagram keeps the VLAN ids */
    decode_frame(&p, build4(frame, &fb), T0, 5);
    p.vlan_count = 2;
    p.vlan[0] = 5;
    p.vlan[1] = 1;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 1);
    cr_assert_eq(out.vlan_count, 2);
    cr_assert_eq(out.vlan[0], 5);
    cr_assert_eq(out.vlan[1], 1);

    /* a different protocol with the same id is another datagram */
    struct frag4 fu = fb;
    fu.proto = 17;
    cr_assert_eq(feed4(d, &fa, T0, 6), 0);
    cr_assert_eq(feed4(d, &fu, T0, 7), 0);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 5);
    vg_defrag_free(d);
}

/* The caller may pass one struct as both the fragment and the result. */
Test(defrag, fragment_and_result_may_alias)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 12);
    cr_assert_eq(feed4(d, &f[0], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[1], T0, 2), 0);
    struct vg_packet p;
    decode_frame(&p, build4(frame, &f[2]), T0 + 5, 3);
    p.vlan_count = 1;
    p.vlan[0] = 9;
    cr_assert_eq(vg_defrag_packet(d, &p, T0 + 5, &p, &dst), 0, "another VLAN: no match");
    decode_frame(&p, build4(frame, &f[2]), T0 + 5, 3);
    cr_assert_eq(vg_defrag_packet(d, &p, T0 + 5, &p, &dst), 1);
    out = p;
    assert_abc4(T0 + 5, 3);
    vg_defrag_free(d);
}

/* ---- IPv6 ---- */

Test(defrag, ipv6_extension_headers_before_fragment_header)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    const struct ext6 ext[2] = {{.type = 0, .units = 0}, {.type = 60, .units = 1}};
    /* a TCP segment: 20-byte header + 60 bytes of payload, in fragments of
     * 32, 32 and 16 bytes */
    uint8_t seg[80];
    memset(seg, 0, 20);
    put16(seg, 40000);
    put16(seg + 2, 8443);
    seg[12] = 5 << 4;
    seg[13] = 0x18;
    for (int i = 20; i < 80; i++)
        seg[i] = (uint8_t)('a' + i % 26);
    struct frag6 f[3];
    for (int i = 0; i < 3; i++) {
        f[i] = (struct frag6){.id = 0xdeadbeef,
                              .nh = 6,
                              .off = (uint32_t)i * 32,
                              .mf = i < 2,
                              .data = seg + i * 32,
                              .len = i < 2 ? 32 : 16,
                              .ext = ext,
                              .n_ext = 2};
    }
    cr_assert_eq(feed6(d, &f[1], T0, 1), 0);
    cr_assert_eq(feed6(d, &f[2], T0, 2), 0);
    cr_assert_eq(feed6(d, &f[0], T0, 3), 1);
    /* 40 + hop-by-hop 8 + destination options 16 + 80 */
    cr_assert_eq(out.l3_len, 144);
    cr_assert_eq(get16(out.l3 + 4), 104);
    cr_assert_eq(out.l3[6], 0, "IPv6 header still names hop-by-hop");
    cr_assert_eq(out.l3[40], 60, "hop-by-hop still names destination options");
    cr_assert_eq(out.l3[48], 6, "destination options now names TCP, not the fragment header");
    cr_assert_eq(out.family, 6);
    cr_assert_eq(out.proto, 6);
    cr_assert(out.flags & VG_PKT_HAS_L4);
    cr_assert_eq(out.sport, 40000);
    cr_assert_eq(out.dport, 8443);
    cr_assert_eq(out.payload_len, 60);
    cr_assert_eq(memcmp(out.payload, seg + 20, 60), 0);
    cr_assert_eq(vg_defrag_stats(d)->ipv6_reassembled, 1);
    cr_assert_eq(vg_defrag_stats(d)->ipv6_fragments, 3);
    assert_idle(d);
    vg_defrag_free(d);
}

Test(defrag, ipv6_without_extension_headers)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t a[16], b[5];
    struct frag6 fa = {.id = 1, .nh = 58, .off = 0, .mf = 1, .data = fill(a, 'a', 16), .len = 16};
    struct frag6 fb = {.id = 1, .nh = 58, .off = 16, .mf = 0, .data = fill(b, 'b', 5), .len = 5};
    cr_assert_eq(feed6(d, &fa, T0, 1), 0);
    cr_assert_eq(feed6(d, &fb, T0, 2), 1);
    cr_assert_eq(out.l3[6], 58);
    cr_assert_eq(get16(out.l3 + 4), 21);
    cr_assert_eq(out.l3_len, 61);
    cr_assert_eq(out.proto, 58);
    cr_assert_eq(out.icmp_type, 'a');
    cr_assert_eq(memcmp(out.l3 + 40, "aaaaaaaaaaaaaaaabbbbb", 21), 0);
    vg_defrag_free(d);
}

/* ---- timeouts ---- */

Test(defrag, first_fragment_missing_times_out)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 20);
    cr_assert_eq(feed4(d, &f[1], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[2], T0 + 5 * SECOND_US, 2), 0);
    cr_assert_eq(vg_defrag_expire(d, T0 + 59 * SECOND_US), 0);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1);
    cr_assert_eq(vg_defrag_expire(d, T0 + 60 * SECOND_US), 1);
    cr_assert_eq(vg_defrag_stats(d)->timeouts, 1);
    assert_idle(d);
    /* the first fragment alone, late, starts a datagram of its own */
    cr_assert_eq(feed4(d, &f[0], T0 + 61 * SECOND_US, 3), 0);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1);
    vg_defrag_free(d);
}

/* The timeout runs from the first fragment; later ones do not extend it. */
Test(defrag, timeout_counts_from_first_fragment)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 21);
    cr_assert_eq(feed4(d, &f[0], T0, 1), 0);
    cr_assert_eq(feed4(d, &f[1], T0 + 59 * SECOND_US, 2), 0);
    cr_assert_eq(feed4(d, &f[2], T0 + 61 * SECOND_US, 3), 0);
    cr_assert_eq(vg_defrag_stats(d)->timeouts, 1);
    cr_assert_eq(vg_defrag_stats(d)->ipv4_reassembled, 0);
    cr_assert_eq(vg_defrag_last_events(d), 0, "a timeout belongs to no packet");
    vg_defrag_free(d);
}

/* ---- caps ---- */

Test(defrag, memcap_gives_up_the_new_fragments_datagram)
{
    /* 8 chunks: datagram X takes 5 (4 of data, 1 of header), Y needs 5 */
    struct vg_defrag *d = defrag_with(8 * VG_DEFRAG_CHUNK_SIZE, 0, 0, VG_DEFRAG_POLICY_BSD);
    static uint8_t big[1000], small[8];
    fill(big, 'x', 1000);
    fill(small, 's', 8);
    struct frag4 x0 = {.id = 1, .proto = 50, .off = 0, .mf = 1, .data = big, .len = 1000};
    struct frag4 x1 = {.id = 1, .proto = 50, .off = 1000, .mf = 0, .data = small, .len = 8};
    struct frag4 y0 = {.id = 2, .proto = 50, .off = 0, .mf = 1, .data = big, .len = 1000};
    struct frag4 y1 = {.id = 2, .proto = 50, .off = 1000, .mf = 0, .data = small, .len = 8};
    cr_assert_eq(feed4(d, &x0, T0, 1), 0);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 5 * VG_DEFRAG_CHUNK_SIZE);
    cr_assert_eq(feed4(d, &y0, T0, 2), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_MEMCAP));
    cr_assert_eq(vg_defrag_stats(d)->memcap_drops, 1);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 5 * VG_DEFRAG_CHUNK_SIZE, "Y holds nothing");
    /* Y's last fragment is absorbed, X still completes */
    cr_assert_eq(feed4(d, &y1, T0, 3), 0);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    cr_assert_eq(vg_defrag_stats(d)->absorbed, 1);
    cr_assert_eq(feed4(d, &x1, T0, 4), 1);
    cr_assert_eq(out.l3_len, 1028);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 0);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1, "Y stays until its timeout");
    /* a given-up datagram is not a timeout */
    cr_assert_eq(vg_defrag_expire(d, T0 + 60 * SECOND_US), 0);
    cr_assert_eq(vg_defrag_stats(d)->timeouts, 0);
    assert_idle(d);
    /* with the memory back, Y can be rebuilt */
    cr_assert_eq(feed4(d, &y0, T0 + 61 * SECOND_US, 5), 0);
    cr_assert_eq(feed4(d, &y1, T0 + 61 * SECOND_US, 6), 1);
    vg_defrag_free(d);
}

/* The pool can also run dry while a piece is split (policy last) or while
 * the first fragment's header is stored. */
Test(defrag, memcap_while_splitting_or_storing_the_header)
{
    static uint8_t buf[512];
    fill(buf, 'p', 512);
    struct vg_defrag *d = defrag_with(3 * VG_DEFRAG_CHUNK_SIZE, 0, 0, VG_DEFRAG_POLICY_LAST);
    struct frag4 piece = {.id = 1, .proto = 50, .off = 256, .mf = 1, .data = buf, .len = 512};
    struct frag4 inside = {
        .id = 1, .proto = 50, .off = 264, .mf = 1, .data = fill(buf, 'q', 8), .len = 8};
    cr_assert_eq(feed4(d, &piece, T0, 1), 0);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 2 * VG_DEFRAG_CHUNK_SIZE);
    /* keeping [272, 768) of the piece needs two more chunks */
    cr_assert_eq(feed4(d, &inside, T0, 2), 0);
    cr_assert(vg_defrag_last_events(d) & VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_MEMCAP));
    cr_assert_eq(vg_defrag_stats(d)->memcap_drops, 1);
    cr_assert_eq(vg_defrag_stats(d)->memuse, 0, "given up: nothing held");
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1, "the tracker absorbs the rest");
    vg_defrag_free(d);

    d = defrag_with(2 * VG_DEFRAG_CHUNK_SIZE, 0, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 first = {.id = 2, .proto = 50, .off = 0, .mf = 1, .data = buf, .len = 512};
    cr_assert_eq(feed4(d, &first, T0, 1), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_MEMCAP));
    cr_assert_eq(vg_defrag_stats(d)->memuse, 0);
    vg_defrag_free(d);
}

Test(defrag, tracker_table_full)
{
    struct vg_defrag *d = defrag_with(0, 4, 0, VG_DEFRAG_POLICY_BSD);
    struct frag4 f[3];
    uint8_t b[3][8];
    for (uint16_t id = 1; id <= 4; id++) {
        abc4(f, b, id);
        cr_assert_eq(feed4(d, &f[0], T0, id), 0);
    }
    abc4(f, b, 5);
    cr_assert_eq(feed4(d, &f[0], T0 + 1, 5), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_TRACKER_TABLE_FULL));
    cr_assert_eq(vg_defrag_stats(d)->tracker_table_full, 1);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 4);
    /* completing datagram 1 frees a tracker for datagram 5 */
    abc4(f, b, 1);
    cr_assert_eq(feed4(d, &f[1], T0 + 2, 6), 0);
    cr_assert_eq(feed4(d, &f[2], T0 + 2, 7), 1);
    abc4(f, b, 5);
    cr_assert_eq(feed4(d, &f[0], T0 + 3, 8), 0);
    cr_assert_eq(feed4(d, &f[1], T0 + 3, 9), 0);
    cr_assert_eq(feed4(d, &f[2], T0 + 3, 10), 1);
    /* once the others time out, their trackers are taken back */
    abc4(f, b, 6);
    cr_assert_eq(feed4(d, &f[0], T0 + 60 * SECOND_US, 11), 0);
    cr_assert_eq(vg_defrag_stats(d)->timeouts, 3);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1);
    cr_assert_eq(vg_defrag_stats(d)->tracker_table_full, 1);
    vg_defrag_free(d);
}

Test(defrag, too_many_fragments)
{
    struct vg_defrag *d = defrag_with(0, 0, 4, VG_DEFRAG_POLICY_BSD);
    uint8_t buf[8];
    for (uint32_t i = 0; i < 6; i++) {
        struct frag4 f = {
            .id = 3, .proto = 1, .off = i * 8, .mf = i < 5, .data = fill(buf, 'z', 8), .len = 8};
        cr_assert_eq(feed4(d, &f, T0, i + 1), 0);
        if (i == 4)
            cr_assert_eq(vg_defrag_last_events(d),
                         VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_TOO_MANY_FRAGMENTS));
    }
    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->too_many_fragments, 1);
    cr_assert_eq(s->absorbed, 1);
    cr_assert_eq(s->ipv4_reassembled, 0);
    cr_assert_eq(s->memuse, 0);
    vg_defrag_free(d);
}

Test(defrag, oversize_datagram)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    static uint8_t buf[80];
    fill(buf, 'o', 80);
    /* 20 + 8183 * 8 + 71 = 65555 > 65535 */
    struct frag4 f4 = {.id = 1, .proto = 1, .off = 8183 * 8, .mf = 0, .data = buf, .len = 71};
    cr_assert_eq(feed4(d, &f4, T0, 1), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_DATAGRAM_TOO_LARGE));
    /* 20 + 65512 + 3 = 65535: the largest datagram IPv4 allows */
    struct frag4 ok4 = {.id = 2, .proto = 1, .off = 65512, .mf = 0, .data = buf, .len = 3};
    cr_assert_eq(feed4(d, &ok4, T0, 2), 0);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    /* IPv6: the payload may reach 65535 with the unfragmentable part */
    struct frag6 f6 = {.id = 1, .nh = 17, .off = 65528, .mf = 0, .data = buf, .len = 8};
    cr_assert_eq(feed6(d, &f6, T0, 3), 0);
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_DATAGRAM_TOO_LARGE));
    struct frag6 ok6 = {.id = 2, .nh = 17, .off = 65528, .mf = 0, .data = buf, .len = 7};
    cr_assert_eq(feed6(d, &ok6, T0, 4), 0);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    cr_assert_eq(vg_defrag_stats(d)->oversize, 2);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 2);
    vg_defrag_free(d);
}

/* Each fragment fits, but the first one's IPv4 options push the whole
 * datagram past 65535: it is dropped when it completes. */
Test(defrag, oversize_only_with_the_first_header)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    static uint8_t data[65535];
    memset(data, 'z', sizeof(data));
    uint32_t total = 65535 - 20, n = 0;
    for (uint32_t off = 0; off < total; off += 1480, n++) {
        uint32_t len = total - off < 1480 ? total - off : 1480;
        struct frag4 f = {.id = 5,
                          .proto = 50,
                          .off = off,
                          .mf = off + len < total,
                          .data = data + off,
                          .len = len,
                          .opt_len = off == 0 ? 40 : 0};
        cr_assert_eq(feed4(d, &f, T0, n + 1), 0);
    }
    cr_assert_eq(vg_defrag_last_events(d), VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_DATAGRAM_TOO_LARGE));
    cr_assert_eq(vg_defrag_stats(d)->oversize, 1);
    cr_assert_eq(vg_defrag_stats(d)->ipv4_reassembled, 0);
    assert_idle(d);
    vg_defrag_free(d);
}

Test(defrag, stats_add)
{
    struct vg_defrag_stats a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    a.ipv4_fragments = 3;
    a.memuse = 512;
    b.ipv4_fragments = 4;
    b.timeouts = 2;
    b.memuse = 256;
    vg_defrag_stats_add(&a, &b);
    cr_assert_eq(a.ipv4_fragments, 7);
    cr_assert_eq(a.timeouts, 2);
    cr_assert_eq(a.memuse, 768);
}

/* A full-size datagram in 1480-byte fragments (IPv6: 1232, the 1280 MTU). */
Test(defrag, largest_datagrams)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    static uint8_t data[65535];
    for (uint32_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i ^ (i >> 8));
    uint32_t total4 = 65535 - 20, n = 0;
    for (uint32_t off = 0; off < total4; off += 1480, n++) {
        uint32_t len = total4 - off < 1480 ? total4 - off : 1480;
        struct frag4 f = {.id = 77,
                          .proto = 50,
                          .off = off,
                          .mf = off + len < total4,
                          .data = data + off,
                          .len = len};
        cr_assert_eq(feed4(d, &f, T0, n + 1), off + len == total4);
    }
    cr_assert_eq(out.l3_len, 65535);
    cr_assert_eq(out.proto, 50);
    cr_assert_eq(memcmp(out.l3 + 20, data, total4), 0);
    cr_assert_eq(out.payload_len, total4);
    uint32_t total6 = 65535;
    for (uint32_t off = 0; off < total6; off += 1232) {
        uint32_t len = total6 - off < 1232 ? total6 - off : 1232;
        struct frag6 f = {.id = 78,
                          .nh = 59,
                          .off = off,
                          .mf = off + len < total6,
                          .data = data + off,
                          .len = len};
        cr_assert_eq(feed6(d, &f, T0, 1), off + len == total6);
    }
    cr_assert_eq(out.l3_len, 40 + 65535);
    cr_assert_eq(memcmp(out.l3 + 40, data, total6), 0);
    assert_idle(d);
    vg_defrag_free(d);
}

Test(defrag, invalid_fragments)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t buf[24];
    fill(buf, 'i', 24);
    const uint32_t inv = VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_INVALID_FRAGMENT);
    /* a non-last fragment off an 8-byte boundary */
    struct frag4 odd = {.id = 1, .proto = 1, .off = 0, .mf = 1, .data = buf, .len = 12};
    cr_assert_eq(feed4(d, &odd, T0, 1), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    struct frag6 odd6 = {.id = 1, .nh = 58, .off = 8, .mf = 1, .data = buf, .len = 10};
    cr_assert_eq(feed6(d, &odd6, T0, 2), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    /* no data at all */
    struct frag4 empty = {.id = 2, .proto = 1, .off = 8, .mf = 0, .data = buf, .len = 0};
    cr_assert_eq(feed4(d, &empty, T0, 3), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    /* two last fragments that disagree on the length, and a fragment past it */
    struct frag4 last1 = {.id = 3, .proto = 1, .off = 16, .mf = 0, .data = buf, .len = 8};
    struct frag4 last2 = {.id = 3, .proto = 1, .off = 16, .mf = 0, .data = buf, .len = 16};
    struct frag4 past = {.id = 3, .proto = 1, .off = 24, .mf = 1, .data = buf, .len = 8};
    cr_assert_eq(feed4(d, &last1, T0, 4), 0);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    cr_assert_eq(feed4(d, &last2, T0, 5), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    cr_assert_eq(feed4(d, &past, T0, 6), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    cr_assert_eq(vg_defrag_stats(d)->invalid, 5);
    cr_assert_eq(vg_defrag_stats(d)->trackers_active, 1);

    /* a packet that is not a fragment */
    struct frag4 whole = odd;
    struct vg_packet p;
    decode_frame(&p, build4(frame, &whole), T0, 7);
    p.flags &= (uint16_t)~VG_PKT_FRAGMENT;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    /* an IPv6 packet flagged as a fragment without a fragment header */
    struct frag6 f6 = {.id = 1, .nh = 58, .off = 8, .mf = 1, .data = buf, .len = 16};
    decode_frame(&p, build6(frame, &f6), T0, 8);
    frame[6] = 58;
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    cr_assert_eq(vg_defrag_last_events(d), inv);
    cr_assert_eq(vg_defrag_stats(d)->invalid, 7);
    vg_defrag_free(d);
}

Test(defrag, truncated_capture_not_stored)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t buf[64];
    struct frag4 f = {
        .id = 1, .proto = 1, .off = 0, .mf = 1, .data = fill(buf, 't', 64), .len = 64};
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.data = frame;
    p.wirelen = build4(frame, &f);
    p.caplen = 60; /* snap length cut the fragment */
    cr_assert_eq(vg_decode(&p, VG_LINK_RAW, VG_CSUM_NONE, &dst), 0);
    cr_assert_eq(vg_defrag_packet(d, &p, T0, &out, &dst), 0);
    cr_assert_eq(vg_defrag_stats(d)->truncated, 1);
    cr_assert_eq(vg_defrag_last_events(d), 0);
    assert_idle(d);
    vg_defrag_free(d);
}

/* A rebuilt datagram the decoder refuses (TCP header cut short). */
Test(defrag, rebuilt_datagram_undecodable)
{
    struct vg_defrag *d = defrag_with(0, 0, 0, VG_DEFRAG_POLICY_BSD);
    uint8_t a[8], b[4];
    struct frag4 fa = {.id = 1, .proto = 6, .off = 0, .mf = 1, .data = fill(a, 0, 8), .len = 8};
    struct frag4 fb = {.id = 1, .proto = 6, .off = 8, .mf = 0, .data = fill(b, 0, 4), .len = 4};
    cr_assert_eq(feed4(d, &fa, T0, 1), 0);
    cr_assert_eq(feed4(d, &fb, T0, 2), 0);
    cr_assert_eq(vg_defrag_stats(d)->rebuilt_undecodable, 1);
    cr_assert_eq(vg_defrag_stats(d)->ipv4_reassembled, 0);
    assert_idle(d);
    vg_defrag_free(d);
}

/* Thousands of datagrams that never complete: memory stays under the cap
 * and the counters say what was dropped. */
Test(defrag, fragment_flood)
{
    const uint64_t memcap = 64 * VG_DEFRAG_CHUNK_SIZE;
    struct vg_defrag *d = defrag_with(memcap, 1024, 0, VG_DEFRAG_POLICY_BSD);
    static uint8_t buf[1024];
    fill(buf, 'f', 1024);
    for (uint32_t i = 0; i < 5000; i++) {
        /* a middle fragment of 1024 bytes: four chunks, no header */
        struct frag4 f = {.id = (uint16_t)i,
                          .proto = 17,
                          .off = 1024,
                          .mf = 1,
                          .data = buf,
                          .len = 1024,
                          .src = SRC4};
        cr_assert_eq(feed4(d, &f, T0 + i, i + 1), 0);
        cr_assert_leq(vg_defrag_stats(d)->memuse, memcap);
    }
    const struct vg_defrag_stats *s = vg_defrag_stats(d);
    cr_assert_eq(s->ipv4_fragments, 5000);
    cr_assert_eq(s->memuse, memcap, "16 datagrams held");
    cr_assert_eq(s->memcap_drops, 1024 - 16);
    cr_assert_eq(s->tracker_table_full, 5000 - 1024);
    cr_assert_eq(s->trackers_active, 1024);
    cr_assert_eq(vg_defrag_expire(d, T0 + 5000 + 60 * SECOND_US), 16);
    cr_assert_eq(s->timeouts, 16);
    assert_idle(d);
    /* after the flood, a datagram goes through */
    struct frag4 f[3];
    uint8_t b[3][8];
    abc4(f, b, 1);
    uint64_t t = T0 + 61 * SECOND_US;
    cr_assert_eq(feed4(d, &f[0], t, 1), 0);
    cr_assert_eq(feed4(d, &f[1], t, 2), 0);
    cr_assert_eq(feed4(d, &f[2], t, 3), 1);
    assert_abc4(t, 3);
    vg_defrag_free(d);
}

/* ---- random fragment sequences against a byte-level model ---- */

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)((rng_state >> 16) % n);
}

#define MODEL_LEN 512
#define NEW_MARK  (-2)
#define HOLE      (-1)

/* The policies of defrag.h written over a byte array: owner[] names the
 * piece that holds each byte; a piece is the run of bytes with its id. */
struct model {
    int owner[MODEL_LEN];
    uint8_t data[MODEL_LEN];
    int next_id;
    int has_end, end, has_hdr;
};

static void model_reset(struct model *m)
{
    for (int i = 0; i < MODEL_LEN; i++)
        m->owner[i] = HOLE;
    m->next_id = 0;
    m->has_end = m->end = m->has_hdr = 0;
}

static void piece_extent(const struct model *m, int id, int from, int *s, int *e)
{
    int a = from, b = from;
    while (a > 0 && m->owner[a - 1] == id)
        a--;
    while (b < MODEL_LEN && m->owner[b] == id)
        b++;
    *s = a;
    *e = b;
}

static int model_new_wins(enum vg_defrag_policy pol, int ns, int ne, int ps, int pe)
{
    switch (pol) {
    case VG_DEFRAG_POLICY_FIRST:
        return 0;
    case VG_DEFRAG_POLICY_LAST:
        return 1;
    case VG_DEFRAG_POLICY_LINUX:
        return ps >= ns;
    case VG_DEFRAG_POLICY_WINDOWS:
        return ns < ps && ne > pe;
    case VG_DEFRAG_POLICY_SOLARIS:
        return ns < ps && ne >= pe;
    default:
        return ps > ns;
    }
}

struct model_result {
    int invalid, overlap, differ, duplicate, complete;
};

static struct model_result model_feed(struct model *m, enum vg_defrag_policy pol, int ns, int len,
                                      int more, const uint8_t *nd)
{
    struct model_result r = {0};
    int ne = ns + len;
    if (len == 0 || (more && len % 8 != 0) || (!more && m->has_end && m->end != ne) ||
        (more && m->has_end && ne > m->end)) {
        r.invalid = 1;
        return r;
    }
    if (!more) {
        m->has_end = 1;
        m->end = ne;
    }
    /* pieces in the order of their start, with their extents before any change */
    int ids[MODEL_LEN], starts[MODEL_LEN], ends[MODEL_LEN], n = 0;
    for (int b = ns; b < ne; b++) {
        int id = m->owner[b];
        if (id >= 0 && (n == 0 || ids[n - 1] != id)) {
            ids[n] = id;
            piece_extent(m, id, b, &starts[n], &ends[n]);
            n++;
        }
    }
    int covered = 0;
    for (int k = 0; k < n; k++) {
        int ps = starts[k], pe = ends[k];
        int os = ps > ns ? ps : ns, oe = pe < ne ? pe : ne;
        r.overlap = 1;
        covered += oe - os;
        for (int b = os; b < oe; b++)
            if (m->data[b] != nd[b - ns])
                r.differ = 1;
        if (!model_new_wins(pol, ns, ne, ps, pe))
            continue;
        for (int b = os; b < oe; b++)
            m->owner[b] = NEW_MARK;
        if (ps < os && pe > oe) {
            int right = m->next_id++;
            for (int b = oe; b < pe; b++)
                m->owner[b] = right;
        }
    }
    r.duplicate = r.overlap && !r.differ && covered == len;
    for (int b = ns; b < ne;) {
        if (m->owner[b] >= 0) {
            b++;
            continue;
        }
        int id = m->next_id++;
        if (b == 0)
            m->has_hdr = 1;
        while (b < ne && m->owner[b] < 0) {
            m->owner[b] = id;
            m->data[b] = nd[b - ns];
            b++;
        }
    }
    if (m->has_end && m->has_hdr) {
        r.complete = 1;
        for (int b = 0; b < m->end; b++)
            if (m->owner[b] < 0)
                r.complete = 0;
    }
    return r;
}

Test(defrag, random_sequences_match_model)
{
    static struct model m;
    rng_state = 0x9e3779b97f4a7c15ull;
    struct vg_defrag *d[VG_DEFRAG_POLICY_COUNT];
    for (int p = 0; p < VG_DEFRAG_POLICY_COUNT; p++)
        d[p] = defrag_with(0, 0, 1000, (enum vg_defrag_policy)p);
    uint8_t nd[MODEL_LEN];
    uint64_t clock = T0;
    int completed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        enum vg_defrag_policy pol = (enum vg_defrag_policy)rnd(VG_DEFRAG_POLICY_COUNT);
        struct vg_defrag *dd = d[pol];
        struct vg_defrag_stats before = *vg_defrag_stats(dd);
        model_reset(&m);
        int total = 9 + (int)rnd(MODEL_LEN - 9);
        int nfrag = 1 + (int)rnd(40);
        int done = 0;
        for (int k = 0; k < nfrag + 80 && !done; k++) {
            int start, len, more;
            if (k < nfrag) {
                start = 8 * (int)rnd((uint32_t)(total + 7) / 8);
                len = rnd(10) == 0 ? (int)rnd(24) : 8 * (1 + (int)rnd(12));
                if (start + len >= total) {
                    len = total - start;
                    more = rnd(8) == 0;
                } else {
                    more = rnd(12) != 0;
                }
            } else {
                /* then a clean cover of the datagram, in 8..64-byte fragments */
                start = 8 * (int)rnd((uint32_t)(total + 7) / 8);
                len = 8 * (1 + (int)rnd(8));
                if (start + len >= total)
                    len = total - start;
                more = start + len < total;
            }
            if (start == 0 && !more)
                continue; /* a whole datagram, not a fragment */
            /* two letters: overlaps often carry the same bytes */
            for (int b = 0; b < len; b++)
                nd[b] = (uint8_t)('a' + rnd(2));
            struct model_result want = model_feed(&m, pol, start, len, more, nd);
            struct frag4 f = {.id = (uint16_t)iter,
                              .proto = 1,
                              .off = (uint32_t)start,
                              .mf = more,
                              .data = nd,
                              .len = (uint32_t)len};
            int rc = feed4(dd, &f, clock, (uint64_t)k + 1);
            uint32_t ev = vg_defrag_last_events(dd);
            cr_assert_eq(rc, want.complete, "iter %d frag %d (%s)", iter, k,
                         vg_defrag_policy_name(pol));
            cr_assert_eq(!!(ev & VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_INVALID_FRAGMENT)), want.invalid,
                         "iter %d frag %d", iter, k);
            cr_assert_eq(!!(ev & VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_OVERLAP)), want.overlap,
                         "iter %d frag %d", iter, k);
            cr_assert_eq(!!(ev & VG_DEFRAG_EVENT_BIT(VG_DEFRAG_EV_OVERLAP_DIFFERENT_DATA)),
                         want.differ, "iter %d frag %d", iter, k);
            if (rc == 1) {
                cr_assert_eq(out.l3_len, 20 + (uint32_t)m.end);
                cr_assert_eq(memcmp(out.l3 + 20, m.data, (size_t)m.end), 0, "iter %d (%s)", iter,
                             vg_defrag_policy_name(pol));
                completed++;
                done = 1;
            }
        }
        if (!done) {
            /* expire the leftover so that the next datagram starts clean */
            clock += 61 * SECOND_US;
            vg_defrag_expire(dd, clock);
        }
        assert_idle(dd);
        cr_assert_eq(vg_defrag_stats(dd)->too_many_fragments, before.too_many_fragments);
    }
    cr_assert_gt(completed, 1000);
    for (int p = 0; p < VG_DEFRAG_POLICY_COUNT; p++)
        vg_defrag_free(d[p]);
}

/* Hostile bytes: random IPv4 / IPv6 fragments (random offsets, lengths,
 * flags, ids from a small set, extension headers) against small caps. Under
 * ASan this is the memory-safety check; the assertions are the invariants. */
Test(defrag, random_hostile_fragments)
{
    rng_state = 0x0123456789abcdefull;
    const uint64_t memcap = 40 * VG_DEFRAG_CHUNK_SIZE;
    struct vg_defrag *d[VG_DEFRAG_POLICY_COUNT];
    for (int p = 0; p < VG_DEFRAG_POLICY_COUNT; p++)
        d[p] = defrag_with(memcap, 8, 12, (enum vg_defrag_policy)p);
    static uint8_t data[2000];
    uint64_t clock = T0;
    const struct ext6 ext[2] = {{.type = 0, .units = 0}, {.type = 43, .units = 0}};
    for (int iter = 0; iter < 60000; iter++) {
        struct vg_defrag *dd = d[rnd(VG_DEFRAG_POLICY_COUNT)];
        uint32_t len = rnd(4) == 0 ? rnd(2000) : 8 * rnd(64);
        uint32_t off = 8 * rnd(rnd(4) == 0 ? 8192 : 64);
        for (uint32_t b = 0; b < len; b++)
            data[b] = (uint8_t)rnd(3);
        struct vg_packet p;
        uint32_t flen;
        if (rnd(2)) {
            struct frag4 f = {.id = (uint16_t)rnd(6),
                              .proto = (uint8_t)(rnd(2) ? 6 : 17),
                              .off = off,
                              .mf = (int)rnd(2),
                              .data = data,
                              .len = len,
                              .opt_len = 4 * rnd(3)};
            if (f.off == 0 && !f.mf)
                f.mf = 1;
            flen = build4(frame, &f);
        } else {
            struct frag6 f = {.id = rnd(6),
                              .nh = (uint8_t)(rnd(2) ? 6 : 17),
                              .off = off & 0xfff8,
                              .mf = (int)rnd(2),
                              .data = data,
                              .len = len,
                              .ext = ext,
                              .n_ext = rnd(3)};
            if (f.off == 0 && !f.mf)
                f.mf = 1;
            flen = build6(frame, &f);
        }
        /* sometimes damage the bytes after the addresses */
        if (rnd(8) == 0 && flen > 40)
            frame[40 + rnd(flen - 40)] ^= (uint8_t)(1 + rnd(255));
        /* an exact-size copy, so that ASan sees any read past the capture */
        memset(&p, 0, sizeof(p));
        p.caplen = rnd(16) == 0 ? rnd(flen + 1) : flen;
        p.wirelen = flen;
        p.ts_us = clock;
        uint8_t *copy = malloc(p.caplen ? p.caplen : 1);
        cr_assert_not_null(copy);
        memcpy(copy, frame, p.caplen);
        p.data = copy;
        if (vg_decode(&p, VG_LINK_RAW, VG_CSUM_NONE, &dst) != 0 || !(p.flags & VG_PKT_FRAGMENT)) {
            free(copy);
            continue;
        }
        int rc = vg_defrag_packet(dd, &p, clock, &out, &dst);
        free(copy);
        if (rc == 1) {
            cr_assert(out.family == 4 || out.family == 6);
            cr_assert_leq(out.l3_len, 40 + 65535);
            cr_assert_not(out.flags & VG_PKT_FRAGMENT && out.family == 4);
        }
        cr_assert_leq(vg_defrag_stats(dd)->memuse, memcap);
        cr_assert_leq(vg_defrag_stats(dd)->trackers_active, 8);
        clock += rnd(3 * SECOND_US);
    }
    for (int p = 0; p < VG_DEFRAG_POLICY_COUNT; p++) {
        vg_defrag_expire(d[p], clock + 61 * SECOND_US);
        assert_idle(d[p]);
        vg_defrag_free(d[p]);
    }
}
