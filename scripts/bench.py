"""`make bench`: how fast the hot loops are, measured here, never inside a timed test.

1. Part 1: one training epoch of the logistic neuron (45,000 x 3072 float32, batch 64) against
   one full-batch forward+backward pass over the 50,000 x 3072 training matrix -- the
   memory-bandwidth floor of any epoch. Target: ratio <= 2.
2. The 3072-64-10 sigmoid MLP: one numpy epoch against the same network, batch size, optimizer
   and float32 in PyTorch on the CPU. Target: ratio <= 1.
3. ImprovedCNN training throughput (images/s) on the available device at batch 128, 256 and 512,
   with Part 5's training step (bf16 autocast, channels_last, the compiled forward and fused
   optimizer on CUDA), and on a known GPU the share of its dense bf16 peak that the model's
   FLOPs per image (about 3x the forward's) at that rate imply.
Writes reports/bench.json and reports/bench.md. Inputs are random: speed does not depend on
pixel values, so the benchmark needs no data set.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from common.cli import positive_int, run_main
from common.console import log
from common.experiments.mlp import PROBE_IMAGES, blas_threads_for
from common.experiments.record import environment_info, git_commit, now_iso
from common.files import atomic_write_json, atomic_write_text
from common.nn.layers import sigmoid
from common.nn.network import MLP
from common.nn.optim import SGD, Momentum
from common.nn.training import Solver, TrainConfig


def _numpy_epoch_seconds(model: MLP, optimizer, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    """Seconds of one epoch of the real training loop (validation on a token 64 samples)."""
    config = TrainConfig(epochs=1, batch_size=batch_size, patience=0)
    Solver(model, optimizer, x[:2048], y[:2048], config, validation=(x[:64], y[:64])).train()  # warm-up: caches,
    # allocator, BLAS threads
    return Solver(model, optimizer, x, y, config, validation=(x[:64], y[:64])).train().history[0]["seconds"]


def full_batch_pass_seconds(x: np.ndarray, y: np.ndarray, repeats: int = 3) -> float:
    """Best of ``repeats`` full-batch forward+backward passes of a logistic neuron over x."""
    w, b = np.zeros((x.shape[1], 1), np.float32), np.float32(0)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        p = sigmoid(x @ w + b)
        d = (p[:, 0] - y) / len(y)
        grad_w, grad_b = x.T @ d, d.sum()
        best = min(best, time.perf_counter() - start)
    assert grad_w.shape == (x.shape[1],) and np.isfinite(grad_b)
    return best


def probe_seconds(model: MLP, x: np.ndarray, repeats: int = 3) -> float:
    """Best of ``repeats`` timings of the unit-activity probe the Solver runs once an epoch (``MLP.unit_activity``
    on x, the fixed probe images)."""
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        activity = model.unit_activity(x)
        best = min(best, time.perf_counter() - start)
    assert "dead_units" in activity
    return best


def torch_mlp_epoch_seconds(x: np.ndarray, y: np.ndarray, batch_size: int, lr: float) -> float:
    """One epoch of the same 3072-64-10 sigmoid MLP in PyTorch on the CPU (momentum SGD)."""
    import torch

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = torch.nn.Sequential(torch.nn.Linear(3072, 64), torch.nn.Sigmoid(), torch.nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    generator = torch.Generator().manual_seed(0)

    def epoch(n):
        order = torch.randperm(n, generator=generator)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    epoch(min(2048, len(x)))  # warm-up
    start = time.perf_counter()
    epoch(len(x))
    return time.perf_counter() - start


# Dense (no sparsity) bfloat16 tensor-core peaks from NVIDIA's data sheets, FLOP/s; matched in this order.
BF16_PEAK = (("H100 PCIe", 756e12), ("H100", 989e12), ("H200", 989e12), ("A100", 312e12), ("L40S", 362e12),
             ("L4", 121e12))


def bf16_peak(device_name: str | None) -> float | None:
    return next((peak for name, peak in BF16_PEAK if device_name and name in device_name), None)


def cnn_throughput(device_name: str, batch_sizes: tuple[int, ...], steps: int) -> dict:
    """ImprovedCNN training throughput at each batch size, and the share of the GPU's bf16 peak it implies."""
    import torch

    from common.cnn.models import ImprovedCNN, forward_flops
    from common.cnn.training import autocast_supported, pick_device, time_training_steps
    from parts.part5 import TUNED  # the training step make part5 runs on a GPU

    device = pick_device(device_name)
    amp = autocast_supported(device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else None
    rows = [time_training_steps(TUNED, device, batch_size, steps, warmup=3) for batch_size in batch_sizes]
    flops = forward_flops(ImprovedCNN()) * 3
    peak = bf16_peak(name)
    for row in rows:
        row["peak_fraction"] = row["images_per_second"] * flops / peak if peak else None
    return {"device": str(device), "device_name": name, "steps": steps, "bf16_autocast": amp, "channels_last": True,
            "training_flops_per_image": flops, "bf16_peak": peak, "batches": rows}


def plain_loop_images_per_second(batch_size: int, steps: int, warmup: int = 2) -> float:
    """The peer of the suite's CNN step: ImprovedCNN trained by the plainest PyTorch loop, written here and
    not with the suite's trainer -- fp32, NCHW, eager, the same optimizer and loss as Part 5's tuned recipe,
    on one fixed random batch."""
    import torch

    from common.cnn.models import ImprovedCNN
    torch.manual_seed(0)
    model = ImprovedCNN().train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
    images, labels = torch.randn(batch_size, 3, 32, 32), torch.randint(0, 10, (batch_size,))
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(images), labels, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return batch_size * steps / (time.perf_counter() - start)


def matmul_flops_per_second(dtype_name: str, size: int = 2048, repeats: int = 10) -> float:
    """A square matrix product's rate on this CPU (2 size^3 FLOPs each): the practical peak a training step's
    FLOP rate is set beside."""
    import torch
    dtype = getattr(torch, dtype_name)
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size ** 3 * repeats / (time.perf_counter() - start)


# The CPU settings of Part 5's training step compared in make bench: (name, CNNConfig changes, torch threads).
CPU_SETTINGS = (
    ("fp32, NCHW", {"amp": False, "channels_last": False, "compile": "off"}, None),
    ("fp32, channels_last", {"amp": False, "channels_last": True, "compile": "off"}, None),
    ("bf16 autocast, NCHW", {"amp": True, "channels_last": False, "compile": "off"}, None),
    ("bf16 autocast, channels_last", {"amp": True, "channels_last": True, "compile": "off"}, None),
    ("fp32, channels_last, 1 thread", {"amp": False, "channels_last": True, "compile": "off"}, 1),
    ("fp32, channels_last, torch.compile", {"amp": False, "channels_last": True, "compile": "default"}, None),
)


def _setting_images_per_second(changes: dict, n_threads: int | None, batch_size: int, steps: int,
                                has_bf16: bool) -> tuple[float, str | None]:
    """The suite's step under one CPU setting: (images/s, None), or (nan, why) where the setting cannot run."""
    import torch

    from common.cnn import training
    from parts.part5 import TUNED

    threads = torch.get_num_threads()
    torch.set_num_threads(n_threads or threads)
    real = training.autocast_supported
    training.autocast_supported = lambda device: has_bf16  # measure bf16 even where the suite leaves it off
    try:
        row = training.time_training_steps(replace(TUNED, **changes), torch.device("cpu"), batch_size, steps,
                                           warmup=2 if changes["compile"] == "off" else 3)
    except Exception as error:  # torch.compile needs a C++ compiler; its absence is a row, not a crash
        return float("nan"), f"{type(error).__name__}: {error}"[:200]
    finally:
        training.autocast_supported = real
        torch.set_num_threads(threads)
    if changes["compile"] != "off" and not row["compiled"]:  # it fell back to eager: not a compiled row
        return float("nan"), "torch.compile failed here; the step ran eagerly"
    return row["images_per_second"], None


def cnn_cpu_settings(batch_size: int, steps: int, settings: tuple = CPU_SETTINGS, rounds: int = 3) -> dict:
    """ImprovedCNN's training step on the CPU: the plain loop and the suite's step under each CPU setting
    (bf16 forced on where the CPU has bf16 instructions at all), timed in turn, ``rounds`` times over, so that a
    slow spell of a shared machine falls on every row alike. Each row gives the median images/s over the rounds and
    the median of its ratio to the plain loop timed in the same round, with the FLOP rate it implies beside the
    matrix-product rates measured in the same run."""
    import torch

    from common.cnn import training
    from common.cnn.models import ImprovedCNN, forward_flops

    flops = forward_flops(ImprovedCNN()) * 3
    has_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    usable = [(name, changes, n) for name, changes, n in settings if has_bf16 or not changes["amp"]]
    plain_runs: list[float] = []
    runs: dict[str, list[float]] = {name: [] for name, _, _ in usable}
    errors: dict[str, str] = {}
    for _ in range(rounds):
        plain_runs.append(plain_loop_images_per_second(batch_size, steps))
        for name, changes, n_threads in usable:
            if name not in errors:  # a setting that cannot run here is not retried
                rate, error = _setting_images_per_second(changes, n_threads, batch_size, steps, has_bf16)
                runs[name].append(rate)
                if error:
                    errors[name] = error
    plain = statistics.median(plain_runs)
    rows = []
    for name, _, _ in usable:
        if name in errors:
            rows.append({"setting": name, "images_per_second": float("nan"), "vs_plain_fp32": float("nan"),
                         "gflops_per_second": float("nan"), "error": errors[name]})
            continue
        rate = statistics.median(runs[name])
        rows.append({"setting": name, "images_per_second": rate, "images_per_second_runs": runs[name],
                     "vs_plain_fp32": statistics.median(r / p for r, p in zip(runs[name], plain_runs)),
                     "gflops_per_second": rate * flops / 1e9})
    best = max((r for r in rows if "error" not in r), key=lambda r: r["vs_plain_fp32"])
    return {"batch_size": batch_size, "steps": steps, "rounds": rounds, "threads": torch.get_num_threads(),
            "training_flops_per_image": flops, "plain_fp32_images_per_second": plain,
            "plain_fp32_images_per_second_runs": plain_runs, "plain_fp32_gflops_per_second": plain * flops / 1e9,
            "matmul_gflops_per_second": {d: matmul_flops_per_second(d) / 1e9 for d in ("float32", "bfloat16")},
            "cpu_bf16_instructions": has_bf16, "amx": bool(torch.cpu._is_amx_tile_supported()),
            "settings": rows, "best": best["setting"], "best_vs_plain_fp32": best["vs_plain_fp32"],
            "suite_default_uses_bf16": training.autocast_supported(torch.device("cpu"))}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="reports", help="folder for bench.json and bench.md (default: %(default)s)")
    parser.add_argument("--device", default="auto", help="device for the CNN throughput (default: %(default)s)")
    parser.add_argument("--cnn-steps", type=positive_int, default=10, help="timed CNN steps (default: %(default)s)")
    parser.add_argument("--cnn-batch-sizes", type=positive_int, nargs="+", default=[128, 256, 512],
                        help="(default: %(default)s)")
    parser.add_argument("--cnn-rounds", type=positive_int, default=3,
                        help="times the CPU settings and their plain-loop peer are each timed, in turn; the bench "
                             "reports medians (default: %(default)s)")
    parser.add_argument("--skip-cnn", action="store_true", help="leave out the CNN throughput")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(0)
    log.info("preparing random float32 matrices of CIFAR-10's sizes")
    x_full = rng.standard_normal((50_000, 3072), dtype=np.float32)
    x_train = x_full[:45_000]
    y_binary = rng.integers(0, 2, 45_000)
    y_multi = rng.integers(0, 10, 45_000)

    floor = full_batch_pass_seconds(x_full, rng.integers(0, 2, 50_000).astype(np.float32))
    with blas_threads_for(64):  # as the parts run a batch-64 step
        part1_epoch = _numpy_epoch_seconds(MLP([3072, 1], seed=0), SGD(0.01), x_train, y_binary, 64)
        numpy_mlp = _numpy_epoch_seconds(MLP([3072, 64, 10], activation="sigmoid", seed=0), Momentum(0.01),
                                         x_train, y_multi, 64)
        probe = probe_seconds(MLP([3072, 64, 10], activation="sigmoid", seed=0), x_train[:PROBE_IMAGES])
    log.info("Part 1 epoch %.3f s vs full-batch forward+backward %.3f s: ratio %.2f", part1_epoch, floor,
             part1_epoch / floor)
    log.info("unit-activity probe %.4f s: %.2f %% of that epoch", probe, 100 * probe / numpy_mlp)
    torch_mlp = torch_mlp_epoch_seconds(x_train, y_multi, 64, 0.01)
    log.info("3072-64-10 epoch: numpy %.3f s, PyTorch CPU %.3f s: ratio %.2f", numpy_mlp, torch_mlp,
             numpy_mlp / torch_mlp)
    results = {
        "part1_epoch_vs_full_batch": {"part1_epoch_seconds": part1_epoch, "full_batch_pass_seconds": floor,
                                      "ratio": part1_epoch / floor, "target_ratio": 2.0,
                                      "train_rows": 45_000, "full_batch_rows": 50_000, "batch_size": 64},
        "mlp_numpy_vs_torch_cpu": {"numpy_epoch_seconds": numpy_mlp, "torch_epoch_seconds": torch_mlp,
                                   "ratio": numpy_mlp / torch_mlp, "target_ratio": 1.0, "network": "3072-64-10 sigmoid",
                                   "batch_size": 64, "optimizer": "momentum 0.9", "train_rows": 45_000},
        "activity_probe": {"probe_seconds": probe, "epoch_seconds": numpy_mlp, "share": probe / numpy_mlp,
                           "target_share": 0.03, "probe_images": PROBE_IMAGES},
    }
    if not args.skip_cnn:
        import torch
        if not torch.cuda.is_available() or args.device == "cpu":
            cpu = results["improved_cnn_cpu_settings"] = cnn_cpu_settings(args.cnn_batch_sizes[0], args.cnn_steps,
                                                                           rounds=args.cnn_rounds)
            log.info("ImprovedCNN on the CPU, batch %d: plain fp32 loop %.0f images/s; best setting %s at %.2fx it",
                     cpu["batch_size"], cpu["plain_fp32_images_per_second"], cpu["best"], cpu["best_vs_plain_fp32"])
        cnn = results["improved_cnn_training"] = cnn_throughput(args.device, tuple(args.cnn_batch_sizes),
                                                                args.cnn_steps)
        for row in cnn["batches"]:
            log.info("ImprovedCNN training on %s, batch %d: %.0f images/s", cnn["device"], row["batch_size"],
                     row["images_per_second"])
    import torch
    results.update({"environment": {**environment_info("cpu"), "torch_threads": torch.get_num_threads()},
                    "git_commit": git_commit(), "created": now_iso()})
    out = Path(args.out)
    atomic_write_json(out / "bench.json", results)
    atomic_write_text(out / "bench.md", render(results))
    print(render(results))
    return 0


def render(results: dict) -> str:
    p1, mlp = results["part1_epoch_vs_full_batch"], results["mlp_numpy_vs_torch_cpu"]
    lines = ["# Benchmark", "", "| measurement | value |", "|---|---:|",
             f"| Part 1 epoch (45,000 x 3072, batch 64) | {p1['part1_epoch_seconds']:.3f} s |",
             f"| full-batch forward+backward (50,000 x 3072): the memory floor | "
             f"{p1['full_batch_pass_seconds']:.3f} s |",
             f"| Part 1 epoch / floor | {p1['ratio']:.2f} |",
             f"| 3072-64-10 epoch, numpy | {mlp['numpy_epoch_seconds']:.3f} s |",
             f"| 3072-64-10 epoch, PyTorch CPU | {mlp['torch_epoch_seconds']:.3f} s |",
             f"| numpy / PyTorch | {mlp['ratio']:.2f} |"]
    if "activity_probe" in results:
        probe = results["activity_probe"]
        lines.append(f"| unit-activity probe, once an epoch ({probe['probe_images']} images) | "
                     f"{probe['probe_seconds'] * 1000:.1f} ms: {probe['share']:.2%} of the numpy epoch "
                     f"(goal <= {probe['target_share']:.0%}) |")
    if "improved_cnn_training" in results:
        cnn = results["improved_cnn_training"]
        device = cnn["device"] + (f" ({cnn['device_name']})" if cnn["device_name"] else "")
        for row in cnn["batches"]:
            share = f", {row['peak_fraction']:.1%} of the bf16 peak" if row["peak_fraction"] else ""
            how = f"{'compiled' if row['compiled'] else 'eager'}, bf16 {'on' if cnn['bf16_autocast'] else 'off'}"
            lines.append(f"| ImprovedCNN training on {device}, batch {row['batch_size']} ({how}) "
                         f"| {row['images_per_second']:,.0f} images/s{share} |")
        lines.append(f"| ImprovedCNN training FLOPs per image (3x the forward's) | "
                     f"{cnn['training_flops_per_image'] / 1e9:.2f} GFLOP |")
    if "improved_cnn_cpu_settings" in results:
        lines += cpu_settings_table(results["improved_cnn_cpu_settings"])
    env = results["environment"]
    lines += ["", f"{env['processor']}, {env['cpu_count']} CPUs, numpy {env['numpy']}, torch {env['torch']} "
                  f"({env['torch_threads']} threads), commit {results['git_commit']}, {results['created']}.", ""]
    return "\n".join(lines)


def cpu_settings_table(cpu: dict) -> list[str]:
    """The CPU settings of ImprovedCNN's training step against the plain fp32 loop, as markdown lines."""
    matmul = cpu["matmul_gflops_per_second"]
    lines = ["", f"## ImprovedCNN's training step on this CPU (batch {cpu['batch_size']}, {cpu['threads']} threads)",
             "", f"The plain loop and each setting are timed in turn, {cpu['rounds']} rounds over; images/s is the "
             f"median over the rounds ({cpu['steps']} timed steps each, after warm-up steps; the range in brackets), "
             "and the ratio is the median of each round's ratio to the plain loop of the same round. "
             "A step's FLOPs are 3x the forward's "
             f"({cpu['training_flops_per_image'] / 1e9:.2f} GFLOP an image: 2 per multiply-add of the convolutions "
             "and linear layers, the backward pass counted as twice the forward), so GFLOP/s = images/s x "
             f"{cpu['training_flops_per_image'] / 1e9:.2f}. The practical peak beside them: a 2048 x 2048 matrix "
             f"product, {matmul['float32']:.0f} GFLOP/s in fp32 and {matmul['bfloat16']:.0f} in bf16 here "
             f"(bf16 instructions: {'yes' if cpu['cpu_bf16_instructions'] else 'no'}, AMX: "
             f"{'yes' if cpu['amx'] else 'no'}).", "",
             "| setting | images/s | vs the plain fp32 loop | GFLOP/s | share of the fp32 matmul rate |",
             "|---|---:|---:|---:|---:|",
             f"| plain PyTorch loop, fp32, NCHW (the peer) | {cpu['plain_fp32_images_per_second']:.0f} "
             f"{_spread(cpu['plain_fp32_images_per_second_runs'])} | 1.00x | "
             f"{cpu['plain_fp32_gflops_per_second']:.0f} | "
             f"{cpu['plain_fp32_gflops_per_second'] / matmul['float32']:.0%} |"]
    for row in cpu["settings"]:
        if "error" in row:
            lines.append(f"| the suite's step, {row['setting']} | failed: {row['error']} | | | |")
            continue
        lines.append(f"| the suite's step, {row['setting']} | {row['images_per_second']:.0f} "
                     f"{_spread(row['images_per_second_runs'])} | "
                     f"{row['vs_plain_fp32']:.2f}x | {row['gflops_per_second']:.0f} | "
                     f"{row['gflops_per_second'] / matmul['float32']:.0%} |")
    lines += ["", f"Fastest here: {cpu['best']}, {cpu['best_vs_plain_fp32']:.2f}x the plain loop. Part 5 uses bf16 "
                  f"autocast on a CPU only where it has AMX tiles (here: "
                  f"{'on' if cpu['suite_default_uses_bf16'] else 'off'})."]
    return lines


def _spread(runs: list[float]) -> str:
    return f"({min(runs):.0f}-{max(runs):.0f})" if len(runs) > 1 else ""


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
