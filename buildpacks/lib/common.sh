# Shared by the buildpacks (build.sh copies lib/ into each zip). Sourced by
# bin/* scripts after they set BP_NAME.
#
# The buildpack interface (Diego's builder calls these):
#   bin/detect   BUILD_DIR                              exit 0 and print a name if it applies
#   bin/supply   BUILD_DIR CACHE_DIR DEPS_DIR INDEX     install dependencies into DEPS_DIR/INDEX
#   bin/finalize BUILD_DIR CACHE_DIR DEPS_DIR INDEX PROFILE_DIR
#   bin/release  BUILD_DIR                              print YAML default_process_types
set -euo pipefail

BP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BP_VERSION=$(cat "$BP_DIR/VERSION" 2>/dev/null || echo 0.0.0)

# A step of the staging log, in the buildpacks' usual style.
step() { echo "-----> $*"; }
info() { echo "       $*"; }
warn() { echo "       WARNING: $*"; }

# config.yml in this buildpack's deps directory: its name and version end
# up in result.json (lifecycle_metadata.buildpacks).
write_config() {
  local dir=$1
  mkdir -p "$dir"
  printf 'name: %s\nversion: %s\n' "$BP_NAME" "$BP_VERSION" > "$dir/config.yml"
}

# The launcher sources only the droplet's profile.d/: the final buildpack
# brings there what every buildpack left in DEPS_DIR/*/profile.d/.
collect_profile_d() {
  local deps=$1 profile=$2 f idx
  mkdir -p "$profile"
  for f in "$deps"/*/profile.d/*; do
    [ -f "$f" ] || continue
    idx=$(basename "$(dirname "$(dirname "$f")")")
    cp "$f" "$profile/${idx}_$(basename "$f")"
  done
}

# Copies the runtime this buildpack vendored (dependencies/) to $1.
install_runtime() {
  local to=$1
  mkdir -p "$to"
  cp -a "$BP_DIR/dependencies/." "$to/"
}
