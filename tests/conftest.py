"""Shared fixtures: repo paths, the real-data folder, and small domain specs built in code."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def require_shared_data() -> Path:
    """Skip the calling test, saying why, when ../shared/data is not beside the repo."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real datasets not found at {SHARED_DATA} (see README, 'Real data'); skipping real-data test")
    return SHARED_DATA


@pytest.fixture
def shared_data() -> Path:
    return require_shared_data()


def copy_repo(destination: Path) -> Path:
    """Copy the working tree into ``destination`` as a fresh repo; pipeline tests run ``dvc repro`` there."""
    from assay.workspace import copy_working_tree

    return copy_working_tree(REPO_ROOT, destination)


def run_dvc(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the dvc of this environment in ``repo`` with analytics off; with ``check``, fail on a non-zero exit."""
    from assay.workspace import dvc

    result = dvc(repo, *args)
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def demo_params():
    """The demo profile, params.yaml."""
    from assay.config import load_params

    return load_params(REPO_ROOT / "params.yaml")


@pytest.fixture(scope="module")
def records_splits(demo_params, tmp_path_factory: pytest.TempPathFactory):
    """(train path, dev path, clean frame): 600 train and 150 dev rows of the clean demo records."""
    from assay.data.clean import clean_frame
    from assay.ingest.sources import ingest_domain

    spec = demo_params.domain("records")
    interim, _ = ingest_domain("records", spec, REPO_ROOT)
    clean = clean_frame(interim, spec, b"test-key").clean
    folder = tmp_path_factory.mktemp("splits")
    train, dev = clean.head(600), clean.slice(600, 150)
    train.write_parquet(folder / "train.parquet")
    dev.write_parquet(folder / "dev.parquet")
    return folder / "train.parquet", folder / "dev.parquet", clean
