"""--recipe and --report: each recipe's settings (report 000's from student_reports/000.toml) reach the
model and the optimizer; --resume keeps a complete run and continues an interrupted one; a report
folder in use is refused."""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from common.experiments import mlp as ME
from common.files import ReportFolder
from common.nn.layers import sigmoid
from common.nn.optim import SGD, Momentum
from common.paths import PROJECT_ROOT
from parts import part1, part2, part3, part4
from tests.helpers import TINY, report_recipe


@pytest.mark.parametrize("module, task, hidden", [(part1, "binary", ()), (part2, "binary", (64,)),
                                                  (part3, "multiclass", (64,))])
def test_report_000s_recipe_is_the_one_its_report_states(module, task, hidden):
    config = report_recipe("000", module.PART)
    assert config.recipe == "report 000"
    assert (config.task, config.hidden, config.init, config.optimizer, config.lr, config.batch_size) == \
        (task, hidden, "he", "sgd", 0.01, 64)
    assert (config.epochs, config.patience, config.schedule, config.l2, config.hflip) == (1000, 0, "constant", 0, False)
    assert (config.inputs, config.val_size) == ("unit", 0)
    assert config.airplane_label == 0 or task == "multiclass"  # airplane is label 0 in its binary parts
    # its output layer's backward applies the sigmoid's derivative to p - y again (sections 1.7-1.8)
    assert config.output_gradient == ("squared_error" if task == "binary" else "cross_entropy")
    model = ME.build_mlp(config)
    w1 = model.params[0]
    assert w1.std() == pytest.approx(np.sqrt(2 / 3072), rel=0.05) and not model.params[1].any()  # He, zero biases
    optimizer = ME.make_optimizer(config.optimizer, config.lr, momentum=config.momentum)
    assert isinstance(optimizer, SGD) and optimizer.lr == 0.01
    tuned = module.RECIPES["tuned"]
    assert tuned.val_size == 5000 and tuned.inputs == "standardized" and tuned.patience > 0


def test_part4s_recipe_in_report_000_is_its_four_momentum_scenarios():
    config = report_recipe("000", "part4")
    assert config.combinations == [("sigmoid", "momentum", "small"), ("relu", "momentum", "he"),
                                   ("sigmoid", "momentum", "he"), ("tanh", "momentum", "he")]
    assert (config.base.lr, config.base.momentum, config.base.epochs, config.base.batch_size) == (0.05, 0.9, 1000, 64)
    assert config.sweep_epochs == 0 and config.base.val_size == 0 and config.base.inputs == "unit"
    optimizer = ME.make_optimizer(config.base.optimizer, config.base.lr, momentum=config.base.momentum)
    assert isinstance(optimizer, Momentum) and (optimizer.lr, optimizer.beta) == (0.05, 0.9)
    assert len(part4.RECIPES["tuned"].combinations) == 27


def test_flags_override_single_settings_of_the_recipe():
    recipe = report_recipe("000", "part2")
    args = part2.build_parser().parse_args(["--report", "000", "--lr", "0.1", "--hidden", "32", "16"])
    config = ME.MLPConfig(**{**ME.config_dict(recipe), "lr": 0.1, "hidden": (32, 16)})
    from common.cli import config_from_args
    assert config_from_args(args, recipe) == config
    with pytest.raises(Exception, match="early stopping \\(patience 5\\) needs a validation split"):
        config_from_args(part2.build_parser().parse_args(["--report", "000", "--patience", "5"]), recipe)


def test_report_recipe_end_to_end_scales_pixels_and_keeps_the_last_epoch(learnable_folder, tmp_path):
    out = tmp_path / "000" / "part1"
    args = part1.build_parser().parse_args(["--report", "000", "--data", str(learnable_folder), "--out",
                                            str(out), "--epochs", "3", "--no-progress"])
    assert part1.main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["recipe"] == "report 000" and metrics["config"]["inputs"] == "unit"
    assert metrics["recipe_changes"] == {"epochs": {"recipe": 1000, "run": 3}}  # a variant of the recipe
    assert metrics["config"]["init"] == "he" and metrics["config"]["epochs"] == 3 and metrics["best_epoch"] == 3
    assert metrics["classes"] == ["airplane", "rest"] and metrics["test"]["threshold"] == 0.5
    assert "validation" not in metrics and "test_at_threshold_0.5" not in metrics
    assert {"test_loss", "test_acc"} <= set(metrics["history"][0]) and "val_loss" not in metrics["history"][0]
    assert metrics["data_sizes"] == {"train": 600, "validation": 0, "test": 100}
    # The saved weights on pixels / 255 give the saved test probabilities: the inputs were not standardized.
    from common.data.cifar10 import load_cifar10
    data = load_cifar10(learnable_folder)
    with np.load(out / "model.npz") as model, np.load(out / "predictions.npz") as predictions:
        x = data.x_test.reshape(len(data.x_test), -1).astype(np.float32) * np.float32(1 / 255)
        p_rest = sigmoid(x @ model["W1"] + model["b1"])[:, 0]
        np.testing.assert_allclose(predictions["probabilities"][:, 1], p_rest, rtol=1e-5)
        assert list(predictions["class_names"]) == ["airplane", "rest"]
    analysis = (out / "analysis.md").read_text()
    assert "## Report 000: its figures and claims on part1" in analysis and "This run gives no verdict" in analysis


def test_resume_keeps_a_complete_run_and_retrains_another_config(learnable_folder, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="cifar")
    out = tmp_path / "p3"
    argv = ["--data", str(learnable_folder), "--out", str(out), *TINY, "--no-figures"]
    assert part3.main(part3.build_parser().parse_args(argv)) == 0
    written = (out / "metrics.json").stat().st_mtime_ns
    assert part3.main(part3.build_parser().parse_args([*argv, "--resume"])) == 0
    assert (out / "metrics.json").stat().st_mtime_ns == written and "kept as it is" in caplog.text
    moved = shutil.copytree(learnable_folder, tmp_path / "moved")  # the same images elsewhere: not converted yet
    assert part3.main(part3.build_parser().parse_args([*argv, "--resume", "--data", str(moved)])) == 0
    assert (out / "metrics.json").stat().st_mtime_ns == written  # still the same data: kept, not retrained
    assert part3.main(part3.build_parser().parse_args([*argv, "--resume", "--lr", "0.01"])) == 0
    assert json.loads((out / "metrics.json").read_text())["config"]["lr"] == 0.01
    estimate = subprocess.run([sys.executable, "-m", "parts.part3", *argv, "--lr", "0.01", "--resume", "--estimate"],
                              cwd=PROJECT_ROOT, capture_output=True, text=True, env={**os.environ,
                                                                                      "PYTHONPATH": str(PROJECT_ROOT)})
    assert json.loads(estimate.stdout)["complete"] is True and json.loads(estimate.stdout)["seconds"] == 0.0


def test_an_interrupted_part_continues_from_its_checkpoint(learnable_folder, tmp_path, monkeypatch, capsys):
    argv = ["--data", str(learnable_folder), "--val-size", "60", "--epochs", "4", "--batch-size", "32",
            "--patience", "0", "--no-progress", "--no-figures"]
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(tmp_path / "straight")])) == 0
    straight = json.loads((tmp_path / "straight" / "metrics.json").read_text())

    out = tmp_path / "interrupted"
    monkeypatch.setattr(ME, "CHECKPOINT_SECONDS", 0.0)  # save after every epoch
    real_step, calls = ME.Solver._step, {"n": 0}

    def step(self, idx):
        calls["n"] += 1
        if calls["n"] == 2 * 34 + 1:  # the first step of epoch 3 (1,080 mirrored images / 32 = 34 steps)
            raise KeyboardInterrupt
        return real_step(self, idx)

    monkeypatch.setattr(ME.Solver, "_step", step)
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(out)])) == 130
    assert json.loads((out / "metrics.json").read_text())["status"] == "incomplete"
    assert (out / ME.CHECKPOINT).is_file()
    monkeypatch.setattr(ME.Solver, "_step", real_step)
    capsys.readouterr()
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(out), "--resume", "--estimate"])) == 0
    assert json.loads(capsys.readouterr().out)["what"].startswith("2 epochs of 3072-")  # 4 less the checkpoint's 2
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(out), "--resume"])) == 0
    resumed = json.loads((out / "metrics.json").read_text())
    assert resumed["status"] == "complete" and not (out / ME.CHECKPOINT).exists()
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]
    assert resumed["test"] == straight["test"]

    # a run cut short never replaces a complete one; its checkpoint continues it
    files = ("metrics.json", "summary.md", "model.npz", "predictions.npz")
    kept, calls["n"] = {name: (out / name).read_bytes() for name in files}, 0
    monkeypatch.setattr(ME.Solver, "_step", step)
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(out), "--lr", "0.02"])) == 130
    assert {name: (out / name).read_bytes() for name in files} == kept and (out / ME.CHECKPOINT).is_file()
    monkeypatch.setattr(ME.Solver, "_step", real_step)
    assert part3.main(part3.build_parser().parse_args([*argv, "--out", str(out), "--lr", "0.02", "--resume"])) == 0
    continued = json.loads((out / "metrics.json").read_text())
    assert continued["status"] == "complete" and continued["config"]["lr"] == 0.02


def test_a_second_run_into_a_folder_in_use_stops_with_a_clear_error(learnable_folder, tmp_path):
    out = tmp_path / "p1"
    with ReportFolder(out):  # another run holds the folder
        result = subprocess.run([sys.executable, "-m", "parts.part1", "--data", str(learnable_folder), "--out",
                                 str(out), *TINY], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    assert result.returncode == 2 and "is in use by another run (pid" in result.stderr
    assert "Traceback" not in result.stderr and not (out / "metrics.json").exists()


def test_part4s_estimate_counts_every_epoch_of_the_four_scenarios_on_the_workers(learnable_folder, tmp_path,
                                                                                  monkeypatch, capsys):
    from common.experiments import grid
    monkeypatch.setattr(grid, "concurrent_seconds_per_epoch", lambda config, workers: (0.5, 0.75))
    monkeypatch.setattr(grid, "preparation_seconds", lambda config: 3.0)
    monkeypatch.setattr("common.experiments.record.drawing_seconds", lambda part, folders: 7.0)
    monkeypatch.setattr("common.experiments.record.first_load_seconds", lambda source: 5.0)  # no cache yet
    argv = ["--data", str(learnable_folder), "--out", str(tmp_path / "p4"), "--report", "000", "--estimate",
            "--workers", "2"]
    assert part4.main(part4.build_parser().parse_args(argv)) == 0
    plan = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert plan["seconds"] == 4 * 1000 * 0.5 / 2 + 3 + 5 + 7 and "4 runs" in plan["what"] and not plan["complete"]
    assert plan["range_seconds"] == [1015.0, 1515.0]  # the fastest and the slowest timing, data and figures beside
    assert plan["what"].endswith("3 s to prepare the data, 5 s to convert the data into its cache (the first load "
                                 "only), 7 s to draw the figures")
    assert plan["first_load_seconds"] == 5.0  # said apart, so that make reproduce counts it once
    assert part4.main(part4.build_parser().parse_args([*argv, "--no-figures"])) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["seconds"] == 1008.0


def test_drawing_seconds_counts_a_figure_for_each_of_the_parts_catalog():
    from common.catalog import PARTS
    from common.experiments.record import drawing_seconds
    one, simple = drawing_seconds("part1"), drawing_seconds("part5", ("simple",))
    assert 0 < one < 30 and 0 < simple < 30 and drawing_seconds("no such part") == 0.0
    assert len(PARTS["part1"].figures) > 1  # so the count matters
    assert drawing_seconds("part5") == 0.0  # all of Part 5's figures are its models': none is drawn for no model
    assert Path(os.devnull).is_char_device()  # rendered in memory: nothing written anywhere


def test_preparing_the_data_is_timed_on_a_sample_and_scaled_to_the_runs_images(monkeypatch):
    ticks = iter(range(100))
    monkeypatch.setattr(ME, "time", type("Clock", (), {"perf_counter": lambda: float(next(ticks))}))
    monkeypatch.setattr(ME, "fresh_memory_seconds", lambda nbytes: nbytes / 1e9)  # 1 s a GB
    config = ME.MLPConfig(task="binary", hflip=True, val_size=5000)
    sample_rows = 2 * (4000 - 400) + 400 + 666  # mirrored training images, validation, test: 1 s each timing
    run_rows = 90000 + 5000 + 10000
    assert ME.preparation_seconds(config, sample=4000) == pytest.approx(run_rows / sample_rows + run_rows * 12288 / 1e9)
    held_out = ME.MLPConfig(task="binary", val_size=0, test_from_train=10000, patience=0)  # report 001's split
    assert ME.preparation_seconds(held_out, sample=4000) == pytest.approx(50000 / (4000 + 666) + 50000 * 12288 / 1e9)


def test_fresh_memory_is_timed_and_scaled_by_bytes(monkeypatch):
    ticks = iter([0.0, 0.5])  # half a second for the sample
    monkeypatch.setattr(ME, "time", type("Clock", (), {"perf_counter": lambda: next(ticks)}))
    assert ME.fresh_memory_seconds(4 * ME.FRESH_MEMORY_SAMPLE) == 2.0


def test_a_small_batch_runs_on_one_blas_thread_and_a_full_batch_keeps_them():
    """Two BLAS threads on batch-64 steps ran 38x slower than one beside another busy process."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]

    before = blas_threads()
    with ME.blas_threads_for(64):
        assert set(blas_threads()) == {1}
    with ME.blas_threads_for(40000):
        assert blas_threads() == before
    assert blas_threads() == before


def test_concurrent_seconds_per_epoch_is_measured_in_each_worker():
    from common.experiments import grid
    config = ME.MLPConfig(task="multiclass", hidden=(8,), batch_size=256, val_size=0, patience=0, epochs=1)
    alone, together = grid.concurrent_seconds_per_epoch(config, 1), grid.concurrent_seconds_per_epoch(config, 2)
    assert 0 < alone[0] <= alone[1] < 60 and 0 < together[0] <= together[1] < 60


def test_report_001s_recipe_is_the_one_its_code_states():
    one, two, three = (report_recipe("001", part) for part in ("part1", "part2", "part3"))
    assert (one.init, one.lr, one.epochs, one.batch_size, one.airplane_label) == ("lecun", 0.01, 900, 40000, 1)
    assert (two.init, two.output_init, two.lr, two.epochs) == ("he", "lecun", 0.1, 1000)
    assert (three.task, three.lr, three.epochs) == ("multiclass", 0.1, 2000)
    assert {c.test_from_train for c in (one, two, three)} == {10000}  # its own 80/20 split of the 50,000
    assert ME.training_images(one) == 40000 and one.batch_size >= ME.training_images(one)  # full batch
    model = ME.build_mlp(two)
    assert model.params[2].std() == pytest.approx(np.sqrt(1 / 64), rel=0.25)  # W2 * sqrt(1 / 64)


def test_a_reports_variant_is_its_recipe_with_the_declared_settings_changed_and_goes_to_its_own_folder(tmp_path):
    from common.cli import run_options, with_variant
    from common.errors import UserError
    args = part4.build_parser().parse_args(["--report", "000", "--variant", "relu-he-seed-2", "--reports",
                                            str(tmp_path)])
    recipe = report_recipe("000", "part4")
    variant = with_variant(args, "part4", recipe)
    assert variant.combinations == [("relu", "momentum", "he")] and variant.base.seed == 2
    assert variant.recipe == recipe.recipe == "report 000" and variant.base.epochs == recipe.base.epochs
    run = run_options(args, "part4", config=variant, recipe_config=recipe)
    assert run.out.parent == tmp_path / "000" / "variants" / "part4"
    for argv, message in ((["--variant", "seed-2"], "--variant names one of a report file's variants: give --report"),
                          (["--report", "000", "--variant", "nope"], "declares no variant 'nope' of part4; its "
                                                                     "variants: relu-he-seed-1, relu-he-seed-2")):
        with pytest.raises(UserError, match=message):
            with_variant(part4.build_parser().parse_args(argv), "part4", recipe)


def test_an_epoch_estimate_scales_by_images_so_a_full_batch_epoch_is_not_taken_for_one_small_step(monkeypatch):
    """Report 001's full-batch epochs (40,000 images, one step) were estimated as one 4,096-image step: 10x short."""
    seconds = iter([0.1, 2.0, 1.0, 3.0])  # the warm-up, then three timed epochs of 4,096 images: 1.0 is the fastest

    class FixedSolver:
        def __init__(self, *args, **kwargs):
            pass

        def train(self):
            return type("Result", (), {"history": [{"seconds": next(seconds)}]})()

    monkeypatch.setattr(ME, "Solver", FixedSolver)
    config = ME.MLPConfig(task="binary", hidden=(64,), batch_size=40000, val_size=0, test_from_train=10000,
                          patience=0, epochs=1)
    estimate = ME.seconds_per_epoch(config, probe_rows=4096)
    assert ME.training_images(config) == 40000 and 40000 / 4096 <= estimate < 40000 / 4096 + 1


def test_other_work_counts_what_other_processes_ran_and_not_this_ones(monkeypatch):
    from common.experiments.record import OtherWork
    clock = iter([100.0, 102.0])  # two seconds of wall time
    system = iter([50.0, 53.0])  # the whole machine: three CPU-seconds busy
    own = iter([10.0, 11.0])  # this process and its children: one of them
    monkeypatch.setattr(OtherWork, "_system_busy", staticmethod(lambda: next(system)))
    monkeypatch.setattr(OtherWork, "_own", staticmethod(lambda: next(own)))
    monkeypatch.setattr("common.experiments.record.time", type("Clock", (), {"perf_counter": lambda: next(clock)}))
    with OtherWork() as other:
        pass
    assert other.cpus == 1.0 and other.fields() == {"other_cpus": 1.0, "busy": True}


def test_other_work_reads_this_machines_cpu_time():
    from common.experiments.record import OtherWork
    before = OtherWork._system_busy()
    if before is None:
        pytest.skip("no /proc/stat here")
    end = time.perf_counter() + 0.3
    while time.perf_counter() < end:  # burn a little CPU in this process
        pass
    assert OtherWork._system_busy() > before and OtherWork._own() >= 0.3
