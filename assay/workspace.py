"""A scratch copy of the working tree, for tests and benchmarks that run the pipeline without
touching the developer's outputs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from assay.contracts import read_report_data


def copy_working_tree(source: Path, destination: Path) -> Path:
    """Copy what git tracks or would track in ``source`` into ``destination``, as a fresh git repo.

    Uncommitted edits come along (the copy is of files, not of commits), so a benchmark of a change
    measures that change. DVC's cache and outputs do not: ``dvc repro`` there starts from scratch.
    """
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=source, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, listing.split("\0")):
        path = source / name
        if path.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    who = {"NAME": "assay", "EMAIL": "assay@localhost"}
    env = {**os.environ, **{f"GIT_{role}_{key}": value for role in ("AUTHOR", "COMMITTER") for key, value in who.items()}}
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run(["git", "add", "-A"], cwd=destination, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "copy of the working tree"], cwd=destination, check=True, env=env)
    return destination


def tool_environment(repo: Path, threads: int | None = None) -> dict[str, str]:
    """The environment for running ``assay`` and ``dvc`` in ``repo``: this interpreter's tools on
    PATH, ``repo``'s code first on the import path, no analytics, no model hub, and
    ``ASSAY_NUM_THREADS`` when ``threads`` is given."""
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(repo), "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    if threads:
        env["ASSAY_NUM_THREADS"] = str(threads)
    return env


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this environment's ``dvc`` in ``repo`` (see :func:`tool_environment`), output captured."""
    command = [str(Path(sys.executable).parent / "dvc"), *args]
    return subprocess.run(command, cwd=repo, env=tool_environment(repo), capture_output=True, text=True)


def train_synthesize_evaluate(repo: Path, domain: str, params: Path, out: Path, threads: int | None = None, processes: int = 1) -> dict[str, Any]:
    """Run ``assay train``, ``synthesize`` and ``evaluate`` for ``domain`` on ``repo``'s splits, writing
    into ``out``. With ``processes`` above 1, training is data-parallel, launched by ``torchrun``.
    Returns the utility report (also when its release gate failed), or ``{"failed": step, "message":
    last line}`` when a step could not finish."""
    splits = repo / "data" / "splits" / domain
    train, model = splits / "train.parquet", out / "model"
    steps: dict[str, list[str | Path]] = {
        "train": ["--train", train, "--dev", splits / "dev.parquet", "--model-dir", model, "--live-dir", out / "live", "--checkpoints", out / "checkpoints"],
        "synthesize": ["--model-dir", model, "--train", train, "--out", out / "synthetic.parquet", "--report", out / "synthesize.json"],
        "evaluate": [
            *("--splits", splits, "--synthetic", out / "synthetic.parquet", "--suite", repo / "expectations" / f"{domain}.json"),
            *("--report", out / "utility.json", "--plots", out / "utility"),
        ],
    }
    for step, args in steps.items():
        launcher = [str(Path(sys.executable).parent / "torchrun"), f"--nproc_per_node={processes}"] if step == "train" and processes > 1 else [sys.executable]
        command = [*launcher, "-m", "assay.cli", step, "--domain", domain, "--params", str(params), *map(str, args)]
        result = subprocess.run(command, cwd=repo, env=tool_environment(repo, threads), capture_output=True, text=True)
        # evaluate exits 1 after writing its report when a gate check fails: the report is the result
        if result.returncode != 0 and not (step == "evaluate" and (out / "utility.json").is_file()):
            last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
            return {"failed": step, "message": last}
    return read_report_data(out / "utility.json") or {}
