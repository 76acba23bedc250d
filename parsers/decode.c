/* Packet decoding: link layer, VLAN tags, IPv4, IPv6 and its extension
 * headers, TCP, UDP, ICMP and ICMPv6.
 *
 * Two lengths bound every layer: the captured bytes (what we may read) and
 * the wire length (what the sender put on the link). A length field larger
 * than the wire frame is a lie and an anomaly; one larger than the capture
 * but within the wire frame only means the snapshot length cut the packet,
 * which is not the packet's fault, so the headers we do have are kept. */
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "vigil/packet.h"

#define ETH_HDR_LEN   14
#define VLAN_HDR_LEN  4
#define SLL_HDR_LEN   16
#define SLL2_HDR_LEN  20
#define NULL_HDR_LEN  4
#define IPV4_HDR_LEN  20
#define IPV6_HDR_LEN  40
#define TCP_HDR_LEN   20
#define UDP_HDR_LEN   8
#define ICMP_HDR_LEN  8
#define IPV6_EXT_MIN  8
#define IPV6_MAX_EXTS 8

#define ETHERTYPE_IPV4   0x0800
#define ETHERTYPE_IPV6   0x86dd
#define ETHERTYPE_8021Q  0x8100
#define ETHERTYPE_8021AD 0x88a8
#define ETHERTYPE_QINQ   0x9100

/* BSD address family values found in DLT_NULL headers: AF_INET is 2
 * everywhere, AF_INET6 differs between the BSDs (24 NetBSD/OpenBSD,
 * 28 FreeBSD, 30 Darwin). */
#define BSD_AF_INET       2
#define BSD_AF_INET6_BSD  24
#define BSD_AF_INET6_FBSD 28
#define BSD_AF_INET6_DARW 30

#define IPV4_MF        0x2000
#define IPV4_OFFSET    0x1fff
#define OPT_EOL        0
#define OPT_NOP        1
#define CSUM_VALID_SUM 0xffff

/* Where one decode call stands: the packet, its bounds, and the policy. */
struct decoder {
    struct vg_packet *p;
    struct vg_decode_stats *st;
    const uint8_t *data;
    uint32_t cap;  /* bytes we may read */
    uint32_t wire; /* bytes the frame had on the link (>= cap) */
    enum vg_checksum_mode csum;
};

/* What an L4 decoder needs to know about the IP layer below it. */
struct l4_ctx {
    const uint8_t *l4;
    uint32_t dgram_len; /* L4 bytes according to the IP header */
    uint32_t cap_len;   /* of which captured */
    uint64_t addr_sum;  /* checksum of the pseudo header addresses */
    bool csum_ok;       /* false when the pseudo header is unknown */
};

static const char *const event_names[VG_DEC_EVENT_COUNT] = {
    [VG_DEC_LINK_TRUNCATED] = "ethernet.pkt_too_small",
    [VG_DEC_VLAN_TRUNCATED] = "vlan.header_too_small",
    [VG_DEC_VLAN_TOO_MANY] = "vlan.too_many_layers",
    [VG_DEC_IPV4_TRUNCATED] = "ipv4.trunc_pkt",
    [VG_DEC_IPV4_BAD_VERSION] = "ipv4.wrong_ip_version",
    [VG_DEC_IPV4_BAD_HLEN] = "ipv4.hlen_too_small",
    [VG_DEC_IPV4_BAD_TOTAL_LEN] = "ipv4.iplen_smaller_than_hlen",
    [VG_DEC_IPV4_BAD_OPTIONS] = "ipv4.opt_invalid",
    [VG_DEC_IPV6_TRUNCATED] = "ipv6.pkt_too_small",
    [VG_DEC_IPV6_BAD_VERSION] = "ipv6.wrong_ip_version",
    [VG_DEC_IPV6_BAD_PAYLOAD_LEN] = "ipv6.trunc_pkt",
    [VG_DEC_IPV6_EXTHDR_TRUNCATED] = "ipv6.trunc_exthdr",
    [VG_DEC_IPV6_TOO_MANY_EXTHDRS] = "ipv6.exthdr_too_many",
    [VG_DEC_TCP_TRUNCATED] = "tcp.pkt_too_small",
    [VG_DEC_TCP_BAD_HLEN] = "tcp.hlen_too_small",
    [VG_DEC_TCP_BAD_OPTIONS] = "tcp.invalid_optlen",
    [VG_DEC_UDP_TRUNCATED] = "udp.pkt_too_small",
    [VG_DEC_UDP_BAD_LEN] = "udp.len_invalid",
    [VG_DEC_ICMPV4_TRUNCATED] = "icmpv4.pkt_too_small",
    [VG_DEC_ICMPV6_TRUNCATED] = "icmpv6.pkt_too_small",
    [VG_DEC_IPV4_BAD_CHECKSUM] = "ipv4.csum_invalid",
    [VG_DEC_TCP_BAD_CHECKSUM] = "tcp.csum_invalid",
    [VG_DEC_UDP_BAD_CHECKSUM] = "udp.csum_invalid",
    [VG_DEC_ICMP_BAD_CHECKSUM] = "icmp.csum_invalid",
};

const char *vg_decode_event_name(enum vg_decode_event ev)
{
    if ((unsigned)ev >= VG_DEC_EVENT_COUNT)
        return "unknown";
    return event_names[ev];
}

bool vg_linktype_supported(int linktype)
{
    switch (linktype) {
    case VG_LINK_NULL:
    case VG_LINK_ETHERNET:
    case VG_LINK_RAW:
    case VG_LINK_RAW_DLT12:
    case VG_LINK_RAW_DLT14:
    case VG_LINK_LINUX_SLL:
    case VG_LINK_IPV4:
    case VG_LINK_IPV6:
    case VG_LINK_LINUX_SLL2:
        return true;
    default:
        return false;
    }
}

static inline uint16_t rd16(const uint8_t *b)
{
    return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

static inline uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Counts a malformed layer and drops the packet. */
static inline int malformed(struct decoder *d, enum vg_decode_event ev)
{
    d->st->events[ev]++;
    d->st->invalid++;
    return -1;
}

/* ---- Internet checksum (RFC 1071) ----
 *
 * The sum runs over 64-bit words loaded in host order, with the carries out
 * of each accumulator counted on the side (2^64 is 1 modulo 0xffff, so a
 * carry is worth one), and is folded to 16 bits once at the end. Loading in
 * host order only byte-swaps the folded result, and a valid checksum folds
 * to 0xffff in either order. */
static inline uint64_t csum_add(uint64_t a, uint64_t b)
{
    uint64_t s = a + b;
    return s + (s < b);
}

static uint64_t csum_partial(const uint8_t *b, uint32_t len, uint64_t sum)
{
    uint64_t s0 = sum, s1 = 0, c0 = 0, c1 = 0;
    uint64_t w[2];
    /* Two independent add chains keep both ALUs busy. */
    while (len >= 16) {
        memcpy(w, b, 16);
        s0 += w[0];
        c0 += s0 < w[0];
        s1 += w[1];
        c1 += s1 < w[1];
        b += 16;
        len -= 16;
    }
    if (len >= 8) {
        memcpy(w, b, 8);
        s0 += w[0];
        c0 += s0 < w[0];
        b += 8;
        len -= 8;
    }
    if (len > 0) {
        /* Pad in memory order, so an odd last byte is the high half of its word. */
        uint8_t tail[8] = {0};
        memcpy(tail, b, len);
        memcpy(w, tail, 8);
        s1 += w[0];
        c1 += s1 < w[0];
    }
    return csum_add(csum_add(s0, s1), c0 + c1);
}

static uint16_t csum_fold(uint64_t s)
{
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffffffu) + (s >> 32);
    s = (s & 0xffffu) + (s >> 16);
    s = (s & 0xffffu) + (s >> 16);
    return (uint16_t)s;
}

/* Length and protocol part of the TCP/UDP/ICMPv6 pseudo header. The IPv6
 * layout (32-bit length, then the next header) sums to the same value as the
 * IPv4 one (zero, protocol, 16-bit length) for lengths below 64 KiB. */
static uint64_t csum_pseudo_tail(uint32_t len, uint8_t proto)
{
    const uint8_t b[8] = {(uint8_t)(len >> 24),
                          (uint8_t)(len >> 16),
                          (uint8_t)(len >> 8),
                          (uint8_t)len,
                          0,
                          0,
                          0,
                          proto};
    return csum_partial(b, sizeof(b), 0);
}

static bool l4_csum_valid(const struct l4_ctx *c, uint8_t proto, uint32_t len)
{
    uint64_t s = csum_add(c->addr_sum, csum_pseudo_tail(len, proto));
    return csum_fold(csum_partial(c->l4, len, s)) == CSUM_VALID_SUM;
}

static void l4_csum_bad(struct decoder *d, enum vg_decode_event ev)
{
    d->p->flags |= VG_PKT_L4_CSUM_BAD;
    d->st->events[ev]++;
}

/* ---- L4 ---- */

/* IPv4 and TCP options share one layout (kind, length, data; EOL = 0 ends
 * the list, NOP = 1 is a single byte): each option must fit in the header. */
static bool options_valid(const uint8_t *opt, uint32_t len)
{
    uint32_t i = 0;
    while (i < len) {
        uint8_t kind = opt[i];
        if (kind == OPT_EOL)
            return true;
        if (kind == OPT_NOP) {
            i++;
            continue;
        }
        if (len - i < 2)
            return false;
        uint8_t olen = opt[i + 1];
        if (olen < 2 || olen > len - i)
            return false;
        i += olen;
    }
    return true;
}

static int decode_tcp(struct decoder *d, const struct l4_ctx *c)
{
    struct vg_packet *p = d->p;
    d->st->tcp++;
    if (VG_UNLIKELY(c->dgram_len < TCP_HDR_LEN || c->cap_len < TCP_HDR_LEN))
        return malformed(d, VG_DEC_TCP_TRUNCATED);
    const uint8_t *th = c->l4;
    uint32_t hlen = (uint32_t)(th[12] >> 4) * 4;
    if (VG_UNLIKELY(hlen < TCP_HDR_LEN || hlen > c->dgram_len))
        return malformed(d, VG_DEC_TCP_BAD_HLEN);
    if (VG_UNLIKELY(hlen > c->cap_len))
        return malformed(d, VG_DEC_TCP_TRUNCATED);
    /* Receivers ignore malformed options and still take the segment, so
     * the anomaly is counted but the packet is analysed. */
    if (VG_UNLIKELY(hlen > TCP_HDR_LEN && !options_valid(th + TCP_HDR_LEN, hlen - TCP_HDR_LEN)))
        d->st->events[VG_DEC_TCP_BAD_OPTIONS]++;

    p->sport = rd16(th);
    p->dport = rd16(th + 2);
    p->tcp_seq = rd32(th + 4);
    p->tcp_ack = rd32(th + 8);
    p->tcp_flags = th[13];
    p->tcp_win = rd16(th + 14);
    p->l4 = th;
    p->payload = th + hlen;
    p->payload_len = c->cap_len - hlen;
    p->flags |= VG_PKT_HAS_L4;

    if (d->csum != VG_CSUM_NONE && c->csum_ok && c->cap_len == c->dgram_len &&
        !l4_csum_valid(c, IPPROTO_TCP, c->dgram_len))
        l4_csum_bad(d, VG_DEC_TCP_BAD_CHECKSUM);
    return 0;
}

static int decode_udp(struct decoder *d, const struct l4_ctx *c)
{
    struct vg_packet *p = d->p;
    d->st->udp++;
    if (VG_UNLIKELY(c->dgram_len < UDP_HDR_LEN || c->cap_len < UDP_HDR_LEN))
        return malformed(d, VG_DEC_UDP_TRUNCATED);
    const uint8_t *uh = c->l4;
    uint32_t ulen = rd16(uh + 4);
    if (VG_UNLIKELY(ulen < UDP_HDR_LEN || ulen > c->dgram_len))
        return malformed(d, VG_DEC_UDP_BAD_LEN);

    p->sport = rd16(uh);
    p->dport = rd16(uh + 2);
    p->l4 = uh;
    p->payload = uh + UDP_HDR_LEN;
    /* Bytes past the UDP length are IP-level padding, not payload. */
    p->payload_len = min_u32(ulen, c->cap_len) - UDP_HDR_LEN;
    p->flags |= VG_PKT_HAS_L4;

    /* Over IPv4 a zero checksum means the sender did not compute one. */
    bool has_csum = p->family == 6 || rd16(uh + 6) != 0;
    if (d->csum != VG_CSUM_NONE && has_csum && c->csum_ok && c->cap_len >= ulen &&
        !l4_csum_valid(c, IPPROTO_UDP, ulen))
        l4_csum_bad(d, VG_DEC_UDP_BAD_CHECKSUM);
    return 0;
}

static int decode_icmp(struct decoder *d, const struct l4_ctx *c, bool v6)
{
    struct vg_packet *p = d->p;
    if (v6)
        d->st->icmpv6++;
    else
        d->st->icmpv4++;
    if (VG_UNLIKELY(c->dgram_len < ICMP_HDR_LEN || c->cap_len < ICMP_HDR_LEN))
        return malformed(d, v6 ? VG_DEC_ICMPV6_TRUNCATED : VG_DEC_ICMPV4_TRUNCATED);

    p->icmp_type = c->l4[0];
    p->icmp_code = c->l4[1];
    p->l4 = c->l4;
    p->payload = c->l4 + ICMP_HDR_LEN;
    p->payload_len = c->cap_len - ICMP_HDR_LEN;
    p->flags |= VG_PKT_HAS_L4;

    /* ICMPv6 covers a pseudo header, ICMP only its own bytes. */
    if (d->csum != VG_CSUM_NONE && c->csum_ok && c->cap_len == c->dgram_len) {
        bool ok = v6 ? l4_csum_valid(c, IPPROTO_ICMPV6, c->dgram_len)
                     : csum_fold(csum_partial(c->l4, c->dgram_len, 0)) == CSUM_VALID_SUM;
        if (!ok)
            l4_csum_bad(d, VG_DEC_ICMP_BAD_CHECKSUM);
    }
    return 0;
}

static int decode_l4(struct decoder *d, const struct l4_ctx *c)
{
    struct vg_packet *p = d->p;
    switch (p->proto) {
    case IPPROTO_TCP:
        return decode_tcp(d, c);
    case IPPROTO_UDP:
        return decode_udp(d, c);
    case IPPROTO_ICMP:
        if (p->family == 4)
            return decode_icmp(d, c, false);
        break;
    case IPPROTO_ICMPV6:
        if (p->family == 6)
            return decode_icmp(d, c, true);
        break;
    default:
        break;
    }
    /* GRE, ESP, SCTP and the rest: an IP packet without ports. */
    d->st->other_ip_proto++;
    p->payload = c->l4;
    p->payload_len = c->cap_len;
    return 0;
}

/* A first fragment still shows the ports when its L4 header is there; they
 * are informative only (no VG_PKT_HAS_L4) until the datagram is rebuilt. */
static void fragment_peek_l4(struct vg_packet *p, const uint8_t *l4, uint32_t cap_len)
{
    switch (p->proto) {
    case IPPROTO_TCP:
        if (cap_len >= TCP_HDR_LEN) {
            p->sport = rd16(l4);
            p->dport = rd16(l4 + 2);
            p->tcp_flags = l4[13];
        }
        break;
    case IPPROTO_UDP:
        if (cap_len >= UDP_HDR_LEN) {
            p->sport = rd16(l4);
            p->dport = rd16(l4 + 2);
        }
        break;
    case IPPROTO_ICMP:
    case IPPROTO_ICMPV6:
        if (cap_len >= ICMP_HDR_LEN) {
            p->icmp_type = l4[0];
            p->icmp_code = l4[1];
        }
        break;
    default:
        break;
    }
}

/* ---- IPv4 ---- */

static int decode_ipv4(struct decoder *d, uint32_t off)
{
    struct vg_packet *p = d->p;
    d->st->ipv4++;
    uint32_t avail = d->cap - off;
    if (VG_UNLIKELY(avail < IPV4_HDR_LEN))
        return malformed(d, VG_DEC_IPV4_TRUNCATED);
    const uint8_t *ip = d->data + off;
    if (VG_UNLIKELY(ip[0] >> 4 != 4))
        return malformed(d, VG_DEC_IPV4_BAD_VERSION);
    uint32_t hlen = (uint32_t)(ip[0] & 0x0f) * 4;
    if (VG_UNLIKELY(hlen < IPV4_HDR_LEN))
        return malformed(d, VG_DEC_IPV4_BAD_HLEN);
    uint32_t total = rd16(ip + 2);
    if (VG_UNLIKELY(total < hlen))
        return malformed(d, VG_DEC_IPV4_BAD_TOTAL_LEN);
    if (VG_UNLIKELY(total > d->wire - off || hlen > avail))
        return malformed(d, VG_DEC_IPV4_TRUNCATED);
    if (VG_UNLIKELY(hlen > IPV4_HDR_LEN && !options_valid(ip + IPV4_HDR_LEN, hlen - IPV4_HDR_LEN)))
        return malformed(d, VG_DEC_IPV4_BAD_OPTIONS);

    p->family = 4;
    p->ttl = ip[8];
    p->proto = ip[9];
    memcpy(p->src.b, ip + 12, 4);
    memcpy(p->dst.b, ip + 16, 4);
    p->l3 = ip;
    /* Ethernet pads short frames: what lies past total_len is not IP. */
    p->l3_len = min_u32(total, avail);

    if (d->csum != VG_CSUM_NONE && csum_fold(csum_partial(ip, hlen, 0)) != CSUM_VALID_SUM) {
        p->flags |= VG_PKT_IPV4_CSUM_BAD;
        d->st->events[VG_DEC_IPV4_BAD_CHECKSUM]++;
    }

    const uint8_t *l4 = ip + hlen;
    uint32_t cap_len = p->l3_len - hlen;
    uint16_t frag = rd16(ip + 6);
    if (VG_UNLIKELY(frag & (IPV4_MF | IPV4_OFFSET))) {
        p->flags |= VG_PKT_FRAGMENT;
        d->st->ipv4_frag++;
        p->payload = l4;
        p->payload_len = cap_len;
        if ((frag & IPV4_OFFSET) == 0)
            fragment_peek_l4(p, l4, cap_len);
        return 0;
    }

    struct l4_ctx c = {.l4 = l4, .dgram_len = total - hlen, .cap_len = cap_len, .csum_ok = true};
    if (d->csum != VG_CSUM_NONE)
        c.addr_sum = csum_partial(ip + 12, 8, 0);
    return decode_l4(d, &c);
}

/* ---- IPv6 ---- */

static int decode_ipv6(struct decoder *d, uint32_t off)
{
    struct vg_packet *p = d->p;
    d->st->ipv6++;
    uint32_t avail = d->cap - off;
    if (VG_UNLIKELY(avail < IPV6_HDR_LEN))
        return malformed(d, VG_DEC_IPV6_TRUNCATED);
    const uint8_t *ip = d->data + off;
    if (VG_UNLIKELY(ip[0] >> 4 != 6))
        return malformed(d, VG_DEC_IPV6_BAD_VERSION);
    uint32_t total = IPV6_HDR_LEN + rd16(ip + 4);
    if (VG_UNLIKELY(total > d->wire - off))
        return malformed(d, VG_DEC_IPV6_BAD_PAYLOAD_LEN);

    p->family = 6;
    p->ttl = ip[7];
    memcpy(p->src.b, ip + 8, 16);
    memcpy(p->dst.b, ip + 24, 16);
    p->l3 = ip;
    p->l3_len = min_u32(total, avail);

    /* Walk the extension headers within the captured part of the datagram. */
    const uint32_t end = p->l3_len;
    uint32_t hoff = IPV6_HDR_LEN;
    uint8_t nh = ip[6];
    unsigned n_ext = 0;
    bool fragment = false, later_fragment = false, final_dst_known = true;
    for (;;) {
        uint32_t hlen;
        switch (nh) {
        case IPPROTO_HOPOPTS:
        case IPPROTO_ROUTING:
        case IPPROTO_DSTOPTS:
        case IPPROTO_FRAGMENT:
        case IPPROTO_AH:
            break;
        default:
            goto upper_layer;
        }
        if (VG_UNLIKELY(++n_ext > IPV6_MAX_EXTS))
            return malformed(d, VG_DEC_IPV6_TOO_MANY_EXTHDRS);
        if (VG_UNLIKELY(end - hoff < IPV6_EXT_MIN))
            return malformed(d, VG_DEC_IPV6_EXTHDR_TRUNCATED);
        const uint8_t *h = ip + hoff;
        if (nh == IPPROTO_FRAGMENT)
            hlen = IPV6_EXT_MIN;
        else if (nh == IPPROTO_AH)
            hlen = ((uint32_t)h[1] + 2) * 4;
        else
            hlen = ((uint32_t)h[1] + 1) * 8;
        if (VG_UNLIKELY(hlen > end - hoff))
            return malformed(d, VG_DEC_IPV6_EXTHDR_TRUNCATED);
        if (nh == IPPROTO_ROUTING && h[3] != 0) {
            /* Segments left: the pseudo header uses a destination we do not
             * parse, so L4 checksums are not judged. */
            final_dst_known = false;
        } else if (nh == IPPROTO_FRAGMENT) {
            uint16_t fo = rd16(h + 2);
            /* An atomic fragment (offset 0, no M flag) is a whole packet (RFC 6946). */
            if ((fo & 0xfff9) != 0) {
                fragment = true;
                later_fragment = (fo >> 3) != 0;
            }
        }
        nh = h[0];
        hoff += hlen;
        if (later_fragment)
            break; /* the rest is fragment data, not headers */
    }
upper_layer:
    p->proto = nh;
    if (VG_UNLIKELY(fragment)) {
        p->flags |= VG_PKT_FRAGMENT;
        d->st->ipv6_frag++;
        p->payload = ip + hoff;
        p->payload_len = end - hoff;
        if (!later_fragment)
            fragment_peek_l4(p, ip + hoff, end - hoff);
        return 0;
    }

    struct l4_ctx c = {.l4 = ip + hoff,
                       .dgram_len = total - hoff,
                       .cap_len = end - hoff,
                       .csum_ok = final_dst_known};
    if (d->csum != VG_CSUM_NONE)
        c.addr_sum = csum_partial(ip + 8, 32, 0);
    return decode_l4(d, &c);
}

/* ---- link layer ---- */

static int decode_ethertype(struct decoder *d, uint32_t off, uint16_t type)
{
    struct vg_packet *p = d->p;
    for (;;) {
        switch (type) {
        case ETHERTYPE_IPV4:
            return decode_ipv4(d, off);
        case ETHERTYPE_IPV6:
            return decode_ipv6(d, off);
        case ETHERTYPE_8021Q:
        case ETHERTYPE_8021AD:
        case ETHERTYPE_QINQ:
            if (VG_UNLIKELY(p->vlan_count >= VG_MAX_VLAN))
                return malformed(d, VG_DEC_VLAN_TOO_MANY);
            if (VG_UNLIKELY(d->cap - off < VLAN_HDR_LEN))
                return malformed(d, VG_DEC_VLAN_TRUNCATED);
            p->vlan[p->vlan_count++] = rd16(d->data + off) & 0x0fff;
            if (p->vlan_count == 1)
                d->st->vlan++;
            else
                d->st->vlan_qinq++;
            type = rd16(d->data + off + 2);
            off += VLAN_HDR_LEN;
            break;
        default:
            d->st->non_ip++;
            return -1;
        }
    }
}

static int decode_ethernet(struct decoder *d)
{
    d->st->ethernet++;
    if (VG_UNLIKELY(d->cap < ETH_HDR_LEN))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    return decode_ethertype(d, ETH_HDR_LEN, rd16(d->data + 12));
}

static int decode_sll(struct decoder *d)
{
    d->st->sll++;
    if (VG_UNLIKELY(d->cap < SLL_HDR_LEN))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    return decode_ethertype(d, SLL_HDR_LEN, rd16(d->data + 14));
}

static int decode_sll2(struct decoder *d)
{
    d->st->sll++;
    if (VG_UNLIKELY(d->cap < SLL2_HDR_LEN))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    return decode_ethertype(d, SLL2_HDR_LEN, rd16(d->data));
}

static int null_family(uint32_t af)
{
    switch (af) {
    case BSD_AF_INET:
        return 4;
    case BSD_AF_INET6_BSD:
    case BSD_AF_INET6_FBSD:
    case BSD_AF_INET6_DARW:
        return 6;
    default:
        return 0;
    }
}

static int decode_null(struct decoder *d)
{
    d->st->null++;
    if (VG_UNLIKELY(d->cap < NULL_HDR_LEN))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    /* The family is in the byte order of the machine that captured, which
     * need not be ours: accept either. */
    uint32_t af;
    memcpy(&af, d->data, sizeof(af));
    int family = null_family(af);
    if (family == 0)
        family = null_family(__builtin_bswap32(af));
    if (family == 4)
        return decode_ipv4(d, NULL_HDR_LEN);
    if (family == 6)
        return decode_ipv6(d, NULL_HDR_LEN);
    d->st->non_ip++;
    return -1;
}

static int decode_raw(struct decoder *d)
{
    d->st->raw++;
    if (VG_UNLIKELY(d->cap < 1))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    switch (d->data[0] >> 4) {
    case 4:
        return decode_ipv4(d, 0);
    case 6:
        return decode_ipv6(d, 0);
    default:
        return malformed(d, VG_DEC_IPV4_BAD_VERSION);
    }
}

int vg_decode(struct vg_packet *p, int linktype, enum vg_checksum_mode csum,
              struct vg_decode_stats *st)
{
    /* Reset everything decode fills; the caller's fields come first. */
    memset((uint8_t *)p + offsetof(struct vg_packet, family), 0,
           sizeof(*p) - offsetof(struct vg_packet, family));
    struct decoder d = {
        .p = p,
        .st = st,
        .data = p->data,
        .cap = p->caplen,
        .wire = p->wirelen > p->caplen ? p->wirelen : p->caplen,
        .csum = csum,
    };
    st->pkts++;
    st->bytes += d.wire;
    if (p->caplen < p->wirelen)
        p->flags |= VG_PKT_TRUNCATED;

    int rc;
    switch (linktype) {
    case VG_LINK_ETHERNET:
        rc = decode_ethernet(&d);
        break;
    case VG_LINK_LINUX_SLL:
        rc = decode_sll(&d);
        break;
    case VG_LINK_LINUX_SLL2:
        rc = decode_sll2(&d);
        break;
    case VG_LINK_RAW:
    case VG_LINK_RAW_DLT12:
    case VG_LINK_RAW_DLT14:
        rc = decode_raw(&d);
        break;
    case VG_LINK_IPV4:
        st->raw++;
        rc = decode_ipv4(&d, 0);
        break;
    case VG_LINK_IPV6:
        st->raw++;
        rc = decode_ipv6(&d, 0);
        break;
    case VG_LINK_NULL:
        rc = decode_null(&d);
        break;
    default:
        st->invalid++;
        return -1;
    }
    if (rc != 0)
        return rc;
    if (csum == VG_CSUM_ALL &&
        VG_UNLIKELY(p->flags & (VG_PKT_IPV4_CSUM_BAD | VG_PKT_L4_CSUM_BAD))) {
        st->csum_dropped++;
        return -1;
    }
    return 0;
}

static const uint8_t *rebase_ptr(const uint8_t *ptr, const uint8_t *old_data,
                                 const uint8_t *new_data)
{
    return ptr == NULL ? NULL : new_data + (ptr - old_data);
}

void vg_packet_rebase(struct vg_packet *p, const uint8_t *new_data)
{
    const uint8_t *old = p->data;
    p->l3 = rebase_ptr(p->l3, old, new_data);
    p->l4 = rebase_ptr(p->l4, old, new_data);
    p->payload = rebase_ptr(p->payload, old, new_data);
    p->data = new_data;
}

void vg_decode_stats_add(struct vg_decode_stats *dst, const struct vg_decode_stats *src)
{
    /* Every member is a uint64_t counter, so the struct sums as an array. */
    _Static_assert(sizeof(struct vg_decode_stats) % sizeof(uint64_t) == 0,
                   "decode stats must be made of uint64_t counters only");
    uint64_t d[sizeof(*dst) / sizeof(uint64_t)], s[sizeof(*src) / sizeof(uint64_t)];
    memcpy(d, dst, sizeof(d));
    memcpy(s, src, sizeof(s));
    for (size_t i = 0; i < VG_ARRAY_SIZE(d); i++)
        d[i] += s[i];
    memcpy(dst, d, sizeof(d));
}
