"""What a run says while it runs and how it ends: the log, timed steps, progress over epochs, exit codes.

Small and standard-library only (tqdm is imported when a bar is drawn), so that every layer may use
it; the command line itself (argparse) is common/cli.py, used by parts/ and scripts/ only.
"""
from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator

log = logging.getLogger("cifar")

EXIT_USER_ERROR = 2  # the user can fix it: one sentence on stderr says how
EXIT_DIVERGED = 1  # the loss stopped being finite
EXIT_INTERRUPTED = 130  # Ctrl-C: the record and checkpoint are written; --resume continues


@contextlib.contextmanager
def timed(what: str) -> Iterator[dict[str, float]]:
    """Log how long a step took; the yielded dict gets the 'seconds' when the step ends."""
    result: dict[str, float] = {}
    start = time.perf_counter()
    yield result  # on an exception nothing is logged: the error message speaks for itself
    result["seconds"] = time.perf_counter() - start
    log.info("%s: %.2f s", what, result["seconds"])


@contextlib.contextmanager
def epoch_progress(total: int, desc: str, *, bar: bool = True, log_lines: bool = True,
                   done: int = 0) -> Iterator[Callable[[dict], None]]:
    """A progress bar over epochs (or, with ``bar`` off, one log line per epoch when ``log_lines``).
    Yields the callback a training loop calls with each epoch's record."""
    from tqdm import tqdm

    progress = tqdm(total=total, initial=done, desc=desc, unit="epoch", disable=not bar, dynamic_ncols=True)

    def on_epoch(record: dict) -> None:
        progress.update()
        shown = {k: record[k] for k in ("train_loss", "val_loss", "val_acc", "test_acc") if k in record}
        progress.set_postfix({k.replace("train_", ""): f"{v:.4f}" for k, v in shown.items()})
        if not bar and log_lines:
            log.info("%s epoch %d/%d: %s (%.1f s)", desc, record["epoch"], total,
                     ", ".join(f"{k.replace('_', ' ')} {v:.4f}" for k, v in shown.items()), record["seconds"])

    try:
        yield on_epoch
    finally:
        progress.close()


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr, force=True)
