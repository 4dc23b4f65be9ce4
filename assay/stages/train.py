"""The ``train`` stage: a domain's generator, trained on its train split, chosen on dev."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from assay.config import DomainSpec, load_params
from assay.generator.distributed import is_main_process
from assay.generator.model import pick_device
from assay.generator.training import train_on_splits


def run_train(domain_name: str, params_path: Path, train_path: Path, dev_path: Path, model_dir: Path, live_dir: Path, checkpoints_dir: Path) -> dict[str, Any]:
    """Entry point for ``assay train``: the machine's best device, DVCLive curves in ``live_dir``,
    checkpoints in ``checkpoints_dir`` so that an interrupted run resumes."""

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # no model hub is reachable; base models are local folders
    if not is_main_process():  # data-parallel: the main process reports; the others would repeat every line
        logging.getLogger("assay").setLevel(logging.WARNING)
    domain: DomainSpec = load_params(params_path).domain(domain_name)
    return train_on_splits(
        domain_name,
        domain.trained_generator(),
        train_path,
        dev_path,
        model_dir,
        live_dir,
        checkpoints_dir,
        device=pick_device(),
        group_by=domain.split.group_columns,
    )
