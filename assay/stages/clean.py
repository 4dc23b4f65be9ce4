"""The ``clean`` stage: interim rows -> clean data, quarantine and the cleaning report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import CleanReport, write_report
from assay.data import spark_clean
from assay.data.clean import clean_file, pseudonym_key
from assay.errors import AssayError
from assay.layout import LAYOUT
from assay.progress import steps

log = logging.getLogger(__name__)


def reads_real_data(raw_dir: Path, params_path: Path) -> bool:
    """Whether a domain's raw data lies outside the project's ``data/raw/`` (the committed demo data)."""
    demo_root = (params_path.parent / LAYOUT.data / "raw").resolve()
    return not (params_path.parent / raw_dir).resolve().is_relative_to(demo_root)


def run_clean(
    domain_name: str,
    params_path: Path,
    interim: Path,
    out: Path,
    quarantine_path: Path,
    restricted_path: Path,
    report_path: Path,
    allow_demo_key: bool = False,
) -> dict[str, Any]:
    """Entry point for ``assay clean``: read params and the interim frame, write clean, quarantine, restricted, report."""

    params = load_params(params_path)
    domain = params.domain(domain_name)
    has_identifiers = any(column.identifier for column in domain.columns.values())
    key = pseudonym_key(reads_real_data(Path(domain.raw_dir), Path(params_path)), allow_demo_key) if has_identifiers else None
    if not interim.is_file():
        raise AssayError(f"{interim}: interim data not found; run `assay ingest --domain {domain_name}` first")
    with steps(f"clean {domain_name}", total=2) as done:
        if domain.engine == "spark":
            report = spark_clean.run(interim, domain, params.spark, key.secret if key else b"", out, quarantine_path, restricted_path)
        else:
            report = clean_file(interim, domain, key.secret if key else b"", out, quarantine_path, restricted_path)
        done("clean data, quarantine and restricted quarantine written")
        # Which key made the pseudonyms (its fingerprint, never the key), for auditors and the lineage record.
        write_report(CleanReport, {**report, "pseudonym_key": key.describe() if key else None}, report_path)
        done("report written")
    r = report
    log.info(
        "clean %s: %s rows in -> %s clean, %s quarantined, %s exact duplicates removed",
        domain_name,
        f"{r['rows_in']:,}",
        f"{r['rows_clean']:,}",
        f"{r['rows_quarantined']:,}",
        f"{r['rows_deduplicated']:,}",
    )
    if report["restricted_lines"]:
        log.info(
            "clean %s: %s broken line(s) had identifiers masked or text cut in the quarantine; the full lines are in %s, which must be stored apart",
            domain_name,
            f"{report['restricted_lines']:,}",
            restricted_path,
        )
    for rule, count in r["rules"].items():
        if count:
            log.info("clean %s: rule %s quarantined %s row(s)", domain_name, rule, f"{count:,}")
    return r
