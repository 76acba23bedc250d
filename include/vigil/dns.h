/* DNS parser (parsers/dns.c): queries and responses over UDP (one datagram,
 * one message) and TCP (messages framed by a 2-byte length, RFC 1035 4.2.2).
 *
 * Transactions. A query is a transaction: stage VG_STAGE_REQUEST with
 * VG_BUF_DNS_QUERY (the first question's name, dotted, no trailing dot, as
 * sent) and VG_BUF_PAYLOAD (the message). Its id waits in a fixed table of
 * VG_DNS_PENDING queries; the response with that id is the same transaction
 * at VG_STAGE_RESPONSE with last = 1. A response that matches no pending
 * query is a transaction of its own (stage RESPONSE, last = 1) and raises
 * UNSOLICITED_RESPONSE. A query that never gets its response is closed by
 * vg_dns_flush() at flow end, or when a new query finds the table full (the
 * oldest is closed and FLOODED raised): that closing callback repeats stage
 * VG_STAGE_REQUEST with last = 1 and no buffers (every data == NULL), so
 * nothing is inspected twice; its encode writes the query record.
 *
 * EVE. tx->encode writes "dns":{...} in Suricata's EVE v2 form: type
 * "query" or "answer", id, flags (hex), the header bits that are set (qr, aa,
 * tc, rd, ra, z), opcode, rrname / rrtype of the first question, rcode
 * ("NOERROR", "NXDOMAIN", ...), "queries":[{rrname, rrtype}], and in
 * answers "answers" and "authorities" ([{rrname, rrtype, ttl, ...}]): A and
 * AAAA print their address as "rdata", CNAME, NS, PTR and MX (as Suricata,
 * without the preference) their name, TXT its strings concatenated; SOA
 * writes "soa":{mname, rname, serial, refresh, retry, expire, minimum}, SRV
 * "srv":{priority, weight, port, name}, HTTPS and SVCB "svcb":{priority,
 * target}; other types "rdlength".
 *
 * Names. Compression pointers must point before the start of the name
 * segment that holds them (so every jump goes strictly backwards) and a name
 * follows at most VG_DNS_MAX_HOPS of them, else INFINITE_LOOP. Names longer
 * than VG_DNS_NAME_MAX characters are cut there (NAME_TOO_LONG).
 *
 * TCP. Each direction reassembles one message at a time in a buffer of
 * VG_DNS_TCP_MSG_MAX bytes; a longer message raises TCP_MESSAGE_TOO_LONG and
 * is skipped by its length prefix. A message wholly inside one chunk is
 * parsed in place. After a gap the direction waits for a chunk that starts
 * with a plausible framed message. */
#ifndef VIGIL_DNS_H
#define VIGIL_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/applayer.h"

#define VG_DNS_PENDING     8    /* unanswered queries remembered per flow */
#define VG_DNS_NAME_MAX    255  /* characters of a name kept */
#define VG_DNS_MAX_HOPS    64   /* compression pointers followed per name */
#define VG_DNS_TCP_MSG_MAX 4096 /* bytes of one TCP message reassembled per direction */

/* Anomalies (names as Suricata's dns events where Suricata has them). */
enum vg_dns_event {
    VG_DNS_EV_MALFORMED_DATA = 0,
    VG_DNS_EV_NOT_A_REQUEST,  /* QR set in the to-server direction */
    VG_DNS_EV_NOT_A_RESPONSE, /* QR clear in the to-client direction */
    VG_DNS_EV_Z_FLAG_SET,
    VG_DNS_EV_INFINITE_LOOP, /* compression pointer forward, to itself, or too many */
    VG_DNS_EV_NAME_TOO_LONG,
    VG_DNS_EV_LYING_COUNTS,         /* counts claim more records than the message holds */
    VG_DNS_EV_UNSOLICITED_RESPONSE, /* response id matches no pending query */
    VG_DNS_EV_FLOODED,              /* pending table full: the oldest query was closed */
    VG_DNS_EV_TCP_MESSAGE_TOO_LONG, /* TCP message over VG_DNS_TCP_MSG_MAX, skipped */
    VG_DNS_EVENT_COUNT
};

struct vg_dns_state;

size_t vg_dns_state_size(void);
void vg_dns_state_init(struct vg_dns_state *s);

/* One datagram is one message. dir: enum vg_flow_dir. */
void vg_dns_parse_udp(struct vg_dns_state *s, int dir, const uint8_t *msg, uint32_t len,
                      const struct vg_app_cb *cb);

/* In-order stream bytes of one direction; flags VG_APP_GAP / VG_APP_END. */
void vg_dns_parse_tcp(struct vg_dns_state *s, int dir, const uint8_t *data, uint32_t len,
                      uint32_t flags, const struct vg_app_cb *cb);

/* Closes every query still waiting for its response (last = 1); call at
 * flow end. */
void vg_dns_flush(struct vg_dns_state *s, const struct vg_app_cb *cb);

/* Content detection on the first bytes of a direction (a UDP payload, or
 * the start of a TCP stream with its length prefix): a header with a known
 * opcode, a QR bit that agrees with dir, counts the message can hold, and a
 * first question that parses. 1: DNS; 0: TCP and more bytes are needed;
 * -1: not DNS. */
int vg_dns_probe(int dir, const uint8_t *data, uint32_t len, bool tcp);

/* "MALFORMED_DATA", ...; "UNKNOWN" out of range. */
const char *vg_dns_event_name(uint16_t ev);

#endif
