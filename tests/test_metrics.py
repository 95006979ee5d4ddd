"""Every metric cross-checked against scikit-learn on random data."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from common import metrics as M

RNG = np.random.default_rng(0)


@pytest.fixture(params=[2, 3, 10])
def labels(request):
    k = request.param
    y_true = RNG.integers(0, k, size=500)
    y_pred = np.where(RNG.random(500) < 0.6, y_true, RNG.integers(0, k, size=500))
    return k, y_true, y_pred


def test_confusion_matrix(labels):
    k, y_true, y_pred = labels
    np.testing.assert_array_equal(M.confusion_matrix(y_true, y_pred, k),
                                  skm.confusion_matrix(y_true, y_pred, labels=range(k)))


def test_accuracy_and_balanced_accuracy(labels):
    k, y_true, y_pred = labels
    cm = M.confusion_matrix(y_true, y_pred, k)
    assert M.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert M.balanced_accuracy(cm) == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))


def test_precision_recall_f1_and_macro(labels):
    k, y_true, y_pred = labels
    cm = M.confusion_matrix(y_true, y_pred, k)
    ours = M.precision_recall_f1(cm)
    p, r, f, s = skm.precision_recall_fscore_support(y_true, y_pred, labels=range(k), zero_division=0)
    np.testing.assert_allclose(ours["precision"], p)
    np.testing.assert_allclose(ours["recall"], r)
    np.testing.assert_allclose(ours["f1"], f)
    np.testing.assert_array_equal(ours["support"], s)
    np.testing.assert_allclose(M.per_class_accuracy(cm), r)
    assert M.macro_f1(cm) == pytest.approx(skm.f1_score(y_true, y_pred, average="macro", labels=range(k),
                                                        zero_division=0))


def test_zero_division_gives_zero():
    cm = M.confusion_matrix(np.array([0, 0, 1]), np.array([0, 0, 0]), 2)
    assert M.precision_recall_f1(cm)["precision"][1] == 0 and M.precision_recall_f1(cm)["f1"][1] == 0


@pytest.mark.parametrize("tied", [False, True])
def test_roc_auc(tied):
    y = RNG.integers(0, 2, size=400)
    scores = y * 0.5 + RNG.random(400)
    if tied:
        scores = np.round(scores, 1)  # many ties
    assert M.roc_auc(y, scores) == pytest.approx(skm.roc_auc_score(y, scores), abs=1e-12)
    with pytest.raises(ValueError):
        M.roc_auc(np.zeros(5), np.arange(5.0))


def test_majority_baseline():
    y_train = np.array([1] * 9 + [0])
    assert M.majority_class(y_train) == 1
    y_eval = np.array([1] * 90 + [0] * 10)
    assert M.majority_baseline_accuracy(y_train, y_eval) == pytest.approx(0.9)
    dummy = __import__("sklearn.dummy", fromlist=["DummyClassifier"]).DummyClassifier(strategy="most_frequent")
    dummy.fit(np.zeros((10, 1)), y_train)
    assert M.majority_baseline_accuracy(y_train, y_eval) == pytest.approx(dummy.score(np.zeros((100, 1)), y_eval))


def test_best_threshold_matches_brute_force():
    y = RNG.integers(0, 2, size=300)
    scores = np.round(y * 0.3 + RNG.random(300), 2)
    t = M.best_threshold(y, scores)
    candidates = np.concatenate([np.unique(scores), [scores.max() + 1]])
    best = max(M.accuracy(y, scores >= c) for c in candidates)
    assert M.accuracy(y, scores >= t) == pytest.approx(best)


def test_classification_summary_binary():
    y = np.array([0, 0, 1, 1, 1])
    summary = M.classification_summary(y, np.array([0, 1, 1, 1, 0]), ("rest", "airplane"),
                                       scores=np.array([0.1, 0.6, 0.7, 0.9, 0.4]))
    assert summary["accuracy"] == pytest.approx(0.6)
    assert summary["roc_auc"] == pytest.approx(skm.roc_auc_score(y, [0.1, 0.6, 0.7, 0.9, 0.4]))
    assert set(summary["per_class"]) == {"rest", "airplane"} and "f1_airplane" in summary
    assert summary["confusion_matrix"] == [[1, 1], [1, 2]]


@pytest.mark.parametrize("ties", [False, True])
def test_roc_and_precision_recall_curves_match_scikit_learn(ties):
    y = RNG.integers(0, 2, size=400)
    scores = RNG.random(400) + 0.3 * y
    if ties:
        scores = np.round(scores, 1)
    fpr, tpr, thresholds = M.roc_curve(y, scores)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds, sk_thresholds[1:])  # scikit-learn prepends +inf
    assert np.trapezoid(tpr, fpr) == pytest.approx(M.roc_auc(y, scores))
    precision, recall, _ = M.precision_recall_curve(y, scores)
    sk_precision, sk_recall, _ = skm.precision_recall_curve(y, scores, drop_intermediate=False)
    np.testing.assert_allclose(precision, sk_precision[:-1][::-1])  # theirs: lowest threshold first, plus (1, 0)
    np.testing.assert_allclose(recall, sk_recall[:-1][::-1])
    assert M.average_precision(y, scores) == pytest.approx(skm.average_precision_score(y, scores))


def test_loss_rises_counts_climbs_of_more_than_one_percent_not_noise():
    from common.metrics import loss_rises
    flat = [{"train_loss": 2.3026 + 0.0005 * (-1) ** e} for e in range(10)]  # a stuck network's wobble
    assert loss_rises(flat) == 0.0
    bouncing = [{"train_loss": v} for v in (1.0, 1.1, 0.9, 1.0, 0.8)]  # rises of 10 % and 11 %
    assert loss_rises(bouncing) == 0.5 and loss_rises(bouncing[:1]) is None


def test_a_reports_scoring_turns_probabilities_into_classes():
    probabilities = np.array([[0.2, 0.7, 0.1], [0.4, 0.3, 0.3], [0.1, 0.45, 0.45]])
    assert M.scored_predictions(probabilities, "argmax").tolist() == [1, 0, 1]
    assert M.scored_predictions(probabilities, "threshold").tolist() == [1, 0, 0]  # none at 0.5: the first class
    with pytest.raises(ValueError, match="unknown scoring 'top1'"):
        M.scored_predictions(probabilities, "top1")
