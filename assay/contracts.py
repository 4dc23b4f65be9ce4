"""Typed stage contracts: the JSON reports one stage writes and another reads.

One pydantic model per report, used by both sides. The writing stage passes its report through
the model (:func:`write_report`), so a key renamed or left out there fails on the spot, naming
the file and the key; the report page, the lineage record and the model card read the file back
through the same model (:func:`read_report`) and use its attributes. The files keep the keys they
always had (DVC metrics, the stewards' page and users read them): a key a writer leaves out
stays out of the file (``exclude_unset``), and a key nobody declared is refused.

Blocks that are records of figures (one entry per metric, per column, per pair) stay mappings:
their keys come from :mod:`assay.metrics.registry` or from the data, not from this contract.

Reports that ``dvc.yaml`` declares as DVC metrics (:class:`MetricsReport`) are written in two
files, so that ``dvc metrics show``/``diff`` and ``dvc exp show`` hold only what a person compares
between runs: the declared file keeps the figures (numbers and booleans, nested in mappings),
and ``<name>.details.json`` beside it (a plain output) keeps the rest: text, lists of records,
GX's raw result, timings and settings echoed back (a contract's ``not_figures``).
:func:`read_report` reads both and merges them, so readers see one report as before.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from assay.errors import AssayError
from assay.io import read_json_object, write_json

if TYPE_CHECKING:
    from assay.config import DomainSpec

log = logging.getLogger("assay.contracts")

Number = float | int


class Contract(BaseModel):
    """A report's keys; an undeclared key is an error, on writing and on reading."""

    model_config = ConfigDict(extra="forbid")


class MetricsReport(Contract):
    """A report whose figures ``dvc.yaml`` declares as DVC metrics: written as figures plus details."""

    # Top-level keys that stay out of the metrics although they hold numbers: timings, settings echoed back.
    not_figures: ClassVar[frozenset[str]] = frozenset()


# ---------------------------------------------------------------------------------------------
# schema: data/interim/<domain>.schema.json (read by ingest)


class IngestSchema(Contract):
    """What ingest reads of a domain's ``columns``: the names in source order and the direct identifiers
    (masked in the ``_raw`` of broken lines). The ``schema`` stage writes it from params, so that
    ingest depends on these and not on the cleaning rules beside them."""

    domain: str
    columns: list[str]
    identifiers: list[str] = []

    @classmethod
    def of(cls, name: str, spec: DomainSpec) -> IngestSchema:
        return cls(domain=name, columns=list(spec.columns), identifiers=spec.identifiers())


# ---------------------------------------------------------------------------------------------
# ingest: reports/ingest/<domain>.json (read by the page and by lineage, for the raw files' sha256)


class SourceInfo(Contract):
    """What ingest learned reading one file; the readers fill it in as they go."""

    encoding: str = ""
    encoding_confidence: float | None = None
    encoding_chosen_by: str | None = None
    delimiter: str | None = None
    line_endings: str | None = None
    blank_lines: int = 0
    rows: int = 0
    rows_with_errors: int = 0
    columns: list[str] = []
    notes: list[str] = []


class IngestSource(SourceInfo):
    """One source file in the ingest report: where it is, its size and sha256, and what reading it found."""

    path: str
    format: str
    size_bytes: int
    sha256: str


class IngestReport(MetricsReport):
    domain: str
    rows: int
    rows_with_errors: int
    sources: list[IngestSource]


# ---------------------------------------------------------------------------------------------
# clean: reports/clean/<domain>.json (read by the page, lineage and the model card)


class PersonalDataCount(Contract):
    action: str
    values_found: int
    kinds: dict[str, int] = {}


class PseudonymKey(Contract):
    demo_key: bool
    fingerprint: str


class CleanReport(MetricsReport):
    not_figures = frozenset({"pseudonym_key"})  # which key, not how much

    rows_in: int
    rows_clean: int
    rows_quarantined: int
    rows_deduplicated: int
    rules: dict[str, int] = {}
    flags: dict[str, int] = {}
    normalised: dict[str, int] = {}
    personal_data: dict[str, PersonalDataCount] = {}
    pseudonymised_columns: list[str] = []
    duplicate_examples: list[dict[str, Any]] = []  # {"_source_file", "_source_row", "duplicate_of_file", "duplicate_of_row"}
    restricted_lines: int = 0
    pseudonym_key: PseudonymKey | None = None


# ---------------------------------------------------------------------------------------------
# validate: reports/validation/<domain>.json (read by split's gate, the page and lineage)


class ExpectationResult(Contract):
    id: str | None = None
    type: str
    column: str | list[str] | None = None
    kwargs: dict[str, Any] = {}
    severity: str | None = None
    success: bool
    notes: str | None = None
    error: str | None = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    examples: list[dict[str, Any]] = []  # {"value", "_source_file", "_source_row"}


class ValidationReport(MetricsReport):
    not_figures = frozenset({"gx_result"})  # GX's own counts, run metadata and fingerprints

    domain: str
    suite: str
    suite_sha256: str
    data: str
    rows: int
    success: bool
    evaluated: int
    passed: int
    failed_critical: int
    failed_warning: int
    expectations: list[ExpectationResult]
    data_docs: str | None = None
    gx_result: dict[str, Any] = {}  # GX's own ExpectationSuiteValidationResult, as GX serialises it


# ---------------------------------------------------------------------------------------------
# split: reports/split/<domain>.json (read by the page)


class DriftEntry(Contract):
    column: str
    kind: str
    pair: str
    ks: float | None = None
    psi: float | None = None
    tvd: float | None = None
    statistic: str | None = None
    value: float | None = None
    threshold: float | None = None
    score: float | None = None
    breach: bool = False
    breached: list[str] = []  # statistics over their threshold in a comparison that is unusual
    # Calibration against random splits of the same data (assay/data/drift.py), when measured:
    over_threshold: list[str] = []
    null: dict[str, dict[str, float | None]] = {}  # per statistic: median and p95 of the random splits
    p_values: dict[str, float | None] = {}
    p_value: float | None = None
    p_adjusted: float | None = None  # family-wise, over every comparison of the report
    z_score: float | None = None
    unusual: bool | None = None


class SplitReport(MetricsReport):
    not_figures = frozenset({"seed", "ratios_configured", "ratio_tolerance_pp", "drift_thresholds", "row_level", "time_split", "seeds_within_tolerance"})

    rows_in: int
    rows: dict[str, int]
    groups: dict[str, int]
    group_by: str | None = None
    row_level: bool | None = None  # no group_by: each row is its own group
    row_level_note: str | None = None  # what a row-level split means for leakage
    group_fallback: str | None = None
    groups_by_fallback: dict[str, int] | None = None
    ratios: dict[str, float]
    ratios_configured: dict[str, float]
    seed: int
    mode: str
    time_split: dict[str, Any] | None = None
    ratio_gap_pp: float | None = None
    ratio_tolerance_pp: float | None = None
    seeds_within_tolerance: Any = None
    target_column: str | None = None
    target: dict[str, dict[str, float]] = {}
    target_gap_pp: float | None = None
    drift: list[DriftEntry] = []
    drift_columns: list[dict[str, str]] = []
    drift_skipped: list[dict[str, str]] = []
    drift_pairs_skipped: list[dict[str, str]] = []
    drift_thresholds: dict[str, Any] = {}
    drift_worst: dict[str, Any] = {}
    breaches: int = 0
    unusual: int | None = None
    drift_null: dict[str, Any] = {}
    status: str | None = None


# ---------------------------------------------------------------------------------------------
# train: models/<domain>/metrics.json and reports/train/<domain>/metrics.json's privacy block
# (read by the page, lineage and the model card)


class TrainingPrivacy(Contract):
    enabled: bool
    chosen_epoch: Number | None = None
    why: str | None = None
    chosen: dict[str, Any] | None = None
    checks: list[dict[str, Any]] = []  # one record per check: epoch, dev_loss, the statistics, within_threshold
    check_seconds: float | None = None
    check_share_of_training_time: float | None = None


class TrainingPlanRecord(Contract):
    """How much the generator trained and why (assay/generator/budget.py)."""

    batch_size: int
    epochs: Number  # planned_steps / steps_per_epoch: a budget's last epoch may be partial
    steps_per_epoch: int
    planned_steps: int
    budget: dict[str, int | float] | None
    seconds_per_step: float | None
    why: str
    most_steps: int | None = None  # the Trainer's max_steps; a minutes budget's clock re-plans up to it


class TrainMetrics(Contract):
    best_dev_loss: float
    best_epoch: Number
    epochs_run: Number
    stopped_early: bool
    stopped_by_deadline: bool = False  # a minutes budget's clock ended training
    plan: TrainingPlanRecord | None = None
    replans: list[dict[str, Number]] = []  # the clock's re-plans after epochs: measured pace and the new end
    steps_run: int | None = None
    train_loss: float
    dev_loss_per_epoch: list[float]
    train_seconds: float
    train_tokens_per_second: float | None
    parameters: int
    device: str
    device_name: str
    bf16: bool
    threads: int
    seed: int
    torch: str
    train_rows: int
    dev_rows: int
    resumed_from: str | None
    privacy: TrainingPrivacy


# ---------------------------------------------------------------------------------------------
# synthesize: reports/synthesize/<domain>.json (read by lineage)


class SynthesizeReport(MetricsReport):
    not_figures = frozenset({"seconds", "rows_per_second", "seed"})

    domain: str
    rows: int
    rows_drawn: int
    parsed_share: float | None
    conditions: dict[str, str]
    seconds: float
    rows_per_second: float | None
    device: str
    seed: int


# ---------------------------------------------------------------------------------------------
# evaluate: reports/utility/<domain>.json (read by the page, lineage and the model card)


class GateCheck(Contract):
    check: str
    metric: str
    bound: str
    threshold: Number | None
    value: Number | None
    passed: bool
    message: str
    judged: bool = True  # false: too few rows for the figure to judge the check (it does not pass)
    rows: int | None = None  # the size of the sample the figure rests on (assay.metrics.registry.SAMPLES)


class UtilityReport(MetricsReport):
    # Benchmarks add competing generators' figures under their own names, beside "generator" and "baseline".
    model_config = ConfigDict(extra="allow")

    domain: str
    kind: str
    rows: dict[str, int]
    target: str | None = None
    primary_model: str | None = None
    trtr_auc: float | None = None
    trtr_average_precision: float | None = None
    trtr_f1_at_0_5: float | None = None
    trtr_f1_at_dev_threshold: float | None = None
    trtr_accuracy: float | None = None
    majority_accuracy: float | None = None
    holdout: dict[str, Number | None] = {}
    generator: dict[str, Number | None]  # one figure per metric key of assay.metrics.registry
    baseline: dict[str, Number | None]
    release_gate_enabled: bool
    release_gate_passed: bool
    release_gate_failed: int
    release_gate_not_judged: int = 0
    gate_checks: list[GateCheck]
    sample_sizes: dict[str, int] = {}  # per sample of assay.metrics.registry.SAMPLES (and "test")
    intervals: dict[str, Any] = {}  # 95% bootstrap intervals of the utility ROC AUCs
    consistency: list[dict[str, Any]] = []  # figures that contradict each other (AUC against accuracy)
    columns: list[dict[str, Any]] = []
    columns_skipped: list[dict[str, str]] = []
    pairs_by_kind: list[dict[str, Any]] = []
    pairs_worst_generator: list[dict[str, Any]] = []
    detection: list[dict[str, Any]] = []
    utility: list[dict[str, Any]] = []
    validity: list[dict[str, Any]] = []
    validity_expectations: list[dict[str, Any]] = []
    privacy: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []  # A determines B in train; the share of each source's rows that break it
    settings: list[dict[str, Any]] = []


# ---------------------------------------------------------------------------------------------
# lineage: reports/lineage/<domain>.json and models/<domain>/lineage.json (read by the page's
# Lineage section, ``assay restore``, ``assay trace --rev`` and ``assay diff``)


class LineageRecord(Contract):
    """What made a domain's artifacts: the chain of nodes (raw sources first), each stage's run, the run itself."""

    lineage_version: int
    domain: str
    targets: dict[str, str | None]  # role (model, synthetic, utility) -> path
    not_produced: dict[str, str] = {}
    chain: list[dict[str, Any]]  # one node per artifact: path, role, stage, md5, size, nfiles, rows, params (+ files, validation, utility)
    stages: list[dict[str, Any]]  # one per stage run: stage, cmd, params, code (path, md5), inputs, outputs
    pseudonym_key: PseudonymKey | None = None
    storage: dict[str, Any] | None = None  # the default remote and the restore command
    run: dict[str, Any]  # git commit and dirty flag, commit time, python, packages, device, seeds


# ---------------------------------------------------------------------------------------------
# reading and writing

C = TypeVar("C", bound=Contract)


def _first_error(path: Path | str, exc: ValidationError) -> AssayError:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    return AssayError(f"{path}: {where}: {first['msg']}")


def as_contract(model: type[C], data: dict[str, Any] | C, path: Path | str) -> C:
    """``data`` checked against ``model``; a one-line error naming ``path`` and the first bad key."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc) from None


def details_path(path: Path | str) -> Path:
    """Where a metrics report keeps what is not a figure: ``reports/clean/records.details.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}.details{path.suffix}")


def is_details_path(path: Path | str) -> bool:
    return Path(path).name.endswith(".details.json")


def split_figures(data: dict[str, Any], not_figures: frozenset[str] = frozenset()) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(figures, details)``: numbers and booleans (nested in mappings) apart from everything else."""
    figures: dict[str, Any] = {}
    details: dict[str, Any] = {}
    for key, value in data.items():
        if key in not_figures:
            details[key] = value
        elif isinstance(value, bool | int | float):
            figures[key] = value
        elif isinstance(value, dict) and value:
            inner_figures, inner_details = split_figures(value)
            if inner_figures:
                figures[key] = inner_figures
            if inner_details:
                details[key] = inner_details
        else:
            details[key] = value
    return figures, details


def _merged(figures: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    merged = dict(details)
    for key, value in figures.items():
        merged[key] = _merged(value, merged[key]) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def write_report(model: type[C], data: dict[str, Any] | C, path: Path | str) -> C:
    """Write a stage's report through its contract (atomically); the keys are those ``data`` set.

    A :class:`MetricsReport` goes to two files: its figures to ``path``, the rest to :func:`details_path`.
    """
    report = as_contract(model, data, path)
    dumped = report.model_dump(mode="json", exclude_unset=True)
    if isinstance(report, MetricsReport):
        figures, details = split_figures(dumped, report.not_figures)
        write_json(details, details_path(path))
        log.debug("wrote %s (what is not a figure of %s)", details_path(path), model.__name__)
        dumped = figures
    write_json(dumped, path)
    log.debug("wrote %s (%s)", path, model.__name__)
    return report


def read_report_data(path: Path | str) -> dict[str, Any] | None:
    """A report's JSON with its details merged in (a report written before the split has none); None if absent."""
    figures = read_json_object(Path(path))
    if figures is None:
        return None
    details = read_json_object(details_path(path))
    return _merged(figures, details) if details else figures


def read_report(model: type[C], path: Path) -> C | None:
    """A report read through its contract (figures and details); None when the stage has not written it yet."""
    data = read_report_data(path)
    return None if data is None else as_contract(model, data, path)
