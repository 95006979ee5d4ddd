"""The report index (markdown, HTML, as a browser sees it), the README's generated blocks, `make all` /
`make reproduce` (plan, skip, resume), and the bench helpers."""
from __future__ import annotations

import html.parser
import json
import re
import statistics
import sys
from pathlib import Path

import numpy as np
import pytest

from common.data.cifar10 import CLASS_NAMES
from common.errors import UserError
from common.experiments import record as R
from common.nn.network import MLP
from common.render.figures import plot_history, save_figure
from scripts import bench, build_report, run_all, screenshot_report
from tests.helpers import HISTORY, TINY, report_recipe, write_record

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def binary_test(accuracy: float) -> dict:
    per_class = {"rest": {"precision": 0.92, "recall": 0.98, "f1": 0.95, "support": 9000},
                 "airplane": {"precision": 0.6, "recall": 0.25, "f1": 0.3, "support": 1000}}
    return {"accuracy": accuracy, "balanced_accuracy": 0.6, "roc_auc": 0.84, "macro_f1": 0.62, "f1_rest": 0.95,
            "f1_airplane": 0.3, "threshold": 0.47, "per_class": per_class,
            "confusion_matrix": [[8800, 200], [750, 250]]}


@pytest.fixture
def fixture_reports(tmp_path) -> Path:
    reports = tmp_path / "reports"
    write_record(reports / "part1" / "metrics.json", "part1", test=binary_test(0.91),
                 baseline={"majority_class": "rest", "majority_accuracy": 0.9})
    write_record(reports / "part2" / "metrics.json", "part2", status="diverged", test=binary_test(0.9),
                 baseline={"majority_class": "rest", "majority_accuracy": 0.9},
                 status_note="the loss became nan in epoch 3")
    cm = (np.eye(10, dtype=int) * 50 + 5).tolist()
    write_record(reports / "part3" / "metrics.json", "part3", status="incomplete", status_note="interrupted",
                 extra_tables={"Per class": "| class | f1 |\n|---|---:|\n| cat | 0.3 |"},
                 test={"accuracy": 0.5, "balanced_accuracy": 0.5, "confusion_matrix": cm,
                       "per_class": {c: {"recall": 0.5} for c in CLASS_NAMES}})
    for model, accuracy in (("simple", 0.6), ("improved", 0.8)):
        write_record(reports / "part5" / model / "metrics.json", "part5", recipe="quick", model=model.title() + "CNN",
                     test={"accuracy": accuracy}, validation={"accuracy": accuracy - 0.01},
                     config={"optimizer": "sgd", "lr": 0.1, "batch_size": 128, "schedule": "onecycle",
                             "label_smoothing": 0.1, "augment": True, "cutout": 8, "tta": True})
    write_record(reports / "part5" / "metrics.json", "part5", recipe="quick", headline_model="ImprovedCNN",
                 test={"accuracy": 0.8}, models={name: {"test_accuracy": acc, "parameters": 1000, "train_seconds": 1.0,
                                                        "epochs_run": 1, "images_per_second": 500.0}
                                                 for name, acc in (("SimpleCNN", 0.6), ("ImprovedCNN", 0.8))})
    write_record(reports / "000" / "part1" / "metrics.json", "part1", recipe="report 000",
                 config=R.config_dict(report_recipe("000", "part1")), test=binary_test(0.905),
                 baseline={"majority_class": "rest", "majority_accuracy": 0.9})
    for folder in ("part1", "part2", "part3", "part5/improved"):
        save_figure(plot_history(HISTORY, folder), reports / folder / "loss_curve.png", run_id="r")
    return reports  # part4 has not run


class _Checker(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.images = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def test_report_builds_from_fixture_runs(fixture_reports):
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports)])) == 0
    markdown = (fixture_reports / "index.md").read_text()
    assert "Not run yet: <code>make part4</code>" in markdown
    assert "| part1: a single logistic neuron | 0.9100 | 0.9000 | 2 | cpu |" in markdown
    assert "| part1: a single logistic neuron | test accuracy 0.9130 | 0.9050 |" in markdown  # report 000's table
    assert "| part1 | 1.9 | test accuracy 0.9130 | <span class=\"verdict-holds\">holds</span> |" in markdown
    # each report that has run here gets its table in its folder, written with the page: the two never differ
    verdicts = (fixture_reports / "000" / "verdicts.md").read_text()
    assert "| part1 | 1.9 | test accuracy 0.9130 | <span class=\"verdict-holds\">holds</span> |" in verdicts
    assert not (fixture_reports / "001").exists()
    assert "Not rerun here yet: `make reproduce REPORT=001` reruns its recipes" in markdown  # one line, no table
    assert "Status: diverged. the loss became nan in epoch 3" in markdown and "Status: incomplete" in markdown
    page = (fixture_reports / "index.html").read_text()
    checker = _Checker()
    checker.feed(page)
    assert not checker.errors and checker.stack == []
    assert checker.images and all((fixture_reports / src).is_file() for src in checker.images)
    assert '<a href="part1/loss_curve.png"><img' in page  # figures open full size
    assert "<figcaption><b>loss_curve.png</b>: Loss and accuracy per epoch" in page
    assert '<td style="text-align: right;">0.9050</td>' in page  # numbers right-aligned by the markdown library


def test_report_with_no_runs(tmp_path):
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(tmp_path)])) == 0
    index = (tmp_path / "index.md").read_text()
    assert index.count("Not run yet") == 6 and "<code>make eda</code>" in index


def test_a_metrics_file_missing_a_key_is_named_on_the_page_and_never_stops_it(fixture_reports):
    (fixture_reports / "part2" / "metrics.json").write_text(json.dumps({"part": "part2", "test": {"accuracy": 1}}))
    from common.cli import run_main
    assert run_main(build_report.main, build_report.build_parser(), ["--reports", str(fixture_reports)]) == 0
    assert "Unreadable: " in (fixture_reports / "index.md").read_text()
    assert "part2/metrics.json lacks schema" in (fixture_reports / "index.md").read_text()


def test_report_seen_in_headless_chromium(fixture_reports):
    if screenshot_report.find_chromium() is None:
        pytest.skip("chromium is not installed")
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports)]))
    png = screenshot_report.screenshot(fixture_reports / "index.html", fixture_reports / "index.png", height=1200)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_mlp_vs_cnn_rows_read_saved_metrics(fixture_reports):
    write_record(fixture_reports / "part4" / "metrics.json", "part4", parameters=197_322,
                 winner={"activation": "relu", "optimizer": "adam", "init": "he", "seconds": 11.0, "epochs_run": 20})
    rows = build_report.mlp_vs_cnn_rows(fixture_reports)
    assert [r["model"] for r in rows] == ["Part 3 MLP (3072-64-10)", "Part 4 best MLP (relu + adam + he)",
                                          "SimpleCNN", "ImprovedCNN"]
    assert (rows[1]["train_seconds"], rows[1]["epochs"]) == (11.0, 20)
    assert rows[3]["test_accuracy"] == 0.8 and rows[3]["recipe"] == "quick"


def test_part5_runs_table_lists_every_trained_cnn_with_its_recipe(fixture_reports):
    write_record(fixture_reports / "part5-gpu" / "metrics.json", "part5", recipe="tuned", test={"accuracy": 0.9},
                 environment={**R.environment_info(), "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"})
    write_record(fixture_reports / "part5-gpu" / "improved" / "metrics.json", "part5", recipe="tuned",
                 model="ImprovedCNN", test={"accuracy": 0.9}, config={**json.loads(
                     (fixture_reports / "part5" / "improved" / "metrics.json").read_text())["config"], "cutout": 0},
                 environment={**R.environment_info(), "device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"})
    rows = build_report.part5_run_rows(fixture_reports, build_report.other_runs(fixture_reports))
    assert [(r["run"], r["test_acc"]) for r in rows] == [("part5/simple", 0.6), ("part5/improved", 0.8),
                                                         ("part5-gpu/improved", 0.9)]
    assert "cutout 8" in rows[0]["settings"] and "cutout 0" in rows[2]["settings"]
    assert rows[2]["device"] == "cuda (NVIDIA H100 80GB HBM3)"


def test_readme_blocks_are_generated_and_dirty_results_refused(fixture_reports, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- parts:start -->\nold\n<!-- parts:end -->\nmiddle\n<!-- results:start -->\nold\n"
                      "<!-- results:end -->\nrest\n")
    build_report.update_readme(readme, fixture_reports)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "\nold\n" not in text and "middle" in text
    assert "| `make part3` | 3072 -> 64 sigmoid -> 10 softmax" in text
    assert "| part1: a single logistic neuron | 0.9100 | 0.9000 |" in text and "aaaaaaaaaaaa" in text
    assert "| part1: a single logistic neuron | test accuracy 0.9130 | 0.9050 |" in text
    assert re.search(r"Report 000's \d+ figures and claims: \d+ hold, .*`reports/000/verdicts.md`", text)
    write_record(fixture_reports / "part3" / "metrics.json", "part3", git_commit="b" * 40 + "-dirty")
    with pytest.raises(UserError, match="refusing to quote results measured at an uncommitted tree"):
        build_report.update_readme(readme, fixture_reports)
    readme.write_text("no markers")
    with pytest.raises(UserError, match="no <!-- parts:start -->"):
        build_report.update_readme(readme, fixture_reports)


def test_make_all_timings_and_bench_appear_in_the_report(fixture_reports):
    (fixture_reports / "run_all.json").write_text(json.dumps({
        "command": "make all", "device": "cpu", "total_seconds": 1260.0, "created": "2026-01-01", "git_commit": "abc",
        "steps": [{"step": "part1", "exit_code": 0, "seconds": 12.0, "estimated_seconds": 15}]}))
    (fixture_reports / "bench.md").write_text("# Benchmark\n\n| measurement | value |\n|---|---:|\n| ratio | 2.5 |\n")
    text = build_report.timings_markdown(fixture_reports)
    assert "`make all` on cpu: 21.0 min wall-clock, its runs side by side (each run's own time: part1 0.2 min" in \
        text and "| ratio | 2.5 |" in text
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports)]))
    assert "21.0 min wall-clock" in (fixture_reports / "index.html").read_text()


# ----------------------------------------------------------------------------- make all / make reproduce



def test_make_all_plans_trains_then_keeps_complete_parts(learnable_folder, tmp_path, monkeypatch, capsys):
    real_command, real_eda = run_all.part_command, run_all.eda_command
    monkeypatch.setattr(run_all, "part_command", lambda *a: real_command(*a) + TINY + ["--no-figures"])
    monkeypatch.setattr(run_all, "eda_command", lambda *a: real_eda(*a) + ["--val-size", "60"])
    reports = tmp_path / "reports"
    argv = ["--parts", "part1", "--data", str(learnable_folder), "--reports", str(reports)]
    assert run_all.main(run_all.build_parser().parse_args([*argv, "--estimate"])) == 0  # the plan alone
    assert "Plan (make all" in capsys.readouterr().err and not reports.exists()
    assert run_all.main(run_all.build_parser().parse_args(argv)) == 0
    first = capsys.readouterr().err
    assert "Plan (make all" in first and "part1" in first and "epochs of 3072-1" in first
    summary = json.loads((reports / "run_all.json").read_text())
    assert [s["step"] for s in summary["steps"]] == ["eda", "part1", "report"]
    part1 = Path(summary["steps"][1]["out"])  # the tiny flags make it a variant: its own folder, never reports/part1
    assert part1.parent.parent == reports / "variants" and not (reports / "part1").exists()
    written = (part1 / "metrics.json").stat().st_mtime_ns
    assert (reports / "eda" / "samples.png").is_file()
    assert all(s["exit_code"] == 0 for s in summary["steps"]) and (reports / "index.html").is_file()

    real_call = run_all.subprocess.call  # the page and eda ran once above; the reruns below skip those steps
    monkeypatch.setattr(run_all.subprocess, "call", lambda command, **kw: 0 if {"scripts.build_report", "scripts.eda"}
                        & set(command) else real_call(command, **kw))
    assert run_all.main(run_all.build_parser().parse_args(argv)) == 0
    second = capsys.readouterr().err
    assert second.count("complete: kept") == 1
    assert (part1 / "metrics.json").stat().st_mtime_ns == written  # kept, not retrained
    part1_seconds = json.loads((part1 / "metrics.json").read_text())["timing"]["total_seconds"]
    kept = json.loads((reports / "run_all.json").read_text())["steps"][1]
    assert kept["kept"] and kept["recorded_seconds"] == part1_seconds  # the time it took, not this invocation's
    timings = build_report.timings_markdown(reports)
    assert f"part1 {part1_seconds / 60:.1f} min (an earlier complete run, kept)" in timings
    assert "Kept: a complete run of the same" in timings

    assert run_all.main(run_all.build_parser().parse_args([*argv, "--force"])) == 0
    assert "complete: kept" not in capsys.readouterr().err
    assert (part1 / "metrics.json").stat().st_mtime_ns != written


def test_make_reproduce_on_a_cpu_says_part5_needs_a_gpu(learnable_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_all, "gpu_available", lambda: (False, "cpu"))
    real_estimate = run_all.estimate  # Part 5's own estimate times training steps: its plan is given here
    monkeypatch.setattr(run_all, "estimate", lambda command, resume, env=None: {
        "what": "100 epochs of SimpleCNN, 100 epochs of ImprovedCNN", "seconds": 36000.0, "complete": False,
        "out": ""} if "parts.part5" in command else real_estimate(command, resume, env))
    real_command = run_all.part_command
    monkeypatch.setattr(run_all, "part_command", lambda *a: real_command(*a) + ["--epochs", "1", "--no-progress",
                                                                                  "--no-figures"])
    reports = tmp_path / "reports"
    argv = ["--report", "000", "--parts", "part1", "part5", "--data", str(learnable_folder), "--reports",
            str(reports)]
    assert run_all.main(run_all.build_parser().parse_args(argv)) == 0
    err = capsys.readouterr().err
    assert "Plan (make reproduce REPORT=000" in err and "report 000's recipe needs a GPU here" in err
    assert "or here with ARGS=--cpu-ok" in err
    variant = reports / "000" / "variants" / "part1" / "epochs-1"  # one epoch of 1000: a variant of the recipe
    assert json.loads((variant / "metrics.json").read_text())["recipe_changes"] == {"epochs": {"recipe": 1000,
                                                                                               "run": 1}}
    assert not (reports / "000" / "part1").exists() and not (reports / "000" / "part5").exists()
    not_run = json.loads((reports / "000" / "run_all.json").read_text())["not_run"]
    assert not_run == ["part5", "part5 simple-with-batchnorm"]  # its variant needs a GPU too
    verdicts = (reports / "000" / "verdicts.md").read_text()  # the report's table, from the runs as they are
    assert "| part1 | 1.9 | test accuracy 0.9130 | <span class=\"verdict-not-measured\">not measured</span> | " \
           "not measured: part1 has not run with report 000's recipe" in verdicts


def test_part_command_follows_the_recipe():
    out = Path("r")
    assert run_all.part_command("part4", "000", False, None, out)[3:] == ["--reports", "r", "--report", "000"]
    assert run_all.part_command("part4", None, True, "d.tgz", out)[-3:] == ["--quick", "--data", "d.tgz"]
    assert run_all.part_command("part5", None, True, None, out)[-2:] == ["--recipe", "quick"]
    assert run_all.part_command("part1", None, False, None, out)[0] == sys.executable


# ----------------------------------------------------------------------------- bench

def test_the_cpu_settings_bench_sets_each_setting_beside_the_plain_loop_and_the_matmul_rate():
    eager = tuple(setting for setting in bench.CPU_SETTINGS if setting[1]["compile"] == "off")  # compiling: minutes
    cpu = bench.cnn_cpu_settings(batch_size=2, steps=1, settings=eager, rounds=3)
    assert cpu["plain_fp32_images_per_second"] > 0 and cpu["matmul_gflops_per_second"]["float32"] > 0
    names = [row["setting"] for row in cpu["settings"]]
    assert names[:2] == ["fp32, NCHW", "fp32, channels_last"] and cpu["best"] in names
    row = cpu["settings"][0]
    assert len(row["images_per_second_runs"]) == len(cpu["plain_fp32_images_per_second_runs"]) == 3
    assert row["images_per_second"] == statistics.median(row["images_per_second_runs"])
    ratios = [r / p for r, p in zip(row["images_per_second_runs"], cpu["plain_fp32_images_per_second_runs"])]
    assert row["vs_plain_fp32"] == pytest.approx(statistics.median(ratios))  # each round against its own peer
    assert cpu["best_vs_plain_fp32"] == max(r["vs_plain_fp32"] for r in cpu["settings"])
    assert row["gflops_per_second"] == pytest.approx(row["images_per_second"] * cpu["training_flops_per_image"] / 1e9)
    table = "\n".join(bench.cpu_settings_table(cpu))
    assert "| plain PyTorch loop, fp32, NCHW (the peer) |" in table and "GFLOP/s = images/s x 0.93" in table
    assert "3 rounds over" in table and f"({min(row['images_per_second_runs']):.0f}-" in table


def test_a_cpu_setting_that_cannot_run_is_a_row_that_says_why_and_is_not_retried(monkeypatch):
    calls = []

    def timed(changes, n_threads, batch_size, steps, has_bf16):
        calls.append(changes["compile"])
        return (float("nan"), "RuntimeError: no C++ compiler") if changes["compile"] != "off" else (120.0, None)
    monkeypatch.setattr(bench, "_setting_images_per_second", timed)
    monkeypatch.setattr(bench, "plain_loop_images_per_second", lambda batch_size, steps: 100.0)
    settings = tuple(s for s in bench.CPU_SETTINGS if not s[1]["amp"])[-2:]  # 1 thread (eager), torch.compile
    cpu = bench.cnn_cpu_settings(batch_size=2, steps=1, settings=settings, rounds=3)
    assert calls.count("default") == 1 and calls.count("off") == 3
    eager, compiled = cpu["settings"]
    assert eager["vs_plain_fp32"] == pytest.approx(1.2) and cpu["best"] == eager["setting"]
    assert compiled["error"] == "RuntimeError: no C++ compiler"
    assert "failed: RuntimeError: no C++ compiler" in "\n".join(bench.cpu_settings_table(cpu))


def test_bench_helpers_on_small_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 3072), dtype=np.float32)
    assert bench.full_batch_pass_seconds(x, rng.integers(0, 2, 512).astype(np.float32), repeats=1) > 0
    assert bench.torch_mlp_epoch_seconds(x, rng.integers(0, 10, 512), 64, 0.01) > 0
    assert bench.probe_seconds(MLP([3072, 8, 10], activation="relu", seed=0), x, repeats=1) > 0
    cnn = bench.cnn_throughput("cpu", batch_sizes=(2, 4), steps=1)
    assert [r["batch_size"] for r in cnn["batches"]] == [2, 4]
    assert all(r["images_per_second"] > 0 for r in cnn["batches"])
    assert cnn["device"] == "cpu" and not any(r["compiled"] for r in cnn["batches"])  # eager on a CPU
    assert cnn["bf16_peak"] is None and cnn["batches"][0]["peak_fraction"] is None  # no peak known for a CPU
    assert bench.bf16_peak("NVIDIA H100 80GB HBM3") == 989e12 and bench.bf16_peak("NVIDIA H100 PCIe") == 756e12
    part1 = {"part1_epoch_seconds": 1, "full_batch_pass_seconds": 1, "ratio": 1}
    text = bench.render({"part1_epoch_vs_full_batch": part1,
                         "mlp_numpy_vs_torch_cpu": {"numpy_epoch_seconds": 1, "torch_epoch_seconds": 1, "ratio": 1},
                         "activity_probe": {"probe_seconds": 0.004, "share": 0.004, "target_share": 0.03,
                                            "probe_images": 512},
                         "improved_cnn_training": {**cnn, "device": "cuda", "device_name": "H100",
                                                   "batches": [{**cnn["batches"][0], "peak_fraction": 0.061}]},
                         "environment": {"processor": "x", "cpu_count": 2, "numpy": "n", "torch": "t",
                                         "torch_threads": 2}, "git_commit": "abc", "created": "now"})
    assert "batch 2 (eager, bf16" in text and "6.1% of the bf16 peak" in text and "0.93 GFLOP" in text
    assert "probe, once an epoch (512 images) | 4.0 ms: 0.40% of the numpy epoch (goal <= 3%)" in text


def test_make_ablation_trains_each_variant_and_writes_the_table_and_curves(learnable_folder, tmp_path, monkeypatch):
    from common.report.analysis import read_ablation
    from scripts import ablation
    real = ablation.variant_command
    monkeypatch.setattr(ablation, "variant_command", lambda *a: real(*a) + [
        "--epochs", "1", "--val-size", "50", "--train-subset", "150", "--batch-size", "64", "--no-progress",
        "--no-figures"])
    out = tmp_path / "part5" / "ablation"
    args = ablation.build_parser().parse_args(["--recipe", "quick", "--out", str(out), "--data", str(learnable_folder),
                                               "--variants", "none", "no-dropout"])
    assert ablation.main(args) == 0
    records = read_ablation(out)
    assert set(records) == {"none", "no-dropout"} and records["no-dropout"]["config"]["ablation"] == "no-dropout"
    text = (out / "ablation.md").read_text()
    assert "| no-dropout | without dropout | 3,249,610 |" in text and (out / "ablation_curves.png").stat().st_size > 0


def test_make_report_refreshes_each_finished_parts_analysis_but_not_a_folder_in_use(fixture_reports):
    from common.files import ReportFolder
    with ReportFolder(fixture_reports / "part3"):
        written = build_report.refresh_part_analyses(fixture_reports)
    assert fixture_reports / "part1" / "analysis.md" in written
    assert "# Part 1" in (fixture_reports / "000" / "part1" / "analysis.md").read_text().split("\n")[1]
    assert not (fixture_reports / "part3" / "analysis.md").exists()  # held by a run: left to it


def test_make_reproduce_runs_part5_on_a_cpu_when_asked(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(run_all, "gpu_available", lambda: (False, "cpu"))
    monkeypatch.setattr(run_all, "estimate", lambda command, resume, env=None: {
        "what": "100 epochs", "seconds": 7200.0, "complete": False, "out": str(tmp_path / "000" / "part5")})
    ran = []
    monkeypatch.setattr(run_all, "call_part", lambda command, grace: ran.append(command) or 0)
    monkeypatch.setattr(run_all.subprocess, "call", lambda command, **kw: 0)  # the page
    argv = ["--report", "000", "--parts", "part5", "--reports", str(tmp_path), "--cpu-ok", "--jobs", "1"]
    assert run_all.main(run_all.build_parser().parse_args(argv)) == 0
    assert "part5  ~120.0 min" in capsys.readouterr().err
    assert ["--report", "000"] == ran[0][5:7] and ran[0][2] == "parts.part5" and "--resume" in ran[0]


def test_a_run_takes_the_cpus_its_steps_can_use():
    from common.experiments.mlp import MLPConfig
    assert run_all.step_cores("part3", MLPConfig(batch_size=64), jobs=2) == 1  # too small to split
    assert run_all.step_cores("part3", MLPConfig(batch_size=40000), jobs=2) == 2  # report 001's full batches
    assert run_all.step_cores("part1", None, jobs=2) == 1  # this suite's recipe: batches of 64
    assert run_all.step_cores("part5", None, jobs=2) == 2 and run_all.step_cores("part5", None, 2, gpu=True) == 1
    report = run_all.load_report("001")
    configs = run_all.check_report(report)
    assert {part: run_all.step_cores(part, configs[part], 2) for part in ("part1", "part2", "part3")} == \
        {"part1": 2, "part2": 2, "part3": 2}


def test_each_run_is_estimated_on_the_threads_it_will_run_on(tmp_path, monkeypatch, capsys):
    """Side by side, a numpy run gets one BLAS thread and Part 4 one per worker: timed on all of them, report 001's
    full-batch Part 2 was planned at 4.6 min and took 12.4."""
    monkeypatch.setattr(run_all, "gpu_available", lambda: (False, "cpu"))
    threads = {}
    def estimate(command, resume, env=None):
        variant = command[command.index("--variant") + 1] if "--variant" in command else ""
        threads[f"{command[2]} {variant}".strip()] = (env or {}).get("OPENBLAS_NUM_THREADS")
        return {"what": "", "seconds": 60.0, "complete": False}

    monkeypatch.setattr(run_all, "estimate", estimate)
    argv = ["--report", "000", "--parts", "part2", "part4", "--reports", str(tmp_path), "--estimate"]
    assert run_all.main(run_all.build_parser().parse_args([*argv, "--jobs", "2"])) == 0
    assert threads == {"parts.part2": "1", "parts.part2 exact-gradient": "1", "parts.part4": "2",
                       "parts.part4 relu-he-seed-1": "1", "parts.part4 relu-he-seed-2": "1"}  # one scenario: one worker
    assert run_all.main(run_all.build_parser().parse_args([*argv, "--jobs", "1"])) == 0
    assert set(threads.values()) == {None}  # one at a time: each on the threads it chooses


def test_make_reproduce_counts_converting_the_data_once_not_once_a_run(tmp_path, monkeypatch, capsys):
    """Every part's estimate includes the first load's conversion into the cache; side by side, one does it."""
    monkeypatch.setattr(run_all, "gpu_available", lambda: (False, "cpu"))
    monkeypatch.setattr(run_all, "estimate", lambda command, resume, env=None: {
        "what": "1000 epochs", "seconds": 600.0 + 30.0, "first_load_seconds": 30.0, "complete": False, "out": ""})
    argv = ["--report", "000", "--parts", "part1", "part2", "--reports", str(tmp_path), "--estimate", "--jobs", "2"]
    assert run_all.main(run_all.build_parser().parse_args(argv)) == 0
    err = capsys.readouterr().err
    assert "data   ~  0.5 min" in err and "convert the data into its cache (once, by the first step" in err
    runs = err.count("~ 10.5 min")  # each run's own estimate still says what it alone would take
    assert runs >= 2 and "total  ~ 20.5 min" in err  # 0.5 + two runs of 10 on each CPU (part1's two, part2's two)


_STOPPABLE_CHILD = """
import signal, sys, time, pathlib
done = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    done.write_text(signal.Signals(signum).name)  # what a part does: save its epochs, then exit 130
    sys.exit(130)
signal.signal(signal.SIGTERM, stop)
done.with_suffix(".ready").touch()
time.sleep(60)
"""


@pytest.mark.parametrize("stop", [KeyboardInterrupt("SIGTERM"), KeyboardInterrupt()], ids=["kill", "ctrl-c"])
def test_stopping_make_all_stops_the_part_cleanly(tmp_path, stop):
    """make all stopped (kill, or a Ctrl-C its part did not get because it runs in the background) stops its part
    with SIGTERM and waits for it to save, instead of killing it outright or leaving it training."""
    import signal

    done = tmp_path / "stopped"

    def interrupt(*_):
        if not done.with_suffix(".ready").exists():
            return signal.setitimer(signal.ITIMER_REAL, 0.05)  # the child has not started yet: try again
        raise stop

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        code = run_all.call_part([sys.executable, "-c", _STOPPABLE_CHILD, str(done)], grace_seconds=0.2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 130 and done.read_text() == "SIGTERM"


def test_runs_go_side_by_side_as_their_cores_allow_each_logging_to_its_own_file(tmp_path, monkeypatch):
    def step(name, seconds, code=0, cores=1):
        script = (f"import os, sys, time; print('threads', os.environ['OPENBLAS_NUM_THREADS'], 'start', time.time(), "
                  f"flush=True); time.sleep({seconds}); print('end', time.time()); sys.exit({code})")
        return run_all.Step(name, [sys.executable, "-c", script], {"seconds": seconds}, cores)

    steps = [step("a", 1.0), step("b", 1.0), step("c", 0.3, code=2), step("d", 0.3, cores=2)]
    monkeypatch.setattr(run_all, "STATUS_SECONDS", 0.3)
    results = run_all.run_steps(steps, 2, tmp_path / "logs")
    assert [r["exit_code"] for r in results] == [0, 0, 2, 0]  # a failed run never stops the others
    logs = {s.name: (tmp_path / "logs" / f"{s.name}.log").read_text().split() for s in steps}
    span = {name: (float(words[words.index("start") + 1]), float(words[words.index("end") + 1]))
            for name, words in logs.items()}
    assert span["a"][0] < span["b"][1] and span["b"][0] < span["a"][1]  # a and b side by side
    assert span["c"][0] >= min(span["a"][1], span["b"][1])  # c waits for a CPU
    assert span["d"][0] >= max(span["a"][1], span["b"][1])  # d needs both CPUs: it never runs beside another
    assert span["c"][1] <= span["d"][0] or span["c"][0] >= span["d"][1]
    assert logs["d"][logs["d"].index("threads") + 1] == "2" and logs["a"][logs["a"].index("threads") + 1] == "1"
    assert run_all.wall_seconds(steps, 2, [2.0, 2.0, 0.5, 0.5]) == 3.0  # the plan's total, by the same rule
    a, c, d = steps[0], steps[2], steps[3]  # a run that needs both CPUs never keeps one idle while others wait:
    assert run_all.wall_seconds([a, d, c], 2, [2.0, 0.5, 0.5]) == 2.5  # c runs beside a, then d
    # the most work first: a long two-CPU run listed last starts first, not alone at the end after the short ones
    # (first come: a and b start, c takes a's CPU as b's frees one, and long waits with a CPU idle till c ends: 5.0)
    plan = [step("a", 1.0), step("b", 1.1), step("c", 2.0), step("long", 2.0, cores=2)]
    assert run_all.next_to_start(plan, [0, 1, 2, 3], 2) == 3
    assert run_all.wall_seconds(plan, 2, [1.0, 1.1, 2.0, 2.0]) == pytest.approx(4.1)


@pytest.mark.parametrize("stop", [KeyboardInterrupt("SIGTERM"), KeyboardInterrupt()], ids=["kill", "ctrl-c"])
def test_stopping_side_by_side_runs_stops_each_cleanly_and_starts_no_more(tmp_path, stop):
    import signal

    ready = [tmp_path / f"stopped{i}.ready" for i in range(2)]

    def interrupt(*_):
        if not all(path.exists() for path in ready):
            return signal.setitimer(signal.ITIMER_REAL, 0.05)
        raise stop

    steps = [run_all.Step(f"s{i}", [sys.executable, "-c", _STOPPABLE_CHILD, str(tmp_path / f"stopped{i}")],
                          {"seconds": 60.0}) for i in range(3)]
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        results = run_all.run_steps(steps, 2, tmp_path / "logs", grace_seconds=0.2)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [r["exit_code"] for r in results] == [130, 130, None]
    assert all((tmp_path / f"stopped{i}").read_text() == "SIGTERM" for i in range(2))
