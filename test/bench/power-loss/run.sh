#!/usr/bin/env bash
# Power-loss trials: the demo pipeline SIGKILLed at seeded random moments of every stage and restarted on
# the same state (not run by `make test`: it takes about 3 minutes a trial on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../../.."
npx tsc -p tsconfig.json
node dist/test/bench/power-loss/bench.js
