/* The pcre keyword: its flags (PCRE2 options, relative, buffer flags), its
 * error messages, matching on packets and transactions, the match limit,
 * and pcre-only rules prefiltered through Hyperscan. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(pcre, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

/* ---- Helpers --------------------------------------------------------------------- */

static void expect_error_cfg(const char *rule, const char *msg, const struct vg_config *cfg)
{
    struct sig_load l;
    sig_load_text(&l, rule, cfg);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, msg), "rule: %sgot: %s", rule, l.err);
    cr_assert_eq(l.st.rules_loaded, 0);
    cr_assert_eq(l.st.rules_skipped, 1);
    sig_load_done(&l);
}

static void expect_error(const char *rule, const char *msg)
{
    expect_error_cfg(rule, msg, NULL);
}

static const struct sig_rule *rule_by_sid(const struct sig_load *l, uint32_t sid)
{
    const struct sig_rule *r = sig_ruleset_find(l->rs, 1, sid);
    cr_assert_not_null(r, "sid %u not loaded", sid);
    return r;
}

/* The only pcre element of a rule. */
static const struct sig_content *pcre_elem(const struct sig_rule *r)
{
    const struct sig_content *found = NULL;
    for (uint32_t i = 0; i < r->ncontents; i++) {
        if (r->contents[i].kind == SIG_ELEM_PCRE) {
            cr_assert_null(found, "more than one pcre");
            found = &r->contents[i];
        }
    }
    cr_assert_not_null(found, "no pcre element");
    return found;
}

static uint32_t compile_options(const struct sig_content *e)
{
    const struct sig_pcre *p = e->ext;
    uint32_t opts = 0;
    cr_assert_eq(pcre2_pattern_info((const pcre2_code *)p->code, PCRE2_INFO_ARGOPTIONS, &opts), 0);
    return opts;
}

static struct vg_packet tcp_len(const char *payload, uint32_t len)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse("192.168.1.10", &p.src);
    cr_assert_eq(vg_ip_addr_parse("203.0.113.5", &p.dst), 4);
    p.proto = IPPROTO_TCP;
    p.sport = 40000;
    p.dport = 80;
    p.flags = VG_PKT_HAS_L4;
    p.payload = (const uint8_t *)payload;
    p.payload_len = len;
    p.caplen = p.wirelen = 40 + len;
    return p;
}

static struct vg_packet tcp(const char *payload)
{
    return tcp_len(payload, (uint32_t)strlen(payload));
}

/* The sids a packet raises, in order, as "1,2,3" ("" for none). */
static const char *packet_sids(struct sig_engine *e, const struct vg_packet *p)
{
    static char out[256];
    struct sig_alerts a = {.n = 0};
    uint32_t n = vg_detect_packet(e->ctx, p, 0, sig_collect, &a);
    cr_assert_eq(n, a.n);
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

#define TO_SERVER (VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOSERVER)
#define TO_CLIENT (VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOCLIENT)

static const char *tx_sids(struct sig_engine *e, const struct vg_app_tx *tx, uint32_t flow_flags)
{
    static char out[256];
    struct vg_packet p = tcp("");
    struct sig_alerts a = {.n = 0};
    uint32_t n = vg_detect_app(e->ctx, tx, &p, flow_flags, sig_collect, &a);
    cr_assert_eq(n, a.n);
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

/* ---- Parsing ----------------------------------------------------------------------- */

Test(pcre, pcre_option_flags)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (pcre:\"/a/\"; sid:1;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/i\"; sid:2;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/s\"; sid:3;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/m\"; sid:4;)\n"
                    "alert tcp any any -> any any (pcre:\"/a b/x\"; sid:5;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/A\"; sid:6;)\n"
                    "alert tcp any any -> any any (pcre:\"/a$/E\"; sid:7;)\n"
                    "alert tcp any any -> any any (pcre:\"/a+/G\"; sid:8;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/ismxAEG\"; sid:9;)\n"
                    "alert tcp any any -> any any (pcre:\"/a/B\"; sid:10;)\n");
    const uint32_t want[] = {
        0,
        PCRE2_CASELESS,
        PCRE2_DOTALL,
        PCRE2_MULTILINE,
        PCRE2_EXTENDED,
        PCRE2_ANCHORED,
        PCRE2_DOLLAR_ENDONLY,
        PCRE2_UNGREEDY,
        PCRE2_CASELESS | PCRE2_DOTALL | PCRE2_MULTILINE | PCRE2_EXTENDED | PCRE2_ANCHORED |
            PCRE2_DOLLAR_ENDONLY | PCRE2_UNGREEDY,
        0,
    };
    for (uint32_t sid = 1; sid <= 10; sid++) {
        const struct sig_content *e = pcre_elem(rule_by_sid(&l, sid));
        cr_assert_eq(compile_options(e), want[sid - 1], "sid %u: options %#x", sid,
                     compile_options(e));
        cr_assert_eq(e->buffer, VG_BUF_PAYLOAD);
        cr_assert_eq(e->flags, 0u, "sid %u", sid);
        const struct sig_pcre *p = e->ext;
        cr_assert_not(p->relative);
        cr_assert_not(p->no_limit);
        cr_assert_eq(p->match_limit, 3500u);
        cr_assert_eq(p->depth_limit, 1500u);
    }
    cr_assert_str_eq(((const struct sig_pcre *)pcre_elem(rule_by_sid(&l, 5))->ext)->source, "a b");
    sig_load_done(&l);
}

Test(pcre, relative_negated_and_limit_flags)
{
    struct sig_load l;
    sig_load_ok(&l, "alert tcp any any -> any any (content:\"x\"; pcre:\"/a/R\"; sid:1;)\n"
                    "alert tcp any any -> any any (content:\"x\"; pcre:!\"/a/\"; sid:2;)\n"
                    "alert tcp any any -> any any (content:\"x\"; pcre: ! \"/a/RO\"; sid:3;)\n"
                    "alert tcp any any -> any any (pcre:\"/(?P<flow_ua>.*)\\r\\n(?P<pkt_x>b)/\"; "
                    "sid:4;)\n");
    const struct sig_content *e = pcre_elem(rule_by_sid(&l, 1));
    cr_assert_eq(e->flags, SIG_ELEM_RELATIVE);
    cr_assert(((const struct sig_pcre *)e->ext)->relative);
    e = pcre_elem(rule_by_sid(&l, 2));
    cr_assert_eq(e->flags, SIG_CONTENT_NEGATED);
    e = pcre_elem(rule_by_sid(&l, 3));
    cr_assert_eq(e->flags, SIG_CONTENT_NEGATED | SIG_ELEM_RELATIVE);
    cr_assert(((const struct sig_pcre *)e->ext)->no_limit);
    e = pcre_elem(rule_by_sid(&l, 4));
    cr_assert_eq(((const struct sig_pcre *)e->ext)->ovector_pairs, 3u);
    sig_load_done(&l);
}

Test(pcre, buffer_flags)
{
    static const struct {
        char flag;
        enum vg_buffer to_server, to_client;
    } cases[] = {
        {'U', VG_BUF_HTTP_URI, VG_BUF_HTTP_URI},
        {'I', VG_BUF_HTTP_URI_RAW, VG_BUF_HTTP_URI_RAW},
        {'P', VG_BUF_HTTP_REQUEST_BODY, VG_BUF_HTTP_REQUEST_BODY},
        {'Q', VG_BUF_HTTP_REQUEST_BODY, VG_BUF_HTTP_RESPONSE_BODY},
        {'H', VG_BUF_HTTP_HEADER, VG_BUF_HTTP_RESPONSE_HEADER},
        {'D', VG_BUF_HTTP_HEADER_RAW, VG_BUF_HTTP_RESPONSE_HEADER_RAW},
        {'M', VG_BUF_HTTP_METHOD, VG_BUF_HTTP_METHOD},
        {'C', VG_BUF_HTTP_COOKIE, VG_BUF_HTTP_SET_COOKIE},
        {'S', VG_BUF_HTTP_STAT_CODE, VG_BUF_HTTP_STAT_CODE},
        {'Y', VG_BUF_HTTP_STAT_MSG, VG_BUF_HTTP_STAT_MSG},
        {'V', VG_BUF_HTTP_USER_AGENT, VG_BUF_HTTP_USER_AGENT},
        {'W', VG_BUF_HTTP_HOST, VG_BUF_HTTP_HOST},
        {'Z', VG_BUF_HTTP_HOST_RAW, VG_BUF_HTTP_HOST_RAW},
    };
    for (size_t i = 0; i < VG_ARRAY_SIZE(cases); i++) {
        char rules[512];
        snprintf(rules, sizeof(rules),
                 "alert http any any -> any any (flow:to_server; pcre:\"/a/%c\"; sid:1;)\n"
                 "alert http any any -> any any (flow:to_client; pcre:\"/a/i%cR\"; sid:2;)\n",
                 cases[i].flag, cases[i].flag);
        struct sig_load l;
        sig_load_text(&l, rules, NULL);
        cr_assert_not_null(l.rs);
        /* A request-only buffer in a to_client rule is refused elsewhere;
         * only the buffer each flag selects matters here. */
        const struct sig_rule *r = sig_ruleset_find(l.rs, 1, 1);
        if (r != NULL) {
            cr_assert_eq(pcre_elem(r)->buffer, cases[i].to_server, "flag %c to_server: %u",
                         cases[i].flag, pcre_elem(r)->buffer);
            cr_assert_neq(r->app_stage, 0);
        }
        r = sig_ruleset_find(l.rs, 1, 2);
        if (r != NULL) {
            const struct sig_content *e = pcre_elem(r);
            cr_assert_eq(e->buffer, cases[i].to_client, "flag %c to_client: %u", cases[i].flag,
                         e->buffer);
            cr_assert_eq(e->flags, SIG_ELEM_RELATIVE);
            cr_assert_eq(compile_options(e), PCRE2_CASELESS);
        }
        cr_assert(sig_ruleset_find(l.rs, 1, 1) != NULL || sig_ruleset_find(l.rs, 1, 2) != NULL);
        sig_load_done(&l);
    }

    /* The same buffer twice is not a conflict; B and O change no buffer. */
    struct sig_load l;
    sig_load_ok(&l,
                "alert http any any -> any any (pcre:\"/a/UUBO\"; sid:1;)\n"
                "alert http any any -> any any (http.uri; content:\"x\"; pcre:\"/a/R\"; sid:2;)\n");
    cr_assert_eq(pcre_elem(rule_by_sid(&l, 1))->buffer, VG_BUF_HTTP_URI);
    /* Without a buffer flag the pcre inspects the sticky buffer in force. */
    cr_assert_eq(pcre_elem(rule_by_sid(&l, 2))->buffer, VG_BUF_HTTP_URI);
    sig_load_done(&l);
}

Test(pcre, errors)
{
    expect_error("alert tcp any any -> any any (pcre:/a/; sid:1;)\n",
                 "pcre must be a quoted string: /a/ (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"/a/\"x; sid:1;)\n",
                 "pcre must be a quoted string: \"/a/\"x (sid 1)");
    expect_error("alert tcp any any -> any any (pcre; sid:1;)\n", "'pcre' needs a value (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"a/i\"; sid:1;)\n",
                 "bad pcre \"a/i\": the regex must be enclosed in '/' (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"/abc\"; sid:1;)\n",
                 "bad pcre \"/abc\": the regex must be enclosed in '/' (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"\"; sid:1;)\n",
                 "bad pcre \"\": the regex must be enclosed in '/' (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"/a/iq\"; sid:1;)\n",
                 "bad pcre \"/a/iq\": unknown flag 'q' (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"/(ab/\"; sid:1;)\n",
                 "bad pcre \"/(ab/\": missing closing parenthesis at offset 3 (sid 1)");
    expect_error("alert tcp any any -> any any (pcre:\"/a{2,1}/i\"; sid:1;)\n",
                 "bad pcre \"/a{2,1}/i\": numbers out of order in {} quantifier at offset 5 "
                 "(sid 1)");
    expect_error("alert http any any -> any any (pcre:\"/a/UH\"; sid:1;)\n",
                 "bad pcre \"/a/UH\": flags 'U' and 'H' select different buffers (sid 1)");
    expect_error("alert http any any -> any any (http.uri; pcre:\"/a/H\"; sid:1;)\n",
                 "bad pcre \"/a/H\": flag 'H' conflicts with sticky buffer 'http.uri' (sid 1)");

    struct vg_config *cfg = vg_config_new();
    cr_assert_not_null(cfg);
    char why[256];
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.match-limit=lots", why, sizeof(why)), 0);
    expect_error_cfg("alert tcp any any -> any any (pcre:\"/a/\"; sid:1;)\n",
                     "bad configuration: detect.pcre.match-limit: 'lots' is not a non-negative "
                     "integer (sid 1)",
                     cfg);
    vg_config_free(cfg);
}

Test(pcre, configured_limits)
{
    struct vg_config *cfg = vg_config_new();
    cr_assert_not_null(cfg);
    char why[256];
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.match-limit=100", why, sizeof(why)), 0);
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.match-limit-recursion=50", why, sizeof(why)), 0);
    struct sig_load l;
    sig_load_text(&l, "alert tcp any any -> any any (pcre:\"/a/\"; sid:1;)\n", cfg);
    cr_assert_str_empty(l.err);
    const struct sig_pcre *p = pcre_elem(rule_by_sid(&l, 1))->ext;
    cr_assert_eq(p->match_limit, 100u);
    cr_assert_eq(p->depth_limit, 50u);
    sig_load_done(&l);

    /* O: PCRE2's own limits, unless the operator lowers the ceiling. */
    uint32_t pcre_match = 0, pcre_depth = 0;
    cr_assert_geq(pcre2_config(PCRE2_CONFIG_MATCHLIMIT, &pcre_match), 0);
    cr_assert_geq(pcre2_config(PCRE2_CONFIG_DEPTHLIMIT, &pcre_depth), 0);
    sig_load_text(&l, "alert tcp any any -> any any (pcre:\"/a/O\"; sid:1;)\n", cfg);
    p = pcre_elem(rule_by_sid(&l, 1))->ext;
    cr_assert_eq(p->match_limit, pcre_match);
    cr_assert_eq(p->depth_limit, pcre_depth);
    sig_load_done(&l);
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.override-match-limit=20000", why, sizeof(why)), 0);
    sig_load_text(&l, "alert tcp any any -> any any (pcre:\"/a/O\"; sid:1;)\n", cfg);
    p = pcre_elem(rule_by_sid(&l, 1))->ext;
    cr_assert_eq(p->match_limit, 20000u);
    sig_load_done(&l);
    vg_config_free(cfg);
}

/* A rule's O cannot lift the limit above the operator's ceiling. */
Test(pcre, override_ceiling_bounds_the_o_flag)
{
    struct vg_config *cfg = vg_config_new();
    cr_assert_not_null(cfg);
    char why[256];
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.override-match-limit=1000", why, sizeof(why)), 0);
    struct sig_engine e;
    sig_load_text(
        &e.l, "alert tcp any any -> any any (content:\"aaa\"; pcre:\"/^(a+)+$/O\"; sid:3;)\n", cfg);
    sig_engine_check(&e);
    struct vg_packet p = tcp("aaaaaaaaaaaaaaaaaaab");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    cr_assert_eq(vg_detect_ctx_pcre_limit_hits(e.ctx), 1);
    p = tcp("aaaa");
    cr_assert_str_eq(packet_sids(&e, &p), "3");
    sig_engine_stop(&e);
    vg_config_free(cfg);

    cfg = vg_config_new();
    cr_assert_not_null(cfg);
    cr_assert_eq(vg_config_set(cfg, "detect.pcre.override-match-limit=-1", why, sizeof(why)), 0);
    expect_error_cfg("alert tcp any any -> any any (pcre:\"/a/O\"; sid:1;)\n",
                     "bad configuration: detect.pcre.override-match-limit: '-1' is not a "
                     "non-negative integer (sid 1)",
                     cfg);
    vg_config_free(cfg);
}

/* ---- Matching on packets -------------------------------------------------------------- */

Test(pcre, relative_chain)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"GET \"; pcre:\"/[a-z]+\\.php/R\"; "
                     "content:\"HTTP\"; distance:1; within:5; sid:1;)\n");
    struct vg_packet p = tcp("GET /index.php HTTP/1.1");
    cr_assert_str_eq(packet_sids(&e, &p), "1");
    /* The pcre match ends at "php": HTTP must start 1 to 5 bytes later. */
    p = tcp("GET /index.php      HTTP/1.1");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    /* R: the regex is searched after GET only. */
    p = tcp("x.php GET / HTTP/1.1");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    sig_engine_stop(&e);
}

Test(pcre, anchored)
{
    struct sig_engine e;
    sig_engine_start(
        &e, "alert tcp any any -> any any (content:\"id=\"; pcre:\"/[0-9]+\\;/AR\"; sid:1;)\n"
            "alert tcp any any -> any any (pcre:\"/id/A\"; sid:2;)\n"
            "alert tcp any any -> any any (content:\"k\"; pcre:\"/^v/R\"; sid:3;)\n");
    struct vg_packet p = tcp("id=42;");
    cr_assert_str_eq(packet_sids(&e, &p), "1,2");
    p = tcp("xid= 42;");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    p = tcp("akv");
    cr_assert_str_eq(packet_sids(&e, &p), "3");
    p = tcp("ak v");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    sig_engine_stop(&e);
}

Test(pcre, negated)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"user\"; pcre:!\"/admin|root/i\"; "
                         "sid:1;)\n"
                         "alert tcp any any -> any any (content:\"user=\"; pcre:!\"/^guest/R\"; "
                         "content:\"end\"; sid:2;)\n");
    struct vg_packet p = tcp("user=bob end");
    cr_assert_str_eq(packet_sids(&e, &p), "1,2");
    p = tcp("user=ROOT end");
    cr_assert_str_eq(packet_sids(&e, &p), "2");
    p = tcp("user=guest end");
    cr_assert_str_eq(packet_sids(&e, &p), "1");
    sig_engine_stop(&e);
}

Test(pcre, nocase_and_binary)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (content:\"k\"; pcre:\"/hello world/i\"; "
                         "sid:1;)\n"
                         "alert tcp any any -> any any (content:\"k\"; pcre:\"/hello world/\"; "
                         "sid:2;)\n"
                         "alert tcp any any -> any any (content:\"k\"; pcre:\"/\\x00\\xff.k/s\"; "
                         "sid:3;)\n");
    struct vg_packet p = tcp("k HeLLo WoRLD");
    cr_assert_str_eq(packet_sids(&e, &p), "1");
    p = tcp("k hello world");
    cr_assert_str_eq(packet_sids(&e, &p), "1,2");
    const char bin[] = {'a', 0, (char)0xff, '\n', 'k'};
    p = tcp_len(bin, sizeof(bin));
    cr_assert_str_eq(packet_sids(&e, &p), "3");
    sig_engine_stop(&e);
}

Test(pcre, match_limit_is_counted)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert tcp any any -> any any (content:\"aaa\"; pcre:\"/^(a+)+$/\"; sid:1;)\n"
                     "alert tcp any any -> any any (content:\"aaa\"; pcre:!\"/^(a+)+$/\"; "
                     "sid:2;)\n"
                     "alert tcp any any -> any any (content:\"aaa\"; pcre:\"/^(a+)+$/O\"; "
                     "sid:3;)\n");
    cr_assert_eq(vg_detect_ctx_pcre_limit_hits(e.ctx), 0);
    struct vg_packet p = tcp("aaaaaaaaaaaaaaaaaaab");
    /* sid 1 and 2 give up (neither matches, negated or not); sid 3 has
     * PCRE2's own limit and finds there is no match: sid 3 is not negated. */
    cr_assert_str_eq(packet_sids(&e, &p), "");
    cr_assert_eq(vg_detect_ctx_pcre_limit_hits(e.ctx), 2);
    p = tcp("aaaa");
    cr_assert_str_eq(packet_sids(&e, &p), "1,3");
    cr_assert_eq(vg_detect_ctx_pcre_limit_hits(e.ctx), 2);
    sig_engine_stop(&e);
}

Test(pcre, prefilter_through_hyperscan)
{
    struct sig_engine e;
    sig_engine_start(&e, "alert tcp any any -> any any (pcre:\"/evil[0-9]{3}\\.exe/i\"; sid:1;)\n"
                         /* \K: Hyperscan refuses it, so the rule has no fast pattern */
                         "alert tcp any any -> any any (pcre:\"/foo\\Kbar/\"; sid:2;)\n"
                         /* a content stays the fast pattern */
                         "alert tcp any any -> any any (content:\"zz\"; pcre:\"/zz+y/\"; sid:3;)\n"
                         /* a negated pcre never prefilters */
                         "alert tcp any any -> any any (pcre:!\"/nothing/\"; dsize:>100; sid:4;)\n"
                         "alert tcp any any -> any any (pcre:\"/a b  c/x\"; sid:5;)\n");
    const struct sig_rule *r1 = sig_ruleset_find(e.l.rs, 1, 1);
    cr_assert_eq(r1->fast, 0);
    cr_assert_eq(r1->inspect, SIG_INSPECT_PACKET);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 2)->fast, -1);
    const struct sig_rule *r3 = sig_ruleset_find(e.l.rs, 1, 3);
    cr_assert_eq(r3->contents[r3->fast].kind, SIG_ELEM_CONTENT);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 4)->fast, -1);
    cr_assert_eq(sig_ruleset_find(e.l.rs, 1, 5)->fast, 0);
    cr_assert_eq(e.l.st.patterns, 3);
    cr_assert_eq(e.l.st.no_pattern_rules, 2);

    struct vg_packet p = tcp("download EVIL123.EXE now");
    cr_assert_str_eq(packet_sids(&e, &p), "1");
    p = tcp("download evil12.exe now");
    cr_assert_str_eq(packet_sids(&e, &p), "");
    p = tcp("foobar zzzy abc");
    cr_assert_str_eq(packet_sids(&e, &p), "2,3,5");
    sig_engine_stop(&e);
}

/* ---- Matching on transactions ----------------------------------------------------------- */

Test(pcre, buffer_flag_on_transaction)
{
    struct sig_engine e;
    sig_engine_start(&e,
                     "alert http any any -> any any (pcre:\"/\\/admin\\/[a-z]+\\.cgi$/U\"; "
                     "sid:1;)\n"
                     "alert http any any -> any any (flow:to_client; pcre:\"/^Server: nginx/mH\"; "
                     "sid:2;)\n"
                     "alert http any any -> any any (content:\"curl\"; http_user_agent; "
                     "pcre:\"/^\\/[0-9.]+$/RV\"; sid:3;)\n");
    /* sid 1 is prefiltered in the http.uri database. */
    const struct sig_rule *r1 = sig_ruleset_find(e.l.rs, 1, 1);
    cr_assert_eq(r1->fast, 0);
    cr_assert_eq(r1->app_stage, VG_STAGE_REQUEST);

    struct vg_app_tx req = sig_http_tx(VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&req, VG_BUF_HTTP_URI, "/admin/login.cgi");
    sig_set_buf(&req, VG_BUF_HTTP_USER_AGENT, "curl/8.1.2");
    sig_set_buf(&req, VG_BUF_PAYLOAD, "/admin/login.cgi");
    cr_assert_str_eq(tx_sids(&e, &req, TO_SERVER), "1,3");
    sig_set_buf(&req, VG_BUF_HTTP_URI, "/admin/login.cgi?x");
    sig_set_buf(&req, VG_BUF_HTTP_USER_AGENT, "curl/8.1.2 extra");
    cr_assert_str_eq(tx_sids(&e, &req, TO_SERVER), "");

    struct vg_app_tx resp = sig_http_tx(VG_STAGE_RESPONSE, VG_DIR_TOCLIENT);
    sig_set_buf(&resp, VG_BUF_HTTP_RESPONSE_HEADER, "Date: today\r\nServer: nginx/1.2\r\n");
    sig_set_buf(&resp, VG_BUF_HTTP_HEADER, "Server: nginx/1.2\r\n");
    cr_assert_str_eq(tx_sids(&e, &resp, TO_CLIENT), "2");
    sig_set_buf(&resp, VG_BUF_HTTP_RESPONSE_HEADER, "Date: today\r\nServer: apache\r\n");
    cr_assert_str_eq(tx_sids(&e, &resp, TO_CLIENT), "");
    sig_engine_stop(&e);
}

/* The rules of suricata-verify detect-pcre-05 on the request of its capture:
 * content then a relative pcre in http.header, and a content after it. */
Test(pcre, detect_pcre_05_request)
{
    struct sig_engine e;
    char path[512];
    snprintf(path, sizeof(path), "%s/pcaps/suricata-verify/detect-pcre__detect-pcre-05/test.rules",
             VG_SOURCE_ROOT);
    const char *files[] = {path};
    sig_load_files(&e.l, files, 1, NULL, NULL);
    sig_engine_check(&e);
    struct vg_app_tx req = sig_http_tx(VG_STAGE_REQUEST, VG_DIR_TOSERVER);
    sig_set_buf(&req, VG_BUF_HTTP_HEADER,
                "Host: www.emergingthreats.net\r\nUser-Agent: Mozilla/5.0 (X11; U; Linux i686)\r\n"
                "Connection: keep-alive\r\n");
    cr_assert_str_eq(tx_sids(&e, &req, TO_SERVER), "1,2");
    sig_engine_stop(&e);
}
