"""The MLP pipeline of Parts 1-4: from a config to a report folder.

    config = MLPConfig(task="binary", hidden=(), lr=0.01)   # what to train: saved whole in metrics.json
    run_mlp_part("part1", config, RunOptions(out=Path("reports/part1")))

``run_mlp_part`` holds the report folder, loads the data (``load_splits``), trains with the numpy
core's Solver (``train_mlp``), evaluates the test set once (``evaluate_binary`` /
``evaluate_multiclass``) and writes metrics.json, summary.md and the figures. With a validation
split, validation picks the epoch and (binary task) the decision threshold; without one (the
report 000's recipe) the last epoch and the threshold 0.5 are reported, and the test set is
watched every epoch for the curves only.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import numpy as np

from common import metrics
from common.console import EXIT_DIVERGED, EXIT_INTERRUPTED, epoch_progress, log, timed
from common.data.cifar10 import N_TEST, N_TRAIN, Cifar10, data_fingerprint, load_cifar10
from common.data.preprocess import FlatSplits, flat_splits, hold_out_test
from common.errors import UserError, check_ranges
from common.experiments.record import (
    OtherWork,
    RunOptions,
    config_dict,
    keep_complete_run,
    keeps_complete_record,
    new_run_id,
    print_estimate,
    run_record,
    write_run_report,
)
from common.files import ReportFolder, atomic_write_npz
from common.nn.init import INITIALIZERS as _INITIALIZERS
from common.nn.layers import ACTIVATIONS as _ACTIVATIONS
from common.nn.losses import OUTPUT_GRADIENTS as _OUTPUT_GRADIENTS
from common.nn.network import MLP
from common.nn.optim import OPTIMIZERS as _OPTIMIZERS
from common.nn.optim import make_optimizer
from common.nn.training import (
    SCHEDULES,
    STATUS_DIVERGED,
    STATUS_INCOMPLETE,
    FitResult,
    Solver,
    TrainConfig,
    checkpoint_epoch,
    measures_test,
)

ACTIVATIONS, INITIALIZERS, OPTIMIZERS = sorted(_ACTIVATIONS), sorted(_INITIALIZERS), sorted(_OPTIMIZERS)
OUTPUT_GRADIENTS = sorted(_OUTPUT_GRADIENTS)
INPUT_SCALINGS = ("standardized", "unit")
TASKS = ("binary", "multiclass")
CHECKPOINT = "checkpoint.npz"
CHECKPOINT_SECONDS = 30.0  # a long run saves its state at most this often: Ctrl-C loses no more than this


@dataclass(frozen=True)
class MLPConfig:
    """Everything that decides an MLP run's numbers (saved whole in metrics.json)."""

    recipe: str = "tuned"  # the recipe these values come from
    task: str = "binary"  # "binary": airplane vs the rest; "multiclass": the ten classes
    # network
    hidden: tuple[int, ...] = ()  # hidden layer widths; () is logistic regression (Part 1's neuron)
    activation: str = "sigmoid"  # hidden activation: sigmoid, relu, tanh, or identity (linear control)
    # weights: small N(0, 0.01^2), he N(0, 2/fan_in), xavier N(0, 2/(fan_in+fan_out)), lecun N(0, 1/fan_in)
    init: str = "xavier"
    output_init: str = ""  # the output layer's weights, when they start otherwise ('': as init)
    # optimization
    optimizer: str = "sgd"  # sgd, momentum or adam
    lr: float = 0.01  # learning rate (the start of a cosine schedule)
    momentum: float = 0.9  # beta of the momentum optimizer
    l2: float = 0.0  # L2 penalty on the weights: loss += l2 / 2 * sum(w^2)
    # binary task: the gradient at the sigmoid output. cross_entropy: p - y, the loss's own; squared_error:
    # (p - y) p (1 - p), as report 000's code computes while it reports the cross-entropy (common/nn/losses.py)
    output_gradient: str = "cross_entropy"
    batch_size: int = 64  # images per step; gradients are batch means
    epochs: int = 100  # epochs of the schedule
    patience: int = 10  # early stopping: epochs without a better validation loss; 0 = train every epoch
    schedule: str = "constant"  # learning rate per epoch: constant, or cosine towards 0 over the epochs
    # data
    inputs: str = "standardized"  # standardized per pixel with the training images' statistics, or unit: /255
    hflip: bool = False  # add a left-right mirrored copy of every training image
    airplane_label: int = 1  # binary task: 1 makes airplane the positive class; 0 is report 000's convention
    val_size: int = 5000  # validation images carved from the 50,000; 0 trains on all of them, choosing nothing
    train_subset: int | None = None  # train on a random N of the training images (quick checks)
    # a random N of the 50,000 training images as the test set instead of CIFAR-10's (a report that split
    # its own: report 001 held out 10,000); validation and training come from the rest
    test_from_train: int = 0
    seed: int = 0  # initialization, shuffling and the split

    # Settings that change no result (the label of where the values came from); every other field does.
    # How a run is run (progress, output folder, workers, ...) lives in RunOptions and changes none either.
    RESULT_NEUTRAL: ClassVar[frozenset[str]] = frozenset({"recipe"})

    def __post_init__(self):
        if any(h < 0 for h in self.hidden):
            raise UserError(f"hidden layer widths must be positive (0 or none: no hidden layer), got {self.hidden}")
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden if h > 0))
        check_ranges(self, {"lr": (0, False), "momentum": (0, True), "l2": (0, True), "batch_size": (1, True),
                            "epochs": (1, True), "patience": (0, True), "val_size": (0, True),
                            "train_subset": (1, True), "seed": (0, True), "test_from_train": (0, True)})
        if self.airplane_label not in (0, 1):
            raise UserError(f"airplane_label is 0 or 1 (the airplane class's label), got {self.airplane_label!r}")
        if self.output_init and self.output_init not in INITIALIZERS:
            raise UserError(f"unknown output_init {self.output_init!r}; choose from {', '.join(INITIALIZERS)} (or '' "
                            f"for the same as init)")
        for name, allowed in (("task", TASKS), ("activation", ACTIVATIONS), ("init", INITIALIZERS),
                              ("output_gradient", OUTPUT_GRADIENTS),
                              ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("inputs", INPUT_SCALINGS)):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown {name} {getattr(self, name)!r}; choose from {', '.join(allowed)}.")
        if self.patience and not self.val_size:
            raise UserError(f"early stopping (patience {self.patience}) needs a validation split: give "
                            f"--val-size N or --patience 0.")
        if self.val_size >= N_TRAIN:
            raise UserError(f"--val-size {self.val_size} leaves no training images; use fewer than {N_TRAIN}.")

    def inert_settings(self) -> dict[str, str]:
        """{setting: why it cannot act in this config}: a flag given for one of them is refused."""
        inert = {}
        if not self.hidden:
            inert["activation"] = "the network has no hidden layer (--hidden is empty), so no activation is applied"
        if self.optimizer != "momentum":
            inert["momentum"] = f"only the momentum optimizer uses it, and this run's optimizer is {self.optimizer}"
        if self.task != "binary":
            inert["airplane_label"] = "only the binary task (airplane vs the rest) has an airplane label"
            inert["output_gradient"] = "only the binary task's sigmoid output has a choice of gradient (softmax + " \
                                       "cross-entropy always trains with p - y)"
        return inert

    @property
    def sizes(self) -> list[int]:
        """Layer sizes from the 3072 pixels to the output (one logit for the binary task)."""
        return [3072, *self.hidden, 1 if self.task == "binary" else 10]

    @property
    def watches_test(self) -> bool:
        """Without a validation split the test set is measured for the curves only (``measures_test`` says after which
        epochs)."""
        return self.val_size == 0


# ----------------------------------------------------------------------------- data

def load_splits(config: MLPConfig, run: RunOptions) -> tuple[FlatSplits, Cifar10]:
    """Data set -> flat splits as the config asks; also the data set itself (its test images, source
    and fingerprint)."""
    with timed("loading CIFAR-10"):
        data = load_cifar10(run.data, progress=run.progress)
    data = hold_out_test(data, config.test_from_train, config.seed)
    with timed("preparing the arrays (split, flatten, scale)"):
        splits = flat_splits(data, task=config.task, val_size=config.val_size, seed=config.seed,
                             train_subset=config.train_subset, airplane_label=config.airplane_label,
                             hflip_train=config.hflip, standardize=config.inputs == "standardized")
    log.info("train %s, validation %s, test %s; classes %s", splits.x_train.shape,
             "none" if splits.x_val is None else splits.x_val.shape, splits.x_test.shape,
             ", ".join(splits.class_names))
    return splits, data


def training_images(config: MLPConfig) -> int:
    n = min(config.train_subset or N_TRAIN, N_TRAIN - config.test_from_train - config.val_size)
    return 2 * n if config.hflip else n


# ----------------------------------------------------------------------------- training

def build_mlp(config: MLPConfig) -> MLP:
    return MLP(config.sizes, activation=config.activation, init=config.init, seed=config.seed, l2=config.l2,
               output_gradient=config.output_gradient, output_init=config.output_init or config.init)


PROBE_IMAGES = 512  # training images the hidden units' activity is measured on after each epoch (MLP.unit_activity)


def probe_images(x_train: np.ndarray) -> np.ndarray:
    """PROBE_IMAGES rows of x_train (N, D), spread evenly over it: the same batch for every run on the same data."""
    return x_train[np.linspace(0, len(x_train) - 1, min(PROBE_IMAGES, len(x_train))).astype(int)]


def train_mlp(config: MLPConfig, splits: FlatSplits, *, desc: str = "training", progress: bool = True,
              log_epochs: bool = True, stop_after: int | None = None, checkpoint: Path | None = None,
              checkpoint_tag: str = "", resume: bool = False) -> tuple[MLP, FitResult]:
    """Build the MLP the config describes and train it on ``splits`` with the numpy Solver.

    ``stop_after`` ends training after that many epochs of the full schedule (a learning-rate trial).
    """
    model = build_mlp(config)
    optimizer = make_optimizer(config.optimizer, config.lr, momentum=config.momentum)
    schedule = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, patience=config.patience,
                           schedule=config.schedule, stop_after=stop_after, seed=config.seed)
    with epoch_progress(schedule.last_epoch, desc, bar=progress, log_lines=log_epochs) as on_epoch:
        solver = Solver(model, optimizer, splits.x_train, splits.y_train, schedule, validation=splits.validation,
                        test=(splits.x_test, splits.y_test) if config.watches_test else None,
                        probe=probe_images(splits.x_train), checkpoint=checkpoint, checkpoint_tag=checkpoint_tag,
                        checkpoint_seconds=CHECKPOINT_SECONDS,
                        on_epoch=on_epoch)
        result = solver.train(resume=resume)
    return model, result


def checkpoint_tag(config: MLPConfig, fingerprint: str) -> str:
    """What a checkpoint must match to be resumed: the whole config and the data."""
    return json.dumps({"config": config_dict(config), "data": fingerprint}, sort_keys=True)


# ----------------------------------------------------------------------------- evaluation

def evaluate_binary(model: MLP, splits: FlatSplits) -> dict:
    """Test figures at the threshold that maximizes validation accuracy (when there is a validation
    split) and at 0.5. Scores are P(airplane), whatever label airplane has, so ROC-AUC is
    airplane vs rest. Returns {"chosen": ..., "at_0.5": ..., "probabilities": (N, 2), ...}."""
    airplane = splits.class_names.index("airplane")

    def airplane_scores(x):
        p1 = model.probabilities(x)
        return p1 if airplane == 1 else 1 - p1

    def predict(scores, threshold):
        return np.where(scores >= threshold, airplane, 1 - airplane)

    test_scores = airplane_scores(splits.x_test)
    is_airplane = (splits.y_test == airplane).astype(np.int64)
    auc = metrics.roc_auc(is_airplane, test_scores)  # threshold-free: computed once
    average_precision = metrics.average_precision(is_airplane, test_scores)
    evaluation = {}
    thresholds = {"at_0.5": 0.5}
    if splits.x_val is not None:
        val_scores = airplane_scores(splits.x_val)
        threshold = metrics.best_threshold((splits.y_val == airplane).astype(np.int64), val_scores)
        thresholds["chosen"] = threshold
        evaluation["validation_accuracy_at_threshold"] = metrics.accuracy(splits.y_val, predict(val_scores, threshold))
    for name, t in thresholds.items():
        summary = metrics.classification_summary(splits.y_test, predict(test_scores, t), splits.class_names)
        evaluation[name] = _headline_first({**summary, "roc_auc": auc, "average_precision": average_precision,
                                            "threshold": t}, binary=True)
    evaluation.setdefault("chosen", evaluation["at_0.5"])
    probabilities = np.zeros((len(test_scores), 2), np.float32)
    probabilities[:, airplane], probabilities[:, 1 - airplane] = test_scores, 1 - test_scores
    evaluation["probabilities"] = probabilities
    return evaluation


def evaluate_multiclass(model: MLP, splits: FlatSplits) -> dict:
    """Test figures of the argmax predictions, and the class probabilities (N, K)."""
    probabilities = model.probabilities(splits.x_test).astype(np.float32)
    summary = metrics.classification_summary(splits.y_test, probabilities.argmax(axis=1), splits.class_names)
    return {"chosen": _headline_first(summary, binary=False), "probabilities": probabilities}


def _headline_first(summary: dict, binary: bool) -> dict:
    keys = ["accuracy", "balanced_accuracy", "roc_auc", "average_precision", "macro_f1"] if binary else \
        ["accuracy", "balanced_accuracy", "macro_f1"]
    head = {k: summary[k] for k in keys if k in summary}
    if binary:
        head.update({k: v for k, v in summary.items() if k.startswith("f1_")})
        head["threshold"] = summary["threshold"]
    head.update({k: v for k, v in summary.items() if k not in head})
    return head


def threshold_table(chosen: dict, half: dict) -> str:
    """Markdown table of the test figures at the validation-chosen threshold and at 0.5."""
    rows = [k for k, v in chosen.items() if isinstance(v, float) and k != "threshold"]
    lines = [f"| test metric | threshold {chosen['threshold']:.3f} (chosen on validation) | threshold 0.5 |",
             "|---|---:|---:|"]
    lines += [f"| {k} | {chosen[k]:.4f} | {half[k]:.4f} |" for k in rows]
    return "\n".join(lines)


def save_run_arrays(out: Path, model: MLP, splits: FlatSplits, probabilities: np.ndarray,
                    predictions: np.ndarray, run_id: str | None = None) -> None:
    """model.npz (the weights the figures draw) and predictions.npz (what the test set got), stamped with
    the run's id."""
    atomic_write_npz(out / "model.npz", run_id=run_id, sizes=np.array(model.sizes),
                     activation=np.array(model.activation),
                     **{f"W{i // 2 + 1}" if i % 2 == 0 else f"b{i // 2 + 1}": p for i, p in enumerate(model.params)})
    atomic_write_npz(out / "predictions.npz", run_id=run_id, y_true=splits.y_test,
                     y_pred=predictions.astype(np.int64),
                     probabilities=probabilities, class_names=np.array(splits.class_names))


# ----------------------------------------------------------------------------- the whole run

SHARED_BLAS_FROM = 4096  # images per step from which numpy's matrix products share the CPUs (BLAS threads)


@contextlib.contextmanager
def blas_threads_for(batch_size: int):
    """One BLAS thread for steps smaller than SHARED_BLAS_FROM images, else the threads as they are: a batch-64
    product is too small to split, and split it waits on the slowest thread, so beside any other busy process
    two threads ran a 3072-64-10 epoch 38 times slower than one (31.9 s against 0.83 s on a 2-core CPU)."""
    if batch_size >= SHARED_BLAS_FROM:
        yield
        return
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def run_mlp_part(part: str, config: MLPConfig, run: RunOptions) -> int:
    """Train, evaluate once on test, and write ``run.out``. Returns the process exit code."""
    with blas_threads_for(config.batch_size):
        return _run_mlp_part(part, config, run)


def _run_mlp_part(part: str, config: MLPConfig, run: RunOptions) -> int:
    if run.estimate:
        with OtherWork() as other:
            setup = preparation_seconds(config)  # first: its memory timing wants memory this process never had
            fastest, slowest = epoch_seconds(config)
        fingerprint = data_fingerprint(run.data) if run.resume else None
        done = checkpoint_epoch(run.out / CHECKPOINT, checkpoint_tag(config, fingerprint)) if fingerprint else 0
        left = config.epochs - done
        return print_estimate(part, config, run, fastest * left,
                              f"{left} epochs of {'-'.join(map(str, config.sizes))}"
                              + (f" (a checkpoint has done {done})" if done else ""), other, slowest * left,
                              preparation=setup)
    total_start = time.perf_counter()
    run_id = new_run_id()
    with ReportFolder(run.out) as out:
        if keep_complete_run(out, config, run):
            return 0
        splits, data = load_splits(config, run)
        binary = config.task == "binary"
        model, result = train_mlp(config, splits, desc=part, progress=run.progress, checkpoint=out / CHECKPOINT,
                                  checkpoint_tag=checkpoint_tag(config, data.fingerprint), resume=run.resume)
        log.info("trained %d parameters for %d epochs in %.1f s; reporting epoch %d%s", model.n_params,
                 len(result.history), result.train_seconds, result.best_epoch, f"; {result.note}" if result.note
                 else "")
        if keeps_complete_record(out, result.status, config):
            return EXIT_INTERRUPTED
        with timed("evaluating on the test set"):
            evaluation = evaluate_binary(model, splits) if binary else evaluate_multiclass(model, splits)
        test = evaluation["chosen"]
        predictions = np.asarray(_predictions_from(test, evaluation["probabilities"], splits, binary))
        save_run_arrays(out, model, splits, evaluation["probabilities"], predictions, run_id)
        record = run_record(part=part, recipe=config.recipe, status=result.status, status_note=result.note,
                            config=config, seed=config.seed, device="cpu", data_source=data.source,
                            data_fingerprint=data.fingerprint, run_id=run_id, recipe_config=run.recipe_config)
        record.update(mlp_sections(config, model, splits, result, evaluation))
        with timed(f"writing the record to {out}"):  # the figures are drawn from it (common/report/drawing.py)
            record = write_run_report(out, record, started=total_start)
    log_headline(record)
    return exit_code(result, out)


def _predictions_from(test: dict, probabilities: np.ndarray, splits: FlatSplits, binary: bool) -> np.ndarray:
    if not binary:
        return probabilities.argmax(axis=1)
    airplane = splits.class_names.index("airplane")
    return np.where(probabilities[:, airplane] >= test["threshold"], airplane, 1 - airplane)


def mlp_sections(config: MLPConfig, model: MLP, splits: FlatSplits, result: FitResult, evaluation: dict) -> dict:
    """The parts of metrics.json an MLP run adds to ``run_record``."""
    binary = config.task == "binary"
    best = next((h for h in result.history if h["epoch"] == result.best_epoch), {})
    sections = {
        "task": config.task, "classes": list(splits.class_names), "parameters": model.n_params,
        "model": {"sizes": model.sizes, "activation": model.activation, "init": model.init},
        "data_sizes": {"train": len(splits.x_train), "validation": 0 if splits.x_val is None else len(splits.x_val),
                       "test": len(splits.x_test)},
        "throughput": {"train_images_per_second": result.images_per_second},  # every epoch, resumed ones too
        "test": evaluation["chosen"], "best_epoch": result.best_epoch, "epochs_run": len(result.history),
        "history": result.history,
        "timing": {"train_seconds": result.train_seconds,
                   "seconds_per_epoch": result.train_seconds / max(1, len(result.history))},
    }
    if splits.x_val is not None:
        sections["validation"] = {"best_loss": result.best_val_loss, "best_accuracy": best.get("val_acc")}
    if binary:
        sections["baseline"] = {"majority_class": splits.class_names[metrics.majority_class(splits.y_train)],
                                "majority_accuracy": metrics.majority_baseline_accuracy(splits.y_train,
                                                                                        splits.y_test)}
        if splits.x_val is not None:
            sections["test_at_threshold_0.5"] = evaluation["at_0.5"]
            sections["validation"]["accuracy_at_threshold"] = evaluation["validation_accuracy_at_threshold"]
            sections["extra_tables"] = {"Decision threshold": threshold_table(evaluation["chosen"],
                                                                              evaluation["at_0.5"])}
    return sections


def exit_code(result: FitResult, out: Path) -> int:
    if result.status == STATUS_DIVERGED:
        log.error("diverged: %s", result.note)
        return EXIT_DIVERGED
    if result.status == STATUS_INCOMPLETE:
        log.warning("incomplete: %s Reports written to %s.", result.note, out)
        return EXIT_INTERRUPTED
    return 0


def log_headline(record: dict) -> None:
    test = record["test"]
    if record["task"] == "binary":
        log.info("test accuracy %.4f (threshold %.3f), ROC-AUC %.4f, balanced accuracy %.4f, F1 %s; majority "
                 "baseline %.4f", test["accuracy"], test["threshold"], test["roc_auc"], test["balanced_accuracy"],
                 ", ".join(f"{k[3:]} {v:.4f}" for k, v in test.items() if k.startswith("f1_")),
                 record["baseline"]["majority_accuracy"])
    else:
        log.info("test accuracy %.4f, macro F1 %.4f", test["accuracy"], test["macro_f1"])
    log.info("total %.1f s", record["timing"]["total_seconds"])


# ----------------------------------------------------------------------------- estimates

def epoch_seconds(config: MLPConfig, probe_rows: int = 4096, repeats: int = 3) -> tuple[float, float]:
    """One epoch of this network, measured here, as (fastest, slowest) of ``repeats`` timings: the real training
    loop over ``probe_rows`` random images at the config's batch size, scaled by the training images, plus the
    per-epoch validation or test pass. Scaled by images, not steps: a full-batch epoch of 40,000 images is ten
    times a 4,096-image one, though both are one step."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((probe_rows, 3072), dtype=np.float32)
    y = rng.integers(0, 2 if config.task == "binary" else 10, probe_rows)
    schedule = TrainConfig(epochs=1, batch_size=config.batch_size, patience=0)
    timings = []
    for rows in (256, *[probe_rows] * repeats):  # the first is a warm-up (allocator, BLAS threads)
        model = build_mlp(replace(config, seed=0))
        optimizer = make_optimizer(config.optimizer, config.lr, momentum=config.momentum)
        timings.append(Solver(model, optimizer, x[:rows], y[:rows], schedule).train().history[0]["seconds"])
    start = time.perf_counter()
    model.evaluate(x[:2048], y[:2048])
    tested = sum(measures_test(e, config.epochs) for e in range(1, config.epochs + 1)) / config.epochs
    images = config.val_size + (N_TEST * tested if config.watches_test else 0)  # measured after an epoch, on average
    evaluation = (time.perf_counter() - start) * images / 2048
    scale = training_images(config) / probe_rows
    return min(timings[1:]) * scale + evaluation, max(timings[1:]) * scale + evaluation


FRESH_MEMORY_SAMPLE = 256 * 2**20  # bytes of new memory fresh_memory_seconds touches


def fresh_memory_seconds(nbytes: int) -> float:
    """Seconds a new process spends touching ``nbytes`` of new memory for the first time, timed here on
    FRESH_MEMORY_SAMPLE bytes. Where a virtual machine's host backs each new page lazily, that first touch costs
    seconds a GB: Part 1's 1.3 GB of arrays took 11 s to prepare on a 2-core VM whose arithmetic needs one."""
    start = time.perf_counter()
    touched = np.ones(FRESH_MEMORY_SAMPLE // 4, dtype=np.float32)
    seconds = time.perf_counter() - start
    del touched
    return seconds * nbytes / FRESH_MEMORY_SAMPLE


def preparation_seconds(config: MLPConfig, sample: int = 4000, repeats: int = 3) -> float:
    """Seconds the run spends preparing its arrays (``flat_splits``: split, flatten, scale, standardize, mirror):
    the arithmetic timed here on ``sample`` random images and scaled to the run's, plus the first touch of the
    arrays' memory (``fresh_memory_seconds``; time it before other timings, which leave freed memory to reuse). A fixed
    cost that dominates short runs: Part 1's 20 epochs train in 6 s and wait 11 s for their data."""
    rows_of_run = training_images(config) + config.val_size + (config.test_from_train or N_TEST)
    first_touch = fresh_memory_seconds(rows_of_run * 3072 * 4)
    rng = np.random.default_rng(0)
    n_test = sample // 6
    images = rng.integers(0, 256, (sample + n_test, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(sample + n_test) % 10
    data = Cifar10(images[:sample], labels[:sample], images[sample:], labels[sample:],
                   tuple(f"class {i}" for i in range(10)), "timing sample")
    val_size = min(round(config.val_size * sample / N_TRAIN), sample // 2)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        splits = flat_splits(data, task=config.task, val_size=val_size, seed=0, airplane_label=config.airplane_label,
                             hflip_train=config.hflip, standardize=config.inputs == "standardized")
        timings.append(time.perf_counter() - start)
    seconds = min(timings)  # the others met a busy moment or fresh memory
    rows = len(splits.x_train) + val_size + n_test
    return seconds * rows_of_run / rows + first_touch


def seconds_per_epoch(config: MLPConfig, probe_rows: int = 4096, repeats: int = 3) -> float:
    """The fastest of ``epoch_seconds``: a busy moment only slows the others."""
    return epoch_seconds(config, probe_rows, repeats)[0]
