"""Stage ``clean``: typed, rule-checked data plus a quarantine that says why each row was rejected.

The rules come from ``params.yaml`` (``domains.<d>.columns`` and ``domains.<d>.clean``) and run
in this order, as polars expressions over each batch of interim rows (:class:`Cleaner`):

1. normalise text: trim, Unicode normal form, whitespace collapsing, mojibake repair (ftfy),
   missing-value markers to null;
2. drop exact duplicates (counted, with the row each one repeats);
3. per column: strict type cast, required, allowed values, pattern, length, range;
4. key uniqueness, then the domain rules (SQL over typed columns), ``quarantine`` or ``flag``;
5. pseudonymise direct identifiers (keyed hash), add derived columns.

A row goes to quarantine with ``_rule`` (the first check it failed) and ``_reason`` (every
failure, in words). The stage guarantees ``rows_in == rows_clean + rows_quarantined +
rows_deduplicated`` and fails loudly if its own arithmetic ever breaks that.

The stage reads the interim file in batches of ``CLEAN_BATCH_ROWS`` and writes clean data,
quarantine and the restricted quarantine as it goes (:func:`clean_file`), so memory does not grow
with the data; the outputs are byte for byte those of cleaning the whole frame at once.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import INGEST_ERROR, PROVENANCE, RAW, RAW_RESTRICTED, SOURCE_FILE, SOURCE_ROW
from assay.config import ColumnSpec, DomainSpec, polars_dtype
from assay.data import personal_data
from assay.errors import AssayError
from assay.io import ParquetBatchWriter, row_group_sizes

log = logging.getLogger("assay.clean")

PSEUDONYM_KEY_ENV = "ASSAY_PSEUDONYM_KEY"
# Public on purpose: it makes the demo reproducible. Real runs must set ASSAY_PSEUDONYM_KEY.
DEMO_PSEUDONYM_KEY = "assay-demo-key-not-secret"
VALUE_PREVIEW = 60
MOJIBAKE_HINT = r"[ÃÂâ€ï¿½Ð]"
ORDER_COLUMN = "_order"

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


def _by_value(values: pl.Series, change: Callable[[pl.Expr], pl.Expr]) -> pl.Series:
    """``change`` applied to every value, worked out once per distinct value: columns repeat their values."""
    distinct = values.drop_nulls().unique().to_frame("_value")
    changed = distinct.with_columns(change(pl.col("_value")).alias("_changed")).filter(pl.col("_changed") != pl.col("_value"))
    return values if changed.is_empty() else values.replace(changed["_value"], changed["_changed"])


def _unicode_normal_form(values: pl.Series, form: str) -> pl.Series:
    """Each value in the Unicode normal form; ASCII text is in every form already, so only the rest is normalised."""
    at = (values.str.len_bytes() != values.str.len_chars()).fill_null(False).arg_true()
    return values if at.is_empty() else values.clone().scatter(at, values.gather(at).str.normalize(form))


def normalise(frame: pl.DataFrame, domain: DomainSpec, columns: list[str] | None = None) -> tuple[pl.DataFrame, dict[str, int]]:
    """Normalise ``columns`` (default: all the domain's) as the clean spec says; counts of what changed."""
    spec = domain.clean
    columns = list(domain.columns) if columns is None else columns
    before = frame.select(columns)
    if spec.trim:
        frame = frame.with_columns(pl.col(name).str.strip_chars() for name in columns)
    for name in columns:
        values = frame[name]
        if name in spec.collapse_whitespace:
            values = _by_value(values, lambda value: value.str.replace_all(r"\s+", " "))
        if spec.unicode_form:
            values = _unicode_normal_form(values, spec.unicode_form)
        frame = frame.with_columns(values)
    mojibake_fixed = 0
    for name in (name for name in spec.fix_mojibake if name in columns):
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


def _found_column(name: str) -> str:
    return f"{name}__personal_data"


def _treat_personal_data(frame: pl.DataFrame, actions: dict[str, str], raw_ids: pl.Series | None) -> pl.DataFrame:
    """Find personal data in free-text columns and mask it as params say; ``<name>__personal_data`` keeps the kind found.

    ``mask`` and ``quarantine`` columns are masked here, so that neither clean data nor the
    quarantine holds a find; ``flag`` columns keep their values, except raw identifiers.
    The kind found is for the quarantine check, the flag and the report's counts.
    The patterns run once per distinct value, not once per row.
    """
    for name, action in actions.items():
        value = pl.col(name)
        kind = personal_data.kind_found(value, raw_ids)
        if action == "flag":
            treated = pl.when(kind == personal_data.RAW_IDENTIFIER).then(pl.lit(f"<{personal_data.RAW_IDENTIFIER}>")).otherwise(value)
        else:
            treated = personal_data.masked(value, raw_ids)
        found = frame.select(value.drop_nulls().unique()).with_columns(kind.alias("_kind"), treated.alias("_treated")).filter(pl.col("_kind").is_not_null())
        kinds = frame[name].replace_strict(found[name], found["_kind"], default=None, return_dtype=pl.String).alias(_found_column(name))
        frame = frame.with_columns(kinds, frame[name].replace(found[name], found["_treated"]))
    return frame


FINGERPRINT_SEEDS = (0x5EED1, 0xA55A2)
EXAMPLE_DUPLICATES = 20


class _Duplicates:
    """Exact duplicates across batches: the first occurrence of every distinct row seen so far.

    Within a batch, rows are grouped by a 64-bit hash of their values and each repeat is
    compared value by value with the row it repeats (where a hash is shared by two different
    rows, the batch is grouped by the values themselves). Across batches a row is known by a
    128-bit fingerprint (two independent 64-bit hashes), so 28 bytes are held per distinct row,
    not the row: two different rows share a fingerprint with a probability of about n² / 2¹²⁹,
    10⁻²⁴ for 50 million rows.
    """

    def __init__(self, subset: list[str]) -> None:
        self.subset = subset
        self.files: dict[str, int] = {}
        self._seen: list[pl.DataFrame] = []  # _fp1, _fp2, _seen_file (code in self.files), _seen_row
        self.count = 0
        self.examples: list[dict[str, Any]] = []

    def _with_earlier(self, firsts: pl.DataFrame) -> pl.DataFrame:
        """``firsts`` with the file and line of the same row in an earlier batch (null where there is none).

        What was seen is probed against a hash table of the batch's first 64 bits (one key, one
        table per batch), and a match must agree on the other 64.
        """
        if not self._seen:
            return firsts.with_columns(pl.lit(None, pl.UInt32).alias("_seen_file"), pl.lit(None, pl.Int64).alias("_seen_row"))
        keys = firsts.select("_fp1", "_fp2").with_row_index("_at")
        found = pl.concat(self._seen, rechunk=False).join(keys, on="_fp1", how="inner", suffix="_batch")
        found = found.filter(pl.col("_fp2") == pl.col("_fp2_batch")).select("_at", "_seen_file", "_seen_row")
        return firsts.with_row_index("_at").join(found, on="_at", how="left", maintain_order="left").drop("_at")

    def keep(self, parseable: pl.DataFrame) -> pl.DataFrame:
        """The rows of a batch that repeat no earlier row, of this batch or an earlier one."""
        height = parseable.height
        values = parseable.select(self.subset)
        fp1, fp2 = (values.hash_rows(seed) for seed in FINGERPRINT_SEEDS)
        position = pl.int_range(height, dtype=pl.Int64, eager=True)
        first_at = pl.DataFrame({"_fp1": fp1, "_at": position}).select(pl.col("_at").first().over("_fp1")).to_series()
        repeats = position.filter(first_at != position)
        if repeats.len():
            of = first_at.gather(repeats)
            if not all(values[name].gather(repeats).eq_missing(values[name].gather(of)).all() for name in self.subset):
                # Two different rows share the hash: group this batch by the values themselves.
                first_at = values.with_columns(position.alias("_at")).select(pl.col("_at").first().over(self.subset)).to_series()
        is_first = first_at == position
        for name in parseable[SOURCE_FILE].unique(maintain_order=True).to_list():
            self.files.setdefault(name, len(self.files))
        firsts = pl.DataFrame(
            {
                "_fp1": fp1.filter(is_first),
                "_fp2": fp2.filter(is_first),
                "_file": parseable[SOURCE_FILE].filter(is_first).replace_strict(self.files, return_dtype=pl.UInt32),
                "_row": parseable[SOURCE_ROW].filter(is_first),
            },
            schema={"_fp1": pl.UInt64, "_fp2": pl.UInt64, "_file": pl.UInt32, "_row": pl.Int64},
        )
        firsts = self._with_earlier(firsts)
        is_new = firsts["_seen_row"].is_null()
        self._seen = _appended(self._seen, firsts.filter(is_new).select("_fp1", "_fp2", pl.col("_file").alias("_seen_file"), pl.col("_row").alias("_seen_row")))
        # Each row's first occurrence: in an earlier batch if seen there, else its group's first here.
        slot = pl.repeat(None, height, dtype=pl.Int64, eager=True).scatter(position.filter(is_first), pl.int_range(firsts.height, dtype=pl.Int64, eager=True))
        group = slot.gather(first_at)
        keep = is_first & is_new.gather(group)
        if not keep.all():
            self.count += int((~keep).sum())
            if len(self.examples) < EXAMPLE_DUPLICATES:
                names = list(self.files)
                dropped = position.filter(~keep).head(EXAMPLE_DUPLICATES - len(self.examples))
                origin = firsts.select(pl.coalesce("_seen_file", "_file"), pl.coalesce("_seen_row", "_row")).gather(group.gather(dropped))
                for index, (code, row) in zip(dropped.to_list(), origin.rows(), strict=True):
                    example = {SOURCE_FILE: parseable[SOURCE_FILE][index], SOURCE_ROW: parseable[SOURCE_ROW][index]}
                    self.examples.append(example | {"duplicate_of_file": names[code], "duplicate_of_row": row})
        return parseable.filter(keep)


class _FirstKeys:
    """Key uniqueness across batches: the first line of every key seen so far (exact values, one row per distinct key)."""

    def __init__(self, key: list[str]) -> None:
        self.key = key
        self._seen: list[pl.DataFrame] = []

    def mark(self, typed: pl.DataFrame) -> pl.DataFrame:
        """``typed`` with ``_key_repeated`` (a complete key seen in an earlier row) and ``_key_first_line``."""
        key = self.key
        complete = pl.all_horizontal([pl.col(name).is_not_null() for name in key])
        marked = typed.with_columns(
            (~pl.struct(key).is_first_distinct() & complete).alias("_key_repeated"),
            pl.col(SOURCE_ROW).first().over(key).alias("_key_first_line"),
        )
        if self._seen:
            marked = _with_earlier(marked, self._seen, key, {"_seen_line": pl.Int64}).with_columns(
                (pl.col("_key_repeated") | pl.col("_seen_line").is_not_null()).alias("_key_repeated"),
                pl.coalesce("_seen_line", "_key_first_line").alias("_key_first_line"),
            )
            new = marked.filter(complete & pl.col("_seen_line").is_null() & ~pl.col("_key_repeated"))
            marked = marked.drop("_seen_line")
        else:
            new = marked.filter(complete & ~pl.col("_key_repeated"))
        self._seen = _appended(self._seen, new.select(*key, pl.col(SOURCE_ROW).alias("_seen_line")))
        return marked


# What was seen is kept in at most this many pieces: probing one piece is about twice as fast as
# probing twenty, and joining them costs a copy, so every few batches they become one.
_SEEN_PIECES = 8


def _appended(seen: list[pl.DataFrame], new: pl.DataFrame) -> list[pl.DataFrame]:
    seen = [*seen, new]
    return [pl.concat(seen, rechunk=True)] if len(seen) > _SEEN_PIECES else seen


def _with_earlier(batch: pl.DataFrame, seen: list[pl.DataFrame], on: list[str], columns: dict[str, pl.DataType]) -> pl.DataFrame:
    """``batch`` with ``columns`` of its rows' entries in ``seen`` (keys distinct there), null where there is none.

    ``seen`` grows with every batch: it is probed against a hash table of the batch's keys, so a
    batch costs a scan of what was seen, not a new table of it.
    """
    if not seen:
        return batch.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in columns.items())
    keys = batch.select(on).with_row_index("_at").filter(pl.all_horizontal(pl.col(name).is_not_null() for name in on))
    found = pl.concat(seen, rechunk=False).join(keys, on=on, how="inner").select("_at", *columns)
    return batch.with_row_index("_at").join(found, on="_at", how="left", maintain_order="left").drop("_at")


def raw_identifiers(batches: Iterable[pl.DataFrame], domain: DomainSpec) -> pl.Series | None:
    """Every distinct identifier value of the domain's data, normalised as cleaning does, sorted; None without identifiers.

    Free text equal to one of them is personal data (:mod:`assay.data.personal_data`), so this
    is known before the first batch is cleaned.
    """
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    if not identifiers:
        return None
    parts = []
    for batch in batches:
        normalised, _ = normalise(batch.select(identifiers), domain, identifiers)
        parts.extend(normalised[name].drop_nulls().unique() for name in identifiers)
    if not parts:
        return pl.Series(dtype=pl.String)
    return pl.concat(parts).unique().sort()


class Cleaner:
    """Cleans one domain's interim rows batch by batch; the rules are polars expressions, built once.

    Row-local rules run on each batch alone; what spans batches is kept small: the raw
    identifiers (given up front), the first occurrence of each distinct row (dedupe) and of
    each key (``unique_key``), and the report's counts. Batches must come in file order, and
    the outputs of the batches, concatenated, are what cleaning the whole frame at once gives.
    """

    def __init__(self, domain: DomainSpec, key: bytes, raw_ids: pl.Series | None) -> None:
        self.domain, self.key, self.raw_ids = domain, key, raw_ids
        spec = self.spec = domain.clean
        self.columns = list(domain.columns)
        self.identifiers = [name for name, column in domain.columns.items() if column.identifier]
        self.actions = domain.personal_data_actions()
        self.flag_names = [rule.name for rule in spec.rules if rule.action == "flag"]
        self.duplicates = _Duplicates(spec.dedupe_subset or self.columns) if spec.dedupe else None
        self.first_keys = _FirstKeys(spec.unique_key) if spec.unique_key else None
        checks: list[tuple[str, pl.Expr, pl.Expr]] = []
        for name, column in domain.columns.items():
            checks.extend(_column_checks(name, column))
        for name, action in self.actions.items():
            if action == "quarantine":
                found = pl.col(_found_column(name))
                words = found.replace_strict(personal_data.WORDS, default=None, return_dtype=pl.String)
                checks.append((f"personal_data:{name}", found.is_not_null(), _say(f"{name} holds ", words, " (masked here)")))
        if spec.unique_key:
            label = ", ".join(spec.unique_key)
            reason = _say(f"{label} repeats the key of line ", pl.col("_key_first_line"), " with different values")
            checks.append((f"duplicate_key:{label}", pl.col("_key_repeated"), reason))
        for rule in spec.rules:
            if rule.action == "quarantine":
                checks.append((rule.name, pl.sql_expr(rule.when).fill_null(False), pl.lit(rule.reason)))
        failed = [expr.fill_null(False) for _, expr, _ in checks]
        self.first_rule = (
            pl.coalesce([pl.when(fail).then(pl.lit(rule)) for (rule, _, _), fail in zip(checks, failed, strict=True)]) if checks else pl.lit(None, pl.String)
        )
        self.reasons = (
            pl.concat_str([pl.when(fail).then(reason) for (_, _, reason), fail in zip(checks, failed, strict=True)], separator="; ", ignore_nulls=True)
            if checks
            else pl.lit(None, pl.String)
        )
        self.flags = [pl.sql_expr(rule.when).fill_null(False).alias(rule.name) for rule in spec.rules if rule.action == "flag"]
        self.derived = [pl.sql_expr(item.expr).alias(item.name) for item in spec.derived]
        self.personal_flags = [
            pl.col(_found_column(name)).is_not_null().alias(f"personal_data_{name}") for name, action in self.actions.items() if action == "flag"
        ]
        self.rows_in = 0
        self.rows_clean = 0
        self.rows_quarantined = 0
        self.restricted_lines = 0
        self.rules: Counter[str] = Counter({rule.name: 0 for rule in spec.rules if rule.action == "quarantine"})
        self.flag_counts: Counter[str] = Counter({name: 0 for name in self.flag_names})
        self.normalised_counts: Counter[str] = Counter({"values_trimmed_or_normalised": 0, "mojibake_repaired": 0, "missing_markers_to_null": 0})
        self.personal: dict[str, dict[str, Any]] = {name: {"action": action, "values_found": 0, "kinds": Counter()} for name, action in self.actions.items()}

    def batch(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        """(clean, quarantine, restricted) rows of the next batch of interim rows."""
        frame = self.normalised(frame.with_row_index(ORDER_COLUMN, offset=self.rows_in))
        broken = frame.filter(pl.col(INGEST_ERROR).is_not_null())
        parseable = frame.filter(pl.col(INGEST_ERROR).is_null())
        if self.duplicates:
            parseable = self.duplicates.keep(parseable)
        typed = self.typed(parseable)
        if self.first_keys:
            typed = self.first_keys.mark(typed)
        clean, rejected = self.checked(typed)
        quarantine, restricted = self.finished(pl.concat([self.broken(broken), rejected], how="diagonal").sort(ORDER_COLUMN))
        return clean.drop(ORDER_COLUMN), quarantine.drop(ORDER_COLUMN), restricted.drop(ORDER_COLUMN)

    # The phases of a batch. Each one is row-local, given what spans batches (raw identifiers,
    # dedupe, first keys), and adds to the report's counts: the Spark engine
    # (assay/data/spark_clean.py) runs them on each partition and merges the counts.

    def normalised(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Interim rows (with ``_order``) normalised as the clean spec says."""
        if RAW_RESTRICTED not in frame.columns:  # interim data from a reader that keeps no identifiers
            frame = frame.with_columns(pl.lit(None, pl.String).alias(RAW_RESTRICTED))
        self.rows_in += frame.height
        frame, normalised = normalise(frame, self.domain)
        self.normalised_counts.update(normalised)
        return frame

    def typed(self, parseable: pl.DataFrame) -> pl.DataFrame:
        """Parseable rows with personal data treated (its kind in ``<name>__personal_data``), then cast: ``name`` typed, ``name__raw`` as read."""
        parseable = _treat_personal_data(parseable, self.actions, self.raw_ids)
        return (
            parseable.lazy()
            .with_columns([pl.col(name).alias(f"{name}__raw") for name in self.columns])
            .with_columns([_cast(name, column).alias(name) for name, column in self.domain.columns.items()])
            .collect()
        )

    def checked(self, typed: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(clean rows, rejected rows in quarantine's layout) of typed rows whose key marks are set; both keep ``_order``."""
        self._count_personal_data(typed)
        checked = typed.with_columns(self.first_rule.alias("_rule"), *self.flags)
        is_good = pl.col("_rule").is_null()

        good = checked.filter(is_good)
        good = good.with_columns([pseudonymise(good[name], self.key) for name in self.identifiers])
        clean = good.with_columns(*self.derived, *self.personal_flags).select(
            ORDER_COLUMN,
            *self.columns,
            *self.flag_names,
            *[d.name for d in self.spec.derived],
            *[flag.meta.output_name() for flag in self.personal_flags],
            *PROVENANCE,
        )
        self.rows_clean += clean.height
        self.flag_counts.update({name: int(clean[name].sum()) for name in self.flag_names})

        # Reasons are worded only for the rows that keep them.
        rejected = checked.filter(~is_good).with_columns(self.reasons.alias("_reason"))
        rejected = rejected.select(ORDER_COLUMN, *[pl.col(f"{name}__raw").alias(name) for name in self.columns], *PROVENANCE, RAW, "_rule", "_reason")
        return clean, rejected.with_columns(pl.lit(None, pl.String).alias(RAW_RESTRICTED))

    def broken(self, broken: pl.DataFrame) -> pl.DataFrame:
        """Rows ingest could not parse, in quarantine's layout."""
        broken = broken.select(
            ORDER_COLUMN, *self.columns, *PROVENANCE, RAW, RAW_RESTRICTED, pl.lit("ingest").alias("_rule"), pl.col(INGEST_ERROR).alias("_reason")
        )
        if self.actions:
            # A broken line's free text is not split into columns: mask personal data in all of it.
            shown = personal_data.masked(RAW)
            broken = broken.with_columns(shown.alias(RAW), pl.coalesce(RAW_RESTRICTED, pl.when(shown != pl.col(RAW)).then(pl.col(RAW))).alias(RAW_RESTRICTED))
        return broken

    def finished(self, quarantine: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(quarantine, restricted) rows from rows in quarantine's layout; both keep ``_order``."""
        restricted = quarantine.filter(pl.col(RAW_RESTRICTED).is_not_null()).select(
            ORDER_COLUMN, *PROVENANCE, "_rule", "_reason", pl.col(RAW_RESTRICTED).alias(RAW)
        )
        # Quarantine is read by stewards, but it is still no place for raw identifiers: ids are
        # pseudonymised, reasons never repeat them, and ``_raw`` has them masked (assay.ingest.tabular).
        quarantine = quarantine.with_columns([pseudonymise(quarantine[name], self.key) for name in self.identifiers]).drop(RAW_RESTRICTED)
        # Flagged personal data stays in clean data by the steward's choice, never in quarantine.
        quarantine = quarantine.with_columns(
            [personal_data.masked(name, self.raw_ids).alias(name) for name, action in self.actions.items() if action == "flag"]
        )
        self.rows_quarantined += quarantine.height
        self.restricted_lines += restricted.height
        self.rules.update(dict(quarantine.group_by("_rule").len().iter_rows()))
        return quarantine, restricted

    def _count_personal_data(self, typed: pl.DataFrame) -> None:
        for name in self.actions:
            counts = typed[_found_column(name)].drop_nulls().value_counts(sort=True, name="n")
            self.personal[name]["values_found"] += int(counts["n"].sum())
            self.personal[name]["kinds"].update(dict(counts.iter_rows()))

    def counts(self) -> dict[str, Any]:
        """What the phases have counted, as JSON: another engine's partitions send theirs to :meth:`add_counts`."""
        return {
            "rows_in": self.rows_in,
            "rows_clean": self.rows_clean,
            "rows_quarantined": self.rows_quarantined,
            "restricted_lines": self.restricted_lines,
            "rules": dict(self.rules),
            "flags": dict(self.flag_counts),
            "normalised": dict(self.normalised_counts),
            "personal_data": {name: {"values_found": found["values_found"], "kinds": dict(found["kinds"])} for name, found in self.personal.items()},
        }

    def add_counts(self, counts: dict[str, Any]) -> None:
        """Add the counts of another cleaner of the same domain (a Spark partition's)."""
        self.rows_in += counts["rows_in"]
        self.rows_clean += counts["rows_clean"]
        self.rows_quarantined += counts["rows_quarantined"]
        self.restricted_lines += counts["restricted_lines"]
        self.rules.update(counts["rules"])
        self.flag_counts.update(counts["flags"])
        self.normalised_counts.update(counts["normalised"])
        for name, found in counts["personal_data"].items():
            self.personal[name]["values_found"] += found["values_found"]
            self.personal[name]["kinds"].update(found["kinds"])

    def report(self) -> dict[str, Any]:
        """The cleaning report; raises if the rows do not add up."""
        rows_deduplicated = self.duplicates.count if self.duplicates else 0
        if self.rows_in != self.rows_clean + self.rows_quarantined + rows_deduplicated:
            raise RuntimeError(
                f"row accounting broke: {self.rows_in} in != {self.rows_clean} clean + {self.rows_quarantined} quarantined + {rows_deduplicated} deduplicated"
            )
        return {
            "rows_in": self.rows_in,
            "rows_clean": self.rows_clean,
            "rows_quarantined": self.rows_quarantined,
            "rows_deduplicated": rows_deduplicated,
            "rules": dict(sorted(self.rules.items())),
            "flags": dict(self.flag_counts),
            "normalised": dict(self.normalised_counts),
            "pseudonymised_columns": self.identifiers,
            "duplicate_examples": self.duplicates.examples if self.duplicates else [],
            "restricted_lines": self.restricted_lines,
            "personal_data": {
                name: {"action": found["action"], "values_found": found["values_found"], "kinds": dict(sorted(found["kinds"].items()))}
                for name, found in self.personal.items()
            },
        }


CLEAN_BATCH_ROWS = 1 << 18


def _slices(frame: pl.DataFrame, rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, max(frame.height, 1), rows):
        yield frame.slice(offset, rows)


def clean_frame(frame: pl.DataFrame, domain: DomainSpec, key: bytes, batch_rows: int = CLEAN_BATCH_ROWS) -> CleanResult:
    """Clean one domain's interim frame in memory (batches of ``batch_rows``); pure apart from logging."""
    cleaner = Cleaner(domain, key, raw_identifiers(_slices(frame, batch_rows), domain))
    parts = [cleaner.batch(batch) for batch in _slices(frame, batch_rows)]
    clean, quarantine, restricted = (pl.concat([part[i] for part in parts]) for i in range(3))
    return CleanResult(clean=clean, quarantine=quarantine, restricted=restricted, report=cleaner.report())


def parquet_batches(path: Path, rows: int) -> Iterator[pl.DataFrame]:
    """A Parquet file in batches of about ``rows`` rows, read one at a time along its row groups.

    (polars' own batched reading reads ahead as far as memory allows; this holds one batch.) The
    interim file has the row groups polars gives its height; a file laid out otherwise is read
    the same way, at the cost of decoding some row groups twice.
    """
    scan = pl.scan_parquet(path)
    offset, take = 0, 0
    for size in row_group_sizes(scan.select(pl.len()).collect().item()):
        if take and take + size > rows:
            yield scan.slice(offset, take).collect()
            offset, take = offset + take, 0
        take += size
    if take:
        yield scan.slice(offset, take).collect()


def clean_file(
    interim: Path, domain: DomainSpec, key: bytes, out: Path, quarantine: Path, restricted: Path, batch_rows: int = CLEAN_BATCH_ROWS
) -> dict[str, Any]:
    """Clean an interim Parquet file batch by batch into the three outputs (each written atomically); return the report.

    The interim file is read twice: its identifier columns first (:func:`raw_identifiers`),
    then every column, one batch at a time.
    """
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    scan = pl.scan_parquet(interim)
    raw_ids = raw_identifiers((batch.select(identifiers) for batch in parquet_batches(interim, batch_rows)), domain) if identifiers else None
    cleaner = Cleaner(domain, key, raw_ids)
    writers = [ParquetBatchWriter(path) for path in (out, quarantine, restricted)]
    try:
        for batch in parquet_batches(interim, batch_rows):
            for writer, rows in zip(writers, cleaner.batch(batch), strict=True):
                writer.write(rows)
        if cleaner.rows_in == 0:
            for writer, rows in zip(writers, cleaner.batch(scan.head(0).collect()), strict=True):
                writer.write(rows)
        report = cleaner.report()
        for writer in writers:
            writer.close()
    finally:
        for writer in writers:
            writer.discard()
    return report
