"""The ``validate`` stage: the domain's expectation suite on its clean data, Data Docs, and the gate."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import ValidationReport, write_report
from assay.errors import AssayError
from assay.io import sha256_file
from assay.layout import LAYOUT
from assay.progress import steps
from assay.quality import spark_validate
from assay.quality.datadocs import write_data_docs
from assay.quality.validate import failure_lines, load_suite, read_data, validate_frame, with_stable_ids

log = logging.getLogger(__name__)


def run_validate(domain_name: str, params_path: Path, data: Path, suite_path: Path, report_path: Path, docs_dir: Path) -> dict[str, Any]:
    """Entry point for ``assay validate``: validate, write the report and Data Docs, then gate."""

    params = load_params(params_path)
    domain = params.domain(domain_name)
    suite = load_suite(suite_path)
    with steps(f"validate {domain_name}", total=3) as done:
        if domain.engine == "spark":
            if not data.is_file():
                raise AssayError(f"data file not found: {data}")
            summary = spark_validate.run(data, suite, params.spark)
        else:
            summary = validate_frame(read_data(data), suite)
        done(f"{summary['evaluated']} expectations evaluated")
        home = os.path.relpath(LAYOUT.index_page(), docs_dir)
        index = write_data_docs(summary["gx_result"], with_stable_ids(suite), docs_dir, f"Validation of {domain_name}", home_href=home)
        done("Data Docs written")
        report = {
            "domain": domain_name,
            "data": str(data),
            "suite": str(suite_path),
            "suite_sha256": sha256_file(suite_path),
            "data_docs": str(index),
            **summary,
        }
        write_report(ValidationReport, report, report_path)
        done("report written")
    log.info(
        "validate %s: %d expectations, %d passed, %d critical and %d warning failures",
        domain_name,
        report["evaluated"],
        report["passed"],
        report["failed_critical"],
        report["failed_warning"],
    )
    lines = failure_lines(report)
    for line in lines:
        (log.error if line.startswith("critical") else log.warning)("validate %s: %s", domain_name, line)
    if not report["success"]:
        critical = [line for line in lines if line.startswith("critical")]
        raise AssayError(
            f"validation of {domain_name} failed {len(critical)} critical expectation(s); see {report_path}:\n" + "\n".join(critical),
            exit_code=1,
        )
    return report
