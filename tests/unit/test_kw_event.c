/* Event keywords (app-layer-event, decode-event, stream-event): parsing of
 * every form and every error, matching through vg_detect_event (only the
 * rule's own event and protocol, with header, flow and flowbits
 * conditions), and the skip causes vigil -T reports. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/defrag.h"
#include "vigil/detect.h"
#include "vigil/dns.h"
#include "vigil/event.h"
#include "vigil/http.h"
#include "vigil/packet.h"
#include "vigil/stream.h"
#include "vigil/tls.h"

#include "sig_test_util.h"

TestSuite(kw_event, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* The rule (on line 1) is refused with exactly this message. */
static void expect_error(const char *rule, const char *msg)
{
    struct sig_load l;
    sig_load_text(&l, rule, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_skipped, 1, "rule %s was not skipped", rule);
    char want[1024];
    snprintf(want, sizeof(want), "%s (sid 1)", msg);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, want));
    sig_load_done(&l);
}

Test(kw_event, parse_every_form)
{
    struct sig_load l;
    sig_load_ok(&l,
                "alert ip any any -> any any (decode-event:ipv4.trunc_pkt; sid:1;)\n"
                "alert ip any any -> any any (decode-event:decoder.ipv4.trunc_pkt; sid:2;)\n"
                "alert ip any any -> any any (decode-event: IPV4.TRUNC_PKT ; sid:3;)\n"
                "alert ip any any -> any any (decode-event:ipv4.pkt_too_small; sid:4;)\n"
                "alert ip any any -> any any (decode-event:ipv4.frag_overlap; sid:5;)\n"
                "alert ip any any -> any any (decode-event:defrag.max_frag_hits; sid:6;)\n"
                "alert ip any any -> any any (decode-event:too_many_layers; sid:7;)\n"
                "alert ip any any -> any any (decode-event:tcp.invalid_optlen; sid:8;)\n"
                "alert tcp any any -> any any (stream-event:pkt_retransmission; sid:9;)\n"
                "alert tcp any any -> any any (stream-event:stream.reassembly_seq_gap; sid:10;)\n"
                "alert http any any -> any any (app-layer-event:http.invalid_request_line; "
                "sid:11;)\n"
                "alert http any any -> any any (app-layer-event:http.REQUEST_LINE_INVALID; "
                "sid:12;)\n"
                "alert tcp any any -> any any (app-layer-event:http1.missing_host_header; "
                "sid:13;)\n"
                "alert tls any any -> any any (app-layer-event:tls.invalid_record_type; sid:14;)\n"
                "alert tls any any -> any any (app-layer-event:ssl.heartbeat_message; sid:15;)\n"
                "alert dns any any -> any any (app-layer-event:dns.malformed_data; sid:16;)\n"
                "alert dns any any -> any any (app-layer-event:dns.not_request; sid:17;)\n"
                "alert ssh any any -> any any (app-layer-event:ssh.invalid_record; sid:18;)\n"
                "alert ip any any -> any any (msg:\"x\"; flow:established,to_server; "
                "app-layer-event:dns.z_flag_set; flowbits:set,seen; classtype:"
                "protocol-command-decode; sid:19; rev:2;)\n"
                "alert tcp any any -> any any (flowbits:isset,seen; "
                "stream-event:est_packet_out_of_window; sid:20;)\n");
    cr_assert_eq(l.st.rules_loaded, 20);
    cr_assert_eq(l.st.event_rules, 20);
    cr_assert_eq(l.st.no_pattern_rules, 0, "event rules are not no-pattern packet rules");
    cr_assert_eq(l.st.packet_rules, 0);
    sig_load_done(&l);
}

Test(kw_event, errors)
{
    expect_error("alert ip any any -> any any (decode-event:ipv4.bogus; sid:1;)",
                 "unknown decode-event 'ipv4.bogus'");
    expect_error("alert ip any any -> any any (decode-event:ipv4.opt_unknown; sid:1;)",
                 "event 'ipv4.opt_unknown' is not raised by vigil");
    expect_error("alert ip any any -> any any (decode-event:tcp.csum_invalid; sid:1;)",
                 "event 'tcp.csum_invalid' is not raised by vigil");
    expect_error("alert tcp any any -> any any (stream-event:bogus; sid:1;)",
                 "unknown stream-event 'bogus'");
    expect_error("alert tcp any any -> any any (stream-event:3whs_ack_in_wrong_dir; sid:1;)",
                 "event '3whs_ack_in_wrong_dir' is not raised by vigil");
    expect_error("alert http any any -> any any (app-layer-event:http.bogus; sid:1;)",
                 "unknown app-layer-event 'http.bogus'");
    expect_error("alert http any any -> any any (app-layer-event:http.unknown_error; sid:1;)",
                 "event 'http.unknown_error' is not raised by vigil");
    expect_error("alert tls any any -> any any (app-layer-event:tls.invalid_ssl_record; sid:1;)",
                 "event 'tls.invalid_ssl_record' is not raised by vigil");
    expect_error("alert dns any any -> any any (app-layer-event:dns.invalid_opcode; sid:1;)",
                 "event 'dns.invalid_opcode' is not raised by vigil");
    expect_error("alert ip any any -> any any (app-layer-event:"
                 "applayer.mismatch_protocol_both_directions; sid:1;)",
                 "event 'applayer.mismatch_protocol_both_directions' is not raised by vigil");
    expect_error("alert ip any any -> any any (app-layer-event:"
                 "applayer_mismatch_protocol_both_directions; sid:1;)",
                 "event 'applayer_mismatch_protocol_both_directions' is not raised by vigil");
    expect_error("alert ip any any -> any any (app-layer-event:smtp.invalid_reply; sid:1;)",
                 "event 'smtp.invalid_reply' is not raised by vigil");
    expect_error("alert ip any any -> any any (app-layer-event:applayer.bogus; sid:1;)",
                 "unknown app-layer-event 'applayer.bogus'");
    expect_error("alert ip any any -> any any (app-layer-event:foo.bar; sid:1;)",
                 "unknown app-layer-event 'foo.bar'");
    expect_error("alert ip any any -> any any (app-layer-event:bogus; sid:1;)",
                 "bad app-layer-event 'bogus' (expected protocol.event)");
    expect_error("alert ip any any -> any any (app-layer-event:.x; sid:1;)",
                 "bad app-layer-event '.x' (expected protocol.event)");
    expect_error("alert tls any any -> any any (app-layer-event:http.invalid_request_line; "
                 "sid:1;)",
                 "app-layer-event 'http.invalid_request_line' cannot be used in a rule for tls");
    expect_error("alert ip any any -> any any (app-layer-event; sid:1;)",
                 "'app-layer-event' needs a value");
    expect_error("alert ip any any -> any any (decode-event:ipv4.trunc_pkt; "
                 "stream-event:pkt_retransmission; sid:1;)",
                 "only one app-layer-event, decode-event or stream-event per rule");
    expect_error("alert tcp any any -> any any (stream-event:pkt_retransmission; content:\"x\"; "
                 "sid:1;)",
                 "stream-event cannot be combined with content or other payload inspection");
    expect_error("alert http any any -> any any (content:\"x\"; http_uri; "
                 "app-layer-event:http.invalid_request_line; sid:1;)",
                 "app-layer-event cannot be combined with content or other payload inspection");
}

/* ---- Matching ---- */

/* The sids alerting for one anomaly, as "a,b" ("" for none). */
static const char *raise_event(struct sig_engine *e, uint8_t kind, uint8_t app_proto,
                               uint16_t event, const struct vg_packet *p, uint32_t flow_flags)
{
    static char out[128];
    struct sig_alerts a;
    memset(&a, 0, sizeof(a));
    uint32_t n = vg_detect_event(e->ctx, kind, app_proto, event, p, flow_flags, sig_collect, &a);
    cr_assert_eq(n, a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

static struct vg_packet packet(uint8_t proto, const char *src, uint16_t sport, const char *dst,
                               uint16_t dport)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert_eq(vg_ip_addr_parse(dst, &p.dst), p.family);
    p.proto = proto;
    p.sport = sport;
    p.dport = dport;
    p.flags = VG_PKT_HAS_L4;
    return p;
}

#define TS  (VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED)
#define TC  (VG_DF_HAS_FLOW | VG_DF_TOCLIENT | VG_DF_ESTABLISHED)
#define APP VG_ANOMALY_APPLAYER

Test(kw_event, fires_for_its_event_and_protocol_only)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert http any any -> any any (app-layer-event:http.invalid_request_line; "
            "sid:1;)\n"
            "alert tcp any any -> any any (app-layer-event:http.request_line_invalid; "
            "priority:1; sid:2;)\n"
            "alert tls any any -> any any (app-layer-event:tls.invalid_record_type; sid:3;)\n"
            "alert dns any any -> any any (app-layer-event:dns.malformed_data; sid:4;)\n"
            "alert tcp any any -> any any (stream-event:pkt_retransmission; sid:5;)\n"
            "alert ip any any -> any any (decode-event:tcp.invalid_optlen; sid:6;)\n"
            "alert ip any any -> any any (decode-event:ipv4.frag_overlap; sid:7;)\n"
            "alert ip any any -> any any (decode-event:defrag.overlap; sid:8;)\n"
            "alert tcp any any -> any any (content:\"GET\"; sid:9;)\n");
    struct vg_packet t = packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 80);
    struct vg_packet u = packet(IPPROTO_UDP, "192.168.1.10", 40000, "203.0.113.5", 53);
    struct vg_packet u6 = packet(IPPROTO_UDP, "2001:db8::1", 40000, "2001:db8::2", 53);

    /* In rule order: sid 2 has priority 1. */
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_HTTP, VG_HTTP_EV_INVALID_REQUEST_LINE, &t,
                                 TS | VG_DF_APP(VG_APP_HTTP)),
                     "2,1");
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_HTTP, VG_HTTP_EV_INVALID_STATUS_LINE, &t,
                                 TC | VG_DF_APP(VG_APP_HTTP)),
                     "");
    /* The same event number of another parser is another event. */
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_TLS, VG_HTTP_EV_INVALID_REQUEST_LINE, &t,
                                 TS | VG_DF_APP(VG_APP_TLS)),
                     "");
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_TLS, VG_TLS_EV_INVALID_RECORD_TYPE, &t,
                                 TS | VG_DF_APP(VG_APP_TLS)),
                     "3");
    cr_assert_str_eq(
        raise_event(&e, APP, VG_APP_DNS, VG_DNS_EV_MALFORMED_DATA, &u, TS | VG_DF_APP(VG_APP_DNS)),
        "4");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_PKT_RETRANSMISSION, &t, TS),
                     "5");
    /* A stream event on a UDP packet fails the rule's protocol. */
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_PKT_RETRANSMISSION, &u, TS),
                     "");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DECODE, 0, VG_DEC_TCP_BAD_OPTIONS, &t, 0), "6");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DECODE, 0, VG_DEC_UDP_BAD_LEN, &u, 0), "");
    /* ipv4.frag_overlap is IPv4's; defrag.overlap either family's. */
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DEFRAG, 0, VG_DEFRAG_EV_OVERLAP, &u, 0), "7,8");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DEFRAG, 0, VG_DEFRAG_EV_OVERLAP, &u6, 0), "8");
    /* Out of range, unknown kinds and protocols raise nothing. */
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DECODE, 0, 60000, &t, 0), "");
    cr_assert_str_eq(raise_event(&e, 9, 0, 0, &t, 0), "");
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_OTHER, 0, &t, 0), "");
    /* Event rules do not run on packets. */
    struct sig_alerts a = {0};
    t.payload = (const uint8_t *)"GET /";
    t.payload_len = 5;
    cr_assert_eq(vg_detect_packet(e.ctx, &t, TS, sig_collect, &a), 1);
    cr_assert_eq(a.sid[0], 9);
    sig_engine_stop(&e);
}

Test(kw_event, header_flow_and_direction_conditions)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert dns any any -> any any (flow:to_server; app-layer-event:dns.malformed_data;"
            " sid:1;)\n"
            "alert dns any any -> any any (flow:to_client; app-layer-event:dns.malformed_data;"
            " sid:2;)\n"
            "alert udp 192.168.0.0/16 any -> any 53 (app-layer-event:dns.malformed_data; "
            "sid:3;)\n"
            "alert http any any -> any any (app-layer-event:http.request_field_missing_colon;"
            " sid:4;)\n"
            "alert http any any -> any any (app-layer-event:http.response_field_missing_colon;"
            " sid:5;)\n"
            "alert http any any -> any any (app-layer-event:http.header_missing_colon; "
            "sid:6;)\n"
            "alert ip any any -> any any (decode-event:ipv4.trunc_pkt; sid:7;)\n"
            "alert ip 10.0.0.0/8 any -> any any (decode-event:ipv4.trunc_pkt; sid:8;)\n");
    struct vg_packet q = packet(IPPROTO_UDP, "192.168.1.10", 40000, "203.0.113.5", 53);
    struct vg_packet r = packet(IPPROTO_UDP, "203.0.113.5", 53, "192.168.1.10", 40000);
    const uint32_t dns = VG_DF_APP(VG_APP_DNS);
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_DNS, VG_DNS_EV_MALFORMED_DATA, &q, TS | dns),
                     "1,3");
    cr_assert_str_eq(raise_event(&e, APP, VG_APP_DNS, VG_DNS_EV_MALFORMED_DATA, &r, TC | dns), "2");
    /* Suricata's one-direction names hold in their direction only. */
    struct vg_packet t = packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 80);
    const uint32_t http = VG_DF_APP(VG_APP_HTTP);
    cr_assert_str_eq(
        raise_event(&e, APP, VG_APP_HTTP, VG_HTTP_EV_HEADER_MISSING_COLON, &t, TS | http), "4,6");
    cr_assert_str_eq(
        raise_event(&e, APP, VG_APP_HTTP, VG_HTTP_EV_HEADER_MISSING_COLON, &t, TC | http), "5,6");
    /* A packet the decoder gave up on has no addresses: only rules on any
     * address match it. */
    struct vg_packet bad;
    memset(&bad, 0, sizeof(bad));
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DECODE, 0, VG_DEC_IPV4_TRUNCATED, &bad, 0), "7");
    struct vg_packet ten = packet(IPPROTO_TCP, "10.1.1.1", 1, "10.2.2.2", 2);
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_DECODE, 0, VG_DEC_IPV4_TRUNCATED, &ten, 0), "7,8");
    sig_engine_stop(&e);
}

Test(kw_event, flowbits_and_pass)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (flowbits:set,retrans; flowbits:noalert; "
                     "stream-event:pkt_retransmission; sid:1;)\n"
                     "alert tcp any any -> any any (flowbits:isset,retrans; "
                     "stream-event:reassembly_seq_gap; sid:2;)\n"
                     "pass tcp any any -> any 8080 (stream-event:reassembly_seq_gap; sid:3;)\n");
    struct vg_packet t = packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 80);
    struct vg_flow_vars vars;
    memset(&vars, 0, sizeof(vars));
    vg_detect_set_flow(e.ctx, &vars, 7);
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_SEQ_GAP, &t, TS), "");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_PKT_RETRANSMISSION, &t, TS),
                     "");
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_SEQ_GAP, &t, TS), "2");
    /* Without a flow, flowbits conditions fail. */
    vg_detect_set_flow(e.ctx, NULL, 0);
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_SEQ_GAP, &t, TS), "");
    /* A pass rule ends inspection of its flow. */
    struct vg_flow_vars other;
    memset(&other, 0, sizeof(other));
    vg_detect_set_flow(e.ctx, &other, 8);
    struct vg_packet p8080 = packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 8080);
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_SEQ_GAP, &p8080, TS), "");
    cr_assert_eq(other.passed, 1);
    cr_assert_str_eq(
        raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_PKT_RETRANSMISSION, &p8080, TS), "");
    sig_engine_stop(&e);
}

Test(kw_event, no_event_rules)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"x\"; sid:1;)\n");
    struct vg_packet t = packet(IPPROTO_TCP, "192.168.1.10", 40000, "203.0.113.5", 80);
    cr_assert_str_eq(raise_event(&e, VG_ANOMALY_STREAM, 0, VG_STREAM_EV_SEQ_GAP, &t, TS), "");
    cr_assert_eq(e.l.st.event_rules, 0);
    sig_engine_stop(&e);
}

/* ---- Skip causes (vigil -T) ---- */

Test(kw_event, skip_reasons_grouped_by_cause)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (foo:1; sid:1;)\n"
                  "alert tcp any any -> any any (foo; sid:2;)\n"
                  "alert tcp any any -> any any (bar; sid:3;)\n"
                  "alert tcp any any -> any any (content:\"|4|\"; sid:4;)\n"
                  "alert tcp any any -> any any (content:\"a\\x\"; sid:5;)\n"
                  "alert tcp any any -> any any (content:\"|zz|\"; sid:6;)\n"
                  "alert smtp any any -> any any (sid:7;)\n"
                  "alert tcp any any -> any any (stream-event:3whs_ack_in_wrong_dir; sid:8;)\n"
                  "alert tcp any any -> any any (flow:bogus; sid:9;)\n"
                  "alert tcp any any -> any any (content:\"ok\"; sid:10;)\n"
                  "alert tcp any any -> any any (content:\"ok\"; sid:10;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 1);
    cr_assert_eq(l.st.rules_skipped, 10);
    const struct vg_skip_reason *why;
    uint32_t n = vg_ruleset_skip_reasons(l.rs, &why);
    char got[1024] = "";
    for (uint32_t i = 0; i < n; i++)
        snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s=%u|", why[i].reason,
                 why[i].count);
    cr_assert_str_eq(got,
                     "bad content=3|unsupported keyword 'foo'=2|duplicate sid=1|"
                     "event '3whs_ack_in_wrong_dir' is not raised by vigil=1|"
                     "protocol 'smtp' not supported yet=1|unknown flow option=1|"
                     "unsupported keyword 'bar'=1|",
                     "%s\nerrors:\n%s", got, l.err);
    sig_load_done(&l);
}
