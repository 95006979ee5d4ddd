"""`make report`: one page of results, reports/index.md and reports/index.html, built from the
saved metrics.json and figures of every part that has run. Nothing is retrained, and no number
is typed in: each comes from a run's metrics.json (the seed figures are the original
assignment's published results, shown for comparison).
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path

from common.cli import log, run_main
from common.errors import UserError
from common.report import atomic_write_text, now_iso

# What the original assignment (seed 000) reported, to compare against.
SEED_RESULTS = {"part1": 0.913, "part2": 0.9203, "part3": 0.4254, "part4": 0.4335, "part5": 0.8680}
PARTS = {
    "part1": ("Part 1: a single logistic neuron",
              "One sigmoid neuron on the 3072 standardized pixels decides airplane vs the rest (10 % airplanes), "
              "trained in numpy with binary cross-entropy and mini-batch SGD. Validation picks the epoch and the "
              "decision threshold; the majority-class baseline shows what 'accuracy' is worth on a 90/10 task."),
    "part2": ("Part 2: one hidden layer",
              "A 3072-64-1 network with 64 sigmoid hidden units on the same airplane-vs-rest task, with "
              "hand-written backpropagation in numpy."),
    "part3": ("Part 3: multiclass softmax network",
              "A 3072-64-10 network (sigmoid hidden layer, softmax output) over all ten classes, numpy from "
              "scratch, with softmax and cross-entropy fused into the gradient p - y."),
    "part4": ("Part 4: activations, optimizers, initializations",
              "Every combination of sigmoid/ReLU/tanh, SGD/Momentum/Adam and small-random/He/Xavier "
              "initialization on the Part 3 network, each optimizer with a learning rate swept on validation; "
              "the top three are rerun over seeds."),
    "part5": ("Part 5: convolutional networks",
              "SimpleCNN and ImprovedCNN (three blocks of two 3x3 conv + BatchNorm + ReLU, 64/128/256 filters, "
              "FC 4096-512 with BatchNorm and Dropout 0.5) in PyTorch, compared with the MLPs."),
}
FIGURES = {
    "part1": ["confusion_matrix.png", "loss_curve.png"],
    "part2": ["confusion_matrix.png", "loss_curve.png"],
    "part3": ["confusion_matrix.png", "loss_curve.png"],
    "part4": ["curves_by_optimizer.png", "curves_by_activation.png", "curves_by_init.png", "confusion_matrix.png",
              "loss_curve.png"],
    "part5": ["confusion_matrix.png", "loss_curve.png", "improved/per_class_accuracy.png",
              "simple/confusion_matrix.png", "simple/loss_curve.png"],
}
HEADLINE_KEYS = ["accuracy", "balanced_accuracy", "roc_auc", "macro_f1", "f1_airplane", "f1_rest", "threshold"]


def load_runs(reports: Path) -> dict[str, dict | None]:
    runs = {}
    for part in PARTS:
        path = reports / part / "metrics.json"
        try:
            runs[part] = json.loads(path.read_text()) if path.is_file() else None
        except json.JSONDecodeError:
            log.warning("%s is not valid JSON; the part is shown as not run", path)
            runs[part] = None
    return runs


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def load_variants(reports: Path) -> dict[str, dict]:
    """Extra runs saved beside a part's folder, e.g. reports/part5-best-cpu/ (``--out`` elsewhere)."""
    variants = {}
    for path in sorted(reports.glob("part[1-5]-*/metrics.json")):
        try:
            variants[path.parent.name] = json.loads(path.read_text())
        except json.JSONDecodeError:
            log.warning("%s is not valid JSON; skipped", path)
    return variants


def results_rows(runs: dict, variants: dict | None = None) -> list[dict]:
    rows = []
    for part, (title, _) in PARTS.items():
        m = runs[part]
        row = {"part": part, "what": title.split(": ", 1)[1], "seed_000": SEED_RESULTS[part]}
        if m is None:
            rows.append({**row, "status": "not run", "measured": None})
        else:
            rows.append(_measured_row(row, m))
        for name, variant in (variants or {}).items():
            if name.split("-", 1)[0] == part:
                rows.append(_measured_row({**row, "part": name}, variant))
    return rows


def _measured_row(row: dict, m: dict) -> dict:
    return {**row, "status": m.get("status", "complete"), "measured": m["test"]["accuracy"],
                     "baseline": m.get("baseline", {}).get("majority_accuracy"),
                     "seconds": m.get("timing", {}).get("total_seconds"),
                     "device": _device_label(m.get("environment", {})),
                     "note": (m.get("headline_model") and f"{m['headline_model']}, {m.get('profile')} profile") or
                             (m.get("winner") and
                                                         f"{m['winner']['activation']} + {m['winner']['optimizer']} + "
                                                         f"{m['winner']['init']}") or ""}


def results_markdown(rows: list[dict]) -> str:
    lines = ["| part | what | seed 000 test accuracy | this run's test accuracy | majority baseline | time (s) | "
             "device | status |", "|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        measured = _fmt(r.get("measured")) + (f" ({r['note']})" if r.get("note") else "")
        lines.append(f"| {r['part']} | {r['what']} | {r['seed_000']:.4f} | {measured} | {_fmt(r.get('baseline'))} | "
                     f"{_fmt(r.get('seconds'), 0)} | {r.get('device') or '-'} | {r['status']} |")
    return "\n".join(lines)


def part_facts(m: dict) -> list[tuple[str, str]]:
    test = m.get("test", {})
    facts = [(f"test {k}", _fmt(test[k])) for k in HEADLINE_KEYS if k in test]
    if "baseline" in m:
        facts.append(("majority-class baseline (test)", _fmt(m["baseline"].get("majority_accuracy"))))
    if "models" in m:
        for name, model in m["models"].items():
            facts.append((f"{name} test accuracy", f"{_fmt(model['test_accuracy'])} ({model['epochs_run']} epochs, "
                                                   f"{model['train_images_per_second']:,.0f} img/s)"))
    env = m.get("environment", {})
    facts += [("status", m.get("status", "complete") + (f": {m['status_note']}" if m.get("status_note") else "")),
              ("best epoch", _fmt(m.get("best_epoch"))),
              ("training time", f"{_fmt(m.get('timing', {}).get('train_seconds'), 1)} s"),
              ("total time", f"{_fmt(m.get('timing', {}).get('total_seconds'), 1)} s"),
              ("device", f"{env.get('device', '-')}" + (f" ({env['device_name']})" if env.get("device_name") else "")),
              ("profile", m.get("profile", "-")), ("seed", _fmt(m.get("seed"))),
              ("git commit", str(m.get("git_commit"))), ("run date", str(m.get("created"))),
              ("data", str(m.get("data_source")))]
    return [f for f in facts if f[1] != "-" or f[0] in ("best epoch",)]


def part5_run_rows(reports: Path) -> list[dict]:
    """One row per trained CNN in reports/part5/ and its variants (reports/part5-*/): the recipe
    that differs between runs, validation accuracy (what recipes are chosen on) and test accuracy."""
    rows = []
    for folder in [reports / "part5", *sorted(reports.glob("part5-*"))]:
        paths = [folder / m / "metrics.json" for m in ("simple", "improved")] + [folder / "metrics.json"]
        for path in paths:
            try:
                m = json.loads(path.read_text()) if path.is_file() else None
            except json.JSONDecodeError:
                m = None
            if not m or "model" not in m:  # a part-level summary, not one model's run
                continue
            c, v = m.get("config", {}), m.get("validation", {})
            rows.append({"run": str(path.parent.relative_to(reports)), "model": m["model"],
                         "profile": m.get("profile"), "epochs": m.get("epochs_run"),
                         "recipe": f"{c.get('optimizer')} lr {c.get('lr'):g}, batch {c.get('batch_size')}, "
                                   f"{c.get('schedule')}, label smoothing {c.get('label_smoothing'):g}, "
                                   f"{'crop+flip' if c.get('augment') else 'no aug'}, cutout {c.get('cutout', 0)}"
                         if c.get("lr") is not None else "-",
                         "tta": "yes" if v.get("tta", c.get("tta")) else "no",
                         "val_acc": v.get("accuracy", v.get("best_accuracy")),
                         "test_acc": m.get("test", {}).get("accuracy"),
                         "train_s": m.get("timing", {}).get("train_seconds"),
                         "img_s": m.get("throughput", {}).get("train_images_per_second"),
                         "device": _device_label(m.get("environment", {})), "status": m.get("status")})
    return rows


def _device_label(environment: dict) -> str | None:
    """'cuda (NVIDIA H100 80GB HBM3)' where the run recorded the accelerator's name, else 'cpu' etc."""
    device, name = environment.get("device"), environment.get("device_name")
    return f"{device} ({name})" if device and name and device != "cpu" else device


def part5_runs_markdown(reports: Path) -> str:
    rows = part5_run_rows(reports)
    if not rows:
        return ""
    lines = ["| run | model | profile | epochs | recipe | TTA | validation accuracy | test accuracy | "
             "training (s) | images/s | device | status |", "|---|---|---|---:|---|---|---:|---:|---:|---:|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['model']} | {r['profile'] or '-'} | {_fmt(r['epochs'])} | {r['recipe']} | "
                     f"{r['tta']} | {_fmt(r['val_acc'])} | {_fmt(r['test_acc'])} | {_fmt(r['train_s'], 0)} | "
                     f"{_fmt(r['img_s'], 0)} | {r['device'] or '-'} | {r['status']} |")
    return "\n".join(lines)


PART5_RUNS_TITLE = "Part 5 runs: recipes are compared on validation accuracy"


def timings_markdown(reports: Path) -> str:
    """`make all`'s measured wall times and `make bench`'s table, when those have run."""
    lines = []
    run_all = reports / "run_all.json"
    if run_all.is_file():
        r = json.loads(run_all.read_text())
        steps = ", ".join(f"{s['step']} {s['seconds'] / 60:.1f} min" for s in r["steps"])
        lines.append(f"`make all{' ARGS=--quick' if r.get('quick') else ''}` on {r['device']}: "
                     f"{r['total_seconds'] / 60:.1f} min in all ({steps}; {r['created']}).")
    for bench in [reports / "bench.md", *sorted(reports.glob("bench-*/bench.md"))]:
        if bench.is_file():
            if bench.parent != reports:  # a benchmark saved from another machine with --out
                lines += ["", f"`make bench ARGS=\"--out reports/{bench.parent.name}\"`, on another machine:"]
            lines += ["", bench.read_text().split("\n", 2)[2].strip()]  # the table without its title
    return "\n".join(lines)


def build_markdown(runs: dict, reports: Path) -> str:
    lines = ["# CIFAR-10 course suite: results", "", f"Built {now_iso()} from the saved runs in this folder.", "",
             "## Results", "", results_markdown(results_rows(runs, load_variants(reports))), "",
             timings_markdown(reports), ""]
    for part, (title, blurb) in PARTS.items():
        m = runs[part]
        lines += [f"## {title}", "", blurb, ""]
        if m is None:
            lines += [f"_Not run yet: `make {part}`._", ""]
            continue
        lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in part_facts(m)] + [""]
        for key, table in m.get("extra_tables", {}).items():
            lines += [f"### {key}", "", table, ""]
        if part == "part5" and part5_runs_markdown(reports):
            lines += [f"### {PART5_RUNS_TITLE}", "", part5_runs_markdown(reports), ""]
        for figure in FIGURES[part]:
            if (reports / part / figure).is_file():
                lines += [f"![{part} {figure}]({part}/{figure})", ""]
        lines += ["<details><summary>config</summary>", "", "```json", json.dumps(m.get("config", {}), indent=2),
                  "```", "</details>", ""]
    return "\n".join(lines)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d1d1f;line-height:1.45}
h1{border-bottom:2px solid #4c72b0;padding-bottom:.3em}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.35em .6em;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}th{background:#f0f3f8}
img{max-width:100%;border:1px solid #eee;margin:.5em 0}.status-incomplete,.status-diverged{color:#b00020;
font-weight:600}.status-not-run{color:#888}.figs{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));
gap:1em}figure{margin:0}figure.wide{grid-column:1/-1}pre{background:#f6f8fa;padding:1em;overflow:auto;font-size:.85em}.muted{color:#666}
"""


def _md_table_to_html(table: str) -> str:
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines() if line.strip()]
    if len(rows) < 2:
        return f"<pre>{html.escape(table)}</pre>"
    head, body = rows[0], rows[2:]
    out = ["<table><thead><tr>"] + [f"<th>{html.escape(c.strip())}</th>" for c in head] + ["</tr></thead><tbody>"]
    for row in body:
        out.append("<tr>")
        for cell in row:
            text = cell.strip()
            numeric = text.replace(".", "", 1).replace(",", "").replace("-", "", 1).isdigit()
            cls = ' class="num"' if numeric else ""
            out.append(f"<td{cls}>{html.escape(text)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def build_html(runs: dict, reports: Path) -> str:
    rows = results_rows(runs, load_variants(reports))
    parts_html = []
    for part, (title, blurb) in PARTS.items():
        m = runs[part]
        section = [f'<section id="{part}"><h2>{html.escape(title)}</h2><p>{html.escape(blurb)}</p>']
        if m is None:
            section.append(f'<p class="status-not-run">Not run yet: <code>make {part}</code>.</p></section>')
            parts_html.append("".join(section))
            continue
        status = m.get("status", "complete")
        if status != "complete":
            section.append(f'<p class="status-{status}">Status: {html.escape(status)}. '
                           f'{html.escape(m.get("status_note", ""))}</p>')
        section.append("<table><tbody>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                                                  for k, v in part_facts(m)) + "</tbody></table>")
        for key, table in m.get("extra_tables", {}).items():
            section.append(f"<h3>{html.escape(key)}</h3>{_md_table_to_html(table)}")
        if part == "part5" and part5_runs_markdown(reports):
            section.append(f"<h3>{html.escape(PART5_RUNS_TITLE)}</h3>{_md_table_to_html(part5_runs_markdown(reports))}")
        figures = [f for f in FIGURES[part] if (reports / part / f).is_file()]
        if figures:
            # Curves are wide (two panels): give them the full width so their labels stay legible.
            section.append('<div class="figs">' + "".join(
                f'<figure class="{"wide" if "curve" in f else "square"}"><img src="{html.escape(part)}/'
                f'{html.escape(f)}" alt="{html.escape(part)} {html.escape(f)}" loading="lazy"></figure>'
                for f in figures) + "</div>")
        config = html.escape(json.dumps(m.get("config", {}), indent=2))
        section.append(f"<details><summary>config</summary><pre>{config}</pre></details>")
        section.append("</section>")
        parts_html.append("".join(section))
    nav = " · ".join(f'<a href="#{p}">{p}</a>' for p in PARTS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>CIFAR-10 course suite: results</title><style>{CSS}</style></head><body>"
            f"<h1>CIFAR-10 course suite: results</h1><p class=\"muted\">Built {html.escape(now_iso())} from the "
            f"saved runs in this folder. {nav}</p><h2>Results</h2>{_md_table_to_html(results_markdown(rows))}"
            + _timings_html(reports)
            + "".join(parts_html) + "</body></html>\n")


def _timings_html(reports: Path) -> str:
    parts = []
    for block in timings_markdown(reports).split("\n\n"):
        if block.strip().startswith("|"):
            parts.append(_md_table_to_html(block))
        elif block.strip():
            text = html.escape(block.strip())
            while text.count("`") >= 2:  # `code` spans of the markdown
                text = text.replace("`", "<code>", 1).replace("`", "</code>", 1)
            parts.append(f"<p>{text}</p>")
    return "".join(parts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.build_report", description=__doc__)
    parser.add_argument("--reports", default="reports", help="the reports folder (default: %(default)s)")
    parser.add_argument("--update-readme", metavar="README", default=None,
                        help="also rewrite the results table between the markers in this README")
    parser.add_argument("--debug", action="store_true")
    return parser


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def update_readme(readme: Path, runs: dict, variants: dict | None = None,
                  readme_reports: Path = Path("reports")) -> None:
    """Replace the block between the README's result markers with the table of the saved runs."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise UserError(f"{readme} has no {README_START} ... {README_END} block to update.")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    commits = sorted({str(m.get("git_commit")) for m in [*runs.values(), *(variants or {}).values()] if m})
    table = results_markdown(results_rows(runs, variants))
    runs_table = part5_runs_markdown(readme_reports)
    if runs_table:
        table += f"\n\n{PART5_RUNS_TITLE}:\n\n{runs_table}"
    block = (f"{README_START}\n{table}\n\n{timings_markdown(readme_reports)}\n\nGenerated by `make report` from "
             f"the saved runs (commit {', '.join(commits) or '-'}).\n{README_END}")
    atomic_write_text(readme, head + block + tail)


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    runs = load_runs(reports)
    atomic_write_text(reports / "index.md", build_markdown(runs, reports))
    atomic_write_text(reports / "index.html", build_html(runs, reports))
    if args.update_readme:
        update_readme(Path(args.update_readme), runs, load_variants(reports), reports)
    ran = [p for p, m in runs.items() if m is not None]
    log.info("wrote %s and %s (%d of %d parts have run: %s) in %.2f s", reports / "index.md", reports / "index.html",
             len(ran), len(runs), ", ".join(ran) or "none", time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
