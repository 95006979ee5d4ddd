"""The parts, each declared once, in its own file: parts/partN.py holds a ``CATALOG = {...}`` literal
(title, summary, figures with what to look for in them), which this module reads without importing
the part. The command-line help, `make help`, the report index and the README's table all read
``PARTS``; a new part is a new file in parts/, with no line to add here.

Standard library only, so that `make help` works before anything is installed:
``python3 -m common.catalog`` prints the Makefile's lines for the parts.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PartInfo:
    name: str  # "part1": the file parts/part1.py, the make target and the folder reports/part1/
    title: str  # heading in reports and logs
    summary: str  # one line: what is trained, on which task, in what
    figures: tuple[tuple[str, str], ...]  # (file under reports/<part>/, what to look for in it)
    drawn_by: tuple[tuple[str, str], ...] = ()  # (file, name): drawn by common/render/figures.py's draw_<name>
    # (name, *siblings): the statements of common/report/analysis.py's STATEMENTS that analysis.md says, each
    # given this part's record and the named other parts' runs of the same recipe
    statements: tuple[tuple[str, ...], ...] = ()


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

FIGURE_SETS = {"run": _RUN_FIGURES, "binary": _BINARY_FIGURES}  # shared by name in the parts' declarations
PARTS_DIR = Path(__file__).resolve().parents[1] / "parts"


def part_info(path: Path) -> PartInfo:
    """The part that ``path`` (parts/partN.py) declares in its ``CATALOG = {...}`` literal, read without
    importing the file. "statements" lists [name, *other parts] (common/report/analysis.py's STATEMENTS);
    "figures" lists [file, caption] pairs, names of FIGURE_SETS,
    {"set": name, "under": folder, "label": model} for a set drawn once per model folder, and
    {"file": file, "caption": caption, "draw": name} for a figure the part declares whole: drawn by
    ``draw_<name>(run)`` in common/render/figures.py from the saved run."""
    path = Path(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "CATALOG" for t in node.targets):
            spec = ast.literal_eval(node.value)
            break
    else:
        raise ValueError(f"{path} declares no CATALOG = {{'title': ..., 'summary': ..., 'figures': [...]}}: every "
                         f"part file declares its entry of the catalog")
    figures, drawn_by = [], []
    for entry in spec.get("figures", ()):
        if isinstance(entry, str):
            figures += FIGURE_SETS[entry]
        elif isinstance(entry, dict) and "draw" in entry:
            figures.append((entry["file"], entry["caption"]))
            drawn_by.append((entry["file"], entry["draw"]))
        elif isinstance(entry, dict):
            figures += [(f"{entry['under']}/{name}", f"{entry['label']}: {caption}")
                        for name, caption in FIGURE_SETS[entry["set"]]]
        else:
            figures.append(tuple(entry))
    return PartInfo(path.stem, spec["title"], spec["summary"], tuple(figures), tuple(drawn_by),
                    tuple(tuple(entry) for entry in spec.get("statements", ())))


def discover(folder: Path = PARTS_DIR) -> dict[str, PartInfo]:
    """{name: PartInfo} of every parts/partN.py, in the order of N: a new part is a new file there."""
    paths = sorted(Path(folder).glob("part*.py"), key=lambda p: (len(p.stem), p.stem))
    return {path.stem: part_info(path) for path in paths}


PARTS: dict[str, PartInfo] = discover()


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
