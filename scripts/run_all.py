"""`make all` and `make reproduce`: every part in turn, with a plan and a time estimate up front,
each part's progress while it runs, and a summary at the end.

    make all         make eda, this suite's recipes into reports/partN/, then the report
    make reproduce   the assignment's recipes into reports/assignment/partN/, then the report

Each part runs as its own process, so one failing part is reported and the others still run.
Every part runs with --resume: a folder that already holds a complete run of the same config on
the same data is kept (the part says so), and an interrupted run continues from its checkpoint,
so rerunning an interrupted `make reproduce` picks up where it stopped. --force trains everything
again. The estimates are each part's own (--estimate: a few training steps timed here).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common.catalog import PARTS
from common.cli import run_main
from common.console import EXIT_INTERRUPTED, log
from common.experiments.record import git_commit, now_iso, read_record
from common.files import atomic_write_json
from common.paths import PROJECT_ROOT, REPORTS_DIR, recipe_root

OUTCOMES = {0: "ok", 1: "diverged", 2: "error", EXIT_INTERRUPTED: "interrupted"}


def part_command(part: str, recipe: str, quick: bool, data: str | None, out: Path) -> list[str]:
    command = [sys.executable, "-m", f"parts.{part}", "--out", str(out)]
    if recipe == "assignment":
        command += ["--recipe", "assignment"]
    if quick and part == "part4":
        command.append("--quick")
    if quick and part == "part5" and recipe != "assignment":
        command += ["--recipe", "quick"]
    return command + (["--data", data] if data else [])


def eda_command(out: Path, data: str | None) -> list[str]:
    return [sys.executable, "-m", "scripts.eda", "--out", str(out), *(["--data", data] if data else [])]


def estimate(command: list[str], resume: bool) -> dict:
    """What the part says it would do (its --estimate line)."""
    result = subprocess.run([*command, "--estimate", *(["--resume"] if resume else [])], cwd=PROJECT_ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        return {"what": f"cannot estimate: {result.stderr.strip().splitlines()[-1] if result.stderr else '?'}",
                "seconds": 0.0, "complete": False}
    return json.loads(result.stdout.strip().splitlines()[-1])


def gpu_available() -> tuple[bool, str]:
    import torch
    if torch.cuda.is_available():
        return True, f"cuda ({torch.cuda.get_device_name()})"
    return False, "cpu"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", choices=["tuned", "assignment"], default="tuned",
                        help="tuned: this suite's recipes (make all); assignment: the assignment's (make reproduce)")
    parser.add_argument("--quick", action="store_true", help="Part 4's reduced grid and Part 5's quick recipe")
    parser.add_argument("--force", action="store_true", help="train every part again, even a complete one")
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS), help="only these parts")
    parser.add_argument("--data", metavar="PATH", help="CIFAR-10 source for every part (else the usual search)")
    parser.add_argument("--reports", metavar="DIR", default=str(REPORTS_DIR),
                        help="reports folder (default: %(default)s); the assignment's recipes go to DIR/assignment")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    gpu, device = gpu_available()
    reports = Path(args.reports)
    root = recipe_root(reports, args.recipe)
    command_name = "make reproduce" if args.recipe == "assignment" else "make all"
    steps, skipped = [], []
    for part in args.parts:
        command = part_command(part, args.recipe, args.quick, args.data, root / part)
        plan = estimate(command, resume=not args.force)
        if part == "part5" and args.recipe == "assignment" and not gpu:
            skipped.append((part, plan))
            continue
        steps.append((part, command + ([] if args.force else ["--resume"]), plan))
    print(f"Plan ({command_name}, device: {device}, reports in {root}):", file=sys.stderr)
    for part, _, plan in steps:
        state = "complete: kept" if plan["complete"] and not args.force else f"~{plan['seconds'] / 60:5.1f} min"
        print(f"  {part:<6} {state:<16} {plan['what']}", file=sys.stderr)
    for part, plan in skipped:
        print(f"  {part:<6} {'not run':<16} the assignment's 100-epoch recipe needs a GPU ({plan['what']}: about "
              f"{plan['seconds'] / 3600:.1f} h on this CPU); run make reproduce on a GPU machine", file=sys.stderr)
    total_estimate = sum(0 if plan["complete"] and not args.force else plan["seconds"] for _, _, plan in steps)
    print(f"  {'total':<6} ~{total_estimate / 60:5.1f} min{', after make eda' if args.recipe == 'tuned' else ''}, "
          f"then the report", file=sys.stderr)

    results, start_all = [], time.perf_counter()
    if args.recipe == "tuned":
        start = time.perf_counter()
        code = subprocess.call(eda_command(reports / "eda", args.data), cwd=PROJECT_ROOT)
        results.append({"step": "eda", "exit_code": code, "seconds": time.perf_counter() - start,
                        "estimated_seconds": 0.0})
    for i, (part, command, plan) in enumerate(steps, 1):
        log.info("[%d/%d] %s: %s", i, len(steps), part, " ".join(command[1:]))
        start = time.perf_counter()
        code = subprocess.call(command, cwd=PROJECT_ROOT, env=os.environ)
        results.append({"step": part, "exit_code": code, "seconds": time.perf_counter() - start,
                        "estimated_seconds": plan["seconds"]})
        if plan["complete"] and not args.force:  # its time is the earlier run's, not this invocation's
            results[-1].update(kept=True, recorded_seconds=read_record(root / part / "metrics.json")["timing"]
                               ["total_seconds"])
        log.info("[%d/%d] %s: %s after %.1f min (estimated %.1f)", i, len(steps), part, OUTCOMES.get(code, code),
                 results[-1]["seconds"] / 60, plan["seconds"] / 60)
        if code == EXIT_INTERRUPTED:
            log.warning("interrupted during %s; run %s again to pick up where it stopped", part, command_name)
            break
    else:
        code = subprocess.call([sys.executable, "-m", "scripts.build_report", "--reports", str(reports)],
                               cwd=PROJECT_ROOT)
        results.append({"step": "report", "exit_code": code, "seconds": 0.0, "estimated_seconds": 0.0})
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


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
