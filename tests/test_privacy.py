"""Privacy metrics (assay/metrics/privacy.py) on inputs small enough to check by hand."""

from __future__ import annotations

import time

import numpy as np
import pytest

from assay.metrics import privacy

# Two numeric columns and one categorical code per row; -1 is missing.
FLAGS = np.array([False, True, False])


def rows(*values: tuple[float, float, float]) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_identical_sets_are_copies_at_distance_zero() -> None:
    data = rows((0.0, 1, 0.5), (1.0, 2, 0.25), (0.3, 1, -1))
    assert privacy.mixed_distance_to_closest(data, data, FLAGS).tolist() == [0.0, 0.0, 0.0]
    assert privacy.exact_copy_rate(data, data) == 1.0
    summary = privacy.dcr_summary(np.zeros(3), np.zeros(3))
    assert summary["synthetic_p5"] == summary["holdout_p5"] == 0.0 and summary["p5_ratio"] == 1.0


def test_distance_by_hand_numeric_categorical_and_missing() -> None:
    query = rows((0.0, 1, 0.5), (1.0, 2, -1))
    reference = rows((0.25, 1, 0.5), (0.5, 3, 0.2))
    # row 0 -> ref 0: |0 - 0.25| + 0 + 0 = 0.25, over 3 columns
    # row 1 -> ref 0: 0.75 + 1 + 1 (missing against present) = 2.75; -> ref 1: 0.5 + 1 + 1 = 2.5
    expected = [0.25 / 3, 2.5 / 3]
    assert privacy.mixed_distance_to_closest(query, reference, FLAGS) == pytest.approx(expected, abs=1e-6)
    # missing against missing is no difference
    assert privacy.mixed_distance_to_closest(rows((0.2, 1, -1)), rows((0.2, 1, -1)), FLAGS).tolist() == [0.0]


def test_disjoint_sets_are_far_and_share_no_copy() -> None:
    query = rows((0.0, 1, 0.0), (0.0, 2, 0.0))
    reference = rows((1.0, 3, 1.0), (1.0, 4, 1.0))
    assert privacy.mixed_distance_to_closest(query, reference, FLAGS).tolist() == [1.0, 1.0]
    assert privacy.exact_copy_rate(query, reference) == 0.0


def test_chunking_and_torch_input_do_not_change_the_answer() -> None:
    import torch

    rng = np.random.default_rng(0)
    flags = np.arange(6) % 2 == 0
    query, reference = rng.random((37, 6), dtype=np.float32), rng.random((53, 6), dtype=np.float32)
    query[:, flags], reference[:, flags] = rng.integers(0, 3, (37, 3)), rng.integers(0, 3, (53, 3))
    query[::5, 1] = -1
    whole = privacy.mixed_distance_to_closest(query, reference, flags)
    assert np.array_equal(privacy.mixed_distance_to_closest(query, reference, flags, chunk=4), whole)
    assert np.array_equal(privacy.mixed_distance_to_closest(torch.from_numpy(query), torch.from_numpy(reference), flags), whole)
    brute = [min(np.mean([(q[j] != r[j]) if flags[j] else min(abs(q[j] - r[j]), 1.0) for j in range(6)]) for r in reference) for q in query]
    assert whole == pytest.approx(brute, abs=1e-6)


def test_distance_input_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="is_categorical has 2 flags"):
        privacy.mixed_distance_to_closest(rows((0, 0, 0)), rows((0, 0, 0)), [True, False])
    with pytest.raises(ValueError, match="reference has no rows"):
        privacy.mixed_distance_to_closest(rows((0, 0, 0)), np.zeros((0, 3), dtype=np.float32), FLAGS)


def test_dcr_summary_ratios() -> None:
    summary = privacy.dcr_summary(np.array([0.2, 0.4, 0.6]), np.array([0.1, 0.2, 0.3]))
    assert summary["median_ratio"] == 2.0 and summary["synthetic_median"] == 0.4
    assert summary["p5_ratio"] == pytest.approx(0.22 / 0.11, rel=1e-6)
    assert privacy.dcr_summary(np.array([0.1]), np.array([0.0]))["p5_ratio"] is None  # undefined, and not a concern


def test_closer_to_train_share_and_its_ideal() -> None:
    train = rows((0.0, 1, 0.0), (0.1, 1, 0.0))
    holdout = rows((1.0, 2, 1.0), (0.9, 2, 1.0))
    near_train = rows((0.05, 1, 0.0), (0.0, 1, 0.1))
    result = privacy.closer_to_train_share(near_train, train, holdout, FLAGS)
    assert result == {"share": 1.0, "ideal": 0.5, "excess": 0.5}
    uneven = privacy.closer_to_train_share(near_train, np.vstack([train, train]), holdout, FLAGS)
    assert uneven["ideal"] == pytest.approx(2 / 3, abs=1e-6)


def test_membership_attack_sees_copies_and_not_independent_rows() -> None:
    rng = np.random.default_rng(1)
    flags = np.array([False] * 4 + [True] * 2)

    def draw(n: int) -> np.ndarray:
        data = rng.random((n, 6), dtype=np.float32)
        data[:, 4:] = rng.integers(0, 4, (n, 2))
        return data

    members, non_members = draw(300), draw(300)
    assert privacy.membership_inference_auc(members, non_members, members.copy(), flags) == pytest.approx(1.0)
    independent = privacy.membership_inference_auc(members, non_members, draw(600), flags)
    assert abs(independent - 0.5) < 0.08
    assert privacy.distance_auc(np.array([0.0, 0.1]), np.array([0.2, 0.3])) == 1.0
    assert privacy.distance_auc(np.array([0.2]), np.array([0.2])) == 0.5


def test_exact_copies_on_row_hashes_and_signed_zero() -> None:
    assert privacy.exact_copy_rate(np.array([[1], [2], [3], [4]], dtype=np.uint64), np.array([[4], [1]], dtype=np.uint64)) == 0.5
    assert privacy.exact_copy_rate(np.array([[-0.0, 1.0]]), np.array([[0.0, 1.0]])) == 1.0
    assert privacy.exact_copy_rate(np.zeros((0, 2)), np.zeros((3, 2))) == 0.0


SPAN_SOURCE = "Every rejected row is kept in quarantine with the rule that caught it and the reason."


def test_verbatim_spans_of_fifty_characters() -> None:
    reference = [f"Intro. {SPAN_SOURCE} Outro.", "Another unit."]
    texts = [
        f"A new sentence, then: {SPAN_SOURCE[:50]}",  # exactly 50 copied characters
        f"Only a little copied:#{SPAN_SOURCE[:49]}",  # 49 (the reference has a space before it): not enough
        "Something else entirely.",
        "",
    ]
    assert privacy.verbatim_span_flags(texts, reference, span=50).tolist() == [True, False, False, False]
    assert privacy.verbatim_span_share(texts, reference) == 0.25
    # A span across two reference texts is not in any one of them.
    assert not privacy.verbatim_span_flags(["abcdef"], ["abc", "def"], span=4).any()
    assert privacy.verbatim_span_flags(["xx abcdef"], ["--abcdef--"], span=6).tolist() == [True]
    assert privacy.verbatim_span_share([], reference) == 0.0


@pytest.mark.slow  # a scale check over many units
def test_verbatim_spans_scale_to_many_units() -> None:
    """20k units against 20k (about 3.4M characters each side) in a few seconds; exact answers."""
    rng = np.random.default_rng(0)
    words = np.array(["".join(rng.choice(list("abcdefghij"), size=rng.integers(2, 8))) for _ in range(3000)])
    make = lambda n: [" ".join(words[rng.integers(0, words.size, size=rng.integers(10, 50))]) for _ in range(n)]  # noqa: E731
    reference, fresh = make(20_000), make(10_000)
    texts = fresh + reference[:10_000]
    started = time.perf_counter()
    flags = privacy.verbatim_span_flags(texts, reference)
    assert time.perf_counter() - started < 30
    copied = np.array([len(text) >= 50 for text in reference[:10_000]])
    assert flags[10_000:].tolist() == copied.tolist()
    assert flags[:10_000].mean() < 0.01  # random word salad rarely repeats 50 characters


def test_closer_to_train_share_is_fair_for_fresh_rows_only_with_one_row_per_group() -> None:
    """Patients with several similar encounters: a holdout sample that takes most of a small split
    covers less of the population than a uniform sample of a large train split, so fresh patients
    look nearer to train. One row per patient on both sides removes the lean (evaluate stage)."""
    import polars as pl

    from assay.data.split import one_row_per_group, row_groups

    rng = np.random.default_rng(0)

    def encounters(patients: int, per_patient: int, first_id: int) -> pl.DataFrame:
        centres = rng.random((patients, 3))
        rows = np.clip(np.repeat(centres, per_patient, axis=0) + rng.normal(0, 0.01, size=(patients * per_patient, 3)), 0, 1)
        frame = pl.DataFrame(rows.astype(np.float32), schema=[f"c{i}" for i in range(3)])
        return frame.with_columns(pl.Series("patient", np.repeat(np.arange(first_id, first_id + patients), per_patient)))

    train, holdout, fresh = encounters(4000, 4, 0), encounters(400, 4, 10_000), encounters(1500, 1, 20_000)
    flags = [False] * 3
    features = lambda frame: frame.drop("patient").to_numpy()  # noqa: E731
    n = holdout.height
    uniform = privacy.closer_to_train_share(features(fresh), features(train.sample(n=n, seed=1)), features(holdout), flags)["share"]
    members = one_row_per_group(train, row_groups(train, ["patient"]), n, seed=1)
    non_members = one_row_per_group(holdout, row_groups(holdout, ["patient"]), n, seed=1)
    members = members.head(non_members.height)
    grouped = privacy.closer_to_train_share(features(fresh), features(members), features(non_members), flags)["share"]
    assert uniform > 0.55
    assert abs(grouped - 0.5) < 0.04
