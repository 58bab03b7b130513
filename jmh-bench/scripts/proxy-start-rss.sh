#!/usr/bin/env bash
# What the proxy's AOT cache (cli/target/nodemesh-proxy.aot) does to start-up and memory, side by side: ROUNDS times,
# alternating, `bin/nodemesh proxy` as a user runs it (no pods, no telemetry) with the cache and without it
# (NODEMESH_PROXY_AOT=); per start the time from launch to the readiness endpoint answering, then, 3 s later, RSS and
# its anonymous and file-backed parts (/proc/PID/smaps_rollup). Needs the cache built (as root, by
# `mvn package -pl cli -am`). Usage: ROUNDS=5 jmh-bench/scripts/proxy-start-rss.sh   (from the repository root)
# IMAGE_ROOT=image/target/root: the image's staged tree instead (its launcher, JRE, jar and cache, stage-root.sh; built
# by `mvn package -pl image -am`), at the path it was trained at.
set -euo pipefail
ROUNDS=${ROUNDS:-5}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [ -n "${IMAGE_ROOT:-}" ]; then
  export NODEMESH_HOME; NODEMESH_HOME="$(cd "$IMAGE_ROOT" && pwd)/opt/nodemesh"
  NODEMESH="$NODEMESH_HOME/bin/nodemesh"
  CACHE="$NODEMESH_HOME/lib/nodemesh-proxy.aot"
else
  NODEMESH="$ROOT/bin/nodemesh"
  CACHE="$ROOT/cli/target/nodemesh-proxy.aot"
fi
[ -f "$CACHE" ] || { echo "no $CACHE: build cli (or the image) as root" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'pkill -f "$WORK/mesh.yaml" 2>/dev/null; rm -rf "$WORK"' EXIT
printf 'proxy: { rules: none, admin: 127.0.0.1:15990, readiness: 127.0.0.1:15991 }\npods: []\n' >"$WORK/mesh.yaml"

start() { # label, then the environment for bin/nodemesh
  local label=$1 s e pid
  shift
  s=$(date +%s%N)
  env "$@" "$NODEMESH" proxy --config "$WORK/mesh.yaml" --no-telemetry --admin-socket "$WORK/admin.sock" \
    >"$WORK/proxy.log" 2>&1 &
  pid=$!
  until curl -fs http://127.0.0.1:15991/healthz/ready >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/proxy.log" >&2; exit 1; }
    sleep 0.01
  done
  e=$(date +%s%N)
  sleep 3
  awk -v label="$label" -v ms=$(( (e - s) / 1000000 )) '
    /^Rss:/ {rss=$2} /^Pss_Anon:/ {anon=$2} /^Pss_File:/ {file=$2}
    END {printf "%-8s ready %5d ms   RSS %5.1f MiB   Pss_Anon %5.1f MiB   Pss_File %5.1f MiB\n", label, ms, rss/1024, anon/1024, file/1024}' \
    "/proc/$pid/smaps_rollup"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for _ in $(seq "$ROUNDS"); do
  start aot NODEMESH_PROXY_AOT="$CACHE"
  start no-aot NODEMESH_PROXY_AOT=
done
