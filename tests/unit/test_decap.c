/* Tunnel decapsulation: every encapsulation the decoder opens, built by hand
 * from the inside out, with truncations, lying length fields and headers
 * that only look like a tunnel; the tunnel id in the flow key; the tunnel
 * object in EVE records; the decoder configuration keys. Checksums are
 * computed with a plain byte-by-byte RFC 1071 sum. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/event.h"
#include "vigil/flow.h"
#include "vigil/packet.h"
#include "pkt_test_util.h"

#define MAX_FRAME 4096

/* inner (analysed) and outer (tunnel) endpoints */
static const uint8_t IN4_C[4] = {10, 0, 0, 1};
static const uint8_t IN4_S[4] = {10, 0, 0, 2};
static const uint8_t OUT4_A[4] = {192, 0, 2, 1};
static const uint8_t OUT4_B[4] = {198, 51, 100, 2};
static const uint8_t IN6_C[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t IN6_S[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t OUT6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t OUT6_B[16] = {0x20, 0x01, 0x0d, 0xb8, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t PAYLOAD[] = "GET /tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp";
#define PAYLOAD_LEN (sizeof(PAYLOAD) - 1)
#define CPORT       40000
#define SPORT       8443

/* ---- builders: each writes a header followed by the n bytes of in ---- */

/* memmove that accepts a NULL source for an empty move. */
static void move(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 0)
        memmove(dst, src, n);
}

/* TCP (proto 6) or UDP (17) with a correct checksum over the pseudo header. */
static size_t l4(uint8_t *out, int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                 uint16_t sport, uint16_t dport, const uint8_t *in, size_t n)
{
    size_t hlen = proto == 6 ? 20 : 8;
    memset(out, 0, hlen);
    put16(out, sport);
    put16(out + 2, dport);
    if (proto == 6) {
        put32(out + 4, 1000);
        put32(out + 8, 2000);
        out[12] = 5 << 4;
        out[13] = 0x18;
        put16(out + 14, 65535);
    } else {
        put16(out + 4, (uint16_t)(8 + n));
    }
    if (n > 0)
        memcpy(out + hlen, in, n);
    size_t len = hlen + n;
    size_t alen = family == 4 ? 4 : 16;
    uint32_t s = ref_sum(src, alen, ref_sum(dst, alen, 0)) + proto + (uint32_t)len;
    uint16_t c = ref_finish(ref_sum(out, len, s));
    if (proto == 17 && c == 0)
        c = 0xffff;
    put16(out + (proto == 6 ? 16 : 6), c);
    return len;
}

static size_t ip4(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                  const uint8_t *in, size_t n)
{
    move(out + 20, in, n);
    memset(out, 0, 20);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)(20 + n));
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, src, 4);
    memcpy(out + 16, dst, 4);
    put16(out + 10, ref_finish(ref_sum(out, 20, 0)));
    return 20 + n;
}

static size_t ip6(uint8_t *out, const uint8_t *src, const uint8_t *dst, uint8_t nh,
                  const uint8_t *in, size_t n)
{
    move(out + 40, in, n);
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t)n);
    out[6] = nh;
    out[7] = 64;
    memcpy(out + 8, src, 16);
    memcpy(out + 24, dst, 16);
    return 40 + n;
}

/* Ethernet with ntags 802.1Q/802.1ad tags (outer first). */
static size_t eth(uint8_t *out, const uint16_t *tpid, const uint16_t *vid, int ntags, uint16_t type,
                  const uint8_t *in, size_t n)
{
    size_t hlen = 14 + 4 * (size_t)ntags;
    move(out + hlen, in, n);
    static const uint8_t macs[12] = {2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1};
    memcpy(out, macs, 12);
    size_t off = 12;
    for (int i = 0; i < ntags; i++) {
        put16(out + off, tpid[i]);
        put16(out + off + 2, vid[i]);
        off += 4;
    }
    put16(out + off, type);
    return hlen + n;
}

/* GRE: flags as in the header's first 16 bits; optional words appear when
 * their flag is set (checksum word zero). */
static size_t gre(uint8_t *out, uint16_t flags, uint16_t proto, uint32_t key, const uint8_t *in,
                  size_t n)
{
    size_t hlen =
        4 + ((flags & 0x8000) ? 4 : 0) + ((flags & 0x2000) ? 4 : 0) + ((flags & 0x1000) ? 4 : 0);
    move(out + hlen, in, n);
    memset(out, 0, hlen);
    put16(out, flags);
    put16(out + 2, proto);
    size_t o = 4 + ((flags & 0x8000) ? 4 : 0);
    if (flags & 0x2000) {
        put32(out + o, key);
        o += 4;
    }
    if (flags & 0x1000)
        put32(out + o, 77);
    return hlen + n;
}

static size_t erspan2(uint8_t *out, unsigned version, uint16_t session, const uint8_t *in, size_t n)
{
    move(out + 8, in, n);
    memset(out, 0, 8);
    put16(out, (uint16_t)(version << 12 | 10)); /* VLAN 10 */
    put16(out + 2, session & 0x3ff);
    put32(out + 4, 5);
    return 8 + n;
}

static size_t erspan3(uint8_t *out, unsigned version, uint16_t session, unsigned frame_type,
                      bool sub, const uint8_t *in, size_t n)
{
    size_t hlen = 12 + (sub ? 8 : 0);
    move(out + hlen, in, n);
    memset(out, 0, hlen);
    put16(out, (uint16_t)(version << 12 | 20));
    put16(out + 2, session & 0x3ff);
    put32(out + 4, 0x12345678); /* timestamp */
    put16(out + 10, (uint16_t)((frame_type & 0x1f) << 10 | (3u << 4) | (sub ? 1 : 0)));
    if (sub)
        put32(out + 12, 0x04000000); /* platform id 1 */
    return hlen + n;
}

static size_t vxlan(uint8_t *out, uint8_t flags, uint32_t vni, const uint8_t *in, size_t n)
{
    move(out + 8, in, n);
    memset(out, 0, 8);
    out[0] = flags;
    put32(out + 4, vni << 8);
    return 8 + n;
}

/* Geneve with opt_words 4-byte words of options (given whole, TLVs and all). */
static size_t geneve(uint8_t *out, unsigned version, uint16_t proto, uint32_t vni,
                     const uint8_t *opts, unsigned opt_words, const uint8_t *in, size_t n)
{
    size_t hlen = 8 + 4 * (size_t)opt_words;
    move(out + hlen, in, n);
    memset(out, 0, 8);
    out[0] = (uint8_t)(version << 6 | (opt_words & 0x3f));
    put16(out + 2, proto);
    put32(out + 4, vni << 8);
    if (opt_words > 0)
        memcpy(out + 8, opts, 4 * (size_t)opt_words);
    return hlen + n;
}

/* nlabels MPLS entries, the last with bottom of stack when bos. */
static size_t mpls(uint8_t *out, const uint32_t *labels, int nlabels, bool bos, const uint8_t *in,
                   size_t n)
{
    move(out + 4 * (size_t)nlabels, in, n);
    for (int i = 0; i < nlabels; i++)
        put32(out + 4 * i, labels[i] << 12 | ((bos && i == nlabels - 1) ? 0x100u : 0) | 64u);
    return 4 * (size_t)nlabels + n;
}

static size_t pppoe(uint8_t *out, uint8_t code, uint16_t session, uint16_t ppp_proto,
                    const uint8_t *in, size_t n)
{
    move(out + 8, in, n);
    out[0] = 0x11;
    out[1] = code;
    put16(out + 2, session);
    put16(out + 4, (uint16_t)(2 + n));
    put16(out + 6, ppp_proto);
    return 8 + n;
}

/* ---- inner packets ---- */

/* IPv4 TCP client -> server with PAYLOAD. */
static size_t inner4(uint8_t *out)
{
    uint8_t seg[MAX_FRAME];
    size_t n = l4(seg, 4, IN4_C, IN4_S, 6, CPORT, SPORT, PAYLOAD, PAYLOAD_LEN);
    return ip4(out, IN4_C, IN4_S, 6, seg, n);
}

static size_t inner6(uint8_t *out)
{
    uint8_t seg[MAX_FRAME];
    size_t n = l4(seg, 6, IN6_C, IN6_S, 6, CPORT, SPORT, PAYLOAD, PAYLOAD_LEN);
    return ip6(out, IN6_C, IN6_S, 6, seg, n);
}

/* Ethernet frame around the inner IPv4 packet. */
static size_t inner_eth4(uint8_t *out)
{
    size_t n = inner4(out);
    return eth(out, NULL, NULL, 0, 0x0800, out, n);
}

/* Outer Ethernet / IPv4 (OUT4_A -> OUT4_B) / proto around in. */
static size_t outer4(uint8_t *out, uint8_t proto, const uint8_t *in, size_t n)
{
    n = ip4(out, OUT4_A, OUT4_B, proto, in, n);
    return eth(out, NULL, NULL, 0, 0x0800, out, n);
}

/* Outer Ethernet / IPv4 / UDP sport -> dport around in. */
static size_t outer4_udp(uint8_t *out, uint16_t sport, uint16_t dport, const uint8_t *in, size_t n)
{
    uint8_t seg[MAX_FRAME];
    n = l4(seg, 4, OUT4_A, OUT4_B, 17, sport, dport, in, n);
    return outer4(out, 17, seg, n);
}

/* ---- decoding and checking ---- */

static int decode_cfg(const uint8_t *b, uint32_t caplen, uint32_t wirelen,
                      const struct vg_decode_config *dc, struct vg_packet *p,
                      struct vg_decode_stats *st)
{
    memset(p, 0xa5, sizeof(*p)); /* decode must not rely on a cleared packet */
    p->data = b;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->ts_us = 1;
    p->pcap_cnt = 1;
    return vg_decode_ex(p, VG_LINK_ETHERNET, dc, st);
}

/* Default configuration, checksums enforced: every frame here is valid. */
static int decode(const uint8_t *b, size_t len, struct vg_packet *p, struct vg_decode_stats *st)
{
    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.csum = VG_CSUM_ALL;
    return decode_cfg(b, (uint32_t)len, (uint32_t)len, &dc, p, st);
}

static uint64_t events_total(const struct vg_decode_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < VG_DEC_EVENT_COUNT; i++)
        n += st->events[i];
    return n;
}

static void assert_malformed(int rc, const struct vg_decode_stats *st, enum vg_decode_event ev)
{
    cr_assert_eq(rc, -1);
    cr_assert_eq(st->events[ev], 1, "expected %s", vg_decode_event_name(ev));
    cr_assert_eq(events_total(st), 1);
    cr_assert_eq(st->invalid, 1);
}

/* The inner IPv4 TCP packet was analysed, inside the frame b. */
static void assert_inner4(const struct vg_packet *p, const uint8_t *b, size_t len)
{
    cr_assert_eq(p->family, 4);
    cr_assert_eq(p->proto, 6);
    cr_assert_eq(memcmp(p->src.b, IN4_C, 4), 0);
    cr_assert_eq(memcmp(p->dst.b, IN4_S, 4), 0);
    cr_assert_eq(p->sport, CPORT);
    cr_assert_eq(p->dport, SPORT);
    cr_assert(p->flags & VG_PKT_HAS_L4);
    cr_assert_eq(p->payload_len, PAYLOAD_LEN);
    cr_assert_eq(memcmp(p->payload, PAYLOAD, PAYLOAD_LEN), 0);
    cr_assert_eq(p->payload + p->payload_len, b + len);
}

static void assert_inner6(const struct vg_packet *p)
{
    cr_assert_eq(p->family, 6);
    cr_assert_eq(p->proto, 6);
    cr_assert_eq(memcmp(p->src.b, IN6_C, 16), 0);
    cr_assert_eq(memcmp(p->dst.b, IN6_S, 16), 0);
    cr_assert_eq(p->sport, CPORT);
    cr_assert_eq(p->dport, SPORT);
    cr_assert_eq(p->payload_len, PAYLOAD_LEN);
    cr_assert_eq(memcmp(p->payload, PAYLOAD, PAYLOAD_LEN), 0);
}

static void assert_tunnel(const struct vg_packet *p, enum vg_tunnel_type type, uint32_t id,
                          uint8_t depth, uint8_t outer_family, uint8_t outer_proto)
{
    cr_assert_eq(p->tunnel_type, type, "tunnel %s, expected %s",
                 vg_tunnel_type_name((enum vg_tunnel_type)p->tunnel_type),
                 vg_tunnel_type_name(type));
    cr_assert_eq(p->tunnel_id, id);
    cr_assert_eq(p->encap_depth, depth);
    cr_assert_eq(p->tunnel_family, outer_family);
    cr_assert_eq(p->tunnel_proto, outer_proto);
    if (outer_family == 4) {
        cr_assert_eq(memcmp(p->tunnel_src.b, OUT4_A, 4), 0);
        cr_assert_eq(memcmp(p->tunnel_dst.b, OUT4_B, 4), 0);
    } else if (outer_family == 6) {
        cr_assert_eq(memcmp(p->tunnel_src.b, OUT6_A, 16), 0);
        cr_assert_eq(memcmp(p->tunnel_dst.b, OUT6_B, 16), 0);
    }
}

/* ---- GRE and ERSPAN ---- */

Test(decap, gre_ipv4_plain_and_with_key)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner4(f);
    n = gre(f, 0, 0x0800, 0, f, n);
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_GRE, 0, 1, 4, 47);
    cr_assert_eq(p.l3, f + 14 + 20 + 4);
    cr_assert_eq(st.gre, 1);
    cr_assert_eq(st.ipv4, 2);
    cr_assert_eq(st.tcp, 1);
    cr_assert_eq(st.other_ip_proto, 0);
    cr_assert_eq(events_total(&st), 0);

    /* checksum, key and sequence words: the key is the tunnel id */
    n = inner4(f);
    n = gre(f, 0x8000 | 0x2000 | 0x1000, 0x0800, 0xdeadbeef, f, n);
    n = outer4(f, 47, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_GRE, 0xdeadbeef, 1, 4, 47);
    cr_assert_eq(p.l3, f + 14 + 20 + 16);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, gre_ipv6_inner_and_outer)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner6(f);
    n = gre(f, 0x2000, 0x86dd, 7, f, n);
    n = ip6(f, OUT6_A, OUT6_B, 47, f, n);
    n = eth(f, NULL, NULL, 0, 0x86dd, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner6(&p);
    assert_tunnel(&p, VG_TUNNEL_GRE, 7, 1, 6, 47);
    cr_assert_eq(st.ipv6, 2);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, gre_transparent_ethernet_bridging)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = gre(f, 0x2000, 0x6558, 0x123456, f, n); /* NVGRE: VSID in the key */
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_GRE, 0x123456, 1, 4, 47);
    cr_assert_eq(st.ethernet, 1); /* the capture's link layer only */
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, gre_key_flag_but_short)
{
    /* K and S flags announce 12 bytes; the datagram holds 6 of GRE. */
    uint8_t g[6] = {0x30, 0x00, 0x08, 0x00, 0, 1};
    uint8_t f[MAX_FRAME];
    size_t n = outer4(f, 47, g, sizeof(g));
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_GRE_PKT_TOO_SMALL);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_GRE_PKT_TOO_SMALL), "gre.pkt_too_small");

    /* every GRE length short of its own base header */
    for (size_t len = 0; len < 4; len++) {
        memset(&st, 0, sizeof(st));
        n = outer4(f, 47, g, len);
        assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_GRE_PKT_TOO_SMALL);
    }
}

Test(decap, gre_versions_and_flags)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};

    /* version 2 does not exist */
    size_t n = inner4(f);
    n = gre(f, 0x0002, 0x0800, 0, f, n);
    n = outer4(f, 47, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_GRE_WRONG_VERSION);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_GRE_WRONG_VERSION), "gre.wrong_version");

    /* RFC 1701 routing, strict source route, recursion: discarded */
    uint16_t bad[] = {0x4000, 0x0800, 0x0100};
    for (size_t i = 0; i < 3; i++) {
        memset(&st, 0, sizeof(st));
        n = inner4(f);
        n = gre(f, bad[i], 0x0800, 0, f, n);
        n = outer4(f, 47, f, n);
        assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_GRE_VERSION0_FLAGS);
    }

    /* version 1 (PPTP): counted, left as the GRE packet it is */
    memset(&st, 0, sizeof(st));
    uint8_t pptp[16] = {0x30, 0x81, 0x88, 0x0b, 0, 4, 0, 9, 0, 0, 0, 1, 0xff, 0x03, 0x00, 0x21};
    n = outer4(f, 47, pptp, sizeof(pptp));
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.proto, 47);
    cr_assert_eq(memcmp(p.src.b, OUT4_A, 4), 0);
    cr_assert_eq(p.tunnel_type, VG_TUNNEL_NONE);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(p.payload_len, sizeof(pptp));
    cr_assert_eq(st.gre_pptp, 1);
    cr_assert_eq(st.other_ip_proto, 1);
    cr_assert_eq(events_total(&st), 0);

    /* a protocol type we do not open (WCCP): the GRE packet itself */
    memset(&st, 0, sizeof(st));
    n = inner4(f);
    n = gre(f, 0, 0x883e, 0, f, n);
    n = outer4(f, 47, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.proto, 47);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.gre, 1);
    cr_assert_eq(st.other_ip_proto, 1);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, erspan_type1)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = gre(f, 0, 0x88be, 0, f, n);
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_ERSPAN1, 0, 1, 4, 47);
    cr_assert_eq(st.erspan, 1);
    cr_assert_eq(st.gre, 1);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, erspan_type2)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = erspan2(f, 1, 321, f, n);
    n = gre(f, 0x1000, 0x88be, 0, f, n);
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_ERSPAN2, 321, 1, 4, 47);
    cr_assert_eq(p.vlan_count, 0); /* the header's VLAN field is not a tag */
    cr_assert_eq(st.erspan, 1);
    cr_assert_eq(events_total(&st), 0);

    /* version 2 in a type II header */
    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = erspan2(f, 2, 321, f, n);
    n = gre(f, 0x1000, 0x88be, 0, f, n);
    n = outer4(f, 47, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_ERSPAN_UNSUPPORTED_VERSION);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_ERSPAN_UNSUPPORTED_VERSION),
                     "erspan.unsupported_version");

    /* a header cut short inside the GRE payload, at every length */
    for (size_t len = 0; len < 8; len++) {
        uint8_t h[8];
        erspan2(h, 1, 321, NULL, 0);
        memset(&st, 0, sizeof(st));
        n = gre(f, 0x1000, 0x88be, 0, h, len);
        n = outer4(f, 47, f, n);
        assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_ERSPAN_HEADER_TOO_SMALL);
    }
}

Test(decap, erspan_type3_with_and_without_subheader)
{
    for (int sub = 0; sub < 2; sub++) {
        uint8_t f[MAX_FRAME];
        size_t n = inner_eth4(f);
        n = erspan3(f, 2, 1000, 0, sub, f, n);
        n = gre(f, 0x1000, 0x22eb, 0, f, n);
        n = outer4(f, 47, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0, "sub-header %d", sub);
        assert_inner4(&p, f, n);
        assert_tunnel(&p, VG_TUNNEL_ERSPAN3, 1000, 1, 4, 47);
        cr_assert_eq(p.l3, f + 14 + 20 + 8 + 12 + (sub ? 8 : 0) + 14);
        cr_assert_eq(st.erspan, 1);
        cr_assert_eq(events_total(&st), 0);
    }
}

Test(decap, erspan_type3_o_bit_without_subheader)
{
    /* O bit set, but the datagram ends right after the 12-byte header */
    uint8_t h[20];
    erspan3(h, 2, 5, 0, true, NULL, 0);
    uint8_t f[MAX_FRAME];
    for (size_t len = 0; len <= 12; len++) {
        size_t n = gre(f, 0x1000, 0x22eb, 0, h, len);
        n = outer4(f, 47, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_ERSPAN_HEADER_TOO_SMALL);
    }
}

Test(decap, erspan_type3_ip_frame_and_unknown_frame_type)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner4(f);
    n = erspan3(f, 2, 9, 2, false, f, n); /* frame type 2: an IP packet */
    n = gre(f, 0x1000, 0x22eb, 0, f, n);
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_ERSPAN3, 9, 1, 4, 47);

    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = erspan3(f, 2, 9, 7, false, f, n);
    n = gre(f, 0x1000, 0x22eb, 0, f, n);
    n = outer4(f, 47, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_ERSPAN_UNKNOWN_FRAME_TYPE);

    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = erspan3(f, 1, 9, 0, false, f, n);
    n = gre(f, 0x1000, 0x22eb, 0, f, n);
    n = outer4(f, 47, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_ERSPAN_UNSUPPORTED_VERSION);
}

/* ---- VXLAN and Geneve ---- */

Test(decap, vxlan)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = vxlan(f, 0x08, 0xabcdef, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_VXLAN, 0xabcdef, 1, 4, 17);
    cr_assert_eq(p.tunnel_sport, 51000);
    cr_assert_eq(p.tunnel_dport, 4789);
    cr_assert_eq(st.vxlan, 1);
    cr_assert_eq(st.udp, 1);
    cr_assert_eq(st.tcp, 1);
    cr_assert_eq(events_total(&st), 0);
}

/* Outer checksums are counted; -k all judges the analysed packet's own. */
Test(decap, outer_checksum_counted_inner_judged)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = vxlan(f, 0x08, 1, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    f[14 + 20 + 6] ^= 0x5a; /* outer UDP checksum */
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    cr_assert_eq(p.flags & (VG_PKT_IPV4_CSUM_BAD | VG_PKT_L4_CSUM_BAD), 0);
    cr_assert_eq(st.events[VG_DEC_UDP_BAD_CHECKSUM], 1);
    cr_assert_eq(st.csum_dropped, 0);

    /* the inner TCP checksum wrong: dropped under -k all */
    n = inner_eth4(f);
    f[14 + 20 + 16] ^= 0x5a;
    n = vxlan(f, 0x08, 1, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode(f, n, &p, &st), -1);
    cr_assert_eq(st.events[VG_DEC_TCP_BAD_CHECKSUM], 1);
    cr_assert_eq(st.csum_dropped, 1);
}

Test(decap, vxlan_i_flag_clear_is_plain_udp)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = vxlan(f, 0x00, 5, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.dport, 4789);
    cr_assert_eq(memcmp(p.src.b, OUT4_A, 4), 0);
    cr_assert_eq(p.tunnel_type, VG_TUNNEL_NONE);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.vxlan, 0);
    cr_assert_eq(st.invalid, 0);
    cr_assert_eq(st.events[VG_DEC_VXLAN_INVALID_HEADER], 1);
    cr_assert_eq(events_total(&st), 1);

    /* reserved byte set, or a payload too short for VXLAN + Ethernet */
    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = vxlan(f, 0x08, 5, f, n);
    f[7] = 1;
    n = outer4_udp(f, 51000, 4789, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_VXLAN_INVALID_HEADER], 1);
    for (size_t len = 0; len < 22; len++) {
        uint8_t h[MAX_FRAME];
        size_t hn = inner_eth4(h);
        vxlan(h, 0x08, 5, h, hn);
        memset(&st, 0, sizeof(st));
        n = outer4_udp(f, 51000, 4789, h, len);
        cr_assert_eq(decode(f, n, &p, &st), 0, "len %zu", len);
        cr_assert_eq(p.proto, 17);
        cr_assert_eq(p.payload_len, len);
        cr_assert_eq(st.events[VG_DEC_VXLAN_INVALID_HEADER], 1);
    }
}

Test(decap, vxlan_unknown_payload_type_and_arp)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner4(f);
    n = eth(f, NULL, NULL, 0, 0x1234, f, n);
    n = vxlan(f, 0x08, 5, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_VXLAN_UNKNOWN_PAYLOAD_TYPE], 1);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_VXLAN_UNKNOWN_PAYLOAD_TYPE),
                     "vxlan.unknown_payload_type");

    /* ARP is VXLAN, but not IP */
    memset(&st, 0, sizeof(st));
    uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    n = eth(f, NULL, NULL, 0, 0x0806, arp, sizeof(arp));
    n = vxlan(f, 0x08, 5, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    cr_assert_eq(decode(f, n, &p, &st), -1);
    cr_assert_eq(st.vxlan, 1);
    cr_assert_eq(st.non_ip, 1);
    cr_assert_eq(st.invalid, 0);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, vxlan_ports_configurable_and_disabled)
{
    uint8_t f[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = vxlan(f, 0x08, 42, f, n);
    n = outer4_udp(f, 51000, 8472, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    /* 8472 is not a default port */
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(events_total(&st), 0);

    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.vxlan_ports[dc.n_vxlan_ports++] = 8472;
    cr_assert_eq(decode_cfg(f, (uint32_t)n, (uint32_t)n, &dc, &p, &st), 0);
    assert_tunnel(&p, VG_TUNNEL_VXLAN, 42, 1, 4, 17);

    dc.vxlan_enabled = false;
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode_cfg(f, (uint32_t)n, (uint32_t)n, &dc, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(p.dport, 8472);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, geneve_ethernet_ipv4_ipv6_and_options)
{
    /* one option TLV of 4 + 4 bytes, one of 4 bytes: 3 words */
    const uint8_t opts[12] = {0x01, 0x02, 0x03, 0x01, 0xaa, 0xbb,
                              0xcc, 0xdd, 0x01, 0x02, 0x04, 0x00};
    struct {
        uint16_t proto;
        unsigned words;
    } cases[] = {{0x6558, 0}, {0x6558, 3}, {0x0800, 0}, {0x86dd, 3}};
    for (size_t i = 0; i < VG_ARRAY_SIZE(cases); i++) {
        uint8_t f[MAX_FRAME];
        size_t n = cases[i].proto == 0x6558   ? inner_eth4(f)
                   : cases[i].proto == 0x0800 ? inner4(f)
                                              : inner6(f);
        n = geneve(f, 0, cases[i].proto, 0x10203, opts, cases[i].words, f, n);
        n = outer4_udp(f, 52000, 6081, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0, "case %zu", i);
        if (cases[i].proto == 0x86dd)
            assert_inner6(&p);
        else
            assert_inner4(&p, f, n);
        assert_tunnel(&p, VG_TUNNEL_GENEVE, 0x10203, 1, 4, 17);
        cr_assert_eq(st.geneve, 1);
        cr_assert_eq(events_total(&st), 0);
    }
}

Test(decap, geneve_invalid_is_plain_udp)
{
    const uint8_t opts[8] = {0x01, 0x02, 0x03, 0x03, 0, 0, 0, 0}; /* TLV claims 16 bytes in 8 */
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    uint8_t f[MAX_FRAME];

    /* options length beyond the datagram: 63 words announced */
    size_t n = inner_eth4(f);
    n = geneve(f, 0, 0x6558, 1, NULL, 0, f, n);
    f[0] = 63;
    n = outer4_udp(f, 52000, 6081, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(p.dport, 6081);
    cr_assert_eq(st.events[VG_DEC_GENEVE_INVALID_HEADER], 1);
    cr_assert_eq(st.invalid, 0);

    /* version 1 */
    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = geneve(f, 1, 0x6558, 1, NULL, 0, f, n);
    n = outer4_udp(f, 52000, 6081, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_GENEVE_INVALID_HEADER], 1);

    /* an option TLV running past the options */
    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = geneve(f, 0, 0x6558, 1, opts, 2, f, n);
    n = outer4_udp(f, 52000, 6081, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_GENEVE_INVALID_HEADER], 1);

    /* a protocol type Geneve does not carry here */
    memset(&st, 0, sizeof(st));
    n = inner_eth4(f);
    n = geneve(f, 0, 0x8847, 1, NULL, 0, f, n);
    n = outer4_udp(f, 52000, 6081, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_GENEVE_UNKNOWN_PAYLOAD_TYPE], 1);
    cr_assert_eq(events_total(&st), 1);
}

/* ---- IP in IP and Teredo ---- */

Test(decap, ip_in_ip_all_four)
{
    struct vg_packet p;
    uint8_t f[MAX_FRAME];
    for (int outer = 4; outer <= 6; outer += 2) {
        for (int inner = 4; inner <= 6; inner += 2) {
            struct vg_decode_stats st = {0};
            size_t n = inner == 4 ? inner4(f) : inner6(f);
            uint8_t proto = inner == 4 ? 4 : 41;
            if (outer == 4) {
                n = outer4(f, proto, f, n);
            } else {
                n = ip6(f, OUT6_A, OUT6_B, proto, f, n);
                n = eth(f, NULL, NULL, 0, 0x86dd, f, n);
            }
            cr_assert_eq(decode(f, n, &p, &st), 0, "%d in %d", inner, outer);
            if (inner == 4)
                assert_inner4(&p, f, n);
            else
                assert_inner6(&p);
            assert_tunnel(&p, VG_TUNNEL_IPIP, 0, 1, (uint8_t)outer, proto);
            cr_assert_eq(st.ipv4_in_ipv4, outer == 4 && inner == 4);
            cr_assert_eq(st.ipv6_in_ipv4, outer == 4 && inner == 6);
            cr_assert_eq(st.ipv4_in_ipv6, outer == 6 && inner == 4);
            cr_assert_eq(st.ipv6_in_ipv6, outer == 6 && inner == 6);
            cr_assert_eq(events_total(&st), 0);
        }
    }

    /* protocol 4 announcing IPv4 but carrying IPv6 */
    struct vg_decode_stats st = {0};
    size_t n = inner6(f);
    n = outer4(f, 4, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_IPV4_BAD_VERSION);
}

Test(decap, inner_length_cannot_exceed_tunnel)
{
    /* The inner IPv4 total length claims 8 more bytes than the outer datagram
     * holds; the frame has them (Ethernet trailer), the tunnel does not. */
    uint8_t f[MAX_FRAME];
    size_t n = inner4(f);
    put16(f + 2, (uint16_t)(n + 8));
    put16(f + 10, 0);
    put16(f + 10, ref_finish(ref_sum(f, 20, 0)));
    n = outer4(f, 4, f, n);
    memset(f + n, 0, 8);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n + 8, &p, &st), &st, VG_DEC_IPV4_TRUNCATED);
}

/* Teredo around the inner IPv6 packet: optional authentication header
 * (id_len, au_len) and origin indication. */
static size_t teredo_frame(uint8_t *f, bool auth, bool origin, int plen_delta, uint16_t sport,
                           uint16_t dport)
{
    uint8_t t[MAX_FRAME];
    size_t o = 0;
    if (auth) {
        t[o++] = 0;
        t[o++] = 1;
        t[o++] = 3; /* client id length */
        t[o++] = 2; /* authentication value length */
        memset(t + o, 0x5a, 3 + 2 + 8 + 1);
        o += 3 + 2 + 8 + 1;
    }
    if (origin) {
        const uint8_t oi[8] = {0, 0, 0xf2, 0x3f, 0x3f, 0xff, 0xfd, 0xfe};
        memcpy(t + o, oi, 8);
        o += 8;
    }
    size_t n = inner6(t + o);
    put16(t + o + 4, (uint16_t)(n - 40 + (size_t)(long)plen_delta));
    return outer4_udp(f, sport, dport, t, o + n);
}

Test(decap, teredo)
{
    for (int variant = 0; variant < 4; variant++) {
        bool auth = variant & 1, origin = variant & 2;
        uint8_t f[MAX_FRAME];
        size_t n = teredo_frame(f, auth, origin, 0, 50000, 3544);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0, "auth %d origin %d", auth, origin);
        assert_inner6(&p);
        assert_tunnel(&p, VG_TUNNEL_TEREDO, 0, 1, 4, 17);
        cr_assert_eq(st.teredo, 1);
        cr_assert_eq(events_total(&st), 0);
    }
    /* from the server's side: the source port is Teredo's */
    uint8_t f[MAX_FRAME];
    size_t n = teredo_frame(f, false, false, 0, 3544, 50000);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.tunnel_type, VG_TUNNEL_TEREDO);
}

Test(decap, teredo_wrong_payload_length_is_plain_udp)
{
    int deltas[] = {-1, 1, 8};
    for (size_t i = 0; i < VG_ARRAY_SIZE(deltas); i++) {
        uint8_t f[MAX_FRAME];
        size_t n = teredo_frame(f, false, i == 2, deltas[i], 50000, 3544);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0);
        cr_assert_eq(p.proto, 17);
        cr_assert_eq(p.family, 4);
        cr_assert_eq(p.encap_depth, 0);
        cr_assert_eq(st.teredo, 0);
        cr_assert_eq(st.invalid, 0);
        cr_assert_eq(st.events[VG_DEC_TEREDO_INVALID], 1);
        cr_assert_eq(events_total(&st), 1);
    }
    /* random bytes on the port, and Teredo switched off */
    uint8_t junk[60];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    uint8_t f[MAX_FRAME];
    size_t n = outer4_udp(f, 50000, 3544, junk, sizeof(junk));
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(st.events[VG_DEC_TEREDO_INVALID], 1);

    n = teredo_frame(f, false, false, 0, 50000, 3544);
    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.teredo_enabled = false;
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode_cfg(f, (uint32_t)n, (uint32_t)n, &dc, &p, &st), 0);
    cr_assert_eq(p.encap_depth, 0);
    cr_assert_eq(events_total(&st), 0);
}

/* ---- MPLS ---- */

Test(decap, mpls_label_stacks)
{
    const uint32_t labels[] = {16, 17, 18};
    for (int nl = 1; nl <= 3; nl++) {
        uint8_t f[MAX_FRAME];
        size_t n = inner4(f);
        n = mpls(f, labels, nl, true, f, n);
        n = eth(f, NULL, NULL, 0, 0x8847, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0, "%d labels", nl);
        assert_inner4(&p, f, n);
        assert_tunnel(&p, VG_TUNNEL_MPLS, 0, 1, 0, 0);
        cr_assert_eq(p.l3, f + 14 + 4 * nl);
        cr_assert_eq(st.mpls, 1);
        cr_assert_eq(events_total(&st), 0);
    }
    /* IPv6 by its version nibble, and by the IPv6 explicit null label */
    const uint32_t v6null[] = {2};
    for (int i = 0; i < 2; i++) {
        uint8_t f[MAX_FRAME];
        size_t n = inner6(f);
        n = mpls(f, i ? v6null : labels, 1, true, f, n);
        n = eth(f, NULL, NULL, 0, 0x8847, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0);
        assert_inner6(&p);
    }
}

Test(decap, mpls_without_bottom_of_stack)
{
    /* Labels all the way to the end of the frame, none with S set. */
    const uint32_t labels[] = {16, 17, 18, 19};
    uint8_t f[MAX_FRAME];
    size_t n = mpls(f, labels, 4, false, NULL, 0);
    n = eth(f, NULL, NULL, 0, 0x8847, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_MPLS_HEADER_TOO_SMALL);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_MPLS_HEADER_TOO_SMALL), "mpls.header_too_small");

    /* a stack that stops mid-entry, and one with nothing after it */
    for (size_t cut = 1; cut < 4; cut++) {
        memset(&st, 0, sizeof(st));
        assert_malformed(decode(f, 14 + cut, &p, &st), &st, VG_DEC_MPLS_HEADER_TOO_SMALL);
    }
    n = mpls(f, labels, 1, true, NULL, 0);
    n = eth(f, NULL, NULL, 0, 0x8847, f, n);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_MPLS_PKT_TOO_SMALL);
}

Test(decap, mpls_bad_labels_and_payloads)
{
    const uint32_t implicit_null[] = {3};
    const uint32_t label[] = {100};
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    size_t n = inner4(f);
    n = mpls(f, implicit_null, 1, true, f, n);
    n = eth(f, NULL, NULL, 0, 0x8847, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_MPLS_BAD_LABEL_IMPLICIT_NULL);

    /* an Ethernet pseudowire with its control word: unknown unless configured */
    n = inner_eth4(f);
    move(f + 4, f, n);
    memset(f, 0, 4);
    n = mpls(f, label, 1, true, f, n + 4);
    n = eth(f, NULL, NULL, 0, 0x8847, f, n);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_MPLS_UNKNOWN_PAYLOAD_TYPE);

    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.mpls_ethernet_pw = true;
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode_cfg(f, (uint32_t)n, (uint32_t)n, &dc, &p, &st), 0);
    assert_inner4(&p, f, n);
    cr_assert_eq(p.tunnel_type, VG_TUNNEL_MPLS);
    cr_assert_eq(events_total(&st), 0);
}

Test(decap, mpls_in_gre)
{
    const uint32_t label[] = {200};
    uint8_t f[MAX_FRAME];
    size_t n = inner4(f);
    n = mpls(f, label, 1, true, f, n);
    n = gre(f, 0x2000, 0x8847, 55, f, n);
    n = outer4(f, 47, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    /* MPLS has no id of its own: the GRE key stays, and so does GRE's carrier */
    assert_tunnel(&p, VG_TUNNEL_MPLS, 55, 2, 4, 47);
}

/* ---- PPPoE ---- */

Test(decap, pppoe_session_ipv4_ipv6)
{
    for (int v6 = 0; v6 < 2; v6++) {
        uint8_t f[MAX_FRAME];
        size_t n = v6 ? inner6(f) : inner4(f);
        n = pppoe(f, 0, 0x1234, v6 ? 0x0057 : 0x0021, f, n);
        n = eth(f, NULL, NULL, 0, 0x8864, f, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, &p, &st), 0);
        if (v6)
            assert_inner6(&p);
        else
            assert_inner4(&p, f, n);
        assert_tunnel(&p, VG_TUNNEL_PPPOE, 0x1234, 1, 0, 0);
        cr_assert_eq(st.pppoe, 1);
        cr_assert_eq(events_total(&st), 0);
    }
}

Test(decap, pppoe_control_discovery_and_lies)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};

    /* LCP: not IP, not an error */
    uint8_t lcp[8] = {1, 1, 0, 8, 1, 4, 5, 0xd4};
    size_t n = pppoe(f, 0, 1, 0xc021, lcp, sizeof(lcp));
    n = eth(f, NULL, NULL, 0, 0x8864, f, n);
    cr_assert_eq(decode(f, n, &p, &st), -1);
    cr_assert_eq(st.non_ip, 1);
    cr_assert_eq(st.invalid, 0);

    /* discovery stage (PADI) */
    memset(&st, 0, sizeof(st));
    uint8_t padi[10] = {0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 0};
    n = eth(f, NULL, NULL, 0, 0x8863, padi, sizeof(padi));
    cr_assert_eq(decode(f, n, &p, &st), -1);
    cr_assert_eq(st.pppoe_discovery, 1);
    cr_assert_eq(st.non_ip, 1);
    cr_assert_eq(events_total(&st), 0);

    /* session stage with a discovery code */
    memset(&st, 0, sizeof(st));
    n = inner4(f);
    n = pppoe(f, 0x07, 1, 0x0021, f, n);
    n = eth(f, NULL, NULL, 0, 0x8864, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_PPPOE_WRONG_CODE);

    /* a wrong version/type byte */
    memset(&st, 0, sizeof(st));
    f[14] = 0x21;
    f[15] = 0;
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_PPPOE_WRONG_VERSION);

    /* a length beyond the frame */
    memset(&st, 0, sizeof(st));
    n = inner4(f);
    n = pppoe(f, 0, 1, 0x0021, f, n);
    put16(f + 4, (uint16_t)(n + 1));
    n = eth(f, NULL, NULL, 0, 0x8864, f, n);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_PPPOE_PKT_TOO_SMALL);

    /* a length too short for the PPP protocol */
    memset(&st, 0, sizeof(st));
    put16(f + 14 + 4, 1);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_PPP_PKT_TOO_SMALL);
}

/* ---- VLAN tags and nesting ---- */

Test(decap, qinq_then_vxlan_keeps_outer_tags)
{
    uint8_t f[MAX_FRAME];
    /* the inner frame has its own tag: a third one, not kept */
    size_t n = inner4(f);
    uint16_t itp[] = {0x8100}, ivid[] = {30};
    n = eth(f, itp, ivid, 1, 0x0800, f, n);
    n = vxlan(f, 0x08, 77, f, n);
    uint8_t seg[MAX_FRAME];
    n = l4(seg, 4, OUT4_A, OUT4_B, 17, 51000, 4789, f, n);
    n = ip4(f, OUT4_A, OUT4_B, 17, seg, n);
    uint16_t tp[] = {0x88a8, 0x8100}, vid[] = {10, 20};
    n = eth(f, tp, vid, 2, 0x0800, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    assert_tunnel(&p, VG_TUNNEL_VXLAN, 77, 1, 4, 17);
    cr_assert_eq(p.vlan_count, 2);
    cr_assert_eq(p.vlan[0], 10);
    cr_assert_eq(p.vlan[1], 20);
    cr_assert_eq(st.vlan, 2);
    cr_assert_eq(st.vlan_qinq, 1);
    cr_assert_eq(events_total(&st), 0);

    /* untagged outside: the inner tag is the packet's */
    n = inner4(f);
    n = eth(f, itp, ivid, 1, 0x0800, f, n);
    n = vxlan(f, 0x08, 77, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 30);
}

/* VLAN-tagged Ethernet, then (IPv4 / GRE TEB / Ethernet, IPv4 / UDP VXLAN /
 * Ethernet) alternating until layers tunnels are open, then the inner packet. */
static size_t nested(uint8_t *f, int layers)
{
    size_t n = inner4(f);
    for (int i = layers; i >= 1; i--) {
        n = eth(f, NULL, NULL, 0, 0x0800, f, n);
        if (i % 2 == 0) {
            n = vxlan(f, 0x08, (uint32_t)i, f, n);
            uint8_t seg[MAX_FRAME];
            n = l4(seg, 4, OUT4_A, OUT4_B, 17, 51000, 4789, f, n);
            n = ip4(f, OUT4_A, OUT4_B, 17, seg, n);
        } else {
            n = gre(f, 0x2000, 0x6558, (uint32_t)i, f, n);
            n = ip4(f, OUT4_A, OUT4_B, 47, f, n);
        }
    }
    uint16_t tp[] = {0x8100}, vid[] = {5};
    return eth(f, tp, vid, 1, 0x0800, f, n);
}

Test(decap, nesting_up_to_the_depth_limit)
{
    static uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    size_t n = nested(f, VG_MAX_ENCAP_DEPTH);
    cr_assert_eq(decode(f, n, &p, &st), 0);
    assert_inner4(&p, f, n);
    /* innermost: layer 8 is VXLAN with VNI 8 */
    assert_tunnel(&p, VG_TUNNEL_VXLAN, VG_MAX_ENCAP_DEPTH, VG_MAX_ENCAP_DEPTH, 4, 17);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(st.gre, VG_MAX_ENCAP_DEPTH / 2);
    cr_assert_eq(st.vxlan, VG_MAX_ENCAP_DEPTH / 2);
    cr_assert_eq(events_total(&st), 0);

    memset(&st, 0, sizeof(st));
    n = nested(f, VG_MAX_ENCAP_DEPTH + 1);
    assert_malformed(decode(f, n, &p, &st), &st, VG_DEC_TOO_MANY_LAYERS);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_TOO_MANY_LAYERS), "decoder.too_many_layers");
}

/* ---- truncation at every length ---- */

struct tframe {
    const char *name;
    uint8_t b[MAX_FRAME];
    size_t len;
    size_t udp_end; /* UDP tunnels: where the outer UDP header ends, else 0 */
    size_t tun_end; /* UDP tunnels: bytes needed to recognise the tunnel */
    size_t l4_end;  /* where the inner TCP header ends */
};

static size_t make_tframes(struct tframe *fr)
{
    size_t k = 0;
    const uint32_t labels[] = {16, 17};

    fr[k].name = "gre key";
    fr[k].len =
        outer4(fr[k].b, 47, fr[k].b, gre(fr[k].b, 0x2000, 0x0800, 9, fr[k].b, inner4(fr[k].b)));
    fr[k].l4_end = 14 + 20 + 8 + 40;
    k++;

    fr[k].name = "erspan3 sub";
    {
        size_t n = inner_eth4(fr[k].b);
        n = erspan3(fr[k].b, 2, 1, 0, true, fr[k].b, n);
        n = gre(fr[k].b, 0x1000, 0x22eb, 0, fr[k].b, n);
        fr[k].len = outer4(fr[k].b, 47, fr[k].b, n);
        fr[k].l4_end = 14 + 20 + 8 + 20 + 14 + 40;
    }
    k++;

    fr[k].name = "vxlan";
    {
        size_t n = inner_eth4(fr[k].b);
        n = vxlan(fr[k].b, 0x08, 3, fr[k].b, n);
        fr[k].len = outer4_udp(fr[k].b, 1, 4789, fr[k].b, n);
        fr[k].udp_end = 14 + 20 + 8;
        fr[k].tun_end = fr[k].udp_end + 8 + 14;
        fr[k].l4_end = fr[k].tun_end + 40;
    }
    k++;

    fr[k].name = "geneve";
    {
        const uint8_t opt[4] = {0, 1, 2, 0};
        size_t n = inner_eth4(fr[k].b);
        n = geneve(fr[k].b, 0, 0x6558, 3, opt, 1, fr[k].b, n);
        fr[k].len = outer4_udp(fr[k].b, 1, 6081, fr[k].b, n);
        fr[k].udp_end = 14 + 20 + 8;
        fr[k].tun_end = fr[k].udp_end + 12 + 14;
        fr[k].l4_end = fr[k].tun_end + 40;
    }
    k++;

    fr[k].name = "teredo origin";
    fr[k].len = teredo_frame(fr[k].b, false, true, 0, 1, 3544);
    fr[k].udp_end = 14 + 20 + 8;
    fr[k].tun_end = fr[k].udp_end + 8 + 40;
    fr[k].l4_end = fr[k].tun_end + 20;
    k++;

    fr[k].name = "6in4";
    fr[k].len = outer4(fr[k].b, 41, fr[k].b, inner6(fr[k].b));
    fr[k].l4_end = 14 + 20 + 60;
    k++;

    fr[k].name = "mpls";
    {
        size_t n = mpls(fr[k].b, labels, 2, true, fr[k].b, inner4(fr[k].b));
        fr[k].len = eth(fr[k].b, NULL, NULL, 0, 0x8847, fr[k].b, n);
        fr[k].l4_end = 14 + 8 + 40;
    }
    k++;

    fr[k].name = "pppoe";
    {
        size_t n = pppoe(fr[k].b, 0, 7, 0x0021, fr[k].b, inner4(fr[k].b));
        fr[k].len = eth(fr[k].b, NULL, NULL, 0, 0x8864, fr[k].b, n);
        fr[k].l4_end = 14 + 8 + 40;
    }
    k++;
    return k;
}

/* As in the decoder's own truncation test: a cut with the wire length equal
 * to it makes the length fields lie (exactly one anomaly, dropped); a cut by
 * the snapshot length drops the packet until its headers are in, except
 * that a UDP tunnel whose header is not all there is plain UDP. Each copy
 * has exactly the captured size, so ASan sees any read past it. */
Test(decap, every_truncation)
{
    static struct tframe fr[16];
    size_t nfr = make_tframes(fr);
    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.csum = VG_CSUM_ALL;
    for (size_t i = 0; i < nfr; i++) {
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(fr[i].b, fr[i].len, &p, &st), 0, "%s", fr[i].name);
        cr_assert_eq(p.encap_depth, 1, "%s", fr[i].name);
        cr_assert_eq(p.l4 + 20, fr[i].b + fr[i].l4_end, "%s", fr[i].name);
        cr_assert_eq(events_total(&st), 0, "%s", fr[i].name);
        for (size_t cut = 0; cut < fr[i].len; cut++) {
            uint8_t *copy = malloc(cut > 0 ? cut : 1);
            memcpy(copy, fr[i].b, cut);

            memset(&st, 0, sizeof(st));
            int rc = decode_cfg(copy, (uint32_t)cut, (uint32_t)cut, &dc, &p, &st);
            cr_assert_eq(rc, -1, "%s cut at %zu", fr[i].name, cut);
            cr_assert_eq(st.invalid, 1, "%s cut at %zu", fr[i].name, cut);
            cr_assert_eq(events_total(&st), 1, "%s cut at %zu", fr[i].name, cut);

            memset(&st, 0, sizeof(st));
            rc = decode_cfg(copy, (uint32_t)cut, (uint32_t)fr[i].len, &dc, &p, &st);
            if (fr[i].udp_end != 0 && cut >= fr[i].udp_end && cut < fr[i].tun_end) {
                cr_assert_eq(rc, 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(p.encap_depth, 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(p.proto, 17, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(events_total(&st), 0, "%s snap at %zu", fr[i].name, cut);
            } else if (cut < fr[i].l4_end) {
                cr_assert_eq(rc, -1, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(events_total(&st), 1, "%s snap at %zu", fr[i].name, cut);
            } else {
                cr_assert_eq(rc, 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(p.encap_depth, 1, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(events_total(&st), 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert(p.payload + p.payload_len <= copy + cut);
            }
            free(copy);
        }
    }
}

/* Flipped bytes in every tunnel frame never crash nor read outside it. */
Test(decap, random_bytes_fuzz)
{
    static struct tframe fr[16];
    size_t nfr = make_tframes(fr);
    uint32_t seed = 7;
    struct vg_decode_stats st = {0};
    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    dc.mpls_ethernet_pw = true;
    for (int iter = 0; iter < 40000; iter++) {
        const struct tframe *t = &fr[(size_t)iter % nfr];
        seed = seed * 1664525u + 1013904223u;
        size_t len = t->len - (seed >> 8) % 16;
        uint8_t *b = malloc(len);
        memcpy(b, t->b, len);
        for (int k = 0; k < 3; k++) {
            seed = seed * 1664525u + 1013904223u;
            b[(seed >> 8) % len] = (uint8_t)(seed >> 24);
        }
        struct vg_packet p;
        if (decode_cfg(b, (uint32_t)len, (uint32_t)t->len, &dc, &p, &st) == 0) {
            cr_assert(p.l3 >= b && p.l3 + p.l3_len <= b + len);
            cr_assert(p.payload == NULL || p.payload + p.payload_len <= b + len);
            cr_assert(p.encap_depth <= VG_MAX_ENCAP_DEPTH);
        }
        free(b);
    }
    cr_assert_eq(st.pkts, 40000);
}

Test(decap, rebase_keeps_tunnel_metadata)
{
    uint8_t f[MAX_FRAME], g[MAX_FRAME];
    size_t n = inner_eth4(f);
    n = vxlan(f, 0x08, 99, f, n);
    n = outer4_udp(f, 51000, 4789, f, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, &p, &st), 0);
    memcpy(g, f, n);
    ptrdiff_t l3 = p.l3 - f, l4off = p.l4 - f, pl = p.payload - f;
    vg_packet_rebase(&p, g);
    cr_assert_eq(p.l3, g + l3);
    cr_assert_eq(p.l4, g + l4off);
    cr_assert_eq(p.payload, g + pl);
    assert_tunnel(&p, VG_TUNNEL_VXLAN, 99, 1, 4, 17);
}

Test(decap, names)
{
    cr_assert_str_eq(vg_tunnel_type_name(VG_TUNNEL_NONE), "none");
    cr_assert_str_eq(vg_tunnel_type_name(VG_TUNNEL_VXLAN), "vxlan");
    cr_assert_str_eq(vg_tunnel_type_name(VG_TUNNEL_ERSPAN3), "erspan3");
    cr_assert_str_eq(vg_tunnel_type_name(VG_TUNNEL_TYPE_COUNT), "unknown");
    for (int i = 0; i < VG_TUNNEL_TYPE_COUNT; i++)
        cr_assert_not_null(vg_tunnel_type_name((enum vg_tunnel_type)i));
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_ERSPAN_HEADER_TOO_SMALL),
                     "erspan.header_too_small");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_GENEVE_INVALID_HEADER), "geneve.invalid_header");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_PPP_PKT_TOO_SMALL), "ppp.pkt_too_small");
}

/* ---- flow key and EVE ---- */

/* The VXLAN frame of the inner session, one direction or the other, with the
 * outer addresses turned the same way. */
static size_t vxlan_dir(uint8_t *f, uint32_t vni, bool reply)
{
    uint8_t seg[MAX_FRAME], ip[MAX_FRAME];
    size_t n = l4(seg, 4, reply ? IN4_S : IN4_C, reply ? IN4_C : IN4_S, 6, reply ? SPORT : CPORT,
                  reply ? CPORT : SPORT, PAYLOAD, 4);
    n = ip4(ip, reply ? IN4_S : IN4_C, reply ? IN4_C : IN4_S, 6, seg, n);
    n = eth(ip, NULL, NULL, 0, 0x0800, ip, n);
    n = vxlan(ip, 0x08, vni, ip, n);
    n = l4(seg, 4, reply ? OUT4_B : OUT4_A, reply ? OUT4_A : OUT4_B, 17, 50000, 4789, ip, n);
    n = ip4(f, reply ? OUT4_B : OUT4_A, reply ? OUT4_A : OUT4_B, 17, seg, n);
    return eth(f, NULL, NULL, 0, 0x0800, f, n);
}

Test(decap, flow_key_separates_segments)
{
    struct vg_packet a, b, r;
    struct vg_decode_stats st = {0};
    static uint8_t fa[MAX_FRAME], fb[MAX_FRAME], fr_[MAX_FRAME];
    cr_assert_eq(decode(fa, vxlan_dir(fa, 100, false), &a, &st), 0);
    cr_assert_eq(decode(fb, vxlan_dir(fb, 200, false), &b, &st), 0);
    cr_assert_eq(decode(fr_, vxlan_dir(fr_, 100, true), &r, &st), 0);
    struct vg_flow_key ka, kb, kr;
    bool sa, sb, sr;
    vg_flow_key_from_packet(&ka, &a, &sa);
    vg_flow_key_from_packet(&kb, &b, &sb);
    vg_flow_key_from_packet(&kr, &r, &sr);
    cr_assert_eq(ka.tunnel_id, 100);
    cr_assert_neq(memcmp(&ka, &kb, sizeof(ka)), 0);
    cr_assert_eq(memcmp(&ka, &kr, sizeof(ka)), 0);
    cr_assert_neq(sa, sr);
    cr_assert_eq(vg_packet_flow_hash(&a), vg_packet_flow_hash(&r));
    cr_assert_neq(vg_packet_flow_hash(&a), vg_packet_flow_hash(&b));
    cr_assert_eq(vg_packet_dispatch_hash(&a), vg_packet_dispatch_hash(&r));

    /* in a table: two flows, the reply joins the first, tunnel kept client-first */
    struct vg_flow_timeouts to;
    vg_flow_timeouts_default(&to);
    struct vg_flow_table *t = vg_flow_table_new(64, &to, NULL, NULL);
    cr_assert_not_null(t);
    enum vg_flow_dir d;
    struct vg_flow *f1 = vg_flow_table_packet(t, &r, &d);
    struct vg_flow *f2 = vg_flow_table_packet(t, &b, &d);
    struct vg_flow *f3 = vg_flow_table_packet(t, &a, &d);
    cr_assert_neq(f1, f2);
    cr_assert_eq(f1, f3);
    cr_assert_eq(vg_flow_table_stats(t)->created, 2);
    cr_assert_eq(f1->tunnel_type, VG_TUNNEL_VXLAN);
    cr_assert_eq(f1->encap_depth, 1);
    /* the first packet came from the server side (no SYN: its sender is the
     * client), so the outer addresses read as that packet had them */
    struct vg_ip_addr client, server;
    uint16_t cp, sp;
    vg_flow_endpoints(f1, &client, &cp, &server, &sp);
    cr_assert_eq(memcmp(client.b, IN4_S, 4), 0);
    cr_assert_eq(memcmp(f1->tunnel_src.b, OUT4_B, 4), 0);
    cr_assert_eq(memcmp(f1->tunnel_dst.b, OUT4_A, 4), 0);
    vg_flow_table_free(t);
}

static char *format(const struct vg_event *ev)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, ev, NULL);
    char *out = strndup(j.buf, j.len);
    vg_jbuf_free(&j);
    return out;
}

Test(decap, eve_tunnel_object)
{
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_FLOW;
    ev.ts_us = 1;
    struct vg_event_tuple *t = &ev.tuple;
    t->family = 4;
    t->proto = 6;
    memcpy(t->src.b, IN4_C, 4);
    memcpy(t->dst.b, IN4_S, 4);
    t->has_ports = 1;
    t->sport = CPORT;
    t->dport = SPORT;
    t->tunnel_type = VG_TUNNEL_VXLAN;
    t->encap_depth = 1;
    t->tunnel_family = 4;
    t->tunnel_proto = 17;
    t->tunnel_sport = 50000;
    t->tunnel_dport = 4789;
    t->tunnel_id = 4242;
    memcpy(t->tunnel_src.b, OUT4_A, 4);
    memcpy(t->tunnel_dst.b, OUT4_B, 4);
    char *out = format(&ev);
    cr_assert_not_null(strstr(out, ",\"tunnel\":{\"src_ip\":\"192.0.2.1\",\"src_port\":50000,"
                                   "\"dest_ip\":\"198.51.100.2\",\"dest_port\":4789,"
                                   "\"proto\":\"UDP\",\"depth\":1,\"tunnel_type\":\"vxlan\","
                                   "\"tunnel_id\":4242}"),
                       "%s", out);
    cr_assert_not_null(strstr(out, "\"src_ip\":\"10.0.0.1\",\"src_port\":40000"), "%s", out);
    free(out);

    /* GRE over IPv6: no ports, IANA's name */
    t->tunnel_type = VG_TUNNEL_ERSPAN2;
    t->tunnel_family = 6;
    t->tunnel_proto = 47;
    t->tunnel_id = 7;
    memcpy(t->tunnel_src.b, OUT6_A, 16);
    memcpy(t->tunnel_dst.b, OUT6_B, 16);
    out = format(&ev);
    cr_assert_not_null(strstr(out, ",\"tunnel\":{\"src_ip\":\"2001:db8:ff00::1\","
                                   "\"dest_ip\":\"2001:db8:ff00::2\",\"proto\":\"GRE\","
                                   "\"depth\":1,\"tunnel_type\":\"erspan2\",\"tunnel_id\":7}"),
                       "%s", out);
    free(out);

    /* MPLS on Ethernet: no carrier IP */
    t->tunnel_type = VG_TUNNEL_MPLS;
    t->tunnel_family = 0;
    t->tunnel_id = 0;
    out = format(&ev);
    cr_assert_not_null(
        strstr(out, ",\"tunnel\":{\"depth\":1,\"tunnel_type\":\"mpls\",\"tunnel_id\":0}"), "%s",
        out);
    free(out);

    /* not in a tunnel: no object */
    t->encap_depth = 0;
    out = format(&ev);
    cr_assert_null(strstr(out, "tunnel"), "%s", out);
    free(out);
}

/* ---- configuration ---- */

static struct vg_config *config_with(const char *const *sets, size_t n)
{
    struct vg_config *c = vg_config_new();
    cr_assert_not_null(c);
    char err[256];
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(vg_config_set(c, sets[i], err, sizeof(err)), 0, "%s: %s", sets[i], err);
    return c;
}

Test(decap_config, defaults)
{
    struct vg_decode_config dc;
    memset(&dc, 0xff, sizeof(dc));
    vg_decode_config_default(&dc);
    cr_assert_eq(dc.csum, VG_CSUM_COUNT);
    cr_assert(dc.vxlan_enabled && dc.geneve_enabled && dc.teredo_enabled);
    cr_assert_not(dc.mpls_ethernet_pw);
    cr_assert_eq(dc.n_vxlan_ports, 1);
    cr_assert_eq(dc.vxlan_ports[0], 4789);
    cr_assert_eq(dc.n_geneve_ports, 1);
    cr_assert_eq(dc.geneve_ports[0], 6081);
    cr_assert_eq(dc.n_teredo_ports, 1);
    cr_assert_eq(dc.teredo_ports[0], 3544);

    /* an empty configuration changes nothing */
    struct vg_config *c = config_with(NULL, 0);
    struct vg_decode_config before = dc;
    char err[256];
    cr_assert_eq(vg_decode_config_load(&dc, c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(memcmp(&before, &dc, sizeof(dc)), 0);
    vg_config_free(c);
}

Test(decap_config, suricata_keys)
{
    const char *const sets[] = {
        "decoder.vxlan.enabled=false",        "decoder.vxlan.ports=[4789, 8472]",
        "decoder.geneve.ports=6082",          "vars.port-groups.TEREDO_PORTS=[3544,3545]",
        "decoder.teredo.ports=$TEREDO_PORTS", "decoder.teredo.enabled=yes",
        "decoder.mpls.ethernet-pw=true",
    };
    struct vg_config *c = config_with(sets, VG_ARRAY_SIZE(sets));
    struct vg_decode_config dc;
    vg_decode_config_default(&dc);
    char err[256];
    cr_assert_eq(vg_decode_config_load(&dc, c, err, sizeof(err)), 0, "%s", err);
    cr_assert_not(dc.vxlan_enabled);
    cr_assert_eq(dc.n_vxlan_ports, 2);
    cr_assert_eq(dc.vxlan_ports[0], 4789);
    cr_assert_eq(dc.vxlan_ports[1], 8472);
    cr_assert(dc.geneve_enabled);
    cr_assert_eq(dc.n_geneve_ports, 1);
    cr_assert_eq(dc.geneve_ports[0], 6082);
    cr_assert_eq(dc.n_teredo_ports, 2);
    cr_assert_eq(dc.teredo_ports[1], 3545);
    cr_assert(dc.mpls_ethernet_pw);
    vg_config_free(c);

    /* a YAML sequence arrives as numbered keys */
    const char *const seq[] = {"decoder.vxlan.ports.0=4789", "decoder.vxlan.ports.1=4790"};
    c = config_with(seq, 2);
    vg_decode_config_default(&dc);
    cr_assert_eq(vg_decode_config_load(&dc, c, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(dc.n_vxlan_ports, 2);
    cr_assert_eq(dc.vxlan_ports[1], 4790);
    vg_config_free(c);
}

Test(decap_config, bad_values_are_refused)
{
    const char *const bad[] = {
        "decoder.vxlan.ports=0",
        "decoder.vxlan.ports=65536",
        "decoder.vxlan.ports=47x",
        "decoder.vxlan.ports=[4789",
        "decoder.vxlan.ports=4789]",
        "decoder.vxlan.ports=[]",
        "decoder.vxlan.ports=[1,]",
        "decoder.vxlan.ports=1,2",
        "decoder.vxlan.ports=[1,2,3,4,5,6,7,8,9]",
        "decoder.geneve.ports=$NO_SUCH_PORTS",
        "decoder.teredo.enabled=maybe",
        "decoder.vxlan.ports.0=-1",
    };
    for (size_t i = 0; i < VG_ARRAY_SIZE(bad); i++) {
        struct vg_config *c = config_with(&bad[i], 1);
        struct vg_decode_config dc, before;
        vg_decode_config_default(&dc);
        before = dc;
        char err[256] = "";
        cr_assert_eq(vg_decode_config_load(&dc, c, err, sizeof(err)), -1, "%s", bad[i]);
        cr_assert_neq(err[0], '\0', "%s: no message", bad[i]);
        cr_assert_not_null(strstr(err, "decoder."), "%s: %s", bad[i], err);
        cr_assert_eq(memcmp(&before, &dc, sizeof(dc)), 0, "%s changed the config", bad[i]);
        vg_config_free(c);
    }
}
