#!/usr/bin/env python3
"""End-to-end tests of IP defragmentation on the captures of pcaps/defrag/.

    python3 tests/pcap/run_defrag.py --vigil BUILD/vigil --source-root /path/to/vigil

For each capture in pcaps/defrag/expected.json (written by make_defrag_pcaps.py) it
runs vigil with 1 and with 2 workers and checks: exactly the expected alerts per sid,
each alert's packet number and endpoints, the flow records' endpoints and counters, the
anomaly events (name and packet number), and the summary's defrag counters. Overlap
policies are checked one by one (--set defrag.policy=P), and the fragment flood again
with small caps, where the counters must show what was dropped and why. Prints
"PASS name" or "FAIL name: why"; the last line is "N passed, M failed". Standard library
only.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_tunnels import Fail, check, diff_fields, run_vigil  # noqa: E402

DEFRAG_COUNTERS = ("ipv4_fragments", "ipv6_fragments", "ipv4_reassembled", "ipv6_reassembled",
                   "overlaps", "overlaps_different", "memcap_drops", "tracker_table_full",
                   "too_many_fragments", "oversize", "invalid")


def check_run(events, summ, want, what):
    alerts = [x for x in events if x.get("event_type") == "alert"]
    counts = {}
    for a in alerts:
        sid = str(a["alert"]["signature_id"])
        counts[sid] = counts.get(sid, 0) + 1
    check(counts == want["alerts"], "%s: alerts %r, expected %r" % (what, counts, want["alerts"]))
    got_list = sorted((a["pcap_cnt"], a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"])
                      for a in alerts)
    want_list = sorted((a["pcap_cnt"], a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"])
                       for a in want.get("alert_list", []))
    check(got_list == want_list, "%s: alerts at %r, expected %r" % (what, got_list, want_list))
    anomalies = {}
    for x in events:
        # decoder and defrag anomalies; the app layer's (a response whose request was
        # lost in the flood) are another layer's business
        if x.get("event_type") == "anomaly" and x["anomaly"].get("type") != "applayer":
            anomalies.setdefault(x.get("pcap_cnt"), set()).add(x["anomaly"]["event"])
    if want.get("events") is None:
        return check_defrag_counters(summ, want, what), anomalies
    for e in want.get("events", []):
        got = anomalies.get(e["pcap_cnt"], set())
        # vigil names each event once, with the family-specific name where one exists
        check(got and got <= set(e["events"]),
              "%s: anomalies at packet %d: %r, expected among %r"
              % (what, e["pcap_cnt"], sorted(got), e["events"]))
    check(len(anomalies) == len(want.get("events", [])),
          "%s: anomalies at packets %r" % (what, sorted(anomalies)[:20]))
    return check_defrag_counters(summ, want, what), anomalies


def check_defrag_counters(summ, want, what):
    d = summ.get("defrag", {})
    for k in DEFRAG_COUNTERS:
        if k in want.get("defrag", {}):
            check(d.get(k) == want["defrag"][k],
                  "%s: defrag.%s=%r, expected %r" % (what, k, d.get(k), want["defrag"][k]))


def check_flows(events, want, what):
    flows = sorted((x for x in events if x.get("event_type") == "flow"),
                   key=lambda x: (x["src_ip"], x.get("src_port", 0)))
    check(len(flows) == want["flows"], "%s: %d flow records, expected %d"
          % (what, len(flows), want["flows"]))
    for got, exp in zip(flows, sorted(want["flow_list"], key=lambda x: (x["src_ip"], x["src_port"]))):
        flat = dict(got, **got["flow"])
        diff_fields(what + " flow", flat, {k: v for k, v in exp.items() if k != "vlan"})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"))
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    vigil = os.path.abspath(args.vigil)
    expected = json.load(open(os.path.join(root, "pcaps", "defrag", "expected.json")))
    tmp = tempfile.mkdtemp(prefix="vigil-defrag-")
    passed = failed = 0

    def run_case(name, fn):
        nonlocal passed, failed
        try:
            fn()
            print("PASS %s" % name)
            passed += 1
        except Fail as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1

    for cap, want in sorted(expected.items()):
        if cap == "conventions":
            continue
        path = os.path.join(root, "pcaps", "defrag", cap)
        for workers in (1, 2):
            def default_case(path=path, want=want, workers=workers, cap=cap):
                events, summ = run_vigil(vigil, root, path, tmp, ["--workers", str(workers)])
                check_run(events, summ, want, cap)
                check_flows(events, want, cap)
            run_case("%s workers=%d" % (cap, workers), default_case)
        for policy, pw in sorted(want.get("by_policy", {}).items()):
            def policy_case(path=path, pw=pw, policy=policy):
                events, summ = run_vigil(vigil, root, path, tmp,
                                         ["--workers", "1", "--set", "defrag.policy=" + policy])
                check_run(events, summ, dict(pw, defrag={}), "policy " + policy)
            run_case("%s policy=%s" % (cap, policy), policy_case)
        if "small_caps" in want:
            sc = want["small_caps"]

            def caps_case(path=path, sc=sc):
                events, summ = run_vigil(vigil, root, path, tmp, [
                    "--workers", "1",
                    "--set", "defrag.memcap=%d" % sc["config"]["memcap"],
                    "--set", "defrag.trackers=%d" % sc["config"]["max_trackers"]])
                _, anomalies = check_run(events, summ, dict(sc, events=None), "small caps")
                names = {n for v in anomalies.values() for n in v if not n.startswith("stream.")}
                check(names == {"ipv4.frag_ignored", "defrag.max_trackers_reached"},
                      "small caps: anomaly names %r" % sorted(names))
            run_case("%s small caps" % cap, caps_case)

    shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
