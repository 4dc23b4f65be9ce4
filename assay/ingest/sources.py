"""Stage ``ingest``: read a domain's configured sources into one all-string frame with provenance.

Outputs ``data/interim/<domain>.parquet`` (source columns as text, plus ``_source_file``,
``_source_row``, ``_ingest_error`` and ``_raw``) and ``reports/ingest/<domain>.json`` (per
source file: sha256, size in bytes, rows, columns, encoding).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import INGEST_COLUMNS, RAW_RESTRICTED
from assay.config import DomainSpec, Source
from assay.contracts import IngestSchema, IngestSource, SourceInfo
from assay.errors import AssayError
from assay.ingest.cnxml import read_cnxml_book
from assay.ingest.markdown import read_markdown_course
from assay.ingest.tabular import read_csv_source, read_parquet_source
from assay.io import sha256_file
from assay.progress import track

log = logging.getLogger("assay.ingest")


def _read_source(source: Source, path: Path, domain: DomainSpec, schema: IngestSchema) -> tuple[pl.DataFrame, list[tuple[Path, SourceInfo]]]:
    expected = list(schema.columns)
    if source.format == "csv":
        frame, info = read_csv_source(
            path,
            expected,
            delimiter=source.csv.delimiter,
            quote_char=source.csv.quote_char,
            encoding=source.csv.encoding,
            header=source.csv.header,
            skip_rows=source.csv.skip_rows,
            comment=source.csv.comment,
            max_field_chars=domain.max_field_chars,
            identifiers=schema.identifiers,
        )
        return frame, [(path, info)]
    if source.format == "parquet":
        frame, info = read_parquet_source(path, expected, max_field_chars=domain.max_field_chars)
        return frame, [(path, info)]
    if source.format == "markdown":
        files = sorted(path.glob("*.md")) if path.is_dir() else [path]
        if not files:
            raise AssayError(f"{path}: no Markdown (*.md) files found")
        frame = read_markdown_course(files)
    else:
        frame, files = read_cnxml_book(path, list(source.collections))
    missing = [name for name in expected if name not in frame.columns]
    if missing:
        raise AssayError(f"{path}: the {source.format} reader gives no column(s) {missing}; check domains columns in params")
    counts = frame.group_by("_source_file").agg(rows=pl.len(), errors=pl.col("_ingest_error").is_not_null().sum())
    per_file = {row["_source_file"]: row for row in counts.iter_rows(named=True)}
    infos = []
    for file in files:
        found = per_file.get(str(file), {"rows": 0, "errors": 0})
        infos.append((file, SourceInfo(encoding="utf-8", rows=found["rows"], rows_with_errors=found["errors"], columns=expected)))
    # Course readers keep no identifiers, so nothing of theirs needs the restricted quarantine.
    return frame.select(*expected, *INGEST_COLUMNS, pl.lit(None, pl.String).alias(RAW_RESTRICTED)), infos


def ingest_domain(name: str, domain: DomainSpec, root: Path = Path("."), schema: IngestSchema | None = None) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read every source of a domain; return the interim frame and the ingest report.

    ``schema`` is the columns to read (the ``schema`` stage's file); by default, the domain's own.
    """
    schema = schema or IngestSchema.of(name, domain)
    frames: list[pl.DataFrame] = []
    files: list[tuple[Path, SourceInfo, Source]] = []
    for source in domain.sources:
        path = root / source.path
        log.info("ingest %s: reading %s (%s)", name, path, source.format)
        frame, infos = _read_source(source, path, domain, schema)
        frames.append(frame)
        files.extend((file, info, source) for file, info in infos)
    interim = pl.concat(frames, how="vertical")
    entries = []
    for file, info, source in track(files, f"ingest {name}: hashing sources", total=len(files)):
        entry = IngestSource(path=str(file), format=source.format, sha256=sha256_file(file), size_bytes=file.stat().st_size, **info.model_dump())
        entries.append(entry.model_dump(mode="json"))
    errors = int(interim["_ingest_error"].is_not_null().sum())
    report = {"domain": name, "rows": interim.height, "rows_with_errors": errors, "sources": entries}
    log.info("ingest %s: %s rows from %d file(s); %s could not be parsed and will go to quarantine", name, f"{interim.height:,}", len(entries), f"{errors:,}")
    return interim, report
