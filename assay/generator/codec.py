"""Table rows as token sequences: one vocabulary per column, and constrained decoding.

Counting "seen at least ``rare_count`` times"
    With ``groups`` given to ``fit`` (the train stage passes the split's group: the patient, the
    customer), a value must be held by at least ``rare_count`` rows *and* ``rare_count`` distinct
    groups. A value repeated on many rows of one person (an invoice's timestamp on its 40 lines)
    is that person's, not a popular value: as a token of its own, the generator would reproduce it
    exactly, and a membership attack would find the person (it did, on the demo transactions).

Token layout
    ids 0, 1, 2 are PAD, BOS, EOS. Each column then owns one contiguous block of ids, in sequence
    order: first its values (categorical) or bins (numeric), then its special tokens. A row is
    ``n_columns`` ids, one from each block; ``sequences`` wraps it in BOS ... EOS for training.

Column kinds, chosen from the polars dtype at fit
    categorical  String, Categorical, Enum, Boolean. One token per value seen at least
                 ``rare_count`` times (the ``max_categories`` most frequent) that holds no
                 personal data (assay.data.personal_data: the vocabulary is published with the
                 model, in generator.json), then OTHER and MISSING. OTHER stands for every rarer
                 (and every unseen) value. It decodes to one of the *pooled* values, drawn with
                 its train frequency: the values held by at least ``min_count`` rows (and people,
                 given groups) that got no token of their own (rarer than ``rare_count``, or past
                 ``max_categories``), so a synthetic row never carries a made-up "other" that the
                 suite's value set rejects. A value held by fewer than ``min_count`` people is
                 never emitted: seen once, a rare category (a country, a diagnosis) identifies a
                 person. With no value to draw, OTHER is not sampled at all (the model's weight on
                 it goes to the other tokens); a column whose every value is that rare is
                 *masked*: it is sampled as null. ``min_count`` defaults to ``rare_count``, so by
                 default the pool holds only the values past ``max_categories``; a ``rare_count``
                 above ``min_count`` pools the values in between (learned together, emitted as
                 themselves).
    discrete     integer columns with at most ``numeric_bins`` distinct values. Values seen at
                 least ``rare_count`` times get an exact token (small counts are exact); rarer
                 values are pooled into range tokens of at least ``rare_count`` rows each
                 (neighbours merged), decoded uniformly over the integers of the range, so a rare
                 outlier is not reproduced as such. If all rare values together hold fewer than
                 ``rare_count`` rows they get no token and encode as the nearest exact value.
    binned       other integers, floats, Date, Datetime. Atoms, values holding at least
                 ``n / (4 * numeric_bins)`` and ``rare_count`` rows (a price point, quantity 1;
                 at most ``numeric_bins`` of them), get an exact point token. The other values
                 are cut into at most ``numeric_bins`` range bins at quantile levels spaced like
                 Chebyshev nodes (dense near both ends, so p1 and p99 sit in narrow bins) plus,
                 on large columns, levels ``rare_count``, 4x, 16x ... rows from each end (so one
                 wide extreme bin cannot inflate the mean). Ties are never split, and a bin
                 under ``rare_count`` rows (or people, given groups) is merged into a
                 neighbour. Each range bin is the [min, max] of the training values in it, so
                 the outermost bins end at the observed min and max and the tails are kept. (Range ends are training values;
                 the codec stores no value inside a range.)

Decoding a numeric range draws uniformly on the column's grid inside [lo, hi], skipping values
that have their own point token (so decode then encode gives back the same tokens); the grid is the
precision seen at fit: 1 for integers; 10**-d for floats, d the fewest decimals that write every
value (at most ``MAX_DECIMALS``); 1 day for dates; for datetimes the coarsest of day, hour,
minute, second, millisecond, microsecond that divides every value. Integers stay integers.
Floats treat NaN and infinities as missing.

Specials and sampling
    MISSING is in every block, OTHER in every categorical block. A special never seen at fit is
    ordered last in its block and left out of ``allowed_token_ranges``, so sampling never puts a
    null in a column that had none; ``encode`` still uses it for new data (an unseen category
    becomes OTHER, a null MISSING) and ``decode`` accepts it.

Features for distances (``features``, ``is_categorical``)
    One float32 per column. Numeric columns: the value range-normalised with the training min and
    max, clipped to [0, 1]. Categorical columns: the token's index in its block divided by
    (block size - 1), also in [0, 1]; these codes carry no order, so compare them for equality
    (``is_categorical`` marks them). A missing value is ``MISSING_FEATURE`` (-1.0) in every
    column: distance at least 1 from any present value, 0 from another missing one.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import numpy as np
import polars as pl
import torch

from assay.data.personal_data import holds_personal_data
from assay.generator.dependencies import DEFAULT_MIN_SHARE, FunctionalDependency, find_dependencies

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
N_RESERVED = 3
OTHER = "OTHER"
MISSING = "MISSING"
MISSING_FEATURE = -1.0
MAX_DECIMALS = 4
CODEC_FORMAT = "assay-tabular-codec"
CODEC_VERSION = 3  # 3: columns with one legal id are left out of token sequences

_SIMPLE_DTYPES = {
    "String": pl.String,
    "Categorical": pl.Categorical,
    "Boolean": pl.Boolean,
    "Int8": pl.Int8,
    "Int16": pl.Int16,
    "Int32": pl.Int32,
    "Int64": pl.Int64,
    "UInt8": pl.UInt8,
    "UInt16": pl.UInt16,
    "UInt32": pl.UInt32,
    "UInt64": pl.UInt64,
    "Float32": pl.Float32,
    "Float64": pl.Float64,
    "Date": pl.Date,
}
_CATEGORICAL_DTYPES = ("String", "Categorical", "Enum", "Boolean")
_UNITS_PER_SECOND = {"ns": 1_000_000_000, "us": 1_000_000, "ms": 1_000}
_SECONDS = [86_400, 3_600, 60, 1]
_REDRAWS = 64
_WHITESPACE = re.compile(r"\s")


def dtype_to_dict(name: str, dtype: pl.DataType) -> dict[str, Any]:
    """A polars dtype as JSON (the one dtype map of the package; ``name`` is the column, for the error)."""
    if isinstance(dtype, pl.Datetime):
        return {"name": "Datetime", "time_unit": dtype.time_unit, "time_zone": dtype.time_zone}
    if isinstance(dtype, pl.Enum):
        return {"name": "Enum", "categories": dtype.categories.to_list()}
    kind = type(dtype).__name__
    if kind not in _SIMPLE_DTYPES:
        raise TypeError(f"column {name!r} has dtype {dtype}, which the codec cannot encode (strings, booleans, integers, floats, dates, datetimes)")
    return {"name": kind}


def dtype_from_dict(spec: dict[str, Any]) -> pl.DataType:
    """The polars dtype that :func:`dtype_to_dict` wrote."""
    if spec["name"] == "Datetime":
        return pl.Datetime(spec["time_unit"], spec["time_zone"])
    if spec["name"] == "Enum":
        return pl.Enum(spec["categories"])
    return _SIMPLE_DTYPES[spec["name"]]()


@dataclass
class ColumnCodec:
    """One column's block of token ids: ``offset`` .. ``offset + size``; see the module docstring."""

    name: str
    kind: str  # "categorical", "discrete" or "binned"
    dtype: dict[str, Any]  # the polars dtype, serialised (``dtype_from_dict``)
    offset: int  # first token id of the block
    values: list[Any] = field(default_factory=list)  # categorical: one value per token, sorted
    bins: list[list[Any]] = field(default_factory=list)  # numeric: [lo, hi] per token, physical units, sorted
    specials: list[str] = field(default_factory=list)  # OTHER / MISSING, in token order after values or bins
    n_legal: int = 0  # ids offset .. offset + n_legal may be sampled (specials unseen at fit come last)
    pool: list[Any] = field(default_factory=list)  # categorical: what OTHER decodes to, sorted (values held by >= min_count people, no token)
    pool_counts: list[int] = field(default_factory=list)  # train rows of each pooled value: the draw's weights
    masked: bool = False  # no value held by min_count people: the column is sampled as null
    step: int | float = 1  # numeric grid, physical units
    decimals: int | None = None  # floats: decimals kept when decoding

    @property
    def polars_dtype(self) -> pl.DataType:
        return dtype_from_dict(self.dtype)

    @property
    def n_main(self) -> int:
        return len(self.values) if self.kind == "categorical" else len(self.bins)

    @property
    def size(self) -> int:
        return self.n_main + len(self.specials)

    @property
    def is_float(self) -> bool:
        return self.dtype["name"] in ("Float32", "Float64")

    def special_id(self, special: str) -> int:
        """Token id of ``OTHER`` or ``MISSING`` in this block."""
        return self.offset + self.n_main + self.specials.index(special)


def _specials(seen: dict[str, bool]) -> tuple[list[str], int]:
    """Specials seen at fit first (they are legal to sample), then the others."""
    order = sorted(seen, key=lambda special: not seen[special])
    return order, sum(seen.values())


# ---------------------------------------------------------------- categorical


def _categorical_keys(series: pl.Series) -> pl.Series:
    return series if series.dtype == pl.Boolean else series.cast(pl.String)


class _Support:
    """Rows, and distinct groups when groups are given, held by the distinct values of a column.

    ``inverse`` maps each row to its distinct value (0 .. n_values - 1, in sorted order). Support is
    the smaller of rows and groups: ``rare_count`` counts people as well as rows, for single values
    (which may get a token of their own) and for runs of values (a range token), alike.
    """

    def __init__(self, inverse: np.ndarray, n_values: int, groups: np.ndarray | None = None) -> None:
        inverse = inverse.astype(np.int64)
        self.rows = np.bincount(inverse, minlength=n_values)
        self._cumulative_rows = np.concatenate([[0], np.cumsum(self.rows)])
        # (value, group) pairs, sorted by value: the groups of a run are one slice
        self._pairs = None if groups is None else np.unique(np.stack([inverse, groups.astype(np.int64)]), axis=1)

    def per_value(self) -> np.ndarray:
        if self._pairs is None:
            return self.rows
        return np.minimum(self.rows, np.bincount(self._pairs[0], minlength=self.rows.size))

    def of_run(self, start: int, end: int) -> int:
        """Support of the values ``start`` .. ``end - 1`` together."""
        rows = int(self._cumulative_rows[end] - self._cumulative_rows[start])
        if self._pairs is None:
            return rows
        lo, hi = np.searchsorted(self._pairs[0], [start, end])
        return min(rows, int(np.unique(self._pairs[1, lo:hi]).size))


def _fit_categorical(
    name: str,
    series: pl.Series,
    dtype: dict[str, Any],
    *,
    rare_count: int,
    min_count: int,
    max_categories: int,
    groups: np.ndarray | None = None,
) -> ColumnCodec:
    keys = _categorical_keys(series).rename("value")
    present = keys.is_not_null().to_numpy()
    values_seen = keys.drop_nulls()
    # dense ranks number the distinct values in sorted order, as _Support expects
    ranks = (values_seen.cast(pl.UInt8) if values_seen.dtype == pl.Boolean else values_seen).rank("dense")
    distinct = values_seen.unique().sort()
    support = _Support(ranks.to_numpy() - 1, distinct.len(), None if groups is None else groups[present])
    counts = pl.DataFrame({"value": distinct, "count": support.rows, "support": support.per_value()})
    emittable = counts.filter(pl.col("support") >= min_count)
    if emittable["value"].dtype == pl.String and emittable.height:
        # The vocabulary and the pool are published with the model (generator.json): personal
        # data that the clean stage flagged rather than masked must not enter them, however often
        # it is seen.
        emittable = emittable.filter(~pl.Series(holds_personal_data(emittable["value"].to_list())))
    ranked = emittable.filter(pl.col("support") >= rare_count).sort(["count", "value"], descending=[True, False])
    kept = ranked.head(max_categories)
    pooled = emittable.filter(~pl.col("value").is_in(kept["value"].implode())).sort("value")
    values = sorted(kept["value"].to_list())
    n_other = (keys.len() - keys.null_count()) - int(kept["count"].sum())
    seen = {OTHER: n_other > 0 and pooled.height > 0, MISSING: keys.null_count() > 0}
    masked = not values and not any(seen.values())
    if masked:
        seen[MISSING] = True  # nothing may be emitted: the column is sampled as null
    specials, n_seen = _specials(seen)
    return ColumnCodec(
        name=name,
        kind="categorical",
        dtype=dtype,
        offset=0,
        values=values,
        specials=specials,
        n_legal=len(values) + n_seen,
        pool=pooled["value"].to_list(),
        pool_counts=[int(c) for c in pooled["count"].to_list()],
        masked=masked,
    )


def _encode_categorical(col: ColumnCodec, series: pl.Series) -> np.ndarray:
    keys = _categorical_keys(series)
    ids = keys.replace_strict(old=col.values, new=list(range(col.offset, col.offset + len(col.values))), default=col.special_id(OTHER), return_dtype=pl.Int32)
    ids = pl.select(pl.when(keys.is_null()).then(col.special_id(MISSING)).otherwise(ids)).to_series()
    return ids.to_numpy().astype(np.int32)


def _decode_categorical(col: ColumnCodec, local: np.ndarray, null: np.ndarray, rng: np.random.Generator) -> pl.Series:
    key_dtype = pl.Boolean if col.dtype["name"] == "Boolean" else pl.String
    other = col.n_main + col.specials.index(OTHER) if OTHER in col.specials else -1
    missing = col.n_main + col.specials.index(MISSING)
    lookup = pl.Series(col.name, [*col.values, *[None] * len(col.specials)], dtype=key_dtype)
    is_other = (local == other) & ~null
    out = lookup.gather(np.where(null | is_other, missing, local))
    if is_other.any() and col.pool:
        # OTHER is one of the pooled rare values, as often as each was in train
        weights = np.asarray(col.pool_counts, dtype=np.float64)
        drawn = rng.choice(len(col.pool), size=int(is_other.sum()), p=weights / weights.sum())
        out = out.scatter(np.flatnonzero(is_other), pl.Series([col.pool[i] for i in drawn], dtype=key_dtype))
    return out if key_dtype == pl.Boolean else out.cast(col.polars_dtype)


# ---------------------------------------------------------------- numeric


def _physical(series: pl.Series, dtype: pl.DataType) -> tuple[np.ndarray, np.ndarray]:
    """(values, missing): int64 for integers, dates and datetimes, float64 for floats; missing values read 0."""
    if dtype.is_float():
        values = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
        missing = ~np.isfinite(values)
        return np.where(missing, 0.0, values), missing
    ints = series.to_physical().cast(pl.Int64) if dtype.is_temporal() else series.cast(pl.Int64)
    return ints.fill_null(0).to_numpy(), ints.is_null().to_numpy()


def _decimals(values: np.ndarray) -> int:
    for decimals in range(MAX_DECIMALS + 1):
        scaled = values * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return decimals
    return MAX_DECIMALS


def _grid_step(values: np.ndarray, dtype: pl.DataType) -> tuple[int | float, int | None]:
    """The decoding grid (physical units) and, for floats, the decimals kept."""
    if dtype.is_float():
        decimals = _decimals(values)
        return 10.0**-decimals, decimals
    if isinstance(dtype, pl.Datetime):
        per_second = _UNITS_PER_SECOND[dtype.time_unit]
        candidates = [seconds * per_second for seconds in _SECONDS] + [per_second // 1000, per_second // 1_000_000, 1]
        for step in sorted({c for c in candidates if c >= 1}, reverse=True):
            if np.all(values % step == 0):
                return int(step), None
    return 1, None


def _merge_small(starts: list[int], ends: list[int], support: _Support, min_support: int) -> None:
    """Merge neighbouring runs (in place) until each has ``min_support`` (rows, and groups when
    known) or one run is left. The run with the least support goes into its smaller neighbour."""
    held = [support.of_run(s, e) for s, e in zip(starts, ends, strict=True)]
    while len(held) > 1 and min(held) < min_support:
        i = held.index(min(held))
        if i == 0:
            j = 1
        elif i == len(held) - 1:
            j = i - 1
        else:
            j = i - 1 if held[i - 1] <= held[i + 1] else i + 1
        a, b = min(i, j), max(i, j)
        ends[a] = ends[b]
        held[a] = support.of_run(starts[a], ends[a])
        del starts[b], ends[b], held[b]


def _ranges(distinct: np.ndarray, support: _Support, cuts: np.ndarray, min_support: int) -> list[list[Any]]:
    """[lo, hi] of each run of ``distinct`` values between consecutive ``cuts`` (indices), runs with
    too little support merged."""
    cuts = np.unique(cuts)
    starts, ends = cuts[:-1].tolist(), cuts[1:].tolist()
    _merge_small(starts, ends, support, min_support)
    return [[distinct[s].item(), distinct[e - 1].item()] for s, e in zip(starts, ends, strict=True)]


def _quantile_levels(n_ranges: int, n_values: int, rare_count: int) -> np.ndarray:
    """Cut levels in [0, 1]: Chebyshev nodes, dense near both ends, and on large columns extra
    levels ``rare_count``, 4x, 16x ... rows from each end, inside the outermost node."""
    first_node_rows = n_values * (1.0 - math.cos(math.pi / n_ranges)) / 2.0
    tail: list[float] = []
    rows = rare_count
    while rows < first_node_rows and len(tail) < n_ranges // 8:
        tail.append(rows / n_values)
        rows *= 4
    k = n_ranges - 2 * len(tail)
    nodes = (1.0 - np.cos(np.pi * np.arange(k + 1) / k)) / 2.0
    return np.unique(np.concatenate([nodes, tail, 1.0 - np.asarray(tail)]))


def _fit_numeric(name: str, series: pl.Series, dtype: dict[str, Any], *, numeric_bins: int, rare_count: int, groups: np.ndarray | None = None) -> ColumnCodec:
    polars_dtype = dtype_from_dict(dtype)
    values, missing = _physical(series, polars_dtype)
    values = values[~missing]
    step, decimals = _grid_step(values, polars_dtype)
    if decimals is not None:
        values = np.round(values, decimals)
    distinct, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    row_groups = None if groups is None else groups[~missing]
    # A value gets its own token only when enough groups (people) hold it: an invoice's timestamp
    # repeated on its 40 lines is one customer's, not a popular value, and would be memorised.
    support = _Support(inverse, distinct.size, row_groups).per_value()
    if polars_dtype.is_integer() and distinct.size <= numeric_bins:
        kind = "discrete"
        is_atom = support >= rare_count
    else:
        kind = "binned"
        threshold = max(rare_count, math.ceil(values.size / (4 * numeric_bins)))
        heavy = np.flatnonzero((counts >= threshold) & (support >= rare_count))
        heavy = heavy[np.lexsort((distinct[heavy], -counts[heavy]))][:numeric_bins]
        is_atom = np.zeros(distinct.size, dtype=bool)
        is_atom[heavy] = True
    # The other values are pooled into ranges, and a range too needs rare_count people: the last
    # invoice of the period, alone in the top bin, would otherwise decode to its own timestamp.
    rest, rest_counts = distinct[~is_atom], counts[~is_atom]
    in_rest = ~is_atom[inverse]
    rest_support = _Support(np.cumsum(~is_atom)[inverse[in_rest]] - 1, rest.size, None if row_groups is None else row_groups[in_rest])
    ranges: list[list[Any]] = []
    if rest.size:
        if kind == "discrete":
            cuts = np.arange(rest.size + 1)
        else:
            levels = _quantile_levels(numeric_bins, int(rest_counts.sum()), rare_count)
            start_rank = np.cumsum(rest_counts) - rest_counts
            cuts = np.searchsorted(start_rank, levels * rest_counts.sum(), side="left")
            cuts[0], cuts[-1] = 0, rest.size
        ranges = _ranges(rest, rest_support, cuts, rare_count)
    if is_atom.any() and rest.size and rest_support.of_run(0, rest.size) < rare_count:
        ranges = []  # too few rows or people to pool safely: encoding sends them to the nearest exact value
    atoms = [[v.item(), v.item()] for v in distinct[is_atom]]
    bins = sorted(atoms + ranges, key=lambda b: (b[0], b[1]))
    specials, n_seen = _specials({MISSING: bool(missing.any())})
    return ColumnCodec(name=name, kind=kind, dtype=dtype, offset=0, bins=bins, specials=specials, n_legal=len(bins) + n_seen, step=step, decimals=decimals)


def _bin_arrays(col: ColumnCodec) -> tuple[np.ndarray, np.ndarray]:
    kind = np.float64 if col.is_float else np.int64
    if not col.bins:
        return np.zeros(0, dtype=kind), np.zeros(0, dtype=kind)
    edges = np.asarray(col.bins, dtype=kind)
    return edges[:, 0], edges[:, 1]


def _nearest_bin(col: ColumnCodec, values: np.ndarray) -> np.ndarray:
    """Index of the bin holding each value: an exact point first, then the containing range, else the nearest bin."""
    lo, hi = _bin_arrays(col)
    best = np.zeros(values.size, dtype=np.int64)
    best_distance = np.full(values.size, np.inf)
    point = lo == hi
    for indices in (np.flatnonzero(point), np.flatnonzero(~point)):
        if indices.size == 0:
            continue
        b_lo, b_hi = lo[indices], hi[indices]
        right = np.searchsorted(b_lo, values, side="right")
        for candidate in (right - 1, right):
            valid = (candidate >= 0) & (candidate < indices.size)
            c = np.clip(candidate, 0, indices.size - 1)
            below = (b_lo[c] - values).astype(np.float64)
            above = (values - b_hi[c]).astype(np.float64)
            distance = np.where(valid, np.maximum(np.maximum(below, above), 0.0), np.inf)
            closer = distance < best_distance
            best = np.where(closer, indices[c], best)
            best_distance = np.where(closer, distance, best_distance)
    return best


def _encode_numeric(col: ColumnCodec, series: pl.Series) -> np.ndarray:
    values, missing = _physical(series, col.polars_dtype)
    if col.decimals is not None:
        values = np.round(values, col.decimals)
    if not col.bins:  # the column was all null at fit
        return np.full(values.size, col.special_id(MISSING), dtype=np.int32)
    ids = col.offset + _nearest_bin(col, values)
    return np.where(missing, col.special_id(MISSING), ids).astype(np.int32)


def _draw(col: ColumnCodec, b_lo: np.ndarray, b_hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One value per row, uniform on the column's grid within [b_lo, b_hi]."""
    if col.is_float:
        steps = np.clip(np.nan_to_num(np.floor((b_hi - b_lo) / col.step + 0.5)), 0, 2**62).astype(np.int64)
        return np.round(b_lo + rng.integers(0, steps + 1) * col.step, col.decimals)
    steps = (b_hi - b_lo) // int(col.step)
    return b_lo + rng.integers(0, steps + 1) * int(col.step)


def _decode_numeric(col: ColumnCodec, local: np.ndarray, null: np.ndarray, rng: np.random.Generator) -> pl.Series:
    lo, hi = _bin_arrays(col)
    null = null | (local >= col.n_main)
    if lo.size == 0:
        lo, hi = np.zeros(1, dtype=lo.dtype), np.zeros(1, dtype=hi.dtype)
    index = np.where(null, 0, np.clip(local, 0, lo.size - 1))
    b_lo, b_hi = lo[index], hi[index]
    values = _draw(col, b_lo, b_hi, rng)
    # A range never decodes to a point token's value, so decoding then encoding gives the same token.
    points = np.unique(lo[lo == hi])
    todo = np.flatnonzero(b_lo != b_hi) if points.size else np.zeros(0, dtype=np.int64)
    for attempt in range(_REDRAWS + 1):
        drawn = values[todo]
        todo = todo[points[np.minimum(np.searchsorted(points, drawn), points.size - 1)] == drawn]
        if todo.size == 0:
            break
        # a range's lo is an observed value that is not a point: the fallback after many misses
        values[todo] = b_lo[todo] if attempt == _REDRAWS - 1 else _draw(col, b_lo[todo], b_hi[todo], rng)
    dtype = col.polars_dtype
    out = pl.Series(col.name, values)
    if dtype.is_temporal():
        out = out.cast(pl.Int32 if dtype == pl.Date else pl.Int64)
    out = out.cast(dtype)
    return out.scatter(np.flatnonzero(null), None) if null.any() else out


def _bin_texts(col: ColumnCodec) -> list[tuple[str, str]]:
    """(lo, hi) of each bin as text in the column's own type: ``3``, ``0.07``, ``2011-01-01``, ``2011-01-01T08:26:00``."""
    if not col.bins:
        return []
    edges = pl.Series([edge for pair in col.bins for edge in pair])
    dtype = col.polars_dtype
    if dtype.is_temporal():
        edges = edges.cast(pl.Int32 if dtype == pl.Date else pl.Int64).cast(dtype)
    texts = [value.isoformat() if hasattr(value, "isoformat") else repr(value) for value in edges.to_list()]
    return list(zip(texts[0::2], texts[1::2], strict=True))


# ---------------------------------------------------------------- the codec


@dataclass
class TabularCodec:
    """Encode rows of a polars frame as token ids and decode sampled ids back; see the module docstring."""

    columns: list[ColumnCodec]
    # held in constrained decoding; codes are local token indices (token id - block offset)
    dependencies: list[FunctionalDependency] = field(default_factory=list)
    pad_id: ClassVar[int] = PAD_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID

    def __post_init__(self) -> None:
        offset = N_RESERVED
        for col in self.columns:
            if col.offset != offset:
                raise ValueError(f"column {col.name!r} starts at token {col.offset}, expected {offset}: blocks must be contiguous from {N_RESERVED}")
            if not 0 < col.n_legal <= col.size:
                raise ValueError(f"column {col.name!r} has n_legal={col.n_legal}, outside 1..{col.size}")
            offset += col.size
        names = [col.name for col in self.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"column names repeat: {names}")

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        columns: list[str],
        *,
        numeric_bins: int = 64,
        rare_count: int = 5,
        max_categories: int = 2000,
        groups: pl.Series | None = None,
        min_count: int | None = None,
    ) -> TabularCodec:
        """Fit one vocabulary per column (in the order given) on ``frame``; deterministic.

        ``min_count`` (default ``rare_count``, at most ``rare_count``): a category held by fewer
        rows (people) than this is never emitted; see the module docstring.

        ``groups`` (one key per row: the patient, the customer) makes ``rare_count`` count distinct
        groups as well as rows, so a value held by fewer than ``rare_count`` people never gets a
        token of its own, however many rows those people have.
        """
        if numeric_bins < 2 or rare_count < 1 or max_categories < 1:
            raise ValueError(f"numeric_bins must be >= 2, rare_count and max_categories >= 1; got {numeric_bins}, {rare_count}, {max_categories}")
        min_count = rare_count if min_count is None else min_count
        if not 1 <= min_count <= rare_count:
            raise ValueError(f"min_count must be between 1 and rare_count ({rare_count}); got {min_count}")
        if not columns:
            raise ValueError("no columns to encode")
        if len(set(columns)) != len(columns):
            raise ValueError(f"columns repeat: {columns}")
        absent = [name for name in columns if name not in frame.columns]
        if absent:
            raise ValueError(f"columns not in the frame: {', '.join(absent)}")
        if frame.height == 0:
            raise ValueError("cannot fit a codec on an empty frame")
        if groups is not None and groups.len() != frame.height:
            raise ValueError(f"groups has {groups.len()} keys for {frame.height} rows")
        group_codes = None if groups is None else groups.cast(pl.String).fill_null("").rank("dense").to_numpy()
        fitted: list[ColumnCodec] = []
        offset = N_RESERVED
        for name in columns:
            dtype = dtype_to_dict(name, frame.schema[name])
            if dtype["name"] in _CATEGORICAL_DTYPES:
                col = _fit_categorical(name, frame[name], dtype, rare_count=rare_count, min_count=min_count, max_categories=max_categories, groups=group_codes)
            else:
                col = _fit_numeric(name, frame[name], dtype, numeric_bins=numeric_bins, rare_count=rare_count, groups=group_codes)
            col.offset = offset
            offset += col.size
            fitted.append(col)
        return cls(fitted)

    @property
    def vocab_size(self) -> int:
        return N_RESERVED + sum(col.size for col in self.columns)

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def sequence_positions(self) -> list[int]:
        """The columns (indices into ``columns``) that token sequences hold, in order: every column
        with more than one legal id. A column with one (a medication no train row took) is decided
        before sampling starts, so the model neither reads nor predicts it: on real records that
        is 8 of 48 columns, a sixth of the tokens (training went from 400 to 467 rows a second)."""
        return [j for j, col in enumerate(self.columns) if col.n_legal > 1]

    @property
    def column_names(self) -> list[str]:
        return [col.name for col in self.columns]

    @property
    def schema(self) -> dict[str, pl.DataType]:
        """The fitted columns and their polars dtypes: what ``decode`` returns."""
        return {col.name: col.polars_dtype for col in self.columns}

    @property
    def is_categorical(self) -> np.ndarray:
        """Per column, True where ``features`` holds an unordered category code (compare for equality)."""
        return np.array([col.kind == "categorical" for col in self.columns], dtype=bool)

    def _check_columns(self, frame: pl.DataFrame) -> None:
        absent = [name for name in self.column_names if name not in frame.columns]
        if absent:
            raise ValueError(f"columns not in the frame: {', '.join(absent)}")

    def encode(self, frame: pl.DataFrame) -> np.ndarray:
        """(n_rows, n_columns) int32 token ids, no BOS/EOS."""
        self._check_columns(frame)
        out = np.empty((frame.height, self.n_columns), dtype=np.int32)
        for j, col in enumerate(self.columns):
            encode = _encode_categorical if col.kind == "categorical" else _encode_numeric
            out[:, j] = encode(col, frame[col.name])
        return out

    def sequences(self, frame: pl.DataFrame) -> np.ndarray:
        """(n_rows, len(sequence_positions) + 2) int32: BOS, the tokens of the row's sequence columns, EOS."""
        tokens = self.encode(frame)[:, self.sequence_positions]
        bos = np.full((tokens.shape[0], 1), BOS_ID, dtype=np.int32)
        eos = np.full((tokens.shape[0], 1), EOS_ID, dtype=np.int32)
        return np.hstack([bos, tokens, eos])

    def decode(self, tokens: np.ndarray, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
        """(frame with the fitted columns and dtypes, bool mask of rows that parsed).

        A row parses when every position holds an id of its column's block. Rows that do not parse
        are all null in the frame. Numeric values and pooled categories are drawn with ``rng``
        (same seed, same frame).
        """
        tokens = np.asarray(tokens)
        if tokens.ndim != 2 or tokens.shape[1] != self.n_columns:
            raise ValueError(f"expected tokens of shape (n_rows, {self.n_columns}), got {tokens.shape}")
        locals_ = [tokens[:, j].astype(np.int64) - col.offset for j, col in enumerate(self.columns)]
        parsed = np.ones(tokens.shape[0], dtype=bool)
        for col, local in zip(self.columns, locals_, strict=True):
            parsed &= (local >= 0) & (local < col.size)
        series = []
        for col, local in zip(self.columns, locals_, strict=True):
            local = np.where(parsed, local, 0)
            if col.kind == "categorical":
                series.append(_decode_categorical(col, local, ~parsed, rng))
            else:
                series.append(_decode_numeric(col, local, ~parsed, rng))
        return pl.DataFrame(series), parsed

    def allowed_token_ranges(self) -> list[tuple[int, int]]:
        """Per position, [start, end) of the ids that may be sampled there (specials unseen at fit excluded)."""
        return [(col.offset, col.offset + col.n_legal) for col in self.columns]

    def features(self, frame: pl.DataFrame) -> np.ndarray:
        """(n_rows, n_columns) float32 for distances: numeric range-normalised to [0, 1], categorical block index / (size - 1), missing -1."""
        self._check_columns(frame)
        out = np.empty((frame.height, self.n_columns), dtype=np.float32)
        for j, col in enumerate(self.columns):
            if col.kind == "categorical":
                ids = _encode_categorical(col, frame[col.name])
                scaled = (ids - col.offset) / max(col.size - 1, 1)
                missing = ids == col.special_id(MISSING)
            else:
                values, missing = _physical(frame[col.name], col.polars_dtype)
                lo, hi = _bin_arrays(col)
                low, high = (lo.min(), hi.max()) if lo.size else (0, 0)
                span = float(high - low)
                scaled = np.clip((values - low).astype(np.float64) / span, 0.0, 1.0) if span > 0 else np.zeros(values.size)
            out[:, j] = np.where(missing, MISSING_FEATURE, scaled)
        return out

    def token_features(self, tokens: np.ndarray) -> np.ndarray:
        """Like :meth:`features`, straight from column tokens (n_rows, n_columns): no decoding needed.

        Numeric tokens stand for their bin's midpoint, range-normalised as in :meth:`features`;
        categorical tokens for their block index; MISSING (and PAD or anything out of the block)
        for -1. Training-time privacy checks compare sampled rows this way.
        """
        tokens = np.asarray(tokens)
        out = np.empty(tokens.shape, dtype=np.float32)
        for j, col in enumerate(self.columns):
            table = np.full(col.size, MISSING_FEATURE, dtype=np.float32)
            if col.kind == "categorical":
                table[:] = np.arange(col.size) / max(col.size - 1, 1)
            elif col.n_main:
                lo, hi = _bin_arrays(col)
                low, high = float(lo.min()), float(hi.max())
                middle = (lo.astype(np.float64) + hi.astype(np.float64)) / 2
                table[: col.n_main] = np.clip((middle - low) / (high - low), 0.0, 1.0) if high > low else 0.0
            if MISSING in col.specials:
                table[col.special_id(MISSING) - col.offset] = MISSING_FEATURE
            local = tokens[:, j].astype(np.int64) - col.offset
            inside = (local >= 0) & (local < col.size)
            out[:, j] = np.where(inside, table[np.clip(local, 0, col.size - 1)], MISSING_FEATURE)
        return out

    def token_names(self) -> list[str]:
        """One readable, unique, whitespace-free name per id (``<pad>``, ``age=[70-80)``, ``price=[0.07..0.12]``,
        ``race=<missing>``), e.g. for a word-level tokenizer that makes a model directory self-describing."""
        names = ["<pad>", "<bos>", "<eos>"]
        for col in self.columns:
            if col.kind == "categorical":
                main = ["true" if v is True else "false" if v is False else str(v) for v in col.values]
            else:
                main = [lo if lo == hi else f"[{lo}..{hi}]" for lo, hi in _bin_texts(col)]
            names += [f"{col.name}={text}" for text in main] + [f"{col.name}=<{special.lower()}>" for special in col.specials]
        used: set[str] = set()
        unique = []
        for token_id, name in enumerate(names):
            name = _WHITESPACE.sub("\u2581", name)
            while name in used:  # a value that reads like another token's name
                name = f"{name}#{token_id}"
            used.add(name)
            unique.append(name)
        return unique

    def summary(self) -> list[dict[str, Any]]:
        """Per column: name, kind, token block and how many tokens are values/bins, for logs and reports."""
        return [
            {
                "name": col.name,
                "kind": col.kind,
                "first_id": col.offset,
                "tokens": col.size,
                "values_or_bins": col.n_main,
                "legal": col.n_legal,
                "pooled_values": len(col.pool),
                "masked": col.masked,
            }
            for col in self.columns
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable; ``from_dict`` gives back an equal codec."""
        return {
            "format": CODEC_FORMAT,
            "version": CODEC_VERSION,
            "columns": [asdict(col) for col in self.columns],
            "dependencies": [dependency.to_dict() for dependency in self.dependencies],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TabularCodec:
        if data.get("format") != CODEC_FORMAT or data.get("version") != CODEC_VERSION:
            raise ValueError(f"not an {CODEC_FORMAT} v{CODEC_VERSION} dict (format={data.get('format')!r}, version={data.get('version')!r})")
        return cls([ColumnCodec(**col) for col in data["columns"]], [FunctionalDependency.from_dict(d) for d in data.get("dependencies", [])])

    def find_dependencies(self, frame: pl.DataFrame, min_share: float = DEFAULT_MIN_SHARE) -> list[FunctionalDependency]:
        """Set (and return) the functional dependencies between the columns' tokens in ``frame``,
        value-level rules (A = a implies B = b) among them.

        Only value (and bin) tokens may determine: OTHER and MISSING stand for many values.
        Constrained decoding then holds to them (:class:`ColumnConstraints`).
        """
        tokens = self.encode(frame)
        codes = {col.name: tokens[:, j].astype(np.int64) - col.offset for j, col in enumerate(self.columns)}
        mappable = {col.name: np.arange(col.size) < col.n_main for col in self.columns}
        self.dependencies = find_dependencies(codes, mappable=mappable, min_share=min_share, min_rows=1, implications=True)
        return self.dependencies


# ---------------------------------------------------------------- constrained decoding


class ColumnConstraints:
    """Which ids each column may take while a row is sampled: its own block of the vocabulary,
    narrowed by the codec's functional dependencies (A determines B).

    Ids here are local to a column's block, and only its legal ones (0 .. n_legal - 1: the
    specials never seen at fit are left out), as the sampler scores them: B may only
    be the value the sampled A maps to, or (when B comes first in the row) A only a value that maps
    to the sampled B. A row that the dependencies leave with no legal id keeps its column's whole
    block instead, so every row still parses. The tables are built once per codec and device.
    """

    def __init__(self, codec: TabularCodec, device: str | torch.device = "cpu") -> None:
        self.sizes = [col.n_legal for col in codec.columns]
        self.offsets = torch.tensor([col.offset for col in codec.columns], dtype=torch.long, device=device)
        self._tables: dict[int, list[tuple[int, torch.Tensor]]] = {}
        for later, earlier, table in _dependency_tables(codec):
            self._tables.setdefault(later, []).append((earlier, table[:, : self.sizes[later]].to(device)))

    def allowed(self, position: int, chosen: torch.Tensor) -> torch.Tensor | None:
        """(rows, size) bool: the local ids legal at ``position`` given the local ids ``chosen``
        so far (rows, >= position); None when every id of the column's block is."""
        tables = self._tables.get(position)
        if not tables:
            return None
        allowed = torch.ones(chosen.shape[0], self.sizes[position], dtype=torch.bool, device=chosen.device)
        for earlier, table in tables:
            narrowed = allowed & table[chosen[:, earlier]]
            keep = narrowed.any(dim=1, keepdim=True)  # never leave a row with nothing to sample
            allowed = torch.where(keep, narrowed, allowed)
        return allowed


def _dependency_tables(codec: TabularCodec):
    """Per dependency: (later position, earlier position, table). Row e of the table holds the
    local ids allowed at the later position once the earlier column holds local id e (every id
    where e says nothing)."""
    position = {col.name: j for j, col in enumerate(codec.columns)}
    for dependency in codec.dependencies:
        a, b = position[dependency.determinant], position[dependency.dependent]
        col_a, col_b = codec.columns[a], codec.columns[b]
        if a < b:  # B comes later: a mapped A allows one B
            table = torch.ones(col_a.size, col_b.size, dtype=torch.bool)
            for code_a, code_b in dependency.mapping.items():
                table[code_a] = False
                table[code_a, code_b] = True
            yield b, a, table
        else:  # A comes later: a sampled B allows the As that map to it, and the unmapped As
            table = torch.ones(col_b.size, col_a.size, dtype=torch.bool)
            for code_a, code_b in dependency.mapping.items():
                table[:, code_a] = False
                table[code_b, code_a] = True
            yield a, b, table
