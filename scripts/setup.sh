#!/usr/bin/env bash
# Installs vigil's build dependencies from Debian 12 and builds it.
# Idempotent: packages already present are not fetched again, and an
# existing build directory is reused.
#   scripts/setup.sh [BUILD_DIR] [extra meson options...]
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${1:-build}
shift || true

packages=(
    build-essential pkg-config meson ninja-build python3
    libdpdk-dev libhyperscan-dev libpcap-dev libndpi-dev libmsgpack-dev
    libcriterion-dev libyaml-dev libssl-dev libpcre2-dev
    tcpdump tcpreplay iproute2 clang
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=()
    [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

if [ ! -f "$build_dir/build.ninja" ]; then
    if ! meson setup "$build_dir" "$@" >"/tmp/vigil-setup-$$.log" 2>&1; then
        cat "/tmp/vigil-setup-$$.log" >&2
        echo "setup: meson setup of $build_dir failed" >&2
        exit 1
    fi
fi
if ! ninja -C "$build_dir" >"/tmp/vigil-setup-$$.log" 2>&1; then
    grep -E -A3 'error|FAILED' "/tmp/vigil-setup-$$.log" | head -n 60 >&2
    echo "setup: build of $build_dir failed" >&2
    exit 1
fi
rm -f "/tmp/vigil-setup-$$.log"
echo "setup: built $build_dir/vigil"
