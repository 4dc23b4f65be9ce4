"""Data-parallel training: several processes train one generator (``torchrun``, ``accelerate launch``).

The Hugging Face Trainer shares the batches and averages the gradients; this module holds what
Assay adds on top, through accelerate's own process state:

- one process, the main one, writes: the model, ``metrics.json``, the DVCLive curves, the
  privacy checks' log;
- decisions that must be the same everywhere come from the main process: the training plan (a
  minutes budget times steps, and two processes would time differently), each privacy check
  (sampling runs on the main process only), and a minutes budget's re-plans. A process that stopped while
  another trained on would wait for it forever.

A single process is the common case; there every call here is a plain pass-through.
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

T = TypeVar("T")


def _state() -> Any:
    import torch
    from accelerate import PartialState

    # As the Trainer will ask for it (use_cpu without CUDA): on CPU cores, processes started by
    # torchrun (or `accelerate launch --multi_gpu`) join one gloo process group.
    return PartialState(cpu=not torch.cuda.is_available())


def process_count() -> int:
    """How many processes train together (1 without a launcher)."""
    return _state().num_processes


def is_main_process() -> bool:
    return _state().is_main_process


def from_main_process(value: T) -> T:
    """The main process's ``value`` on every process (``value`` itself when there is one process)."""
    if process_count() == 1:
        return value
    from accelerate.utils import broadcast_object_list

    return broadcast_object_list([value], from_process=0)[0]


def rows_per_process(batch_size: int) -> int:
    """Each process's share of a batch, so the optimiser sees the plan's batch size however many train."""
    return max(1, math.ceil(batch_size / process_count()))


class DiscardedLive:
    """What the other processes of a data-parallel run log to: the main process keeps the record."""

    dir = None

    def __init__(self) -> None:
        self.step = 0
        self.summary: dict[str, Any] = {}

    def log_metric(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> DiscardedLive:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass
