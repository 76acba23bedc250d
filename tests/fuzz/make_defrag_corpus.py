#!/usr/bin/env python3
"""Seeds the fragment reassembly fuzz corpus (tests/fuzz/corpus/defrag/) in the
input format of fuzz_defrag.c: one byte choosing the overlap policy, then records
of a 2-byte big-endian length (top bit: move the clock 30 s ahead first) and a raw
IP packet.

Seeds: the IP packets of each capture in pcaps/defrag/ (the flood cut to its first
40 fragments and the attack after it), and Novak's overlap pattern over IPv4 and
IPv6, each under all six policies."""
import hashlib
import os
import struct
import sys

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "defrag")
CAPTURES = os.path.join(ROOT, "pcaps", "defrag")
POLICIES = 6  # enum vg_defrag_policy


def ip_packets(path):
    """The IP packets of a classic little-endian Ethernet pcap, as pcapgen writes."""
    data = open(path, "rb").read()
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack("<IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        et, l2 = struct.unpack("!H", frame[12:14])[0], 14
        while et in (pg.ETH_P_8021Q, pg.ETH_P_8021AD):
            et, l2 = struct.unpack("!H", frame[l2 + 2:l2 + 4])[0], l2 + 4
        if et in (pg.ETH_P_IP, pg.ETH_P_IPV6):
            l3 = frame[l2:]
            if et == pg.ETH_P_IP:
                l3 = l3[:struct.unpack("!H", l3[2:4])[0]]  # no Ethernet padding
            yield l3


def seed(policy, packets):
    return bytes([policy]) + b"".join(struct.pack("!H", len(p)) + p for p in packets)


NOVAK = [("A", 0, 24), ("B", 32, 16), ("C", 48, 24), ("D", 80, 8), ("E", 104, 16),
         ("F", 120, 24), ("G", 144, 16), ("H", 160, 16), ("I", 176, 8), ("J", 8, 32),
         ("K", 48, 24), ("L", 72, 24), ("M", 96, 24), ("N", 128, 8), ("O", 152, 8),
         ("P", 160, 8), ("Q", 176, 16)]


def novak(family):
    out = []
    for i, (c, off, n) in enumerate(NOVAK):
        data, mf = c.encode() * n, i < len(NOVAK) - 1
        if family == 4:
            out.append(pg.ipv4("192.0.2.1", "198.51.100.2", pg.IPPROTO_ICMP, data, ident=7,
                               df=False, mf=mf, frag_offset=off))
        else:
            body = struct.pack("!HI", off | (1 if mf else 0), 7)
            out.append(pg.ipv6("2001:db8::1", "2001:db8::2", pg.IPPROTO_ICMPV6, data,
                               ext=[(pg.IPPROTO_FRAGMENT, body)]))
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = []
    for name in sorted(os.listdir(CAPTURES)):
        if not name.endswith(".pcap"):
            continue
        pkts = list(ip_packets(os.path.join(CAPTURES, name)))
        if name == "frag-flood.pcap":
            pkts = pkts[:40] + pkts[-11:]
        seeds.append(seed(0, pkts))
        if name == "frag-overlap.pcap":
            seeds.extend(seed(p, pkts) for p in range(1, POLICIES))
    for family in (4, 6):
        seeds.extend(seed(p, novak(family)) for p in range(POLICIES))
    for blob in seeds:
        with open(os.path.join(OUT, hashlib.sha1(blob).hexdigest()[:16]), "wb") as f:
            f.write(blob)
    print("wrote %d seeds to %s" % (len(seeds), OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
