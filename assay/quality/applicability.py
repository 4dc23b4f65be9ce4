"""Which expectations of a domain's suite apply to data other than the clean data it was written for.

A suite describes ``data/clean/<domain>.parquet``. Synthetic data (and any file ``assay check``
is given) has the same columns, with two exceptions the suite cannot know about:

- **provenance**: ``_source_file`` and ``_source_row`` are added by ingest. Data without them is
  given them (the file and the row number, so an unexpected value can be found), and the
  expectations about those columns alone are not applicable: they would check Assay's stand-ins.
- **fresh ids**: columns in ``generator.synthetic_ids`` (without ``prefix_when``) hold fresh ids
  (``syn-000001``), not pseudonyms. Where every value of such a column has the fresh-id format,
  checks of its format, and expectations whose row condition reads it, are not applicable.
  Clean data, whose ids are pseudonyms, keeps every check.

The evaluate stage and ``assay check`` both use :func:`not_applicable`, so both skip the same
expectations and say why.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

import polars as pl

from assay.columns import PROVENANCE
from assay.config import SyntheticId

# Expectation types that check the format of a value (the fresh ids have another one).
FORMAT_CHECKS = ("match_regex", "match_like_pattern")


def with_provenance(frame: pl.DataFrame, source_file: str) -> pl.DataFrame:
    """``frame`` with ``_source_file`` (``source_file``) and ``_source_row`` (1, 2, ...) if it has none."""
    if all(name in frame.columns for name in PROVENANCE):
        return frame
    return frame.with_columns(pl.lit(source_file).alias(PROVENANCE[0]), pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(PROVENANCE[1]))


def id_pattern(spec: SyntheticId) -> re.Pattern[str]:
    """The regular expression of the ids a :class:`SyntheticId` makes: ``syn-{n:06d}`` -> ``syn-[0-9]+``."""
    parts = []
    for literal, field, _, _ in string.Formatter().parse(spec.format):
        parts.append(re.escape(literal))
        if field is not None:
            parts.append("[0-9]+")
    prefix = f"(?:{re.escape(spec.prefix)})?" if spec.prefix else ""
    return re.compile(prefix + "".join(parts))


def fresh_id_columns(frame: pl.DataFrame, synthetic_ids: dict[str, SyntheticId]) -> dict[str, str]:
    """``{column: format}`` of the id columns whose every value is a fresh synthetic id (and that hold any)."""
    found = {}
    for name, spec in synthetic_ids.items():
        if spec.prefix_when is not None or name not in frame.columns:
            continue  # prefixed ids look like real ones (C123456 for a cancellation): every check applies
        values = frame[name].drop_nulls().cast(pl.String)
        if values.len() and values.str.contains(f"^(?:{id_pattern(spec).pattern})$").all():
            found[name] = spec.format
    return found


def _columns(kwargs: dict[str, Any]) -> list[str]:
    named = [kwargs.get(key) for key in ("column", "column_A", "column_B")]
    return [name for name in [*named, *(kwargs.get("column_list") or [])] if isinstance(name, str)]


def not_applicable(suite: dict[str, Any], frame: pl.DataFrame, synthetic_ids: dict[str, SyntheticId]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The suite without the expectations that do not apply to ``frame``, and those left out with why.

    ``frame`` is the data as read (before :func:`with_provenance`); ``synthetic_ids`` the domain's
    ``generator.synthetic_ids`` (empty: no fresh ids to look for).
    """
    missing = [name for name in PROVENANCE if name not in frame.columns]
    fresh = fresh_id_columns(frame, synthetic_ids)
    kept, skipped = [], []
    for expectation in suite["expectations"]:
        kwargs = expectation.get("kwargs") or {}
        columns = _columns(kwargs)
        condition = json.dumps(kwargs.get("row_condition") or "")
        mentioned = [name for name in fresh if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", condition)]
        reason = None
        if missing and columns and set(columns) <= set(PROVENANCE):
            reason = f"about provenance ({', '.join(columns)}), which ingest adds and this data does not carry"
        elif columns and columns[0] in fresh and any(marker in expectation["type"] for marker in FORMAT_CHECKS):
            reason = f"checks the format of {columns[0]}, which holds fresh synthetic ids ({fresh[columns[0]]})"
        elif mentioned:
            reason = f"its row condition reads {mentioned[0]}, which holds fresh synthetic ids ({fresh[mentioned[0]]})"
        if reason:
            column = kwargs.get("column") or kwargs.get("column_list")
            skipped.append({"type": expectation["type"], "column": column, "severity": expectation.get("severity"), "reason": reason})
        else:
            kept.append(expectation)
    return {**suite, "expectations": kept}, skipped
