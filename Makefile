# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# Each creates the virtualenv and installs what it needs (and Debian's chromium when no
# browser is found), so nothing depends on something installed by hand.

VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench browser clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,ray]'
	touch $(STAMP)

browser:
	@bash ci/ensure-chromium.sh

demo: $(STAMP) browser
	$(VENV)/bin/voice-harness demo

test: $(STAMP) browser
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m pytest tests/bench -s -p no:cacheprovider -m bench

clean:
	rm -rf $(VENV) reports/*/ corpora/*/build
