"""How much a generator trains: the batch size and the number of epochs, from ``generator.train``.

Two ways, chosen by ``train.budget``:

- **a budget** (the default, ``budget: {steps: N}`` or ``budget: {minutes: M}``): the batch size
  comes from the table's size, so that every epoch has at least ``train.min_steps_per_epoch``
  optimiser steps (a 26,000-row table at 16,384 tokens per batch got 28 steps an epoch and learnt
  little), never above ``train.tokens_per_batch`` tokens nor under :data:`MIN_BATCH` rows. The
  Trainer runs exactly the steps the budget buys (``max_steps``), at most ``train.max_epochs``
  epochs: the last epoch may be partial, and is evaluated, checked and saved like the others (whole
  epochs only wasted up to half an epoch: 2.37 epochs bought on real records trained 2). Early
  stopping on dev loss still ends a run sooner. A minutes budget is turned into steps by timing a few optimiser steps
  first (:func:`seconds_per_step`); when that buys fewer than ``train.min_steps``, the batch is
  cut (down to :data:`MIN_BATCH`) to buy about that many. That first plan is a snapshot of the
  machine, so after every epoch the clock re-plans the steps left from the measured pace
  (:func:`clock_callback`), and the cosine decay follows the new end. It depends on the machine:
  the steps it ran are in ``metrics.json`` (``steps_run``, with the re-plans in ``replans``), and
  ``budget: {steps: N}`` with them repeats the run anywhere.
- **fixed epochs** (``budget: null``): ``train.tokens_per_batch`` tokens per batch for
  ``train.max_epochs`` epochs, the hand-tuned settings the demo profile's gate margins were
  measured with.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from assay.config import TrainSpec
from assay.generator.distributed import from_main_process

log = logging.getLogger("assay.train")

MIN_BATCH = 16  # rows; below this a step's gradient is mostly noise and the CPU idles between steps
CALIBRATION_STEPS = 6  # optimiser steps timed for a minutes budget (the first is dropped: warm-up)
EVALUATION_SHARE = 0.25  # of a minutes budget, kept for dev loss, privacy checks and checkpoints
MIN_PARTIAL_EPOCH = 0.1  # a last partial epoch shorter than this share of an epoch is not worth its evaluation


@dataclass(frozen=True)
class TrainingPlan:
    """What the Trainer is told: rows per batch, steps, and why (for the log and ``metrics.json``).

    ``epochs`` is ``planned_steps / steps_per_epoch``: with a budget, the last epoch may be partial.
    A minutes budget's ``planned_steps`` is the first plan; :func:`clock_callback` re-plans it
    after every epoch, up to ``most_steps``.
    """

    batch_size: int
    epochs: float
    steps_per_epoch: int
    planned_steps: int
    budget: dict[str, Any] | None
    seconds_per_step: float | None
    why: str
    most_steps: int  # the Trainer's max_steps: planned_steps, or with a minutes budget max_epochs epochs (the clock moves the end)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_training(train_rows: int, seq_len: int, train: TrainSpec, step_seconds: Callable[[int], float] | None = None) -> TrainingPlan:
    """The plan for ``train_rows`` sequences of at most ``seq_len`` tokens.

    ``step_seconds(batch_size)`` times one optimiser step; only a minutes budget calls it.
    """
    largest = max(1, train.tokens_per_batch // max(seq_len, 1))
    if train.budget is None:
        steps = math.ceil(train_rows / (largest * train.grad_accum))
        why = f"fixed: {train.max_epochs} epochs of {largest} rows ({train.tokens_per_batch:,} tokens) per batch"
        return TrainingPlan(largest, train.max_epochs, steps, steps * train.max_epochs, None, None, why, steps * train.max_epochs)

    batch = max(1, min(largest, max(MIN_BATCH, train_rows // (train.min_steps_per_epoch * train.grad_accum))))
    per_epoch = math.ceil(train_rows / (batch * train.grad_accum))
    budget = train.budget.model_dump(exclude_none=True)
    seconds = None
    if train.budget.steps is not None:
        affordable = train.budget.steps
        bought = f"{affordable:,} steps"
    else:
        if step_seconds is None:
            raise ValueError("a minutes budget needs step_seconds to time a step")
        training_seconds = train.budget.minutes * 60 * (1 - EVALUATION_SHARE)
        seconds = step_seconds(batch)
        affordable = max(1, int(training_seconds / seconds))
        if affordable < train.min_steps and batch > MIN_BATCH:
            # Few, large steps learn less than many small ones for the same rows seen (on real
            # records: 231 steps of 300 rows in 5 minutes). A step's time falls about in proportion
            # to its rows, so cut the batch to buy about min_steps, and time it again.
            batch = max(MIN_BATCH, batch * affordable // train.min_steps)
            per_epoch = math.ceil(train_rows / (batch * train.grad_accum))
            seconds = step_seconds(batch)
            affordable = max(1, int(training_seconds / seconds))
        bought = f"{train.budget.minutes:g} minutes, {affordable:,} steps at {seconds:.3f} s a step"
    steps = max(per_epoch, min(train.max_epochs * per_epoch, affordable))  # at least one whole epoch
    if steps % per_epoch < MIN_PARTIAL_EPOCH * per_epoch:
        steps -= steps % per_epoch
    capped = " (max_epochs: the budget is not all spent)" if affordable > train.max_epochs * per_epoch else ""
    partial = f", the last one {steps % per_epoch} steps" if steps % per_epoch else ""
    why = f"budget {bought}: {steps:,} steps, {steps / per_epoch:.2f} epochs of {per_epoch} steps{partial}, {batch} rows per batch{capped}"
    most = train.max_epochs * per_epoch if train.budget.minutes is not None else steps
    return TrainingPlan(batch, steps / per_epoch, per_epoch, steps, budget, seconds, why, most)


def epoch_number(epoch: float | None) -> int:
    """The number of the epoch the Trainer's ``state.epoch`` is in: 2.0 is the end of epoch 2, and
    2.37 the end of a partial third one (rounding would call both epoch 2)."""
    return math.ceil((epoch or 0) - 1e-9)


def seconds_per_step(model: Any, dataset: Any, collator: Any, bf16: bool, device: str, steps: int = CALIBRATION_STEPS) -> Callable[[int], float]:
    """A timer of one optimiser step (forward, backward, AdamW update) at a given batch size.

    It trains a copy of ``model`` on the first rows of ``dataset``, so the model being trained and
    the random streams the Trainer seeds are left as they were.
    """
    import torch

    def measure(batch_size: int) -> float:
        trial = copy.deepcopy(model).to(device).train()
        optimiser = torch.optim.AdamW(trial.parameters(), lr=1e-4)
        rows = [dataset[index % len(dataset)] for index in range(batch_size)]
        if collator is not None:
            batch = collator(rows)
        else:
            ids = torch.tensor([row["input_ids"] for row in rows])
            batch = {"input_ids": ids, "labels": ids}
        batch = {key: value.to(device) for key, value in batch.items()}
        timings = []
        with torch.random.fork_rng(devices=[]):
            for _ in range(steps):
                started = time.perf_counter()
                with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
                    loss = trial(**batch).loss
                loss.backward()
                optimiser.step()
                optimiser.zero_grad(set_to_none=True)
                if device == "cuda":
                    torch.cuda.synchronize()
                timings.append(time.perf_counter() - started)
        timings = sorted(timings[1:])  # the first step pays for allocation and kernel choice
        return timings[len(timings) // 2]

    return measure


def steps_that_fit(seconds_left: float, step_seconds: float, steps_per_epoch: int, evaluation_seconds: float, last_evaluation_seconds: float) -> int:
    """How many more optimiser steps fit in ``seconds_left``, from the start of an epoch.

    Every epoch begun (whole, or a partial last one) is evaluated: ``evaluation_seconds`` each,
    and ``last_evaluation_seconds`` for the last, which is always privacy-checked. A partial last
    epoch shorter than :data:`MIN_PARTIAL_EPOCH` of an epoch is not bought.
    """
    # The last evaluation is paid for up front; every epoch before it costs its steps and an evaluation.
    left = seconds_left - last_evaluation_seconds + evaluation_seconds
    epoch_seconds = steps_per_epoch * step_seconds + evaluation_seconds
    if left <= evaluation_seconds or step_seconds <= 0:
        return 0
    whole = math.floor(left / epoch_seconds + 1e-9)  # the tolerance: 9 s at 0.1 s a step is 90 steps, not 89
    rest = left - whole * epoch_seconds
    partial = math.floor((rest - evaluation_seconds) / step_seconds + 1e-9) if rest > evaluation_seconds else 0
    partial = min(partial, steps_per_epoch - 1)
    if partial < MIN_PARTIAL_EPOCH * steps_per_epoch:
        partial = 0
    return whole * steps_per_epoch + partial


class CosineToHorizon:
    """The Trainer's ``cosine`` schedule (linear warm-up, then a half cosine to zero), to a horizon
    the clock may move.

    The Trainer's own ``lr_lambda`` fixes its horizon when it is made. ``LambdaLR`` keeps the state
    of a callable object (this one's ``__dict__``) in its checkpoints, so a resumed run decays to
    the horizon it had.
    """

    def __init__(self, warmup_steps: int, horizon: int) -> None:
        self.warmup_steps = warmup_steps
        self.horizon = horizon

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / max(1, self.warmup_steps)
        progress = (step - self.warmup_steps) / max(1, self.horizon - self.warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))


def clock_callback(minutes: float, plan: TrainingPlan, label: str = "train", now: Callable[[], float] = time.perf_counter):
    """Keep a minutes budget by the clock: re-plan the steps left from the measured pace.

    The plan's steps come from a timing of a few steps before training, a snapshot of a shared
    machine: on 2 shared cores the same step timed 0.253 s in one process and 0.188 s minutes later
    in another, and the run trained 206 s of its 300. So the Trainer is given the most steps the
    run may take (``max_epochs`` epochs), and this callback moves the end:

    - at the start of every epoch after the first, the steps left are planned from the last
      epoch's time a step and the evaluations' measured time (dev loss, privacy check, checkpoint;
      the last one at the dearest seen). The new end is the Trainer's ``state.max_steps`` (its
      loop stops there; a partial last epoch is evaluated, privacy-checked and saved like the
      others) and the horizon of the cosine decay (:class:`CosineToHorizon`), so the learning rate
      reaches zero where training ends;
    - at the end of every epoch, training stops when no worthwhile step would fit after its
      evaluation (before the first one is timed, the plan's share for evaluation stands in).
    """
    from transformers import TrainerCallback

    class Clock(TrainerCallback):
        def __init__(self) -> None:
            self.seconds = minutes * 60
            self.steps_per_epoch = plan.steps_per_epoch
            self.schedule = CosineToHorizon(0, plan.planned_steps)  # warm-up set by the Trainer (clocked_trainer)
            self.first_guess = self.seconds * EVALUATION_SHARE / max(1, math.ceil(plan.epochs))
            self.evaluations: list[float] = []
            self.replans: list[dict[str, Any]] = []
            self.started = self.epoch_ended = 0.0
            self.epoch_started = 0.0
            self.epoch_first_step = 0
            self.step_seconds: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.started = now()
            if state.global_step and plan.seconds_per_step:
                # A resumed run: the steps already taken are charged at the plan's pace.
                self.started -= state.global_step * plan.seconds_per_step / (1 - EVALUATION_SHARE)
            state.max_steps = max(state.global_step + 1, min(state.max_steps, self.schedule.horizon))

        @property
        def evaluation(self) -> float:
            """Seconds an evaluation takes, as measured so far (before the first: the plan's share)."""
            return sum(self.evaluations) / len(self.evaluations) if self.evaluations else self.first_guess

        def _fit(self, seconds_left: float) -> int:
            last = max(self.evaluations, default=self.first_guess)
            return steps_that_fit(seconds_left, self.step_seconds or 0.0, self.steps_per_epoch, self.evaluation, last)

        def _record(self, state, horizon: int, what: str) -> None:  # noqa: ANN001
            epoch, evaluation = epoch_number(state.epoch), round(self.evaluation, 2)
            self.replans.append({"epoch": epoch, "seconds_per_step": round(self.step_seconds, 4), "evaluation_seconds": evaluation, "planned_steps": horizon})
            log.info("%s: at epoch %d's pace (%.3f s a step, %.1f s an evaluation), %s", label, epoch, self.step_seconds, evaluation, what)

        def on_epoch_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.epoch_started = now()
            self.epoch_first_step = state.global_step
            if not self.epoch_ended:
                return  # the first epoch runs on the plan's timing
            self.evaluations.append(self.epoch_started - self.epoch_ended)
            # at least a worthwhile partial epoch: the last epoch's end decided there was time for one
            more = max(self._fit(self.seconds - (self.epoch_started - self.started)), math.ceil(MIN_PARTIAL_EPOCH * self.steps_per_epoch))
            # Data-parallel processes keep their own clocks; the main process's decides for all.
            horizon = from_main_process(min(args.max_steps, state.global_step + more))
            if horizon != self.schedule.horizon:
                self._record(state, horizon, f"{horizon:,} steps fit the {minutes:g} minutes (was {self.schedule.horizon:,})")
            state.max_steps = self.schedule.horizon = horizon

        def on_epoch_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.epoch_ended = now()
            self.step_seconds = (self.epoch_ended - self.epoch_started) / max(1, state.global_step - self.epoch_first_step)
            if state.global_step >= state.max_steps:
                return  # the planned end
            # this epoch's own evaluation comes first
            if from_main_process(self._fit(self.seconds - (self.epoch_ended - self.started) - self.evaluation) == 0):
                self._record(state, state.global_step, f"no step fits the {minutes:g} minutes after this epoch's evaluation: it is the last")
                state.max_steps = self.schedule.horizon = state.global_step
                control.should_training_stop = True

        def ended_run(self, state) -> bool:  # noqa: ANN001
            """Whether the clock ended training (not max_epochs, early stopping or the privacy checks)."""
            return state.global_step >= state.max_steps and state.max_steps < plan.most_steps

    return Clock()


def clocked_trainer(clock: Any | None, **kwargs: Any) -> Any:
    """A Hugging Face Trainer; with a ``clock`` (:func:`clock_callback`), one whose cosine decay
    ends where the clock says (``create_scheduler`` is the Trainer's documented override)."""
    from torch.optim.lr_scheduler import LambdaLR
    from transformers import Trainer

    if clock is None:
        return Trainer(**kwargs)

    class ClockedTrainer(Trainer):
        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            if self.lr_scheduler is None:
                # Warm-up as the Trainer counts it, over the first plan's steps, not the steps cap.
                clock.schedule.warmup_steps = self.args.get_warmup_steps(clock.schedule.horizon)
                self.lr_scheduler = LambdaLR(optimizer or self.optimizer, clock.schedule)
                self._created_lr_scheduler = True  # as the Trainer's own: made again on the next train()
            return self.lr_scheduler

    # The clock first: the others (the progress bar) read the end it sets.
    return ClockedTrainer(callbacks=[clock, *kwargs.pop("callbacks", [])], **kwargs)
