/* nDPI glue tests on IPv4 packets built byte by byte and decoded as raw IP. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkt_test_util.h"
#include "vigil/ndpi.h"
#include "vigil/packet.h"

#define FIN 0x01
#define SYN 0x02
#define PSH 0x08
#define ACK 0x10

#define MS 1000ull

/* nDPI protocol ids (ndpi_protocol_ids.h) the tests expect. */
#define NDPI_DNS    5
#define NDPI_HTTP   7
#define NDPI_TLS    91
#define NDPI_GOOGLE 126

/* A packet and the bytes it points into. */
struct test_pkt {
    uint8_t buf[2048];
    struct vg_packet p;
};

static const uint8_t CLIENT[4] = {192, 0, 2, 10};
static const uint8_t SERVER[4] = {198, 51, 100, 20};

static void decode_raw(struct test_pkt *t, size_t len, uint64_t ts_us)
{
    struct vg_decode_stats st;
    memset(&st, 0, sizeof(st));
    memset(&t->p, 0, sizeof(t->p));
    t->p.data = t->buf;
    t->p.caplen = (uint32_t)len;
    t->p.wirelen = (uint32_t)len;
    t->p.ts_us = ts_us;
    cr_assert_eq(vg_decode(&t->p, VG_LINK_RAW, VG_CSUM_NONE, &st), 0, "test packet decodes");
}

static size_t ipv4_header(uint8_t *b, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                          size_t l4_len)
{
    memset(b, 0, 20);
    b[0] = 0x45;
    put16(b + 2, (uint16_t)(20 + l4_len));
    put16(b + 4, 0x1234);
    b[8] = 64;
    b[9] = proto;
    memcpy(b + 12, src, 4);
    memcpy(b + 16, dst, 4);
    put16(b + 10, ref_finish(ref_sum(b, 20, 0)));
    return 20;
}

/* UDP from src:sport to dst:dport. */
static void udp_pkt(struct test_pkt *t, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                    uint16_t dport, const uint8_t *payload, size_t len, uint64_t ts_us)
{
    cr_assert(len + 28 <= sizeof(t->buf));
    uint8_t *u = t->buf + ipv4_header(t->buf, src, dst, 17, 8 + len);
    put16(u, sport);
    put16(u + 2, dport);
    put16(u + 4, (uint16_t)(8 + len));
    put16(u + 6, 0);
    memcpy(u + 8, payload, len);
    decode_raw(t, 28 + len, ts_us);
}

static void tcp_pkt(struct test_pkt *t, const uint8_t *src, uint16_t sport, const uint8_t *dst,
                    uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags,
                    const uint8_t *payload, size_t len, uint64_t ts_us)
{
    cr_assert(len + 40 <= sizeof(t->buf));
    uint8_t *h = t->buf + ipv4_header(t->buf, src, dst, 6, 20 + len);
    memset(h, 0, 20);
    put16(h, sport);
    put16(h + 2, dport);
    put32(h + 4, seq);
    put32(h + 8, ack);
    h[12] = 5 << 4;
    h[13] = flags;
    put16(h + 14, 65535);
    if (len > 0)
        memcpy(h + 20, payload, len);
    decode_raw(t, 40 + len, ts_us);
}

/* A TCP session between CLIENT:cport and SERVER:sport, tracking sequence numbers. */
struct session {
    uint16_t cport, sport;
    uint32_t cseq, sseq;
    uint64_t ts;
};

static void session_pkt(struct test_pkt *t, struct session *s, bool from_client, uint8_t flags,
                        const void *payload, size_t len)
{
    s->ts += MS;
    if (from_client) {
        tcp_pkt(t, CLIENT, s->cport, SERVER, s->sport, s->cseq, s->sseq, flags, payload, len,
                s->ts);
        s->cseq += (uint32_t)len + ((flags & (SYN | FIN)) ? 1 : 0);
    } else {
        tcp_pkt(t, SERVER, s->sport, CLIENT, s->cport, s->sseq, s->cseq, flags, payload, len,
                s->ts);
        s->sseq += (uint32_t)len + ((flags & (SYN | FIN)) ? 1 : 0);
    }
}

/* Feeds SYN, SYN+ACK, ACK; each keeps detection running. */
static void handshake(struct vg_ndpi *n, uint32_t *h, struct session *s, struct vg_ndpi_result *r)
{
    struct test_pkt t;
    session_pkt(&t, s, true, SYN, NULL, 0);
    cr_assert(vg_ndpi_packet(n, h, &t.p, 0, t.p.ts_us, r));
    session_pkt(&t, s, false, SYN | ACK, NULL, 0);
    cr_assert(vg_ndpi_packet(n, h, &t.p, 1, t.p.ts_us, r));
    session_pkt(&t, s, true, ACK, NULL, 0);
    cr_assert(vg_ndpi_packet(n, h, &t.p, 0, t.p.ts_us, r));
    cr_assert_eq(r->done, 0);
}

/* DNS message: header, one question for name (dotted), and when answer is
 * set one A record pointing back at the question. */
static size_t dns_msg(uint8_t *b, uint16_t id, const char *name, bool answer)
{
    memset(b, 0, 12);
    put16(b, id);
    put16(b + 2, answer ? 0x8180 : 0x0100);
    put16(b + 4, 1);
    put16(b + 6, answer ? 1 : 0);
    size_t o = 12;
    const char *label = name;
    while (*label) {
        const char *dot = strchr(label, '.');
        size_t l = dot ? (size_t)(dot - label) : strlen(label);
        b[o++] = (uint8_t)l;
        memcpy(b + o, label, l);
        o += l;
        label += l + (dot ? 1 : 0);
    }
    b[o++] = 0;
    put16(b + o, 1); /* A */
    put16(b + o + 2, 1);
    o += 4;
    if (answer) {
        put16(b + o, 0xc00c);
        put16(b + o + 2, 1);
        put16(b + o + 4, 1);
        put32(b + o + 6, 300);
        put16(b + o + 10, 4);
        b[o + 12] = 198;
        b[o + 13] = 51;
        b[o + 14] = 100;
        b[o + 15] = 7;
        o += 16;
    }
    return o;
}

/* TLS 1.2 ClientHello record with an SNI extension. */
static size_t client_hello(uint8_t *b, const char *sni)
{
    size_t nl = strlen(sni);
    uint8_t *hs = b + 5;
    size_t o = 4;
    put16(hs + o, 0x0303);
    o += 2;
    for (int i = 0; i < 32; i++)
        hs[o++] = (uint8_t)(i * 7 + 1);
    hs[o++] = 0; /* session id */
    put16(hs + o, 4);
    put16(hs + o + 2, 0xc02f);
    put16(hs + o + 4, 0x009c);
    o += 6;
    hs[o++] = 1; /* compression methods */
    hs[o++] = 0;
    size_t ext_len_at = o;
    o += 2;
    /* server_name */
    put16(hs + o, 0x0000);
    put16(hs + o + 2, (uint16_t)(nl + 5));
    put16(hs + o + 4, (uint16_t)(nl + 3));
    hs[o + 6] = 0;
    put16(hs + o + 7, (uint16_t)nl);
    memcpy(hs + o + 9, sni, nl);
    o += 9 + nl;
    /* supported_groups, ec_point_formats */
    static const uint8_t more[] = {0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00,
                                   0x17, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00};
    memcpy(hs + o, more, sizeof(more));
    o += sizeof(more);
    put16(hs + ext_len_at, (uint16_t)(o - ext_len_at - 2));
    hs[0] = 1; /* client_hello */
    hs[1] = (uint8_t)((o - 4) >> 16);
    put16(hs + 2, (uint16_t)(o - 4));
    b[0] = 0x16;
    put16(b + 1, 0x0301);
    put16(b + 3, (uint16_t)o);
    return o + 5;
}

/* The server's answer to a ClientHello: ServerHello and a Certificate
 * message whose one certificate holds a validity period (UTCTime notBefore
 * and notAfter), which nDPI converts with timegm(). */
static size_t server_hello_cert(uint8_t *b)
{
    size_t o = 0;
    /* ServerHello record */
    b[o] = 0x16;
    put16(b + o + 1, 0x0303);
    put16(b + o + 3, 42);
    uint8_t *sh = b + o + 5;
    sh[0] = 2;
    sh[1] = 0;
    put16(sh + 2, 38);
    put16(sh + 4, 0x0303);
    for (int i = 0; i < 32; i++)
        sh[6 + i] = (uint8_t)(200 - i);
    sh[38] = 0;
    put16(sh + 39, 0xc02f);
    sh[41] = 0;
    o += 5 + 42;
    /* Certificate record: one certificate of cert_len bytes */
    static const uint8_t validity[] = {0x30, 0x1e, 0x17, 0x0d, '2', '0', '0',  '1',  '0', '1', '0',
                                       '0',  '0',  '0',  '0',  '0', 'Z', 0x17, 0x0d, '3', '0', '0',
                                       '1',  '0',  '1',  '0',  '0', '0', '0',  '0',  '0', 'Z'};
    size_t cert_len = 64 + sizeof(validity);
    uint8_t *r = b + o;
    r[0] = 0x16;
    put16(r + 1, 0x0303);
    put16(r + 3, (uint16_t)(4 + 3 + 3 + cert_len));
    uint8_t *hs = r + 5;
    hs[0] = 11;
    hs[1] = 0;
    put16(hs + 2, (uint16_t)(3 + 3 + cert_len));
    hs[4] = 0;
    put16(hs + 5, (uint16_t)(3 + cert_len));
    hs[7] = 0;
    put16(hs + 8, (uint16_t)cert_len);
    uint8_t *c = hs + 10;
    memset(c, 0x05, cert_len);
    c[0] = 0x30;
    c[1] = 0x82;
    put16(c + 2, (uint16_t)(cert_len - 4));
    memcpy(c + 32, validity, sizeof(validity));
    o += 5 + 4 + 3 + 3 + cert_len;
    return o;
}

Test(ndpi, names_of_an_empty_result)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    cr_assert_not_null(n);
    struct vg_ndpi_result r;
    memset(&r, 0, sizeof(r));
    char buf[64];
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "Unknown");
    cr_assert_str_eq(vg_ndpi_master_name(n, &r), "Unknown");
    cr_assert_str_eq(vg_ndpi_app_name(n, &r), "Unknown");
    cr_assert_str_eq(vg_ndpi_category_name(n, &r), "Unspecified");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_UNKNOWN);
    r.master = NDPI_TLS;
    r.app = NDPI_GOOGLE;
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "TLS.Google");
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, 6), "TLS.G", "cut to the buffer");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_TLS);
    r.master = r.app = NDPI_GOOGLE;
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_OTHER);
    r.master = r.app = 92;
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_SSH);
    r.master = r.app = 130; /* HTTP_Connect */
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_HTTP);
    r.master = r.app = 188; /* QUIC */
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_OTHER);
    vg_ndpi_free(n);
}

Test(ndpi, new_rejects_zero_flows)
{
    cr_assert_null(vg_ndpi_new(0, 0));
    vg_ndpi_free(NULL);
}

Test(ndpi, tls_certificate_ends_detection)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    struct session s = {.cport = 40002, .sport = 443, .cseq = 500, .sseq = 7000, .ts = 0};
    struct vg_ndpi_result r;
    struct test_pkt t;
    uint32_t h = 0;
    handshake(n, &h, &s, &r);
    uint8_t b[512];
    size_t len = client_hello(b, "www.google.com");
    session_pkt(&t, &s, true, PSH | ACK, b, len);
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    len = server_hello_cert(b);
    session_pkt(&t, &s, false, PSH | ACK, b, len);
    cr_assert_not(vg_ndpi_packet(n, &h, &t.p, 1, t.p.ts_us, &r),
                  "nothing more to learn after the certificate");
    cr_assert_eq(h, 0);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.master, NDPI_TLS);
    cr_assert_eq(r.app, NDPI_GOOGLE);
    cr_assert_eq(vg_ndpi_stats(n)->flows_detected, 1);
    cr_assert_eq(vg_ndpi_stats(n)->arena_used, 0);
    vg_ndpi_free(n);
}

Test(ndpi, dns_query_then_answer)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    cr_assert_not_null(n);
    uint8_t msg[256];
    struct test_pkt t;
    struct vg_ndpi_result r;
    uint32_t h = 0;

    size_t len = dns_msg(msg, 0x4242, "www.example.com", false);
    udp_pkt(&t, CLIENT, 53000, SERVER, 53, msg, len, 1000 * MS);
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r), "waits for the answer");
    cr_assert_neq(h, 0);
    cr_assert_eq(r.done, 0);
    cr_assert_eq(r.app, NDPI_DNS, "recognised on the query");
    cr_assert_eq(vg_ndpi_stats(n)->flows_active, 1);

    len = dns_msg(msg, 0x4242, "www.example.com", true);
    udp_pkt(&t, SERVER, 53, CLIENT, 53000, msg, len, 1001 * MS);
    cr_assert_not(vg_ndpi_packet(n, &h, &t.p, 1, t.p.ts_us, &r), "final on the answer");
    cr_assert_eq(h, 0, "state released");
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.guessed, 0);
    cr_assert_eq(r.master, NDPI_DNS);
    cr_assert_eq(r.app, NDPI_DNS);
    char buf[64];
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "DNS");
    cr_assert_str_eq(vg_ndpi_master_name(n, &r), "DNS");
    cr_assert_str_eq(vg_ndpi_category_name(n, &r), "Network");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_DNS);

    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->flows_detected, 1);
    cr_assert_eq(st->flows_guessed, 0);
    cr_assert_eq(st->flows_unknown, 0);
    cr_assert_eq(st->packets_inspected, 2);
    cr_assert_eq(st->flows_active, 0);
    cr_assert_eq(st->arena_used, 0);

    /* Nothing held: flow end leaves the result alone. */
    vg_ndpi_flow_end(n, &h, &r);
    cr_assert_eq(r.app, NDPI_DNS);
    cr_assert_eq(st->flows_detected, 1);
    vg_ndpi_free(n);
}

Test(ndpi, dns_sub_protocol_from_the_name)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    uint8_t msg[256];
    struct test_pkt t;
    struct vg_ndpi_result r;
    uint32_t h = 0;
    size_t len = dns_msg(msg, 7, "www.google.com", false);
    udp_pkt(&t, CLIENT, 53001, SERVER, 53, msg, len, 1000 * MS);
    vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r);
    len = dns_msg(msg, 7, "www.google.com", true);
    udp_pkt(&t, SERVER, 53, CLIENT, 53001, msg, len, 1001 * MS);
    cr_assert_not(vg_ndpi_packet(n, &h, &t.p, 1, t.p.ts_us, &r));
    char buf[64];
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "DNS.Google");
    cr_assert_str_eq(vg_ndpi_master_name(n, &r), "DNS");
    cr_assert_str_eq(vg_ndpi_app_name(n, &r), "Google");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_DNS);
    vg_ndpi_free(n);
}

Test(ndpi, http_get_and_response)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    cr_assert_not_null(n);
    struct session s = {.cport = 40000, .sport = 80, .cseq = 1000, .sseq = 5000, .ts = 0};
    struct vg_ndpi_result r;
    struct test_pkt t;
    uint32_t h = 0;
    handshake(n, &h, &s, &r);

    static const char get[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                              "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";
    session_pkt(&t, &s, true, PSH | ACK, get, sizeof(get) - 1);
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r), "waits for the response");
    cr_assert_eq(r.app, NDPI_HTTP);
    cr_assert(vg_ndpi_stats(n)->arena_used > 0, "the URL and user agent live in the arena");

    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                               "Content-Length: 2\r\n\r\nhi";
    session_pkt(&t, &s, false, PSH | ACK, resp, sizeof(resp) - 1);
    cr_assert_not(vg_ndpi_packet(n, &h, &t.p, 1, t.p.ts_us, &r));
    cr_assert_eq(h, 0);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.master, NDPI_HTTP);
    cr_assert_eq(r.app, NDPI_HTTP);
    char buf[64];
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "HTTP");
    cr_assert_str_eq(vg_ndpi_category_name(n, &r), "Web");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_HTTP);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->flows_detected, 1);
    cr_assert_eq(st->packets_inspected, 5);
    cr_assert_eq(st->arena_used, 0, "released with the flow");
    cr_assert_eq(st->alloc_failed, 0);
    vg_ndpi_free(n);
}

Test(ndpi, tls_client_hello_sni)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    cr_assert_not_null(n);
    struct session s = {.cport = 40001, .sport = 443, .cseq = 77, .sseq = 9000, .ts = 0};
    struct vg_ndpi_result r;
    struct test_pkt t;
    uint32_t h = 0;
    handshake(n, &h, &s, &r);

    uint8_t ch[512];
    size_t len = client_hello(ch, "www.google.com");
    session_pkt(&t, &s, true, PSH | ACK, ch, len);
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r), "waits for the certificate");
    cr_assert_eq(r.done, 0);
    cr_assert_eq(r.master, NDPI_TLS);
    cr_assert_eq(r.app, NDPI_GOOGLE);

    /* The capture ends before the server answers: the flow end settles it. */
    vg_ndpi_flow_end(n, &h, &r);
    cr_assert_eq(h, 0);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.guessed, 0);
    char buf[64];
    cr_assert_str_eq(vg_ndpi_proto_name(n, &r, buf, sizeof(buf)), "TLS.Google");
    cr_assert_str_eq(vg_ndpi_master_name(n, &r), "TLS");
    cr_assert_str_eq(vg_ndpi_app_name(n, &r), "Google");
    cr_assert_str_eq(vg_ndpi_category_name(n, &r), "Web");
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_TLS);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->flows_detected, 1);
    cr_assert_eq(st->flows_active, 0);
    cr_assert(st->arena_peak > 0, "the SNI was copied into the arena");
    cr_assert_eq(st->arena_used, 0);
    vg_ndpi_free(n);
}

/* Payload no protocol claims, between unassigned ports. */
static void noise(uint8_t *b, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
}

Test(ndpi, gives_up_after_max_packets)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 3);
    cr_assert_not_null(n);
    struct test_pkt t;
    struct vg_ndpi_result r;
    uint8_t pl[200];
    uint32_t h = 0;
    for (uint32_t i = 0; i < 3; i++) {
        noise(pl, sizeof(pl), i + 1);
        if (i % 2 == 0)
            udp_pkt(&t, CLIENT, 47001, SERVER, 47002, pl, sizeof(pl), (1000 + i) * MS);
        else
            udp_pkt(&t, SERVER, 47002, CLIENT, 47001, pl, sizeof(pl), (1000 + i) * MS);
        bool more = vg_ndpi_packet(n, &h, &t.p, (int)(i % 2), t.p.ts_us, &r);
        if (i < 2) {
            cr_assert(more, "packet %u: still running", i + 1);
            cr_assert_eq(r.done, 0);
        } else {
            cr_assert_not(more, "the third packet with payload ends it");
        }
    }
    cr_assert_eq(h, 0);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.master, 0);
    cr_assert_eq(r.app, 0);
    cr_assert_eq(r.guessed, 0);
    cr_assert_eq(vg_ndpi_app_proto(&r), VG_APP_UNKNOWN);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->flows_unknown, 1);
    cr_assert_eq(st->flows_detected, 0);
    cr_assert_eq(st->packets_inspected, 3);
    cr_assert_eq(st->flows_active, 0);
    vg_ndpi_free(n);
}

Test(ndpi, packets_without_payload_do_not_count)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 1);
    struct session s = {.cport = 47100, .sport = 47101, .cseq = 1, .sseq = 2, .ts = 0};
    struct vg_ndpi_result r;
    uint32_t h = 0;
    handshake(n, &h, &s, &r); /* three packets, none with payload, max_packets 1 */
    cr_assert_neq(h, 0);
    struct test_pkt t;
    uint8_t pl[64];
    noise(pl, sizeof(pl), 99);
    session_pkt(&t, &s, true, PSH | ACK, pl, sizeof(pl));
    cr_assert_not(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    cr_assert_eq(r.done, 1);
    vg_ndpi_free(n);
}

Test(ndpi, guess_by_port_at_give_up)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 2);
    struct session s = {.cport = 47200, .sport = 443, .cseq = 1, .sseq = 2, .ts = 0};
    struct vg_ndpi_result r;
    uint32_t h = 0;
    handshake(n, &h, &s, &r);
    struct test_pkt t;
    uint8_t pl[64];
    noise(pl, sizeof(pl), 5);
    session_pkt(&t, &s, true, PSH | ACK, pl, sizeof(pl));
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    vg_ndpi_flow_end(n, &h, &r);
    cr_assert_eq(h, 0);
    cr_assert_eq(r.done, 1);
    cr_assert_eq(r.guessed, 1);
    cr_assert_eq(r.master, NDPI_TLS, "TCP port 443 guesses TLS");
    cr_assert_eq(vg_ndpi_stats(n)->flows_guessed, 1);
    vg_ndpi_free(n);
}

Test(ndpi, fragments_are_not_inspected)
{
    struct vg_ndpi *n = vg_ndpi_new(1, 0);
    uint8_t msg[256];
    struct test_pkt t;
    struct vg_ndpi_result r;
    uint32_t h = 0;
    size_t len = dns_msg(msg, 11, "www.example.com", false);
    udp_pkt(&t, CLIENT, 53400, SERVER, 53, msg, len, 1000 * MS);
    t.p.flags |= VG_PKT_FRAGMENT;
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    cr_assert_eq(h, 0, "no state taken");
    cr_assert_eq(r.done, 0);
    cr_assert_eq(vg_ndpi_stats(n)->packets_inspected, 0);
    t.p.flags &= (uint16_t)~VG_PKT_FRAGMENT;
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    cr_assert_eq(r.app, NDPI_DNS);
    t.p.flags |= VG_PKT_FRAGMENT;
    cr_assert(vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r));
    cr_assert_eq(r.app, NDPI_DNS, "the result so far stands");
    cr_assert_eq(vg_ndpi_stats(n)->packets_inspected, 1);
    uint32_t bogus = 7;
    t.p.flags &= (uint16_t)~VG_PKT_FRAGMENT;
    cr_assert_not(vg_ndpi_packet(n, &bogus, &t.p, 0, t.p.ts_us, &r), "not a handle: final");
    cr_assert_eq(r.done, 1);
    vg_ndpi_flow_end(n, &bogus, &r);
    cr_assert_eq(bogus, 7, "left alone");
    vg_ndpi_free(n);
}

Test(ndpi, pool_exhaustion_is_counted)
{
    struct vg_ndpi *n = vg_ndpi_new(1, 0);
    cr_assert_not_null(n);
    uint8_t msg[256];
    struct test_pkt t;
    struct vg_ndpi_result ra, rb;
    uint32_t ha = 0, hb = 0;

    size_t len = dns_msg(msg, 1, "a.example.com", false);
    udp_pkt(&t, CLIENT, 53100, SERVER, 53, msg, len, 1000 * MS);
    cr_assert(vg_ndpi_packet(n, &ha, &t.p, 0, t.p.ts_us, &ra));
    cr_assert_eq(ha, 1, "the only state");

    len = dns_msg(msg, 2, "b.example.com", false);
    udp_pkt(&t, CLIENT, 53101, SERVER, 53, msg, len, 1001 * MS);
    memset(&rb, 0xff, sizeof(rb));
    cr_assert_not(vg_ndpi_packet(n, &hb, &t.p, 0, t.p.ts_us, &rb), "no state: final at once");
    cr_assert_eq(hb, 0);
    cr_assert_eq(rb.done, 1);
    cr_assert_eq(rb.master, 0);
    cr_assert_eq(rb.app, 0);
    cr_assert_eq(rb.guessed, 0);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->pool_exhausted, 1);
    cr_assert_eq(st->packets_inspected, 1, "the refused packet never reached nDPI");

    /* The first flow ends; its state serves the next flow. */
    vg_ndpi_flow_end(n, &ha, &ra);
    cr_assert_eq(ha, 0);
    cr_assert_eq(ra.app, NDPI_DNS);
    cr_assert_eq(ra.done, 1);
    len = dns_msg(msg, 3, "c.example.com", false);
    udp_pkt(&t, CLIENT, 53102, SERVER, 53, msg, len, 1002 * MS);
    uint32_t hc = 0;
    struct vg_ndpi_result rc;
    cr_assert(vg_ndpi_packet(n, &hc, &t.p, 0, t.p.ts_us, &rc));
    cr_assert_eq(hc, 1);
    cr_assert_eq(st->pool_exhausted, 1);
    vg_ndpi_free(n); /* frees the state still held */
}

Test(ndpi, full_arena_refuses_and_counts)
{
    /* 4 KiB: the HTTP strings fit one flow at a time at most. */
    struct vg_ndpi *n = vg_ndpi_new_ex(8, 0, 4096);
    cr_assert_not_null(n);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->arena_bytes, 4096);
    char get[1900];
    int gl = snprintf(get, sizeof(get),
                      "GET /%01200d HTTP/1.1\r\nHost: www.example.com\r\n"
                      "User-Agent: %0500d\r\n\r\n",
                      0, 0);
    struct test_pkt t;
    struct vg_ndpi_result r[3];
    uint32_t h[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        struct session s = {.cport = (uint16_t)(41000 + i), .sport = 80, .cseq = 1, .sseq = 2};
        handshake(n, &h[i], &s, &r[i]);
        session_pkt(&t, &s, true, PSH | ACK, get, (size_t)gl);
        vg_ndpi_packet(n, &h[i], &t.p, 0, t.p.ts_us, &r[i]);
        cr_assert_eq(r[i].app, NDPI_HTTP, "flow %d: detected without its strings", i);
    }
    cr_assert(st->alloc_failed > 0, "refusals are counted");
    cr_assert(st->arena_peak <= 4096);
    for (int i = 0; i < 3; i++)
        vg_ndpi_flow_end(n, &h[i], &r[i]);
    cr_assert_eq(st->arena_used, 0);
    cr_assert_eq(st->flows_detected, 3);
    vg_ndpi_free(n);
}

Test(ndpi, arena_blocks_merge_back)
{
    /* A non-power-of-two arena (blocks of 32 and 8 KiB), cut into small
     * blocks by many flows' strings and emptied again: afterwards large
     * requests still fit. */
    struct vg_ndpi *n = vg_ndpi_new_ex(64, 0, 40960);
    cr_assert_not_null(n);
    const struct vg_ndpi_stats *st = vg_ndpi_stats(n);
    cr_assert_eq(st->arena_bytes, 40960);
    struct test_pkt t;
    struct vg_ndpi_result r[64];
    uint32_t h[64];
    memset(h, 0, sizeof(h));
    for (int i = 0; i < 64; i++) {
        char get[600];
        int gl = snprintf(get, sizeof(get),
                          "GET /%0*d HTTP/1.1\r\nHost: h%d.example.com\r\n"
                          "User-Agent: agent-%d\r\n\r\n",
                          10 + (i * 37) % 500, i, i, i);
        struct session s = {.cport = (uint16_t)(42000 + i), .sport = 80, .cseq = 1, .sseq = 2};
        handshake(n, &h[i], &s, &r[i]);
        session_pkt(&t, &s, true, PSH | ACK, get, (size_t)gl);
        vg_ndpi_packet(n, &h[i], &t.p, 0, t.p.ts_us, &r[i]);
    }
    cr_assert(st->arena_used > 0);
    for (int i = 0; i < 64; i += 2) /* every other one, so neighbours free apart */
        vg_ndpi_flow_end(n, &h[i], &r[i]);
    for (int i = 1; i < 64; i += 2)
        vg_ndpi_flow_end(n, &h[i], &r[i]);
    cr_assert_eq(st->arena_used, 0);
    cr_assert_eq(st->flows_active, 0);
    uint64_t failed = st->alloc_failed;

    /* A server's TLS handshake record of 15000 bytes, sent in 1400-byte
     * segments: nDPI gathers it in a buffer it grows by copying, up to a
     * 16 KiB block next to the 8 KiB one it replaces. Only whole merged
     * blocks can serve that. */
    struct session s = {.cport = 43000, .sport = 443, .cseq = 1, .sseq = 2};
    uint32_t hb = 0;
    struct vg_ndpi_result rb;
    handshake(n, &hb, &s, &rb);
    uint8_t seg[1400];
    memset(seg, 0x41, sizeof(seg));
    seg[0] = 0x16; /* handshake */
    put16(seg + 1, 0x0303);
    put16(seg + 3, 15000);
    seg[5] = 11; /* certificate */
    seg[6] = 0;
    put16(seg + 7, 14996);
    uint64_t peak_before = st->arena_peak;
    for (int i = 0; i < 11; i++) {
        session_pkt(&t, &s, false, ACK, seg, sizeof(seg));
        vg_ndpi_packet(n, &hb, &t.p, 1, t.p.ts_us, &rb);
        memset(seg, 0x41, sizeof(seg));
    }
    cr_assert_eq(st->arena_used, 16384, "the record buffer holds a 16 KiB block");
    cr_assert_eq(st->alloc_failed, failed, "no refusal after everything merged back");
    /* More than 8 KiB of small blocks came out of the 32 KiB block, so
     * neither of its 16 KiB halves was whole before the merges. */
    cr_assert_geq(peak_before, 8192 + 16384 + 1, "the flows had split the arena (peak %lu)",
                  (unsigned long)peak_before);
    vg_ndpi_flow_end(n, &hb, &rb);
    cr_assert_eq(st->arena_used, 0);
    vg_ndpi_free(n);
}

Test(ndpi, contexts_are_independent)
{
    struct vg_ndpi *a = vg_ndpi_new(2, 0);
    struct vg_ndpi *b = vg_ndpi_new(2, 0);
    cr_assert_not_null(a);
    cr_assert_not_null(b);
    uint8_t msg[256];
    struct test_pkt t;
    struct vg_ndpi_result ra, rb;
    uint32_t ha = 0, hb = 0;
    size_t len = dns_msg(msg, 9, "www.example.org", false);
    udp_pkt(&t, CLIENT, 53200, SERVER, 53, msg, len, 1000 * MS);
    cr_assert(vg_ndpi_packet(a, &ha, &t.p, 0, t.p.ts_us, &ra));
    cr_assert(vg_ndpi_packet(b, &hb, &t.p, 0, t.p.ts_us, &rb));
    cr_assert_eq(vg_ndpi_stats(a)->flows_active, 1);
    cr_assert_eq(vg_ndpi_stats(b)->flows_active, 1);
    struct vg_ndpi_stats sum;
    memset(&sum, 0, sizeof(sum));
    vg_ndpi_stats_add(&sum, vg_ndpi_stats(a));
    vg_ndpi_stats_add(&sum, vg_ndpi_stats(b));
    cr_assert_eq(sum.flows_active, 2);
    cr_assert_eq(sum.packets_inspected, 2);
    vg_ndpi_free(a); /* b's state survives a's teardown */
    vg_ndpi_flow_end(b, &hb, &rb);
    cr_assert_eq(rb.app, NDPI_DNS);
    vg_ndpi_free(b);
}

Test(ndpi, hostile_packets_do_not_crash)
{
    struct vg_ndpi *n = vg_ndpi_new(4, 0);
    struct test_pkt t;
    struct vg_ndpi_result r;
    uint8_t pl[1400];
    for (uint32_t seed = 1; seed < 200; seed++) {
        uint32_t h = 0;
        size_t len = 1 + seed * 7 % sizeof(pl);
        noise(pl, len, seed);
        /* Well-known ports invite the dissectors in. */
        static const uint16_t ports[] = {53, 80, 443, 22, 123, 161, 5060, 3478, 6881, 25};
        uint16_t port = ports[seed % VG_ARRAY_SIZE(ports)];
        if (seed % 2)
            udp_pkt(&t, CLIENT, (uint16_t)(20000 + seed), SERVER, port, pl, len, seed * MS);
        else
            tcp_pkt(&t, CLIENT, (uint16_t)(20000 + seed), SERVER, port, seed, 0, PSH | ACK, pl, len,
                    seed * MS);
        vg_ndpi_packet(n, &h, &t.p, 0, t.p.ts_us, &r);
        vg_ndpi_flow_end(n, &h, &r);
        cr_assert_eq(h, 0);
    }
    cr_assert_eq(vg_ndpi_stats(n)->flows_active, 0);
    cr_assert_eq(vg_ndpi_stats(n)->arena_used, 0);
    vg_ndpi_free(n);
}

/* Counting allocator: defined in this executable, it stands in for the C
 * library's malloc family everywhere in the process (nDPI and libgcrypt
 * included). Sanitizer builds bring their own allocator, so the counting
 * test is left out there. */
#if defined(__SANITIZE_ADDRESS__)
#define VG_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define VG_TEST_SANITIZED 1
#endif
#endif

#ifndef VG_TEST_SANITIZED
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);

static _Thread_local int counting;
static unsigned long libc_allocs;

void *malloc(size_t size)
{
    libc_allocs += counting;
    return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    libc_allocs += counting;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    libc_allocs += counting;
    return __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    libc_allocs += counting;
    return __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    libc_allocs += counting;
    *out = __libc_memalign(align, size);
    return *out != NULL ? 0 : 12;
}

Test(ndpi, detection_does_not_call_malloc)
{
    struct vg_ndpi *n = vg_ndpi_new(8, 0);
    cr_assert_not_null(n);
    struct test_pkt pk[16];
    int np = 0;
    /* Packets are built before counting starts. */
    struct session s1 = {.cport = 44000, .sport = 80, .cseq = 1, .sseq = 2};
    session_pkt(&pk[np++], &s1, true, SYN, NULL, 0);
    session_pkt(&pk[np++], &s1, false, SYN | ACK, NULL, 0);
    session_pkt(&pk[np++], &s1, true, ACK, NULL, 0);
    static const char get[] = "GET /a/b?c=d HTTP/1.1\r\nHost: www.example.com\r\n"
                              "User-Agent: Mozilla/5.0\r\nContent-Type: text/plain\r\n\r\n";
    session_pkt(&pk[np++], &s1, true, PSH | ACK, get, sizeof(get) - 1);
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n";
    session_pkt(&pk[np++], &s1, false, PSH | ACK, resp, sizeof(resp) - 1);
    struct session s2 = {.cport = 44001, .sport = 443, .cseq = 1, .sseq = 2};
    session_pkt(&pk[np++], &s2, true, SYN, NULL, 0);
    session_pkt(&pk[np++], &s2, false, SYN | ACK, NULL, 0);
    session_pkt(&pk[np++], &s2, true, ACK, NULL, 0);
    uint8_t ch[512];
    size_t chl = client_hello(ch, "mail.google.com");
    session_pkt(&pk[np++], &s2, true, PSH | ACK, ch, chl);
    uint8_t sc[512];
    size_t scl = server_hello_cert(sc);
    session_pkt(&pk[np++], &s2, false, PSH | ACK, sc, scl);
    uint8_t msg[256];
    size_t ml = dns_msg(msg, 5, "www.example.net", false);
    udp_pkt(&pk[np++], CLIENT, 53300, SERVER, 53, msg, ml, 5000 * MS);
    ml = dns_msg(msg, 5, "www.example.net", true);
    udp_pkt(&pk[np++], SERVER, 53, CLIENT, 53300, msg, ml, 5001 * MS);

    uint32_t h[3] = {0, 0, 0};
    struct vg_ndpi_result r[3];
    int flow_of[16] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2};
    counting = 1;
    for (int i = 0; i < np; i++)
        vg_ndpi_packet(n, &h[flow_of[i]], &pk[i].p, 0, pk[i].p.ts_us, &r[flow_of[i]]);
    for (int f = 0; f < 3; f++)
        vg_ndpi_flow_end(n, &h[f], &r[f]);
    counting = 0;
    cr_assert_eq(libc_allocs, 0, "%lu allocations from the C library during detection",
                 libc_allocs);
    cr_assert_eq(r[0].app, NDPI_HTTP);
    cr_assert_eq(r[1].master, NDPI_TLS);
    cr_assert_eq(r[2].app, NDPI_DNS);
    cr_assert(vg_ndpi_stats(n)->arena_peak > 0, "nDPI did allocate: from the arena");
    vg_ndpi_free(n);
}
#endif
