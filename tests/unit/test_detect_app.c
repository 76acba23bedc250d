/* Application-layer detection on hand-built transactions: the rules of
 * suricata-verify tests against the buffers their captures give, stages
 * (a rule alerts once per transaction), direction variants, missing buffers,
 * and the separation from packet and stream inspection. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(detect_app, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* The rules of a suricata-verify test shipped under pcaps/. */
static void engine_start_verify(struct sig_engine *e, const char *test)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/pcaps/suricata-verify/%s/test.rules", VG_SOURCE_ROOT, test);
    const char *files[] = {path};
    sig_load_files(&e->l, files, 1, NULL, NULL);
    sig_engine_check(e);
}

static struct vg_packet packet(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert(p.family == 4 || p.family == 6);
    cr_assert_eq(vg_ip_addr_parse(dst, &p.dst), p.family);
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.flags = VG_PKT_HAS_L4;
    p.caplen = p.wirelen = 60;
    return p;
}

/* The flow facts of a direction, with no application protocol: the
 * transaction supplies it. */
#define TO_SERVER (VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOSERVER)
#define TO_CLIENT (VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOCLIENT)

static struct vg_app_tx tx_new(enum vg_app_proto proto, enum vg_app_stage stage,
                               enum vg_flow_dir dir)
{
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = (uint8_t)proto;
    tx.stage = (uint8_t)stage;
    tx.dir = (uint8_t)dir;
    return tx;
}

static uint32_t run(struct sig_engine *e, const struct vg_app_tx *tx, const struct vg_packet *p,
                    uint32_t flow_flags, struct sig_alerts *a)
{
    memset(a, 0, sizeof(*a));
    uint32_t n = vg_detect_app(e->ctx, tx, p, flow_flags, sig_collect, a);
    cr_assert_eq(n, a->n, "return value %u, callbacks %u", n, a->n);
    return n;
}

static void expect_sids(struct sig_engine *e, const struct vg_app_tx *tx, const struct vg_packet *p,
                        uint32_t flow_flags, const uint32_t *sids, uint32_t n)
{
    struct sig_alerts a;
    run(e, tx, p, flow_flags, &a);
    cr_assert_eq(a.n, n, "expected %u alerts, got %u (first sid %u)", n, a.n, a.sid[0]);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(a.sid[i], sids[i], "alert %u: sid %u, expected %u", i, a.sid[i], sids[i]);
}

#define EXPECT(e, tx, p, ff, ...)                                                                  \
    do {                                                                                           \
        const uint32_t want_[] = {__VA_ARGS__};                                                    \
        expect_sids((e), (tx), (p), (ff), want_, sizeof(want_) / sizeof(want_[0]));                \
    } while (0)

static void expect_none(struct sig_engine *e, const struct vg_app_tx *tx, const struct vg_packet *p,
                        uint32_t flow_flags)
{
    expect_sids(e, tx, p, flow_flags, NULL, 0);
}

/* ---- suricata-verify tests ---------------------------------------------------------- */

/* engine-state/detect-engine-state-01: a POST and a GET over one
 * connection, each with headers, a cookie and a 10-byte body. */
Test(detect_app, engine_state_01)
{
    struct sig_engine e;
    engine_start_verify(&e, "engine-state__detect-engine-state-01");
    cr_assert_eq(e.l.st.app_rules, 3);
    const struct sig_rule *r2 = sig_ruleset_find(e.l.rs, 1, 2);
    cr_assert_eq(r2->app_stage, VG_STAGE_REQUEST_BODY);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 1)->app_stage, VG_STAGE_REQUEST);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 3)->app_stage, VG_STAGE_REQUEST);

    const struct vg_packet req = packet(IPPROTO_TCP, "1.2.3.4", 51694, "1.2.3.5", 8080);
    struct vg_app_tx post = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&post, VG_BUF_HTTP_METHOD, "POST");
    sig_set_buf(&post, VG_BUF_HTTP_URI, "/");
    sig_set_buf(&post, VG_BUF_HTTP_URI_RAW, "/");
    sig_set_buf(&post, VG_BUF_HTTP_PROTOCOL, "HTTP/1.0");
    sig_set_buf(&post, VG_BUF_HTTP_REQUEST_LINE, "POST / HTTP/1.0");
    sig_set_buf(&post, VG_BUF_HTTP_USER_AGENT, "Mozilla/1.0");
    sig_set_buf(&post, VG_BUF_HTTP_HEADER, "User-Agent: Mozilla/1.0\r\nContent-Length: 10\r\n");
    sig_set_buf(&post, VG_BUF_HTTP_COOKIE, "dummy");
    EXPECT(&e, &post, &req, TO_SERVER, 1);

    /* the body stage: sid 2 now, sid 1 not again */
    post.stage = VG_STAGE_REQUEST_BODY;
    sig_set_buf(&post, VG_BUF_HTTP_REQUEST_BODY, "Http Body!");
    EXPECT(&e, &post, &req, TO_SERVER, 2);

    struct vg_app_tx get = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    get.tx_id = 1;
    sig_set_buf(&get, VG_BUF_HTTP_METHOD, "GET");
    sig_set_buf(&get, VG_BUF_HTTP_URI, "/?var=val");
    sig_set_buf(&get, VG_BUF_HTTP_PROTOCOL, "HTTP/1.1");
    sig_set_buf(&get, VG_BUF_HTTP_HEADER, "User-Agent: Firefox/1.0\r\nContent-Length: 10\r\n");
    sig_set_buf(&get, VG_BUF_HTTP_COOKIE, "dummy2");
    EXPECT(&e, &get, &req, TO_SERVER, 3);
    get.stage = VG_STAGE_REQUEST_BODY;
    sig_set_buf(&get, VG_BUF_HTTP_REQUEST_BODY, "Http Body!");
    expect_none(&e, &get, &req, TO_SERVER);

    /* flow:to_server on sid 2 and 3 */
    get.stage = VG_STAGE_REQUEST;
    expect_none(&e, &get, &req, TO_CLIENT);
    sig_engine_stop(&e);
}

/* uricontent/detect-uricontent-03: one POST to /one/two/three/six. */
Test(detect_app, uricontent_03)
{
    struct sig_engine e;
    engine_start_verify(&e, "uricontent__detect-uricontent-03");
    cr_assert_eq(e.l.st.app_rules, 4);
    const struct vg_packet req = packet(IPPROTO_TCP, "192.168.1.5", 41424, "192.168.1.1", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_PAYLOAD,
                "POST /one/two/three/six HTTP/1.0\r\nUser-Agent: Mozilla/1.0\r\n"
                "Cookie: hellocatch\r\n\r\n");
    sig_set_buf(&tx, VG_BUF_HTTP_METHOD, "POST");
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/one/two/three/six");
    sig_set_buf(&tx, VG_BUF_HTTP_URI_RAW, "/one/two/three/six");
    sig_set_buf(&tx, VG_BUF_HTTP_HEADER, "User-Agent: Mozilla/1.0\r\n");
    sig_set_buf(&tx, VG_BUF_HTTP_COOKIE, "hellocatch");
    /* sid 1: no "foo" in the URI; sid 2: its payload chain matches but
     * "two" is not within 3..7 bytes after the URI's "one" */
    EXPECT(&e, &tx, &req, TO_SERVER, 3, 4);

    /* sid 2's URI chain matches when "two" starts 3 to 4 bytes after "one" */
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/one/xxtwo/three");
    EXPECT(&e, &tx, &req, TO_SERVER, 2, 4);
    /* the URI chain alone decides sid 3 */
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/one/xxxxxtwo/three");
    EXPECT(&e, &tx, &req, TO_SERVER, 4);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/one/two/three");
    tx.buf[VG_BUF_PAYLOAD].data = NULL;
    tx.buf[VG_BUF_PAYLOAD].len = 0;
    EXPECT(&e, &tx, &req, TO_SERVER, 3, 4);
    sig_engine_stop(&e);
}

/* bug-5758: the SNI of a ClientHello. */
Test(detect_app, tls_sni_bug_5758)
{
    struct sig_engine e;
    engine_start_verify(&e, "bug-5758");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.2", 50000, "130.89.149.226", 443);
    struct vg_app_tx tx = tx_new(VG_APP_TLS, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_TLS_SNI, "ftp.nluug.nl");
    EXPECT(&e, &tx, &req, TO_SERVER, 1);
    /* once per transaction: not again when the server's hello comes */
    tx.stage = VG_STAGE_RESPONSE;
    const struct vg_packet resp = packet(IPPROTO_TCP, "130.89.149.226", 443, "10.0.0.2", 50000);
    expect_none(&e, &tx, &resp, TO_CLIENT);
    /* an HTTP transaction never has it, whatever its buffers say */
    tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_TLS_SNI, "ftp.nluug.nl");
    expect_none(&e, &tx, &req, TO_SERVER);
    tx = tx_new(VG_APP_TLS, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_TLS_SNI, "ftp.nluug.n");
    expect_none(&e, &tx, &req, TO_SERVER);
    sig_engine_stop(&e);
}

/* dns/dns-query/dns-detect-query-01: dns_query with nocase, over UDP. */
Test(detect_app, dns_query_01)
{
    struct sig_engine e;
    engine_start_verify(&e, "dns__dns-query__dns-detect-query-01");
    const struct vg_packet q = packet(IPPROTO_UDP, "10.16.1.11", 49365, "10.16.1.1", 53);
    struct vg_app_tx tx = tx_new(VG_APP_DNS, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_DNS_QUERY, "google.com");
    EXPECT(&e, &tx, &q, VG_DF_HAS_FLOW | VG_DF_TOSERVER, 1);
    sig_set_buf(&tx, VG_BUF_DNS_QUERY, "www.GooGle.COM");
    EXPECT(&e, &tx, &q, VG_DF_HAS_FLOW | VG_DF_TOSERVER, 1);
    sig_set_buf(&tx, VG_BUF_DNS_QUERY, "example.com");
    expect_none(&e, &tx, &q, VG_DF_HAS_FLOW | VG_DF_TOSERVER);
    /* the answer is a later stage: no second alert */
    sig_set_buf(&tx, VG_BUF_DNS_QUERY, "google.com");
    tx.stage = VG_STAGE_RESPONSE;
    const struct vg_packet a = packet(IPPROTO_UDP, "10.16.1.1", 53, "10.16.1.11", 49365);
    expect_none(&e, &tx, &a, VG_DF_HAS_FLOW | VG_DF_TOCLIENT);
    sig_engine_stop(&e);
}

/* tls-duplicate-hello: ja3.string of the ClientHello. */
Test(detect_app, ja3_string_duplicate_hello)
{
    struct sig_engine e;
    engine_start_verify(&e, "tls-duplicate-hello");
    const struct vg_packet req = packet(IPPROTO_TCP, "192.168.1.2", 40000, "192.168.1.1", 443);
    struct vg_app_tx tx = tx_new(VG_APP_TLS, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_JA3_STRING,
                "771,4866-4867-4865-4868-49196-52393-49325-49162-49195-49324-49161-49200-52392-"
                "49172-49199-49171-157-49309-53-156-49308-47-159-52394-49311-57-158-49310-51,"
                "5-10-11-13-22-23-35-51-43-65281-0-45,23,0");
    sig_set_buf(&tx, VG_BUF_JA3_HASH, "0123456789abcdef0123456789abcdef");
    EXPECT(&e, &tx, &req, TO_SERVER, 1);
    sig_set_buf(&tx, VG_BUF_JA3_STRING, "769,47-53,0,,");
    expect_none(&e, &tx, &req, TO_SERVER);
    sig_engine_stop(&e);
}

/* http-evader/http-evader-000: file_data on the dechunked response body. */
Test(detect_app, http_evader_000_file_data)
{
    struct sig_engine e;
    engine_start_verify(&e, "http-evader__http-evader-000");
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 1)->app_stage, VG_STAGE_RESPONSE_BODY);
    const struct vg_packet resp = packet(IPPROTO_TCP, "8.8.8.8", 80, "1.1.1.1", 5013);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_RESPONSE, VG_DIR_TOCLIENT);
    sig_set_buf(&tx, VG_BUF_HTTP_METHOD, "GET");
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/chunked/eicar.txt/chunked");
    sig_set_buf(&tx, VG_BUF_HTTP_HOST, "evader.example.com");
    sig_set_buf(&tx, VG_BUF_HTTP_STAT_CODE, "200");
    expect_none(&e, &tx, &resp, TO_CLIENT);
    tx.stage = VG_STAGE_RESPONSE_BODY;
    tx.last = 1;
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_BODY,
                "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 1, 2);
    /* the chunked bytes as sent do not match: the rules need the body */
    tx.buf[VG_BUF_HTTP_RESPONSE_BODY].data = NULL;
    sig_set_buf(&tx, VG_BUF_PAYLOAD, "5\r\nX5O!P\r\n5\r\n%@AP[\r\n5\r\n4\\PZX\r\n");
    expect_none(&e, &tx, &resp, TO_CLIENT);
    sig_engine_stop(&e);
}

/* bug-2576-04: file_data alone (sid 3), and a payload content mixed with a
 * file_data one (sid 4). */
Test(detect_app, bug_2576_04_payload_and_file_data)
{
    struct sig_engine e;
    engine_start_verify(&e, "bug-2576-04");
    const struct sig_rule *r4 = sig_ruleset_find(e.l.rs, 1, 4);
    cr_assert_eq(r4->app_stage, VG_STAGE_RESPONSE_BODY);
    cr_assert_eq(r4->ngroups, 2);
    const struct vg_packet resp = packet(IPPROTO_TCP, "180.101.49.11", 80, "10.0.0.1", 41000);
    const char *body = "<!--STATUS OK--><html> <head><meta http-equiv=content-type "
                       "content=text/html;charset=utf-8><meta http-equiv=X-UA-Compatible "
                       "content=IE=Edge><meta content=always name=referrer>";
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_RESPONSE_BODY, VG_DIR_TOCLIENT);
    sig_set_buf(&tx, VG_BUF_HTTP_STAT_CODE, "200");
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_BODY, body);
    sig_set_buf(&tx, VG_BUF_PAYLOAD, body);
    EXPECT(&e, &tx, &resp, TO_CLIENT, 3, 4);
    /* no payload: the mixed rule cannot match */
    tx.buf[VG_BUF_PAYLOAD].data = NULL;
    tx.buf[VG_BUF_PAYLOAD].len = 0;
    EXPECT(&e, &tx, &resp, TO_CLIENT, 3);
    /* a payload without the text (e.g. the gzip bytes of the body) */
    sig_set_buf(&tx, VG_BUF_PAYLOAD, "\x1f\x8b\x08\x00 compressed");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 3);
    sig_engine_stop(&e);
}

/* ---- Semantics ------------------------------------------------------------------------- */

Test(detect_app, alerts_once_per_transaction)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (http.method; content:\"GET\"; sid:1;)\n"
                         "alert http any any -> any any (http.method; content:\"GET\"; "
                         "http.stat_code; content:\"404\"; sid:2;)\n"
                         "alert http any any -> any any (http.uri; content:\"/a\"; "
                         "file_data; content:\"body\"; sid:3;)\n");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    const struct vg_packet resp = packet(IPPROTO_TCP, "10.0.0.2", 80, "10.0.0.1", 40000);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_METHOD, "GET");
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/a");
    EXPECT(&e, &tx, &req, TO_SERVER, 1);
    tx.stage = VG_STAGE_REQUEST_BODY;
    expect_none(&e, &tx, &req, TO_SERVER);
    tx.stage = VG_STAGE_RESPONSE;
    tx.dir = VG_DIR_TOCLIENT;
    sig_set_buf(&tx, VG_BUF_HTTP_STAT_CODE, "404");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 2);
    tx.stage = VG_STAGE_RESPONSE_BODY;
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_BODY, "the body");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 3);
    sig_engine_stop(&e);
}

Test(detect_app, to_client_header_variant)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert http any any -> any any (flow:to_client; http.header; "
                     "content:\"X-Powered-By: PHP\"; sid:1;)\n"
                     "alert http any any -> any any (http.header; content:\"X-Powered-By: PHP\"; "
                     "sid:2;)\n"
                     "alert http any any -> any any (http.cookie; content:\"session=\"; "
                     "http.stat_code; content:\"302\"; sid:3;)\n");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    const struct vg_packet resp = packet(IPPROTO_TCP, "10.0.0.2", 80, "10.0.0.1", 40000);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_HEADER, "Host: a\r\nX-Powered-By: PHP\r\n");
    sig_set_buf(&tx, VG_BUF_HTTP_COOKIE, "session=1");
    EXPECT(&e, &tx, &req, TO_SERVER, 2);

    /* the response stage: the request's buffers are still there, but sid 1
     * and 3 read the response's; sid 2 names no direction, so it inspects
     * the response's header too */
    tx.stage = VG_STAGE_RESPONSE;
    tx.dir = VG_DIR_TOCLIENT;
    sig_set_buf(&tx, VG_BUF_HTTP_STAT_CODE, "302");
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_HEADER, "Server: x\r\n");
    expect_none(&e, &tx, &resp, TO_CLIENT);
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_HEADER, "Server: x\r\nX-Powered-By: PHP/8\r\n");
    sig_set_buf(&tx, VG_BUF_HTTP_SET_COOKIE, "session=abc; path=/");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 1, 2, 3);
    sig_engine_stop(&e);
}

/* A header buffer of both directions in a rule that names no direction is
 * inspected on the request and on the response, as in Suricata: the rule
 * alerts once in each direction a header matches. flow:to_server keeps it
 * to the request. The response entry shares the sid and counts once. */
Test(detect_app, direction_free_header_rule_inspects_both)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (content:\"Server: \"; http_header; "
                         "pcre:\"/(?P<flow_ua>.*)\\r\\n/HR\"; sid:1;)\n"
                         "alert http any any -> any any (flow:to_server; http.header; "
                         "content:\"Server: \"; sid:2;)\n"
                         "alert http any any -> any any (http.header; content:\"Server: \"; "
                         "http.uri; content:\"/a\"; sid:3;)\n");
    cr_assert_eq(e.l.st.rules_loaded, 3);
    cr_assert_eq(e.l.st.rules_skipped, 0);
    cr_assert_eq(e.l.st.app_rules, 3);
    const struct sig_rule *r1 = sig_ruleset_find(e.l.rs, 1, 1);
    cr_assert_eq(r1->response_twin, 0);
    cr_assert_eq(r1->app_stage, VG_STAGE_REQUEST);
    cr_assert_eq(r1[1].meta.sid, 1);
    cr_assert_eq(r1[1].response_twin, 1);
    cr_assert_eq(r1[1].app_stage, VG_STAGE_RESPONSE);
    cr_assert_eq(r1[1].contents[0].buffer, VG_BUF_HTTP_RESPONSE_HEADER);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 2)[1].meta.sid, 3);

    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    const struct vg_packet resp = packet(IPPROTO_TCP, "10.0.0.2", 80, "10.0.0.1", 40000);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/a");
    sig_set_buf(&tx, VG_BUF_HTTP_HEADER, "Host: a\r\nServer: proxy\r\n");
    EXPECT(&e, &tx, &req, TO_SERVER, 1, 2, 3);

    /* the response: only the direction-free rule, on the response's header */
    tx.stage = VG_STAGE_RESPONSE;
    tx.dir = VG_DIR_TOCLIENT;
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_HEADER, "Content-Type: text/html\r\n");
    expect_none(&e, &tx, &resp, TO_CLIENT);
    sig_set_buf(&tx, VG_BUF_HTTP_RESPONSE_HEADER, "Server: Apache\r\n");
    EXPECT(&e, &tx, &resp, TO_CLIENT, 1);

    /* a response-only transaction (no request seen) */
    struct vg_app_tx only = tx_new(VG_APP_HTTP, VG_STAGE_RESPONSE, VG_DIR_TOCLIENT);
    sig_set_buf(&only, VG_BUF_HTTP_RESPONSE_HEADER, "Server: Apache\r\n");
    EXPECT(&e, &only, &resp, TO_CLIENT, 1);
    sig_engine_stop(&e);
}

Test(detect_app, negated_content_on_missing_buffer)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (http.method; content:\"GET\"; "
                         "http.referer; content:!\"evil\"; sid:1;)\n"
                         "alert http any any -> any any (http.method; content:\"GET\"; "
                         "http.user_agent; content:\"curl\"; sid:2;)\n"
                         "alert http any any -> any any (http.user_agent; content:!\"Mozilla\"; "
                         "sid:3;)\n");
    cr_assert_eq(e.l.st.app_rules, 3);
    cr_assert_eq(e.l.st.no_pattern_rules, 1);
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_METHOD, "GET");
    /* no Referer, no User-Agent */
    EXPECT(&e, &tx, &req, TO_SERVER, 1, 3);
    sig_set_buf(&tx, VG_BUF_HTTP_REFERER, "http://evil.example/");
    sig_set_buf(&tx, VG_BUF_HTTP_USER_AGENT, "Mozilla/5.0");
    expect_none(&e, &tx, &req, TO_SERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_REFERER, "http://good.example/");
    sig_set_buf(&tx, VG_BUF_HTTP_USER_AGENT, "curl/8.0");
    EXPECT(&e, &tx, &req, TO_SERVER, 1, 2, 3);
    /* present but empty: a negated content passes, a positive one fails */
    sig_set_buf(&tx, VG_BUF_HTTP_USER_AGENT, "");
    EXPECT(&e, &tx, &req, TO_SERVER, 1, 3);
    /* the rule without a fast pattern is for HTTP transactions only */
    struct vg_app_tx tls = tx_new(VG_APP_TLS, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    expect_none(&e, &tls, &req, TO_SERVER);
    sig_engine_stop(&e);
}

Test(detect_app, header_tests_and_order)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert http any any -> any 8080 (http.uri; content:\"/admin\"; sid:1;)\n"
            "alert http 10.0.0.0/8 any -> any any (http.uri; content:\"/admin\"; sid:2;)\n"
            "alert http any any -> any any (http.uri; content:\"/ADMIN\"; nocase; "
            "priority:1; sid:9;)\n"
            "alert http any any -> any any (http.uri; content:\"/adm\"; depth:4; "
            "http.host; content:\"example\"; sid:5;)\n"
            "alert http any any -> any any (http.uri; content:\"admin\"; offset:2; sid:6;)\n");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/admin/x");
    sig_set_buf(&tx, VG_BUF_HTTP_HOST, "www.example.com");
    /* sid 1 wants port 8080; priority 1 before the others; sid 6: "admin"
     * starts at 1, before offset 2 */
    EXPECT(&e, &tx, &req, TO_SERVER, 9, 2, 5);
    const struct vg_packet other = packet(IPPROTO_TCP, "192.0.2.1", 40000, "10.0.0.2", 8080);
    EXPECT(&e, &tx, &other, TO_SERVER, 9, 1, 5);
    /* an UDP packet never matches rules for http */
    const struct vg_packet u = packet(IPPROTO_UDP, "10.0.0.1", 40000, "10.0.0.2", 80);
    expect_none(&e, &tx, &u, TO_SERVER);
    sig_engine_stop(&e);
}

Test(detect_app, app_rules_stay_off_packets_and_streams)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"GET\"; http_method; sid:1;)\n"
                         "alert tls any any -> any any (content:\"|16 03|\"; sid:2;)\n"
                         "alert http any any -> any any (flow:established; sid:3;)\n");
    cr_assert_eq(e.l.st.app_rules, 1);
    cr_assert_eq(e.l.st.stream_rules, 1); /* sid 2 */
    cr_assert_eq(e.l.st.patterns, 1);
    struct vg_packet p = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 443);
    p.payload = (const uint8_t *)"GET \x16\x03\x01";
    p.payload_len = 7;
    struct {
        uint32_t sid[SIG_MAX_ALERTS];
        uint32_t n;
    } a;
    memset(&a, 0, sizeof(a));
    /* no app protocol known: sid 2 and 3 need it, sid 1 is for transactions */
    cr_assert_eq(vg_detect_packet(e.ctx, &p, TO_SERVER, sig_collect, &a), 0);
    cr_assert_eq(vg_detect_packet(e.ctx, &p, TO_SERVER | VG_DF_APP(VG_APP_TLS), sig_collect, &a),
                 1);
    cr_assert_eq(a.sid[0], 2);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_detect_packet(e.ctx, &p, TO_SERVER | VG_DF_APP(VG_APP_HTTP), sig_collect, &a),
                 1);
    cr_assert_eq(a.sid[0], 3);

    /* the stream path: sid 2 with the flow's protocol, never sid 1 */
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 1), 0);
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    cr_assert_not_null(s);
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_detect_stream_data(e.ctx, s, p.payload, p.payload_len, 0, 0, &p,
                                       TO_SERVER | VG_DF_STREAM | VG_DF_APP(VG_APP_TLS),
                                       sig_collect, &a),
                 1);
    cr_assert_eq(a.sid[0], 2);
    vg_detect_stream_close(e.ctx, s);
    sig_engine_stop(&e);
}

Test(detect_app, nothing_to_inspect)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (http.uri; content:\"/\"; sid:1;)\n");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/");
    struct sig_alerts a;
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_detect_app(e.ctx, &tx, NULL, TO_SERVER, sig_collect, &a), 0);
    cr_assert_eq(vg_detect_app(e.ctx, NULL, &req, TO_SERVER, sig_collect, &a), 0);
    tx.stage = VG_STAGE_NONE;
    cr_assert_eq(vg_detect_app(e.ctx, &tx, &req, TO_SERVER, sig_collect, &a), 0);
    tx.stage = VG_STAGE_COUNT;
    cr_assert_eq(vg_detect_app(e.ctx, &tx, &req, TO_SERVER, sig_collect, &a), 0);
    tx.stage = VG_STAGE_REQUEST;
    cr_assert_eq(vg_detect_app(e.ctx, &tx, &req, TO_SERVER, sig_collect, &a), 1);
    sig_engine_stop(&e);

    /* a rule set without application rules */
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"x\"; sid:1;)\n");
    cr_assert_eq(e.l.st.app_rules, 0);
    cr_assert_eq(e.l.st.app_db_bytes, 0);
    cr_assert_eq(vg_detect_app(e.ctx, &tx, &req, TO_SERVER, sig_collect, &a), 0);
    sig_engine_stop(&e);
}

/* Many rules on one buffer, each a candidate: the candidate array and the
 * ordering by bitmap (more than a few candidates) hold. */
Test(detect_app, many_candidates)
{
    static char text[64 * 1024];
    size_t len = 0;
    for (int i = 1; i <= 200; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "alert http any any -> any any (http.uri; content:\"/p%d/\"; "
                                "priority:%d; sid:%d;)\n",
                                i % 50, 1 + i % 3, i);
    struct sig_engine e;
    sig_engine_start(&e, text);
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/p1/p2/p3/p4/p5/p6/p7/p8/p9/p10/");
    struct sig_alerts a;
    run(&e, &tx, &req, TO_SERVER, &a);
    /* sids i with i % 50 in 1..10: 40 rules, by priority then sid */
    cr_assert_eq(a.n, 40);
    for (uint32_t k = 1; k < a.n; k++) {
        const uint32_t p0 = 1 + a.sid[k - 1] % 3, p1 = 1 + a.sid[k] % 3;
        cr_assert(p0 < p1 || (p0 == p1 && a.sid[k - 1] < a.sid[k]), "order at %u", k);
    }
    sig_engine_stop(&e);
}

/* A relative content with no earlier content in its buffer counts from the
 * buffer's start, whatever matched in other buffers. */
Test(detect_app, relative_content_starts_its_buffer)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (http.uri; content:\"/index\"; http.host; "
                         "content:\"ex\"; distance:0; within:2; sid:1;)\n");
    const struct vg_packet req = packet(IPPROTO_TCP, "10.0.0.1", 40000, "10.0.0.2", 80);
    struct vg_app_tx tx = tx_new(VG_APP_HTTP, VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&tx, VG_BUF_HTTP_URI, "/a/b/c/index.html");
    sig_set_buf(&tx, VG_BUF_HTTP_HOST, "example.com");
    EXPECT(&e, &tx, &req, TO_SERVER, 1);
    sig_set_buf(&tx, VG_BUF_HTTP_HOST, "www.example.com");
    expect_none(&e, &tx, &req, TO_SERVER);
    sig_engine_stop(&e);
}
