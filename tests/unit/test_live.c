#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../dataplane/live.h"
#include "../../dataplane/summary.h"

/* Braces and brackets balance outside strings, and strings close. */
static bool json_balanced(const char *s)
{
    int depth = 0;
    bool in_str = false;
    for (const char *p = s; *p; p++) {
        if (in_str) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                in_str = false;
            continue;
        }
        if (*p == '"')
            in_str = true;
        else if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']')
            if (--depth < 0)
                return false;
    }
    return depth == 0 && !in_str;
}

static char *format_view(const struct vg_stats_view *v)
{
    struct vg_jbuf j;
    vg_jbuf_init(&j);
    vg_stats_event_format(&j, v);
    cr_assert(!j.truncated);
    char *out = strndup(j.buf, j.len);
    vg_jbuf_free(&j);
    return out;
}

Test(live, counters_publish_and_read_copy_every_word)
{
    struct vg_capture_counters src, pub, out;
    uint64_t *w = (uint64_t *)&src;
    for (size_t i = 0; i < sizeof(src) / sizeof(uint64_t); i++)
        w[i] = 1000 + i;
    memset(&pub, 0, sizeof(pub));
    vg_counters_publish(&pub, &src, sizeof(src));
    memset(&out, 0xff, sizeof(out));
    vg_counters_read(&out, &pub, sizeof(pub));
    cr_assert_eq(memcmp(&out, &src, sizeof(src)), 0);
    cr_assert_eq(out.ring_full, src.ring_full);
}

Test(live, stats_event_has_suricata_layout_and_every_drop_cause)
{
    struct vg_worker_stats ws[2];
    struct vg_flow_table_stats fs[2];
    memset(ws, 0, sizeof(ws));
    memset(fs, 0, sizeof(fs));
    ws[0].packets = 6;
    ws[0].alerts = 3;
    ws[1].packets = 4;
    ws[1].alerts = 1;
    ws[1].events_dropped = 2;
    ws[0].pcre_limit_hits = 5;
    ws[1].pcre_limit_hits = 2;
    ws[1].stream_looks_deferred = 9;
    ws[0].stream_undecided_at_close = 1;
    fs[0].created = 3;
    fs[0].active = 1;
    fs[0].ended_timeout = 1;
    fs[0].tcp_midstream = 1;
    fs[1].created = 2;
    fs[1].active = 1;
    fs[1].ended_forced = 1;
    struct vg_stats_view v;
    memset(&v, 0, sizeof(v));
    v.now_us = 1760529600000000ull; /* 2025-10-15T12:00:00Z */
    v.uptime_s = 42;
    v.cap.packets = 10;
    v.cap.bytes = 1000;
    v.cap.kernel_packets = 12;
    v.cap.kernel_drops = 2;
    v.cap.kernel_ifdrops = 1;
    v.cap.ring_full = 3;
    v.dec.pkts = 10;
    v.dec.ipv4 = 9;
    v.dec.tcp = 7;
    v.dec.invalid = 1;
    v.nworkers = 2;
    v.workers = ws;
    v.worker_flows = fs;
    v.detectors.alerts[VG_DETECTOR_NEW_EGRESS] = 3;
    v.detectors.new_egress_pairs = 2;
    char *s = format_view(&v);
    cr_assert(json_balanced(s), "not balanced JSON: %s", s);
    const char *head =
        "{\"timestamp\":\"2025-10-15T12:00:00.000000+0000\",\"event_type\":\"stats\","
        "\"stats\":{\"uptime\":42,\"capture\":{\"kernel_packets\":12,"
        "\"kernel_drops\":2,\"errors\":0,\"packets\":10,\"bytes\":1000,"
        "\"kernel_ifdrops\":1},\"decoder\":{\"pkts\":10,\"bytes\":0,\"invalid\":1,";
    cr_assert_eq(strncmp(s, head, strlen(head)), 0, "got %s", s);
    cr_assert_not_null(strstr(s, "\"ipv4\":9,"), "%s", s);
    cr_assert_not_null(strstr(s, "\"tcp\":7,"), "%s", s);
    cr_assert_not_null(strstr(s, "\"flow\":{\"total\":5,\"active\":2,\"timeout\":1,\"forced\":1,"
                                 "\"shutdown\":0,\"tcp_midstream\":1},\"detect\":{\"alert\":4,"
                                 "\"pcre_limit_hits\":7,\"flowbits_set_refused\":0,\"stream\":{"
                                 "\"windows_too_short\":0,\"pending_overflow\":0,"
                                 "\"undecided_at_close\":1,\"revisits_deferred\":9}},"
                                 "\"detectors\":{\"long_session\":{\"alerts\":0},\"new_egress\":{"
                                 "\"alerts\":3,\"pairs\":2,\"table_full\":0},\"mgmt_access\":{"
                                 "\"alerts\":0}},"
                                 "\"drops\":{\"kernel\":2,\"interface\":1,\"nic_full\":0,"
                                 "\"no_mbuf\":0,\"nic_errors\":0,\"worker_ring_full\":3,"
                                 "\"oversize\":0,\"malformed\":1,\"checksum\":0,"
                                 "\"event_ring_full\":2,\"flow_memcap_evictions\":1,"
                                 "\"tap_tx_full\":0}"),
                       "%s", s);
    const char *tail = ",\"workers\":[{\"packets\":6,\"alerts\":3,\"flows_active\":1,"
                       "\"events_dropped\":0},{\"packets\":4,\"alerts\":1,\"flows_active\":1,"
                       "\"events_dropped\":2}]}}";
    size_t n = strlen(s), tn = strlen(tail);
    cr_assert(n > tn && strcmp(s + n - tn, tail) == 0, "got %s", s);
    cr_assert_null(strstr(s, "\"dpdk\""), "a libpcap event has no dpdk section: %s", s);
    free(s);
}

Test(live, stats_event_dpdk_reports_ports_queues_and_tap)
{
    struct vg_port_summary ports[2];
    memset(ports, 0, sizeof(ports));
    snprintf(ports[0].name, sizeof(ports[0].name), "net_pcap0");
    ports[0].capture = true;
    ports[0].nqueues = 2;
    ports[0].ipackets = 7;
    ports[0].imissed = 5;
    ports[0].rx_nombuf = 6;
    ports[0].ierrors = 7;
    ports[0].q_ipackets[0] = 3;
    ports[0].q_ipackets[1] = 4;
    ports[0].tap_to = 1;
    ports[0].tap_sent = 7;
    ports[0].tap_dropped = 1;
    snprintf(ports[1].name, sizeof(ports[1].name), "odd\"name");
    ports[1].tap_to = -1;
    ports[1].opackets = 7;
    struct vg_stats_view v;
    memset(&v, 0, sizeof(v));
    v.now_us = 1760529600000000ull;
    v.dpdk = true;
    v.cap.nic_missed = 5;
    v.cap.nic_nombuf = 6;
    v.cap.errors = 7;
    v.cap.kernel_drops = 11;
    v.cap.tap_dropped = 1;
    v.nports = 2;
    v.ports = ports;
    char *s = format_view(&v);
    cr_assert(json_balanced(s), "not balanced JSON: %s", s);
    cr_assert_not_null(
        strstr(s, "\"errors\":7,\"packets\":0,\"bytes\":0,\"dpdk\":{\"imissed\":5,\"rx_nombuf\":6,"
                  "\"ierrors\":7},\"ports\":[{\"name\":\"net_pcap0\",\"ipackets\":7,\"imissed\":5,"
                  "\"rx_nombuf\":6,\"ierrors\":7,\"opackets\":0,\"queues\":[3,4],\"tap\":{\"to\":"
                  "\"odd\\\"name\",\"sent\":7,\"dropped\":1}},{\"name\":\"odd\\\"name\","
                  "\"ipackets\":0,\"imissed\":0,\"rx_nombuf\":0,\"ierrors\":0,\"opackets\":7,"
                  "\"queues\":[]}]},"),
        "%s", s);
    cr_assert_not_null(strstr(s, "\"nic_full\":5,\"no_mbuf\":6,\"nic_errors\":7,"), "%s", s);
    cr_assert_not_null(strstr(s, "\"tap_tx_full\":1}"), "%s", s);
    cr_assert_null(strstr(s, "kernel_ifdrops"), "a DPDK event has no kernel_ifdrops: %s", s);
    cr_assert_not_null(strstr(s, ",\"workers\":[]}}"), "%s", s);
    free(s);
}

Test(live, unknown_interface_is_refused_with_its_name)
{
    struct vg_reader r;
    memset(&r, 0, sizeof(r));
    r.iface = "vgnosuch0";
    char err[512] = "";
    cr_assert_eq(vg_reader_open(&r, err, sizeof(err)), -1);
    const char *want = "vgnosuch0: cannot capture: ";
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got '%s'", err);
    if (geteuid() == 0)
        cr_assert_not_null(strstr(err, "no such interface"), "got '%s'", err);
    vg_reader_close(&r);
}

Test(live, bad_bpf_filter_is_refused_with_the_filter)
{
    if (geteuid() != 0)
        cr_skip_test("opening the loopback interface needs root");
    struct vg_reader r;
    memset(&r, 0, sizeof(r));
    r.iface = "lo";
    r.bpf = "tcp port";
    char err[512] = "";
    cr_assert_eq(vg_reader_open(&r, err, sizeof(err)), -1);
    const char *want = "lo: bad BPF filter 'tcp port': ";
    cr_assert_eq(strncmp(err, want, strlen(want)), 0, "got '%s'", err);
    vg_reader_close(&r);
    memset(&r, 0, sizeof(r));
    r.iface = "lo";
    r.bpf = "tcp port 8443";
    cr_assert_eq(vg_reader_open(&r, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(r.linktype, 1, "loopback captures as Ethernet on Linux");
    vg_reader_close(&r);
}
