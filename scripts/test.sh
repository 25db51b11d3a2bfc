#!/usr/bin/env bash
# The whole test suite, with all of its own set-up: installs node modules if missing, builds a
# stale dist/ (npm run build: the CLI then runs compiled JavaScript), brings the
# local stack up (installing any server that is missing), runs every vitest project, and ends
# with the plain line "N passed, N failed" computed from vitest's JSON report.
# Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure-node-modules.sh
node scripts/build.mjs --if-stale
bash scripts/stack/stack.sh up
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
