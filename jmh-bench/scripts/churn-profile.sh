#!/usr/bin/env bash
# Where the proxy's CPU goes under connection churn, after a warm-up of WARMUP seconds: one
# captured pod and one server pod joined by a veth pair (10.77.0.2 -> 10.77.0.3, no route
# anywhere else), the proxy pinned to CPU 1, LoadServer and ChurnClient to CPU 0, `perf record`
# on the proxy for 5 s near the end. Prints the churn rate and perf's split by DSO (kernel, JIT
# code, libjvm = compiler/GC/runtime). Needs root and `perf` (Debian: linux-perf). Usage:
#   WARMUP=25 jmh-bench/scripts/churn-profile.sh      (from the repository root, after a build)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
. "$ROOT/bin/lib.sh"
find_jdk25
WARMUP=${WARMUP:-25}
J="$JAVA_HOME/bin/java"
F=("${NODEMESH_JVM_FLAGS[@]}")
WORK=$(mktemp -d)
A=nmprof$$-a; B=nmprof$$-b
cleanup() {
  kill "${PROXY:-}" "${SERVER:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
ip netns add "$A"; ip netns add "$B"
ip -n "$A" link set lo up; ip -n "$B" link set lo up
ip -n "$A" link add eth0 type veth peer name eth0 netns "$B"
ip -n "$A" addr add 10.77.0.2/24 dev eth0; ip -n "$B" addr add 10.77.0.3/24 dev eth0
ip -n "$A" link set eth0 up; ip -n "$B" link set eth0 up
cat > "$WORK/cfg.yaml" <<Y
proxy: { workers: 1, rules: iptables, admin: 127.0.0.1:0 }
pods:
  - { name: a, namespace: prof, ips: [10.77.0.2], netns: /var/run/netns/$A }
Y
read -r -a PF <<<"${NODEMESH_PROXY_JVM_FLAGS:-${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[*]}}"
taskset -c 1 "$J" "${F[@]}" "${PF[@]}" -XX:+PreserveFramePointer -jar "$NODEMESH_JAR" proxy --config "$WORK/cfg.yaml" \
  --no-telemetry --workers 1 --admin 127.0.0.1:0 > "$WORK/proxy.log" 2>&1 &
PROXY=$!
taskset -c 0 ip netns exec "$B" "$J" "${F[@]}" -cp "$NODEMESH_JAR" io.nodemesh.proxy.bench.load.LoadServer \
  --bind 10.77.0.3:9000 --mode rr > "$WORK/server.log" 2>&1 &
SERVER=$!
sleep 3
taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_JAR" io.nodemesh.proxy.bench.load.ChurnClient \
  --target 10.77.0.3:9000 --threads 4 --duration 10s --warmup "${WARMUP}s" > "$WORK/churn.json" &
CLIENT=$!
sleep $((WARMUP + 3))
perf record -F 999 -g -p "$PROXY" -o "$WORK/perf.data" -- sleep 5 2>/dev/null
wait "$CLIENT"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('churn after %s s warm-up: %d new connections/s, %d errors' % (sys.argv[2], d['connectionsPerSecond'], d['errors']))" "$WORK/churn.json" "$WARMUP"
perf report -i "$WORK/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -4
