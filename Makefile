# skyhub — every target sets up what it needs itself. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
PY        := $(VENV)/bin/python
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
UV        := $(BIN)/uv
export PATH := $(CURDIR)/$(BIN):$(PATH)
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PIP_DISABLE_PIP_VERSION_CHECK := 1
TIER      := $(PY) scripts/tier.py
S         ?=
# Scenarios in the order `make molecule` runs them (cheapest first).
SCENARIOS ?= $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

.PHONY: help setup lock engine base-images demo demo-down lint unit molecule security integration image test bench load docs docs-check clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

setup: $(STAMP) ## make .venv with the pinned toolchain (fast when nothing changed)

# Only from the hashed lock (requirements.lock, `make lock`), with uv: pip installs uv itself (hash-checked,
# its entry of the lock), then uv makes the venv exactly the lock (sync) and adds skyhub and the hub plugin
# (editable, no deps: the controller uses the plugin's standard-library modules auth and settings).
# Downloads are cached by uv in its user cache (~/.cache/uv), shared by every clone on the machine.
$(STAMP): requirements.txt requirements.lock pyproject.toml plugin/pyproject.toml
	@python3 scripts/lock.py --check
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "skyhub: installing the locked toolchain into $(VENV)"
	@test -x $(UV) || { awk '/^uv==/{p=1} p{print} p&&!/\\$$/{exit}' requirements.lock > $(VENV)/uv.lock.txt \
	  && $(PY) -m pip install -q --no-deps --require-hashes -r $(VENV)/uv.lock.txt; }
	@UV_SYSTEM_CERTS=1 UV_PYTHON_DOWNLOADS=never $(UV) pip sync -q --python $(PY) --require-hashes requirements.lock
	@UV_PYTHON_DOWNLOADS=never $(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e .
	@UV_PYTHON_DOWNLOADS=never $(UV) pip install -q --python $(PY) --no-deps --no-build-isolation -e plugin
	@rm -f $(VENV)/.installed-* && touch $@

lock: ## regenerate the hashed lock files (requirements.lock, images/*/requirements.lock); LOCK_ARGS=--upgrade
	@test -x $(UV) || { test -x $(PY) || python3 -m venv $(VENV); $(PY) -m pip install -q "$$(grep -E '^uv==' requirements.txt)"; }
	@$(PY) scripts/lock.py $(LOCK_ARGS)

engine: setup ## ensure a Docker engine answers (installs/starts Debian's docker.io if needed)
	@$(BIN)/skyhub engine

base-images: engine ## build the local Debian 12 base images (cached by content key)
	@$(BIN)/skyhub base-image

demo: engine ## build the image with Packer (cached) and boot it as a local instance; prints the URL
	@$(BIN)/skyhub host-deps demo
	@$(BIN)/skyhub demo up

demo-down: setup ## remove the demo instance and its volumes (images stay cached)
	@$(BIN)/skyhub demo down

lint: setup ## yamllint, ansible-lint (production profile), ruff, syntax checks, generated docs are fresh
	@$(TIER) lint -- bash scripts/lint.sh

unit: setup ## pytest unit tests (no Docker needed)
	@$(TIER) unit -- $(BIN)/pytest -q tests/unit

molecule: base-images ## all Molecule scenarios; `make molecule S=docker` runs one
	@$(TIER) molecule$(if $(S),-$(S)) -- bash scripts/molecule.sh $(or $(S),$(SCENARIOS))

security: base-images ## attacks by signed-in users through the hub (tests/security) on the appliance host
	@$(TIER) security -- bash scripts/security.sh

integration: engine ## integration tests against real services (moto server, Docker, s3fs)
	@$(BIN)/skyhub host-deps integration
	@$(TIER) integration -- $(BIN)/pytest -q tests/integration --ignore=tests/integration/image

image: base-images ## the image Packer builds from site.yml (as make demo): boot, appliance checks, browser
	@$(BIN)/skyhub host-deps image
	@$(TIER) image -- $(BIN)/pytest -q -s tests/integration/image

# scripts/test.sh: each tier runs and the run fails if any failed; the molecule tier keeps its converged
# appliance host (SKYHUB_KEEP_APPLIANCE=1) for the security tier, which attacks it and then destroys it (one
# converge serves both). SKYHUB_TEST_LANES=1 runs the Docker tiers as two lanes at once (docs/testing.md).
test: setup ## everything CI runs: lint, unit, molecule, security, integration, image (each runs; fails if any failed)
	@bash scripts/test.sh

bench: base-images ## measure the appliance (converge, spawn, memory, dataset reads, image boot, demo); build/bench.json
	@rm -f build/bench.json
	@SKYHUB_HOST_IMAGE=$$($(BIN)/skyhub base-image host --print-ref) \
	  SKYHUB_PYTHON_IMAGE=$$($(BIN)/skyhub base-image python --print-ref) $(PY) scripts/bench_converge.py
	@$(PY) scripts/bench.py || { $(BIN)/molecule destroy -s appliance; exit 1; }
	@$(BIN)/molecule destroy -s appliance
	@$(BIN)/skyhub host-deps integration
	@$(PY) scripts/bench_dataset.py
	@$(PY) scripts/bench_image.py

# LOAD_ARGS: e.g. --steps 2,4,8 --idle 10, or --instance NAME to use a running instance (scripts/load.py --help)
load: base-images ## simulated users ramped in steps on a booted image: capacity of this host; build/load.json, build/load.png
	@$(BIN)/skyhub host-deps demo
	@$(PY) scripts/load.py $(LOAD_ARGS)

docs: setup ## regenerate docs/variables.md from roles/*/meta/argument_specs.yml
	@$(PY) scripts/gen_docs.py

docs-check: setup ## fail if docs/variables.md is stale
	@$(PY) scripts/gen_docs.py --check

clean: ## remove build outputs (not the venv, not cached images)
	rm -rf build
