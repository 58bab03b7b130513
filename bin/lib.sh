# Shared set-up for bin/nodemesh, bin/test and .ci/run: find JDK 25, make sure the Debian
# packages nodemesh needs are there (installing them when run as root), build the jar.
# shellcheck shell=bash

# Every bin/nodemesh call pays for what this file does before the JVM starts, so it starts no process it can avoid
# (each one cost ~10 ms on a busy 2-core machine; RESULTS.md, cli-startup).
_nodemesh_bin=${BASH_SOURCE[0]%/*}
[ "$_nodemesh_bin" = "${BASH_SOURCE[0]}" ] && _nodemesh_bin=.
NODEMESH_ROOT="$(cd "$_nodemesh_bin/.." && pwd)"
unset _nodemesh_bin
NODEMESH_JAR="$NODEMESH_ROOT/cli/target/nodemesh.jar"
NODEMESH_BENCH_JAR="$NODEMESH_ROOT/jmh-bench/target/benchmarks.jar"
# The JVM flags come from jvm-flags.properties, their one source (read by the root pom and the benchmarks too):
# bin/jvm-flags.sh reads them, the same file the image's launcher reads them with.
# shellcheck source=bin/jvm-flags.sh
. "$NODEMESH_ROOT/bin/jvm-flags.sh"
nodemesh_read_jvm_flags "$NODEMESH_ROOT/jvm-flags.properties"

# Debian package -> a command it provides, for what the demo and the tests run.
NODEMESH_PACKAGES=(
  "iproute2:ip"
  "iptables:iptables-restore"
  "nftables:nft"
  "util-linux:nsenter"
  "containernetworking-plugins:/usr/lib/cni/bridge"
  "procps:ps"
)
# What the build uses: Maven; gcc with the C library's and the kernel's headers for the CNI plugin's JNI library
# (cni-plugin/src/main/native).
NODEMESH_BUILD_PACKAGES=("maven:mvn" "gcc:gcc" "libc6-dev:/usr/include/stdlib.h" "linux-libc-dev:/usr/include/linux/nsfs.h")
# What only the tests use: haproxy -c and openssl check the benchmark's generated HAProxy/mTLS configs;
# promtool (ensure_promtool) checks /metrics with Prometheus's own parsers; tcpdump records the link between two
# test nodes to show that only TLS crosses it.
NODEMESH_TEST_PACKAGES=("haproxy:haproxy" "openssl:openssl" "tcpdump:tcpdump")
# What the image module's build uses: debootstrap makes the base (image/build-base.sh, once per machine: cached).
NODEMESH_IMAGE_PACKAGES=("debootstrap:debootstrap")
# promtool alone, taken out of Debian's prometheus package: installing the package would also enable a
# Prometheus server at boot. ExpositionFormatTest looks here (and in NODEMESH_PROMTOOL, then on PATH).
NODEMESH_PROMTOOL_DIR="$NODEMESH_ROOT/.cache/promtool"  # gitignored

# ensure_promtool: exports NODEMESH_PROMTOOL, a promtool to run; extracts it from the .deb (apt-get download,
# dpkg-deb -x: nothing installed, no service) into $NODEMESH_PROMTOOL_DIR when none is there, as any user.
ensure_promtool() {
  local deb work
  if [ -x "$NODEMESH_PROMTOOL_DIR/promtool" ]; then export NODEMESH_PROMTOOL="$NODEMESH_PROMTOOL_DIR/promtool"; return 0; fi
  if command -v promtool >/dev/null 2>&1; then export NODEMESH_PROMTOOL="$(command -v promtool)"; return 0; fi
  command -v apt-get >/dev/null 2>&1 || die "promtool is missing and there is no apt-get to fetch it (put it on PATH or set NODEMESH_PROMTOOL)"
  echo "nodemesh: fetching promtool from Debian's prometheus package into $NODEMESH_PROMTOOL_DIR (no service installed)..." >&2
  work=$(mktemp -d) || die "mktemp failed"
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root prometheus >/dev/null 2>&1) \
    || { [ "$(id -u)" -eq 0 ] && DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
         && (cd "$work" && apt-get download -q -o APT::Sandbox::User=root prometheus >/dev/null); } \
    || { rm -rf "$work"; die "apt-get download prometheus failed (needed for promtool)"; }
  deb=$(ls "$work"/prometheus_*.deb)
  dpkg-deb -x "$deb" "$work/x" || { rm -rf "$work"; die "dpkg-deb -x $deb failed"; }
  mkdir -p "$NODEMESH_PROMTOOL_DIR" && install -m 0755 "$work/x/usr/bin/promtool" "$NODEMESH_PROMTOOL_DIR/promtool" \
    || { rm -rf "$work"; die "cannot install promtool into $NODEMESH_PROMTOOL_DIR"; }
  rm -rf "$work"
  export NODEMESH_PROMTOOL="$NODEMESH_PROMTOOL_DIR/promtool"
}
NODEMESH_BENCH_PACKAGES=("wrk:wrk" "haproxy:haproxy" "openssl:openssl" "util-linux:taskset")

die() { echo "nodemesh: $*" >&2; exit 2; }

# True when $1 is a JDK (java and javac) of version 25 or newer. The version comes from the JAVA_VERSION line of its
# release file, without starting a JVM (that cost ~0.1 s on every bin/nodemesh call); only a JDK without one is asked.
is_jdk25() {
  local key value=""
  [ -n "$1" ] && [ -x "$1/bin/java" ] && [ -x "$1/bin/javac" ] || return 1
  if [ -r "$1/release" ]; then
    while IFS='=' read -r key value; do
      [ "$key" = JAVA_VERSION ] && break
      value=""
    done <"$1/release"
    value=${value//\"/}
  else
    value=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)
  fi
  value=${value%%.*}
  [ -n "$value" ] && [ "$value" -ge 25 ] 2>/dev/null
}

# Sets JAVA_HOME to a JDK 25 (or newer): $JAVA_HOME, then /usr/lib/jvm/*, then java on PATH.
find_jdk25() {
  local c
  for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25* /usr/lib/jvm/*-25-* /usr/lib/jvm/*25* /usr/lib/jvm/*; do
    if [ -d "$c" ] && is_jdk25 "$c"; then
      export JAVA_HOME="$c"
      return 0
    fi
  done
  if command -v java >/dev/null 2>&1; then
    c=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
    if is_jdk25 "$c"; then
      export JAVA_HOME="$c"
      return 0
    fi
  fi
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
  die "missing Debian packages: ${missing[*]} (run as root to have them installed, or as root: apt-get install ${missing[*]})"
}

# Builds cli/target/nodemesh.jar when it is missing or older than a source or pom.
ensure_jar() {
  local newer
  if [ -f "$NODEMESH_JAR" ]; then
    newer=$(cd "$NODEMESH_ROOT" && find pom.xml jvm-flags.properties ./*/pom.xml ./*/src/main -newer "$NODEMESH_JAR" -type f -print -quit 2>/dev/null)
    [ -z "$newer" ] && return 0
    echo "nodemesh: $newer changed since the jar was built; rebuilding..." >&2
  else
    echo "nodemesh: building $NODEMESH_JAR (first run; takes a minute or two)..." >&2
  fi
  ensure_packages "${NODEMESH_BUILD_PACKAGES[@]}"
  (cd "$NODEMESH_ROOT" && mvn -B -q -DskipTests package -pl cli -am) >&2 \
    || die "the build failed; run 'mvn -B -DskipTests package' in $NODEMESH_ROOT to see why"
  [ -f "$NODEMESH_JAR" ] || die "the build finished but $NODEMESH_JAR is not there"
}

# Builds jmh-bench/target/benchmarks.jar (and nodemesh.jar, which the benchmarks start) when either is missing
# or older than a source or pom: the benchmark report runs the proxy it measures from nodemesh.jar.
ensure_bench_jar() {
  local newer="" jar
  for jar in "$NODEMESH_BENCH_JAR" "$NODEMESH_JAR"; do
    if [ ! -f "$jar" ]; then newer="$jar is missing"; break; fi
    newer=$(cd "$NODEMESH_ROOT" && find pom.xml jvm-flags.properties ./*/pom.xml ./*/src/main -newer "$jar" -type f -print -quit 2>/dev/null)
    [ -n "$newer" ] && { newer="$newer changed since $(basename "$jar") was built"; break; }
  done
  [ -z "$newer" ] && return 0
  echo "nodemesh: $newer; building the benchmarks (a minute or two)..." >&2
  ensure_packages "${NODEMESH_BUILD_PACKAGES[@]}"
  (cd "$NODEMESH_ROOT" && mvn -B -q -pl jmh-bench -am package -DskipTests) >&2 \
    || die "the build failed; run 'mvn -B -pl jmh-bench -am package -DskipTests' in $NODEMESH_ROOT to see why"
  [ -f "$NODEMESH_BENCH_JAR" ] || die "the build finished but $NODEMESH_BENCH_JAR is not there"
}
