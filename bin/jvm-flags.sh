# The JVM that runs `nodemesh COMMAND`: the flags of jvm-flags.properties chosen for the command, and its entry point.
# Sourced by bin/lib.sh (bin/nodemesh, bin/test, .ci/run) and, in the image, by /opt/nodemesh/bin/nodemesh
# (image/src/nodemesh), which carries a copy of this file: both read the one source of the flags the same way.
# It starts no process of its own: every nodemesh call pays for what runs before the JVM (RESULTS.md, cli-startup).
# shellcheck shell=bash

# nodemesh_read_jvm_flags FILE: reads the jvm.* keys of FILE (a jvm-flags.properties) into NODEMESH_JVM_FLAG_FILE and
# the arrays below.
nodemesh_read_jvm_flags() {
  local key value
  declare -gA NODEMESH_JVM_FLAG_FILE=()
  while IFS='=' read -r key value; do
    case "$key" in jvm.*) NODEMESH_JVM_FLAG_FILE[$key]=$value ;; esac
  done <"$1"
  # Every JVM of the project.
  read -r -a NODEMESH_JVM_FLAGS <<<"${NODEMESH_JVM_FLAG_FILE[jvm.flags]:-}"
  # Added for `nodemesh proxy` and `nodemesh agent` only (the node's long-running daemons). Override with
  # NODEMESH_PROXY_JVM_FLAGS="..." (words).
  read -r -a NODEMESH_PROXY_JVM_FLAGS_DEFAULT <<<"${NODEMESH_JVM_FLAG_FILE[jvm.flags.daemon]:-}"
  # Added for `nodemesh agent` only. Override with NODEMESH_AGENT_JVM_FLAGS="..." (words, replacing the daemon flags
  # too).
  read -r -a NODEMESH_AGENT_JVM_FLAGS_ONLY <<<"${NODEMESH_JVM_FLAG_FILE[jvm.flags.agent]:-}"
  # Added for the debugging commands (status, connections, top, workloads, services, config-dump), which start through
  # cli.DebugCli.
  read -r -a NODEMESH_CLI_JVM_FLAGS <<<"${NODEMESH_JVM_FLAG_FILE[jvm.flags.cli]:-}"
  # glibc malloc arenas for the daemons.
  NODEMESH_PROXY_MALLOC_ARENA_MAX="${NODEMESH_JVM_FLAG_FILE[jvm.env.MALLOC_ARENA_MAX]:-}"
}

jvm_flag_words() { # prints the value of key $1 of the jvm-flags.properties read
  printf '%s\n' "${NODEMESH_JVM_FLAG_FILE[$1]:-}"
}

# nodemesh_exec_java JAVA JAR AOT_DIR ARG...: replaces the shell with `JAVA ... -jar JAR ARG...` (nodemesh_read_jvm_flags
# first). NODEMESH_JAVA_OPTS (words) are added last. AOT_DIR holds the debugging commands' AOT caches
# (nodemesh-cli-COMMAND.aot, used only when newer than JAR) and the proxy's (nodemesh-proxy.aot, when not older);
# NODEMESH_CLI_AOT=FILE and NODEMESH_PROXY_AOT=FILE name others.
nodemesh_exec_java() {
  local java=$1 jar=$2 aot_dir=$3 aot_file
  shift 3
  # The node's two long-running daemons, the proxy and the telemetry agent, run with the footprint flags (the agent
  # also with NODEMESH_AGENT_JVM_FLAGS_ONLY: C1 alone, compiling early).
  if [ "${1:-}" = proxy ] || [ "${1:-}" = agent ]; then
    local daemon_flags
    if [ "$1" = agent ] && [ -n "${NODEMESH_AGENT_JVM_FLAGS:-}" ]; then
      read -r -a daemon_flags <<<"$NODEMESH_AGENT_JVM_FLAGS"
    elif [ "$1" = proxy ] && [ -n "${NODEMESH_PROXY_JVM_FLAGS:-}" ]; then
      read -r -a daemon_flags <<<"$NODEMESH_PROXY_JVM_FLAGS"
    elif [ "$1" = agent ]; then
      daemon_flags=("${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[@]}" "${NODEMESH_AGENT_JVM_FLAGS_ONLY[@]}")
    else
      daemon_flags=("${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[@]}")
    fi
    export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-$NODEMESH_PROXY_MALLOC_ARENA_MAX}"
    # The proxy's AOT cache (nodemesh-proxy.aot, trained at package time on a proxy capturing pods under traffic with
    # exactly the default daemon flags: cli/pom.xml; the image's on its own JRE: stage-root.sh) when it is not older
    # than the jar (in the image both have Jib's one time), the flags are the default ones and
    # NODEMESH_JAVA_OPTS brings no archive of its own; NODEMESH_PROXY_AOT=FILE names another one, NODEMESH_PROXY_AOT=
    # (empty) starts without. A cache the JVM cannot use is ignored with a warning on stdout.
    local aot=()
    if [ "$1" = proxy ] && [ -z "${NODEMESH_PROXY_JVM_FLAGS:-}" ]; then
      aot_file="${NODEMESH_PROXY_AOT-$aot_dir/nodemesh-proxy.aot}"
      if [ -n "$aot_file" ] && [ -f "$aot_file" ] && ! [ "$jar" -nt "$aot_file" ]; then
        case " ${NODEMESH_JAVA_OPTS:-} " in
          *-Xshare*|*SharedArchiveFile*|*AOTCache*|*AOTMode*|*ArchiveClassesAtExit*) ;;
          *) aot=("-XX:AOTCache=$aot_file") ;;
        esac
      fi
    fi
    # shellcheck disable=SC2086 # NODEMESH_JAVA_OPTS is words
    exec "$java" "${NODEMESH_JVM_FLAGS[@]}" "${daemon_flags[@]}" "${aot[@]}" ${NODEMESH_JAVA_OPTS:-} -jar "$jar" "$@"
  fi
  # The debugging commands answer in a blink (RESULTS.md, cli-startup): their own entry point (no picocli for plain
  # options), the CLI flags, and the command's AOT cache, trained at package time with exactly these flags
  # (cli/pom.xml), if it is newer than the jar (the tests give NODEMESH_CLI_AOT stale and broken ones). A cache the JVM
  # cannot use (other JDK, other flags, broken file) is ignored without a word, and so is one that options in
  # NODEMESH_JAVA_OPTS would clash with.
  case "${1:-}" in
    status|connections|top|workloads|services|config-dump)
      local aot=()
      aot_file="${NODEMESH_CLI_AOT:-$aot_dir/nodemesh-cli-$1.aot}"
      if [ "$aot_file" -nt "$jar" ]; then
        case " ${NODEMESH_JAVA_OPTS:-} " in
          *-Xshare*|*SharedArchiveFile*|*AOTCache*|*AOTMode*|*ArchiveClassesAtExit*) ;;
          *) aot=("-XX:AOTCache=$aot_file" -Xlog:aot=off) ;;
        esac
      fi
      # shellcheck disable=SC2086
      exec "$java" "${NODEMESH_JVM_FLAGS[@]}" "${NODEMESH_CLI_JVM_FLAGS[@]}" "${aot[@]}" ${NODEMESH_JAVA_OPTS:-} \
        -cp "$jar" io.nodemesh.cli.DebugCli "$@" ;;
  esac
  # shellcheck disable=SC2086
  exec "$java" "${NODEMESH_JVM_FLAGS[@]}" ${NODEMESH_JAVA_OPTS:-} -jar "$jar" "$@"
}
