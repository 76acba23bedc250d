#!/usr/bin/env python3
"""End-to-end tests of TCP stream reassembly on the captures of pcaps/stream/.

    python3 tests/pcap/run_stream.py --vigil BUILD/vigil --source-root /path/to/vigil

For each capture in pcaps/stream/expected.json (written by make_stream_pcaps.py) it runs
vigil with the capture's rules, with 1 and 2 workers, and checks the exact alert counts per
sid and the number of flow records; then each variant (extra --set keys, e.g. midstream on or
a small memcap, with the stream counters it must show) and each overlap policy. Prints
"PASS name" or "FAIL name: why"; the last line is "N passed, M failed". Standard library only.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_tunnels import Fail, check  # noqa: E402
import run_tunnels  # noqa: E402


def counts(events):
    c = {}
    for x in events:
        if x.get("event_type") == "alert":
            sid = str(x["alert"]["signature_id"])
            c[sid] = c.get(sid, 0) + 1
    return c


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"))
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))))
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    vigil = os.path.abspath(args.vigil)
    expected = json.load(open(os.path.join(root, "pcaps", "stream", "expected.json")))
    tmp = tempfile.mkdtemp(prefix="vigil-stream-")
    passed = failed = 0

    def run(cap, want, extra, what, stats=None):
        nonlocal passed, failed
        try:
            run_tunnels.RULES = want["rules"]
            events, summ = run_tunnels.run_vigil(
                vigil, root, os.path.join(root, "pcaps", "stream", cap), tmp, extra)
            got = counts(events)
            check(got == want_alerts(want, what), "alerts %r, expected %r"
                  % (got, want_alerts(want, what)))
            flows = sum(1 for x in events if x.get("event_type") == "flow")
            check(flows == want["flows"], "%d flow records, expected %d" % (flows, want["flows"]))
            for k, v in (stats or {}).items():
                check(summ["stream"].get(k) == v, "stream.%s=%r, expected %r"
                      % (k, summ["stream"].get(k), v))
            print("PASS %s" % what)
            passed += 1
        except Fail as e:
            print("FAIL %s: %s" % (what, e))
            failed += 1

    overrides = {}

    def want_alerts(want, what):
        return overrides.get(what, want["alerts"])

    for cap, want in sorted(expected.items()):
        for workers in (1, 2):
            run(cap, want, ["--workers", str(workers)], "%s workers=%d" % (cap, workers),
                want.get("stream_stats") if workers == 1 else None)
        for policy, alerts in sorted(want.get("alerts_by_policy", {}).items()):
            what = "%s policy=%s" % (cap, policy)
            overrides[what] = alerts
            run(cap, want, ["--workers", "1", "--set", "stream.reassembly.policy=" + policy], what)
        for n, v in enumerate(want.get("variants", [])):
            what = "%s variant %d (%s)" % (cap, n + 1, ", ".join(
                "%s=%s" % kv for kv in sorted(v["set"].items())))
            overrides[what] = v["alerts"]
            extra = ["--workers", str(v.get("workers", 1))]
            for k, val in sorted(v["set"].items()):
                extra += ["--set", "%s=%s" % (k, val)]
            run(cap, want, extra, what, v.get("stream_stats"))

    shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
