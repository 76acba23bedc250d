/* Thresholds: the threshold and detection_filter keywords and their error
 * messages, the threshold file (suppress, threshold, event_filter) and its
 * errors, each threshold type across window edges, each track kind, the
 * tracking table's full policy and its exactness under concurrent workers. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/packet.h"

#include "../../signatures/rule_int.h"
#include "sig_test_util.h"

TestSuite(threshold, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

#define SEC 1000000ull

/* ---- Loading --------------------------------------------------------------------- */

/* Loads rules with a threshold file (NULL: none) and a configuration. */
static void load_with(struct sig_load *l, const char *rules, const char *thresholds,
                      const struct vg_config *cfg, const char **tpath)
{
    l->path = sig_write_file("test.rules", rules);
    const char *files[] = {l->path};
    const char *tp = thresholds != NULL ? sig_write_file("threshold.config", thresholds) : NULL;
    if (tpath != NULL)
        *tpath = tp;
    size_t len = 0;
    FILE *err = open_memstream(&l->err, &len);
    cr_assert_not_null(err);
    struct vg_rule_load_opts opts = {
        .files = files,
        .nfiles = 1,
        .cfg = cfg,
        .err = err,
        .threshold_file = tp,
    };
    l->rs = vg_ruleset_load(&opts, &l->st);
    fclose(err);
}

static const struct sig_threshold *threshold_of(const struct sig_load *l, uint32_t sid)
{
    const struct sig_rule *r = sig_ruleset_find(l->rs, 1, sid);
    cr_assert_not_null(r, "sid %u not loaded", sid);
    return r->threshold;
}

static void expect_threshold(const char *option, uint8_t type, uint8_t track, uint32_t count,
                             uint32_t seconds)
{
    char rule[512];
    snprintf(rule, sizeof(rule), "alert tcp any any -> any any (%s; sid:1;)\n", option);
    struct sig_load l;
    sig_load_text(&l, rule, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_empty(l.err, "%s: %s", option, l.err);
    const struct sig_threshold *th = threshold_of(&l, 1);
    cr_assert_not_null(th);
    cr_assert_eq(th->type, type, "%s", option);
    cr_assert_eq(th->track, track, "%s", option);
    cr_assert_eq(th->count, count, "%s", option);
    cr_assert_eq(th->seconds, seconds, "%s", option);
    cr_assert_eq(th->nsuppress, 0);
    cr_assert_eq(l.st.threshold_rules, 1);
    cr_assert_eq(l.st.threshold_entries, 65536);
    cr_assert_eq(l.st.threshold_table_bytes, 65536 * 16);
    sig_load_done(&l);
}

static void expect_error(const char *options, const char *msg)
{
    char rule[512], full[600];
    snprintf(rule, sizeof(rule), "alert tcp any any -> any any (%s sid:7;)\n", options);
    snprintf(full, sizeof(full), "%s (sid 7)", msg);
    struct sig_load l;
    sig_load_text(&l, rule, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, full), "rule: %sgot: %s", rule, l.err);
    cr_assert_eq(l.st.rules_skipped, 1);
    cr_assert_eq(l.st.rules_loaded, 0);
    sig_load_done(&l);
}

Test(threshold, keyword_forms)
{
    expect_threshold("threshold: type limit, track by_src, count 1, seconds 60",
                     SIG_THRESHOLD_LIMIT, SIG_TRACK_SRC, 1, 60);
    expect_threshold("threshold:type threshold,track by_dst,count 10,seconds 5",
                     SIG_THRESHOLD_THRESHOLD, SIG_TRACK_DST, 10, 5);
    expect_threshold("threshold: seconds 3600, count 3, track by_rule, type both",
                     SIG_THRESHOLD_BOTH, SIG_TRACK_RULE, 3, 3600);
    expect_threshold("threshold: track by_both, type limit, seconds 0, count 0",
                     SIG_THRESHOLD_LIMIT, SIG_TRACK_BOTH, 0, 0);
    expect_threshold("threshold: type limit, track by_flow, count 4194303, seconds 4294967295",
                     SIG_THRESHOLD_LIMIT, SIG_TRACK_FLOW, 4194303, 4294967295u);
    expect_threshold("detection_filter: track by_src, count 5, seconds 30", SIG_THRESHOLD_DETECTION,
                     SIG_TRACK_SRC, 5, 30);
    expect_threshold("detection_filter: seconds 1, count 1, track by_flow", SIG_THRESHOLD_DETECTION,
                     SIG_TRACK_FLOW, 1, 1);
}

Test(threshold, keyword_errors)
{
    expect_error("threshold;", "'threshold' needs a value");
    expect_error("detection_filter;", "'detection_filter' needs a value");
    expect_error("threshold: type limit, track by_src, count 1, seconds 60, foo 1;",
                 "threshold: unknown option 'foo'");
    expect_error("threshold: type limit, track by_src, count 1, second 60;",
                 "threshold: unknown option 'second'");
    expect_error("threshold: type limit, track by_src, count, seconds 60;",
                 "threshold: 'count' needs a value");
    expect_error("threshold: type limit, type both, track by_src, count 1, seconds 60;",
                 "threshold: 'type' given twice");
    expect_error("threshold: type limit, track by_src, count 1;", "threshold: 'seconds' missing");
    expect_error("threshold: track by_src, count 1, seconds 1;", "threshold: 'type' missing");
    expect_error("threshold: type limit, count 1, seconds 1;", "threshold: 'track' missing");
    expect_error("threshold: type limit, track by_src, seconds 1;", "threshold: 'count' missing");
    expect_error("threshold: type limits, track by_src, count 1, seconds 60;",
                 "threshold: bad type 'limits' (limit, threshold or both)");
    expect_error("threshold: type limit, track by_host, count 1, seconds 60;",
                 "threshold: bad track 'by_host' (by_src, by_dst, by_rule, by_both or by_flow)");
    expect_error("threshold: type limit, track by_src, count x, seconds 60;",
                 "threshold: bad count 'x' (0 to 4194303)");
    expect_error("threshold: type limit, track by_src, count 4194304, seconds 60;",
                 "threshold: bad count '4194304' (0 to 4194303)");
    expect_error("threshold: type limit, track by_src, count 1, seconds -1;",
                 "threshold: bad seconds '-1' (0 to 4294967295)");
    expect_error("threshold: type limit, track by_src, count 1, seconds 4294967296;",
                 "threshold: bad seconds '4294967296' (0 to 4294967295)");
    expect_error("detection_filter: type limit, track by_src, count 1, seconds 60;",
                 "detection_filter: unknown option 'type'");
    expect_error("detection_filter: track by_src, count 0, seconds 60;",
                 "detection_filter: bad count '0' (1 to 4194303)");
    expect_error("detection_filter: track by_src, count 1, seconds 0;",
                 "detection_filter: bad seconds '0' (1 to 4294967295)");
    expect_error("detection_filter: track by_src, count 1;", "detection_filter: 'seconds' missing");
    expect_error("threshold: type limit, track by_src, count 1, seconds 60; "
                 "threshold: type limit, track by_src, count 1, seconds 60;",
                 "multiple \"threshold\" options are not allowed in the same rule");
    expect_error("detection_filter: track by_src, count 1, seconds 60; "
                 "detection_filter: track by_src, count 1, seconds 60;",
                 "at most one \"detection_filter\" is allowed per rule");
    expect_error("threshold: type limit, track by_src, count 1, seconds 60; "
                 "detection_filter: track by_src, count 1, seconds 60;",
                 "\"detection_filter\" and \"threshold\" are not allowed in the same rule");
    expect_error("detection_filter: track by_src, count 1, seconds 60; "
                 "threshold: type limit, track by_src, count 1, seconds 60;",
                 "\"detection_filter\" and \"threshold\" are not allowed in the same rule");
}

Test(threshold, no_table_without_thresholds)
{
    struct sig_load l;
    sig_load_text(&l, "alert tcp any any -> any any (sid:1;)\n", NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.threshold_rules, 0);
    cr_assert_eq(l.st.threshold_entries, 0);
    cr_assert_eq(vg_ruleset_threshold_table_full(l.rs), 0);
    sig_load_done(&l);
}

/* ---- The table, single-threaded ---------------------------------------------------- */

struct step {
    double at; /* seconds */
    bool alert;
};

static void run_steps(uint8_t type, uint32_t count, uint32_t seconds, const struct step *steps,
                      size_t n)
{
    struct sig_threshold_table *t = sig_threshold_table_new(64);
    cr_assert_not_null(t);
    struct sig_threshold th = {
        .type = type, .track = SIG_TRACK_RULE, .count = count, .seconds = seconds};
    const uint64_t base = 1700000000ull * SEC;
    for (size_t i = 0; i < n; i++) {
        const uint64_t ts = base + (uint64_t)(steps[i].at * 1e6 + 0.5);
        cr_assert_eq(sig_threshold_table_hit(t, 42, &th, ts), steps[i].alert,
                     "type %u count %u: match %zu at %.3f s", type, count, i, steps[i].at);
    }
    cr_assert_eq(sig_threshold_table_full(t), 0);
    sig_threshold_table_free(t);
}

Test(threshold, limit_windows)
{
    const struct step s[] = {{0, true},    {1, true},   {2, false},      {9.999, false}, {10, true},
                             {10.5, true}, {11, false}, {19.999, false}, {100, true}};
    run_steps(SIG_THRESHOLD_LIMIT, 2, 10, s, VG_ARRAY_SIZE(s));
}

Test(threshold, threshold_windows)
{
    const struct step s[] = {{0, false}, {1, false},     {2, true},   {3, false},  {4, false},
                             {5, true},  {9.999, false}, {10, false}, {11, false}, {12, true}};
    run_steps(SIG_THRESHOLD_THRESHOLD, 3, 10, s, VG_ARRAY_SIZE(s));
    const struct step one[] = {{0, true}, {0, true}, {50, true}};
    run_steps(SIG_THRESHOLD_THRESHOLD, 1, 10, one, VG_ARRAY_SIZE(one));
}

Test(threshold, both_windows)
{
    const struct step s[] = {{0, false},  {1, true},  {2, false}, {9, false},
                             {10, false}, {11, true}, {12, false}};
    run_steps(SIG_THRESHOLD_BOTH, 2, 10, s, VG_ARRAY_SIZE(s));
    const struct step one[] = {{0, true}, {1, false}, {9.999, false}, {10, true}, {11, false}};
    run_steps(SIG_THRESHOLD_BOTH, 1, 10, one, VG_ARRAY_SIZE(one));
}

Test(threshold, detection_filter_windows)
{
    const struct step s[] = {{0, false},  {1, false},  {2, true},  {3, true},
                             {10, false}, {11, false}, {12, true}, {19.999, true}};
    run_steps(SIG_THRESHOLD_DETECTION, 2, 10, s, VG_ARRAY_SIZE(s));
}

Test(threshold, table_full_fails_open_and_counts)
{
    struct sig_threshold_table *t = sig_threshold_table_new(16);
    cr_assert_not_null(t);
    cr_assert_eq(sig_threshold_table_slots(t), 16);
    struct sig_threshold th = {
        .type = SIG_THRESHOLD_LIMIT, .track = SIG_TRACK_SRC, .count = 1, .seconds = 10};
    const uint64_t t0 = 1700000000ull * SEC;
    for (uint64_t k = 1; k <= 16; k++) {
        cr_assert(sig_threshold_table_hit(t, k, &th, t0));
        cr_assert_not(sig_threshold_table_hit(t, k, &th, t0));
    }
    cr_assert_eq(sig_threshold_table_full(t), 0);
    /* Every slot holds a live window: a 17th key alerts on every match. */
    cr_assert(sig_threshold_table_hit(t, 17, &th, t0 + 1 * SEC));
    cr_assert(sig_threshold_table_hit(t, 17, &th, t0 + 2 * SEC));
    cr_assert_eq(sig_threshold_table_full(t), 2);
    /* Once the windows end their slots are reused. */
    cr_assert(sig_threshold_table_hit(t, 17, &th, t0 + 10 * SEC));
    cr_assert_not(sig_threshold_table_hit(t, 17, &th, t0 + 11 * SEC));
    cr_assert_eq(sig_threshold_table_full(t), 2);
    sig_threshold_table_free(t);
}

Test(threshold, table_size_rounds_up)
{
    struct sig_threshold_table *t = sig_threshold_table_new(1000);
    cr_assert_eq(sig_threshold_table_slots(t), 1024);
    sig_threshold_table_free(t);
}

/* ---- The table, four threads on one key ----------------------------------------------- */

#define HAMMER_THREADS 4
#define HAMMER_HITS    200000

struct hammer {
    struct sig_threshold_table *t;
    const struct sig_threshold *th;
    uint64_t alerts;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < HAMMER_HITS; i++)
        h->alerts += sig_threshold_table_hit(h->t, 0x1234567890abcdefull, h->th,
                                             1700000000ull * SEC + (uint64_t)i);
    return NULL;
}

static uint64_t hammer(uint8_t type, uint32_t count)
{
    struct sig_threshold_table *t = sig_threshold_table_new(1024);
    cr_assert_not_null(t);
    struct sig_threshold th = {
        .type = type, .track = SIG_TRACK_RULE, .count = count, .seconds = 3600};
    struct hammer h[HAMMER_THREADS];
    pthread_t tid[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        h[i] = (struct hammer){.t = t, .th = &th};
        cr_assert_eq(pthread_create(&tid[i], NULL, hammer_run, &h[i]), 0);
    }
    uint64_t total = 0;
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(tid[i], NULL);
        total += h[i].alerts;
    }
    cr_assert_eq(sig_threshold_table_full(t), 0);
    sig_threshold_table_free(t);
    return total;
}

Test(threshold, four_threads_one_key_exact)
{
    cr_assert_eq(hammer(SIG_THRESHOLD_LIMIT, 1), 1);
    cr_assert_eq(hammer(SIG_THRESHOLD_LIMIT, 100), 100);
    cr_assert_eq(hammer(SIG_THRESHOLD_BOTH, 1000), 1);
    cr_assert_eq(hammer(SIG_THRESHOLD_THRESHOLD, 1000), HAMMER_THREADS * HAMMER_HITS / 1000);
    cr_assert_eq(hammer(SIG_THRESHOLD_DETECTION, 10), HAMMER_THREADS * HAMMER_HITS - 10);
}

/* ---- Through detection: track kinds ------------------------------------------------ */

struct engine {
    struct sig_load l;
    struct vg_detect_ctx *ctx;
    const char *tpath;
};

static void count_alert(void *user, const struct vg_rule_meta *m)
{
    (void)m;
    (*(uint32_t *)user)++;
}

static void engine_start(struct engine *e, const char *rules, const char *thresholds,
                         const struct vg_config *cfg)
{
    load_with(&e->l, rules, thresholds, cfg, &e->tpath);
    cr_assert_not_null(e->l.rs, "%s", e->l.err);
    cr_assert_str_empty(e->l.err, "unexpected errors: %s", e->l.err);
    e->ctx = vg_detect_ctx_new(e->l.rs);
    cr_assert_not_null(e->ctx);
}

static void engine_stop(struct engine *e)
{
    vg_detect_ctx_free(e->ctx);
    sig_load_done(&e->l);
}

static struct vg_packet udp(const char *src, const char *dst, double at)
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
    p.payload = (const uint8_t *)"x";
    p.payload_len = 1;
    p.caplen = p.wirelen = 41;
    p.ts_us = 1700000000ull * SEC + (uint64_t)(at * 1e6);
    return p;
}

static uint32_t alerts(struct engine *e, const char *src, const char *dst, double at)
{
    struct vg_packet p = udp(src, dst, at);
    uint32_t n = 0;
    vg_detect_packet(e->ctx, &p, 0, count_alert, &n);
    return n;
}

#define A "10.0.0.1"
#define B "10.0.0.2"
#define C "10.0.0.3"

static const char *rule_with(const char *option)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "alert udp any any -> any any (msg:\"t\"; %s; sid:1;)\n", option);
    return buf;
}

Test(threshold, track_by_src)
{
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_src, count 1, seconds 60"), NULL,
                 NULL);
    cr_assert_eq(alerts(&e, A, C, 0), 1);
    cr_assert_eq(alerts(&e, A, B, 1), 0);
    cr_assert_eq(alerts(&e, B, C, 2), 1);
    cr_assert_eq(alerts(&e, C, A, 3), 1);
    cr_assert_eq(alerts(&e, A, C, 60), 1);
    engine_stop(&e);
}

Test(threshold, track_by_dst)
{
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_dst, count 1, seconds 60"), NULL,
                 NULL);
    cr_assert_eq(alerts(&e, A, C, 0), 1);
    cr_assert_eq(alerts(&e, B, C, 1), 0);
    cr_assert_eq(alerts(&e, C, B, 2), 1);
    cr_assert_eq(alerts(&e, A, B, 3), 0);
    engine_stop(&e);
}

Test(threshold, track_by_rule)
{
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_rule, count 2, seconds 60"), NULL,
                 NULL);
    cr_assert_eq(alerts(&e, A, B, 0), 1);
    cr_assert_eq(alerts(&e, B, C, 1), 1);
    cr_assert_eq(alerts(&e, C, A, 2), 0);
    engine_stop(&e);
}

Test(threshold, track_by_both)
{
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_both, count 1, seconds 60"), NULL,
                 NULL);
    cr_assert_eq(alerts(&e, A, B, 0), 1);
    cr_assert_eq(alerts(&e, B, A, 1), 0); /* the same pair, either direction */
    cr_assert_eq(alerts(&e, A, C, 2), 1);
    cr_assert_eq(alerts(&e, "2001:db8::1", "2001:db8::2", 3), 1);
    cr_assert_eq(alerts(&e, "2001:db8::2", "2001:db8::1", 4), 0);
    engine_stop(&e);
}

Test(threshold, track_by_flow)
{
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_flow, count 1, seconds 60"), NULL,
                 NULL);
    struct vg_flow_vars f1, f2;
    memset(&f1, 0, sizeof(f1));
    memset(&f2, 0, sizeof(f2));
    vg_detect_set_flow(e.ctx, &f1, 1001);
    cr_assert_eq(alerts(&e, A, B, 0), 1);
    cr_assert_eq(alerts(&e, A, B, 1), 0);
    vg_detect_set_flow(e.ctx, &f2, 1002);
    cr_assert_eq(alerts(&e, A, B, 2), 1);
    /* Without a flow there is nothing to count on: no alert, as Suricata. */
    vg_detect_set_flow(e.ctx, NULL, 0);
    cr_assert_eq(alerts(&e, A, B, 3), 0);
    engine_stop(&e);
}

Test(threshold, detection_filter_through_detection)
{
    struct engine e;
    engine_start(&e, rule_with("detection_filter: track by_src, count 2, seconds 10"), NULL, NULL);
    cr_assert_eq(alerts(&e, A, B, 0), 0);
    cr_assert_eq(alerts(&e, A, B, 1), 0);
    cr_assert_eq(alerts(&e, A, B, 2), 1);
    cr_assert_eq(alerts(&e, B, A, 3), 0);
    cr_assert_eq(alerts(&e, A, B, 4), 1);
    cr_assert_eq(alerts(&e, A, B, 10), 0);
    engine_stop(&e);
}

Test(threshold, table_size_from_config)
{
    struct vg_config *cfg = vg_config_new();
    char err[256];
    cr_assert_eq(vg_config_set(cfg, "detect.thresholds.max-entries=16", err, sizeof(err)), 0);
    struct engine e;
    engine_start(&e, rule_with("threshold: type limit, track by_src, count 1, seconds 60"), NULL,
                 cfg);
    cr_assert_eq(e.l.st.threshold_entries, 16);
    /* 16 sources fill the table; the 17th fails open and is counted. */
    char src[32];
    for (int i = 0; i < 16; i++) {
        snprintf(src, sizeof(src), "192.0.2.%d", i + 1);
        cr_assert_eq(alerts(&e, src, B, 0), 1);
    }
    cr_assert_eq(alerts(&e, "198.51.100.1", B, 1), 1);
    cr_assert_eq(alerts(&e, "198.51.100.1", B, 2), 1);
    cr_assert_eq(vg_ruleset_threshold_table_full(e.l.rs), 2);
    engine_stop(&e);
    vg_config_free(cfg);

    cfg = vg_config_new();
    cr_assert_eq(vg_config_set(cfg, "detect.thresholds.max-entries=0", err, sizeof(err)), 0);
    struct sig_load l;
    load_with(&l, rule_with("threshold: type limit, track by_src, count 1, seconds 60"), NULL, cfg,
              NULL);
    cr_assert_null(l.rs);
    cr_assert_str_eq(l.err, "rules: detect.thresholds.max-entries must be 1 to 1073741824\n");
    sig_load_done(&l);
    vg_config_free(cfg);
}

/* ---- The threshold file ------------------------------------------------------------- */

Test(threshold, suppress_whole_rule)
{
    struct engine e;
    engine_start(&e,
                 "alert udp any any -> any any (sid:1;)\n"
                 "alert udp any any -> any any (sid:2;)\n",
                 "# comment\n\nsuppress gen_id 1, sig_id 1\n", NULL);
    cr_assert_eq(e.l.st.threshold_rules, 1);
    cr_assert_eq(e.l.st.threshold_entries, 0); /* suppressions need no table */
    cr_assert_eq(alerts(&e, A, B, 0), 1);      /* sid 2 only */
    engine_stop(&e);
}

static void sid_bit(void *user, const struct vg_rule_meta *m)
{
    *(uint32_t *)user |= 1u << m->sid;
}

/* The sids (bit n: sid n) a packet alerts. */
static uint32_t fired(struct engine *e, const char *src, const char *dst)
{
    struct vg_packet p = udp(src, dst, 0);
    uint32_t mask = 0;
    vg_detect_packet(e->ctx, &p, 0, sid_bit, &mask);
    return mask;
}

#define S(n) (1u << (n))

Test(threshold, suppress_by_src_dst_either_cidr)
{
    struct vg_config *cfg = vg_config_new();
    char err[256];
    cr_assert_eq(
        vg_config_set(cfg, "vars.address-groups.QUIET=[10.0.0.0/24,!10.0.0.3]", err, sizeof(err)),
        0);
    cr_assert_eq(vg_config_set(cfg, "vars.address-groups.NET24=10.0.0.0/24", err, sizeof(err)), 0);
    struct engine e;
    engine_start(&e,
                 "alert udp any any -> any any (sid:1;)\n"
                 "alert udp any any -> any any (sid:2;)\n"
                 "alert udp any any -> any any (sid:3;)\n"
                 "alert udp any any -> any any (sid:4;)\n",
                 "suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.0/30\n"
                 "suppress gen_id 1, sig_id 2, track by_dst, ip [192.0.2.1, 2001:db8::/32]\n"
                 "suppress gen_id 1, sig_id 3, track by_either, ip $QUIET\n"
                 "suppress gen_id 1, sig_id 4, track by_src, ip !$NET24\n",
                 cfg);
    cr_assert_eq(e.l.st.threshold_rules, 4);
    cr_assert_eq(fired(&e, "10.0.0.1", "198.51.100.1"), S(2) | S(4));
    cr_assert_eq(fired(&e, "10.0.0.4", "198.51.100.1"), S(1) | S(2) | S(4));
    cr_assert_eq(fired(&e, "198.51.100.1", "192.0.2.1"), S(1) | S(3));
    cr_assert_eq(fired(&e, "198.51.100.1", "10.0.0.9"), S(1) | S(2));
    cr_assert_eq(fired(&e, "10.0.0.3", "198.51.100.1"), S(2) | S(3) | S(4));
    cr_assert_eq(fired(&e, "2001:db9::1", "2001:db8::5"), S(1) | S(3));
    engine_stop(&e);
    vg_config_free(cfg);
}

/* ip is read as a rule header's address: a group set to none (not
 * configured yet) suppresses nothing, and a negated list may hold a
 * negation. */
Test(threshold, suppress_ip_reads_as_a_rule_header)
{
    struct vg_config *cfg = vg_config_new();
    char err[256];
    cr_assert_eq(vg_config_set(cfg, "vars.address-groups.BIGIP_ADMIN_NET=none", err, sizeof(err)),
                 0);
    struct engine e;
    engine_start(&e,
                 "alert udp any any -> any any (sid:1;)\n"
                 "alert udp any any -> any any (sid:2;)\n",
                 "suppress gen_id 1, sig_id 1, track by_src, ip $BIGIP_ADMIN_NET\n"
                 "suppress gen_id 1, sig_id 2, track by_src, ip ![10.0.0.0/8,!10.1.1.1]\n",
                 cfg);
    cr_assert_str_empty(e.l.err);
    cr_assert_eq(e.l.st.threshold_file_errors, 0);
    cr_assert_eq(fired(&e, "10.0.0.1", "198.51.100.1"), S(1) | S(2));
    cr_assert_eq(fired(&e, "10.1.1.1", "198.51.100.1"), S(1));
    cr_assert_eq(fired(&e, "198.51.100.1", "10.0.0.1"), S(1));
    engine_stop(&e);
    vg_config_free(cfg);
}

Test(threshold, file_threshold_overrides_and_wildcards)
{
    struct engine e;
    engine_start(&e,
                 "alert udp any any -> any any (threshold: type limit, track by_rule, count 1, "
                 "seconds 60; sid:1;)\n"
                 "alert udp any any -> any any (threshold: type limit, track by_rule, count 1, "
                 "seconds 60; sid:2;)\n"
                 "alert udp any any -> any any (sid:3;)\n"
                 "alert udp any any -> any any (gid:2; sid:4;)\n",
                 "threshold gen_id 1, sig_id 1, type limit, track by_rule, count 3, seconds 60\n"
                 "event_filter gen_id 0, sig_id 0, type limit, track by_rule, count 2, "
                 "seconds 60\n"
                 "threshold gen_id 2, sig_id 0, type both, track by_rule, \\\n"
                 "    count 3, seconds 60\n",
                 NULL);
    cr_assert_eq(e.l.st.threshold_rules, 4);
    const struct sig_threshold *th = threshold_of(&e.l, 1);
    cr_assert_eq(th->count, 3); /* a sig_id line overrides the keyword */
    th = threshold_of(&e.l, 2);
    cr_assert_eq(th->count, 1); /* a global line does not */
    th = threshold_of(&e.l, 3);
    cr_assert_eq(th->count, 2);
    const struct sig_rule *r4 = sig_ruleset_find(e.l.rs, 2, 4);
    cr_assert_eq(r4->threshold->type, SIG_THRESHOLD_BOTH);
    cr_assert_eq(fired(&e, A, B), S(1) | S(2) | S(3));
    cr_assert_eq(fired(&e, A, B), S(1) | S(3));
    cr_assert_eq(fired(&e, A, B), S(1) | S(4));
    cr_assert_eq(fired(&e, A, B), 0);
    engine_stop(&e);
}

static void expect_file_error(const char *line, const char *msg)
{
    struct sig_load l;
    const char *tpath;
    char text[1024];
    snprintf(text, sizeof(text), "# first line\n%s\n", line);
    load_with(&l, "alert udp any any -> any any (sid:1;)\n", text, NULL, &tpath);
    cr_assert_not_null(l.rs);
    cr_assert_str_eq(l.err, sig_msg(tpath, 2, msg), "line: %s\ngot: %s", line, l.err);
    cr_assert_eq(l.st.threshold_file_errors, 1);
    cr_assert_eq(l.st.rules_loaded, 1);
    sig_load_done(&l);
}

Test(threshold, file_errors)
{
    expect_file_error("supress gen_id 1, sig_id 1",
                      "unknown directive 'supress' (suppress, threshold, event_filter or "
                      "rate_filter)");
    expect_file_error("rate_filter gen_id 1, sig_id 1000, track by_rule, count 100, seconds 60, "
                      "new_action alert, timeout 30",
                      "rate_filter is not supported: it changes rule actions, which needs an "
                      "inline sensor");
    expect_file_error("suppress gen_id 1", "suppress: 'sig_id' missing");
    expect_file_error("suppress sig_id 1", "suppress: 'gen_id' missing");
    expect_file_error("suppress gen_id x, sig_id 1", "suppress: bad gen_id 'x'");
    expect_file_error("suppress gen_id 1, sig_id -1", "suppress: bad sig_id '-1'");
    expect_file_error("suppress gen_id 1, sig_id 1, type limit", "suppress: unknown option 'type'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src", "suppress: 'track' needs 'ip'");
    expect_file_error("suppress gen_id 1, sig_id 1, ip 10.0.0.1", "suppress: 'ip' needs 'track'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_rule, ip 10.0.0.1",
                      "suppress: bad track 'by_rule' (by_src, by_dst or by_either)");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.300",
                      "suppress: bad ip '10.0.0.300': invalid address '10.0.0.300'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.0/33",
                      "suppress: bad ip '10.0.0.0/33': invalid prefix length '/33'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip [10.0.0.1",
                      "suppress: bad ip '[10.0.0.1': missing ']'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip $NOPE",
                      "suppress: bad ip '$NOPE': unknown address variable '$NOPE'");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip !any",
                      "suppress: bad ip '!any': matches no address");
    expect_file_error("suppress gen_id 1, sig_id 1, track by_src, ip 10.0.0.1 x",
                      "suppress: bad ip '10.0.0.1 x': unexpected 'x'");
    expect_file_error("suppress gen_id 1, sig_id 1, sig_id 2", "suppress: 'sig_id' given twice");
    expect_file_error("threshold gen_id 1, sig_id 1, type limit, track by_src, count 1",
                      "threshold: 'seconds' missing");
    expect_file_error("threshold gen_id 1, sig_id 1, type many, track by_src, count 1, seconds 1",
                      "threshold: bad type 'many' (limit, threshold or both)");
    expect_file_error("event_filter gen_id 1, sig_id 1, type limit, track by_x, count 1, "
                      "seconds 1",
                      "event_filter: bad track 'by_x' (by_src, by_dst, by_rule, by_both or "
                      "by_flow)");
    expect_file_error("event_filter gen_id 1, sig_id 1, type limit, track by_src, count 1, "
                      "seconds x",
                      "event_filter: bad seconds 'x' (0 to 4294967295)");
}

Test(threshold, file_missing)
{
    struct sig_load l;
    l.path = sig_write_file("test.rules", "alert udp any any -> any any (sid:1;)\n");
    const char *files[] = {l.path};
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/none.config", sig_tmpdir);
    size_t len = 0;
    FILE *err = open_memstream(&l.err, &len);
    struct vg_rule_load_opts opts = {
        .files = files, .nfiles = 1, .err = err, .threshold_file = missing};
    l.rs = vg_ruleset_load(&opts, &l.st);
    fclose(err);
    cr_assert_null(l.rs);
    char want[700];
    snprintf(want, sizeof(want), "%s: cannot open the threshold file\n", missing);
    cr_assert_str_eq(l.err, want);
    cr_assert_eq(l.st.files_failed, 1);
    sig_load_done(&l);
}
