#!/usr/bin/env python3
"""Writes a large ET-like Suricata rule file, for load and matching benchmarks.

    tests/bench/gen_rules.py [--rules N] [--seed S] [--sid-base SID] [--with-new-keywords]
                             [--out FILE]

The same arguments give the same file, byte for byte. The rules have the shapes ET Open
uses: HTTP sticky buffers and the legacy http_* content modifiers with nocase, fast_pattern,
depth/offset and distance/within chains; tls.sni, ja3.hash and tls.cert_subject; dns.query;
raw TCP and UDP payload contents with offset/depth, hex bytes, dsize and flags; ICMP;
varied addresses, ports and $VARS, classtype, reference and metadata. Sids count up from
--sid-base (default 5000000).

Every rule holds at least one random token (8-12 letters and digits, two digits at least)
that no real traffic carries, and every rule needs it to match: the set raises no alert on
the demo capture or the benchmark mix, while the other contents of a rule (methods, paths,
header names, protocol bytes) are the common strings real rules carry, so verification still
runs on real candidates.

--with-new-keywords adds a share of rules with pcre, byte_test, isdataat, bsize, endswith,
dotprefix, flowbits and threshold (the shares are printed with --stats).
Standard library only.
"""

import argparse
import random
import sys

CLASSTYPES = ["trojan-activity", "web-application-attack", "attempted-admin", "bad-unknown",
              "policy-violation", "misc-activity", "attempted-recon", "command-and-control",
              "exploit-kit", "coin-mining", "attempted-user", "credential-theft",
              "web-application-activity", "misc-attack", "pup-activity"]
CATEGORIES = ["MALWARE", "EXPLOIT", "WEB_SERVER", "WEB_CLIENT", "WEB_SPECIFIC_APPS", "POLICY",
              "INFO", "HUNTING", "PHISHING", "MOBILE_MALWARE", "COINMINER", "SCAN", "DNS",
              "ATTACK_RESPONSE", "CURRENT_EVENTS"]
FAMILIES = ["Agent Tesla", "Lumma Stealer", "AsyncRAT", "Cobalt Strike", "Emotet", "Qakbot",
            "RedLine", "IcedID", "Formbook", "Remcos", "njRAT", "SocGholish", "Vidar", "Raccoon",
            "Gh0st", "Mirai", "Sliver", "Brute Ratel", "DarkGate", "Pikabot"]
PRODUCTS = ["Apache Struts", "Confluence", "Exchange", "WordPress Plugin", "Jenkins", "vCenter",
            "FortiOS", "Citrix ADC", "Ivanti Connect Secure", "MOVEit", "GitLab", "Zimbra",
            "PHPUnit", "ThinkPHP", "Spring Cloud", "Log4j", "Drupal", "Joomla"]
METHODS = ["GET", "POST", "PUT", "HEAD"]
PATH_BITS = ["/wp-content/plugins/", "/wp-admin/admin-ajax.php", "/index.php", "/api/v1/",
             "/cgi-bin/", "/admin/", "/login.php", "/upload/", "/gate.php", "/panel/",
             "/includes/", "/static/js/", "/images/", "/.env", "/actuator/", "/owa/auth/"]
QUERY_BITS = ["?id=", "&cmd=", "?action=", "&uid=", "?file=", "&token=", "?q=", "&os="]
HEADER_NAMES = ["X-Session", "X-Request-Id", "X-Api-Key", "X-Client", "X-Auth", "X-Forwarded"]
UA_BITS = ["Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "Mozilla/4.0 (compatible; MSIE 6.0;",
           "curl/", "python-requests/", "Go-http-client/1.1", "WinHTTP", "Microsoft BITS/7.8"]
TLDS = ["xyz", "top", "online", "site", "club", "ru", "cn", "info", "biz", "live", "icu"]
SRC_INTERNAL = ["$HOME_NET", "$HOME_NET", "any", "[10.0.0.0/8,192.168.0.0/16]"]
DST_EXTERNAL = ["$EXTERNAL_NET", "$EXTERNAL_NET", "any", "!$HOME_NET", "[!10.0.0.0/8,any]"]
SERVERS = ["$HOME_NET", "$HTTP_SERVERS", "any", "[192.0.2.0/24,198.51.100.0/24]"]
HTTP_PORTS = ["any", "$HTTP_PORTS", "[80,8080,8000:8088]", "any"]
REF_KINDS = ["url", "md5", "cve"]


class Gen:
    def __init__(self, seed, sid_base, new_keywords):
        self.rng = random.Random(seed)
        self.sid = sid_base
        self.new = new_keywords
        self.tokens = set()
        self.flowbit = 0
        self.counts = {}

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def chance(self, p):
        return self.rng.random() < p

    def token(self, lo=8, hi=12):
        """A fresh random string of letters and digits that no real traffic holds."""
        alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
        while True:
            n = self.rng.randint(lo, hi)
            t = [self.pick(alphabet) for _ in range(n - 2)]
            for _ in range(2):
                t.insert(self.rng.randrange(len(t) + 1), self.pick("0123456789"))
            s = "".join(t)
            if s not in self.tokens:
                self.tokens.add(s)
                return s

    def hexstr(self, n):
        return "".join(self.pick("0123456789abcdef") for _ in range(n))

    def hex_token(self):
        """A token written partly as |hex| bytes, as ET writes binary protocol strings."""
        t = self.token()
        cut = self.rng.randint(1, len(t) - 2)
        return t[:cut] + "|" + " ".join("%02x" % ord(c) for c in t[cut:cut + 2]) + "|" + t[cut + 2:]

    def tail(self, classtype=None, year=None):
        """reference, classtype, sid, rev, metadata: what ends every ET rule."""
        self.sid += 1
        kind = self.pick(REF_KINDS)
        if kind == "url":
            ref = "url,www.example.net/research/%s" % self.token(6, 8)
        elif kind == "md5":
            ref = "md5,%s" % self.hexstr(32)
        else:
            ref = "cve,%d-%d" % (self.rng.randint(2014, 2025), self.rng.randint(1000, 49999))
        year = year or self.rng.randint(2016, 2025)
        created = "%d_%02d_%02d" % (year, self.rng.randint(1, 12), self.rng.randint(1, 28))
        meta = ("affected_product %s, attack_target Client_Endpoint, created_at %s, "
                "deployment Perimeter, signature_severity %s, updated_at %s" %
                (self.pick(["Windows_XP_Vista_7_8_10_Server_32_64_Bit", "Linux", "Any",
                            "Web_Server_Applications"]), created,
                 self.pick(["Major", "Minor", "Informational"]), created))
        return ('reference:%s; classtype:%s; sid:%d; rev:%d; metadata:%s;' %
                (ref, classtype or self.pick(CLASSTYPES), self.sid, self.rng.randint(1, 5), meta))

    def msg(self, category, text):
        return 'msg:"ET %s %s";' % (category, text)

    def count(self, shape):
        self.counts[shape] = self.counts.get(shape, 0) + 1

    # ---- HTTP ---------------------------------------------------------------------------

    def http_sticky(self):
        """alert http with sticky buffers: method, uri chain, user agent or host."""
        self.count("http sticky buffers")
        fam = self.pick(FAMILIES)
        tok = self.token()
        parts = ['flow:established,to_server;']
        parts.append('http.method; content:"%s";' % self.pick(METHODS))
        uri = 'http.uri; content:"%s%s"; fast_pattern;' % (self.pick(PATH_BITS), tok)
        if self.chance(0.5):
            uri += ' content:"%s"; distance:0; within:%d;' % (self.pick(QUERY_BITS),
                                                              self.rng.randint(20, 60))
        if self.chance(0.3):
            uri += ' nocase;'
        if self.new and self.chance(0.12):
            self.count("  with pcre")
            uri += ' pcre:"/%s[0-9a-z]{2,8}(?:\\.php|\\.asp|[&?])/";' % tok[:6]
        parts.append(uri)
        extra = self.rng.random()
        if extra < 0.3:
            parts.append('http.user_agent; content:"%s"; depth:%d;' %
                         (self.pick(UA_BITS)[:12], self.rng.randint(12, 40)))
        elif extra < 0.5:
            parts.append('http.host; content:".%s"; endswith;' % self.pick(TLDS)
                         if self.new and self.chance(0.5) else
                         'http.host; content:"%s"; nocase;' % self.pick(TLDS))
        elif extra < 0.65:
            parts.append('http.header; content:"%s|3a 20|"; nocase;' % self.pick(HEADER_NAMES))
        if self.new and self.chance(0.05):
            self.count("  with bsize")
            parts.append('http.uri; bsize:>%d;' % self.rng.randint(20, 120))
        return ('alert http %s any -> %s any (%s %s %s)' %
                (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL),
                 self.msg("MALWARE", "%s CnC Checkin (%s)" % (fam, tok[:4].upper())),
                 " ".join(parts), self.tail("trojan-activity")))

    def http_legacy(self):
        """alert tcp with the legacy content modifiers (http_method, http_uri, ...)."""
        self.count("http legacy modifiers")
        prod = self.pick(PRODUCTS)
        tok = self.token()
        parts = ['flow:established,to_server;']
        parts.append('content:"%s"; http_method;' % self.pick(["GET", "POST"]))
        parts.append('content:"%s"; http_uri; nocase;' % self.pick(PATH_BITS))
        parts.append('content:"%s"; http_uri; fast_pattern; nocase;' % tok)
        body = self.rng.random()
        if body < 0.35:
            parts.append('content:"%s="; http_client_body; depth:%d;' %
                         (self.pick(["cmd", "exec", "user", "q", "data"]), self.rng.randint(8, 64)))
        elif body < 0.6:
            parts.append('content:"%s"; http_header; nocase;' % self.pick(HEADER_NAMES))
        elif body < 0.75:
            parts.append('content:"%s"; http_user_agent;' % self.pick(UA_BITS)[:10])
        return ('alert tcp %s any -> %s %s (%s %s %s)' %
                (self.pick(["$EXTERNAL_NET", "any"]), self.pick(SERVERS), self.pick(HTTP_PORTS),
                 self.msg("WEB_SPECIFIC_APPS", "%s Remote Code Execution Attempt (%s)" %
                          (prod, tok[:5])), " ".join(parts), self.tail("web-application-attack")))

    def http_header_rule(self):
        """User agent, host, header or cookie alone: the 'suspicious client' family."""
        self.count("http header / host / user agent")
        tok = self.token()
        buf = self.rng.random()
        if buf < 0.35:
            body = 'http.user_agent; content:"%s %s"; fast_pattern;' % (
                self.pick(UA_BITS)[:8], tok)
            what = "Suspicious User-Agent (%s)" % tok[:6]
        elif buf < 0.65:
            body = 'http.host; content:"%s.%s"; nocase;' % (tok, self.pick(TLDS))
            if self.new and self.chance(0.3):
                body += ' endswith;'
                self.count("  with endswith")
            what = "Observed Malicious Domain in Host Header (%s)" % tok[:6]
        elif buf < 0.85:
            body = ('http.header; content:"%s|3a 20|%s"; nocase; fast_pattern;' %
                    (self.pick(HEADER_NAMES), tok))
            what = "Suspicious Header Value (%s)" % tok[:6]
        else:
            body = 'http.cookie; content:"%s="; depth:%d;' % (tok, self.rng.randint(20, 80))
            what = "Suspicious Cookie (%s)" % tok[:6]
        return ('alert http %s any -> %s any (%s flow:established,to_server; %s %s)' %
                (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL), self.msg("HUNTING", what), body,
                 self.tail()))

    def http_body(self):
        """Request bodies (POSTed exfiltration) and response bodies (exploit kits)."""
        tok = self.token()
        if self.chance(0.6):
            self.count("http request body")
            body = ('http.method; content:"POST"; http.request_body; content:"%s"; '
                    'fast_pattern; content:"%s"; distance:0; within:%d;' %
                    (tok, self.pick(["&pwd=", "&pc=", "|22|hwid|22|", "&os="]),
                     self.rng.randint(30, 200)))
            return ('alert http %s any -> %s any (%s flow:established,to_server; %s %s)' %
                    (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL),
                     self.msg("MALWARE", "%s Exfil via POST (%s)" % (self.pick(FAMILIES),
                                                                      tok[:5])), body,
                     self.tail("trojan-activity")))
        self.count("http response (stat_code, file.data)")
        body = ('http.stat_code; content:"200"; file.data; content:"%s"; '
                'content:"%s"; distance:0;' % (
                    self.pick(["<script", "<iframe", "eval(", "PK|03 04|", "MZ"]), tok))
        return ('alert http $EXTERNAL_NET any -> $HOME_NET any (%s flow:established,to_client; '
                '%s %s)' % (self.msg("CURRENT_EVENTS", "Landing Page Inbound (%s)" % tok[:5]),
                            body, self.tail("exploit-kit")))

    # ---- TLS, DNS ----------------------------------------------------------------------

    def tls(self):
        r = self.rng.random()
        if r < 0.55:
            self.count("tls.sni")
            tok = self.token()
            sni = '%s.%s' % (tok, self.pick(TLDS))
            body = 'tls.sni; content:"%s"; nocase;' % sni
            if self.new and self.chance(0.5):
                body = 'tls.sni; dotprefix; content:".%s"; nocase; endswith;' % sni
                self.count("  with dotprefix, endswith")
            return ('alert tls %s any -> %s any (%s flow:established,to_server; %s %s)' %
                    (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL),
                     self.msg("MALWARE", "Observed %s Domain in TLS SNI (%s)" % (
                         self.pick(FAMILIES), sni)), body, self.tail()))
        if r < 0.8:
            self.count("ja3.hash")
            h = self.hexstr(32)
            self.tokens.add(h)
            return ('alert tls %s any -> %s any (%s ja3.hash; content:"%s"; %s)' %
                    (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL),
                     self.msg("JA3", "Hash - Possible Malware - %s" % self.pick(FAMILIES)), h,
                     self.tail("unknown")))
        self.count("tls.cert_subject")
        tok = self.token()
        return ('alert tls $EXTERNAL_NET any -> %s any (%s flow:established,to_client; '
                'tls.cert_subject; content:"CN=%s"; nocase; %s)' %
                (self.pick(SRC_INTERNAL),
                 self.msg("MALWARE", "Observed Malicious SSL Cert (%s)" % tok[:6]), tok,
                 self.tail()))

    def dns(self):
        self.count("dns.query")
        tok = self.token()
        name = "%s.%s" % (tok, self.pick(TLDS))
        if self.new and self.chance(0.5):
            self.count("  with dotprefix, endswith")
            body = 'dns.query; dotprefix; content:".%s"; nocase; endswith;' % name
        else:
            body = 'dns.query; content:"%s"; nocase;' % name
            if self.chance(0.3):
                body += ' fast_pattern;'
        return ('alert dns %s any -> any any (%s %s %s)' %
                (self.pick(SRC_INTERNAL),
                 self.msg("DNS", "Query to %s Domain (%s)" % (self.pick(FAMILIES), name)), body,
                 self.tail("bad-unknown")))

    # ---- Raw payloads ------------------------------------------------------------------

    def tcp_payload(self):
        self.count("raw tcp payload")
        port = self.pick(["445", "[139,445]", "3389", "1433", "$HTTP_PORTS", "any", "1024:",
                          "!80", "[8000:8100,9000]", "23"])
        head = self.pick(['content:"|ff|SMB"; offset:4; depth:4;',
                          'content:"|fe|SMB"; offset:4; depth:4;',
                          'content:"|03 00|"; depth:2;',
                          'content:"|12 01 00|"; depth:3;',
                          'content:"MSSQL"; nocase;', ''])
        tok = self.hex_token()
        parts = ['flow:established,to_server;', head]
        parts.append('content:"%s";%s' % (tok, " distance:0;" if head and self.chance(0.6)
                                          else " fast_pattern;"))
        if self.chance(0.2):
            parts.append('dsize:>%d;' % self.rng.randint(20, 400))
        if self.chance(0.15):
            parts.append('flags:PA;' if self.chance(0.5) else 'flags:A+;')
        if self.new and self.chance(0.2):
            self.count("  with byte_test")
            parts.append('byte_test:2,>,%d,0,relative;' % self.rng.randint(100, 4000))
        if self.new and self.chance(0.15):
            self.count("  with isdataat")
            parts.append('isdataat:%d,relative;' % self.rng.randint(4, 64))
        return ('alert tcp $EXTERNAL_NET any -> $HOME_NET %s (%s %s %s)' %
                (port, self.msg("EXPLOIT", "Possible Overflow Attempt (%s)" % tok[:5]),
                 " ".join(p for p in parts if p), self.tail("attempted-admin")))

    def tcp_to_client(self):
        self.count("raw tcp payload to_client")
        tok = self.token()
        return ('alert tcp $EXTERNAL_NET any -> $HOME_NET any (%s flow:established,to_client; '
                'content:"%s"; offset:%d; depth:%d; %s)' %
                (self.msg("ATTACK_RESPONSE", "Backdoor Banner (%s)" % tok[:5]), tok,
                 self.rng.randint(0, 8), self.rng.randint(40, 400), self.tail("trojan-activity")))

    def udp_payload(self):
        self.count("raw udp payload")
        port = self.pick(["161", "123", "1900", "[5060,5061]", "any", "69", "53"])
        head = self.pick(['content:"|30|"; depth:1;', 'content:"|17 00 03 2a|"; depth:4;',
                          'content:"M-SEARCH"; depth:8;', ''])
        tok = self.token()
        parts = [head, 'content:"%s"; nocase;' % tok]
        if self.chance(0.4):
            parts.append('dsize:%s;' % self.pick(["<512", ">64", "100<>900"]))
        return ('alert udp %s any -> $HOME_NET %s (%s %s %s)' %
                (self.pick(["$EXTERNAL_NET", "any"]), port,
                 self.msg("SCAN", "Suspicious UDP Probe (%s)" % tok[:5]),
                 " ".join(p for p in parts if p), self.tail("attempted-recon")))

    def icmp(self):
        self.count("icmp")
        tok = self.token()
        return ('alert icmp any any -> $HOME_NET any (%s itype:%d; content:"%s"; depth:%d; %s)' %
                (self.msg("POLICY", "ICMP Tunnel Payload (%s)" % tok[:5]),
                 self.pick([0, 8]), tok, self.rng.randint(32, 120), self.tail("misc-activity")))

    def no_content(self):
        """The few ET rules without content: header, flags and dsize only."""
        self.count("no content (flags, dsize)")
        port = self.pick(["3389", "22", "[1433,3306]", "5900", "23"])
        return ('alert tcp $EXTERNAL_NET any -> $HOME_NET %s (%s flow:to_server; flags:S,12; '
                'dsize:>%d; %s)' % (port, self.msg("SCAN", "SYN With Large Payload"),
                                    self.rng.randint(1500, 9000), self.tail("attempted-recon")))

    # ---- Newer keywords ----------------------------------------------------------------

    def flowbits_pair(self):
        """A setter that does not alert and the rule that checks the bit."""
        self.count("flowbits (set + isset pair)")
        self.flowbit += 1
        bit = "ET.gen.%d" % self.flowbit
        tok, tok2 = self.token(), self.token()
        setter = ('alert http %s any -> %s any (%s flow:established,to_server; http.uri; '
                  'content:"%s"; flowbits:set,%s; flowbits:noalert; %s)' %
                  (self.pick(SRC_INTERNAL), self.pick(DST_EXTERNAL),
                   self.msg("INFO", "Stage One Request (set)"), tok, bit, self.tail()))
        checker = ('alert http %s any -> %s any (%s flow:established,to_client; '
                   'flowbits:isset,%s; file.data; content:"%s"; %s)' %
                   (self.pick(DST_EXTERNAL), self.pick(SRC_INTERNAL),
                    self.msg("MALWARE", "Stage Two Payload Download"), bit, tok2,
                    self.tail("trojan-activity")))
        return [setter, checker]

    def threshold_rule(self):
        self.count("threshold")
        tok = self.token()
        return ('alert tcp $EXTERNAL_NET any -> $HOME_NET %s (%s flow:established,to_server; '
                'content:"%s"; threshold:type %s, track by_src, count %d, seconds %d; %s)' %
                (self.pick(["22", "21", "3389", "any"]),
                 self.msg("SCAN", "Brute Force Attempt (%s)" % tok[:5]), tok,
                 self.pick(["limit", "threshold", "both"]), self.rng.randint(1, 20),
                 self.pick([60, 120, 300, 3600]), self.tail("attempted-recon")))

    def generate(self, n):
        shapes = [(self.http_sticky, 22), (self.http_legacy, 14), (self.http_header_rule, 12),
                  (self.http_body, 7), (self.tls, 12), (self.dns, 12), (self.tcp_payload, 10),
                  (self.tcp_to_client, 3), (self.udp_payload, 5), (self.icmp, 2),
                  (self.no_content, 1)]
        if self.new:
            shapes += [(self.flowbits_pair, 2), (self.threshold_rule, 2)]
        total = sum(w for _, w in shapes)
        rules = []
        while len(rules) < n:
            x = self.rng.uniform(0, total)
            for fn, w in shapes:
                x -= w
                if x <= 0:
                    break
            out = fn()
            rules.extend(out if isinstance(out, list) else [out])
        return rules[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=int, default=5000, help="number of rules (default 5000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sid-base", type=int, default=5000000,
                    help="the first rule gets sid SID+1 (default 5000000)")
    ap.add_argument("--with-new-keywords", action="store_true",
                    help="add pcre, byte_test, isdataat, bsize, endswith, dotprefix, flowbits "
                         "and threshold rules")
    ap.add_argument("--out", default="-", help="output file (default: standard output)")
    ap.add_argument("--stats", action="store_true", help="print the shape counts on stderr")
    args = ap.parse_args()
    if args.rules < 0:
        ap.error("--rules must not be negative")

    gen = Gen(args.seed, args.sid_base, args.with_new_keywords)
    rules = gen.generate(args.rules)
    text = ("# ET-like rule set written by tests/bench/gen_rules.py --rules %d --seed %d%s\n"
            "# Every rule needs a random token that real traffic does not carry.\n" %
            (args.rules, args.seed, " --with-new-keywords" if args.with_new_keywords else ""))
    text += "".join(r + "\n" for r in rules)
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
    if args.stats:
        for shape, c in sorted(gen.counts.items(), key=lambda kv: -kv[1]):
            print("%6d  %s" % (c, shape), file=sys.stderr)


if __name__ == "__main__":
    main()
