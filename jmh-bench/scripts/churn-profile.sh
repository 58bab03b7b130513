#!/usr/bin/env bash
# Where the proxy's CPU goes under connection churn, after a warm-up of WARMUP seconds: one
# captured pod and one server pod joined by a veth pair (10.77.0.2 -> 10.77.0.3, no route
# anywhere else), the proxy pinned to CPU 1, LoadServer and ChurnClient to CPU 0, `perf record`
# on the proxy for 5 s near the end. Prints the churn rate, perf's split by DSO (kernel, JIT
# code, libjvm = compiler/GC/runtime) and the top 20 symbols. Needs root and `perf` (Debian: linux-perf). Usage:
#   WARMUP=25 jmh-bench/scripts/churn-profile.sh      (from the repository root, after a build)
set -euo pipefail
PREFIX=nmprof
. "$(dirname "$0")/churn-lib.sh"
taskset -c 1 "$J" "${F[@]}" "${PF[@]}" -XX:+PreserveFramePointer -jar "$NODEMESH_JAR" proxy --config "$WORK/cfg.yaml" \
  --no-telemetry --workers 1 --admin 127.0.0.1:0 > "$WORK/proxy.log" 2>&1 &
PROXY=$!
EXTRA_PIDS=("$PROXY")
proxy_ready "$PROXY" "$WORK/proxy.log"
churn_start 10s
sleep $((WARMUP + 3))
perf record -F 999 -g -p "$PROXY" -o "$WORK/perf.data" -- sleep 5 2>/dev/null
churn_result
perf report -i "$WORK/perf.data" --no-children --sort dso -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -4 \
  || true # head closing the pipe early is not a failure
echo "top symbols (JIT-compiled Java shows as [JIT] without names; libjvm and the kernel by name):"
perf report -i "$WORK/perf.data" --no-children --sort dso,sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -20 \
  || true
