# The suite's interface. On a fresh machine `make part1` or `make test` is all it takes:
# every target depends on the virtual environment, which `make setup` builds once.
# Pass hyperparameters through ARGS, e.g.  make part1 ARGS="--epochs 5 --lr 0.003"

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARGS   ?=
CKPT   ?= reports/part5/improved/improved_cnn.pt

.DEFAULT_GOAL := help
.PHONY: help setup part1 part2 part3 part4 part5 part5-eval all report test bench clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP) ## create .venv and install the pinned requirements

part1: $(STAMP) ## single logistic neuron, airplane vs rest (numpy)
	$(PY) -m parts.part1 $(ARGS)

part2: $(STAMP) ## 3072-64-1 sigmoid network, airplane vs rest (numpy)
	$(PY) -m parts.part2 $(ARGS)

part3: $(STAMP) ## 3072-64-10 softmax network, 10 classes (numpy)
	$(PY) -m parts.part3 $(ARGS)

part4: $(STAMP) ## activations x optimizers x initializations grid (numpy); ARGS=--quick for a short grid
	$(PY) -m parts.part4 $(ARGS)

part5: $(STAMP) ## SimpleCNN and ImprovedCNN (PyTorch): best profile on a GPU, quick on a CPU
	$(PY) -m parts.part5 $(ARGS)

part5-eval: $(STAMP) ## evaluate a saved checkpoint and redraw Part 5's figures: make part5-eval CKPT=path
	$(PY) -m parts.part5 --eval $(CKPT) $(ARGS)

all: $(STAMP) ## run parts 1-5, then the report, with a plan up front and a summary at the end
	$(PY) -m scripts.run_all $(ARGS)

report: $(STAMP) ## build reports/index.md and reports/index.html from the saved runs
	$(PY) -m scripts.build_report

test: $(STAMP) ## run the test suite
	$(PY) -m pytest -q $(ARGS)

bench: $(STAMP) ## time the numpy and PyTorch hot loops; writes reports/bench.json and bench.md
	$(PY) -m scripts.bench $(ARGS)

clean: ## remove generated reports (keeps data/ and .venv)
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +
