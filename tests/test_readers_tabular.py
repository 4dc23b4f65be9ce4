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
    assert frame.columns == [*COLUMNS, "_source_file", "_source_row", "_ingest_error", "_raw", "_raw_restricted"]
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


# --- lines as an editor counts them: stray quotes, bare CR, multi-line records --------------


def numbered(n: int) -> list[str]:
    return [f"{i},item{i},{i}" for i in range(1, n + 1)]


def test_a_stray_quote_quarantines_only_its_own_line(tmp_path: Path) -> None:
    lines = numbered(50)
    lines[9] = '10,"broken item,10'  # an opening quote that never closes
    path = write(tmp_path, "id,name,qty\n" + "\n".join(lines) + "\n")
    frame, info = read_csv_source(path, COLUMNS)
    # rows_in counts data lines: the 40 lines after the quote are not swallowed into one record.
    assert frame.height == 50 == info.rows
    broken = frame.filter(pl.col("_ingest_error").is_not_null())
    assert broken["_source_row"].to_list() == [11]
    assert "unbalanced quote" in broken["_ingest_error"][0]
    assert broken["_raw"][0] == '10,"broken item,10'
    assert frame["_source_row"].to_list() == list(range(2, 52))
    assert frame["name"][10] == "item11"


def test_an_unterminated_quote_at_the_end_of_the_file_is_quarantined(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,qty\n1,a,2\n2,"b,3\n')
    frame, _ = read_csv_source(path, COLUMNS)
    assert frame.height == 2
    assert frame["_ingest_error"][0] is None
    assert "unbalanced quote" in frame["_ingest_error"][1]
    assert "never closes before the end of the file" in frame["_ingest_error"][1]
    assert frame["_source_row"].to_list() == [2, 3]


def test_a_quoted_field_over_lines_is_one_record_and_line_numbers_stay_true(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,qty\n1,"two\nline name",2\n3,c,4\n')
    frame, info = read_csv_source(path, COLUMNS)
    assert frame.height == 2
    assert frame["name"][0] == "two\nline name"
    assert frame["_source_row"].to_list() == [2, 4]
    assert frame["_ingest_error"].null_count() == 2


@pytest.mark.parametrize("newline", ["\r", "\r\n", "\n"])
def test_line_numbers_match_an_editor_for_every_line_ending(tmp_path: Path, newline: str) -> None:
    path = write(tmp_path, newline.join(["id,name,qty", "1,a,2", "", "2,b,3", "3,c"]) + newline)
    frame, info = read_csv_source(path, COLUMNS)
    assert frame["_source_row"].to_list() == [2, 4, 5]
    assert info.blank_lines == 1
    assert frame["_ingest_error"][2] == "line has 2 fields, the header has 3"


def test_raw_is_never_cut_without_saying_so(tmp_path: Path) -> None:
    long_line = "1," + "x" * 5000 + ",2,3"
    path = write(tmp_path, f"id,name,qty\n{long_line}\n")
    frame, _ = read_csv_source(path, COLUMNS)
    assert frame["_raw"][0].startswith("1,xxx")
    assert "[cut: 4,006 more characters" in frame["_raw"][0]
    assert frame["_raw_restricted"][0] == long_line


# --- identifiers in broken lines -------------------------------------------------------------


def test_identifier_fields_of_broken_lines_are_masked(tmp_path: Path) -> None:
    body = b"id,name,qty\nP100,a,2\nP987654323,b\nP200,c,3,4\nP300,caf\xe9,1\n" + b"".join(b"Q%d,x,1\n" % i for i in range(2000))
    path = write(tmp_path, body)
    frame, _ = read_csv_source(path, COLUMNS, identifiers=["id"])
    broken = frame.filter(pl.col("_ingest_error").is_not_null())
    assert broken["_source_row"].to_list() == [3, 4, 5]
    # A ragged line may have its extra field before or after the id: both places are masked.
    assert broken["_raw"].to_list() == ["<id>,b", "<id>,<id>,3,4", "<id>,caf\ufffd,1"]
    # The full lines go to the restricted quarantine only.
    assert broken["_raw_restricted"].to_list() == ["P987654323,b", "P200,c,3,4", "P300,caf\ufffd,1"]


def test_a_ragged_line_masks_every_place_the_identifier_may_be(tmp_path: Path) -> None:
    columns = ["name", "id", "qty"]
    path = write(tmp_path, "name,id,qty\na,P1,2\nb,extra,P2,3\nP1,x\n")
    frame, _ = read_csv_source(path, columns, identifiers=["id"])
    raws = frame.filter(pl.col("_ingest_error").is_not_null())["_raw"].to_list()
    # An extra field shifts id to position 2 if it came before it: both candidates are masked.
    assert raws[0] == "b,<id>,<id>,3"
    # A value equal to an identifier seen in a good line is masked wherever it is.
    assert raws[1] == "<id>,<id>"


def test_a_line_whose_identifier_cannot_be_located_is_withheld(tmp_path: Path) -> None:
    columns = ["a", "b", "id", "c", "d"]
    path = write(tmp_path, "a,b,id,c,d\n1,2,P1,3,4\nP5\n")
    frame, _ = read_csv_source(path, columns, identifiers=["id"])
    broken = frame.filter(pl.col("_ingest_error").is_not_null())
    assert broken["_raw"][0].startswith("[withheld")
    assert broken["_raw_restricted"][0] == "P5"


# --- encodings -------------------------------------------------------------------------------


def western_file(tmp_path: Path) -> Path:
    body = "".join(f"{i},Gift £10 voucher,{i}\n" for i in range(60))
    return write(tmp_path, ("id,name,qty\n" + body).encode("latin-1"))


def test_latin1_pound_sign_is_read_as_cp1252_not_cp1250(tmp_path: Path) -> None:
    frame, info = read_csv_source(western_file(tmp_path), COLUMNS)
    assert frame["name"][0] == "Gift £10 voucher"
    assert (info.encoding, info.encoding_chosen_by) == ("cp1252", "western default")
    assert 0.9 <= info.encoding_confidence <= 1.0


def test_encoding_in_params_overrides_detection(tmp_path: Path) -> None:
    frame, info = read_csv_source(western_file(tmp_path), COLUMNS, encoding="cp1250")
    assert frame["name"][0] == "Gift Ł10 voucher"
    assert (info.encoding, info.encoding_chosen_by) == ("cp1250", "params")


def test_cyrillic_bytes_are_not_forced_into_cp1252(tmp_path: Path) -> None:
    body = "".join(f"{i},Привет мир как дела,{i}\n" for i in range(60))
    frame, info = read_csv_source(write(tmp_path, ("id,name,qty\n" + body).encode("cp1251")), COLUMNS)
    assert info.encoding != "cp1252"
    assert info.encoding_chosen_by == "detected"


@pytest.mark.parametrize("tail", [b"\x00\xd8", b"b", b"\x00\xdc"])
def test_broken_utf16_is_quarantined_not_a_traceback(tmp_path: Path, tail: bytes) -> None:
    data = "id,name,qty\n1,a,2\n2,b,3\n".encode("utf-16") + tail
    frame, info = read_csv_source(write(tmp_path, data), COLUMNS)
    assert (info.encoding, info.encoding_chosen_by) == ("utf-16", "byte-order mark")
    assert frame["_ingest_error"][0] is None
    # The broken bytes after the last newline are one more line, and it goes to quarantine.
    assert frame.height == 3
    assert frame["_ingest_error"][-1] is not None


# --- files published without a header, with title lines, with comments -------------------------


def test_a_headerless_file_takes_the_params_columns_in_order_and_counts_lines_from_1(tmp_path: Path) -> None:
    path = write(tmp_path, "1,apple,3\n2,pear\n3,plum,5\n")
    frame, info = read_csv_source(path, COLUMNS, header=False)
    assert frame["name"].to_list() == ["apple", None, "plum"] and info.columns == COLUMNS
    assert frame["_source_row"].to_list() == [1, 2, 3]  # line 1 is data: an editor shows the short line at 2
    assert frame["_ingest_error"].to_list() == [None, "line has 2 fields, the header has 3", None]
    assert info.delimiter == "," and info.rows == 3


def test_a_headerless_file_finds_its_delimiter_by_the_number_of_columns(tmp_path: Path) -> None:
    frame, info = read_csv_source(write(tmp_path, "1;apple;3\n2;pear;4\n"), COLUMNS, header=False)
    assert info.delimiter == ";" and frame["qty"].to_list() == ["3", "4"]


def test_title_lines_before_the_header_are_skipped_and_lines_keep_their_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "Fruit sales 2024\n(c) the publisher\nid,name,qty\n1,apple,3\n2,pear,4\n")
    frame, info = read_csv_source(path, COLUMNS, skip_rows=2)
    assert frame["id"].to_list() == ["1", "2"] and frame["_source_row"].to_list() == [4, 5]
    assert any("2 line(s) before the header skipped" in note for note in info.notes)


def test_comment_lines_are_not_rows_even_with_a_stray_quote(tmp_path: Path) -> None:
    path = write(tmp_path, 'id,name,qty\n# exported "by hand\n1,apple,3\n# note\n2,pear,4\n')
    frame, info = read_csv_source(path, COLUMNS, comment="#")
    assert frame["id"].to_list() == ["1", "2"] and frame["_source_row"].to_list() == [3, 5]
    assert frame["_ingest_error"].is_null().all()
    assert any("2 comment line(s) starting with '#'" in note for note in info.notes)


def test_skip_rows_past_the_end_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(AssayError, match=r"skip_rows=5 skips every line of the file \(2\)"):
        read_csv_source(write(tmp_path, "id,name,qty\n1,a,2\n"), COLUMNS, skip_rows=5)


def test_a_headerless_source_from_params_keeps_the_published_bytes_and_their_sha256(tmp_path: Path) -> None:
    import hashlib

    from assay.config import ColumnSpec, DomainSpec, Source
    from assay.ingest.sources import ingest_domain

    published = b"1,apple,3\r\n2,pear,4\r\n"
    path = write(tmp_path, published)
    source = Source.model_validate({"path": str(path), "format": "csv", "csv": {"header": False}})
    # Only what ingest reads of a domain: its sources and columns (the rest of a domain is checked elsewhere).
    domain = DomainSpec.model_construct(sources=[source], columns={name: ColumnSpec() for name in COLUMNS}, max_field_chars=100_000)
    interim, report = ingest_domain("fruit", domain, tmp_path)
    assert interim["name"].to_list() == ["apple", "pear"]
    assert path.read_bytes() == published and report["sources"][0]["sha256"] == hashlib.sha256(published).hexdigest()
