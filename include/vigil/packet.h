/* Packet decoding (parsers/decode.c): link, VLAN, IP and L4 headers, and
 * the tunnels that mirrored traffic arrives in (MPLS, GRE, ERSPAN I/II/III,
 * VXLAN, Geneve, IP-in-IP, Teredo, PPPoE). The innermost packet is the one
 * analysed; the outer layers are kept as metadata.
 *
 * A packet is decoded once, where it enters the process (the reader thread
 * in file and libpcap mode, the worker in DPDK mode). The decoded view points
 * into the packet bytes; vg_packet_rebase() moves it with the bytes when they
 * are copied into a worker ring. */
#ifndef VIGIL_PACKET_H
#define VIGIL_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/common.h"

/* Link types, numbered as libpcap's DLT_* values so a capture header maps
 * directly. */
enum vg_linktype {
    VG_LINK_NULL = 0,     /* BSD loopback */
    VG_LINK_ETHERNET = 1, /* DLT_EN10MB */
    VG_LINK_RAW = 101,    /* LINKTYPE_RAW (DLT_RAW is 12 or 14 on some systems) */
    VG_LINK_RAW_DLT12 = 12,
    VG_LINK_RAW_DLT14 = 14,
    VG_LINK_LINUX_SLL = 113, /* Linux cooked v1 */
    VG_LINK_IPV4 = 228,
    VG_LINK_IPV6 = 229,
    VG_LINK_LINUX_SLL2 = 276, /* Linux cooked v2 */
};

/* True when vigil can decode this link type. */
bool vg_linktype_supported(int linktype);

/* Decoder anomalies: each has a counter and an EVE anomaly name. */
enum vg_decode_event {
    VG_DEC_LINK_TRUNCATED,
    VG_DEC_VLAN_TRUNCATED,
    VG_DEC_VLAN_TOO_MANY,
    VG_DEC_IPV4_TRUNCATED,
    VG_DEC_IPV4_BAD_VERSION,
    VG_DEC_IPV4_BAD_HLEN,
    VG_DEC_IPV4_BAD_TOTAL_LEN,
    VG_DEC_IPV4_BAD_OPTIONS,
    VG_DEC_IPV6_TRUNCATED,
    VG_DEC_IPV6_BAD_VERSION,
    VG_DEC_IPV6_BAD_PAYLOAD_LEN,
    VG_DEC_IPV6_EXTHDR_TRUNCATED,
    VG_DEC_IPV6_TOO_MANY_EXTHDRS,
    VG_DEC_TCP_TRUNCATED,
    VG_DEC_TCP_BAD_HLEN,
    VG_DEC_TCP_BAD_OPTIONS,
    VG_DEC_UDP_TRUNCATED,
    VG_DEC_UDP_BAD_LEN,
    VG_DEC_ICMPV4_TRUNCATED,
    VG_DEC_ICMPV6_TRUNCATED,
    VG_DEC_IPV4_BAD_CHECKSUM,
    VG_DEC_TCP_BAD_CHECKSUM,
    VG_DEC_UDP_BAD_CHECKSUM,
    VG_DEC_ICMP_BAD_CHECKSUM,
    VG_DEC_MPLS_HEADER_TOO_SMALL,
    VG_DEC_MPLS_PKT_TOO_SMALL,
    VG_DEC_MPLS_BAD_LABEL_IMPLICIT_NULL,
    VG_DEC_MPLS_UNKNOWN_PAYLOAD_TYPE,
    VG_DEC_GRE_PKT_TOO_SMALL,
    VG_DEC_GRE_WRONG_VERSION,
    VG_DEC_GRE_VERSION0_FLAGS,
    VG_DEC_ERSPAN_HEADER_TOO_SMALL,
    VG_DEC_ERSPAN_UNSUPPORTED_VERSION,
    VG_DEC_ERSPAN_UNKNOWN_FRAME_TYPE,
    VG_DEC_VXLAN_INVALID_HEADER, /* analysed as plain UDP, not dropped */
    VG_DEC_VXLAN_UNKNOWN_PAYLOAD_TYPE,
    VG_DEC_GENEVE_INVALID_HEADER, /* analysed as plain UDP, not dropped */
    VG_DEC_GENEVE_UNKNOWN_PAYLOAD_TYPE,
    VG_DEC_TEREDO_INVALID, /* analysed as plain UDP, not dropped */
    VG_DEC_PPPOE_PKT_TOO_SMALL,
    VG_DEC_PPPOE_WRONG_VERSION,
    VG_DEC_PPPOE_WRONG_CODE,
    VG_DEC_PPP_PKT_TOO_SMALL,
    VG_DEC_TOO_MANY_LAYERS,
    VG_DEC_EVENT_COUNT
};

/* Name as used in EVE anomaly events and stats, e.g. "ipv4.trunc_pkt". */
const char *vg_decode_event_name(enum vg_decode_event ev);

/* Counters in the spirit of Suricata's decoder.* stats. One per decoding
 * thread; summed for the summary and stats events. */
struct vg_decode_stats {
    uint64_t pkts;
    uint64_t bytes;
    uint64_t ethernet;
    uint64_t sll;
    uint64_t raw;
    uint64_t null;
    uint64_t vlan;
    uint64_t vlan_qinq;
    uint64_t ipv4;
    uint64_t ipv6;
    uint64_t ipv4_frag; /* fragments seen (not reassembled by this decoder) */
    uint64_t ipv6_frag;
    uint64_t tcp;
    uint64_t udp;
    uint64_t icmpv4;
    uint64_t icmpv6;
    uint64_t other_ip_proto; /* IP packets with another L4 protocol */
    /* encapsulations, one count per layer decapsulated */
    uint64_t mpls;
    uint64_t gre;
    uint64_t gre_pptp; /* GRE version 1 (PPTP): counted, its PPP payload not analysed */
    uint64_t erspan;   /* ERSPAN of any type (also counted under gre) */
    uint64_t vxlan;
    uint64_t geneve;
    uint64_t ipv4_in_ipv4;
    uint64_t ipv6_in_ipv4;
    uint64_t ipv4_in_ipv6;
    uint64_t ipv6_in_ipv6;
    uint64_t teredo;
    uint64_t pppoe;           /* PPPoE session frames */
    uint64_t pppoe_discovery; /* PPPoE discovery frames: counted as not IP */
    uint64_t non_ip;          /* ARP, LLDP and the like: counted, not analysed */
    uint64_t invalid;         /* packets dropped by a decode error */
    uint64_t csum_dropped;    /* bad checksum with checksum validation enforced */
    uint64_t events[VG_DEC_EVENT_COUNT];
};

/* Packet flags. */
#define VG_PKT_IPV4_CSUM_BAD 0x0001u
#define VG_PKT_L4_CSUM_BAD   0x0002u
#define VG_PKT_FRAGMENT      0x0004u /* IP fragment: no L4 header analysed */
#define VG_PKT_HAS_L4        0x0008u /* ports / ICMP type are valid */
#define VG_PKT_TRUNCATED     0x0010u /* caplen < wire length */

/* Checksum policy, as in Suricata's -k. */
enum vg_checksum_mode {
    VG_CSUM_NONE = 0,  /* do not compute checksums */
    VG_CSUM_COUNT = 1, /* compute, count bad ones, keep the packet (default) */
    VG_CSUM_ALL = 2,   /* compute, drop packets with a bad checksum */
};

#define VG_MAX_VLAN 2

/* Encapsulation layers decoded before a packet is dropped with
 * VG_DEC_TOO_MANY_LAYERS. An MPLS label stack, a GRE header with what it
 * announces (ERSPAN included), a VXLAN or Geneve header, an IP-in-IP header,
 * Teredo and PPPoE count one layer each. */
#define VG_MAX_ENCAP_DEPTH 8

/* The innermost encapsulation a packet came out of. A layer without an
 * identifier of its own leaves the tunnel id of the layer around it. */
enum vg_tunnel_type {
    VG_TUNNEL_NONE = 0,
    VG_TUNNEL_GRE,     /* GRE carrying IP, Ethernet (NVGRE) or MPLS; id = GRE key if present */
    VG_TUNNEL_ERSPAN1, /* GRE 0x88BE without sequence number: no ERSPAN header */
    VG_TUNNEL_ERSPAN2, /* id = ERSPAN session id */
    VG_TUNNEL_ERSPAN3, /* id = ERSPAN session id */
    VG_TUNNEL_VXLAN,   /* id = VNI */
    VG_TUNNEL_GENEVE,  /* id = VNI */
    VG_TUNNEL_IPIP,    /* IPv4 or IPv6 in IPv4 or IPv6 (protocols 4 and 41); no id */
    VG_TUNNEL_TEREDO,  /* no id */
    VG_TUNNEL_MPLS,    /* no id: labels differ per direction */
    VG_TUNNEL_PPPOE,   /* id = PPPoE session id */
    VG_TUNNEL_TYPE_COUNT
};

/* "gre", "erspan2", "vxlan", ...; "none" for VG_TUNNEL_NONE. */
const char *vg_tunnel_type_name(enum vg_tunnel_type t);

/* What the decoder looks for, in Suricata's decoder.* terms. */
#define VG_DECODE_MAX_PORTS 8
struct vg_decode_config {
    enum vg_checksum_mode csum;
    bool vxlan_enabled;
    bool geneve_enabled;
    bool teredo_enabled;
    bool mpls_ethernet_pw; /* MPLS payload of first nibble 0: control word, then Ethernet */
    uint8_t n_vxlan_ports;
    uint8_t n_geneve_ports;
    uint8_t n_teredo_ports;
    uint16_t vxlan_ports[VG_DECODE_MAX_PORTS];  /* UDP destination ports */
    uint16_t geneve_ports[VG_DECODE_MAX_PORTS]; /* UDP destination ports */
    uint16_t teredo_ports[VG_DECODE_MAX_PORTS]; /* UDP source or destination ports */
};

/* Defaults: checksums counted; VXLAN on 4789, Geneve on 6081 and Teredo on
 * 3544 enabled; MPLS pseudowires not assumed. */
void vg_decode_config_default(struct vg_decode_config *dc);

struct vg_config;

/* Reads decoder.vxlan.enabled, decoder.vxlan.ports ("4789", "[4789,8472]",
 * a $NAME of vars.port-groups, or a YAML sequence), the same for geneve and
 * teredo, and decoder.mpls.ethernet-pw, over the values already in dc
 * (parsers/decode_config.c).
 * Returns 0, or -1 with a message naming the key in err. */
int vg_decode_config_load(struct vg_decode_config *dc, const struct vg_config *cfg, char *err,
                          size_t errlen);

/* A decoded packet. Pointers refer into data. */
struct vg_packet {
    const uint8_t *data;
    uint32_t caplen;
    uint32_t wirelen;
    uint64_t ts_us;    /* packet time, microseconds since the epoch */
    uint64_t pcap_cnt; /* 1-based index in the capture (0 when live) */

    uint8_t family; /* 4 or 6; 0 when not IP */
    uint8_t proto;  /* L4 protocol number (IPPROTO_*) */
    uint8_t vlan_count;
    uint8_t tcp_flags;
    uint16_t vlan[VG_MAX_VLAN];
    uint16_t sport; /* host order; ICMP: 0 */
    uint16_t dport;
    uint16_t flags; /* VG_PKT_* */
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t ttl;          /* IPv4 TTL or IPv6 hop limit */
    uint8_t decode_event; /* last decoder anomaly raised, plus one; 0: none */
    uint16_t tcp_win;
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    struct vg_ip_addr src;
    struct vg_ip_addr dst;

    /* Encapsulation (all zero outside a tunnel). The tunnel_* addresses and
     * ports are those of the IP header (and UDP header) that carried the
     * innermost tunnel; tunnel_family is 0 when no IP header did (MPLS or
     * PPPoE straight on Ethernet). */
    uint8_t tunnel_type; /* enum vg_tunnel_type */
    uint8_t encap_depth; /* encapsulation layers decoded */
    uint8_t tunnel_family;
    uint8_t tunnel_proto;  /* IP protocol of the carrier: 47 GRE, 17 UDP, 4 or 41 */
    uint32_t tunnel_id;    /* of the innermost layer that has one (VNI, GRE key, ERSPAN
                            * or PPPoE session id), else 0 */
    uint16_t tunnel_sport; /* UDP carriers only */
    uint16_t tunnel_dport;
    struct vg_ip_addr tunnel_src;
    struct vg_ip_addr tunnel_dst;

    const uint8_t *l3;      /* IPv4/IPv6 header */
    const uint8_t *l4;      /* TCP/UDP/ICMP header, NULL for fragments */
    const uint8_t *payload; /* L4 payload (or IP payload for other protocols) */
    uint32_t l3_len;        /* bytes from l3 to the end of the IP datagram as captured */
    uint32_t payload_len;
};

/* Decodes data[0..caplen) of the given link type into p (which the caller
 * has filled with data, caplen, wirelen, ts_us, pcap_cnt). Returns 0 when the
 * packet is IP and may be analysed, -1 when it is dropped (malformed, not IP,
 * or bad checksum under VG_CSUM_ALL); every outcome is counted in st. Never
 * reads outside [data, data + caplen). */
int vg_decode_ex(struct vg_packet *p, int linktype, const struct vg_decode_config *dc,
                 struct vg_decode_stats *st);

/* vg_decode_ex() with the default configuration and the given checksum mode. */
int vg_decode(struct vg_packet *p, int linktype, enum vg_checksum_mode csum,
              struct vg_decode_stats *st);

/* After the packet bytes moved to new_data, moves p's pointers with them. */
void vg_packet_rebase(struct vg_packet *p, const uint8_t *new_data);

/* Adds every counter of src to dst. */
void vg_decode_stats_add(struct vg_decode_stats *dst, const struct vg_decode_stats *src);

#endif
