/* Rule parser: every keyword, address and port expressions, variables, the
 * classification table and every error message. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/detect.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(rules, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* Loads text that must parse without any message. */
/* Loads one rule that must be rejected with exactly this message on line 1. */
static void expect_error(const char *rule, const char *msg)
{
    struct sig_load l;
    sig_load_text(&l, rule, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, msg), "rule: %sgot: %s", rule, l.err);
    cr_assert_eq(l.st.rules_loaded, 0);
    cr_assert_eq(l.st.rules_skipped, 1);
    sig_load_done(&l);
}

static const struct sig_rule *rule_by_sid(const struct sig_load *l, uint32_t sid)
{
    const struct sig_rule *r = sig_ruleset_find(l->rs, 1, sid);
    cr_assert_not_null(r, "sid %u not loaded", sid);
    return r;
}

static uint32_t v4(const char *s)
{
    struct vg_ip_addr a;
    memset(&a, 0, sizeof(a));
    cr_assert_eq(vg_ip_addr_parse(s, &a), 4);
    return (uint32_t)a.b[0] << 24 | (uint32_t)a.b[1] << 16 | (uint32_t)a.b[2] << 8 | a.b[3];
}

static void expect_v4_ranges(const struct sig_addr_set *s, const char *const *ranges, uint32_t n)
{
    cr_assert(!s->any);
    cr_assert_eq(s->n4, n, "expected %u IPv4 ranges, got %u", n, s->n4);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(s->v4[i].lo, v4(ranges[2 * i]), "range %u low", i);
        cr_assert_eq(s->v4[i].hi, v4(ranges[2 * i + 1]), "range %u high", i);
    }
}

static void expect_ports(const struct sig_port_set *s, const uint16_t *ranges, uint32_t n)
{
    cr_assert(!s->any);
    cr_assert_eq(s->n, n, "expected %u port ranges, got %u", n, s->n);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(s->r[i].lo, ranges[2 * i], "range %u low", i);
        cr_assert_eq(s->r[i].hi, ranges[2 * i + 1], "range %u high", i);
    }
}

/* ---- Lines --------------------------------------------------------------- */

Test(rules, comments_blank_lines_and_continuations)
{
    struct sig_load l;
    sig_load_ok(&l, "# a comment\n"
                    "\n"
                    "   # indented comment\n"
                    "alert tcp any any -> any 80 (msg:\"one\"; \\\n"
                    "    content:\"abc\"; \\\n"
                    "    sid:1;)\n"
                    "\t\n"
                    "# alert tcp any any -> any any (msg:\"disabled\"; sid:2;)\n"
                    "alert udp any any -> any 53 (msg:\"two\"; sid:3;)\r\n");
    cr_assert_eq(l.st.rules_loaded, 2);
    cr_assert_eq(l.st.rules_skipped, 0);
    cr_assert_str_eq(rule_by_sid(&l, 1)->meta.msg, "one");
    cr_assert_eq(rule_by_sid(&l, 1)->line, 4);
    cr_assert_eq(rule_by_sid(&l, 3)->line, 9);
    cr_assert_null(sig_ruleset_find(l.rs, 1, 2));
    sig_load_done(&l);
}

Test(rules, error_reports_the_line_where_the_rule_starts)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (msg:\"ok\"; sid:1;)\n"
                  "\n"
                  "alert tcp any any -> any any (msg:\"bad\"; \\\n"
                  "   smb.share; \\\n"
                  "   sid:2;)\n"
                  "alert tcp any any -> any any (msg:\"ok\"; sid:3;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 3, "unsupported keyword 'smb.share' (sid 2)"));
    cr_assert_eq(l.st.rules_loaded, 2);
    cr_assert_eq(l.st.rules_skipped, 1);
    sig_load_done(&l);
}

Test(rules, continuation_at_end_of_file)
{
    struct sig_load l;
    sig_load_ok(&l, "alert ip any any -> any any (sid:7; \\\n msg:\"x\";) \\\n");
    cr_assert_eq(l.st.rules_loaded, 1);
    sig_load_done(&l);
}

/* ---- Header ---------------------------------------------------------------- */

Test(rules, actions)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (sid:1;)\n"
                  "pass ip any any -> any any (sid:2;)\n"
                  "drop tcp any any -> any any (sid:3;)\n"
                  "reject tcp any any -> any any (sid:4;)\n"
                  "rejectboth tcp any any -> any any (sid:5;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 5);
    cr_assert_eq(rule_by_sid(&l, 1)->action, SIG_ACTION_ALERT);
    cr_assert_eq(rule_by_sid(&l, 2)->action, SIG_ACTION_PASS);
    cr_assert_eq(rule_by_sid(&l, 3)->action, SIG_ACTION_DROP);
    cr_assert_eq(rule_by_sid(&l, 4)->action, SIG_ACTION_REJECT);
    /* drop and reject load as alert, with a warning each */
    char want[512];
    snprintf(want, sizeof(want),
             "%s:3: warning: action 'drop' acts as 'alert' on a passive sensor\n"
             "%s:4: warning: action 'reject' acts as 'alert' on a passive sensor\n"
             "%s:5: warning: action 'rejectboth' acts as 'alert' on a passive sensor\n",
             l.path, l.path, l.path);
    cr_assert_str_eq(l.err, want);
    sig_load_done(&l);

    expect_error("block tcp any any -> any any (sid:6;)\n",
                 "unknown action 'block' (alert, pass, drop, reject) (sid 6)");
}

Test(rules, metadata_and_target)
{
    struct sig_load l;
    sig_load_ok(&l,
                "alert tcp any any -> any any (metadata:cve CVE_2022_1388, confidence confirmed; "
                "metadata: cve CVE_2022_41800 ,lonely, policy balanced-ips drop; "
                "target:dest_ip; sid:1;)\n"
                "alert tcp any any -> any any (target:src_ip; sid:2;)\n");
    const struct vg_rule_meta *m = &rule_by_sid(&l, 1)->meta;
    cr_assert_eq(m->target, VG_TARGET_DEST);
    /* grouped by key in first-seen order; a word without a value is dropped */
    cr_assert_eq(m->nmetadata, 4);
    cr_assert_str_eq(m->metadata[0].key, "cve");
    cr_assert_str_eq(m->metadata[0].value, "CVE_2022_1388");
    cr_assert_str_eq(m->metadata[1].key, "cve");
    cr_assert_str_eq(m->metadata[1].value, "CVE_2022_41800");
    cr_assert_str_eq(m->metadata[2].key, "confidence");
    cr_assert_str_eq(m->metadata[3].key, "policy");
    cr_assert_str_eq(m->metadata[3].value, "balanced-ips drop");
    cr_assert_eq(rule_by_sid(&l, 2)->meta.target, VG_TARGET_SRC);
    cr_assert_eq(rule_by_sid(&l, 2)->meta.nmetadata, 0);
    sig_load_done(&l);

    expect_error("alert tcp any any -> any any (target:both; sid:3;)\n",
                 "bad target value 'both' (src_ip or dest_ip) (sid 3)");
    expect_error("alert tcp any any -> any any (target:src_ip; target:dest_ip; sid:4;)\n",
                 "duplicate 'target' keyword (sid 4)");
}

Test(rules, protocols)
{
    struct sig_load l;
    sig_load_ok(&l, "alert ip any any -> any any (sid:1;)\n"
                    "alert tcp any any -> any any (sid:2;)\n"
                    "alert udp any any -> any any (sid:3;)\n"
                    "alert icmp any any -> any any (sid:4;)\n"
                    "alert tcp-pkt any any -> any any (sid:5;)\n"
                    "alert TCP any any -> any any (sid:6;)\n"
                    "alert pkthdr any any -> any any (sid:7;)\n");
    cr_assert_eq(rule_by_sid(&l, 1)->proto, SIG_PROTO_IP);
    cr_assert_eq(rule_by_sid(&l, 7)->proto, SIG_PROTO_IP); /* decoder-event rules: any packet */
    cr_assert_eq(rule_by_sid(&l, 2)->proto, SIG_PROTO_TCP);
    cr_assert_eq(rule_by_sid(&l, 3)->proto, SIG_PROTO_UDP);
    cr_assert_eq(rule_by_sid(&l, 4)->proto, SIG_PROTO_ICMP);
    cr_assert_eq(rule_by_sid(&l, 5)->proto, SIG_PROTO_TCP);
    cr_assert_eq(rule_by_sid(&l, 6)->proto, SIG_PROTO_TCP);
    sig_load_done(&l);
    expect_error("alert http2 any any -> any any (sid:1;)\n",
                 "protocol 'http2' not supported yet (sid 1)");
    expect_error("alert smtp any any -> any any (sid:1;)\n",
                 "protocol 'smtp' not supported yet (sid 1)");
    expect_error("alert foo any any -> any any (sid:1;)\n", "unknown protocol 'foo' (sid 1)");
}

Test(rules, header_shape)
{
    const char *shape = "malformed rule header: expected 'action proto src_addr src_port "
                        "direction dst_addr dst_port' (sid 1)";
    expect_error("alert tcp any any -> any (sid:1;)\n", shape);
    expect_error("alert tcp any any -> any any any (sid:1;)\n", shape);
    expect_error("alert tcp any any <- any any (sid:1;)\n",
                 "bad direction '<-' (expected '->' or '<>') (sid 1)");
    expect_error("alert tcp any any -> any any\n", "rule has no option list '(...)'");
    expect_error("alert tcp any any -> any any (msg:\"x\"; sid:1;\n",
                 "unterminated option list (missing ')') (sid 1)");
    expect_error("alert tcp any any -> any any (msg:\"x\"; sid:1; rev:1\n",
                 "unterminated option list (missing ')') (sid 1)");
    expect_error("alert tcp any any -> any any (\n", "unterminated option list (missing ')')");
}

Test(rules, bidirectional)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp 1.2.3.4 any <> any 80 (sid:1;)\n"
                    "alert tcp 1.2.3.4 any -> any 80 (sid:2;)\n");
    cr_assert_eq(rule_by_sid(&l, 1)->bidir, 1);
    cr_assert_eq(rule_by_sid(&l, 2)->bidir, 0);
    sig_load_done(&l);
}

/* ---- Addresses --------------------------------------------------------------- */

Test(rules, address_forms)
{
    struct sig_load l;
    sig_load_ok(&l, "alert ip any any -> 10.1.2.3 any (sid:1;)\n"
                    "alert ip 10.1.2.3/8 any -> any any (sid:2;)\n"
                    "alert ip [10.0.0.1,192.168.1.0/24, 10.0.0.2] any -> any any (sid:3;)\n"
                    "alert ip !10.0.0.0/8 any -> any any (sid:4;)\n"
                    "alert ip [10.0.0.0/8,!10.1.0.0/16] any -> any any (sid:5;)\n"
                    "alert ip [10.0.0.0/8,![10.1.0.0/16,!10.1.2.0/24]] any -> any any (sid:6;)\n"
                    "alert ip 10.0.0.5-10.0.0.9 any -> any any (sid:7;)\n"
                    "alert ip 192.168.0.0/255.255.0.0 any -> any any (sid:8;)\n"
                    "alert ip [any,!1.2.3.4] any -> any any (sid:9;)\n"
                    "alert ip [1.2.3.4, [5.6.7.8]] any -> any any (sid:10;)\n");

    const char *r1[] = {"10.1.2.3", "10.1.2.3"};
    expect_v4_ranges(&rule_by_sid(&l, 1)->dst, r1, 1);
    cr_assert(rule_by_sid(&l, 1)->src.any);

    const char *r2[] = {"10.0.0.0", "10.255.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 2)->src, r2, 1);
    cr_assert_eq(rule_by_sid(&l, 2)->src.n6, 0);

    const char *r3[] = {"10.0.0.1", "10.0.0.2", "192.168.1.0", "192.168.1.255"};
    expect_v4_ranges(&rule_by_sid(&l, 3)->src, r3, 2);

    /* a negation covers everything else, IPv6 included */
    const char *r4[] = {"0.0.0.0", "9.255.255.255", "11.0.0.0", "255.255.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 4)->src, r4, 2);
    cr_assert_eq(rule_by_sid(&l, 4)->src.n6, 1);

    const char *r5[] = {"10.0.0.0", "10.0.255.255", "10.2.0.0", "10.255.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 5)->src, r5, 2);
    cr_assert_eq(rule_by_sid(&l, 5)->src.n6, 0);

    const char *r6[] = {"10.0.0.0",   "10.0.255.255", "10.1.2.0",
                        "10.1.2.255", "10.2.0.0",     "10.255.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 6)->src, r6, 3);

    const char *r7[] = {"10.0.0.5", "10.0.0.9"};
    expect_v4_ranges(&rule_by_sid(&l, 7)->src, r7, 1);

    const char *r8[] = {"192.168.0.0", "192.168.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 8)->src, r8, 1);

    const char *r9[] = {"0.0.0.0", "1.2.3.3", "1.2.3.5", "255.255.255.255"};
    expect_v4_ranges(&rule_by_sid(&l, 9)->src, r9, 2);

    const char *r10[] = {"1.2.3.4", "1.2.3.4", "5.6.7.8", "5.6.7.8"};
    expect_v4_ranges(&rule_by_sid(&l, 10)->src, r10, 2);
    sig_load_done(&l);
}

Test(rules, ipv6_addresses)
{
    struct sig_load l;
    sig_load_ok(&l, "alert ip 2001:db8::/32 any -> ::1 any (sid:1;)\n"
                    "alert ip [2001:db8::1,10.0.0.1] any -> any any (sid:2;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->src.n4, 0);
    cr_assert_eq(r->src.n6, 1);
    sig_u128 lo = (sig_u128)0x20010db8u << 96;
    cr_assert(r->src.v6[0].lo == lo);
    cr_assert(r->src.v6[0].hi == (lo | (((sig_u128)1 << 96) - 1)));
    cr_assert_eq(r->dst.n6, 1);
    cr_assert(r->dst.v6[0].lo == 1 && r->dst.v6[0].hi == 1);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->src.n4, 1);
    cr_assert_eq(r->src.n6, 1);
    sig_load_done(&l);
}

Test(rules, default_address_variables)
{
    struct sig_load l;
    sig_load_ok(&l, "alert ip $HOME_NET any -> $EXTERNAL_NET any (sid:1;)\n"
                    "alert ip !$HOME_NET any -> $HTTP_SERVERS any (sid:2;)\n"
                    "alert ip $SMTP_SERVERS any -> [$SQL_SERVERS,$DNS_SERVERS,$TELNET_SERVERS] any "
                    "(sid:3;)\n");
    const char *home[] = {"10.0.0.0",       "10.255.255.255", "172.16.0.0",
                          "172.31.255.255", "192.168.0.0",    "192.168.255.255"};
    const char *ext[] = {"0.0.0.0",    "9.255.255.255",   "11.0.0.0",    "172.15.255.255",
                         "172.32.0.0", "192.167.255.255", "192.169.0.0", "255.255.255.255"};
    const struct sig_rule *r = rule_by_sid(&l, 1);
    expect_v4_ranges(&r->src, home, 3);
    cr_assert_eq(r->src.n6, 0);
    expect_v4_ranges(&r->dst, ext, 4);
    cr_assert_eq(r->dst.n6, 1);
    r = rule_by_sid(&l, 2);
    expect_v4_ranges(&r->src, ext, 4);
    expect_v4_ranges(&r->dst, home, 3);
    r = rule_by_sid(&l, 3);
    expect_v4_ranges(&r->src, home, 3);
    expect_v4_ranges(&r->dst, home, 3);
    sig_load_done(&l);
}

Test(rules, address_errors)
{
    expect_error("alert ip $NOPE any -> any any (sid:1;)\n",
                 "bad source address '$NOPE': unknown address variable '$NOPE' (sid 1)");
    expect_error("alert ip any any -> 1.2.3.400 any (sid:1;)\n",
                 "bad destination address '1.2.3.400': invalid address '1.2.3.400' (sid 1)");
    expect_error("alert ip 1.2.3.0/33 any -> any any (sid:1;)\n",
                 "bad source address '1.2.3.0/33': invalid prefix length '/33' (sid 1)");
    expect_error("alert ip [1.2.3.4 any -> any any (sid:1;)\n",
                 "malformed rule header: expected 'action proto src_addr src_port direction "
                 "dst_addr dst_port' (sid 1)");
    expect_error("alert ip [1.2.3.4,] any -> any any (sid:1;)\n",
                 "bad source address '[1.2.3.4,]': unexpected ']' (sid 1)");
    expect_error("alert ip [] any -> any any (sid:1;)\n",
                 "bad source address '[]': empty list (sid 1)");
    expect_error("alert ip !any any -> any any (sid:1;)\n",
                 "bad source address '!any': matches no address (sid 1)");
    expect_error("alert ip [1.2.3.4,!1.2.3.4] any -> any any (sid:1;)\n",
                 "bad source address '[1.2.3.4,!1.2.3.4]': matches no address (sid 1)");
    expect_error("alert ip 10.0.0.9-10.0.0.1 any -> any any (sid:1;)\n",
                 "bad source address '10.0.0.9-10.0.0.1': address range '10.0.0.9-10.0.0.1' is "
                 "reversed (sid 1)");
    expect_error("alert ip 1.2.3.4/255.0.255.0 any -> any any (sid:1;)\n",
                 "bad source address '1.2.3.4/255.0.255.0': invalid netmask '/255.0.255.0' "
                 "(sid 1)");
    expect_error("alert ip $HTTP_PORTS any -> any any (sid:1;)\n",
                 "bad source address '$HTTP_PORTS': unknown address variable '$HTTP_PORTS' "
                 "(sid 1)");
}

/* ---- Ports --------------------------------------------------------------------- */

Test(rules, port_forms)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any 1024: -> any 80 (sid:1;)\n"
                    "alert tcp any :1023 -> any 8000:8080 (sid:2;)\n"
                    "alert tcp any [80,443,8000:8080] -> any !80 (sid:3;)\n"
                    "alert tcp any [1:100,![50,60:70]] -> any [!22,!23] (sid:4;)\n"
                    "alert tcp any $HTTP_PORTS -> any $SHELLCODE_PORTS (sid:5;)\n"
                    "alert tcp any $FILE_DATA_PORTS -> any [$SSH_PORTS,$ORACLE_PORTS] (sid:6;)\n"
                    "alert tcp any [$DNP3_PORTS,$MODBUS_PORTS,$FTP_PORTS] -> any "
                    "[$GENEVE_PORTS,$VXLAN_PORTS,$TEREDO_PORTS] (sid:7;)\n"
                    "alert tcp any 0 -> any any (sid:8;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    const uint16_t p1s[] = {1024, 65535}, p1d[] = {80, 80};
    expect_ports(&r->sport, p1s, 1);
    expect_ports(&r->dport, p1d, 1);
    r = rule_by_sid(&l, 2);
    const uint16_t p2s[] = {0, 1023}, p2d[] = {8000, 8080};
    expect_ports(&r->sport, p2s, 1);
    expect_ports(&r->dport, p2d, 1);
    r = rule_by_sid(&l, 3);
    const uint16_t p3s[] = {80, 80, 443, 443, 8000, 8080}, p3d[] = {0, 79, 81, 65535};
    expect_ports(&r->sport, p3s, 3);
    expect_ports(&r->dport, p3d, 2);
    r = rule_by_sid(&l, 4);
    const uint16_t p4s[] = {1, 49, 51, 59, 71, 100}, p4d[] = {0, 21, 24, 65535};
    expect_ports(&r->sport, p4s, 3);
    expect_ports(&r->dport, p4d, 2);
    r = rule_by_sid(&l, 5);
    expect_ports(&r->sport, p1d, 1);
    expect_ports(&r->dport, p3d, 2);
    r = rule_by_sid(&l, 6);
    const uint16_t p6s[] = {80, 80, 110, 110, 143, 143}, p6d[] = {22, 22, 1521, 1521};
    expect_ports(&r->sport, p6s, 3);
    expect_ports(&r->dport, p6d, 2);
    r = rule_by_sid(&l, 7);
    const uint16_t p7s[] = {21, 21, 502, 502, 20000, 20000},
                   p7d[] = {3544, 3544, 4789, 4789, 6081, 6081};
    expect_ports(&r->sport, p7s, 3);
    expect_ports(&r->dport, p7d, 3);
    r = rule_by_sid(&l, 8);
    const uint16_t p8[] = {0, 0};
    expect_ports(&r->sport, p8, 1);
    cr_assert(r->dport.any);
    sig_load_done(&l);
}

Test(rules, port_errors)
{
    expect_error("alert tcp any 70000 -> any any (sid:1;)\n",
                 "bad source port '70000': invalid port '70000' (sid 1)");
    expect_error("alert tcp any any -> any 90:80 (sid:1;)\n",
                 "bad destination port '90:80': port range '90:80' is reversed (sid 1)");
    expect_error("alert tcp any any -> any $NOPE_PORTS (sid:1;)\n",
                 "bad destination port '$NOPE_PORTS': unknown port variable '$NOPE_PORTS' "
                 "(sid 1)");
    expect_error("alert tcp any any -> any $HOME_NET (sid:1;)\n",
                 "bad destination port '$HOME_NET': unknown port variable '$HOME_NET' (sid 1)");
    expect_error("alert tcp any abc -> any any (sid:1;)\n",
                 "bad source port 'abc': invalid port 'abc' (sid 1)");
    expect_error("alert tcp any any -> any !any (sid:1;)\n",
                 "bad destination port '!any': matches no port (sid 1)");
    expect_error("alert tcp any : -> any any (sid:1;)\n",
                 "bad source port ':': invalid port range ':' (sid 1)");
}

/* ---- Variables from the configuration ------------------------------------------- */

static struct vg_config *config_with(const char *const *assignments, size_t n)
{
    struct vg_config *c = vg_config_new();
    cr_assert_not_null(c);
    for (size_t i = 0; i < n; i++) {
        char err[256] = "";
        cr_assert_eq(vg_config_set(c, assignments[i], err, sizeof(err)), 0, "%s: %s",
                     assignments[i], err);
    }
    return c;
}

Test(rules, variables_from_config)
{
    const char *set[] = {
        "vars.address-groups.HOME_NET=[10.10.0.0/16,2001:db8::/32]",
        "vars.address-groups.DMZ_NET=[$HOME_NET,!10.10.5.0/24]",
        "vars.port-groups.HTTP_PORTS=[80,8080:8081]",
        "vars.port-groups.ADMIN_PORTS=[443,8443]",
    };
    struct vg_config *cfg = config_with(set, VG_ARRAY_SIZE(set));
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp $HOME_NET any -> $EXTERNAL_NET $HTTP_PORTS (sid:1;)\n"
                  "alert tcp $DMZ_NET $ADMIN_PORTS -> any $FILE_DATA_PORTS (sid:2;)\n"
                  "alert tcp $UNDEFINED_NET any -> any any (sid:3;)\n",
                  cfg);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 3,
                                    "bad source address '$UNDEFINED_NET': unknown address "
                                    "variable '$UNDEFINED_NET' (sid 3)"));
    const struct sig_rule *r = rule_by_sid(&l, 1);
    const char *home[] = {"10.10.0.0", "10.10.255.255"};
    expect_v4_ranges(&r->src, home, 1);
    cr_assert_eq(r->src.n6, 1);
    /* EXTERNAL_NET is !$HOME_NET with the configured HOME_NET */
    const char *ext[] = {"0.0.0.0", "10.9.255.255", "10.11.0.0", "255.255.255.255"};
    expect_v4_ranges(&r->dst, ext, 2);
    cr_assert_eq(r->dst.n6, 2);
    const uint16_t http[] = {80, 80, 8080, 8081};
    expect_ports(&r->dport, http, 2);

    r = rule_by_sid(&l, 2);
    const char *dmz[] = {"10.10.0.0", "10.10.4.255", "10.10.6.0", "10.10.255.255"};
    expect_v4_ranges(&r->src, dmz, 2);
    const uint16_t admin[] = {443, 443, 8443, 8443};
    expect_ports(&r->sport, admin, 2);
    /* FILE_DATA_PORTS follows the configured HTTP_PORTS */
    const uint16_t fdp[] = {80, 80, 110, 110, 143, 143, 8080, 8081};
    expect_ports(&r->dport, fdp, 4);
    sig_load_done(&l);
    vg_config_free(cfg);
}

Test(rules, variable_loop_is_an_error)
{
    const char *set[] = {
        "vars.address-groups.A_NET=$B_NET",
        "vars.address-groups.B_NET=[1.2.3.4,$A_NET]",
    };
    struct vg_config *cfg = config_with(set, VG_ARRAY_SIZE(set));
    struct sig_load l;
    sig_load_text(&l, "alert ip $A_NET any -> any any (sid:1;)\n", cfg);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_skipped, 1);
    cr_assert(strstr(l.err, "nests too deeply") != NULL, "%s", l.err);
    cr_assert(strncmp(l.err, sig_msg(l.path, 1, ""), strlen(l.path) + 3) == 0, "%s", l.err);
    sig_load_done(&l);
    vg_config_free(cfg);
}

Test(rules, bad_variable_value_names_the_variable)
{
    const char *set[] = {"vars.port-groups.WEB_PORTS=[80,x]"};
    struct vg_config *cfg = config_with(set, VG_ARRAY_SIZE(set));
    struct sig_load l;
    sig_load_text(&l, "alert tcp any any -> any $WEB_PORTS (sid:4;)\n", cfg);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1,
                                    "bad destination port '$WEB_PORTS': in $WEB_PORTS: invalid "
                                    "port 'x' (sid 4)"));
    sig_load_done(&l);
    vg_config_free(cfg);
}

/* ---- Meta keywords ------------------------------------------------------------------ */

Test(rules, msg_sid_rev_gid_reference_metadata)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (msg:\"a\\;b \\\"q\\\" c\\\\d\"; sid:10; rev:3; "
                    "gid:2; reference:url,example.com/x; reference:cve,2022-1388; "
                    "metadata:affected_product F5, created_at 2022_05_09;)\n"
                    "alert tcp any any -> any any (sid:11;)\n");
    const struct sig_rule *r = sig_ruleset_find(l.rs, 2, 10);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->meta.msg, "a;b \"q\" c\\d");
    cr_assert_eq(r->meta.sid, 10);
    cr_assert_eq(r->meta.rev, 3);
    cr_assert_eq(r->meta.gid, 2);
    cr_assert_eq(r->meta.priority, 3);
    cr_assert_null(r->meta.classtype);
    cr_assert_str_eq(r->meta.category, "");
    r = rule_by_sid(&l, 11);
    cr_assert_str_eq(r->meta.msg, "");
    cr_assert_eq(r->meta.gid, 1);
    cr_assert_eq(r->meta.rev, 0);
    sig_load_done(&l);
}

Test(rules, classtype_and_priority)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (classtype:trojan-activity; sid:1;)\n"
                    "alert tcp any any -> any any (classtype:misc-activity; sid:2;)\n"
                    "alert tcp any any -> any any (priority:2; classtype:web-application-attack; "
                    "sid:3;)\n"
                    "alert tcp any any -> any any (priority:4; sid:4;)\n"
                    "alert tcp any any -> any any (classtype:tcp-connection; sid:5;)\n"
                    "alert tcp any any -> any any (classtype:command-and-control; sid:6;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_str_eq(r->meta.classtype, "trojan-activity");
    cr_assert_str_eq(r->meta.category, "A Network Trojan was detected");
    cr_assert_eq(r->meta.priority, 1);
    r = rule_by_sid(&l, 2);
    cr_assert_str_eq(r->meta.category, "Misc activity");
    cr_assert_eq(r->meta.priority, 3);
    r = rule_by_sid(&l, 3);
    cr_assert_str_eq(r->meta.category, "Web Application Attack");
    cr_assert_eq(r->meta.priority, 2);
    cr_assert_eq(rule_by_sid(&l, 4)->meta.priority, 4);
    cr_assert_eq(rule_by_sid(&l, 5)->meta.priority, 4);
    cr_assert_str_eq(rule_by_sid(&l, 6)->meta.category,
                     "Malware Command and Control Activity Detected");

    /* the rule array is in alert order: priority, then sid */
    const uint32_t order[] = {1, 6, 3, 2, 4, 5};
    cr_assert_eq(l.rs->nrules, 6);
    for (uint32_t i = 0; i < 6; i++)
        cr_assert_eq(l.rs->rules[i].meta.sid, order[i], "rank %u", i);
    sig_load_done(&l);

    expect_error("alert tcp any any -> any any (classtype:no-such-class; sid:9;)\n",
                 "unknown classtype 'no-such-class' (sid 9)");
    expect_error("alert tcp any any -> any any (priority:0; sid:9;)\n",
                 "bad priority value '0' (1 to 255) (sid 9)");
    expect_error("alert tcp any any -> any any (priority:high; sid:9;)\n",
                 "bad priority value 'high' (1 to 255) (sid 9)");
}

Test(rules, all_builtin_classtypes)
{
    static const char *const names[] = {
        "not-suspicious",
        "unknown",
        "bad-unknown",
        "attempted-recon",
        "successful-recon-limited",
        "successful-recon-largescale",
        "attempted-dos",
        "successful-dos",
        "attempted-user",
        "unsuccessful-user",
        "successful-user",
        "attempted-admin",
        "successful-admin",
        "rpc-portmap-decode",
        "shellcode-detect",
        "string-detect",
        "suspicious-filename-detect",
        "suspicious-login",
        "system-call-detect",
        "tcp-connection",
        "trojan-activity",
        "unusual-client-port-connection",
        "network-scan",
        "denial-of-service",
        "non-standard-protocol",
        "protocol-command-decode",
        "web-application-activity",
        "web-application-attack",
        "misc-activity",
        "misc-attack",
        "icmp-event",
        "inappropriate-content",
        "policy-violation",
        "default-login-attempt",
        "targeted-activity",
        "exploit-kit",
        "external-ip-check",
        "domain-c2",
        "pup-activity",
        "credential-theft",
        "social-engineering",
        "coin-mining",
        "command-and-control",
    };
    char text[16384] = "";
    for (size_t i = 0; i < VG_ARRAY_SIZE(names); i++) {
        char line[256];
        snprintf(line, sizeof(line), "alert ip any any -> any any (classtype:%s; sid:%zu;)\n",
                 names[i], i + 1);
        strcat(text, line);
    }
    struct sig_load l;
    sig_load_ok(&l, text);
    cr_assert_eq(l.st.rules_loaded, VG_ARRAY_SIZE(names));
    sig_load_done(&l);
}

Test(rules, shipped_classification_file_matches_builtin)
{
    struct sig_load l;
    const char *rules = sig_write_file("c.rules", "alert ip any any -> any any (classtype:"
                                                  "successful-recon-largescale; sid:1;)\n"
                                                  "alert ip any any -> any any (classtype:"
                                                  "bad-unknown; sid:2;)\n");
    const char *files[] = {rules};
    sig_load_files(&l, files, 1, NULL, VG_SOURCE_ROOT "/signatures/classification.config");
    cr_assert_not_null(l.rs);
    cr_assert_str_empty(l.err, "%s", l.err);
    cr_assert_eq(l.rs->classes.n, 43);
    struct sig_class_table builtin = {0};
    struct sig_arena arena = {0};
    cr_assert_eq(sig_class_load_builtin(&builtin, &arena), 0);
    cr_assert_eq(builtin.n, l.rs->classes.n);
    for (uint32_t i = 0; i < builtin.n; i++) {
        const struct sig_classtype *c = sig_class_find(&l.rs->classes, builtin.v[i].name);
        cr_assert_not_null(c, "%s missing from the shipped file", builtin.v[i].name);
        cr_assert_str_eq(c->desc, builtin.v[i].desc);
        cr_assert_eq(c->priority, builtin.v[i].priority, "%s", c->name);
    }
    sig_class_release(&builtin);
    sig_arena_free(&arena);
    cr_assert_eq(rule_by_sid(&l, 2)->meta.priority, 2);
    sig_load_done(&l);
}

Test(rules, classification_file)
{
    const char *cls = sig_write_file("classification.config",
                                     "# comment\n"
                                     "\n"
                                     "config classification: bigip-mgmt,BIG-IP management, "
                                     "plane access,1\n"
                                     "config classification: trojan-activity,Trojan,2\n"
                                     "config classification broken\n"
                                     "config classification: x,desc,high\n"
                                     "something else\n");
    const char *rules =
        sig_write_file("c.rules", "alert ip any any -> any any (classtype:bigip-mgmt; sid:1;)\n"
                                  "alert ip any any -> any any (classtype:trojan-activity; "
                                  "sid:2;)\n"
                                  "alert ip any any -> any any (classtype:misc-activity; "
                                  "sid:3;)\n");
    const char *files[] = {rules};
    struct sig_load l;
    sig_load_files(&l, files, 1, NULL, cls);
    cr_assert_not_null(l.rs);
    char expected[2048];
    snprintf(expected, sizeof(expected),
             "%s:5: expected ':' after 'config classification'\n"
             "%s:6: invalid priority\n"
             "%s:7: expected 'config classification: name,description,priority'\n"
             "%s:3: unknown classtype 'misc-activity' (sid 3)\n",
             cls, cls, cls, rules);
    cr_assert_str_eq(l.err, expected);
    const struct sig_rule *r = sig_ruleset_find(l.rs, 1, 1);
    cr_assert_str_eq(r->meta.category, "BIG-IP management, plane access");
    cr_assert_eq(r->meta.priority, 1);
    r = sig_ruleset_find(l.rs, 1, 2);
    cr_assert_str_eq(r->meta.category, "Trojan");
    cr_assert_eq(r->meta.priority, 2);
    cr_assert_eq(l.st.rules_loaded, 2);
    sig_load_done(&l);
}

Test(rules, missing_classification_file)
{
    const char *rules = sig_write_file("c.rules", "alert ip any any -> any any (sid:1;)\n");
    const char *files[] = {rules};
    struct sig_load l;
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/nope.config", sig_tmpdir);
    sig_load_files(&l, files, 1, NULL, missing);
    cr_assert_null(l.rs);
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "%s: cannot open classification file: No such file or directory\n", missing);
    cr_assert_str_eq(l.err, expected);
    cr_assert_eq(l.st.files_failed, 1);
    sig_load_done(&l);
}

/* ---- Content -------------------------------------------------------------------------- */

static void expect_pattern(const struct sig_content *c, const void *bytes, uint32_t len)
{
    cr_assert_eq(c->len, len, "length %u, expected %u", c->len, len);
    cr_assert(memcmp(c->pattern, bytes, len) == 0);
}

Test(rules, content_forms)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (content:\"plain\"; content:\"|41 42|C|0d0a|\"; "
                    "content:\"a\\;b\\\"c\\\\d\\:e\"; content:!\"neg\"; content: ! \"neg2\"; "
                    "content:\"|00 ff|\"; content:\"(x)\"; sid:1;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->ncontents, 7);
    expect_pattern(&r->contents[0], "plain", 5);
    expect_pattern(&r->contents[1], "ABC\r\n", 5);
    expect_pattern(&r->contents[2], "a;b\"c\\d:e", 9);
    expect_pattern(&r->contents[3], "neg", 3);
    cr_assert(r->contents[3].flags & SIG_CONTENT_NEGATED);
    expect_pattern(&r->contents[4], "neg2", 4);
    cr_assert(r->contents[4].flags & SIG_CONTENT_NEGATED);
    expect_pattern(&r->contents[5], "\x00\xff", 2);
    expect_pattern(&r->contents[6], "(x)", 3);
    cr_assert_eq(r->contents[0].flags, 0);
    sig_load_done(&l);
}

Test(rules, content_errors)
{
    expect_error("alert tcp any any -> any any (content:abc; sid:1;)\n",
                 "content must be a quoted string: abc (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"|41 4|\"; sid:1;)\n",
                 "bad content \"|41 4|\": odd number of hex digits (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"|4g|\"; sid:1;)\n",
                 "bad content \"|4g|\": invalid hex character 'g' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"ab|41\"; sid:1;)\n",
                 "bad content \"ab|41\": unterminated hex block (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\\nb\"; sid:1;)\n",
                 "bad content \"a\\nb\": invalid escape '\\n' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"b\"; sid:1;)\n",
                 "bad content \"a\"b\": unescaped '\"' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"\"; sid:1;)\n",
                 "bad content \"\": empty pattern (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"||\"; sid:1;)\n",
                 "bad content \"||\": empty pattern (sid 1)");
    expect_error("alert tcp any any -> any any (content; sid:1;)\n",
                 "'content' needs a value (sid 1)");
    /* an unescaped ';' ends the option, as in Suricata */
    expect_error("alert tcp any any -> any any (content:\"a;b\"; sid:1;)\n",
                 "content must be a quoted string: \"a (sid 1)");
}

Test(rules, content_modifiers)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (content:\"GET\"; depth:3; offset:0; "
                    "content:\"AbC\"; nocase; distance:-2; within:10; "
                    "content:\"x\"; distance:0; content:\"yy\"; offset:4; depth:6; sid:1;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    const struct sig_content *c = r->contents;
    cr_assert_eq(c[0].flags, SIG_CONTENT_DEPTH | SIG_CONTENT_OFFSET | SIG_CONTENT_WITHIN_NEXT);
    cr_assert_eq(c[0].depth, 3);
    cr_assert_eq(c[0].offset, 0);
    cr_assert_eq(c[1].flags, SIG_CONTENT_NOCASE | SIG_CONTENT_DISTANCE | SIG_CONTENT_WITHIN);
    expect_pattern(&c[1], "abc", 3);
    cr_assert_eq(c[1].distance, -2);
    cr_assert_eq(c[1].within, 10);
    cr_assert_eq(c[2].flags, SIG_CONTENT_DISTANCE);
    cr_assert_eq(c[2].distance, 0);
    cr_assert_eq(c[3].flags, SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH);
    cr_assert_eq(c[3].offset, 4);
    cr_assert_eq(c[3].depth, 6);
    sig_load_done(&l);
}

Test(rules, content_modifier_errors)
{
    expect_error("alert tcp any any -> any any (nocase; content:\"a\"; sid:1;)\n",
                 "'nocase' needs a preceding content (sid 1)");
    expect_error("alert tcp any any -> any any (depth:4; sid:1;)\n",
                 "'depth' needs a preceding content (sid 1)");
    expect_error("alert tcp any any -> any any (within:4; sid:1;)\n",
                 "'within' needs a preceding content (sid 1)");
    expect_error("alert tcp any any -> any any (fast_pattern; sid:1;)\n",
                 "'fast_pattern' needs a preceding content (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"abcd\"; depth:3; sid:1;)\n",
                 "depth 3 is smaller than the content length 4 (sid 1)");
    expect_error(
        "alert tcp any any -> any any (content:\"a\"; content:\"bcd\"; within:2; sid:1;)\n",
        "within 2 is smaller than the content length 3 (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:1; "
                 "depth:3; sid:1;)\n",
                 "'depth' cannot be mixed with distance/within on the same content (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; content:\"b\"; offset:1; "
                 "within:3; sid:1;)\n",
                 "'within' cannot be mixed with depth/offset on the same content (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; depth:3; depth:4; sid:1;)\n",
                 "duplicate 'depth' on one content (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; offset:x; sid:1;)\n",
                 "bad offset value 'x' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; depth:-1; sid:1;)\n",
                 "bad depth value '-1' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; content:\"b\"; distance:z; "
                 "sid:1;)\n",
                 "bad distance value 'z' (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; nocase:1; sid:1;)\n",
                 "'nocase' takes no value (sid 1)");
}

Test(rules, fast_pattern_selection)
{
    struct sig_load l;
    sig_load_ok(&l,
                "alert tcp any any -> any any (content:\"ab\"; content:\"longest\"; "
                "content:\"mid\"; sid:1;)\n"
                "alert tcp any any -> any any (content:\"ab\"; fast_pattern; content:\"longest\"; "
                "sid:2;)\n"
                "alert tcp any any -> any any (content:\"ab\"; content:\"cd\"; fast_pattern:only; "
                "sid:3;)\n"
                "alert tcp any any -> any any (content:\"abcdef\"; fast_pattern:2,3; sid:4;)\n"
                "alert tcp any any -> any any (content:!\"abcdef\"; content:\"xy\"; sid:5;)\n"
                "alert tcp any any -> any any (content:!\"abc\"; fast_pattern; sid:6;)\n"
                "alert tcp any any -> any any (flow:established; sid:7;)\n");
    cr_assert_eq(rule_by_sid(&l, 1)->fast, 1);
    cr_assert_eq(rule_by_sid(&l, 2)->fast, 0);
    cr_assert_eq(rule_by_sid(&l, 3)->fast, 1);
    cr_assert_eq(rule_by_sid(&l, 4)->fast, 0);
    cr_assert_eq(rule_by_sid(&l, 5)->fast, 1);
    cr_assert_eq(rule_by_sid(&l, 6)->fast, -1);
    cr_assert_eq(rule_by_sid(&l, 7)->fast, -1);
    cr_assert_eq(l.st.patterns, 5);
    cr_assert_eq(l.st.no_pattern_rules, 2);
    cr_assert_gt(l.st.db_bytes, 0);
    sig_load_done(&l);

    expect_error("alert tcp any any -> any any (content:\"a\"; fast_pattern; content:\"b\"; "
                 "fast_pattern; sid:1;)\n",
                 "fast_pattern set on more than one content (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; fast_pattern:maybe; sid:1;)\n",
                 "bad fast_pattern value 'maybe' (sid 1)");
}

/* ---- Stream or packet ---------------------------------------------------------------- */

Test(rules, stream_or_packet_inspection)
{
    struct sig_load l;
    sig_load_ok(&l,
                "alert tcp any any -> any any (content:\"a\"; sid:1;)\n"
                "alert ip any any -> any any (content:\"a\"; sid:2;)\n"
                "alert tcp-stream any any -> any any (content:\"a\"; sid:3;)\n"
                "alert tcp-pkt any any -> any any (content:\"a\"; sid:4;)\n"
                "alert tcp any any -> any any (content:\"a\"; flow:established,only_stream; "
                "sid:5;)\n"
                "alert tcp any any -> any any (content:\"a\"; flow:no_stream; sid:6;)\n"
                "alert ip any any -> any any (content:\"a\"; flow:only_stream; sid:7;)\n"
                "alert tcp-stream any any -> any any (content:\"a\"; flow:only_stream; sid:8;)\n"
                "alert tcp-pkt any any -> any any (content:\"a\"; flow:no_stream; sid:9;)\n"
                "alert udp any any -> any any (content:\"a\"; sid:10;)\n"
                "alert tcp any any -> any any (flags:S; sid:11;)\n"
                "alert tcp any any -> any any (content:!\"a\"; sid:12;)\n"
                "alert tcp any any -> any any (content:\"a\"; dsize:>3; sid:13;)\n"
                "alert tcp-pkt any any -> any any (sid:14;)\n"
                "alert tcp any any -> any any (flow:no_stream; sid:15;)\n"
                "alert tcp any any -> any any (content:\"a\"; flags:PA; sid:16;)\n");
    static const uint8_t want[] = {
        0,
        SIG_INSPECT_STREAM_OR_PACKET, /* 1 */
        SIG_INSPECT_STREAM_OR_PACKET, /* 2 */
        SIG_INSPECT_STREAM,           /* 3 */
        SIG_INSPECT_PACKET,           /* 4 */
        SIG_INSPECT_STREAM,           /* 5 */
        SIG_INSPECT_PACKET,           /* 6 */
        SIG_INSPECT_STREAM,           /* 7 */
        SIG_INSPECT_STREAM,           /* 8 */
        SIG_INSPECT_PACKET,           /* 9 */
        SIG_INSPECT_PACKET,           /* 10 */
        SIG_INSPECT_PACKET,           /* 11 */
        SIG_INSPECT_PACKET,           /* 12 */
        SIG_INSPECT_PACKET,           /* 13 */
        SIG_INSPECT_PACKET,           /* 14 */
        SIG_INSPECT_PACKET,           /* 15 */
        SIG_INSPECT_STREAM_OR_PACKET, /* 16 */
    };
    for (uint32_t sid = 1; sid < sizeof(want); sid++)
        cr_assert_eq(rule_by_sid(&l, sid)->inspect, want[sid], "sid %u", sid);
    cr_assert_eq(rule_by_sid(&l, 3)->proto, SIG_PROTO_TCP);
    cr_assert_eq(rule_by_sid(&l, 5)->flow_mask, VG_DF_ESTABLISHED);
    cr_assert_eq(l.st.stream_rules, 7);
    cr_assert_eq(l.st.stream_window, 1);
    cr_assert_gt(l.st.stream_db_bytes, 0);
    /* The packet database leaves out the stream-only rules (3, 5, 7, 8). */
    cr_assert_eq(l.st.patterns, 8);
    sig_load_done(&l);

    expect_error("alert tcp-stream any any -> any any (sid:1;)\n",
                 "protocol 'tcp-stream' needs a content to inspect on the stream (sid 1)");
    expect_error("alert tcp-stream any any -> any any (content:!\"a\"; sid:1;)\n",
                 "protocol 'tcp-stream' needs a content to inspect on the stream (sid 1)");
    expect_error("alert tcp any any -> any any (flow:only_stream; sid:1;)\n",
                 "flow:only_stream needs a content to inspect on the stream (sid 1)");
    expect_error("alert tcp-stream any any -> any any (content:\"a\"; flow:no_stream; sid:1;)\n",
                 "flow:no_stream contradicts protocol 'tcp-stream' (sid 1)");
    expect_error("alert tcp-pkt any any -> any any (content:\"a\"; flow:only_stream; sid:1;)\n",
                 "flow:only_stream contradicts protocol 'tcp-pkt' (sid 1)");
    expect_error("alert udp any any -> any any (content:\"a\"; flow:only_stream; sid:1;)\n",
                 "flow:only_stream needs a tcp or ip rule (sid 1)");
    expect_error("alert tcp-stream any any -> any any (content:\"a\"; dsize:>3; sid:1;)\n",
                 "protocol 'tcp-stream' cannot be used with dsize, a packet test (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"a\"; dsize:>3; flow:only_stream; "
                 "sid:1;)\n",
                 "flow:only_stream cannot be used with dsize, a packet test (sid 1)");
}

/* Bytes around the end E of the fast pattern a stream candidate may read. */
Test(rules, stream_spans)
{
    struct sig_load l;
    sig_load_ok(&l,
                /* one content: the pattern itself */
                "alert tcp any any -> any any (content:\"abcd\"; sid:1;)\n"
                /* a chain before the fast pattern */
                "alert tcp any any -> any any (content:\"ab\"; content:\"cdefgh\"; distance:3; "
                "within:20; sid:2;)\n"
                /* a chain after it */
                "alert tcp any any -> any any (content:\"abcdef\"; content:\"gh\"; distance:-2; "
                "within:10; content:!\"ij\"; distance:0; within:5; sid:3;)\n"
                /* depth bounds what the relative chain does not */
                "alert tcp any any -> any any (content:\"GET\"; depth:3; content:\"/admin\"; "
                "distance:0; sid:4;)\n"
                /* unbounded both ways: the cap splits */
                "alert tcp any any -> any any (content:\"x\"; content:\"abcdef\"; content:\"y\"; "
                "sid:5;)\n"
                /* bounded by within */
                "alert tcp any any -> any any (content:\"x\"; content:\"abcdef\"; distance:0; "
                "within:100; sid:6;)\n"
                /* unbounded before only: the cap goes there */
                "alert tcp any any -> any any (content:\"x\"; depth:50; content:\"abcdef\"; "
                "content:\"y\"; distance:0; within:10; sid:8;)\n"
                /* packet rules have none */
                "alert tcp-pkt any any -> any any (content:\"abcd\"; sid:7;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->stream_before, 4);
    cr_assert_eq(r->stream_ahead, 0);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->stream_before, 25); /* ab may start 2 + 3 + 20 bytes before E */
    cr_assert_eq(r->stream_ahead, 0);
    cr_assert_eq(r->spans[0].rel_lo, -25);
    cr_assert_eq(r->spans[0].rel_hi, -9);
    r = rule_by_sid(&l, 3);
    cr_assert_eq(r->stream_before, 6);
    cr_assert_eq(r->stream_ahead, 13); /* gh ends by E + 8, the negated window by E + 13 */
    cr_assert_eq(r->spans[1].rel_lo, -2);
    cr_assert_eq(r->spans[1].rel_hi, 8);
    cr_assert_eq(r->spans[2].rel_lo, 0);
    cr_assert_eq(r->spans[2].rel_hi, 13);
    r = rule_by_sid(&l, 4);
    cr_assert_eq(r->spans[0].abs_lo, 0);
    cr_assert_eq(r->spans[0].abs_hi, 3);
    cr_assert_eq(r->spans[1].abs_lo, 3);
    cr_assert_eq(r->spans[1].abs_hi, SIG_SPAN_INF);
    cr_assert_eq(r->stream_before, 4096); /* /admin may be anywhere after GET */
    cr_assert_eq(r->stream_ahead, 0);
    r = rule_by_sid(&l, 5);
    cr_assert_eq(r->stream_before, 2048);
    cr_assert_eq(r->stream_ahead, 2048);
    r = rule_by_sid(&l, 6);
    cr_assert_eq(r->stream_before, 101);
    cr_assert_eq(r->stream_ahead, 0);
    r = rule_by_sid(&l, 8);
    cr_assert_eq(r->stream_ahead, 44); /* x ends by 50, E is 6 at least */
    cr_assert_eq(r->stream_before, 4052);
    cr_assert_null(rule_by_sid(&l, 7)->spans);
    cr_assert_eq(l.st.stream_window, 4096);
    sig_load_done(&l);
}

/* ---- Other keywords ------------------------------------------------------------------- */

Test(rules, flow_keyword)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (flow:to_server,established; sid:1;)\n"
                    "alert tcp any any -> any any (flow: from_server , not_established; sid:2;)\n"
                    "alert tcp any any -> any any (flow:from_client; sid:3;)\n"
                    "alert tcp any any -> any any (flow:to_client; sid:4;)\n"
                    "alert tcp any any -> any any (flow:stateless; sid:5;)\n"
                    "alert tcp any any -> any any (flow:established; sid:6;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->flow_mask, VG_DF_TOSERVER | VG_DF_ESTABLISHED);
    cr_assert_eq(r->flow_value, VG_DF_TOSERVER | VG_DF_ESTABLISHED);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->flow_mask, VG_DF_TOCLIENT | VG_DF_ESTABLISHED);
    cr_assert_eq(r->flow_value, VG_DF_TOCLIENT);
    cr_assert_eq(rule_by_sid(&l, 3)->flow_value, VG_DF_TOSERVER);
    cr_assert_eq(rule_by_sid(&l, 4)->flow_value, VG_DF_TOCLIENT);
    cr_assert_eq(rule_by_sid(&l, 5)->flow_mask, 0);
    cr_assert_eq(rule_by_sid(&l, 6)->flow_mask, VG_DF_ESTABLISHED);
    sig_load_done(&l);

    expect_error("alert tcp any any -> any any (flow:to_server,to_client; sid:1;)\n",
                 "conflicting flow options in 'to_server,to_client' (sid 1)");
    expect_error("alert tcp any any -> any any (flow:established,not_established; sid:1;)\n",
                 "conflicting flow options in 'established,not_established' (sid 1)");
    expect_error("alert tcp any any -> any any (flow:sideways; sid:1;)\n",
                 "unknown flow option 'sideways' (sid 1)");
    expect_error("alert tcp any any -> any any (flow:established,only_frag; sid:1;)\n",
                 "flow option 'only_frag' not supported yet (sid 1)");
    expect_error("alert tcp any any -> any any (content:\"x\"; flow:only_stream,no_stream; "
                 "sid:1;)\n",
                 "conflicting flow options in 'only_stream,no_stream' (sid 1)");
    expect_error("alert tcp any any -> any any (flow:established; flow:to_server; sid:1;)\n",
                 "duplicate 'flow' keyword (sid 1)");
}

Test(rules, integer_tests)
{
    struct sig_load l;
    sig_load_ok(&l, "alert icmp any any -> any any (itype:8; icode:<3; sid:1;)\n"
                    "alert icmp any any -> any any (itype:>10; icode:1<>5; sid:2;)\n"
                    "alert tcp any any -> any any (dsize:!0; sid:3;)\n"
                    "alert tcp any any -> any any (dsize:300<>400; sid:4;)\n"
                    "alert tcp any any -> any any (dsize:>=10; sid:5;)\n"
                    "alert tcp any any -> any any (dsize:<= 10; sid:6;)\n"
                    "alert tcp any any -> any any (dsize:5-9; sid:7;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->tests, SIG_TEST_ITYPE | SIG_TEST_ICODE);
    cr_assert_eq(r->itype.op, SIG_UINT_EQ);
    cr_assert_eq(r->itype.a, 8);
    cr_assert_eq(r->icode.op, SIG_UINT_LT);
    cr_assert_eq(r->icode.a, 3);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->itype.op, SIG_UINT_GT);
    cr_assert_eq(r->icode.op, SIG_UINT_RANGE);
    cr_assert_eq(r->icode.a, 1);
    cr_assert_eq(r->icode.b, 5);
    cr_assert_eq(rule_by_sid(&l, 3)->dsize.op, SIG_UINT_NE);
    cr_assert_eq(rule_by_sid(&l, 4)->dsize.op, SIG_UINT_RANGE);
    cr_assert_eq(rule_by_sid(&l, 5)->dsize.op, SIG_UINT_GE);
    cr_assert_eq(rule_by_sid(&l, 6)->dsize.op, SIG_UINT_LE);
    cr_assert_eq(rule_by_sid(&l, 7)->dsize.op, SIG_UINT_RANGE);
    cr_assert_eq(rule_by_sid(&l, 7)->dsize.b, 9);
    sig_load_done(&l);

    expect_error("alert icmp any any -> any any (itype:256; sid:1;)\n",
                 "bad itype value '256' (sid 1)");
    expect_error("alert icmp any any -> any any (icode:x; sid:1;)\n",
                 "bad icode value 'x' (sid 1)");
    expect_error("alert tcp any any -> any any (dsize:70000; sid:1;)\n",
                 "bad dsize value '70000' (sid 1)");
    expect_error("alert tcp any any -> any any (dsize:9<>3; sid:1;)\n",
                 "bad dsize range '9<>3': the first value must be the smaller (sid 1)");
    expect_error("alert tcp any any -> any any (dsize:1; dsize:2; sid:1;)\n",
                 "duplicate 'dsize' keyword (sid 1)");
}

Test(rules, tcp_flags_keyword)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (flags:S; sid:1;)\n"
                    "alert tcp any any -> any any (tcp.flags:SA+; sid:2;)\n"
                    "alert tcp any any -> any any (flags:*FPU; sid:3;)\n"
                    "alert tcp any any -> any any (flags:!R; sid:4;)\n"
                    "alert tcp any any -> any any (flags:S,CE; sid:5;)\n"
                    "alert tcp any any -> any any (flags:0; sid:6;)\n"
                    "alert tcp any any -> any any (flags:+S,12; sid:7;)\n"
                    "alert tcp any any -> any any (flags:CE; sid:8;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->tests, SIG_TEST_TCPFLAGS);
    cr_assert_eq(r->tcpflags_mod, SIG_TCPFLAGS_EXACT);
    cr_assert_eq(r->tcpflags_want, 0x02);
    cr_assert_eq(r->tcpflags_keep, 0xff);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->tcpflags_mod, SIG_TCPFLAGS_PLUS);
    cr_assert_eq(r->tcpflags_want, 0x12);
    r = rule_by_sid(&l, 3);
    cr_assert_eq(r->tcpflags_mod, SIG_TCPFLAGS_ANY);
    cr_assert_eq(r->tcpflags_want, 0x29);
    r = rule_by_sid(&l, 4);
    cr_assert_eq(r->tcpflags_mod, SIG_TCPFLAGS_NOT);
    cr_assert_eq(r->tcpflags_want, 0x04);
    r = rule_by_sid(&l, 5);
    cr_assert_eq(r->tcpflags_keep, 0x3f);
    cr_assert_eq(rule_by_sid(&l, 6)->tcpflags_want, 0);
    r = rule_by_sid(&l, 7);
    cr_assert_eq(r->tcpflags_mod, SIG_TCPFLAGS_PLUS);
    cr_assert_eq(r->tcpflags_keep, 0x3f);
    cr_assert_eq(rule_by_sid(&l, 8)->tcpflags_want, 0xc0);
    sig_load_done(&l);

    expect_error("alert tcp any any -> any any (flags:SX; sid:1;)\n",
                 "bad flags value 'SX': unknown flag 'X' (sid 1)");
    expect_error("alert tcp any any -> any any (flags:+*S; sid:1;)\n",
                 "bad flags value '+*S': only one modifier allowed (sid 1)");
    expect_error("alert tcp any any -> any any (tcp.flags:+; sid:1;)\n",
                 "bad tcp.flags value '+': no flags (sid 1)");
    expect_error("alert tcp any any -> any any (flags:S,; sid:1;)\n",
                 "bad flags value 'S,': empty mask (sid 1)");
    expect_error("alert tcp any any -> any any (flags:S; tcp.flags:A; sid:1;)\n",
                 "duplicate 'flags' keyword (sid 1)");
}

Test(rules, unsupported_keywords)
{
    const char *kws[] = {"http.accept",  "smb.share",     "dns.answer.name",    "quic.sni",
                         "http2.header", "flowint:x,+,1", "byte_extract:1,0,x", "xyzzy"};
    for (size_t i = 0; i < VG_ARRAY_SIZE(kws); i++) {
        char rule[256], msg[256], name[64];
        snprintf(rule, sizeof(rule),
                 "alert tcp any any -> any any (msg:\"m\"; content:\"a\"; %s; sid:42;)\n", kws[i]);
        snprintf(name, sizeof(name), "%s", kws[i]);
        name[strcspn(name, ":")] = '\0';
        snprintf(msg, sizeof(msg), "unsupported keyword '%s' (sid 42)", name);
        expect_error(rule, msg);
    }
}

Test(rules, structural_errors)
{
    expect_error("alert tcp any any -> any any (msg:\"no sid\";)\n", "rule has no sid");
    expect_error("alert tcp any any -> any any (msg:\"x\"; sid:1)\n",
                 "option 'sid' is not terminated by ';' (sid 1)");
    expect_error("alert tcp any any -> any any (sid:1; ;)\n", "empty option (sid 1)");
    expect_error("alert tcp any any -> any any (sid:0;)\n", "bad sid value '0'");
    expect_error("alert tcp any any -> any any (sid:abc;)\n", "bad sid value 'abc'");
    expect_error("alert tcp any any -> any any (sid:1; sid:2;)\n",
                 "duplicate 'sid' keyword (sid 1)");
    expect_error("alert tcp any any -> any any (msg:\"a\"; msg:\"b\"; sid:1;)\n",
                 "duplicate 'msg' keyword (sid 1)");
    expect_error("alert tcp any any -> any any (rev:x; sid:1;)\n", "bad rev value 'x' (sid 1)");
    expect_error("alert tcp any any -> any any (gid:; sid:1;)\n", "'gid' needs a value (sid 1)");
    expect_error("alert tcp any any -> any any (reference; sid:1;)\n",
                 "'reference' needs a value (sid 1)");
}

Test(rules, duplicate_sid_keeps_the_first)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (msg:\"first\"; sid:5;)\n"
                  "alert tcp any any -> any any (msg:\"second\"; sid:5;)\n"
                  "alert tcp any any -> any any (msg:\"other gid\"; gid:3; sid:5;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    char msg[600];
    snprintf(msg, sizeof(msg), "duplicate sid, first defined at %s:1 (sid 5)", l.path);
    cr_assert_str_eq(l.err, sig_msg(l.path, 2, msg));
    cr_assert_eq(l.st.rules_loaded, 2);
    cr_assert_eq(l.st.rules_skipped, 1);
    cr_assert_str_eq(rule_by_sid(&l, 5)->meta.msg, "first");
    sig_load_done(&l);
}

Test(rules, duplicate_sid_across_files)
{
    const char *a = sig_write_file("a.rules", "alert tcp any any -> any any (sid:1;)\n");
    const char *b = sig_write_file("b.rules", "\nalert udp any any -> any any (sid:1;)\n"
                                              "alert udp any any -> any any (sid:2;)\n");
    const char *files[] = {a, b};
    struct sig_load l;
    sig_load_files(&l, files, 2, NULL, NULL);
    cr_assert_not_null(l.rs);
    char msg[600];
    snprintf(msg, sizeof(msg), "duplicate sid, first defined at %s:1 (sid 1)", a);
    cr_assert_str_eq(l.err, sig_msg(b, 2, msg));
    cr_assert_eq(l.st.rules_loaded, 2);
    cr_assert_str_eq(rule_by_sid(&l, 1)->file, a);
    sig_load_done(&l);
}

Test(rules, unreadable_rule_file)
{
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/missing.rules", sig_tmpdir);
    const char *good = sig_write_file("good.rules", "alert tcp any any -> any any (sid:1;)\n"
                                                    "alert tcp any any -> any any (foo; sid:2;)\n");
    const char *files[] = {good, missing};
    struct sig_load l;
    sig_load_files(&l, files, 2, NULL, NULL);
    cr_assert_null(l.rs);
    char expected[2048];
    snprintf(expected, sizeof(expected),
             "%s:2: unsupported keyword 'foo' (sid 2)\n"
             "%s: cannot open rule file: No such file or directory\n",
             good, missing);
    cr_assert_str_eq(l.err, expected);
    cr_assert_eq(l.st.files_failed, 1);
    cr_assert_eq(l.st.rules_loaded, 1);
    cr_assert_eq(l.st.rules_skipped, 1);
    sig_load_done(&l);
}

Test(rules, stats_and_empty_sets)
{
    struct sig_load l;
    sig_load_ok(&l, "# nothing but comments\n\n");
    cr_assert_eq(l.st.rules_loaded, 0);
    cr_assert_eq(l.st.patterns, 0);
    cr_assert_eq(l.st.db_bytes, 0);
    const struct vg_ruleset_stats *st = vg_ruleset_stats(l.rs);
    cr_assert_eq(st->rules_loaded, 0);
    cr_assert_geq(st->compile_ms, 0.0);
    sig_load_done(&l);

    struct vg_rule_load_opts opts = {0};
    struct vg_ruleset *rs = vg_ruleset_load(&opts, NULL);
    cr_assert_not_null(rs);
    cr_assert_eq(vg_ruleset_stats(rs)->rules_loaded, 0);
    vg_ruleset_free(rs);
}

Test(rules, stats_count_everything)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (content:\"abc\"; sid:1;)\n"
                  "alert tcp any any -> any any (content:\"abd\"; nocase; sid:2;)\n"
                  "alert tcp any any -> any any (dsize:0; sid:3;)\n"
                  "alert tcp any any -> any any (http.uri; content:\"x\"; sid:4;)\n"
                  "alert tcp any any -> any any (nosuch:1; sid:5;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 4);
    cr_assert_eq(l.st.rules_skipped, 1);
    cr_assert_eq(l.st.files_failed, 0);
    cr_assert_eq(l.st.patterns, 2);
    cr_assert_eq(l.st.no_pattern_rules, 1);
    cr_assert_gt(l.st.db_bytes, 0);
    cr_assert_eq(l.st.app_rules, 1);
    cr_assert_gt(l.st.app_db_bytes, 0);
    const struct vg_ruleset_stats *st = vg_ruleset_stats(l.rs);
    cr_assert_eq(st->rules_loaded, 4);
    cr_assert_eq(st->db_bytes, l.st.db_bytes);
    sig_load_done(&l);
}

Test(rules, null_error_stream)
{
    const char *path = sig_write_file("n.rules", "alert tcp any any -> any any (foo; sid:1;)\n"
                                                 "alert tcp any any -> any any (sid:2;)\n");
    const char *files[] = {path, "/nonexistent/x.rules"};
    struct vg_rule_load_opts opts = {.files = files, .nfiles = 1};
    struct vg_ruleset_stats st;
    struct vg_ruleset *rs = vg_ruleset_load(&opts, &st);
    cr_assert_not_null(rs);
    cr_assert_eq(st.rules_loaded, 1);
    cr_assert_eq(st.rules_skipped, 1);
    vg_ruleset_free(rs);
    opts.nfiles = 2;
    cr_assert_null(vg_ruleset_load(&opts, &st));
    cr_assert_eq(st.files_failed, 1);
}

/* ---- Application-layer buffers ----------------------------------------------------- */

Test(rules, app_protocols_in_the_header)
{
    struct sig_load l;
    sig_load_ok(&l, "alert http any any -> any any (sid:1;)\n"
                    "alert http1 any any -> any any (sid:2;)\n"
                    "alert tls any any -> any any (sid:3;)\n"
                    "alert ssl any any -> any any (sid:4;)\n"
                    "alert dns any any -> any any (sid:5;)\n"
                    "alert ssh any any -> any any (sid:6;)\n"
                    "alert tls any any -> any any (content:\"x\"; sid:7;)\n"
                    "alert tcp any any -> any any (content:\"x\"; sid:8;)\n");
    const struct {
        uint32_t sid;
        uint8_t proto, app;
    } want[] = {
        {1, SIG_PROTO_TCP, VG_APP_HTTP}, {2, SIG_PROTO_TCP, VG_APP_HTTP},
        {3, SIG_PROTO_TCP, VG_APP_TLS},  {4, SIG_PROTO_TCP, VG_APP_TLS},
        {5, SIG_PROTO_IP, VG_APP_DNS},   {6, SIG_PROTO_TCP, VG_APP_SSH},
        {7, SIG_PROTO_TCP, VG_APP_TLS},  {8, SIG_PROTO_TCP, 0},
    };
    for (size_t i = 0; i < VG_ARRAY_SIZE(want); i++) {
        const struct sig_rule *r = rule_by_sid(&l, want[i].sid);
        cr_assert_eq(r->proto, want[i].proto, "sid %u", want[i].sid);
        cr_assert_eq(r->app_proto, want[i].app, "sid %u", want[i].sid);
        cr_assert_eq(r->app_stage, VG_STAGE_NONE, "sid %u", want[i].sid);
    }
    /* a content with no buffer in a tls rule stays a stream/packet rule */
    cr_assert_eq(rule_by_sid(&l, 7)->inspect, SIG_INSPECT_STREAM_OR_PACKET);
    cr_assert_eq(rule_by_sid(&l, 7)->contents[0].buffer, VG_BUF_PAYLOAD);
    cr_assert_eq(l.st.app_rules, 0);
    cr_assert_eq(l.st.patterns, 2);
    sig_load_done(&l);
}

/* Every sticky buffer keyword, with the buffer, stage and protocol it gives
 * a rule that has no flow direction. */
static const struct {
    const char *kw;
    uint8_t buffer, stage, proto;
} sticky_table[] = {
    {"http.method", VG_BUF_HTTP_METHOD, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.uri", VG_BUF_HTTP_URI, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.uri.raw", VG_BUF_HTTP_URI_RAW, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.protocol", VG_BUF_HTTP_PROTOCOL, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_protocol", VG_BUF_HTTP_PROTOCOL, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.request_line", VG_BUF_HTTP_REQUEST_LINE, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_request_line", VG_BUF_HTTP_REQUEST_LINE, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.host", VG_BUF_HTTP_HOST, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.host.raw", VG_BUF_HTTP_HOST_RAW, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.user_agent", VG_BUF_HTTP_USER_AGENT, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.referer", VG_BUF_HTTP_REFERER, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_referer", VG_BUF_HTTP_REFERER, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.header", VG_BUF_HTTP_HEADER, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.header.raw", VG_BUF_HTTP_HEADER_RAW, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.header_names", VG_BUF_HTTP_HEADER_NAMES, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_header_names", VG_BUF_HTTP_HEADER_NAMES, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.connection", VG_BUF_HTTP_CONNECTION, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_connection", VG_BUF_HTTP_CONNECTION, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.cookie", VG_BUF_HTTP_COOKIE, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.content_type", VG_BUF_HTTP_CONTENT_TYPE, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_content_type", VG_BUF_HTTP_CONTENT_TYPE, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.content_len", VG_BUF_HTTP_CONTENT_LEN, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_content_len", VG_BUF_HTTP_CONTENT_LEN, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.start", VG_BUF_HTTP_START, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http_start", VG_BUF_HTTP_START, VG_STAGE_REQUEST, VG_APP_HTTP},
    {"http.request_body", VG_BUF_HTTP_REQUEST_BODY, VG_STAGE_REQUEST_BODY, VG_APP_HTTP},
    {"http.stat_code", VG_BUF_HTTP_STAT_CODE, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"http.stat_msg", VG_BUF_HTTP_STAT_MSG, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"http.response_line", VG_BUF_HTTP_RESPONSE_LINE, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"http_response_line", VG_BUF_HTTP_RESPONSE_LINE, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"http.response_body", VG_BUF_HTTP_RESPONSE_BODY, VG_STAGE_RESPONSE_BODY, VG_APP_HTTP},
    {"http.server", VG_BUF_HTTP_SERVER, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"http.location", VG_BUF_HTTP_LOCATION, VG_STAGE_RESPONSE, VG_APP_HTTP},
    {"file.data", VG_BUF_HTTP_RESPONSE_BODY, VG_STAGE_RESPONSE_BODY, VG_APP_HTTP},
    {"file_data", VG_BUF_HTTP_RESPONSE_BODY, VG_STAGE_RESPONSE_BODY, VG_APP_HTTP},
    {"tls.sni", VG_BUF_TLS_SNI, VG_STAGE_REQUEST, VG_APP_TLS},
    {"tls_sni", VG_BUF_TLS_SNI, VG_STAGE_REQUEST, VG_APP_TLS},
    {"tls.cert_subject", VG_BUF_TLS_CERT_SUBJECT, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls_cert_subject", VG_BUF_TLS_CERT_SUBJECT, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls.cert_issuer", VG_BUF_TLS_CERT_ISSUER, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls_cert_issuer", VG_BUF_TLS_CERT_ISSUER, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls.cert_serial", VG_BUF_TLS_CERT_SERIAL, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls_cert_serial", VG_BUF_TLS_CERT_SERIAL, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls.cert_fingerprint", VG_BUF_TLS_CERT_FINGERPRINT, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"tls_cert_fingerprint", VG_BUF_TLS_CERT_FINGERPRINT, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"ja3.hash", VG_BUF_JA3_HASH, VG_STAGE_REQUEST, VG_APP_TLS},
    {"ja3_hash", VG_BUF_JA3_HASH, VG_STAGE_REQUEST, VG_APP_TLS},
    {"ja3.string", VG_BUF_JA3_STRING, VG_STAGE_REQUEST, VG_APP_TLS},
    {"ja3_string", VG_BUF_JA3_STRING, VG_STAGE_REQUEST, VG_APP_TLS},
    {"ja3s.hash", VG_BUF_JA3S_HASH, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"ja3s.string", VG_BUF_JA3S_STRING, VG_STAGE_RESPONSE, VG_APP_TLS},
    {"ja4.hash", VG_BUF_JA4_HASH, VG_STAGE_REQUEST, VG_APP_TLS},
    {"tls.alpn", VG_BUF_TLS_ALPN, VG_STAGE_REQUEST, VG_APP_TLS},
    {"dns.query", VG_BUF_DNS_QUERY, VG_STAGE_REQUEST, VG_APP_DNS},
    {"dns_query", VG_BUF_DNS_QUERY, VG_STAGE_REQUEST, VG_APP_DNS},
    {"ssh.proto", VG_BUF_SSH_PROTO, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh_proto", VG_BUF_SSH_PROTO, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh.software", VG_BUF_SSH_SOFTWARE, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh_software", VG_BUF_SSH_SOFTWARE, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh.hassh", VG_BUF_SSH_HASSH, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh.hassh.string", VG_BUF_SSH_HASSH_STRING, VG_STAGE_REQUEST, VG_APP_SSH},
    {"ssh.hassh.server", VG_BUF_SSH_HASSH_SERVER, VG_STAGE_RESPONSE, VG_APP_SSH},
    {"ssh.hassh.server.string", VG_BUF_SSH_HASSH_SERVER_STRING, VG_STAGE_RESPONSE, VG_APP_SSH},
};

Test(rules, sticky_buffers_and_aliases)
{
    static char text[16384];
    size_t len = 0;
    const size_t n = VG_ARRAY_SIZE(sticky_table);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "alert tcp any any -> any any (%s; content:\"abc\"; sid:%zu;)\n",
                                sticky_table[i].kw, i + 1);
    cr_assert_lt(len, sizeof(text));
    struct sig_load l;
    sig_load_ok(&l, text);
    cr_assert_eq(l.st.rules_loaded, n);
    cr_assert_eq(l.st.app_rules, n);
    cr_assert_eq(l.st.patterns, 0);
    cr_assert_gt(l.st.app_db_bytes, 0);
    for (size_t i = 0; i < n; i++) {
        const struct sig_rule *r = rule_by_sid(&l, (uint32_t)(i + 1));
        cr_assert_eq(r->ncontents, 1, "%s", sticky_table[i].kw);
        cr_assert_eq(r->contents[0].buffer, sticky_table[i].buffer, "%s", sticky_table[i].kw);
        cr_assert_eq(r->app_stage, sticky_table[i].stage, "%s", sticky_table[i].kw);
        cr_assert_eq(r->app_proto, sticky_table[i].proto, "%s", sticky_table[i].kw);
        cr_assert_eq(r->ngroups, 1, "%s", sticky_table[i].kw);
        cr_assert_eq(r->groups[0].buffer, sticky_table[i].buffer, "%s", sticky_table[i].kw);
        cr_assert_eq(r->fast, 0, "%s", sticky_table[i].kw);
        cr_assert_eq(r->inspect, SIG_INSPECT_PACKET, "%s", sticky_table[i].kw);
    }
    sig_load_done(&l);
}

Test(rules, buffer_names)
{
    cr_assert_str_eq(vg_buffer_name(VG_BUF_PAYLOAD), "pkt_data");
    cr_assert_str_eq(vg_buffer_name(VG_BUF_HTTP_URI), "http.uri");
    cr_assert_str_eq(vg_buffer_name(VG_BUF_HTTP_RESPONSE_HEADER), "http.header");
    cr_assert_str_eq(vg_buffer_name(VG_BUF_HTTP_SET_COOKIE), "http.cookie");
    cr_assert_str_eq(vg_buffer_name(VG_BUF_SSH_HASSH_SERVER_STRING), "ssh.hassh.server.string");
    cr_assert_null(vg_buffer_name(VG_BUF_COUNT));
    for (int b = 0; b < VG_BUF_COUNT; b++)
        cr_assert_not_null(vg_buffer_name((enum vg_buffer)b), "buffer %d", b);
}

Test(rules, content_modifiers_move_the_content)
{
    const struct {
        const char *kw;
        uint8_t buffer;
    } mods[] = {
        {"http_method", VG_BUF_HTTP_METHOD},
        {"http_uri", VG_BUF_HTTP_URI},
        {"http_raw_uri", VG_BUF_HTTP_URI_RAW},
        {"http_host", VG_BUF_HTTP_HOST},
        {"http_raw_host", VG_BUF_HTTP_HOST_RAW},
        {"http_user_agent", VG_BUF_HTTP_USER_AGENT},
        {"http_header", VG_BUF_HTTP_HEADER},
        {"http_raw_header", VG_BUF_HTTP_HEADER_RAW},
        {"http_cookie", VG_BUF_HTTP_COOKIE},
        {"http_client_body", VG_BUF_HTTP_REQUEST_BODY},
        {"http_stat_code", VG_BUF_HTTP_STAT_CODE},
        {"http_stat_msg", VG_BUF_HTTP_STAT_MSG},
        {"http_server_body", VG_BUF_HTTP_RESPONSE_BODY},
    };
    char text[8192];
    size_t len = 0;
    for (size_t i = 0; i < VG_ARRAY_SIZE(mods); i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len,
                                "alert tcp any any -> any any (content:\"abc\"; %s; "
                                "content:\"payload\"; sid:%zu;)\n",
                                mods[i].kw, i + 1);
    len += (size_t)snprintf(text + len, sizeof(text) - len,
                            "alert tcp any any -> any any (uricontent:\"/x\"; content:\"y\"; "
                            "sid:100;)\n"
                            "alert tcp any any -> any any (http.host; content:\"h\"; "
                            "uricontent:\"/u\"; content:\"g\"; sid:101;)\n"
                            "alert tcp any any -> any any (http.uri; content:\"a\"; pkt_data; "
                            "content:\"b\"; sid:102;)\n");
    struct sig_load l;
    sig_load_ok(&l, text);
    for (size_t i = 0; i < VG_ARRAY_SIZE(mods); i++) {
        const struct sig_rule *r = rule_by_sid(&l, (uint32_t)(i + 1));
        cr_assert_eq(r->ncontents, 2, "%s", mods[i].kw);
        /* only the content before the modifier moves */
        cr_assert_eq(r->contents[0].buffer, mods[i].buffer, "%s", mods[i].kw);
        expect_pattern(&r->contents[0], "abc", 3);
        cr_assert_eq(r->contents[1].buffer, VG_BUF_PAYLOAD, "%s", mods[i].kw);
        cr_assert_eq(r->ngroups, 2, "%s", mods[i].kw);
        /* the buffer content is the fast pattern, though shorter */
        cr_assert_eq(r->fast, 0, "%s", mods[i].kw);
    }
    const struct sig_rule *r = rule_by_sid(&l, 100);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_URI);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_PAYLOAD);
    cr_assert_eq(r->app_stage, VG_STAGE_REQUEST);
    /* uricontent does not end the sticky buffer in force */
    r = rule_by_sid(&l, 101);
    cr_assert_eq(r->ncontents, 3);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_HOST);
    expect_pattern(&r->contents[0], "h", 1);
    expect_pattern(&r->contents[1], "g", 1);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_HTTP_HOST);
    cr_assert_eq(r->contents[2].buffer, VG_BUF_HTTP_URI);
    expect_pattern(&r->contents[2], "/u", 2);
    r = rule_by_sid(&l, 102);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_URI);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_PAYLOAD);
    sig_load_done(&l);
}

Test(rules, header_buffers_follow_the_direction)
{
    struct sig_load l;
    sig_load_ok(
        &l, "alert http any any -> any any (http.header; content:\"a\"; sid:1;)\n"
            "alert http any any -> any any (flow:to_client; http.header; content:\"a\"; sid:2;)\n"
            "alert http any any -> any any (flow:established,from_server; content:\"a\"; "
            "http_header; sid:3;)\n"
            "alert http any any -> any any (flow:to_server; http.header; content:\"a\"; sid:4;)\n"
            "alert http any any -> any any (http.cookie; content:\"c\"; http.stat_code; "
            "content:\"200\"; sid:5;)\n"
            "alert http any any -> any any (flow:to_client; http.header.raw; content:\"a\"; "
            "http.header_names; content:\"b\"; http.connection; content:\"c\"; "
            "http.content_type; content:\"d\"; http.content_len; content:\"e\"; "
            "http.start; content:\"f\"; sid:6;)\n"
            "alert http any any -> any any (file_data; content:\"x\"; sid:7;)\n"
            "alert http any any -> any any (flow:to_server; file_data; content:\"x\"; sid:8;)\n"
            "alert http any any -> any any (flow:to_client; file.data; content:\"x\"; sid:9;)\n"
            "alert http any any -> any any (http.header; content:\"a\"; http.server; "
            "content:\"nginx\"; http.uri; content:\"/\"; sid:10;)\n"
            "alert ssh any any -> any any (flow:to_client; ssh.software; content:\"x\"; "
            "sid:11;)\n"
            "alert ssh any any -> any any (ssh.proto; content:\"2.0\"; ssh.hassh.server; "
            "content:\"x\"; sid:12;)\n"
            "alert http any any -> any any (http.header; content:\"a\"; file_data; "
            "content:\"b\"; sid:13;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 1);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_HEADER);
    cr_assert_eq(r->app_stage, VG_STAGE_REQUEST);
    r = rule_by_sid(&l, 2);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_RESPONSE_HEADER);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    r = rule_by_sid(&l, 3);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_RESPONSE_HEADER);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    r = rule_by_sid(&l, 4);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_HEADER);
    r = rule_by_sid(&l, 5);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_SET_COOKIE);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_HTTP_STAT_CODE);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    r = rule_by_sid(&l, 6);
    const uint8_t resp[] = {VG_BUF_HTTP_RESPONSE_HEADER_RAW,  VG_BUF_HTTP_RESPONSE_HEADER_NAMES,
                            VG_BUF_HTTP_RESPONSE_CONNECTION,  VG_BUF_HTTP_RESPONSE_CONTENT_TYPE,
                            VG_BUF_HTTP_RESPONSE_CONTENT_LEN, VG_BUF_HTTP_RESPONSE_START};
    cr_assert_eq(r->ncontents, 6);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(r->contents[i].buffer, resp[i], "content %d", i);
    r = rule_by_sid(&l, 7);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_RESPONSE_BODY);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE_BODY);
    r = rule_by_sid(&l, 8);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_REQUEST_BODY);
    cr_assert_eq(r->app_stage, VG_STAGE_REQUEST_BODY);
    r = rule_by_sid(&l, 9);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_RESPONSE_BODY);
    r = rule_by_sid(&l, 10);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_RESPONSE_HEADER);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_HTTP_SERVER);
    cr_assert_eq(r->contents[2].buffer, VG_BUF_HTTP_URI);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    r = rule_by_sid(&l, 11);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_SSH_SOFTWARE);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    r = rule_by_sid(&l, 12);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE);
    /* file_data is not a response-only buffer: the header stays the request's */
    r = rule_by_sid(&l, 13);
    cr_assert_eq(r->contents[0].buffer, VG_BUF_HTTP_HEADER);
    cr_assert_eq(r->contents[1].buffer, VG_BUF_HTTP_RESPONSE_BODY);
    cr_assert_eq(r->app_stage, VG_STAGE_RESPONSE_BODY);
    sig_load_done(&l);
}

Test(rules, contents_are_grouped_by_buffer)
{
    struct sig_load l;
    /* suricata-verify uricontent/detect-uricontent-03, sid 2 */
    sig_load_ok(&l,
                "alert tcp any any -> any any (msg:\"Test uricontent\"; content:\"one\"; http_uri; "
                "offset:1; depth:10; content:\"one\"; offset:1; depth:10; content:\"two\"; "
                "http_uri; distance:3; within: 4; content:\"two\"; distance:1; within: 4; "
                "content:\"three\"; http_uri; distance:1; within: 6; content:\"/three\"; "
                "distance:0; within: 7; sid:2;)\n"
                "alert http any any -> any any (content:\"longer payload\"; http.uri; "
                "content:!\"x\"; sid:3;)\n");
    const struct sig_rule *r = rule_by_sid(&l, 2);
    cr_assert_eq(r->ncontents, 6);
    cr_assert_eq(r->ngroups, 2);
    cr_assert_eq(r->groups[0].buffer, VG_BUF_HTTP_URI);
    cr_assert_eq(r->groups[0].first, 0);
    cr_assert_eq(r->groups[0].n, 3);
    cr_assert(!r->groups[0].all_negated);
    cr_assert_eq(r->groups[1].buffer, VG_BUF_PAYLOAD);
    cr_assert_eq(r->groups[1].first, 3);
    cr_assert_eq(r->groups[1].n, 3);
    const char *order[] = {"one", "two", "three", "one", "two", "/three"};
    for (int i = 0; i < 6; i++)
        expect_pattern(&r->contents[i], order[i], (uint32_t)strlen(order[i]));
    /* within chains only inside a buffer */
    cr_assert_eq(r->contents[0].flags,
                 SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH | SIG_CONTENT_WITHIN_NEXT);
    cr_assert_eq(r->contents[1].flags, SIG_CONTENT_RELATIVE | SIG_CONTENT_WITHIN_NEXT);
    cr_assert_eq(r->contents[2].flags, SIG_CONTENT_RELATIVE);
    cr_assert_eq(r->contents[3].flags,
                 SIG_CONTENT_OFFSET | SIG_CONTENT_DEPTH | SIG_CONTENT_WITHIN_NEXT);
    cr_assert_eq(r->contents[5].flags, SIG_CONTENT_RELATIVE);
    cr_assert_eq(r->fast, 2); /* "three": the longest in a buffer */
    cr_assert_eq(r->app_stage, VG_STAGE_REQUEST);

    /* the only buffer content is negated: the payload one prefilters */
    r = rule_by_sid(&l, 3);
    cr_assert_eq(r->ngroups, 2);
    cr_assert_eq(r->groups[0].buffer, VG_BUF_PAYLOAD);
    cr_assert_eq(r->groups[1].buffer, VG_BUF_HTTP_URI);
    cr_assert(r->groups[1].all_negated);
    cr_assert_eq(r->fast, 0);
    cr_assert_eq(r->contents[r->fast].buffer, VG_BUF_PAYLOAD);
    sig_load_done(&l);
}

Test(rules, app_buffer_errors)
{
    expect_error("alert http any any -> any any (http_uri; content:\"a\"; sid:1;)\n",
                 "'http_uri' needs a preceding content (sid 1)");
    expect_error("alert tcp any any -> any any (http_client_body; sid:1;)\n",
                 "'http_client_body' needs a preceding content (sid 1)");
    expect_error("alert http any any -> any any (http.nonsense; content:\"a\"; sid:1;)\n",
                 "unsupported keyword 'http.nonsense' (sid 1)");
    expect_error("alert http any any -> any any (http.uri; sid:1;)\n",
                 "sticky buffer 'http.uri' is not followed by a content (sid 1)");
    expect_error("alert http any any -> any any (http.uri; http.host; content:\"a\"; sid:1;)\n",
                 "sticky buffer 'http.uri' is not followed by a content (sid 1)");
    expect_error("alert http any any -> any any (http.uri; content:\"a\"; http_uri; sid:1;)\n",
                 "'http_uri' applied to a content already in buffer 'http.uri' (sid 1)");
    expect_error("alert http any any -> any any (content:\"a\"; http_uri; http_header; sid:1;)\n",
                 "'http_header' applied to a content already in buffer 'http.uri' (sid 1)");
    expect_error("alert tls any any -> any any (http.uri; content:\"a\"; sid:1;)\n",
                 "buffer 'http.uri' cannot be used in a rule for tls (sid 1)");
    expect_error("alert tcp any any -> any any (http.uri; content:\"a\"; tls.sni; "
                 "content:\"b\"; sid:1;)\n",
                 "buffer 'tls.sni' cannot be used in a rule for http (sid 1)");
    expect_error("alert tcp any any -> any any (http.uri:x; content:\"a\"; sid:1;)\n",
                 "'http.uri' takes no value (sid 1)");
}

Test(rules, app_buffer_error_names_file_and_line)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert http any any -> any any (http.uri; content:\"a\"; sid:1;)\n"
                  "\n"
                  "alert http any any -> any any (msg:\"x\"; \\\n"
                  "    http_method; content:\"GET\"; sid:2;)\n"
                  "alert http any any -> any any (dns.answer; content:\"a\"; sid:3;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    char expected[2048];
    snprintf(expected, sizeof(expected),
             "%s:3: 'http_method' needs a preceding content (sid 2)\n"
             "%s:5: unsupported keyword 'dns.answer' (sid 3)\n",
             l.path, l.path);
    cr_assert_str_eq(l.err, expected);
    cr_assert_eq(l.st.rules_loaded, 1);
    cr_assert_eq(l.st.rules_skipped, 2);
    cr_assert_eq(l.st.app_rules, 1);
    sig_load_done(&l);
}
