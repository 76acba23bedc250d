#!/usr/bin/env bash
# Sets up vigil and runs it over the bundled demo capture with the shipped
# rules and the demo's estate (pcaps/estate.yaml: where the BIG-IP appliances,
# admin network and egress allow-list are), then shows the alerts it found and
# where the EVE file is.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
logdir=${VIGIL_DEMO_LOGDIR:-out/demo}
rm -rf "$logdir"
mkdir -p "$logdir"
set +e
build/vigil -r pcaps/demo/demo.pcap -c pcaps/estate.yaml -l "$logdir"
status=$?
set -e
echo
echo "alerts in $logdir/eve.json:"
python3 - "$logdir/eve.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    if ev.get("event_type") != "alert":
        continue
    a = ev["alert"]
    def endpoint(ip, port):
        host = f"[{ip}]" if ":" in ip else ip
        return f"{host}:{port}" if port is not None else host
    print(f'  {ev["timestamp"]}  {endpoint(ev["src_ip"], ev.get("src_port"))} -> '
          f'{endpoint(ev["dest_ip"], ev.get("dest_port"))}  [{a["signature_id"]}] {a["signature"]}')
PY
echo
echo "application records in $logdir/eve.json:"
python3 - "$logdir/eve.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    ev = json.loads(line)
    kind = ev.get("event_type")
    where = f'{ev.get("src_ip")}:{ev.get("src_port")} -> {ev.get("dest_ip")}:{ev.get("dest_port")}'
    if kind == "http":
        h = ev["http"]
        print(f'  http  {where}  {h.get("http_method")} {h.get("hostname", "")}{h.get("url")} '
              f'-> {h.get("status")}' + (f'  mgmt={h["bigip"]["mgmt"]}' if "mgmt" in h.get("bigip", {}) else ""))
        for c in h.get("bigip", {}).get("cookies", []):
            print(f'        BIGipServer cookie: pool {c.get("pool_name")} -> member '
                  f'{c.get("member_ip")}:{c.get("member_port")} (route domain {c.get("route_domain")}, '
                  f'private address: {c.get("private_member")})')
    elif kind == "tls":
        t = ev["tls"]
        print(f'  tls   {where}  {t.get("version")} sni={t.get("sni")} ja3={t.get("ja3", {}).get("hash")} '
              f'ja4={t.get("ja4")}' + (f'\n        certificate: {t["subject"]} serial {t.get("serial")} '
                                      f'sha1 {t.get("fingerprint")}' if "subject" in t else ""))
    elif kind == "dns":
        d = ev["dns"]
        answers = ", ".join(f'{a.get("rrtype")} {a.get("rdata")}' for a in d.get("answers", []))
        print(f'  dns   {where}  {d.get("type")} {d.get("rrname")} {d.get("rrtype")}'
              + (f' -> {answers}' if answers else ""))
    elif kind == "ssh":
        s = ev["ssh"]
        print(f'  ssh   {where}  client {s.get("client", {}).get("software_version")} '
              f'server {s.get("server", {}).get("software_version")}')
    elif kind == "anomaly" and ev["anomaly"].get("type") == "applayer":
        print(f'  anomaly {where}  {ev["anomaly"]["app_proto"]} {ev["anomaly"]["event"]}')
PY
echo
echo "EVE JSON (alerts, http/tls/dns records, anomalies, flow records): $logdir/eve.json"
exit $status
