"""Stage ``validate``: run a domain's Great Expectations suite on its clean data, and gate on it.

GX has no polars engine, so the frame is validated as ``to_pandas()`` in an ephemeral GX context
with analytics and progress bars off (nothing is written to a GX project folder, nothing goes
to the network). The stage writes ``reports/validation/<domain>.json``: the GX result plus, per
expectation, its severity, unexpected count and percent, and up to 20 unexpected values with the
``_source_file``/``_source_row`` they came from; and offline Data Docs.

The gate: any failed expectation whose ``severity`` (GX's own field) is ``critical`` makes the
stage exit 1 with one line per failure, so ``dvc repro`` stops before anything trains on bad data.
Warnings are reported and never block; GX's overall ``success`` is set to the gate's verdict, so
its Data Docs agree. A suite that still keeps the severity or notes in ``meta`` (Assay's old
place for them) is refused. ``assay check`` uses the same code on any Parquet or CSV file.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from assay.columns import PROVENANCE
from assay.config import load_params
from assay.errors import AssayError
from assay.io import reading
from assay.progress import output_console, quiet_library_logger
from assay.quality.applicability import not_applicable, with_provenance

log = logging.getLogger("assay.validate")

SEVERITIES = ("critical", "warning")
EXAMPLES = 20
_ID_NAMESPACE = uuid.UUID("6f1c7d2e-0b7a-4c55-9d4e-5a3c2b1e0f00")


def _gx():
    """Import GX with its analytics off; the import alone costs about 2 s, so it happens late."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    # GX sets this logger to INFO on import, and it announces a temporary folder for every ephemeral context.
    quiet_library_logger("great_expectations.data_context.types.base")
    return gx


def load_suite(path: Path) -> dict[str, Any]:
    """Read a GX 1.x suite JSON and check what Assay relies on; one-line errors name the expectation."""
    if not path.is_file():
        raise AssayError(f"expectation suite not found: {path}")
    try:
        suite = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise AssayError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(suite, dict) or not isinstance(suite.get("expectations"), list):
        raise AssayError(f"{path}: not an expectation suite (needs 'name' and a list 'expectations')")
    from great_expectations.expectations.registry import get_expectation_impl

    seen_ids: set[str | None] = {None}
    for index, expectation in enumerate(suite["expectations"]):
        where = f"{path}: expectations[{index}]"
        if "expectation_type" in expectation:
            raise AssayError(f"{where}: 'expectation_type' is the GX 0.x key; GX 1.x suites use 'type'")
        kind = expectation.get("type")
        try:
            get_expectation_impl(kind)
        except Exception:
            raise AssayError(f"{where}: unknown expectation type {kind!r}") from None
        if expectation.get("id") and expectation["id"] in seen_ids:
            raise AssayError(f"{where} ({kind}): id {expectation['id']} is used twice; results are matched to expectations by id")
        seen_ids.add(expectation.get("id"))
        moved = [key for key in ("severity", "notes") if key in (expectation.get("meta") or {})]
        if moved:
            raise AssayError(f"{where} ({kind}): meta.{moved[0]} is no longer read; use GX's own '{moved[0]}' field beside 'kwargs'")
        severity = expectation.get("severity")
        if severity not in SEVERITIES:
            raise AssayError(f"{where} ({kind}): severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    return suite


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def with_stable_ids(suite: dict[str, Any]) -> dict[str, Any]:
    """Give every expectation an id (derived from the suite name and position) so results map back."""
    expectations = []
    for index, expectation in enumerate(suite["expectations"]):
        stable_id = expectation.get("id") or str(uuid.uuid5(_ID_NAMESPACE, f"{suite.get('name')}:{index}"))
        expectations.append({**expectation, "id": stable_id})
    return {**suite, "expectations": expectations}


@lru_cache(maxsize=1)
def gx_context():
    """An ephemeral GX context (nothing written, nothing sent), progress bars off."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


@lru_cache(maxsize=1)
def _batch_definition():
    source = gx_context().data_sources.add_pandas("assay")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def _exception_message(result: dict[str, Any]) -> str | None:
    info = result.get("exception_info") or {}
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "").splitlines()[0]
    for value in info.values():  # GX nests metric errors by metric id
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "").splitlines()[0]
    return None


def _examples(result: dict[str, Any], column: str | None) -> list[dict[str, Any]]:
    rows = result.get("partial_unexpected_index_list") or []
    examples = []
    for row in rows[:EXAMPLES]:
        if isinstance(row, dict):
            value = row.get(column) if column in row else {k: v for k, v in row.items() if k not in PROVENANCE}
            examples.append({"value": value, **{key: row.get(key) for key in PROVENANCE if key in row}})
    if not examples:
        examples = [{"value": value} for value in (result.get("partial_unexpected_list") or [])[:EXAMPLES]]
    return examples


def _unexpected_rows(result: dict[str, Any]) -> list[list[Any]] | None:
    """``[file, row]`` of every unexpected row of a map expectation's complete result; None if it has none."""
    if "unexpected_index_list" not in result:
        return None
    return [[row.get(PROVENANCE[0]), row.get(PROVENANCE[1])] for row in result["unexpected_index_list"] or [] if isinstance(row, dict)]


def _validated(batch: Any, suite: Any, result_format: dict[str, Any]) -> dict[str, Any]:
    """GX's result of ``suite`` on ``batch``, as JSON."""
    # A JSON round trip turns numpy scalars into plain numbers: GX's own Data Docs renderer
    # fails on numpy 2 scalars, and the report is JSON anyway.
    result = batch.validate(suite, result_format=result_format)
    # GX's own success fails on any failed expectation; the gate fails only on a critical one. The
    # result says what the gate decided, so Data Docs do not show "Failed" for data that may go on.
    result.success = result.get_max_severity_failure() != "critical"
    gx_result = json.loads(json.dumps(result.to_json_dict(), default=_jsonable))
    # The load time is the only field that changes between identical runs; dropping it keeps
    # the report and Data Docs byte-identical, so DVC sees no change when nothing changed.
    gx_result.get("meta", {}).get("batch_markers", {}).pop("ge_load_time", None)
    return gx_result


def validate_frame(frame: pl.DataFrame, suite: dict[str, Any], unexpected_rows: bool = False) -> dict[str, Any]:
    """Validate ``frame`` with ``suite``; return Assay's per-expectation summary and the GX result.

    With ``unexpected_rows`` (the frame needs ``_source_file`` and ``_source_row``), each entry
    also has ``unexpected_rows``: every unexpected row as ``[file, row]`` for a row-level (map)
    expectation, None for table-level and aggregate ones. GX then returns complete results, which
    is slower and bigger, so the validate stage leaves it off.
    """
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    return validate_batch(batch, suite, frame.height, frame.columns, unexpected_rows)


def validate_batch(
    batch: Any, suite: dict[str, Any], rows: int, columns: list[str], unexpected_rows: bool = False, for_engine: Callable[[dict], dict] | None = None
) -> dict[str, Any]:
    """:func:`validate_frame` on a GX batch of any engine's datasource (``rows`` and ``columns`` are the data's).

    ``for_engine`` rewrites an expectation for GX where the engine needs other words (Spark's type
    names: :mod:`assay.quality.spark_validate`); the summary keeps the suite's own.
    """
    from great_expectations.core.expectation_suite import ExpectationSuite

    suite = with_stable_ids(suite)
    engine_expectations = [for_engine(e) for e in suite["expectations"]] if for_engine else suite["expectations"]
    gx_suite = ExpectationSuite(**{key: suite.get(key) for key in ("name", "id", "meta", "notes") if key in suite}, expectations=engine_expectations)
    if len(gx_suite.expectations) != len(suite["expectations"]):
        # GX drops an expectation it cannot build with only a log line; a gate must not shrink silently.
        kept = {e.id for e in gx_suite.expectations}
        dropped = [f"{e['type']}({e['kwargs'].get('column', '')})" for e in suite["expectations"] if e["id"] not in kept]
        raise AssayError(f"suite {suite.get('name')!r}: GX could not build {len(dropped)} expectation(s): {', '.join(dropped)}")
    index_columns = [name for name in PROVENANCE if name in columns]
    result_format: dict[str, Any] = {"result_format": "COMPLETE" if unexpected_rows else "SUMMARY", "partial_unexpected_count": EXAMPLES}
    if unexpected_rows:
        if len(index_columns) < len(PROVENANCE):
            raise ValueError(f"unexpected_rows needs the columns {PROVENANCE} in the frame")
        result_format["return_unexpected_index_query"] = False
    if index_columns:
        result_format["unexpected_index_column_names"] = index_columns
    if unexpected_rows:
        gx_result = _validated(batch, gx_suite, result_format)
    else:
        # Examples with their file and line cost GX a pass per unexpected row, also where an
        # expectation passes by ``mostly``: the whole suite runs once for outcomes and counts
        # (BASIC, every row, no sampling), and once more in detail only for what failed.
        gx_result = _validated(batch, gx_suite, {"result_format": "BASIC", "partial_unexpected_count": EXAMPLES})
        failed = {item["expectation_config"].get("id") for item in gx_result["results"] if not item["success"]}
        if failed:
            again = ExpectationSuite(name=gx_suite.name, expectations=[e for e in engine_expectations if e["id"] in failed])
            detailed = {item["expectation_config"].get("id"): item for item in _validated(batch, again, result_format)["results"]}
            gx_result["results"] = [detailed.get(item["expectation_config"].get("id"), item) for item in gx_result["results"]]

    by_id = {item["expectation_config"].get("id"): item for item in gx_result["results"]}
    expectations = []
    for expectation in suite["expectations"]:
        item = by_id.get(expectation["id"], {})
        result = item.get("result") or {}
        column = expectation["kwargs"].get("column")
        expectations.append(
            {
                "id": expectation["id"],
                "type": expectation["type"],
                "column": column or expectation["kwargs"].get("column_list") or expectation["kwargs"].get("column_A"),
                "kwargs": expectation["kwargs"],
                "severity": (item.get("expectation_config") or expectation).get("severity"),
                "notes": expectation.get("notes") or "",
                "success": bool(item.get("success")),
                "error": _exception_message(item),
                "element_count": result.get("element_count"),
                "unexpected_count": result.get("unexpected_count"),
                "unexpected_percent": result.get("unexpected_percent"),
                "observed_value": result.get("observed_value"),
                "examples": _examples(result, column),
                **({"unexpected_rows": _unexpected_rows(result)} if unexpected_rows else {}),
            }
        )
    failed = [e for e in expectations if not e["success"]]
    failed_critical = sum(e["severity"] == "critical" for e in failed)
    return {
        "rows": rows,
        "evaluated": len(expectations),
        "passed": len(expectations) - len(failed),
        "failed_critical": failed_critical,
        "failed_warning": len(failed) - failed_critical,
        "success": gx_result["success"],
        "expectations": expectations,
        "gx_result": gx_result,
    }


def failure_lines(report: dict[str, Any]) -> list[str]:
    """One line per failed expectation, critical first, in words a steward can act on."""
    lines = []
    for expectation in sorted(report["expectations"], key=lambda e: e["severity"] != "critical"):
        if expectation["success"]:
            continue
        where = f" on {expectation['column']}" if expectation["column"] else ""
        if expectation["error"]:
            detail = f"could not be evaluated: {expectation['error']}"
        elif expectation["unexpected_count"] is not None:
            detail = f"{expectation['unexpected_count']:,} unexpected value(s) ({expectation['unexpected_percent'] or 0:.2f}%)"
            if expectation["examples"]:
                first = expectation["examples"][0]
                origin = f" at {first['_source_file']}:{first['_source_row']}" if "_source_row" in first else ""
                detail += f", e.g. {first['value']!r}{origin}"
        else:
            detail = f"observed {expectation['observed_value']!r}"
        lines.append(f"{expectation['severity']}: {expectation['type']}{where}: {detail}")
    return lines


# GX validates a pandas frame; pandas has no integer type wider than 64 bits.
_WIDER_THAN_PANDAS = ("Int128", "UInt128")


def read_data(path: Path) -> pl.DataFrame:
    """A Parquet or CSV file as a frame GX can validate, or a one-line error naming the file."""
    if not path.is_file():
        raise AssayError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv", ".txt"):
        raise AssayError(f"{path}: unsupported file type {path.suffix!r}; use .parquet or .csv")
    if suffix != ".parquet":
        with path.open("rb") as handle:
            if b"\x00" in handle.read(1 << 16):
                raise AssayError(f"{path}: holds NUL bytes, so it is not a text CSV file (a binary file, or UTF-16 without a byte-order mark?)")
    with reading(path):
        frame = pl.read_parquet(path) if suffix == ".parquet" else pl.read_csv(path, try_parse_dates=True, infer_schema_length=10_000)
    for name, dtype in frame.schema.items():
        if type(dtype).__name__ in _WIDER_THAN_PANDAS:
            row = frame.with_row_index("_row").filter(pl.col(name).abs() > 2**63 - 1)["_row"].first()
            raise AssayError(f"{path}: column {name!r} holds an integer beyond the 64-bit range (data row {row + 1}), which cannot be validated")
    return frame


def _synthetic_ids(suite: dict[str, Any], domain: str | None, params_path: Path) -> tuple[dict[str, Any], str | None]:
    """The fresh-id columns of ``domain`` (default: the domain the suite is named after, when params define it), and that domain."""
    if domain is None:
        if not params_path.is_file():
            return {}, None
        params = load_params(params_path)
        if suite.get("name") not in params.domains:
            return {}, None
        domain = suite["name"]
        spec = params.domains[domain]
    else:
        spec = load_params(params_path).domain(domain)
    return spec.generator.synthetic_ids, domain


def run_check(file: Path, suite_path: Path, domain: str | None = None, params_path: Path = Path("params.yaml")) -> int:
    """Entry point for ``assay check``: print a summary table; 1 if a critical expectation failed.

    Expectations that cannot apply to the file (provenance it does not carry, formats of fresh
    synthetic ids) are left out by the rules of the evaluate stage (:mod:`assay.quality.applicability`)
    and listed with why.
    """
    from rich.table import Table

    suite = load_suite(suite_path)
    data = read_data(file)
    synthetic_ids, domain = _synthetic_ids(suite, domain, params_path)
    usable, skipped = not_applicable(suite, data, synthetic_ids)
    summary = validate_frame(with_provenance(data, str(file)), usable)
    table = Table(title=f"{file} against {suite_path} ({summary['rows']:,} rows)")
    for name in ("result", "severity", "expectation", "column", "unexpected %", "example"):
        # Names are never cut short: on a narrow terminal they fold onto a second line.
        table.add_column(name, overflow="fold")
    for e in summary["expectations"]:
        example = "" if not e["examples"] else repr(e["examples"][0]["value"])[:40]
        percent = "" if e["unexpected_percent"] is None else f"{e['unexpected_percent']:.2f}"
        status = "[green]pass[/]" if e["success"] else ("[red]FAIL[/]" if e["severity"] == "critical" else "[yellow]fail[/]")
        table.add_row(status, e["severity"], e["type"], str(e["column"] or ""), percent, example if not e["success"] else "")
    console = output_console()
    console.print(table)
    if skipped:
        whose = f" (fresh ids of domain {domain}, from {params_path})" if domain else ""
        console.print(f"Not applicable to this data, as in the evaluate stage{whose}:", highlight=False)
        for item in skipped:
            column = f" on {item['column']}" if item["column"] else ""
            console.print(f"  {item['severity']}: {item['type']}{column}: {item['reason']}", highlight=False, markup=False)
    console.print(
        f"{summary['passed']}/{summary['evaluated']} passed; {summary['failed_critical']} critical and {summary['failed_warning']} warning failure(s)"
        + (f"; {len(skipped)} not applicable" if skipped else "")
    )
    return 0 if summary["success"] else 1
