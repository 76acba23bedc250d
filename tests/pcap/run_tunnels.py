#!/usr/bin/env python3
"""End-to-end tests of tunnel decapsulation on the captures of pcaps/tunnels/.

    python3 tests/pcap/run_tunnels.py --vigil BUILD/vigil --source-root /path/to/vigil [-t NAME]...

(The binary may also come from the VIGIL environment variable.) For each capture in
pcaps/tunnels/expected.json (written by pcaps/tunnels/make_tunnel_pcaps.py) it runs
`vigil -r CAPTURE -S tests/pcap/rules/bigip-payload.rules -l DIR --summary-json FILE`
and checks: exit status 0; exactly the expected alerts per sid (8400001 once); the
alert's inner addresses, ports, protocol and packet number; its "tunnel" object, field
for field; its VLAN ids; one flow record with the inner endpoints, the same tunnel
object and the expected packet and byte counters; the decoder counters of the summary,
and no decoder anomaly. Prints "PASS name" or "FAIL name: why"; the last line is
"N passed, M failed" and the exit status is 1 when any test failed. Standard library only.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 120
RULES = "tests/pcap/rules/bigip-payload.rules"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run_vigil(vigil, root, capture, tmp, extra=()):
    logdir = tempfile.mkdtemp(prefix="log-", dir=tmp)
    summary = os.path.join(logdir, "summary.json")
    argv = [vigil, "-q", "-r", capture, "-S", os.path.join(root, RULES), "-l", logdir,
            "--summary-json", summary] + list(extra)
    env = dict(os.environ, TZ="UTC")
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise Fail("vigil did not finish within %d s" % RUN_TIMEOUT)
    err = p.stderr.decode("utf-8", "replace").strip()
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, err[-400:]))
    events = []
    with open(os.path.join(logdir, "eve.json"), "rb") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    events.append(json.loads(line.decode("utf-8")))
                except ValueError as e:
                    raise Fail("eve.json line %d is not JSON (%s)" % (n, e))
    with open(summary) as f:
        summ = json.load(f)
    return events, summ


def diff_fields(what, got, want):
    bad = ["%s=%r, expected %r" % (k, got.get(k), v) for k, v in want.items() if got.get(k) != v]
    check(not bad, "%s: %s" % (what, "; ".join(bad)))


def check_capture(vigil, root, tmp, name, e):
    events, summ = run_vigil(vigil, root, os.path.join(root, "pcaps", "tunnels", name), tmp)
    alerts = [x for x in events if x.get("event_type") == "alert"]
    flows = [x for x in events if x.get("event_type") == "flow"]

    counts = {}
    for a in alerts:
        sid = str(a.get("alert", {}).get("signature_id"))
        counts[sid] = counts.get(sid, 0) + 1
    check(counts == e["alerts"], "alerts per sid %s, expected %s" % (counts, e["alerts"]))

    a = alerts[0]
    diff_fields("alert", a, e["alert"])
    want = e.get("alert_tunnel", e["tunnel"])
    check(a.get("tunnel") == want, "alert tunnel %s, expected %s" % (
        json.dumps(a.get("tunnel"), sort_keys=True), json.dumps(want, sort_keys=True)))
    check(a["tunnel"]["tunnel_type"] == e["tunnel_type"], "alert tunnel_type %r, expected %r" % (
        a["tunnel"]["tunnel_type"], e["tunnel_type"]))
    if e["vlan"]:
        check(a.get("vlan") == e["vlan"], "alert vlan %r, expected %r" % (a.get("vlan"), e["vlan"]))
    else:
        check("vlan" not in a, "alert has vlan %r" % a.get("vlan"))

    check(len(flows) == e["flows"], "%d flow records, expected %d" % (len(flows), e["flows"]))
    f = flows[0]
    diff_fields("flow record", f, {k: v for k, v in e["alert"].items() if k != "pcap_cnt"})
    diff_fields("flow record counters", f.get("flow", {}), e["flow"])
    check(f.get("tunnel") == e["tunnel"], "flow tunnel %s, expected %s" % (
        json.dumps(f.get("tunnel"), sort_keys=True), json.dumps(e["tunnel"], sort_keys=True)))

    dec = summ.get("decoder", {})
    diff_fields("summary decoder", dec, e["decoder"])
    check(dec.get("invalid") == 0, "summary decoder.invalid = %r" % dec.get("invalid"))
    anomalies = {k: v for k, v in dec.get("event", {}).items() if v}
    check(not anomalies, "decoder anomalies: %s" % anomalies)
    check(summ.get("packets") == e["packets"], "summary packets %r, expected %d" % (
        summ.get("packets"), e["packets"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"), help="path of the vigil binary")
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), help="the vigil source tree")
    ap.add_argument("-t", "--test", action="append", default=[],
                    help="run only captures whose name contains this (repeatable)")
    args = ap.parse_args()
    if not args.vigil or not os.access(args.vigil, os.X_OK):
        print("FAIL setup: vigil binary not found or not executable: %r (use --vigil or VIGIL)"
              % args.vigil)
        print("0 passed, 1 failed")
        return 1
    root = os.path.abspath(args.source_root)
    try:
        with open(os.path.join(root, "pcaps", "tunnels", "expected.json")) as f:
            expected = json.load(f)
    except (OSError, ValueError) as e:
        print("FAIL setup: cannot read pcaps/tunnels/expected.json: %s" % e)
        print("0 passed, 1 failed")
        return 1
    vigil = os.path.abspath(args.vigil)
    tmp = tempfile.mkdtemp(prefix="vigil-tunnels-")
    passed = failed = 0
    try:
        for name in sorted(expected):
            if args.test and not any(t in name for t in args.test):
                continue
            try:
                check_capture(vigil, root, tmp, name, expected[name])
                print("PASS %s" % name)
                passed += 1
            except Fail as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
            except (KeyError, IndexError, TypeError) as e:
                print("FAIL %s: unexpected record shape: %s: %s" % (name, type(e).__name__, e))
                failed += 1
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
