#!/usr/bin/env bash
# The capacity part of `make bench`: planned capacity against measured knees, demo and bert-base sets.
set -euo pipefail
cd "$(dirname "$0")/../../.."
npx tsc -p tsconfig.json
node dist/test/bench/capacity/bench.js "$@"
