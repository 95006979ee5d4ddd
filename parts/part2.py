"""Forward and backward passes are the hand-written layer pairs of common/nn; the report matches
Part 1's (both classes' F1, balanced accuracy, ROC-AUC, the majority baseline, threshold 0.5
and the threshold chosen on validation), so the two read side by side.

Recipes (--recipe; --report ID reruns a report's own, from student_reports/ID.toml):
  tuned       the default: the assignment's architecture (3072-64-1); optimizer, lr, L2, mirrored copies and
              the cosine decay chosen by validation ROC-AUC (momentum 0.05, 50 epochs)
"""
from __future__ import annotations

import sys

from common.cli import chosen_recipe, config_from_args, mlp_part_parser, run_main, run_options, with_variant
from common.experiments.mlp import MLPConfig, run_mlp_part
from common.report.drawing import finish_run

PART = "part2"  # this file's name: the make target and reports/part2/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 2: one hidden layer",
    "summary": "3072 -> 64 sigmoid -> 1, airplane vs the rest (numpy)",
    "statements": [["binary"], ["hidden_layer", "part1"]],  # analysis.md: report/analysis.py STATEMENTS
    "figures": ["run", "binary"],
}
RECIPES = {
    # Chosen by validation ROC-AUC; the test set played no part in the choice.
    "tuned": MLPConfig(task="binary", hidden=(64,), activation="sigmoid", init="xavier", optimizer="momentum", lr=0.05,
                       batch_size=64, epochs=50, patience=10, schedule="cosine", l2=1e-3, hflip=True),
}
# What a report's [part2.recipe] table overrides: this part's network, every other setting at MLPConfig's default.
REPORT_BASE = MLPConfig(task="binary", hidden=(64,), activation="sigmoid")


def build_parser():
    return mlp_part_parser(PART, __doc__, RECIPES, binary=True)


def main(args) -> int:
    _, recipe = chosen_recipe(args, PART, RECIPES, REPORT_BASE)
    config = config_from_args(args, with_variant(args, PART, recipe))
    run = run_options(args, PART, config=config, recipe_config=recipe)
    return finish_run(PART, run, run_mlp_part(PART, config, run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
