"""Part 3: multiclass softmax network 3072 -> 64 sigmoid -> 10 softmax, numpy from scratch.

Softmax and cross-entropy are fused (gradient ``p - y``, log-sum-exp stable). The report has a
per-class precision/recall/F1 table and a 10x10 confusion matrix with class names.
"""
from __future__ import annotations

import argparse
import sys

from common.cli import run_main
from common.mlp_experiment import MLPDefaults, build_mlp_parser, run_mlp_part

PART, TITLE = "part3", "Part 3: 3072-64-10 softmax network, 10 classes"
# Architecture from the assignment; optimizer, lr, L2, mirrored copies and the cosine decay
# were chosen by validation accuracy (the test set played no part in the choice).
DEFAULTS = MLPDefaults(hidden=[64], activation="sigmoid", init="xavier", optimizer="momentum", lr=0.03,
                       batch_size=64, epochs=30, patience=10, schedule="cosine", l2=1e-3, hflip=True)


def build_parser() -> argparse.ArgumentParser:
    return build_mlp_parser(PART, __doc__, DEFAULTS, binary=False)


def main(args: argparse.Namespace) -> int:
    return run_mlp_part(args, part=PART, title=TITLE, task="multiclass")


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
