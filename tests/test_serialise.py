"""Rows as text for the fine-tuning path: round trips with tricky values, strict parsing, seeded column orders."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

import numpy as np
import polars as pl
import pytest

from assay.generator.serialise import frame_to_texts, row_to_text, text_to_row, texts_to_frame

SCHEMA: dict[str, pl.DataType] = {
    "age": pl.String(),
    "gender": pl.String(),
    "n": pl.Int64(),
    "x": pl.Float64(),
    "ok": pl.Boolean(),
    "day": pl.Date(),
    "at": pl.Datetime("us"),
}
TRICKY = [
    "a, b",
    "x is y",
    "age is [70-80), gender is Female",
    "back\\slash",
    "ends with \\",
    "\\, ",
    ",",
    "missing",
    "\\missing",
    "",
    "  padded  ",
    "line\nbreak",
    "naïve – ünïcödé £",
    "is",
    " is ",
]


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "age": "[70-80)",
        "gender": "Female",
        "n": 3,
        "x": 2.55,
        "ok": True,
        "day": date(2011, 12, 1),
        "at": datetime(2011, 12, 1, 8, 26),
    }
    return {**base, **overrides}


def test_text_reads_like_the_issue_example() -> None:
    text = row_to_text(row(), ["age", "gender"], np.random.default_rng(0))
    assert text in ("age is [70-80), gender is Female", "gender is Female, age is [70-80)")


@pytest.mark.parametrize("value", TRICKY)
def test_tricky_strings_round_trip(value: str) -> None:
    original = row(age=value, gender=value)
    text = row_to_text(original, list(SCHEMA), np.random.default_rng(1))
    assert text_to_row(text, SCHEMA) == original


def test_nulls_are_written_missing_and_read_back_as_null() -> None:
    original = dict.fromkeys(SCHEMA)
    text = row_to_text(original, list(SCHEMA), np.random.default_rng(2))
    assert text.count("is missing") == len(SCHEMA)
    assert text_to_row(text, SCHEMA) == original
    literal = row(age="missing")
    assert text_to_row(row_to_text(literal, list(SCHEMA), np.random.default_rng(2)), SCHEMA) == literal


@pytest.mark.parametrize("value", [0.0, -0.0, 1e-05, 15.299999999999999, 1e300, -2.5, math.inf, -math.inf])
def test_floats_round_trip_exactly(value: float) -> None:
    back = text_to_row(row_to_text(row(x=value), list(SCHEMA), np.random.default_rng(0)), SCHEMA)
    assert back is not None and back["x"] == value and math.copysign(1, back["x"]) == math.copysign(1, value)


def test_nan_big_integers_and_timestamps_round_trip() -> None:
    back = text_to_row(row_to_text(row(x=math.nan, n=-(2**63)), list(SCHEMA), np.random.default_rng(0)), SCHEMA)
    assert back is not None and math.isnan(back["x"]) and back["n"] == -(2**63)
    schema = {"at": pl.Datetime("us", "UTC")}
    stamp = datetime(2011, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    text = row_to_text({"at": stamp}, ["at"], np.random.default_rng(0))
    assert text == "at is 2011-01-02 03:04:05.678901+00:00"
    assert text_to_row(text, schema) == {"at": stamp}


def test_names_that_are_prefixes_or_hold_separators() -> None:
    schema = {"glipizide": pl.String(), "glipizide-metformin": pl.String(), "a, b": pl.Int64(), "x is y": pl.String(), "x": pl.String()}
    original = {"glipizide": "No", "glipizide-metformin": "Up", "a, b": 1, "x is y": "is", "x": "y is z"}
    for seed in range(10):
        assert text_to_row(row_to_text(original, list(schema), np.random.default_rng(seed)), schema) == original


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("age is [70-80)", "a column is missing"),
        ("age is a, age is b, gender is F, n is 1, x is 1.0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00", "a column repeats"),
        ("age is a, gender is F, n is 1, x is 1.0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00, zip is 1", "an unknown column"),
        ("age is a, gender is F, n is 1.0, x is 1.0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00", "an integer written as a float"),
        ("age is a, gender is F, n is 1, x is 1_0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00", "not a canonical float"),
        ("age is a, gender is F, n is 1, x is 1.0, ok is yes, day is 2011-01-01, at is 2011-01-01 00:00:00", "not true/false"),
        ("age is a, gender is F, n is 1, x is 1.0, ok is true, day is 2011-13-01, at is 2011-01-01 00:00:00", "not a date"),
        ("age is a,b, gender is F, n is 1, x is 1.0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00", "an unescaped comma"),
        ("age is a\\, gender is F, n is 1, x is 1.0, ok is true, day is 2011-01-01, at is 2011-01-01 00:00:00\\", "a dangling backslash"),
        ("", "empty"),
    ],
)
def test_text_that_does_not_fit_the_schema_is_rejected(text: str, why: str) -> None:
    assert text_to_row(text, SCHEMA) is None, why


def test_frame_round_trip_and_parse_mask() -> None:
    frame = pl.DataFrame([row(age=value, n=i, x=i / 3, ok=None if i % 4 == 0 else i % 2 == 0) for i, value in enumerate(TRICKY)], schema=SCHEMA)
    texts = frame_to_texts(frame, list(SCHEMA), seed=3)
    back, parsed = texts_to_frame(texts, SCHEMA)
    assert parsed.all() and back.equals(frame) and back.schema == frame.schema
    back, parsed = texts_to_frame([texts[0], "nonsense", texts[2]], SCHEMA)
    assert parsed.tolist() == [True, False, True]
    assert back.row(1) == (None,) * len(SCHEMA)
    assert back.row(2) == frame.row(2)
    empty, parsed = texts_to_frame([], SCHEMA)
    assert empty.height == 0 and parsed.size == 0 and empty.schema == pl.Schema(SCHEMA)


def test_column_order_is_random_per_example_and_seeded() -> None:
    frame = pl.DataFrame([row(n=i) for i in range(50)], schema=SCHEMA)
    texts = frame_to_texts(frame, list(SCHEMA), seed=0)
    assert texts == frame_to_texts(frame, list(SCHEMA), seed=0)
    assert texts != frame_to_texts(frame, list(SCHEMA), seed=1)
    orders = {tuple(pair.split(" is ")[0] for pair in text.split(", ")) for text in texts}
    assert len(orders) > 40
    rng = np.random.default_rng(0)
    assert texts == [row_to_text(r, list(SCHEMA), rng) for r in frame.to_dicts()]


def test_frame_to_texts_names_absent_columns() -> None:
    with pytest.raises(ValueError) as error:
        frame_to_texts(pl.DataFrame({"age": ["x"]}), ["age", "zip"], seed=0)
    assert "zip" in str(error.value)
