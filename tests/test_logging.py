"""Logs under `dvc repro` (no terminal): one plain line per record, no bars, no library chatter."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

LEVEL = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


def _assay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``assay`` in a real process with stdout and stderr captured (pipes, not a terminal)."""
    assay = Path(sys.executable).parent / "assay"
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}  # rich reads a width from COLUMNS
    return subprocess.run([str(assay), *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_log_lines_are_whole_lines_without_a_terminal(tmp_path: Path) -> None:
    raw = tmp_path / ("a-folder-with-a-long-name-so-that-the-line-is-wider-than-eighty-columns" * 2)
    raw.mkdir()
    (raw / "a.csv").write_text("id,n\n1,2\n3,4\n")
    params = {
        "domains": {
            "toy": {
                "description": "toy",
                "raw_dir": str(raw),
                "sources": [{"path": str(raw / "a.csv"), "format": "csv"}],
                "columns": {"id": {"type": "int"}, "n": {"type": "int"}},
                "split": {"group_by": "id"},
                "generator": {"features": ["n"]},
                "evaluate": {"target": {"column": "n", "positive": ["2"]}},
            }
        }
    }
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = _assay("ingest", "--domain", "toy", "--out", "o.parquet", "--report", "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    # Every line is a log record of its own: no continuation lines, no progress bar drawn into the log.
    assert lines and all(LEVEL.match(line) for line in lines), result.stderr
    assert "━" not in result.stderr
    reading = next(line for line in lines if "ingest toy: reading" in line)
    assert len(reading) > 160 and reading.endswith("a.csv (csv)")


def test_gx_says_nothing_about_its_ephemeral_docs_site(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("n\n1\n2\n")
    suite = {"name": "s", "expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "n"}, "severity": "critical"}]}
    (tmp_path / "s.json").write_text(json.dumps(suite))
    result = _assay("check", "d.csv", "--suite", "s.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ephemeral" not in result.stderr and "Created temporary directory" not in result.stderr


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_training_logs_one_line_per_epoch_and_prints_no_loss_dicts(demo_params, records_splits, tmp_path: Path, capfd, caplog) -> None:
    from .test_generator import train_tiny

    with caplog.at_level(logging.INFO, logger="assay"):
        _, metrics = train_tiny(demo_params, records_splits, tmp_path)
    captured = capfd.readouterr()
    # The Trainer's own reporting: tqdm bars ("it/s", "|██") and printed dicts ({'loss': ..., 'epoch': ...}).
    for noise in ("{'loss'", "{'eval_loss'", "'train_runtime'", "it/s]", "s/it]"):
        assert noise not in captured.out and noise not in captured.err, noise
    epochs = [record.getMessage() for record in caplog.records if re.match(r"train records: epoch \d+ of \d+:", record.getMessage())]
    assert len(epochs) == metrics["epochs_run"] == 2
    assert re.fullmatch(r"train records: epoch 2 of 2: train loss \d\.\d{4}, dev loss \d\.\d{4}", epochs[-1])
    assert f"dev loss {metrics['dev_loss_per_epoch'][-1]:.4f}" in epochs[-1]


def test_a_hand_advanced_bar_follows_an_end_that_moves(monkeypatch) -> None:
    import io

    from rich.console import Console

    from assay import progress

    screen = io.StringIO()
    monkeypatch.setattr(progress, "console", Console(file=screen, force_terminal=True, width=100))
    with progress.bar("train records", total=10) as advance:
        advance(4)
        advance(4, 12)  # a minutes budget's clock moved the end from 10 steps to 12
    assert "8/12" in screen.getvalue() and "8/10" not in screen.getvalue().rsplit("\r", 1)[-1]
