"""Every combination runs on Part 3's network (3072-64-10), so every scenario of a report is
in the grid; common/experiments/grid.py says how the comparison is kept fair.

Recipes (--recipe; --report ID reruns a report's own, from student_reports/ID.toml, e.g. report
000's four scenarios, each for 1000 epochs, nothing chosen):
  tuned       the default: the full grid, a learning rate swept per optimizer and activation on
              validation, 20 epochs with a cosine decay, L2 and early stopping for every run,
              ranked by validation accuracy; the top three rerun over three seeds
--quick cuts either to 10,000 training images, 8 epochs and a 2-epoch sweep.
"""
from __future__ import annotations

import os
import sys
from dataclasses import fields, replace

from common.cli import (
    add_mlp_arguments,
    add_recipe_argument,
    add_run_arguments,
    chosen_recipe,
    config_from_args,
    nonnegative_int,
    part_parser,
    positive_int,
    recipe_values,
    refuse_inert_flags,
    run_main,
    run_options,
    with_variant,
)
from common.experiments import grid
from common.experiments.grid import GridConfig, run_grid_part
from common.experiments.mlp import MLPConfig
from common.report.drawing import finish_run

PART = "part4"  # this file's name: the make target and reports/part4/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 4: activations, optimizers, initializations",
    "summary": "{sigmoid, ReLU, tanh} x {SGD, Momentum, Adam} x {small, He, Xavier} on Part 3's network (numpy)",
    "statements": [["comparison"]],  # analysis.md: report/analysis.py STATEMENTS
    "figures": [
        "run",
        ["grid_heatmap.png", "Validation accuracy of every combination, one panel per initialization, one colour "
                             "scale: where the bright cells cluster is what matters."],
        ["lr_sweep.png", "What each tried learning rate did: too low learns slowly, too high is unstable; the "
                         "ringed point was chosen."],
        ["curves_by_optimizer.png", "Validation curves of each optimizer's best configuration."],
        ["curves_by_activation.png", "Validation curves of each activation's best configuration."],
        ["curves_by_init.png", "Validation curves of each initialization's best configuration."],
        ["scenario_curves.png", "A report's fixed scenarios: training loss and test accuracy per epoch (the test "
                                "set is measured after each epoch for the plot; nothing is chosen on it)."],
        ["activation_stats.png", "How the hidden units behave after each epoch on 512 fixed training images: the "
                                 "share of dead units (no gradient for any of them; ReLU's failure) and of saturated "
                                 "sigmoid / tanh activations; the legend gives how often the training loss rose by "
                                 "over 1 %."],
        ["toy_boundaries.png", "Decision regions of a small network on 2-D toy sets: only a nonlinear activation "
                               "can bend the boundary; the linear control cannot."],
    ],
}
RECIPES = {
    "tuned": GridConfig(base=MLPConfig(task="multiclass", hidden=(64,), batch_size=64, epochs=20, patience=5,
                                       schedule="cosine", l2=1e-3, momentum=0.9), sweep_epochs=4, top=3, seeds=3),
}
# What a report's [part4.recipe] table overrides (its [part4.recipe.base] the runs' shared MLPConfig):
# Part 3's network, every other setting at its config's default.
REPORT_BASE = GridConfig(base=MLPConfig(task="multiclass", hidden=(64,)))


def build_parser():
    parser = part_parser(PART, __doc__)
    add_recipe_argument(parser, RECIPES, "tuned")
    add_mlp_arguments(parser, {name: recipe.base for name, recipe in RECIPES.items()}, model_choices=False)
    group = parser.add_argument_group("the comparison")
    group.add_argument("--quick", action="store_true",
                       help=f"{grid.QUICK['train_subset']:,} training images, {grid.QUICK['epochs']} epochs, a "
                            f"{grid.QUICK['sweep_epochs']}-epoch sweep")
    group.add_argument("--activations", nargs="+", choices=grid.ACTIVATIONS)
    group.add_argument("--optimizers", nargs="+", choices=grid.OPTIMIZERS)
    group.add_argument("--inits", nargs="+", choices=grid.INITS)
    group.add_argument("--sweep-epochs", type=nonnegative_int,
                       help=f"epochs of each learning-rate trial, the first of the full run's schedule; 0 = no sweep "
                            f"({recipe_values(RECIPES, 'sweep_epochs')})")
    group.add_argument("--top", type=nonnegative_int,
                       help=f"configurations rerun with more seeds ({recipe_values(RECIPES, 'top')})")
    group.add_argument("--seeds", type=positive_int,
                       help=f"seeds per top configuration, the first run included ({recipe_values(RECIPES, 'seeds')})")
    group.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                       help="runs trained side by side, one BLAS thread each; the numbers do not depend on it "
                            "(default: the CPU count, %(default)s)")
    add_run_arguments(parser, PART)
    return parser


def main(args) -> int:
    _, recipe = chosen_recipe(args, PART, RECIPES, REPORT_BASE)
    # The quick cut, then a report's variant; the flags given act on top of both.
    start = with_variant(args, PART, recipe.quick_version() if args.quick else recipe)
    config = config_from_args(args, replace(start, base=config_from_args(args, start.base, check_inert=False)),
                              check_inert=False)
    given = [name for name in ("momentum", *(f.name for f in fields(GridConfig))) if getattr(args, name, None)
             is not None]
    refuse_inert_flags(config, given)
    run = run_options(args, PART, workers=args.workers, config=config, recipe_config=recipe)
    return finish_run(PART, run, run_grid_part(config, run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
