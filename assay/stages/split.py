"""The ``split`` stage: the validation gate, then leakage-free train/dev/test splits and their drift report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import polars as pl

from assay.config import load_params
from assay.contracts import SplitReport, write_report
from assay.data.split import add_seed_advice, breach_lines, check_validation_gate, log_summary, split_frame
from assay.errors import AssayError
from assay.io import atomic_dir, write_parquet
from assay.progress import steps

log = logging.getLogger(__name__)


def run_split(domain_name: str, params_path: Path, data: Path, validation: Path, out_dir: Path, report_path: Path) -> dict[str, Any]:
    """Entry point for ``assay split``: check the gate, split, write the splits and the report."""

    params = load_params(params_path)
    domain = params.domain(domain_name)
    spec = domain.split
    check_validation_gate(validation, domain_name)
    if not data.is_file():
        raise AssayError(f"{data}: clean data not found; run `assay clean --domain {domain_name}` first")
    frame = pl.read_parquet(data)
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    with steps(f"split {domain_name}", total=3) as done:
        result = split_frame(frame, spec, identifiers)
        done("groups assigned, drift measured")
        # The folder is replaced whole: all three splits or none, and no stale file from a past run.
        with atomic_dir(out_dir) as staging:
            for name, part in result.splits.items():
                write_parquet(part, staging / f"{name}.parquet")
        done("splits written")
        report = result.report
        add_seed_advice(frame, spec, report)
        write_report(SplitReport, report, report_path)
        done("report written")

    log_summary(domain_name, spec, report)
    lines = breach_lines(report)
    if not lines:
        log.info("split %s: no column differs between splits beyond the drift thresholds", domain_name)
    elif spec.drift.on_breach == "warn":
        for line in lines:
            log.warning("split %s: drift beyond threshold: %s", domain_name, line)
    else:
        head = f"split {domain_name}: {len(lines)} column/split pair(s) drift beyond the thresholds (on_breach: error; see {report_path}):"
        raise AssayError("\n  ".join([head, *lines]), exit_code=1)
    return report
