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
