"""``engine: spark`` gives what the polars path gives: clean data, quarantine, report, validation outcomes.

Spark runs in local mode (``local[2]``, one session for the module, no UI, loopback only). The
tests are skipped, saying why, where pyspark or Java is missing; CI installs both and requires
them (.ci/run sets ASSAY_REQUIRE_SPARK).
The pandas-to-Spark-SQL translation of row conditions is tested without Spark.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assay.columns import PROVENANCE
from assay.config import SparkSpec, load_params
from assay.data.clean import DEMO_PSEUDONYM_KEY, clean_file
from assay.engines import spark as engine
from assay.errors import AssayError
from assay.ingest.sources import write_interim
from assay.quality.spark_validate import for_spark, spark_sql
from assay.quality.validate import load_suite, read_data, validate_frame
from tests.conftest import REPO_ROOT
from tests.test_clean import domain, interim

DEMO_DOMAINS = ("records", "transactions", "course_material")
KEY = DEMO_PSEUDONYM_KEY.encode("utf-8")
LOCAL = SparkSpec(
    master="local[2]",
    app_name="assay-tests",
    conf={
        "spark.ui.enabled": False,
        "spark.sql.shuffle.partitions": 2,
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
    },
)
# .ci/run sets ASSAY_REQUIRE_SPARK=1: there a missing pyspark or Java fails these tests instead of skipping them.
_skip_without_spark = pytest.mark.skipif(
    bool(engine.unavailable()) and not os.environ.get("ASSAY_REQUIRE_SPARK"), reason=f"Spark tests skipped: {engine.unavailable()}"
)


def needs_spark(test: Any) -> Any:
    """A test that starts Spark: skipped without pyspark or Java, and in the slow tier (a JVM takes seconds to start)."""
    return _skip_without_spark(pytest.mark.spark(pytest.mark.slow(test)))


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    session = engine.session(LOCAL)
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def demo_interim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    params = load_params(REPO_ROOT / "params.yaml")
    folder = tmp_path_factory.mktemp("interim")
    paths = {}
    for name in DEMO_DOMAINS:
        paths[name] = folder / f"{name}.parquet"
        write_interim(name, params.domain(name), paths[name], REPO_ROOT)
    return paths


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def outputs(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: folder / f"{name}.parquet" for name in ("clean", "quarantine", "restricted")}


def sorted_by_provenance(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path).sort(list(PROVENANCE))


def clean_both(spark: Any, interim_path: Path, spec: Any, folder: Path, key: bytes = KEY) -> tuple[dict, dict, dict, dict]:
    from assay.data.spark_clean import clean_file_spark

    polars_out, spark_out = outputs(folder / "polars"), outputs(folder / "spark")
    polars_report = clean_file(interim_path, spec, key, *polars_out.values())
    # Rows dealt round-robin over three partitions, cleaned two at a time: nothing may depend on where a row lands.
    spark_report = clean_file_spark(interim_path, spec, key, *spark_out.values(), spark=spark, partitions=3, batch_rows=1000)
    return polars_out, spark_out, polars_report, spark_report


@needs_spark
@pytest.mark.parametrize("name", DEMO_DOMAINS)
def test_spark_cleans_the_demo_data_as_polars_does(name: str, spark: Any, demo_interim: dict[str, Path], tmp_path: Path) -> None:
    spec = load_params(REPO_ROOT / "params.yaml").domain(name)
    polars_out, spark_out, polars_report, spark_report = clean_both(spark, demo_interim[name], spec, tmp_path)
    for part in polars_out:
        assert sorted_by_provenance(spark_out[part]).equals(sorted_by_provenance(polars_out[part])), f"{name}: {part} differs"
        # Sorted back into file order on the driver and written by the same writer: the same bytes.
        assert md5(spark_out[part]) == md5(polars_out[part]), f"{name}: {part} bytes differ"
    assert spark_report == polars_report
    assert spark_report["rows_in"] == spark_report["rows_clean"] + spark_report["rows_quarantined"] + spark_report["rows_deduplicated"]
    assert spark_report["rows_quarantined"] > 0


@needs_spark
def test_spark_dedupe_keys_and_personal_data_are_global(spark: Any, tmp_path: Path) -> None:
    """Duplicates and repeated keys far apart, raw identifiers in free text, a broken line: every kind of state that spans rows."""
    spec = domain(
        {"id": {"type": "int", "identifier": True}, "note": {}, "amount": {"type": "float"}},
        {
            "unique_key": ["id"],
            "personal_data": {"action": "flag"},
            "rules": [{"name": "negative", "when": "amount < 0", "reason": "negative amount"}],
        },
    )
    rows = [
        {"id": "1", "note": "call 020 7946 0958", "amount": "1.5"},
        {"id": "2", "note": "ok", "amount": "-1"},
        {"id": "3", "note": "2", "amount": "2"},  # a raw identifier in free text
        {"id": "1", "note": "call 020 7946 0958", "amount": "1.5"},  # exact duplicate of line 2
        {"id": "4", "note": "x@example.org", "amount": "x"},
        {"id": "01", "note": "other", "amount": "3"},  # key 1 again, values differ
        {"id": "5", "note": "fine", "amount": "4"},
        {"id": "6", "note": "broken", "amount": "5"},
        {"id": " 1 ", "note": "call 020 7946 0958", "amount": "1.5"},  # a duplicate once trimmed
    ]
    errors: list[str | None] = [None] * len(rows)
    errors[7] = "line 9: 4 fields, expected 3"
    frame = interim(rows, errors).with_columns(pl.when(pl.col("_ingest_error").is_not_null()).then(pl.lit("6,broken,5,extra")).alias("_raw"))
    path = tmp_path / "interim.parquet"
    frame.write_parquet(path)
    polars_out, spark_out, polars_report, spark_report = clean_both(spark, path, spec, tmp_path, key=b"test-key")
    assert spark_report == polars_report
    assert polars_report["rows_deduplicated"] == 2
    assert polars_report["rules"]["duplicate_key:id"] == 1
    assert polars_report["personal_data"]["note"]["values_found"] >= 2
    for part in polars_out:
        assert md5(spark_out[part]) == md5(polars_out[part]), part


@needs_spark
def test_spark_cleans_a_file_without_rows_as_polars_does(spark: Any, demo_interim: dict[str, Path], tmp_path: Path) -> None:
    spec = load_params(REPO_ROOT / "params.yaml").domain("records")
    path = tmp_path / "interim.parquet"
    pl.read_parquet(demo_interim["records"]).head(0).write_parquet(path)
    polars_out, spark_out, polars_report, spark_report = clean_both(spark, path, spec, tmp_path)
    assert spark_report == polars_report
    assert spark_report["rows_in"] == 0
    for part in polars_out:
        assert md5(spark_out[part]) == md5(polars_out[part]), part


@needs_spark
@pytest.mark.parametrize("name", DEMO_DOMAINS)
def test_spark_validation_outcomes_are_the_pandas_ones(name: str, spark: Any, demo_interim: dict[str, Path], tmp_path: Path) -> None:
    from assay.quality.spark_validate import validate_spark

    spec = load_params(REPO_ROOT / "params.yaml").domain(name)
    clean = outputs(tmp_path)
    clean_file(demo_interim[name], spec, KEY, *clean.values())
    suite = load_suite(REPO_ROOT / "expectations" / f"{name}.json")
    on_pandas = validate_frame(read_data(clean["clean"]), suite)
    on_spark = validate_spark(clean["clean"], suite, spark)
    assert_same_outcomes(on_spark, on_pandas)


def assert_same_outcomes(on_spark: dict, on_pandas: dict) -> None:
    for key in ("rows", "evaluated", "passed", "failed_critical", "failed_warning", "success"):
        assert on_spark[key] == on_pandas[key], key
    for spark_item, pandas_item in zip(on_spark["expectations"], on_pandas["expectations"], strict=True):
        where = f"{pandas_item['type']} on {pandas_item['column']}"
        assert spark_item["kwargs"] == pandas_item["kwargs"], f"{where}: the summary keeps the suite's words"
        assert (spark_item["success"], spark_item["error"]) == (pandas_item["success"], pandas_item["error"]), where
        if pandas_item["type"] == "expect_column_values_to_be_of_type":
            continue  # GX on Spark observes the Spark type name and counts nothing
        assert spark_item["element_count"] == pandas_item["element_count"], where
        # GX on Spark reports no unexpected count where a row condition leaves no row; pandas says 0.
        empty = pandas_item["element_count"] == 0
        assert (spark_item["unexpected_count"] or 0 if empty else spark_item["unexpected_count"]) == pandas_item["unexpected_count"], where
        assert spark_item["observed_value"] == pytest.approx(pandas_item["observed_value"]), where


@needs_spark
def test_spark_validation_names_the_lines_of_failed_expectations(spark: Any, tmp_path: Path) -> None:
    from assay.quality.spark_validate import validate_spark

    frame = pl.DataFrame({"code": ["A1", "B2", "bad", "C3", "worse"], "_source_file": "x.csv", "_source_row": [2, 3, 4, 5, 6]})
    path = tmp_path / "data.parquet"
    frame.write_parquet(path)
    suite = {
        "name": "toy",
        "expectations": [
            {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "code", "regex": "^[A-Z][0-9]$"}, "severity": "critical"},
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {
                    "column": "code",
                    "value_set": ["A1", "B2"],
                    "row_condition": {"type": "pass_through", "pass_through_filter": '~code.str.startswith("C")'},
                },
                "severity": "warning",
            },
            {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "_source_row", "type_": "int64"}, "severity": "critical"},
        ],
    }
    on_pandas = validate_frame(frame, suite)
    on_spark = validate_spark(path, suite, spark)
    assert_same_outcomes(on_spark, on_pandas)
    regex = on_spark["expectations"][0]
    assert regex["unexpected_count"] == 2 and not on_spark["success"]
    assert [(e["value"], e["_source_row"]) for e in regex["examples"]] == [("bad", 4), ("worse", 6)]
    assert regex["examples"] == on_pandas["expectations"][0]["examples"]
    assert on_spark["expectations"][1]["element_count"] == 4  # C3 left out by the row condition


@needs_spark
def test_the_stages_run_the_domain_engine(spark: Any, demo_interim: dict[str, Path], tmp_path: Path) -> None:
    """``engine: spark`` in params sends ``assay clean`` and ``assay validate`` through Spark (the fixture's session)."""
    import yaml

    from assay.stages.clean import run_clean
    from assay.stages.validate import run_validate

    raw = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    spec = raw["domains"]["transactions"]
    spec["engine"] = "spark"
    spec["raw_dir"] = str(REPO_ROOT / spec["raw_dir"])
    spec["sources"] = [{**source, "path": str(REPO_ROOT / source["path"])} for source in spec["sources"]]
    raw["domains"] = {"transactions": spec}
    raw["spark"] = LOCAL.model_dump(mode="json")
    params_path = tmp_path / "params.yaml"
    params_path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")  # column order is data
    on_spark = outputs(tmp_path / "spark")
    # The raw data lies outside this params file's data/raw/, so the demo key needs saying so.
    report = run_clean("transactions", params_path, demo_interim["transactions"], *on_spark.values(), tmp_path / "spark.json", allow_demo_key=True)
    on_polars = outputs(tmp_path / "polars")
    expected = clean_file(demo_interim["transactions"], load_params(REPO_ROOT / "params.yaml").domain("transactions"), KEY, *on_polars.values())
    assert report == expected
    assert json.loads((tmp_path / "spark.json").read_text())["rows_clean"] == expected["rows_clean"]
    for part in on_polars:
        assert md5(on_spark[part]) == md5(on_polars[part]), part

    # ``assay validate`` on Spark: the report says what GX on pandas says.
    suite_path = REPO_ROOT / "expectations" / "transactions.json"
    validated = run_validate("transactions", params_path, on_spark["clean"], suite_path, tmp_path / "validation.json", tmp_path / "docs")
    assert_same_outcomes(validated, validate_frame(read_data(on_polars["clean"]), load_suite(suite_path)))
    assert (tmp_path / "docs" / "index.html").is_file()


# The translation of pandas row conditions needs no Spark.


@pytest.mark.parametrize(
    ("pandas", "sql"),
    [
        ('InvoiceNo.str.startswith("C")', "coalesce(startswith(`InvoiceNo`, 'C'), false)"),
        ('~InvoiceNo.str.startswith("C")', "(NOT coalesce(startswith(`InvoiceNo`, 'C'), false))"),
        ("abs(amount - Quantity * UnitPrice) > 0.005", "coalesce(abs((`amount` - (`Quantity` * `UnitPrice`))) > 0.005, false)"),
        (
            'section.str.split(".").str[0] != chapter.str.split(" ").str[0]',
            "coalesce(get(split(`section`, '\\\\.'), 0) != get(split(`chapter`, ' '), 0), true)",
        ),
        ('(kind in ["a", "b"]) & note.isnull()', "(coalesce(`kind` IN ('a', 'b'), false) AND (`note` IS NULL))"),
        ("(x not in [1, 2]) | flag", "((NOT coalesce(`x` IN (1, 2), false)) OR coalesce(`flag`, false))"),
        ('name == "O\'Brien"', "coalesce(`name` = 'O\\'Brien', false)"),
    ],
)
def test_pandas_conditions_become_spark_sql_with_pandas_missing_value_rules(pandas: str, sql: str) -> None:
    assert spark_sql(pandas) == sql


def test_a_condition_without_translation_is_a_one_line_error() -> None:
    with pytest.raises(AssayError) as error:
        spark_sql("Description.str.extract('(x)')", "expect_column_values_to_be_null on amount")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("expect_column_values_to_be_null on amount: row_condition")
    assert "GX condition" in message


def test_suite_types_become_spark_type_names() -> None:
    types = {"d": "DateType", "t": "TimestampNTZType", "n": "LongType"}
    expectation = {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "d", "type_": "datetime64"}}
    assert for_spark(expectation, types)["kwargs"]["type_"] == "DateType"
    assert for_spark({**expectation, "kwargs": {"column": "t", "type_": "datetime64"}}, types)["kwargs"]["type_"] == "TimestampNTZType"
    listed = {"type": "expect_column_values_to_be_in_type_list", "kwargs": {"column": "n", "type_list": ["int64", "float64"]}}
    assert for_spark(listed, types)["kwargs"]["type_list"] == ["LongType", "DoubleType"]
    assert expectation["kwargs"]["type_"] == "datetime64"  # the suite itself is left as it is
    with pytest.raises(AssayError, match="pandas type 'complex128' has no Spark counterpart"):
        for_spark({**expectation, "kwargs": {"column": "n", "type_": "complex128"}}, types)


def test_missing_pyspark_or_java_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine.importlib.util, "find_spec", lambda name: None)
    assert "pip install" in (engine.unavailable() or "")
    with pytest.raises(AssayError, match="engine: spark: pyspark is not installed"):
        engine.session(SparkSpec())
