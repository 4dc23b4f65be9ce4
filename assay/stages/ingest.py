"""The ``ingest`` stage: raw source files of a domain -> ``data/interim/<domain>.parquet`` and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import IngestReport, write_report
from assay.ingest.sources import ingest_domain
from assay.io import write_parquet


def run_ingest(domain_name: str, params_path: Path, out: Path, report_path: Path) -> dict[str, Any]:
    """Entry point for ``assay ingest``: read params, ingest, write both outputs atomically."""

    params = load_params(params_path)
    interim, report = ingest_domain(domain_name, params.domain(domain_name), params_path.parent)
    write_parquet(interim, out)
    write_report(IngestReport, report, report_path)
    return report
