# The suite's interface. On a fresh machine `make part1` or `make test` is all it takes: every target
# depends on `make setup`, which checks PYTHON and builds the virtual environment once from requirements.txt,
# or says in one line why it cannot (scripts/setup_env.py). Another interpreter:  make part1 PYTHON=python3.11
# Pass a part's flags through ARGS, e.g.  make part1 ARGS="--report 000"  (python -m parts.part1 --help)
# A report to check is a file student_reports/<id>.toml (student_reports/README.md): make reproduce REPORT=<id>

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ARGS   ?=
CKPT   ?= reports/part5/improved/improved_cnn.pt
REPORT ?= 000
PARTS  := $(basename $(notdir $(wildcard parts/part*.py)))  # every parts/partN.py is a target

.DEFAULT_GOAL := help
.PHONY: help setup $(PARTS) part5-eval ablation eda all reproduce check-report report test lint bench clean

help: ## list the targets
	@echo "The parts (each writes reports/<part>/; ARGS=\"--report 000\" reruns report 000's recipe into reports/000/<part>/):"
	@$(PYTHON) -m common.catalog
	@echo "  ARGS=--estimate   what a part (or make all, make reproduce) would run and how long here, training nothing"
	@echo "  ARGS=--resume     continue an interrupted run from its checkpoint; ARGS=--no-figures: record only"
	@echo "Everything else:"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# scripts/setup_env.py runs on PYTHON itself (or, when that does not run, on python3 or python, to say so) and
# keeps .venv when its completed-install stamp matches, else checks PYTHON, the free space and builds it.
# PYTHON named on make's command line also rebuilds a .venv made with another Python version.
GOALS         = $(or $(MAKECMDGOALS),setup)
PY_SUPPORTED  = $(shell sed -n 's/^SUPPORTED = "\(.*\)"/\1/p' scripts/setup_env.py)
setup: ## check PYTHON, then build .venv from requirements.txt unless it is complete
	@for p in "$(PYTHON)" python3 python; do \
	  if "$$p" -c "" >/dev/null 2>&1; then \
	    exec "$$p" scripts/setup_env.py --python "$(PYTHON)" --venv "$(VENV)" --requirements requirements.txt \
	      --goal "$(GOALS)" $(if $(filter command line,$(origin PYTHON)),--explicit); \
	  fi; \
	done; \
	echo "error: no Python runs here (tried $(PYTHON), python3 and python); install CPython $(PY_SUPPORTED), then run make $(GOALS) PYTHON=/path/to/python3" >&2; \
	exit 2

$(PARTS): setup
	$(PY) -m parts.$@ $(ARGS)

part5-eval: setup ## Part 5's report again from a checkpoint, without training: make part5-eval CKPT=path
	$(PY) -m parts.part5 --eval $(CKPT) $(ARGS)

ablation: setup ## ImprovedCNN without batch norm, dropout or its third block -> reports/part5/ablation/
	$(PY) -m scripts.ablation $(ARGS)

eda: setup ## the data before any model: counts, samples, class means, pixel values -> reports/eda/
	$(PY) -m scripts.eda $(ARGS)

all: setup ## make eda, parts 1-5 with this suite's recipes, then the report (complete parts are kept; ARGS=--force)
	$(PY) -m scripts.run_all $(ARGS)

reproduce: setup ## a report's recipes (REPORT=000) into reports/000/, its verdicts, the page (ARGS=--cpu-ok: Part 5 too)
	$(PY) -m scripts.run_all --report $(REPORT) $(ARGS)

check-report: setup ## check a report file and say what it holds, without running: make check-report REPORT=001
	$(PY) -m scripts.run_all --report $(REPORT) --check

report: setup ## build reports/index.md and index.html from the saved runs (ARGS=--update-readme: the README too)
	$(PY) -m scripts.build_report $(ARGS)

test: setup ## run the test suite
	$(PY) -m pytest -q -n auto --dist worksteal $(ARGS)

lint: setup ## ruff (rules in ruff.toml) and the architecture's import contracts (.importlinter)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports --no-cache

bench: setup ## time the numpy and PyTorch hot loops; writes reports/bench.json and bench.md
	$(PY) -m scripts.bench $(ARGS)

clean: ## remove generated reports (keeps data/ and .venv)
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
