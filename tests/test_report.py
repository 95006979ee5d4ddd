"""Atomic files, figures, metrics.json and summary.md."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common import report as R
from common.errors import UserError

HISTORY = [{"epoch": e, "train_loss": 1 / e, "train_acc": 0.5 + e / 100, "val_loss": 1.2 / e,
            "val_acc": 0.45 + e / 100} for e in range(1, 6)]


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    R.atomic_write_text(tmp_path / "a" / "x.txt", "hello")
    R.atomic_write_json(tmp_path / "a" / "m.json", {"v": np.float32(0.5), "arr": np.arange(2), "nan": float("nan")})
    assert (tmp_path / "a" / "x.txt").read_text() == "hello"
    assert json.loads((tmp_path / "a" / "m.json").read_text()) == {"v": 0.5, "arr": [0, 1], "nan": None}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["m.json", "x.txt"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "m.json"
    R.atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        R.atomic_write_json(target, {"bad": object()})
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_ensure_writable(tmp_path):
    assert R.ensure_writable(tmp_path / "new").is_dir()
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write reports to"):
        R.ensure_writable(blocker / "sub")


def test_figures_render(tmp_path):
    cm = np.array([[50, 3], [7, 40]])
    R.save_figure(R.plot_confusion_matrix(cm, ("rest", "airplane"), "cm"), tmp_path / "cm.png")
    R.save_figure(R.plot_history(HISTORY, "curves", best_epoch=3), tmp_path / "curves.png")
    per_class = {n: {"recall": r} for n, r in zip("abc", (0.1, 0.5, 0.9))}
    R.save_figure(R.plot_per_class_accuracy(per_class, "bars"), tmp_path / "bars.png")
    for name in ("cm.png", "curves.png", "bars.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_write_run_report(tmp_path):
    metrics = {"part": "partX", "title": "Part X", "status": "incomplete", "status_note": "interrupted",
               "test": {"accuracy": 0.5, "per_class": {"a": {"precision": 1.0, "recall": 0.5, "f1": 0.66,
                                                              "support": 2}}},
               "baseline": {"majority_accuracy": 0.9}, "history": HISTORY, "config": {"lr": 0.1}, "seed": 0,
               "timing": {"train_seconds": 1.0}}
    R.write_run_report(tmp_path, metrics, {"loss_curve.png": R.plot_history(HISTORY, "t")})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["status"] == "incomplete" and "created" in saved
    summary = (tmp_path / "summary.md").read_text()
    assert "**Status: incomplete.**" in summary and "majority_accuracy" in summary
    assert "![loss_curve](loss_curve.png)" in summary and "| a | 1.0000 | 0.5000" in summary


def test_environment_and_commit():
    info = R.environment_info()
    assert info["numpy"] == np.__version__ and info["device"] == "cpu"
    commit = R.git_commit()
    assert commit is None or len(commit.split("-")[0]) == 40


def test_atomic_files_get_the_usual_mode(tmp_path):
    R.atomic_write_text(tmp_path / "f.txt", "x")
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o666 & ~R._UMASK


def test_markdown_table_and_csv():
    rows = [{"name": "a", "acc": 0.51234, "n": 3}, {"name": "b", "acc": 0.4, "n": 10}]
    table = R.markdown_table(rows, ["name", "acc", "n"], {"acc": ".2f"})
    assert table.splitlines() == ["| name | acc | n |", "|---|---|---|", "| a | 0.51 | 3 |", "| b | 0.40 | 10 |"]
    assert R.csv_text(rows, ["name", "n"]) == "name,n\na,3\nb,10\n"


def test_git_commit_is_remembered_from_the_start(monkeypatch):
    R.git_commit.cache_clear()
    first = R.git_commit()
    monkeypatch.setattr(R.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(AssertionError("asked again")))
    assert R.git_commit() == first
    R.git_commit.cache_clear()
