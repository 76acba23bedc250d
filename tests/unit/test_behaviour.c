/* Behaviour detectors: the detector keyword and its errors, the detectors.*
 * settings and their errors, each detector's decision at its edges, and the
 * shared new-egress pair table (full-table policy, two threads). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "vigil/behaviour.h"
#include "vigil/common.h"
#include "vigil/config.h"
#include "vigil/detect.h"
#include "vigil/flow.h"

#include "sig_test_util.h"

TestSuite(behaviour, .init = sig_tmp_setup, .fini = sig_tmp_teardown);

#define RULE_LONG                                                                                  \
    "alert ip any any -> any any (msg:\"long\"; detector:long-session; classtype:misc-activity; "  \
    "sid:8490001; rev:1;)\n"
#define RULE_EGRESS                                                                                \
    "alert ip any any -> any any (msg:\"egress\"; detector:new-egress; sid:8490002; rev:1;)\n"
#define RULE_MGMT                                                                                  \
    "alert ip any any -> any any (msg:\"mgmt\"; detector:mgmt-access; sid:8490003; rev:1;)\n"
#define ALL_RULES RULE_LONG RULE_EGRESS RULE_MGMT

#define MGMT     "10.1.1.245"
#define MGMT6    "2001:db8:f5::245"
#define SELF_EXT "10.1.20.2"
#define VIP      "10.1.20.10"
#define ADMIN    "10.1.5.10"
#define CLIENT   "10.1.50.21"
#define DNS      "10.1.10.53"
#define EXT      "192.0.2.80"
#define EXT2     "198.51.100.140"
#define EXT6     "2001:db8:bad::66"

/* The estate of pcaps/estate.yaml. */
static struct vg_config *estate_config(void)
{
    struct vg_config *c = vg_config_new();
    cr_assert_not_null(c);
    static const char *const sets[] = {
        "vars.address-groups.BIGIP_MGMT_NET=[10.1.1.245,10.1.1.246,2001:db8:f5::245]",
        "vars.address-groups.BIGIP_SELF_IPS=[10.1.20.2,10.1.30.2]",
        "vars.address-groups.BIGIP_ADMIN_NET=[10.1.5.0/24]",
        "vars.address-groups.BIGIP_EGRESS_ALLOWED=[10.1.10.0/24,198.18.0.10,198.18.0.11]",
    };
    char err[256];
    for (size_t i = 0; i < VG_ARRAY_SIZE(sets); i++)
        cr_assert_eq(vg_config_set(c, sets[i], err, sizeof(err)), 0, "%s", err);
    return c;
}

static void set(struct vg_config *c, const char *kv)
{
    char err[256];
    cr_assert_eq(vg_config_set(c, kv, err, sizeof(err)), 0, "%s", err);
}

/* ---- The keyword ---- */

static void expect_rule_error(const char *rule, const char *msg)
{
    struct sig_load l = {0};
    char text[1024], full[512];
    snprintf(text, sizeof(text), "%s\n", rule);
    snprintf(full, sizeof(full), "%s (sid 1)", msg);
    sig_load_text(&l, text, NULL);
    cr_assert_not_null(l.rs);
    cr_assert_eq(l.st.rules_loaded, 0);
    cr_assert_str_eq(l.err, sig_msg(l.path, 1, full));
    sig_load_done(&l);
}

Test(behaviour, keyword_loads_and_the_rule_set_exposes_it)
{
    struct sig_load l = {0};
    sig_load_ok(&l, ALL_RULES);
    cr_assert_eq(l.st.rules_loaded, 3);
    /* never inspected by packet, stream or transaction matching */
    cr_assert_eq(l.st.packet_rules, 0);
    cr_assert_eq(l.st.no_pattern_rules, 0);
    cr_assert_eq(l.st.app_rules, 0);
    cr_assert_eq(l.st.stream_rules, 0);
    const struct vg_rule_meta *m = vg_ruleset_detector(l.rs, VG_DETECTOR_LONG_SESSION);
    cr_assert_not_null(m);
    cr_assert_eq(m->sid, 8490001);
    cr_assert_str_eq(m->msg, "long");
    cr_assert_str_eq(m->classtype, "misc-activity");
    cr_assert_eq(vg_ruleset_detector(l.rs, VG_DETECTOR_MGMT_ACCESS)->sid, 8490003);
    sig_load_done(&l);

    sig_load_ok(&l, RULE_EGRESS);
    cr_assert_null(vg_ruleset_detector(l.rs, VG_DETECTOR_LONG_SESSION));
    cr_assert_eq(vg_ruleset_detector(l.rs, VG_DETECTOR_NEW_EGRESS)->sid, 8490002);
    sig_load_done(&l);
}

Test(behaviour, keyword_errors)
{
    expect_rule_error("alert ip any any -> any any (detector:long-session; content:\"x\"; sid:1;)",
                      "detector rules take no match keywords");
    expect_rule_error("alert ip any any -> any any (detector:new-egress; flow:established; sid:1;)",
                      "detector rules take no match keywords");
    expect_rule_error("alert ip any any -> any any (http.uri; detector:new-egress; sid:1;)",
                      "detector rules take no match keywords");
    expect_rule_error("alert ip any any -> any any (detector:new-egress; dsize:>1; sid:1;)",
                      "detector rules take no match keywords");
    expect_rule_error("alert ip 10.0.0.0/8 any -> any any (detector:long-session; sid:1;)",
                      "detector rules take their addresses from the configuration "
                      "(detectors.long-session)");
    expect_rule_error("alert ip any any -> any 443 (detector:mgmt-access; sid:1;)",
                      "detector rules take their addresses from the configuration "
                      "(detectors.mgmt-access)");
    expect_rule_error("alert ip any any <> any any (detector:mgmt-access; sid:1;)",
                      "detector rules take their addresses from the configuration "
                      "(detectors.mgmt-access)");
    expect_rule_error("alert tcp any any -> any any (detector:mgmt-access; sid:1;)",
                      "detector rules use protocol 'ip' (the detector chooses its flows)");
    expect_rule_error("pass ip any any -> any any (detector:mgmt-access; sid:1;)",
                      "detector rules cannot be pass rules");
    expect_rule_error("alert ip any any -> any any (detector:slow-loris; sid:1;)",
                      "unknown detector 'slow-loris' (long-session, new-egress, "
                      "mgmt-access)");
    expect_rule_error("alert ip any any -> any any (detector:new-egress; detector:new-egress; "
                      "sid:1;)",
                      "duplicate 'detector' keyword");
    expect_rule_error("alert ip any any -> any any (detector; sid:1;)", "'detector' needs a value");
}

/* ---- Address and port sets ---- */

static struct vg_ip_addr addr(const char *s, uint8_t *fam)
{
    struct vg_ip_addr a;
    memset(&a, 0, sizeof(a));
    int f = vg_ip_addr_parse(s, &a);
    cr_assert(f == 4 || f == 6, "%s", s);
    *fam = (uint8_t)f;
    return a;
}

static bool in_set(const struct vg_addr_set *s, const char *ip)
{
    uint8_t fam;
    struct vg_ip_addr a = addr(ip, &fam);
    return vg_addr_set_contains(s, fam, &a);
}

Test(behaviour, address_sets_use_the_config_vars)
{
    struct vg_config *c = estate_config();
    char err[256];
    struct vg_addr_set *s = NULL;
    cr_assert_eq(vg_addr_set_parse(c, "$BIGIP_APPLIANCES", &s, err, sizeof(err)), 0, "%s", err);
    cr_assert_not_null(s);
    cr_assert(in_set(s, MGMT));
    cr_assert(in_set(s, MGMT6));
    cr_assert(in_set(s, SELF_EXT));
    cr_assert_not(in_set(s, VIP));
    vg_addr_set_free(s);

    cr_assert_eq(vg_addr_set_parse(c, "[$EXTERNAL_NET,!192.0.2.0/24]", &s, err, sizeof(err)), 0);
    cr_assert(in_set(s, EXT2));
    cr_assert_not(in_set(s, EXT));
    cr_assert_not(in_set(s, CLIENT));
    vg_addr_set_free(s);

    struct vg_port_set *p = NULL;
    cr_assert_eq(vg_port_set_parse(c, "$BIGIP_MGMT_PORTS", &p, err, sizeof(err)), 0);
    cr_assert(vg_port_set_contains(p, 22));
    cr_assert(vg_port_set_contains(p, 8443));
    cr_assert_not(vg_port_set_contains(p, 80));
    vg_port_set_free(p);
    vg_config_free(c);

    /* a group left at none: the set waits */
    c = vg_config_new();
    cr_assert_eq(vg_addr_set_parse(c, "$BIGIP_MGMT_NET", &s, err, sizeof(err)), 0);
    cr_assert_null(s);
    cr_assert_eq(vg_addr_set_parse(c, "!$BIGIP_ADMIN_NET", &s, err, sizeof(err)), 0);
    cr_assert_not_null(s);
    cr_assert(in_set(s, ADMIN)); /* "!none" is any */
    vg_addr_set_free(s);
    cr_assert_eq(vg_addr_set_parse(c, "$NOPE", &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "bad address expression '$NOPE': unknown address variable '$NOPE'");
    cr_assert_eq(vg_addr_set_parse(c, "!any", &s, err, sizeof(err)), -1);
    cr_assert_str_eq(err, "bad address expression '!any': matches no address");
    vg_config_free(c);
}

/* ---- Settings ---- */

struct fixture {
    struct sig_load l;
    struct vg_config *cfg;
    struct vg_behaviour *b;
};

static void start(struct fixture *fx, const char *rules)
{
    memset(fx, 0, sizeof(*fx));
    fx->cfg = estate_config();
    if (rules != NULL)
        sig_load_ok(&fx->l, rules);
}

static void build(struct fixture *fx)
{
    char err[256] = "";
    fx->b = vg_behaviour_new(fx->cfg, fx->l.rs, err, sizeof(err));
    cr_assert_not_null(fx->b, "%s", err);
}

static void stop(struct fixture *fx)
{
    vg_behaviour_free(fx->b);
    vg_config_free(fx->cfg);
    if (fx->l.rs != NULL)
        sig_load_done(&fx->l);
}

static void expect_config_error(const char *kv, const char *msg)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    set(fx.cfg, kv);
    char err[256] = "";
    cr_assert_null(vg_behaviour_new(fx.cfg, fx.l.rs, err, sizeof(err)), "%s", kv);
    cr_assert_str_eq(err, msg);
    stop(&fx);
}

Test(behaviour, config_errors)
{
    expect_config_error("detectors.long-session.sources=$NOPE",
                        "detectors.long-session.sources: bad address expression '$NOPE': unknown "
                        "address variable '$NOPE'");
    expect_config_error("detectors.new-egress.allowed=[10.0.0.300]",
                        "detectors.new-egress.allowed: bad address expression '[10.0.0.300]': "
                        "invalid address '10.0.0.300'");
    expect_config_error("detectors.mgmt-access.ports=[22,70000]",
                        "detectors.mgmt-access.ports: bad port expression '[22,70000]': invalid "
                        "port '70000'");
    expect_config_error("detectors.long-session.max-bytes=10kilo",
                        "detectors.long-session.max-bytes: '10kilo' is not a size (e.g. 64mb)");
    expect_config_error("detectors.long-session.min-duration=0",
                        "detectors.long-session.min-duration: must be between 1 and 4294967295 "
                        "seconds");
    expect_config_error("detectors.new-egress.max-tracked=0",
                        "detectors.new-egress.max-tracked: must be between 1 and 1073741824");
    expect_config_error("detectors.mgmt-access.enabled=perhaps",
                        "detectors.mgmt-access.enabled: 'perhaps' is not a boolean (yes/no)");
    expect_config_error("detectors.long-session.min-duraton=60",
                        "detectors.long-session.min-duraton: unknown key (detectors.long-session "
                        "takes enabled, sources, destinations, min-duration, max-bytes)");
    expect_config_error("detectors.beacon.enabled=yes",
                        "detectors.beacon.enabled: unknown detector 'beacon' (long-session, "
                        "new-egress, mgmt-access)");
}

Test(behaviour, what_makes_a_detector_run)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    build(&fx);
    for (unsigned d = 0; d < VG_DETECTOR_COUNT; d++)
        cr_assert_null(vg_behaviour_inactive_reason(fx.b, (enum vg_detector)d));
    cr_assert_eq(vg_behaviour_rule(fx.b, VG_DETECTOR_NEW_EGRESS)->sid, 8490002);
    stop(&fx);

    start(&fx, RULE_LONG);
    set(fx.cfg, "detectors.long-session.enabled=no");
    build(&fx);
    cr_assert_str_eq(vg_behaviour_inactive_reason(fx.b, VG_DETECTOR_LONG_SESSION),
                     "disabled (detectors.long-session.enabled)");
    cr_assert_str_eq(vg_behaviour_inactive_reason(fx.b, VG_DETECTOR_NEW_EGRESS),
                     "no rule loaded (detector:new-egress)");
    cr_assert_null(vg_behaviour_rule(fx.b, VG_DETECTOR_LONG_SESSION));
    stop(&fx);

    /* The built-in defaults: every BIG-IP group is none, every detector waits. */
    struct sig_load l = {0};
    sig_load_ok(&l, ALL_RULES);
    struct vg_config *c = vg_config_new();
    char err[256];
    struct vg_behaviour *b = vg_behaviour_new(c, l.rs, err, sizeof(err));
    cr_assert_not_null(b, "%s", err);
    cr_assert_str_eq(vg_behaviour_inactive_reason(b, VG_DETECTOR_LONG_SESSION),
                     "waits for detectors.long-session.sources (an address group set to none)");
    cr_assert_str_eq(vg_behaviour_inactive_reason(b, VG_DETECTOR_NEW_EGRESS),
                     "waits for detectors.new-egress.sources (an address group set to none)");
    cr_assert_str_eq(vg_behaviour_inactive_reason(b, VG_DETECTOR_MGMT_ACCESS),
                     "waits for detectors.mgmt-access.destinations (an address group set to "
                     "none)");
    vg_behaviour_free(b);
    /* an allow-list left at none waits too (no guessing what is allowed) */
    set(c, "vars.address-groups.BIGIP_MGMT_NET=10.1.1.245");
    b = vg_behaviour_new(c, l.rs, err, sizeof(err));
    cr_assert_str_eq(vg_behaviour_inactive_reason(b, VG_DETECTOR_NEW_EGRESS),
                     "waits for detectors.new-egress.allowed (an address group set to none)");
    cr_assert_null(vg_behaviour_inactive_reason(b, VG_DETECTOR_LONG_SESSION));
    vg_behaviour_free(b);
    vg_config_free(c);
    sig_load_done(&l);
}

/* ---- Decisions ---- */

/* A flow as the flow table builds it: client is endpoint a. */
static struct vg_flow flow(const char *client, uint16_t cport, const char *server, uint16_t sport,
                           uint8_t proto)
{
    struct vg_flow f;
    memset(&f, 0xa5, sizeof(f)); /* the detector must set its own bits */
    memset(&f.key, 0, sizeof(f.key));
    uint8_t fa, fb;
    f.key.addr_a = addr(client, &fa);
    f.key.addr_b = addr(server, &fb);
    cr_assert_eq(fa, fb);
    f.key.family = fa;
    f.key.proto = proto;
    f.key.port_a = cport;
    f.key.port_b = sport;
    f.client_is_a = 1;
    f.start_us = f.last_us = 1000000;
    f.bytes[0] = f.bytes[1] = 0;
    return f;
}

#define FIRES(d) (1u << (d))

Test(behaviour, long_session_edges)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    set(fx.cfg, "detectors.long-session.min-duration=60");
    set(fx.cfg, "detectors.long-session.max-bytes=1kb");
    build(&fx);

    struct vg_flow f = flow(MGMT, 40000, EXT, 443, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), FIRES(VG_DETECTOR_NEW_EGRESS));
    cr_assert_eq(f.behaviour, VG_BEHAVIOUR_LONG_CANDIDATE);
    f.bytes[0] = 600;
    f.bytes[1] = 424; /* exactly max-bytes */
    f.last_us = f.start_us + 60 * 1000000ull - 1;
    cr_assert_not(vg_behaviour_flow_update(fx.b, &f));
    f.last_us = f.start_us + 60 * 1000000ull; /* exactly min-duration */
    cr_assert(vg_behaviour_flow_update(fx.b, &f));
    f.last_us += 1000000;
    cr_assert_not(vg_behaviour_flow_update(fx.b, &f)); /* once per flow */

    /* max-bytes + 1: out for good, even when later packets would qualify */
    struct vg_flow g = flow(SELF_EXT, 40001, EXT, 443, 17);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &g), 0); /* a self IP is not a mgmt source */
    cr_assert_eq(g.behaviour, VG_BEHAVIOUR_LONG_CANDIDATE);
    g.bytes[0] = 1025;
    cr_assert_not(vg_behaviour_flow_update(fx.b, &g));
    cr_assert_eq(g.behaviour, 0);
    g.last_us = g.start_us + 3600 * 1000000ull;
    cr_assert_not(vg_behaviour_flow_update(fx.b, &g));

    /* not an appliance; to an internal server; IPv6 from the v6 mgmt address */
    struct vg_flow h = flow(CLIENT, 40002, EXT, 443, 6);
    vg_behaviour_flow_start(fx.b, &h);
    cr_assert_eq(h.behaviour, 0);
    struct vg_flow i = flow(MGMT, 40003, DNS, 853, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &i), 0);
    cr_assert_eq(i.behaviour, 0);
    struct vg_flow j = flow(MGMT6, 40004, EXT6, 443, 6);
    vg_behaviour_flow_start(fx.b, &j);
    cr_assert_eq(j.behaviour, VG_BEHAVIOUR_LONG_CANDIDATE);
    j.last_us = j.start_us + 61 * 1000000ull;
    cr_assert(vg_behaviour_flow_update(fx.b, &j));
    stop(&fx);
}

Test(behaviour, new_egress_once_per_pair)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    build(&fx);
    const uint32_t ne = FIRES(VG_DETECTOR_NEW_EGRESS);
    struct vg_flow a = flow(MGMT, 40000, EXT, 443, 6);
    struct vg_flow b = flow(MGMT, 40001, EXT, 8080, 6); /* same pair, other port */
    struct vg_flow c = flow(MGMT, 40002, EXT2, 443, 17);
    struct vg_flow d = flow(MGMT, 40003, DNS, 53, 17);           /* allowed */
    struct vg_flow e = flow(MGMT, 40004, "198.18.0.10", 443, 6); /* allowed (iHealth) */
    struct vg_flow f = flow(CLIENT, 40005, EXT, 443, 6);         /* not a mgmt source */
    struct vg_flow g = flow(MGMT6, 40006, EXT6, 443, 6);
    struct vg_flow h = flow(EXT, 443, MGMT, 40007, 6); /* inbound: the client is outside */
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &a), ne);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &b), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &c), ne);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &d), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &e), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &g), ne);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &g), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &h), 0);
    struct vg_behaviour_stats st;
    vg_behaviour_stats(fx.b, &st);
    cr_assert_eq(st.new_egress_pairs, 3);
    cr_assert_eq(st.new_egress_table_full, 0);
    stop(&fx);
}

Test(behaviour, new_egress_full_table_fails_open_and_counts)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    set(fx.cfg, "detectors.new-egress.max-tracked=2");
    build(&fx);
    const uint32_t ne = FIRES(VG_DETECTOR_NEW_EGRESS);
    struct vg_flow a = flow(MGMT, 1, "192.0.2.1", 443, 6);
    struct vg_flow b = flow(MGMT, 1, "192.0.2.2", 443, 6);
    struct vg_flow c = flow(MGMT, 1, "192.0.2.3", 443, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &a), ne);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &b), ne);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &a), 0);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &c), ne); /* no room: alerts */
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &c), ne); /* and again */
    struct vg_behaviour_stats st;
    vg_behaviour_stats(fx.b, &st);
    cr_assert_eq(st.new_egress_pairs, 2);
    cr_assert_eq(st.new_egress_table_full, 2);
    stop(&fx);
}

Test(behaviour, mgmt_access_edges)
{
    struct fixture fx;
    start(&fx, ALL_RULES);
    build(&fx);
    const uint32_t ma = FIRES(VG_DETECTOR_MGMT_ACCESS);
    struct vg_flow f;
    f = flow(EXT, 50000, MGMT, 22, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), ma);
    f = flow(EXT, 50000, SELF_EXT, 8443, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), ma);
    f = flow(CLIENT, 50000, MGMT, 443, 6); /* inside, but not an admin */
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), ma);
    f = flow(EXT6, 50000, MGMT6, 443, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), ma);
    f = flow(ADMIN, 50000, MGMT, 22, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), 0);
    f = flow(EXT, 50000, VIP, 443, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), 0);
    f = flow(EXT, 50000, MGMT, 80, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), 0);
    f = flow(EXT, 0, MGMT, 0, 1); /* ICMP has no port */
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f), 0);
    /* the client port does not count */
    f = flow(MGMT, 22, EXT, 50000, 6);
    cr_assert_eq(vg_behaviour_flow_start(fx.b, &f) & ma, 0);
    stop(&fx);
}

/* ---- Two workers inserting the same pairs ---- */

#define THREAD_PAIRS 2000

struct racer {
    struct vg_behaviour *b;
    uint32_t alerts;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (uint32_t i = 0; i < THREAD_PAIRS; i++) {
        char server[32];
        snprintf(server, sizeof(server), "198.51.%u.%u", 100 + i / 250, 1 + i % 250);
        struct vg_flow f = flow(MGMT, 1, server, 443, 6);
        r->alerts += (vg_behaviour_flow_start(r->b, &f) >> VG_DETECTOR_NEW_EGRESS) & 1u;
    }
    return NULL;
}

Test(behaviour, two_threads_alert_once_per_pair)
{
    struct fixture fx;
    start(&fx, RULE_EGRESS);
    build(&fx);
    struct racer r[2] = {{fx.b, 0}, {fx.b, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(r[0].alerts + r[1].alerts, THREAD_PAIRS);
    struct vg_behaviour_stats st;
    vg_behaviour_stats(fx.b, &st);
    cr_assert_eq(st.new_egress_pairs, THREAD_PAIRS);
    cr_assert_eq(st.new_egress_table_full, 0);
    stop(&fx);
}

/* ---- Thresholds apply by sid ---- */

Test(behaviour, detector_rule_threshold_applies)
{
    struct sig_load l = {0};
    sig_load_ok(&l, "alert ip any any -> any any (msg:\"mgmt\"; detector:mgmt-access; "
                    "threshold:type limit, track by_src, count 1, seconds 60; sid:8490003;)\n");
    struct vg_detect_ctx *ctx = vg_detect_ctx_new(l.rs);
    cr_assert_not_null(ctx);
    vg_detect_set_flow(ctx, NULL, 0);
    struct vg_packet p;
    memset(&p, 0, sizeof(p));
    uint8_t fam;
    p.src = addr(EXT, &fam);
    p.dst = addr(MGMT, &fam);
    p.family = fam;
    p.ts_us = 1000000;
    cr_assert(vg_detect_detector_allows(ctx, VG_DETECTOR_MGMT_ACCESS, &p));
    cr_assert_not(vg_detect_detector_allows(ctx, VG_DETECTOR_MGMT_ACCESS, &p));
    cr_assert_not(vg_detect_detector_allows(ctx, VG_DETECTOR_NEW_EGRESS, &p)); /* no rule */
    vg_detect_ctx_free(ctx);
    sig_load_done(&l);
}
