"""Params survive DVC's own rewriting of params.yaml (`dvc exp run -S`), which writes YAML 1.2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assay.contracts import read_report_data

from .conftest import REPO_ROOT, copy_repo, run_dvc


def test_unquoted_no_and_yes_stay_strings(tmp_path: Path) -> None:
    """`dvc exp run -S` drops the quotes around "No"/"Yes"; YAML 1.1 would read them as booleans."""
    from assay.config import load_params

    text = (REPO_ROOT / "params.yaml").read_text(encoding="utf-8")
    unquoted = text.replace('["No", "Ch"]', "[No, Ch]").replace('["No", "Yes"]', "[No, Yes]").replace('"off"', "off")
    assert unquoted.count("[No, Yes]") == 1 and "[No, Ch]" in unquoted  # the replacement hit, or this test tests nothing
    (tmp_path / "params.yaml").write_text(unquoted, encoding="utf-8")
    (tmp_path / "data").symlink_to(REPO_ROOT / "data")  # sources are checked to exist

    records = load_params(tmp_path / "params.yaml").domain("records")
    assert records.columns["change"].allowed == ["No", "Ch"]
    assert records.columns["diabetesMed"].allowed == ["No", "Yes"]


@pytest.mark.slow
def test_dvc_exp_run_with_a_changed_param_finishes(tmp_path: Path) -> None:
    repo = copy_repo(tmp_path / "repo")
    run_dvc(repo, "exp", "run", "-S", "domains.records.split.seed=7", "split@records")

    rewritten = (repo / "params.yaml").read_text(encoding="utf-8")
    assert "seed: 7" in rewritten
    shown = json.loads(run_dvc(repo, "exp", "show", "--json").stdout)
    experiments = [exp for commit in shown for exp in (commit.get("experiments") or [])]
    assert experiments, "dvc exp show lists no experiment"
    split = read_report_data(repo / "reports/split/records.json")
    assert split["seed"] == 7
