# The suite's interface. On a fresh machine `make part1` or `make test` is all it takes: every target
# depends on the virtual environment, which `make setup` builds once from requirements.txt.
# Pass a part's flags through ARGS, e.g.  make part1 ARGS="--recipe assignment"  (python -m parts.part1 --help)

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
CKPT   ?= reports/part5/improved/improved_cnn.pt
PARTS  := part1 part2 part3 part4 part5

.DEFAULT_GOAL := help
.PHONY: help setup $(PARTS) part5-eval ablation eda all reproduce report test lint bench clean

help: ## list the targets
	@echo "The parts (each writes reports/<part>/; ARGS=\"--recipe assignment\" runs the assignment's own recipe):"
	@$(PYTHON) -m common.catalog
	@echo "Everything else:"
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned requirements

$(PARTS): $(STAMP)
	$(PY) -m parts.$@ $(ARGS)

part5-eval: $(STAMP) ## Part 5's report again from a checkpoint, without training: make part5-eval CKPT=path
	$(PY) -m parts.part5 --eval $(CKPT) $(ARGS)

ablation: $(STAMP) ## ImprovedCNN without batch norm, dropout or its third block -> reports/part5/ablation/
	$(PY) -m scripts.ablation $(ARGS)

eda: $(STAMP) ## the data before any model: counts, samples, class means, pixel values -> reports/eda/
	$(PY) -m scripts.eda $(ARGS)

all: $(STAMP) ## make eda, parts 1-5 with this suite's recipes, then the report (complete parts are kept; ARGS=--force)
	$(PY) -m scripts.run_all $(ARGS)

reproduce: $(STAMP) ## the assignment's own recipes into reports/assignment/ (Part 5 only on a GPU), then the report
	$(PY) -m scripts.run_all --recipe assignment $(ARGS)

report: $(STAMP) ## build reports/index.md and index.html from the saved runs (ARGS=--update-readme: the README too)
	$(PY) -m scripts.build_report $(ARGS)

test: $(STAMP) ## run the test suite
	$(PY) -m pytest -q $(ARGS)

lint: $(STAMP) ## ruff (rules in ruff.toml)
	$(PY) -m ruff check .

bench: $(STAMP) ## time the numpy and PyTorch hot loops; writes reports/bench.json and bench.md
	$(PY) -m scripts.bench $(ARGS)

clean: ## remove generated reports (keeps data/ and .venv)
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
