"""``assay suite scaffold``: draft a GX 1.x expectation suite from clean data for a steward to edit.

GX 1.x dropped its profilers, so this module proposes a first suite from the domain's params
and from what the data shows. Every params rule becomes a **critical** expectation, since
cleaning enforces it and clean data must hold it: ``required`` (not null), ``allowed`` (the
value set, of any size), ``min``/``max``, ``pattern``, ``min_length``/``max_length``; each note
names the rule. The observed profile adds:

- table: the exact column set and at least one row (critical); a row count between half and
  twice the one seen (warning);
- each data column (provenance ``_source_file``/``_source_row`` only appears in the column set):
  it exists and has its type (critical); not null when nothing was missing (warning; critical
  for key columns), else a non-null share of at least the observed one rounded down to 1%
  (warning); the observed min/max of numeric, date and date-time columns (warning); the value
  set when a column has at most ``MAX_SET_SIZE`` distinct values that repeat, or up to
  ``MAX_CATEGORICAL_SET`` when each repeats ``CATEGORICAL_REPEATS`` times on average (warning, because a
  draft can miss a rare valid value: the demo records never show ``Steady`` for
  ``acetohexamide``, the real data does); else, for text, the observed length range (warning);
  the 16-hex format of pseudonymised identifiers (critical); uniqueness of the domain's
  ``clean.unique_key`` (critical).

Every expectation carries GX's own ``severity`` and ``notes`` fields, the notes a line starting
"drafted from data on <n> rows; review". A draft passes on the data
it was drafted from; a steward checks the bounds, sets, severities and notes before it replaces
``expectations/<domain>.json``.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import PROVENANCE
from assay.config import ColumnSpec, load_params
from assay.errors import AssayError
from assay.io import write_json

log = logging.getLogger("assay.suite")

MAX_SET_SIZE = 20
MAX_CATEGORICAL_SET = 500  # larger observed sets, when every value repeats often (a categorical column)
CATEGORICAL_REPEATS = 20  # ... at least this many rows per distinct value on average
HEX16 = "^[0-9a-f]{16}$"


def _gx() -> Any:
    """Import Great Expectations with analytics off and its INFO chatter muted (slow: only when needed)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _type_check(dtype: pl.DataType, has_nulls: bool) -> tuple[str, dict[str, Any]] | None:
    """The GX type expectation for a polars column, as ``DataFrame.to_pandas()`` hands it to GX.

    Polars integers with nulls arrive as float64, so they get a type list. String columns are
    pandas' ``str`` dtype. Dtypes without one stable pandas form (categoricals, lists, structs,
    durations, date-times with a time zone) get no type check.
    """
    if dtype.is_integer():
        name = str(dtype).lower()  # Int64 -> int64, UInt8 -> uint8
        return ("ExpectColumnValuesToBeInTypeList", {"type_list": [name, "float64"]}) if has_nulls else ("ExpectColumnValuesToBeOfType", {"type_": name})
    if dtype.is_float():
        return "ExpectColumnValuesToBeOfType", {"type_": str(dtype).lower()}
    if dtype == pl.Boolean:
        return "ExpectColumnValuesToBeOfType", {"type_": "bool"}
    if dtype in (pl.Date, pl.Datetime) and getattr(dtype, "time_zone", None) is None:
        return "ExpectColumnValuesToBeOfType", {"type_": "datetime64"}
    if dtype == pl.String:
        return "ExpectColumnValuesToBeOfType", {"type_": "str"}
    return None


def _bound(value: Any) -> Any:
    """A JSON bound GX compares correctly; dates need a time part (a bare date fails on datetime64)."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat()
    return value


def _rule_bound(value: Any, dtype: pl.DataType) -> Any:
    """A params bound as GX compares it with the column: ISO text for dates, a number otherwise."""
    if value is None:
        return None
    if dtype in (pl.Date, pl.Datetime) or isinstance(dtype, pl.Datetime):
        return _bound(datetime.fromisoformat(str(value)))
    return value


class _Draft:
    """Collects expectations with the severity and notes every Assay suite needs."""

    def __init__(self, rows: int) -> None:
        self.gx = _gx()
        self.rows = rows
        self.prefix = f"drafted from data on {rows:,} rows; review"
        self.expectations: list[Any] = []

    def add(self, kind: str, severity: str, note: str, **kwargs: Any) -> None:
        cls = getattr(self.gx.expectations, kind)
        self.expectations.append(cls(**kwargs, severity=severity, notes=f"{self.prefix}: {note}"))

    def rules(self, name: str, spec: ColumnSpec, dtype: pl.DataType) -> None:
        """The column's params rules as critical expectations: cleaning enforces them, so clean data must hold them."""
        where = f"params domains.<d>.columns.{name}"
        if spec.required:
            self.add("ExpectColumnValuesToNotBeNull", "critical", f"{where}.required: every row has a {name}.", column=name)
        if spec.allowed:
            note = f"{where}.allowed: {len(spec.allowed)} valid value(s); cleaning quarantines any other."
            self.add("ExpectColumnValuesToBeInSet", "critical", note, column=name, value_set=list(spec.allowed))
        if spec.min is not None or spec.max is not None:
            low, high = (_rule_bound(value, dtype) for value in (spec.min, spec.max))
            note = f"{where}.min/max: {name} between {spec.min} and {spec.max}."
            self.add("ExpectColumnValuesToBeBetween", "critical", note, column=name, min_value=low, max_value=high)
        if spec.pattern:
            self.add("ExpectColumnValuesToMatchRegex", "critical", f"{where}.pattern: {name} matches {spec.pattern}.", column=name, regex=spec.pattern)
        if spec.min_length is not None or spec.max_length is not None:
            note = f"{where}.min_length/max_length: {name} is {spec.min_length} to {spec.max_length} characters long."
            self.add("ExpectColumnValueLengthsToBeBetween", "critical", note, column=name, min_value=spec.min_length, max_value=spec.max_length)

    def column(self, name: str, values: pl.Series, is_key: bool, rule_set: bool = False) -> None:
        """Propose the expectations for one data column (``rule_set``: params already give its valid values)."""
        rows = self.rows
        if values.dtype.is_float():
            values = values.fill_nan(None)  # pandas, and so GX, counts NaN as missing
        nulls = values.null_count()
        present = values.drop_nulls()
        dtype = values.dtype
        self.add("ExpectColumnToExist", "critical", f"{name} is part of the schema.", column=name)
        type_check = _type_check(dtype, nulls > 0)
        if type_check is not None:
            kind, kwargs = type_check
            self.add(kind, "critical", f"{name} was {dtype} (pandas {' or '.join(kwargs.get('type_list') or [kwargs['type_']])}).", column=name, **kwargs)
        if rows == 0:
            return
        if nulls == 0:
            self.add("ExpectColumnValuesToNotBeNull", "critical" if is_key else "warning", f"{name} had no missing values.", column=name)
        elif nulls == rows:
            self.add("ExpectColumnValuesToBeNull", "warning", f"{name} was empty on every row; is it still needed?", column=name)
            return
        elif (share := math.floor((rows - nulls) / rows * 100) / 100) > 0:
            # An aggregate, not `mostly`: GX would otherwise list every missing row in the result.
            note = f"{name} was missing on {nulls / rows:.2%} of rows; at least {share:.0%} should be present."
            self.add("ExpectColumnProportionOfNonNullValuesToBeBetween", "warning", note, column=name, min_value=share, max_value=1.0)

        is_id = dtype == pl.String and bool(present.str.contains(HEX16).all())
        if is_id:
            self.add("ExpectColumnValuesToMatchRegex", "critical", f"{name} looks pseudonymised (16 hex digits) on every row.", column=name, regex=HEX16)
        if is_key or is_id:
            return  # keys and identifiers: no ranges, sets or lengths

        zoned = isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
        if (dtype.is_integer() or dtype.is_float() or dtype in (pl.Date, pl.Datetime)) and not zoned:
            low, high = _bound(present.min()), _bound(present.max())
            self.add("ExpectColumnValuesToBeBetween", "warning", f"{name} ranged from {low} to {high}.", column=name, min_value=low, max_value=high)
        distinct = present.n_unique()
        categorical = isinstance(dtype, pl.Categorical | pl.Enum) or (distinct <= MAX_CATEGORICAL_SET and distinct * CATEGORICAL_REPEATS <= present.len())
        settable = dtype in (pl.String, pl.Boolean) or dtype.is_integer() or isinstance(dtype, pl.Categorical | pl.Enum)
        if rule_set:
            pass  # params give the valid values: a critical expectation (see rules); the observed set adds nothing
        elif settable and ((distinct <= MAX_SET_SIZE and distinct * 2 <= present.len()) or categorical):
            value_set = sorted(present.unique().to_list())
            shown = ", ".join(str(v) for v in value_set[:8]) + (", ..." if distinct > 8 else "")
            note = f"{name} took {distinct} value(s) ({shown}); a valid value rarer than this sample may be missing."
            self.add("ExpectColumnValuesToBeInSet", "warning", note, column=name, value_set=value_set)
        elif dtype == pl.String:
            lengths = present.str.len_chars()
            low, high = int(lengths.min()), int(lengths.max())
            note = f"{name} was {low} to {high} characters long."
            self.add("ExpectColumnValueLengthsToBeBetween", "warning", note, column=name, min_value=low, max_value=high)


def scaffold_suite(frame: pl.DataFrame, suite_name: str, key_columns: list[str] | None = None, rules: dict[str, ColumnSpec] | None = None) -> dict[str, Any]:
    """Draft a suite from ``frame``; return it as GX 1.x suite JSON (``ExpectationSuite.to_json_dict()``).

    Pure: no I/O. ``rules`` (a domain's ``columns``) become critical expectations: required,
    allowed (any size), min/max, pattern, lengths; what the data shows adds warnings.
    ``key_columns`` (a domain's ``clean.unique_key``) must be present and unique: one key column
    gets expect_column_values_to_be_unique, several get expect_compound_columns_to_be_unique.
    Ids are derived from the suite name, so the same data gives the same file.
    """
    keys = list(key_columns or [])
    missing = [name for name in keys if name not in frame.columns]
    if missing:
        raise AssayError(f"key column(s) {missing} not in the data; its columns: {', '.join(frame.columns)}")
    rows = frame.height
    draft = _Draft(rows)
    note = f"the data has exactly these {frame.width} columns."
    draft.add("ExpectTableColumnsToMatchSet", "critical", note, column_set=list(frame.columns), exact_match=True)
    draft.add("ExpectTableRowCountToBeBetween", "critical", "the data is not empty.", min_value=1)
    if rows:
        note = f"about {rows:,} rows were seen; half or twice as many is worth a look (widen it if the suite serves data of other sizes)."
        draft.add("ExpectTableRowCountToBeBetween", "warning", note, min_value=max(1, rows // 2), max_value=rows * 2)
    rules = rules or {}
    for name in frame.columns:
        if name not in PROVENANCE:
            spec = rules.get(name)
            draft.column(name, frame[name], is_key=name in keys, rule_set=bool(spec and spec.allowed))
            if spec is not None and rows:
                draft.rules(name, spec, frame.schema[name])
    if len(keys) == 1:
        draft.add("ExpectColumnValuesToBeUnique", "critical", f"{keys[0]} is the key (clean.unique_key): one row per value.", column=keys[0])
    elif keys:
        note = f"({', '.join(keys)}) is the key (clean.unique_key): one row per combination."
        draft.add("ExpectCompoundColumnsToBeUnique", "critical", note, column_list=keys)

    suite = draft.gx.ExpectationSuite(
        name=suite_name,
        expectations=draft.expectations,
        meta={
            "drafted_by": "assay suite scaffold",
            "rows": rows,
            "key_columns": keys,
            "review": "A draft from observed data: check every bound, value set, severity and note before use. "
            "critical = the data is unusable downstream (a failure stops the pipeline); warning = suspicious but usable.",
        },
        notes=f"Draft suite for {suite_name}, {draft.prefix}. Bounds and value sets are what this data showed, not what is valid.",
    )
    data = suite.to_json_dict()
    data["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"assay/draft/{suite_name}"))
    for index, expectation in enumerate(data["expectations"]):
        expectation["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"assay/draft/{suite_name}/{index}"))
        if expectation["type"] == "expect_table_columns_to_match_set":
            expectation["kwargs"]["exact_match"] = True  # GX's default, which to_json_dict() leaves out; spelled out for stewards
    return data


def run_scaffold(domain_name: str, params_path: Path, data: Path, out: Path, force: bool) -> Path:
    """Entry point for ``assay suite scaffold``: draft a suite from ``data`` and write it to ``out``.

    Refuses to replace an existing ``out`` unless ``force``: a steward's edits are never lost by
    accident.
    """

    domain = load_params(params_path).domain(domain_name)
    if out.exists() and not force:
        raise AssayError(f"{out} exists; use --force to overwrite")
    if not data.is_file():
        raise AssayError(f"{data}: clean data not found; run `assay clean --domain {domain_name}` first")
    try:
        frame = pl.read_parquet(data)
    except Exception as exc:  # polars raises several error types for unreadable files
        raise AssayError(f"{data}: not a readable Parquet file ({type(exc).__name__})") from None
    suite = scaffold_suite(frame, domain_name, key_columns=domain.clean.unique_key, rules=domain.columns)
    suite["meta"]["drafted_from"] = str(data)
    write_json(suite, out)
    severities = [expectation["severity"] for expectation in suite["expectations"]]
    log.info(
        "suite scaffold %s: drafted %d expectations (%d critical, %d warning) from %s rows of %s into %s; review before use",
        domain_name,
        len(severities),
        severities.count("critical"),
        severities.count("warning"),
        f"{frame.height:,}",
        data,
        out,
    )
    return out
