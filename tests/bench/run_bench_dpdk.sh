#!/usr/bin/env bash
# DPDK path benchmark: packets/s per worker core through vigil --dpdk, next to the capture
# file path, on the traffic mix of run_bench.sh. Builds nothing: build first (with DPDK), then
#
#   tests/bench/run_bench_dpdk.sh [BUILD_DIR]     (default: $BUILD, else "build")
#
# The DPDK port is net_pcap reading the capture (from the page cache: the file is read once
# before) and copying each packet into an mbuf, on the worker's lcore. The run is one pass:
# the script waits for a stats event counting every packet, then sends SIGINT; the rate is
# the packets over the time from the first packet received to the last one analysed
# (summary capture.active_s). No NIC, no hugepages.
#
# Environment:
#   BENCH_BYTES    size of the generated capture (default 300000000, as run_bench.sh)
#   BENCH_SEED     generator seed (default 1)
#   BENCH_FLOWS    concurrent flows in the generated mix (default 10000)
#   BENCH_PCAP     measure this (Ethernet) capture instead of the generated mix
#   BENCH_RUNS     runs per configuration; the median by packets/s is reported (default 5)
#   BENCH_WORKERS  worker counts (default "1"; DPDK with N > 1 workers and no RSS needs N + 2
#                  lcores: the main one, a dispatch lcore and the workers)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build=${1:-${BUILD:-build}}
if [[ ! -d $build && -d $root/$build ]]; then
    build=$root/$build
fi
if [[ ! -d $build ]]; then
    echo "run_bench_dpdk: build directory '$build' not found (meson setup build && ninja -C build)" >&2
    exit 2
fi
build=$(cd "$build" && pwd)
vigil=$build/vigil
gen_mix=$build/tests/bench/gen_mix
bytes=${BENCH_BYTES:-300000000}
seed=${BENCH_SEED:-1}
flows=${BENCH_FLOWS:-10000}
runs=${BENCH_RUNS:-5}
read -r -a worker_counts <<<"${BENCH_WORKERS:-1}"

if [[ ! -x $vigil || ! -x $gen_mix ]]; then
    echo "run_bench_dpdk: $vigil or $gen_mix not found: build first (ninja -C $build)" >&2
    exit 2
fi
if "$vigil" --dpdk -- --version 2>&1 | grep -q "built without DPDK"; then
    echo "run_bench_dpdk: $vigil was built without DPDK" >&2
    exit 2
fi

data=$here/data
mkdir -p "$data"
pcap=${BENCH_PCAP:-$data/mix.pcap}
# The same file and parameters file as run_bench.sh: either script reuses the other's mix.
if [[ -z ${BENCH_PCAP:-} ]]; then
    params="bytes=$bytes seed=$seed flows=$flows"
    if [[ ! -f $pcap || ! -f $pcap.params || $(<"$pcap.params") != "$params" ]]; then
        echo "== generating $pcap ($params)"
        "$gen_mix" --out "$pcap.tmp" --bytes "$bytes" --seed "$seed" --flows-concurrent "$flows"
        mv "$pcap.tmp" "$pcap"
        printf '%s\n' "$params" >"$pcap.params"
    fi
elif [[ ! -f $pcap ]]; then
    echo "run_bench_dpdk: BENCH_PCAP=$pcap not found" >&2
    exit 2
fi
# Both paths read the capture from memory: the page cache here, --preload for -r.
cat "$pcap" >/dev/null
npackets=$(
    "$vigil" -r "$pcap" -S /dev/null -l "$data/logs/count" --workers 1 -q \
        --summary-json "$data/count.json" 2>/dev/null || true
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["packets"])' "$data/count.json"
)

results=$data/results-dpdk
rm -rf "$results"
mkdir -p "$results"
manifest=$results/manifest.tsv
: >"$manifest"
read -r -a cpus <<<"$(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0)))')"

# EAL lcores: each on a CPU of its own when there are enough, else all free on every CPU.
lcore_arg() {
    local n=$1 i spec=
    if ((n <= ${#cpus[@]})); then
        for ((i = 0; i < n; i++)); do
            spec+="${spec:+,}$i@${cpus[i]}"
        done
    else
        local all
        all=$(
            IFS=,
            echo "${cpus[*]}"
        )
        spec="(0-$((n - 1)))@($all)"
    fi
    echo "--lcores=$spec"
}

# record NAME WORKERS COMMAND FILES...
record() {
    local name=$1 workers=$2 shown=$3
    shift 3
    local joined
    joined=$(
        IFS=,
        echo "$*"
    )
    printf '%s\t%s\t%s\t%s\n' "$name" "$workers" "$shown" "$joined" >>"$manifest"
}

run_file() {
    local w=$1 name="file-w$1" files=() r
    local logdir=$data/logs/$name
    local cmd=("$vigil" -r "$pcap" -l "$logdir" --workers "$w" --preload)
    echo "== $name: $runs run(s)"
    for ((r = 1; r <= runs; r++)); do
        rm -rf "$logdir"
        mkdir -p "$logdir"
        if "${cmd[@]}" --summary-json "$results/$name.$r.json" -q 2>"$results/$name.$r.stderr"; then
            files+=("$results/$name.$r.json")
        else
            echo "   run $r failed; stderr:" >&2
            tail -n 10 "$results/$name.$r.stderr" >&2 || true
        fi
    done
    record "$name" "$w" "$(printf '%q ' "${cmd[@]}" --summary-json "$results/$name.N.json" -q)" \
        "${files[@]}"
}

# wait_received EVE N: waits (up to 10 minutes) for a stats event counting N packets.
wait_received() {
    python3 - "$1" "$2" <<'PY'
import json, os, sys, time
eve, want = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 600
while time.time() < deadline:
    time.sleep(0.2)
    if not os.path.exists(eve):
        continue
    got = 0
    for line in open(eve, "rb"):
        try:
            e = json.loads(line)
        except ValueError:
            break
        if e.get("event_type") == "stats":
            got = e["stats"]["capture"]["packets"]
    if got >= want:
        sys.exit(0)
sys.exit(1)
PY
}

run_dpdk() {
    local w=$1 name="dpdk-w$1" files=() r
    local logdir=$data/logs/$name
    local lcores=$((w + 1 + (w > 1 ? 1 : 0)))
    local cmd=("$vigil" --dpdk --no-huge --no-pci --no-shconf --no-telemetry -m 256
        "$(lcore_arg "$lcores")" "--vdev=net_pcap0,rx_pcap=$pcap" --
        -l "$logdir" --workers "$w" --set stats.interval=1)
    echo "== $name: $runs run(s)"
    for ((r = 1; r <= runs; r++)); do
        rm -rf "$logdir"
        mkdir -p "$logdir"
        "${cmd[@]}" --summary-json "$results/$name.$r.json" -q 2>"$results/$name.$r.stderr" &
        local pid=$!
        wait_received "$logdir/eve.json" "$npackets" || echo "   run $r: not every packet arrived" >&2
        kill -INT "$pid" 2>/dev/null || true
        if wait "$pid" && [[ -s $results/$name.$r.json ]]; then
            files+=("$results/$name.$r.json")
        else
            echo "   run $r failed; stderr:" >&2
            tail -n 10 "$results/$name.$r.stderr" >&2 || true
        fi
    done
    record "$name" "$w" "$(printf '%q ' "${cmd[@]}" --summary-json "$results/$name.N.json" -q)" \
        "${files[@]}"
}

for w in "${worker_counts[@]}"; do
    run_file "$w"
    run_dpdk "$w"
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    rev="$rev (with local changes)"
fi

python3 - "$manifest" "$pcap" "$npackets" "$runs" "$cpu" "$(nproc)" "$rev" <<'PY'
import json
import os
import sys

manifest, pcap, npackets, runs, cpu, cores, rev = sys.argv[1:8]
print()
print(f"capture  {pcap} ({os.path.getsize(pcap) / 1e6:.0f} MB, {npackets} packets)")
print(f"machine  {cpu}, {cores} cores; vigil {rev}")
print(f"each configuration: median of {runs} run(s) by packets/s")
print()
fmt = "{:<10} {:>7} {:>12} {:>9} {:>9} {:>11} {:>9} {:>8} {:>13} {:>13}"
print(fmt.format("config", "workers", "packets", "avg pkt B", "Mpps/core", "Gbit/s/core",
                 "time s", "alerts", "drops", "Mpps spread"))
commands = []
failed = False
for line in open(manifest):
    name, workers, command, files = line.rstrip("\n").split("\t")
    commands.append((name, command))
    runs_ = []
    for path in filter(None, files.split(",")):
        with open(path) as f:
            s = json.load(f)
        # DPDK: from the first packet received to the last analysed (the run waits idle
        # after that); the file path: elapsed_s
        el = float(s.get("capture", {}).get("active_s") or s.get("elapsed_s") or 0)
        s["_time"] = el
        s["_pps"] = s["packets"] / el if el else 0.0
        s["_gbps"] = s["bytes"] * 8 / el / 1e9 if el else 0.0
        cap = s.get("capture", {})
        s["_drops"] = sum(int(cap.get(k, 0)) for k in ("kernel_drops", "worker_ring_full",
                                                       "errors", "oversize"))
        runs_.append(s)
    if not runs_:
        print(fmt.format(name, workers, "failed", *["-"] * 7))
        failed = True
        continue
    runs_.sort(key=lambda s: s["_pps"])
    m = runs_[len(runs_) // 2]
    w = int(workers)
    print(fmt.format(name, w, m["packets"], f"{m['bytes'] / max(m['packets'], 1):.1f}",
                     f"{m['_pps'] / w / 1e6:.3f}", f"{m['_gbps'] / w:.2f}",
                     f"{m['_time']:.3f}", m["alerts"], m["_drops"],
                     f"{runs_[0]['_pps'] / 1e6:.3f}-{runs_[-1]['_pps'] / 1e6:.3f}"))
print()
print("commands:")
for name, command in commands:
    print(f"  {name}: {command}")
sys.exit(1 if failed else 0)
PY
