"""Atomic writes: a killed write leaves a temporary, the next write removes it, and neither git nor
DVC ever sees one. Reads: a file that cannot be read is a one-line error naming it."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import pytest

from assay.errors import AssayError
from assay.io import atomic_dir, read_parquet, reading, write_json, write_parquet

from .conftest import REPO_ROOT


def test_the_next_write_removes_what_a_killed_write_left(tmp_path):
    target = tmp_path / "clean.parquet"
    # What `kill -9` during write_parquet leaves: the staged file, never renamed, never removed.
    killed = subprocess.run(
        [sys.executable, "-c", "import os, tempfile; tempfile.mkstemp(prefix='.clean.parquet.', suffix='.tmp', dir=os.getcwd()); os._exit(9)"], cwd=tmp_path
    )
    assert killed.returncode == 9 and len(list(tmp_path.glob(".clean.parquet.*.tmp"))) == 1
    (tmp_path / ".other.parquet.x.tmp").write_text("another file's temporary stays")
    write_parquet(pl.DataFrame({"a": [1]}), target)
    assert sorted(path.name for path in tmp_path.iterdir()) == [".other.parquet.x.tmp", "clean.parquet"]


def test_a_killed_folder_write_is_removed_too(tmp_path):
    stale = tmp_path / ".generator.abc123.tmp"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"half")
    with atomic_dir(tmp_path / "generator") as staging:
        (staging / "config.json").write_text("{}")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["generator"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "r.json"
    write_json({"old": 1}, target)
    with pytest.raises(TypeError):
        write_json({1j: 1}, target)  # a complex key is not JSON
    assert target.read_text().strip().startswith("{") and "old" in target.read_text()
    assert [path.name for path in tmp_path.iterdir()] == ["r.json"]


@pytest.mark.parametrize("path", ["data/clean/.records.parquet.k2j3.tmp", "data/splits/records/.train.parquet.k2j3.tmp", "models/.records.x.tmp"])
def test_git_and_dvc_ignore_temporaries(path):
    git = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO_ROOT)
    assert git.returncode == 0, f"git does not ignore {path}"
    dvc = subprocess.run([sys.executable, "-m", "dvc", "check-ignore", "-q", path], cwd=REPO_ROOT, env={"DVC_NO_ANALYTICS": "1", "PATH": ""})
    assert dvc.returncode == 0, f"dvc does not ignore {path}"


def test_an_unreadable_parquet_file_is_one_line_naming_it(tmp_path):
    path = tmp_path / "clean.parquet"
    path.write_bytes(b"PAR1 not really parquet")
    with pytest.raises(AssayError) as caught:
        read_parquet(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: cannot be read: ") and "\n" not in message
    write_parquet(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), path)
    assert read_parquet(path, columns=["b"]).to_dict(as_series=False) == {"b": ["x", "y"]}


def test_reading_keeps_our_own_errors_as_they_are(tmp_path):
    with pytest.raises(AssayError, match="^already clear$"), reading(tmp_path / "x.parquet"):
        raise AssayError("already clear")
