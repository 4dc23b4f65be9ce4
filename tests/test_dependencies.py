"""Functional dependencies: found in train, held to by constrained decoding, reported per source."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from assay.generator.codec import ColumnConstraints, TabularCodec
from assay.generator.dependencies import find_dependencies, value_codes
from assay.metrics.evaluate import dependency_figures

LABELS = {"A1": "asthma", "B2": "bronchitis", "C3": "cough", "D4": "diabetes"}


def _frame(n: int = 2000, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    codes = rng.choice(list(LABELS), size=n)
    return pl.DataFrame(
        {
            "label": [LABELS[c] for c in codes],  # comes first in the row: the dependent before its determinant
            "ward": rng.choice(["north", "south", "east"], size=n).tolist(),
            "code": codes.tolist(),
            "constant": ["x"] * (n - 1) + ["y"],  # nearly constant: a dependency on it says nothing
            "serial": [f"s{i}" for i in range(n)],  # unique per row: "determines" everything trivially
        }
    )


def test_finds_code_to_label_both_ways_and_nothing_trivial() -> None:
    frame = _frame()
    codes, mappable, _ = value_codes(frame, frame.columns)
    found = {(d.determinant, d.dependent) for d in find_dependencies(codes, mappable=mappable)}
    assert found == {("code", "label"), ("label", "code")}


def test_a_dependency_broken_in_more_than_0_1_percent_of_rows_is_not_one() -> None:
    frame = _frame()
    broken = frame.with_columns(pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("cough")).otherwise(pl.col("label")).alias("label"))
    codes, mappable, _ = value_codes(broken, ["code", "label"])
    shares = {(d.determinant, d.dependent): d.share for d in find_dependencies(codes, mappable=mappable)}
    assert ("code", "label") not in shares or shares[("code", "label")] >= 0.999
    assert find_dependencies(codes, mappable=mappable, min_share=0.99)  # at 99% it holds


def _sample_with_random_scores(codec: TabularCodec, rows: int, seed: int) -> np.ndarray:
    """Rows drawn from random scores under the constraints: whatever holds, the constraints made hold."""
    generator = torch.Generator().manual_seed(seed)
    constraints = ColumnConstraints(codec)
    chosen = torch.zeros(rows, codec.n_columns, dtype=torch.long)
    for position, column in enumerate(codec.columns):
        scores = torch.randn(rows, column.n_legal, generator=generator)
        allowed = constraints.allowed(position, chosen)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        chosen[:, position] = torch.multinomial(torch.softmax(scores, dim=1), 1, generator=generator)[:, 0]
    return (chosen + constraints.offsets).numpy()


def test_constrained_decoding_holds_to_dependencies_in_either_column_order() -> None:
    frame = _frame().select("label", "ward", "code")
    codec = TabularCodec.fit(frame, frame.columns, rare_count=5)
    free = _sample_with_random_scores(codec, 3000, seed=1)
    found = codec.find_dependencies(frame)
    assert {(d.determinant, d.dependent) for d in found} == {("code", "label"), ("label", "code")}
    held = _sample_with_random_scores(codec, 3000, seed=1)
    for tokens in (free, held):
        out, parsed = codec.decode(tokens, np.random.default_rng(0))
        assert parsed.all()
    free_rows, _ = codec.decode(free, np.random.default_rng(0))
    held_rows, _ = codec.decode(held, np.random.default_rng(0))
    mismatch = lambda rows: float((rows["code"].replace_strict(LABELS) != rows["label"]).mean())  # noqa: E731
    assert mismatch(free_rows) > 0.5  # random logits ignore the dependency...
    assert mismatch(held_rows) == 0.0  # ...unless decoding holds to it
    assert held_rows["ward"].n_unique() == 3  # columns outside the dependency stay free


def test_dependencies_survive_the_codec_round_trip() -> None:
    frame = _frame().select("code", "label")
    codec = TabularCodec.fit(frame, frame.columns, rare_count=5)
    codec.find_dependencies(frame)
    again = TabularCodec.from_dict(codec.to_dict())
    assert again.dependencies == codec.dependencies and len(again.dependencies) == 2


def test_report_gives_each_sources_share_of_rows_breaking_a_dependency() -> None:
    train = _frame()
    synthetic = _frame(seed=3).with_columns(pl.when(pl.int_range(pl.len()) < 100).then(pl.lit("cough")).otherwise(pl.col("label")).alias("label"))
    rows = dependency_figures(train, {"generator": synthetic, "baseline": _frame(seed=4)}, ["code", "label", "ward"])
    by_pair = {(row["determinant"], row["dependent"]): row for row in rows}
    code_to_label = by_pair[("code", "label")]
    expected = float((synthetic["code"].replace_strict(LABELS) != synthetic["label"]).mean())
    assert code_to_label["train_share"] == 1.0 and code_to_label["baseline_broken_share"] == 0.0
    assert code_to_label["generator_broken_share"] == pytest.approx(expected) and expected > 0.03


def _discharges(n: int = 3000, seed: int = 0) -> pl.DataFrame:
    """Like the real records: a patient discharged as expired is never readmitted; other outcomes are free."""
    rng = np.random.default_rng(seed)
    outcome = rng.choice(["home", "transfer", "expired"], size=n, p=[0.6, 0.3, 0.1])
    readmitted = np.where(outcome == "expired", "NO", rng.choice(["NO", ">30", "<30"], size=n, p=[0.5, 0.35, 0.15]))
    rare = rng.choice(["a", "b"], size=n, p=[0.99, 0.01])  # rule-like by chance on few rows: 1% of 3,000
    return pl.DataFrame({"readmitted": readmitted.tolist(), "outcome": outcome.tolist(), "rare": rare.tolist()})


def test_value_level_rules_are_found_when_chance_cannot_explain_them() -> None:
    frame = _discharges()
    codes, mappable, values = value_codes(frame, frame.columns)
    assert not find_dependencies(codes, mappable=mappable)  # no column determines another as a whole
    rules = find_dependencies(codes, mappable=mappable, implications=True)
    assert [(d.determinant, d.dependent, d.partial) for d in rules] == [("outcome", "readmitted", True)]
    (rule,) = rules
    assert {values["outcome"][a]: values["readmitted"][b] for a, b in rule.mapping.items()} == {"expired": "NO"}
    # the same rule on 30 rows could be chance (0.5 ** 30 is not below 1e-9): not kept
    few = _discharges(300)
    codes, mappable, _ = value_codes(few, few.columns)
    assert not find_dependencies(codes, mappable=mappable, implications=True)


def test_constrained_decoding_holds_to_a_value_level_rule_and_leaves_the_rest_free() -> None:
    frame = _discharges()
    for order in (["outcome", "readmitted"], ["readmitted", "outcome"]):  # the rule's column after, and before
        codec = TabularCodec.fit(frame.select(order), order, rare_count=5)
        assert [d.partial for d in codec.find_dependencies(frame.select(order))] == [True]
        rows, parsed = codec.decode(_sample_with_random_scores(codec, 3000, seed=2), np.random.default_rng(0))
        assert parsed.all()
        expired = rows.filter(pl.col("outcome") == "expired")
        assert expired.height > 100 and (expired["readmitted"] == "NO").all()
        others = rows.filter(pl.col("outcome") != "expired")
        assert others["readmitted"].n_unique() == 3  # the rule narrows the expired rows only
    again = TabularCodec.from_dict(codec.to_dict())
    assert again.dependencies == codec.dependencies
