/* Decoder tests on hand-built frames. The builders compute checksums with a
 * plain byte-by-byte RFC 1071 sum, independent of the decoder's own code. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/packet.h"
#include "pkt_test_util.h"

#define MAX_FRAME 2048

static const uint8_t SRC4[4] = {192, 0, 2, 1};
static const uint8_t DST4[4] = {198, 51, 100, 2};
static const uint8_t SRC6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
static const uint8_t DST6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t PAYLOAD[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";
#define PAYLOAD_LEN (sizeof(PAYLOAD) - 1)

/* ---- frame builders ---- */

/* memcpy that accepts a NULL source for an empty copy. */
static void copy_bytes(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 0)
        memcpy(dst, src, n);
}

static uint32_t ref_pseudo(int family, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                           uint32_t len)
{
    size_t alen = family == 4 ? 4 : 16;
    uint32_t s = ref_sum(src, alen, 0);
    s = ref_sum(dst, alen, s);
    return s + proto + (len >> 16) + (len & 0xffff);
}

/* L4 header plus payload. For ICMP, sport/dport carry type/code. Other
 * protocols get the payload only. Returns the length. */
static size_t build_l4(uint8_t *out, int family, uint8_t proto, const uint8_t *src,
                       const uint8_t *dst, uint16_t sport, uint16_t dport, uint8_t tcp_flags,
                       const uint8_t *pl, size_t plen)
{
    size_t hlen;
    size_t csum_at;
    switch (proto) {
    case 6:
        hlen = 20;
        memset(out, 0, hlen);
        put16(out, sport);
        put16(out + 2, dport);
        put32(out + 4, 1000);
        put32(out + 8, 2000);
        out[12] = 5 << 4;
        out[13] = tcp_flags;
        put16(out + 14, 65535);
        csum_at = 16;
        break;
    case 17:
        hlen = 8;
        memset(out, 0, hlen);
        put16(out, sport);
        put16(out + 2, dport);
        put16(out + 4, (uint16_t)(hlen + plen));
        csum_at = 6;
        break;
    case 1:
    case 58:
        hlen = 8;
        memset(out, 0, hlen);
        out[0] = (uint8_t)sport;
        out[1] = (uint8_t)dport;
        put16(out + 4, 0x1234);
        put16(out + 6, 1);
        csum_at = 2;
        break;
    default:
        copy_bytes(out, pl, plen);
        return plen;
    }
    copy_bytes(out + hlen, pl, plen);
    size_t len = hlen + plen;
    uint32_t s = proto == 1 ? 0 : ref_pseudo(family, src, dst, proto, (uint32_t)len);
    uint16_t c = ref_finish(ref_sum(out, len, s));
    if (proto == 17 && c == 0)
        c = 0xffff;
    put16(out + csum_at, c);
    return len;
}

/* Recomputes the TCP/UDP/ICMPv6 checksum after a test edited the segment. */
static void fix_l4_csum(uint8_t *l4, size_t len, int family, uint8_t proto, const uint8_t *src,
                        const uint8_t *dst)
{
    size_t at = proto == 6 ? 16 : proto == 17 ? 6 : 2;
    put16(l4 + at, 0);
    uint32_t s = proto == 1 ? 0 : ref_pseudo(family, src, dst, proto, (uint32_t)len);
    put16(l4 + at, ref_finish(ref_sum(l4, len, s)));
}

static size_t build_ipv4(uint8_t *out, uint8_t proto, uint16_t frag, const uint8_t *l4,
                         size_t l4len)
{
    memset(out, 0, 20);
    out[0] = 0x45;
    put16(out + 2, (uint16_t)(20 + l4len));
    put16(out + 4, 0xbeef);
    put16(out + 6, frag);
    out[8] = 64;
    out[9] = proto;
    memcpy(out + 12, SRC4, 4);
    memcpy(out + 16, DST4, 4);
    put16(out + 10, ref_finish(ref_sum(out, 20, 0)));
    memcpy(out + 20, l4, l4len);
    return 20 + l4len;
}

static void fix_ipv4_csum(uint8_t *ip)
{
    size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
    put16(ip + 10, 0);
    put16(ip + 10, ref_finish(ref_sum(ip, hlen, 0)));
}

static size_t build_ipv6(uint8_t *out, uint8_t nh, const uint8_t *ext, size_t extlen,
                         const uint8_t *l4, size_t l4len)
{
    memset(out, 0, 40);
    out[0] = 0x60;
    put16(out + 4, (uint16_t)(extlen + l4len));
    out[6] = nh;
    out[7] = 255;
    memcpy(out + 8, SRC6, 16);
    memcpy(out + 24, DST6, 16);
    copy_bytes(out + 40, ext, extlen);
    memcpy(out + 40 + extlen, l4, l4len);
    return 40 + extlen + l4len;
}

/* Ethernet with up to three VLAN tags given as (tpid, vid) pairs. */
static size_t build_eth(uint8_t *out, const uint16_t *tpid, const uint16_t *vid, int ntags,
                        uint16_t ethertype, const uint8_t *l3, size_t l3len)
{
    static const uint8_t macs[12] = {0, 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10};
    memcpy(out, macs, 12);
    size_t off = 12;
    for (int i = 0; i < ntags; i++) {
        put16(out + off, tpid[i]);
        put16(out + off + 2, vid[i]);
        off += 4;
    }
    put16(out + off, ethertype);
    off += 2;
    memcpy(out + off, l3, l3len);
    return off + l3len;
}

/* Ethernet + IPv4 + L4 in one go. */
static size_t eth4(uint8_t *out, uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags,
                   const uint8_t *pl, size_t plen)
{
    uint8_t l4[MAX_FRAME], l3[MAX_FRAME];
    size_t n = build_l4(l4, 4, proto, SRC4, DST4, sport, dport, flags, pl, plen);
    n = build_ipv4(l3, proto, 0, l4, n);
    return build_eth(out, NULL, NULL, 0, 0x0800, l3, n);
}

/* Ethernet + IPv6 (optional extension headers) + L4. */
static size_t eth6(uint8_t *out, uint8_t first_nh, const uint8_t *ext, size_t extlen, uint8_t proto,
                   uint16_t sport, uint16_t dport, const uint8_t *pl, size_t plen)
{
    uint8_t l4[MAX_FRAME], l3[MAX_FRAME];
    size_t n = build_l4(l4, 6, proto, SRC6, DST6, sport, dport, 0x18, pl, plen);
    n = build_ipv6(l3, ext != NULL ? first_nh : proto, ext, extlen, l4, n);
    return build_eth(out, NULL, NULL, 0, 0x86dd, l3, n);
}

/* ---- decode helpers ---- */

static int decode_wire(const uint8_t *b, uint32_t caplen, uint32_t wirelen, int link,
                       enum vg_checksum_mode mode, struct vg_packet *p, struct vg_decode_stats *st)
{
    memset(p, 0xa5, sizeof(*p)); /* decode must not rely on a cleared packet */
    p->data = b;
    p->caplen = caplen;
    p->wirelen = wirelen;
    p->ts_us = 1;
    p->pcap_cnt = 1;
    return vg_decode(p, link, mode, st);
}

static int decode(const uint8_t *b, size_t len, int link, enum vg_checksum_mode mode,
                  struct vg_packet *p, struct vg_decode_stats *st)
{
    return decode_wire(b, (uint32_t)len, (uint32_t)len, link, mode, p, st);
}

static uint64_t events_total(const struct vg_decode_stats *st)
{
    uint64_t n = 0;
    for (int i = 0; i < VG_DEC_EVENT_COUNT; i++)
        n += st->events[i];
    return n;
}

/* Asserts a drop by exactly one malformed-layer event ev. */
static void assert_malformed(int rc, const struct vg_decode_stats *st, enum vg_decode_event ev)
{
    cr_assert_eq(rc, -1);
    cr_assert_eq(st->events[ev], 1, "expected %s", vg_decode_event_name(ev));
    cr_assert_eq(events_total(st), 1);
    cr_assert_eq(st->invalid, 1);
}

/* ---- link layers ---- */

Test(decode, ethernet_ipv4_tcp)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 6, 40000, 80, 0x18, PAYLOAD, PAYLOAD_LEN);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.family, 4);
    cr_assert_eq(p.proto, 6);
    cr_assert_eq(p.sport, 40000);
    cr_assert_eq(p.dport, 80);
    cr_assert_eq(p.tcp_flags, 0x18);
    cr_assert_eq(p.tcp_seq, 1000);
    cr_assert_eq(p.tcp_ack, 2000);
    cr_assert_eq(p.tcp_win, 65535);
    cr_assert_eq(p.ttl, 64);
    cr_assert_eq(p.vlan_count, 0);
    cr_assert_eq(p.flags, VG_PKT_HAS_L4);
    cr_assert_eq(memcmp(p.src.b, SRC4, 4), 0);
    cr_assert_eq(memcmp(p.dst.b, DST4, 4), 0);
    for (int i = 4; i < 16; i++)
        cr_assert_eq(p.src.b[i] | p.dst.b[i], 0);
    cr_assert_eq(p.l3, f + 14);
    cr_assert_eq(p.l3_len, n - 14);
    cr_assert_eq(p.l4, f + 34);
    cr_assert_eq(p.payload, f + 54);
    cr_assert_eq(p.payload_len, PAYLOAD_LEN);
    cr_assert_eq(memcmp(p.payload, PAYLOAD, PAYLOAD_LEN), 0);
    cr_assert_eq(st.pkts, 1);
    cr_assert_eq(st.bytes, n);
    cr_assert_eq(st.ethernet, 1);
    cr_assert_eq(st.ipv4, 1);
    cr_assert_eq(st.tcp, 1);
    cr_assert_eq(st.invalid, 0);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, vlan_8021q)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t n = build_l4(l4, 4, 17, SRC4, DST4, 5353, 53, 0, PAYLOAD, 10);
    n = build_ipv4(l3, 17, 0, l4, n);
    uint16_t tpid[] = {0x8100}, vid[] = {0x2000 | 100}; /* PCP bits are not part of the id */
    n = build_eth(f, tpid, vid, 1, 0x0800, l3, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.vlan_count, 1);
    cr_assert_eq(p.vlan[0], 100);
    cr_assert_eq(p.l3, f + 18);
    cr_assert_eq(p.dport, 53);
    cr_assert_eq(st.vlan, 1);
    cr_assert_eq(st.vlan_qinq, 0);
}

Test(decode, vlan_qinq_both_outer_tpids)
{
    uint16_t outer[] = {0x88a8, 0x9100};
    for (int i = 0; i < 2; i++) {
        uint8_t l4[256], l3[256], f[MAX_FRAME];
        size_t n = build_l4(l4, 4, 6, SRC4, DST4, 1, 2, 0x02, NULL, 0);
        n = build_ipv4(l3, 6, 0, l4, n);
        uint16_t tpid[] = {outer[i], 0x8100}, vid[] = {10, 20};
        n = build_eth(f, tpid, vid, 2, 0x0800, l3, n);
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
        cr_assert_eq(p.vlan_count, 2);
        cr_assert_eq(p.vlan[0], 10);
        cr_assert_eq(p.vlan[1], 20);
        cr_assert_eq(p.l3, f + 22);
        cr_assert_eq(st.vlan, 1);
        cr_assert_eq(st.vlan_qinq, 1);
        cr_assert_eq(events_total(&st), 0);
    }
}

Test(decode, vlan_three_tags_too_many)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t n = build_l4(l4, 4, 6, SRC4, DST4, 1, 2, 0x02, NULL, 0);
    n = build_ipv4(l3, 6, 0, l4, n);
    uint16_t tpid[] = {0x88a8, 0x8100, 0x8100}, vid[] = {1, 2, 3};
    n = build_eth(f, tpid, vid, 3, 0x0800, l3, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), &st,
                     VG_DEC_VLAN_TOO_MANY);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_VLAN_TOO_MANY), "vlan.too_many_layers");
}

Test(decode, linux_sll_v1_and_v2)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t l3n = build_l4(l4, 4, 6, SRC4, DST4, 1234, 443, 0x02, NULL, 0);
    l3n = build_ipv4(l3, 6, 0, l4, l3n);

    /* v1: packet type, ARPHRD, address length, 8 address bytes, protocol */
    memset(f, 0, 16);
    put16(f + 2, 1);
    put16(f + 4, 6);
    put16(f + 14, 0x0800);
    memcpy(f + 16, l3, l3n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, 16 + l3n, VG_LINK_LINUX_SLL, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.l3, f + 16);
    cr_assert_eq(p.dport, 443);
    cr_assert_eq(st.sll, 1);

    /* v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, 8 address bytes */
    memset(f, 0, 20);
    put16(f, 0x0800);
    put32(f + 4, 3);
    put16(f + 8, 1);
    f[11] = 6;
    memcpy(f + 20, l3, l3n);
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode(f, 20 + l3n, VG_LINK_LINUX_SLL2, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.l3, f + 20);
    cr_assert_eq(p.sport, 1234);
    cr_assert_eq(st.sll, 1);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, raw_ip_link_types)
{
    uint8_t l4[256], v4[256], v6[256];
    size_t n4 = build_l4(l4, 4, 17, SRC4, DST4, 1000, 53, 0, PAYLOAD, 20);
    n4 = build_ipv4(v4, 17, 0, l4, n4);
    size_t n6 = build_l4(l4, 6, 17, SRC6, DST6, 1000, 53, 0, PAYLOAD, 4);
    n6 = build_ipv6(v6, 17, NULL, 0, l4, n6);

    int raw_links[] = {VG_LINK_RAW, VG_LINK_RAW_DLT12, VG_LINK_RAW_DLT14};
    for (size_t i = 0; i < 3; i++) {
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(v4, n4, raw_links[i], VG_CSUM_COUNT, &p, &st), 0);
        cr_assert_eq(p.family, 4);
        cr_assert_eq(p.l3, v4);
        cr_assert_eq(decode(v6, n6, raw_links[i], VG_CSUM_COUNT, &p, &st), 0);
        cr_assert_eq(p.family, 6);
        cr_assert_eq(p.dport, 53);
        cr_assert_eq(st.raw, 2);
        cr_assert_eq(events_total(&st), 0);
    }

    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(v4, n4, VG_LINK_IPV4, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(decode(v6, n6, VG_LINK_IPV6, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.family, 6);
    /* The declared family wins over the version nibble. */
    cr_assert_eq(decode(v6, n6, VG_LINK_IPV4, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.events[VG_DEC_IPV4_BAD_VERSION], 1);
    cr_assert_eq(decode(v4, n4, VG_LINK_IPV6, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.events[VG_DEC_IPV6_BAD_VERSION], 1);

    /* Raw with a version that is neither 4 nor 6. */
    uint8_t bad[40] = {0x50};
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode(bad, sizeof(bad), VG_LINK_RAW, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.invalid, 1);
    cr_assert_eq(events_total(&st), 1);
}

Test(decode, bsd_null_loopback)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t l3n = build_l4(l4, 4, 6, SRC4, DST4, 1, 2, 0x02, NULL, 0);
    l3n = build_ipv4(l3, 6, 0, l4, l3n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};

    uint32_t af = 2; /* host order */
    memcpy(f, &af, 4);
    memcpy(f + 4, l3, l3n);
    cr_assert_eq(decode(f, 4 + l3n, VG_LINK_NULL, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.family, 4);
    cr_assert_eq(p.l3, f + 4);

    /* Captured on a machine of the other byte order. */
    af = __builtin_bswap32(2);
    memcpy(f, &af, 4);
    cr_assert_eq(decode(f, 4 + l3n, VG_LINK_NULL, VG_CSUM_COUNT, &p, &st), 0);

    size_t n6 = build_l4(l4, 6, 6, SRC6, DST6, 1, 2, 0x02, NULL, 0);
    n6 = build_ipv6(l3, 6, NULL, 0, l4, n6);
    memcpy(f + 4, l3, n6);
    uint32_t v6_families[] = {24, 28, 30};
    for (int i = 0; i < 3; i++) {
        memcpy(f, &v6_families[i], 4);
        cr_assert_eq(decode(f, 4 + n6, VG_LINK_NULL, VG_CSUM_COUNT, &p, &st), 0);
        cr_assert_eq(p.family, 6);
    }
    cr_assert_eq(st.null, 5);

    af = 7; /* not IP */
    memcpy(f, &af, 4);
    cr_assert_eq(decode(f, 4 + n6, VG_LINK_NULL, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.non_ip, 1);
    cr_assert_eq(st.invalid, 0);
}

Test(decode, non_ip_is_counted_not_an_error)
{
    uint8_t arp[28] = {0, 1, 8, 0, 6, 4, 0, 1};
    uint8_t f[MAX_FRAME];
    size_t n = build_eth(f, NULL, NULL, 0, 0x0806, arp, sizeof(arp));
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.non_ip, 1);
    cr_assert_eq(st.invalid, 0);
    cr_assert_eq(events_total(&st), 0);
    cr_assert_eq(p.family, 0);

    /* LLDP behind a VLAN tag is still just non-IP. */
    uint16_t tpid[] = {0x8100}, vid[] = {5};
    n = build_eth(f, tpid, vid, 1, 0x88cc, arp, sizeof(arp));
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.non_ip, 2);
    cr_assert_eq(st.invalid, 0);
}

Test(decode, unsupported_link_type)
{
    uint8_t f[64] = {0};
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_not(vg_linktype_supported(105));
    cr_assert_eq(decode(f, sizeof(f), 105, VG_CSUM_COUNT, &p, &st), -1);
    cr_assert_eq(st.pkts, 1);
    int ok[] = {0, 1, 12, 14, 101, 113, 228, 229, 276};
    for (size_t i = 0; i < VG_ARRAY_SIZE(ok); i++)
        cr_assert(vg_linktype_supported(ok[i]), "link type %d", ok[i]);
}

/* ---- L4 protocols ---- */

Test(decode, udp_ipv4_and_ipv6)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    size_t n = eth4(f, 17, 5000, 53, 0, PAYLOAD, 11);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.sport, 5000);
    cr_assert_eq(p.dport, 53);
    cr_assert_eq(p.payload_len, 11);
    cr_assert_eq(p.payload, f + 42);
    cr_assert(p.flags & VG_PKT_HAS_L4);

    n = eth6(f, 0, NULL, 0, 17, 5000, 53, PAYLOAD, 11);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.family, 6);
    cr_assert_eq(p.ttl, 255);
    cr_assert_eq(memcmp(p.src.b, SRC6, 16), 0);
    cr_assert_eq(memcmp(p.dst.b, DST6, 16), 0);
    cr_assert_eq(p.payload, f + 62);
    cr_assert_eq(p.payload_len, 11);
    cr_assert_eq(st.udp, 2);
    cr_assert_eq(st.ipv6, 1);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, udp_zero_checksum_over_ipv4_means_none)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 17, 5000, 53, 0, PAYLOAD, 11);
    put16(f + 34 + 6, 0);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(events_total(&st), 0);

    /* Over IPv6 the checksum is mandatory. */
    n = eth6(f, 0, NULL, 0, 17, 5000, 53, PAYLOAD, 11);
    put16(f + 54 + 6, 0);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(st.events[VG_DEC_UDP_BAD_CHECKSUM], 1);
}

Test(decode, udp_payload_stops_at_udp_length)
{
    /* Bytes between the UDP length and the IP total length are not payload. */
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t n = build_l4(l4, 4, 17, SRC4, DST4, 1, 2, 0, PAYLOAD, 10);
    memset(l4 + n, 0xee, 6);
    n = build_ipv4(l3, 17, 0, l4, n + 6);
    n = build_eth(f, NULL, NULL, 0, 0x0800, l3, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.payload_len, 10);
}

Test(decode, icmpv4_and_icmpv6)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    size_t n = eth4(f, 1, 8, 0, 0, PAYLOAD, 20);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 1);
    cr_assert_eq(p.icmp_type, 8);
    cr_assert_eq(p.icmp_code, 0);
    cr_assert_eq(p.sport, 0);
    cr_assert_eq(p.dport, 0);
    cr_assert_eq(p.payload_len, 20);
    cr_assert(p.flags & VG_PKT_HAS_L4);
    cr_assert_eq(st.icmpv4, 1);

    n = eth6(f, 0, NULL, 0, 58, 128, 0, PAYLOAD, 16);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 58);
    cr_assert_eq(p.icmp_type, 128);
    cr_assert_eq(st.icmpv6, 1);
    cr_assert_eq(events_total(&st), 0);

    /* Destination unreachable, code 3, with a bad checksum. */
    n = eth6(f, 0, NULL, 0, 58, 1, 3, PAYLOAD, 16);
    f[n - 1] ^= 0x40;
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.icmp_code, 3);
    cr_assert(p.flags & VG_PKT_L4_CSUM_BAD);
    cr_assert_eq(st.events[VG_DEC_ICMP_BAD_CHECKSUM], 1);

    n = eth4(f, 1, 0, 0, 0, PAYLOAD, 5);
    f[40] ^= 1;
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(st.events[VG_DEC_ICMP_BAD_CHECKSUM], 2);
}

Test(decode, other_ip_protocol_kept_without_ports)
{
    uint8_t l3[256], f[MAX_FRAME];
    uint8_t body[8] = {0, 0, 0x08, 0x00, 1, 2, 3, 4};
    size_t n = build_ipv4(l3, 132, 0, body, sizeof(body)); /* SCTP: no decoder */
    n = build_eth(f, NULL, NULL, 0, 0x0800, l3, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.family, 4);
    cr_assert_eq(p.proto, 132);
    cr_assert_eq(p.flags & VG_PKT_HAS_L4, 0);
    cr_assert_eq(p.sport, 0);
    cr_assert_eq(p.payload, f + 34);
    cr_assert_eq(p.payload_len, 8);
    cr_assert_eq(st.other_ip_proto, 1);

    /* ESP and "no next header" end the IPv6 header chain. */
    n = eth6(f, 0, NULL, 0, 50, 0, 0, body, sizeof(body));
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 50);
    cr_assert_eq(p.payload_len, 8);
    n = eth6(f, 0, NULL, 0, 59, 0, 0, NULL, 0);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 59);
    cr_assert_eq(p.payload_len, 0);
    cr_assert_eq(st.other_ip_proto, 3);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, ethernet_padding_is_ignored)
{
    /* A bare SYN is 54 bytes; Ethernet pads it to 60. */
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 6, 1, 2, 0x02, NULL, 0);
    cr_assert_eq(n, 54);
    memset(f + n, 0, 6);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, 60, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.l3_len, 40);
    cr_assert_eq(p.payload_len, 0);
    cr_assert_eq(events_total(&st), 0);
}

/* ---- checksums ---- */

Test(decode, tcp_checksum_policies)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 6, 40000, 80, 0x18, PAYLOAD, PAYLOAD_LEN);
    f[n - 1] ^= 0x01;
    struct vg_packet p;
    struct vg_decode_stats st = {0};

    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), 0);
    cr_assert_eq(p.flags & VG_PKT_L4_CSUM_BAD, 0);
    cr_assert_eq(events_total(&st), 0);

    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_L4_CSUM_BAD);
    cr_assert_eq(st.events[VG_DEC_TCP_BAD_CHECKSUM], 1);
    cr_assert_eq(st.csum_dropped, 0);

    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), -1);
    cr_assert_eq(st.events[VG_DEC_TCP_BAD_CHECKSUM], 2);
    cr_assert_eq(st.csum_dropped, 1);
    cr_assert_eq(st.invalid, 0);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_TCP_BAD_CHECKSUM), "tcp.csum_invalid");
}

Test(decode, ipv4_header_checksum)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 17, 1, 2, 0, PAYLOAD, 3);
    f[14 + 8] = 63; /* TTL changed, checksum not updated */
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_COUNT, &p, &st), 0);
    cr_assert_eq(p.flags & (VG_PKT_IPV4_CSUM_BAD | VG_PKT_L4_CSUM_BAD), VG_PKT_IPV4_CSUM_BAD);
    cr_assert_eq(st.events[VG_DEC_IPV4_BAD_CHECKSUM], 1);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), -1);
    cr_assert_eq(st.csum_dropped, 1);
    fix_ipv4_csum(f + 14);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
}

Test(decode, udp_checksum_bad)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth6(f, 0, NULL, 0, 17, 1, 2, PAYLOAD, 7);
    f[n - 3] ^= 0x80;
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), -1);
    cr_assert_eq(st.events[VG_DEC_UDP_BAD_CHECKSUM], 1);
    cr_assert_eq(st.csum_dropped, 1);
}

/* The decoder's word-at-a-time sum must agree with the byte-wise reference
 * for every length and alignment. */
Test(decode, checksum_matches_reference_for_all_lengths)
{
    uint8_t pl[300], f[MAX_FRAME];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof(pl); i++) {
        seed = seed * 1103515245u + 12345u;
        pl[i] = (uint8_t)(seed >> 16);
    }
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    for (size_t len = 0; len < sizeof(pl); len++) {
        uint8_t protos[] = {6, 17, 1};
        for (int k = 0; k < 3; k++) {
            size_t n = eth4(f, protos[k], 7, 9, 0x10, pl, len);
            cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0,
                         "proto %u len %zu", protos[k], len);
            if (len > 0) {
                f[n - 1 - len / 2] ^= 0x04;
                cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), -1,
                             "corrupt proto %u len %zu", protos[k], len);
            }
        }
        size_t n = eth6(f, 0, NULL, 0, 58, 128, 0, pl, len);
        cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0, "icmpv6 %zu", len);
    }
}

/* All-ones and all-zero data: the most and the fewest carries. */
Test(decode, checksum_extreme_payloads)
{
    uint8_t pl[300], f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    for (int fill = 0; fill < 2; fill++) {
        memset(pl, fill ? 0xff : 0x00, sizeof(pl));
        for (size_t len = 0; len < sizeof(pl); len++) {
            size_t n = eth4(f, 6, 0xffff, 0xffff, 0xff, pl, len);
            cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0, "tcp %zu", len);
            n = eth6(f, 0, NULL, 0, 17, 0xffff, 0xffff, pl, len);
            cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0, "udp %zu", len);
        }
    }
    cr_assert_eq(st.csum_dropped, 0);
}

Test(decode, checksum_skipped_when_datagram_not_captured)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 6, 1, 2, 0x18, PAYLOAD, PAYLOAD_LEN);
    f[n - 1] ^= 1; /* would be a bad checksum, but that byte is not captured */
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(
        decode_wire(f, (uint32_t)n - 5, (uint32_t)n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_TRUNCATED);
    cr_assert_eq(p.payload_len, PAYLOAD_LEN - 5);
    cr_assert_eq(p.l3_len, n - 14 - 5);
    cr_assert_eq(events_total(&st), 0);
}

/* ---- IPv6 extension headers and fragments ---- */

/* Hop-by-hop (8 bytes, PadN), destination options (16 bytes), then next. */
static size_t ext_hbh_dst(uint8_t *ext, uint8_t last_nh)
{
    memset(ext, 0, 24);
    ext[0] = 60; /* hop-by-hop -> destination options */
    ext[1] = 0;
    ext[2] = 1; /* PadN, 4 bytes of padding */
    ext[3] = 4;
    ext[8] = last_nh;
    ext[9] = 1; /* 16 bytes */
    ext[10] = 1;
    ext[11] = 12;
    return 24;
}

Test(decode, ipv6_extension_headers_then_tcp)
{
    uint8_t ext[64], f[MAX_FRAME];
    size_t el = ext_hbh_dst(ext, 43);
    /* Routing header with no segments left, 8 bytes. */
    memset(ext + el, 0, 8);
    ext[el] = 6;
    ext[el + 2] = 4;
    el += 8;
    size_t n = eth6(f, 0, ext, el, 6, 3333, 443, PAYLOAD, PAYLOAD_LEN);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 6);
    cr_assert_eq(p.dport, 443);
    cr_assert_eq(p.l4, f + 14 + 40 + el);
    cr_assert_eq(p.payload_len, PAYLOAD_LEN);
    cr_assert(p.flags & VG_PKT_HAS_L4);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, ipv6_ah_is_skipped)
{
    uint8_t ext[64], f[MAX_FRAME];
    memset(ext, 0, 24);
    ext[0] = 17;
    ext[1] = 4; /* (4 + 2) * 4 = 24 bytes */
    size_t n = eth6(f, 51, ext, 24, 17, 500, 500, PAYLOAD, 12);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.l4, f + 14 + 40 + 24);
    cr_assert_eq(p.payload_len, 12);
}

Test(decode, ipv6_fragments)
{
    uint8_t ext[64], f[MAX_FRAME];
    size_t el = ext_hbh_dst(ext, 44);
    uint8_t *frag = ext + el;
    memset(frag, 0, 8);
    frag[0] = 17;
    put16(frag + 2, 0x0001); /* offset 0, more fragments */
    put32(frag + 4, 0xabcdef);
    el += 8;
    size_t n = eth6(f, 0, ext, el, 17, 4444, 53, PAYLOAD, 20);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    cr_assert_eq(p.flags & VG_PKT_HAS_L4, 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(p.sport, 4444, "a first fragment shows its ports");
    cr_assert_eq(p.l4, NULL);
    cr_assert_eq(p.payload, f + 14 + 40 + el);
    cr_assert_eq(p.payload_len, 28);
    cr_assert_eq(st.ipv6_frag, 1);
    cr_assert_eq(st.udp, 0);

    /* A later fragment: no ports, the rest is data. */
    put16(frag + 2, 185 << 3);
    n = eth6(f, 0, ext, el, 17, 4444, 53, PAYLOAD, 20);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    cr_assert_eq(p.sport, 0);
    cr_assert_eq(p.proto, 17);
    cr_assert_eq(st.ipv6_frag, 2);

    /* An atomic fragment (offset 0, no more) is a whole packet (RFC 6946). */
    put16(frag + 2, 0);
    n = eth6(f, 0, ext, el, 17, 4444, 53, PAYLOAD, 20);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.flags & VG_PKT_FRAGMENT, 0);
    cr_assert(p.flags & VG_PKT_HAS_L4);
    cr_assert_eq(st.ipv6_frag, 2);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, ipv6_too_many_extension_headers)
{
    uint8_t ext[128], f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    for (int count = 8; count <= 9; count++) {
        /* count destination options headers, the last one followed by TCP */
        for (int i = 0; i < count; i++) {
            memset(ext + i * 8, 0, 8);
            ext[i * 8] = i < count - 1 ? 60 : 6;
            ext[i * 8 + 2] = 1;
            ext[i * 8 + 3] = 4;
        }
        size_t n = eth6(f, 60, ext, (size_t)count * 8, 6, 1, 2, NULL, 0);
        memset(&st, 0, sizeof(st));
        int rc = decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st);
        if (count == 8)
            cr_assert_eq(rc, 0, "eight extension headers are allowed");
        else
            assert_malformed(rc, &st, VG_DEC_IPV6_TOO_MANY_EXTHDRS);
    }
}

Test(decode, ipv6_extension_header_past_datagram)
{
    uint8_t ext[64], f[MAX_FRAME];
    memset(ext, 0, 8);
    ext[0] = 59;
    ext[1] = 3; /* claims 32 bytes, only 8 there */
    size_t n = eth6(f, 60, ext, 8, 59, 0, 0, NULL, 0);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), &st,
                     VG_DEC_IPV6_EXTHDR_TRUNCATED);
}

/* ---- IPv4 fragments ---- */

Test(decode, ipv4_fragments)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t n = build_l4(l4, 4, 6, SRC4, DST4, 1111, 80, 0x18, PAYLOAD, PAYLOAD_LEN);
    n = build_ipv4(l3, 6, 0x2000, l4, n); /* MF, offset 0 */
    n = build_eth(f, NULL, NULL, 0, 0x0800, l3, n);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    cr_assert_eq(p.flags & VG_PKT_HAS_L4, 0);
    cr_assert_eq(p.sport, 1111);
    cr_assert_eq(p.dport, 80);
    cr_assert_eq(p.l4, NULL);
    cr_assert_eq(p.payload, f + 34);
    cr_assert_eq(p.payload_len, n - 34);
    cr_assert_eq(st.ipv4_frag, 1);
    cr_assert_eq(st.tcp, 0);

    /* Last fragment: offset set, no MF, no ports. */
    put16(f + 14 + 6, 100);
    fix_ipv4_csum(f + 14);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert(p.flags & VG_PKT_FRAGMENT);
    cr_assert_eq(p.sport, 0);
    cr_assert_eq(st.ipv4_frag, 2);

    /* DF alone is not a fragment. */
    put16(f + 14 + 6, 0x4000);
    fix_ipv4_csum(f + 14);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.flags & VG_PKT_FRAGMENT, 0);
    cr_assert(p.flags & VG_PKT_HAS_L4);
    cr_assert_eq(events_total(&st), 0);
}

/* ---- lying length fields ---- */

Test(decode, ipv4_length_fields)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st;
    size_t n = eth4(f, 6, 1, 2, 0x10, PAYLOAD, 10);
    uint8_t *ip = f + 14;

    /* Total length larger than the frame. */
    put16(ip + 2, (uint16_t)(n - 14 + 1));
    fix_ipv4_csum(ip);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_IPV4_TRUNCATED);

    /* Total length smaller than the header. */
    put16(ip + 2, 19);
    fix_ipv4_csum(ip);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_IPV4_BAD_TOTAL_LEN);

    /* Header length below 20. */
    put16(ip + 2, (uint16_t)(n - 14));
    ip[0] = 0x44;
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_IPV4_BAD_HLEN);

    /* Header length beyond the total length. */
    ip[0] = 0x4f;
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, 14 + 40, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_IPV4_BAD_TOTAL_LEN);

    /* Wrong version behind the IPv4 ethertype. */
    ip[0] = 0x65;
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_IPV4_BAD_VERSION);
}

Test(decode, ipv4_options)
{
    uint8_t l4[256], l3[256], f[MAX_FRAME];
    size_t l4n = build_l4(l4, 4, 17, SRC4, DST4, 1, 2, 0, PAYLOAD, 4);
    /* 24-byte header: Router Alert (4 bytes). */
    size_t n = build_ipv4(l3, 17, 0, l4, l4n);
    memmove(l3 + 24, l3 + 20, l4n);
    l3[0] = 0x46;
    put16(l3 + 2, (uint16_t)(24 + l4n));
    l3[20] = 0x94;
    l3[21] = 4;
    l3[22] = 0;
    l3[23] = 0;
    fix_ipv4_csum(l3);
    n = build_eth(f, NULL, NULL, 0, 0x0800, l3, n + 4);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.l4, f + 14 + 24);

    /* NOP NOP EOL padding is fine too. */
    f[14 + 20] = 1;
    f[14 + 21] = 1;
    f[14 + 22] = 0;
    fix_ipv4_csum(f + 14);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);

    /* An option running past the header. */
    f[14 + 20] = 0x94;
    f[14 + 21] = 8;
    fix_ipv4_csum(f + 14);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), &st,
                     VG_DEC_IPV4_BAD_OPTIONS);

    /* An option length below 2. */
    f[14 + 21] = 1;
    fix_ipv4_csum(f + 14);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), &st,
                     VG_DEC_IPV4_BAD_OPTIONS);
}

Test(decode, ipv6_payload_length_larger_than_frame)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth6(f, 0, NULL, 0, 17, 1, 2, PAYLOAD, 8);
    put16(f + 14 + 4, 100);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), &st,
                     VG_DEC_IPV6_BAD_PAYLOAD_LEN);
}

Test(decode, udp_length_fields)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st;
    size_t n = eth4(f, 17, 1, 2, 0, PAYLOAD, 10);
    uint8_t *uh = f + 34;

    put16(uh + 4, 19); /* 18 available */
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_UDP_BAD_LEN);

    put16(uh + 4, 7);
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_UDP_BAD_LEN);

    /* A shorter UDP length is legal: the rest is padding. */
    put16(uh + 4, 12);
    fix_l4_csum(uh, 12, 4, 17, SRC4, DST4);
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.payload_len, 4);
}

Test(decode, tcp_header_length_fields)
{
    uint8_t f[MAX_FRAME];
    struct vg_packet p;
    struct vg_decode_stats st;
    size_t n = eth4(f, 6, 1, 2, 0x10, PAYLOAD, 8);
    uint8_t *th = f + 34;

    th[12] = 4 << 4;
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_TCP_BAD_HLEN);
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_TCP_BAD_HLEN), "tcp.hlen_too_small");

    th[12] = 8 << 4; /* 32 bytes, 28 there */
    memset(&st, 0, sizeof(st));
    assert_malformed(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_NONE, &p, &st), &st,
                     VG_DEC_TCP_BAD_HLEN);

    th[12] = 7 << 4; /* 28 bytes: all of it header, options are the payload bytes */
    memset(th + 20, 1, 8);
    fix_l4_csum(th, 28, 4, 6, SRC4, DST4);
    memset(&st, 0, sizeof(st));
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.payload_len, 0);
    cr_assert_eq(events_total(&st), 0);
}

Test(decode, tcp_bad_options_counted_but_kept)
{
    uint8_t f[MAX_FRAME];
    size_t n = eth4(f, 6, 1, 2, 0x10, PAYLOAD, 8);
    uint8_t *th = f + 34;
    th[12] = 7 << 4;
    th[20] = 2; /* MSS claiming 10 bytes in an 8-byte option area */
    th[21] = 10;
    fix_l4_csum(th, 28, 4, 6, SRC4, DST4);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(st.events[VG_DEC_TCP_BAD_OPTIONS], 1);
    cr_assert_eq(st.invalid, 0);
    cr_assert(p.flags & VG_PKT_HAS_L4);
}

/* ---- every truncation ---- */

struct frame {
    const char *name;
    int link;
    uint8_t b[MAX_FRAME];
    size_t len;
    size_t l4_end; /* offset where the L4 header (or the last header) ends */
};

static void make_frames(struct frame *fr, size_t *count)
{
    size_t k = 0;
    uint8_t ext[64], l4[256], l3[256];

    fr[k] = (struct frame){.name = "eth ipv4 tcp", .link = VG_LINK_ETHERNET};
    fr[k].len = eth4(fr[k].b, 6, 1, 2, 0x18, PAYLOAD, 12);
    fr[k].l4_end = 54;
    k++;

    fr[k] = (struct frame){.name = "qinq ipv4 udp", .link = VG_LINK_ETHERNET};
    {
        size_t n = build_l4(l4, 4, 17, SRC4, DST4, 1, 2, 0, PAYLOAD, 12);
        n = build_ipv4(l3, 17, 0, l4, n);
        uint16_t tpid[] = {0x88a8, 0x8100}, vid[] = {1, 2};
        fr[k].len = build_eth(fr[k].b, tpid, vid, 2, 0x0800, l3, n);
        fr[k].l4_end = 22 + 20 + 8;
    }
    k++;

    fr[k] = (struct frame){.name = "eth ipv4 icmp", .link = VG_LINK_ETHERNET};
    fr[k].len = eth4(fr[k].b, 1, 8, 0, 0, PAYLOAD, 12);
    fr[k].l4_end = 14 + 20 + 8;
    k++;

    fr[k] = (struct frame){.name = "eth ipv6 ext udp", .link = VG_LINK_ETHERNET};
    {
        size_t el = ext_hbh_dst(ext, 17);
        fr[k].len = eth6(fr[k].b, 0, ext, el, 17, 1, 2, PAYLOAD, 12);
        fr[k].l4_end = 14 + 40 + el + 8;
    }
    k++;

    fr[k] = (struct frame){.name = "eth ipv6 icmpv6", .link = VG_LINK_ETHERNET};
    fr[k].len = eth6(fr[k].b, 0, NULL, 0, 58, 128, 0, PAYLOAD, 12);
    fr[k].l4_end = 14 + 40 + 8;
    k++;

    fr[k] = (struct frame){.name = "sll ipv4 tcp", .link = VG_LINK_LINUX_SLL};
    {
        size_t n = build_l4(l4, 4, 6, SRC4, DST4, 1, 2, 0x18, PAYLOAD, 12);
        n = build_ipv4(l3, 6, 0, l4, n);
        memset(fr[k].b, 0, 16);
        put16(fr[k].b + 14, 0x0800);
        memcpy(fr[k].b + 16, l3, n);
        fr[k].len = 16 + n;
        fr[k].l4_end = 16 + 40;
    }
    k++;

    fr[k] = (struct frame){.name = "sll2 ipv6 tcp", .link = VG_LINK_LINUX_SLL2};
    {
        size_t n = build_l4(l4, 6, 6, SRC6, DST6, 1, 2, 0x18, PAYLOAD, 12);
        n = build_ipv6(l3, 6, NULL, 0, l4, n);
        memset(fr[k].b, 0, 20);
        put16(fr[k].b, 0x86dd);
        memcpy(fr[k].b + 20, l3, n);
        fr[k].len = 20 + n;
        fr[k].l4_end = 20 + 60;
    }
    k++;

    fr[k] = (struct frame){.name = "null ipv4 udp", .link = VG_LINK_NULL};
    {
        size_t n = build_l4(l4, 4, 17, SRC4, DST4, 1, 2, 0, PAYLOAD, 12);
        n = build_ipv4(l3, 17, 0, l4, n);
        uint32_t af = 2;
        memcpy(fr[k].b, &af, 4);
        memcpy(fr[k].b + 4, l3, n);
        fr[k].len = 4 + n;
        fr[k].l4_end = 4 + 28;
    }
    k++;

    fr[k] = (struct frame){.name = "raw ipv6 fragment", .link = VG_LINK_RAW};
    {
        memset(ext, 0, 8);
        ext[0] = 17;
        put16(ext + 2, 1);
        size_t n = build_l4(l4, 6, 17, SRC6, DST6, 1, 2, 0, PAYLOAD, 12);
        fr[k].len = build_ipv6(fr[k].b, 44, ext, 8, l4, n);
        fr[k].l4_end = 48;
    }
    k++;
    *count = k;
}

/* Cut every frame at every length. With the wire length equal to the cut
 * the length fields lie, so each cut is exactly one counted anomaly. With the
 * original wire length (a snapshot length) the packet survives once all its
 * headers are in. The copy has exactly the captured size, so ASan sees any
 * read past it. */
Test(decode, every_truncation)
{
    static struct frame fr[16];
    size_t nfr;
    make_frames(fr, &nfr);
    for (size_t i = 0; i < nfr; i++) {
        struct vg_packet p;
        struct vg_decode_stats st = {0};
        cr_assert_eq(decode(fr[i].b, fr[i].len, fr[i].link, VG_CSUM_ALL, &p, &st), 0, "%s",
                     fr[i].name);
        cr_assert_eq(events_total(&st), 0, "%s", fr[i].name);
        for (size_t cut = 0; cut < fr[i].len; cut++) {
            uint8_t *copy = malloc(cut > 0 ? cut : 1);
            memcpy(copy, fr[i].b, cut);

            memset(&st, 0, sizeof(st));
            int rc = decode(copy, cut, fr[i].link, VG_CSUM_ALL, &p, &st);
            cr_assert_eq(rc, -1, "%s cut at %zu", fr[i].name, cut);
            cr_assert_eq(st.invalid, 1, "%s cut at %zu", fr[i].name, cut);
            cr_assert_eq(events_total(&st), 1, "%s cut at %zu", fr[i].name, cut);

            memset(&st, 0, sizeof(st));
            rc = decode_wire(copy, (uint32_t)cut, (uint32_t)fr[i].len, fr[i].link, VG_CSUM_ALL, &p,
                             &st);
            if (cut < fr[i].l4_end) {
                cr_assert_eq(rc, -1, "%s snap at %zu", fr[i].name, cut);
                cr_assert_eq(events_total(&st), 1, "%s snap at %zu", fr[i].name, cut);
            } else {
                cr_assert_eq(rc, 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert(p.flags & VG_PKT_TRUNCATED);
                cr_assert_eq(events_total(&st), 0, "%s snap at %zu", fr[i].name, cut);
                cr_assert(p.payload + p.payload_len <= copy + cut);
            }
            free(copy);
        }
    }
}

/* Random bytes must never crash or read outside the packet. */
Test(decode, random_bytes_fuzz)
{
    uint32_t seed = 99;
    int links[] = {0, 1, 101, 113, 228, 229, 276};
    struct vg_decode_stats st = {0};
    uint8_t base[128];
    size_t n = eth4(base, 6, 1, 2, 0x18, PAYLOAD, 20);
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 1664525u + 1013904223u;
        size_t len = (seed >> 8) % (n + 1);
        uint8_t *b = malloc(len > 0 ? len : 1);
        memcpy(b, base, len);
        /* flip a few bytes of a valid frame, so decoding gets deep */
        for (int k = 0; k < 3 && len > 0; k++) {
            seed = seed * 1664525u + 1013904223u;
            b[(seed >> 8) % len] = (uint8_t)(seed >> 24);
        }
        struct vg_packet p;
        int link = links[iter % VG_ARRAY_SIZE(links)];
        int rc = decode(b, len, link, VG_CSUM_COUNT, &p, &st);
        if (rc == 0) {
            cr_assert(p.l3 >= b && p.l3 + p.l3_len <= b + len);
            cr_assert(p.payload == NULL || p.payload + p.payload_len <= b + len);
        }
        free(b);
    }
    cr_assert_eq(st.pkts, 20000);
}

/* ---- helpers ---- */

Test(decode, rebase_moves_pointers)
{
    uint8_t f[MAX_FRAME], g[MAX_FRAME];
    size_t n = eth4(f, 6, 1, 2, 0x18, PAYLOAD, PAYLOAD_LEN);
    struct vg_packet p;
    struct vg_decode_stats st = {0};
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    memcpy(g, f, n);
    vg_packet_rebase(&p, g);
    cr_assert_eq(p.data, g);
    cr_assert_eq(p.l3, g + 14);
    cr_assert_eq(p.l4, g + 34);
    cr_assert_eq(p.payload, g + 54);

    /* A fragment has no l4 pointer; it stays NULL. */
    n = eth6(f, 44, (const uint8_t[]){17, 0, 0, 1, 0, 0, 0, 1}, 8, 17, 1, 2, PAYLOAD, 4);
    cr_assert_eq(decode(f, n, VG_LINK_ETHERNET, VG_CSUM_ALL, &p, &st), 0);
    cr_assert_eq(p.l4, NULL);
    memcpy(g, f, n);
    vg_packet_rebase(&p, g);
    cr_assert_eq(p.l4, NULL);
    cr_assert_eq(p.payload, g + 14 + 48);
}

Test(decode, stats_add)
{
    struct vg_decode_stats a = {0}, b = {0};
    a.pkts = 3;
    a.events[VG_DEC_UDP_BAD_LEN] = 2;
    b.pkts = 4;
    b.csum_dropped = 1;
    b.events[VG_DEC_UDP_BAD_LEN] = 5;
    b.events[VG_DEC_EVENT_COUNT - 1] = 7;
    vg_decode_stats_add(&a, &b);
    cr_assert_eq(a.pkts, 7);
    cr_assert_eq(a.csum_dropped, 1);
    cr_assert_eq(a.events[VG_DEC_UDP_BAD_LEN], 7);
    cr_assert_eq(a.events[VG_DEC_EVENT_COUNT - 1], 7);
}

Test(decode, event_names)
{
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_LINK_TRUNCATED), "ethernet.pkt_too_small");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_VLAN_TRUNCATED), "vlan.header_too_small");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_TRUNCATED), "ipv4.trunc_pkt");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_BAD_VERSION), "ipv4.wrong_ip_version");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_BAD_HLEN), "ipv4.hlen_too_small");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_BAD_TOTAL_LEN),
                     "ipv4.iplen_smaller_than_hlen");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_BAD_OPTIONS), "ipv4.opt_invalid");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV6_BAD_VERSION), "ipv6.wrong_ip_version");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV6_BAD_PAYLOAD_LEN), "ipv6.trunc_pkt");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV6_EXTHDR_TRUNCATED), "ipv6.trunc_exthdr");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV6_TOO_MANY_EXTHDRS), "ipv6.exthdr_too_many");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_IPV4_BAD_CHECKSUM), "ipv4.csum_invalid");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_UDP_BAD_CHECKSUM), "udp.csum_invalid");
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_ICMP_BAD_CHECKSUM), "icmp.csum_invalid");
    for (int i = 0; i < VG_DEC_EVENT_COUNT; i++) {
        const char *a = vg_decode_event_name(i);
        cr_assert_not_null(a);
        cr_assert_not_null(strchr(a, '.'), "%s", a);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq(a, vg_decode_event_name(j));
    }
    cr_assert_str_eq(vg_decode_event_name(VG_DEC_EVENT_COUNT), "unknown");
}
