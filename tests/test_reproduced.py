"""The CI check that a re-run reproduced the committed figures (issue 17, item 2): ``dvc metrics diff``
against the stated run-to-run tolerances."""

from __future__ import annotations

from assay.metrics.registry import RUN_TO_RUN_TOLERANCE
from assay.reproduced import moved_too_far, tolerance_of


def test_a_gate_figure_may_move_by_its_tolerance_and_no_further() -> None:
    tolerance = RUN_TO_RUN_TOLERANCE["tstr_trtr_auc"]
    assert tolerance_of("generator.tstr_trtr_auc") == tolerance
    within = {"reports/utility/records.json": {"generator.tstr_trtr_auc": {"old": 0.95, "new": 0.95 + tolerance / 2, "diff": tolerance / 2}}}
    assert moved_too_far(within) == []
    beyond = {"reports/utility/records.json": {"generator.tstr_trtr_auc": {"old": 0.95, "new": 0.95 - 2 * tolerance, "diff": -2 * tolerance}}}
    [line] = moved_too_far(beyond)
    assert line.startswith("reports/utility/records.json: generator.tstr_trtr_auc: 0.95 -> ") and f"tolerance {tolerance}" in line


def test_a_figure_with_no_stated_tolerance_must_be_equal_and_new_or_gone_figures_are_named() -> None:
    diff = {
        "reports/clean/records.json": {"rows_quarantined": {"old": 12, "new": 13, "diff": 1}},
        "reports/validation/records.json": {"failed_critical": {"old": None, "new": 0}, "passed": {"old": True, "new": False}},
    }
    assert moved_too_far(diff) == [
        "reports/clean/records.json: rows_quarantined: 12 -> 13 (no tolerance stated: must be equal)",
        "reports/validation/records.json: failed_critical: new (None -> 0)",
        "reports/validation/records.json: passed: True -> False (no tolerance stated: must be equal)",
    ]
    assert moved_too_far({}) == []


def test_the_command_names_what_moved_and_exits_1(monkeypatch) -> None:
    from typer.testing import CliRunner

    import assay.reproduced as rerun
    from assay.cli import app

    moved = {"reports/utility/records.json": {"generator.detection_auc": {"old": 0.5, "new": 0.9, "diff": 0.4}}}
    monkeypatch.setattr(rerun, "metrics_diff", lambda rev: moved)
    result = CliRunner().invoke(app, ["reproduced"])
    assert result.exit_code == 1 and "generator.detection_auc: 0.5 -> 0.9" in result.output
    monkeypatch.setattr(rerun, "metrics_diff", lambda rev: {})
    result = CliRunner().invoke(app, ["reproduced", "--rev", "v1"])
    assert result.exit_code == 0 and "committed at v1 reproduced: 0 moved" in result.output
