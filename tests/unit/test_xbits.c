/* xbits: parsing (every form and error, the usage warning, the table's
 * size), bits seen across flows per source, destination and address pair,
 * expiry in packet time, unset and toggle, rule order, the table-full
 * counter, and a chain of requests over separate connections. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(xbits, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

static void expect_error(const char *text, const char *msg)
{
    struct sig_load l;
    sig_load_text(&l, text, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_skipped, 1, "%s: not refused", text);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, msg));
    sig_load_done(&l);
}

Test(xbits, parse_every_form)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (content:\"a\"; xbits:set,x,track ip_src; "
                    "xbits: isset , y , track IP_PAIR; xbits:toggle,z,track ip_dst,expire 600; "
                    "xbits:unset,x,track ip_src; xbits:isnotset,x,track ip_dst; sid:1;)\n"
                    "alert tcp any any -> any any (content:\"b\"; xbits:set,y,track ip_pair; "
                    "xbits:isset,x,track ip_src; xbits:isset,z,track ip_dst; sid:2;)\n");
    const struct sig_rule *r = sig_ruleset_find(l.rs, 1, 1);
    cr_assert_not_null(r->xbits);
    cr_assert_eq(r->xbits->nconds, 2);
    cr_assert_eq(r->xbits->nacts, 3);
    const struct sig_xbit_op *op = r->xbits->ops;
    cr_assert_eq(op[0].cmd, SIG_FLOWBIT_ISSET);
    cr_assert_str_eq(op[0].name, "y");
    cr_assert_eq(op[0].track, SIG_XBIT_PAIR);
    cr_assert_eq(op[1].cmd, SIG_FLOWBIT_ISNOTSET);
    cr_assert_eq(op[1].track, SIG_XBIT_DST);
    cr_assert_eq(op[2].cmd, SIG_FLOWBIT_SET);
    cr_assert_eq(op[2].track, SIG_XBIT_SRC);
    cr_assert_eq(op[2].expire_s, 30); /* Suricata's default */
    cr_assert_eq(op[3].cmd, SIG_FLOWBIT_TOGGLE);
    cr_assert_eq(op[3].expire_s, 600);
    cr_assert_eq(op[4].cmd, SIG_FLOWBIT_UNSET);
    cr_assert_eq(sig_flowbits_order_class(r), 2);
    cr_assert_eq(l.st.xbits_rules, 2);
    cr_assert_eq(l.st.xbits_entries, 65536);
    cr_assert_str_empty(l.err);
    sig_load_done(&l);
}

Test(xbits, parse_errors)
{
#define R(opts) "alert tcp any any -> any any (" opts " sid:1;)\n"
    expect_error(R("xbits;"), "'xbits' needs a value (sid 1)");
    expect_error(R("xbits:set,x;"), "xbits needs a command, a name and a track: "
                                    "xbits:set,name,track ip_src[,expire 60] (sid 1)");
    expect_error(R("xbits:flip,x,track ip_src;"),
                 "unknown xbits command 'flip' (set, unset, toggle, isset, isnotset) (sid 1)");
    expect_error(R("xbits:set,a|b,track ip_src;"), "bad xbits name 'a|b' (sid 1)");
    expect_error(R("xbits:set,x,ip_src;"),
                 "xbits: expected 'track ip_src|ip_dst|ip_pair', got 'ip_src' (sid 1)");
    expect_error(R("xbits:set,x,track host;"),
                 "xbits: unknown track 'host' (ip_src, ip_dst, ip_pair) (sid 1)");
    expect_error(R("xbits:set,x,track ip_src,expires 5;"),
                 "xbits: expected 'expire <seconds>', got 'expires 5' (sid 1)");
    expect_error(R("xbits:set,x,track ip_src,expire 0;"),
                 "xbits: bad expire '0' (1 to 31536000 seconds) (sid 1)");
    expect_error(R("xbits:isset,x,track ip_src,expire 5;"), "xbits:isset takes no expire (sid 1)");
    expect_error(R("xbits:set,x,track ip_src,expire 5,more;"),
                 "xbits takes at most 4 parts: command, name, track, expire (sid 1)");
#undef R
}

Test(xbits, usage_warning_and_table_size)
{
    struct vg_config *cfg = vg_config_new();
    char why[256];
    cr_assert_eq(vg_config_set(cfg, "detect.xbits.max-entries=1000", why, sizeof(why)), 0);
    struct sig_load l;
    sig_load_text(&l, "alert tcp any any -> any any (xbits:isset,nowhere,track ip_src; sid:1;)\n",
                  cfg);
    cr_assert_eq(l.st.rules_loaded, 1);
    cr_assert_str_eq(
        l.err, sig_msg(l.path, 1, "warning: xbit 'nowhere' is checked but never set (sid 1)"));
    cr_assert_eq(l.st.xbits_entries, 1024);
    sig_load_done(&l);
    sig_load_text(&l, "alert tcp any any -> any any (xbits:set,unread,track ip_src; sid:2;)\n",
                  cfg);
    cr_assert_str_eq(l.err,
                     sig_msg(l.path, 1, "warning: xbit 'unread' is set but never checked (sid 2)"));
    sig_load_done(&l);
    cr_assert_eq(vg_config_set(cfg, "detect.xbits.max-entries=0", why, sizeof(why)), 0);
    sig_load_text(&l, "alert tcp any any -> any any (xbits:set,x,track ip_src; sid:1;)\n", cfg);
    cr_assert_null(l.rs);
    cr_assert(strstr(l.err, "detect.xbits.max-entries must be 1 to") != NULL, "%s", l.err);
    sig_load_done(&l);
    vg_config_free(cfg);
}

/* ---- Matching --------------------------------------------------------------------------- */

static struct vg_packet tcp_pkt(const char *src, const char *dst, uint64_t ts_s,
                                const char *payload)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert_eq(vg_ip_addr_parse(dst, &p.dst), p.family);
    p.proto = IPPROTO_TCP;
    p.sport = 40000;
    p.dport = 443;
    p.flags = VG_PKT_HAS_L4;
    p.tcp_flags = 0x18;
    p.payload = (const uint8_t *)payload;
    p.payload_len = (uint32_t)strlen(payload);
    p.caplen = p.wirelen = 54 + p.payload_len;
    p.ts_us = ts_s * 1000000u;
    return p;
}

/* The sids one packet raises, on a flow of its own. */
static const char *sids(struct sig_engine *e, const char *src, const char *dst, uint64_t ts_s,
                        const char *payload)
{
    static char out[128];
    static uint64_t flow_id;
    struct vg_flow_vars vars = {0};
    vg_detect_set_flow(e->ctx, &vars, ++flow_id);
    struct vg_packet p = tcp_pkt(src, dst, ts_s, payload);
    struct sig_alerts a = {0};
    const uint32_t flags = VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED;
    cr_assert_eq(vg_detect_packet(e->ctx, &p, flags, sig_collect, &a), a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

#define ATT   "198.51.100.7"
#define ATT2  "198.51.100.8"
#define BIGIP "10.0.0.10"
#define OTHER "10.0.0.11"

Test(xbits, tracks_across_flows)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"SRC\"; xbits:set,s,track ip_src; "
                         "noalert; sid:1;)\n"
                         "alert tcp any any -> any any (content:\"DST\"; xbits:set,d,track ip_dst; "
                         "noalert; sid:2;)\n"
                         "alert tcp any any -> any any (content:\"PAIR\"; xbits:set,p,track "
                         "ip_pair; noalert; sid:3;)\n"
                         "alert tcp any any -> any any (content:\"q\"; xbits:isset,s,track ip_src; "
                         "sid:11;)\n"
                         "alert tcp any any -> any any (content:\"q\"; xbits:isset,d,track ip_src; "
                         "sid:12;)\n"
                         "alert tcp any any -> any any (content:\"q\"; xbits:isset,p,track "
                         "ip_pair; sid:13;)\n"
                         "alert tcp any any -> any any (content:\"q\"; xbits:isnotset,s,track "
                         "ip_src; sid:14;)\n");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 100, "q"), "14");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 100, "SRC"), "");
    /* another flow from the same source sees it, to any destination */
    cr_assert_str_eq(sids(&e, ATT, OTHER, 101, "q"), "11");
    cr_assert_str_eq(sids(&e, ATT2, BIGIP, 101, "q"), "14");
    /* set on the request's destination, seen as the reply's source */
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 102, "DST"), "");
    cr_assert_str_eq(sids(&e, BIGIP, ATT2, 103, "q"), "12,14");
    /* a pair, in either direction, and no other pair */
    cr_assert_str_eq(sids(&e, ATT2, BIGIP, 104, "PAIR"), "");
    cr_assert_str_eq(sids(&e, BIGIP, ATT2, 105, "q"), "12,13,14");
    cr_assert_str_eq(sids(&e, ATT2, OTHER, 105, "q"), "14");
    /* IPv6 addresses are keys as well */
    cr_assert_str_eq(sids(&e, "2001:db8::7", "2001:db8::10", 106, "SRC"), "");
    cr_assert_str_eq(sids(&e, "2001:db8::7", "2001:db8::11", 106, "q"), "11");
    cr_assert_str_eq(sids(&e, "2001:db8::8", "2001:db8::11", 106, "q"), "14");
    sig_engine_stop(&e);
}

Test(xbits, expiry_unset_and_toggle)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"SET\"; xbits:set,b,track "
                         "ip_src,expire 60; noalert; sid:1;)\n"
                         "alert tcp any any -> any any (content:\"UNSET\"; xbits:unset,b,track "
                         "ip_src; noalert; sid:2;)\n"
                         "alert tcp any any -> any any (content:\"FLIP\"; xbits:toggle,b,track "
                         "ip_src,expire 60; noalert; sid:3;)\n"
                         "alert tcp any any -> any any (content:\"q\"; xbits:isset,b,track "
                         "ip_src; sid:10;)\n");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 1000, "SET"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 1059, "q"), "10");
    /* 60 s of packet time after the set, the bit is gone */
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 1060, "q"), "");
    /* a set again starts a new lifetime */
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 2000, "SET"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 2030, "SET"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 2089, "q"), "10");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 2089, "UNSET"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 2089, "q"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 3000, "FLIP"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 3000, "q"), "10");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 3001, "FLIP"), "");
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 3001, "q"), "");
    sig_engine_stop(&e);
}

/* The setter runs before the checker on one packet whatever their sids. */
Test(xbits, setter_before_checker_on_one_packet)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"go\"; xbits:isset,b,track "
                         "ip_pair; sid:1;)\n"
                         "alert tcp any any -> any any (content:\"go\"; xbits:set,b,track ip_pair; "
                         "noalert; sid:2;)\n");
    cr_assert_eq(e.l.rs->rules[0].meta.sid, 2);
    cr_assert_str_eq(sids(&e, ATT, BIGIP, 10, "go"), "1");
    sig_engine_stop(&e);
}

/* A full table drops the set, counted; the check then does not see it. */
Test(xbits, table_full_is_counted)
{
    struct vg_config *cfg = vg_config_new();
    char why[256];
    cr_assert_eq(vg_config_set(cfg, "detect.xbits.max-entries=16", why, sizeof(why)), 0);
    struct sig_engine e;
    sig_load_text(&e.l,
                  "alert tcp any any -> any any (content:\"SET\"; xbits:set,b,track ip_src,"
                  "expire 3600; noalert; sid:1;)\n"
                  "alert tcp any any -> any any (content:\"q\"; xbits:isset,b,track ip_src; "
                  "sid:2;)\n",
                  cfg);
    sig_engine_check(&e);
    char src[32];
    for (int i = 0; i < 16; i++) {
        snprintf(src, sizeof(src), "192.0.2.%d", i + 1);
        cr_assert_str_eq(sids(&e, src, BIGIP, 10, "SET"), "");
    }
    cr_assert_eq(vg_ruleset_xbits_table_full(e.l.rs), 0);
    cr_assert_str_eq(sids(&e, "192.0.2.200", BIGIP, 10, "SET"), "");
    cr_assert_eq(vg_ruleset_xbits_table_full(e.l.rs), 1);
    cr_assert_str_eq(sids(&e, "192.0.2.200", BIGIP, 11, "q"), "");
    cr_assert_str_eq(sids(&e, "192.0.2.5", BIGIP, 11, "q"), "2");
    /* once the bits have expired, their slots take new keys */
    cr_assert_str_eq(sids(&e, "192.0.2.200", BIGIP, 3611, "SET"), "");
    cr_assert_str_eq(sids(&e, "192.0.2.200", BIGIP, 3611, "q"), "2");
    cr_assert_eq(vg_ruleset_xbits_table_full(e.l.rs), 1);
    sig_engine_stop(&e);
    vg_config_free(cfg);
}
