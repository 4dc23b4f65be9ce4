"""Ingest and clean on the real datasets in ../shared/data: the row accounting holds."""

from __future__ import annotations

import pytest

from assay.config import load_params
from assay.data.clean import clean_frame
from assay.ingest.sources import ingest_domain

from .conftest import REPO_ROOT, require_shared_data

pytestmark = [pytest.mark.real_data, pytest.mark.slow]


@pytest.fixture(scope="module")
def real_params():
    require_shared_data()
    return load_params(REPO_ROOT / "params.real.yaml")


@pytest.mark.parametrize("domain", ["records", "transactions", "course_material", "learning"])
def test_rows_in_equals_clean_plus_quarantined_plus_deduplicated(real_params, domain: str) -> None:
    spec = real_params.domain(domain)
    interim, ingest_report = ingest_domain(domain, spec, REPO_ROOT)
    result = clean_frame(interim, spec, b"test-key")
    r = result.report
    assert r["rows_in"] == ingest_report["rows"] == interim.height
    assert r["rows_in"] == r["rows_clean"] + r["rows_quarantined"] + r["rows_deduplicated"]
    assert r["rows_clean"] > 0.95 * r["rows_in"]


def test_real_transactions_findings(real_params) -> None:
    """What profiling found in online_retail.csv is what cleaning reports."""
    spec = real_params.domain("transactions")
    interim, _ = ingest_domain("transactions", spec, REPO_ROOT)
    r = clean_frame(interim, spec, b"test-key").report
    assert interim.height == 541_909
    assert r["rows_deduplicated"] == 5_268
    assert r["rules"]["stock_adjustment"] == 1_336
    assert r["normalised"]["mojibake_repaired"] == 32
    assert r["rules"]["cancellation_with_positive_quantity"] == 0


def test_real_records_findings(real_params) -> None:
    spec = real_params.domain("records")
    interim, _ = ingest_domain("records", spec, REPO_ROOT)
    result = clean_frame(interim, spec, b"test-key")
    assert interim.height == 101_766
    assert result.report["rules"] == {"allowed:gender": 3}
    assert result.report["flags"]["expired_at_discharge"] == 1_652
    # Every patient is in clean data or quarantine, under the same pseudonym in both.
    patients = set(result.clean["patient_nbr"].to_list()) | set(result.quarantine["patient_nbr"].to_list())
    assert len(patients) == 71_518


def test_real_learning_findings(real_params) -> None:
    """OULAD studentInfo, a domain added by params (and a scaffolded suite) only."""
    spec = real_params.domain("learning")
    interim, report = ingest_domain("learning", spec, REPO_ROOT)
    result = clean_frame(interim, spec, b"test-key")
    assert interim.height == 32_593 and report["rows_with_errors"] == 0  # every value double-quoted, read as published
    assert result.report["rows_clean"] == 32_593
    clean = result.clean
    assert clean["imd_band"].null_count() == 1_111  # the publisher leaves the deprivation band empty there
    assert (clean["imd_band"] == "10-20").sum() == 3_516  # and writes that one band without its %
    # A student can enrol in several module presentations: one pseudonym per student, 28,785 of them.
    assert clean["id_student"].n_unique() == 28_785 and clean["id_student"].str.contains("^[0-9a-f]{16}$").all()
