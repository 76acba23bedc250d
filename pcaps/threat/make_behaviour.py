#!/usr/bin/env python3
"""Writes the captures of the behaviour detectors (signatures/rules/bigip-behaviour.rules):
pcaps/threat/behaviour/*.pcap, expected.json and README.md.

Each detector gets a capture that must fire it an exact number of times and near misses
that must leave it silent, on the addresses of pcaps/threat/estate.py (the estate of
pcaps/estate.yaml, which sets the detectors' groups):

  8490001 long-session  a session from an appliance to outside lasting >= 3600 s with
                        <= 10 KB on the wire (both directions)
  8490002 new-egress    a management address connecting to a destination outside
                        $BIGIP_EGRESS_ALLOWED, once per (client, server) address pair
  8490003 mgmt-access   a connection to $BIGIP_MGMT_PORTS of an appliance from outside
                        $BIGIP_ADMIN_NET, once per flow

Payloads are kept to what the detectors need (a handshake, small TLS application-data
records without a ClientHello, a few bytes of no known protocol) so that no content rule
of the other families applies. TCP flows time out after 600 s without packets, so long
sessions exchange a record every 5 minutes.

Deterministic: run it twice, get the same bytes.   python3 pcaps/threat/make_behaviour.py
"""

import json
import os
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))
sys.path.insert(0, HERE)

import pcapgen as pg  # noqa: E402
import estate as E  # noqa: E402

OUT = os.path.join(HERE, "behaviour")

SID_LONG = 8490001
SID_EGRESS = 8490002
SID_MGMT = 8490003

MINUTE_US = 60 * 1000000
MAX_BYTES = 10 * 1024  # detectors.long-session.max-bytes in pcaps/estate.yaml

# Ordinary hosts that are not part of the estate's groups.
EXT_SERVER2 = "198.51.100.140"  # another internet server (not an IOC, not a resolver)
SYSLOG_TLS = "10.1.10.60"        # internal syslog-over-TLS collector (in BIGIP_EGRESS_ALLOWED)


def tls_record(label, n):
    """A TLS 1.2 application-data record of n payload bytes (deterministic filler):
    what an established TLS session carries, without the handshake that would name a
    server or fingerprint a client."""
    body = pg.det_bytes(label, n)
    return bytes([0x17, 0x03, 0x03, n >> 8, n & 0xFF]) + body


def long_session(cap, name, client, server, minutes, record_size):
    """A TCP session of `minutes` minutes: handshake, then every 5 minutes one record
    each way, a last exchange at the end, and a close. Returns the flow's wire bytes."""
    s = pg.TcpSession(cap, pg.EthernetLink(), client, server, name)
    s.handshake()
    elapsed = 0
    i = 0
    while True:
        s.send(tls_record("%s/c%d" % (name, i), record_size))
        s.send(tls_record("%s/s%d" % (name, i), record_size), from_client=False)
        if elapsed >= minutes:
            break
        step = min(5, minutes - elapsed)
        cap.advance(step * MINUTE_US)
        elapsed += step
        i += 1
    s.close()
    return sum(s.bytes), (s.last_ts - s.first_ts) / 1e6


def short_tcp(cap, name, client, server, payload=b""):
    """A handshake, optionally a few client bytes answered by an ACK, and a close."""
    s = pg.TcpSession(cap, pg.EthernetLink(), client, server, name)
    s.handshake()
    if payload:
        s.send(payload)
    s.close()
    cap.advance(2 * 1000000)
    return s


# A probe of no known protocol: not HTTP, TLS or SSH, so no application-layer rule applies.
PROBE = b"\x00\x01vigil-probe\x00"


def case_long_fire():
    cap = pg.Capture()
    total, secs = long_session(cap, "ls-fire", (E.BIGIP_MGMT, 40100), (E.EXT_SERVER, 443),
                               65, 40)
    assert total <= MAX_BYTES and secs >= 3600, (total, secs)
    return cap, (
        "BIGIP_MGMT %s:40100 -> EXT_SERVER %s:443, TCP, 65 minutes: handshake, a 45-byte TLS "
        "application-data record each way every 5 minutes, close; %d bytes on the wire"
        % (E.BIGIP_MGMT, E.EXT_SERVER, total))


def case_long_short():
    cap = pg.Capture()
    total, secs = long_session(cap, "ls-short", (E.BIGIP_MGMT, 40101), (E.EXT_SERVER, 443),
                               55, 40)
    assert total <= MAX_BYTES and secs < 3600, (total, secs)
    return cap, ("the same session lasting 55 minutes (%d bytes)" % total)


def case_long_bytes():
    cap = pg.Capture()
    total, secs = long_session(cap, "ls-bytes", (E.BIGIP_MGMT, 40102), (E.EXT_SERVER, 443),
                               65, 300)
    assert 12000 <= total <= 13000 and secs >= 3600, (total, secs)
    return cap, ("the same 65-minute session with 305-byte records: %d bytes on the wire, "
                 "above max-bytes" % total)


def case_long_client():
    cap = pg.Capture()
    total, secs = long_session(cap, "ls-client", (E.INTERNAL_CLIENT, 40103),
                               (E.EXT_SERVER, 443), 65, 40)
    assert total <= MAX_BYTES and secs >= 3600, (total, secs)
    return cap, ("the same 65-minute low-volume session from INTERNAL_CLIENT %s, which is not "
                 "an appliance" % E.INTERNAL_CLIENT)


def case_long_internal():
    cap = pg.Capture()
    total, secs = long_session(cap, "ls-internal", (E.BIGIP_MGMT, 40104), (SYSLOG_TLS, 6514),
                               65, 40)
    assert total <= MAX_BYTES and secs >= 3600, (total, secs)
    return cap, ("the same 65-minute low-volume session from BIGIP_MGMT to an internal "
                 "syslog-over-TLS collector %s:6514 (inside $HOME_NET, and allowed egress)"
                 % SYSLOG_TLS)


def case_egress_fire():
    cap = pg.Capture()
    short_tcp(cap, "ne-1", (E.BIGIP_MGMT, 41001), (E.EXT_SERVER, 443))
    short_tcp(cap, "ne-2", (E.BIGIP_MGMT, 41002), (E.EXT_SERVER, 443))
    short_tcp(cap, "ne-3", (E.BIGIP_MGMT, 41003), (EXT_SERVER2, 443))
    return cap, ("BIGIP_MGMT %s connects to EXT_SERVER %s:443 twice (two TCP flows: the pair "
                 "alerts once) and to another internet server %s:443 once; handshakes and "
                 "closes only" % (E.BIGIP_MGMT, E.EXT_SERVER, EXT_SERVER2))


def case_egress_miss():
    cap = pg.Capture()
    short_tcp(cap, "ne-ihealth", (E.BIGIP_MGMT, 41010), (E.IHEALTH, 443))
    dns = pg.UdpFlow(cap, pg.EthernetLink(), (E.BIGIP_MGMT, 41011), (E.DNS_SERVER, 53),
                     "ne-dns")
    query = (b"\x4a\x21\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
             b"\x04time\x07example\x03org\x00\x00\x01\x00\x01")
    answer = (b"\x4a\x21\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
              b"\x04time\x07example\x03org\x00\x00\x01\x00\x01"
              b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x0a\x01\x0a\x7b")
    dns.send(query)
    dns.send(answer, from_client=False)
    cap.advance(2 * 1000000)
    short_tcp(cap, "ne-client", (E.INTERNAL_CLIENT, 41012), (E.EXT_SERVER, 443))
    return cap, ("BIGIP_MGMT to IHEALTH %s:443 and a DNS query to DNS_SERVER %s:53 (both in "
                 "$BIGIP_EGRESS_ALLOWED); INTERNAL_CLIENT %s to EXT_SERVER %s:443 (not a "
                 "management address)" % (E.IHEALTH, E.DNS_SERVER, E.INTERNAL_CLIENT,
                                          E.EXT_SERVER))


def case_mgmt_fire():
    cap = pg.Capture()
    short_tcp(cap, "ma-ssh", (E.EXT_CLIENT, 42001), (E.BIGIP_MGMT, 22), PROBE)
    short_tcp(cap, "ma-443", (E.ATTACKER, 42002), (E.BIGIP_MGMT, 443), PROBE)
    short_tcp(cap, "ma-8443", (E.EXT_CLIENT, 42003), (E.BIGIP_SELF_EXT, 8443), PROBE)
    short_tcp(cap, "ma-v6", (E.ATTACKER6, 42004), (E.BIGIP_MGMT6, 443), PROBE)
    return cap, ("EXT_CLIENT %s to BIGIP_MGMT:22, ATTACKER %s to BIGIP_MGMT:443, EXT_CLIENT to "
                 "BIGIP_SELF_EXT %s:8443, ATTACKER6 %s to BIGIP_MGMT6 [%s]:443: four TCP flows "
                 "with a 15-byte probe of no known protocol each"
                 % (E.EXT_CLIENT, E.ATTACKER, E.BIGIP_SELF_EXT, E.ATTACKER6, E.BIGIP_MGMT6))


def case_mgmt_miss():
    cap = pg.Capture()
    short_tcp(cap, "ma-admin-ssh", (E.ADMIN, 42010), (E.BIGIP_MGMT, 22), PROBE)
    short_tcp(cap, "ma-admin-443", (E.ADMIN, 42011), (E.BIGIP_MGMT, 443), PROBE)
    short_tcp(cap, "ma-admin-8443", (E.ADMIN, 42012), (E.BIGIP_SELF_EXT, 8443), PROBE)
    short_tcp(cap, "ma-vip", (E.EXT_CLIENT, 42013), (E.BIGIP_VIP, 443), PROBE)
    short_tcp(cap, "ma-80", (E.EXT_CLIENT, 42014), (E.BIGIP_MGMT, 80), PROBE)
    return cap, ("ADMIN %s to BIGIP_MGMT:22 and :443 and BIGIP_SELF_EXT:8443 (the admin "
                 "network); EXT_CLIENT to the virtual server BIGIP_VIP %s:443 (not an "
                 "appliance address); EXT_CLIENT to BIGIP_MGMT:80 (not a management port)"
                 % (E.ADMIN, E.BIGIP_VIP))


# name, builder, kind, covers, alerts (every alert of every shipped rule), why
CASES = [
    ("long-session-fire", case_long_fire, "fire", [SID_LONG], {SID_LONG: 1, SID_EGRESS: 1},
     "fires once, on the packet that crosses 3600 s, at under 5 KB; the pair is also a new egress "
     "destination of the management address (8490002, once)"),
    ("long-session-55min", case_long_short, "miss", [SID_LONG], {SID_EGRESS: 1},
     "55 minutes is below min-duration; 8490002 fires for the new destination"),
    ("long-session-12kb", case_long_bytes, "miss", [SID_LONG], {SID_EGRESS: 1},
     "12 KB is above max-bytes: the flow stops being a candidate when it passes 10 KB; "
     "8490002 fires for the new destination"),
    ("long-session-internal-client", case_long_client, "miss", [SID_LONG, SID_EGRESS], {},
     "the client is not in $BIGIP_APPLIANCES (nor in $BIGIP_MGMT_NET)"),
    ("long-session-internal-dest", case_long_internal, "miss", [SID_LONG, SID_EGRESS], {},
     "the server is not in $EXTERNAL_NET, and it is allowed egress"),
    ("new-egress-fire", case_egress_fire, "fire", [SID_EGRESS], {SID_EGRESS: 2},
     "two pairs, two alerts: the second flow to EXT_SERVER does not alert again"),
    ("new-egress-allowed", case_egress_miss, "miss", [SID_EGRESS], {},
     "allowed destinations and a client that is not a management address stay silent"),
    ("mgmt-access-fire", case_mgmt_fire, "fire", [SID_MGMT], {SID_MGMT: 4, 8400206: 3},
     "one alert per flow, on its SYN, IPv6 included; the exposure rule 8400206 (bigip-exposure.rules) also "
     "sees the appliance accept each connection (its SYN+ACK to an external address), once "
     "per external host and hour: EXT_CLIENT, ATTACKER and ATTACKER6, 3 alerts"),
    ("mgmt-access-allowed", case_mgmt_miss, "miss", [SID_MGMT], {},
     "the admin network, a virtual server and a non-management port stay silent"),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    cases = []
    rows = []
    for name, build, kind, covers, alerts, why in CASES:
        cap, wire = build()
        pcap = name + ".pcap"
        cap.write_pcap(os.path.join(OUT, pcap))
        desc = "%s. %s." % (wire, why)
        cases.append({
            "name": name,
            "pcap": pcap,
            "kind": kind,
            "covers": covers,
            "alerts": {str(k): v for k, v in sorted(alerts.items())},
            "description": desc,
        })
        shown = ", ".join("%d x%d" % (k, v) for k, v in sorted(alerts.items())) or "none"
        rows.append("| %s (%s) | %s | %s |" % (name, kind, wire, shown + ": " + why))
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"family": "behaviour", "cases": cases}, f, indent=2, sort_keys=False)
        f.write("\n")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README_HEAD)
        f.write("| case | on the wire | expected alerts |\n|---|---|---|\n")
        f.write("\n".join(rows) + "\n")


README_HEAD = """# Behaviour detector captures

Written by `pcaps/threat/make_behaviour.py` (deterministic); run by
`tests/pcap/run_threat.py -k behaviour/` with every shipped rule and `pcaps/estate.yaml`.
The detectors are those of `signatures/rules/bigip-behaviour.rules`:

- 8490001 long-session: a flow from `$BIGIP_APPLIANCES` to `$EXTERNAL_NET` that lasts
  `min-duration` (3600 s) with at most `max-bytes` (10 KB, both directions, wire bytes);
  one alert per flow, on the packet that crosses the hour.
- 8490002 new-egress: a flow from `$BIGIP_MGMT_NET` to a server outside
  `$BIGIP_EGRESS_ALLOWED`; one alert per (client, server) address pair while vigil runs.
- 8490003 mgmt-access: a flow to `$BIGIP_MGMT_PORTS` of `$BIGIP_APPLIANCES` from a client
  outside `$BIGIP_ADMIN_NET`; one alert per flow, on its first packet.

Payloads carry no protocol the content rules inspect (TLS application-data records
without a handshake, a 15-byte probe of no known protocol), so only the detectors speak.
A long session from the management address to an external server is also a new egress
destination: those captures expect one 8490002 alert as well.

"""

if __name__ == "__main__":
    main()
