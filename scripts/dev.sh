#!/usr/bin/env bash
# Runs the whole system on this machine (`diego dev`): locket, bbs,
# auctioneer, file server, one cell, NATS, route-emitter and router, on the
# embedded default (SQLite files under .diego/). Apps pushed with
# `diego push` answer at http://APP.localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The same build as scripts/test.sh's (profile and features: the whole
# workspace), so running one after the other compiles nothing twice.
cargo build --workspace --locked
exec target/debug/diego dev --data-dir .diego
