"""The split stage on the real datasets (../shared/data): runtime, ratio and class-share gaps, and
growth stability next to scikit-learn's group splitters.

For each domain: ingest + clean once (not timed), then time ``run_split`` end to end (read clean
Parquet, assign, drift, write three splits and the report), median of REPEATS runs, and within it
the drift calibration against random splits (``drift.calibrate``), with the comparisons over a fixed
threshold and those that count as breaches once calibrated. Then split
the first 90% of the rows and all of them, with keyed hashing and with scikit-learn
(``StratifiedGroupKFold`` when the domain has a target, else ``GroupKFold``, shuffled, 10 folds:
fold 0 test, fold 1 dev), and count the old groups that changed split.

Usage: python benchmarks/split.py [--repeats 3] [--domains transactions ...]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
SHARED = ROOT.parent / "shared" / "data"
PARAMS = ROOT / "params.real.yaml"


def sklearn_assign(frame: pl.DataFrame, spec, seed: int) -> dict[str, int]:
    """Group -> split index (0 train, 1 dev, 2 test) from a shuffled 10-fold scikit-learn splitter."""
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    from assay.data.split import group_key

    groups = frame.select(group_key(spec)[0])["_split_group"].to_numpy()
    if spec.stratify_by:
        y = frame[spec.stratify_by].cast(pl.String).fill_null("?").to_numpy()
        splitter = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
    else:
        y = np.zeros(frame.height)
        splitter = GroupKFold(n_splits=10, shuffle=True, random_state=seed)
    placed: dict[str, int] = {}
    for fold, (_, test_index) in enumerate(splitter.split(np.zeros(frame.height), y, groups)):
        index = 2 if fold == 0 else 1 if fold == 1 else 0
        for group in np.unique(groups[test_index]):
            placed[group] = index
    return placed


def hash_assign(frame: pl.DataFrame, spec) -> dict[str, int]:
    from assay.data.split import assign_groups

    groups = assign_groups(frame, spec)
    return dict(zip(groups["_split_group"].to_list(), groups["_split"].to_list(), strict=True))


def gaps(frame: pl.DataFrame, spec, placed: dict[str, int]) -> tuple[float, float | None]:
    """Largest row-share gap to the ratios and largest class-share gap to train, in points."""
    from assay.data.split import SPLITS, group_key

    split = frame.select(group_key(spec)[0])["_split_group"].replace_strict(placed, return_dtype=pl.Int8)
    shares = np.bincount(split.to_numpy(), minlength=3) / frame.height
    row_gap = max(abs(shares[i] - spec.ratios[name]) for i, name in enumerate(SPLITS))
    if not spec.stratify_by:
        return 100 * row_gap, None
    labelled = pl.DataFrame({"split": split, "y": frame[spec.stratify_by].cast(pl.String)})
    table = labelled.group_by("split", "y").len().with_columns(share=pl.col("len") / pl.col("len").sum().over("split"))
    train = dict(table.filter(pl.col("split") == 0).select("y", "share").iter_rows())
    other = table.filter(pl.col("split") != 0)
    class_gap = max(abs(share - train.get(y, 0.0)) for y, share in other.select("y", "share").iter_rows())
    return 100 * row_gap, 100 * class_gap


def moved(old: dict[str, int], new: dict[str, int]) -> float:
    return 100 * sum(new[group] != split for group, split in old.items()) / max(len(old), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--domains", nargs="*", default=["transactions", "records", "course_material"])
    args = parser.parse_args()
    if not SHARED.is_dir():
        print(f"skipped: real datasets not found at {SHARED}")
        return
    logging.disable(logging.WARNING)
    from assay.config import load_params
    from assay.contracts import ValidationReport, write_report
    from assay.data import drift
    from assay.data.clean import clean_frame
    from assay.ingest.sources import ingest_domain
    from assay.io import write_parquet
    from assay.stages.split import run_split

    calibrating: list[float] = []
    calibrate = drift.calibrate

    def timed_calibrate(*args, **kwargs):  # the same function, timed
        start = time.perf_counter()
        try:
            return calibrate(*args, **kwargs)
        finally:
            calibrating.append(time.perf_counter() - start)

    drift.calibrate = timed_calibrate  # type: ignore[assignment]
    params = load_params(PARAMS)
    head = f"{'domain':<16}{'rows':>9}{'groups':>8}{'split s':>9}{'calib. s':>9}{'over thr.':>10}{'breaches':>9}"
    print(f"{head}  {'method':<22}{'row gap pp':>11}{'class gap pp':>13}{'old groups moved %':>20}")
    for name in args.domains:
        domain = params.domain(name)
        interim, _ = ingest_domain(name, domain, ROOT)
        frame = clean_frame(interim, domain, b"bench-key").clean
        with tempfile.TemporaryDirectory() as tmp:
            data, validation = Path(tmp) / "clean.parquet", Path(tmp) / "validation.json"
            write_parquet(frame, data)
            # A passed validation, as the validate stage writes it (the split stage reads it through its contract).
            passed = ValidationReport(
                domain=name,
                suite="-",
                suite_sha256="-",
                data=str(data),
                rows=frame.height,
                success=True,
                evaluated=0,
                passed=0,
                failed_critical=0,
                failed_warning=0,
                expectations=[],
            )
            write_report(ValidationReport, passed, validation)
            times = []
            calibrating.clear()
            for _ in range(args.repeats):
                start = time.perf_counter()
                report = run_split(name, PARAMS, data, validation, Path(tmp) / "splits", Path(tmp) / "report.json")
                times.append(time.perf_counter() - start)
        spec = domain.split
        first = frame.head(int(0.9 * frame.height))
        groups = sum(report["groups"].values())
        over = sum(1 for entry in report["drift"] if entry["over_threshold"])
        prefix = (
            f"{name:<16}{frame.height:>9,}{groups:>8,}{statistics.median(times):>9.2f}{statistics.median(calibrating):>9.2f}{over:>10}{report['breaches']:>9}"
        )
        for method, old, new in (
            (f"keyed hash (seed {spec.seed})", hash_assign(first, spec), hash_assign(frame, spec)),
            ("scikit-learn 10 folds", sklearn_assign(first, spec, spec.seed), sklearn_assign(frame, spec, spec.seed)),
        ):
            row_gap, class_gap = gaps(frame, spec, new)
            shown = f"{class_gap:.2f}" if class_gap is not None else "-"
            print(f"{prefix}  {method:<22}{row_gap:>11.2f}{shown:>13}{moved(old, new):>20.1f}")
            prefix = " " * len(prefix)


if __name__ == "__main__":
    main()
