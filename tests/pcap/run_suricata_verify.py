#!/usr/bin/env python3
"""Runs vigil on suricata-verify tests and compares alert counts with upstream's.

    python3 tests/pcap/run_suricata_verify.py --vigil BUILD/vigil --source-root /path/to/vigil
        [--suite DIR] [--gate FILE] [-t NAME]...

Suite: pcaps/suricata-verify/ by default; every sub-directory holding expected.json,
test.rules and input.pcap is a test (see pcaps/suricata-verify/README.md for the
expected.json fields).

For each test:
  1. `vigil -T -S test.rules`: when it reports errors (a rule skipped: unsupported
     keyword, protocol or syntax), the test is SKIP and the reason lists what vigil
     named in its messages.
  2. `vigil -r input.pcap -S test.rules -l DIR` plus the options upstream passes
     (`-k none`, `--set key=value`; a test that needs any other Suricata option is
     SKIP) and HOME_NET/EXTERNAL_NET as --set vars.address-groups.* when given.
  3. alerts: {"sid": N} exactly N alert records; null = at least one (or alerts_min);
     no_alerts: sids that must not alert; total_alerts: total when not null.
Each test prints `PASS|FAIL|SKIP name (reason)`.

Gate: tests/pcap/suricata_verify_gate.txt lists the tests that must PASS. The run
fails when a gated test does not pass, and also when a test outside the gate passes
(add it to the gate, so that it stays passing). The last line is "N passed, M failed"
where passed = tests whose outcome agrees with the gate and failed = those that do
not; exit status 1 when M > 0.
"""

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 180
PASSTHROUGH_OPTIONS = ("-k", "--set")


def load_gate(path):
    names = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    names.append(line)
    return names


def discover(suite):
    tests = []
    for name in sorted(os.listdir(suite)):
        d = os.path.join(suite, name)
        if os.path.isdir(d) and os.path.exists(os.path.join(d, "expected.json")):
            tests.append(name)
    return tests


def run(argv, cwd):
    env = dict(os.environ)
    env["TZ"] = "UTC"
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %d s" % RUN_TIMEOUT
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


_QUOTED = re.compile(r"""["'`]([^"'`]{1,60})["'`]""")
_AFTER = re.compile(r"""(?i)(?:keyword|protocol|option|action)\s*[:=]?\s*["'`]?([A-Za-z0-9_.\-]+)""")


def rule_problems(text, rules_name):
    """From `vigil -T` output, the short names of what vigil refused."""
    names = []
    for line in text.splitlines():
        if rules_name not in line:
            continue
        msg = line.split(rules_name, 1)[1]
        msg = re.sub(r"^:\d+:\s*", "", msg)
        found = _AFTER.findall(msg) or _QUOTED.findall(msg)
        if not found:
            found = [msg.strip()[:60]]
        for f in found:
            if f not in names:
                names.append(f)
    return names


def vigil_options(exp):
    """The vigil arguments for upstream's Suricata options, or (None, reason)."""
    out = []
    for opt in exp.get("suricata_options") or []:
        parts = shlex.split(opt)
        i = 0
        while i < len(parts):
            p = parts[i]
            if p in PASSTHROUGH_OPTIONS and i + 1 < len(parts):
                out += [p, parts[i + 1]]
                i += 2
            elif p.startswith("--set="):
                out += ["--set", p[len("--set="):]]
                i += 1
            else:
                return None, "needs Suricata option %s" % opt
    hv = exp.get("home_net_vars")
    if isinstance(hv, dict):
        for k, v in sorted(hv.items()):
            out += ["--set", "vars.address-groups.%s=%s" % (k, v)]
    return out, None


def read_eve(path):
    events = []
    if not os.path.exists(path):
        return events, None
    with open(path, "rb") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                events.append(json.loads(line.decode("utf-8")))
            except (UnicodeDecodeError, ValueError) as e:
                return events, "eve.json line %d is not JSON (%s)" % (n, e)
    return events, None


def compare(exp, counts, total):
    problems = []
    mins = exp.get("alerts_min") or {}
    for sid, want in sorted((exp.get("alerts") or {}).items()):
        got = counts.get(str(sid), 0)
        if want is None:
            lo = max(1, int(mins.get(str(sid), 1)))
            if got < lo:
                problems.append("sid %s: %d alerts, expected at least %d" % (sid, got, lo))
        elif got != want:
            problems.append("sid %s: %d alerts, expected %d" % (sid, got, want))
    for sid in exp.get("no_alerts") or []:
        got = counts.get(str(sid), 0)
        if got:
            problems.append("sid %s: %d alerts, expected none" % (sid, got))
    if exp.get("total_alerts") is not None and total != exp["total_alerts"]:
        problems.append("%d alerts in total, expected %d" % (total, exp["total_alerts"]))
    return problems


def run_test(vigil, suite, name, tmp):
    d = os.path.join(suite, name)
    rules = os.path.join(d, "test.rules")
    pcap = os.path.join(d, "input.pcap")
    with open(os.path.join(d, "expected.json")) as f:
        exp = json.load(f)
    if not os.path.exists(rules) or not os.path.exists(pcap):
        return "SKIP", "no test.rules or input.pcap"
    work = tempfile.mkdtemp(prefix=name[:40] + "-", dir=tmp)
    rc, out, err = run([vigil, "-T", "-S", rules], work)
    if rc is None:
        return "FAIL", "vigil -T " + err
    if rc < 0:
        return "FAIL", "vigil -T killed by signal %d" % -rc
    if rc != 0:
        what = rule_problems(out + err, "test.rules")
        return "SKIP", "rules vigil cannot load: " + (", ".join(what) or (out + err).strip()[-200:])
    opts, why = vigil_options(exp)
    if opts is None:
        return "SKIP", why
    logdir = os.path.join(work, "log")
    os.mkdir(logdir)
    rc, out, err = run([vigil, "-r", pcap, "-S", rules, "-l", logdir] + opts, work)
    if rc is None:
        return "FAIL", "vigil " + err
    if rc < 0:
        return "FAIL", "vigil killed by signal %d" % -rc
    if rc not in (0, 2):
        return "FAIL", "vigil exit %d: %s" % (rc, (err or out).strip()[-300:].replace("\n", " | "))
    events, bad = read_eve(os.path.join(logdir, "eve.json"))
    if bad:
        return "FAIL", bad
    counts, total = {}, 0
    for e in events:
        if e.get("event_type") == "alert":
            sid = str(e.get("alert", {}).get("signature_id"))
            counts[sid] = counts.get(sid, 0) + 1
            total += 1
    problems = compare(exp, counts, total)
    if problems:
        return "FAIL", "; ".join(problems)
    return "PASS", "%d alerts" % total


def write_report(path, suite, tests, outcome, reasons, gate, n):
    """One row per test: what upstream expects (INDEX.tsv) and what vigil did."""
    index = {}
    index_file = os.path.join(suite, "INDEX.tsv")
    if os.path.exists(index_file):
        with open(index_file) as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split("\t")
                if len(cols) >= 3:
                    index[cols[0]] = (cols[1], cols[2])
    with open(path, "w") as f:
        f.write("# suricata-verify with vigil\n\n")
        f.write("%d PASS, %d FAIL, %d SKIP of %d tests (gate: %d tests).\n\n" % (
            n["PASS"], n["FAIL"], n["SKIP"], len(tests), len(gate)))
        f.write("| test | features | expected alerts (sid=count) | result | detail |\n")
        f.write("|---|---|---|---|---|\n")
        for name in tests:
            features, sids = index.get(name, ("", ""))
            f.write("| %s | %s | %s | %s | %s |\n" % (
                name, features, sids, outcome[name], reasons[name].replace("|", "/")))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"))
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(here)))
    ap.add_argument("--suite", help="directory of tests (default SOURCE/pcaps/suricata-verify)")
    ap.add_argument("--gate", help="gate file (default tests/pcap/suricata_verify_gate.txt)")
    ap.add_argument("-t", "--test", action="append", default=[],
                    help="run only tests whose name contains this (repeatable)")
    ap.add_argument("--report", help="also write a Markdown report of every test to this file")
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    suite = args.suite or os.path.join(root, "pcaps", "suricata-verify")
    gate_file = args.gate or os.path.join(root, "tests", "pcap", "suricata_verify_gate.txt")
    if not args.vigil or not os.access(args.vigil, os.X_OK):
        print("FAIL setup: vigil binary not found or not executable: %r" % args.vigil)
        print("0 passed, 1 failed")
        return 1
    vigil = os.path.abspath(args.vigil)
    gate = load_gate(gate_file)
    tests = discover(suite)
    if args.test:
        tests = [t for t in tests if any(s in t for s in args.test)]
    tmp = tempfile.mkdtemp(prefix="vigil-sv-")
    outcome = {}
    reasons = {}
    try:
        for name in tests:
            status, reason = run_test(vigil, suite, name, tmp)
            outcome[name] = status
            reasons[name] = reason
            mark = " [gated]" if name in gate else ""
            print("%s %s (%s)%s" % (status, name, reason, mark))
            sys.stdout.flush()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ok = bad = 0
    violations = []
    for name in tests:
        st = outcome[name]
        if name in gate and st != "PASS":
            violations.append("gated test %s is %s" % (name, st))
            bad += 1
        elif name not in gate and st == "PASS":
            violations.append("%s passes but is not in the gate: add it to %s" % (
                name, os.path.relpath(gate_file, root)))
            bad += 1
        else:
            ok += 1
    if not args.test:
        for name in gate:
            if name not in outcome:
                violations.append("gate names %s, which is not in the suite" % name)
                bad += 1
    n = {s: sum(1 for v in outcome.values() if v == s) for s in ("PASS", "FAIL", "SKIP")}
    print("# suricata-verify: %d PASS, %d FAIL, %d SKIP of %d tests; gate: %d tests" % (
        n["PASS"], n["FAIL"], n["SKIP"], len(tests), len(gate)))
    for v in violations:
        print("# gate: " + v)
    if args.report:
        write_report(args.report, suite, tests, outcome, reasons, gate, n)
    print("%d passed, %d failed" % (ok, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
