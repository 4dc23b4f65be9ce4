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

from assay.contracts import CleanReport, IngestReport, ValidationReport, as_contract, read_report
from assay.lineage.trace import git_output

log = logging.getLogger("assay.report")

REVISIONS = 4  # past revisions shown beside this run
VALIDATION_FIGURES = ("evaluated", "passed", "failed_critical", "failed_warning")


def _past_revisions(root: Path, paths: list[str], limit: int) -> list[dict[str, str]]:
    """The last commits that changed any of ``paths``: id, date and subject (none outside a git repo)."""
    output = git_output(root, "log", f"-n{limit}", "--format=%H%x1f%cs%x1f%s", "--", *paths)
    rows = []
    for line in (output or "").splitlines():
        commit, date, subject = (line.split("\x1f") + ["", ""])[:3]
        rows.append({"commit": commit, "date": date, "subject": subject})
    return rows


def _figures(clean: CleanReport | None, validation: ValidationReport | None) -> dict[str, Any]:
    figures: dict[str, Any] = {"rules": dict(clean.rules) if clean else {}}
    if clean:
        figures.update(rows_in=clean.rows_in, rows_clean=clean.rows_clean, rows_quarantined=clean.rows_quarantined, rows_deduplicated=clean.rows_deduplicated)
    if validation:
        figures.update({name: getattr(validation, name) for name in VALIDATION_FIGURES})
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
    now = _figures(read_report(CleanReport, clean_path), read_report(ValidationReport, validation_path))
    past = _past_revisions(root, targets, REVISIONS)
    metrics = _metrics_at(root, targets, [rev["commit"] for rev in past]) if past else {}
    columns = [{"label": "this run", "commit": None, "date": None, "subject": None, **now}]
    for rev in past:
        data = metrics.get(rev["commit"])
        if not data:
            continue
        clean = data.get(targets[0])
        validation = data.get(targets[1])
        # DVC's metrics drop lists (the expectations), which the contracts require: check what they keep.
        clean_report = as_contract(CleanReport, clean, f"{targets[0]}@{rev['commit'][:12]}") if clean else None
        validation_figures = {name: validation.get(name) for name in VALIDATION_FIGURES} if validation else {}
        columns.append({"label": rev["commit"][:12], **rev, **_figures(clean_report, None), **validation_figures})
    rules = sorted({rule for column in columns for rule in column.get("rules", {})})
    return {
        "raw": [{"path": source.path, "sha256": source.sha256, "size": source.size_bytes} for source in ingest.sources],
        "columns": columns,
        "rules": rules,
        "history": len(columns) > 1,
    }
