"""The ``synthesize`` stage: rows sampled from a trained generator -> ``data/synthetic/<domain>.parquet``."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from assay.config import load_params
from assay.contracts import SynthesizeReport, write_report
from assay.errors import AssayError
from assay.generator.model import pick_device
from assay.generator.sampling import assemble, parse_where
from assay.generator.variants import load_generator
from assay.io import write_parquet

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
    target = rows or spec.sample.rows or train.height
    generator = load_generator(model_dir)
    device = pick_device()
    generator.model.to(device.kind)
    torch.manual_seed(spec.sample.seed)
    rng = np.random.default_rng(spec.sample.seed)

    started = time.perf_counter()
    sampled = generator.sample(target, fixed, rng=rng, batch_size=spec.sample.batch_size, temperature=spec.sample.temperature)
    seconds = time.perf_counter() - started
    synthetic = assemble(sampled.rows, domain, schema, train)
    report = {
        "domain": domain_name,
        "rows": synthetic.height,
        "rows_drawn": sampled.drawn,
        "parsed_share": sampled.parsed_share,
        "conditions": {k: str(v) for k, v in fixed.items()},
        "seconds": round(seconds, 2),
        "rows_per_second": round(sampled.drawn / seconds, 1) if seconds else None,
        "device": device.kind,
        "seed": spec.sample.seed,
    }
    write_parquet(synthetic, out)
    if report_path is not None:
        write_report(SynthesizeReport, report, report_path)
    share = "" if report["parsed_share"] is None else f", {report['parsed_share']:.1%} parsed"
    log.info("synthesize %s: %s rows in %.1f s (%s rows/s%s) -> %s", domain_name, f"{synthetic.height:,}", seconds, report["rows_per_second"], share, out)
    return report
