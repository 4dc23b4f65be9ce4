"""The ``ingest`` stage: raw source files of a domain -> ``data/interim/<domain>.parquet`` and its report.

DVC sees the column names and identifiers ingest reads through the ``schema`` stage's file, not
through params' ``columns``, whose cleaning rules ingest never reads (:mod:`assay.stages.schema`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import IngestReport, IngestSchema, read_report, write_report
from assay.errors import AssayError
from assay.ingest.sources import write_interim


def run_ingest(domain_name: str, params_path: Path, out: Path, report_path: Path, schema_path: Path) -> dict[str, Any]:
    """Entry point for ``assay ingest``: read params, ingest in batches, write both outputs atomically.

    ``schema_path`` is the ``schema`` stage's file, which ``dvc.yaml`` makes ingest depend on in
    place of params' ``columns``; when it exists it must name the columns params name (a stale one
    is an error), and a run by hand without it reads them from params.
    """

    params = load_params(params_path)
    spec = params.domain(domain_name)
    schema = IngestSchema.of(domain_name, spec)
    recorded = read_report(IngestSchema, schema_path)
    if recorded is not None and recorded != schema:
        raise AssayError(
            f"{schema_path}: names other columns or identifiers than {params_path} does for {domain_name}; "
            f"run `assay schema --domain {domain_name}` (dvc repro does) before ingest"
        )
    report = write_interim(domain_name, spec, out, params_path.parent, schema=schema)
    write_report(IngestReport, report, report_path)
    return report
