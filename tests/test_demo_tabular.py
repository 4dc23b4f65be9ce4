"""The demo tabular generators: determinism, real-file shape, size, injected faults, realism."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest

from assay.demo_data.tabular import (
    RECORDS_COLUMNS,
    RECORDS_FAULT_KINDS,
    TRANSACTIONS_COLUMNS,
    TRANSACTIONS_FAULT_KINDS,
    make_records_csv,
    make_transactions_csv,
)
from tests.conftest import SHARED_DATA

MAX_BYTES = 1_500_000
REAL_FILES = {
    "records": SHARED_DATA / "records" / "diabetic_data.csv",
    "transactions": SHARED_DATA / "transactions" / "online_retail.csv",
}
# The real headers, for machines without ../shared/data.
RECORDS_HEADER = (
    "encounter_id,patient_nbr,race,gender,age,weight,admission_type_id,discharge_disposition_id,"
    "admission_source_id,time_in_hospital,payer_code,medical_specialty,num_lab_procedures,num_procedures,"
    "num_medications,number_outpatient,number_emergency,number_inpatient,diag_1,diag_2,diag_3,"
    "number_diagnoses,max_glu_serum,A1Cresult,metformin,repaglinide,nateglinide,chlorpropamide,glimepiride,"
    "acetohexamide,glipizide,glyburide,tolbutamide,pioglitazone,rosiglitazone,acarbose,miglitol,troglitazone,"
    "tolazamide,examide,citoglipton,insulin,glyburide-metformin,glipizide-metformin,glimepiride-pioglitazone,"
    "metformin-rosiglitazone,metformin-pioglitazone,change,diabetesMed,readmitted"
)
TRANSACTIONS_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"


@pytest.fixture(scope="module")
def records() -> tuple[bytes, dict[str, int]]:
    return make_records_csv()


@pytest.fixture(scope="module")
def transactions() -> tuple[bytes, dict[str, int]]:
    return make_transactions_csv()


def _rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8", errors="replace"))))


def _frame(data: bytes, columns: list[str]) -> pl.DataFrame:
    """Well-formed lines only, all strings."""
    rows = [r for r in _rows(data)[1:] if len(r) == len(columns)]
    return pl.DataFrame(rows, schema=columns, orient="row")


def _expected_header(domain: str, fallback: str) -> str:
    path = REAL_FILES[domain]
    if path.is_file():
        with path.open("rb") as fh:
            return fh.readline().decode("utf-8").rstrip("\r\n")
    return fallback


def test_deterministic(records: tuple[bytes, dict[str, int]], transactions: tuple[bytes, dict[str, int]]) -> None:
    assert make_records_csv() == records
    assert make_transactions_csv() == transactions
    assert make_records_csv(seed=12)[0] != records[0]
    assert make_transactions_csv(seed=13)[0] != transactions[0]


def test_headers_match_real_files(records: tuple[bytes, dict[str, int]], transactions: tuple[bytes, dict[str, int]]) -> None:
    assert records[0].split(b"\r\n", 1)[0].decode() == _expected_header("records", RECORDS_HEADER) == ",".join(RECORDS_COLUMNS)
    assert transactions[0].split(b"\r\n", 1)[0].decode() == _expected_header("transactions", TRANSACTIONS_HEADER) == ",".join(TRANSACTIONS_COLUMNS)


def test_size_and_line_layout(records: tuple[bytes, dict[str, int]], transactions: tuple[bytes, dict[str, int]]) -> None:
    for data, n_rows in ((records[0], 5000), (transactions[0], 12000)):
        assert len(data) < MAX_BYTES
        # CRLF on every line, as in the real files.
        assert data.endswith(b"\r\n") and not data.startswith(b"\xef\xbb\xbf")
        assert data.count(b"\r\n") == data.count(b"\n") == n_rows + 1


def test_fault_counts(records: tuple[bytes, dict[str, int]], transactions: tuple[bytes, dict[str, int]]) -> None:
    assert tuple(records[1]) == RECORDS_FAULT_KINDS
    assert tuple(transactions[1]) == TRANSACTIONS_FAULT_KINDS
    for faults in (records[1], transactions[1]):
        assert all(count > 0 for count in faults.values()), faults
    assert records[1]["ragged_line"] == 1
    assert 2 <= transactions[1]["ragged_line"] <= 3
    assert transactions[1]["invalid_utf8"] == 1


def test_faults_are_in_the_bytes(records: tuple[bytes, dict[str, int]], transactions: tuple[bytes, dict[str, int]]) -> None:
    rec_rows = _rows(records[0])
    assert sum(len(r) != len(RECORDS_COLUMNS) for r in rec_rows) == records[1]["ragged_line"]
    rec = _frame(records[0], RECORDS_COLUMNS)
    assert rec.height - rec.unique().height == records[1]["duplicate_row"]
    assert rec.height - rec["encounter_id"].n_unique() == records[1]["duplicate_row"]

    with pytest.raises(UnicodeDecodeError):
        transactions[0].decode("utf-8")
    bad_lines = [line for line in transactions[0].split(b"\n") if not _utf8(line)]
    assert len(bad_lines) == transactions[1]["invalid_utf8"]
    tr_rows = _rows(transactions[0])
    assert sum(len(r) != len(TRANSACTIONS_COLUMNS) for r in tr_rows) == transactions[1]["ragged_line"]
    tr = _frame(transactions[0], TRANSACTIONS_COLUMNS)
    assert tr.height - tr.unique().height == transactions[1]["duplicate_row"]
    cancel = tr.filter(pl.col("InvoiceNo").str.starts_with("C"))
    qty = cancel["Quantity"].cast(pl.Int64, strict=False)
    assert int((qty > 0).sum()) == transactions[1]["cancellation_positive_quantity"]
    assert int((qty < 0).sum()) > 0


def _utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_records_realism(records: tuple[bytes, dict[str, int]]) -> None:
    df = _frame(records[0], RECORDS_COLUMNS).with_columns(
        pl.col("number_inpatient").cast(pl.Int64, strict=False),
        pl.col("time_in_hospital").cast(pl.Int64, strict=False),
    )
    early = (pl.col("readmitted") == "<30").mean()
    assert 0.08 <= df.select(early).item() <= 0.15
    assert set(df["readmitted"].unique().to_list()) == {"NO", ">30", "<30"}
    per_patient = df.unique("encounter_id").group_by("patient_nbr").len()
    assert (per_patient["len"] > 1).sum() > 0
    assert 1.2 <= df["encounter_id"].n_unique() / per_patient.height <= 1.7
    rate_0 = df.filter(pl.col("number_inpatient") == 0).select(early).item()
    rate_2 = df.filter(pl.col("number_inpatient") >= 2).select(early).item()
    assert rate_2 > rate_0 + 0.05
    # Longer stays need more medication.
    ok = df.filter(pl.col("time_in_hospital").is_between(1, 14)).with_columns(pl.col("num_medications").cast(pl.Int64, strict=False))
    assert ok.select(pl.corr("time_in_hospital", "num_medications")).item() > 0.2
    assert (df["weight"] == "?").mean() > 0.9


def test_transactions_realism(transactions: tuple[bytes, dict[str, int]]) -> None:
    df = _frame(transactions[0], TRANSACTIONS_COLUMNS)
    assert 0.15 <= (df["CustomerID"] == "").mean() <= 0.35
    invoices = df.group_by("InvoiceNo").len()
    assert invoices["len"].median() >= 3
    dates = df["InvoiceDate"].str.strptime(pl.Datetime, "%Y-%m-%d %H:%M:%S", strict=False).drop_nulls()
    assert str(dates.min()) >= "2010-12-01" and str(dates.max()) < "2011-12-10"
    named = df.filter(pl.col("CustomerID").str.contains(r"^\d{5}$"))
    assert (named.group_by("CustomerID").agg(pl.col("InvoiceNo").n_unique())["InvoiceNo"] > 1).sum() > 10
    assert 120 <= df["StockCode"].n_unique() <= 250  # a 160-product catalogue plus service codes
    assert df.filter(pl.col("StockCode") == "POST").height > 0
