"""`assay import-raw`: raw data from outside the project under DVC, and params that read the copies."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import yaml

from assay.errors import AssayError
from assay.ingest.versioned import import_raw

PARAMS = """\
# Real profile (a comment that must survive the rewrite)
domains:
  records:
    description: hospital records
    raw_dir: ../outside/records
    sources:
      - path: ../outside/records/visits.csv
        format: csv
  demo:
    raw_dir: data/raw/demo
    sources:
      - path: data/raw/demo/a.csv
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from dvc.repo import Repo

    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    Repo.init(str(root)).close()
    outside = tmp_path / "outside" / "records"
    outside.mkdir(parents=True)
    (outside / "visits.csv").write_text("id,age\n1,30\n2,40\n", encoding="utf-8")
    (root / "params.real.yaml").write_text(PARAMS, encoding="utf-8")
    monkeypatch.chdir(root)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    return root


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_external_raw_data_is_imported_with_dvc_and_params_point_at_the_copy(project: Path) -> None:
    done = import_raw(Path("params.real.yaml"), Path("data/real"), Path("params.yaml"))
    assert [(item["domain"], item["action"], item["path"]) for item in done] == [("records", "imported", "data/real/records")]
    copy = project / "data/real/records/visits.csv"
    assert _sha256(copy) == _sha256(project.parent / "outside/records/visits.csv")
    dvcfile = yaml.safe_load((project / "data/real/records.dvc").read_text())
    assert dvcfile["deps"][0]["path"] == "../../../outside/records"  # relative: no machine's absolute path
    assert dvcfile["outs"][0]["md5"] == done[0]["md5"] and done[0]["md5"].endswith(".dir")
    written = (project / "params.yaml").read_text()
    assert "# Real profile (a comment that must survive the rewrite)" in written
    params = yaml.safe_load(written)["domains"]
    assert params["records"]["raw_dir"] == "data/real/records" and params["records"]["sources"][0]["path"] == "data/real/records/visits.csv"
    assert params["demo"] == yaml.safe_load(PARAMS)["domains"]["demo"]  # data inside the project is left alone
    # The bytes are in the DVC cache, so `dvc push` and `assay restore` have them.
    cache = project / ".dvc/cache/files/md5"
    assert any(path.is_file() and path.read_bytes() == copy.read_bytes() for path in cache.rglob("*"))


def test_a_second_run_reimports_only_what_changed(project: Path) -> None:
    first = import_raw(Path("params.real.yaml"), Path("data/real"), Path("params.yaml"))
    assert import_raw(Path("params.real.yaml"), Path("data/real"), Path("params.yaml"))[0]["action"] == "unchanged"
    source = project.parent / "outside/records/visits.csv"
    source.write_text(source.read_text() + "3,50\n", encoding="utf-8")
    again = import_raw(Path("params.real.yaml"), Path("data/real"), Path("params.yaml"))
    assert again[0]["action"] == "updated" and again[0]["md5"] != first[0]["md5"]
    assert (project / "data/real/records/visits.csv").read_text().endswith("3,50\n")


def test_a_missing_external_folder_is_one_line_naming_the_key(project: Path) -> None:
    (project / "params.real.yaml").write_text(PARAMS.replace("../outside/records", "../nowhere"), encoding="utf-8")
    with pytest.raises(AssayError, match=r"params.real.yaml: domains.records.raw_dir: ../nowhere does not exist"):
        import_raw(Path("params.real.yaml"), Path("data/real"), Path("params.yaml"))
