"""The CSV/Parquet reader: every bad input ends in a one-line error or in a quarantinable row."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from assay.errors import AssayError
from assay.ingest.tabular import read_csv_source, read_parquet_source

COLUMNS = ["id", "name", "qty"]


def write(tmp_path: Path, data: bytes | str, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_reads_all_values_as_text_with_provenance(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,qty\n1,apple,3\n2,pear,4.0\n")
    frame, info = read_csv_source(path, COLUMNS)
    assert frame.columns == [*COLUMNS, "_source_file", "_source_row", "_ingest_error", "_raw"]
    assert frame["qty"].to_list() == ["3", "4.0"]
    assert frame["_source_row"].to_list() == [2, 3]
    assert frame["_source_file"].unique().to_list() == [str(path)]
    assert (info.rows, info.encoding, info.delimiter, info.line_endings) == (2, "utf-8", ",", "LF")


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_csv_source(tmp_path / "nope.csv", COLUMNS)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b"id,name,qty\n", "has a header but no data rows"),
        (b"id,name\n1,a\n", "missing column(s) ['qty']"),
        (b"id,name,qty,extra\n1,a,2,3\n", "unexpected column(s) ['extra']"),
        (b"id,name,name\n1,a,b\n", "header repeats column(s) ['name']"),
    ],
)
def test_whole_file_problems_raise_one_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(AssayError) as error:
        read_csv_source(path, COLUMNS)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_wrong_configured_delimiter_says_so(tmp_path: Path) -> None:
    path = write(tmp_path, "id;name;qty\n1;a;2\n")
    with pytest.raises(AssayError, match="is the delimiter wrong"):
        read_csv_source(path, COLUMNS, delimiter=",")


def test_auto_delimiter_and_crlf(tmp_path: Path) -> None:
    path = write(tmp_path, "id;name;qty\r\n1;a;2\r\n2;b;3\r\n")
    frame, info = read_csv_source(path, COLUMNS)
    assert info.delimiter == ";" and info.line_endings == "CRLF"
    assert frame["name"].to_list() == ["a", "b"]


def test_quoted_fields_with_delimiters_and_newlines(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,qty\n1,"a, b",2\n2,"two\nlines",3\n3,c,4\n')
    frame, _ = read_csv_source(path, COLUMNS)
    assert frame["name"].to_list() == ["a, b", "two\nlines", "c"]
    assert frame["_source_row"].to_list() == [2, 3, 5]


def test_ragged_lines_are_kept_for_quarantine(tmp_path: Path) -> None:
    path = write(tmp_path, "id,name,qty\n1,a,2\n2,b\n3,c,4,5\n4,d,6\n")
    frame, info = read_csv_source(path, COLUMNS)
    assert frame.height == 4
    errors = frame["_ingest_error"].to_list()
    assert errors[0] is None and errors[3] is None
    assert errors[1] == "line has 2 fields, the header has 3"
    assert errors[2] == "line has 4 fields, the header has 3"
    assert frame["_raw"].to_list()[1] == "2,b"
    assert info.rows_with_errors == 2


def test_undecodable_bytes_quarantine_only_their_line(tmp_path: Path) -> None:
    path = write(tmp_path, b"id,name,qty\n1,caf\xc3\xa9,2\n2,caf\xe9,3\n" + b"".join(b"%d,x,1\n" % i for i in range(3, 2000)))
    frame, info = read_csv_source(path, COLUMNS)
    assert info.encoding == "utf-8"
    assert frame["name"][0] == "café"
    assert frame["_ingest_error"][1] == "line holds bytes that are not valid utf-8"
    assert frame["_raw"][1] == "2,caf\ufffd,3"
    assert frame["_ingest_error"].null_count() == frame.height - 1


def test_mostly_latin1_file_is_detected(tmp_path: Path) -> None:
    body = "".join(f"{i},café crème brûlée,{i}\n" for i in range(200))
    path = write(tmp_path, ("id,name,qty\n" + body).encode("latin-1"))
    frame, info = read_csv_source(path, COLUMNS)
    assert info.encoding != "utf-8"
    assert frame["name"][0] == "café crème brûlée"
    assert frame["_ingest_error"].null_count() == frame.height


def test_ten_megabyte_field_goes_to_quarantine_truncated(tmp_path: Path) -> None:
    huge = "x" * (10 * 1024 * 1024)
    path = write(tmp_path, f"id,name,qty\n1,a,2\n2,{huge},3\n")
    frame, _ = read_csv_source(path, COLUMNS, max_field_chars=100_000)
    assert frame["_ingest_error"][1] == "field name has more than 100,000 characters"
    assert frame["name"].str.len_chars()[1] == 1000
    assert frame["_ingest_error"][0] is None


def test_unterminated_quote_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,qty\n1,"a,2\n')
    frame, _ = read_csv_source(path, COLUMNS)
    # The csv module reads to the end of the file inside the quote: one ragged record, kept.
    assert frame["_ingest_error"][0] is not None


def test_parquet_source_becomes_text(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pl.DataFrame({"id": [1, 2], "name": ["a", None], "qty": [1.5, 2.0]}).write_parquet(path)
    frame, info = read_parquet_source(path, COLUMNS)
    assert frame.schema["qty"] == pl.String
    assert frame["_source_row"].to_list() == [1, 2]
    assert info.rows == 2


def test_corrupt_parquet_is_a_one_line_error(tmp_path: Path) -> None:
    path = write(tmp_path, b"not parquet at all", "bad.parquet")
    with pytest.raises(AssayError, match="not a readable Parquet file"):
        read_parquet_source(path, COLUMNS)
