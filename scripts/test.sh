#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# test in the workspace (unit, store conformance on SQLite and a throwaway
# PostgreSQL cluster, API tests against a running bbs, wire conformance),
# and ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# cargo prints one "test result:" line per test binary; the last one is
# often a crate's empty doc-test run, so total them here.
awk '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed/)  p += $i
         if ($(i+1) ~ /^failed/)  f += $i
         if ($(i+1) ~ /^ignored/) s += $i
       }
     }
     END { printf "total: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit "$status"
