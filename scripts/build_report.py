"""`make report`: one page of results, reports/index.md and reports/index.html, built from the saved
runs. Nothing is retrained and no number is typed in: each comes from a run's metrics.json (a
report's own figures from its file in student_reports/).

index.md is the page; index.html is the same markdown rendered by Python-Markdown into a Jinja2
template (scripts/templates/report.html). ``--update-readme`` also rewrites the README's generated
blocks (the parts table and the results), and refuses results measured at a '-dirty' commit.
"""
from __future__ import annotations

import argparse
import html
import json
import sys
import time
from pathlib import Path

from common.catalog import EDA_FIGURES, PARTS
from common.cli import run_main
from common.console import log
from common.errors import UserError
from common.experiments.grid import combination_name
from common.experiments.record import changes_text, mixed_files, now_iso, read_record, vouches_for
from common.files import ReportFolder, atomic_write_text
from common.paths import REPORTS_DIR, recipe_folder
from common.render.tables import markdown_table
from common.report.analysis import (
    all_verdicts,
    index_analysis_markdown,
    read_ablation,
    read_parts,
    verdict_counts,
    verdicts_page,
    write_part_analysis,
)
from common.report.claims import ABLATION, RunBook, Unmeasured
from common.report.drawing import draw_run_safely
from common.report.report_file import Report, available_reports, report_id_of
from scripts.run_all import recipe_configs

TEMPLATE = Path(__file__).parent / "templates" / "report.html"
TITLE = "CIFAR-10 course suite: results"


# ----------------------------------------------------------------------------- reading the runs

def other_runs(reports: Path) -> dict[str, dict]:
    """{folder relative to ``reports``: record} of every part's run that is not in its recipe's own folder
    (reports/partN, reports/<id>/partN) or differs from its recipe: the variants (their records'
    ``recipe_changes``, not their folders' names, say so) and runs kept elsewhere with --out."""
    found = {}
    for depth in range(1, 5):
        for path in sorted(reports.glob("*/" * depth + "metrics.json")):
            folder = path.parent
            if folder.name in ("eda",) or (folder.parent / "metrics.json").is_file():
                continue  # a model's folder inside a part's run
            try:
                record = read_record(path)
            except UserError:
                continue
            if record.get("part") not in PARTS or isinstance(record.get("model"), str):
                continue  # not a part's record (a model's, written without its part's)
            home = recipe_folder(reports, report_id_of(record.get("recipe", ""))) / record["part"]
            if folder != home or record.get("recipe_changes"):
                found[str(folder.relative_to(reports))] = record
    return found


def _fmt(value, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec) if isinstance(value, (int, float)) else str(value)


def device_label(environment: dict) -> str:
    """'cuda (NVIDIA H100 80GB HBM3)' where the run recorded the accelerator's name, else 'cpu' etc."""
    device, name = environment["device"], environment.get("device_name")
    return f"{device} ({name})" if name and device != "cpu" else device


def headline_of(record: dict) -> str:
    """What a part's headline figure is: the model, the scenario or the grid's winner."""
    if "headline_model" in record:
        return record["headline_model"]
    if "headline" in record:
        h = record["headline"]
        return combination_name(h)
    return ""


# ----------------------------------------------------------------------------- tables

RESULT_COLUMNS = ["part", "tuned", "baseline", "seconds", "device"]
RESULT_HEADERS = {"tuned": "this suite's recipe", "baseline": "majority baseline", "seconds": "wall-clock time (s)"}


def results_rows(runs: dict, others: dict | None = None) -> list[dict]:
    """One row per part (this suite's recipe), then one per other run of the part (a variant, a GPU run)."""
    rows = []
    for part, info in PARTS.items():
        rows.append({"part": f"{part}: {info.title.split(': ', 1)[-1]}", **_measured(runs[part], part)})
        for name, record in (others or {}).items():
            if record["part"] == part and record["recipe"] in ("tuned", "quick"):  # this suite's recipes
                rows.append({"part": name, **_measured(record, part)})
    return rows


def _accuracy_cell(record: dict) -> str:
    changes = record.get("recipe_changes")
    cell = f"{record['test']['accuracy']:.4f}" + (f" ({headline_of(record)})" if headline_of(record) else "") + \
        ("" if record["status"] == "complete" else f", {record['status']}")
    if changes:  # a run of other settings than its recipe's: shown, and said to be so
        return cell + f" (a variant: changed {changes_text(changes)})"
    return cell


def _measured(record: dict | None, part: str) -> dict:
    if record is None:
        return {"tuned": f"not run (`make {part}`)"}
    recipe = "" if record["recipe"] == "tuned" else f", {record['recipe']} recipe"
    return {"tuned": _accuracy_cell(record) + recipe,
            "baseline": record.get("baseline", {}).get("majority_accuracy"),
            "seconds": record["timing"]["total_seconds"], "device": device_label(record["environment"])}


def results_markdown(rows: list[dict]) -> str:
    return markdown_table(rows, RESULT_COLUMNS, {"baseline": ".4f", "seconds": ".0f"}, RESULT_HEADERS,
                          right=("tuned",))


def report_rows(report: Report, reports: Path, others: dict | None = None) -> list[dict]:
    """A report's headline figure per part beside its rerun here (reports/<id>/partN), and the variants of
    its recipe."""
    book = RunBook.for_report(report, reports, recipe_configs(report))
    rows = []
    for part, info in PARTS.items():
        claim = report.headline(part)
        row = {"part": f"{part}: {info.title.split(': ', 1)[-1]}", "reported": "-", "rerun": "-"}
        if claim is not None:
            row["reported"] = claim.says
            view = book.view(claim.fields["run"])
            try:
                if view.why:
                    raise Unmeasured(view.why)
                row["rerun"] = f"{view.measure(claim.fields['metric'], claim.scoring):.4f}"
                if claim.scoring != "argmax":
                    row["rerun"] += f" ({claim.scoring} scoring, as the report's)"
                held_out = ((view.record or {}).get("config") or {}).get("test_from_train")
                if isinstance(held_out, int) and held_out:  # the report tested on its own split, not CIFAR-10's test
                    row["rerun"] += f" (tested on {held_out:,} images held out from the training set, as the report)"
            except Unmeasured as why:
                row["rerun"] = str(why).replace("not measured: ", "not run: " if "has not run" in str(why) else "")
            except Exception as error:  # one odd run never stops the page
                row["rerun"] = f"not measured ({type(error).__name__}: {error})"
        rows.append(row)
        for name, record in (others or {}).items():
            if record["part"] == part and record["recipe"] == report.recipe:
                rows.append({"part": name, "reported": "", "rerun": _accuracy_cell(record)})
    return rows


def report_results_markdown(report: Report, reports: Path, others: dict | None = None) -> str:
    return markdown_table(report_rows(report, reports, others), ["part", "reported", "rerun"],
                          headers={"reported": f"{report.title} reported", "rerun": "its recipe rerun here"},
                          right=("rerun",))


def mlp_vs_cnn_rows(reports: Path) -> list[dict]:
    """The numpy MLPs (Parts 3 and 4) beside the CNNs (Part 5), read from each run's metrics.json."""
    rows = []
    sources = [("Part 3 MLP (3072-64-10)", reports / "part3" / "metrics.json"),
               ("Part 4 best MLP", reports / "part4" / "metrics.json"),
               ("SimpleCNN", reports / "part5" / "simple" / "metrics.json"),
               ("ImprovedCNN", reports / "part5" / "improved" / "metrics.json")]
    for label, path in sources:
        if not path.is_file():
            rows.append({"model": label, "status": "not run"})
            continue
        m = read_record(path)
        train_seconds, epochs = m["timing"]["train_seconds"], m["epochs_run"]
        if "winner" in m:  # the winning configuration's own run, not the whole grid's
            winner = m["winner"]
            label = f"Part 4 best MLP ({combination_name(winner)})"
            train_seconds, epochs = winner["seconds"], winner["epochs_run"]
        rows.append({"model": label, "parameters": m["parameters"], "test_accuracy": m["test"]["accuracy"],
                     "epochs": epochs, "train_seconds": train_seconds,
                     "images_per_second": m["throughput"]["train_images_per_second"],
                     "device": device_label(m["environment"]), "recipe": m["recipe"], "status": m["status"]})
    return rows


def mlp_vs_cnn_markdown(reports: Path) -> str:
    return markdown_table(mlp_vs_cnn_rows(reports), ["model", "parameters", "test_accuracy", "epochs", "train_seconds",
                                                     "images_per_second", "device", "recipe", "status"],
                          {"parameters": ",d", "test_accuracy": ".4f", "train_seconds": ".0f",
                           "images_per_second": ",.0f"},
                          {"test_accuracy": "test accuracy", "train_seconds": "training (s)",
                           "images_per_second": "training images/s"})


def part5_run_rows(reports: Path, others: dict | None = None) -> list[dict]:
    """One row per trained CNN in reports/part5/ and its other runs (variants, --out elsewhere): the recipe,
    validation accuracy (what recipes are chosen on) and test accuracy."""
    rows = []
    extra = [reports / name for name, record in (others or {}).items() if record["part"] == "part5"]
    for folder in [reports / "part5", *extra]:
        for model in ("simple", "improved"):
            path = folder / model / "metrics.json"
            if not path.is_file():
                continue
            m = read_record(path)
            c = m["config"]
            rows.append({"run": str(path.parent.relative_to(reports)), "model": m["model"], "recipe": m["recipe"],
                         "epochs": m["epochs_run"],
                         "settings": f"{c['optimizer']} lr {c['lr']:g}, batch {c['batch_size']}, {c['schedule']}, "
                                     f"label smoothing {c['label_smoothing']:g}, "
                                     f"{'crop+flip' if c['augment'] else 'no aug'}, cutout {c['cutout']}, "
                                     f"TTA {'yes' if c['tta'] else 'no'}",
                         "val_acc": m.get("validation", {}).get("accuracy"), "test_acc": m["test"]["accuracy"],
                         "train_s": m["timing"]["train_seconds"], "img_s": m["throughput"]["train_images_per_second"],
                         "device": device_label(m["environment"]), "status": m["status"]})
    return rows


def part5_runs_markdown(reports: Path, others: dict | None = None) -> str:
    rows = part5_run_rows(reports, others)
    return markdown_table(rows, list(rows[0]), {"val_acc": ".4f", "test_acc": ".4f", "train_s": ".0f", "img_s": ",.0f"},
                          {"val_acc": "validation accuracy", "test_acc": "test accuracy", "train_s": "training (s)",
                           "img_s": "images/s"}) if rows else ""


def run_all_lines(reports: Path) -> list[str]:
    """How long `make all` and `make reproduce` took, step by step, when they have run."""
    lines = []
    for name in ["run_all.json", *(f"{report_id}/run_all.json" for report_id in available_reports())]:
        if (reports / name).is_file():
            r = json.loads((reports / name).read_text())
            steps = [s for s in r["steps"] if s["step"] != "report"]
            kept = any(s.get("kept") for s in steps)
            unfinished = " (did not finish: exit code {})"
            listed = ", ".join(f"{s['step']} {s.get('recorded_seconds', s['seconds']) / 60:.1f} min"
                               f"{' (an earlier complete run, kept)' if s.get('kept') else ''}"
                               f"{'' if s['exit_code'] == 0 else unfinished.format(s['exit_code'])}" for s in steps)
            not_run = f"; not run here: {', '.join(r['not_run'])} (needs a GPU)" if r.get("not_run") else ""
            lines += [f"`{r['command']}` on {r['device']}: {r['total_seconds'] / 60:.1f} min wall-clock, its runs side "
                      f"by side (each run's own time: {listed}{not_run}; commit {r['git_commit'][:12]})."
                      + (" Kept: a complete run of the same config on the same data, from earlier, with the time it "
                         "took then (not part of the wall-clock total)." if kept else ""), ""]
    return lines


def timings_markdown(reports: Path) -> str:
    """`make all`'s and `make reproduce`'s measured wall times and `make bench`'s table, when those have run."""
    lines = run_all_lines(reports)
    for bench in [reports / "bench.md", *sorted(reports.glob("bench-*/bench.md"))]:
        if bench.is_file():
            where = "" if bench.parent == reports else f" (`--out reports/{bench.parent.name}`)"
            lines += [f"`make bench`{where}:", "", bench.read_text().split("\n", 2)[2].strip(), ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the page

def figure_html(src: str, caption: str, wide: bool) -> str:
    """A figure that opens full size when clicked, with what to look for in it."""
    return (f'<figure class="{"wide" if wide else "square"}"><a href="{html.escape(src)}">'
            f'<img src="{html.escape(src)}" alt="{html.escape(caption)}" loading="lazy"></a>'
            f'<figcaption><b>{html.escape(Path(src).name)}</b>: {html.escape(caption)}</figcaption></figure>')


SQUARE_FIGURES = ("confusion_matrix.png", "per_class_accuracy.png")  # half the page width; the rest use all of it


def figures_block(part: str, folder: Path, href_prefix: str) -> list[str]:
    """The part's figures (the catalog's, in its order) with their captions; notes for skipped ones. A
    figure is shown only when the record of its folder lists it and it carries that record's run id:
    never a figure an earlier run left, nor one of a run stopped between its files."""
    shown, notes, records = [], [], {}
    for metrics_path in [folder / "metrics.json", *sorted(folder.glob("*/metrics.json"))]:
        if metrics_path.is_file():
            record = json.loads(metrics_path.read_text())
            records[metrics_path.parent] = record
            prefix = "" if metrics_path.parent == folder else f"{metrics_path.parent.name}/"
            notes += [f"- `{prefix}{name}` not drawn: {why}" for name, why in record.get("figures_skipped", {}).items()]
            notes += [f"- `{prefix}{name}` not shown: another run wrote it (one stopped between its files); rerun "
                      f"the part" for name in mixed_files(metrics_path.parent, record) if name.endswith(".png")]
    for name, caption in PARTS[part].figures:
        path = folder / name
        record = records.get(path.parent)
        if not path.is_file():
            continue
        if record is not None and not vouches_for(path.parent, record, path.name):
            continue  # an earlier run's figure, or one the record does not vouch for
        shown.append(figure_html(f"{href_prefix}/{name}", caption, not name.endswith(SQUARE_FIGURES)))
    lines = ['<div class="figs">', *shown, "</div>", ""] if shown else []
    return lines + (notes + [""] if notes else [])


def part_facts(m: dict) -> list[tuple[str, str]]:
    test = m["test"]
    headline = ("accuracy", "balanced_accuracy", "roc_auc", "macro_f1", "f1_airplane", "f1_rest", "threshold")
    facts = [(f"test {k.replace('_', ' ')}", _fmt(test[k])) for k in headline if k in test]
    if "baseline" in m:
        facts.append(("majority-class baseline (test)", _fmt(m["baseline"]["majority_accuracy"])))
    for name, model in m.get("models", {}).items():
        facts.append((f"{name} test accuracy", f"{model['test_accuracy']:.4f} ({model['epochs_run']} epochs, "
                                               f"{model['images_per_second']:,.0f} img/s)"))
    facts += [("recipe", m["recipe"] + (f" ({m['recipe_note']})" if m.get("recipe_note") else "")),
              ("parameters", f"{m['parameters']:,}"), ("epoch reported", f"{m['best_epoch']} of {m['epochs_run']}"),
              ("training, summed over its runs (they train side by side)" if "ranking" in m or "scenarios" in m
               else "training (the epochs' loop)", f"{m['timing']['train_seconds']:.1f} s"),
              ("the whole command (data, training, evaluation, files)", f"{m['timing']['total_seconds']:.1f} s"),
              ("device", device_label(m["environment"])), ("seed", str(m["seed"])),
              ("git commit", str(m["git_commit"])), ("written", m["created"]), ("data", m["data_source"])]
    return facts


def part_section(part: str, m: dict | None, folder: Path, href_prefix: str, heading: str = "##",
                 problem: str = "") -> list[str]:
    info = PARTS[part]
    lines = [f'{heading} {info.title} <a id="{href_prefix.replace("/", "-")}"></a>', "", f"{info.summary}.", ""]
    if m is None and problem:
        return lines + [f'<p class="status-not-run">Unreadable: {html.escape(problem)}</p>', ""]
    if m is None:
        return lines + [f'<p class="status-not-run">Not run yet: <code>make {part}</code>.</p>', ""]
    if m["status"] != "complete":
        lines += [f'<p class="status-{m["status"]}">Status: {m["status"]}. {html.escape(m["status_note"])}</p>', ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {v} |" for k, v in part_facts(m)] + [""]
    for key, table in m.get("extra_tables", {}).items():
        lines += [f"{heading}# {key}", "", table, ""]
    lines += figures_block(part, folder, href_prefix)
    lines += ["<details><summary>config</summary>", "", "```json", json.dumps(m["config"], indent=2), "```", "",
              "</details>", ""]
    return lines


def eda_section(folder: Path) -> list[str]:
    """`make eda`'s figures and tables, when it has run."""
    lines = ['## The data <a id="data"></a>', ""]
    if not (folder / "summary.md").is_file():
        return lines + ['<p class="status-not-run">Not run yet: <code>make eda</code>.</p>', ""]
    summary = (folder / "summary.md").read_text().split("## Figures")[0].split("\n", 2)[2].strip()
    lines += [summary.replace("## ", "### "), "", '<div class="figs">']
    lines += [figure_html(f"eda/{name}", caption, name != "pixel_distributions.png")
              for name, caption in EDA_FIGURES if (folder / name).is_file()]
    return lines + ["</div>", ""]


def report_reruns(reports: Path, problems: dict[str, str] | None = None) -> dict[str, dict[str, dict | None]]:
    """{report id: {part: its rerun's record or None}} for every report file."""
    out = {}
    for report_id in available_reports():
        found = {}
        out[report_id] = read_parts(recipe_folder(reports, report_id), strict=False, problems=found)
        if problems is not None:
            problems.update({f"{report_id}/{part}": why for part, why in found.items()})
    return out


def build_markdown(reports: Path, verdicts: dict | None = None,
                   file_problems: dict[str, str] | None = None) -> tuple[str, str]:
    """index.md, and the analysis it contains (also written to analysis.md). A record that cannot be read
    is named where its part would be; it never stops the page. ``verdicts`` (and ``file_problems``, the
    report files left out): ``judge_reports``' when the caller has them."""
    problems, rerun_problems = {}, {}
    runs = read_parts(reports, strict=False, problems=problems)
    reruns = report_reruns(reports, rerun_problems)
    others = other_runs(reports)
    try:
        if verdicts is None:
            verdicts, file_problems = judge_reports(reports)
        analysis = index_analysis_markdown(runs, reruns, verdicts, read_ablation(reports / "part5" / ABLATION))
    except Exception as error:  # the page still shows every run; the analysis says why it is missing
        log.error("the analysis could not be built (%s: %s)", type(error).__name__, error)
        analysis = (f"## What the runs answer <a id=\"analysis\"></a>\n\nThe analysis could not be built "
                    f"({type(error).__name__}: {html.escape(str(error))}).\n")
    verdicts, file_problems = verdicts or {}, file_problems or {}
    lines = [f"# {TITLE}", "", f"Built {now_iso()} from the saved runs in this folder.", "",
             '## Results <a id="results"></a>', "",
             "Test accuracy of this suite's recipe per part (`make all`), with every other run kept here: a variant "
             "is a run whose settings differ from its recipe's, listed with what it changed.", "",
             results_markdown(results_rows(runs, others)), ""]
    for report_id, (report, _) in verdicts.items():
        lines += [f"### {report.title.capitalize()}: its figures and its recipe rerun here", ""]
        if not recipe_folder(reports, report_id).is_dir():  # a file no run here has used: one line, not a table
            lines += [f"Not rerun here yet: `make reproduce REPORT={report_id}` reruns its recipes (`ARGS=--estimate`"
                      f" first says how long); until then [its figures and claims](#verdicts-{report_id}) on its own "
                      f"recipes read \"not measured\".", ""]
            continue
        lines += [f"What {report.title} (student_reports/{report.path.name}) gives as each part's result, beside "
                  f"its own recipe rerun here (`make reproduce REPORT={report_id}`, into reports/{report_id}/); "
                  f"[every figure and claim, judged](#verdicts-{report_id}).", "",
                  report_results_markdown(report, reports, others), ""]
    for report_id, why in file_problems.items():
        lines += [f'<p class="status-not-run">student_reports/{html.escape(report_id)}.toml is not checked: '
                  f'{html.escape(why)}</p>', ""]
    lines += ["### MLP vs CNN", "", mlp_vs_cnn_markdown(reports), "", timings_markdown(reports), "", analysis, ""]
    lines += eda_section(reports / "eda")
    for part in PARTS:
        lines += part_section(part, runs[part], reports / part, part, problem=problems.get(part, ""))
        if part == "part5" and part5_run_rows(reports, others):
            lines += ["### Part 5 runs: recipes are compared on validation accuracy", "",
                      part5_runs_markdown(reports, others), ""]
        ablation_page = reports / "part5" / ABLATION / "ablation.md"
        if part == "part5" and ablation_page.is_file():
            table = ablation_page.read_text().split("\n\n")[1]
            lines += ["### Ablation: ImprovedCNN without one of its changes (`make ablation`)", "", table, ""]
    for report_id, records in reruns.items():
        if not any(records.values()):
            continue
        title = verdicts[report_id][0].title if report_id in verdicts else f"report {report_id}"
        lines += [f'## {title.capitalize()}: its recipes, rerun <a id="rerun-{report_id}"></a>', ""]
        for part, record in records.items():
            if record is not None:
                lines += part_section(part, record, reports / report_id / part, f"{report_id}/{part}", "###")
    if others:
        lines += ['## Variants and other runs <a id="variants"></a>', "",
                  "Runs whose settings differ from their recipe's (what each changed is listed), or kept outside "
                  "their recipe's folder: never in a recipe's row, never behind a verdict.", "",
                  markdown_table([{"folder": f"`{name}`", "part": r["part"], "recipe": r["recipe"],
                                   "changed": changes_text(r["recipe_changes"]) if r.get("recipe_changes") else
                                   "nothing (kept elsewhere)", "test accuracy": r["test"]["accuracy"],
                                   "status": r["status"], "device": device_label(r["environment"])}
                                  for name, r in others.items()],
                                 ["folder", "part", "recipe", "changed", "test accuracy", "status", "device"],
                                 {"test accuracy": ".4f"}), ""]
    return "\n".join(lines), analysis


def build_html(markdown_text: str) -> str:
    """index.md rendered by Python-Markdown (tables, fenced code, raw HTML) into the page template."""
    import jinja2
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables", "fenced_code", "md_in_html"])
    template = jinja2.Template(TEMPLATE.read_text(), autoescape=False)
    nav = [("results", "Results"), ("analysis", "Analysis"), ("data", "Data"), *((p, p) for p in PARTS),
           *((f"rerun-{r}", f"Report {r} reruns") for r in available_reports()), ("variants", "Variants")]
    return template.render(title=TITLE, body=body, nav=nav)


# ----------------------------------------------------------------------------- the README's blocks

README_BLOCKS = {"parts": ("<!-- parts:start -->", "<!-- parts:end -->"),
                 "results": ("<!-- results:start -->", "<!-- results:end -->")}


def parts_markdown() -> str:
    return markdown_table([{"part": f"`make {p.name}`", "what": p.summary} for p in PARTS.values()], ["part", "what"])


def readme_results(reports: Path) -> str:
    """The README's results: one row per part (plus runs on a GPU), each from a clean commit."""
    runs = read_parts(reports)
    reruns = report_reruns(reports)
    others = {k: v for k, v in other_runs(reports).items() if v["environment"]["device"] != "cpu"}
    records = [m for m in [*runs.values(), *(r for rs in reruns.values() for r in rs.values()), *others.values()]
               if m]
    dirty = sorted({f"{m['part']} ({m['recipe']}): {m['git_commit']}" for m in records
                    if not m["git_commit"] or m["git_commit"].endswith("-dirty")})
    if dirty:
        raise UserError(f"refusing to quote results measured at an uncommitted tree in the README "
                        f"({'; '.join(dirty)}); commit, rerun those parts, then update the README.")
    commits = sorted({m["git_commit"][:12] for m in records})
    timings = "\n".join(run_all_lines(reports)).strip()
    blocks = [results_markdown(results_rows(runs, others))]
    for report_id, (report, rows) in all_verdicts(reports, recipes_of=recipe_configs).items():
        if any(reruns.get(report_id, {}).values()):
            blocks.append(report_results_markdown(report, reports) +
                          f"\n\n{report.title.capitalize()}'s {len(rows)} figures and claims: {verdict_counts(rows)} "
                          f"(each with its numbers: `reports/{report_id}/verdicts.md`, and the page).")
    return ("\n\n".join(blocks) + (f"\n\n{timings}" if timings else "") +
            f"\n\nMeasured at commit {', '.join(commits) or '-'} on the JPEG copy of CIFAR-10; generated by "
            f"`make report ARGS=--update-readme`.")


def update_readme(readme: Path, reports: Path) -> None:
    """Rewrite the README's generated blocks between their markers."""
    text = readme.read_text()
    for block, (start, end) in README_BLOCKS.items():
        if start not in text or end not in text:
            raise UserError(f"{readme} has no {start} ... {end} block to update.")
        content = parts_markdown() if block == "parts" else readme_results(reports)
        head, rest = text.split(start, 1)
        text = head + start + "\n" + content + "\n" + end + rest.split(end, 1)[1]
    atomic_write_text(readme, text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.build_report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", default=str(REPORTS_DIR), help="the reports folder (default: %(default)s)")
    parser.add_argument("--update-readme", nargs="?", const="README.md", metavar="README", default=None,
                        help="also rewrite the README's generated blocks (default file: README.md)")
    parser.add_argument("--redraw", action="store_true",
                        help="draw every run's figures again from its saved files (default: only missing ones)")
    parser.add_argument("--debug", action="store_true")
    return parser


def judge_reports(reports: Path) -> tuple[dict, dict[str, str]]:
    """Every report file's verdicts from the runs under ``reports`` (against the recipes as the parts build
    them now), and {report id: why its file is left out}: judged once per `make report`."""
    problems = {}
    return all_verdicts(reports, problems, recipe_configs), problems


def refresh_part_analyses(reports: Path, verdicts: dict | None = None) -> list[Path]:
    """Rewrite every finished part's analysis.md from the saved runs: its comparisons read the other
    parts, which may have run after it. A folder a run holds is left to that run."""
    roots = [reports, *(recipe_folder(reports, report_id) for report_id in available_reports())]
    if verdicts is None:
        verdicts, _ = judge_reports(reports)  # judged once, not once a folder
    written = []
    for root in roots:
        for part, record in read_parts(root, strict=False).items():
            if record is None:
                continue
            try:
                with ReportFolder(root / part):
                    written.append(write_part_analysis(part, root / part, record, verdicts))
            except UserError as error:
                log.info("analysis.md not refreshed: %s", error)
            except Exception as error:  # one part's analysis never stops the report
                log.error("analysis.md of %s not refreshed (%s: %s)", root / part, type(error).__name__, error)
    return written


def draw_missing_figures(reports: Path, redraw: bool = False) -> list[str]:
    """Draw the figures of every saved run whose figures are missing or not its own (``redraw``: all of
    them), from what the runs saved; a folder a run holds is left to it."""
    drawn = []
    for root in [reports, *(recipe_folder(reports, report_id) for report_id in available_reports())]:
        for part in PARTS:
            if not (root / part / "metrics.json").is_file():
                continue
            try:
                with ReportFolder(root / part):
                    drawn += draw_run_safely(part, root / part, redraw=redraw)
            except UserError as error:
                log.info("figures not drawn: %s", error)
    return drawn


def main(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    reports = Path(args.reports)
    reports.mkdir(parents=True, exist_ok=True)
    drawn = draw_missing_figures(reports, redraw=args.redraw)
    if drawn:
        log.info("drew the figures of %s", ", ".join(drawn))
    try:
        verdicts, file_problems = judge_reports(reports)
    except Exception as error:  # build_markdown tries again and says on the page why the analysis is missing
        log.error("the reports' claims could not be judged (%s: %s)", type(error).__name__, error)
        verdicts, file_problems = None, None
    refresh_part_analyses(reports, verdicts)
    for report_id, (report, rows) in (verdicts or {}).items():
        if recipe_folder(reports, report_id).is_dir():  # a report whose recipes have run here
            try:
                atomic_write_text(recipe_folder(reports, report_id) / "verdicts.md",
                                  verdicts_page(report, rows, now_iso()))
            except (OSError, UserError) as error:  # the page still gets written, with the same table
                log.warning("%s's verdicts.md not written (%s); the page has its table", report.title, error)
    text, analysis = build_markdown(reports, verdicts, file_problems)
    atomic_write_text(reports / "index.md", text)
    atomic_write_text(reports / "analysis.md", analysis.replace("## What the runs answer", "# What the runs answer", 1))
    atomic_write_text(reports / "index.html", build_html(text))
    if args.update_readme:
        update_readme(Path(args.update_readme), reports)
    ran = [p for p in PARTS if (reports / p / "metrics.json").is_file()]
    log.info("wrote %s and %s (%d of %d parts have run: %s) in %.2f s", reports / "index.md", reports / "index.html",
             len(ran), len(PARTS), ", ".join(ran) or "none", time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
