#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, builds with warnings as errors, runs every
# test (unit and integration against a real mosquitto and the device simulator), then the integration suite
# under valgrind, then the same suite under ASan+UBSan, then the threaded suites under TSan, then each fuzz
# target briefly, then (as root) the Debian package is built, installed and removed.
#   tests/run.sh            everything
#   tests/run.sh --quick    the release build and its tests only
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1

packaging/install-deps.sh
JOBS=${JOBS:-$(nproc)}
FUZZ_SECONDS=${FUZZ_SECONDS:-15}

# Each phase prints the seconds since the suite started, so a slow phase shows in the CI log.
SUITE_START=$SECONDS
phase() { printf '\n=== [%4ds] %s ===\n' "$((SECONDS - SUITE_START))" "$*"; }

# ccache: the four builds are most of the suite's time; a later run on the same machine recompiles only
# what changed. Paths are made relative to the checkout, so another clone of the same tree hits too.
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/tuya2mqtt-ccache}
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
fi

phase "release build (warnings are errors)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DT2M_WERROR=ON >/dev/null
cmake --build build/release -j"$JOBS"
phase "tests"
ctest --test-dir build/release --output-on-failure -j"$JOBS"

if ((QUICK)); then exit 0; fi

# The release build is RelWithDebInfo (-O2 -g): valgrind runs it as it is rather than a third full build.
phase "integration suite, the gateway and the simulator under valgrind"
tests/valgrind.sh --all --reuse build/release

phase "ASan+UBSan build"
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DT2M_WERROR=ON -DT2M_SANITIZE=address \
  -DT2M_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j"$JOBS"
phase "tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/support/lsan.supp \
  ctest --test-dir build/asan --output-on-failure -j"$JOBS"

# TSan: the suites where foreign threads meet the loop through LoopExecutor. Only common/ (the executor
# itself) has been run clean under TSan so far; mqtt, cloud, gateway and integration join once they have.
TSAN_SUITES=(common)
phase "ThreadSanitizer build (${TSAN_SUITES[*]})"
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DT2M_WERROR=ON -DT2M_SANITIZE=thread \
  -DT2M_BUILD_BENCH=OFF >/dev/null
TSAN_TARGETS=()
for suite in "${TSAN_SUITES[@]}"; do TSAN_TARGETS+=("t2m_${suite}_tests"); done
cmake --build build/tsan -j"$JOBS" --target "${TSAN_TARGETS[@]}"
phase "tests under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/support/tsan.supp" \
  ctest --test-dir build/tsan --output-on-failure -j"$JOBS" -R "^($(IFS='|'; echo "${TSAN_SUITES[*]}")): " --no-tests=error

if [[ -f fuzz/CMakeLists.txt ]]; then
  phase "fuzzers (${FUZZ_SECONDS}s each)"
  CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DT2M_BUILD_FUZZERS=ON \
    -DT2M_BUILD_TESTS=OFF -DT2M_BUILD_BENCH=OFF >/dev/null
  cmake --build build/fuzz --target t2m_fuzzers -j"$JOBS"
  fuzz/run.sh build/fuzz "$FUZZ_SECONDS"
fi
if [[ $(id -u) -eq 0 ]]; then
  phase "Debian package: build, install, check, remove"
  # Same compile flags as the release build (-Werror included), so ccache serves the package's objects.
  T2M_DEB_CMAKE_ARGS="-DT2M_WERROR=ON" packaging/test-deb.sh
else
  echo "(the .deb install test needs root: skipped)"
fi
phase "all suites passed"
