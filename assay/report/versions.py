"""The "Versions" part of the stewards' page: raw-file hashes now, and quality figures over past revisions.

Per domain: the raw files with their sha256 at this revision (from the ingest report), then,
where git history holds earlier runs, the cleaning and validation figures of the last few
revisions that changed them, side by side with this run: rows in, quarantined (in all and per
rule), deduplicated, expectations passed and failed. The past figures are read with DVC's
metrics API for several revisions at once (``Repo.metrics.show(revs=...)``, what ``dvc metrics
diff`` uses), so a steward sees whether quality got better or worse and in which commit.

The page is rebuilt by ``dvc repro``; git history is not one of its DVC inputs, so a past
revision shows up here once a later run rebuilds the page.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assay.contracts import CleanReport, IngestReport, ValidationReport, read_report
from assay.lineage.trace import git_output

log = logging.getLogger("assay.report")

REVISIONS = 4  # past revisions shown beside this run
CLEAN_FIGURES = ("rows_in", "rows_clean", "rows_quarantined", "rows_deduplicated")
VALIDATION_FIGURES = ("evaluated", "passed", "failed_critical", "failed_warning")


def _past_revisions(root: Path, paths: list[str], limit: int) -> list[dict[str, str]]:
    """The last commits that changed any of ``paths``: id, date and subject (none outside a git repo)."""
    output = git_output(root, "log", f"-n{limit}", "--format=%H%x1f%cs%x1f%s", "--", *paths)
    rows = []
    for line in (output or "").splitlines():
        commit, date, subject = (line.split("\x1f") + ["", ""])[:3]
        rows.append({"commit": commit, "date": date, "subject": subject})
    return rows


def _figures(clean: dict[str, Any] | None, validation: dict[str, Any] | None) -> dict[str, Any]:
    """The figures shown, from the two reports' metrics (what DVC's metrics API reads at a past revision)."""
    figures: dict[str, Any] = {"rules": dict((clean or {}).get("rules") or {})}
    if clean:
        figures.update({name: clean.get(name) for name in CLEAN_FIGURES})
    if validation:
        figures.update({name: validation.get(name) for name in VALIDATION_FIGURES})
    return figures


def _metrics_at(root: Path, targets: list[str], revisions: list[str]) -> dict[str, dict[str, Any]]:
    """``{rev: {path: metrics}}`` from DVC's metrics API; a revision DVC cannot read is left out, with a log line."""
    from dvc.repo import Repo

    try:
        with Repo(str(root)) as repo:
            # Absolute targets: DVC reads relative ones from the current directory; it answers with repo paths.
            shown = repo.metrics.show(targets=[str(root.resolve() / target) for target in targets], revs=revisions)
    except Exception as exc:  # no DVC project (a report built outside one): there is no history to show
        log.info("report: no revision history (%s)", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return {}
    found: dict[str, dict[str, Any]] = {}
    for rev, entry in shown.items():
        if rev == "workspace":
            continue
        found[rev] = {path: (data or {}).get("data") or {} for path, data in ((entry or {}).get("data") or {}).items()}
    return found


def load_versions_section(domain: str, inputs: Any) -> dict[str, Any] | None:
    """The report loader (see :mod:`assay.report.page`); None until the domain has been ingested."""
    ingest = read_report(IngestReport, inputs.layout.ingest_report(domain))
    if ingest is None:
        return None
    root = inputs.layout.reports.parent
    clean_path, validation_path = inputs.layout.clean_report(domain), inputs.layout.validation_report(domain)
    targets = [Path(path).resolve().relative_to(root.resolve()).as_posix() for path in (clean_path, validation_path)]
    clean, validation = read_report(CleanReport, clean_path), read_report(ValidationReport, validation_path)
    now = _figures(clean.model_dump() if clean else None, validation.model_dump() if validation else None)
    past = _past_revisions(root, targets, REVISIONS)
    metrics = _metrics_at(root, targets, [rev["commit"] for rev in past]) if past else {}
    columns = [{"label": "this run", "commit": None, "date": None, "subject": None, **now}]
    for rev in past:
        data = metrics.get(rev["commit"])
        if not data:
            continue
        # DVC's metrics are the figures alone (assay.contracts.MetricsReport), without the details the contracts need.
        columns.append({"label": rev["commit"][:12], **rev, **_figures(data.get(targets[0]), data.get(targets[1]))})
    rules = sorted({rule for column in columns for rule in column.get("rules", {})})
    return {
        "raw": [{"path": source.path, "sha256": source.sha256, "size": source.size_bytes} for source in ingest.sources],
        "columns": columns,
        "rules": rules,
        "history": len(columns) > 1,
    }
