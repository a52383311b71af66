# PromptVault. `make dev` serves the worker locally; `make test` runs every
# test layer. Both install what they need first.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export WRANGLER_SEND_METRICS := false
export CLOUDFLARE_CF_FETCH_ENABLED := false

.PHONY: help install build build-worker build-sdk build-console test-console dev test lint fmt test-core test-wasm test-sdk test-e2e test-compat test-api deploy deploy-check bench fuzz clean

help:
	@echo "make dev    - build and serve the worker on http://127.0.0.1:\$${PORT:-8787} (local D1/KV/Queue)"
	@echo "make test   - fmt, clippy (native + wasm32), core tests, wasm tests under node, npm package tests, end-to-end tests, the official Langfuse clients, schemathesis"
	@echo "make build  - build the worker (worker/build), the npm package and the web console it serves"
	@echo "make build-sdk - build the npm package pvct (sdk-wasm/dist)"
	@echo "make build-console - build the web console (console/dist, served by the worker at /)"
	@echo "make bench  - hot-path load test (wrk) against /healthz; the npm SDK against Langfuse, GrowthBook and jsdiff; BENCH_SECONDS=60"
	@echo "make fuzz   - cargo-fuzz the template parser and every request-body parser; FUZZ_SECONDS=60 each"
	@echo "make deploy ENV=staging|production - create the D1/KV/Queue resources, apply schema.sql, set the admin secret, deploy"
	@echo "make deploy-check - wrangler deploy --dry-run; the bundle's size against Cloudflare's limit (in make test)"
	@echo "make fmt    - cargo fmt"

install:
	@scripts/install.sh

build: build-worker build-console

build-worker: install
	@scripts/build-worker.sh

build-sdk: install
	@scripts/build-sdk.sh

build-console: install
	@scripts/build-console.sh

dev:
	@scripts/dev.sh

lint: install
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --workspace --target wasm32-unknown-unknown -- -D warnings

test-core:
	cargo test --workspace --exclude pvct-worker

test-wasm: install
	cargo test --target wasm32-unknown-unknown -p pvct-sdk

test-e2e: build
	node --test --test-concurrency=1 tests/e2e/

test-sdk: build build-sdk
	@scripts/install-browser.sh
	node --test --test-concurrency=1 tests/sdk/

# The web console in Chromium against the worker as `make dev` serves it.
test-console: build
	@scripts/install-browser.sh
	node --test --test-concurrency=1 tests/console/

# The Python SDK (sdk-python) installed with pip into target/py-venv, against the worker in workerd.
.PHONY: test-python
test-python: build
	@scripts/test-python.sh

# The official Langfuse clients (npm @langfuse/client 5 and langfuse 3, PyPI
# langfuse 5 in target/compat-venv) against the Langfuse-compatible API.
test-compat: build
	@scripts/test-compat.sh

test-api: build
	tests/api-fuzz.sh

test: lint test-core test-wasm test-sdk test-python test-e2e test-compat test-console test-api deploy-check

# Cloudflare: make deploy ENV=staging|production (needs wrangler login).
deploy: install
	@scripts/deploy.sh $(ENV)

# What would be uploaded, bundled offline, and its size against the limit.
deploy-check: build
	@scripts/deploy.sh --check production

fmt:
	cargo fmt --all

BENCH_SECONDS ?= 60
bench: build build-sdk
	@command -v wrk >/dev/null || { echo "==> apt-get install wrk"; apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }; }
	@npm ci --prefix bench/peers --no-audit --no-fund --loglevel=error
	node bench/hot-path.mjs $(BENCH_SECONDS)
	node bench/sdk.mjs
	python3 bench/python_sdk.py
	node bench/telemetry.mjs
	node bench/scale.mjs
	node bench/live.mjs
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SECONDS)
	node bench/results.mjs

# cargo-fuzz on stable: RUSTC_BOOTSTRAP lets it pass libFuzzer's flags.
FUZZ_SECONDS ?= 60
fuzz:
	@[ "$$(cargo fuzz --version 2>/dev/null | awk '{print $$2}')" = "0.13.1" ] || cargo install cargo-fuzz --version 0.13.1 --locked
	cd fuzz && for t in template request_bodies; do \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run -O $$t -- -max_total_time=$(FUZZ_SECONDS) -max_len=4096 2>&1 | grep -E '^Done|SUMMARY|panicked' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; done

clean:
	cargo clean
	rm -rf worker/build .wrangler
