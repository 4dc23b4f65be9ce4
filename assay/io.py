"""Atomic, deterministic writes, report figures and file hashing shared by every stage."""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
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


def write_parquet(frame: pl.DataFrame, path: Path | str) -> None:
    """Write ``frame`` atomically; the same frame always gives the same bytes."""
    with atomic_path(path) as tmp:
        # Statistics and compression are fixed so that output bytes depend only on the data.
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=True)


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
