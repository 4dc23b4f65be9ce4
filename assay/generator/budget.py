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
  cut (down to :data:`MIN_BATCH`) to buy about that many. It depends on the machine: the steps it bought are in
  ``metrics.json`` (``plan``), and ``budget: {steps: N}`` with them repeats the run anywhere.
- **fixed epochs** (``budget: null``): ``train.tokens_per_batch`` tokens per batch for
  ``train.max_epochs`` epochs, the hand-tuned settings the demo profile's gate margins were
  measured with.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from assay.config import TrainSpec
from assay.generator.distributed import from_main_process

MIN_BATCH = 16  # rows; below this a step's gradient is mostly noise and the CPU idles between steps
CALIBRATION_STEPS = 6  # optimiser steps timed for a minutes budget (the first is dropped: warm-up)
EVALUATION_SHARE = 0.25  # of a minutes budget, kept for dev loss, privacy checks and checkpoints
MIN_PARTIAL_EPOCH = 0.1  # a last partial epoch shorter than this share of an epoch is not worth its evaluation


@dataclass(frozen=True)
class TrainingPlan:
    """What the Trainer is told: rows per batch, steps, and why (for the log and ``metrics.json``).

    ``epochs`` is ``planned_steps / steps_per_epoch``: with a budget, the last epoch may be partial.
    """

    batch_size: int
    epochs: float
    steps_per_epoch: int
    planned_steps: int
    budget: dict[str, Any] | None
    seconds_per_step: float | None
    why: str

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
        return TrainingPlan(largest, train.max_epochs, steps, steps * train.max_epochs, None, None, why)

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
    return TrainingPlan(batch, steps / per_epoch, per_epoch, steps, budget, seconds, why)


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


def deadline_callback(minutes: float):
    """Stop at the end of the epoch after which the next (whole, or the plan's partial last one)
    would overrun a minutes budget.

    The plan's epochs come from a timing taken before training; dev loss, privacy checks and a
    busy machine can make epochs longer than that timing says, and the budget is a promise.
    The epoch it stops at is still evaluated and saved, so the best checkpoint is kept.
    """
    from transformers import TrainerCallback

    class Deadline(TrainerCallback):
        def __init__(self) -> None:
            self.started = time.perf_counter()
            self.epoch_started = self.started
            self.epoch_first_step = 0
            self.stopped_at: float | None = None

        def on_epoch_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.epoch_started = time.perf_counter()
            self.epoch_first_step = state.global_step

        def on_epoch_end(self, args, state, control, **kwargs):  # noqa: ANN001
            now = time.perf_counter()
            steps_run = max(1, state.global_step - self.epoch_first_step)
            next_epoch = (now - self.epoch_started) * min(1.0, (state.max_steps - state.global_step) / steps_run)
            # Data-parallel processes keep their own clocks; the main process's decides for all.
            if from_main_process(now + next_epoch - self.started > minutes * 60):
                self.stopped_at = state.epoch
                control.should_training_stop = True

    return Deadline()
