#!/usr/bin/env bash
# The project's test command: installs what the tests need, then runs every
# test in the workspace (unit, store conformance on SQLite, a throwaway
# PostgreSQL cluster and a throwaway MariaDB server, API tests against a
# running bbs, wire conformance),
# and ends with one line totalling every test binary's results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

log=$(mktemp)
# Tests whose prerequisite is missing record themselves here (testkit::skip);
# cargo counts them as passed, the total below as skipped.
# DIEGO_REQUIRE_PREREQS=1 (CI) makes each such skip a failure instead.
export DIEGO_SKIP_LOG
DIEGO_SKIP_LOG=$(mktemp)
trap 'rm -f "$log" "$DIEGO_SKIP_LOG"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

if [ -s "$DIEGO_SKIP_LOG" ]; then
  echo "skipped (a prerequisite is missing):"
  sort "$DIEGO_SKIP_LOG" | sed 's/^/  /'
fi
# cargo prints one "test result:" line per test binary; the last one is
# often a crate's empty doc-test run, so total them here.
awk -v recorded="$(wc -l < "$DIEGO_SKIP_LOG")" '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i+1) ~ /^passed/)  p += $i
         if ($(i+1) ~ /^failed/)  f += $i
         if ($(i+1) ~ /^ignored/) s += $i
       }
     }
     END { printf "total: %d passed, %d failed, %d skipped\n", p - recorded, f, s + recorded }' "$log"
exit "$status"
