"""Every figure a part draws is written and shows something; what cannot be drawn is skipped with the
reason; the toy networks, saliency and gradient ascent do what the figures claim."""
from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from common.catalog import EDA_FIGURES, PARTS
from common.cnn import insight as cnn_insight
from common.cnn.models import ImprovedCNN
from common.experiments import toy as toy_data
from parts import part1, part3, part4, part5
from tests.helpers import TINY


def assert_shows_something(path: Path) -> None:
    """A PNG of a real size whose pixels vary (not a blank or single-colour canvas)."""
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    assert min(pixels.shape) > 150 and pixels.std() > 10, f"{path.name} looks empty"


REPORT_ONLY = {"confusion_vs_report.png"}  # drawn for a report's rerun that has a printed matrix to meet


@pytest.mark.parametrize("module, extra", [(part1, TINY), (part1, ["--report", "000", "--epochs", "2",
                                                                      "--no-progress"]), (part3, TINY),
                                           (part3, ["--report", "000", "--epochs", "2", "--no-progress"])])
def test_the_mlp_parts_draw_every_figure_of_the_catalog(module, extra, learnable_folder, tmp_path):
    out = tmp_path / "out"
    argv = ["--data", str(learnable_folder), "--out", str(out), *extra]
    assert module.main(module.build_parser().parse_args(argv)) == 0
    part = module.PART
    expected = {name for name, _ in PARTS[part].figures} - {"mistakes.png"}  # none wrong is possible on toy data
    if "--report" not in extra:
        metrics = json.loads((out / "metrics.json").read_text())
        assert all(metrics["figures_skipped"][name].startswith("only a report's rerun") for name in
                   REPORT_ONLY & expected)
        expected -= REPORT_ONLY
    for name in expected:
        assert_shows_something(out / name)
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["figures"]) >= expected and all(metrics["figures"][name] for name in expected)  # captions
    if not (out / "mistakes.png").is_file():
        assert metrics["figures_skipped"]["mistakes.png"] == "no test image was misclassified"


def test_a_run_that_diverges_in_its_first_epoch_skips_its_model_figures_with_the_reason(learnable_folder, tmp_path):
    out = tmp_path / "out"
    args = part1.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(out), "--lr", "1e9",
                                            "--no-hflip", *TINY])
    with np.errstate(all="ignore"):
        assert part1.main(args) == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and not metrics["history"]
    for name in ("weights.png", "roc_pr.png", "mistakes.png", "predictions.png", "loss_curve.png"):
        assert not (out / name).exists()
        assert metrics["figures_skipped"][name].startswith("no epoch was completed (diverged: the loss became")
    assert "weights.png not drawn: no epoch was completed" in (out / "summary.md").read_text()


def test_part4_draws_the_grid_at_a_glance_the_sweep_and_the_toy_boundaries(learnable_folder, tmp_path):
    out = tmp_path / "p4"
    args = part4.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(out), *TINY,
                                            "--sweep-epochs", "1", "--activations", "relu", "tanh", "--optimizers",
                                            "sgd", "adam", "--inits", "he", "small", "--top", "1", "--seeds", "1"])
    assert part4.main(args) == 0
    for name in ("grid_heatmap.png", "lr_sweep.png", "toy_boundaries.png", "predictions.png", "curves_by_init.png"):
        assert_shows_something(out / name)
    assignment = tmp_path / "p4a"
    args = part4.build_parser().parse_args(["--report", "000", "--data", str(learnable_folder), "--out",
                                            str(assignment), "--epochs", "2", "--no-progress", "--workers", "1"])
    assert part4.main(args) == 0
    metrics = json.loads((assignment / "metrics.json").read_text())
    assert "no grid" in metrics["figures_skipped"]["grid_heatmap.png"]
    assert_shows_something(assignment / "scenario_curves.png")


def test_part5_draws_filters_saliency_and_class_images_also_from_a_checkpoint(learnable_folder, tmp_path,
                                                                             monkeypatch):
    # 10 ascent steps instead of 200: the figure is drawn all the same (its ascent has a test of its own)
    monkeypatch.setattr(cnn_insight, "class_images", functools.partial(cnn_insight.class_images, steps=10))
    out = tmp_path / "p5"
    argv = ["--data", str(learnable_folder), "--out", str(out), "--model", "improved", "--epochs", "1",
            "--val-size", "50", "--train-subset", "150", "--batch-size", "64", "--no-progress", "--recipe", "quick",
            "--no-figures"]
    assert part5.main(part5.build_parser().parse_args(argv)) == 0  # trained, nothing drawn: the figures come next
    assert not list((out / "improved").glob("*.png"))
    checkpoint = str(out / "improved" / "improved_cnn.pt")
    elsewhere = tmp_path / "evaluated"  # make part5-eval --out: any folder name, figures by the model it holds
    assert part5.main(part5.build_parser().parse_args(["--data", str(learnable_folder), "--eval", checkpoint,
                                                       "--out", str(elsewhere), "--no-progress"])) == 0
    for name, _ in PARTS["part5"].figures:  # every figure of the model's folder, drawn from the checkpoint
        if name.startswith("improved/") and name != "improved/mistakes.png":
            assert_shows_something(elsewhere / name.split("/", 1)[1])
    assert not list((out / "improved").glob("*.png")) and not (out / "simple").exists()  # nothing else drawn


def test_gradient_ascent_raises_every_class_score():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))  # scores of a useful size
    with torch.no_grad():
        model[1].weight.mul_(20)
    pictures, start, end = cnn_insight.class_images(model, torch.device("cpu"), steps=30)  # L2, jitter and blur on
    assert pictures.shape == (10, 32, 32, 3) and 0 <= pictures.min() and pictures.max() <= 1
    assert np.all(end > start + 1), (start, end)
    assert all(p.requires_grad for p in model.parameters())  # the model is left trainable


def test_saliency_is_the_input_gradient_of_the_true_class():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10))
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    maps, p_true = cnn_insight.saliency(model, images, np.array([1, 2, 3]), torch.device("cpu"))
    weight = model[1].weight.detach().view(10, 3, 32, 32)
    for i, label in enumerate([1, 2, 3]):  # a linear model's input gradient is its weight row for the class
        np.testing.assert_allclose(maps[i], weight[label].abs().amax(0).numpy(), rtol=1e-5)
    assert maps.shape == (3, 32, 32) and p_true.shape == (3,) and np.all((p_true > 0) & (p_true < 1))
    filters = cnn_insight.first_filters(ImprovedCNN())
    assert filters.shape == (64, 3, 3, 3) and filters.min() >= 0 and filters.max() <= 1


def test_the_toy_network_bends_with_tanh_and_the_linear_control_cannot():
    x, y = toy_data.make_dataset("moons", 400, seed=0)
    x_test, y_test = toy_data.make_dataset("moons", 400, seed=1)

    def accuracy(activation):
        model = toy_data.train_toy(x, y, activation)
        return float(np.mean(model.predictions(model.logits(x_test)) == y_test))

    tanh, linear = accuracy("tanh"), accuracy("identity")
    assert tanh >= 0.95 and linear <= 0.90, (tanh, linear)


def test_eda_writes_its_figures_and_numbers(learnable_folder, tmp_path):
    from scripts import eda
    out = tmp_path / "eda"
    assert eda.main(eda.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(out), "--val-size",
                                                   "100", "--per-class", "4"])) == 0
    for name, _ in EDA_FIGURES:
        assert_shows_something(out / name)
    summary = json.loads((out / "summary.json").read_text())
    assert [row["validation"] for row in summary["class_counts"]] == [10] * 10
    assert sum(row["train"] for row in summary["class_counts"]) == 500
    assert {row["channel"] for row in summary["channels"]} == {"red", "green", "blue"}


def test_make_report_draws_the_figures_from_the_saved_files_without_training(learnable_folder, tmp_path):
    """Running apart from reporting: a run that drew nothing gets its figures from `make report`, which
    reads the record, the arrays and the test images; --redraw draws them again, training nothing."""
    from scripts import build_report
    reports = tmp_path / "reports"
    args = part1.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(reports / "part1"),
                                            "--no-figures", *TINY])
    assert part1.main(args) == 0 and not list((reports / "part1").glob("*.png"))
    record = json.loads((reports / "part1" / "metrics.json").read_text())
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(reports)])) == 0
    drawn = json.loads((reports / "part1" / "metrics.json").read_text())
    assert set(drawn["figures"]) | set(drawn["figures_skipped"]) >= {n for n, _ in PARTS["part1"].figures}
    for name in drawn["figures"]:
        assert_shows_something(reports / "part1" / name)
    assert {k: v for k, v in drawn.items() if k not in ("figures", "figures_skipped")} == \
        {k: v for k, v in record.items() if k not in ("figures", "figures_skipped")}  # the run's numbers untouched
    before = (reports / "part1" / "loss_curve.png").stat().st_mtime_ns
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(reports)])) == 0
    assert (reports / "part1" / "loss_curve.png").stat().st_mtime_ns == before  # current: left as it is
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(reports), "--redraw"])) == 0
    redrawn = (reports / "part1" / "loss_curve.png").stat().st_mtime_ns
    assert redrawn != before
    moved = {**json.loads((reports / "part1" / "metrics.json").read_text()), "data_fingerprint": "other data"}
    (reports / "part1" / "metrics.json").write_text(json.dumps(moved))  # the data it trained on is gone
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(reports), "--redraw"])) == 0
    assert (reports / "part1" / "loss_curve.png").stat().st_mtime_ns == redrawn  # other images: not drawn


def test_a_reports_rerun_of_part3_gets_its_confusion_matrix_against_the_printed_one():
    from common.data.cifar10 import CLASS_NAMES
    from common.report.drawing import confusion_vs_report
    from common.report.report_file import load_report
    printed = np.array(next(c for c in load_report("000").claims if c.kind == "confusion").fields["matrix"])
    record = {"part": "part3", "recipe": "report 000", "title": "Part 3", "classes": list(CLASS_NAMES),
              "test": {"confusion_matrix": (printed + np.eye(10, dtype=int) * 7).tolist()}}
    figure, why = confusion_vs_report(record)
    assert why == "" and "+7" in [t.get_text() for t in figure.axes[0].texts]  # the diagonal moved by 7 images
    figure, why = confusion_vs_report({**record, "recipe": "tuned"})
    assert figure is None and why.startswith("only a report's rerun has a printed matrix")


def test_curves_with_a_sparse_test_record_draw_one_unbroken_line_through_the_epochs_measured():
    from common.render.figures import plot_history, plot_scenario_curves
    history = [{"epoch": e, "train_loss": 1 / e, **({"test_acc": 0.5, "test_loss": 1.0} if e <= 3 or e % 5 == 0
                                                    else {})} for e in range(1, 21)]
    for figure in (plot_history(history, "sparse"), plot_scenario_curves({"run": history}, "sparse")):
        lines = {line.get_label(): line for ax in figure.axes for line in ax.get_lines()}
        tested = [line for label, line in lines.items() if "test" in label or label == "run"]
        assert tested and all(np.isfinite(np.asarray(line.get_ydata(), float)).all() for line in tested)
        assert any(list(line.get_xdata()) == [1, 2, 3, 5, 10, 15, 20] for line in tested)
