#!/usr/bin/env bash
# What telemetry costs under connection churn, after a warm-up of WARMUP seconds: the topology of
# churn-lib.sh (one captured pod 10.77.0.2 and one server pod 10.77.0.3 joined by a veth pair,
# no route anywhere else), the proxy reporting to a `nodemesh agent`, both pinned to CPU 1 with the
# proxy's footprint flags (the agent also with bin/nodemesh's agent flags: C1 alone, early), LoadServer and
# ChurnClient on CPU 0. Prints per-thread CPU time and context switches of the proxy and the agent over 10 s
# (from /proc/<pid>/task/<tid>/schedstat and status; telemetry = the agent + the proxy's telemetry-* threads), each
# CPU's idle and stolen share over the same 10 s (/proc/stat), both processes' RSS, then `perf` samples of the agent and of the proxy's
# telemetry threads for 5 s each, by symbol (JIT symbols from -XX:+DumpPerfMapAtExit; `Interpreter`
# is bytecode not yet compiled). Needs root and `perf` (Debian: linux-perf). AGENT_FLAGS (default: bin/lib.sh's
# NODEMESH_AGENT_JVM_FLAGS_ONLY; AGENT_FLAGS= for C2 with default thresholds) and PROXY_FLAGS add JVM flags to the
# agent's and the proxy's command lines (e.g. PROXY_FLAGS=-Xlog:gc:file=/tmp/gc.log); JAR runs another build's nodemesh.jar (for
# A/B runs in alternation); CHURN_THREADS sets the churn client's connect loops (default 4); TELEMETRY=off runs the
# same proxy with --no-telemetry and no agent, TELEMETRY=noagent with telemetry on and no agent to report to (both:
# table and RSS only); PERF=off runs no perf (which otherwise samples in the churn client's measured window, with
# telemetry on only) and starts neither process with perf's frame-pointer flags, for rate and latency A/B runs;
# AGENT_CPU=0 runs the agent beside the load instead of on the proxy's CPU 1. The last line is the churn client's
# rate and latency per connection. Usage:
#   WARMUP=25 jmh-bench/scripts/telemetry-churn-profile.sh   (from the repository root, after a build)
set -euo pipefail
PREFIX=nmtel
. "$(dirname "$0")/churn-lib.sh"
PERFMAP=(-XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit -XX:+PreserveFramePointer)
# Frame pointers cost the JIT a register: only the processes perf samples run with them, so an A/B of latency or rate
# (PERF=off) compares the same flags.
[ "${PERF:-on}" = off ] && PERFMAP=()
# The agent as bin/nodemesh agent runs it unless AGENT_FLAGS says otherwise.
read -r -a AF <<<"${AGENT_FLAGS-${NODEMESH_AGENT_JVM_FLAGS_ONLY[*]}}"; read -r -a XF <<<"${PROXY_FLAGS:-}"
AGENT=
if [ "${TELEMETRY:-on}" = off ]; then
  # The same proxy without telemetry, for an on/off pair: the per-thread table and RSS only.
  TELEMETRY_ARGS=(--no-telemetry); PM=()
elif [ "${TELEMETRY:-on}" = noagent ]; then
  # Telemetry on in the proxy with no agent to report to: the proxy's side alone (its buffer fills, events are
  # refused and counted, the client retries with back-off).
  TELEMETRY_ARGS=(--telemetry-socket "$WORK/absent.sock"); PM=()
else
  taskset -c "${AGENT_CPU:-1}" "$J" "${F[@]}" "${PF[@]}" ${PERFMAP[@]+"${PERFMAP[@]}"} ${AF[@]+"${AF[@]}"} -jar "$NODEMESH_JAR" agent --socket "$WORK/t.sock" \
    --metrics-address 127.0.0.1:0 > "$WORK/agent.log" 2>&1 &
  AGENT=$!
  EXTRA_PIDS=("$AGENT")
  for _ in $(seq 100); do [ -S "$WORK/t.sock" ] && break; sleep 0.1; done
  TELEMETRY_ARGS=(--telemetry-socket "$WORK/t.sock"); PM=(${PERFMAP[@]+"${PERFMAP[@]}"})
fi
taskset -c 1 "$J" "${F[@]}" "${PF[@]}" ${PM[@]+"${PM[@]}"} ${XF[@]+"${XF[@]}"} -jar "$NODEMESH_JAR" proxy --config "$WORK/cfg.yaml" \
  "${TELEMETRY_ARGS[@]}" --workers 1 --admin 127.0.0.1:0 > "$WORK/proxy.log" 2>&1 &
PROXY=$!
EXTRA_PIDS=("$PROXY" $AGENT)
proxy_ready "$PROXY" "$WORK/proxy.log"
[ -z "$AGENT" ] || EXTRA_FILES=("/tmp/perf-$PROXY.map" "/tmp/perf-$AGENT.map")
churn_start 25s
sleep $((WARMUP + 2))
# CPU time (schedstat: ns, not the 10 ms ticks of /proc/<pid>/stat) and context switches of every thread.
cpu() { for p in "$@"; do for t in /proc/$p/task/*; do
  echo "$p/${t##*/}/$(tr ' ' _ < "$t/comm") $(awk '{print $1}' "$t/schedstat") $(awk '/^voluntary_ctxt/ {v = $2}
    /^nonvoluntary_ctxt/ {n = $2} END {print v, n}' "$t/status")"; done; done; }
cpu "$PROXY" $AGENT | sort > "$WORK/t0"; grep -E '^cpu[01] ' /proc/stat > "$WORK/s0"
sleep 10; cpu "$PROXY" $AGENT | sort > "$WORK/t1"; grep -E '^cpu[01] ' /proc/stat > "$WORK/s1"
echo "CPU ms and context switches (voluntary, involuntary) per thread over 10 s, pid/tid/name (${AGENT:+agent pid $AGENT, }proxy pid $PROXY):"
join "$WORK/t0" "$WORK/t1" | awk '{d = ($5 - $2) / 1e6; if (d >= 0.5) printf "  %8.1f ms %5d vol %5d invol %s\n", d, $6 - $3, $7 - $4, $1}' \
  | sort -rn | head -16 || true
join "$WORK/t0" "$WORK/t1" | awk -v a="$AGENT" '{d = ($5 - $2) / 1e6; split($1, k, "/");
  if (k[1] == a) { ag += d } else { px += d; if (k[3] ~ /^telemetry-/) rt += d } }
  END { printf "proxy %.1f ms (of it telemetry-* threads %.1f), agent %.1f: telemetry %.2f %% of proxy + agent\n",
        px, rt, ag, 100 * (rt + ag) / (px + ag) }'
# Idle (idle + iowait) and stolen share of each CPU (0: load client and server; 1: proxy and agent), from /proc/stat.
paste "$WORK/s0" "$WORK/s1" | awk '{n = NF / 2; t0 = 0; t1 = 0; for (i = 2; i <= n; i++) { t0 += $i; t1 += $(n + i) }
  printf "%s idle %.1f %% steal %.1f %%  ", $1, 100 * (($(n + 5) + $(n + 6)) - ($5 + $6)) / (t1 - t0),
  100 * ($(n + 9) - $9) / (t1 - t0) } END { print "" }'
echo "RSS: proxy $(awk '/^VmRSS/ {print $2, $3}' "/proc/$PROXY/status"), agent ${AGENT:+$(awk '/^VmRSS/ {print $2, $3}' "/proc/$AGENT/status")}"
if [ -z "$AGENT" ] || [ "${PERF:-on}" = off ]; then
  churn_result
  exit 0
fi
RT=$(for t in /proc/$PROXY/task/*; do case "$(cat "$t/comm")" in telemetry-*) printf '%s,' "${t##*/}";; esac; done)
perf record -F 1999 -g -p "$AGENT" -o "$WORK/agent.perf" -- sleep 5 > /dev/null 2>&1
perf record -F 1999 -g -t "${RT%,}" -o "$WORK/reporter.perf" -- sleep 5 > /dev/null 2>&1
churn_result
kill "$PROXY" "$AGENT"; wait "$PROXY" "$AGENT" 2>/dev/null || true # exiting writes the perf maps
for f in agent reporter; do
  echo "perf, $f (samples at 1999 Hz over 5 s):"
  perf report -i "$WORK/$f.perf" --no-children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -12 \
    || true # head closing the pipe early is not a failure
done
