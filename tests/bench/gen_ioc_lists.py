#!/usr/bin/env python3
"""Writes IOC lists of the size threat-hunting guides hand out, and a rule file using them.

    gen_ioc_lists.py --out DIR [--entries 100000] [--seed 1]

DIR receives:
  domains.lst     string dataset (base64 per line): domains for dns.query, tls.sni, http.host
  ja3.lst         md5 dataset: JA3 hashes (hex)
  ja4.lst         string dataset (base64 per line): JA4 fingerprints
  c2.lst          ip dataset: IPv4 and IPv6 addresses, one in 20 a CIDR block (a vigil extension)
  categories.txt  iprep categories (id,shortname,description)
  reputation.lst  iprep scores (ip-or-cidr,category,score), one in 20 a CIDR block
  ioc.rules       rules using all of them (sids 9100001-9100008)
  ioc.args        the vigil arguments that point the configuration at the iprep files

The entries are random: names under random labels, IPv4 addresses from 100.64.0.0/10 and
IPv6 from 2001:db8::/32, which the benchmark mix does not use, so the rules raise no alert there:
they measure the cost of the lookups.
"""
import argparse
import base64
import hashlib
import ipaddress
import os
import random


def b64(s):
    return base64.b64encode(s.encode()).decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    n = args.entries
    os.makedirs(args.out, exist_ok=True)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    tlds = ["com", "net", "org", "info", "xyz", "top", "ru", "cn", "io", "biz"]

    def path(name):
        return os.path.join(args.out, name)

    with open(path("domains.lst"), "w") as f:
        for i in range(n):
            label = "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 14)))
            sub = "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 5)))
            f.write(b64(f"{sub}.{label}-{i}.{rng.choice(tlds)}") + "\n")

    with open(path("ja3.lst"), "w") as f:
        for i in range(n):
            f.write(hashlib.md5(f"ja3-{args.seed}-{i}".encode()).hexdigest() + "\n")

    with open(path("ja4.lst"), "w") as f:
        for i in range(n):
            h = hashlib.sha256(f"ja4-{args.seed}-{i}".encode()).hexdigest()
            proto = rng.choice("tq")
            version = rng.choice(["12", "13"])
            fp = (f"{proto}{version}{rng.choice('di')}{rng.randint(1, 99):02d}"
                  f"{rng.randint(1, 99):02d}{rng.choice(['h1', 'h2', '00'])}_{h[:12]}_{h[12:24]}")
            f.write(b64(fp) + "\n")

    def random_addr(i):
        """An address or, one time in 20, a block (IPv4 one time in 10, IPv6 otherwise)."""
        if i % 10 == 9:
            v6 = ipaddress.IPv6Address(int(ipaddress.IPv6Address("2001:db8::")) |
                                       rng.getrandbits(96))
            return f"{v6}/64" if i % 20 == 19 else str(v6)
        v4 = ipaddress.IPv4Address(int(ipaddress.IPv4Address("100.64.0.0")) | rng.getrandbits(22))
        if i % 20 == 0:
            return str(ipaddress.IPv4Network(f"{v4}/{rng.choice([24, 26, 28])}", strict=False))
        return str(v4)

    with open(path("c2.lst"), "w") as f:
        for i in range(n):
            f.write(random_addr(i) + "\n")

    with open(path("categories.txt"), "w") as f:
        f.write("1,BadHosts,Known bad hosts\n2,CnC,Command and control\n3,Scanner,Scanners\n")
    with open(path("reputation.lst"), "w") as f:
        for i in range(n):
            f.write(f"{random_addr(i)},{rng.randint(1, 3)},{rng.randint(1, 127)}\n")

    rules = [
        'alert dns any any -> any any (msg:"IOC DNS query"; dns.query; '
        'dataset:isset,ioc-domains,type string,load domains.lst; sid:9100001;)',
        'alert tls any any -> any any (msg:"IOC TLS SNI"; tls.sni; '
        'dataset:isset,ioc-domains,type string,load domains.lst; sid:9100002;)',
        'alert http any any -> any any (msg:"IOC HTTP host"; http.host; '
        'dataset:isset,ioc-domains,type string,load domains.lst; sid:9100003;)',
        'alert tls any any -> any any (msg:"IOC JA3"; ja3.hash; '
        'dataset:isset,ioc-ja3,type md5,load ja3.lst; sid:9100004;)',
        'alert tls any any -> any any (msg:"IOC JA4"; ja4.hash; '
        'dataset:isset,ioc-ja4,type string,load ja4.lst; sid:9100005;)',
        'alert ip any any -> any any (msg:"IOC C2 destination"; ip.dst; '
        'dataset:isset,ioc-c2,type ip,load c2.lst; sid:9100006;)',
        'alert ip any any -> any any (msg:"IOC C2 source"; ip.src; '
        'dataset:isset,ioc-c2,type ip,load c2.lst; sid:9100007;)',
        'alert ip any any -> any any (msg:"IOC reputation"; iprep:any,CnC,>,50; sid:9100008;)',
    ]
    with open(path("ioc.rules"), "w") as f:
        f.write("\n".join(rules) + "\n")
    out = os.path.abspath(args.out)
    with open(path("ioc.args"), "w") as f:
        f.write(f"--set reputation-categories-file={out}/categories.txt\n"
                f"--set reputation-files.0={out}/reputation.lst\n")


if __name__ == "__main__":
    main()
