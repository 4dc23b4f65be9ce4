"""The ``report`` stage: every domain's stage reports -> the stewards' page ``reports/index.html``."""

from __future__ import annotations

import logging
from pathlib import Path

from assay.config import load_params
from assay.io import write_text
from assay.layout import LAYOUT, Layout
from assay.report.page import build_report

log = logging.getLogger(__name__)


def run_report(params_path: Path, out: Path, layout: Layout = LAYOUT) -> Path:
    """Entry point for ``assay report``: read params and the stage reports under ``layout``, write the page atomically."""

    params = load_params(params_path)
    page = build_report(params, layout, Path(out).parent)
    write_text(page, out)
    log.info("report: wrote %s (%d domain(s), %s bytes)", out, len(params.domains), f"{len(page.encode('utf-8')):,}")
    return Path(out)
