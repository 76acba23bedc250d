#!/usr/bin/env bash
# Throughput benchmark: runs vigil over a large generated traffic mix held in memory and
# prints packets/s and Gbit/s per worker core. Builds nothing: build first, then
#
#   tests/bench/run_bench.sh [BUILD_DIR]        (default: $BUILD, else "build")
#
# Environment:
#   BENCH_BYTES    size of the generated capture in bytes (default 300000000)
#   BENCH_SEED     generator seed (default 1)
#   BENCH_FLOWS    concurrent flows in the generated mix (default 10000)
#   BENCH_PCAP     measure this capture instead of the generated mix
#   BENCH_RUNS     runs per configuration; the median by packets/s is reported (default 5)
#   BENCH_WORKERS  worker counts to measure with the shipped rules (default "1", plus "2"
#                  when the machine has more than 2 cores: the reader thread needs one)
#   BENCH_MODE     "rules": the mix with no rules, the shipped rules, and the shipped rules
#                  plus BENCH_GEN_RULES rules from gen_rules.py; then `vigil -T` load time,
#                  database sizes and peak memory for each count of BENCH_LOAD_RULES
#                  "ioc": the shipped rules with and without 8 rules looking up 100,000-entry
#                  IOC lists (datasets on dns.query, tls.sni, http.host, ja3.hash, ja4.hash,
#                  ip.src, ip.dst, and iprep) written by gen_ioc_lists.py
#   BENCH_GEN_RULES   generated rules run over the mix in "rules" mode (default 5000)
#   BENCH_LOAD_RULES  generated rule counts loaded with -T in "rules" mode (default "5000 20000")
#   BENCH_GEN_ARGS    more gen_rules.py arguments (e.g. --with-new-keywords)
#   BENCH_CONFIG      configuration for every run (default pcaps/estate.yaml: the shipped
#                     rules scoped to the BIG-IP estate are loaded, not dormant)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build=${1:-${BUILD:-build}}
if [[ ! -d $build && -d $root/$build ]]; then
    build=$root/$build
fi
if [[ ! -d $build ]]; then
    echo "run_bench: build directory '$build' not found (meson setup build && ninja -C build)" >&2
    exit 2
fi
build=$(cd "$build" && pwd)

vigil=$build/vigil
config=${BENCH_CONFIG:-$root/pcaps/estate.yaml}
gen_mix=$build/tests/bench/gen_mix
bytes=${BENCH_BYTES:-300000000}
seed=${BENCH_SEED:-1}
flows=${BENCH_FLOWS:-10000}
runs=${BENCH_RUNS:-5}
data=$here/data
pcap=${BENCH_PCAP:-$data/mix.pcap}
cores=$(nproc)
mode=${BENCH_MODE:-}
gen_count=${BENCH_GEN_RULES:-5000}
read -r -a load_counts <<<"${BENCH_LOAD_RULES:-5000 20000}"
read -r -a gen_args <<<"${BENCH_GEN_ARGS:-}"

if [[ -n ${BENCH_WORKERS:-} ]]; then
    read -r -a worker_counts <<<"$BENCH_WORKERS"
else
    worker_counts=(1)
    if ((cores > 2)); then
        worker_counts+=(2)
    fi
fi

if [[ ! -x $vigil ]]; then
    echo "run_bench: $vigil not found: build vigil first (ninja -C $build)" >&2
    exit 2
fi

mkdir -p "$data"

# The generated mix is reused while its parameters stay the same.
if [[ -z ${BENCH_PCAP:-} ]]; then
    params="bytes=$bytes seed=$seed flows=$flows"
    if [[ ! -f $pcap || ! -f $pcap.params || $(<"$pcap.params") != "$params" ]]; then
        if [[ ! -x $gen_mix ]]; then
            echo "run_bench: $gen_mix not found: build it first (ninja -C $build)" >&2
            exit 2
        fi
        echo "== generating $pcap ($params)"
        "$gen_mix" --out "$pcap.tmp" --bytes "$bytes" --seed "$seed" --flows-concurrent "$flows"
        mv "$pcap.tmp" "$pcap"
        printf '%s\n' "$params" >"$pcap.params"
    fi
elif [[ ! -f $pcap ]]; then
    echo "run_bench: BENCH_PCAP=$pcap not found" >&2
    exit 2
fi

results=$data/results
rm -rf "$results"
mkdir -p "$results"
manifest=$results/manifest.tsv
: >"$manifest"
failed=0

# run_config NAME WORKERS [RULE ARGS...]: runs vigil $runs times, records the summaries.
run_config() {
    local name=$1 workers=$2
    shift 2
    local logdir=$data/logs/$name
    local cmd=("$vigil" -r "$pcap" -c "$config" "$@" -l "$logdir" --workers "$workers" --preload)
    local files=() r out
    echo "== $name: $runs run(s)"
    for ((r = 1; r <= runs; r++)); do
        out=$results/$name.$r.json
        rm -rf "$logdir"
        mkdir -p "$logdir"
        local rc=0
        "${cmd[@]}" --summary-json "$out" -q 2>"$results/$name.$r.stderr" || rc=$?
        # exit 2: the run completed with problems (e.g. skipped rules); still a measurement
        if ((rc == 2)) && [[ -s $out ]]; then
            echo "   run $r completed with problems (exit 2):" >&2
            tail -n 5 "$results/$name.$r.stderr" >&2 || true
        fi
        if ((rc == 0 || rc == 2)) && [[ -s $out ]]; then
            files+=("$out")
        else
            echo "   run $r failed (exit $rc); stderr:" >&2
            tail -n 20 "$results/$name.$r.stderr" >&2 || true
            failed=1
        fi
    done
    local shown
    shown=$(printf '%q ' "${cmd[@]}" --summary-json "$results/$name.N.json" -q)
    local joined
    joined=$(
        IFS=,
        echo "${files[*]:-}"
    )
    printf '%s\t%s\t%s\t%s\n' "$name" "$workers" "${shown% }" "$joined" >>"$manifest"
}

# gen_rule_file N: the generated rule file of N rules (written once per argument set)
gen_rule_file() {
    local n=$1 file=$data/rules/generated-$1.rules
    mkdir -p "$data/rules"
    local params="rules=$n ${gen_args[*]:-}"
    if [[ ! -f $file || ! -f $file.params || $(<"$file.params") != "$params" ]]; then
        python3 "$here/gen_rules.py" --rules "$n" --out "$file" "${gen_args[@]}"
        printf '%s\n' "$params" >"$file.params"
    fi
    printf '%s\n' "$file"
}

if [[ $mode == rules ]]; then
    shipped_args=()
    for f in "$root"/signatures/rules/*.rules; do
        shipped_args+=(-S "$f")
    done
    generated=$(gen_rule_file "$gen_count")
    run_config "no-rules-w1" 1 -S /dev/null
    run_config "shipped-rules-w1" 1
    run_config "shipped+generated-$gen_count-w1" 1 "${shipped_args[@]}" -S "$generated"
elif [[ $mode == ioc ]]; then
    ioc=$data/ioc
    if [[ ! -f $ioc/ioc.rules ]]; then
        python3 "$here/gen_ioc_lists.py" --out "$ioc" --entries 100000
    fi
    shipped_args=()
    for f in "$root"/signatures/rules/*.rules; do
        shipped_args+=(-S "$f")
    done
    read -r -a ioc_args <<<"$(tr '\n' ' ' <"$ioc/ioc.args")"
    run_config "shipped-rules-w1" 1
    run_config "shipped+ioc-100k-w1" 1 "${shipped_args[@]}" -S "$ioc/ioc.rules" "${ioc_args[@]}"
else
    for w in "${worker_counts[@]}"; do
        run_config "shipped-rules-w$w" "$w"
    done
    run_config "no-rules-w1" 1 -S /dev/null
    # the cost of the application layer (parsers, nDPI, app records): shipped rules without it
    run_config "shipped-rules-no-app-layer-w1" 1 --set app-layer.enabled=false
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    rev="$rev (with local changes)"
fi

python3 - "$manifest" "$pcap" "$runs" "$cpu" "$cores" "$rev" <<'PY'
import json
import os
import sys

manifest, pcap, runs, cpu, cores, rev = sys.argv[1:7]


def rate(summary, key, fallback):
    value = summary.get(key)
    return float(value) if isinstance(value, (int, float)) else fallback


rows, commands, warnings = [], [], []
for line in open(manifest):
    name, workers, command, files = line.rstrip("\n").split("\t")
    commands.append((name, command))
    summaries = []
    for path in filter(None, files.split(",")):
        with open(path) as f:
            s = json.load(f)
        elapsed = float(s.get("elapsed_s") or 0)
        packets = int(s.get("packets") or 0)
        nbytes = int(s.get("bytes") or 0)
        s["_pps"] = rate(s, "pps", packets / elapsed if elapsed else 0.0)
        s["_gbps"] = rate(s, "gbps", nbytes * 8 / elapsed / 1e9 if elapsed else 0.0)
        summaries.append(s)
    if not summaries:
        rows.append((name, None, None, []))
        continue
    summaries.sort(key=lambda s: s["_pps"])
    median = summaries[len(summaries) // 2]
    rows.append((name, int(median.get("workers") or workers), median, summaries))
    if name.startswith("shipped") and int(median.get("alerts") or 0):
        warnings.append(f"{name}: {median['alerts']} alerts on the benign mix "
                        f"(false positives? see {os.path.dirname(pcap)}/logs/{name}/eve.json)")

print()
print(f"capture  {pcap} ({os.path.getsize(pcap) / 1e6:.0f} MB)")
print(f"machine  {cpu}, {cores} cores; vigil {rev}")
print(f"each configuration: median of {runs} run(s) by packets/s; capture preloaded in memory")
print()
header = ("configuration", "workers", "packets", "avg pkt B", "Mpps/core", "Gbit/s/core",
          "total Mpps", "total Gbit/s", "elapsed s", "flows", "alerts", "peak RSS MB",
          "RSS - capture", "Mpps spread")
fmt = ("{:<26} {:>7} {:>10} {:>9} {:>9} {:>11} {:>10} {:>12} {:>9} {:>8} {:>6} {:>11} {:>13}"
       " {:>13}")
print(fmt.format(*header))
for name, workers, s, all_runs in rows:
    if s is None:
        print(fmt.format(name, "-", "failed", *["-"] * 11))
        continue
    packets = int(s.get("packets") or 0)
    avg = int(s.get("bytes") or 0) / packets if packets else 0.0
    spread = f"{all_runs[0]['_pps'] / 1e6:.3f}-{all_runs[-1]['_pps'] / 1e6:.3f}"
    print(fmt.format(
        name, workers, packets, f"{avg:.1f}",
        f"{s['_pps'] / workers / 1e6:.3f}", f"{s['_gbps'] / workers:.2f}",
        f"{s['_pps'] / 1e6:.3f}", f"{s['_gbps']:.2f}",
        f"{float(s.get('elapsed_s') or 0):.3f}", s.get("flows", "-"), s.get("alerts", "-"),
        f"{int(s.get('peak_rss_kb') or 0) / 1024:.1f}",
        f"{(int(s.get('peak_rss_kb') or 0) * 1024 - int(s.get('preload_bytes') or 0)) / 2**20:.1f}",
        spread))
print()
print("commands:")
for name, command in commands:
    print(f"  {name}: {command}")
for w in warnings:
    print(f"WARNING: {w}")
PY

# Rule loading: `vigil -T` over generated sets, with the peak RSS from /usr/bin/time.
if [[ $mode == rules ]]; then
    echo
    printf '%-22s %8s %8s %10s %12s %12s %12s %12s\n' "rule set (-T)" loaded skipped \
        "compile ms" "packet DB B" "stream DB B" "app DBs B" "peak RSS MB"
    load_sets=("shipped:")
    for n in "${load_counts[@]}"; do
        load_sets+=("generated-$n:$(gen_rule_file "$n")")
    done
    for entry in "${load_sets[@]}"; do
        name=${entry%%:*}
        file=${entry#*:}
        args=(-c "$config")
        [[ -n $file ]] && args+=(-S "$file")
        out=$results/load-$name.txt
        rc=0
        /usr/bin/time -v -o "$out.time" "$vigil" -T "${args[@]}" >"$out" 2>"$out.stderr" || rc=$?
        if ((rc != 0)); then
            echo "   vigil -T ${args[*]} failed (exit $rc):" >&2
            head -n 5 "$out.stderr" >&2 || true
            failed=1
        fi
        python3 - "$name" "$out" "$out.time" <<'PY'
import re
import sys

name, out, timing = sys.argv[1:4]
text = open(out).read()
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(timing).read())


def num(pattern):
    m = re.search(pattern, text)
    return m.group(1) if m else "-"


print("%-22s %8s %8s %10s %12s %12s %12s %12s" % (
    name, num(r"(\d+) loaded"), num(r"(\d+) skipped"), num(r"compiled in ([\d.]+) ms"),
    num(r"database (\d+) bytes, compiled"), num(r"stream rules: \d+ \(database (\d+) bytes"),
    num(r"databases (\d+) bytes"),
    "%.1f" % (int(rss.group(1)) / 1024) if rss else "-"))
PY
        printf '  %s\n' "$(printf '%q ' /usr/bin/time -v "$vigil" -T "${args[@]}")"
    done
fi

exit "$failed"
