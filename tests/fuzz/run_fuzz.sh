#!/usr/bin/env bash
# Short coverage-guided fuzz run of every harness (libFuzzer, ASan, UBSan).
#   tests/fuzz/run_fuzz.sh [BUILD_DIR]     BUILD_DIR configured with CC=clang -Dfuzz=true
# FUZZ_SECONDS (default 12) per harness. New inputs go to a scratch corpus, not
# the repository; a crash leaves its input in the scratch directory and fails.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-12}
scratch=$(mktemp -d /tmp/vigil-fuzz.XXXXXX)
declare -A seeds=(
    [decode]="tests/fuzz/corpus/decode"
    [rules]="tests/fuzz/corpus/rules signatures/rules tests/pcap/rules"
    [config]="tests/fuzz/corpus/config"
    [defrag]="tests/fuzz/corpus/defrag"
    [stream]="tests/fuzz/corpus/stream"
    [http]="tests/fuzz/corpus/http"
    [tls]="tests/fuzz/corpus/tls"
    [dns]="tests/fuzz/corpus/dns"
    [ssh]="tests/fuzz/corpus/ssh"
    [bigip_cookie]="tests/fuzz/corpus/bigip_cookie"
)
harnesses=(decode rules config defrag stream http tls dns ssh bigip_cookie)
failed=0
for h in "${harnesses[@]}"; do
    mkdir -p "$scratch/$h"
    # shellcheck disable=SC2086
    if "$build/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$scratch/$h-" -print_final_stats=0 "$scratch/$h" ${seeds[$h]} \
        >"$scratch/$h.log" 2>&1; then
        echo "PASS fuzz_$h: $(grep -E '^Done' "$scratch/$h.log" | tail -n 1)"
    else
        echo "FAIL fuzz_$h: see $scratch/$h.log"
        grep -E 'ERROR|SUMMARY|runtime error' "$scratch/$h.log" | head -n 5
        failed=$((failed + 1))
    fi
done
echo "$((${#harnesses[@]} - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
