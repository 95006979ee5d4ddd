"""The neuron is the one-layer case of the shared MLP (common/nn): logits = x @ w + b, trained with
binary cross-entropy by mini-batch gradient descent, every gradient written by hand.

Recipes (--recipe; --report ID reruns a report's own, from student_reports/ID.toml):
  tuned       the default: report 000's SGD, lr 0.01 and batch 64, plus what validation chose
              (mirrored training copies, L2 0.01, a 20-epoch cosine decay); validation picks the
              epoch and the decision threshold; the test set is evaluated once
"""
from __future__ import annotations

import sys

from common.cli import chosen_recipe, config_from_args, mlp_part_parser, run_main, run_options, with_variant
from common.experiments.mlp import MLPConfig, run_mlp_part
from common.report.drawing import finish_run

PART = "part1"  # this file's name: the make target and reports/part1/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 1: a single logistic neuron",
    "summary": "one sigmoid neuron, 3072 -> 1, airplane vs the rest (numpy)",
    "statements": [["binary"]],  # analysis.md: report/analysis.py STATEMENTS
    "figures": ["run", "binary",
                ["weights.png", "The neuron's 3072 weights as an image, per colour channel: red pixels speak for "
                                "airplane, blue against."]],
}
RECIPES = {
    # Chosen by validation ROC-AUC; the test set played no part in the choice.
    "tuned": MLPConfig(task="binary", hidden=(), optimizer="sgd", lr=0.01, batch_size=64, epochs=20, patience=10,
                       schedule="cosine", l2=0.01, hflip=True),
}
# What a report's [part1.recipe] table overrides: this part's network, every other setting at MLPConfig's default.
REPORT_BASE = MLPConfig(task="binary", hidden=())


def build_parser():
    return mlp_part_parser(PART, __doc__, RECIPES, binary=True)


def main(args) -> int:
    _, recipe = chosen_recipe(args, PART, RECIPES, REPORT_BASE)
    config = config_from_args(args, with_variant(args, PART, recipe))
    run = run_options(args, PART, config=config, recipe_config=recipe)
    return finish_run(PART, run, run_mlp_part(PART, config, run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
