#!/usr/bin/env bash
# Builds a buildpack zip: the buildpack's scripts, the shared lib/, and the
# runtime it ships, vendored from Debian 12 packages at build time (staging
# never reaches the network: the runtime is in the zip).
#
#   buildpacks/build.sh NAME [CACHE_DIR]
#
# prints the zip's path on stdout: CACHE_DIR/buildpacks/NAME-<key>.zip,
# where <key> hashes this script, lib/ and the buildpack's directory, so an
# edit builds a new zip and an unchanged buildpack is reused. CACHE_DIR
# defaults to $DIEGO_CACHE_DIR, else ~/.cache/diego. The Debian packages
# named in NAME/packages.txt are fetched with apt-get download through a
# private apt state under CACHE_DIR/apt (bookworm only, whatever the host's
# sources say), then unpacked with dpkg-deb into NAME's dependencies/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
name=${1:?usage: buildpacks/build.sh NAME [CACHE_DIR]}
cache=${2:-${DIEGO_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/diego}}
src="$here/$name"
[ -d "$src/bin" ] || { echo "no buildpack $name in $here" >&2; exit 1; }
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
export SOURCE_DATE_EPOCH=1704067200

key=$( (cd "$here" && find build.sh lib "$name" -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16)
out="$cache/buildpacks/$name-$key.zip"
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
mkdir -p "$cache/buildpacks"
exec 9>"$cache/buildpacks/$name.lock"
flock 9
if [ -f "$out" ]; then
  echo "$out"
  exit 0
fi
command -v zip >/dev/null || { echo "zip is not installed (scripts/install-deps.sh installs it)" >&2; exit 1; }

tmp=$(mktemp -d "$cache/buildpacks/.$name.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bp"
cp -a "$src/." "$tmp/bp/"
cp -a "$here/lib" "$tmp/bp/lib"

packages=()
if [ -f "$src/packages.txt" ]; then
  mapfile -t packages < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$src/packages.txt")
fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "vendoring ${packages[*]} into the $name buildpack..." >&2
  apt_dir="$cache/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/debs"
  cat > "$apt_dir/sources.list" <<SOURCES
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR bookworm-updates main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $SECURITY_MIRROR bookworm-security main
SOURCES
  : > "$apt_dir/status"
  apt=(apt-get -q
    -o Dir::Etc::SourceList="$apt_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::Etc::Preferences=/dev/null -o Dir::Etc::PreferencesParts=/dev/null
    -o Dir::State::Lists="$apt_dir/lists" -o Dir::State::status="$apt_dir/status"
    -o Dir::Cache="$apt_dir" -o Dir::Cache::archives="$apt_dir/archives"
    -o Debug::NoLocking=1 -o APT::Sandbox::User="$(id -un)" -o Acquire::Languages=none)
  # The package lists are refreshed once a day at most.
  if [ -z "$(find "$apt_dir/lists" -maxdepth 1 -name '*Packages*' -mtime -1 -print -quit)" ]; then
    "${apt[@]}" update >&2
  fi
  (cd "$apt_dir/debs" && "${apt[@]}" download "${packages[@]}" >&2)
  mkdir -p "$tmp/bp/dependencies"
  for p in "${packages[@]}"; do
    deb=$(ls -t "$apt_dir/debs/${p}_"*.deb | head -1)
    dpkg-deb -x "$deb" "$tmp/bp/dependencies"
    echo "$(basename "$deb")" >> "$tmp/bp/dependencies/PACKAGES"
  done
  rm -rf "$tmp/bp/dependencies/usr/share/doc" "$tmp/bp/dependencies/usr/share/man" \
    "$tmp/bp/dependencies/usr/share/lintian" "$tmp/bp/dependencies/usr/share/systemtap" \
    "$tmp/bp/dependencies/usr/include" "$tmp/bp/dependencies/usr/share/bash-completion"
fi

chmod -R a+rX "$tmp/bp"
find "$tmp/bp" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
(cd "$tmp/bp" && find . -mindepth 1 | LC_ALL=C sort | zip -q -X -y "$tmp/out.zip" -@)
mv "$tmp/out.zip" "$out"
echo "built the $name buildpack ($(du -h "$out" | cut -f1)): $out" >&2
echo "$out"
