# The two commands that matter: `make demo` runs the main job, `make test` runs every check.
# Both build .venv themselves from nothing but Python 3.11+ and the package registries.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS_STAMP := $(VENV)/.docs-installed

.PHONY: demo test lint typecheck unit docs wheel-check fuzz bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required" if sys.version_info < (3, 11) else 0)'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m aliexpress_onboarding demo

test: lint typecheck unit docs wheel-check

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy --strict src

unit: $(STAMP)
	sh scripts/ensure-postgres.sh
	$(BIN)/pytest

$(DOCS_STAMP): $(STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --group docs
	touch $(DOCS_STAMP)

# The docs site (Sphinx + MyST + furo), warnings as errors. -E reads every page afresh, so the
# checks that run after reading (every public name documented, every state machine drawn) always run.
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -E -q -W --keep-going -b html docs docs/_build/html

# Build the sdist and the wheel, check them (twine, LICENSE), install the wheel into a
# throw-away venv under build/ and run the CLI from it (a few seconds once pip's cache is warm).
wheel-check: $(STAMP)
	$(BIN)/python scripts/check_wheel.py

# Long fuzzing (100 000 examples per target); `make test` runs the same tests on 50.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/pytest tests/test_fuzz.py -q -p no:cacheprovider --hypothesis-show-statistics

# The speed goals, each a ratio measured in one run, against the peers (transitions,
# python-statemachine) and hand-written floors, in a venv of their own.
BENCH := .venv-bench
$(BENCH)/.installed: pyproject.toml benchmarks/requirements.txt
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet -e . -r benchmarks/requirements.txt
	touch $(BENCH)/.installed

# Prints every goal with its ratio and met/missed, writes benchmarks/RESULTS.md (~2 min).
# `make test` runs the same goals quickly (tests/test_bench_smoke.py: fails only far past one).
bench: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .venv-bench build dist docs/_build .mypy_cache .pytest_cache .ruff_cache .hypothesis
