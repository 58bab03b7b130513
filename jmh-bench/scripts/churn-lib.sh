# Sourced by churn-profile.sh and telemetry-churn-profile.sh: the topology both profile churn in, one captured
# pod (10.77.0.2) and one server pod (10.77.0.3) joined by a veth pair with no route anywhere else, a proxy config
# that captures the first, the request/response server and the churn client on CPU 0. The caller sets PREFIX
# (namespace name prefix) and WARMUP, starts its proxy on CPU 1 with "${F[@]}" "${PF[@]}", and lists its own extra
# processes in EXTRA_PIDS and files to remove in EXTRA_FILES for churn_cleanup. KEEPALIVE=off (or a flow mapping)
# sets the proxy's proxy.keepalive. Also: cpu_ms (a process's CPU time), and for the scripts that set HAProxy beside
# the proxy (churn-warmup.sh, bulk-splice.sh) capture_for_haproxy and haproxy_config.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$ROOT/bin/lib.sh"
NODEMESH_JAR=${JAR:-$NODEMESH_JAR} # JAR=...: another build's nodemesh.jar, for A/B runs
find_jdk25
# The load tools (LoadServer, ChurnClient) live in benchmarks.jar; the proxy and the agent run from nodemesh.jar.
ensure_bench_jar
ensure_packages "${NODEMESH_PACKAGES[@]}" "linux-perf:perf"
WARMUP=${WARMUP:-25}
J="$JAVA_HOME/bin/java"
F=("${NODEMESH_JVM_FLAGS[@]}")
read -r -a PF <<<"${NODEMESH_PROXY_JVM_FLAGS:-${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[*]}}"
WORK=$(mktemp -d)
A=$PREFIX$$-a; B=$PREFIX$$-b
EXTRA_PIDS=(); EXTRA_FILES=()

churn_cleanup() {
  kill "${EXTRA_PIDS[@]}" "${SERVER:-}" "${CLIENT:-}" 2>/dev/null || true
  wait 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  rm -f "${EXTRA_FILES[@]}"
  rm -rf "$WORK"
}
trap churn_cleanup EXIT INT TERM

# (Re)creates the client's pod A and its veth pair to B: a fresh A has no netfilter state, so no connection tracking
# until rules that need it are loaded there (capture-nat.sh starts each variant in a fresh A).
pod_a_create() {
  # The pair goes first: a deleted namespace's devices are removed later, asynchronously.
  ip -n "$B" link del eth0 2>/dev/null || true
  ip netns del "$A" 2>/dev/null || true
  ip netns add "$A"
  ip -n "$A" link set lo up
  ip -n "$A" link add eth0 type veth peer name eth0 netns "$B"
  ip -n "$A" addr add 10.77.0.2/24 dev eth0; ip -n "$B" addr add 10.77.0.3/24 dev eth0
  ip -n "$A" link set eth0 up; ip -n "$B" link set eth0 up
}
ip netns add "$B"
ip -n "$B" link set lo up
pod_a_create
cat > "$WORK/cfg.yaml" <<Y
proxy: { workers: 1, rules: iptables, admin: 127.0.0.1:0${KEEPALIVE:+, keepalive: $KEEPALIVE} }
pods:
  - { name: a, namespace: prof, ips: [10.77.0.2], netns: /var/run/netns/$A }
Y

# Waits until the proxy has installed the pod's redirect rules (a NODEMESH_ chain in its nat table, nft's
# table inet nodemesh, or under capture: ebpf its log saying the inbound program is there), so a
# profile never measures traffic that went around the proxy; stops the script if the proxy exits or
# logs an error first. $1: the proxy's pid, $2: its log.
proxy_ready() {
  for _ in $(seq 100); do
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; echo "the proxy exited before capturing the pod" >&2; exit 1; }
    if grep -q ' ERROR ' "$2"; then cat "$2" >&2; echo "the proxy could not capture the pod" >&2; exit 1; fi
    ip netns exec "$A" iptables-save -t nat 2>/dev/null | grep -q '^:NODEMESH_' && return 0
    ip netns exec "$A" nft list table inet nodemesh > /dev/null 2>&1 && return 0
    grep -q 'eBPF inbound redirect rules' "$2" && return 0 # capture: ebpf, with no netfilter rule
    sleep 0.1
  done
  cat "$2" >&2; echo "the proxy did not capture the pod within 10 s" >&2; exit 1
}

# Kills process $1 when the subshell this runs in exits, however it exits. The scripts run each round's variant in
# a command substitution, `line=$(run …)`, which does not run the script's EXIT trap (churn_cleanup): a relay it
# started would outlive a failing round. Outside a subshell it does nothing (churn_cleanup has the EXIT trap there).
kill_on_exit() {
  if [ "$BASH_SUBSHELL" -gt 0 ]; then
    trap "kill $1 2>/dev/null || true" EXIT
  fi
}

# Runs `run VARIANT ROUND` (the caller's) for each of ROUNDS rounds and each of VARIANTS in order, printing each line
# it returns with the legend $1 and collecting the lines in RESULTS.
each_round() {
  RESULTS=()
  local r v line
  for r in $(seq "$ROUNDS"); do
    for v in $VARIANTS; do
      line=$(run "$v" "$r")
      echo "round $r: $line   ($1)"
      RESULTS+=("$line")
    done
  done
}

# Starts a proxy as the benchmarks run it (daemon flags, CPU 1, one worker, no telemetry, ephemeral admin, rules removed
# on exit) and waits until it captured the pod: $1 its jar, $2 its config, $3 the transport, $4 its log, then any JVM
# flags of its own. Its pid in PROXY_PID.
proxy_start() {
  local jar=$1 config=$2 transport=$3 log=$4
  shift 4
  env "MALLOC_ARENA_MAX=${NODEMESH_PROXY_MALLOC_ARENA_MAX:-2}" taskset -c 1 "$J" "${F[@]}" "${PF[@]}" "$@" \
    -jar "$jar" proxy --config "$config" --no-telemetry --workers 1 --admin 127.0.0.1:0 \
    --admin-socket "$WORK/admin.sock" --transport "$transport" --remove-rules-on-exit > "$log" 2>&1 &
  PROXY_PID=$!
  EXTRA_PIDS+=("$PROXY_PID") # killed by churn_cleanup if the script stops here
  kill_on_exit "$PROXY_PID" # or by its subshell's end
  proxy_ready "$PROXY_PID" "$log"
}

# Starts the request/response server in the server pod (CPU 0) and gives it 3 s to listen.
server_start() {
  taskset -c 0 ip netns exec "$B" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.LoadServer \
    --bind 10.77.0.3:9000 --mode rr > "$WORK/server.log" 2>&1 &
  SERVER=$!
  sleep 3
}

# Starts the server, then the churn client (CHURN_THREADS connect loops, default 4) for WARMUP s + $1 measured (its
# JSON in $WORK/churn.json).
churn_start() {
  server_start
  taskset -c 0 ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.ChurnClient \
    --target 10.77.0.3:9000 --threads "${CHURN_THREADS:-4}" --duration "$1" --warmup "${WARMUP}s" > "$WORK/churn.json" &
  CLIENT=$!
}

# Waits for the churn client and prints its rate and its latency per connection (connect to close).
churn_result() {
  wait "$CLIENT"; CLIENT=
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); l=d['latency']; print('churn after %s s warm-up: %d new connections/s, %d errors, per connection p50 %d us, p99 %d us, p99.9 %d us' % (sys.argv[2], d['connectionsPerSecond'], d['errors'], l['p50Us'], l['p99Us'], l['p999Us']))" "$WORK/churn.json" "$WARMUP"
}

HZ=$(getconf CLK_TCK)
# The CPU time process $1 has used so far, in milliseconds (user + system, /proc/PID/stat).
cpu_ms() { awk -v hz="$HZ" '{print int(($14 + $15) * 1000 / hz)}' "/proc/$1/stat"; }

# HAProxy behind the same kind of capture as the proxy (the haproxy-captured variants): its REDIRECT in the client's
# pod, added (add) or taken out again (delete), the proxy's iptables layout (IptablesRenderer) with HAProxy's uid in
# place of the proxy's mark, to HAProxy on :9002.
HAPROXY_UID=$(id -u nobody)
capture_for_haproxy() {
  if [ "$1" = add ]; then
    ip netns exec "$A" iptables -t nat -N HAPROXY_OUTPUT
    ip netns exec "$A" iptables -t nat -A OUTPUT -p tcp -j HAPROXY_OUTPUT
    ip netns exec "$A" iptables -t nat -A HAPROXY_OUTPUT -m owner --uid-owner "$HAPROXY_UID" -j RETURN
    ip netns exec "$A" iptables -t nat -A HAPROXY_OUTPUT -o lo -j RETURN
    ip netns exec "$A" iptables -t nat -A HAPROXY_OUTPUT -d 127.0.0.1/32 -j RETURN
    ip netns exec "$A" iptables -t nat -A HAPROXY_OUTPUT -p tcp -j REDIRECT --to-ports 9002
  else
    ip netns exec "$A" iptables -t nat -D OUTPUT -p tcp -j HAPROXY_OUTPUT
    ip netns exec "$A" iptables -t nat -F HAPROXY_OUTPUT
    ip netns exec "$A" iptables -t nat -X HAPROXY_OUTPUT
  fi
}
# HAProxy's config, TCP mode, one thread, HAPROXY_MAXCONN connections (default 8000): $1 the file, $2 its listening
# address, $3 the server (0.0.0.0: the original destination), $4 more for global, $5 more for defaults.
haproxy_config() {
  cat > "$1" <<H
global
  maxconn ${HAPROXY_MAXCONN:-8000}
  nbthread 1
${4:+  $4
}defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
${5:+  $5
}listen churn
  bind $2
  server s $3
H
}
