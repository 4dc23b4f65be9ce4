"""Validation in two GX passes (outcomes for all, details for what failed) reaches today's outcomes.

The reference is the way validation ran before issue 19: one GX call with SUMMARY results and
unexpected-row provenance for every expectation. Every expectation must end with the same
success, counts and observed value, and a failed one with the same examples.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from assay.columns import PROVENANCE
from assay.config import load_params
from assay.data.clean import clean_frame
from assay.ingest.sources import ingest_domain
from assay.quality.validate import EXAMPLES, _batch_definition, _examples, load_suite, validate_frame, with_stable_ids
from tests.conftest import REPO_ROOT

OUTCOME = ("success", "element_count", "unexpected_count", "unexpected_percent", "observed_value", "error")


def in_one_summary_call(frame: pl.DataFrame, suite: dict) -> dict[str, dict]:
    """Per expectation id: the outcome and examples of one SUMMARY call over the whole suite."""
    from great_expectations.core.expectation_suite import ExpectationSuite

    suite = with_stable_ids(suite)
    gx_suite = ExpectationSuite(**{key: suite[key] for key in ("name", "expectations") if key in suite})
    result_format = {"result_format": "SUMMARY", "partial_unexpected_count": EXAMPLES, "unexpected_index_column_names": list(PROVENANCE)}
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame.to_pandas()})
    results = json.loads(json.dumps(batch.validate(gx_suite, result_format=result_format).to_json_dict(), default=str))["results"]
    by_id = {}
    for item, expectation in zip(results, suite["expectations"], strict=True):
        result = item.get("result") or {}
        by_id[item["expectation_config"]["id"]] = {
            "success": item["success"],
            "element_count": result.get("element_count"),
            "unexpected_count": result.get("unexpected_count"),
            "unexpected_percent": result.get("unexpected_percent"),
            "observed_value": result.get("observed_value"),
            "examples": _examples(result, expectation["kwargs"].get("column")),
        }
    return by_id


def assert_same_outcomes(frame: pl.DataFrame, suite: dict) -> dict:
    report = validate_frame(frame, suite)
    reference = in_one_summary_call(frame, suite)
    for expectation in report["expectations"]:
        expected = reference[expectation["id"]]
        assert expectation["error"] is None, expectation
        got = {key: expectation[key] for key in OUTCOME if key != "error"}
        assert json.loads(json.dumps(got, default=str)) == json.loads(json.dumps({key: expected[key] for key in got}, default=str)), expectation["type"]
        if not expectation["success"]:
            assert json.loads(json.dumps(expectation["examples"], default=str)) == json.loads(json.dumps(expected["examples"], default=str))
    return report


def test_failing_and_mostly_expectations_keep_their_outcomes_and_examples() -> None:
    frame = pl.DataFrame(
        {
            "n": [1, 30, 2, 40, None, 5],
            "c": ["a", "z", "a", "b", "a", None],
            "_source_file": ["raw.csv"] * 6,
            "_source_row": [2, 3, 4, 5, 6, 7],
        }
    )
    suite = {
        "name": "toy",
        "expectations": [
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 10}, "meta": {"severity": "critical"}},
            {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "max_value": 10, "mostly": 0.5}, "meta": {"severity": "warning"}},
            {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "c", "value_set": ["a", "b"]}, "meta": {"severity": "warning"}},
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "c", "mostly": 0.8}, "meta": {"severity": "warning"}},
            {"type": "expect_column_median_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 3}, "meta": {"severity": "warning"}},
            {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {"severity": "critical"}},
        ],
    }
    report = assert_same_outcomes(frame, suite)
    assert [e["success"] for e in report["expectations"]] == [False, True, False, True, False, True]
    assert report["expectations"][0]["examples"][0] == {"value": 30, "_source_file": "raw.csv", "_source_row": 3}


@pytest.mark.parametrize("domain", ["records", "transactions", "course_material"])
def test_demo_suites_reach_the_outcomes_of_one_summary_call(domain: str) -> None:
    spec = load_params(REPO_ROOT / "params.yaml").domain(domain)
    interim, _ = ingest_domain(domain, spec, REPO_ROOT)
    clean = clean_frame(interim, spec, b"test-key").clean
    assert_same_outcomes(clean, load_suite(REPO_ROOT / "expectations" / f"{domain}.json"))


@pytest.mark.slow
@pytest.mark.real_data
def test_real_retail_suite_reaches_the_outcomes_of_one_summary_call(shared_data: Path) -> None:
    spec = load_params(REPO_ROOT / "params.real.yaml").domain("transactions")
    interim, _ = ingest_domain("transactions", spec, REPO_ROOT)
    clean = clean_frame(interim, spec, b"test-key").clean
    assert_same_outcomes(clean, load_suite(REPO_ROOT / "expectations" / "transactions.json"))
