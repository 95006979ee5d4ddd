"""The reports as data: report files (student_reports/) load or stop with one line, every kind of claim
is judged both ways from saved runs, a verdict comes only from a complete run of exactly the recipe it
names, and the example report runs end to end."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from common.errors import UserError
from common.experiments import record as R
from common.paths import PROJECT_ROOT, REPORT_FILES_DIR
from common.report import analysis as A
from common.report import claims as C
from common.report.report_file import load_report
from scripts.run_all import check_report
from tests.helpers import report_recipe, write_record

PARTS_OF_000 = ("part1", "part2", "part3", "part4", "part5")


def rerun(reports, part: str, model: str = "", report: str = "000", **fields) -> dict:
    """A complete rerun of ``report``'s recipe for ``part`` (``model``: a Part 5 model's folder), saved where
    ``make reproduce`` puts it, with the config the report file gives."""
    config = report_recipe(report, part)
    config = config[model] if model else config
    config = {m: R.config_dict(c) for m, c in config.items()} if isinstance(config, dict) else R.config_dict(config)
    folder = reports / report / part / model
    return write_record(folder / "metrics.json", part, recipe=f"report {report}", config=config, **fields)


def verdicts(reports, report: str = "000") -> dict[str, C.Verdict]:
    return {v.claim.says: v for v in A.report_verdicts(load_report(report), reports)}


def history(losses, accuracy=None, test_losses=None):
    return [{"epoch": e + 1, "train_loss": loss, **({"test_acc": accuracy} if accuracy is not None else {}),
             **({"test_loss": test_losses[e]} if test_losses else {})} for e, loss in enumerate(losses)]


def scenario(name: str, test_acc: float, losses: list[float]) -> dict:
    activation, optimizer, init = name.split(" + ")
    return {"activation": activation, "optimizer": optimizer, "init": init, "test_acc": test_acc, "status": "complete",
            "epochs_run": len(losses), "history": history(losses, test_acc)}


def grid_row(activation, optimizer, init, val_acc):
    return {"activation": activation, "optimizer": optimizer, "init": init, "val_acc": val_acc, "lr": 0.01,
            "test_acc": val_acc, "status": "complete"}


GRID = [grid_row(a, o, i, 0.40 + 0.05 * (a == "relu") + 0.02 * (o == "adam") + 0.01 * (i == "he") - 0.03 * (
    a == "tanh" and i == "he")) for a in ("sigmoid", "relu", "tanh") for o in ("sgd", "momentum", "adam")
    for i in ("small", "he", "xavier")]
REST = {"rest": {"precision": 0.92, "recall": 0.99, "f1": 0.95}}


# ----------------------------------------------------------------------------- figures

def test_figures_hold_or_not_and_say_where_the_rerun_was(tmp_path):
    reports = tmp_path / "reports"
    rows = verdicts(reports).values()  # nothing has run: only the architecture's claim is judged
    assert {v.verdict for v in rows if v.claim.kind != "weight_sharing"} == {C.NOT_MEASURED}
    assert [v.verdict for v in rows if v.claim.kind == "weight_sharing"] == [C.HOLDS]
    rerun(reports, "part1", test={"accuracy": 0.9065, "per_class": REST},
          history=history([0.30, 0.2418], 0.9065))
    rerun(reports, "part2", test={"accuracy": 0.92, "per_class": REST},
          history=[{"epoch": 1, "train_loss": 0.30, "test_acc": 0.90}, {"epoch": 2, "train_loss": 0.24,
                                                                        "test_acc": 0.91},
                   {"epoch": 3, "train_loss": 0.06, "test_acc": 0.92}])
    rerun(reports, "part3", test={"accuracy": 0.46},
          history=[{"epoch": e, "train_loss": 1.0, "test_acc": a} for e, a in enumerate([0.30, 0.43, 0.41, 0.46], 1)])
    rows = verdicts(reports)
    accuracy = rows["test accuracy 0.9130"]
    assert accuracy.verdict == C.HOLDS
    assert accuracy.numbers.startswith("rerun 0.9065 (0.0065 below the report's; tolerance 0.0100)")
    assert accuracy.source == "report 000's recipe rerun (reports/000/part1)"
    assert rows["'rest' test precision 0.9233"].verdict == C.HOLDS and rows["'rest' test recall 0.9851"].verdict == \
        C.HOLDS
    assert rows["final training loss about 0.245 (0.2449 at epoch 990)"].verdict == C.HOLDS
    loss = rows["final training loss 0.2369 at epoch 990"]
    assert loss.verdict == C.FAILS and loss.numbers == (
        "rerun 0.0600 after epoch 3; its training loss was within 0.01 of the reported value at epoch 2 "
        "(test accuracy then 0.9100)")
    above = rows["test accuracy 0.4254"]
    assert above.verdict == C.FAILS and above.numbers.endswith("the test accuracy measured for the plot first reached "
                                                               "0.4254 after epoch 2")
    assert rows["test precision, the mean over the classes 0.4589"].numbers == \
        "not measured: part3's record has no macro_precision"  # its test section has no per-class figures
    timed = rows["training took about 120 minutes"]
    assert timed.verdict == C.NOT_MEASURED and timed.numbers.startswith("not compared: a wall time on the report's")


def test_the_confusion_matrix_is_compared_cell_by_cell(tmp_path):
    reports = tmp_path / "reports"
    printed = next(c for c in load_report("000").parts["part3"].claims if c.kind == "confusion").fields["matrix"]
    close = np.array(printed)
    close[3, 5] += 30  # cat taken for dog 30 more times
    close[3, 3] -= 30
    names = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    test = {"accuracy": 0.4254, "confusion_matrix": close.tolist(), "per_class": {n: {} for n in names}}
    rerun(reports, "part3", test=test)
    claim = verdicts(reports)["the test confusion matrix printed in 3.9"]
    assert claim.verdict == C.HOLDS and claim.numbers.startswith("largest cell differences: cat taken for ")
    assert "cat taken for cat 376 vs 406" in claim.numbers and "cat taken for dog 255 vs 225" in claim.numbers
    assert "the rows that differ most (images moved): cat (60)" in claim.numbers
    close[3, 5] += 30
    rerun(reports, "part3", test={**test, "confusion_matrix": close.tolist()})
    assert verdicts(reports)["the test confusion matrix printed in 3.9"].verdict == C.FAILS  # 60 > 50 images


# ----------------------------------------------------------------------------- claims between runs

def test_part4s_claims_from_its_scenarios_and_this_suites_grid(tmp_path):
    reports = tmp_path / "reports"
    slow_tanh = scenario("tanh + momentum + he", 0.40, [2.0, 1.5, 1.2, 1.1])
    fast_sigmoid = scenario("sigmoid + momentum + small", 0.45, [1.5, 1.1, 1.0, 0.9])
    scenarios = [fast_sigmoid, scenario("relu + momentum + he", 0.30, [1.0, 0.9, 0.8, 0.7]),
                 scenario("sigmoid + momentum + he", 0.42, [1.6, 1.2, 1.1, 1.0]), slow_tanh]
    rerun(reports, "part4", scenarios=scenarios)
    rerun(reports, "part3", test={"accuracy": 0.43})
    write_record(reports / "part4" / "metrics.json", "part4", ranking=GRID)  # this suite's tuned grid
    rows = verdicts(reports)
    assert rows["relu + momentum + he: test accuracy 0.4242"].verdict == C.FAILS  # 0.30 is 12 points off
    assert rows["momentum beats plain gradient descent"].verdict == C.HOLDS  # scenario 1's 0.45 vs Part 3's 0.43
    momentum = rows["momentum beats plain gradient descent (like for like: sigmoid + He)"]
    assert momentum.verdict == C.TOO_CLOSE and "too close to call (difference 0.01, tolerance 0.01)" in momentum.numbers
    assert "momentum (lr 0.05) 0.42 vs plain SGD (lr 0.01, Part 3) 0.43" in momentum.numbers
    assert rows["for sigmoid, a small random initialization beats He"].verdict == C.HOLDS  # 0.45 > 0.42
    tanh = rows["He initialization suits tanh poorly"]
    assert tanh.verdict == C.HOLDS and tanh.source == "this suite's tuned recipe (reports/part4)"  # 3 points
    grid = rows["momentum beats plain gradient descent (this suite's grid)"]
    assert grid.verdict == C.TOO_CLOSE and "momentum 0.4167 vs SGD 0.4167" in grid.numbers  # the means tie
    slower = rows["tanh (+ He) converged more slowly than sigmoid + small random initialization"]
    assert slower.verdict == C.HOLDS and "part4/sigmoid + momentum + small" not in slower.numbers
    assert "sigmoid + momentum + small 2 epochs vs tanh + momentum + he 4 epochs" in slower.numbers
    scenarios[3] = scenario("tanh + momentum + he", 0.40, [1.0, 0.8, 0.7, 0.6])  # now tanh is the fast one
    rerun(reports, "part4", scenarios=scenarios)
    assert verdicts(reports)["tanh (+ He) converged more slowly than sigmoid + small random initialization"].verdict \
        == C.FAILS
    scenarios[1] = scenario("relu + momentum + he", 0.10, [2.2, 2.3026, 2.3026, 2.3026])  # its units died: at chance
    rerun(reports, "part4", scenarios=scenarios)
    rows = verdicts(reports)
    fastest = rows["ReLU converged fastest (its table: faster than sigmoid + small)"]
    assert fastest.verdict == C.FAILS and "relu + momentum + he ended at training loss 2.3026 (after its first " \
                                          "epoch: 2.2000): it did not learn" in fastest.numbers
    assert rows["tanh trained more slowly than ReLU"].verdict == C.FAILS
    scenarios[0] = scenario("sigmoid + momentum + small", 0.10, [2.2, 2.3026, 2.3026, 2.3026])  # both stuck
    rerun(reports, "part4", scenarios=scenarios)
    assert verdicts(reports)["ReLU converged fastest (its table: faster than sigmoid + small)"].numbers.startswith(
        "not measured: relu + momentum + he ended at")
    scenarios[0], scenarios[1] = fast_sigmoid, scenario("relu + momentum + he", 0.50, [1.0, 0.6, 0.4, 0.3])
    scenarios[3] = scenario("tanh + momentum + he", 0.10, [2.2, 2.3026, 2.3026, 2.3026])  # only the slower one stuck
    rerun(reports, "part4", scenarios=scenarios)
    assert verdicts(reports)["tanh trained more slowly than ReLU"].verdict == C.HOLDS
    scenarios[1] = {**scenarios[1], "status": "diverged", "epochs_run": 3}
    rerun(reports, "part4", scenarios=scenarios)
    assert verdicts(reports)["relu + momentum + he: test accuracy 0.4242"].numbers == \
        "not measured: relu + momentum + he is diverged after 3 epochs"


def write_cnn(reports, model, accuracy, losses, test_losses=None, predicted_classes=10, parameters=1):
    cm = np.zeros((10, 10), int)
    cm[:, :predicted_classes] = 1
    rerun(reports, "part5", model, parameters=parameters, history=[
        {"epoch": e + 1, "train_loss": loss, "test_acc": accuracy, "test_loss": (test_losses or losses)[e]}
        for e, loss in enumerate(losses)], test={"accuracy": accuracy, "confusion_matrix": cm.tolist()},
        epochs_run=len(losses), best_epoch=len(losses))


def test_part5s_claims_from_its_models(tmp_path):
    reports = tmp_path / "reports"
    write_cnn(reports, "simple", 0.10, [2.303] * 5, predicted_classes=1, parameters=545_098)
    write_cnn(reports, "improved", 0.8690, [1.0, 0.5, 0.2, 0.1, 0.05], test_losses=[1.2, 0.98, 1.5, 3.0, 7.4],
              parameters=3_249_610)
    rerun(reports, "part3", parameters=197_322, test={"accuracy": 0.46})
    rows = verdicts(reports)
    stuck = rows["SimpleCNN stays near 10 % (training loss stuck at about 2.3, mostly one class predicted)"]
    assert stuck.verdict == C.HOLDS and "1 of 10 classes predicted" in stuck.numbers
    assert rows["improved: test accuracy 0.8680"].verdict == C.HOLDS
    turned = rows["the validation loss then rises to about 7.38 by epoch 100: overfitting after 10-20 epochs"]
    assert turned.verdict == C.HOLDS and "lowest (0.980) in epoch 2" in turned.numbers
    low = rows["ImprovedCNN's validation loss is lowest at about 0.98, early"]
    assert low.verdict == C.HOLDS and low.claim.garbled
    peak = rows["ImprovedCNN's validation accuracy peaks at about 87.01 % in epoch 88"]
    assert peak.verdict == C.FAILS and "highest at 0.8690 in epoch 1 (reported 0.8701 at epoch 88)" in peak.numbers
    assert "the epoch counts within 10" in peak.numbers  # 0.8690 is near 0.8701, but epoch 1 is far from 88
    fewer = rows["a CNN needs fewer parameters than an MLP (weight sharing)"]
    assert fewer.verdict == C.FAILS and "ImprovedCNN 3,249,610 vs the 3072-64-10 MLP 197,322" in fewer.numbers
    write_cnn(reports, "simple", 0.70, [2.0, 1.2, 0.8])  # it learns after all
    assert verdicts(reports)[stuck.claim.says].verdict == C.FAILS


def test_a_cut_short_part5_run_never_breaks_the_verdicts(tmp_path):
    """Fault: Part 5 interrupted in its first epoch (empty history) raised IndexError in every later part and
    in `make report`; a record with a validation split (no test curve) raised ValueError."""
    reports = tmp_path / "reports"
    for model in ("simple", "improved"):
        write_cnn(reports, model, 0.10, [])
        path = reports / "000" / "part5" / model / "metrics.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "status": "incomplete",
                                    "status_note": "interrupted during epoch 1"}))
    rows = [v for v in verdicts(reports).values() if v.part == "part5"]
    assert {v.verdict for v in rows if v.claim.kind != "weight_sharing"} == {C.NOT_MEASURED}
    assert "interrupted after 0 of 100 epochs" in rows[0].numbers
    write_cnn(reports, "improved", 0.87, [1.0, 0.5])
    path = reports / "000" / "part5" / "improved" / "metrics.json"
    record = json.loads(path.read_text())
    record["history"] = [{k: v for k, v in h.items() if not k.startswith("test")} for h in record["history"]]
    path.write_text(json.dumps(record))
    rows = verdicts(reports)
    assert rows["improved: test accuracy 0.8680"].verdict == C.HOLDS
    peak = rows["ImprovedCNN's validation accuracy peaks at about 87.01 % in epoch 88"]
    assert peak.verdict == C.NOT_MEASURED and "recorded no test accuracy curve" in peak.numbers


def test_no_verdict_from_a_run_that_is_not_its_recipe_exactly(tmp_path):
    """Fault: an interrupted 2-of-1000-epoch run was judged 'holds', a changed one 'does not hold'."""
    reports = tmp_path / "reports"
    base = {"test": {"accuracy": 0.9031, "per_class": REST}, "history": history([0.25, 0.25], 0.9031),
            "epochs_run": 2}
    claims = ("test accuracy 0.9130", "final training loss about 0.245 (0.2449 at epoch 990)")
    rerun(reports, "part1", **base, status="incomplete", status_note="interrupted during epoch 3")
    for claim in claims:
        assert verdicts(reports)[claim].verdict == C.NOT_MEASURED
        assert "the part1 run was interrupted after 2 of 1000 epochs" in verdicts(reports)[claim].numbers
    rerun(reports, "part1", **base, recipe_changes={"epochs": {"recipe": 1000, "run": 2},
                                                     "train_subset": {"recipe": None, "run": 3000}})
    assert verdicts(reports)[claims[0]].numbers == ("not measured: the part1 run changed epochs 2 (recipe: 1000), "
                                                    "train_subset 3000 (recipe: None)")
    record = rerun(reports, "part1", **base)
    del record["recipe_changes"]
    (reports / "000" / "part1" / "metrics.json").write_text(json.dumps({**record, "schema": 2}))
    assert "older version of the suite" in verdicts(reports)[claims[0]].numbers
    rerun(reports, "part1", **base, status="diverged", status_note="the loss became nan in epoch 2")
    assert "diverged after 2 of 1000 epochs" in verdicts(reports)[claims[0]].numbers
    write_record(reports / "000" / "part1" / "metrics.json", "part1", **base)  # this suite's recipe, in 000/
    assert "followed the 'tuned' recipe, not 'report 000'" in verdicts(reports)[claims[0]].numbers
    stale = rerun(reports, "part1", **base)
    stale["config"]["lr"] = 0.1  # the report file said another learning rate when this ran
    (reports / "000" / "part1" / "metrics.json").write_text(json.dumps(stale))
    assert verdicts(reports)[claims[0]].numbers == ("not measured: part1 ran an earlier version of report 000's "
                                                    "recipe (lr 0.1 then, 0.01 now); run it again: make part1 "
                                                    "ARGS=\"--report 000\" (make part1 ARGS=\"--report 000 "
                                                    "--estimate\" says how long it takes here)")
    rerun(reports, "part1", **base)
    assert verdicts(reports)[claims[0]].verdict == C.HOLDS  # 0.9031 vs 0.913: judged at last, within 0.01
    grid = write_record(reports / "part4" / "metrics.json", "part4", ranking=GRID, status="incomplete",
                        status_note="interrupted after 3 of 27 runs", config={"base": {"epochs": 20}})
    assert grid["status"] == "incomplete"
    assert "comparison was interrupted" in verdicts(reports)["He initialization suits tanh poorly"].numbers


def test_comparisons_inside_the_tolerance_are_too_close_to_call():
    assert C.compare("A", 0.4265, "B", 0.4261, 0.01) == (C.TOO_CLOSE, "A 0.4265 vs B 0.4261: too close to call "
                                                                      "(difference 0.0004, tolerance 0.01)")
    assert C.compare("A", 0.45, "B", 0.42, 0.01)[0] == C.HOLDS and C.compare("A", 0.42, "B", 0.45, 0.01)[0] == C.FAILS
    assert C.compare("tanh", 105, "sigmoid", 100, 0.10, relative=True)[0] == C.TOO_CLOSE
    assert C.compare("tanh", 910, "sigmoid", 118, 0.10, relative=True)[0] == C.HOLDS
    assert C.compare("a", 3, "b", 9, 0.1, relative=True, lower_is_better=True)[0] == C.HOLDS
    assert C.near(0.4354, 0.4254, 0.01) == C.HOLDS and C.near(0.4355, 0.4254, 0.01) == C.FAILS


def test_curve_helpers_find_the_first_epoch_and_a_network_stuck_at_chance():
    losses = [{"epoch": e, "train_loss": loss} for e, loss in enumerate([2.0, 1.0, 0.5, 0.9], 1)]
    assert C.first_epoch(losses, lambda h: h["train_loss"] < 1.0)["epoch"] == 3
    assert C.first_epoch(losses, lambda h: h["train_loss"] < 0.1) is None
    assert C.epochs_to_reach(losses, 1.0) == 2 and C.epochs_to_reach(losses, 0.1) is None
    dead = [{"epoch": e, "train_loss": loss} for e, loss in enumerate([2.25, 2.2, 2.3030, 2.3020, 2.3026], 1)]
    assert C.at_chance(dead, 10) == ("; from epoch 3 on its training loss stayed within 0.01 of ln 10 = 2.3026, "
                                     "the loss of a uniform guess: the network stopped learning")
    assert C.at_chance(dead[:2], 10) == "" and C.at_chance([], 10) == ""
    curve = [(e["epoch"], e["train_loss"]) for e in dead]
    assert not C.learned(curve) and not C.learned(curve, classes=10) and C.learned([(1, 2.0), (2, 0.9)])
    assert C.learned([(1, 1.5), (2, 1.5)], classes=10)  # learned in its first epoch, then levelled: not at chance
    assert C.learned([(1, 2.3026)]) and C.learned([(1, 2.3), (2, 2.25)], classes=10)


def test_a_spread_over_seeds_reads_the_seed_variants_by_their_records(tmp_path):
    reports = tmp_path / "reports"
    first = rerun(reports, "part3", report="example", test={"accuracy": 0.28})
    claim = verdicts(reports, "example")["over seeds 0 and 1 its accuracy is about 30 %"]
    assert claim.verdict == C.NOT_MEASURED and "seeds [1] of part3 have not run" in claim.numbers
    seed1 = rerun(reports, "part3", report="example", test={"accuracy": 0.26}, seed=1,
                  recipe_changes={"seed": {"recipe": 0, "run": 1}})
    (reports / "example" / "part3" / "metrics.json").write_text(json.dumps(first))
    folder = reports / "example" / "variants" / "part3" / "whatever-name"  # found by its record, not its name
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(seed1))
    claim = verdicts(reports, "example")["over seeds 0 and 1 its accuracy is about 30 %"]
    assert claim.verdict == C.HOLDS and "seed 0: 0.2800, seed 1: 0.2600" in claim.numbers  # 0.3 within 0.28 + 0.05


# ----------------------------------------------------------------------------- the files

def write_file(tmp_path, text: str, name: str = "001") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return str(path)


CLAIM = 'kind = "beats"\nsection = "4.8"\nsays = "x"\na = "part2"\nb = "part1"\nmetric = "accuracy"\n'


@pytest.mark.parametrize("text, message", [
    ('title = "x"\n[part1\n', r"001.toml: not valid TOML: .*\(at line 2, column 7\); fix that line"),
    ('titel = "x"\n', r"001.toml: titel: unknown key; a report file holds title, source, about and one table per "
                      r"part \(part1, part2, part3, part4, part5\)"),
    ('[part9]\n', r"001.toml: part9: unknown key"),
    ('[part2]\nclaim = []\n', r"001.toml: part2.claim: unknown key; a part's table holds recipe, notes, scoring, "
                              r"variants, figures, claims"),
    ('[part2]\nscoring = "top1"\n', r"001.toml: part2.scoring: unknown scoring 'top1'; use one of: argmax \(each "),
    ('[part2.variants.seed-1]\nseed = 1\n', r"001.toml: part2.variants.seed-1.why: missing; say why this run is made"),
    ('[part2.variants.x]\nwhy = "to see"\n', r"001.toml: part2.variants.x: changes no setting"),
    ("[[part4.claims]]\n" + CLAIM.replace('"beats"', '"beat"'),
     r"001.toml: part4.claims\[0\].kind: unknown claim kind 'beat'; use one of: figure, beats, chance, peak, turns, "
     r"fewer_parameters, weight_sharing, faster, confusion, spread, exceeds, ablation, time_ratio "
     r"\(student_reports/README.md "
     r"describes each\)"),
    ("[[part4.claims]]\n" + CLAIM.replace('"part1"', '"part7"'),
     r"001.toml: part4.claims\[0\].b: 'part7' names no part; the parts are part1, part2, part3, part4, part5"),
    ("[[part4.claims]]\n" + CLAIM.replace('"4.8"', "4.8"),
     r'001.toml: part4.claims\[0\].section: expected a string, got a number; write it as a string: section = "4.8"'),
    ('[[part1.figures]]\nsection = "1.9"\nmetric = "accuracy"\nvalue = "0.913"\n',
     r"001.toml: part1.figures\[0\].value: expected a number, got '0.913'"),
    ('[[part1.figures]]\nsection = "1.9"\nmetric = "recall[plane]"\nvalue = 0.9\n',
     r"001.toml: part1.figures\[0\].metric: 'recall\[plane\]': unknown class 'plane'; the classes are airplane, "),
    ("[[part4.claims]]\n" + CLAIM + "tolerence = 0.02\n",
     r"001.toml: part4.claims\[0\].tolerence: unknown field of a 'beats' claim; it takes a, b, metric, tolerance"),
    ('[[part1.figures]]\nmetric = "accuracy"\nvalue = 0.9\n', r"001.toml: part1.figures\[0\].section: missing"),
])
def test_a_bad_report_file_stops_with_one_line_naming_the_key(tmp_path, text, message):
    with pytest.raises(UserError) as caught:
        load_report(write_file(tmp_path, text))
    assert re.search(message, str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("text, message", [
    ('[part1.recipe]\nepoch = 5\n', r"001.toml: part1.recipe.epoch: unknown setting; the settings of MLPConfig are "
                                    r"task, hidden, activation, init"),
    ('[part1.recipe]\nepochs = "5"\n', r"001.toml: part1.recipe.epochs: expected an integer, got '5'"),
    ('[part1.recipe]\noptimizer = "rmsprop"\n', r"001.toml: part1.recipe: unknown optimizer 'rmsprop'; choose from "),
    ('[part5.recipe.vgg]\nepochs = 5\n', r"001.toml: part5.recipe.vgg: no model is called 'vgg'"),
    ('[part4.recipe]\nscenarios = [["relu", "sgd", "he"]]\n[[part4.claims]]\n' + CLAIM.replace(
        '"part2"', '"part4/relu + adam + he"'),
     r"001.toml: part4.claims\[0\].a: part4 defines no run 'relu \+ adam \+ he' under report 001's recipe; its runs: "
     r"relu \+ sgd \+ he"),
    ("[[part4.claims]]\n" + CLAIM, r"001.toml: part4.claims\[0\].a: 'part2' names a rerun of part2, but the file "
                                   r"gives no \[part2.recipe\] to rerun"),
    ('[part5.recipe]\nsimple = 5\n', r"part5.recipe.simple: 'simple' is a model; give its settings as a table"),
    ('[part5.recipe]\nmodel = "simple"\n', r"part5.recipe.model: the part trains each of its models"),
    ('[part1.recipe]\nhidden = [64.7]\n', r"part1.recipe.hidden: expected an array of integers, got \[64.7\]"),
    ('[part4.recipe]\nscenarios = ["sigmoid"]\n', r"part4.recipe.scenarios: expected an array of \[activation, "
                                                  r"optimizer, init\] triples"),
    ('[part4.recipe]\nscenarios = [["relu", "sgd", "smal"]]\n', r"part4.recipe: scenario relu \+ sgd \+ smal: unknown "
                                                               r"initialization 'smal'; choose from small, he, xavier"),
    ('[part4.recipe]\nactivations = ["sigmoidx"]\n', r"part4.recipe: activations: unknown 'sigmoidx'"),
    ('[part1.recipe]\nlr = -1\n', r"part1.recipe: lr must be a number > 0, got -1.0"),
    ('[part5.recipe]\nepochs = 0\n', r"part5.recipe: epochs must be a number >= 1, got 0"),
    ('[part1.recipe]\nairplane_label = 2\n', r"part1.recipe: airplane_label is 0 or 1"),
    ('[part1.recipe]\nlr = 0.1\n[part1.variants.fast]\nwhy = "faster"\nlr = "0.5"\n',
     r"part1.variants.fast.lr: expected a number, got '0.5'"),
    ('[part1.variants.fast]\nwhy = "faster"\nlr = 0.5\n', r"part1.variants: a variant changes the part's recipe, and "
                                                          r"the file gives no \[part1.recipe\]"),
    ('[part1.recipe]\nlr = 0.1\n[part1.variants.same]\nwhy = "w"\nlr = 0.1\n',
     r"part1.variants.same: its settings are the recipe's own"),
    ('[part1.recipe]\nlr = 0.1\n[part1.variants.a]\nwhy = "w"\nlr = 0.2\n[part1.variants.b]\nwhy = "w"\nlr = 0.2\n',
     r"part1.variants.b: the same run as part1.variants.a; drop one"),
    ('[part4.recipe]\nscenarios = [["relu", "sgd", "he"]]\n[[part4.figures]]\nsection = "4"\n'
     'run = "part4/relu + sgd + he"\nmetric = "recall[cat]"\nvalue = 0.5\n',
     r"part4.figures\[0\].run: 'part4/relu \+ sgd \+ he' is a run inside a comparison, which records accuracy, "),
])
def test_a_recipe_or_run_the_parts_do_not_define_stops_with_one_line(tmp_path, text, message):
    with pytest.raises(UserError) as caught:
        check_report(load_report(write_file(tmp_path, text)))
    assert re.search(message, str(caught.value)), str(caught.value)


def test_a_part_run_with_a_bad_report_says_so_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "parts.part1", "--report", "nope", "--estimate"],
                            cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: student_reports/nope.toml: no such report "
                                                               "file; the reports in student_reports/ are: 000, ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_report_000_is_whole_and_its_figures_live_in_its_file_only():
    report = load_report("000")
    assert report.title == "report 000" and set(report.parts) == set(PARTS_OF_000)
    assert {report.headline(p).fields["value"] for p in PARTS_OF_000} == {0.913, 0.9203, 0.4254, 0.4335, 0.868}
    assert set(check_report(report)) == set(PARTS_OF_000)
    python = "\n".join(p.read_text() for folder in ("common", "parts", "scripts")
                       for p in (PROJECT_ROOT / folder).rglob("*.py"))
    for figure in ("0.913", "0.9203", "0.4254", "0.4335", "0.868", "0.8701", "0.9233", "0.0079", "0.4589"):
        assert figure not in python, f"report 000's figure {figure} is typed in Python"


def test_every_kind_is_documented_with_an_example_that_loads(tmp_path):
    readme = (REPORT_FILES_DIR / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, flags=re.S)
    documented = set()
    for block in blocks:
        if "[[part" not in block or "..." in block:
            continue
        report = load_report(write_file(tmp_path, block, "doc"))
        documented |= {c.kind for c in report.claims}
    assert documented == set(C.KINDS) - {"confusion"}  # confusion's example elides its ten rows
    assert all(f"**{kind}**" in readme for kind in C.KINDS)


def test_the_example_report_runs_and_is_judged_end_to_end(learnable_folder, tmp_path, monkeypatch):
    from parts import part1, part2, part3
    from scripts import build_report
    monkeypatch.setattr("common.cli.REPORTS_DIR", tmp_path / "reports")
    for module in (part1, part2, part3):
        args = module.build_parser().parse_args(["--report", "example", "--data", str(learnable_folder),
                                                 "--no-progress", "--no-figures"])
        assert module.main(args) == 0
    assert part3.main(part3.build_parser().parse_args(["--report", "example", "--variant", "seed-1", "--data",
                                                       str(learnable_folder), "--no-progress", "--no-figures"])) == 0
    reports = tmp_path / "reports"
    assert (reports / "example" / "part1" / "metrics.json").is_file()
    seed1 = json.loads((reports / "example" / "variants" / "part3" / "seed-1" / "metrics.json").read_text())
    assert seed1["recipe"] == "report example" and seed1["recipe_changes"] == {"seed": {"recipe": 0, "run": 1}}
    rows = verdicts(reports, "example")
    assert all(v.verdict != C.NOT_MEASURED for v in rows.values()), [v.numbers for v in rows.values()
                                                                     if v.verdict == C.NOT_MEASURED]
    assert {v.verdict for v in rows.values()} >= {C.HOLDS, C.FAILS}
    page, _ = build_report.build_markdown(reports)  # the page's text (make report would also draw the figures)
    assert "### The example report: every figure and claim" in page
    assert "| `example/variants/part3/seed-1` | part3 | report example | seed 1 (recipe: 0) |" in page


def test_a_run_of_an_earlier_recipe_is_not_judged_even_when_a_setting_was_dropped_from_the_file(tmp_path):
    """The file's tables alone miss a setting removed from them; the recipe as the parts build it does not."""
    from scripts.run_all import recipe_configs
    reports = tmp_path / "reports"
    record = rerun(reports, "part1", test={"accuracy": 0.913, "per_class": REST}, history=history([0.2449], 0.913))
    record["config"]["schedule"] = "cosine"  # the file once said schedule = "cosine"; it no longer sets it
    (reports / "000" / "part1" / "metrics.json").write_text(json.dumps(record))
    report = load_report("000")
    judged = {v.claim.says: v for v in A.report_verdicts(report, reports, recipe_configs(report))}
    assert judged["test accuracy 0.9130"].numbers == ("not measured: part1 ran an earlier version of report 000's "
                                                      "recipe (schedule 'cosine' then, 'constant' now); run it again: "
                                                      "make part1 ARGS=\"--report 000\" (make part1 ARGS="
                                                      "\"--report 000 --estimate\" says how long it takes here)")


def test_odd_records_give_not_measured_never_a_crash(tmp_path):
    reports = tmp_path / "reports"
    write_cnn(reports, "improved", 0.87, [1.0, 0.5, 0.2], test_losses=[float("nan"), 0.9, 1.0])
    rows = verdicts(reports)
    peak = rows["ImprovedCNN's validation loss is lowest at about 0.98, early"]
    assert "lowest at 0.9000 in epoch 2" in peak.numbers  # the NaN epoch is no point of the curve
    (reports / "000" / "part3").mkdir(parents=True)
    (reports / "000" / "part3" / "metrics.json").write_text("{not json")
    assert "part3's record cannot be read" in verdicts(reports)["test accuracy 0.4254"].numbers
    rerun(reports, "part1", test={"accuracy": 0.9}, history=[{"epoch": 1}])  # an epoch without its loss
    rows = verdicts(reports)
    assert rows["final training loss about 0.245 (0.2449 at epoch 990)"].verdict == C.NOT_MEASURED
    assert rows["test accuracy 0.9130"].verdict == C.FAILS


def activity_scenario(name: str, losses: list[float], seed: int = 0, **activity) -> dict:
    """A Part 4 scenario row whose every epoch recorded the hidden units' activity (``activity``)."""
    row = scenario(name, 0.40, losses)
    row["seed"] = seed
    row["history"] = [{**h, **activity} for h in row["history"]]
    return row


def test_the_hidden_units_words_are_judged_from_the_unit_activity_each_epoch_records(tmp_path):
    reports = tmp_path / "reports"
    rising = [1.0, 1.2, 0.9, 1.1, 0.8]  # rose in 2 of 4 epochs
    scenarios = [activity_scenario("sigmoid + momentum + small", [1.5, 1.2, 1.0, 0.9, 0.8], dead_units=0.0,
                                   saturated_units=0.03),
                 activity_scenario("relu + momentum + he", rising, dead_units=0.25),
                 activity_scenario("sigmoid + momentum + he", [1.5, 1.2, 1.0, 0.9, 0.8], dead_units=0.0,
                                   saturated_units=0.30),
                 activity_scenario("tanh + momentum + he", [1.5, 1.2, 1.0, 0.9, 1.0], dead_units=0.0,
                                   saturated_units=0.01)]
    rerun(reports, "part4", scenarios=scenarios)
    rows = verdicts(reports)
    dead = rows["ReLU + He: dead neurons (its table)"]
    assert dead.verdict == C.HOLDS and "25.0%; the claim holds above 5.0%" in dead.numbers
    oscillation = rows["ReLU + He: strong oscillation, less stable than sigmoid + small random (its table)"]
    assert oscillation.verdict == C.HOLDS and "ReLU + He 50.0% vs sigmoid + small 0.0%" in oscillation.numbers
    assert rows["tanh was more stable than ReLU (its table: medium against less stable)"].verdict == C.HOLDS
    assert rows["a small random initialization keeps sigmoid units out of saturation, He drives them into it"] \
        .verdict == C.HOLDS  # 30 % against 3 %
    tanh = rows["He initialization drives some tanh neurons into saturation"]
    assert tanh.verdict == C.FAILS and "1.0%" in tanh.numbers
    assert C.loss_rises(history(rising)) == 0.5 and C.loss_rises(history([1.0])) is None


def test_a_scenarios_spread_over_seeds_reads_its_seed_variants_and_says_how_many_stopped_learning(tmp_path):
    reports = tmp_path / "reports"
    says = "ReLU + He: test accuracy 0.4242 (against the rerun's spread over three seeds)"
    stuck = [2.3026] * 5
    relu = {**activity_scenario("relu + momentum + he", stuck), "test_acc": 0.10}
    rerun(reports, "part4", scenarios=[relu])
    assert "seeds [1, 2] of part4/relu + momentum + he have not run" in verdicts(reports)[says].numbers
    narrowed = rerun(reports, "part4", scenarios=[relu], recipe_changes={"scenarios": {"recipe": "four", "run": "one"}})
    (reports / "000" / "variants" / "part4" / "relu-only").mkdir(parents=True)  # seed 0 again: not another seed
    (reports / "000" / "variants" / "part4" / "relu-only" / "metrics.json").write_text(json.dumps(narrowed))
    for seed, accuracy, losses in ((1, 0.43, [1.5, 1.2, 1.0]), (2, 0.41, [1.4, 1.3, 1.1])):
        row = {**activity_scenario("relu + momentum + he", losses, seed=seed), "test_acc": accuracy}
        changes = {"base.seed": {"recipe": 0, "run": seed}, "scenarios": {"recipe": "four", "run": "one"}}
        variant = rerun(reports, "part4", scenarios=[row], recipe_changes=changes)
        folder = reports / "000" / "variants" / "part4" / f"relu-seed-{seed}"
        folder.mkdir(parents=True)
        (folder / "metrics.json").write_text(json.dumps(variant))
    rerun(reports, "part4", scenarios=[relu])
    claim = verdicts(reports)[says]
    assert claim.verdict == C.HOLDS, claim.numbers  # 0.4242 lies within 0.10 ... 0.43
    assert "seed 0: 0.1000, seed 1: 0.4300, seed 2: 0.4100; 1 of 3 seeds stopped learning" in claim.numbers


def test_a_spread_claims_seeds_must_be_variants_of_the_file(tmp_path):
    text = (REPORT_FILES_DIR / "example.toml").read_text()
    with pytest.raises(UserError, match=r"part3.claims\[\d\].run: seed 1 has no variant; declare one so that make "
                                        r"reproduce runs it: \[part3.variants.seed-1\]"):
        check_report(load_report(write_file(tmp_path, text.replace('[part3.variants.seed-1]', '[part3.variants.x]')
                                            .replace("seed = 1\n", "lr = 0.5\n"))))


def test_a_reported_training_time_is_set_beside_the_rerun_as_a_ratio_never_judged(tmp_path):
    reports = tmp_path / "reports"
    rows = verdicts(reports)
    assert rows["training took about 120 minutes"].numbers.startswith("not compared: a wall time on the report's")
    rerun(reports, "part1", timing={"train_seconds": 180.0, "total_seconds": 190.0})
    time = verdicts(reports)["training took about 120 minutes"]
    assert time.verdict == C.NOT_MEASURED and time.numbers.endswith(
        "; as a ratio only: the rerun trained in 180 s here; the report's 7,200 s is 40 times that")


def test_a_reports_figures_are_compared_with_the_rerun_scored_as_the_report_scored(tmp_path):
    """Report 001 thresholded each class's probability at 0.5 (scoring = "threshold"): its figures are compared
    with the rerun's saved probabilities scored that way, not with the rerun's argmax figures."""
    from common.files import atomic_write_npz
    reports = tmp_path / "reports"
    y = np.arange(10)
    probabilities = np.full((10, 10), 0.6 / 9, np.float32)
    probabilities[y, y] = 0.4  # argmax right for every image, but no class at 0.5 ...
    probabilities[1] = np.eye(10)[1] * 0.9  # ... but image 1's: thresholded, images 0 (none -> class 0) and 1 right
    rerun(reports, "part3", report="001", test={"accuracy": 1.0, "per_class": {}})
    folder = reports / "001" / "part3"
    atomic_write_npz(folder / "predictions.npz", run_id="r", y_true=y, y_pred=y, probabilities=probabilities,
                     class_names=np.array(C.CLASS_NAMES))
    rows = verdicts(reports, "001")
    accuracy = rows["test accuracy 0.2000"]
    assert accuracy.verdict == C.HOLDS and accuracy.numbers.startswith("rerun 0.2000 (the report's figure")
    assert "scored as the report's (threshold" in accuracy.numbers
    assert rows["'airplane' test precision 0.1100"].numbers.startswith("rerun 0.1111")  # 1 of the 9 taken for one
    from scripts.build_report import report_rows  # the page's headline row says both ways the report differs
    part3 = next(row for row in report_rows(load_report("001"), reports) if row["part"].startswith("part3"))
    assert part3["rerun"] == "0.2000 (threshold scoring, as the report's) (tested on 10,000 images held out from " \
                             "the training set, as the report)"
    atomic_write_npz(folder / "predictions.npz", run_id="another", y_true=y, y_pred=y, probabilities=probabilities,
                     class_names=np.array(C.CLASS_NAMES))
    assert verdicts(reports, "001")["test accuracy 0.2000"].numbers.startswith("not measured: part3's test "
                                                                                "predictions cannot be read")


def test_metric_words_read_as_a_sentence():
    assert C.metric_words("accuracy") == "test accuracy" and C.metric_words("f1[rest]") == "'rest' test F1"
    assert C.metric_words("class_accuracy[airplane]") == \
        "'airplane' test accuracy (the share of its test images classified right: its recall)"
    assert C.metric_words("confusion[cat,dog]") == "test cat images taken for dog"


def test_the_test_accuracys_spread_says_how_many_of_the_last_epochs_measured_it():
    from common.nn.training import measures_test
    dense = [{"epoch": e, "test_acc": 0.5 + e / 1000} for e in range(1, 201)]
    assert "; over the last 100 epochs the test accuracy measured after each for the plot (nothing chosen on it) " \
           "ran from 0.6010 to 0.7000 (mean 0.6505)" == C.watched_spread(dense)
    sparse = [{"epoch": e, **({"test_acc": 0.5} if measures_test(e, 1000) else {})} for e in range(1, 1001)]
    assert C.watched_spread(sparse).startswith("; over the last 100 epochs the test accuracy measured after 10 of them")


# ----------------------------------------------------------------------------- variants and the ablation

BATCHNORM_SAYS = "SimpleCNN did badly for lack of batch normalization: with it, SimpleCNN does better"


def test_a_claim_reads_a_declared_variant_by_its_records_changes_and_compares_runs_after_one_epoch(tmp_path):
    from scripts.run_all import recipe_configs
    reports, report = tmp_path / "reports", load_report("000")
    recipes = recipe_configs(report)
    recipe, variant = recipes["report 000"]["part5"], recipes["report 000"]["part5@simple-with-batchnorm"]

    def claim() -> C.Verdict:
        return {v.claim.says: v for v in A.report_verdicts(report, reports, recipes)}[BATCHNORM_SAYS]
    assert claim().verdict == C.NOT_MEASURED
    assert 'has not run (make part5 ARGS="--report 000 --variant simple-with-batchnorm"' in claim().numbers
    rerun(reports, "part5", model="simple", epochs_run=100,
          history=[{"epoch": e, "train_loss": 1.0, "test_acc": 0.60 + e / 1000} for e in range(1, 101)])
    folder = reports / "000" / "variants" / "part5" / "any-name" / "simple"  # found by its record, not its name
    changes = R.recipe_changes(recipe["simple"], variant["simple"])
    assert set(changes) == {"ablation", "epochs"}

    def with_batchnorm(**fields) -> None:
        write_record(folder / "metrics.json", "part5", recipe="report 000", config=R.config_dict(variant["simple"]),
                     **{"recipe_changes": changes, "epochs_run": 20,
                        "history": [{"epoch": e, "train_loss": 0.5, "test_acc": 0.70} for e in range(1, 21)],
                        **fields})
    with_batchnorm(status="incomplete", status_note="stopped", epochs_run=1, history=[{"epoch": 1, "test_acc": 0.7}])
    assert claim().numbers.startswith("not measured: the part5/simple@simple-with-batchnorm run was interrupted "
                                      "after 1 of 20 epochs")
    with_batchnorm()
    verdict = claim()
    assert verdict.verdict == C.HOLDS  # 0.70 against 0.6155, epochs 11-20, not against the 100-epoch run's end
    # a part's own analysis.md judges without the configs: the variant's table as the file gives it finds the run
    assert verdicts(reports)[BATCHNORM_SAYS].verdict == C.HOLDS
    assert verdict.numbers.startswith("test accuracy, mean over epochs 11-20: SimpleCNN with batch norm 0.7 vs "
                                      "SimpleCNN 0.6155")
    assert "report 000's recipe with ablation with-batchnorm (recipe: none), epochs 20 (recipe: 100) (reports/000/" \
           "variants/part5/any-name/simple)" in verdict.source
    with_batchnorm(recipe_changes={"epochs": changes["epochs"]})  # another change's run is not the variant's
    assert claim().verdict == C.NOT_MEASURED and "has not run" in claim().numbers
    with_batchnorm(history=[{"epoch": e, "test_acc": 0.7} for e in range(1, 16)])  # no epochs 16-20 to compare
    assert claim().numbers == "not measured: part5/simple@simple-with-batchnorm recorded no test accuracy after " \
                              "epoch 16 (it recorded it after 15 epochs, from 1 to 15)"


def test_a_variant_reference_names_a_declared_variant_of_the_reports_recipe(tmp_path):
    with pytest.raises(ValueError, match="'@<variant>' names a variant the report file declares"):
        C.parse_ref("tuned:part5/simple@x")
    assert C.parse_ref("part5/simple@with-bn") == C.RunRef("part5/simple@with-bn", "part5", "simple", "", "with-bn")
    text = (REPORT_FILES_DIR / "000.toml").read_text().replace('a = "part5/simple@simple-with-batchnorm"',
                                                                'a = "part5/simple@with-bn"')
    with pytest.raises(UserError, match=r"part5.claims\[\d+\].a: 'part5/simple@with-bn' names a variant 'with-bn' "
                                        r"of part5 that the file does not declare \(its variants: "
                                        r"simple-with-batchnorm\)"):
        check_report(load_report(write_file(tmp_path, text, "000")))
    for wrong, message in (('a = "part5/improved@simple-with-batchnorm"', r"variant simple-with-batchnorm changes "
                                                                           r"simple; name that model's run "
                                                                           r"\(part5/simple@simple-with-batchnorm\)"),
                           ('a = "part5@simple-with-batchnorm"', r"changes simple; name that model's run")):
        text = (REPORT_FILES_DIR / "000.toml").read_text().replace('a = "part5/simple@simple-with-batchnorm"', wrong)
        with pytest.raises(UserError, match=message):
            check_report(load_report(write_file(tmp_path, text, "000")))
    text = (REPORT_FILES_DIR / "example.toml").read_text()
    spread = re.search(r'kind = "spread"\n(?:.+\n)*?run = "(part3)"', text)
    variant = text[:spread.end(1)] + "@seed-1" + text[spread.end(1):]
    with pytest.raises(UserError, match=r"a spread over seeds reads the recipe's own run and its seed variants"):
        check_report(load_report(write_file(tmp_path, variant)))
    ablation = '[[part4.claims]]\nkind = "ablation"\nsection = "4.8"\nsays = "x"\nremoves = "no-dropout"\n'
    with pytest.raises(UserError, match=r"part4.claims\[0\]: an ablation claim reads make ablation's runs"):
        check_report(load_report(write_file(tmp_path, text + "\n" + ablation)))
    with pytest.raises(UserError, match=r"part4.claims\[0\].window: the number of epochs, ending at `epoch`"):
        load_report(write_file(tmp_path, "[[part4.claims]]\n" + CLAIM + "epoch = 3\nwindow = 4\n"))
    epoch = CLAIM.replace('"accuracy"', '"macro_f1"') + "epoch = 3\n"
    with pytest.raises(UserError, match=r"part4.claims\[0\].epoch: compares the runs' curves after that epoch, so "
                                        r"the metric is one of accuracy, final_train_loss, final_test_loss"):
        load_report(write_file(tmp_path, "[[part4.claims]]\n" + epoch))


def ablation_run(reports, variant: str, val: float, test: float, recipe: str = "quick", **fields) -> None:
    changes = {} if variant == "none" else {"ablation": {"recipe": "none", "run": variant}}
    write_record(reports / "part5" / "ablation" / variant / "improved" / "metrics.json", "part5", recipe=recipe,
                 **{"recipe_changes": changes, "validation": {"accuracy": val}, "test": {"accuracy": test},
                    "epochs_run": 6, "parameters": 3_000_000, **fields})


def test_an_ablation_claim_is_judged_from_make_ablations_runs_of_one_recipe(tmp_path):
    reports = tmp_path / "reports"
    rows = verdicts(reports)
    batchnorm = "batch normalization played a vital part in ImprovedCNN: it steadied and sped up its training"
    dropout = "dropout of 0.5 in the fully connected block helped ImprovedCNN against overfitting"
    third = "the third convolution block (more depth and filters) raised ImprovedCNN's capacity to learn complex " \
            "features"
    assert rows[batchnorm].numbers.startswith("not measured: make ablation has not run its variant 'none'")
    still_learning = [{"epoch": e, "val_loss": loss} for e, loss in enumerate((1.2, 0.9, 0.8, 0.75, 0.62, 0.55), 1)]
    ablation_run(reports, "none", 0.80, 0.79, history=still_learning)
    ablation_run(reports, "no-batchnorm", 0.70, 0.69)
    ablation_run(reports, "no-dropout", 0.82, 0.815)
    ablation_run(reports, "no-third-block", 0.795, 0.79, status="incomplete", status_note="stopped")
    rows = verdicts(reports)
    assert rows[batchnorm].verdict == C.HOLDS and rows[batchnorm].numbers.startswith(
        "validation accuracy: ImprovedCNN 0.8 vs without batch normalization 0.7; test accuracy 0.7900 -> 0.6900")
    assert rows[batchnorm].source == "this suite's quick recipe, one change removed (make ablation: " \
                                     "reports/part5/ablation)"
    # The dropout claim is about overfitting, and a run whose validation loss still falls cannot show it.
    ablation_run(reports, "no-dropout", 0.82, 0.815, history=[])
    assert verdicts(reports)[dropout].numbers.startswith("not measured: the claim is about overfitting, and a run "
                                                         "of make ablation has no val_loss curve")
    ablation_run(reports, "no-dropout", 0.82, 0.815, history=still_learning)
    rows = verdicts(reports)
    assert rows[dropout].verdict == C.NOT_MEASURED and rows[dropout].numbers.startswith(
        "not measured: the claim is about overfitting, and neither run overfits in this suite's quick recipe (a run "
        "overfits when its val_loss ends over 5% above its lowest; ImprovedCNN as it is: lowest at epoch 6 of 6 "
        "(0.550), ends at 0.550 (+0.0%); without dropout: lowest at epoch 6 of 6 (0.550), ends at 0.550 (+0.0%))")
    assert "measured in passing, validation accuracy: ImprovedCNN 0.8 vs without dropout 0.82" in rows[dropout].numbers
    overfits = still_learning[:3] + [{"epoch": e, "val_loss": loss} for e, loss in ((4, 0.85), (5, 0.9), (6, 0.95))]
    ablation_run(reports, "no-dropout", 0.82, 0.815, history=overfits)  # only the run without the change overfits
    rows = verdicts(reports)
    assert rows[dropout].verdict == C.FAILS  # removing dropout still gained accuracy, in a run that overfits
    assert "without dropout: lowest at epoch 3 of 6 (0.800), ends at 0.950 (+18.7%)" in rows[dropout].numbers
    assert rows[third].verdict == C.NOT_MEASURED and "interrupted" in rows[third].numbers
    ablation_run(reports, "no-third-block", 0.795, 0.79)
    assert verdicts(reports)[third].verdict == C.TOO_CLOSE  # half a point: within the tolerance
    ablation_run(reports, "no-batchnorm", 0.70, 0.69, recipe_changes=None)
    assert verdicts(reports)[batchnorm].numbers.startswith("not measured: the ablation's no-batchnorm run names no "
                                                           "recipe")
    ablation_run(reports, "no-batchnorm", 0.70, 0.69, config={"lr": 0.1, "epochs": 2})  # the recipe changed between
    assert verdicts(reports)[batchnorm].numbers.startswith("not measured: the ablation's no-batchnorm run and its "
                                                           "full model's differ in more than the ablation (epochs)")
    ablation_run(reports, "no-batchnorm", 0.70, 0.69, recipe="tuned")  # another recipe than the full model's
    assert verdicts(reports)[batchnorm].numbers.startswith("not measured: the ablation's no-batchnorm run followed "
                                                           "the 'tuned' recipe, not 'quick'")
