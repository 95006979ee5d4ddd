"""analysis.md: statements whose wording follows the numbers (both directions of every comparison), and
each report's verdicts on the part (the verdicts themselves: test_claims.py)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from common.experiments import record as R
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
    better = A.hidden_layer_statements(binary(auc=0.91, f1=0.55, seconds=50),
                                       A.Sibling("Part 1", binary(auc=0.84, f1=0.34, seconds=5, parameters=3073)))
    assert "the hidden layer raises ROC-AUC from 0.8400 to 0.9100, raises airplane F1 from 0.3400 to 0.5500" \
        in better[-1] and "10.0x the training time (50 s vs 5 s)" in better[-1]
    worse = A.hidden_layer_statements(binary(auc=0.80, f1=0.30), A.Sibling("Part 1", binary(auc=0.84, f1=0.34,
                                                                                               parameters=3073)))
    assert "lowers ROC-AUC from 0.8400 to 0.8000" in worse[-1] and "lowers airplane F1" in worse[-1]
    assert A.hidden_layer_statements(binary(), A.Sibling("Part 1", None)) == [
        "Part 1 has not run with this recipe, so what the hidden layer adds is not measured."]
    both = A.part_statements("part2", binary(), {"part1": binary(parameters=3073)})  # as part2's CATALOG says
    assert both[0].startswith("Test accuracy is 0.9300") and both[-1].startswith("Against Part 1 (same recipe)")


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
    lines = A.ten_classes_statements(multiclass(cm), A.Sibling("Part 2", binary()))
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
    lines = A.comparison_statements(record)
    assert lines[1].startswith("By activation (mean validation accuracy over the optimizer x initialization runs): "
                               "relu 0.4600, sigmoid 0.4100") and "relu leads by 5.0 points" in lines[1]
    assert "adam leads" in lines[2]


def test_part5s_catalog_statements_read_its_siblings_and_its_ablation():
    record = {"models": {"SimpleCNN": {"test_accuracy": 0.7, "parameters": 545_098, "train_seconds": 50,
                                       "epochs_run": 8}}}
    ablation = {"none": ablated(0.9, 0.9), "no-dropout": ablated(0.8, 0.8)}
    lines = A.part_statements("part5", record, {"part3": {"test": {"accuracy": 0.5}, "parameters": 197_322},
                                                "ablation": ablation})
    assert "SimpleCNN beats Part 3's MLP on test accuracy" in lines[0]
    assert any("without dropout costs 10.0 points" in line for line in lines)


def test_cnn_vs_mlp_says_more_or_fewer_parameters():
    part5 = {"models": {"SimpleCNN": {"test_accuracy": 0.76, "parameters": 545_098, "train_seconds": 50,
                                      "epochs_run": 8},
                        "ImprovedCNN": {"test_accuracy": 0.84, "parameters": 3_249_610, "train_seconds": 400,
                                        "epochs_run": 6}}}
    mlp = {"test": {"accuracy": 0.52}, "parameters": 197_322}
    lines = A.cnn_statements(part5, A.Sibling("Part 3", mlp))
    assert lines[0].startswith("ImprovedCNN beats SimpleCNN on test accuracy, 0.8400 vs 0.7600")
    assert "ImprovedCNN has more parameters (3,249,610 vs 197,322)" in " ".join(lines)
    small = A.cnn_statements({"models": {"SimpleCNN": {**part5["models"]["SimpleCNN"], "parameters": 100_000,
                                                         "test_accuracy": 0.4}}}, A.Sibling("Part 3", mlp))
    assert "Part 3's MLP beats SimpleCNN" in small[0] and "fewer parameters (100,000 vs 197,322)" in small[0]


def scenario(name: str, test_acc: float, losses: list[float]) -> dict:
    activation, optimizer, init = name.split(" + ")
    return {"activation": activation, "optimizer": optimizer, "init": init, "test_acc": test_acc, "status": "complete",
            "epochs_run": len(losses),
            "history": [{"epoch": e + 1, "train_loss": loss, "test_acc": test_acc} for e, loss in enumerate(losses)]}


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
    lines = A.comparison_statements({"scenarios": [{**scenario("relu + momentum + he", 0.10, [2.2, 2.3026]),
                                                "history": dead}]})
    assert lines[1].startswith("    - relu + momentum + he: test accuracy 0.1000") and "stopped learning" in lines[1]
    assert A.bullets(lines)[1] == lines[1]  # stays nested under the first statement


def test_a_failing_analysis_never_stops_the_part_that_trained(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(A, "all_verdicts", lambda *a: 1 / 0)
    with caplog.at_level("WARNING", logger="cifar"):
        assert A.write_analysis_safely("part1", tmp_path, {"recipe": "tuned"}) is None
    assert "analysis.md not written (ZeroDivisionError" in caplog.text


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
    lines = A.comparison_statements({"winner": {**rows[0], "lr": 0.1}, "ranking": rows, "seeds": []})
    assert lines == ["The grid's winner by validation accuracy is relu + sgd + he (lr 0.1): validation not "
                     "measured, test 0.1000."]


def test_each_part_folder_gets_an_analysis_with_each_reports_claims(tmp_path):
    from tests.helpers import report_recipe, write_record
    out = tmp_path / "reports" / "000" / "part1"
    write_record(out / "metrics.json", "part1", recipe="report 000",
                 config=R.config_dict(report_recipe("000", "part1")), **binary(accuracy=0.95),
                 history=[{"epoch": 1, "train_loss": 0.3, "test_acc": 0.95}])
    text = A.write_part_analysis("part1", out, json.loads((out / "metrics.json").read_text())).read_text()
    assert text.split("\n", 1)[1].startswith("# Part 1: a single logistic neuron: what the numbers say")
    assert "- Test accuracy is 0.9500, 5.0 points above" in text
    assert "## Report 000: its figures and claims on part1" in text
    assert "| 1.9 | test accuracy 0.9130 | <span class=\"verdict-does-not-hold\">does not hold</span> | rerun 0.9500 " \
           "(0.0370 above the report's; tolerance 0.0100)" in text
    assert A.reports_root_of(out, {"recipe": "report 000"}) == tmp_path / "reports"
    assert A.reports_root_of(tmp_path / "reports" / "part2", {"recipe": "tuned"}) == tmp_path / "reports"
    variant = tmp_path / "reports" / "000" / "variants" / "part2" / "epochs-3"
    assert A.reports_root_of(variant, {"recipe": "report 000"}) == tmp_path / "reports"
