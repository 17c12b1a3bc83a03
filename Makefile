# Every target installs what it needs into .venv, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint unit integration reference bench clean deploy destroy status logs redrive chromium chaos

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("bucketsync needs Python 3.11+") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-local: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[local]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed-local

demo: $(VENV)/.installed-local
	$(BIN)/bucketsync local demo

# checkov pins packages (packaging < 24) that the test tools cannot share: its own venv.
CHECKOV := .venv-checkov
$(CHECKOV)/bin/checkov: | $(BIN)/python
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install -q --upgrade pip
	$(CHECKOV)/bin/pip install -q 'checkov>=3.2'

lint: $(VENV)/.installed-dev $(CHECKOV)/bin/checkov
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src tests bench
	$(BIN)/cfn-lint deploy/cloudformation/*.json
	$(CHECKOV)/bin/checkov -d deploy --skip-download --quiet --compact

# The status page's browser test drives Debian's chromium through Playwright. Installed where
# it can be (root with apt-get); anywhere else this does nothing, never fails, and the test
# says it was skipped and why.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the status page's browser test"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium; } >/dev/null 2>&1 \
	      || echo "chromium could not be installed: the browser test will be skipped"; \
	  else \
	    echo "no chromium (and no root apt-get to install it): the browser test will be skipped"; \
	  fi; \
	}

test: lint chromium
	$(BIN)/pytest -q -p no:cacheprovider

# The full chaos configuration (docs/chaos.md): 10,000 operations while workers are killed,
# AWS calls fail and the mirror's disk fills; the small one runs in `make test`.
# CHAOS_SEED=<n> replays a run's history; CHAOS_OPS=<n> changes its length.
chaos: $(VENV)/.installed-dev
	CHAOS_FULL=1 $(BIN)/pytest -q -p no:cacheprovider -m chaos -k full_configuration tests/chaos

unit: $(VENV)/.installed-dev
	$(BIN)/pytest -q -p no:cacheprovider tests/unit

# Every test that needs the emulator: tests/integration, tests/chaos and tests/sinks, marked
# `integration` at collection by tests/conftest.py.
integration: $(VENV)/.installed-dev chromium
	$(BIN)/pytest -q -p no:cacheprovider -m integration

# The settings table in README.md and the CLI reference in docs/cli.md, from the code
# (tests/unit/test_reference.py fails while they differ).
reference: $(VENV)/.installed-dev
	$(BIN)/python -m bucketsync.cli.reference

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

# Operating a deployment (docs/deploy.md): make deploy BUCKET=my-bucket [ARGS="--dry-run"]
deploy destroy status logs: $(VENV)/.installed-local
	@test -n "$(BUCKET)" || { echo "usage: make $@ BUCKET=my-bucket [ARGS=...]"; exit 2; }
	$(BIN)/bucketsync $@ $(BUCKET) $(ARGS)

redrive: $(VENV)/.installed-local
	@test -n "$(BUCKET)" || { echo "usage: make $@ BUCKET=my-bucket [ARGS=--dry-run]"; exit 2; }
	$(BIN)/bucketsync dlq redrive $(BUCKET) $(ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV) .mypy_cache .ruff_cache .pytest_cache
