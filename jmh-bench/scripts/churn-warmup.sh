#!/usr/bin/env bash
# How a freshly started proxy's cost per new connection falls as it warms up (issue 23: a proxy started 30 s earlier
# within 1.3x of its own steady state), with and without its AOT cache (cli/target/nodemesh-proxy.aot, which
# bin/nodemesh proxy uses), side by side: per round and variant a fresh proxy (daemon flags, CPU 1) captures one pod
# (churn-lib.sh's topology) and ChurnClient (CPU 0) opens connections through it for WARMUP + 10 s; every 5 s the
# proxy's CPU time (/proc/PID/stat) and its admin API's count of outbound connections are sampled. Prints, per variant,
# the median over the rounds of the proxy's CPU milliseconds per 1000 new connections in each 5 s window of the warm-up
# and in the client's measured 10 s after it (the steady state), with each window's ratio to the steady state; and the
# same steady state for HAProxy 2.6 (TCP mode, one thread, CPU 1) run in the client's namespace as a sidecar would be,
# the client connecting to it. Needs root; from the repository root after
# `mvn package -pl cli,jmh-bench -am -DskipTests`. Usage: ROUNDS=3 WARMUP=35 jmh-bench/scripts/churn-warmup.sh
# VARIANTS (default "jit aot haproxy") picks and orders them; `uring` is `jit` on the io_uring transport,
# `nokeepalive` is `jit` with `keepalive: off` (the upstream sockets then get no TCP keepalive options),
# `haproxy-captured` is HAProxy behind the same kind of capture as the proxy: the client connects to the server's
# address, an iptables REDIRECT in the pod's OUTPUT (the proxy's own chain shape, HAProxy's sockets let through by
# its uid instead of a mark) sends it to HAProxy, which forwards to the original destination (SO_ORIGINAL_DST, its
# `server 0.0.0.0`), so both pay the same NAT and conntrack per connection.
# `nft` is `jit` with the proxy's nft rules (`rules: nft`, REDIRECT), `tproxy` the same with `capture: tproxy` (no NAT,
# no connection tracking; compare them with FRESH=1, which makes the client's pod afresh for each round and variant, so
# that no variant runs where an earlier one's nat table left connection tracking on). `before` is `jit` with the jar BEFORE_JAR (another build's nodemesh.jar), for a before/after in one run.
set -euo pipefail
PREFIX=nmwarm
. "$(dirname "$0")/churn-lib.sh"
ROUNDS=${ROUNDS:-3}
AOT=${AOT:-$ROOT/cli/target/nodemesh-proxy.aot}
VARIANTS=${VARIANTS:-jit aot haproxy}
if [[ " $VARIANTS " == *" aot "* ]] && ! { [ -f "$AOT" ] && [ "$AOT" -nt "$NODEMESH_JAR" ]; }; then
  echo "no AOT cache newer than $NODEMESH_JAR at $AOT" >&2; exit 1
fi
WINDOWS=$(( WARMUP / 5 ))

opened() { # outbound connections the proxy has accepted so far (admin /stats totals)
  curl -fs "http://$1/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['totals']['outbound']['opened'])"
}

run() { # variant round: one fresh proxy (or HAProxy); prints "variant STEADY RATE w1 w2 ..."
  local variant=$1 aot=() transport=epoll admin= line pid cpu0 n0 cpu n out target=10.77.0.3:9000 steady0 connections errors
  local config=$WORK/cfg.yaml
  [ -n "${FRESH:-}" ] && pod_a_create # FRESH=1: each round and variant in a new client pod, no netfilter state left
  [ "$variant" = aot ] && aot=("-XX:AOTCache=$AOT")
  [ "$variant" = uring ] && transport=io_uring
  [ "$variant" = nokeepalive ] && config=$WORK/cfg-nokeepalive.yaml
  [ "$variant" = nft ] && config=$WORK/cfg-nft.yaml
  [ "$variant" = tproxy ] && config=$WORK/cfg-tproxy.yaml
  local jar=$NODEMESH_JAR
  if [ "$variant" = before ]; then
    jar=${BEFORE_JAR:?BEFORE_JAR=another build\'s nodemesh.jar for the before variant}
  fi
  if [ "$variant" = haproxy ]; then
    # HAProxy beside the client as a sidecar would be: in the pod's namespace, the client connecting to it.
    taskset -c 1 ip netns exec "$A" haproxy -f "$WORK/haproxy.cfg" -db > "$WORK/haproxy-$2.log" 2>&1 &
    pid=$!
    kill_on_exit "$pid"
    target=127.0.0.1:9001
    sleep 1
  elif [ "$variant" = haproxy-captured ]; then
    capture_for_haproxy add
    taskset -c 1 ip netns exec "$A" haproxy -f "$WORK/haproxy-captured.cfg" -db > "$WORK/haproxy-captured-$2.log" 2>&1 &
    pid=$!
    kill_on_exit "$pid"
    sleep 1
  else
    proxy_start "$jar" "$config" "$transport" "$WORK/proxy-$variant-$2.log" ${aot[@]+"${aot[@]}"}
    pid=$PROXY_PID
    for _ in $(seq 100); do
      line=$(grep -m1 'proxy started' "$WORK/proxy-$variant-$2.log" || true)
      [ -n "$line" ] && break
      sleep 0.05
    done
    admin=$(sed -n 's/.*admin on \([0-9.]*:[0-9]*\).*/\1/p' <<<"$line")
  fi
  EXTRA_PIDS=("$pid")
  taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.ChurnClient \
    --target "$target" --threads "${CHURN_THREADS:-4}" --duration 10s --warmup "${WARMUP}s" \
    > "$WORK/churn.json" 2>/dev/null &
  CLIENT=$!
  cpu0=$(cpu_ms "$pid"); n0=$([ -n "$admin" ] && opened "$admin" || echo 0)
  out=""
  for _ in $(seq "$WINDOWS"); do
    sleep 5
    cpu=$(cpu_ms "$pid"); n=$([ -n "$admin" ] && opened "$admin" || echo 0)
    out+=" $(( (cpu - cpu0) * 1000 / (n - n0 > 0 ? n - n0 : 1) )):$((n - n0))"
    cpu0=$cpu; n0=$n
  done
  steady0=$(cpu_ms "$pid") # the client's measured window opens about now: WARMUP s after it started
  wait "$CLIENT"; CLIENT=
  cpu=$(cpu_ms "$pid")
  connections=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['connections'])" "$WORK/churn.json")
  rate=$(python3 -c "import json,sys; print(int(json.load(open(sys.argv[1]))['connectionsPerSecond']))" "$WORK/churn.json")
  errors=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['errors'])" "$WORK/churn.json")
  [ "$errors" = 0 ] || echo "round $2: $variant: the client counted $errors failed connections" >&2
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [ "$variant" = haproxy-captured ] && capture_for_haproxy delete
  echo "$variant $(( (cpu - steady0) * 1000 / (connections > 0 ? connections : 1) )) $rate$out"
}

haproxy_config "$WORK/haproxy-captured.cfg" 127.0.0.1:9002 0.0.0.0 "user nobody"
haproxy_config "$WORK/haproxy.cfg" 127.0.0.1:9001 10.77.0.3:9000
sed 's/^proxy: { /proxy: { keepalive: off, /' "$WORK/cfg.yaml" > "$WORK/cfg-nokeepalive.yaml"
sed 's/rules: iptables/rules: nft/' "$WORK/cfg.yaml" > "$WORK/cfg-nft.yaml"
sed 's/rules: iptables/rules: nft, capture: tproxy/' "$WORK/cfg.yaml" > "$WORK/cfg-tproxy.yaml"
server_start
each_round "steady CPU ms per 1000 connections, connections/s, then per 5 s window CPU ms per 1000:connections"
printf '%s\n' "${RESULTS[@]}" | python3 -c '
import sys, statistics
rows = {}
for line in sys.stdin:
    w = line.split()
    rows.setdefault(w[0], []).append((int(w[1]), int(w[2]), [int(x.split(":")[0]) for x in w[3:]]))
ha = statistics.median(r[0] for r in rows.get("haproxy", [(0, 0, [])])) or 1
hc = statistics.median(r[0] for r in rows.get("haproxy-captured", [(0, 0, [])])) or 1
for v, rs in rows.items():
    steady = statistics.median(r[0] for r in rs)
    rate = statistics.median(r[1] for r in rs)
    captured = " (%.2fx haproxy-captured)" % (steady / hc) if "haproxy-captured" in rows else ""
    plain = " (%.2fx haproxy)" % (steady / ha) if "haproxy" in rows else ""
    print("%-8s steady state (the client s last 10 s): %d CPU ms per 1000 new connections%s%s, %d connections/s" % (v, steady, plain, captured, rate))
    if not v.startswith("haproxy"):
        med = [statistics.median(col) for col in zip(*(r[2] for r in rs))]
        print("%-8s by 5 s window since ready, CPU ms per 1000: %s; ratio to steady: %s" % (v, " ".join("%d" % m for m in med), " ".join("%.2f" % (m / (steady or 1)) for m in med)))
'
