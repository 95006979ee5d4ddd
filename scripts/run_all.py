"""`make all`: run Parts 1-5 and build the report, with a plan up front and a summary at the end.

Each part runs as its own process, so one failing part is reported and the others still run.
Estimates come from the part's previous run when there is one, else from the runtimes measured
on a 2-core CPU when the suite was written (see the README).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common.cli import log, run_main
from common.data import PROJECT_ROOT
from common.report import atomic_write_json, git_commit, now_iso

# Rough wall times (s) on a 2-core CPU, used only when a part has no previous run to go by.
FALLBACK_ESTIMATES = {"part1": 15, "part2": 60, "part3": 60, "part4": 600, "part4 --quick": 150, "part5 quick": 780,
                      "part5 best": 3600, "report": 2}


def plan(quick: bool, gpu: bool, reports: Path) -> list[tuple[str, list[str], float]]:
    steps = []
    for part in ("part1", "part2", "part3"):
        steps.append((part, [sys.executable, "-m", f"parts.{part}"], _estimate(reports, part, part)))
    part4_args = ["--quick"] if quick else []
    steps.append(("part4" + (" --quick" if quick else ""), [sys.executable, "-m", "parts.part4", *part4_args],
                  _estimate(reports, "part4", "part4 --quick" if quick else "part4")))
    profile = "best" if gpu and not quick else "quick"
    steps.append((f"part5 {profile}", [sys.executable, "-m", "parts.part5", "--profile", profile],
                  _estimate(reports, "part5", f"part5 {profile}")))
    steps.append(("report", [sys.executable, "-m", "scripts.build_report"], FALLBACK_ESTIMATES["report"]))
    return steps


def _estimate(reports: Path, part: str, key: str) -> float:
    path = reports / part / "metrics.json"
    try:
        previous = json.loads(path.read_text())
        config = previous.get("config", {})
        same_kind = (part != "part4" or bool(config.get("quick")) == key.endswith("--quick")) and \
                    (part != "part5" or key.endswith(previous.get("profile", "")))
        if same_kind and previous.get("status") == "complete":
            return float(previous["timing"]["total_seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return FALLBACK_ESTIMATES[key]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.run_all", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="Part 4's reduced grid and Part 5's quick profile")
    parser.add_argument("--debug", action="store_true")
    return parser


def main(args: argparse.Namespace) -> int:
    import torch

    gpu = torch.cuda.is_available()
    device = f"cuda ({torch.cuda.get_device_name()})" if gpu else "cpu"
    reports = PROJECT_ROOT / "reports"
    steps = plan(args.quick, gpu, reports)
    total_estimate = sum(s[2] for s in steps)
    print(f"Plan (device: {device}):", file=sys.stderr)
    for name, command, estimate in steps:
        print(f"  {name:<16} ~{estimate / 60:5.1f} min   {' '.join(command[1:])}", file=sys.stderr)
    print(f"  {'total':<16} ~{total_estimate / 60:5.1f} min", file=sys.stderr)
    results = []
    start_all = time.perf_counter()
    for name, command, estimate in steps:
        log.info("running %s", name)
        start = time.perf_counter()
        code = subprocess.call(command, cwd=PROJECT_ROOT)
        results.append((name, code, time.perf_counter() - start, estimate))
        if code == 130:
            log.warning("interrupted during %s; stopping", name)
            break
    total = time.perf_counter() - start_all
    print("\nSummary:", file=sys.stderr)
    for name, code, seconds, estimate in results:
        outcome = {0: "ok", 1: "diverged", 2: "error", 130: "interrupted"}.get(code, f"exit {code}")
        print(f"  {name:<16} {outcome:<12} {seconds / 60:6.1f} min (estimated {estimate / 60:.1f})", file=sys.stderr)
    print(f"  {'total':<16} {'':<12} {total / 60:6.1f} min   -> reports/index.html", file=sys.stderr)
    atomic_write_json(reports / "run_all.json", {
        "device": device, "quick": args.quick, "total_seconds": total, "estimated_seconds": total_estimate,
        "steps": [{"step": n, "exit_code": c, "seconds": s, "estimated_seconds": e} for n, c, s, e in results],
        "git_commit": git_commit(), "created": now_iso()})
    failed = [r for r in results if r[1] != 0]
    return failed[0][1] if failed else 0


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
