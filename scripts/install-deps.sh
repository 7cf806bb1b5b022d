#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need. Idempotent;
# skips apt entirely when everything is already there.
set -euo pipefail

packages=(
  protobuf-compiler   # protoc, for the models crate's build script
  postgresql          # initdb/pg_ctl: tests start their own throwaway cluster
  mariadb-server      # mariadbd/mariadb-install-db: tests start their own throwaway server
  ca-certificates
  curl
  runc                # the OCI runtime garden runs containers with
  busybox-static      # the rootfs of test and dev containers
  nats-server         # route-emitter tests publish to a real NATS
  iptables            # used by the CNI plugins (portmap, bridge's masquerade, firewall)
  containernetworking-plugins  # garden's container networking: bridge, host-local, portmap, firewall
  nftables
  iproute2            # ip netns / veth for cell networking tests
  docker-registry     # the OCI registry image tests pull from (CNCF distribution)
  skopeo              # copies test images into it
  umoci               # builds test images layer by layer
  apache2-utils       # htpasswd, for the registry's basic auth
  rsyslog             # a real syslog server: the log component's drain tests start one
  rsyslog-gnutls      # ... with TLS (syslog-tls:// drains)
  mmdebstrap          # builds the cflinuxfs4 stack (stacks/cflinuxfs4.sh)
  debian-archive-keyring  # verifies the Debian packages of the stack and buildpacks
  zip                 # buildpack zips (buildpacks/build.sh)
  unzip
  libc6-dev           # static libc for the static-pie lifecycle binaries
  e2fsprogs           # mkfs.ext4: garden's per-container disk limits
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v cargo >/dev/null || { echo "cargo not found: install Rust (rustup) first" >&2; exit 1; }
