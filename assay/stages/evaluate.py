"""The ``evaluate`` stage: validity, fidelity, utility and privacy of synthetic data, then the release gate."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from assay.config import load_params
from assay.contracts import UtilityReport, write_report
from assay.errors import AssayError
from assay.io import write_json
from assay.layout import DISTRIBUTIONS_FILE
from assay.metrics.evaluate import evaluate_frames, gate_failure, modelled_columns, read_frame
from assay.progress import steps
from assay.quality.validate import load_suite

log = logging.getLogger(__name__)


def run_evaluate(
    domain_name: str, params_path: Path, splits_dir: Path, synthetic_path: Path, suite_path: Path, report_path: Path, plots_dir: Path
) -> dict[str, Any]:
    """Entry point for ``assay evaluate``: measure, write the report and plot data, then apply the gate."""

    domain = load_params(params_path).domain(domain_name)
    hint = "run `assay split` first"
    train, dev, test = (read_frame(splits_dir / f"{name}.parquet", f"{name} split", hint) for name in ("train", "dev", "test"))
    synthetic = read_frame(synthetic_path, "synthetic data", "run `assay synthesize` first")
    if synthetic.height == 0:
        raise AssayError(f"{synthetic_path}: no synthetic rows to evaluate")
    if test.height == 0:
        raise AssayError(f"{splits_dir / 'test.parquet'}: the test split is empty, so utility cannot be scored")
    missing = [name for name in modelled_columns(domain) if name not in synthetic.columns]
    if missing:
        raise AssayError(f"{synthetic_path}: missing modelled column(s) {missing}; re-run `assay synthesize`")
    suite = load_suite(suite_path)
    started = time.perf_counter()
    with steps(f"evaluate {domain_name}", total=4) as done:
        report, columns = evaluate_frames(domain_name, domain, train, dev, test, synthetic, suite, synthetic_path.as_posix(), done)
    write_json(report.pop("distributions"), plots_dir / DISTRIBUTIONS_FILE)
    write_report(UtilityReport, report, report_path)
    write_json(columns, plots_dir / "columns.json")
    gen, base = report["generator"], report["baseline"]
    log.info(
        "evaluate %s in %.1f s: TSTR/TRTR AUC %s (baseline %s), detection AUC %s (%s), row validity %s (%s); release gate %s -> %s",
        domain_name,
        time.perf_counter() - started,
        gen["tstr_trtr_auc"],
        base["tstr_trtr_auc"],
        gen["detection_auc"],
        base["detection_auc"],
        gen["validity_row_pass_share"],
        base["validity_row_pass_share"],
        "passed" if report["release_gate_passed"] else ("FAILED" if report["release_gate_enabled"] else "failed (not enforced)"),
        report_path,
    )
    for check in report["gate_checks"]:
        if not check["passed"]:
            log.warning("evaluate %s: release gate: %s", domain_name, check["message"])
    error = gate_failure(domain_name, report, report_path)
    if error is not None:
        raise error
    return report
