"""Distribution drift between two samples of the same table, column by column.

Used by the split stage (train against dev, train against test) and meant to be reused to
compare synthetic data with real data. Pure functions over polars frames and series, no I/O.

What each column gets (the first sample is the *reference*, e.g. train):

- **numeric, date and date-time columns** (kind ``numeric``): the two-sample Kolmogorov-Smirnov
  statistic (``scipy.stats.ks_2samp``; the largest gap between the two cumulative
  distributions, 0 = identical, 1 = disjoint; missing values left out) and the population
  stability index over ten quantile bins of the reference, plus a bin for missing values.
- **text and true/false columns** (kind ``categorical``): the total variation distance (half the
  sum of the absolute differences of the category shares: the share of rows that would have to
  change category to make the samples alike) and the population stability index over category
  shares. Missing is a category of its own; categories under ``MIN_SHARE`` in both samples are
  merged into one ``(other)`` category, so a column with thousands of rare values (product
  descriptions) measures the common values and not sampling noise.
- **the target** (kind ``target``): the statistics of its kind, and :func:`class_shares`.

The population stability index (PSI) is ``sum((a - e) * ln(a / e))`` over bins, with ``e`` the
reference shares and ``a`` the other sample's; it equals ``sum(rel_entr(a, e) + rel_entr(e, a))``
(scipy), the symmetric Kullback-Leibler divergence. Empty bins would make it infinite, so shares
are smoothed: ``(share + EPS) / (1 + k * EPS)`` over ``k`` bins. Rules of thumb: under 0.1 no
real change, 0.1-0.25 a moderate shift, above 0.25 a large one.

**Calibration** (:func:`calibrate`). A fixed threshold means different things for different
columns: on the demo records, random splits of the same clean data give ``diag_1`` a TVD above
0.1 in nearly every trial (hundreds of codes, a few hundred dev rows), while a yes/no column
hardly moves. So each statistic is compared with its own distribution under random splits of
the same data: the split procedure run again with ``split.drift.null_splits`` other seeds
(groups drawn to train, dev and test with the configured ratios, so a patient's rows move
together as they do in the real split). Each entry then carries the statistic, its null level
(the 95th percentile of the random splits) and its p-value (the share of random splits at least
as far apart, ``(1 + k) / (B + 1)``). Whether a comparison is *unusual* is decided with every
comparison of the report at once, by the max-T method of Westfall and Young (1993): each
statistic is standardised by its null mean and standard deviation, and a comparison's adjusted
p-value is the share of random splits whose largest standardised statistic, over all columns
and pairs, reaches the comparison's own. So a report of 90 comparisons flags any of them on a
split that is in fact random in at most ``split.drift.alpha`` of cases, and 200 random splits
suffice (no Bonferroni, which would need thousands). A statistic above its threshold is a
*breach* only when its comparison is unusual: the threshold says how large a difference must
be to matter, the calibration whether it is more than the luck of the draw.

The random splits are counted, not materialised: per column, the rows' codes (categories; for
numbers the distinct values, or 1,024 equal-mass groups of them, and the reference's PSI bins)
are counted per group once, as a sparse (groups x codes) matrix, and the counts of every draw's
dev and test come from one sparse product with the draws' group indicators (train holds the
rest; ``benchmarks/split.py`` times it on the real data). Numeric PSI keeps the observed
reference's bins in every draw (its bins would otherwise move with the reference), and a numeric
KS over more than 1,024 distinct values is tested on the groups (at most 1/1,024 of the rows
apart from the exact one it reports).

Columns are chosen once, on the whole table (:func:`drift_columns`), so the choice never depends
on how the rows were split. Left out: provenance (names starting with ``_``), columns the caller
excludes (group key, direct identifiers), id-like text (more than half the values distinct and
more than 50 of them: encounter or unit ids) and free text (mean length over 100 characters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy.special import rel_entr
from scipy.stats import ks_2samp

from assay.config import DriftThresholds

Kind = Literal["numeric", "categorical"]

BINS = 10
EPS = 1e-4
MIN_SHARE = 0.005
ID_LIKE_SHARE = 0.5
ID_LIKE_MIN_VALUES = 50
FREE_TEXT_CHARS = 100
MISSING = "(missing)"
OTHER = "(other)"
DIGITS = 6
STATS = ("ks", "psi", "tvd")
NULL_LEVEL = 0.95  # the null level reported: the statistic that 95% of random splits stay under
GRID = 1024  # numeric values tested exactly up to this many distinct values, else on this many equal-mass groups


def column_kind(series: pl.Series) -> Kind | None:
    """``numeric`` for numbers, dates and date-times; ``categorical`` for text and true/false; else None."""
    dtype = series.dtype
    if dtype.is_numeric() or dtype.is_temporal():
        return "numeric"
    if dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "categorical"
    return None


def drift_columns(frame: pl.DataFrame, exclude: Mapping[str, str] | None = None) -> tuple[dict[str, Kind], dict[str, str]]:
    """The columns worth comparing, with their kind, and the skipped ones with the reason, in words.

    ``exclude`` maps column names the caller leaves out (group key, identifiers) to the reason.
    """
    exclude = exclude or {}
    kinds: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    for name in frame.columns:
        series = frame[name]
        kind = column_kind(series)
        if name.startswith("_"):
            skipped[name] = "provenance"
        elif name in exclude:
            skipped[name] = exclude[name]
        elif kind is None:
            skipped[name] = f"not a flat column ({series.dtype})"
        elif series.null_count() == series.len():
            skipped[name] = "always missing"
        elif series.dtype == pl.String and _is_free_text(series):
            skipped[name] = f"free text (mean length over {FREE_TEXT_CHARS} characters)"
        elif series.dtype == pl.String and _is_id_like(series):
            skipped[name] = "id-like (nearly every value is distinct)"
        else:
            kinds[name] = kind
    return kinds, skipped


def _is_free_text(series: pl.Series) -> bool:
    lengths = series.drop_nulls().str.len_chars()
    return bool(lengths.len()) and float(lengths.mean()) > FREE_TEXT_CHARS


def _is_id_like(series: pl.Series) -> bool:
    present = series.drop_nulls()
    distinct = present.n_unique()
    return distinct > ID_LIKE_MIN_VALUES and distinct > ID_LIKE_SHARE * present.len()


def _as_float(series: pl.Series) -> np.ndarray:
    """Non-missing values as float64; dates and date-times as their integer time stamps."""
    values = series.drop_nulls()
    if values.dtype.is_temporal():
        values = values.to_physical()
    array = values.cast(pl.Float64).to_numpy()
    return array[~np.isnan(array)]


def ks_statistic(reference: pl.Series, other: pl.Series) -> float | None:
    """Two-sample Kolmogorov-Smirnov statistic of the non-missing values; None if a side has none."""
    a, b = _as_float(reference), _as_float(other)
    if not a.size or not b.size:
        return None
    # Only the statistic is used, so the asymptotic p-value avoids the slow exact computation.
    return float(ks_2samp(a, b, method="asymp").statistic)


def psi_from_counts(expected: np.ndarray, actual: np.ndarray, eps: float = EPS) -> float | None:
    """Population stability index of two aligned count vectors (reference first), smoothed by ``eps``."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.sum() == 0 or actual.sum() == 0:
        return None
    k = expected.size
    e = (expected / expected.sum() + eps) / (1 + k * eps)
    a = (actual / actual.sum() + eps) / (1 + k * eps)
    return float(np.sum(rel_entr(a, e) + rel_entr(e, a)))


def quantile_bin_counts(reference: pl.Series, other: pl.Series, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both samples over the reference's quantile bins, plus a last bin for missing values.

    Repeated quantiles (discrete columns) collapse, so a column with three values has three bins.
    """
    ref = _as_float(reference)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1])) if ref.size else np.array([])
    counts = []
    for series in (reference, other):
        values = _as_float(series)
        index = np.searchsorted(edges, values, side="right")
        present = np.bincount(index, minlength=edges.size + 1)
        missing = series.len() - values.size
        counts.append(np.append(present, missing))
    return counts[0], counts[1]


def numeric_psi(reference: pl.Series, other: pl.Series, bins: int = BINS, eps: float = EPS) -> float | None:
    """PSI over ``bins`` quantile bins of the reference (plus missing values)."""
    expected, actual = quantile_bin_counts(reference, other, bins)
    return psi_from_counts(expected, actual, eps)


def _labels(series: pl.Series) -> pl.Series:
    return series.cast(pl.String).fill_null(MISSING).alias("value")


def category_counts(reference: pl.Series, other: pl.Series, min_share: float = MIN_SHARE) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Aligned category counts of both samples; categories rare in both are merged into ``(other)``."""
    ref = _labels(reference).value_counts(name="n")
    oth = _labels(other).value_counts(name="n")
    table = (
        ref.join(oth, on="value", how="full", coalesce=True, suffix="_other")
        .fill_null(0)
        .with_columns(
            (pl.col("n") / max(reference.len(), 1)).alias("share"),
            (pl.col("n_other") / max(other.len(), 1)).alias("share_other"),
        )
    )
    common = pl.max_horizontal("share", "share_other") >= min_share
    kept = table.filter(common).sort("value")
    rare = table.filter(~common)
    labels = kept["value"].to_list()
    expected = kept["n"].to_numpy().astype(np.int64)
    actual = kept["n_other"].to_numpy().astype(np.int64)
    if rare.height:
        labels.append(OTHER)
        expected = np.append(expected, int(rare["n"].sum()))
        actual = np.append(actual, int(rare["n_other"].sum()))
    return labels, expected, actual


def tvd(reference: pl.Series, other: pl.Series, min_share: float = MIN_SHARE) -> float | None:
    """Total variation distance of the category shares (rare categories merged); None if a side is empty."""
    _, expected, actual = category_counts(reference, other, min_share)
    if expected.sum() == 0 or actual.sum() == 0:
        return None
    return float(0.5 * np.abs(expected / expected.sum() - actual / actual.sum()).sum())


def categorical_psi(reference: pl.Series, other: pl.Series, min_share: float = MIN_SHARE, eps: float = EPS) -> float | None:
    """PSI over category shares (rare categories merged)."""
    _, expected, actual = category_counts(reference, other, min_share)
    return psi_from_counts(expected, actual, eps)


def class_shares(series: pl.Series) -> dict[str, float]:
    """Share of each class (missing as ``(missing)``), by class name."""
    if series.len() == 0:
        return {}
    counts = _labels(series).value_counts(name="n").sort("value")
    return {str(value): round(n / series.len(), DIGITS) for value, n in counts.iter_rows()}


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def measure(reference: pl.Series, other: pl.Series, kind: Kind) -> dict[str, float | None]:
    """The statistics of one column's kind: ks and psi (numeric), tvd and psi (categorical)."""
    if kind == "numeric":
        return {"ks": _round(ks_statistic(reference, other)), "psi": _round(numeric_psi(reference, other)), "tvd": None}
    return {"ks": None, "psi": _round(categorical_psi(reference, other)), "tvd": _round(tvd(reference, other))}


def judge(stats: Mapping[str, float | None], thresholds: DriftThresholds) -> tuple[list[str], float]:
    """The statistics above their threshold, and the score: the largest statistic/threshold ratio."""
    ratios = {name: value / getattr(thresholds, name) for name, value in stats.items() if value is not None}
    breached = [name for name in STATS if name in ratios and ratios[name] > 1]
    return breached, round(max(ratios.values(), default=0.0), DIGITS)


def compare(
    reference: pl.DataFrame,
    other: pl.DataFrame,
    columns: Mapping[str, Kind],
    thresholds: DriftThresholds,
    pair: str,
    target: str | None = None,
    calibration: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """One entry per column and pair.

    Keys: column, kind, pair; ks, psi, tvd (None where the kind has no such statistic);
    over_threshold (the statistics above their threshold); breached (those of them that count:
    all of them when the comparison is unusual, none otherwise) and breach (whether any is);
    score (the largest statistic/threshold ratio, comparable across statistics); and statistic,
    value, threshold: the statistic that gives the score, its value and its limit.

    ``calibration`` (column -> what :func:`calibrate` returns for this pair) adds null, p_values,
    p_value, p_adjusted, z_score and unusual; without it every comparison counts as unusual, so a
    breach is a statistic over its threshold, as a fixed threshold alone decides.
    """
    entries = []
    for name, kind in columns.items():
        stats = measure(reference[name], other[name], kind)
        over, score = judge(stats, thresholds)
        present = [stat for stat in STATS if stats[stat] is not None]
        driver = max(present, key=lambda stat: stats[stat] / getattr(thresholds, stat), default=None)
        calibrated = dict((calibration or {}).get(name) or {})
        unusual = calibrated["p_adjusted"] <= thresholds.alpha if calibrated else True
        breached = over if unusual else []
        if calibrated:
            calibrated["unusual"] = unusual
        entries.append(
            {
                "column": name,
                "kind": "target" if name == target else kind,
                "pair": pair,
                **stats,
                "breached": breached,
                "breach": bool(breached),
                "over_threshold": over,
                "score": score,
                "statistic": driver,
                "value": stats[driver] if driver else None,
                "threshold": getattr(thresholds, driver) if driver else None,
                **calibrated,
            }
        )
    return entries


def worst_first(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Breaches first, then unusual comparisons, each most unusual first (largest z-score; the
    score where uncalibrated); ties by score, column and pair so the order is stable."""

    def key(entry: dict[str, Any]) -> tuple[Any, ...]:
        z = entry.get("z_score")
        return (not entry["breach"], not entry.get("unusual", True), -(entry["score"] if z is None else z), -entry["score"], entry["column"], entry["pair"])

    return sorted(entries, key=key)


# ---------------------------------------------------------------------------------------------
# calibration: each statistic against random splits of the same data (see the module docstring)


@dataclass(frozen=True)
class _Coded:
    """One column's rows as codes ``0..size-1``, and the statistics read from counts of them."""

    stats: tuple[str, ...]
    codes: np.ndarray
    size: int
    missing: int | None = None  # the code of missing values, which KS leaves out


def _coded(values: pl.Series, reference: pl.Series, kind: Kind) -> list[_Coded]:
    """``values`` (every row of the table) coded for the statistics of ``kind``; ``reference`` gives numeric PSI its bins."""
    if kind == "categorical":
        codes = _labels(values).rank("dense").cast(pl.Int64).to_numpy() - 1
        return [_Coded(("tvd", "psi"), codes, int(codes.max()) + 1 if codes.size else 1)]
    physical = values.to_physical() if values.dtype.is_temporal() else values
    numbers = physical.cast(pl.Float64).fill_nan(None).fill_null(np.nan).to_numpy()
    missing = np.isnan(numbers)
    present = numbers[~missing]
    distinct = np.unique(present)
    if distinct.size <= GRID:
        steps = distinct
        ks_codes = np.searchsorted(steps, numbers)
        ks_size = steps.size
    else:
        steps = np.unique(np.quantile(present, np.linspace(0, 1, GRID + 1)[1:-1]))
        ks_codes = np.searchsorted(steps, numbers, side="right")
        ks_size = steps.size + 1
    ks_codes = np.where(missing, ks_size, ks_codes)
    ref = _as_float(reference)
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, BINS + 1)[1:-1])) if ref.size else np.array([])
    psi_codes = np.where(missing, edges.size + 1, np.searchsorted(edges, numbers, side="right"))
    return [_Coded(("ks",), ks_codes.astype(np.int64), ks_size + 1, missing=ks_size), _Coded(("psi",), psi_codes.astype(np.int64), edges.size + 2)]


def _shares(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    totals = counts.sum(axis=1, keepdims=True)
    return counts / np.maximum(totals, 1), totals[:, 0] > 0


def _symmetric_kl(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``(a - e) * ln(a / e)``, which is ``rel_entr(a, e) + rel_entr(e, a)`` for positive shares."""
    return (a - e) * np.log(a / e)


def tvd_psi_from_counts(ref: np.ndarray, other: np.ndarray, min_share: float = MIN_SHARE, eps: float = EPS) -> tuple[np.ndarray, np.ndarray]:
    """TVD and categorical PSI of many count rows at once (draws x categories), with the merging of
    :func:`category_counts`: categories under ``min_share`` in both samples pooled as ``(other)``.
    NaN where a side is empty."""
    a_share, a_ok = _shares(other)
    e_share, e_ok = _shares(ref)
    present = (ref + other) > 0
    keep = present & (np.maximum(a_share, e_share) >= min_share)
    rare = present & ~keep
    diff = e_share - a_share
    tvd = 0.5 * (np.abs(np.where(keep, diff, 0.0)).sum(axis=1) + np.abs(np.where(rare, diff, 0.0).sum(axis=1)))
    has_other = rare.any(axis=1)
    k = (keep.sum(axis=1) + has_other)[:, None]
    kept = np.where(keep, _symmetric_kl((a_share + eps) / (1 + k * eps), (e_share + eps) / (1 + k * eps)), 0.0).sum(axis=1)
    a_other = (np.where(rare, a_share, 0.0).sum(axis=1, keepdims=True) + eps) / (1 + k * eps)
    e_other = (np.where(rare, e_share, 0.0).sum(axis=1, keepdims=True) + eps) / (1 + k * eps)
    psi = kept + np.where(has_other, _symmetric_kl(a_other, e_other)[:, 0], 0.0)
    valid = a_ok & e_ok
    return np.where(valid, tvd, np.nan), np.where(valid, psi, np.nan)


def psi_from_count_rows(ref: np.ndarray, other: np.ndarray, eps: float = EPS) -> np.ndarray:
    """:func:`psi_from_counts` of many count rows at once over fixed bins; NaN where a side is empty."""
    a_share, a_ok = _shares(other)
    e_share, e_ok = _shares(ref)
    k = ref.shape[1]
    psi = _symmetric_kl((a_share + eps) / (1 + k * eps), (e_share + eps) / (1 + k * eps)).sum(axis=1)
    return np.where(a_ok & e_ok, psi, np.nan)


def ks_from_count_rows(ref: np.ndarray, other: np.ndarray) -> np.ndarray:
    """The KS statistic of many count rows at once over ordered codes (missing left out); NaN where a side is empty."""
    a_cdf, a_ok = _shares(other)
    e_cdf, e_ok = _shares(ref)
    ks = np.abs(np.cumsum(e_cdf, axis=1) - np.cumsum(a_cdf, axis=1)).max(axis=1) if ref.shape[1] else np.zeros(ref.shape[0])
    return np.where(a_ok & e_ok, ks, np.nan)


def _statistics(coded: _Coded, ref: np.ndarray, other: np.ndarray) -> dict[str, np.ndarray]:
    if coded.stats == ("tvd", "psi"):
        tvd_values, psi_values = tvd_psi_from_counts(ref, other)
        return {"tvd": tvd_values, "psi": psi_values}
    if coded.stats == ("ks",):
        keep = np.arange(coded.size) != coded.missing
        return {"ks": ks_from_count_rows(ref[:, keep], other[:, keep])}
    return {"psi": psi_from_count_rows(ref, other)}


def random_splits(groups: int, ratios: Sequence[float], draws: int, seed: int) -> np.ndarray:
    """``draws`` random assignments of ``groups`` groups to train (0), dev (1) and test (2) with
    ``ratios``, as the split would make with other seeds; draw ``b`` uses its own seeded stream."""
    edges = np.cumsum(ratios)[:-1]
    out = np.empty((draws, groups), dtype=np.int8)
    for b in range(draws):
        out[b] = np.searchsorted(edges, np.random.default_rng([seed, b]).random(groups), side="right")
    return out


def _group_counts(coded: _Coded, group_of_row: np.ndarray, groups: int) -> Any:
    """Rows per (group, code), as a sparse matrix (groups x codes): each column counted once, whatever the draws."""
    from scipy.sparse import csr_matrix

    ones = np.ones(group_of_row.size, dtype=np.float64)
    return csr_matrix((ones, (group_of_row, coded.codes)), shape=(groups, coded.size))  # duplicates are summed


def _indicators(assignments: np.ndarray, split: int) -> Any:
    """Which groups each draw puts in ``split``, as a sparse (draws x groups) matrix: dev and test hold a
    tenth of the groups each, so their counts cost a tenth of a dense product."""
    from scipy.sparse import csr_matrix

    draw, group = np.nonzero(assignments == split)
    return csr_matrix((np.ones(draw.size), (draw, group)), shape=assignments.shape)


def calibrate(
    frame: pl.DataFrame,
    columns: Mapping[str, Kind],
    group_of_row: np.ndarray,
    observed: np.ndarray,
    ratios: Sequence[float],
    pairs: Sequence[tuple[int, int, str]],
    draws: int,
    seed: int,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each column's statistics against ``draws`` random splits of ``frame`` (see the module docstring).

    ``group_of_row`` gives each row's group (0..G-1), ``observed`` each group's split (0 train,
    1 dev, 2 test) in the split being judged, ``ratios`` the train/dev/test ratios the random
    splits draw with, ``pairs`` the comparisons (reference split, other split, name). Returns
    pair name -> column -> ``null`` (per statistic: the median and the ``NULL_LEVEL`` quantile of
    the random splits), ``p_values`` (per statistic), ``p_value`` (the smallest), ``z_score``
    (the largest standardised statistic) and ``p_adjusted`` (max-T over every comparison).
    """
    assignments = np.concatenate([observed[None, :].astype(np.int8), random_splits(observed.size, ratios, draws, seed)])
    reference_rows = observed[group_of_row] == 0
    coded = [(name, item) for name, kind in columns.items() for item in _coded(frame[name], frame[name].filter(pl.Series(reference_rows)), kind)]
    matrices = [_group_counts(item, group_of_row, observed.size) for _, item in coded]
    in_dev, in_test = _indicators(assignments, 1), _indicators(assignments, 2)
    values: dict[tuple[str, str, str], np.ndarray] = {}  # (pair, column, statistic) -> observed value, then the draws
    for (name, item), matrix in zip(coded, matrices, strict=True):
        total = np.asarray(matrix.sum(axis=0))  # every group is in one split: train holds what dev and test do not
        dev, test = (in_dev @ matrix).toarray(), (in_test @ matrix).toarray()
        by_split = (total - dev - test, dev, test)
        for ref, other, pair in pairs:
            for stat, series in _statistics(item, by_split[ref], by_split[other]).items():
                values[(pair, name, stat)] = series
    zs: dict[tuple[str, str, str], np.ndarray] = {}
    for key, series in values.items():
        null = series[1:][~np.isnan(series[1:])]
        if not null.size:  # no random split had both sides: nothing to compare with
            zs[key] = np.full(series.size, np.nan)
            continue
        mean, sd = null.mean(), null.std()
        zs[key] = (series - mean) / sd if sd > 0 else np.where(series > mean + 1e-12, np.inf, 0.0)
    # A draw that leaves a split empty has no statistic: it reaches no comparison's level.
    largest = np.nan_to_num(np.stack([z[1:] for z in zs.values()]), nan=-np.inf).max(axis=0) if zs else np.zeros(draws)
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for (pair, name, stat), series in values.items():
        entry = out.setdefault(pair, {}).setdefault(name, {"null": {}, "p_values": {}, "z_score": -np.inf})
        observed_value, null = series[0], series[1:][~np.isnan(series[1:])]
        if np.isnan(observed_value) or not null.size:
            continue
        entry["null"][stat] = {"median": _round(float(np.median(null))), "p95": _round(float(np.quantile(null, NULL_LEVEL)))}
        entry["p_values"][stat] = _round((1 + int((null >= observed_value - 1e-12).sum())) / (null.size + 1))
        entry["z_score"] = max(entry["z_score"], float(zs[(pair, name, stat)][0]))
    for columns_of_pair in out.values():
        for entry in columns_of_pair.values():
            z = entry["z_score"]
            entry["p_value"] = min(entry["p_values"].values(), default=None)
            entry["p_adjusted"] = _round((1 + int((largest >= z - 1e-12).sum())) / (largest.size + 1)) if entry["p_values"] else 1.0
            entry["z_score"] = None if not np.isfinite(z) else round(z, 3)
    return out
