#!/usr/bin/env bash
# Stages what the image adds to its Debian base, as the tree ROOT/opt/nodemesh that Jib copies in (image/pom.xml,
# extraDirectories) and image/Dockerfile COPYs:
#   bin/nodemesh, bin/jvm-flags.sh   the launcher (image/src/nodemesh) and the flag choice it shares with bin/nodemesh
#   bin/nodemesh-cni-watch           the install-cni sidecar's watcher (cni-plugin/target/nodemesh-cni-watch, C)
#   bin/nodemesh-keeper              the listener-keeper sidecar (node-proxy/target/nodemesh-keeper, C)
#   jvm-flags.properties             the repository's, the one source of the JVM flags
#   lib/nodemesh.jar                 cli/target/nodemesh.jar
#   lib/nodemesh-proxy.aot           the proxy's AOT cache, trained here on jre/ and lib/nodemesh.jar (below)
#   jre/                             a jlinked JRE 25 for the proxy, agent and CLI
#   cni/nodemesh-cni, nodemesh-cni.d/ the CNI plugin's layout (cni-plugin/target/cni) with its own java.base-only JRE
#                                    in nodemesh-cni.d/jre, which `nodemesh install-cni` copies onto the host
#
# Usage: stage-root.sh REPO ROOT TRAINING_CLASSPATH   (JAVA_HOME: the JDK 25 to cut the JREs from; the class path holds
# cli's test classes, for ProxyAotCacheBuilder; run as root, which the training's network namespaces need)
# The JREs are cached beside the base tars (NODEMESH_IMAGE_CACHE, default /var/cache/nodemesh), keyed by the JDK's
# release file, the modules and this script: jlink and the CDS dump take ~20 s each.
set -euo pipefail

# The modules nodemesh.jar needs: `jdeps --ignore-missing-deps --multi-release 25 --print-module-deps` on it says
# java.base, java.desktop, java.naming, java.net.http, java.sql, jdk.jfr, jdk.unsupported. java.desktop is left out
# (24 MB): only java.beans is used from it, by Jackson's and SnakeYAML's optional bean support, which they declare
# `requires static` and look up guardedly; image/README.md has the measurement. jdk.unsupported: Netty's Unsafe.
# The rest as jdeps names their users: java.naming (gRPC's DNS resolver, BouncyCastle's LDAP helpers), java.sql
# (Jackson's and fabric8's date types), jdk.jfr (Netty's allocation events).
DAEMON_MODULES=java.base,java.naming,java.net.http,java.sql,jdk.jfr,jdk.unsupported
# The CNI plugin's class path (cni-plugin.jar, jackson-core.jar; its JNI library beside them) needs java.base alone
# (jdeps).
PLUGIN_MODULES=java.base

die() { echo "stage-root: $*" >&2; exit 2; }

[ $# -eq 3 ] || die "usage: stage-root.sh REPO ROOT TRAINING_CLASSPATH"
repo=$(cd "$1" && pwd)
root=$2
[ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/jlink" ] || die "JAVA_HOME ($JAVA_HOME) has no bin/jlink"
jar="$repo/cli/target/nodemesh.jar"
cni="$repo/cni-plugin/target/cni"
[ -f "$jar" ] || die "$jar is missing: build cli first (mvn package -pl image -am)"
[ -f "$cni/nodemesh-cni" ] && [ -d "$cni/nodemesh-cni.d" ] || die "$cni is missing: build cni-plugin first"
[ -x "$repo/cni-plugin/target/nodemesh-cni-watch" ] || die "$repo/cni-plugin/target/nodemesh-cni-watch is missing: build cni-plugin first"
[ -x "$repo/node-proxy/target/nodemesh-keeper" ] || die "$repo/node-proxy/target/nodemesh-keeper is missing: build node-proxy first"
cache=${NODEMESH_IMAGE_CACHE:-/var/cache/nodemesh}
mkdir -p "$cache" || die "cannot create $cache (set NODEMESH_IMAGE_CACHE)"

# shellcheck source=../../../bin/jvm-flags.sh
. "$repo/bin/jvm-flags.sh"
nodemesh_read_jvm_flags "$repo/jvm-flags.properties"

# jre MODULES FLAGS...: prints the path of a cached JRE of MODULES with a default CDS archive dumped with FLAGS, made
# when missing. jlink's own --generate-cds-archive is no use here: it dumps with the default flags, and an archive is
# only mapped by a JVM with the same object layout; every nodemesh JVM runs -XX:+UseCompactObjectHeaders (jvm.flags),
# which maps lib/server/classes_coh.jsa and nothing else. So the archive is dumped by the new JRE with our flags.
jre() {
  local modules=$1 key dir tmp
  shift
  key=$( { cat "$JAVA_HOME/release" "${BASH_SOURCE[0]}"; printf '%s\n' "$modules" "$@"; } | sha256sum | cut -c1-16)
  dir="$cache/jre-$key"
  if [ ! -d "$dir" ]; then
    tmp=$(mktemp -d "$cache/.jre-XXXXXX")
    "$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages \
      --output "$tmp/jre" >&2 || { rm -rf "$tmp"; die "jlink --add-modules $modules failed"; }
    "$tmp/jre/bin/java" "$@" -Xshare:dump >"$tmp/dump.log" 2>&1 \
      || { cat "$tmp/dump.log" >&2; rm -rf "$tmp"; die "the CDS dump of $modules failed"; }
    # The archive must be the one these flags map, or start-up silently goes without it.
    "$tmp/jre/bin/java" "$@" -Xshare:on -version >/dev/null 2>&1 \
      || { rm -rf "$tmp"; die "the JRE of $modules does not map its CDS archive with $*"; }
    mv "$tmp/jre" "$dir" 2>/dev/null || [ -d "$dir" ] || die "cannot move the JRE to $dir"
    rm -rf "$tmp"
  fi
  echo "$dir"
}

daemon_jre=$(jre "$DAEMON_MODULES" "${NODEMESH_JVM_FLAGS[@]}" "${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[@]}")
read -r -a cni_flags <<<"$(jvm_flag_words jvm.flags.cni)"
plugin_jre=$(jre "$PLUGIN_MODULES" "${NODEMESH_JVM_FLAGS[@]}" "${cni_flags[@]}")

rm -rf "$root"
opt="$root/opt/nodemesh"
mkdir -p "$opt/bin" "$opt/lib"
install -m 0755 "$repo/image/src/nodemesh" "$opt/bin/nodemesh"
install -m 0755 "$repo/cni-plugin/target/nodemesh-cni-watch" "$opt/bin/nodemesh-cni-watch"
install -m 0755 "$repo/node-proxy/target/nodemesh-keeper" "$opt/bin/nodemesh-keeper"
install -m 0644 "$repo/bin/jvm-flags.sh" "$opt/bin/jvm-flags.sh"
install -m 0644 "$repo/jvm-flags.properties" "$opt/jvm-flags.properties"
install -m 0644 "$jar" "$opt/lib/nodemesh.jar"
cp -a "$daemon_jre" "$opt/jre"
cp -a "$cni" "$opt/cni"
# java-home names the JDK of this build machine, which no node has: the plugin's own jre/ replaces it (the launcher
# looks there first). The build's AOT cache was trained on that JDK and is only valid for it: the plugin's is trained
# again below, on its own JRE.
d="$opt/cni/nodemesh-cni.d"
rm -f "$d/java-home" "$d/nodemesh-cni.aot" "$d/nodemesh-cni.aot.log"
cp -a "$plugin_jre" "$d/jre"
# Jib gives every file of the image one time (1970-01-01T00:00:01Z, its default): the jars get that time before the
# training and the cache after it, as they will have in the image and, copied with their times by the installer, on
# the host (the launcher takes a cache not older than the jars). Trained as the build's cache is (CniTraining), without a proxy: the enrolled namespace's calls take the
# fail-closed path.
jib_time=@1
touch -d "$jib_time" "$d/cni-plugin.jar" "$d/jackson-core.jar"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$d/jre/bin/java" "${NODEMESH_JVM_FLAGS[@]}" "${cni_flags[@]}" -XX:AOTCacheOutput="$d/nodemesh-cni.aot" \
    -Dnodemesh.cni.library="$d/libnodemesh-cni.so" -cp "$d/cni-plugin.jar:$d/jackson-core.jar" \
    io.nodemesh.cni.CniTraining "$work" - \
    >"$work/training.log" 2>&1 || { cat "$work/training.log" >&2; die "training the plugin's AOT cache failed"; }
[ -f "$d/nodemesh-cni.aot" ] || { cat "$work/training.log" >&2; die "the plugin's training wrote no AOT cache"; }
touch -d "$jib_time" "$d/nodemesh-cni.aot"

# The proxy's AOT cache (start-up: a restarted proxy refuses its pods' new connections until it listens again), trained
# as the build's cache is (ProxyAotCacheBuilder: the real `nodemesh proxy` with the daemons' flags capturing two pods
# under churn) but in Kubernetes mode, as the DaemonSet runs it (`--kubernetes`: following an API mock over HTTPS and
# finding the pods' namespaces by their addresses, which a restarted proxy does before it captures anything), and on
# the image's JRE and its copy of the jar, which has the image's time first: the JVM takes a cache only for the jar's
# exact size and time, and only on the JVM that wrote it. The launcher takes it when it is not
# older than the jar, as it will be in the image, where both have Jib's time.
touch -d "$jib_time" "$opt/lib/nodemesh.jar"
"$JAVA_HOME/bin/java" "${NODEMESH_JVM_FLAGS[@]}" -cp "$3" io.nodemesh.proxy.ProxyAotCacheBuilder \
    "$opt/lib/nodemesh-proxy.aot" "$opt/jre/bin/java" "$opt/lib/nodemesh.jar" --kubernetes \
    >"$work/proxy-training.log" 2>&1 \
    || { cat "$work/proxy-training.log" >&2; die "training the proxy's AOT cache failed"; }
[ -s "$opt/lib/nodemesh-proxy.aot" ] \
    || { cat "$work/proxy-training.log" >&2; die "the proxy's training wrote no AOT cache (it needs root)"; }
touch -d "$jib_time" "$opt/lib/nodemesh-proxy.aot"
echo "stage-root: $opt (jre $(du -sm "$opt/jre" | cut -f1) MB, plugin jre $(du -sm "$opt/cni/nodemesh-cni.d/jre" | cut -f1) MB)" >&2
