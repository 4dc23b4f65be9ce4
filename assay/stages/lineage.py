"""The ``lineage`` stage: a model's record back to raw-file hashes, its copy in the model folder, and the model card."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import LineageRecord, TrainMetrics, UtilityReport, read_report, write_report
from assay.generator.model import GENERATOR_DIR, METRICS_FILE
from assay.io import write_text
from assay.lineage.modelcard import render_model_card
from assay.lineage.trace import CARD_FILE, LINEAGE_COPY, build_lineage, open_repo

log = logging.getLogger(__name__)


def run_lineage(domain: str, params_path: Path, model_dir: Path, targets: dict[str, Path | None], out: Path, root: Path = Path(".")) -> dict[str, Any]:
    """Entry point for ``assay lineage build`` (the ``lineage`` stage).

    Writes the record to ``out`` and a copy to ``model_dir/lineage.json``, and the model card to
    ``model_dir/README.md``, so the model folder an auditor receives carries its own provenance.
    """

    spec = load_params(params_path).domain(domain)
    repo = open_repo(root)
    roles = {"model": model_dir / GENERATOR_DIR, **{role: path for role, path in targets.items() if path is not None}}
    try:
        record = build_lineage(repo, domain, {role: Path(path).as_posix() for role, path in roles.items()})
    finally:
        repo.close()
    utility_path = record["targets"].get("utility")
    utility = read_report(UtilityReport, Path(root) / utility_path) if utility_path else None
    model_metrics = read_report(TrainMetrics, Path(root) / model_dir / METRICS_FILE)
    write_report(LineageRecord, record, out)
    write_report(LineageRecord, record, Path(root) / model_dir / LINEAGE_COPY)
    card = Path(root) / model_dir / CARD_FILE
    write_text(render_model_card(record, spec, utility, model_metrics, Path(out).as_posix()), card)
    log.info("lineage %s: %d stage(s), %d artifact(s); wrote %s (copy in %s) and %s", domain, len(record["stages"]), len(record["chain"]), out, model_dir, card)
    return record
