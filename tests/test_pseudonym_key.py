"""The pseudonym key: a blank key is an error, real data refuses the public demo key, and every
dataset records the key's fingerprint (never the key)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assay.cli import app
from assay.contracts import read_report_data
from assay.data.clean import DEMO_PSEUDONYM_KEY, PSEUDONYM_KEY_ENV, PseudonymKey, pseudonym_key
from assay.errors import AssayError
from assay.ingest.sources import ingest_domain
from assay.io import write_parquet
from assay.stages.clean import reads_real_data, run_clean

from .conftest import REPO_ROOT


@pytest.mark.parametrize("blank", ["", " ", "\t\n"])
def test_a_blank_key_is_an_error_not_unset(monkeypatch, blank):
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, blank)
    with pytest.raises(AssayError, match="set but empty or whitespace"):
        pseudonym_key()


def test_unset_key_is_the_demo_key_which_real_data_refuses(monkeypatch):
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    assert pseudonym_key().is_demo
    with pytest.raises(AssayError, match="--allow-demo-key"):
        pseudonym_key(real_data=True)
    assert pseudonym_key(real_data=True, allow_demo_key=True).is_demo
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, DEMO_PSEUDONYM_KEY)  # the demo key spelt out is still the demo key
    with pytest.raises(AssayError, match="public demo key"):
        pseudonym_key(real_data=True)
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "a real secret")
    assert not pseudonym_key(real_data=True).is_demo


def test_fingerprints_tell_keys_apart_and_do_not_contain_them():
    one, other = PseudonymKey(b"key one", False), PseudonymKey(b"key two", False)
    assert one.fingerprint != other.fingerprint and one.fingerprint == PseudonymKey(b"key one", False).fingerprint
    assert "key one" not in one.fingerprint and len(one.fingerprint) == 16


def test_real_data_is_raw_data_outside_data_raw(tmp_path):
    params = tmp_path / "params.yaml"
    assert not reads_real_data(Path("data/raw/records"), params)
    assert reads_real_data(Path("../shared/data/records"), params)
    assert reads_real_data(Path("incoming/records"), params)


def _project_with_outside_raw_data(tmp_path: Path) -> Path:
    """The demo params with the records raw data moved out of data/raw/, as real data sits."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    records = params["domains"]["records"]
    raw = tmp_path / "incoming" / "records"
    shutil.copytree(REPO_ROOT / records["raw_dir"], raw)
    records["raw_dir"] = "incoming/records"
    records["sources"] = [{**source, "path": source["path"].replace("data/raw/records", "incoming/records")} for source in records["sources"]]
    params["domains"] = {"records": records}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def test_clean_on_real_data_with_the_demo_key_exits_2_in_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    params = _project_with_outside_raw_data(tmp_path)
    args = ["clean", "--domain", "records", "--params", str(params), "--interim", str(tmp_path / "missing.parquet")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--allow-demo-key" in result.output and "Traceback" not in result.output
    allowed = CliRunner().invoke(app, [*args, "--allow-demo-key"])
    assert allowed.exit_code == 2 and "interim data not found" in allowed.output  # past the key check


def test_cleaning_report_records_the_fingerprint_of_the_key_used(tmp_path, monkeypatch, demo_params):
    interim, _ = ingest_domain("records", demo_params.domain("records"), REPO_ROOT)
    write_parquet(interim, tmp_path / "interim.parquet")
    fingerprints = []
    for key in ("first secret", "second secret"):
        monkeypatch.setenv(PSEUDONYM_KEY_ENV, key)
        out = tmp_path / key
        run_clean("records", REPO_ROOT / "params.yaml", tmp_path / "interim.parquet", out / "c.parquet", out / "q.parquet", out / "qr.parquet", out / "r.json")
        recorded = read_report_data(out / "r.json")["pseudonym_key"]
        assert recorded == {"fingerprint": PseudonymKey(key.encode(), False).fingerprint, "demo_key": False}
        assert key not in (out / "r.json").read_text() and key not in (out / "r.details.json").read_text()
        fingerprints.append(recorded["fingerprint"])
    assert fingerprints[0] != fingerprints[1]
