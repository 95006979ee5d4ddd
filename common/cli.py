"""The command line: argument types, the flags every part shares, logging, progress, error exits.

This is the only module below ``parts/`` that sees argparse. A part's flags map one to one onto
the fields of its config dataclass: ``config_from_args`` starts from the chosen recipe and
replaces the fields whose flags were given, so a run's config says exactly what ran.
``run_main`` turns errors a user can fix into one sentence on stderr and exit code 2, and Ctrl-C
into exit code 130.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

from common.catalog import PARTS
from common.console import EXIT_INTERRUPTED, EXIT_USER_ERROR, setup_logging
from common.data.cifar10 import source_order_text
from common.errors import UserError
from common.experiments.record import RunOptions
from common.paths import REPORTS_DIR, recipe_root

# ----------------------------------------------------------------------------- argument types

def _number(kind: type, minimum: float, strict: bool) -> Callable[[str], float]:
    """An argparse type accepting finite numbers of ``kind`` above ``minimum`` (or equal, unless strict)."""
    what = f"{'an integer' if kind is int else 'a number'} {'>' if strict else '>='} {minimum:g}"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not (value > minimum if strict else value >= minimum) or value == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


positive_float = _number(float, 0, strict=True)
nonnegative_float = _number(float, 0, strict=False)
positive_int = _number(int, 1, strict=False)
nonnegative_int = _number(int, 0, strict=False)


def unit_interval(text: str) -> float:
    """argparse type: a number in [0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


# ----------------------------------------------------------------------------- parsers and configs

def part_parser(part: str, doc: str) -> argparse.ArgumentParser:
    """A part's parser, described by its docstring (its first line comes from the catalog)."""
    return argparse.ArgumentParser(prog=f"python -m parts.{part}", description=f"{PARTS[part].title}: "
                                   f"{PARTS[part].summary}.\n\n{doc}",
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def recipe_values(recipes: dict, name: str) -> str:
    """'tuned: 0.01; assignment: 0.01' -- what each recipe sets ``name`` to, for a flag's help."""
    def shown(value):
        return " ".join(map(str, value)) or "none" if isinstance(value, (tuple, list)) else value
    return "; ".join(f"{recipe}: {shown(getattr(config, name))}" for recipe, config in recipes.items()
                     if hasattr(config, name))


def add_recipe_argument(parser: argparse.ArgumentParser, recipes: dict, default: str, notes: str = "") -> None:
    parser.add_argument("--recipe", choices=list(recipes), default=default,
                        help=f"where every setting's default comes from (default: %(default)s){notes}; "
                             f"flags below override single settings")


def add_run_arguments(parser: argparse.ArgumentParser, part: str) -> None:
    """Flags about how to run, not what: none of them changes a result."""
    group = parser.add_argument_group("data and output")
    group.add_argument("--data", metavar="PATH", default=None,
                       help="CIFAR-10 source: the official tarball, its extracted cifar-10-batches-py/ folder, or an "
                            "image-folder tree train/<class>/, test/<class>/ as a folder, .zip or .tar(.gz). "
                            f"Without it the loader looks at {source_order_text()}")
    group.add_argument("--out", metavar="DIR", default=None,
                       help=f"report folder (default: reports/{part}/, or reports/assignment/{part}/ for the "
                            f"assignment's recipe)")
    group.add_argument("--resume", action="store_true",
                       help="continue an interrupted run of the same config from its checkpoint; a complete run "
                            "of the same config on the same data is kept as it is")
    group.add_argument("--estimate", action="store_true",
                       help="print what the run would do and how long it would take (JSON), then exit")
    group.add_argument("--no-progress", action="store_true", help="log a line per epoch instead of progress bars")
    group.add_argument("--no-figures", action="store_true",
                       help="write the record, arrays and model but draw no figures (they change no number)")
    group.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")


def add_mlp_arguments(parser: argparse.ArgumentParser, recipes: dict, *, model_choices: bool = True) -> None:
    """The MLPConfig flags (defaults None: the recipe decides). ``model_choices=False`` leaves out
    --activation, --init, --optimizer and --lr, which Part 4's comparison sets itself."""
    from common.experiments.mlp import ACTIVATIONS, INITIALIZERS, INPUT_SCALINGS, OPTIMIZERS, SCHEDULES

    def values(name):
        return f"({recipe_values(recipes, name)})"

    group = parser.add_argument_group("network and training (defaults per recipe)")
    group.add_argument("--hidden", type=nonnegative_int, nargs="*", metavar="UNITS",
                       help=f"hidden layer widths; none = logistic regression {values('hidden')}")
    if model_choices:
        group.add_argument("--activation", choices=ACTIVATIONS, help=f"hidden activation {values('activation')}")
        group.add_argument("--init", choices=INITIALIZERS,
                           help=f"weights: small N(0, 0.01^2), he N(0, 2/fan_in), xavier N(0, 2/(fan_in+fan_out)) "
                                f"{values('init')}")
        group.add_argument("--optimizer", choices=OPTIMIZERS, help=values("optimizer"))
        group.add_argument("--lr", type=positive_float, help=f"learning rate {values('lr')}")
    group.add_argument("--momentum", type=nonnegative_float,
                       help=f"beta of the momentum optimizer {values('momentum')}")
    group.add_argument("--l2", type=nonnegative_float, help=f"L2 weight penalty {values('l2')}")
    group.add_argument("--batch-size", type=positive_int, help=values("batch_size"))
    group.add_argument("--epochs", type=positive_int, help=f"epochs of the schedule {values('epochs')}")
    group.add_argument("--patience", type=nonnegative_int,
                       help=f"stop after this many epochs without a better validation loss and keep the best epoch; "
                            f"0 = train every epoch {values('patience')}")
    group.add_argument("--schedule", choices=SCHEDULES, help=f"learning rate per epoch {values('schedule')}")
    group.add_argument("--inputs", choices=INPUT_SCALINGS,
                       help=f"standardized: per pixel with the training images' mean and std; unit: pixels / 255 "
                            f"{values('inputs')}")
    group.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                       help=f"add a left-right mirrored copy of every training image {values('hflip')}")
    group.add_argument("--val-size", type=nonnegative_int,
                       help=f"stratified validation images carved from the 50,000 training images; 0 trains on all "
                            f"of them and chooses nothing {values('val_size')}")
    group.add_argument("--train-subset", type=positive_int, metavar="N",
                       help="train on a random N of the training images (the same N for the same seed)")
    group.add_argument("--seed", type=nonnegative_int, help=f"initialization, shuffling and split {values('seed')}")


def add_cnn_arguments(parser: argparse.ArgumentParser, recipes: dict) -> None:
    """The CNNConfig flags (defaults None: the recipe decides); ``recipes`` name the values shown in help."""
    from common.cnn.training import COMPILE_MODES, OPTIMIZERS, SCHEDULES

    def values(name):
        return f"({recipe_values(recipes, name)})"

    group = parser.add_argument_group("settings (defaults per recipe)")
    group.add_argument("--epochs", type=positive_int,
                       help=f"(quick: 8 SimpleCNN, 6 ImprovedCNN; {recipe_values(recipes, 'epochs')})")
    group.add_argument("--batch-size", type=positive_int, help=values("batch_size"))
    group.add_argument("--optimizer", choices=OPTIMIZERS, help=values("optimizer"))
    group.add_argument("--lr", type=positive_float, help=f"learning rate, the peak with onecycle {values('lr')}")
    group.add_argument("--weight-decay", type=nonnegative_float, help=values("weight_decay"))
    group.add_argument("--schedule", choices=SCHEDULES, help=values("schedule"))
    group.add_argument("--label-smoothing", type=unit_interval, help=values("label_smoothing"))
    group.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                       help=f"random crop (pad 4) + horizontal flip {values('augment')}")
    group.add_argument("--cutout", type=nonnegative_int, metavar="PIXELS",
                       help=f"zero a PIXELS x PIXELS square of each training image; 0 = off {values('cutout')}")
    group.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                       help=f"evaluate on the mean of each image's and its mirror's logits {values('tta')}")
    group.add_argument("--patience", type=nonnegative_int,
                       help=f"early stopping on validation accuracy; 0 = off {values('patience')}")
    group.add_argument("--val-size", type=nonnegative_int,
                       help=f"validation images carved from the 50,000; 0 = train on all {values('val_size')}")
    group.add_argument("--train-subset", type=positive_int, metavar="N", help="train on a random N training images")
    group.add_argument("--seed", type=nonnegative_int, help=values("seed"))
    group.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None,
                       help="bfloat16 mixed precision where the device supports it (default: on)")
    group.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                       help="channels_last memory format (default: on)")
    group.add_argument("--compile", choices=COMPILE_MODES,
                       help="torch.compile the training forward (default: auto = CUDA graphs on a GPU, eager on a "
                            "CPU); falls back to eager if compiling fails")


def add_binary_arguments(parser: argparse.ArgumentParser, recipes: dict) -> None:
    parser.add_argument("--airplane-label", type=int, choices=[0, 1],
                        help=f"label of the airplane class: 1 makes it the positive class, 0 is the assignment's "
                             f"convention; metrics are reported per class by name either way "
                             f"({recipe_values(recipes, 'airplane_label')})")


def mlp_part_parser(part: str, doc: str, recipes: dict, binary: bool) -> argparse.ArgumentParser:
    """The whole command line of Parts 1-3: the recipe, the MLPConfig flags, the run flags."""
    parser = part_parser(part, doc)
    add_recipe_argument(parser, recipes, "tuned")
    add_mlp_arguments(parser, recipes)
    if binary:
        add_binary_arguments(parser, recipes)
    add_run_arguments(parser, part)
    return parser


def config_from_args(args: argparse.Namespace, base, *, check_inert: bool = True, **extra):
    """``base`` (the chosen recipe's config) with every field whose flag was given replaced (and ``extra``).

    A flag that cannot act in the resulting config (its ``inert_settings()``, e.g. --momentum with plain
    SGD) is refused with a UserError that says why, rather than saved in metrics.json and ignored."""
    names = {f.name for f in dataclasses.fields(base)}
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    if isinstance(given.get("hidden"), list):
        given["hidden"] = tuple(given["hidden"])
    config = dataclasses.replace(base, **{**given, **extra})
    if check_inert:
        refuse_inert_flags(config, given)
    return config


def refuse_inert_flags(config, given) -> None:
    """UserError for the first setting in ``given`` (names of flags the user gave) that ``config`` says
    cannot act (``config.inert_settings()``: {setting: why})."""
    inert = config.inert_settings() if hasattr(config, "inert_settings") else {}
    for name in given:
        if name in inert:
            raise UserError(f"--{name.replace('_', '-')} cannot act in this run: {inert[name]}. Drop the flag "
                            f"(or change what makes it idle).")


def default_out(part: str, recipe: str) -> Path:
    """reports/<part>/, or reports/assignment/<part>/ for the assignment's recipe."""
    return recipe_root(REPORTS_DIR, recipe) / part


def out_folder(args: argparse.Namespace, part: str) -> Path:
    return Path(args.out) if args.out else default_out(part, args.recipe)


def run_options(args: argparse.Namespace, part: str, **extra) -> RunOptions:
    """How to run, from the flags add_run_arguments defined (``extra``: e.g. ``recipe_config``, the
    chosen recipe's own config, against which the record lists the run's changes)."""
    return RunOptions(out=out_folder(args, part), part=part, data=args.data, progress=not args.no_progress,
                      resume=args.resume,
                      estimate=args.estimate, figures=not args.no_figures, **extra)


def run_main(main: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
             argv: list[str] | None = None) -> int:
    """Parse arguments, run ``main`` and map failures to exit codes.

    UserError -> message on stderr, 2. KeyboardInterrupt -> 130. ``--debug`` shows tracebacks.
    """
    args = parser.parse_args(argv)
    setup_logging()
    from common.experiments.record import git_commit
    git_commit()  # remember the commit now: the tree may change while a long run trains
    try:
        code = main(args)
    except UserError as error:
        if getattr(args, "debug", False):
            raise
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        if getattr(args, "debug", False):
            raise
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(code or 0)
