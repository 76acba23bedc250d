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
import glob, json, re, sys
eve, expected, filt, root = sys.argv[1:5]
thresholded = set()
for path in glob.glob(root + "/signatures/rules/*.rules"):
    for line in open(path):
        m = re.search(r"\bsid\s*:\s*(\d+)", line)
        if m and not line.lstrip().startswith("#") and re.search(r"\bthreshold\s*:", line):
            thresholded.add(int(m.group(1)))
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
PY
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
    local i
    for ((i = 0; i < 150; i++)); do
        grep -q "capturing from" "$tmp/$name.err" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! grep -q "capturing from" "$tmp/$name.err"; then
        why="vigil did not start capturing: $(tail -n 5 "$tmp/$name.err" | tr '\n' ' ')"
    else
        in_ns tcpreplay -q -i vl-send --pps=1000 "$demo" >"$tmp/$name.replay" 2>&1 ||
            why="tcpreplay failed: $(tail -n 3 "$tmp/$name.replay" | tr '\n' ' ')"
    fi
    if [[ -z $why ]] && ! wait_for "$log/eve.json" "s['capture']['packets'] >= $want" 30; then
        why="no stats event counted $want packets within 30 s"
    fi
    kill "-$sig" "$pid" 2>/dev/null
    local rc
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        why=${why:-"vigil did not stop within 30 s of SIG$sig"}
        kill -KILL "$pid"
    fi
    wait "$pid"
    rc=$?
    pid=
    if [[ -z $why && $rc != 0 ]]; then
        why="exit status $rc after SIG$sig: $(tail -n 5 "$tmp/$name.err" | tr '\n' ' ')"
    fi
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
    if [[ -z $why ]]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name: $why"
        failed=$((failed + 1))
    fi
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

echo "$passed passed, $failed failed"
((failed == 0))
