"""A domain with default generator settings: does it meet the new-domain targets, and how do peers do?

Issue 20's question: a user adds a table by params only (columns, features, a suite) and gives
the generator nothing but a CPU budget. For each domain (default: the real learning, records and
transactions data, ``../shared/data`` with ``params.real.yaml``), on the same splits:

- ``assay``: a generator with **default settings** (``GeneratorSpec`` defaults; from the domain's
  params only what describes the table: features, lookups, synthetic ids) and
  ``train.budget: {minutes: --minutes}`` (default 5), training-time privacy checks on;
- ``sdv tvae`` and ``sdv gc``: SDV's ``TVAESynthesizer`` and ``GaussianCopulaSynthesizer`` with
  their defaults (``pip install -c constraints-cpu.txt -e ".[sdv]"``; left out with a message
  when SDV is absent), fitted on the same train rows;
- ``baseline``: every column drawn independently from train.

All are measured by the evaluate stage's code (assay/metrics/evaluate.py) against the targets
below and printed as one table per domain with fit times. Run it on an idle machine: the
minutes budget buys as many steps as the machine's speed allows.

Usage: python benchmarks/new_domain.py [--domains learning records transactions] [--minutes 5 | --steps N]
       [--set model.n_embd=96 ...] [--train-rows 30000] [--sample-rows 20000] [--no-sdv] [--out FILE] [--tables-from FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from utility import ROOT, SHARED, cached, real_splits, sdv_generator, train_and_draw  # noqa: E402

# (report key, label, target, "min" or "max"): issue 20, item 7
TARGETS = (
    ("tstr_trtr_auc", "TSTR / TRTR ROC AUC", 0.95, "min"),
    ("detection_auc", "detection AUC", 0.65, "max"),
    ("dcr_p5_ratio", "DCR 5th-percentile ratio", 1.0, "min"),
    ("mia_auc", "membership-inference AUC", 0.55, "max"),
    ("parsed_share", "rows that parse", 1.0, "min"),
    ("validity_row_pass_share_critical", "rows passing every critical expectation", 0.99, "min"),
)
ALSO = (
    ("tstr_auc", "TSTR ROC AUC"),
    ("tstr_trtr_average_precision", "TSTR / TRTR average precision"),
    ("tstr_trtr_f1_at_0_5", "TSTR / TRTR F1 at 0.5"),
    ("dcr_median_ratio", "DCR median ratio"),
    ("exact_copy_rate", "exact copies of train rows"),
    ("exact_copy_excess", "exact copies, minus holdout's"),
    ("modelled_copy_excess", "copies over the modelled columns, minus holdout's"),
    ("unique_row_copy_excess", "copies of rows unique in train, minus holdout's"),
)
SOURCES = {"generator": "assay", "tvae": "sdv tvae", "gaussian_copula": "sdv gc", "baseline": "baseline"}


def default_generator_spec(domain: str, budget: dict[str, float], overrides: dict[str, Any] | None = None):
    """The domain's generator params reduced to what describes the table, plus a training budget
    and any ``--set`` overrides (``{"model.n_embd": 96}``: a setting other than the default, tried)."""
    from assay.config import GeneratorSpec, load_params

    params = load_params(ROOT / "params.real.yaml").domain(domain)
    table = params.generator.model_dump(include={"kind", "features", "text_column", "lookups", "synthetic_ids"})
    spec = {**table, "train": {"budget": budget}}
    for dotted, value in (overrides or {}).items():
        *parents, name = dotted.split(".")
        node = spec
        for parent in parents:
            node = node.setdefault(parent, {})
        node[name] = value
    # as the train stage does: the utility target first, unless target_first is set false
    return params.model_copy(update={"generator": GeneratorSpec.model_validate(spec)}).trained_generator()


def parse_override(text: str) -> tuple[str, Any]:
    """``model.n_embd=96`` -> ``("model.n_embd", 96)``; the value is JSON, else a string."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"--set {text!r}: expected section.key=value, e.g. model.n_embd=96")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def assay_default(
    domain: str, train: pl.DataFrame, dev: pl.DataFrame, rows: int, budget: dict[str, float], work: Path, overrides: dict[str, Any] | None = None
) -> tuple[pl.DataFrame, float, float, dict[str, Any]]:
    from assay.config import load_params

    spec = default_generator_spec(domain, budget, overrides)
    group_by = load_params(ROOT / "params.real.yaml").domain(domain).split.group_columns  # as the train stage passes them
    synthetic, fit, sample, metrics, drawn = train_and_draw(domain, spec, train, dev, rows, work / "new_domain" / domain, group_by=group_by)
    info = {
        "parsed_share": synthetic.height / drawn if drawn else None,
        "plan": metrics["plan"]["why"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "train_seconds": metrics["train_seconds"],
        "stopped_by_deadline": metrics["stopped_by_deadline"],
        "steps_run": metrics.get("steps_run"),
        "replans": metrics.get("replans", []),
    }
    return synthetic, fit, sample, info


def run(domain: str, args: argparse.Namespace) -> dict[str, Any]:
    from assay.config import load_params
    from assay.metrics.evaluate import evaluate_frames
    from assay.quality.validate import load_suite

    splits = real_splits(domain, args.work)
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    fit_rows = train.sample(n=min(train.height, args.train_rows), shuffle=True, seed=0)
    rows = min(args.sample_rows, fit_rows.height)
    print(
        f"{domain}: real train {train.height:,} / dev {dev.height:,} / test {test.height:,}; every generator fits the same {fit_rows.height:,} train rows",
        flush=True,
    )
    timing: dict[str, dict[str, Any]] = {}
    budget = {"steps": args.steps} if args.steps else {"minutes": args.minutes}
    overrides = dict(args.set)
    settings = "".join(f"-{k}={v}" for k, v in sorted(overrides.items()))
    if len(settings) > 80:  # a whole features list does not fit in a folder name
        settings = "-set" + hashlib.sha256(settings.encode()).hexdigest()[:12]
    key = f"rows{fit_rows.height}-{'-'.join(f'{k}{v:g}' for k, v in budget.items())}-sample{rows}" + settings
    synthetic, timing["generator"] = cached(
        args.work / "new_domain" / domain / key, lambda: assay_default(domain, fit_rows, dev, rows, budget, args.work, overrides)
    )
    print(
        f"  assay (defaults): {timing['generator']['plan']}; ran {timing['generator'].get('steps_run') or '?'} steps "
        f"({timing['generator']['epochs_run']:g} epochs, {len(timing['generator'].get('replans', []))} re-plans by the clock), "
        f"trained {timing['generator']['train_seconds']:.0f} s, fit {timing['generator']['fit_s']:.0f} s",
        flush=True,
    )
    others: dict[str, pl.DataFrame] = {}
    if args.sdv:
        for name in ("tvae", "gaussian_copula"):
            try:
                others[name], timing[name] = cached(
                    args.work / "sdv" / domain / f"{name}-rows{fit_rows.height}-sample{rows}",
                    lambda name=name: (*sdv_generator(domain, fit_rows, rows, seed=0, synthesizer=name), {}),
                )
                print(f"  {SOURCES[name]}: fit {timing[name]['fit_s']:.0f} s", flush=True)
            except ImportError:
                print('  SDV not installed: pip install -c constraints-cpu.txt -e ".[sdv]" (left out)')
                break
            except Exception as exc:  # a peer failing is a result to report, not a reason to lose the rest
                print(f"  {SOURCES[name]} failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    spec = load_params(ROOT / "params.real.yaml").domain(domain)
    report, _ = evaluate_frames(domain, spec, train, dev, test, synthetic, load_suite(ROOT / f"expectations/{domain}.json"), others=others)
    report["generator"]["parsed_share"] = timing["generator"]["parsed_share"]
    holdout = pl.concat([dev, test], how="diagonal_relaxed")
    for source, frame in {"generator": synthetic, **others}.items():
        report[source].update(copy_rates(train, holdout, frame, spec.generator.features))
    return {"domain": domain, "train_rows_fit": fit_rows.height, "synthetic_rows": rows, "timing": timing, "report": report}


def copy_rates(train: pl.DataFrame, holdout: pl.DataFrame, synthetic: pl.DataFrame, features: list[str]) -> dict[str, float]:
    """Copies of train rows over the modelled columns, minus the holdout's natural rate: of any
    train row, and of a train row that occurs once in train (the rows that single out a person;
    a table with few columns repeats common rows in fresh data too)."""
    import numpy as np

    from assay.metrics.privacy import exact_copy_rate, raw_row_hashes

    columns = [name for name in features if name in synthetic.columns and name in train.columns]
    train_hashes = raw_row_hashes(train, columns)
    seen, counts = np.unique(train_hashes, return_counts=True)
    once = seen[counts == 1].reshape(-1, 1)

    def rates(frame: pl.DataFrame) -> tuple[float, float]:
        hashes = raw_row_hashes(frame, columns)
        return exact_copy_rate(hashes, train_hashes), exact_copy_rate(hashes, once)

    (any_row, unique_row), (any_holdout, unique_holdout) = rates(synthetic), rates(holdout)
    return {"modelled_copy_excess": round(any_row - any_holdout, 6), "unique_row_copy_excess": round(unique_row - unique_holdout, 6)}


def _cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def farther(figures: dict[str, Any]) -> bool:
    """The DCR ratio is undefined because holdout's 5th percentile is 0 and the source's is not (as the gate reads it)."""
    return figures.get("dcr_p5_ratio") is None and bool(figures.get("dcr_p5"))


def _target_cell(key: str, figures: dict[str, Any]) -> str:
    return "farther (holdout p5 is 0)" if key == "dcr_p5_ratio" and farther(figures) else _cell(figures.get(key))


def print_table(result: dict[str, Any]) -> bool:
    """The domain's table; True when Assay's generator meets every target."""
    report, timing = result["report"], result["timing"]
    sources = [source for source in SOURCES if source in report]
    print(f"\n{result['domain']} (target {report['target']}; TRTR ROC AUC {_cell(report.get('trtr_auc'))})")
    print("| measure | target | " + " | ".join(SOURCES[s] for s in sources) + " |")
    print("|---|---|" + "---|" * len(sources))
    met = True
    for key, label, target, kind in TARGETS:
        value = report["generator"].get(key)
        ok = value is not None and (value >= target if kind == "min" else value <= target)
        ok |= key == "dcr_p5_ratio" and farther(report["generator"])
        met &= ok
        cells = [_target_cell(key, report[s]) + ("" if s != "generator" else " ok" if ok else " MISSED") for s in sources]
        print(f"| {label} | {'>=' if kind == 'min' else '<='} {target:g} | " + " | ".join(cells) + " |")
    for key, label in ALSO:
        print(f"| {label} | | " + " | ".join(_cell(report[s].get(key)) for s in sources) + " |")
    # How far the test rows alone move the ratio (bootstrap over test, paired with TRTR): a run's
    # figure and the target can differ by less than this.
    intervals = [report.get("intervals", {}).get(s, {}).get("tstr_trtr_auc") for s in sources]
    cells = ["-" if interval is None else f"{interval[0]:.3f} to {interval[1]:.3f}" for interval in intervals]
    print("| TSTR / TRTR ROC AUC, 95% interval over test resamples | | " + " | ".join(cells) + " |")
    print("| fit time (s) | | " + " | ".join(_cell(timing.get(s, {}).get("fit_s")) for s in sources) + " |")
    return met


def print_verdict(met: dict[str, bool]) -> None:
    print("\ntargets met with default settings: " + ", ".join(f"{d} {'yes' if ok else 'no'}" for d, ok in met.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", nargs="*", default=["learning", "records", "transactions"])
    parser.add_argument("--minutes", type=float, default=5.0, help="Assay's training budget (train.budget.minutes).")
    parser.add_argument(
        "--steps", type=int, default=None, help="A budget in optimiser steps instead (train.budget.steps): repeats a minutes run's plan on a busy machine."
    )
    parser.add_argument("--train-rows", type=int, default=30_000, help="Train rows every generator fits (the peers' CPU time grows with them).")
    parser.add_argument("--sample-rows", type=int, default=20_000, help="Synthetic rows per generator.")
    parser.add_argument(
        "--set",
        type=parse_override,
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="A generator setting other than the default, e.g. model.n_embd=96 or train.learning_rate=0.004 (repeatable).",
    )
    parser.add_argument("--no-sdv", dest="sdv", action="store_false", help="Leave SDV out.")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "assay-utility-bench", help="Cache of real splits, models and samples.")
    parser.add_argument("--out", type=Path, default=None, help="Write every figure here as JSON.")
    parser.add_argument("--tables-from", type=Path, default=None, help="Print the tables of an earlier run's --out file; run nothing.")
    args = parser.parse_args()
    if args.tables_from:
        met = {result["domain"]: print_table(result) for result in json.loads(args.tables_from.read_text())}
        print_verdict(met)
        return
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED} (see README, 'Real data')")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    results, met = [], {}
    for domain in args.domains:
        result = run(domain, args)
        met[domain] = print_table(result)
        results.append(result)
    print_verdict(met)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
