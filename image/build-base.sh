#!/usr/bin/env bash
# The image's base: a Debian root filesystem (debootstrap --variant=minbase plus the tools the proxy runs in pods'
# namespaces), written as a Docker-save tar, the one form of base Jib takes without a registry (jib.from.image=tar://).
# No Docker daemon is needed: the tar is made here (manifest.json, the config, one gzipped layer).
#
# Cached: the tar is named by a hash of its inputs (this script, the suite, the mirror, the packages) and kept outside
# the clone, so CI and every fresh clone on the machine build it once. Prints the tar's path on stdout.
#
# Usage: image/build-base.sh [--link FILE]   (as root when the cache misses: debootstrap makes device nodes and chroots)
#        --link FILE  also points the symbolic link FILE at the tar (image/pom.xml: target/base.tar, Jib's tar://)
# Env:   NODEMESH_IMAGE_CACHE  where the tars live (default /var/cache/nodemesh)
#        NODEMESH_BASE_SUITE   Debian suite (default: this machine's, VERSION_CODENAME of /etc/os-release)
#        NODEMESH_BASE_MIRROR  (default http://deb.debian.org/debian)
#
# Same inputs give the same bytes as long as the mirror serves the same package versions (two builds 2026-12-05 gave
# the same tar): file order, owners and times in the tar are fixed, gzip writes no name or time. A point release or a
# fix on the mirror changes the packages, and the next cache miss takes them.
set -euo pipefail

# iptables and nftables: the proxy applies a pod's redirect rules with iptables-restore / nft -f inside the pod's
# network namespace (redirect-rules' engines); iproute2: `ip` for an operator in the pod; util-linux's nsenter (how
# the rules engines enter a namespace) is essential in Debian, so minbase has it already. Kept in step with
# image/Dockerfile (ImageRecipeTest checks).
PACKAGES=(iptables nftables iproute2)

die() { echo "build-base: $*" >&2; exit 2; }

link=""
if [ "${1:-}" = --link ] && [ -n "${2:-}" ]; then
  link=$2
elif [ $# -gt 0 ]; then
  die "usage: build-base.sh [--link FILE]"
fi
# done: prints the tar's path and makes the link.
done_with() {
  if [ -n "$link" ]; then
    mkdir -p "$(dirname "$link")" && ln -sfn "$1" "$link" || die "cannot link $link to $1"
  fi
  echo "$1"
  exit 0
}

script=$(readlink -f "$0")
cache=${NODEMESH_IMAGE_CACHE:-/var/cache/nodemesh}
suite=${NODEMESH_BASE_SUITE:-}
if [ -z "$suite" ]; then
  # shellcheck disable=SC1091
  suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$suite" ] || die "no VERSION_CODENAME in /etc/os-release: set NODEMESH_BASE_SUITE (e.g. bookworm)"
fi
mirror=${NODEMESH_BASE_MIRROR:-http://deb.debian.org/debian}
key=$( { cat "$script"; printf '%s\n' "$suite" "$mirror" "${PACKAGES[@]}"; } | sha256sum | cut -c1-16)
out="$cache/base-$suite-$key.tar"

if [ -f "$out" ]; then
  done_with "$out"
fi
[ "$(id -u)" -eq 0 ] || die "$out is not built yet, and debootstrap needs root (run this script as root once)"
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap; .ci/run installs it)"
mkdir -p "$cache"
# One builder at a time per cache: a second waits and then finds the tar.
exec 9>"$cache/.build-base.lock"
flock 9
if [ -f "$out" ]; then
  done_with "$out"
fi

work=$(mktemp -d "$cache/.base-XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
echo "build-base: debootstrap --variant=minbase $suite + ${PACKAGES[*]} from $mirror (a minute or two, once)..." >&2
rootfs="$work/rootfs"
joined=$(IFS=,; echo "${PACKAGES[*]}")
debootstrap --variant=minbase --include="$joined" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
for tool in iptables-restore ip6tables-restore nft ip nsenter; do
  chroot "$rootfs" sh -c "command -v $tool" >/dev/null || die "$tool is not in the debootstrapped root"
done

# What a container image does not carry: downloaded packages, package lists, logs, debootstrap's own files, device
# nodes (the runtime mounts /dev).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* \
  "$rootfs"/var/cache/ldconfig/aux-cache "$rootfs"/debootstrap "$rootfs"/dev/* "$rootfs"/tmp/* "$rootfs"/run/*
: >"$rootfs/etc/machine-id"
# Apt in the image would use the same mirror as the build.
echo "deb $mirror $suite main" >"$rootfs/etc/apt/sources.list"

# The docker-save tar: the layer (sorted, numeric owners, times clamped to 2000-01-01), its gzip without a name or
# time, the config naming the layer's diff id, and manifest.json.
epoch=946684800
created=2000-01-01T00:00:00Z
image="$work/image"
mkdir "$image"
# --xattrs makes it a pax archive, whose headers would carry each file's access and change times: dropped.
tar -C "$rootfs" --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime --sort=name \
  --numeric-owner --xattrs --mtime=@$epoch --clamp-mtime -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 <"$work/layer.tar" >"$image/layer.tar.gz"
cat >"$image/config.json" <<EOF
{"architecture":"amd64","os":"linux","created":"$created","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"]},"rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},"history":[{"created":"$created","created_by":"image/build-base.sh: debootstrap --variant=minbase --include=$joined $suite $mirror"}]}
EOF
cat >"$image/manifest.json" <<EOF
[{"Config":"config.json","RepoTags":["nodemesh/base:$suite-$key"],"Layers":["layer.tar.gz"]}]
EOF
tar -C "$image" --sort=name --numeric-owner --owner=0 --group=0 --mtime=@$epoch -cf "$work/base.tar" \
  manifest.json config.json layer.tar.gz
mv "$work/base.tar" "$out"
echo "build-base: $out ($(du -m "$out" | cut -f1) MB; root filesystem $(du -sm "$rootfs" | cut -f1) MB) in $(( $(date +%s) - started )) s" >&2
done_with "$out"
