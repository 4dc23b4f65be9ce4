"""Column profiles of a domain's clean data, the part of the page a profiling tool would give.

What ydata-profiling shows per variable, made from polars aggregations and drawn as inline SVG by
the template (no new dependency): type, missing share, distinct count, a small histogram (numbers,
dates, text lengths) or the top values (categories), summary figures, and alerts:

- **constant**: a single value (or none);
- **high cardinality**: a category column with more than ``HIGH_CARDINALITY`` distinct values
  (ydata-profiling's default threshold), which a model sees as noise unless it is an id;
- **imbalance**: ``1 - entropy / log(k)`` over ``k`` categories above ``IMBALANCE`` (ydata's
  measure and default): one value dominates;
- **zeros**: more than ``ZEROS`` of a numeric column is zero;
- **missing**: more than ``MISSING`` of the column is missing;
- **unusual values**: values the cleaning rules let through that sit far from the rest: numbers and
  dates beyond Tukey's far-out fences (``FAR_OUT`` interquartile ranges past the quartiles), and
  in a column of few categories, categories held by ``RARE_ROWS`` rows or fewer where the median
  category holds ``COMMON`` times as many (a typo such as ``Caucasion`` beside thousands of
  ``Caucasian`` passes an open value set). A few examples are
  named; the rows are in clean data.

Direct identifiers are pseudonymised in clean data: their profile gives counts only. Free text
(mean length over 100 characters) gets a histogram of its lengths, not top values.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import polars as pl

from assay.config import DomainSpec
from assay.errors import AssayError
from assay.io import read_parquet
from assay.report.charts import histogram
from assay.report.formatting import fmt_number, preview

BINS = 24
TOP_VALUES = 5
HIGH_CARDINALITY = 50
IMBALANCE = 0.5
ZEROS = 0.5
MISSING = 0.1
FAR_OUT = 3.0
RARE_ROWS = 2
COMMON = 10  # ... when the median category holds at least this many times RARE_ROWS rows
FREE_TEXT_CHARS = 100
EXAMPLES = 3  # rare categories named in an alert


def _kind(series: pl.Series) -> str:
    dtype = series.dtype
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal():
        return "date"
    return "text"


def _physical(series: pl.Series) -> pl.Series:
    """Numbers as float64; dates and date-times as their time stamps."""
    values = series.to_physical() if series.dtype.is_temporal() else series
    return values.cast(pl.Float64).drop_nulls().drop_nans()


def _shown(series: pl.Series, value: float) -> str:
    """A number or a time stamp as the page shows it (dates as dates)."""
    if series.dtype.is_temporal():
        restored = pl.Series([int(value)], dtype=pl.Int64).cast(series.dtype)
        return str(restored[0])
    if series.dtype.is_integer():
        return f"{int(value):,}"
    return fmt_number(float(value))


def _histogram(values: pl.Series) -> tuple[list[float], float, float]:
    """Shares over ``BINS`` equal-width bins of the values' range: (shares, low, high)."""
    low, high = float(values.min()), float(values.max())  # type: ignore[arg-type]
    if high <= low:
        return [1.0], low, high
    width = (high - low) / BINS
    index = ((values - low) / width).floor().clip(0, BINS - 1).cast(pl.Int64)
    counts = index.value_counts(name="n").sort(index.name)
    shares = [0.0] * BINS
    for bin_index, count in counts.iter_rows():
        shares[bin_index] = count / values.len()
    return shares, low, high


def _far_out(series: pl.Series, values: pl.Series) -> dict[str, Any] | None:
    """Values beyond Tukey's far-out fences, with the most extreme as examples; None when there are none."""
    q1, q3 = values.quantile(0.25, "linear"), values.quantile(0.75, "linear")
    if q1 is None or q3 is None or q3 <= q1:
        return None
    low, high = q1 - FAR_OUT * (q3 - q1), q3 + FAR_OUT * (q3 - q1)
    outside = values.filter((values < low) | (values > high))
    if outside.is_empty():
        return None
    examples = [_shown(series, value) for value in sorted({float(outside.min()), float(outside.max())})]  # type: ignore[arg-type]
    return {"alert": "unusual values", "detail": f"{outside.len():,} beyond {FAR_OUT:g} interquartile ranges of the quartiles, e.g. {', '.join(examples)}"}


def fmt_share_precise(share: float) -> str:
    """A share that never rounds to 100% unless it is (99.98% is not "all")."""
    return f"{share:.2%}" if 0.999 < share < 1 else f"{share:.1%}"


def _imbalance(counts: list[int]) -> float:
    """ydata-profiling's imbalance: 1 - entropy / log(k); 0 for even shares, 1 for a single value."""
    total = sum(counts)
    if len(counts) < 2 or total == 0:
        return 0.0
    entropy = -sum(count / total * math.log(count / total) for count in counts if count)
    return 1 - entropy / math.log(len(counts))


def profile_column(series: pl.Series, rows: int, identifier: bool, declared: str | None) -> dict[str, Any]:
    """One column's profile: what it holds, a chart, summary figures and alerts."""
    present = series.drop_nulls()
    kind = _kind(series)
    missing = (rows - present.len()) / rows if rows else 0.0
    distinct = present.n_unique()
    out: dict[str, Any] = {
        "column": series.name,
        "type": declared or str(series.dtype).lower(),
        "kind": kind,
        "missing": missing,
        "distinct": distinct,
        "identifier": identifier,
        "chart": None,
        "range": None,
        "top": [],
        "summary": "",
        "alerts": [],
    }
    alerts = out["alerts"]
    if distinct <= 1:
        alerts.append({"alert": "constant", "detail": "one value" if distinct else "no value"})
    if missing > MISSING:
        alerts.append({"alert": "missing", "detail": f"{missing:.1%} of rows"})
    if identifier or present.is_empty():
        out["summary"] = "pseudonymised identifier: counts only" if identifier else ""
        return out
    if kind in ("numeric", "date"):
        values = _physical(present)
        shares, low, high = _histogram(values)
        out["chart"] = histogram(shares)
        out["range"] = (_shown(series, low), _shown(series, high))
        if kind == "numeric":
            zeros = float((values == 0).mean())  # type: ignore[arg-type]
            out["summary"] = f"mean {float(values.mean()):.4g}, median {float(values.median()):.4g}, zeros {zeros:.1%}"  # type: ignore[arg-type]
            if zeros > ZEROS:
                alerts.append({"alert": "zeros", "detail": f"{zeros:.1%} of values are 0"})
        else:
            out["summary"] = f"median {_shown(series, float(values.median()))}"  # type: ignore[arg-type]
        unusual = _far_out(series, values)
        if unusual:
            alerts.append(unusual)
        return out
    text = present.cast(pl.String)
    lengths = text.str.len_chars()
    if kind == "text" and float(lengths.mean()) > FREE_TEXT_CHARS:  # type: ignore[arg-type]
        shares, low, high = _histogram(lengths.cast(pl.Float64))
        out["chart"] = histogram(shares)
        out["range"] = (f"{int(low):,} chars", f"{int(high):,} chars")
        out["summary"] = f"free text, median length {int(lengths.median()):,} characters"  # type: ignore[arg-type]
        return out
    counts = text.value_counts(name="n").sort(["n", text.name], descending=[True, False])
    out["top"] = [{"value": preview(value, 40), "share": n / present.len()} for value, n in counts.head(TOP_VALUES).iter_rows()]
    if distinct > HIGH_CARDINALITY:
        alerts.append({"alert": "high cardinality", "detail": f"{distinct:,} distinct values"})
    else:
        imbalance = _imbalance(counts["n"].to_list())
        if distinct > 1 and imbalance > IMBALANCE:
            top_share = fmt_share_precise(counts["n"][0] / present.len())
            alerts.append({"alert": "imbalance", "detail": f"imbalance {imbalance:.2f}; {preview(counts[text.name][0], 30)} holds {top_share}"})
        rare = counts.filter(pl.col("n") <= RARE_ROWS)
        # Rare beside common: a category held by a row or two where the typical one holds many.
        if distinct > 2 and rare.height and float(counts["n"].median()) >= COMMON * RARE_ROWS:  # type: ignore[arg-type]
            named = ", ".join(f"{preview(value, 30)} ({n:,})" for value, n in rare.tail(EXAMPLES).iter_rows())
            alerts.append(
                {"alert": "unusual values", "detail": f"{rare.height:,} value(s) held by {RARE_ROWS} rows or fewer among {present.len():,}, e.g. {named}"}
            )
    return out


def profile_frame(frame: pl.DataFrame, spec: DomainSpec) -> dict[str, Any]:
    """Profiles of every column of a clean frame (provenance left out), and the alerts counted by kind."""
    rows = frame.height
    columns = [name for name in frame.columns if not name.startswith("_")]
    profiles = []
    for name in columns:
        declared = spec.columns.get(name)
        profiles.append(profile_column(frame[name], rows, bool(declared and declared.identifier), declared.type if declared else None))
    counted: dict[str, int] = {}
    for profile in profiles:
        for alert in profile["alerts"]:
            counted[alert["alert"]] = counted.get(alert["alert"], 0) + 1
    return {"rows": rows, "columns": profiles, "alerts": sorted(counted.items())}


def load_profile_section(domain: str, inputs: Any) -> dict[str, Any] | None:
    """The report loader (see :mod:`assay.report.page`): profiles of ``data/clean/<domain>.parquet``."""
    path: Path = inputs.layout.clean(domain)
    if not path.is_file():
        return None
    try:
        frame = read_parquet(path)
    except AssayError as exc:
        # The page still builds: the lineage section says which file no longer matches what its stage wrote.
        return {"error": str(exc), "rows": 0, "columns": [], "alerts": [], "source": path.as_posix()}
    return {**profile_frame(frame, inputs.spec(domain)), "error": None, "source": path.as_posix()}
