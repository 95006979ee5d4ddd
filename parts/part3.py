"""Softmax and cross-entropy are fused (gradient p - y, log-sum-exp stable). The report has a
per-class precision/recall/F1 table and a 10 x 10 confusion matrix with class names.

Recipes (--recipe; --report ID reruns a report's own, from student_reports/ID.toml):
  tuned       the default: the assignment's architecture; optimizer, lr, L2, mirrored copies and
              the cosine decay chosen by validation accuracy (momentum 0.03, 30 epochs)
"""
from __future__ import annotations

import sys

from common.cli import chosen_recipe, config_from_args, mlp_part_parser, run_main, run_options, with_variant
from common.experiments.mlp import MLPConfig, run_mlp_part
from common.report.drawing import finish_run

PART = "part3"  # this file's name: the make target and reports/part3/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 3: multiclass softmax network",
    "summary": "3072 -> 64 sigmoid -> 10 softmax, all ten classes (numpy)",
    "statements": [["ten_classes", "part2"]],  # analysis.md: report/analysis.py STATEMENTS
    "figures": ["run",
                ["weights.png", "What the 64 hidden units look for (their input weights as images), and each class's "
                                "effective template through them."],
                ["confusion_vs_report.png", "A report's rerun only: its test confusion matrix minus the one the report "
                                            "printed, cell by cell; the right column counts the images that moved in "
                                            "each true class."],
                {"file": "per_class_scores.png", "draw": "per_class_scores",
                 "caption": "Precision, recall and F1 of every class: a class with high precision but low recall is "
                            "one the network rarely calls, and rightly when it does."}],
}
RECIPES = {
    # Chosen by validation accuracy; the test set played no part in the choice.
    "tuned": MLPConfig(task="multiclass", hidden=(64,), activation="sigmoid", init="xavier", optimizer="momentum",
                       lr=0.03, batch_size=64, epochs=30, patience=10, schedule="cosine", l2=1e-3, hflip=True),
}
# What a report's [part3.recipe] table overrides: this part's network, every other setting at MLPConfig's default.
REPORT_BASE = MLPConfig(task="multiclass", hidden=(64,), activation="sigmoid")


def build_parser():
    return mlp_part_parser(PART, __doc__, RECIPES, binary=False)


def main(args) -> int:
    _, recipe = chosen_recipe(args, PART, RECIPES, REPORT_BASE)
    config = config_from_args(args, with_variant(args, PART, recipe))
    run = run_options(args, PART, config=config, recipe_config=recipe)
    return finish_run(PART, run, run_mlp_part(PART, config, run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
