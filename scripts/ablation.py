"""`make ablation`: why ImprovedCNN beats SimpleCNN, one change at a time.

Trains ImprovedCNN as it is and without each of its changes over SimpleCNN (batch norm, dropout,
the third block: common/cnn/models.py, ABLATIONS) under one recipe, each into
reports/part5/ablation/<variant>/, then writes ablation.md (a table) and ablation_curves.png
(overlaid validation curves) there; the report index and Part 5's analysis read them.

The recipe is make part5's: tuned on a GPU, quick on a CPU (--recipe, or --report ID for a report's). Every variant runs
through Part 5 with --resume: a complete one is kept and an interrupted one continues (--force
trains them again).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from common.cli import run_main
from common.cnn.models import ABLATIONS
from common.console import EXIT_INTERRUPTED, log
from common.files import ReportFolder, atomic_write_text
from common.paths import PROJECT_ROOT, REPORTS_DIR
from common.render.figures import plot_overlaid_curves, save_figure
from common.render.tables import markdown_table
from common.report.analysis import ablation_rows
from common.report.claims import ABLATION, ABLATION_CHANGES, read_ablation


def variant_command(variant: str, recipe: str, out: Path, data: str | None, force: bool,
                    report: str | None = None) -> list[str]:
    # The variants' own figures are not drawn: the ablation's figure is their curves side by side
    # (make part5-eval draws a variant's from its checkpoint).
    return [sys.executable, "-m", "parts.part5", "--model", "improved", "--ablation", variant,
            *(["--report", report] if report else ["--recipe", recipe]),
            "--out", str(out / variant), "--no-figures", *([] if force else ["--resume"]),
            *(["--data", data] if data else [])]


def write_ablation_report(out: Path) -> Path:
    """ablation.md and ablation_curves.png from the variants' saved runs in ``out``."""
    records = read_ablation(out)
    rows = ablation_rows(records)
    table = markdown_table(rows, ["variant", "removes", "parameters", "validation_accuracy", "test_accuracy",
                                  "epochs", "train_seconds", "status"],
                           {"parameters": ",d", "validation_accuracy": ".4f", "test_accuracy": ".4f",
                            "train_seconds": ".0f"},
                           {"validation_accuracy": "validation accuracy", "test_accuracy": "test accuracy",
                            "train_seconds": "training (s)"})
    split = "val" if all("val_acc" in r["history"][0] for r in records.values() if r["history"]) else "test"
    curves = {f"{v} ({ABLATION_CHANGES[v]})": r["history"] for v, r in records.items() if r["history"]}
    save_figure(plot_overlaid_curves(curves, "ImprovedCNN without one of its changes at a time", split=split),
                out / "ablation_curves.png")
    recipe = next(iter(records.values()))["recipe"] if records else "-"
    atomic_write_text(out / "ablation.md", f"# ImprovedCNN, one change removed at a time (recipe {recipe})\n\n"
                                           f"{table}\n\n![ablation_curves](ablation_curves.png)\n")
    return out / "ablation.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.ablation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=["auto", "tuned", "quick"], default="auto",
                        help="Part 5's recipe for every variant (default: auto = tuned on a GPU, quick on a CPU)")
    parser.add_argument("--report", metavar="ID", default=None,
                        help="a report's Part 5 recipe instead (student_reports/ID.toml)")
    parser.add_argument("--out", default=str(REPORTS_DIR / "part5" / ABLATION), help="(default: %(default)s)")
    parser.add_argument("--variants", nargs="+", choices=list(ABLATIONS), default=list(ABLATIONS))
    parser.add_argument("--data", metavar="PATH", help="CIFAR-10 source (else the usual search)")
    parser.add_argument("--force", action="store_true", help="train every variant again, even a complete one")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    start = time.perf_counter()
    with ReportFolder(out):
        for i, variant in enumerate(args.variants, 1):
            command = variant_command(variant, args.recipe, out, args.data, args.force, args.report)
            log.info("[%d/%d] ImprovedCNN, %s (%s)", i, len(args.variants), variant, ABLATION_CHANGES[variant])
            code = subprocess.call(command, cwd=PROJECT_ROOT)
            if code != 0:
                log.error("the %s variant ended with exit code %d; run make ablation again to continue", variant, code)
                return code if code == EXIT_INTERRUPTED else 1
        path = write_ablation_report(out)
    log.info("wrote %s in %.1f min", path, (time.perf_counter() - start) / 60)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
