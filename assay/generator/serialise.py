"""Rows as text for the fine-tuning path: ``age is [70-80), gender is Female, ...``.

A row is its pairs ``<column> is <value>`` joined by ``", "``, the columns in a random order per
example (drawn from the caller's generator, so a seed fixes every order). Values are written
canonically: strings as they are; booleans ``true``/``false``; integers in decimal; floats as
Python's shortest round-trip form (``3.98``, ``1e-05``, ``inf``, ``nan``); dates ISO
(``2011-12-01``); datetimes ISO with a space (``2011-12-01 08:26:00``, with a fraction or an
offset only when the value has one); null as ``missing``.

Escaping: a backslash and every comma in a name or value are written ``\\\\`` and ``\\,``, so an
unescaped ``", "`` only ever separates pairs. In a column name, the space that starts each
``" is "`` is escaped too (``x\\ is y``), so a pair splits at its first unescaped ``" is "``
and ``" is "`` inside a value needs no escaping. A string value that reads ``missing`` is
written ``\\missing``, so it is not read back as null.

Reading back is strict: a text parses only if every column of the schema appears exactly once,
no other name appears, and every value parses as its column's type (``texts_to_frame`` reports
the share that did).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

MISSING_TEXT = "missing"
SEPARATOR = ", "
IS = " is "

_PIECE = re.compile(r"(?:[^\\,]|\\.)*", re.DOTALL)
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|nan)")
_NAME = re.compile(r"((?:[^\\]|\\.)*?) is ", re.DOTALL)
_NAME_IS = re.compile(r" (?=is )")
_INVALID = object()


def escape(text: str) -> str:
    """Escape a name or string value so that it survives ``text_to_row``."""
    out = text.replace("\\", "\\\\").replace(",", "\\,")
    return "\\" + out if out == MISSING_TEXT else out


def _escape_name(name: str) -> str:
    """Escape a column name; also the space that starts each " is ", so a pair splits at the first unescaped one."""
    return _NAME_IS.sub("\\\\ ", escape(name))


def _unescape(text: str) -> str:
    return _ESCAPED.sub(r"\1", text)


def render_value(value: Any) -> str:
    """The canonical text of one value (see the module docstring)."""
    if value is None:
        return MISSING_TEXT
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return escape(str(value))


def _parser(dtype: pl.DataType) -> Callable[[str], Any]:
    """A function from a value's unescaped text to the value, or ``_INVALID``."""
    dtype = dtype() if isinstance(dtype, type) else dtype  # pl.Int64 as well as pl.Int64()
    if dtype == pl.Boolean:
        return {"true": True, "false": False}.get
    if dtype.is_integer():
        bounds = np.iinfo(type(dtype).__name__.lower())
        low, high = int(bounds.min), int(bounds.max)

        def parse_int(text: str) -> Any:
            number = int(text) if _INT.fullmatch(text) else None
            return number if number is not None and low <= number <= high else _INVALID

        return parse_int
    if dtype.is_float():
        return lambda text: float(text) if _FLOAT.fullmatch(text) else _INVALID
    if isinstance(dtype, pl.Datetime):
        return datetime.fromisoformat
    if dtype == pl.Date:
        return date.fromisoformat
    if isinstance(dtype, pl.Enum):
        categories = set(dtype.categories.to_list())
        return lambda text: text if text in categories else _INVALID
    return lambda text: text


class _RowReader:
    """Reads texts against one schema; built once per batch."""

    def __init__(self, schema: dict[str, pl.DataType]) -> None:
        self.n_columns = len(schema)
        self.names = {_escape_name(name): name for name in schema}
        self.parsers = {name: _parser(dtype) for name, dtype in schema.items()}

    def _name(self, piece: str) -> tuple[str, str] | None:
        """(column, raw value): a pair splits at its first unescaped " is "."""
        if "\\" in piece:
            match = _NAME.match(piece)
            head, rest = (match.group(1), piece[match.end() :]) if match else ("", None)
        else:
            head, sep, rest = piece.partition(IS)
            rest = rest if sep else None
        name = self.names.get(head)
        return None if name is None or rest is None else (name, rest)

    def read(self, text: str) -> dict[str, Any] | None:
        pieces = _split_pairs(text)
        if pieces is None or len(pieces) != self.n_columns:
            return None
        row: dict[str, Any] = {}
        for piece in pieces:
            found = self._name(piece)
            if found is None or found[0] in row:
                return None
            name, raw = found
            if raw == MISSING_TEXT:
                row[name] = None
                continue
            try:
                value = self.parsers[name](_unescape(raw) if "\\" in raw else raw)
            except ValueError:
                return None
            if value is _INVALID or value is None:
                return None
            row[name] = value
        return row


def _split_pairs(text: str) -> list[str] | None:
    """The raw pairs of ``text``, split at unescaped ``", "``; None if a comma stands unescaped elsewhere."""
    if "\\" not in text:  # nothing escaped: every comma must be a separator
        pieces = text.split(SEPARATOR)
        return None if any("," in piece for piece in pieces) else pieces
    pieces = []
    position = 0
    while True:
        match = _PIECE.match(text, position)
        assert match is not None  # the pattern matches the empty string
        pieces.append(match.group())
        position = match.end()
        if position == len(text):
            return pieces
        if not text.startswith(SEPARATOR, position):
            return None
        position += len(SEPARATOR)


def _order(n_columns: int, rng: np.random.Generator) -> list[int]:
    return rng.permutation(n_columns).tolist()


def row_to_text(row: dict[str, Any], columns: list[str], rng: np.random.Generator) -> str:
    """``"<column> is <value>, ..."`` over ``columns``, in an order drawn from ``rng``."""
    return SEPARATOR.join(f"{_escape_name(columns[j])}{IS}{render_value(row[columns[j]])}" for j in _order(len(columns), rng))


def text_to_row(text: str, schema: dict[str, pl.DataType]) -> dict[str, Any] | None:
    """The row written by ``row_to_text``, typed by ``schema``; None if a column is missing, repeated, unknown or unparseable."""
    return _RowReader(schema).read(text)


def _rendered(frame: pl.DataFrame, name: str) -> list[str]:
    """``render_value`` over a column, vectorised where polars writes the same text."""
    series = frame[name]
    dtype = series.dtype
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        text = series.cast(pl.String).str.replace_all("\\", "\\\\", literal=True).str.replace_all(",", "\\,", literal=True)
        text = pl.select(pl.when(text == MISSING_TEXT).then(pl.lit("\\" + MISSING_TEXT)).otherwise(text)).to_series()
    elif dtype.is_integer() or dtype == pl.Date:
        text = series.cast(pl.String)
    elif dtype == pl.Boolean:
        text = pl.select(pl.when(series.is_null()).then(None).when(series).then(pl.lit("true")).otherwise(pl.lit("false"))).to_series()
    else:
        return [render_value(value) for value in series.to_list()]
    return text.fill_null(MISSING_TEXT).to_list()


def frame_to_texts(frame: pl.DataFrame, columns: list[str], seed: int) -> list[str]:
    """One text per row; the same as ``row_to_text`` row by row with ``np.random.default_rng(seed)``."""
    absent = [name for name in columns if name not in frame.columns]
    if absent:
        raise ValueError(f"columns not in the frame: {', '.join(absent)}")
    rng = np.random.default_rng(seed)
    pairs = [[f"{_escape_name(name)}{IS}{value}" for value in _rendered(frame, name)] for name in columns]
    return [SEPARATOR.join([pairs[j][i] for j in _order(len(columns), rng)]) for i in range(frame.height)]


def texts_to_frame(texts: list[str], schema: dict[str, pl.DataType]) -> tuple[pl.DataFrame, np.ndarray]:
    """(frame typed by ``schema`` with one row per text, bool mask of texts that parsed); rows that did not parse are all null."""
    reader = _RowReader(schema)
    rows = [reader.read(text) for text in texts]
    parsed = np.array([row is not None for row in rows], dtype=bool)
    empty = dict.fromkeys(schema)
    frame = pl.from_dicts([row if row is not None else empty for row in rows], schema=schema) if rows else pl.DataFrame(schema=schema)
    return frame, parsed
