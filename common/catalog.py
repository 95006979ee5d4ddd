"""The five parts, each described once: the command-line help, `make help`, the report index and
the README's table all read this file. So do the figures each part draws, with the one line that
says what to look for in them (the report shows it as the caption).

Standard library only, so that `make help` works before anything is installed:
``python3 -m common.catalog`` prints the Makefile's lines for the parts.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass(frozen=True)
class PartInfo:
    name: str  # "part1": the module parts/part1.py, the make target and the folder reports/part1/
    title: str  # heading in reports and logs
    summary: str  # one line: what is trained, on which task, in what
    figures: tuple[tuple[str, str], ...]  # (file under reports/<part>/, what to look for in it)


_RUN_FIGURES = (
    ("loss_curve.png", "Loss and accuracy per epoch: where the curves part, the model starts to overfit."),
    ("confusion_matrix.png", "Test confusion matrix, counts and row shares: the diagonal is what it gets right."),
    ("mistakes.png", "The most confident wrong test predictions: are they plausible confusions or clear errors?"),
    ("predictions.png", "Random test images with true and predicted labels (green right, red wrong)."),
)
_BINARY_FIGURES = (
    ("roc_pr.png", "ROC and precision-recall curves: how well the scores rank airplanes above the rest, "
                   "at every threshold; the dots are the two thresholds used."),
)

PARTS: dict[str, PartInfo] = {p.name: p for p in (
    PartInfo("part1", "Part 1: a single logistic neuron",
             "one sigmoid neuron, 3072 -> 1, airplane vs the rest (numpy)",
             _RUN_FIGURES + _BINARY_FIGURES + (
                 ("weights.png", "The neuron's 3072 weights as an image, per colour channel: red pixels speak "
                                 "for airplane, blue against."),)),
    PartInfo("part2", "Part 2: one hidden layer",
             "3072 -> 64 sigmoid -> 1, airplane vs the rest (numpy)",
             _RUN_FIGURES + _BINARY_FIGURES),
    PartInfo("part3", "Part 3: multiclass softmax network",
             "3072 -> 64 sigmoid -> 10 softmax, all ten classes (numpy)",
             _RUN_FIGURES + (
                 ("weights.png", "What the 64 hidden units look for (their input weights as images), and each "
                                 "class's effective template through them."),)),
    PartInfo("part4", "Part 4: activations, optimizers, initializations",
             "{sigmoid, ReLU, tanh} x {SGD, Momentum, Adam} x {small, He, Xavier} on Part 3's network (numpy)",
             _RUN_FIGURES + (
                 ("grid_heatmap.png", "Validation accuracy of every combination, one panel per initialization, "
                                      "one colour scale: where the bright cells cluster is what matters."),
                 ("lr_sweep.png", "What each tried learning rate did: too low learns slowly, too high is unstable; "
                                  "the ringed point was chosen."),
                 ("curves_by_optimizer.png", "Validation curves of each optimizer's best configuration."),
                 ("curves_by_activation.png", "Validation curves of each activation's best configuration."),
                 ("curves_by_init.png", "Validation curves of each initialization's best configuration."),
                 ("scenario_curves.png", "The assignment's four scenarios: training loss and test accuracy per "
                                         "epoch (the test set is watched, never used to choose)."),
                 ("toy_boundaries.png", "Decision regions of a small network on 2-D toy sets: only a nonlinear "
                                        "activation can bend the boundary; the linear control cannot."),
             )),
    PartInfo("part5", "Part 5: convolutional networks",
             "SimpleCNN and ImprovedCNN in PyTorch, compared with the MLPs",
             tuple((f"{model}/{name}", f"{label}: {caption}") for model, label in
                   (("improved", "ImprovedCNN"), ("simple", "SimpleCNN")) for name, caption in _RUN_FIGURES) + (
                 ("improved/per_class_accuracy.png", "ImprovedCNN: test accuracy per class: which classes "
                                                     "stay hard."),
                 ("improved/filters.png", "ImprovedCNN's 64 first-layer 3x3 filters, each scaled on its own "
                                          "(grey = 0): the colour and the light-to-dark direction each one "
                                          "responds to."),
                 ("improved/saliency.png", "Saliency: the pixels whose change moves the true class's score "
                                           "most; on the object means it looks at the object."),
                 ("improved/class_images.png", "An image made for each class by gradient ascent on the input "
                                               "(L2, jitter and blur keep it natural): what the network finds "
                                               "most 'car' or 'frog'."),
                 ("ablation/ablation_curves.png", "make ablation: validation curves of ImprovedCNN with one change "
                                                  "removed at a time; the curve furthest below the full model's is "
                                                  "the change that matters most."),
             )),
)}


# `make eda`'s figures in reports/eda/, with what to look for in them.
EDA_FIGURES = (
    ("class_counts.png", "Images per class in each split: balanced, so accuracy and its chance level (10 %) mean "
                         "the same for every class."),
    ("samples.png", "Ten random training images per class: look at how small, varied and cluttered they are."),
    ("class_means.png", "The mean image per class: the colours and layout a class brings on average, which is "
                        "what a linear model can key on."),
    ("pixel_distributions.png", "Pixel values per channel: why inputs are scaled (/ 255) or standardized before "
                                "training."),
)


def make_help_lines() -> list[str]:
    """The `make help` lines of the part targets."""
    return [f"  make {p.name:<12} {p.summary}" for p in PARTS.values()]


if __name__ == "__main__":
    sys.stdout.write("\n".join(make_help_lines()) + "\n")
