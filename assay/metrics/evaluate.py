"""Stage ``evaluate``: is the synthetic data valid, faithful, useful and safe to release?

Every figure is measured twice, for the trained generator's output and for a **naive baseline**
of the same size and schema: each modelled column sampled independently (with replacement, own
seeded stream per column) from the train split, then given ids, lookups, flags and derived
columns exactly as ``synthesize`` does (:func:`assay.generator.sampling.assemble`). The baseline keeps
every marginal and breaks every relation between columns, so a generator that does not beat it
has learnt nothing beyond column counts. For text the baseline's units are train units with
independently drawn labels (so it is a verbatim copy of train text: the privacy figures show it).

**Validity.** The synthetic frame is validated with the domain's expectation suite by the code of
``assay check`` (:func:`assay.quality.validate.validate_frame`). Synthetic rows get provenance of their
own (``_source_file`` is the synthetic file, ``_source_row`` the row number), so failures point at
rows. Expectations about the provenance columns alone, and those that read the *format* of a
column holding fresh ids (``generator.synthetic_ids`` without ``prefix_when``: a regex on it, or a
row condition on it), are reported as not applicable, by the rules ``assay check`` applies too
(:mod:`assay.quality.applicability`): synthetic ids are deliberately not pseudonyms. ``row_pass_share`` is the share of rows that fail no row-level
expectation (a GX map expectation without ``mostly``: one with ``mostly`` tolerates unexpected
rows by design), of any severity; ``row_pass_share_critical`` counts critical ones only. The
real test split, validated the same way, gives the reference.

**Fidelity** (:mod:`assay.metrics.fidelity`): per-column similarity, pairwise association similarity on
``max_rows`` rows, and the detection AUC (real train rows against synthetic rows, k-fold). Columns
are those the split stage's drift check compares (:func:`assay.data.drift.drift_columns`), without
identifiers and synthetic ids; a text domain adds the text's length in characters.

**Utility.** Each model in ``evaluate.models`` is trained on real train (TRTR) and on synthetic
data (TSTR), at most ``max_rows`` rows, unweighted (the classifier a user would train), and
scored on the real test split. The primary figures are threshold-free: ROC AUC and average
precision. F1 follows at threshold 0.5 (``f1_at_0_5``) and at the threshold that maximises F1 on
the real dev split (``f1_at_dev_threshold``); a rare positive class can leave F1 at 0.5 near 0
while the AUC is high, and the pair shows it. Multiclass targets (text, or a tabular target with
neither ``positive`` nor ``negative``) get macro averages over the test classes and no dev
threshold. Every score carries the ``rows`` it was measured on. TSTR/TRTR ratios follow. Augmentation: a seeded ``augment_share`` of real train alone,
and with the synthetic rows added; the lift is the difference on test. The majority-class
predictor is reported as the floor TRTR must clear.

**Privacy** (:mod:`assay.metrics.privacy`, tabular): rows are encoded for distances by a
:class:`~assay.generator.codec.TabularCodec` fitted on the train split over the modelled columns
with ``rare_count=1`` (each train category its own code), numbers range-normalised with the train
minimum and maximum. Distances to the closest record go from ``max_distance_rows`` synthetic and
holdout (dev + test) rows to ``max_reference_rows`` train rows; the closer-to-train share and the
membership attack use equal-size train and holdout samples of one row per group (patient,
customer) each, so that rows from the population itself score the ideal 0.5. Exact copies compare raw
values of the modelled columns over all rows (synthetic and holdout against all of train). Text:
the share of units with a verbatim run of ``verbatim_span`` characters from train text, against
the same for holdout units.

**Release gate.** ``evaluate.release_gate`` thresholds apply to the generator's figures. The
report is always written; then, with ``enabled: true``, a failed check stops the pipeline (exit 1)
with one line per failed check. A check whose figure could not be measured fails.

Determinism: every sample, split and model is seeded from ``evaluate.seed``; the report holds no
timings (they go to the log), so the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from assay.config import DomainSpec, EvaluateSpec
from assay.data import drift
from assay.data.split import one_row_per_group, row_groups
from assay.errors import AssayError
from assay.generator.codec import TabularCodec
from assay.generator.dependencies import DEFAULT_MIN_SHARE, broken_shares, find_dependencies, value_codes
from assay.generator.sampling import assemble
from assay.io import read_parquet, round_figure
from assay.metrics import fidelity, privacy
from assay.metrics.registry import GATE_BY_THRESHOLD, SAMPLE_OF, SAMPLES
from assay.quality.applicability import not_applicable, with_provenance
from assay.quality.validate import validate_frame

log = logging.getLogger("assay.evaluate")

SOURCES = ("generator", "baseline")
TEXT_LENGTH = "{}_chars"
SHOWN_KWARGS = ("min_value", "max_value", "regex", "mostly")  # what tells two expectations of one type apart, beside the row condition
WORST_PAIRS = 10
OPENMP_THREADS = 1


MAX_DEPENDENCY_VALUES = 2000


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """At most ``n`` rows, a seeded sample when there are more (same seed, same rows)."""
    return frame if frame.height <= n else frame.sample(n=n, shuffle=True, seed=seed)


# ---------------------------------------------------------------------------------------------
# the naive baseline


def modelled_columns(domain: DomainSpec) -> list[str]:
    """The columns the generator samples: its features, plus the text column of a text generator."""
    spec = domain.generator
    return [*spec.features, *([spec.text_column] if spec.text_column else [])]


def naive_baseline(train: pl.DataFrame, domain: DomainSpec, rows: int, seed: int) -> pl.DataFrame:
    """``rows`` rows, each modelled column drawn independently from train; then the synthetic schema.

    Column ``j`` uses its own generator ``default_rng([seed, j])``, so the draws of one column do
    not depend on the others. Missing values are drawn with their train share.
    """
    if train.height == 0:
        raise AssayError("the train split is empty: there is nothing to sample a baseline from")
    picks = {}
    for j, name in enumerate(modelled_columns(domain)):
        index = np.random.default_rng([seed, j]).integers(0, train.height, size=rows)
        picks[name] = train[name].gather(index)
    return assemble(pl.DataFrame(picks), domain, dict(train.schema), train)


# ---------------------------------------------------------------------------------------------
# validity


def validity(frame: pl.DataFrame, suite: dict[str, Any], source_file: str) -> dict[str, Any]:
    """Validate with the suite; per expectation results and the shares of rows passing every row-level one."""

    summary = validate_frame(with_provenance(frame, source_file), suite, unexpected_rows=True)
    failing: set[tuple[Any, Any]] = set()
    failing_critical: set[tuple[Any, Any]] = set()
    expectations = []
    mostly = {index for index, e in enumerate(suite["expectations"]) if (e.get("kwargs") or {}).get("mostly", 1) < 1}
    for index, item in enumerate(summary["expectations"]):
        # A ``mostly`` expectation tolerates some unexpected rows by design: it is a share, not a rule per row.
        rows = None if index in mostly else item["unexpected_rows"]
        if rows is not None:
            keys = {(file, row) for file, row in rows}
            failing |= keys
            if item["severity"] == "critical":
                failing_critical |= keys
        kwargs = item.get("kwargs") or {}
        expectations.append(
            {
                "type": item["type"],
                "column": item["column"],
                "row_condition": kwargs.get("row_condition"),
                "expects": ", ".join(f"{key}={json.dumps(value, default=str)}" for key, value in kwargs.items() if key in SHOWN_KWARGS),
                "severity": item["severity"],
                "row_level": rows is not None,
                "success": item["success"],
                "unexpected_count": item["unexpected_count"],
                "unexpected_percent": round_figure(item["unexpected_percent"]),
                "error": item["error"],
            }
        )
    n = max(frame.height, 1)
    return {
        "rows": frame.height,
        "evaluated": summary["evaluated"],
        "passed": summary["passed"],
        "failed_critical": summary["failed_critical"],
        "failed_warning": summary["failed_warning"],
        "row_pass_share": round_figure(1.0 - len(failing) / n),
        "row_pass_share_critical": round_figure(1.0 - len(failing_critical) / n),
        "expectations": expectations,
    }


# ---------------------------------------------------------------------------------------------
# utility


@dataclass(frozen=True)
class Task:
    """What the utility models predict, and from what."""

    target: str
    positive: tuple[str, ...] | None
    negative: tuple[str, ...] | None
    text: str | None  # text column (text domains), else None
    design: fidelity.Design | None  # tabular features, fitted on real train

    @property
    def binary(self) -> bool:
        return self.positive is not None or self.negative is not None

    def labels(self, frame: pl.DataFrame) -> np.ndarray:
        values = frame[self.target].cast(pl.String)
        if not self.binary:
            return values.fill_null("(missing)").to_numpy().astype(str)
        if self.positive is not None:
            hit = values.is_in(list(self.positive))
        else:
            hit = ~values.is_in(list(self.negative or ())) & values.is_not_null()
        return hit.fill_null(False).to_numpy()

    def features(self, frame: pl.DataFrame) -> Any:
        if self.text is not None:
            return np.asarray(frame[self.text].fill_null("").to_list(), dtype=object)
        assert self.design is not None
        return self.design.matrix(frame)

    def describe(self) -> str:
        if not self.binary:
            return f"classify {self.text or 'rows'} into {self.target}"
        if self.positive is not None:
            return f"{self.target} in {list(self.positive)}"
        return f"{self.target} not in {list(self.negative or ())}"


def _positive_scores(task: Task, model: Any, features: Any) -> np.ndarray:
    proba = model.predict_proba(features)
    classes = list(model.classes_)
    return proba[:, classes.index(True)] if True in classes else np.zeros(proba.shape[0])


def dev_threshold(truth: np.ndarray, scores: np.ndarray) -> float | None:
    """The score threshold with the best F1 on dev (binary tasks); None without both classes."""
    from sklearn.metrics import precision_recall_curve

    if not 0 < truth.sum() < truth.size:
        return None
    precision, recall, thresholds = precision_recall_curve(truth, scores)
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)[:-1]
    return float(thresholds[int(np.argmax(f1))])


def bootstrap_weights(rows: int, draws: int, seed: int) -> Iterator[np.ndarray]:
    """``draws`` bootstrap resamples of ``rows`` rows as counts per row, in chunks: (draws, rows) arrays.

    Chunk ``i`` has its own seeded stream, so two figures measured on the same rows with the same
    seed see the same resamples (a ratio of two AUCs gets a paired interval)."""
    for index, start in enumerate(range(0, draws, BOOTSTRAP_CHUNK)):
        count = min(BOOTSTRAP_CHUNK, draws - start)
        picks = np.random.default_rng([seed, 0xB007, index]).integers(0, rows, size=(count, rows))
        flat = (picks + np.arange(count)[:, None] * rows).ravel()
        yield np.bincount(flat, minlength=count * rows).reshape(count, rows).astype(np.float64)


def weighted_auc(positive: np.ndarray, scores: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``scores`` for ``positive`` under each row of ``weights`` (counts per row), ties
    counting half; NaN where a resample lacks a class. Rows with equal scores are grouped once."""
    from scipy.sparse import csr_matrix

    _, inverse = np.unique(scores, return_inverse=True)
    onehot = csr_matrix((np.ones(scores.size), (np.arange(scores.size), inverse.ravel())))
    hits = np.asarray(onehot.T @ (weights * positive).T).T
    misses = np.asarray(onehot.T @ (weights * ~positive).T).T
    below = np.cumsum(misses, axis=1) - misses
    pairs = hits.sum(axis=1) * misses.sum(axis=1)
    return (hits * (below + 0.5 * misses)).sum(axis=1) / np.where(pairs > 0, pairs, np.nan)


def bootstrap_auc(truth: np.ndarray, scores: dict[Any, np.ndarray], draws: int, seed: int) -> np.ndarray:
    """The ROC AUC over ``draws`` bootstrap resamples of the test rows: ``scores`` maps each class
    to its scores (one entry, ``True``, for a binary task); several classes are macro-averaged
    one-vs-rest over those present in a resample."""
    out = []
    for weights in bootstrap_weights(truth.size, draws, seed):
        per_class = np.stack([weighted_auc(truth == label, score, weights) for label, score in scores.items()])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a resample without any class pair: NaN, left out of the interval
            out.append(np.nanmean(per_class, axis=0))
    return np.concatenate(out) if out else np.zeros(0)


def interval(draws: np.ndarray | None) -> list[float | None] | None:
    """The 95% percentile interval of bootstrap draws, or None without finite draws."""
    if draws is None or not np.isfinite(draws).any():
        return None
    low, high = np.nanpercentile(draws[np.isfinite(draws)], [2.5, 97.5])
    return [round_figure(float(low)), round_figure(float(high))]


def _scores(task: Task, truth: np.ndarray, model: Any, features: Any, threshold: float | None, draws: int = 0, seed: int = 0) -> dict[str, Any]:
    """Threshold-free figures first (ROC AUC, average precision), then F1 at 0.5 and at the dev threshold.

    Multiclass tasks (text, or a tabular target with neither ``positive`` nor ``negative``) get
    macro averages one-vs-rest over the test classes, F1 of the most probable class, and no dev
    threshold. With ``draws``, ``roc_auc_interval`` is the 95% bootstrap interval of the ROC AUC
    over the test rows, and ``_auc_draws`` the draws themselves (for paired ratios; not reported).
    """
    from sklearn.metrics import accuracy_score, average_precision_score, f1_score, roc_auc_score

    predicted = model.predict(features)
    by_class: dict[Any, np.ndarray] = {}
    if task.binary:
        positive = _positive_scores(task, model, features)
        by_class = {True: positive}
        both = 0 < truth.sum() < truth.size
        auc = roc_auc_score(truth, positive) if both else None
        precision = average_precision_score(truth, positive) if both else None
        f1 = f1_score(truth, positive >= 0.5, zero_division=0)
        f1_dev = None if threshold is None else f1_score(truth, positive >= threshold, zero_division=0)
        predicted = positive >= 0.5
    else:
        proba = model.predict_proba(features)
        classes = list(model.classes_)
        aucs, precisions = [], []
        for label in sorted(set(truth)):
            actual = truth == label
            if 0 < actual.sum() < truth.size:
                score = proba[:, classes.index(label)] if label in classes else np.zeros(truth.size)
                by_class[label] = score
                aucs.append(roc_auc_score(actual, score))
                precisions.append(average_precision_score(actual, score))
        auc = float(np.mean(aucs)) if aucs else None
        precision = float(np.mean(precisions)) if precisions else None
        f1 = f1_score(truth, predicted, average="macro", labels=sorted(set(truth)), zero_division=0)
        f1_dev = None
    auc_draws = bootstrap_auc(truth, by_class, draws, seed) if draws and auc is not None else None
    return {
        "rows": int(truth.size),
        "roc_auc": round_figure(None if auc is None else float(auc)),
        **({"roc_auc_interval": interval(auc_draws), "_auc_draws": auc_draws} if draws else {}),
        "average_precision": round_figure(None if precision is None else float(precision)),
        "f1_at_0_5": round_figure(float(f1)),
        "f1_at_dev_threshold": round_figure(None if f1_dev is None else float(f1_dev)),
        "dev_threshold": round_figure(threshold),
        "accuracy": round_figure(float(accuracy_score(truth, predicted))),
    }


SCORES = ("roc_auc", "average_precision", "f1_at_0_5", "f1_at_dev_threshold", "accuracy")
# Each score's name in the flat report keys (trtr_auc, tstr_f1_at_0_5, tstr_trtr_accuracy, ...).
SCORE_KEYS = {**{metric: metric for metric in SCORES}, "roc_auc": "auc"}


def flat_scores(prefix: str, scores: dict[str, Any]) -> dict[str, Any]:
    """``scores`` of :func:`fit_and_score` as flat report keys: ``{prefix}_auc``, ``{prefix}_accuracy``, ..."""
    return {f"{prefix}_{SCORE_KEYS[metric]}": scores[metric] for metric in SCORES}


BOOTSTRAP_DRAWS = 1000  # resamples of the test split behind each utility ROC AUC's interval
BOOTSTRAP_CHUNK = 100
RANKS_WELL = 0.75  # an AUC at which a model clearly ranks the classes apart
ACCURACY_MARGIN = 0.1  # how far below the majority-class accuracy counts as a contradiction


def fit_and_score(
    task: Task, model_name: str, train: pl.DataFrame, test: pl.DataFrame, seed: int, dev: pl.DataFrame | None = None, draws: int = 0
) -> dict[str, Any]:
    """Train ``model_name`` (unweighted, as a user would) on ``train`` and score it on ``test``; the
    F1 threshold is chosen on ``dev`` when given; ``draws`` bootstrap resamples of test give the
    ROC AUC an interval. ``error`` instead when it cannot be trained."""
    labels = task.labels(train)
    if np.unique(labels).size < 2:
        single = labels[0] if labels.size else "no rows"
        return {**{metric: None for metric in SCORES}, "rows": test.height, "error": f"the training data has a single class ({single})"}
    if task.text is not None:
        model = fidelity.make_text_model(seed)
    else:
        assert task.design is not None
        model = fidelity.make_model(model_name, task.design, train.height, seed)  # type: ignore[arg-type]
    model.fit(task.features(train), labels)
    threshold = dev_threshold(task.labels(dev), _positive_scores(task, model, task.features(dev))) if task.binary and dev is not None and dev.height else None
    return _scores(task, task.labels(test), model, task.features(test), threshold, draws, seed)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return round_figure(numerator / denominator)


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round_figure(a - b)


def utility(
    task: Task, spec: EvaluateSpec, train: pl.DataFrame, test: pl.DataFrame, synthetic: dict[str, pl.DataFrame], dev: pl.DataFrame | None = None
) -> dict[str, Any]:
    """TRTR, TSTR per source, ratios, and augmentation lift, per model; plus the majority-class floor."""
    columns = [task.target, *([task.text] if task.text else list(task.design.columns if task.design else []))]
    columns = list(dict.fromkeys(columns))
    real = _sample(train, spec.max_rows, spec.seed).select(columns)
    small = _sample(train.sample(fraction=spec.augment_share, shuffle=True, seed=spec.seed), spec.max_rows, spec.seed).select(columns)
    samples = {source: _sample(frame, spec.max_rows, spec.seed).select(columns) for source, frame in synthetic.items()}
    truth = task.labels(test)
    values, counts = np.unique(truth, return_counts=True)
    majority = values[np.argmax(counts)] if values.size else None
    models = []
    majority_accuracy = round_figure(float(counts.max() / counts.sum())) if counts.size else None
    consistency: list[dict[str, Any]] = []
    for name in spec.models:
        trtr = fit_and_score(task, name, real, test, spec.seed, dev, draws=BOOTSTRAP_DRAWS)
        trtr_draws = trtr.pop("_auc_draws", None)
        alone = fit_and_score(task, name, small, test, spec.seed, dev)
        entry: dict[str, Any] = {"model": name, "trtr": trtr, "augment_real_only": alone}
        consistency += auc_accuracy_disagreement(name, "real train", trtr, majority_accuracy, int(counts.min()) if counts.size else 0)
        for source, frame in samples.items():
            tstr = fit_and_score(task, name, frame, test, spec.seed, dev, draws=BOOTSTRAP_DRAWS)
            tstr_draws = tstr.pop("_auc_draws", None)
            augmented = fit_and_score(task, name, pl.concat([small, frame]), test, spec.seed, dev)
            ratio = {metric: _ratio(tstr[metric], trtr[metric]) for metric in SCORES}
            if tstr_draws is not None and trtr_draws is not None:
                with np.errstate(all="ignore"):
                    ratio["roc_auc_interval"] = interval(tstr_draws / trtr_draws)  # paired: the same resamples of test
            entry[source] = {
                "tstr": tstr,
                "ratio": ratio,
                "augmented": augmented,
                "lift": {metric: _difference(augmented[metric], alone[metric]) for metric in SCORES},
            }
            consistency += auc_accuracy_disagreement(name, source, tstr, majority_accuracy, int(counts.min()) if counts.size else 0)
        models.append(entry)
    return {
        "task": task.describe(),
        "test_rows": test.height,
        "positive_share_test": round_figure(float(truth.mean())) if task.binary and truth.size else None,
        "majority": {"class": None if majority is None else str(majority), "accuracy": majority_accuracy},
        "train_rows": {"real": real.height, "augment_real_only": small.height, **{source: frame.height for source, frame in samples.items()}},
        "rarest_class_rows": int(counts.min()) if counts.size else 0,
        "effective_class_rows": effective_class_rows(counts, task.binary),
        "models": models,
        "consistency": consistency,
    }


def effective_class_rows(counts: np.ndarray, binary: bool) -> int:
    """How many rows of its rarer class an AUC on the test split rests on.

    Binary: the rarer class's rows. A macro-average over C one-vs-rest AUCs, the c-th on n_c rows
    of its class, has a variance of about sum(v / n_c) / C**2; one AUC of the same variance rests
    on C**2 / sum(1 / n_c) rows: the rarest class alone would understate a 30-class average.
    """
    if counts.size == 0:
        return 0
    if binary or counts.size < 2:
        return int(counts.min())
    return int(counts.size**2 / np.sum(1.0 / counts))


def auc_accuracy_disagreement(model: str, trained_on: str, scores: dict[str, Any], majority_accuracy: float | None, rarest: int) -> list[dict[str, Any]]:
    """A note when a model's ROC AUC and accuracy tell opposite stories on the test split.

    A model that ranks the test rows well (AUC >= ``RANKS_WELL``) but whose predictions are right
    less often than always answering the majority class (by ``ACCURACY_MARGIN``), or one that
    ranks worse than chance yet beats the majority class, has figures that cannot both be right
    about it: a threshold or class balance problem, or, on a small test split, noise.
    """
    auc, accuracy = scores.get("roc_auc"), scores.get("accuracy")
    if auc is None or accuracy is None or majority_accuracy is None:
        return []
    if auc >= RANKS_WELL and accuracy < majority_accuracy - ACCURACY_MARGIN:
        story = (
            f"ranks the test rows well (ROC AUC {auc:.3f}) but is right less often ({accuracy:.3f}) "
            f"than always answering the majority class ({majority_accuracy:.3f})"
        )
    elif auc < 0.5 and accuracy > majority_accuracy + ACCURACY_MARGIN:
        story = (
            f"ranks the test rows worse than chance (ROC AUC {auc:.3f}) yet is right more often ({accuracy:.3f}) "
            f"than the majority class ({majority_accuracy:.3f})"
        )
    else:
        return []
    size = f"{scores.get('rows', 0):,} test rows, {rarest:,} of the rarest class"
    return [
        {
            "model": model,
            "trained_on": trained_on,
            "roc_auc": auc,
            "accuracy": accuracy,
            "majority_accuracy": majority_accuracy,
            "message": f"{model} trained on {trained_on} {story}: the two figures disagree ({size})",
        }
    ]


# ---------------------------------------------------------------------------------------------
# privacy


def tabular_privacy(
    domain: DomainSpec, spec: EvaluateSpec, train: pl.DataFrame, holdout: pl.DataFrame, synthetic: dict[str, pl.DataFrame], device: str | None = None
) -> dict[str, Any]:
    """DCR, closer-to-train share, exact copies and the membership attack, per source, with the holdout reference."""

    columns = modelled_columns(domain)
    codec = TabularCodec.fit(train, columns, rare_count=1, max_categories=1_000_000)
    flags = codec.is_categorical
    seed = spec.seed
    reference = codec.features(_sample(train, spec.max_reference_rows, seed))
    holdout_queries = codec.features(_sample(holdout, spec.max_distance_rows, seed))
    holdout_to_train = privacy.mixed_distance_to_closest(holdout_queries, reference, flags, device=device)
    # Members and non-members: one row per group on both sides and as many of each, so that rows
    # from the population itself score the ideal 0.5 (assay.data.split.one_row_per_group says why).
    group_names = (domain.split.group_by, domain.split.group_fallback)
    member_rows = one_row_per_group(train, row_groups(train, group_names), spec.max_distance_rows, seed + 1)
    non_member_rows = one_row_per_group(holdout, row_groups(holdout, group_names), spec.max_distance_rows, seed + 1)
    equal = min(member_rows.height, non_member_rows.height)
    members, non_members = codec.features(member_rows.head(equal)), codec.features(non_member_rows.head(equal))
    train_hashes = privacy.raw_row_hashes(train, columns)
    holdout_copies = privacy.exact_copy_rate(privacy.raw_row_hashes(holdout, columns), train_hashes)
    out: dict[str, Any] = {
        "holdout": {
            "dcr_p5": round_figure(float(np.quantile(holdout_to_train, 0.05))),
            "dcr_median": round_figure(float(np.median(holdout_to_train))),
            "exact_copy_rate": round_figure(holdout_copies),
        },
        "encoding": f"TabularCodec on train ({', '.join(columns)}); rare_count=1",
        "sizes": {"reference_train": reference.shape[0], "holdout_queries": holdout_queries.shape[0], "members_and_non_members": equal},
    }
    for source, frame in synthetic.items():
        queries = codec.features(_sample(frame, spec.max_distance_rows, seed))
        to_train = privacy.mixed_distance_to_closest(queries, reference, flags, device=device)
        dcr = privacy.dcr_summary(to_train, holdout_to_train)
        closer = privacy.closer_to_train_share(queries, members, non_members, flags, device=device)
        attack_reference = codec.features(_sample(frame, spec.max_reference_rows, seed))
        copies = privacy.exact_copy_rate(privacy.raw_row_hashes(frame, columns), train_hashes)
        out[source] = {
            "dcr_p5": dcr["synthetic_p5"],
            "dcr_median": dcr["synthetic_median"],
            "dcr_p5_ratio": dcr["p5_ratio"],
            "dcr_median_ratio": dcr["median_ratio"],
            "closer_to_train_share": closer["share"],
            "closer_to_train_ideal": closer["ideal"],
            "exact_copy_rate": round_figure(copies),
            "exact_copy_excess": round_figure(copies - holdout_copies),
            "mia_auc": round_figure(privacy.membership_inference_auc(members, non_members, attack_reference, flags, device=device)),
        }
    return out


def text_privacy(spec: EvaluateSpec, text: str, train: pl.DataFrame, holdout: pl.DataFrame, synthetic: dict[str, pl.DataFrame]) -> dict[str, Any]:
    """Share of units holding a verbatim ``verbatim_span``-character run of train text, per source and for holdout."""
    reference = train[text].drop_nulls().to_list()
    holdout_share = privacy.verbatim_span_share(holdout[text].drop_nulls().to_list(), reference, spec.verbatim_span)
    out: dict[str, Any] = {"holdout": {"verbatim_span_share": round_figure(holdout_share)}, "span": spec.verbatim_span}
    for source, frame in synthetic.items():
        share = privacy.verbatim_span_share(frame[text].drop_nulls().to_list(), reference, spec.verbatim_span)
        out[source] = {"verbatim_span_share": round_figure(share), "verbatim_excess": round_figure(share - holdout_share)}
    return out


# ---------------------------------------------------------------------------------------------
# the release gate (its checks: assay.metrics.registry)


def dependency_figures(train: pl.DataFrame, frames: dict[str, pl.DataFrame], columns: list[str]) -> list[dict[str, Any]]:
    """Each functional dependency the train rows hold (A determines B in 99.9% of them), with the
    share of each source's rows that break it. Columns with more than ``MAX_DEPENDENCY_VALUES``
    distinct values are left out (a near-unique column determines everything trivially)."""

    usable = [name for name in dict.fromkeys(columns) if name in train.columns and train[name].n_unique() <= MAX_DEPENDENCY_VALUES]
    codes, mappable, values = value_codes(train, usable)
    found = find_dependencies(codes, mappable=mappable, min_share=DEFAULT_MIN_SHARE)
    broken = {source: broken_shares(found, values, frame) for source, frame in frames.items() if all(name in frame.columns for name in usable)}
    return [
        {
            "determinant": dependency.determinant,
            "dependent": dependency.dependent,
            "train_share": dependency.share,
            **{f"{source}_broken_share": shares[(dependency.determinant, dependency.dependent)] for source, shares in broken.items()},
        }
        for dependency in found
    ]


def gate_checks(spec: EvaluateSpec, metrics: dict[str, Any], sizes: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """One entry per configured threshold: the generator's value, pass or fail, and a one-line message.

    ``sizes`` (the report's ``sample_sizes``) judges whether each figure rests on enough rows
    (:data:`assay.metrics.registry.SAMPLES`): a check whose sample is under its minimum is not
    judged (``judged: false``) and does not pass; its message starts "not enough rows to judge".
    """
    checks = []
    gate = spec.release_gate
    for key in type(gate).model_fields:  # in the order params.yaml documents them
        if key == "enabled":
            continue
        entry, check = GATE_BY_THRESHOLD[key]
        metric, bound, words = entry.key, check.bound, check.words
        threshold = getattr(gate, key)
        if threshold is None or metric not in metrics:
            continue  # off, or not measured for this kind of domain (distances for text, verbatim spans for tables)
        value = metrics.get(metric)
        if metric == "dcr_p5_ratio" and value is None and metrics.get("dcr_p5") is not None:
            value_ok = True  # holdout p5 is 0 and synthetic's is not: synthetic rows are the farther ones
        elif value is None:
            value_ok = False
        else:
            value_ok = value >= threshold if bound == "min" else value <= threshold
        sign = ">=" if bound == "min" else "<="
        shown = "not measured" if value is None else f"{value:.4g}"
        message = f"{metric} = {shown}, needs {sign} {threshold:g} ({words})"
        sample_name = SAMPLE_OF.get(metric)
        rows = (sizes or {}).get(sample_name) if sample_name else None
        judged = rows is None or rows >= SAMPLES[sample_name].min_rows  # type: ignore[index]
        if not judged:
            sample = SAMPLES[sample_name]  # type: ignore[index]
            message = f"not enough rows to judge: {message}, measured on {rows:,} {sample.words}; it needs at least {sample.min_rows:,} ({sample.why})"
        check = {
            "check": key,
            "metric": metric,
            "value": value,
            "threshold": threshold,
            "bound": bound,
            "passed": bool(value_ok) and judged,
            "message": message,
        }
        checks.append({**check, "judged": judged, "rows": rows})
    return checks


def sample_sizes(
    spec: EvaluateSpec, train: pl.DataFrame, test: pl.DataFrame, synthetic: pl.DataFrame, useful: dict[str, Any], private: dict[str, Any], text: str | None
) -> dict[str, int]:
    """The size of each sample a figure rests on (keys of :data:`assay.metrics.registry.SAMPLES`, plus ``test``)."""
    sizes = {
        "test": test.height,
        "test_class": useful["effective_class_rows"],
        "synthetic": synthetic.height,
        "compared": synthetic.height,
        "pairs": min(synthetic.height, spec.max_rows),
        "detection": min(train.height, synthetic.height, spec.max_rows),
    }
    if text is None:
        sizes |= {"distance": min(synthetic.height, spec.max_distance_rows), "members": private["sizes"]["members_and_non_members"], "copies": synthetic.height}
    else:
        sizes["units"] = synthetic[text].drop_nulls().len()
    return sizes


# ---------------------------------------------------------------------------------------------
# fidelity


def evaluated_columns(frame: pl.DataFrame, domain: DomainSpec) -> tuple[dict[str, fidelity.Kind], dict[str, str]]:
    """Columns compared between real and synthetic data, and the others with the reason."""
    exclude = {name: "direct identifier" for name, column in domain.columns.items() if column.identifier}
    exclude |= {name: "synthetic id (fresh by design)" for name in domain.generator.synthetic_ids}
    if domain.generator.text_column:
        exclude[domain.generator.text_column] = "free text (compared by its length, detection and the verbatim check)"
    return drift.drift_columns(frame, exclude)


def with_text_length(frame: pl.DataFrame, text: str | None) -> pl.DataFrame:
    """``frame`` plus the length of ``text`` in characters (``<text>_chars``), compared like any number."""
    if text is None:
        return frame
    return frame.with_columns(pl.col(text).str.len_chars().cast(pl.Int64).alias(TEXT_LENGTH.format(text)))


def fidelity_figures(
    spec: EvaluateSpec, text: str | None, train: pl.DataFrame, frames: dict[str, pl.DataFrame], kinds: dict[str, fidelity.Kind]
) -> dict[str, Any]:
    """Per-column and pairwise similarities and the detection AUC, per source."""
    real = with_text_length(train, text)
    views = {source: with_text_length(frame, text) for source, frame in frames.items()}
    columns = {source: fidelity.column_similarities(real, frame, kinds) for source, frame in views.items()}
    capped = {source: _sample(frame, spec.max_rows, spec.seed) for source, frame in views.items()}
    pairs = fidelity.pairwise_similarities(_sample(real, spec.max_rows, spec.seed), capped, kinds)
    real_rows = _sample(train, spec.max_rows, spec.seed)
    if text is None:
        design = fidelity.Design.fit(train, kinds)

        def factory(n: int) -> Any:
            return fidelity.make_model("hist_gradient_boosting", design, n, spec.seed)

        def features(frame: pl.DataFrame) -> Any:
            return design.matrix(frame)
    else:

        def factory(n: int) -> Any:
            return fidelity.make_text_model(spec.seed)

        def features(frame: pl.DataFrame) -> Any:
            return frame[text].fill_null("").to_list()

    real_features = features(real_rows)
    detection = {source: fidelity.detection_auc(real_features, features(frame), factory, spec.detection_folds, spec.seed) for source, frame in capped.items()}
    distributions = {"columns": fidelity.column_distributions(real, views, kinds), "associations": fidelity.association_map(pairs)}
    return {"columns": columns, "pairs": pairs, "detection": detection, "distributions": distributions}


# ---------------------------------------------------------------------------------------------
# the report


def _validity_rows(results: dict[str, dict[str, Any]], skipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    first = next(iter(results.values()))["expectations"]
    for index, item in enumerate(first):
        row = {key: item[key] for key in ("type", "column", "row_condition", "expects", "severity", "row_level")}
        for source, result in results.items():
            other = result["expectations"][index]
            row[source] = {key: other[key] for key in ("success", "unexpected_count", "unexpected_percent", "error")}
        rows.append(row)
    for item in skipped:
        rows.append({**item, "row_level": None, "not_applicable": True})
    return rows


def _mean(values: list[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round_figure(float(np.mean(present))) if present else None


def _source_metrics(source: str, checked: dict[str, Any], fid: dict[str, Any], primary: dict[str, Any], private: dict[str, Any]) -> dict[str, Any]:
    """The flat scalars of one source (what `dvc metrics show` lists as generator.* / baseline.*)."""
    mine = primary[source]
    return {
        "validity_row_pass_share": checked["row_pass_share"],
        "validity_row_pass_share_critical": checked["row_pass_share_critical"],
        "validity_failed_critical": checked["failed_critical"],
        "validity_failed_warning": checked["failed_warning"],
        "column_similarity": fidelity.mean_similarity(fid["columns"][source]),
        "pair_similarity": _mean([pair[f"similarity_{source}"] for pair in fid["pairs"]]),
        "detection_auc": fid["detection"][source]["auc"],
        **flat_scores("tstr", mine["tstr"]),
        **flat_scores("tstr_trtr", mine["ratio"]),
        "augmentation_auc_lift": mine["lift"]["roc_auc"],
        **private[source],
    }


def _intervals(primary: dict[str, Any], sources: tuple[str, ...]) -> dict[str, Any]:
    """95% bootstrap intervals (over the real test rows) of the primary model's utility figures, by report key."""
    out: dict[str, Any] = {"trtr_auc": primary["trtr"].get("roc_auc_interval")}
    for source in sources:
        out[source] = {"tstr_auc": primary[source]["tstr"].get("roc_auc_interval"), "tstr_trtr_auc": primary[source]["ratio"].get("roc_auc_interval")}
    return out


def _column_plot(fid: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "column": row["column"],
            "kind": row["kind"],
            "metric": row["metric"],
            "similarity_generator": row["similarity"],
            "similarity_baseline": other["similarity"],
        }
        for row, other in zip(fid["columns"]["generator"], fid["columns"]["baseline"], strict=True)
    ]


def _pairs_by_kind(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for kind in sorted({pair["kind"] for pair in pairs}):
        chosen = [pair for pair in pairs if pair["kind"] == kind]
        out.append({"kind": kind, "pairs": len(chosen), **{f"similarity_{s}": _mean([pair[f"similarity_{s}"] for pair in chosen]) for s in SOURCES}})
    return out


def evaluate_frames(
    domain_name: str,
    domain: DomainSpec,
    train: pl.DataFrame,
    dev: pl.DataFrame,
    test: pl.DataFrame,
    synthetic: pl.DataFrame,
    suite: dict[str, Any],
    synthetic_file: str = "synthetic",
    progress: Callable[[str], None] | None = None,
    device: str | None = None,
    others: dict[str, pl.DataFrame] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Every figure for the generator's ``synthetic`` frame and a naive baseline: (report, per-column plot rows).

    Pure apart from logging: frames in, dicts out. ``progress`` is called after each phase.
    ``others`` adds more sources measured the same way (a benchmark's competing generators); the
    report gets a top-level entry per source, and the gate still judges ``generator`` only.
    OpenMP (scikit-learn's gradient boosting, torch's kernels) runs on ``OPENMP_THREADS`` threads:
    its spinning thread barriers turn a fit of well under a second into tens of seconds when
    another process holds one of the cores (as a concurrent training stage does), and on these
    sample sizes more threads buy little.
    """
    import sklearn.ensemble  # noqa: F401  (loads scikit-learn's OpenMP runtime, so that the limit reaches it)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=OPENMP_THREADS, user_api="openmp"):
        done = progress or (lambda label: None)
        others = others or {}
        spec = domain.evaluate
        text = domain.generator.text_column if domain.generator.kind == "text" else None
        timings: dict[str, float] = {}
        clock = [time.perf_counter()]

        def phase(label: str) -> None:
            now = time.perf_counter()
            timings[label], clock[0] = now - clock[0], now
            done(label)

        frames = {"generator": synthetic, "baseline": naive_baseline(train, domain, synthetic.height, spec.seed), **others}
        holdout = pl.concat([dev, test], how="diagonal_relaxed")

        usable_suite, skipped = not_applicable(suite, synthetic, domain.generator.synthetic_ids)
        checked = {source: validity(frame, usable_suite, f"{synthetic_file}#{source}") for source, frame in frames.items()}
        checked_test = validity(test, usable_suite, "test")
        phase("validity")

        kinds, skipped_columns = evaluated_columns(with_text_length(train, text), domain)
        fid = fidelity_figures(spec, text, train, frames, kinds)
        phase("fidelity")

        target = spec.target
        predictors = {name: kind for name, kind in kinds.items() if name != target.column}
        task = Task(
            target=target.column,
            positive=tuple(target.positive) if target.positive else None,
            negative=tuple(target.negative) if target.negative else None,
            text=text,
            design=None if text else fidelity.Design.fit(train, predictors),
        )
        useful = utility(task, spec, train, test, frames, dev)
        phase("utility")

        private = tabular_privacy(domain, spec, train, holdout, frames, device=device) if text is None else text_privacy(spec, text, train, holdout, frames)
        phase("privacy")

        held = dependency_figures(train, frames, [*modelled_columns(domain), *domain.generator.lookups]) if text is None else []
        phase("dependencies")

        primary = useful["models"][0]
        metrics = {source: _source_metrics(source, checked[source], fid, primary, private) for source in frames}
        sizes = sample_sizes(spec, train, test, synthetic, useful, private, text)
        checks = gate_checks(spec, metrics["generator"], sizes)
        columns_plot = _column_plot(fid)
        by_generator = sorted(fid["pairs"], key=lambda p: (2.0 if p["similarity_generator"] is None else p["similarity_generator"], p["a"], p["b"]))
        report = {
            "domain": domain_name,
            "kind": domain.generator.kind,
            "rows": {"train": train.height, "dev": dev.height, "test": test.height, "synthetic": synthetic.height, "baseline": frames["baseline"].height},
            "target": task.describe(),
            "primary_model": primary["model"],
            **flat_scores("trtr", primary["trtr"]),
            "majority_accuracy": useful["majority"]["accuracy"],
            "holdout": {**private["holdout"], "validity_row_pass_share": checked_test["row_pass_share"]},
            "generator": metrics["generator"],
            "baseline": metrics["baseline"],
            **{source: metrics[source] for source in others},
            "release_gate_enabled": spec.release_gate.enabled,
            "release_gate_passed": all(check["passed"] for check in checks),
            "release_gate_failed": sum(not check["passed"] for check in checks),
            "release_gate_not_judged": sum(not check["judged"] for check in checks),
            "sample_sizes": sizes,
            "intervals": _intervals(primary, SOURCES),
            "consistency": useful["consistency"],
            # Lists (which `dvc metrics show` leaves out) hold the detail.
            "gate_checks": checks,
            "columns": columns_plot,
            "columns_skipped": [{"column": name, "reason": reason} for name, reason in skipped_columns.items()],
            "pairs_by_kind": _pairs_by_kind(fid["pairs"]),
            "pairs_worst_generator": by_generator[:WORST_PAIRS],
            "detection": [{"source": source, **result} for source, result in fid["detection"].items()],
            "utility": [useful],
            "validity": [
                {"source": source, **{key: value for key, value in result.items() if key != "expectations"}}
                for source, result in [*checked.items(), ("real_test", checked_test)]
            ],
            "validity_expectations": _validity_rows({**checked, "real_test": checked_test}, skipped),
            "privacy": [private],
            "dependencies": held,
            "settings": [spec.model_dump(mode="json")],
            # For the page's overlays and heat map; the stage writes it to its own file (layout.DISTRIBUTIONS_FILE).
            "distributions": fid["distributions"],
        }
        log.info("evaluate %s: %s", domain_name, ", ".join(f"{label} {seconds:.1f} s" for label, seconds in timings.items()))
        return report, columns_plot


def read_frame(path: Path, what: str, hint: str) -> pl.DataFrame:
    if not path.is_file():
        raise AssayError(f"{what} not found: {path}; {hint}")
    return read_parquet(path)


def gate_failure(domain_name: str, report: dict[str, Any], report_path: Path) -> AssayError | None:
    """The error to raise when the gate is on and a check failed: one line per failed check."""
    failed = [check for check in report["gate_checks"] if not check["passed"]]
    if not report["release_gate_enabled"] or not failed:
        return None
    lines = [f"release gate: {check['message']}" for check in failed]
    return AssayError(f"synthetic {domain_name} failed {len(failed)} release check(s); see {report_path}:\n" + "\n".join(lines), exit_code=1)
