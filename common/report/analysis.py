"""What the runs say about the assignment's questions, in sentences built from their numbers.

- ``part_statements(part, record, siblings)``: short answers to a part's questions (what accuracy
  means against the baseline, what the hidden layer adds, which factor wins, CNN vs MLP ...).
- ``report_verdicts(report, reports)``: every figure and claim of a report file (student_reports/),
  with a verdict computed from the runs -- holds, does not hold, too close to call or not measured --
  and the numbers behind it (the vocabulary and its judges: common/report/claims.py).

No number is typed here: the reports' figures are in their files; the wording follows the numbers,
so a result that goes the other way is said the other way. ``analysis_markdown`` renders both for a
part's folder (analysis.md) and for the report index.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.catalog import PARTS
from common.experiments.grid import combination_name
from common.paths import VARIANTS
from common.report.claims import (
    ABLATION,
    ABLATION_CHANGES,
    ABLATION_TOLERANCE,
    KINDS,
    NOT_MEASURED,
    RunBook,
    Verdict,
    at_chance,
    judge,
    points,
    read_ablation,
    why_not_compared,
    why_not_judged,
)
from common.report.report_file import Report, available_reports, load_report, report_id_of

# ----------------------------------------------------------------------------- wording helpers

def change(what: str, before: float, after: float, digits: int = 4, same_within: float = 5e-4) -> str:
    """'raises ROC-AUC from 0.8400 to 0.9100' / 'lowers ...' / 'leaves ROC-AUC at 0.8400'."""
    if abs(after - before) <= same_within:
        return f"leaves {what} at {after:.{digits}f}"
    verb = "raises" if after > before else "lowers"
    return f"{verb} {what} from {before:.{digits}f} to {after:.{digits}f}"


def compared(a_name: str, a: float, b_name: str, b: float, what: str = "test accuracy") -> str:
    """'ImprovedCNN beats SimpleCNN on test accuracy, 0.8400 vs 0.7600 (8.0 points)' or the other way."""
    if abs(a - b) < 5e-5:
        return f"{a_name} and {b_name} tie on {what} at {a:.4f}"
    winner, loser, high, low = (a_name, b_name, a, b) if a > b else (b_name, a_name, b, a)
    return f"{winner} beats {loser} on {what}, {high:.4f} vs {low:.4f} ({points(low, high)})"


def times(a: float, b: float) -> str:
    """'3.2x' (a / b)."""
    return f"{a / b:.1f}x" if b else "-"


# ----------------------------------------------------------------------------- per-part statements

def _number(value) -> str:
    """0.4265 as '0.4265'; None or NaN (a run that measured nothing) as 'not measured'."""
    return f"{value:.4f}" if isinstance(value, (int, float)) and math.isfinite(value) else "not measured"


def binary_statements(record: dict) -> list[str]:
    """Accuracy against the majority baseline, and what the airplane class's recall and F1 say."""
    test, baseline = record["test"], record["baseline"]
    accuracy, base = test["accuracy"], baseline["majority_accuracy"]
    airplane = test["per_class"]["airplane"]
    lines = []
    if accuracy > base:
        lines.append(f"Test accuracy is {accuracy:.4f}, {points(base, accuracy)} above the {base:.4f} that always "
                     f"answering '{baseline['majority_class']}' scores: on a 90/10 task accuracy says little.")
    else:
        side = "below" if accuracy < base else "level"
        lines.append(f"Test accuracy is {accuracy:.4f}, which does not beat the {base:.4f} that always answering "
                     f"'{baseline['majority_class']}' scores ({points(base, accuracy)} {side}).")
    finds = "finds most airplanes" if airplane["recall"] >= 0.5 else "misses most airplanes"
    lines.append(f"It {finds}: recall {airplane['recall']:.1%} of the {airplane['support']} test airplanes, "
                 f"precision {airplane['precision']:.1%} of its airplane calls, airplane F1 {airplane['f1']:.4f} "
                 f"(the 'rest' class: F1 {test['per_class']['rest']['f1']:.4f}).")
    auc = test["roc_auc"]
    rank = "ranks airplanes above the rest far better than chance" if auc >= 0.75 else \
        "ranks airplanes above the rest only somewhat better than chance" if auc > 0.55 else \
        "ranks airplanes no better than chance"
    lines.append(f"ROC-AUC {auc:.4f}: its score {rank} (0.5 is chance; a random airplane outscores a random other "
                 f"image {auc:.0%} of the time).")
    if "test_at_threshold_0.5" in record:
        half = record["test_at_threshold_0.5"]
        lines.append(f"The threshold chosen on validation ({test['threshold']:.3f}) gives test accuracy "
                     f"{accuracy:.4f} and airplane F1 {airplane['f1']:.4f}; the usual 0.5 gives {half['accuracy']:.4f} "
                     f"and {half['f1_airplane']:.4f}.")
    return lines


@dataclass(frozen=True)
class Sibling:
    """Another part's run of the same recipe, as a part's statements compare with it."""

    label: str  # "Part 1"
    record: dict | None


def hidden_layer_statements(record: dict, part1: Sibling) -> list[str]:
    """What a hidden layer adds over the same task's single neuron (``part1``)."""
    lines = []
    label, part1 = part1.label, part1.record
    if part1 is None:
        return [f"{label} has not run with this recipe, so what the hidden layer adds is not measured."]
    a1, a2 = part1["test"]["per_class"]["airplane"]["f1"], record["test"]["per_class"]["airplane"]["f1"]
    t1, t2 = part1["timing"]["train_seconds"], record["timing"]["train_seconds"]
    auc = change("ROC-AUC", part1["test"]["roc_auc"], record["test"]["roc_auc"])
    accuracy = change("test accuracy", part1["test"]["accuracy"], record["test"]["accuracy"])
    f1 = change("airplane F1", a1, a2)
    lines.append(f"Against {label} (same recipe), the hidden layer {auc}, {f1} and {accuracy}, "
                 f"for {record['parameters'] / part1['parameters']:.0f}x the parameters and {times(t2, t1)} the "
                 f"training time ({t2:.0f} s vs {t1:.0f} s).")
    return lines


def confused_pairs(record: dict, n: int = 3) -> list[tuple[str, str, int, float]]:
    """The ``n`` class pairs mixed up most often on test, both directions counted:
    (class a, class b, test images, share of the two classes' images)."""
    cm = np.array(record["test"]["confusion_matrix"])
    names = list(record["test"]["per_class"])
    both = cm + cm.T
    pairs = [(both[i, j], i, j) for i in range(len(names)) for j in range(i + 1, len(names))]
    pairs.sort(reverse=True)
    return [(names[i], names[j], int(count), count / (cm[i].sum() + cm[j].sum())) for count, i, j in pairs[:n]]


def ten_classes_statements(record: dict, binary: Sibling) -> list[str]:
    """Ten classes against guessing and against the binary task's balanced accuracy (``binary``); the easiest
    and hardest classes; the pairs mixed up most."""
    part2 = binary.record
    test = record["test"]
    per_class = test["per_class"]
    lines = [f"With ten classes test accuracy is {test['accuracy']:.4f}: {test['accuracy'] / 0.1:.1f}x the 0.1000 "
             f"of guessing (every class is a tenth of the test set, so the majority class scores 0.1000 too)."]
    if part2 is not None:
        b2 = part2["test"]["balanced_accuracy"]
        lines.append(f"From two classes to ten: {binary.label}'s balanced accuracy (mean recall over its two classes, "
                     f"chance 0.5) was {b2:.4f}, {points(0.5, b2)} above its chance level; here it is "
                     f"{test['balanced_accuracy']:.4f}, {points(0.1, test['balanced_accuracy'])} above chance 0.1.")
    best = max(per_class, key=lambda c: per_class[c]["recall"])
    worst = min(per_class, key=lambda c: per_class[c]["recall"])
    lines.append(f"Easiest class: {best} ({per_class[best]['recall']:.1%} recall); hardest: {worst} "
                 f"({per_class[worst]['recall']:.1%}).")
    lines.append("The most confused pairs (test images of either class taken for the other): " + "; ".join(
        f"{a} and {b}, {count} images ({share:.1%} of the two classes)" for a, b, count, share in
        confused_pairs(record)) + ".")
    return lines


def factor_means(ranking: list[dict], key: str = "val_acc") -> dict[str, dict[str, float]]:
    """{factor: {value: mean of ``key`` over the runs with that value}} -- each activation's mean over
    the optimizers and initializations it ran with, and so on."""
    means = {}
    for factor in ("activation", "optimizer", "init"):
        values = {}
        for row in ranking:
            if row[key] is not None and np.isfinite(row[key]):
                values.setdefault(row[factor], []).append(row[key])
        means[factor] = {value: float(np.mean(scores)) for value, scores in values.items()}
    return means


def comparison_statements(record: dict) -> list[str]:
    """A grid's winner and each factor's mean over the others; or a recipe's fixed scenarios, each's result."""
    if "scenarios" in record:
        rows = record["scenarios"]
        lines = [f"The recipe's {len(rows)} fixed scenarios, each trained for its full schedule (no validation split, "
                 "so nothing is chosen; the test figures are the last epoch's):"]
        for row in sorted(rows, key=lambda r: -np.nan_to_num(r["test_acc"], nan=-1)):
            final = row["history"][-1]["train_loss"] if row["history"] else float("nan")
            lines.append(f"    - {combination_name(row)}: test accuracy "
                         f"{row['test_acc']:.4f}, final training loss {final:.4f} ({row['status']})"
                         f"{at_chance(row['history'], 10)}.")
        return lines
    winner = record["winner"]
    lines = [f"The grid's winner by validation accuracy is {combination_name(winner)} "
             f"(lr {winner['lr']:g}): validation {_number(winner['val_acc'])}, "
             f"test {_number(winner['test_acc'])}."]
    for factor, means in factor_means(record["ranking"]).items():
        if not means:  # no run of the grid has a finite validation accuracy
            continue
        ordered = sorted(means.items(), key=lambda kv: -kv[1])
        others = {"activation": "optimizer x initialization", "optimizer": "activation x initialization",
                  "init": "activation x optimizer"}[factor]
        lead = f"{ordered[0][0]} leads by {points(ordered[1][1], ordered[0][1])}" if len(ordered) > 1 else \
            f"only {ordered[0][0]} ran"
        lines.append(f"By {factor} (mean validation accuracy over the {others} runs): " +
                     ", ".join(f"{v} {m:.4f}" for v, m in ordered) + f"; {lead}.")
    for row in record.get("seeds", []):
        lines.append(f"{row['configuration']} over seeds {row['seeds']}: test {row['test_acc_mean']:.4f} +- "
                     f"{row['test_acc_std']:.4f}.")
    return lines


def ablation_rows(records: dict[str, dict]) -> list[dict]:
    return [{"variant": variant, "removes": ABLATION_CHANGES[variant], "parameters": r["parameters"],
             "validation_accuracy": r.get("validation", {}).get("accuracy"), "test_accuracy": r["test"]["accuracy"],
             "epochs": r["epochs_run"], "train_seconds": r["timing"]["train_seconds"], "status": r["status"]}
            for variant, r in records.items()]


def ablation_statements(records: dict[str, dict]) -> list[str]:
    """What removing each of ImprovedCNN's changes does, worded by the numbers (validation accuracy,
    what the recipe chooses on, with test beside it)."""
    if "none" not in records:
        return []
    records = {variant: r for variant, r in records.items() if not why_not_compared(r, variant, records["none"])}
    if "none" not in records or len(records) < 2:
        return []
    full = records["none"]
    key = "validation" if "validation" in full else "test"

    def score(record):
        return record[key]["accuracy"]

    lines, costs = [], {}
    for variant, record in records.items():
        if variant == "none":
            continue
        costs[variant] = score(full) - score(record)
        close = abs(costs[variant]) <= ABLATION_TOLERANCE + 1e-12
        verb = "changes by" if close else "costs" if costs[variant] > 0 else "gains"
        if close:
            costs[variant] = 0.0  # inside the tolerance: no cost to rank
        lines.append(f"ImprovedCNN {ABLATION_CHANGES[variant]} {verb} {points(score(full), score(record))}"
                     f"{' (too close to call)' if close else ''} of "
                     f"{key} accuracy ({score(full):.4f} -> {score(record):.4f}; test {full['test']['accuracy']:.4f} "
                     f"-> {record['test']['accuracy']:.4f}; {record['parameters']:,} parameters).")
    biggest = max(costs, key=costs.get)
    if costs[biggest] > 0:
        lines.append(f"Of ImprovedCNN's changes, the one whose removal costs most is "
                     f"{biggest.removeprefix('no-').replace('-', ' ')} ({points(0, costs[biggest])}, recipe "
                     f"{full['recipe']}, {full['epochs_run']} epochs).")
    else:
        lines.append("Removing no single change lowers the accuracy here: the gain over SimpleCNN comes from them "
                     "together, or not at this training length.")
    return lines


def cnn_statements(record: dict, *mlps: Sibling) -> list[str]:
    """The two CNNs against each other (accuracy, parameters, time per epoch) and against each MLP in ``mlps``."""
    models = record["models"]
    lines = []
    if {"SimpleCNN", "ImprovedCNN"} <= set(models):
        s, i = models["SimpleCNN"], models["ImprovedCNN"]
        per_epoch = [m["train_seconds"] / max(1, m["epochs_run"]) for m in (i, s)]
        lines.append(f"{compared('ImprovedCNN', i['test_accuracy'], 'SimpleCNN', s['test_accuracy'])}; ImprovedCNN "
                     f"has {times(i['parameters'], s['parameters'])} the parameters ({i['parameters']:,} vs "
                     f"{s['parameters']:,}) and takes {times(*per_epoch)} the training time per epoch.")
    ran = [(f"{m.label}'s {'best ' if 'winner' in m.record else ''}MLP", m.record) for m in mlps if m.record]
    for model_name, model in models.items():
        for mlp_name, mlp in ran:
            more = "more" if model["parameters"] > mlp["parameters"] else "fewer"
            lines.append(f"{compared(model_name, model['test_accuracy'], mlp_name, mlp['test']['accuracy'])}; "
                         f"{model_name} has {more} parameters ({model['parameters']:,} vs {mlp['parameters']:,}).")
    if mlps and not ran:
        lines.append(f"{' and '.join(m.label for m in mlps)} have not run with this recipe, so CNN vs MLP is not "
                     f"measured.")
    return lines


def ablation_of(record: dict, ablation: Sibling) -> list[str]:
    """What removing each of ImprovedCNN's changes does (`make ablation`'s records, ``ablation.record``)."""
    return ablation_statements(ablation.record or {})


# The statements a part's CATALOG may name ("statements": [[name, *what it compares with]]): each is
# name(record, *siblings), a sibling being another part's run of the same recipe (or "ablation").
STATEMENTS = {"binary": binary_statements, "hidden_layer": hidden_layer_statements,
              "ten_classes": ten_classes_statements, "comparison": comparison_statements, "cnn": cnn_statements,
              "ablation": ablation_of}


def part_statements(part: str, record: dict, siblings: dict) -> list[str]:
    """The statements ``part``'s catalog entry names, from its record and its siblings ({part: its run of the
    same recipe}, "ablation": `make ablation`'s records); a part that names none gets the generic ones."""
    entries = PARTS[part].statements if part in PARTS else ()
    if not entries:
        return generic_statements(record)
    lines = []
    for name, *others in entries:
        lines += STATEMENTS[name](record, *(Sibling(PARTS[o].title.split(":")[0] if o in PARTS else o,
                                                    siblings.get(o)) for o in others))
    return lines


def generic_statements(record: dict) -> list[str]:
    """What any part's record says: its test accuracy against guessing, and how its training ended."""
    test, classes = record.get("test", {}), record.get("classes") or []
    lines = []
    if "accuracy" in test:
        chance = f" ({len(classes)} classes: guessing scores {1 / len(classes):.4f})" if classes else ""
        lines.append(f"Test accuracy is {test['accuracy']:.4f}{chance}.")
    history = record.get("history") or []
    if history:
        lines.append(f"Training ran {len(history)} epochs; the final training loss is "
                     f"{history[-1]['train_loss']:.4f}.")
    return lines


# ----------------------------------------------------------------------------- the reports' claims

def report_verdicts(report: Report, reports: Path, recipes: dict | None = None) -> list[Verdict]:
    """Every figure and claim of ``report``, judged from the runs under ``reports`` (its recipe's in
    reports/<id>/, this suite's in reports/); ``recipes``: {recipe name: {part: config}} as the parts build
    them now, so that a run of an earlier version of a recipe is not judged (RunBook)."""
    book = RunBook.for_report(report, reports, recipes)
    return [judge(claim, book) for claim in report.claims]


def all_verdicts(reports: Path, problems: dict[str, str] | None = None,
                 recipes_of=None) -> dict[str, tuple[Report, list[Verdict]]]:
    """{report id: (report, its verdicts)} for every file in student_reports/; a file that does not load (or,
    with ``recipes_of(report)`` building its recipes, whose recipes do not build) is left out, with why in
    ``problems``."""
    from common.errors import UserError
    out = {}
    for report_id in available_reports():
        try:
            report = load_report(report_id)
            recipes = recipes_of(report) if recipes_of else None
        except UserError as error:
            if problems is not None:
                problems[report_id] = str(error)
            continue
        out[report_id] = (report, report_verdicts(report, reports, recipes))
    return out


def bullets(lines: list[str]) -> list[str]:
    """Statements as markdown list items (a statement that is a list item already stays one)."""
    return [line if line.lstrip().startswith("- ") else f"- {line}" for line in lines]


def verdict_markdown(rows: list[Verdict], with_part: bool = True) -> str:
    head = ["part"] if with_part else []
    lines = ["| " + " | ".join([*head, "section", "the report says", "verdict", "measured", "runs"]) + " |",
             "|" + "---|" * (len(head) + 5)]
    for v in rows:
        cls = v.verdict.replace(" ", "-")
        says = v.claim.says.replace("|", "\\|") + (" (read through garbled text)" if v.claim.garbled else "")
        cells = [v.part] if with_part else []
        cells += [v.claim.section, says, f'<span class="verdict-{cls}">{v.verdict}</span>',
                  v.numbers.replace("|", "\\|"), v.source]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdicts_page(report: Report, rows: list[Verdict], built: str) -> str:
    """reports/<id>/verdicts.md: the report's verdict table as the page gives it (``built``: when), rewritten
    with the page by every `make report`, so the two never differ."""
    return (f"# {report.title.capitalize()}: every figure and claim\n\nJudged {built} from the runs in this folder; "
            f"the same table is on the page (index.html).\n\n{verdict_counts(rows)}.\n\n{verdict_markdown(rows)}\n")


def verdict_counts(rows: list[Verdict]) -> str:
    """'12 hold, 3 do not hold, 1 too close to call, 20 not measured'."""
    from collections import Counter
    counts = Counter(v.verdict for v in rows)
    words = {"holds": "hold", "does not hold": "do not hold"}
    return ", ".join(f"{counts[k]} {words.get(k, k)}" for k in ("holds", "does not hold", "too close to call",
                                                                 NOT_MEASURED) if counts[k])


RULES = ("Each figure holds when the rerun is within its tolerance of the report's (0.01 unless the report file "
         "says otherwise); a claim that one run beats another is too close to call when the two differ by no more "
         "than its tolerance. A verdict comes only from a complete run of exactly the recipe it names; any other "
         "run reads 'not measured' with the reason. The kinds of claim and when each holds: "
         + "; ".join(f"*{k.name}*: {k.holds_when}" for k in KINDS.values()) + ".")


def analysis_markdown(part: str, record: dict, siblings: dict[str, dict | None],
                      verdicts: dict[str, tuple[Report, list[Verdict]]]) -> str:
    """analysis.md of one part's folder: its statements, then each report's verdicts on this part."""
    lines = [f"# {PARTS[part].title}: what the numbers say", "", f"Recipe: {record['recipe']}. Every number below "
             f"is this run's (or, for comparisons, the other parts' runs with the same recipe).", ""]
    why = why_not_judged(record)
    if why:
        lines += [f"**This run gives no verdict** ({why.removeprefix('not measured: ')}); the statements describe "
                  f"what it measured.", ""]
    lines += bullets(part_statements(part, record, siblings))
    for report, rows in verdicts.values():
        mine = [v for v in rows if v.part == part]
        if mine:
            lines += ["", f"## {report.title.capitalize()}: its figures and claims on {part}", "", RULES, "",
                      verdict_markdown(mine, with_part=False)]
    return "\n".join(lines) + "\n"


def index_analysis_markdown(tuned: dict[str, dict | None], reruns: dict[str, dict[str, dict | None]],
                            verdicts: dict[str, tuple[Report, list[Verdict]]],
                            ablation: dict[str, dict] | None = None) -> str:
    """The report index's analysis (also reports/analysis.md): each report's verdict table apart, then each
    part's statements for this suite's recipes and for each report's."""
    lines = ["## What the runs answer <a id=\"analysis\"></a>", "", RULES + " 'Not measured' names the run that "
             "would measure it.", ""]
    for report_id, (report, rows) in verdicts.items():
        lines += [f"### {report.title.capitalize()}: every figure and claim <a id=\"verdicts-{report_id}\"></a>", "",
                  f"From student_reports/{report.path.name}"
                  + (f" ({report.about})" if report.about else "") + f": {verdict_counts(rows)}.", "",
                  verdict_markdown(rows), ""]
    groups = [("This suite's recipes", tuned, ablation)] + \
        [(f"{verdicts[rid][0].title.capitalize() if rid in verdicts else 'Report ' + rid}'s recipes, rerun", records,
          None) for rid, records in reruns.items()]
    for heading, records, extra in groups:
        ran = [(part, record) for part, record in records.items() if record is not None]
        lines += [f"### {heading}", ""]
        if not ran:
            lines += ["_No part has run with these recipes yet._", ""]
        for part, record in ran:
            siblings = {**records, "ablation": extra}
            lines += [f"**{PARTS[part].title}**", ""]
            try:
                lines += bullets(part_statements(part, record, siblings))
            except Exception as error:  # one part's odd record never hides the others' statements
                lines.append(f"- The statements could not be built from this record ({type(error).__name__}: "
                             f"{error}).")
            lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- files

def read_parts(root: Path, strict: bool = True, problems: dict[str, str] | None = None) -> dict[str, dict | None]:
    """{part: root/part/metrics.json or None}. Not ``strict``: an unreadable file counts as not run, and
    ``problems`` (when given) gets {part: why it could not be read}."""
    from common.errors import UserError
    from common.experiments.record import read_record

    records = {}
    for part in PARTS:
        path = root / part / "metrics.json"
        try:
            records[part] = read_record(path) if path.is_file() else None
        except UserError as error:
            if strict:
                raise
            records[part] = None
            if problems is not None:
                problems[part] = str(error)
    return records


def reports_root_of(out: Path, record: dict) -> Path:
    """The reports folder a run folder belongs to: reports/ for reports/partN, reports/<id>/partN and
    their variants (reports/[<id>/]variants/partN/<changes>)."""
    out = Path(out)
    recipe_folder = out.parents[2] if out.parent.parent.name == VARIANTS else out.parent
    return recipe_folder.parent if report_id_of(record.get("recipe", "")) else recipe_folder


def write_part_analysis(part: str, out: Path, record: dict, verdicts: dict | None = None) -> Path:
    """``out``/analysis.md: the part's statements (beside the other parts of the same recipe) and every
    report's verdicts on this part (``verdicts``: ``all_verdicts``' when the caller has them)."""
    from common.files import atomic_write_text, stamp_markdown

    out = Path(out)
    reports = reports_root_of(out, record)
    siblings = read_parts(out.parent, strict=False)
    ablation = read_ablation(out / ABLATION) if (out / ABLATION).is_dir() else None
    siblings = {**siblings, part: record, "ablation": ablation}
    text = analysis_markdown(part, record, siblings, verdicts if verdicts is not None else all_verdicts(reports))
    atomic_write_text(out / "analysis.md", stamp_markdown(text, record.get("run_id")))
    return out / "analysis.md"


def write_analysis_safely(part: str, out: Path, record: dict) -> Path | None:
    """``write_part_analysis`` after a run: a record the analysis cannot read (another part's folder in any
    state) is logged, never allowed to stop the part that trained; `make report` retries."""
    import logging
    try:
        return write_part_analysis(part, out, record)
    except Exception as error:  # the run's own files are written: its exit code must not depend on others'
        logging.getLogger("cifar").warning("analysis.md not written (%s: %s); `make report` writes it",
                                           type(error).__name__, error)
        return None
