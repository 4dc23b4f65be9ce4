"""CSV and Parquet sources -> an all-string frame with provenance.

Types are not guessed here: every value stays the text that was in the file, so the cleaning
stage can say exactly which value failed which cast. Lines that cannot be parsed (wrong number
of fields, bytes that are not valid in the file's encoding, a field over the size limit) are
kept with ``_ingest_error`` set, so they reach quarantine instead of vanishing.

Whole-file problems (missing, empty, header only, columns that do not match) raise
:class:`AssayError` with one line naming the file.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from assay.columns import INGEST_COLUMNS
from assay.errors import AssayError

RAW_PREVIEW_CHARS = 1000
CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
# How many undecodable lines a file may have and still be read as UTF-8 with those lines
# quarantined; beyond this the file is probably in another encoding altogether.
MAX_BAD_LINE_SHARE = 0.001
_SURROGATE = re.compile("[\udc80-\udcff]")

csv.field_size_limit(sys.maxsize)


@dataclass
class SourceInfo:
    """What ingest learned about one file, for ``reports/ingest/<domain>.json``."""

    encoding: str = ""
    delimiter: str | None = None
    line_endings: str | None = None
    blank_lines: int = 0
    rows: int = 0
    rows_with_errors: int = 0
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _line_endings(data: bytes) -> str:
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    cr = data.count(b"\r") - crlf
    kinds = [name for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    return "+".join(kinds) if kinds else "none"


def _decode(data: bytes, encoding: str, path: Path) -> tuple[str, str, int]:
    """Decode bytes; undecodable bytes become surrogates so the lines holding them can be quarantined.

    Returns (text, encoding used, number of undecodable byte runs).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if encoding != "auto":
        try:
            text = data.decode(encoding, errors="surrogateescape")
        except LookupError:
            raise AssayError(f"{path}: unknown encoding {encoding!r} in params (csv.encoding)") from None
        return text, encoding, len(_SURROGATE.findall(text))
    text = data.decode("utf-8", errors="surrogateescape")
    bad = len(_SURROGATE.findall(text))
    lines = text.count("\n") + 1
    if bad == 0 or bad / lines <= MAX_BAD_LINE_SHARE:
        return text, "utf-8", bad
    from charset_normalizer import from_bytes

    best = from_bytes(data[: 1 << 20]).best()
    if best is None:
        raise AssayError(f"{path}: cannot tell the text encoding ({bad} undecodable UTF-8 sequences); set csv.encoding in params")
    detected = best.encoding
    text = data.decode(detected, errors="surrogateescape")
    return text, detected, len(_SURROGATE.findall(text))


def _header_fields(text: str, delimiter: str, quote_char: str) -> list[str]:
    first = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quote_char), [])
    return [name.strip() for name in first]


def _choose_delimiter(text: str, configured: str, quote_char: str, expected: list[str], path: Path) -> str:
    if configured != "auto":
        return configured
    wanted = set(expected)
    for delimiter in CANDIDATE_DELIMITERS:
        if set(_header_fields(text, delimiter, quote_char)) == wanted:
            return delimiter
    # No candidate gives exactly the expected columns: take the one that splits the header into
    # the most fields, so the column check below reports what is missing or extra.
    return max(CANDIDATE_DELIMITERS, key=lambda d: len(_header_fields(text, d, quote_char)))


def check_columns(found: list[str], expected: list[str], path: Path, delimiter: str | None = None) -> None:
    """Raise a one-line error when a file's columns differ from the domain's declared columns."""
    duplicated = sorted({name for name in found if found.count(name) > 1})
    if duplicated:
        raise AssayError(f"{path}: header repeats column(s) {duplicated}")
    missing = [name for name in expected if name not in found]
    extra = [name for name in found if name not in expected]
    if not missing and not extra:
        return
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if extra:
        parts.append(f"unexpected column(s) {extra}")
    hint = ""
    if len(found) == 1 and len(expected) > 1:
        hint = f"; the header is one field with delimiter {delimiter!r}: is the delimiter wrong?"
    raise AssayError(f"{path}: {'; '.join(parts)}{hint}")


def read_csv_source(
    path: Path,
    expected: list[str],
    *,
    delimiter: str = "auto",
    quote_char: str = '"',
    encoding: str = "auto",
    max_field_chars: int = 100_000,
) -> tuple[pl.DataFrame, SourceInfo]:
    """Read one CSV file into an all-string frame with provenance columns.

    ``_source_row`` is the line number in the file where the record starts (the header is
    line 1), so a steward can open the file at that line.
    """
    if path.is_dir():
        raise AssayError(f"{path}: is a folder; a csv source names one file")
    data = path.read_bytes()
    if not data.strip():
        raise AssayError(f"{path}: file is empty")
    info = SourceInfo(line_endings=_line_endings(data))
    text, info.encoding, bad_bytes = _decode(data, encoding, path)
    if not text.strip("\ufeff \t\r\n"):
        raise AssayError(f"{path}: file holds no text (only a byte-order mark or whitespace)")
    info.delimiter = _choose_delimiter(text, delimiter, quote_char, expected, path)

    reader = csv.reader(io.StringIO(text, newline=""), delimiter=info.delimiter, quotechar=quote_char)
    try:
        header = [name.strip() for name in next(reader)]
    except csv.Error as exc:
        raise AssayError(f"{path}: cannot parse the header line: {exc}") from None
    check_columns(header, expected, path, info.delimiter)
    info.columns = header

    records: list[list[str]] = []
    start_lines: list[int] = []
    previous_end = reader.line_num
    try:
        for record in reader:
            if record:
                records.append(record)
                start_lines.append(previous_end + 1)
            else:
                info.blank_lines += 1
            previous_end = reader.line_num
    except csv.Error as exc:
        # The csv module stops at an unterminated quote; everything after it is one broken record.
        raise AssayError(f"{path}: line {previous_end + 1}: {exc} (check csv.quote_char)") from None
    if not records:
        raise AssayError(f"{path}: has a header but no data rows")

    width = len(header)
    errors: list[str | None] = [None] * len(records)
    for index, record in enumerate(records):
        if len(record) != width:
            errors[index] = f"line has {len(record)} fields, the header has {width}"
    if bad_bytes:
        for index, record in enumerate(records):
            if errors[index] is None and any(_SURROGATE.search(value) for value in record):
                errors[index] = f"line holds bytes that are not valid {info.encoding}"
        info.notes.append(f"{bad_bytes} undecodable byte sequence(s) replaced by U+FFFD; their lines are quarantined")

    frame = _frame_from_records(records, errors, header, start_lines, str(path), info.delimiter)
    frame = _flag_oversized_fields(frame, header, max_field_chars).select([*expected, *INGEST_COLUMNS])
    info.rows = frame.height
    info.rows_with_errors = frame["_ingest_error"].is_not_null().sum()
    return frame, info


def _frame_from_records(
    records: list[list[str]],
    errors: list[str | None],
    header: list[str],
    start_lines: list[int],
    source_file: str,
    delimiter: str,
) -> pl.DataFrame:
    width = len(header)
    good = [record if error is None else [None] * width for record, error in zip(records, errors, strict=True)]
    if any(errors):
        # Rare path: only files with broken lines pay for this per-row pass. Surrogates cannot
        # be stored as UTF-8, so they become U+FFFD in the preview kept for stewards.
        raw = [
            None if error is None else _SURROGATE.sub("\ufffd", delimiter.join(record))[:RAW_PREVIEW_CHARS]
            for record, error in zip(records, errors, strict=True)
        ]
    else:
        raw = [None] * len(records)
    columns = list(zip(*good, strict=True)) if good else [() for _ in header]
    data = {name: pl.Series(name, values, dtype=pl.String) for name, values in zip(header, columns, strict=True)}
    frame = pl.DataFrame(data)
    return frame.with_columns(
        pl.lit(source_file, dtype=pl.String).alias("_source_file"),
        pl.Series("_source_row", start_lines, dtype=pl.Int64),
        pl.Series("_ingest_error", errors, dtype=pl.String),
        pl.Series("_raw", raw, dtype=pl.String),
    )


def _flag_oversized_fields(frame: pl.DataFrame, columns: list[str], limit: int) -> pl.DataFrame:
    """Quarantine rows with a field longer than ``limit`` characters, keeping a truncated preview."""
    too_long = [pl.when(pl.col(name).str.len_chars() > limit).then(pl.lit(name)) for name in columns]
    offender = pl.coalesce(too_long) if too_long else pl.lit(None, dtype=pl.String)
    frame = frame.with_columns(offender.alias("_oversized"))
    if frame["_oversized"].null_count() == frame.height:
        return frame.drop("_oversized")
    message = pl.format("field {} has more than {} characters", pl.col("_oversized"), pl.lit(f"{limit:,}"))
    truncated = [
        pl.when(pl.col("_oversized").is_not_null()).then(pl.col(name).str.slice(0, RAW_PREVIEW_CHARS)).otherwise(pl.col(name)).alias(name) for name in columns
    ]
    return frame.with_columns(
        pl.coalesce(pl.col("_ingest_error"), pl.when(pl.col("_oversized").is_not_null()).then(message)).alias("_ingest_error"),
        *truncated,
    ).drop("_oversized")


def read_parquet_source(path: Path, expected: list[str], *, max_field_chars: int = 100_000) -> tuple[pl.DataFrame, SourceInfo]:
    """Read a Parquet file as strings, so cleaning applies the same casts as for CSV."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # pyarrow/polars raise several types for corrupt files
        raise AssayError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    check_columns(frame.columns, expected, path)
    if frame.height == 0:
        raise AssayError(f"{path}: has a schema but no data rows")
    info = SourceInfo(encoding="parquet", columns=frame.columns)
    frame = frame.select([pl.col(name).cast(pl.String) for name in expected]).with_columns(
        pl.lit(str(path), dtype=pl.String).alias("_source_file"),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias("_source_row"),
        pl.lit(None, dtype=pl.String).alias("_ingest_error"),
        pl.lit(None, dtype=pl.String).alias("_raw"),
    )
    frame = _flag_oversized_fields(frame, expected, max_field_chars)
    info.rows = frame.height
    info.rows_with_errors = frame["_ingest_error"].is_not_null().sum()
    return frame, info
