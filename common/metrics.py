"""Classification metrics in numpy (cross-checked against scikit-learn in the tests).

Conventions: ``y_true`` and ``y_pred`` are (N,) integer class labels in [0, K); confusion-matrix
rows are true classes and columns predicted classes. A precision with no predicted samples is 0,
as scikit-learn's ``zero_division=0``.
"""
from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(K, K) int64 counts: entry [i, j] = samples of true class i predicted as j."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in shape")
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes).astype(np.int64)


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of samples predicted correctly."""
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def _safe_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    return np.divide(numerator, denominator, out=np.zeros(len(numerator)), where=denominator > 0)


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall, F1 (K,) float64 and support (K,) int64 from a confusion matrix."""
    true_positive = np.diag(cm).astype(np.float64)
    precision = _safe_divide(true_positive, cm.sum(axis=0))
    recall = _safe_divide(true_positive, cm.sum(axis=1))
    f1 = _safe_divide(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": cm.sum(axis=1)}


def per_class_accuracy(cm: np.ndarray) -> np.ndarray:
    """(K,) fraction of each true class predicted correctly (the per-class recall)."""
    return _safe_divide(np.diag(cm).astype(np.float64), cm.sum(axis=1))


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean per-class recall over the classes present in the true labels."""
    present = cm.sum(axis=1) > 0
    return float(per_class_accuracy(cm)[present].mean())


def macro_f1(cm: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores."""
    return float(precision_recall_f1(cm)["f1"].mean())


def roc_auc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve for binary labels (N,) in {0, 1} and scores (N,) for class 1.

    Computed exactly as the Mann-Whitney U statistic with average ranks for ties.
    """
    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC-AUC needs both classes in y_true")
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(order), dtype=np.float64)
    # average rank (1-based) within each run of tied scores
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(order)]])
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _ranked_counts(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thresholds (every distinct score, highest first) and the true and false positives (cumulative
    counts) of predicting ``scores >= threshold`` as positive."""
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    s, y = np.asarray(scores)[order], np.asarray(y_true)[order].astype(bool)
    last_of_run = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # a threshold takes every tie at once
    true_positives = np.cumsum(y)[last_of_run]
    return s[last_of_run], true_positives, last_of_run + 1 - true_positives


def roc_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates (K+1,) from (0, 0) to (1, 1), and the K thresholds (highest first)."""
    thresholds, tp, fp = _ranked_counts(y_true, scores)
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)], thresholds


def precision_recall_curve(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision and recall (K,) of ``scores >= threshold`` at each threshold (highest first)."""
    thresholds, tp, fp = _ranked_counts(y_true, scores)
    return tp / (tp + fp), tp / max(tp[-1], 1), thresholds


def average_precision(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Area under the precision-recall curve as a step sum: sum over thresholds of (R_k - R_k-1) P_k
    (scikit-learn's definition)."""
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def majority_class(y_train: np.ndarray) -> int:
    """The most frequent label of the training labels (ties: the smallest label)."""
    return int(np.bincount(y_train).argmax())


def majority_baseline_accuracy(y_train: np.ndarray, y_eval: np.ndarray) -> float:
    """Accuracy on ``y_eval`` of always predicting the training set's majority class."""
    return accuracy(y_eval, np.full(len(y_eval), majority_class(y_train)))


def best_threshold(y_true: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold t maximizing accuracy of ``scores >= t`` (pick on validation only).

    Returns the midpoint between the two neighbouring scores of the best cut.
    """
    order = np.argsort(-np.asarray(scores), kind="mergesort")
    s, y = np.asarray(scores)[order], np.asarray(y_true)[order].astype(np.int64)
    # predicting the top-k as positive: correct = positives in top-k + negatives below
    correct = np.concatenate([[0], np.cumsum(2 * y - 1)]) + (len(y) - y.sum())
    valid = np.concatenate([[True], s[1:] != s[:-1], [True]])  # cut only between distinct scores
    k = int(np.argmax(np.where(valid, correct, -1)))
    if k == 0:
        return float(s[0] + 1e-6)
    if k == len(s):
        return float(s[-1])
    return float((s[k - 1] + s[k]) / 2)


def classification_summary(y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...],
                           scores: np.ndarray | None = None) -> dict:
    """Everything a report needs about one evaluation, as JSON-ready numbers.

    Binary tasks also get ``f1_<class name>`` for both classes; ``scores`` (N,) of class 1 add
    ``roc_auc``.
    """
    k = len(class_names)
    cm = confusion_matrix(y_true, y_pred, k)
    prf = precision_recall_f1(cm)
    summary = {
        "accuracy": accuracy(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(cm),
        "macro_f1": macro_f1(cm),
        "per_class": {name: {"precision": float(prf["precision"][i]), "recall": float(prf["recall"][i]),
                             "f1": float(prf["f1"][i]), "support": int(prf["support"][i])}
                      for i, name in enumerate(class_names)},
        "confusion_matrix": cm.tolist(),
    }
    if k == 2:
        for i, name in enumerate(class_names):
            summary[f"f1_{name}"] = float(prf["f1"][i])
        if scores is not None:
            summary["roc_auc"] = roc_auc(y_true, scores)
    return summary


# How a report turned class probabilities into predicted classes, for comparing its figures like with like.
SCORINGS = {
    "argmax": "each image's class is its most probable one",
    "threshold": "each class's probability against 0.5, an image's class the first at or above it and the first "
                 "class when none is (the argmax of its 0/1 row)",
}


def scored_predictions(probabilities: np.ndarray, scoring: str) -> np.ndarray:
    """(N,) predicted classes from (N, K) class ``probabilities`` under ``scoring`` (a key of SCORINGS)."""
    if scoring not in SCORINGS:
        raise ValueError(f"unknown scoring {scoring!r}; use one of {', '.join(SCORINGS)}")
    probabilities = np.asarray(probabilities)
    return (probabilities >= 0.5 if scoring == "threshold" else probabilities).argmax(axis=1)


RISE = 0.01  # a training loss that climbs by more than 1 % of itself from one epoch to the next has risen


def loss_rises(history: list[dict]) -> float | None:
    """How much a training curve oscillates: the share of epochs after the first whose train_loss is more than
    RISE (1 %) above the previous epoch's. 0 for a curve that only falls; mini-batch noise below 1 % does not
    count, so a network stuck at a flat loss reads near 0, not 50 %. None with fewer than two epochs."""
    losses = np.array([h["train_loss"] for h in history if isinstance(h.get("train_loss"), (int, float))])
    if len(losses) < 2:
        return None
    return float(np.mean(np.diff(losses) > RISE * np.abs(losses[:-1])))
