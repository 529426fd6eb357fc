#!/usr/bin/env bash
# The bench-only environment for the TorchServe comparison: torchserve and torch-model-archiver from PyPI in
# their own venv under .stowage/bench/ (never the project's venv: they are no dependency of the project).
# torch, transformers and numpy are read from the project's venv through a .pth file, so both servers run
# the very same torch build and the bench downloads no second copy of it.
# Prints the venv's python.
set -euo pipefail
cd "$(dirname "$0")/../../.."
project_python=python-tracer/.venv/bin/python
venv=.stowage/bench/torchserve-venv
versions="torchserve==0.12.0 torch-model-archiver==0.12.0"
if [ ! -f "$venv/.ready" ] || [ "$(cat "$venv/.ready")" != "$versions" ]; then
  rm -rf "$venv"
  base=$("$project_python" -c 'import sys; print(sys.base_prefix)')/bin/python3
  "$base" -m venv "$venv"
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  "$project_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' >"$site/stowage-project.pth"
  "$venv/bin/pip" install --quiet --disable-pip-version-check $versions >&2
  echo "$versions" >"$venv/.ready"
fi
echo "$venv/bin/python"
