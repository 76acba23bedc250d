#!/usr/bin/env python3
"""Writes the tunnel captures of pcaps/tunnels/ and their expectations (expected.json).

One small capture per encapsulation vigil opens (MPLS, GRE, GRE with key, ERSPAN I, II,
III with and without the platform sub-header, VXLAN, Geneve, IPv4-in-IPv4, 6in4,
Teredo, PPPoE, QinQ + VXLAN). Each carries the same inner TCP session: handshake, the
CVE-2020-5902 traversal request `/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp`
in one segment, a 200 response, FIN close; so the shipped rule sid 8400001 fires exactly
once per capture, on the request. README.md beside this file describes each one.

expected.json, per capture: the alerts per sid, the flow records (one: the inner
session), the tunnel type, the alert's inner addresses, ports and packet number, the
exact "tunnel" object of the alert, the VLAN ids, the flow counters, and the decoder
counters the summary must show.

Deterministic: run it twice, get the same bytes.   python3 pcaps/tunnels/make_tunnel_pcaps.py
"""

import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402

SID = "8400001"
BIGIP = "10.1.1.245"
ATTACKER = "203.0.113.66"
BIGIP6 = "2001:db8:f5::245"
ATTACKER6 = "2001:db8:bad::66"
TEREDO_CLIENT = "2001:0:4136:e378:8000:63bf:3fff:fdd2"  # Teredo address of 192.0.2.45:40000
TRAVERSAL = "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd"

# Outer endpoints. A mirror (ERSPAN, VXLAN, Geneve) sends both directions of the
# session one way, from the tap to the sensor; a routed tunnel (GRE, IP-in-IP, 6in4,
# Teredo) turns with the packet.
TAP = "192.0.2.10"
SENSOR = "192.0.2.20"
ROUTER_A = "198.51.100.1"
ROUTER_B = "198.51.100.2"
TEREDO_NAT = "192.0.2.45"
TEREDO_RELAY = "192.0.2.99"
VTEP_SPORT = 49731

MAC_A = "02:00:00:00:0a:01"
MAC_B = "02:00:00:00:0a:02"


def reversed_tunnel(t):
    r = dict(t)
    for a, b in (("src_ip", "dest_ip"), ("src_port", "dest_port")):
        if a in t or b in t:
            r[a], r[b] = t.get(b), t.get(a)
            if r[a] is None:
                del r[a]
            if r[b] is None:
                del r[b]
    return r


def traversal_request(host):
    return pg.http_request("GET", TRAVERSAL, host,
                           [("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*"),
                            ("Connection", "keep-alive")])


def passwd_response():
    return pg.http_response(200, "OK", [("Server", "Apache"), ("Content-Type", "text/html")],
                            b'{"output":"root:x:0:0:root:/root:/bin/bash\\n"}\n')


class TunnelLink:
    """A link that wraps each inner IP packet: wrap(l3, ethertype, to_server) returns
    the whole frame."""

    def __init__(self, wrap, vlans=()):
        self.wrap = wrap
        self.vlans = vlans

    def frame(self, l3, ethertype, to_server):
        return self.wrap(l3, ethertype, to_server)

    def vlan_ids(self):
        return [v if isinstance(v, int) else v[1] for v in self.vlans]


def outer_eth(payload, ethertype, to_server=True, vlans=()):
    src, dst = (MAC_A, MAC_B) if to_server else (MAC_B, MAC_A)
    return pg.ethernet(dst, src, ethertype, payload, vlans)


def inner_eth(l3, ethertype, to_server):
    """The mirrored frame: Ethernet between the client's and the server's MACs, not
    padded (the outer frame is long enough)."""
    c, s = "02:00:00:00:00:01", "02:00:00:00:00:02"
    if to_server:
        return pg.ethernet(s, c, ethertype, l3, pad=False)
    return pg.ethernet(c, s, ethertype, l3, pad=False)


def mirror_ip(proto, payload):
    return outer_eth(pg.ipv4(TAP, SENSOR, proto, payload), pg.ETH_P_IP)


def routed_ip(proto, payload, to_server):
    src, dst = (ROUTER_A, ROUTER_B) if to_server else (ROUTER_B, ROUTER_A)
    return outer_eth(pg.ipv4(src, dst, proto, payload), pg.ETH_P_IP, to_server)


# ---------------------------------------------------------------------------
# one wrapper per capture: (file, tunnel type, inner family, wrapper, vlans,
# expected tunnel object of the alert, decoder counters per packet)

class Seq:
    """GRE / ERSPAN sequence numbers, counting per capture."""

    def __init__(self):
        self.n = 0

    def next(self):
        self.n += 1
        return self.n


def captures():
    out = []

    def add(name, ttype, family, wrap, tunnel, counters, vlans=(), notes=""):
        out.append({"file": name, "tunnel_type": ttype, "family": family, "wrap": wrap,
                    "tunnel": tunnel, "counters": counters, "vlans": list(vlans), "notes": notes})

    add("mpls.pcap", "mpls", 4,
        lambda l3, et, ts: outer_eth(pg.mpls([1001, 2002], l3), pg.ETH_P_MPLS, ts),
        {"depth": 1, "tunnel_type": "mpls", "tunnel_id": 0},
        {"mpls": 1},
        notes="Ethernet / MPLS labels 1001, 2002 (bottom of stack) / IPv4")

    add("gre.pcap", "gre", 4,
        lambda l3, et, ts: routed_ip(pg.IPPROTO_GRE, pg.gre(et, l3), ts),
        {"src_ip": ROUTER_A, "dest_ip": ROUTER_B, "proto": "GRE", "depth": 1,
         "tunnel_type": "gre", "tunnel_id": 0},
        {"gre": 1, "ipv4": 2},
        notes="IPv4 %s <-> %s / GRE 0x0800 / IPv4" % (ROUTER_A, ROUTER_B))

    add("gre-key.pcap", "gre", 4,
        lambda l3, et, ts: routed_ip(pg.IPPROTO_GRE, pg.gre(et, l3, key=0x2a, with_checksum=True),
                                     ts),
        {"src_ip": ROUTER_A, "dest_ip": ROUTER_B, "proto": "GRE", "depth": 1,
         "tunnel_type": "gre", "tunnel_id": 42},
        {"gre": 1},
        notes="GRE with checksum and key 42 / IPv4")

    add("erspan1.pcap", "erspan1", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_GRE, pg.gre(pg.ETH_P_ERSPAN2,
                                                            inner_eth(l3, et, ts))),
        {"src_ip": TAP, "dest_ip": SENSOR, "proto": "GRE", "depth": 1,
         "tunnel_type": "erspan1", "tunnel_id": 0},
        {"gre": 1, "erspan": 1},
        notes="GRE 0x88BE without sequence number (ERSPAN type I) / Ethernet / IPv4")

    seq2 = Seq()
    add("erspan2.pcap", "erspan2", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_GRE, pg.gre(
            pg.ETH_P_ERSPAN2, pg.erspan2(100, inner_eth(l3, et, ts), vlan=0), seq=seq2.next())),
        {"src_ip": TAP, "dest_ip": SENSOR, "proto": "GRE", "depth": 1,
         "tunnel_type": "erspan2", "tunnel_id": 100},
        {"gre": 1, "erspan": 1},
        notes="GRE 0x88BE with sequence numbers / ERSPAN II session 100 / Ethernet / IPv4")

    seq3 = Seq()
    add("erspan3.pcap", "erspan3", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_GRE, pg.gre(
            pg.ETH_P_ERSPAN3, pg.erspan3(200, inner_eth(l3, et, ts), timestamp=seq3.n * 1000),
            seq=seq3.next())),
        {"src_ip": TAP, "dest_ip": SENSOR, "proto": "GRE", "depth": 1,
         "tunnel_type": "erspan3", "tunnel_id": 200},
        {"gre": 1, "erspan": 1},
        notes="GRE 0x22EB / ERSPAN III session 200 (no sub-header) / Ethernet / IPv4")

    seq3s = Seq()
    add("erspan3-subheader.pcap", "erspan3", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_GRE, pg.gre(
            pg.ETH_P_ERSPAN3, pg.erspan3(300, inner_eth(l3, et, ts),
                                         subheader=bytes([0x04, 0, 0, 0, 0, 0, 0x12, 0x34])),
            seq=seq3s.next())),
        {"src_ip": TAP, "dest_ip": SENSOR, "proto": "GRE", "depth": 1,
         "tunnel_type": "erspan3", "tunnel_id": 300},
        {"gre": 1, "erspan": 1},
        notes="GRE 0x22EB / ERSPAN III session 300, O bit and 8-byte platform sub-header "
              "(platform id 1) / Ethernet / IPv4")

    add("vxlan.pcap", "vxlan", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_UDP, pg.udp_nocsum(
            VTEP_SPORT, 4789, pg.vxlan(5001, inner_eth(l3, et, ts)))),
        {"src_ip": TAP, "src_port": VTEP_SPORT, "dest_ip": SENSOR, "dest_port": 4789,
         "proto": "UDP", "depth": 1, "tunnel_type": "vxlan", "tunnel_id": 5001},
        {"vxlan": 1, "udp": 1},
        notes="UDP %d -> 4789 / VXLAN VNI 5001 / Ethernet / IPv4" % VTEP_SPORT)

    add("geneve.pcap", "geneve", 4,
        lambda l3, et, ts: mirror_ip(pg.IPPROTO_UDP, pg.udp_nocsum(
            VTEP_SPORT, 6081, pg.geneve(6001, pg.ETH_P_TEB, inner_eth(l3, et, ts),
                                        pg.geneve_option(0x0103, 0x80, b"\x00\x00\x00\x2a")))),
        {"src_ip": TAP, "src_port": VTEP_SPORT, "dest_ip": SENSOR, "dest_port": 6081,
         "proto": "UDP", "depth": 1, "tunnel_type": "geneve", "tunnel_id": 6001},
        {"geneve": 1, "udp": 1},
        notes="UDP -> 6081 / Geneve VNI 6001 with one 8-byte option / Ethernet / IPv4")

    add("ipip.pcap", "ipip", 4,
        lambda l3, et, ts: routed_ip(pg.IPPROTO_IPIP, l3, ts),
        {"src_ip": ROUTER_A, "dest_ip": ROUTER_B, "proto": "IPv4", "depth": 1,
         "tunnel_type": "ipip", "tunnel_id": 0},
        {"ipv4_in_ipv4": 1, "ipv4": 2},
        notes="IPv4 %s <-> %s protocol 4 / IPv4" % (ROUTER_A, ROUTER_B))

    add("6in4.pcap", "ipip", 6,
        lambda l3, et, ts: routed_ip(pg.IPPROTO_IPV6, l3, ts),
        {"src_ip": ROUTER_A, "dest_ip": ROUTER_B, "proto": "IPv6", "depth": 1,
         "tunnel_type": "ipip", "tunnel_id": 0},
        {"ipv6_in_ipv4": 1, "ipv4": 1, "ipv6": 1},
        notes="IPv4 protocol 41 / IPv6 %s -> %s" % (ATTACKER6, BIGIP6))

    def teredo_wrap(l3, et, ts):
        if ts:
            return outer_eth(pg.ipv4(TEREDO_NAT, TEREDO_RELAY, pg.IPPROTO_UDP,
                                     pg.udp(TEREDO_NAT, TEREDO_RELAY, 40000, 3544,
                                            pg.teredo(l3))), pg.ETH_P_IP, True)
        # toward the client, with an origin indication
        return outer_eth(pg.ipv4(TEREDO_RELAY, TEREDO_NAT, pg.IPPROTO_UDP,
                                 pg.udp(TEREDO_RELAY, TEREDO_NAT, 3544, 40000,
                                        pg.teredo(l3, origin=(3544, TEREDO_RELAY)))),
                         pg.ETH_P_IP, False)

    add("teredo.pcap", "teredo", 6, teredo_wrap,
        {"src_ip": TEREDO_NAT, "src_port": 40000, "dest_ip": TEREDO_RELAY, "dest_port": 3544,
         "proto": "UDP", "depth": 1, "tunnel_type": "teredo", "tunnel_id": 0},
        {"teredo": 1, "udp": 1, "ipv6": 1},
        notes="UDP 40000 <-> 3544 / Teredo (origin indication toward the client) / IPv6 "
              "%s -> %s" % (TEREDO_CLIENT, BIGIP6))

    add("pppoe.pcap", "pppoe", 4,
        lambda l3, et, ts: outer_eth(pg.pppoe_session(0x0042, 0x0021, l3), pg.ETH_P_PPPOE_SESS,
                                     ts),
        {"depth": 1, "tunnel_type": "pppoe", "tunnel_id": 66},
        {"pppoe": 1},
        notes="PADI / PADO discovery (not IP), then PPPoE session 0x0042 / PPP 0x0021 / IPv4")

    qinq = ((pg.ETH_P_8021AD, 100), (pg.ETH_P_8021Q, 200))
    add("qinq-vxlan.pcap", "vxlan", 4,
        lambda l3, et, ts: outer_eth(pg.ipv4(TAP, SENSOR, pg.IPPROTO_UDP, pg.udp_nocsum(
            VTEP_SPORT, 4789, pg.vxlan(7001, inner_eth(l3, et, ts)))), pg.ETH_P_IP, True, qinq),
        {"src_ip": TAP, "src_port": VTEP_SPORT, "dest_ip": SENSOR, "dest_port": 4789,
         "proto": "UDP", "depth": 1, "tunnel_type": "vxlan", "tunnel_id": 7001},
        {"vxlan": 1, "vlan": 1, "vlan_qinq": 1},
        vlans=(100, 200),
        notes="802.1ad 100 / 802.1Q 200 / IPv4 / UDP -> 4789 / VXLAN VNI 7001 / Ethernet / IPv4")
    return out


def build(c):
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    link = TunnelLink(c["wrap"])
    extra_packets = 0
    if c["file"] == "pppoe.pcap":
        cap.add(outer_eth(pg.pppoe_discovery(0x09, tags=b"\x01\x01\x00\x00"), pg.ETH_P_PPPOE_DISC,
                          True))
        cap.add(outer_eth(pg.pppoe_discovery(0x07, tags=b"\x01\x01\x00\x00"), pg.ETH_P_PPPOE_DISC,
                          False), 300)
        extra_packets = 2
    if c["family"] == 6:
        client = (TEREDO_CLIENT if c["tunnel_type"] == "teredo" else ATTACKER6, 41001)
        server = (BIGIP6, 8443)
        host = "[%s]:8443" % BIGIP6
    else:
        client, server = (ATTACKER, 41001), (BIGIP, 8443)
        host = BIGIP + ":8443"
    s = pg.TcpSession(cap, link, client, server, "tunnel/" + c["file"])
    s.handshake()
    req = s.send(traversal_request(host), ack=False)
    assert len(req) == 1
    s.send(passwd_response(), from_client=False, think_us=3000)
    s.close()
    info = s.info()
    path = os.path.join(HERE, c["file"])
    cap.write_pcap(path)

    n = s.pkts[0] + s.pkts[1]
    decoder = {k: v * n for k, v in c["counters"].items()}
    if extra_packets:
        decoder["pppoe_discovery"] = extra_packets
    return {
        "alerts": {SID: 1},
        "flows": 1,
        "tunnel_type": c["tunnel_type"],
        "packets": len(cap.packets),
        # The server's reply (the next packet) acknowledges the request: stream
        # matching releases the request's bytes, and raises the alert, there.
        "alert": {"pcap_cnt": req[0] + 1, "src_ip": info["src_ip"], "src_port": info["src_port"],
                  "dest_ip": info["dest_ip"], "dest_port": info["dest_port"], "proto": "TCP"},
        "tunnel": c["tunnel"],
        # The alert is raised on the server's reply: for a real tunnel (IP-in-IP,
        # GRE, Teredo) its outer header runs the other way; a mirror session's
        # (ERSPAN, VXLAN, Geneve) is the same for both directions.
        "alert_tunnel": reversed_tunnel(c["tunnel"]) if c["tunnel_type"] in
        ("ipip", "gre", "teredo") else c["tunnel"],
        "vlan": c["vlans"],
        "flow": {k: info[k] for k in ("pkts_toserver", "pkts_toclient", "bytes_toserver",
                                      "bytes_toclient")},
        "decoder": decoder,
        "notes": c["notes"],
        "size": os.path.getsize(path),
    }


def main():
    expected = {}
    for c in captures():
        expected[c["file"]] = build(c)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")
    for name, e in sorted(expected.items()):
        print("%-24s %5d bytes  %2d packets  %s" % (name, e["size"], e["packets"], e["notes"]))


if __name__ == "__main__":
    main()
