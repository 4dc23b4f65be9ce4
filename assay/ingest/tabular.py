"""CSV and Parquet sources -> an all-string frame with provenance.

Types are not guessed here: every value stays the text that was in the file, so the cleaning
stage can say exactly which value failed which cast. Lines that cannot be parsed (wrong number
of fields, an unbalanced quote, bytes that are not valid in the file's encoding, a field over
the size limit) are kept with ``_ingest_error`` set, so they reach quarantine instead of
vanishing: every data line of the file is a row, or part of the one quoted record it belongs to.
A broken line's text is kept in ``_raw`` with identifier fields masked, and in full only in
``_raw_restricted``, which goes to the restricted quarantine.

Whole-file problems (missing, empty, header only, columns that do not match) raise
:class:`AssayError` with one line naming the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import INGEST_COLUMNS, RAW, RAW_RESTRICTED
from assay.contracts import SourceInfo
from assay.errors import AssayError

RAW_PREVIEW_CHARS = 1000
# charset_normalizer's mess ratio of the text read as cp1252, up to which cp1252 is taken:
# German, French or English text with accents or "£" scores 0.00-0.05, Cyrillic, Greek or
# Polish bytes read as cp1252 score 1.0 or more.
MAX_WESTERN_MESS = 0.1
LINE_CHUNK_CHARS = 1 << 24
CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
# How many undecodable lines a file may have and still be read as UTF-8 with those lines
# quarantined; beyond this the file is probably in another encoding altogether.
MAX_BAD_LINE_SHARE = 0.001
# Undecodable bytes become lone surrogates U+DC00 + byte, as Python's "surrogateescape" does,
# but for every byte: surrogateescape itself fails on bytes below 0x80, which UTF-16 data can
# hold. Valid input never decodes to a lone surrogate, so each one marks a bad byte.
_SURROGATE = re.compile("[\udc00-\udcff]")
_ESCAPE = "assay-escape"


def _escape_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(0xDC00 + byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(_ESCAPE, _escape_bytes)

csv.field_size_limit(sys.maxsize)


def _line_endings(data: bytes) -> str:
    crlf = data.count(b"\r\n")
    lf = data.count(b"\n") - crlf
    cr = data.count(b"\r") - crlf
    kinds = [name for name, count in (("CRLF", crlf), ("LF", lf), ("CR", cr)) if count]
    return "+".join(kinds) if kinds else "none"


@dataclass(frozen=True)
class Decoding:
    """How a file's bytes became text: the codec, how sure we are, and who chose it."""

    encoding: str
    confidence: float
    chosen_by: str  # "params", "byte-order mark", "utf-8 decodes", "western default" or "detected"


def _decode(data: bytes, encoding: str, path: Path) -> tuple[str, Decoding, int]:
    """Decode bytes; undecodable bytes become surrogates so the lines holding them can be quarantined.

    Order of preference: the codec named in params; UTF-8 when (almost) every line decodes;
    cp1252 when it reads every byte cleanly (Western-European data, the common non-UTF-8 case,
    which byte-statistics detectors confuse with cp1250 on short text: ``£`` becomes ``Ł``);
    else the detector's best guess. Returns (text, decoding, number of undecodable byte runs).
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if encoding == "auto":
        # A UTF-16/32 byte-order mark says what the file is; no guessing needed.
        for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
            if data.startswith(bom):
                text = data.decode(codec, errors=_ESCAPE)
                return text, Decoding(codec, 1.0, "byte-order mark"), len(_SURROGATE.findall(text))
    if encoding != "auto":
        try:
            text = data.decode(encoding, errors=_ESCAPE)
        except LookupError:
            raise AssayError(f"{path}: unknown encoding {encoding!r} in params (csv.encoding)") from None
        return text, Decoding(encoding, 1.0, "params"), len(_SURROGATE.findall(text))
    text = data.decode("utf-8", errors=_ESCAPE)
    bad = len(_SURROGATE.findall(text))
    lines = text.count("\n") + 1
    if bad == 0 or bad / lines <= MAX_BAD_LINE_SHARE:
        return text, Decoding("utf-8", round(1.0 - bad / lines, 6), "utf-8 decodes"), bad
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    sample = data[: 1 << 20]
    try:
        western = sample.decode("cp1252")
    except UnicodeDecodeError:  # one of cp1252's five undefined bytes: not cp1252
        western = None
    if western is not None:
        mess = mess_ratio(western, maximum_threshold=1.0)
        if mess <= MAX_WESTERN_MESS:
            text = data.decode("cp1252", errors=_ESCAPE)
            return text, Decoding("cp1252", round(1.0 - mess, 6), "western default"), len(_SURROGATE.findall(text))
    best = from_bytes(sample).best()
    if best is None:
        raise AssayError(f"{path}: cannot tell the text encoding ({bad} undecodable UTF-8 sequences); set csv.encoding in params")
    text = data.decode(best.encoding, errors=_ESCAPE)
    return text, Decoding(best.encoding, round(1.0 - best.chaos, 6), "detected"), len(_SURROGATE.findall(text))


def _physical_lines(text: str) -> pl.Series:
    """The lines of text whose line ends are all LF (see :func:`_editor_line_ends`).

    Splitting happens in polars, so a large file becomes one Arrow column, not millions of
    Python strings; it goes in chunks of about ``LINE_CHUNK_CHARS``, which halves the peak
    memory of splitting the whole text at once (benchmarks/ingest_memory.py).
    """
    if text.endswith("\n"):
        text = text[:-1]
    chunks: list[pl.Series] = []
    start = 0
    while True:
        end = text.find("\n", min(start + LINE_CHUNK_CHARS, len(text)))
        end = len(text) if end < 0 else end
        chunks.append(pl.Series("_line", [text[start:end]], dtype=pl.String).str.split("\n").explode())
        if end >= len(text):
            return pl.concat(chunks)
        start = end + 1


def _header_fields(line: str, delimiter: str, quote_char: str) -> list[str]:
    first = next(csv.reader([line], delimiter=delimiter, quotechar=quote_char), [])
    return [name.strip() for name in first]


def _choose_delimiter(header_line: str, configured: str, quote_char: str, expected: list[str]) -> str:
    if configured != "auto":
        return configured
    wanted = set(expected)
    for delimiter in CANDIDATE_DELIMITERS:
        if set(_header_fields(header_line, delimiter, quote_char)) == wanted:
            return delimiter
    # No candidate gives exactly the expected columns: take the one that splits the header into
    # the most fields, so the column check below reports what is missing or extra.
    return max(CANDIDATE_DELIMITERS, key=lambda d: len(_header_fields(header_line, d, quote_char)))


def _choose_delimiter_by_width(line: str, configured: str, quote_char: str, width: int) -> str:
    """A headerless file's delimiter: the candidate that splits the first data line into ``width`` fields."""
    if configured != "auto":
        return configured
    fits = [delimiter for delimiter in CANDIDATE_DELIMITERS if len(_header_fields(line, delimiter, quote_char)) == width]
    return fits[0] if fits else max(CANDIDATE_DELIMITERS, key=lambda d: len(_header_fields(line, d, quote_char)))


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


class _LineFeed:
    """Physical lines from ``start`` on, for the csv module; stops after ``limit`` characters.

    ``exhausted`` tells whether the csv module asked for more than there was: the quote it
    was inside never closed.
    """

    def __init__(self, lines: pl.Series, start: int, limit: int) -> None:
        self.lines, self.next, self.left, self.exhausted = lines, start, limit, False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self.next >= len(self.lines) or self.left < 0:
            self.exhausted = True
            raise StopIteration
        line = self.lines[self.next]
        self.next += 1
        self.left -= len(line) + 1
        return line + "\n"


class _QuotedRecords:
    """Column-wise results of parsing quoted lines, turned into a polars frame batch by batch.

    Per record: its first line (``_index``), the lines it spans, an error, its text (kept only
    where it spans lines, for ``_raw``), its field count, one column per header field (null
    unless the count is right) and, for records that may reach quarantine, the field list.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.frames: list[pl.DataFrame] = []
        self._reset()

    def _reset(self) -> None:
        self.index: list[int] = []
        self.spans: list[int] = []
        self.errors: list[str | None] = []
        self.texts: list[str | None] = []
        self.counts: list[int] = []
        self.fields: list[list[str] | None] = []
        self.columns: list[list[str | None]] = [[] for _ in range(self.width)]

    def add(self, index: int, fields: list[str], spans: int = 1, error: str | None = None, text: str | None = None, keep_fields: bool = False) -> None:
        self.index.append(index)
        self.spans.append(spans)
        self.errors.append(error)
        self.texts.append(text)
        self.counts.append(len(fields))
        right = len(fields) == self.width and error is None
        self.fields.append(fields if keep_fields or not right else None)
        for column, value in zip(self.columns, fields if right else [None] * self.width, strict=True):
            column.append(value)

    def flush(self) -> None:
        if not self.index:
            return
        data: dict[str, Any] = {
            "_index": pl.Series(self.index, dtype=pl.UInt32),
            "_qspan": pl.Series(self.spans, dtype=pl.UInt32),
            "_qerror": pl.Series(self.errors, dtype=pl.String),
            "_qtext": pl.Series(self.texts, dtype=pl.String),
            "_qcount": pl.Series(self.counts, dtype=pl.UInt32),
            "_qfields": pl.Series(self.fields, dtype=pl.List(pl.String)),
        }
        data |= {f"_q{i}": pl.Series(values, dtype=pl.String) for i, values in enumerate(self.columns)}
        self.frames.append(pl.DataFrame(data))
        self._reset()

    def frame(self) -> pl.DataFrame:
        self.flush()
        if self.frames:
            return pl.concat(self.frames)
        schema = {"_index": pl.UInt32, "_qspan": pl.UInt32, "_qerror": pl.String, "_qtext": pl.String, "_qcount": pl.UInt32, "_qfields": pl.List(pl.String)}
        return pl.DataFrame(schema=schema | {f"_q{i}": pl.String for i in range(self.width)})


QUOTED_BATCH = 50_000


def _parse_quoted_lines(lines: pl.Series, starts: list[int], dialect: dict[str, Any], width: int, limit: int, bad_lines: set[int]) -> pl.DataFrame:
    """Parse the lines that hold a quote character with the csv module, record by record.

    A quoted field may span lines: the record is accepted when its quote closes and it has the
    header's field count. Otherwise the quote is unbalanced (a stray ``"``), and only its own
    line goes to quarantine, split at the delimiter as it stands; reading restarts at the next
    line, so the lines after a stray quote are not swallowed. Lines a record spans are left
    out: they belong to the record that starts above them (``_qspan``).

    Lines go through in batches of ``QUOTED_BATCH``, each turned into polars columns, so a file
    where every line is quoted does not hold millions of Python lists at once.
    """
    records = _QuotedRecords(width)
    resume_at = 0
    quote = dialect["quotechar"]
    for batch_start in range(0, len(starts), QUOTED_BATCH):
        batch = starts[batch_start : batch_start + QUOTED_BATCH]
        texts = lines.gather(batch).to_list()
        for start, line in zip(batch, texts, strict=True):
            if start < resume_at:
                continue  # a continuation line of the record above
            fields = next(csv.reader((line + "\n",), **dialect), [])
            # Inside an open quote the csv module keeps the line's newline in the last field;
            # a record that closes on its line cannot end in one (lines are split at newlines).
            if not fields or not fields[-1].endswith("\n"):
                records.add(start, fields, keep_fields=start in bad_lines)
                continue
            feed = _LineFeed(lines, start, limit)
            try:
                fields = next(csv.reader(feed, **dialect))
            except (csv.Error, StopIteration):
                fields = []
            spanned = feed.next - start
            if not feed.exhausted and len(fields) == width:
                text = "\n".join(lines[start + i] for i in range(spanned))
                records.add(start, fields, spans=spanned, text=text, keep_fields=True)
                resume_at = start + spanned
                continue
            if feed.exhausted and feed.left >= 0:
                why = "never closes before the end of the file"
            elif feed.exhausted:
                why = f"does not close within {limit:,} characters (max_field_chars)"
            else:
                why = f"closes {spanned - 1} line(s) later into a record of {len(fields)} fields, not {width}"
            records.add(start, line.split(dialect["delimiter"]), error=f"unbalanced quote ({quote}): a quote opened on this line {why}", text=line)
            resume_at = start + 1
        records.flush()
    return records.frame()


def read_csv_source(
    path: Path,
    expected: list[str],
    *,
    delimiter: str = "auto",
    quote_char: str = '"',
    encoding: str = "auto",
    header: bool = True,
    skip_rows: int = 0,
    comment: str | None = None,
    max_field_chars: int = 100_000,
    identifiers: Sequence[str] = (),
) -> tuple[pl.DataFrame, SourceInfo]:
    """Read one CSV file into an all-string frame with provenance columns.

    ``_source_row`` is the line number in the file where the record starts, counted as an
    editor counts (line 1 is the first line of the file; CRLF, LF and a bare CR each end a
    line), so a steward can open the file at that line. Lines without a quote character are
    split by polars; the few with one go through the csv module. ``identifiers`` are masked in
    ``_raw`` (see :func:`_with_raw`).

    For files published without a header (``header=False``) the columns are ``expected``, in
    that order; ``skip_rows`` lines at the top (a title, a licence line) are skipped before the
    header or the first data line; lines starting with ``comment`` are not rows. The file itself
    is read as published, so its sha256 is the publisher's.
    """
    if path.is_dir():
        raise AssayError(f"{path}: is a folder; a csv source names one file")
    data = path.read_bytes()
    if not data.strip():
        raise AssayError(f"{path}: file is empty")
    info = SourceInfo(line_endings=_line_endings(data))
    text, decoding, bad_bytes = _decode(data, encoding, path)
    del data
    info.encoding, info.encoding_confidence, info.encoding_chosen_by = decoding.encoding, decoding.confidence, decoding.chosen_by
    if not text.strip("\ufeff \t\r\n"):
        raise AssayError(f"{path}: file holds no text (only a byte-order mark or whitespace)")
    text = _editor_line_ends(text)
    bad_lines: list[int] = []
    if bad_bytes:
        text, bad_lines = _surrogate_lines(text)
        info.notes.append(f"{bad_bytes} undecodable byte sequence(s) replaced by U+FFFD; their lines are quarantined")
    lines = _physical_lines(text)
    del text
    if skip_rows >= lines.len():
        raise AssayError(f"{path}: skip_rows={skip_rows} skips every line of the file ({lines.len()})")
    if skip_rows:
        info.notes.append(f"{skip_rows} line(s) before the {'header' if header else 'data'} skipped (csv.skip_rows)")

    first_line = lines[skip_rows]
    if header:
        info.delimiter = _choose_delimiter(first_line, delimiter, quote_char, expected)
        try:
            columns = _header_fields(first_line, info.delimiter, quote_char)
        except csv.Error as exc:
            raise AssayError(f"{path}: cannot parse the header line (line {skip_rows + 1}): {exc}") from None
        check_columns(columns, expected, path, info.delimiter)
    else:
        info.delimiter = _choose_delimiter_by_width(first_line, delimiter, quote_char, len(expected))
        columns = list(expected)
    info.columns = columns
    width = len(columns)

    # Index 0 of ``body`` is the physical line ``body_start`` (0-based) of the file.
    body_start = skip_rows + (1 if header else 0)
    body = lines.slice(body_start)
    del lines
    bad_lines = [index - body_start for index in bad_lines if index >= body_start]
    frame = (
        pl.DataFrame(body)
        .with_row_index("_index")
        .with_columns(
            (pl.col("_index").cast(pl.Int64) + body_start + 1).alias("_source_row"),
            # A comment line is not a record, whatever quotes it holds.
            (pl.col("_line").str.contains(quote_char, literal=True) & ~pl.col("_line").str.starts_with(comment or "\x00")).alias("_quoted"),
        )
    )
    dialect = {"delimiter": info.delimiter, "quotechar": quote_char}
    quoted_starts = frame.filter("_quoted")["_index"].to_list()
    quoted = _parse_quoted_lines(body, quoted_starts, dialect, width, max_field_chars, set(bad_lines))
    # Lines a quoted record spans after its first belong to that record: they are not rows.
    spanning = quoted.filter(pl.col("_qspan") > 1).select("_index", "_qspan").rows()
    continuation = [start + offset for start, spans in spanning for offset in range(1, spans)]
    frame = frame.filter(~pl.col("_index").is_in(pl.Series(continuation, dtype=pl.UInt32).implode()))
    info.blank_lines = int((frame["_line"] == "").sum())
    frame = frame.filter(pl.col("_line") != "")
    if comment:
        is_comment = pl.col("_line").str.starts_with(comment)
        comments = int(frame.select(is_comment.sum()).item())
        if comments:
            info.notes.append(f"{comments:,} comment line(s) starting with {comment!r} are not rows (csv.comment)")
        frame = frame.filter(~is_comment)
    if frame.is_empty():
        raise AssayError(f"{path}: has a header but no data rows" if header else f"{path}: has no data rows")

    if quoted.height:
        frame = frame.join(quoted, on="_index", how="left")
    else:
        # No quoted line: the parsed-record columns are constant nulls, not 2 x width columns of
        # materialised nulls (about 150 MB per million rows).
        frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in quoted.schema.items() if name != "_index")
    # Lines without quotes are split by split_exact into one column per field (a list column of
    # every field costs about as much memory again as the whole file); quoted ones were parsed above.
    is_quoted = pl.col("_qcount").is_not_null()
    count = pl.when(is_quoted).then(pl.col("_qcount")).otherwise(pl.col("_line").str.count_matches(info.delimiter, literal=True) + 1)
    errors = [
        pl.col("_qerror"),
        pl.when(count != width).then(pl.format("line has {} fields, the header has {}", count, pl.lit(width))),
    ]
    if bad_lines:
        errors.append(
            # bad_lines and _index both count lines of the body from 0.
            pl.when(pl.col("_index").is_in(pl.Series(bad_lines, dtype=pl.UInt32).implode())).then(
                pl.lit(f"line holds bytes that are not valid {info.encoding}")
            )
        )
    frame = frame.with_columns(pl.coalesce(errors).alias("_ingest_error"))
    good = pl.col("_ingest_error").is_null()
    plain = [f"_plain{i}" for i in range(width)]
    frame = frame.with_columns(pl.col("_line").str.split_exact(info.delimiter, width - 1).struct.rename_fields(plain).alias("_plain")).unnest("_plain")
    frame = frame.with_columns(
        *[pl.when(good).then(pl.when(is_quoted).then(pl.col(f"_q{i}")).otherwise(pl.col(plain[i]))).alias(name) for i, name in enumerate(columns)],
        pl.lit(str(path), dtype=pl.String).alias("_source_file"),
    ).drop(plain)
    frame = _with_raw(frame, columns, list(identifiers), dialect)
    frame = _flag_oversized_fields(frame, columns, max_field_chars).select([*expected, *INGEST_COLUMNS, RAW_RESTRICTED])
    info.rows = frame.height
    info.rows_with_errors = frame["_ingest_error"].is_not_null().sum()
    return frame, info


def _editor_line_ends(text: str) -> str:
    """CRLF and a bare CR become LF, so lines are counted as an editor counts them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _surrogate_lines(text: str) -> tuple[str, list[int]]:
    """(text with undecodable bytes as U+FFFD, indices of the lines that held them; 0 is the header).

    Surrogates cannot be stored as UTF-8 in Arrow, so they are found and replaced before the
    text becomes a polars column.
    """
    indices: list[int] = []
    line, position = 0, 0
    for match in _SURROGATE.finditer(text):
        line += text.count("\n", position, match.start())
        position = match.start()
        if not indices or indices[-1] != line:
            indices.append(line)
    return _SURROGATE.sub("\ufffd", text), indices


def _write_record(fields: list[str], dialect: dict[str, Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="", **dialect).writerow(fields)
    return out.getvalue()


def _mask_identifiers(fields: list[str], header: list[str], identifiers: list[str], known: dict[str, str]) -> tuple[list[str], bool]:
    """Mask identifier fields in a broken line; (fields, False) when some cannot be located.

    With the header's field count, each identifier is at its own position. A ragged line has
    fields added or lost somewhere: an identifier before every such place is at its position
    from the start, one after all of them at its position from the end, and one between them
    anywhere in between; so every field from one candidate to the other is masked (two fields
    when a single field was added or lost), and so is any field equal to an identifier value
    seen in a good line of the file.
    """
    masked = list(fields)
    width, count = len(header), len(fields)
    located = True
    for name in identifiers:
        position = header.index(name)
        shifted = position - width + count
        if not any(0 <= c < count for c in (position, shifted)):
            located = False
        candidates = {c for c in range(min(position, shifted), max(position, shifted) + 1) if 0 <= c < count}
        for candidate in candidates:
            masked[candidate] = f"<{name}>"
    if count != width:
        masked = [f"<{known[value]}>" if value in known else value for value in masked]
    return masked, located


def _with_raw(frame: pl.DataFrame, header: list[str], identifiers: list[str], dialect: dict[str, Any]) -> pl.DataFrame:
    """``_raw``: a broken line's text, safe to show; ``_raw_restricted``: its full text, when that differs.

    ``_raw`` has identifier fields masked and is cut at ``RAW_PREVIEW_CHARS`` with a note
    saying so. Where the identifier fields cannot be located, ``_raw`` is withheld. The full,
    unmasked text is kept in ``_raw_restricted`` only, which the clean stage writes to the
    restricted quarantine (README, "Quarantine").
    """
    broken = frame.filter(pl.col("_ingest_error").is_not_null()).select(
        "_index", pl.coalesce("_qfields", pl.col("_line").str.split(dialect["delimiter"])).alias("_fields"), pl.coalesce("_qtext", "_line").alias("_text")
    )
    known: dict[str, str] = {}
    if identifiers and not broken.is_empty():
        good = frame.filter(pl.col("_ingest_error").is_null())
        for name in identifiers:
            known.update(dict.fromkeys(good[name].drop_nulls().unique().to_list(), name))
    shown: list[str] = []
    restricted: list[str | None] = []
    for fields, text in zip(broken["_fields"].to_list(), broken["_text"].to_list(), strict=True):
        if identifiers:
            masked, located = _mask_identifiers(fields, header, identifiers, known)
            changed = masked != fields
            raw = _write_record(masked, dialect) if changed else text
            if not located:
                raw = "[withheld: the identifier fields cannot be located in this line; see the restricted quarantine]"
                changed = True
        else:
            raw, changed = text, False
        if len(raw) > RAW_PREVIEW_CHARS:
            raw = raw[:RAW_PREVIEW_CHARS] + f"… [cut: {len(raw) - RAW_PREVIEW_CHARS:,} more characters; the whole line is in the restricted quarantine]"
            changed = True
        shown.append(raw)
        restricted.append(text if changed else None)
    raws = pl.DataFrame(
        {"_index": broken["_index"], RAW: shown, RAW_RESTRICTED: restricted},
        schema={"_index": pl.UInt32, RAW: pl.String, RAW_RESTRICTED: pl.String},
    )
    return frame.join(raws, on="_index", how="left")


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
        pl.lit(None, dtype=pl.String).alias(RAW),
        pl.lit(None, dtype=pl.String).alias(RAW_RESTRICTED),
    )
    frame = _flag_oversized_fields(frame, expected, max_field_chars)
    info.rows = frame.height
    info.rows_with_errors = frame["_ingest_error"].is_not_null().sum()
    return frame, info
