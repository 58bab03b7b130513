#!/usr/bin/env bash
# The proxy's memory and CPU with JVM flag variants side by side (issue 23's memory goal): one captured pod and one
# server pod (churn-lib.sh's topology), the proxy pinned to CPU 1, the load tools to CPU 0. Per round and variant a
# fresh proxy: RSS and anonymous RSS 3 s after it captured the pod (idle); connection churn, WARM s unmeasured (the JIT's
# warm-up), then CHURN s measured (4 connect loops; new connections/s and proxy CPU per 1000 connections); then 1000 requests/s of 1 KiB
# each way on 4 keep-alive connections for FIXED s (proxy CPU per 1000 requests), RSS, anonymous RSS and the Java
# heap's committed size at its end (the last -Xlog:gc line), and the peak RSS (VmHWM) of the whole run. Variants
# alternate their order from round to round. Needs root. Usage, from the repository root after a build:
#   jmh-bench/scripts/proxy-memory.sh [NAME='JVM FLAGS' ...]
# Each argument is a variant: its flags replace jvm.flags.daemon (jvm.flags and MALLOC_ARENA_MAX stay as
# jvm-flags.properties has them), and its KEY=VALUE words are set in the proxy's (and agent's) environment; with no argument the one variant is `current`, jvm.flags.daemon as it is.
# ROUNDS (default 2), WARM (default 10), CHURN (default 10), FIXED (default 20) in the environment. AGENT=on runs a
# `nodemesh agent` beside each proxy (same variant flags plus jvm.flags.agent, CPU 1) and the proxy reports to it: the
# table then also has the agent's RSS after start and at the end, and the peak RSS of both processes, and the CPU
# columns count both processes. AGENT=in-process runs the proxy with --agent-in-process instead (one process: its
# figures are both's); AGENT=both runs each variant both ways, one after the other.
set -euo pipefail
PREFIX=nmmem
WARMUP=0
. "$(dirname "$0")/churn-lib.sh"
ROUNDS=${ROUNDS:-2}; WARM=${WARM:-10}; CHURN=${CHURN:-10}; FIXED=${FIXED:-20}
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-$NODEMESH_PROXY_MALLOC_ARENA_MAX}"
NAMES=(); FLAGS=()
if [ $# -eq 0 ]; then set -- "current=${PF[*]}"; fi
for v in "$@"; do NAMES+=("${v%%=*}"); FLAGS+=("${v#*=}"); done

server_start
load() { # tool args...: runs a load tool in the client pod on CPU 0, its JSON on stdout
  taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" "io.nodemesh.bench.load.$@" 2>>"$WORK/load.err" | tail -1
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
both_ticks() { # the proxy's CPU ticks, and the agent's when it runs apart
  if [ -n "$AGENT_PID" ]; then echo $(( $(ticks "$PROXY") + $(ticks "$AGENT_PID") )); else ticks "$PROXY"; fi
}
kib() { awk -v k="$2" '$1 == k":" {print $2}' "$1"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

AGENT=${AGENT:-off}
case $AGENT in
  off|on|in-process) MODES=("$AGENT") ;;
  both) MODES=(on in-process) ;;
  *) echo "AGENT must be off, on, in-process or both, not $AGENT" >&2; exit 2 ;;
esac
if [ "$AGENT" != off ]; then
  echo "| round | variant | idle RSS | idle anon | churn conn/s | CPU ms per 1000 conn | 1000 req/s: RSS | anon | heap | CPU ms per 1000 req | errors | peak RSS | agent: idle RSS | end RSS | peak RSS | proxy + agent, sum of peaks |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
else
  echo "| round | variant | idle RSS | idle anon | churn conn/s | CPU ms per 1000 conn | 1000 req/s: RSS | anon | heap | CPU ms per 1000 req | errors | peak RSS |"
  echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
fi
for round in $(seq "$ROUNDS"); do
  order=$(seq 0 $((${#NAMES[@]} - 1)))
  if [ $((round % 2)) -eq 0 ]; then order=$(echo "$order" | tac); fi
  for i in $order; do for mode in "${MODES[@]}"; do
    name=${NAMES[$i]}
    [ ${#MODES[@]} -gt 1 ] && name="$name, $([ "$mode" = on ] && echo "agent apart" || echo "agent in process")"
    read -r -a words <<<"${FLAGS[$i]}"
    ve=(); vf=() # KEY=VALUE words go to the environment (e.g. MALLOC_ARENA_MAX=1), the rest are JVM flags
    for w in "${words[@]}"; do if [[ $w =~ ^[A-Z_][A-Z0-9_]*= ]]; then ve+=("$w"); else vf+=("$w"); fi; done
    TELEMETRY_ARGS=(--no-telemetry); AGENT_PID=
    if [ "$mode" = in-process ]; then
      rm -f "$WORK/t.sock"
      # The hosted agent takes the reports directly (no socket); HOSTED_SOCKET=1 for a build before that (56cb626
      # and older), whose hosted agent listened on --telemetry-socket.
      TELEMETRY_ARGS=(--agent-in-process --metrics-address 127.0.0.1:0)
      [ -z "${HOSTED_SOCKET:-}" ] || TELEMETRY_ARGS+=(--telemetry-socket "$WORK/t.sock")
    elif [ "$mode" = on ]; then
      rm -f "$WORK/t.sock"
      env ${ve[@]+"${ve[@]}"} taskset -c 1 "$J" "${F[@]}" ${vf[@]+"${vf[@]}"} "${NODEMESH_AGENT_JVM_FLAGS_ONLY[@]}" -jar "$NODEMESH_JAR" agent \
        --socket "$WORK/t.sock" --metrics-address 127.0.0.1:0 > "$WORK/agent.log" 2>&1 &
      AGENT_PID=$!
      for _ in $(seq 100); do [ -S "$WORK/t.sock" ] && break; sleep 0.1; done
      TELEMETRY_ARGS=(--telemetry-socket "$WORK/t.sock")
    fi
    env ${ve[@]+"${ve[@]}"} taskset -c 1 "$J" "${F[@]}" ${vf[@]+"${vf[@]}"} -Xlog:gc:file="$WORK/gc.log" -jar "$NODEMESH_JAR" proxy --config "$WORK/cfg.yaml" \
      "${TELEMETRY_ARGS[@]}" --remove-rules-on-exit --workers 1 --admin 127.0.0.1:0 --readiness 127.0.0.1:0 --admin-socket "$WORK/admin.sock" > "$WORK/proxy.log" 2>&1 &
    PROXY=$!
    EXTRA_PIDS=("$PROXY" $AGENT_PID)
    proxy_ready "$PROXY" "$WORK/proxy.log"
    sleep 3
    idle_rss=$(kib "/proc/$PROXY/status" VmRSS); idle_anon=$(kib "/proc/$PROXY/smaps_rollup" Anonymous)
    agent_idle=0; [ -z "$AGENT_PID" ] || agent_idle=$(kib "/proc/$AGENT_PID/status" VmRSS)
    load ChurnClient --target 10.77.0.3:9000 --threads 4 --duration "${WARM}s" --warmup 0s > /dev/null
    t0=$(both_ticks)
    churn=$(load ChurnClient --target 10.77.0.3:9000 --threads 4 --duration "${CHURN}s" --warmup 0s)
    t1=$(both_ticks)
    fixed=$(load FixedRateClient --target 10.77.0.3:9000 --rate 1000 --connections 4 --duration "${FIXED}s" --warmup 0s)
    t2=$(both_ticks)
    rss=$(kib "/proc/$PROXY/status" VmRSS); anon=$(kib "/proc/$PROXY/smaps_rollup" Anonymous)
    hwm=$(kib "/proc/$PROXY/status" VmHWM)
    heap=$(grep -o '([0-9]*M)' "$WORK/gc.log" | tail -1 | tr -d '()')
    agent_rss=0; agent_hwm=0
    if [ -n "$AGENT_PID" ]; then
      agent_rss=$(kib "/proc/$AGENT_PID/status" VmRSS); agent_hwm=$(kib "/proc/$AGENT_PID/status" VmHWM)
    fi
    kill "$PROXY" $AGENT_PID; wait "$PROXY" $AGENT_PID 2>/dev/null || true
    conns=$(field "$churn" connections); reqs=$(field "$fixed" requests)
    errors=$(($(field "$churn" errors) + $(field "$fixed" errors)))
    hz=$(getconf CLK_TCK)
    awk -v r="$round" -v n="$name" -v ir="$(mib "$idle_rss")" -v ia="$(mib "$idle_anon")" -v c="$conns" -v cs="$CHURN" \
        -v ct=$((t1 - t0)) -v q="$reqs" -v qt=$((t2 - t1)) -v hz="$hz" -v rr="$(mib "$rss")" -v ra="$(mib "$anon")" \
        -v h="$heap" -v e="$errors" -v pk="$(mib "$hwm")" -v ag="$AGENT" -v ai="$(mib "$agent_idle")" -v ar="$(mib "$agent_rss")" \
        -v ap="$(mib "$agent_hwm")" -v m="$mode" 'BEGIN {
      printf "| %d | %s | %s MiB | %s MiB | %.0f | %.0f | %s MiB | %s MiB | %s | %.0f | %d | %s MiB |",
        r, n, ir, ia, c / cs, (c ? ct / hz * 1e6 / c : 0), rr, ra, h, (q ? qt / hz * 1e6 / q : 0), e, pk
      if (m == "on") printf " %s MiB | %s MiB | %s MiB | %.1f MiB |", ai, ar, ap, pk + ap
      if (m == "in-process") printf " in the proxy | | | %s MiB |", pk
      print "" }'
  done; done
done
echo
for i in "${!NAMES[@]}"; do echo "- ${NAMES[$i]}: MALLOC_ARENA_MAX=$MALLOC_ARENA_MAX java ${F[*]} ${FLAGS[$i]} (KEY=VALUE words: environment)"; done
