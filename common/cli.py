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
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from common.catalog import PARTS
from common.console import EXIT_INTERRUPTED, EXIT_USER_ERROR, setup_logging
from common.data.cifar10 import source_order_text
from common.errors import UserError
from common.experiments.record import RunOptions
from common.paths import REPORTS_DIR, run_folder

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
    """'tuned: 0.01; quick: 0.01' -- what each recipe sets ``name`` to, for a flag's help."""
    def shown(value):
        return " ".join(map(str, value)) or "none" if isinstance(value, (tuple, list)) else value
    return "; ".join(f"{recipe}: {shown(getattr(config, name))}" for recipe, config in recipes.items()
                     if hasattr(config, name))


def add_recipe_argument(parser: argparse.ArgumentParser, recipes, default: str, notes: str = "") -> None:
    """--recipe (this suite's recipes) and --report ID (a report's recipe, from student_reports/ID.toml)."""
    group = parser.add_argument_group("what to run")
    choice = group.add_mutually_exclusive_group()
    choice.add_argument("--recipe", choices=list(recipes), default=default,
                        help=f"this suite's recipe, where every setting's default comes from (default: %(default)s)"
                             f"{notes}; flags below override single settings (a run that differs from its recipe "
                             f"is a variant, kept in its own folder)")
    choice.add_argument("--report", metavar="ID", default=None,
                        help="rerun a report's recipe instead: its [partN.recipe] in student_reports/ID.toml "
                             "(e.g. --report 000); runs go to reports/ID/<part>/")


def add_run_arguments(parser: argparse.ArgumentParser, part: str) -> None:
    """Flags about how to run, not what: none of them changes a result."""
    group = parser.add_argument_group("data and output")
    group.add_argument("--data", metavar="PATH", default=None,
                       help="CIFAR-10 source: the official tarball, its extracted cifar-10-batches-py/ folder, or an "
                            "image-folder tree train/<class>/, test/<class>/ as a folder, .zip or .tar(.gz). "
                            f"Without it the loader looks at {source_order_text()}")
    group.add_argument("--reports", metavar="DIR", default=None,
                       help="the reports folder the run's own folder is chosen in (default: reports/)")
    group.add_argument("--out", metavar="DIR", default=None,
                       help=f"report folder (default: reports/{part}/, reports/ID/{part}/ with --report ID, and a "
                            f"folder under variants/ beside them for a run that differs from its recipe)")
    group.add_argument("--variant", metavar="NAME", default=None,
                       help="with --report ID: one of the variants the report file declares for this part "
                            "([<part>.variants.NAME]: its recipe with some settings changed, e.g. another seed); "
                            "it goes to its own folder under variants/")
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
                           help=f"weights: small N(0, 0.01^2), he N(0, 2/fan_in), xavier N(0, 2/(fan_in+fan_out)), "
                                f"lecun N(0, 1/fan_in) {values('init')}")
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
    from common.experiments.mlp import OUTPUT_GRADIENTS
    parser.add_argument("--output-gradient", choices=OUTPUT_GRADIENTS,
                        help=f"the gradient at the sigmoid output: cross_entropy (p - y, the loss's own) or "
                             f"squared_error ((p - y) p (1 - p), what report 000's code computes while it reports "
                             f"the cross-entropy) ({recipe_values(recipes, 'output_gradient')})")
    parser.add_argument("--airplane-label", type=int, choices=[0, 1],
                        help=f"label of the airplane class: 1 makes it the positive class, 0 is report 000's "
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
    names = {f.name for f in dataclasses.fields(base)} - {"recipe"}  # --recipe chose ``base``; its name stays
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


def chosen_recipe(args: argparse.Namespace, part: str, recipes: dict, report_base):
    """(recipe name, recipe config): --report's, built from its file's [<part>.recipe] over the part's
    ``report_base``, else this suite's --recipe from ``recipes``."""
    report_id = getattr(args, "report", None)
    if not report_id:
        return args.recipe, recipes[args.recipe]
    from common.report.report_file import load_report
    report = load_report(report_id)
    table = report.parts.get(part)
    if table is None or not table.recipe:
        raise UserError(f"{report.shown} has no [{part}.recipe] table, so {report.title} gives no recipe to "
                        f"rerun for {part}; add one (student_reports/README.md) or run this suite's: drop --report")
    config = config_with(report_base, table.recipe, f"{report.shown}: {part}.recipe")
    return report.recipe, named(config, report.recipe)


def with_variant(args: argparse.Namespace, part: str, recipe):
    """``recipe`` with the settings of the report's variant --variant names (the recipe itself without one)."""
    name = getattr(args, "variant", None)
    if not name:
        return recipe
    if not getattr(args, "report", None):
        raise UserError("--variant names one of a report file's variants: give --report ID as well")
    from common.report.report_file import load_report
    report = load_report(args.report)
    table = report.parts.get(part)
    variants = table.variants if table else {}
    if name not in variants:
        raise UserError(f"{report.shown} declares no variant {name!r} of {part}; its variants: "
                        f"{', '.join(variants) or 'none'} ([{part}.variants.<name>] tables)")
    return config_with(recipe, table.variant_settings(name), f"{report.shown}: {part}.variants.{name}")


def report_notes(args: argparse.Namespace, part: str) -> str:
    """The report file's notes on ``part``'s recipe (its assumptions), for the record; '' without --report."""
    if not getattr(args, "report", None):
        return ""
    from common.report.report_file import load_report
    table = load_report(args.report).parts.get(part)
    return "; ".join(table.notes) if table else ""


def named(config, recipe: str):
    """``config`` (or {model: config}, or a grid with its base) labelled with the recipe's name."""
    if isinstance(config, dict):
        return {key: named(value, recipe) for key, value in config.items()}
    changes = {"recipe": recipe}
    if dataclasses.is_dataclass(getattr(config, "base", None)):
        changes["base"] = named(config.base, recipe)
    return dataclasses.replace(config, **changes)


def config_with(base, overrides: dict, where: str):
    """``base`` with the settings of a report file's recipe table; every key and type is checked, and a
    problem stops with one line naming ``where`` and the key. ``base`` may be {model: config}: a
    setting applies to every model, a table named after a model to that model only."""
    if isinstance(base, dict):
        for key, value in overrides.items():
            if key in base and not isinstance(value, dict):
                raise UserError(f"{where}.{key}: {key!r} is a model; give its settings as a table [...recipe.{key}]")
            if isinstance(value, dict) and key not in base:
                raise UserError(f"{where}.{key}: no model is called {key!r}; per-model tables are "
                                f"{', '.join(f'[...recipe.{m}]' for m in base)}")
            if key == "model":
                raise UserError(f"{where}.model: the part trains each of its models ({', '.join(base)}) under its own "
                                f"name; give a model's settings in its table instead")
        return {name: config_with(config, {**{k: v for k, v in overrides.items() if not isinstance(v, dict)},
                                           **overrides.get(name, {})}, where)
                for name, config in base.items()}
    fields = {f.name: f for f in dataclasses.fields(base) if f.name != "recipe"}
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise UserError(f"{where}.{key}: unknown setting; the settings of {type(base).__name__} are "
                            f"{', '.join(fields)}")
        current = getattr(base, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise UserError(f"{where}.{key}: expected a table [{where.split(': ')[-1]}.{key}] of settings")
            changes[key] = config_with(current, value, f"{where}.{key}")
        else:
            changes[key] = _setting(value, str(fields[key].type), f"{where}.{key}")
    try:
        return dataclasses.replace(base, **changes)
    except UserError as error:
        raise UserError(f"{where}: {error}") from None
    except (TypeError, ValueError) as error:
        raise UserError(f"{where}: {error}") from None


def _setting(value, annotation: str, where: str):
    """A TOML value converted to a config field's type (by its annotation), or a UserError."""
    def wrong(expected):
        return UserError(f"{where}: expected {expected}, got {value!r}")
    if annotation.startswith("tuple"):
        if not isinstance(value, list):
            raise wrong("an array")
        if annotation.startswith("tuple[tuple[str"):  # (activation, optimizer, init) triples
            if not all(isinstance(v, list) and len(v) == 3 and all(isinstance(x, str) for x in v) for v in value):
                raise wrong('an array of [activation, optimizer, init] triples, e.g. [["relu", "sgd", "he"]]')
            return tuple(tuple(v) for v in value)
        kind = int if annotation.startswith("tuple[int") else str
        if not all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
            raise wrong(f"an array of {'integers' if kind is int else 'strings'}")
        return tuple(value)
    if annotation.startswith("dict"):
        if not isinstance(value, dict):
            raise wrong("a table")
        return value
    if annotation == "bool":
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if "float" in annotation:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        return float(value)
    if "int" in annotation:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        return value
    if "str" in annotation and not isinstance(value, str):
        raise wrong("a string")
    return value


def run_options(args: argparse.Namespace, part: str, *, config=None, recipe_config=None, **extra) -> RunOptions:
    """How to run, from the flags add_run_arguments defined. ``recipe_config``: the chosen recipe's own
    config, against which the record lists the run's changes; a ``config`` that differs from it is a
    variant, whose default folder is its own (paths.run_folder)."""
    from common.experiments.record import changes_text, recipe_changes
    variant = ""
    if config is not None and recipe_config is not None:
        variant = changes_text(recipe_changes(recipe_config, config) or {}, short=True)
    report = getattr(args, "report", None)
    if report:
        from common.report.report_file import report_path
        report = report_path(report).stem  # a path given as --report: its id
    root = Path(args.reports) if getattr(args, "reports", None) else REPORTS_DIR
    out = Path(args.out) if args.out else run_folder(root, part, report, variant)
    return RunOptions(out=out, part=part, data=args.data, progress=not args.no_progress, resume=args.resume,
                      estimate=args.estimate, figures=not args.no_figures, recipe_config=recipe_config, **extra)


def stop_on_termination() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt, so that ``kill PID``, a scheduler's time limit or a
    closed terminal stops a run the way Ctrl-C does: finished epochs saved, the report marked incomplete,
    ``--resume`` continues. A job started in the background from a script ignores SIGINT, so SIGTERM is the
    way to stop it. A signal already ignored (``nohup`` ignores SIGHUP) stays ignored.

    Once a stop has begun (by any of SIGINT, SIGTERM, SIGHUP), further SIGTERM and SIGHUP are ignored, so that
    a second one (``make all`` passing the stop on, a closed terminal's SIGHUP to the whole group) cannot cut the
    save short; a second Ctrl-C still stops at once."""
    numbers = [n for n in (signal.SIGTERM, getattr(signal, "SIGHUP", None))
               if n is not None and signal.getsignal(n) is signal.SIG_DFL]

    def interrupt(signum, _frame):
        for number in numbers:
            signal.signal(number, signal.SIG_IGN)
        raise KeyboardInterrupt(signal.Signals(signum).name) if signum != signal.SIGINT else KeyboardInterrupt

    for number in numbers:
        signal.signal(number, interrupt)
    if numbers and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)


def run_main(main: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
             argv: list[str] | None = None) -> int:
    """Parse arguments, run ``main`` and map failures to exit codes.

    UserError -> message on stderr, 2. KeyboardInterrupt -> 130. ``--debug`` shows tracebacks.
    SIGTERM and SIGHUP stop a run as Ctrl-C does (see ``stop_on_termination``).
    """
    args = parser.parse_args(argv)
    setup_logging()
    stop_on_termination()
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
