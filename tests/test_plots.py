"""`dvc plots show`: combined training curves, and a page that renders offline (Vega inlined)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from assay.dvc_plots import plots_template
from assay.workspace import dvc

from .browser import chromium, load_page
from .conftest import REPO_ROOT

DOMAINS = ("records", "transactions", "course_material")
# Each privacy figure of training with the threshold it is held to and the level of fresh dev rows.
TABULAR = [
    ("closer_to_train_share", "closer_to_train_threshold", "closer_to_train_fresh"),
    ("exact_copy_rate", "exact_copy_threshold", "exact_copy_rate_fresh"),
]
PRIVACY = {"records": TABULAR, "transactions": TABULAR, "course_material": [("verbatim_share", "verbatim_threshold", "verbatim_share_fresh")]}


def _top_level_plots() -> dict[str, dict]:
    plots = yaml.safe_load((REPO_ROOT / "dvc.yaml").read_text())["plots"]
    return {name: spec for entry in plots for name, spec in entry.items()}


def test_committed_page_is_the_vendored_vega_inlined_and_dvc_uses_it() -> None:
    page = (REPO_ROOT / ".dvc" / "plots.html").read_text(encoding="utf-8")
    assert page == plots_template(), "stale: run python -m assay.dvc_plots"
    assert "{plot_divs}" in page and "{scripts}" not in page  # DVC adds no CDN scripts where there is no placeholder
    assert not re.search(r"<script[^>]*\bsrc=", page)
    config = (REPO_ROOT / ".dvc" / "config").read_text()
    assert re.search(r"^\[plots\]\n\s+html_template = plots.html$", config, flags=re.M)


def test_training_curves_are_combined_per_domain() -> None:
    plots = _top_level_plots()
    for domain in DOMAINS:
        loss = plots[f"{domain}: train and dev loss"]["y"]
        assert loss == {f"reports/train/{domain}/plots/metrics/train/loss.tsv": "loss", f"reports/train/{domain}/plots/metrics/dev/loss.tsv": "loss"}
        for figure, threshold, fresh in PRIVACY[domain]:
            chart = next(spec["y"] for spec in plots.values() if f"reports/train/{domain}/plots/metrics/privacy/{figure}.tsv" in spec["y"])
            assert {f"reports/train/{domain}/plots/metrics/privacy/{name}.tsv" for name in (threshold, fresh)} <= set(chart)
    for spec in plots.values():  # every curve is one the committed DVCLive run wrote
        for path, field in spec["y"].items():
            assert (REPO_ROOT / path).read_text().splitlines()[0] == f"step\t{field}", path


@pytest.mark.browser
@pytest.mark.slow  # starts a browser
def test_dvc_plots_show_renders_offline_in_chromium(tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); skipping the dvc plots browser test")
    shown = dvc(REPO_ROOT, "plots", "show", "-o", str(tmp_path / "plots"))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    page = tmp_path / "plots" / "index.html"
    html = page.read_text(encoding="utf-8")
    specs = {name: json.loads(spec) for spec, name in re.findall(r"var spec = (\{.*?\});\s*vegaEmbed\('#([^']+)'", html, flags=re.S)}
    expected = len(_top_level_plots()) + len(DOMAINS)  # plus evaluate's per-column similarity, one per domain
    assert len(specs) == expected
    loss = specs["records__train_and_dev_loss"]["data"]["values"]
    assert {row["filename"] for row in loss} == {"train/loss.tsv", "dev/loss.tsv"}  # two lines on one chart

    visit = load_page(
        page.as_uri(),
        tmp_path / "plots.png",
        evaluate={
            "embedded": "document.querySelectorAll('.vega-embed').length",
            "drawn": "[...document.querySelectorAll('.vega-embed')].filter(e => e.querySelector('canvas, svg') && e.offsetHeight > 100).length",
            "vega": "typeof vegaEmbed === 'function'",
        },
    )
    assert visit.requests == [page.as_uri()], f"the page loaded more than itself: {visit.requests}"
    assert visit.remote_requests == [] and visit.errors == [], (visit.remote_requests, visit.errors)
    assert visit.values["vega"] is True
    assert visit.values["embedded"] == visit.values["drawn"] == expected
