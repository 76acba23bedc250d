#!/usr/bin/env python3
"""End-to-end tests of the shipped threat content: every rule of signatures/rules/ and
every behaviour detector fires on its own capture with an exact count, and stays silent on
a near miss.

    python3 tests/pcap/run_threat.py --vigil BUILD/vigil --source-root /path/to/vigil [-k NAME]

Captures: pcaps/threat/<family>/*.pcap, written by pcaps/threat/make_<family>.py, with
their expectations in pcaps/threat/<family>/expected.json:

    {"family": "exploit",
     "cases": [{"name": "...", "pcap": "x.pcap", "kind": "fire" | "miss",
                "covers": [sid, ...],           # the rules/detectors this case is about
                "alerts": {"sid": count, ...},  # EVERY alert the capture raises, exactly
                "config": "file.yaml",          # optional: instead of pcaps/estate.yaml
                "set": ["key=value", ...],      # optional: --set overrides
                "description": "..."}]}

Each capture runs through vigil with the shipped rule set (no -S) and pcaps/estate.yaml
(the test estate); the alerts it raises, counted by sid, must equal "alerts". Then every
sid of the shipped rules must be covered by a "fire" case that raises it and a "miss" case
that does not. Prints "PASS name" / "FAIL name: why"; the last line is "N passed, M failed".
Standard library only.
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 120
# The captures hold a few flows: small pools keep each run's start-up (allocation and, under
# AddressSanitizer, shadow mapping) short; the estate's addresses and detectors are unchanged.
SMALL_POOLS = ["--workers", "1", "--set", "flow.memcap=4mb", "--set", "capture.ring-size=1mb",
               "--set", "event-ring.size=1024", "--set", "app-layer.ndpi.max-flows=64",
               "--set", "app-layer.protocols.http.max-flows=64",
               "--set", "app-layer.protocols.http.decompressors=16",
               "--set", "app-layer.protocols.tls.max-flows=64",
               "--set", "app-layer.protocols.dns.max-flows=64",
               "--set", "app-layer.protocols.ssh.max-flows=64"]


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run_case(vigil, root, family_dir, case, tmp):
    logdir = tempfile.mkdtemp(prefix="log-", dir=tmp)
    config = os.path.join(family_dir, case["config"]) if case.get("config") \
        else os.path.join(root, "pcaps", "estate.yaml")
    argv = [vigil, "-q", "-r", os.path.join(family_dir, case["pcap"]), "-c", config,
            "-l", logdir] + SMALL_POOLS
    for kv in case.get("set", []):
        argv += ["--set", kv]
    env = dict(os.environ, TZ="UTC")
    try:
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, env=env, cwd=root)
    except subprocess.TimeoutExpired:
        raise Fail("vigil did not finish within %d s" % RUN_TIMEOUT)
    err = p.stderr.decode("utf-8", "replace").strip()
    check(p.returncode == 0, "exit %d: %s" % (p.returncode, err[-600:]))
    got = {}
    with open(os.path.join(logdir, "eve.json"), "rb") as f:
        for line in f:
            if not line.strip():
                continue
            ev = json.loads(line.decode("utf-8"))
            if ev.get("event_type") == "alert":
                sid = str(ev["alert"]["signature_id"])
                got[sid] = got.get(sid, 0) + 1
    want = {str(k): v for k, v in case["alerts"].items()}
    if got != want:
        missing = {k: v for k, v in want.items() if got.get(k) != v}
        extra = {k: v for k, v in got.items() if k not in want}
        raise Fail("alerts %s, expected %s (differ: want %s, unexpected %s)"
                   % (json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True),
                      missing, extra))


def shipped_sids(root):
    """sid -> rule file of every enabled rule in signatures/rules/*.rules."""
    sys.path.insert(0, os.path.join(root, "signatures", "tools"))
    import rulefile
    rules, _ = rulefile.read_rules(root)
    return {r["sid"]: r["file"] for r in rules if r["enabled"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("-k", help="run only cases whose name contains this")
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    vigil = os.path.abspath(args.vigil)
    passed = failed = 0
    fire, miss = {}, {}
    with tempfile.TemporaryDirectory(prefix="vigil-threat-") as tmp:
        for exp in sorted(glob.glob(os.path.join(root, "pcaps", "threat", "*", "expected.json"))):
            family_dir = os.path.dirname(exp)
            with open(exp) as f:
                spec = json.load(f)
            for case in spec["cases"]:
                name = "%s/%s" % (spec["family"], case["name"])
                for sid in case["covers"]:
                    (fire if case["kind"] == "fire" else miss).setdefault(sid, []).append(name)
                    if case["kind"] == "fire" and not case["alerts"].get(str(sid)):
                        print("FAIL %s: covers %d but expects no alert of it" % (name, sid))
                        failed += 1
                    if case["kind"] == "miss" and case["alerts"].get(str(sid)):
                        print("FAIL %s: a near miss of %d expects it to fire" % (name, sid))
                        failed += 1
                if args.k and args.k not in name:
                    continue
                try:
                    run_case(vigil, root, family_dir, case, tmp)
                    print("PASS %s" % name)
                    passed += 1
                except (Fail, OSError, ValueError, KeyError) as e:
                    print("FAIL %s: %s" % (name, e))
                    failed += 1
    if not args.k:
        for sid, path in sorted(shipped_sids(root).items()):
            what = "coverage of %d (%s)" % (sid, path)
            lacks = [k for k, d in (("fire", fire), ("near-miss", miss)) if sid not in d]
            if lacks:
                print("FAIL %s: no %s case" % (what, " and no ".join(lacks)))
                failed += 1
            else:
                passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
