"""The validation runner: suite loading errors, results with provenance, the gate, `assay check`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.errors import AssayError
from assay.quality.validate import failure_lines, load_suite, validate_frame

runner = CliRunner()


def expectation(kind: str, severity: str = "critical", **kwargs) -> dict:
    return {"type": kind, "kwargs": kwargs, "severity": severity, "notes": f"{kind} for the test"}


SUITE = {
    "name": "toy",
    "expectations": [
        expectation("expect_column_values_to_be_between", column="n", min_value=0, max_value=10),
        expectation("expect_column_values_to_be_in_set", "warning", column="c", value_set=["a", "b"]),
        expectation("expect_table_row_count_to_be_between", min_value=1),
    ],
}


def frame(n: list[int], c: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"n": n, "c": c, "_source_file": ["raw.csv"] * len(n), "_source_row": list(range(2, len(n) + 2))})


def write_suite(tmp_path: Path, suite: dict) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(suite))
    return path


def test_passing_data() -> None:
    report = validate_frame(frame([1, 2], ["a", "b"]), SUITE)
    assert (report["evaluated"], report["passed"], report["failed_critical"], report["success"]) == (3, 3, 0, True)
    assert report["gx_result"]["success"] is True


def test_failures_carry_examples_with_provenance_and_warnings_do_not_block() -> None:
    report = validate_frame(frame([1, 30, 2, 40], ["a", "z", "a", "b"]), SUITE)
    between, in_set, _ = report["expectations"]
    assert between["success"] is False and between["unexpected_count"] == 2 and between["unexpected_percent"] == 50.0
    assert between["examples"] == [
        {"value": 30, "_source_file": "raw.csv", "_source_row": 3},
        {"value": 40, "_source_file": "raw.csv", "_source_row": 5},
    ]
    assert in_set["severity"] == "warning" and in_set["examples"][0]["value"] == "z"
    assert (report["failed_critical"], report["failed_warning"], report["success"]) == (1, 1, False)
    lines = failure_lines(report)
    assert lines[0] == "critical: expect_column_values_to_be_between on n: 2 unexpected value(s) (50.00%), e.g. 30 at raw.csv:3"
    assert lines[1].startswith("warning: expect_column_values_to_be_in_set on c")


def test_only_warnings_failing_passes_the_gate() -> None:
    report = validate_frame(frame([1], ["z"]), SUITE)
    assert report["success"] is True and report["failed_warning"] == 1
    # GX's own verdict agrees with the gate; its statistics still count the failed warning.
    assert report["gx_result"]["success"] is True
    assert report["gx_result"]["statistics"]["unsuccessful_expectations"] == 1


def test_gx_severity_field_drives_the_gate() -> None:
    """The same failing expectation blocks as GX's critical and passes as GX's warning."""
    for severity, blocks in (("critical", True), ("warning", False)):
        suite = {"name": "s", "expectations": [expectation("expect_column_values_to_be_in_set", severity, column="c", value_set=["a"])]}
        report = validate_frame(frame([1], ["z"]), suite)
        assert report["expectations"][0]["severity"] == severity
        assert (report["success"], report["gx_result"]["success"]) == (not blocks, not blocks)
        assert report["gx_result"]["results"][0]["expectation_config"]["severity"] == severity


def test_unmigrated_suite_exits_2_with_one_line(tmp_path: Path) -> None:
    old = {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "n"}, "meta": {"severity": "critical", "notes": "n"}}]}
    data = tmp_path / "d.csv"
    pl.DataFrame({"n": [1]}).write_csv(data)
    result = runner.invoke(app, ["check", str(data), "--suite", str(write_suite(tmp_path, old))])
    assert result.exit_code == 2
    assert [line for line in result.output.splitlines() if line.strip()] == [
        f"error: {tmp_path / 'suite.json'}: expectations[0] (expect_column_to_exist): meta.severity is no longer read; "
        "use GX's own 'severity' field beside 'kwargs'"
    ]


def test_missing_column_is_a_failure_not_a_crash() -> None:
    suite = {"name": "s", "expectations": [expectation("expect_column_values_to_not_be_null", column="ghost")]}
    report = validate_frame(frame([1], ["a"]), suite)
    assert report["success"] is False
    assert report["expectations"][0]["error"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "expectation suite not found"),
        ("{not json", "not valid JSON (line 1"),
        (json.dumps({"name": "s"}), "not an expectation suite"),
        (json.dumps({"name": "s", "expectations": [{"expectation_type": "expect_column_to_exist", "kwargs": {}}]}), "GX 0.x key"),
        (json.dumps({"name": "s", "expectations": [expectation("expect_the_moon", column="n")]}), "unknown expectation type 'expect_the_moon'"),
        (
            json.dumps({"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "n"}, "meta": {}}]}),
            "expectations[0] (expect_column_to_exist): severity must be one of critical, warning, got None",
        ),
        (
            # A suite not yet migrated: the severity in meta, where GX never reads it.
            json.dumps({"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "n"}, "meta": {"severity": "warning"}}]}),
            "expectations[0] (expect_column_to_exist): meta.severity is no longer read; use GX's own 'severity' field",
        ),
        (
            json.dumps({"name": "s", "expectations": [{**expectation("expect_column_to_exist", column="n"), "meta": {"notes": "why"}}]}),
            "meta.notes is no longer read; use GX's own 'notes' field",
        ),
    ],
)
def test_bad_suites_give_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "suite.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(AssayError) as error:
        load_suite(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_check_command_exit_codes_and_table(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, SUITE)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.parquet"
    pl.DataFrame({"n": [1, 2], "c": ["a", "b"]}).write_csv(good)
    pl.DataFrame({"n": [1, 99], "c": ["a", "b"]}).write_parquet(bad)
    result = runner.invoke(app, ["check", str(good), "--suite", str(suite)])
    assert result.exit_code == 0, result.output
    assert "3/3 passed" in result.output
    result = runner.invoke(app, ["check", str(bad), "--suite", str(suite)])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "1 critical" in result.output


def test_check_command_bad_input_is_one_line(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, SUITE)
    result = runner.invoke(app, ["check", str(tmp_path / "nothing.parquet"), "--suite", str(suite)])
    assert result.exit_code == 2
    assert result.output.strip().endswith("nothing.parquet") and "Traceback" not in result.output


def test_check_on_synthetic_output_skips_what_cannot_apply_and_cuts_no_name(records_splits, demo_params, tmp_path: Path) -> None:
    """The README's `assay check data/synthetic/records.parquet --suite expectations/records.json`, on rows
    of the pipeline's synthetic shape (fresh ids, no provenance), in a real process writing to a pipe."""
    import subprocess
    import sys

    from assay.metrics.evaluate import naive_baseline

    from .conftest import REPO_ROOT

    synthetic = naive_baseline(records_splits[2], demo_params.domain("records"), 300, seed=1)
    assert synthetic["encounter_id"][0] == "syn-000001" and "_source_row" not in synthetic.columns
    synthetic.write_parquet(tmp_path / "records.parquet")
    assay = Path(sys.executable).parent / "assay"
    result = subprocess.run(
        [str(assay), "check", str(tmp_path / "records.parquet"), "--suite", "expectations/records.json"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "…" not in out  # rich's ellipsis: nothing is cut at 80 columns
    assert "expect_column_values_to_be_in_set" in out and "expect_table_columns_to_match_set" in out
    assert "Not applicable to this data, as in the evaluate stage (fresh ids of domain records, from params.yaml):" in out
    skipped = [line for line in out.splitlines() if line.startswith(("  critical: ", "  warning: "))]
    assert "  critical: expect_column_values_to_match_regex on encounter_id: checks the format of encounter_id, which holds fresh synthetic ids" in out
    assert "  critical: expect_column_values_to_match_regex on patient_nbr: checks the format of patient_nbr" in out
    provenance = [line for line in skipped if "about provenance" in line]
    assert len(provenance) == 6 and any("expect_compound_columns_to_be_unique on ['_source_file', '_source_row']" in line for line in provenance)
    assert re.search(r"\n\d+/\d+ passed; 0 critical and \d+ warning failure\(s\); 8 not applicable\n", out), out[-300:]
