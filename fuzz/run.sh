#!/usr/bin/env bash
# Runs every fuzz target built in <build-dir>/fuzz/bin for <seconds> each, $FUZZ_JOBS (default: the
# number of cores) at a time.
#   fuzz/run.sh <build-dir> <seconds>
# Each target starts from a scratch copy of its committed corpus (fuzz/corpus/<target>/), so the
# repository is never modified. A fixed seed keeps runs reproducible. Findings (crash/leak/timeout/OOM
# inputs) are kept in <build-dir>/fuzz/findings/<target>/ and make the script exit non-zero.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 <build-dir> <seconds>" >&2
  exit 2
fi
build_dir=$1
seconds=$2
root=$(cd "$(dirname "$0")/.." && pwd)
bin_dir="$build_dir/fuzz/bin"
findings_root="$build_dir/fuzz/findings"
SEED=${FUZZ_SEED:-20261121}
RSS_LIMIT_MB=${FUZZ_RSS_LIMIT_MB:-2048}
TIMEOUT_S=${FUZZ_TIMEOUT_S:-10}

shopt -s nullglob
targets=()
for exe in "$bin_dir"/*; do
  [[ -f $exe && -x $exe ]] && targets+=("$exe")
done
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz/run.sh: no fuzz targets in $bin_dir (build with -DT2M_BUILD_FUZZERS=ON)" >&2
  exit 1
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/t2m-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# One target: fuzz it in its scratch directory, then leave a one-line verdict in $work/verdict and
# exit non-zero on a finding.
fuzz_one() {
  local exe=$1 name work log rc execs cov seeds corpus_size
  name=$(basename "$exe")
  work="$scratch/$name"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "$root/fuzz/corpus/$name" ]]; then
    cp -R "$root/fuzz/corpus/$name/." "$work/corpus/"
  fi
  seeds=$(find "$work/corpus" -type f | wc -l)
  log="$work/log"
  set +e
  "$exe" -max_total_time="$seconds" -seed="$SEED" -rss_limit_mb="$RSS_LIMIT_MB" -timeout="$TIMEOUT_S" \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus_size=$(find "$work/corpus" -type f | wc -l)
  if [[ $rc -ne 0 ]] || compgen -G "$work/artifacts/*" >/dev/null; then
    mkdir -p "$findings_root/$name"
    cp -R "$work/artifacts/." "$findings_root/$name/" 2>/dev/null || true
    cp "$log" "$findings_root/$name/log.txt"
    {
      echo "FAIL $name (exit $rc): findings in $findings_root/$name"
      grep -E 'ERROR|SUMMARY|fuzz property failed|Test unit written' "$log" | head -20 || true
    } >"$work/verdict"
    return 1
  fi
  printf 'ok   %-16s %ss  execs=%s  cov=%s  corpus=%s->%s\n' "$name" "$seconds" "${execs:-?}" "${cov:-?}" \
    "$seeds" "$corpus_size" >"$work/verdict"
}

jobs_max=${FUZZ_JOBS:-$(nproc)}
for exe in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  fuzz_one "$exe" &
done
wait || true
# The verdicts decide, not exit statuses: `wait -n` above has already reaped some of the jobs.
failed=0
for exe in "${targets[@]}"; do
  verdict="$scratch/$(basename "$exe")/verdict"
  if [[ ! -s $verdict ]]; then
    echo "FAIL $(basename "$exe"): no verdict (the run was cut short)"
    failed=1
    continue
  fi
  cat "$verdict"
  grep -q '^FAIL' "$verdict" && failed=1
done
exit $failed
