#!/usr/bin/env bash
# Builds the tuya2mqtt Debian package from a dedicated build dir (release, no tests: the simulator is not
# shipped) and prints the path of the .deb.
#   packaging/build-deb.sh [build dir]        default: build/deb (or $T2M_DEB_BUILD_DIR)
# T2M_DEB_CMAKE_ARGS: extra cmake arguments, shell-quoted (tests/run.sh passes the release build's, for
# ccache hits).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-${T2M_DEB_BUILD_DIR:-build/deb}}

packaging/install-deps.sh
eval "extra_args=(${T2M_DEB_CMAKE_ARGS:-})"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DT2M_BUILD_TESTS=OFF -DT2M_BUILD_BENCH=OFF -DT2M_BUILD_FUZZERS=OFF "${extra_args[@]}" >/dev/null
# Only what the package holds (cpack runs the install rules; it does not build "all").
cmake --build "$BUILD" --target tuya2mqtt t2m_manpage -j"$(nproc)"
rm -f "$BUILD"/tuya2mqtt_*.deb
(cd "$BUILD" && cpack -G DEB >/dev/null)
deb=$(ls "$BUILD"/tuya2mqtt_*.deb)
echo "$deb"
