/* flowbits, noalert, pass and rule order: parsing (every form, error and
 * warning), chains over packets of one flow, OR lists, isnotset, toggle,
 * unset, the per-flow cap, ordering on one packet, transactions and
 * streams, and a pass rule ending the inspection of its flow. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(flowbits, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* ---- Parsing --------------------------------------------------------------------------- */

static const struct sig_rule *rule(const struct sig_load *l, uint32_t sid)
{
    const struct sig_rule *r = sig_ruleset_find(l->rs, 1, sid);
    cr_assert_not_null(r, "no rule with sid %u", sid);
    return r;
}

/* The one-rule file text must be refused with exactly msg. */
static void expect_error(const char *text, const char *msg)
{
    struct sig_load l;
    sig_load_text(&l, text, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_skipped, 1, "%s: not refused", text);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, msg));
    sig_load_done(&l);
}

static void expect_op(const struct sig_flowbit_op *op, uint8_t cmd, uint32_t nbits,
                      const uint16_t *bits)
{
    cr_assert_eq(op->cmd, cmd);
    cr_assert_eq(op->nbits, nbits);
    for (uint32_t i = 0; i < nbits; i++)
        cr_assert_eq(op->bits[i], bits[i], "bit %u: %u, expected %u", i, op->bits[i], bits[i]);
}

Test(flowbits, parse_every_form)
{
    struct sig_load l;
    sig_load_ok(&l,
                "alert tcp any any -> any any (flowbits:set,a; flowbits:isset, b|c ; "
                "flowbits:toggle, d; flowbits: unset ,a; flowbits:ISNOTSET,e|a; flowbits:noalert; "
                "sid:1;)\n"
                "alert tcp any any -> any any (flowbits:isset,a|d; flowbits:set,b; "
                "flowbits:set,c; flowbits:set,e; noalert; sid:2;)\n"
                "alert tcp any any -> any any (content:\"x\"; sid:3;)\n");
    const struct sig_rule *r = rule(&l, 1);
    cr_assert_not_null(r->flowbits);
    cr_assert_eq(r->flowbits->nconds, 2);
    cr_assert_eq(r->flowbits->nacts, 3);
    /* names get numbers in the order they first appear */
    const uint16_t a = 0, b = 1, c = 2, d = 3, e = 4;
    expect_op(&r->flowbits->ops[0], SIG_FLOWBIT_ISSET, 2, (const uint16_t[]){b, c});
    expect_op(&r->flowbits->ops[1], SIG_FLOWBIT_ISNOTSET, 2, (const uint16_t[]){e, a});
    expect_op(&r->flowbits->ops[2], SIG_FLOWBIT_SET, 1, (const uint16_t[]){a});
    expect_op(&r->flowbits->ops[3], SIG_FLOWBIT_TOGGLE, 1, (const uint16_t[]){d});
    expect_op(&r->flowbits->ops[4], SIG_FLOWBIT_UNSET, 1, (const uint16_t[]){a});
    cr_assert_eq(r->noalert, 1);

    const struct sig_rule *r2 = rule(&l, 2);
    cr_assert_eq(r2->flowbits->nconds, 1);
    cr_assert_eq(r2->flowbits->nacts, 3);
    expect_op(&r2->flowbits->ops[0], SIG_FLOWBIT_ISSET, 2, (const uint16_t[]){a, d});
    cr_assert_eq(r2->noalert, 1);

    const struct sig_rule *r3 = rule(&l, 3);
    cr_assert_null(r3->flowbits);
    cr_assert_eq(r3->noalert, 0);
    cr_assert_eq(sig_flowbits_order_class(r), 2);
    cr_assert_eq(sig_flowbits_order_class(r3), 0);
    sig_load_done(&l);
}

Test(flowbits, parse_errors)
{
#define RULE(opts) "alert tcp any any -> any any (" opts " sid:1;)\n"
    expect_error(RULE("flowbits;"), "'flowbits' needs a value (sid 1)");
    expect_error(RULE("flowbits:bogus,a;"), "unknown flowbits command 'bogus' (set, unset, "
                                            "toggle, isset, isnotset, noalert) (sid 1)");
    expect_error(RULE("flowbits:set;"), "flowbits:set needs a flowbit name (sid 1)");
    expect_error(RULE("flowbits:isset, ;"), "flowbits:isset needs a flowbit name (sid 1)");
    expect_error(RULE("flowbits:noalert,a;"), "flowbits:noalert takes no flowbit name (sid 1)");
    expect_error(RULE("flowbits:set,a|b;"),
                 "flowbits:set takes one flowbit name: '|' works with isset and isnotset (sid 1)");
    expect_error(RULE("flowbits:unset,a|b;"), "flowbits:unset takes one flowbit name: '|' works "
                                              "with isset and isnotset (sid 1)");
    expect_error(RULE("flowbits:toggle,a|b;"), "flowbits:toggle takes one flowbit name: '|' works "
                                               "with isset and isnotset (sid 1)");
    expect_error(RULE("flowbits:isset,a||b;"), "empty flowbit name in flowbits:isset (sid 1)");
    expect_error(RULE("flowbits:isnotset,a|;"), "empty flowbit name in flowbits:isnotset (sid 1)");
    expect_error(RULE("flowbits:isset,|a;"), "empty flowbit name in flowbits:isset (sid 1)");
    expect_error(RULE("flowbits:isset,a| |b;"), "empty flowbit name in flowbits:isset (sid 1)");
    expect_error(RULE("flowbits:set,a b;"), "bad flowbit name 'a b' (sid 1)");
    expect_error(RULE("flowbits:set,a,b;"), "bad flowbit name 'a,b' (sid 1)");
    expect_error(RULE("noalert:1;"), "'noalert' takes no value (sid 1)");
#undef RULE

    /* an OR list of 65 names */
    char text[2048];
    size_t n =
        (size_t)snprintf(text, sizeof(text), "alert tcp any any -> any any (flowbits:isset,n0");
    for (int i = 1; i < 65; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "|n%d", i);
    snprintf(text + n, sizeof(text) - n, "; sid:1;)\n");
    expect_error(text, "too many flowbit names in one flowbits option (at most 64) (sid 1)");
}

Test(flowbits, registry_cap)
{
    /* 1024 rules checking 64 new names each fill the 65536 bit numbers;
     * one more name is refused. */
    size_t cap = 1100 * 1200, len = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (int r = 0; r < 1024; r++) {
        len +=
            (size_t)snprintf(text + len, cap - len, "alert tcp any any -> any any (flowbits:isset");
        for (int i = 0; i < 64; i++)
            len += (size_t)snprintf(text + len, cap - len, "%cb%d", i ? '|' : ',', r * 64 + i);
        len += (size_t)snprintf(text + len, cap - len, "; sid:%d;)\n", r + 1);
    }
    snprintf(text + len, cap - len,
             "alert tcp any any -> any any (flowbits:isset,b0|one_too_many; sid:9999;)\n");
    struct sig_load l;
    sig_load_text(&l, text, NULL);
    free(text);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 1024);
    cr_assert_eq(l.st.rules_skipped, 1);
    const char *want =
        sig_msg(l.path, 1025, "too many flowbit names in the rule set (at most 65536) (sid 9999)");
    cr_assert_not_null(strstr(l.err, want), "missing: %s", want);
    sig_load_done(&l);
}

Test(flowbits, usage_warnings)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (flowbits:isset,never_set; sid:1;)\n"
                  "alert tcp any any -> any any (flowbits:set,never_checked; sid:2;)\n"
                  "alert tcp any any -> any any (flowbits:set,ok; sid:3;)\n"
                  "alert tcp any any -> any any (flowbits:isnotset,ok; sid:4;)\n"
                  "alert tcp any any -> any any (flowbits:unset,only_unset; sid:5;)\n"
                  "alert tcp any any -> any any (flowbits:toggle,tog; flowbits:isset,tog; "
                  "sid:6;)\n"
                  "alert tcp any any -> any any (flowbits:isset,in_bad_rule; xyzzy; sid:7;)\n"
                  "alert tcp any any -> any any (flowbits:isset,never_set|ok; sid:8;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 7);
    cr_assert_eq(l.st.rules_skipped, 1);
    /* the error of the skipped rule while reading, then one warning per
     * bit at its first use, once every file is read */
    char want[1024];
    snprintf(want, sizeof(want),
             "%s:7: unsupported keyword 'xyzzy' (sid 7)\n"
             "%s:1: warning: flowbit 'never_set' is checked but never set (sid 1)\n"
             "%s:2: warning: flowbit 'never_checked' is set but never checked (sid 2)\n",
             l.path, l.path, l.path);
    cr_assert_str_eq(l.err, want);
    sig_load_done(&l);
}

Test(flowbits, usage_spans_files)
{
    const char *files[] = {
        sig_write_file("a.rules", "alert tcp any any -> any any (flowbits:set,x; sid:1;)\n"),
        sig_write_file("b.rules", "alert tcp any any -> any any (flowbits:isset,x; sid:2;)\n"),
    };
    struct sig_load l;
    sig_load_files(&l, files, 2, NULL, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_empty(l.err, "unexpected: %s", l.err);
    cr_assert_eq(l.st.rules_loaded, 2);
    sig_load_done(&l);
}

/* ---- Rule order ------------------------------------------------------------------------- */

Test(flowbits, rule_order)
{
    struct sig_load l;
    sig_load_text(&l,
                  "alert tcp any any -> any any (priority:1; sid:1;)\n"
                  "alert tcp any any -> any any (priority:3; sid:2;)\n"
                  "alert tcp any any -> any any (flowbits:isset,g; priority:3; sid:10;)\n"
                  "alert tcp any any -> any any (flowbits:isset,f; flowbits:set,g; sid:20;)\n"
                  "alert tcp any any -> any any (flowbits:set,f; priority:4; sid:30;)\n"
                  "alert tcp any any -> any any (flowbits:set,f; priority:2; sid:31;)\n"
                  "alert tcp any any -> any any (flowbits:noalert; sid:32;)\n"
                  "reject tcp any any -> any any (sid:45;)\n"
                  "drop tcp any any -> any any (sid:46;)\n"
                  "pass tcp any any -> any any (priority:9; sid:99;)\n",
                  NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 10);
    /* pass, drop, reject, alert; then set only, set and read, read only,
     * no flowbits; then priority; then sid */
    const uint32_t order[] = {99, 46, 45, 31, 30, 20, 10, 1, 2, 32};
    for (uint32_t i = 0; i < VG_ARRAY_SIZE(order); i++)
        cr_assert_eq(l.rs->rules[i].meta.sid, order[i], "rank %u: sid %u, expected %u", i,
                     l.rs->rules[i].meta.sid, order[i]);
    sig_load_done(&l);
}

/* ---- Packets ------------------------------------------------------------------------------ */

static struct vg_packet tcp_from(const char *src, const char *payload)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert_eq(vg_ip_addr_parse("203.0.113.5", &p.dst), 4);
    p.proto = IPPROTO_TCP;
    p.sport = 40000;
    p.dport = 80;
    p.flags = VG_PKT_HAS_L4;
    p.tcp_flags = 0x18;
    p.payload = (const uint8_t *)payload;
    p.payload_len = (uint32_t)strlen(payload);
    p.caplen = p.wirelen = 54 + p.payload_len;
    return p;
}

#define FLOW_FLAGS (VG_DF_HAS_FLOW | VG_DF_TOSERVER | VG_DF_ESTABLISHED)

/* The alerts of one packet of the flow vars (NULL: no flow). */
static struct sig_alerts run_on(struct sig_engine *e, struct vg_flow_vars *vars,
                                const char *payload)
{
    struct sig_alerts a;
    memset(&a, 0, sizeof(a));
    vg_detect_set_flow(e->ctx, vars, vars != NULL ? 7 : 0);
    struct vg_packet p = tcp_from("192.168.1.10", payload);
    uint32_t n = vg_detect_packet(e->ctx, &p, vars != NULL ? FLOW_FLAGS : 0, sig_collect, &a);
    cr_assert_eq(n, a.n);
    return a;
}

static void expect_sids(struct sig_engine *e, struct vg_flow_vars *vars, const char *payload,
                        const uint32_t *sids, uint32_t n)
{
    struct sig_alerts a = run_on(e, vars, payload);
    cr_assert_eq(a.n, n, "'%s': %u alerts (first sid %u), expected %u", payload, a.n, a.sid[0], n);
    for (uint32_t i = 0; i < n; i++)
        cr_assert_eq(a.sid[i], sids[i], "'%s': alert %u is sid %u, expected %u", payload, i,
                     a.sid[i], sids[i]);
}

#define EXPECT(e, vars, payload, ...)                                                              \
    do {                                                                                           \
        const uint32_t want_[] = {__VA_ARGS__};                                                    \
        expect_sids((e), (vars), (payload), want_, VG_ARRAY_SIZE(want_));                          \
    } while (0)
#define EXPECT_NONE(e, vars, payload) expect_sids((e), (vars), (payload), NULL, 0)

Test(flowbits, chain_over_packets)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"LOGIN\"; flowbits:set,logged_in; "
                         "flowbits:noalert; sid:10;)\n"
                         "alert tcp any any -> any any (content:\"CMD\"; flowbits:isset,logged_in; "
                         "sid:11;)\n");
    struct vg_flow_vars flow_a = {0}, flow_b = {0};
    EXPECT_NONE(&e, &flow_a, "CMD ls");
    EXPECT_NONE(&e, &flow_a, "LOGIN bob"); /* noalert, but the bit is set */
    cr_assert_eq(flow_a.nbits, 1);
    EXPECT(&e, &flow_a, "CMD ls", 11);
    EXPECT(&e, &flow_a, "CMD rm", 11);
    /* another flow, and no flow, do not see it */
    EXPECT_NONE(&e, &flow_b, "CMD ls");
    EXPECT_NONE(&e, NULL, "CMD ls");
    EXPECT_NONE(&e, NULL, "LOGIN eve");
    EXPECT_NONE(&e, NULL, "CMD ls");
    cr_assert_eq(flow_b.nbits, 0);
    sig_engine_stop(&e);
}

Test(flowbits, or_lists)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"SETA\"; flowbits:set,a; noalert; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"SETB\"; flowbits:set,b; noalert; "
                     "sid:2;)\n"
                     "alert tcp any any -> any any (content:\"ANY\"; flowbits:isset,a|b; sid:3;)\n"
                     "alert tcp any any -> any any (content:\"NOTALL\"; flowbits:isnotset,a|b; "
                     "sid:4;)\n");
    struct vg_flow_vars f = {0};
    EXPECT_NONE(&e, &f, "ANY");
    EXPECT(&e, &f, "NOTALL", 4);
    EXPECT_NONE(&e, &f, "SETB");
    EXPECT(&e, &f, "ANY", 3);
    EXPECT(&e, &f, "NOTALL", 4); /* a is still not set */
    EXPECT_NONE(&e, &f, "SETA");
    EXPECT(&e, &f, "ANY", 3);
    EXPECT_NONE(&e, &f, "NOTALL"); /* both set */
    /* without a flow no flowbit test holds, isnotset included (as Suricata) */
    EXPECT_NONE(&e, NULL, "ANY");
    EXPECT_NONE(&e, NULL, "NOTALL");
    sig_engine_stop(&e);
}

Test(flowbits, isnotset_toggle_unset)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert tcp any any -> any any (content:\"SET\"; flowbits:set,t; noalert; sid:1;)\n"
            "alert tcp any any -> any any (content:\"TOG\"; flowbits:toggle,t; noalert; "
            "sid:2;)\n"
            "alert tcp any any -> any any (content:\"UNS\"; flowbits:unset,t; noalert; "
            "sid:3;)\n"
            "alert tcp any any -> any any (content:\"CHK\"; flowbits:isset,t; sid:4;)\n"
            "alert tcp any any -> any any (content:\"CHK\"; flowbits:isnotset,t; sid:5;)\n");
    struct vg_flow_vars f = {0};
    EXPECT(&e, &f, "CHK", 5);
    EXPECT_NONE(&e, &f, "TOG"); /* off -> on */
    EXPECT(&e, &f, "CHK", 4);
    EXPECT_NONE(&e, &f, "TOG"); /* on -> off */
    EXPECT(&e, &f, "CHK", 5);
    EXPECT_NONE(&e, &f, "SET");
    EXPECT_NONE(&e, &f, "SET"); /* setting twice keeps one bit */
    cr_assert_eq(f.nbits, 1);
    EXPECT(&e, &f, "CHK", 4);
    EXPECT_NONE(&e, &f, "UNS");
    EXPECT(&e, &f, "CHK", 5);
    EXPECT_NONE(&e, &f, "UNS"); /* unsetting an unset bit does nothing */
    cr_assert_eq(f.nbits, 0);
    /* without a flow the actions do nothing and the tests fail */
    EXPECT_NONE(&e, NULL, "SET");
    EXPECT_NONE(&e, NULL, "CHK");
    sig_engine_stop(&e);
}

Test(flowbits, noalert_keyword_still_sets)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"A\"; flowbits:set,x; noalert; "
                     "sid:1;)\n"
                     "alert tcp any any -> any any (content:\"B\"; flowbits:isset,x; "
                     "flowbits:noalert; flowbits:set,y; sid:2;)\n"
                     "alert tcp any any -> any any (content:\"C\"; flowbits:isset,y; sid:3;)\n");
    struct vg_flow_vars f = {0};
    EXPECT_NONE(&e, &f, "A");
    EXPECT_NONE(&e, &f, "B");
    EXPECT(&e, &f, "C", 3);
    sig_engine_stop(&e);
}

Test(flowbits, actions_only_when_the_rule_matches)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"GO\"; content:\"NOW\"; distance:0; "
                     "flowbits:set,x; noalert; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"CHK\"; flowbits:isset,x; sid:2;)\n");
    struct vg_flow_vars f = {0};
    EXPECT_NONE(&e, &f, "NOW GO"); /* the fast pattern matched, the rule did not */
    EXPECT_NONE(&e, &f, "CHK");
    EXPECT_NONE(&e, &f, "GO NOW");
    EXPECT(&e, &f, "CHK", 2);
    sig_engine_stop(&e);
}

Test(flowbits, same_packet_order)
{
    /* the checker has the lower sid and a better priority; the setter
     * still runs first, and both alert on one packet in rule order */
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"X\"; flowbits:isset,f; "
                         "priority:1; sid:1;)\n"
                         "alert tcp any any -> any any (content:\"X\"; flowbits:isset,g; "
                         "flowbits:set,f; sid:2;)\n"
                         "alert tcp any any -> any any (content:\"X\"; flowbits:set,g; sid:3;)\n");
    struct vg_flow_vars f = {0};
    EXPECT(&e, &f, "X", 3, 2, 1);
    struct vg_flow_vars fresh = {0};
    EXPECT(&e, &fresh, "XX", 3, 2, 1);
    sig_engine_stop(&e);
}

Test(flowbits, cap_per_flow)
{
    char rules[8192];
    size_t n = 0;
    for (int i = 1; i <= VG_FLOWBITS_PER_FLOW + 1; i++)
        n += (size_t)snprintf(rules + n, sizeof(rules) - n,
                              "alert tcp any any -> any any (content:\"FILL\"; flowbits:set,b%d; "
                              "noalert; sid:%d;)\n",
                              i, i);
    n += (size_t)snprintf(rules + n, sizeof(rules) - n,
                          "alert tcp any any -> any any (content:\"ALL\"; flowbits:isset,b1");
    for (int i = 2; i <= VG_FLOWBITS_PER_FLOW + 1; i++)
        n += (size_t)snprintf(rules + n, sizeof(rules) - n, "|b%d", i);
    snprintf(rules + n, sizeof(rules) - n,
             "; sid:100;)\n"
             "alert tcp any any -> any any (content:\"C15\"; flowbits:isset,b15; sid:115;)\n"
             "alert tcp any any -> any any (content:\"C16\"; flowbits:isset,b16; sid:116;)\n"
             "alert tcp any any -> any any (content:\"FREE\"; flowbits:unset,b1; noalert; "
             "sid:200;)\n"
             "alert tcp any any -> any any (content:\"MORE\"; flowbits:set,b16; noalert; "
             "sid:201;)\n");
    struct sig_engine e;
    sig_engine_start(&e, rules);
    struct vg_detect_flowbit_stats st;
    vg_detect_ctx_flowbit_stats(e.ctx, &st);
    cr_assert_eq(st.set_refused, 0);

    struct vg_flow_vars f = {0};
    EXPECT_NONE(&e, &f, "FILL");
    cr_assert_eq(f.nbits, VG_FLOWBITS_PER_FLOW);
    vg_detect_ctx_flowbit_stats(e.ctx, &st);
    cr_assert_eq(st.set_refused, 1); /* b16 came last, in sid order */
    EXPECT(&e, &f, "C15", 115);
    EXPECT_NONE(&e, &f, "C16");
    /* bits already set are not refused again */
    EXPECT_NONE(&e, &f, "FILL");
    vg_detect_ctx_flowbit_stats(e.ctx, &st);
    cr_assert_eq(st.set_refused, 2); /* only b16 again */
    /* an unset makes room */
    EXPECT_NONE(&e, &f, "FREE");
    EXPECT_NONE(&e, &f, "MORE");
    EXPECT(&e, &f, "C16", 116);
    vg_detect_ctx_flowbit_stats(e.ctx, &st);
    cr_assert_eq(st.set_refused, 2);
    sig_engine_stop(&e);
}

/* ---- Transactions and streams ------------------------------------------------------------ */

static struct sig_alerts run_tx(struct sig_engine *e, struct vg_flow_vars *vars,
                                const struct vg_app_tx *tx)
{
    struct sig_alerts a;
    memset(&a, 0, sizeof(a));
    vg_detect_set_flow(e->ctx, vars, 9);
    struct vg_packet p = tcp_from("192.168.1.10", "");
    uint32_t flags = VG_DF_HAS_FLOW | VG_DF_ESTABLISHED |
                     (tx->dir == VG_DIR_TOSERVER ? VG_DF_TOSERVER : VG_DF_TOCLIENT);
    uint32_t n = vg_detect_app(e->ctx, tx, &p, flags, sig_collect, &a);
    cr_assert_eq(n, a.n);
    return a;
}

Test(flowbits, transactions)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert http any any -> any any (http.uri; content:\"/login\"; "
                         "flowbits:set,login; noalert; sid:1;)\n"
                         "alert http any any -> any any (http.stat_code; content:\"200\"; "
                         "flowbits:isset,login; sid:2;)\n");
    struct vg_app_tx req = sig_http_tx(VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&req, VG_BUF_HTTP_URI, "/index.html");
    struct vg_app_tx resp = sig_http_tx(VG_STAGE_RESPONSE, VG_DIR_TOCLIENT);
    sig_set_buf(&resp, VG_BUF_HTTP_STAT_CODE, "200");

    struct vg_flow_vars f = {0};
    cr_assert_eq(run_tx(&e, &f, &req).n, 0);
    cr_assert_eq(run_tx(&e, &f, &resp).n, 0);
    sig_set_buf(&req, VG_BUF_HTTP_URI, "/login");
    cr_assert_eq(run_tx(&e, &f, &req).n, 0);
    struct sig_alerts a = run_tx(&e, &f, &resp);
    cr_assert_eq(a.n, 1);
    cr_assert_eq(a.sid[0], 2);
    /* another flow's response */
    struct vg_flow_vars other = {0};
    cr_assert_eq(run_tx(&e, &other, &resp).n, 0);
    sig_engine_stop(&e);
}

static uint32_t feed(struct sig_engine *e, struct vg_flow_vars *vars, struct vg_detect_stream *s,
                     const char *data, uint64_t off, struct sig_alerts *a)
{
    vg_detect_set_flow(e->ctx, vars, 5);
    struct vg_packet p = tcp_from("192.168.1.10", data);
    const uint32_t before = a->n;
    uint32_t n = vg_detect_stream_data(e->ctx, s, (const uint8_t *)data, (uint32_t)strlen(data),
                                       off, 0, &p, FLOW_FLAGS | VG_DF_STREAM, sig_collect, a);
    cr_assert_eq(n, a->n - before);
    return n;
}

Test(flowbits, streams)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"USER\"; flowbits:set,user; "
                         "noalert; sid:1;)\n"
                         "alert tcp any any -> any any (content:\"PASS\"; flowbits:isset,user; "
                         "sid:2;)\n");
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 4), 0);
    struct vg_flow_vars f = {0};
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    cr_assert_not_null(s);
    struct sig_alerts a = {0};
    cr_assert_eq(feed(&e, &f, s, "PASS x\r\n", 0, &a), 0);
    cr_assert_eq(feed(&e, &f, s, "USER bob\r\n", 8, &a), 0);
    cr_assert_eq(f.nbits, 1);
    cr_assert_eq(feed(&e, &f, s, "PASS y\r\n", 18, &a), 1);
    cr_assert_eq(a.sid[0], 2);
    /* the packets of the same flow see the bit too */
    struct sig_alerts pa = run_on(&e, &f, "PASS z");
    cr_assert_eq(pa.n, 1);
    cr_assert_eq(pa.sid[0], 2);
    vg_detect_stream_close(e.ctx, s);
    sig_engine_stop(&e);
}

/* ---- pass ------------------------------------------------------------------------------------ */

Test(flowbits, pass_ends_the_flow)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "pass tcp any any -> any any (content:\"TRUSTED\"; priority:255; sid:99;)\n"
                     "alert tcp any any -> any any (content:\"BAD\"; priority:1; sid:1;)\n"
                     "alert http any any -> any any (http.uri; content:\"/bad\"; sid:2;)\n"
                     "alert tcp any any -> any any (content:\"EVIL\"; sid:3;)\n");
    struct vg_flow_vars f = {0}, other = {0};
    /* the pass rule comes first on the packet that matches both */
    EXPECT_NONE(&e, &f, "BAD TRUSTED");
    cr_assert_eq(f.passed, 1);
    cr_assert_eq(other.passed, 0);
    /* later packets of the flow are not inspected ... */
    EXPECT_NONE(&e, &f, "BAD");
    /* ... nor its transactions ... */
    struct vg_app_tx req = sig_http_tx(VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&req, VG_BUF_HTTP_URI, "/bad");
    cr_assert_eq(run_tx(&e, &f, &req).n, 0);
    cr_assert_eq(run_tx(&e, &other, &req).n, 1);
    /* ... nor its streams */
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 2), 0);
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    cr_assert_not_null(s);
    struct sig_alerts a = {0};
    cr_assert_eq(feed(&e, &f, s, "EVIL BAD", 0, &a), 0);
    vg_detect_stream_close(e.ctx, s);
    s = vg_detect_stream_open(e.ctx);
    cr_assert_eq(feed(&e, &other, s, "EVIL", 0, &a), 1);
    vg_detect_stream_close(e.ctx, s);
    /* other flows still alert */
    EXPECT(&e, &other, "BAD", 1);
    /* without a flow, pass ends only the packet */
    EXPECT_NONE(&e, NULL, "TRUSTED BAD");
    EXPECT(&e, NULL, "BAD", 1);
    sig_engine_stop(&e);
}

Test(flowbits, pass_in_a_stream_ends_the_flow)
{
    struct sig_engine e;
    sig_engine_start(&e, "pass tcp any any -> any any (content:\"HELLO\"; sid:99;)\n"
                         "alert tcp any any -> any any (content:\"EVIL\"; sid:1;)\n");
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 2), 0);
    struct vg_flow_vars f = {0};
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    struct sig_alerts a = {0};
    /* the matches of one chunk are judged in rule order: pass first, even
     * though EVIL comes first in the bytes */
    cr_assert_eq(feed(&e, &f, s, "EVIL HELLO", 0, &a), 0);
    cr_assert_eq(f.passed, 1);
    cr_assert_eq(feed(&e, &f, s, "EVIL again", 10, &a), 0);
    EXPECT_NONE(&e, &f, "EVIL");
    vg_detect_stream_close(e.ctx, s);
    sig_engine_stop(&e);
}

Test(flowbits, stream_chunk_runs_setter_before_checker)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"CHECK\"; flowbits:isset,s; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"SETTER\"; flowbits:set,s; noalert; "
                     "sid:2;)\n");
    cr_assert_eq(vg_detect_ctx_streams(e.ctx, 2), 0);
    struct vg_flow_vars f = {0};
    struct vg_detect_stream *s = vg_detect_stream_open(e.ctx);
    struct sig_alerts a = {0};
    /* the checker's pattern ends first in the chunk; the setter still runs first */
    cr_assert_eq(feed(&e, &f, s, "CHECK SETTER", 0, &a), 1);
    cr_assert_eq(a.sid[0], 1);
    vg_detect_stream_close(e.ctx, s);
    sig_engine_stop(&e);
}

Test(flowbits, pass_rule_sets_flowbits)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "pass tcp any any -> any any (content:\"OK\"; flowbits:set,ok; sid:9;)\n"
                     "alert tcp any any -> any any (content:\"OK\"; flowbits:isset,ok; sid:1;)\n");
    struct vg_flow_vars f = {0};
    EXPECT_NONE(&e, &f, "OK");
    cr_assert_eq(f.nbits, 1);
    cr_assert_eq(f.passed, 1);
    sig_engine_stop(&e);
}
