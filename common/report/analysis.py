"""What the runs say about the assignment's questions, in sentences built from their numbers.

- ``part_statements(part, record, siblings)``: short answers to a part's questions (what accuracy
  means against the baseline, what the hidden layer adds, which factor wins, CNN vs MLP ...).
- ``verdicts(tuned, assignment)``: every claim the assignment's report makes, with a verdict
  computed from the runs -- holds, does not hold, or not measured -- and the numbers behind it.

No number is typed here except the assignment's own (common/report/assignment.py) and the tolerance
below; the wording follows the numbers, so a result that goes the other way is said the other way.
``analysis_markdown`` renders both for a part's folder (analysis.md) and for the report index.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.catalog import PARTS
from common.experiments.grid import combination_name
from common.report.assignment import REPORTED

TOLERANCE = 0.01  # a rerun "reproduces" a reported accuracy (or loss) within one percentage point (0.01)
# "A beats B" claims: a difference within the tolerance of its measure is too close to call.
COMPARE_TOLERANCE = {"accuracy": 0.01,  # absolute, in accuracy (one percentage point)
                     "epochs": 0.10}  # relative: epochs-to-a-loss counts within 10 % of each other
HOLDS, FAILS, NOT_MEASURED, TOO_CLOSE = "holds", "does not hold", "not measured", "too close to call"


# ----------------------------------------------------------------------------- which runs can be judged

def why_not_judged(record: dict | None, what: str = "", recipe: str | None = None) -> str:
    """'' when ``record`` is a complete run of exactly its recipe -- ``recipe``, when given: the one the
    claim names -- so that a verdict may come from it; else the reason no verdict can, as "not measured:
    ..." (``what`` names the run in the sentence)."""
    name = f"{what} " if what else ""
    if record is None:
        return f"not measured: the {name}run is not there"
    if recipe is not None and record.get("recipe") != recipe:
        return f"not measured: the {name}run followed the {record.get('recipe')!r} recipe, not {recipe!r}"
    if "recipe_changes" not in record:
        return (f"not measured: the {name}run was written by an older version of the suite (schema "
                f"{record.get('schema', '?')}), which did not record whether it ran its recipe unchanged; rerun it")
    status, done = record.get("status"), record.get("epochs_run", len(record.get("history") or []))
    planned = planned_epochs(record)
    of = f" of {planned}" if planned else ""
    if status == "incomplete" and isinstance((record.get("config") or {}).get("base"), dict):  # Part 4: runs
        return f"not measured: the {name}comparison was interrupted ({record.get('status_note', '')})"
    if status == "incomplete":
        return f"not measured: the {name}run was interrupted after {done}{of} epochs ({record.get('status_note', '')})"
    if status == "diverged":
        return f"not measured: the {name}run diverged after {done}{of} epochs ({record.get('status_note', '')})"
    if status != "complete":
        return f"not measured: the {name}run is {status} ({record.get('status_note', '')})"
    if record["recipe_changes"] is None:
        return f"not measured: the {name}run names no recipe it followed"
    if record["recipe_changes"]:
        from common.experiments.record import changes_text
        return f"not measured: the {name}run changed {changes_text(record['recipe_changes'])}"
    return ""


def planned_epochs(record: dict) -> int | None:
    """The epochs the record's config schedules (Part 4: each run's), or None where it does not say."""
    config = record.get("config") or {}
    if isinstance(config.get("epochs"), int):
        return config["epochs"]
    if isinstance(config.get("base"), dict) and isinstance(config["base"].get("epochs"), int):
        return config["base"]["epochs"]
    return None


def judged(record: dict | None, recipe: str | None = None) -> dict | None:
    """``record`` when a verdict may come from it (``why_not_judged`` is empty), else None."""
    return record if record is not None and not why_not_judged(record, recipe=recipe) else None


def compare(a_name: str, a: float, b_name: str, b: float, tolerance: float, *, relative: bool = False,
            unit: str = "") -> tuple[str, str]:
    """The verdict on "A beats B" (a higher is better) and the words behind it: holds / does not hold, or too
    close to call when |a - b| is within ``tolerance`` (of the larger, when ``relative``)."""
    difference = abs(a - b)
    band = tolerance * max(abs(a), abs(b)) if relative else tolerance
    shown = f"{tolerance:.0%} of the larger" if relative else f"{tolerance:g}"
    if difference <= band + 1e-12:  # float noise: 0.43 - 0.42 is a hair above 0.01
        return TOO_CLOSE, (f"{a_name} {a:.4g}{unit} vs {b_name} {b:.4g}{unit}: too close to call (difference "
                           f"{difference:.4g}{unit}, tolerance {shown})")
    return (HOLDS if a > b else FAILS), f"{a_name} {a:.4g}{unit} vs {b_name} {b:.4g}{unit}"


# ----------------------------------------------------------------------------- wording helpers

def points(a: float, b: float, digits: int = 1) -> str:
    """'2.3 points' for the accuracy difference b - a (in percentage points, unsigned)."""
    return f"{abs(b - a) * 100:.{digits}f} points"


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


def part2_statements(record: dict, part1: dict | None) -> list[str]:
    lines = binary_statements(record)
    if part1 is None:
        return lines + ["Part 1 has not run with this recipe, so what the hidden layer adds is not measured."]
    a1, a2 = part1["test"]["per_class"]["airplane"]["f1"], record["test"]["per_class"]["airplane"]["f1"]
    t1, t2 = part1["timing"]["train_seconds"], record["timing"]["train_seconds"]
    auc = change("ROC-AUC", part1["test"]["roc_auc"], record["test"]["roc_auc"])
    accuracy = change("test accuracy", part1["test"]["accuracy"], record["test"]["accuracy"])
    f1 = change("airplane F1", a1, a2)
    lines.append(f"Against Part 1 (same recipe), the hidden layer {auc}, {f1} and {accuracy}, "
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


def part3_statements(record: dict, part2: dict | None) -> list[str]:
    test = record["test"]
    per_class = test["per_class"]
    lines = [f"With ten classes test accuracy is {test['accuracy']:.4f}: {test['accuracy'] / 0.1:.1f}x the 0.1000 "
             f"of guessing (every class is a tenth of the test set, so the majority class scores 0.1000 too)."]
    if part2 is not None:
        b2 = part2["test"]["balanced_accuracy"]
        lines.append(f"From two classes to ten: Part 2's balanced accuracy (mean recall over its two classes, chance "
                     f"0.5) was {b2:.4f}, {points(0.5, b2)} above its chance level; here it is "
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


def at_chance(history: list[dict], n_classes: int) -> str:
    """A clause naming a network that has stopped learning: its training loss ends within TOLERANCE of
    ln(n_classes), the cross-entropy of a uniform guess (ln 10 = 2.3026); else an empty string."""
    chance = math.log(n_classes)
    if not history or abs(history[-1]["train_loss"] - chance) > TOLERANCE:
        return ""
    since = len(history)
    while since > 1 and abs(history[since - 2]["train_loss"] - chance) <= TOLERANCE:
        since -= 1
    return (f"; from epoch {history[since - 1]['epoch']} on its training loss stayed within {TOLERANCE} of "
            f"ln {n_classes} = {chance:.4f}, the loss of a uniform guess: the network stopped learning")


def part4_statements(record: dict) -> list[str]:
    if "scenarios" in record:
        rows = record["scenarios"]
        lines = ["The assignment's four scenarios, each trained for its full schedule on all 50,000 images (no "
                 "validation split, so nothing is chosen; the test figures are the last epoch's):"]
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


ABLATION_CHANGES = {"none": "ImprovedCNN as it is", "no-batchnorm": "without batch normalization",
                    "no-dropout": "without dropout", "no-third-block": "without the third convolution block"}


def read_ablation(folder: Path) -> dict[str, dict]:
    """{variant: its ImprovedCNN record} of a `make ablation` folder (reports/part5/ablation/)."""
    from common.errors import UserError
    from common.experiments.record import read_record

    records = {}
    for variant in ABLATION_CHANGES:
        path = folder / variant / "improved" / "metrics.json"
        try:
            if path.is_file():
                records[variant] = read_record(path)
        except UserError:  # unreadable: left out (the ablation statements need comparable runs only)
            continue
    return records


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
    recipe = records["none"].get("recipe")
    records = {variant: r for variant, r in records.items() if r.get("status") == "complete"
               and r.get("recipe") == recipe and isinstance(r.get("recipe_changes"), dict)
               and set(r["recipe_changes"]) <= {"ablation"}}  # each exactly the recipe but for its ablation
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
        close = abs(costs[variant]) <= COMPARE_TOLERANCE["accuracy"] + 1e-12
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


def part5_statements(record: dict, part3: dict | None, part4: dict | None,
                     ablation: dict[str, dict] | None = None) -> list[str]:
    models = record["models"]
    lines = []
    if {"SimpleCNN", "ImprovedCNN"} <= set(models):
        s, i = models["SimpleCNN"], models["ImprovedCNN"]
        per_epoch = [m["train_seconds"] / max(1, m["epochs_run"]) for m in (i, s)]
        lines.append(f"{compared('ImprovedCNN', i['test_accuracy'], 'SimpleCNN', s['test_accuracy'])}; ImprovedCNN "
                     f"has {times(i['parameters'], s['parameters'])} the parameters ({i['parameters']:,} vs "
                     f"{s['parameters']:,}) and takes {times(*per_epoch)} the training time per epoch.")
    mlps = [(name, r) for name, r in (("Part 3's MLP", part3), ("Part 4's best MLP", part4)) if r is not None]
    for model_name, model in models.items():
        for mlp_name, mlp in mlps:
            more = "more" if model["parameters"] > mlp["parameters"] else "fewer"
            lines.append(f"{compared(model_name, model['test_accuracy'], mlp_name, mlp['test']['accuracy'])}; "
                         f"{model_name} has {more} parameters ({model['parameters']:,} vs {mlp['parameters']:,}).")
    if not mlps:
        lines.append("Parts 3 and 4 have not run with this recipe, so CNN vs MLP is not measured.")
    return lines + ablation_statements(ablation or {})


def part_statements(part: str, record: dict, siblings: dict) -> list[str]:
    """The statements for ``part`` from its record and its siblings (the other parts with the same recipe;
    "ablation": `make ablation`'s records, for Part 5)."""
    if part == "part1":
        return binary_statements(record)
    if part == "part2":
        return part2_statements(record, siblings.get("part1"))
    if part == "part3":
        return part3_statements(record, siblings.get("part2"))
    if part == "part4":
        return part4_statements(record)
    if part == "part5":
        return part5_statements(record, siblings.get("part3"), siblings.get("part4"), siblings.get("ablation"))
    return generic_statements(record)


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


# ----------------------------------------------------------------------------- the assignment's claims

@dataclass(frozen=True)
class Verdict:
    part: str
    claim: str  # what the assignment's report says
    verdict: str  # holds, does not hold, not measured
    numbers: str  # the measurements behind the verdict
    source: str  # which runs


def _near(measured: float, reported: float, tolerance: float = TOLERANCE) -> str:
    return HOLDS if abs(measured - reported) <= tolerance else FAILS


def _scenario(record: dict | None, name: str) -> dict | None:
    if record is None or "scenarios" not in record:
        return None
    return next((s for s in record["scenarios"] if combination_name(s) == name), None)


def _grid_means(record: dict | None) -> dict | None:
    return None if record is None or "ranking" not in record else factor_means(record["ranking"])


def init_means(record: dict | None, activation: str) -> dict[str, float]:
    """{init: mean validation accuracy over the optimizers} for one activation of the tuned grid."""
    if record is None or "ranking" not in record:
        return {}
    cells = {}
    for row in record["ranking"]:
        if row["activation"] == activation and row["val_acc"] is not None and np.isfinite(row["val_acc"]):
            cells.setdefault(row["init"], []).append(row["val_acc"])
    return {init: float(np.mean(scores)) for init, scores in cells.items()}


def watched_spread(history: list[dict], last: int = 100) -> str:
    """', and over the last 100 epochs the watched test accuracy ran from 0.8969 to 0.9102 (mean 0.9050)'
    -- how much one last epoch can differ from the next; empty without a watched test curve."""
    values = [h["test_acc"] for h in history[-last:] if "test_acc" in h]
    if len(values) < 2:
        return ""
    return (f"; over the last {len(values)} epochs the watched test accuracy ran from {min(values):.4f} to "
            f"{max(values):.4f} (mean {np.mean(values):.4f})")


def first_epoch(history: list[dict], condition) -> dict | None:
    """The first epoch's record of ``history`` for which ``condition(record)`` holds, else None."""
    return next((h for h in history if condition(h)), None)


def first_reached(history: list[dict], accuracy: float) -> str:
    """'; the watched test accuracy first reached 0.4254 at epoch 61' -- for a rerun that ends above a
    reported figure: how far into the schedule the reported level was passed; empty if it never was."""
    reached = first_epoch(history, lambda h: h.get("test_acc", -1.0) >= accuracy)
    return "" if reached is None else \
        f"; the watched test accuracy first reached {accuracy:.4f} at epoch {reached['epoch']}"


def epochs_to_reach(history: list[dict], loss: float) -> int | None:
    """The first epoch whose training loss is at or below ``loss``."""
    reached = first_epoch(history, lambda h: h["train_loss"] <= loss)
    return None if reached is None else reached["epoch"]


def verdicts(tuned: dict[str, dict | None], assignment: dict[str, dict | None],
             assignment_root: Path | None = None) -> list[Verdict]:
    """Every claim of the assignment's report, judged on the runs that measure it. ``assignment_root``
    (reports/assignment) holds Part 5's per-model records.

    A verdict comes only from a complete run of exactly the recipe it names (``why_not_judged``);
    otherwise the claim reads "not measured" with the reason."""
    out: list[Verdict] = []
    rerun = "the assignment's recipe rerun (reports/assignment/{})"

    for part in ("part1", "part2", "part3"):
        reported, record = REPORTED[part], assignment.get(part)
        why = why_not_judged(record, "assignment's recipe", "assignment") if record is not None else \
            "not measured: `make reproduce` has not run this part"
        claim = f"test accuracy {reported['accuracy']:.4f}"
        if why:
            out.append(Verdict(part, claim, NOT_MEASURED, why, ""))
        else:
            acc = record["test"]["accuracy"]
            extra = ""
            if part == "part1":
                rest = record["test"]["per_class"]["rest"]
                extra = (f"; 'rest' precision {rest['precision']:.4f} (reported {reported['precision_rest']:.4f}), "
                         f"recall {rest['recall']:.4f} ({reported['recall_rest']:.4f}), F1 {rest['f1']:.4f} "
                         f"({reported['f1_rest']:.4f})")
            well_above = acc > reported["accuracy"] + TOLERANCE
            reached = first_reached(record["history"], reported["accuracy"]) if well_above else ""
            out.append(Verdict(part, claim, _near(acc, reported["accuracy"]),
                               f"rerun {acc:.4f} ({points(reported['accuracy'], acc, 2)} "
                               f"{'above' if acc > reported['accuracy'] else 'below'}){extra}"
                               f"{watched_spread(record['history'])}{reached}", rerun.format(part)))
        if "final_train_loss" in reported:
            claim = f"final training loss about {reported['final_train_loss']:.3f}"
            if why or not record["history"]:
                out.append(Verdict(part, claim, NOT_MEASURED, why or "not measured: the run has no epoch", ""))
            else:
                loss = record["history"][-1]["train_loss"]
                last_epoch = record["history"][-1]["epoch"]
                verdict = _near(loss, reported["final_train_loss"])
                reached = first_epoch(record["history"], lambda h, target=reported["final_train_loss"]:
                                      abs(h["train_loss"] - target) <= TOLERANCE)
                when = "" if verdict == HOLDS or reached is None else \
                    (f"; its training loss was within {TOLERANCE} of the reported value at epoch {reached['epoch']}"
                     + (f" (test accuracy then {reached['test_acc']:.4f})" if "test_acc" in reached else ""))
                out.append(Verdict(part, claim, verdict, f"rerun {loss:.4f} after epoch {last_epoch}{when}",
                                   rerun.format(part)))

    raw4 = assignment.get("part4")
    why4 = why_not_judged(raw4, "assignment's recipe", "assignment") if raw4 is not None else \
        "not measured: `make reproduce` has not run Part 4"
    p4, grid4 = judged(raw4, "assignment"), judged(tuned.get("part4"), "tuned")
    why_grid = why_not_judged(tuned.get("part4"), "tuned recipe's Part 4", "tuned") \
        if tuned.get("part4") is not None else "not measured: `make part4` has not run this suite's grid"
    for name, reported in REPORTED["part4"].items():
        if reported is None:
            continue
        scenario = _scenario(p4, name)
        claim = f"{name}: test accuracy {reported:.4f}"
        why = why4 or (_scenario_why(scenario) if scenario is not None else "not measured: no such scenario ran")
        if why:
            out.append(Verdict("part4", claim, NOT_MEASURED, why, ""))
        else:
            out.append(Verdict("part4", claim, _near(scenario["test_acc"], reported),
                               f"rerun {scenario['test_acc']:.4f}{watched_spread(scenario['history'])}"
                               f"{at_chance(scenario['history'], 10)}", rerun.format("part4")))
    p3 = assignment.get("part3")
    why3 = why_not_judged(p3, "assignment's recipe (Part 3)", "assignment") if p3 is not None else \
        "not measured: `make reproduce` has not run Part 3"
    out.append(_momentum_claim(judged(p3, "assignment"), p4, _grid_means(grid4), why4 or why3, why_grid))
    out.append(_small_init_claim(p4, init_means(grid4, "sigmoid"), why4, why_grid))
    out.append(_he_tanh_claim(init_means(grid4, "tanh"), why_grid))
    out.append(_tanh_slower_claim(p4, why4))
    p5_folder = assignment_root / "part5" if assignment_root is not None else None
    out += _part5_claims(p5_folder, tuned.get("part5"), assignment.get("part5"),
                         judged(tuned.get("part3")) or judged(assignment.get("part3")) or tuned.get("part3")
                         or assignment.get("part3"))
    return out


def _scenario_why(scenario: dict) -> str:
    """'' for a scenario that ran its whole schedule; else why it cannot be judged."""
    if scenario["status"] == "complete":
        return ""
    return f"not measured: the scenario's run is {scenario['status']} after {scenario['epochs_run']} epochs"


def _comparison(claim: str, sources: list[tuple[str, str, float, str, float, float, bool, str]],
                not_there: list[str]) -> Verdict:
    """One "A beats B" claim from one or more measurements (source, a, a value, b, b value, tolerance,
    relative, context): the first decides the verdict, every one is shown; ``not_there``: why each missing
    measurement is missing."""
    if not sources:
        return Verdict("part4", claim, NOT_MEASURED, "; ".join(not_there) or "not measured", "")
    verdict, numbers = None, []
    for _, a_name, a, b_name, b, tolerance, relative, context in sources:
        said, words = compare(a_name, a, b_name, b, tolerance, relative=relative)
        verdict = verdict or said
        numbers.append(f"{context}: {words}")
    return Verdict("part4", claim, verdict, "; ".join(numbers), "; ".join(s[0] for s in sources))


def _momentum_claim(p3: dict | None, p4: dict | None, grid: dict | None, why4: str, why_grid: str) -> Verdict:
    claim = "momentum beats plain gradient descent"
    momentum = _scenario(p4, "sigmoid + momentum + he")
    sources, missing = [], []
    tol = COMPARE_TOLERANCE["accuracy"]
    if p3 is not None and momentum is not None and not _scenario_why(momentum):
        sources.append(("the assignment's recipes: Part 4's scenario vs Part 3", "momentum (lr 0.05, beta 0.9)",
                        momentum["test_acc"], "plain SGD (lr 0.01, Part 3)", p3["test"]["accuracy"], tol, False,
                        "sigmoid + He for 1000 epochs, test accuracy -- their learning rates differ, as in the "
                        "assignment"))
    else:
        missing.append(why4 or (_scenario_why(momentum) if momentum is not None else
                                "not measured: the sigmoid + momentum + he scenario did not run"))
    if grid is not None and {"sgd", "momentum"} <= set(grid["optimizer"]):
        sources.append(("this suite's tuned grid", "momentum", grid["optimizer"]["momentum"], "SGD",
                        grid["optimizer"]["sgd"], tol, False, "tuned grid, each at its swept lr, mean validation "
                                                              "accuracy"))
    else:
        missing.append(why_grid or "not measured: the grid has no SGD and momentum runs")
    return _comparison(claim, sources, missing)


def _small_init_claim(p4: dict | None, sigmoid_inits: dict[str, float], why4: str, why_grid: str) -> Verdict:
    claim = "for sigmoid, a small random initialization beats He"
    small, he_ = _scenario(p4, "sigmoid + momentum + small"), _scenario(p4, "sigmoid + momentum + he")
    sources, missing = [], []
    tol = COMPARE_TOLERANCE["accuracy"]
    if small is not None and he_ is not None and not _scenario_why(small) and not _scenario_why(he_):
        sources.append(("the assignment's recipe (Part 4 scenarios)", "small", small["test_acc"], "He",
                        he_["test_acc"], tol, False, "sigmoid + momentum, 1000 epochs, test accuracy"))
    else:
        missing.append(why4 or "not measured: a sigmoid scenario did not finish")
    if {"small", "he"} <= set(sigmoid_inits):
        sources.append(("this suite's tuned grid", "small", sigmoid_inits["small"], "He", sigmoid_inits["he"], tol,
                        False, "tuned grid, sigmoid, mean validation accuracy over the optimizers"))
    else:
        missing.append(why_grid or "not measured: the grid has no sigmoid + small and sigmoid + He runs")
    return _comparison(claim, sources, missing)


def _he_tanh_claim(tanh_inits: dict[str, float], why_grid: str) -> Verdict:
    claim = "He initialization suits tanh poorly"
    if not {"he", "xavier"} <= set(tanh_inits):
        return Verdict("part4", claim, NOT_MEASURED, (why_grid or "not measured: needs this suite's grid with tanh "
                       "+ He and tanh + Xavier") + " (the assignment gives no figure for tanh + He)", "")
    shown = ", ".join(f"{init} {mean:.4f}" for init, mean in sorted(tanh_inits.items(), key=lambda kv: -kv[1]))
    verdict = _comparison(claim, [("this suite's tuned grid", "Xavier", tanh_inits["xavier"], "He", tanh_inits["he"],
                                   COMPARE_TOLERANCE["accuracy"], False,
                                   "tanh, mean validation accuracy over the optimizers (He against Xavier, the "
                                   "initialization derived for tanh)")], [])
    return Verdict("part4", claim, verdict.verdict, f"{verdict.numbers}; all: {shown}", verdict.source)


def _tanh_slower_claim(p4: dict | None, why4: str) -> Verdict:
    claim = "tanh (+ He) converged more slowly than sigmoid + small random initialization"
    tanh, sigmoid = _scenario(p4, "tanh + momentum + he"), _scenario(p4, "sigmoid + momentum + small")
    if tanh is None or sigmoid is None or _scenario_why(tanh) or _scenario_why(sigmoid) or not tanh["history"] \
            or not sigmoid["history"]:
        return Verdict("part4", claim, NOT_MEASURED, why4 or "not measured: a scenario did not finish", "")
    target = max(tanh["history"][-1]["train_loss"], sigmoid["history"][-1]["train_loss"])
    e_tanh, e_sigmoid = epochs_to_reach(tanh["history"], target), epochs_to_reach(sigmoid["history"], target)
    verdict = _comparison(claim, [("the assignment's recipe (Part 4 scenarios)", "tanh + He", e_tanh,
                                   "sigmoid + small", e_sigmoid, COMPARE_TOLERANCE["epochs"], True,
                                   f"epochs to reach training loss {target:.4f} (the higher of the two final "
                                   f"losses)")], [])
    return verdict


def _part5_claims(folder: Path | None, tuned5: dict | None, assignment5: dict | None,
                  mlp: dict | None) -> list[Verdict]:
    """Part 5's claims: the training ones from the assignment's rerun (its per-model records in
    ``folder``), the parameter count from a complete Part 5 run against Part 3's MLP."""
    out = []
    rerun = "the assignment's recipe rerun (reports/assignment/part5)"
    reported = REPORTED["part5"]
    simple, improved = _model_record(folder, "simple"), _model_record(folder, "improved")
    never = "not measured: the assignment's 100-epoch recipe has not run here (make reproduce)"
    why_simple = why_not_judged(simple, "assignment's recipe (SimpleCNN)", "assignment") if simple is not None \
        else never
    why_improved = why_not_judged(improved, "assignment's recipe (ImprovedCNN)", "assignment") \
        if improved is not None else never
    claim = "SimpleCNN stays near 10 % (loss stuck at 2.3, one class predicted)"
    if why_simple or not simple["history"]:
        out.append(Verdict("part5", claim, NOT_MEASURED, why_simple or "not measured: the run has no epoch", ""))
    else:
        final_loss = simple["history"][-1]["train_loss"]
        predicted = int(np.count_nonzero(np.array(simple["test"]["confusion_matrix"]).sum(axis=0)))
        stuck = simple["test"]["accuracy"] < 0.15 and final_loss > 2.2
        out.append(Verdict("part5", claim, HOLDS if stuck else FAILS,
                           f"rerun {simple['test']['accuracy']:.4f} test accuracy, final training loss "
                           f"{final_loss:.4f}, {predicted} of 10 classes predicted", rerun))
    claims = (f"ImprovedCNN {reported['ImprovedCNN']:.2%} test accuracy",
              f"validation peak {reported['ImprovedCNN validation peak']:.2%} at epoch "
              f"{reported['ImprovedCNN validation peak epoch']}",
              f"validation loss lowest early (~{reported['ImprovedCNN lowest validation loss']}) and rising to "
              f"~{reported['ImprovedCNN validation loss at epoch 100']}: overfitting after 10-20 epochs")
    if why_improved:
        out += [Verdict("part5", claim, NOT_MEASURED, why_improved, "") for claim in claims]
    else:
        acc = improved["test"]["accuracy"]
        out.append(Verdict("part5", claims[0], _near(acc, reported["ImprovedCNN"]), f"rerun {acc:.4f} after the "
                           f"last epoch", rerun))
        curve = [(h["epoch"], h["test_acc"], h["test_loss"]) for h in improved["history"] if "test_acc" in h]
        if not curve:
            no_curve = "not measured: the run watched no test curve (it trained with a validation split)"
            out += [Verdict("part5", claim, NOT_MEASURED, no_curve, "") for claim in claims[1:]]
        else:
            peak_epoch, peak, _ = max(curve, key=lambda c: c[1])
            out.append(Verdict("part5", claims[1], _near(peak, reported["ImprovedCNN validation peak"]),
                               f"the watched test curve peaks at {peak:.4f} in epoch {peak_epoch} (the assignment's "
                               f"'validation' set is taken to be its test set)", rerun))
            low_epoch, _, low = min(curve, key=lambda c: c[2])
            last = curve[-1][2]
            overfits = low_epoch <= 20 and last >= 2 * low
            out.append(Verdict("part5", claims[2], HOLDS if overfits else FAILS,
                               f"watched test loss lowest ({low:.3f}) in epoch {low_epoch}, {last:.3f} after epoch "
                               f"{curve[-1][0]}", rerun))
    out.append(_parameters_claim(tuned5, assignment5, mlp))
    return out


def _parameters_claim(tuned5: dict | None, assignment5: dict | None, mlp: dict | None) -> Verdict:
    """"A CNN needs fewer parameters than an MLP", on the parameter counts of a complete Part 5 run (this
    suite's recipe first) and Part 3's network, with each one's test accuracy beside it, as measured."""
    claim = "a CNN needs fewer parameters than an MLP"
    cnn = judged(tuned5) or judged(assignment5)
    mlp_ok = judged(mlp)
    if cnn is None or mlp_ok is None:
        why = [w for w in (why_not_judged(tuned5, "Part 5") if tuned5 is not None else
                           "not measured: Part 5 has not run",
                           why_not_judged(mlp, "Part 3") if mlp is not None else "not measured: Part 3 has not run")
               if w]
        return Verdict("part5", claim, NOT_MEASURED, "; ".join(why), "")
    counts = {name: row["parameters"] for name, row in cnn["models"].items()}
    fewer = all(c < mlp_ok["parameters"] for c in counts.values())
    mlp_acc = mlp_ok["test"]["accuracy"]
    accuracy = "; ".join(
        f"{name} {'reaches higher' if row['test_accuracy'] > mlp_acc else 'does not reach higher'} test accuracy "
        f"({row['test_accuracy']:.4f} vs the MLP's {mlp_acc:.4f})" for name, row in cnn["models"].items())
    return Verdict("part5", claim, HOLDS if fewer else FAILS,
                   ", ".join(f"{n} {c:,}" for n, c in counts.items()) +
                   f" vs the 3072-64-10 MLP's {mlp_ok['parameters']:,} parameters; {accuracy}",
                   f"the parameter counts of Part 5 ({cnn['recipe']} recipe) and Part 3 ({mlp_ok['recipe']} recipe)")


def _model_record(folder: Path | None, model: str) -> dict | None:
    if folder is None or not (folder / model / "metrics.json").is_file():
        return None
    from common.errors import UserError
    from common.experiments.record import read_record
    try:
        return read_record(folder / model / "metrics.json")
    except UserError as error:  # unreadable: judged as not measured, never a crash
        return {"status": "unreadable", "status_note": str(error), "recipe_changes": {}}


def bullets(lines: list[str]) -> list[str]:
    """Statements as markdown list items (a statement that is a list item already stays one)."""
    return [line if line.lstrip().startswith("- ") else f"- {line}" for line in lines]


def verdict_markdown(rows: list[Verdict]) -> str:
    lines = ["| part | the assignment claims | verdict | measured | runs |", "|---|---|---|---|---|"]
    for v in rows:
        cls = v.verdict.replace(" ", "-")
        lines.append(f"| {v.part} | {v.claim} | <span class=\"verdict-{cls}\">{v.verdict}</span> | {v.numbers} | "
                     f"{v.source} |")
    return "\n".join(lines)


RULES = (f"A reported figure holds when the rerun is within {TOLERANCE * 100:.0f} percentage point of it. "
         f"A claim that one run beats another is too close to call when their accuracies differ by at most "
         f"{COMPARE_TOLERANCE['accuracy']} (epochs to a loss: by at most {COMPARE_TOLERANCE['epochs']:.0%} of the "
         f"larger). A verdict comes only from a complete run of exactly the recipe it names; any other run reads "
         f"'not measured' with the reason.")


def analysis_markdown(part: str, record: dict, siblings: dict[str, dict | None], claims: list[Verdict]) -> str:
    """analysis.md of one part's folder: its statements, then the verdicts on its claims."""
    lines = [f"# {PARTS[part].title}: what the numbers say", "", f"Recipe: {record['recipe']}. Every number below "
             f"is this run's (or, for comparisons, the other parts' runs with the same recipe).", ""]
    why = why_not_judged(record)
    if why:
        lines += [f"**This run gives no verdict** ({why.removeprefix('not measured: ')}); the statements describe "
                  f"what it measured.", ""]
    lines += bullets(part_statements(part, record, siblings))
    mine = [v for v in claims if v.part == part]
    if mine:
        lines += ["", "## The assignment's claims", "", RULES, "", verdict_markdown(mine)]
    return "\n".join(lines) + "\n"


def index_analysis_markdown(tuned: dict[str, dict | None], assignment: dict[str, dict | None],
                            assignment_root: Path | None, ablation: dict[str, dict] | None = None) -> str:
    """The report index's analysis (also reports/analysis.md): every claim's verdict, then each part's
    statements for this suite's recipes and for the assignment's."""
    lines = ["## What the runs answer <a id=\"analysis\"></a>", "", "### The assignment's claims", "",
             f"{RULES} 'Not measured' names the run that would measure it.", "",
             verdict_markdown(verdicts(tuned, assignment, assignment_root)), ""]
    for heading, records in (("This suite's recipes", tuned), ("The assignment's recipes, rerun", assignment)):
        ran = [(part, record) for part, record in records.items() if record is not None]
        lines += [f"### {heading}", ""]
        if not ran:
            lines += ["_No part has run with these recipes yet._", ""]
        for part, record in ran:
            siblings = {**records, "ablation": ablation if records is tuned else None}
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


def write_part_analysis(part: str, out: Path, record: dict,
                        recipes: tuple[dict[str, dict | None], dict[str, dict | None]] | None = None) -> Path:
    """``out``/analysis.md: the part's statements (beside the other parts of the same recipe) and the
    verdicts on its claims (from whichever runs exist). ``recipes``: (this suite's, the assignment's)
    records when the caller has read them already (``read_parts``); else they are read here."""
    from common.files import atomic_write_text, stamp_markdown
    from common.paths import recipe_roots

    tuned_root, assignment_root = recipe_roots(out)
    tuned, assignment = recipes or (read_parts(tuned_root, strict=False), read_parts(assignment_root, strict=False))
    siblings = assignment if Path(out).parent == assignment_root else tuned
    ablation = read_ablation(Path(out) / "ablation") if part == "part5" else None
    siblings = {**siblings, part: record, "ablation": ablation}
    claims = verdicts(tuned, assignment, assignment_root)
    text = analysis_markdown(part, record, siblings, claims)
    atomic_write_text(Path(out) / "analysis.md", stamp_markdown(text, record.get("run_id")))
    return Path(out) / "analysis.md"


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
