"""Part 4: activations x optimizers x initializations on the Part 3 network (numpy).

Grid: activation {sigmoid, ReLU, tanh} x optimizer {SGD, Momentum, Adam} x initialization
{small random N(0, 0.01^2), He, Xavier} on 3072-64-10 -- every combination, so every scenario
of the original assignment is in it. Fair: each (optimizer, activation) pair gets the learning
rate that did best on validation in a short sweep (each trial is the first few epochs of the
full run, at its learning rates); all get the same epochs, cosine schedule,
L2 and early stopping; ranking is by validation accuracy. The top configurations are rerun
with more seeds (mean +- std). ``--quick`` runs the same grid on a 10,000-image subset with
fewer epochs.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
from tqdm import tqdm

from common import grid as G
from common.cli import EXIT_INTERRUPTED, log, nonnegative_int, positive_int, run_main
from common.mlp_experiment import MLPDefaults, add_mlp_arguments, load_splits, model_config
from common.report import (STATUS_COMPLETE, STATUS_INCOMPLETE, atomic_write_text, csv_text, environment_info,
                           ensure_writable, git_commit, markdown_table, plot_confusion_matrix, plot_history,
                           plot_overlaid_curves, write_run_report)

PART, TITLE = "part4", "Part 4: activations x optimizers x initializations (3072-64-10)"
DEFAULTS = MLPDefaults(hidden=[64], batch_size=64, epochs=20, patience=5, schedule="cosine", l2=1e-3,
                       momentum=0.9, hflip=False)
QUICK = {"train_subset": 10_000, "epochs": 8, "sweep_epochs": 2}
COLUMNS = ["rank", "activation", "optimizer", "init", "lr", "val_acc", "test_acc", "test_macro_f1", "best_epoch",
           "epochs_run", "seconds", "status"]
FORMATS = {"lr": "g", "val_acc": ".4f", "test_acc": ".4f", "test_macro_f1": ".4f", "seconds": ".1f"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m parts.part4", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_mlp_arguments(parser, DEFAULTS, out=f"reports/{PART}", model_choices=False)
    group = parser.add_argument_group("grid")
    group.add_argument("--quick", action="store_true",
                       help=f"reduced run: {QUICK['train_subset']:,} training images, {QUICK['epochs']} epochs, "
                            f"{QUICK['sweep_epochs']}-epoch lr sweep")
    group.add_argument("--activations", nargs="+", choices=G.ACTIVATIONS, default=list(G.ACTIVATIONS))
    group.add_argument("--optimizers", nargs="+", choices=G.OPTIMIZERS, default=list(G.OPTIMIZERS))
    group.add_argument("--inits", nargs="+", choices=G.INITS, default=list(G.INITS))
    group.add_argument("--sweep-epochs", type=positive_int, default=4,
                       help="epochs of each learning-rate trial: the first epochs of the full run's schedule "
                            "(default: %(default)s)")
    group.add_argument("--top", type=nonnegative_int, default=3,
                       help="configurations rerun with more seeds (default: %(default)s)")
    group.add_argument("--seeds", type=positive_int, default=3,
                       help="seeds per top configuration, the first run included (default: %(default)s)")
    return parser


def main(args: argparse.Namespace) -> int:
    total_start = time.perf_counter()
    if args.quick:
        args.train_subset = args.train_subset or QUICK["train_subset"]
        args.epochs, args.sweep_epochs = QUICK["epochs"], QUICK["sweep_epochs"]
    out = ensure_writable(args.out)
    splits, source = load_splits(args, "multiclass")
    combos = list(itertools.product(args.activations, args.optimizers, args.inits))
    n_sweep = sum(len(G.LR_CANDIDATES[o]) for o in args.optimizers) * len(args.activations)
    n_total = n_sweep + len(combos) + args.top * (args.seeds - 1)
    log.info("plan: %d lr trials x %d epochs, %d grid runs x %d epochs, top %d x %d more seeds",
             n_sweep, args.sweep_epochs, len(combos), args.epochs, args.top, args.seeds - 1)

    status, note = STATUS_COMPLETE, ""
    records: list[G.RunRecord] = []
    sweep_rows: list[dict] = []
    seed_runs: dict[str, list[G.RunRecord]] = {}
    bar = tqdm(total=n_total, desc=PART, unit="run", disable=args.no_progress, dynamic_ncols=True)
    try:
        base = argparse.Namespace(**vars(args))
        chosen, sweep_rows = G.sweep_learning_rates(base, splits, args.sweep_epochs, optimizers=args.optimizers,
                                                    activations=args.activations, bar=bar)
        for activation, optimizer, init in combos:
            record = G.train_config(base, splits, activation=activation, optimizer=optimizer, init=init,
                                    lr=chosen[(optimizer, activation)], seed=args.seed)
            records.append(record)
            bar.update()
            log.info("%-28s lr %-7g val %.4f test %.4f (%d epochs, %.1f s%s)", record.name, record.lr,
                     record.val_acc, record.test_acc, record.epochs_run, record.seconds,
                     "" if record.status == STATUS_COMPLETE else f", {record.status}")
        for record in G.rank(records)[:args.top]:
            runs = [record]
            for seed in range(args.seed + 1, args.seed + args.seeds):
                runs.append(G.train_config(base, splits, activation=record.activation, optimizer=record.optimizer,
                                           init=record.init, lr=record.lr, seed=seed))
                bar.update()
            seed_runs[record.name] = runs
    except KeyboardInterrupt:
        status, note = STATUS_INCOMPLETE, f"interrupted after {len(records)} of {len(combos)} grid runs"
        log.warning("%s; writing what was measured", note)
    finally:
        bar.close()
    if not records:
        log.error("no grid run finished; nothing to report")
        return EXIT_INTERRUPTED
    _write_reports(args, out, records, sweep_rows, seed_runs, status, note, source, total_start)
    return EXIT_INTERRUPTED if status == STATUS_INCOMPLETE else 0


def _write_reports(args, out, records, sweep_rows, seed_runs, status, note, source, total_start):
    ranked = G.rank(records)
    rows = [{"rank": i + 1, **r.row()} for i, r in enumerate(ranked)]
    winner = ranked[0]
    atomic_write_text(out / "ranking.csv", csv_text(rows, COLUMNS))
    ranking_md = markdown_table(rows, COLUMNS, FORMATS)
    atomic_write_text(out / "ranking.md", f"# {TITLE}: ranking by validation accuracy\n\n{ranking_md}\n")
    sweep_md = markdown_table(sweep_rows, ["optimizer", "activation", "init", "lr", "val_acc", "status"],
                                {"lr": "g", "val_acc": ".4f"})
    seed_rows = G.seed_statistics(seed_runs)
    seed_md = markdown_table(seed_rows, ["configuration", "lr", "seeds", "val_acc_mean", "val_acc_std",
                                           "test_acc_mean", "test_acc_std"],
                               {k: ".4f" for k in ("val_acc_mean", "val_acc_std", "test_acc_mean", "test_acc_std")})
    figures = {
        "curves_by_optimizer.png": plot_overlaid_curves(G.best_curve_per(records, "optimizer"),
                                                        "Part 4: best configuration of each optimizer"),
        "curves_by_activation.png": plot_overlaid_curves(G.best_curve_per(records, "activation"),
                                                         "Part 4: best configuration of each activation"),
        "curves_by_init.png": plot_overlaid_curves(G.best_curve_per(records, "init"),
                                                   "Part 4: best configuration of each initialization"),
        "confusion_matrix.png": plot_confusion_matrix(np.array(winner.test_summary["confusion_matrix"]),
                                                      tuple(winner.test_summary["per_class"]),
                                                      f"Part 4 winner ({winner.name}): test confusion matrix"),
        "loss_curve.png": plot_history(winner.history, f"Part 4 winner ({winner.name})", winner.best_epoch),
    }
    train_seconds = sum(r.seconds for r in records) + sum(r.seconds for runs in seed_runs.values() for r in runs[1:])
    metrics = {
        "part": PART, "title": TITLE, "status": status, "status_note": note, "task": "multiclass",
        "classes": list(winner.test_summary["per_class"]),
        "winner": winner.row(), "parameters": winner.parameters,
        "throughput": {"train_images_per_second": winner.images_per_second},
        "test": {"accuracy": winner.test_acc, "macro_f1": winner.test_macro_f1,
                 "balanced_accuracy": winner.test_summary["balanced_accuracy"],
                 "per_class": winner.test_summary["per_class"],
                 "confusion_matrix": winner.test_summary["confusion_matrix"]},
        "ranking": rows, "lr_sweep": sweep_rows, "seeds": seed_rows,
        "extra_tables": {"Ranking (by validation accuracy)": ranking_md,
                         f"Top {len(seed_rows)} over seeds (mean +- std)": seed_md,
                         "Learning-rate sweep (validation accuracy)": sweep_md},
        "history": winner.history, "best_epoch": winner.best_epoch,
        "config": {**model_config(args), "quick": args.quick, "sweep_epochs": args.sweep_epochs,
                   "lr_candidates": G.LR_CANDIDATES, "reference_init": G.REFERENCE_INIT,
                   "activations": args.activations, "optimizers": args.optimizers, "inits": args.inits,
                   "top": args.top, "seeds": args.seeds},
        "seed": args.seed,
        "timing": {"train_seconds": train_seconds, "total_seconds": time.perf_counter() - total_start},
        "environment": environment_info("cpu"), "git_commit": git_commit(), "data_source": source,
    }
    write_run_report(out, metrics, figures)
    log.info("winner: %s, lr %g: validation %.4f, test %.4f; total %.0f s", winner.name, winner.lr, winner.val_acc,
             winner.test_acc, metrics["timing"]["total_seconds"])
    for row in seed_rows:
        log.info("%s over seeds %s: test %.4f +- %.4f", row["configuration"], row["seeds"], row["test_acc_mean"],
                 row["test_acc_std"])


if __name__ == "__main__":
    sys.exit(run_main(main, build_parser()))
