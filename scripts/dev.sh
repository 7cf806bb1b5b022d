#!/usr/bin/env bash
# Runs the system on this machine on the embedded default (a SQLite file
# under .diego/). Today that is the BBS on http://127.0.0.1:8889; the full
# one-process `diego dev` (locket, auctioneer, a cell, routing, a demo app)
# replaces this as those components land.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release -p diego

data=.diego
mkdir -p "$data"
# A per-machine encryption key for the dev store, made once.
if [ ! -f "$data/encryption.key" ]; then
  head -c 32 /dev/urandom | base64 > "$data/encryption.key"
  chmod 600 "$data/encryption.key"
fi
key=$(cat "$data/encryption.key")
cat > "$data/bbs.json" <<JSON
{
  "listen_address": "127.0.0.1:8889",
  "health_address": "127.0.0.1:8890",
  "database_driver": "sqlite",
  "database_connection_string": "$PWD/$data/bbs.db",
  "encryption_keys": {"dev": "$key"},
  "active_key_label": "dev"
}
JSON
exec target/release/diego bbs --config "$data/bbs.json"
