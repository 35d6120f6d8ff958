# The two commands of the set-up promise: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run ctl test lint format docs clean bench bench-parts bench-worker bench-ab image-tools browser-deps promtool pgbouncer spreadsheet chart-readme

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m devstack.run

# signupctl against the stack `make run` started (var/dev.env): make ctl ARGS='doctor'
ctl: $(STAMP)
	@$(PY) -m devstack.ctl $(ARGS)

# The suite runs in TEST_WORKERS processes (pytest-xdist), each with its own servers and
# session worker; an idle process takes tests queued for a busy one (worksteal), so a drill
# does not hold up the tests behind it. TEST_WORKERS=0 runs it in this one process.
# PYTHONDONTWRITEBYTECODE, if the environment sets it, is cleared for the run: the suite starts
# several hundred Python processes (signupctl, workers, APIs) and each would compile our
# modules again from source, and each test process rewrite every test module's asserts.
TEST_WORKERS ?= 4
test: $(STAMP) browser-deps promtool pgbouncer
	PYTHONDONTWRITEBYTECODE= $(PY) -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

# The chart's and the image's test tools: the deploy-test extra (heavy, so its own group) and
# the Debian packages that build the image (skipped with SKIP_IMAGE=1 outside CI).
DEPLOY_STAMP := $(VENV)/.deploy-test
$(DEPLOY_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,deploy-test]'
	touch $@

image-tools:
	.ci/image-tools

test: $(DEPLOY_STAMP) image-tools

# The browser tests (tests/e2e) drive Debian's chromium, installed here when it is missing
# (as root, with apt); never `playwright install`, which downloads its own browser. Where it
# cannot be installed the browser tests skip with one line saying so (and fail when CI is set).
browser-deps:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$(SKIP_BROWSER)" = 1 ] && [ -z "$(CI)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -q && apt-get install -y -q --no-install-recommends \
	    -o DPkg::Lock::Timeout=600 chromium) >/dev/null || echo "could not install chromium"; \
	else echo "chromium is missing and needs root and apt-get to install"; fi

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

# The chart README's values table, from values.yaml's comments (a test fails when it drifts).
chart-readme: $(STAMP)
	$(PY) -m devstack.chart_readme

# PgBouncer (Debian's pgbouncer, 1.18) for the transaction-pooling tests (tests/integration/
# test_pgbouncer.py), installed when missing as root with apt, its system service kept from
# starting as promtool's is (the tests start their own in the foreground). Elsewhere one line
# says so and those tests skip (they fail when CI is set).
pgbouncer:
	@if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing pgbouncer (Debian package)..."; \
	    held=; if [ ! -e /usr/sbin/policy-rc.d ]; then \
	      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; held=1; fi; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      -o DPkg::Lock::Timeout=600 --no-install-recommends pgbouncer >/dev/null; rc=$$?; \
	    if [ -n "$$held" ]; then rm -f /usr/sbin/policy-rc.d; fi; exit $$rc; \
	  else echo "pgbouncer is missing and cannot be installed here (needs root and apt-get)"; fi; \
	fi

# The export test opens a CSV export in LibreOffice Calc headless (Debian's libreoffice-calc,
# about 45 MB to download), installed here when missing, as root with apt; skipped with
# SKIP_SPREADSHEET=1 outside CI. Elsewhere the test skips with one line (fails when CI is set).
spreadsheet:
	@if command -v soffice >/dev/null 2>&1; then :; \
	elif [ "$(SKIP_SPREADSHEET)" = 1 ] && [ -z "$(CI)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends -o DPkg::Lock::Timeout=600 libreoffice-calc) >/dev/null \
	    || echo "could not install libreoffice-calc"; \
	else echo "libreoffice-calc is missing and needs root and apt-get to install"; fi

test: spreadsheet

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Pages generated from the code: docs/configuration.md from the settings model (a unit test
# fails when it is stale).
docs: $(STAMP)
	$(PY) -m signup_core.settings.docs

# Also this checkout's PostgreSQL data outside it (as root); docs/development.md says what stays.
clean:
	$(PYTHON) -m devstack.clean
	rm -rf $(VENV) var

bench: $(STAMP)
	$(PY) -m bench.run

bench-parts: $(STAMP)
	$(PY) -m bench.parts

bench-worker: $(STAMP)
	$(PY) -m bench.worker

# This checkout's API against another commit's, in the same rounds: make bench-ab AGAINST=HEAD~1
bench-ab: $(STAMP)
	AGAINST=$(AGAINST) $(PY) -m bench.ab
