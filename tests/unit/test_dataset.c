/* Datasets and IP reputation: each set type loaded and looked up on its
 * buffer (string on dns.query and tls.sni, md5 on ja3.hash, sha256, ipv4
 * and ip with CIDR on ip.src / ip.dst), isnotset, sets shared by rules and
 * defined in the configuration, iprep categories with each operator and
 * side, the exact error and warning messages, and reload of the lists
 * (a rewritten list swapped in, a failing one kept, lookups running on
 * another thread meanwhile). */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/flow.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(dataset, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

static void engine_start_cfg(struct sig_engine *e, const char *rules, const struct vg_config *cfg)
{
    sig_load_text(&e->l, rules, cfg);
    sig_engine_check(e);
}

static void engine_start(struct sig_engine *e, const char *rules)
{
    engine_start_cfg(e, rules, NULL);
}

static struct vg_packet packet(const char *src, const char *dst)
{
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    p.family = (uint8_t)vg_ip_addr_parse(src, &p.src);
    cr_assert(p.family == 4 || p.family == 6);
    cr_assert_eq(vg_ip_addr_parse(dst, &p.dst), p.family);
    p.proto = IPPROTO_UDP;
    p.sport = 40000;
    p.dport = 53;
    p.flags = VG_PKT_HAS_L4;
    p.caplen = p.wirelen = 60;
    return p;
}

static struct vg_app_tx tx_new(enum vg_app_proto proto)
{
    struct vg_app_tx tx;
    memset(&tx, 0, sizeof(tx));
    tx.proto = (uint8_t)proto;
    tx.stage = VG_STAGE_REQUEST;
    tx.dir = VG_DIR_TOSERVER;
    return tx;
}

#define TO_SERVER (VG_DF_HAS_FLOW | VG_DF_ESTABLISHED | VG_DF_TOSERVER)

/* The sids that alert on a transaction, as "1,2" ("" for none). */
static const char *app_sids(struct sig_engine *e, const struct vg_app_tx *tx)
{
    static char out[128];
    struct sig_alerts a = {0};
    struct vg_packet p = packet("10.0.0.1", "10.0.0.2");
    p.proto = IPPROTO_TCP; /* tls and http rules are TCP rules */
    uint32_t n = vg_detect_app(e->ctx, tx, &p, TO_SERVER, sig_collect, &a);
    cr_assert_eq(n, a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

/* The sids that alert on a packet from src to dst. */
static const char *pkt_sids(struct sig_engine *e, const char *src, const char *dst)
{
    static char out[128];
    struct sig_alerts a = {0};
    const struct vg_packet p = packet(src, dst);
    uint32_t n = vg_detect_packet(e->ctx, &p, 0, sig_collect, &a);
    cr_assert_eq(n, a.n);
    out[0] = '\0';
    for (uint32_t i = 0; i < a.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%u", i ? "," : "", a.sid[i]);
    return out;
}

static const char *dns_sids(struct sig_engine *e, const char *query)
{
    struct vg_app_tx tx = tx_new(VG_APP_DNS);
    sig_set_buf(&tx, VG_BUF_DNS_QUERY, query);
    return app_sids(e, &tx);
}

static const char *tls_sids(struct sig_engine *e, enum vg_buffer b, const char *value)
{
    struct vg_app_tx tx = tx_new(VG_APP_TLS);
    sig_set_buf(&tx, b, value);
    return app_sids(e, &tx);
}

/* evil.example.com, c2.bad.net */
#define DOMAINS_B64 "ZXZpbC5leGFtcGxlLmNvbQ==\nYzIuYmFkLm5ldA==\n"

/* ---- Set types on their buffers ------------------------------------------------------ */

Test(dataset, string_on_dns_query_and_tls_sni)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    struct sig_engine e;
    engine_start(&e, "alert dns any any -> any any (dns.query; "
                     "dataset:isset,domains,type string,load domains.lst; sid:1;)\n"
                     "alert tls any any -> any any (tls.sni; dataset:isset,domains; sid:2;)\n");
    const struct sig_rule *r = sig_ruleset_find(e.l.rs, 1, 1);
    cr_assert_eq(r->app_stage, VG_STAGE_REQUEST);
    cr_assert_eq(r->fast, -1);
    cr_assert_eq(r->contents[0].kind, SIG_ELEM_DATASET);
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1");
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    /* the whole buffer, exactly, case-sensitive */
    cr_assert_str_eq(dns_sids(&e, "Evil.example.com"), "");
    cr_assert_str_eq(dns_sids(&e, "www.evil.example.com"), "");
    cr_assert_str_eq(dns_sids(&e, "evil.example.co"), "");
    cr_assert_str_eq(dns_sids(&e, ""), "");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_TLS_SNI, "c2.bad.net"), "2");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_TLS_SNI, "example.org"), "");
    /* a transaction without the buffer */
    struct vg_app_tx tx = tx_new(VG_APP_TLS);
    cr_assert_str_eq(app_sids(&e, &tx), "");
    sig_engine_stop(&e);
}

/* Names are case-insensitive on the wire (a resolver may even randomise the
 * case, DNS 0x20): to_lowercase makes a list of lower-case names match every
 * spelling. */
Test(dataset, to_lowercase_matches_every_case)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    struct sig_engine e;
    engine_start(&e, "alert dns any any -> any any (dns.query; to_lowercase; "
                     "dataset:isset,domains,type string,load domains.lst; sid:1;)\n"
                     "alert tls any any -> any any (tls.sni; to_lowercase; "
                     "dataset:isset,domains; sid:2;)\n");
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1");
    cr_assert_str_eq(dns_sids(&e, "EvIl.ExAmPlE.cOm"), "1");
    cr_assert_str_eq(dns_sids(&e, "EVIL.EXAMPLE.COM"), "1");
    cr_assert_str_eq(dns_sids(&e, "www.evil.example.com"), "");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_TLS_SNI, "C2.Bad.Net"), "2");
    sig_engine_stop(&e);
}

Test(dataset, md5_on_ja3_hash)
{
    sig_write_file("ja3.lst", "e7d705a3286e19ea42f587b344ee6865\n"
                              "6734F37431670B3AB4292B8F60F29984\n");
    struct sig_engine e;
    engine_start(&e, "alert tls any any -> any any (ja3.hash; "
                     "dataset:isset,ja3-bl,type md5,load ja3.lst; sid:7;)\n");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "e7d705a3286e19ea42f587b344ee6865"), "7");
    /* hex digits in either case, in the list and in the buffer */
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "6734f37431670b3ab4292b8f60f29984"), "7");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "E7D705A3286E19EA42F587B344EE6865"), "7");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "e7d705a3286e19ea42f587b344ee6866"), "");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "e7d705a3286e19ea42f587b344ee686"), "");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_JA3_HASH, "z7d705a3286e19ea42f587b344ee6865"), "");
    sig_engine_stop(&e);
}

Test(dataset, sha256_on_a_buffer)
{
    const char *h = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    char list[128];
    snprintf(list, sizeof(list), "%s\n", h);
    sig_write_file("sha.lst", list);
    struct sig_engine e;
    engine_start(&e, "alert http any any -> any any (http.user_agent; "
                     "dataset:isset,ua-sha,type sha256,load sha.lst; sid:3;)\n");
    struct vg_app_tx tx = tx_new(VG_APP_HTTP);
    sig_set_buf(&tx, VG_BUF_HTTP_USER_AGENT, h);
    cr_assert_str_eq(app_sids(&e, &tx), "3");
    sig_set_buf(&tx, VG_BUF_HTTP_USER_AGENT, "Mozilla/5.0");
    cr_assert_str_eq(app_sids(&e, &tx), "");
    /* the raw digest, as a to_sha256 transform would give it */
    static const uint8_t raw[32] = {0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65,
                                    0x9a, 0x2f, 0xea, 0xa0, 0xc5, 0x5a, 0xd0, 0x15,
                                    0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b, 0x82, 0x2c,
                                    0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08};
    const struct sig_dataset_test *t = sig_ruleset_find(e.l.rs, 1, 3)->contents[0].ext;
    cr_assert(sig_dataset_contains(t->set, raw, 32));
    sig_engine_stop(&e);
}

Test(dataset, ipv4_with_cidr_on_ip_src_and_ip_dst)
{
    sig_write_file("c2.lst", "198.51.100.7\n203.0.113.0/24\n10.0.0.0/8\n10.1.2.3\n");
    struct sig_engine e;
    engine_start(&e, "alert ip any any -> any any (ip.src; "
                     "dataset:isset,c2,type ipv4,load c2.lst; sid:1;)\n"
                     "alert ip any any -> any any (ip.dst; dataset:isset,c2; sid:2;)\n");
    const struct sig_rule *r = sig_ruleset_find(e.l.rs, 1, 1);
    cr_assert_eq(r->ncontents, 0);
    cr_assert_eq(r->naddr_tests, 1);
    cr_assert_eq(r->app_stage, 0);
    cr_assert_str_eq(pkt_sids(&e, "198.51.100.7", "192.0.2.1"), "1");
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.1", "198.51.100.7"), "2");
    cr_assert_str_eq(pkt_sids(&e, "203.0.113.255", "203.0.113.0"), "1,2");
    cr_assert_str_eq(pkt_sids(&e, "10.255.255.255", "11.0.0.0"), "1");
    cr_assert_str_eq(pkt_sids(&e, "198.51.100.8", "203.0.114.0"), "");
    /* an IPv6 packet is never in an ipv4 set */
    cr_assert_str_eq(pkt_sids(&e, "2001:db8::1", "::1"), "");
    sig_engine_stop(&e);
}

Test(dataset, ip_both_families_and_isnotset)
{
    sig_write_file("ip.lst", "2001:db8::1\n2001:db8:ff00::/40\n192.0.2.9\n");
    struct sig_engine e;
    engine_start(&e, "alert ip any any -> any any (ip.src; "
                     "dataset:isset,mixed,type ip,load ip.lst; sid:1;)\n"
                     "alert ip any any -> any any (ip.dst; dataset:isnotset,mixed; sid:2;)\n");
    cr_assert_str_eq(pkt_sids(&e, "2001:db8::1", "2001:db8::1"), "1");
    cr_assert_str_eq(pkt_sids(&e, "2001:db8:ffff::5", "2001:db8::2"), "1,2");
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.9", "192.0.2.10"), "1,2");
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.10", "192.0.2.9"), "");
    sig_engine_stop(&e);
}

Test(dataset, isnotset_on_a_buffer)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    struct sig_engine e;
    engine_start(&e, "alert dns any any -> any any (dns.query; content:\"bad\"; "
                     "dataset:isnotset,known,type string,load domains.lst; sid:4;)\n");
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "");
    cr_assert_str_eq(dns_sids(&e, "other.bad.net"), "4");
    cr_assert_str_eq(dns_sids(&e, "good.net"), "");
    sig_engine_stop(&e);
}

Test(dataset, one_set_shared_by_rules_and_files)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    const char *a = sig_write_file("a.rules", "alert dns any any -> any any (dns.query; "
                                              "dataset:isset,bl,type string,load domains.lst; "
                                              "sid:1;)\n");
    const char *b = sig_write_file("b.rules", "alert dns any any -> any any (dns.query; "
                                              "dataset:isset,bl,type string,load domains.lst; "
                                              "sid:2;)\n");
    struct sig_engine e;
    const char *files[] = {a, b};
    sig_load_files(&e.l, files, 2, NULL, NULL);
    cr_assert_str_empty(e.l.err, "%s", e.l.err);
    e.ctx = vg_detect_ctx_new(e.l.rs);
    const struct sig_dataset_test *t1 = sig_ruleset_find(e.l.rs, 1, 1)->contents[0].ext;
    const struct sig_dataset_test *t2 = sig_ruleset_find(e.l.rs, 1, 2)->contents[0].ext;
    cr_assert_eq(t1->set, t2->set);
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1,2");
    sig_engine_stop(&e);
}

Test(dataset, defined_in_the_configuration)
{
    const char *list = sig_write_file("cfg.lst", "YzIuYmFkLm5ldA==\n");
    struct vg_config *cfg = vg_config_new();
    char err[256], set[600];
    cr_assert_eq(vg_config_set(cfg, "datasets.cfg-set.type=string", err, sizeof(err)), 0, "%s",
                 err);
    snprintf(set, sizeof(set), "datasets.cfg-set.load=%s", list);
    cr_assert_eq(vg_config_set(cfg, set, err, sizeof(err)), 0, "%s", err);
    struct sig_engine e;
    engine_start_cfg(
        &e, "alert dns any any -> any any (dns.query; dataset:isset,cfg-set; sid:5;)\n", cfg);
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "5");
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "");
    sig_engine_stop(&e);
    vg_config_free(cfg);
}

static char *load_error(struct sig_load *l, const char *rule, const struct vg_config *cfg);

/* A plain string list as threat-intelligence feeds hand it out: comment
 * lines, blank lines and trailing comments skipped, each entry as written. */
Test(dataset, plain_strings_and_comments)
{
    sig_write_file("plain.lst", "# C2 domains (feed of 2025-10-15)\n"
                                "\n"
                                "evil.example.com\n"
                                "  c2.bad.net   # seen 2025-09-24\n"
                                "tab.example.net\t# tab before the comment\n"
                                "not#comment.example\n");
    sig_write_file("b64.lst", "# base64, as Suricata writes it\n"
                              "ZXZpbC5leGFtcGxlLmNvbQ== # evil.example.com\n");
    struct sig_engine e;
    engine_start(&e, "alert dns any any -> any any (dns.query; "
                     "dataset:isset,plain,type string,load plain.lst,format plain; sid:1;)\n"
                     "alert dns any any -> any any (dns.query; "
                     "dataset:isset,b64,type string,load b64.lst,format base64; sid:2;)\n");
    cr_assert_str_empty(e.l.err, "%s", e.l.err);
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1,2");
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    cr_assert_str_eq(dns_sids(&e, "tab.example.net"), "1");
    /* a '#' inside an entry is part of it */
    cr_assert_str_eq(dns_sids(&e, "not#comment.example"), "1");
    cr_assert_str_eq(dns_sids(&e, "not"), "");
    cr_assert_str_eq(dns_sids(&e, "# C2 domains (feed of 2025-10-15)"), "");
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net   # seen 2025-09-24"), "");
    cr_assert_str_eq(dns_sids(&e, ""), "");
    sig_engine_stop(&e);
}

/* A list with comments only (a feed with nothing in it yet) loads, matches
 * nothing, and is no error; so does an address list. */
Test(dataset, list_of_comments_only)
{
    sig_write_file("empty.lst", "# no entries yet: add your own, one per line\n\n");
    struct sig_load l;
    char *err = load_error(&l,
                           "alert dns any any -> any any (dns.query; "
                           "dataset:isset,none-yet,type string,load empty.lst,format plain; "
                           "sid:1;)\n"
                           "alert ip any any -> any any (ip.dst; "
                           "dataset:isset,no-ips,type ip,load empty.lst; sid:2;)\n",
                           NULL);
    cr_assert_str_empty(err, "%s", err);
    cr_assert_eq(l.st.rules_loaded, 2);
    sig_load_done(&l);
}

/* datasets.<name>.load and .format in the configuration replace what the
 * rules say: an operator's own list without editing the shipped rules. */
Test(dataset, configuration_load_and_format_win_over_the_rule)
{
    sig_write_file("shipped.lst", "evil.example.com\n");
    const char *customer = sig_write_file("customer.txt", "# customer feed\nc2.bad.net\n");
    const char *b64 = sig_write_file("customer.b64", "YzIuYmFkLm5ldA==\n");
    const char *rules = "alert dns any any -> any any (dns.query; "
                        "dataset:isset,c2,type string,load shipped.lst,format plain; sid:1;)\n"
                        "alert tls any any -> any any (tls.sni; "
                        "dataset:isset,c2,type string,load shipped.lst,format plain; sid:2;)\n";
    char err[256], kv[600];

    struct vg_config *cfg = vg_config_new();
    snprintf(kv, sizeof(kv), "datasets.c2.load=%s", customer);
    cr_assert_eq(vg_config_set(cfg, kv, err, sizeof(err)), 0, "%s", err);
    struct sig_engine e;
    engine_start_cfg(&e, rules, cfg);
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    cr_assert_str_eq(tls_sids(&e, VG_BUF_TLS_SNI, "c2.bad.net"), "2");
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "");
    sig_engine_stop(&e);
    vg_config_free(cfg);

    /* a list in Suricata's format, said so in the configuration */
    cfg = vg_config_new();
    snprintf(kv, sizeof(kv), "datasets.c2.load=%s", b64);
    cr_assert_eq(vg_config_set(cfg, kv, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(vg_config_set(cfg, "datasets.c2.format=base64", err, sizeof(err)), 0, "%s", err);
    engine_start_cfg(&e, rules, cfg);
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    sig_engine_stop(&e);
    vg_config_free(cfg);

    /* a format the loader does not know */
    cfg = vg_config_new();
    cr_assert_eq(vg_config_set(cfg, "datasets.c2.format=csv", err, sizeof(err)), 0, "%s", err);
    struct sig_load l;
    char *msg = load_error(&l,
                           "alert dns any any -> any any (dns.query; "
                           "dataset:isset,c2,type string,load shipped.lst; sid:3;)\n",
                           cfg);
    cr_assert_str_eq(msg, sig_msg(l.path, 1,
                                  "dataset: unknown format 'csv' in datasets.c2.format "
                                  "(base64, plain) (sid 3)"));
    sig_load_done(&l);
    vg_config_free(cfg);
}

Test(dataset, hundred_thousand_entries)
{
    char *path;
    size_t len;
    FILE *f = open_memstream(&path, &len);
    fprintf(f, "%s/big.lst", sig_tmpdir);
    fclose(f);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    for (uint32_t i = 0; i < 100000; i++)
        fprintf(f, "%u.%u.%u.%u%s\n", 10 + i % 7, (i >> 16) & 255, (i >> 8) & 255, i & 255,
                i % 10 == 0 ? "/30" : "");
    fclose(f);
    free(path);
    struct sig_engine e;
    engine_start(&e, "alert ip any any -> any any (ip.src; "
                     "dataset:isset,big,type ipv4,load big.lst,hashsize 200000; sid:1;)\n");
    cr_assert_str_eq(pkt_sids(&e, "13.0.0.3", "1.1.1.1"), "1");     /* i = 3 */
    cr_assert_str_eq(pkt_sids(&e, "14.1.134.159", "1.1.1.1"), "1"); /* i = 99999 */
    cr_assert_str_eq(pkt_sids(&e, "13.0.0.149", "1.1.1.1"), "1");   /* i = 150: a /30 */
    cr_assert_str_eq(pkt_sids(&e, "13.0.0.13", "1.1.1.1"), "");     /* in no line */
    cr_assert_str_eq(pkt_sids(&e, "17.0.0.0", "1.1.1.1"), "");
    sig_engine_stop(&e);
}

/* ---- Address tables ---------------------------------------------------------------------- */

Test(dataset, nested_blocks_most_specific_wins)
{
    struct sig_ip_builder b = {0};
    const char *blocks[] = {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "10.1.0.0/16", "::/0"};
    const uint8_t values[] = {10, 20, 30, 25, 5};
    for (int i = 0; i < 5; i++) {
        uint8_t fam;
        sig_u128 lo, hi;
        uint32_t prefix;
        cr_assert(sig_parse_cidr(blocks[i], &fam, &lo, &hi, &prefix));
        cr_assert_eq(sig_ip_builder_add(&b, fam, lo, hi, values[i]), 0);
    }
    struct sig_ip_table t;
    cr_assert_eq(sig_ip_table_build(&b, &t), 0);
    struct vg_ip_addr a;
    const struct {
        const char *ip;
        int want;
    } cases[] = {{"10.0.0.0", 10},  {"10.1.0.0", 25}, {"10.1.2.2", 25}, {"10.1.2.3", 30},
                 {"10.1.2.4", 25},  {"10.2.0.0", 10}, {"11.0.0.0", -1}, {"9.255.255.255", -1},
                 {"ffff::ffff", 5}, {"::", 5}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int fam = vg_ip_addr_parse(cases[i].ip, &a);
        cr_assert_eq(sig_ip_table_find(&t, (uint8_t)fam, &a), cases[i].want, "%s", cases[i].ip);
    }
    cr_assert_eq(t.n4, 5);
    sig_ip_table_free(&t);
}

/* ---- IP reputation ------------------------------------------------------------------------- */

static struct vg_config *iprep_config(void)
{
    const char *cats = sig_write_file("categories.txt", "1,BadHosts,Known bad hosts\n"
                                                        "2,Google,Known google host\n"
                                                        "3,CnC,Command, and control\n");
    char cats_path[512];
    snprintf(cats_path, sizeof(cats_path), "%s", cats);
    sig_write_file("rep1.list", "192.0.2.0/24,1,20\n192.0.2.7,1,100\n198.51.100.1,3,127\n");
    sig_write_file("rep2.list", "2001:db8::/32,2,50\n203.0.113.5,1,0\n");
    struct vg_config *cfg = vg_config_new();
    char err[256], kv[700];
    snprintf(kv, sizeof(kv), "reputation-categories-file=%s", cats_path);
    cr_assert_eq(vg_config_set(cfg, kv, err, sizeof(err)), 0, "%s", err);
    snprintf(kv, sizeof(kv), "default-reputation-path=%s", sig_tmpdir);
    cr_assert_eq(vg_config_set(cfg, kv, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(vg_config_set(cfg, "reputation-files.0=rep1.list", err, sizeof(err)), 0, "%s",
                 err);
    cr_assert_eq(vg_config_set(cfg, "reputation-files.1=rep2.list", err, sizeof(err)), 0, "%s",
                 err);
    return cfg;
}

Test(dataset, iprep_operators_and_sides)
{
    struct vg_config *cfg = iprep_config();
    struct sig_engine e;
    engine_start_cfg(&e,
                     "alert ip any any -> any any (iprep:src,BadHosts,>,50; sid:1;)\n"
                     "alert ip any any -> any any (iprep:dst,BadHosts,<,30; sid:2;)\n"
                     "alert ip any any -> any any (iprep:any,CnC,=,127; sid:3;)\n"
                     "alert ip any any -> any any (iprep:both,BadHosts,>=,20; sid:4;)\n"
                     "alert ip any any -> any any (iprep:src,Google,<=,50; sid:5;)\n",
                     cfg);
    /* 192.0.2.7 scores 100 (its /32 over the /24), 192.0.2.8 scores 20 */
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.7", "192.0.2.8"), "1,2,4");
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.8", "192.0.2.7"), "4");
    /* no score in the category: no comparison holds */
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.7", "8.8.8.8"), "1");
    cr_assert_str_eq(pkt_sids(&e, "8.8.8.8", "203.0.113.5"), "2");
    cr_assert_str_eq(pkt_sids(&e, "8.8.8.8", "198.51.100.1"), "3");
    cr_assert_str_eq(pkt_sids(&e, "198.51.100.1", "8.8.8.8"), "3");
    cr_assert_str_eq(pkt_sids(&e, "2001:db8:1::1", "2001:db9::1"), "5");
    cr_assert_str_eq(pkt_sids(&e, "2001:db9::1", "2001:db8::1"), "");
    sig_engine_stop(&e);
    vg_config_free(cfg);
}

/* ---- Errors -------------------------------------------------------------------------------- */

/* Loads one rule and returns everything written to the error stream. */
static char *load_error(struct sig_load *l, const char *rule, const struct vg_config *cfg)
{
    sig_load_text(l, rule, cfg);
    cr_assert_not_null(l->rs);
    return l->err;
}

static void expect_error(const char *rule, const char *msg)
{
    struct sig_load l;
    char *err = load_error(&l, rule, NULL);
    cr_assert_str_eq(err, sig_msg(l.path, 1, msg));
    cr_assert_eq(l.st.rules_skipped, 1);
    sig_load_done(&l);
}

Test(dataset, rule_errors)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    sig_write_file("ja3.lst", "e7d705a3286e19ea42f587b344ee6865\n");
    sig_write_file("ip.lst", "192.0.2.1\n");
    expect_error("alert dns any any -> any any (dns.query; dataset:add,x; sid:1;)",
                 "dataset: unknown command 'add' (isset, isnotset) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:set,x,type string; sid:1;)",
                 "dataset: command 'set' writes to the set at run time; sets are read-only here "
                 "(isset, isnotset) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset; sid:1;)",
                 "dataset needs a command and a name: dataset:<isset|isnotset>,<name>[,type "
                 "<type>][,load <file>] (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,load domains.lst; "
                 "sid:1;)",
                 "dataset 'x': no type (give 'type string|md5|sha256|ipv4|ip' or "
                 "datasets.x.type in the configuration) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type string; sid:1;)",
                 "dataset 'x': no file to load (give 'load <file>' or datasets.x.load in the "
                 "configuration) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type sha1,load a; "
                 "sid:1;)",
                 "dataset: unknown type 'sha1' (string, md5, sha256, ipv4, ip) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type md5,color red; "
                 "sid:1;)",
                 "dataset: unknown option 'color' (type, load, format, memcap, hashsize) "
                 "(sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type string,load "
                 "domains.lst,format hex; sid:1;)",
                 "dataset: unknown format 'hex' (base64, plain) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type string,save "
                 "x.lst; sid:1;)",
                 "dataset: 'save' writes the set at run time; sets are read-only here (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type md5,load "
                 "ja3.lst,memcap lots; sid:1;)",
                 "dataset: bad memcap 'lots' (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type md5,load "
                 "ja3.lst,hashsize 0; sid:1;)",
                 "dataset: bad hashsize '0' (1 to 67108864) (sid 1)");
    expect_error("alert dns any any -> any any (dataset:isset,x,type string,load domains.lst; "
                 "sid:1;)",
                 "dataset 'x' needs a sticky buffer before it (dns.query, tls.sni, http.host, "
                 "ip.src, ...) (sid 1)");
    expect_error("alert ip any any -> any any (ip.src; dataset:isset,x,type string,load "
                 "domains.lst; sid:1;)",
                 "dataset 'x' of type string cannot inspect 'ip.src' (type ipv4 or ip) (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type ip,load ip.lst; "
                 "sid:1;)",
                 "dataset 'x' of type ip needs ip.src or ip.dst before it (sid 1)");
    expect_error("alert ip any any -> any any (ip.src; content:\"a\"; sid:1;)",
                 "only dataset may follow 'ip.src' (sid 1)");
    expect_error("alert ip any any -> any any (ip.dst; sid:1;)",
                 "sticky buffer 'ip.dst' is not followed by a content (sid 1)");
    expect_error("alert dns any any -> any any (dns.query; dataset:isset,x,type md5,load "
                 "ja3.lst,memcap 100; sid:1;)",
                 "dataset 'x': 1 entries take 152 bytes, over its memcap of 100 bytes (sid 1)");
}

Test(dataset, unreadable_list)
{
    struct sig_load l;
    char *err = load_error(&l,
                           "alert dns any any -> any any (dns.query; "
                           "dataset:isset,x,type string,load missing.lst; sid:9;)\n",
                           NULL);
    char want[1024];
    snprintf(want, sizeof(want),
             "dataset 'x': cannot read '%s/missing.lst': No such file or directory (sid 9)",
             sig_tmpdir);
    cr_assert_str_eq(err, sig_msg(l.path, 1, want));
    sig_load_done(&l);
}

Test(dataset, type_and_file_mismatch_between_rules)
{
    sig_write_file("domains.lst", DOMAINS_B64);
    sig_write_file("other.lst", DOMAINS_B64);
    struct sig_load l;
    char *err = load_error(&l,
                           "alert dns any any -> any any (dns.query; "
                           "dataset:isset,bl,type string,load domains.lst; sid:1;)\n"
                           "alert tls any any -> any any (ja3.hash; "
                           "dataset:isset,bl,type md5; sid:2;)\n"
                           "alert tls any any -> any any (tls.sni; "
                           "dataset:isset,bl,load other.lst; sid:3;)\n"
                           "alert tls any any -> any any (tls.sni; "
                           "dataset:isset,bl,format plain; sid:4;)\n",
                           NULL);
    char want[2048];
    snprintf(want, sizeof(want),
             "%s:2: dataset 'bl' is type md5 here but type string at %s:1 (sid 2)\n"
             "%s:3: dataset 'bl' loads '%s/other.lst' here but '%s/domains.lst' at %s:1 (sid 3)\n"
             "%s:4: dataset 'bl' is format plain here but format base64 at %s:1 (sid 4)\n",
             l.path, l.path, l.path, sig_tmpdir, sig_tmpdir, l.path, l.path, l.path);
    cr_assert_str_eq(err, want);
    cr_assert_eq(l.st.rules_loaded, 1);
    sig_load_done(&l);
}

Test(dataset, bad_lines_are_skipped_and_counted)
{
    const char *list = sig_write_file(
        "ja3.lst", "e7d705a3286e19ea42f587b344ee6865\nnot-a-hash\n\n# comment\n"
                   "e7d705a3286e19ea42f587b344ee686\n6734f37431670b3ab4292b8f60f29984\n");
    char list_path[512];
    snprintf(list_path, sizeof(list_path), "%s", list);
    struct sig_load l;
    char *err = load_error(&l,
                           "alert tls any any -> any any (ja3.hash; "
                           "dataset:isset,j,type md5,load ja3.lst; sid:1;)\n",
                           NULL);
    cr_assert_str_eq(err, sig_msg(list_path, 2,
                                  "warning: dataset 'j': bad md5 entry; bad lines skipped in "
                                  "this file: 2"));
    cr_assert_eq(l.st.rules_loaded, 1);
    sig_load_done(&l);
}

static void expect_iprep_error(const char *rule, const char *msg)
{
    struct vg_config *cfg = iprep_config();
    struct sig_load l;
    char *err = load_error(&l, rule, cfg);
    cr_assert_str_eq(err, sig_msg(l.path, 1, msg));
    sig_load_done(&l);
    vg_config_free(cfg);
}

Test(dataset, iprep_errors)
{
    expect_iprep_error("alert ip any any -> any any (iprep:src,Nope,>,5; sid:1;)",
                       "iprep: unknown category 'Nope' (sid 1)");
    expect_iprep_error("alert ip any any -> any any (iprep:src,CnC,!,5; sid:1;)",
                       "iprep: bad operator '!' (<, <=, >, >=, =) (sid 1)");
    expect_iprep_error("alert ip any any -> any any (iprep:src,CnC,>,128; sid:1;)",
                       "iprep: bad value '128' (0 to 127) (sid 1)");
    expect_iprep_error("alert ip any any -> any any (iprep:up,CnC,>,1; sid:1;)",
                       "iprep: bad side 'up' (src, dst, any, both) (sid 1)");
    expect_iprep_error("alert ip any any -> any any (iprep:src,CnC,>; sid:1;)",
                       "iprep needs 4 values: <src|dst|any|both>,<category>,<operator>,<value> "
                       "(sid 1)");
    struct sig_load l;
    char *err = load_error(&l, "alert ip any any -> any any (iprep:src,CnC,>,1; sid:1;)", NULL);
    cr_assert_str_eq(err, sig_msg(l.path, 1,
                                  "iprep: no reputation-categories-file in the configuration "
                                  "(sid 1)"));
    sig_load_done(&l);
}

Test(dataset, iprep_bad_lines)
{
    struct vg_config *cfg = iprep_config();
    const char *rep = sig_write_file("rep1.list", "192.0.2.1,1,5\n192.0.2.300,1,5\n"
                                                  "192.0.2.2,9,5\n192.0.2.3,1,200\n");
    char rep_path[512];
    snprintf(rep_path, sizeof(rep_path), "%s", rep);
    struct sig_load l;
    char *err = load_error(&l, "alert ip any any -> any any (iprep:src,BadHosts,=,5; sid:1;)", cfg);
    cr_assert_str_eq(err, sig_msg(rep_path, 2,
                                  "warning: iprep: bad reputation line; bad lines skipped in "
                                  "this file: 3"));
    cr_assert_eq(l.st.rules_loaded, 1);
    sig_load_done(&l);
    vg_config_free(cfg);
}

/* ---- Reload ---------------------------------------------------------------------------- */

static unsigned reload_waits;

static void count_wait(void *arg)
{
    (void)arg;
    reload_waits++;
}

/* Reloads the engine's lists; returns what was written to err. */
static char *reload(struct sig_engine *e, int want_rc, struct vg_reload_stats *st)
{
    static char *out;
    free(out);
    out = NULL;
    size_t len = 0;
    FILE *err = open_memstream(&out, &len);
    cr_assert_not_null(err);
    reload_waits = 0;
    const int rc = vg_ruleset_reload_lists(e->l.rs, err, count_wait, NULL, st);
    fclose(err);
    cr_assert_eq(rc, want_rc, "%s", out);
    cr_assert_eq(reload_waits, 1);
    return out;
}

#define RELOAD_RULES                                                                               \
    "alert dns any any -> any any (dns.query; "                                                    \
    "dataset:isset,doms,type string,format plain,load doms.lst; sid:1;)\n"                         \
    "alert ip any any -> any any (ip.src; dataset:isset,addrs,type ipv4,load addrs.lst; sid:2;)\n"

Test(dataset, reload_swaps_a_rewritten_list)
{
    sig_write_file("doms.lst", "# no domains yet\n");
    sig_write_file("addrs.lst", "192.0.2.1\n");
    struct sig_engine e;
    engine_start(&e, RELOAD_RULES);
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "");

    sig_write_file("doms.lst", "c2.bad.net\nevil.example.com\nc2.bad.net\n");
    struct vg_reload_stats st;
    cr_assert_str_empty(reload(&e, 0, &st));
    cr_assert_eq(st.datasets_reloaded, 2);
    cr_assert_eq(st.datasets_failed, 0);
    cr_assert_eq(st.entries, 3); /* two distinct domains, one address */
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1");
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.1", "192.0.2.2"), "2");

    /* an emptied list empties the set */
    sig_write_file("doms.lst", "\n");
    cr_assert_str_empty(reload(&e, 0, &st));
    cr_assert_eq(st.entries, 1);
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "");
    sig_engine_stop(&e);
}

Test(dataset, reload_keeps_a_list_that_fails)
{
    sig_write_file("doms.lst", "c2.bad.net\n");
    const char *addrs = sig_write_file("addrs.lst", "192.0.2.1\n198.51.100.0/24\n");
    char addrs_path[512];
    snprintf(addrs_path, sizeof(addrs_path), "%s", addrs);
    struct sig_engine e;
    engine_start(&e, RELOAD_RULES);
    char rules_path[512];
    snprintf(rules_path, sizeof(rules_path), "%s", e.l.path);

    /* A bad line: the whole new list is refused, the old one stays. */
    sig_write_file("addrs.lst", "203.0.113.9\nnot-an-address\n");
    sig_write_file("doms.lst", "evil.example.com\n");
    struct vg_reload_stats st;
    char *err = reload(&e, -1, &st);
    cr_assert_str_eq(err, sig_msg(addrs_path, 2,
                                  "dataset 'addrs': bad ipv4 entry; keeping the previous list "
                                  "(bad lines in this file: 1)"));
    cr_assert_eq(st.datasets_reloaded, 1);
    cr_assert_eq(st.datasets_failed, 1);
    cr_assert_eq(st.entries, 1);
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.1", "192.0.2.2"), "2");
    cr_assert_str_eq(pkt_sids(&e, "198.51.100.77", "192.0.2.2"), "2");
    cr_assert_str_eq(pkt_sids(&e, "203.0.113.9", "192.0.2.2"), "");
    /* the other set took its new list */
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1");
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "");

    /* A missing file: reported at the rule that defined the set. */
    cr_assert_eq(remove(addrs_path), 0);
    err = reload(&e, -1, &st);
    char want[1024];
    snprintf(want, sizeof(want),
             "dataset 'addrs': cannot read '%s': No such file or directory; keeping the "
             "previous list",
             addrs_path);
    cr_assert_str_eq(err, sig_msg(rules_path, 2, want));
    cr_assert_eq(st.datasets_reloaded, 1);
    cr_assert_eq(st.datasets_failed, 1);
    cr_assert_str_eq(pkt_sids(&e, "192.0.2.1", "192.0.2.2"), "2");
    cr_assert_str_eq(dns_sids(&e, "evil.example.com"), "1");
    sig_engine_stop(&e);
}

/* A reader looking up without a pause while the lists are swapped 100
 * times: under ASan a lookup in freed contents would abort. */
struct lookup_reader {
    const struct sig_dataset *set;
    _Atomic uint64_t epoch;
    atomic_bool stop;
    uint64_t found, missed;
};

static void *lookup_loop(void *arg)
{
    struct lookup_reader *r = arg;
    const uint8_t key[] = "c2.bad.net";
    while (!atomic_load(&r->stop)) {
        /* quiescent here: no contents held between lookups */
        atomic_fetch_add(&r->epoch, 1);
        if (sig_dataset_contains(r->set, key, sizeof(key) - 1))
            r->found++;
        else
            r->missed++;
    }
    return NULL;
}

/* Waits until the reader has begun a lookup after the swap (two advances:
 * the lookup running at the snapshot has ended). */
static void wait_for_reader(void *arg)
{
    struct lookup_reader *r = arg;
    const uint64_t seen = atomic_load(&r->epoch);
    while (atomic_load(&r->epoch) - seen < 2)
        sched_yield();
}

Test(dataset, reload_while_a_thread_looks_up)
{
    sig_write_file("doms.lst", "c2.bad.net\n");
    sig_write_file("addrs.lst", "192.0.2.1\n");
    struct sig_engine e;
    engine_start(&e, RELOAD_RULES);
    struct lookup_reader r = {
        .set = ((const struct sig_dataset_test *)sig_ruleset_find(e.l.rs, 1, 1)->contents[0].ext)
                   ->set};
    atomic_init(&r.epoch, 0);
    atomic_init(&r.stop, false);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, lookup_loop, &r), 0);
    for (int i = 0; i < 100; i++) {
        sig_write_file("doms.lst", i % 2 ? "c2.bad.net\nother.example\n" : "other.example\n");
        struct vg_reload_stats st;
        cr_assert_eq(vg_ruleset_reload_lists(e.l.rs, NULL, wait_for_reader, &r, &st), 0);
        cr_assert_eq(st.datasets_reloaded, 2);
    }
    atomic_store(&r.stop, true);
    pthread_join(t, NULL);
    cr_assert_gt(r.found + r.missed, 0);
    /* the last list (i = 99) holds the domain */
    cr_assert_str_eq(dns_sids(&e, "c2.bad.net"), "1");
    sig_engine_stop(&e);
}
