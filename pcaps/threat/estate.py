"""The BIG-IP estate of the generated captures, as pcaps/estate.yaml describes it.

Every generator under pcaps/threat/ (and pcaps/demo/make_demo.py) takes its addresses
from here, so a capture and the configuration it is tested with agree.
"""

BIGIP_MGMT = "10.1.1.245"          # management address of bigip1 (in BIGIP_MGMT_NET)
BIGIP_MGMT2 = "10.1.1.246"         # management address of bigip2 (HA peer)
BIGIP_MGMT6 = "2001:db8:f5::245"   # IPv6 management address of bigip1
BIGIP_SELF_EXT = "10.1.20.2"       # self IP on the external VLAN (in BIGIP_SELF_IPS)
BIGIP_SELF_INT = "10.1.30.2"       # self IP on the internal VLAN
BIGIP_VIP = "10.1.20.10"           # a virtual server (NOT an appliance address)
POOL_MEMBER = "10.1.30.80"         # a pool member behind the virtual server
ADMIN = "10.1.5.10"                # administrator workstation (in BIGIP_ADMIN_NET)
ADMIN2 = "10.1.5.11"
INTERNAL_CLIENT = "10.1.50.21"     # an ordinary internal host (not admin, not appliance)
DNS_SERVER = "10.1.10.53"          # internal resolver (in BIGIP_EGRESS_ALLOWED)
NTP_SERVER = "10.1.10.123"         # internal NTP (in BIGIP_EGRESS_ALLOWED)
IHEALTH = "198.18.0.10"            # stands in for ihealth2-api.f5.com (in BIGIP_EGRESS_ALLOWED)
EXT_CLIENT = "198.51.100.23"       # an ordinary internet client
ATTACKER = "203.0.113.66"          # internet attacker (documentation range)
ATTACKER2 = "198.51.100.77"
ATTACKER6 = "2001:db8:bad::66"
EXT_SERVER = "192.0.2.80"          # an ordinary internet server (not an IOC)

# published BRICKSTORM / UNC5221 C2 addresses (threat model 2.1) and DoH resolvers
C2_ADDRESSES = ["208.83.233.14", "149.28.120.31", "64.176.166.79", "149.248.11.71"]
DOH_RESOLVERS = ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "9.9.9.11",
                 "149.112.112.11", "45.90.28.160"]

BIGIP_MGMT_PORTS = (22, 443, 8443)

APPLIANCES = {BIGIP_MGMT, BIGIP_MGMT2, BIGIP_MGMT6, BIGIP_SELF_EXT, BIGIP_SELF_INT}
ADMIN_NET = "10.1.5.0/24"          # BIGIP_ADMIN_NET

# Behaviour detector 8490003 (signatures/rules/bigip-behaviour.rules) raises one alert per
# connection to a management port of an appliance from outside the admin networks.
MGMT_ACCESS_SID = "8490003"


def reaches_mgmt_port(client, server_ip, server_port):
    """Whether a connection from client to server_ip:server_port raises 8490003."""
    import ipaddress
    return (server_ip in APPLIANCES and server_port in BIGIP_MGMT_PORTS and
            ipaddress.ip_address(client) not in ipaddress.ip_network(ADMIN_NET))


def write_family(out, family, cases, readme_head):
    """Writes a family's captures, expected.json (tests/pcap/run_threat.py's schema) and
    README.md. cases: objects with name, kind, covers, alerts, description, wire, cap."""
    import json
    import os
    entries, rows = [], []
    for c in cases:
        pcap = c.name + ".pcap"
        c.cap.write_pcap(os.path.join(out, pcap))
        entries.append({"name": c.name, "pcap": pcap, "kind": c.kind, "covers": c.covers,
                        "alerts": c.alerts, "description": c.description})
        alerts = ", ".join("%s x%d" % (k, v) for k, v in sorted(c.alerts.items())) or "none"
        rows.append("| %s | %s | %s | %s |" % (c.name, c.kind, c.wire.replace("|", "\\|"),
                                               alerts))
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"family": family, "cases": entries}, f, indent=1, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(readme_head + "\n".join(rows) + "\n\nWhat each case shows:\n\n" +
                "".join("- `%s`: %s\n" % (c.name, c.description) for c in cases))
