#!/usr/bin/env python3
"""Writes the application-layer captures of pcaps/app/ and their expectations
(expected.json), for tests/pcap/run_app.py with tests/pcap/rules/app.rules.

Each capture isolates one thing the HTTP, TLS, DNS and SSH parsers must get right on the
wire: pipelined requests with a chunked gzip response, the request shapes BIG-IP exploits
rely on (CVE-2023-46747's Transfer-Encoding, CVE-2022-1388's Connection header, request
smuggling signs), URI normalisation (`..;`, percent-encoding), a BIG-IP cookie in every
format, DNS over TCP, a DNS compression loop, an SSH key exchange (HASSH), and a TLS
ClientHello split over two records and two segments. The expected records, alerts and
anomalies are written next to each capture below, from the bytes this script builds.
README.md beside this file describes each capture.

Deterministic: run it twice, get the same bytes.   python3 pcaps/app/make_app_pcaps.py
"""

import gzip
import hashlib
import json
import os
import struct
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402

RULES = "tests/pcap/rules/app.rules"
CLIENT = "10.1.50.21"
EXT = "198.51.100.23"
VIP = "10.1.20.10"
MGMT = "10.1.1.245"
DNS = "10.1.10.53"


def capture():
    return pg.Capture(pg.LINKTYPE_ETHERNET)


def tcp(cap, client, server, name):
    return pg.TcpSession(cap, pg.EthernetLink(), client, server, name)


def gzip_fixed(data):
    """gzip with a fixed header time, so the bytes are the same on every run."""
    return gzip.compress(data, mtime=0)


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


def http_pipelined_gzip():
    cap = capture()
    s = tcp(cap, (CLIENT, 40001), (VIP, 80), "pipelined")
    s.handshake()
    r1 = pg.http_request("GET", "/docs/report.html", "portal.example.com",
                         [("User-Agent", "vigil-test/1.0"), ("Accept-Encoding", "gzip")])
    r2 = pg.http_request("GET", "/docs/..%2fadmin/./panel;jsessionid=1?x=%41", "portal.example.com",
                         [("User-Agent", "vigil-test/1.0")])
    s.send(r1 + r2, ack=False)
    page = b"<html><body>" + b"quarterly figures " * 200 + b"SECRET-MARKER-4711</body></html>"
    packed = gzip_fixed(page)
    body = chunked(packed, 700)
    resp1 = pg.http_response(200, "OK", [("Content-Type", "text/html"),
                                         ("Content-Encoding", "gzip"),
                                         ("Transfer-Encoding", "chunked")], body,
                             content_length=False)
    resp2 = pg.http_response(404, "Not Found", [("Content-Type", "text/plain"),
                                                ("Server", "BigIP")], b"not here")
    s.send(resp1 + resp2, from_client=False, think_us=1500)
    s.close()
    return cap, {
        "alerts": {"9100001": 1, "9100002": 1, "9100003": 1, "9100011": 1},
        "record_counts": {"http": 2},
        "anomalies": [],
        "records": [
            {"event_type": "http", "http__url": "/docs/report.html", "http__status": 200,
             "http__length": len(packed)},
            {"event_type": "http", "http__status": 404,
             "http__url_normalized": "/admin/panel?x=%41", "http__bigip__server_bigip": True},
        ],
        "alert_fields": [
            {"alert__signature_id": 9100001, "http__url": "/docs/report.html",
             "app_proto": "http"},
        ],
    }


def http_exploit_shapes():
    cap = capture()
    # CVE-2023-46747: a Transfer-Encoding that is not exactly "chunked"
    s = tcp(cap, (EXT, 40010), (MGMT, 443 + 0), "te-chunked-chunked")
    s.handshake()
    body = b"5\r\nhello\r\n0\r\n\r\n"
    s.send(pg.http_request("POST", "/tmui/login.jsp", MGMT,
                           [("Transfer-Encoding", "chunked, chunked"),
                            ("Content-Type", "application/x-www-form-urlencoded")], body),
           ack=False)
    s.send(pg.http_response(200, "OK", [("Content-Type", "text/html")], b"ok"), from_client=False)
    s.close()
    # CVE-2022-1388: X-F5-Auth-Token named in Connection
    s = tcp(cap, (EXT, 40011), (MGMT, 443), "connection-token")
    s.handshake()
    s.send(pg.http_request("POST", "/mgmt/tm/util/bash", MGMT,
                           [("Connection", "keep-alive, X-F5-Auth-Token"),
                            ("X-F5-Auth-Token", "a"), ("Authorization", "Basic YWRtaW46"),
                            ("Content-Type", "application/json")],
                           b'{"command":"run","utilCmdArgs":"-c id"}'), ack=False)
    s.send(pg.http_response(200, "OK", [("Content-Type", "application/json")], b"{}"),
           from_client=False)
    s.close()
    # smuggling signs: Content-Length with Transfer-Encoding; two different Content-Lengths
    s = tcp(cap, (EXT, 40012), (VIP, 80), "smuggle")
    s.handshake()
    s.send(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
           b"\r\n0\r\n\r\n", ack=False)
    s.send(pg.http_response(400, "Bad Request", [], b""), from_client=False)
    s.close()
    s = tcp(cap, (EXT, 40013), (VIP, 80), "two-lengths")
    s.handshake()
    s.send(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabc",
           ack=False)
    s.send(pg.http_response(400, "Bad Request", [], b""), from_client=False)
    s.close()
    # CVE-2020-5902 with `..;`: the management class comes from the normalised path
    s = tcp(cap, (EXT, 40014), (MGMT, 443), "dotdot-semicolon")
    s.handshake()
    s.send(pg.http_request("GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp"
                           "?fileName=/etc/passwd", MGMT, [("User-Agent", "curl/8.5.0")]),
           ack=False)
    s.send(pg.http_response(200, "OK", [("Content-Type", "application/json")],
                            b'{"output":"root:x:0:0"}'), from_client=False)
    s.close()
    return cap, {
        "alerts": {"9100004": 1, "9100005": 1},
        "record_counts": {"http": 5},
        "anomalies": ["TRANSFER_ENCODING_NOT_CHUNKED", "CONNECTION_NAMES_END_TO_END_HEADER",
                      "CONTENT_LENGTH_AND_TRANSFER_ENCODING", "DUPLICATE_CONTENT_LENGTH"],
        "records": [
            # Tomcat resolves "..;" as "..": /tmui/login.jsp/..;/tmui/x -> /tmui/tmui/x,
            # which the /tmui context serves as /tmui/x
            {"event_type": "http", "http__url_normalized": "/tmui/tmui/locallb/workspace/"
             "fileRead.jsp?fileName=/etc/passwd", "http__bigip__mgmt": "tmui"},
            {"event_type": "http", "http__url": "/mgmt/tm/util/bash",
             "http__bigip__mgmt": "icontrol_rest", "http__bigip__auth_token_header": True},
        ],
    }


def bigip_cookies():
    cap = capture()
    values = [
        ("BIGipServerpool_a", "1677787402.20480.0000"),
        ("BIGipServerpool_b", "rd5o00000000000000000000ffffc0000201o80"),
        ("BIGipServerpool_c", "vi20010112000000000000000000000030.20480"),
        ("BIGipServerpool_d", "rd3o20010db8000000000000000000000010o8443"),
        ("BIGipServerpool_e", "!Kx3n7YbQm2p8Z0vR5tW1uA=="),
    ]
    headers = [("Content-Type", "text/html")] + \
        [("Set-Cookie", "%s=%s; path=/; Httponly" % nv) for nv in values]
    s = tcp(cap, (EXT, 40020), (VIP, 80), "cookies")
    s.handshake()
    s.send(pg.http_request("GET", "/", "portal.example.com", []), ack=False)
    s.send(pg.http_response(200, "OK", headers, b"hi"), from_client=False)
    s.close()
    return cap, {
        "alerts": {"9100006": 1},
        "record_counts": {"http": 1},
        # pool_a's member 10.1.1.100 is private: the parser flags the response
        "anomalies": ["BIGIP_COOKIE_PRIVATE_MEMBER"],
        "records": [{"event_type": "http", "http__url": "/"}],
        "cookies": [
            {"pool_name": "pool_a", "member_ip": "10.1.1.100", "member_port": 80,
             "route_domain": 0, "format": "ipv4", "private_member": True,
             "cookie_encrypted": False},
            {"pool_name": "pool_b", "member_ip": "192.0.2.1", "member_port": 80,
             "route_domain": 5, "format": "ipv4_rd", "private_member": False,
             "cookie_encrypted": False},
            {"pool_name": "pool_c", "member_ip": "2001:112::30", "member_port": 80,
             "route_domain": 0, "format": "ipv6", "private_member": False,
             "cookie_encrypted": False},
            {"pool_name": "pool_d", "member_ip": "2001:db8::10", "member_port": 8443,
             "route_domain": 3, "format": "ipv6_rd", "private_member": False,
             "cookie_encrypted": False},
            {"pool_name": "pool_e", "format": "encrypted", "cookie_encrypted": True},
        ],
    }


def dns_tcp_and_loop():
    cap = capture()
    s = tcp(cap, (CLIENT, 40030), (DNS, 53), "dns-tcp")
    s.handshake()
    q = pg.dns_query(0x4242, "mgmt.example.net", "TXT")
    s.send(struct.pack("!H", len(q)) + q, ack=False)
    a = pg.dns_response(0x4242, "mgmt.example.net", "TXT",
                        [("mgmt.example.net", "TXT", 120, b"\x0bhello world")])
    s.send(struct.pack("!H", len(a)) + a, from_client=False)
    s.close()
    # a response whose answer name points at itself: a compression loop
    f = pg.UdpFlow(cap, pg.EthernetLink(), (CLIENT, 40031), (DNS, 53), "dns-loop")
    f.send(pg.dns_query(0x5151, "loop.example.net", "A"))
    head = struct.pack("!HHHHHH", 0x5151, 0x8180, 1, 1, 0, 0)
    qname = b"\x04loop\x07example\x03net\x00"
    answer_at = len(head) + len(qname) + 4
    loop = head + qname + struct.pack("!HH", 1, 1) + struct.pack("!H", 0xC000 | answer_at) + \
        struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 0, 0, 1])
    f.send(loop, from_client=False)
    return cap, {
        "alerts": {"9100007": 1},
        "record_counts": {"dns": 4},
        "anomalies": ["INFINITE_LOOP"],
        "records": [
            {"event_type": "dns", "dns__type": "query", "dns__rrname": "mgmt.example.net",
             "dns__rrtype": "TXT", "proto": "TCP"},
            {"event_type": "dns", "dns__type": "answer", "dns__rrname": "mgmt.example.net",
             "proto": "TCP"},
        ],
    }


def ssh_kexinit(lists, cookie_label):
    def namelist(s):
        b = s.encode()
        return struct.pack("!I", len(b)) + b
    payload = b"\x14" + pg.det_bytes(cookie_label, 16) + b"".join(namelist(x) for x in lists) + \
        b"\x00" + struct.pack("!I", 0)
    pad = 8 - ((len(payload) + 5) % 8)
    if pad < 4:
        pad += 8
    return struct.pack("!IB", len(payload) + pad + 1, pad) + payload + b"\x00" * pad


CLIENT_KEX = ["curve25519-sha256,ecdh-sha2-nistp256", "ssh-ed25519,rsa-sha2-512",
              "aes128-ctr,aes256-gcm@openssh.com", "aes128-ctr,aes256-gcm@openssh.com",
              "hmac-sha2-256", "hmac-sha2-256", "none,zlib@openssh.com", "none", "", ""]
SERVER_KEX = ["curve25519-sha256", "rsa-sha2-512", "aes256-gcm@openssh.com,aes128-ctr",
              "aes256-gcm@openssh.com", "hmac-sha2-512", "hmac-sha2-512", "none", "none", "", ""]


def ssh_session():
    cap = capture()
    s = tcp(cap, (EXT, 40040), (MGMT, 22), "ssh")
    s.handshake()
    s.send(b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", from_client=False)
    s.send(b"SSH-2.0-Go\r\n", ack=False)
    s.send(ssh_kexinit(SERVER_KEX, "srv"), from_client=False)
    s.send(ssh_kexinit(CLIENT_KEX, "cli"), ack=False)
    s.send(pg.det_bytes("enc", 96), from_client=False)
    s.close()
    hc = ";".join([CLIENT_KEX[0], CLIENT_KEX[2], CLIENT_KEX[4], CLIENT_KEX[6]])
    hs = ";".join([SERVER_KEX[0], SERVER_KEX[3], SERVER_KEX[5], SERVER_KEX[7]])
    return cap, {
        "alerts": {"9100008": 1},
        "record_counts": {"ssh": 1},
        "anomalies": [],
        "records": [{
            "event_type": "ssh", "ssh__client__software_version": "Go",
            "ssh__client__proto_version": "2.0",
            "ssh__server__software_version": "OpenSSH_9.2p1",
            "ssh__client__hassh__string": hc,
            "ssh__client__hassh__hash": hashlib.md5(hc.encode()).hexdigest(),
            "ssh__server__hassh__string": hs,
            "ssh__server__hassh__hash": hashlib.md5(hs.encode()).hexdigest(),
        }],
    }


def tls_split_hello():
    cap = capture()
    s = tcp(cap, (EXT, 40050), (VIP, 443), "tls-split")
    s.handshake()
    rec = pg.tls_client_hello("split.example.com", alpn=("http/1.1",), label="split")
    hs = rec[5:]
    # the handshake message in two records, the second record over two segments
    r1 = pg.tls_record(22, hs[:60], 0x0301)
    r2 = pg.tls_record(22, hs[60:], 0x0301)
    s.send(r1 + r2[:30], ack=False)
    s.send(r2[30:], ack=True)
    s.send(pg.tls_server_hello(0x1301, label="split/sh") + pg.tls_change_cipher_spec() +
           pg.tls_application_data(900, "split/enc"), from_client=False)
    s.close()
    return cap, {
        "alerts": {"9100009": 1},
        "record_counts": {"tls": 1},
        "anomalies": [],
        "records": [{"event_type": "tls", "tls__sni": "split.example.com",
                     "tls__version": "TLS 1.3"}],
    }


CAPTURES = {
    "http-pipelined-gzip.pcap": http_pipelined_gzip,
    "http-exploit-shapes.pcap": http_exploit_shapes,
    "bigip-cookies.pcap": bigip_cookies,
    "dns-tcp-loop.pcap": dns_tcp_and_loop,
    "ssh-hassh.pcap": ssh_session,
    "tls-split-hello.pcap": tls_split_hello,
}


def main():
    expected = {}
    for name, fn in CAPTURES.items():
        cap, want = fn()
        cap.write_pcap(os.path.join(HERE, name))
        want["rules"] = RULES
        expected[name] = want
        print("%s: %s" % (name, ", ".join("%s=%s" % kv for kv in sorted(want["alerts"].items()))))
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
