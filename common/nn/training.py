"""Mini-batch training for the numpy networks: shuffling, validation after every epoch,
early stopping with restore-best on validation loss, divergence and Ctrl-C handling."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from common.cli import log
from common.report import STATUS_COMPLETE, STATUS_DIVERGED, STATUS_INCOMPLETE


@dataclass
class TrainConfig:
    """epochs is an upper bound; training stops after ``patience`` epochs without a better
    validation loss (0 disables early stopping) and the best epoch's parameters are restored."""

    epochs: int = 100
    batch_size: int = 64
    patience: int = 10
    schedule: str = "constant"  # or "cosine": lr decays to 0 over ``epochs``
    stop_after: int | None = None  # train only the first epochs of this schedule (an lr-sweep trial)
    seed: int = 0
    progress: bool = True
    log_epochs: bool = True  # one log line per epoch when the progress bar is off

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    status: str = STATUS_COMPLETE
    note: str = ""
    train_seconds: float = 0.0


def scheduled_lr(base_lr: float, schedule: str, epoch: int, epochs: int) -> float:
    """Learning rate for 0-based ``epoch``: constant, or cosine from base_lr towards 0."""
    if schedule == "constant":
        return base_lr
    if schedule == "cosine":
        return base_lr * 0.5 * (1 + math.cos(math.pi * epoch / epochs))
    raise ValueError(f"unknown schedule {schedule!r}; choose 'constant' or 'cosine'")


def fit(model, optimizer, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
        y_val: np.ndarray, config: TrainConfig, desc: str = "training") -> FitResult:
    """Train ``model`` (an ``MLP``) in place and return the per-epoch history.

    x_*: (N, D) float32; y_*: (N,) int labels. The model ends holding the parameters of the
    epoch with the lowest validation loss. A non-finite loss stops training (status
    "diverged"); Ctrl-C stops it after restoring the best epoch (status "incomplete").
    """
    from tqdm import tqdm

    rng = np.random.default_rng(config.seed)
    n, batch = len(x_train), config.batch_size
    base_lr = optimizer.lr
    buffer = np.empty((min(batch, n), x_train.shape[1]), dtype=x_train.dtype)
    result = FitResult()
    best_state = model.state()
    start = time.perf_counter()
    last_epoch = min(config.epochs, config.stop_after or config.epochs)
    bar = tqdm(range(1, last_epoch + 1), desc=desc, unit="epoch", disable=not config.progress,
               dynamic_ncols=True)
    try:
        for epoch in bar:
            epoch_start = time.perf_counter()
            optimizer.lr = scheduled_lr(base_lr, config.schedule, epoch - 1, config.epochs)
            order = rng.permutation(n)
            loss_sum, correct = 0.0, 0
            for i in range(0, n, batch):
                idx = order[i:i + batch]
                xb = buffer[:len(idx)]
                # Gather into a small reused buffer; mode="clip" skips the bounds checks (indices
                # come from a permutation) that make np.take buffer its output twice.
                np.take(x_train, idx, axis=0, out=xb, mode="clip")
                yb = y_train[idx]
                loss, grads, logits = model.loss_and_grads(xb, yb)
                if not math.isfinite(loss):
                    raise _Diverged(epoch, loss)
                optimizer.step(model.params, grads)
                loss_sum += loss * len(idx)
                correct += int(np.sum(model.predictions(logits) == yb))
            val_loss, val_acc = model.evaluate(x_val, y_val)
            if not math.isfinite(val_loss):
                raise _Diverged(epoch, val_loss)
            result.history.append({"epoch": epoch, "train_loss": loss_sum / n, "train_acc": correct / n,
                                   "val_loss": val_loss, "val_acc": val_acc, "lr": optimizer.lr,
                                   "seconds": time.perf_counter() - epoch_start})
            if val_loss < result.best_val_loss:
                result.best_val_loss, result.best_epoch, best_state = val_loss, epoch, model.state()
            bar.set_postfix(loss=f"{loss_sum / n:.4f}", val_loss=f"{val_loss:.4f}", val_acc=f"{val_acc:.4f}")
            if not config.progress and config.log_epochs:
                log.info("%s epoch %d/%d: loss %.4f, validation loss %.4f, accuracy %.4f (%.1f s)", desc, epoch,
                         config.epochs, loss_sum / n, val_loss, val_acc, result.history[-1]["seconds"])
            if config.patience and epoch - result.best_epoch >= config.patience:
                result.note = f"early stop after epoch {epoch}: no better validation loss for {config.patience} epochs"
                break
    except _Diverged as diverged:
        result.status = STATUS_DIVERGED
        result.note = (f"the loss became {diverged.loss} in epoch {diverged.epoch}; training stopped. "
                       f"Try a lower learning rate (e.g. --lr {base_lr / 10:g}). Reported parameters are "
                       f"those of the best epoch before that ({result.best_epoch}).")
    except KeyboardInterrupt:
        result.status = STATUS_INCOMPLETE
        result.note = (f"interrupted during epoch {len(result.history) + 1}; reported parameters are those "
                       f"of the best completed epoch ({result.best_epoch}).")
    finally:
        bar.close()
        optimizer.lr = base_lr
    model.load_state(best_state)
    result.train_seconds = time.perf_counter() - start
    return result


class _Diverged(Exception):
    def __init__(self, epoch: int, loss: float):
        super().__init__(epoch, loss)
        self.epoch, self.loss = epoch, loss
