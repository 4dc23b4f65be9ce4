"""The Hugging Face Trainer loop's parts, shared by every generator: data, arguments, callbacks, checkpoints.

:meth:`assay.generator.base.Generator.fit` puts them together; nothing here knows which kind of
generator it trains.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from assay.config import GeneratorSpec
from assay.data.split import row_groups
from assay.errors import AssayError
from assay.generator.budget import TrainingPlan, epoch_number
from assay.generator.distributed import DiscardedLive, is_main_process, rows_per_process
from assay.generator.model import Device
from assay.generator.privacy_checks import NOT_CHOSEN, PrivacyLog
from assay.progress import bar as progress_bar

log = logging.getLogger("assay.train")

PRIVACY_CHECKS_FILE = "privacy_checks.json"  # beside the checkpoints, for resuming


class TokenDataset:
    """Token id sequences for the Trainer.

    Fixed-length tabular rows carry ``labels`` equal to ``input_ids`` (the model shifts them);
    variable-length text leaves labels to the padding collator, which masks the padding.
    """

    def __init__(self, sequences: list[list[int]], with_labels: bool) -> None:
        self.sequences = sequences
        self.with_labels = with_labels

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> dict[str, Any]:
        ids = self.sequences[index]
        return {"input_ids": ids, "labels": ids} if self.with_labels else {"input_ids": ids}


@dataclass
class Prepared:
    """What the Trainer is given: token datasets, the collator (None: sequences of equal length), the longest sequence."""

    train: TokenDataset
    dev: TokenDataset
    collator: Any
    seq_len: int

    @classmethod
    def padded_lm(cls, tokenizer: Any, train_ids: list[list[int]], dev_ids: list[list[int]]) -> Prepared:
        """Variable-length sequences for a causal LM: the padding collator makes labels and masks them."""
        from transformers import DataCollatorForLanguageModeling

        collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
        return cls(TokenDataset(train_ids, False), TokenDataset(dev_ids, False), collator, max(len(ids) for ids in train_ids))


def epoch_curves_callback(live: Any):
    """Log train and dev loss once per epoch, with the epoch as the step, for ``dvc plots show``."""
    from transformers import TrainerCallback

    class EpochCurves(TrainerCallback):
        def __init__(self) -> None:
            self.train_loss: float | None = None

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                self.train_loss = float(logs["loss"])

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
            live.step = epoch_number(state.epoch)
            if self.train_loss is not None:
                live.log_metric("train/loss", self.train_loss)
            if metrics and "eval_loss" in metrics:
                live.log_metric("dev/loss", float(metrics["eval_loss"]))

    return EpochCurves()


def epoch_log_callback(domain: str):
    """In place of the Trainer's tqdm bars and printed loss dicts: one log line per epoch (train and
    dev loss) and, on a terminal, a bar over the optimiser steps (:mod:`assay.progress`)."""
    from transformers import TrainerCallback

    class EpochLog(TrainerCallback):
        def __init__(self) -> None:
            self.train_loss: float | None = None
            self.bar = ExitStack()
            self.advance: Any = None

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001
            self.advance = self.bar.enter_context(progress_bar(f"train {domain}", total=state.max_steps))
            self.advance(state.global_step)  # a resumed run starts where it stopped

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.advance(1, state.max_steps)  # a minutes budget's clock moves the end

        def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: ANN001
            if logs and "loss" in logs:
                self.train_loss = float(logs["loss"])

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):  # noqa: ANN001
            dev = (metrics or {}).get("eval_loss")
            log.info(
                "train %s: epoch %d of %d: train loss %s, dev loss %s",
                domain,
                epoch_number(state.epoch),
                epoch_number(state.epoch * state.max_steps / max(1, state.global_step)),  # a minutes budget's clock moves the end
                "—" if self.train_loss is None else f"{self.train_loss:.4f}",
                "—" if dev is None else f"{dev:.4f}",
            )

        def on_train_end(self, args, state, control, **kwargs):  # noqa: ANN001
            self.bar.close()

    return EpochLog()


def quiet_trainer(trainer: Any) -> Any:
    """``trainer`` without its own reporting, which :func:`epoch_log_callback` replaces: the callback that
    prints every log dict to stdout (the Trainer adds it when tqdm is off) and transformers' tqdm bars
    (writing and loading checkpoint shards)."""
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as transformers_logging

    trainer.remove_callback(PrinterCallback)
    transformers_logging.disable_progress_bar()
    return trainer


class _TiedWeightsMissing(logging.Filter):
    """Drops the Trainer's "missing keys ... ['lm_head.weight']" on loading the best checkpoint:
    the output layer shares the input embeddings' weights (tie_word_embeddings), so the
    checkpoint rightly leaves it out and nothing is missing. Any other missing key still shows."""

    def __init__(self, tied: set[str]) -> None:
        super().__init__()
        self.message = f"There were missing keys in the checkpoint model loaded: {sorted(tied)}."

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != self.message


@contextmanager
def quiet_tied_weight_warning(model: Any) -> Iterator[None]:
    tied = {"lm_head.weight"} if getattr(model.config, "tie_word_embeddings", False) and model.get_output_embeddings() is not None else set()
    if tied and model.get_output_embeddings().weight is not model.get_input_embeddings().weight:
        tied = set()  # not actually tied: a missing lm_head would be real
    trainer_log = logging.getLogger("transformers.trainer")
    quiet = _TiedWeightsMissing(tied)
    if tied:
        trainer_log.addFilter(quiet)
    try:
        yield
    finally:
        trainer_log.removeFilter(quiet)


def training_arguments(spec: GeneratorSpec, device: Device, plan: TrainingPlan, output_dir: Path, selection_metric: str = "eval_loss"):
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=rows_per_process(plan.batch_size),
        per_device_eval_batch_size=rows_per_process(plan.batch_size) * 2,
        gradient_accumulation_steps=spec.train.grad_accum,
        num_train_epochs=math.ceil(plan.epochs),
        # A budget buys steps, and its last epoch may be partial (assay/generator/budget.py; a minutes
        # budget's clock moves the end up to most_steps); fixed epochs leave the count of steps to the
        # Trainer, which knows each process's share of the rows.
        max_steps=plan.most_steps if plan.budget is not None else -1,
        learning_rate=spec.train.learning_rate,
        weight_decay=spec.train.weight_decay,
        lr_scheduler_type="cosine",
        warmup_steps=spec.train.warmup_ratio,  # a fraction below 1 is a share of all steps
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        load_best_model_at_end=True,
        metric_for_best_model=selection_metric,
        greater_is_better=False,
        save_total_limit=2,
        bf16=device.bf16,
        use_cpu=device.kind == "cpu",
        optim="adamw_torch_fused" if device.kind == "cuda" else "adamw_torch",
        seed=spec.train.seed,
        data_seed=spec.train.seed,
        dataloader_num_workers=0,
        report_to=[],
        disable_tqdm=True,  # epoch_log_callback reports progress instead
        save_only_model=False,
    )


def _group_keys(path: Path, group_by: list[str]) -> pl.Series | None:
    """The split's group of each row (group_by, else its fallback), for privacy checks that split dev by group."""

    available = [name for name in group_by if name in pl.read_parquet_schema(path)]
    return row_groups(pl.read_parquet(path, columns=available), available) if available else None


def _read_split(path: Path, spec: GeneratorSpec) -> pl.DataFrame:
    if not path.is_file():
        raise AssayError(f"split not found: {path}; run `assay split` first")
    frame = pl.read_parquet(path)
    needed = [*spec.features, *([spec.text_column] if spec.text_column else [])]
    missing = [name for name in needed if name not in frame.columns]
    if missing:
        raise AssayError(f"{path}: generator.features name column(s) {missing} that the data does not have")
    if frame.height == 0:
        raise AssayError(f"{path}: the split is empty")
    # Only the modelled columns reach the model: identifiers and provenance never do.
    return frame.select(needed)


def open_live(live_dir: Path, resume: bool = False) -> Any:
    """A DVCLive run writing curves and a summary to ``live_dir`` (no dvc.yaml of its own, no
    experiment, no HTML report: ``dvc.yaml`` declares the outputs and the stewards' page draws them).
    The other processes of a data-parallel run get one that keeps nothing."""
    from dvclive import Live

    if not is_main_process():
        return DiscardedLive()
    return Live(dir=str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None, resume=resume)


@dataclass(frozen=True)
class Checkpoints:
    """Where a run keeps its checkpoints: one folder per run fingerprint, so that only a run of the
    same data, params and code resumes; ``last`` is the checkpoint to resume from, if any."""

    folder: Path
    last: Path | None

    @classmethod
    def open(cls, checkpoints_dir: Path, fingerprint: str) -> Checkpoints:
        """The fingerprint's folder under ``checkpoints_dir``; other fingerprints' folders are removed."""
        from transformers.trainer_utils import get_last_checkpoint

        folder = checkpoints_dir / fingerprint
        for stale in checkpoints_dir.glob("*") if checkpoints_dir.is_dir() else []:
            if stale.name != fingerprint:
                shutil.rmtree(stale, ignore_errors=True)  # checkpoints of other data or params never resume
        last = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        return cls(folder, Path(last) if last else None)

    @property
    def resumed_epoch(self) -> float | None:
        return json.loads((self.last / "trainer_state.json").read_text()).get("epoch") if self.last else None


@dataclass(frozen=True)
class TrainingData:
    """The two splits a generator sees, with each row's group key (patient, customer) where there is one."""

    train: pl.DataFrame
    dev: pl.DataFrame
    train_groups: pl.Series | None
    dev_groups: pl.Series | None

    @classmethod
    def read(cls, train_path: Path, dev_path: Path, spec: GeneratorSpec, group_by: list[str] | None = None) -> TrainingData:
        return cls(_read_split(train_path, spec), _read_split(dev_path, spec), _group_keys(train_path, group_by or []), _group_keys(dev_path, group_by or []))


def best_checkpoint(state: Any, guard: tuple[Any, PrivacyLog] | None) -> tuple[float, float, dict[str, Any] | None]:
    """Epoch, dev loss and privacy check of the checkpoint the Trainer kept (its ``best_model_checkpoint``).

    With the privacy check on, the Trainer ranks checkpoints by ``eval_selection_loss``, which the
    check sets to the dev loss of a passing checkpoint and to ``NOT_CHOSEN`` otherwise.
    """
    step = int(Path(state.best_model_checkpoint).name.rsplit("-", 1)[1])
    evaluation = next(entry for entry in state.log_history if "eval_loss" in entry and entry.get("step") == step)
    if guard is None:
        return evaluation["epoch"], evaluation["eval_loss"], None
    chosen = next((check for check in guard[1].checks if check["epoch"] == epoch_number(evaluation["epoch"])), None)
    if chosen is None or not chosen["within_threshold"] or state.best_metric >= NOT_CHOSEN:
        return evaluation["epoch"], evaluation["eval_loss"], None  # no checkpoint may be kept: privacy_summary says so
    return chosen["epoch"], chosen["dev_loss"], chosen


def privacy_summary(domain_name: str, spec: GeneratorSpec, guard: tuple[Any, PrivacyLog], chosen: dict[str, Any] | None, live: Any) -> dict[str, Any]:
    """What the privacy checks decided, for metrics.json; an error when no checkpoint may be kept."""
    record = guard[1]
    if not record.checks:
        raise AssayError(
            f"train {domain_name}: no privacy check ran, so no checkpoint can be chosen; "
            f"generator.privacy.privacy_check_every ({spec.privacy.privacy_check_every}) must be at most the epochs trained "
            "(train.max_epochs, or what train.budget buys)",
            exit_code=1,
        )
    eligible = [check for check in record.checks if check["within_threshold"]]
    if chosen is None:
        raise AssayError(
            f"train {domain_name}: no checkpoint passed the privacy check ({len(record.checks)} checked); "
            "the generator sits closer to its training rows than fresh data does. Nothing was saved; see "
            f"{live.dir} for the checks, and consider fewer epochs, more dropout or a smaller model",
            exit_code=1,
        )
    return {
        "enabled": True,
        "chosen_epoch": chosen["epoch"],
        "why": (
            f"best dev loss among the {len(eligible)} of {len(record.checks)} checked checkpoints whose privacy statistics "
            f"were within the bootstrap {spec.privacy.quantile:.0%} thresholds of fresh dev rows"
        ),
        "chosen": chosen,
        "checks": record.checks,
        "check_seconds": round(record.seconds, 2),
    }
