#!/usr/bin/env python3
"""A large generated rule set loads whole and does not disturb the shipped rules.

    python3 tests/pcap/run_ruleset.py --vigil BUILD/vigil --source-root /path/to/vigil
                                      [--rules N] [--seed S] [--with-new-keywords]

1. tests/bench/gen_rules.py writes N ET-like rules (default 5,000); `vigil -T` must load
   all of them: "rules: N loaded, 0 skipped, 0 dormant, 0 files failed", exit 0.
2. The demo capture runs with the shipped rules alone, then with the shipped rules plus the
   generated ones: the shipped rules' alerts (sid, packet, addresses) must be the same in
   both runs and the ones pcaps/demo/expected.json lists, and the generated rules (sids from
   5,000,000) must raise none (sids 5,000,001 to 5,000,000 + N).

Prints "PASS name" or "FAIL name: why" per check and "N passed, M failed"; exit 1 on any
failure. Standard library only.
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 300
SID_BASE = 5000000


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=RUN_TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def alerts(logdir):
    out = []
    with open(os.path.join(logdir, "eve.json")) as f:
        for line in f:
            e = json.loads(line)
            if e.get("event_type") == "alert":
                out.append((e["alert"]["signature_id"], e.get("pcap_cnt"), e.get("src_ip"),
                            e.get("dest_ip")))
    return sorted(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"))
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--rules", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-new-keywords", action="store_true",
                    help="generate with gen_rules.py --with-new-keywords")
    args = ap.parse_args()
    if not args.vigil:
        ap.error("--vigil (or VIGIL) is required")
    root = args.source_root
    tmp = tempfile.mkdtemp(prefix="vigil-ruleset-")
    generated = os.path.join(tmp, "generated.rules")
    shipped = sorted(glob.glob(os.path.join(root, "signatures/rules/*.rules")))
    demo = os.path.join(root, "pcaps/demo/demo.pcap")
    with open(os.path.join(root, "pcaps/demo/expected.json")) as f:
        expected = json.load(f)
    want_shipped = sorted((a["sid"], a["pcap_cnt"], a["src_ip"], a["dest_ip"])
                          for a in expected["alert_list"])

    passed = failed = 0

    def test(name, fn):
        nonlocal passed, failed
        try:
            fn()
            print("PASS", name)
            passed += 1
        except (Fail, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1

    def generate():
        rc, out, err = run([sys.executable, os.path.join(root, "tests/bench/gen_rules.py"),
                            "--rules", str(args.rules), "--seed", str(args.seed),
                            "--out", generated] +
                           (["--with-new-keywords"] if args.with_new_keywords else []))
        check(rc == 0, "gen_rules.py exit %d: %s" % (rc, err.strip()[-400:]))
        with open(generated) as f:
            n = sum(1 for line in f if line.startswith("alert "))
        check(n == args.rules, "%d rules written, expected %d" % (n, args.rules))

    def load():
        rc, out, err = run([args.vigil, "-T", "-S", generated])
        m = re.search(r"rules: (\d+) loaded, (\d+) skipped, \d+ dormant, (\d+) files failed", out)
        check(m is not None, "no rule counts in -T output: %s" % (out + err).strip()[-400:])
        loaded, skipped, failed_files = (int(x) for x in m.groups())
        first_errors = " | ".join(err.strip().splitlines()[:5])
        check(skipped == 0, "%d rules skipped: %s" % (skipped, first_errors))
        check(loaded == args.rules and failed_files == 0,
              "%d loaded, %d files failed, expected %d loaded" % (loaded, failed_files,
                                                                  args.rules))
        check(rc == 0, "vigil -T exit %d" % rc)

    def demo_runs():
        base_dir = os.path.join(tmp, "shipped")
        both_dir = os.path.join(tmp, "shipped+generated")
        for d, files in ((base_dir, shipped), (both_dir, shipped + [generated])):
            os.makedirs(d)
            # the demo's expectations hold with its estate (pcaps/estate.yaml)
            cmd = [args.vigil, "-r", demo, "-l", d, "-q", "-c",
                   os.path.join(root, "pcaps", "estate.yaml")]
            for path in files:
                cmd += ["-S", path]
            rc, out, err = run(cmd)
            check(rc == 0, "%s exit %d: %s" % (" ".join(cmd), rc, err.strip()[-400:]))
        base = alerts(base_dir)
        both = alerts(both_dir)
        check(base == want_shipped, "shipped rules alone: %s, expected %s" % (base, want_shipped))
        generated_sids = range(SID_BASE + 1, SID_BASE + args.rules + 1)
        gen_alerts = [a for a in both if a[0] in generated_sids]
        check(not gen_alerts, "%d alerts from generated rules: %s" % (len(gen_alerts),
                                                                       gen_alerts[:5]))
        shipped_alerts = [a for a in both if a[0] not in generated_sids]
        check(shipped_alerts == base,
              "shipped rules' alerts changed with the generated set: %s, alone %s" % (
                  shipped_alerts, base))

    test("generate %d rules" % args.rules, generate)
    if failed == 0:
        test("vigil -T loads %d rules, 0 skipped" % args.rules, load)
        test("demo: shipped alerts unchanged, 0 generated alerts", demo_runs)
    print("%d passed, %d failed" % (passed, failed))
    if failed == 0:
        subprocess.run(["rm", "-rf", tmp])
    else:
        print("files kept in", tmp)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
