# The README's two quick-start commands. Each sets up what it needs in ./.venv first.
#   make sample   install zoo with PyTorch, then draw 64 glyphs from glyphnet-64 (offline)
#   make test     install zoo with every extra and the test tools, and Debian's Chromium for the browser
#                 tests when it is missing (apt-get, as root), then run the linters and the whole test suite
#   make lint     ruff and mypy alone (the first step of make test)
# Every pip call uses constraints.txt, which pins torch to the CPU build that the machines carry.

PYTHON ?= python3
VENV   := .venv
PIP    := $(VENV)/bin/python -m pip install -q -c constraints.txt

.PHONY: sample lint test browser bench clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.sample-deps: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) -e '.[torch]'
	touch $@

$(VENV)/.test-deps: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) -e '.[all,test,bench]'
	touch $@ $(VENV)/.sample-deps

sample: $(VENV)/.sample-deps
	$(VENV)/bin/zoo sample glyphnet-64 -n 64 -o glyphnet-64.png

# The browser tests drive Debian's Chromium (never Playwright's own download): found at
# $$ZOO_TEST_CHROMIUM, /usr/bin/chromium or on PATH, else installed with apt-get (root only;
# non-interactive, so CI without a stdin works too), else a one-line hint and exit 2.
browser:
	@if [ -n "$$ZOO_TEST_CHROMIUM" ] && [ -x "$$ZOO_TEST_CHROMIUM" ]; then :; \
	elif [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "make: installing Debian's chromium for the browser tests (apt-get)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium </dev/null >/dev/null; \
	else echo "make: the browser tests need Chromium: run 'sudo apt-get install chromium' (or set ZOO_TEST_CHROMIUM)" >&2; \
	  exit 2; fi

# ruff (lint + import order) and mypy, configured in pyproject.toml; `make test` runs them first.
lint: $(VENV)/.test-deps
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy

test: lint browser
	$(VENV)/bin/python -m pytest -q

# Each benchmark rewrites its own section of docs/benchmarks.md (takes several minutes in all).
bench: $(VENV)/.test-deps
	$(VENV)/bin/python benchmarks/bench_startup.py
	$(VENV)/bin/python benchmarks/bench_random_cnn_grid.py
	$(VENV)/bin/python benchmarks/bench_hub.py --write
	$(VENV)/bin/python benchmarks/bench_filterviz.py --recipes seed,default --markdown docs/benchmarks.md
	$(VENV)/bin/python benchmarks/bench_glyphnet.py --steps 1000 --append docs/benchmarks.md
	$(VENV)/bin/python benchmarks/bench_vae.py -n 6400 -k 6
	$(VENV)/bin/python benchmarks/bench_golden.py --write
	$(VENV)/bin/python benchmarks/bench_devices.py
	$(VENV)/bin/python benchmarks/bench_distributed.py

clean:
	rm -rf $(VENV) build dist
