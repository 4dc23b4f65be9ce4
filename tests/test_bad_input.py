"""Inputs that used to end in a traceback end in one line naming the file, and exit code 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assay.cli import app

from .conftest import REPO_ROOT

SUITE = REPO_ROOT / "expectations" / "records.json"


def _one_line_exit_2(args: list[str], *phrases: str) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output  # progress logs may come before it
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


@pytest.mark.parametrize(
    ("content", "phrases"),
    [
        (b"a,b\n1,2\n99999999999999999999,3\n", ("'a'", "beyond the 64-bit range", "data row 2")),
        (b"\x00" * 100, ("NUL bytes",)),
    ],
    ids=["integer-beyond-2^63", "nul-bytes"],
)
def test_check_on_an_unreadable_csv(tmp_path, content, phrases):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    _one_line_exit_2(["check", str(path), "--suite", str(SUITE)], str(path), *phrases)


def _records_params(tmp_path: Path, source: str) -> Path:
    """The demo params for records alone, its CSV source replaced by ``source`` (inside raw_dir)."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    records = params["domains"]["records"]
    raw = tmp_path / "data" / "raw" / "records"
    raw.mkdir(parents=True)
    records["raw_dir"] = "data/raw/records"
    records["sources"] = [{**records["sources"][0], "path": f"data/raw/records/{source}"}]
    params["domains"] = {"records": records}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"], ids=["utf-8", "utf-16-le", "utf-16-be"])
def test_ingest_of_a_source_that_holds_only_a_bom(tmp_path, bom):
    params = _records_params(tmp_path, "diabetic_data.csv")
    (tmp_path / "data" / "raw" / "records" / "diabetic_data.csv").write_bytes(bom)
    out = ["--out", str(tmp_path / "i.parquet"), "--report", str(tmp_path / "i.json")]
    _one_line_exit_2(["ingest", "--domain", "records", "--params", str(params), *out], "diabetic_data.csv", "no text")


def test_ingest_of_a_csv_source_that_is_a_folder(tmp_path):
    params = _records_params(tmp_path, "export")
    (tmp_path / "data" / "raw" / "records" / "export").mkdir()
    shutil.copy(REPO_ROOT / "data" / "raw" / "records" / "diabetic_data.csv", tmp_path / "data" / "raw" / "records" / "export")
    out = ["--out", str(tmp_path / "i.parquet"), "--report", str(tmp_path / "i.json")]
    _one_line_exit_2(["ingest", "--domain", "records", "--params", str(params), *out], "export", "is a folder")


def _demo_params_with(tmp_path: Path, change) -> Path:
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for domain in params["domains"].values():  # sources stay where they are
        domain["raw_dir"] = str(REPO_ROOT / domain["raw_dir"])
        domain["sources"] = [{**source, "path": str(REPO_ROOT / source["path"])} for source in domain["sources"]]
    change(params["domains"])
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("change", "phrases"),
    [
        (
            lambda d: d["records"]["clean"]["rules"].append({"name": "typo", "when": "time_in_hospitl > 12", "reason": "x"}),
            ("domains.records.clean.rules[", "time_in_hospitl"),
        ),
        (
            lambda d: d["records"]["clean"]["rules"].append({"name": "types", "when": "race + 1 > 2", "reason": "x"}),
            ("domains.records.clean.rules[", "race + 1 > 2", "not allowed"),
        ),
        (
            lambda d: d["transactions"]["clean"].setdefault("derived", []).append({"name": "total", "expr": "Quantity * Description"}),
            ("domains.transactions.clean.derived[", "Quantity * Description"),
        ),
        (
            lambda d: d["transactions"]["columns"]["InvoiceDate"]["formats"].append("%d.%m.%Y %Q"),
            ("domains.transactions.columns.InvoiceDate.formats[3]", "%Q", "not a valid date format"),
        ),
    ],
    ids=["unknown-column", "type-error-in-rule", "type-error-in-derived", "unknown-date-directive"],
)
def test_bad_expressions_and_formats_are_caught_when_params_load(tmp_path, change, phrases):
    params = _demo_params_with(tmp_path, change)
    args = ["clean", "--domain", "records", "--params", str(params), "--interim", str(tmp_path / "none.parquet")]
    _one_line_exit_2(args, str(params), *phrases)
