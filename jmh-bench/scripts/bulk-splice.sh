#!/usr/bin/env bash
# The relay's cost on a bulk transfer, spliced in the kernel (splice(2) through a pipe per direction, the default on
# epoll) against copied through user space (-Dnodemesh.relay.splice=false), side by side: per round and variant a
# fresh proxy (daemon flags, CPU 1, one worker) captures one pod (churn-lib.sh's topology) and BulkClient (CPU 0) in
# that pod pushes to a sink, then pulls from a source, in the server pod (CPU 0), STREAMS connections for WARM s
# unmeasured and DURATION s measured each way. Prints per round and variant the Gbit/s and the proxy's CPU
# milliseconds per GB moved in the measured window, then the medians and the ratios to `copy`. `haproxy-captured` is
# HAProxy 2.6 (TCP mode, one thread, CPU 1) behind the same kind of REDIRECT, as in churn-warmup.sh, and
# `haproxy-captured-splice` the same with `option splice-request` and `option splice-response` (HAProxy's own splice);
# `splice-BYTES` is `splice` with pipes of BYTES (-Dnodemesh.relay.splice.pipe); `before` is the jar BEFORE_JAR.
# Needs root; from the repository root after `mvn package -pl cli,jmh-bench -am -DskipTests`.
# Usage: ROUNDS=3 STREAMS=1 VARIANTS="copy splice haproxy-captured haproxy-captured-splice" \
#   jmh-bench/scripts/bulk-splice.sh
set -euo pipefail
PREFIX=nmbulk
. "$(dirname "$0")/churn-lib.sh"
ROUNDS=${ROUNDS:-3}; STREAMS=${STREAMS:-1}; WARM=${WARM:-2}; DURATION=${DURATION:-8}
VARIANTS=${VARIANTS:-copy splice haproxy-captured haproxy-captured-splice}
# HAProxy's splice needs a pipe per connection, so its descriptors for 8000 connections would pass this machine's limit.
HAPROXY_MAXCONN=4000
haproxy_config "$WORK/haproxy-captured.cfg" 127.0.0.1:9002 0.0.0.0 "user nobody"
haproxy_config "$WORK/haproxy-captured-splice.cfg" 127.0.0.1:9002 0.0.0.0 "user nobody" "option splice-request
  option splice-response"

taskset -c 0 ip netns exec "$B" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.LoadServer \
  --bind 10.77.0.3:9100 --mode sink > "$WORK/sink.log" 2>&1 &
SINK=$!
taskset -c 0 ip netns exec "$B" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.LoadServer \
  --bind 10.77.0.3:9101 --mode source > "$WORK/source.log" 2>&1 &
SOURCE=$!
EXTRA_PIDS=("$SINK" "$SOURCE")
sleep 3

bulk() { # pid direction port: "Gbit/s CPU-ms-per-GB"
  local pid=$1 cpu0 cpu gbps bytes
  taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.BulkClient \
    --target "10.77.0.3:$3" --direction "$2" --streams "$STREAMS" --warmup "${WARM}s" --duration "${DURATION}s" \
    > "$WORK/bulk.json" 2>>"$WORK/bulk.err" &
  CLIENT=$!
  sleep "$WARM"
  cpu0=$(cpu_ms "$pid")
  wait "$CLIENT"; CLIENT=
  cpu=$(cpu_ms "$pid")
  read -r gbps bytes < <(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['gbps'], d['bytes'])" "$WORK/bulk.json")
  python3 -c "import sys; print('%.2f %.1f' % (float(sys.argv[1]), (int(sys.argv[2]) * 1.0) / (int(sys.argv[3]) / 1e9)))" "$gbps" "$((cpu - cpu0))" "$bytes"
}

run() { # variant round: prints "variant push-Gbit/s push-ms/GB pull-Gbit/s pull-ms/GB"
  local variant=$1 pid jar=$NODEMESH_JAR extra=() push pull
  if [[ "$variant" == haproxy-captured* ]]; then
    capture_for_haproxy add
    taskset -c 1 ip netns exec "$A" haproxy -f "$WORK/$variant.cfg" -db > "$WORK/$variant-$2.log" 2>&1 &
    pid=$!
    kill_on_exit "$pid"
    sleep 1
  else
    [ "$variant" = copy ] && extra=(-Dnodemesh.relay.splice=false)
    [[ "$variant" == splice-* ]] && extra=("-Dnodemesh.relay.splice.pipe=${variant#splice-}")
    [ "$variant" = before ] && jar=${BEFORE_JAR:?BEFORE_JAR=another build\'s nodemesh.jar for the before variant}
    proxy_start "$jar" "$WORK/cfg.yaml" epoll "$WORK/proxy-$variant-$2.log" ${extra[@]+"${extra[@]}"}
    pid=$PROXY_PID
  fi
  EXTRA_PIDS=("$SINK" "$SOURCE" "$pid")
  push=$(bulk "$pid" push 9100)
  pull=$(bulk "$pid" pull 9101)
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [[ "$variant" == haproxy-captured* ]]; then capture_for_haproxy delete; fi
  echo "$variant $push $pull"
}

echo "| round | variant | push Gbit/s | push CPU ms per GB | pull Gbit/s | pull CPU ms per GB |"
echo "|---:|---|---:|---:|---:|---:|"
RESULTS=()
for r in $(seq "$ROUNDS"); do
  order=$VARIANTS
  [ $((r % 2)) -eq 0 ] && order=$(tr ' ' '\n' <<<"$VARIANTS" | tac | tr '\n' ' ')
  for v in $order; do
    line=$(run "$v" "$r")
    read -r name a b c d <<<"$line"
    echo "| $r | $name | $a | $b | $c | $d |"
    RESULTS+=("$line")
  done
done
printf '%s\n' "${RESULTS[@]}" | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin:
    w = line.split()
    rows.setdefault(w[0], []).append([float(x) for x in w[1:]])
med = {v: [statistics.median(c) for c in zip(*rs)] for v, rs in rows.items()}
base = med.get("copy") or med.get("before")
print()
for v, m in med.items():
    ratio = "" if base is None else "; against %s: push %.2fx Gbit/s, %.2fx CPU per GB; pull %.2fx, %.2fx" % (
        "copy" if "copy" in med else "before", m[0] / base[0], m[1] / base[1], m[2] / base[2], m[3] / base[3])
    print("%-16s medians: push %.2f Gbit/s at %.0f CPU ms per GB, pull %.2f Gbit/s at %.0f%s" % (v, m[0], m[1], m[2], m[3], ratio))
'
