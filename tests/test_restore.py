"""Versioned data end to end: two revisions of the raw data, a remote, a wiped cache, `assay restore`.

One temporary copy of the repo with a temporary remote (about two minutes: `dvc repro lineage@records`
twice with a tiny generator):

- commit A: raw data v1, `dvc repro`, `dvc push`;
- one raw line changed (v2), commit B, `dvc repro`, `dvc push`;
- the DVC cache and the workspace outputs wiped.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import copy_repo, run_dvc
from .test_lineage import _assay, tiny_records

RAW = "data/raw/records/diabetic_data.csv"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git(repo: Path, *args: str) -> str:
    who = ["-c", "user.name=assay", "-c", "user.email=assay@localhost"]
    return subprocess.run(["git", *who, *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def _outputs(repo: Path) -> list[Path]:
    """The workspace paths DVC caches (stage outputs with cache on; the lineage outputs are git's)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        return [Path(out.fs_path) for out in dvc_repo.index.outs if out.use_cache]


@pytest.fixture(scope="module")
def versioned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("restore")
    repo = copy_repo(base / "repo")
    remote = base / "remote"
    run_dvc(repo, "remote", "modify", "local", "url", str(remote))
    tiny_records(repo)

    v1 = _sha256(repo / RAW)
    run_dvc(repo, "repro", "lineage@records")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "A: raw data v1")
    rev_a = _git(repo, "rev-parse", "HEAD")
    run_dvc(repo, "push")

    lines = (repo / RAW).read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b"Caucasian", b"AfricanAmerican", 1) if b"Caucasian" in lines[1] else lines[1] + b" "
    (repo / RAW).write_bytes(b"\n".join(lines))
    v2 = _sha256(repo / RAW)
    assert v1 != v2
    run_dvc(repo, "repro", "lineage@records")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "B: one raw line changed")
    rev_b = _git(repo, "rev-parse", "HEAD")
    run_dvc(repo, "push")

    shutil.rmtree(repo / ".dvc" / "cache")
    for path in _outputs(repo):
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    return {"repo": repo, "remote": remote, "a": rev_a, "b": rev_b, "v1": v1, "v2": v2, "base": base}


@pytest.mark.slow
def test_restore_brings_back_the_raw_bytes_of_each_revision_from_the_remote(versioned: dict) -> None:
    repo, base = versioned["repo"], versioned["base"]
    assert not (repo / "models/records/generator").exists() and not (repo / ".dvc/cache").exists()
    for rev, sha in (("a", versioned["v1"]), ("b", versioned["v2"])):
        out = base / f"restored-{rev}"
        result = _assay(repo, "restore", "models/records", "--rev", versioned[rev], "--out", str(out))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "models/records: verified" in result.stdout
        assert _sha256(out / "inputs" / RAW) == sha
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["verified"] and manifest["commit"] == versioned[rev]
        raw = next(entry for entry in manifest["files"] if entry["source"] == RAW)
        assert raw["sha256"] == sha == raw["expected"]["sha256"] and raw["md5"]
        # The model itself came from the remote (the cache was wiped), md5 checked against that revision's listing.
        weights = next(entry for entry in manifest["files"] if entry["source"] == "models/records/generator/model.safetensors")
        assert weights["matches"] and weights["expected"]["md5"] == weights["md5"]
        assert (out / "code" / "params.yaml").read_text() == _git(repo, "show", f"{versioned[rev]}:params.yaml") + "\n"
        assert (out / "code" / "assay" / "lineage" / "restore.py").is_file()


@pytest.mark.slow
def test_diff_names_the_one_raw_file_that_changed_and_nothing_else(versioned: dict) -> None:
    result = _assay(versioned["repo"], "diff", versioned["a"], versioned["b"], "models/records", "--json")
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["raw_files"] == [{"key": RAW, "change": "changed", "before": versioned["v1"], "after": versioned["v2"]}]
    assert diff["params"] == [] and diff["suite"] == [] and diff["code"] == []
    # What the raw change made differ downstream: the model (its md5 in each revision's lock).
    assert {change["key"] for change in diff["artifact"]} <= {"models/records/generator", "models/records/metrics.json"}
    text = _assay(versioned["repo"], "diff", versioned["a"], versioned["b"], "models/records").stdout
    assert f"~ {RAW}: {versioned['v1'][:20]}" in text and "params: no change" in text and "code (md5): no change" in text


@pytest.mark.slow
def test_trace_at_a_revision_shows_that_revisions_raw_hashes(versioned: dict) -> None:
    result = _assay(versioned["repo"], "trace", "models/records", "--rev", versioned["a"])
    assert result.returncode == 0, result.stderr
    assert f"sha256 {versioned['v1']}" in result.stdout and versioned["v2"] not in result.stdout
    assert "the bytes are not re-read here" in result.stdout


@pytest.mark.slow
def test_the_lineage_record_and_card_name_the_remote_and_the_restore_command(versioned: dict) -> None:
    record = json.loads(_git(versioned["repo"], "show", f"{versioned['a']}:reports/lineage/records.json"))
    assert record["storage"]["remote"] == {"name": "local", "url": str(versioned["remote"])}
    assert record["storage"]["restore"]["command"] == "assay restore models/records --rev REV --out DIR"
    card = _git(versioned["repo"], "show", f"{versioned['a']}:models/records/README.md")
    assert "assay restore models/records --rev REV --out DIR" in card and str(versioned["remote"]) in card


@pytest.mark.slow
def test_bad_revision_or_path_is_exit_2_and_one_line(versioned: dict) -> None:
    repo, base = versioned["repo"], versioned["base"]
    result = _assay(repo, "restore", "models/records", "--rev", "no-such-rev", "--out", str(base / "x"))
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0 and "no-such-rev: not a git revision" in result.stderr
    result = _assay(repo, "restore", "data/nowhere.parquet", "--out", str(base / "y"))
    assert result.returncode == 2 and "no lineage record at HEAD names it" in result.stderr


@pytest.mark.slow
def test_an_object_missing_from_the_remote_is_named_and_exit_1(versioned: dict) -> None:
    from dvc.api import DVCFileSystem

    repo, remote, base = versioned["repo"], versioned["remote"], versioned["base"]
    md5 = DVCFileSystem(url=str(repo), rev=versioned["a"]).info("models/records/generator/model.safetensors")["md5"]
    gone = remote / "files" / "md5" / md5[:2] / md5[2:]
    kept = gone.read_bytes()
    gone.unlink()
    try:
        result = _assay(repo, "restore", "models/records", "--rev", versioned["a"], "--out", str(base / "missing"))
    finally:
        gone.write_bytes(kept)
    assert result.returncode == 1, result.stdout + result.stderr
    named = [line for line in result.stdout.splitlines() if line.lstrip().startswith("✗")]
    assert len(named) == 1 and "models/records/generator/model.safetensors: missing" in named[0]
    assert "NOT verified" in result.stdout


@pytest.mark.slow
def test_a_fresh_clone_plus_pull_leaves_nothing_to_reproduce(versioned: dict) -> None:
    clone = versioned["base"] / "teammate"
    subprocess.run(["git", "clone", "-q", str(versioned["repo"]), str(clone)], check=True)
    run_dvc(clone, "pull", "lineage@records", "--with-deps")
    assert (clone / "models/records/generator/model.safetensors").is_file()
    status = run_dvc(clone, "status", "lineage@records", "--with-deps")
    assert "Data and pipelines are up to date" in status.stdout, status.stdout


@pytest.mark.slow
def test_checkout_of_a_past_revision_and_pull_leave_nothing_to_reproduce(versioned: dict) -> None:
    repo = versioned["repo"]
    _git(repo, "checkout", "-q", versioned["a"])
    try:
        # Only the records chain was run in this copy (the other domains' lock entries are the checkout's own).
        run_dvc(repo, "pull", "lineage@records", "--with-deps")
        assert _sha256(repo / RAW) == versioned["v1"]
        status = run_dvc(repo, "status", "lineage@records", "--with-deps")
        assert "Data and pipelines are up to date" in status.stdout, status.stdout
    finally:
        _git(repo, "checkout", "-q", versioned["b"])


def test_the_remote_is_named_as_configured_and_without_credentials(tmp_path: Path) -> None:
    from assay.lineage.storage import default_remote

    dvc_dir = tmp_path / ".dvc"
    dvc_dir.mkdir()
    assert default_remote(tmp_path) is None
    (dvc_dir / "config").write_text("[core]\n    remote = local\n['remote \"local\"']\n    url = ../../assay-dvc-remote\n")
    assert default_remote(tmp_path) == {"name": "local", "url": "../../assay-dvc-remote"}  # as written: the same on every checkout
    (dvc_dir / "config.local").write_text("[core]\n    remote = shared\n['remote \"shared\"']\n    url = ssh://auditor:s3cret@host:2222/srv/assay\n")
    assert default_remote(tmp_path) == {"name": "shared", "url": "ssh://host:2222/srv/assay"}
