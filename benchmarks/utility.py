"""Synthetic-data tests on the real data: Assay's generator, the naive baseline and SDV, side by side.

For records and transactions (../shared/data, with params.real.yaml): ingest, clean and split as
the pipeline does, then make synthetic data three ways from the same train split and measure each
with the evaluate stage's code (assay/metrics/evaluate.py: validity, fidelity, utility, privacy):

- ``assay``: the domain's generator with the CPU profile's settings (params.real.yaml: same
  model as params.yaml), trained on at most ``--train-rows`` train rows for ``--epochs`` epochs,
  watching at most 5,000 dev rows, training-time privacy checks off unless ``--privacy-guard``
  (a CPU budget; the GPU profile trains far longer on all rows);
- ``baseline``: every column drawn independently from the whole train split;
- ``sdv``: SDV's ``GaussianCopulaSynthesizer`` fitted on the same train rows as ``assay``
  (optional: ``pip install -c constraints-cpu.txt -e ".[sdv]"``; skipped with a message if absent).

Each synthetic set has ``--sample-rows`` rows and gets ids, lookups and derived columns as
``synthesize`` gives them. Prints one table per domain with fit and sample times and writes
everything to ``--out`` (JSON).

Usage: python benchmarks/utility.py [--domains records transactions] [--train-rows 30000] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
SHARED = ROOT.parent / "shared" / "data"
MISSING = "(assay missing)"
DEV_ROWS = 5_000  # dev rows watched for early stopping (the whole dev split would cost more than training)

ROWS = (
    ("validity_row_pass_share", "rows passing all row-level expectations"),
    ("validity_row_pass_share_critical", "... critical ones"),
    ("column_similarity", "column similarity (KS/TV complement)"),
    ("pair_similarity", "pairwise association similarity"),
    ("detection_auc", "detection AUC (0.5 best)"),
    ("tstr_auc", "TSTR ROC AUC (hist. gradient boosting)"),
    ("tstr_trtr_auc", "TSTR / TRTR ROC AUC"),
    ("tstr_trtr_average_precision", "TSTR / TRTR average precision"),
    ("tstr_f1_at_0_5", "TSTR F1 at 0.5"),
    ("augmentation_auc_lift", "AUC lift, 10% real + synthetic"),
    ("dcr_p5_ratio", "DCR p5 ratio to holdout (>= 1 best)"),
    ("dcr_median_ratio", "DCR median ratio to holdout"),
    ("closer_to_train_share", "nearer train than holdout (0.5 best)"),
    ("exact_copy_rate", "exact copies of train rows"),
    ("mia_auc", "membership-inference AUC (0.5 best)"),
)


def real_splits(domain: str, work: Path) -> dict[str, pl.DataFrame]:
    """train/dev/test of the real data, as the pipeline makes them (cached under ``work``)."""
    from assay.config import load_params
    from assay.data.clean import clean_frame, pseudonym_key
    from assay.data.split import split_frame
    from assay.ingest.sources import ingest_domain

    folder = work / "splits" / domain
    if not (folder / "test.parquet").is_file():
        spec = load_params(ROOT / "params.real.yaml").domain(domain)
        interim, _ = ingest_domain(domain, spec, ROOT)
        # $ASSAY_PSEUDONYM_KEY when set; the demo key is accepted (with a warning) for splits that stay in `work`.
        clean = clean_frame(interim, spec, pseudonym_key(real_data=True, allow_demo_key=True).secret).clean
        identifiers = [name for name, column in spec.columns.items() if column.identifier]
        result = split_frame(clean, spec.split, identifiers)
        folder.mkdir(parents=True, exist_ok=True)
        for name, part in result.splits.items():
            part.write_parquet(folder / f"{name}.parquet")
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in ("train", "dev", "test")}


def train_and_draw(
    domain: str, generator: Any, train: pl.DataFrame, dev: pl.DataFrame, rows: int, folder: Path, reuse: Any = None, group_by: list[str] | None = None
) -> tuple[pl.DataFrame, float, float, dict[str, Any], int]:
    """Train ``generator`` (a GeneratorSpec) on ``train`` under ``folder`` and draw ``rows``.

    ``group_by`` names the split's group columns, as the train stage passes them: the training-time
    privacy checks then split dev and sample references one row per group (a customer's lines never
    on both sides).

    Returns the assembled synthetic rows, fit and sample seconds, the training metrics and the
    number of rows drawn before parsing. ``reuse(metrics)`` may accept a model an earlier,
    interrupted run left in ``folder`` (its fit time is then the recorded one).
    """
    import torch

    from assay.config import load_params
    from assay.generator.model import pick_device
    from assay.generator.sampling import assemble
    from assay.generator.training import train_on_splits
    from assay.generator.variants import load_generator

    folder.mkdir(parents=True, exist_ok=True)
    train.write_parquet(folder / "train.parquet")
    dev.sample(n=min(dev.height, DEV_ROWS), shuffle=True, seed=0).write_parquet(folder / "dev.parquet")
    previous = folder / "model" / "metrics.json"
    metrics = json.loads(previous.read_text()) if previous.is_file() else {}
    if reuse is not None and metrics and reuse(metrics):
        fit = metrics["train_seconds"]
    else:
        started = time.perf_counter()
        metrics = train_on_splits(
            domain,
            generator,
            folder / "train.parquet",
            folder / "dev.parquet",
            folder / "model",
            folder / "live",
            folder / "ckpt",
            device=pick_device(),
            group_by=group_by,
        )
        fit = time.perf_counter() - started
    trained = load_generator(folder / "model")
    torch.manual_seed(generator.sample.seed)
    started = time.perf_counter()
    sampled, drawn = trained.draw(rows, generator.sample.batch_size, generator.sample.temperature, np.random.default_rng(generator.sample.seed))
    sample = time.perf_counter() - started
    spec = load_params(ROOT / "params.real.yaml").domain(domain)
    return assemble(sampled, spec, dict(train.schema), train), fit, sample, metrics, drawn


def assay_generator(
    domain: str, train: pl.DataFrame, dev: pl.DataFrame, rows: int, epochs: int, work: Path, privacy_guard: bool
) -> tuple[pl.DataFrame, float, float, dict[str, Any]]:
    from assay.config import GeneratorSpec, load_params

    settings = load_params(ROOT / "params.real.yaml").domain(domain).trained_generator().model_dump()
    settings["train"] = {**settings["train"], "max_epochs": epochs}
    if "privacy" in settings:  # the training-time privacy guard has its own benchmark (privacy_training.py)
        settings["privacy"] = {**settings["privacy"], "enabled": privacy_guard}
    generator = GeneratorSpec.model_validate(settings)

    def same_settings(metrics: dict[str, Any]) -> bool:  # a model from an earlier run with these settings (interrupted before sampling)
        guarded = metrics.get("privacy", {}).get("enabled", False)
        return metrics.get("train_rows") == train.height and metrics.get("epochs_run") == epochs and guarded == privacy_guard

    synthetic, fit, sample, metrics, _ = train_and_draw(domain, generator, train, dev, rows, work / "assay" / domain, reuse=same_settings)
    info = {key: metrics[key] for key in ("epochs_run", "parameters", "device")} | {"best_dev_loss": round(metrics["best_dev_loss"], 4)}
    return synthetic, fit, sample, info


def sdv_generator(domain: str, train: pl.DataFrame, rows: int, seed: int, synthesizer: str = "gaussian_copula") -> tuple[pl.DataFrame, float, float]:
    """Rows from SDV's ``GaussianCopulaSynthesizer`` (``synthesizer="gaussian_copula"``) or ``TVAESynthesizer`` (``"tvae"``, default settings)."""
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer, TVAESynthesizer

    from assay.config import load_params
    from assay.generator.sampling import assemble
    from assay.metrics.evaluate import modelled_columns

    spec = load_params(ROOT / "params.real.yaml").domain(domain)
    strings = [name for name in modelled_columns(spec) if train.schema[name] == pl.String]
    # rdt's categorical encoder (with pandas 3) gives missing values a NaN interval and fails: a
    # missing string becomes a category of its own, and missing again after sampling.
    frame = train.select(modelled_columns(spec)).with_columns(pl.col(strings).fill_null(MISSING)).to_pandas()
    metadata = Metadata.detect_from_dataframe(frame, table_name=domain)
    for name in frame.columns:  # strings with many values (codes, products) are categories, not ids or free text
        if train.schema[name] == pl.String:
            metadata.update_column(column_name=name, sdtype="categorical", table_name=domain)
    started = time.perf_counter()
    model = (
        GaussianCopulaSynthesizer(metadata, enforce_min_max_values=True)
        if synthesizer == "gaussian_copula"
        else TVAESynthesizer(metadata, enforce_min_max_values=True)
    )
    np.random.seed(seed)
    torch.manual_seed(seed)
    model.fit(frame)
    fit = time.perf_counter() - started
    started = time.perf_counter()
    sampled = model.sample(num_rows=rows)
    sample = time.perf_counter() - started
    sampled_pl = pl.from_pandas(sampled).with_columns([pl.col(name).cast(train.schema[name], strict=False) for name in sampled.columns])
    sampled_pl = sampled_pl.with_columns([pl.when(pl.col(name) == MISSING).then(None).otherwise(pl.col(name)).alias(name) for name in strings])
    return assemble(sampled_pl, spec, dict(train.schema), train), fit, sample


def run(domain: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from assay.config import load_params
    from assay.metrics.evaluate import evaluate_frames
    from assay.quality.validate import load_suite

    splits = real_splits(domain, work)
    train, dev, test = splits["train"], splits["dev"], splits["test"]
    fit_rows = train.sample(n=min(train.height, args.train_rows), shuffle=True, seed=0)
    rows = min(args.sample_rows, train.height)
    sizes = f"real train {train.height:,} / dev {dev.height:,} / test {test.height:,} rows"
    print(f"{domain}: {sizes}; generators fit on {fit_rows.height:,} train rows; {rows:,} synthetic rows each", flush=True)
    timing: dict[str, dict[str, Any]] = {"baseline": {"fit_s": None, "sample_s": None}}  # drawn inside the evaluation, in well under a second
    key = f"rows{fit_rows.height}-epochs{args.epochs}-sample{rows}-guard{int(args.privacy_guard)}"
    synthetic, timing["generator"] = cached(
        work / "assay" / domain / key, lambda: assay_generator(domain, fit_rows, dev, rows, args.epochs, work, args.privacy_guard)
    )
    info = timing["generator"]
    print(
        f"  assay generator: {info['epochs_run']:g} epoch(s), dev loss {info['best_dev_loss']}, fit {info['fit_s']:.0f} s, sample {info['sample_s']:.0f} s",
        flush=True,
    )
    others = {}
    if args.sdv:
        try:
            others["sdv"], timing["sdv"] = cached(
                work / "sdv" / domain / f"rows{fit_rows.height}-sample{rows}", lambda: (*sdv_generator(domain, fit_rows, rows, seed=0), {})
            )
            print(f"  SDV GaussianCopula: fit {timing['sdv']['fit_s']:.0f} s, sample {timing['sdv']['sample_s']:.0f} s", flush=True)
        except ImportError:
            print('  SDV not installed: pip install -c constraints-cpu.txt -e ".[sdv]" (skipped)')
        except Exception as exc:  # a third-party model failing is a result to report, not a reason to lose the others
            print(f"  SDV GaussianCopula failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    spec = load_params(ROOT / "params.real.yaml").domain(domain)
    started = time.perf_counter()
    report, _ = evaluate_frames(domain, spec, train, dev, test, synthetic, load_suite(ROOT / f"expectations/{domain}.json"), others=others)
    evaluate_s = time.perf_counter() - started
    print(f"  evaluation of {2 + len(others)} synthetic sets: {evaluate_s:.0f} s", flush=True)
    return {"domain": domain, "train_rows_fit": fit_rows.height, "synthetic_rows": rows, "timing": timing, "evaluate_s": evaluate_s, "report": report}


def cached(folder: Path, make: Any) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A synthetic set and its timings from ``folder`` if an earlier run left them, else ``make()`` and keep them."""
    data, meta = folder / "synthetic.parquet", folder / "timing.json"
    if data.is_file() and meta.is_file():
        return pl.read_parquet(data), {**json.loads(meta.read_text()), "cached": True}
    frame, fit, sample, info = make()
    folder.mkdir(parents=True, exist_ok=True)
    timing = {"fit_s": fit, "sample_s": sample, **info}
    frame.write_parquet(data)
    meta.write_text(json.dumps(timing))
    return frame, timing


def limit_threads(threads: int) -> None:
    """Run torch and OpenMP on ``threads`` threads, including inside training (``pick_device`` reads
    ``ASSAY_NUM_THREADS``, so the device handed to training carries the same count).

    On a machine other processes are using, OpenMP's spinning barriers make every core slower than
    one: sampling 1,024 records rows took 95 s on 2 busy cores and 5 s on 1.
    """
    import os

    import torch
    from threadpoolctl import threadpool_limits

    from assay.generator.model import THREADS_ENV

    os.environ[THREADS_ENV] = str(threads)
    torch.set_num_threads(threads)
    threadpool_limits(limits=threads, user_api="openmp")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def print_table(result: dict[str, Any]) -> None:
    report, timing = result["report"], result["timing"]
    sources = [source for source in ("generator", "baseline", "sdv") if source in report]
    names = {"generator": "assay", "baseline": "baseline", "sdv": "sdv gc"}
    floor = f"TRTR ROC AUC {_cell(report['trtr_auc'])}, majority-class accuracy {_cell(report['majority_accuracy'])}"
    print(f"\n{result['domain']} (target: {report['target']}; {floor})")
    print(f"| {'measure':<42} | " + " | ".join(f"{names[s]:>9}" for s in sources) + f" | {'holdout':>8} |")
    print(f"|{'-' * 44}|" + "|".join("-" * 11 for _ in sources) + "|----------|")
    holdout = report["holdout"]
    reference = {"validity_row_pass_share": holdout.get("validity_row_pass_share"), "exact_copy_rate": holdout.get("exact_copy_rate")}
    for key, label in ROWS:
        print(f"| {label:<42} | " + " | ".join(f"{_cell(report[s].get(key)):>9}" for s in sources) + f" | {_cell(reference.get(key)):>8} |")
    for key, label in (("fit_s", "fit time (s)"), ("sample_s", "sample time (s)")):
        print(f"| {label:<42} | " + " | ".join(f"{_cell(timing.get(s, {}).get(key)):>9}" for s in sources) + f" | {'':>8} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", nargs="*", default=["records", "transactions"])
    parser.add_argument("--train-rows", type=int, default=30_000, help="Train rows the generators are fitted on (CPU budget).")
    parser.add_argument("--sample-rows", type=int, default=30_000, help="Synthetic rows per generator.")
    parser.add_argument("--epochs", type=int, default=3, help="Epochs for Assay's generator.")
    parser.add_argument("--no-sdv", dest="sdv", action="store_false", help="Leave SDV out.")
    parser.add_argument("--privacy-guard", action="store_true", help="Keep the training-time privacy checks on (off by default: evaluation measures privacy).")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch and OpenMP (1 on a machine others are using).")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "assay-utility-bench", help="Cache of real splits and models.")
    parser.add_argument("--out", type=Path, default=None, help="Write every figure here as JSON.")
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED} (see README, 'Real data')")
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    if args.threads:
        limit_threads(args.threads)
    results = []
    for domain in args.domains:
        result = run(domain, args, args.work)
        print_table(result)
        results.append(result)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
