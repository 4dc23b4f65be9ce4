"""Privacy checks during training: thresholds from real dev rows, checkpoint choice, stopping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assay.config import GeneratorSpec, PrivacyGuardSpec
from assay.errors import AssayError
from assay.generator.codec import TabularCodec
from assay.generator.model import pick_device
from assay.generator.privacy_checks import IDEAL_CLOSER_SHARE, bootstrap_threshold, copy_threshold, tabular_reference
from assay.generator.training import train_on_splits
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


def test_fresh_dev_rows_sit_half_way_between_train_and_dev(demo_params, records_splits) -> None:
    import polars as pl

    train_path, dev_path, clean = records_splits
    spec = demo_params.domain("records").generator
    train, dev = pl.read_parquet(train_path), clean.slice(800, 1200)
    codec = TabularCodec.fit(train, spec.features, numeric_bins=spec.numeric_bins, rare_count=spec.rare_count)
    reference = tabular_reference(codec, train, dev, PrivacyGuardSpec(**GUARD))
    assert 0.4 < reference.fresh_closer_share < 0.6
    assert reference.threshold_closer_share > reference.fresh_closer_share
    assert reference.train.shape[1] == len(spec.features)


def train_guarded(demo_params, splits, tmp_path: Path, **privacy) -> dict:
    train_path, dev_path, _ = splits
    base = demo_params.domain("records").generator.model_dump()
    spec = GeneratorSpec.model_validate({**base, **TINY, "train": {**TINY["train"], "max_epochs": 3}, "privacy": {**GUARD, **privacy}})
    return train_on_splits("records", spec, train_path, dev_path, tmp_path / "m", tmp_path / "live", tmp_path / "ckpt", device=pick_device())


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_chosen_checkpoint_is_the_best_dev_loss_among_those_within_the_threshold(demo_params, records_splits, tmp_path: Path, monkeypatch) -> None:
    import assay.generator.training as training  # the check as the training loop calls it

    real_check = training.check_tabular
    verdicts = iter([True, False, True])  # epoch 2 (the best dev loss) is made to fail its check

    def scripted(*args, **kwargs):
        return {**real_check(*args, **kwargs), "within_threshold": next(verdicts)}

    monkeypatch.setattr(training, "check_tabular", scripted)
    metrics = train_guarded(demo_params, records_splits, tmp_path)
    privacy = metrics["privacy"]
    assert [c["within_threshold"] for c in privacy["checks"]] == [True, False, True]
    losses = {c["epoch"]: c["dev_loss"] for c in privacy["checks"]}
    assert privacy["chosen_epoch"] == min((1, 3), key=losses.get)
    assert metrics["best_epoch"] == privacy["chosen_epoch"]
    assert "within the bootstrap 95% threshold" in privacy["why"]
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert saved["privacy"]["chosen_epoch"] == privacy["chosen_epoch"]
    for name in ("closer_to_train_share", "dcr_p5_ratio", "exact_copy_rate"):
        assert (tmp_path / "live" / "plots" / "metrics" / "privacy" / f"{name}.tsv").is_file()


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_no_qualifying_checkpoint_fails_and_saves_nothing(demo_params, records_splits, tmp_path: Path, monkeypatch) -> None:
    import assay.generator.training as training  # the check as the training loop calls it

    real_check = training.check_tabular
    monkeypatch.setattr(training, "check_tabular", lambda *a, **k: {**real_check(*a, **k), "within_threshold": False})
    with pytest.raises(AssayError, match="no checkpoint passed the privacy check"):
        train_guarded(demo_params, records_splits, tmp_path, privacy_patience=2)
    assert not (tmp_path / "m").exists()
    checks = (tmp_path / "live" / "plots" / "metrics" / "privacy" / "within_threshold.tsv").read_text().splitlines()
    assert len(checks) - 1 == 2  # stopped after privacy_patience failures, before max_epochs (3)


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_checks_off_keeps_plain_early_stopping(demo_params, records_splits, tmp_path: Path) -> None:
    metrics = train_guarded(demo_params, records_splits, tmp_path, enabled=False)
    assert metrics["privacy"] == {"enabled": False}
