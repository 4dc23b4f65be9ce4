"""How faithful synthetic data is to real data: columns, pairs of columns, and a detection test.

Pure functions over polars frames (no I/O), used by the ``evaluate`` stage for the generator's
output and for the naive baseline alike. The real frame is always the reference: bins,
categories and encoders are fitted on it and applied to the synthetic frame.

- **Columns** (:func:`column_similarities`): ``1 - KS`` for numbers, dates and date-times (the
  two-sample Kolmogorov-Smirnov statistic on present values) and ``1 - TVD`` for categories (total
  variation distance of the category shares, missing as a category, categories under 0.5 % in
  both samples merged), both from :mod:`assay.data.drift`. 1 means the marginals match.
- **Pairs** (:func:`pairwise_similarities`): for two numeric columns ``1 - |rho_real - rho_syn| / 2``
  with Spearman's rank correlation (robust to the heavy tails of quantities and prices); for any
  pair involving a category ``1 - |V_real - V_syn|`` with the bias-corrected Cramer's V
  (Bergsma 2013) over the ``TOP_CATEGORIES`` most common categories of the real column (the rest
  pooled, missing as its own category) and ``BINS`` quantile bins of a real numeric column.
- **Detection** (:func:`detection_auc`): a classifier learns to tell real rows from synthetic
  rows; its ROC AUC under k-fold cross-validation is 0.5 when it cannot (indistinguishable) and
  1.0 when every synthetic row gives itself away. Tables use a histogram gradient-boosting model
  on :class:`Design` features; texts use TF-IDF with logistic regression.

:class:`Design` and :func:`make_model` are the encoders and scikit-learn models shared with the
utility tests (train on real or synthetic, test on real) in :mod:`assay.metrics.evaluate`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
import polars as pl

from assay.data import drift
from assay.io import round_figure

Kind = Literal["numeric", "categorical"]
ModelName = Literal["hist_gradient_boosting", "logistic_regression"]

BINS = 10
TOP_CATEGORIES = 20
MAX_CODES = 250  # categories per column a model sees (HistGradientBoosting allows at most 254)


# ---------------------------------------------------------------------------------------------
# columns


def column_similarity(real: pl.Series, synthetic: pl.Series, kind: Kind) -> dict[str, Any]:
    """``{"metric", "similarity"}`` for one column: KS complement (numeric) or TV complement (categorical)."""
    if kind == "numeric":
        ks = drift.ks_statistic(real, synthetic)
        return {"metric": "ks_complement", "similarity": None if ks is None else round_figure(1.0 - ks)}
    tvd = drift.tvd(real, synthetic)
    return {"metric": "tv_complement", "similarity": None if tvd is None else round_figure(1.0 - tvd)}


def column_similarities(real: pl.DataFrame, synthetic: pl.DataFrame, kinds: Mapping[str, Kind]) -> list[dict[str, Any]]:
    """One entry per column: column, kind, metric, similarity (None when a side has no values)."""
    return [{"column": name, "kind": kind, **column_similarity(real[name], synthetic[name], kind)} for name, kind in kinds.items()]


def mean_similarity(entries: list[dict[str, Any]]) -> float | None:
    values = [entry["similarity"] for entry in entries if entry["similarity"] is not None]
    return round_figure(float(np.mean(values))) if values else None


# ---------------------------------------------------------------------------------------------
# pairs


def _physical(series: pl.Series) -> np.ndarray:
    """Values as float64 with NaN for missing; dates and date-times as their time stamps."""
    values = series.to_physical() if series.dtype.is_temporal() else series
    return values.cast(pl.Float64).fill_null(np.nan).to_numpy()


@dataclass(frozen=True)
class _Discretiser:
    """Codes 0..k-1 for a column, fitted on the real column: quantile bins or top categories."""

    edges: np.ndarray | None
    categories: list[str] | None

    @classmethod
    def fit(cls, real: pl.Series, kind: Kind) -> _Discretiser:
        if kind == "numeric":
            values = _physical(real)
            values = values[~np.isnan(values)]
            edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1])) if values.size else np.zeros(0)
            return cls(edges=edges, categories=None)
        counts = real.cast(pl.String).drop_nulls().value_counts(name="n").sort(["n", real.name], descending=[True, False])
        return cls(edges=None, categories=counts[real.name].head(TOP_CATEGORIES).to_list())

    @property
    def size(self) -> int:
        # numeric: len(edges) + 1 bins and a missing code; categorical: top, other, missing
        return (self.edges.size + 2) if self.edges is not None else (len(self.categories or []) + 2)

    def codes(self, series: pl.Series) -> np.ndarray:
        if self.edges is not None:
            values = _physical(series)
            codes = np.searchsorted(self.edges, values, side="right")
            return np.where(np.isnan(values), self.edges.size + 1, codes).astype(np.int64)
        categories = self.categories or []
        text = series.cast(pl.String)
        mapped = text.replace_strict(categories, list(range(len(categories))), default=len(categories), return_dtype=pl.Int64)
        return mapped.fill_null(len(categories) + 1).to_numpy()


def cramers_v(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> float:
    """Bias-corrected Cramer's V (Bergsma 2013) of two code arrays; 0 when either side is constant."""
    n = a.size
    if n < 2:
        return 0.0
    table = np.bincount(a * size_b + b, minlength=size_a * size_b).reshape(size_a, size_b).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    r, k = table.shape
    if r < 2 or k < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    phi2 = float(((table - expected) ** 2 / expected).sum()) / n
    phi2 = max(0.0, phi2 - (k - 1) * (r - 1) / (n - 1))
    r_corr, k_corr = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
    denominator = min(k_corr - 1, r_corr - 1)
    return float(math.sqrt(phi2 / denominator)) if denominator > 0 else 0.0


def _ranks(series: pl.Series) -> np.ndarray:
    values = _physical(series)
    ranks = np.full(values.size, np.nan)
    present = ~np.isnan(values)
    if present.any():
        from scipy.stats import rankdata

        ranks[present] = rankdata(values[present])
    return ranks


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of the rows where both are present (of ranks: Spearman); 0 if undefined."""
    both = ~(np.isnan(a) | np.isnan(b))
    if both.sum() < 3:
        return 0.0
    x, y = a[both] - a[both].mean(), b[both] - b[both].mean()
    denominator = math.sqrt(float((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / denominator) if denominator > 0 else 0.0


def _associations(frame: pl.DataFrame, kinds: Mapping[str, Kind], discretisers: Mapping[str, _Discretiser]) -> dict[tuple[str, str], float]:
    ranks = {name: _ranks(frame[name]) for name, kind in kinds.items() if kind == "numeric"}
    codes = {name: discretisers[name].codes(frame[name]) for name in kinds}
    values = {}
    for a, b in combinations(kinds, 2):
        if kinds[a] == kinds[b] == "numeric":
            values[(a, b)] = _correlation(ranks[a], ranks[b])
        else:
            values[(a, b)] = cramers_v(codes[a], codes[b], discretisers[a].size, discretisers[b].size)
    return values


def pairwise_similarities(real: pl.DataFrame, synthetic: dict[str, pl.DataFrame], kinds: Mapping[str, Kind]) -> list[dict[str, Any]]:
    """One entry per column pair: the real association and, per synthetic source, its value and similarity.

    ``synthetic`` maps a source name ("generator", "baseline") to its frame; bins and categories
    come from ``real``. Entry keys: a, b, kind (numeric, categorical or mixed), metric
    (spearman or cramers_v), real, and ``<source>`` / ``similarity_<source>`` per source.
    """
    discretisers = {name: _Discretiser.fit(real[name], kind) for name, kind in kinds.items()}
    reference = _associations(real, kinds, discretisers)
    others = {source: _associations(frame, kinds, discretisers) for source, frame in synthetic.items()}
    entries = []
    for (a, b), value in reference.items():
        both_numeric = kinds[a] == kinds[b] == "numeric"
        pair_kind = "numeric" if both_numeric else ("categorical" if kinds[a] == kinds[b] else "mixed")
        entry: dict[str, Any] = {"a": a, "b": b, "kind": pair_kind, "metric": "spearman" if both_numeric else "cramers_v", "real": round_figure(value)}
        for source, values in others.items():
            gap = abs(value - values[(a, b)])
            entry[source] = round_figure(values[(a, b)])
            entry[f"similarity_{source}"] = round_figure(1.0 - gap / 2 if both_numeric else 1.0 - gap)
        entries.append(entry)
    return entries


# ---------------------------------------------------------------------------------------------
# what the stewards' page draws: each column's distribution per source, and the association map

OVERLAY_BINS = 20
OVERLAY_CATEGORIES = 12
MAP_COLUMNS = 24  # columns in the association heat map: those most associated with another in real data
MAP_DIGITS = 3
OTHER_LABEL = "(other)"


def _shares(counts: np.ndarray, total: int) -> list[float]:
    return [round(float(count) / total, MAP_DIGITS + 1) if total else 0.0 for count in counts]


def column_distributions(real: pl.DataFrame, synthetic: dict[str, pl.DataFrame], kinds: Mapping[str, Kind]) -> list[dict[str, Any]]:
    """Each column's distribution in real data (``real``) and in each synthetic source, on one set of bins.

    Numbers, dates and date-times: ``OVERLAY_BINS`` equal-width bins over the real range (``low``,
    ``high``; dates as ISO text, ``temporal``), with the share of each source's values outside that
    range (``outside``, counted in the end bins). Categories: the ``OVERLAY_CATEGORIES`` most common
    real values, then ``(other)``. Every entry also gives each source's share of missing values.
    """
    sources = {"real": real, **synthetic}
    out = []
    for name, kind in kinds.items():
        entry: dict[str, Any] = {"column": name, "kind": kind, "shares": {}, "missing": {}}
        if kind == "numeric":
            reference = _physical(real[name])
            reference = reference[~np.isnan(reference)]
            low, high = (float(reference.min()), float(reference.max())) if reference.size else (0.0, 0.0)
            edges = np.linspace(low, high, OVERLAY_BINS + 1) if high > low else np.array([low, low + 1.0])
            temporal = real[name].dtype.is_temporal()
            entry |= {"low": _bound_text(real[name], low), "high": _bound_text(real[name], high), "temporal": temporal, "outside": {}}
            for source, frame in sources.items():
                values = _physical(frame[name])
                present = values[~np.isnan(values)]
                counts, _ = np.histogram(np.clip(present, edges[0], edges[-1]), bins=edges)
                entry["shares"][source] = _shares(counts, present.size)
                entry["outside"][source] = round(float(((present < low) | (present > high)).mean()), MAP_DIGITS + 1) if present.size else 0.0
                entry["missing"][source] = round(1 - present.size / max(frame.height, 1), MAP_DIGITS + 1)
        else:
            counts = real[name].cast(pl.String).drop_nulls().value_counts(name="n").sort(["n", name], descending=[True, False])
            top = counts[name].head(OVERLAY_CATEGORIES).to_list()
            entry["categories"] = [*top, OTHER_LABEL]
            for source, frame in sources.items():
                text = frame[name].cast(pl.String)
                present = text.drop_nulls()
                found = dict(present.value_counts(name="n").iter_rows())
                shown = np.array([found.get(value, 0) for value in top] + [present.len() - sum(found.get(value, 0) for value in top)])
                entry["shares"][source] = _shares(shown, present.len())
                entry["missing"][source] = round(1 - present.len() / max(frame.height, 1), MAP_DIGITS + 1)
        out.append(entry)
    return out


def _bound_text(series: pl.Series, value: float) -> float | str:
    """A bin bound as the page shows it: dates and date-times as ISO text, numbers as they are."""
    if not series.dtype.is_temporal():
        return round(value, 6)
    restored = pl.Series([int(value)], dtype=pl.Int64).cast(series.dtype)
    return str(restored[0])


def association_map(pairs: list[dict[str, Any]], sources: tuple[str, ...] = ("generator", "baseline")) -> dict[str, Any]:
    """The pairwise associations (:func:`pairwise_similarities`) as a heat map's cells.

    Up to ``MAP_COLUMNS`` columns, those with the strongest real association to another column,
    in their original order; ``cells`` are ``[i, j, real, <source>...]`` for i < j (Spearman's rho
    for two numbers, Cramer's V otherwise), rounded to ``MAP_DIGITS``.
    """
    columns = list(dict.fromkeys([name for pair in pairs for name in (pair["a"], pair["b"])]))
    strongest = {name: 0.0 for name in columns}
    for pair in pairs:
        for name in (pair["a"], pair["b"]):
            strongest[name] = max(strongest[name], abs(pair["real"] or 0.0))
    chosen = set(sorted(columns, key=lambda name: (-strongest[name], columns.index(name)))[:MAP_COLUMNS])
    kept = [name for name in columns if name in chosen]
    index = {name: i for i, name in enumerate(kept)}
    cells = []
    for pair in pairs:
        if pair["a"] in index and pair["b"] in index:
            values = [pair["real"], *(pair.get(source) for source in sources)]
            cells.append([index[pair["a"]], index[pair["b"]], *(None if value is None else round(value, MAP_DIGITS) for value in values)])
    return {"columns": kept, "left_out": len(columns) - len(kept), "sources": ["real", *sources], "cells": cells}


# ---------------------------------------------------------------------------------------------
# model features


@dataclass(frozen=True)
class Design:
    """Model features for a table, fitted on real data: numbers as floats, categories as codes.

    A numeric, date or date-time column becomes one float (time stamps for dates), missing as NaN.
    A categorical column becomes the code of its value among the ``MAX_CODES`` most common real
    values (ties by value), ``MAX_CODES``-th code for any other value, NaN for missing. The
    category list is the only thing taken from the real data; no label information is used.
    """

    columns: tuple[str, ...]
    kinds: tuple[Kind, ...]
    categories: tuple[tuple[str, ...] | None, ...]

    @classmethod
    def fit(cls, real: pl.DataFrame, kinds: Mapping[str, Kind]) -> Design:
        categories = []
        for name, kind in kinds.items():
            if kind == "numeric":
                categories.append(None)
                continue
            counts = real[name].cast(pl.String).drop_nulls().value_counts(name="n").sort(["n", name], descending=[True, False])
            categories.append(tuple(counts[name].head(MAX_CODES).to_list()))
        return cls(columns=tuple(kinds), kinds=tuple(kinds.values()), categories=tuple(categories))

    @property
    def is_categorical(self) -> np.ndarray:
        return np.array([kind == "categorical" for kind in self.kinds], dtype=bool)

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        out = np.empty((frame.height, len(self.columns)), dtype=np.float64)
        for j, (name, categories) in enumerate(zip(self.columns, self.categories, strict=True)):
            if categories is None:
                out[:, j] = _physical(frame[name])
            else:
                text = frame[name].cast(pl.String)
                codes = text.replace_strict(list(categories), list(range(len(categories))), default=len(categories), return_dtype=pl.Float64)
                out[:, j] = codes.fill_null(np.nan).to_numpy()
        return out


def make_model(name: ModelName, design: Design, n_rows: int, seed: int) -> Any:
    """A scikit-learn classifier over ``design.matrix`` features.

    ``hist_gradient_boosting``: native categorical splits on the codes and native missing values.
    ``logistic_regression``: one-hot categories; numbers imputed (median, with a missing
    indicator) and mapped to [0, 1] by their quantiles (so heavy tails do not dominate).
    Classes are not weighted: the figures are those of the classifier a user would train.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    if name == "hist_gradient_boosting":
        return HistGradientBoostingClassifier(categorical_features=design.is_categorical, random_state=seed)
    categorical = np.flatnonzero(design.is_categorical)
    numeric = np.flatnonzero(~design.is_categorical)
    parts = []
    if categorical.size:
        parts.append(("categories", make_pipeline(SimpleImputer(strategy="constant", fill_value=-1.0), OneHotEncoder(handle_unknown="ignore")), categorical))
    if numeric.size:
        quantiles = QuantileTransformer(n_quantiles=max(2, min(100, n_rows)), subsample=None, random_state=seed)
        parts.append(("numbers", make_pipeline(SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), quantiles), numeric))
    return make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=2000, random_state=seed))


def make_text_model(seed: int) -> Any:
    """TF-IDF over words and word pairs (sublinear term frequency) with logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, max_features=100_000),
        LogisticRegression(max_iter=2000, random_state=seed),
    )


# ---------------------------------------------------------------------------------------------
# detection


def detection_auc(real: Any, synthetic: Any, model_factory: Any, folds: int, seed: int) -> dict[str, Any]:
    """Mean and per-fold ROC AUC of telling ``real`` (label 0) from ``synthetic`` (label 1).

    ``real`` and ``synthetic`` are feature matrices (or lists of texts for a text model);
    ``model_factory(n_rows)`` makes a fresh classifier. Stratified, shuffled k-fold with ``seed``.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    if isinstance(real, np.ndarray):
        features: Any = np.vstack([real, synthetic])
    else:
        features = np.asarray([*real, *synthetic], dtype=object)
    labels = np.concatenate([np.zeros(len(real), dtype=np.int8), np.ones(len(synthetic), dtype=np.int8)])
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    scores = []
    for train_index, test_index in splitter.split(np.zeros(labels.size), labels):
        model = model_factory(train_index.size).fit(features[train_index], labels[train_index])
        scores.append(roc_auc_score(labels[test_index], model.predict_proba(features[test_index])[:, 1]))
    return {"auc": round_figure(float(np.mean(scores))), "folds": [round_figure(score) for score in scores]}
