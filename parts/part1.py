"""Part 1: a single logistic neuron (3072 -> 1, sigmoid), airplane vs the rest, numpy from scratch.

The neuron is the one-layer case of the shared MLP (``common/nn``): logits = x @ w + b,
trained with binary cross-entropy by mini-batch gradient descent. Defaults reproduce the
assignment (SGD, lr 0.01, batch 64) plus what validation chose (mirrored training images,
L2 0.01, cosine decay over 20 epochs); validation picks the epoch (early stopping) and the
decision threshold; the test set is evaluated once.
"""
from __future__ import annotations

import argparse
import sys

from common.cli import run_main
from common.mlp_experiment import MLPDefaults, build_mlp_parser, run_mlp_part

PART, TITLE = "part1", "Part 1: logistic neuron, airplane vs rest"
# The seed's SGD, lr 0.01, batch 64; mirrored training copies, L2 0.01 and a 20-epoch cosine
# decay were chosen by validation ROC-AUC (the test set played no part in the choice).
DEFAULTS = MLPDefaults(hidden=[], optimizer="sgd", lr=0.01, batch_size=64, epochs=20, patience=10,
                       schedule="cosine", l2=0.01, hflip=True)


def build_parser() -> argparse.ArgumentParser:
    return build_mlp_parser(PART, __doc__, DEFAULTS, binary=True)


def main(args: argparse.Namespace) -> int:
    return run_mlp_part(args, part=PART, title=TITLE, task="binary")


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
