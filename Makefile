# radsurv: the two README commands (`make paper`, `make test`) and the stage targets.
# Every target creates the virtual environment itself from requirements.lock.
SHELL := /bin/bash
# Text files are UTF-8 whatever the locale of the machine.
export PYTHONUTF8 := 1
PYTHON ?= python3.11
VENV ?= .venv
PROFILE ?= paper
BIN := $(VENV)/bin
STAMP := $(VENV)/.radsurv-installed

.PHONY: paper quick test calibration setup run stage render validate bench clean lock help lab

help:
	@echo "make paper            build the paper (profile $(PROFILE)) from nothing: environment, pipeline, manuscript"
	@echo "make test             set up the environment and run the test suite"
	@echo "make calibration      the twin's segmentation against public benchmarks (U-Nets trained as for the paper)"
	@echo "make quick            the small profile (minutes), same code"
	@echo "make run PROFILE=null any profile in params/"
	@echo "make stage STAGE=00_cohort PROFILE=quick   one stage (and what it needs)"
	@echo "make validate MANIFEST=path/to/manifest.csv"
	@echo "make bench            benchmarks (print speed ratios)"
	@echo "make lab              JupyterLab on notebooks/, the quick build made first (LAB_PROFILE=paper: the paper's)"

setup: $(STAMP)

# Re-created when the lock or the package metadata change.
$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; radsurv needs Python 3.11 (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

paper: $(STAMP)
	$(BIN)/radsurv run --profile $(PROFILE)

quick:
	$(MAKE) paper PROFILE=quick

run: paper

stage: $(STAMP)
	$(BIN)/radsurv run --profile $(PROFILE) --stage $(STAGE) --no-render

render: $(STAMP)
	$(BIN)/radsurv render --profile $(PROFILE)

# Reviewers and teachers: the notebooks, run by hand, read build/<profile>/ and write to
# build/<profile>/explore/<stage>/ (README, "Re-run or explore a notebook").
# As root (a container) Jupyter wants --allow-root; LAB_ARGS passes more (--port, --no-browser).
LAB_PROFILE ?= quick
lab: $(STAMP)
	$(BIN)/radsurv run --profile $(LAB_PROFILE) --no-render
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS) \
		$(if $(filter 0,$(shell id -u)),--allow-root)

validate: $(STAMP)
	$(BIN)/radsurv validate $(MANIFEST)

# The quick profile's end-to-end file (a quick build from nothing, then every notebook
# by hand: the suite's longest file) runs in a pytest of its own beside the rest of the
# suite, so that both of CI's two cores work: most unit tests, and a stage's kernel start,
# tables and figures, keep one core busy. Its log is printed when it ends (the rest's is live);
# the target fails if either fails. With PYTEST_ARGS, or TEST_BESIDE= (empty), one pytest
# runs as given (`make test PYTEST_ARGS=tests/stats`).
TEST_BESIDE ?= tests/e2e/test_quick_profile.py
ONE_PYTEST := $(if $(strip $(PYTEST_ARGS)),1,$(if $(strip $(TEST_BESIDE)),,1))
test: $(STAMP)
ifneq ($(ONE_PYTEST),1)
	@log=$$(mktemp); trap 'kill $$beside 2>/dev/null; rm -f "$$log"' EXIT; \
	$(BIN)/python -m pytest $(TEST_BESIDE) >"$$log" 2>&1 & beside=$$!; \
	$(BIN)/python -m pytest --ignore=$(TEST_BESIDE); rest=$$?; \
	wait $$beside; status=$$?; \
	echo; echo "==== $(TEST_BESIDE), run beside the rest (exit status $$status)"; cat "$$log"; \
	[ $$rest -eq 0 ] && [ $$status -eq 0 ]
else
	$(BIN)/python -m pytest $(PYTEST_ARGS)
endif

# Not part of `make test` (its U-Nets train as the paper's do, about 12 minutes); CI runs both.
calibration: $(STAMP)
	$(BIN)/python -m pytest -m calibration tests/calibration $(PYTEST_ARGS)

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Refresh the pins (run by a maintainer, then commit requirements.lock and environment.yml).
lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed -e 's/+cpu$$//' > requirements.lock.new
	@echo "review requirements.lock.new, then move it over requirements.lock"

clean:
	rm -rf build _manuscript _variables.yml tables
	find figures -mindepth 1 ! -name .gitkeep ! -name README.md -delete
