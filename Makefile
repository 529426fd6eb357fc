# The two commands of the README are `make demo` and `make test`; both run setup first. Only the tests
# start the Kubernetes test cluster, so only `make test` builds its binaries (setup-test).
SHELL := /bin/bash
PY := python-tracer/.venv/bin/python

.PHONY: setup setup-test build demo dev test lint test-python test-node bench clean

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test-cluster

build:
	@npx tsc -p tsconfig.json

demo: setup
	bin/stowage demo

dev: setup
	bin/stowage dev

lint:
	npx eslint .
	npx prettier --check .
	npx tsc -p k6/tsconfig.json
	cd python-tracer && .venv/bin/ruff check . && .venv/bin/ruff format --check .

test-python:
	cd python-tracer && .venv/bin/python -m pytest

test-node:
	npx mocha

test: setup-test lint test-python test-node

# Benchmarks print figures; they are never pass/fail tests.
bench: setup
	@test/bench/packing/run.sh
	@node dist/test/bench/orchestration/bench.js 3000
	@test/bench/serving/run.sh
	@test/bench/api/run.sh
	@test/bench/capacity/run.sh
	@test/bench/scale/run.sh

clean:
	rm -rf dist
