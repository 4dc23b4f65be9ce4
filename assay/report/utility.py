"""The utility section of the stewards' page: ``reports/utility/<domain>.json`` read for display.

Its metric rows come from :data:`assay.metrics.registry.REPORTED`, so the page shows every figure
the registry describes, with its label, direction and format, and no other.
"""

from __future__ import annotations

from typing import Any

from assay.contracts import TrainingPrivacy, UtilityReport, read_report
from assay.io import read_json_object
from assay.metrics.registry import REPORTED, SAMPLES
from assay.report.charts import heat_map, overlay
from assay.report.formatting import axis_start, bar_chart, condition_text, fmt_share

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
        sample = SAMPLES.get(entry.sample or "")
        size = report.sample_sizes.get(entry.sample or "")
        intervals = {source: (report.intervals.get(source) or {}).get(key) for source in ("generator", "baseline")}
        rows.append(
            {
                "group": group,
                "label": label,
                "style": style,
                "generator": mine,
                "baseline": naive,
                "reference": reference_value,
                "winner": winner,
                "rows": size,
                "sample": sample.words if sample else "",
                "too_few": sample is not None and size is not None and size < sample.min_rows,
                "min_rows": sample.min_rows if sample else None,
                "interval_generator": intervals["generator"],
                "interval_baseline": intervals["baseline"],
                "interval_reference": report.intervals.get("trtr_auc") if reference == ("trtr_auc",) else None,
            }
        )
    columns = [row for row in report.columns if row.get("similarity_generator") is not None]
    worst = sorted(columns, key=lambda row: (row["similarity_generator"], row["column"]))[:CHART_COLUMNS]
    items = []
    for row in worst:
        items.append((f"{row['column']} · generator", row["similarity_generator"], "drift"))
        if row.get("similarity_baseline") is not None:
            items.append((f"{row['column']} · baseline", row["similarity_baseline"], "ingest"))
    utility = report.utility[0] if report.utility else {}
    training = read_training_privacy(inputs.layout.training_privacy(domain))
    distributions = read_json_object(inputs.layout.utility_distributions(domain)) or {}
    similarity = {row["column"]: row for row in report.columns}
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
        "gate_status": gate_status(report),
        "checks": [check.model_dump() for check in report.gate_checks],
        "sizes": report.sample_sizes,
        "trtr_interval": report.intervals.get("trtr_auc"),
        "consistency": report.consistency,
        "metrics": rows,
        "models": utility.get("models") or [],
        "chart": bar_chart(items, lambda value: f"{value:.3f}", start=axis_start([value for _, value, _ in items])),
        "overlays": _overlays(distributions.get("columns") or [], similarity),
        "heat_maps": [
            {"source": source, "map": heat_map(distributions["associations"], source)}
            for source in ("real", "generator")
            if distributions.get("associations") and heat_map(distributions["associations"], source)
        ],
        "map_left_out": (distributions.get("associations") or {}).get("left_out", 0),
        "columns_total": len(columns),
        "worst_pairs": report.pairs_worst_generator[:5],
        "not_applicable": [row for row in report.validity_expectations if row.get("not_applicable")],
        "failed_expectations": [
            {**row, "row_condition": condition_text(row.get("row_condition"))}
            for row in report.validity_expectations
            if not row.get("not_applicable") and not (row.get("generator") or {}).get("success", True)
        ],
    }


def _overlays(columns: list[dict[str, Any]], similarity: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One small chart per column (real train, generator, baseline on shared bins), least similar first."""

    def order(entry: dict[str, Any]) -> tuple[float, str]:
        value = (similarity.get(entry["column"]) or {}).get("similarity_generator")
        return (2.0 if value is None else value, entry["column"])

    out = []
    for entry in sorted(columns, key=order):
        row = similarity.get(entry["column"]) or {}
        out.append(
            {
                "column": entry["column"],
                "kind": entry["kind"],
                "chart": overlay(entry),
                "low": entry.get("low"),
                "high": entry.get("high"),
                "categories": entry.get("categories") or [],
                "notes": _overlay_notes(entry),
                "similarity_generator": row.get("similarity_generator"),
                "similarity_baseline": row.get("similarity_baseline"),
            }
        )
    return out


def _overlay_notes(entry: dict[str, Any]) -> list[str]:
    """What the chart cannot show: generated values beyond the real range, and missing values."""
    notes = []
    outside = (entry.get("outside") or {}).get("generator") or 0
    if outside:
        notes.append(f"generator outside the real range {fmt_share(outside)}")
    missing = entry.get("missing") or {}
    if missing.get("real") or missing.get("generator"):
        notes.append(f"missing: real {fmt_share(missing.get('real') or 0)}, generator {fmt_share(missing.get('generator') or 0)}")
    return notes


def gate_status(report: UtilityReport) -> dict[str, Any]:
    """The release gate in one word for the summary: passed, failed or not judged, with counts."""
    checks = report.gate_checks
    judged = [check for check in checks if check.judged]
    failed = [check for check in judged if not check.passed]
    not_judged = len(checks) - len(judged)
    if not checks:
        status, words = "not-run", "no release check"
    elif failed:
        status, words = "fail-critical" if report.release_gate_enabled else "fail-warning", f"{len(failed)} of {len(checks)} checks failed"
    elif not_judged:
        status, words = "not-judged", f"{not_judged} of {len(checks)} checks not judged (too few rows)"
    else:
        status, words = "pass", f"{len(checks)}/{len(checks)} checks passed"
    extra = f"; {not_judged} not judged (too few rows)" if failed and not_judged else ""
    return {"status": status, "words": words + extra, "enforced": report.release_gate_enabled, "failed": [check.check for check in failed]}


def read_training_privacy(path: Any) -> dict[str, Any] | None:
    """The privacy checks of training (``reports/train/<domain>/privacy.json``, the train metrics'
    ``privacy`` block: :class:`~assay.contracts.TrainingPrivacy`), when they were on."""
    privacy = read_report(TrainingPrivacy, path)
    return privacy.model_dump(exclude_unset=True) if privacy is not None and privacy.enabled else None
