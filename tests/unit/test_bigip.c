/* BIG-IP fingerprints: the persistence cookie in its five encodings
 * (threat-model section 3.3, every worked example), the malformed variants
 * that must not decode, the private-member finding, the EVE members, the
 * management-plane URI classes and the ASM cookie name. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vigil/bigip.h"
#include "vigil/event.h"
#include "vigil/meta.h"

static int decode(const char *name, const char *value, struct vg_bigip_cookie *c)
{
    return vg_bigip_cookie_decode((const uint8_t *)name, name != NULL ? strlen(name) : 0,
                                  (const uint8_t *)value, strlen(value), c);
}

static const char *member_ip(const struct vg_bigip_cookie *c)
{
    static char buf[64];
    return vg_ip_addr_str(&c->addr, c->family, buf, sizeof(buf));
}

static const char *encode(const struct vg_bigip_cookie *c)
{
    static uint8_t mb[1024];
    static char out[1024];
    struct vg_meta_writer w;
    vg_meta_init(&w, mb, sizeof(mb));
    vg_bigip_cookie_encode(c, &w);
    uint32_t n = vg_meta_finish(&w);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append(&j, "{", 1);
    vg_meta_to_json(&j, mb, n, false);
    vg_jbuf_append(&j, "}", 1);
    snprintf(out, sizeof(out), "%.*s", (int)j.len, j.buf);
    vg_jbuf_free(&j);
    return out;
}

Test(bigip_cookie, format_a_worked_examples)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_web", "1677787402.20480.0000", &c), 0);
    cr_assert_eq(c.format, VG_BIGIP_COOKIE_IPV4);
    cr_assert_eq(c.family, 4);
    cr_assert_str_eq(member_ip(&c), "10.1.1.100");
    cr_assert_eq(c.port, 80);
    cr_assert_eq(c.route_domain, 0);
    cr_assert(c.private_member);
    cr_assert_not(c.encrypted);
    cr_assert(c.default_name);
    cr_assert_str_eq(c.pool, "pool_web");
    cr_assert_eq(c.pool_len, 8);

    cr_assert_eq(decode("BIGipServerp", "1677787402.36895.0000", &c), 0);
    cr_assert_eq(c.port, 8080);

    cr_assert_eq(decode("BIGipServerp", "2064452106.47873.0000", &c), 0);
    cr_assert_str_eq(member_ip(&c), "10.10.13.123");
    cr_assert_eq(c.port, 443);
}

Test(bigip_cookie, format_b_ipv4_route_domain)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_b", "rd5o00000000000000000000ffffc0000201o80", &c), 0);
    cr_assert_eq(c.format, VG_BIGIP_COOKIE_IPV4_RD);
    cr_assert_eq(c.family, 4);
    cr_assert_str_eq(member_ip(&c), "192.0.2.1");
    cr_assert_eq(c.port, 80);
    cr_assert_eq(c.route_domain, 5);
    cr_assert_not(c.private_member);
    cr_assert_eq(memcmp(c.addr.b + 4, "\0\0\0\0\0\0\0\0\0\0\0\0", 12), 0);
}

Test(bigip_cookie, format_c_ipv6)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_c", "vi20010112000000000000000000000030.20480", &c), 0);
    cr_assert_eq(c.format, VG_BIGIP_COOKIE_IPV6);
    cr_assert_eq(c.family, 6);
    cr_assert_str_eq(member_ip(&c), "2001:112::30");
    cr_assert_eq(c.port, 80);
    cr_assert_eq(c.route_domain, 0);
    cr_assert_not(c.private_member);
}

Test(bigip_cookie, format_d_ipv6_route_domain)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_d", "rd3o20010db8000000000000000000000010o8443", &c), 0);
    cr_assert_eq(c.format, VG_BIGIP_COOKIE_IPV6_RD);
    cr_assert_eq(c.family, 6);
    cr_assert_str_eq(member_ip(&c), "2001:db8::10");
    cr_assert_eq(c.port, 8443);
    cr_assert_eq(c.route_domain, 3);
    cr_assert_not(c.private_member);
    cr_assert_eq(decode("x", "rd1ofd000000000000000000000000000001o443", &c), 0);
    cr_assert(c.private_member);
    cr_assert_not(c.default_name);
    cr_assert_eq(c.pool_len, 0);
}

Test(bigip_cookie, encrypted)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_e", "!Vx3Q1bH2jPq6lR9mAbC+/de==", &c), 0);
    cr_assert_eq(c.format, VG_BIGIP_COOKIE_ENCRYPTED);
    cr_assert(c.encrypted);
    cr_assert_eq(c.family, 0);
    cr_assert_eq(decode("c", "!abc", &c), 0);
    cr_assert_eq(decode("c", "!", &c), -1);
    cr_assert_eq(decode("c", "!abc=d", &c), -1);
    cr_assert_eq(decode("c", "!abc===", &c), -1);
    cr_assert_eq(decode("c", "!ab c", &c), -1);
}

Test(bigip_cookie, renamed_cookie_decodes_by_its_value)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("SRVNAME", "1677787402.20480.0000", &c), 0);
    cr_assert_not(c.default_name);
    cr_assert_eq(c.pool_len, 0);
    cr_assert_eq(decode(NULL, "1677787402.20480.0000", &c), 0);
    /* the prefix is matched without case; the pool name is kept as sent */
    cr_assert_eq(decode("bigipserver~Common~Pool", "1677787402.20480.0000", &c), 0);
    cr_assert(c.default_name);
    cr_assert_str_eq(c.pool, "~Common~Pool");
}

Test(bigip_cookie, long_pool_names_are_cut)
{
    char name[400];
    strcpy(name, "BIGipServer");
    memset(name + 11, 'p', 300);
    name[311] = '\0';
    struct vg_bigip_cookie c;
    cr_assert_eq(decode(name, "1677787402.20480.0000", &c), 0);
    cr_assert_eq(c.pool_len, VG_BIGIP_POOL_MAX - 1);
    cr_assert_eq(strlen(c.pool), VG_BIGIP_POOL_MAX - 1);
}

Test(bigip_cookie, malformed_values_do_not_decode)
{
    static const char *const bad[] = {
        "",
        "4294967296.20480.0000",  /* address overflows 32 bits */
        "99999999999.20480.0000", /* 11 digits */
        "1677787402.65536.0000",  /* port field over 65535 */
        "1677787402.123456.0000", /* 6-digit port */
        "1677787402.20480.0001",  /* third field not 0000 */
        "1677787402.20480.00000", /* trailing garbage */
        "1677787402.20480.0000x",
        "1677787402.20480",
        ".20480.0000",
        "1677787402..0000",
        "-1677787402.20480.0000",
        "rdo00000000000000000000ffffc0000201o80",            /* rd without number */
        "rd5o00000000000000000000ffffc000020o80",            /* 31 hex digits */
        "rd5o00000000000000000000ffffc000020100o80",         /* 34 hex digits */
        "rd5o00000000000000000000ffffc0000201o65536",        /* port over 65535 */
        "rd5o00000000000000000000ffffc0000201o",             /* no port */
        "rd5o00000000000000000000ffffc0000201o80x",          /* trailing garbage */
        "rd5o00000000000000000000ffffc0000201",              /* no port field */
        "rd99999999999o00000000000000000000ffffc0000201o80", /* rd overflows */
        "rd5x00000000000000000000ffffc0000201o80",
        "rd5o00000000000000000000ffffg0000201o80",   /* not hex */
        "vi2001011200000000000000000000003.20480",   /* 31 hex digits */
        "vi200101120000000000000000000000300.20480", /* 33 hex digits */
        "vi20010112000000000000000000000030.65536",
        "vi20010112000000000000000000000030.",
        "vi20010112000000000000000000000030.20480.0000",
        "vi20010112000000000000000000000030",
        "deleted",
        "BIGipServer",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct vg_bigip_cookie c;
        cr_assert_eq(decode("BIGipServerpool", bad[i], &c), -1, "%s decoded", bad[i]);
    }
}

Test(bigip_cookie, boundaries_decode)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("c", "4294967295.65535.0000", &c), 0);
    cr_assert_str_eq(member_ip(&c), "255.255.255.255");
    cr_assert_eq(c.port, 65535);
    cr_assert_eq(decode("c", "0.0.0000", &c), 0);
    cr_assert_str_eq(member_ip(&c), "0.0.0.0");
    cr_assert_eq(c.port, 0);
    cr_assert_eq(decode("c", "rd4294967295o00000000000000000000FFFFC0000201o65535", &c), 0);
    cr_assert_eq(c.route_domain, 4294967295u);
    cr_assert_eq(c.port, 65535);
}

Test(bigip_cookie, private_members)
{
    static const struct {
        const char *value;
        bool private_member;
    } cases[] = {
        {"rd1o00000000000000000000ffff0a000001o80", true},   /* 10.0.0.1 */
        {"rd1o00000000000000000000ffffac100001o80", true},   /* 172.16.0.1 */
        {"rd1o00000000000000000000ffffac1f0001o80", true},   /* 172.31.0.1 */
        {"rd1o00000000000000000000ffffac200001o80", false},  /* 172.32.0.1 */
        {"rd1o00000000000000000000ffffc0a80101o80", true},   /* 192.168.1.1 */
        {"rd1o00000000000000000000ffff64400001o80", true},   /* 100.64.0.1 */
        {"rd1o00000000000000000000ffff64800001o80", false},  /* 100.128.0.1 */
        {"rd1o00000000000000000000ffff7f000001o80", true},   /* 127.0.0.1 */
        {"rd1o00000000000000000000ffffa9fe0101o80", true},   /* 169.254.1.1 */
        {"rd1o00000000000000000000ffff08080808o80", false},  /* 8.8.8.8 */
        {"vifc000000000000000000000000000001.20480", true},  /* fc00::1 */
        {"vifdff0000000000000000000000000001.20480", true},  /* fdff::1 */
        {"vife800000000000000000000000000001.20480", true},  /* fe80::1 */
        {"vifebf0000000000000000000000000001.20480", true},  /* febf::1 */
        {"vifec00000000000000000000000000001.20480", false}, /* fec0::1 */
        {"vi00000000000000000000000000000001.20480", true},  /* ::1 */
        {"vi00000000000000000000ffff0a000001.20480", true},  /* ::ffff:10.0.0.1 */
        {"vi00000000000000000000ffff08080808.20480", false}, /* ::ffff:8.8.8.8 */
        {"vi20010db8000000000000000000000001.20480", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct vg_bigip_cookie c;
        cr_assert_eq(decode("c", cases[i].value, &c), 0, "%s", cases[i].value);
        cr_assert_eq(c.private_member, cases[i].private_member, "%s", cases[i].value);
    }
    struct vg_bigip_cookie c;
    /* 192.168.1.10 in format A: 192 + 168*2^8 + 1*2^16 + 10*2^24 */
    cr_assert_eq(decode("c", "167880896.20480.0000", &c), 0);
    cr_assert_str_eq(member_ip(&c), "192.168.1.10");
    cr_assert(c.private_member);
}

Test(bigip_cookie, eve_members)
{
    struct vg_bigip_cookie c;
    cr_assert_eq(decode("BIGipServerpool_a", "1677787402.20480.0000", &c), 0);
    cr_assert_str_eq(encode(&c), "{\"pool_name\":\"pool_a\",\"member_ip\":\"10.1.1.100\","
                                 "\"member_port\":80,\"route_domain\":0,\"cookie_encrypted\":false,"
                                 "\"private_member\":true,\"format\":\"ipv4\"}");
    cr_assert_eq(decode("BIGipServerpool_d", "rd3o20010db8000000000000000000000010o8443", &c), 0);
    cr_assert_str_eq(encode(&c), "{\"pool_name\":\"pool_d\",\"member_ip\":\"2001:db8::10\","
                                 "\"member_port\":8443,\"route_domain\":3,"
                                 "\"cookie_encrypted\":false,\"private_member\":false,"
                                 "\"format\":\"ipv6_rd\"}");
    cr_assert_eq(decode("other", "rd5o00000000000000000000ffffc0000201o80", &c), 0);
    cr_assert_str_eq(encode(&c), "{\"member_ip\":\"192.0.2.1\",\"member_port\":80,"
                                 "\"route_domain\":5,\"cookie_encrypted\":false,"
                                 "\"private_member\":false,\"format\":\"ipv4_rd\"}");
    cr_assert_eq(decode("BIGipServerpool_c", "vi20010112000000000000000000000030.20480", &c), 0);
    cr_assert_str_eq(encode(&c), "{\"pool_name\":\"pool_c\",\"member_ip\":\"2001:112::30\","
                                 "\"member_port\":80,\"route_domain\":0,"
                                 "\"cookie_encrypted\":false,\"private_member\":false,"
                                 "\"format\":\"ipv6\"}");
    cr_assert_eq(decode("BIGipServerpool_e", "!Vx3Q1bH2jPq6lR9mAbC+/de==", &c), 0);
    cr_assert_str_eq(encode(&c), "{\"pool_name\":\"pool_e\",\"cookie_encrypted\":true,"
                                 "\"format\":\"encrypted\"}");
}

static enum vg_bigip_mgmt classify(const char *path)
{
    return vg_bigip_mgmt_classify((const uint8_t *)path, strlen(path));
}

Test(bigip_mgmt, classes)
{
    cr_assert_eq(classify("/tmui/login.jsp"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/tmui/locallb/workspace/fileRead.jsp"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/TMUI/Control/form"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/tmui"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/tmui/login.jsp/..;/tmui/system/user/authproperties.jsp"),
                 VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/hsqldb"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/hsqldb;"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/hsqldb\n"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/HSQLDB/"), VG_BIGIP_MGMT_TMUI);
    cr_assert_eq(classify("/mgmt/tm/util/bash"), VG_BIGIP_MGMT_REST);
    cr_assert_eq(classify("/mgmt/shared/authn/login"), VG_BIGIP_MGMT_REST);
    cr_assert_eq(classify("/mgmt"), VG_BIGIP_MGMT_REST);
    cr_assert_eq(classify("/MGMT/tm"), VG_BIGIP_MGMT_REST);
    cr_assert_eq(classify("/iControl/iControlPortal.cgi"), VG_BIGIP_MGMT_SOAP);
    cr_assert_eq(classify("/icontrol/iControlPortal.cgi"), VG_BIGIP_MGMT_SOAP);

    cr_assert_eq(classify("/tmuix"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/tmu"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/mgmtx/"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/management"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/iControl"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/iControlPortal.cgi"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/docs/tmui/"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("tmui/"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify("/"), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(classify(""), VG_BIGIP_MGMT_NONE);
    cr_assert_eq(vg_bigip_mgmt_classify(NULL, 0), VG_BIGIP_MGMT_NONE);
}

Test(bigip_mgmt, names)
{
    cr_assert_str_eq(vg_bigip_mgmt_name(VG_BIGIP_MGMT_TMUI), "tmui");
    cr_assert_str_eq(vg_bigip_mgmt_name(VG_BIGIP_MGMT_REST), "icontrol_rest");
    cr_assert_str_eq(vg_bigip_mgmt_name(VG_BIGIP_MGMT_SOAP), "icontrol_soap");
    cr_assert_null(vg_bigip_mgmt_name(VG_BIGIP_MGMT_NONE));
}

static bool ts(const char *name)
{
    return vg_bigip_is_ts_cookie((const uint8_t *)name, strlen(name));
}

Test(bigip_ts_cookie, names)
{
    cr_assert(ts("TS01a2b3c4"));
    cr_assert(ts("TS0123ABCD"));
    cr_assert(ts("TS01a2b3c4030"));
    cr_assert(ts("TS01a2b3c4_31"));
    cr_assert_not(ts("TS01a2b3c"));
    cr_assert_not(ts("TS01a2b3cg"));
    cr_assert_not(ts("ts01a2b3c4"));
    cr_assert_not(ts("XS01a2b3c4"));
    cr_assert_not(ts("TS"));
    cr_assert_not(vg_bigip_is_ts_cookie(NULL, 0));
}
