"""Part 4's comparison machinery: a learning-rate sweep per optimizer, the full grid, seeds.

Fairness rules: every configuration gets the same epoch budget, schedule, L2 and early
stopping; each (optimizer, activation) pair gets the learning rate that did best on validation
in a short sweep; configurations are ranked by validation accuracy; the test set is evaluated
once per trained configuration, for the table, never for a choice.
"""
from __future__ import annotations

import argparse
import itertools
import time
from dataclasses import dataclass, field

import numpy as np

from common import metrics as M
from common.cli import log
from common.mlp_experiment import train_mlp
from common.tasks import FlatSplits

ACTIVATIONS = ("sigmoid", "relu", "tanh")
OPTIMIZERS = ("sgd", "momentum", "adam")
INITS = ("small", "he", "xavier")
LR_CANDIDATES = {"sgd": (0.03, 0.1, 0.3), "momentum": (0.003, 0.01, 0.03), "adam": (1e-4, 3e-4, 1e-3)}
REFERENCE_INIT = {"sigmoid": "xavier", "tanh": "xavier", "relu": "he"}


@dataclass
class RunRecord:
    """One trained configuration and what it measured."""

    activation: str
    optimizer: str
    init: str
    lr: float
    seed: int
    val_acc: float
    val_loss: float
    test_acc: float
    test_macro_f1: float
    best_epoch: int
    epochs_run: int
    seconds: float
    status: str
    parameters: int = 0
    images_per_second: float = 0.0
    history: list = field(default_factory=list, repr=False)
    test_summary: dict = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return f"{self.activation} + {self.optimizer} + {self.init}"

    def row(self) -> dict:
        return {"activation": self.activation, "optimizer": self.optimizer, "init": self.init, "lr": self.lr,
                "seed": self.seed, "val_acc": self.val_acc, "val_loss": self.val_loss, "test_acc": self.test_acc,
                "test_macro_f1": self.test_macro_f1, "best_epoch": self.best_epoch, "epochs_run": self.epochs_run,
                "seconds": self.seconds, "status": self.status}


def train_config(base: argparse.Namespace, splits: FlatSplits, *, activation: str, optimizer: str, init: str,
                 lr: float, seed: int, stop_after: int | None = None, evaluate_test: bool = True) -> RunRecord:
    """Train one configuration with the shared budget in ``base`` and measure it.

    ``stop_after`` ends training after that many epochs of the full run's schedule (a sweep trial).
    """
    args = argparse.Namespace(**{**vars(base), "activation": activation, "optimizer": optimizer, "init": init,
                                 "lr": lr, "stop_after": stop_after})
    start = time.perf_counter()
    model, result = train_mlp(args, splits, seed=seed, progress=False)
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), None)
    val_acc = best["val_acc"] if best else float("nan")
    summary = {}
    test_acc = test_f1 = float("nan")
    if evaluate_test:
        summary = M.classification_summary(splits.y_test, model.logits(splits.x_test).argmax(axis=1),
                                           splits.class_names)
        test_acc, test_f1 = summary["accuracy"], summary["macro_f1"]
    return RunRecord(activation, optimizer, init, lr, seed, val_acc, result.best_val_loss, test_acc, test_f1,
                     result.best_epoch, len(result.history), time.perf_counter() - start, result.status,
                     model.n_params, len(splits.x_train) * len(result.history) / max(result.train_seconds, 1e-9),
                     result.history, summary)


def sweep_learning_rates(base: argparse.Namespace, splits: FlatSplits, sweep_epochs: int, *,
                         optimizers=OPTIMIZERS, activations=ACTIVATIONS,
                         bar=None) -> tuple[dict[tuple[str, str], float], list[dict]]:
    """For each (optimizer, activation): the candidate lr with the best validation accuracy.

    A trial is the first ``sweep_epochs`` epochs of the full run, at the full run's learning rates
    (a schedule squeezed into the trial would hide an lr that is unstable for long at its peak).
    Uses the activation's reference initialization (He for ReLU, Xavier otherwise).
    Returns the choice and one row per trial.
    """
    chosen, rows = {}, []
    for optimizer, activation in itertools.product(optimizers, activations):
        trials = []
        for lr in LR_CANDIDATES[optimizer]:
            record = train_config(base, splits, activation=activation, optimizer=optimizer,
                                  init=REFERENCE_INIT[activation], lr=lr, seed=base.seed, stop_after=sweep_epochs,
                                  evaluate_test=False)
            score = record.val_acc if record.status != "diverged" and np.isfinite(record.val_acc) else -1.0
            trials.append((score, lr))
            rows.append({"optimizer": optimizer, "activation": activation, "init": REFERENCE_INIT[activation],
                         "lr": lr, "val_acc": record.val_acc, "status": record.status})
            if bar is not None:
                bar.update()
        chosen[(optimizer, activation)] = max(trials)[1]
        log.info("lr sweep %s + %s: %s -> lr %g", activation, optimizer,
                 ", ".join(f"{lr:g}: {s:.4f}" for s, lr in trials), chosen[(optimizer, activation)])
    return chosen, rows


def rank(records: list[RunRecord]) -> list[RunRecord]:
    """Best validation accuracy first; diverged runs last."""
    return sorted(records, key=lambda r: (r.status == "diverged", -np.nan_to_num(r.val_acc, nan=-1.0)))


def seed_statistics(runs: dict[str, list[RunRecord]]) -> list[dict]:
    """Mean and sample std of validation and test accuracy over seeds, per configuration."""
    rows = []
    for name, records in runs.items():
        test = np.array([r.test_acc for r in records])
        val = np.array([r.val_acc for r in records])
        rows.append({"configuration": name, "lr": records[0].lr, "seeds": ", ".join(str(r.seed) for r in records),
                     "val_acc_mean": float(val.mean()), "val_acc_std": float(val.std(ddof=1)) if len(val) > 1 else 0.0,
                     "test_acc_mean": float(test.mean()),
                     "test_acc_std": float(test.std(ddof=1)) if len(test) > 1 else 0.0})
    return rows


def best_curve_per(records: list[RunRecord], attribute: str) -> dict[str, list[dict]]:
    """{value of ``attribute``: history of its best configuration by validation accuracy}."""
    curves, seen = {}, set()
    for record in rank(records):
        key = getattr(record, attribute)
        if key not in seen:
            seen.add(key)
            curves[f"{key} (best: {record.name}, lr {record.lr:g})"] = record.history
    return dict(sorted(curves.items()))
