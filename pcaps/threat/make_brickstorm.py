#!/usr/bin/env python3
"""Writes the BRICKSTORM / UNC5221 test captures: pcaps/threat/brickstorm/*.pcap and
pcaps/threat/brickstorm/expected.json (the schema of tests/pcap/run_threat.py).

One capture per case: each rule of signatures/rules/brickstorm.rules has a capture that
fires it an exact number of times and a near miss that must stay silent. Addresses come
from estate.py (the estate of pcaps/estate.yaml); the other hosts are ordinary internal
or internet hosts. README.md beside the captures describes each case.

Deterministic: run it twice, get the same bytes.   python3 pcaps/threat/make_brickstorm.py
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
import ipaddress  # noqa: E402

from estate import (BIGIP_MGMT, BIGIP_MGMT2, BIGIP_MGMT6, BIGIP_SELF_EXT,  # noqa: E402
                    BIGIP_SELF_INT, C2_ADDRESSES, DNS_SERVER, EXT_SERVER, IHEALTH,
                    INTERNAL_CLIENT)

OUT = os.path.join(HERE, "brickstorm")
CUSTOMER_LIST = "pcaps/threat/brickstorm/customer-c2-domains.txt"
CUSTOMER_C2 = "sync.vmware-telemetry.example"   # the made-up C2 name of the customer list
VCENTER = "10.1.60.15"                           # an ordinary internal server (a vCenter)
UA_CURL = "curl/8.5.0"
UA_BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36")
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="

# The behaviour detector new-egress (sid 8490002, signatures/rules/bigip-behaviour.rules)
# alerts once per (management address, destination) pair outside BIGIP_EGRESS_ALLOWED of
# pcaps/estate.yaml: a case where bigip1 talks to the internet raises it too, rightly.
NEW_EGRESS_SID = 8490002
MGMT_ADDRESSES = {BIGIP_MGMT, BIGIP_MGMT2, BIGIP_MGMT6}
EGRESS_ALLOWED = [ipaddress.ip_network(n) for n in ("10.1.10.0/24", "198.18.0.10/32",
                                                    "198.18.0.11/32")]


def egress_allowed(addr):
    a = ipaddress.ip_address(addr)
    return any(a.version == n.version and a in n for n in EGRESS_ALLOWED)


class Case:
    """One capture: flows added in order, each with a fixed client port."""

    def __init__(self, name):
        self.name = name
        self.cap = pg.Capture(pg.LINKTYPE_ETHERNET)
        self.link = pg.EthernetLink()
        self.port = 40000 + (sum(name.encode()) % 1000) * 10
        self.qid = 0x1000
        self.egress_pairs = set()

    def _sport(self, src=None, dst=None):
        if src in MGMT_ADDRESSES and not egress_allowed(dst):
            self.egress_pairs.add((src, dst))
        self.port += 1
        return self.port

    def dns(self, src, qname, server=DNS_SERVER, answer="192.0.2.200"):
        """A DNS query for qname and its answer."""
        f = pg.UdpFlow(self.cap, self.link, (src, self._sport(src, server)), (server, 53),
                       "%s/dns/%s/%s" % (self.name, src, qname))
        self.qid += 1
        f.send(pg.dns_query(self.qid, qname))
        f.send(pg.dns_response(self.qid, qname, answers=[(qname, "A", 300, answer)]),
               from_client=False)
        self.cap.advance(20000)

    def tls(self, src, dst, sni, port=443, records=2):
        """A TLS 1.3 session: ClientHello (sni None: no server_name), ServerHello,
        application data both ways, FIN."""
        s = pg.TcpSession(self.cap, self.link, (src, self._sport(src, dst)), (dst, port),
                          "%s/tls/%s/%s/%s" % (self.name, src, dst, sni))
        s.handshake()
        s.send(pg.tls_client_hello(sni=sni, label="%s/%s/ch" % (self.name, sni)))
        s.send(pg.tls_server_hello(label="%s/%s/sh" % (self.name, sni)) +
               pg.tls_change_cipher_spec() + pg.tls_application_data(900, "%s/ee" % self.name),
               from_client=False)
        for i in range(records):
            s.send(pg.tls_application_data(120, "%s/c%d" % (self.name, i)))
            s.send(pg.tls_application_data(300, "%s/s%d" % (self.name, i)), from_client=False)
        s.close()
        self.cap.advance(20000)

    def http(self, src, dst, exchanges, port=80):
        """One TCP connection carrying (request, response) pairs."""
        s = pg.TcpSession(self.cap, self.link, (src, self._sport(src, dst)), (dst, port),
                          "%s/http/%s/%s" % (self.name, src, dst))
        s.handshake()
        for req, resp in exchanges:
            s.send(req)
            s.send(resp, from_client=False)
        s.close()
        self.cap.advance(20000)

    def tcp(self, src, dst, port, rounds=3):
        """A connection carrying opaque bytes both ways (TLS records without a hello,
        as a session picked up after its start would look)."""
        s = pg.TcpSession(self.cap, self.link, (src, self._sport(src, dst)), (dst, port),
                          "%s/tcp/%s/%s" % (self.name, src, dst))
        s.handshake()
        for i in range(rounds):
            s.send(pg.tls_application_data(80, "%s/o%d" % (self.name, i)))
            s.send(pg.tls_application_data(200, "%s/i%d" % (self.name, i)), from_client=False)
        s.close()
        self.cap.advance(20000)

    def write(self):
        path = os.path.join(OUT, self.name + ".pcap")
        self.cap.write_pcap(path)
        return os.path.basename(path)


def get(host, path, headers=(), method="GET", body=b""):
    return pg.http_request(method, path, host=host, headers=headers, body=body)


def ok(body=b"{}", ctype="application/json"):
    return pg.http_response(200, "OK", [("Content-Type", ctype)], body)


def ws_upgrade(host, path, origin=None):
    hs = [("User-Agent", UA_BROWSER), ("Connection", "Upgrade"), ("Upgrade", "websocket"),
          ("Sec-WebSocket-Key", WS_KEY), ("Sec-WebSocket-Version", "13")]
    if origin:
        hs.append(("Origin", origin))
    return get(host, path, hs)


SWITCHING = pg.http_response(101, "Switching Protocols",
                             [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                              ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")],
                             content_length=False)

CASES = []


def case(name, kind, covers, alerts, description, build, **extra):
    c = Case(name)
    build(c)
    alerts = dict(alerts)
    if c.egress_pairs:
        alerts[NEW_EGRESS_SID] = len(c.egress_pairs)
        description += (" Also the new-egress detector (%d): bigip1's management address "
                        "reaches %d destination(s) outside the egress allow-list."
                        % (NEW_EGRESS_SID, len(c.egress_pairs)))
    entry = {"name": name, "pcap": c.write(), "kind": kind, "covers": covers,
             "alerts": {str(k): v for k, v in sorted(alerts.items())},
             "description": description}
    entry.update(extra)
    CASES.append(entry)


# ---- DNS over HTTPS ------------------------------------------------------------------------

case("doh-sni-from-mgmt", "fire", [8401000, 8401001], {8401000: 1, 8401001: 1},
     "bigip1's management address opens TLS to 8.8.8.8:443 with SNI dns.google (Go's DoH "
     "client resolving a C2 name): the DoH name and the resolver address both alert, once.",
     lambda c: c.tls(BIGIP_MGMT, "8.8.8.8", "dns.google"))

case("doh-sni-from-client", "miss", [8401000, 8401001], {},
     "An ordinary internal host (a browser with DoH on) opens TLS to 8.8.8.8:443 with SNI "
     "dns.google and to 1.1.1.1 with cloudflare-dns.com: not an appliance, silent.",
     lambda c: (c.tls(INTERNAL_CLIENT, "8.8.8.8", "dns.google"),
                c.tls(INTERNAL_CLIENT, "1.1.1.1", "cloudflare-dns.com")))

case("doh-ip-without-sni", "fire", [8401001, 8401902], {8401001: 1, 8401902: 1},
     "The external self IP opens TLS to 1.1.1.1:443 without SNI (a DoH client given "
     "https://1.1.1.1/dns-query sends none), several records each way: the resolver-address "
     "rule alerts once per connection, and the no-SNI hunting rule once.",
     lambda c: c.tls(BIGIP_SELF_EXT, "1.1.1.1", None, records=4))

case("doh-sni-other-resolver-names", "fire", [8401000], {8401000: 2},
     "bigip1 opens TLS with SNI dns.quad9.net and mozilla.cloudflare-dns.com to an ordinary "
     "internet address (not on the resolver list): the name alone alerts, once per session.",
     lambda c: (c.tls(BIGIP_MGMT, EXT_SERVER, "dns.quad9.net"),
                c.tls(BIGIP_MGMT, EXT_SERVER, "mozilla.cloudflare-dns.com")))

case("public-resolver-plain-dns", "miss", [8401001, 8401000], {},
     "bigip1 sends a plain DNS query to 8.8.8.8:53 (UDP) and the internal resolver "
     "forwards to 9.9.9.9:53: not DoH (port 53, not 443), silent. bigip1 also opens TLS "
     "with SNI ihealth2-api.f5.com to the iHealth address.",
     lambda c: (c.dns(BIGIP_MGMT, "ntp.example.org", server="8.8.8.8"),
                c.dns(DNS_SERVER, "www.example.com", server="9.9.9.9"),
                c.tls(BIGIP_MGMT, IHEALTH, "ihealth2-api.f5.com")))

case("doh-bootstrap-lookup", "fire", [8401002], {8401002: 2},
     "bigip1 asks its internal resolver for dns.google and the self IP for "
     "cloudflare-dns.com (the lookups before DoH): one alert per query, none for the answers.",
     lambda c: (c.dns(BIGIP_MGMT, "dns.google", answer="8.8.8.8"),
                c.dns(BIGIP_SELF_INT, "cloudflare-dns.com", answer="1.1.1.1")))

case("doh-names-mixed-case", "fire", [8401000, 8401002], {8401000: 1, 8401002: 2},
     "The DoH names in other cases: bigip1 opens TLS with SNI DNS.Google to an ordinary "
     "internet address, and asks for dNs.GoOgLe (a resolver randomising the case, DNS 0x20) "
     "and CLOUDFLARE-DNS.COM: the name lists match in any case, one alert each.",
     lambda c: (c.tls(BIGIP_MGMT, EXT_SERVER, "DNS.Google"),
                c.dns(BIGIP_MGMT, "dNs.GoOgLe", answer="8.8.8.8"),
                c.dns(BIGIP_MGMT, "CLOUDFLARE-DNS.COM", answer="1.1.1.1")))

case("appliance-ordinary-lookups", "miss", [8401002, 8401100, 8401101, 8401102, 8401103], {},
     "bigip1 asks its internal resolver for ihealth2-api.f5.com and an NTP name; an "
     "internal host asks for dns.google: silent.",
     lambda c: (c.dns(BIGIP_MGMT, "ihealth2-api.f5.com"),
                c.dns(BIGIP_MGMT, "ntp.example.org"),
                c.dns(INTERNAL_CLIENT, "dns.google", answer="8.8.8.8")))

case("doh-cleartext-dns-message", "fire", [8401003], {8401003: 2},
     "Behind a decrypting tap: bigip1 sends a DoH POST (Content-Type: application/dns-message) "
     "and a DoH GET (accept: APPLICATION/DNS-MESSAGE, other case) to an internet server: one "
     "alert per request.",
     lambda c: c.http(BIGIP_MGMT, EXT_SERVER, [
         (get("doh.example.net", "/dns-query",
              [("Content-Type", "application/dns-message"),
               ("Accept", "application/dns-message")],
              method="POST", body=pg.dns_query(0, "c2.example.net")),
          ok(pg.dns_response(0, "c2.example.net"), "application/dns-message")),
         (get("doh.example.net", "/dns-query?dns=AAABAAABAAAAAAAAAmMyB2V4YW1wbGUDbmV0AAABAAE",
              [("accept", "APPLICATION/DNS-MESSAGE")]),
          ok(pg.dns_response(0, "c2.example.net"), "application/dns-message"))]))

case("appliance-json-api", "miss", [8401003], {},
     "bigip1 posts JSON to an internet API (Content-Type and Accept application/json); an "
     "internal host's browser sends a DoH POST: silent.",
     lambda c: (c.http(BIGIP_MGMT, EXT_SERVER, [
         (get("api.example.net", "/v1/report", [("Content-Type", "application/json"),
                                                ("Accept", "application/json"),
                                                ("User-Agent", UA_CURL)],
              method="POST", body=b'{"status":"ok"}'), ok())]),
         c.http(INTERNAL_CLIENT, EXT_SERVER, [
             (get("doh.example.net", "/dns-query", [("Content-Type", "application/dns-message")],
                  method="POST", body=pg.dns_query(0, "www.example.com")),
              ok(pg.dns_response(0, "www.example.com"), "application/dns-message"))])))

# ---- C2 on cloud services ------------------------------------------------------------------

SUFFIXES = [
    # (suffix word, dns sid, tls sid, http sid, fire names, look-alike names)
    ("workers-dev", 8401100, 8401110, 8401120, ["update-check.acme-sync.workers.dev",
                                                "Cdn.Acme-Sync.WORKERS.DEV"],
     ["notworkers.dev", "workers.dev.example.com"]),
    ("herokuapp", 8401101, 8401111, 8401121, ["telemetry-svc.herokuapp.com"],
     ["myherokuapp.com", "herokuapp.com.example.net"]),
    ("sslip-io", 8401102, 8401112, 8401122, ["149-248-11-70.sslip.io"],
     ["notsslip.io", "sslip.io.example.org"]),
    ("nip-io", 8401103, 8401113, 8401123, ["64.176.166.80.nip.io"],
     ["snip.io", "nip.io.example.org"]),
]

for word, dsid, tsid, hsid, names, lookalikes in SUFFIXES:
    n = len(names)
    case("cloud-c2-dns-%s" % word, "fire", [dsid], {dsid: n},
         "bigip1 looks up %s through its internal resolver: one alert per query "
         "(any case)." % " and ".join(names),
         lambda c, names=names: [c.dns(BIGIP_MGMT, q) for q in names])
    case("cloud-c2-tls-%s" % word, "fire", [tsid], {tsid: n},
         "bigip1 opens TLS to an internet server with SNI %s: one alert per session."
         % " and ".join(names),
         lambda c, names=names: [c.tls(BIGIP_MGMT, EXT_SERVER, q) for q in names])
    case("cloud-c2-http-%s" % word, "fire", [hsid], {hsid: n},
         "Behind a decrypting tap: the external self IP sends GET /api/v2/poll with Host %s: "
         "one alert per request." % " and ".join(names),
         lambda c, names=names: c.http(BIGIP_SELF_EXT, EXT_SERVER, [
             (get(q, "/api/v2/poll", [("User-Agent", UA_CURL)]), ok()) for q in names]))
    case("cloud-c2-lookalikes-%s" % word, "miss", [dsid, tsid, hsid], {},
         "bigip1 uses names that only resemble the service (%s) in DNS, TLS and HTTP, and an "
         "ordinary internal host uses the real %s: silent." % (", ".join(lookalikes), names[0]),
         lambda c, names=names, lookalikes=lookalikes: (
             [c.dns(BIGIP_MGMT, q) for q in lookalikes],
             [c.tls(BIGIP_MGMT, EXT_SERVER, q) for q in lookalikes],
             c.http(BIGIP_MGMT, EXT_SERVER, [(get(q, "/", [("User-Agent", UA_CURL)]), ok())
                                             for q in lookalikes]),
             c.dns(INTERNAL_CLIENT, names[0]),
             c.tls(INTERNAL_CLIENT, EXT_SERVER, names[0]),
             c.http(INTERNAL_CLIENT, EXT_SERVER, [(get(names[0], "/", [("User-Agent", UA_CURL)]),
                                                   ok())])))

# ---- listed C2 domains (customer IOC list) ------------------------------------------------

SET_CUSTOMER = ["datasets.brickstorm-c2-domains.load=" + CUSTOMER_LIST]


def c2_domain_traffic(c, name):
    c.dns(INTERNAL_CLIENT, name)
    c.tls(INTERNAL_CLIENT, EXT_SERVER, name)
    c.http(INTERNAL_CLIENT, EXT_SERVER, [(get(name, "/v1/beacon", [("User-Agent", UA_CURL)]),
                                          ok())])


case("customer-c2-domain", "fire", [8401150, 8401151, 8401152],
     {8401150: 1, 8401151: 1, 8401152: 1},
     "An internal host (a vCenter) looks up %s, opens TLS with it as SNI and sends an HTTP "
     "request with it as Host, run with the customer's IOC list %s given through "
     "datasets.brickstorm-c2-domains.load: each rule alerts once." % (CUSTOMER_C2, CUSTOMER_LIST),
     lambda c: c2_domain_traffic(c, CUSTOMER_C2), set=SET_CUSTOMER)

CASES.append(dict(CASES[-1], name="customer-c2-domain-shipped-list", kind="miss",
                  alerts={}, description="The same capture with the shipped list "
                  "(signatures/ioc/brickstorm-c2-domains.lst, no entries): silent. The "
                  "customer list alone makes it fire.", set=[]))
del CASES[-1]["set"]

case("customer-c2-domain-mixed-case", "fire", [8401150, 8401151, 8401152],
     {8401150: 1, 8401151: 1, 8401152: 1},
     "With the customer list: the same host uses %s in capitals and mixed case (DNS query, "
     "SNI, Host): names match in any case, each rule alerts once." % CUSTOMER_C2,
     lambda c: c2_domain_traffic(c, "Sync.VMware-Telemetry.EXAMPLE"), set=SET_CUSTOMER)

case("customer-c2-domain-neighbours", "miss", [8401150, 8401151, 8401152], {},
     "With the customer list: the same host uses www.%s (a subdomain of a listed name) and "
     "vmware-telemetry.example (its parent): exact names only, silent." % CUSTOMER_C2,
     lambda c: (c2_domain_traffic(c, "www." + CUSTOMER_C2),
                c2_domain_traffic(c, "vmware-telemetry.example")), set=SET_CUSTOMER)

# ---- published C2 addresses ----------------------------------------------------------------

case("c2-ip-from-appliance", "fire", [8401200], {8401200: 1},
     "bigip1 holds a connection to 149.248.11.71:443 (the GRIMBOLT C2) with opaque records "
     "both ways: one alert for the connection, none for the C2's replies.",
     lambda c: c.tcp(BIGIP_MGMT, C2_ADDRESSES[3], 443, rounds=5))

case("c2-ip-from-internal-host", "fire", [8401201], {8401201: 2},
     "An internal server (a vCenter) connects to 208.83.233.14:443 and an internal host to "
     "64.176.166.79:8443: one alert per connection.",
     lambda c: (c.tcp(VCENTER, C2_ADDRESSES[0], 443), c.tcp(INTERNAL_CLIENT, C2_ADDRESSES[2],
                                                             8443)))

case("c2-ip-inbound", "fire", [8401202], {8401202: 1},
     "149.28.120.31 connects to port 8080 of an internal server (the implant's web server "
     "reached from the C2): one alert for the connection.",
     lambda c: c.tcp(C2_ADDRESSES[1], VCENTER, 8080, rounds=4))

case("c2-ip-neighbours", "miss", [8401200, 8401201, 8401202], {},
     "The addresses next to the C2 addresses: bigip1 to 149.248.11.72, an internal host to "
     "208.83.233.15, and 149.28.120.30 connecting in: silent.",
     lambda c: (c.tcp(BIGIP_MGMT, "149.248.11.72", 443), c.tcp(INTERNAL_CLIENT, "208.83.233.15",
                                                               443),
                c.tcp("149.28.120.30", VCENTER, 8080)))

# ---- implant C2 path and web server ------------------------------------------------------

case("grimbolt-websocket", "fire", [8401300], {8401300: 1},
     "Behind a decrypting tap: an internal server (a vCenter) sends GET /rest/apisession "
     "with Connection: Upgrade and Upgrade: websocket to an internet server, which answers "
     "101: one alert.",
     lambda c: c.http(VCENTER, EXT_SERVER, [(ws_upgrade("api.example.net", "/rest/apisession"),
                                             SWITCHING)]))

case("websocket-other-path", "miss", [8401300], {},
     "An internal host upgrades /socket.io/?EIO=4&transport=websocket to WebSocket, and sends "
     "a plain GET /rest/apisession (no upgrade): silent.",
     lambda c: (c.http(INTERNAL_CLIENT, EXT_SERVER, [
         (ws_upgrade("chat.example.net", "/socket.io/?EIO=4&transport=websocket"), SWITCHING)]),
                c.http(INTERNAL_CLIENT, EXT_SERVER, [(get("api.example.net", "/rest/apisession",
                                                          [("User-Agent", UA_CURL)]), ok())])))

FILE_OPS = [
    get("10.1.1.245:8080", "/api/file/list-dir?path=/config", [("User-Agent", UA_CURL)]),
    get("10.1.1.245:8080", "/api/file/get-file?path=/config/bigip.conf", [("User-Agent", UA_CURL)]),
    get("10.1.1.245:8080", "/api/file/%73tat?path=/shared/f5_update_action",
        [("User-Agent", UA_CURL)]),
]

case("implant-file-api-appliance", "fire", [8401301], {8401301: 3},
     "An internal host sends GET /api/file/list-dir, /api/file/get-file and the "
     "URL-encoded /api/file/%73tat to port 8080 of bigip1's management address (the implant's "
     "web server): one alert per request.",
     lambda c: c.http(INTERNAL_CLIENT, BIGIP_MGMT, [(r, ok()) for r in FILE_OPS], port=8080))

case("implant-file-api-internal", "fire", [8401302], {8401302: 2},
     "An internal host sends POST /api/file/put-file and GET /api/file/file-md5 to port 8090 "
     "of an internal server (a vCenter): one alert per request.",
     lambda c: c.http(INTERNAL_CLIENT, VCENTER, [
         (get("10.1.60.15:8090", "/api/file/put-file?path=/tmp/x", [("User-Agent", UA_CURL)],
              method="POST", body=b"payload"), ok()),
         (get("10.1.60.15:8090", "/api/file/file-md5?path=/tmp/x", [("User-Agent", UA_CURL)]),
          ok())], port=8090))

NEAR_FILE = [
    get("files.example.org", "/api/files/list-dir?path=/", [("User-Agent", UA_BROWSER)]),
    get("files.example.org", "/api/filex/stat", [("User-Agent", UA_BROWSER)]),
    get("files.example.org", "/api/file/download?id=42", [("User-Agent", UA_BROWSER)]),
    get("files.example.org", "/v2/api/file/list-dir", [("User-Agent", UA_BROWSER)]),
]

case("file-api-lookalikes", "miss", [8401301, 8401302], {},
     "A file-sharing application's own API (/api/files/list-dir, /api/filex/stat, "
     "/api/file/download, /v2/api/file/list-dir) on an internal server and on bigip1's "
     "port 8080: silent.",
     lambda c: (c.http(INTERNAL_CLIENT, VCENTER, [(r, ok()) for r in NEAR_FILE], port=8090),
                c.http(INTERNAL_CLIENT, BIGIP_MGMT, [(r, ok()) for r in NEAR_FILE], port=8080)))

# ---- hunting -------------------------------------------------------------------------------

case("go-client-from-appliance", "fire", [8401900], {8401900: 2},
     "Behind a decrypting tap: bigip1 sends two requests to an internet server with "
     "User-Agent Go-http-client/1.1 and Go-http-client/2.0: one alert per request.",
     lambda c: c.http(BIGIP_MGMT, EXT_SERVER, [
         (get("cdn.example.net", "/v1/config", [("User-Agent", "Go-http-client/1.1")]), ok()),
         (get("cdn.example.net", "/v1/tasks", [("User-Agent", "Go-http-client/2.0")]), ok())]))

case("go-client-elsewhere", "miss", [8401900], {},
     "bigip1 fetches with curl; an ordinary internal host runs a Go tool (Go-http-client/1.1): "
     "silent.",
     lambda c: (c.http(BIGIP_MGMT, EXT_SERVER, [(get("cdn.example.net", "/v1/config",
                                                     [("User-Agent", UA_CURL)]), ok())]),
                c.http(INTERNAL_CLIENT, EXT_SERVER, [(get("cdn.example.net", "/v1/config",
                                                          [("User-Agent", "Go-http-client/1.1")]),
                                                      ok())])))

case("websocket-from-appliance", "fire", [8401901], {8401901: 1},
     "Behind a decrypting tap: the external self IP sends GET / with Connection: Upgrade and "
     "Upgrade: websocket to an internet server (the reported C2 transport): one alert.",
     lambda c: c.http(BIGIP_SELF_EXT, EXT_SERVER, [(ws_upgrade("ws.example.net", "/"),
                                                    SWITCHING)]))

case("websocket-elsewhere", "miss", [8401901], {},
     "An internal host's browser upgrades GET / to WebSocket; bigip1 sends a plain GET with "
     "Connection: keep-alive: silent.",
     lambda c: (c.http(INTERNAL_CLIENT, EXT_SERVER, [(ws_upgrade("ws.example.net", "/",
                                                                 "https://ws.example.net"),
                                                      SWITCHING)]),
                c.http(BIGIP_MGMT, EXT_SERVER, [(get("www.example.net", "/", [
                    ("User-Agent", UA_CURL), ("Connection", "keep-alive")]), ok())])))

case("tls-without-sni-from-appliance", "fire", [8401902], {8401902: 1},
     "bigip1 opens TLS without SNI to an internet server (not a resolver, not a C2 address): "
     "one alert.",
     lambda c: c.tls(BIGIP_MGMT, EXT_SERVER, None))

case("tls-with-sni-or-elsewhere", "miss", [8401902], {},
     "bigip1 opens TLS with SNI ihealth2-api.f5.com to the iHealth address; an ordinary "
     "internal host opens TLS without SNI to an internet server: silent.",
     lambda c: (c.tls(BIGIP_MGMT, IHEALTH, "ihealth2-api.f5.com"),
                c.tls(INTERNAL_CLIENT, EXT_SERVER, None)))


README_HEAD = """# BRICKSTORM / UNC5221 test captures

Written by `pcaps/threat/make_brickstorm.py` (with `expected.json` and this file; edit the
script, not these). Each case is one capture run through vigil with every shipped rule and
`pcaps/estate.yaml` (the test estate of `pcaps/threat/estate.py`: bigip1's management
address 10.1.1.245, self IPs 10.1.20.2 / 10.1.30.2, internal resolver 10.1.10.53, iHealth
198.18.0.10); "expected alerts" lists every alert the capture raises, by sid. Run them with

    python3 tests/pcap/run_threat.py --vigil BUILD/vigil --source-root . -k brickstorm/

Hosts besides the estate: 10.1.60.15 an internal server (a vCenter), 10.1.50.21 an ordinary
internal host, 192.0.2.80 an ordinary internet server. HTTP cases stand for what a
decrypting tap shows (the rules carry `deployment SSLDecrypt`); they are plain HTTP on the
wire. `customer-c2-domains.txt` is a made-up customer IOC file (the `.example` TLD is
reserved): the `customer-c2-domain` cases give it through
`--set datasets.brickstorm-c2-domains.load=...` and show that the shipped list, which has
no entries, is silent on the same capture.

| case | kind | what is on the wire | expected alerts |
|---|---|---|---|
"""


def write_readme():
    rows = []
    for c in CASES:
        alerts = ", ".join("%s x%d" % (k, v) for k, v in sorted(c["alerts"].items())) or "none"
        what = c["description"]
        if c.get("set"):
            what += " (run with `--set %s`)" % " ".join(c["set"])
        rows.append("| `%s` | %s | %s | %s |" % (c["name"], c["kind"], what.replace("|", "/"),
                                                alerts))
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write(README_HEAD + "\n".join(rows) + "\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write_readme()
    with open(os.path.join(OUT, "customer-c2-domains.txt"), "w") as f:
        f.write("# A customer's IOC file as received: one C2 domain per line, '#' comments.\n"
                "# Made up for the test (the .example TLD is reserved); see README.md.\n"
                "%s   # case customer-c2-domain\n" % CUSTOMER_C2)
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"family": "brickstorm", "cases": CASES}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
