"""Command-line plumbing shared by every entry point: argument types, logging, error exits.

Every part is run as ``python -m parts.partN``; ``run_main`` turns the errors a user can fix
into one sentence on stderr and exit code 2, and Ctrl-C into exit code 130.
"""
from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator

from common.errors import UserError

log = logging.getLogger("cifar")

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


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


def add_run_arguments(parser: argparse.ArgumentParser, *, out: str, seed: int = 0) -> None:
    """Arguments every part takes: data source, output folder, seed, split, progress, debug."""
    group = parser.add_argument_group("data and output")
    group.add_argument("--data", metavar="PATH", default=None,
                       help="CIFAR-10 source: the official tarball, its extracted "
                            "cifar-10-batches-py/ folder, or an image-folder tree train/<class>/, "
                            "test/<class>/ as a folder, .zip or .tar(.gz). "
                            "Default: $CIFAR10_SOURCE, then data/, then the Keras cache, then download.")
    group.add_argument("--out", metavar="DIR", default=out, help="report folder (default: %(default)s)")
    group.add_argument("--seed", type=nonnegative_int, default=seed, help="random seed (default: %(default)s)")
    group.add_argument("--val-size", type=positive_int, default=5000,
                       help="stratified validation images carved from the 50,000 training images "
                            "(default: %(default)s)")
    group.add_argument("--train-subset", type=positive_int, default=None, metavar="N",
                       help="train on the first N training images only (for quick checks)")
    group.add_argument("--no-progress", action="store_true", help="hide progress bars")
    group.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")


@contextlib.contextmanager
def timed(what: str) -> Iterator[dict[str, float]]:
    """Log how long a step took; the yielded dict gets the 'seconds' when the step ends."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    yield result  # on an exception nothing is logged: the error message speaks for itself
    result["seconds"] = time.perf_counter() - start
    log.info("%s: %.2f s", what, result["seconds"])


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr, force=True)


def run_main(main: Callable[[argparse.Namespace], int | None], parser: argparse.ArgumentParser,
             argv: list[str] | None = None) -> int:
    """Parse arguments, run ``main`` and map failures to exit codes.

    UserError -> message on stderr, 2. KeyboardInterrupt -> 130. ``--debug`` shows tracebacks.
    """
    args = parser.parse_args(argv)
    setup_logging()
    from common.report import git_commit
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
