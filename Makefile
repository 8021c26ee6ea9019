# fboost: one command per job. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0
# Keep the suite to the machine's two cores; torch and LightGBM otherwise oversubscribe under xdist.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
PYTEST_ARGS ?= -n 2

.PHONY: install test lint bench demo clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check fboost tests bench
	$(VENV)/bin/ruff format --check fboost tests bench
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m fboost.demo --output results/demo

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache results/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
