#!/usr/bin/env python3
"""Writes the IP fragment reassembly captures of pcaps/defrag/ and expected.json.

Each capture carries the CVE-2020-5902 file-read request that the payload rule sid
8400001 of tests/pcap/rules/bigip-payload.rules catches,

    GET /tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd

inside one TCP segment whose IP datagram is cut into fragments, so that no fragment
holds both "/tmui/login.jsp" and "..;": the rule can only fire on the rebuilt
datagram. README.md beside this file describes the captures.

What vigil must report is worked out here, not typed in: a reference reassembler
(RefDefrag below, written from the rules in include/vigil/defrag.h: overlap policies,
caps, timeouts) rebuilds the datagrams of each capture into a second capture in
which every completed datagram replaces the fragment that completed it; the
reference rule matcher (pcaps/tools/rulecheck.py) then gives the alerts and flows
on that one. The script stops with an error when a capture does not give what its
description promises.

Deterministic: run it twice, get the same bytes.   python3 pcaps/defrag/make_defrag_pcaps.py
"""

import json
import os
import struct
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402
import rulecheck  # noqa: E402

RULES = os.path.join(ROOT, "tests", "pcap", "rules", "bigip-payload.rules")
RULES_REL = "tests/pcap/rules/bigip-payload.rules"

# the demo's network (pcaps/demo/make_demo.py)
BIGIP_MGMT = "10.1.1.245"
BIGIP_MGMT6 = "2001:db8:f5::245"
ATTACKER1 = "203.0.113.66"
ATTACKER3 = "192.0.2.45"
ATTACKER6 = "2001:db8:bad::66"
ROUTER_MAC = "02:00:5e:00:00:01"
BIGIP_MAC = "02:f5:00:01:02:45"

TARGET = "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd"
REQUEST = pg.http_request("GET", TARGET, host="10.1.1.245:8443",
                          headers=[("User-Agent", "curl/8.5.0"), ("Accept", "*/*")])
RESPONSE = pg.http_response(200, "OK", headers=[("Content-Type", "application/json")],
                            body=b'{"output":"root:x:0:0:root:/root:/bin/bash\\n'
                                 b'bin:x:1:1:bin:/bin:/sbin/nologin\\n"}')
# Data bytes of each fragment but the last: the TCP header and "GET /tmui/lo",
# then "gin.jsp/..;/tmui", then the rest.
SIZES = [32, 16]

SECOND_US = 1000000
CHUNK = 256  # VG_DEFRAG_CHUNK_SIZE
POLICIES = ("bsd", "first", "last", "linux", "windows", "solaris")
DEFAULTS = {"memcap": 32 << 20, "max_trackers": 65535, "max_fragments": 256,
            "timeout_us": 60 * SECOND_US}


# ---------------------------------------------------------------------------
# the reference reassembler

def new_wins(policy, ns, ne, ps, pe):
    """Whether fragment [ns, ne) supplies the bytes it shares with queued piece
    [ps, pe) (include/vigil/defrag.h)."""
    if policy == "first":
        return False
    if policy == "last":
        return True
    if policy == "linux":
        return ps >= ns
    if policy == "windows":
        return ns < ps and ne > pe
    if policy == "solaris":
        return ns < ps and ne >= pe
    return ps > ns  # bsd


def chunks(nbytes):
    return (nbytes + CHUNK - 1) // CHUNK


class Piece:
    def __init__(self, start, data, skip=0):
        self.start, self.data, self.skip = start, bytearray(data), skip

    @property
    def end(self):
        return self.start + len(self.data)

    def chunks(self):
        return chunks(self.skip + len(self.data))


class Tracker:
    def __init__(self, now):
        self.created = now
        self.pieces = []
        self.hdr = None
        self.hdr_nh_off = 0
        self.frag_nh = 0
        self.end = None
        self.nfrags = 0
        self.given_up = False
        self.wire = 0


class Frag:
    """What a fragment says about itself (None when the packet is not one)."""

    @staticmethod
    def parse(l3):
        f = Frag()
        if l3[0] >> 4 == 4:
            ihl = (l3[0] & 0x0F) * 4
            total = struct.unpack("!H", l3[2:4])[0]
            fo = struct.unpack("!H", l3[6:8])[0]
            if not fo & 0x3FFF:
                return None
            f.family, f.hdr, f.data = 4, l3[:ihl], l3[ihl:total]
            f.offset, f.more = (fo & 0x1FFF) * 8, bool(fo & 0x2000)
            f.id, f.proto, f.src, f.dst = struct.unpack("!H", l3[4:6])[0], l3[9], l3[12:16], \
                l3[16:20]
            f.hdr_nh_off = f.frag_nh = 0
            return f
        total = 40 + struct.unpack("!H", l3[4:6])[0]
        nh, off, nh_off = l3[6], 40, 6
        while nh in (0, 43, 60):
            nh_off, nh, off = off, l3[off], off + (l3[off + 1] + 1) * 8
        if nh != 44:
            return None
        fo = struct.unpack("!H", l3[off + 2:off + 4])[0]
        if not fo & 0xFFF9:
            return None
        f.family, f.hdr, f.data = 6, l3[:off], l3[off + 8:total]
        f.offset, f.more = fo & 0xFFF8, bool(fo & 1)
        f.id, f.proto, f.src, f.dst = struct.unpack("!I", l3[off + 4:off + 8])[0], 0, l3[8:24], \
            l3[24:40]
        f.hdr_nh_off, f.frag_nh = nh_off, l3[off]
        return f


class RefDefrag:
    """Fragment reassembly as include/vigil/defrag.h specifies it, for captures."""

    def __init__(self, policy="bsd", **caps):
        c = dict(DEFAULTS)
        c.update(caps)
        self.policy = policy
        self.n_chunks = c["memcap"] // CHUNK
        self.max_trackers = c["max_trackers"]
        self.max_fragments = c["max_fragments"]
        self.timeout = c["timeout_us"]
        self.trackers = {}  # key -> Tracker, in creation order
        self.used = 0
        self.stats = {k: 0 for k in (
            "ipv4_fragments", "ipv6_fragments", "ipv4_reassembled", "ipv6_reassembled",
            "timeouts", "overlaps", "overlaps_different", "duplicates", "memcap_drops",
            "tracker_table_full", "too_many_fragments", "oversize", "invalid", "truncated",
            "absorbed", "rebuilt_undecodable")}

    def _release(self, key):
        t = self.trackers.pop(key)
        self._free_data(t)

    def _free_data(self, t):
        self.used -= sum(p.chunks() for p in t.pieces)
        if t.hdr is not None:
            self.used -= chunks(len(t.hdr))
        t.pieces, t.hdr = [], None

    def _alloc(self, n):
        if self.used + n > self.n_chunks:
            return False
        self.used += n
        return True

    def expire(self, now):
        while self.trackers:
            key, t = next(iter(self.trackers.items()))
            if now - t.created < self.timeout:
                break
            if not t.given_up:
                self.stats["timeouts"] += 1
            self._release(key)

    def _insert(self, t, f):
        """Returns (ok, took_byte0, events)."""
        ns, ne, nd = f.offset, f.offset + len(f.data), f.data
        overlap = differ = False
        covered = 0
        i = 0
        while i < len(t.pieces):
            p = t.pieces[i]
            if p.end <= ns:
                i += 1
                continue
            if p.start >= ne:
                break
            os_, oe = max(ns, p.start), min(ne, p.end)
            overlap = True
            covered += oe - os_
            if p.data[os_ - p.start:oe - p.start] != nd[os_ - ns:oe - ns]:
                differ = True
            if not new_wins(self.policy, ns, ne, p.start, p.end):
                i += 1
                continue
            if p.start < os_ and p.end > oe:
                right = Piece(oe, p.data[oe - p.start:])
                if not self._alloc(right.chunks()):
                    return False, False, set()
                t.pieces.insert(i + 1, right)
                self._trim_back(p, p.end - os_)
                break
            if p.start < os_:
                self._trim_back(p, p.end - os_)
                i += 1
            elif p.end > oe:
                before = p.chunks()
                cut = oe - p.start
                p.data, p.start = p.data[cut:], oe
                p.skip = (p.skip + cut) % CHUNK
                self.used -= before - p.chunks()
                break
            else:
                self.used -= p.chunks()
                del t.pieces[i]
        events = set()
        if overlap:
            self.stats["overlaps"] += 1
            events.add("overlap")
            if differ:
                self.stats["overlaps_different"] += 1
                events.add("overlap_different_data")
            elif covered == ne - ns:
                self.stats["duplicates"] += 1
        took0 = False
        pos, i = ns, 0
        while pos < ne:
            while i < len(t.pieces) and t.pieces[i].end <= pos:
                i += 1
            if i < len(t.pieces) and t.pieces[i].start <= pos:
                pos = t.pieces[i].end
                continue
            run_end = ne if i == len(t.pieces) else min(ne, t.pieces[i].start)
            piece = Piece(pos, nd[pos - ns:run_end - ns])
            if not self._alloc(piece.chunks()):
                return False, took0, events
            t.pieces.insert(i, piece)
            took0 = took0 or pos == 0
            pos = run_end
        return True, took0, events

    def _trim_back(self, p, n):
        before = p.chunks()
        p.data = p.data[:len(p.data) - n]
        self.used -= before - p.chunks()

    def feed(self, l3, vlan, wirelen, now):
        """Feeds one fragment. Returns (datagram or None, set of event names)."""
        self.expire(now)
        f = Frag.parse(l3)
        self.stats["ipv%d_fragments" % f.family] += 1
        ext = len(f.hdr) if f.family == 4 else len(f.hdr) - 40
        if ext + f.offset + len(f.data) > 65535:
            self.stats["oversize"] += 1
            return None, {"datagram_too_large"}
        if not f.data or (f.more and len(f.data) % 8):
            self.stats["invalid"] += 1
            return None, {"invalid_fragment"}
        key = (f.family, f.src, f.dst, f.id, f.proto, tuple(vlan))
        t = self.trackers.get(key)
        if t is None:
            if len(self.trackers) >= self.max_trackers:
                self.stats["tracker_table_full"] += 1
                return None, {"tracker_table_full"}
            t = self.trackers[key] = Tracker(now)
        if t.given_up:
            self.stats["absorbed"] += 1
            return None, set()
        fend = f.offset + len(f.data)
        if (not f.more and t.end is not None and t.end != fend) or \
                (f.more and t.end is not None and fend > t.end):
            self.stats["invalid"] += 1
            return None, {"invalid_fragment"}
        if t.nfrags >= self.max_fragments:
            self._free_data(t)
            t.given_up = True
            self.stats["too_many_fragments"] += 1
            return None, {"too_many_fragments"}
        t.nfrags += 1
        t.wire += wirelen
        if not f.more:
            t.end = fend
        ok, took0, events = self._insert(t, f)
        if ok and took0:
            if t.hdr is not None:
                self.used -= chunks(len(t.hdr))
                t.hdr = None
            ok = self._alloc(chunks(len(f.hdr)))
            if ok:
                t.hdr, t.hdr_nh_off, t.frag_nh = bytes(f.hdr), f.hdr_nh_off, f.frag_nh
        if not ok:
            self._free_data(t)
            t.given_up = True
            self.stats["memcap_drops"] += 1
            return None, events | {"memcap"}
        if t.end is None or t.hdr is None:
            return None, events
        covered = 0
        for p in t.pieces:
            if p.start > covered:
                return None, events
            covered = max(covered, p.end)
            if covered >= t.end:
                break
        if covered < t.end:
            return None, events
        body = bytearray(t.end)
        for p in t.pieces:
            if p.start < t.end:
                n = min(p.end, t.end) - p.start
                body[p.start:p.start + n] = p.data[:n]
        hdr = bytearray(t.hdr)
        if f.family == 4:
            struct.pack_into("!HH", hdr, 2, len(hdr) + t.end, struct.unpack("!H", hdr[4:6])[0])
            struct.pack_into("!H", hdr, 6, struct.unpack("!H", hdr[6:8])[0] & 0xC000)
            struct.pack_into("!H", hdr, 10, 0)
            struct.pack_into("!H", hdr, 10, pg.checksum(bytes(hdr)))
        else:
            struct.pack_into("!H", hdr, 4, len(hdr) - 40 + t.end)
            hdr[t.hdr_nh_off] = t.frag_nh
        wire = t.wire
        del self.trackers[key]
        self._free_data(t)
        self.stats["ipv%d_reassembled" % f.family] += 1
        return (bytes(hdr) + bytes(body), wire), events


EVENT_NAMES = {
    # (event, family) -> name, as vg_defrag_event_name_family() gives it
    "overlap": {4: "ipv4.frag_overlap", 6: "ipv6.frag_overlap"},
    "overlap_different_data": "defrag.overlap_different_data",
    "too_many_fragments": "defrag.max_frag_hits",
    "datagram_too_large": {4: "ipv4.frag_pkt_too_large", 6: "ipv6.frag_pkt_too_large"},
    "invalid_fragment": {6: "ipv6.frag_invalid_length"},
    "memcap": {4: "ipv4.frag_ignored", 6: "ipv6.frag_ignored"},
    "tracker_table_full": "defrag.max_trackers_reached",
}
NEUTRAL = {"invalid_fragment": "defrag.frag_invalid"}


def event_name(ev, family):
    n = EVENT_NAMES[ev]
    if isinstance(n, dict):
        return n.get(family, NEUTRAL.get(ev, ev))
    return n


def split_frame(frame):
    """Ethernet frame -> (link header, vlan ids, IP bytes or None)."""
    et, off, vlan = struct.unpack("!H", frame[12:14])[0], 14, []
    while et in (pg.ETH_P_8021Q, pg.ETH_P_8021AD):
        tci, et = struct.unpack("!HH", frame[off:off + 4])
        vlan.append(tci & 0x0FFF)
        off += 4
    if et not in (pg.ETH_P_IP, pg.ETH_P_IPV6):
        return frame, vlan, None
    return frame[:off], vlan, frame[off:]


def rebuild(cap, ref):
    """Runs the reference reassembler over a capture. Returns the capture as vigil
    analyses it (each completed datagram in place of the fragment that completed
    it, the other fragments left out), the original packet number of each of its
    packets, the completed datagrams and the events raised per packet."""
    out = pg.Capture(cap.linktype)
    numbers, datagrams, events = [], [], []
    for num, (ts, frame, orig) in enumerate(cap.packets, 1):
        link, vlan, l3 = split_frame(frame)
        frag = Frag.parse(l3) if l3 is not None else None
        if frag is None:
            out.packets.append((ts, frame, orig))
            numbers.append(num)
            continue
        got, evs = ref.feed(l3, vlan, orig, ts)
        if evs:
            events.append({"pcap_cnt": num, "events": sorted(event_name(e, frag.family)
                                                             for e in evs)})
        if got is not None:
            dgram, wire = got
            out.packets.append((ts, link + dgram, wire))
            numbers.append(num)
            datagrams.append({"pcap_cnt": num, "family": frag.family, "length": len(dgram),
                              "wire_bytes": wire})
    return out, numbers, datagrams, events


PROTO_NAME = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "IPv6-ICMP"}


def analyse(cap, rules, numbers=None):
    """Alerts and flows that rulecheck finds in cap; packet numbers mapped back to
    the original capture through numbers."""
    fd, path = tempfile.mkstemp(suffix=".pcap")
    os.close(fd)
    try:
        cap.write_pcap(path)
        alerts, flows = rulecheck.run(path, rules)
    finally:
        os.unlink(path)
    alert_list = []
    for a in alerts:
        rec = dict(a)
        rec["pcap_cnt"] = numbers[a["pcap_cnt"] - 1] if numbers else a["pcap_cnt"]
        rec["proto"] = PROTO_NAME[a["proto"]]
        alert_list.append(rec)
    counts = {}
    for a in alert_list:
        counts[str(a["sid"])] = counts.get(str(a["sid"]), 0) + 1
    flow_list = [{
        "proto": PROTO_NAME[f.proto],
        "src_ip": str(f.client[0]), "src_port": f.client[1],
        "dest_ip": str(f.server[0]), "dest_port": f.server[1],
        "vlan": list(f.vlan),
        "pkts_toserver": f.pkts[0], "pkts_toclient": f.pkts[1],
        "bytes_toserver": f.bytes[0], "bytes_toclient": f.bytes[1],
    } for f in flows]
    return counts, alert_list, flow_list


# ---------------------------------------------------------------------------
# the captures

def session(cap, name, client, server):
    link = pg.EthernetLink(ROUTER_MAC, BIGIP_MAC)
    return pg.TcpSession(cap, link, client, server, name)


def fragmented_request(s, order, ext=()):
    """Sends REQUEST from the client as one TCP segment whose datagram is cut at
    SIZES; the fragments go out in the given order. Returns their packet numbers
    in sending order."""
    (cip, cport), (sip, sport) = s.client, s.server
    flags = pg.TCP_ACK | pg.TCP_PSH
    seg = pg.tcp(cip, sip, cport, sport, s.nxt[0], s.nxt[1], flags, REQUEST,
                 s.window >> s.wscale)
    if ext:
        l3 = s._ip(True, pg.IPPROTO_TCP, seg, ttl=s.ttl[0], ext=ext)
    else:
        l3 = s._ip(True, pg.IPPROTO_TCP, seg, ttl=s.ttl[0])
    if ":" in cip:
        frags = pg.ipv6_fragments(l3, SIZES, pg.det32(s.name + "/frag-id"))
    else:
        frags = pg.ipv4_fragments(l3, SIZES)
    nums = [s._emit(frags[i], True, s.gap_us) for i in order]
    s.nxt[0] = (s.nxt[0] + len(REQUEST)) & 0xFFFFFFFF
    s.flags_seen[0] |= flags
    return nums


def attack(cap, name, client, server, order, ext=()):
    s = session(cap, name, client, server)
    s.handshake()
    nums = fragmented_request(s, order, ext)
    s.send(RESPONSE, from_client=False, think_us=2000)
    s.close()
    return nums


def cap_inorder():
    cap = pg.Capture()
    cap.advance(100000)
    attack(cap, "D1-ipv4-in-order", (ATTACKER1, 41101), (BIGIP_MGMT, 8443), [0, 1, 2])
    return cap


def cap_outoforder():
    cap = pg.Capture()
    cap.advance(100000)
    attack(cap, "D2-ipv4-out-of-order", (ATTACKER1, 41102), (BIGIP_MGMT, 8443), [2, 0, 1])
    return cap


def cap_ipv6():
    cap = pg.Capture()
    cap.advance(100000)
    # a hop-by-hop header (padding only) comes before the fragment header
    attack(cap, "D3-ipv6", (ATTACKER6, 41103), (BIGIP_MGMT6, 8443), [0, 1, 2],
           ext=[(pg.IPPROTO_HOPOPTS, pg.ipv6_options())])
    return cap


BENIGN = b"__;/tmui"


def cap_overlap():
    """F1 [0, 40): TCP header and "GET /tmui/login.jsp/"; F2 [40, 48) "__;/tmui";
    F3 [40, 48) "..;/tmui" (what the TCP checksum was computed over); F4 the rest.
    Sent F1, F2, F3, F4: a target that keeps the first data sees no traversal."""
    cap = pg.Capture()
    cap.advance(100000)
    s = session(cap, "D4-ipv4-overlap", (ATTACKER1, 41104), (BIGIP_MGMT, 8443))
    s.handshake()
    (cip, cport), (sip, sport) = s.client, s.server
    flags = pg.TCP_ACK | pg.TCP_PSH
    seg = pg.tcp(cip, sip, cport, sport, s.nxt[0], s.nxt[1], flags, REQUEST,
                 s.window >> s.wscale)
    if seg[40:48] != b"..;/tmui":
        raise SystemExit("overlap capture: the request moved: %r" % seg[40:48])
    ident = s._ipid[0]
    s._ipid[0] += 1
    parts = [(0, seg[0:40], True), (40, BENIGN, True), (40, seg[40:48], True),
             (48, seg[48:], False)]
    for off, data, mf in parts:
        l3 = pg.ipv4(cip, sip, pg.IPPROTO_TCP, data, ident=ident, df=False, mf=mf,
                     frag_offset=off)
        s._emit(l3, True, s.gap_us)
    s.nxt[0] = (s.nxt[0] + len(REQUEST)) & 0xFFFFFFFF
    s.flags_seen[0] |= flags
    s.send(RESPONSE, from_client=False, think_us=2000)
    s.close()
    return cap


FLOOD = 2000


def cap_flood():
    """FLOOD first fragments (256 data bytes, UDP to port 161) of datagrams whose
    second fragment never comes, one per millisecond, then the in-order attack."""
    cap = pg.Capture()
    cap.advance(100000)
    payload = pg.det_bytes("flood", 504)
    for i in range(FLOOD):
        dgram = pg.ipv4(ATTACKER3, BIGIP_MGMT, pg.IPPROTO_UDP,
                        pg.udp(ATTACKER3, BIGIP_MGMT, 50000 + i % 1000, 161, payload), ident=i,
                        df=False)
        first = pg.ipv4_fragments(dgram, [256])[0]
        cap.add(pg.ethernet(BIGIP_MAC, ROUTER_MAC, pg.ETH_P_IP, first), 1000)
    cap.advance(SECOND_US)
    attack(cap, "D5-ipv4-after-flood", (ATTACKER1, 41105), (BIGIP_MGMT, 8443), [0, 1, 2])
    return cap


# ---------------------------------------------------------------------------

def count_fragments(cap):
    n = 0
    for _, frame, _ in cap.packets:
        _, _, l3 = split_frame(frame)
        if l3 is not None and Frag.parse(l3) is not None:
            n += 1
    return n


def evaluate(cap, rules, policy="bsd", **caps):
    ref = RefDefrag(policy, **caps)
    rebuilt, numbers, datagrams, events = rebuild(cap, ref)
    counts, alert_list, flow_list = analyse(rebuilt, rules, numbers)
    stats = dict(ref.stats)
    stats["trackers_active"] = len(ref.trackers)
    stats["memuse"] = ref.used * CHUNK
    return {"alerts": counts, "alert_list": alert_list, "flows": len(flow_list),
            "flow_list": flow_list, "datagrams": datagrams, "events": events, "defrag": stats}


def describe(name, about, cap, rules, **extra):
    e = {"about": about, "rules": RULES_REL, "linktype": 1, "packets": len(cap.packets),
         "fragments": count_fragments(cap), "policy": "bsd"}
    e.update(evaluate(cap, rules))
    without, _, _ = analyse(cap, rules)
    e["alerts_without_defrag"] = without
    e.update(extra)
    return e


def require(cond, msg):
    if not cond:
        raise SystemExit("make_defrag_pcaps: " + msg)


def main():
    rules, errors = rulecheck.load_rules([RULES])
    if errors:
        raise SystemExit("rule errors:\n" + "\n".join(errors))
    expected = {
        "conventions": (
            "What vigil reports once the worker passes fragments to the defragmenter "
            "(parsers/defrag.c) with its defaults (policy bsd, memcap 32 MiB, 65535 "
            "trackers, 256 fragments per datagram, 60 s timeout), analysed as "
            "Suricata does: a fragment is not a packet of any flow; the rebuilt datagram "
            "is one packet of its flow, at the pcap_cnt and time of the fragment that "
            "completed it, and its bytes are the wire lengths of all its fragments "
            "(out->wirelen). alert_list pcap_cnt is that completing fragment. events: "
            "vg_defrag_last_events() per fragment, named by vg_defrag_event_name_family(). "
            "defrag: vg_defrag_stats() at the end of the capture. alerts_without_defrag: "
            "what the same rules give with fragments left unreassembled.")}
    caps = [
        ("frag-ipv4-inorder.pcap", cap_inorder(),
         "IPv4 TCP session to the BIG-IP management port; the CVE-2020-5902 request's "
         "datagram in 3 fragments (%d, %d and %d data bytes), in order"
         % (SIZES[0], SIZES[1], 20 + len(REQUEST) - sum(SIZES))),
        ("frag-ipv4-outoforder.pcap", cap_outoforder(),
         "the same with the fragments sent last, first, middle: the middle one completes"),
        ("frag-ipv6.pcap", cap_ipv6(),
         "the same over IPv6, a hop-by-hop header before the fragment header, fragments "
         "in order"),
    ]
    for name, cap, about in caps:
        cap.write_pcap(os.path.join(HERE, name))
        e = describe(name, about, cap, rules)
        require(e["alerts"] == {"8400001": 1}, "%s: alerts %s" % (name, e["alerts"]))
        require(e["alerts_without_defrag"] == {}, "%s: alerts without defrag" % name)
        require(e["flows"] == 1 and not e["events"], "%s: flows or events" % name)
        expected[name] = e

    name, cap = "frag-overlap.pcap", cap_overlap()
    cap.write_pcap(os.path.join(HERE, name))
    e = describe(name, "IPv4: the request's datagram with two fragments at offset 40: first "
                 "\"__;/tmui\", then \"..;/tmui\". Policies that keep the first data "
                 "(bsd, first, windows, solaris) rebuild a harmless request; last and "
                 "linux rebuild the traversal", cap, rules)
    by_policy = {}
    for policy in POLICIES:
        r = evaluate(cap, rules, policy)
        by_policy[policy] = {"alerts": r["alerts"], "alert_list": r["alert_list"],
                             "events": r["events"]}
    e["by_policy"] = by_policy
    require(by_policy["first"]["alerts"] == {} and by_policy["bsd"]["alerts"] == {},
            "overlap: first/bsd should not alert")
    require(by_policy["last"]["alerts"] == {"8400001": 1}, "overlap: last should alert")
    require(len(e["events"]) == 1 and e["defrag"]["overlaps_different"] == 1,
            "overlap: one overlap with different data")
    expected[name] = e

    name, cap = "frag-flood.pcap", cap_flood()
    cap.write_pcap(os.path.join(HERE, name))
    small = {"memcap": 256 << 10, "max_trackers": 1024}
    e = describe(name, "%d first fragments (UDP to port 161, 256 data bytes) of datagrams "
                 "that never complete, from %s, 1 ms apart; 1 s later the in-order attack "
                 "session" % (FLOOD, ATTACKER3), cap, rules)
    r = evaluate(cap, rules, **small)
    e["small_caps"] = {"config": small, "alerts": r["alerts"], "flows": r["flows"],
                       "defrag": r["defrag"],
                       "about": "memcap 256 KiB holds 512 flood datagrams (2 chunks each); "
                                "the next 512 get a tracker and are given up; the rest of "
                                "the flood, and then the attack's 3 fragments, find the "
                                "1024 trackers taken: no alert"}
    require(e["alerts"] == {"8400001": 1}, "flood: the attack must be caught by default")
    require(r["alerts"] == {}, "flood with small caps: the attack must be lost")
    expected[name] = e

    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
