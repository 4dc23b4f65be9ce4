"""A training budget sizes the batch and the epochs from the table (assay/generator/budget.py)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from assay.config import TrainSpec
from assay.generator.budget import (
    EVALUATION_SHARE,
    MIN_BATCH,
    MIN_PARTIAL_EPOCH,
    CosineToHorizon,
    clock_callback,
    epoch_number,
    plan_training,
    steps_that_fit,
)


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


# -- a minutes budget follows the clock (clock_callback)


@settings(max_examples=300, deadline=None)
@given(
    seconds_left=st.floats(0, 1_000),
    step_seconds=st.floats(0.01, 2),
    steps_per_epoch=st.integers(1, 500),
    evaluation=st.floats(0, 30),
    extra_for_the_last=st.floats(0, 30),
)
def test_steps_that_fit_never_overrun_and_leave_no_whole_epoch_unspent(seconds_left, step_seconds, steps_per_epoch, evaluation, extra_for_the_last) -> None:
    last = evaluation + extra_for_the_last
    more = steps_that_fit(seconds_left, step_seconds, steps_per_epoch, evaluation, last)

    def cost(steps: int) -> float:  # the steps, and an evaluation for every epoch begun, the last one dearer
        return steps * step_seconds + (math.ceil(steps / steps_per_epoch) - 1) * evaluation + last

    assert more >= 0
    if more:
        assert cost(more) <= seconds_left + 1e-6
        partial = more % steps_per_epoch
        assert partial == 0 or partial >= MIN_PARTIAL_EPOCH * steps_per_epoch
    # one more whole epoch would not have fitted
    assert cost((more // steps_per_epoch + 1) * steps_per_epoch) > seconds_left - 1e-6


def test_steps_that_fit_counts_the_evaluations() -> None:
    # 110 s left, 100 steps an epoch at 0.1 s, 2 s an evaluation and 5 s for the last: 890 steps
    # (8 whole epochs and 90 steps of a ninth) take 89 s, their 8 evaluations 16 s and the last 5 s.
    assert steps_that_fit(110, 0.1, 100, 2, 5) == 890
    assert steps_that_fit(100, 0.1, 100, 2, 5) == 800
    assert steps_that_fit(4, 0.1, 100, 2, 5) == 0  # not even the last evaluation's time
    assert steps_that_fit(5 + 0.5, 0.1, 100, 2, 5) == 0  # 5 steps: a sliver of an epoch, not worth its evaluation


def test_cosine_to_horizon_is_the_trainers_cosine_and_follows_a_moved_end() -> None:
    import torch
    from transformers import get_cosine_schedule_with_warmup

    def rates(make) -> list[float]:
        optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.5)
        schedule = make(optimiser)
        seen = []
        for _ in range(300):
            seen.append(optimiser.param_groups[0]["lr"])
            optimiser.step()
            schedule.step()
        return seen

    horizon = CosineToHorizon(15, 300)
    ours = rates(lambda optimiser: torch.optim.lr_scheduler.LambdaLR(optimiser, horizon))
    theirs = rates(lambda optimiser: get_cosine_schedule_with_warmup(optimiser, 15, 300))
    assert ours == pytest.approx(theirs, abs=1e-12)
    horizon.horizon = 200  # the clock moved the end: the decay reaches zero there
    assert horizon(200) == pytest.approx(0.0, abs=1e-12) and horizon(100) > 0.5


class _Args:
    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps


def _run_on_a_clock(minutes: float, paces: list[float], evaluation: float):
    """A minutes budget's plan and clock, driven through the Trainer's epoch events on a simulated
    clock: ``paces[i]`` seconds a step in epoch i (the last repeats), ``evaluation`` seconds after each."""
    from transformers import TrainerControl, TrainerState

    clock_time = [0.0]
    plan = plan_training(20_000, 20, spec(budget={"minutes": minutes}, max_epochs=50, min_steps=10), lambda batch: 0.1)
    clock = clock_callback(minutes, plan, now=lambda: clock_time[0])
    state, control, args = TrainerState(max_steps=plan.most_steps), TrainerControl(), _Args(plan.most_steps)
    clock.on_train_begin(args, state, control)
    assert state.max_steps == plan.planned_steps == int(minutes * 60 * (1 - EVALUATION_SHARE) / 0.1)
    for epoch in range(50):
        clock.on_epoch_begin(args, state, control)
        steps = min(plan.steps_per_epoch, state.max_steps - state.global_step)  # the Trainer stops at max_steps
        clock_time[0] += steps * paces[min(epoch, len(paces) - 1)]
        state.global_step += steps
        state.epoch = state.global_step / plan.steps_per_epoch
        clock.on_epoch_end(args, state, control)
        clock_time[0] += evaluation
        if control.should_training_stop or state.global_step >= state.max_steps:
            break
    return plan, clock, state, clock_time[0]


@pytest.mark.parametrize("pace", [0.06, 0.1, 0.14])  # the calibration said 0.1 s a step; the machine then ran faster or slower
def test_clock_spends_the_minutes_it_was_given_at_the_pace_the_machine_runs(pace) -> None:
    plan, clock, state, spent = _run_on_a_clock(2, [pace], evaluation=1.5)
    budget = 2 * 60
    assert spent <= budget  # the budget is a promise
    assert spent >= budget - (plan.steps_per_epoch * pace + 1.5)  # and no whole epoch of it is left unspent
    assert clock.schedule.horizon == state.global_step and clock.schedule(state.global_step) == pytest.approx(0, abs=1e-12)
    assert clock.ended_run(state) and clock.replans[-1]["planned_steps"] == state.global_step
    assert clock.replans[0]["seconds_per_step"] == pytest.approx(pace)
    # a slower machine ends sooner than the first plan, a faster one later
    assert (state.global_step < plan.planned_steps) == (pace > 0.1)


@pytest.mark.parametrize("slow", [0.5, 1.0])
def test_clock_cuts_the_plan_when_the_machine_slows_down(slow) -> None:
    # Planned at 0.1 s a step; from the third epoch another process takes the cores.
    plan, clock, state, spent = _run_on_a_clock(2, [0.1, 0.1, slow], evaluation=1.5)
    assert spent <= 2 * 60 + plan.steps_per_epoch * slow  # the epoch planned at the old pace may overrun, by at most itself
    assert clock.ended_run(state) and state.global_step < plan.planned_steps
    assert clock.replans[0]["seconds_per_step"] == pytest.approx(0.1)  # grown at the first pace (evaluations are cheap)
    assert clock.replans[-1]["seconds_per_step"] == pytest.approx(slow) and clock.replans[-1]["planned_steps"] == state.global_step
    if slow == 1.0:  # the third epoch alone ran past the budget: it is the last, evaluated and kept
        assert state.global_step == 3 * plan.steps_per_epoch and spent > 2 * 60
    else:  # a partial fourth epoch still fits, at the slow pace
        assert state.global_step > 3 * plan.steps_per_epoch and spent <= 2 * 60


def test_clock_stops_at_the_steps_cap() -> None:
    from transformers import TrainerControl, TrainerState

    clock_time = [0.0]
    plan = plan_training(2_000, 20, spec(budget={"minutes": 60}, max_epochs=3, min_steps=10), lambda batch: 0.1)
    assert plan.planned_steps == plan.most_steps == 3 * plan.steps_per_epoch  # an hour buys more than 3 epochs
    clock = clock_callback(60, plan, now=lambda: clock_time[0])
    state, control = TrainerState(max_steps=plan.most_steps), TrainerControl()
    clock.on_train_begin(_Args(plan.most_steps), state, control)
    clock.on_epoch_begin(_Args(plan.most_steps), state, control)
    state.global_step, state.epoch = plan.steps_per_epoch, 1.0
    clock_time[0] += 1
    clock.on_epoch_end(_Args(plan.most_steps), state, control)
    assert state.max_steps == plan.most_steps and not control.should_training_stop and not clock.replans
