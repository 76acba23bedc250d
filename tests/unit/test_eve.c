/* JSON text, EVE records and the exporter thread. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vigil/event.h"
#include "vigil/flow.h"

/* ---- helpers ---- */

static char *json_string(const void *s, size_t n)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append_json_string(&j, s, n);
    cr_assert_not(j.truncated);
    char *out = strndup(j.buf, j.len);
    cr_assert_eq(strlen(out), j.len, "output holds a NUL byte");
    vg_jbuf_free(&j);
    return out;
}

#define EXPECT_JSON(input, expected)                                                               \
    do {                                                                                           \
        char *got_ = json_string((input), sizeof(input) - 1);                                      \
        cr_expect_str_eq(got_, (expected));                                                        \
        free(got_);                                                                                \
    } while (0)

#define FFFD "\xef\xbf\xbd"

static void set_addr(struct vg_ip_addr *a, int family, const char *text)
{
    memset(a, 0, sizeof(*a));
    cr_assert_eq(inet_pton(family == 6 ? AF_INET6 : AF_INET, text, a->b), 1, "%s", text);
}

/* Checks that out is exactly "{" field "," field ... "}", one field at a
 * time so that a mismatch names the field. */
static void expect_fields(const char *out, const char *const *fields, size_t n)
{
    size_t pos = 0;
    cr_assert_eq(out[pos], '{', "record starts with %.20s", out);
    pos++;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(fields[i]);
        cr_assert(strncmp(out + pos, fields[i], len) == 0, "field %zu: expected %s\n  got %.*s", i,
                  fields[i], (int)len, out + pos);
        pos += len;
        char sep = i + 1 < n ? ',' : '}';
        cr_assert_eq(out[pos], sep, "after field %zu (%s): '%c' in %s", i, fields[i], out[pos],
                     out);
        pos++;
    }
    cr_assert_eq(out[pos], '\0', "trailing text: %s", out + pos);
}

/* ---- vg_jbuf ---- */

Test(jbuf, append_and_reset)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append(&j, "abc", 3);
    vg_jbuf_appendf(&j, "-%d-%s", 42, "x");
    cr_assert_str_eq(j.buf, "abc-42-x");
    cr_assert_eq(j.len, 8);
    vg_jbuf_reset(&j);
    cr_assert_eq(j.len, 0);
    cr_assert_str_eq(j.buf, "");
    vg_jbuf_free(&j);
    cr_assert_null(j.buf);
}

Test(jbuf, grows_for_large_appends)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    char *big = malloc(100000);
    memset(big, 'a', 100000);
    for (int i = 0; i < 10; i++)
        vg_jbuf_append(&j, big, 100000);
    cr_assert_eq(j.len, 1000000);
    cr_assert_eq(j.buf[j.len], '\0');
    cr_assert_eq(j.buf[999999], 'a');
    /* appendf past the current capacity */
    vg_jbuf_reset(&j);
    vg_jbuf_appendf(&j, "<%.*s>", 5000, big);
    cr_assert_eq(j.len, 5002);
    cr_assert_eq(j.buf[0], '<');
    cr_assert_eq(j.buf[5001], '>');
    cr_assert_not(j.truncated);
    free(big);
    vg_jbuf_free(&j);
}

Test(jbuf, works_from_zeroed_struct)
{
    struct vg_jbuf j = {0};
    vg_jbuf_appendf(&j, "%s", "hello");
    vg_jbuf_append(&j, " world", 6);
    cr_assert_str_eq(j.buf, "hello world");
    vg_jbuf_free(&j);
}

/* An append that cannot be satisfied keeps what fits, raises the flag and
 * leaves the text alone until reset. A size no allocator can give stands in
 * for an allocation failure. */
Test(jbuf, failed_growth_keeps_prefix_and_flags)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    cr_assert_not_null(j.buf);
    vg_jbuf_append(&j, "head:", 5);
    size_t cap = j.cap;
    static char src[1 << 16];
    memset(src, 'z', sizeof(src));
    vg_jbuf_append(&j, src, SIZE_MAX / 2 + 1);
    cr_assert(j.truncated);
    cr_assert_eq(j.cap, cap);
    cr_assert_eq(j.len, cap - 1);
    cr_assert_eq(j.buf[j.len], '\0');
    cr_assert(strncmp(j.buf, "head:zzz", 8) == 0);
    vg_jbuf_append(&j, "more", 4);
    vg_jbuf_appendf(&j, "%d", 5);
    cr_assert_eq(j.len, cap - 1);
    vg_jbuf_reset(&j);
    cr_assert_not(j.truncated);
    vg_jbuf_append(&j, "ok", 2);
    cr_assert_str_eq(j.buf, "ok");
    vg_jbuf_free(&j);
}

/* ---- JSON strings ---- */

Test(json_string, plain_and_empty)
{
    EXPECT_JSON("", "\"\"");
    EXPECT_JSON("GET /index.html HTTP/1.1", "\"GET /index.html HTTP/1.1\"");
    EXPECT_JSON("a/b", "\"a/b\"");
}

Test(json_string, quotes_and_backslashes)
{
    EXPECT_JSON("say \"hi\"", "\"say \\\"hi\\\"\"");
    EXPECT_JSON("C:\\dir\\", "\"C:\\\\dir\\\\\"");
    EXPECT_JSON("\\\"", "\"\\\\\\\"\"");
    EXPECT_JSON("\"", "\"\\\"\"");
}

Test(json_string, control_bytes)
{
    EXPECT_JSON("\n\r\t\b\f", "\"\\n\\r\\t\\b\\f\"");
    EXPECT_JSON("\x01\x02\x1b\x1f", "\"\\u0001\\u0002\\u001b\\u001f\"");
    EXPECT_JSON("\x7f", "\"\\u007f\"");
    EXPECT_JSON("a\x0b"
                "b",
                "\"a\\u000bb\"");
}

Test(json_string, nul_bytes_inside)
{
    EXPECT_JSON("a\0b", "\"a\\u0000b\"");
    EXPECT_JSON("\0\0", "\"\\u0000\\u0000\"");
}

Test(json_string, valid_multibyte_passes_through)
{
    EXPECT_JSON("caf\xc3\xa9", "\"caf\xc3\xa9\"");             /* U+00E9 */
    EXPECT_JSON("\xc2\x80", "\"\xc2\x80\"");                   /* U+0080, smallest 2-byte */
    EXPECT_JSON("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");           /* U+0800, smallest 3-byte */
    EXPECT_JSON("\xe2\x82\xac", "\"\xe2\x82\xac\"");           /* U+20AC euro sign */
    EXPECT_JSON("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");           /* U+D7FF, below surrogates */
    EXPECT_JSON("\xee\x80\x80", "\"\xee\x80\x80\"");           /* U+E000, above surrogates */
    EXPECT_JSON("\xef\xbf\xbd", "\"\xef\xbf\xbd\"");           /* U+FFFD itself */
    EXPECT_JSON("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\"");   /* U+10000, smallest 4-byte */
    EXPECT_JSON("\xf0\x9f\x98\x80!", "\"\xf0\x9f\x98\x80!\""); /* U+1F600 */
    EXPECT_JSON("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");   /* U+10FFFF, the largest */
    EXPECT_JSON("\xd0\x9f\xd1\x80\xd0\xb8", "\"\xd0\x9f\xd1\x80\xd0\xb8\""); /* Cyrillic */
}

Test(json_string, lone_continuation_bytes)
{
    EXPECT_JSON("\x80", "\"" FFFD "\"");
    EXPECT_JSON("a\xbf"
                "b",
                "\"a" FFFD "b\"");
    EXPECT_JSON("\x80\x80", "\"" FFFD FFFD "\"");
}

Test(json_string, invalid_lead_bytes)
{
    EXPECT_JSON("\xfe\xff", "\"" FFFD FFFD "\"");
    EXPECT_JSON("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* above U+10FFFF */
}

Test(json_string, overlong_encodings)
{
    /* '/' as two, three and four bytes; NUL as two bytes */
    EXPECT_JSON("\xc0\xaf", "\"" FFFD FFFD "\"");
    EXPECT_JSON("\xc1\xbf", "\"" FFFD FFFD "\"");
    EXPECT_JSON("\xe0\x80\xaf", "\"" FFFD FFFD FFFD "\"");
    EXPECT_JSON("\xe0\x9f\xbf", "\"" FFFD FFFD FFFD "\"");
    EXPECT_JSON("\xf0\x80\x80\xaf", "\"" FFFD FFFD FFFD FFFD "\"");
    EXPECT_JSON("\xf0\x8f\xbf\xbf", "\"" FFFD FFFD FFFD FFFD "\"");
    EXPECT_JSON("\xc0\x80", "\"" FFFD FFFD "\"");
}

Test(json_string, surrogates)
{
    EXPECT_JSON("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""); /* U+D800 */
    EXPECT_JSON("\xed\xbf\xbf", "\"" FFFD FFFD FFFD "\""); /* U+DFFF */
    EXPECT_JSON("\xed\xa0\xbd\xed\xb8\x80",                /* CESU-8 pair */
                "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
}

Test(json_string, above_unicode_range)
{
    EXPECT_JSON("\xf4\x90\x80\x80", "\"" FFFD FFFD FFFD FFFD "\""); /* U+110000 */
}

Test(json_string, truncated_sequences)
{
    EXPECT_JSON("ab\xe2\x82", "\"ab" FFFD FFFD "\"");
    EXPECT_JSON("\xc3", "\"" FFFD "\"");
    EXPECT_JSON("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
    /* cut short in the middle, then ASCII */
    EXPECT_JSON("\xe2\x82x", "\"" FFFD FFFD "x\"");
    EXPECT_JSON("\xf0\x9f\x98\"", "\"" FFFD FFFD FFFD "\\\"\"");
}

Test(json_string, mixed_hostile_input)
{
    EXPECT_JSON("<\"\\\n\0\xff\xc3\xa9\x7f>", "\"<\\\"\\\\\\n\\u0000" FFFD "\xc3\xa9\\u007f>\"");
}

Test(json_string, long_inputs)
{
    /* more escapes than the staging buffer holds */
    size_t n = 1000;
    uint8_t *in = malloc(n);
    memset(in, 0x01, n);
    char *out = json_string(in, n);
    cr_assert_eq(strlen(out), n * 6 + 2);
    for (size_t i = 0; i < n; i++)
        cr_assert(memcmp(out + 1 + i * 6, "\\u0001", 6) == 0, "at %zu", i);
    free(out);

    /* alternating plain and invalid bytes */
    for (size_t i = 0; i < n; i++)
        in[i] = i % 2 ? 0x80 : 'x';
    out = json_string(in, n);
    cr_assert_eq(strlen(out), n / 2 * 4 + 2);
    cr_assert(memcmp(out, "\"x" FFFD "x" FFFD, 9) == 0);
    free(out);
    free(in);
}

/* ---- EVE records ---- */

static const struct vg_rule_meta test_rule = {
    .sid = 2000001,
    .gid = 1,
    .rev = 3,
    .priority = 2,
    .msg = "ET TEST \"quoted\" back\\slash",
    .classtype = "bad-unknown",
    .category = "Potentially Bad Traffic",
};

static void make_tcp_alert(struct vg_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = VG_EVENT_ALERT;
    ev->ts_us = UINT64_C(1452489054612110);
    ev->flow_id = UINT64_C(1234567890123);
    ev->pcap_cnt = 42;
    ev->tuple.family = 4;
    ev->tuple.proto = 6;
    set_addr(&ev->tuple.src, 4, "10.0.0.1");
    set_addr(&ev->tuple.dst, 4, "192.168.1.10");
    ev->tuple.sport = 49152;
    ev->tuple.dport = 80;
    ev->tuple.has_ports = 1;
    ev->tuple.vlan[0] = 100;
    ev->tuple.vlan_count = 1;
    ev->u.alert.rule = &test_rule;
    ev->u.alert.has_flow = 1;
    ev->u.alert.to_server = 1;
}

Test(eve, alert_metadata_and_target)
{
    static const struct vg_rule_kv kv[] = {
        {"cve", "CVE_2022_1388"},
        {"cve", "CVE_2022_41800"},
        {"confidence", "confirmed"},
    };
    struct vg_rule_meta rule = test_rule;
    rule.metadata = kv;
    rule.nmetadata = 3;
    rule.target = VG_TARGET_DEST;
    struct vg_event ev;
    make_tcp_alert(&ev);
    ev.u.alert.rule = &rule;
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, NULL);
    cr_assert_not_null(strstr(j.buf,
                              "\"severity\":2,\"source\":{\"ip\":\"10.0.0.1\",\"port\":49152},"
                              "\"target\":{\"ip\":\"192.168.1.10\",\"port\":80},"
                              "\"metadata\":{\"cve\":[\"CVE_2022_1388\",\"CVE_2022_41800\"],"
                              "\"confidence\":[\"confirmed\"]}}"),
                       "%s", j.buf);

    /* target:src_ip swaps the sides */
    rule.target = VG_TARGET_SRC;
    rule.nmetadata = 0;
    vg_jbuf_reset(&j);
    vg_eve_format(&j, &ev, NULL);
    cr_assert_not_null(strstr(j.buf,
                              "\"severity\":2,\"source\":{\"ip\":\"192.168.1.10\",\"port\":80},"
                              "\"target\":{\"ip\":\"10.0.0.1\",\"port\":49152}}"),
                       "%s", j.buf);
    vg_jbuf_free(&j);
}

Test(eve, alert_record)
{
    struct vg_event ev;
    make_tcp_alert(&ev);
    struct vg_eve_opts o = {.community_id = true, .pcap_filename = "/data/in \"1\".pcap"};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);

    static const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:10:54.612110+0000\"",
        "\"flow_id\":1234567890123",
        "\"pcap_cnt\":42",
        "\"event_type\":\"alert\"",
        "\"vlan\":[100]",
        "\"src_ip\":\"10.0.0.1\"",
        "\"src_port\":49152",
        "\"dest_ip\":\"192.168.1.10\"",
        "\"dest_port\":80",
        "\"proto\":\"TCP\"",
        "\"community_id\":\"1:M8YxGw1i+n/S2TU+8B7MdJZLL4M=\"",
        "\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":2000001,\"rev\":3,"
        "\"signature\":\"ET TEST \\\"quoted\\\" back\\\\slash\","
        "\"category\":\"Potentially Bad Traffic\",\"severity\":2}",
        "\"direction\":\"to_server\"",
        "\"pcap_filename\":\"/data/in \\\"1\\\".pcap\"",
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    cr_assert_eq(strlen(j.buf), j.len);
    cr_assert_null(strchr(j.buf, '\n'));

    /* the whole line, as one string */
    cr_assert_str_eq(
        j.buf,
        "{\"timestamp\":\"2016-01-11T05:10:54.612110+0000\",\"flow_id\":1234567890123,"
        "\"pcap_cnt\":42,\"event_type\":\"alert\",\"vlan\":[100],\"src_ip\":\"10.0.0.1\","
        "\"src_port\":49152,\"dest_ip\":\"192.168.1.10\",\"dest_port\":80,\"proto\":\"TCP\","
        "\"community_id\":\"1:M8YxGw1i+n/S2TU+8B7MdJZLL4M=\",\"alert\":{\"action\":\"allowed\","
        "\"gid\":1,\"signature_id\":2000001,\"rev\":3,\"signature\":\"ET TEST \\\"quoted\\\" "
        "back\\\\slash\",\"category\":\"Potentially Bad Traffic\",\"severity\":2},"
        "\"direction\":\"to_server\",\"pcap_filename\":\"/data/in \\\"1\\\".pcap\"}");
    vg_jbuf_free(&j);
}

Test(eve, alert_without_flow_and_optional_fields)
{
    struct vg_event ev;
    make_tcp_alert(&ev);
    ev.flow_id = 0;
    ev.pcap_cnt = 0;
    ev.tuple.vlan_count = 0;
    ev.u.alert.has_flow = 0;
    static const struct vg_rule_meta bare = {
        .sid = 7, .gid = 1, .rev = 1, .priority = 3, .msg = "", .category = ""};
    ev.u.alert.rule = &bare;
    struct vg_eve_opts o = {.in_iface = "eth0"};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);

    static const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:10:54.612110+0000\"",
        "\"event_type\":\"alert\"",
        "\"src_ip\":\"10.0.0.1\"",
        "\"src_port\":49152",
        "\"dest_ip\":\"192.168.1.10\"",
        "\"dest_port\":80",
        "\"proto\":\"TCP\"",
        ("\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":7,\"rev\":1,"
         "\"signature\":\"\",\"category\":\"\",\"severity\":3}"),
        "\"in_iface\":\"eth0\"",
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    vg_jbuf_free(&j);
}

Test(eve, alert_to_client_icmp)
{
    struct vg_event ev;
    make_tcp_alert(&ev);
    ev.tuple.proto = 1;
    ev.tuple.has_ports = 0;
    ev.tuple.sport = 0;
    ev.tuple.dport = 0;
    ev.tuple.icmp_type = 8;
    ev.tuple.icmp_code = 0;
    set_addr(&ev.tuple.dst, 4, "10.0.0.2");
    ev.tuple.vlan[1] = 200;
    ev.tuple.vlan_count = 2;
    ev.u.alert.to_server = 0;
    struct vg_eve_opts o = {.community_id = true};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);

    static const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:10:54.612110+0000\"",
        "\"flow_id\":1234567890123",
        "\"pcap_cnt\":42",
        "\"event_type\":\"alert\"",
        "\"vlan\":[100,200]",
        "\"src_ip\":\"10.0.0.1\"",
        "\"dest_ip\":\"10.0.0.2\"",
        "\"proto\":\"ICMP\"",
        "\"icmp_type\":8",
        "\"icmp_code\":0",
        "\"community_id\":\"1:YcMyyWJfhc95EW1GfXt6jlZ3DiQ=\"",
        "\"alert\":{\"action\":\"allowed\",\"gid\":1,\"signature_id\":2000001,\"rev\":3,"
        "\"signature\":\"ET TEST \\\"quoted\\\" back\\\\slash\","
        "\"category\":\"Potentially Bad Traffic\",\"severity\":2}",
        "\"direction\":\"to_client\"",
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    vg_jbuf_free(&j);
}

static void make_tcp_flow(struct vg_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = VG_EVENT_FLOW;
    ev->ts_us = UINT64_C(1452489999000000); /* when it expired; not the record's time */
    ev->flow_id = UINT64_C(987654321);
    ev->tuple.family = 6;
    ev->tuple.proto = 6;
    set_addr(&ev->tuple.src, 6, "2001:db8::1");
    set_addr(&ev->tuple.dst, 6, "2001:db8::2");
    ev->tuple.sport = 51000;
    ev->tuple.dport = 443;
    ev->tuple.has_ports = 1;
    struct vg_event_flow *f = &ev->u.flow;
    f->pkts_toserver = 10;
    f->pkts_toclient = 8;
    f->bytes_toserver = 1500;
    f->bytes_toclient = 9000;
    f->start_us = UINT64_C(1452489054612110);
    f->end_us = UINT64_C(1452489120112110); /* 65.5 s later */
    f->state = VG_FLOW_STATE_CLOSED;
    f->reason = VG_FLOW_END_TIMEOUT;
    f->alerted = 1;
    f->tcp_state = VG_TCP_CLOSED;
    f->tcp_flags_ts = 0x1b; /* SYN FIN PSH ACK */
    f->tcp_flags_tc = 0x16; /* SYN RST ACK */
}

Test(eve, flow_record)
{
    struct vg_event ev;
    make_tcp_flow(&ev);
    struct vg_eve_opts o = {.community_id = true, .community_id_seed = 7};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);

    cr_assert_str_eq(vg_flow_state_name(VG_FLOW_STATE_CLOSED), "closed");
    cr_assert_str_eq(vg_flow_end_reason_name(VG_FLOW_END_TIMEOUT), "timeout");
    static const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:12:00.112110+0000\"",
        "\"flow_id\":987654321",
        "\"event_type\":\"flow\"",
        "\"src_ip\":\"2001:db8::1\"",
        "\"src_port\":51000",
        "\"dest_ip\":\"2001:db8::2\"",
        "\"dest_port\":443",
        "\"proto\":\"TCP\"",
        "\"community_id\":\"1:J7RR8Fzj1Mz02moveddDGuN4KG4=\"",
        "\"flow\":{\"pkts_toserver\":10,\"pkts_toclient\":8,\"bytes_toserver\":1500,"
        "\"bytes_toclient\":9000,\"start\":\"2016-01-11T05:10:54.612110+0000\","
        "\"end\":\"2016-01-11T05:12:00.112110+0000\",\"age\":66,\"state\":\"closed\","
        "\"reason\":\"timeout\",\"alerted\":true}",
        ("\"tcp\":{\"tcp_flags\":\"1f\",\"tcp_flags_ts\":\"1b\",\"tcp_flags_tc\":\"16\","
         "\"syn\":true,\"fin\":true,\"rst\":true,\"psh\":true,\"ack\":true,\"state\":\"closed\"}"),
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    vg_jbuf_free(&j);
}

Test(eve, udp_flow_record_has_no_tcp_object)
{
    struct vg_event ev;
    make_tcp_flow(&ev);
    ev.tuple.family = 4;
    ev.tuple.proto = 17;
    set_addr(&ev.tuple.src, 4, "10.0.0.1");
    set_addr(&ev.tuple.dst, 4, "10.0.0.2");
    ev.tuple.sport = 5353;
    ev.tuple.dport = 53;
    ev.u.flow.state = VG_FLOW_STATE_ESTABLISHED;
    ev.u.flow.reason = VG_FLOW_END_SHUTDOWN;
    ev.u.flow.alerted = 0;
    /* under a second, but across a second boundary: age 1, as Suricata counts */
    ev.u.flow.end_us = ev.u.flow.start_us + 999999;
    struct vg_eve_opts o = {.community_id = true};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);

    static const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:10:55.612109+0000\"",
        "\"flow_id\":987654321",
        "\"event_type\":\"flow\"",
        "\"src_ip\":\"10.0.0.1\"",
        "\"src_port\":5353",
        "\"dest_ip\":\"10.0.0.2\"",
        "\"dest_port\":53",
        "\"proto\":\"UDP\"",
        "\"community_id\":\"1:6ShADtBMSf9PCJmUQKnw1SEPH+c=\"",
        "\"flow\":{\"pkts_toserver\":10,\"pkts_toclient\":8,\"bytes_toserver\":1500,"
        "\"bytes_toclient\":9000,\"start\":\"2016-01-11T05:10:54.612110+0000\","
        "\"end\":\"2016-01-11T05:10:55.612109+0000\",\"age\":1,\"state\":\"established\","
        "\"reason\":\"shutdown\",\"alerted\":false}",
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    vg_jbuf_free(&j);
}

Test(eve, tcp_flow_with_ecn_cwr_flags_and_other_proto_names)
{
    struct vg_event ev;
    make_tcp_flow(&ev);
    ev.u.flow.tcp_flags_ts = 0xc2;
    ev.u.flow.tcp_flags_tc = 0x00;
    ev.u.flow.tcp_state = VG_TCP_ESTABLISHED;
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, NULL);
    cr_assert_not_null(strstr(j.buf, ",\"tcp\":{\"tcp_flags\":\"c2\",\"tcp_flags_ts\":\"c2\","
                                     "\"tcp_flags_tc\":\"00\",\"syn\":true,\"ecn\":true,"
                                     "\"cwr\":true,\"state\":\"established\"}}"),
                       "%s", j.buf);

    /* no tcp state yet: no "state" in the tcp object */
    vg_jbuf_reset(&j);
    ev.u.flow.tcp_state = VG_TCP_NONE;
    vg_eve_format(&j, &ev, NULL);
    cr_assert_not_null(strstr(j.buf, "\"syn\":true,\"ecn\":true,\"cwr\":true}}"), "%s", j.buf);

    /* protocol names */
    struct {
        uint8_t proto;
        const char *text;
    } names[] = {
        {58, "\"proto\":\"IPv6-ICMP\""}, {47, "\"proto\":\"47\""}, {132, "\"proto\":\"132\""}};
    for (size_t i = 0; i < VG_ARRAY_SIZE(names); i++) {
        vg_jbuf_reset(&j);
        ev.tuple.proto = names[i].proto;
        ev.tuple.has_ports = 0;
        vg_eve_format(&j, &ev, NULL);
        cr_assert_not_null(strstr(j.buf, names[i].text), "%s", j.buf);
        cr_assert_null(strstr(j.buf, "\"tcp\""), "%s", j.buf);
        cr_assert_null(strstr(j.buf, "_port\""), "%s", j.buf);
    }
    vg_jbuf_free(&j);
}

Test(eve, anomaly_record)
{
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ANOMALY;
    ev.ts_us = UINT64_C(1452489054612110);
    ev.pcap_cnt = 7;
    ev.tuple.family = 4;
    ev.tuple.proto = 17;
    set_addr(&ev.tuple.src, 4, "10.0.0.1");
    set_addr(&ev.tuple.dst, 4, "10.0.0.2");
    ev.u.anomaly.event = VG_DEC_UDP_BAD_LEN;

    const char *name = vg_decode_event_name(VG_DEC_UDP_BAD_LEN);
    cr_assert_not_null(name);
    cr_assert(strncmp(name, "udp.", 4) == 0, "decoder event name %s", name);
    char anomaly[256];
    snprintf(anomaly, sizeof(anomaly),
             "\"anomaly\":{\"type\":\"decode\",\"event\":\"%s\",\"layer\":\"udp\"}", name);

    struct vg_eve_opts o = {.pcap_filename = "x.pcap"};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);
    const char *const fields[] = {
        "\"timestamp\":\"2016-01-11T05:10:54.612110+0000\"",
        "\"pcap_cnt\":7",
        "\"event_type\":\"anomaly\"",
        "\"src_ip\":\"10.0.0.1\"",
        "\"dest_ip\":\"10.0.0.2\"",
        "\"proto\":\"UDP\"",
        anomaly,
        "\"pcap_filename\":\"x.pcap\"",
    };
    expect_fields(j.buf, fields, VG_ARRAY_SIZE(fields));
    vg_jbuf_free(&j);
}

Test(eve, anomaly_before_ip_has_no_addresses)
{
    struct vg_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = VG_EVENT_ANOMALY;
    ev.ts_us = UINT64_C(1452489054000000);
    ev.u.anomaly.event = VG_DEC_LINK_TRUNCATED;
    const char *name = vg_decode_event_name(VG_DEC_LINK_TRUNCATED);
    cr_assert_not_null(name);

    struct vg_eve_opts o = {.community_id = true};
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_eve_format(&j, &ev, &o);
    cr_assert(
        strncmp(j.buf,
                "{\"timestamp\":\"2016-01-11T05:10:54.000000+0000\",\"event_type\":\"anomaly\","
                "\"anomaly\":{\"type\":\"decode\",\"event\":\"",
                strlen("{\"timestamp\":\"2016-01-11T05:10:54.000000+0000\",\"event_type\":"
                       "\"anomaly\",\"anomaly\":{\"type\":\"decode\",\"event\":\"")) == 0,
        "%s", j.buf);
    cr_assert_null(strstr(j.buf, "src_ip"));
    cr_assert_null(strstr(j.buf, "community_id"));
    vg_jbuf_free(&j);
}

Test(eve, format_appends)
{
    struct vg_event ev;
    make_tcp_alert(&ev);
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_jbuf_append(&j, "prefix ", 7);
    vg_eve_format(&j, &ev, NULL);
    cr_assert(strncmp(j.buf, "prefix {\"timestamp\":", 20) == 0, "%s", j.buf);
    vg_jbuf_free(&j);
}

/* ---- the exporter ---- */

struct sid_seen {
    uint32_t sids[8];
    uint64_t counts[8];
    const char *msgs[8];
    unsigned n;
};

static void collect_sid(void *user, uint32_t sid, const char *msg, uint64_t count)
{
    struct sid_seen *s = user;
    cr_assert_lt(s->n, 8);
    s->sids[s->n] = sid;
    s->msgs[s->n] = msg;
    s->counts[s->n] = count;
    s->n++;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

Test(exporter, drains_rings_counts_and_writes_lines, .timeout = 60)
{
    char path[] = "/tmp/vigil-eve-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    /* existing content is kept: the file is opened for appending */
    cr_assert_eq(write(fd, "old\n", 4), 4);
    close(fd);

    struct vg_event_ring *rings[3];
    for (int i = 0; i < 3; i++)
        rings[i] = vg_event_ring_new(256);

    static const struct vg_rule_meta r10 = {.sid = 10, .gid = 1, .rev = 1, .msg = "ten"};
    static const struct vg_rule_meta r5 = {.sid = 5, .gid = 1, .rev = 1, .msg = "five"};
    static const struct vg_rule_meta r900 = {.sid = 900, .gid = 1, .rev = 1, .msg = "nine hundred"};
    const struct vg_rule_meta *rules[] = {&r10, &r5, &r900, &r10};

    struct vg_eve_opts o = {.community_id = true, .pcap_filename = "t.pcap"};
    char err[256] = "";
    struct vg_exporter *x = vg_exporter_new(path, rings, 3, &o, err, sizeof(err));
    cr_assert_not_null(x, "%s", err);
    cr_assert_eq(vg_exporter_start(x), 0);

    /* 3000 events: pushed while the exporter runs, more than the rings hold */
    unsigned alerts = 0, flows = 0;
    for (unsigned i = 0; i < 3000; i++) {
        struct vg_event ev;
        if (i % 3 == 0) {
            make_tcp_flow(&ev);
            flows++;
        } else {
            make_tcp_alert(&ev);
            ev.u.alert.rule = rules[i % 4];
            alerts++;
        }
        ev.pcap_cnt = i + 1;
        while (!vg_event_ring_push(rings[i % 3], &ev))
            usleep(100);
    }
    vg_exporter_stop(x);

    const struct vg_exporter_stats *st = vg_exporter_stats(x);
    cr_assert_eq(st->events_written, 3000);
    cr_assert_eq(st->alerts, alerts);
    cr_assert_eq(st->flows, flows);
    cr_assert_eq(st->anomalies, 0);
    cr_assert_eq(st->write_errors, 0);

    struct sid_seen seen = {0};
    vg_exporter_foreach_sid(x, collect_sid, &seen);
    cr_assert_eq(seen.n, 3);
    cr_assert_eq(seen.sids[0], 5);
    cr_assert_eq(seen.sids[1], 10);
    cr_assert_eq(seen.sids[2], 900);
    cr_assert_str_eq(seen.msgs[0], "five");
    cr_assert_str_eq(seen.msgs[2], "nine hundred");
    cr_assert_eq(seen.counts[0] + seen.counts[1] + seen.counts[2], alerts);
    vg_exporter_free(x);

    size_t len;
    char *text = read_file(path, &len);
    cr_assert(strncmp(text, "old\n", 4) == 0);
    unsigned lines = 0;
    uint64_t seen_cnt[3] = {0};
    for (char *line = text + 4; *line != '\0';) {
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl, "last line unterminated");
        *nl = '\0';
        cr_assert_eq(line[0], '{');
        cr_assert_eq(nl[-1], '}');
        cr_assert_not_null(strstr(line, ",\"pcap_filename\":\"t.pcap\"}"), "%s", line);
        /* per ring, events come out in the order they went in */
        const char *pc = strstr(line, "\"pcap_cnt\":");
        cr_assert_not_null(pc);
        uint64_t cnt = strtoull(pc + 11, NULL, 10);
        unsigned ring = (unsigned)((cnt - 1) % 3);
        cr_assert_gt(cnt, seen_cnt[ring], "ring %u: %llu after %llu", ring, (unsigned long long)cnt,
                     (unsigned long long)seen_cnt[ring]);
        seen_cnt[ring] = cnt;
        lines++;
        line = nl + 1;
    }
    cr_assert_eq(lines, 3000);
    free(text);
    unlink(path);
    for (int i = 0; i < 3; i++)
        vg_event_ring_free(rings[i]);
}

Test(exporter, stop_without_start_drains_in_caller)
{
    char path[] = "/tmp/vigil-eve-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    unlink(path); /* the exporter creates it */

    struct vg_event_ring *ring = vg_event_ring_new(16);
    struct vg_event ev;
    make_tcp_alert(&ev);
    cr_assert(vg_event_ring_push(ring, &ev));
    cr_assert(vg_event_ring_push(ring, &ev));

    char err[256];
    mode_t old_mask = umask(022);
    struct vg_exporter *x = vg_exporter_new(path, &ring, 1, NULL, err, sizeof(err));
    umask(old_mask);
    cr_assert_not_null(x, "%s", err);
    vg_exporter_stop(x);
    vg_exporter_stop(x);
    cr_assert_eq(vg_exporter_stats(x)->events_written, 2);
    vg_exporter_free(x);

    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0644, "mode %o", sb.st_mode & 0777);
    unlink(path);
    vg_event_ring_free(ring);
}

Test(exporter, unwritable_path_is_an_error)
{
    char err[256] = "";
    struct vg_exporter *x =
        vg_exporter_new("/nonexistent-dir/eve.json", NULL, 0, NULL, err, sizeof(err));
    cr_assert_null(x);
    cr_assert_not_null(strstr(err, "/nonexistent-dir/eve.json"), "%s", err);
}

Test(exporter, write_error_is_counted_not_fatal)
{
    /* /dev/full accepts the open and fails every write with ENOSPC */
    if (access("/dev/full", W_OK) != 0)
        cr_skip_test("no /dev/full");
    struct vg_event_ring *ring = vg_event_ring_new(16);
    struct vg_event ev;
    make_tcp_alert(&ev);
    cr_assert(vg_event_ring_push(ring, &ev));

    char err[256];
    struct vg_exporter *x = vg_exporter_new("/dev/full", &ring, 1, NULL, err, sizeof(err));
    cr_assert_not_null(x, "%s", err);
    cr_assert_eq(vg_exporter_start(x), 0);
    vg_exporter_stop(x);
    const struct vg_exporter_stats *st = vg_exporter_stats(x);
    cr_assert_eq(st->events_written, 0);
    cr_assert_geq(st->write_errors, 1);
    cr_assert_eq(st->alerts, 1);
    vg_exporter_free(x);
    vg_event_ring_free(ring);
}
