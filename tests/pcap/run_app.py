#!/usr/bin/env python3
"""End-to-end tests of the application layer: EVE http, tls, dns and ssh records, app_proto
on every record of a flow, the BIG-IP object, and alerts that carry their transaction.

    python3 tests/pcap/run_app.py --vigil BUILD/vigil --source-root /path/to/vigil

Captures: pcaps/demo/demo.pcap (make_demo.py) and pcaps/app/*.pcap (make_app_pcaps.py,
with their expected records in pcaps/app/expected.json). Prints "PASS name" or
"FAIL name: why"; the last line is "N passed, M failed". Standard library only.
"""

import argparse
import hashlib
import json
import os
import sys
import tempfile
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_tunnels import Fail, check  # noqa: E402
import run_tunnels  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def records(events, kind):
    return [e for e in events if e.get("event_type") == kind]


def flow_of(events, flow_id):
    fl = [e for e in records(events, "flow") if e.get("flow_id") == flow_id]
    check(len(fl) == 1, "flow %s: %d flow records" % (flow_id, len(fl)))
    return fl[0]


def one(items, what, **match):
    got = [x for x in items if all(dig(x, k) == v for k, v in match.items())]
    check(len(got) == 1, "%s: %d records match %r" % (what, len(got), match))
    return got[0]


def dig(obj, path):
    for part in path.split("__"):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def same_flow_fields(events, rec, app_proto):
    """A record shares its flow's flow_id and community_id; the flow names the protocol."""
    fl = flow_of(events, rec["flow_id"])
    check(fl.get("community_id") == rec.get("community_id"),
          "community_id %r differs from its flow's %r" % (rec.get("community_id"),
                                                          fl.get("community_id")))
    check(fl.get("app_proto") == app_proto, "flow app_proto %r, expected %r"
          % (fl.get("app_proto"), app_proto))


def demo_ja3_string():
    """The demo's TLS 1.2 ClientHello (make_demo.tls12_session) in JA3 form."""
    sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))
    import pcapgen as pg
    ciphers = "-".join(str(c) for c in pg.TLS_CIPHERS_MODERN)
    exts = "-".join(str(e) for e in (0, 23, 65281, 10, 11, 35, 16, 5, 13))
    groups = "-".join(str(g) for g in pg.TLS_GROUPS)
    return "771,%s,%s,%s,0" % (ciphers, exts, groups)


def test_demo_http_bigip(ev):
    http = records(ev, "http")
    r = one(http, "B9 first transaction", http__hostname="portal.example.com", http__url="/",
            src_port=51531)
    h = r["http"]
    for k, v in (("http_method", "GET"), ("protocol", "HTTP/1.1"), ("status", 200),
                 ("http_content_type", "text/html")):
        check(h.get(k) == v, "http.%s=%r, expected %r" % (k, h.get(k), v))
    b = h.get("bigip")
    check(isinstance(b, dict), "no bigip object in %r" % h)
    cookies = b.get("cookies") or []
    check(len(cookies) == 1, "bigip.cookies %r" % cookies)
    c = cookies[0]
    want = {"pool_name": "pool_portal_http", "member_ip": "10.1.1.100", "member_port": 80,
            "private_member": True, "cookie_encrypted": False, "format": "ipv4"}
    bad = {k: c.get(k) for k, v in want.items() if c.get(k) != v}
    check(not bad, "cookie fields %r, expected %r" % (bad, want))
    check(b.get("ts_cookies") == ["TS01c3a5f2"], "ts_cookies %r" % b.get("ts_cookies"))
    same_flow_fields(ev, r, "http")
    # the second request sends the cookie back: decoded from Cookie too
    r2 = one(http, "B9 second transaction", http__url="/account", src_port=51531)
    check((r2["http"].get("bigip") or {}).get("cookies"), "no cookie decoded from the request")


def test_demo_tls_certificate(ev):
    r = one(records(ev, "tls"), "B8 TLS 1.2 session", tls__sni="portal.example.com",
            src_port=51530)
    t = r["tls"]
    subject = "C=US, ST=Washington, O=Example Corp, CN=portal.example.com"
    want = {"version": "TLS 1.2", "subject": subject, "issuerdn": subject,
            "serial": "5A:17:C0:FF:EE:01",
            "fingerprint": "2d:a1:b8:2d:29:fb:3f:f3:5d:71:49:11:37:26:c5:67:77:14:fb:da",
            "notbefore": "2026-11-25T21:49:10", "notafter": "2028-11-24T21:49:10"}
    bad = {k: t.get(k) for k, v in want.items() if t.get(k) != v}
    check(not bad, "tls fields %r, expected %r" % (bad, want))
    ja3 = demo_ja3_string()
    check(dig(t, "ja3__string") == ja3, "ja3.string %r, expected %r" % (dig(t, "ja3__string"), ja3))
    check(dig(t, "ja3__hash") == hashlib.md5(ja3.encode()).hexdigest(), "ja3.hash")
    check(dig(t, "ja3s__hash") == hashlib.md5(dig(t, "ja3s__string").encode()).hexdigest(),
          "ja3s.hash")
    check(dig(t, "ja3s__string") == "771,49195,65281-23-11-16", "ja3s.string %r"
          % dig(t, "ja3s__string"))
    check(isinstance(t.get("ja4"), str) and t["ja4"].startswith("t12d"), "ja4 %r" % t.get("ja4"))
    same_flow_fields(ev, r, "tls")
    # the TLS 1.3 sessions: SNI and version, no certificate (encrypted)
    r13 = one(records(ev, "tls"), "B5 TLS 1.3 session", tls__sni="www.example.com")
    check(r13["tls"].get("version") == "TLS 1.3", "version %r" % r13["tls"].get("version"))
    check("subject" not in r13["tls"], "a TLS 1.3 certificate is encrypted")


def test_demo_dns(ev):
    dns = records(ev, "dns")
    q = one(dns, "query www.example.com", dns__type="query", dns__rrname="www.example.com")
    check(dig(q, "dns__id") == 0x1a2b and dig(q, "dns__rrtype") == "A", "query %r" % q["dns"])
    a = one(dns, "answer www.example.com", dns__type="answer", dns__rrname="www.example.com")
    check(dig(a, "dns__rcode") == "NOERROR", "rcode %r" % dig(a, "dns__rcode"))
    answers = [(x.get("rrname"), x.get("rrtype"), x.get("rdata")) for x in a["dns"].get("answers", [])]
    check(answers == [("www.example.com", "CNAME", "portal.example.com"),
                      ("portal.example.com", "A", "10.1.20.10")], "answers %r" % answers)
    same_flow_fields(ev, q, "dns")
    check(q["flow_id"] == a["flow_id"], "query and answer in different flows")


def test_demo_app_proto_everywhere(ev):
    """Every alert of an HTTP flow says app_proto http."""
    flows = {f["flow_id"]: f for f in records(ev, "flow")}
    for a in records(ev, "alert"):
        f = flows.get(a.get("flow_id"))
        if f is None or "app_proto" not in f:
            continue
        check(a.get("app_proto") == f["app_proto"], "alert sid %s app_proto %r, flow says %r"
              % (a["alert"]["signature_id"], a.get("app_proto"), f["app_proto"]))
    tcp_flows = [f for f in flows.values() if f.get("proto") == "TCP"]
    named = [f for f in tcp_flows if f.get("app_proto") in ("http", "tls")]
    check(len(named) == len(tcp_flows), "TCP flows without http/tls: %r"
          % [(f.get("dest_port"), f.get("app_proto")) for f in tcp_flows
             if f not in named])


def test_demo_records_same_for_3_workers(ev):
    ev3, _ = run_tunnels.run_vigil(VIGIL, ROOT, os.path.join(ROOT, "pcaps/demo/demo.pcap"), TMP,
                                   ["--workers", "3"])

    def key(e):
        return json.dumps(e, sort_keys=True)
    for kind in ("http", "tls", "dns"):
        a = sorted(key(e) for e in records(ev, kind))
        b = sorted(key(e) for e in records(ev3, kind))
        check(a == b, "%s records differ between 1 and 3 workers" % kind)


def load_app_expected():
    path = os.path.join(ROOT, "pcaps", "app", "expected.json")
    if not os.path.exists(path):
        return {}
    return json.load(open(path))


def check_capture(name, want):
    run_tunnels.RULES = want.get("rules", "tests/pcap/rules/app.rules")
    ev, summ = run_tunnels.run_vigil(VIGIL, ROOT, os.path.join(ROOT, "pcaps", "app", name), TMP,
                                     want.get("args", []))
    got = {}
    for a in records(ev, "alert"):
        sid = str(a["alert"]["signature_id"])
        got[sid] = got.get(sid, 0) + 1
    check(got == want.get("alerts", {}), "alerts %r, expected %r" % (got, want.get("alerts", {})))
    for kind, n in want.get("record_counts", {}).items():
        have = len(records(ev, kind))
        check(have == n, "%d %s records, expected %d" % (have, kind, n))
    anomalies = sorted(dig(a, "anomaly__event") for a in records(ev, "anomaly")
                       if dig(a, "anomaly__type") == "applayer")
    if "anomalies" in want:
        check(anomalies == sorted(want["anomalies"]), "applayer anomalies %r, expected %r"
              % (anomalies, sorted(want["anomalies"])))
    for m in want.get("records", []):
        kind = m["event_type"]
        match = {k: v for k, v in m.items() if k != "event_type"}
        one(records(ev, kind), "%s record" % kind, **match)
    if "cookies" in want:
        withc = [r for r in records(ev, "http") if dig(r, "http__bigip__cookies")]
        check(len(withc) == 1, "%d http records carry cookies" % len(withc))
        got_c = withc[0]["http"]["bigip"]["cookies"]
        check(len(got_c) == len(want["cookies"]), "cookies %r" % got_c)
        for g, w in zip(got_c, want["cookies"]):
            bad = {k: g.get(k) for k, v in w.items() if g.get(k) != v}
            check(not bad, "cookie %r: %r, expected %r" % (w.get("pool_name"), bad, w))
    for m in want.get("alert_fields", []):
        match = {k: v for k, v in m.items()}
        one(records(ev, "alert"), "alert", **match)


def alert_counts(ev):
    got = {}
    for a in records(ev, "alert"):
        sid = a["alert"]["signature_id"]
        got[sid] = got.get(sid, 0) + 1
    return got


def test_event_rules():
    """app-layer-event, decode-event and stream-event rules alert on the packet raising them."""
    run_tunnels.RULES = "tests/pcap/rules/events.rules"
    for capture, want in (("pcaps/app/http-exploit-shapes.pcap", {9200001: 1, 9200002: 1}),
                          ("pcaps/defrag/frag-overlap.pcap", {9200005: 1}),
                          ("pcaps/stream/retransmission.pcap", {9200007: 3})):
        ev, _ = run_tunnels.run_vigil(VIGIL, ROOT, os.path.join(ROOT, capture), TMP,
                                      ["--workers", "1"])
        got = alert_counts(ev)
        check(got == want, "%s: alerts %r, expected %r" % (capture, got, want))


def test_event_rules_T():
    """vigil -T counts rules by inspection path and skipped rules by cause."""
    import subprocess
    rules = os.path.join(ROOT, "tests/pcap/rules/events-skipped.rules")
    p = subprocess.run([VIGIL, "-T", "-S", rules], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode()
    check(p.returncode == 1, "exit %d, expected 1" % p.returncode)
    lines = out.splitlines()
    for want in ("skipped: unsupported keyword 'foo': 2",
                 "skipped: bad content: 1",
                 "skipped: event '3whs_ack_in_wrong_dir' is not raised by vigil: 1"):
        check(want in lines, "no line %r in: %s" % (want, out))
    check([x for x in lines if x.startswith("skipped:")][0] ==
          "skipped: unsupported keyword 'foo': 2", "most frequent cause not first: %s" % out)
    check(any(x.startswith("rules by inspection: packet 0, stream 0, application-layer 1, "
                           "event 1;") for x in lines), "inspection paths: %s" % out)
    check(any(x.startswith("database http.uri: 1 patterns, ") for x in lines),
          "no http.uri database line: %s" % out)
    check(any(x.startswith("compile: packet ") for x in lines), "no compile line: %s" % out)


def main():
    global VIGIL, ROOT, TMP
    ap = argparse.ArgumentParser()
    ap.add_argument("--vigil", default=os.environ.get("VIGIL"))
    ap.add_argument("--source-root", default=os.path.dirname(os.path.dirname(HERE)))
    ap.add_argument("-t", "--test", action="append", help="run only tests whose name contains this")
    args = ap.parse_args()
    VIGIL = os.path.abspath(args.vigil)
    ROOT = os.path.abspath(args.source_root)
    TMP = tempfile.mkdtemp(prefix="vigil-app-")
    passed = failed = 0

    def report(name, fn, *a):
        nonlocal passed, failed
        if args.test and not any(t in name for t in args.test):
            return
        try:
            fn(*a)
            print("PASS %s" % name)
            passed += 1
        except Fail as e:
            print("FAIL %s: %s" % (name, e))
            failed += 1
        except Exception:
            print("FAIL %s: %s" % (name, traceback.format_exc().strip().splitlines()[-1]))
            failed += 1

    demo = []

    def load_demo():
        run_tunnels.RULES = "signatures/rules/bigip-exploit.rules"
        ev, _ = run_tunnels.run_vigil(VIGIL, ROOT, os.path.join(ROOT, "pcaps/demo/demo.pcap"),
                                      TMP, ["--workers", "1"])
        demo.append(ev)

    report("demo runs", load_demo)
    if demo:
        ev = demo[0]
        for name, fn in sorted(globals().items()):
            if name.startswith("test_demo_"):
                report(name[5:], fn, ev)
    for name, want in sorted(load_app_expected().items()):
        report("app " + name, check_capture, name, want)
    report("event rules", test_event_rules)
    report("event rules -T", test_event_rules_T)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
