"""Privacy checks during training: thresholds from real dev rows, checkpoint choice, stopping."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from assay.config import GeneratorSpec, PrivacyGuardSpec
from assay.errors import AssayError
from assay.generator.base import Generator, PrivacyCheck
from assay.generator.codec import TabularCodec
from assay.generator.model import pick_device
from assay.generator.privacy_checks import IDEAL_CLOSER_SHARE, bootstrap_threshold, copy_threshold, dcr_p5_floor, tabular_reference
from assay.generator.training import train_on_splits
from assay.generator.variants import TabularScratchGenerator
from assay.metrics.privacy import closer_to_train_flags

from .test_generator import TINY

GUARD = {"enabled": True, "privacy_check_every": 1, "privacy_patience": 2, "sample_rows": 200, "reference_rows": 300, "bootstraps": 200}


def test_closer_to_train_flags_count_ties_as_half() -> None:
    assert closer_to_train_flags(np.array([0.1, 0.5, 0.3]), np.array([0.2, 0.5, 0.1])).tolist() == [1.0, 0.5, 0.0]


def test_bootstrap_threshold_tracks_the_spread_of_real_rows() -> None:
    spec = PrivacyGuardSpec(bootstraps=400, quantile=0.95)
    rng = np.random.default_rng(0)
    constant = np.zeros(100)
    assert bootstrap_threshold(constant, 50, spec, rng) == 0.0
    coin = rng.integers(0, 2, 2000).astype(float)
    small, large = bootstrap_threshold(coin, 50, spec, rng), bootstrap_threshold(coin, 5000, spec, rng)
    assert coin.mean() < large < small  # a smaller synthetic sample is allowed more noise
    assert small - coin.mean() == pytest.approx(1.645 * 0.5 / np.sqrt(50), abs=0.04)
    # Fresh rows below the ideal: the spread counts from the ideal, which a perfect generator scores.
    low = (rng.random(2000) < 0.45).astype(float)
    assert bootstrap_threshold(low, 500, spec, rng, ideal=IDEAL_CLOSER_SHARE) == pytest.approx(0.5 + 1.645 * 0.5 / np.sqrt(500), abs=0.01)


def test_copy_threshold_allows_chance_copies_even_when_dev_shows_none() -> None:
    spec = PrivacyGuardSpec(sample_rows=500, quantile=0.95)
    none_seen = copy_threshold(0, 500, spec)
    assert 0 < none_seen < 0.02  # no copy among 500 dev rows still bounds the rate at about 3/500
    assert copy_threshold(0, 10_000, spec) < none_seen < copy_threshold(5, 500, spec)  # more dev rows, tighter; more copies, looser
    assert copy_threshold(500, 500, spec) == 1.0


def test_dcr_floor_is_the_low_end_of_fresh_rows_5th_percentile() -> None:
    spec = PrivacyGuardSpec(bootstraps=400, quantile=0.95)
    rng = np.random.default_rng(1)
    fresh = rng.uniform(0, 1, 4000)  # distances of fresh rows to train: 5th percentile near 0.05
    small, large = dcr_p5_floor(fresh, 200, spec, rng), dcr_p5_floor(fresh, 5000, spec, rng)
    assert small < large < np.percentile(fresh, 5)  # a smaller sample is allowed to sit lower by chance
    assert large > 0.04
    copied = np.concatenate([np.zeros(400), rng.uniform(0, 1, 3600)])  # 10% of rows nearer than any fresh row
    assert np.percentile(copied[rng.integers(0, 4000, 1000)], 5) < dcr_p5_floor(fresh, 1000, spec, rng)


def test_dcr_floor_allows_for_the_noise_of_few_fresh_rows() -> None:
    """The fresh rows' own 5th percentile is an estimate too: with 233 of them (the demo records'
    dev half) a larger synthetic sample does not make the floor tight, and a generator drawing from
    the population itself passes however many rows it samples."""
    spec = PrivacyGuardSpec(bootstraps=400, quantile=0.95)
    rng = np.random.default_rng(2)
    population = lambda n: rng.uniform(0, 1, n)  # noqa: E731
    few, many = population(233), population(20_000)
    assert dcr_p5_floor(few, 100_000, spec, rng) < dcr_p5_floor(many, 100_000, spec, rng)

    def fresh_level_as_exact(fresh: np.ndarray, size: int) -> float:  # resampling the synthetic sample's size alone
        draws = rng.integers(0, fresh.size, size=(spec.bootstraps, size))
        return float(np.quantile(np.percentile(fresh[draws], 5, axis=1), 1 - spec.quantile))

    failed, failed_as_exact = 0, 0
    for _ in range(400):  # fresh estimate and synthetic sample both drawn from the population
        fresh, synthetic_p5 = population(233), np.percentile(population(2000), 5)
        failed += synthetic_p5 < dcr_p5_floor(fresh, 2000, spec, rng)
        failed_as_exact += synthetic_p5 < fresh_level_as_exact(fresh, 2000)
    # near the 5% the quantile promises (a percentile's bootstrap runs a little over it on 233
    # rows); taken as exact, the fresh level failed about a third of these draws
    assert failed / 400 < 0.15 and failed_as_exact / 400 > 0.25


def test_fresh_dev_rows_sit_half_way_between_train_and_dev(demo_params, records_splits) -> None:
    import polars as pl

    train_path, dev_path, clean = records_splits
    spec = demo_params.domain("records").generator
    train, dev = pl.read_parquet(train_path), clean.slice(800, 1200)
    codec = TabularCodec.fit(train, spec.features, numeric_bins=spec.numeric_bins, rare_count=spec.rare_count)
    reference = tabular_reference(codec, train, dev, PrivacyGuardSpec(**GUARD))
    assert 0.4 < reference.fresh_closer_share < 0.6
    assert reference.threshold_closer_share > reference.fresh_closer_share
    assert reference.floor_dcr_p5 < reference.fresh_dcr_p5 and 0 < reference.threshold_dcr_p5_ratio < 1
    assert reference.train.shape[1] == len(spec.features)


class ScriptedVerdicts(TabularScratchGenerator):
    """The real check, with its verdicts replaced by a script: a subclass, as any other generator would be."""

    def __init__(self, domain: str, spec: GeneratorSpec, verdicts: Iterator[bool]) -> None:
        super().__init__(domain, spec)
        self.verdicts = verdicts

    def privacy_check(self, data, device) -> PrivacyCheck:  # noqa: ANN001
        real = super().privacy_check(data, device)
        return PrivacyCheck(lambda: {**real.run(), "within_threshold": next(self.verdicts)}, real.threshold)


def guarded_spec(demo_params, **privacy) -> GeneratorSpec:
    base = demo_params.domain("records").generator.model_dump()
    return GeneratorSpec.model_validate({**base, **TINY, "train": {**TINY["train"], "max_epochs": 3}, "privacy": {**GUARD, **privacy}})


def train_guarded(spec: GeneratorSpec, splits, tmp_path: Path, generator: Generator | None = None) -> dict:
    train_path, dev_path, _ = splits
    return train_on_splits(
        "records", spec, train_path, dev_path, tmp_path / "m", tmp_path / "live", tmp_path / "ckpt", device=pick_device(), generator=generator
    )


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_chosen_checkpoint_is_the_best_dev_loss_among_those_within_the_threshold(demo_params, records_splits, tmp_path: Path) -> None:
    spec = guarded_spec(demo_params)
    # Epoch 2 (the best dev loss) is made to fail its check.
    metrics = train_guarded(spec, records_splits, tmp_path, ScriptedVerdicts("records", spec, iter([True, False, True])))
    privacy = metrics["privacy"]
    assert [c["within_threshold"] for c in privacy["checks"]] == [True, False, True]
    losses = {c["epoch"]: c["dev_loss"] for c in privacy["checks"]}
    assert privacy["chosen_epoch"] == min((1, 3), key=losses.get)
    assert metrics["best_epoch"] == privacy["chosen_epoch"]
    assert "within the bootstrap 95% thresholds" in privacy["why"]
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert saved["privacy"]["chosen_epoch"] == privacy["chosen_epoch"]
    for name in ("closer_to_train_share", "dcr_p5_ratio", "exact_copy_rate"):
        assert (tmp_path / "live" / "plots" / "metrics" / "privacy" / f"{name}.tsv").is_file()
    logged = (tmp_path / "live" / "plots" / "metrics" / "privacy" / "within_threshold.tsv").read_text().splitlines()[1:]
    assert [int(line.split("\t")[0]) for line in logged] == [c["epoch"] for c in privacy["checks"]]  # each check at its epoch


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_a_budgets_partial_last_epoch_is_checked_and_may_be_chosen(demo_params, records_splits, tmp_path: Path) -> None:
    # 2.5 epochs bought, checks every 2: epoch 2 is checked, and so is the partial third (the last).
    base = guarded_spec(demo_params, privacy_check_every=2)
    per_epoch = 20
    train = {**TINY["train"], "budget": {"steps": int(per_epoch * 2.5)}, "min_steps_per_epoch": per_epoch, "max_epochs": 10, "patience": 10}
    spec = GeneratorSpec.model_validate({**base.model_dump(), "train": train})
    metrics = train_guarded(spec, records_splits, tmp_path, ScriptedVerdicts("records", spec, iter([False, True])))
    assert metrics["plan"]["epochs"] != int(metrics["plan"]["epochs"])
    checks = metrics["privacy"]["checks"]
    assert [c["epoch"] for c in checks] == [2, 3] and [c["within_threshold"] for c in checks] == [False, True]
    assert metrics["privacy"]["chosen_epoch"] == 3 and metrics["best_epoch"] == 3
    assert metrics["epochs_run"] == pytest.approx(metrics["plan"]["epochs"])


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_no_qualifying_checkpoint_fails_and_saves_nothing(demo_params, records_splits, tmp_path: Path) -> None:
    spec = guarded_spec(demo_params, privacy_patience=2)
    with pytest.raises(AssayError, match="no checkpoint passed the privacy check"):
        train_guarded(spec, records_splits, tmp_path, ScriptedVerdicts("records", spec, itertools.repeat(False)))
    assert not (tmp_path / "m").exists()
    checks = (tmp_path / "live" / "plots" / "metrics" / "privacy" / "within_threshold.tsv").read_text().splitlines()
    assert len(checks) - 1 == 2  # stopped after privacy_patience failures, before max_epochs (3)


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_checks_off_keeps_plain_early_stopping(demo_params, records_splits, tmp_path: Path) -> None:
    metrics = train_guarded(guarded_spec(demo_params, enabled=False), records_splits, tmp_path)
    assert metrics["privacy"] == {"enabled": False}
