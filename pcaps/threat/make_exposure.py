#!/usr/bin/env python3
"""Writes pcaps/threat/exposure/: one capture per case for the management-plane exposure
rules (sids 8400200-8400299) and the BIGipServer cookie leak (8400300-8400399) of
signatures/rules/bigip-exposure.rules, expected.json (the schema of
tests/pcap/run_threat.py) and README.md (what each capture holds).

Every rule has a capture that fires it with an exact count (scanners send several requests:
the threshold keeps one alert per source and hour) and a near miss: the same request from
an internal host or an admin, a server that is not an appliance, a port that refuses, a
public or encrypted cookie. HTTP to the management plane is cleartext on 443, as a sensor
behind an SSL-decrypting tap sees it.

Deterministic: run it twice, get the same bytes.   python3 pcaps/threat/make_exposure.py
"""

import base64
import ipaddress
import os
import struct
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "pcaps", "tools"))
sys.path.insert(0, HERE)

import pcapgen as pg  # noqa: E402
import estate  # noqa: E402
from estate import (ADMIN, ATTACKER, ATTACKER2, BIGIP_MGMT, BIGIP_SELF_EXT, BIGIP_VIP,  # noqa: E402
                    EXT_CLIENT, INTERNAL_CLIENT, POOL_MEMBER)

OUT = os.path.join(HERE, "exposure")

MGMT_ACCESS_SID = estate.MGMT_ACCESS_SID
reaches_mgmt_port = estate.reaches_mgmt_port
EXT_CLIENT2 = "198.51.100.140"    # a second ordinary internet client
UA_SCAN = "Mozilla/5.0 (compatible; scanner/2.1)"
UA_BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


class Case:
    def __init__(self, name, kind, covers, alerts, description, wire):
        self.name, self.kind, self.covers = name, kind, covers
        self.alerts, self.description, self.wire = alerts, description, wire
        self.cap = pg.Capture()
        self.mgmt_access = 0  # connections the detector 8490003 alerts on
        self.link = pg.EthernetLink()
        self.port = 52000

    def session(self, client, server_ip, server_port=443, handshake=True):
        self.port += 1
        if reaches_mgmt_port(client, server_ip, server_port):
            self.mgmt_access += 1
        s = pg.TcpSession(self.cap, self.link, (client, self.port), (server_ip, server_port),
                          "%s/%d" % (self.name, self.port))
        if handshake:
            s.handshake()
        return s


def exchange(s, req, rsp, segment_size=None):
    s.send(req, ack=False, segment_size=segment_size)
    s.send(rsp, from_client=False, think_us=1500)


def get(path, host, ua=UA_SCAN, headers=()):
    return pg.http_request("GET", path, host, [("User-Agent", ua), ("Accept", "*/*")] +
                           list(headers))


def html(status, reason, body, headers=()):
    return pg.http_response(status, reason, [("Content-Type", "text/html; charset=utf-8")] +
                            list(headers), body)


def rest_401(client):
    return pg.http_response(401, "F5 Authorization Required",
                            [("Content-Type", "application/json; charset=UTF-8"),
                             ("WWW-Authenticate", 'Basic realm="Enterprise Manager"')],
                            '{"code":401,"message":"Authorization failed: no user '
                            'authentication header or token detected. Uri:http://localhost:8100'
                            '/mgmt/shared/authn/login Referrer:%s Sender:%s",'
                            '"referer":"%s","restOperationId":5061327,'
                            '"kind":":resterrorresponse"}' % (client, client, client))


TMUI_LOGIN = (b"<html><head><title>BIG-IP&reg;- bigip1.example.net (10.1.1.245)</title></head>"
              b"<body><form method=\"POST\" action=\"/tmui/logmein.html\">"
              b"<input name=\"username\"><input name=\"passwd\" type=\"password\"></form>"
              b"</body></html>")
REDIRECT_PAGE = (b"<html><head><title>BIG-IP&reg;- Redirect</title>"
                 b"<meta http-equiv=\"refresh\" content=\"0;url=/tmui/login.jsp\"></head>"
                 b"<body>Redirecting to <a href=\"/tmui/login.jsp\">the Configuration utility"
                 b"</a></body></html>")
SOAP_GET_VERSION = (b'<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv='
                    b'"http://schemas.xmlsoap.org/soap/envelope/" xmlns:urn="urn:iControl:'
                    b'System/SystemInfo"><soapenv:Body><urn:get_version/></soapenv:Body>'
                    b'</soapenv:Envelope>')
SOAP_RSP = (b'<?xml version="1.0" encoding="UTF-8"?><SOAP-ENV:Envelope xmlns:SOAP-ENV='
            b'"http://schemas.xmlsoap.org/soap/envelope/"><SOAP-ENV:Body><m:get_versionResponse '
            b'xmlns:m="urn:iControl:System/SystemInfo"><return>BIG-IP_v17.1.1</return>'
            b'</m:get_versionResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>')


def soap_post(host, client_auth):
    return pg.http_request("POST", "/iControl/iControlPortal.cgi", host,
                           [("User-Agent", "bigsuds/1.0.6"), ("Content-Type", "text/xml; "
                             "charset=utf-8"), ("SOAPAction", '"urn:iControl:System/SystemInfo"'),
                            ("Authorization", "Basic " + base64.b64encode(client_auth).decode())],
                           SOAP_GET_VERSION)


def ssh_session(c, client, server_ip, client_banner=b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n"):
    s = c.session(client, server_ip, 22)
    s.send(b"SSH-2.0-OpenSSH_7.4\r\n", from_client=False, ack=False)
    s.send(client_banner)
    s.close()


def tls_session(c, client, server_ip, port, sni=None):
    s = c.session(client, server_ip, port)
    s.send(pg.tls_client_hello(sni=sni), ack=False)
    s.send(pg.tls_server_hello(label="%s/%d" % (c.name, c.port)), from_client=False)
    s.close()


def bigip_cookie_v4(ip, port):
    """Format A of K6917: the address as a little-endian uint32, the port byte-swapped."""
    a = struct.unpack("<I", ipaddress.IPv4Address(ip).packed)[0]
    p = struct.unpack("<H", struct.pack(">H", port))[0]
    return "%d.%d.0000" % (a, p)


def page_with_cookie(cookie):
    return html(200, "OK", b"<html><head><title>Customer portal</title></head><body>Welcome"
                b"</body></html>", [("Set-Cookie", cookie + "; path=/; Httponly; Secure")])


# ---------------------------------------------------------------------------

CASES = []


def case(name, kind, covers, alerts, description, wire):
    def wrap(fn):
        c = Case(name, kind, covers, alerts, description, wire)
        fn(c)
        if c.mgmt_access:
            c.alerts = dict(c.alerts, **{MGMT_ACCESS_SID: c.mgmt_access})
            c.description += (" The behaviour detector 8490003 (management port reached from "
                              "outside the admin networks) alerts once per such connection.")
        CASES.append(c)
        return fn
    return wrap


@case("tmui-external", "fire", [8400200], {"8400200": 1, "8400206": 1},
      "An internet scanner opens the TMUI login page of the management address, fetches it "
      "again with the path in upper case, then probes /hsqldb on a second connection: one "
      "alert for the source (threshold), and the management port's SYN+ACK to it (8400206).",
      "ATTACKER -> mgmt:443 GET /tmui/login.jsp, GET /TMUI/login.jsp (200 login page); "
      "second connection GET /hsqldb/ (404)")
def _(c):
    s = c.session(ATTACKER, BIGIP_MGMT)
    exchange(s, get("/tmui/login.jsp", BIGIP_MGMT), html(200, "OK", TMUI_LOGIN))
    exchange(s, get("/TMUI/login.jsp", BIGIP_MGMT), html(200, "OK", TMUI_LOGIN))
    s.close()
    s = c.session(ATTACKER, BIGIP_MGMT)
    exchange(s, get("/hsqldb/", BIGIP_MGMT), html(404, "Not Found", b"Not Found"))
    s.close()


@case("tmui-external-self-ip", "fire", [8400200], {"8400200": 1, "8400206": 1},
      "TMUI reached on the external self IP (port lockdown letting 443 through) with the path "
      "percent-encoded (/%74mui/login.jsp); the request is split over two segments.",
      "ATTACKER2 -> self-ext:443 GET /%74mui/login.jsp (2 segments), 200 login page")
def _(c):
    s = c.session(ATTACKER2, BIGIP_SELF_EXT)
    exchange(s, get("/%74mui/login.jsp", BIGIP_SELF_EXT), html(200, "OK", TMUI_LOGIN),
             segment_size=40)
    s.close()


@case("tmui-internal-and-vip", "miss", [8400200], {},
      "Near miss: an internal host opens TMUI on the management address, and an internet "
      "client asks a virtual server (not an appliance address) for /tmui/ and gets the "
      "application's 404.",
      "INTERNAL_CLIENT -> mgmt:443 GET /tmui/login.jsp; EXT_CLIENT -> vip:443 GET /tmui/")
def _(c):
    s = c.session(INTERNAL_CLIENT, BIGIP_MGMT)
    exchange(s, get("/tmui/login.jsp", BIGIP_MGMT, UA_BROWSER), html(200, "OK", TMUI_LOGIN))
    s.close()
    s = c.session(EXT_CLIENT, BIGIP_VIP)
    exchange(s, get("/tmui/", "portal.example.com", UA_BROWSER),
             html(404, "Not Found", b"<html><body>Page not found</body></html>"))
    s.close()


@case("rest-external-401", "fire", [8400201, 8400203],
      {"8400201": 1, "8400203": 1, "8400206": 1},
      "A Shadowserver-style check: GET /mgmt/shared/authn/login from the internet, twice, "
      "and again on a second connection, each answered 401 with a resterrorresponse: one "
      "alert for the request side and one for the replies (thresholds), plus the SYN+ACK.",
      "ATTACKER -> mgmt:443 GET /mgmt/shared/authn/login x2 (401 resterrorresponse); second "
      "connection GET /mgmt/tm/sys/version (401)")
def _(c):
    for paths in (["/mgmt/shared/authn/login", "/mgmt/shared/authn/login"],
                  ["/mgmt/tm/sys/version"]):
        s = c.session(ATTACKER, BIGIP_MGMT)
        for p in paths:
            exchange(s, get(p, BIGIP_MGMT), rest_401(ATTACKER))
        s.close()


@case("rest-internal-401", "miss", [8400201, 8400203], {},
      "Near miss: the same 401 resterrorresponse to an internal host.",
      "INTERNAL_CLIENT -> mgmt:443 GET /mgmt/shared/authn/login, 401 resterrorresponse")
def _(c):
    s = c.session(INTERNAL_CLIENT, BIGIP_MGMT)
    exchange(s, get("/mgmt/shared/authn/login", BIGIP_MGMT), rest_401(INTERNAL_CLIENT))
    s.close()


@case("rest-external-not-bigip", "miss", [8400201, 8400203], {},
      "Near miss: an internet client asks an ordinary web server (not an appliance) for "
      "/mgmt/ and gets that server's own 404; and an external client gets a 401 with "
      "resterrorresponse from an appliance without having sent an iControl REST request "
      "(no flowbit: a login page of a virtual server's application on the self IP).",
      "EXT_CLIENT -> pool member:443 GET /mgmt/ (404); EXT_CLIENT -> self-ext:8443 "
      "GET /app/login (401 with resterrorresponse in the body)")
def _(c):
    s = c.session(EXT_CLIENT, POOL_MEMBER)
    exchange(s, get("/mgmt/", "www.example.com", UA_BROWSER),
             html(404, "Not Found", b"<html><body>No such page: /mgmt/</body></html>"))
    s.close()
    s = c.session(EXT_CLIENT, BIGIP_SELF_EXT, 8080)
    exchange(s, get("/app/login", "app.example.com", UA_BROWSER), rest_401(EXT_CLIENT))
    s.close()


@case("soap-external", "fire", [8400202], {"8400202": 1, "8400206": 1},
      "An iControl SOAP client on the internet calls System.SystemInfo.get_version on the "
      "management address (text/xml, as real SOAP clients send: not the CVE-2022-41622 CSRF "
      "shape).",
      "ATTACKER -> mgmt:443 POST /iControl/iControlPortal.cgi (text/xml get_version), 200")
def _(c):
    s = c.session(ATTACKER, BIGIP_MGMT)
    exchange(s, soap_post(BIGIP_MGMT, b"admin:admin"), pg.http_response(
        200, "OK", [("Content-Type", "text/xml; charset=utf-8")], SOAP_RSP))
    s.close()


@case("soap-internal", "miss", [8400202], {},
      "Near miss: the admin's SOAP script from the admin network.",
      "ADMIN -> mgmt:443 POST /iControl/iControlPortal.cgi (text/xml get_version), 200")
def _(c):
    s = c.session(ADMIN, BIGIP_MGMT)
    exchange(s, soap_post(BIGIP_MGMT, b"netadmin:c0rrect-h0rse"), pg.http_response(
        200, "OK", [("Content-Type", "text/xml; charset=utf-8")], SOAP_RSP))
    s.close()


@case("redirect-external", "fire", [8400204], {"8400204": 1, "8400206": 1},
      "The management landing page \"BIG-IP&reg;- Redirect\" served to an internet client "
      "by the external self IP, twice: one alert for the server (threshold).",
      "ATTACKER2 -> self-ext:443 GET / x2, 200 BIG-IP&reg;- Redirect page")
def _(c):
    s = c.session(ATTACKER2, BIGIP_SELF_EXT)
    exchange(s, get("/", BIGIP_SELF_EXT), html(200, "OK", REDIRECT_PAGE))
    exchange(s, get("/", BIGIP_SELF_EXT), html(200, "OK", REDIRECT_PAGE))
    s.close()


@case("redirect-admin", "miss", [8400204], {},
      "Near miss: the same page to the admin's browser.",
      "ADMIN -> mgmt:443 GET /, 200 BIG-IP&reg;- Redirect page")
def _(c):
    s = c.session(ADMIN, BIGIP_MGMT)
    exchange(s, get("/", BIGIP_MGMT, UA_BROWSER), html(200, "OK", REDIRECT_PAGE))
    s.close()


@case("ssh-nonadmin", "fire", [8400205], {"8400205": 2},
      "Two SSH sessions to the management address from an internal host outside the admin "
      "networks: one alert per session.",
      "INTERNAL_CLIENT -> mgmt:22 SSH banners, twice")
def _(c):
    ssh_session(c, INTERNAL_CLIENT, BIGIP_MGMT)
    ssh_session(c, INTERNAL_CLIENT, BIGIP_MGMT, b"SSH-2.0-PuTTY_Release_0.81\r\n")


@case("ssh-external", "fire", [8400205, 8400206], {"8400205": 1, "8400206": 1},
      "An SSH session to the external self IP from the internet: the session and the SYN+ACK "
      "of the management port.",
      "ATTACKER -> self-ext:22 SSH banners")
def _(c):
    ssh_session(c, ATTACKER, BIGIP_SELF_EXT, b"SSH-2.0-Go\r\n")


@case("ssh-admin", "miss", [8400205], {},
      "Near miss: SSH from the admin workstation.",
      "ADMIN -> mgmt:22 SSH banners")
def _(c):
    ssh_session(c, ADMIN, BIGIP_MGMT)


@case("mgmt-port-tls-external", "fire", [8400206], {"8400206": 1},
      "Encrypted TLS (no decryption) from the internet to the management address on 443 and "
      "8443: one alert for the external host (threshold), no HTTP visible.",
      "ATTACKER2 -> mgmt:443 and mgmt:8443 TLS ClientHello / ServerHello")
def _(c):
    tls_session(c, ATTACKER2, BIGIP_MGMT, 443)
    tls_session(c, ATTACKER2, BIGIP_MGMT, 8443)


@case("mgmt-port-refused-or-internal", "miss", [8400206], {},
      "Near miss: the management port refuses an internet host (RST), an internal host's TLS "
      "session is accepted, and an internet client's TLS to a virtual server (not an "
      "appliance) is accepted.",
      "ATTACKER -> mgmt:443 SYN, RST+ACK; INTERNAL_CLIENT -> mgmt:443 TLS; EXT_CLIENT -> "
      "vip:443 TLS")
def _(c):
    s = c.session(ATTACKER, BIGIP_MGMT, 443, handshake=False)
    s.segment(True, b"", flags=pg.TCP_SYN)
    s.segment(False, b"", flags=pg.TCP_RST | pg.TCP_ACK)
    tls_session(c, INTERNAL_CLIENT, BIGIP_MGMT, 443)
    tls_session(c, EXT_CLIENT, BIGIP_VIP, 443, sni="portal.example.com")


PRIVATE_COOKIE = "BIGipServerpool_portal_https=" + bigip_cookie_v4(POOL_MEMBER, 443)


@case("cookie-private-external", "fire", [8400300], {"8400300": 1},
      "A virtual server sets BIGipServerpool_portal_https=%s (pool member %s:443) for two "
      "internet clients, and a route-domain cookie with a private member "
      "(rd2o...ffff0a011e51o443, %s) for one of them: one alert for the server "
      "(threshold)." % (bigip_cookie_v4(POOL_MEMBER, 443), POOL_MEMBER, "10.1.30.81"),
      "EXT_CLIENT, EXT_CLIENT2 -> vip:443 GET /, 200 with Set-Cookie BIGipServer... (private "
      "members)")
def _(c):
    s = c.session(EXT_CLIENT, BIGIP_VIP)
    exchange(s, get("/", "portal.example.com", UA_BROWSER), page_with_cookie(PRIVATE_COOKIE))
    exchange(s, get("/login", "portal.example.com", UA_BROWSER), page_with_cookie(
        "BIGipServerpool_api=rd2o00000000000000000000ffff0a011e51o443"))
    s.close()
    s = c.session(EXT_CLIENT2, BIGIP_VIP)
    exchange(s, get("/", "portal.example.com", UA_BROWSER), page_with_cookie(PRIVATE_COOKIE),
             segment_size=60)
    s.close()


@case("cookie-public-encrypted-internal", "miss", [8400300], {},
      "Near miss: a cookie whose member is a public address (192.0.2.1 in route domain 5), an "
      "encrypted cookie (!base64), both to an internet client, and the private-member cookie "
      "to an internal client (the parser still records it: EVE anomaly "
      "BIGIP_COOKIE_PRIVATE_MEMBER, no alert).",
      "EXT_CLIENT -> vip:443 GET / (Set-Cookie rd5o...c0000201o80), GET /a (Set-Cookie "
      "!Kx3n...); INTERNAL_CLIENT -> vip:443 GET / (private member cookie)")
def _(c):
    s = c.session(EXT_CLIENT, BIGIP_VIP)
    exchange(s, get("/", "portal.example.com", UA_BROWSER), page_with_cookie(
        "BIGipServerpool_edge=rd5o00000000000000000000ffffc0000201o80"))
    exchange(s, get("/a", "portal.example.com", UA_BROWSER), page_with_cookie(
        "BIGipServerpool_portal_https=!Kx3n7YbQm2p8Z0vR5tW1uA=="))
    s.close()
    s = c.session(INTERNAL_CLIENT, BIGIP_VIP)
    exchange(s, get("/", "portal.example.com", UA_BROWSER), page_with_cookie(PRIVATE_COOKIE))
    s.close()


# ---------------------------------------------------------------------------

README_HEAD = """\
# Management-plane exposure and the BIGipServer cookie leak: test captures

Written by `pcaps/threat/make_exposure.py` (deterministic); run by
`tests/pcap/run_threat.py -k exposure/` with the shipped rules and `pcaps/estate.yaml`.
The rules are in `signatures/rules/bigip-exposure.rules` (exposure 8400200-8400299, leaks
8400300-8400399).

HTTP to the management plane is cleartext on port 443, as a sensor behind an
SSL-decrypting tap sees it; the SSH and SYN+ACK rules need no decryption and the TLS cases
carry only handshakes. Addresses come from `pcaps/threat/estate.py`: management address
10.1.1.245 (`mgmt`), external self IP 10.1.20.2 (`self-ext`), the virtual server 10.1.20.10
(`vip`, not an appliance address) and its pool member 10.1.30.80, ADMIN 10.1.5.10 (admin
network), INTERNAL_CLIENT 10.1.50.21, EXT_CLIENT 198.51.100.23 and 198.51.100.140 (ordinary
internet clients), ATTACKER 203.0.113.66 and ATTACKER2 198.51.100.77.

Every capture from the internet to an appliance's management port also raises 8400206 (the
port accepted a connection from outside), once per external host: it is listed.

The behaviour detector 8490003 (`signatures/rules/bigip-behaviour.rules`: a management
port of an appliance reached from outside the admin networks) alerts once per such
connection, on its first packet; the expected alerts list it.

| case | kind | on the wire | expected alerts |
|---|---|---|---|
"""


def main():
    os.makedirs(OUT, exist_ok=True)
    estate.write_family(OUT, "exposure", CASES, README_HEAD)


if __name__ == "__main__":
    main()
