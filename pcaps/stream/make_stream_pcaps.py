#!/usr/bin/env python3
"""Writes the TCP stream reassembly captures of pcaps/stream/ and their expectations
(expected.json).

Each capture carries the CVE-2020-5902 request
    GET /tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd
to a BIG-IP management address in a way that hides it from packet-by-packet matching:
split in the middle of the pattern, in 1-byte segments, out of order, retransmitted,
overlapped with different data, after a lost segment, across a sequence number
wrap-around, after a split (4-way) handshake, on a TCP Fast Open SYN, picked up
midstream, or with its second half in a RST. flood.pcap is a small-segment flood
followed by the request, for the memcap policy. README.md beside this file describes
each capture.

Expected alerts are for tests/pcap/rules/test-basic.rules once content rules match on
the reassembled client stream (9000001, flow:to_server,established), plus the
packet rules (9000005, a bare SYN to 8443) from pcaps/tools/rulecheck.py.
The stream-side counts come from a reference model in this script (a per-byte
reassembler: the byte's owner is the segment that supplied it, resolved by the
policy rules documented in parsers/stream.c) and are checked against what each
capture was built to show; the script stops on a disagreement.

Deterministic: run it twice, get the same bytes.   python3 pcaps/stream/make_stream_pcaps.py
"""

import json
import os
import struct
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402
import rulecheck  # noqa: E402

TEST_RULES = "tests/pcap/rules/test-basic.rules"
BIGIP = "10.1.1.245"
ATTACKER = "203.0.113.66"
FLOODER = "198.51.100.23"
TRAVERSAL = "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd"
PATTERN = b"/tmui/login.jsp/..;"  # content of sid 9000001
STREAM_SID = "9000001"
POLICIES = ("first", "last", "bsd", "linux", "windows")
DEFAULT_POLICY = "bsd"
CHUNK = 512  # VG_STREAM_CHUNK_SIZE: a buffered segment uses whole chunks

SYN, RST, PSH, ACK, FIN = pg.TCP_SYN, pg.TCP_RST, pg.TCP_PSH, pg.TCP_ACK, pg.TCP_FIN


def link():
    return pg.EthernetLink("02:00:5e:00:00:01", "02:f5:00:01:02:45")


def traversal_request():
    return pg.http_request("GET", TRAVERSAL, BIGIP + ":8443",
                           [("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*"),
                            ("Connection", "keep-alive")])


def passwd_response():
    return pg.http_response(200, "OK", [("Server", "Apache"), ("Content-Type", "text/html")],
                            b'{"output":"root:x:0:0:root:/root:/bin/bash\\n"}\n')


REQ = traversal_request()
N = len(REQ)
AT = REQ.index(PATTERN)
SPLIT = AT + 9  # "/tmui/log" | "in.jsp/..;"
assert REQ[AT:SPLIT] == b"/tmui/log"


def session(cap, name, port, client=ATTACKER):
    return pg.TcpSession(cap, link(), (client, port), (BIGIP, 8443), name)


def answer(s):
    """The server acknowledges the request, answers it, and both sides close."""
    s.ack(from_client=False)
    s.send(passwd_response(), from_client=False, think_us=3000)
    s.close()


# ---------------------------------------------------------------------------
# reference model of the reassembled streams

def tcp_packets(path):
    """(number, (src, sport), (dst, dport), flags, seq, ack, payload) of each TCP packet
    of an Ethernet / IPv4 capture."""
    lt, pkts = rulecheck.read_capture(path)
    assert lt == pg.LINKTYPE_ETHERNET
    out = []
    for num, (_, data, _) in enumerate(pkts, 1):
        if struct.unpack("!H", data[12:14])[0] != pg.ETH_P_IP:
            continue
        l3 = data[14:]
        ihl = (l3[0] & 0x0F) * 4
        tl = struct.unpack("!H", l3[2:4])[0]
        if l3[9] != 6:
            continue
        src, dst = ".".join(map(str, l3[12:16])), ".".join(map(str, l3[16:20]))
        l4 = l3[ihl:tl]
        sport, dport, seq, ack = struct.unpack("!HHII", l4[:12])
        off = (l4[12] >> 4) * 4
        out.append((num, (src, sport), (dst, dport), l4[13], seq, ack, l4[off:]))
    return out


def new_wins(policy, nseq, nend, oseq, oend):
    """The policy rules of parsers/stream.c, in stream offsets."""
    if policy == "first":
        return False
    if policy == "last":
        return True
    if policy == "linux":
        return nseq < oseq or (nseq == oseq and nend > oend)
    return nseq < oseq  # bsd, windows


class Direction:
    def __init__(self):
        self.base = None     # sequence number of stream offset 0
        self.isn = None
        self.bytes = {}      # offset -> (byte, owner start, owner end)
        self.syn_data = 0    # bytes of data on the SYN
        self.midstream = False

    def off(self, seq):
        return (seq - self.base) & 0xFFFFFFFF

    def put(self, policy, start, data):
        end = start + len(data)
        for i, b in enumerate(data):
            o = start + i
            old = self.bytes.get(o)
            if old is None or new_wins(policy, start, end, old[1], old[2]):
                self.bytes[o] = (b, start, end)

    def stream(self):
        """The bytes in offset order, and the number of holes."""
        offs = sorted(self.bytes)
        data = bytes(self.bytes[o][0] for o in offs)
        holes = sum(1 for a, b in zip([-1] + offs, offs) if b != a + 1)
        return data, holes


def model(path, policy=DEFAULT_POLICY, midstream=False):
    """Client streams of every session, as the target under `policy` sees them:
    [((client ip, port), stream bytes, holes, reassembled)]."""
    sessions = {}
    order = []
    for num, src, dst, flags, seq, ack, payload in tcp_packets(path):
        key = tuple(sorted([src, dst]))
        s = sessions.get(key)
        if s is None:
            client = dst if flags & (SYN | ACK) == SYN | ACK else src
            s = {"client": client, "dir": [Direction(), Direction()], "on": False}
            sessions[key] = s
            order.append(key)
        d = 0 if src == s["client"] else 1
        me, other = s["dir"][d], s["dir"][1 - d]
        if flags & RST:
            continue  # the data of a RST is never reassembled
        if flags & SYN:
            if flags & ACK:
                if other.isn is not None and other.syn_data and ack == (other.isn + 1) & 0xFFFFFFFF:
                    other.bytes.clear()  # TCP Fast Open data refused
                if other.base is None:
                    other.base = ack
                me.isn = seq
                me.base = (seq + 1) & 0xFFFFFFFF
                s["on"] = True
            elif me.isn is None:
                me.isn = seq
                me.base = (seq + 1) & 0xFFFFFFFF
                if payload:
                    me.syn_data = len(payload)
                    me.put(policy, 0, payload)
            continue
        if me.base is None:
            if not midstream:
                continue
            me.base = seq
            me.midstream = True
            s["on"] = True
        if other.isn is not None or other.base is not None:
            s["on"] = True
        if payload and s["on"]:
            o = me.off(seq)
            if o < 0x80000000:
                me.put(policy, o, payload)
    out = []
    for key in order:
        s = sessions[key]
        data, holes = s["dir"][0].stream() if s["on"] else (b"", 0)
        out.append((s["client"], data, holes, s["on"]))
    return out


def stream_alerts(path, policy=DEFAULT_POLICY, midstream=False):
    """Sessions whose reassembled client stream holds the pattern of 9000001."""
    return sum(1 for _, data, _, on in model(path, policy, midstream) if on and PATTERN in data)


def packet_alerts(path):
    """Alerts of a packet-by-packet engine (rulecheck): counts per sid, the client
    ports of the 9000001 alerts, and the number of flows."""
    rs, errors = rulecheck.load_rules([os.path.join(ROOT, TEST_RULES)])
    assert not errors, errors
    alerts, flows = rulecheck.run(path, rs)
    counts = {}
    for a in alerts:
        counts[str(a["sid"])] = counts.get(str(a["sid"]), 0) + 1
    ports = [a["src_port"] for a in alerts if str(a["sid"]) == STREAM_SID]
    return counts, ports, len(flows)


def must_equal(what, got, want):
    if got != want:
        raise SystemExit("%s: expected %r, got %r" % (what, want, got))


def expectations(name, path, want_stream, about, by_policy=None, midstream_alerts=None,
                 extra=None):
    """The expected.json entry of one capture: alerts with the default stream
    settings (policy bsd, midstream off), checked against the model; the
    packet-only alerts, for comparison; per-policy and midstream variants."""
    pkt, pkt_ports, flows = packet_alerts(path)
    got = stream_alerts(path)
    must_equal(name + " stream alerts", got, want_stream)
    # a session that is not reassembled is still inspected packet by packet
    unreassembled = {client[1] for client, _, _, on in model(path) if not on}
    got += sum(1 for port in pkt_ports if port in unreassembled)
    alerts = {k: v for k, v in pkt.items() if k != STREAM_SID}

    def with_stream(n):
        a = dict(alerts)
        if n:
            a[STREAM_SID] = n
        return a

    sessions = []
    for client, data, holes, on in model(path):
        sessions.append({"client_port": client[1], "reassembled": on,
                         "toserver_bytes": len(data), "toserver_holes": holes,
                         "pattern_offset": data.find(PATTERN) if PATTERN in data else None})
    e = {"rules": TEST_RULES, "exit": 0, "flows": flows, "alerts": with_stream(got),
         "alerts_packet_only": pkt, "sessions": sessions, "about": about}
    if by_policy is not None:
        got = {p: stream_alerts(path, p) for p in POLICIES}
        must_equal(name + " per policy", got, by_policy)
        e["alerts_by_policy"] = {p: with_stream(n) for p, n in got.items()}
        e["variants"] = [{"set": {"stream.reassembly.policy": p}, "alerts": with_stream(n)}
                         for p, n in got.items() if p != DEFAULT_POLICY]
    if midstream_alerts is not None:
        got = stream_alerts(path, midstream=True)
        must_equal(name + " midstream", got, midstream_alerts)
        e["variants"] = [{"set": {"stream.midstream": "true"}, "alerts": with_stream(got)}]
    e.update(extra or {})
    return e


# ---------------------------------------------------------------------------
# captures

def write(cap, name):
    path = os.path.join(HERE, name)
    cap.write_pcap(path)
    return path


def split_2():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-split-2", 42001)
    s.handshake()
    s.segment(True, REQ[:SPLIT])
    s.segment(True, REQ[SPLIT:])
    answer(s)
    return cap


def split_1byte():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-split-1byte", 42002)
    s.handshake()
    for i in range(N):
        s.segment(True, REQ[i:i + 1], gap_us=40)
        if i % 16 == 15:
            s.ack(from_client=False, gap_us=40)
    answer(s)
    return cap


OOO_CUTS = (0, AT + 4, SPLIT + 5, 60, N)
OOO_ORDER = (2, 0, 3, 1)


def out_of_order():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-out-of-order", 42003)
    s.handshake()
    for i in OOO_ORDER:
        a, b = OOO_CUTS[i], OOO_CUTS[i + 1]
        s.segment(True, REQ[a:b], offset=a)
    answer(s)
    return cap


def retransmission():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-retransmission", 42004)
    s.handshake()
    s.segment(True, REQ[:SPLIT], offset=0)
    s.segment(True, REQ[:SPLIT], offset=0)         # before the ACK
    s.segment(True, REQ[SPLIT:], offset=SPLIT)
    s.ack(from_client=False)
    s.segment(True, REQ[:SPLIT], offset=0)         # after the ACK
    s.segment(True, REQ, offset=0)                 # the whole request, repacketised
    s.ack(from_client=False)
    s.send(passwd_response(), from_client=False, think_us=3000)
    s.close()
    return cap


GARBAGE = b"XXXXX"


def overlap():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    # session 1: the hole [0, SPLIT) first; 5 bytes of garbage at SPLIT, then the
    # rest of the request from SPLIT: same start, longer (linux and last take it)
    s = session(cap, "stream-overlap-same-start", 42005)
    s.handshake()
    s.segment(True, GARBAGE, offset=SPLIT)
    s.segment(True, REQ[SPLIT:], offset=SPLIT)
    s.segment(True, REQ[:SPLIT], offset=0)
    answer(s)
    cap.advance(200000)
    # session 2: garbage at SPLIT, then the rest from SPLIT - 3: the new copy starts
    # first (every policy but first takes it)
    s = session(cap, "stream-overlap-starts-before", 42006)
    s.handshake()
    s.segment(True, GARBAGE, offset=SPLIT)
    s.segment(True, REQ[SPLIT - 3:], offset=SPLIT - 3)
    s.segment(True, REQ[:SPLIT - 3], offset=0)
    answer(s)
    return cap


FIRST_REQUEST = pg.http_request("GET", "/tmui/login.jsp", BIGIP + ":8443",
                                [("User-Agent", "python-requests/2.32.3"), ("Accept", "*/*")])


def gap():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-gap", 42007)
    s.handshake()
    lost = len(FIRST_REQUEST)
    # the segment carrying FIRST_REQUEST at offset 0 was lost before the sensor
    s.segment(True, REQ[:SPLIT], offset=lost)
    s.segment(True, REQ[SPLIT:], offset=lost + SPLIT)
    answer(s)  # the server's ACK covers the lost bytes too
    return cap


def wraparound():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-wrap", 42008)
    s.set_isn(True, 0xFFFFFFFF - SPLIT)  # offset SPLIT has sequence number 0
    s.set_isn(False, 0xFFFFFFFF)         # the server's first byte is 0
    s.handshake()
    s.segment(True, REQ[SPLIT:], offset=SPLIT)
    s.segment(True, REQ[:SPLIT], offset=0)
    answer(s)
    assert s.stream_seq(True, SPLIT) == 0
    return cap


def four_way():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-4whs", 42009)
    s.segment(True, offset=-1, flags=SYN)
    s.segment(False, offset=-1, flags=SYN, gap_us=400)
    s.segment(True, offset=-1, ack_offset=0, flags=SYN | ACK, gap_us=400)
    s.segment(False, offset=0, ack_offset=0, flags=ACK, gap_us=400)
    s.segment(True, REQ[:SPLIT])
    s.segment(True, REQ[SPLIT:])
    answer(s)
    return cap


DECOY = b"GET /index.jsp"


def fast_open():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    # accepted: the SYN carries the first part, the SYN+ACK acknowledges it
    s = session(cap, "stream-tfo", 42010)
    s.segment(True, REQ[:SPLIT], offset=-1, flags=SYN)
    s.segment(False, offset=-1, ack_offset=SPLIT, flags=SYN | ACK, gap_us=400)
    s.segment(True, flags=ACK, gap_us=400)
    s.segment(True, REQ[SPLIT:])
    answer(s)
    cap.advance(200000)
    # refused: the SYN+ACK acknowledges the SYN only, so the SYN's decoy data is not
    # part of the stream; the client sends the request after the handshake
    s = session(cap, "stream-tfo-refused", 42011)
    s.segment(True, DECOY, offset=-1, flags=SYN)
    s.segment(False, offset=-1, ack_offset=0, flags=SYN | ACK, gap_us=400)
    s.segment(True, offset=0, ack_offset=0, flags=ACK, gap_us=400)
    s.segment(True, REQ[:SPLIT], offset=0)
    s.segment(True, REQ[SPLIT:], offset=SPLIT)
    answer(s)
    return cap


def midstream():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-midstream", 42012)
    # the capture starts long after the handshake: no SYN
    s.segment(True, REQ[:SPLIT], offset=52000, ack_offset=9000)
    s.segment(True, REQ[SPLIT:], offset=52000 + SPLIT, ack_offset=9000)
    s.segment(False, offset=9000, ack_offset=52000 + N, flags=ACK)
    resp = passwd_response()
    s.segment(False, resp, offset=9000, ack_offset=52000 + N)
    s.segment(True, offset=52000 + N, ack_offset=9000 + len(resp), flags=ACK)
    return cap


def rst_with_data():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    s = session(cap, "stream-rst-data", 42013)
    s.handshake()
    s.segment(True, REQ[:SPLIT])
    s.segment(True, REQ[SPLIT:], flags=RST | ACK)
    return cap


FLOOD_SESSIONS = 32
FLOOD_SEGMENTS = 128
FLOOD_MEMCAP = 1 << 20


def flood():
    cap = pg.Capture(pg.LINKTYPE_ETHERNET)
    for i in range(FLOOD_SESSIONS):
        s = session(cap, "stream-flood-%d" % i, 50000 + i, client=FLOODER)
        s.handshake()
        # 1-byte segments at offsets 1..FLOOD_SEGMENTS, shuffled; offset 0 never comes,
        # so each waits in the out-of-order queue, and the server never acknowledges
        for k in range(FLOOD_SEGMENTS):
            off = 1 + (k * 37 + i) % FLOOD_SEGMENTS
            s.segment(True, b"A", offset=off, gap_us=20)
        cap.advance(1000)
    s = session(cap, "stream-flood-attack", 42014)
    s.handshake()
    s.segment(True, REQ[:SPLIT])
    s.segment(True, REQ[SPLIT:])
    answer(s)
    return cap


CAPTURES = [
    ("split-2.pcap", split_2, 1,
     "the request in two segments, split inside the pattern (/tmui/log | in.jsp/..;)"),
    ("split-1byte.pcap", split_1byte, 1,
     "the request in %d one-byte segments, the server acknowledging every 16" % N),
    ("out-of-order.pcap", out_of_order, 1,
     "the request in 4 segments (cuts at %s) sent in the order %s, then acknowledged"
     % (list(OOO_CUTS[1:-1]), [i + 1 for i in OOO_ORDER])),
    ("retransmission.pcap", retransmission, 1,
     "two segments split inside the pattern; the first retransmitted before and after the "
     "ACK, then the whole request retransmitted in one segment: the stream holds it once"),
    ("overlap.pcap", overlap, 1,
     "two sessions where garbage overlaps the request with different bytes before the "
     "hole at offset 0 is filled: (1) garbage at %d, then the rest of the request from %d "
     "(same start, longer); (2) garbage at %d, then the rest from %d (starts before)"
     % (SPLIT, SPLIT, SPLIT, SPLIT - 3)),
    ("gap.pcap", gap, 1,
     "a first request (%d bytes) was lost before the sensor; the traversal request follows "
     "in two segments and the server's ACK covers both: the stream continues after a gap"
     % len(FIRST_REQUEST)),
    ("wrap.pcap", wraparound, 1,
     "the client's sequence numbers wrap at the split inside the pattern (offset %d has "
     "sequence number 0); the second part is sent first" % SPLIT),
    ("4whs.pcap", four_way, 1,
     "split handshake: SYN, SYN (server), SYN+ACK (client), ACK (server), then the request "
     "in two segments"),
    ("tfo.pcap", fast_open, 2,
     "TCP Fast Open: (1) the SYN carries the first part of the request and the SYN+ACK "
     "acknowledges it; (2) the SYN carries a decoy (%r) that the SYN+ACK does not "
     "acknowledge, and the request follows the handshake" % DECOY.decode()),
    ("midstream.pcap", midstream, 0,
     "no handshake in the capture: the request in two segments, the server's ACK and "
     "response; reassembled only with stream.midstream on"),
    ("rst-with-data.pcap", rst_with_data, 0,
     "the first part of the request in a segment, the second part as the payload of a RST: "
     "no target delivers RST data, so the stream never holds the pattern"),
    ("flood.pcap", flood, 1,
     "%d sessions of %d one-byte out-of-order segments each (offset 0 never sent, no ACK), "
     "still open when the request arrives in two segments" % (FLOOD_SESSIONS, FLOOD_SEGMENTS)),
]


def main():
    out = {}
    for name, build, want, about in CAPTURES:
        path = write(build(), name)
        kw = {}
        if name == "overlap.pcap":
            kw["by_policy"] = {"first": 0, "last": 2, "bsd": 1, "linux": 2, "windows": 1}
        if name == "midstream.pcap":
            kw["midstream_alerts"] = 1
        e = expectations(name, path, want, about, **kw)
        if name == "gap.pcap":
            e["stream"] = {"gaps": 1, "gap_bytes": len(FIRST_REQUEST)}
        if name == "flood.pcap":
            # With stream.reassembly.memcap = 1mb the pool holds 2048 chunks: the first
            # 2048 one-byte segments fill it and every later segment is dropped: the
            # rest of the flood, the request's two segments and the response.
            flood_segs = FLOOD_SESSIONS * FLOOD_SEGMENTS
            chunks = FLOOD_MEMCAP // CHUNK
            a = dict(e["alerts"])
            a.pop(STREAM_SID, None)
            e["variants"] = [{"set": {"stream.reassembly.memcap": "1mb"}, "workers": 1,
                              "alerts": a,
                              "stream_stats": {"memcap_drops": flood_segs - chunks + 3,
                                               "memcap_drop_bytes": flood_segs - chunks + N +
                                               len(passwd_response()),
                                               "memuse_max": FLOOD_MEMCAP}}]
            # by default everything fits: the flood's chunks and the request's two
            e["stream_stats"] = {"memcap_drops": 0, "memuse_max": (flood_segs + 2) * CHUNK}
        out[name] = e
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for name in sorted(out):
        print("%-22s %s" % (name, json.dumps(out[name]["alerts"], sort_keys=True)))


if __name__ == "__main__":
    main()
