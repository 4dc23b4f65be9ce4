"""Privacy-aware training on the real records data: checks on vs off, side by side (issue 8).

Three phases, run one after the other by default (``all``), or one at a time so that training
can run on a GPU machine and evaluation here:

- ``prepare``: builds the real clean records (params.real.yaml), splits them as the pipeline
  does, caps train and dev (``--train-rows``, ``--dev-rows``) and writes the splits to ``--work``;
- ``train``: trains the CPU-profile generator on those splits once per mode (``off``, and ``on``
  once per ``--checks`` value: rows sampled per privacy check[:dev reference rows]), samples as many synthetic
  rows as train has, and writes ``<mode>/synthetic.parquet`` and ``<mode>/result.json`` (checks,
  chosen epoch, times, device) to ``--results``;
- ``evaluate``: evaluates each mode's synthetic rows with the ``evaluate`` stage's own code
  (TSTR/TRTR ROC AUC, detection AUC, DCR ratios to holdout rows, exact copies, closer-to-train
  share; ``--distance-rows`` sets its ``max_distance_rows``) and prints them side by side.

Time on 2 CPU cores: about 75 s per epoch for 30k train rows.

Usage:
  python benchmarks/privacy_training.py [all] [--train-rows 30000] [--max-epochs 10]
  python benchmarks/privacy_training.py prepare --work .bench --train-rows 0
  python benchmarks/privacy_training.py train --work .bench --results OUT --checks 1500 6000:5000
  python benchmarks/privacy_training.py evaluate --work .bench --results OUT --distance-rows 20000
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
SHARED = ROOT.parent / "shared" / "data"
SPLITS = ("train", "dev", "test")
DOMAIN_FILE = "domain.json"


def flat(prefix: str, data: object, out: dict[str, object]) -> dict[str, object]:
    if isinstance(data, dict):
        for key, value in data.items():
            flat(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = data
    return out


def records_domain(work: Path | None = None):
    """The real profile's records params; from ``work`` once prepared, so that the train and
    evaluate phases run where ../shared is absent (a GPU machine) with the params used to split."""
    from assay.config import DomainSpec, load_params

    if work is not None and (work / DOMAIN_FILE).is_file():
        return DomainSpec.model_validate_json((work / DOMAIN_FILE).read_text())
    return load_params(ROOT / "params.real.yaml").domain("records")


def prepare(work: Path, train_rows: int, dev_rows: int) -> None:
    """Clean and split the real records; ``0`` keeps a split whole."""
    from assay.data.clean import clean_frame
    from assay.data.split import split_frame
    from assay.ingest.sources import ingest_domain

    domain = records_domain()
    interim, _ = ingest_domain("records", domain, ROOT)
    clean = clean_frame(interim, domain, b"bench-key").clean
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    splits = split_frame(clean, domain.split, identifiers).splits
    caps = {"train": train_rows, "dev": dev_rows, "test": 0}
    work.mkdir(parents=True, exist_ok=True)
    for name in SPLITS:
        frame = splits[name]
        if caps[name] and frame.height > caps[name]:
            frame = frame.sample(n=caps[name], shuffle=True, seed=0)
        frame.write_parquet(work / f"{name}.parquet")
        print(f"{name}: {frame.height:,} rows -> {work / f'{name}.parquet'}")
    (work / DOMAIN_FILE).write_text(domain.model_dump_json(indent=2))


def train(work: Path, results: Path, max_epochs: int, checks: list[str], with_off: bool = True, temperatures: list[float] | None = None) -> None:
    """Train once per mode on the prepared splits; keep synthetic rows and the training record."""
    import numpy as np
    import polars as pl
    import torch

    from assay.config import GeneratorSpec
    from assay.generator.model import pick_device
    from assay.generator.sampling import assemble
    from assay.generator.training import train_on_splits
    from assay.generator.variants import load_generator

    domain = records_domain(work)
    train_frame = pl.read_parquet(work / "train.parquet")
    modes: dict[str, dict[str, int] | None] = {"off": None} if with_off else {}
    for check in checks:  # "SAMPLE_ROWS" or "SAMPLE_ROWS:REFERENCE_ROWS"
        sample_rows, _, reference_rows = check.partition(":")
        modes[f"on-{check.replace(':', '-')}"] = {"sample_rows": int(sample_rows), **({"reference_rows": int(reference_rows)} if reference_rows else {})}
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({platform.processor() or platform.machine()})"
    for mode, overrides in modes.items():
        base = domain.trained_generator().model_dump()
        privacy = {**base["privacy"], "enabled": overrides is not None, **(overrides or {})}
        spec = GeneratorSpec.model_validate({**base, "train": {**base["train"], "max_epochs": max_epochs}, "privacy": privacy})
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            started = time.perf_counter()
            metrics = train_on_splits(
                "records",
                spec,
                work / "train.parquet",
                work / "dev.parquet",
                folder / "model",
                folder / "live",
                folder / "ckpt",
                device=pick_device(),
                group_by=domain.split.group_columns,
            )
            train_seconds = time.perf_counter() - started
            trained = load_generator(folder / "model")
            trained.model.to(pick_device().kind)
            for temperature in temperatures or [spec.sample.temperature]:
                started = time.perf_counter()
                sampled, _ = trained.draw(train_frame.height, spec.sample.batch_size, temperature, np.random.default_rng(spec.sample.seed))
                sample_seconds = time.perf_counter() - started
                name = mode if temperature == spec.sample.temperature else f"{mode}-t{temperature:g}"
                synthetic = assemble(sampled, domain, dict(train_frame.schema), train_frame)
                (results / name).mkdir(parents=True, exist_ok=True)
                synthetic.write_parquet(results / name / "synthetic.parquet")
                record: dict[str, Any] = {
                    "device": device,
                    "train_rows": train_frame.height,
                    "max_epochs": max_epochs,
                    "check_rows": privacy["sample_rows"] if overrides else None,
                    "reference_rows": privacy["reference_rows"] if overrides else None,
                    "epochs_run": metrics["epochs_run"],
                    "chosen_epoch": metrics["best_epoch"],
                    "temperature": temperature,
                    "train_seconds": round(train_seconds, 1),
                    "sample_seconds": round(sample_seconds, 1),
                    "privacy": metrics["privacy"],
                }
                (results / name / "result.json").write_text(json.dumps(record, indent=2, default=str))
                print(f"{name}: {record['epochs_run']} epochs in {train_seconds:.0f} s on {device}; chosen epoch {record['chosen_epoch']}")


def evaluate(work: Path, results: Path, distance_rows: int | None, out: Path | None) -> None:
    """Evaluate each mode's synthetic rows and print the figures side by side."""
    import polars as pl

    from assay.config import EvaluateSpec
    from assay.metrics.evaluate import evaluate_frames
    from assay.quality.validate import load_suite

    domain = records_domain(work)
    if distance_rows:
        domain = domain.model_copy(update={"evaluate": EvaluateSpec.model_validate({**domain.evaluate.model_dump(), "max_distance_rows": distance_rows})})
    train_frame, dev, test = (pl.read_parquet(work / f"{name}.parquet") for name in SPLITS)
    suite = load_suite(ROOT / "expectations" / "records.json")
    runs: dict[str, dict[str, Any]] = {}
    for folder in sorted(path.parent for path in results.glob("*/result.json")):
        record = json.loads((folder / "result.json").read_text())
        report, _ = evaluate_frames("records", domain, train_frame, dev, test, pl.read_parquet(folder / "synthetic.parquet"), suite)
        record["evaluation"] = flat("", {k: v for k, v in report.items() if not isinstance(v, list)}, {})
        runs[folder.name] = record
    if out:
        out.write_text(json.dumps(runs, indent=2, default=str))
    for mode, run in runs.items():
        for check in (run["privacy"] or {}).get("checks", []):
            print(
                f"{mode}: epoch {check['epoch']}: dev loss {check['dev_loss']:.4f}, closer-to-train {check['closer_to_train_share']:.4f} "
                f"(threshold {check['closer_to_train_threshold']:.4f}), DCR p5 ratio {check['dcr_p5_ratio']:.3f}, "
                f"copies {check['exact_copy_rate']:.4f} (threshold {check['exact_copy_threshold']:.4f}): {'within' if check['within_threshold'] else 'beyond'}"
            )
    first = next(iter(runs.values()))
    print(
        f"\nreal records, {first['train_rows']:,} train rows, {dev.height:,} dev rows, at most {first['max_epochs']} epochs, CPU-profile generator "
        f"trained on {first['device']}; evaluation on {domain.evaluate.max_distance_rows:,} distance rows"
    )
    print(f"{'figure':<58}" + "".join(f"{mode:>16}" for mode in runs))
    rows: list[tuple[str, list[Any]]] = [
        (key, [run.get(key) for run in runs.values()])
        for key in ("check_rows", "reference_rows", "temperature", "epochs_run", "chosen_epoch", "train_seconds", "sample_seconds")
    ]
    rows.append(("privacy check share of training time", [(run["privacy"] or {}).get("check_share_of_training_time") for run in runs.values()]))
    for key in ("closer_to_train_share", "closer_to_train_threshold", "dcr_p5_ratio", "dcr_median_ratio", "exact_copy_rate"):
        rows.append((f"training check: {key}", [((run["privacy"] or {}).get("chosen") or {}).get(key) for run in runs.values()]))
    keys = sorted({key for run in runs.values() for key, value in run["evaluation"].items() if key.startswith("generator.") and isinstance(value, int | float)})
    rows += [(key, [run["evaluation"].get(key) for run in runs.values()]) for key in keys]
    for name, values in rows:
        print(f"{name:<58}" + "".join(f"{'-' if v is None else round(v, 4) if isinstance(v, float) else v!s:>16}" for v in values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", nargs="?", choices=("all", "prepare", "train", "evaluate"), default="all")
    parser.add_argument("--work", type=Path, default=None, help="Folder of the prepared splits (default: a temporary folder, for 'all').")
    parser.add_argument("--results", type=Path, default=None, help="Folder of each mode's synthetic rows and record (default: --work).")
    parser.add_argument("--train-rows", type=int, default=30_000, help="Cap on the train split; 0: all of it.")
    parser.add_argument("--dev-rows", type=int, default=3_000, help="Cap on the dev split (evaluated every epoch); 0: all of it.")
    parser.add_argument("--max-epochs", type=int, default=10)
    parser.add_argument("--checks", nargs="+", default=None, help="One 'on' run each: SAMPLE_ROWS[:REFERENCE_ROWS] of the privacy checks (default: params).")
    parser.add_argument("--skip-off", action="store_true", help="Train no run with the checks off (one is in --results already).")
    parser.add_argument("--temperatures", type=float, nargs="+", default=None, help="Sample each trained model at these temperatures (default: params).")
    parser.add_argument("--distance-rows", type=int, default=None, help="The evaluation's max_distance_rows (default: params).")
    parser.add_argument("--out", type=Path, default=None, help="Also write the evaluated figures as JSON here.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("assay").setLevel(logging.INFO)
    if args.phase in ("all", "prepare") and not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED}")
        return
    checks = args.checks or [str(records_domain(args.work).generator.privacy.sample_rows)]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        results = args.results or work
        if args.phase in ("all", "prepare"):
            prepare(work, args.train_rows, args.dev_rows)
        if args.phase in ("all", "train"):
            train(work, results, args.max_epochs, checks, with_off=not args.skip_off, temperatures=args.temperatures)
        if args.phase in ("all", "evaluate"):
            evaluate(work, results, args.distance_rows, args.out)


if __name__ == "__main__":
    main()
