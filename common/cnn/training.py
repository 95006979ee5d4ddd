"""PyTorch training for Part 5, in the spirit of airbench: data lives on the device as uint8,
batches are normalized and augmented there (no per-sample Python work in the hot loop),
mixed precision and channels_last where they help, a checkpoint after every epoch.

Reading order: CNNConfig, DeviceData (and the augmentations), CNNSolver (train, _step, check_accuracy,
_save_checkpoint: the numpy Solver's shape), evaluate, checkpoints.
"""
from __future__ import annotations

import io
import json
import logging
import math
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from common.cnn.models import ABLATIONS, ADDITIONS, CHANGES, MODELS, build_model
from common.errors import CheckpointError, UserError, check_ranges
from common.files import atomic_write_bytes
from common.nn.training import STATUS_DIVERGED, STATUS_INCOMPLETE, FitResult

log = logging.getLogger("cifar")

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CHECKPOINT_FORMAT = "cifar10-suite-part5-v1"


@dataclass(frozen=True)
class CNNConfig:
    """Everything that decides a Part 5 training run (saved in metrics.json and checkpoints)."""

    recipe: str = "tuned"  # the recipe these values come from
    model: str = "improved"  # simple or improved
    ablation: str = "none"  # one change: ImprovedCNN without batch norm, dropout or its third block (no-batchnorm,
    # no-dropout, no-third-block), or SimpleCNN with batch norm (with-batchnorm); models.py CHANGES
    epochs: int = 30  # epochs of the schedule
    batch_size: int = 128  # images per step
    optimizer: str = "adam"  # adam: Adam(W), weight decay decoupled (with 0 exactly Adam); sgd: Nesterov momentum 0.9
    lr: float = 1e-3  # learning rate (the peak of a one-cycle schedule)
    weight_decay: float = 0.0  # L2 on every weight (decoupled with adam)
    schedule: str = "none"  # none, cosine or onecycle (stepped per batch)
    label_smoothing: float = 0.0  # share of the target spread evenly over the classes
    augment: bool = False  # random crop (reflect-pad 4) + horizontal flip
    cutout: int = 0  # side in pixels of a square zeroed at a random place in each training image; 0 = off
    tta: bool = False  # evaluate on the mean logits of each image and its mirror (validation and test alike)
    patience: int = 0  # early stopping on validation accuracy after this many epochs without a better one; 0 = off
    train_subset: int | None = None  # train on a random N of the training images (quick checks)
    val_size: int = 5000  # validation images carved from the 50,000; 0 trains on all of them, choosing nothing
    seed: int = 0  # initialization, shuffling, augmentation and the split
    amp: bool = True  # bfloat16 autocast where the device supports it
    channels_last: bool = True  # memory format of images and weights
    compile: str = "auto"  # torch.compile of the training forward: auto = reduce-overhead (CUDA graphs) on CUDA,
    # off elsewhere; or off, default, reduce-overhead, max-autotune. It falls back to eager if compiling fails.

    # Settings that change no result (the recipe's label); every other field does, amp, channels_last,
    # compile and seed included (they change the arithmetic or the random draws).
    RESULT_NEUTRAL: ClassVar[frozenset[str]] = frozenset({"recipe"})

    def __post_init__(self):
        for name, allowed in (("model", tuple(MODELS)), ("ablation", (*ABLATIONS, *ADDITIONS)),
                              ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES), ("compile", COMPILE_MODES)):
            if getattr(self, name) not in allowed:
                raise UserError(f"unknown {name} {getattr(self, name)!r}; choose from {', '.join(allowed)}.")
        check_ranges(self, {"epochs": (1, True), "batch_size": (1, True), "lr": (0, False), "weight_decay": (0, True),
                            "label_smoothing": (0, True), "cutout": (0, True), "patience": (0, True),
                            "train_subset": (1, True), "val_size": (0, True), "seed": (0, True)})
        if self.label_smoothing >= 1:
            raise UserError(f"label_smoothing is a share below 1, got {self.label_smoothing!r}")
        if self.ablation not in CHANGES[self.model]:
            other = next(m for m in CHANGES if self.ablation in CHANGES[m])
            raise UserError(f"--ablation {self.ablation} is a change of {other}'s network: it needs --model {other}.")
        if self.patience and not self.val_size:
            raise UserError(f"early stopping (patience {self.patience}) needs a validation split: give "
                            f"--val-size N or --patience 0.")

    def as_dict(self) -> dict:
        return asdict(self)


OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("none", "cosine", "onecycle")
COMPILE_MODES = ("auto", "off", "default", "reduce-overhead", "max-autotune")


# ----------------------------------------------------------------------------- device

def pick_device(requested: str = "auto") -> torch.device:
    """'auto' -> CUDA, else Apple MPS, else CPU; an explicit device must exist."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {requested} was asked for, but PyTorch sees no CUDA GPU here "
                        f"(torch {torch.__version__}); use --device cpu or --device auto.")
    if requested == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError("--device mps was asked for, but Apple MPS is not available here; use --device cpu or auto.")
    return torch.device(requested)


def autocast_supported(device: torch.device) -> bool:
    """bfloat16 autocast: always on CUDA; on a CPU only with AMX tiles. With AVX-512 BF16 alone, ImprovedCNN's
    step ran slower in bf16 than in fp32 (make bench: its CPU settings table), and a 2048 x 2048 bf16
    matrix product at half the fp32 rate."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and bool(torch.cpu._is_amx_tile_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


# ----------------------------------------------------------------------------- data on device

CROP_PAD = 4  # random-crop padding: the shifts drawn and the padding applied must agree

class DeviceData:
    """Images (N, 3, 32, 32) uint8 and labels (N,) int64 held on the device."""

    def __init__(self, images_nhwc: np.ndarray, labels: np.ndarray, device: torch.device):
        self.images = torch.from_numpy(np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))).to(device)
        self.labels = torch.from_numpy(labels.astype(np.int64)).to(device)
        self.device = device
        self.mean = torch.tensor(CIFAR10_MEAN, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(CIFAR10_STD, device=device).view(1, 3, 1, 1) * 255

    def __len__(self) -> int:
        return len(self.labels)

    def normalize(self, images_uint8: torch.Tensor) -> torch.Tensor:
        return (images_uint8.float() - self.mean) / self.std

    def batches(self, batch_size: int, *, shuffle: bool, augment: bool, channels_last: bool,
                generator: torch.Generator | None = None, cutout_size: int = 0):
        """Yield (normalized images, labels); shuffling and augmentation use ``generator``.

        The epoch's random numbers are drawn on the CPU up front and copied to the device once:
        a copy per step would make the host wait for the GPU at every step."""
        n = len(self)
        order = torch.randperm(n, generator=generator).to(self.device) if shuffle else None
        if augment:
            shifts, flips = draw_crop_flip(n, generator)
            shifts, flips = shifts.to(self.device), flips.to(self.device)
        if cutout_size:
            centres = draw_cutout_centres(n, generator, side=max(self.images.shape[-2:])).to(self.device)
        for start in range(0, n, batch_size):
            step = slice(start, start + batch_size)
            idx = order[step] if shuffle else step
            images, labels = self.images[idx], self.labels[idx]
            if augment:
                images = random_crop_flip(images, shifts[:, step], flips[step])
            images = self.normalize(images)
            if cutout_size:
                images = cutout(images, cutout_size, centres[:, step])
            yield (images.contiguous(memory_format=torch.channels_last) if channels_last else images), labels


def draw_crop_flip(n: int, generator: torch.Generator | None = None,
                   pad: int = CROP_PAD) -> tuple[torch.Tensor, torch.Tensor]:
    """Random draws for ``random_crop_flip`` of n images: shifts (2, n) in [0, 2*pad], flips (n,) bool."""
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    return shifts, flips


def random_crop_flip(images: torch.Tensor, shifts: torch.Tensor, flips: torch.Tensor,
                     pad: int = CROP_PAD) -> torch.Tensor:
    """Batched augmentation of (B, C, H, W) images: crop at (shifts[0], shifts[1]) after ``pad``
    reflect padding, then a horizontal flip where ``flips``. One gather for the whole batch.
    shifts (2, B) and flips (B,) come from ``draw_crop_flip``, on the images' device."""
    b, _, h, w = images.shape
    padded = nn.functional.pad(images.float(), (pad, pad, pad, pad), mode="reflect").to(images.dtype)
    rows = shifts[0][:, None] + torch.arange(h, device=images.device)[None]  # (B, H)
    cols = shifts[1][:, None] + torch.arange(w, device=images.device)[None]  # (B, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)
    batch = torch.arange(b, device=images.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]]  # (B, H, W, C)
    return cropped.permute(0, 3, 1, 2).contiguous()


def draw_cutout_centres(n: int, generator: torch.Generator | None = None, side: int = 32) -> torch.Tensor:
    """Random (row, column) centres (2, n) for ``cutout`` of n images of side x side pixels."""
    return torch.randint(0, side, (2, n), generator=generator)


def cutout(images: torch.Tensor, size: int, centres: torch.Tensor) -> torch.Tensor:
    """Cutout (DeVries & Taylor, 2017) on normalized (B, C, H, W) images: a ``size`` x ``size``
    square around each centre (2, B) (clipped at the border) is set to 0, the data mean."""
    _, _, h, w = images.shape
    low = centres - size // 2
    rows = torch.arange(h, device=images.device)[None, :]
    cols = torch.arange(w, device=images.device)[None, :]
    inside_rows = (rows >= low[0][:, None]) & (rows < low[0][:, None] + size)  # (B, H)
    inside_cols = (cols >= low[1][:, None]) & (cols < low[1][:, None] + size)  # (B, W)
    hole = inside_rows[:, :, None] & inside_cols[:, None, :]  # (B, H, W)
    return images.masked_fill(hole[:, None], 0.0)


# ----------------------------------------------------------------------------- checkpoints

def save_checkpoint(path: Path, state: dict) -> None:
    """Atomically write a checkpoint (a plain dict of tensors and JSON-like values)."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, **state}, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path, expected_model: str | None = None) -> dict:
    """Load a checkpoint without running code from it (``weights_only=True``).

    Raises CheckpointError for a missing, corrupt or foreign file, or another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; train first (make part5) or pass the "
                              f"path of a saved .pt file.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise CheckpointError(f"checkpoint {path} is corrupt or not a PyTorch checkpoint ({reason}); "
                              f"retrain or use another file.") from None
    except Exception as error:  # weights_only refuses anything that is not plain data
        raise CheckpointError(f"checkpoint {path} holds objects other than weights and plain data "
                              f"({type(error).__name__}); it was refused without running it.") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a Part 5 checkpoint of this suite (format "
                              f"{state.get('format') if isinstance(state, dict) else type(state).__name__!r}).")
    if expected_model is not None and state["config"]["model"] != expected_model:
        raise CheckpointError(f"checkpoint {path} holds a {state['config']['model']} model, not {expected_model}; "
                              f"pass --model {state['config']['model']} or another checkpoint.")
    return state


def model_from_checkpoint(state: dict, device: torch.device, which: str = "best_model") -> nn.Module:
    """The model a checkpoint holds (``which``: its best epoch's weights, or "model", the last epoch's)."""
    model = build_model(state["config"]["model"], state["config"].get("ablation", "none"))
    try:
        model.load_state_dict(state[which])
    except (RuntimeError, KeyError) as error:
        raise CheckpointError(f"the checkpoint's weights do not fit {state['config']['model']} "
                              f"({str(error).splitlines()[0][:160]}).") from None
    return model.to(device)


# ----------------------------------------------------------------------------- training

def evaluate(model: nn.Module, data: DeviceData, config: CNNConfig, batch_size: int = 1000,
             autocast: bool = False) -> tuple[float, float, np.ndarray]:
    """Mean cross-entropy, accuracy and class probabilities (N, 10) float32 of ``model`` on ``data``.

    With ``config.tta`` the logits are the mean over each image and its mirror image.
    """
    model.eval()
    loss_sum, probabilities = 0.0, []
    with torch.no_grad(), torch.autocast(data.device.type, dtype=torch.bfloat16, enabled=autocast):
        for images, labels in data.batches(batch_size, shuffle=False, augment=False,
                                           channels_last=config.channels_last):
            logits = model(images).float()
            if config.tta:
                logits = (logits + model(images.flip(3)).float()) / 2
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            probabilities.append(torch.softmax(logits, 1))
    probabilities = torch.cat(probabilities).cpu().numpy()
    accuracy = float((probabilities.argmax(1) == data.labels.cpu().numpy()).mean())
    return loss_sum / len(data), accuracy, probabilities


def _scheduler(optimizer, config: CNNConfig, steps_per_epoch: int):
    total = config.epochs * steps_per_epoch
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total)))
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total, pct_start=0.25,
                                                   div_factor=10, final_div_factor=100)
    return None


def make_optimizer(model: nn.Module, config: CNNConfig) -> torch.optim.Optimizer:
    """The optimizer the config names, with its learning rate and weight decay; on CUDA the fused
    implementation (one kernel for all parameters instead of several per parameter)."""
    fused = {"fused": True} if next(model.parameters()).is_cuda else {}
    if config.optimizer == "adam":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fused)
    return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=0.9, nesterov=True,
                           weight_decay=config.weight_decay, **fused)


def compile_mode(config: CNNConfig, device: torch.device) -> str | None:
    """The torch.compile mode to train with, or None for eager: "auto" compiles with CUDA graphs
    ("reduce-overhead": a whole step replayed as one launch) on CUDA only; on a CPU compiling costs
    more than it saves for runs this short."""
    if config.compile == "auto":
        return "reduce-overhead" if device.type == "cuda" else None
    return None if config.compile == "off" else config.compile


class TrainingForward:
    """The model's forward pass for training, compiled when ``mode`` is given. If compiling or running
    the compiled graph fails (no compiler, an unsupported device, ...), it says so once and runs
    eagerly from then on, so training goes on with the same model and weights."""

    def __init__(self, model: nn.Module, mode: str | None):
        self.model, self.mode = model, mode
        self.compiled = torch.compile(model, mode=mode) if mode else None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(images)
            except Exception as error:  # torch.compile's failures come as many exception types
                log.warning("torch.compile (mode %s) failed (%s: %s); training eagerly", self.mode,
                            type(error).__name__, str(error).splitlines()[0][:200] if str(error) else "")
                self.compiled = None
        return self.model(images)


def time_training_steps(config: CNNConfig, device: torch.device, batch_size: int | None = None, steps: int = 10,
                        warmup: int | None = None) -> dict:
    """Time ``steps`` training steps of ``config.model`` on random images, the way train_cnn steps (bf16
    autocast where supported, channels_last, the compiled forward, the fused optimizer): seconds per step,
    images per second and whether the compiled forward ran. Warm-up steps (compiling, CUDA-graph
    recording) are not timed."""
    batch_size = batch_size or config.batch_size
    model = build_model(config.model, config.ablation).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config)
    forward = TrainingForward(model, compile_mode(config, device))
    autocast = config.amp and autocast_supported(device)
    images = torch.randn(batch_size, 3, 32, 32, device=device)
    if config.channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, 10, (batch_size,), device=device)

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            loss = nn.functional.cross_entropy(forward(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup if warmup is not None else (1 if forward.mode is None else 10)):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    seconds = (time.perf_counter() - start) / steps
    return {"batch_size": batch_size, "seconds_per_step": seconds, "images_per_second": batch_size / seconds,
            "compiled": forward.compiled is not None, "compile_mode": forward.mode}


class CNNSolver:
    """Trains a CNN the way the numpy core's Solver trains an MLP (common/nn/training.py), with its result
    type (FitResult), status words and history keys:

        solver = CNNSolver(config, train, device, checkpoint, validation=val, on_epoch=progress_callback)
        model, result = solver.train(resume=None)

    ``train`` runs epochs of ``_step`` (one batch: forward, backward, optimizer and scheduler step) over
    a fresh shuffle; after every epoch ``check_accuracy`` measures the validation split (or, without one,
    the watched test set, for the curves only) and ``_save_checkpoint`` writes everything a resume needs,
    random generators included, so that a resumed run draws what an uninterrupted one draws. The model
    keeps the weights of the best validation accuracy (the last epoch without a validation split);
    ``patience`` epochs without a better one stop it early. A non-finite loss stops it ("diverged"), Ctrl-C
    too ("incomplete"). The history records per epoch: epoch, train_loss, train_acc, val_loss/val_acc or
    test_loss/test_acc, lr, seconds (training only), images_per_second.
    """

    def __init__(self, config: CNNConfig, train: DeviceData, device: torch.device, checkpoint: Path, *,
                 validation: DeviceData | None = None, test: DeviceData | None = None, data_fingerprint: str = "",
                 on_epoch=None, extra_state: dict | None = None, code_version: str | None = None):
        torch.manual_seed(config.seed)  # initialization; on resume the checkpoint's random states replace it
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick the fastest kernels
        self.config, self.train_data, self.device, self.checkpoint = config, train, device, Path(checkpoint)
        self.validation, self.test = validation, test if validation is None else None
        self.data_fingerprint, self.on_epoch, self.extra_state = data_fingerprint, on_epoch, extra_state or {}
        self.generator = torch.Generator().manual_seed(config.seed)  # shuffling and augmentation
        self.model = build_model(config.model, config.ablation).to(device)
        if config.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = make_optimizer(self.model, config)
        self.forward = TrainingForward(self.model, compile_mode(config, device))
        self.scheduler = _scheduler(self.optimizer, config, math.ceil(len(train) / config.batch_size))
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.autocast = config.amp and autocast_supported(device)
        self.result = FitResult(best_val_acc=-1.0)
        # One segment per stretch of epochs trained by one process: the code and precision it trained with.
        self.code_version, self.segments = code_version, []
        self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.epoch = 0  # epochs completed

    # ------------------------------------------------------------------ the loop

    def train(self, resume: dict | None = None) -> tuple[nn.Module, FitResult]:
        """Run the remaining epochs (all, or those after ``resume``, a checkpoint's state); return the model
        with the reported epoch's weights and what training measured."""
        config, result = self.config, self.result
        if resume is not None:
            self._load_checkpoint(resume)
        self.segments.append({"first_epoch": self.epoch + 1, "commit": self.code_version,
                              "precision": self.precision, "device": str(self.device)})
        try:
            while self.epoch < config.epochs:
                record = self._epoch(self.epoch + 1)
                if record is None:  # diverged
                    break
                self.epoch += 1
                result.history.append(record)
                if self.validation is None or record["val_acc"] > result.best_val_acc:
                    result.best_val_acc, result.best_epoch = record.get("val_acc", float("nan")), self.epoch
                    self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                stop_early = bool(config.patience) and self.epoch - result.best_epoch >= config.patience
                if stop_early:
                    result.note = (f"early stop after epoch {self.epoch}: no better validation accuracy for "
                                   f"{config.patience} epochs")
                # finished: the schedule's last epoch, or early stopping ended it (a resume trains nothing more)
                self._save_checkpoint(complete=self.epoch == config.epochs or stop_early)
                if self.on_epoch is not None:
                    self.on_epoch(record)
                if stop_early:
                    break
        except KeyboardInterrupt:
            result.status = STATUS_INCOMPLETE
            result.note = (f"interrupted during epoch {len(result.history) + 1}; the checkpoint and reports hold "
                           f"epoch {result.best_epoch}. Resume with --resume.")
        self.model.load_state_dict(self.best_state)
        # Times and rates cover every epoch of the history, those trained before a resume included.
        result.train_seconds = sum(h["seconds"] for h in result.history)
        seen = len(self.train_data) * len(result.history)
        result.images_per_second = seen / result.train_seconds if result.train_seconds else 0.0
        return self.model, result

    @property
    def precision(self) -> str:
        """'bf16 autocast' or 'fp32': the arithmetic the training steps run in."""
        return "bf16 autocast" if self.autocast else "fp32"

    def _epoch(self, epoch: int) -> dict | None:
        """One pass over a fresh shuffle of the training images, then the measurements; None (and the
        result marked diverged) when the loss is no longer finite."""
        config, train = self.config, self.train_data
        self.model.train()
        _sync(self.device)
        start = time.perf_counter()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        for images, labels in train.batches(config.batch_size, shuffle=True, augment=config.augment,
                                            channels_last=config.channels_last, generator=self.generator,
                                            cutout_size=config.cutout):
            loss, batch_correct = self._step(images, labels)
            loss_sum += loss * len(labels)  # stays on the device: no sync per step
            correct += batch_correct
        _sync(self.device)
        seconds = time.perf_counter() - start
        train_loss = loss_sum.item() / len(train)
        if not math.isfinite(train_loss):
            self.result.status = STATUS_DIVERGED
            self.result.note = (f"the loss became {train_loss} in epoch {epoch}; training stopped. Try a lower "
                                f"learning rate (e.g. --lr {config.lr / 10:g}).")
            return None
        record = {"epoch": epoch, "train_loss": train_loss, "train_acc": correct.item() / len(train)}
        for name, split in (("val", self.validation), ("test", self.test)):
            if split is not None:
                record[f"{name}_loss"], record[f"{name}_acc"] = self.check_accuracy(split)
        record.update(lr=self.optimizer.param_groups[0]["lr"], seconds=seconds, images_per_second=len(train) / seconds)
        return record

    def _step(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, backward, one optimizer (and scheduler) step on a batch (B, 3, 32, 32) with labels (B,).
        Returns the batch's mean loss and how many it classified right, both left on the device."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = self.forward(images)
            loss = self.loss_fn(logits.float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.detach(), (logits.argmax(1) == labels).sum()

    def check_accuracy(self, data: DeviceData) -> tuple[float, float]:
        """Mean cross-entropy and accuracy of the current weights on ``data`` (eval mode)."""
        loss, accuracy, _ = evaluate(self.model, data, self.config, autocast=self.autocast)
        return loss, accuracy

    # ------------------------------------------------------------------ checkpoints

    def _save_checkpoint(self, complete: bool) -> None:
        """Everything a resume needs after the epoch just completed, written whole (save_checkpoint)."""
        result, scheduler = self.result, self.scheduler
        save_checkpoint(self.checkpoint, {
            **self.extra_state, "config": self.config.as_dict(), "data_fingerprint": self.data_fingerprint,
            "epoch": self.epoch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler else None, "generator": self.generator.get_state(),
            "random_states": random_states(self.device), "history": result.history, "best_epoch": result.best_epoch,
            "best_val_acc": result.best_val_acc, "best_model": self.best_state, "note": result.note,
            "segments": [{**segment, "last_epoch": self.epoch} if i == len(self.segments) - 1 else segment
                         for i, segment in enumerate(self.segments)],
            "complete": complete})

    def _load_checkpoint(self, state: dict) -> None:
        """Continue from a checkpoint's ``state`` (load_checkpoint): weights, optimizer, schedule, random
        generators, history and the best epoch so far. A resume that would train on with other code or
        another precision than the checkpoint's last segment is refused: one run, one code."""
        last = (state.get("segments") or [{}])[-1]
        for key, now in (("commit", self.code_version), ("precision", self.precision)):
            if key in last and last[key] != now:
                raise CheckpointError(f"{self.checkpoint} was trained up to epoch {state['epoch']} with {key} "
                                      f"{last[key]}, and this run would go on with {now}: one run is one code and "
                                      f"one arithmetic. Resume at {key} {last[key]}, or start afresh (no --resume, "
                                      f"make: ARGS=--force).")
        self.segments = [dict(segment) for segment in state.get("segments", [])]
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler"):
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])
        set_random_states(state.get("random_states"), self.device)
        self.result.history = list(state["history"])
        self.result.best_epoch, self.result.best_val_acc = state["best_epoch"], state["best_val_acc"]
        self.result.resumed_after = self.epoch = state["epoch"]
        self.best_state = state["best_model"]
        log.info("resuming %s from epoch %d", self.config.model, state["epoch"])


def train_cnn(config: CNNConfig, train: DeviceData, val: DeviceData | None, device: torch.device,
              checkpoint_path: Path, *, test: DeviceData | None = None, resume: dict | None = None,
              data_fingerprint: str = "", on_epoch=None, extra_state: dict | None = None,
              code_version: str | None = None) -> tuple[nn.Module, FitResult]:
    """``CNNSolver(...).train(resume)`` in one call: the trained model and what training measured (its
    ``segments``: the code and precision of each stretch of epochs, in ``FitResult.segments``)."""
    solver = CNNSolver(config, train, device, checkpoint_path, validation=val, test=test,
                       data_fingerprint=data_fingerprint, on_epoch=on_epoch, extra_state=extra_state,
                       code_version=code_version)
    model, result = solver.train(resume)
    result.segments = [{**s, "last_epoch": s.get("last_epoch", len(result.history))} for s in solver.segments]
    return model, result


def random_states(device: torch.device) -> dict:
    """The global random generators a training epoch draws from besides the shuffling generator: torch's
    (dropout), CUDA's, numpy's and Python's -- saved with every checkpoint so a resume draws what an
    uninterrupted run would have drawn."""
    import random
    states = {"torch": torch.get_rng_state(), "numpy": json.dumps(_jsonable_numpy_state()),
              "python": json.dumps(random.getstate())}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _jsonable_numpy_state() -> list:
    name, keys, position, has_gauss, cached = np.random.get_state()
    return [name, keys.tolist(), int(position), int(has_gauss), float(cached)]


def set_random_states(states: dict | None, device: torch.device) -> None:
    """Restore what ``random_states`` saved (a checkpoint of an older version has none: nothing to do)."""
    import random
    if not states:
        return
    torch.set_rng_state(states["torch"])
    name, keys, position, has_gauss, cached = json.loads(states["numpy"])
    np.random.set_state((name, np.array(keys, dtype=np.uint32), position, has_gauss, cached))
    version, internal, gauss = json.loads(states["python"])
    random.setstate((version, tuple(internal), gauss))
    if device.type == "cuda" and "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
