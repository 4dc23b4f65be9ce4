"""Typed, self-validating view of ``params.yaml``.

Every stage reads its settings through :func:`load_params`, so a typo in a key, a wrong type or
a missing source file is reported once, in one line naming the key or path, before any work
starts. Cleaning rules are data, not code: a steward edits them here (see README, "Cleaning
rules"), and adding a domain is a new entry under ``domains``.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from assay.errors import AssayError
from assay.metrics.registry import inapplicable_thresholds

DEFAULT_PARAMS = Path("params.yaml")
DOMAIN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class StrictModel(BaseModel):
    """Base for every params section: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CsvOptions(StrictModel):
    delimiter: str = Field("auto", description="One character, or 'auto' to pick the one that splits the header into the expected columns.")
    quote_char: str = Field('"', min_length=1, max_length=1)
    encoding: str = Field("auto", description="A Python codec name, or 'auto': UTF-8 when it decodes, else detected.")
    header: bool = Field(True, description="False for a file published without a header line: the columns are then the domain's, in params order.")
    skip_rows: int = Field(0, ge=0, description="Lines at the top of the file skipped before the header (or the first data line).")
    comment: str | None = Field(None, min_length=1, description="Lines starting with this are comments, not rows.")

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if value != "auto" and len(value) != 1:
            raise ValueError("must be one character or 'auto'")
        return value


class Source(StrictModel):
    path: Path
    format: Literal["csv", "parquet", "cnxml", "markdown"]
    csv: CsvOptions = CsvOptions()
    collections: list[str] = Field(default_factory=list, description="cnxml only: collection slugs giving the chapter structure.")

    @model_validator(mode="after")
    def _collections_only_for_cnxml(self) -> Source:
        if self.format == "cnxml" and not self.collections:
            raise ValueError("a cnxml source needs at least one entry in 'collections'")
        if self.format != "cnxml" and self.collections:
            raise ValueError("'collections' applies to cnxml sources only")
        return self


ColumnType = Literal["str", "int", "float", "bool", "date", "datetime"]


class ColumnSpec(StrictModel):
    type: ColumnType = "str"
    required: bool = False
    identifier: bool = Field(False, description="A direct identifier: replaced by a keyed hash in clean data.")
    allowed: list[str] | None = None
    min: int | float | str | None = Field(None, description="Lowest allowed value; an ISO date for date/datetime columns.")
    max: int | float | str | None = Field(None, description="Highest allowed value; an ISO date for date/datetime columns.")
    pattern: str | None = Field(None, description="Regular expression the whole value must match (str columns).")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    formats: list[str] | None = Field(None, description="strptime formats tried in order (date/datetime columns).")

    @model_validator(mode="after")
    def _consistent(self) -> ColumnSpec:
        if self.type in ("date", "datetime") and not self.formats:
            raise ValueError(f"a {self.type} column needs 'formats'")
        if self.formats and self.type not in ("date", "datetime"):
            raise ValueError("'formats' applies to date and datetime columns only")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float", "date", "datetime"):
            raise ValueError("'min'/'max' apply to numeric, date and datetime columns")
        for bound in (self.min, self.max):
            if bound is None:
                continue
            if self.type in ("date", "datetime"):
                try:
                    datetime.fromisoformat(str(bound))
                except ValueError:
                    raise ValueError(f"min/max {bound!r} must be an ISO date for a {self.type} column") from None
            elif isinstance(bound, str):
                raise ValueError(f"min/max {bound!r} must be a number for a {self.type} column")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"'pattern' is not a valid regular expression: {exc}") from None
        return self


class Rule(StrictModel):
    """A domain rule over typed columns, written as a polars SQL boolean expression."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    when: str = Field(description="SQL boolean expression; rows where it is true are acted on.")
    action: Literal["quarantine", "flag"] = "quarantine"
    reason: str = Field(min_length=1, description="Words a steward reads in the quarantine and the report.")


class Derived(StrictModel):
    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    expr: str = Field(description="SQL expression over typed columns.")


PersonalDataAction = Literal["mask", "quarantine", "flag", "off"]


class PersonalDataSpec(StrictModel):
    """What to do with personal data found in free-text columns (assay/data/personal_data.py).

    ``mask`` replaces each find with ``<kind>``; ``quarantine`` sends the row to quarantine;
    ``flag`` keeps the value and marks the row in ``personal_data_<column>``, except a raw
    identifier, which is always masked. The quarantine shows every find masked.
    """

    action: PersonalDataAction = Field("mask", description="For every free-text column: str, not an identifier, no 'allowed' or 'pattern'.")
    columns: dict[str, PersonalDataAction] = Field(default_factory=dict, description="Per-column action, overriding 'action'.")


class CleanSpec(StrictModel):
    null_values: list[str] = Field(default_factory=lambda: [""])
    trim: bool = True
    unicode_form: Literal["NFC", "NFKC"] | None = "NFC"
    fix_mojibake: list[str] = Field(default_factory=list)
    collapse_whitespace: list[str] = Field(default_factory=list)
    dedupe: bool = True
    dedupe_subset: list[str] | None = Field(None, description="Columns that define an exact duplicate; default all data columns.")
    unique_key: list[str] | None = None
    rules: list[Rule] = Field(default_factory=list)
    derived: list[Derived] = Field(default_factory=list)
    personal_data: PersonalDataSpec = PersonalDataSpec()


class DriftThresholds(StrictModel):
    """Largest tolerated difference between two splits, per statistic."""

    ks: float = Field(0.1, gt=0, description="Kolmogorov-Smirnov statistic (numeric and date columns).")
    psi: float = Field(0.2, gt=0, description="Population stability index (all columns).")
    tvd: float = Field(0.1, gt=0, description="Total variation distance (categorical columns).")
    alpha: float = Field(
        0.05,
        gt=0,
        le=1,
        description=(
            "A comparison is unusual when under this share of random splits of the same data reach its largest standardised "
            "statistic (max-T over every comparison; see assay/data/drift.py); only then is a statistic over its threshold a breach."
        ),
    )
    null_splits: int = Field(200, ge=20, le=100_000, description="Random splits of the same data drawn to calibrate the statistics.")
    on_breach: Literal["warn", "error"] = Field("warn", description="'error' stops dvc repro at the split stage.")
    ignore: list[str] = Field(
        default_factory=list,
        description="Columns left out of the comparison, e.g. one that nests the groups (chapter over section) and so differs between splits by design.",
    )


class SplitSpec(StrictModel):
    """How a domain is cut into train/dev/test without leakage (see assay/data/split.py)."""

    ratios: dict[Literal["train", "dev", "test"], float] = Field(default_factory=lambda: {"train": 0.8, "dev": 0.1, "test": 0.1})
    seed: int = 42
    group_by: str | None = Field(
        None,
        description="Column whose values never straddle two splits (patient, customer, section); none: each row is its own group, keyed by its content.",
    )
    group_fallback: str | None = Field(None, description="Column grouping the rows whose group_by is missing (e.g. InvoiceNo).")
    stratify_by: str | None = Field(None, description="Target column whose class shares each split should keep.")
    time_column: str | None = Field(None, description="With time_cutoff: groups first seen on or after the cutoff go to test.")
    time_cutoff: str | None = None
    ratio_tolerance: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Largest gap between a split's share of rows and its ratio; a bigger one is a warning that names seeds which fit.",
    )
    drift: DriftThresholds = DriftThresholds()

    @property
    def group_columns(self) -> list[str]:
        """The columns that group rows (group_by, then group_fallback): what keeps a person's rows together."""
        return [name for name in (self.group_by, self.group_fallback) if name]

    @model_validator(mode="after")
    def _consistent(self) -> SplitSpec:
        if set(self.ratios) != {"train", "dev", "test"}:
            raise ValueError("ratios needs train, dev and test")
        if abs(sum(self.ratios.values()) - 1.0) > 1e-6 or min(self.ratios.values()) < 0:
            raise ValueError(f"ratios must be non-negative and sum to 1, got {sum(self.ratios.values()):.4f}")
        if (self.time_column is None) != (self.time_cutoff is None):
            raise ValueError("time_column and time_cutoff go together")
        if self.group_fallback and not self.group_by:
            raise ValueError("group_fallback needs a group_by (it groups the rows whose group_by is missing)")
        if self.time_cutoff is not None:
            try:
                datetime.fromisoformat(self.time_cutoff)
            except ValueError:
                raise ValueError(f"time_cutoff {self.time_cutoff!r} is not an ISO date") from None
        return self


class ModelSpec(StrictModel):
    """GPT-2 shape for a generator trained from scratch."""

    n_layer: int = Field(4, ge=1)
    n_head: int = Field(4, ge=1)
    n_embd: int = Field(128, ge=8)
    dropout: float = Field(0.0, ge=0, lt=1)
    max_length: int = Field(256, ge=8, description="Longest token sequence (text generators).")

    @model_validator(mode="after")
    def _heads_divide(self) -> ModelSpec:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        return self


class TrainBudget(StrictModel):
    """How much training a generator gets: optimiser steps (the same on every machine) or minutes of this machine."""

    steps: int | None = Field(None, ge=1)
    minutes: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_of(self) -> TrainBudget:
        if (self.steps is None) == (self.minutes is None):
            raise ValueError("give the budget in steps or in minutes, exactly one of them")
        return self


class TrainSpec(StrictModel):
    """How the generator is trained (assay/generator/budget.py turns it into a batch size and epochs)."""

    budget: TrainBudget | None = Field(
        default_factory=lambda: TrainBudget(steps=1500),
        description="Steps or minutes; the batch size and the epochs follow from it. null: max_epochs epochs of tokens_per_batch tokens.",
    )
    min_steps_per_epoch: int = Field(100, ge=1, description="With a budget: the batch size is cut until an epoch has this many steps (down to 16 rows).")
    min_steps: int = Field(
        1000, ge=1, description="With a minutes budget: when it buys fewer steps, the batch is cut (down to 16 rows) to buy about this many."
    )
    max_epochs: int = Field(20, ge=1, description="With a budget, the most epochs it may buy; without, the epochs trained.")
    tokens_per_batch: int = Field(16_384, ge=64, description="Tokens per batch (batch size = this / sequence length); with a budget, the largest batch.")
    grad_accum: int = Field(1, ge=1)
    learning_rate: float = Field(2e-3, gt=0)
    warmup_ratio: float = Field(0.05, ge=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    patience: int = Field(3, ge=1, description="Epochs without a better dev loss before training stops.")
    seed: int = 42


class SampleSpec(StrictModel):
    rows: int | None = Field(None, ge=1, description="How many rows/units to sample; default as many as the train split.")
    batch_size: int = Field(512, ge=1)
    temperature: float = Field(1.0, gt=0)
    seed: int = 7


class PrivacyGuardSpec(StrictModel):
    """Privacy checks during training (assay/generator/privacy_checks.py): which checkpoints may be kept, and when to stop."""

    enabled: bool = True
    privacy_check_every: int = Field(1, ge=1, description="Run the check every this many epochs, and at the last; only checked epochs can be chosen.")
    privacy_patience: int = Field(2, ge=1, description="Stop after this many checks in a row beyond the threshold.")
    sample_rows: int = Field(1000, ge=16, description="Synthetic rows (units) sampled per check.")
    reference_rows: int = Field(2000, ge=50, description="Train rows, and at most this many dev rows, used as references.")
    bootstraps: int = Field(500, ge=50, description="Bootstrap resamples of real dev rows that set the threshold.")
    quantile: float = Field(0.95, gt=0.5, lt=1, description="Bootstrap quantile beyond which a synthetic statistic counts as overfitting.")
    seed: int = 13


class SyntheticId(StrictModel):
    """A fresh id per synthetic row: ``format`` with ``{n}``; optionally a prefix when a column is true."""

    format: str = "syn-{n:06d}"
    prefix: str = ""
    prefix_when: str | None = Field(None, description="Boolean column; rows where it is true get ``prefix``.")


class GeneratorSpec(StrictModel):
    """What the generator models and how it is trained and sampled (assay/generator/training.py, synthesize.py)."""

    kind: Literal["tabular", "text"] = "tabular"
    features: list[str] = Field(min_length=1, description="Tabular: the modelled columns. Text: the control columns that prefix each unit.")
    text_column: str | None = Field(None, description="Text generators: the column holding the text.")
    synthetic_ids: dict[str, SyntheticId] = Field(default_factory=dict)
    lookups: dict[str, str] = Field(default_factory=dict, description="column -> feature it is looked up from (the most common train value per key).")
    base_model: str | None = Field(None, description="Local directory (or hub id) of a pretrained causal LM to fine-tune instead of training from scratch.")
    numeric_bins: int = Field(32, ge=2, description="Quantile bins per numeric/date column: the precision numbers are reproduced to.")
    rare_count: int = Field(
        5, ge=1, description="Categories held by fewer train rows (and people) than this get no token of their own: they share one 'other' token."
    )
    min_value_count: int | None = Field(
        None,
        ge=1,
        description=(
            "Categories held by fewer train rows (and people) than this are never emitted (a value seen once identifies a person); "
            "'other' decodes to the rarer values held by at least this many, with their train frequency. Default: rare_count."
        ),
    )
    dependency_share: float | None = Field(
        0.999,
        gt=0.5,
        le=1.0,
        description="Column A determines column B when B follows from A in this share of train rows; sampling then holds to it (null: off).",
    )
    target_first: bool = Field(
        True,
        description=(
            "Tabular: model evaluate.target's column first and the other features given it, p(target) p(features | target), "
            "as TabDDPM does; false keeps the order of features."
        ),
    )
    vocab_size: int = Field(2000, ge=300, description="BPE vocabulary size (text generators trained from scratch).")
    model: ModelSpec = ModelSpec()
    train: TrainSpec = TrainSpec()
    sample: SampleSpec = SampleSpec()
    privacy: PrivacyGuardSpec = PrivacyGuardSpec()

    @model_validator(mode="after")
    def _min_value_count_within_rare_count(self) -> GeneratorSpec:
        if self.min_value_count is not None and self.min_value_count > self.rare_count:
            raise ValueError(
                f"min_value_count ({self.min_value_count}) must not exceed rare_count ({self.rare_count}): a token value would be emitted though rarer"
            )
        return self

    @model_validator(mode="after")
    def _text_needs_column(self) -> GeneratorSpec:
        if self.kind == "text" and not self.text_column:
            raise ValueError("a text generator needs 'text_column'")
        return self


class TargetSpec(StrictModel):
    """The prediction task of the utility tests (train on real or synthetic, score on real test).

    Tabular domains: a binary task, positive when ``column`` is one of ``positive`` or, with
    ``negative``, when it is none of those (values compared as text, e.g. ``"<30"``, ``"true"``).
    Text domains: classify each unit's text into ``column``'s classes (e.g. the chapter).
    """

    column: str = Field(description="A modelled column (generator.features), so synthetic data has it.")
    positive: list[str] | None = Field(None, min_length=1, description="Values that make the positive class.")
    negative: list[str] | None = Field(None, min_length=1, description="Values that make the negative class; every other value is positive.")

    @model_validator(mode="after")
    def _one_rule(self) -> TargetSpec:
        if self.positive is not None and self.negative is not None:
            raise ValueError("give 'positive' or 'negative', not both")
        return self


class ReleaseGate(StrictModel):
    """Thresholds the generator's synthetic data must meet to be released; null turns a check off."""

    enabled: bool = Field(True, description="With true, a failed check makes `assay evaluate` exit 1 (after writing the report).")
    min_tstr_trtr_auc: float | None = Field(0.9, gt=0, description="Train-on-synthetic ROC AUC / train-on-real ROC AUC, first model in 'models'.")
    min_tstr_auc: float | None = Field(
        None, ge=0, le=1, description="Train-on-synthetic ROC AUC itself: a ratio near 1 says nothing when the real model is near 0.5 too."
    )
    max_detection_auc: float | None = Field(0.8, ge=0.5, le=1, description="ROC AUC of a classifier telling real train rows from synthetic rows.")
    min_dcr_p5_ratio: float | None = Field(1.0, ge=0, description="Tabular: synthetic / holdout 5th percentile of the distance to the closest train row.")
    max_exact_copy_excess: float | None = Field(
        0.0, ge=0, le=1, description="Tabular: share of synthetic rows copying a train row minus the same share for holdout rows."
    )
    max_mia_auc: float | None = Field(None, ge=0.5, le=1, description="Tabular: ROC AUC of the distance-based membership-inference attack.")
    min_critical_row_pass_share: float | None = Field(
        None, ge=0, le=1, description="Share of synthetic rows that pass every critical row-level expectation (warnings never block, as in validate)."
    )
    max_verbatim_excess: float | None = Field(
        None, ge=0, le=1, description="Text: share of synthetic units with a verbatim train span minus the same for holdout units."
    )


class EvaluateSpec(StrictModel):
    """How synthetic data is tested for validity, fidelity, utility and privacy (assay/metrics/evaluate.py)."""

    target: TargetSpec
    models: list[Literal["hist_gradient_boosting", "logistic_regression"]] = Field(
        default_factory=lambda: ["hist_gradient_boosting", "logistic_regression"],
        min_length=1,
        description="Utility classifiers; the first is the gate's. Text domains use TF-IDF with logistic_regression.",
    )
    max_rows: int = Field(20_000, ge=100, description="Rows per side for classifiers and pairwise associations (seeded samples).")
    max_distance_rows: int = Field(5_000, ge=50, description="Query rows per distance metric (synthetic, holdout, members).")
    max_reference_rows: int = Field(20_000, ge=50, description="Train rows the distances are measured to.")
    augment_share: float = Field(0.1, gt=0, lt=1, description="Share of real train used alone and with synthetic rows added.")
    detection_folds: int = Field(5, ge=2, description="Cross-validation folds of the detection classifier.")
    verbatim_span: int = Field(50, ge=8, description="Text: characters in a run that counts as copied verbatim.")
    seed: int = 0
    release_gate: ReleaseGate = Field(
        default_factory=ReleaseGate, description="Distance checks (dcr, copies, attack) apply to tabular domains, verbatim_excess to text."
    )

    @field_validator("models")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"models repeat: {value}")
        return value


Engine = Literal["polars", "spark"]


class DomainSpec(StrictModel):
    description: str
    engine: Engine = Field(
        "polars",
        description=(
            "What cleans and validates the domain: polars on this machine, or Spark (local or a cluster, as the top-level 'spark' section says). "
            "Both give the same clean data, quarantine, report and validation outcomes, so switching re-runs nothing under dvc."
        ),
    )
    raw_dir: Path = Field(description="Folder holding every source; dvc.yaml tracks it as the ingest dependency.")
    sources: list[Source] = Field(min_length=1)
    max_field_chars: int = Field(100_000, ge=1)
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    clean: CleanSpec = CleanSpec()
    split: SplitSpec
    generator: GeneratorSpec
    evaluate: EvaluateSpec

    @model_validator(mode="after")
    def _references_exist(self) -> DomainSpec:
        clean = self.clean
        known = set(self.columns) | {rule.name for rule in clean.rules if rule.action == "flag"} | {d.name for d in clean.derived}
        split = self.split
        for key, name in (
            ("split.group_by", split.group_by),
            ("split.group_fallback", split.group_fallback),
            ("split.stratify_by", split.stratify_by),
            ("split.time_column", split.time_column),
        ):
            if name is not None and name not in known:
                raise ValueError(f"{key} names unknown column {name!r}")
        generator = self.generator
        named = [("generator.features", f) for f in generator.features]
        named += [("generator.text_column", generator.text_column)] if generator.text_column else []
        named += [("generator.synthetic_ids", c) for c in generator.synthetic_ids]
        named += [("generator.lookups", c) for c in [*generator.lookups, *generator.lookups.values()]]
        named += [("generator.synthetic_ids.prefix_when", i.prefix_when) for i in generator.synthetic_ids.values() if i.prefix_when]
        for key, name in named:
            if name not in known:
                raise ValueError(f"{key} names unknown column {name!r}")
        identifiers = {name for name, column in self.columns.items() if column.identifier}
        leaked = sorted(identifiers & set(generator.features))
        if leaked:
            raise ValueError(f"generator.features must not include identifier column(s) {leaked}: they would leak into models")
        known = set(self.columns)
        for key, names in (
            ("clean.fix_mojibake", clean.fix_mojibake),
            ("clean.collapse_whitespace", clean.collapse_whitespace),
            ("clean.dedupe_subset", clean.dedupe_subset or []),
            ("clean.unique_key", clean.unique_key or []),
        ):
            unknown = [name for name in names if name not in known]
            if unknown:
                raise ValueError(f"{key} names unknown column(s) {unknown}; known: {sorted(known)}")
        free_text = self.free_text_columns()
        misplaced = [name for name in clean.personal_data.columns if name not in free_text]
        if misplaced:
            raise ValueError(f"clean.personal_data.columns names {misplaced}, which are not free-text columns; free-text: {free_text}")
        derived = [d.name for d in clean.derived]
        clash = sorted(set(derived) & known)
        if clash:
            raise ValueError(f"clean.derived redefines existing column(s) {clash}")
        return self

    def identifiers(self) -> list[str]:
        """The direct identifier columns (``identifier: true``), in params order."""
        return [name for name, column in self.columns.items() if column.identifier]

    def free_text_columns(self) -> list[str]:
        """Text columns whose values no list or pattern constrains: where personal data can hide."""
        return [
            name
            for name, column in self.columns.items()
            if column.type == "str" and not column.identifier and column.allowed is None and column.pattern is None
        ]

    def trained_generator(self) -> GeneratorSpec:
        """The generator spec training uses: ``generator`` with, when ``target_first``, the utility
        target's column moved to the front of a tabular row. On real records, drawing
        ``readmitted`` first lifted train-on-synthetic ROC AUC (README, "Generators")."""
        generator, target = self.generator, self.evaluate.target.column
        if generator.kind != "tabular" or not generator.target_first or generator.features[0] == target:
            return generator
        return generator.model_copy(update={"features": [target, *(name for name in generator.features if name != target)]})

    def personal_data_actions(self) -> dict[str, PersonalDataAction]:
        """The action for each free-text column that is scanned (``off`` ones left out)."""
        spec = self.clean.personal_data
        actions = {name: spec.columns.get(name, spec.action) for name in self.free_text_columns()}
        return {name: action for name, action in actions.items() if action != "off"}

    @model_validator(mode="after")
    def _evaluate_fits_the_generator(self) -> DomainSpec:
        evaluate, generator = self.evaluate, self.generator
        target = evaluate.target
        if target.column not in generator.features:
            raise ValueError(f"evaluate.target.column {target.column!r} is not modelled (generator.features), so synthetic data has no such column")
        gate = evaluate.release_gate
        if generator.kind == "text":
            if target.positive is not None or target.negative is not None:
                raise ValueError("evaluate.target: a text domain classifies units into the column's classes; leave out 'positive' and 'negative'")
            if evaluate.models != ["logistic_regression"]:
                raise ValueError("evaluate.models: a text domain uses TF-IDF with logistic regression; set models: [logistic_regression]")
        else:
            if target.positive is None and target.negative is None:
                raise ValueError("evaluate.target needs 'positive' (or 'negative') values that define the positive class")
        # Defaults of checks for the other kind of domain (the distance checks for text) are skipped;
        # only a value written in params is an error.
        kind = generator.kind
        other = "tabular" if kind == "text" else "text"
        wrong = [f"evaluate.release_gate.{name}" for name in inapplicable_thresholds(kind) if name in gate.model_fields_set and getattr(gate, name) is not None]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} applies to {other} domains only; set to null for a {kind} domain")
        return self


class SparkSpec(StrictModel):
    """The Spark session for domains with ``engine: spark`` (assay/engines/spark.py), set per profile.

    Under ``spark-submit`` the session is spark-submit's (its ``--master`` and ``--conf``); otherwise
    Assay starts one on ``master``, or connects to ``remote`` (Spark Connect). Not a DVC param: where
    Spark runs changes no result.
    """

    master: str = Field("local[*]", description="Master of a session Assay starts itself: local[N], spark://host:7077, yarn, k8s://...")
    remote: str | None = Field(
        None, description="Spark Connect URL (sc://host:15002) to run on instead of starting a session; the SPARK_REMOTE environment variable wins over it."
    )
    app_name: str = Field("assay", min_length=1)
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Spark settings for the session, e.g. spark.executor.memory: 8g.")


class OpenLineageSpec(StrictModel):
    """Where ``assay lineage export --transport http`` posts events (``--url`` and ``OPENLINEAGE_URL`` win)."""

    url: str | None = Field(None, description="An OpenLineage endpoint's base URL, e.g. Marquez's http://localhost:5000.")


class Params(StrictModel):
    domains: dict[str, DomainSpec] = Field(min_length=1)
    spark: SparkSpec = SparkSpec()
    openlineage: OpenLineageSpec | None = None

    @field_validator("domains")
    @classmethod
    def _domain_names(cls, value: dict[str, DomainSpec]) -> dict[str, DomainSpec]:
        for name in value:
            if not DOMAIN_NAME.match(name):
                raise ValueError(f"domain name {name!r} must be lower-case letters, digits and '_'")
        return value

    def domain(self, name: str) -> DomainSpec:
        """The named domain's spec, or a one-line error listing the known domains."""
        try:
            return self.domains[name]
        except KeyError:
            raise AssayError(f"unknown domain {name!r}; params define: {', '.join(sorted(self.domains))}") from None


def _format_location(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


def _first_error(exc: ValidationError, params_path: Path) -> str:
    errors = exc.errors()
    first = errors[0]
    # Pydantic puts the failing branch's name in the location of tagged/literal unions; drop
    # the noise so the key is one a user can find in the file.
    loc = tuple(part for part in first["loc"] if not (isinstance(part, str) and part.startswith("function-")))
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    else:
        message = first["msg"].removeprefix("Value error, ")
    more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    return f"{params_path}: {_format_location(loc)}: {message}{more}"


def _check_sources(params: Params, root: Path, params_path: Path) -> None:
    import polars as pl

    for name, domain in params.domains.items():
        raw_dir = (root / domain.raw_dir).resolve()
        for index, source in enumerate(domain.sources):
            key = f"domains.{name}.sources[{index}].path"
            path = root / source.path
            if not path.exists():
                raise AssayError(f"{params_path}: {key}: source not found: {source.path}")
            if raw_dir not in path.resolve().parents and path.resolve() != raw_dir:
                raise AssayError(f"{params_path}: {key}: {source.path} is not inside raw_dir {domain.raw_dir} (dvc.yaml tracks raw_dir)")
        for index, rule in enumerate(domain.clean.rules):
            _check_sql(pl, rule.when, f"{params_path}: domains.{name}.clean.rules[{index}].when", list(domain.columns))
        for index, derived in enumerate(domain.clean.derived):
            _check_sql(pl, derived.expr, f"{params_path}: domains.{name}.clean.derived[{index}].expr", list(domain.columns))


def polars_dtype(column_type: str) -> Any:
    """The polars dtype a column of params type ``column_type`` (str, int, ...) is cast to in cleaning."""
    import polars as pl

    return {"str": pl.String(), "int": pl.Int64(), "float": pl.Float64(), "bool": pl.Boolean(), "date": pl.Date(), "datetime": pl.Datetime("us")}[column_type]


def _check_expressions(params: Params, params_path: Path) -> None:
    """Plan every cleaning rule and derived expression against an empty frame of the typed schema,
    and round-trip every date format, so that an unknown column, a type error or an unknown
    directive is a one-line error now, not a traceback (or every row quarantined) in ``assay clean``."""
    from datetime import datetime

    import polars as pl

    for name, domain in params.domains.items():
        where = f"{params_path}: domains.{name}"
        for column, spec in domain.columns.items():
            for index, fmt in enumerate(spec.formats or []):
                dtype = polars_dtype(spec.type)
                try:
                    text = pl.Series([datetime(2001, 2, 3, 4, 5, 6)]).cast(dtype).dt.strftime(fmt)
                    parsed = text.str.strptime(dtype, fmt, strict=True)
                except Exception as exc:  # polars raises ComputeError or InvalidOperationError
                    raise AssayError(f"{where}.columns.{column}.formats[{index}]: {fmt!r} is not a valid date format: {_first_line(exc)}") from None
                if parsed.null_count():
                    raise AssayError(f"{where}.columns.{column}.formats[{index}]: {fmt!r} does not read back the dates it writes")
        typed = {column: polars_dtype(spec.type) for column, spec in domain.columns.items()}
        raw = {f"{column}__raw": pl.String() for column in domain.columns}
        provenance = {"_source_file": pl.String(), "_source_row": pl.Int64()}
        checked = pl.DataFrame(schema={**typed, **raw, **provenance, "_raw": pl.String()}).lazy()
        for index, rule in enumerate(domain.clean.rules):
            _plan(checked, rule.when, f"{where}.clean.rules[{index}].when")
        flags = {rule.name: pl.Boolean() for rule in domain.clean.rules if rule.action == "flag"}
        # Derived columns see the clean rows: identifiers are pseudonyms (text) by then.
        identifiers = {column: pl.String() for column, spec in domain.columns.items() if spec.identifier}
        clean = pl.DataFrame(schema={**typed, **identifiers, **flags, **provenance}).lazy()
        for index, derived in enumerate(domain.clean.derived):
            _plan(clean, derived.expr, f"{where}.clean.derived[{index}].expr")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def quoting_hint(expression: str, columns: list[str]) -> str:
    """A hint for column names that SQL reads as something else (``glyburide-metformin`` as a
    subtraction) when the expression uses them without double quotes; empty when there are none."""
    unquoted = re.sub(r'"[^"]*"', "", expression)
    names = [name for name in columns if not _PLAIN_NAME.fullmatch(name) and name in unquoted]
    if not names:
        return ""
    return f' (in SQL, write column names like {names[0]} in double quotes: "{names[0]}")'


def _plan(frame: Any, expression: str, where: str) -> None:
    import polars as pl

    try:
        frame.select(pl.sql_expr(expression)).collect()
    except Exception as exc:  # ColumnNotFoundError, InvalidOperationError, SchemaError, SQL errors
        hint = quoting_hint(expression, frame.collect_schema().names())
        raise AssayError(f"{where}: {expression!r}: {_first_line(exc)}{hint}") from None


def _check_sql(pl: Any, expression: str, where: str, columns: list[str]) -> None:
    try:
        pl.sql_expr(expression)
    except Exception as exc:  # polars raises several error types for bad SQL
        raise AssayError(f"{where}: not a valid SQL expression: {_first_line(exc)}{quoting_hint(expression, columns)}") from None


def load_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """Read and validate a params file; raise :class:`AssayError` with one line on any problem.

    Relative source paths are resolved against the params file's folder (the repo root).
    """
    path = Path(path)
    if not path.is_file():
        raise AssayError(f"params file not found: {path}")
    # YAML 1.2, as DVC reads and rewrites params.yaml (`dvc exp run -S` drops the quotes around
    # "No"/"Yes"/"off"): PyYAML's YAML 1.1 would turn those into booleans.
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        raw = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise AssayError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise AssayError(f"{path}: expected a mapping of sections at the top level")
    # Sections other stages own are validated by their own models as they are added; the
    # foundation knows only these.
    try:
        params = Params.model_validate(raw)
    except ValidationError as exc:
        raise AssayError(_first_error(exc, path)) from None
    _check_sources(params, path.parent, path)
    _check_expressions(params, path)
    return params
