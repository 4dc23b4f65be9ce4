"""The committed GX 1.x suites (expectations/<domain>.json): well-formed, passing on demo and real
clean data, and failing (critically) on the faults a steward cares about."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assay.config import load_params
from assay.data.clean import DEMO_PSEUDONYM_KEY, clean_frame
from assay.ingest.sources import ingest_domain

from .conftest import REPO_ROOT, require_shared_data

DOMAINS = ["records", "transactions", "course_material"]
REAL_ONLY = ["learning"]  # domains with no demo data: params.real.yaml only
SEVERITIES = {"critical", "warning"}


def load_suite_json(domain: str) -> dict[str, Any]:
    return json.loads((REPO_ROOT / "expectations" / f"{domain}.json").read_text(encoding="utf-8"))


class GxRunner:
    """A tiny GX 1.x runner: validate a polars frame against suite JSON, list what failed."""

    def __init__(self) -> None:
        os.environ["GX_ANALYTICS_ENABLED"] = "false"
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx = gx
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.batch_definition = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")

    def suite(self, data: dict[str, Any]) -> Any:
        suite = self.gx.ExpectationSuite(**json.loads(json.dumps(data)))
        # GX drops an expectation it cannot build with only a log line: count them.
        assert len(suite.expectations) == len(data["expectations"]), "GX could not load every expectation"
        return suite

    def failures(self, frame: pl.DataFrame, data: dict[str, Any]) -> list[dict[str, Any]]:
        batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame.to_pandas()})
        result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["_source_file", "_source_row"], "partial_unexpected_count": 5}
        result = batch.validate(self.suite(data), result_format=result_format)
        failed = []
        for item in result.results:
            if item.success:
                continue
            config = item.expectation_config
            failed.append(
                {
                    "type": config.type,
                    "column": config.kwargs.get("column"),
                    "condition": condition_text(config.kwargs.get("row_condition")),
                    "severity": config.severity.value,
                    "notes": config.notes,
                    "result": {k: v for k, v in item.result.items() if k in ("observed_value", "unexpected_count", "partial_unexpected_list")},
                    "error": (item.exception_info or {}).get("exception_message"),
                }
            )
        return failed


def condition_text(condition: Any) -> str | None:
    """A row condition as one line: a pandas query string, or GX's Column conditions spelled out."""
    if condition is None or isinstance(condition, str):
        return condition
    if not isinstance(condition, dict):
        condition = condition.dict()
    kind = condition.get("type")
    if kind == "pass_through":
        return condition["pass_through_filter"]
    if kind == "comparison":
        return f"{condition['column']['name']} {condition['operator']} {condition['parameter']!r}"
    if kind == "nullity":
        return f"{condition['column']['name']} is {'not ' if not condition.get('is_null', True) else ''}null"
    return f" {kind} ".join(condition_text(part) or "" for part in condition["conditions"])


@pytest.fixture(scope="module")
def gx_runner() -> GxRunner:
    return GxRunner()


def build_clean(params_path: Path, domain: str) -> pl.DataFrame:
    spec = load_params(params_path).domain(domain)
    interim, _ = ingest_domain(domain, spec, REPO_ROOT)
    key = os.environ.get("ASSAY_PSEUDONYM_KEY") or DEMO_PSEUDONYM_KEY
    return clean_frame(interim, spec, key.encode("utf-8")).clean


_demo_cache: dict[str, pl.DataFrame] = {}


def demo_clean(domain: str) -> pl.DataFrame:
    """data/clean/<domain>.parquet from `dvc repro`, or the same built from the demo raw data."""
    if domain not in _demo_cache:
        path = REPO_ROOT / "data" / "clean" / f"{domain}.parquet"
        _demo_cache[domain] = pl.read_parquet(path) if path.is_file() else build_clean(REPO_ROOT / "params.yaml", domain)
    return _demo_cache[domain]


def _walk_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {key for item in value.values() for key in _walk_keys(item)}
    if isinstance(value, list):
        return {key for item in value for key in _walk_keys(item)}
    return set()


# --- the files -------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_suite_is_gx1_json_with_severity_and_notes(gx_runner: GxRunner, domain: str) -> None:
    data = load_suite_json(domain)
    assert "expectation_type" not in _walk_keys(data), "0.x key: GX 1.x uses 'type'"
    assert {"name", "id", "expectations", "meta", "notes"} <= set(data)
    assert data["name"] == domain
    assert data["notes"] and data["meta"].get("severity")
    suite = gx_runner.suite(data)
    assert suite.name == domain
    ids = [expectation["id"] for expectation in data["expectations"]]
    assert all(ids) and len(set(ids)) == len(ids)
    for expectation in data["expectations"]:
        where = f"{domain}: {expectation['type']} {expectation['kwargs'].get('column', '')}"
        assert set(expectation) >= {"type", "kwargs", "severity", "notes", "id"}, where
        # GX's own severity and notes; meta keeps neither (the old, parallel place for them).
        assert expectation["severity"] in SEVERITIES, where
        assert not {"severity", "notes"} & set(expectation.get("meta") or {}), where
        notes = expectation["notes"]
        assert isinstance(notes, str) and len(notes.strip()) > 10, where


@pytest.mark.parametrize("domain", DOMAINS)
def test_suite_covers_every_clean_column(domain: str) -> None:
    data = load_suite_json(domain)
    column_sets = [e["kwargs"]["column_set"] for e in data["expectations"] if e["type"] == "expect_table_columns_to_match_set"]
    assert len(column_sets) == 1
    assert column_sets[0] == demo_clean(domain).columns
    typed = {e["kwargs"]["column"] for e in data["expectations"] if e["type"] == "expect_column_values_to_be_of_type"}
    assert typed == set(column_sets[0])
    severities = [e["severity"] for e in data["expectations"]]
    assert severities.count("critical") and severities.count("warning")


# --- passing on clean data --------------------------------------------------------------------


@pytest.mark.parametrize("domain", DOMAINS)
def test_suite_passes_on_demo_clean_data(gx_runner: GxRunner, domain: str) -> None:
    failed = gx_runner.failures(demo_clean(domain), load_suite_json(domain))
    critical = [f for f in failed if f["severity"] == "critical"]
    assert not critical, f"critical expectations fail on demo {domain}: {critical}"
    # Warnings may fail on data that deserves a look; the demo data does not.
    assert not failed, f"warnings fail on demo {domain}: {failed}"


@pytest.mark.real_data
@pytest.mark.slow
@pytest.mark.parametrize("domain", [*DOMAINS, *REAL_ONLY])
def test_suite_passes_on_real_clean_data(gx_runner: GxRunner, domain: str) -> None:
    require_shared_data()
    frame = build_clean(REPO_ROOT / "params.real.yaml", domain)
    failed = gx_runner.failures(frame, load_suite_json(domain))
    critical = [f for f in failed if f["severity"] == "critical"]
    assert not critical, f"critical expectations fail on real {domain}: {critical}"
    assert not failed, f"warnings fail on real {domain}: {failed}"


# --- failing on bad data ----------------------------------------------------------------------


def set_rows(column: str, value: Any, rows: pl.Expr | int = 0) -> Callable[[pl.DataFrame], pl.DataFrame]:
    """A corruption: put ``value`` into ``column`` on the rows selected (a row index or a predicate)."""

    def corrupt(frame: pl.DataFrame) -> pl.DataFrame:
        where = pl.int_range(pl.len()) == rows if isinstance(rows, int) else rows
        dtype = frame.schema[column]
        return frame.with_columns(pl.when(where).then(pl.lit(value, dtype=dtype)).otherwise(pl.col(column)).alias(column))

    return corrupt


def duplicate_key(column: str) -> Callable[[pl.DataFrame], pl.DataFrame]:
    def corrupt(frame: pl.DataFrame) -> pl.DataFrame:
        return set_rows(column, frame[column][0], 1)(frame)

    return corrupt


CANCELLATION = pl.col("InvoiceNo").str.starts_with("C")

# (domain, corruption, (expectation type, column, row condition or None), severity)
CORRUPTIONS = {
    "readmitted MAYBE": ("records", set_rows("readmitted", "MAYBE"), ("expect_column_values_to_be_in_set", "readmitted", None), "critical"),
    "repeated encounter_id": ("records", duplicate_key("encounter_id"), ("expect_column_values_to_be_unique", "encounter_id", None), "critical"),
    "raw patient number": ("records", set_rows("patient_nbr", "8222157"), ("expect_column_values_to_match_regex", "patient_nbr", None), "critical"),
    "age out of codebook": ("records", set_rows("age", "[100-110)"), ("expect_column_values_to_be_in_set", "age", None), "critical"),
    "death not flagged": (
        "records",
        set_rows("expired_at_discharge", False, pl.col("discharge_disposition_id") == 11),
        ("expect_column_values_to_be_in_set", "expired_at_discharge", "discharge_disposition_id IN [11, 19, 20, 21]"),
        "critical",
    ),
    "early readmissions everywhere": (
        "records",
        set_rows("readmitted", "<30", pl.int_range(pl.len()) % 2 == 0),
        ("expect_column_values_to_be_in_set", "readmitted", None),
        "warning",
    ),
    "dead patient readmitted": (
        "records",
        set_rows("readmitted", "<30", pl.col("expired_at_discharge")),
        ("expect_column_values_to_be_in_set", "readmitted", "expired_at_discharge == True"),
        "warning",
    ),
    "C-invoice with positive quantity": (
        "transactions",
        lambda f: f.with_columns(pl.when(CANCELLATION).then(pl.col("Quantity").abs()).otherwise(pl.col("Quantity")).alias("Quantity")),
        ("expect_column_values_to_be_between", "Quantity", 'InvoiceNo.str.startswith("C")'),
        "critical",
    ),
    "sale with negative quantity": (
        "transactions",
        set_rows("Quantity", -5, ~CANCELLATION),
        ("expect_column_values_to_be_between", "Quantity", '~InvoiceNo.str.startswith("C")'),
        "critical",
    ),
    "wrong amount": (
        "transactions",
        set_rows("amount", 123456.0),
        ("expect_column_values_to_be_null", "amount", "abs(amount - Quantity * UnitPrice) > 0.005"),
        "critical",
    ),
    "bad-debt invoice": ("transactions", set_rows("InvoiceNo", "A563185"), ("expect_column_values_to_match_regex", "InvoiceNo", None), "critical"),
    "date after the period": (
        "transactions",
        lambda f: f.with_columns(pl.col("InvoiceDate").dt.offset_by("1y")),
        ("expect_column_max_to_be_between", "InvoiceDate", None),
        "critical",
    ),
    "Quantity as float": (
        "transactions",
        lambda f: f.with_columns(pl.col("Quantity").cast(pl.Float64)),
        ("expect_column_values_to_be_of_type", "Quantity", None),
        "critical",
    ),
    "Unspecified country everywhere": (
        "transactions",
        set_rows("Country", "Unspecified", pl.lit(True)),
        ("expect_column_values_to_not_be_in_set", "Country", None),
        "warning",
    ),
    "repeated unit_id": ("course_material", duplicate_key("unit_id"), ("expect_column_values_to_be_unique", "unit_id", None), "critical"),
    "unknown kind": ("course_material", set_rows("kind", "poem"), ("expect_column_values_to_be_in_set", "kind", None), "critical"),
    "missing section": ("course_material", set_rows("section", None), ("expect_column_values_to_not_be_null", "section", None), "critical"),
    "empty text": ("course_material", set_rows("text", ""), ("expect_column_value_lengths_to_be_between", "text", None), "critical"),
    "text without words": (
        "course_material",
        set_rows("text", "12 34 56 -- 78 90"),
        ("expect_column_values_to_match_regex", "text", "kind != 'equation'"),
        "warning",
    ),
    "section under the wrong chapter": (
        "course_material",
        set_rows("section", "9.1 Elsewhere"),
        ("expect_column_values_to_be_null", "chapter", 'section.str.split(".").str[0] != chapter.str.split(" ").str[0]'),
        "warning",
    ),
    "provenance column dropped": ("course_material", lambda f: f.drop("_source_row"), ("expect_table_columns_to_match_set", None, None), "critical"),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_data_fails_the_right_expectation(gx_runner: GxRunner, case: str) -> None:
    domain, corrupt, (kind, column, condition), severity = CORRUPTIONS[case]
    data = load_suite_json(domain)
    # Only the expectations of that type on that column: fast, and it pins which one fails.
    data["expectations"] = [e for e in data["expectations"] if e["type"] == kind and e["kwargs"].get("column") == column]
    assert data["expectations"], f"the {domain} suite has no {kind} on {column}"
    clean = demo_clean(domain)
    assert not gx_runner.failures(clean, data), "the selected expectations must pass before the corruption"
    failed = gx_runner.failures(corrupt(clean), data)
    matching = [f for f in failed if f["condition"] == condition]
    assert matching, f"{case}: expected {kind} on {column} (condition {condition}) to fail; failed: {failed}"
    assert {f["severity"] for f in matching} == {severity}
    assert all(f["error"] is None for f in matching), matching
