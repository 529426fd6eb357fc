#!/usr/bin/env bash
# Runs the packing benchmark; the OR-Tools peer gets its own venv so it never touches python-tracer.
set -euo pipefail
cd "$(dirname "$0")/../../.."
venv=.stowage/bench-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import ortools' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet -r test/bench/packing/requirements.txt
fi
npx tsc -p tsconfig.json
node dist/test/bench/packing/bench.js
