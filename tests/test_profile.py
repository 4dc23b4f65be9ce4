"""Column profiles of clean data on the stewards' page (issue 18, item 4): figures, charts and alerts."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from assay.config import load_params
from assay.layout import Layout
from assay.report.profile import profile_column, profile_frame
from assay.stages.report import run_report

from .conftest import REPO_ROOT


def alerts(profile: dict) -> dict[str, str]:
    return {alert["alert"]: alert["detail"] for alert in profile["alerts"]}


def test_a_numeric_column_gets_a_histogram_summary_and_its_alerts() -> None:
    values = [0] * 600 + list(range(1, 400)) + [50_000]  # mostly zeros, one value far out
    profile = profile_column(pl.Series("qty", values), len(values), identifier=False, declared="int")
    assert profile["type"] == "int" and profile["missing"] == 0 and profile["distinct"] == 401
    assert profile["chart"]["d"].startswith("M0,") and profile["range"] == ("0", "50,000")
    assert "zeros 60.0%" in profile["summary"]
    found = alerts(profile)
    assert found["zeros"] == "60.0% of values are 0"
    assert found["unusual values"].startswith("1 beyond 3 interquartile ranges") and "50,000" in found["unusual values"]


def test_categories_get_top_values_and_imbalance_cardinality_and_rare_value_alerts() -> None:
    race = pl.Series("race", ["Caucasian"] * 900 + ["AfricanAmerican"] * 80 + ["Other"] * 19 + ["Caucasion"])  # a typo the rules let through
    profile = profile_column(race, race.len(), identifier=False, declared="str")
    assert [top["value"] for top in profile["top"]] == ["Caucasian", "AfricanAmerican", "Other", "Caucasion"]
    assert profile["top"][0]["share"] == pytest.approx(0.9)
    found = alerts(profile)
    assert found["imbalance"].startswith("imbalance 0.") and "Caucasian holds 90.0%" in found["imbalance"]
    assert "Caucasion (1)" in found["unusual values"]
    codes = pl.Series("diag", [f"d{i % 120}" for i in range(1200)])
    assert alerts(profile_column(codes, 1200, False, "str"))["high cardinality"] == "120 distinct values"


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pl.Series("flag", [True] * 10), {"constant": "one value"}),
        (pl.Series("weight", [None] * 8 + ["[75-100)"] * 2, dtype=pl.String), {"missing": "80.0% of rows", "constant": "one value"}),
    ],
)
def test_constant_and_missing_columns_are_flagged(series: pl.Series, expected: dict[str, str]) -> None:
    assert alerts(profile_column(series, series.len(), False, None)) == expected


def test_identifiers_give_counts_only_free_text_its_lengths_and_dates_their_range() -> None:
    ids = profile_column(pl.Series("patient", ["a1b2", "c3d4", "a1b2"]), 3, identifier=True, declared="int")
    assert ids["top"] == [] and ids["chart"] is None and ids["summary"] == "pseudonymised identifier: counts only" and ids["distinct"] == 2
    text = profile_column(pl.Series("text", ["word " * 30, "word " * 60]), 2, False, "str")
    assert text["top"] == [] and text["range"] == ("150 chars", "300 chars") and "free text" in text["summary"]
    days = profile_column(pl.Series("day", [date(2020, 1, 1), date(2020, 3, 1), None]), 3, False, "date")
    assert days["range"] == ("2020-01-01", "2020-03-01") and days["missing"] == pytest.approx(1 / 3)


def test_profile_of_the_demo_records_leaves_out_provenance_and_counts_alerts() -> None:
    spec = load_params(REPO_ROOT / "params.yaml").domain("records")
    frame = pl.DataFrame({"race": ["Caucasian", "Other"] * 5, "num_medications": list(range(10)), "_source_row": list(range(10))})
    profile = profile_frame(frame, spec)
    assert [column["column"] for column in profile["columns"]] == ["race", "num_medications"]
    assert profile["rows"] == 10 and isinstance(profile["alerts"], list)


def test_the_page_shows_column_profiles_from_clean_data(tmp_path: Path) -> None:
    from .test_report import _section, write_params

    params = write_params(tmp_path)
    clean = tmp_path / "data" / "clean" / "records.parquet"
    clean.parent.mkdir(parents=True)
    pl.DataFrame({"race": ["Caucasian"] * 95 + ["<b>Other</b>"] * 5, "time_in_hospital": list(range(1, 101)), "_source_row": list(range(100))}).write_parquet(
        clean
    )
    out = run_report(params, tmp_path / "reports" / "index.html", Layout(data=tmp_path / "data", reports=tmp_path / "reports"))
    page = out.read_text(encoding="utf-8")
    section = _section(page, "records-profile")
    assert "100 clean rows, 2 columns" in section and '<svg class="spark"' in section and "&lt;b&gt;Other&lt;/b&gt;" in section
    assert "imbalance" in section and "_source_row" not in section
    assert "Not run yet" in _section(page, "transactions-profile") and "dvc repro clean@transactions" in _section(page, "transactions-profile")


def test_an_unreadable_clean_file_is_said_and_the_page_still_builds(tmp_path: Path) -> None:
    from .test_report import _section, write_params

    params = write_params(tmp_path)
    clean = tmp_path / "data" / "clean" / "records.parquet"
    clean.parent.mkdir(parents=True)
    clean.write_bytes(b"PAR1 not really parquet")
    out = run_report(params, tmp_path / "reports" / "index.html", Layout(data=tmp_path / "data", reports=tmp_path / "reports"))
    section = _section(out.read_text(encoding="utf-8"), "records-profile")
    assert '<p class="error">' in section and "records.parquet: cannot be read" in section
