"""DVC metrics a person can read: figures in the declared metrics files, everything else beside them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from assay.contracts import MetricsReport, SynthesizeReport, ValidationReport, details_path, read_report, write_report
from assay.quality.validate import validate_frame

from .conftest import REPO_ROOT

SUITE = {
    "name": "toy",
    "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "max_value": 10}, "severity": "critical", "notes": "n"},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "c", "value_set": ["a"]}, "severity": "warning", "notes": "c"},
    ],
}
# What must never be a DVC metric: GX's internals, timings, run details.
NOT_FIGURES = ("gx_result", "fingerprint", "seconds", "per_second", "device", "data_docs", "suite_sha256", "why")


def leaves(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every value DVC would read as a metric, by its dotted key (DVC drops lists and nulls)."""
    if isinstance(value, dict):
        return {key: leaf for name, item in value.items() for key, leaf in leaves(item, f"{prefix}{name}.").items()}
    return {} if isinstance(value, list) or value is None else {prefix.rstrip("."): value}


def assert_figures_only(figures: dict[str, Any], where: str) -> None:
    for key, value in leaves(figures).items():
        assert isinstance(value, bool | int | float), f"{where}: {key} = {value!r} is not a figure"
        assert not any(word in key for word in NOT_FIGURES), f"{where}: {key} is not a figure a person compares"


def test_validation_metrics_hold_figures_and_the_gx_result_sits_beside_them(tmp_path: Path) -> None:
    frame = pl.DataFrame({"n": [1, 20], "c": ["a", "b"], "_source_file": ["f"] * 2, "_source_row": [2, 3]})
    summary = validate_frame(frame, SUITE)
    data = {"domain": "toy", "data": "d.parquet", "suite": "s.json", "suite_sha256": "0" * 64, "data_docs": "docs/index.html", **summary}
    path = tmp_path / "validation" / "toy.json"
    path.parent.mkdir()
    write_report(ValidationReport, data, path)
    figures = json.loads(path.read_text())
    assert figures == {"rows": 2, "success": False, "evaluated": 2, "passed": 0, "failed_critical": 1, "failed_warning": 1}
    details = json.loads(details_path(path).read_text())
    assert details["gx_result"]["meta"]["active_batch_definition"] and details["expectations"][0]["examples"][0]["_source_row"] == 3
    # Readers see one report, as before the split.
    assert read_report(ValidationReport, path) == ValidationReport.model_validate(data)


def test_timings_and_settings_stay_out_of_the_metrics(tmp_path: Path) -> None:
    report = {
        "domain": "toy",
        "rows": 10,
        "rows_drawn": 12,
        "parsed_share": 1.0,
        "conditions": {"c": "a"},
        "seconds": 1.5,
        "rows_per_second": 6.7,
        "device": "cpu",
        "seed": 7,
    }
    path = tmp_path / "synthesize.json"
    write_report(SynthesizeReport, report, path)
    assert json.loads(path.read_text()) == {"rows": 10, "rows_drawn": 12, "parsed_share": 1.0}
    assert json.loads(details_path(path).read_text()) == {
        "domain": "toy",
        "conditions": {"c": "a"},
        "seconds": 1.5,
        "rows_per_second": 6.7,
        "device": "cpu",
        "seed": 7,
    }
    assert read_report(SynthesizeReport, path).model_dump(exclude_unset=True) == report


def test_dvc_yaml_declares_every_metrics_report_with_its_details_as_a_plain_output() -> None:
    """Each stage that writes a MetricsReport declares the figures as metrics and the details as an
    uncached output (so DVC tracks both, and `dvc metrics` reads only the first)."""
    stages = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["stages"]
    declared = 0
    for name, stage in stages.items():
        body = stage.get("do", stage)
        metrics = [next(iter(item)) if isinstance(item, dict) else item for item in body.get("metrics", [])]
        outs = {next(iter(item)): item[next(iter(item))] for item in body.get("outs", []) if isinstance(item, dict)}
        for path in metrics:
            if name == "train":
                assert "reports/train/${key}/privacy.json" in outs  # DVCLive's summary: its non-figures go there
                continue
            details = str(details_path(path))
            assert outs.get(details) == {"cache": False}, f"{name}: {details} is not declared as an uncached output"
            declared += 1
    assert declared == 6 and len(MetricsReport.__subclasses__()) == 6
