#!/usr/bin/env python3
"""Seeds the decoder fuzz corpus with every distinct frame of the project's
classic pcap captures: one file per frame, first byte = the harness's link
type selector (see fuzz_decode.c), then the frame bytes."""
import hashlib
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "decode")
# link type -> selector index in fuzz_decode.c's table
SELECTOR = {1: 0, 101: 1, 113: 2, 276: 3, 0: 4, 228: 5, 229: 6, 12: 7}


def frames(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
        endian = ">"
    else:
        return
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0xFFFF
    if linktype not in SELECTOR:
        return
    off = 24
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        if off + caplen > len(data):
            return
        yield SELECTOR[linktype], data[off:off + caplen]
        off += caplen


def main():
    os.makedirs(OUT, exist_ok=True)
    seen = 0
    for sub in ("pcaps/demo", "pcaps/tests"):
        d = os.path.join(ROOT, sub)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".pcap"):
                continue
            for sel, frame in frames(os.path.join(d, name)):
                blob = bytes([sel]) + frame
                h = hashlib.sha1(blob).hexdigest()[:16]
                with open(os.path.join(OUT, h), "wb") as f:
                    f.write(blob)
                seen += 1
    print("wrote %d frames to %s" % (seen, OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
