"""Stage ``ingest``: read a domain's configured sources into one all-string frame with provenance.

Outputs ``data/interim/<domain>.parquet`` (source columns as text, plus ``_source_file``,
``_source_row``, ``_ingest_error`` and ``_raw``) and ``reports/ingest/<domain>.json`` (per
source file: sha256, size in bytes, rows, columns, encoding). CSV sources are read batch by
batch and the interim file is written from a spool (:class:`assay.io.ParquetBatchWriter`), so
memory stays bounded whatever the file's size; the bytes are those of writing it at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import INGEST_COLUMNS, INGEST_ERROR, RAW_RESTRICTED, SOURCE_FILE
from assay.config import DomainSpec, Source
from assay.contracts import IngestSchema, IngestSource, SourceInfo
from assay.errors import AssayError
from assay.ingest.cnxml import read_cnxml_book
from assay.ingest.markdown import read_markdown_course
from assay.ingest.tabular import BATCH_LINES, FIELDS, OVERSIZED, TEXT, CsvSource, RawText, count_errors, finish_interim, parquet_pending
from assay.io import ParquetBatchWriter, sha256_file
from assay.progress import track

log = logging.getLogger("assay.ingest")


def _course_pending(source: Source, path: Path, expected: list[str]) -> tuple[pl.DataFrame, list[tuple[Path, SourceInfo]]]:
    """A course source (Markdown or CNXML) as pending interim rows, and what was read of each file."""
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
    counts = frame.group_by(SOURCE_FILE).agg(rows=pl.len(), errors=pl.col(INGEST_ERROR).is_not_null().sum())
    per_file = {row[SOURCE_FILE]: row for row in counts.iter_rows(named=True)}
    infos = []
    for file in files:
        found = per_file.get(str(file), {"rows": 0, "errors": 0})
        infos.append((file, SourceInfo(encoding="utf-8", rows=found["rows"], rows_with_errors=found["errors"], columns=expected)))
    # Course readers keep no identifiers, so nothing of theirs needs the restricted quarantine,
    # and their units have no field size limit.
    pending = frame.select(
        *expected,
        *INGEST_COLUMNS,
        pl.lit(None, pl.String).alias(RAW_RESTRICTED),
        pl.lit(None, pl.List(pl.String)).alias(FIELDS),
        pl.lit(None, pl.String).alias(TEXT),
        pl.lit(None, pl.String).alias(OVERSIZED),
    )
    return pending, infos


class DomainIngest:
    """Every source of one domain, read as pending interim rows batch by batch, then finished.

    :meth:`batches` yields the rows of each source in order; once they are all read (and
    spooled), :meth:`prepare` looks at them once more for what ``_raw`` needs from whole files,
    :meth:`finish` turns spooled rows into interim rows, and :meth:`report` is the ingest report.
    """

    def __init__(self, name: str, domain: DomainSpec, root: Path = Path("."), batch_lines: int = BATCH_LINES, schema: IngestSchema | None = None) -> None:
        self.name, self.domain, self.root, self.batch_lines = name, domain, root, batch_lines
        self.schema = schema or IngestSchema.of(name, domain)  # the columns to read: the ``schema`` stage's file
        self.expected = list(self.schema.columns)
        self.files: list[tuple[Path, SourceInfo, Source]] = []
        self.raw_texts: dict[str, RawText] = {}
        self.rows = 0
        self.errors = 0

    def batches(self) -> Iterator[pl.DataFrame]:
        for batch in self._sources():
            self.rows += batch.height
            self.errors += count_errors(batch)
            yield batch

    def _sources(self) -> Iterator[pl.DataFrame]:
        domain, expected = self.domain, self.expected
        for source in domain.sources:
            path = self.root / source.path
            log.info("ingest %s: reading %s (%s)", self.name, path, source.format)
            if source.format == "csv":
                reader = CsvSource(
                    path,
                    expected,
                    delimiter=source.csv.delimiter,
                    quote_char=source.csv.quote_char,
                    encoding=source.csv.encoding,
                    header=source.csv.header,
                    skip_rows=source.csv.skip_rows,
                    comment=source.csv.comment,
                    max_field_chars=domain.max_field_chars,
                    identifiers=self.schema.identifiers,
                    batch_lines=self.batch_lines,
                )
                yield from reader.batches()
                self.files.append((path, reader.info, source))
                self.raw_texts[str(path)] = reader.raw_text
            elif source.format == "parquet":
                pending, info = parquet_pending(path, expected, max_field_chars=domain.max_field_chars)
                yield pending
                self.files.append((path, info, source))
            else:
                pending, infos = _course_pending(source, path, expected)
                yield pending
                self.files.extend((file, info, source) for file, info in infos)

    def prepare(self, spooled: Callable[[], Iterable[pl.DataFrame]]) -> None:
        """Once every batch is read: what broken lines' ``_raw`` needs from the whole of their file."""
        for source_file, raw_text in self.raw_texts.items():
            raw_text.prepare(spooled(), source_file)

    def finish(self, pending: pl.DataFrame) -> pl.DataFrame:
        return finish_interim(pending, self.raw_texts, self.expected, self.domain.max_field_chars)

    def report(self) -> dict[str, Any]:
        entries = []
        for file, info, source in track(self.files, f"ingest {self.name}: hashing sources", total=len(self.files)):
            entry = IngestSource(path=str(file), format=source.format, sha256=sha256_file(file), size_bytes=file.stat().st_size, **info.model_dump())
            entries.append(entry.model_dump(mode="json"))
        log.info(
            "ingest %s: %s rows from %d file(s); %s could not be parsed and will go to quarantine",
            self.name,
            f"{self.rows:,}",
            len(entries),
            f"{self.errors:,}",
        )
        return {"domain": self.name, "rows": self.rows, "rows_with_errors": self.errors, "sources": entries}


def write_interim(
    name: str, domain: DomainSpec, out: Path, root: Path = Path("."), batch_lines: int = BATCH_LINES, schema: IngestSchema | None = None
) -> dict[str, Any]:
    """Read every source of a domain in batches into ``out`` (atomically); return the ingest report.

    ``schema`` is the columns to read (the ``schema`` stage's file); by default, the domain's own.
    """
    ingest = DomainIngest(name, domain, root, batch_lines, schema)
    writer = ParquetBatchWriter(out, finish=ingest.finish)
    try:
        for batch in ingest.batches():
            writer.write(batch)
        ingest.prepare(writer.spooled)
        writer.close()
    finally:
        writer.discard()
    return ingest.report()


def ingest_domain(
    name: str, domain: DomainSpec, root: Path = Path("."), batch_lines: int = BATCH_LINES, schema: IngestSchema | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Read every source of a domain into memory; return the interim frame and the ingest report."""
    ingest = DomainIngest(name, domain, root, batch_lines, schema)
    pending = pl.concat(list(ingest.batches()), how="vertical")
    ingest.prepare(lambda: [pending])
    return ingest.finish(pending), ingest.report()
