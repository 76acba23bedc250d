#!/usr/bin/env bash
# Live capture test: vigil on one end of a veth pair, tcpreplay of the demo capture into
# the other end, all inside a network namespace this test creates and deletes.
#
#   tests/pcap/run_live.sh VIGIL SOURCE_ROOT
#
# Runs (each prints PASS or FAIL; the last line counts them):
#   dpdk-af-packet  vigil --dpdk with net_af_packet on vl-cap, tap forwarding to net_af_packet
#                   on vl-tap: the demo's alerts appear (per sid, and VLAN 100 on the tagged
#                   session), and vl-far, the other end of vl-tap, receives every packet
#                   (its /sys/class/net/vl-far/statistics/rx_packets grows by the capture's count).
#   pcap            vigil -i vl-cap (libpcap), stopped with SIGTERM: the same alerts.
#   pcap-bpf        vigil -i vl-cap --bpf 'host 192.0.2.45': only the alerts of that
#                   attacker's two sessions.
#   pcap-reload     vigil -i vl-cap with datasets.brickstorm-c2-domains.load pointing at a list
#                   holding only a comment: pcaps/threat/brickstorm/customer-c2-domain.pcap
#                   (a lookup, TLS and HTTP to a customer C2 domain) raises no alert; the
#                   domain is written into the list, SIGHUP, vigil says "reloaded IOC lists",
#                   the capture is replayed again: exactly one alert each of 8401150, 8401151
#                   and 8401152, and the stats count both replays' packets (capture never
#                   stopped).
# Each run waits for vigil to say it is capturing, replays, waits for a stats event counting
# every packet, then stops vigil with a signal and expects exit status 0.
#
# Needs root (namespaces, veth), ip and tcpreplay (scripts/setup.sh installs them); without
# them it prints a SKIP line and exits 77. The DPDK run is skipped when vigil was built
# without DPDK. No address is configured anywhere: the replayed packets only exist inside
# the namespace.
set -u

vigil=${1:?usage: run_live.sh VIGIL SOURCE_ROOT}
root=${2:?usage: run_live.sh VIGIL SOURCE_ROOT}
demo=$root/pcaps/demo/demo.pcap
expected=$root/pcaps/demo/expected.json
# the demo's expectations hold for the shipped rules with the demo estate
estate=$root/pcaps/estate.yaml

if [[ $(id -u) != 0 ]]; then
    echo "SKIP live: needs root to create a network namespace and veth pairs"
    exit 77
fi
for tool in ip tcpreplay python3; do
    if ! command -v "$tool" >/dev/null; then
        echo "SKIP live: $tool is not installed (scripts/setup.sh installs it)"
        exit 77
    fi
done

ns=vigil-live-$$
tmp=$(mktemp -d /tmp/vigil-live-XXXXXX)
pid=
cleanup() {
    if [[ -n $pid ]]; then
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    fi
    ip netns del "$ns" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

if ! ip netns add "$ns" 2>"$tmp/netns.err"; then
    echo "SKIP live: cannot create a network namespace: $(cat "$tmp/netns.err")"
    exit 77
fi
in_ns() { ip netns exec "$ns" "$@"; }
# No IPv6 autoconfiguration chatter: the only packets are the replayed ones.
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link add vl-send type veth peer name vl-cap
ip -n "$ns" link add vl-tap type veth peer name vl-far
for i in lo vl-send vl-cap vl-tap vl-far; do
    ip -n "$ns" link set "$i" up
done

npackets=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$expected")
# Packets of the sessions of 192.0.2.45, what --bpf 'host 192.0.2.45' lets through.
nhost=$(python3 - "$expected" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))
print(sum(s["pkts_toserver"] + s["pkts_toclient"] for s in e["sessions"]
          if "192.0.2.45" in (s["src_ip"], s["dest_ip"])))
PY
)
passed=0
failed=0

# wait_for FILE PYTHON-CONDITION SECONDS: polls until the condition on FILE holds.
wait_for() {
    local file=$1 cond=$2 secs=$3 i
    for ((i = 0; i < secs * 5; i++)); do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        if python3 - "$file" "$cond" <<'PY' 2>/dev/null; then
import json, sys
path, cond = sys.argv[1], sys.argv[2]
stats = []
for line in open(path, "rb"):
    try:
        e = json.loads(line)
    except ValueError:
        break
    if e.get("event_type") == "stats":
        stats.append(e["stats"])
sys.exit(0 if stats and eval(cond, {"s": stats[-1]}) else 1)
PY
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# check_alerts LOGDIR FILTER: the alerts in LOGDIR/eve.json are those of the demo's
# expected.json alert_list that FILTER (a Python expression on an entry `a`) keeps.
# A rule with a threshold lets one of several flows through; with several workers which
# one depends on timing (as in Suricata), so only its addresses are compared.
check_alerts() {
    python3 - "$1/eve.json" "$expected" "$2" "$root" <<'PY'
import json, sys
eve, expected, filt, root = sys.argv[1:5]
sys.path.insert(0, root + "/tests/pcap")
from run_e2e import thresholded_sids
thresholded = thresholded_sids(root)
def key(sid, src, sport, dst, dport, vlan):
    if sid in thresholded:
        return (sid, src, 0, dst, 0, vlan)
    return (sid, src, sport, dst, dport, vlan)
exp = json.load(open(expected))
want = sorted(key(a["sid"], a["src_ip"], a["src_port"], a["dest_ip"], a["dest_port"],
                  a["vlan"] or None) for a in exp["alert_list"] if eval(filt, {"a": a}))
got = []
for line in open(eve, "rb"):
    e = json.loads(line)
    if e.get("event_type") == "alert":
        got.append(key(e["alert"]["signature_id"], e["src_ip"], e["src_port"], e["dest_ip"],
                       e["dest_port"], e.get("vlan")))
got.sort()
if got != want:
    print("alerts differ:\n  got      %s\n  expected %s" % (got, want))
    sys.exit(1)
# The last stats event (written at shutdown) counts the behaviour detectors' alerts.
stats = [json.loads(l) for l in open(eve, "rb") if b'"event_type":"stats"' in l]
det = stats[-1]["stats"].get("detectors") if stats else None
for name, sid in (("long_session", 8490001), ("new_egress", 8490002), ("mgmt_access", 8490003)):
    n = sum(1 for k in got if k[0] == sid)
    if det is None or det[name]["alerts"] != n:
        print("stats.detectors %r, but %d alerts of sid %d" % (det, n, sid))
        sys.exit(1)
PY
}

# The steps of a live case, on the vigil started as $pid; each prints why it failed (nothing
# when it did not), except stop_vigil, which must wait for its own child.
# wait_capturing NAME: until vigil says it captures (30 s at most).
wait_capturing() {
    local name=$1 i
    for ((i = 0; i < 150; i++)); do
        grep -q "capturing from" "$tmp/$name.err" 2>/dev/null && return
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    grep -q "capturing from" "$tmp/$name.err" 2>/dev/null ||
        echo "vigil did not start capturing: $(tail -n 5 "$tmp/$name.err" | tr '\n' ' ')"
}

# replay NAME CAPTURE PPS: the capture into the interface vigil listens on.
replay() {
    in_ns tcpreplay -q -i vl-send --pps="$3" "$2" >"$tmp/$1.replay" 2>&1 ||
        echo "tcpreplay failed: $(tail -n 3 "$tmp/$1.replay" | tr '\n' ' ')"
}

# stop_vigil NAME SIGNAL: signals vigil and waits 30 s for it (then kills it); sets stop_why,
# empty when it stopped with status 0.
stop_vigil() {
    local name=$1 sig=$2 i rc
    stop_why=
    kill "-$sig" "$pid" 2>/dev/null
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        stop_why="vigil did not stop within 30 s of SIG$sig"
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
    pid=
    if [[ -z $stop_why && $rc != 0 ]]; then
        stop_why="exit status $rc after SIG$sig: $(tail -n 5 "$tmp/$name.err" | tr '\n' ' ')"
    fi
}

# report NAME WHY: PASS when WHY is empty.
report() {
    if [[ -z $2 ]]; then
        echo "PASS $1"
        passed=$((passed + 1))
    else
        echo "FAIL $1: $2"
        failed=$((failed + 1))
    fi
}

# run_case NAME SIGNAL CHECK-FILTER far-end|no PACKETS -- VIGIL-ARGS...
# PACKETS: how many packets vigil is to receive (those the filter lets through).
run_case() {
    local name=$1 sig=$2 filt=$3 far=$4 want=$5
    shift 6
    local log=$tmp/$name why=
    local far_before=0 far_after
    far_before=$(in_ns cat /sys/class/net/vl-far/statistics/rx_packets)
    # ip netns exec execs vigil, so $! is vigil's pid (a shell function would add a subshell)
    ip netns exec "$ns" "$vigil" "$@" -c "$estate" -l "$log" --set stats.interval=1 \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    why=$(wait_capturing "$name")
    [[ -n $why ]] || why=$(replay "$name" "$demo" 1000)
    if [[ -z $why ]] && ! wait_for "$log/eve.json" "s['capture']['packets'] >= $want" 30; then
        why="no stats event counted $want packets within 30 s"
    fi
    stop_vigil "$name" "$sig"
    why=${why:-$stop_why}
    if [[ -z $why ]]; then
        why=$(check_alerts "$log" "$filt") || true
    fi
    if [[ -z $why && $far == far-end ]]; then
        far_after=$(in_ns cat /sys/class/net/vl-far/statistics/rx_packets)
        if ((far_after - far_before != npackets)); then
            why="the far end of the tap port received $((far_after - far_before)) packets, expected $npackets"
        elif ! grep -q "tap        net_af_packet0 -> net_af_packet1: $npackets sent, 0 not sent" \
            "$tmp/$name.out"; then
            why="the summary does not report $npackets packets tap-forwarded: $(grep tap "$tmp/$name.out")"
        fi
    fi
    report "$name" "$why"
}

if "$vigil" --dpdk -- --version 2>&1 | grep -q "built without DPDK"; then
    echo "SKIP dpdk-af-packet: vigil was built without DPDK"
else
    run_case dpdk-af-packet INT "True" far-end "$npackets" -- \
        --dpdk --no-huge --no-pci --no-shconf --no-telemetry -m 256 -l 0-1 \
        --vdev=net_af_packet0,iface=vl-cap --vdev=net_af_packet1,iface=vl-tap -- \
        --set dpdk.ports.0.interface=net_af_packet0 --set dpdk.ports.0.tap-to=net_af_packet1
fi
run_case pcap TERM "True" no "$npackets" -- -i vl-cap
run_case pcap-bpf INT "'192.0.2.45' in (a['src_ip'], a['dest_ip'])" no "$nhost" -- \
    -i vl-cap --bpf "host 192.0.2.45"

# count_alerts LOGDIR: the alerts in LOGDIR/eve.json as {sid: count}, sorted.
count_alerts() {
    python3 - "$1/eve.json" <<'PY'
import collections, json, sys
c = collections.Counter()
for line in open(sys.argv[1], "rb"):
    e = json.loads(line)
    if e.get("event_type") == "alert":
        c[e["alert"]["signature_id"]] += 1
print(dict(sorted(c.items())))
PY
}

# The dataset reload: the same capture before and after the customer list gains its domain.
run_reload_case() {
    local name=pcap-reload log=$tmp/pcap-reload why= got i
    local cap=$root/pcaps/threat/brickstorm/customer-c2-domain.pcap
    local list=$tmp/c2.txt
    local n
    # the capture's packet count (classic little-endian pcap records)
    n=$(python3 - "$cap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
o, k = 24, 0
while o < len(d):
    o += 16 + struct.unpack_from("<I", d, o + 8)[0]
    k += 1
print(k)
PY
)
    echo "# the customer list, not received yet" >"$list"
    ip netns exec "$ns" "$vigil" -i vl-cap -c "$estate" -l "$log" --set stats.interval=1 \
        --set "datasets.brickstorm-c2-domains.load=$list" \
        --set datasets.brickstorm-c2-domains.format=plain \
        >"$tmp/$name.out" 2>"$tmp/$name.err" &
    pid=$!
    why=$(wait_capturing "$name")
    [[ -n $why ]] || why=$(replay "$name" "$cap" 100)
    if [[ -z $why ]] && ! wait_for "$log/eve.json" "s['capture']['packets'] >= $n" 30; then
        why="no stats event counted $n packets within 30 s"
    fi
    if [[ -z $why ]]; then
        got=$(count_alerts "$log")
        [[ $got == "{}" ]] || why="alerts before the reload: $got, expected none"
    fi
    if [[ -z $why ]]; then
        grep -v '^#' "$root/pcaps/threat/brickstorm/customer-c2-domains.txt" >>"$list"
        kill -HUP "$pid"
        for ((i = 0; i < 150; i++)); do
            grep -q "reloaded IOC lists" "$tmp/$name.err" && break
            sleep 0.2
        done
        grep -q "vigil: reloaded IOC lists: .* 0 failed" "$tmp/$name.err" ||
            why="no clean reload within 30 s of SIGHUP: $(tail -n 3 "$tmp/$name.err" | tr '\n' ' ')"
    fi
    [[ -n $why ]] || why=$(replay "$name" "$cap" 100)
    if [[ -z $why ]] && ! wait_for "$log/eve.json" "s['capture']['packets'] >= 2 * $n" 30; then
        why="after the reload no stats event counted $((2 * n)) packets within 30 s"
    fi
    stop_vigil "$name" TERM
    why=${why:-$stop_why}
    if [[ -z $why ]]; then
        got=$(count_alerts "$log")
        [[ $got == "{8401150: 1, 8401151: 1, 8401152: 1}" ]] ||
            why="alerts after the reload: $got, expected one each of 8401150, 8401151, 8401152"
    fi
    report "$name" "$why"
}
run_reload_case

echo "$passed passed, $failed failed"
((failed == 0))
