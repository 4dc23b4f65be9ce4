"""Each cleaning rule, on three-to-ten-row frames, and the row accounting invariant."""

from __future__ import annotations

import polars as pl
import pytest

from assay.config import DomainSpec
from assay.data.clean import clean_frame, pseudonymise

KEY = b"test-key"


def domain(columns: dict, clean: dict | None = None) -> DomainSpec:
    return DomainSpec.model_validate(
        {
            "description": "t",
            "raw_dir": ".",
            "sources": [{"path": "x.csv", "format": "csv"}],
            "columns": columns,
            "clean": clean or {},
            "split": {"group_by": next(iter(columns))},
            "generator": {"features": [next(name for name, spec in columns.items() if not spec.get("identifier"))]},
            "evaluate": {"target": {"column": next(name for name, spec in columns.items() if not spec.get("identifier")), "positive": ["1"]}},
        }
    )


def interim(rows: list[dict], errors: list[str | None] | None = None) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema={name: pl.String for name in rows[0]})
    return frame.with_columns(
        pl.lit("x.csv").alias("_source_file"),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("_source_row"),
        pl.Series("_ingest_error", errors or [None] * frame.height, dtype=pl.String),
        pl.lit(None, dtype=pl.String).alias("_raw"),
    )


def assert_accounted(result) -> None:
    r = result.report
    assert r["rows_in"] == r["rows_clean"] + r["rows_quarantined"] + r["rows_deduplicated"]
    assert (r["rows_clean"], r["rows_quarantined"]) == (result.clean.height, result.quarantine.height)


def test_types_are_cast_and_bad_values_quarantined_with_reason() -> None:
    spec = domain({"n": {"type": "int"}, "x": {"type": "float"}, "d": {"type": "date", "formats": ["%Y-%m-%d", "%d/%m/%Y"]}})
    frame = interim(
        [
            {"n": "1", "x": "1.5", "d": "2020-01-02"},
            {"n": "17850.0", "x": "2", "d": "03/04/2020"},
            {"n": "12a", "x": "1", "d": "2020-01-01"},
            {"n": "2", "x": "inf", "d": "2020-01-01"},
            {"n": "3", "x": "1", "d": "n/a"},
        ]
    )
    result = clean_frame(frame, spec, KEY)
    assert result.clean["n"].to_list() == [1, 17850]
    assert result.clean.schema["d"] == pl.Date
    assert str(result.clean["d"][1]) == "2020-04-03"
    assert result.quarantine["_rule"].to_list() == ["type:n", "type:x", "type:d"]
    assert result.quarantine["_reason"][0] == "n='12a' is not an integer"
    assert result.quarantine["_reason"][2] == "d='n/a' is not a date"
    # Quarantine keeps the text as it was, so a steward sees the bad value itself.
    assert result.quarantine["n"].to_list() == ["12a", "2", "3"]
    assert_accounted(result)


def test_missing_markers_trim_and_required() -> None:
    spec = domain({"a": {"required": True}, "b": {}}, {"null_values": ["?", ""]})
    frame = interim([{"a": "  x ", "b": "?"}, {"a": "?", "b": "y"}, {"a": "", "b": "z"}])
    result = clean_frame(frame, spec, KEY)
    assert result.clean.to_dicts()[0] | {} == {"a": "x", "b": None, "_source_file": "x.csv", "_source_row": 2}
    assert result.quarantine["_rule"].to_list() == ["required:a", "required:a"]
    assert result.quarantine["_reason"][0] == "a is missing"
    assert result.report["normalised"]["missing_markers_to_null"] == 3


def test_allowed_pattern_length_and_range() -> None:
    spec = domain(
        {
            "c": {"allowed": ["A", "B"]},
            "p": {"pattern": "[0-9]{3}"},
            "s": {"max_length": 3},
            "n": {"type": "int", "min": 1, "max": 14},
        }
    )
    frame = interim(
        [
            {"c": "A", "p": "123", "s": "abc", "n": "5"},
            {"c": "Z", "p": "123", "s": "abc", "n": "5"},
            {"c": "A", "p": "12", "s": "abc", "n": "5"},
            {"c": "A", "p": "1234", "s": "abc", "n": "5"},
            {"c": "A", "p": "123", "s": "abcd", "n": "5"},
            {"c": "A", "p": "123", "s": "abc", "n": "0"},
            {"c": "A", "p": "123", "s": "abc", "n": "99"},
        ]
    )
    result = clean_frame(frame, spec, KEY)
    assert result.clean.height == 1
    assert result.quarantine["_rule"].to_list() == ["allowed:c", "pattern:p", "pattern:p", "length:s", "range:n", "range:n"]
    assert result.quarantine["_reason"][0] == "c='Z' is not one of: A, B"
    assert result.quarantine["_reason"][4] == "n=0 is below the minimum 1"
    assert result.quarantine["_reason"][5] == "n=99 is above the maximum 14"


def test_every_failure_is_listed_first_rule_wins() -> None:
    spec = domain({"a": {"type": "int", "min": 0}, "b": {"allowed": ["x"]}})
    result = clean_frame(interim([{"a": "-1", "b": "y"}]), spec, KEY)
    assert result.quarantine["_rule"][0] == "range:a"
    assert result.quarantine["_reason"][0] == "a=-1 is below the minimum 0; b='y' is not one of: x"


def test_exact_duplicates_are_counted_not_quarantined() -> None:
    spec = domain({"a": {}, "b": {}})
    frame = interim([{"a": "1", "b": "x"}, {"a": "1 ", "b": "x"}, {"a": "2", "b": "x"}, {"a": "1", "b": "x"}])
    result = clean_frame(frame, spec, KEY)
    assert result.report["rows_deduplicated"] == 2
    assert result.clean["a"].to_list() == ["1", "2"]
    assert [e["duplicate_of_row"] for e in result.report["duplicate_examples"]] == [2, 2]
    assert_accounted(result)


def test_ingest_errors_go_to_quarantine_and_are_never_deduplicated() -> None:
    spec = domain({"a": {}})
    frame = interim([{"a": None}, {"a": None}, {"a": "ok"}], errors=["line has 2 fields, the header has 1", "line has 3 fields, the header has 1", None])
    result = clean_frame(frame, spec, KEY)
    assert result.quarantine["_rule"].to_list() == ["ingest", "ingest"]
    assert result.quarantine["_reason"].to_list()[1] == "line has 3 fields, the header has 1"
    assert result.report["rows_deduplicated"] == 0
    assert_accounted(result)


def test_unique_key_keeps_first() -> None:
    spec = domain({"id": {"type": "int"}, "v": {}}, {"unique_key": ["id"]})
    result = clean_frame(interim([{"id": "1", "v": "a"}, {"id": "1", "v": "b"}, {"id": "2", "v": "c"}]), spec, KEY)
    assert result.clean["v"].to_list() == ["a", "c"]
    assert result.quarantine["_reason"][0] == "id repeats the key of line 2 with different values"


def test_domain_rules_quarantine_or_flag_and_derived_columns() -> None:
    spec = domain(
        {"InvoiceNo": {}, "Quantity": {"type": "int"}, "UnitPrice": {"type": "float"}},
        {
            "rules": [
                {"name": "stock_adjustment", "when": "Quantity < 0 AND NOT starts_with(InvoiceNo, 'C')", "reason": "stock adjustment"},
                {"name": "free", "when": "UnitPrice = 0", "action": "flag", "reason": "free item"},
            ],
            "derived": [{"name": "amount", "expr": "Quantity * UnitPrice"}],
        },
    )
    frame = interim(
        [
            {"InvoiceNo": "536365", "Quantity": "6", "UnitPrice": "2.5"},
            {"InvoiceNo": "C536379", "Quantity": "-1", "UnitPrice": "27.5"},
            {"InvoiceNo": "536380", "Quantity": "-3", "UnitPrice": "0"},
            {"InvoiceNo": "536381", "Quantity": "1", "UnitPrice": "0"},
        ]
    )
    result = clean_frame(frame, spec, KEY)
    assert result.clean["InvoiceNo"].to_list() == ["536365", "C536379", "536381"]
    assert result.clean["amount"].to_list() == [15.0, -27.5, 0.0]
    assert result.clean["free"].to_list() == [False, False, True]
    assert result.quarantine["_rule"].to_list() == ["stock_adjustment"]
    assert result.report["rules"] == {"stock_adjustment": 1}
    assert result.report["flags"] == {"free": 1}


def test_identifiers_are_pseudonymised_in_clean_and_quarantine() -> None:
    spec = domain({"patient": {"type": "int", "identifier": True}, "age": {"type": "int", "max": 120}})
    result = clean_frame(interim([{"patient": "8222157", "age": "40"}, {"patient": "55629189", "age": "400"}]), spec, KEY)
    assert result.clean["patient"][0] == pseudonymise(pl.Series(["8222157"]), KEY)[0]
    assert len(result.clean["patient"][0]) == 16
    for frame in (result.clean, result.quarantine):
        assert not frame["patient"].is_in(["8222157", "55629189"]).any()
    # Same key, same pseudonym: joins across domains and runs still work. Another key differs.
    assert pseudonymise(pl.Series(["8222157"]), b"other")[0] != result.clean["patient"][0]


def test_int_identifier_written_as_float_gets_the_same_pseudonym() -> None:
    spec = domain({"c": {"type": "int", "identifier": True}, "x": {}})
    result = clean_frame(interim([{"c": "17850", "x": "a"}, {"c": "17850.0", "x": "b"}]), spec, KEY)
    assert result.clean["c"].n_unique() == 1


def test_mojibake_and_unicode_repair() -> None:
    spec = domain({"d": {}}, {"fix_mojibake": ["d"], "collapse_whitespace": ["d"]})
    frame = interim([{"d": "CafÃ©  crème"}, {"d": "Gift Voucher Â£10.00"}, {"d": "Cafe\u0301"}])
    result = clean_frame(frame, spec, KEY)
    assert result.clean["d"].to_list() == ["Café crème", "Gift Voucher £10.00", "Café"]
    assert result.report["normalised"]["mojibake_repaired"] == 2


@pytest.mark.parametrize("seed", range(5))
def test_accounting_holds_on_random_messy_frames(seed: int) -> None:
    import random

    rng = random.Random(seed)
    values = ["1", "2", "x", "", "?", " 3 ", "-4", "99", None]
    rows = [{"a": rng.choice(values), "b": rng.choice(values)} for _ in range(200)]
    errors = [rng.choice([None] * 9 + ["broken line"]) for _ in rows]
    spec = domain(
        {"a": {"type": "int", "required": True, "min": 0, "max": 50}, "b": {"allowed": ["1", "2"]}}, {"null_values": ["?", ""], "unique_key": ["a", "b"]}
    )
    assert_accounted(clean_frame(interim(rows, errors), spec, KEY))
