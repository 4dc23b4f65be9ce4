"""`dvc repro` end to end in temporary copies of the repo (slow: about a minute each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from assay.contracts import read_report_data

from .conftest import copy_repo, run_dvc

pytestmark = pytest.mark.slow
DOMAINS = ["records", "transactions", "course_material"]


@pytest.fixture(scope="module")
def repro_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("repo"))
    for domain in DOMAINS:
        run_dvc(repo, "repro", f"clean@{domain}")
    return repo


@pytest.mark.parametrize("domain", DOMAINS)
def test_repro_writes_declared_outputs_and_accounts_for_every_row(repro_repo: Path, domain: str) -> None:
    report = json.loads((repro_repo / f"reports/clean/{domain}.json").read_text())
    ingest = read_report_data(repro_repo / f"reports/ingest/{domain}.json")
    clean = pl.read_parquet(repro_repo / f"data/clean/{domain}.parquet")
    quarantine = pl.read_parquet(repro_repo / f"data/quarantine/{domain}.parquet")
    assert report["rows_in"] == ingest["rows"] == report["rows_clean"] + report["rows_quarantined"] + report["rows_deduplicated"]
    assert (clean.height, quarantine.height) == (report["rows_clean"], report["rows_quarantined"])
    assert quarantine["_rule"].null_count() == 0 and quarantine["_reason"].null_count() == 0
    for source in ingest["sources"]:
        assert len(source["sha256"]) == 64 and source["size_bytes"] > 0


@pytest.mark.parametrize("domain", DOMAINS)
def test_demo_faults_are_found(repro_repo: Path, domain: str) -> None:
    faults = json.loads((repro_repo / f"data/demo_faults/{domain}.json").read_text())
    report = json.loads((repro_repo / f"reports/clean/{domain}.json").read_text())
    assert report["rows_quarantined"] > 0
    duplicates = faults.get("duplicate_row", faults.get("duplicate_paragraph", 0))
    assert report["rows_deduplicated"] >= duplicates > 0
    if "mojibake" in faults:
        assert report["normalised"]["mojibake_repaired"] > 0


def test_raw_identifiers_never_reach_clean_data(repro_repo: Path) -> None:
    raw = pl.read_parquet(repro_repo / "data/interim/records.parquet")
    clean = pl.read_parquet(repro_repo / "data/clean/records.parquet")
    for column in ("encounter_id", "patient_nbr"):
        assert clean[column].str.contains(r"^[0-9a-f]{16}$").all()
        assert not clean[column].is_in(raw[column].drop_nulls().implode()).any()


def test_second_repro_does_nothing_and_outputs_are_byte_identical(repro_repo: Path, tmp_path: Path) -> None:
    status = run_dvc(repro_repo, "status", *(f"clean@{domain}" for domain in DOMAINS))  # the stages this fixture ran
    assert "up to date" in status.stdout.lower()
    before = {p: p.read_bytes() for p in (repro_repo / "data/clean").glob("*.parquet")}
    run_dvc(repro_repo, "repro", "--force", "clean@records")
    for path, data in before.items():
        assert path.read_bytes() == data, f"{path.name} changed on a forced rerun"


def test_adding_a_domain_is_a_params_change_only(repro_repo: Path) -> None:
    """A fourth domain (a copy of transactions as Parquet) runs with no code change."""
    source = repro_repo / "data/raw/shop2"
    source.mkdir()
    interim = pl.read_parquet(repro_repo / "data/interim/transactions.parquet")
    interim.filter(pl.col("_ingest_error").is_null()).drop("_source_file", "_source_row", "_ingest_error", "_raw", "_raw_restricted").head(500).write_parquet(
        source / "lines.parquet"
    )
    params_path = repro_repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    shop = json.loads(json.dumps(params["domains"]["transactions"]))
    shop["raw_dir"] = "data/raw/shop2"
    shop["sources"] = [{"path": "data/raw/shop2/lines.parquet", "format": "parquet"}]
    params["domains"]["shop2"] = shop
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    expectations = repro_repo / "expectations"
    if (expectations / "transactions.json").exists():
        shutil.copy(expectations / "transactions.json", expectations / "shop2.json")
    run_dvc(repro_repo, "repro", "clean@shop2")
    report = json.loads((repro_repo / "reports/clean/shop2.json").read_text())
    assert report["rows_in"] == 500
    assert report["rows_clean"] > 400


def test_validation_gate_stops_the_pipeline(tmp_path: Path) -> None:
    """Corrupt clean data (as a hand edit would) and dvc repro stops at validate, with nothing downstream."""
    repo = copy_repo(tmp_path / "repo")
    run_dvc(repo, "repro", "clean@records")
    clean_path = repo / "data/clean/records.parquet"
    clean = pl.read_parquet(clean_path)
    corrupted = clean.with_columns(pl.when(pl.int_range(pl.len()) < 5).then(pl.lit("MAYBE")).otherwise(pl.col("readmitted")).alias("readmitted"))
    corrupted.write_parquet(clean_path)
    run_dvc(repo, "commit", "--force", "clean@records")
    split_metrics = repo / "reports/split/records.json"  # tracked by git, so present before the run
    before = split_metrics.read_bytes() if split_metrics.exists() else None

    result = run_dvc(repo, "repro", "validate@records", "split@records", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "failed to reproduce 'validate@records'" in output
    assert "expect_column_values_to_be_in_set on readmitted: 5 unexpected value(s)" in output
    report = json.loads((repo / "reports/validation/records.json").read_text())
    assert report["success"] is False and report["failed_critical"] >= 1
    assert not (repo / "data/splits/records").exists()
    assert not (repo / "models/records/generator").exists()
    assert (split_metrics.read_bytes() if split_metrics.exists() else None) == before


def test_a_cleaning_rule_change_leaves_ingest_up_to_date(tmp_path: Path) -> None:
    """Ingest depends on the columns it reads (the schema stage's file), not on the rules beside them."""
    repo = copy_repo(tmp_path / "repo")
    run_dvc(repo, "repro", "ingest@records")
    interim = repo / "data/interim/records.parquet"
    written = interim.stat().st_mtime_ns
    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    params["domains"]["records"]["columns"]["age"]["allowed"].remove("[0-10)")  # a steward's edit to a cleaning rule
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))

    status = json.loads(run_dvc(repo, "status", "--json", "schema@records", "ingest@records", "clean@records").stdout)
    assert set(status) == {"schema@records", "clean@records"}, status
    repro = run_dvc(repo, "repro", "clean@records").stdout
    assert "Stage 'ingest@records' didn't change, skipping" in repro
    assert interim.stat().st_mtime_ns == written

    # What ingest does read, the identifiers (masked in broken lines), re-runs it.
    params["domains"]["records"]["columns"]["encounter_id"]["identifier"] = False
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    assert "Running stage 'ingest@records'" in run_dvc(repo, "repro", "ingest@records").stdout
