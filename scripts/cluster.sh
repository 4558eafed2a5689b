#!/usr/bin/env bash
# The local 3-node cluster of configs/cluster-3/ (three velocityd processes on
# 127.0.0.1, persistent mode, data under data/cluster-3/).
#
#   scripts/cluster.sh start    start the nodes that are not running; wait until each answers
#   scripts/cluster.sh stop     SIGTERM every node (drain, final fsync), SIGKILL after 30 s
#   scripts/cluster.sh status   per node: running or not, and its Raft groups (role, leader, term)
#   scripts/cluster.sh wipe     stop, then delete data/cluster-3/
#
# Clients: build/tools/velocity --endpoints 127.0.0.1:7410,127.0.0.1:7420,127.0.0.1:7430
# Logs: data/cluster-3/nodeN.log. PIDs: data/cluster-3/nodeN.pid.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
velocityd=${VELOCITYD:-build/tools/velocityd}
dir=data/cluster-3
nodes=(1 2 3)

running() { [[ -f $dir/node$1.pid ]] && kill -0 "$(cat "$dir/node$1.pid")" 2>/dev/null; }
http_port() { echo $((7400 + 10 * $1 + 1)); }

start() {
  [[ -x $velocityd ]] || { echo "cluster.sh: $velocityd is missing; build first (scripts/build.sh or cmake --build build)" >&2; exit 1; }
  mkdir -p "$dir"
  for n in "${nodes[@]}"; do
    if running "$n"; then echo "node $n: already running (pid $(cat "$dir/node$n.pid"))"; continue; fi
    "$velocityd" --config-file="configs/cluster-3/node$n.ini" >>"$dir/node$n.log" 2>&1 &
    echo $! >"$dir/node$n.pid"
  done
  for n in "${nodes[@]}"; do
    for _ in $(seq 1 100); do
      curl -fsS "http://127.0.0.1:$(http_port "$n")/health" >/dev/null 2>&1 && break
      running "$n" || { echo "node $n: exited; see $dir/node$n.log" >&2; tail -5 "$dir/node$n.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "node $n: running (pid $(cat "$dir/node$n.pid")), clients on 127.0.0.1:$((7400 + 10 * n))"
  done
  # /ready is 200 once every shard of the node knows its leader.
  for _ in $(seq 1 100); do
    all=1
    for n in "${nodes[@]}"; do curl -fsS "http://127.0.0.1:$(http_port "$n")/ready" >/dev/null 2>&1 || all=0; done
    [[ $all == 1 ]] && { echo "cluster ready"; return 0; }
    sleep 0.1
  done
  echo "cluster.sh: not every shard has a leader yet (see scripts/cluster.sh status)" >&2
}

stop() {
  for n in "${nodes[@]}"; do
    running "$n" || continue
    pid=$(cat "$dir/node$n.pid"); kill -TERM "$pid"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { echo "node $n: did not stop in 30 s; SIGKILL"; kill -KILL "$pid"; }
    rm -f "$dir/node$n.pid"; echo "node $n: stopped"
  done
}

status() {
  for n in "${nodes[@]}"; do
    if running "$n"; then
      echo "node $n: running (pid $(cat "$dir/node$n.pid"))"
      curl -fsS "http://127.0.0.1:$(http_port "$n")/status" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
for g in d.get("groups", []):
    print("  shard %d: %-9s leader %d, term %d, commit %d, applied %d" % (g["shard"], g["role"], g["leader"], g["term"], g["commit"], g["applied"]))
' || echo "  (no status)"
    else
      echo "node $n: not running"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  wipe) stop; rm -rf "$dir"; echo "deleted $dir" ;;
  *) echo "usage: scripts/cluster.sh start|stop|status|wipe" >&2; exit 2 ;;
esac
