#!/usr/bin/env python3
"""False positives of the shipped rule set on the benign benchmark mix: none allowed.

    python3 tests/pcap/run_false_positives.py --vigil BUILD/vigil \\
        --gen-mix BUILD/tests/bench/gen_mix --source-root /path/to/vigil [--work-dir DIR]

gen_mix (tests/bench/gen_mix.c) writes a benign traffic mix: HTTP/1.1 (ports 80 and 8080),
TLS 1.2 and 1.3, DNS over UDP, some flows over IPv6 and some 802.1Q-tagged, clients in
10.16.0.0/16 and 2001:db8:10::/48, servers in 192.0.2.0/24, 198.51.100.0/24,
2001:db8:53::/48 and 2001:db8:200::/48. This runner generates a small mix in --work-dir
(kept and reused while its parameters stay the same; never committed) and checks that it
holds every kind of flow the generator makes. Then vigil reads it with the shipped rules
(no -S) three times:

  defaults   the built-in configuration: the estate groups are "none", so the rules scoped
             to the estate are dormant; loaded + dormant = the enabled rules of the files
  estate     -c pcaps/estate.yaml, the estate of the threat tests: every enabled rule loads,
             none dormant; the mix's clients are internal users browsing the internet
  published  the same estate with HOME_NET set to the mix's servers: the mix becomes
             internet clients reaching published services (virtual servers), the traffic a
             BIG-IP carries every day, so rules on responses from $HOME_NET to
             $EXTERNAL_NET (cookie leak, redirect page) and from outside in see it too

Each run must load without skipping a rule and raise no alert at all (on failure the sids
and one alert record of each are printed). The mix's addresses are compared with the
estate's appliance, admin and egress groups: a mix host inside one of them would play that
role in the estate run (it is printed; today none does). Prints "PASS name" / "FAIL name:
why"; the last line is "N passed, M failed". Standard library only.
"""

import argparse
import collections
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile

RUN_TIMEOUT = 300
# small enough for a couple of seconds per run on a 2-core machine, large enough that every
# kind of flow, host and URI of the generator turns up many times
MIX_ARGS = ["--bytes", "60M", "--seed", "1", "--flows-concurrent", "6000"]
# the mix's servers (and its DNS resolvers) as the services the estate publishes
PUBLISHED_HOME_NET = ("vars.address-groups.HOME_NET=[192.0.2.0/24,198.51.100.0/24,"
                      "2001:db8:53::/48,2001:db8:200::/48]")
ESTATE_GROUPS = ("BIGIP_MGMT_NET", "BIGIP_SELF_IPS", "BIGIP_ADMIN_NET", "BIGIP_EGRESS_ALLOWED")


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def enabled_rule_count(root):
    sys.dont_write_bytecode = True  # keep the source tree free of __pycache__
    sys.path.insert(0, os.path.join(root, "signatures", "tools"))
    import rulefile
    rules, errors = rulefile.read_rules(root)
    check(not errors, "rule files do not parse: %s" % errors[:3])
    return sum(1 for r in rules if r["enabled"])


def make_mix(gen_mix, work):
    os.makedirs(work, exist_ok=True)
    pcap = os.path.join(work, "mix.pcap")
    params = " ".join(MIX_ARGS)
    stamp = pcap + ".params"
    if os.path.exists(pcap) and os.path.exists(stamp) and open(stamp).read() == params:
        return pcap
    p = subprocess.run([gen_mix, "--out", pcap + ".tmp"] + MIX_ARGS, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=RUN_TIMEOUT)
    check(p.returncode == 0, "gen_mix exit %d: %s" % (p.returncode, p.stdout.decode()[-400:]))
    os.replace(pcap + ".tmp", pcap)
    with open(stamp, "w") as f:
        f.write(params)
    return pcap


def run_vigil(vigil, root, pcap, tmp, name, config, overrides):
    logdir = os.path.join(tmp, name)
    os.makedirs(logdir)
    summary = os.path.join(logdir, "summary.json")
    argv = [vigil, "-q", "-r", pcap, "-l", logdir, "--summary-json", summary]
    if config:
        argv += ["-c", config]
    for kv in overrides:
        argv += ["--set", kv]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=RUN_TIMEOUT, cwd=root,
                       env=dict(os.environ, TZ="UTC"))
    err = p.stderr.decode("utf-8", "replace").strip()
    check(p.returncode == 0, "vigil exit %d: %s" % (p.returncode, err[-800:]))
    with open(summary) as f:
        s = json.load(f)
    events = []
    with open(os.path.join(logdir, "eve.json"), "rb") as f:
        for line in f:
            if line.strip():
                events.append(json.loads(line.decode("utf-8")))
    return s, events


def check_no_alerts(events):
    alerts = [e for e in events if e.get("event_type") == "alert"]
    if not alerts:
        return
    by_sid = collections.OrderedDict()
    for a in alerts:
        by_sid.setdefault(a["alert"]["signature_id"], []).append(a)
    lines = ["%d alerts on the benign mix:" % len(alerts)]
    for sid in sorted(by_sid):
        first = by_sid[sid][0]
        lines.append("  sid %d (%s): %d, e.g. %s" % (sid, first["alert"].get("signature"),
                                                     len(by_sid[sid]), json.dumps(first)))
    raise Fail("\n".join(lines))


def check_coverage(events):
    """The mix holds every kind of flow gen_mix makes, as vigil sees it."""
    seen = collections.Counter()
    for e in events:
        kind = e.get("event_type")
        if kind == "flow":
            seen["flow " + str(e.get("app_proto"))] += 1
            seen["ipv6" if ":" in e.get("src_ip", "") else "ipv4"] += 1
            if e.get("vlan"):
                seen["802.1Q"] += 1
        elif kind == "tls":
            seen[str(e["tls"].get("version"))] += 1
        elif kind in ("http", "dns"):
            seen[kind + " record"] += 1
    want = ("flow http", "flow tls", "flow dns", "http record", "dns record", "TLS 1.2",
            "TLS 1.3", "ipv4", "ipv6", "802.1Q")
    missing = [k for k in want if not seen[k]]
    check(not missing, "the mix lacks %s (seen: %s)" % (missing, dict(seen)))
    return seen


def estate_networks(path):
    """group -> [ip_network] for the estate groups of a configuration like pcaps/estate.yaml
    (groups written as "[a,b,$OTHER]" on one line)."""
    raw = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'^\s+([A-Z_]+):\s*"([^"]*)"', line)
            if m:
                raw[m.group(1)] = m.group(2)

    def resolve(value, depth=0):
        nets = []
        for item in value.strip("[]").split(","):
            item = item.strip()
            if item.startswith("$") and depth < 8:
                nets += resolve(raw.get(item[1:], ""), depth + 1)
            elif item and item not in ("none", "any") and not item.startswith("!"):
                nets.append(ipaddress.ip_network(item, strict=False))
        return nets
    return {g: resolve(raw.get(g, "")) for g in ESTATE_GROUPS}


def estate_collisions(events, groups):
    hosts = set()
    for e in events:
        if e.get("event_type") == "flow":
            hosts.update((e.get("src_ip"), e.get("dest_ip")))
    found = []
    for host in sorted(h for h in hosts if h):
        addr = ipaddress.ip_address(host)
        for group, nets in groups.items():
            if any(addr.version == n.version and addr in n for n in nets):
                found.append("%s in %s" % (host, group))
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", required=True)
    ap.add_argument("--gen-mix", required=True)
    ap.add_argument("--source-root", required=True)
    ap.add_argument("--work-dir", help="where the mix is written and kept (default: a "
                    "temporary directory)")
    args = ap.parse_args()
    root = os.path.abspath(args.source_root)
    vigil = os.path.abspath(args.vigil)
    estate = os.path.join(root, "pcaps", "estate.yaml")
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="vigil-fp-") as tmp:
        work = os.path.abspath(args.work_dir) if args.work_dir else os.path.join(tmp, "mix")
        try:
            enabled = enabled_rule_count(root)
            pcap = make_mix(os.path.abspath(args.gen_mix), os.path.join(work, "false-positives"))
        except (Fail, OSError, subprocess.TimeoutExpired) as e:
            print("FAIL mix: %s" % e)
            print("0 passed, 1 failed")
            return 1
        for name, config, overrides in (("defaults", None, []), ("estate", estate, []),
                                        ("published", estate, [PUBLISHED_HOME_NET])):
            try:
                s, events = run_vigil(vigil, root, pcap, tmp, name, config, overrides)
                rules = s.get("rules", {})
                loaded, dormant = rules.get("loaded", -1), rules.get("dormant", -1)
                check(rules.get("skipped") == 0, "%s rules skipped" % rules.get("skipped"))
                if config:
                    check(loaded == enabled and dormant == 0,
                          "%d rules loaded and %d dormant; the files enable %d"
                          % (loaded, dormant, enabled))
                else:
                    check(loaded + dormant == enabled,
                          "%d loaded + %d dormant; the files enable %d"
                          % (loaded, dormant, enabled))
                seen = check_coverage(events)
                check_no_alerts(events)
                note = ""
                if config:
                    hits = estate_collisions(events, estate_networks(config))
                    note = "; mix hosts inside estate groups: %s" % (
                        ", ".join(hits[:10]) + (" ..." if len(hits) > 10 else "")
                        if hits else "none")
                print("PASS %s: %d packets, %d flows (%d http, %d tls, %d dns, %d ipv6, "
                      "%d 802.1Q), %d rules loaded, %d dormant, 0 alerts%s"
                      % (name, s.get("packets", 0), s.get("flows", 0), seen["flow http"],
                         seen["flow tls"], seen["flow dns"], seen["ipv6"], seen["802.1Q"],
                         loaded, dormant, note))
                passed += 1
            except (Fail, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as e:
                print("FAIL %s: %s" % (name, e))
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
