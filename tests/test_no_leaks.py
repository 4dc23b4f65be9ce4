"""Raw identifiers never reach clean data, quarantine or the cleaning report; ids are parsed exactly.

Each case is one a new user or an attacker found on the demo data (issue 15, points 1, 2 and 5).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from assay.config import DomainSpec
from assay.data.clean import clean_frame, pseudonymise
from assay.ingest.tabular import read_csv_source

KEY = b"test-key"
COLUMNS = ["customer", "item", "qty"]


def domain() -> DomainSpec:
    return DomainSpec.model_validate(
        {
            "description": "t",
            "raw_dir": ".",
            "sources": [{"path": "x.csv", "format": "csv"}],
            "columns": {"customer": {"type": "int", "required": True, "identifier": True}, "item": {}, "qty": {"type": "int"}},
            "split": {"group_by": "customer"},
            "generator": {"features": ["item"]},
            "evaluate": {"target": {"column": "item", "positive": ["a"]}},
        }
    )


def ingest_and_clean(tmp_path: Path, lines: list[str]):
    path = tmp_path / "in.csv"
    path.write_text("customer,item,qty\n" + "\n".join(lines) + "\n", encoding="utf-8")
    frame, _ = read_csv_source(path, COLUMNS, identifiers=["customer"])
    return clean_frame(frame, domain(), KEY)


def every_text(frame: pl.DataFrame) -> str:
    return "\n".join(str(value) for column in frame.columns for value in frame[column].to_list())


def test_raw_identifiers_never_reach_quarantine_or_report(tmp_path: Path) -> None:
    secret_ids = ["987654323", "987654324", "987654325", "1e5", "P987654326"]
    lines = [
        "100,a,1",
        "987654323,b",  # ragged: the id would sit in _raw
        "987654324,c,x",  # a type failure in another column
        "1e5,d,1",  # an id that is not an integer
        "P987654326,e,1",  # an id that is not an integer: the reason must not repeat it
        '987654325,"f,1',  # a stray quote
        "101,g,2",
    ]
    result = ingest_and_clean(tmp_path, lines)
    assert result.report["rows_in"] == len(lines)
    shown = every_text(result.quarantine) + json.dumps(result.report, default=str) + every_text(result.clean)
    for secret in secret_ids:
        assert secret not in shown, secret
    # The full broken lines are kept, but only in the restricted output.
    restricted = every_text(result.restricted)
    assert "987654323,b" in restricted and '987654325,"f,1' in restricted
    assert result.report["restricted_lines"] == result.restricted.height == 2


def test_a_type_failure_on_an_identifier_names_the_column_not_the_value(tmp_path: Path) -> None:
    result = ingest_and_clean(tmp_path, ["P987654323,a,1", "1e5,b,1", "99999999999999999999,c,1", "7,d,1"])
    reasons = result.quarantine["_reason"].to_list()
    assert reasons == ["customer is not an integer", "customer is not an integer", "customer is out of range for a 64-bit integer"]
    # The quarantine's id column holds a pseudonym, and nothing beside it reveals what it hides.
    assert result.quarantine["customer"][0] == pseudonymise(pl.Series(["P987654323"]), KEY)[0]


def test_ids_written_as_floats_are_parsed_exactly_never_merged(tmp_path: Path) -> None:
    result = ingest_and_clean(tmp_path, ["9007199254740993.0,a,1", "9007199254740992,b,1", "17850.0,c,1", "17850,d,1"])
    assert result.quarantine.height == 0
    pseudonyms = result.clean["customer"].to_list()
    # 2^53 + 1 through a float is 2^53: two customers would share one pseudonym.
    assert pseudonyms[0] != pseudonyms[1]
    # A spreadsheet's "17850.0" is customer 17850.
    assert pseudonyms[2] == pseudonyms[3]
    assert pseudonyms[1] == pseudonymise(pl.Series(["9007199254740992"]), KEY)[0]


def test_non_identifier_values_are_still_named_in_reasons(tmp_path: Path) -> None:
    result = ingest_and_clean(tmp_path, ["1,a,1e5", "2,b,12a"])
    assert result.quarantine["_reason"].to_list() == ["qty='1e5' is not an integer", "qty='12a' is not an integer"]


# --- personal data in free text (issue 15, point 3) -------------------------------------------


def text_domain(action: str) -> DomainSpec:
    return DomainSpec.model_validate(
        {
            "description": "t",
            "raw_dir": ".",
            "sources": [{"path": "x.csv", "format": "csv"}],
            "columns": {"customer": {"type": "int", "identifier": True}, "note": {}, "qty": {"type": "int"}},
            "clean": {"personal_data": {"columns": {"note": action}}},
            "split": {"group_by": "customer"},
            "generator": {"features": ["note"]},
            "evaluate": {"target": {"column": "note", "positive": ["a"]}},
        }
    )


PLANTED = [
    ("1", "Cardiology jane.doe@example.org", "1"),
    ("2", "call +44 20 7946 0958", "1"),
    ("3", "see https://admin:hunter2@intranet.example/x", "1"),
    ("4", "ssn 123-45-6789", "1"),
    ("5", "424242", "1"),  # the raw id of customer 424242, typed into the wrong column
    ("424242", "Surgery-General", "1"),
    ("7", "Emergency/Trauma", "x"),  # quarantined for qty; its note is clean text
    ("8", "ring (555) 123-4567", "x"),  # quarantined for qty; its note holds a phone number
]
SECRETS = ["jane.doe@example.org", "7946 0958", "hunter2", "123-45-6789", "123-4567"]


def planted(action: str):
    frame = pl.DataFrame([dict(zip(["customer", "note", "qty"], row, strict=True)) for row in PLANTED]).with_columns(
        pl.lit("x.csv").alias("_source_file"),
        pl.int_range(2, len(PLANTED) + 2, dtype=pl.Int64).alias("_source_row"),
        pl.lit(None, pl.String).alias("_ingest_error"),
        pl.lit(None, pl.String).alias("_raw"),
    )
    return clean_frame(frame, text_domain(action), KEY)


def test_mask_replaces_each_find_and_counts_it() -> None:
    result = planted("mask")
    notes = result.clean["note"].to_list()
    assert notes[:5] == ["Cardiology <email>", "call <phone>", "see <url_with_user>intranet.example/x", "ssn <national_id>", "<raw_identifier>"]
    assert notes[5] == "Surgery-General"
    assert result.report["personal_data"]["note"] == {
        "action": "mask",
        "values_found": 6,
        "kinds": {"email": 1, "national_id": 1, "phone": 2, "raw_identifier": 1, "url_with_user": 1},
    }
    for secret in SECRETS:
        assert secret not in every_text(result.clean) + every_text(result.quarantine)


def test_quarantine_sends_rows_with_finds_away_masked() -> None:
    result = planted("quarantine")
    assert result.clean["note"].to_list() == ["Surgery-General"]
    reasons = dict(zip(result.quarantine["_source_row"].to_list(), result.quarantine["_reason"].to_list(), strict=True))
    assert reasons[2] == "note holds an email address (masked here)"
    assert reasons[9] == "qty='x' is not an integer; note holds a phone number (masked here)"
    for secret in SECRETS:
        assert secret not in every_text(result.quarantine)
    assert_rows_conserved(result)


def test_flag_keeps_the_value_marks_the_row_and_still_masks_raw_identifiers() -> None:
    result = planted("flag")
    flagged = dict(zip(result.clean["note"].to_list(), result.clean["personal_data_note"].to_list(), strict=True))
    assert flagged["Cardiology jane.doe@example.org"] is True
    assert flagged["Surgery-General"] is False
    assert "<raw_identifier>" in flagged and "424242" not in flagged
    # A flagged row quarantined for another reason shows its find masked.
    assert "123-4567" not in every_text(result.quarantine)


def test_free_text_columns_exclude_identifiers_lists_and_patterns() -> None:
    spec = text_domain("mask")
    assert spec.free_text_columns() == ["note"]
    with pytest.raises(ValueError, match="not free-text columns"):
        DomainSpec.model_validate({**spec.model_dump(mode="json"), "clean": {"personal_data": {"columns": {"qty": "mask"}}}})


def assert_rows_conserved(result) -> None:
    r = result.report
    assert r["rows_in"] == r["rows_clean"] + r["rows_quarantined"] + r["rows_deduplicated"]


def test_a_line_with_fields_added_on_both_sides_of_the_identifier_masks_it(tmp_path: Path) -> None:
    """Issue 18, item 7: a broken line is shown with its identifier fields masked; the id may sit
    anywhere between its position from the start and from the end."""
    result = ingest_and_clean(tmp_path, ["100,a,1", "x,987654329,y,b,2", "101,b,2"])  # a field added before and one after
    raw = result.quarantine.filter(pl.col("_rule") == "ingest")["_raw"].to_list()
    assert raw == ["<customer>,<customer>,<customer>,b,2"] and "987654329" not in every_text(result.quarantine)
    assert result.restricted["_raw"].to_list() == ["x,987654329,y,b,2"]
