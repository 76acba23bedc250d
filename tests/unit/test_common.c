#include <criterion/criterion.h>
#include <string.h>

#include "vigil/common.h"

Test(common, ipv4_round_trip)
{
    struct vg_ip_addr a;
    char buf[64];
    cr_assert_eq(vg_ip_addr_parse("192.0.2.7", &a), 4);
    cr_assert_eq(a.b[0], 192);
    cr_assert_eq(a.b[3], 7);
    for (int i = 4; i < 16; i++)
        cr_assert_eq(a.b[i], 0, "bytes past an IPv4 address stay zero");
    cr_assert_str_eq(vg_ip_addr_str(&a, 4, buf, sizeof(buf)), "192.0.2.7");
}

Test(common, ipv6_round_trip_is_rfc5952)
{
    struct vg_ip_addr a;
    char buf[64];
    cr_assert_eq(vg_ip_addr_parse("2001:0db8:0000:0000:0000:0000:0000:0001", &a), 6);
    cr_assert_str_eq(vg_ip_addr_str(&a, 6, buf, sizeof(buf)), "2001:db8::1");
}

Test(common, bad_address_rejected)
{
    struct vg_ip_addr a;
    cr_assert_eq(vg_ip_addr_parse("300.1.1.1", &a), 0);
    cr_assert_eq(vg_ip_addr_parse("", &a), 0);
    cr_assert_eq(vg_ip_addr_parse("1.2.3", &a), 0);
}

Test(common, timestamp_is_utc_with_microseconds)
{
    char buf[40];
    /* 2016-01-11T05:10:54.612110 UTC */
    vg_format_timestamp(1452489054612110ull, buf, sizeof(buf));
    cr_assert_str_eq(buf, "2016-01-11T05:10:54.612110+0000");
    vg_format_timestamp(0, buf, sizeof(buf));
    cr_assert_str_eq(buf, "1970-01-01T00:00:00.000000+0000");
}

Test(common, sizes)
{
    uint64_t v;
    cr_assert_eq(vg_parse_size("128", &v), 0);
    cr_assert_eq(v, 128);
    cr_assert_eq(vg_parse_size("64kb", &v), 0);
    cr_assert_eq(v, 65536);
    cr_assert_eq(vg_parse_size("32MB", &v), 0);
    cr_assert_eq(v, 32ull << 20);
    cr_assert_eq(vg_parse_size("2gb", &v), 0);
    cr_assert_eq(v, 2ull << 30);
    cr_assert_eq(vg_parse_size("12 mb", &v), 0);
    cr_assert_eq(v, 12ull << 20);
    cr_assert_neq(vg_parse_size("mb", &v), 0);
    cr_assert_neq(vg_parse_size("-5", &v), 0);
    cr_assert_neq(vg_parse_size("5tb", &v), 0);
    cr_assert_neq(vg_parse_size("99999999999999999999", &v), 0);
    cr_assert_neq(vg_parse_size("17179869184gb", &v), 0, "overflow is refused");
}
