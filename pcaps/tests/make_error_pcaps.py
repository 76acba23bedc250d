#!/usr/bin/env python3
"""Writes the small captures of pcaps/tests/ and their expectations (expected.json).

Error handling: truncated.pcap, linktype-unsupported.pcap, not-a-pcap.bin, empty.pcap.
Decoding: vlan-qinq.pcap, sll.pcap, sll2.pcap, ipv6-ext.pcap, demo.pcapng.
Checksums: badcsum.pcap.
README.md beside this file describes each one.

Expected alerts are computed with pcaps/tools/rulecheck.py (the reference matcher for
vigil's payload-only rule subset) from tests/pcap/rules/test-basic.rules, and checked
against what each capture was built to contain; the script stops on a disagreement.

Deterministic: run it twice, get the same bytes.   python3 pcaps/tests/make_error_pcaps.py
"""

import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "demo"))

import pcapgen as pg  # noqa: E402
import rulecheck  # noqa: E402

TEST_RULES = "tests/pcap/rules/test-basic.rules"
SHIPPED_RULES = "tests/pcap/rules/bigip-payload.rules"

BIGIP = "10.1.1.245"
ATTACKER = "203.0.113.66"
TRAVERSAL = "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd"


def traversal_request(host=BIGIP + ":8443"):
    return pg.http_request("GET", TRAVERSAL, host,
                           [("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*"),
                            ("Connection", "keep-alive")])


def passwd_response():
    return pg.http_response(200, "OK", [("Server", "Apache"), ("Content-Type", "text/html")],
                            b'{"output":"root:x:0:0:root:/root:/bin/bash\\n"}\n')


def attack_session(cap, link, name, client=(ATTACKER, 41001), server=(BIGIP, 8443), ip_kw=None):
    """Handshake, the CVE-2020-5902 traversal request, its response, FIN close.
    Returns (session, packet number of the request)."""
    s = pg.TcpSession(cap, link, client, server, name)
    if ip_kw:
        s.ip_kw[0] = ip_kw
    s.handshake()
    n = s.send(traversal_request(), ack=False)
    assert len(n) == 1
    s.send(passwd_response(), from_client=False, think_us=3000)
    s.close()
    return s, n[0]


def alerts_of(path, rules=TEST_RULES):
    rs, errors = rulecheck.load_rules([os.path.join(ROOT, rules)])
    assert not errors, errors
    alerts, flows = rulecheck.run(path, rs)
    return alerts, flows


def counts(alerts):
    c = {}
    for a in alerts:
        c[str(a["sid"])] = c.get(str(a["sid"]), 0) + 1
    return c


def must_equal(what, got, want):
    if got != want:
        raise SystemExit("%s: expected %r, rules give %r" % (what, want, got))


def decoder_entry(name, path, want_alerts, flows, rules=TEST_RULES, extra=None):
    alerts, rflows = alerts_of(path, rules)
    must_equal(name + " alerts", counts(alerts), want_alerts)
    must_equal(name + " flows", len(rflows), flows)
    e = {"rules": rules, "exit": 0, "alerts": want_alerts, "flows": flows,
         "alert_list": [{k: a[k] for k in ("sid", "pcap_cnt", "src_ip", "src_port", "dest_ip",
                                            "dest_port", "vlan")} for a in alerts]}
    e.update(extra or {})
    return e


def main():
    out = {}
    tmp = tempfile.mkdtemp(prefix="vigil-pcaps-")

    def path(n):
        return os.path.join(HERE, n)

    # ---- empty.pcap: a file header and no packets
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    cap.write_pcap(path("empty.pcap"))
    out["empty.pcap"] = {"rules": TEST_RULES, "exit": 0, "alerts": {}, "flows": 0,
                         "packets": 0, "about": "pcap header only: no packets, no events"}

    # ---- not-a-pcap.bin: text and bytes that no capture format starts with
    with open(path("not-a-pcap.bin"), "wb") as f:
        f.write(b"This is not a packet capture; vigil must refuse it.\n" +
                pg.det_bytes("not-a-pcap", 200))
    out["not-a-pcap.bin"] = {"exit": 1, "about": "garbage: not a capture file"}

    # ---- truncated.pcap: a valid capture cut in the middle of a record
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s, req = attack_session(cap, pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45"),
                            "truncated")
    full = cap.pcap_bytes()
    # keep the records up to and including the request, then half of the next record
    keep = 24
    for i, (_, data, _) in enumerate(cap.packets):
        if i + 1 > req:
            break
        keep += 16 + len(data)
    nxt = cap.packets[req][1]
    cut = keep + 16 + len(nxt) // 2
    with open(path("truncated.pcap"), "wb") as f:
        f.write(full[:cut])
    whole = os.path.join(tmp, "whole.pcap")
    with open(whole, "wb") as f:
        f.write(full)
    alerts, _ = alerts_of(whole)
    alerts = [a for a in alerts if a["data_pcap_cnt"] <= req]
    must_equal("truncated alerts", counts(alerts), {"9000001": 1, "9000005": 1})
    out["truncated.pcap"] = {"rules": TEST_RULES, "exit": 2, "alerts": counts(alerts),
                             "complete_packets": req, "stderr_re": "(?i)truncat",
                             "about": "the capture stops half-way through record %d" % (req + 1)}

    # ---- linktype-unsupported.pcap: a valid file with link type 147 (USER0)
    cap = pg.Capture(147)
    cap.add(b"\x00\x01vigil user0 record\x00" + traversal_request(), 100)
    cap.add(b"\x00\x02vigil user0 record\x00", 100)
    cap.write_pcap(path("linktype-unsupported.pcap"))
    out["linktype-unsupported.pcap"] = {"exit": 1, "linktype": 147, "stderr_re": "147",
                                        "about": "valid pcap, link type 147 (LINKTYPE_USER0)"}

    # ---- vlan-qinq.pcap: 802.1ad + 802.1Q TCP session, double 802.1Q ICMP echo
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    attack_session(cap, pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45",
                                        vlans=((pg.ETH_P_8021AD, 200), (pg.ETH_P_8021Q, 300))),
                   "qinq-tcp")
    cap.advance(500000)
    icmp = pg.IcmpEchoFlow(cap, pg.EthernetLink("02:00:00:05:00:10", "02:f5:00:01:02:45",
                                                vlans=((pg.ETH_P_8021Q, 10), (pg.ETH_P_8021Q, 20))),
                           ("10.1.5.10", None), (BIGIP, None), "qinq-icmp")
    icmp.ping(1, b"vigil qinq echo")
    cap.write_pcap(path("vlan-qinq.pcap"))
    out["vlan-qinq.pcap"] = decoder_entry(
        "vlan-qinq", path("vlan-qinq.pcap"), {"9000001": 1, "9000003": 1, "9000005": 1}, 2,
        extra={"alert_vlans": {"9000001": [200, 300], "9000003": [10, 20]},
               "about": "TCP session in 802.1ad 200 / 802.1Q 300; ICMP echo in 802.1Q 10 / 20"})

    # ---- sll.pcap: Linux cooked v1: TCP attack session and a DNS query
    for lt, fname, link in ((pg.LINKTYPE_LINUX_SLL, "sll.pcap", pg.SllLink()),
                            (pg.LINKTYPE_LINUX_SLL2, "sll2.pcap", pg.Sll2Link())):
        cap = pg.Capture(lt)
        attack_session(cap, link, fname + "-tcp")
        cap.advance(300000)
        dns = pg.UdpFlow(cap, link, ("10.1.50.21", 53101), ("10.1.10.53", 53), fname + "-dns")
        dns.send(pg.dns_query(0x4242, "www.example.com", "A"))
        dns.send(pg.dns_response(0x4242, "www.example.com", "A",
                                 [("www.example.com", "A", 60, "10.1.20.10")]), from_client=False)
        cap.advance(300000)
        icmp = pg.IcmpEchoFlow(cap, link, ("10.1.5.10", None), (BIGIP, None), fname + "-icmp")
        icmp.ping(1, b"vigil sll echo")
        cap.write_pcap(path(fname))
        out[fname] = decoder_entry(
            fname, path(fname), {"9000001": 1, "9000002": 1, "9000003": 1, "9000005": 1}, 3,
            extra={"linktype": lt,
                   "about": "Linux cooked capture %s: TCP attack session, DNS query and "
                            "answer, ICMP echo" % ("v1 (113)" if lt == 113 else "v2 (276)")})

    # ---- ipv6-ext.pcap: client packets carry hop-by-hop and destination options
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    ext = [(pg.IPPROTO_HOPOPTS, pg.ipv6_options(pg.ipv6_opt_router_alert(0))),
           (pg.IPPROTO_DSTOPTS, pg.ipv6_options(pg.ipv6_opt_padn(4), pg.ipv6_opt_padn(6)))]
    attack_session(cap, pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45"), "ipv6-ext",
                   client=("2001:db8:bad::66", 44002), server=("2001:db8:f5::245", 8443),
                   ip_kw={"ext": ext})
    cap.write_pcap(path("ipv6-ext.pcap"))
    out["ipv6-ext.pcap"] = decoder_entry(
        "ipv6-ext", path("ipv6-ext.pcap"), {"9000001": 1, "9000005": 1}, 1,
        extra={"about": "IPv6 TCP session; every client packet has a hop-by-hop header "
                        "(router alert) and a destination options header (PadN) before TCP",
               "shipped_rules_alerts": {"8400001": 1}})
    a, _ = alerts_of(path("ipv6-ext.pcap"), SHIPPED_RULES)
    must_equal("ipv6-ext shipped", counts(a), {"8400001": 1})

    # ---- synack-first.pcap: the client's SYN was not captured
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = pg.TcpSession(cap, pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45"),
                      (ATTACKER, 41010), (BIGIP, 8443), "synack-first")
    s.handshake(drop_syn=True)
    s.send(traversal_request(), ack=False)
    s.send(passwd_response(), from_client=False, think_us=3000)
    s.close()
    cap.write_pcap(path("synack-first.pcap"))
    info = s.info()
    _, rflows = alerts_of(path("synack-first.pcap"))
    rf = rflows[0]
    must_equal("synack-first flow", (str(rf.client[0]), rf.client[1], rf.pkts[0], rf.pkts[1],
                                     rf.bytes[0], rf.bytes[1]),
               (info["src_ip"], info["src_port"], info["pkts_toserver"], info["pkts_toclient"],
                info["bytes_toserver"], info["bytes_toclient"]))
    out["synack-first.pcap"] = {
        "rules": TEST_RULES, "exit": 0, "flows": 1,
        "flow": {k: info[k] for k in ("src_ip", "src_port", "dest_ip", "dest_port",
                                      "pkts_toserver", "pkts_toclient", "bytes_toserver",
                                      "bytes_toclient")},
        "about": "TCP session whose SYN is missing: the capture starts with the server's "
                 "SYN+ACK; the flow's client is the receiver of that SYN+ACK. Alerts are not "
                 "specified (whether a session without its SYN counts as established is a "
                 "stream setting)"}

    # ---- demo.pcapng: the packets of session A1 of the demo, in pcapng
    import make_demo  # noqa: E402
    d = make_demo.build()
    a1 = [f for _, f in d.flows if f.name.startswith("A1-")][0]
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    for n in a1.pcap_cnts:
        ts, data, orig = d.cap.packets[n - 1]
        cap.packets.append((ts, data, orig))
    cap.write_pcapng(path("demo.pcapng"))
    out["demo.pcapng"] = decoder_entry(
        "demo.pcapng", path("demo.pcapng"), {"9000001": 1, "9000005": 1}, 1,
        extra={"about": "pcapng (SHB, IDB with if_tsresol 6, EPB) holding the %d packets of "
                        "demo session A1 (demo.pcap packets %d-%d)" % (
                            len(a1.pcap_cnts), a1.pcap_cnts[0], a1.pcap_cnts[-1]),
               "packets": len(a1.pcap_cnts), "shipped_rules_alerts": {"8400001": 1}})

    # ---- badcsum.pcap: one request with a wrong TCP checksum, one with a right one
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = pg.TcpSession(cap, pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45"),
                      (ATTACKER, 41009), (BIGIP, 8443), "badcsum")
    s.handshake()
    bad = s.send(traversal_request(), ack=False, bad_checksum=True)[0]
    s.send(passwd_response(), from_client=False, think_us=3000)
    good = s.send(pg.http_request("GET", "/hsqldb%0a", BIGIP + ":8443",
                                  [("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*")]),
                  ack=False)[0]
    s.send(pg.http_response(200, "OK", [("Content-Type", "text/html")],
                            b"<title>HSQL Database Engine Servlet</title>\n"),
           from_client=False, think_us=2000)
    s.close()
    cap.write_pcap(path("badcsum.pcap"))
    e = decoder_entry("badcsum", path("badcsum.pcap"),
                      {"9000001": 1, "9000004": 1, "9000005": 1}, 1)
    e["bad_checksum_pcap_cnt"] = bad
    e["alerts_k_all"] = {"9000004": 1, "9000005": 1}
    e["about"] = ("TCP session: packet %d (the traversal request) has a wrong TCP checksum, "
                  "packet %d (the hsqldb probe) a right one; -k all drops the first" % (bad, good))
    out["badcsum.pcap"] = e

    shutil.rmtree(tmp)
    with open(path("expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in sorted(out):
        print("%-28s %s" % (name, json.dumps(out[name].get("alerts", {}), sort_keys=True)))


if __name__ == "__main__":
    main()
