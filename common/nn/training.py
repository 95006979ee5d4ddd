"""Mini-batch training of the numpy networks: CS231n's Solver, trimmed to this course.

    solver = Solver(model, optimizer, x_train, y_train, TrainConfig(epochs=20), validation=(x_val, y_val))
    result = solver.train()

``train`` runs epochs of ``_step`` (one mini-batch: forward, backward, optimizer update) over a
fresh shuffle of the training set. After every epoch ``check_accuracy`` measures the validation
split; the model keeps the parameters of the epoch with the lowest validation loss, and training
stops after ``patience`` epochs without a better one. Without a validation split every epoch is
trained and the last one is kept: nothing can be chosen. ``test`` data, when given, are measured
for the curves only (after each of the first 100 epochs, then more sparsely: ``measures_test``), and a
``probe`` batch of training images, when given, says how the hidden units behave (``MLP.unit_activity``:
dead and saturated units) after every epoch.

A non-finite loss stops training (status "diverged"); Ctrl-C stops it (status "incomplete").
With a checkpoint path the whole state (parameters, optimizer, random generator, history) is
saved at an epoch's end at most every ``checkpoint_seconds`` (``_save_checkpoint``), and
``train(resume=True)`` continues from it with the numbers an uninterrupted run gives.
"""
from __future__ import annotations

import io
import json
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger("cifar.nn")

STATUS_COMPLETE, STATUS_INCOMPLETE, STATUS_DIVERGED = "complete", "incomplete", "diverged"
SCHEDULES = ("constant", "cosine")
DENSE_TEST_EPOCHS = 100  # the test curve is measured after each of a run's first 100 epochs,
TEST_POINTS = 100  # then after every (epochs // 100)-th one, and after the last


def measures_test(epoch: int, epochs: int) -> bool:
    """Whether the test data (for the curves only) are measured after 1-based ``epoch`` of a run of ``epochs``: each
    of the first DENSE_TEST_EPOCHS, then every (epochs // TEST_POINTS)-th, and the last. A 1000-epoch run measures
    them 190 times, not 1000: each measurement is a forward pass over 10,000 images, a tenth of a 50,000-image
    epoch's arithmetic, and where the curve has settled every tenth point draws the same line."""
    return epoch <= DENSE_TEST_EPOCHS or epoch >= epochs or epoch % max(1, epochs // TEST_POINTS) == 0


@dataclass(frozen=True)
class TrainConfig:
    """How to train; the model and optimizer are built by the caller."""

    epochs: int = 100  # epochs of the schedule (an upper bound when early stopping is on)
    batch_size: int = 64  # images per optimizer step
    patience: int = 10  # epochs without a better validation loss before stopping; 0 = never stop early
    schedule: str = "constant"  # learning rate per epoch: "constant", or "cosine" from lr towards 0 over epochs
    stop_after: int | None = None  # train only the first epochs of the schedule (a learning-rate trial)
    seed: int = 0  # the shuffling

    @property
    def last_epoch(self) -> int:
        """The last epoch this config trains: ``stop_after``'s, or the schedule's."""
        return min(self.epochs, self.stop_after or self.epochs)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; choose from {SCHEDULES}")


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)  # one record per epoch (see Solver.train)
    best_epoch: int = 0  # the epoch whose parameters the model holds
    best_val_loss: float = math.inf
    status: str = STATUS_COMPLETE
    note: str = ""
    train_seconds: float = 0.0  # all epochs, resumed ones included
    resumed_after: int = 0  # epochs a checkpoint had already done (0 = trained from scratch)
    best_val_acc: float = math.nan  # validation accuracy of the best epoch (the CNN trainer chooses on it)
    images_per_second: float = 0.0  # training images over train_seconds, every epoch of the history counted
    segments: list[dict] = field(default_factory=list)  # CNN: each stretch of epochs and its code and precision


def scheduled_lr(base_lr: float, schedule: str, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based ``epoch``: constant, or cosine from base_lr towards 0."""
    if schedule == "constant":
        return base_lr
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    raise ValueError(f"unknown schedule {schedule!r}; choose from {SCHEDULES}")


class Solver:
    """Trains ``model`` (an ``MLP``) in place with ``optimizer`` (from ``optim.py``).

    x_train: (N, D) float32; y_train: (N,) int labels; validation and test: (x, y) pairs alike.
    ``on_epoch(record)`` is called after every epoch (progress bars and logs live outside the core).
    """

    def __init__(self, model, optimizer, x_train: np.ndarray, y_train: np.ndarray, config: TrainConfig, *,
                 validation: tuple[np.ndarray, np.ndarray] | None = None,
                 test: tuple[np.ndarray, np.ndarray] | None = None,
                 probe: np.ndarray | None = None,
                 checkpoint: Path | None = None, checkpoint_tag: str = "", checkpoint_seconds: float = 30.0,
                 on_epoch: Callable[[dict], None] | None = None):
        if config.patience and validation is None:
            raise ValueError("early stopping (patience > 0) needs a validation split")
        self.model, self.optimizer, self.config = model, optimizer, config
        self.x_train, self.y_train = x_train, y_train
        self.validation, self.test, self.probe = validation, test, probe
        self.checkpoint, self.checkpoint_tag, self.checkpoint_seconds = checkpoint, checkpoint_tag, checkpoint_seconds
        self.on_epoch = on_epoch
        self.base_lr = optimizer.lr
        self.rng = np.random.default_rng(config.seed)
        self.epoch = 0  # epochs completed
        self.result = FitResult()
        self.best_state = model.state()
        self._batch = np.empty((min(config.batch_size, len(x_train)), x_train.shape[1]), dtype=x_train.dtype)

    # ------------------------------------------------------------------ the loop

    def train(self, resume: bool = False) -> FitResult:
        """Run the epochs; the history records per epoch: epoch, train_loss, train_acc (running means
        over the epoch's batches), val_loss and val_acc (with a validation split), test_loss and
        test_acc (with test data, after the epochs ``measures_test`` picks), dead_units and saturated_units
        (with a probe batch and a hidden layer; saturated_units for sigmoid and tanh), lr, seconds."""
        if resume:
            self._load_checkpoint()
        config, result = self.config, self.result
        last_epoch = config.last_epoch
        seconds_before, start = result.train_seconds, time.perf_counter()
        saved_at = time.perf_counter()
        try:
            with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and reported instead
                while self.epoch < last_epoch:
                    record = self._epoch(self.epoch + 1)
                    self.epoch += 1
                    result.history.append(record)
                    result.train_seconds = seconds_before + time.perf_counter() - start
                    if self.validation is None or record["val_loss"] < result.best_val_loss:
                        result.best_val_loss = record.get("val_loss", math.nan)
                        result.best_val_acc = record.get("val_acc", math.nan)
                        result.best_epoch, self.best_state = self.epoch, self.model.state()
                    if self.on_epoch is not None:
                        self.on_epoch(record)
                    if config.patience and self.epoch - result.best_epoch >= config.patience:
                        result.note = (f"early stop after epoch {self.epoch}: no better validation loss for "
                                       f"{config.patience} epochs")
                        break
                    if self.checkpoint and time.perf_counter() - saved_at >= self.checkpoint_seconds:
                        self._save_checkpoint()
                        saved_at = time.perf_counter()
        except _Diverged as diverged:
            result.status = STATUS_DIVERGED
            result.note = (f"the loss became {diverged.loss} in epoch {diverged.epoch}; training stopped. "
                           f"Try a lower learning rate (e.g. --lr {self.base_lr / 10:g}). Reported parameters are "
                           f"those of epoch {result.best_epoch}, the best before that.")
        except KeyboardInterrupt:
            result.status = STATUS_INCOMPLETE
            result.note = (f"interrupted during epoch {self.epoch + 1}; reported parameters are those of epoch "
                           f"{result.best_epoch}" + (", and --resume continues from the last checkpoint."
                                                     if self.checkpoint and self.checkpoint.exists() else "."))
        finally:
            self.optimizer.lr = self.base_lr
            result.train_seconds = seconds_before + time.perf_counter() - start
            result.images_per_second = len(self.x_train) * len(result.history) / max(result.train_seconds, 1e-9)
        if self.checkpoint and result.status != STATUS_INCOMPLETE:
            self.checkpoint.unlink(missing_ok=True)  # served its purpose: the caller saves the final model
        self.model.load_state(self.best_state)
        return result

    def _epoch(self, epoch: int) -> dict:
        """One pass over a fresh shuffle of the training set, then the measurements."""
        config = self.config
        epoch_start = time.perf_counter()
        self.optimizer.lr = scheduled_lr(self.base_lr, config.schedule, epoch - 1, config.epochs)
        n = len(self.x_train)
        order = self.rng.permutation(n)
        loss_sum, correct = 0.0, 0
        for i in range(0, n, config.batch_size):
            idx = order[i:i + config.batch_size]
            loss, batch_correct = self._step(idx)
            if not math.isfinite(loss):
                raise _Diverged(epoch, loss)
            loss_sum += loss * len(idx)
            correct += batch_correct
        self.optimizer.flush_subnormals()  # once an epoch: cheap, and enough to keep its updates fast
        record = {"epoch": epoch, "train_loss": loss_sum / n, "train_acc": correct / n}
        test = self.test if measures_test(epoch, config.last_epoch) else None
        for name, split in (("val", self.validation), ("test", test)):
            if split is not None:
                record[f"{name}_loss"], record[f"{name}_acc"] = self.check_accuracy(*split)
        if not math.isfinite(record.get("val_loss", 0.0)):
            raise _Diverged(epoch, record["val_loss"])
        if self.probe is not None:
            record.update(self.model.unit_activity(self.probe))
        record.update(lr=self.optimizer.lr, seconds=time.perf_counter() - epoch_start)
        return record

    def _step(self, idx: np.ndarray) -> tuple[float, int]:
        """Forward, backward and one optimizer update on the training rows ``idx`` (B,).
        Returns the batch's mean loss and how many of its images were classified right."""
        xb = self._batch[:len(idx)]
        # Gather into a small reused buffer; mode="clip" skips the bounds checks (indices come from a
        # permutation) that make np.take buffer its output twice.
        np.take(self.x_train, idx, axis=0, out=xb, mode="clip")
        yb = self.y_train[idx]
        loss, grads, logits = self.model.loss_and_grads(xb, yb)
        if math.isfinite(loss):
            self.optimizer.step(self.model.params, grads)
        return loss, int(np.sum(self.model.predictions(logits) == yb))

    def check_accuracy(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
        """Mean loss (without the L2 penalty) and accuracy of the current parameters on (x, y)."""
        return self.model.evaluate(x, y)

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self) -> None:
        """Everything ``train(resume=True)`` needs, as one .npz written then renamed (never half-written)."""
        arrays = {f"param.{i}": p for i, p in enumerate(self.model.params)}
        arrays.update({f"best.{i}": p for i, p in enumerate(self.best_state)})
        arrays.update({f"optim.{k}": v for k, v in self.optimizer.state_dict().items()})
        result = self.result
        meta = {"tag": self.checkpoint_tag, "epoch": self.epoch, "history": result.history,
                "best_epoch": result.best_epoch, "best_val_loss": result.best_val_loss,
                "best_val_acc": result.best_val_acc,
                "train_seconds": result.train_seconds, "rng": self.rng.bit_generator.state}
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        temporary = self.checkpoint.with_name(f".{self.checkpoint.name}.{os.getpid()}.tmp")
        try:
            temporary.write_bytes(buffer.getvalue())
            os.replace(temporary, self.checkpoint)
        finally:
            temporary.unlink(missing_ok=True)

    def _load_checkpoint(self) -> bool:
        """Restore the state of ``self.checkpoint`` when it exists and belongs to this run (same tag)."""
        if not self.checkpoint or not self.checkpoint.is_file():
            return False
        try:
            with np.load(self.checkpoint, allow_pickle=False) as archive:
                meta = json.loads(str(archive["meta"]))
                arrays = {key: archive[key] for key in archive.files if key != "meta"}
        except Exception as error:  # truncated or foreign: start afresh rather than fail a long run
            log.warning("checkpoint %s is unreadable (%s); training from scratch", self.checkpoint,
                        type(error).__name__)
            return False
        if meta.get("tag") != self.checkpoint_tag:
            log.warning("checkpoint %s belongs to another configuration; training from scratch", self.checkpoint)
            return False
        self.model.load_state([arrays[f"param.{i}"] for i in range(len(self.model.params))])
        self.best_state = [arrays[f"best.{i}"] for i in range(len(self.model.params))]
        self.optimizer.load_state_dict({k[len("optim."):]: v for k, v in arrays.items() if k.startswith("optim.")})
        self.rng.bit_generator.state = meta["rng"]
        self.epoch = meta["epoch"]
        self.result = FitResult(history=meta["history"], best_epoch=meta["best_epoch"],
                                best_val_loss=meta["best_val_loss"] if meta["best_val_loss"] is not None else math.inf,
                                best_val_acc=math.nan if meta.get("best_val_acc") is None else meta["best_val_acc"],
                                train_seconds=meta["train_seconds"], resumed_after=meta["epoch"])
        log.info("resuming from %s after epoch %d", self.checkpoint, self.epoch)
        return True


def checkpoint_epoch(path: Path, tag: str) -> int:
    """The epochs a Solver checkpoint at ``path`` has done, when it belongs to the run ``tag`` names (what
    ``train(resume=True)`` would continue from); 0 without one, or for one that is unreadable or another run's."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
    except Exception:  # missing, truncated or foreign: the run would start from scratch
        return 0
    return int(meta["epoch"]) if meta.get("tag") == tag else 0


class _Diverged(Exception):
    def __init__(self, epoch: int, loss: float):
        super().__init__(epoch, loss)
        self.epoch, self.loss = epoch, loss
