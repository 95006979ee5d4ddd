"""What every run writes: atomic files, the report-folder lock, metrics.json and its schema, summary.md."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from common import files as F
from common.errors import UserError
from common.experiments import record as R
from common.paths import PROJECT_ROOT
from common.render import figures as FIG
from tests.helpers import report_recipe

HISTORY = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 100, "val_loss": 1.2 / e,
            "val_acc": 0.45 + e / 100} for e in range(1, 6)]


def record(**extra) -> dict:
    """A complete record as a pipeline would hand it to write_run_report."""
    base = R.run_record(part="part1", recipe="tuned", status="complete", status_note="", config={"lr": 0.1}, seed=0,
                        device="cpu", data_source="synthetic", data_fingerprint="abc", run_id="run-a",
                        recipe_config={"lr": 0.1})
    return {**base, "parameters": 10, "test": {"accuracy": 0.5}, "history": HISTORY, "best_epoch": 5,
            "epochs_run": 5, "timing": {"train_seconds": 1.0, "total_seconds": 2.0},
            "throughput": {"train_images_per_second": 100.0}, **extra}


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    F.atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    F.atomic_write_json(tmp_path / "a" / "m.json", {"v": np.float32(0.5), "arr": np.arange(2), "nan": float("nan")})
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == {"v": 0.5, "arr": [0, 1], "nan": None}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["m.json", "x.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    F.atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        F.atomic_write_json(target, {"bad": object()})
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_an_atomic_write_never_replaces_what_is_not_a_file(tmp_path):
    """A figure "saved" to os.devnull once replaced /dev/null with a file through the rename."""
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")  # a special file, as /dev/null is (which a test must not risk)
    for path in (tmp_path / "pipe", tmp_path / "folder"):
        with pytest.raises(UserError, match="exists and is not a file"):
            F.atomic_write_bytes(path, b"x")
    assert (tmp_path / "pipe").is_fifo() and (tmp_path / "folder").is_dir()


def test_atomic_files_get_the_usual_mode(tmp_path):
    F.atomic_write_text(tmp_path / "f.txt", "x")
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~F._UMASK


def test_unwritable_folder_is_refused(tmp_path):
    assert F.ensure_writable(tmp_path / "new").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write reports to"):
        F.ensure_writable(blocker / "sub")


def test_a_folder_another_run_holds_is_refused_with_who_holds_it(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom common.files import ReportFolder\n"
                               f"with ReportFolder({str(tmp_path)!r}):\n    print('held', flush=True)\n"
                               "    time.sleep(30)"], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match=rf"in use by another run \(pid {holder.pid}.*--out"):
            with F.ReportFolder(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with F.ReportFolder(tmp_path) as folder:  # a dead holder releases the folder with its process
        assert folder == tmp_path


def test_figures_render(tmp_path):
    cm = np.array([[50, 3], [7, 40]])
    FIG.save_figure(FIG.plot_confusion_matrix(cm, ("rest", "airplane"), "cm"), tmp_path / "cm.png")
    FIG.save_figure(FIG.plot_history(HISTORY, "curves", best_epoch=3), tmp_path / "curves.png")
    watched = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5, "test_loss": 1.1 / e, "test_acc": 0.4}
               for e in range(1, 4)]
    FIG.save_figure(FIG.plot_history(watched, "watched", best_epoch=3), tmp_path / "watched.png")
    per_class = {n: {"recall": r} for n, r in zip("abc", (0.1, 0.5, 0.9))}
    FIG.save_figure(FIG.plot_per_class_accuracy(per_class, "bars"), tmp_path / "bars.png")
    for name in ("cm.png", "curves.png", "watched.png", "bars.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_run_report_and_read_it_back(tmp_path):
    metrics = record(status="incomplete", status_note="interrupted", baseline={"majority_accuracy": 0.9},
                     test={"accuracy": 0.5, "per_class": {"a": {"precision": 1.0, "recall": 0.5, "f1": 0.66,
                                                                 "support": 2}}})
    written = R.write_run_report(tmp_path, metrics, {"loss_curve.png": FIG.plot_history(HISTORY, "t")},
                                 skipped={"weights.png": "the run diverged"}, captions={"loss_curve.png": "look here"})
    saved = R.read_record(tmp_path / "metrics.json")
    assert written == saved  # the callers use the returned record instead of reading the file back
    assert saved["status"] == "incomplete" and saved["figures"] == {"loss_curve.png": "look here"}
    assert saved["figures_skipped"] == {"weights.png": "the run diverged"} and saved["schema"] == R.SCHEMA_VERSION
    summary = (tmp_path / "summary.md").read_text()
    assert "**Status: incomplete.**" in summary and "majority_accuracy" in summary and "*look here*" in summary
    assert "![loss_curve](loss_curve.png)" in summary and "| a | 1.0000 | 0.5000" in summary
    assert "weights.png not drawn: the run diverged" in summary


def test_a_record_missing_a_required_key_is_an_error_on_both_sides(tmp_path):
    incomplete = record()
    del incomplete["history"]
    with pytest.raises(ValueError, match="lacks \\['history'\\]"):
        R.write_run_report(tmp_path, incomplete)
    (tmp_path / "metrics.json").write_text(json.dumps({"part": "part1", "test": {"accuracy": 0.5}}))
    with pytest.raises(UserError, match="metrics.json lacks schema, title, recipe"):
        R.read_record(tmp_path / "metrics.json")


def test_completed_run_needs_the_same_config_data_and_a_complete_status(tmp_path):
    R.write_run_report(tmp_path, record())
    assert R.completed_run(tmp_path, {"lr": 0.1}, "abc") is not None
    assert R.completed_run(tmp_path, {"lr": 0.2}, "abc") is None
    assert R.completed_run(tmp_path, {"lr": 0.1}, "other data") is None
    R.write_run_report(tmp_path, record(status="incomplete"))
    assert R.completed_run(tmp_path, {"lr": 0.1}, "abc") is None


def test_a_folder_with_files_of_two_runs_is_never_a_complete_run(tmp_path):
    """A kill between files (fault: arrays of a new run beside the old metrics.json) is detected: every
    file carries its run's id, and a folder whose files disagree with metrics.json is not kept."""
    figure = FIG.pyplot().figure()
    R.write_run_report(tmp_path, record(), {"loss_curve.png": figure})
    F.atomic_write_npz(tmp_path / "predictions.npz", run_id="run-a", y=np.arange(3))
    assert R.mixed_files(tmp_path, R.read_record(tmp_path / "metrics.json")) == []
    assert F.run_id_of(tmp_path / "loss_curve.png") == "run-a" and F.run_id_of(tmp_path / "summary.md") == "run-a"
    assert R.completed_run(tmp_path, {"lr": 0.1}, "abc") is not None
    F.atomic_write_npz(tmp_path / "predictions.npz", run_id="run-b", y=np.arange(3))  # the next run, killed here
    assert R.mixed_files(tmp_path, R.read_record(tmp_path / "metrics.json")) == ["predictions.npz"]
    assert R.completed_run(tmp_path, {"lr": 0.1}, "abc") is None
    with pytest.raises(UserError, match="written by run run-b, not by run run-a"):
        F.load_run_arrays(tmp_path / "predictions.npz", "run-a")


def test_recipe_changes_list_every_result_changing_setting_and_nothing_else():
    from dataclasses import replace

    from common.cnn.training import CNNConfig
    from parts import part4
    recipe = report_recipe("000", "part1")
    assert R.recipe_changes(recipe, replace(recipe, recipe="other label")) == {}
    changed = R.recipe_changes(recipe, replace(recipe, epochs=2, train_subset=3000))
    assert changed == {"epochs": {"recipe": 1000, "run": 2}, "train_subset": {"recipe": None, "run": 3000}}
    assert R.changes_text(changed) == "epochs 2 (recipe: 1000), train_subset 3000 (recipe: None)"
    assert R.changes_text(changed, short=True) == "epochs=2 train_subset=3000"  # a variant's folder name
    scenarios = {"scenarios": {"run": [["relu", "momentum", "he"]],
                               "recipe": [["sigmoid", "momentum", "small"], ["relu", "momentum", "he"]]}}
    assert R.changes_text(scenarios) == \
        "scenarios relu + momentum + he (recipe: sigmoid + momentum + small; relu + momentum + he)"
    assert R.recipe_changes(None, recipe) is None
    cnn = CNNConfig()
    for setting, value in {"amp": False, "channels_last": False, "compile": "off", "seed": 1}.items():
        assert set(R.recipe_changes(cnn, replace(cnn, **{setting: value}))) == {setting}  # arithmetic or draws
    grid = part4.RECIPES["tuned"]
    assert set(R.recipe_changes(grid, grid.quick_version())) == {"quick", "base.train_subset", "base.epochs",
                                                                 "sweep_epochs"}
    both = {"simple": cnn, "improved": cnn}
    assert set(R.recipe_changes(both, {"simple": cnn, "improved": replace(cnn, epochs=2)})) == {"improved.epochs"}


def test_a_record_of_the_older_layout_is_still_read():
    old = {k: 1 for k in R.SCHEMA if k not in R.ADDED_IN}
    old["schema"] = 2
    assert R.missing_keys(old) == []
    assert R.missing_keys({**old, "schema": 3}) == sorted(R.ADDED_IN, key=list(R.SCHEMA).index)


def test_reports_readme_documents_the_schema():
    readme = (PROJECT_ROOT / "reports" / "README.md").read_text()
    assert R.render_schema() in readme, "reports/README.md is out of date: paste render_schema() into it"


def test_environment_and_commit():
    info = R.environment_info()
    assert info["numpy"] == np.__version__ and info["device"] == "cpu"
    commit = R.git_commit()
    assert commit is None or len(commit.split("-")[0]) == 40


def test_git_commit_is_remembered_from_the_start(monkeypatch):
    R.git_commit.cache_clear()
    first = R.git_commit()
    monkeypatch.setattr(R.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("asked again")))
    assert R.git_commit() == first
    R.git_commit.cache_clear()


def test_markdown_table_and_csv():
    from common.render.tables import csv_text, markdown_table
    rows = [{"name": "a", "acc": 0.51234, "n": 3}, {"name": "b", "acc": 0.4, "n": None}]
    table = markdown_table(rows, ["name", "acc", "n"], {"acc": ".2f"}, {"acc": "accuracy"})
    assert table.splitlines() == ["| name | accuracy | n |", "|---|---:|---|", "| a | 0.51 | 3 |", "| b | 0.40 | - |"]
    sweep = markdown_table([{"lr": 0.1, "val_acc": float("nan"), "chosen": False},
                            {"lr": 0.01, "val_acc": 0.45, "chosen": True}], ["lr", "val_acc", "chosen"],
                           {"val_acc": ".4f"})  # a diverged trial and the chosen one
    assert sweep.splitlines()[2:] == ["| 0.1 | - | no |", "| 0.01 | 0.4500 | yes |"]
    assert csv_text(rows, ["name", "n"]) == "name,n\na,3\nb,None\n"


def test_a_finished_run_removes_what_an_earlier_run_left_and_the_page_shows_only_its_own(tmp_path):
    from scripts import build_report
    figure = FIG.pyplot().figure()
    R.write_run_report(tmp_path, record(run_id="run-a"),
                       {"loss_curve.png": figure, "roc_pr.png": FIG.pyplot().figure()})
    F.atomic_write_text(tmp_path / "analysis.md", F.stamp_markdown("old analysis", "run-a"))
    (tmp_path / "checkpoint.npz").write_bytes(b"kept: not stamped")
    R.write_run_report(tmp_path, record(run_id="run-b"), {"loss_curve.png": FIG.pyplot().figure()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz", "loss_curve.png", "metrics.json",
                                                          "summary.md"]
    F.atomic_write_bytes(tmp_path / "roc_pr.png", (tmp_path / "loss_curve.png").read_bytes())  # unlisted
    page = "\n".join(build_report.figures_block("part1", tmp_path, "part1"))
    assert "part1/loss_curve.png" in page and "roc_pr.png" not in page


def test_a_setting_added_later_keeps_an_older_record_of_the_same_config_complete(tmp_path):
    """A record saved before ``output_gradient`` existed is the same config as one with its default."""
    from dataclasses import replace

    from common.experiments.mlp import MLPConfig
    from parts import part4
    config = MLPConfig(epochs=3)
    saved = {k: v for k, v in R.config_dict(config).items() if k != "output_gradient"}
    assert R.with_defaults(saved, config) == R.config_dict(config)
    assert R.with_defaults(saved, replace(config, output_gradient="squared_error")) == R.config_dict(config)
    assert R.with_defaults(saved, config) != R.config_dict(replace(config, output_gradient="squared_error"))
    grid = part4.RECIPES["tuned"]
    old_grid = R.config_dict(grid)
    del old_grid["base"]["output_gradient"]
    assert R.with_defaults(old_grid, grid) == R.config_dict(grid)
