#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in a separate build directory and runs
# each one for a while over a scratch copy of its checked-in seed corpus.
#
#   tests/fuzz/run.sh [seconds per target]      (default 60, or $FUZZ_SECONDS)
#
# Environment: FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS (ninja -j,
# default 1), FUZZ_TARGETS (default "frame_fuzz json_fuzz").
# Exit status: 0 when every target ran its time without a finding; 1 when one
# crashed or broke a property (its reproducer is kept and printed); 2 on a build
# problem. Reproduce a finding with: <build>/tests/fuzz/<target> <reproducer>.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-${FUZZ_SECONDS:-60}}"
build="${FUZZ_BUILD_DIR:-$repo/build-fuzz}"
jobs="${FUZZ_JOBS:-1}"
targets="${FUZZ_TARGETS:-frame_fuzz json_fuzz}"

declare -A corpus_of=([frame_fuzz]=frame [json_fuzz]=json)

mkdir -p "$build"
if ! cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DVELOCITY_FUZZ=ON -DVELOCITY_BENCHMARKS=OFF >"$build/configure.log" 2>&1; then
  cat "$build/configure.log"
  echo "fuzz: configure failed" >&2
  exit 2
fi
# shellcheck disable=SC2086
if ! nice ninja -C "$build" -j "$jobs" $targets; then
  echo "fuzz: build failed" >&2
  exit 2
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/velocity-fuzz.XXXXXX")"
failed=0
for target in $targets; do
  seeds="$repo/tests/fuzz/corpus/${corpus_of[$target]}"
  work="$scratch/$target/corpus"
  artifacts="$scratch/$target/artifacts/"
  mkdir -p "$work" "$artifacts"
  cp "$seeds"/* "$work"/
  echo "fuzz: $target for ${seconds}s over $(ls "$seeds" | wc -l) seeds"
  # -timeout: one input may take at most 10 s; -rss_limit_mb bounds memory so a
  # decoder that allocates from unchecked lengths is a finding.
  if "$build/tests/fuzz/$target" "$work" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$artifacts" >"$scratch/$target/log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::new_units_added)' \
      "$scratch/$target/log" || true
    echo "fuzz: $target: no findings ($(ls "$work" | wc -l) corpus entries)"
  else
    failed=1
    tail -n 60 "$scratch/$target/log"
    keep="$repo/build-fuzz-findings/$target"
    mkdir -p "$keep"
    cp "$artifacts"* "$keep"/ 2>/dev/null || true
    echo "fuzz: $target FOUND A PROBLEM; reproducers in $keep:" >&2
    ls "$keep" >&2
  fi
done
rm -rf "$scratch"
exit "$failed"
