"""Stage ``train``: one generator per domain, trained on the train split, watched on dev.

The shape follows Hugging Face's ``run_clm.py``: config -> data -> model -> train -> save.

- Tabular domains: rows become token sequences through :class:`TabularCodec` (one token per
  column, each column its own vocabulary) and a GPT-2 is trained from scratch from a
  ``GPT2Config``. With ``generator.base_model`` set, rows are serialised as text instead
  ("age is [70-80), gender is Female, ..." in a random column order) and that model is
  fine-tuned.
- Text domains (course material): a causal LM over units, each prefixed by its control columns
  (chapter and unit kind), with a byte-level BPE tokenizer trained on the train split, or the
  base model's tokenizer when fine-tuning.

Training hygiene: CUDA when present (bf16 autocast, TF32, fused AdamW), else the CPU with all
cores and bf16 autocast (benchmarks/generator.py measures the gain); batch size from a token budget,
gradient accumulation, cosine schedule with warm-up; dev loss every epoch, early stopping with
patience, and the checkpoint kept is the Trainer's own best (lowest dev loss, among those that pass
the privacy check when it is on); seeded; an interrupted run resumes from its last checkpoint.
The test split is never read here.

The caller chooses the device, owns the DVCLive run and may add Trainer callbacks
(:func:`train_generator`'s keyword arguments); the ``train`` stage passes the machine's best device
and a ``Live`` on ``reports/train/<domain>``. Multi-GPU runs need no code change:
``accelerate launch -m assay.cli train --domain records`` or ``torchrun --nproc_per_node 8 ...``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from assay.code_deps import PACKAGE_DIR, closure
from assay.config import GeneratorSpec
from assay.data.split import row_groups
from assay.errors import AssayError
from assay.generator.codec import TabularCodec, dtype_to_dict
from assay.generator.model import (
    GENERATOR_DIR,
    GENERATOR_FILE,
    METRICS_FILE,
    Device,
    control_prefix,
    new_gpt2,
    resolve_base_model,
    tabular_tokenizer,
    train_bpe_tokenizer,
)
from assay.generator.privacy_checks import NOT_CHOSEN, PrivacyLog, check_tabular, check_text, privacy_callback, tabular_reference, text_reference
from assay.generator.serialise import frame_to_texts
from assay.io import atomic_dir, sha256_file, write_json

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
    model: Any
    tokenizer: Any
    train: TokenDataset
    dev: TokenDataset
    collator: Any
    seq_len: int
    generator: dict[str, Any]


def _padded_lm(model: Any, tokenizer: Any, train_ids: list[list[int]], dev_ids: list[list[int]], generator: dict[str, Any]) -> Prepared:
    """Variable-length sequences for a causal LM: the padding collator makes labels and masks them."""
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(tokenizer, mlm=False)
    return Prepared(model, tokenizer, TokenDataset(train_ids, False), TokenDataset(dev_ids, False), collator, max(len(ids) for ids in train_ids), generator)


def prepare_tabular(spec: GeneratorSpec, train: pl.DataFrame, dev: pl.DataFrame, train_groups: pl.Series | None = None) -> Prepared:
    if spec.base_model:
        model, tokenizer = resolve_base_model(spec.base_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        eos = tokenizer.eos_token or ""
        encode = lambda frame, seed: [tokenizer(t + eos)["input_ids"] for t in frame_to_texts(frame, spec.features, seed)]  # noqa: E731
        train_ids, dev_ids = encode(train, spec.train.seed), encode(dev, spec.train.seed + 1)
        schema = {name: dtype_to_dict(name, train.schema[name]) for name in spec.features}
        generator = {"kind": "tabular", "mode": "fine-tune", "base_model": spec.base_model, "features": spec.features, "schema": schema}
        return _padded_lm(model, tokenizer, train_ids, dev_ids, generator)

    # rare_count counts patients (customers) as well as rows: see TabularCodec.fit.
    codec = TabularCodec.fit(train, spec.features, numeric_bins=spec.numeric_bins, rare_count=spec.rare_count, groups=train_groups)
    train_ids, dev_ids = codec.sequences(train).tolist(), codec.sequences(dev).tolist()
    seq_len = len(spec.features) + 2
    model = new_gpt2(spec, codec.vocab_size, seq_len, codec.bos_id, codec.eos_id, codec.pad_id)
    tokenizer = tabular_tokenizer(codec)
    generator = {"kind": "tabular", "mode": "scratch", "features": spec.features, "codec": codec.to_dict()}
    # Every sequence has the same length, so no padding: the default collator stacks them.
    return Prepared(model, tokenizer, TokenDataset(train_ids, True), TokenDataset(dev_ids, True), None, seq_len, generator)


def prepare_text(spec: GeneratorSpec, train: pl.DataFrame, dev: pl.DataFrame, train_groups: pl.Series | None = None) -> Prepared:
    assert spec.text_column is not None

    def documents(frame: pl.DataFrame) -> list[str]:
        return [control_prefix(row, spec.features) + row[spec.text_column] for row in frame.select(*spec.features, spec.text_column).iter_rows(named=True)]

    train_docs, dev_docs = documents(train), documents(dev)
    if spec.base_model:
        model, tokenizer = resolve_base_model(spec.base_model)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        mode = "fine-tune"
    else:
        tokenizer = train_bpe_tokenizer(train_docs, spec.vocab_size)
        model = new_gpt2(spec, len(tokenizer), spec.model.max_length, tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id)
        mode = "scratch"
    eos = tokenizer.eos_token or ""

    def encode(docs: list[str]) -> list[list[int]]:
        return [tokenizer(doc + eos, truncation=True, max_length=spec.model.max_length)["input_ids"] for doc in docs]

    train_ids, dev_ids = encode(train_docs), encode(dev_docs)
    controls = train.group_by(spec.features, maintain_order=True).len().sort(spec.features)
    generator = {
        "kind": "text",
        "mode": mode,
        "base_model": spec.base_model,
        "features": spec.features,
        "text_column": spec.text_column,
        "max_length": spec.model.max_length,
        # Sampling draws control prefixes with these train frequencies.
        "controls": controls.to_dicts(),
    }
    return _padded_lm(model, tokenizer, train_ids, dev_ids, generator)


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
            live.step = int(round(state.epoch or 0))
            if self.train_loss is not None:
                live.log_metric("train/loss", self.train_loss)
            if metrics and "eval_loss" in metrics:
                live.log_metric("dev/loss", float(metrics["eval_loss"]))

    return EpochCurves()


def training_arguments(spec: GeneratorSpec, device: Device, seq_len: int, output_dir: Path, selection_metric: str = "eval_loss"):
    from transformers import TrainingArguments

    batch_size = max(1, spec.train.tokens_per_batch // max(seq_len, 1))
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size * 2,
        gradient_accumulation_steps=spec.train.grad_accum,
        num_train_epochs=spec.train.max_epochs,
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
        disable_tqdm=False,
        save_only_model=False,
    )


def privacy_guard_for(spec: GeneratorSpec, prepared: Prepared, data: TrainingData, device: Device, live: Any, checks_path: Path, resumed_epoch: float | None):
    """The privacy-check callback and its log, or None when checks are off or not supported.

    The log is kept in ``checks_path`` (beside the checkpoints), so a run resumed from the
    checkpoint of epoch ``resumed_epoch`` still knows the checks made before it was interrupted.
    """

    guard_spec = spec.privacy
    if not guard_spec.enabled:
        return None
    if spec.kind == "tabular" and prepared.generator["mode"] != "scratch":
        log.warning("privacy checks during training need a generator trained from scratch; they are off for fine-tuning")
        return None
    started = time.perf_counter()
    if spec.kind == "tabular":
        codec = TabularCodec.from_dict(prepared.generator["codec"])
        reference = tabular_reference(codec, data.train, data.dev, guard_spec, device.kind, data.dev_groups, data.train_groups)
        run = lambda model: check_tabular(model, codec, reference, guard_spec, spec.sample.temperature)  # noqa: E731
        threshold = f"closer-to-train share <= {reference.threshold_closer_share:.3f} (fresh dev rows: {reference.fresh_closer_share:.3f})"
    else:
        text = spec.text_column
        text_ref = text_reference(data.train[text].to_list(), data.dev[text].to_list(), guard_spec)
        run = lambda model: check_text(model, prepared.tokenizer, prepared.generator, text_ref, guard_spec, spec.sample.temperature)  # noqa: E731
        threshold = f"verbatim 50-character share <= {text_ref.threshold_verbatim_share:.3f} (dev units: {text_ref.fresh_verbatim_share:.3f})"
    record = PrivacyLog.resume(checks_path, resumed_epoch)
    record.seconds = time.perf_counter() - started
    log.info("privacy checks every %d epoch(s) on %d sampled rows; threshold: %s", guard_spec.privacy_check_every, guard_spec.sample_rows, threshold)
    return privacy_callback(run, guard_spec, live, record), record


def run_fingerprint(train_path: Path, dev_path: Path, spec: GeneratorSpec) -> str:
    """What a checkpoint must match to be resumed: the data, every generator param and the training code."""

    code = sorted(closure([__name__]))  # every package module training can run
    material = json.dumps(
        {
            "train": sha256_file(train_path),
            "dev": sha256_file(dev_path),
            "spec": spec.model_dump(mode="json"),
            "code": {path.relative_to(PACKAGE_DIR).as_posix(): sha256_file(path) for path in code},
        },
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()[:16]


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
    experiment, no HTML report: ``dvc.yaml`` declares the outputs and the stewards' page draws them)."""
    from dvclive import Live

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
    chosen = next((check for check in guard[1].checks if check["epoch"] == int(round(evaluation["epoch"]))), None)
    if chosen is None or not chosen["within_threshold"] or state.best_metric >= NOT_CHOSEN:
        return evaluation["epoch"], evaluation["eval_loss"], None  # no checkpoint may be kept: privacy_summary says so
    return chosen["epoch"], chosen["dev_loss"], chosen


def train_generator(
    domain_name: str,
    spec: GeneratorSpec,
    data: TrainingData,
    model_dir: Path,
    checkpoints: Checkpoints,
    *,
    device: Device,
    live: Any,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Train on ``data``, keep the Trainer's best checkpoint, and save model, tokenizer and generator
    config (``model_dir/generator``) and the metrics (``model_dir/metrics.json``).

    ``live`` is the caller's ``dvclive.Live`` (curves, privacy checks and the summary go there);
    ``callbacks`` are extra Trainer callbacks, run after the pipeline's own.
    """
    import torch
    from transformers import EarlyStoppingCallback, Trainer, set_seed

    # 1. data and model
    set_seed(spec.train.seed)
    train, dev = data.train, data.dev
    prepared = (prepare_text if spec.kind == "text" else prepare_tabular)(spec, train, dev, data.train_groups)
    log.info(
        "train %s: %s generator (%s) on %s train / %s dev rows, %s parameters, on %s%s",
        domain_name,
        spec.kind,
        prepared.generator["mode"],
        f"{train.height:,}",
        f"{dev.height:,}",
        f"{prepared.model.num_parameters():,}",
        device.name,
        " with bf16" if device.bf16 else "",
    )
    if checkpoints.last:
        log.info("train %s: resuming from %s", domain_name, checkpoints.last)

    # 2. trainer: privacy check first (it writes the metric that early stopping and the best-model
    # record read), then early stopping, the epoch curves and the caller's callbacks
    guard = privacy_guard_for(spec, prepared, data, device, live, checkpoints.folder / PRIVACY_CHECKS_FILE, checkpoints.resumed_epoch)
    args = training_arguments(spec, device, prepared.seq_len, checkpoints.folder, "eval_selection_loss" if guard else "eval_loss")
    # Unchecked epochs cannot be chosen, so patience counts in checks, not epochs.
    patience = spec.train.patience * (spec.privacy.privacy_check_every if guard else 1)
    trainer = Trainer(
        model=prepared.model,
        args=args,
        train_dataset=prepared.train,
        eval_dataset=prepared.dev,
        data_collator=prepared.collator,
        callbacks=[*([guard[0]] if guard else []), EarlyStoppingCallback(early_stopping_patience=patience), epoch_curves_callback(live), *callbacks],
    )

    # 3. train
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=str(checkpoints.last) if checkpoints.last else None)
    seconds = time.perf_counter() - started
    best_epoch, best_loss, chosen = best_checkpoint(trainer.state, guard)
    privacy = privacy_summary(domain_name, spec, guard, chosen, live) if guard else {"enabled": False}

    # 4. save
    history = trainer.state.log_history
    dev_losses = [(entry["epoch"], entry["eval_loss"]) for entry in history if "eval_loss" in entry]
    tokens = sum(len(ids) for ids in prepared.train.sequences) * (history[-1].get("epoch") or 1)
    metrics = {
        "best_dev_loss": best_loss,
        "best_epoch": best_epoch,
        "epochs_run": dev_losses[-1][0],
        "stopped_early": dev_losses[-1][0] < spec.train.max_epochs,
        "train_loss": result.training_loss,
        "dev_loss_per_epoch": [loss for _, loss in dev_losses],
        "train_seconds": round(seconds, 2),
        "train_tokens_per_second": round(tokens / seconds, 1) if seconds else None,
        "parameters": prepared.model.num_parameters(),
        "device": device.kind,
        "device_name": device.name,
        "bf16": device.bf16,
        "threads": device.threads,
        "seed": spec.train.seed,
        "torch": torch.__version__,
        "train_rows": train.height,
        "dev_rows": dev.height,
        "resumed_from": str(checkpoints.last) if checkpoints.last else None,
        "privacy": privacy,
    }
    if guard:
        privacy["check_share_of_training_time"] = round(guard[1].seconds / seconds, 4) if seconds else None
    for key in ("best_dev_loss", "best_epoch", "epochs_run", "train_seconds", "train_tokens_per_second", "parameters", "device", "bf16"):
        live.summary[key] = metrics[key]
    # The stewards' report draws the privacy-utility path from here (reports/train/<domain>/metrics.json).
    live.summary["privacy"] = {key: privacy[key] for key in ("enabled", "chosen_epoch", "why", "checks") if key in privacy}
    with atomic_dir(model_dir / GENERATOR_DIR) as staging:
        trainer.save_model(str(staging))
        prepared.tokenizer.save_pretrained(str(staging))
        write_json({"domain": domain_name, **prepared.generator, "params": spec.model_dump(mode="json")}, staging / GENERATOR_FILE)
    write_json(metrics, model_dir / METRICS_FILE)
    # Checkpoints exist to resume an interrupted run; once the model is saved there is nothing to
    # resume, and a later run with the same inputs (dvc repro -f) must train, not "resume" at its end.
    shutil.rmtree(checkpoints.folder, ignore_errors=True)
    log.info(
        "train %s: best dev loss %.4f at epoch %s of %s (%s s, %s tokens/s); saved %s",
        domain_name,
        best_loss,
        best_epoch,
        metrics["epochs_run"],
        metrics["train_seconds"],
        metrics["train_tokens_per_second"],
        model_dir,
    )
    return metrics


def privacy_summary(domain_name: str, spec: GeneratorSpec, guard: tuple[Any, PrivacyLog], chosen: dict[str, Any] | None, live: Any) -> dict[str, Any]:
    """What the privacy checks decided, for metrics.json; an error when no checkpoint may be kept."""
    record = guard[1]
    if not record.checks:
        raise AssayError(
            f"train {domain_name}: no privacy check ran, so no checkpoint can be chosen; "
            f"generator.privacy.privacy_check_every ({spec.privacy.privacy_check_every}) must be at most train.max_epochs ({spec.train.max_epochs})",
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
            f"best dev loss among the {len(eligible)} of {len(record.checks)} checked checkpoints whose privacy statistic "
            f"was within the bootstrap {spec.privacy.quantile:.0%} threshold of fresh dev rows"
        ),
        "chosen": chosen,
        "checks": record.checks,
        "check_seconds": round(record.seconds, 2),
    }


def train_on_splits(
    domain_name: str,
    spec: GeneratorSpec,
    train_path: Path,
    dev_path: Path,
    model_dir: Path,
    live_dir: Path,
    checkpoints_dir: Path,
    *,
    device: Device,
    group_by: list[str] | None = None,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """:func:`train_generator` on split files: reads them, resumes from ``checkpoints_dir`` when a run
    of the same data, params and code was interrupted, and logs to a DVCLive run in ``live_dir``."""
    data = TrainingData.read(train_path, dev_path, spec, group_by)
    checkpoints = Checkpoints.open(checkpoints_dir, run_fingerprint(train_path, dev_path, spec))
    with open_live(live_dir, resume=checkpoints.last is not None) as live:
        return train_generator(domain_name, spec, data, model_dir, checkpoints, device=device, live=live, callbacks=callbacks)
