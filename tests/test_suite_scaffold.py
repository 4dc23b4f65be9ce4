"""`assay suite scaffold`: a draft suite from clean data that loads in GX, passes on its own data,
and never overwrites a steward's file without --force."""

from __future__ import annotations

import json
import math
import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.config import load_params
from assay.errors import AssayError
from assay.quality.suite import HEX16, scaffold_suite

from .conftest import REPO_ROOT

runner = CliRunner()
PARAMS = REPO_ROOT / "params.yaml"


def gx_failures(frame: pl.DataFrame, suite_json: dict[str, Any]) -> list[str]:
    """Validate ``frame`` with GX 1.x; return '<type> <column>' for each failed expectation."""
    os.environ["GX_ANALYTICS_ENABLED"] = "false"
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    batch_definition = context.data_sources.add_pandas("p").add_dataframe_asset("a").add_batch_definition_whole_dataframe("b")
    suite = gx.ExpectationSuite(**json.loads(json.dumps(suite_json)))
    assert len(suite.expectations) == len(suite_json["expectations"]), "GX could not load every drafted expectation"
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame.to_pandas()}).validate(suite, result_format="SUMMARY")
    return [f"{r.expectation_config.type} {r.expectation_config.kwargs.get('column')}" for r in result.results if not r.success]


def small_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "visit": ["0a1b2c3d4e5f6071", "1a1b2c3d4e5f6071", "2a1b2c3d4e5f6071", "3a1b2c3d4e5f6071", "4a1b2c3d4e5f6071", "5a1b2c3d4e5f6071"],
            "sex": ["F", "M", "F", "F", "M", "F"],
            "stay": [1, 3, 3, 14, 1, 3],
            "weight": [70.5, None, 82.0, float("nan"), 91.25, 60.0],
            "admitted": [
                datetime(2011, 1, 2, 8, 30),
                datetime(2011, 3, 1),
                datetime(2011, 5, 9),
                datetime(2011, 5, 9),
                datetime(2011, 7, 1),
                datetime(2011, 12, 31, 23),
            ],
            "born": [date(1950, 1, 1), date(1960, 6, 1), None, date(1970, 1, 1), date(1980, 1, 1), date(1990, 12, 31)],
            "note": ["first visit", "follow-up call", "x", "transferred in", "discharged home", "readmitted"],
            "died": [False, False, True, False, False, False],
            "unused": pl.Series([None] * 6, dtype=pl.String),
            "_source_file": ["f.csv"] * 6,
            "_source_row": [2, 3, 4, 5, 6, 7],
        }
    )


def by_column(suite: dict[str, Any], column: str) -> dict[str, dict[str, Any]]:
    return {e["type"]: e for e in suite["expectations"] if e["kwargs"].get("column") == column}


def test_scaffold_drafts_the_expected_expectations() -> None:
    suite = scaffold_suite(small_frame(), "visits", key_columns=["visit"])
    assert suite["name"] == "visits"
    assert suite["meta"]["rows"] == 6 and suite["meta"]["key_columns"] == ["visit"]
    table = [e for e in suite["expectations"] if "column" not in e["kwargs"]]
    assert table[0]["type"] == "expect_table_columns_to_match_set"
    assert table[0]["kwargs"]["column_set"] == small_frame().columns and table[0]["kwargs"]["exact_match"] is True
    counts = [e["kwargs"] for e in table if e["type"] == "expect_table_row_count_to_be_between"]
    assert {"min_value": 1} in counts and {"min_value": 3, "max_value": 12} in counts

    visit = by_column(suite, "visit")
    assert visit["expect_column_values_to_match_regex"]["kwargs"]["regex"] == HEX16
    assert visit["expect_column_values_to_be_unique"]["severity"] == "critical"
    assert visit["expect_column_values_to_not_be_null"]["severity"] == "critical"
    assert "expect_column_values_to_be_in_set" not in visit and "expect_column_value_lengths_to_be_between" not in visit

    sex = by_column(suite, "sex")
    assert sex["expect_column_values_to_be_in_set"]["kwargs"]["value_set"] == ["F", "M"]
    assert sex["expect_column_values_to_be_in_set"]["severity"] == "warning"
    assert sex["expect_column_values_to_be_of_type"]["kwargs"]["type_"] == "str"
    assert sex["expect_column_values_to_not_be_null"]["severity"] == "warning"

    stay = by_column(suite, "stay")
    assert stay["expect_column_values_to_be_of_type"]["kwargs"]["type_"] == "int64"
    assert (stay["expect_column_values_to_be_between"]["kwargs"]["min_value"], stay["expect_column_values_to_be_between"]["kwargs"]["max_value"]) == (1, 14)
    assert stay["expect_column_values_to_be_in_set"]["kwargs"]["value_set"] == [1, 3, 14]

    weight = by_column(suite, "weight")  # one null and one NaN in six: 66% present, rounded down
    present = weight["expect_column_proportion_of_non_null_values_to_be_between"]
    assert present["kwargs"]["min_value"] == math.floor(4 / 6 * 100) / 100 == 0.66
    assert present["severity"] == "warning"
    assert weight["expect_column_values_to_be_between"]["kwargs"]["min_value"] == 60.0
    assert weight["expect_column_values_to_be_between"]["kwargs"]["max_value"] == 91.25

    admitted = by_column(suite, "admitted")["expect_column_values_to_be_between"]["kwargs"]
    assert (admitted["min_value"], admitted["max_value"]) == ("2011-01-02T08:30:00", "2011-12-31T23:00:00")
    born = by_column(suite, "born")
    assert born["expect_column_values_to_be_between"]["kwargs"]["min_value"] == "1950-01-01T00:00:00"
    assert born["expect_column_values_to_be_of_type"]["kwargs"]["type_"] == "datetime64"

    note = by_column(suite, "note")
    assert "expect_column_values_to_be_in_set" not in note  # six different values: not a category
    assert (
        note["expect_column_value_lengths_to_be_between"]["kwargs"]["min_value"],
        note["expect_column_value_lengths_to_be_between"]["kwargs"]["max_value"],
    ) == (1, 15)
    assert by_column(suite, "died")["expect_column_values_to_be_in_set"]["kwargs"]["value_set"] == [False, True]
    assert set(by_column(suite, "unused")) == {"expect_column_to_exist", "expect_column_values_to_be_of_type", "expect_column_values_to_be_null"}
    assert not by_column(suite, "_source_row") and not by_column(suite, "_source_file")


def test_every_drafted_expectation_has_severity_and_a_review_note() -> None:
    suite = scaffold_suite(small_frame(), "visits", key_columns=["visit"])
    assert "expectation_type" not in json.dumps(suite)
    for expectation in suite["expectations"]:
        assert expectation["severity"] in {"critical", "warning"}
        assert not {"severity", "notes"} & set(expectation.get("meta") or {})  # GX's own fields only
        assert expectation["notes"].startswith("drafted from data on 6 rows; review: ")
        assert expectation["id"]
    # Deterministic: the same data gives the same file.
    assert scaffold_suite(small_frame(), "visits", key_columns=["visit"]) == suite


def test_draft_loads_in_gx_and_passes_on_its_own_data() -> None:
    frame = small_frame()
    suite = scaffold_suite(frame, "visits", key_columns=["visit"])
    assert gx_failures(frame, suite) == []
    changed = frame.with_columns(pl.Series("sex", ["F", "M", "X", "F", "M", "F"]), pl.Series("visit", ["0a1b2c3d4e5f6071"] * 6))
    failed = gx_failures(changed, suite)
    assert "expect_column_values_to_be_in_set sex" in failed
    assert "expect_column_values_to_be_unique visit" in failed


@pytest.mark.parametrize("domain", ["records", "transactions", "course_material"])
def test_draft_of_demo_clean_data_passes_on_it(domain: str) -> None:
    path = REPO_ROOT / "data" / "clean" / f"{domain}.parquet"
    if not path.is_file():
        pytest.skip(f"{path} not built; run `dvc repro clean`")
    frame = pl.read_parquet(path)
    spec = load_params(PARAMS).domain(domain)
    suite = scaffold_suite(frame, domain, key_columns=spec.clean.unique_key, rules=spec.columns)
    assert gx_failures(frame, suite) == []  # the params rules hold on clean data: cleaning enforced them


def test_compound_key_and_unknown_key() -> None:
    frame = pl.DataFrame({"a": [1, 1, 2], "b": ["x", "y", "x"], "v": [0.5, 1.5, 2.5]})
    suite = scaffold_suite(frame, "pairs", key_columns=["a", "b"])
    compound = [e for e in suite["expectations"] if e["type"] == "expect_compound_columns_to_be_unique"]
    assert [e["kwargs"]["column_list"] for e in compound] == [["a", "b"]]
    assert gx_failures(frame, suite) == []
    with pytest.raises(AssayError) as error:
        scaffold_suite(frame, "pairs", key_columns=["missing"])
    assert "missing" in str(error.value)


def test_empty_frame_gives_a_schema_only_draft() -> None:
    suite = scaffold_suite(small_frame().clear(), "empty")
    kinds = {e["type"] for e in suite["expectations"]}
    assert kinds == {
        "expect_table_columns_to_match_set",
        "expect_table_row_count_to_be_between",
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
    }


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def records_data(tmp_path: Path) -> Path:
    path = tmp_path / "records.parquet"
    small_frame().rename({"visit": "encounter_id"}).write_parquet(path)
    return path


def scaffold(*args: str) -> Any:
    return runner.invoke(app, ["suite", "scaffold", "--domain", "records", "--params", str(PARAMS), *args])


def test_cli_writes_a_draft(records_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "drafts" / "records.draft.json"
    result = scaffold("--data", str(records_data), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    suite = json.loads(out.read_text(encoding="utf-8"))
    assert suite["name"] == "records" and suite["meta"]["drafted_from"] == str(records_data)
    assert any(e["type"] == "expect_column_values_to_be_unique" and e["kwargs"]["column"] == "encounter_id" for e in suite["expectations"])


def test_cli_refuses_to_overwrite_without_force(records_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "records.json"
    out.write_text('{"steward": "edits"}', encoding="utf-8")
    result = scaffold("--data", str(records_data), "--out", str(out))
    assert result.exit_code == 2
    assert f"{out} exists; use --force to overwrite" in result.output
    assert out.read_text(encoding="utf-8") == '{"steward": "edits"}'

    result = scaffold("--data", str(records_data), "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["name"] == "records"


def test_cli_missing_data_and_unknown_domain(tmp_path: Path) -> None:
    result = scaffold("--data", str(tmp_path / "nothing.parquet"), "--out", str(tmp_path / "out.json"))
    assert result.exit_code == 2
    assert "clean data not found" in result.output and "assay clean --domain records" in result.output
    result = runner.invoke(app, ["suite", "scaffold", "--domain", "nope", "--params", str(PARAMS), "--out", str(tmp_path / "o.json")])
    assert result.exit_code == 2
    assert "unknown domain 'nope'" in result.output
    assert not (tmp_path / "out.json").exists()


def test_cli_help_has_an_example() -> None:
    result = runner.invoke(app, ["suite", "scaffold", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


# --- params rules become critical expectations; large value sets ---------------------------


def test_params_rules_become_critical_expectations_that_a_bad_row_fails() -> None:
    from assay.config import ColumnSpec

    rules = {
        "sex": ColumnSpec(required=True, allowed=["F", "M"]),
        "stay": ColumnSpec(type="int", min=1, max=14),
        "note": ColumnSpec(min_length=1, max_length=20),
        "visit": ColumnSpec(pattern="^[0-9a-f]{16}$"),
        "admitted": ColumnSpec(type="datetime", formats=["%Y-%m-%d %H:%M"], min="2010-01-01", max="2012-12-31"),
    }
    frame = small_frame()
    suite = scaffold_suite(frame, "visits", rules=rules)
    critical = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"] if e["severity"] == "critical"}
    assert {
        ("expect_column_values_to_not_be_null", "sex"),
        ("expect_column_values_to_be_in_set", "sex"),
        ("expect_column_values_to_be_between", "stay"),
        ("expect_column_value_lengths_to_be_between", "note"),
        ("expect_column_values_to_match_regex", "visit"),
        ("expect_column_values_to_be_between", "admitted"),
    } <= critical
    from_params = [e for e in suite["expectations"] if "params domains.<d>.columns." in e["notes"]]
    assert len(from_params) == 6 and all(e["severity"] == "critical" for e in from_params)  # each says which rule it comes from
    assert gx_failures(frame, suite) == []  # clean data holds the rules cleaning enforced
    bad = frame.with_columns(pl.Series("stay", [1, 3, 3, 99, 1, 3]), pl.Series("sex", ["F", "M", "X", "F", "M", "F"]))
    failed = set(gx_failures(bad, suite))
    severity = {f"{e['type']} {e['kwargs'].get('column')}": e["severity"] for e in suite["expectations"]}
    assert {"expect_column_values_to_be_between stay", "expect_column_values_to_be_in_set sex"} <= failed
    assert severity["expect_column_values_to_be_in_set sex"] == "critical"  # so the gate's critical row check is not vacuous


def test_value_sets_larger_than_twenty_from_params_and_from_categorical_data() -> None:
    from assay.config import ColumnSpec

    codes = [f"c{i:02d}" for i in range(30)]
    allowed = [f"a{i:02d}" for i in range(25)]
    frame = pl.DataFrame({"code": codes * 25, "kind": (allowed * 30)[:750], "free": [f"text {i}" for i in range(750)]})
    suite = scaffold_suite(frame, "sets", rules={"kind": ColumnSpec(allowed=allowed)})
    sets = {e["kwargs"]["column"]: e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_in_set"}
    assert sets["kind"]["kwargs"]["value_set"] == allowed and sets["kind"]["severity"] == "critical"
    assert sorted(sets["code"]["kwargs"]["value_set"]) == codes and sets["code"]["severity"] == "warning"  # 30 values, each 25 times
    assert "free" not in sets  # every value once: text, not a category
    assert [e for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_in_set" and e["kwargs"]["column"] == "kind"] == [sets["kind"]]


def test_cli_writes_the_suite_of_a_new_domain_and_only_a_draft_beside_an_existing_one(records_data: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = scaffold("--data", str(records_data))
    assert first.exit_code == 0, first.output
    assert (tmp_path / "expectations" / "records.json").is_file() and not (tmp_path / "expectations" / "records.draft.json").exists()
    second = scaffold("--data", str(records_data))
    assert second.exit_code == 0, second.output
    assert (tmp_path / "expectations" / "records.draft.json").is_file()
