"""CSV and Parquet sources -> an all-string frame with provenance, read in bounded batches.

Types are not guessed here: every value stays the text that was in the file, so the cleaning
stage can say exactly which value failed which cast. Lines that cannot be parsed (wrong number
of fields, an unbalanced quote, bytes that are not valid in the file's encoding, a field over
the size limit) are kept with ``_ingest_error`` set, so they reach quarantine instead of
vanishing: every data line of the file is a row, or part of the one quoted record it belongs to.
A broken line's text is kept in ``_raw`` with identifier fields masked, and in full only in
``_raw_restricted``, which goes to the restricted quarantine.

A file is read batch by batch (``BATCH_LINES`` lines), so its size does not bound memory: valid
UTF-8 (the usual case) is split into lines by polars' native line reader, other encodings are
decoded block by block in Python. Every line-level check works per batch; a quoted record may
run on into the next batch. What needs the whole file (the identifier values of good lines that
mask a ragged line's ``_raw``) is finished when the file has been read:
:func:`finish_interim` turns spooled batches into interim rows.

Whole-file problems (missing, empty, header only, columns that do not match) raise
:class:`AssayError` with one line naming the file.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import INGEST_COLUMNS, INGEST_ERROR, RAW, RAW_RESTRICTED, SOURCE_FILE, SOURCE_ROW
from assay.contracts import SourceInfo
from assay.errors import AssayError

RAW_PREVIEW_CHARS = 1000
# charset_normalizer's mess ratio of the text read as cp1252, up to which cp1252 is taken:
# German, French or English text with accents or "£" scores 0.00-0.05, Cyrillic, Greek or
# Polish bytes read as cp1252 score 1.0 or more.
MAX_WESTERN_MESS = 0.1
CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
# How many undecodable lines a file may have and still be read as UTF-8 with those lines
# quarantined; beyond this the file is probably in another encoding altogether.
MAX_BAD_LINE_SHARE = 0.001
# Lines per batch: about 50 MB of retail lines in flight (benchmarks/scale.py).
BATCH_LINES = 1 << 18
# Bytes read at a time: 4 MB keeps the blocks in flight small and costs no speed.
BLOCK_BYTES = 1 << 22
# How much of a file the encoding detectors look at.
DETECTION_SAMPLE = 1 << 20
UTF8_BOM = codecs.BOM_UTF8
# Undecodable bytes become lone surrogates U+DC00 + byte, as Python's "surrogateescape" does,
# but for every byte: surrogateescape itself fails on bytes below 0x80, which UTF-16 data can
# hold. Valid input never decodes to a lone surrogate, so each one marks a bad byte.
_SURROGATE = re.compile("[\udc00-\udcff]")
_ESCAPE = "assay-escape"
# Columns a batch carries until the file is finished (:func:`finish_interim`): a broken line's
# fields and text (for ``_raw``), and the first field over ``max_field_chars``.
FIELDS, TEXT, OVERSIZED = "_fields", "_text", "_oversized"
PENDING_COLUMNS = (FIELDS, TEXT, OVERSIZED)


def _escape_bytes(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return "".join(chr(0xDC00 + byte) for byte in error.object[error.start : error.end]), error.end


codecs.register_error(_ESCAPE, _escape_bytes)

csv.field_size_limit(sys.maxsize)


@dataclass
class _ByteScan:
    """What one pass over a file's bytes tells: blank or not, its line endings, and whether it is UTF-8."""

    blank: bool = True
    crlf: bool = False
    lf: bool = False
    cr: bool = False
    bad_utf8: int = 0  # undecodable bytes when read as UTF-8
    bom: bool = False  # starts with a UTF-8 byte-order mark
    head: bytes = b""  # the first DETECTION_SAMPLE bytes, after a UTF-8 byte-order mark

    @property
    def line_endings(self) -> str:
        kinds = [name for name, present in (("CRLF", self.crlf), ("LF", self.lf), ("CR", self.cr)) if present]
        return "+".join(kinds) if kinds else "none"


def _scan_bytes(path: Path, check_utf8: bool) -> _ByteScan:
    """One pass over the file in blocks cut after a newline, so no CRLF or UTF-8 sequence spans two."""
    scan = _ByteScan()
    with open(path, "rb") as handle:
        head = handle.read(len(UTF8_BOM) + DETECTION_SAMPLE)
    scan.bom = head.startswith(UTF8_BOM)
    scan.head = (head[len(UTF8_BOM) :] if scan.bom else head)[:DETECTION_SAMPLE]
    for block in _newline_blocks(path):
        if scan.blank and block.strip():
            scan.blank = False
        if b"\r" in block:
            crlf = block.count(b"\r\n")
            scan.crlf |= crlf > 0
            scan.lf = scan.lf or block.count(b"\n") > crlf
            scan.cr = scan.cr or block.count(b"\r") > crlf
        else:
            scan.lf = scan.lf or b"\n" in block
        if check_utf8 and not block.isascii():
            try:
                block.decode("utf-8")
            except UnicodeDecodeError:
                scan.bad_utf8 += len(_SURROGATE.findall(block.decode("utf-8", errors=_ESCAPE)))
    return scan


def _count_newlines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(BLOCK_BYTES), b""))


@dataclass(frozen=True)
class Decoding:
    """How a file's bytes became text: the codec, how sure we are, and who chose it."""

    encoding: str
    confidence: float
    chosen_by: str  # "params", "byte-order mark", "utf-8 decodes", "western default" or "detected"
    codec: str = ""  # the Python codec that decodes it; "" for valid UTF-8, which polars reads itself


def _decoding(path: Path, encoding: str, scan: _ByteScan) -> Decoding:
    """Choose how to decode a file; undecodable bytes become surrogates so their lines can be quarantined.

    Order of preference: the codec named in params; UTF-8 when (almost) every line decodes;
    cp1252 when it reads every byte cleanly (Western-European data, the common non-UTF-8 case,
    which byte-statistics detectors confuse with cp1250 on short text: ``£`` becomes ``Ł``);
    else the detector's best guess.
    """
    data = scan.head
    if encoding == "auto":
        # A UTF-16/32 byte-order mark says what the file is; no guessing needed.
        for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
            if data.startswith(bom):
                return Decoding(codec, 1.0, "byte-order mark", codec)
    if encoding != "auto":
        try:
            name = codecs.lookup(encoding).name
        except LookupError:
            raise AssayError(f"{path}: unknown encoding {encoding!r} in params (csv.encoding)") from None
        return Decoding(encoding, 1.0, "params", "" if name == "utf-8" and not scan.bad_utf8 else encoding)
    if scan.bad_utf8 == 0:
        return Decoding("utf-8", 1.0, "utf-8 decodes")
    bad, lines = scan.bad_utf8, _count_newlines(path) + 1
    if bad / lines <= MAX_BAD_LINE_SHARE:
        return Decoding("utf-8", round(1.0 - bad / lines, 6), "utf-8 decodes", "utf-8")
    from charset_normalizer import from_bytes
    from charset_normalizer.md import mess_ratio

    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:  # one of cp1252's five undefined bytes: not cp1252
        western = None
    if western is not None:
        mess = mess_ratio(western, maximum_threshold=1.0)
        if mess <= MAX_WESTERN_MESS:
            return Decoding("cp1252", round(1.0 - mess, 6), "western default", "cp1252")
    best = from_bytes(data).best()
    if best is None:
        raise AssayError(f"{path}: cannot tell the text encoding ({bad} undecodable UTF-8 sequences); set csv.encoding in params")
    return Decoding(best.encoding, round(1.0 - best.chaos, 6), "detected", best.encoding)


@dataclass
class _Lines:
    """A batch of physical lines: ``lines[0]`` is the file's line ``start`` (0-based); ``bad`` lines held undecodable bytes."""

    start: int
    lines: pl.Series
    bad: list[int] = field(default_factory=list)
    bad_bytes: int = 0


def _utf8_lines(path: Path, has_bom: bool) -> Iterator[_Lines]:
    """Valid UTF-8, read in blocks cut after a newline and split by polars' native line reader.

    It ends lines at LF and drops the CR of a CRLF (and a CR at the very end of the file); a bare
    CR left inside a line ends a line too, as an editor counts them. Blocks keep memory bounded
    where reading the whole file at once would map all of it.
    """
    start = 0
    for block in _newline_blocks(path):
        lines = pl.read_lines(block, name="_line").to_series()
        if start == 0 and has_bom and lines.len():
            lines = pl.concat([lines.head(1).str.strip_prefix("\ufeff"), lines.slice(1)])
        if lines.str.contains("\r", literal=True).any():
            lines = lines.str.split("\r").explode()
        yield _Lines(start, lines)
        start += lines.len()


def _newline_blocks(path: Path) -> Iterator[bytes]:
    """The file's bytes in blocks of about ``BLOCK_BYTES``, each cut after a newline (the last may end without one)."""
    carry = b""
    with open(path, "rb") as handle:
        while read := handle.read(BLOCK_BYTES):
            block = carry + read
            cut = block.rfind(b"\n") + 1
            if cut:
                yield block[:cut]
            carry = block[cut:]
    if carry:
        yield carry


def _decoded_lines(path: Path, codec: str, has_bom: bool) -> Iterator[_Lines]:
    """Any other encoding: decoded block by block in Python, then split into lines by polars.

    CRLF and a bare CR become LF (a CR at the end of a block waits for the next one, which may
    start with its LF). Undecodable bytes are surrogates after decoding; Arrow cannot hold those,
    so they become U+FFFD and their lines are listed. Each LF ends a line; what follows the
    last one is a line if it is not empty.
    """
    decoder = codecs.getincrementaldecoder(codec)(errors=_ESCAPE)
    start, carry, pending_cr = 0, "", False
    with open(path, "rb") as handle:
        if has_bom:
            handle.seek(len(UTF8_BOM))
        while True:
            block = handle.read(BLOCK_BYTES)
            final = not block
            text = ("\r" if pending_cr else "") + decoder.decode(block, final)
            pending_cr = not final and text.endswith("\r")
            if pending_cr:
                text = text[:-1]
            text = carry + _editor_line_ends(text)
            if final:
                whole, carry = text.removesuffix("\n"), ""
                if not text:
                    return
            else:
                cut = text.rfind("\n")
                if cut < 0:
                    carry = text
                    continue
                whole, carry = text[:cut], text[cut + 1 :]
            bad_bytes, bad = 0, []
            if _SURROGATE.search(whole):
                bad_bytes = len(_SURROGATE.findall(whole))
                whole, bad = _surrogate_lines(whole, start)
            lines = pl.Series("_line", [whole], dtype=pl.String).str.split("\n").explode()
            yield _Lines(start, lines, bad, bad_bytes)
            start += lines.len()
            if final:
                return


class _LineWindow:
    """Physical lines by index, read from a line source batch by batch as they are asked for.

    A quoted record may run past the batch it starts in; the feed asks for the lines it needs
    and the window reads ahead. Lines before ``release``'s index are dropped.
    """

    def __init__(self, source: Iterator[_Lines]) -> None:
        self._source = source
        self._chunks: list[_Lines] = []
        self.end = 0
        self.bad: set[int] = set()
        self.bad_bytes = 0
        self._done = False

    def _fetch(self) -> bool:
        chunk = None
        while not self._done and chunk is None:
            chunk = next(self._source, None)
            if chunk is None:
                self._done = True
            elif chunk.lines.is_empty():
                chunk = None
        if chunk is None:
            return False
        self._chunks.append(chunk)
        self.end = chunk.start + chunk.lines.len()
        self.bad.update(chunk.bad)
        self.bad_bytes += chunk.bad_bytes
        return True

    def get(self, index: int) -> str | None:
        """Line ``index``, or None past the end of the file."""
        while index >= self.end:
            if not self._fetch():
                return None
        for chunk in reversed(self._chunks):
            if index >= chunk.start:
                return chunk.lines[index - chunk.start]
        raise IndexError(f"line {index} was already released")

    def take(self, start: int, count: int) -> pl.Series:
        """Lines ``start`` to ``start + count`` (fewer at the end of the file)."""
        while self.end < start + count and self._fetch():
            pass
        parts = []
        for chunk in self._chunks:
            low, high = max(start, chunk.start), min(start + count, chunk.start + chunk.lines.len())
            if low < high:
                parts.append(chunk.lines.slice(low - chunk.start, high - low))
        return pl.concat(parts).rechunk() if parts else pl.Series("_line", [], dtype=pl.String)

    def release(self, before: int) -> None:
        self._chunks = [chunk for chunk in self._chunks if chunk.start + chunk.lines.len() > before]
        self.bad = {index for index in self.bad if index >= before}

    def has_text(self) -> bool:
        """Whether any line holds more than byte-order marks and blanks (reads ahead until one does)."""
        seen = 0
        while True:
            for chunk in self._chunks[seen:]:
                if (chunk.lines.str.strip_chars("\ufeff \t") != "").any():
                    return True
            seen = len(self._chunks)
            if not self._fetch():
                return False

    def total(self) -> int:
        """How many lines the file has (reads to the end)."""
        while self._fetch():
            pass
        return self.end


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

    def __init__(self, lines: _LineWindow, start: int, limit: int) -> None:
        self.lines, self.next, self.left, self.exhausted = lines, start, limit, False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        line = self.lines.get(self.next) if self.left >= 0 else None
        if line is None:
            self.exhausted = True
            raise StopIteration
        self.next += 1
        self.left -= len(line) + 1
        return line + "\n"


_QUOTED_SCHEMA = {"_index": pl.Int64, "_qspan": pl.UInt32, "_qerror": pl.String, "_qtext": pl.String, "_qcount": pl.UInt32, "_qfields": pl.List(pl.String)}


class _QuotedRecords:
    """Column-wise results of parsing quoted lines, turned into a polars frame.

    Per record: its first line (``_index``), the lines it spans, an error, its text (kept only
    where it spans lines, for ``_raw``), its field count, one column per header field (null
    unless the count is right) and, for records that may reach quarantine, the field list.
    """

    def __init__(self, width: int) -> None:
        self.width = width
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

    def frame(self) -> pl.DataFrame:
        data: dict[str, Any] = {
            "_index": self.index,
            "_qspan": self.spans,
            "_qerror": self.errors,
            "_qtext": self.texts,
            "_qcount": self.counts,
            "_qfields": self.fields,
        }
        schema = _QUOTED_SCHEMA | {f"_q{i}": pl.String for i in range(self.width)}
        return pl.DataFrame(data | {f"_q{i}": values for i, values in enumerate(self.columns)}, schema=schema)


@dataclass(frozen=True)
class _Dialect:
    delimiter: str
    quote_char: str
    width: int
    limit: int  # max_field_chars

    @property
    def csv(self) -> dict[str, str]:
        return {"delimiter": self.delimiter, "quotechar": self.quote_char}


def _parse_quoted_lines(lines: _LineWindow, starts: list[int], texts: list[str], dialect: _Dialect, resume_at: int) -> tuple[pl.DataFrame, int]:
    """Parse the lines that hold a quote character with the csv module, record by record.

    A quoted field may span lines: the record is accepted when its quote closes and it has the
    header's field count. Otherwise the quote is unbalanced (a stray ``"``), and only its own
    line goes to quarantine, split at the delimiter as it stands; reading restarts at the next
    line, so the lines after a stray quote are not swallowed. Lines a record spans are left
    out: they belong to the record that starts above them (``_qspan``), and may lie in the
    next batch: the returned ``resume_at`` says where reading goes on.
    """
    width, limit, quote = dialect.width, dialect.limit, dialect.quote_char
    records = _QuotedRecords(width)
    for start, line in zip(starts, texts, strict=True):
        if start < resume_at:
            continue  # a continuation line of the record above
        fields = next(csv.reader((line + "\n",), **dialect.csv), [])
        # Inside an open quote the csv module keeps the line's newline in the last field;
        # a record that closes on its line cannot end in one (lines are split at newlines).
        if not fields or not fields[-1].endswith("\n"):
            records.add(start, fields, keep_fields=start in lines.bad)
            continue
        feed = _LineFeed(lines, start, limit)
        try:
            fields = next(csv.reader(feed, **dialect.csv))
        except (csv.Error, StopIteration):
            fields = []
        spanned = feed.next - start
        if not feed.exhausted and len(fields) == width:
            text = "\n".join(str(lines.get(start + i)) for i in range(spanned))
            records.add(start, fields, spans=spanned, text=text, keep_fields=True)
            resume_at = start + spanned
            continue
        if feed.exhausted and feed.left >= 0:
            why = "never closes before the end of the file"
        elif feed.exhausted:
            why = f"does not close within {limit:,} characters (max_field_chars)"
        else:
            why = f"closes {spanned - 1} line(s) later into a record of {len(fields)} fields, not {width}"
        records.add(start, line.split(dialect.delimiter), error=f"unbalanced quote ({quote}): a quote opened on this line {why}", text=line)
        resume_at = start + 1
    return records.frame(), resume_at


class RawText:
    """How one file's broken lines are shown in ``_raw``: identifier fields masked, long text cut.

    A ragged line (not the header's field count) also has every field masked that equals an
    identifier value of a good line anywhere in the file; those fields are collected batch by
    batch (:meth:`collect`) and looked up among the good lines once the file is read
    (:meth:`prepare`), so only the values that matter are held, not every identifier.
    """

    def __init__(self, header: list[str], identifiers: list[str], dialect: dict[str, str]) -> None:
        self.header, self.identifiers, self.dialect = header, identifiers, dialect
        self._ragged_values: set[str] = set()
        self.known: dict[str, str] = {}

    def collect(self, pending: pl.DataFrame) -> None:
        if not self.identifiers:
            return
        ragged = pending.filter(pl.col(FIELDS).list.len() != len(self.header))[FIELDS]
        if ragged.len():
            self._ragged_values.update(ragged.explode().drop_nulls().unique().to_list())

    def prepare(self, pending: Iterable[pl.DataFrame], source_file: str) -> None:
        """Find which collected values are identifiers of good lines of ``source_file`` (the spooled rows)."""
        if not self._ragged_values:
            return
        candidates = pl.Series(sorted(self._ragged_values), dtype=pl.String).implode()
        found: dict[str, set[str]] = {name: set() for name in self.identifiers}
        for frame in pending:
            good = frame.filter((pl.col(SOURCE_FILE) == source_file) & pl.col(INGEST_ERROR).is_null())
            for name in self.identifiers:
                found[name].update(good[name].filter(good[name].is_in(candidates)).to_list())
        for name in self.identifiers:
            self.known.update(dict.fromkeys(found[name], name))

    def raw(self, fields: list[str], text: str) -> tuple[str, str | None]:
        """(``_raw``, ``_raw_restricted``): the line safe to show, and its full text where that differs."""
        if self.identifiers:
            masked, located = _mask_identifiers(fields, self.header, self.identifiers, self.known)
            changed = masked != fields
            raw = _write_record(masked, self.dialect) if changed else text
            if not located:
                raw = "[withheld: the identifier fields cannot be located in this line; see the restricted quarantine]"
                changed = True
        else:
            raw, changed = text, False
        if len(raw) > RAW_PREVIEW_CHARS:
            raw = raw[:RAW_PREVIEW_CHARS] + f"… [cut: {len(raw) - RAW_PREVIEW_CHARS:,} more characters; the whole line is in the restricted quarantine]"
            changed = True
        return raw, text if changed else None


def count_errors(pending: pl.DataFrame) -> int:
    """Rows of a pending batch that go to quarantine from ingest: a broken line, or a field over the limit."""
    return int(pending.select((pl.col(INGEST_ERROR).is_not_null() | pl.col(OVERSIZED).is_not_null()).sum()).item())


def pending_columns(expected: list[str]) -> list[str]:
    """The columns of a batch before :func:`finish_interim`."""
    return [*expected, *INGEST_COLUMNS, RAW_RESTRICTED, *PENDING_COLUMNS]


def oversized(columns: list[str], limit: int) -> pl.Expr:
    """The first column whose value has more than ``limit`` characters, or null."""
    too_long = [pl.when(pl.col(name).str.len_chars() > limit).then(pl.lit(name)) for name in columns]
    return (pl.coalesce(too_long) if too_long else pl.lit(None, dtype=pl.String)).alias(OVERSIZED)


def finish_interim(pending: pl.DataFrame, raw_texts: dict[str, RawText], expected: list[str], limit: int) -> pl.DataFrame:
    """Interim rows from pending ones: ``_raw`` of broken lines, and fields over ``limit`` characters quarantined.

    A row with a field over the limit gets that as its ingest error (unless it had one) and
    every field cut to a preview of ``RAW_PREVIEW_CHARS``.
    """
    broken = pending.with_row_index("_at").filter(pl.col(FIELDS).is_not_null()).select("_at", SOURCE_FILE, FIELDS, TEXT)
    if broken.height:
        shown, restricted = [], []
        for source_file, fields, text in zip(broken[SOURCE_FILE].to_list(), broken[FIELDS].to_list(), broken[TEXT].to_list(), strict=True):
            raw, full = raw_texts[source_file].raw(fields, text)
            shown.append(raw)
            restricted.append(full)
        at = broken["_at"]
        raw_column, restricted_column = pending[RAW].clone(), pending[RAW_RESTRICTED].clone()
        raw_column.scatter(at, pl.Series(shown, dtype=pl.String))
        restricted_column.scatter(at, pl.Series(restricted, dtype=pl.String))
        pending = pending.with_columns(raw_column, restricted_column)
    if pending[OVERSIZED].null_count() < pending.height:
        offender = pl.col(OVERSIZED)
        message = pl.format("field {} has more than {} characters", offender, pl.lit(f"{limit:,}"))
        pending = pending.with_columns(
            pl.coalesce(pl.col(INGEST_ERROR), pl.when(offender.is_not_null()).then(message)).alias(INGEST_ERROR),
            *[pl.when(offender.is_not_null()).then(pl.col(name).str.slice(0, RAW_PREVIEW_CHARS)).otherwise(pl.col(name)).alias(name) for name in expected],
        )
    return pending.select(*expected, *INGEST_COLUMNS, RAW_RESTRICTED)


class CsvSource:
    """One CSV file, read in batches of ``batch_lines`` lines.

    :meth:`batches` yields pending interim rows (columns :func:`pending_columns`) and fills in
    ``info`` as it goes; ``raw_text`` then finishes them (:func:`finish_interim`).
    ``_source_row`` is the line number in the file where the record starts, counted as an
    editor counts (line 1 is the first line of the file; CRLF, LF and a bare CR each end a
    line), so a steward can open the file at that line. Lines without a quote character are
    split by polars; the few with one go through the csv module. ``identifiers`` are masked in
    ``_raw`` (see :class:`RawText`).

    For files published without a header (``header=False``) the columns are ``expected``, in
    that order; ``skip_rows`` lines at the top (a title, a licence line) are skipped before the
    header or the first data line; lines starting with ``comment`` are not rows. The file itself
    is read as published, so its sha256 is the publisher's.
    """

    def __init__(
        self,
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
        batch_lines: int = BATCH_LINES,
    ) -> None:
        self.path, self.expected = path, expected
        self.delimiter, self.quote_char, self.encoding = delimiter, quote_char, encoding
        self.header, self.skip_rows, self.comment = header, skip_rows, comment
        self.max_field_chars, self.identifiers, self.batch_lines = max_field_chars, list(identifiers), batch_lines
        self.info = SourceInfo()
        self.raw_text = RawText(list(expected), self.identifiers, {"delimiter": ",", "quotechar": quote_char})

    def _open(self) -> _LineWindow:
        """Check the whole file can be read, choose its decoding, and open its lines."""
        path, info = self.path, self.info
        if path.is_dir():
            raise AssayError(f"{path}: is a folder; a csv source names one file")
        check_utf8 = self.encoding == "auto" or _codec_name(self.encoding) == "utf-8"
        scan = _scan_bytes(path, check_utf8)
        if scan.blank:
            raise AssayError(f"{path}: file is empty")
        info.line_endings = scan.line_endings
        decoding = _decoding(path, self.encoding, scan)
        info.encoding, info.encoding_confidence, info.encoding_chosen_by = decoding.encoding, decoding.confidence, decoding.chosen_by
        source = _decoded_lines(path, decoding.codec, scan.bom) if decoding.codec else _utf8_lines(path, scan.bom)
        lines = _LineWindow(source)
        if not lines.has_text():
            raise AssayError(f"{path}: file holds no text (only a byte-order mark or whitespace)")
        return lines

    def _columns(self, lines: _LineWindow) -> list[str]:
        """Read the header (or take the params columns) and choose the delimiter."""
        path, info, skip_rows = self.path, self.info, self.skip_rows
        first_line = lines.get(skip_rows)
        if first_line is None:
            raise AssayError(f"{path}: skip_rows={skip_rows} skips every line of the file ({lines.total()})")
        if skip_rows:
            info.notes.append(f"{skip_rows} line(s) before the {'header' if self.header else 'data'} skipped (csv.skip_rows)")
        if self.header:
            info.delimiter = _choose_delimiter(first_line, self.delimiter, self.quote_char, self.expected)
            try:
                columns = _header_fields(first_line, info.delimiter, self.quote_char)
            except csv.Error as exc:
                raise AssayError(f"{path}: cannot parse the header line (line {skip_rows + 1}): {exc}") from None
            check_columns(columns, self.expected, path, info.delimiter)
        else:
            info.delimiter = _choose_delimiter_by_width(first_line, self.delimiter, self.quote_char, len(self.expected))
            columns = list(self.expected)
        info.columns = columns
        return columns

    def batches(self) -> Iterator[pl.DataFrame]:
        """Pending interim rows, batch by batch; whole-file problems raise :class:`AssayError`."""
        lines = self._open()
        columns = self._columns(lines)
        dialect = _Dialect(str(self.info.delimiter), self.quote_char, len(columns), self.max_field_chars)
        self.raw_text = RawText(columns, self.identifiers, dialect.csv)
        position = resume_at = self.skip_rows + (1 if self.header else 0)
        comments = 0
        while True:
            batch = lines.take(position, self.batch_lines)
            if batch.is_empty():
                break
            pending, resume_at, batch_comments = self._batch(lines, batch, position, columns, dialect, resume_at)
            comments += batch_comments
            position += batch.len()
            lines.release(position)
            if pending.height:
                self.info.rows += pending.height
                self.info.rows_with_errors += count_errors(pending)
                self.raw_text.collect(pending.filter(pl.col(FIELDS).is_not_null()))
                yield pending
        if lines.bad_bytes:
            self.info.notes.insert(0, f"{lines.bad_bytes} undecodable byte sequence(s) replaced by U+FFFD; their lines are quarantined")
        if comments:
            self.info.notes.append(f"{comments:,} comment line(s) starting with {self.comment!r} are not rows (csv.comment)")
        if self.info.rows == 0:
            raise AssayError(f"{self.path}: has a header but no data rows" if self.header else f"{self.path}: has no data rows")

    def _batch(self, lines: _LineWindow, batch: pl.Series, first: int, columns: list[str], dialect: _Dialect, resume_at: int) -> tuple[pl.DataFrame, int, int]:
        """(pending rows, where reading resumes, comment lines) of the lines ``first`` to ``first + len(batch)``."""
        width, delimiter, quote_char, comment = dialect.width, dialect.delimiter, dialect.quote_char, self.comment
        frame = (
            batch.alias("_line")
            .to_frame()
            .with_columns(pl.int_range(first, first + batch.len(), dtype=pl.Int64).alias("_index"))
            .with_columns(
                (pl.col("_index") + 1).alias(SOURCE_ROW),
                # A comment line is not a record, whatever quotes it holds.
                (pl.col("_line").str.contains(quote_char, literal=True) & ~pl.col("_line").str.starts_with(comment or "\x00")).alias("_quoted"),
            )
        )
        # Lines of a record that began in an earlier batch are not rows.
        continuation = list(range(first, min(resume_at, first + batch.len())))
        quoted_lines = frame.filter("_quoted")
        quoted, resume_at = _parse_quoted_lines(lines, quoted_lines["_index"].to_list(), quoted_lines["_line"].to_list(), dialect, resume_at)
        # Lines a quoted record spans after its first belong to that record: they are not rows.
        spanning = quoted.filter(pl.col("_qspan") > 1).select("_index", "_qspan").rows()
        continuation += [start + offset for start, spans in spanning for offset in range(1, spans)]
        if continuation:
            frame = frame.filter(~pl.col("_index").is_in(pl.Series(continuation, dtype=pl.Int64).implode()))
        self.info.blank_lines += int((frame["_line"] == "").sum())
        frame = frame.filter(pl.col("_line") != "")
        comments = 0
        if comment:
            is_comment = pl.col("_line").str.starts_with(comment)
            comments = int(frame.select(is_comment.sum()).item())
            frame = frame.filter(~is_comment)
        if quoted.height:
            frame = frame.join(quoted, on="_index", how="left", maintain_order="left")
        else:
            # No quoted line: the parsed-record columns are constant nulls, not 2 x width columns of
            # materialised nulls (about 150 MB per million rows).
            frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in quoted.schema.items() if name != "_index")
        # Lines without quotes are split by split_exact into one column per field (a list column of
        # every field costs about as much memory again as the whole file); quoted ones were parsed above.
        is_quoted = pl.col("_qcount").is_not_null()
        count = pl.when(is_quoted).then(pl.col("_qcount")).otherwise(pl.col("_line").str.count_matches(delimiter, literal=True) + 1)
        errors = [pl.col("_qerror"), pl.when(count != width).then(pl.format("line has {} fields, the header has {}", count, pl.lit(width)))]
        bad = sorted(index for index in lines.bad if first <= index < first + batch.len())
        if bad:
            undecodable = pl.lit(f"line holds bytes that are not valid {self.info.encoding}")
            errors.append(pl.when(pl.col("_index").is_in(pl.Series(bad, dtype=pl.Int64).implode())).then(undecodable))
        frame = frame.with_columns(pl.coalesce(errors).alias(INGEST_ERROR))
        good = pl.col(INGEST_ERROR).is_null()
        plain = [f"_plain{i}" for i in range(width)]
        frame = frame.with_columns(pl.col("_line").str.split_exact(delimiter, width - 1).struct.rename_fields(plain).alias("_plain")).unnest("_plain")
        frame = frame.with_columns(
            *[pl.when(good).then(pl.when(is_quoted).then(pl.col(f"_q{i}")).otherwise(pl.col(plain[i]))).alias(name) for i, name in enumerate(columns)],
            pl.lit(str(self.path), dtype=pl.String).alias(SOURCE_FILE),
            pl.lit(None, dtype=pl.String).alias(RAW),
            pl.lit(None, dtype=pl.String).alias(RAW_RESTRICTED),
            pl.when(~good).then(pl.coalesce("_qfields", pl.col("_line").str.split(delimiter))).alias(FIELDS),
            pl.when(~good).then(pl.coalesce("_qtext", "_line")).alias(TEXT),
        )
        pending = frame.with_columns(oversized(columns, self.max_field_chars)).select(pending_columns(self.expected))
        return pending, resume_at, comments


def _codec_name(encoding: str) -> str | None:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        return None


def read_csv_source(path: Path, expected: list[str], **options: Any) -> tuple[pl.DataFrame, SourceInfo]:
    """Read one CSV file into an all-string frame with provenance columns, all in memory.

    The stage streams the same batches to disk instead (:mod:`assay.ingest.sources`); this is
    for tests and callers that want the frame. Options as for :class:`CsvSource`.
    """
    source = CsvSource(path, expected, **options)
    pending = pl.concat(list(source.batches()))
    source.raw_text.prepare([pending], str(path))
    frame = finish_interim(pending, {str(path): source.raw_text}, expected, source.max_field_chars)
    return frame, source.info


def _editor_line_ends(text: str) -> str:
    """CRLF and a bare CR become LF, so lines are counted as an editor counts them."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _surrogate_lines(text: str, first_line: int = 0) -> tuple[str, list[int]]:
    """(text with undecodable bytes as U+FFFD, indices of the lines that held them, counting from ``first_line``).

    Surrogates cannot be stored as UTF-8 in Arrow, so they are found and replaced before the
    text becomes a polars column.
    """
    indices: list[int] = []
    line, position = first_line, 0
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


def parquet_pending(path: Path, expected: list[str], *, max_field_chars: int = 100_000) -> tuple[pl.DataFrame, SourceInfo]:
    """A Parquet file as pending interim rows (text, so cleaning applies the same casts as for CSV)."""
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # pyarrow/polars raise several types for corrupt files
        raise AssayError(f"{path}: not a readable Parquet file: {str(exc).splitlines()[0]}") from None
    check_columns(frame.columns, expected, path)
    if frame.height == 0:
        raise AssayError(f"{path}: has a schema but no data rows")
    info = SourceInfo(encoding="parquet", columns=frame.columns)
    pending = frame.select([pl.col(name).cast(pl.String) for name in expected]).with_columns(
        pl.lit(str(path), dtype=pl.String).alias(SOURCE_FILE),
        pl.int_range(1, frame.height + 1, dtype=pl.Int64).alias(SOURCE_ROW),
        pl.lit(None, dtype=pl.String).alias(INGEST_ERROR),
        pl.lit(None, dtype=pl.String).alias(RAW),
        pl.lit(None, dtype=pl.String).alias(RAW_RESTRICTED),
        pl.lit(None, dtype=pl.List(pl.String)).alias(FIELDS),
        pl.lit(None, dtype=pl.String).alias(TEXT),
        oversized(expected, max_field_chars),
    )
    info.rows = pending.height
    info.rows_with_errors = int(pending[OVERSIZED].is_not_null().sum())
    return pending, info


def read_parquet_source(path: Path, expected: list[str], *, max_field_chars: int = 100_000) -> tuple[pl.DataFrame, SourceInfo]:
    """Read a Parquet file as strings, so cleaning applies the same casts as for CSV."""
    pending, info = parquet_pending(path, expected, max_field_chars=max_field_chars)
    return finish_interim(pending, {}, expected, max_field_chars), info
