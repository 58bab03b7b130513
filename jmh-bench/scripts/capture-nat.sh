#!/usr/bin/env bash
# What the capture itself costs a relay per new connection, apart from the relay: HAProxy 2.6 (TCP mode, one thread,
# CPU 1) relays ChurnClient's connections (CPU 0, in the client's pod, churn-lib.sh's topology) to the server pod's
# LoadServer (CPU 0) three ways, each round and variant in a freshly made client pod (no netfilter state left by the
# one before):
#   none      the client connects to HAProxy on 127.0.0.1 (a sidecar addressed directly): no rules, no connection
#             tracking in the pod;
#   redirect  the client connects to the server's address, the pod's nat OUTPUT REDIRECTs it to HAProxy (the proxy's
#             iptables layout, HAProxy's sockets let through by its uid), which forwards to the original destination
#             (SO_ORIGINAL_DST): NAT and connection tracking on every packet, as the proxy's capture does today;
#   tproxy    the same connection marked in a route-type mangle OUTPUT chain (nft; HAProxy's sockets and loopback let
#             through, nothing that needs connection tracking), the mark routed to `local default dev lo` by a policy
#             rule, and the looped packet handed to HAProxy's IP_TRANSPARENT listener by nft's tproxy in prerouting;
#             HAProxy's `server 0.0.0.0` then connects to the accepted socket's own local address.
#   nft-redirect, nft-tproxy
#             the proxy's own rules, exactly as it installs them (`nodemesh rules apply --capture redirect|tproxy`,
#             nft backend), HAProxy on :15001 in their place (transparent for tproxy); HAProxy's sockets carry the
#             proxy's mark through a chain of their own that runs first (`meta skuid nobody meta mark set 0x539`).
#   ebpf      the client runs in a cgroup of its own (as a pod's containers do) carrying the proxy's eBPF capture,
#             as `nodemesh rules apply --capture ebpf --cgroup` attaches it: its connect() to the server's address is
#             sent to HAProxy on 127.0.0.1:15001 before any packet exists (the original destination recorded in a
#             map HAProxy does not read; it forwards to the server as `none` does); no netfilter rule is in the pod
#             (its inbound sk_lookup program is there, as the proxy installs it, and lets the client's loopback
#             connections to HAProxy through); the programs pinned in /sys/fs/bpf (mounted for the run if it is not);
#   ebpf-outbound
#             the same programs without the pod's inbound sk_lookup program: what that program costs;
#   proxy-redirect, proxy-tproxy, proxy-ebpf
#             nodemesh's proxy in HAProxy's place (daemon flags, CPU 1, one worker, no telemetry, its AOT cache not
#             used), capturing the pod with its own nft rules, `capture: redirect`, `tproxy` or `ebpf` (the client
#             then in the pod's cgroup, named in the proxy's config); its column is
#             the proxy's CPU (give it WARMUP=25 or more: its code warms up, HAProxy's does not need to).
# Prints per round and variant the connections/s and the CPU milliseconds per 1000 new connections of HAProxy (or the
# proxy), of the
# client and of the whole machine (/proc/stat, both CPUs: this includes the server and anything else running), in the
# client's measured DURATION s after WARMUP s, and the pod's tracked connections at the end; then the medians and the
# ratios to `none`. Needs root; from the repository root after `mvn package -pl cli,jmh-bench -am -DskipTests`.
# LOAD=keepalive puts wrk (one thread, 16 connections, CPU 0) in place of ChurnClient, against the e2e harness's
# BenchHttpServer (1 KiB bodies) in the server pod, and counts requests in place of connections (WARMUP s of wrk first,
# unmeasured).
# A variant ending in @b (proxy-ebpf@b, ebpf@b) runs the build JAR_B=…/nodemesh.jar instead (the proxy, or the
# `nodemesh rules apply` that installs the capture for HAProxy): before/after in one run. JVM_B="FLAGS" gives the proxy
# of the @b variants JVM flags of its own (JAR_B=cli/target/nodemesh.jar JVM_B=-XX:TieredStopAtLevel=1: C1 alone).
# Usage: ROUNDS=3 WARMUP=10 DURATION=10 VARIANTS="none redirect tproxy" LOAD=churn bash jmh-bench/scripts/capture-nat.sh
set -euo pipefail
PREFIX=nmnat
WARMUP=${WARMUP:-10}
. "$(dirname "$0")/churn-lib.sh"
ensure_packages "haproxy:haproxy" "wrk:wrk"
ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}
VARIANTS=${VARIANTS:-none redirect tproxy}
LOAD=${LOAD:-churn}
MARK=0x4e4d
PORT=9000
[ "$LOAD" = keepalive ] && PORT=8080
haproxy_config "$WORK/none.cfg" 127.0.0.1:9001 "10.77.0.3:$PORT"
haproxy_config "$WORK/redirect.cfg" 127.0.0.1:9002 0.0.0.0 "user nobody"
haproxy_config "$WORK/tproxy.cfg" "0.0.0.0:9003 transparent" 0.0.0.0 "user nobody"
haproxy_config "$WORK/nft-redirect.cfg" "0.0.0.0:15001" 0.0.0.0 "user nobody"
haproxy_config "$WORK/nft-tproxy.cfg" "0.0.0.0:15001 transparent" 0.0.0.0 "user nobody"
haproxy_config "$WORK/ebpf.cfg" 127.0.0.1:15001 "10.77.0.3:$PORT"
cp "$WORK/ebpf.cfg" "$WORK/ebpf-outbound.cfg"
# The client's cgroup for the ebpf variant, removed at exit (its programs go with it).
CGROOT=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break }}' /proc/self/mountinfo)
CG=${CGROOT:+$CGROOT/nmnat-$$-a}
drop_cgroup() { [ -n "$CG" ] && [ -d "$CG" ] && { echo 1 > "$CG/cgroup.kill" 2>/dev/null || true; sleep 0.2; rmdir "$CG"; } || true; }
# The ebpf variants pin the pod's inbound program in the bpf filesystem at /sys/fs/bpf (the CLI's and the proxy's
# default), mounted for the run where it is not (and unmounted at exit).
BPFFS_MOUNTED=
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
  mount -t bpf bpf /sys/fs/bpf && BPFFS_MOUNTED=1
fi
drop_bpffs() { [ -n "$BPFFS_MOUNTED" ] && umount /sys/fs/bpf || true; }
trap 'drop_cgroup; churn_cleanup; drop_bpffs' EXIT INT TERM
CLIENT_IN=()  # what the client's command is prefixed with: for ebpf, joining the pod's cgroup

capture_tproxy() {
  ip netns exec "$A" nft -f - <<N
table inet nmnat {
  chain output {
    type route hook output priority mangle; policy accept;
    meta l4proto != tcp return
    meta skuid $HAPROXY_UID return
    oifname "lo" return
    ip daddr 127.0.0.0/8 return
    meta mark set $MARK
  }
  chain prerouting {
    type filter hook prerouting priority mangle; policy accept;
    meta l4proto tcp meta mark $MARK tproxy ip to :9003
  }
}
N
  ip -n "$A" rule add fwmark "$MARK" lookup 133
  ip -n "$A" route add local 0.0.0.0/0 dev lo table 133
}

per1000() { awk -v ms="$1" -v n="$2" 'BEGIN{printf "%.2f", ms * 1000 / n}'; } # CPU ms $1 per 1000 of $2
# The proxy's own rules for $1 (redirect or tproxy), with HAProxy's sockets given the proxy's mark first.
capture_nodemesh() {
  ip netns exec "$A" nft -f - <<N
table inet haproxymark {
  chain output {
    type route hook output priority -160; policy accept;
    meta skuid $HAPROXY_UID meta mark set 0x539
  }
}
N
  "$J" --enable-native-access=ALL-UNNAMED -jar "$NODEMESH_JAR" rules apply --netns "/var/run/netns/$A" --capture "$1" \
    --pod bench/a > /dev/null
}

# The proxy's eBPF capture on the client's cgroup (and its inbound sk_lookup program on the pod's namespace).
capture_ebpf() {
  [ -n "$CG" ] || { echo "no cgroup v2 hierarchy is mounted: no ebpf variant" >&2; exit 2; }
  mkdir -p "$CG"
  "$J" --enable-native-access=ALL-UNNAMED -jar "$NODEMESH_JAR" rules apply --netns "/var/run/netns/$A" --capture ebpf \
    --cgroup "$CG" --pod bench/a > /dev/null
  CLIENT_IN=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG")
}

busy_ms() { awk -v hz="$HZ" '/^cpu /{print int(($2 + $3 + $4 + $7 + $8) * 1000 / hz)}' /proc/stat; }

# wrk against $1 for $2 s, on CPU 0 in the client's pod (its pid in CLIENT); its output in $WORK/wrk.txt.
wrk_start() {
  taskset -c 0 "${CLIENT_IN[@]}" ip netns exec "$A" wrk -t1 -c16 -d"$2s" --timeout 2s "http://$1/" > "$WORK/wrk.txt" 2>&1 &
  CLIENT=$!
}

run() { # variant round: prints "variant rate haproxy-ms client-ms machine-ms tracked"
  local variant=$1 pid target=10.77.0.3:$PORT h0 c0 m0 h c m connections rate errors tracked jar=$NODEMESH_JAR jvm=()
  if [[ "$variant" == *@b ]]; then # the same variant from another build, JAR_B=…/nodemesh.jar (an A/B run)
    jar=${JAR_B:?a variant ending in @b needs JAR_B}
    read -r -a jvm <<<"${JVM_B:-}"
    variant=${variant%@b}
  fi
  local NODEMESH_JAR=$jar # what installs the rules of the variants without the proxy (`nodemesh rules apply`), too
  pod_a_create
  case "$variant" in
    proxy-redirect|proxy-tproxy|proxy-ebpf)
      sed "s/rules: iptables/rules: nft, capture: ${variant#proxy-}/" "$WORK/cfg.yaml" > "$WORK/$variant.yaml"
      if [ "$variant" = proxy-ebpf ]; then
        [ -n "$CG" ] || { echo "no cgroup v2 hierarchy is mounted: no proxy-ebpf variant" >&2; exit 2; }
        mkdir -p "$CG"
        sed -i "s|netns: /var/run/netns/$A|&, cgroup: $CG|" "$WORK/$variant.yaml"
        CLIENT_IN=(sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$CG")
      fi
      EXTRA_PIDS=()
      proxy_start "$jar" "$WORK/$variant.yaml" epoll "$WORK/$variant-$2.log" "${jvm[@]}"
      pid=$PROXY_PID
      EXTRA_PIDS=("$pid")
      if [ "$variant" = proxy-ebpf ]; then # the programs go on after the table proxy_ready waits for
        for _ in $(seq 50); do grep -q 'eBPF capture programs on cgroup' "$WORK/$variant-$2.log" && break; sleep 0.1; done
        grep -q 'eBPF capture programs on cgroup' "$WORK/$variant-$2.log" \
          || { cat "$WORK/$variant-$2.log" >&2; echo "the proxy did not attach its programs" >&2; exit 1; }
      fi
      ;;
    none) target=127.0.0.1:9001 ;;
    redirect) capture_for_haproxy add ;;
    tproxy) capture_tproxy ;;
    nft-redirect) capture_nodemesh redirect ;;
    nft-tproxy) capture_nodemesh tproxy ;;
    ebpf) capture_ebpf ;;
    ebpf-outbound) capture_ebpf
      "$J" --enable-native-access=ALL-UNNAMED -jar "$NODEMESH_JAR" rules remove --netns "/var/run/netns/$A" > /dev/null ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  if [[ "$variant" != proxy-* ]]; then
    taskset -c 1 ip netns exec "$A" haproxy -f "$WORK/$variant.cfg" -db > "$WORK/$variant-$2.log" 2>&1 &
    pid=$!
    kill_on_exit "$pid"
    EXTRA_PIDS=("$pid")
    sleep 1
  fi
  if [ "$LOAD" = keepalive ]; then
    # One wrk run of WARMUP + DURATION + 1 s, measured over DURATION s from WARMUP s on (its rate is steady by then);
    # the requests in that window are its rate times DURATION.
    wrk_start "$target" $(( WARMUP + DURATION + 1 ))
    sleep "$WARMUP"
    h0=$(cpu_ms "$pid"); c0=$(cpu_ms "$CLIENT"); m0=$(busy_ms)
    sleep "$DURATION"
    h=$(cpu_ms "$pid"); c=$(cpu_ms "$CLIENT"); m=$(busy_ms)
    wait "$CLIENT"; CLIENT=
    read -r connections rate errors < <(python3 -c "
import re, sys
t = open(sys.argv[1]).read()
r = float(re.search(r'Requests/sec:\s+([\d.]+)', t).group(1))
e = sum(int(x) for x in re.findall(r'(?:connect|read|write|timeout) (\d+)', t)) + sum(int(x) for x in re.findall(r'Non-2xx or 3xx responses: (\d+)', t))
print(int(r * int(sys.argv[2])), int(r), e)" "$WORK/wrk.txt" "$DURATION")
  else
    taskset -c 0 "${CLIENT_IN[@]}" ip netns exec "$A" "$J" "${F[@]}" -cp "$NODEMESH_BENCH_JAR" io.nodemesh.bench.load.ChurnClient \
      --target "$target" --threads "${CHURN_THREADS:-4}" --duration "${DURATION}s" --warmup "${WARMUP}s" \
      > "$WORK/churn.json" 2>/dev/null &
    CLIENT=$!
    sleep "$WARMUP"
    h0=$(cpu_ms "$pid"); c0=$(cpu_ms "$CLIENT"); m0=$(busy_ms)
    sleep "$DURATION"
    h=$(cpu_ms "$pid"); c=$(cpu_ms "$CLIENT"); m=$(busy_ms)
    wait "$CLIENT"; CLIENT=
    read -r connections rate errors < <(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['connections'], int(d['connectionsPerSecond']), d['errors'])" "$WORK/churn.json")
  fi
  [ "$errors" = 0 ] || echo "round $2: $variant: the client counted $errors failed connections" >&2
  [ "$connections" -gt 0 ] || { cat "$WORK/$variant-$2.log" >&2; echo "round $2: $variant: no connection made" >&2; exit 1; }
  tracked=$(ip netns exec "$A" cat /proc/sys/net/netfilter/nf_conntrack_count 2>/dev/null || echo "-")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  echo "$1 $rate $(per1000 $((h - h0)) "$connections") $(per1000 $((c - c0)) "$connections") $(per1000 $((m - m0)) "$connections") $tracked"
}

if [ "$LOAD" = keepalive ]; then
  taskset -c 0 ip netns exec "$B" "$J" "${F[@]}" -Xmx256m -cp "$NODEMESH_BENCH_JAR" \
    io.nodemesh.bench.harness.BenchHttpServer 10.77.0.3 8080 1024 > "$WORK/server.log" 2>&1 &
  SERVER=$!
  sleep 3
else
  server_start
fi
UNIT=connections; [ "$LOAD" = keepalive ] && UNIT=requests
each_round "$UNIT/s; CPU ms per 1000 $UNIT: HAProxy, client, machine; tracked connections in the pod"
printf '%s\n' "${RESULTS[@]}" | UNIT=$UNIT python3 -c '
import os, sys, statistics
u = os.environ["UNIT"]
rows = {}
for line in sys.stdin:
    w = line.split()
    rows.setdefault(w[0], []).append([float(x) for x in w[1:5]])
base = [statistics.median(c) for c in zip(*rows["none"])] if "none" in rows else None
for v, rs in rows.items():
    m = [statistics.median(c) for c in zip(*rs)]
    ratio = lambda i: " (%.2fx none)" % (m[i] / base[i]) if base and base[i] else ""
    print("%-9s %d %s/s%s; CPU ms per 1000 %s: HAProxy %.1f%s, client %.1f%s, machine %.1f%s" % (
        v, m[0], u, ratio(0), u, m[1], ratio(1), m[2], ratio(2), m[3], ratio(3)))
'
