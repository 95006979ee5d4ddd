"""How the two CNNs compare with each other and with the numpy MLPs of Parts 3 and 4 is in the
report index (make report) and in analysis.md.

Recipes (--recipe; --report ID reruns a report's own, from student_reports/ID.toml, e.g. report
000's 100 epochs of Adam in fp32):
  auto        the default: tuned on a GPU, quick on a CPU (it says which it picked)
  tuned       our recipe for the highest accuracy in 30 epochs: random crop + flip + 8x8 cutout,
              SGD with Nesterov momentum and a one-cycle schedule, label smoothing 0.1, weight
              decay 5e-4; validation and test predictions average each image and its mirror
  quick       the tuned recipe cut to 8 (SimpleCNN) and 6 (ImprovedCNN) epochs, for a CPU
Flags override single settings. With a validation split (carved from the training images) the
epoch of the best validation accuracy is reported; the test set is evaluated once.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from common.cli import (
    add_cnn_arguments,
    add_recipe_argument,
    add_run_arguments,
    chosen_recipe,
    config_from_args,
    part_parser,
    report_notes,
    run_main,
    run_options,
    with_variant,
)
from common.cnn.models import ABLATIONS, ADDITIONS
from common.cnn.training import CNNConfig, pick_device
from common.experiments.cnn import evaluate_checkpoint, run_cnn_part
from common.report.drawing import draw_model_folder, finish_run

PART = "part5"  # this file's name: the make target and reports/part5/
CATALOG = {  # this part's entry of the catalog (common/catalog.py reads it without importing this file)
    "title": "Part 5: convolutional networks",
    "summary": "SimpleCNN and ImprovedCNN in PyTorch, compared with the MLPs",
    "statements": [["cnn", "part3", "part4"], ["ablation", "ablation"]],  # analysis.md: report/analysis.py STATEMENTS
    "figures": [
        {"set": "run", "under": "improved", "label": "ImprovedCNN"},
        {"set": "run", "under": "simple", "label": "SimpleCNN"},
        ["improved/per_class_accuracy.png", "ImprovedCNN: test accuracy per class: which classes stay hard."],
        ["improved/filters.png", "ImprovedCNN's 64 first-layer 3x3 filters, each scaled on its own (grey = 0): the "
                                 "colour and the light-to-dark direction each one responds to."],
        ["improved/saliency.png", "Saliency: the pixels whose change moves the true class's score most; on the "
                                  "object means it looks at the object."],
        ["improved/class_images.png", "An image made for each class by gradient ascent on the input (L2, jitter and "
                                      "blur keep it natural): what the network finds most 'car' or 'frog'."],
        ["ablation/ablation_curves.png", "make ablation: validation curves of ImprovedCNN with one change removed "
                                         "at a time; the curve furthest below the full model's is the change that "
                                         "matters most."],
    ],
}
TUNED = CNNConfig(recipe="tuned", model="improved", epochs=30, batch_size=128, optimizer="sgd", lr=0.1,
                  weight_decay=5e-4, schedule="onecycle", label_smoothing=0.1, augment=True, cutout=8, tta=True)
RECIPES = {
    "tuned": {"simple": replace(TUNED, model="simple"), "improved": TUNED},
    "quick": {"simple": replace(TUNED, recipe="quick", model="simple", epochs=8),
              "improved": replace(TUNED, recipe="quick", epochs=6)},
}
# What a report's [part5.recipe] table overrides (a setting there applies to both models, a [part5.recipe.simple]
# or [part5.recipe.improved] table to one): each model at CNNConfig's defaults.
REPORT_BASE = {model: CNNConfig(model=model) for model in ("simple", "improved")}


def build_parser() -> argparse.ArgumentParser:
    parser = part_parser(PART, __doc__)
    add_recipe_argument(parser, ["auto", *RECIPES], "auto", " = tuned on a GPU, quick on a CPU")
    group = parser.add_argument_group("which networks")
    group.add_argument("--model", choices=["simple", "improved", "both"], default="both",
                       help="which network(s) to train (default: %(default)s)")
    group.add_argument("--ablation", choices=[*ABLATIONS, *ADDITIONS],
                       help="ImprovedCNN without one of its changes over SimpleCNN (make ablation runs them all), or "
                            "SimpleCNN with batch norm (with-batchnorm, --model simple)")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: %(default)s)")
    group.add_argument("--eval", metavar="CKPT", default=None,
                       help="evaluate a saved checkpoint and redraw its figures, without training")
    add_cnn_arguments(parser, {"tuned": TUNED})
    add_run_arguments(parser, PART)
    return parser


def resolve_recipe(args: argparse.Namespace, device) -> str:
    if args.recipe != "auto" or args.report:
        return args.recipe
    return "tuned" if device.type == "cuda" else "quick"


def configs_for(args: argparse.Namespace, recipe: dict[str, CNNConfig],
                variant: dict[str, CNNConfig] | None = None) -> dict[str, CNNConfig]:
    """One config per model to train: the recipe's (or the report variant's), with the flags given replacing its
    settings. A variant that changes one model's settings trains that model only (--model both): the other's run
    would be the recipe's own."""
    chosen = variant or recipe
    models = ["simple", "improved"] if args.model == "both" else [args.model]
    if variant is not None and args.model == "both":
        models = [m for m in models if variant[m] != recipe[m]] or models
    return {m: config_from_args(args, chosen[m], model=m) for m in models}


def main(args: argparse.Namespace) -> int:
    if args.eval:
        path = Path(args.eval)
        overrides = {k: getattr(args, k) for k in ("amp", "channels_last", "tta") if getattr(args, k) is not None}
        run = replace(run_options(args, PART), out=Path(args.out) if args.out else path.parent)
        code = evaluate_checkpoint(path, run, device_name=args.device, overrides=overrides)
        if code == 0 and run.figures:  # the model folder's figures, from the record and checkpoint just written
            draw_model_folder(PART, run.out, data_source=run.data)
        return code
    args.recipe = resolve_recipe(args, pick_device(args.device))
    _, recipe = chosen_recipe(args, PART, RECIPES, REPORT_BASE)
    configs = configs_for(args, recipe, with_variant(args, PART, recipe) if args.variant else None)
    run = run_options(args, PART, config=configs, recipe_config={m: recipe[m] for m in configs})
    code = run_cnn_part(configs, run, device_name=args.device, recipe_note=report_notes(args, PART))
    return finish_run(PART, run, code)


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
