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

Columns are chosen once, on the whole table (:func:`drift_columns`), so the choice never depends
on how the rows were split. Left out: provenance (names starting with ``_``), columns the caller
excludes (group key, direct identifiers), id-like text (more than half the values distinct and
more than 50 of them: encounter or unit ids) and free text (mean length over 100 characters).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
) -> list[dict[str, Any]]:
    """One entry per column and pair.

    Keys: column, kind, pair; ks, psi, tvd (None where the kind has no such statistic);
    breached (the statistics above their threshold) and breach (whether any is); score (the
    largest statistic/threshold ratio, comparable across statistics: above 1 is a breach); and
    statistic, value, threshold: the statistic that gives the score, its value and its limit.
    """
    entries = []
    for name, kind in columns.items():
        stats = measure(reference[name], other[name], kind)
        breached, score = judge(stats, thresholds)
        present = [stat for stat in STATS if stats[stat] is not None]
        driver = max(present, key=lambda stat: stats[stat] / getattr(thresholds, stat), default=None)
        entries.append(
            {
                "column": name,
                "kind": "target" if name == target else kind,
                "pair": pair,
                **stats,
                "breached": breached,
                "breach": bool(breached),
                "score": score,
                "statistic": driver,
                "value": stats[driver] if driver else None,
                "threshold": getattr(thresholds, driver) if driver else None,
            }
        )
    return entries


def worst_first(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries by score, largest first; ties by column and pair so the order is stable."""
    return sorted(entries, key=lambda entry: (-entry["score"], entry["column"], entry["pair"]))
