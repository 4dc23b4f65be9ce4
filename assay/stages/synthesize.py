"""The ``synthesize`` stage: rows sampled from a trained generator -> ``data/synthetic/<domain>.parquet``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from assay.config import load_params
from assay.errors import AssayError
from assay.generator.model import load_generator, pick_device
from assay.generator.sampling import MAX_OVERSAMPLE, assemble, parse_where, sample_tabular, sample_tabular_text, sample_text_units
from assay.io import write_json, write_parquet

log = logging.getLogger(__name__)


def run_synthesize(
    domain_name: str,
    params_path: Path,
    model_dir: Path,
    train_path: Path,
    out: Path,
    report_path: Path | None,
    rows: int | None = None,
    where: list[str] | None = None,
) -> dict[str, Any]:
    """Entry point for ``assay synthesize``."""
    import torch

    domain = load_params(params_path).domain(domain_name)
    spec = domain.generator
    if not train_path.is_file():
        raise AssayError(f"split not found: {train_path}; run `assay split` first")
    train = pl.read_parquet(train_path)
    schema = dict(train.schema)
    fixed = parse_where(where or [], schema)
    unknown = [name for name in fixed if name not in spec.features]
    if unknown:
        raise AssayError(f"--where can only fix modelled columns (generator.features); {unknown} are not")
    target = rows or spec.sample.rows or train.height
    model, tokenizer, generator = load_generator(model_dir)
    device = pick_device()
    model.to(device.kind)
    torch.manual_seed(spec.sample.seed)
    rng = np.random.default_rng(spec.sample.seed)

    started = time.perf_counter()
    kept: list[pl.DataFrame] = []
    have, drawn = 0, 0
    while have < target:
        ask = target - have if not fixed else max(spec.sample.batch_size, 2 * (target - have))
        if generator["kind"] == "text":
            batch, n = sample_text_units(model, tokenizer, generator, ask, spec.sample.batch_size, spec.sample.temperature, rng)
        elif generator["mode"] == "fine-tune":
            batch, n = sample_tabular_text(model, tokenizer, generator, ask, spec.sample.batch_size, spec.sample.temperature)
        else:
            batch, n = sample_tabular(model, generator, ask, spec.sample.batch_size, spec.sample.temperature, rng)
        parsed_in_batch = batch.height
        for name, value in fixed.items():
            batch = batch.filter(pl.col(name) == value)
        drawn += n
        kept.append(batch)
        have += batch.height
        if not fixed and parsed_in_batch == 0:
            raise AssayError(f"synthesize {domain_name}: no sampled row parsed into the schema; is {model_dir} trained on this domain?")
        if drawn >= MAX_OVERSAMPLE * target and have < target:
            condition = ", ".join(f"{k}={v!r}" for k, v in fixed.items())
            raise AssayError(f"synthesize {domain_name}: only {have} of {drawn:,} sampled rows have {condition}; the model rarely produces it")
    seconds = time.perf_counter() - started
    sampled = pl.concat(kept).head(target)
    synthetic = assemble(sampled, domain, schema, train)
    parsed_rows = sum(frame.height for frame in kept) if not fixed else None
    report = {
        "domain": domain_name,
        "rows": synthetic.height,
        "rows_drawn": drawn,
        "parsed_share": (parsed_rows / drawn) if parsed_rows is not None else None,
        "conditions": {k: str(v) for k, v in fixed.items()},
        "seconds": round(seconds, 2),
        "rows_per_second": round(drawn / seconds, 1) if seconds else None,
        "device": device.kind,
        "seed": spec.sample.seed,
    }
    write_parquet(synthetic, out)
    if report_path is not None:
        write_json(report, report_path)
    share = "" if report["parsed_share"] is None else f", {report['parsed_share']:.1%} parsed"
    log.info("synthesize %s: %s rows in %.1f s (%s rows/s%s) -> %s", domain_name, f"{synthetic.height:,}", seconds, report["rows_per_second"], share, out)
    return report
