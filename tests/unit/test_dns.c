/* DNS parser: transactions and their pairing, record decoding and the EVE
 * object, name compression and its abuse, anomalies, TCP framing, content
 * detection, and the suricata-verify dns.query capture. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app_test_util.h"
#include "vigil/dns.h"
#include "vigil/event.h"
#include "vigil/flow.h"
#include "vigil/meta.h"

/* ---- message builder ---- */

struct msg {
    uint8_t b[8192];
    uint32_t n;
};

static void put_u8(struct msg *m, uint8_t v)
{
    m->b[m->n++] = v;
}

static void put_u16(struct msg *m, uint16_t v)
{
    put_u8(m, (uint8_t)(v >> 8));
    put_u8(m, (uint8_t)v);
}

static void put_u32(struct msg *m, uint32_t v)
{
    put_u16(m, (uint16_t)(v >> 16));
    put_u16(m, (uint16_t)v);
}

static void put_bytes(struct msg *m, const void *p, uint32_t n)
{
    memcpy(m->b + m->n, p, n);
    m->n += n;
}

static void put_header(struct msg *m, uint16_t id, uint16_t flags, uint16_t qd, uint16_t an,
                       uint16_t ns, uint16_t ar)
{
    m->n = 0;
    put_u16(m, id);
    put_u16(m, flags);
    put_u16(m, qd);
    put_u16(m, an);
    put_u16(m, ns);
    put_u16(m, ar);
}

/* Labels of a dotted name, root label included. */
static void put_name(struct msg *m, const char *dotted)
{
    while (*dotted != '\0') {
        const char *dot = strchr(dotted, '.');
        size_t l = dot != NULL ? (size_t)(dot - dotted) : strlen(dotted);
        put_u8(m, (uint8_t)l);
        put_bytes(m, dotted, (uint32_t)l);
        dotted += l;
        if (*dotted == '.')
            dotted++;
    }
    put_u8(m, 0);
}

static void put_ptr(struct msg *m, uint16_t off)
{
    put_u16(m, (uint16_t)(0xc000 | off));
}

static void put_question(struct msg *m, const char *name, uint16_t type)
{
    put_name(m, name);
    put_u16(m, type);
    put_u16(m, 1);
}

/* Writes type, class, ttl and a zero rdlength; returns where rdlength is. */
static uint32_t put_rr_fixed(struct msg *m, uint16_t type, uint32_t ttl)
{
    put_u16(m, type);
    put_u16(m, 1);
    put_u32(m, ttl);
    uint32_t at = m->n;
    put_u16(m, 0);
    return at;
}

static void end_rr(struct msg *m, uint32_t at)
{
    uint16_t l = (uint16_t)(m->n - at - 2);
    m->b[at] = (uint8_t)(l >> 8);
    m->b[at + 1] = (uint8_t)l;
}

/* ---- recorder ---- */

#define MAX_TX 32
#define MAX_EV 64

struct seen_tx {
    uint8_t stage, dir, last;
    uint32_t tx_id;
    int query_len; /* -1: absent */
    char query[300];
    bool has_payload;
    char json[8192];
};

struct rec {
    unsigned ntx, nev;
    struct seen_tx tx[MAX_TX];
    uint16_t ev[MAX_EV];
};

static void encode_json(const struct vg_app_tx *tx, char *out, size_t cap)
{
    char *json = app_tx_json(tx);
    snprintf(out, cap, "%s", json);
    free(json);
}

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    struct rec *r = user;
    cr_assert_lt(r->ntx, MAX_TX);
    struct seen_tx *t = &r->tx[r->ntx++];
    cr_assert_eq(tx->proto, VG_APP_DNS);
    t->stage = tx->stage;
    t->dir = tx->dir;
    t->last = tx->last;
    t->tx_id = tx->tx_id;
    const struct vg_app_buf *q = &tx->buf[VG_BUF_DNS_QUERY];
    t->query_len = q->data != NULL ? (int)q->len : -1;
    if (q->data != NULL)
        memcpy(t->query, q->data, q->len);
    t->query[q->data != NULL ? q->len : 0] = '\0';
    t->has_payload = tx->buf[VG_BUF_PAYLOAD].data != NULL;
    encode_json(tx, t->json, sizeof(t->json));
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    struct rec *r = user;
    cr_assert_eq(proto, VG_APP_DNS);
    cr_assert_lt(r->nev, MAX_EV);
    r->ev[r->nev++] = ev;
}

static struct vg_dns_state *new_state(void)
{
    struct vg_dns_state *s = malloc(vg_dns_state_size());
    cr_assert_not_null(s);
    vg_dns_state_init(s);
    return s;
}

#define CB(r)                                                                                      \
    {                                                                                              \
        .user = (r), .tx = on_tx, .anomaly = on_anomaly                                            \
    }

static bool has_event(const struct rec *r, uint16_t ev)
{
    for (unsigned i = 0; i < r->nev; i++)
        if (r->ev[i] == ev)
            return true;
    return false;
}

static void build_query(struct msg *m, uint16_t id, const char *name, uint16_t type)
{
    put_header(m, id, 0x0100, 1, 0, 0, 0);
    put_question(m, name, type);
}

/* ---- tests ---- */

Test(dns, query_is_a_request_stage_with_its_name)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    build_query(&m, 0x1234, "www.Example.com", 1);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, m.n, &cb);
    cr_assert_eq(r.nev, 0);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(r.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_eq(r.tx[0].last, 0);
    cr_assert_eq(r.tx[0].tx_id, 0);
    cr_assert_eq(r.tx[0].dir, VG_DIR_TOSERVER);
    cr_assert_str_eq(r.tx[0].query, "www.Example.com");
    cr_assert_eq(r.tx[0].query_len, 15);
    cr_assert(r.tx[0].has_payload);
    cr_assert_str_eq(r.tx[0].json,
                     "{\"dns\":{\"version\":2,\"type\":\"query\",\"id\":4660,\"flags\":\"100\","
                     "\"rd\":true,\"opcode\":0,\"rrname\":\"www.Example.com\",\"rrtype\":\"A\","
                     "\"rcode\":\"NOERROR\",\"queries\":[{\"rrname\":\"www.Example.com\","
                     "\"rrtype\":\"A\"}]}}");
    free(s);
}

/* A response with one record of every decoded type, names compressed. */
static void build_full_answer(struct msg *m, uint16_t id)
{
    put_header(m, id, 0x8180, 1, 9, 1, 0);
    put_question(m, "example.com", 255); /* name at 12 */
    uint32_t at;
    put_ptr(m, 12);
    at = put_rr_fixed(m, 1, 300);
    put_bytes(m, "\xc0\x00\x02\x01", 4);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 28, 60);
    put_bytes(m, "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01", 16);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 5, 10);
    put_u8(m, 3);
    put_bytes(m, "www", 3);
    put_ptr(m, 12);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 15, 20);
    put_u16(m, 10);
    put_u8(m, 4);
    put_bytes(m, "mail", 4);
    put_ptr(m, 12);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 16, 30);
    put_u8(m, 5);
    put_bytes(m, "hello", 5);
    put_u8(m, 6);
    put_bytes(m, " world", 6);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 33, 40);
    put_u16(m, 1);
    put_u16(m, 5);
    put_u16(m, 5060);
    put_u8(m, 3);
    put_bytes(m, "sip", 3);
    put_ptr(m, 12);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 65, 50);
    put_u16(m, 1);
    put_u8(m, 0); /* target "." */
    put_bytes(m, "\x00\x01\x00\x03\x02h2", 7);
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 12, 70);
    put_name(m, "host.example.org");
    end_rr(m, at);
    put_ptr(m, 12);
    at = put_rr_fixed(m, 99, 80); /* SPF: kept by type and length */
    put_bytes(m, "\x03spf", 4);
    end_rr(m, at);
    /* authority: SOA */
    put_ptr(m, 12);
    at = put_rr_fixed(m, 6, 3600);
    put_u8(m, 2);
    put_bytes(m, "ns", 2);
    put_ptr(m, 12);
    put_u8(m, 10);
    put_bytes(m, "hostmaster", 10);
    put_ptr(m, 12);
    put_u32(m, 2025101501);
    put_u32(m, 7200);
    put_u32(m, 900);
    put_u32(m, 1209600);
    put_u32(m, 300);
    end_rr(m, at);
}

Test(dns, response_pairs_with_its_query_and_logs_every_type)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg q, a;
    build_query(&q, 7, "example.com", 255);
    build_full_answer(&a, 7);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, q.b, q.n, &cb);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, a.b, a.n, &cb);
    cr_assert_eq(r.nev, 0, "event %u", r.nev ? r.ev[0] : 0);
    cr_assert_eq(r.ntx, 2);
    cr_assert_eq(r.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(r.tx[1].last, 1);
    cr_assert_eq(r.tx[1].tx_id, 0);
    cr_assert_eq(r.tx[1].dir, VG_DIR_TOCLIENT);
    cr_assert_eq(r.tx[1].query_len, -1);
    cr_assert_str_eq(
        r.tx[1].json,
        "{\"dns\":{\"version\":2,\"type\":\"answer\",\"id\":7,\"flags\":\"8180\",\"qr\":true,"
        "\"rd\":true,\"ra\":true,\"opcode\":0,\"rrname\":\"example.com\",\"rrtype\":\"ANY\","
        "\"rcode\":\"NOERROR\",\"queries\":[{\"rrname\":\"example.com\",\"rrtype\":\"ANY\"}],"
        "\"answers\":["
        "{\"rrname\":\"example.com\",\"rrtype\":\"A\",\"ttl\":300,\"rdata\":\"192.0.2.1\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"AAAA\",\"ttl\":60,\"rdata\":\"2001:db8::1\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"CNAME\",\"ttl\":10,"
        "\"rdata\":\"www.example.com\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"MX\",\"ttl\":20,"
        "\"rdata\":\"mail.example.com\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"TXT\",\"ttl\":30,\"rdata\":\"hello world\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"SRV\",\"ttl\":40,\"srv\":{\"priority\":1,"
        "\"weight\":5,\"port\":5060,\"name\":\"sip.example.com\"}},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"HTTPS\",\"ttl\":50,\"svcb\":{\"priority\":1,"
        "\"target\":\"\"}},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"PTR\",\"ttl\":70,"
        "\"rdata\":\"host.example.org\"},"
        "{\"rrname\":\"example.com\",\"rrtype\":\"SPF\",\"ttl\":80,\"rdlength\":4}],"
        "\"authorities\":[{\"rrname\":\"example.com\",\"rrtype\":\"SOA\",\"ttl\":3600,"
        "\"soa\":{\"mname\":\"ns.example.com\",\"rname\":\"hostmaster.example.com\","
        "\"serial\":2025101501,\"refresh\":7200,\"retry\":900,\"expire\":1209600,"
        "\"minimum\":300}}]}}");
    /* nothing is left to close */
    vg_dns_flush(s, &cb);
    cr_assert_eq(r.ntx, 2);
    free(s);
}

Test(dns, rcode_and_unknown_type_print_as_suricata)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg a;
    put_header(&a, 9, 0x8183, 1, 0, 0, 0);
    put_question(&a, "nope.example", 4000);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, a.b, a.n, &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_str_eq(r.tx[0].json,
                     "{\"dns\":{\"version\":2,\"type\":\"answer\",\"id\":9,\"flags\":\"8183\","
                     "\"qr\":true,\"rd\":true,\"ra\":true,\"opcode\":0,\"rrname\":\"nope.example\","
                     "\"rrtype\":\"4000\",\"rcode\":\"NXDOMAIN\",\"queries\":[{\"rrname\":"
                     "\"nope.example\",\"rrtype\":\"4000\"}]}}");
    free(s);
}

Test(dns, unsolicited_response_is_its_own_transaction)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg q, a;
    build_query(&q, 1, "a.example", 1);
    put_header(&a, 2, 0x8180, 1, 0, 0, 0);
    put_question(&a, "b.example", 1);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, q.b, q.n, &cb);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, a.b, a.n, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_DNS_EV_UNSOLICITED_RESPONSE);
    cr_assert_eq(r.ntx, 2);
    cr_assert_eq(r.tx[1].stage, VG_STAGE_RESPONSE);
    cr_assert_eq(r.tx[1].last, 1);
    cr_assert_eq(r.tx[1].tx_id, 1);
    /* the query still waits; flow end closes it */
    vg_dns_flush(s, &cb);
    cr_assert_eq(r.ntx, 3);
    cr_assert_eq(r.tx[2].stage, VG_STAGE_REQUEST);
    cr_assert_eq(r.tx[2].last, 1);
    cr_assert_eq(r.tx[2].tx_id, 0);
    cr_assert_eq(r.tx[2].query_len, -1);
    cr_assert_not(r.tx[2].has_payload);
    cr_assert_str_eq(r.tx[2].json,
                     "{\"dns\":{\"version\":2,\"type\":\"query\",\"id\":1,\"flags\":\"100\","
                     "\"rd\":true,\"opcode\":0,\"rrname\":\"a.example\",\"rrtype\":\"A\","
                     "\"rcode\":\"NOERROR\",\"queries\":[{\"rrname\":\"a.example\","
                     "\"rrtype\":\"A\"}]}}");
    vg_dns_flush(s, &cb);
    cr_assert_eq(r.ntx, 3);
    free(s);
}

Test(dns, full_pending_table_closes_the_oldest_query)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg q;
    for (uint16_t i = 0; i < VG_DNS_PENDING + 1; i++) {
        build_query(&q, (uint16_t)(100 + i), "flood.example", 1);
        vg_dns_parse_udp(s, VG_DIR_TOSERVER, q.b, q.n, &cb);
    }
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_DNS_EV_FLOODED);
    /* 8 requests, then the close of tx 0, then the 9th request */
    cr_assert_eq(r.ntx, VG_DNS_PENDING + 2);
    struct seen_tx *closed = &r.tx[VG_DNS_PENDING];
    cr_assert_eq(closed->stage, VG_STAGE_REQUEST);
    cr_assert_eq(closed->last, 1);
    cr_assert_eq(closed->tx_id, 0);
    cr_assert_eq(r.tx[VG_DNS_PENDING + 1].tx_id, VG_DNS_PENDING);
    cr_assert_eq(r.tx[VG_DNS_PENDING + 1].last, 0);
    /* the response to query 1 still pairs */
    static struct msg a;
    put_header(&a, 101, 0x8180, 1, 0, 0, 0);
    put_question(&a, "flood.example", 1);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, a.b, a.n, &cb);
    cr_assert_eq(r.tx[r.ntx - 1].tx_id, 1);
    cr_assert_eq(r.tx[r.ntx - 1].stage, VG_STAGE_RESPONSE);
    vg_dns_flush(s, &cb);
    cr_assert_eq(r.ntx, VG_DNS_PENDING + 3 + VG_DNS_PENDING - 1);
    free(s);
}

Test(dns, qr_bit_against_direction_and_z_flag)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 5, 0x8180, 1, 0, 0, 0);
    put_question(&m, "x.example", 1);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_NOT_A_REQUEST));
    memset(&r, 0, sizeof(r));
    put_header(&m, 6, 0x0140, 1, 0, 0, 0);
    put_question(&m, "x.example", 1);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n, &cb);
    cr_assert_eq(r.nev, 2);
    cr_assert_eq(r.ev[0], VG_DNS_EV_NOT_A_RESPONSE);
    cr_assert_eq(r.ev[1], VG_DNS_EV_Z_FLAG_SET);
    /* the QR bit decides: still a query */
    cr_assert_eq(r.tx[0].stage, VG_STAGE_REQUEST);
    free(s);
}

Test(dns, compression_pointer_to_itself_is_a_loop)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 3, 0x8180, 1, 1, 0, 0);
    put_question(&m, "loop.example.net", 1);
    uint16_t self = (uint16_t)m.n;
    put_ptr(&m, self);
    uint32_t at = put_rr_fixed(&m, 1, 1);
    put_bytes(&m, "\x0a\x00\x00\x01", 4);
    end_rr(&m, at);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_INFINITE_LOOP));
    cr_assert_not(has_event(&r, VG_DNS_EV_MALFORMED_DATA));
    cr_assert_eq(r.ntx, 1);
    /* the answer that loops is left out, the rest logged */
    cr_assert_not_null(strstr(r.tx[0].json, "\"answers\":[]"));
    free(s);
}

Test(dns, forward_pointer_and_pointer_cycle_are_loops)
{
    static struct msg m;
    /* a question name that points forward */
    put_header(&m, 3, 0x0100, 1, 0, 0, 0);
    put_ptr(&m, 20);
    put_u16(&m, 1);
    put_u16(&m, 1);
    put_name(&m, "later.example");
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_INFINITE_LOOP));
    cr_assert_eq(r.tx[0].query_len, -1);

    /* a label run that ends in a pointer back into itself: 12 -> "a" then
     * pointer to 12 */
    memset(&r, 0, sizeof(r));
    put_header(&m, 4, 0x8180, 1, 1, 0, 0);
    put_question(&m, "ok.example", 1); /* at 12 */
    uint16_t rr = (uint16_t)m.n;
    put_u8(&m, 1);
    put_bytes(&m, "a", 1);
    put_ptr(&m, rr); /* points at the start of its own segment */
    uint32_t at = put_rr_fixed(&m, 1, 1);
    put_bytes(&m, "\x0a\x00\x00\x01", 4);
    end_rr(&m, at);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_INFINITE_LOOP));
    free(s);
}

Test(dns, chained_backward_pointers_decode)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 8, 0x8180, 1, 1, 0, 0);
    put_question(&m, "example.com", 1); /* 12 */
    uint16_t www = (uint16_t)m.n;
    /* answer 1 name: "www" + ptr 12 */
    put_u8(&m, 3);
    put_bytes(&m, "www", 3);
    put_ptr(&m, 12);
    uint32_t at = put_rr_fixed(&m, 5, 5);
    put_u8(&m, 2);
    put_bytes(&m, "cd", 2);
    put_ptr(&m, www); /* cd -> www -> example.com */
    end_rr(&m, at);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n, &cb);
    cr_assert_eq(r.nev, 1); /* unsolicited only */
    cr_assert_not_null(strstr(r.tx[0].json, "\"rdata\":\"cd.www.example.com\""));
    free(s);
}

Test(dns, long_names_are_cut_at_255)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 11, 0x0100, 1, 0, 0, 0);
    /* five 63-character labels: 5*63 + 4 dots = 319 characters */
    for (unsigned i = 0; i < 5; i++) {
        put_u8(&m, 63);
        for (unsigned k = 0; k < 63; k++)
            put_u8(&m, (uint8_t)('a' + i));
    }
    put_u8(&m, 0);
    put_u16(&m, 1);
    put_u16(&m, 1);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, m.n, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_DNS_EV_NAME_TOO_LONG);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(r.tx[0].query_len, 255);
    cr_assert_eq(r.tx[0].query[63], '.');
    cr_assert_eq(r.tx[0].query[254], 'd');
    free(s);
}

Test(dns, bad_label_type_and_short_messages_are_malformed)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 12, 0x0100, 1, 0, 0, 0);
    put_u8(&m, 0x45); /* extended label type */
    put_bytes(&m, "abcde", 5);
    put_u8(&m, 0);
    put_u16(&m, 1);
    put_u16(&m, 1);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_MALFORMED_DATA));
    cr_assert_eq(r.tx[0].query_len, -1);

    memset(&r, 0, sizeof(r));
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, m.b, 11, &cb);
    cr_assert_eq(r.ntx, 0);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_DNS_EV_MALFORMED_DATA);
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, NULL, 0, &cb);
    cr_assert_eq(r.ntx, 0);
    free(s);
}

Test(dns, counts_claiming_more_than_the_message_holds)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg m;
    put_header(&m, 13, 0x8180, 1, 5, 0, 0);
    put_question(&m, "lie.example", 1);
    put_ptr(&m, 12);
    uint32_t at = put_rr_fixed(&m, 1, 9);
    put_bytes(&m, "\x08\x08\x08\x08", 4);
    end_rr(&m, at);
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_LYING_COUNTS));
    cr_assert_not(has_event(&r, VG_DNS_EV_MALFORMED_DATA));
    cr_assert_not_null(strstr(r.tx[0].json, "\"answers\":[{\"rrname\":\"lie.example\","
                                            "\"rrtype\":\"A\",\"ttl\":9,\"rdata\":\"8.8.8.8\"}]"));
    /* a record cut in the middle is malformed */
    memset(&r, 0, sizeof(r));
    vg_dns_parse_udp(s, VG_DIR_TOCLIENT, m.b, m.n - 2, &cb);
    cr_assert(has_event(&r, VG_DNS_EV_MALFORMED_DATA));
    free(s);
}

Test(dns, tcp_messages_split_anywhere)
{
    static struct msg q, a;
    build_query(&q, 0x4242, "mgmt.example.net", 16);
    put_header(&a, 0x4242, 0x8580, 1, 1, 0, 0);
    put_question(&a, "mgmt.example.net", 16);
    put_ptr(&a, 12);
    uint32_t at = put_rr_fixed(&a, 16, 60);
    put_u8(&a, 11);
    put_bytes(&a, "hello world", 11);
    end_rr(&a, at);
    static uint8_t qs[600], as[600];
    qs[0] = (uint8_t)(q.n >> 8);
    qs[1] = (uint8_t)q.n;
    memcpy(qs + 2, q.b, q.n);
    as[0] = (uint8_t)(a.n >> 8);
    as[1] = (uint8_t)a.n;
    memcpy(as + 2, a.b, a.n);
    for (uint32_t split = 1; split <= 8; split++) {
        static struct rec r;
        memset(&r, 0, sizeof(r));
        struct vg_app_cb cb = CB(&r);
        struct vg_dns_state *s = new_state();
        for (uint32_t o = 0; o < q.n + 2; o += split) {
            uint32_t k = q.n + 2 - o < split ? q.n + 2 - o : split;
            vg_dns_parse_tcp(s, VG_DIR_TOSERVER, qs + o, k, 0, &cb);
        }
        for (uint32_t o = 0; o < a.n + 2; o += split) {
            uint32_t k = a.n + 2 - o < split ? a.n + 2 - o : split;
            vg_dns_parse_tcp(s, VG_DIR_TOCLIENT, as + o, k, 0, &cb);
        }
        cr_assert_eq(r.nev, 0);
        cr_assert_eq(r.ntx, 2, "split %u", split);
        cr_assert_str_eq(r.tx[0].query, "mgmt.example.net");
        cr_assert_eq(r.tx[1].stage, VG_STAGE_RESPONSE);
        cr_assert_eq(r.tx[1].tx_id, 0);
        cr_assert_not_null(strstr(r.tx[1].json, "\"aa\":true"));
        cr_assert_not_null(strstr(r.tx[1].json, "\"rdata\":\"hello world\""));
        free(s);
    }
}

Test(dns, tcp_two_messages_in_one_chunk_and_too_long_message_skipped)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg q;
    static uint8_t buf[16384];
    uint32_t n = 0;
    /* a 5000-byte message (a query with a huge additional record) */
    put_header(&q, 1, 0x0100, 1, 0, 0, 1);
    put_question(&q, "big.example", 1);
    put_u8(&q, 0);
    uint32_t at = put_rr_fixed(&q, 99, 0);
    while (q.n < 5000)
        put_u8(&q, 'x');
    end_rr(&q, at);
    buf[n++] = (uint8_t)(q.n >> 8);
    buf[n++] = (uint8_t)q.n;
    memcpy(buf + n, q.b, q.n);
    n += q.n;
    for (uint16_t id = 2; id <= 3; id++) {
        build_query(&q, id, "small.example", 1);
        buf[n++] = (uint8_t)(q.n >> 8);
        buf[n++] = (uint8_t)q.n;
        memcpy(buf + n, q.b, q.n);
        n += q.n;
    }
    /* in two chunks, cut inside the long message */
    vg_dns_parse_tcp(s, VG_DIR_TOSERVER, buf, 3000, 0, &cb);
    vg_dns_parse_tcp(s, VG_DIR_TOSERVER, buf + 3000, n - 3000, 0, &cb);
    cr_assert_eq(r.nev, 1);
    cr_assert_eq(r.ev[0], VG_DNS_EV_TCP_MESSAGE_TOO_LONG);
    cr_assert_eq(r.ntx, 2);
    cr_assert_str_eq(r.tx[0].query, "small.example");
    cr_assert_eq(r.tx[0].tx_id, 0);
    cr_assert_eq(r.tx[1].tx_id, 1);
    free(s);
}

Test(dns, tcp_gap_resynchronises_on_a_message_start)
{
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    static struct msg q;
    build_query(&q, 77, "after.gap", 1);
    static uint8_t buf[600];
    buf[0] = (uint8_t)(q.n >> 8);
    buf[1] = (uint8_t)q.n;
    memcpy(buf + 2, q.b, q.n);
    /* half a message, then a gap */
    vg_dns_parse_tcp(s, VG_DIR_TOSERVER, buf, 10, 0, &cb);
    /* bytes from the middle of something: ignored */
    vg_dns_parse_tcp(s, VG_DIR_TOSERVER, (const uint8_t *)"\xff\xff\x01\x02", 4, VG_APP_GAP, &cb);
    cr_assert_eq(r.ntx, 0);
    /* a chunk that starts a message */
    vg_dns_parse_tcp(s, VG_DIR_TOSERVER, buf, q.n + 2, 0, &cb);
    cr_assert_eq(r.ntx, 1);
    cr_assert_str_eq(r.tx[0].query, "after.gap");
    cr_assert_eq(r.nev, 0);
    free(s);
}

Test(dns, probe)
{
    static struct msg q, a;
    build_query(&q, 1, "probe.example", 1);
    put_header(&a, 1, 0x8180, 1, 0, 0, 0);
    put_question(&a, "probe.example", 1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, q.b, q.n, false), 1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOCLIENT, q.b, q.n, false), -1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOCLIENT, a.b, a.n, false), 1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, a.b, a.n, false), -1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, q.b, 11, false), -1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, q.b, q.n - 2, false), -1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, (const uint8_t *)"GET / HTTP/1.1\r\n", 16, false),
                 -1);
    /* an answer count the message cannot hold */
    static struct msg bad;
    bad = q;
    bad.b[7] = 40;
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, bad.b, bad.n, false), -1);
    /* opcode 3 is unassigned */
    bad = q;
    bad.b[2] = 0x18;
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, bad.b, bad.n, false), -1);

    static uint8_t framed[600];
    framed[0] = (uint8_t)(q.n >> 8);
    framed[1] = (uint8_t)q.n;
    memcpy(framed + 2, q.b, q.n);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, framed, q.n + 2, true), 1);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, framed, 1, true), 0);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, framed, 8, true), 0);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, framed, 20, true), 0);
    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, framed, q.n + 2, false), -1);
}

Test(dns, event_names)
{
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_MALFORMED_DATA), "MALFORMED_DATA");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_NOT_A_REQUEST), "NOT_A_REQUEST");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_NOT_A_RESPONSE), "NOT_A_RESPONSE");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_Z_FLAG_SET), "Z_FLAG_SET");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_INFINITE_LOOP), "INFINITE_LOOP");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_NAME_TOO_LONG), "NAME_TOO_LONG");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_LYING_COUNTS), "LYING_COUNTS");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_UNSOLICITED_RESPONSE), "UNSOLICITED_RESPONSE");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_FLOODED), "FLOODED");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EV_TCP_MESSAGE_TOO_LONG), "TCP_MESSAGE_TOO_LONG");
    cr_assert_str_eq(vg_dns_event_name(VG_DNS_EVENT_COUNT), "UNKNOWN");
}

/* suricata-verify dns-detect-query-01: one UDP query, Ethernet / IPv4. The
 * rule `dns_query; content:"google"; nocase;` inspects VG_BUF_DNS_QUERY. */
Test(dns, suricata_verify_dns_query_capture)
{
    const char *path =
        VG_SOURCE_ROOT "/pcaps/suricata-verify/dns__dns-query__dns-detect-query-01/input.pcap";
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    static uint8_t file[4096];
    size_t size = fread(file, 1, sizeof(file), fp);
    fclose(fp);
    cr_assert_gt(size, 24 + 16);
    uint32_t magic, linktype, caplen;
    memcpy(&magic, file, 4);
    memcpy(&linktype, file + 20, 4);
    memcpy(&caplen, file + 24 + 8, 4);
    cr_assert_eq(magic, 0xa1b2c3d4u);
    cr_assert_eq(linktype, 1);
    const uint8_t *frame = file + 24 + 16;
    cr_assert_leq(24 + 16 + caplen, size);
    cr_assert_eq(frame[12], 0x08);
    cr_assert_eq(frame[13], 0x00);
    const uint8_t *ip = frame + 14;
    unsigned ihl = (ip[0] & 0x0f) * 4u;
    cr_assert_eq(ip[9], 17);
    const uint8_t *udp = ip + ihl;
    uint32_t udp_len = (uint32_t)udp[4] << 8 | udp[5];
    cr_assert_eq((uint32_t)udp[2] << 8 | udp[3], 53);
    const uint8_t *payload = udp + 8;
    uint32_t plen = udp_len - 8;

    cr_assert_eq(vg_dns_probe(VG_DIR_TOSERVER, payload, plen, false), 1);
    static struct rec r;
    memset(&r, 0, sizeof(r));
    struct vg_app_cb cb = CB(&r);
    struct vg_dns_state *s = new_state();
    vg_dns_parse_udp(s, VG_DIR_TOSERVER, payload, plen, &cb);
    cr_assert_eq(r.nev, 0);
    cr_assert_eq(r.ntx, 1);
    cr_assert_eq(r.tx[0].stage, VG_STAGE_REQUEST);
    cr_assert_str_eq(r.tx[0].query, "google.com");
    cr_assert_not_null(strcasestr(r.tx[0].query, "GOOGLE"));
    cr_assert_not_null(strstr(r.tx[0].json, "\"id\":4146,"));
    cr_assert_not_null(strstr(r.tx[0].json, "\"rrtype\":\"TXT\""));
    free(s);
}
