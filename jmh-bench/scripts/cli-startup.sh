#!/usr/bin/env bash
# How fast `bin/nodemesh status` answers (RESULTS.md, cli-startup): starts a proxy with no pods on an admin port of
# its own, then runs hyperfine over `java -version` (the floor: a JVM that does nothing), bin/nodemesh status, the
# same without the AOT cache, and BEFORE_ROOT/bin/nodemesh status when BEFORE_ROOT is a checkout of an older commit
# with its jar built (e.g. git archive 3de4afc | tar -x -C /tmp/before && (cd /tmp/before && mvn -o -q -pl cli -am
# -DskipTests package)). All in ONE hyperfine invocation, so that they share the machine's noise. Stops the proxy.
# RUNS (default 30) and WARMUP (default 3) set hyperfine's -r and -w; extra arguments go to hyperfine (e.g.
# --export-markdown FILE).
set -euo pipefail
cd "$(dirname "$0")/../.."
. bin/lib.sh
find_jdk25
command -v hyperfine >/dev/null || ensure_packages "hyperfine:hyperfine"
ensure_jar
port=15999
config=$(mktemp --suffix=.yaml)
log=$(mktemp)
printf 'proxy:\n  rules: none\npods: []\n' >"$config"
bin/nodemesh proxy --config "$config" --admin "127.0.0.1:$port" --no-telemetry >"$log" 2>&1 &
proxy=$!
trap 'kill "$proxy" 2>/dev/null; wait "$proxy" 2>/dev/null; rm -f "$config" "$log"' EXIT
for _ in $(seq 100); do
  bin/nodemesh status --admin "127.0.0.1:$port" >/dev/null 2>&1 && break
  sleep 0.1
done
bin/nodemesh status --admin "127.0.0.1:$port" >/dev/null || { cat "$log" >&2; exit 1; }
commands=("$JAVA_HOME/bin/java -version"
  "bin/nodemesh status --admin 127.0.0.1:$port"
  "env NODEMESH_CLI_AOT=/nonexistent bin/nodemesh status --admin 127.0.0.1:$port")
if [ -n "${BEFORE_ROOT:-}" ]; then
  commands+=("$BEFORE_ROOT/bin/nodemesh status --admin 127.0.0.1:$port")
fi
echo "uptime before: $(uptime)"
hyperfine -N -w "${WARMUP:-3}" -r "${RUNS:-30}" "$@" "${commands[@]}"
echo "uptime after: $(uptime)"
