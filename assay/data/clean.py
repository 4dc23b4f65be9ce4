"""Stage ``clean``: typed, rule-checked data plus a quarantine that says why each row was rejected.

The rules come from ``params.yaml`` (``domains.<d>.columns`` and ``domains.<d>.clean``) and run
in this order, as polars expressions over one lazy frame:

1. normalise text: trim, Unicode normal form, whitespace collapsing, mojibake repair (ftfy),
   missing-value markers to null;
2. drop exact duplicates (counted, with the row each one repeats);
3. per column: strict type cast, required, allowed values, pattern, length, range;
4. key uniqueness, then the domain rules (SQL over typed columns), ``quarantine`` or ``flag``;
5. pseudonymise direct identifiers (keyed hash), add derived columns.

A row goes to quarantine with ``_rule`` (the first check it failed) and ``_reason`` (every
failure, in words). The stage guarantees ``rows_in == rows_clean + rows_quarantined +
rows_deduplicated`` and fails loudly if its own arithmetic ever breaks that.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from assay.columns import PROVENANCE, RAW, RAW_RESTRICTED
from assay.config import ColumnSpec, DomainSpec, polars_dtype
from assay.data import personal_data
from assay.errors import AssayError

log = logging.getLogger("assay.clean")

PSEUDONYM_KEY_ENV = "ASSAY_PSEUDONYM_KEY"
# Public on purpose: it makes the demo reproducible. Real runs must set ASSAY_PSEUDONYM_KEY.
DEMO_PSEUDONYM_KEY = "assay-demo-key-not-secret"
VALUE_PREVIEW = 60
MOJIBAKE_HINT = r"[ÃÂâ€ï¿½Ð]"
_ORDER = "_order"

_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true/false", "date": "a date", "datetime": "a date-time"}
_TRUE = ["true", "yes", "y", "1", "t"]
_FALSE = ["false", "no", "n", "0", "f"]


@dataclass(frozen=True)
class CleanResult:
    clean: pl.DataFrame
    quarantine: pl.DataFrame
    # Broken lines in full, identifiers unmasked, where the quarantine's ``_raw`` is masked,
    # withheld or cut: for operators to store apart; the report never reads it.
    restricted: pl.DataFrame
    report: dict[str, Any]


# An HMAC of this label under the key tells an auditor which key made a dataset, and reveals nothing of it.
KEY_FINGERPRINT_LABEL = b"assay pseudonym key fingerprint v1"


@dataclass(frozen=True)
class PseudonymKey:
    """The HMAC key for identifiers, whether it is the public demo key, and its fingerprint."""

    secret: bytes
    is_demo: bool

    @property
    def fingerprint(self) -> str:
        return hmac.new(self.secret, KEY_FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]

    def describe(self) -> dict[str, Any]:
        """What the cleaning report, the lineage record and the model card say about the key."""
        return {"fingerprint": self.fingerprint, "demo_key": self.is_demo}


def pseudonym_key(real_data: bool = False, allow_demo_key: bool = False) -> PseudonymKey:
    """``$ASSAY_PSEUDONYM_KEY``, else the documented demo key, which real data refuses.

    A key that is set but empty or only whitespace is an error, not "unset": a typo in a secret
    store must not fall back to the public key. ``real_data`` (sources outside ``data/raw/``)
    refuses the demo key unless ``allow_demo_key``.
    """
    value = os.environ.get(PSEUDONYM_KEY_ENV)
    if value is not None and not value.strip():
        raise AssayError(f"{PSEUDONYM_KEY_ENV} is set but empty or whitespace; set a secret key, or unset it to use the public demo key on demo data")
    if value is None:
        value = DEMO_PSEUDONYM_KEY
    key = PseudonymKey(value.encode("utf-8"), value == DEMO_PSEUDONYM_KEY)
    if key.is_demo and real_data and not allow_demo_key:
        raise AssayError(
            f"these params read real data (sources outside data/raw/), and {PSEUDONYM_KEY_ENV} is unset or the public demo key, "
            "whose pseudonyms anyone can reverse; set a secret key, or pass --allow-demo-key to accept that"
        )
    if key.is_demo:
        log.warning("%s is not set: identifiers are hashed with the public demo key; set it for real data", PSEUDONYM_KEY_ENV)
    return key


def pseudonymise(values: pl.Series, key: bytes) -> pl.Series:
    """Replace each value by the first 16 hex digits of its HMAC-SHA256 under ``key``.

    Hashing runs once per distinct value, so 100k rows with 70k patients cost 70k HMACs.
    """
    text = values.cast(pl.String)
    distinct = text.drop_nulls().unique(maintain_order=True)
    mapping = {value: hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16] for value in distinct.to_list()}
    return text.replace_strict(mapping, default=None, return_dtype=pl.String).alias(values.name)


def _fix_mojibake(values: pl.Series) -> pl.Series:
    """Repair UTF-8-read-as-cp1252 text with ftfy, visiting only distinct values that look broken."""
    from ftfy import fix_encoding

    suspects = values.filter(values.str.contains(MOJIBAKE_HINT)).unique(maintain_order=True)
    if suspects.is_empty():
        return values
    mapping = {value: fix_encoding(value) for value in suspects.to_list()}
    return values.replace(mapping)


def _normalise(frame: pl.DataFrame, domain: DomainSpec) -> tuple[pl.DataFrame, dict[str, int]]:
    spec = domain.clean
    columns = list(domain.columns)
    before = frame.select(columns)
    exprs = []
    for name in columns:
        expr = pl.col(name)
        if spec.trim:
            expr = expr.str.strip_chars()
        if name in spec.collapse_whitespace:
            expr = expr.str.replace_all(r"\s+", " ")
        if spec.unicode_form:
            expr = expr.str.normalize(spec.unicode_form)
        exprs.append(expr.alias(name))
    frame = frame.with_columns(exprs)
    mojibake_fixed = 0
    for name in spec.fix_mojibake:
        repaired = _fix_mojibake(frame[name])
        mojibake_fixed += int((repaired != frame[name]).sum())
        frame = frame.with_columns(repaired)
    changed = sum(int((frame[name] != before[name]).sum()) for name in columns) - mojibake_fixed
    markers = [pl.col(name).is_in(spec.null_values).sum().alias(name) for name in columns]
    null_markers = int(frame.select(markers).sum_horizontal().item()) if columns else 0
    frame = frame.with_columns([pl.when(pl.col(name).is_in(spec.null_values)).then(None).otherwise(pl.col(name)).alias(name) for name in columns])
    return frame, {"values_trimmed_or_normalised": changed, "mojibake_repaired": mojibake_fixed, "missing_markers_to_null": null_markers}


def _preview(name: str) -> pl.Expr:
    value = pl.col(name).cast(pl.String)
    return pl.when(value.str.len_chars() > VALUE_PREVIEW).then(value.str.slice(0, VALUE_PREVIEW) + "…").otherwise(value)


def _say(*parts: str | pl.Expr) -> pl.Expr:
    """A message from literal text and expressions; text from params is never parsed as a template."""
    return pl.concat_str([pl.lit(part) if isinstance(part, str) else part.cast(pl.String) for part in parts])


def _cast(name: str, spec: ColumnSpec) -> pl.Expr:
    raw = pl.col(name)
    if spec.type == "str":
        return raw
    if spec.type == "int":
        # Parsed from the text, never through a float: "9007199254740993.0" must not become
        # 9007199254740992, another customer's id. "17850.0" (a spreadsheet's integer) is one.
        return _integer_text(raw).cast(pl.Int64, strict=False)
    if spec.type == "float":
        as_float = raw.cast(pl.Float64, strict=False)
        return pl.when(as_float.is_finite()).then(as_float)
    if spec.type == "bool":
        lowered = raw.str.to_lowercase()
        return pl.when(lowered.is_in(_TRUE)).then(True).when(lowered.is_in(_FALSE)).then(False)
    dtype = polars_dtype(spec.type)
    assert spec.formats  # the params model requires formats for dates
    return pl.coalesce([raw.str.strptime(dtype, fmt, strict=False) for fmt in spec.formats])


_INTEGER_TEXT = r"^[+-]?[0-9]+(?:\.0*)?$"


def _integer_text(raw: pl.Expr) -> pl.Expr:
    """An integer written as text, with a spreadsheet's ``.0`` removed; null when it is not one (``1e5``, ``2.5``)."""
    return pl.when(raw.str.contains(_INTEGER_TEXT)).then(raw.str.replace(r"\.0*$", "").str.strip_prefix("+"))


def _type_reason(name: str, spec: ColumnSpec) -> pl.Expr:
    """Why a value failed its cast. An identifier's value is never repeated: the reason names the column only."""
    shown = [] if spec.identifier else ["='", _preview(f"{name}__raw"), "'"]
    if spec.type == "int":
        out_of_range = _integer_text(pl.col(f"{name}__raw")).is_not_null()
        return pl.when(out_of_range).then(_say(name, *shown, " is out of range for a 64-bit integer")).otherwise(_say(name, *shown, " is not an integer"))
    return _say(name, *shown, f" is not {_TYPE_WORDS[spec.type]}")


def _shown(name: str, spec: ColumnSpec, quoted: bool = True) -> list[str | pl.Expr]:
    """How a failed value appears in a reason: ``name='value'``, or ``name`` alone for an identifier."""
    if spec.identifier:
        return [name]
    return [f"{name}='", _preview(name), "'"] if quoted else [f"{name}=", _preview(name)]


def _bound(value: float | str, spec: ColumnSpec) -> pl.Expr:
    if spec.type == "date":
        return pl.lit(datetime.fromisoformat(str(value)).date())
    if spec.type == "datetime":
        return pl.lit(datetime.fromisoformat(str(value)), dtype=pl.Datetime("us"))
    return pl.lit(value)


def _column_checks(name: str, spec: ColumnSpec) -> list[tuple[str, pl.Expr, pl.Expr]]:
    """(rule, failed, reason) triples for one column; ``failed`` reads the typed ``name`` and raw ``name__raw``."""
    raw = pl.col(f"{name}__raw")
    typed = pl.col(name)
    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    if spec.type != "str":
        checks.append((f"type:{name}", raw.is_not_null() & typed.is_null(), _type_reason(name, spec)))
    if spec.required:
        checks.append((f"required:{name}", raw.is_null(), pl.lit(f"{name} is missing")))
    if spec.allowed is not None:
        shown = ", ".join(spec.allowed[:8]) + (", …" if len(spec.allowed) > 8 else "")
        checks.append(
            (
                f"allowed:{name}",
                typed.is_not_null() & ~typed.cast(pl.String).is_in(spec.allowed),
                _say(*_shown(name, spec), f" is not one of: {shown}"),
            )
        )
    if spec.pattern is not None:
        checks.append(
            (
                f"pattern:{name}",
                typed.is_not_null() & ~typed.str.contains(f"^(?:{spec.pattern})$"),
                _say(*_shown(name, spec), f" does not match the pattern {spec.pattern}"),
            )
        )
    if spec.min_length is not None:
        checks.append(
            (
                f"length:{name}",
                typed.str.len_chars() < spec.min_length,
                _say(f"{name} has ", typed.str.len_chars(), f" characters, fewer than {spec.min_length}"),
            )
        )
    if spec.max_length is not None:
        checks.append(
            (
                f"length:{name}",
                typed.str.len_chars() > spec.max_length,
                _say(f"{name} has ", typed.str.len_chars(), f" characters, more than {spec.max_length}"),
            )
        )
    if spec.min is not None:
        checks.append((f"range:{name}", typed < _bound(spec.min, spec), _say(*_shown(name, spec, quoted=False), f" is below the minimum {spec.min}")))
    if spec.max is not None:
        checks.append((f"range:{name}", typed > _bound(spec.max, spec), _say(*_shown(name, spec, quoted=False), f" is above the maximum {spec.max}")))
    return checks


def _deduplicate(parseable: pl.DataFrame, subset: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split into (first occurrences, later exact copies); copies name the row they repeat."""
    first_row = pl.col("_source_row").first().over(subset).alias("duplicate_of_row")
    first_file = pl.col("_source_file").first().over(subset).alias("duplicate_of_file")
    marked = parseable.with_columns(pl.struct(subset).is_first_distinct().alias("_keep"), first_row, first_file)
    kept = marked.filter("_keep").drop("_keep", "duplicate_of_row", "duplicate_of_file")
    dropped = marked.filter(~pl.col("_keep")).select(*PROVENANCE, "duplicate_of_file", "duplicate_of_row")
    return kept, dropped


def _found_column(name: str) -> str:
    return f"{name}__personal_data"


def _treat_personal_data(frame: pl.DataFrame, actions: dict[str, str], raw_ids: pl.Series | None) -> tuple[pl.DataFrame, dict[str, dict[str, Any]]]:
    """Find personal data in free-text columns, mask it as params say, and count it for the report.

    ``mask`` and ``quarantine`` columns are masked here, so that neither clean data nor the
    quarantine holds a find; ``flag`` columns keep their values, except raw identifiers.
    ``<name>__personal_data`` keeps the kind found, for the quarantine check and the flag.
    """
    if not actions:
        return frame, {}
    frame = frame.with_columns([personal_data.kind_found(name, raw_ids).alias(_found_column(name)) for name in actions])
    report: dict[str, dict[str, Any]] = {}
    for name, action in actions.items():
        kinds = frame[_found_column(name)].drop_nulls().value_counts(sort=True, name="n")
        report[name] = {"action": action, "values_found": int(kinds["n"].sum()), "kinds": dict(sorted(kinds.iter_rows()))}
    treated = []
    for name, action in actions.items():
        if action == "flag":
            is_raw_id = pl.col(_found_column(name)) == personal_data.RAW_IDENTIFIER
            treated.append(pl.when(is_raw_id).then(pl.lit(f"<{personal_data.RAW_IDENTIFIER}>")).otherwise(pl.col(name)).alias(name))
        else:
            treated.append(personal_data.masked(name, raw_ids).alias(name))
    return frame.with_columns(treated), report


def clean_frame(frame: pl.DataFrame, domain: DomainSpec, key: bytes) -> CleanResult:
    """Clean one domain's interim frame; pure apart from logging."""
    spec = domain.clean
    columns = list(domain.columns)
    rows_in = frame.height
    if RAW_RESTRICTED not in frame.columns:  # interim data from a reader that keeps no identifiers
        frame = frame.with_columns(pl.lit(None, pl.String).alias(RAW_RESTRICTED))
    frame = frame.with_row_index(_ORDER)
    frame, normalised = _normalise(frame, domain)

    broken = frame.filter(pl.col("_ingest_error").is_not_null())
    parseable = frame.filter(pl.col("_ingest_error").is_null())
    if spec.dedupe:
        parseable, duplicates = _deduplicate(parseable, spec.dedupe_subset or columns)
    else:
        duplicates = (
            parseable.clear()
            .select(*PROVENANCE)
            .with_columns(pl.lit(None, pl.String).alias("duplicate_of_file"), pl.lit(None, pl.Int64).alias("duplicate_of_row"))
        )

    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    actions = domain.personal_data_actions()
    raw_ids = pl.concat([frame[name] for name in identifiers]).drop_nulls().unique().sort() if identifiers else None
    parseable, personal = _treat_personal_data(parseable, actions, raw_ids)

    checks: list[tuple[str, pl.Expr, pl.Expr]] = []
    for name, column in domain.columns.items():
        checks.extend(_column_checks(name, column))
    for name, action in actions.items():
        if action == "quarantine":
            found = pl.col(_found_column(name))
            words = found.replace_strict(personal_data.WORDS, default=None, return_dtype=pl.String)
            checks.append((f"personal_data:{name}", found.is_not_null(), _say(f"{name} holds ", words, " (masked here)")))
    if spec.unique_key:
        key_cols = spec.unique_key
        repeated = ~pl.struct(key_cols).is_first_distinct() & pl.all_horizontal([pl.col(c).is_not_null() for c in key_cols])
        first_line = pl.col("_source_row").first().over(key_cols)
        label = ", ".join(key_cols)
        checks.append((f"duplicate_key:{label}", repeated, _say(f"{label} repeats the key of line ", first_line, " with different values")))
    for rule in spec.rules:
        if rule.action == "quarantine":
            checks.append((rule.name, pl.sql_expr(rule.when).fill_null(False), pl.lit(rule.reason)))

    typed = (
        parseable.lazy()
        .with_columns([pl.col(name).alias(f"{name}__raw") for name in columns])
        .with_columns([_cast(name, column).alias(name) for name, column in domain.columns.items()])
    )
    failed = [expr.fill_null(False) for _, expr, _ in checks]
    first_rule = (
        pl.coalesce([pl.when(fail).then(pl.lit(rule)) for (rule, _, _), fail in zip(checks, failed, strict=True)]) if checks else pl.lit(None, pl.String)
    )
    reasons = (
        pl.concat_str([pl.when(fail).then(reason) for (_, _, reason), fail in zip(checks, failed, strict=True)], separator="; ", ignore_nulls=True)
        if checks
        else pl.lit(None, pl.String)
    )
    flags = [pl.sql_expr(rule.when).fill_null(False).alias(rule.name) for rule in spec.rules if rule.action == "flag"]
    checked = typed.with_columns(first_rule.alias("_rule"), reasons.alias("_reason"), *flags).collect()

    flag_names = [rule.name for rule in spec.rules if rule.action == "flag"]
    personal_flags = [pl.col(_found_column(name)).is_not_null().alias(f"personal_data_{name}") for name, action in actions.items() if action == "flag"]
    good = checked.filter(pl.col("_rule").is_null())
    good = good.with_columns([pseudonymise(good[name], key) for name in identifiers])
    derived = [pl.sql_expr(item.expr).alias(item.name) for item in spec.derived]
    clean = good.with_columns(*derived, *personal_flags).select(
        *columns, *flag_names, *[d.name for d in spec.derived], *[flag.meta.output_name() for flag in personal_flags], *PROVENANCE
    )

    rejected = checked.filter(pl.col("_rule").is_not_null()).select(
        _ORDER, *[pl.col(f"{name}__raw").alias(name) for name in columns], *PROVENANCE, "_raw", "_rule", "_reason"
    )
    broken = broken.select(_ORDER, *columns, *PROVENANCE, RAW, RAW_RESTRICTED, pl.lit("ingest").alias("_rule"), pl.col("_ingest_error").alias("_reason"))
    if actions:
        # A broken line's free text is not split into columns: mask personal data in all of it.
        shown = personal_data.masked(RAW)
        broken = broken.with_columns(shown.alias(RAW), pl.coalesce(RAW_RESTRICTED, pl.when(shown != pl.col(RAW)).then(pl.col(RAW))).alias(RAW_RESTRICTED))
    rejected = rejected.with_columns(pl.lit(None, pl.String).alias(RAW_RESTRICTED))
    quarantine = pl.concat([broken, rejected], how="diagonal").sort(_ORDER)
    restricted = quarantine.filter(pl.col(RAW_RESTRICTED).is_not_null()).select(*PROVENANCE, "_rule", "_reason", pl.col(RAW_RESTRICTED).alias(RAW))
    # Quarantine is read by stewards, but it is still no place for raw identifiers: ids are
    # pseudonymised, reasons never repeat them, and ``_raw`` has them masked (assay.ingest.tabular).
    quarantine = quarantine.with_columns([pseudonymise(quarantine[name], key) for name in identifiers]).drop(_ORDER, RAW_RESTRICTED)
    # Flagged personal data stays in clean data by the steward's choice, never in quarantine.
    quarantine = quarantine.with_columns([personal_data.masked(name, raw_ids).alias(name) for name, action in actions.items() if action == "flag"])

    report = _report(rows_in, clean, quarantine, duplicates, spec, normalised, identifiers, flag_names)
    report["restricted_lines"] = restricted.height
    report["personal_data"] = personal
    return CleanResult(clean=clean, quarantine=quarantine, restricted=restricted, report=report)


def _report(
    rows_in: int,
    clean: pl.DataFrame,
    quarantine: pl.DataFrame,
    duplicates: pl.DataFrame,
    spec: Any,
    normalised: dict[str, int],
    identifiers: list[str],
    flag_names: list[str],
) -> dict[str, Any]:
    rows_clean, rows_quarantined, rows_deduplicated = clean.height, quarantine.height, duplicates.height
    if rows_in != rows_clean + rows_quarantined + rows_deduplicated:
        raise RuntimeError(f"row accounting broke: {rows_in} in != {rows_clean} clean + {rows_quarantined} quarantined + {rows_deduplicated} deduplicated")
    rules = {rule.name: 0 for rule in spec.rules if rule.action == "quarantine"}
    for rule, count in quarantine.group_by("_rule").len().sort("_rule").iter_rows():
        rules[rule] = count
    return {
        "rows_in": rows_in,
        "rows_clean": rows_clean,
        "rows_quarantined": rows_quarantined,
        "rows_deduplicated": rows_deduplicated,
        "rules": dict(sorted(rules.items())),
        "flags": {name: int(clean[name].sum()) for name in flag_names},
        "normalised": normalised,
        "pseudonymised_columns": identifiers,
        "duplicate_examples": duplicates.head(20).to_dicts(),
    }
