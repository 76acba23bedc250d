/* Packet rule groups: rules split by protocol class, flow direction and
 * stream coverage must alert exactly as one database for all would, and
 * groups holding the same rules share one Hyperscan database. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/packet.h"

#include "sig_test_util.h"

TestSuite(rule_groups, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* The sids the packet raises, in alert order, as "1,4,5" ("" for none). */
static const char *sids(struct sig_engine *e, const struct vg_packet *p, uint32_t flow_flags)
{
    static char buf[256];
    struct sig_alerts a;
    memset(&a, 0, sizeof(a));
    uint32_t n = vg_detect_packet(e->ctx, p, flow_flags, sig_collect, &a);
    cr_assert_eq(n, a.n);
    buf[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%u", i ? "," : "", a.sid[i]);
    return buf;
}

static struct vg_packet packet(uint8_t proto, const char *payload)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse("10.0.0.1", &p.src);
    cr_assert_eq(vg_ip_addr_parse("10.0.0.2", &p.dst), 4);
    p.proto = proto;
    p.sport = 40000;
    p.dport = 80;
    p.flags = VG_PKT_HAS_L4;
    p.payload = (const uint8_t *)payload;
    p.payload_len = (uint32_t)strlen(payload);
    p.caplen = p.wirelen = 40 + p.payload_len;
    return p;
}

#define TS (VG_DF_HAS_FLOW | VG_DF_TOSERVER)
#define TC (VG_DF_HAS_FLOW | VG_DF_TOCLIENT)

static const char *const direction_rules =
    "alert tcp any any -> any any (content:\"abc\"; flow:to_server; sid:1;)\n"
    "alert tcp any any -> any any (content:\"abc\"; flow:to_client; sid:2;)\n"
    "alert tcp any any -> any any (content:\"abc\"; sid:3;)\n"
    "alert ip any any -> any any (content:\"abc\"; flow:to_server; sid:4;)\n"
    "alert udp any any -> any any (content:\"abc\"; flow:to_client; sid:5;)\n"
    "alert tcp any any -> any any (flow:to_server; dsize:3; sid:6;)\n"
    "alert udp any any -> any any (dsize:3; sid:7;)\n";

Test(rule_groups, direction_selects_the_rules)
{
    struct sig_engine e;
    sig_engine_start(&e, direction_rules);
    struct vg_packet t = packet(IPPROTO_TCP, "xabcx");
    cr_assert_str_eq(sids(&e, &t, TS), "1,3,4");
    cr_assert_str_eq(sids(&e, &t, TC), "2,3");
    cr_assert_str_eq(sids(&e, &t, 0), "3");
    struct vg_packet u = packet(IPPROTO_UDP, "abc");
    cr_assert_str_eq(sids(&e, &u, TS), "4,7");
    cr_assert_str_eq(sids(&e, &u, TC), "5,7");
    cr_assert_str_eq(sids(&e, &u, 0), "7");
    struct vg_packet t3 = packet(IPPROTO_TCP, "abc");
    cr_assert_str_eq(sids(&e, &t3, TS), "1,3,4,6");
    sig_engine_stop(&e);
}

Test(rule_groups, ip_rules_are_in_every_class)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert ip any any -> any any (content:\"abc\"; sid:1;)\n"
                         "alert icmp any any -> any any (content:\"abc\"; sid:2;)\n"
                         "alert ip any any -> any any (dsize:3; sid:3;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "abc");
    cr_assert_str_eq(sids(&e, &p, TS), "1,3");
    p = packet(IPPROTO_UDP, "abc");
    cr_assert_str_eq(sids(&e, &p, TC), "1,3");
    p = packet(IPPROTO_ICMP, "abc");
    p.flags = VG_PKT_HAS_L4;
    cr_assert_str_eq(sids(&e, &p, 0), "1,2,3");
    p = packet(IPPROTO_ICMPV6, "abc");
    cr_assert_str_eq(sids(&e, &p, TS), "1,2,3");
    p = packet(47, "abc"); /* GRE: the "other" class */
    p.flags = 0;
    cr_assert_str_eq(sids(&e, &p, 0), "1,3");
    sig_engine_stop(&e);
}

Test(rule_groups, stream_covered_payload_keeps_packet_rules_only)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"abc\"; sid:1;)\n"
                     "alert tcp-pkt any any -> any any (content:\"abc\"; sid:2;)\n"
                     "alert tcp-stream any any -> any any (content:\"abc\"; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"abc\"; dsize:3; sid:4;)\n"
                     "alert tcp any any -> any any (content:\"abc\"; flow:no_stream; sid:5;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "abc");
    cr_assert_str_eq(sids(&e, &p, TS), "1,2,4,5");
    cr_assert_str_eq(sids(&e, &p, TS | VG_DF_STREAM), "2,4,5");
    cr_assert_str_eq(sids(&e, &p, TC | VG_DF_STREAM), "2,4,5");
    /* Stream coverage only concerns TCP. */
    struct vg_packet u = packet(IPPROTO_UDP, "abc");
    cr_assert_str_eq(sids(&e, &u, TS | VG_DF_STREAM), "");
    sig_engine_stop(&e);
}

Test(rule_groups, groups_with_the_same_rules_share_a_database)
{
    struct sig_load l;
    /* Direction-free TCP stream-or-packet rules: the to_server, to_client and
     * flow-less TCP groups hold the same rule, the stream-covered ones none. */
    sig_load_text(&l, "alert tcp any any -> any any (content:\"abc\"; sid:1;)\n", NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.packet_databases, 1);
    cr_assert_eq(l.st.patterns, 1);
    sig_load_done(&l);

    sig_load_text(&l,
                  "alert tcp any any -> any any (content:\"abc\"; flow:to_server; sid:1;)\n"
                  "alert ip any any -> any any (content:\"def\"; sid:2;)\n"
                  "alert udp any any -> any any (content:\"ghi\"; sid:3;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_empty(l.err);
    /* Distinct rule sets: tcp to_server {1,2}; tcp other directions, the
     * stream-covered TCP groups, icmp and other {2}; udp {2,3}. */
    cr_assert_eq(l.st.packet_databases, 3);
    cr_assert_eq(l.st.patterns, 3);
    sig_load_done(&l);

    sig_load_text(&l, "alert tcp any any -> any any (flow:to_server; dsize:3; sid:1;)\n", NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.packet_databases, 0);
    cr_assert_eq(l.st.no_pattern_rules, 1);
    sig_load_done(&l);
}

Test(rule_groups, always_candidates_follow_ports_and_groups)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any 80 (flow:to_client; sid:1;)\n"
                         "alert tcp any any -> any 81 (flow:to_server; sid:2;)\n"
                         "alert tcp any any -> any 80 (sid:3;)\n");
    struct vg_packet p = packet(IPPROTO_TCP, "");
    cr_assert_str_eq(sids(&e, &p, TS), "3");
    cr_assert_str_eq(sids(&e, &p, TC), "1,3");
    p.dport = 81;
    cr_assert_str_eq(sids(&e, &p, TS), "2");
    sig_engine_stop(&e);
}
