#!/usr/bin/env python3
"""End-to-end tests of DPDK capture (vigil --dpdk) without NICs or hugepages.

    python3 tests/pcap/run_dpdk.py --vigil BUILD/vigil --source-root . [-t NAME]... [--keep]

Each capture is replayed through DPDK's net_pcap virtual device
(--no-huge --no-pci --vdev=net_pcap0,rx_pcap=FILE) and the result is compared with
`vigil -r FILE` on the same capture, with the same rules and worker count. A DPDK run lasts
until vigil is stopped: the test waits for a stats event (stats.interval 1) saying every
packet of the capture was received, then sends SIGINT (or SIGTERM), and vigil drains its
queues and ends every flow.

What is compared, exactly:
  packet-time capture (dpdk.packet-time=capture: net_pcap hands over the capture file's
    timestamps, the dispatcher waits instead of dropping): every EVE record but the stats
    events (alerts, flows, anomalies) must equal -r's field by field, after removing
    pcap_cnt and pcap_filename (only a file run has them) and in_iface (only a live run has
    it). Timestamps, flow_id, flow start, end and age included. 1 worker (the worker lcore
    polls the port) and 2 workers (a dispatch lcore hashes address pairs and feeds the
    workers through rte_rings). Captures: the demo, pcaps/tests (Ethernet ones), some of
    suricata-verify, tunnels, fragments and TCP reassembly (--quick, as under the
    sanitizers: one of each kind, CAPTURES_QUICK).
  packet-time wall (the default): packet time is the wall clock when the burst arrived, so
    timestamps, flow start/end/age and flow_id (derived from the start time) differ. Compared
    are: per alert, sid, src/dest ip and port, proto, vlan, direction and community_id; per
    flow record, src/dest ip and port, proto, vlan, community_id, pkts and bytes each way,
    state, reason, alerted and the TCP flags. Only captures in which -r ends no flow by
    timeout are used (replayed at memory speed, no flow times out).
Link types other than Ethernet are left out: a DPDK port delivers Ethernet frames, and
net_pcap does not translate a Linux cooked or raw-IP capture.

Prints "PASS name", "FAIL name: why" or "SKIP name: why"; the last line counts them. Exit
status 1 when a test failed, 77 (skipped) when vigil was built without DPDK.
"""

import argparse
import calendar
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

RUN_TIMEOUT = 60
STOP_TIMEOUT = 30
EAL_COMMON = ["--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "256"]

DEMO = "pcaps/demo/demo.pcap"
PAYLOAD_RULES = "tests/pcap/rules/bigip-payload.rules"
BASIC = "tests/pcap/rules/test-basic.rules"
# Ethernet captures, with the rules they are run with.
CAPTURES = [
    (DEMO, PAYLOAD_RULES),
    ("pcaps/tests/vlan-qinq.pcap", BASIC),
    ("pcaps/tests/ipv6-ext.pcap", BASIC),
    ("pcaps/tests/badcsum.pcap", BASIC),
    ("pcaps/tests/synack-first.pcap", BASIC),
    ("pcaps/tests/demo.pcapng", BASIC),
    ("pcaps/suricata-verify/bug-1045/input.pcap", PAYLOAD_RULES),
    ("pcaps/suricata-verify/engine-state__detect-engine-state-01/input.pcap", PAYLOAD_RULES),
    ("pcaps/suricata-verify/vxlan-decoder-02/input.pcap", PAYLOAD_RULES),
    ("pcaps/suricata-verify/tcp-split-handshake-01-4whs/input.pcap", PAYLOAD_RULES),
    ("pcaps/tunnels/vxlan.pcap", PAYLOAD_RULES),
    ("pcaps/tunnels/erspan2.pcap", PAYLOAD_RULES),
    ("pcaps/defrag/frag-ipv4-outoforder.pcap", PAYLOAD_RULES),
    ("pcaps/defrag/frag-ipv6.pcap", PAYLOAD_RULES),
    ("pcaps/stream/out-of-order.pcap", BASIC),
    ("pcaps/stream/split-1byte.pcap", BASIC),
]
# --quick (the sanitizer build: every run is slower there, and the memory errors this test
# can find are in the DPDK path, not in the decoders the other captures exercise): one
# capture of each kind.
CAPTURES_QUICK = [DEMO, "pcaps/tests/vlan-qinq.pcap", "pcaps/tests/ipv6-ext.pcap",
                  "pcaps/tunnels/vxlan.pcap", "pcaps/defrag/frag-ipv4-outoforder.pcap",
                  "pcaps/stream/split-1byte.pcap"]
# The 2-worker comparison: plain, VLAN, tunnel, fragments, reordered TCP.
CAPTURES_2W = [DEMO, "pcaps/tests/vlan-qinq.pcap", "pcaps/tunnels/vxlan.pcap",
               "pcaps/defrag/frag-ipv4-outoforder.pcap", "pcaps/stream/out-of-order.pcap"]
ONLY_IN_ONE = ("pcap_cnt", "pcap_filename", "in_iface")
ALERT_KEYS = ("src_ip", "src_port", "dest_ip", "dest_port", "proto", "vlan", "direction",
              "community_id")
FLOW_KEYS = ("src_ip", "src_port", "dest_ip", "dest_port", "proto", "vlan", "community_id")
FLOW_COUNTERS = ("pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient", "state",
                 "reason", "alerted")


class Fail(Exception):
    pass


class Skip(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def read_eve(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line.decode("utf-8")))
            except ValueError:
                # the last line may be half written while vigil runs
                break
    return out


def pcap_frames(path):
    """Frame bytes of a pcap file (either byte order, micro- or nanosecond)."""
    with open(path, "rb") as f:
        raw = f.read()
    magic = raw[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise Fail("%s is not a pcap file" % path)
    frames, off = [], 24
    while off + 16 <= len(raw):
        _, _, incl, _ = struct.unpack(endian + "IIII", raw[off:off + 16])
        frames.append(raw[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


class Run:
    def __init__(self, rc, out, err, events, summary):
        self.rc, self.out, self.err, self.events, self.summary = rc, out, err, events, summary

    def of(self, kind):
        return [e for e in self.events if e.get("event_type") == kind]

    def tail(self, n=600):
        t = (self.err.strip() or self.out.strip())
        return t[-n:].replace("\n", " | ")


class Ctx:
    def __init__(self, vigil, root, keep, quick=False):
        self.vigil = vigil
        self.root = root
        self.keep = keep
        self.quick = quick
        self.tmp = tempfile.mkdtemp(prefix="vigil-dpdk-")
        self.cache = {}
        cpus = sorted(os.sched_getaffinity(0))
        self.cpus = ",".join(str(c) for c in cpus)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def newdir(self, name):
        return tempfile.mkdtemp(prefix=name.replace("/", "_") + "-", dir=self.tmp)

    def lcores(self, n):
        # n lcores (the main one included), free to run on any CPU this test may use
        return "--lcores=(0-%d)@(%s)" % (n - 1, self.cpus)

    def file_run(self, pcap, rules, workers):
        key = (pcap, rules, workers)
        if key not in self.cache:
            work = self.newdir("file")
            logdir = os.path.join(work, "log")
            sj = os.path.join(work, "summary.json")
            argv = [self.vigil, "-r", self.path(pcap), "-S", self.path(rules), "-l", logdir,
                    "--workers", str(workers), "--summary-json", sj, "-q"]
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
            err = p.stderr.decode("utf-8", "replace")
            check(p.returncode == 0, "%s: exit %d: %s" % (" ".join(argv), p.returncode, err[-400:]))
            with open(sj) as f:
                summary = json.load(f)
            self.cache[key] = Run(p.returncode, "", err, read_eve(os.path.join(logdir, "eve.json")),
                                  summary)
        return self.cache[key]

    def dpdk_run(self, eal, vigil_args, expect_packets, name="dpdk", stop=signal.SIGINT,
                 lcores=2):
        """Runs vigil --dpdk until a stats event counts expect_packets received, then stops it
        with the given signal. Returns a Run."""
        work = self.newdir(name)
        logdir = os.path.join(work, "log")
        sj = os.path.join(work, "summary.json")
        argv = ([self.vigil, "--dpdk"] + EAL_COMMON + [self.lcores(lcores)] + list(eal) + ["--"] +
                list(vigil_args) + ["-l", logdir, "--summary-json", sj, "-q",
                                    "--set", "stats.interval=1"])
        errf = open(os.path.join(work, "stderr"), "w+")
        outf = open(os.path.join(work, "stdout"), "w+")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=outf, stderr=errf)
        eve = os.path.join(logdir, "eve.json")
        deadline = time.time() + RUN_TIMEOUT
        received = -1
        try:
            while time.time() < deadline and p.poll() is None:
                time.sleep(0.2)
                stats = [e for e in read_eve(eve) if e.get("event_type") == "stats"]
                if stats:
                    received = stats[-1]["stats"]["capture"]["packets"]
                    if received >= expect_packets:
                        break
            if p.poll() is None:
                p.send_signal(stop)
                try:
                    p.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                    raise Fail("vigil did not stop within %d s of signal %d: %s" % (
                        STOP_TIMEOUT, stop, " ".join(argv)))
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        outf.seek(0)
        errf.seek(0)
        out, err = outf.read(), errf.read()
        outf.close()
        errf.close()
        summary = None
        if os.path.exists(sj):
            with open(sj) as f:
                summary = json.load(f)
        r = Run(p.returncode, out, err, read_eve(eve), summary)
        if p.returncode < 0:
            raise Fail("vigil killed by signal %d: %s | %s" % (-p.returncode, " ".join(argv),
                                                              r.tail()))
        if r.rc == 0 and received < expect_packets:
            raise Fail("no stats event counted %d packets within %d s (last: %d): %s" % (
                expect_packets, RUN_TIMEOUT, received, " ".join(argv)))
        return r

    def replay(self, pcap, rules, workers, ptime, name="replay", stop=signal.SIGINT):
        f = self.file_run(pcap, rules, workers)
        lcores = 1 + workers + (1 if workers > 1 else 0)
        r = self.dpdk_run(["--vdev=net_pcap0,rx_pcap=" + self.path(pcap)],
                          ["-S", self.path(rules), "--workers", str(workers),
                           "--set", "dpdk.packet-time=" + ptime],
                          f.summary["packets"], name=name, stop=stop, lcores=lcores)
        check(r.rc == 0, "%s: vigil --dpdk exit %d: %s" % (pcap, r.rc, r.tail()))
        return f, r


def canon(e):
    e = dict(e)
    for k in ONLY_IN_ONE:
        e.pop(k, None)
    return json.dumps(e, sort_keys=True)


def compare_exact(what, f, r):
    kinds = {e.get("event_type") for e in f.events + r.events} - {"stats"}
    for kind in sorted(kinds):
        a = sorted(canon(e) for e in f.of(kind))
        b = sorted(canon(e) for e in r.of(kind))
        if a != b:
            only_a = [x for x in a if x not in b][:2]
            only_b = [x for x in b if x not in a][:2]
            raise Fail("%s: %s records differ (-r %d, --dpdk %d)\n  only -r:    %s\n  only dpdk: %s"
                       % (what, kind, len(a), len(b), only_a, only_b))


def alert_key(e):
    return tuple([e["alert"]["signature_id"]] + [json.dumps(e.get(k)) for k in ALERT_KEYS])


def flow_key(e):
    fl = e.get("flow", {})
    tcp = e.get("tcp", {})
    return tuple([json.dumps(e.get(k)) for k in FLOW_KEYS] +
                 [json.dumps(fl.get(k)) for k in FLOW_COUNTERS] +
                 [json.dumps(tcp.get(k)) for k in ("tcp_flags", "tcp_flags_ts", "tcp_flags_tc")])


def compare_counters(what, f, r):
    a, b = sorted(alert_key(e) for e in f.of("alert")), sorted(alert_key(e) for e in r.of("alert"))
    check(a == b, "%s: alerts differ:\n  -r     %s\n  --dpdk %s" % (what, a, b))
    a, b = sorted(flow_key(e) for e in f.of("flow")), sorted(flow_key(e) for e in r.of("flow"))
    check(a == b, "%s: flow records differ:\n  -r     %s\n  --dpdk %s" % (
        what, [x for x in a if x not in b][:2], [x for x in b if x not in a][:2]))
    check(not any(e["flow"].get("reason") == "timeout" for e in f.of("flow")),
          "%s: -r ends a flow by timeout: not a capture for wall-clock comparison" % what)


# ---------------------------------------------------------------------------
# tests

def _exact(ctx, workers, captures):
    for pcap, rules in captures:
        f, r = ctx.replay(pcap, rules, workers, "capture")
        check(f.of("flow"), "%s: -r wrote no flow record" % pcap)
        compare_exact("%s, %d worker(s)" % (pcap, workers), f, r)
        check(r.summary and r.summary["packets"] == f.summary["packets"],
              "%s: summary packets %r, -r read %r" % (
                  pcap, r.summary and r.summary["packets"], f.summary["packets"]))


def test_capture_time_same_records_as_file_1_worker(ctx):
    _exact(ctx, 1, [c for c in CAPTURES if not ctx.quick or c[0] in CAPTURES_QUICK])


def test_capture_time_same_records_as_file_2_workers(ctx):
    _exact(ctx, 2, [c for c in CAPTURES if c[0] in CAPTURES_2W])


def test_decoder_anomaly_records_same_as_file(ctx):
    """Malformed frames (an IPv4 header longer than the frame, a UDP length that lies, then
    a good UDP packet) give the same anomaly records through DPDK as with -r."""
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    bad_hlen = eth + bytes([0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 10, 0, 0, 1])
    ip = bytes([0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 10, 0, 0, 1])
    bad_udp = eth + ip + struct.pack("!HHHH", 5000, 53, 200, 0) + b"abcdefgh"
    good_udp = eth + ip + struct.pack("!HHHH", 5000, 53, 16, 0) + b"abcdefgh"
    path = os.path.join(ctx.newdir("anomaly"), "anomaly.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate((bad_hlen, bad_udp, good_udp)):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    for workers in (1, 2):
        f, r = ctx.replay(path, "/dev/null", workers, "capture", name="anomaly")
        check(len(f.of("anomaly")) == 2, "-r wrote %d anomaly records, expected 2" % len(
            f.of("anomaly")))
        compare_exact("anomaly.pcap, %d worker(s)" % workers, f, r)


def _wall(ctx, workers):
    for pcap, rules in CAPTURES[:3]:
        f, r = ctx.replay(pcap, rules, workers, "wall")
        compare_counters("%s, %d worker(s), wall clock" % (pcap, workers), f, r)


def test_wall_clock_same_alerts_and_flow_counters_1_worker(ctx):
    _wall(ctx, 1)


def test_wall_clock_same_alerts_and_flow_counters_2_workers(ctx):
    _wall(ctx, 2)


def test_wall_clock_timestamps_are_now(ctx):
    t0 = time.time()
    _, r = ctx.replay(DEMO, PAYLOAD_RULES, 1, "wall")
    t1 = time.time()
    for e in r.of("alert") + r.of("flow"):
        ts = calendar.timegm(time.strptime(e["timestamp"][:19], "%Y-%m-%dT%H:%M:%S"))
        check(t0 - 2 <= ts <= t1 + 2, "timestamp %s is not the time of the run" % e["timestamp"])
        check("pcap_cnt" not in e and "pcap_filename" not in e,
              "a live record carries pcap_cnt or pcap_filename: %s" % canon(e)[:200])
        check(e.get("in_iface") == "net_pcap0", "in_iface %r, expected net_pcap0" % e.get("in_iface"))


def _tap(ctx, workers):
    work = ctx.newdir("tap")
    out = os.path.join(work, "tap.pcap")
    f = ctx.file_run(DEMO, PAYLOAD_RULES, workers)
    r = ctx.dpdk_run(["--vdev=net_pcap0,rx_pcap=" + ctx.path(DEMO),
                      "--vdev=net_pcap1,tx_pcap=" + out],
                     ["-S", ctx.path(PAYLOAD_RULES), "--workers", str(workers),
                      "--set", "dpdk.ports.0.interface=net_pcap0",
                      "--set", "dpdk.ports.0.tap-to=net_pcap1"],
                     f.summary["packets"], name="tap", lcores=1 + workers + (workers > 1))
    check(r.rc == 0, "tap run: exit %d: %s" % (r.rc, r.tail()))
    want = pcap_frames(ctx.path(DEMO))
    got = pcap_frames(out)
    check(len(got) == len(want), "tap port sent %d frames, the capture has %d" % (len(got), len(want)))
    if got != want:
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        raise Fail("tap port frame %d differs from the capture's" % (first + 1))
    ports = {p["name"]: p for p in r.summary["ports"]}
    check(ports["net_pcap0"]["tap"] == {"to": "net_pcap1", "sent": len(want), "dropped": 0},
          "summary tap counters %r" % ports["net_pcap0"].get("tap"))
    check(ports["net_pcap1"]["capture"] is False and ports["net_pcap1"]["opackets"] == len(want),
          "tap output port in the summary: %r" % ports["net_pcap1"])
    check(sorted(alert_key(e) for e in r.of("alert")) == sorted(alert_key(e) for e in f.of("alert")),
          "alerts differ with tap forwarding on")


def test_tap_forward_every_packet_unchanged_1_worker(ctx):
    _tap(ctx, 1)


def test_tap_forward_every_packet_unchanged_2_workers(ctx):
    _tap(ctx, 2)


def test_stats_events(ctx):
    # The payload rules plus a regex that gives up at PCRE's match limit on every HTTP/1.1
    # request, so the detection counters below are not all zero.
    rules = os.path.join(ctx.newdir("stats-rules"), "stats.rules")
    with open(ctx.path(PAYLOAD_RULES)) as src, open(rules, "w") as out:
        out.write(src.read())
        out.write('\nalert tcp any any -> any any (msg:"TEST regex past the match limit"; '
                  'content:"HTTP/1.1"; pcre:"/^(\\S+\\s?)+QQQ$/s"; sid:9900001; rev:1;)\n')
    f, r = ctx.replay(DEMO, rules, 1, "capture", name="stats")
    check(f.summary["detect"]["pcre_limit_hits"] > 0, "the -r run hit no pcre limit: %r" % (
        f.summary["detect"],))
    stats = r.of("stats")
    check(len(stats) >= 2, "%d stats events, expected periodic ones and a final one" % len(stats))
    last = stats[-1]["stats"]
    n = f.summary["packets"]
    cap = last["capture"]
    for k, want in (("kernel_packets", n), ("kernel_drops", 0), ("errors", 0), ("packets", n)):
        check(cap.get(k) == want, "stats.capture.%s = %r, expected %r" % (k, cap.get(k), want))
    check(cap.get("dpdk") == {"imissed": 0, "rx_nombuf": 0, "ierrors": 0},
          "stats.capture.dpdk = %r" % cap.get("dpdk"))
    check([p["name"] for p in cap.get("ports", [])] == ["net_pcap0"] and
          cap["ports"][0]["ipackets"] == n and cap["ports"][0]["queues"] == [n],
          "stats.capture.ports = %r" % cap.get("ports"))
    check(last["decoder"]["pkts"] == n, "stats.decoder.pkts = %r" % last["decoder"]["pkts"])
    check(last["detect"]["alert"] == len(f.of("alert")), "stats.detect.alert = %r, expected %d" % (
        last["detect"]["alert"], len(f.of("alert"))))
    # detection's bounds, as the -r run's summary counts them
    want = {"alert": len(f.of("alert")),
            "pcre_limit_hits": f.summary["detect"]["pcre_limit_hits"],
            "flowbits_set_refused": f.summary["rules"]["flowbits_set_refused"],
            "stream": {k: f.summary["detect"]["stream"][k] for k in (
                "windows_too_short", "pending_overflow", "undecided_at_close",
                "revisits_deferred")}}
    check(last["detect"] == want, "stats.detect = %r, expected %r" % (last["detect"], want))
    check(last["flow"]["total"] == len(f.of("flow")) and last["flow"]["active"] == 0,
          "stats.flow = %r" % last["flow"])
    check(all(v == 0 for v in last["drops"].values()), "stats.drops = %r" % last["drops"])
    check(isinstance(last["uptime"], int), "stats.uptime = %r" % last["uptime"])
    check(sum(w["packets"] for w in last["workers"]) == n, "stats.workers = %r" % last["workers"])


def test_summary_json(ctx):
    f, r = ctx.replay(DEMO, PAYLOAD_RULES, 2, "capture", name="summary")
    s = r.summary
    check(s is not None, "no --summary-json file")
    for k in ("packets", "flows", "alerts", "workers"):
        check(s[k] == f.summary[k], "summary %s = %r, -r says %r" % (k, s[k], f.summary[k]))
    check(s["alerts_by_sid"] == f.summary["alerts_by_sid"], "alerts_by_sid differ")
    check(s["capture"]["worker_ring_full"] == 0 and s["capture"]["nic_missed"] == 0,
          "summary capture %r" % s["capture"])
    check(sum(w["packets"] for w in s["worker_stats"]) == s["packets"],
          "worker_stats %r" % s["worker_stats"])
    check(len(s["ports"]) == 1 and s["ports"][0]["ipackets"] == s["packets"],
          "summary ports %r" % s["ports"])


def test_sigterm_stops_cleanly(ctx):
    f, r = ctx.replay(DEMO, PAYLOAD_RULES, 1, "capture", name="sigterm", stop=signal.SIGTERM)
    compare_exact("SIGTERM", f, r)
    check(all(e["flow"]["reason"] == "shutdown" for e in r.of("flow")),
          "flows not ended at shutdown")


def _fails(ctx, eal, args, pattern, what, lcores=2):
    argv = ([ctx.vigil, "--dpdk"] + list(eal) + (["-l", "0-%d" % (lcores - 1)] if lcores else []) +
            ["--"] + list(args) + ["-l", ctx.newdir("err"), "-q"])
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    err = p.stderr.decode("utf-8", "replace")
    check(p.returncode == 1, "%s: exit %d, expected 1: %s" % (what, p.returncode, err[-300:]))
    lines = [l for l in err.splitlines() if l.startswith("vigil:")]
    check(lines and pattern in lines[-1], "%s: no message with %r: %s" % (what, pattern, lines))


def test_error_no_ports(ctx):
    _fails(ctx, EAL_COMMON, [], "no DPDK ports to capture from", "no ports")


def test_error_bad_eal_arguments(ctx):
    _fails(ctx, EAL_COMMON + ["--no-such-eal-option"], [], "bad EAL arguments", "bad EAL option",
           lcores=0)


def test_error_no_hugepages(ctx):
    with open("/proc/meminfo") as f:
        total = [l for l in f if l.startswith("HugePages_Total:")]
    if not total or int(total[0].split()[1]) != 0:
        raise Skip("this machine has hugepages reserved")
    _fails(ctx, ["--no-pci", "--no-shconf", "--no-telemetry"], [], "--no-huge", "no hugepages")


def test_error_too_few_lcores(ctx):
    _fails(ctx, EAL_COMMON + ["--vdev=net_pcap0,rx_pcap=" + ctx.path(DEMO)], [], "lcores",
           "one lcore", lcores=1)
    _fails(ctx, EAL_COMMON + ["--vdev=net_pcap0,rx_pcap=" + ctx.path(DEMO)], ["--workers", "2"],
           "lcores", "2 workers on 2 lcores", lcores=2)


def test_error_unknown_port(ctx):
    _fails(ctx, EAL_COMMON + ["--vdev=net_pcap0,rx_pcap=" + ctx.path(DEMO)],
           ["--set", "dpdk.ports.0.interface=net_nosuch0"], "EAL has: net_pcap0", "unknown port")
    _fails(ctx, EAL_COMMON + ["--vdev=net_pcap0,rx_pcap=" + ctx.path(DEMO)],
           ["--set", "dpdk.ports.0.interface=net_pcap0", "--set", "dpdk.ports.0.tap-to=net_pcap0"],
           "cannot tap to itself", "tap to itself")


def test_error_capture_time_needs_net_pcap(ctx):
    _fails(ctx, EAL_COMMON + ["--vdev=net_null0"], ["--set", "dpdk.packet-time=capture"],
           "net_pcap", "packet-time capture on net_null")


def test_error_source_conflicts(ctx):
    p = subprocess.run([ctx.vigil, "-r", ctx.path(DEMO), "--dpdk"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    check(p.returncode == 1 and b"--dpdk must come first" in p.stderr,
          "--dpdk after other options: exit %d %r" % (p.returncode, p.stderr[-200:]))
    p = subprocess.run([ctx.vigil, "--dpdk", "--", "-r", ctx.path(DEMO)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    check(p.returncode == 1 and b"give one source" in p.stderr,
          "--dpdk with -r: exit %d %r" % (p.returncode, p.stderr[-200:]))


TESTS = [(n[5:], f) for n, f in list(globals().items()) if n.startswith("test_") and callable(f)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"), help="path of the vigil binary")
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), help="the vigil source tree")
    ap.add_argument("-t", "--test", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--quick", action="store_true",
                    help="compare fewer captures record by record (CAPTURES_QUICK)")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args()
    if args.list:
        for name, _ in TESTS:
            print(name)
        return 0
    if not args.vigil or not os.access(args.vigil, os.X_OK):
        print("FAIL setup: vigil binary not found or not executable: %r" % args.vigil)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    vigil = os.path.abspath(args.vigil)
    probe = subprocess.run([vigil, "--dpdk", "--", "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    if b"built without DPDK" in probe.stderr:
        print("SKIP all: vigil was built without DPDK")
        return 77
    ctx = Ctx(vigil, os.path.abspath(args.source_root), args.keep, args.quick)
    passed = failed = skipped = 0
    try:
        for name, fn in TESTS:
            if args.test and not any(t in name for t in args.test):
                continue
            try:
                fn(ctx)
                print("PASS %s" % name)
                passed += 1
            except Skip as e:
                print("SKIP %s: %s" % (name, e))
                skipped += 1
            except Fail as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            except Exception as e:  # a bug in the test or an unexpected record shape
                tb = traceback.format_exc().strip().splitlines()
                print("FAIL %s: %s: %s (%s)" % (name, type(e).__name__, e, tb[-3].strip()))
                failed += 1
            sys.stdout.flush()
    finally:
        if args.keep:
            print("# temporary files kept in %s" % ctx.tmp)
        else:
            shutil.rmtree(ctx.tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
