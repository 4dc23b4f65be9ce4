"""Atomic, deterministic writes, report figures and file hashing shared by every stage."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from assay.errors import AssayError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


TEMPORARY = ".{name}.*.tmp"  # what atomic writes stage beside ``name``; .gitignore and .dvcignore hold ".*.tmp"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete what an earlier write of ``path`` left when it was killed (``kill -9`` skips every
    ``finally``). DVC runs one stage at a time, so no other writer of ``path`` is running."""
    stale = sorted(path.parent.glob(TEMPORARY.format(name=path.name))) if path.parent.is_dir() else []
    for leftover in stale:
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    return stale


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it over ``path`` only if the body succeeds.

    Readers never see a half-written file, and a crash leaves the previous output intact; a
    killed run's temporary is removed by the next write of the same path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes files private (0600); outputs get the usual permissions.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_dir(path: Path | str) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; it replaces ``path`` only if the body succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        if path.exists():
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# Statistics and compression are fixed so that output bytes depend only on the data.
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "statistics": True}


def write_parquet(frame: pl.DataFrame, path: Path | str) -> None:
    """Write ``frame`` atomically; the same frame always gives the same bytes."""
    with atomic_path(path) as tmp:
        frame.write_parquet(tmp, **PARQUET_OPTIONS)


@contextmanager
def reading(path: Path | str) -> Iterator[None]:
    """Turn any failure to read ``path`` (polars raises several error types for a damaged or
    foreign file) into the one-line error ``<path>: cannot be read: <first line of the cause>``."""
    try:
        yield
    except AssayError:
        raise
    except Exception as exc:
        raise AssayError(f"{path}: cannot be read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pl.DataFrame:
    """A Parquet file, or :func:`reading`'s one-line error when it cannot be read."""
    with reading(path):
        return pl.read_parquet(path, columns=columns)


def row_group_sizes(rows: int) -> list[int]:
    """The row groups polars writes for a frame of ``rows`` rows held in one piece.

    They depend on the height only, not on the data or the thread count; polars decides, so it
    is asked, with a frame of that height that costs nothing to write (read back, it has a chunk
    per row group: tests/test_streaming.py checks the bytes this leads to).
    """
    buffer = io.BytesIO()
    pl.select(pl.repeat(False, rows, dtype=pl.Boolean)).write_parquet(buffer, **PARQUET_OPTIONS)
    sizes = pl.read_parquet(buffer.getvalue()).to_series().chunk_lengths() if rows else []
    if sum(sizes) != rows:
        raise RuntimeError(f"polars read {sum(sizes)} rows back from a parquet file of {rows}")
    return sizes


class ParquetBatchWriter:
    """Write a frame that arrives in batches to ``path``, atomically, in bounded memory.

    The file is byte for byte what :func:`write_parquet` writes for all the batches concatenated:
    polars lays a frame out in row groups by its height, and writes a frame that comes in pieces
    in other row groups, so each batch is spooled to an Arrow IPC file beside ``path`` and, once
    the height is known, the rows go through polars' streaming sink in pieces of exactly the row
    groups the whole frame would get. (Batches are not held in memory even when small: a batch's
    columns may share the buffers of everything they were computed from, so a few rows of
    quarantine held per batch would hold every batch.) ``finish`` turns each piece into what is
    written (ingest completes ``_raw`` there, once it has seen the whole file); it must keep the
    rows and give the same schema for every piece.
    """

    def __init__(self, path: Path | str, finish: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> None:
        self.path = Path(path)
        self.finish = finish
        self.rows = 0
        self._schema: pl.Schema | None = None
        self._spooled: list[Path] = []
        self._staging: Path | None = None

    def write(self, batch: pl.DataFrame) -> None:
        """Add the next rows; an empty batch only fixes the schema."""
        if self._schema is None:
            self._schema = batch.schema
        elif batch.schema != self._schema:
            raise ValueError(f"{self.path}: batch schema {batch.schema} differs from the first batch's {self._schema}")
        if batch.height == 0:
            return
        self.rows += batch.height
        spool = self._staging_dir() / f"{len(self._spooled):06d}.arrow"
        batch.write_ipc(spool, compression="uncompressed")
        self._spooled.append(spool)

    def _staging_dir(self) -> Path:
        """A folder beside ``path`` for the spool and the file being written; a killed run's is removed by the next."""
        if self._staging is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.path)
            self._staging = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent))
        return self._staging

    def spooled(self) -> Iterator[pl.DataFrame]:
        """The rows written so far, batch by batch (before ``finish``)."""
        for spool in self._spooled:
            yield pl.read_ipc(spool)

    def _pieces(self) -> Iterator[pl.DataFrame]:
        """The rows cut into the row groups of the whole frame, each one contiguous chunk, finished."""
        sizes = iter(row_group_sizes(self.rows))
        want = next(sizes, 0)
        parts: list[pl.DataFrame] = []
        have = 0
        for frame in self.spooled():
            offset = 0
            while offset < frame.height:
                take = min(want - have, frame.height - offset)
                parts.append(frame.slice(offset, take))
                have += take
                offset += take
                if have == want:
                    piece = parts[0] if len(parts) == 1 and parts[0].n_chunks() == 1 else pl.concat(parts).rechunk()
                    yield self.finish(piece) if self.finish else piece
                    parts, have, want = [], 0, next(sizes, 0)

    def close(self) -> int:
        """Write the file (replacing ``path`` atomically), drop the spool, and return the row count."""
        from polars.io.plugins import register_io_source

        if self._schema is None:
            raise ValueError(f"{self.path}: nothing was written, not even an empty batch to give the schema")
        empty = pl.DataFrame(schema=self._schema)
        schema = (self.finish(empty) if self.finish else empty).schema

        def pieces(with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: int | None) -> Iterator[pl.DataFrame]:
            for piece in self._pieces():
                yield piece if with_columns is None else piece.select(with_columns)

        try:
            tmp = self._staging_dir() / "out.parquet"
            register_io_source(pieces, schema=schema).sink_parquet(tmp, **PARQUET_OPTIONS)
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, self.path)
        finally:
            self.discard()
        return self.rows

    def discard(self) -> None:
        """Drop the spool without writing (the run failed)."""
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None
        self._spooled = []


def write_json(data: Any, path: Path | str) -> None:
    """Write ``data`` as indented, key-sorted JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def write_text(text: str, path: Path | str) -> None:
    """Write UTF-8 ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


FIGURE_DIGITS = 6


def round_figure(value: Any, digits: int = FIGURE_DIGITS) -> Any:
    """A float as reports store it: ``digits`` decimals (stable bytes across runs), None when not
    finite (JSON has no NaN); anything else (None, ints, text) unchanged."""
    if isinstance(value, float) or (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "f"):
        value = float(value)
        return round(value, digits) if math.isfinite(value) else None
    return value


def sha256_file(path: Path | str, chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks so large files stay out of memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def read_json_object(path: Path) -> dict[str, Any] | None:
    """A report as a dict, None if it does not exist; a broken file is a one-line error."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AssayError(f"{path}: not valid JSON ({exc}); re-run the stage that writes it") from None
    if not isinstance(data, dict):
        raise AssayError(f"{path}: expected a JSON object")
    return data
