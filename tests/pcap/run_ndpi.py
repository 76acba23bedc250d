#!/usr/bin/env python3
"""Agreement of vigil's protocol detection with nDPI's own results on pcaps/ndpi/.

    python3 tests/pcap/run_ndpi.py --vigil BUILD/vigil --source-root /path/to/vigil
                                   [-t NAME]... [--floors FILE] [--eve-dir DIR] [--selftest]

(The binary may also come from the VIGIL environment variable.) For each capture in
pcaps/ndpi/pcap/ it runs `vigil -q -r CAPTURE -S /dev/null -l DIR` (no rules) and reads the
flow records of DIR/eve.json. Each carries "app_proto" (http, tls, dns, ssh when vigil's own
parser took the flow, else nDPI's master protocol lower-cased, "failed" when nothing did)
and "ndpi": {"protocol", "master", "app", "category", "confidence"}.

The expected flows are pcaps/ndpi/json/<capture>.json (ndpiReader's results, see
pcaps/ndpi/README.md). A record matches an expected flow with the same L4 protocol and the
same two endpoints (address and port, either orientation) and, when the expectation names
a VLAN id, that id among the record's (an expected address that does not parse, as
ndpiReader prints some IPv6 addresses, is left out: the other endpoint and the ports must
match). An expected flow agrees when a matching record has
ndpi.master equal to the expected master protocol and, for HTTP, TLS, DNS and SSH, an
app_proto naming that protocol; an expected flow without a matching record disagrees.

Printed: per capture, the expected and vigil flow counts and every disagreement with both
nDPI names (the expectations come from a newer nDPI than the libndpi vigil links, so some
differences are version differences); then one line per protocol (the expected flow's
master protocol) and a total, each against its floor in tests/pcap/ndpi_floor.txt; last,
"N passed, M failed" over the floors. Exit status 1 when vigil fails on a capture or a rate
is below its floor; 77 (skipped) when no record has an "ndpi" object and every floor is 0
(vigil without nDPI detection in its flow records).

--eve-dir DIR reads DIR/<capture>.eve.json instead of running vigil. --selftest checks the
matching and counting on a small hand-written fixture and exits. Standard library only.
"""

import argparse
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 300
SKIP = 77
# Protocols vigil parses itself: app_proto must name them as well.
PARSED = {"HTTP": "http", "TLS": "tls", "DNS": "dns", "SSH": "ssh"}
L4_ALIASES = {"IPV6-ICMP": "ICMPV6", "ICMP6": "ICMPV6", "IPV6_ICMP": "ICMPV6"}


class Fail(Exception):
    pass


def norm_l4(name):
    n = str(name or "").upper()
    return L4_ALIASES.get(n, n)


def norm_addr(a):
    """The canonical text of an address; None when it does not parse (ndpiReader
    prints some IPv6 addresses wrongly, e.g. with two "::")."""
    try:
        return str(ipaddress.ip_address(str(a or "").strip("[]")))
    except ValueError:
        return None


def endpoint_key(l4, ip1, port1, ip2, port2):
    return (norm_l4(l4), frozenset([(norm_addr(ip1), int(port1 or 0)),
                                    (norm_addr(ip2), int(port2 or 0))]))


def record_key(r):
    return endpoint_key(r.get("proto"), r.get("src_ip"), r.get("src_port"),
                        r.get("dest_ip"), r.get("dest_port"))


def expected_key(f):
    return endpoint_key(f.get("l4"), f.get("src_ip"), f.get("src_port"),
                        f.get("dst_ip"), f.get("dst_port"))


def expected_master(f):
    return f.get("master_proto") or "Unknown"


def vlan_ok(f, r):
    v = f.get("vlan")
    if v is None:
        return True
    vl = r.get("vlan") or []
    if not isinstance(vl, list):
        vl = [vl]
    return str(v) in [str(x) for x in vl]


def record_master(r):
    nd = r.get("ndpi")
    if not isinstance(nd, dict):
        return "Unknown"
    return nd.get("master") or "Unknown"


def agrees(f, r):
    want = expected_master(f)
    if record_master(r).lower() != want.lower():
        return False
    parsed = PARSED.get(want.upper())
    return parsed is None or str(r.get("app_proto", "")).lower() == parsed


def describe_record(r):
    if r is None:
        return "no flow record"
    nd = r.get("ndpi") if isinstance(r.get("ndpi"), dict) else {}
    return "%s (%s) app_proto=%s" % (nd.get("protocol", "no ndpi object"),
                                     nd.get("confidence", "-"), r.get("app_proto", "-"))


def describe_expected(f):
    return "%s (%s)" % (f.get("proto") or expected_master(f), f.get("confidence") or "-")


def loose_match(f, r):
    """For an expectation with an address that does not parse: the same L4
    protocol, the other endpoint, and the port pair."""
    k = record_key(r)
    if k[0] != norm_l4(f.get("l4")):
        return False
    ends = list(k[1])
    for ip, port, other_port in ((f.get("src_ip"), f.get("src_port"), f.get("dst_port")),
                                 (f.get("dst_ip"), f.get("dst_port"), f.get("src_port"))):
        a = norm_addr(ip)
        if a is None:
            continue
        for i, (eip, eport) in enumerate(ends):
            rest = ends[1 - i] if len(ends) == 2 else ends[0]
            if eip == a and eport == int(port or 0) and rest[1] == int(other_port or 0):
                return True
    return False


def candidates(f, by_key, records):
    if norm_addr(f.get("src_ip")) is None or norm_addr(f.get("dst_ip")) is None:
        return [r for r in records if loose_match(f, r) and vlan_ok(f, r)]
    return [r for r in by_key.get(expected_key(f), []) if vlan_ok(f, r)]


def compare(expected, records):
    """expected: the capture's JSON; records: its vigil flow records. Returns
    (per-protocol {proto: [agree, total]}, disagreement lines, matched count)."""
    by_key = {}
    for r in records:
        by_key.setdefault(record_key(r), []).append(r)
    per = {}
    diffs = []
    matched = 0
    for f in expected.get("flows", []):
        proto = expected_master(f)
        cands = candidates(f, by_key, records)
        if cands:
            matched += 1
        ok = any(agrees(f, r) for r in cands)
        c = per.setdefault(proto, [0, 0])
        c[1] += 1
        if ok:
            c[0] += 1
        else:
            vlan = " vlan %s" % f["vlan"] if f.get("vlan") is not None else ""
            diffs.append("%s %s <-> %s%s: expected %s, vigil %s" % (
                f.get("l4"), f.get("src"), f.get("dst"), vlan, describe_expected(f),
                describe_record(cands[0] if cands else None)))
    return per, diffs, matched


def read_eve(path):
    flows = []
    with open(path, "rb") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                ev = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise Fail("%s line %d is not JSON (%s)" % (path, n, e))
            if ev.get("event_type") == "flow":
                flows.append(ev)
    return flows


def run_vigil(vigil, capture, tmp):
    logdir = tempfile.mkdtemp(prefix="log-", dir=tmp)
    argv = [vigil, "-q", "-r", capture, "-S", os.devnull, "-l", logdir]
    env = dict(os.environ, TZ="UTC")
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise Fail("vigil did not finish within %d s" % RUN_TIMEOUT)
    if p.returncode != 0:
        err = p.stderr.decode("utf-8", "replace").strip()
        raise Fail("vigil exit %d: %s" % (p.returncode, err[-400:]))
    eve = os.path.join(logdir, "eve.json")
    if not os.path.exists(eve):
        raise Fail("vigil wrote no eve.json")
    return read_eve(eve)


def read_floors(path):
    floors = {}
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.rsplit(None, 1)
            try:
                floors[parts[0]] = float(parts[1].rstrip("%"))
            except (IndexError, ValueError):
                raise Fail("%s line %d: expected '<protocol> <percent>'" % (path, n))
    return floors


def rate(c):
    return 100.0 * c[0] / c[1] if c[1] else 100.0


def summarise(per, floors, out, all_captures=True):
    """Prints one line per protocol and the total against the floors. Returns
    (floors met, floors missed)."""
    met = missed = 0
    total = [sum(c[0] for c in per.values()), sum(c[1] for c in per.values())]
    lower = {k.lower(): v for k, v in floors.items()}
    out("per protocol (agreeing / expected flows):")
    rows = sorted(per.items(), key=lambda kv: kv[0].lower()) + [("total", total)]
    for proto, c in rows:
        fl = lower.get(proto.lower())
        note = ""
        if fl is not None:
            if rate(c) + 1e-9 >= fl:
                met += 1
                note = "  floor %.1f%%" % fl
            else:
                missed += 1
                note = "  BELOW FLOOR %.1f%%" % fl
        out("  %-16s %4d / %-4d %6.1f%%%s" % (proto, c[0], c[1], rate(c), note))
    for proto in sorted(lower) if all_captures else []:
        if proto != "total" and proto not in {k.lower() for k in per}:
            out("  %-16s no expected flows (floor %.1f%% not checked)" % (proto, lower[proto]))
    return met, missed


# ---------------------------------------------------------------------------
# self-test on a hand-written fixture

FIXTURE_EXPECTED = {"flows": [
    {"l4": "TCP", "src": "10.0.0.1:1000", "dst": "10.0.0.2:443", "src_ip": "10.0.0.1",
     "src_port": 1000, "dst_ip": "10.0.0.2", "dst_port": 443, "vlan": None,
     "proto": "TLS.Google", "master_proto": "TLS", "confidence": "DPI"},
    {"l4": "UDP", "src": "10.0.0.1:2000", "dst": "10.0.0.3:53", "src_ip": "10.0.0.1",
     "src_port": 2000, "dst_ip": "10.0.0.3", "dst_port": 53, "vlan": None,
     "proto": "DNS", "master_proto": "DNS", "confidence": "DPI"},
    {"l4": "UDP", "src": "[2001:db8::1]:3000", "dst": "[2001:db8:0:0::2]:123",
     "src_ip": "2001:db8::1", "src_port": 3000, "dst_ip": "2001:db8:0:0::2", "dst_port": 123,
     "vlan": 7, "proto": "NTP", "master_proto": "NTP", "confidence": "DPI"},
    {"l4": "TCP", "src": "10.0.0.1:1001", "dst": "10.0.0.2:80", "src_ip": "10.0.0.1",
     "src_port": 1001, "dst_ip": "10.0.0.2", "dst_port": 80, "vlan": None,
     "proto": "HTTP", "master_proto": "HTTP", "confidence": "DPI"},
    {"l4": "TCP", "src": "10.0.0.9:5", "dst": "10.0.0.8:6", "src_ip": "10.0.0.9",
     "src_port": 5, "dst_ip": "10.0.0.8", "dst_port": 6, "vlan": None,
     "proto": "Unknown", "master_proto": "Unknown", "confidence": "Unknown"},
    {"l4": "UDP", "src": "[2600:1900::19::]:3478", "dst": "[2001:db8::5]:48094",
     "src_ip": "2600:1900::19::", "src_port": 3478, "dst_ip": "2001:db8::5",
     "dst_port": 48094, "vlan": None, "proto": "STUN", "master_proto": "STUN",
     "confidence": "DPI"},
    {"l4": "ICMP", "src": "10.0.0.1:0", "dst": "10.0.0.4:0", "src_ip": "10.0.0.1",
     "src_port": 0, "dst_ip": "10.0.0.4", "dst_port": 0, "vlan": None,
     "proto": "ICMP", "master_proto": "ICMP", "confidence": "DPI"},
]}

FIXTURE_EVE = """\
{"event_type":"alert","src_ip":"10.0.0.2","src_port":443,"dest_ip":"10.0.0.1","dest_port":1000,"proto":"TCP"}
{"event_type":"flow","src_ip":"10.0.0.2","src_port":443,"dest_ip":"10.0.0.1","dest_port":1000,"proto":"TCP","app_proto":"tls","ndpi":{"protocol":"TLS.Google","master":"TLS","app":"Google","category":"Web","confidence":"DPI"}}
{"event_type":"flow","src_ip":"10.0.0.1","src_port":2000,"dest_ip":"10.0.0.3","dest_port":53,"proto":"UDP","app_proto":"failed","ndpi":{"protocol":"DNS","master":"DNS","app":"DNS","category":"Network","confidence":"DPI"}}
{"event_type":"flow","vlan":[8],"src_ip":"2001:db8::1","src_port":3000,"dest_ip":"2001:db8::2","dest_port":123,"proto":"UDP","app_proto":"failed","ndpi":{"protocol":"Unknown","master":"Unknown","app":"Unknown","category":"Unspecified","confidence":"guessed"}}
{"event_type":"flow","vlan":[7],"src_ip":"2001:db8::1","src_port":3000,"dest_ip":"2001:db8::2","dest_port":123,"proto":"UDP","app_proto":"ntp","ndpi":{"protocol":"NTP","master":"NTP","app":"NTP","category":"System","confidence":"DPI"}}
{"event_type":"flow","src_ip":"10.0.0.9","src_port":5,"dest_ip":"10.0.0.8","dest_port":6,"proto":"TCP","app_proto":"failed","ndpi":{"protocol":"Unknown","master":"Unknown","app":"Unknown","category":"Unspecified","confidence":"guessed"}}
{"event_type":"flow","src_ip":"2001:db8::5","src_port":48094,"dest_ip":"2600:1900:0:0:0:19::","dest_port":3478,"proto":"UDP","app_proto":"stun","ndpi":{"protocol":"STUN","master":"STUN","app":"STUN","category":"Network","confidence":"DPI"}}
{"event_type":"flow","src_ip":"2001:db8::5","src_port":48095,"dest_ip":"2600:1900:0:0:0:19::","dest_port":3478,"proto":"UDP","app_proto":"failed","ndpi":{"protocol":"Unknown","master":"Unknown","app":"Unknown","category":"Unspecified","confidence":"DPI"}}
{"event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.4","proto":"ICMP","app_proto":"icmp","icmp_type":8,"ndpi":{"protocol":"ICMP","master":"ICMP","app":"ICMP","category":"Network","confidence":"DPI"}}
"""


def selftest():
    tmp = tempfile.mkdtemp(prefix="vigil-ndpi-selftest-")
    try:
        path = os.path.join(tmp, "eve.json")
        with open(path, "w") as fh:
            fh.write(FIXTURE_EVE)
        records = read_eve(path)
        floors_path = os.path.join(tmp, "floors.txt")
        with open(floors_path, "w") as fh:
            fh.write("# test\nTLS 100\nDNS 50 # comment\ntotal 60%\nRTP 10\n")
        floors = read_floors(floors_path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    problems = []

    def want(cond, msg):
        if not cond:
            problems.append(msg)

    want(len(records) == 8, "8 flow records read, got %d" % len(records))
    per, diffs, matched = compare(FIXTURE_EXPECTED, records)
    exp = {"TLS": [1, 1], "DNS": [0, 1], "NTP": [1, 1], "HTTP": [0, 1], "Unknown": [1, 1],
           "STUN": [1, 1], "ICMP": [1, 1]}
    want(per == exp, "per-protocol counts %r, expected %r" % (per, exp))
    want(matched == 6, "6 expected flows matched, got %d" % matched)
    want(len(diffs) == 2, "2 disagreements, got %r" % diffs)
    want(any("expected DNS (DPI), vigil DNS (DPI) app_proto=failed" in d for d in diffs),
         "DNS disagreement names both sides: %r" % diffs)
    want(any("expected HTTP (DPI), vigil no flow record" in d for d in diffs),
         "unmatched HTTP flow reported: %r" % diffs)
    want(floors == {"TLS": 100.0, "DNS": 50.0, "total": 60.0, "RTP": 10.0},
         "floors parsed as %r" % floors)
    lines = []
    met, missed = summarise(per, floors, lines.append)
    # TLS 100% >= 100, DNS 0% < 50, total 5/7 = 71.4% >= 60; RTP has no flows
    want((met, missed) == (2, 1), "floors met/missed %r, expected (2, 1): %s" % (
        (met, missed), lines))
    want(agrees({"master_proto": "QUIC"}, {"ndpi": {"master": "QUIC"}, "app_proto": "quic"}),
         "QUIC needs no vigil parser")
    want(not agrees({"master_proto": "TLS"}, {"app_proto": "tls"}),
         "a record without an ndpi object does not agree on TLS")
    for p in problems:
        print("FAIL selftest: %s" % p)
    print("PASS selftest" if not problems else "FAIL selftest")
    return not problems


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"), help="path of the vigil binary")
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), help="the vigil source tree")
    ap.add_argument("-t", "--test", action="append", default=[],
                    help="only captures whose name contains this (repeatable)")
    ap.add_argument("--floors", help="floor file (default tests/pcap/ndpi_floor.txt)")
    ap.add_argument("--eve-dir", help="read DIR/<capture>.eve.json instead of running vigil")
    ap.add_argument("--selftest", action="store_true", help="check the script on its fixture")
    args = ap.parse_args()

    if args.selftest:
        return 0 if selftest() else 1
    root = os.path.abspath(args.source_root)
    if not args.eve_dir and (not args.vigil or not os.access(args.vigil, os.X_OK)):
        print("FAIL setup: vigil binary not found or not executable: %r (use --vigil or VIGIL)"
              % args.vigil)
        print("0 passed, 1 failed")
        return 1
    if not selftest():
        print("0 passed, 1 failed")
        return 1
    try:
        floors = read_floors(args.floors or os.path.join(root, "tests", "pcap",
                                                         "ndpi_floor.txt"))
    except (OSError, Fail) as e:
        print("FAIL setup: floors: %s" % e)
        print("0 passed, 1 failed")
        return 1

    pdir = os.path.join(root, "pcaps", "ndpi", "pcap")
    jdir = os.path.join(root, "pcaps", "ndpi", "json")
    captures = sorted(c for c in os.listdir(pdir)
                      if not args.test or any(t in c for t in args.test))
    tmp = tempfile.mkdtemp(prefix="vigil-ndpi-")
    per = {}
    failed_runs = 0
    any_ndpi = False
    try:
        for cap in captures:
            try:
                with open(os.path.join(jdir, cap + ".json")) as fh:
                    expected = json.load(fh)
                if args.eve_dir:
                    records = read_eve(os.path.join(args.eve_dir, cap + ".eve.json"))
                else:
                    records = run_vigil(os.path.abspath(args.vigil), os.path.join(pdir, cap),
                                        tmp)
            except (OSError, ValueError, Fail) as e:
                print("FAIL %s: %s" % (cap, e))
                failed_runs += 1
                continue
            any_ndpi = any_ndpi or any(isinstance(r.get("ndpi"), dict) for r in records)
            p, diffs, matched = compare(expected, records)
            agree = sum(c[0] for c in p.values())
            print("%s: expected %d flows, vigil %d flow records, %d matched, %d agree" % (
                cap, len(expected.get("flows", [])), len(records), matched, agree))
            for d in diffs:
                print("    %s" % d)
            for k, c in p.items():
                t = per.setdefault(k, [0, 0])
                t[0] += c[0]
                t[1] += c[1]
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    met, missed = summarise(per, floors, print, all_captures=not args.test)
    if failed_runs == 0 and not any_ndpi and all(v == 0 for v in floors.values()):
        print("SKIP: no flow record carries an \"ndpi\" object (vigil without nDPI results)")
        return SKIP
    print("%d passed, %d failed" % (met, missed + failed_runs))
    return 1 if missed or failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
