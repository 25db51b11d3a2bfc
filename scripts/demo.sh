#!/usr/bin/env bash
# The main job on a fresh machine: install node modules if missing, build a stale dist/ (the
# compiled CLI and workflow bundle), bring the local stack up
# (installing any server that is missing), then run `polysaga demo` (migrations, a worker,
# the example sagas) and print where the Temporal Web UI is. The stack stays up afterwards;
# `npm run stack -- down` stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/ensure-node-modules.sh
node scripts/build.mjs --if-stale
bash scripts/stack/stack.sh up
eval "$(bash scripts/stack/stack.sh env)"
exec ./bin/polysaga demo "$@"
