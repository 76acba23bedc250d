/* Community ID v1 against the published baseline of the specification
 * (corelight/community-id-spec: baseline/README.md tables and
 * baseline/baseline_deflt.json / baseline_seed1.json). */
#include <arpa/inet.h>
#include <string.h>

#include <criterion/criterion.h>

#include "vigil/event.h"

struct cid_case {
    uint8_t proto;
    const char *saddr;
    const char *daddr;
    int sport; /* -1: port-less; for ICMP the type */
    int dport; /* for ICMP the code */
    uint16_t seed;
    const char *expect;
};

static void make_tuple(struct vg_event_tuple *t, const struct cid_case *c)
{
    memset(t, 0, sizeof(*t));
    if (inet_pton(AF_INET, c->saddr, t->src.b) == 1) {
        cr_assert_eq(inet_pton(AF_INET, c->daddr, t->dst.b), 1, "%s", c->daddr);
        t->family = 4;
    } else {
        cr_assert_eq(inet_pton(AF_INET6, c->saddr, t->src.b), 1, "%s", c->saddr);
        cr_assert_eq(inet_pton(AF_INET6, c->daddr, t->dst.b), 1, "%s", c->daddr);
        t->family = 6;
    }
    t->proto = c->proto;
    if (c->proto == 1 || c->proto == 58) {
        /* as a producer fills it: type and code, no ports */
        t->icmp_type = (uint8_t)c->sport;
        t->icmp_code = (uint8_t)c->dport;
    } else if (c->sport >= 0) {
        t->has_ports = 1;
        t->sport = (uint16_t)c->sport;
        t->dport = (uint16_t)c->dport;
    }
}

static void check_cases(const struct cid_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct vg_event_tuple t;
        char out[32];
        make_tuple(&t, &cases[i]);
        memset(out, 'x', sizeof(out));
        vg_community_id_v1(&t, cases[i].seed, out, sizeof(out));
        cr_expect_str_eq(out, cases[i].expect, "case %zu: proto %u %s %d -> %s %d seed %u", i,
                         cases[i].proto, cases[i].saddr, cases[i].sport, cases[i].daddr,
                         cases[i].dport, cases[i].seed);
    }
}

#define SIP4 "1.2.3.4"
#define DIP4 "5.6.7.8"
#define SIP6 "fe80:0001:0203:0405:0607:0809:0A0B:0C0D"
#define DIP6 "fe80:1011:1213:1415:1617:1819:1A1B:1C1D"

/* baseline/README.md, "Default settings" */
Test(community_id, readme_table_default_seed)
{
    static const struct cid_case cases[] = {
        {6, SIP4, DIP4, 1122, 3344, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
        {6, DIP4, SIP4, 3344, 1122, 0, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
        {17, SIP4, DIP4, 1122, 3344, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
        {17, DIP4, SIP4, 3344, 1122, 0, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
        {132, SIP4, DIP4, 1122, 3344, 0, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="},
        {132, DIP4, SIP4, 3344, 1122, 0, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="},
        {1, SIP4, DIP4, 8, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
        {1, DIP4, SIP4, 0, 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
        {1, SIP4, DIP4, 11, 0, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="},
        {58, SIP6, DIP6, 128, 0, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
        {58, DIP6, SIP6, 129, 0, 0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
        {58, SIP6, DIP6, 146, 0, 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="},
        {46, SIP4, DIP4, -1, -1, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
        {46, DIP4, SIP4, -1, -1, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
        {46, SIP6, DIP6, -1, -1, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="},
        {46, DIP6, SIP6, -1, -1, 0, "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="},
    };
    check_cases(cases, VG_ARRAY_SIZE(cases));
}

/* baseline/README.md, "A custom seed=1 value" */
Test(community_id, readme_table_seed1)
{
    static const struct cid_case cases[] = {
        {6, SIP4, DIP4, 1122, 3344, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
        {6, DIP4, SIP4, 3344, 1122, 1, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
        {17, SIP4, DIP4, 1122, 3344, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
        {17, DIP4, SIP4, 3344, 1122, 1, "1:OShq+iKDAMVouh/4bMxB9Sz4amw="},
        {132, SIP4, DIP4, 1122, 3344, 1, "1:uitchpn5MMGAQKBJh7bIr/bAr7s="},
        {1, SIP4, DIP4, 8, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="},
        {1, DIP4, SIP4, 0, 0, 1, "1:9pr4ZGTICiuZoIh90RRYE2RyXpU="},
        {1, SIP4, DIP4, 11, 0, 1, "1:1DD7cWGC/Yg91YGsQeni8du3pIA="},
        {58, SIP6, DIP6, 128, 0, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="},
        {58, DIP6, SIP6, 129, 0, 1, "1:IO27GQzPuCtNnwFvjWALMHu5tJE="},
        {58, SIP6, DIP6, 146, 0, 1, "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s="},
        {46, SIP4, DIP4, -1, -1, 1, "1:/buhqeOmaRCopOZFy9HnoJd5XW8="},
        {46, DIP6, SIP6, -1, -1, 1, "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM="},
    };
    check_cases(cases, VG_ARRAY_SIZE(cases));
}

/* baseline/baseline_deflt.json (flows of pcaps/combined.pcap.gz). The JSON
 * lists ICMP tuples after the type mapping; here they are given as the
 * packets carry them: sport = type, dport = code. */
Test(community_id, pcap_baseline_default_seed)
{
    static const struct cid_case cases[] = {
        /* ICMPv6 neighbor solicitation and the advertisement answering it */
        {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, 0,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
        {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0, 0,
         "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
        /* the same pair the other way round is another flow */
        {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 0, 0,
         "1:zavyT/cezQr1fmImYCwYnMXbgck="},
        {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 0, 0,
         "1:zavyT/cezQr1fmImYCwYnMXbgck="},
        /* one-way ICMPv6: time exceeded, destination unreachable code 4 */
        {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, 0,
         "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
        {58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, 0,
         "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
        /* ICMPv6 echo request and reply */
        {58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 0, 0,
         "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
        {58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0, 0,
         "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
        /* router solicitation and advertisement to multicast */
        {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
        {58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 0, 0, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
        /* ICMP echo request and reply */
        {1, "192.168.0.89", "192.168.0.1", 8, 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
        {1, "192.168.0.1", "192.168.0.89", 0, 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
        /* ICMP time exceeded */
        {1, "10.0.0.1", "10.0.0.2", 11, 0, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
        /* TCP over IPv6 */
        {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, 0,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
        {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, 0,
         "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
        /* SCTP */
        {132, "192.168.170.8", "192.168.170.56", 7, 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
        {132, "192.168.170.56", "192.168.170.8", 7, 7, 0, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
        /* TCP and UDP over IPv4 */
        {6, "128.232.110.120", "66.35.250.204", 34855, 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        {6, "66.35.250.204", "128.232.110.120", 80, 34855, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
        {17, "192.168.1.52", "8.8.8.8", 54585, 53, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
        {17, "8.8.8.8", "192.168.1.52", 53, 54585, 0, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
        /* RSVP: no ports */
        {46, "10.1.12.1", "10.1.12.2", -1, -1, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
        {46, "10.1.12.2", "10.1.12.1", -1, -1, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
    };
    check_cases(cases, VG_ARRAY_SIZE(cases));
}

/* baseline/baseline_seed1.json */
Test(community_id, pcap_baseline_seed1)
{
    static const struct cid_case cases[] = {
        {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0, 1,
         "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
        {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, 1,
         "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="},
        {58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0, 1,
         "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
        {1, "192.168.0.1", "192.168.0.89", 0, 0, 1, "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
        {1, "10.0.0.1", "10.0.0.2", 11, 0, 1, "1:XjUibYHaafLQ3pxQeiMI8g25q20="},
        {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, 1,
         "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
        {6, "128.232.110.120", "66.35.250.204", 34855, 80, 1, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
        {17, "8.8.8.8", "192.168.1.52", 53, 54585, 1, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
        {46, "10.1.12.2", "10.1.12.1", -1, -1, 1, "1:rYir8gphR31noO9iDRQmF/BteEI="},
    };
    check_cases(cases, VG_ARRAY_SIZE(cases));
}

/* A one-way ICMP message keeps its direction: reversed, it is another flow. */
Test(community_id, icmp_one_way_is_directional)
{
    struct cid_case fwd = {1, "10.0.0.1", "10.0.0.2", 11, 0, 0, NULL};
    struct cid_case rev = {1, "10.0.0.2", "10.0.0.1", 11, 0, 0, NULL};
    struct vg_event_tuple t;
    char a[32], b[32];
    make_tuple(&t, &fwd);
    vg_community_id_v1(&t, 0, a, sizeof(a));
    make_tuple(&t, &rev);
    vg_community_id_v1(&t, 0, b, sizeof(b));
    cr_assert_str_eq(a, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
    cr_assert_str_neq(a, b);
}

/* Equal addresses: the smaller port goes first. */
Test(community_id, equal_addresses_order_by_port)
{
    struct cid_case c1 = {6, "10.0.0.1", "10.0.0.1", 1000, 80, 0, NULL};
    struct cid_case c2 = {6, "10.0.0.1", "10.0.0.1", 80, 1000, 0, NULL};
    struct vg_event_tuple t;
    char a[32], b[32];
    make_tuple(&t, &c1);
    vg_community_id_v1(&t, 0, a, sizeof(a));
    make_tuple(&t, &c2);
    vg_community_id_v1(&t, 0, b, sizeof(b));
    cr_assert_str_eq(a, b);
    cr_assert_eq(strlen(a), 30);
}

/* A buffer that cannot hold the value gets an empty string, never an
 * overflow. */
Test(community_id, short_buffer)
{
    struct cid_case c = {6, SIP4, DIP4, 1122, 3344, 0, NULL};
    struct vg_event_tuple t;
    char out[40];
    make_tuple(&t, &c);
    memset(out, 'x', sizeof(out));
    vg_community_id_v1(&t, 0, out, 30);
    cr_assert_eq(out[0], '\0');
    cr_assert_eq(out[1], 'x');
    vg_community_id_v1(&t, 0, out, 31);
    cr_assert_str_eq(out, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
    cr_assert_eq(out[31], 'x');
}
