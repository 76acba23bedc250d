#!/usr/bin/env bash
# Interleaved A/B of two vigil builds on the benchmark mix, one worker, each with its own
# rule directory, for changes smaller than the machine's run-to-run noise:
#   tests/bench/run_ab.sh VIGIL_A RULES_DIR_A VIGIL_B RULES_DIR_B [PAIRS]
# Runs A and B PAIRS times each (default 12), alternating which goes first, every run with
# -c $BENCH_CONFIG (default pcaps/estate.yaml) --workers 1 --preload on
# tests/bench/data/mix.pcap (written by run_bench.sh; BENCH_PCAP to use another capture).
# Prints each run's packets/s and the median, minimum and maximum of each side.
#
# Example (the previous commit in a worktree, both release builds):
#   git worktree add /tmp/prev HEAD~1 && meson setup /tmp/prev/b -Dbuildtype=release
#   ninja -C /tmp/prev/b vigil
#   tests/bench/run_ab.sh /tmp/prev/b/vigil /tmp/prev/signatures/rules \
#       build-ruleset/vigil signatures/rules
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 4 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
a_bin=$1 a_rules=$2 b_bin=$3 b_rules=$4 pairs=${5:-12}
pcap=${BENCH_PCAP:-tests/bench/data/mix.pcap}
config=${BENCH_CONFIG:-pcaps/estate.yaml}
[ -f "$pcap" ] || { echo "run_ab: no capture $pcap (run tests/bench/run_bench.sh first)" >&2; exit 2; }
work=$(mktemp -d /tmp/vigil-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT

one() { # side binary rules-dir -> prints Mpps
    local args=() f
    for f in "$3"/*.rules; do args+=(-S "$f"); done
    rm -rf "$work/log-$1" && mkdir -p "$work/log-$1"
    "$2" -r "$pcap" -c "$config" "${args[@]}" -l "$work/log-$1" --workers 1 --preload \
        --summary-json "$work/$1.json" -q
    python3 -c "import json,sys; print('%.3f' % (json.load(open(sys.argv[1]))['pps'] / 1e6))" \
        "$work/$1.json"
}

: >"$work/A" && : >"$work/B"
for i in $(seq 1 "$pairs"); do
    if [ $((i % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
    line=""
    for side in $order; do
        if [ "$side" = A ]; then v=$(one A "$a_bin" "$a_rules"); else v=$(one B "$b_bin" "$b_rules"); fi
        echo "$v" >>"$work/$side"
        line="$line $side $v"
    done
    echo "pair $i:$line"
done
for side in A B; do
    python3 - "$side" "$work/$side" <<'PY'
import statistics, sys
v = [float(x) for x in open(sys.argv[2])]
print("%s median %.3f Mpps (%.3f-%.3f), %d runs" % (sys.argv[1], statistics.median(v), min(v),
                                                  max(v), len(v)))
PY
done
