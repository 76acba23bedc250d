/* Packet decoding: link layer, VLAN tags, IPv4, IPv6 and its extension
 * headers, TCP, UDP, ICMP and ICMPv6, and the tunnels around them: MPLS,
 * GRE, ERSPAN I/II/III, VXLAN, Geneve, IP-in-IP, Teredo and PPPoE.
 *
 * Two lengths bound every layer: the captured bytes (what we may read) and
 * the wire length (what the sender put on the link). A length field larger
 * than the wire frame is a lie and an anomaly; one larger than the capture
 * but within the wire frame only means the snapshot length cut the packet,
 * which is not the packet's fault, so the headers we do have are kept.
 *
 * A tunnel narrows both bounds to the payload its carrier announces, so an
 * inner header cannot claim bytes beyond its tunnel. The inner packet then
 * overwrites the packet's addresses and ports, and the carrier's go to the
 * tunnel_* fields. UDP-carried tunnels (VXLAN, Geneve, Teredo) are only
 * taken when their header is fully valid; anything less on their port is a
 * plain UDP packet, since any application may use the port. */
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

#define ETHERTYPE_IPV4       0x0800
#define ETHERTYPE_IPV6       0x86dd
#define ETHERTYPE_8021Q      0x8100
#define ETHERTYPE_8021AD     0x88a8
#define ETHERTYPE_QINQ       0x9100
#define ETHERTYPE_ARP        0x0806
#define ETHERTYPE_TEB        0x6558 /* transparent Ethernet bridging */
#define ETHERTYPE_MPLS       0x8847
#define ETHERTYPE_MPLS_M     0x8848
#define ETHERTYPE_PPPOE_DISC 0x8863
#define ETHERTYPE_PPPOE_SESS 0x8864
#define ETHERTYPE_ERSPAN2    0x88be /* also type I, without GRE sequence number */
#define ETHERTYPE_ERSPAN3    0x22eb
#define ETHERTYPE_PPTP       0x880b

#define MPLS_ENTRY_LEN       4
#define MPLS_BOS             0x100u
#define MPLS_LABEL_V4_NULL   0
#define MPLS_LABEL_V6_NULL   2
#define MPLS_LABEL_IMPL_NULL 3
#define MPLS_PW_CW_LEN       4

#define GRE_HDR_LEN   4
#define GRE_F_CSUM    0x8000u
#define GRE_F_ROUTING 0x4000u
#define GRE_F_KEY     0x2000u
#define GRE_F_SEQ     0x1000u
#define GRE_F_SSR     0x0800u /* RFC 1701 strict source route */
#define GRE_RECUR     0x0700u
#define GRE_VERSION   0x0007u
#define GRE_OPT_LEN   4

#define ERSPAN2_HDR_LEN 8
#define ERSPAN3_HDR_LEN 12
#define ERSPAN3_SUB_LEN 8 /* platform-specific sub-header, when the O bit is set */
#define ERSPAN2_VERSION 1
#define ERSPAN3_VERSION 2
#define ERSPAN_SESSION  0x03ffu
#define ERSPAN3_FT_ETH  0
#define ERSPAN3_FT_IP   2

#define VXLAN_HDR_LEN     8
#define VXLAN_F_I         0x08u
#define GENEVE_HDR_LEN    8
#define GENEVE_OPT_HDR    4
#define TEREDO_AUTH_MIN   13 /* indicator, two lengths, nonce, confirmation */
#define TEREDO_ORIGIN_LEN 8

#define PPPOE_HDR_LEN  6
#define PPPOE_VER_TYPE 0x11
#define PPP_PROTO_LEN  2
#define PPP_IPV4       0x0021
#define PPP_IPV6       0x0057

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
    const struct vg_decode_config *cfg;
    const uint8_t *data;
    uint32_t cap;  /* bytes we may read (from data; a tunnel lowers it) */
    uint32_t wire; /* bytes the frame, or the current tunnel, had on the wire (>= cap) */
    enum vg_checksum_mode csum;
};

static const struct vg_decode_config default_config = {
    .csum = VG_CSUM_COUNT,
    .vxlan_enabled = true,
    .geneve_enabled = true,
    .teredo_enabled = true,
    .mpls_ethernet_pw = false,
    .n_vxlan_ports = 1,
    .n_geneve_ports = 1,
    .n_teredo_ports = 1,
    .vxlan_ports = {4789},
    .geneve_ports = {6081},
    .teredo_ports = {3544},
};

void vg_decode_config_default(struct vg_decode_config *dc)
{
    *dc = default_config;
}

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
    [VG_DEC_MPLS_HEADER_TOO_SMALL] = "mpls.header_too_small",
    [VG_DEC_MPLS_PKT_TOO_SMALL] = "mpls.pkt_too_small",
    [VG_DEC_MPLS_BAD_LABEL_IMPLICIT_NULL] = "mpls.bad_label_implicit_null",
    [VG_DEC_MPLS_UNKNOWN_PAYLOAD_TYPE] = "mpls.unknown_payload_type",
    [VG_DEC_GRE_PKT_TOO_SMALL] = "gre.pkt_too_small",
    [VG_DEC_GRE_WRONG_VERSION] = "gre.wrong_version",
    [VG_DEC_GRE_VERSION0_FLAGS] = "gre.version0_flags",
    [VG_DEC_ERSPAN_HEADER_TOO_SMALL] = "erspan.header_too_small",
    [VG_DEC_ERSPAN_UNSUPPORTED_VERSION] = "erspan.unsupported_version",
    [VG_DEC_ERSPAN_UNKNOWN_FRAME_TYPE] = "erspan.unknown_frame_type",
    [VG_DEC_VXLAN_INVALID_HEADER] = "vxlan.invalid_header",
    [VG_DEC_VXLAN_UNKNOWN_PAYLOAD_TYPE] = "vxlan.unknown_payload_type",
    [VG_DEC_GENEVE_INVALID_HEADER] = "geneve.invalid_header",
    [VG_DEC_GENEVE_UNKNOWN_PAYLOAD_TYPE] = "geneve.unknown_payload_type",
    [VG_DEC_TEREDO_INVALID] = "teredo.invalid_header",
    [VG_DEC_PPPOE_PKT_TOO_SMALL] = "pppoe.pkt_too_small",
    [VG_DEC_PPPOE_WRONG_VERSION] = "pppoe.wrong_version",
    [VG_DEC_PPPOE_WRONG_CODE] = "pppoe.wrong_code",
    [VG_DEC_PPP_PKT_TOO_SMALL] = "ppp.pkt_too_small",
    [VG_DEC_TOO_MANY_LAYERS] = "decoder.too_many_layers",
};

static const char *const tunnel_names[VG_TUNNEL_TYPE_COUNT] = {
    [VG_TUNNEL_NONE] = "none",       [VG_TUNNEL_GRE] = "gre",
    [VG_TUNNEL_ERSPAN1] = "erspan1", [VG_TUNNEL_ERSPAN2] = "erspan2",
    [VG_TUNNEL_ERSPAN3] = "erspan3", [VG_TUNNEL_VXLAN] = "vxlan",
    [VG_TUNNEL_GENEVE] = "geneve",   [VG_TUNNEL_IPIP] = "ipip",
    [VG_TUNNEL_TEREDO] = "teredo",   [VG_TUNNEL_MPLS] = "mpls",
    [VG_TUNNEL_PPPOE] = "pppoe",
};

const char *vg_tunnel_type_name(enum vg_tunnel_type t)
{
    if ((unsigned)t >= VG_TUNNEL_TYPE_COUNT)
        return "unknown";
    return tunnel_names[t];
}

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

_Static_assert(VG_DEC_EVENT_COUNT < 255, "decode_event holds an event number plus one");

/* Counts an anomaly and remembers it on the packet, for an EVE record. */
static inline void count_event(struct decoder *d, enum vg_decode_event ev)
{
    d->st->events[ev]++;
    d->p->decode_event = (uint8_t)(ev + 1);
}

/* Counts a malformed layer and drops the packet. */
static inline int malformed(struct decoder *d, enum vg_decode_event ev)
{
    count_event(d, ev);
    d->st->invalid++;
    return -1;
}

/* Layers call each other through tunnels. */
static int decode_ipv4(struct decoder *d, uint32_t off);
static int decode_ipv6(struct decoder *d, uint32_t off);
static int decode_ethernet_at(struct decoder *d, uint32_t off);
static int decode_mpls(struct decoder *d, uint32_t off);
static int decode_gre(struct decoder *d, const struct l4_ctx *c);
static int decode_ipip(struct decoder *d, const struct l4_ctx *c);
static int decode_udp_tunnel(struct decoder *d, const struct l4_ctx *c, uint32_t ulen);

/* decode_udp_tunnel() result: the datagram is no tunnel, analyse it as UDP. */
#define NOT_A_TUNNEL 1

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
    count_event(d, ev);
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
        count_event(d, VG_DEC_TCP_BAD_OPTIONS);

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

    int rc = decode_udp_tunnel(d, c, ulen);
    return rc == NOT_A_TUNNEL ? 0 : rc;
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

/* An IP packet without ports: GRE we do not open, ESP, SCTP and the rest. */
static int other_ip_proto(struct decoder *d, const struct l4_ctx *c)
{
    d->st->other_ip_proto++;
    d->p->payload = c->l4;
    d->p->payload_len = c->cap_len;
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
    case IPPROTO_GRE:
        return decode_gre(d, c);
    case IPPROTO_IPIP:
    case IPPROTO_IPV6:
        return decode_ipip(d, c);
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
    return other_ip_proto(d, c);
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
        count_event(d, VG_DEC_IPV4_BAD_CHECKSUM);
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

/* ---- tunnels ---- */

/* Opens one more encapsulation layer. from_ip: the packet's current IP (and
 * UDP) header carries it and becomes the tunnel's outer view; otherwise
 * (MPLS, PPPoE, ERSPAN over Ethernet) the carrier recorded before stays. A
 * layer without an identifier of its own (has_id false) keeps the one of the
 * layer around it. */
static int enter_tunnel(struct decoder *d, enum vg_tunnel_type type, bool has_id, uint32_t id,
                        bool from_ip)
{
    struct vg_packet *p = d->p;
    if (VG_UNLIKELY(p->encap_depth >= VG_MAX_ENCAP_DEPTH))
        return malformed(d, VG_DEC_TOO_MANY_LAYERS);
    p->encap_depth++;
    p->tunnel_type = (uint8_t)type;
    if (has_id)
        p->tunnel_id = id;
    if (from_ip) {
        p->tunnel_family = p->family;
        p->tunnel_proto = p->proto;
        p->tunnel_src = p->src;
        p->tunnel_dst = p->dst;
        p->tunnel_sport = p->sport;
        p->tunnel_dport = p->dport;
        /* The carrier's L4 view is not the inner packet's. Nor are its
         * checksums: they are counted, but -k all judges the packet that is
         * analysed (a tunnel endpoint with checksum offload often leaves
         * the outer UDP checksum wrong in its own capture). */
        p->sport = 0;
        p->dport = 0;
        p->l4 = NULL;
        p->payload = NULL;
        p->payload_len = 0;
        p->flags &= (uint16_t) ~(VG_PKT_HAS_L4 | VG_PKT_IPV4_CSUM_BAD | VG_PKT_L4_CSUM_BAD);
    }
    return 0;
}

/* From here on only [start, start + wire_len) belongs to the tunnel, of
 * which cap_len bytes were captured. */
static void narrow(struct decoder *d, uint32_t start, uint32_t cap_len, uint32_t wire_len)
{
    d->cap = start + cap_len;
    d->wire = start + wire_len;
}

/* The carrier's L4 payload, from the header at c->l4 plus hlen. */
static void narrow_to_l4(struct decoder *d, const struct l4_ctx *c, uint32_t hlen)
{
    uint32_t start = (uint32_t)(c->l4 - d->data) + hlen;
    narrow(d, start, c->cap_len - hlen, c->dgram_len - hlen);
}

/* An IP header right at off, by its version nibble. */
static int decode_ip_by_version(struct decoder *d, uint32_t off, enum vg_decode_event unknown)
{
    if (VG_UNLIKELY(d->cap - off < 1))
        return malformed(d, VG_DEC_IPV4_TRUNCATED);
    switch (d->data[off] >> 4) {
    case 4:
        return decode_ipv4(d, off);
    case 6:
        return decode_ipv6(d, off);
    default:
        return malformed(d, unknown);
    }
}

/* MPLS label stack (RFC 3032), then IPv4 / IPv6 by the version nibble, or an
 * Ethernet pseudowire after its control word (RFC 4385) when configured. */
static int decode_mpls(struct decoder *d, uint32_t off)
{
    d->st->mpls++;
    uint32_t entry;
    do {
        if (VG_UNLIKELY(d->cap - off < MPLS_ENTRY_LEN))
            return malformed(d, VG_DEC_MPLS_HEADER_TOO_SMALL);
        entry = rd32(d->data + off);
        off += MPLS_ENTRY_LEN;
    } while (!(entry & MPLS_BOS));
    uint32_t label = entry >> 12;
    /* Label 3 is only ever signalled, never sent. */
    if (VG_UNLIKELY(label == MPLS_LABEL_IMPL_NULL))
        return malformed(d, VG_DEC_MPLS_BAD_LABEL_IMPLICIT_NULL);
    if (VG_UNLIKELY(d->cap - off < 1))
        return malformed(d, VG_DEC_MPLS_PKT_TOO_SMALL);
    int rc = enter_tunnel(d, VG_TUNNEL_MPLS, false, 0, false);
    if (rc != 0)
        return rc;
    if (label == MPLS_LABEL_V4_NULL)
        return decode_ipv4(d, off);
    if (label == MPLS_LABEL_V6_NULL)
        return decode_ipv6(d, off);
    unsigned nibble = d->data[off] >> 4;
    if (nibble == 4)
        return decode_ipv4(d, off);
    if (nibble == 6)
        return decode_ipv6(d, off);
    if (nibble == 0 && d->cfg->mpls_ethernet_pw) {
        if (VG_UNLIKELY(d->cap - off < MPLS_PW_CW_LEN))
            return malformed(d, VG_DEC_MPLS_PKT_TOO_SMALL);
        return decode_ethernet_at(d, off + MPLS_PW_CW_LEN);
    }
    return malformed(d, VG_DEC_MPLS_UNKNOWN_PAYLOAD_TYPE);
}

/* ERSPAN type II and III headers (draft-foschiano-erspan) after a GRE
 * header; type I has none. Returns the offset of the mirrored frame and
 * sets *session and *is_ip, or -1 (counted). */
static int64_t erspan_header(struct decoder *d, uint32_t off, bool type3, uint32_t *session,
                             bool *is_ip)
{
    uint32_t avail = d->cap - off;
    uint32_t hlen = type3 ? ERSPAN3_HDR_LEN : ERSPAN2_HDR_LEN;
    if (VG_UNLIKELY(avail < hlen))
        return malformed(d, VG_DEC_ERSPAN_HEADER_TOO_SMALL);
    const uint8_t *h = d->data + off;
    unsigned version = h[0] >> 4;
    if (VG_UNLIKELY(version != (type3 ? ERSPAN3_VERSION : ERSPAN2_VERSION)))
        return malformed(d, VG_DEC_ERSPAN_UNSUPPORTED_VERSION);
    *session = rd16(h + 2) & ERSPAN_SESSION;
    *is_ip = false;
    if (type3) {
        uint16_t w = rd16(h + 10); /* P, FT(5), HW ID(6), D, Gra(2), O */
        unsigned frame_type = (w >> 10) & 0x1f;
        if (w & 1) {
            if (VG_UNLIKELY(avail < hlen + ERSPAN3_SUB_LEN))
                return malformed(d, VG_DEC_ERSPAN_HEADER_TOO_SMALL);
            hlen += ERSPAN3_SUB_LEN;
        }
        if (frame_type == ERSPAN3_FT_IP)
            *is_ip = true;
        else if (VG_UNLIKELY(frame_type != ERSPAN3_FT_ETH))
            return malformed(d, VG_DEC_ERSPAN_UNKNOWN_FRAME_TYPE);
    }
    return off + hlen;
}

/* GRE (RFC 2784 with the key and sequence number of RFC 2890). Version 1 is
 * PPTP's enhanced GRE: counted, its PPP payload left unopened. A protocol
 * type we do not open leaves the packet as the GRE packet it is. */
static int decode_gre(struct decoder *d, const struct l4_ctx *c)
{
    d->st->gre++;
    if (VG_UNLIKELY(c->dgram_len < GRE_HDR_LEN || c->cap_len < GRE_HDR_LEN))
        return malformed(d, VG_DEC_GRE_PKT_TOO_SMALL);
    const uint8_t *g = c->l4;
    uint16_t flags = rd16(g);
    uint16_t ptype = rd16(g + 2);
    unsigned version = flags & GRE_VERSION;
    if (version == 1) {
        d->st->gre_pptp++;
        return other_ip_proto(d, c);
    }
    if (VG_UNLIKELY(version != 0))
        return malformed(d, VG_DEC_GRE_WRONG_VERSION);
    /* RFC 2784: a receiver that does not implement RFC 1701 discards these. */
    if (VG_UNLIKELY(flags & (GRE_F_ROUTING | GRE_F_SSR | GRE_RECUR)))
        return malformed(d, VG_DEC_GRE_VERSION0_FLAGS);
    uint32_t hlen = GRE_HDR_LEN;
    uint32_t key = 0;
    if (flags & GRE_F_CSUM)
        hlen += GRE_OPT_LEN;
    if (flags & GRE_F_KEY) {
        if (VG_LIKELY(c->cap_len >= hlen + GRE_OPT_LEN))
            key = rd32(g + hlen);
        hlen += GRE_OPT_LEN;
    }
    if (flags & GRE_F_SEQ)
        hlen += GRE_OPT_LEN;
    if (VG_UNLIKELY(hlen > c->dgram_len || hlen > c->cap_len))
        return malformed(d, VG_DEC_GRE_PKT_TOO_SMALL);

    bool has_key = (flags & GRE_F_KEY) != 0;
    enum vg_tunnel_type type = VG_TUNNEL_GRE;
    switch (ptype) {
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
    case ETHERTYPE_TEB:
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_M:
        break;
    case ETHERTYPE_ERSPAN2:
        type = (flags & GRE_F_SEQ) ? VG_TUNNEL_ERSPAN2 : VG_TUNNEL_ERSPAN1;
        break;
    case ETHERTYPE_ERSPAN3:
        type = VG_TUNNEL_ERSPAN3;
        break;
    default:
        return other_ip_proto(d, c);
    }

    int rc = enter_tunnel(d, type, has_key, key, true);
    if (rc != 0)
        return rc;
    narrow_to_l4(d, c, hlen);
    uint32_t off = (uint32_t)(c->l4 - d->data) + hlen;
    switch (ptype) {
    case ETHERTYPE_IPV4:
        return decode_ipv4(d, off);
    case ETHERTYPE_IPV6:
        return decode_ipv6(d, off);
    case ETHERTYPE_TEB:
        return decode_ethernet_at(d, off);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_M:
        return decode_mpls(d, off);
    default:
        break;
    }
    d->st->erspan++;
    if (type == VG_TUNNEL_ERSPAN1)
        return decode_ethernet_at(d, off);
    uint32_t session;
    bool is_ip;
    int64_t inner = erspan_header(d, off, type == VG_TUNNEL_ERSPAN3, &session, &is_ip);
    if (inner < 0)
        return -1;
    d->p->tunnel_id = session;
    if (is_ip)
        return decode_ip_by_version(d, (uint32_t)inner, VG_DEC_ERSPAN_UNKNOWN_FRAME_TYPE);
    return decode_ethernet_at(d, (uint32_t)inner);
}

/* IPv4 or IPv6 in IPv4 or IPv6 (protocols 4 and 41). */
static int decode_ipip(struct decoder *d, const struct l4_ctx *c)
{
    struct vg_packet *p = d->p;
    bool inner4 = p->proto == IPPROTO_IPIP;
    if (p->family == 4 && inner4)
        d->st->ipv4_in_ipv4++;
    else if (p->family == 4)
        d->st->ipv6_in_ipv4++;
    else if (inner4)
        d->st->ipv4_in_ipv6++;
    else
        d->st->ipv6_in_ipv6++;
    int rc = enter_tunnel(d, VG_TUNNEL_IPIP, false, 0, true);
    if (rc != 0)
        return rc;
    narrow_to_l4(d, c, 0);
    uint32_t off = (uint32_t)(c->l4 - d->data);
    return inner4 ? decode_ipv4(d, off) : decode_ipv6(d, off);
}

static bool port_in(const uint16_t *ports, unsigned n, uint16_t port)
{
    for (unsigned i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* How much of a UDP tunnel header is there: all of need bytes (TUN_OK), cut
 * by the snapshot length (TUN_CUT: nothing to judge, plain UDP), or fewer
 * than the datagram holds (TUN_SHORT: not this tunnel). */
enum tun_avail { TUN_OK, TUN_CUT, TUN_SHORT };

static enum tun_avail tun_need(uint32_t need, uint32_t wire_len, uint32_t cap_len)
{
    if (need > wire_len)
        return TUN_SHORT;
    return need > cap_len ? TUN_CUT : TUN_OK;
}

/* Counts a UDP datagram on a tunnel port that is not that tunnel. */
static int not_a_tunnel(struct decoder *d, enum tun_avail a, enum vg_decode_event ev)
{
    if (a != TUN_CUT)
        count_event(d, ev);
    return NOT_A_TUNNEL;
}

static bool ethertype_in_tunnel(uint16_t type)
{
    switch (type) {
    case ETHERTYPE_IPV4:
    case ETHERTYPE_IPV6:
    case ETHERTYPE_8021Q:
    case ETHERTYPE_8021AD:
    case ETHERTYPE_QINQ:
    case ETHERTYPE_ARP:
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_M:
        return true;
    default:
        return false;
    }
}

/* VXLAN (RFC 7348): I flag set, last reserved byte zero, and an Ethernet
 * frame of a type we know behind it. */
static int decode_vxlan(struct decoder *d, const struct l4_ctx *c, uint32_t wire_len,
                        uint32_t cap_len)
{
    const uint8_t *h = c->l4 + UDP_HDR_LEN;
    enum tun_avail a = tun_need(VXLAN_HDR_LEN + ETH_HDR_LEN, wire_len, cap_len);
    if (a != TUN_OK)
        return not_a_tunnel(d, a, VG_DEC_VXLAN_INVALID_HEADER);
    if (!(h[0] & VXLAN_F_I) || h[7] != 0)
        return not_a_tunnel(d, a, VG_DEC_VXLAN_INVALID_HEADER);
    if (!ethertype_in_tunnel(rd16(h + VXLAN_HDR_LEN + 12)))
        return not_a_tunnel(d, a, VG_DEC_VXLAN_UNKNOWN_PAYLOAD_TYPE);
    d->st->vxlan++;
    int rc = enter_tunnel(d, VG_TUNNEL_VXLAN, true, rd32(h + 4) >> 8, true);
    if (rc != 0)
        return rc;
    narrow_to_l4(d, c, UDP_HDR_LEN);
    return decode_ethernet_at(d, (uint32_t)(h - d->data) + VXLAN_HDR_LEN);
}

/* Geneve (RFC 8926): version 0, options that add up to the options length,
 * and Ethernet, IPv4 or IPv6 behind them. */
static int decode_geneve(struct decoder *d, const struct l4_ctx *c, uint32_t wire_len,
                         uint32_t cap_len)
{
    const uint8_t *h = c->l4 + UDP_HDR_LEN;
    enum tun_avail a = tun_need(GENEVE_HDR_LEN, wire_len, cap_len);
    if (a != TUN_OK || h[0] >> 6 != 0)
        return not_a_tunnel(d, a, VG_DEC_GENEVE_INVALID_HEADER);
    uint32_t hlen = GENEVE_HDR_LEN + (uint32_t)(h[0] & 0x3f) * 4;
    uint16_t ptype = rd16(h + 2);
    uint32_t inner_min = ptype == ETHERTYPE_TEB ? ETH_HDR_LEN : 1;
    a = tun_need(hlen + inner_min, wire_len, cap_len);
    if (a != TUN_OK)
        return not_a_tunnel(d, a, VG_DEC_GENEVE_INVALID_HEADER);
    for (uint32_t o = GENEVE_HDR_LEN; o < hlen;) {
        uint32_t olen = GENEVE_OPT_HDR + (uint32_t)(h[o + 3] & 0x1f) * 4;
        if (olen > hlen - o)
            return not_a_tunnel(d, a, VG_DEC_GENEVE_INVALID_HEADER);
        o += olen;
    }
    if (ptype != ETHERTYPE_TEB && ptype != ETHERTYPE_IPV4 && ptype != ETHERTYPE_IPV6)
        return not_a_tunnel(d, a, VG_DEC_GENEVE_UNKNOWN_PAYLOAD_TYPE);
    if (ptype == ETHERTYPE_TEB && !ethertype_in_tunnel(rd16(h + hlen + 12)))
        return not_a_tunnel(d, a, VG_DEC_GENEVE_UNKNOWN_PAYLOAD_TYPE);
    d->st->geneve++;
    int rc = enter_tunnel(d, VG_TUNNEL_GENEVE, true, rd32(h + 4) >> 8, true);
    if (rc != 0)
        return rc;
    narrow_to_l4(d, c, UDP_HDR_LEN);
    uint32_t off = (uint32_t)(h - d->data) + hlen;
    if (ptype == ETHERTYPE_TEB)
        return decode_ethernet_at(d, off);
    return ptype == ETHERTYPE_IPV4 ? decode_ipv4(d, off) : decode_ipv6(d, off);
}

/* Teredo (RFC 4380): an optional authentication header, an optional origin
 * indication, then an IPv6 packet that fills the datagram exactly. Nothing
 * else marks Teredo, so that exact fit is the test. */
static int decode_teredo(struct decoder *d, const struct l4_ctx *c, uint32_t wire_len,
                         uint32_t cap_len)
{
    const uint8_t *h = c->l4 + UDP_HDR_LEN;
    uint32_t o = 0;
    enum tun_avail a = tun_need(2, wire_len, cap_len);
    if (a == TUN_OK && h[0] == 0 && h[1] == 1) {
        a = tun_need(4, wire_len, cap_len);
        if (a != TUN_OK)
            return not_a_tunnel(d, a, VG_DEC_TEREDO_INVALID);
        o = TEREDO_AUTH_MIN + (uint32_t)h[2] + h[3];
        a = tun_need(o + 2, wire_len, cap_len);
    }
    if (a == TUN_OK && h[o] == 0 && h[o + 1] == 0)
        o += TEREDO_ORIGIN_LEN;
    if (a == TUN_OK)
        a = tun_need(o + IPV6_HDR_LEN, wire_len, cap_len);
    if (a != TUN_OK)
        return not_a_tunnel(d, a, VG_DEC_TEREDO_INVALID);
    const uint8_t *ip6 = h + o;
    if (ip6[0] >> 4 != 6 || IPV6_HDR_LEN + (uint32_t)rd16(ip6 + 4) != wire_len - o)
        return not_a_tunnel(d, a, VG_DEC_TEREDO_INVALID);
    d->st->teredo++;
    int rc = enter_tunnel(d, VG_TUNNEL_TEREDO, false, 0, true);
    if (rc != 0)
        return rc;
    narrow_to_l4(d, c, UDP_HDR_LEN);
    return decode_ipv6(d, (uint32_t)(ip6 - d->data));
}

/* A UDP datagram on a configured tunnel port: the tunnel's inner packet, or
 * NOT_A_TUNNEL. */
static int decode_udp_tunnel(struct decoder *d, const struct l4_ctx *c, uint32_t ulen)
{
    const struct vg_decode_config *cfg = d->cfg;
    uint16_t sport = d->p->sport, dport = d->p->dport;
    /* The UDP length bounds the tunnel; bytes past it are IP padding. */
    uint32_t wire_len = ulen - UDP_HDR_LEN;
    uint32_t cap_len = min_u32(ulen, c->cap_len) - UDP_HDR_LEN;
    struct l4_ctx u = *c;
    u.dgram_len = ulen;
    u.cap_len = min_u32(ulen, c->cap_len);
    if (cfg->vxlan_enabled && port_in(cfg->vxlan_ports, cfg->n_vxlan_ports, dport))
        return decode_vxlan(d, &u, wire_len, cap_len);
    if (cfg->geneve_enabled && port_in(cfg->geneve_ports, cfg->n_geneve_ports, dport))
        return decode_geneve(d, &u, wire_len, cap_len);
    if (cfg->teredo_enabled && (port_in(cfg->teredo_ports, cfg->n_teredo_ports, dport) ||
                                port_in(cfg->teredo_ports, cfg->n_teredo_ports, sport)))
        return decode_teredo(d, &u, wire_len, cap_len);
    return NOT_A_TUNNEL;
}

/* PPPoE session stage (RFC 2516) carrying PPP; IPv4 and IPv6 are analysed,
 * PPP's own control protocols count as not IP. */
static int decode_pppoe_session(struct decoder *d, uint32_t off)
{
    d->st->pppoe++;
    uint32_t avail = d->cap - off;
    if (VG_UNLIKELY(avail < PPPOE_HDR_LEN))
        return malformed(d, VG_DEC_PPPOE_PKT_TOO_SMALL);
    const uint8_t *h = d->data + off;
    if (VG_UNLIKELY(h[0] != PPPOE_VER_TYPE))
        return malformed(d, VG_DEC_PPPOE_WRONG_VERSION);
    if (VG_UNLIKELY(h[1] != 0))
        return malformed(d, VG_DEC_PPPOE_WRONG_CODE);
    uint32_t len = rd16(h + 4);
    if (VG_UNLIKELY(len > d->wire - off - PPPOE_HDR_LEN))
        return malformed(d, VG_DEC_PPPOE_PKT_TOO_SMALL);
    if (VG_UNLIKELY(len < PPP_PROTO_LEN || avail - PPPOE_HDR_LEN < PPP_PROTO_LEN))
        return malformed(d, VG_DEC_PPP_PKT_TOO_SMALL);
    int rc = enter_tunnel(d, VG_TUNNEL_PPPOE, true, rd16(h + 2), false);
    if (rc != 0)
        return rc;
    uint32_t start = off + PPPOE_HDR_LEN;
    narrow(d, start, min_u32(len, avail - PPPOE_HDR_LEN), len);
    switch (rd16(h + PPPOE_HDR_LEN)) {
    case PPP_IPV4:
        return decode_ipv4(d, start + PPP_PROTO_LEN);
    case PPP_IPV6:
        return decode_ipv6(d, start + PPP_PROTO_LEN);
    default:
        d->st->non_ip++;
        return -1;
    }
}

/* ---- link layer ---- */

/* The payload of an Ethernet header (or a tunnel that names its payload by
 * ethertype) at off. At most two VLAN tags per Ethernet header; the packet
 * keeps the first two seen in any header. */
static int decode_ethertype(struct decoder *d, uint32_t off, uint16_t type)
{
    struct vg_packet *p = d->p;
    unsigned tags = 0;
    for (;;) {
        switch (type) {
        case ETHERTYPE_IPV4:
            return decode_ipv4(d, off);
        case ETHERTYPE_IPV6:
            return decode_ipv6(d, off);
        case ETHERTYPE_8021Q:
        case ETHERTYPE_8021AD:
        case ETHERTYPE_QINQ:
            if (VG_UNLIKELY(tags >= VG_MAX_VLAN))
                return malformed(d, VG_DEC_VLAN_TOO_MANY);
            if (VG_UNLIKELY(d->cap - off < VLAN_HDR_LEN))
                return malformed(d, VG_DEC_VLAN_TRUNCATED);
            if (p->vlan_count < VG_MAX_VLAN)
                p->vlan[p->vlan_count++] = rd16(d->data + off) & 0x0fff;
            if (++tags == 1)
                d->st->vlan++;
            else
                d->st->vlan_qinq++;
            type = rd16(d->data + off + 2);
            off += VLAN_HDR_LEN;
            break;
        case ETHERTYPE_MPLS:
        case ETHERTYPE_MPLS_M:
            return decode_mpls(d, off);
        case ETHERTYPE_PPPOE_SESS:
            return decode_pppoe_session(d, off);
        case ETHERTYPE_PPPOE_DISC:
            d->st->pppoe_discovery++;
            d->st->non_ip++;
            return -1;
        default:
            d->st->non_ip++;
            return -1;
        }
    }
}

/* An Ethernet header at off (the frame itself, or one inside a tunnel). */
static int decode_ethernet_at(struct decoder *d, uint32_t off)
{
    if (VG_UNLIKELY(d->cap - off < ETH_HDR_LEN))
        return malformed(d, VG_DEC_LINK_TRUNCATED);
    return decode_ethertype(d, off + ETH_HDR_LEN, rd16(d->data + off + 12));
}

static int decode_ethernet(struct decoder *d)
{
    d->st->ethernet++;
    return decode_ethernet_at(d, 0);
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

static int decode_packet(struct vg_packet *p, int linktype, const struct vg_decode_config *cfg,
                         enum vg_checksum_mode csum, struct vg_decode_stats *st)
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
        .cfg = cfg,
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

int vg_decode_ex(struct vg_packet *p, int linktype, const struct vg_decode_config *dc,
                 struct vg_decode_stats *st)
{
    return decode_packet(p, linktype, dc, dc->csum, st);
}

int vg_decode(struct vg_packet *p, int linktype, enum vg_checksum_mode csum,
              struct vg_decode_stats *st)
{
    return decode_packet(p, linktype, &default_config, csum, st);
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
