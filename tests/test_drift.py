"""Drift statistics against values worked out by hand on tiny samples; identical samples give 0."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl
import pytest

from assay.config import DriftThresholds
from assay.data import drift


def s(values: list, dtype: pl.DataType | None = None) -> pl.Series:
    return pl.Series("x", values, dtype=dtype)


def test_ks_matches_the_largest_gap_between_the_two_cdfs() -> None:
    # F_a - F_b at 2 is 0.5 - 0 and at 4 is 1 - 0.5.
    assert drift.ks_statistic(s([1, 2, 3, 4]), s([3, 4, 5, 6])) == pytest.approx(0.5)
    assert drift.ks_statistic(s([1, 2]), s([3, 4])) == pytest.approx(1.0)
    assert drift.ks_statistic(s([1.0, 2.5, 2.5, 7.0]), s([7.0, 2.5, 1.0, 2.5])) == 0.0


def test_ks_ignores_missing_values_and_reads_dates() -> None:
    assert drift.ks_statistic(s([1, None, 2, None]), s([1, 2])) == 0.0
    assert drift.ks_statistic(s([None], pl.Int64), s([1])) is None
    days = s([date(2020, 1, 1), date(2020, 1, 2)]), s([date(2020, 1, 2), date(2020, 1, 3)])
    assert drift.ks_statistic(*days) == pytest.approx(0.5)


def test_psi_from_counts_by_hand() -> None:
    # (0.25 - 0.5) ln(0.25/0.5) + (0.75 - 0.5) ln(0.75/0.5) = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3
    assert drift.psi_from_counts(np.array([50, 50]), np.array([25, 75]), eps=0) == pytest.approx(0.25 * math.log(3))
    assert drift.psi_from_counts(np.array([50, 50]), np.array([25, 75])) == pytest.approx(0.25 * math.log(3), rel=1e-3)
    assert drift.psi_from_counts(np.array([3, 7]), np.array([30, 70])) == 0.0
    assert drift.psi_from_counts(np.array([0, 0]), np.array([1, 2])) is None


def test_psi_smoothing_keeps_an_empty_bin_finite() -> None:
    eps = 1e-4
    e = np.array([1 + eps, eps]) / (1 + 2 * eps)
    a = np.array([0.5 + eps, 0.5 + eps]) / (1 + 2 * eps)
    expected = float(np.sum((a - e) * np.log(a / e)))
    assert drift.psi_from_counts(np.array([10, 0]), np.array([5, 5]), eps=eps) == pytest.approx(expected)
    assert math.isfinite(expected) and expected > 2


def test_numeric_psi_uses_quantile_bins_of_the_reference() -> None:
    reference = s(list(range(1, 11)))
    # Two bins split at the median 5.5: the reference has 5 | 5, the other sample 3 | 1.
    assert drift.quantile_bin_counts(reference, s([1, 1, 1, 10]), bins=2)[0].tolist() == [5, 5, 0]
    assert drift.quantile_bin_counts(reference, s([1, 1, 1, 10]), bins=2)[1].tolist() == [3, 1, 0]
    assert drift.numeric_psi(reference, s([1, 1, 1, 10]), bins=2, eps=0) == pytest.approx(0.25 * math.log(3))
    assert drift.numeric_psi(reference, reference) == 0.0


def test_numeric_psi_counts_missing_values_in_a_bin_of_their_own() -> None:
    reference = s([1, 2, 3, 4])
    counts = drift.quantile_bin_counts(reference, s([1, 2, None, None]), bins=2)
    assert counts[0].tolist() == [2, 2, 0]
    assert counts[1].tolist() == [2, 0, 2]  # split at the median 2.5
    assert drift.numeric_psi(reference, s([1, 2, None, None]), bins=2) > 1


def test_discrete_columns_collapse_repeated_quantiles() -> None:
    reference = s([0] * 8 + [1, 2])
    expected, actual = drift.quantile_bin_counts(reference, reference, bins=10)
    assert expected.tolist() == actual.tolist()
    assert expected.sum() == 10 and expected.size < 11


def test_tvd_by_hand() -> None:
    # a: 0.5 vs 0.25, b: 0.5 vs 0.75 -> (0.25 + 0.25) / 2
    assert drift.tvd(s(["a", "a", "b", "b"]), s(["a", "b", "b", "b"])) == pytest.approx(0.25)
    assert drift.tvd(s(["a", "b"]), s(["c", "d"])) == pytest.approx(1.0)
    assert drift.tvd(s(["a", "b", "b"]), s(["b", "a", "b"])) == 0.0


def test_missing_is_a_category_and_rare_categories_are_merged() -> None:
    assert drift.tvd(s(["a", None]), s(["a", "a"])) == pytest.approx(0.5)
    labels, expected, actual = drift.category_counts(s(["a"] * 98 + ["r1", "r2"]), s(["a"] * 99 + ["r3"]), min_share=0.05)
    assert labels == ["a", drift.OTHER]
    assert expected.tolist() == [98, 2] and actual.tolist() == [99, 1]
    # A category common in either sample is kept, so a new frequent value shows as drift.
    labels, _, _ = drift.category_counts(s(["a"] * 10), s(["a"] * 5 + ["new"] * 5), min_share=0.05)
    assert labels == ["a", "new"]


def test_categorical_psi_by_hand_and_booleans() -> None:
    assert drift.categorical_psi(s(["a", "b"]), s(["a", "b", "b", "b"]), eps=0) == pytest.approx(0.25 * math.log(3))
    assert drift.tvd(s([True, False]), s([True, True])) == pytest.approx(0.5)


def test_class_shares() -> None:
    assert drift.class_shares(s(["NO", ">30", "NO", None])) == {">30": 0.25, "NO": 0.5, drift.MISSING: 0.25}
    assert drift.class_shares(s([], pl.String)) == {}


def test_drift_columns_leave_out_provenance_ids_free_text_and_exclusions() -> None:
    n = 120
    frame = pl.DataFrame(
        {
            "age": [i % 7 for i in range(n)],
            "code": [f"c{i % 5}" for i in range(n)],
            "when": [date(2020, 1, 1 + i % 28) for i in range(n)],
            "flag": [i % 2 == 0 for i in range(n)],
            "unit_id": [f"u{i}" for i in range(n)],
            "text": ["word " * 30 + str(i % 3) for i in range(n)],
            "empty": pl.Series([None] * n, dtype=pl.String),
            "patient": [str(i % 10) for i in range(n)],
            "_source_row": list(range(n)),
        }
    )
    kinds, skipped = drift.drift_columns(frame, {"patient": "the group column"})
    assert kinds == {"age": "numeric", "code": "categorical", "when": "numeric", "flag": "categorical"}
    assert skipped["_source_row"] == "provenance"
    assert skipped["patient"] == "the group column"
    assert skipped["unit_id"].startswith("id-like")
    assert skipped["text"].startswith("free text")
    assert skipped["empty"] == "always missing"


def test_compare_flags_breaches_and_ranks_worst_first() -> None:
    reference = pl.DataFrame({"n": [1, 2, 3, 4], "c": ["a", "a", "b", "b"], "y": ["p", "q", "p", "q"]})
    other = pl.DataFrame({"n": [3, 4, 5, 6], "c": ["a", "b", "b", "b"], "y": ["p", "q", "q", "p"]})
    thresholds = DriftThresholds(ks=0.4, psi=10, tvd=0.3)
    entries = drift.compare(reference, other, {"n": "numeric", "c": "categorical", "y": "categorical"}, thresholds, "train-dev", target="y")
    by_column = {entry["column"]: entry for entry in entries}
    assert by_column["n"]["ks"] == 0.5 and by_column["n"]["breached"] == ["ks"] and by_column["n"]["score"] == pytest.approx(1.25)
    assert by_column["c"]["tvd"] == 0.25 and by_column["c"]["breached"] == [] and by_column["c"]["ks"] is None
    assert by_column["y"]["kind"] == "target" and by_column["y"]["tvd"] == 0.0
    assert (by_column["n"]["statistic"], by_column["n"]["value"], by_column["n"]["threshold"], by_column["n"]["breach"]) == ("ks", 0.5, 0.4, True)
    assert (by_column["c"]["statistic"], by_column["c"]["value"], by_column["c"]["breach"]) == ("tvd", 0.25, False)
    ranked = drift.worst_first(entries)
    assert [entry["column"] for entry in ranked] == ["n", "c", "y"]


def test_identical_samples_have_no_drift() -> None:
    frame = pl.DataFrame({"n": [1.5, 2.0, 9.0, None], "c": ["a", "b", None, "b"], "d": [date(2020, 1, i) for i in range(1, 5)]})
    entries = drift.compare(frame, frame, {"n": "numeric", "c": "categorical", "d": "numeric"}, DriftThresholds(), "train-test")
    assert all(entry["score"] == 0.0 and not entry["breached"] for entry in entries)
    assert all(entry[stat] in (0.0, None) for entry in entries for stat in drift.STATS)


# --- calibration against random splits of the same data (issue 18, item 2) -------------------


def test_count_row_statistics_equal_the_exact_ones() -> None:
    rng = np.random.default_rng(3)
    words = s(list(rng.choice(["a", "b", "c", "rare1", "rare2", None], 400, p=[0.5, 0.3, 0.19, 0.004, 0.004, 0.002])))
    other = s(list(rng.choice(["a", "b", "c", "rare3", None], 100, p=[0.3, 0.3, 0.38, 0.01, 0.01])))
    labels, expected, actual = drift.category_counts(words, other)
    # The count rows hold every category; the merging into (other) happens inside.
    both = pl.concat([words, other]).cast(pl.String).fill_null(drift.MISSING).unique().sort().to_list()
    ref_row = np.array([[words.cast(pl.String).fill_null(drift.MISSING).to_list().count(v) for v in both]], dtype=float)
    oth_row = np.array([[other.cast(pl.String).fill_null(drift.MISSING).to_list().count(v) for v in both]], dtype=float)
    tvd_row, psi_row = drift.tvd_psi_from_counts(ref_row, oth_row)
    assert tvd_row[0] == pytest.approx(drift.tvd(words, other)) and psi_row[0] == pytest.approx(drift.categorical_psi(words, other))
    assert drift.OTHER in labels and expected.sum() == 400 and actual.sum() == 100

    numbers, more = s(list(rng.integers(0, 30, 300))), s(list(rng.integers(5, 40, 80)))
    steps = np.unique(np.concatenate([numbers.to_numpy(), more.to_numpy()]))
    ref_counts = np.array([[int((numbers == v).sum()) for v in steps]], dtype=float)
    oth_counts = np.array([[int((more == v).sum()) for v in steps]], dtype=float)
    assert drift.ks_from_count_rows(ref_counts, oth_counts)[0] == pytest.approx(drift.ks_statistic(numbers, more))
    fixed = drift.quantile_bin_counts(numbers, more)
    assert drift.psi_from_count_rows(fixed[0][None, :].astype(float), fixed[1][None, :].astype(float))[0] == pytest.approx(drift.numeric_psi(numbers, more))
    # An empty side has no statistic.
    assert np.isnan(drift.ks_from_count_rows(ref_counts, np.zeros_like(oth_counts))[0])


def _grouped(groups: int, rows_per_group: int, seed: int = 0) -> tuple[pl.DataFrame, np.ndarray]:
    """A table of ``groups`` patients with one value each (a code among 300, Zipf-like) repeated on every row."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, 301)
    codes = rng.choice([f"d{i}" for i in range(300)], groups, p=weights / weights.sum())
    group_of_row = np.repeat(np.arange(groups), rows_per_group)
    age = rng.integers(20, 90, groups)
    return pl.DataFrame({"diag": codes[group_of_row], "age": age[group_of_row]}), group_of_row


def test_a_random_split_of_a_many_valued_column_is_over_its_threshold_but_not_unusual() -> None:
    """Issue 18: diag_1 breached TVD 0.1 on nearly every random split; calibrated, no badge."""
    frame, group_of_row = _grouped(600, 2)
    observed = drift.random_splits(600, [0.8, 0.1, 0.1], 1, seed=99)[0]
    calibration = drift.calibrate(frame, {"diag": "categorical", "age": "numeric"}, group_of_row, observed, [0.8, 0.1, 0.1], [(0, 1, "train-dev")], 200, seed=1)
    parts = {index: frame.filter(pl.Series(observed[group_of_row] == index)) for index in (0, 1)}
    entries = drift.compare(parts[0], parts[1], {"diag": "categorical", "age": "numeric"}, DriftThresholds(), "train-dev", calibration=calibration["train-dev"])
    diag = next(entry for entry in entries if entry["column"] == "diag")
    assert "tvd" in diag["over_threshold"] and diag["tvd"] > 0.1  # the fixed threshold alone would flag it
    assert diag["null"]["tvd"]["p95"] > 0.1  # ... but random splits of the same data go further
    assert diag["unusual"] is False and diag["breach"] is False and diag["breached"] == []
    assert 0 < diag["p_values"]["tvd"] <= 1 and diag["p_adjusted"] >= diag["p_value"]
    assert all(not entry["breach"] for entry in entries)


def test_a_split_that_is_not_random_is_unusual_and_a_breach() -> None:
    frame, group_of_row = _grouped(600, 2)
    age = frame["age"].to_numpy()[::2]
    observed = np.where(age > 75, 1, 0).astype(np.int8)  # the old patients all went to dev
    calibration = drift.calibrate(frame, {"diag": "categorical", "age": "numeric"}, group_of_row, observed, [0.8, 0.1, 0.1], [(0, 1, "train-dev")], 200, seed=1)
    age_entry = calibration["train-dev"]["age"]
    assert age_entry["p_adjusted"] == pytest.approx(1 / 201, abs=1e-6) and age_entry["p_values"]["ks"] == pytest.approx(1 / 201, abs=1e-6)
    assert age_entry["z_score"] > 10
    parts = {index: frame.filter(pl.Series(observed[group_of_row] == index)) for index in (0, 1)}
    entries = drift.compare(parts[0], parts[1], {"age": "numeric"}, DriftThresholds(), "train-dev", calibration=calibration["train-dev"])
    assert entries[0]["unusual"] is True and entries[0]["breached"] == ["ks", "psi"]
    # diag does not depend on age: its comparison stays ordinary.
    assert calibration["train-dev"]["diag"]["p_adjusted"] > 0.05


def test_the_null_moves_groups_together_and_is_deterministic() -> None:
    """Rows of one patient move together in a random split, so the null is wider than a row-level one."""
    frame, group_of_row = _grouped(100, 20)
    observed = drift.random_splits(100, [0.8, 0.1, 0.1], 1, seed=5)[0]
    args = ({"diag": "categorical"}, group_of_row, observed, [0.8, 0.1, 0.1], [(0, 1, "train-dev")], 200)
    grouped = drift.calibrate(frame, *args, seed=1)
    assert grouped == drift.calibrate(frame, *args, seed=1)
    rows = drift.calibrate(frame, {"diag": "categorical"}, np.arange(frame.height), observed[group_of_row], [0.8, 0.1, 0.1], [(0, 1, "train-dev")], 200, seed=1)
    assert grouped["train-dev"]["diag"]["null"]["tvd"]["p95"] > 1.5 * rows["train-dev"]["diag"]["null"]["tvd"]["p95"]
