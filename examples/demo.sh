#!/usr/bin/env bash
# The tuya2mqtt demo: a local mosquitto (started on 127.0.0.1:1883 unless one already listens there),
# the built-in device simulator with one device of every protocol variant (3.1, 3.3, device22, 3.4, 3.5,
# and a 3.4 Zigbee gateway with two sub-devices), and the gateway, then the MQTT traffic as it flows.
#   examples/demo.sh                 run until Ctrl-C
#   examples/demo.sh --seconds 20    run for 20 s, then stop everything (used by CI as a smoke test)
# Everything stays on loopback. Every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_TO_RUN=0
[[ "${1:-}" == "--seconds" ]] && SECONDS_TO_RUN=${2:?--seconds needs a number}

packaging/install-deps.sh
BUILD=${T2M_BUILD_DIR:-build/release}
if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$BUILD" --target tuya2mqtt tuya2mqtt-sim -j"$(nproc)"

WORK=$(mktemp -d /tmp/tuya2mqtt-demo.XXXXXX)
PIDS=()
# Stops the processes newest first, each one gone before the next is told: the gateway must see its
# devices and its broker still there to publish every device offline and bridge/state offline.
cleanup() {
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
PORT=1883
if port_open "$PORT"; then
  echo "demo: using the MQTT broker already listening on 127.0.0.1:$PORT"
else
  printf 'listener %s 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n' "$PORT" >"$WORK/mosquitto.conf"
  mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 50); do port_open "$PORT" && break; sleep 0.1; done
  echo "demo: started mosquitto on 127.0.0.1:$PORT"
fi

"$BUILD/tests/sim/tuya2mqtt-sim" --devices examples/sim/devices.json --control 127.0.0.1:0 \
  --broadcast-to 127.0.0.1:6667 --discovery-listen 127.0.0.1:7000 --ready-file "$WORK/sim.ready" \
  --log-level warn >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [[ -s "$WORK/sim.ready" ]] && break; sleep 0.1; done
[[ -s "$WORK/sim.ready" ]] || { echo "demo: the simulator did not start:"; cat "$WORK/sim.log"; exit 1; }

sed "s#127.0.0.1:1883#127.0.0.1:$PORT#" examples/config/tuya2mqtt.json >"$WORK/tuya2mqtt.json"
chmod 600 "$WORK/tuya2mqtt.json"
"$BUILD/gateway/tuya2mqtt" run -c "$WORK/tuya2mqtt.json" >"$WORK/gateway.log" 2>&1 &
PIDS+=($!)

cat <<MSG

  tuya2mqtt demo: 9 simulated devices (protocols 3.1, 3.3, device22, 3.4, 3.5, Zigbee sub-devices)
  Gateway log: $WORK/gateway.log

  In another terminal, try:
    mosquitto_pub -p $PORT -t tuya2mqtt/plug_33/set -m '{"switch_1": false}'
    mosquitto_pub -p $PORT -t tuya2mqtt/plug_33/set/1 -m 'true'
    mosquitto_pub -p $PORT -t tuya2mqtt/bulb_34/set -m '{"state":"ON","brightness":128,"color_temp":3000}'
    mosquitto_pub -p $PORT -t tuya2mqtt/curtain_35/set -m '{"position": 50}'
    mosquitto_pub -p $PORT -t tuya2mqtt/zigbee_switch/set -m 'ON'
    mosquitto_pub -p $PORT -t tuya2mqtt/bridge/request/health_check -m '{"transaction": 1}'
    mosquitto_sub -p $PORT -t 'tuya2mqtt/#' -v

  MQTT traffic follows (Ctrl-C stops everything):

MSG
if ((SECONDS_TO_RUN > 0)); then
  timeout "$SECONDS_TO_RUN" mosquitto_sub -p "$PORT" -t 'tuya2mqtt/#' -v || true
  # The smoke test passes only if every device reported state and came online.
  states=$(mosquitto_sub -p "$PORT" -t 'tuya2mqtt/+/availability' -v -W 2 2>/dev/null | grep -c '"online"' || true)
  echo "demo: $states of 9 devices online"
  [[ "$states" -eq 9 ]]
else
  mosquitto_sub -p "$PORT" -t 'tuya2mqtt/#' -v
fi
