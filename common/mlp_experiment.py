"""One MLP experiment from arguments to report: shared by Parts 1-4.

``run_mlp_part`` loads the data, builds the task view, trains with validation-based early
stopping, picks the binary decision threshold on validation, evaluates the test set once and
writes ``reports/<part>/``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import numpy as np

from common import metrics as M
from common.cli import EXIT_INTERRUPTED, add_run_arguments, log, nonnegative_float, nonnegative_int, \
    positive_float, positive_int, timed
from common.data import load_cifar10
from common.nn.init import INITIALIZERS
from common.nn.layers import ACTIVATIONS
from common.nn.network import MLP
from common.nn.optim import OPTIMIZERS, make_optimizer
from common.nn.training import FitResult, TrainConfig, fit
from common.report import STATUS_DIVERGED, STATUS_INCOMPLETE, environment_info, \
    ensure_writable, git_commit, plot_confusion_matrix, plot_history, write_run_report
from common.tasks import FlatSplits, flat_splits

EXIT_DIVERGED = 1


@dataclass
class MLPDefaults:
    """Defaults of one part's command line; they reproduce the assignment's setup."""

    hidden: list[int]
    activation: str = "sigmoid"
    init: str = "xavier"
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    batch_size: int = 64
    epochs: int = 100
    patience: int = 10
    schedule: str = "constant"
    l2: float = 0.0
    hflip: bool = False


def add_mlp_arguments(parser: argparse.ArgumentParser, defaults: MLPDefaults, out: str,
                      model_choices: bool = True) -> None:
    """Model and training flags with the part's defaults, then the common run flags.

    ``model_choices=False`` leaves out --activation, --init, --optimizer and --lr (Part 4's grid
    sets those itself).
    """
    group = parser.add_argument_group("model and training")
    group.add_argument("--hidden", type=nonnegative_int, nargs="*", default=defaults.hidden, metavar="UNITS",
                       help="hidden layer widths (default: %(default)s; none = logistic regression)")
    if model_choices:
        group.add_argument("--activation", choices=sorted(ACTIVATIONS), default=defaults.activation,
                           help="hidden activation (default: %(default)s)")
        group.add_argument("--init", choices=sorted(INITIALIZERS), default=defaults.init,
                           help="weight initialization: small = N(0, 0.01^2) (default: %(default)s)")
        group.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=defaults.optimizer,
                           help="(default: %(default)s)")
        group.add_argument("--lr", type=positive_float, default=defaults.lr,
                           help="learning rate (default: %(default)s)")
    group.add_argument("--momentum", type=nonnegative_float, default=defaults.momentum,
                       help="momentum coefficient for the momentum optimizer (default: %(default)s)")
    group.add_argument("--l2", type=nonnegative_float, default=defaults.l2,
                       help="L2 weight penalty (default: %(default)s)")
    group.add_argument("--batch-size", type=positive_int, default=defaults.batch_size, help="(default: %(default)s)")
    group.add_argument("--epochs", type=positive_int, default=defaults.epochs,
                       help="upper bound on epochs; early stopping on validation loss picks the "
                            "epoch (default: %(default)s)")
    group.add_argument("--patience", type=nonnegative_int, default=defaults.patience,
                       help="epochs without a better validation loss before stopping; 0 = never "
                            "(default: %(default)s)")
    group.add_argument("--schedule", choices=["constant", "cosine"], default=defaults.schedule,
                       help="learning-rate schedule over --epochs (default: %(default)s)")
    group.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=defaults.hflip,
                       help="add a left-right mirrored copy of every training image (default: %(default)s)")
    add_run_arguments(parser, out=out)


def build_mlp_parser(part: str, doc: str, defaults: MLPDefaults, binary: bool) -> argparse.ArgumentParser:
    """The command line of Parts 1-3: model and training flags, plus the label convention for binary parts."""
    parser = argparse.ArgumentParser(prog=f"python -m parts.{part}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mlp_arguments(parser, defaults, out=f"reports/{part}")
    if binary:
        parser.add_argument("--airplane-label", type=int, choices=[0, 1], default=1,
                            help="label of the airplane class: 1 (positive, default) or 0 (the seed assignment's "
                                 "convention); metrics are reported per class by name either way")
    return parser


def model_config(args: argparse.Namespace) -> dict:
    """The hyperparameters of a run, as saved in metrics.json."""
    keys = ["hidden", "activation", "init", "optimizer", "lr", "momentum", "l2", "batch_size", "epochs",
            "patience", "schedule", "hflip", "val_size", "train_subset", "seed"]
    return {k: getattr(args, k) for k in keys if hasattr(args, k)}


def load_splits(args: argparse.Namespace, task: str) -> tuple[FlatSplits, str]:
    """Data set -> standardized flat splits, logging how long each step took."""
    with timed("loading CIFAR-10"):
        data = load_cifar10(args.data, progress=not args.no_progress)
    with timed("building the task view (split, flatten, standardize)"):
        splits = flat_splits(data, task=task, val_size=args.val_size, seed=args.seed,
                             train_subset=args.train_subset, airplane_label=getattr(args, "airplane_label", 1),
                             hflip_train=getattr(args, "hflip", False))
    log.info("train %s, validation %s, test %s; classes %s", splits.x_train.shape, splits.x_val.shape,
             splits.x_test.shape, ", ".join(splits.class_names))
    return splits, data.source


def train_mlp(args: argparse.Namespace, splits: FlatSplits, seed: int | None = None, desc: str = "training",
              progress: bool | None = None) -> tuple[MLP, FitResult]:
    """Build the MLP that ``args`` describes and train it on ``splits``."""
    seed = args.seed if seed is None else seed
    output = 1 if splits.n_classes == 2 else splits.n_classes
    hidden = [h for h in args.hidden if h > 0]
    model = MLP([splits.x_train.shape[1], *hidden, output], activation=args.activation, init=args.init,
                seed=seed, l2=args.l2)
    optimizer = make_optimizer(args.optimizer, args.lr, momentum=args.momentum)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.patience,
                         schedule=args.schedule, seed=seed, stop_after=getattr(args, "stop_after", None),
                         progress=(not args.no_progress) if progress is None else progress,
                         log_epochs=progress is None)  # Part 4's many runs log one line each instead
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported instead
        result = fit(model, optimizer, splits.x_train, splits.y_train, splits.x_val, splits.y_val, config, desc)
    return model, result


def evaluate_binary(model: MLP, splits: FlatSplits) -> dict:
    """Test metrics at threshold 0.5 and at the threshold that maximizes validation accuracy.

    Scores are P(airplane), whatever label airplane has, so ROC-AUC is airplane-vs-rest.
    """
    airplane = splits.class_names.index("airplane")

    def airplane_scores(x):
        p1 = model.probabilities(x)
        return p1 if airplane == 1 else 1 - p1

    def predict(scores, threshold):
        is_airplane = scores >= threshold
        return np.where(is_airplane, airplane, 1 - airplane)

    val_scores, test_scores = airplane_scores(splits.x_val), airplane_scores(splits.x_test)
    y_val_airplane = (splits.y_val == airplane).astype(np.int64)
    threshold = M.best_threshold(y_val_airplane, val_scores)
    auc = M.roc_auc((splits.y_test == airplane).astype(np.int64), test_scores)  # threshold-free: once
    results = {}
    for name, t in (("validation_threshold", threshold), ("threshold_0.5", 0.5)):
        summary = M.classification_summary(splits.y_test, predict(test_scores, t), splits.class_names)
        results[name] = {**summary, "roc_auc": auc, "threshold": t}
    results["validation_accuracy_at_threshold"] = M.accuracy(splits.y_val, predict(val_scores, threshold))
    return results


def evaluate_multiclass(model: MLP, splits: FlatSplits) -> dict:
    """Test metrics of the argmax predictions."""
    predictions = model.logits(splits.x_test).argmax(axis=1)
    return M.classification_summary(splits.y_test, predictions, splits.class_names)


def threshold_table(chosen: dict, half: dict) -> str:
    """Markdown table of the test figures at the validation-chosen threshold and at 0.5."""
    rows = [k for k, v in chosen.items() if isinstance(v, float)]
    lines = [f"| test metric | threshold {chosen['threshold']:.3f} (chosen on validation) | threshold 0.5 |",
             "|---|---:|---:|"]
    lines += [f"| {k} | {chosen[k]:.4f} | {half[k]:.4f} |" for k in rows if k != "threshold"]
    return "\n".join(lines)


def _ordered_headline(summary: dict, binary: bool) -> dict:
    keys = ["accuracy", "balanced_accuracy", "roc_auc", "macro_f1"] if binary else \
        ["accuracy", "balanced_accuracy", "macro_f1"]
    head = {k: summary[k] for k in keys if k in summary}
    if binary:
        head.update({k: v for k, v in summary.items() if k.startswith("f1_")})
        head["threshold"] = summary["threshold"]
    head.update({k: v for k, v in summary.items() if k not in head})
    return head


def run_mlp_part(args: argparse.Namespace, *, part: str, title: str, task: str) -> int:
    """Train, evaluate once on test, and write ``args.out``. Returns the process exit code."""
    total_start = time.perf_counter()
    out = ensure_writable(args.out)
    splits, source = load_splits(args, task)
    binary = task == "binary"
    model, result = train_mlp(args, splits, desc=part)
    log.info("trained %d parameters for %d epochs in %.1f s; best epoch %d (validation loss %.4f)%s",
             model.n_params, len(result.history), result.train_seconds, result.best_epoch,
             result.best_val_loss, f"; {result.note}" if result.note else "")
    with timed("evaluating on the test set"):
        if binary:
            evaluation = evaluate_binary(model, splits)
            test = _ordered_headline(evaluation["validation_threshold"], True)
            half = _ordered_headline(evaluation["threshold_0.5"], True)
            extra = {"test_at_threshold_0.5": half, "extra_tables": {"Decision threshold": threshold_table(test, half)}}
            validation = {"accuracy_at_threshold": evaluation["validation_accuracy_at_threshold"]}
        else:
            test = _ordered_headline(evaluate_multiclass(model, splits), False)
            extra, validation = {}, {}
    metrics = {
        "part": part, "title": title, "status": result.status, "status_note": result.note,
        "task": task, "classes": list(splits.class_names), "parameters": model.n_params,
        "model": {"sizes": model.sizes, "activation": model.activation, "init": model.init},
        "data_sizes": {"train": len(splits.x_train), "validation": len(splits.x_val), "test": len(splits.x_test)},
        "throughput": {"train_images_per_second": len(splits.x_train) * len(result.history)
                       / max(result.train_seconds, 1e-9)},
        "test": test, **extra,
        "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "validation": {**validation, "best_loss": result.best_val_loss,
                       "best_accuracy": next((h["val_acc"] for h in result.history
                                              if h["epoch"] == result.best_epoch), None)},
        "history": result.history, "config": model_config(args), "seed": args.seed,
        "timing": {"train_seconds": result.train_seconds,
                   "seconds_per_epoch": result.train_seconds / max(1, len(result.history))},
        "environment": environment_info("cpu"), "git_commit": git_commit(), "data_source": source,
    }
    if binary:
        metrics["baseline"] = {"majority_class": splits.class_names[M.majority_class(splits.y_train)],
                               "majority_accuracy": M.majority_baseline_accuracy(splits.y_train, splits.y_test)}
    figures = {
        "confusion_matrix.png": plot_confusion_matrix(np.array(test["confusion_matrix"]), splits.class_names,
                                                      f"{title}: test confusion matrix"
                                                      + (f" (threshold {test['threshold']:.3f})" if binary else "")),
        "loss_curve.png": plot_history(result.history, f"{title}: loss and accuracy per epoch", result.best_epoch),
    }
    metrics["timing"]["total_seconds"] = time.perf_counter() - total_start
    with timed(f"writing the report to {out}"):
        write_run_report(out, metrics, figures)
    _log_headline(metrics, binary)
    if result.status == STATUS_DIVERGED:
        log.error("diverged: %s", result.note)
        return EXIT_DIVERGED
    if result.status == STATUS_INCOMPLETE:
        log.warning("incomplete: %s Reports written to %s.", result.note, out)
        return EXIT_INTERRUPTED
    return 0


def _log_headline(metrics: dict, binary: bool) -> None:
    test = metrics["test"]
    if binary:
        half = metrics["test_at_threshold_0.5"]
        log.info("test accuracy %.4f (threshold %.3f from validation; %.4f at 0.5), ROC-AUC %.4f, balanced "
                 "accuracy %.4f, F1 %s; majority baseline %.4f", test["accuracy"], test["threshold"],
                 half["accuracy"], test["roc_auc"], test["balanced_accuracy"],
                 ", ".join(f"{k[3:]} {v:.4f}" for k, v in test.items() if k.startswith("f1_")),
                 metrics["baseline"]["majority_accuracy"])
    else:
        log.info("test accuracy %.4f, macro F1 %.4f", test["accuracy"], test["macro_f1"])
    log.info("total %.1f s", metrics["timing"]["total_seconds"])
