"""The ``schema`` stage: what ingest reads of a domain's columns -> ``data/interim/<domain>.schema.json``.

Params keep each column's name, its ``identifier`` flag and its cleaning rules in one place
(``domains.<d>.columns``). Ingest reads only the names (in source order) and the identifiers; DVC
tracks params by key, so a stage that listed ``columns`` would re-run on every rule change. This
stage writes those two facts to a file, and ingest depends on the file: after a rule change this
stage re-runs (in about a second), writes the same bytes, and DVC leaves ingest alone.
"""

from __future__ import annotations

from pathlib import Path

from assay.config import load_params
from assay.contracts import IngestSchema, write_report


def run_schema(domain_name: str, params_path: Path, out: Path) -> IngestSchema:
    """Entry point for ``assay schema``: write the columns ingest reads, from params."""

    spec = load_params(params_path).domain(domain_name)
    return write_report(IngestSchema, IngestSchema.of(domain_name, spec), out)
