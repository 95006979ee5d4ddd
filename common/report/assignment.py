"""What the assignment's own report states: the figures it reported, beside which the reruns stand.

These are the only typed-in numbers of the suite: the assignment's, quoted from its report. Its
recipes are the parts' ``assignment`` recipes (``--recipe assignment``, ``make reproduce``);
its claims, and the verdicts the runs give on them, are in ``common/report/analysis.py``.
"""
from __future__ import annotations

# The headline test accuracy the assignment reported for each part, and which model or scenario it is.
HEADLINE = {
    "part1": ("accuracy", 0.913),
    "part2": ("accuracy", 0.9203),
    "part3": ("accuracy", 0.4254),
    "part4": ("sigmoid + momentum + small", 0.4335),
    "part5": ("ImprovedCNN", 0.8680),
}

# Everything else it reported, per part. Part 1's precision, recall and F1 are the "rest" class's
# (its labels were airplane = 0, rest = 1); losses are its final training loss.
REPORTED = {
    "part1": {"accuracy": 0.913, "precision_rest": 0.9233, "recall_rest": 0.9851, "f1_rest": 0.9532,
              "final_train_loss": 0.245},
    "part2": {"accuracy": 0.9203, "final_train_loss": 0.237},
    "part3": {"accuracy": 0.4254},
    "part4": {"sigmoid + momentum + small": 0.4335, "relu + momentum + he": 0.4242, "sigmoid + momentum + he": 0.4323,
              "tanh + momentum + he": None},  # no figure given for tanh + He
    "part5": {"SimpleCNN": 0.10, "ImprovedCNN": 0.8680, "ImprovedCNN validation peak": 0.8701,
              "ImprovedCNN validation peak epoch": 88, "ImprovedCNN lowest validation loss": 0.98,
              "ImprovedCNN validation loss at epoch 100": 7.4},
}
