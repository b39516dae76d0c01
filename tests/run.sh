#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs dependencies, builds with warnings as errors, runs every
# test (unit and integration against a real mosquitto and the device simulator), then the integration suite
# under valgrind, then the same suite under ASan+UBSan and each fuzz target briefly (one build), then the
# same suite under TSan, then (as root) the Debian package is built, installed and removed.
#   tests/run.sh            everything
#   tests/run.sh --quick    the release build and its tests only
set -euo pipefail
cd "$(dirname "$0")/.."
QUICK=0
[[ "${1:-}" == "--quick" ]] && QUICK=1

packaging/install-deps.sh
JOBS=${JOBS:-$(nproc)}
# Test cases mostly wait on sockets and timers, not on a core: twice as many as there are cores run well.
CTEST_JOBS=${CTEST_JOBS:-$((JOBS * 2))}
FUZZ_SECONDS=${FUZZ_SECONDS:-10}

# Each phase prints the seconds since the suite started, so a slow phase shows in the CI log.
SUITE_START=$SECONDS
phase() { printf '\n=== [%4ds] %s ===\n' "$((SECONDS - SUITE_START))" "$*"; }

# ccache: the three builds are most of the suite's time; a later run on the same machine recompiles only
# what changed. Paths are made relative to the checkout, so another clone of the same tree hits too.
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR=${CCACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/var/tmp}/.cache}/tuya2mqtt-ccache}
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache CMAKE_C_COMPILER_LAUNCHER=ccache
fi

# CI's compile flags: line tables only (-g1) instead of full debug info, which is a third of the compile
# time and not needed by ctest, valgrind or the sanitizers' stack traces (files and lines are kept). The
# sanitizer builds are clang (it compiles them in about half gcc's time) at -O0 (half the compile time of
# -O1; the suites wait on sockets and timers, not on the CPU); the release build and the package stay
# gcc, as Debian builds them. All are unity builds (several files of a target compiled as one: a third
# of the time), so names local to a file must not clash with another file of the same target.
RELEASE_FLAGS=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DT2M_WERROR=ON -DCMAKE_UNITY_BUILD=ON
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG")
SANITIZER_FLAGS=(-DCMAKE_BUILD_TYPE=Debug -DT2M_WERROR=ON -DT2M_BUILD_BENCH=OFF -DCMAKE_UNITY_BUILD=ON
  "-DCMAKE_CXX_FLAGS_DEBUG=-O0 -g1" "-DCMAKE_C_FLAGS_DEBUG=-O0 -g1")

phase "release build (warnings are errors)"
cmake -S . -B build/release -G Ninja "${RELEASE_FLAGS[@]}" >/dev/null
cmake --build build/release -j"$JOBS"
phase "tests"
ctest --test-dir build/release --output-on-failure -j"$CTEST_JOBS"

if ((QUICK)); then exit 0; fi

# The release build keeps line tables: valgrind runs it as it is rather than a third full build.
phase "integration suite, the gateway and the simulator under valgrind"
tests/valgrind.sh --all --reuse build/release

# One clang build serves ASan+UBSan and the fuzzers: every object carries libFuzzer's coverage
# (fuzz/CMakeLists.txt), and the test programs run with the sanitizers as usual.
phase "ASan+UBSan build, with the fuzzers"
CC=clang CXX=clang++ cmake -S . -B build/asan -G Ninja "${SANITIZER_FLAGS[@]}" -DT2M_SANITIZE=address \
  -DT2M_BUILD_FUZZERS=ON >/dev/null
cmake --build build/asan -j"$JOBS"
phase "tests under ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/support/lsan.supp \
  ctest --test-dir build/asan --output-on-failure -j"$CTEST_JOBS"
phase "fuzzers (${FUZZ_SECONDS}s each, $JOBS at a time)"
FUZZ_JOBS=$JOBS fuzz/run.sh build/asan "$FUZZ_SECONDS"

# TSan over every suite: foreign threads (Paho's, curl's resolver, the tests' own) meet the loop through
# LoopExecutor, the only cross-thread door, and the integration suites drive all of them at once.
phase "ThreadSanitizer build"
CC=clang CXX=clang++ cmake -S . -B build/tsan -G Ninja "${SANITIZER_FLAGS[@]}" -DT2M_SANITIZE=thread >/dev/null
cmake --build build/tsan -j"$JOBS"
phase "tests under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/support/tsan.supp" \
  ctest --test-dir build/tsan --output-on-failure -j"$CTEST_JOBS"

if [[ $(id -u) -eq 0 ]]; then
  phase "Debian package: build, install, check, remove"
  # The release build's compile flags, so ccache serves the package's objects from that build.
  T2M_DEB_CMAKE_ARGS="${RELEASE_FLAGS[*]@Q}" packaging/test-deb.sh
else
  echo "(the .deb install test needs root: skipped)"
fi
phase "all suites passed"
