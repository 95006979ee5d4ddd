"""Forward and backward passes are the hand-written layer pairs of common/nn; the report matches
Part 1's (both classes' F1, balanced accuracy, ROC-AUC, the majority baseline, threshold 0.5
and the threshold chosen on validation), so the two read side by side.

Recipes (--recipe):
  tuned       the default: the assignment's architecture; optimizer, lr, L2, mirrored copies and
              the cosine decay chosen by validation ROC-AUC (momentum 0.05, 50 epochs)
  assignment  the assignment's own recipe (see common/experiments/mlp.py, ASSIGNMENT_RECIPE):
              1000 epochs of plain SGD lr 0.01 on all 50,000 images, pixels / 255, threshold 0.5
"""
from __future__ import annotations

import sys
from dataclasses import replace

from common.cli import config_from_args, mlp_part_parser, run_main, run_options
from common.experiments.mlp import ASSIGNMENT_RECIPE, MLPConfig, run_mlp_part
from common.report.drawing import finish_run

PART = "part2"  # this file's name: the make target and reports/part2/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 2: one hidden layer",
    "summary": "3072 -> 64 sigmoid -> 1, airplane vs the rest (numpy)",
    "figures": ["run", "binary"],
}
RECIPES = {
    # Chosen by validation ROC-AUC; the test set played no part in the choice.
    "tuned": MLPConfig(task="binary", hidden=(64,), activation="sigmoid", init="xavier", optimizer="momentum", lr=0.05,
                       batch_size=64, epochs=50, patience=10, schedule="cosine", l2=1e-3, hflip=True),
    "assignment": replace(ASSIGNMENT_RECIPE, task="binary", hidden=(64,), activation="sigmoid"),
}


def build_parser():
    return mlp_part_parser(PART, __doc__, RECIPES, binary=True)


def main(args) -> int:
    run = run_options(args, PART, recipe_config=RECIPES[args.recipe])
    return finish_run(PART, run, run_mlp_part(PART, config_from_args(args, RECIPES[args.recipe]), run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
