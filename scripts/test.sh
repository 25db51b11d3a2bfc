#!/usr/bin/env bash
# The whole test suite, with all of its own set-up: installs node modules if missing, builds a
# stale dist/ (npm run build: the CLI then runs compiled JavaScript), brings the
# local stack up (installing any server that is missing), runs every vitest project, and ends
# with the plain line "N passed, N failed" computed from vitest's JSON reports.
#
# Two vitest runs: first every project except `faults`, then `faults` alone (test/faults,
# docs/faults.md), because the fault tests stop and restart servers the other projects use.
# The final line sums both reports; the exit code is non-zero if anything failed or no test ran.
# Extra arguments go to vitest as one run (e.g. `npm test -- --project unit`); `npm run
# test:faults` runs the fault suite alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure-node-modules.sh
node scripts/build.mjs --if-stale
# Servers this run starts are stopped when it ends (those already running stay up);
# POLYSAGA_KEEP_STACK=1 leaves them running.
STARTED_FILE="$(mktemp)"
stop_started_servers() {
  trap '' INT TERM # a second Ctrl-C does not cut the clean-up short
  [ -f "$STARTED_FILE" ] || return 0
  local started; started="$(tr '\n' ' ' <"$STARTED_FILE")"; rm -f "$STARTED_FILE"
  [ -n "${started// /}" ] || return 0
  if [ "${POLYSAGA_KEEP_STACK:-}" = 1 ]; then
    echo "[test] leaving the servers this run started running (POLYSAGA_KEEP_STACK=1): ${started}; stop them with: npm run stack -- down ${started}" >&2
  else
    echo "[test] stopping the servers this run started: ${started}(POLYSAGA_KEEP_STACK=1 keeps them)" >&2
    # shellcheck disable=SC2086
    bash scripts/stack/stack.sh down $started >&2 || true
  fi
}
trap stop_started_servers EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
POLYSAGA_STACK_STARTED_FILE="$STARTED_FILE" bash scripts/stack/stack.sh up
REPORTS="${POLYSAGA_STACK_DIR:-$ROOT/.stack}"
rm -f "$REPORTS"/vitest-report*.json
rc=0
run() { # run <report-file> <vitest args...>
  local report="$1"; shift
  set +e
  npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@"
  local code=$?
  set -e
  [ "$code" = 0 ] || rc=1
}
if [ "$#" -gt 0 ]; then
  run "$REPORTS/vitest-report.json" "$@"
else
  run "$REPORTS/vitest-report-main.json" --project '!faults'
  run "$REPORTS/vitest-report-faults.json" --project faults
fi
# Stopped before the summary, so that "N passed, N failed" stays the last line of the run.
stop_started_servers
trap - INT TERM
node -e '
  const fs = require("fs");
  const files = process.argv.slice(1).filter((f) => fs.existsSync(f));
  let passed = 0, failed = 0, skipped = 0, total = 0;
  for (const f of files) {
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests ?? 0;
    failed += r.numFailedTests ?? 0;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    total += r.numTotalTests ?? 0;
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (files.length === 0) { console.error("[test] vitest wrote no report"); process.exit(1); }
  if (total === 0) { console.error("[test] no test ran"); process.exit(1); }
' "$REPORTS"/vitest-report*.json || rc=1
exit "$rc"
