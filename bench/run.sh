#!/usr/bin/env bash
# The tuya2mqtt benchmark: builds the gateway, the device simulator and the driver (CMake Release in
# build/bench-release), then runs bench/t2m_bench, which starts mosquitto on a free loopback port, the
# simulator with N devices on 127.0.2.x/127.0.3.x/... and the gateway, drives load, prints a table and
# writes JSON. Every process it starts is stopped on exit.
#   bench/run.sh              quick mode (CI): 100 devices, under a minute
#   bench/run.sh --full       cold start 100/1,000/5,000, load at 1,000, footprint 0/1,000/5,000
#   bench/run.sh --full --json results.json --keep     (any t2m_bench option passes through; see --help)
# Environment: T2M_BENCH_BUILD_DIR overrides the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${T2M_BENCH_BUILD_DIR:-build/bench-release}

if ! command -v mosquitto >/dev/null && [[ ! -x /usr/sbin/mosquitto ]]; then
  packaging/install-deps.sh
fi
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DT2M_BUILD_BENCH=ON -DT2M_BUILD_TESTS=ON >/dev/null
fi
if ! cmake --build "$BUILD" --target tuya2mqtt tuya2mqtt-sim t2m_bench -j"$(nproc)" >"$BUILD/bench-build.log" 2>&1; then
  tail -40 "$BUILD/bench-build.log"
  echo "bench/run.sh: the build failed (full log: $BUILD/bench-build.log)" >&2
  exit 1
fi

# 5,000 devices need ~10,000 descriptors in the simulator: take the hard limit (the driver does too).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec "$BUILD/bench/t2m_bench" --bin-dir "$BUILD" "$@"
