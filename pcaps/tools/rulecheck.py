"""rulecheck: a small reference evaluator for the rule subset vigil's first engine supports.

It reads a classic pcap or pcapng file, decodes Ethernet / 802.1Q / QinQ / Linux SLL /
SLL2 / raw IP, IPv4, IPv6 with extension headers, TCP, UDP, ICMP and ICMPv6, keeps a
simple flow table (client = sender of the first packet, or receiver of a first SYN+ACK;
TCP established once the 3-way handshake is complete, UDP/ICMP once both directions
were seen), and matches rules on each packet's payload: no stream reassembly, no
app-layer buffers.

Supported: actions alert; protocols ip, tcp, udp, icmp, tcp-pkt; addresses and ports
(any, lists, ranges, CIDR, negation, $HOME_NET / $EXTERNAL_NET / $HTTP_PORTS); options
msg, sid, rev, gid, classtype, priority, reference, metadata, content (|hex|, !),
nocase, depth, offset, distance, within, fast_pattern, flow, itype, icode,
flags / tcp.flags, dsize. Anything else is an error for that rule.

The capture scripts use it to check that the alerts they promise in expected.json are
what the rules give on the bytes they wrote. It is a test oracle, not part of vigil.

    python3 rulecheck.py RULES... -- CAPTURE      prints one line per alert
"""

import ipaddress
import struct
import sys

DEFAULT_VARS = {
    "HOME_NET": "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]",
    "EXTERNAL_NET": "!$HOME_NET",
    "HTTP_PORTS": "80",
}


class RuleError(Exception):
    pass


# ---------------------------------------------------------------------------
# rule parsing

def _split_options(body):
    """Splits 'k:v; k2; k3:"a\\;b";' into [(k, v or None)], honouring quotes and
    backslash escapes."""
    out, cur, inq, esc = [], "", False, False
    for ch in body:
        if esc:
            cur += ch
            esc = False
            continue
        if ch == "\\":
            cur += ch
            esc = True
            continue
        if ch == '"':
            inq = not inq
            cur += ch
            continue
        if ch == ";" and not inq:
            if cur.strip():
                out.append(cur.strip())
            cur = ""
            continue
        cur += ch
    if inq:
        raise RuleError("unterminated quoted string")
    if cur.strip():
        raise RuleError("option without terminating ';': " + cur.strip())
    res = []
    for o in out:
        if ":" in o:
            k, v = o.split(":", 1)
            res.append((k.strip(), v.strip()))
        else:
            res.append((o.strip(), None))
    return res


def _unquote(v):
    v = v.strip()
    if len(v) < 2 or v[0] != '"' or v[-1] != '"':
        raise RuleError("expected a quoted string: " + v)
    return v[1:-1]


def parse_content(v):
    neg = False
    v = v.strip()
    if v.startswith("!"):
        neg = True
        v = v[1:].strip()
    s = _unquote(v)
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s) or s[i + 1] not in ';"\\:|':
                raise RuleError("bad escape in content")
            out += s[i + 1].encode()
            i += 2
        elif c == "|":
            j = s.find("|", i + 1)
            if j < 0:
                raise RuleError("unterminated hex in content")
            hx = s[i + 1:j].replace(" ", "")
            if len(hx) % 2 or any(ch not in "0123456789abcdefABCDEF" for ch in hx):
                raise RuleError("bad hex in content: " + s[i + 1:j])
            out += bytes.fromhex(hx)
            i = j + 1
        elif c == '"' or c == ";":
            raise RuleError("unescaped %s in content" % c)
        else:
            out += c.encode("latin-1")
            i += 1
    if not out:
        raise RuleError("empty content")
    return bytes(out), neg


def _resolve(text, vars_, depth=0):
    if depth > 10:
        raise RuleError("variable loop")
    text = text.strip()
    if text.startswith("$"):
        name = text[1:]
        if name not in vars_:
            raise RuleError("unknown variable $" + name)
        return _resolve(vars_[name], vars_, depth + 1)
    return text


def _parse_list(text, vars_, item_fn, depth=0):
    """Returns (positives, negatives) lists of items; positives None = any."""
    text = _resolve(text, vars_, depth)
    neg = False
    if text.startswith("!"):
        neg = True
        text = _resolve(text[1:], vars_, depth)
    if text == "any":
        if neg:
            raise RuleError("!any")
        return None, []
    if text.startswith("["):
        if not text.endswith("]"):
            raise RuleError("unbalanced [ ]")
        inner = text[1:-1]
        parts, cur, lvl = [], "", 0
        for ch in inner:
            if ch == "[":
                lvl += 1
            elif ch == "]":
                lvl -= 1
            if ch == "," and lvl == 0:
                parts.append(cur)
                cur = ""
            else:
                cur += ch
        parts.append(cur)
        pos, negs, saw_any = [], [], False
        for p in parts:
            pp, nn = _parse_list(p, vars_, item_fn, depth + 1)
            if pp is None and not nn:
                saw_any = True
            elif pp is not None:
                pos.extend(pp)
            negs.extend(nn)
        if saw_any or (not pos and negs):
            pos = None
        if neg:
            if pos is None:
                raise RuleError("negated list matches nothing")
            return None, pos
        return pos, negs
    item = item_fn(text)
    if neg:
        return None, [item]
    return [item], []


def _net(t):
    try:
        return ipaddress.ip_network(t, strict=False)
    except ValueError:
        raise RuleError("bad address " + t)


def _portrange(t):
    t = t.strip()
    try:
        if ":" in t:
            a, b = t.split(":", 1)
            return (int(a) if a else 0, int(b) if b else 65535)
        return (int(t), int(t))
    except ValueError:
        raise RuleError("bad port " + t)


def _num_test(v):
    v = v.strip()
    try:
        if "<>" in v:
            a, b = v.split("<>")
            a, b = int(a), int(b)
            return lambda x: a < x < b
        if v.startswith("<"):
            n = int(v[1:])
            return lambda x: x < n
        if v.startswith(">"):
            n = int(v[1:])
            return lambda x: x > n
        if v.startswith("!"):
            n = int(v[1:])
            return lambda x: x != n
        n = int(v)
        return lambda x: x == n
    except ValueError:
        raise RuleError("bad number " + v)


FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "C": 0x80,
             "E": 0x40, "1": 0x80, "2": 0x40, "0": 0}


def _flags_test(v):
    v = v.strip()
    ignore = 0
    if "," in v:
        v, ig = v.split(",", 1)
        for ch in ig.strip():
            ignore |= FLAG_BITS.get(ch.upper(), 0)
    mod = ""
    if v and v[0] in "+*!":
        mod, v = v[0], v[1:]
    elif v and v[-1] in "+*!":
        mod, v = v[-1], v[:-1]
    bits = 0
    for ch in v:
        if ch.upper() not in FLAG_BITS:
            raise RuleError("bad tcp flag " + ch)
        bits |= FLAG_BITS[ch.upper()]
    mask = 0xFF & ~ignore
    if mod == "+":
        return lambda f: (f & bits) == bits
    if mod == "*":
        return lambda f: (f & bits) != 0
    if mod == "!":
        return lambda f: (f & bits) == 0
    return lambda f: (f & mask) == bits


class Rule:
    def __init__(self, line, vars_, where=""):
        self.where = where
        self.text = line
        line = line.strip()
        if not line.endswith(")") or "(" not in line:
            raise RuleError("rule does not end with ')'")
        head, body = line.split("(", 1)
        body = body[:-1]
        h = head.split()
        if len(h) != 7:
            raise RuleError("bad rule header")
        self.action, self.proto, src, sport, self.dir, dst, dport = h
        if self.action != "alert":
            raise RuleError("unsupported action " + self.action)
        if self.proto not in ("ip", "tcp", "udp", "icmp", "tcp-pkt"):
            raise RuleError("unsupported protocol " + self.proto)
        if self.dir not in ("->", "<>"):
            raise RuleError("bad direction " + self.dir)
        self.src = _parse_list(src, vars_, _net)
        self.dst = _parse_list(dst, vars_, _net)
        self.sport = _parse_list(sport, vars_, _portrange)
        self.dport = _parse_list(dport, vars_, _portrange)
        self.sid = None
        self.dsize = None
        self.gid, self.rev, self.msg = 1, 0, ""
        self.contents = []  # dicts
        self.flow = set()
        self.tests = []  # callables on a packet
        for k, v in _split_options(body):
            k = k.lower()
            if k == "msg":
                self.msg = _unquote(v)
            elif k in ("sid", "rev", "gid", "priority"):
                try:
                    setattr(self, k, int(v))
                except (TypeError, ValueError):
                    raise RuleError("bad %s" % k)
            elif k in ("classtype", "reference", "metadata"):
                pass
            elif k == "content":
                pat, neg = parse_content(v)
                self.contents.append({"pat": pat, "neg": neg, "nocase": False, "offset": None,
                                      "depth": None, "distance": None, "within": None})
            elif k in ("nocase", "fast_pattern"):
                if not self.contents:
                    raise RuleError(k + " without content")
                if k == "nocase":
                    self.contents[-1]["nocase"] = True
            elif k in ("depth", "offset", "distance", "within"):
                if not self.contents:
                    raise RuleError(k + " without content")
                try:
                    self.contents[-1][k] = int(v)
                except (TypeError, ValueError):
                    raise RuleError("bad " + k)
            elif k == "flow":
                for f in v.split(","):
                    f = f.strip()
                    if f not in ("to_server", "from_client", "to_client", "from_server",
                                 "established", "not_established", "stateless"):
                        raise RuleError("unsupported flow option " + f)
                    self.flow.add({"from_client": "to_server",
                                   "from_server": "to_client"}.get(f, f))
            elif k == "itype":
                t = _num_test(v)
                self.tests.append(lambda p, t=t: p.icmp_type is not None and t(p.icmp_type))
            elif k == "icode":
                t = _num_test(v)
                self.tests.append(lambda p, t=t: p.icmp_code is not None and t(p.icmp_code))
            elif k in ("flags", "tcp.flags"):
                t = _flags_test(v)
                self.tests.append(lambda p, t=t: p.proto == 6 and t(p.tcp_flags))
            elif k == "dsize":
                self.dsize = v
                t = _num_test(v)
                self.tests.append(lambda p, t=t: t(len(p.payload)))
            else:
                raise RuleError("unsupported keyword " + k)
        if self.sid is None:
            raise RuleError("missing sid")


def load_rules(paths, vars_=None):
    """Returns (rules, errors) with errors as 'file:line: message' strings."""
    v = dict(DEFAULT_VARS)
    v.update(vars_ or {})
    rules, errors = [], []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        buf, start = "", 0
        for n, raw in enumerate(lines, 1):
            line = raw.rstrip()
            if not buf:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                start = n
            if line.endswith("\\"):
                buf += line[:-1]
                continue
            buf += line
            try:
                rules.append(Rule(buf, v, "%s:%d" % (path, start)))
            except RuleError as e:
                errors.append("%s:%d: %s" % (path, start, e))
            buf = ""
        if buf:
            errors.append("%s:%d: %s" % (path, start, "unterminated rule"))
    return rules, errors


# ---------------------------------------------------------------------------
# matching

def _find_all(hay, pat, nocase, start, end):
    if nocase:
        hay, pat = hay.lower(), pat.lower()
    start = max(start, 0)
    i = hay.find(pat, start, end)
    while i >= 0:
        yield i
        i = hay.find(pat, i + 1, end)


def _match_contents(contents, buf, i=0, prev_end=None):
    if i == len(contents):
        return True
    c = contents[i]
    relative = c["distance"] is not None or c["within"] is not None
    if relative and prev_end is not None:
        start = prev_end + (c["distance"] or 0)
        end = len(buf) if c["within"] is None else min(len(buf), start + c["within"])
    elif relative:
        start, end = c["distance"] or 0, len(buf)
        if c["within"] is not None:
            end = min(len(buf), start + c["within"])
    else:
        start = c["offset"] or 0
        end = len(buf) if c["depth"] is None else min(len(buf), start + c["depth"])
    if c["neg"]:
        if any(True for _ in _find_all(buf, c["pat"], c["nocase"], start, end)):
            return False
        return _match_contents(contents, buf, i + 1, prev_end)
    for pos in _find_all(buf, c["pat"], c["nocase"], start, end):
        if _match_contents(contents, buf, i + 1, pos + len(c["pat"])):
            return True
    return False


def _in_list(value, spec):
    pos, negs = spec
    for n in negs:
        if _contains(n, value):
            return False
    if pos is None:
        return True
    return any(_contains(p, value) for p in pos)


def _contains(item, value):
    if isinstance(item, tuple):
        return value is not None and item[0] <= value <= item[1]
    return value.version == item.version and value in item


def rule_matches(r, p):
    if r.proto in ("tcp", "tcp-pkt") and p.proto != 6:
        return False
    if r.proto == "udp" and p.proto != 17:
        return False
    if r.proto == "icmp" and p.proto not in (1, 58):
        return False
    dirs = [(p.src, p.sport, p.dst, p.dport)]
    if r.dir == "<>":
        dirs.append((p.dst, p.dport, p.src, p.sport))
    ok = False
    for s, sp, d, dp in dirs:
        if _in_list(s, r.src) and _in_list(d, r.dst):
            if p.proto in (6, 17):
                if not (_in_list(sp, r.sport) and _in_list(dp, r.dport)):
                    continue
            ok = True
    if not ok:
        return False
    if "to_server" in r.flow and not p.to_server:
        return False
    if "to_client" in r.flow and p.to_server:
        return False
    if "established" in r.flow and not p.established:
        return False
    if "not_established" in r.flow and p.established:
        return False
    for t in r.tests:
        if not t(p):
            return False
    if r.contents and not _match_contents(r.contents, p.payload):
        return False
    return True


# ---------------------------------------------------------------------------
# capture reading and decoding

def read_capture(path):
    """Returns (linktype, [(ts_us, data, orig_len)]). Raises ValueError."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4:
        raise ValueError("too short")
    magic = raw[:4]
    if magic == b"\x0a\x0d\x0d\x0a":
        return _read_pcapng(raw)
    for endian in "<>":
        m = struct.unpack(endian + "I", magic)[0]
        if m in (0xA1B2C3D4, 0xA1B23C4D):
            nano = m == 0xA1B23C4D
            _, _, _, _, snap, lt = struct.unpack(endian + "HHiIII", raw[4:24])
            out, off = [], 24
            while off + 16 <= len(raw):
                sec, frac, incl, orig = struct.unpack(endian + "IIII", raw[off:off + 16])
                if off + 16 + incl > len(raw):
                    raise ValueError("truncated record at offset %d" % off)
                us = frac // 1000 if nano else frac
                out.append((sec * 1000000 + us, raw[off + 16:off + 16 + incl], orig))
                off += 16 + incl
            if off != len(raw):
                raise ValueError("truncated record header at offset %d" % off)
            return lt & 0xFFFF, out
    raise ValueError("not a capture file")


def _read_pcapng(raw):
    off, lt, out, tsres = 0, None, [], 1000000
    endian = "<"
    while off + 12 <= len(raw):
        btype, blen = struct.unpack(endian + "II", raw[off:off + 8])
        if btype == 0x0A0D0D0A:
            bom = raw[off + 8:off + 12]
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            blen = struct.unpack(endian + "I", raw[off + 4:off + 8])[0]
        body = raw[off + 8:off + blen - 4]
        if btype == 1:
            lt = struct.unpack(endian + "H", body[:2])[0]
            o = 8
            while o + 4 <= len(body):
                code, ln = struct.unpack(endian + "HH", body[o:o + 4])
                if code == 0:
                    break
                if code == 9:
                    v = body[o + 4]
                    tsres = (2 ** (v & 0x7F)) if v & 0x80 else 10 ** v
                o += 4 + ln + (4 - ln % 4) % 4
        elif btype == 6:
            _, hi, lo, cap, orig = struct.unpack(endian + "IIIII", body[:20])
            ts = (hi << 32) | lo
            out.append((ts * 1000000 // tsres, body[20:20 + cap], orig))
        off += blen
    return lt, out


class Pkt:
    __slots__ = ("num", "ts", "vlan", "src", "dst", "sport", "dport", "proto", "tcp_flags",
                 "icmp_type", "icmp_code", "payload", "to_server", "established", "wirelen",
                 "flow")


def decode(data, linktype):
    """Returns a Pkt or None when the packet is not analysable IP."""
    p = Pkt()
    p.vlan = []
    off = 0
    if linktype == 1:
        if len(data) < 14:
            return None
        et = struct.unpack("!H", data[12:14])[0]
        off = 14
        while et in (0x8100, 0x88A8, 0x9100):
            if len(data) < off + 4:
                return None
            tci, et = struct.unpack("!HH", data[off:off + 4])
            p.vlan.append(tci & 0x0FFF)
            off += 4
    elif linktype == 113:
        if len(data) < 16:
            return None
        et = struct.unpack("!H", data[14:16])[0]
        off = 16
    elif linktype == 276:
        if len(data) < 20:
            return None
        et = struct.unpack("!H", data[0:2])[0]
        off = 20
    elif linktype in (101, 12, 14, 228, 229):
        et = 0x0800 if (data[0] >> 4) == 4 else 0x86DD
    else:
        return None
    l3 = data[off:]
    if et == 0x0800:
        if len(l3) < 20:
            return None
        ihl = (l3[0] & 0x0F) * 4
        tl = struct.unpack("!H", l3[2:4])[0]
        fl = struct.unpack("!H", l3[6:8])[0]
        if fl & 0x3FFF:
            return None  # fragments are not analysed
        proto = l3[9]
        p.src = ipaddress.ip_address(l3[12:16])
        p.dst = ipaddress.ip_address(l3[16:20])
        l4 = l3[ihl:tl]
    elif et == 0x86DD:
        if len(l3) < 40:
            return None
        plen = struct.unpack("!H", l3[4:6])[0]
        nh = l3[6]
        p.src = ipaddress.ip_address(l3[8:24])
        p.dst = ipaddress.ip_address(l3[24:40])
        rest = l3[40:40 + plen]
        while nh in (0, 43, 60, 44):
            if nh == 44:
                if struct.unpack("!H", rest[2:4])[0] & 0xFFF9:
                    return None
                nh, rest = rest[0], rest[8:]
            else:
                ln = (rest[1] + 1) * 8
                nh, rest = rest[0], rest[ln:]
        proto = nh
        l4 = rest
    else:
        return None
    p.proto = proto
    p.sport = p.dport = None
    p.tcp_flags = 0
    p.icmp_type = p.icmp_code = None
    if proto == 6:
        if len(l4) < 20:
            return None
        p.sport, p.dport = struct.unpack("!HH", l4[:4])
        p.tcp_flags = l4[13]
        p.payload = l4[(l4[12] >> 4) * 4:]
    elif proto == 17:
        p.sport, p.dport = struct.unpack("!HH", l4[:4])
        p.payload = l4[8:]
    elif proto in (1, 58):
        p.icmp_type, p.icmp_code = l4[0], l4[1]
        p.payload = l4[8:] if len(l4) >= 8 else b""
    else:
        p.payload = l4
    return p


class Flow:
    def __init__(self, client, server, proto, vlan):
        self.client, self.server, self.proto, self.vlan = client, server, proto, vlan
        self.pkts = [0, 0]
        self.bytes = [0, 0]
        self.flags = [0, 0]
        self.syn = self.synack = self.established = False
        self.first = self.last = None


def run(capture, rules):
    """Decodes capture, tracks flows and matches rules. Returns (alerts, flows) with
    alerts as dicts and flows as a list of Flow."""
    lt, pkts = read_capture(capture)
    flows = {}
    order = []
    alerts = []
    seen = []
    for num, (ts, data, orig) in enumerate(pkts, 1):
        p = decode(data, lt)
        if p is None:
            continue
        p.num, p.ts, p.wirelen = num, ts, orig
        a = (p.src, p.sport)
        b = (p.dst, p.dport)
        key = (p.proto, tuple(p.vlan)) + tuple(sorted([a, b], key=lambda x: (x[0].version,
                                                                                int(x[0]), x[1] or 0)))
        f = flows.get(key)
        if f is None:
            if p.proto == 6 and p.tcp_flags & 0x12 == 0x12:
                f = Flow(b, a, p.proto, p.vlan)
            else:
                f = Flow(a, b, p.proto, p.vlan)
            flows[key] = f
            order.append(f)
            f.first = ts
        f.last = ts
        p.to_server = a == f.client
        d = 0 if p.to_server else 1
        f.pkts[d] += 1
        f.bytes[d] += orig
        f.flags[d] |= p.tcp_flags
        if p.proto == 6:
            fl = p.tcp_flags
            if fl & 0x02 and not fl & 0x10 and p.to_server:
                f.syn = True
            elif fl & 0x12 == 0x12 and not p.to_server and f.syn:
                f.synack = True
            elif fl & 0x10 and p.to_server and f.synack:
                f.established = True
        elif f.pkts[0] and f.pkts[1]:
            f.established = True
        p.established = f.established
        seen.append((num, key, p.to_server, p.tcp_flags))
        for r in rules:
            if rule_matches(r, p):
                alerts.append({"sid": r.sid, "pcap_cnt": num, "src_ip": str(p.src),
                               "src_port": p.sport, "dest_ip": str(p.dst), "dest_port": p.dport,
                               "proto": p.proto, "vlan": list(p.vlan),
                               "_key": key, "_to_server": p.to_server,
                               "_stream": p.proto == 6 and _stream_rule(r)})
    # vigil matches content rules on the reassembled TCP stream, which releases
    # bytes when the receiver acknowledges them: such an alert carries the
    # number of the first later packet of the flow going the other way with ACK
    # set (or the data packet itself when the capture never shows that side).
    # data_pcap_cnt keeps the number of the packet that carried the bytes.
    for a in alerts:
        key, to_server, stream = a.pop("_key"), a.pop("_to_server"), a.pop("_stream")
        a["data_pcap_cnt"] = a["pcap_cnt"]
        if not stream:
            continue
        for num, k, ts, flags in seen:
            if num > a["pcap_cnt"] and k == key and ts != to_server and flags & 0x10:
                a["pcap_cnt"] = num
                break
    return alerts, order


def _stream_rule(r):
    """True for rules vigil matches on the reassembled stream: tcp or ip rules with a
    positive content and no dsize (tcp-pkt rules stay packet rules)."""
    if r.proto not in ("tcp", "ip"):
        return False
    if r.dsize is not None:
        return False
    return any(not c["neg"] for c in r.contents)


def main(argv):
    if "--" not in argv:
        print(__doc__)
        return 2
    i = argv.index("--")
    rules, errors = load_rules(argv[:i])
    for e in errors:
        print(e, file=sys.stderr)
    for cap in argv[i + 1:]:
        alerts, flows = run(cap, rules)
        for a in alerts:
            print("%s sid=%d pcap_cnt=%d %s:%s -> %s:%s vlan=%s" % (
                cap, a["sid"], a["pcap_cnt"], a["src_ip"], a["src_port"], a["dest_ip"],
                a["dest_port"], a["vlan"]))
        print("%s: %d alerts, %d flows" % (cap, len(alerts), len(flows)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
