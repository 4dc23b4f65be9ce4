"""Functional dependencies: column A determines column B (a stock code its description, a code its label).

Found in train and held to in two places:

- training (:class:`assay.generator.variants.TabularScratchGenerator`): on the codec's tokens, so
  that constrained decoding (:class:`assay.generator.codec.ColumnConstraintLogitsProcessor`) lets a
  sampled row hold only the B the sampled A maps to (or only the As that map to a sampled B, when
  B comes first in the row);
- evaluation (:mod:`assay.metrics.evaluate`): on the values of the categorical columns, to report
  the share of synthetic rows that break each dependency the real rows hold.

A dependency is reported only when it says something: the determinant has at least two values,
each held by at least ``min_rows`` rows (a value seen once "determines" every other column), and
the dependent column is not nearly constant on its own (its most common value holds fewer than
``min_share`` of the rows). Both sides are integer codes (token ids, or dense value ranks):
``find_dependencies`` works on any of them.

With ``implications=True`` (the generator's use) a pair that is no dependency as a whole can still
hold for some values: on real records, a patient discharged as expired (``discharge_disposition_id``
11) is never readmitted, whatever the other codes say. Such a value-level rule, A = a implies
B = b, is kept as a *partial* dependency (its mapping holds only those values) when it holds in
``min_share`` of at least :data:`IMPLICATION_MIN_ROWS` rows and chance cannot explain it: were B
independent of A, all those rows would show b with probability share(b) ** rows, and that must be
below :data:`IMPLICATION_ALPHA`. So a rule about a rare value, or one into a column that is nearly
always b anyway, needs many more rows than one into an even column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

DEFAULT_MIN_SHARE = 0.999
IMPLICATION_MIN_ROWS = 100  # a value-level rule seen in fewer rows says more about those rows than about the population
IMPLICATION_ALPHA = 1e-9  # the chance that independent columns show the rule; tens of thousands of (value, column) pairs are tried


@dataclass(frozen=True)
class FunctionalDependency:
    """``determinant`` -> ``dependent`` in ``share`` of the rows whose determinant is mapped."""

    determinant: str
    dependent: str
    share: float
    mapping: dict[int, int]  # determinant code -> the dependent code it goes with
    partial: bool = False  # only the mapped values determine the dependent (value-level rules), not every value

    def to_dict(self) -> dict:
        return {
            "determinant": self.determinant,
            "dependent": self.dependent,
            "share": self.share,
            "mapping": sorted(self.mapping.items()),
            "partial": self.partial,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FunctionalDependency:
        mapping = {int(a): int(b) for a, b in data["mapping"]}
        return cls(data["determinant"], data["dependent"], float(data["share"]), mapping, bool(data.get("partial", False)))

    def broken(self, determinant: np.ndarray, dependent: np.ndarray) -> np.ndarray:
        """Per row, True where the determinant is mapped and the dependent is not the one it maps to."""
        keys = np.fromiter(self.mapping, dtype=np.int64, count=len(self.mapping))
        targets = np.fromiter(self.mapping.values(), dtype=np.int64, count=len(self.mapping))
        order = np.argsort(keys)
        keys, targets = keys[order], targets[order]
        at = np.clip(np.searchsorted(keys, determinant), 0, keys.size - 1)
        mapped = keys[at] == determinant
        return mapped & (targets[at] != dependent)


def find_dependencies(
    codes: dict[str, np.ndarray],
    *,
    mappable: dict[str, np.ndarray] | None = None,
    min_share: float = DEFAULT_MIN_SHARE,
    min_rows: int = 2,
    implications: bool = False,
) -> list[FunctionalDependency]:
    """Every ordered pair (A, B) of ``codes`` columns where A determines B in ``min_share`` of the rows
    (and, with ``implications``, where some values of A do: see the module docstring).

    ``codes``: per column, one non-negative integer code per row. ``mappable``: per column, a bool
    per code saying whether the code may determine (OTHER or a null stands for many values, so
    it may not); by default every code may. Rows whose A is not mappable count for neither side.
    """
    names = list(codes)
    sizes = {name: int(codes[name].max()) + 1 if codes[name].size else 0 for name in names}
    counts = {name: np.bincount(codes[name], minlength=sizes[name]) for name in names}
    found: list[FunctionalDependency] = []
    for a in names:
        allowed = mappable[a] if mappable is not None and a in mappable else np.ones(sizes[a], dtype=bool)
        usable = (counts[a] >= min_rows) & np.pad(allowed, (0, max(0, sizes[a] - allowed.size)))[: sizes[a]]
        if usable.sum() < 2:
            continue
        rows = usable[codes[a]]
        n = int(rows.sum())
        a_codes = codes[a][rows]
        for b in names:
            if b == a:
                continue
            b_codes = codes[b][rows]
            b_counts = np.bincount(b_codes, minlength=sizes[b])
            if b_counts.max() >= min_share * n:
                continue  # B is (nearly) constant on these rows: A explains nothing
            joint = np.bincount(a_codes.astype(np.int64) * sizes[b] + b_codes, minlength=sizes[a] * sizes[b]).reshape(sizes[a], sizes[b])
            share = float(joint.max(axis=1).sum()) / n
            if share >= min_share:
                held = np.flatnonzero(usable)
                found.append(FunctionalDependency(a, b, round(share, 6), {int(code): int(joint[code].argmax()) for code in held}))
            elif implications:
                rule = _implications(joint, usable, b_counts / n, min_share)
                if rule is not None:
                    found.append(FunctionalDependency(a, b, *rule, partial=True))
    return found


def _implications(joint: np.ndarray, usable: np.ndarray, b_shares: np.ndarray, min_share: float) -> tuple[float, dict[int, int]] | None:
    """The values a of A that imply one value of B (rows of ``joint``, A by B counts), and the share
    of their rows that hold to it; None when there are none."""
    rows = joint.sum(axis=1)
    implied = joint.argmax(axis=1)
    held = joint.max(axis=1)  # rows of each value a that show its implied b
    with np.errstate(divide="ignore", invalid="ignore"):  # a value with no rows: nan, never below alpha
        chance = rows * np.log(b_shares[implied])  # log P(all rows show b | B independent of A)
    holds = usable & (rows >= IMPLICATION_MIN_ROWS) & (held >= min_share * rows) & (chance < math.log(IMPLICATION_ALPHA))
    if not holds.any():
        return None
    share = float(held[holds].sum() / rows[holds].sum())
    return round(share, 6), {int(code): int(implied[code]) for code in np.flatnonzero(holds)}


def value_codes(frame: pl.DataFrame, columns: list[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list]]:
    """Dense codes of the values of ``columns`` (nulls get the last code, never mappable), and the values per code."""
    codes, mappable, values = {}, {}, {}
    for name in columns:
        series = frame[name].cast(pl.String) if frame[name].dtype != pl.Boolean else frame[name]
        distinct = series.drop_nulls().unique().sort()
        index = pl.Series(range(distinct.len()), dtype=pl.Int64)
        coded = series.replace_strict(distinct, index, default=distinct.len(), return_dtype=pl.Int64)
        codes[name] = coded.fill_null(distinct.len()).to_numpy()
        mappable[name] = np.r_[np.ones(distinct.len(), dtype=bool), False]
        values[name] = distinct.to_list()
    return codes, mappable, values


def broken_shares(dependencies: list[FunctionalDependency], values: dict[str, list], frame: pl.DataFrame) -> dict[tuple[str, str], float | None]:
    """Per dependency (found by :func:`value_codes` codes), the share of ``frame``'s rows that break it."""
    out: dict[tuple[str, str], float | None] = {}
    for dependency in dependencies:
        if frame.height == 0:
            out[(dependency.determinant, dependency.dependent)] = None
            continue
        coded = {}
        for name in (dependency.determinant, dependency.dependent):
            series = frame[name].cast(pl.String) if frame[name].dtype != pl.Boolean else frame[name]
            known = pl.Series(values[name], dtype=series.dtype)
            # a value train never had gets code -1: not mapped as a determinant, a mismatch as a dependent
            coded[name] = series.replace_strict(known, pl.Series(range(known.len()), dtype=pl.Int64), default=-1, return_dtype=pl.Int64)
            coded[name] = coded[name].fill_null(len(values[name])).to_numpy()
        flags = dependency.broken(coded[dependency.determinant], coded[dependency.dependent])
        out[(dependency.determinant, dependency.dependent)] = round(float(flags.mean()), 6)
    return out
