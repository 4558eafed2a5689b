#!/usr/bin/env bash
# End-to-end CLI session: starts velocityd (memory mode, free ports) and runs
# every `velocity` subcommand against it, checking stdout, the
# "error: <code>: <message>" lines and the exit codes.
# Usage: cli_check.sh VELOCITYD VELOCITY
set -uo pipefail
velocityd=$1
velocity=$2
work=$(mktemp -d /tmp/velocity-cli-check.XXXXXX)
"$velocityd" --velocity.port=0 --velocity.http-port=0 > "$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$work"' EXIT
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*serving on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log" | head -1)
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] || { echo "velocityd did not start:"; cat "$work/server.log"; exit 1; }

failures=0
# expect EXIT_CODE PATTERN -- ARGS...: runs velocity, checks the exit code and
# that stdout+stderr match the extended regex PATTERN.
expect() {
  local code=$1 pattern=$2
  shift 3
  local out
  out=$("$velocity" --endpoints "127.0.0.1:$port" "$@" 2>&1 < "${stdin_file:-/dev/null}")
  local rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -Eq -- "$pattern" <<< "$out"; then
    echo "FAIL: velocity $* -> exit $rc (want $code), output: $out (want /$pattern/)"
    failures=$((failures + 1))
  fi
}

cat > "$work/schema.json" <<'JSON'
{"collection":"tasks","fields":{"state":{"type":"string"}},"indexes":[{"name":"by_state","fields":["state"]}]}
JSON
expect 0 '^\{"ok":true\}$' -- health
expect 0 '"node_id"' -- status
expect 0 '"collection":"tasks"' -- schema apply "$work/schema.json"
stdin_file="$work/schema.json" expect 0 '"by_state"' -- schema apply -
expect 2 'cannot read' -- schema apply "$work/missing.json"
expect 0 '"id":"t1","version":1' -- insert tasks '{"state":"waiting","n":1}' --id t1
echo '{"state":"waiting","n":2}' > "$work/doc.json"
stdin_file="$work/doc.json" expect 0 '"version":1' -- insert tasks -
expect 4 '^error: already_exists: ' -- insert tasks '{"state":"waiting"}' --id t1
expect 5 '^error: invalid_argument: document must be a JSON object' -- insert tasks '[1]'
expect 5 '^error: malformed: ' -- insert tasks '{bad json'
expect 0 '"id":"t1".*"n":1' -- get tasks t1
expect 3 '^error: not_found: ' -- get tasks nope
expect 3 '^error: unknown_collection: ' -- get nothere t1
expect 0 '"version":2.*"n":5' -- update tasks t1 '{"n":5}' --expect-version 1
expect 4 '^error: version_conflict: ' -- update tasks t1 '{"n":6}' --expect-version 1
expect 0 '"n":7' -- replace tasks t1 '{"state":"waiting","n":7}'
expect 0 '"n":8' -- cas tasks t1 '{"n":8}' --where '{"state":"waiting"}'
expect 4 '^error: condition_failed: ' -- cas tasks t1 '{"n":9}' --where '{"state":"done"}'
expect 0 '^2$' -- count tasks
expect 0 '^2$' -- count tasks --index by_state --from '"waiting"' --to '"waiting"'
expect 0 'next-cursor: ' -- list tasks --limit 1
expect 0 '"id":"t1"' -- list tasks --prefix t1
expect 0 '"state":"running"' -- claim tasks --index by_state --prefix '"waiting"' --set '{"state":"running"}'
expect 0 '"state":"running"' -- claim tasks --index by_state --prefix '["waiting"]' --set '{"state":"running"}'
expect 1 '^$' -- claim tasks --index by_state --prefix '"waiting"' --set '{"state":"running"}'
expect 4 '^error: version_conflict: ' -- delete tasks t1 --expect-version 1
expect 0 '^$' -- delete tasks t1
expect 3 '^error: not_found: ' -- get tasks t1
expect 0 '"by_state"' -- schema get tasks
expect 0 '^$' -- schema drop tasks
expect 5 '^error: invalid_consistency: ' -- --consistency sometimes get tasks t1
expect 2 'required' -- get tasks
"$velocity" --help | grep -q 'Exit codes' || { echo "FAIL: --help lacks exit codes"; failures=$((failures + 1)); }
"$velocity" claim --help | grep -q -- '--set' || { echo "FAIL: claim --help"; failures=$((failures + 1)); }
out=$("$velocity" --endpoints 127.0.0.1:1 health 2>&1); rc=$?
if [ "$rc" -ne 6 ] || ! grep -q '^error: io_error: cannot connect' <<< "$out"; then
  echo "FAIL: refused endpoint -> exit $rc, $out"; failures=$((failures + 1))
fi
echo "cli_check: $failures failure(s)"
[ "$failures" -eq 0 ]
