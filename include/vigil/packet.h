/* Packet decoding (parsers/decode.c): link, VLAN, IP and L4 headers.
 *
 * A packet is decoded once, where it enters the process (the reader thread
 * in file and libpcap mode, the worker in DPDK mode). The decoded view points
 * into the packet bytes; vg_packet_rebase() moves it with the bytes when they
 * are copied into a worker ring. */
#ifndef VIGIL_PACKET_H
#define VIGIL_PACKET_H

#include <stdbool.h>
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
    uint64_t non_ip;         /* ARP, LLDP and the like: counted, not analysed */
    uint64_t invalid;        /* packets dropped by a decode error */
    uint64_t csum_dropped;   /* bad checksum with checksum validation enforced */
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
    uint8_t ttl; /* IPv4 TTL or IPv6 hop limit */
    uint8_t pad0;
    uint16_t tcp_win;
    uint32_t tcp_seq;
    uint32_t tcp_ack;
    struct vg_ip_addr src;
    struct vg_ip_addr dst;

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
int vg_decode(struct vg_packet *p, int linktype, enum vg_checksum_mode csum,
              struct vg_decode_stats *st);

/* After the packet bytes moved to new_data, moves p's pointers with them. */
void vg_packet_rebase(struct vg_packet *p, const uint8_t *new_data);

/* Adds every counter of src to dst. */
void vg_decode_stats_add(struct vg_decode_stats *dst, const struct vg_decode_stats *src);

#endif
