"""A training budget sizes the batch and the epochs from the table (assay/generator/budget.py)."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from assay.config import TrainSpec
from assay.generator.budget import MIN_BATCH, MIN_PARTIAL_EPOCH, epoch_number, plan_training


def spec(**train) -> TrainSpec:
    return TrainSpec.model_validate(train)


def test_default_is_a_step_budget() -> None:
    assert spec().budget is not None and spec().budget.steps


def test_small_table_gets_enough_steps_per_epoch() -> None:
    # The case: 26,050 train rows of ~17 tokens at 16,384 tokens per batch gave 28 steps an epoch.
    fixed = plan_training(26_050, 17, spec(budget=None, tokens_per_batch=16_384, max_epochs=12))
    assert fixed.steps_per_epoch == 28 and fixed.epochs == 12
    planned = plan_training(26_050, 17, spec(budget={"steps": 1500}, tokens_per_batch=16_384, max_epochs=20))
    assert planned.steps_per_epoch >= 100
    assert planned.batch_size == 26_050 // 100
    assert planned.planned_steps == 1500  # the steps bought, the last epoch partial
    assert planned.epochs == pytest.approx(1500 / planned.steps_per_epoch) and planned.epochs != int(planned.epochs)
    assert "the last one 1500" not in planned.why and f"the last one {1500 % planned.steps_per_epoch} steps" in planned.why


def test_large_table_keeps_the_largest_batch_and_buys_fewer_epochs() -> None:
    planned = plan_training(1_000_000, 32, spec(budget={"steps": 3000}, tokens_per_batch=16_384, max_epochs=20))
    assert planned.batch_size == 16_384 // 32
    assert planned.steps_per_epoch == math.ceil(1_000_000 / 512)
    assert planned.planned_steps == 3000 and planned.epochs == pytest.approx(3000 / 1954)  # about 1.5 passes


def test_at_least_one_whole_epoch_and_no_sliver_of_one() -> None:
    one = plan_training(1_000_000, 32, spec(budget={"steps": 100}, tokens_per_batch=16_384))
    assert one.planned_steps == one.steps_per_epoch and one.epochs == 1
    # 2.05 epochs: a last epoch of 5% is not worth its evaluation and privacy check
    per_epoch = plan_training(20_000, 20, spec(budget={"steps": 1000})).steps_per_epoch
    sliver = int(per_epoch * (2 + MIN_PARTIAL_EPOCH / 2))
    assert plan_training(20_000, 20, spec(budget={"steps": sliver})).planned_steps == 2 * per_epoch


def test_epoch_number_counts_a_partial_epoch_as_the_next() -> None:
    assert [epoch_number(value) for value in (None, 0.5, 1.0, 2.0, 2.37, 3.0)] == [0, 1, 1, 2, 3, 3]


def test_tiny_table_stops_at_min_batch_and_max_epochs() -> None:
    planned = plan_training(500, 20, spec(budget={"steps": 5000}, max_epochs=15))
    assert planned.batch_size == MIN_BATCH
    assert planned.epochs == 15 and planned.planned_steps == 15 * planned.steps_per_epoch
    assert "not all spent" in planned.why


def test_budget_never_exceeds_the_token_cap() -> None:
    planned = plan_training(10_000, 200, spec(budget={"steps": 500}, tokens_per_batch=2048))
    assert planned.batch_size == 10  # 2,048 tokens / 200 per row, under MIN_BATCH: the cap wins
    assert planned.batch_size * 200 <= 2048


def test_grad_accumulation_counts_in_steps() -> None:
    planned = plan_training(40_000, 20, spec(budget={"steps": 1000}, grad_accum=4))
    assert planned.steps_per_epoch >= 100
    assert planned.steps_per_epoch == math.ceil(40_000 / (planned.batch_size * 4))


def test_minutes_budget_buys_steps_from_the_timing() -> None:
    seen = []

    def step_seconds(batch: int) -> float:
        seen.append(batch)
        return 0.1

    planned = plan_training(20_000, 20, spec(budget={"minutes": 2}, max_epochs=50, min_steps=500), step_seconds)
    assert seen == [planned.batch_size]
    affordable = int(2 * 60 * 0.75 / 0.1)
    assert planned.planned_steps == affordable
    assert planned.seconds_per_step == 0.1
    with pytest.raises(ValueError, match="step_seconds"):
        plan_training(20_000, 20, spec(budget={"minutes": 2}))


def test_short_minutes_budget_cuts_the_batch_to_buy_more_steps() -> None:
    # Step time in proportion to the rows (plus a fixed cost): 300 rows take 0.97 s, as real records did.
    def step_seconds(batch: int) -> float:
        return 0.01 + 0.97 * batch / 300

    seen = []
    timed = lambda batch: seen.append(batch) or step_seconds(batch)  # noqa: E731
    table_sized = plan_training(30_000, 50, spec(budget={"minutes": 5}, min_steps=1), timed)
    assert table_sized.batch_size == 300 and table_sized.epochs * table_sized.steps_per_epoch < 300
    seen.clear()
    planned = plan_training(30_000, 50, spec(budget={"minutes": 5}), timed)
    assert seen == [300, planned.batch_size] and MIN_BATCH <= planned.batch_size < 300
    assert planned.planned_steps >= 3 * table_sized.planned_steps
    assert planned.planned_steps * planned.seconds_per_step <= 5 * 60  # still within the budget


def test_minutes_budget_never_cuts_below_min_batch() -> None:
    planned = plan_training(30_000, 60, spec(budget={"minutes": 0.1}), lambda batch: 1.0)
    assert planned.batch_size == MIN_BATCH


@pytest.mark.parametrize("budget", [{}, {"steps": 10, "minutes": 1.0}, {"steps": 0}, {"minutes": -1}])
def test_budget_must_say_one_positive_amount(budget) -> None:
    with pytest.raises(ValidationError):
        spec(budget=budget)
