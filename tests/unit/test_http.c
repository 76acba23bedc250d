/* HTTP/1.x parser: hand-built exchanges, every buffer and anomaly checked
 * byte for byte, split feeding, hostile input, URI normalisation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "app_test_util.h"
#include "vigil/event.h"
#include "vigil/http.h"
#include "vigil/meta.h"

#define MAX_RECS 512
#define MAX_EVS  512

/* One report, copied out of the callback. */
struct rec {
    uint8_t stage, dir, last;
    uint32_t tx_id;
    char *buf[VG_BUF_COUNT]; /* NULL: absent */
    uint32_t len[VG_BUF_COUNT];
    char *json;
};

static struct rec recs[MAX_RECS];
static int nrecs;
static uint16_t evs[MAX_EVS];
static int nevs;

static void on_tx(void *user, const struct vg_app_tx *tx)
{
    (void)user;
    cr_assert_lt(nrecs, MAX_RECS);
    cr_assert_eq(tx->proto, VG_APP_HTTP);
    cr_assert_null(tx->buf[VG_BUF_PAYLOAD].data);
    struct rec *r = &recs[nrecs++];
    memset(r, 0, sizeof(*r));
    r->stage = tx->stage;
    r->dir = tx->dir;
    r->last = tx->last;
    r->tx_id = tx->tx_id;
    for (int i = 0; i < VG_BUF_COUNT; i++) {
        if (tx->buf[i].data == NULL)
            continue;
        r->buf[i] = malloc(tx->buf[i].len + 1);
        memcpy(r->buf[i], tx->buf[i].data, tx->buf[i].len);
        r->buf[i][tx->buf[i].len] = 0;
        r->len[i] = tx->buf[i].len;
    }
    r->json = app_tx_json(tx);
}

static void on_anomaly(void *user, enum vg_app_proto proto, uint16_t ev)
{
    (void)user;
    cr_assert_eq(proto, VG_APP_HTTP);
    cr_assert_not_null(vg_http_event_name(ev));
    cr_assert_lt(nevs, MAX_EVS);
    evs[nevs++] = ev;
}

static const struct vg_app_cb cb = {NULL, on_tx, on_anomaly};

static void reset_recs(void)
{
    for (int i = 0; i < nrecs; i++) {
        for (int b = 0; b < VG_BUF_COUNT; b++)
            free(recs[i].buf[b]);
        free(recs[i].json);
    }
    nrecs = 0;
    nevs = 0;
}

static struct vg_http_shared *shared;

static struct vg_http_state *new_state_cfg(const struct vg_http_config *c)
{
    struct vg_http_state *s = calloc(1, vg_http_state_size(c));
    vg_http_state_init(s, c, shared);
    return s;
}

static struct vg_http_state *new_state(void)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    return new_state_cfg(&c);
}

static void free_state(struct vg_http_state *s)
{
    vg_http_state_release(s);
    free(s);
}

static void setup(void)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    shared = vg_http_shared_new(&c, 4);
    cr_assert_not_null(shared);
    nrecs = 0;
    nevs = 0;
}

static void teardown(void)
{
    reset_recs();
    cr_assert_eq(vg_http_shared_inflaters_in_use(shared), 0, "every inflater returned");
    vg_http_shared_free(shared);
}

TestSuite(http, .init = setup, .fini = teardown);

static void feed(struct vg_http_state *s, int dir, const char *str)
{
    vg_http_parse(s, dir, (const uint8_t *)str, (uint32_t)strlen(str), 0, &cb);
}

static void feed_n(struct vg_http_state *s, int dir, const void *p, size_t n, uint32_t flags)
{
    vg_http_parse(s, dir, p, (uint32_t)n, flags, &cb);
}

static void end_both(struct vg_http_state *s)
{
    vg_http_parse(s, 0, NULL, 0, VG_APP_END, &cb);
    vg_http_parse(s, 1, NULL, 0, VG_APP_END, &cb);
}

#define assert_buf(r, which, expect)                                                               \
    do {                                                                                           \
        const char *e_ = (expect);                                                                 \
        cr_assert_not_null((r)->buf[which], "buffer %d absent", (int)(which));                     \
        cr_assert_eq((r)->len[which], strlen(e_), "buffer %d: length %u, expected %zu: [%s]",      \
                     (int)(which), (r)->len[which], strlen(e_), (r)->buf[which]);                  \
        cr_assert(memcmp((r)->buf[which], e_, strlen(e_)) == 0, "buffer %d: [%s] != [%s]",         \
                  (int)(which), (r)->buf[which], e_);                                              \
    } while (0)

#define assert_absent(r, which)                                                                    \
    cr_assert_null((r)->buf[which], "buffer %d present: [%s]", (int)(which), (r)->buf[which])

static void assert_stages(const char *expect)
{
    char got[4096] = "";
    for (int i = 0; i < nrecs; i++) {
        char one[64];
        snprintf(one, sizeof(one), "%s%u:%u%s", i ? " " : "", recs[i].tx_id, recs[i].stage,
                 recs[i].last ? "L" : "");
        strncat(got, one, sizeof(got) - strlen(got) - 1);
    }
    cr_assert_str_eq(got, expect);
}

static void assert_events(const char *expect)
{
    char got[4096] = "";
    for (int i = 0; i < nevs; i++) {
        if (i)
            strncat(got, " ", sizeof(got) - strlen(got) - 1);
        strncat(got, vg_http_event_name(evs[i]), sizeof(got) - strlen(got) - 1);
    }
    cr_assert_str_eq(got, expect);
}

static void assert_json_has(const struct rec *r, const char *needle)
{
    cr_assert_not_null(strstr(r->json, needle), "[%s] not in %s", needle, r->json);
}

static void assert_json_lacks(const struct rec *r, const char *needle)
{
    cr_assert_null(strstr(r->json, needle), "[%s] in %s", needle, r->json);
}

/* ---- A complete exchange ---- */

static const char simple_req[] = "GET /a/./b/../c%2Fd?q=%41 HTTP/1.1\r\n"
                                 "Host: WWW.Example.COM:8080\r\n"
                                 "User-Agent: curl/8.0\r\n"
                                 "Cookie: sid=1; BIGipServerpool_web=1677787402.36895.0000\r\n"
                                 "Referer: http://ref/\r\n"
                                 "Accept: */*\r\n"
                                 "\r\n";
static const char simple_rsp[] = "HTTP/1.1 200 OK\r\n"
                                 "Server: BigIP\r\n"
                                 "Content-Type: text/html; charset=utf-8\r\n"
                                 "Set-Cookie: TS01a2b3c4=0123; path=/\r\n"
                                 "Content-Length: 5\r\n"
                                 "Location: /next\r\n"
                                 "\r\n"
                                 "hello";

Test(http, complete_exchange_buffers)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, simple_req);
    feed(s, 1, simple_rsp);
    assert_stages("0:1 0:3 0:4L");
    assert_events("");
    const struct rec *q = &recs[0];
    cr_assert_eq(q->dir, 0);
    assert_buf(q, VG_BUF_HTTP_METHOD, "GET");
    assert_buf(q, VG_BUF_HTTP_URI_RAW, "/a/./b/../c%2Fd?q=%41");
    assert_buf(q, VG_BUF_HTTP_URI, "/a/c/d?q=%41");
    assert_buf(q, VG_BUF_HTTP_PROTOCOL, "HTTP/1.1");
    assert_buf(q, VG_BUF_HTTP_REQUEST_LINE, "GET /a/./b/../c%2Fd?q=%41 HTTP/1.1");
    assert_buf(q, VG_BUF_HTTP_HOST, "www.example.com");
    assert_buf(q, VG_BUF_HTTP_HOST_RAW, "WWW.Example.COM:8080");
    assert_buf(q, VG_BUF_HTTP_USER_AGENT, "curl/8.0");
    assert_buf(q, VG_BUF_HTTP_REFERER, "http://ref/");
    assert_buf(q, VG_BUF_HTTP_COOKIE, "sid=1; BIGipServerpool_web=1677787402.36895.0000");
    assert_buf(q, VG_BUF_HTTP_HEADER,
               "Host: WWW.Example.COM:8080\r\n"
               "User-Agent: curl/8.0\r\n"
               "Referer: http://ref/\r\n"
               "Accept: */*\r\n");
    assert_buf(q, VG_BUF_HTTP_HEADER_RAW, strchr(simple_req, '\n') + 1);
    assert_buf(q, VG_BUF_HTTP_HEADER_NAMES,
               "\r\nHost\r\nUser-Agent\r\nCookie\r\nReferer\r\nAccept\r\n\r\n");
    assert_buf(q, VG_BUF_HTTP_START, simple_req);
    assert_absent(q, VG_BUF_HTTP_CONTENT_LEN);
    assert_absent(q, VG_BUF_HTTP_CONTENT_TYPE);
    assert_absent(q, VG_BUF_HTTP_CONNECTION);
    assert_absent(q, VG_BUF_HTTP_REQUEST_BODY);
    assert_absent(q, VG_BUF_HTTP_STAT_CODE);

    const struct rec *r = &recs[1];
    cr_assert_eq(r->dir, 1);
    cr_assert_eq(r->last, 0);
    assert_buf(r, VG_BUF_HTTP_METHOD, "GET"); /* the request's buffers stay */
    assert_buf(r, VG_BUF_HTTP_STAT_CODE, "200");
    assert_buf(r, VG_BUF_HTTP_STAT_MSG, "OK");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_LINE, "HTTP/1.1 200 OK");
    assert_buf(r, VG_BUF_HTTP_SERVER, "BigIP");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_CONTENT_TYPE, "text/html; charset=utf-8");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_CONTENT_LEN, "5");
    assert_buf(r, VG_BUF_HTTP_SET_COOKIE, "TS01a2b3c4=0123; path=/");
    assert_buf(r, VG_BUF_HTTP_LOCATION, "/next");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_HEADER,
               "Server: BigIP\r\n"
               "Content-Type: text/html; charset=utf-8\r\n"
               "Content-Length: 5\r\n"
               "Location: /next\r\n");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_HEADER_NAMES,
               "\r\nServer\r\nContent-Type\r\nSet-Cookie\r\nContent-Length\r\nLocation\r\n\r\n");
    assert_buf(r, VG_BUF_HTTP_RESPONSE_START,
               "HTTP/1.1 200 OK\r\n"
               "Server: BigIP\r\n"
               "Content-Type: text/html; charset=utf-8\r\n"
               "Set-Cookie: TS01a2b3c4=0123; path=/\r\n"
               "Content-Length: 5\r\n"
               "Location: /next\r\n"
               "\r\n");
    assert_absent(r, VG_BUF_HTTP_RESPONSE_BODY);

    const struct rec *b = &recs[2];
    assert_buf(b, VG_BUF_HTTP_RESPONSE_BODY, "hello");
    assert_buf(b, VG_BUF_HTTP_URI, "/a/c/d?q=%41");
    cr_assert_str_eq(
        b->json,
        "{\"http\":{\"hostname\":\"www.example.com\",\"http_port\":8080,"
        "\"url\":\"/a/./b/../c%2Fd?q=%41\",\"http_user_agent\":\"curl/8.0\","
        "\"http_content_type\":\"text/html\",\"http_refer\":\"http://ref/\","
        "\"http_method\":\"GET\",\"protocol\":\"HTTP/1.1\",\"status\":200,"
        "\"redirect\":\"/next\",\"length\":5,\"url_normalized\":\"/a/c/d?q=%41\","
        "\"bigip\":{\"cookies\":[{\"pool_name\":\"pool_web\",\"member_ip\":\"10.1.1.100\","
        "\"member_port\":8080,\"route_domain\":0,\"cookie_encrypted\":false,"
        "\"private_member\":true,\"format\":\"ipv4\"}],\"server_bigip\":true,"
        "\"ts_cookies\":[\"TS01a2b3c4\"]},"
        "\"request_headers\":[{\"name\":\"Host\",\"value\":\"WWW.Example.COM:8080\"},"
        "{\"name\":\"User-Agent\",\"value\":\"curl/8.0\"},"
        "{\"name\":\"Cookie\",\"value\":\"sid=1; BIGipServerpool_web=1677787402.36895.0000\"},"
        "{\"name\":\"Referer\",\"value\":\"http://ref/\"},{\"name\":\"Accept\",\"value\":\"*/*\"}],"
        "\"response_headers\":[{\"name\":\"Server\",\"value\":\"BigIP\"},"
        "{\"name\":\"Content-Type\",\"value\":\"text/html; charset=utf-8\"},"
        "{\"name\":\"Set-Cookie\",\"value\":\"TS01a2b3c4=0123; path=/\"},"
        "{\"name\":\"Content-Length\",\"value\":\"5\"},{\"name\":\"Location\",\"value\":\"/"
        "next\"}]}}");
    const struct vg_http_stats *st = vg_http_shared_stats(shared);
    cr_assert_eq(st->transactions, 1);
    cr_assert_eq(st->anomalies, 0);
    free_state(s);
}

Test(http, repeated_and_folded_headers)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "GET / HTTP/1.1\r\n"
         "Host: h\r\n"
         "X-A: one\r\n"
         "Accept: a,\r\n"
         "  b\r\n"
         "\tc  \r\n"
         "x-a: two\r\n"
         "Cookie: c1=1\r\n"
         "Cookie: c2=2\r\n"
         "\r\n");
    assert_stages("0:1");
    assert_events("HEADER_FOLDING HEADER_FOLDING");
    const struct rec *q = &recs[0];
    assert_buf(q, VG_BUF_HTTP_HEADER, "Host: h\r\nX-A: one, two\r\nAccept: a, b c\r\n");
    assert_buf(q, VG_BUF_HTTP_COOKIE, "c1=1, c2=2");
    assert_buf(q, VG_BUF_HTTP_HEADER_NAMES, "\r\nHost\r\nX-A\r\nAccept\r\nCookie\r\n\r\n");
    assert_buf(q, VG_BUF_HTTP_START,
               "GET / HTTP/1.1\r\nHost: h\r\nX-A: one, two\r\n"
               "Accept: a, b c\r\nCookie: c1=1, c2=2\r\n\r\n");
    end_both(s);
    assert_stages("0:1 0:1L");
    assert_json_has(&recs[1], "\"anomalies\":[\"HEADER_FOLDING\"]");
    free_state(s);
}

Test(http, request_body_content_length)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST /login HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded"
         "\r\nContent-Length: 11\r\n\r\nuser=a&pw=b");
    feed(s, 1, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: /\r\n\r\n");
    assert_stages("0:1 0:2 0:3L");
    assert_buf(&recs[0], VG_BUF_HTTP_CONTENT_LEN, "11");
    assert_buf(&recs[0], VG_BUF_HTTP_CONTENT_TYPE, "application/x-www-form-urlencoded");
    assert_absent(&recs[0], VG_BUF_HTTP_REQUEST_BODY);
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "user=a&pw=b");
    assert_buf(&recs[2], VG_BUF_HTTP_REQUEST_BODY, "user=a&pw=b");
    assert_buf(&recs[2], VG_BUF_HTTP_STAT_CODE, "302");
    assert_absent(&recs[2], VG_BUF_HTTP_RESPONSE_BODY);
    assert_json_has(&recs[2], "\"length\":0");
    free_state(s);
}

Test(http, request_body_keep_limit)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.request_body_limit = 4;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123");
    assert_stages("0:1");
    feed(s, 0, "4");
    assert_stages("0:1 0:2");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "0123");
    feed(s, 0, "56789GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_stages("0:1 0:2 1:1");
    cr_assert_eq(vg_http_shared_stats(shared)->bodies_cut, 1);
    free_state(s);
}

Test(http, chunked_both_directions)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;name=value\r\nhello\r\n"
         "6 ; x\r\n world\r\n"
         "0\r\nX-Trailer: yes\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n");
    assert_stages("0:1 0:2 0:3 0:4L");
    assert_events("");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "hello world");
    assert_buf(&recs[3], VG_BUF_HTTP_RESPONSE_BODY, "abc0123456789");
    assert_json_has(&recs[3], "\"length\":13");
    free_state(s);
}

static const char pipelined_req[] = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n"
                                    "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                                    "HEAD /three HTTP/1.1\r\nHost: h\r\n\r\n";
static const char pipelined_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n11"
                                    "HTTP/1.1 100 Continue\r\n\r\n"
                                    "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
                                    "2\r\n22\r\n0\r\n\r\n"
                                    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";

Test(http, pipelining_pairs_in_order)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.request_slots = 3;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, pipelined_req);
    feed(s, 1, pipelined_rsp);
    assert_stages("0:1 1:1 1:2 2:1 0:3 0:4L 1:3 1:4L 2:3L");
    assert_events("");
    assert_buf(&recs[4], VG_BUF_HTTP_URI, "/one");
    assert_buf(&recs[5], VG_BUF_HTTP_RESPONSE_BODY, "11");
    assert_buf(&recs[6], VG_BUF_HTTP_URI, "/two");
    assert_buf(&recs[6], VG_BUF_HTTP_REQUEST_BODY, "abc");
    assert_buf(&recs[6], VG_BUF_HTTP_STAT_CODE, "201");
    assert_buf(&recs[7], VG_BUF_HTTP_RESPONSE_BODY, "22");
    assert_buf(&recs[8], VG_BUF_HTTP_METHOD, "HEAD");
    assert_buf(&recs[8], VG_BUF_HTTP_RESPONSE_CONTENT_LEN, "1000");
    assert_absent(&recs[8], VG_BUF_HTTP_RESPONSE_BODY);
    free_state(s);
}

Test(http, deep_pipelining_evicts_request_buffers)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.request_slots = 1;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, pipelined_req);
    feed(s, 1, pipelined_rsp);
    assert_stages("0:1 1:1 1:2 2:1 0:3 0:4L 1:3 1:4L 2:3L");
    assert_absent(&recs[4], VG_BUF_HTTP_URI); /* /one's slot went to /three */
    assert_buf(&recs[4], VG_BUF_HTTP_STAT_CODE, "200");
    assert_absent(&recs[6], VG_BUF_HTTP_URI);
    assert_buf(&recs[8], VG_BUF_HTTP_URI, "/three");
    cr_assert_eq(vg_http_shared_stats(shared)->request_buffers_evicted, 2);
    free_state(s);
}

Test(http, pipeline_overflow)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.max_pending = 2;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0,
         "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n"
         "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_stages("0:1 1:1 0:1L 2:1");
    feed(s, 1,
         "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
         "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert_stages("0:1 1:1 0:1L 2:1 1:3L 2:3L");
    assert_buf(&recs[5], VG_BUF_HTTP_STAT_CODE, "404");
    assert_buf(&recs[5], VG_BUF_HTTP_URI, "/3");
    cr_assert_eq(vg_http_shared_stats(shared)->pipeline_overflow, 1);
    free_state(s);
}

Test(http, responses_without_body)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
         "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n");
    assert_stages("0:1 1:1 0:3L 1:3L");
    assert_json_has(&recs[3], "\"status\":304");
    free_state(s);
}

Test(http, expect_100_continue)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
    feed(s, 1, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_stages("0:1");
    feed(s, 0, "data");
    feed(s, 1, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    assert_stages("0:1 0:2 0:3L");
    assert_buf(&recs[2], VG_BUF_HTTP_STAT_CODE, "201");
    assert_buf(&recs[2], VG_BUF_HTTP_REQUEST_BODY, "data");
    free_state(s);
}

Test(http, connect_leaves_http)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01");
    feed(s, 1, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03");
    assert_stages("0:1 0:3L");
    cr_assert_eq(vg_http_left(s), VG_HTTP_LEFT_CONNECT);
    assert_buf(&recs[0], VG_BUF_HTTP_URI, "example.com:443");
    assert_buf(&recs[0], VG_BUF_HTTP_HOST, "example.com");
    feed(s, 0, "GET / HTTP/1.1\r\n\r\n");
    end_both(s);
    assert_stages("0:1 0:3L");
    assert_events("");
    free_state(s);
}

Test(http, connect_refused_stays_http)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n");
    feed(s, 1, "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n");
    feed(s, 0,
         "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n"
         "Proxy-Authorization: Basic eA==\r\n\r\n");
    assert_stages("0:1 0:3L 1:1");
    cr_assert_eq(vg_http_left(s), VG_HTTP_LEFT_NO);
    free_state(s);
}

Test(http, websocket_upgrade)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "\r\n\x81\x05hello");
    assert_stages("0:1 0:3L");
    assert_events("");
    cr_assert_eq(vg_http_left(s), VG_HTTP_LEFT_UPGRADE);
    assert_json_has(&recs[1], "\"websocket\":true");
    assert_json_lacks(&recs[0], "\"websocket\":true");
    free_state(s);
}

Test(http, body_until_close)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.0\r\n\r\n");
    feed(s, 1, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ");
    feed(s, 1, "part two");
    assert_stages("0:1 0:3");
    vg_http_parse(s, 1, NULL, 0, VG_APP_END, &cb);
    assert_stages("0:1 0:3 0:4L");
    assert_buf(&recs[2], VG_BUF_HTTP_RESPONSE_BODY, "part one, part two");
    assert_events("");
    free_state(s);
}

/* ---- Content-Encoding ---- */

static size_t compress_buf(const void *in, size_t n, uint8_t *out, size_t cap, int wbits)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

static void compressed_exchange(const char *coding, int wbits, size_t step)
{
    struct vg_http_state *s = new_state();
    static const char text[] = "<html>compressed body, compressed body, compressed body</html>";
    uint8_t z[256];
    size_t zn = compress_buf(text, strlen(text), z, sizeof(z), wbits);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %zu\r\n\r\n", coding, zn);
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, head);
    for (size_t i = 0; i < zn; i += step)
        feed_n(s, 1, z + i, zn - i < step ? zn - i : step, 0);
    assert_stages("0:1 0:3 0:4L");
    assert_events("");
    assert_buf(&recs[2], VG_BUF_HTTP_RESPONSE_BODY, text);
    char len[32];
    snprintf(len, sizeof(len), "\"length\":%zu", zn);
    assert_json_has(&recs[2], len);
    free_state(s);
}

Test(http, gzip_body_decoded)
{
    compressed_exchange("gzip", 31, 1000);
    reset_recs();
    compressed_exchange("x-gzip", 31, 1);
}

Test(http, deflate_zlib_and_raw)
{
    compressed_exchange("deflate", 15, 1000);
    reset_recs();
    compressed_exchange("deflate", -15, 1000);
    reset_recs();
    compressed_exchange("Deflate", 15, 1);
    cr_assert_eq(vg_http_shared_stats(shared)->bodies_decoded, 3);
}

Test(http, gzip_bomb_cut_at_limit)
{
    struct vg_http_state *s = new_state();
    size_t big = 10u << 20;
    uint8_t *zeros = calloc(1, big);
    uint8_t *z = malloc(big / 100);
    size_t zn = compress_buf(zeros, big, z, big / 100, 31);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    feed(s, 0, "GET /bomb HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, head);
    feed_n(s, 1, z, zn, 0);
    assert_stages("0:1 0:3 0:4 0:4L");
    cr_assert_eq(recs[2].len[VG_BUF_HTTP_RESPONSE_BODY], 16384);
    cr_assert_eq(recs[3].len[VG_BUF_HTTP_RESPONSE_BODY], 16384);
    const struct vg_http_stats *st = vg_http_shared_stats(shared);
    cr_assert_eq(st->bodies_cut, 1);
    cr_assert_eq(st->decoded_bytes, 16384);
    cr_assert_eq(vg_http_shared_inflaters_in_use(shared), 0);
    free(zeros);
    free(z);
    free_state(s);
}

Test(http, inflate_pool_exhausted_keeps_body_encoded)
{
    uint8_t z[128];
    size_t zn = compress_buf("abc", 3, z, sizeof(z), 31);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    struct vg_http_state *st[5];
    for (int i = 0; i < 5; i++) {
        st[i] = new_state();
        feed(st[i], 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        feed(st[i], 1, head);
        feed_n(st[i], 1, z, 1, 0); /* bodies in progress hold their inflaters */
    }
    cr_assert_eq(vg_http_shared_inflaters_in_use(shared), 4);
    cr_assert_eq(vg_http_shared_stats(shared)->inflate_pool_exhausted, 1);
    feed_n(st[4], 1, z + 1, zn - 1, 0);
    const struct rec *r = &recs[nrecs - 1];
    cr_assert_eq(r->stage, VG_STAGE_RESPONSE_BODY);
    cr_assert_eq(r->len[VG_BUF_HTTP_RESPONSE_BODY], zn);
    cr_assert(memcmp(r->buf[VG_BUF_HTTP_RESPONSE_BODY], z, zn) == 0);
    for (int i = 0; i < 5; i++)
        free_state(st[i]);
    cr_assert_eq(vg_http_shared_inflaters_in_use(shared), 0);
}

Test(http, decompression_failed)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 15\r\n\r\n"
         "not gzip at all");
    assert_stages("0:1 0:3 0:4L");
    assert_events("DECOMPRESSION_FAILED");
    assert_json_has(&recs[2], "\"anomalies\":[\"DECOMPRESSION_FAILED\"]");
    free_state(s);
}

Test(http, abnormal_content_encoding_kept_raw)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip, br\r\nContent-Length: 3\r\n\r\nxyz");
    assert_events("ABNORMAL_CONTENT_ENCODING");
    assert_buf(&recs[2], VG_BUF_HTTP_RESPONSE_BODY, "xyz");
    free_state(s);
}

/* ---- URI normalisation ---- */

static void check_norm(const char *in, const char *expect, uint32_t expect_flags)
{
    uint8_t out[512];
    uint32_t flags = 0xff;
    uint32_t n =
        vg_http_uri_normalize((const uint8_t *)in, (uint32_t)strlen(in), out, sizeof(out), &flags);
    cr_assert_eq(n, strlen(expect), "%s: got [%.*s], expected [%s]", in, (int)n, out, expect);
    cr_assert(memcmp(out, expect, n) == 0, "%s: got [%.*s], expected [%s]", in, (int)n, out,
              expect);
    cr_assert_eq(flags, expect_flags, "%s: flags %u", in, flags);
}

Test(http, uri_normalisation)
{
    check_norm("/", "/", 0);
    check_norm("/a/b/c", "/a/b/c", 0);
    check_norm("/a/./b/../../c", "/c", 0);
    check_norm("/a/b/..", "/a/", 0);
    check_norm("/a/b/.", "/a/b/", 0);
    check_norm("/../../etc/passwd", "/etc/passwd", 0);
    check_norm("/a//b", "/a//b", 0);
    check_norm("/a%2fb%2F..%2fc", "/a/c", 0);
    check_norm("/%2e%2e/%2E%2e/x", "/x", 0);
    uint8_t nul[16];
    uint32_t nf = 0;
    cr_assert_eq(vg_http_uri_normalize((const uint8_t *)"/a%00b", 6, nul, sizeof(nul), &nf), 4);
    cr_assert(memcmp(nul, "/a\0b", 4) == 0);
    cr_assert_eq(nf, VG_HTTP_URI_NUL_BYTE);
    check_norm("/a%zzb%4", "/a%zzb%4", VG_HTTP_URI_INVALID_ENCODING);
    check_norm("/a%252e%252e/b", "/a%2e%2e/b", VG_HTTP_URI_DOUBLE_ENCODED);
    check_norm("/a\\..\\b", "/a\\..\\b", 0);
    check_norm("/a/b?x=/../%41", "/a/b?x=/../%41", 0);
    check_norm("/a;jsessionid=1/b;x=y", "/a/b", 0);
    /* "..;" is a dot segment once its parameter is gone: it drops login.jsp,
     * leaving Tomcat's view (context /tmui, servlet path /tmui/locallb/...) */
    check_norm("/tmui/login.jsp/..;/tmui/locallb/workspace/tmshCmd.jsp",
               "/tmui/tmui/locallb/workspace/tmshCmd.jsp", 0);
    check_norm("/tmui/login.jsp/..;/..;/tmui/locallb/workspace/tmshCmd.jsp",
               "/tmui/locallb/workspace/tmshCmd.jsp", 0);
    check_norm("/hsqldb%0a", "/hsqldb\n", 0);
    check_norm("http://Host:8080/a/../b?q", "/b?q", 0);
    check_norm("http://host", "/", 0);
    check_norm("http://host?q=1", "/?q=1", 0);
    check_norm("example.com:443", "example.com:443", 0);
    check_norm("*", "*", 0);

    const uint8_t *h;
    uint32_t hl, port;
    const char *u = "https://user:pw@[::1]:8443/x";
    cr_assert(vg_http_uri_authority((const uint8_t *)u, (uint32_t)strlen(u), &h, &hl, &port));
    cr_assert_eq(hl, 5);
    cr_assert(memcmp(h, "[::1]", 5) == 0);
    cr_assert_eq(port, 8443);
    cr_assert_not(vg_http_uri_authority((const uint8_t *)"/x", 2, &h, &hl, &port));
}

Test(http, cve_2020_5902_uri)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "GET /tmui/login.jsp/..;/tmui/locallb/workspace/tmshCmd.jsp?command=list+auth+user"
         " HTTP/1.1\r\nHost: bigip.example\r\n\r\n");
    assert_stages("0:1");
    assert_buf(&recs[0], VG_BUF_HTTP_URI,
               "/tmui/tmui/locallb/workspace/tmshCmd.jsp?command=list+auth+user");
    assert_json_has(&recs[0], "\"bigip\":{\"mgmt\":\"tmui\"}");
    free_state(s);
}

/* A response setting a BIG-IP persistence cookie whose pool member address
 * is private raises BIGIP_COOKIE_PRIVATE_MEMBER, once per response; public
 * and encrypted members, and the cookie a client sends back, do not. */
Test(http, bigip_cookie_private_member)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 200 OK\r\n"
         "Set-Cookie: TS01a2b3c4=0123; path=/\r\n"
         "Set-Cookie: BIGipServerpool_web=1677787402.20480.0000; path=/; Httponly\r\n"
         "Set-Cookie: BIGipServerpool_api=rd2o00000000000000000000ffff0a011e51o443\r\n"
         "Content-Length: 0\r\n\r\n");
    assert_events("BIGIP_COOKIE_PRIVATE_MEMBER");
    cr_assert_eq(nrecs, 2);
    assert_json_has(&recs[1], "\"anomalies\":[\"BIGIP_COOKIE_PRIVATE_MEMBER\"]");
    assert_json_has(&recs[1], "\"member_ip\":\"10.1.1.100\"");
    assert_json_has(&recs[1], "\"member_ip\":\"10.1.30.81\"");
    reset_recs();

    feed(s, 0,
         "GET /a HTTP/1.1\r\nHost: h\r\n"
         "Cookie: BIGipServerpool_web=1677787402.20480.0000\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 200 OK\r\n"
         "Set-Cookie: BIGipServerpool_edge=rd5o00000000000000000000ffffc0000201o80\r\n"
         "Set-Cookie: BIGipServerpool_web=!Kx3n7YbQm2p8Z0vR5tW1uA==; path=/\r\n"
         "Set-Cookie: BIGipServerpool_v6=vi20010112000000000000000000000030.20480\r\n"
         "Set-Cookie: sid=1677787402.20480.0001\r\n"
         "Content-Length: 0\r\n\r\n");
    assert_events("");
    cr_assert_eq(nrecs, 2);
    assert_json_lacks(&recs[1], "\"anomalies\"");
    assert_json_has(&recs[1], "\"member_ip\":\"192.0.2.1\"");
    reset_recs();

    feed(s, 0, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1,
         "HTTP/1.1 200 OK\r\n"
         "Set-Cookie: persist=vifd000000000000000000000000000010.20480\r\n"
         "Content-Length: 0\r\n\r\n");
    assert_events("BIGIP_COOKIE_PRIVATE_MEMBER");
    const struct vg_http_stats *st = vg_http_shared_stats(shared);
    cr_assert_eq(st->anomalies, 2);
    free_state(s);
}

Test(http, uri_anomalies)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /a%252fb%00%zz HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_events("URI_DOUBLE_ENCODED URI_INVALID_ENCODING URI_NUL_BYTE");
    assert_json_has(
        &recs[0],
        "\"anomalies\":[\"URI_DOUBLE_ENCODED\",\"URI_INVALID_ENCODING\",\"URI_NUL_BYTE\"]");
    free_state(s);
}

Test(http, absolute_uri_host)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET http://Proxy.Example:3128/p/../q HTTP/1.1\r\nHost: other\r\n\r\n");
    assert_buf(&recs[0], VG_BUF_HTTP_HOST, "proxy.example");
    assert_buf(&recs[0], VG_BUF_HTTP_HOST_RAW, "other");
    assert_buf(&recs[0], VG_BUF_HTTP_URI, "/q");
    assert_events("HOST_HEADER_AMBIGUOUS");
    assert_json_has(&recs[0], "\"http_port\":3128");
    free_state(s);
}

/* ---- Anomalies ---- */

static void te_case(const char *te, const char *events)
{
    struct vg_http_state *s = new_state();
    char req[512];
    snprintf(req, sizeof(req),
             "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: %s\r\n\r\n0\r\n\r\n", te);
    feed(s, 0, req);
    assert_events(events);
    reset_recs();
    free_state(s);
}

Test(http, transfer_encoding_not_chunked)
{
    te_case("chunked", "");
    te_case("chunked, chunked", "TRANSFER_ENCODING_NOT_CHUNKED");
    te_case("Chunked ", "TRANSFER_ENCODING_NOT_CHUNKED");
    te_case("xchunked", "TRANSFER_ENCODING_NOT_CHUNKED REQUEST_BODY_WITHOUT_LENGTH "
                        "INVALID_REQUEST_LINE");
    te_case("gzip, chunked", "TRANSFER_ENCODING_NOT_CHUNKED");
}

Test(http, cve_2023_46747_smuggling)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST /tmui/login.jsp HTTP/1.1\r\n"
         "Host: 127.0.0.1\r\n"
         "Transfer-Encoding: chunked, chunked\r\n"
         "Content-Type: application/x-www-form-urlencoded\r\n"
         "\r\n"
         "204\r\n"
         "\x00\x12\x34\x56"
         "\r\n0\r\n\r\n");
    assert_events("TRANSFER_ENCODING_NOT_CHUNKED");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER,
               "Host: 127.0.0.1\r\nTransfer-Encoding: chunked, chunked\r\n"
               "Content-Type: application/x-www-form-urlencoded\r\n");
    assert_json_has(&recs[0], "\"anomalies\":[\"TRANSFER_ENCODING_NOT_CHUNKED\"]");
    assert_json_has(&recs[0], "\"mgmt\":\"tmui\"");
    free_state(s);
}

Test(http, repeated_transfer_encoding_headers)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    assert_events("TRANSFER_ENCODING_NOT_CHUNKED");
    free_state(s);
}

Test(http, cve_2022_1388_connection_header)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST /mgmt/tm/util/bash HTTP/1.1\r\n"
         "Host: 127.0.0.1\r\n"
         "Authorization: Basic YWRtaW46\r\n"
         "X-F5-Auth-Token: a\r\n"
         "Connection: keep-alive, X-F5-Auth-Token\r\n"
         "Content-Length: 2\r\n"
         "\r\n{}");
    assert_stages("0:1 0:2");
    assert_events("CONNECTION_NAMES_END_TO_END_HEADER");
    assert_buf(&recs[0], VG_BUF_HTTP_CONNECTION, "keep-alive, X-F5-Auth-Token");
    assert_json_has(&recs[1], "\"bigip\":{\"mgmt\":\"icontrol_rest\",\"auth_token_header\":true}");
    reset_recs();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close, Upgrade, TE\r\n\r\n");
    assert_events("");
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\nConnection:\r\n Content-Length\r\n\r\n");
    assert_events("HEADER_FOLDING CONNECTION_NAMES_END_TO_END_HEADER");
    free_state(s);
}

Test(http, content_length_anomalies)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n"
         "\r\n1\r\na\r\n0\r\n\r\n");
    assert_events("CONTENT_LENGTH_AND_TRANSFER_ENCODING");
    assert_stages("0:1 0:2");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "a");
    reset_recs();
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab");
    assert_events("DUPLICATE_CONTENT_LENGTH");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "ab");
    reset_recs();
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nab");
    assert_events("");
    reset_recs();
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n");
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n");
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n");
    assert_events("INVALID_CONTENT_LENGTH INVALID_CONTENT_LENGTH INVALID_CONTENT_LENGTH");
    assert_stages("3:1 4:1 5:1");
    free_state(s);
}

Test(http, long_lines)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.line_limit = 100;
    c.header_limit = 400;
    struct vg_http_state *s = new_state_cfg(&c);
    char req[2048];
    char pad[300];
    memset(pad, 'a', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = 0;
    snprintf(req, sizeof(req), "GET /%s HTTP/1.1\r\nHost: h\r\nX-Long: %s\r\n\r\n", pad, pad);
    feed(s, 0, req);
    assert_events("REQUEST_LINE_TOO_LONG HEADER_LINE_TOO_LONG");
    assert_stages("0:1");
    cr_assert_eq(recs[0].len[VG_BUF_HTTP_REQUEST_LINE], 100);
    cr_assert_eq(recs[0].len[VG_BUF_HTTP_URI_RAW], 96);
    assert_buf(&recs[0], VG_BUF_HTTP_HOST, "h");
    reset_recs();
    /* headers beyond header_limit: cut, and Content-Length past the cut still frames */
    char big[4096];
    int n = snprintf(big, sizeof(big), "POST / HTTP/1.1\r\n");
    for (int i = 0; i < 10; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "X-Pad-%d: %.60s\r\n", i, pad);
    snprintf(big + n, sizeof(big) - (size_t)n,
             "Content-Length: 4\r\n\r\nbodyGET /after HTTP/1.1\r\n\r\n");
    feed(s, 0, big);
    assert_events("HEADERS_CUT MISSING_HOST_HEADER MISSING_HOST_HEADER");
    assert_stages("1:1 1:2 2:1");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "body");
    assert_absent(&recs[0], VG_BUF_HTTP_CONTENT_LEN);
    assert_buf(&recs[2], VG_BUF_HTTP_URI, "/after");
    cr_assert_eq(vg_http_shared_stats(shared)->headers_cut, 1);
    free_state(s);
}

Test(http, too_many_headers)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.max_headers = 2;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
    assert_events("HEADERS_CUT");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER, "Host: h\r\nA: 1\r\n");
    free_state(s);
}

Test(http, invalid_request_line_resyncs)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "\x16\x03\x01\x02\x01 binary junk\r\nmore junk\r\nGET /ok HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_events("INVALID_REQUEST_LINE");
    assert_stages("0:1");
    assert_buf(&recs[0], VG_BUF_HTTP_URI, "/ok");
    assert_json_has(&recs[0], "\"anomalies\":[\"INVALID_REQUEST_LINE\"]");
    reset_recs();
    feed(s, 0, "GET\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_events("INVALID_REQUEST_LINE");
    assert_stages("1:1");
    free_state(s);
}

Test(http, http09_request)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /old\r\n");
    assert_events("REQUEST_LINE_MISSING_PROTOCOL");
    assert_stages("0:1");
    assert_absent(&recs[0], VG_BUF_HTTP_PROTOCOL);
    assert_buf(&recs[0], VG_BUF_HTTP_URI_RAW, "/old");
    free_state(s);
}

Test(http, invalid_status_line_and_unsolicited)
{
    struct vg_http_state *s = new_state();
    feed(s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
    assert_stages("0:3 0:4L");
    assert_events("UNSOLICITED_RESPONSE");
    assert_absent(&recs[1], VG_BUF_HTTP_METHOD);
    assert_json_has(&recs[1], "\"protocol\":\"HTTP/1.1\",\"status\":200");
    assert_json_has(&recs[1], "\"anomalies\":[\"UNSOLICITED_RESPONSE\"]");
    reset_recs();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, "HTTP/1.1 2x0 Bad\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_events("INVALID_STATUS_LINE");
    assert_stages("1:1 1:3L");
    assert_json_has(&recs[1], "\"anomalies\":[\"INVALID_STATUS_LINE\"]");
    free_state(s);
}

Test(http, invalid_chunks)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    assert_events("INVALID_CHUNK");
    assert_stages("0:1");
    feed(s, 0, "GET /next HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_stages("0:1 1:1");
    reset_recs();
    /* a size past 2^60 */
    feed(s, 0,
         "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         "10000000000000000\r\n");
    assert_events("INVALID_CHUNK");
    reset_recs();
    /* data not followed by CRLF */
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcd\r\n");
    assert_events("INVALID_CHUNK");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "ab");
    free_state(s);
}

Test(http, endless_chunk_size_line)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.line_limit = 64;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n");
    char zeros[1000];
    memset(zeros, '0', sizeof(zeros));
    for (int i = 0; i < 100; i++)
        feed_n(s, 0, zeros, sizeof(zeros), 0);
    assert_events("INVALID_CHUNK");
    free_state(s);
}

Test(http, gap_resyncs_at_next_request)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n0123");
    const char *after = "456789 rest of the body\r\nPOST /b HTTP/1.1\r\nHost: h\r\n\r\n";
    feed_n(s, 0, after, strlen(after), VG_APP_GAP);
    assert_stages("0:1 0:2 1:1");
    assert_events("GAP");
    assert_buf(&recs[1], VG_BUF_HTTP_REQUEST_BODY, "0123");
    feed(s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_json_has(&recs[3], "\"anomalies\":[\"GAP\"]");
    cr_assert_eq(vg_http_shared_stats(shared)->gaps, 1);
    free_state(s);
}

Test(http, gap_in_response_completes_tx)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    const char *after = "xyz\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    feed_n(s, 1, after, strlen(after), VG_APP_GAP);
    assert_stages("0:1 1:1 0:3 0:4L 1:3L");
    assert_buf(&recs[3], VG_BUF_HTTP_RESPONSE_BODY, "abc");
    assert_buf(&recs[4], VG_BUF_HTTP_URI, "/b");
    free_state(s);
}

Test(http, gap_gives_up)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    c.resync_limit = 1000;
    struct vg_http_state *s = new_state_cfg(&c);
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    char junk[600];
    memset(junk, 'x', sizeof(junk));
    feed_n(s, 0, junk, sizeof(junk), VG_APP_GAP);
    cr_assert_eq(vg_http_left(s), VG_HTTP_LEFT_NO);
    feed_n(s, 0, junk, sizeof(junk), 0);
    cr_assert_eq(vg_http_left(s), VG_HTTP_LEFT_GAVE_UP);
    /* the gap fell between messages: no transaction was in progress to carry it */
    assert_stages("0:1 0:1L");
    assert_events("GAP");
    cr_assert_eq(vg_http_shared_stats(shared)->flows_given_up, 1);
    free_state(s);
}

Test(http, resync_across_chunks)
{
    struct vg_http_state *s = new_state();
    feed_n(s, 0, "junk\r\nGE", 8, VG_APP_GAP);
    feed(s, 0, "T /x HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_stages("0:1");
    assert_buf(&recs[0], VG_BUF_HTTP_REQUEST_LINE, "GET /x HTTP/1.1");
    free_state(s);
}

Test(http, end_reports_open_transactions)
{
    struct vg_http_state *s = new_state();
    feed(s, 0,
         "GET /a HTTP/1.1\r\nHost: h\r\n\r\nPOST /b HTTP/1.1\r\nHost: h\r\n"
         "Content-Length: 10\r\n\r\n01234");
    feed(s, 1, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    assert_stages("0:1 1:1 0:3");
    end_both(s);
    assert_stages("0:1 1:1 0:3 1:2 0:4L 1:2L");
    assert_buf(&recs[3], VG_BUF_HTTP_REQUEST_BODY, "01234");
    assert_buf(&recs[4], VG_BUF_HTTP_RESPONSE_BODY, "abc");
    free_state(s);
}

Test(http, end_with_partial_headers)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /partial HTTP/1.1\r\nHost: h\r\nX-Cut: v");
    vg_http_parse(s, 0, NULL, 0, VG_APP_END, &cb);
    assert_stages("0:1");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER, "Host: h\r\nX-Cut: v\r\n");
    vg_http_parse(s, 1, NULL, 0, VG_APP_END, &cb);
    assert_stages("0:1 0:1L");
    free_state(s);
}

Test(http, missing_crlf_entirely)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET /nocrlf HTTP/1.1");
    assert_stages("");
    end_both(s);
    assert_stages("0:1 0:1L");
    assert_buf(&recs[0], VG_BUF_HTTP_URI, "/nocrlf");
    assert_events("MISSING_HOST_HEADER");
    free_state(s);
}

Test(http, bare_lf_lines)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.1\nHost: h\nA: b\n\n");
    feed(s, 1, "HTTP/1.1 200 OK\nContent-Length: 1\n\nx");
    assert_stages("0:1 0:3 0:4L");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER, "Host: h\r\nA: b\r\n");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER_RAW, "Host: h\nA: b\n\n");
    assert_buf(&recs[2], VG_BUF_HTTP_RESPONSE_BODY, "x");
    free_state(s);
}

Test(http, nul_bytes)
{
    struct vg_http_state *s = new_state();
    static const char req[] = "GET /a\0b HTTP/1.1\r\nHost: h\0x\r\nX\0Y: z\r\n\r\n";
    feed_n(s, 0, req, sizeof(req) - 1, 0);
    assert_stages("0:1");
    assert_events("HEADER_NAME_INVALID URI_NUL_BYTE");
    cr_assert_eq(recs[0].len[VG_BUF_HTTP_URI], 4);
    cr_assert_eq(recs[0].len[VG_BUF_HTTP_HOST_RAW], 3);
    free_state(s);
}

Test(http, missing_colon_and_bad_names)
{
    struct vg_http_state *s = new_state();
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\nno colon here\r\nBad Name: x\r\nSp : y\r\n\r\n");
    assert_events("HEADER_MISSING_COLON HEADER_NAME_INVALID HEADER_NAME_INVALID");
    assert_buf(&recs[0], VG_BUF_HTTP_HEADER, "Host: h\r\nBad Name: x\r\nSp: y\r\n");
    free_state(s);
}

/* ---- Split feeding ---- */

static const char exchange_req[] =
    "GET /index.html HTTP/1.1\r\nHost: a.example\r\nCookie: x=1\r\n\r\n"
    "POST /form HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: chunked\r\n\r\n"
    "4;ext=1\r\nname\r\n3\r\n=me\r\n0\r\nT: v\r\n\r\n"
    "GET /%2e%2e/x;p=1/../y HTTP/1.1\r\nHost: a.example\r\nAccept: a,\r\n b\r\n\r\n";
static const char exchange_rsp[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nSet-Cookie: s=1\r\n\r\n"
                                   "<html>"
                                   "HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "2\r\nok\r\n0\r\n\r\n"
                                   "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";

/* Every report as one line: stage, buffers, record. */
static char *summary(void)
{
    size_t cap = 1 << 20, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (int i = 0; i < nrecs; i++) {
        const struct rec *r = &recs[i];
        len += (size_t)snprintf(out + len, cap - len, "%u/%u/%u/%u:", r->tx_id, r->stage, r->dir,
                                r->last);
        for (int b = 0; b < VG_BUF_COUNT; b++) {
            if (r->buf[b] == NULL)
                continue;
            len += (size_t)snprintf(out + len, cap - len, "[%d=", b);
            cr_assert_lt(len + r->len[b] + 2, cap);
            memcpy(out + len, r->buf[b], r->len[b]);
            len += r->len[b];
            out[len++] = ']';
        }
        len += (size_t)snprintf(out + len, cap - len, "%s\n", r->json);
    }
    return out;
}

static char *run_split(size_t a, size_t b, size_t step)
{
    struct vg_http_state *s = new_state();
    size_t rn = strlen(exchange_req), pn = strlen(exchange_rsp);
    /* requests first, then responses; each direction cut at a and b, or in steps */
    if (step != 0) {
        for (size_t i = 0; i < rn; i += step)
            feed_n(s, 0, exchange_req + i, rn - i < step ? rn - i : step, 0);
        for (size_t i = 0; i < pn; i += step)
            feed_n(s, 1, exchange_rsp + i, pn - i < step ? pn - i : step, 0);
    } else {
        size_t ca = a < rn ? a : rn, cb = b < pn ? b : pn;
        feed_n(s, 0, exchange_req, ca, 0);
        feed_n(s, 0, exchange_req + ca, rn - ca, 0);
        feed_n(s, 1, exchange_rsp, cb, 0);
        feed_n(s, 1, exchange_rsp + cb, pn - cb, 0);
    }
    end_both(s);
    free_state(s);
    char *sum = summary();
    reset_recs();
    return sum;
}

Test(http, split_at_every_offset)
{
    char *whole = run_split(SIZE_MAX, SIZE_MAX, 0);
    cr_assert_not_null(strstr(whole, "[2=/y]"), "%s", whole);
    size_t rn = strlen(exchange_req), pn = strlen(exchange_rsp);
    size_t n = rn > pn ? rn : pn;
    for (size_t i = 0; i <= n; i++) {
        char *cut = run_split(i, i, 0);
        cr_assert_str_eq(cut, whole, "split at %zu", i);
        free(cut);
    }
    for (size_t step = 1; step < 8; step++) {
        char *cut = run_split(0, 0, step);
        cr_assert_str_eq(cut, whole, "steps of %zu", step);
        free(cut);
    }
    free(whole);
}

/* ---- Content detection and names ---- */

Test(http, probe)
{
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"GET / HTTP/1.1", 14), 1);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"PROPFIND /x", 11), 1);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"GE", 2), -1);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"GET", 3), -1);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"", 0), -1);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"GETX /", 6), 0);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"\x16\x03\x01", 3), 0);
    cr_assert_eq(vg_http_probe(0, (const uint8_t *)"SSH-2.0-x", 9), 0);
    cr_assert_eq(vg_http_probe(1, (const uint8_t *)"HTTP/1.1 200", 12), 1);
    cr_assert_eq(vg_http_probe(1, (const uint8_t *)"HTTP/", 5), -1);
    cr_assert_eq(vg_http_probe(1, (const uint8_t *)"HTTP/2", 6), 0);
    cr_assert_eq(vg_http_probe(1, (const uint8_t *)"GET / ", 6), 0);
}

Test(http, event_names)
{
    cr_assert_str_eq(vg_http_event_name(VG_HTTP_EV_TRANSFER_ENCODING_NOT_CHUNKED),
                     "TRANSFER_ENCODING_NOT_CHUNKED");
    cr_assert_str_eq(vg_http_event_name(VG_HTTP_EV_GAP), "GAP");
    for (uint16_t e = 0; e < VG_HTTP_EV_EVENT_COUNT; e++)
        cr_assert_not_null(vg_http_event_name(e));
    cr_assert_null(vg_http_event_name(VG_HTTP_EV_EVENT_COUNT));
}

Test(http, state_without_shared_pool)
{
    struct vg_http_config c;
    vg_http_config_default(&c);
    struct vg_http_state *s = calloc(1, vg_http_state_size(&c));
    vg_http_state_init(s, &c, NULL);
    uint8_t z[128];
    size_t zn = compress_buf("abc", 3, z, sizeof(z), 31);
    char head[256];
    snprintf(head, sizeof(head),
             "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %zu\r\n\r\n", zn);
    feed(s, 0, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    feed(s, 1, head);
    feed_n(s, 1, z, zn, 0);
    assert_stages("0:1 0:3 0:4L");
    cr_assert_eq(recs[2].len[VG_BUF_HTTP_RESPONSE_BODY], zn);
    cr_assert_eq(vg_http_state_stats(s)->transactions, 1);
    vg_http_state_release(s);
    free(s);
}
