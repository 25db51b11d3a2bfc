#!/usr/bin/env bash
# The whole test suite, with all of its own set-up: installs node modules if missing, brings the
# local stack up (installing any server that is missing), runs every vitest project, and ends
# with the plain line "N passed, N failed" computed from vitest's JSON report.
# Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure-node-modules.sh
# Servers this run starts are stopped when it ends (those already running stay up);
# POLYSAGA_KEEP_STACK=1 leaves them running.
STARTED_FILE="$(mktemp)"
stop_started_servers() {
  trap '' INT TERM # a second Ctrl-C does not cut the clean-up short
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
REPORT="$ROOT/.stack/vitest-report.json"
rm -f "$REPORT"
set +e
npx vitest run --reporter=default --reporter=json --outputFile.json="$REPORT" "$@"
rc=$?
set -e
if [ -f "$REPORT" ]; then
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
    if (r.numTotalTests === 0) { console.error("[test] no test ran"); process.exit(1); }
  ' "$REPORT" || rc=1
else
  echo "0 passed, 0 failed"
  echo "[test] vitest wrote no report" >&2
  rc=1
fi
exit "$rc"
