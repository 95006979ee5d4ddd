"""Each part end to end on small synthetic data, and every part's argument checking."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from common.experiments import record as R
from common.paths import PROJECT_ROOT
from parts import part1, part2, part3
from tests.helpers import TINY

MLP_PARTS = {"part1": part1, "part2": part2, "part3": part3}


def run_part(module: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", f"parts.{module}", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("name", sorted(MLP_PARTS))
def test_mlp_part_end_to_end(name, learnable_folder, tmp_path):
    out = tmp_path / "reports"
    parser = MLP_PARTS[name].build_parser()
    code = MLP_PARTS[name].main(parser.parse_args(["--data", str(learnable_folder), "--out", str(out), *TINY]))
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["part"] == name and metrics["status"] == "complete"
    assert len(metrics["history"]) == 2 and metrics["config"]["epochs"] == 2
    for key in ("seed", "timing", "environment", "git_commit", "data_source"):
        assert key in metrics
    assert {"train_seconds", "total_seconds"} <= set(metrics["timing"])
    if name in ("part1", "part2"):
        assert {"accuracy", "balanced_accuracy", "roc_auc", "f1_airplane", "f1_rest"} <= set(metrics["test"])
        assert metrics["baseline"]["majority_accuracy"] == pytest.approx(0.9)
        assert "test_at_threshold_0.5" in metrics
    else:
        assert len(metrics["test"]["per_class"]) == 10
    for figure in ("confusion_matrix.png", "loss_curve.png", "summary.md"):
        assert (out / figure).stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]
    # the schema, both ways: every key it promises is written, every key written is documented
    assert R.missing_keys(metrics) == [] and R.undocumented_keys(metrics) == []
    if name in ("part1", "part2"):
        assert R.BINARY_TEST_KEYS <= set(metrics["test"])
    assert metrics["recipe_changes"] == {"val_size": {"recipe": 5000, "run": 60},
                                         "epochs": {"recipe": MLP_PARTS[name].RECIPES["tuned"].epochs, "run": 2},
                                         "batch_size": {"recipe": 64, "run": 32}}


def test_seed_convention_airplane_zero(learnable_folder, tmp_path):
    args = part1.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(tmp_path), "--airplane-label",
                                            "0", *TINY])
    assert part1.main(args) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["classes"] == ["airplane", "rest"] and "f1_airplane" in metrics["test"]


BAD_ARGUMENTS = [
    (["--lr", "0"], "expected a number > 0"),
    (["--lr", "-0.1"], "expected a number > 0"),
    (["--lr", "abc"], "expected a number > 0"),
    (["--batch-size", "0"], "expected an integer >= 1"),
    (["--epochs", "-3"], "expected an integer >= 1"),
    (["--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    (["--optimizer", "rmsprop"], "'adam', 'momentum', 'sgd'"),
    (["--activation", "swish"], "'relu', 'sigmoid', 'tanh'"),
    (["--init", "zeros"], "'he', 'lecun', 'small', 'xavier'"),
]


@pytest.mark.parametrize("name", sorted(MLP_PARTS))
@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS)
def test_invalid_arguments_exit_2_with_the_valid_range(name, argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        MLP_PARTS[name].build_parser().parse_args(argv)
    assert caught.value.code == 2
    assert message in capsys.readouterr().err


def test_help_runs():
    result = run_part("part1", "--help")
    assert result.returncode == 0 and "--lr" in result.stdout and "--data" in result.stdout


def test_missing_data_is_one_sentence_exit_2(tmp_path):
    result = run_part("part2", "--data", str(tmp_path / "missing.tar.gz"), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: ") and "Traceback" not in result.stderr
    assert "does not exist" in result.stderr


def test_unwritable_reports_fail_before_training(tmp_path, learnable_folder):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_part("part3", "--data", str(learnable_folder), "--out", str(blocker / "reports"), *TINY)
    assert result.returncode == 2 and "cannot write reports to" in result.stderr
    assert "loading CIFAR-10" not in result.stderr  # stopped before any work


def test_divergence_is_reported_and_marked(tmp_path, learnable_folder):
    out = tmp_path / "r"
    result = run_part("part3", "--data", str(learnable_folder), "--out", str(out), "--lr", "1e6",
                      "--activation", "relu", "--init", "he", "--hflip", "--val-size", "60", "--epochs", "5",
                      "--no-progress")
    assert result.returncode == 1, result.stderr
    assert "lower learning rate" in result.stderr and "Traceback" not in result.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "diverged" and "epoch 1" in metrics["status_note"]
    assert "Status: diverged" in (out / "summary.md").read_text()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_exits_130_with_a_valid_incomplete_report(tmp_path, learnable_folder, stop):
    """Ctrl-C writes the record and checkpoint and exits: no figures, no analysis (what made it take half a
    minute on a loaded machine). ``kill PID`` (SIGTERM: a scheduler's time limit, or the only way to stop a job
    started in the background, which ignores SIGINT) does the same. The timeouts are safety nets, never the
    thing measured."""
    out = tmp_path / "r"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "parts.part3", "--data", str(learnable_folder), "--out",
                                str(out), "--val-size", "60", "--epochs", "100000", "--patience", "0",
                                "--batch-size", "8", "--no-progress"], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               # a test run in the background inherits SIGINT ignored, and then Python
                               # installs no Ctrl-C handler: give the child the default back
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = ""
    for line in process.stderr:  # one log line per epoch: wait for the first finished one
        seen += line
        if "part3 epoch 1/" in line:
            break
    process.send_signal(stop)
    _, err = process.communicate(timeout=600)
    err = seen + err
    assert process.returncode == 130, err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "incomplete" and len(metrics["history"]) >= 1
    assert metrics["figures"] == {} and not list(out.glob("*.png"))  # make report draws them
    assert not (out / "analysis.md").exists() and "drawing the figures" not in err
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_a_second_kill_cannot_cut_the_save_short():
    script = ("import os, signal, time\n"
              "from common.cli import stop_on_termination\n"
              "stop_on_termination()\n"
              "try:\n"
              "    os.kill(os.getpid(), signal.SIGTERM); time.sleep(5)\n"
              "except KeyboardInterrupt as stop:\n"
              "    print('stopping', stop.args[0])\n"
              "    os.kill(os.getpid(), signal.SIGTERM); os.kill(os.getpid(), signal.SIGHUP)  # while it saves\n"
              "    time.sleep(0.2); print('saved')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}, timeout=60)
    assert result.stdout.split("\n")[:2] == ["stopping SIGTERM", "saved"], result.stderr


@pytest.mark.slow
def test_part1_on_the_real_jpeg_set(real_source, real_data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("CIFAR10_DATA_DIR", str(real_data_dir))
    out = tmp_path / "part1"
    args = part1.build_parser().parse_args(["--data", real_source, "--out", str(out), "--epochs", "2",
                                            "--train-subset", "5000", "--no-progress"])
    assert part1.main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["accuracy"] > 0.85 and metrics["test"]["roc_auc"] > 0.7
    assert metrics["baseline"]["majority_accuracy"] == pytest.approx(0.9)


@pytest.mark.parametrize("argv, message", [(["--activations", "gelu"], "invalid choice: 'gelu'"),
                                           (["--seeds", "0"], "expected an integer >= 1"),
                                           (["--l2", "-1"], "expected a number >= 0"),
                                           (["--inits", "orthogonal"], "'small', 'he', 'xavier'")])
def test_part4_invalid_arguments(argv, message, capsys):
    from parts import part4
    with pytest.raises(SystemExit) as caught:
        part4.build_parser().parse_args(argv)
    assert caught.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("part, argv, message", [
    ("part1", ["--activation", "relu"], "--activation cannot act in this run: the network has no hidden layer"),
    ("part2", ["--report", "000", "--momentum", "0.5"], "--momentum cannot act in this run: only the "
                                                               "momentum optimizer uses it"),
    ("part4", ["--report", "000", "--activations", "relu"], "--activations cannot act in this run: the recipe "
                                                                   "runs its fixed scenarios"),
    ("part4", ["--report", "000", "--top", "2"], "--top cannot act"),
    ("part4", ["--report", "000", "--sweep-epochs", "3"], "--sweep-epochs cannot act"),
    ("part4", ["--top", "0", "--seeds", "3"], "--seeds cannot act in this run: --top 0 reruns no configuration"),
    ("part4", ["--optimizers", "adam", "--momentum", "0.8"], "--momentum cannot act in this run: no run of this "
                                                             "comparison uses the momentum optimizer")])
def test_a_flag_that_cannot_act_is_refused_not_saved_and_ignored(part, argv, message, capsys, monkeypatch):
    import importlib

    from common.cli import run_main
    module = importlib.import_module(f"parts.{part}")
    monkeypatch.setattr(module, "run_mlp_part" if part != "part4" else "run_grid_part",
                        lambda *a, **k: pytest.fail("trained despite a flag that cannot act"))
    assert run_main(module.main, module.build_parser(), argv) == 2
    assert message in capsys.readouterr().err


def test_part4_flags_act_on_top_of_the_quick_cut(monkeypatch):
    from parts import part4
    seen = {}
    monkeypatch.setattr(part4, "run_grid_part", lambda config, run: seen.update(config=config, run=run) or 0)
    assert part4.main(part4.build_parser().parse_args(["--quick", "--epochs", "3"])) == 0
    assert seen["config"].base.epochs == 3 and seen["config"].quick  # was 8: --quick overrode the flag
    assert seen["config"].base.train_subset == 10_000 and seen["run"].recipe_config == part4.RECIPES["tuned"]


def test_part4_quick_grid_end_to_end(learnable_folder, tmp_path, caplog):
    from parts import part4
    caplog.set_level("INFO", logger="cifar")
    out = tmp_path / "p4"
    args = part4.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(out), "--val-size", "60",
                                            "--epochs", "2", "--sweep-epochs", "1", "--activations", "relu", "tanh",
                                            "--optimizers", "sgd", "adam", "--inits", "he", "--top", "2",
                                            "--seeds", "2", "--no-progress"])
    assert part4.main(args) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["ranking"]) == 4 and len(metrics["lr_sweep"]) == 12 and len(metrics["seeds"]) == 2
    # Its log says how far it is run by run (make all's status line reads it): sweep, comparison, seed reruns.
    progress = [r.getMessage() for r in caplog.records if " done (" in r.getMessage()]
    assert [m.split(":")[0] for m in progress] == ["learning-rate trials"] * 12 + ["comparison runs"] * 4 + \
        ["seed reruns"] * 2
    assert progress[-1].startswith("seed reruns: 2 of 2 done") and ", seed 1:" in progress[-1]
    assert metrics["ranking"][0]["val_acc"] >= metrics["ranking"][-1]["val_acc"]
    csv = (out / "ranking.csv").read_text().splitlines()
    assert csv[0].startswith("rank,activation,optimizer,init,lr,val_acc,test_acc") and len(csv) == 5
    for name in ("ranking.md", "curves_by_optimizer.png", "curves_by_activation.png", "curves_by_init.png",
                 "confusion_matrix.png", "loss_curve.png", "summary.md"):
        assert (out / name).stat().st_size > 0
    from common.report import drawing  # every figure of the catalog drawn or said why not: make report redraws none
    assert drawing.figures_current(out, metrics, drawing.figure_names("part4", metrics, out, out))
    assert drawing.draw_run("part4", out) == []
