"""Property: any bytes and any params end in a one-line error or in a run that conserves rows.

Hypothesis writes CSV files from pieces that break readers (delimiters and quotes inside fields,
bare CRs, NULs, byte-order marks, invalid UTF-8, huge fields, wrong headers) under varied params
(delimiter, quote character, encoding, field limit, column types, personal-data action), then
runs ingest and cleaning. Allowed outcomes: :class:`AssayError` with a one-line message (the CLI
turns it into exit code 2, tests/test_cli.py), or a run where every data line is a row and
``rows_in == rows_clean + rows_quarantined + rows_deduplicated``. Anything else (a traceback from
polars, the csv module or pyarrow) fails the test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assay.config import DomainSpec
from assay.data.clean import clean_frame
from assay.errors import AssayError
from assay.ingest.tabular import read_csv_source

KEY = b"fuzz-key"
COLUMNS = ["id", "name", "qty", "day"]

# Pieces of a field: ordinary text and every character a CSV reader must treat with care.
PIECES = st.sampled_from(
    [
        "1",
        "42",
        "-7",
        "1e5",
        "17850.0",
        "9007199254740993.0",
        "abc",
        "café",
        "£",
        "a b",
        " ",
        ",",
        ";",
        "\t",
        '"',
        "'",
        '""',
        "\r",
        "\n",
        "\r\n",
        "\x00",
        "\ufeff",
        "jane@example.org",
        "2020-01-02",
        "02/01/2020",
        "99999999999999999999",
        "?",
    ]
)
FIELD = st.lists(PIECES, max_size=4).map("".join)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    # Mostly the right header (in any order), so that most files reach the line-level reading.
    header = draw(st.sampled_from([COLUMNS] * 4 + [list(reversed(COLUMNS)), COLUMNS[:3], [*COLUMNS, "extra"], ["id", "id", "qty", "day"]]))
    rows = draw(st.lists(st.lists(FIELD, min_size=0, max_size=6), max_size=12))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join([delimiter.join(header), *(delimiter.join(row) for row in rows)]) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    # Sometimes raw bytes: invalid UTF-8, a lone BOM, NULs.
    return data + draw(st.sampled_from([b"", b"\xff\xfe", b"\xc3", b"\x00\x00", b"\xe9t\xe9\n", b"\x81\x8d"]))


@st.composite
def domains(draw: st.DrawFn) -> dict:
    qty_type = draw(st.sampled_from(["int", "float", "str"]))
    return {
        "description": "fuzz",
        "raw_dir": ".",
        "sources": [{"path": "in.csv", "format": "csv"}],
        "max_field_chars": draw(st.sampled_from([3, 100_000])),
        "columns": {
            "id": {"type": "int", "identifier": True, "required": draw(st.booleans())},
            "name": {"max_length": draw(st.sampled_from([None, 5]))},
            "qty": {"type": qty_type, **({"min": 0} if qty_type != "str" else {})},
            "day": {"type": "date", "formats": draw(st.sampled_from([["%Y-%m-%d"], ["%d/%m/%Y", "%Y-%m-%d"]]))},
        },
        "clean": {
            "null_values": draw(st.sampled_from([[""], ["", "?"]])),
            "dedupe": draw(st.booleans()),
            "unique_key": draw(st.sampled_from([None, ["id"]])),
            "personal_data": {"action": draw(st.sampled_from(["mask", "quarantine", "flag", "off"]))},
        },
        "split": {"group_by": "id"},
        "generator": {"features": ["name", "qty"]},
        "evaluate": {"target": {"column": "name", "positive": ["abc"]}},
    }


CSV_OPTIONS = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from(["auto", ",", ";"]),
        "quote_char": st.sampled_from(['"', "'"]),
        "encoding": st.sampled_from(["auto", "utf-8", "cp1252", "latin-1"]),
    }
)


def one_line(error: Exception) -> None:
    message = str(error)
    assert message and "\n" not in message, repr(message)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=csv_files(), spec=domains(), options=CSV_OPTIONS)
def test_any_file_and_params_end_in_a_one_line_error_or_conserved_rows(data: bytes, spec: dict, options: dict) -> None:
    try:
        domain = DomainSpec.model_validate(spec)
    except ValidationError:
        return  # params errors: load_params turns these into one line naming the key (tests/test_params_profiles.py)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.csv"
        path.write_bytes(data)
        try:
            frame, info = read_csv_source(path, COLUMNS, identifiers=["id"], max_field_chars=domain.max_field_chars, **options)
            result = clean_frame(frame, domain, KEY)
        except AssayError as error:
            one_line(error)
            return
    report = result.report
    assert report["rows_in"] == frame.height == info.rows
    assert report["rows_in"] == report["rows_clean"] + report["rows_quarantined"] + report["rows_deduplicated"]
    assert (result.clean.height, result.quarantine.height) == (report["rows_clean"], report["rows_quarantined"])
    # Every row names a line of the file, after the header, in order.
    rows = frame["_source_row"].to_list()
    assert rows == sorted(rows) and all(row >= 2 for row in rows)


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf", b"\xff\xfe", b"\x00" * 64, b"id,name,qty,day\r\r\r"])
def test_known_nasty_files(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_bytes(data)
    with pytest.raises(AssayError) as error:
        read_csv_source(path, COLUMNS, identifiers=["id"])
    one_line(error.value)
