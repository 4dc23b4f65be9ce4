"""The one interface every generator has: ``fit``, ``sample(n, where=...)``, ``save`` and ``load``.

As in synthcity's plugins, a variant says only what is its own: how rows become training
sequences and a model (:meth:`Generator.prepare`), how the model draws rows back
(:meth:`Generator.draw`), and its privacy check during training (:meth:`Generator.privacy_check`).
The rest is here, once: the Hugging Face Trainer loop (:meth:`Generator.fit`), the rejection loop
of conditional sampling (:meth:`Generator.sample`), and the files of a trained generator
(``generator/``: model, tokenizer and ``generator.json``, read into a typed config from
:mod:`assay.generator.configs`).
The variants are in :mod:`assay.generator.variants`.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from pydantic import ValidationError

from assay.config import GeneratorSpec
from assay.errors import AssayError
from assay.generator.budget import TrainingPlan, clock_callback, clocked_trainer, plan_training, seconds_per_step
from assay.generator.configs import variant_tag
from assay.generator.distributed import from_main_process, is_main_process, process_count, rows_per_process
from assay.generator.model import GENERATOR_FILE, Device
from assay.generator.privacy_checks import PrivacyLog, privacy_callback
from assay.generator.trainer import (
    PRIVACY_CHECKS_FILE,
    Checkpoints,
    Prepared,
    TrainingData,
    best_checkpoint,
    epoch_curves_callback,
    epoch_log_callback,
    privacy_summary,
    quiet_tied_weight_warning,
    quiet_trainer,
    training_arguments,
)
from assay.io import write_json

log = logging.getLogger("assay.train")

MAX_OVERSAMPLE = 50  # conditional sampling gives up after drawing this many times the rows asked


# ---------------------------------------------------------------------------------------------
# the interface


@dataclass(frozen=True)
class Sampled:
    """Rows drawn from a generator: the rows kept, how many were drawn, and the share that parsed (None under ``where``)."""

    rows: pl.DataFrame
    drawn: int
    parsed_share: float | None


@dataclass(frozen=True)
class PrivacyCheck:
    """A check the training loop runs every few epochs on the model being trained, and its threshold in words."""

    run: Callable[[], dict[str, Any]]
    threshold: str


class Generator(ABC):
    """A domain's generator. Build one with :func:`assay.generator.variants.generator_for` (to fit)
    or :func:`assay.generator.variants.load_generator` (trained, from a model folder)."""

    kind: str  # "tabular" or "text"
    mode: str  # "scratch" or "fine-tune"

    def __init__(self, domain: str, spec: GeneratorSpec) -> None:
        self.domain = domain
        self.spec = spec
        self.model: Any = None
        self.tokenizer: Any = None
        self.config: Any = None  # this variant's config type, once prepared or loaded
        self.folder: Path | None = None  # where it was loaded from, for messages

    # -- what a variant provides

    @abstractmethod
    def prepare(self, data: TrainingData) -> Prepared:
        """Build the model, tokenizer and config from the train split; return the token datasets."""

    @abstractmethod
    def draw(self, n: int, batch_size: int, temperature: float, rng: np.random.Generator, progress: bool = True) -> tuple[pl.DataFrame, int]:
        """Draw ``n`` rows from the model; return those that parse into the schema, and how many were drawn."""

    def privacy_check(self, data: TrainingData, device: Device) -> PrivacyCheck | None:
        """The check run during training, or None where the variant has none."""
        log.warning("privacy checks during training are not available for a %s generator; they are off", variant_tag(self.kind, self.mode))
        return None

    # -- fit

    def fit(self, data: TrainingData, checkpoints: Checkpoints, *, device: Device, live: Any, callbacks: Sequence[Any] = ()) -> dict[str, Any]:
        """Train on ``data`` with the Hugging Face Trainer and keep its best checkpoint; return the metrics.

        ``live`` is the caller's ``dvclive.Live`` (curves, privacy checks and the summary go there);
        ``callbacks`` are extra Trainer callbacks, run after the pipeline's own.
        """
        import torch
        from transformers import EarlyStoppingCallback, set_seed

        spec = self.spec
        # 1. data and model
        set_seed(spec.train.seed)
        prepared = self.prepare(data)
        log.info(
            "train %s: %s generator (%s) on %s train / %s dev rows, %s parameters, on %s%s",
            self.domain,
            self.kind,
            self.mode,
            f"{data.train.height:,}",
            f"{data.dev.height:,}",
            f"{self.model.num_parameters():,}",
            device.name,
            " with bf16" if device.bf16 else "",
        )
        if checkpoints.last:
            log.info("train %s: resuming from %s", self.domain, checkpoints.last)

        # 2. trainer: privacy check first (it writes the metric that early stopping and the best-model
        # record read), then early stopping, the epoch curves and the caller's callbacks
        plan = from_main_process(self._plan(prepared, device) if is_main_process() else None)
        log.info("train %s: %s", self.domain, plan.why)
        if process_count() > 1:
            log.info("train %s: %d processes, %d rows of each batch per process", self.domain, process_count(), rows_per_process(plan.batch_size))
        guard = self._privacy_guard(data, device, live, checkpoints)
        args = training_arguments(spec, device, plan, checkpoints.folder, "eval_selection_loss" if guard else "eval_loss")
        # Unchecked epochs cannot be chosen, so patience counts in checks, not epochs.
        patience = spec.train.patience * (spec.privacy.privacy_check_every if guard else 1)
        clock = clock_callback(spec.train.budget.minutes, plan, f"train {self.domain}") if spec.train.budget and spec.train.budget.minutes else None
        # Name the loss the model computes anyway: without it transformers warns on every run.
        self.model.loss_type = getattr(self.model, "loss_type", None) or "ForCausalLM"
        trainer = clocked_trainer(
            clock,
            model=self.model,
            args=args,
            train_dataset=prepared.train,
            eval_dataset=prepared.dev,
            data_collator=prepared.collator,
            callbacks=[
                *([guard[0]] if guard else []),
                EarlyStoppingCallback(early_stopping_patience=patience),
                epoch_curves_callback(live),
                epoch_log_callback(self.domain),
                *callbacks,
            ],
        )
        quiet_trainer(trainer)

        # 3. train
        started = time.perf_counter()
        with quiet_tied_weight_warning(self.model):
            result = trainer.train(resume_from_checkpoint=str(checkpoints.last) if checkpoints.last else None)
        seconds = time.perf_counter() - started
        self.model = trainer.model  # the best checkpoint (load_best_model_at_end)
        best_epoch, best_loss, chosen = best_checkpoint(trainer.state, guard)
        privacy = privacy_summary(self.domain, spec, guard, chosen, live) if guard else {"enabled": False}

        # 4. metrics
        history = trainer.state.log_history
        dev_losses = [(entry["epoch"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
        tokens = sum(len(ids) for ids in prepared.train.sequences) * (history[-1].get("epoch") or 1)
        metrics = {
            "best_dev_loss": best_loss,
            "best_epoch": best_epoch,
            "epochs_run": dev_losses[-1][0],
            "stopped_early": trainer.state.global_step < trainer.state.max_steps,
            "stopped_by_deadline": bool(clock and clock.ended_run(trainer.state)),
            "plan": plan.as_dict(),
            "replans": clock.replans if clock else [],
            "steps_run": trainer.state.global_step,
            "train_loss": result.training_loss,
            "dev_loss_per_epoch": [loss for _, loss in dev_losses],
            "train_seconds": round(seconds, 2),
            "train_tokens_per_second": round(tokens / seconds, 1) if seconds else None,
            "parameters": self.model.num_parameters(),
            "device": device.kind,
            "device_name": device.name,
            "bf16": device.bf16,
            "threads": device.threads,
            "seed": spec.train.seed,
            "torch": torch.__version__,
            "train_rows": data.train.height,
            "dev_rows": data.dev.height,
            "resumed_from": str(checkpoints.last) if checkpoints.last else None,
            "privacy": privacy,
        }
        if guard:
            privacy["check_share_of_training_time"] = round(guard[1].seconds / seconds, 4) if seconds else None
        log.info(
            "train %s: best dev loss %.4f at epoch %s of %s (%s s, %s tokens/s)",
            self.domain,
            best_loss,
            best_epoch,
            metrics["epochs_run"],
            metrics["train_seconds"],
            metrics["train_tokens_per_second"],
        )
        return metrics

    def _plan(self, prepared: Prepared, device: Device) -> TrainingPlan:
        """Batch size and epochs from ``train`` (assay/generator/budget.py); a minutes budget times a few steps first."""
        timer = None
        if self.spec.train.budget is not None and self.spec.train.budget.minutes is not None:
            timer = seconds_per_step(self.model, prepared.train, prepared.collator, device.bf16, device.kind)
        return plan_training(len(prepared.train), prepared.seq_len, self.spec.train, timer)

    def _privacy_guard(self, data: TrainingData, device: Device, live: Any, checkpoints: Checkpoints) -> tuple[Any, PrivacyLog] | None:
        """The privacy-check callback and its log, or None when checks are off or the variant has none.

        The log is kept beside the checkpoints, so a run resumed from the checkpoint of epoch
        ``checkpoints.resumed_epoch`` still knows the checks made before it was interrupted.
        """
        guard_spec = self.spec.privacy
        if not guard_spec.enabled:
            return None
        started = time.perf_counter()
        check = self.privacy_check(data, device)
        if check is None:
            return None
        record = PrivacyLog.resume(checkpoints.folder / PRIVACY_CHECKS_FILE, checkpoints.resumed_epoch)
        if not is_main_process():
            record.path = None  # the main process keeps the log; the others hold its checks in memory
        record.seconds = time.perf_counter() - started
        log.info("privacy checks every %d epoch(s) on %d sampled rows; threshold: %s", guard_spec.privacy_check_every, guard_spec.sample_rows, check.threshold)
        return privacy_callback(check.run, guard_spec, live, record), record

    # -- sample

    def sample(
        self,
        n: int,
        where: dict[str, Any] | None = None,
        *,
        rng: np.random.Generator,
        batch_size: int | None = None,
        temperature: float | None = None,
    ) -> Sampled:
        """``n`` rows; with ``where`` (``{"readmitted": "<30"}``) only rows that match.

        Conditional sampling draws and keeps the rows that match, which samples the model's
        conditional distribution exactly; it stops with a clear message when the condition is too
        rare for the model to meet (``MAX_OVERSAMPLE`` times the rows asked).
        """
        fixed = where or {}
        unknown = [name for name in fixed if name not in self.config.features]
        if unknown:
            raise AssayError(f"--where can only fix modelled columns (generator.features); {unknown} are not")
        batch_size = batch_size or self.spec.sample.batch_size
        temperature = self.spec.sample.temperature if temperature is None else temperature
        kept: list[pl.DataFrame] = []
        have, drawn = 0, 0
        while have < n:
            ask = n - have if not fixed else max(batch_size, 2 * (n - have))
            batch, count = self.draw(ask, batch_size, temperature, rng)
            parsed_in_batch = batch.height
            for name, value in fixed.items():
                batch = batch.filter(pl.col(name) == value)
            drawn += count
            kept.append(batch)
            have += batch.height
            if not fixed and parsed_in_batch == 0:
                raise AssayError(f"synthesize {self.domain}: no sampled row parsed into the schema; is {self.folder or 'the model'} trained on this domain?")
            if drawn >= MAX_OVERSAMPLE * n and have < n:
                condition = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
                raise AssayError(f"synthesize {self.domain}: only {have} of {drawn:,} sampled rows have {condition}; the model rarely produces it")
        parsed_share = sum(frame.height for frame in kept) / drawn if not fixed else None
        return Sampled(pl.concat(kept).head(n), drawn, parsed_share)

    # -- save and load

    def save(self, folder: Path) -> None:
        """Model, tokenizer and ``generator.json`` into ``folder`` (the caller makes it atomic)."""
        self.model.save_pretrained(str(folder))
        self.tokenizer.save_pretrained(str(folder))
        write_json(self.config.model_dump(mode="json", by_alias=True), folder / GENERATOR_FILE)

    @classmethod
    def load(cls, folder: Path, config: Any) -> Generator:
        """A trained generator of this variant from ``folder``, whose ``generator.json`` is ``config``."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # "Loading weights" is a bar a steward cannot act on
        try:
            spec = GeneratorSpec.model_validate(config.params)
        except ValidationError as exc:
            raise AssayError(f"{folder / GENERATOR_FILE}: params: {exc.errors()[0]['msg']} (trained by another version of assay?)") from None
        generator = cls(config.domain, spec)
        generator.config = config
        generator.folder = folder
        generator.model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
        generator.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        generator.loaded()
        return generator

    def loaded(self) -> None:  # noqa: B027 - an optional hook: most variants keep nothing beside the model
        """Hook after :meth:`load`: rebuild what the variant keeps beside the model (a codec)."""
