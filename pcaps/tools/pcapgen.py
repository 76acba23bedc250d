"""pcapgen: build packet captures deterministically, with the standard library only.

Used by the scripts that make vigil's test and demo captures. Everything here is a
pure function of its arguments: no clock, no randomness, so a script that uses it
writes byte-identical files on every run.

What it builds:
  * link layers: Ethernet (with 802.1Q / 802.1ad QinQ tags), Linux cooked SLL and SLL2,
    raw IP;
  * IPv4 (options, fragments), IPv6 (hop-by-hop, destination options, routing and
    fragment extension headers); ipv4_fragments() and ipv6_fragments() cut a datagram
    into fragments;
  * TCP (options), UDP, ICMP, ICMPv6, all with correct checksums unless a test asks
    for a wrong one;
  * tunnel headers: MPLS, GRE (key, sequence), ERSPAN II and III, VXLAN, Geneve,
    Teredo (origin indication), PPPoE session;
  * flows: TcpSession (3-way handshake, data both ways with correct seq/ack, MSS
    splitting, FIN close or RST; segment() places a segment at any stream offset, for
    out-of-order, overlapping, lost and retransmitted data, split handshakes and data
    on a SYN), UdpFlow, IcmpEchoFlow; each keeps the packet and
    byte counters a flow record should report (bytes = on-wire frame lengths);
  * application payloads: HTTP/1.1 requests and responses, DNS queries and responses
    (A, AAAA, CNAME, with name compression), TLS ClientHello / ServerHello records;
  * files: classic pcap (microsecond or nanosecond) and pcapng (SHB, IDB, EPB).

Packet times start at BASE_TIME_US (2025-10-15T12:00:00Z) and move forward by the
fixed gaps the caller gives.
"""

import hashlib
import ipaddress
import struct

__all__ = [
    "BASE_TIME_US", "LINKTYPE_ETHERNET", "LINKTYPE_RAW", "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2", "ETH_P_IP", "ETH_P_IPV6", "ETH_P_8021Q", "ETH_P_8021AD",
    "Capture", "EthernetLink", "SllLink", "Sll2Link", "RawLink",
    "TcpSession", "UdpFlow", "IcmpEchoFlow",
    "checksum", "mac", "ethernet", "sll", "sll2", "ipv4", "ipv6", "ip", "tcp", "udp",
    "icmp", "icmpv6", "tcp_options", "ipv6_options", "ipv6_opt_padn", "ipv6_opt_router_alert",
    "http_request", "http_response", "dns_query", "dns_response",
    "tls_record", "tls_client_hello", "tls_server_hello", "tls_change_cipher_spec",
    "tls_application_data", "det_bytes", "det32",
    "ipv4_fragments", "ipv6_fragments",
    "ETH_P_MPLS", "ETH_P_PPPOE_DISC", "ETH_P_PPPOE_SESS", "ETH_P_TEB", "ETH_P_ERSPAN2",
    "ETH_P_ERSPAN3", "IPPROTO_IPIP", "IPPROTO_IPV6", "IPPROTO_GRE",
    "mpls", "gre", "erspan2", "erspan3", "vxlan", "geneve", "geneve_option", "teredo",
    "pppoe_session", "pppoe_discovery", "udp_nocsum",
]

BASE_TIME_US = 1760529600 * 1000000  # 2025-10-15T12:00:00Z

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276

ETH_P_IP = 0x0800
ETH_P_ARP = 0x0806
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_IPV6 = 0x86DD

IPPROTO_HOPOPTS = 0
IPPROTO_ICMP = 1
IPPROTO_TCP = 6
IPPROTO_UDP = 17
IPPROTO_ROUTING = 43
IPPROTO_FRAGMENT = 44
IPPROTO_ICMPV6 = 58
IPPROTO_NONE = 59
IPPROTO_DSTOPTS = 60

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20


# ---------------------------------------------------------------------------
# deterministic helpers

def det_bytes(label, n):
    """n pseudo-random bytes that depend only on label (SHA-256 in counter mode)."""
    if isinstance(label, str):
        label = label.encode()
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(label + struct.pack(">I", counter)).digest()
        counter += 1
    return bytes(out[:n])


def det32(label):
    """A 32-bit number that depends only on label."""
    return struct.unpack(">I", det_bytes(label, 4))[0]


# ---------------------------------------------------------------------------
# checksums and addresses

def checksum(data):
    """Internet checksum (RFC 1071) of data, as an int ready to store."""
    if len(data) % 2:
        data += b"\x00"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def _addr(a):
    return ipaddress.ip_address(a)


def _family(a):
    return _addr(a).version


def _pseudo_header(src, dst, proto, length):
    s, d = _addr(src), _addr(dst)
    if s.version == 4:
        return s.packed + d.packed + struct.pack("!BBH", 0, proto, length)
    return s.packed + d.packed + struct.pack("!IxxxB", length, proto)


def mac(s):
    """'02:00:5e:10:00:01' -> 6 bytes."""
    b = bytes(int(x, 16) for x in s.split(":"))
    if len(b) != 6:
        raise ValueError("bad MAC " + s)
    return b


# ---------------------------------------------------------------------------
# link layers

def ethernet(dst, src, ethertype, payload, vlans=(), pad=True):
    """An Ethernet II frame (no FCS). vlans: outermost first, each an int VLAN id
    (tagged 802.1Q) or a tuple (tpid, vid) or (tpid, vid, pcp). pad: pad to the
    60-byte minimum as a frame on the wire would be."""
    hdr = mac(dst) + mac(src)
    for v in vlans:
        if isinstance(v, int):
            tpid, vid, pcp = ETH_P_8021Q, v, 0
        elif len(v) == 2:
            tpid, vid, pcp = v[0], v[1], 0
        else:
            tpid, vid, pcp = v
        hdr += struct.pack("!HH", tpid, (pcp << 13) | (vid & 0x0FFF))
    frame = hdr + struct.pack("!H", ethertype) + payload
    if pad and len(frame) < 60:
        frame += b"\x00" * (60 - len(frame))
    return frame


def sll(payload, protocol, pkttype=0, hatype=1, addr=b""):
    """Linux cooked capture v1 header (16 bytes) + payload. pkttype 0 = to us,
    4 = outgoing."""
    a = addr[:8]
    return struct.pack("!HHH", pkttype, hatype, len(a)) + a.ljust(8, b"\x00") + \
        struct.pack("!H", protocol) + payload


def sll2(payload, protocol, ifindex=2, hatype=1, pkttype=0, addr=b""):
    """Linux cooked capture v2 header (20 bytes) + payload."""
    a = addr[:8]
    return struct.pack("!HHIHBB", protocol, 0, ifindex, hatype, pkttype, len(a)) + \
        a.ljust(8, b"\x00") + payload


# ---------------------------------------------------------------------------
# IP

def ipv4(src, dst, proto, payload, ttl=64, ident=0, df=True, mf=False, frag_offset=0,
         tos=0, options=b"", total_length=None, bad_checksum=False):
    """An IPv4 datagram. frag_offset is in bytes (must be a multiple of 8)."""
    if len(options) % 4:
        options += b"\x00" * (4 - len(options) % 4)
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | ((frag_offset // 8) & 0x1FFF)
    tl = total_length if total_length is not None else ihl * 4 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, tos, tl, ident & 0xFFFF, flags, ttl, proto,
                      0, _addr(src).packed, _addr(dst).packed) + options
    c = checksum(hdr)
    if bad_checksum:
        c ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv6_opt_padn(n):
    """An option area filler of n bytes (Pad1 when n == 1)."""
    if n == 0:
        return b""
    if n == 1:
        return b"\x00"
    return bytes([1, n - 2]) + b"\x00" * (n - 2)


def ipv6_opt_router_alert(value=0):
    return struct.pack("!BBH", 5, 2, value)


def ipv6_options(*opts):
    """Concatenates TLV options and pads them so that, with the 2-byte extension
    header prefix, the header is a multiple of 8 bytes."""
    body = b"".join(opts)
    rem = (len(body) + 2) % 8
    if rem:
        body += ipv6_opt_padn(8 - rem)
    return body


def ipv6(src, dst, nh, payload, hlim=64, tc=0, flow_label=0, ext=()):
    """An IPv6 packet. ext: extension headers in order, each (type, body) where body
    is what follows the next-header and length bytes (for type 44, the 6 bytes
    after the next-header and reserved bytes). Types 0, 43, 60 get their length byte
    computed; bodies must make the header a multiple of 8 bytes."""
    chain = b""
    types = [t for t, _ in ext] + [nh]
    for i, (t, body) in enumerate(ext):
        nxt = types[i + 1]
        if t == IPPROTO_FRAGMENT:
            if len(body) != 6:
                raise ValueError("fragment header body must be 6 bytes")
            chain += bytes([nxt, 0]) + body
        else:
            total = 2 + len(body)
            if total % 8:
                raise ValueError("extension header %d not a multiple of 8 bytes" % t)
            chain += bytes([nxt, total // 8 - 1]) + body
    first = types[0]
    plen = len(chain) + len(payload)
    hdr = struct.pack("!IHBB", (6 << 28) | ((tc & 0xFF) << 20) | (flow_label & 0xFFFFF), plen,
                      first, hlim) + _addr(src).packed + _addr(dst).packed
    return hdr + chain + payload


def _split_sizes(n, sizes):
    """Cuts n bytes at the given sizes (each a positive multiple of 8); the last
    piece takes the rest. Returns (offset, length) pairs."""
    out, off = [], 0
    for size in sizes:
        if size <= 0 or size % 8:
            raise ValueError("fragment data sizes must be positive multiples of 8")
        if off + size >= n:
            raise ValueError("fragment sizes leave nothing for the last fragment")
        out.append((off, size))
        off += size
    out.append((off, n - off))
    return out


def ipv4_fragments(packet, sizes):
    """Splits an IPv4 datagram (bytes, as ipv4() builds them) into fragments. sizes:
    the data bytes of every fragment but the last (multiples of 8); the last one
    takes the rest. Each fragment repeats the header, options included, with its
    total length, offset, MF and checksum; DF is cleared. Returns the fragments in
    datagram order."""
    ihl = (packet[0] & 0x0F) * 4
    data = packet[ihl:]
    out = []
    parts = _split_sizes(len(data), sizes)
    for i, (off, n) in enumerate(parts):
        h = bytearray(packet[:ihl])
        mf = 0x2000 if i < len(parts) - 1 else 0
        struct.pack_into("!HHHH", h, 2, ihl + n, struct.unpack("!H", packet[4:6])[0],
                         mf | (off // 8), struct.unpack("!H", packet[8:10])[0])
        struct.pack_into("!H", h, 10, 0)
        struct.pack_into("!H", h, 10, checksum(bytes(h)))
        out.append(bytes(h) + data[off:off + n])
    return out


def ipv6_fragments(packet, sizes, ident):
    """Splits an IPv6 packet (as ipv6() builds it) into fragments (RFC 8200). The
    per-fragment part (the IPv6 header and the extension headers up to the last
    hop-by-hop or routing header) is repeated, then a fragment header with
    identification ident, then the fragment's share of the rest. sizes as for
    ipv4_fragments(). Returns the fragments in datagram order."""
    t, off = packet[6], 40  # the type of the header at off
    unfrag_end, unfrag_nh_at = 40, 6
    while t in (IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS):
        ln = (packet[off + 1] + 1) * 8
        if t in (IPPROTO_HOPOPTS, IPPROTO_ROUTING):
            unfrag_end, unfrag_nh_at = off + ln, off
        t, off = packet[off], off + ln
    per = bytearray(packet[:unfrag_end])
    first_nh = per[unfrag_nh_at]
    per[unfrag_nh_at] = IPPROTO_FRAGMENT
    data = packet[unfrag_end:]
    out = []
    parts = _split_sizes(len(data), sizes)
    for i, (foff, n) in enumerate(parts):
        more = 1 if i < len(parts) - 1 else 0
        frag = bytes(per) + struct.pack("!BBHI", first_nh, 0, foff | more, ident & 0xFFFFFFFF) + \
            data[foff:foff + n]
        out.append(frag[:4] + struct.pack("!H", len(frag) - 40) + frag[6:])
    return out


def ip(src, dst, proto, payload, **kw):
    """IPv4 or IPv6 by the address family of src. Keyword arguments that do not
    apply to the family are ignored."""
    if _family(src) == 4:
        allowed = ("ttl", "ident", "df", "mf", "frag_offset", "tos", "options", "bad_checksum")
        return ipv4(src, dst, proto, payload, **{k: v for k, v in kw.items() if k in allowed})
    kw6 = {}
    if "ttl" in kw:
        kw6["hlim"] = kw["ttl"]
    for k in ("hlim", "tc", "flow_label", "ext"):
        if k in kw:
            kw6[k] = kw[k]
    return ipv6(src, dst, proto, payload, **kw6)


def ethertype_of(src):
    return ETH_P_IP if _family(src) == 4 else ETH_P_IPV6


# ---------------------------------------------------------------------------
# tunnels: each function returns its header followed by payload

ETH_P_MPLS = 0x8847
ETH_P_PPPOE_DISC = 0x8863
ETH_P_PPPOE_SESS = 0x8864
ETH_P_TEB = 0x6558  # transparent Ethernet bridging
ETH_P_ERSPAN2 = 0x88BE  # also ERSPAN type I (GRE without sequence number)
ETH_P_ERSPAN3 = 0x22EB
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
IPPROTO_GRE = 47


def mpls(labels, payload, ttl=64, tc=0):
    """An MPLS label stack (RFC 3032), outermost label first, bottom of stack set on
    the last."""
    out = b""
    for i, label in enumerate(labels):
        bos = 1 if i == len(labels) - 1 else 0
        out += struct.pack("!I", (label << 12) | (tc << 9) | (bos << 8) | ttl)
    return out + payload


def gre(proto, payload, key=None, seq=None, with_checksum=False):
    """GRE version 0 (RFC 2784, key and sequence number of RFC 2890)."""
    flags = (0x8000 if with_checksum else 0) | (0x2000 if key is not None else 0) | \
        (0x1000 if seq is not None else 0)
    opt = b""
    if with_checksum:
        opt += b"\x00\x00\x00\x00"
    if key is not None:
        opt += struct.pack("!I", key)
    if seq is not None:
        opt += struct.pack("!I", seq)
    hdr = struct.pack("!HH", flags, proto) + opt
    if with_checksum:
        c = checksum(hdr + payload)
        hdr = hdr[:4] + struct.pack("!H", c) + hdr[6:]
    return hdr + payload


def erspan2(session, payload, vlan=0, cos=0, encap=0, index=0):
    """ERSPAN type II header (version 1, 8 bytes); GRE protocol 0x88BE with a
    sequence number carries it."""
    return struct.pack("!HHI", (1 << 12) | (vlan & 0xFFF),
                       (cos << 13) | (encap << 11) | (session & 0x3FF), index & 0xFFFFF) + payload


def erspan3(session, payload, vlan=0, timestamp=0, sgt=0, frame_type=0, hw_id=1,
            subheader=None):
    """ERSPAN type III header (version 2, 12 bytes), with the 8-byte
    platform-specific sub-header when subheader is given (the O bit); GRE protocol
    0x22EB carries it. frame_type 0 = Ethernet, 2 = IP."""
    o = 1 if subheader is not None else 0
    word = ((frame_type & 0x1F) << 10) | ((hw_id & 0x3F) << 4) | (3 << 1) | o
    hdr = struct.pack("!HHIHH", (2 << 12) | (vlan & 0xFFF), session & 0x3FF,
                      timestamp & 0xFFFFFFFF, sgt, word)
    if subheader is not None:
        if len(subheader) != 8:
            raise ValueError("ERSPAN III sub-header is 8 bytes")
        hdr += subheader
    return hdr + payload


def vxlan(vni, payload, flags=0x08):
    """VXLAN header (RFC 7348): the I flag and a 24-bit VNI."""
    return struct.pack("!B3xI", flags, (vni & 0xFFFFFF) << 8) + payload


def geneve_option(opt_class, opt_type, data):
    """One Geneve option TLV; data is padded to a multiple of 4 bytes."""
    if len(data) % 4:
        data += b"\x00" * (4 - len(data) % 4)
    return struct.pack("!HBB", opt_class, opt_type, len(data) // 4) + data


def geneve(vni, proto, payload, options=b""):
    """Geneve header (RFC 8926), version 0; proto 0x6558 (Ethernet) or an
    ethertype."""
    if len(options) % 4:
        raise ValueError("Geneve options must be a multiple of 4 bytes")
    return struct.pack("!BBHI", len(options) // 4, 0, proto, (vni & 0xFFFFFF) << 8) + \
        options + payload


def teredo(ipv6_packet, origin=None):
    """A Teredo UDP payload (RFC 4380): an optional origin indication (port,
    IPv4 address: both stored obfuscated) before the IPv6 packet."""
    if origin is None:
        return ipv6_packet
    port, addr = origin
    return struct.pack("!HH", 0, port ^ 0xFFFF) + \
        bytes(b ^ 0xFF for b in _addr(addr).packed) + ipv6_packet


def pppoe_session(session, ppp_proto, payload):
    """PPPoE session stage header (RFC 2516) with the PPP protocol field."""
    return struct.pack("!BBHHH", 0x11, 0, session, len(payload) + 2, ppp_proto) + payload


def pppoe_discovery(code, session=0, tags=b""):
    """A PPPoE discovery packet (PADI 0x09, PADO 0x07, PADR 0x19, PADS 0x65)."""
    return struct.pack("!BBHH", 0x11, code, session, len(tags)) + tags


def udp_nocsum(sport, dport, payload):
    """UDP over IPv4 without a checksum (zero), as tunnel endpoints send it."""
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


# ---------------------------------------------------------------------------
# L4

def tcp_options(mss=None, sack_ok=False, wscale=None, timestamps=None, nop_align=True):
    """TCP options in the common SYN layout: MSS, SACK-permitted, timestamps,
    window scale, padded with NOPs to a multiple of 4."""
    o = b""
    if mss is not None:
        o += struct.pack("!BBH", 2, 4, mss)
    if sack_ok and timestamps is not None:
        o += struct.pack("!BB", 4, 2) + struct.pack("!BBII", 8, 10, timestamps[0], timestamps[1])
    else:
        if sack_ok:
            o += b"\x01\x01\x04\x02"
        if timestamps is not None:
            o += b"\x01\x01" + struct.pack("!BBII", 8, 10, timestamps[0], timestamps[1])
    if wscale is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, wscale)
    if nop_align and len(o) % 4:
        o += b"\x01" * (4 - len(o) % 4)
    return o


def tcp(src, dst, sport, dport, seq, ack, flags, payload=b"", window=64240, options=b"",
        urg_ptr=0, bad_checksum=False):
    """A TCP segment with its checksum over the pseudo-header of src/dst."""
    if len(options) % 4:
        options += b"\x00" * (4 - len(options) % 4)
    off = (20 + len(options)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                      flags, window, 0, urg_ptr) + options
    seg = hdr + payload
    c = checksum(_pseudo_header(src, dst, IPPROTO_TCP, len(seg)) + seg)
    if bad_checksum:
        c ^= 0x5A5A
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, bad_checksum=False):
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = checksum(_pseudo_header(src, dst, IPPROTO_UDP, length) + seg)
    if c == 0:
        c = 0xFFFF
    if bad_checksum:
        c ^= 0x5A5A
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp(itype, code, body, bad_checksum=False):
    """An ICMPv4 message; body is everything after the checksum (identifier,
    sequence and data for echo)."""
    msg = struct.pack("!BBH", itype, code, 0) + body
    c = checksum(msg)
    if bad_checksum:
        c ^= 0x5A5A
    return msg[:2] + struct.pack("!H", c) + msg[4:]


def icmpv6(src, dst, itype, code, body, bad_checksum=False):
    msg = struct.pack("!BBH", itype, code, 0) + body
    c = checksum(_pseudo_header(src, dst, IPPROTO_ICMPV6, len(msg)) + msg)
    if bad_checksum:
        c ^= 0x5A5A
    return msg[:2] + struct.pack("!H", c) + msg[4:]


# ---------------------------------------------------------------------------
# capture files

class Capture:
    """An ordered list of packets with their times, written as pcap or pcapng.

    now is the current packet time in microseconds; add() stamps a packet with it
    after moving it forward by gap_us. Packet numbers (pcap_cnt) start at 1."""

    def __init__(self, linktype=LINKTYPE_ETHERNET, base_us=BASE_TIME_US, snaplen=65535):
        self.linktype = linktype
        self.snaplen = snaplen
        self.now = base_us
        self.packets = []  # (ts_us, data, orig_len)

    def advance(self, us):
        self.now += us

    def add(self, frame, gap_us=0, orig_len=None):
        """Appends a frame; returns its 1-based packet number."""
        self.now += gap_us
        data = frame[:self.snaplen]
        self.packets.append((self.now, data, len(frame) if orig_len is None else orig_len))
        return len(self.packets)

    def total_bytes(self):
        return sum(p[2] for p in self.packets)

    # -- classic pcap
    def pcap_bytes(self, nanosecond=False):
        magic = 0xA1B23C4D if nanosecond else 0xA1B2C3D4
        out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, self.snaplen, self.linktype)]
        for ts, data, orig in self.packets:
            sec, us = divmod(ts, 1000000)
            frac = us * 1000 if nanosecond else us
            out.append(struct.pack("<IIII", sec, frac, len(data), orig))
            out.append(data)
        return b"".join(out)

    def write_pcap(self, path, nanosecond=False):
        with open(path, "wb") as f:
            f.write(self.pcap_bytes(nanosecond))

    # -- pcapng
    @staticmethod
    def _ng_option(code, value):
        pad = (4 - len(value) % 4) % 4
        return struct.pack("<HH", code, len(value)) + value + b"\x00" * pad

    @staticmethod
    def _ng_block(btype, body):
        total = 12 + len(body)
        return struct.pack("<II", btype, total) + body + struct.pack("<I", total)

    def pcapng_bytes(self, if_name="eth0", userappl="vigil pcapgen"):
        opt_end = struct.pack("<HH", 0, 0)
        shb = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1) + \
            self._ng_option(4, userappl.encode()) + opt_end
        idb = struct.pack("<HHI", self.linktype, 0, self.snaplen) + \
            self._ng_option(2, if_name.encode()) + self._ng_option(9, b"\x06") + opt_end
        out = [self._ng_block(0x0A0D0D0A, shb), self._ng_block(1, idb)]
        for ts, data, orig in self.packets:
            pad = (4 - len(data) % 4) % 4
            body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(data), orig) + \
                data + b"\x00" * pad
            out.append(self._ng_block(6, body))
        return b"".join(out)

    def write_pcapng(self, path, **kw):
        with open(path, "wb") as f:
            f.write(self.pcapng_bytes(**kw))


# ---------------------------------------------------------------------------
# links: how an L3 packet becomes a frame, per direction

class EthernetLink:
    """Ethernet between a client and a server MAC, optionally VLAN-tagged."""

    def __init__(self, client_mac="02:00:00:00:00:01", server_mac="02:00:00:00:00:02",
                 vlans=(), pad=True):
        self.client_mac, self.server_mac, self.vlans, self.pad = client_mac, server_mac, vlans, pad

    def frame(self, l3, ethertype, to_server):
        if to_server:
            return ethernet(self.server_mac, self.client_mac, ethertype, l3, self.vlans, self.pad)
        return ethernet(self.client_mac, self.server_mac, ethertype, l3, self.vlans, self.pad)

    def vlan_ids(self):
        return [v if isinstance(v, int) else v[1] for v in self.vlans]


class SllLink:
    """Linux cooked v1, captured on the server: client packets are 'to us' (0),
    server packets 'outgoing' (4)."""

    def __init__(self, client_mac="02:00:00:00:00:01", server_mac="02:00:00:00:00:02"):
        self.client_mac, self.server_mac = client_mac, server_mac

    def frame(self, l3, ethertype, to_server):
        if to_server:
            return sll(l3, ethertype, pkttype=0, addr=mac(self.client_mac))
        return sll(l3, ethertype, pkttype=4, addr=mac(self.server_mac))

    def vlan_ids(self):
        return []


class Sll2Link(SllLink):
    def frame(self, l3, ethertype, to_server):
        if to_server:
            return sll2(l3, ethertype, pkttype=0, addr=mac(self.client_mac))
        return sll2(l3, ethertype, pkttype=4, addr=mac(self.server_mac))


class RawLink:
    """LINKTYPE_RAW: the frame is the IP packet."""

    def frame(self, l3, ethertype, to_server):
        return l3

    def vlan_ids(self):
        return []


# ---------------------------------------------------------------------------
# flows

class _Flow:
    """Shared bookkeeping: counters as a flow record reports them (client = the
    side that sent the first packet) and the packet numbers of each packet."""

    proto_name = "?"

    def __init__(self, cap, link, client, server, name):
        self.cap, self.link = cap, link
        self.client, self.server = client, server  # (ip, port)
        self.name = name
        self.pkts = [0, 0]  # toserver, toclient
        self.bytes = [0, 0]
        self.pcap_cnts = []
        self.first_ts = None
        self.last_ts = None
        self.ip_kw = [{}, {}]  # extra ip() keywords per direction (client, server)
        self._ipid = [det32(name + "/ipid/c") & 0x7FFF, det32(name + "/ipid/s") & 0x7FFF]

    def _emit(self, l3, to_server, gap_us):
        frame = self.link.frame(l3, ethertype_of(self.client[0]), to_server)
        n = self.cap.add(frame, gap_us)
        d = 0 if to_server else 1
        self.pkts[d] += 1
        self.bytes[d] += len(frame)
        self.pcap_cnts.append(n)
        if self.first_ts is None:
            self.first_ts = self.cap.now
        self.last_ts = self.cap.now
        return n

    def _ip(self, to_server, proto, l4, **kw):
        d = 0 if to_server else 1
        src, dst = (self.client[0], self.server[0]) if to_server else (self.server[0], self.client[0])
        opts = dict(self.ip_kw[d])
        opts.update(kw)
        opts.setdefault("ident", self._ipid[d])
        self._ipid[d] = (self._ipid[d] + 1) & 0xFFFF
        return ip(src, dst, proto, l4, **opts)

    def info(self):
        """The facts a flow record for this flow should show."""
        return {
            "name": self.name,
            "proto": self.proto_name,
            "src_ip": str(_addr(self.client[0])),
            "src_port": self.client[1],
            "dest_ip": str(_addr(self.server[0])),
            "dest_port": self.server[1],
            "vlan": self.link.vlan_ids(),
            "pkts_toserver": self.pkts[0],
            "pkts_toclient": self.pkts[1],
            "bytes_toserver": self.bytes[0],
            "bytes_toclient": self.bytes[1],
            "first_pcap_cnt": self.pcap_cnts[0] if self.pcap_cnts else None,
            "last_pcap_cnt": self.pcap_cnts[-1] if self.pcap_cnts else None,
            "start_us": self.first_ts,
            "end_us": self.last_ts,
        }


class TcpSession(_Flow):
    """A TCP connection between client (ip, port) and server (ip, port).

    Typical use:
        s = TcpSession(cap, link, ("10.0.0.1", 40000), ("10.0.0.2", 80), "web-1")
        s.handshake()
        n = s.send(request)           # client -> server, one segment when it fits
        s.send(response, from_client=False)
        s.close()

    Every send ends with the receiver's ACK unless ack=False; a send from the side
    that just received carries the pending ACK in its own segments."""

    proto_name = "TCP"

    def __init__(self, cap, link, client, server, name, mss=1460, window=64240,
                 client_ttl=64, server_ttl=64, rtt_us=800, gap_us=120):
        super().__init__(cap, link, client, server, name)
        self.mss = mss
        self.window = window
        self.ttl = [client_ttl, server_ttl]
        self.rtt_us = rtt_us
        self.gap_us = gap_us
        self.isn = [det32(name + "/isn/c"), det32(name + "/isn/s")]
        self.nxt = [self.isn[0], self.isn[1]]  # next seq to send, per side
        self.flags_seen = [0, 0]
        self.closed = False
        self.wscale = 0  # set by handshake(options=True)

    def _seg(self, from_client, flags, payload=b"", options=b"", gap_us=None, bad_checksum=False,
             seq=None, ack=None):
        d = 0 if from_client else 1
        o = 1 - d
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        s = self.nxt[d] if seq is None else seq
        a = self.nxt[o] if ack is None else ack
        if not flags & TCP_ACK and ack is None:
            a = 0
        win = self.window if flags & TCP_SYN else self.window >> self.wscale
        seg = tcp(src[0], dst[0], src[1], dst[1], s, a, flags, payload, win, options,
                  bad_checksum=bad_checksum)
        l3 = self._ip(from_client, IPPROTO_TCP, seg, ttl=self.ttl[d])
        n = self._emit(l3, from_client, self.gap_us if gap_us is None else gap_us)
        if seq is None:
            adv = len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
            self.nxt[d] = (self.nxt[d] + adv) & 0xFFFFFFFF
        self.flags_seen[d] |= flags
        return n

    def handshake(self, options=True, drop_syn=False):
        """SYN, SYN+ACK, ACK. Returns the packet numbers. drop_syn: the SYN is not
        captured (the sequence numbers are as if it had been), so the capture starts
        with the server's SYN+ACK."""
        opt_c = tcp_options(mss=self.mss, sack_ok=True, wscale=7) if options else b""
        opt_s = tcp_options(mss=self.mss, sack_ok=True, wscale=7) if options else b""
        if drop_syn:
            self.cap.advance(self.gap_us)
            self.nxt[0] = (self.nxt[0] + 1) & 0xFFFFFFFF
            a = None
        else:
            a = self._seg(True, TCP_SYN, options=opt_c, gap_us=self.gap_us)
        b = self._seg(False, TCP_SYN | TCP_ACK, options=opt_s, gap_us=self.rtt_us // 2)
        self.wscale = 7 if options else 0
        c = self._seg(True, TCP_ACK, gap_us=self.rtt_us // 2)
        return [n for n in (a, b, c) if n is not None]

    def send(self, data, from_client=True, ack=True, segment_size=None, gap_us=None,
             bad_checksum=False, think_us=0):
        """Sends data in segments of at most segment_size (default MSS) bytes, PSH on
        the last. Returns the packet numbers of the data segments. think_us is added
        before the first segment (server processing time)."""
        size = segment_size or self.mss
        nums = []
        chunks = [data[i:i + size] for i in range(0, len(data), size)] or [b""]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            flags = TCP_ACK | (TCP_PSH if last else 0)
            g = (self.gap_us if gap_us is None else gap_us) + (think_us if i == 0 else 0)
            nums.append(self._seg(from_client, flags, chunk, gap_us=g, bad_checksum=bad_checksum))
        if ack:
            self._seg(not from_client, TCP_ACK, gap_us=self.rtt_us // 2)
        return nums

    def ack(self, from_client=True, gap_us=None):
        return self._seg(from_client, TCP_ACK, gap_us=gap_us)

    def stream_seq(self, from_client, offset):
        """Sequence number of byte `offset` of one side's stream: offset 0 is the byte
        after its SYN, -1 the SYN itself."""
        d = 0 if from_client else 1
        return (self.isn[d] + 1 + offset) & 0xFFFFFFFF

    def set_isn(self, from_client, isn):
        """Chooses one side's initial sequence number (before it sends anything)."""
        d = 0 if from_client else 1
        self.isn[d] = self.nxt[d] = isn & 0xFFFFFFFF

    def segment(self, from_client, payload=b"", offset=None, ack_offset=None,
                flags=TCP_ACK | TCP_PSH, gap_us=None):
        """One segment with chosen numbers, for captures that exercise stream
        reassembly (out-of-order, overlapping, retransmitted or lost segments, split
        handshakes, data on a SYN): payload at stream offset `offset` of the sender
        (default: its next byte), acknowledging the other side's stream up to
        `ack_offset` (default: everything it sent; ignored without TCP_ACK). The
        sender's next byte moves forward when the segment ends beyond it. Returns the
        packet number."""
        d = 0 if from_client else 1
        seq = None if offset is None else self.stream_seq(from_client, offset)
        ack = None if ack_offset is None else self.stream_seq(not from_client, ack_offset)
        if not flags & TCP_ACK:
            ack = 0
        n = self._seg(from_client, flags, payload, gap_us=gap_us, seq=seq, ack=ack)
        if seq is not None:
            end = (seq + len(payload) + (1 if flags & (TCP_SYN | TCP_FIN) else 0)) & 0xFFFFFFFF
            if 0 < ((end - self.nxt[d]) & 0xFFFFFFFF) < 0x80000000:
                self.nxt[d] = end
        return n

    def close(self, from_client=True):
        """FIN+ACK from one side, FIN+ACK back, last ACK."""
        self._seg(from_client, TCP_FIN | TCP_ACK)
        self._seg(not from_client, TCP_FIN | TCP_ACK, gap_us=self.rtt_us // 2)
        self._seg(from_client, TCP_ACK, gap_us=self.rtt_us // 2)
        self.closed = True

    def reset(self, from_client=True):
        self._seg(from_client, TCP_RST | TCP_ACK)
        self.closed = True

    def info(self):
        i = super().info()
        i["tcp_flags_ts"] = self.flags_seen[0]
        i["tcp_flags_tc"] = self.flags_seen[1]
        i["tcp_flags"] = self.flags_seen[0] | self.flags_seen[1]
        return i


class UdpFlow(_Flow):
    proto_name = "UDP"

    def send(self, payload, from_client=True, gap_us=200, bad_checksum=False):
        src, dst = (self.client, self.server) if from_client else (self.server, self.client)
        seg = udp(src[0], dst[0], src[1], dst[1], payload, bad_checksum=bad_checksum)
        return self._emit(self._ip(from_client, IPPROTO_UDP, seg), from_client, gap_us)


class IcmpEchoFlow(_Flow):
    """Echo request / reply pairs (ICMP or ICMPv6 by address family). client and
    server are (ip, None)."""

    def __init__(self, cap, link, client, server, name, ident=0x1234):
        super().__init__(cap, link, (client[0], 0), (server[0], 0), name)
        self.ident = ident
        self.v6 = _family(client[0]) == 6
        self.proto_name = "IPv6-ICMP" if self.v6 else "ICMP"

    def ping(self, seq, data=b"", gap_us=1000, rtt_us=600):
        out = []
        for to_server in (True, False):
            src, dst = (self.client[0], self.server[0]) if to_server else (self.server[0], self.client[0])
            body = struct.pack("!HH", self.ident, seq) + data
            if self.v6:
                msg = icmpv6(src, dst, 128 if to_server else 129, 0, body)
                l3 = self._ip(to_server, IPPROTO_ICMPV6, msg)
            else:
                msg = icmp(8 if to_server else 0, 0, body)
                l3 = self._ip(to_server, IPPROTO_ICMP, msg)
            out.append(self._emit(l3, to_server, gap_us if to_server else rtt_us))
        return out

    def info(self):
        i = super().info()
        i["src_port"] = None
        i["dest_port"] = None
        return i


# ---------------------------------------------------------------------------
# HTTP

def _hdr_block(headers):
    return b"".join(_b(k) + b": " + _b(v) + b"\r\n" for k, v in headers)


def _b(x):
    return x if isinstance(x, bytes) else str(x).encode("latin-1")


def _has(headers, name):
    return any(_b(k).lower() == name.lower() for k, _ in headers)


def http_request(method, target, host=None, headers=(), body=b"", version="HTTP/1.1",
                 content_length=True):
    """An HTTP/1.x request. headers: ordered (name, value) pairs; Host comes first
    when given. A body gets a Content-Length unless one, or a Transfer-Encoding,
    is already in headers (or content_length is False)."""
    hs = []
    if host is not None:
        hs.append(("Host", host))
    hs.extend(headers)
    body = _b(body)
    if body and content_length and not _has(hs, b"content-length") and \
            not _has(hs, b"transfer-encoding"):
        hs.append(("Content-Length", str(len(body))))
    return _b(method) + b" " + _b(target) + b" " + _b(version) + b"\r\n" + _hdr_block(hs) + \
        b"\r\n" + body


def http_response(status, reason, headers=(), body=b"", version="HTTP/1.1",
                  content_length=True):
    hs = list(headers)
    body = _b(body)
    if content_length and not _has(hs, b"content-length") and \
            not _has(hs, b"transfer-encoding"):
        hs.append(("Content-Length", str(len(body))))
    return _b(version) + b" " + _b(status) + b" " + _b(reason) + b"\r\n" + _hdr_block(hs) + \
        b"\r\n" + body


# ---------------------------------------------------------------------------
# DNS

DNS_TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


class _DnsMsg:
    def __init__(self, compress=True):
        self.buf = bytearray()
        self.names = {}
        self.compress = compress

    def name(self, name):
        labels = [l for l in name.rstrip(".").split(".") if l]
        for i in range(len(labels)):
            suffix = ".".join(labels[i:]).lower()
            if self.compress and suffix in self.names:
                self.buf += struct.pack("!H", 0xC000 | self.names[suffix])
                return
            if len(self.buf) < 0x3FFF:
                self.names.setdefault(suffix, len(self.buf))
            lab = labels[i].encode("ascii")
            self.buf += bytes([len(lab)]) + lab
        self.buf += b"\x00"


def _dns_type(t):
    return DNS_TYPES[t] if isinstance(t, str) else t


def dns_query(qid, qname, qtype="A", rd=True):
    m = _DnsMsg()
    m.buf += struct.pack("!HHHHHH", qid, 0x0100 if rd else 0, 1, 0, 0, 0)
    m.name(qname)
    m.buf += struct.pack("!HH", _dns_type(qtype), 1)
    return bytes(m.buf)


def dns_response(qid, qname, qtype="A", answers=(), rcode=0, rd=True, ra=True, aa=False):
    """answers: (name, type, ttl, value) with value an address for A/AAAA and a
    name for CNAME/NS/PTR (raw bytes for other types)."""
    m = _DnsMsg()
    flags = 0x8000 | (0x0400 if aa else 0) | (0x0100 if rd else 0) | (0x0080 if ra else 0) | rcode
    m.buf += struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0)
    m.name(qname)
    m.buf += struct.pack("!HH", _dns_type(qtype), 1)
    for name, rtype, ttl, value in answers:
        t = _dns_type(rtype)
        m.name(name)
        m.buf += struct.pack("!HHI", t, 1, ttl)
        len_at = len(m.buf)
        m.buf += b"\x00\x00"
        if t in (1, 28):
            m.buf += _addr(value).packed
        elif t in (2, 5, 12):
            m.name(value)
        else:
            m.buf += value
        rdlen = len(m.buf) - len_at - 2
        m.buf[len_at:len_at + 2] = struct.pack("!H", rdlen)
    return bytes(m.buf)


# ---------------------------------------------------------------------------
# TLS

TLS_CIPHERS_MODERN = (
    0x1301, 0x1302, 0x1303,  # TLS 1.3 AES-128-GCM, AES-256-GCM, CHACHA20
    0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8,
    0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035,
)
TLS_GROUPS = (0x001D, 0x0017, 0x0018)  # x25519, secp256r1, secp384r1
TLS_SIG_ALGS = (0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601)


def tls_record(content_type, payload, version=0x0303):
    return struct.pack("!BHH", content_type, version, len(payload)) + payload


def _ext(etype, data):
    return struct.pack("!HH", etype, len(data)) + data


def _vec8(b):
    return bytes([len(b)]) + b


def _vec16(b):
    return struct.pack("!H", len(b)) + b


def tls_client_hello(sni=None, random=None, session_id=None, ciphers=TLS_CIPHERS_MODERN,
                     alpn=("h2", "http/1.1"), versions=(0x0304, 0x0303), groups=TLS_GROUPS,
                     sig_algs=TLS_SIG_ALGS, key_share=None, extra_extensions=(),
                     record_version=0x0301, label="client-hello"):
    """A ClientHello in one TLS record. random/session_id/key_share default to
    deterministic bytes derived from label. extra_extensions: (type, data) pairs
    appended after the standard ones."""
    random = random if random is not None else det_bytes(label + "/random", 32)
    session_id = session_id if session_id is not None else det_bytes(label + "/sid", 32)
    key_share = key_share if key_share is not None else det_bytes(label + "/x25519", 32)
    exts = b""
    if sni is not None:
        name = sni.encode("ascii")
        exts += _ext(0, _vec16(b"\x00" + _vec16(name)))
    exts += _ext(23, b"")                                       # extended_master_secret
    exts += _ext(0xFF01, b"\x00")                               # renegotiation_info
    exts += _ext(10, _vec16(b"".join(struct.pack("!H", g) for g in groups)))
    exts += _ext(11, _vec8(b"\x00"))                            # ec_point_formats
    exts += _ext(35, b"")                                       # session_ticket
    if alpn:
        exts += _ext(16, _vec16(b"".join(_vec8(p.encode()) for p in alpn)))
    exts += _ext(5, b"\x01\x00\x00\x00\x00")                    # status_request
    exts += _ext(13, _vec16(b"".join(struct.pack("!H", s) for s in sig_algs)))
    if 0x0304 in versions:
        exts += _ext(51, _vec16(struct.pack("!HH", 0x001D, len(key_share)) + key_share))
        exts += _ext(45, _vec8(b"\x01"))                        # psk_key_exchange_modes
        exts += _ext(43, _vec8(b"".join(struct.pack("!H", v) for v in versions)))
    for t, d in extra_extensions:
        exts += _ext(t, d)
    body = struct.pack("!H", 0x0303) + random + _vec8(session_id) + \
        _vec16(b"".join(struct.pack("!H", c) for c in ciphers)) + _vec8(b"\x00") + _vec16(exts)
    hs = struct.pack("!B", 1) + struct.pack("!I", len(body))[1:] + body
    return tls_record(22, hs, record_version)


def tls_server_hello(cipher=0x1301, random=None, session_id=None, version=0x0304,
                     key_share=None, alpn=None, label="server-hello"):
    """A ServerHello in one record. version 0x0304 gives a TLS 1.3 hello
    (supported_versions + key_share; ALPN would be encrypted); 0x0303 a TLS 1.2
    hello that may carry ALPN."""
    random = random if random is not None else det_bytes(label + "/random", 32)
    session_id = session_id if session_id is not None else det_bytes(label + "/sid", 32)
    exts = b""
    if version == 0x0304:
        ks = key_share if key_share is not None else det_bytes(label + "/x25519", 32)
        exts += _ext(51, struct.pack("!HH", 0x001D, len(ks)) + ks)
        exts += _ext(43, struct.pack("!H", 0x0304))
    else:
        exts += _ext(0xFF01, b"\x00") + _ext(23, b"") + _ext(11, _vec8(b"\x00"))
        if alpn:
            exts += _ext(16, _vec16(_vec8(alpn.encode())))
    body = struct.pack("!H", 0x0303) + random + _vec8(session_id) + struct.pack("!HB", cipher, 0) + \
        _vec16(exts)
    hs = struct.pack("!B", 2) + struct.pack("!I", len(body))[1:] + body
    return tls_record(22, hs, 0x0303)


def tls_certificate(ders, version=0x0303):
    """A Certificate handshake message (TLS 1.2 layout) carrying the DER
    certificates given, in one record."""
    chain = b"".join(struct.pack("!I", len(c))[1:] + c for c in ders)
    body = struct.pack("!I", len(chain))[1:] + chain
    hs = struct.pack("!B", 11) + struct.pack("!I", len(body))[1:] + body
    return tls_record(22, hs, version)


def tls_server_hello_done(version=0x0303):
    return tls_record(22, b"\x0e\x00\x00\x00", version)


def tls_change_cipher_spec():
    return tls_record(20, b"\x01")


def tls_application_data(length, label):
    """An opaque application_data record of length bytes (as TLS 1.3 sends its
    encrypted handshake and data)."""
    return tls_record(23, det_bytes(label, length))
