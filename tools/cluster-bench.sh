#!/usr/bin/env bash
# Our 3-node cluster under the peers' KV workloads (../shared/bench/README.md):
# starts configs/cluster-3 from empty data dirs (scratch copies of the configs
# under $BENCH_DIR, so data/cluster-3 is untouched), preloads 100,000 keys of
# 256 bytes and 100 hot CAS keys, then runs velocity-bench against all three
# endpoints (64 closed-loop clients over 16 connections): put, get (strong),
# cas (or $WORKLOADS: "get:local get:eventual get:quorum put:eventual ...").
# One line per run on stdout; JSON lines in $BENCH_DIR/runs.jsonl.
#
#   [WORKLOADS=...] tools/cluster-bench.sh [runs=1] [duration_s=5] [warmup_s=1]
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${VELOCITY_BUILD:-$here/build}
runs=${1:-1}; dur=${2:-5}; warm=${3:-1}
dir=${BENCH_DIR:-$(mktemp -d /tmp/cluster-bench.XXXXXX)}
mkdir -p "$dir"
endpoints=127.0.0.1:7410,127.0.0.1:7420,127.0.0.1:7430
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
for n in 1 2 3; do
  sed "s|data-dir=.*|data-dir=\"$dir/node$n\"|" "$here/configs/cluster-3/node$n.ini" > "$dir/node$n.ini"
  "$build/tools/velocityd" --config-file="$dir/node$n.ini" > "$dir/node$n.log" 2>&1 &
  pids+=($!)
done
for n in 1 2 3; do
  for _ in $(seq 1 150); do curl -fsS "http://127.0.0.1:74${n}1/ready" >/dev/null 2>&1 && break; sleep 0.1; done
done
bench() { "$build/tools/velocity-bench" --endpoints "$endpoints" --clients 64 --conns 16 \
  --value-bytes 256 --keys 100000 --cas-keys 100 --waiting 0 --running 0 --jsonl "$dir/runs.jsonl" \
  --variant 3-node "$@"; }
bench --workload preload > "$dir/preload.log" 2>&1
# WORKLOADS: workload[:consistency] words, e.g. "get:local put:eventual".
for spec in ${WORKLOADS:-put get cas}; do
  wl=${spec%%:*}; level=strong
  [[ $spec == *:* ]] && level=${spec#*:}
  for i in $(seq 1 "$runs"); do
    bench --workload "$wl" --consistency "$level" --duration "$dur" --warmup "$warm" --run "$i" 2>&1 | tail -1
  done
done
echo "results: $dir/runs.jsonl"
