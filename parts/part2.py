"""Part 2: one hidden layer (3072 -> 64 sigmoid -> 1 sigmoid), airplane vs the rest, numpy.

Forward and backward passes are the hand-written layer pairs of ``common/nn``; the report
matches Part 1's (both classes' F1, balanced accuracy, ROC-AUC, majority baseline, threshold
0.5 and the threshold chosen on validation).
"""
from __future__ import annotations

import argparse
import sys

from common.cli import run_main
from common.mlp_experiment import MLPDefaults, build_mlp_parser, run_mlp_part

PART, TITLE = "part2", "Part 2: 3072-64-1 sigmoid network, airplane vs rest"
# Architecture from the assignment; optimizer, lr, L2, mirrored copies and the cosine decay
# were chosen by validation ROC-AUC (the test set played no part in the choice).
DEFAULTS = MLPDefaults(hidden=[64], activation="sigmoid", init="xavier", optimizer="momentum", lr=0.05,
                       batch_size=64, epochs=50, patience=10, schedule="cosine", l2=1e-3, hflip=True)


def build_parser() -> argparse.ArgumentParser:
    return build_mlp_parser(PART, __doc__, DEFAULTS, binary=True)


def main(args: argparse.Namespace) -> int:
    return run_mlp_part(args, part=PART, title=TITLE, task="binary")


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
