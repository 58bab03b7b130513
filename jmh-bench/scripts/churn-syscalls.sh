#!/usr/bin/env bash
# The proxy's system calls per new connection under churn (issue 23's per-connection path, every call counted): the
# topology of churn-lib.sh (one captured pod, one server pod), the proxy pinned to CPU 1 without telemetry; WARMUP s
# of churn unmeasured, then `strace -c -f` on the proxy while a ChurnClient makes connections for TRACE_SECONDS (default 5),
# and the calls divided by the connections the client completed meanwhile. strace slows the proxy many times over:
# the counts are the figure, not the rate. Needs root and strace. Usage, from the repository root after a build:
#   WARMUP=10 jmh-bench/scripts/churn-syscalls.sh      (JAR=another/nodemesh.jar for another build)
set -euo pipefail
PREFIX=nmsys
WARMUP=${WARMUP:-10}
. "$(dirname "$0")/churn-lib.sh"
ensure_packages "strace:strace"
TRACE_SECONDS=${TRACE_SECONDS:-5}
taskset -c 1 "$J" "${F[@]}" "${PF[@]}" -jar "$NODEMESH_JAR" proxy --config "$WORK/cfg.yaml" \
  --no-telemetry --workers 1 --admin 127.0.0.1:0 --admin-socket "$WORK/admin.sock" > "$WORK/proxy.log" 2>&1 &
PROXY=$!
EXTRA_PIDS=("$PROXY")
proxy_ready "$PROXY" "$WORK/proxy.log"
server_start
client() { # duration -> the client's JSON
  taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.ChurnClient \
    --target 10.77.0.3:9000 --threads "${CHURN_THREADS:-4}" --duration "$1" --warmup 0s 2>>"$WORK/client.err" | tail -1
}
client "${WARMUP}s" > /dev/null
strace -c -f -p "$PROXY" -o "$WORK/strace.txt" &
TRACER=$!
EXTRA_PIDS+=("$TRACER")
sleep 1 # strace attaches to every thread
traced=$(client "${TRACE_SECONDS}s") || { cat "$WORK/client.err" "$WORK/proxy.log" >&2; exit 1; }
kill -INT "$TRACER"; wait "$TRACER" 2>/dev/null || true
python3 - "$WORK/strace.txt" "$traced" <<'PY'
import json, sys
conns = json.loads(sys.argv[2])["connections"]
rows = []
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] not in ("total",):
        calls = int(parts[3]); errors = int(parts[4]) if len(parts) == 6 else 0
        rows.append((calls, errors, parts[-1]))
rows.sort(reverse=True)
print(f"{conns} connections traced")
total = 0
for calls, errors, name in rows:
    per = calls / conns
    if per >= 0.05:
        total += per
        print(f"  {name:16s} {per:6.2f} per connection" + (f" ({errors / conns:.2f} failing)" if errors else ""))
print(f"  {'all of these':16s} {total:6.2f} per connection")
PY
