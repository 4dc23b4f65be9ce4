"""The metric registry and the params schema agree: every release-gate threshold in params has one
registered check, and the other way round."""

from __future__ import annotations

import pytest

from assay.config import ReleaseGate
from assay.metrics.registry import GATED, METRICS, REPORTED, RUN_TO_RUN_TOLERANCE, inapplicable_thresholds


def test_every_release_gate_threshold_has_exactly_one_registered_check():
    thresholds = [gate.threshold for _, gate in GATED]
    assert sorted(thresholds) == sorted(name for name in ReleaseGate.model_fields if name != "enabled")


def test_metric_keys_and_report_labels_are_unique():
    keys = [metric.key for metric in METRICS]
    labels = [metric.label for metric in REPORTED]
    assert len(set(keys)) == len(keys) and len(set(labels)) == len(labels)


def test_every_gated_figure_has_a_run_to_run_tolerance():
    assert sorted(RUN_TO_RUN_TOLERANCE) == sorted(metric.key for metric, _ in GATED)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("text", {"min_dcr_p5_ratio", "max_exact_copy_excess", "max_mia_auc"}), ("tabular", {"max_verbatim_excess"})],
)
def test_checks_of_the_other_kind_of_domain(kind, expected):
    assert set(inapplicable_thresholds(kind)) == expected
