#!/usr/bin/env bash
# Sets up vigil and runs it over the bundled demo capture with the shipped
# rules, then shows the alerts it found and where the EVE file is.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build
logdir=${VIGIL_DEMO_LOGDIR:-out/demo}
rm -rf "$logdir"
mkdir -p "$logdir"
set +e
build/vigil -r pcaps/demo/demo.pcap -l "$logdir"
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
echo "EVE JSON (alerts and flow records): $logdir/eve.json"
exit $status
