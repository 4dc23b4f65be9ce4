"""Offline Data Docs: GX's pages, rendered with vendored assets, nothing remote, data escaped."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from assay.quality.datadocs import ASSETS, BASE_ASSETS, CHART_ASSETS, remote_references, write_assets, write_data_docs

from .browser import chromium, load_page

XSS = "<script>alert(1)</script>"
SOURCE = "data/raw/records/diabetic_data.csv"


def _frame() -> pd.DataFrame:
    races = ["Caucasian", "AfricanAmerican", "Hispanic", "Asian"] * 10
    races[3], races[7] = XSS, "Martian"
    return pd.DataFrame(
        {
            "encounter_id": [f"{n:016x}" for n in range(40)],
            "race": races,
            "time_in_hospital": [1 + n % 13 for n in range(40)],
            "_source_file": [SOURCE] * 40,
            "_source_row": list(range(2, 42)),
        }
    )


def _expectations(with_chart: bool) -> list[dict[str, Any]]:
    expectations = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 10}, "severity": "critical"},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "encounter_id"}, "severity": "critical"},
        {
            "type": "expect_column_values_to_be_in_set",
            "kwargs": {"column": "race", "value_set": ["Caucasian", "AfricanAmerican", "Hispanic", "Asian", "Other"]},
            "severity": "warning",
            "notes": "race codes as in the source",
        },
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "time_in_hospital", "min_value": 1, "max_value": 14},
            "severity": "critical",
        },
    ]
    if with_chart:  # GX draws this one as a Vega-Lite chart
        expectations.append(
            {
                "type": "expect_column_kl_divergence_to_be_less_than",
                "kwargs": {"column": "time_in_hospital", "partition_object": {"bins": [0, 5, 10, 15], "weights": [0.4, 0.4, 0.2]}, "threshold": 0.5},
                "severity": "warning",
            }
        )
    return expectations


def _validate(name: str, with_chart: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real GX 1.x validation result (and its suite) as JSON dicts."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.core.expectation_suite import ExpectationSuite

    context = gx.get_context(mode="ephemeral")
    batch_definition = context.data_sources.add_pandas(f"pd_{name}").add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
    suite = ExpectationSuite(name=name, expectations=_expectations(with_chart))
    batch = batch_definition.get_batch(batch_parameters={"dataframe": _frame()})
    result_format = {"result_format": "SUMMARY", "unexpected_index_column_names": ["_source_file", "_source_row"]}
    result = batch.validate(suite, result_format=result_format).to_json_dict()
    return result, suite.to_json_dict()


@pytest.fixture(scope="module")
def validation() -> tuple[dict[str, Any], dict[str, Any]]:
    return _validate("records", with_chart=True)


@pytest.fixture(scope="module")
def docs(validation: tuple[dict[str, Any], dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    result, suite = validation
    out = tmp_path_factory.mktemp("reports") / "validation" / "docs" / "records"
    return write_data_docs(result, suite, out, "Validation of records", home_href="../../../index.html")


def _pages(index: Path) -> dict[str, str]:
    return {name: (index.parent / name).read_text(encoding="utf-8") for name in ("index.html", "suite.html")}


def _static(index: Path) -> Path:
    """The shared assets folder: ``static`` beside the domains' docs folders."""
    return index.parent.parent / "static"


def test_writes_both_pages_and_the_assets_they_use(docs: Path) -> None:
    assert docs.name == "index.html" and docs.is_file()
    assert (docs.parent / "suite.html").is_file()
    for asset in BASE_ASSETS + CHART_ASSETS:
        assert (_static(docs) / asset).is_file(), asset
    assert sorted(p.name for p in (_static(docs) / "licenses").iterdir()) == sorted(p.name for p in (ASSETS / "licenses").iterdir())
    assert not (docs.parent / "static").exists()  # no copy per domain
    pages = _pages(docs)
    assert "Expectation Validation Result" in pages["index.html"]
    assert "Expectation Suite" in pages["suite.html"]
    assert 'href="suite.html"' in pages["index.html"]  # GX's link to its site layout points at our suite page
    assert "Stewards&#39; report" in pages["index.html"] or "Stewards' report" in pages["index.html"]


def test_pages_load_nothing_remote(docs: Path) -> None:
    for name, page in _pages(docs).items():
        assert remote_references(page) == [], name
        for tag in re.findall(r"<(?:link|script|img)\b[^>]*>", page, flags=re.IGNORECASE):
            assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", tag, flags=re.IGNORECASE), tag
        assert "great-expectations-web-assets" not in page  # GX's remote logo
        assert "newsletter" not in page
        for url in re.findall(r"url\(([^)]*)\)", page):
            assert not re.match(r"""\s*["']?(?:https?:)?//""", url), url
        assert not re.search(r"@import", page)
    for css in (_static(docs) / "css").glob("*.css"):
        assert remote_references(css.read_text(encoding="utf-8")) == [], css.name
        assert "@import" not in css.read_text(encoding="utf-8")


def test_every_referenced_static_file_exists(docs: Path) -> None:
    for name, page in _pages(docs).items():
        refs = re.findall(r"""(?:src|href)="(\.\./static/[^"]+)\"""", page)
        assert len(refs) >= 8, name
        for ref in refs:
            assert (docs.parent / ref).is_file(), f"{name} references missing {ref}"
    for css in (_static(docs) / "css").glob("*.css"):
        for ref in re.findall(r"url\(([^)]*)\)", css.read_text(encoding="utf-8")):
            ref = ref.strip("\"'")
            if not ref.startswith("data:"):
                assert (css.parent / ref).resolve().is_file(), f"{css.name} references missing {ref}"


def test_unexpected_values_are_shown_as_text(docs: Path) -> None:
    page = _pages(docs)["index.html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert XSS not in page
    assert "Martian" in page


def test_output_is_deterministic(validation: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path) -> None:
    result, suite = validation
    first = write_data_docs(result, suite, tmp_path / "a", "Validation of records")
    second = write_data_docs(result, suite, tmp_path / "b", "Validation of records")
    for name in ("index.html", "suite.html"):
        assert (first.parent / name).read_bytes() == (second.parent / name).read_bytes()


def test_rewrite_replaces_the_folder_and_vega_only_comes_with_charts(tmp_path: Path) -> None:
    result, suite = _validate("no_chart", with_chart=False)
    out = tmp_path / "docs"
    (out / "static" / "js").mkdir(parents=True)
    (out / "static" / "js" / "vega.min.js").write_text("stale")  # a per-domain copy from before the shared folder
    (out / "leftover.html").write_text("stale")
    index = write_data_docs(result, suite, out, "Validation of no_chart")
    assert index == out / "index.html"
    assert not (out / "leftover.html").exists() and not (out / "static").exists()
    assert "vega" not in index.read_text(encoding="utf-8").lower()  # only pages with a chart load it
    assert not list(tmp_path.glob(".docs.*")), "no staging folder is left behind"


def test_domains_share_one_copy_of_the_assets(validation: tuple[dict[str, Any], dict[str, Any]], tmp_path: Path) -> None:
    """Issue 18, item 9: the Data Docs copied 1.6 MB of assets per domain."""
    result, suite = validation
    docs = tmp_path / "reports" / "validation" / "docs"
    static = write_assets(docs / "static")
    stamp = {asset: (static / asset).stat().st_mtime_ns for asset in BASE_ASSETS}
    for domain in ("records", "transactions", "course_material"):
        write_data_docs(result, suite, docs / domain, f"Validation of {domain}")
    assert sorted(path.name for path in docs.iterdir()) == ["course_material", "records", "static", "transactions"]
    assert {asset: (static / asset).stat().st_mtime_ns for asset in BASE_ASSETS} == stamp  # found in place, not copied again
    per_domain = sum(path.stat().st_size for path in (docs / "records").rglob("*") if path.is_file())
    shared = sum(path.stat().st_size for path in static.rglob("*") if path.is_file())
    assert shared > 1_400_000 and per_domain < 300_000  # the 1.6 MB once; each domain only its two pages
    # A folder of the assets elsewhere (a custom --docs place) is written beside it when missing.
    other = write_data_docs(result, suite, tmp_path / "elsewhere" / "x", "Validation of x")
    assert (tmp_path / "elsewhere" / "static" / BASE_ASSETS[0]).is_file() and 'href="../static/css/bootstrap.min.css"' in other.read_text()


def test_remote_references_finds_loads_and_ignores_links_and_data_urls() -> None:
    page = """
    <link rel="stylesheet" href="https://cdn.example/x.css">
    <script src='//cdn.example/x.js'></script>
    <img src="http://example.org/logo.png" alt="">
    <style>.a { background: url("https://example.org/bg.png") } @import "https://example.org/more.css";</style>
    <link rel="stylesheet" href="static/css/local.css"><script src="static/js/local.js"></script>
    <a href="https://greatexpectations.io">a link is not a load</a>
    <style>.b { background: url("data:image/svg+xml,%3csvg xmlns='http://www.w3.org/2000/svg'%3e%3c/svg%3e") }</style>
    """
    assert sorted(remote_references(page)) == sorted(
        ["https://cdn.example/x.css", "//cdn.example/x.js", "http://example.org/logo.png", "https://example.org/bg.png", "https://example.org/more.css"]
    )


def test_vendored_assets_are_all_used_and_licensed() -> None:
    shipped = {p.relative_to(ASSETS).as_posix() for p in ASSETS.rglob("*") if p.is_file() and p.parts[-2] != "licenses" and p.name != "README.md"}
    assert shipped == set(BASE_ASSETS + CHART_ASSETS)
    licences = {p.name.split(".LICENSE")[0].rsplit("-", 1)[0] for p in (ASSETS / "licenses").iterdir()}
    assert licences == {"bootstrap", "bootstrap-table", "fontawesome-free", "jquery", "popper.js", "vega", "vega-lite", "vega-embed"}


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.browser
@pytest.mark.slow  # starts a browser
@pytest.mark.parametrize("page", ["index.html", "suite.html"])
def test_pages_render_offline_in_chromium(docs: Path, page: str, tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); skipping the Data Docs browser test")
    shot = tmp_path / f"datadocs-{page}.png"
    visit = load_page(
        (docs.parent / page).as_uri(),
        shot,
        evaluate={
            "text": "document.body.innerText",
            "charts": "document.querySelectorAll('.vega-embed').length",
            "jquery": "typeof window.jQuery === 'function' && typeof jQuery.fn.bootstrapTable === 'function'",
            "icons": "document.fonts.check('900 16px \"Font Awesome 6 Free\"')",
        },
    )
    assert visit.remote_requests == [], f"network requests beyond local files: {visit.remote_requests}"
    assert visit.requests[0] == (docs.parent / page).as_uri()
    assert visit.errors == [], visit.errors
    assert [level for level, _ in visit.console if level == "warning"] == [], visit.console
    assert visit.dialogs == []
    assert visit.values["jquery"] is True
    width, height = _png_size(shot)
    assert width >= 1000 and height >= 600 and shot.stat().st_size > 20_000
    if page == "index.html":
        assert XSS in visit.values["text"]  # shown as text, not run
        assert visit.values["charts"] >= 1  # the KL-divergence chart was drawn by the vendored Vega
        assert visit.values["icons"] is True  # the pass/fail icons' font loaded from static/webfonts


def test_status_follows_the_gate_and_pages_show_severity_and_notes(tmp_path: Path) -> None:
    """A failed warning: GX's status is the gate's ("Succeeded"), and says what failed; every
    expectation shows its severity and notes (GX's own fields) on both pages."""
    import polars as pl

    from assay.quality.validate import validate_frame, with_stable_ids

    suite = with_stable_ids({"name": "records", "expectations": _expectations(with_chart=False)})
    report = validate_frame(pl.from_pandas(_frame()), suite)
    assert report["failed_critical"] == 0 and report["failed_warning"] == 1  # the race set: "Martian" and the XSS value
    pages = _pages(write_data_docs(report["gx_result"], suite, tmp_path / "docs", "Validation of records"))
    status = re.sub(r"<[^>]+>|\s+", " ", pages["index.html"].split("Status:", 1)[1].split("</div>", 1)[0])
    assert " Succeeded (1 warning expectation(s) failed)" in status, status
    for name, page in pages.items():
        assert page.count("Severity: critical") == 3 and page.count("Severity: warning") == 1, name
        assert "race codes as in the source" in page, name
