#!/usr/bin/env bash
# Installs everything tuya2mqtt needs to build, test and run its demo, from Debian 12 packages.
# Idempotent: does nothing when every package is already present. Needs root (uses sudo otherwise).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3
  libpaho-mqttpp-dev libpaho-mqtt-dev libmbedtls-dev libcurl4-openssl-dev nlohmann-json3-dev
  libuv1-dev doctest-dev libwebsockets-dev
  mosquitto mosquitto-clients openssl
  clang libclang-rt-14-dev
  dpkg-dev file ccache
)
if [[ "${T2M_DEPS_EXTRA:-}" != "" ]]; then
  read -r -a extra <<<"$T2M_DEPS_EXTRA"
  PACKAGES+=("${extra[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
