#!/usr/bin/env bash
# The pipeline at scale (STOWAGE_SCALE_MODELS, default 24; e.g. "24 304 3040"), then graph reuse against
# full traces at bert-base size. Figures only, never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck disable=SC2086
node dist/test/bench/scale/bench.js ${STOWAGE_SCALE_MODELS:-24}
PYTHONPATH=python-tracer python-tracer/.venv/bin/python test/bench/scale/graph_reuse.py "${STOWAGE_GRAPH_REUSE_MODELS:-3}"
