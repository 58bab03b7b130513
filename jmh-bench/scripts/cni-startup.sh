#!/bin/bash
# The CNI plugin's start-up (issue 21, jmh-bench/RESULTS.md): wall time of one ADD as a runtime makes it, for a pod
# of a namespace that is not enrolled and one of an excluded namespace, through the launcher with and without its AOT
# cache, beside the reference bridge plugin's ADD (with host-local) into a throw-away namespace. N calls per variant,
# interleaved so that all share the machine's noise. Run as root after `mvn -o -pl cni-plugin -am -DskipTests package`.
# Usage: cni-startup.sh [LAYOUT_DIR [N]]
set -u
L=${1:-cni-plugin/target/cni}; N=${2:-30}; W=$(mktemp -d)
echo '{"version":1,"generation":1,"enrolledNamespaces":["shop"]}' >$W/enrolment.json
PREV='{"cniVersion":"1.0.0","interfaces":[{"name":"eth0","sandbox":"/proc/self/ns/net"}],"ips":[{"interface":0,"address":"10.244.0.5/24","gateway":"10.244.0.1"}]}'
echo "{\"cniVersion\":\"1.0.0\",\"name\":\"k8s\",\"type\":\"nodemesh-cni\",\"enrolmentFile\":\"$W/enrolment.json\",\"stateDir\":\"$W\",\"controlSocket\":\"$W/none.sock\",\"prevResult\":$PREV}" >$W/conf.json
ip netns add nmbench-node 2>/dev/null; ip netns add nmbench-pod 2>/dev/null
BR="{\"cniVersion\":\"1.0.0\",\"name\":\"bench\",\"type\":\"bridge\",\"bridge\":\"nmbench0\",\"isGateway\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"10.251.7.0/24\",\"dataDir\":\"$W/hl\"}}"
call() { # variant -> ms
  local s e
  case $1 in
    bridge) s=$(date +%s%N); CNI_COMMAND=ADD CNI_CONTAINERID=b1 CNI_NETNS=/var/run/netns/nmbench-pod CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni nsenter --net=/var/run/netns/nmbench-node /usr/lib/cni/bridge <<<"$BR" >/dev/null; e=$(date +%s%N)
            CNI_COMMAND=DEL CNI_CONTAINERID=b1 CNI_NETNS=/var/run/netns/nmbench-pod CNI_IFNAME=eth0 CNI_PATH=/usr/lib/cni nsenter --net=/var/run/netns/nmbench-node /usr/lib/cni/bridge <<<"$BR" >/dev/null ;;
    *) local ns=${1%-*} aot=${1##*-}
       [ "$aot" = noaot ] && mv $L/nodemesh-cni.d/nodemesh-cni.aot $W/saved.aot
       s=$(date +%s%N); CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/proc/self/ns/net CNI_IFNAME=eth0 CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=$ns;K8S_POD_NAME=p;K8S_POD_UID=u1" $L/nodemesh-cni <$W/conf.json >/dev/null; e=$(date +%s%N)
       [ "$aot" = noaot ] && mv $W/saved.aot $L/nodemesh-cni.d/nodemesh-cni.aot ;;
  esac
  echo $(( (e-s)/100000 ))
}
declare -A T
V="default-aot kube-system-aot default-noaot kube-system-noaot bridge"
for i in $(seq $N); do for v in $V; do T[$v]+="$(call $v) "; done; done
for v in $V; do printf '%-18s' $v; echo ${T[$v]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "min %.1f  median %.1f  p90 %.1f ms (n=%d)\n", a[1]/10, a[int((NR+1)/2)]/10, a[int(NR*0.9)]/10, NR}'; done
ip netns del nmbench-pod; ip netns del nmbench-node; rm -rf "$W"
