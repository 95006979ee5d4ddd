"""`make all` and `make reproduce`: every part in turn, with a plan and a time estimate up front,
each part's progress while it runs, and a summary at the end.

    make all                    make eda, this suite's recipes into reports/partN/, then the report
    make reproduce REPORT=000   a report's recipes (student_reports/000.toml) into reports/000/partN/,
                                then the report, with that report's verdict table (reports/000/verdicts.md)
    make check-report REPORT=001  check a report file (every key, type, run and setting) and say what it holds

Each part runs as its own process, so one failing part is reported and the others still run.
Runs go side by side on the CPUs (--jobs, default: all of them; 1: one at a time): a numpy network's
steps are too small for a second BLAS thread to help, so each takes one CPU and the next run the
other; Part 4 trains its comparison's runs on as many, Part 5 takes them all (one on a GPU). Side by
side, each run writes its log to reports/[ID/]logs/<run>.log, and a line every minute says where
each stands.
Every part runs with --resume: a folder that already holds a complete run of the same config on
the same data is kept (the part says so), and an interrupted run continues from its checkpoint,
so rerunning an interrupted `make reproduce` picks up where it stopped. --force trains everything
again. The estimates are each part's own (--estimate: a few training steps timed here).
"""
from __future__ import annotations

import argparse
import fnmatch
import importlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

from common.catalog import PARTS
from common.cli import config_with, named, positive_int, run_main
from common.console import EXIT_INTERRUPTED, log
from common.errors import UserError
from common.experiments.grid import GridConfig, combination_name
from common.experiments.mlp import SHARED_BLAS_FROM, MLPConfig
from common.experiments.record import git_commit, now_iso, read_record
from common.files import atomic_write_json
from common.paths import LOGS, PROJECT_ROOT, REPORTS_DIR, recipe_folder
from common.report.claims import KINDS, ROW_METRICS, parse_ref
from common.report.report_file import Report, load_report

OUTCOMES = {0: "ok", 1: "diverged", 2: "error", EXIT_INTERRUPTED: "interrupted"}


def part_command(part: str, report: str | None, quick: bool, data: str | None, reports: Path) -> list[str]:
    """The part's command line; the part chooses its folder under ``reports`` (a variant's its own)."""
    command = [sys.executable, "-m", f"parts.{part}", "--reports", str(reports)]
    if report:
        command += ["--report", report]
    if quick and part == "part4":
        command.append("--quick")
    if quick and part == "part5" and not report:
        command += ["--recipe", "quick"]
    return command + (["--data", data] if data else [])


def run_names(config) -> list[str]:
    """The runs inside one run of a part that claims may name: a grid's combinations (its scenarios), a
    per-model recipe's models; none for a single network."""
    if isinstance(config, dict):
        return list(config)
    if isinstance(config, GridConfig):
        return [combination_name(dict(zip(("activation", "optimizer", "init"), c))) for c in config.combinations]
    return []


def check_report(report: Report) -> dict[str, object]:
    """Every part's recipe of ``report`` built over the part's REPORT_BASE, and every run a claim names found
    among the runs its recipe defines; the first problem stops with one line. Returns {part: recipe config}."""
    configs = {}
    for part, table in report.parts.items():
        if table.recipe:
            module = importlib.import_module(f"parts.{part}")
            configs[part] = named(config_with(module.REPORT_BASE, table.recipe, f"{report.shown}: {part}.recipe"),
                                  report.recipe)
        elif table.variants:
            raise UserError(f"{report.shown}: {part}.variants: a variant changes the part's recipe, and the file gives "
                            f"no [{part}.recipe]; add one")
    variants = variant_configs(report, configs)  # every variant's settings checked
    for part, named_configs in variants.items():
        seen = {}
        for name, config in named_configs.items():
            where = f"{report.shown}: {part}.variants.{name}"
            if config == configs[part]:
                raise UserError(f"{where}: its settings are the recipe's own (it would be the recipe's run); a "
                                f"variant changes at least one")
            twin = next((other for other, c in seen.items() if c == config), None)
            if twin:
                raise UserError(f"{where}: the same run as {part}.variants.{twin}; drop one")
            seen[name] = config
    for claim in report.claims:
        if claim.not_compared:  # in the file for completeness; nothing is run for it
            continue
        if claim.kind == "ablation" and claim.part != "part5":
            raise UserError(f"{report.shown}: {claim.where}: an ablation claim reads make ablation's runs of Part 5's "
                            f"ImprovedCNN; list it under [[part5.claims]]")
        for key in KINDS[claim.kind].runs:
            ref = parse_ref(claim.fields[key])
            where = f"{report.shown}: {claim.where}.{key}"
            if ref.recipe:
                config = importlib.import_module(f"parts.{ref.part}").RECIPES["tuned"]
            elif ref.part in configs:
                config = configs[ref.part]
            else:
                raise UserError(f"{where}: {ref.text!r} names a rerun of {ref.part}, "
                                f"but the file gives no [{ref.part}.recipe] to rerun; add one, or name this suite's "
                                f"run (tuned:{ref.text})")
            if ref.variant:
                config = _variant_config(report, ref, config, variants.get(ref.part, {}), claim.kind, where)
            names = run_names(config)
            inside = isinstance(config, GridConfig) and ref.name  # a row of a comparison: its row's figures only
            metric = claim.fields.get("metric")
            if inside and metric and metric.split("[")[0] not in ROW_METRICS:
                raise UserError(f"{where}: {ref.text!r} is a run inside a comparison, which records "
                                f"{', '.join(ROW_METRICS)} only; {metric!r} cannot be compared there")
            if inside and claim.kind == "spread" and (ref.recipe or not config.scenarios):
                raise UserError(f"{where}: a spread over seeds reads a part's own run, a model or a report's fixed "
                                f"scenario, not a run of a ranked comparison ({ref.text!r})")
            if claim.kind == "spread" and not ref.recipe:
                _check_seed_variants(report, claim, ref, configs[ref.part], where)
            if ref.name and not any(fnmatch.fnmatchcase(name, ref.name) for name in names):
                runs = "; ".join(names) if names else "none (it is one network: name it as " + ref.part + ")"
                raise UserError(f"{where}: {ref.part} defines no run {ref.name!r} "
                                f"under {'this suite' if ref.recipe else report.title}'s recipe; its runs: {runs}")
    return configs


def _variant_config(report: Report, ref, recipe, variants: dict, kind: str, where: str):
    """The config of the variant a claim's ``ref`` names (partN[/run]@variant), checked: declared, a run the
    variant changes, and not a spread's (whose other seeds are the recipe's variants)."""
    if ref.variant not in variants:
        raise UserError(f"{where}: {ref.text!r} names a variant {ref.variant!r} of {ref.part} that the file does not "
                        f"declare (its variants: {', '.join(variants) or 'none'}); add "
                        f"[{ref.part}.variants.{ref.variant}] with why = \"...\" and its settings")
    if kind == "spread":
        raise UserError(f"{where}: a spread over seeds reads the recipe's own run and its seed variants; name the "
                        f"run without @{ref.variant}")
    config = variants[ref.variant]
    if isinstance(recipe, dict):  # a recipe per model: the reference names the model the variant changes
        changed = [model for model in recipe if config[model] != recipe[model]]
        if ref.name not in recipe or ref.name not in changed:
            raise UserError(f"{where}: {ref.text!r}: variant {ref.variant} changes {', '.join(changed)}; name that "
                            f"model's run ({', '.join(f'{ref.part}/{m}@{ref.variant}' for m in changed)})")
    return config


def variant_configs(report: Report, configs: dict) -> dict[str, dict]:
    """{part: {variant name: config}}: each variant the report file declares, built over its part's recipe."""
    return {part: {name: config_with(configs[part], table.variant_settings(name),
                                     f"{report.shown}: {part}.variants.{name}") for name in table.variants}
            for part, table in report.parts.items() if table.variants and part in configs}


def seed_of_variant(config, recipe, model: str = "") -> int | None:
    """The seed of ``config`` when it is ``recipe`` with only the seed changed (and, in a comparison, fewer of its
    scenarios); else None. A per-model recipe (Part 5): ``model``'s seed, the other models unchanged."""
    if isinstance(config, dict):
        if model:
            others_same = all(config[m] == recipe[m] for m in recipe if m != model)
            return seed_of_variant(config[model], recipe[model]) if others_same else None
        seeds = {seed_of_variant(config[m], recipe[m]) for m in recipe}
        return seeds.pop() if len(seeds) == 1 and None not in seeds else None
    if isinstance(config, GridConfig):
        fewer = set(config.scenarios) <= set(recipe.scenarios)
        same = replace(config, base=replace(config.base, seed=recipe.base.seed), scenarios=recipe.scenarios) == recipe
        return config.base.seed if fewer and same else None
    return config.seed if replace(config, seed=recipe.seed) == recipe else None


def _check_seed_variants(report: Report, claim, ref, recipe, where: str) -> None:
    """A spread claim's seeds other than the recipe's must each be a variant of the file, so that make reproduce
    runs them."""
    variants = variant_configs(report, {ref.part: recipe}).get(ref.part, {})
    model = ref.name if isinstance(recipe, dict) else ""
    own = (recipe.base.seed if isinstance(recipe, GridConfig) else
           recipe[model or next(iter(recipe))].seed if isinstance(recipe, dict) else recipe.seed)
    for seed in claim.fields["seeds"]:
        if seed == own:
            continue
        covered = [name for name, config in variants.items() if seed_of_variant(config, recipe, model) == seed and
                   (not ref.name or not isinstance(config, GridConfig) or ref.name in run_names(config))]
        if not covered:
            triple = ", ".join(f'"{x}"' for x in ref.name.split(" + "))
            scenario = (f"; for {ref.name!r}: scenarios = [[{triple}]], base = {{ seed = {seed} }}"
                        if isinstance(recipe, GridConfig) else
                        f"; [{ref.part}.variants.seed-{seed}.{model}] seed = {seed}" if model else f"; seed = {seed}")
            raise UserError(f"{where}: seed {seed} has no variant; declare one so that make reproduce runs it: "
                            f"[{ref.part}.variants.seed-{seed}] with why = \"...\"{scenario}")


def recipe_configs(report: Report) -> dict[str, dict]:
    """{recipe name: {part: config}}: the report's recipes and this suite's tuned ones, as the parts build them
    now (a run of an earlier version of either is not judged); the report's variants under "partN@<variant>"."""
    named = {parse_ref(claim.fields[key]).part for claim in report.claims for key in KINDS[claim.kind].runs
             if parse_ref(claim.fields[key]).recipe}  # the parts whose tuned runs the report's claims read
    tuned = {part: importlib.import_module(f"parts.{part}").RECIPES["tuned"] for part in sorted(named)}
    configs = check_report(report)
    variants = {f"{part}@{name}": config for part, named_configs in variant_configs(report, configs).items()
                for name, config in named_configs.items()}  # what a claim's partN@variant reads (RunBook)
    return {report.recipe: {**configs, **variants}, "tuned": tuned}


def print_check(report: Report) -> None:
    configs = check_report(report)
    print(f"{report.shown}: {report.title}, good. Recipes for {', '.join(configs) or 'no part'}; "
          f"{len(report.claims)} figures and claims:", file=sys.stderr)
    for part, table in report.parts.items():
        kinds = {}
        for claim in table.claims:
            kinds[claim.kind] = kinds.get(claim.kind, 0) + 1
        settings = ", ".join(f"{k}={v}" for k, v in table.recipe.items() if not isinstance(v, dict))
        variants = f"; variants: {', '.join(table.variants)}" if table.variants else ""
        print(f"  {part}: {', '.join(f'{n} {k}' for k, n in kinds.items()) or 'no claims'}"
              f"{'; recipe: ' + settings if settings else ''}{variants}", file=sys.stderr)


def _out_words(plan: dict) -> str:
    out = Path(plan.get("out", ""))
    return f" -> {out.relative_to(REPORTS_DIR.parent)}" if out.is_relative_to(REPORTS_DIR.parent) else \
        (f" -> {out}" if plan.get("out") else "")


def eda_command(out: Path, data: str | None) -> list[str]:
    return [sys.executable, "-m", "scripts.eda", "--out", str(out), *(["--data", data] if data else [])]


def estimate(command: list[str], resume: bool, env: dict[str, str] | None = None) -> dict:
    """What the part says it would do (its --estimate line), timed with the thread settings ``env`` the run gets:
    report 001's full-batch Part 2 was timed on two BLAS threads, ran side by side on one and took 2.7x its plan."""
    result = subprocess.run([*command, "--estimate", *(["--resume"] if resume else [])], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return {"what": f"cannot estimate: {result.stderr.strip().splitlines()[-1] if result.stderr else '?'}",
                "seconds": 0.0, "complete": False}
    return json.loads(result.stdout.strip().splitlines()[-1])


def gpu_available() -> tuple[bool, str]:
    import torch
    if torch.cuda.is_available():
        return True, f"cuda ({torch.cuda.get_device_name()})"
    return False, "cpu"


@dataclass
class Step:
    """One run of make all / make reproduce: its command, its plan (the part's --estimate line) and the CPUs it
    keeps busy."""

    name: str
    command: list[str]
    plan: dict
    cores: int = 1


def step_cores(part: str, config, jobs: int, gpu: bool = False) -> int:
    """The CPUs a part's run keeps busy when ``jobs`` are free: Part 5 all of them on a CPU (one on a GPU); Part 4
    one per run of its comparison (``config``: its GridConfig; None: as many as there are); a numpy network one,
    since its batch-64 steps take as long on one BLAS thread as on two (a 3072-64-10 epoch, timed on this 2-core
    CPU), unless its steps are big enough to share (``SHARED_BLAS_FROM`` images, e.g. report 001's full batches of
    40,000: 0.24 s a pass on two threads, 0.43 s on one, and 0.7 s on one beside another run)."""
    if part == "part5":
        return 1 if gpu else jobs
    if part == "part4":
        return min(jobs, len(config.combinations)) if isinstance(config, GridConfig) else jobs
    if isinstance(config, MLPConfig) and config.batch_size >= SHARED_BLAS_FROM:
        return jobs
    return 1


def wall_seconds(steps: list[Step], jobs: int, seconds: list[float]) -> float:
    """How long ``steps`` take (each ``seconds``) when ``run_steps`` runs them on ``jobs`` CPUs."""
    waiting, running, now, free = list(range(len(steps))), [], 0.0, jobs
    while waiting:
        i = next_to_start(steps, waiting, free)
        if i is None:  # wait for the first run to end
            running.sort()
            end, cores = running.pop(0)
            now, free = max(now, end), free + cores
            continue
        waiting.remove(i)
        running.append((now + seconds[i], steps[i].cores))
        free -= steps[i].cores
    return max([now, *(end for end, _ in running)])


def next_to_start(steps: list[Step], waiting: list[int], free: int) -> int | None:
    """The waiting step (an index into ``steps``) with the most work (CPUs x its estimated seconds) that ``free``
    CPUs can take, else None. The longest start first, so that no long run is left alone at the end with CPUs idle
    (report 000's Part 4, on both CPUs, started last and waited 15 minutes for a second CPU); a run that needs every
    CPU waits for them, and the one-CPU runs fill the CPUs meanwhile."""
    fits = [i for i in waiting if steps[i].cores <= free]
    return max(fits, key=lambda i: (steps[i].cores * steps[i].plan.get("seconds", 0.0), -i), default=None)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--report", metavar="ID", default=None,
                        help="rerun the recipes of student_reports/ID.toml (make reproduce REPORT=ID) instead of "
                             "this suite's (make all)")
    parser.add_argument("--check", action="store_true", help="only check the report file and say what it holds")
    parser.add_argument("--estimate", action="store_true",
                        help="print the plan (each run and how long it would take here) and stop, training nothing")
    parser.add_argument("--quick", action="store_true", help="Part 4's reduced grid and Part 5's quick recipe")
    parser.add_argument("--force", action="store_true", help="train every part again, even a complete one")
    parser.add_argument("--cpu-ok", action="store_true",
                        help="without a GPU, run a report's Part 5 on this CPU too (hours: every epoch is "
                             "checkpointed, and running the command again continues where it stopped)")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="only these parts")
    parser.add_argument("--data", metavar="PATH", help="CIFAR-10 source for every part (else the usual search)")
    parser.add_argument("--reports", metavar="DIR", default=str(REPORTS_DIR),
                        help="reports folder (default: %(default)s); a report's recipes go to DIR/<report id>")
    parser.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1, metavar="N",
                        help="CPUs to fill with runs side by side (default: all, %(default)s here); 1: one run at a "
                             "time, each on the CPUs it chooses, its progress bars in the terminal")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    report = load_report(args.report) if args.report else None
    if report is not None:
        configs = check_report(report)
        if args.check:
            print_check(report)
            return 0
    elif args.check:
        raise UserError("--check checks a report file: give --report ID (make check-report REPORT=ID)")
    gpu, device = gpu_available()
    reports = Path(args.reports)
    root = recipe_folder(reports, report.id if report else None)
    command_name = f"make reproduce REPORT={report.id}" if report else "make all"
    parts = [p for p in args.parts if report is None or p in configs]
    variants = variant_configs(report, configs) if report is not None else {}
    steps, skipped = [], []
    for part in parts:
        command = part_command(part, report.id if report else None, args.quick, args.data, reports)
        runs = [(part, command, configs[part] if report is not None else None),
                *((f"{part} {v}", [*command, "--variant", v], config) for v, config in variants.get(part, {}).items())]
        for name, step_command, config in runs:
            # One at a time (--jobs 1), each part takes the CPUs it chooses; side by side, the share it is given.
            cores = step_cores(part, config, args.jobs, gpu) if args.jobs > 1 else 1
            if args.jobs > 1 and part == "part4":
                step_command = [*step_command, "--workers", str(cores)]
            plan = estimate(step_command, resume=not args.force, env=_threads_env(cores) if args.jobs > 1 else None)
            if part == "part5" and report is not None and not gpu and not args.cpu_ok:
                skipped.append((name, plan))
                continue
            steps.append(Step(name, step_command + ([] if args.force else ["--resume"]), plan, cores))
    print(f"Plan ({command_name}, device: {device}, reports in {root}):", file=sys.stderr)
    for step in steps:
        plan = step.plan
        low, high = plan.get("range_seconds") or (plan["seconds"], plan["seconds"])
        span = f" ({low / 60:.1f}-{high / 60:.1f})" if high > low * 1.05 else ""
        state = "complete: kept" if plan["complete"] and not args.force else f"~{plan['seconds'] / 60:5.1f} min{span}"
        cpus = f", {step.cores} CPUs" if step.cores > 1 else ""
        print(f"  {step.name:<6} {state:<24} {plan['what']}{cpus}{_out_words(plan)}", file=sys.stderr)
    for part, plan in skipped:
        print(f"  {part:<6} {'not run':<16} {report.title}'s recipe needs a GPU here ({plan['what']}: about "
              f"{plan['seconds'] / 3600:.1f} h on this CPU); run make reproduce on a GPU machine, or here with "
              f"ARGS=--cpu-ok", file=sys.stderr)
    busy = [step.plan["other_cpus"] for step in steps if step.plan.get("busy")]
    if busy:
        print(f"  (other work held up to {max(busy):.1f} of {os.cpu_count()} CPUs while these were timed: alone, the "
              f"parts run faster than estimated; with that work still running, about as estimated)", file=sys.stderr)
    # Every part's estimate counts converting the data into its cache; the first load does it, once, for all.
    first_load = max((step.plan.get("first_load_seconds") or 0.0 for step in steps), default=0.0)
    if first_load:
        print(f"  {'data':<6} ~{first_load / 60:5.1f} min{'':<15} convert the data into its cache (once, by the "
              f"first step that loads it; the others wait for it)", file=sys.stderr)
    own_seconds = [0 if step.plan["complete"] and not args.force
                   else step.plan["seconds"] - (step.plan.get("first_load_seconds") or 0.0) for step in steps]
    total_estimate = first_load + wall_seconds(steps, args.jobs, own_seconds)
    side = f" ({args.jobs} CPUs, runs side by side)" if args.jobs > 1 and len(steps) > 1 else ""
    print(f"  {'total':<6} ~{total_estimate / 60:5.1f} min{side}{', after make eda' if report is None else ''}, "
          f"then the report", file=sys.stderr)
    if args.estimate:
        return 0

    results, start_all = [], time.perf_counter()
    if report is None:
        start = time.perf_counter()
        code = subprocess.call(eda_command(reports / "eda", args.data), cwd=PROJECT_ROOT)
        results.append({"step": "eda", "exit_code": code, "seconds": time.perf_counter() - start,
                        "estimated_seconds": 0.0})
    for step, result in zip(steps, run_steps(steps, args.jobs, root / LOGS)):
        if result["exit_code"] is None:
            continue  # not started: a stop came first
        if step.plan["complete"] and not args.force:  # its time is the earlier run's, not this invocation's
            result.update(kept=True, recorded_seconds=read_record(Path(result["out"]) / "metrics.json")["timing"]
                          ["total_seconds"])
        results.append(result)
    if any(r["exit_code"] == EXIT_INTERRUPTED for r in results) or len(results) < len(steps) + (report is None):
        # a step never started (a stop came first) or one stopped
        log.warning("interrupted; run %s again to pick up where it stopped", command_name)
    else:
        code = subprocess.call([sys.executable, "-m", "scripts.build_report", "--reports", str(reports)],
                               cwd=PROJECT_ROOT)
        results.append({"step": "report", "exit_code": code, "seconds": 0.0, "estimated_seconds": 0.0})
        if report is not None and code == 0:  # written by the report's build, with the page
            log.info("%s's verdicts: %s", report.title, recipe_folder(reports, report.id) / "verdicts.md")
    total = time.perf_counter() - start_all
    print(f"\nSummary ({command_name}):", file=sys.stderr)
    for r in results:
        when = f"kept; it took {r['recorded_seconds'] / 60:.1f} when it ran" if r.get("kept") else \
            f"estimated {r['estimated_seconds'] / 60:.1f}"
        print(f"  {r['step']:<8} {OUTCOMES.get(r['exit_code'], r['exit_code']):<12} {r['seconds'] / 60:6.1f} min "
              f"({when})", file=sys.stderr)
    for part, _ in skipped:
        print(f"  {part:<8} {'not run':<12} needs a GPU", file=sys.stderr)
    print(f"  {'total':<8} {'':<12} {total / 60:6.1f} min   -> {reports / 'index.html'}", file=sys.stderr)
    atomic_write_json(root / "run_all.json", {
        "command": command_name + (" ARGS=--quick" if args.quick else ""), "device": device, "total_seconds": total,
        "estimated_seconds": total_estimate, "steps": results, "not_run": [p for p, _ in skipped],
        "git_commit": git_commit(), "created": now_iso()})
    failed = [r["exit_code"] for r in results if r["exit_code"] != 0]
    return failed[0] if failed else 0


STATUS_SECONDS = 60.0  # how often run_steps says where each side-by-side run stands


def run_steps(steps: list[Step], jobs: int, logs: Path, grace_seconds: float = 10.0) -> list[dict]:
    """Run ``steps`` on ``jobs`` CPUs, each as soon as its cores are free (next_to_start), with that many BLAS and
    torch threads; returns one result per step, in order ({"step", "exit_code" (None: never started), "seconds",
    "estimated_seconds", "out"}). With one job, each part writes to the terminal (call_part); side by side, each
    writes to logs/<step>.log, and every STATUS_SECONDS a line says where each stands. A failed run is reported with
    the end of its log, and the others go on; a stop (Ctrl-C, SIGTERM) stops them all, each saving its epochs."""
    results = [{"step": s.name, "exit_code": None, "seconds": 0.0, "estimated_seconds": s.plan["seconds"],
                "out": s.plan.get("out", "")} for s in steps]
    if jobs == 1:
        for i, (step, result) in enumerate(zip(steps, results), 1):
            log.info("[%d/%d] %s: %s", i, len(steps), step.name, " ".join(step.command[1:]))
            start = time.perf_counter()
            result["exit_code"] = call_part(step.command, grace_seconds)
            _log_end(i, len(steps), result, time.perf_counter() - start)
            if result["exit_code"] == EXIT_INTERRUPTED:
                break
        return results
    logs.mkdir(parents=True, exist_ok=True)
    running: dict[int, tuple[subprocess.Popen, float, Path]] = {}  # step index -> (process, start, log)
    waiting, free, said = list(range(len(steps))), jobs, time.perf_counter()
    try:
        while waiting or running:
            while (i := next_to_start(steps, waiting, free)) is not None:
                waiting.remove(i)
                step, path = steps[i], logs / f"{steps[i].name.replace(' ', '_')}.log"
                log.info("[%d/%d] %s on %d CPU%s: %s (log: %s)", i + 1, len(steps), step.name, step.cores,
                         "s" if step.cores > 1 else "", " ".join(step.command[1:]), path)
                with path.open("a") as handle:  # the child holds its own copy; an earlier attempt's log stays
                    handle.write(f"\n--- {now_iso()} {' '.join(step.command[1:])}\n")
                    handle.flush()
                    child = subprocess.Popen([*step.command, "--no-progress"], cwd=PROJECT_ROOT, stdout=handle,
                                             stderr=subprocess.STDOUT, env=_threads_env(step.cores))
                running[i], free = (child, time.perf_counter(), path), free - step.cores
            time.sleep(0.2)
            for i, (child, start, path) in list(running.items()):
                if child.poll() is not None:
                    del running[i]
                    free += steps[i].cores
                    results[i]["exit_code"] = _exit_code(child.returncode)
                    _log_end(i + 1, len(steps), results[i], time.perf_counter() - start, path)
            if running and time.perf_counter() - said >= STATUS_SECONDS:
                said = time.perf_counter()
                log.info("running: %s", "; ".join(f"{steps[i].name}: {_last_line(path)}"
                                                  for i, (_, _, path) in running.items()))
    except KeyboardInterrupt as stop:
        codes = _stop_children([child for child, _, _ in running.values()], stop, grace_seconds)
        for (i, (_, start, _)), code in zip(running.items(), codes):
            results[i].update(exit_code=code, seconds=time.perf_counter() - start)
    return results


def _threads_env(cores: int) -> dict[str, str]:
    return {**os.environ, **{name: str(cores) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                           "MKL_NUM_THREADS")}}


def _last_line(path: Path) -> str:
    """The last line a run logged, without its time stamp."""
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.exists() else []
    return lines[-1].split(" ", 1)[-1][:120] if lines else "starting"


def _log_end(number: int, total: int, result: dict, seconds: float, path: Path | None = None) -> None:
    result["seconds"] = seconds
    code = result["exit_code"]
    log.info("[%d/%d] %s: %s after %.1f min (estimated %.1f)", number, total, result["step"], OUTCOMES.get(code, code),
             seconds / 60, result["estimated_seconds"] / 60)
    if path is not None and code not in (0, EXIT_INTERRUPTED):
        tail = path.read_text(errors="replace").splitlines()[-15:]
        log.error("the end of %s:\n%s", path, "\n".join(tail))


def call_part(command: list[str], grace_seconds: float = 10.0) -> int:
    """Run one part and return its exit code. When this process is stopped (Ctrl-C, SIGTERM), the part is stopped
    too and waited for, so that it saves its finished epochs and marks its report incomplete: Ctrl-C reaches it
    from the terminal already; otherwise (SIGTERM, or it started in the background, where SIGINT is ignored) it
    gets SIGTERM after ``grace_seconds``, once (a part that is already saving ignores it). Returns its code (130
    when it was interrupted)."""
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, env=os.environ)
    try:
        return _exit_code(child.wait())
    except KeyboardInterrupt as stop:
        return _stop_children([child], stop, grace_seconds)[0]


def _stop_children(children: list[subprocess.Popen], stop: KeyboardInterrupt, grace_seconds: float) -> list[int]:
    """Stop running parts as call_part says, all at once, and return their exit codes."""
    if not stop.args:  # Ctrl-C: the parts got it too when they run in the foreground
        deadline = time.monotonic() + grace_seconds
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    return [_exit_code(child.wait()) for child in children]


def _exit_code(code: int) -> int:
    """A part's exit code; one stopped before it could catch the signal (still starting) died of it:
    interrupted all the same."""
    return EXIT_INTERRUPTED if code in (-signal.SIGINT, -signal.SIGTERM) else code


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
