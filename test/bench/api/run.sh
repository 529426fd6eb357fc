#!/usr/bin/env bash
# The API part of `make bench`: /healthz latency while 8 maximum-size packs arrive at once, and the
# hostile requests of the hardening probe.
set -euo pipefail
cd "$(dirname "$0")/../../.."
npx tsc -p tsconfig.json
node dist/test/bench/api/bench.js
