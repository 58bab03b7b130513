#!/bin/bash
# The CNI ADD of a pod of an enrolled namespace, end to end (issue 21's start-up goal, issue 23's capture cost;
# jmh-bench/RESULTS.md): a fresh nodemesh-cni JVM through its launcher hands the pod's namespace to a running proxy,
# which opens the pod's listeners and writes its rules, and answers only then; the wall time of the plugin's process.
# Two proxies run side by side as a user runs them (bin/nodemesh proxy), one with `rules: nft`, one with
# `rules: iptables`, and the calls alternate between them so that both share the machine's noise. Each call gets a
# fresh namespace (loopback up, as the runtime's loopback plugin leaves it); DEL follows, then the namespace goes.
# In the same loop: each plugin's ADD of a pod of a namespace that is not enrolled (no proxy asked), and Debian's
# bridge plugin's ADD (with host-local) into a throw-away namespace, the time a chain spends without us.
# Run as root from the repository after `mvn -o package -pl cli,cni-plugin -am -DskipTests`.
# Usage: cni-add-enrolled.sh [N [NAME=LAUNCHER ...]]   (default: current=cni-plugin/target/cni/nodemesh-cni; more
# than one, e.g. an older build's layout, are interleaved call by call)
set -u
N=${1:-30}
shift
PLUGINS=("$@")
[ ${#PLUGINS[@]} -eq 0 ] && PLUGINS=(current=cni-plugin/target/cni/nodemesh-cni)
W=$(mktemp -d)
P=nmadd$$
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  for ns in $(ip netns list | awk '{print $1}' | grep "^$P"); do ip netns del "$ns"; done
  ip link del "$P-br" 2>/dev/null
  [ -n "${KEEP:-}" ] && echo "kept $W" || rm -rf "$W"
}
trap cleanup EXIT

start_proxy() { # backend readiness-port
  local d=$W/$1
  mkdir -p "$d"
  { printf 'proxy:\n  rules: %s\n  workers: 1\nnamespaces:\n  - name: shop\n    labels: {nodemesh.io/capture: enabled}\npods:\n' "$1"
    for i in $(seq "$N"); do printf '  - {name: pod-%d, namespace: shop, serviceAccount: app, netns: cni}\n' "$i"; done
  } >"$d/mesh.yaml"
  bin/nodemesh proxy --config "$d/mesh.yaml" --no-telemetry --admin 127.0.0.1:0 --admin-socket "$d/admin.sock" \
    --readiness "127.0.0.1:$2" --cni-socket "$d/cni.sock" --cni-enrolment-file "$d/enrolment.json" \
    >"$d/proxy.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do
    curl -fs "http://127.0.0.1:$2/healthz/ready" >/dev/null 2>&1 && [ -S "$d/cni.sock" ] && return 0
    sleep 0.1
  done
  echo "the $1 proxy did not become ready: $d/proxy.log" >&2; cat "$d/proxy.log" >&2; exit 1
}

add() { # backend i plugin -> ms (tenths)
  local d=$W/$1 ns=$P-$1-$2 s e plugin=$3
  ip netns add "$ns"; ip -n "$ns" link set lo up
  local b=$([ "$1" = nft ] && echo 1 || echo 2)
  local conf="{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"type\":\"nodemesh-cni\",\"controlSocket\":\"$d/cni.sock\",\"enrolmentFile\":\"$d/enrolment.json\",\"stateDir\":\"$d/state\",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/var/run/netns/$ns\"}],\"ips\":[{\"interface\":0,\"address\":\"10.250.$b.$2/24\"}]}}"
  local env=(CNI_CONTAINERID="c$2" CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=pod-$2;K8S_POD_UID=u$2")
  s=$(date +%s%N)
  if ! env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD "${env[@]}" "$plugin" <<<"$conf" >"$W/out" 2>&1; then
    echo "ADD $1 pod-$2 failed: $(cat "$W/out")" >&2; kill $$; exit 1
  fi
  e=$(date +%s%N)
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=DEL "${env[@]}" "$plugin" <<<"$conf" >/dev/null 2>&1
  ip netns del "$ns"
  echo $(( (e-s)/100000 ))
}

passed() { # i plugin -> ms (tenths): a namespace that is not enrolled, into the nft proxy's files (it is not asked)
  local d=$W/nft s e
  local conf="{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"type\":\"nodemesh-cni\",\"controlSocket\":\"$d/cni.sock\",\"enrolmentFile\":\"$d/enrolment.json\",\"stateDir\":\"$d/state\",\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\"}],\"ips\":[{\"interface\":0,\"address\":\"10.250.3.$1/24\"}]}}"
  s=$(date +%s%N)
  env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND=ADD CNI_CONTAINERID="p$1" CNI_NETNS=/proc/self/ns/net \
    CNI_IFNAME=eth0 CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-$1;K8S_POD_UID=p$1" \
    "$2" <<<"$conf" >"$W/out" 2>&1 || { echo "pass-through ADD failed: $(cat "$W/out")" >&2; kill $$; exit 1; }
  e=$(date +%s%N)
  echo $(( (e-s)/100000 ))
}

bridge() { # i -> ms (tenths): Debian's bridge plugin with host-local, ADD into a fresh namespace, then DEL
  local ns=$P-br-$1 s e
  ip netns add "$ns"
  local conf="{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"type\":\"bridge\",\"bridge\":\"$P-br\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.251.7.0/24\",\"dataDir\":\"$W/hl\"}}"
  local env=(CNI_CONTAINERID="b$1" CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni)
  s=$(date +%s%N)
  env "${env[@]}" CNI_COMMAND=ADD ip netns exec "$P-node" /usr/lib/cni/bridge <<<"$conf" >"$W/out" 2>&1 \
    || { echo "bridge ADD failed: $(cat "$W/out")" >&2; kill $$; exit 1; }
  e=$(date +%s%N)
  env "${env[@]}" CNI_COMMAND=DEL ip netns exec "$P-node" /usr/lib/cni/bridge <<<"$conf" >/dev/null 2>&1
  ip netns del "$ns"
  echo $(( (e-s)/100000 ))
}

start_proxy nft 15721
start_proxy iptables 15722
ip netns add "$P-node"
declare -A T
V=()
for i in $(seq "$N"); do
  for entry in "${PLUGINS[@]}"; do
    name=${entry%%=*} plugin=${entry#*=}
    for b in nft iptables; do T["$name enrolled, rules: $b"]+="$(add $b "$i" "$plugin") "; done
    T["$name not enrolled"]+="$(passed "$i" "$plugin") "
  done
  T["bridge (Debian, host-local)"]+="$(bridge "$i") "
done
for entry in "${PLUGINS[@]}"; do
  name=${entry%%=*}
  V+=("$name enrolled, rules: nft" "$name enrolled, rules: iptables" "$name not enrolled")
done
V+=("bridge (Debian, host-local)")
for v in "${V[@]}"; do
  printf '%-36s' "$v"
  echo ${T[$v]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "min %.1f  median %.1f  p90 %.1f ms (n=%d)\n", a[1]/10, a[int((NR+1)/2)]/10, a[int(NR*0.9)]/10, NR}'
done
grep -h "redirect rules applied" "$W"/nft/proxy.log | tail -1
grep -h "redirect rules applied" "$W"/iptables/proxy.log | tail -1
