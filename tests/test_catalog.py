"""The catalog is read from the parts' own files: a new part is a new file in parts/, and it runs, reports
and shows on the index page without a line changed in common/."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from common import catalog
from common.paths import PROJECT_ROOT

TOY_PART = '''"""A toy part for the test: Part 1's pipeline on a second recipe."""
import sys

from common.cli import config_from_args, mlp_part_parser, run_main, run_options
from common.experiments.mlp import MLPConfig, run_mlp_part
from common.report.drawing import finish_run

PART = "part9"
CATALOG = {
    "title": "Part 9: a toy part",
    "summary": "one neuron again, to show that a part is one file",
    "figures": ["run", ["weights.png", "The neuron's weights."]],
}
RECIPES = {"tuned": MLPConfig(task="binary", hidden=(), epochs=2, patience=0, val_size=60, batch_size=32)}


def build_parser():
    return mlp_part_parser(PART, __doc__, RECIPES, binary=True)


def main(args) -> int:
    run = run_options(args, PART, recipe_config=RECIPES[args.recipe])
    return finish_run(PART, run, run_mlp_part(PART, config_from_args(args, RECIPES[args.recipe]), run))


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
'''


def test_every_part_file_declares_its_entry():
    assert list(catalog.PARTS) == [p.stem for p in sorted((PROJECT_ROOT / "parts").glob("part*.py"))]
    part1 = catalog.PARTS["part1"]
    assert part1.title == "Part 1: a single logistic neuron" and ("roc_pr.png" in dict(part1.figures))
    assert "improved/loss_curve.png" in dict(catalog.PARTS["part5"].figures)


def test_a_part_file_without_a_declaration_is_named(tmp_path):
    (tmp_path / "part7.py").write_text('"""no catalog here"""\nPART = "part7"\n')
    with pytest.raises(ValueError, match="part7.py declares no CATALOG"):
        catalog.discover(tmp_path)


def test_make_help_reads_the_catalog_on_a_bare_python():
    result = subprocess.run([sys.executable, "-S", "-m", "common.catalog"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True)  # -S: no site-packages, as before set-up
    assert result.returncode == 0, result.stderr
    assert "make part1" in result.stdout and "make part5" in result.stdout


def test_a_new_part_is_one_file(tmp_path, monkeypatch, learnable_folder):
    path = tmp_path / "part9.py"
    path.write_text(TOY_PART)
    monkeypatch.setitem(catalog.PARTS, "part9", catalog.part_info(path))  # what discover() finds in parts/
    spec = importlib.util.spec_from_file_location("parts.part9", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reports = tmp_path / "reports"
    args = module.build_parser().parse_args(["--data", str(learnable_folder), "--out", str(reports / "part9"),
                                             "--no-progress"])
    assert module.main(args) == 0
    record = json.loads((reports / "part9" / "metrics.json").read_text())
    assert record["title"] == "Part 9: a toy part" and record["recipe_changes"] == {}
    assert (reports / "part9" / "analysis.md").is_file()
    from scripts import build_report
    assert build_report.main(build_report.build_parser().parse_args(["--reports", str(reports)])) == 0
    index = (reports / "index.md").read_text()
    assert "## Part 9: a toy part" in index and "part9/loss_curve.png" in index
