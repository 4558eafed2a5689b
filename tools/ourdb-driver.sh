#!/usr/bin/env bash
# ourdb-driver.sh: what /work/shared/bench/run-peers.sh --ourdb PATH runs. It
# starts velocityd on 127.0.0.1 (free ports) and runs velocity-bench with the
# peers' parameters (README "Mapping to our database"), appending one JSON line
# per measured run to $PEERBENCH_JSONL:
#   memory mode            put / get            (vs Redis no-persistence: "set P=1", "get P=1")
#   persistent mode        put, get strong / local, cas (vs etcd 1-member)
#   persistent mode        submit, assign (claim), close (vs PostgreSQL synchronous_commit=on;
#                          every run starts from a fresh copy of a preloaded template data dir)
# Each velocityd is stopped by its PID (SIGTERM, SIGKILL after 30 s); every
# command runs under `timeout`, so the driver ends by itself. Exit status: the
# number of failed steps (0 = all ran), capped at 100.
#
# Environment (run-peers.sh sets these; defaults = the peers' values):
#   PEERBENCH_JSONL PEERBENCH_RAW PEERBENCH_RUNS PEERBENCH_DURATION PEERBENCH_WARMUP
#   KV_VALUE KV_KEYS KV_CLIENTS CAS_KEYS ETCD_CONNS PG_CLIENTS PG_WAITING PG_RUNNING
#   VELOCITY_BUILD (default: <repo>/build) or VELOCITYD / VELOCITY_BENCH (binaries)
#   OURDB_ONLY (comma list of memory,kv,jobs; default all)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${VELOCITY_BUILD:-$here/../build}
velocityd=${VELOCITYD:-$build/tools/velocityd}
bench=${VELOCITY_BENCH:-$build/tools/velocity-bench}
raw=${PEERBENCH_RAW:-$(mktemp -d /tmp/ourdb-driver.XXXXXX)}
jsonl=${PEERBENCH_JSONL:-$raw/runs.jsonl}
runs=${PEERBENCH_RUNS:-3}
dur=${PEERBENCH_DURATION:-10}
warm=${PEERBENCH_WARMUP:-2}
kv_value=${KV_VALUE:-256}
kv_keys=${KV_KEYS:-100000}
kv_clients=${KV_CLIENTS:-64}
cas_keys=${CAS_KEYS:-100}
conns=${ETCD_CONNS:-16}
pg_clients=${PG_CLIENTS:-16}
pg_waiting=${PG_WAITING:-200000}
pg_running=${PG_RUNNING:-600000}
only=${OURDB_ONLY:-memory,kv,jobs}

server_start_timeout_s=30   # velocityd must log its port within this
server_stop_timeout_s=30    # SIGTERM -> drain, final fsync; then SIGKILL
preload_timeout_s=1800      # 800k job documents on a slow shared disk
run_slack_s=120             # per measured run beyond warmup + duration

mkdir -p "$raw"
failures=0
server_pid=""
server_port=""

log() { printf '[ourdb %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { log "FAILED: $*"; failures=$((failures + 1)); }

for bin in "$velocityd" "$bench"; do
  [[ -x $bin ]] || { log "missing executable $bin (build velocityd and velocity-bench)"; exit 100; }
done

# start_server NAME [extra velocityd args]: sets server_pid, server_port.
start_server() {
  local name=$1; shift
  local out="$raw/$name.log"
  : > "$out"  # exists before the background start, so the port poll can read it
  "$velocityd" --velocity.host=127.0.0.1 --velocity.port=0 --velocity.http-port=0 "$@" > "$out" 2>&1 &
  server_pid=$!
  server_port=""
  local deadline=$((SECONDS + server_start_timeout_s))
  while (( SECONDS < deadline )); do
    server_port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out" | head -1)
    [[ -n $server_port ]] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $server_port ]]; then
    fail "velocityd $name did not start: $(tail -c 300 "$out" | tr '\n' ' ')"
    stop_server
    return 1
  fi
  log "velocityd $name (pid $server_pid) on 127.0.0.1:$server_port"
}

stop_server() {
  [[ -n $server_pid ]] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    local deadline=$((SECONDS + server_stop_timeout_s))
    while kill -0 "$server_pid" 2>/dev/null && (( SECONDS < deadline )); do sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "velocityd pid $server_pid ignored SIGTERM for ${server_stop_timeout_s}s: SIGKILL"
      kill -KILL "$server_pid" 2>/dev/null
    fi
  fi
  wait "$server_pid" 2>/dev/null
  server_pid=""
}
trap stop_server EXIT
trap 'log "interrupted"; exit 130' INT TERM

# bench TIMEOUT_S ARGS...: one velocity-bench call against the running server.
bench() {
  local limit=$1; shift
  timeout "$limit" "$bench" --endpoints "127.0.0.1:$server_port" --value-bytes "$kv_value" "$@" \
    >> "$raw/bench.out" 2>&1
  local rc=$?
  tail -1 "$raw/bench.out"
  (( rc == 0 )) || fail "velocity-bench $* (exit $rc; see $raw/bench.out)"
  return $rc
}

# measured VARIANT WORKLOAD-ARGS...: PEERBENCH_RUNS measured runs.
measured() {
  local variant=$1; shift
  local i
  for (( i = 1; i <= runs; i++ )); do
    bench $((warm + dur + run_slack_s)) --variant "$variant" --run "$i" --duration "$dur" \
      --warmup "$warm" --jsonl "$jsonl" "$@"
  done
}

kv_preload() {
  bench "$preload_timeout_s" --workload preload --keys "$kv_keys" --cas-keys "$cas_keys" \
    --waiting 0 --running 0 --connections "$conns" ||
    return 1
}

run_memory() {
  local variant="memory 1-node (vs redis no-persistence)"
  start_server memory || return
  if kv_preload; then
    local kv=(--clients "$kv_clients" --connections "$conns" --keys "$kv_keys" --cas-keys "$cas_keys")
    measured "$variant" --workload put --label "set P=1" "${kv[@]}"
    measured "$variant" --workload get --label "get P=1" "${kv[@]}"
  fi
  stop_server
}

run_kv_persistent() {
  local variant="persistent 1-node (vs etcd 1-member)" dir="$raw/kv-data"
  rm -rf "$dir"
  start_server kv-persistent --velocity.mode=persistent --velocity.data-dir="$dir" || return
  if kv_preload; then
    local kv=(--clients "$kv_clients" --connections "$conns" --keys "$kv_keys" --cas-keys "$cas_keys")
    measured "$variant" --workload put "${kv[@]}"
    measured "$variant" --workload get --consistency strong "${kv[@]}"
    measured "$variant" --workload get --consistency local "${kv[@]}"
    measured "$variant" --workload cas "${kv[@]}"
  fi
  stop_server
  [[ ${PEERBENCH_KEEP_DATA:-0} == 1 ]] || rm -rf "$dir"
}

# The job queue: a template data dir with PG_WAITING waiting and PG_RUNNING
# running jobs, copied fresh for every measured run (like PostgreSQL's
# template database), so each run starts from the same state.
run_jobs() {
  local variant="persistent 1-node, fsync before ack (vs synchronous_commit=on)"
  local template="$raw/jobs-template" dir="$raw/jobs-run"
  rm -rf "$template" "$dir"
  start_server jobs-template --velocity.mode=persistent --velocity.data-dir="$template" || return
  bench "$preload_timeout_s" --workload preload --keys 0 --cas-keys 0 --waiting "$pg_waiting" \
    --running "$pg_running" --connections "$pg_clients"
  local loaded=$?
  stop_server
  (( loaded == 0 )) || return
  local wl i
  for wl in submit claim close; do
    for (( i = 1; i <= runs; i++ )); do
      rm -rf "$dir" && cp -a "$template" "$dir" || { fail "copy of $template"; continue; }
      start_server "jobs-$wl-$i" --velocity.mode=persistent --velocity.data-dir="$dir" || continue
      bench $((warm + dur + run_slack_s)) --variant "$variant" --run "$i" --duration "$dur" \
        --warmup "$warm" --jsonl "$jsonl" --workload "$wl" --clients "$pg_clients" \
        --connections "$pg_clients" --waiting "$pg_waiting" --running "$pg_running"
      stop_server
    done
  done
  [[ ${PEERBENCH_KEEP_DATA:-0} == 1 ]] || rm -rf "$template" "$dir"
}

log "runs=$runs duration=${dur}s warmup=${warm}s jsonl=$jsonl raw=$raw"
[[ ",$only," == *",memory,"* ]] && run_memory
[[ ",$only," == *",kv,"* ]] && run_kv_persistent
[[ ",$only," == *",jobs,"* ]] && run_jobs
log "done, $failures failure(s)"
exit $(( failures > 100 ? 100 : failures ))
