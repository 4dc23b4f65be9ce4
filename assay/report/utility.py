"""The utility section of the stewards' page: ``reports/utility/<domain>.json`` read for display.

Its metric rows come from :data:`assay.metrics.registry.REPORTED`, so the page shows every figure
the registry describes, with its label, direction and format, and no other.
"""

from __future__ import annotations

from typing import Any

from assay.contracts import TrainingPrivacy, UtilityReport, read_report
from assay.metrics.registry import REPORTED
from assay.report.formatting import bar_chart

CHART_COLUMNS = 12


def _lookup(report: UtilityReport, path: tuple[str, ...] | None) -> Any:
    value: Any = report.model_dump()
    for key in path or ():
        value = value.get(key) if isinstance(value, dict) else None
    return value if path else None


def load_utility_section(domain: str, inputs: Any) -> dict[str, Any] | None:
    """The report loader (see :mod:`assay.report.page`): ``reports/utility/<domain>.json``, ready to show."""

    path = inputs.layout.utility_report(domain)
    report = read_report(UtilityReport, path)
    if report is None:
        return None
    generator, baseline = report.generator, report.baseline
    rows = []
    for entry in REPORTED:
        group, label, key, better, style, reference = entry.group, entry.label, entry.key, entry.better, entry.style, entry.reference
        if key not in generator and key not in baseline:
            continue
        mine, naive = generator.get(key), baseline.get(key)
        winner = None
        if isinstance(mine, int | float) and isinstance(naive, int | float) and mine != naive:
            if better == "half":
                winner = "generator" if abs(mine - 0.5) < abs(naive - 0.5) else "baseline"
            else:
                winner = "generator" if (mine > naive) == (better == "higher") else "baseline"
        reference_value = _lookup(report, reference)
        rows.append({"group": group, "label": label, "style": style, "generator": mine, "baseline": naive, "reference": reference_value, "winner": winner})
    columns = [row for row in report.columns if row.get("similarity_generator") is not None]
    worst = sorted(columns, key=lambda row: (row["similarity_generator"], row["column"]))[:CHART_COLUMNS]
    items = []
    for row in worst:
        items.append((f"{row['column']} · generator", row["similarity_generator"], "drift"))
        if row.get("similarity_baseline") is not None:
            items.append((f"{row['column']} · baseline", row["similarity_baseline"], "ingest"))
    utility = report.utility[0] if report.utility else {}
    training = read_training_privacy(inputs.layout.training_privacy(domain))
    return {
        "training_privacy": training,
        "source": path.as_posix(),
        "target": report.target,
        "rows": report.rows,
        "primary_model": report.primary_model,
        "trtr_auc": report.trtr_auc,
        "trtr_f1_at_0_5": report.trtr_f1_at_0_5,
        "majority_accuracy": report.majority_accuracy,
        "gate_enabled": report.release_gate_enabled,
        "gate_passed": report.release_gate_passed,
        "checks": [check.model_dump() for check in report.gate_checks],
        "metrics": rows,
        "models": utility.get("models") or [],
        "chart": bar_chart(items, lambda value: f"{value:.3f}"),
        "columns_total": len(columns),
        "worst_pairs": report.pairs_worst_generator[:5],
        "not_applicable": [row for row in report.validity_expectations if row.get("not_applicable")],
        "failed_expectations": [
            row for row in report.validity_expectations if not row.get("not_applicable") and not (row.get("generator") or {}).get("success", True)
        ],
    }


def read_training_privacy(path: Any) -> dict[str, Any] | None:
    """The privacy checks of training (``reports/train/<domain>/privacy.json``, the train metrics'
    ``privacy`` block: :class:`~assay.contracts.TrainingPrivacy`), when they were on."""
    privacy = read_report(TrainingPrivacy, path)
    return privacy.model_dump(exclude_unset=True) if privacy is not None and privacy.enabled else None
