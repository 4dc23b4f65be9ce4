"""Data-parallel training: two processes (torchrun, gloo on CPU cores) train one generator to the
same release-gate outcome as one process, within the run-to-run tolerances; only the main
process writes, and the privacy checks run there alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.metrics.registry import RUN_TO_RUN_TOLERANCE
from assay.workspace import train_synthesize_evaluate

from .conftest import copy_repo, run_dvc

pytestmark = pytest.mark.slow


def test_two_processes_give_the_one_process_gate_outcome(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    run_dvc(repo, "repro", "split@transactions")
    reports = {}
    for processes in (1, 2):
        report = train_synthesize_evaluate(repo, "transactions", repo / "params.yaml", tmp_path / f"p{processes}", threads=1, processes=processes)
        assert "failed" not in report, f"{processes} process(es): {report}"
        reports[processes] = {check["metric"]: check for check in report["gate_checks"]}
    one, two = reports[1], reports[2]
    assert one.keys() == two.keys() and one
    assert {m: c["passed"] for m, c in one.items()} == {m: c["passed"] for m, c in two.items()}
    for metric, check in one.items():
        gap = abs(check["value"] - two[metric]["value"])
        assert gap <= RUN_TO_RUN_TOLERANCE[metric], f"{metric}: gap {gap:.4g} over the tolerance {RUN_TO_RUN_TOLERANCE[metric]}"

    metrics = {p: json.loads((tmp_path / f"p{p}" / "model" / "metrics.json").read_text()) for p in (1, 2)}
    assert metrics[2]["plan"]["planned_steps"] == metrics[1]["plan"]["planned_steps"]  # the same optimiser steps of the same batch
    checks = metrics[2]["privacy"]["checks"]
    assert checks and [c["epoch"] for c in checks] == [c["epoch"] for c in metrics[1]["privacy"]["checks"]]
    curves = (tmp_path / "p2" / "live" / "plots" / "metrics" / "dev" / "loss.tsv").read_text().splitlines()
    assert len(curves) == 1 + metrics[2]["epochs_run"]  # one writer: a header and one line per epoch, not two
