#!/usr/bin/env bash
# The serving part of `make bench`: model server vs the post-style baseline, adaptive vs linear sweep.
set -euo pipefail
cd "$(dirname "$0")/../../.."
npx tsc -p tsconfig.json
node dist/test/bench/serving/bench.js
