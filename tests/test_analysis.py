"""analysis.md: statements whose wording follows the numbers (both directions of every comparison), and
the verdicts on the assignment's claims."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.experiments.record import run_record, write_run_report
from common.report import analysis as A

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def binary(accuracy=0.93, auc=0.91, recall=0.42, f1=0.55, seconds=50.0, parameters=196_737, base=0.9):
    return {"test": {"accuracy": accuracy, "roc_auc": auc, "threshold": 0.5, "balanced_accuracy": 0.7,
                     "per_class": {"airplane": {"recall": recall, "precision": 0.78, "f1": f1, "support": 1000},
                                   "rest": {"recall": 0.97, "precision": 0.95, "f1": 0.96, "support": 9000}}},
            "baseline": {"majority_class": "rest", "majority_accuracy": base},
            "timing": {"train_seconds": seconds}, "parameters": parameters}


def test_wording_helpers_follow_the_numbers_both_ways():
    assert A.change("ROC-AUC", 0.84, 0.91) == "raises ROC-AUC from 0.8400 to 0.9100"
    assert A.change("ROC-AUC", 0.91, 0.84) == "lowers ROC-AUC from 0.9100 to 0.8400"
    assert A.change("ROC-AUC", 0.84, 0.8401) == "leaves ROC-AUC at 0.8401"
    assert A.compared("A", 0.8, "B", 0.7) == "A beats B on test accuracy, 0.8000 vs 0.7000 (10.0 points)"
    assert A.compared("A", 0.7, "B", 0.8) == "B beats A on test accuracy, 0.8000 vs 0.7000 (10.0 points)"
    assert A.compared("A", 0.7, "B", 0.7).startswith("A and B tie")


def test_binary_statements_against_the_baseline_both_ways():
    above = A.binary_statements(binary(accuracy=0.93, recall=0.6))
    assert "3.0 points above the 0.9000 that always answering 'rest' scores" in above[0]
    assert above[1].startswith("It finds most airplanes: recall 60.0%")
    below = A.binary_statements(binary(accuracy=0.89, recall=0.1, auc=0.52))
    assert "does not beat the 0.9000" in below[0] and "1.0 points below" in below[0]
    assert below[1].startswith("It misses most airplanes") and "no better than chance" in below[2]


def test_what_the_hidden_layer_adds_is_said_the_way_it_went():
    better = A.part2_statements(binary(auc=0.91, f1=0.55, seconds=50), binary(auc=0.84, f1=0.34, seconds=5,
                                                                               parameters=3073))
    assert "the hidden layer raises ROC-AUC from 0.8400 to 0.9100, raises airplane F1 from 0.3400 to 0.5500" \
        in better[-1] and "10.0x the training time (50 s vs 5 s)" in better[-1]
    worse = A.part2_statements(binary(auc=0.80, f1=0.30), binary(auc=0.84, f1=0.34, parameters=3073))
    assert "lowers ROC-AUC from 0.8400 to 0.8000" in worse[-1] and "lowers airplane F1" in worse[-1]
    assert "not measured" in A.part2_statements(binary(), None)[-1]


def multiclass(cm: np.ndarray) -> dict:
    recall = np.diag(cm) / cm.sum(1)
    return {"test": {"accuracy": float(np.trace(cm) / cm.sum()), "balanced_accuracy": float(recall.mean()),
                     "confusion_matrix": cm.tolist(),
                     "per_class": {c: {"recall": float(r)} for c, r in zip(CLASSES, recall)}}}


def test_ten_classes_name_the_most_confused_pairs():
    cm = np.eye(10, dtype=int) * 80 + 2
    cm[3, 5], cm[5, 3] = 30, 25  # cat <-> dog
    cm[1, 9] = 20  # automobile taken for truck
    pairs = A.confused_pairs(multiclass(cm), n=2)
    assert pairs[0][:3] == ("cat", "dog", 55) and pairs[1][:3] == ("automobile", "truck", 22)
    lines = A.part3_statements(multiclass(cm), binary())
    assert "cat and dog, 55 images" in lines[-1] and "From two classes to ten" in lines[1]


def grid_row(activation, optimizer, init, val_acc):
    return {"activation": activation, "optimizer": optimizer, "init": init, "val_acc": val_acc, "lr": 0.01,
            "test_acc": val_acc}


GRID = [grid_row(a, o, i, 0.40 + 0.05 * (a == "relu") + 0.02 * (o == "adam") + 0.01 * (i == "he") - 0.03 * (
    a == "tanh" and i == "he")) for a in ("sigmoid", "relu", "tanh") for o in ("sgd", "momentum", "adam")
    for i in ("small", "he", "xavier")]


def test_part4_names_each_factors_mean_over_the_other_two():
    means = A.factor_means(GRID)
    assert means["activation"]["relu"] == pytest.approx(np.mean([r["val_acc"] for r in GRID if r["activation"] ==
                                                                 "relu"]))
    record = {"winner": {**grid_row("relu", "adam", "he", 0.48), "test_acc": 0.47}, "ranking": GRID, "seeds": []}
    lines = A.part4_statements(record)
    assert lines[1].startswith("By activation (mean validation accuracy over the optimizer x initialization runs): "
                               "relu 0.4600, sigmoid 0.4100") and "relu leads by 5.0 points" in lines[1]
    assert "adam leads" in lines[2]


def test_cnn_vs_mlp_says_more_or_fewer_parameters():
    part5 = {"models": {"SimpleCNN": {"test_accuracy": 0.76, "parameters": 545_098, "train_seconds": 50,
                                      "epochs_run": 8},
                        "ImprovedCNN": {"test_accuracy": 0.84, "parameters": 3_249_610, "train_seconds": 400,
                                        "epochs_run": 6}}}
    mlp = {"test": {"accuracy": 0.52}, "parameters": 197_322}
    lines = A.part5_statements(part5, mlp, None)
    assert lines[0].startswith("ImprovedCNN beats SimpleCNN on test accuracy, 0.8400 vs 0.7600")
    assert "ImprovedCNN has more parameters (3,249,610 vs 197,322)" in " ".join(lines)
    small = A.part5_statements({"models": {"SimpleCNN": {**part5["models"]["SimpleCNN"], "parameters": 100_000,
                                                         "test_accuracy": 0.4}}}, mlp, None)
    assert "Part 3's MLP beats SimpleCNN" in small[0] and "fewer parameters (100,000 vs 197,322)" in small[0]


def scenario(name: str, test_acc: float, losses: list[float]) -> dict:
    activation, optimizer, init = name.split(" + ")
    return {"activation": activation, "optimizer": optimizer, "init": init, "test_acc": test_acc, "status": "complete",
            "epochs_run": len(losses),
            "history": [{"epoch": e + 1, "train_loss": loss, "test_acc": test_acc} for e, loss in enumerate(losses)]}


def by_claim(rows):
    return {v.claim: v for v in rows}


def done(record: dict, recipe: str = "assignment") -> dict:
    """``record`` as a complete run of exactly its recipe, the only kind a verdict comes from."""
    return {"status": "complete", "status_note": "", "recipe": recipe, "recipe_changes": {}, **record}


def test_verdicts_both_ways_and_not_measured(tmp_path):
    empty = {p: None for p in ("part1", "part2", "part3", "part4", "part5")}
    rows = A.verdicts(empty, empty, tmp_path)
    assert {v.verdict for v in rows} == {A.NOT_MEASURED}
    near = done({"test": {"accuracy": 0.9065, "per_class": {"rest": {"precision": 0.91, "recall": 0.99,
                                                                     "f1": 0.95}}},
                 "history": [{"epoch": 1000, "train_loss": 0.2418, "test_acc": 0.9065}]})
    slow_tanh = scenario("tanh + momentum + he", 0.40, [2.0, 1.5, 1.2, 1.1])
    fast_sigmoid = scenario("sigmoid + momentum + small", 0.45, [1.5, 1.1, 1.0, 0.9])
    p4 = done({"scenarios": [fast_sigmoid, scenario("sigmoid + momentum + he", 0.42, [1.6, 1.2, 1.1, 1.0]),
                             slow_tanh, scenario("relu + momentum + he", 0.30, [1.0, 0.9, 0.8, 0.7])]})
    assignment = {**empty, "part1": near, "part3": done({"test": {"accuracy": 0.43}, "history": []}), "part4": p4}
    rows = by_claim(A.verdicts({**empty, "part4": done({"ranking": GRID}, "tuned")}, assignment, tmp_path))
    assert rows["test accuracy 0.9130"].verdict == A.HOLDS and "rerun 0.9065 (0.65 points below)" in \
        rows["test accuracy 0.9130"].numbers
    assert rows["final training loss about 0.245"].verdict == A.HOLDS
    overfit = done({"test": {"accuracy": 0.92}, "history": [{"epoch": 1, "train_loss": 0.30, "test_acc": 0.90},
                                                            {"epoch": 2, "train_loss": 0.24, "test_acc": 0.91},
                                                            {"epoch": 3, "train_loss": 0.06, "test_acc": 0.92}]})
    loss_claim = by_claim(A.verdicts(empty, {**empty, "part2": overfit}, tmp_path))["final training loss about 0.237"]
    assert loss_claim.verdict == A.FAILS and loss_claim.numbers == (
        "rerun 0.0600 after epoch 3; its training loss was within 0.01 of the reported value at epoch 2 "
        "(test accuracy then 0.9100)")
    assert rows["relu + momentum + he: test accuracy 0.4242"].verdict == A.FAILS  # 0.30 is 12 points off
    assert rows["momentum beats plain gradient descent"].verdict == A.TOO_CLOSE  # 0.42 vs 0.43: within 0.01
    momentum = rows["momentum beats plain gradient descent"]
    assert "too close to call (difference 0.01, tolerance 0.01)" in momentum.numbers
    assert rows["for sigmoid, a small random initialization beats He"].verdict == A.HOLDS  # 0.45 > 0.42
    assert rows["He initialization suits tanh poorly"].verdict == A.HOLDS  # tanh + he is 3 points down in GRID
    slower = rows["tanh (+ He) converged more slowly than sigmoid + small random initialization"]
    assert slower.verdict == A.HOLDS and "tanh + He 4 vs sigmoid + small 2" in slower.numbers
    p4 = done({**p4, "scenarios": list(p4["scenarios"])})
    p4["scenarios"][2] = scenario("tanh + momentum + he", 0.40, [1.0, 0.8, 0.7, 0.6])  # now tanh is the fast one
    rows = by_claim(A.verdicts(empty, {**assignment, "part4": p4}, tmp_path))
    assert rows["tanh (+ He) converged more slowly than sigmoid + small random initialization"].verdict == A.FAILS


def write_cnn(folder, model, accuracy, losses, test_losses=None, predicted_classes=10):
    cm = np.zeros((10, 10), int)
    cm[:, :predicted_classes] = 1
    record = run_record(part="part5", recipe="assignment", status="complete", status_note="", config={}, seed=0,
                        device="cuda", data_source="x", data_fingerprint="f", run_id="r", recipe_config={})
    history = [{"epoch": e + 1, "train_loss": loss, "test_acc": accuracy, "test_loss": (test_losses or losses)[e]}
               for e, loss in enumerate(losses)]
    record.update({"parameters": 1, "test": {"accuracy": accuracy, "confusion_matrix": cm.tolist()},
                   "history": history, "best_epoch": len(losses), "epochs_run": len(losses),
                   "timing": {"train_seconds": 1.0, "total_seconds": 1.0},
                   "throughput": {"train_images_per_second": 1}})
    write_run_report(folder / model, record)


def test_part5_claims_from_the_assignments_rerun(tmp_path):
    root = tmp_path / "assignment"
    write_cnn(root / "part5", "simple", 0.10, [2.303] * 5, predicted_classes=1)
    write_cnn(root / "part5", "improved", 0.8690, [1.0, 0.5, 0.2, 0.1, 0.05], test_losses=[1.2, 0.98, 1.5, 3.0, 7.4])
    part5 = done({"models": {"SimpleCNN": {"parameters": 545_098, "test_accuracy": 0.10},
                             "ImprovedCNN": {"parameters": 3_249_610, "test_accuracy": 0.869}}})
    mlp = done({"parameters": 197_322, "test": {"accuracy": 0.46}})
    rows = {v.claim.split(" (")[0]: v for v in A.verdicts({"part3": mlp}, {"part5": part5}, root)}
    assert rows["SimpleCNN stays near 10 %"].verdict == A.HOLDS and "1 of 10 classes" in \
        rows["SimpleCNN stays near 10 %"].numbers
    assert rows["ImprovedCNN 86.80% test accuracy"].verdict == A.HOLDS
    overfit = next(v for k, v in rows.items() if k.startswith("validation loss lowest"))
    assert overfit.verdict == A.HOLDS and "lowest (0.980) in epoch 2" in overfit.numbers
    assert rows["a CNN needs fewer parameters than an MLP"].verdict == A.FAILS
    write_cnn(root / "part5", "simple", 0.70, [2.0, 1.2, 0.8], predicted_classes=10)  # it learns after all
    rows = {v.claim.split(" (")[0]: v for v in A.verdicts({"part3": mlp}, {"part5": part5}, root)}
    assert rows["SimpleCNN stays near 10 %"].verdict == A.FAILS


def test_each_part_folder_gets_an_analysis_with_its_claims(tmp_path):
    out = tmp_path / "reports" / "assignment" / "part1"
    record = run_record(part="part1", recipe="assignment", status="complete", status_note="", config={}, seed=0,
                        device="cpu", data_source="x", data_fingerprint="f", run_id="r", recipe_config={})
    record.update({**binary(accuracy=0.95), "history": [{"epoch": 1, "train_loss": 0.3, "test_acc": 0.95}],
                   "parameters": 3073, "best_epoch": 1, "epochs_run": 1,
                   "throughput": {"train_images_per_second": 1}})
    record["timing"]["total_seconds"] = 1.0
    write_run_report(out, record)
    text = A.write_part_analysis("part1", out, json.loads((out / "metrics.json").read_text())).read_text()
    assert text.split("\n", 1)[1].startswith("# Part 1: a single logistic neuron: what the numbers say")
    assert "- Test accuracy is 0.9500, 5.0 points above" in text
    assert "| part1 | test accuracy 0.9130 | <span class=\"verdict-does-not-hold\">does not hold</span>" in text
    assert "final training loss about 0.245 | <span class=\"verdict-does-not-hold\">" in text
    from common.paths import recipe_roots
    assert recipe_roots(out) == (tmp_path / "reports", tmp_path / "reports" / "assignment")
    assert recipe_roots(tmp_path / "reports" / "part2") == (tmp_path / "reports", tmp_path / "reports" / "assignment")


def ablated(val: float, test: float, parameters: int = 3_249_610) -> dict:
    return {"validation": {"accuracy": val}, "test": {"accuracy": test}, "parameters": parameters, "recipe": "best",
            "epochs_run": 30, "status": "complete", "history": [], "timing": {"train_seconds": 60.0},
            "recipe_changes": {"ablation": {"recipe": "none", "run": "x"}}}


def test_ablation_says_which_change_matters_most_and_which_way_each_goes():
    records = {"none": ablated(0.90, 0.90), "no-batchnorm": ablated(0.80, 0.79, 3_248_202),
               "no-dropout": ablated(0.92, 0.90), "no-third-block": ablated(0.87, 0.86, 4_461_002)}
    lines = A.ablation_statements(records)
    assert lines[0].startswith("ImprovedCNN without batch normalization costs 10.0 points of validation accuracy")
    assert lines[1].startswith("ImprovedCNN without dropout gains 2.0 points")
    assert "the one whose removal costs most is batchnorm (10.0 points" in lines[-1]
    nothing = A.ablation_statements({"none": ablated(0.80, 0.8), "no-dropout": ablated(0.82, 0.81)})
    assert nothing[-1].startswith("Removing no single change lowers the accuracy here")
    assert A.ablation_statements({"none": ablated(0.8, 0.8)}) == []
    rows = A.ablation_rows(records)
    assert [r["variant"] for r in rows] == list(records) and rows[1]["removes"] == "without batch normalization"


def test_a_network_stuck_at_the_uniform_guess_is_named_so():
    dead = [{"epoch": e, "train_loss": loss} for e, loss in enumerate([2.25, 2.2, 2.3030, 2.3020, 2.3026], 1)]
    assert A.at_chance(dead, 10) == ("; from epoch 3 on its training loss stayed within 0.01 of ln 10 = 2.3026, "
                                     "the loss of a uniform guess: the network stopped learning")
    assert A.at_chance(dead[:2], 10) == "" and A.at_chance([], 10) == ""
    lines = A.part4_statements({"scenarios": [{**scenario("relu + momentum + he", 0.10, [2.2, 2.3026]),
                                                "history": dead}]})
    assert lines[1].startswith("    - relu + momentum + he: test accuracy 0.1000") and "stopped learning" in lines[1]
    assert A.bullets(lines)[1] == lines[1]  # stays nested under the first statement


def test_a_rerun_well_above_the_reported_figure_says_when_it_first_got_there(tmp_path):
    empty = {p: None for p in ("part1", "part2", "part3", "part4", "part5")}
    history = [{"epoch": e, "train_loss": 1.0, "test_acc": a} for e, a in enumerate([0.30, 0.43, 0.41, 0.46], 1)]
    above = done({"test": {"accuracy": 0.46}, "history": history})
    claim = by_claim(A.verdicts(empty, {**empty, "part3": above}, tmp_path))["test accuracy 0.4254"]
    assert claim.verdict == A.FAILS
    assert claim.numbers.endswith("the watched test accuracy first reached 0.4254 at epoch 2")
    near = done({"test": {"accuracy": 0.43}, "history": history})
    assert "first reached" not in by_claim(A.verdicts(empty, {**empty, "part3": near}, tmp_path))[
        "test accuracy 0.4254"].numbers


def test_first_epoch_finds_the_first_record_that_meets_the_condition():
    history = [{"epoch": e, "train_loss": loss} for e, loss in enumerate([2.0, 1.0, 0.5, 0.9], 1)]
    assert A.first_epoch(history, lambda h: h["train_loss"] < 1.0)["epoch"] == 3
    assert A.first_epoch(history, lambda h: h["train_loss"] < 0.1) is None
    assert A.epochs_to_reach(history, 1.0) == 2 and A.epochs_to_reach(history, 0.1) is None


def test_no_verdict_from_a_run_that_is_not_its_recipe_exactly(tmp_path):
    """Fault: an interrupted 2-of-1000-epoch run was judged 'holds', a changed one 'does not hold'."""
    empty = {p: None for p in ("part1", "part2", "part3", "part4", "part5")}
    history = [{"epoch": e, "train_loss": 0.25, "test_acc": 0.9031} for e in (1, 2)]
    base = {"test": {"accuracy": 0.9031, "per_class": {"rest": {"precision": 0.9, "recall": 0.9, "f1": 0.9}}},
            "history": history, "epochs_run": 2, "config": {"epochs": 1000}}
    interrupted = done({**base, "status": "incomplete", "status_note": "interrupted during epoch 3"})
    rows = by_claim(A.verdicts(empty, {**empty, "part1": interrupted}, tmp_path))
    for claim in ("test accuracy 0.9130", "final training loss about 0.245"):
        assert rows[claim].verdict == A.NOT_MEASURED
        assert "the assignment's recipe run was interrupted after 2 of 1000 epochs" in rows[claim].numbers
    changed = done({**base, "recipe_changes": {"epochs": {"recipe": 1000, "run": 2},
                                               "train_subset": {"recipe": None, "run": 3000}}})
    rows = by_claim(A.verdicts(empty, {**empty, "part1": changed}, tmp_path))
    assert rows["test accuracy 0.9130"].verdict == A.NOT_MEASURED
    assert rows["test accuracy 0.9130"].numbers == ("not measured: the assignment's recipe run changed epochs 2 "
                                                    "(recipe: 1000), train_subset 3000 (recipe: None)")
    old = {k: v for k, v in done(base).items() if k != "recipe_changes"}
    assert "older version of the suite" in by_claim(A.verdicts(empty, {**empty, "part1": old}, tmp_path))[
        "test accuracy 0.9130"].numbers
    diverged = done({**base, "status": "diverged", "status_note": "the loss became nan in epoch 2"})
    assert "diverged after 2 of 1000 epochs" in A.why_not_judged(diverged)
    grid = done({"ranking": GRID, "status": "incomplete", "status_note": "interrupted after 3 of 27 runs",
                 "epochs_run": 4, "config": {"base": {"epochs": 20}}}, "tuned")
    rows = by_claim(A.verdicts({**empty, "part4": grid}, empty, tmp_path))
    assert rows["He initialization suits tanh poorly"].verdict == A.NOT_MEASURED
    assert "interrupted" in rows["He initialization suits tanh poorly"].numbers


def test_a_cut_short_part5_run_never_breaks_the_analysis(tmp_path):
    """Fault: Part 5 interrupted in its first epoch (empty history) raised IndexError in every later
    part and in `make report`; a Part 5 record with a validation split (no test curve) raised ValueError."""
    root = tmp_path / "assignment"
    write_cnn(root / "part5", "simple", 0.10, [])
    write_cnn(root / "part5", "improved", 0.10, [])
    for model in ("simple", "improved"):
        path = root / "part5" / model / "metrics.json"
        record = json.loads(path.read_text())
        path.write_text(json.dumps({**record, "status": "incomplete", "status_note": "interrupted during epoch 1",
                                    "config": {"epochs": 100}}))
    rows = [v for v in A.verdicts({}, {}, root) if v.part == "part5"]
    assert [v.verdict for v in rows] == [A.NOT_MEASURED] * 5
    assert "interrupted after 0 of 100 epochs" in rows[0].numbers and "interrupted after 0 of 100" in rows[1].numbers
    write_cnn(root / "part5", "improved", 0.87, [1.0, 0.5])  # complete, but watched no test curve
    path = root / "part5" / "improved" / "metrics.json"
    record = json.loads(path.read_text())
    record["history"] = [{k: v for k, v in h.items() if not k.startswith("test")} for h in record["history"]]
    path.write_text(json.dumps(record))
    rows = by_claim(A.verdicts({}, {}, root))
    assert rows["ImprovedCNN 86.80% test accuracy"].verdict == A.HOLDS
    assert rows["validation peak 87.01% at epoch 88"].verdict == A.NOT_MEASURED
    assert "watched no test curve" in rows["validation peak 87.01% at epoch 88"].numbers


def test_the_parameter_claim_says_what_the_accuracies_were(tmp_path):
    """Fault: it always added 'the CNNs here do reach higher accuracy', also for a SimpleCNN at 0.10."""
    part5 = done({"models": {"SimpleCNN": {"parameters": 545_098, "test_accuracy": 0.10}}}, "quick")
    mlp = done({"parameters": 1_600_000, "test": {"accuracy": 0.46}})
    claim = by_claim(A.verdicts({"part5": part5, "part3": mlp}, {}, tmp_path))["a CNN needs fewer parameters than an "
                                                                             "MLP"]
    assert claim.verdict == A.HOLDS and "SimpleCNN does not reach higher test accuracy (0.1000 vs the MLP's 0.4600)" \
        in claim.numbers and "do reach higher" not in claim.numbers


def test_comparisons_inside_the_tolerance_are_too_close_to_call():
    assert A.compare("A", 0.4265, "B", 0.4261, 0.01) == (A.TOO_CLOSE, "A 0.4265 vs B 0.4261: too close to call "
                                                                      "(difference 0.0004, tolerance 0.01)")
    assert A.compare("A", 0.45, "B", 0.42, 0.01)[0] == A.HOLDS and A.compare("A", 0.42, "B", 0.45, 0.01)[0] == A.FAILS
    assert A.compare("tanh", 105, "sigmoid", 100, 0.10, relative=True)[0] == A.TOO_CLOSE
    assert A.compare("tanh", 910, "sigmoid", 118, 0.10, relative=True)[0] == A.HOLDS


def test_a_failing_analysis_never_stops_the_part_that_trained(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(A, "verdicts", lambda *a: 1 / 0)
    with caplog.at_level("WARNING", logger="cifar"):
        assert A.write_analysis_safely("part1", tmp_path, {"recipe": "tuned"}) is None
    assert "analysis.md not written (ZeroDivisionError" in caplog.text


def test_a_verdict_needs_the_recipe_the_claim_names(tmp_path):
    """A tuned run written into the assignment's folder is not the assignment's recipe."""
    empty = {p: None for p in ("part1", "part2", "part3", "part4", "part5")}
    tuned_here = done({"test": {"accuracy": 0.5}, "history": [{"epoch": 1, "train_loss": 1.0}]}, "tuned")
    claim = by_claim(A.verdicts(empty, {**empty, "part3": tuned_here}, tmp_path))["test accuracy 0.4254"]
    assert claim.verdict == A.NOT_MEASURED and "followed the 'tuned' recipe, not 'assignment'" in claim.numbers


def test_ablation_statements_compare_only_runs_of_one_recipe_and_call_close_ones_so():
    quick = {**ablated(0.80, 0.80), "recipe": "quick"}
    assert A.ablation_statements({"none": ablated(0.90, 0.90), "no-dropout": quick}) == []  # best vs quick
    old = {k: v for k, v in ablated(0.70, 0.70).items() if k != "recipe_changes"}
    assert A.ablation_statements({"none": ablated(0.90, 0.90), "no-dropout": old}) == []  # no recipe_changes
    close = A.ablation_statements({"none": ablated(0.900, 0.90), "no-dropout": ablated(0.895, 0.90)})
    assert "changes by 0.5 points (too close to call)" in close[0]
    assert close[-1].startswith("Removing no single change lowers the accuracy here")


def test_a_grid_that_measured_no_validation_accuracy_still_reads():
    rows = [{**grid_row("relu", "sgd", "he", None), "test_acc": 0.1}]
    lines = A.part4_statements({"winner": {**rows[0], "lr": 0.1}, "ranking": rows, "seeds": []})
    assert lines == ["The grid's winner by validation accuracy is relu + sgd + he (lr 0.1): validation not "
                     "measured, test 0.1000."]
