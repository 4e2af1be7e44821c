# The two commands of the README: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
CHROMIUM := /usr/bin/chromium
# The grader's sandbox is built by Debian's bubblewrap and runs student code under Debian's interpreter of the
# venv's Python version (the venv's own interpreter may live where the sandbox cannot reach it).
PY_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
SANDBOX_PYTHON := /usr/bin/python$(PY_VERSION)
BWRAP := /usr/bin/bwrap
# nbgrader and nbdev shell out to tools of the venv (alembic, jupyter): its bin/ comes first.
export PATH := $(BIN):$(PATH)
# No __pycache__ folders in the source tree or the student kit.
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install export release kit demo test test-fast lint bench bench-training clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "TinyTorch needs Python 3.11 or newer; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Regenerate tinytorch/ from the notebooks in nbs/.
export: install
	nbdev-export

# Regenerate the student notebooks in modules/ (nbgrader generate_assignment for every module).
release: install
	python -m tinytorch_course release

# Build the folder and zip a student receives: build/tinytorch-student/.
kit: install
	python -m tinytorch_course kit

# The main job end to end on embedded defaults: export the package, run every module notebook,
# release the student notebooks, build the student kit, and grade a sample class into a SQLite gradebook.
demo: export $(SANDBOX_PYTHON) $(BWRAP)
	python -m tinytorch_course demo
	python -m tinytorch_course release
	python -m tinytorch_course kit
	python -m autograde sample-class

test: install $(CHROMIUM) $(SANDBOX_PYTHON) $(BWRAP)
	ruff check .
	python -m pytest

# The loop while editing, under a minute: everything but the browser, the exchange cycle, the fresh student venv
# and the slow whole-class gradings (pytest markers in pyproject.toml). The sandbox still runs: as root, on Linux.
test-fast: install $(SANDBOX_PYTHON)
	ruff check .
	python -m pytest -m "not (slow or browser or exchange or kit)"

# The browser test drives Debian's chromium through Playwright; install it where absent.
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium || \
		(apt-get update && apt-get install -y --no-install-recommends chromium)

# Speed against raw NumPy and PyTorch CPU: prints ratios, writes benchmarks/results/. torch is a
# benchmark-only extra; `make bench ARGS=--quick` for a 15-second smoke run.
bench: $(VENV)/.bench-installed
	python benchmarks/bench_layers.py $(ARGS)

# Training the digits MLP with Adam at batch 32 against PyTorch CPU; `make bench-training ARGS=--quick`: 20 seconds.
bench-training: $(VENV)/.bench-installed
	python benchmarks/bench_training.py $(ARGS)

$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[bench]'
	touch $@

$(SANDBOX_PYTHON):
	apt-get install -y --no-install-recommends python$(PY_VERSION) || \
		(apt-get update && apt-get install -y --no-install-recommends python$(PY_VERSION))

$(BWRAP):
	apt-get install -y --no-install-recommends bubblewrap || \
		(apt-get update && apt-get install -y --no-install-recommends bubblewrap)

lint: install
	ruff check .
	ruff format --check tinytorch_course autograde tests benchmarks

clean:
	rm -rf build .pytest_cache
