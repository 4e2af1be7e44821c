# The two commands of the README: `make demo` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
# nbgrader and nbdev shell out to tools of the venv (alembic, jupyter): its bin/ comes first.
export PATH := $(BIN):$(PATH)
# Keep tools from writing into the user's home during tests and demos.
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install export demo test lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "TinyTorch needs Python 3.11 or newer; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Regenerate tinytorch/ from the notebooks in nbs/.
export: install
	nbdev-export

# The main job end to end on embedded defaults: export, run every module notebook, summarise.
demo: export
	python -m tinytorch_course demo

test: install
	ruff check .
	python -m pytest

lint: install
	ruff check .
	ruff format --check tinytorch_course tests benchmarks

clean:
	rm -rf build .pytest_cache
