"""A student's report as data: one TOML file in student_reports/, read and checked here.

student_reports/README.md describes the format and the claim vocabulary with examples. In short:

    title = "report 000"                     # optional; default "report <id>" (the id is the file name)
    source = "000_b7fd169c07acdae2.txt"      # where the report's text is
    [part1]
    notes = ["1.6: its loss adds 1e-8 inside log(p) ..."]   # assumptions and differences, by section
    scoring = "threshold"                    # optional: how it made its figures' predictions (default argmax)
    [part1.recipe]                           # the report's recipe: overrides of the part's REPORT_BASE
    epochs = 1000
    [part1.variants.exact-gradient]          # a run beside the recipe's, with the settings it changes
    why = "the cross-entropy gradient p - y, beside the one the report's code trained with"
    output_gradient = "cross_entropy"
    [[part1.figures]]                        # every number the report states
    section = "1.9"
    metric = "accuracy"
    value = 0.9
    [[part1.claims]]                         # what it concludes, in the vocabulary of claims.py
    kind = "beats"
    ...

``load_report`` returns a ``Report``; anything wrong stops with one ``UserError`` line naming the
file, the key path (and the line, where the TOML parser gives one) and the fix. The claims' kinds,
their fields and how each is judged are in common/report/claims.py: a new kind is added there only.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.catalog import PARTS
from common.errors import UserError
from common.metrics import SCORINGS
from common.paths import REPORT_FILES_DIR
from common.report.claims import KINDS, Claim, check_fields, figure_words

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
RESERVED_IDS = frozenset({"variants", "eda"})  # folders of reports/ that are not a report's
TOP_KEYS = {"title": str, "source": str, "about": str}
PART_KEYS = ("recipe", "notes", "scoring", "variants", "figures", "claims")
COMMON_CLAIM_KEYS = {"section": str, "says": str, "note": str, "garbled": bool, "not_compared": str}
DOCS = "student_reports/README.md"


@dataclass(frozen=True)
class ReportPart:
    """One part of a report: its recipe (overrides of the part's REPORT_BASE), the notes on it, and its
    figures and claims (figures first, each a claim of kind "figure")."""

    recipe: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    claims: tuple[Claim, ...] = ()
    # name -> {"why": ..., setting: value, ...}: runs of the recipe with those settings changed, which
    # make reproduce runs too (a second seed, the exact gradient); a part runs one with --variant NAME.
    variants: dict[str, dict] = field(default_factory=dict)

    def variant_settings(self, name: str) -> dict:
        """The settings variant ``name`` changes (its ``why`` left out)."""
        return {key: value for key, value in self.variants[name].items() if key != "why"}


@dataclass(frozen=True)
class Report:
    id: str  # the file's name without .toml: "000"; its runs go to reports/<id>/partN/
    title: str  # "report 000": how pages and tables name it
    path: Path
    source: str = ""
    about: str = ""
    parts: dict[str, ReportPart] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """The file as error messages name it: student_reports/000.toml, or the path given."""
        return _shown(self.path)

    @property
    def recipe(self) -> str:
        """The recipe name its runs record: "report 000"."""
        return recipe_name(self.id)

    @property
    def claims(self) -> list[Claim]:
        return [claim for part in self.parts.values() for claim in part.claims]

    def headline(self, part: str) -> Claim | None:
        """The figure the report gives as the part's result (``headline = true``), if any."""
        return next((c for c in self.parts.get(part, ReportPart()).claims if c.headline), None)


def recipe_name(report_id: str) -> str:
    """The recipe name a report's runs record: "report 000"."""
    return f"report {report_id}"


def report_id_of(recipe: str) -> str | None:
    """"000" for the recipe name "report 000"; None for this suite's recipes."""
    return recipe.removeprefix("report ") if isinstance(recipe, str) and recipe.startswith("report ") else None


def report_path(report: str | Path) -> Path:
    """student_reports/<id>.toml for an id; a path as given."""
    text = str(report)
    if text.endswith(".toml") or "/" in text:
        return Path(text)
    return REPORT_FILES_DIR / f"{text}.toml"


def available_reports(folder: Path = REPORT_FILES_DIR) -> list[str]:
    """The ids of the report files in ``folder``, sorted."""
    return sorted(p.stem for p in Path(folder).glob("*.toml"))


def load_report(report: str | Path) -> Report:
    """The report file for an id ("000") or a path, read and checked (UserError on anything wrong)."""
    path = report_path(report)
    shown = _shown(path)
    if not path.is_file():
        known = ", ".join(available_reports(path.parent)) or "none"
        raise UserError(f"{shown}: no such report file; the reports in {_shown(path.parent)}/ are: {known} "
                        f"(a new report is a new file there; {DOCS} says what goes in it)")
    report_id = path.stem
    if not ID_PATTERN.match(report_id) or report_id in RESERVED_IDS or report_id in PARTS:
        raise UserError(f"{shown}: {report_id!r} cannot name a report (its runs go to reports/{report_id}/); rename "
                        f"the file to letters, digits, '-' or '_', not a part's name nor {sorted(RESERVED_IDS)}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{shown}: not valid TOML: {error}; fix that line (TOML's syntax: https://toml.io)") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{shown}: not UTF-8 text ({error}); save the file as UTF-8") from None

    def fail(key: str, problem: str) -> UserError:
        return UserError(f"{shown}: {key}: {problem}")

    for key, value in data.items():
        if key in TOP_KEYS:
            if not isinstance(value, TOP_KEYS[key]):
                raise fail(key, f"expected a string, got {_type(value)}")
        elif key not in PARTS:
            raise fail(key, f"unknown key; a report file holds {', '.join(TOP_KEYS)} and one table per part "
                            f"({', '.join(PARTS)})")
        elif not isinstance(value, dict):
            raise fail(key, f"expected a table [{key}], got {_type(value)}")
    parts = {part: _read_part(part, data[part], fail) for part in PARTS if part in data}
    report = Report(id=report_id, title=data.get("title", recipe_name(report_id)), path=path,
                    source=data.get("source", ""), about=data.get("about", ""), parts=parts)
    _check_headlines(report, fail)
    return report


def _read_part(part: str, table: dict, fail) -> ReportPart:
    for key in table:
        if key not in PART_KEYS:
            raise fail(f"{part}.{key}", f"unknown key; a part's table holds {', '.join(PART_KEYS)}")
    recipe = table.get("recipe", {})
    if not isinstance(recipe, dict):
        raise fail(f"{part}.recipe", f"expected a table [{part}.recipe] of settings, got {_type(recipe)}")
    notes = table.get("notes", [])
    if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
        raise fail(f"{part}.notes", "expected a list of strings, e.g. notes = [\"1.6: ...\"]")
    scoring = table.get("scoring", "argmax")
    if not isinstance(scoring, str) or scoring not in SCORINGS:
        raise fail(f"{part}.scoring", f"unknown scoring {scoring!r}; use one of: "
                                      f"{'; '.join(f'{k} ({v})' for k, v in SCORINGS.items())}")
    variants = table.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(v, dict) for v in variants.values()):
        raise fail(f"{part}.variants", f"expected tables [{part}.variants.<name>], each with why = \"...\" and the "
                                       f"settings it changes")
    for name, variant in variants.items():
        if not ID_PATTERN.match(name):
            raise fail(f"{part}.variants.{name}", "a variant's name is letters, digits, '-' or '_'")
        if not isinstance(variant.get("why"), str) or not variant["why"]:
            raise fail(f"{part}.variants.{name}.why", "missing; say why this run is made beside the recipe's")
        if len(variant) < 2:
            raise fail(f"{part}.variants.{name}", "changes no setting; give the settings it changes beside why")
    claims = []
    for list_key in ("figures", "claims"):
        entries = table.get(list_key, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise fail(f"{part}.{list_key}", f"expected an array of tables, [[{part}.{list_key}]]")
        for i, entry in enumerate(entries):
            claim = _read_claim(part, f"{part}.{list_key}[{i}]", entry, list_key == "figures", fail)
            claims.append(replace(claim, scoring=scoring) if list_key == "figures" else claim)
    return ReportPart(recipe=recipe, notes=tuple(notes), claims=tuple(claims), variants=variants)


def _read_claim(part: str, where: str, entry: dict, is_figure: bool, fail) -> Claim:
    entry = dict(entry)
    if is_figure:
        if "kind" in entry and entry["kind"] != "figure":
            raise fail(f"{where}.kind", f"a figure is of kind 'figure'; move a {entry['kind']!r} claim to "
                                        f"[[{part}.claims]]")
        entry["kind"] = "figure"
        entry.setdefault("run", part)
    kind = entry.pop("kind", None)
    if kind is None:
        raise fail(f"{where}.kind", f"missing; name the claim's kind, one of: {', '.join(KINDS)} ({DOCS})")
    if kind not in KINDS:
        raise fail(f"{where}.kind", f"unknown claim kind {kind!r}; use one of: {', '.join(KINDS)} ({DOCS} "
                                    f"describes each)")
    headline = entry.pop("headline", False)
    if not isinstance(headline, bool):
        raise fail(f"{where}.headline", f"expected true or false, got {_type(headline)}")
    if headline and kind != "figure":
        raise fail(f"{where}.headline", "only a figure can be a part's headline")
    common = {}
    for key, kind_of in COMMON_CLAIM_KEYS.items():
        if key in entry:
            value = entry.pop(key)
            if not isinstance(value, kind_of):
                hint = f'; write it as a string: {key} = "{value}"' if key == "section" else ""
                raise fail(f"{where}.{key}", f"expected {'true or false' if kind_of is bool else 'a string'}, got "
                                             f"{_type(value)}{hint}")
            common[key] = value
    if "section" not in common:
        raise fail(f"{where}.section", 'missing; give the report\'s section number, e.g. section = "1.9"')
    fields_ = check_fields(kind, entry, lambda key, problem: fail(f"{where}.{key}", problem), part)
    says = common.get("says") or (figure_words(fields_) if kind == "figure" else "")
    if not says:
        raise fail(f"{where}.says", "missing; quote or paraphrase what the report says, e.g. says = \"momentum "
                                    "beats plain gradient descent\"")
    return Claim(part=part, kind=kind, says=says, section=common["section"], fields=fields_, where=where,
                 garbled=common.get("garbled", False), not_compared=common.get("not_compared", ""),
                 note=common.get("note", ""), headline=headline)


def _check_headlines(report: Report, fail) -> None:
    for part, section in report.parts.items():
        heads = [c for c in section.claims if c.headline]
        if len(heads) > 1:
            raise fail(heads[1].where + ".headline", f"{part} has a headline already ({heads[0].where}); keep one")


def _type(value) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "a table"}.get(type(value), type(value).__name__)


def _shown(path: Path) -> str:
    """``path`` relative to the project when inside it (as a grader types it), else as given."""
    try:
        return str(Path(path).resolve().relative_to(REPORT_FILES_DIR.parent))
    except ValueError:
        return str(path)
