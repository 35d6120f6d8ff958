# The two commands of the set-up promise: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format clean bench bench-parts promtool

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devstack.run

test: $(STAMP) promtool
	$(PY) -m pytest $(PYTEST_ARGS)

# promtool (Debian's prometheus package, 2.42) checks and unit-tests deploy/prometheus/. Installed
# when missing, as root with apt; a temporary policy-rc.d keeps the package's server from
# starting. Elsewhere one line says so and the alert-rule tests skip (they fail when CI is set).
promtool:
	@if ! command -v promtool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)..."; \
	    held=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; held=1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends prometheus >/dev/null; rc=$$?; \
	    if [ -n "$$held" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$rc; \
	  else echo "promtool is missing and cannot be installed here (needs root and apt-get)"; fi; \
	fi

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Also this checkout's PostgreSQL data outside it (as root); the README says what stays.
clean:
	$(PYTHON) -m devstack.clean
	rm -rf $(VENV) var

bench: $(STAMP)
	$(PY) -m bench.run

bench-parts: $(STAMP)
	$(PY) -m bench.parts
