#!/usr/bin/env python3
"""End-to-end tests of the vigil binary on the committed captures.

    python3 tests/pcap/run_e2e.py --vigil BUILD/vigil --source-root /path/to/vigil [-t NAME]...

(The binary may also come from the VIGIL environment variable.) Each test runs vigil
in its own temporary directory and prints "PASS name" or "FAIL name: why"; the last
line is "N passed, M failed" and the exit status is 1 when any test failed.

Captures and their expectations:
  pcaps/demo/demo.pcap + expected.json       (pcaps/demo/make_demo.py)
  pcaps/tests/*.pcap   + expected.json       (pcaps/tests/make_error_pcaps.py)
  tests/pcap/rules/test-basic.rules, broken.rules
Standard library only.
"""

import argparse
import base64
import datetime
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback

RUN_TIMEOUT = 180
# The demo runs as scripts/demo.sh runs it: the shipped rule set and the demo estate.
DEMO_CONFIG = "pcaps/estate.yaml"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------------------
# Community ID v1 (https://github.com/corelight/community-id-spec)

_ICMP4_PAIRS = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
_ICMP6_PAIRS = {128: 129, 129: 128, 130: 131, 131: 130, 133: 134, 134: 133, 135: 136, 136: 135,
                139: 140, 140: 139, 144: 145, 145: 144}


def community_id(proto, saddr, daddr, sport=None, dport=None, seed=0):
    """sport/dport are the ICMP type and code for ICMP (1) and ICMPv6 (58)."""
    s = ipaddress.ip_address(saddr).packed
    d = ipaddress.ip_address(daddr).packed
    one_way = False
    if proto in (1, 58) and sport is not None:
        pairs = _ICMP4_PAIRS if proto == 1 else _ICMP6_PAIRS
        if sport in pairs:
            dport = pairs[sport]
        else:
            one_way = True
    has_ports = sport is not None and dport is not None and proto in (1, 6, 17, 58, 132)
    if not one_way:
        if (s, sport or 0) > (d, dport or 0):
            s, d, sport, dport = d, s, dport, sport
    data = struct.pack("!H", seed) + s + d + struct.pack("!BB", proto, 0)
    if has_ports:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


PROTO_NUM = {"TCP": 6, "UDP": 17, "ICMP": 1, "IPv6-ICMP": 58}


# ---------------------------------------------------------------------------
# running vigil

class Result:
    def __init__(self, rc, out, err, events, logdir):
        self.rc, self.out, self.err, self.events, self.logdir = rc, out, err, events, logdir

    @property
    def text(self):
        return self.out + self.err

    def alerts(self):
        return [e for e in self.events if e.get("event_type") == "alert"]

    def flows(self):
        return [e for e in self.events if e.get("event_type") == "flow"]

    def counts(self):
        c = {}
        for a in self.alerts():
            sid = str(a.get("alert", {}).get("signature_id"))
            c[sid] = c.get(sid, 0) + 1
        return c

    def tail(self, n=600):
        t = self.err.strip() or self.out.strip()
        return t[-n:].replace("\n", " | ")


class Ctx:
    def __init__(self, vigil, root):
        self.vigil = vigil
        self.root = root
        self.tmp = tempfile.mkdtemp(prefix="vigil-e2e-")
        self.cache = {}
        with open(self.path("pcaps/demo/expected.json")) as f:
            self.demo = json.load(f)
        with open(self.path("pcaps/tests/expected.json")) as f:
            self.caps = json.load(f)

    def path(self, rel):
        return os.path.join(self.root, rel)

    def newdir(self, name):
        d = tempfile.mkdtemp(prefix=name + "-", dir=self.tmp)
        return d

    def run(self, args, name="run", logdir=True, cwd=None):
        """Runs vigil with args (plus -l LOGDIR when logdir). Returns a Result whose
        events are the parsed lines of LOGDIR/eve.json (every line must be JSON)."""
        work = self.newdir(name)
        ld = None
        argv = [self.vigil] + list(args)
        if logdir is True:
            ld = os.path.join(work, "log")
            os.mkdir(ld)
            argv += ["-l", ld]
        elif logdir:
            ld = logdir
            argv += ["-l", ld]
        env = dict(os.environ)
        env["TZ"] = "UTC"
        try:
            p = subprocess.run(argv, cwd=cwd or work, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Fail("vigil did not finish within %d s: %s" % (RUN_TIMEOUT, " ".join(argv)))
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        if p.returncode < 0:
            raise Fail("vigil killed by signal %d: %s | %s" % (-p.returncode, " ".join(argv),
                                                              err.strip()[-400:]))
        events = []
        if ld is not None:
            eve = os.path.join(ld, "eve.json")
            if os.path.exists(eve):
                with open(eve, "rb") as f:
                    for n, line in enumerate(f, 1):
                        if not line.strip():
                            continue
                        try:
                            events.append(json.loads(line.decode("utf-8")))
                        except (UnicodeDecodeError, ValueError) as e:
                            raise Fail("eve.json line %d is not JSON (%s): %r" % (n, e, line[:200]))
        return Result(p.returncode, out, err, events, ld)

    def demo_run(self, workers):
        key = ("demo", workers)
        if key not in self.cache:
            self.cache[key] = self.run(["-r", self.path("pcaps/demo/demo.pcap"),
                                        "-c", self.path(DEMO_CONFIG),
                                        "--workers", str(workers)], "demo-w%d" % workers)
        return self.cache[key]


def parse_ts(ts):
    """EVE timestamp -> microseconds since the epoch."""
    t = ts
    if t.endswith("Z"):
        t = t[:-1] + "+0000"
    dt = datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%f%z")
    return int(dt.timestamp()) * 1000000 + dt.microsecond


def pcap_times(path):
    """Packet times (microseconds) of a little-endian microsecond pcap file."""
    with open(path, "rb") as f:
        raw = f.read()
    check(raw[:4] == b"\xd4\xc3\xb2\xa1", "%s is not a little-endian microsecond pcap" % path)
    out, off = [], 24
    while off + 16 <= len(raw):
        sec, us, incl, _ = struct.unpack("<IIII", raw[off:off + 16])
        out.append(sec * 1000000 + us)
        off += 16 + incl
    return out


def shipped_rules(root):
    """The enabled rules of signatures/rules/*.rules (signatures/tools/rulefile.py)."""
    sys.path.insert(0, os.path.join(root, "signatures", "tools"))
    import rulefile
    return [r for r in rulefile.read_rules(root)[0] if r["enabled"]]


def thresholded_sids(root):
    """Shipped rules with a threshold: with several workers, which of the flows from one
    source (or to one destination) gets the alert depends on which worker gets there
    first, as in Suricata; the count and the addresses do not."""
    return {r["sid"] for r in shipped_rules(root)
            if {"threshold", "detection_filter"} & set(r["options"])}


THRESHOLDED = set()


def alert_tuple(a):
    sid = a.get("alert", {}).get("signature_id")
    return demo_tuple(sid, a.get("pcap_cnt"), a.get("src_ip"), a.get("src_port"),
                      a.get("dest_ip"), a.get("dest_port"))


def demo_tuple(sid, pcap_cnt, src, sport, dst, dport):
    if sid in THRESHOLDED:
        return (sid, 0, src, 0, dst, 0)
    return (sid, pcap_cnt, src, sport, dst, dport)


def expect_rc(r, want, what):
    check(r.rc == want, "%s: exit %d, expected %d; output: %s" % (what, r.rc, want, r.tail()))


def expect_counts(r, want, what):
    got = r.counts()
    check(got == want, "%s: alerts per sid %s, expected %s" % (what, json.dumps(got, sort_keys=True),
                                                                json.dumps(want, sort_keys=True)))


def find_flow(flows, s):
    """The flow record of generator session s (client -> server)."""
    out = []
    for f in flows:
        if f.get("src_ip") != s["src_ip"] or f.get("dest_ip") != s["dest_ip"]:
            continue
        if f.get("proto") != s["proto"]:
            continue
        if s["src_port"] is not None and (f.get("src_port") != s["src_port"] or
                                          f.get("dest_port") != s["dest_port"]):
            continue
        out.append(f)
    return out


# ---------------------------------------------------------------------------
# tests

def test_community_id_reference(ctx):
    """The test's own Community ID code against the specification's examples."""
    vectors = [
        ((6, "128.232.110.120", "66.35.250.204", 34855, 80), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ((6, "66.35.250.204", "128.232.110.120", 80, 34855), "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
        ((17, "192.168.1.52", "8.8.8.8", 54585, 53), "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
        ((1, "192.168.0.89", "192.168.0.1", 8, 0), "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="),
        ((58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 0), "1:pkvHqCL88/tg1k4cPigmZXUtL00="),
    ]
    for args, want in vectors:
        got = community_id(*args)
        check(got == want, "community_id%s = %s, expected %s" % (args, got, want))


def test_version(ctx):
    r = ctx.run(["--version"], "version", logdir=False)
    expect_rc(r, 0, "--version")
    check(r.text.strip(), "--version printed nothing")


def test_help(ctx):
    r = ctx.run(["--help"], "help", logdir=False)
    expect_rc(r, 0, "--help")
    check("-r" in r.text, "--help does not mention -r: %s" % r.tail())


def test_bad_option(ctx):
    r = ctx.run(["--no-such-option"], "badopt", logdir=False)
    expect_rc(r, 1, "unknown option")
    check(r.err.strip(), "no message on stderr for an unknown option")


def test_check_shipped_rules(ctx):
    r = ctx.run(["-T", "-c", ctx.path(DEMO_CONFIG)], "T-shipped",
                logdir=False)
    expect_rc(r, 0, "-T -c estate.yaml (the shipped rules)")
    check(" 0 skipped, 0 dormant," in r.out, "shipped rules with the estate: %s" % r.tail())
    r = ctx.run(["-T"], "T-default", logdir=False, cwd=ctx.root)
    expect_rc(r, 0, "-T with the default (shipped) rules")


def test_sighup_while_rules_load(ctx):
    """A SIGHUP (an operator's reload) that arrives while the rules still load is
    remembered, not fatal: the run goes on."""
    work = ctx.newdir("hup")
    rules = os.path.join(work, "many.rules")
    subprocess.run([sys.executable, ctx.path("tests/bench/gen_rules.py"), "--rules", "100000",
                    "--out", rules], check=True, stdout=subprocess.DEVNULL)
    p = subprocess.Popen([ctx.vigil, "-T", "-q", "-S", rules], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.2)
    loading = p.poll() is None
    if loading:
        p.send_signal(signal.SIGHUP)
    out, err = p.communicate(timeout=RUN_TIMEOUT)
    check(loading, "100000 rules loaded within 0.2 s: nothing to test")
    check(p.returncode == 0, "exit %d after SIGHUP while loading: %s" % (
        p.returncode, err.decode("utf-8", "replace")[-300:]))
    check(b"configuration and rules OK" in out, "no 'configuration and rules OK': %r" % out[-200:])


def test_check_broken_rules(ctx):
    rules = ctx.path("tests/pcap/rules/broken.rules")
    r = ctx.run(["-T", "-S", rules], "T-broken", logdir=False)
    expect_rc(r, 1, "-T -S broken.rules")
    bad, good = [], []
    with open(rules) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("alert"):
                (bad if "TEST broken:" in line else good).append(n)
    missing = [n for n in bad if "broken.rules:%d:" % n not in r.text]
    check(not missing, "-T did not report broken.rules line(s) %s; output: %s" % (missing, r.tail()))
    wrong = [n for n in good if "broken.rules:%d:" % n in r.text]
    check(not wrong, "-T reported the good rule at line(s) %s" % wrong)


def test_run_broken_rules(ctx):
    r = ctx.run(["-r", ctx.path("pcaps/demo/demo.pcap"), "-S",
                 ctx.path("tests/pcap/rules/broken.rules")], "run-broken")
    expect_rc(r, 2, "run with broken.rules")
    expect_counts(r, {"9100001": 1}, "run with broken.rules")
    check("broken.rules:" in r.err, "no file:line message on stderr: %s" % r.tail())


def _demo_common(ctx, workers):
    r = ctx.demo_run(workers)
    expect_rc(r, 0, "demo --workers %d" % workers)
    expect_counts(r, ctx.demo["alerts"], "demo --workers %d" % workers)
    want = sorted(demo_tuple(a["sid"], a["pcap_cnt"], a["src_ip"], a["src_port"], a["dest_ip"],
                             a["dest_port"]) for a in ctx.demo["alert_list"])
    got = sorted(alert_tuple(a) for a in r.alerts())
    check(got == want, "demo --workers %d: alerts (sid, pcap_cnt, src, sport, dst, dport) differ:"
          "\n  got      %s\n  expected %s" % (workers, got, want))
    flows = r.flows()
    check(len(flows) == ctx.demo["flows"], "demo --workers %d: %d flow records, expected %d" % (
        workers, len(flows), ctx.demo["flows"]))
    return r


def test_demo_workers_1(ctx):
    _demo_common(ctx, 1)


def test_demo_workers_3(ctx):
    _demo_common(ctx, 3)


def test_demo_workers_1_vs_3(ctx):
    r1, r3 = ctx.demo_run(1), ctx.demo_run(3)
    expect_rc(r1, 0, "demo --workers 1")
    expect_rc(r3, 0, "demo --workers 3")
    check(r1.alerts() and r1.flows(), "demo --workers 1 wrote no alerts or no flow records")
    a1 = sorted(alert_tuple(a) for a in r1.alerts())
    a3 = sorted(alert_tuple(a) for a in r3.alerts())
    check(a1 == a3, "alerts differ between 1 and 3 workers:\n  1: %s\n  3: %s" % (a1, a3))

    def key(f):
        return (f.get("flow_id", 0), f.get("src_ip", ""), f.get("src_port", 0))
    f1 = sorted(r1.flows(), key=key)
    f3 = sorted(r3.flows(), key=key)
    check(len(f1) == len(f3), "flow records: %d with 1 worker, %d with 3" % (len(f1), len(f3)))
    diffs = []
    for x, y in zip(f1, f3):
        for k in sorted(set(x) | set(y)):
            if x.get(k) != y.get(k):
                diffs.append("%s %s:%s: %s=%r vs %r" % (x.get("proto"), x.get("src_ip"),
                                                        x.get("src_port"), k, x.get(k), y.get(k)))
    check(not diffs, "flow records differ between 1 and 3 workers: " + "; ".join(diffs[:8]))


def _alert_for(r, session, sid):
    hits = [a for a in r.alerts() if a["alert"]["signature_id"] == sid and
            a.get("src_ip") == session["src_ip"] and a.get("src_port") == session["src_port"]]
    check(len(hits) == 1, "expected one alert sid %d from %s:%s, found %d" % (
        sid, session["src_ip"], session["src_port"], len(hits)))
    return hits[0]


def _session(ctx, prefix):
    for s in ctx.demo["sessions"]:
        if s["name"].startswith(prefix):
            return s
    raise Fail("no session %s in expected.json" % prefix)


def _check_alert_fields(ctx, a, s, sid, vlan):
    want_pkt = [x for x in ctx.demo["alert_list"] if x["sid"] == sid and x["session"] == s["name"]]
    check(len(want_pkt) == 1, "expected.json has no unique alert sid %d in %s" % (sid, s["name"]))
    exp = want_pkt[0]
    fields = {
        "event_type": "alert", "src_ip": s["src_ip"], "src_port": s["src_port"],
        "dest_ip": s["dest_ip"], "dest_port": s["dest_port"], "proto": "TCP",
        "pcap_cnt": exp["pcap_cnt"],
    }
    for k, v in fields.items():
        check(a.get(k) == v, "sid %d: %s = %r, expected %r" % (sid, k, a.get(k), v))
    al = a.get("alert", {})
    for k, v in {"signature_id": sid, "gid": 1, "rev": 1, "action": "allowed", "severity": 1}.items():
        check(al.get(k) == v, "sid %d: alert.%s = %r, expected %r" % (sid, k, al.get(k), v))
    check(str(al.get("signature", "")).startswith("VIGIL EXPLOIT F5 BIG-IP"),
          "sid %d: alert.signature = %r" % (sid, al.get("signature")))
    check(al.get("category"), "sid %d: empty alert.category" % sid)
    cid = community_id(6, s["src_ip"], s["dest_ip"], s["src_port"], s["dest_port"])
    check(a.get("community_id") == cid, "sid %d: community_id %r, expected %r" % (
        sid, a.get("community_id"), cid))
    check(isinstance(a.get("flow_id"), int) and a["flow_id"] > 0,
          "sid %d: flow_id %r" % (sid, a.get("flow_id")))
    check(str(a.get("pcap_filename", "")).endswith("demo.pcap"),
          "sid %d: pcap_filename %r" % (sid, a.get("pcap_filename")))
    if vlan:
        check(a.get("vlan") == vlan, "sid %d: vlan %r, expected %r" % (sid, a.get("vlan"), vlan))
    else:
        check("vlan" not in a, "sid %d: untagged packet has vlan %r" % (sid, a.get("vlan")))
    # the timestamp is the time of the packet that matched
    try:
        ts = parse_ts(a["timestamp"])
    except (KeyError, ValueError) as e:
        raise Fail("sid %d: bad timestamp %r (%s)" % (sid, a.get("timestamp"), e))
    want_ts = pcap_times(ctx.path("pcaps/demo/demo.pcap"))[exp["pcap_cnt"] - 1]
    check(ts == want_ts, "sid %d: timestamp %s, the packet's time is %d us" % (
        sid, a["timestamp"], want_ts))


def test_demo_alert_fields(ctx):
    r = ctx.demo_run(1)
    expect_rc(r, 0, "demo")
    s = _session(ctx, "A5-")
    _check_alert_fields(ctx, _alert_for(r, s, 8400011), s, 8400011, None)
    s = _session(ctx, "A6-")
    _check_alert_fields(ctx, _alert_for(r, s, 8400010), s, 8400010, None)


def test_demo_alert_vlan(ctx):
    r = ctx.demo_run(1)
    expect_rc(r, 0, "demo")
    s = _session(ctx, "A8-")
    _check_alert_fields(ctx, _alert_for(r, s, 8400031), s, 8400031, [100])
    a = _alert_for(r, s, 8400030)
    check(a.get("vlan") == [100], "sid 8400030: vlan %r, expected [100]" % a.get("vlan"))


def test_demo_alert_flow_ids(ctx):
    """An alert's flow_id is the flow_id of its flow record, and that record says alerted."""
    r = ctx.demo_run(1)
    expect_rc(r, 0, "demo")
    check(r.alerts() and r.flows(), "the demo run wrote no alerts or no flow records")
    by_id = {f.get("flow_id"): f for f in r.flows()}
    for a in r.alerts():
        f = by_id.get(a.get("flow_id"))
        check(f is not None, "alert sid %s (pcap_cnt %s) has flow_id %r that no flow record has" % (
            a["alert"]["signature_id"], a.get("pcap_cnt"), a.get("flow_id")))
        check(f.get("flow", {}).get("alerted") is True,
              "flow %s of alert sid %s is not marked alerted" % (a.get("flow_id"),
                                                                a["alert"]["signature_id"]))
    ids = [f.get("flow_id") for f in r.flows()]
    check(len(ids) == len(set(ids)), "flow_id values repeat across flow records")


def test_demo_flow_counters(ctx):
    r = ctx.demo_run(1)
    expect_rc(r, 0, "demo")
    flows = r.flows()
    bad = []
    for s in ctx.demo["sessions"]:
        hits = find_flow(flows, s)
        if len(hits) != 1:
            bad.append("%s: %d flow records" % (s["name"], len(hits)))
            continue
        fl = hits[0].get("flow", {})
        for k in ("pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"):
            if fl.get(k) != s[k]:
                bad.append("%s: %s=%r, expected %r" % (s["name"], k, fl.get(k), s[k]))
        if fl.get("alerted") is not s["alerted"]:
            bad.append("%s: alerted=%r, expected %r" % (s["name"], fl.get("alerted"), s["alerted"]))
        if s["vlan"] and hits[0].get("vlan") != s["vlan"]:
            bad.append("%s: vlan=%r, expected %r" % (s["name"], hits[0].get("vlan"), s["vlan"]))
    check(not bad, "; ".join(bad[:10]))


def test_demo_flow_state(ctx):
    """TCP sessions closed with FIN are 'closed'; UDP/ICMP seen both ways 'established';
    tcp_flags is what both sides sent; start/end are the first and last packet times."""
    r = ctx.demo_run(1)
    expect_rc(r, 0, "demo")
    bad = []
    for s in ctx.demo["sessions"]:
        hits = find_flow(r.flows(), s)
        if len(hits) != 1:
            bad.append("%s: %d flow records" % (s["name"], len(hits)))
            continue
        rec = hits[0]
        fl = rec.get("flow", {})
        want_state = "closed" if s["proto"] == "TCP" else "established"
        if fl.get("state") != want_state:
            bad.append("%s: state=%r, expected %r" % (s["name"], fl.get("state"), want_state))
        if fl.get("reason") not in ("timeout", "forced", "shutdown"):
            bad.append("%s: reason=%r" % (s["name"], fl.get("reason")))
        for k, want in (("start", s["start_us"]), ("end", s["end_us"])):
            try:
                if parse_ts(fl.get(k, "")) != want:
                    bad.append("%s: flow.%s=%s, expected the packet time %d" % (
                        s["name"], k, fl.get(k), want))
            except ValueError:
                bad.append("%s: flow.%s=%r is not a timestamp" % (s["name"], k, fl.get(k)))
        if s["proto"] == "TCP":
            tf = rec.get("tcp", {}).get("tcp_flags")
            want = "%02x" % s["tcp_flags"]
            if not (tf == want or tf == s["tcp_flags"]):
                bad.append("%s: tcp.tcp_flags=%r, expected %r" % (s["name"], tf, want))
        if s["proto"] in ("TCP", "UDP"):
            cid = community_id(PROTO_NUM[s["proto"]], s["src_ip"], s["dest_ip"], s["src_port"],
                               s["dest_port"])
        else:
            cid = community_id(PROTO_NUM[s["proto"]], s["src_ip"], s["dest_ip"], 8, 0)
        if rec.get("community_id") != cid:
            bad.append("%s: community_id=%r, expected %r" % (s["name"], rec.get("community_id"), cid))
    check(not bad, "; ".join(bad[:10]))


def test_summary_json(ctx):
    work = ctx.newdir("summary")
    sj = os.path.join(work, "summary.json")
    r = ctx.run(["-r", ctx.path("pcaps/demo/demo.pcap"), "-c", ctx.path(DEMO_CONFIG), "--workers", "1",
                 "--summary-json", sj], "summary")
    expect_rc(r, 0, "demo --summary-json")
    check(os.path.exists(sj), "--summary-json wrote no file")
    with open(sj) as f:
        try:
            s = json.load(f)
        except ValueError as e:
            raise Fail("summary is not JSON: %s" % e)
    for k in ("packets", "bytes", "elapsed_s", "workers", "pps", "gbps", "flows", "alerts",
              "alerts_by_sid", "peak_rss_kb", "decoder", "drops"):
        check(k in s, "summary has no %r" % k)
    for k, want in (("packets", ctx.demo["packets"]), ("bytes", ctx.demo["bytes"]),
                    ("flows", ctx.demo["flows"]), ("alerts", ctx.demo["total_alerts"]),
                    ("workers", 1)):
        check(s[k] == want, "summary %s = %r, expected %r" % (k, s[k], want))
    abs_ = {str(k): v for k, v in s["alerts_by_sid"].items()}
    check(abs_ == ctx.demo["alerts"], "summary alerts_by_sid %s, expected %s" % (
        abs_, ctx.demo["alerts"]))
    want_rules = {"loaded": len(shipped_rules(ctx.root)), "skipped": 0, "dormant": 0,
                  "flowbits_set_refused": 0, "threshold_table_full": 0, "xbits_table_full": 0}
    check(s.get("rules") == want_rules, "summary rules %r, expected %r" % (
        s.get("rules"), want_rules))
    # The demo reaches none of detection's bounds.
    want_detect = {"pcre_limit_hits": 0, "stream": {
        "windows_too_short": 0, "pending_overflow": 0, "undecided_at_close": 0,
        "order_overflow": 0, "revisits": 0, "revisits_deferred": 0}}
    check(s.get("detect") == want_detect, "summary detect %r, expected %r" % (
        s.get("detect"), want_detect))


def test_pass_rule_flow(ctx):
    """A pass rule for one flow (A5, matched on its SYN) suppresses that flow's alerts;
    the other flows still alert and A5 still gets its flow record, not alerted."""
    s = _session(ctx, "A5-")
    work = ctx.newdir("pass")
    rules = os.path.join(work, "pass.rules")
    with open(rules, "w") as f:
        f.write("\npass tcp %s %d <> %s %d (msg:\"trusted scanner\"; sid:9300001; rev:1;)\n" % (
            s["src_ip"], s["src_port"], s["dest_ip"], s["dest_port"]))
    shipped = sorted(glob.glob(ctx.path("signatures/rules/*.rules")))
    args = ["-r", ctx.path("pcaps/demo/demo.pcap"), "-c", ctx.path(DEMO_CONFIG)]
    for path in shipped + [rules]:
        args += ["-S", path]
    r = ctx.run(args, "pass")
    expect_rc(r, 0, "demo with a pass rule")
    want = {}
    for a in ctx.demo["alert_list"]:
        if a["session"] != s["name"]:
            want[str(a["sid"])] = want.get(str(a["sid"]), 0) + 1
    expect_counts(r, want, "demo with a pass rule for %s" % s["name"])
    hits = find_flow(r.flows(), s)
    check(len(hits) == 1, "%s: %d flow records with the pass rule" % (s["name"], len(hits)))
    check(hits[0].get("flow", {}).get("alerted") is False,
          "%s: passed flow marked alerted" % s["name"])
    check(len(r.flows()) == ctx.demo["flows"], "%d flow records with the pass rule, expected %d" % (
        len(r.flows()), ctx.demo["flows"]))


VARS_RULE = ('alert tcp $EXTERNAL_NET any -> $HOME_NET $HTTP_PORTS (msg:"TEST traversal to '
             'HOME_NET"; flow:to_server,established; content:"/tmui/login.jsp"; nocase; '
             'content:"..|3b|"; distance:0; sid:9200001; rev:1;)\n')


def test_rule_vars_set_and_config(ctx):
    """$HOME_NET / $EXTERNAL_NET / $HTTP_PORTS from the defaults, --set and -c. The `..;`
    requests of the demo (A1, A2) come from 203.0.113.66 to 10.1.1.245:8443."""
    work = ctx.newdir("vars")
    rules = os.path.join(work, "vars.rules")
    with open(rules, "w") as f:
        f.write(VARS_RULE)
    conf = os.path.join(work, "vars.yaml")
    with open(conf, "w") as f:
        f.write('vars:\n  address-groups:\n    HOME_NET: "[10.1.1.0/24]"\n'
                '    EXTERNAL_NET: "!$HOME_NET"\n  port-groups:\n    HTTP_PORTS: "[8443]"\n')
    base = ["-r", ctx.path("pcaps/demo/demo.pcap"), "-S", rules]
    cases = [
        ("defaults (HTTP_PORTS 80)", [], {}),
        ("--set HTTP_PORTS=[80,8443]", ["--set", "vars.port-groups.HTTP_PORTS=[80,8443]"],
         {"9200001": 2}),
        ("--set HTTP_PORTS and HOME_NET=[192.168.0.0/16]",
         ["--set", "vars.port-groups.HTTP_PORTS=[80,8443]",
          "--set", "vars.address-groups.HOME_NET=[192.168.0.0/16]"], {}),
        ("-c vars.yaml", ["-c", conf], {"9200001": 2}),
    ]
    for what, extra, want in cases:
        r = ctx.run(base + extra, "vars")
        expect_rc(r, 0, what)
        expect_counts(r, want, what)


def test_bad_config(ctx):
    work = ctx.newdir("badconf")
    conf = os.path.join(work, "bad.yaml")
    with open(conf, "w") as f:
        f.write("vars:\n  address-groups: [unclosed\n")
    r = ctx.run(["-T", "-S", ctx.path("tests/pcap/rules/bigip-payload.rules"), "-c", conf],
                "badconf-T", logdir=False)
    expect_rc(r, 1, "-T with a broken YAML file")
    check("bad.yaml" in r.err, "the message does not name bad.yaml: %s" % r.tail())
    r = ctx.run(["-r", ctx.path("pcaps/demo/demo.pcap"), "-c", conf], "badconf-run")
    expect_rc(r, 1, "run with a broken YAML file")


def test_missing_rule_file(ctx):
    r = ctx.run(["-r", ctx.path("pcaps/demo/demo.pcap"), "-S",
                 os.path.join(ctx.tmp, "no-such.rules")], "norules")
    expect_rc(r, 1, "run whose only rule file is missing")
    check("no-such.rules" in r.err, "the message does not name the file: %s" % r.tail())


def test_demo_preload(ctx):
    r = ctx.run(["-r", ctx.path("pcaps/demo/demo.pcap"), "-c", ctx.path(DEMO_CONFIG), "--preload", "--workers", "2"],
                "preload")
    expect_rc(r, 0, "demo --preload --workers 2")
    expect_counts(r, ctx.demo["alerts"], "demo --preload --workers 2")
    check(len(r.flows()) == ctx.demo["flows"], "--preload: %d flow records, expected %d" % (
        len(r.flows()), ctx.demo["flows"]))


def test_quiet(ctx):
    r = ctx.run(["-q", "-r", ctx.path("pcaps/demo/demo.pcap"), "-c", ctx.path(DEMO_CONFIG)], "quiet")
    expect_rc(r, 0, "demo -q")
    check(not r.out.strip() and not r.err.strip(), "-q on a clean run printed: %s" % r.tail())
    expect_counts(r, ctx.demo["alerts"], "demo -q")


def test_eve_started_fresh(ctx):
    work = ctx.newdir("fresh")
    ld = os.path.join(work, "log")
    os.mkdir(ld)
    with open(os.path.join(ld, "eve.json"), "w") as f:
        f.write('{"event_type":"alert","stale":true}\n')
    args = ["-r", ctx.path("pcaps/tests/vlan-qinq.pcap"), "-S",
            ctx.path("tests/pcap/rules/test-basic.rules")]
    ctx.run(args, "fresh1", logdir=ld)
    r = ctx.run(args, "fresh2", logdir=ld)
    expect_rc(r, 0, "second run")
    check(not any(e.get("stale") for e in r.events), "eve.json kept a line from before the run")
    expect_counts(r, ctx.caps["vlan-qinq.pcap"]["alerts"], "second run into the same log dir")


def _capture_test(ctx, name, args=(), rules_key="rules"):
    e = ctx.caps[name]
    a = ["-r", ctx.path("pcaps/tests/" + name)]
    if e.get(rules_key):
        a += ["-S", ctx.path(e[rules_key])]
    r = ctx.run(a + list(args), name)
    return e, r


def test_truncated(ctx):
    e, r = _capture_test(ctx, "truncated.pcap")
    expect_rc(r, e["exit"], "truncated.pcap")
    check(re.search(e["stderr_re"], r.err), "no message matching %s on stderr: %s" % (
        e["stderr_re"], r.tail()))
    expect_counts(r, e["alerts"], "truncated.pcap")


def test_linktype_unsupported(ctx):
    e, r = _capture_test(ctx, "linktype-unsupported.pcap")
    expect_rc(r, e["exit"], "linktype-unsupported.pcap")
    check(re.search(e["stderr_re"], r.err), "stderr does not name link type 147: %s" % r.tail())


def test_not_a_pcap(ctx):
    e, r = _capture_test(ctx, "not-a-pcap.bin")
    expect_rc(r, 1, "not-a-pcap.bin")
    check(re.search(r"(?i)(not-a-pcap|capture|pcap|format|magic)", r.err),
          "no clear message on stderr: %r" % r.err[-300:])
    check(not r.alerts(), "alerts from a file that is not a capture")


def test_missing_file(ctx):
    missing = os.path.join(ctx.tmp, "no-such-file.pcap")
    r = ctx.run(["-r", missing], "missing")
    expect_rc(r, 1, "missing capture file")
    check(re.search(r"(?i)(no-such-file|no such file|not found|cannot open|can't open)", r.err),
          "no clear message on stderr: %r" % r.err[-300:])


def test_empty(ctx):
    e, r = _capture_test(ctx, "empty.pcap")
    expect_rc(r, 0, "empty.pcap")
    check(os.path.exists(os.path.join(r.logdir, "eve.json")), "no eve.json written")
    ev = [x for x in r.events if x.get("event_type") in ("alert", "flow")]
    check(not ev, "empty.pcap produced %d alert/flow events" % len(ev))


def _decoder(ctx, name):
    e, r = _capture_test(ctx, name)
    expect_rc(r, e["exit"], name)
    expect_counts(r, e["alerts"], name)
    want = sorted((a["sid"], a["pcap_cnt"], a["src_ip"], a["dest_ip"]) for a in e["alert_list"])
    got = sorted((a["alert"]["signature_id"], a.get("pcap_cnt"), a.get("src_ip"),
                  a.get("dest_ip")) for a in r.alerts())
    check(got == want, "%s: alerts %s, expected %s" % (name, got, want))
    check(len(r.flows()) == e["flows"], "%s: %d flow records, expected %d" % (
        name, len(r.flows()), e["flows"]))
    return e, r


def test_vlan_qinq(ctx):
    e, r = _decoder(ctx, "vlan-qinq.pcap")
    for sid, vl in e["alert_vlans"].items():
        for a in r.alerts():
            if str(a["alert"]["signature_id"]) == sid:
                check(a.get("vlan") == vl, "sid %s: vlan %r, expected %r" % (sid, a.get("vlan"), vl))


def test_sll(ctx):
    _decoder(ctx, "sll.pcap")


def test_sll2(ctx):
    _decoder(ctx, "sll2.pcap")


def test_ipv6_ext(ctx):
    _decoder(ctx, "ipv6-ext.pcap")
    r = ctx.run(["-r", ctx.path("pcaps/tests/ipv6-ext.pcap"), "-S",
                 ctx.path("tests/pcap/rules/bigip-payload.rules")], "ipv6-ext-shipped")
    expect_rc(r, 0, "ipv6-ext.pcap with the payload rules")
    expect_counts(r, ctx.caps["ipv6-ext.pcap"]["shipped_rules_alerts"], "ipv6-ext.pcap shipped")


def test_pcapng(ctx):
    _decoder(ctx, "demo.pcapng")


def test_synack_first(ctx):
    """The client of a flow whose first packet is a SYN+ACK is the receiver of it."""
    e, r = _capture_test(ctx, "synack-first.pcap")
    expect_rc(r, e["exit"], "synack-first.pcap")
    flows = r.flows()
    check(len(flows) == e["flows"], "%d flow records, expected %d" % (len(flows), e["flows"]))
    f = flows[0]
    bad = []
    for k in ("src_ip", "src_port", "dest_ip", "dest_port"):
        if f.get(k) != e["flow"][k]:
            bad.append("%s=%r, expected %r" % (k, f.get(k), e["flow"][k]))
    for k in ("pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"):
        if f.get("flow", {}).get(k) != e["flow"][k]:
            bad.append("flow.%s=%r, expected %r" % (k, f.get("flow", {}).get(k), e["flow"][k]))
    check(not bad, "; ".join(bad))


def test_checksum_default_counts(ctx):
    e, r = _capture_test(ctx, "badcsum.pcap")
    expect_rc(r, 0, "badcsum.pcap")
    expect_counts(r, e["alerts"], "badcsum.pcap (default: count bad checksums, keep the packet)")


def test_checksum_k_all_drops(ctx):
    e, r = _capture_test(ctx, "badcsum.pcap", ["-k", "all"])
    expect_rc(r, 0, "badcsum.pcap -k all")
    expect_counts(r, e["alerts_k_all"], "badcsum.pcap -k all")
    check(not any(a.get("pcap_cnt") == e["bad_checksum_pcap_cnt"] for a in r.alerts()),
          "-k all: an alert on the packet with the bad checksum")


def test_checksum_k_none(ctx):
    e, r = _capture_test(ctx, "badcsum.pcap", ["-k", "none"])
    expect_rc(r, 0, "badcsum.pcap -k none")
    expect_counts(r, e["alerts"], "badcsum.pcap -k none")


def test_decoder_anomaly_records(ctx):
    """A malformed layer is counted and written as an EVE anomaly record (never a crash):
    an IPv4 header that claims 60 bytes in a 34-byte frame, then a UDP length that lies."""
    eth = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
    bad_hlen = eth + bytes([0x4f, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 192, 0, 2, 1, 10, 0, 0, 1])
    ip = bytes([0x45, 0, 0, 36, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 10, 0, 0, 1])
    bad_udp = eth + ip + struct.pack("!HHHH", 5000, 53, 200, 0) + b"abcdefgh"
    path = os.path.join(ctx.newdir("anomaly"), "anomaly.pcap")
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, frame in enumerate((bad_hlen, bad_udp)):
            f.write(struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame)
    r = ctx.run(["-r", path, "-S", "/dev/null"], "anomaly")
    expect_rc(r, 0, "anomaly.pcap")
    got = [(e.get("pcap_cnt"), e["anomaly"]["type"], e["anomaly"]["event"], e["anomaly"]["layer"])
           for e in r.events if e.get("event_type") == "anomaly"]
    check(len(got) == 2, "anomaly records %r, expected two" % (got,))
    check(got[0][:2] == (1, "decode") and got[0][3] == "ipv4", "first anomaly %r" % (got[0],))
    check(got[1][:2] == (2, "decode") and got[1][3] == "udp", "second anomaly %r" % (got[1],))


TESTS = [(n[5:], f) for n, f in list(globals().items()) if n.startswith("test_") and callable(f)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"), help="path of the vigil binary")
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), help="the vigil source tree")
    ap.add_argument("-t", "--test", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ap.add_argument("--list", action="store_true", help="list the tests and exit")
    args = ap.parse_args()
    if args.list:
        for name, _ in TESTS:
            print(name)
        return 0
    if not args.vigil or not os.access(args.vigil, os.X_OK):
        print("FAIL setup: vigil binary not found or not executable: %r (use --vigil or VIGIL)"
              % args.vigil)
        print("0 passed, 1 failed")
        return 1
    try:
        ctx = Ctx(os.path.abspath(args.vigil), os.path.abspath(args.source_root))
        THRESHOLDED.update(thresholded_sids(ctx.root))
    except (OSError, ValueError) as e:
        print("FAIL setup: cannot read the expectations under %s: %s" % (args.source_root, e))
        print("0 passed, 1 failed")
        return 1
    passed = failed = 0
    try:
        for name, fn in TESTS:
            if args.test and not any(t in name for t in args.test):
                continue
            try:
                fn(ctx)
                print("PASS %s" % name)
                passed += 1
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
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
