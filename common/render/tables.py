"""Markdown and CSV tables for the reports."""
from __future__ import annotations

import math


def markdown_table(rows: list[dict], columns: list[str], formats: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None, right: tuple[str, ...] = ()) -> str:
    """Rows of dicts as a markdown table; ``formats`` maps a column to a format spec for its numbers,
    ``headers`` a column to the heading shown (default: the column's name). Columns with a format,
    and those in ``right``, are right-aligned. None and nan read "-", True and False "yes" and "no"."""
    formats, headers = formats or {}, headers or {}
    lines = ["| " + " | ".join(headers.get(c, c) for c in columns) + " |",
             "|" + "|".join("---:" if c in formats or c in right else "---" for c in columns) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")  # not measured (a diverged run's accuracy is nan)
            elif isinstance(value, bool):
                cells.append("yes" if value else "no")
            elif column in formats and isinstance(value, (int, float)):  # bools were taken above
                cells.append(format(value, formats[column]))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def per_class_table(per_class: dict) -> str:
    """Markdown table of per-class precision, recall, F1 and support."""
    rows = [{"class": name, **values} for name, values in per_class.items()]
    return markdown_table(rows, ["class", "precision", "recall", "f1", "support"],
                          {"precision": ".4f", "recall": ".4f", "f1": ".4f", "support": "d"},
                          {"recall": "recall (accuracy)", "f1": "F1"})


def csv_text(rows: list[dict], columns: list[str]) -> str:
    """Rows of dicts as CSV text (values are plain numbers and names: no quoting needed)."""
    lines = [",".join(columns)]
    lines += [",".join(str(row.get(c, "")) for c in columns) for row in rows]
    return "\n".join(lines) + "\n"
