"""Every figure of the utility report, described once: what it is called on the stewards' page,
which direction is better, how it is formatted, which release-gate threshold holds it, which kind
of domain measures it, and how far it may move between runs.

The release gate (:func:`assay.metrics.evaluate.gate_checks`), the report's metric rows
(:func:`assay.report.utility.load_utility_section`), the params check of which thresholds apply to
text domains (:mod:`assay.config`) and the run-to-run test all read from :data:`METRICS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Better = Literal["higher", "lower", "half"]  # "half": nearer 0.5 is better (an AUC of a classifier that should fail)
Style = Literal["share", "fixed", "signed", "significant"]  # significant: 4 significant digits (small distances)
Applies = Literal["any", "tabular", "text"]


@dataclass(frozen=True)
class Sample:
    """What a figure is measured on, and the fewest rows of it on which the figure can judge a
    release check: below that, the check says "not enough rows to judge" and does not pass."""

    words: str
    min_rows: int
    why: str


# The sample each figure rests on (``Metric.sample``); ``evaluate`` writes each one's size to the
# report's ``sample_sizes``. The minima: a figure whose sampling noise alone is as large as the
# distance between a gate threshold and the values it separates cannot pass or fail a check.
SAMPLES: dict[str, Sample] = {
    "test_class": Sample(
        "rows of the rarer class in the real test split (for a macro-average over C classes, C² / Σ 1/n_c: as noisy as one AUC on that many)",
        30,
        "an AUC compares the rows of one class with the others: with n rows of the rarer class one row moves it by up to 1/n, "
        "and its standard error is about 0.07 at n = 30, as wide as the gap between a threshold and the figures it separates",
    ),
    "synthetic": Sample("synthetic rows validated", 100, "under 100 rows one failing row moves a share by more than a point"),
    "compared": Sample("synthetic rows compared with real train, column by column", 100, "a KS or TV distance on fewer rows moves by 0.1 between samples"),
    "pairs": Sample("synthetic rows whose column pairs are compared", 100, "a correlation on fewer rows moves by 0.1 between samples"),
    "detection": Sample("rows per side in the detection test", 100, "5-fold cross-validation on fewer rows leaves folds of a few rows"),
    "distance": Sample("synthetic rows measured for distances", 100, "a 5th percentile of fewer than 100 distances rests on fewer than 5 of them"),
    "members": Sample("train members and holdout non-members (each)", 100, "the attack's AUC on fewer rows per side has a standard error over 0.04"),
    "copies": Sample("synthetic rows checked for copies", 1000, "a rate of 0.001 cannot be told from 0 on fewer than 1,000 rows"),
    "units": Sample("synthetic text units", 100, "under 100 units one unit moves the share by more than a point"),
}


@dataclass(frozen=True)
class Gate:
    """A release-gate check: the ``release_gate`` threshold key in params and the words of its message."""

    threshold: str
    words: str

    @property
    def bound(self) -> Literal["min", "max"]:
        return "min" if self.threshold.startswith("min_") else "max"


@dataclass(frozen=True)
class Metric:
    """One figure of ``reports/utility/<domain>.json`` (its key in the ``generator`` section)."""

    key: str
    group: str
    label: str | None = None  # the report row's label; None: not a row of its own
    better: Better = "higher"
    style: Style = "fixed"
    reference: tuple[str, ...] | None = None  # path in the report to the real-data reference value
    gate: Gate | None = None
    applies: Applies = "any"
    # How far the figure may move between two runs that differ only in machine, CPU thread count or
    # seed (README, "Determinism"): four standard deviations over the five demo runs of
    # benchmarks/gate_margins.py (the largest over the domains), rounded up, at least 0.001. A new
    # measurement only widens a tolerance: it is the widest run-to-run spread measured so far.
    tolerance: float | None = None
    sample: str | None = None  # a key of SAMPLES: what the figure is measured on


METRICS: tuple[Metric, ...] = (
    Metric(
        "validity_row_pass_share",
        "Validity",
        "Rows passing every row-level expectation",
        "higher",
        "share",
        ("holdout", "validity_row_pass_share"),
        sample="synthetic",
    ),
    Metric(
        "validity_row_pass_share_critical",
        "Validity",
        "… counting critical expectations only",
        "higher",
        "share",
        gate=Gate("min_critical_row_pass_share", "share of rows passing every critical row-level expectation"),
        tolerance=0.026,
        sample="synthetic",
    ),
    Metric("column_similarity", "Fidelity", "Column similarity (mean of KS / TV complements)", sample="compared"),
    Metric("pair_similarity", "Fidelity", "Pairwise association similarity (mean)", sample="pairs"),
    Metric(
        "detection_auc",
        "Fidelity",
        "Detection ROC AUC (0.5 = indistinguishable)",
        "half",
        gate=Gate("max_detection_auc", "ROC AUC of a classifier telling real from synthetic rows"),
        tolerance=0.19,
        sample="detection",
    ),
    Metric(
        "tstr_auc",
        "Utility",
        "Train-on-synthetic ROC AUC on real test",
        reference=("trtr_auc",),
        gate=Gate("min_tstr_auc", "train-on-synthetic ROC AUC on the real test split"),
        tolerance=0.057,
        sample="test_class",
    ),
    Metric(
        "tstr_trtr_auc",
        "Utility",
        "TSTR / TRTR ROC AUC",
        gate=Gate("min_tstr_trtr_auc", "train-on-synthetic / train-on-real ROC AUC"),
        tolerance=0.069,
        sample="test_class",
    ),
    Metric("tstr_trtr_average_precision", "Utility", "TSTR / TRTR average precision", sample="test_class"),
    Metric("tstr_f1_at_0_5", "Utility", "Train-on-synthetic F1 at threshold 0.5 (unweighted classifier)", reference=("trtr_f1_at_0_5",), sample="test_class"),
    Metric(
        "tstr_f1_at_dev_threshold",
        "Utility",
        "Train-on-synthetic F1 at the threshold chosen on real dev",
        reference=("trtr_f1_at_dev_threshold",),
        sample="test_class",
    ),
    Metric("augmentation_auc_lift", "Utility", "ROC AUC lift from adding synthetic rows to a sample of train", style="signed", sample="test_class"),
    Metric(
        "dcr_p5",
        "Privacy",
        "Distance to closest train row, 5th percentile",
        style="significant",
        reference=("holdout", "dcr_p5"),
        applies="tabular",
        sample="distance",
    ),
    Metric(
        "dcr_p5_ratio",
        "Privacy",
        "… ratio to holdout rows (≥ 1: no closer than unseen real rows)",
        gate=Gate("min_dcr_p5_ratio", "5th-percentile distance to closest train row, synthetic / holdout"),
        applies="tabular",
        tolerance=1.0,  # transactions' spread in the fp32 margins run of 7 December 2026: sd 0.249
        sample="distance",
    ),
    Metric(
        "dcr_median",
        "Privacy",
        "Distance to closest train row, median",
        style="significant",
        reference=("holdout", "dcr_median"),
        applies="tabular",
        sample="distance",
    ),
    Metric("closer_to_train_share", "Privacy", "Nearer to train than to holdout (ideal 0.5)", "half", "share", applies="tabular", sample="members"),
    Metric("exact_copy_rate", "Privacy", "Exact copies of train rows", "lower", "share", ("holdout", "exact_copy_rate"), applies="tabular", sample="copies"),
    Metric(
        "exact_copy_excess",
        "Privacy",
        better="lower",
        gate=Gate("max_exact_copy_excess", "share of train copies, synthetic minus holdout"),
        applies="tabular",
        tolerance=0.001,
        sample="copies",
    ),
    Metric(
        "mia_auc",
        "Privacy",
        "Membership-inference ROC AUC (0.5 = no leak)",
        "half",
        gate=Gate("max_mia_auc", "membership-inference attack ROC AUC"),
        applies="tabular",
        tolerance=0.085,
        sample="members",
    ),
    Metric(
        "verbatim_span_share",
        "Privacy",
        "Units with a verbatim span of train text",
        "lower",
        "share",
        ("holdout", "verbatim_span_share"),
        applies="text",
        sample="units",
    ),
    Metric(
        "verbatim_excess",
        "Privacy",
        better="lower",
        gate=Gate("max_verbatim_excess", "share of units with a verbatim train span, synthetic minus holdout"),
        applies="text",
        tolerance=0.001,
        sample="units",
    ),
)

GATED: tuple[tuple[Metric, Gate], ...] = tuple((metric, metric.gate) for metric in METRICS if metric.gate is not None)
GATE_BY_THRESHOLD: dict[str, tuple[Metric, Gate]] = {gate.threshold: (metric, gate) for metric, gate in GATED}
REPORTED: tuple[Metric, ...] = tuple(metric for metric in METRICS if metric.label is not None)
RUN_TO_RUN_TOLERANCE: dict[str, float] = {metric.key: metric.tolerance for metric in METRICS if metric.tolerance is not None}
SAMPLE_OF: dict[str, str] = {metric.key: metric.sample for metric in METRICS if metric.sample is not None}


def inapplicable_thresholds(kind: Literal["tabular", "text"]) -> tuple[str, ...]:
    """The release-gate threshold keys that do not apply to a domain of ``kind``."""
    return tuple(gate.threshold for metric, gate in GATED if metric.applies not in ("any", kind))
