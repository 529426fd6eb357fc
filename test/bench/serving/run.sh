#!/usr/bin/env bash
# The serving part of `make bench`: model server vs the post-style baseline, adaptive vs linear sweep, and
# the side-by-side against TorchServe (torchserve.ts). `run.sh torchserve` runs only the latter.
set -euo pipefail
cd "$(dirname "$0")/../../.."
npx tsc -p tsconfig.json
if [ "${1:-}" != torchserve ]; then node dist/test/bench/serving/bench.js; fi
uptime
node dist/test/bench/serving/torchserve.js
uptime
