"""Privacy checks during generator training: keep utility and privacy together.

Dev loss alone does not see a generator drifting towards its training rows. Every
``privacy_check_every`` epochs the model being trained samples rows (units for text domains), and
they are compared with a sample of the train split, with dev rows as the fresh-data reference:

- tabular: distance to closest record (range-normalised mixed-type distance on the encoded
  tokens, the same distance the utility stage uses, from :mod:`assay.metrics.privacy`) to train and to
  a dev reference; the share of synthetic rows closer to train than to dev, against the share
  that fresh rows (the other half of dev) show; DCR 5th-percentile and median ratios; exact
  copies: sampled rows decoded to raw values, as ``synthesize`` would write them, equal to a row
  of the whole train split (the evaluate stage's count), against the rate of dev rows;
- text: the share of sampled units holding a verbatim 50-character span of the train text,
  against the same for dev units.

The threshold is statistical, not hand-picked (as REaLTabFormer does): the same statistic is
bootstrapped on real dev rows, resampled to the synthetic sample's size, and a synthetic value
beyond that spread (the ``quantile`` of the resamples above their mean), counted from the fresh
rows' level or the ideal 0.5 if higher, counts as overfitting. Copies are rare events, where a
bootstrap has no spread; their threshold is the binomial spread around an upper confidence bound
of the dev rate (:func:`copy_threshold`). The 5th percentile of the synthetic rows' distances to
train has a floor instead, the low end of the same bootstrap (:func:`dcr_p5_floor`). A tabular
checkpoint must hold all three. Only checked checkpoints within the thresholds can be chosen; among them the best dev loss wins; training stops after
``privacy_patience`` failed checks in a row; if none qualifies, training fails. The test split is
never used.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from assay.config import PrivacyGuardSpec
from assay.data.split import one_row_per_group, unit_interval
from assay.generator.budget import epoch_number
from assay.generator.distributed import from_main_process
from assay.io import write_json
from assay.metrics.privacy import closer_to_train_flags, exact_copy_flags, exact_copy_rate, mixed_distance_to_closest, raw_row_hashes, verbatim_span_flags

log = logging.getLogger("assay.train")

NOT_CHOSEN = 1e9  # selection loss of a checkpoint that may not be kept
_GROUP = "__assay_group__"  # a dev row's group, carried through the halves
CPU_BATCH_ROWS = 1024  # rows generated at once by a check on the CPU
IDEAL_CLOSER_SHARE = 0.5  # rows from the population itself are as near train as the dev reference (equal sizes)


@dataclass
class TabularReference:
    """Encoded train and dev samples, and the bootstrap threshold from fresh (dev) rows."""

    train: np.ndarray
    train_hashes: np.ndarray  # raw values of every train row: copies are judged against all of train, as in evaluate
    schema: dict[str, pl.DataType]  # train dtypes, so decoded rows hash like train rows
    dev_reference: np.ndarray
    is_categorical: np.ndarray
    fresh_closer_share: float
    threshold_closer_share: float
    fresh_copy_rate: float
    threshold_copy_rate: float
    fresh_dcr_p5: float
    floor_dcr_p5: float  # the lowest 5th percentile a sample of fresh rows shows by chance
    fresh_dcr_median: float

    @property
    def threshold_dcr_p5_ratio(self) -> float | None:
        """The floor as a ratio to fresh rows' level; None where that level is 0 (a table of few
        distinct rows, where fresh rows have twins in train: exact copies are the test there)."""
        return self.floor_dcr_p5 / self.fresh_dcr_p5 if self.fresh_dcr_p5 > 0 else None


@dataclass
class TextReference:
    train_texts: list[str]
    fresh_verbatim_share: float
    threshold_verbatim_share: float


def bootstrap_threshold(per_row: np.ndarray, size: int, spec: PrivacyGuardSpec, rng: np.random.Generator, ideal: float | None = None) -> float:
    """The statistic's level for fresh rows plus its spread: how far a ``size``-row sample's mean
    can sit above it by chance (the ``quantile`` of bootstrap resamples minus their mean).

    With an ``ideal`` (0.5 for the closer-to-train share) the level is the higher of the two: a
    generator that samples the population itself scores the ideal, so it must not count as
    overfitting, while fresh dev rows can sit on either side of it (on the real records, 0.474
    with dev capped at 3,000 rows, 0.505 to 0.515 on the whole dev split).
    """
    draws = rng.integers(0, per_row.size, size=(spec.bootstraps, size))
    means = per_row[draws].mean(axis=1)
    level = float(per_row.mean()) if ideal is None else max(float(per_row.mean()), ideal)
    return level + float(np.quantile(means, spec.quantile) - means.mean())


def dcr_p5_floor(to_train: np.ndarray, size: int, spec: PrivacyGuardSpec, rng: np.random.Generator) -> float:
    """How low the 5th percentile of a ``size``-row sample's distances to train falls by chance,
    for fresh rows: the (1 - ``quantile``) quantile of bootstrap resamples' 5th percentiles.

    A synthetic sample below it has rows nearer to train than fresh data comes: the
    release gate's DCR 5th-percentile ratio, caught while training (a new 32,561-row table trained
    faster reached 0.90 in the evaluation while its closer-to-train share still passed).

    The synthetic sample's percentile is compared with the fresh rows' own, and both are estimates:
    the resamples take ``size * n / (size + n)`` rows (``n`` fresh rows), the size at which one
    sample's percentile varies as the difference of the two does. Resampling ``size`` rows alone
    would treat the fresh percentile as exact: the demo's 233 fresh rows, resampled 2,000 at a time,
    set a floor (0.988 of the fresh level) that a generator as far from train as the evaluation
    measures (ratio 1.00 +- 0.01) failed in half its checks.
    """
    size = max(1, round(size * to_train.size / (size + to_train.size)))
    draws = rng.integers(0, to_train.size, size=(spec.bootstraps, size))
    return float(np.quantile(np.percentile(to_train[draws], 5, axis=1), 1 - spec.quantile))


def copy_threshold(copies: int, rows: int, spec: PrivacyGuardSpec) -> float:
    """The highest exact-copy share a ``sample_rows`` sample of fresh data shows by chance.

    Copies are rare events, where a bootstrap has no spread (no copy among a few hundred dev rows
    gives a threshold of 0, and one copy among 1,500 samples would fail). So: the upper
    ``quantile`` Clopper-Pearson bound of the fresh rate (``copies`` of ``rows`` dev rows), then
    the ``quantile`` of a binomial sample of ``sample_rows`` rows at that rate.
    """
    from scipy.stats import beta, binom

    rate = 1.0 if copies >= rows else float(beta.ppf(spec.quantile, copies + 1, rows - copies))
    return float(binom.ppf(spec.quantile, spec.sample_rows, rate)) / spec.sample_rows


def halves_by_group(frame: pl.DataFrame, groups: pl.Series | None, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split rows in two so that no group (a patient, a customer, a section) is in both halves.

    Splitting by row would put a patient's other encounters on both sides, making fresh rows
    look closer to the dev reference than to train and the threshold too strict.
    """

    if groups is None:
        keys = np.arange(frame.height).astype(str)
    else:
        keys = groups.cast(pl.String).fill_null("").to_numpy().astype(str)
    distinct, inverse = np.unique(keys, return_inverse=True)
    first = unit_interval(distinct.tolist(), seed)[inverse] < 0.5
    mask = pl.Series(first)
    return frame.filter(mask), frame.filter(~mask)


def tabular_reference(
    codec: Any,
    train: pl.DataFrame,
    dev: pl.DataFrame,
    spec: PrivacyGuardSpec,
    device: str = "cpu",
    dev_groups: pl.Series | None = None,
    train_groups: pl.Series | None = None,
) -> TabularReference:
    """Encode reference samples and set thresholds from dev rows that the model never trains on.

    Dev is split in two by group: one half is the reference a synthetic row may be near, the
    other plays the synthetic sample's part as fresh data. Every reference sample (train, dev
    reference, fresh) takes one row per group, and train as many rows as the dev reference, as
    the evaluate stage's samples do (:func:`assay.data.split.one_row_per_group` says why). With
    uniform samples, a dev half of a few dozen customers was matched against train rows from
    hundreds: rows of the population itself were nearer to train, so on the demo transactions
    an untrained generator's first check already failed.
    """

    rng = np.random.default_rng(spec.seed)
    keyed = dev if dev_groups is None else dev.with_columns(pl.Series(_GROUP, dev_groups, dtype=pl.String))
    halves = halves_by_group(keyed, dev_groups, spec.seed)

    def per_group(frame: pl.DataFrame, rows: int) -> pl.DataFrame:
        groups = frame[_GROUP] if dev_groups is not None else None
        return one_row_per_group(frame, groups, rows, spec.seed).drop(_GROUP, strict=False)

    dev_reference, fresh = (per_group(half, spec.reference_rows) for half in halves)
    train_rows = one_row_per_group(train, train_groups, dev_reference.height, spec.seed)
    features = lambda frame: codec.token_features(codec.encode(frame))  # noqa: E731
    train_x, reference_x, fresh_x = features(train_rows), features(dev_reference), features(fresh)
    is_categorical = codec.is_categorical
    to_train = mixed_distance_to_closest(fresh_x, train_x, is_categorical, device=device)
    to_dev = mixed_distance_to_closest(fresh_x, reference_x, is_categorical, device=device)
    closer = closer_to_train_flags(to_train, to_dev)
    # Exact copies of raw values against the whole train split (a subsample would miss most),
    # as the evaluate stage counts them; binned tokens would call rows with nearby values copies.
    columns = [column.name for column in codec.columns]
    train_hashes = raw_row_hashes(train, columns)
    copies = exact_copy_flags(raw_row_hashes(dev, columns), train_hashes)  # all of dev: copies need no dev reference
    return TabularReference(
        train=train_x,
        train_hashes=train_hashes,
        schema={name: train.schema[name] for name in columns},
        dev_reference=reference_x,
        is_categorical=is_categorical,
        fresh_closer_share=float(closer.mean()),
        threshold_closer_share=bootstrap_threshold(closer, spec.sample_rows, spec, rng, ideal=IDEAL_CLOSER_SHARE),
        fresh_copy_rate=float(copies.mean()),
        threshold_copy_rate=copy_threshold(int(copies.sum()), copies.size, spec),
        fresh_dcr_p5=float(np.percentile(to_train, 5)),
        floor_dcr_p5=dcr_p5_floor(to_train, spec.sample_rows, spec, rng),
        fresh_dcr_median=float(np.median(to_train)),
    )


def text_reference(train_texts: list[str], dev_texts: list[str], spec: PrivacyGuardSpec) -> TextReference:

    rng = np.random.default_rng(spec.seed)
    flags = verbatim_span_flags(dev_texts, train_texts).astype(float)
    return TextReference(train_texts, float(flags.mean()), bootstrap_threshold(flags, spec.sample_rows, spec, rng))


def _ratio(value: float, reference: float) -> float:
    # Distances of 0 are exact copies; a tiny floor keeps the ratio finite and still telling.
    return float(value / max(reference, 1e-6))


def check_tabular(generator: Any, reference: TabularReference, spec: PrivacyGuardSpec, temperature: float) -> dict[str, Any]:
    """Sample rows from a tabular generator being trained and measure them against the reference.

    ``generator`` is a :class:`~assay.generator.variants.TabularScratchGenerator` (its ``model``,
    ``codec`` and ``sample_tokens``).
    """
    codec = generator.codec
    device = str(generator.model.device.type)
    # On a GPU, generation is bound by per-step overhead, not arithmetic: one batch for the whole
    # sample (measured on an H200: 1,024-row batches made 6,000-row checks 21% of training time).
    batch_rows = spec.sample_rows if device == "cuda" else min(spec.sample_rows, CPU_BATCH_ROWS)
    tokens = generator.sample_tokens(spec.sample_rows, batch_rows, temperature, progress=False)
    synthetic = codec.token_features(tokens)
    to_train = mixed_distance_to_closest(synthetic, reference.train, reference.is_categorical, device=device)
    to_dev = mixed_distance_to_closest(synthetic, reference.dev_reference, reference.is_categorical, device=device)
    closer = float(closer_to_train_flags(to_train, to_dev).mean())
    decoded, parsed = codec.decode(tokens, np.random.default_rng(spec.seed))
    decoded = decoded.filter(pl.Series(parsed)).select([pl.col(name).cast(dtype) for name, dtype in reference.schema.items()])
    copies = exact_copy_rate(raw_row_hashes(decoded, list(reference.schema)), reference.train_hashes)
    dcr_p5 = float(np.percentile(to_train, 5))
    dcr_within = reference.fresh_dcr_p5 == 0 or dcr_p5 >= reference.floor_dcr_p5
    return {
        "closer_to_train_share": closer,
        "closer_to_train_ideal": IDEAL_CLOSER_SHARE,
        "closer_to_train_fresh": reference.fresh_closer_share,
        "closer_to_train_threshold": reference.threshold_closer_share,
        "exact_copy_rate": copies,
        "exact_copy_rate_fresh": reference.fresh_copy_rate,
        "exact_copy_threshold": reference.threshold_copy_rate,
        "dcr_p5_ratio": _ratio(dcr_p5, reference.fresh_dcr_p5),
        "dcr_p5_ratio_threshold": reference.threshold_dcr_p5_ratio,
        "dcr_median_ratio": _ratio(float(np.median(to_train)), reference.fresh_dcr_median),
        "within_threshold": closer <= reference.threshold_closer_share and copies <= reference.threshold_copy_rate and dcr_within,
    }


def check_text(generator: Any, reference: TextReference, spec: PrivacyGuardSpec, temperature: float) -> dict[str, Any]:
    """Sample units from a text generator being trained (its ``draw``) and count verbatim train spans."""
    units, _ = generator.draw(spec.sample_rows, 32, temperature, np.random.default_rng(spec.seed), progress=False)
    share = float(verbatim_span_flags(units[generator.config.text_column].to_list(), reference.train_texts).mean()) if units.height else 0.0
    return {
        "verbatim_share": share,
        "verbatim_share_fresh": reference.fresh_verbatim_share,
        "verbatim_threshold": reference.threshold_verbatim_share,
        "within_threshold": share <= reference.threshold_verbatim_share,
    }


@dataclass
class PrivacyLog:
    """The checks so far, kept beside the checkpoints (``path``) so that a resumed run still knows them."""

    checks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    path: Path | None = None

    @classmethod
    def resume(cls, path: Path, up_to_epoch: float | None) -> PrivacyLog:
        """The checks an interrupted run made up to its last checkpoint (none when starting afresh)."""
        checks = []
        if up_to_epoch is not None and path.is_file():
            checks = [check for check in json.loads(path.read_text()) if check["epoch"] <= up_to_epoch]
        return cls(checks=checks, path=path)

    def add(self, check: dict[str, Any]) -> None:
        self.checks.append(check)
        if self.path is not None:
            write_json(self.checks, self.path)


def privacy_callback(run_check: Any, spec: PrivacyGuardSpec, live: Any, record: PrivacyLog):
    """A Trainer callback: check every N epochs, mark ineligible checkpoints, stop on repeated failure.

    ``run_check()`` samples from the generator whose model the Trainer is training (the same object).

    It rewrites the evaluation metric ``eval_selection_loss`` that ``metric_for_best_model``
    names: the dev loss for a checkpoint within the threshold, a huge value otherwise, so the
    Trainer's own best-checkpoint logic keeps the best dev loss among qualifying checkpoints.
    """
    from transformers import TrainerCallback

    class PrivacyCheck(TrainerCallback):
        def __init__(self) -> None:
            self.failures_in_a_row = 0

        def on_evaluate(self, args, state, control, metrics=None, model=None, **kwargs):  # noqa: ANN001
            if metrics is None:
                return
            epoch = epoch_number(state.epoch)
            metrics["eval_selection_loss"] = NOT_CHOSEN
            # The last checkpoint is always checked: a budget's partial last epoch, or the epoch a
            # minutes budget's clock ends at, may fall between checks.
            if epoch % spec.privacy_check_every and not control.should_training_stop:
                return
            started = time.perf_counter()
            result = None
            if state.is_world_process_zero:  # sampling runs on the main process; the others wait for its verdict
                was_training = model.training
                model.eval()
                try:
                    result = run_check()
                finally:
                    model.train(was_training)
            result = from_main_process(result)
            record.seconds += time.perf_counter() - started
            result = {"epoch": epoch, "dev_loss": float(metrics["eval_loss"]), **result}
            record.add(result)
            # This callback runs before the epoch curves set the step: log at the checked epoch,
            # so `dvc plots` shows each check where it ran, beside that epoch's dev loss.
            live.step = epoch
            for name, value in result.items():
                if isinstance(value, bool):
                    live.log_metric(f"privacy/{name}", int(value))
                elif isinstance(value, float) and name != "dev_loss":
                    live.log_metric(f"privacy/{name}", value)
            if result["within_threshold"]:
                metrics["eval_selection_loss"] = metrics["eval_loss"]
                self.failures_in_a_row = 0
            else:
                self.failures_in_a_row += 1
                log.warning("privacy check at epoch %d: beyond the threshold (%d in a row)", epoch, self.failures_in_a_row)
                if self.failures_in_a_row >= spec.privacy_patience:
                    log.warning("privacy checks failed %d times in a row: training stops", self.failures_in_a_row)
                    control.should_training_stop = True

    return PrivacyCheck()
