#!/usr/bin/env bash
# Builds the lifecycle bundles the cell downloads into containers (Cloud
# Controller's `lifecycle_bundles`, delivered as cached dependencies at
# /tmp/lifecycle):
#
#   buildpack_app_lifecycle.tgz   builder, launcher
#   docker_app_lifecycle.tgz      launcher (the docker one)
#
#   scripts/build-lifecycle.sh [OUT_DIR]
#
# The binaries are static (static-pie on the gnu target with crt-static):
# they run on any stack and in images without a libc. OUT_DIR defaults to
# CACHE_DIR/lifecycle ($DIEGO_CACHE_DIR, else ~/.cache/diego); the two
# paths are printed on stdout. A bundle is rewritten only when its content
# changes, so its file time (and the file server's Last-Modified) stays put.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${DIEGO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diego}
out=${1:-$cache/lifecycle}
target=x86_64-unknown-linux-gnu
mkdir -p "$out"

# RUSTFLAGS with --target apply to the lifecycle's code only, not to build
# scripts; its own target directory keeps the host build's cache intact.
RUSTFLAGS="-C target-feature=+crt-static -C strip=symbols" \
  cargo build --quiet --release --locked --target "$target" -p lifecycle >&2
bin="${CARGO_TARGET_DIR:-target}/$target/release"

for b in builder launcher docker-launcher; do
  if ! ldd "$bin/$b" 2>&1 | grep -qE 'statically linked|not a dynamic executable'; then
    echo "$bin/$b is not statically linked" >&2
    exit 1
  fi
done

# Reproducible tars: fixed owner, mode and time, sorted names.
bundle() {
  local name=$1 dir=$2 tmp
  tmp=$(mktemp "$out/.$name.XXXXXX")
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1704067200 \
    --mode=0755 -C "$dir" -cf - . | gzip -n -9 > "$tmp"
  if cmp -s "$tmp" "$out/$name"; then
    rm -f "$tmp"
  else
    mv "$tmp" "$out/$name"
  fi
  echo "$out/$name"
}

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/buildpack" "$stage/docker"
cp "$bin/builder" "$bin/launcher" "$stage/buildpack/"
cp "$bin/docker-launcher" "$stage/docker/launcher"
bundle buildpack_app_lifecycle.tgz "$stage/buildpack"
bundle docker_app_lifecycle.tgz "$stage/docker"
