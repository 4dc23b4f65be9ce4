"""Stage ``train``: one generator per domain, trained on the train split, watched on dev.

The shape follows Hugging Face's ``run_clm.py``: config -> data -> model -> train -> save. The
generator (:mod:`assay.generator.variants`: tabular from scratch, tabular fine-tuned, text) does
the data and the model; :meth:`assay.generator.base.Generator.fit` runs the Trainer.

Training hygiene: CUDA when present (bf16 autocast, TF32, fused AdamW), else the CPU with all
cores and bf16 autocast where the CPU has bf16 kernels (:func:`assay.generator.model.bf16_is_fast`;
benchmarks/generator.py measures the gain); batch size from a token budget,
gradient accumulation, cosine schedule with warm-up; dev loss every epoch, early stopping with
patience, and the checkpoint kept is the Trainer's own best (lowest dev loss, among those that pass
the privacy check when it is on); seeded; an interrupted run resumes from its last checkpoint.
The test split is never read here.

The caller chooses the device, owns the DVCLive run and may add Trainer callbacks
(:func:`train_generator`'s keyword arguments); the ``train`` stage passes the machine's best device
and a ``Live`` on ``reports/train/<domain>``. Data-parallel runs need no code change:
``accelerate launch -m assay.cli train --domain records`` (add ``--cpu`` for processes on CPU cores)
or ``torchrun --nproc_per_node 8 -m assay.cli train ...``; :mod:`assay.generator.distributed` says
which process writes and decides.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assay.code_deps import PACKAGE_DIR, closure
from assay.config import GeneratorSpec
from assay.contracts import TrainingPrivacy, TrainMetrics, write_report
from assay.generator.base import Generator
from assay.generator.distributed import is_main_process
from assay.generator.model import GENERATOR_DIR, METRICS_FILE, Device
from assay.generator.trainer import Checkpoints, TrainingData, open_live
from assay.generator.variants import generator_for
from assay.io import atomic_dir, sha256_file
from assay.layout import TRAINING_PRIVACY_FILE

log = logging.getLogger("assay.train")

# DVCLive's summary is a DVC metric: figures to compare between runs only (timings and the device
# stay in the model folder's metrics.json, the privacy checks in privacy.json beside the summary).
SUMMARY_KEYS = ("best_dev_loss", "best_epoch", "epochs_run", "parameters")


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


def train_generator(
    generator: Generator,
    data: TrainingData,
    model_dir: Path,
    checkpoints: Checkpoints,
    *,
    device: Device,
    live: Any,
    callbacks: Sequence[Any] = (),
) -> dict[str, Any]:
    """Fit ``generator`` on ``data``, then save it (``model_dir/generator``) and its metrics (``model_dir/metrics.json``).

    ``live`` is the caller's ``dvclive.Live``; ``callbacks`` are extra Trainer callbacks.
    """
    metrics = generator.fit(data, checkpoints, device=device, live=live, callbacks=callbacks)
    if not is_main_process():
        return metrics  # the other processes of a data-parallel run trained; the main one saves
    for key in SUMMARY_KEYS:
        live.summary[key] = metrics[key]
    privacy = metrics["privacy"]
    live.summary["privacy"] = {key: privacy[key] for key in ("enabled", "chosen_epoch") if privacy.get(key) is not None}
    # The stewards' report draws the privacy-utility path from here (reports/train/<domain>/privacy.json).
    write_report(TrainingPrivacy, privacy, Path(live.dir) / TRAINING_PRIVACY_FILE)
    with atomic_dir(model_dir / GENERATOR_DIR) as staging:
        generator.save(staging)
    write_report(TrainMetrics, metrics, model_dir / METRICS_FILE)
    # Checkpoints exist to resume an interrupted run; once the model is saved there is nothing to
    # resume, and a later run with the same inputs (dvc repro -f) must train, not "resume" at its end.
    shutil.rmtree(checkpoints.folder, ignore_errors=True)
    log.info("train %s: saved %s", generator.domain, model_dir)
    return metrics


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
    generator: Generator | None = None,
) -> dict[str, Any]:
    """:func:`train_generator` on split files: reads them, resumes from ``checkpoints_dir`` when a run
    of the same data, params and code was interrupted, and logs to a DVCLive run in ``live_dir``.

    ``generator`` defaults to the one the params ask for (:func:`generator_for`); pass another
    (a subclass with its own privacy check, say) to train that instead.
    """
    data = TrainingData.read(train_path, dev_path, spec, group_by)
    checkpoints = Checkpoints.open(checkpoints_dir, run_fingerprint(train_path, dev_path, spec))
    with open_live(live_dir, resume=checkpoints.last is not None) as live:
        return train_generator(generator or generator_for(domain_name, spec), data, model_dir, checkpoints, device=device, live=live, callbacks=callbacks)
