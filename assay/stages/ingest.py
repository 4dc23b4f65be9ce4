"""The ``ingest`` stage: raw source files of a domain -> ``data/interim/<domain>.parquet`` and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import IngestReport, write_report
from assay.ingest.sources import write_interim


def run_ingest(domain_name: str, params_path: Path, out: Path, report_path: Path) -> dict[str, Any]:
    """Entry point for ``assay ingest``: read params, ingest in batches, write both outputs atomically."""

    params = load_params(params_path)
    report = write_interim(domain_name, params.domain(domain_name), out, params_path.parent)
    write_report(IngestReport, report, report_path)
    return report
