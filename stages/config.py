"""Typed, self-validating view of ``params.yaml``.

Every stage reads its settings through :func:`load_params`, so a typo in a key, a wrong type or
a missing source file is reported once, in one line naming the key or path, before any work
starts. Cleaning rules are data, not code: a steward edits them here (see README, "Cleaning
rules"), and adding a domain is a new entry under ``domains``.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from stages.errors import AssayError

DEFAULT_PARAMS = Path("params.yaml")
DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class StrictModel(BaseModel):
    """Base for every params section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(StrictModel):
    delimiter: str = Field("auto", description="One character, or 'auto' to pick the one that splits the header into the expected columns.")
    quote_char: str = Field('"', min_length=1, max_length=1)
    encoding: str = Field("auto", description="A Python codec name, or 'auto': UTF-8 when it decodes, else detected.")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value != "auto" and len(value) != 1:
            raise ValueError("must be one character or 'auto'")
        return value


class Source(StrictModel):
    path: Path
    format: Literal["csv", "parquet", "cnxml", "markdown"]
    csv: CsvOptions = CsvOptions()
    collections: list[str] = Field(default_factory=list, description="cnxml only: collection slugs giving the chapter structure.")

    @model_validator(mode="after")
    def _collections_only_for_cnxml(self) -> Source:
        if self.format == "cnxml" and not self.collections:
            raise ValueError("a cnxml source needs at least one entry in 'collections'")
        if self.format != "cnxml" and self.collections:
            raise ValueError("'collections' applies to cnxml sources only")
        return self


ColumnType = Literal["str", "int", "float", "bool", "date", "datetime"]


class ColumnSpec(StrictModel):
    type: ColumnType = "str"
    required: bool = False
    identifier: bool = Field(False, description="A direct identifier: replaced by a keyed hash in clean data.")
    allowed: list[str] | None = None
    min: float | str | None = Field(None, description="Lowest allowed value; an ISO date for date/datetime columns.")
    max: float | str | None = Field(None, description="Highest allowed value; an ISO date for date/datetime columns.")
    pattern: str | None = Field(None, description="Regular expression the whole value must match (str columns).")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    formats: list[str] | None = Field(None, description="strptime formats tried in order (date/datetime columns).")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.type in ("date", "datetime") and not self.formats:
            raise ValueError(f"a {self.type} column needs 'formats'")
        if self.formats and self.type not in ("date", "datetime"):
            raise ValueError("'formats' applies to date and datetime columns only")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float", "date", "datetime"):
            raise ValueError("'min'/'max' apply to numeric, date and datetime columns")
        for bound in (self.min, self.max):
            if bound is None:
                continue
            if self.type in ("date", "datetime"):
                try:
                    datetime.fromisoformat(str(bound))
                except ValueError:
                    raise ValueError(f"min/max {bound!r} must be an ISO date for a {self.type} column") from None
            elif isinstance(bound, str):
                raise ValueError(f"min/max {bound!r} must be a number for a {self.type} column")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regular expression: {exc}") from None
        return self


class Rule(StrictModel):
    """A domain rule over typed columns, written as a polars SQL boolean expression."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    when: str = Field(description="SQL boolean expression; rows where it is true are acted on.")
    action: Literal["quarantine", "flag"] = "quarantine"
    reason: str = Field(min_length=1, description="Words a steward reads in the quarantine and the report.")


class Derived(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    expr: str = Field(description="SQL expression over typed columns.")


class CleanSpec(StrictModel):
    null_values: list[str] = Field(default_factory=lambda: [""])
    trim: bool = True
    unicode_form: Literal["NFC", "NFKC"] | None = "NFC"
    fix_mojibake: list[str] = Field(default_factory=list)
    collapse_whitespace: list[str] = Field(default_factory=list)
    dedupe: bool = True
    dedupe_subset: list[str] | None = Field(None, description="Columns that define an exact duplicate; default all data columns.")
    unique_key: list[str] | None = None
    rules: list[Rule] = Field(default_factory=list)
    derived: list[Derived] = Field(default_factory=list)


class DomainSpec(StrictModel):
    description: str
    raw_dir: Path = Field(description="Folder holding every source; dvc.yaml tracks it as the ingest dependency.")
    sources: list[Source] = Field(min_length=1)
    max_field_chars: int = Field(100_000, ge=1)
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    clean: CleanSpec = CleanSpec()

    @model_validator(mode="after")
    def _references_exist(self) -> DomainSpec:
        known = set(self.columns)
        clean = self.clean
        for key, names in (
            ("clean.fix_mojibake", clean.fix_mojibake),
            ("clean.collapse_whitespace", clean.collapse_whitespace),
            ("clean.dedupe_subset", clean.dedupe_subset or []),
            ("clean.unique_key", clean.unique_key or []),
        ):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(f"{key} names unknown column(s) {unknown}; known: {sorted(known)}")
        derived = [d.name for d in clean.derived]
        clash = sorted(set(derived) & known)
        if clash:
            raise ValueError(f"clean.derived redefines existing column(s) {clash}")
        return self


class Params(StrictModel):
    domains: dict[str, DomainSpec] = Field(min_length=1)

    @field_validator("domains")
    @classmethod
    def _domain_names(cls, value: dict[str, DomainSpec]) -> dict[str, DomainSpec]:
        for name in value:
            if not DOMAIN_NAME.match(name):
                raise ValueError(f"domain name {name!r} must be lower-case letters, digits and '_'")
        return value

    def domain(self, name: str) -> DomainSpec:
        """The named domain's spec, or a one-line error listing the known domains."""
        try:
            return self.domains[name]
        except KeyError:
            raise AssayError(f"unknown domain {name!r}; params define: {', '.join(sorted(self.domains))}") from None


def _format_location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _first_error(exc: ValidationError, params_path: Path) -> str:
    errors = exc.errors()
    first = errors[0]
    # Pydantic puts the failing branch's name in the location of tagged/literal unions; drop
    # the noise so the key is one a user can find in the file.
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    else:
        message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{params_path}: {_format_location(loc)}: {message}{more}"


def _check_sources(params: Params, root: Path, params_path: Path) -> None:
    import polars as pl

    for name, domain in params.domains.items():
        raw_dir = (root / domain.raw_dir).resolve()
        for index, source in enumerate(domain.sources):
            key = f"domains.{name}.sources[{index}].path"
            path = root / source.path
            if not path.exists():
                raise AssayError(f"{params_path}: {key}: source not found: {source.path}")
            if raw_dir not in path.resolve().parents and path.resolve() != raw_dir:
                raise AssayError(f"{params_path}: {key}: {source.path} is not inside raw_dir {domain.raw_dir} (dvc.yaml tracks raw_dir)")
        for index, rule in enumerate(domain.clean.rules):
            _check_sql(pl, rule.when, f"{params_path}: domains.{name}.clean.rules[{index}].when")
        for index, derived in enumerate(domain.clean.derived):
            _check_sql(pl, derived.expr, f"{params_path}: domains.{name}.clean.derived[{index}].expr")


def _check_sql(pl: Any, expression: str, where: str) -> None:
    try:
        pl.sql_expr(expression)
    except Exception as exc:  # polars raises several error types for bad SQL
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AssayError(f"{where}: not a valid SQL expression: {first_line}") from None


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """Read and validate a params file; raise :class:`AssayError` with one line on any problem.

    Relative source paths are resolved against the params file's folder (the repo root).
    """
    path = Path(path)
    if not path.is_file():
        raise AssayError(f"params file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AssayError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise AssayError(f"{path}: expected a mapping of sections at the top level")
    # Sections other stages own are validated by their own models as they are added; the
    # foundation knows only these.
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise AssayError(_first_error(exc, path)) from None
    _check_sources(params, path.parent, path)
    return params
