"""Stage ``report``: one self-contained HTML page for data stewards, a section per domain.

The page (``reports/index.html``) opens with a summary table (per domain: rows in, clean,
quarantined, deduplicated, validation and split status) and then, per domain, one block per
entry of :data:`SECTIONS`. A :class:`Section` is a name, a loader
``loader(domain, inputs) -> dict | None`` and a template under ``assay/report/templates/``;
a loader returns None when its inputs do not exist yet and the page says "not run yet" with the
stage to run, so the report never fails because a later stage has not run. Adding a section
(training, synthetic-data tests, lineage) is one loader, one template and one registry entry.

The page needs no network and no JavaScript: the CSS is inline, charts are inline SVG, and
every value is HTML-escaped by Jinja's autoescape (a quarantined ``<script>`` shows as text).
Output is deterministic (no clock, no random ids; everything comes from the inputs), so DVC sees
no change when nothing changed.

Raw lines: quarantine keeps ``_raw``, the source line of a row that could not be parsed, with
its identifier fields masked (``<patient_nbr>``; a ragged line masks every place the identifier
may be, and a line where it cannot be found is withheld) and personal data masked, by the ingest
and clean stages (``assay.ingest.tabular``, ``assay.data.personal_data``); the full lines live
only in the restricted quarantine, which the page never reads. The page shows ``_raw`` only for
rows quarantined by the ``ingest`` rule (whose columns are empty), as the quarantine holds it,
cut to its first 240 characters: the rest of the line stays readable, so a steward can see what
broke it (a stray comma in a description, a missing field, an undecodable byte).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.config import DomainSpec, Params
from assay.contracts import CleanReport, DriftEntry, ExpectationResult, IngestReport, SplitReport, ValidationReport, read_report
from assay.data.quarantine import export_command
from assay.errors import AssayError
from assay.io import reading
from assay.layout import Layout
from assay.lineage.trace import load_lineage_section
from assay.report.formatting import (
    banded_chart,
    bar_chart,
    condition_text,
    fmt_bytes,
    fmt_fixed,
    fmt_int,
    fmt_number,
    fmt_pct,
    fmt_share,
    fmt_significant,
    preview,
    raw_preview,
)
from assay.report.profile import load_profile_section
from assay.report.utility import load_utility_section
from assay.report.versions import load_versions_section

log = logging.getLogger("assay.report")

TEMPLATES = Path(__file__).parent / "templates"
EXAMPLES_PER_RULE = 3
DUPLICATE_EXAMPLES = 5
VALUE_EXAMPLES = 3
DRIFT_BARS = 8
SPLIT_ORDER = ("train", "dev", "test")
_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "date": "a date", "datetime": "a date-time"}


@dataclass(frozen=True)
class ReportInputs:
    """Where the loaders read from, and where the page goes (for relative links)."""

    params: Params
    layout: Layout
    out_dir: Path

    def spec(self, domain: str) -> DomainSpec:
        return self.params.domain(domain)

    def link(self, target: Path) -> str:
        """``target`` as a relative link from the page."""
        return Path(os.path.relpath(target.resolve(), self.out_dir.resolve())).as_posix()


Loader = Callable[[str, ReportInputs], dict[str, Any] | None]


@dataclass(frozen=True)
class Section:
    """One part of a domain's block: what it is called, how its data is loaded, how it is shown."""

    name: str
    title: str
    loader: Loader
    template: str
    stage: str
    """The DVC stage (foreach over domains) whose outputs the loader reads."""


# ---------------------------------------------------------------------------------------------
# helpers


def _where(source_file: Any, source_row: Any) -> dict[str, str]:
    """Where a row came from: ``file:line`` in full (for a tooltip) and with the file's name only."""
    if source_row is None:
        return {"where": "", "where_short": ""}
    name = str(source_file or "")
    return {"where": f"{name}:{source_row}", "where_short": f"{name.rsplit('/', 1)[-1]}:{source_row}"}


# ---------------------------------------------------------------------------------------------
# ingest


def load_ingest(domain: str, inputs: ReportInputs) -> dict[str, Any] | None:
    report = read_report(IngestReport, inputs.layout.ingest_report(domain))
    if report is None:
        return None
    return {
        "rows": report.rows,
        "rows_with_errors": report.rows_with_errors,
        "sources": [
            {
                "path": source.path,
                "format": source.format,
                "size": source.size_bytes,
                "sha256": source.sha256,
                "rows": source.rows,
                "rows_with_errors": source.rows_with_errors,
                "encoding": source.encoding,
                "encoding_confidence": source.encoding_confidence,
                "encoding_chosen_by": source.encoding_chosen_by,
                "delimiter": source.delimiter,
                "line_endings": source.line_endings,
                "notes": source.notes,
            }
            for source in report.sources
        ],
        "total_size": sum(source.size_bytes for source in report.sources),
    }


# ---------------------------------------------------------------------------------------------
# cleaning


def rule_columns(rule: str, spec: DomainSpec) -> list[str]:
    """The columns a quarantine rule is about: ``range:Quantity`` -> Quantity; SQL rules -> the columns they name."""
    if rule == "ingest":
        return []
    kind, _, rest = rule.partition(":")
    if rest:
        return [name.strip() for name in rest.split(",") if name.strip() in spec.columns]
    for domain_rule in spec.clean.rules:
        if domain_rule.name == rule:
            return [name for name in spec.columns if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", domain_rule.when)][:4]
    return []


def describe_rule(rule: str, spec: DomainSpec) -> str:
    """What a quarantine rule checks, in words, from the params that define it."""
    if rule == "ingest":
        return "the line could not be read: wrong number of fields, bytes not valid in the file's encoding, or an oversized field"
    kind, _, column = rule.partition(":")
    for domain_rule in spec.clean.rules:
        if domain_rule.name == rule:
            return domain_rule.reason
    col = spec.columns.get(column)
    if kind == "duplicate_key":
        return f"the key ({column}) repeats an earlier row with different values"
    if col is None:
        return ""
    if kind == "type":
        formats = f" (formats: {', '.join(col.formats)})" if col.formats else ""
        return f"{column} must be {_TYPE_WORDS.get(col.type, col.type)}{formats}"
    if kind == "required":
        return f"{column} must be present"
    if kind == "allowed":
        allowed = col.allowed or []
        return f"{column} must be one of: {', '.join(allowed[:10])}{', …' if len(allowed) > 10 else ''}"
    if kind == "pattern":
        return f"{column} must match the pattern {col.pattern}"
    if kind == "length":
        bounds = [f"at least {col.min_length}" if col.min_length is not None else "", f"at most {col.max_length}" if col.max_length is not None else ""]
        return f"{column} must have {' and '.join(b for b in bounds if b)} characters"
    if kind == "range":
        bounds = [f"≥ {col.min}" if col.min is not None else "", f"≤ {col.max}" if col.max is not None else ""]
        return f"{column} must be {' and '.join(b for b in bounds if b)}"
    return ""


def _quarantine_examples(path: Path, spec: DomainSpec) -> dict[str, list[dict[str, Any]]] | None:
    """The first few quarantined rows of each rule, in file order, ready to show."""
    if not path.is_file():
        return None
    import polars as pl

    with reading(path):
        frame = pl.scan_parquet(path).filter(pl.int_range(pl.len()).over("_rule") < EXAMPLES_PER_RULE).collect()
    examples: dict[str, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        rule = row.get("_rule") or ""
        columns = rule_columns(rule, spec)
        examples.setdefault(rule, []).append(
            {
                **_where(row.get("_source_file"), row.get("_source_row")),
                "reason": preview(row.get("_reason"), 200),
                "cells": [(name, preview(row.get(name))) for name in columns],
                "raw": raw_preview(row.get("_raw")) if rule == "ingest" else "",
            }
        )
    return examples


def load_cleaning(domain: str, inputs: ReportInputs) -> dict[str, Any] | None:
    report = read_report(CleanReport, inputs.layout.clean_report(domain))
    if report is None:
        return None
    spec = inputs.spec(domain)
    quarantine_path = inputs.layout.quarantine(domain)
    # A damaged quarantine costs the examples, not the page: the counts come from the clean report,
    # and the lineage section says the file no longer matches what the clean stage wrote.
    try:
        examples, quarantine_error = _quarantine_examples(quarantine_path, spec), None
    except AssayError as exc:
        examples, quarantine_error = None, str(exc)
    counts = report.rules
    rules = [
        {
            "name": name,
            "count": count,
            "description": describe_rule(name, spec),
            "examples": (examples or {}).get(name, []),
            "command": export_command(domain, name) if count else "",
        }
        for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    flag_reasons = {rule.name: rule.reason for rule in spec.clean.rules if rule.action == "flag"}
    chart = bar_chart([(rule["name"], rule["count"], "ingest" if rule["name"] == "ingest" else "rule") for rule in rules if rule["count"]], fmt_int)
    return {
        "rows_in": report.rows_in,
        "rows_clean": report.rows_clean,
        "rows_quarantined": report.rows_quarantined,
        "rows_deduplicated": report.rows_deduplicated,
        "rules": rules,
        "chart": chart,
        "quarantine_path": quarantine_path.as_posix(),
        "export_all": export_command(domain) if report.rows_quarantined else "",
        "quarantine_found": examples is not None or quarantine_error is not None,
        "quarantine_error": quarantine_error,
        "duplicates": report.duplicate_examples[:DUPLICATE_EXAMPLES],
        "flags": [{"name": name, "count": count, "reason": flag_reasons.get(name, "")} for name, count in sorted(report.flags.items())],
        "normalised": sorted(report.normalised.items()),
        "pseudonymised": report.pseudonymised_columns,
        "personal_data": [(column, report.personal_data[column].model_dump()) for column in sorted(report.personal_data)],
        "restricted_lines": report.restricted_lines,
    }


# ---------------------------------------------------------------------------------------------
# validation


def _expectation_row(item: ExpectationResult) -> dict[str, Any]:
    column = item.column
    if isinstance(column, list):
        column = ", ".join(map(str, column))
    kwargs = {k: v for k, v in item.kwargs.items() if k not in ("column", "column_list", "batch_id", "result_format", "row_condition", "condition_parser")}
    examples = []
    for example in item.examples[:VALUE_EXAMPLES]:
        examples.append({"value": preview(example.get("value"), 60), **_where(example.get("_source_file"), example.get("_source_row"))})
    severity = item.severity or "—"
    success = item.success
    return {
        "type": item.type,
        "column": column or "",
        "expects": preview(", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in kwargs.items()), 120),
        "condition": preview(condition_text(item.kwargs.get("row_condition")), 120),
        "severity": severity,
        "success": success,
        "status": "pass" if success else ("fail-critical" if severity == "critical" else "fail-warning"),
        "error": item.error,
        "unexpected_count": item.unexpected_count,
        "unexpected_percent": item.unexpected_percent,
        "observed": "" if item.unexpected_count is not None else preview(item.observed_value),
        "examples": examples,
        "notes": item.notes or "",
    }


def load_validation(domain: str, inputs: ReportInputs) -> dict[str, Any] | None:
    report = read_report(ValidationReport, inputs.layout.validation_report(domain))
    if report is None:
        return None
    rows = [_expectation_row(item) for item in report.expectations]
    order = {"fail-critical": 0, "fail-warning": 1, "pass": 2}
    rows = sorted(rows, key=lambda row: order[row["status"]])  # stable: suite order within a status
    docs = inputs.layout.data_docs(domain) / "index.html"
    if not docs.is_file() and report.data_docs:
        # The report records the path relative to the project root, which holds the reports folder.
        docs = inputs.layout.reports.parent / report.data_docs
    return {
        "rows": report.rows,
        "evaluated": report.evaluated,
        "passed": report.passed,
        "failed_critical": report.failed_critical,
        "failed_warning": report.failed_warning,
        "success": report.success,
        "suite": report.suite,
        "suite_sha256": report.suite_sha256,
        "data": report.data,
        "expectations": rows,
        "docs_link": inputs.link(docs) if docs.is_file() else None,
    }


# ---------------------------------------------------------------------------------------------
# splits


def _drift_row(entry: DriftEntry, thresholds: dict[str, Any]) -> dict[str, Any]:
    stats = [
        {
            "name": name,
            "value": getattr(entry, name),
            "threshold": thresholds.get(name),
            "over": name in (entry.over_threshold or entry.breached),
            "breached": name in entry.breached,
            "null_p95": (entry.null.get(name) or {}).get("p95"),
            "p_value": entry.p_values.get(name),
        }
        for name in ("ks", "psi", "tvd")
        if getattr(entry, name) is not None
    ]
    # The chart draws the statistic that random splits reach least often (ties: the larger share of its threshold).
    calibrated = [stat for stat in stats if stat["p_value"] is not None]
    driver = min(calibrated, key=lambda stat: (stat["p_value"], -(stat["value"] / (stat["threshold"] or 1)))) if calibrated else None
    return {
        "column": entry.column,
        "kind": entry.kind,
        "pair": entry.pair.replace("-", " ↔ "),
        "stats": stats,
        "score": entry.score,
        "breached": bool(entry.breached),
        "unusual": entry.unusual,
        "p_adjusted": entry.p_adjusted,
        "driver": driver,
    }


def load_splits(domain: str, inputs: ReportInputs) -> dict[str, Any] | None:
    """``reports/split/<domain>.json`` as written by assay/data/split.py: sizes, groups, target shares, drift worst-first."""
    report = read_report(SplitReport, inputs.layout.split_report(domain))
    if report is None:
        return None
    rows, groups, ratios, configured, target = report.rows, report.groups, report.ratios, report.ratios_configured, report.target
    names = [name for name in SPLIT_ORDER if name in rows] + sorted(name for name in rows if name not in SPLIT_ORDER)
    thresholds = report.drift_thresholds
    drift_rows = [_drift_row(entry, thresholds) for entry in report.drift]
    calibrated = any(row["driver"] for row in drift_rows)
    if calibrated:
        chart = banded_chart(
            [
                (
                    f"{row['column']} · {row['driver']['name']} ({row['pair'].replace(' ↔ ', '-')})",
                    row["driver"]["value"],
                    0.0,
                    row["driver"]["null_p95"],
                    row["driver"]["threshold"],
                    "breach" if row["breached"] else "drift",
                )
                for row in drift_rows[:DRIFT_BARS]
                if row["driver"]
            ],
            lambda value: f"{value:.3f}",
        )
    else:  # a report from before calibration: the score chart, 1× = the threshold
        chart_items = [
            (f"{row['column']} ({row['pair'].replace(' ↔ ', '-')})", row["score"], "breach" if row["breached"] else "drift")
            for row in drift_rows[:DRIFT_BARS]
            if row["score"] is not None
        ]
        chart = bar_chart(chart_items, lambda score: f"{score:.2f}×", marker=1.0)
    return {
        "splits": [
            {"name": name, "rows": rows.get(name), "share": ratios.get(name), "configured": configured.get(name), "groups": groups.get(name)} for name in names
        ],
        "rows_in": report.rows_in,
        "group_by": report.group_by,
        "row_level": bool(report.row_level),
        "row_level_note": report.row_level_note,
        "group_fallback": report.group_fallback,
        "seed": report.seed,
        "mode": report.mode,
        "status": report.status,
        "ratio_gap_pp": report.ratio_gap_pp,
        "ratio_tolerance_pp": report.ratio_tolerance_pp,
        "target_column": report.target_column,
        "target_gap_pp": report.target_gap_pp,
        "classes": sorted({str(cls) for shares in target.values() for cls in shares}),
        "target": {name: {str(k): v for k, v in target.get(name, {}).items()} for name in names},
        "thresholds": {name: thresholds[name] for name in ("ks", "psi", "tvd") if name in thresholds},
        "drift": drift_rows,
        "breaches": report.breaches,
        "unusual": report.unusual,
        "calibrated": calibrated,
        "null": report.drift_null,
        "over_threshold": sum(1 for row in drift_rows if any(stat["over"] for stat in row["stats"])),
        "skipped": report.drift_skipped,
        "chart": chart,
        "source": inputs.layout.split_report(domain).as_posix(),
    }


# ---------------------------------------------------------------------------------------------
# the page

SECTIONS: list[Section] = [
    Section("ingest", "Ingest", load_ingest, "ingest.html.j2", "ingest"),
    Section("cleaning", "Cleaning", load_cleaning, "cleaning.html.j2", "clean"),
    Section("profile", "Column profiles", load_profile_section, "profile.html.j2", "clean"),
    Section("validation", "Validation", load_validation, "validation.html.j2", "validate"),
    Section("splits", "Splits", load_splits, "splits.html.j2", "split"),
    Section("utility", "Synthetic data", load_utility_section, "utility.html.j2", "evaluate"),
    Section("lineage", "Lineage", load_lineage_section, "lineage.html.j2", "lineage"),
    Section("versions", "Versions", load_versions_section, "versions.html.j2", "ingest"),
]


def _summary(domain: str, loaded: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    cleaning = loaded.get("cleaning") or {}
    validation = loaded.get("validation")
    splits = loaded.get("splits")
    utility = loaded.get("utility")
    if validation is None:
        status = "not-run"
    elif validation["failed_critical"]:
        status = "fail-critical"
    elif validation["failed_warning"]:
        status = "fail-warning"
    else:
        status = "pass"
    return {
        "domain": domain,
        "rows_in": cleaning.get("rows_in"),
        "rows_clean": cleaning.get("rows_clean"),
        "rows_quarantined": cleaning.get("rows_quarantined"),
        "rows_deduplicated": cleaning.get("rows_deduplicated"),
        "cleaned": bool(cleaning),
        "validation": validation,
        "validation_status": status,
        "splits": splits,
        "gate": utility["gate_status"] if utility else None,
    }


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=fmt_int, pct=fmt_pct, share=fmt_share, size=fmt_bytes, number=fmt_number, fixed=fmt_fixed, significant=fmt_significant)
    return env


def build_report(params: Params, layout: Layout, out_dir: Path) -> str:
    """Load every section of every domain and render the page; pure apart from reading inputs."""
    inputs = ReportInputs(params=params, layout=layout, out_dir=out_dir)
    domains = []
    for name, spec in params.domains.items():
        loaded = {section.name: section.loader(name, inputs) for section in SECTIONS}
        missing = [section.title.lower() for section in SECTIONS if loaded[section.name] is None]
        if missing:
            log.info("report %s: not run yet: %s", name, ", ".join(missing))
        domains.append({"name": name, "description": spec.description, "sections": loaded, "summary": _summary(name, loaded)})
    return _environment().get_template("page.html.j2").render(domains=domains, sections=SECTIONS)
