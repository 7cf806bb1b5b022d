#!/usr/bin/env bash
# Builds the cflinuxfs4-compatible stack: a root filesystem for staging and
# running buildpack apps, made with mmdebstrap from Debian 12 (bookworm)
# packages. Cloud Foundry's cflinuxfs4 is Ubuntu 22.04; ours carries the same
# kind of contents (bash, coreutils, tar, gzip, curl, CA certificates, glibc,
# the en_US.UTF-8 locale, the shared libraries buildpack runtimes link
# against, and the `vcap` user, uid/gid 2000) from Debian instead.
#
#   stacks/cflinuxfs4.sh [CACHE_DIR]
#
# prints the rootfs directory on stdout. It is built once into
# CACHE_DIR/stacks/cflinuxfs4-<key>/rootfs (CACHE_DIR defaults to
# $DIEGO_CACHE_DIR, else ~/.cache/diego) and reused: <key> is a hash of this
# script, so changing the package list or a hook builds a new one. Concurrent
# callers wait for one build (flock). Progress goes to stderr.
#
# Needs mmdebstrap and root (or a user namespace setup mmdebstrap's unshare
# mode accepts) and a reachable Debian mirror ($DEBIAN_MIRROR).
set -euo pipefail

STACK=cflinuxfs4
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# File times in the image (mmdebstrap clamps to it): a fixed date, so two
# builds of the same package versions give the same tree.
export SOURCE_DATE_EPOCH=1704067200 # 2024-01-01T00:00:00Z

# The fixed package list (their dependencies come along). Runtimes (python,
# node, nginx) are not here: buildpacks vendor them, as Cloud Foundry's do.
PACKAGES=(
  # the basics every buildpack script and launcher uses
  bash coreutils findutils grep sed gawk tar gzip xz-utils bzip2 unzip zip
  ca-certificates curl procps netbase tzdata locales libc6 libc-bin passwd
  # shared libraries of the runtimes the buildpacks vendor
  # python 3.11
  libexpat1 zlib1g libbz2-1.0 libcrypt1 libdb5.3 libffi8 liblzma5
  libncursesw6 libnsl2 libreadline8 libsqlite3-0 libtinfo6 libtirpc3
  libuuid1 libssl3 media-types
  # node.js 18; Debian's libnode loads three of its builtins (fetch, the
  # CommonJS lexer, acorn) from /usr/share/nodejs, so they live here
  libstdc++6 libgcc-s1 libicu72 libnghttp2-14 libbrotli1 libc-ares2 libuv1
  node-acorn node-cjs-module-lexer node-undici
  # nginx (staticfile)
  libpcre2-8-0
  # what apps commonly link against
  libyaml-0-2 libxml2 libxslt1.1 libpq5 libmariadb3 libcurl4 libgmp10
)

cache=${1:-${DIEGO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diego}}
key=$(sha256sum "$0" | cut -c1-16)
out="$cache/stacks/$STACK-$key"

if [ -f "$out/rootfs/etc/os-release" ] && [ -f "$out/built" ]; then
  echo "$out/rootfs"
  exit 0
fi

command -v mmdebstrap >/dev/null || {
  echo "mmdebstrap is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
}

mkdir -p "$cache/stacks"
exec 9>"$cache/stacks/$STACK.lock"
flock 9
# Another caller may have built it while we waited.
if [ -f "$out/built" ]; then
  echo "$out/rootfs"
  exit 0
fi

tmp="$out.tmp.$$"
rm -rf --one-file-system "$tmp"
mkdir -p "$tmp"
trap 'rm -rf --one-file-system "$tmp"' EXIT
echo "building stack $STACK from Debian $SUITE with mmdebstrap (first run: a few minutes)..." >&2
start=$(date +%s)

sources="deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECURITY_MIRROR $SUITE-security main"

mode=root
[ "$(id -u)" -eq 0 ] || mode=unshare

mmdebstrap \
  --mode="$mode" \
  --variant=essential \
  --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --customize-hook='echo "en_US.UTF-8 UTF-8" > "$1/etc/locale.gen"' \
  --customize-hook='chroot "$1" locale-gen' \
  --customize-hook='echo "LANG=en_US.UTF-8" > "$1/etc/default/locale"' \
  --customize-hook='chroot "$1" groupadd --gid 2000 vcap' \
  --customize-hook='chroot "$1" useradd --uid 2000 --gid 2000 --create-home --home-dir /home/vcap --shell /bin/bash vcap' \
  --customize-hook='echo "'"$STACK"'" > "$1/etc/stack-name"' \
  --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/lib/apt/lists/* "$1"/var/log/* "$1"/var/cache/ldconfig/aux-cache "$1"/tmp/* "$1"/root/.bash_history' \
  --customize-hook='rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id "$1"/etc/ssh/ssh_host_*; : > "$1/etc/machine-id"' \
  --customize-hook='rm -f "$1"/etc/resolv.conf "$1"/etc/hostname; : > "$1/etc/resolv.conf"; : > "$1/etc/hosts"' \
  --customize-hook='rm -f "$1"/var/lib/dpkg/*-old "$1"/var/cache/debconf/*-old' \
  "$SUITE" "$tmp/rootfs" - <<<"$sources" >&2

touch "$tmp/built"
rm -rf --one-file-system "$out"
mv "$tmp" "$out"
trap - EXIT
echo "built stack $STACK in $(( $(date +%s) - start ))s ($(du -sh "$out/rootfs" | cut -f1)): $out/rootfs" >&2
echo "$out/rootfs"
