#!/usr/bin/env bash
# Memcheck over a short selection of the integration suite, then over the real programs (a few minutes on
# 2 cores, build included).
# 1. t2m_integration_tests: the gateway (App, or the bridge composed as app.cpp does), the device
#    simulator, the fake cloud and the Paho clients all run inside that one process, on its uv loop and
#    Paho's threads, so running it under valgrind puts every line of ours on the tested paths under
#    memcheck. Its only child processes are mosquitto, mosquitto_sub/pub and openssl: not ours, not traced.
# 2. The programs as shipped: `tuya2mqtt run` and `tuya2mqtt-sim`, each its own process under valgrind
#    with its own log, against a real mosquitto (never under valgrind: not ours), driven with
#    mosquitto_pub/sub: state, a command, a rename through bridge/request (which rewrites the config
#    file), HA discovery, then SIGTERM and a clean exit. This covers main(), signal handling and shutdown,
#    which the in-process tests do not.
#
#   tests/valgrind.sh [--all] [--reuse] [BUILD_DIR]   default build/valgrind (or $T2M_VALGRIND_BUILD);
#     --all runs the whole integration suite instead of the selection, and the MQTT TLS tests
#     (tests/security); --reuse takes BUILD_DIR as it is configured (CI passes its RelWithDebInfo build, -O2
#     -g, instead of building everything a second time) and only builds the targets it needs there
#
# Environment: JOBS (build jobs, default nproc), T2M_TEST_TIME_SCALE (factor on the tests' wait bounds,
# default 4), T2M_VALGRIND_TIMEOUT (seconds per valgrind run, default 900).
# Exit status 0 only if every selected test passed AND every valgrind log reports zero errors (invalid
# reads/writes, uses of uninitialised values, bad frees, definite leaks), known third-party noise aside
# (tests/support/valgrind.supp). The logs stay in BUILD_DIR/valgrind-logs/.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL=0
REUSE=0
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --all) ALL=1 ;;
    --reuse) REUSE=1 ;;
    *)
      echo "valgrind.sh: unknown option $1" >&2
      exit 2
      ;;
  esac
  shift
done
BUILD=${1:-${T2M_VALGRIND_BUILD:-build/valgrind}}
JOBS=${JOBS:-$(nproc)}
export T2M_TEST_TIME_SCALE=${T2M_TEST_TIME_SCALE:-4}
RUN_TIMEOUT=${T2M_VALGRIND_TIMEOUT:-900}
# Not one of doctest's exit codes (0/1) nor timeout(1)'s (124-137): a run that fails with it had
# memcheck errors even if its tests passed.
VG_ERROR_EXIT=97

phase() { printf '\n=== %s ===\n' "$*"; }
start=$SECONDS

# Build dependencies plus valgrind itself (install-deps.sh does nothing when all are present).
T2M_DEPS_EXTRA="${T2M_DEPS_EXTRA:-} valgrind" packaging/install-deps.sh
command -v valgrind >/dev/null || {
  echo "valgrind.sh: valgrind not found (apt-get install valgrind)" >&2
  exit 2
}

if ((REUSE)); then
  [[ -f "$BUILD/CMakeCache.txt" ]] || {
    echo "valgrind.sh: --reuse needs a configured build in $BUILD" >&2
    exit 2
  }
  if grep -q "^T2M_SANITIZE:STRING=address" "$BUILD/CMakeCache.txt"; then
    echo "valgrind.sh: $BUILD is a sanitizer build; valgrind cannot run it" >&2
    exit 2
  fi
  phase "build ($BUILD as configured)"
else
  phase "build ($BUILD: -O1 -g, no sanitizers, warnings are errors)"
  # -O1: -O0 code runs 2-3x slower under memcheck; -O2 and up can make memcheck report false uninitialised
  # uses (vectorised string scans). Sanitizers off: their shadow memory and valgrind's do not mix.
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
    -DT2M_WERROR=ON -DT2M_SANITIZE= -DT2M_BUILD_BENCH=OFF -DT2M_BUILD_FUZZERS=OFF >/dev/null
fi
TARGETS=(t2m_integration_tests tuya2mqtt tuya2mqtt-sim)
((ALL)) && TARGETS+=(t2m_security_tests)
cmake --build "$BUILD" --target "${TARGETS[@]}" -j"$JOBS"
BIN="$BUILD/tests/integration/t2m_integration_tests"
build_s=$((SECONDS - start))

LOGS="$BUILD/valgrind-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"

# The selection: the gateway end to end (state of every protocol variant, commands by code and by id,
# malformed commands, broker restart and reconnect), one cloud push path (a status report; a rename by
# push and a removal), one HA discovery path (discovery configs and the commands HA sends; HA's birth).
# Two groups of about equal length, run side by side (memcheck serialises a process's threads on one
# core). doctest filters are comma-separated: names are matched with wildcards so no comma needs escaping.
GROUP_NAMES=(gateway cloud_ha)
GROUP_BINS=("$BIN" "$BIN")
if ((ALL)); then
  GROUP_ARGS=('-sf=*gateway_test.cpp' '-sfe=*gateway_test.cpp')
  # The MQTT TLS tests too: the only ones that need tests/support/valgrind.supp (OpenSSL, Paho).
  GROUP_NAMES+=(tls)
  GROUP_BINS+=("$BUILD/tests/security/t2m_security_tests")
  GROUP_ARGS+=('-sf=*tls_test.cpp')
else
  GROUP_ARGS=(
    '-tc=every protocol variant*,commands by code and by DP id*,malformed and impossible commands*,broker restart*'
    '-tc=cloud push: a status report*,cloud push: a name update*,HA discovery: retained configs*,HA birth*'
  )
fi

VALGRIND=(
  valgrind --tool=memcheck --error-exitcode="$VG_ERROR_EXIT"
  --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
  --track-fds=no --trace-children=no --child-silent-after-fork=yes --track-origins=yes
  --num-callers=40 --gen-suppressions=all --suppressions="$PWD/tests/support/valgrind.supp"
)

failed=0
phase "integration tests under memcheck (time scale $T2M_TEST_TIME_SCALE)"
pids=()
for i in "${!GROUP_NAMES[@]}"; do
  name=${GROUP_NAMES[$i]}
  echo "[$name] ${GROUP_ARGS[$i]}  (logs: $LOGS/$name.*)"
  timeout --kill-after=30 "$RUN_TIMEOUT" "${VALGRIND[@]}" --log-file="$LOGS/$name.%p.vg.log" \
    "${GROUP_BINS[$i]}" --no-intro=true --duration=true "${GROUP_ARGS[$i]}" >"$LOGS/$name.out" 2>&1 &
  pids+=($!)
done
for i in "${!GROUP_NAMES[@]}"; do
  name=${GROUP_NAMES[$i]}
  rc=0
  wait "${pids[$i]}" || rc=$?
  if ((rc == VG_ERROR_EXIT)); then
    echo "[$name] FAILED: memcheck reported errors" >&2
    failed=1
  elif ((rc != 0)); then
    echo "[$name] FAILED: exit status $rc (test failure, crash or timeout); output:" >&2
    tail -n 60 "$LOGS/$name.out" >&2
    failed=1
  elif ! grep -qE '^\[doctest\] test cases: +[1-9]' "$LOGS/$name.out"; then
    echo "[$name] FAILED: the filter selected no test case (renamed?)" >&2
    failed=1
  else
    grep -E '^\[doctest\] (test cases|assertions)' "$LOGS/$name.out" | sed "s/^/[$name] /"
  fi
done
tests_s=$((SECONDS - start - build_s))

# ---- The programs as shipped, each under memcheck, against a real mosquitto. ----
phase "tuya2mqtt and tuya2mqtt-sim under memcheck"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/t2m-valgrind.XXXXXX")
PROC_PIDS=()
stop_all() {
  # The gateway first (it publishes offline), then the simulator, the observer and the broker.
  for ((j = ${#PROC_PIDS[@]} - 1; j >= 0; j--)); do kill -TERM "${PROC_PIDS[j]}" 2>/dev/null || true; done
  for pid in "${PROC_PIDS[@]}"; do
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  PROC_PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Bounds for a process under memcheck: the tests' time scale applies here too.
SCALE=${T2M_TEST_TIME_SCALE%%.*}
((SCALE >= 1)) || SCALE=1
wait_for() { # wait_for SECONDS FILE PATTERN (extended regex, one line)
  local deadline=$((SECONDS + $1 * SCALE))
  while ((SECONDS < deadline)); do
    grep -qE -- "$3" "$2" 2>/dev/null && return 0
    sleep 0.2
  done
  echo "timed out after $(($1 * SCALE))s waiting for /$3/ in $2" >&2
  return 1
}
program_run() {
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\n' "$port" >"$WORK/mosquitto.conf"
  mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  PROC_PIDS+=($!)
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

  # Their own loopback block, and ports picked by the simulator (read back from its ready file), so
  # nothing collides with the demo or tests running at the same time.
  cat >"$WORK/devices.json" <<'JSON'
{"defaults": {"push_interval_ms": 1000},
 "devices": [
  {"id": "bfvg33plug0000000001", "key": "vg33plugKey00001", "version": "3.3", "profile": "plug", "host": "127.0.40.1", "port": 0},
  {"id": "bfvg34bulb0000000002", "key": "vg34bulbKey00002", "version": "3.4", "profile": "bulb", "host": "127.0.40.2", "port": 0},
  {"id": "bfvg35curtain0000003", "key": "vg35curtainKey03", "version": "3.5", "profile": "curtain", "host": "127.0.40.3", "port": 0},
  {"id": "bfvg34gateway0000004", "key": "vg34gatewayKey04", "version": "3.4", "profile": "gateway", "host": "127.0.40.4", "port": 0,
   "sub_devices": [{"cid": "a4c13800000vgsw1", "profile": "switch"}]}
 ]}
JSON
  mosquitto_sub -p "$port" -v -t 'tuya2mqtt/#' -t 'homeassistant/#' >"$WORK/mqtt.txt" 2>&1 &
  PROC_PIDS+=($!)
  "${VALGRIND[@]}" --log-file="$LOGS/sim.%p.vg.log" "$BUILD/tests/sim/tuya2mqtt-sim" \
    --devices "$WORK/devices.json" --ready-file "$WORK/sim.ready" --log-level warn >"$LOGS/sim.out" 2>&1 &
  PROC_PIDS+=($!)
  if ! wait_for 10 "$WORK/sim.ready" .; then
    cat "$LOGS/sim.out" >&2
    return 1
  fi

  python3 - "$WORK/sim.ready" "$port" >"$WORK/tuya2mqtt.json" <<'PY'
import json, sys
ports = {d["id"]: d["port"] for d in json.load(open(sys.argv[1]))["devices"]}
def dev(id, key, host, version, name, category):
    return {"id": id, "local_key": key, "address": host, "port": ports[id], "version": version,
            "name": name, "category": category}
print(json.dumps({
    "mqtt": {"server": "mqtt://127.0.0.1:" + sys.argv[2], "client_id": "t2m-valgrind"},
    "homeassistant": {"enabled": True},
    "discovery": {"enabled": False},
    "log_level": "warning",
    "devices": [
        dev("bfvg33plug0000000001", "vg33plugKey00001", "127.0.40.1", "3.3", "vg_plug", "cz"),
        dev("bfvg34bulb0000000002", "vg34bulbKey00002", "127.0.40.2", "3.4", "vg_bulb", "dj"),
        dev("bfvg35curtain0000003", "vg35curtainKey03", "127.0.40.3", "3.5", "vg_curtain", "cl"),
        dev("bfvg34gateway0000004", "vg34gatewayKey04", "127.0.40.4", "3.4", "vg_gw", "wg2"),
        {"id": "bfvg34gw04sub000sw01", "cid": "a4c13800000vgsw1", "parent": "bfvg34gateway0000004",
         "name": "vg_switch", "category": "kg"},
    ]}, indent=1))
PY
  chmod 600 "$WORK/tuya2mqtt.json"
  "${VALGRIND[@]}" --log-file="$LOGS/tuya2mqtt.%p.vg.log" "$BUILD/gateway/tuya2mqtt" run \
    -c "$WORK/tuya2mqtt.json" >"$LOGS/tuya2mqtt.out" 2>&1 &
  local gw_pid=$!
  PROC_PIDS+=($gw_pid)

  local m="$WORK/mqtt.txt"
  local n
  for n in vg_plug vg_bulb vg_curtain vg_gw vg_switch; do
    wait_for 15 "$m" "^tuya2mqtt/$n/availability \{\"state\":\"online\"\}" || return 1
  done
  wait_for 10 "$m" '^tuya2mqtt/vg_plug \{.*"switch_1"' || return 1
  wait_for 10 "$m" '^homeassistant/device/tuya_bfvg34bulb0000000002/config \{' || return 1
  # A command by code, one by DP id on a sub-device, one with several DPs on a 3.5 device.
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/vg_plug/set -m '{"switch_1": false, "transaction": 1}'
  wait_for 10 "$m" '^tuya2mqtt/vg_plug/set/result \{.*"status":"ok"' || return 1
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/vg_switch/set/1 -m 'true'
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/vg_curtain/set -m '{"position": 40}'
  wait_for 10 "$m" '^tuya2mqtt/vg_curtain \{.*"position":40' || return 1
  # A rename: the bridge answers, rewrites the config file, and the device lives on under its new name.
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/bridge/request/device/rename \
    -m '{"from": "vg_plug", "to": "vg_plug_renamed", "transaction": 2}'
  wait_for 10 "$m" '^tuya2mqtt/bridge/response/device/rename \{.*"status":"ok"' || return 1
  grep -q vg_plug_renamed "$WORK/tuya2mqtt.json" || {
    echo "the rename did not reach the config file" >&2
    return 1
  }
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/vg_plug_renamed/set -m '{"switch_1": true}'
  wait_for 10 "$m" '^tuya2mqtt/vg_plug_renamed/set/result \{.*"status":"ok"' || return 1
  mosquitto_pub -p "$port" -q 1 -t tuya2mqtt/bridge/request/health_check -m '{"transaction": 3}'
  wait_for 10 "$m" '^tuya2mqtt/bridge/response/health_check \{.*"status":"ok"' || return 1

  # A clean stop: SIGTERM, bridge offline, exit status 0.
  kill -TERM "$gw_pid"
  local rc=0
  wait "$gw_pid" || rc=$?
  if ((rc != 0)); then
    echo "tuya2mqtt exited with status $rc after SIGTERM" >&2
    return 1
  fi
  wait_for 5 "$m" '^tuya2mqtt/bridge/state \{"state":"offline"\}' || return 1
}
if program_run; then
  echo "[programs] state, commands, rename, HA discovery, health check and SIGTERM: ok"
else
  echo "[programs] FAILED; gateway output:" >&2
  tail -n 40 "$LOGS/tuya2mqtt.out" >&2 2>/dev/null || true
  echo "--- MQTT traffic (last 30 lines):" >&2
  tail -n 30 "$WORK/mqtt.txt" >&2 || true
  failed=1
fi
stop_all
programs_s=$((SECONDS - start - build_s - tests_s))

# Every process's log must end with a summary of zero errors: a missing summary is a process that died
# inside valgrind. (--error-exitcode only covers the process whose exit status we saw.)
shopt -s nullglob
vg_logs=("$LOGS"/*.vg.log)
if ((${#vg_logs[@]} == 0)); then
  echo "valgrind.sh: no valgrind log written" >&2
  failed=1
fi
for log in "${vg_logs[@]}"; do
  summary=$(grep -E '== ERROR SUMMARY: [0-9]+ errors' "$log" | tail -n 1 || true)
  if [[ -z "$summary" ]]; then
    echo "$log: no ERROR SUMMARY (the process did not exit normally)" >&2
    failed=1
  elif ! grep -qE 'ERROR SUMMARY: 0 errors' <<<"$summary"; then
    echo "$log: $summary" >&2
    # The first reports with their stacks (the full text, with suppression templates, is in the log).
    grep -E '^==[0-9]+== ' "$log" | sed -n '/Invalid\|uninitialised\|definitely lost\|Mismatched\|free/,+25p' |
      head -n 120 >&2
    failed=1
  else
    echo "$(basename "$log"): $summary"
  fi
done

total_s=$((SECONDS - start))
phase "valgrind: build ${build_s}s, tests ${tests_s}s, programs ${programs_s}s, total ${total_s}s"
if ((failed)); then
  echo "valgrind.sh: FAILED (logs in $LOGS)" >&2
  exit 1
fi
echo "valgrind.sh: no memcheck errors"
