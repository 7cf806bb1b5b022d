#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# test in the workspace (unit, store conformance on SQLite and a throwaway
# PostgreSQL cluster, API tests against a running bbs, wire conformance).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo test --workspace --locked "$@"
