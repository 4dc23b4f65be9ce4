"""Stage ``split``: validated clean data cut into train/dev/test without leakage, plus drift.

**Groups.** Every row belongs to a group (``split.group_by``: the pseudonymised patient, the
pseudonymised customer, the textbook section). A row with no group takes its
``split.group_fallback`` value instead (a sale with no customer stays with its invoice), in a
namespace of its own so an invoice number never merges with a customer. A row with neither is
an error: nothing says which rows belong together, so nothing rules out leakage.

**Assignment is a function of the group key and the seed only**, as TFX ExampleGen does with
``partition_feature_name``: ``blake2b(f"{seed}:{key}", digest_size=8)``, its top 53 bits read as
a number ``u`` in [0, 1); ``u < train`` goes to train, ``u < train + dev`` to dev, the rest to
test. Each distinct key is hashed once (71k patients, 6k customers and invoices) and joined
back to the rows. So adding rows never moves an existing group, a new group lands where its
hash says, and the same input and params give the same files. (polars' own ``hash`` is not
used: it is not stable across polars versions.) The keys are pseudonyms, so a new
``ASSAY_PSEUDONYM_KEY`` reshuffles every group, like a new seed.

**Why not scikit-learn's splitters.** ``GroupShuffleSplit`` and ``StratifiedGroupKFold`` draw a
permutation of the *current* set of groups (``StratifiedGroupKFold`` also sorts groups by their
class mix and fills folds greedily), so one new group, or a group whose class mix changes, can
move many old groups to another split: a model's old test patients could be in the next train
set. ``benchmarks/split.py`` measures it next to hashing.

**Lumpy groups and the 2-point target.** Hashing balances *groups*; the share of *rows* in a
split has standard deviation ``sqrt(r * (1 - r) * sum(n_g**2)) / sum(n_g)`` for group sizes
``n_g``. On the real data that is 0.2 points for patients, 1.0-1.3 for customers (one has 7,812
lines) and 2.6-3.5 for 182 textbook sections. No rule that looks at group sizes can fix this
and stay stable: sizes change as data grows. What stays stable is choosing the seed: like
re-randomisation in experiments (Morgan and Rubin, 2012) a seed is kept only if every split is
within ``split.ratio_tolerance`` of its ratio (and, with ``stratify_by``, every class share
within the same tolerance of train's). The stage checks the configured seed and, when it
misses, warns and names seeds that fit; a steward pins one in params once, before anyone trains
on the splits, and growth never moves a group again.

**Stratification.** The hash does not look at the target, so each split's class shares match
train's in expectation; with tens of thousands of groups the gaps are a fraction of a point.
The report gives each split's class shares and the largest gap (``target_gap_pp``), and the
seed check above includes it.

**Time split** (``time_column`` with ``time_cutoff``; off unless set): a group whose *first*
row is on or after the cutoff goes to test; every earlier group is hashed between train and
dev in the ratio train : dev (the test ratio is not used; a group with no time at all counts as
seen before the cutoff). No test group has a row before the
cutoff, and no group straddles splits. Later rows of a group first seen before the cutoff stay
in its train or dev split: moving a group when it gets a new row would break stability, and
"first seen" never changes as rows are appended. The report counts those rows
(``time_split.rows_after_cutoff_outside_test``).

**Guarantees**, checked by tests on demo and real data: no group in two splits; no row in two
splits (the group column is part of every row, and clean data has no exact duplicates); rows
in == rows over the splits (checked here before anything is written); byte-identical output
for the same input and params; each split keeps the input's row order.

**Drift** between train and dev and between train and test: see :mod:`assay.data.drift`. Left out
of it: provenance, the group and fallback columns, direct identifiers (``identifier: true``),
id-like and free text, and columns named in ``split.drift.ignore``. Each statistic is calibrated
against random splits of the same data (the split with other seeds: see the drift module); a
statistic above its threshold in ``split.drift`` is a breach when its comparison is also unusual
for a random split (``split.drift.alpha``, family-wise over the report). The report lists
entries most unusual first. ``on_breach: warn`` logs; ``error`` writes every output and
the report, then stops the pipeline (exit 1) with one line per breached column.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import ValidationError

from assay.config import SplitSpec
from assay.contracts import ValidationReport, read_report_data
from assay.data import drift
from assay.errors import AssayError

log = logging.getLogger("assay.split")

SPLITS = ("train", "dev", "test")
PAIRS = (("train", "dev"), ("train", "test"))
_GROUP = "_split_group"
_SPLIT = "_split"
_FALLBACK = "_split_fallback"
_GROUP_INDEX = "_split_group_index"
_SEED_SEARCH_HASHES = 5_000_000  # bound on the seed search: groups x seeds tried
_SEEDS_TRIED = 100_000
_SEEDS_SUGGESTED = 3


@dataclass(frozen=True)
class SplitResult:
    splits: dict[str, pl.DataFrame]
    report: dict[str, Any]


def unit_interval(keys: Iterable[str], seed: int) -> np.ndarray:
    """Each key's keyed hash as a number in [0, 1): ``blake2b(f"{seed}:{key}")``, top 53 bits."""
    values = [int.from_bytes(hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest(), "big") >> 11 for key in keys]
    return np.asarray(values, dtype=np.float64) / float(1 << 53)


def bucket(u: np.ndarray, ratios: dict[str, float]) -> np.ndarray:
    """Split index (0 train, 1 dev, 2 test) of each hash value under ``ratios``."""
    train, dev = ratios["train"], ratios["train"] + ratios["dev"]
    return np.where(u < train, 0, np.where(u < dev, 1, 2)).astype(np.int8)


ROW_LEVEL_NOTE = (
    "row-level split: no split.group_by, so each row is its own group, keyed by its content (not by its position, so the split "
    "stays put as data grows); identical rows share a key and land in the same split, but rows about one person or entity "
    "that differ in any value can land in different splits, so a model can meet the same entity in train and test"
)


def group_key(spec: SplitSpec) -> list[pl.Expr]:
    """The group key of each row (group_by, else fallback; with no group_by, the row's content) and whether it came from the fallback."""
    if spec.group_by is None:
        # Every column but provenance, as text: identical rows get one key, whatever line they came from.
        content = pl.concat_str(pl.all().exclude("^_.*$").cast(pl.String).fill_null("\u2400"), separator="\x1f")
        return [content.alias(_GROUP), pl.lit(False).alias(_FALLBACK)]
    main = pl.col(spec.group_by).cast(pl.String)
    if spec.group_fallback is None:
        return [main.alias(_GROUP), pl.lit(False).alias(_FALLBACK)]
    fallback = pl.concat_str(pl.lit(f"{spec.group_fallback}="), pl.col(spec.group_fallback).cast(pl.String))
    return [pl.coalesce(main, fallback).alias(_GROUP), (main.is_null() & fallback.is_not_null()).alias(_FALLBACK)]


def row_groups(frame: pl.DataFrame, names: Iterable[str | None]) -> pl.Series | None:
    """Each row's group (the first of ``names`` with a value, as text), or None when the frame has none of them."""
    available = [name for name in names if name and name in frame.columns]
    if not available:
        return None
    return frame.select(pl.coalesce([pl.col(name).cast(pl.String) for name in available])).to_series()


def one_row_per_group(frame: pl.DataFrame, groups: pl.Series | None, rows: int, seed: int) -> pl.DataFrame:
    """At most ``rows`` rows, no two of one group (a patient, a customer): a seeded reference sample.

    Privacy statistics that ask whether a row is nearer to train or to holdout compare two
    reference samples, and these must be alike. A uniform sample that takes most of a small
    split holds several encounters of many patients and covers less of the population than a
    sample of a large split, so fresh rows lean towards the larger split: on the real records,
    five samples of 5,000 dev rows were nearer to train in 0.505 of cases on average against
    uniform samples, 0.500 against one row per patient on both sides (ideal 0.5). Rows without a
    group (null) count as their own.
    """
    if groups is None:
        return frame if frame.height <= rows else frame.sample(n=rows, shuffle=True, seed=seed)
    own_group = pl.concat_str(pl.lit("row "), pl.int_range(pl.len()).cast(pl.String))
    keyed = frame.with_columns(pl.Series(_GROUP, groups, dtype=pl.String)).with_columns(pl.col(_GROUP).fill_null(own_group))
    picked = keyed.sample(fraction=1.0, shuffle=True, seed=seed).unique(subset=[_GROUP], keep="first", maintain_order=True)
    return picked.head(rows).drop(_GROUP)


def _cutoff(frame: pl.DataFrame, spec: SplitSpec) -> pl.Expr:
    assert spec.time_column is not None and spec.time_cutoff is not None
    dtype = frame.schema[spec.time_column]
    moment = datetime.fromisoformat(spec.time_cutoff)
    if dtype == pl.Date:
        return pl.lit(moment.date())
    if isinstance(dtype, pl.Datetime):
        return pl.lit(moment).cast(dtype)
    raise AssayError(f"split.time_column {spec.time_column!r} is {dtype}, not a date or date-time column")


def assign_groups(frame: pl.DataFrame, spec: SplitSpec) -> pl.DataFrame:
    """One row per group: key, rows, whether it is a fallback group, and its split (0/1/2).

    Pure: the split of a group depends on its key and the seed (and, in a time split, on the
    time of its first row) and on nothing else in the frame.
    """
    keyed = frame.with_columns(group_key(spec))
    missing = keyed[_GROUP].null_count()
    if missing:
        where = f"no {spec.group_by}" + (f" and no {spec.group_fallback}" if spec.group_fallback else "")
        hint = "" if spec.group_fallback else "; set split.group_fallback to a column that keeps them together"
        raise AssayError(f"{missing:,} row(s) have {where}, so nothing says which rows belong together{hint}")
    aggs = [pl.len().alias("rows"), pl.col(_FALLBACK).first()]
    if spec.time_column is not None:
        aggs.append(pl.col(spec.time_column).min().alias("first_seen"))
    groups = keyed.group_by(_GROUP).agg(aggs).sort(_GROUP)
    u = unit_interval(groups[_GROUP].to_list(), spec.seed)
    if spec.time_column is None:
        split = bucket(u, spec.ratios)
    else:
        train_dev = spec.ratios["train"] + spec.ratios["dev"]
        train_share = spec.ratios["train"] / train_dev if train_dev else 1.0
        late = groups.select((pl.col("first_seen") >= _cutoff(frame, spec)).fill_null(False))["first_seen"].to_numpy()
        split = np.where(late, 2, np.where(u < train_share, 0, 1)).astype(np.int8)
    return groups.with_columns(pl.Series(_SPLIT, split, dtype=pl.Int8))


def _row_shares(sizes: np.ndarray, split: np.ndarray) -> np.ndarray:
    return np.bincount(split, weights=sizes, minlength=3) / max(sizes.sum(), 1)


def _class_gap(class_counts: np.ndarray, split: np.ndarray) -> float:
    """Largest gap, in share, between a class's share in dev or test and in train."""
    per_split = np.stack([class_counts[split == index].sum(axis=0) for index in range(3)])
    totals = per_split.sum(axis=1, keepdims=True)
    shares = np.divide(per_split, totals, out=np.zeros_like(per_split, dtype=np.float64), where=totals > 0)
    present = [index for index in (1, 2) if totals[index, 0] > 0 and totals[0, 0] > 0]
    return float(max((np.abs(shares[index] - shares[0]).max() for index in present), default=0.0))


def _group_class_counts(frame: pl.DataFrame, spec: SplitSpec, groups: pl.DataFrame) -> np.ndarray | None:
    if spec.stratify_by is None:
        return None
    labels = pl.col(spec.stratify_by).cast(pl.String).fill_null(drift.MISSING)
    counts = (
        frame.with_columns(group_key(spec))
        .group_by(_GROUP, labels.alias("_class"))
        .len()
        .pivot(on="_class", index=_GROUP, values="len", sort_columns=True)
        .fill_null(0)
    )
    aligned = groups.select(_GROUP).join(counts, on=_GROUP, how="left", maintain_order="left").fill_null(0)
    return aligned.drop(_GROUP).to_numpy().astype(np.float64)


def seeds_within_tolerance(frame: pl.DataFrame, spec: SplitSpec, count: int = _SEEDS_SUGGESTED, start: int = 0) -> list[int]:
    """Up to ``count`` seeds from ``start`` on whose row shares (and class gaps) are within tolerance.

    Re-randomisation: the search looks at the data once, to advise a steward; the seed they pin
    in params then keeps every group in place as data grows. Bounded to 5 million hashes and
    100,000 seeds.
    """
    groups = assign_groups(frame, spec.model_copy(update={"time_column": None, "time_cutoff": None}))
    sizes = groups["rows"].to_numpy().astype(np.float64)
    classes = _group_class_counts(frame, spec, groups)
    target = np.array([spec.ratios[name] for name in SPLITS])
    keys = groups[_GROUP].to_list()
    found: list[int] = []
    if not keys:
        return found
    for seed in range(start, start + min(_SEEDS_TRIED, _SEED_SEARCH_HASHES // len(keys) + 1)):
        split = bucket(unit_interval(keys, seed), spec.ratios)
        if np.abs(_row_shares(sizes, split) - target).max() > spec.ratio_tolerance:
            continue
        if classes is not None and _class_gap(classes, split) > spec.ratio_tolerance:
            continue
        found.append(seed)
        if len(found) == count:
            break
    return found


def _exclusions(spec: SplitSpec, identifiers: Iterable[str], frame: pl.DataFrame) -> dict[str, str]:
    unknown = [name for name in spec.drift.ignore if name not in frame.columns]
    if unknown:
        raise AssayError(f"split.drift.ignore names column(s) not in the data: {unknown}; known: {sorted(frame.columns)}")
    excluded = {name: "left out by split.drift.ignore" for name in spec.drift.ignore}
    excluded |= {name: "a direct identifier (pseudonymised)" for name in identifiers}
    if spec.group_by:
        excluded[spec.group_by] = "the group column: its values never repeat across splits by design"
    if spec.group_fallback:
        excluded[spec.group_fallback] = "the fallback group column: its values never repeat across splits by design"
    return excluded


def _pp(share: float) -> float:
    return round(100 * share, 3)


def split_frame(frame: pl.DataFrame, spec: SplitSpec, identifiers: Iterable[str] = ()) -> SplitResult:
    """Split a clean frame into train/dev/test and measure drift between them (pure: no I/O).

    ``identifiers`` are the direct-identifier columns, left out of the drift comparison.
    """
    groups = assign_groups(frame, spec)
    indexed = groups.select(_GROUP, _SPLIT).with_row_index(_GROUP_INDEX)
    keyed = frame.with_columns(group_key(spec)).select(_GROUP).join(indexed, on=_GROUP, how="left", maintain_order="left")
    rows_split = keyed[_SPLIT]
    splits = {name: frame.filter(rows_split == index) for index, name in enumerate(SPLITS)}
    if sum(part.height for part in splits.values()) != frame.height:
        raise RuntimeError(f"row accounting broke: {frame.height} in != {' + '.join(str(p.height) for p in splits.values())} over the splits")

    total = max(frame.height, 1)
    rows = {name: part.height for name, part in splits.items()}
    shares = {name: round(rows[name] / total, 6) for name in SPLITS}
    group_counts = {name: int((groups[_SPLIT] == index).sum()) for index, name in enumerate(SPLITS)}
    report: dict[str, Any] = {
        "rows_in": frame.height,
        "rows": rows,
        "groups": group_counts,
        "group_by": spec.group_by,
        "ratios": shares,
        "ratios_configured": dict(spec.ratios),
        "seed": spec.seed,
        "mode": "time" if spec.time_column else "hash",
    }
    if spec.group_by is None:
        duplicates = frame.height - int(frame.select(group_key(spec)[0]).n_unique())
        report["row_level"] = True
        report["row_level_note"] = ROW_LEVEL_NOTE + f" ({duplicates:,} row(s) repeat an earlier row's content and follow it)"
    if spec.group_fallback:
        fallback = groups.filter(pl.col(_FALLBACK))
        report["group_fallback"] = spec.group_fallback
        report["groups_by_fallback"] = {name: int((fallback[_SPLIT] == index).sum()) for index, name in enumerate(SPLITS)}
    if spec.time_column:
        report["ratio_gap_pp"] = None
        report["time_split"] = _time_report(splits, spec, frame)
    else:
        report["ratio_gap_pp"] = max(_pp(abs(shares[name] - spec.ratios[name])) for name in SPLITS)
    report["ratio_tolerance_pp"] = _pp(spec.ratio_tolerance)

    # The same keys with or without a target, so readers of the report need no special case.
    report["target_column"] = spec.stratify_by
    report["target"] = {name: drift.class_shares(part[spec.stratify_by]) for name, part in splits.items()} if spec.stratify_by else {}
    report["target_gap_pp"] = _target_gap_pp(report["target"]) if spec.stratify_by else None

    columns, skipped = drift.drift_columns(frame, _exclusions(spec, identifiers, frame))
    entries: list[dict[str, Any]] = []
    pairs_skipped: dict[str, str] = {}
    pairs: list[tuple[int, int, str]] = []
    for reference, other in PAIRS:
        pair = f"{reference}-{other}"
        empty = [name for name in (reference, other) if splits[name].height == 0]
        if empty:
            pairs_skipped[pair] = f"{' and '.join(empty)} has no rows"
            continue
        pairs.append((SPLITS.index(reference), SPLITS.index(other), pair))
    calibration = drift.calibrate(
        frame,
        columns,
        keyed[_GROUP_INDEX].to_numpy(),
        groups[_SPLIT].to_numpy(),
        [spec.ratios[name] for name in SPLITS],
        pairs,
        spec.drift.null_splits,
        spec.seed,
    )
    for reference, other, pair in pairs:
        entries.extend(drift.compare(splits[SPLITS[reference]], splits[SPLITS[other]], columns, spec.drift, pair, spec.stratify_by, calibration.get(pair)))
    ranked = drift.worst_first(entries)
    breaches = sum(1 for entry in ranked if entry["breached"])
    ratio_missed = report["ratio_gap_pp"] is not None and report["ratio_gap_pp"] > report["ratio_tolerance_pp"]
    status = ("error" if spec.drift.on_breach == "error" else "warn") if breaches else ("warn" if ratio_missed else "ok")
    report.update(
        {
            "drift": ranked,
            # Lists, which `dvc metrics show` leaves out, keep its table to the numbers.
            "drift_columns": [{"column": name, "kind": kind} for name, kind in columns.items()],
            "drift_skipped": [{"column": name, "reason": reason} for name, reason in skipped.items()],
            "drift_pairs_skipped": [{"pair": pair, "reason": reason} for pair, reason in pairs_skipped.items()],
            "drift_thresholds": spec.drift.model_dump(),
            "drift_worst": {key: ranked[0][key] for key in ("column", "pair", "score")} if ranked else {},
            "breaches": breaches,
            "unusual": sum(1 for entry in ranked if entry.get("unusual")),
            "drift_null": {
                "random_splits": spec.drift.null_splits,
                "alpha": spec.drift.alpha,
                "level": drift.NULL_LEVEL,
                "method": "random group splits with the configured ratios; p-values adjusted by max-T over every comparison (Westfall and Young)",
            },
            "status": status,
        }
    )
    return SplitResult(splits=splits, report=report)


def _target_gap_pp(target: dict[str, dict[str, float]]) -> float:
    train = target["train"]
    gaps = [
        abs(shares.get(label, 0.0) - train.get(label, 0.0))
        for name, shares in target.items()
        if name != "train" and shares and train
        for label in set(train) | set(shares)
    ]
    return _pp(max(gaps, default=0.0))


def _time_report(splits: dict[str, pl.DataFrame], spec: SplitSpec, frame: pl.DataFrame) -> dict[str, Any]:
    assert spec.time_column is not None
    cutoff = _cutoff(frame, spec)
    after = {name: int(part.select((pl.col(spec.time_column) >= cutoff).sum()).item()) for name, part in splits.items()}
    test_before = int(splits["test"].select((pl.col(spec.time_column) < cutoff).sum()).item())
    if test_before:
        raise RuntimeError(f"time split broke: {test_before} test row(s) before the cutoff")
    return {
        "column": spec.time_column,
        "cutoff": spec.time_cutoff,
        "rows_after_cutoff_outside_test": after["train"] + after["dev"],
    }


def check_validation_gate(validation: Path, domain_name: str) -> None:
    """Raise (exit 1) unless the validation report says the clean data passed."""
    again = f"run `assay validate --domain {domain_name}` first"
    if not validation.is_file():
        raise AssayError(f"{validation}: validation report not found; the split stage runs only on data that passed validation: {again}", exit_code=1)
    try:
        result = read_report_data(validation)
    except AssayError as exc:  # not JSON, or not an object
        raise AssayError(f"{validation}: not a readable validation report ({str(exc).removeprefix(f'{validation}: ')}); {again}", exit_code=1) from None
    try:
        report = ValidationReport.model_validate(result)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise AssayError(f"{validation}: not a readable validation report ({where}: {first['msg']}); {again}", exit_code=1) from None
    if not report.success:
        raise AssayError(
            f"{validation}: {domain_name} data did not pass validation ({report.failed_critical} critical expectation(s) failed); "
            "fix the data or the suite, then validate again",
            exit_code=1,
        )


def _noun(spec: SplitSpec) -> str:
    if spec.group_by is None:
        return "rows (each its own group, keyed by its content)"
    if spec.group_fallback:
        return f"groups ({spec.group_by}, or {spec.group_fallback} when {spec.group_by} is missing)"
    return f"groups ({spec.group_by})"


def log_summary(domain_name: str, spec: SplitSpec, report: dict[str, Any]) -> None:
    rows, groups, shares = report["rows"], report["groups"], report["ratios"]
    log.info(
        "split %s: %s train / %s dev / %s test rows (%s), %s / %s / %s %s",
        domain_name,
        *(f"{rows[name]:,}" for name in SPLITS),
        " / ".join(f"{100 * shares[name]:.1f}%" for name in SPLITS),
        *(f"{groups[name]:,}" for name in SPLITS),
        _noun(spec),
    )
    if report.get("row_level"):
        log.warning("split %s: %s", domain_name, report["row_level_note"])
    for name in SPLITS:
        if rows[name] == 0 and spec.ratios[name] > 0:
            log.warning("split %s: %s has no rows: there are too few %s for the ratios", domain_name, name, _noun(spec))
    if spec.stratify_by:
        log.info("split %s: %s class shares differ from train's by at most %.2f points", domain_name, spec.stratify_by, report["target_gap_pp"])
    if "seeds_within_tolerance" in report:
        seeds = report["seeds_within_tolerance"]
        advice = (
            f"seed(s) {', '.join(map(str, seeds))} keep every split within it; pin one as domains.{domain_name}.split.seed "
            "before anyone trains on the splits (changing the seed later moves groups)"
            if seeds
            else "no seed tried fits: the groups are too few or too uneven for these ratios"
        )
        log.warning(
            "split %s: row shares miss the ratios by %.2f points (tolerance %.2f) because some %s are large; %s",
            domain_name,
            report["ratio_gap_pp"],
            report["ratio_tolerance_pp"],
            _noun(spec),
            advice,
        )


def add_seed_advice(frame: pl.DataFrame, spec: SplitSpec, report: dict[str, Any]) -> None:
    """When the row shares miss the tolerance, add the seeds that would meet it to the report."""
    gap = report["ratio_gap_pp"]
    if gap is not None and gap > report["ratio_tolerance_pp"]:
        report["seeds_within_tolerance"] = seeds_within_tolerance(frame, spec)


def breach_lines(report: dict[str, Any]) -> list[str]:
    thresholds = report["drift_thresholds"]
    lines = []
    for entry in report["drift"]:
        if entry["breached"]:
            found = ", ".join(f"{stat} {entry[stat]:.3f} > {thresholds[stat]}" for stat in entry["breached"])
            lines.append(f"{entry['column']} ({entry['pair']}): {found}")
    return lines
