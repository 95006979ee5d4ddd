"""The report index, its HTML as a browser sees it, `make all`'s plan, and the bench helpers."""
from __future__ import annotations

import html.parser
import json
from pathlib import Path

import numpy as np
import pytest

from common.report import plot_history, save_figure
from scripts import bench, build_report, run_all, screenshot_report

HISTORY = [{"epoch": 1, "train_loss": 0.5, "train_acc": 0.8, "val_loss": 0.6, "val_acc": 0.78}]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def _metrics(part: str, **extra) -> dict:
    base = {"part": part, "title": part, "status": "complete", "test": {"accuracy": 0.5, "macro_f1": 0.4},
            "history": HISTORY, "best_epoch": 1, "config": {"lr": 0.1}, "seed": 0,
            "timing": {"train_seconds": 1.0, "total_seconds": 2.0}, "environment": {"device": "cpu"},
            "git_commit": "abc", "data_source": "synthetic", "created": "2026-01-01T00:00:00"}
    return {**base, **extra}


@pytest.fixture
def fixture_reports(tmp_path) -> Path:
    reports = tmp_path / "reports"
    runs = {
        "part1": _metrics("part1", test={"accuracy": 0.91, "roc_auc": 0.84, "f1_airplane": 0.3, "threshold": 0.47},
                          baseline={"majority_accuracy": 0.9}),
        "part2": _metrics("part2", status="diverged", status_note="the loss became nan in epoch 3"),
        "part3": _metrics("part3", status="incomplete", status_note="interrupted during epoch 2",
                          extra_tables={"Per class": "| class | f1 |\n|---|---:|\n| cat | 0.3 |"}),
        "part5": _metrics("part5", headline_model="ImprovedCNN", profile="quick",
                          models={"SimpleCNN": {"test_accuracy": 0.6, "epochs_run": 8, "train_images_per_second": 2000.0}}),
    }  # part4 has not run
    for part, metrics in runs.items():
        (reports / part).mkdir(parents=True)
        (reports / part / "metrics.json").write_text(json.dumps(metrics))
        save_figure(plot_history(HISTORY, part), reports / part / "loss_curve.png")
    return reports


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
    assert "_Not run yet: `make part4`._" in markdown
    assert "| part1 | a single logistic neuron | 0.9130 | 0.9100 | 0.9000 |" in markdown
    assert "diverged" in markdown and "incomplete" in markdown
    page = (fixture_reports / "index.html").read_text()
    checker = _Checker()
    checker.feed(page)
    assert not checker.errors and checker.stack == []
    assert checker.images and all((fixture_reports / src).is_file() for src in checker.images)
    assert 'class="status-diverged"' in page and "Not run yet" in page


def test_report_with_no_runs(tmp_path):
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(tmp_path)])) == 0
    assert (tmp_path / "index.md").read_text().count("Not run yet") == 5


def test_report_seen_in_headless_chromium(fixture_reports):
    if screenshot_report.find_chromium() is None:
        pytest.skip("chromium is not installed")
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports)]))
    png = screenshot_report.screenshot(fixture_reports / "index.html", fixture_reports / "index.png", height=1200)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_run_all_plan_uses_previous_runs(fixture_reports):
    steps = run_all.plan(quick=True, gpu=False, reports=fixture_reports)
    names = [name for name, _, _ in steps]
    assert names == ["part1", "part2", "part3", "part4 --quick", "part5 quick", "report"]
    estimates = {name: estimate for name, _, estimate in steps}
    assert estimates["part1"] == 2.0  # the fixture run's total_seconds
    assert estimates["part2"] == run_all.FALLBACK_ESTIMATES["part2"]  # diverged: no estimate from it
    assert run_all.plan(quick=False, gpu=True, reports=fixture_reports)[4][0] == "part5 best"


def test_bench_helpers_on_small_inputs():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 3072), dtype=np.float32)
    assert bench.full_batch_pass_seconds(x, rng.integers(0, 2, 512).astype(np.float32), repeats=1) > 0
    assert bench.torch_mlp_epoch_seconds(x, rng.integers(0, 10, 512), 64, 0.01) > 0
    cnn = bench.cnn_throughput("cpu", batch_size=2, steps=1)
    assert cnn["images_per_second"] > 0 and cnn["device"] == "cpu"
    text = bench.render({"part1_epoch_vs_full_batch": {"part1_epoch_seconds": 1, "full_batch_pass_seconds": 1,
                                                       "ratio": 1},
                         "mlp_numpy_vs_torch_cpu": {"numpy_epoch_seconds": 1, "torch_epoch_seconds": 1, "ratio": 1},
                         "improved_cnn_training": cnn,
                         "environment": {"processor": "x", "cpu_count": 2, "numpy": "n", "torch": "t",
                                         "torch_threads": 2},
                         "git_commit": "abc", "created": "now"})
    assert "| ratio | 1.00 | <= 2 |" in text and "ImprovedCNN" in text


def test_readme_results_block_is_generated(fixture_reports, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nrest\n")
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports), "--update-readme",
                                                              str(readme)]))
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("rest\n") and "old" not in text
    assert "| part1 | a single logistic neuron | 0.9130 | 0.9100 |" in text
    readme.write_text("no markers")
    from common.errors import UserError
    with pytest.raises(UserError, match="no <!-- results:start -->"):
        build_report.update_readme(readme, {})


def test_variant_runs_get_their_own_rows(fixture_reports):
    variant = fixture_reports / "part5-best-gpu"
    variant.mkdir()
    (variant / "metrics.json").write_text(json.dumps(_metrics("part5", headline_model="ImprovedCNN", profile="best",
                                                               test={"accuracy": 0.92})))
    rows = build_report.results_rows(build_report.load_runs(fixture_reports), build_report.load_variants(fixture_reports))
    parts = [r["part"] for r in rows]
    assert parts[-2:] == ["part5", "part5-best-gpu"] and rows[-1]["measured"] == 0.92
    assert "ImprovedCNN, best profile" in rows[-1]["note"]


def test_make_all_timings_and_bench_appear_in_the_report(fixture_reports):
    (fixture_reports / "run_all.json").write_text(json.dumps({
        "device": "cpu", "quick": False, "total_seconds": 1260.0, "created": "2026-01-01",
        "steps": [{"step": "part1", "exit_code": 0, "seconds": 12.0, "estimated_seconds": 15}]}))
    (fixture_reports / "bench.md").write_text("# Benchmark\n\n| measurement | value | target |\n|---|---:|---:|\n"
                                              "| ratio | 2.5 | <= 2 |\n")
    (fixture_reports / "bench-gpu").mkdir()
    (fixture_reports / "bench-gpu" / "bench.md").write_text("# Benchmark\n\n| measurement | value | target |\n"
                                                            "|---|---:|---:|\n| CNN on cuda | 60,000 images/s | |\n")
    text = build_report.timings_markdown(fixture_reports)
    assert "`make all` on cpu: 21.0 min in all (part1 0.2 min" in text and "| ratio | 2.5 | <= 2 |" in text
    assert text.index("| ratio | 2.5") < text.index("reports/bench-gpu") < text.index("| CNN on cuda | 60,000")
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports)]))
    assert "21.0 min in all" in (fixture_reports / "index.html").read_text()


def test_part5_runs_table_lists_every_trained_cnn_with_its_recipe(fixture_reports, tmp_path):
    config = {"optimizer": "sgd", "lr": 0.1, "batch_size": 256, "schedule": "onecycle", "label_smoothing": 0.1,
              "augment": True}
    runs = {"part5/improved": dict(validation={"best_accuracy": 0.84, "accuracy": 0.85, "tta": True},
                                   config={**config, "cutout": 8, "tta": True}, test={"accuracy": 0.86}),
            "part5-old/improved": dict(validation={"best_accuracy": 0.83}, config=config, test={"accuracy": 0.84},
                                       environment={"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"})}
    for run, extra in runs.items():
        (fixture_reports / run).mkdir(parents=True)
        (fixture_reports / run / "metrics.json").write_text(json.dumps(_metrics("part5", model="ImprovedCNN",
                                                                                profile="best", **extra)))
    rows = build_report.part5_run_rows(fixture_reports)
    assert [(r["run"], r["val_acc"], r["tta"]) for r in rows] == [("part5/improved", 0.85, "yes"),
                                                                  ("part5-old/improved", 0.83, "no")]
    assert "cutout 8" in rows[0]["recipe"] and "cutout 0" in rows[1]["recipe"]
    assert [r["device"] for r in rows] == ["cpu", "cuda (NVIDIA H100 80GB HBM3)"]
    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:start -->\n<!-- results:end -->\n")
    build_report.main(build_report.build_parser().parse_args(["--reports", str(fixture_reports), "--update-readme",
                                                              str(readme)]))
    for text in (readme.read_text(), (fixture_reports / "index.md").read_text()):
        assert build_report.PART5_RUNS_TITLE in text and "| part5-old/improved | ImprovedCNN | best |" in text
        assert "| part5/improved | ImprovedCNN | best |" in text and "| 0.8500 | 0.8600 |" in text
    assert build_report.PART5_RUNS_TITLE in (fixture_reports / "index.html").read_text()
