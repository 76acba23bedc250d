#!/usr/bin/env bash
# Sets up vigil and runs the whole test suite: unit tests (Criterion),
# end-to-end tests on captures and fuzz-corpus replays, first on a normal
# build, then on a build with AddressSanitizer and UndefinedBehaviorSanitizer;
# then a short libFuzzer run of every harness (clang, ASan, UBSan).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh build || exit 1
scripts/setup.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debug || exit 1
CC=clang scripts/setup.sh build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
    -Db_lundef=false || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

status=0
for b in build build-asan; do
    echo "== tests on $b"
    meson test -C "$b" --print-errorlogs --num-processes 2 || status=1
done

echo "== short fuzz run (libFuzzer, ASan, UBSan)"
fuzz_log=build-fuzz/fuzz-results.txt
tests/fuzz/run_fuzz.sh build-fuzz | tee "$fuzz_log" || status=1

# One closing line for every test that ran, across all builds.
python3 - "$fuzz_log" build/meson-logs/testlog.json build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    if line.startswith("PASS "):
        passed += 1
    elif line.startswith("FAIL "):
        failed += 1
for path in sys.argv[2:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line)
        res = r.get("result")
        if res in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif res == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
