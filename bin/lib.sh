# Shared set-up for bin/nodemesh, bin/test and .ci/run: find JDK 25, make sure the Debian
# packages nodemesh needs are there (installing them when run as root), build the jar.
# shellcheck shell=bash

NODEMESH_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODEMESH_JAR="$NODEMESH_ROOT/node-proxy/target/nodemesh.jar"
NODEMESH_BENCH_JAR="$NODEMESH_ROOT/jmh-bench/target/benchmarks.jar"
# --add-exports: the NIO transport reads its sockets' descriptors through sun.nio.ch (capture.NioDescriptors).
NODEMESH_JVM_FLAGS=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow --add-exports=java.base/sun.nio.ch=ALL-UNNAMED -XX:+UseCompactObjectHeaders)
# Added for `nodemesh proxy` and `nodemesh agent` only (the node's long-running daemons): a small serial-GC heap, one Netty pool
# arena, caps that are limits for thousands of busy connections (not what is used), smaller stacks and code cache, glibc's freed memory returned.
# Why each, and the RSS before/after: jmh-bench/RESULTS.md (growth section) and ProxyJvmFlags.java, whose
# TUNED_ONLY list a unit test keeps equal to this one. Override with NODEMESH_PROXY_JVM_FLAGS="..." (words).
NODEMESH_PROXY_JVM_FLAGS_DEFAULT=(-XX:+UseSerialGC -Xms8m -Xmx128m -XX:MaxDirectMemorySize=256m
  -Dio.netty.allocator.numDirectArenas=1 -Dio.netty.allocator.numHeapArenas=0 -Xss512k -XX:ReservedCodeCacheSize=48m -XX:MaxMetaspaceSize=96m
  -XX:-UsePerfData -XX:TrimNativeHeapInterval=5000)
# Added for `nodemesh agent` only: C1 alone, and C1 after 20 calls instead of 200. The agent's per-batch code runs a few
# times a second, too rarely for C2 to pay for compiling it (C2 kept compiling it for minutes under churn, a third of
# the agent's CPU) and for the default threshold to compile it at all for minutes (a third of its samples were the
# interpreter); the agent needs a fraction of C1's throughput (RESULTS.md, telemetry sections). ProxyJvmFlags.AGENT_ONLY,
# kept equal by a unit test. Override with NODEMESH_AGENT_JVM_FLAGS="..." (words, replacing the proxy's flags too).
NODEMESH_AGENT_JVM_FLAGS_ONLY=(-XX:TieredStopAtLevel=1 -XX:Tier3InvocationThreshold=20 -XX:Tier3MinInvocationThreshold=10
  -XX:Tier3CompileThreshold=200)
# glibc malloc arenas for the proxy (default 8 per core); ProxyJvmFlags.TUNED_ENV.
NODEMESH_PROXY_MALLOC_ARENA_MAX=2

# Debian package -> a command it provides, for what the demo and the tests run.
NODEMESH_PACKAGES=(
  "iproute2:ip"
  "iptables:iptables-restore"
  "nftables:nft"
  "util-linux:nsenter"
  "containernetworking-plugins:/usr/lib/cni/bridge"
  "procps:ps"
)
NODEMESH_BUILD_PACKAGES=("maven:mvn")
# What only the tests use: promtool checks /metrics with Prometheus's own parsers; haproxy -c and
# openssl check the benchmark's generated HAProxy/mTLS configs.
NODEMESH_TEST_PACKAGES=("prometheus:promtool" "haproxy:haproxy" "openssl:openssl")
NODEMESH_BENCH_PACKAGES=("wrk:wrk" "haproxy:haproxy" "openssl:openssl" "util-linux:taskset")

die() { echo "nodemesh: $*" >&2; exit 2; }

java_major() { # prints the major version of the java binary $1
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1
}

# Sets JAVA_HOME to a JDK 25 (or newer): $JAVA_HOME, then /usr/lib/jvm/*, then java on PATH.
find_jdk25() {
  local candidates=() c major
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME")
  for c in /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    [ -d "$c" ] && candidates+=("$c")
  done
  if command -v java >/dev/null 2>&1; then
    candidates+=("$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")")
  fi
  for c in "${candidates[@]}"; do
    [ -x "$c/bin/java" ] && [ -x "$c/bin/javac" ] || continue
    major=$(java_major "$c/bin/java")
    if [ -n "$major" ] && [ "${major%%.*}" -ge 25 ] 2>/dev/null; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  die "needs a JDK 25 (java and javac), found none in \$JAVA_HOME, /usr/lib/jvm or PATH. Install one, e.g. Temurin 25 (apt package temurin-25-jdk from Adoptium's repository), or set JAVA_HOME."
}

# ensure_packages "pkg:command" ...: installs what is missing when root, else names it and fails.
ensure_packages() {
  local missing=() spec pkg cmd
  for spec in "$@"; do
    pkg=${spec%%:*}; cmd=${spec#*:}
    if [[ "$cmd" == /* ]]; then [ -e "$cmd" ] && continue
    else command -v "$cmd" >/dev/null 2>&1 && continue
    fi
    missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "nodemesh: installing missing Debian packages: ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
      || die "apt-get install ${missing[*]} failed"
    return 0
  fi
  die "missing Debian packages: ${missing[*]} (run as root to have them installed, or: sudo apt-get install ${missing[*]})"
}

# Builds node-proxy/target/nodemesh.jar when it is missing or older than a source or pom.
ensure_jar() {
  local newer
  if [ -f "$NODEMESH_JAR" ]; then
    newer=$(cd "$NODEMESH_ROOT" && find pom.xml ./*/pom.xml ./*/src/main -newer "$NODEMESH_JAR" -type f -print -quit 2>/dev/null)
    [ -z "$newer" ] && return 0
    echo "nodemesh: $newer changed since the jar was built; rebuilding..." >&2
  else
    echo "nodemesh: building $NODEMESH_JAR (first run; takes a minute or two)..." >&2
  fi
  ensure_packages "${NODEMESH_BUILD_PACKAGES[@]}"
  (cd "$NODEMESH_ROOT" && mvn -B -q -DskipTests package -pl node-proxy -am) >&2 \
    || die "the build failed; run 'mvn -B -DskipTests package' in $NODEMESH_ROOT to see why"
  [ -f "$NODEMESH_JAR" ] || die "the build finished but $NODEMESH_JAR is not there"
}

# Builds jmh-bench/target/benchmarks.jar (and nodemesh.jar, which the benchmarks start) when either is missing
# or older than a source or pom: the benchmark report runs the proxy it measures from nodemesh.jar.
ensure_bench_jar() {
  local newer="" jar
  for jar in "$NODEMESH_BENCH_JAR" "$NODEMESH_JAR"; do
    if [ ! -f "$jar" ]; then newer="$jar is missing"; break; fi
    newer=$(cd "$NODEMESH_ROOT" && find pom.xml ./*/pom.xml ./*/src/main -newer "$jar" -type f -print -quit 2>/dev/null)
    [ -n "$newer" ] && { newer="$newer changed since $(basename "$jar") was built"; break; }
  done
  [ -z "$newer" ] && return 0
  echo "nodemesh: $newer; building the benchmarks (a minute or two)..." >&2
  ensure_packages "${NODEMESH_BUILD_PACKAGES[@]}"
  (cd "$NODEMESH_ROOT" && mvn -B -q -pl jmh-bench -am package -DskipTests) >&2 \
    || die "the build failed; run 'mvn -B -pl jmh-bench -am package -DskipTests' in $NODEMESH_ROOT to see why"
  [ -f "$NODEMESH_BENCH_JAR" ] || die "the build finished but $NODEMESH_BENCH_JAR is not there"
}
