"""Did a re-run reproduce the committed figures? ``dvc metrics diff`` judged against the stated tolerances.

After ``make demo`` on a clean clone, the workspace's metrics should be the committed ones: the
pipeline is deterministic on one machine and thread count, so every figure is equal, except that
a gate figure may move by its run-to-run tolerance (:data:`assay.metrics.registry.RUN_TO_RUN_TOLERANCE`,
what another CPU or thread count moves it by). ``.ci/run`` checks it after ``make demo`` with
``assay reproduced`` (HEAD against the workspace; exit 1 if a figure moved too far).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from assay.errors import AssayError
from assay.metrics.registry import RUN_TO_RUN_TOLERANCE


def tolerance_of(key: str) -> float:
    """The stated tolerance of a metric key (``generator.tstr_trtr_auc`` -> that of ``tstr_trtr_auc``); 0 if none is stated."""
    return RUN_TO_RUN_TOLERANCE.get(key.rsplit(".", 1)[-1], 0.0)


def moved_too_far(diff: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[str]:
    """One line per figure of ``dvc metrics diff --json`` output that moved beyond its tolerance,
    appeared or disappeared; empty when the re-run reproduced the committed figures."""
    problems = []
    for path, figures in sorted(diff.items()):
        for key, change in sorted(figures.items()):
            old, new = change.get("old"), change.get("new")
            if old is None or new is None:
                problems.append(f"{path}: {key}: {'new' if old is None else 'gone'} ({old} -> {new})")
                continue
            numeric = all(isinstance(value, int | float) and not isinstance(value, bool) for value in (old, new))
            tolerance = tolerance_of(key)
            if numeric and abs(new - old) <= tolerance:
                continue
            allowed = f"tolerance {tolerance}" if tolerance else "no tolerance stated: must be equal"
            problems.append(f"{path}: {key}: {old} -> {new} ({allowed})")
    return problems


def metrics_diff(rev: str = "HEAD") -> dict[str, Any]:
    """``dvc metrics diff --json`` of ``rev`` against the workspace, run with this environment's dvc."""
    dvc = Path(sys.executable).parent / "dvc"  # this environment's dvc, on PATH or not
    args = [str(dvc), "metrics", "diff", "--json", rev]
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or [f"exit {result.returncode}"])[-1]
        raise AssayError(f"dvc metrics diff --json {rev} failed: {last}")
    return json.loads(result.stdout or "{}")
