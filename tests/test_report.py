"""The stewards' report: sections from fixture reports, escaping, offline, missing inputs tolerated."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from assay.contracts import (
    CleanReport,
    Contract,
    DriftEntry,
    ExpectationResult,
    GateCheck,
    IngestReport,
    IngestSource,
    SplitReport,
    UtilityReport,
    ValidationReport,
    write_report,
)
from assay.errors import AssayError
from assay.layout import Layout
from assay.report.formatting import RAW_PREVIEW, bar_chart, raw_preview
from assay.report.page import SECTIONS, TEMPLATES, describe_rule, rule_columns
from assay.stages.report import run_report

from .browser import chromium, load_page

XSS = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
RAW_LINE = "<encounter_id>,<patient_nbr>,Caucasian,<b>x</b>,[50-60),7," + "9" * 300  # as clean writes it: identifiers masked

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE = "data/raw/records/diabetic_data.csv"
SOURCE_NAME = "diabetic_data.csv"
LONG_STAY = "a stay over 12 days coded Other is a data-entry error"


def write_params(folder: Path) -> Path:
    """The repo's params with sources made absolute, one extra quarantine rule, a description to escape."""
    import yaml

    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["domains"] = {name: params["domains"][name] for name in ("records", "transactions")}
    for domain in params["domains"].values():
        domain["raw_dir"] = str(REPO_ROOT / domain["raw_dir"])
        for source in domain["sources"]:
            source["path"] = str(REPO_ROOT / source["path"])
    records = params["domains"]["records"]
    records["description"] = "Hospital encounters (demo) & <friends>"
    records["clean"]["rules"].append({"name": "long_stay_other", "when": "time_in_hospital > 12 AND race = 'Other'", "reason": LONG_STAY})
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return path


def _write(path: Path, report: Contract) -> None:
    """A stage's report, written as the stage writes it: through its contract."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_report(type(report), report, path)


def _quarantine() -> pl.DataFrame:
    rows = [
        ("a1b2c3d4e5f60718", XSS, "3", "NO", "allowed:race", f"race='{XSS}' is not one of: Caucasian, AfricanAmerican, Other", 5, None),
        ("0f1e2d3c4b5a6978", "Other", "13", "NO", "long_stay_other", LONG_STAY, 9, None),
        ("1111222233334444", "Other", "99", ">30", "range:time_in_hospital", "time_in_hospital=99 is above the maximum 14.0", 12, None),
        ("2222333344445555", "Other", "0", ">30", "range:time_in_hospital", "time_in_hospital=0 is below the minimum 1.0", 14, None),
        (None, None, None, None, "ingest", "line has 5 fields, the header has 4", 17, RAW_LINE),
    ]
    return pl.DataFrame(
        rows,
        schema={
            "encounter_id": pl.String,
            "race": pl.String,
            "time_in_hospital": pl.String,
            "readmitted": pl.String,
            "_rule": pl.String,
            "_reason": pl.String,
            "_source_row": pl.Int64,
            "_raw": pl.String,
        },
        orient="row",
    ).with_columns(pl.lit(SOURCE).alias("_source_file"))


def _validation() -> ValidationReport:
    return ValidationReport(
        domain="records",
        data="data/clean/records.parquet",
        suite="expectations/records.json",
        suite_sha256="ab" * 32,
        rows=4924,
        evaluated=3,
        passed=2,
        failed_critical=0,
        failed_warning=1,
        success=True,
        data_docs="reports/validation/docs/records/index.html",
        expectations=[
            ExpectationResult(
                id="e1",
                type="expect_table_row_count_to_be_between",
                kwargs={"min_value": 1000},
                severity="critical",
                notes="enough rows to train on",
                success=True,
                observed_value=4924,
            ),
            ExpectationResult(
                id="e2",
                type="expect_column_values_to_be_in_set",
                column="race",
                kwargs={"column": "race", "value_set": ["Caucasian", "AfricanAmerican"], "batch_id": "x"},
                severity="warning",
                notes="Other is rare; check the source's coding",
                success=False,
                element_count=4924,
                unexpected_count=3,
                unexpected_percent=0.0609,
                examples=[{"value": XSS, "_source_file": SOURCE, "_source_row": 5}, {"value": "Martian", "_source_file": SOURCE, "_source_row": 17}],
            ),
            ExpectationResult(
                id="e3",
                type="expect_column_values_to_not_be_null",
                column="encounter_id",
                kwargs={"column": "encounter_id"},
                severity="critical",
                notes="",
                success=True,
                element_count=4924,
                unexpected_count=0,
                unexpected_percent=0.0,
            ),
        ],
        gx_result={"success": True, "results": []},
    )


def _split() -> SplitReport:
    """What assay/data/split.py writes (abridged: the keys a split without time or fallback has)."""
    return SplitReport(
        rows_in=4924,
        rows={"dev": 493, "test": 492, "train": 3939},
        groups={"dev": 388, "test": 387, "train": 3100},
        group_by="patient_nbr",
        ratios={"dev": 0.100122, "test": 0.099919, "train": 0.799959},
        ratios_configured={"dev": 0.1, "test": 0.1, "train": 0.8},
        seed=42,
        mode="hash",
        ratio_gap_pp=0.01,
        ratio_tolerance_pp=2.0,
        target_column="readmitted",
        target={"train": {"NO": 0.54, ">30": 0.46}, "dev": {"NO": 0.55, ">30": 0.45}, "test": {"NO": 0.53, ">30": 0.47}},
        target_gap_pp=1.0,
        drift=[
            DriftEntry(column="time_in_hospital", kind="numeric", pair="train-test", ks=0.121, psi=0.05, breached=["ks"], score=1.21),
            DriftEntry(column="race", kind="categorical", pair="train-dev", psi=0.01, tvd=0.02, score=0.2),
        ],
        drift_skipped=[{"column": "encounter_id", "reason": "a direct identifier (pseudonymised)"}],
        drift_thresholds={"ks": 0.1, "psi": 0.2, "tvd": 0.1, "on_breach": "warn", "ignore": []},
        breaches=1,
        status="warn",
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A params file and stage outputs: records has every section, transactions only ingest."""
    write_params(tmp_path)
    reports = tmp_path / "reports"
    ingest_source = IngestSource(
        path=SOURCE,
        format="csv",
        sha256="c0ffee" * 10 + "abcd",
        size_bytes=945757,
        rows=5000,
        rows_with_errors=1,
        encoding="utf-8",
        encoding_chosen_by="detector",
        encoding_confidence=0.93,
        delimiter=",",
        line_endings="CRLF",
    )
    _write(reports / "ingest" / "records.json", IngestReport(domain="records", rows=5000, rows_with_errors=1, sources=[ingest_source]))
    transactions_source = IngestSource(path="data/raw/transactions/online_retail.csv", format="csv", sha256="d" * 64, size_bytes=2048, rows=12)
    _write(reports / "ingest" / "transactions.json", IngestReport(domain="transactions", rows=12, rows_with_errors=0, sources=[transactions_source]))
    clean = CleanReport(
        rows_in=5000,
        rows_clean=4924,
        rows_quarantined=51,
        rows_deduplicated=25,
        rules={"allowed:race": 20, "ingest": 1, "long_stay_other": 0, "range:time_in_hospital": 30},
        flags={"expired_at_discharge": 7},
        normalised={"missing_markers_to_null": 12, "mojibake_repaired": 0, "values_trimmed_or_normalised": 3},
        pseudonymised_columns=["encounter_id"],
        duplicate_examples=[{"_source_file": SOURCE, "_source_row": 175, "duplicate_of_file": SOURCE, "duplicate_of_row": 174}],
    )
    _write(reports / "clean" / "records.json", clean)
    (tmp_path / "data" / "quarantine").mkdir(parents=True)
    _quarantine().write_parquet(tmp_path / "data" / "quarantine" / "records.parquet")
    _write(reports / "validation" / "records.json", _validation())
    docs = reports / "validation" / "docs" / "records" / "index.html"
    docs.parent.mkdir(parents=True)
    docs.write_text("<!DOCTYPE html><title>docs</title>", encoding="utf-8")
    _write(reports / "split" / "records.json", _split())
    return tmp_path


def _report(project: Path) -> tuple[Path, str]:
    out = run_report(project / "params.yaml", project / "reports" / "index.html", Layout(data=project / "data", reports=project / "reports"))
    return out, out.read_text(encoding="utf-8")


def _section(page: str, anchor: str) -> str:
    """The HTML of one section, found by its id."""
    match = re.search(rf'<section class="card" id="{anchor}">(.*?)</section>', page, flags=re.DOTALL)
    assert match, f"section {anchor} not found"
    return match.group(1)


def test_every_section_of_every_domain_is_present(project: Path) -> None:
    out, page = _report(project)
    assert out == project / "reports" / "index.html"
    assert '<section id="summary"' in page
    for domain in ("records", "transactions"):
        assert f'<article class="domain" id="{domain}">' in page
        for section in SECTIONS:
            _section(page, f"{domain}-{section.name}")


def test_numbers_are_shown(project: Path) -> None:
    _, page = _report(project)
    summary = re.search(r'<section id="summary".*?</section>', page, flags=re.DOTALL).group(0)  # type: ignore[union-attr]
    for number in ("5,000", "4,924", "51", "25", "2/3 passed", "3,939 / 493 / 492"):
        assert number in summary, number
    ingest = _section(page, "records-ingest")
    assert SOURCE in ingest and "c0ffee" * 10 + "abcd" in ingest and "923.6 KiB" in ingest and "CRLF" in ingest
    assert "(detector, confidence 93.0%)" in ingest  # a share of 1, shown as a percentage
    cleaning = _section(page, "records-cleaning")
    for text in ("range:time_in_hospital", "allowed:race", "long_stay_other", LONG_STAY):
        assert text in cleaning, text
    assert "time_in_hospital must be ≥ 1 and ≤ 14" in cleaning  # the rule, from params
    assert f"{SOURCE_NAME}:12" in cleaning and f'title="{SOURCE}:12"' in cleaning  # where the example came from
    assert "time_in_hospital=99 is above the maximum 14.0" in cleaning  # the row's reason
    assert f"{SOURCE}:175" in cleaning and "line 174" in cleaning  # a duplicate example
    assert "expired_at_discharge" in cleaning and "the patient died" in cleaning  # a flag with its reason
    assert "<svg" in cleaning and cleaning.count("<rect") == 3  # one bar per rule with rows
    validation = _section(page, "records-validation")
    for text in ("expect_column_values_to_be_in_set", "warning", "0.06%", f"{SOURCE_NAME}:17", "Martian", "enough rows to train on", "observed 4924"):
        assert text in validation, text
    assert validation.index("expect_column_values_to_be_in_set") < validation.index("expect_table_row_count_to_be_between")  # failures first
    splits = _section(page, "records-splits")
    for text in ("3,939", "3,100", "80.0%", "54.0%", "47.0%", "time_in_hospital (train-test)", "ks 0.121", "1.21×", "drift over threshold", "seed 42"):
        assert text in splits, text
    assert 'class="marker"' in splits  # the threshold line of the drift chart


def test_data_docs_link_is_relative(project: Path) -> None:
    _, page = _report(project)
    assert 'href="validation/docs/records/index.html"' in _section(page, "records-validation")
    (project / "reports" / "validation" / "docs" / "records" / "index.html").unlink()
    _, page = _report(project)
    assert "Data Docs not written" in _section(page, "records-validation")


def test_values_are_escaped(project: Path) -> None:
    _, page = _report(project)
    assert ESCAPED in _section(page, "records-cleaning")
    assert ESCAPED in _section(page, "records-validation")
    assert "<script" not in page.lower()
    assert "<b>x</b>" not in page
    assert "Hospital encounters (demo) &amp; &lt;friends&gt;" in page


def test_raw_lines_show_masked_identifiers_and_keep_the_rest_readable(project: Path) -> None:
    """Issue 18, item 7: a broken line was shown with every digit masked (#########,...), unreadable."""
    _, page = _report(project)
    cleaning = _section(page, "records-cleaning")
    assert "&lt;encounter_id&gt;,&lt;patient_nbr&gt;,Caucasian,&lt;b&gt;x&lt;/b&gt;,[50-60),7,999" in cleaning
    assert "#" not in re.search(r'<code class="raw">(.*?)</code>', cleaning).group(1)  # type: ignore[union-attr]
    assert raw_preview(RAW_LINE) == RAW_LINE[:RAW_PREVIEW] + "…" and raw_preview(None) == "" and raw_preview("a1") == "a1"


def test_page_is_self_contained(project: Path) -> None:
    _, page = _report(project)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<img" not in page and "@import" not in page and "url(" not in page
    assert "<style>" in page


def test_missing_inputs_show_not_run_yet(project: Path) -> None:
    _, page = _report(project)
    assert "Not run yet" not in _section(page, "records-splits")
    assert "12 rows read" in _section(page, "transactions-ingest")
    for name, stage in (("cleaning", "clean"), ("validation", "validate"), ("splits", "split")):
        section = _section(page, f"transactions-{name}")
        assert "Not run yet" in section and f"dvc repro {stage}@transactions" in section


def test_nothing_run_yet_still_gives_a_page(tmp_path: Path) -> None:
    params = write_params(tmp_path)
    out = run_report(params, tmp_path / "out" / "index.html", Layout(data=tmp_path / "none", reports=tmp_path / "none"))
    page = out.read_text(encoding="utf-8")
    assert page.count("Not run yet") == 2 * len(SECTIONS)
    assert "cleaning not run yet" in page


def test_a_split_without_drift_measurements_says_so(project: Path) -> None:
    _write(project / "reports" / "split" / "records.json", _split().model_copy(update={"drift": [], "rows": {"test": 20, "train": 80}}))
    _, page = _report(project)
    splits = _section(page, "records-splits")
    assert splits.index("train") < splits.index("test")
    assert "80.0%" in splits and "No drift measurements" in splits


@pytest.mark.parametrize(
    ("report", "change", "message"),
    [
        ("split", {"drift": "not measured"}, "drift: Input should be a valid list"),
        ("split", {"rows_kept": 3}, "rows_kept: Extra inputs are not permitted"),
        ("clean", {"rows_in": "many"}, "rows_in: Input should be a valid integer, unable to parse string as an integer"),
        ("validation", {"success": None}, "success: Input should be a valid boolean"),
    ],
)
def test_a_report_that_breaks_its_contract_is_one_line_naming_the_file_and_key(project: Path, report: str, change: dict, message: str) -> None:
    path = project / "reports" / report / "records.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **change}), encoding="utf-8")
    with pytest.raises(AssayError) as caught:
        _report(project)
    assert str(caught.value) == f"{path}: {message}"


def test_quarantine_file_missing_is_said(project: Path) -> None:
    (project / "data" / "quarantine" / "records.parquet").unlink()
    _, page = _report(project)
    cleaning = _section(page, "records-cleaning")
    assert "was not found" in cleaning and "range:time_in_hospital" in cleaning


def test_a_damaged_quarantine_file_is_said_and_the_page_still_builds(project: Path) -> None:
    (project / "data" / "quarantine" / "records.parquet").write_bytes(b"PAR1 not really parquet")
    _, page = _report(project)
    cleaning = _section(page, "records-cleaning")
    assert '<p class="error">' in cleaning and "records.parquet: cannot be read" in cleaning
    assert "range:time_in_hospital" in cleaning  # the rule counts still show, from the clean report


def test_output_is_deterministic(project: Path) -> None:
    out, first = _report(project)
    _, second = _report(project)
    assert first == second
    assert not list(out.parent.glob(".index.html.*")), "no temporary file is left behind"


def test_broken_report_is_a_one_line_error(project: Path) -> None:
    (project / "reports" / "clean" / "records.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(AssayError) as error:
        _report(project)
    assert "reports/clean/records.json" in str(error.value) and "not valid JSON" in str(error.value)


def test_registry_templates_exist() -> None:
    names = [section.name for section in SECTIONS]
    assert names[:5] == ["ingest", "cleaning", "profile", "validation", "splits"] and "lineage" in names
    for section in SECTIONS:
        assert (TEMPLATES / "sections" / section.template).is_file(), section.template


def test_rule_helpers() -> None:
    from assay.config import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    spec = params.domain("transactions")
    assert rule_columns("range:UnitPrice", spec) == ["UnitPrice"]
    assert rule_columns("stock_adjustment", spec) == ["InvoiceNo", "Quantity"]
    assert rule_columns("ingest", spec) == []
    assert describe_rule("stock_adjustment", spec).startswith("a negative quantity")
    assert describe_rule("required:Country", spec) == "Country must be present"
    assert "%m/%d/%Y %H:%M" in describe_rule("type:InvoiceDate", spec)


def test_bar_chart_geometry() -> None:
    chart = bar_chart([("a", 10, "rule"), ("b", 5, "rule"), ("c", 0, "rule")], str)
    assert chart is not None
    widths = [bar["width"] for bar in chart["bars"]]
    assert widths[0] == pytest.approx(2 * widths[1]) and widths[2] == 0
    assert bar_chart([], str) is None


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.browser
@pytest.mark.slow  # starts a browser
def test_report_renders_offline_in_chromium(project: Path, tmp_path: Path) -> None:
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); skipping the report browser test")
    out, _ = _report(project)
    shot = tmp_path / "report.png"
    visit = load_page(out.as_uri(), shot, evaluate={"text": "document.body.innerText", "charts": "document.querySelectorAll('svg.chart rect').length"})
    assert visit.requests == [out.as_uri()], f"the page loaded more than itself: {visit.requests}"
    assert visit.errors == [] and visit.console == [], (visit.errors, visit.console)
    assert visit.dialogs == []
    assert XSS in visit.values["text"]  # the quarantined value is text on the page
    assert visit.values["charts"] == 5  # 3 rule bars + 2 drift bars
    width, height = _png_size(shot)
    assert width >= 1000 and height >= 1500 and shot.stat().st_size > 30_000


def test_no_raw_identifier_reaches_the_page_through_cleaning(project: Path, tmp_path: Path) -> None:
    """A real ingest + clean of planted faults: the page shows no raw id and no pseudonym beside one."""
    from assay.config import load_params
    from assay.data.clean import clean_frame
    from assay.ingest.tabular import read_csv_source

    spec = load_params(project / "params.yaml").domain("records")
    lines = (REPO_ROOT / SOURCE).read_text(encoding="utf-8").splitlines()
    header, good = lines[0], lines[1:40]
    fields = good[0].split(",")
    type_failure = ",".join([fields[0], "P987654323", *fields[2:]])  # patient_nbr is not an integer
    ragged = ",".join(["918273645", *fields[1:5]])  # a short line holding an encounter id
    stray_quote = ",".join(["827364519", '"' + fields[1], *fields[2:]])
    source = tmp_path / "planted.csv"
    source.write_text("\n".join([header, *good, type_failure, ragged, stray_quote]) + "\n", encoding="utf-8")
    identifiers = [name for name, column in spec.columns.items() if column.identifier]
    frame, _ = read_csv_source(source, list(spec.columns), identifiers=identifiers)
    result = clean_frame(frame, spec, b"report-test-key")
    assert {"type:patient_nbr", "ingest"} <= set(result.quarantine["_rule"].to_list())
    result.quarantine.write_parquet(project / "data" / "quarantine" / "records.parquet")
    _write(project / "reports" / "clean" / "records.json", CleanReport.model_validate(result.report))
    _, page = _report(project)
    for raw_id in ("987654323", "918273645", "827364519"):
        assert raw_id not in page
    assert "patient_nbr is not an integer" in page
    # The broken lines stay readable around their masked identifiers (issue 18, item 7).
    raws = re.findall(r'<code class="raw">(.*?)</code>', _section(page, "records-cleaning"))
    assert any(raw.startswith("&lt;encounter_id&gt;,") and ",".join(fields[2:4]) in raw for raw in raws), raws


def test_versions_show_raw_hashes_and_say_when_there_is_no_history(project: Path) -> None:
    _, page = _report(project)
    versions = _section(page, "records-versions")
    assert SOURCE in versions and "c0ffee" * 10 + "abcd" in versions
    assert "No earlier revision in git history" in versions


def test_versions_set_past_revisions_quality_beside_this_run(project: Path) -> None:
    import subprocess

    from dvc.repo import Repo

    def commit(message: str) -> str:
        who = ["-c", "user.name=assay", "-c", "user.email=assay@localhost"]
        subprocess.run(["git", *who, "add", "-A"], cwd=project, check=True)
        subprocess.run(["git", *who, "commit", "-q", "-m", message], cwd=project, check=True)
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, check=True, capture_output=True, text=True).stdout.strip()

    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    Repo.init(str(project)).close()
    clean_path = project / "reports" / "clean" / "records.json"
    report = CleanReport.model_validate_json(clean_path.read_text())
    first = commit("first run")
    _write(clean_path, report.model_copy(update={"rows_quarantined": 70, "rules": {**report.rules, "allowed:race": 39}}))
    second = commit("a worse source file")
    _write(clean_path, report.model_copy(update={"rows_quarantined": 44, "rules": {**report.rules, "allowed:race": 13}}))  # this run, not committed
    _, page = _report(project)
    versions = _section(page, "records-versions")
    assert first[:12] in versions and second[:12] in versions and "this run" in versions
    row = re.search(r"<td>Quarantined</td>(.*?)</tr>", versions, flags=re.DOTALL).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">([\d,]+)</td>', row) == ["44", "70", "51"]  # this run, then newest first
    race = re.search(r"<code>allowed:race</code></td>(.*?)</tr>", versions, flags=re.DOTALL).group(1)  # type: ignore[union-attr]
    assert re.findall(r'<td class="num">([\d,]+)</td>', race) == ["13", "39", "20"]


def test_calibrated_drift_shows_null_levels_p_values_and_a_band(project: Path) -> None:
    """Issue 18, item 2: statistic, null level and p-value; the badge only for a breach; the chart draws the null band."""
    calibrated = [
        DriftEntry(
            column="diag_1",
            kind="categorical",
            pair="train-dev",
            psi=0.31,
            tvd=0.142,
            score=1.55,
            over_threshold=["psi", "tvd"],
            breached=[],
            null={"tvd": {"median": 0.121, "p95": 0.158}, "psi": {"median": 0.25, "p95": 0.4}},
            p_values={"tvd": 0.21, "psi": 0.3},
            p_value=0.21,
            p_adjusted=0.97,
            z_score=0.8,
            unusual=False,
        ),
        DriftEntry(
            column="age",
            kind="numeric",
            pair="train-test",
            ks=0.031,
            psi=0.01,
            score=0.31,
            over_threshold=[],
            breached=[],
            null={"ks": {"median": 0.01, "p95": 0.02}},
            p_values={"ks": 0.004975},
            p_value=0.004975,
            p_adjusted=0.02,
            z_score=5.1,
            unusual=True,
        ),
    ]
    _write(
        project / "reports" / "split" / "records.json",
        _split().model_copy(update={"drift": calibrated, "breaches": 0, "unusual": 1, "drift_null": {"random_splits": 200, "alpha": 0.05}}),
    )
    _, page = _report(project)
    splits = _section(page, "records-splits")
    assert "tvd 0.142" in splits and "null 0.158, p 0.210" in splits and "0.970" in splits
    assert "drift over threshold" not in splits and "unusual, under threshold" in splits
    assert "No column differs between splits more than random splits of the same data do (1 comparison over a fixed threshold" in splits
    assert 'class="band"' in splits and 'class="tick"' in splits  # the null band and the threshold on the chart
    summary = re.search(r'<section id="summary".*?</section>', page, flags=re.DOTALL).group(0)  # type: ignore[union-attr]
    assert "drift over threshold" not in summary
    # A breach (over its threshold and unusual) gets the badge, on the section and in the summary.
    breach = calibrated[0].model_copy(update={"breached": ["tvd"], "breach": True, "unusual": True, "p_adjusted": 0.004975})
    _write(
        project / "reports" / "split" / "records.json",
        _split().model_copy(update={"drift": [breach], "breaches": 1, "drift_null": {"random_splits": 200, "alpha": 0.05}}),
    )
    _, page = _report(project)
    assert "drift over threshold" in _section(page, "records-splits")
    assert "drift over threshold" in re.search(r'<section id="summary".*?</section>', page, flags=re.DOTALL).group(0)  # type: ignore[union-attr]


def _utility(**change: object) -> UtilityReport:
    """A utility report as assay/metrics/evaluate.py writes it (abridged), for a domain whose gate failed twice."""
    checks = [
        GateCheck(
            check="min_tstr_trtr_auc",
            metric="tstr_trtr_auc",
            bound="min",
            threshold=0.85,
            value=0.61,
            passed=False,
            message="tstr_trtr_auc = 0.61, needs >= 0.85",
            rows=40,
        ),
        GateCheck(
            check="max_detection_auc",
            metric="detection_auc",
            bound="max",
            threshold=0.97,
            value=0.99,
            passed=False,
            message="detection_auc = 0.99, needs <= 0.97",
            rows=3000,
        ),
        GateCheck(check="max_mia_auc", metric="mia_auc", bound="max", threshold=0.6, value=0.5, passed=True, message="mia_auc = 0.5, needs <= 0.6", rows=600),
    ]
    report = UtilityReport(
        domain="records",
        kind="tabular",
        rows={"train": 3985, "dev": 467, "test": 19, "synthetic": 3985, "baseline": 3985},
        target="chapter",
        primary_model="logistic_regression",
        trtr_auc=1.0,
        majority_accuracy=0.947,
        holdout={"dcr_p5": 0.000134, "dcr_median": 0.0021},
        generator={
            "tstr_auc": 0.222,
            "tstr_trtr_auc": 0.222,
            "dcr_p5": 0.000893,
            "dcr_median": 0.00412,
            "dcr_p5_ratio": 6.667,
            "detection_auc": 0.99,
            "mia_auc": 0.5,
        },
        baseline={"tstr_auc": 0.5, "tstr_trtr_auc": 0.5, "dcr_p5": 0.0004, "dcr_median": 0.003, "dcr_p5_ratio": 3.0, "detection_auc": 0.99, "mia_auc": 0.5},
        release_gate_enabled=True,
        release_gate_passed=False,
        release_gate_failed=2,
        gate_checks=checks,
        sample_sizes={"test": 19, "test_class": 1, "synthetic": 3985, "detection": 3000, "distance": 3000, "members": 600, "copies": 3985},
        intervals={"trtr_auc": [0.9, 1.0], "generator": {"tstr_auc": [0.0, 0.61], "tstr_trtr_auc": [0.0, 0.64]}, "baseline": {}},
        consistency=[
            {
                "model": "logistic_regression",
                "trained_on": "real train",
                "message": (
                    "logistic_regression trained on real train ranks the test rows well (ROC AUC 1.000) but is right less often (0.158) "
                    "than always answering the majority class (0.947): the two figures disagree (19 test rows, 1 of the rarest class)"
                ),
            }
        ],
    )
    return report.model_copy(update=change)


def test_summary_shows_each_domains_release_gate_linked_to_its_section(project: Path) -> None:
    """Issue 18, item 1: transactions had failed two release checks and the summary said only "passed"."""
    _write(project / "reports" / "utility" / "records.json", _utility())
    _, page = _report(project)
    summary = re.search(r'<section id="summary".*?</section>', page, flags=re.DOTALL).group(0)  # type: ignore[union-attr]
    assert "Synthetic data (release gate)" in summary
    assert '<a href="#records-utility"><span class="badge badge-fail-critical">critical failure</span></a>' in summary
    assert "2 of 3 checks failed: <code>min_tstr_trtr_auc</code>, <code>max_detection_auc</code>" in summary
    assert summary.count("not run yet") >= 1  # transactions has no utility report
    passed = _utility(
        release_gate_passed=True, release_gate_failed=0, gate_checks=[check.model_copy(update={"passed": True}) for check in _utility().gate_checks]
    )
    _write(project / "reports" / "utility" / "records.json", passed)
    summary = re.search(r'<section id="summary".*?</section>', _report(project)[1], flags=re.DOTALL).group(0)  # type: ignore[union-attr]
    assert "badge-pass" in summary and "3/3 checks passed" in summary


def test_figures_show_their_rows_intervals_and_disagreements(project: Path) -> None:
    """Issue 18, items 3 and 5: sample sizes, bootstrap intervals, too few rows, AUC against accuracy, DCR digits."""
    not_judged = _utility().gate_checks[0].model_copy(update={"judged": False, "rows": 1, "message": "not enough rows to judge: tstr_trtr_auc = 0.222, ..."})
    _write(project / "reports" / "utility" / "records.json", _utility(gate_checks=[not_judged, *_utility().gate_checks[1:]]))
    _, page = _report(project)
    section = _section(page, "records-utility")
    assert "not enough rows to judge: tstr_trtr_auc" in section and "badge-not-judged" in section
    assert "[0.000, 0.610]" in section and "[0.900, 1.000]" in section  # intervals of the generator's and the real AUC
    assert "too few to judge" in section and "rows of the rarer class in the real test split" in section
    assert "Figures that disagree" in section and "right less often (0.158)" in section
    assert "0.000893" in section and "0.000134" in section and "0.000 vs" not in section  # DCR with enough digits
    summary = re.search(r'<section id="summary".*?</section>', page, flags=re.DOTALL).group(0)  # type: ignore[union-attr]
    assert "1 of 3 checks failed; 1 not judged (too few rows)" in summary


def test_each_rule_shows_the_command_that_exports_all_its_rows(project: Path) -> None:
    """Issue 18, item 6: the page showed 3 examples per rule and no way to the rest."""
    _, page = _report(project)
    cleaning = _section(page, "records-cleaning")
    command = "assay quarantine --domain records --rule range:time_in_hospital --out records-range_time_in_hospital.csv"
    assert f'All 30: <code class="command">{command}</code>' in cleaning
    assert "assay quarantine --domain records --rule allowed:race --out records-allowed_race.csv" in cleaning
    assert "--rule long_stay_other" not in cleaning  # no row, no command
    assert "assay quarantine --domain records --out records-all.csv" in cleaning


def _lineage_record(git: dict) -> dict:
    return {
        "lineage_version": 1,
        "domain": "records",
        "targets": {"model": "models/records/generator"},
        "chain": [],
        "stages": [],
        "run": {"git": {"commit": "ab" * 20, **git}},
    }


@pytest.mark.parametrize(
    ("git", "shown", "hidden"),
    [
        (
            {"dirty": True, "uncommitted": ["assay/data/drift.py", "params.yaml"]},
            "with uncommitted changes to <code>assay/data/drift.py</code>, <code>params.yaml</code>",
            None,
        ),
        ({"dirty": True, "uncommitted": []}, "written at commit", "with uncommitted changes"),  # only generated outputs differed: nothing to say
        ({"dirty": True}, "with uncommitted changes", None),  # a record from before the paths were kept
    ],
)
def test_lineage_names_uncommitted_paths_or_says_nothing(project: Path, git: dict, shown: str, hidden: str | None) -> None:
    """Issue 18, item 8: "verified" next to "with uncommitted changes" on every run."""
    path = project / "reports" / "lineage" / "records.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_lineage_record(git)), encoding="utf-8")
    lineage = _section(_report(project)[1], "records-lineage")
    assert shown in lineage
    assert hidden is None or hidden not in lineage


OPEN_ALL_AND_MEASURE = (
    "(() => { document.querySelectorAll('details').forEach(d => d.open = true); return [document.documentElement.scrollWidth, window.innerWidth]; })()"
)


@pytest.mark.browser
@pytest.mark.slow  # starts a browser
def test_expanded_passed_expectations_stay_inside_the_page(project: Path, tmp_path: Path) -> None:
    """Issue 18, item 8: the expanded passed-expectations table made the page 1,787 px wide."""
    if chromium() is None:
        pytest.skip("chromium is not installed (apt-get install chromium); skipping the report browser test")
    codes = [f"V{i:05d}.{i % 97:02d}" for i in range(400)]  # a long value set: one JSON string with no space to break at
    long_ones = [
        ExpectationResult(
            id=f"long{i}",
            type="expect_column_pair_values_a_to_be_greater_than_b_or_something_equally_long",
            column=["number_inpatient_visits_over_the_year", "number_emergency_visits_over_the_year"],
            kwargs={"column": "diag_1", "value_set": codes, "row_condition": 'Quantity>0 and StockCode!="POST"', "condition_parser": "pandas"},
            severity="warning",
            notes="x" * 300,
            success=True,
            element_count=4924,
            unexpected_count=0,
            unexpected_percent=0.0,
        )
        for i in range(5)
    ]
    validation = _validation()
    _write(project / "reports" / "validation" / "records.json", validation.model_copy(update={"expectations": [*validation.expectations, *long_ones]}))
    out, _ = _report(project)
    shot = tmp_path / "expanded.png"
    visit = load_page(out.as_uri(), shot, evaluate={"widths": OPEN_ALL_AND_MEASURE})
    page_width, viewport = visit.values["widths"]
    assert page_width <= viewport, f"the page is {page_width} px wide in a {viewport} px window"
    assert _png_size(shot)[0] == 1280 and visit.errors == []


def test_real_against_synthetic_overlays_heat_maps_and_bars_from_the_data_range(project: Path) -> None:
    """Issue 18, item 5: per-column overlays, association heat maps, similarity bars that tell 0.93 from 1.00, row conditions."""
    from assay.metrics import fidelity

    real = pl.DataFrame({"age": [30, 40, 50, 60, 70] * 4, "race": ["a", "b", "a", "c", "a"] * 4, "stay": [1, 2, 3, 4, 5] * 4})
    synthetic = real.with_columns((pl.col("age") + 5).alias("age"))
    kinds = {"age": "numeric", "race": "categorical", "stay": "numeric"}
    pairs = fidelity.pairwise_similarities(real, {"generator": synthetic, "baseline": synthetic}, kinds)
    distributions = {
        "columns": fidelity.column_distributions(real, {"generator": synthetic, "baseline": synthetic}, kinds),
        "associations": fidelity.association_map(pairs),
    }
    folder = project / "reports" / "utility" / "records"
    folder.mkdir(parents=True)
    (folder / "distributions.json").write_text(json.dumps(distributions), encoding="utf-8")
    columns = [
        {"column": "age", "kind": "numeric", "metric": "ks_complement", "similarity_generator": 0.93, "similarity_baseline": 0.99},
        {"column": "race", "kind": "categorical", "metric": "tv_complement", "similarity_generator": 1.0, "similarity_baseline": 1.0},
        {"column": "stay", "kind": "numeric", "metric": "ks_complement", "similarity_generator": 1.0, "similarity_baseline": 1.0},
    ]
    conditioned = [
        {
            "type": "expect_column_values_to_be_between",
            "column": "Quantity",
            "row_condition": 'InvoiceNo.str.startswith("C")',
            "expects": "max_value=-1",
            "severity": "critical",
            "generator": {"success": False, "unexpected_count": 3, "error": None},
            "baseline": {"success": False, "unexpected_count": 9, "error": None},
        },
        {
            "type": "expect_column_values_to_be_between",
            "column": "Quantity",
            "row_condition": 'not InvoiceNo.str.startswith("C")',
            "expects": "min_value=1",
            "severity": "critical",
            "generator": {"success": False, "unexpected_count": 2, "error": None},
            "baseline": {"success": True, "unexpected_count": 0, "error": None},
        },
    ]
    _write(project / "reports" / "utility" / "records.json", _utility(columns=columns, validity_expectations=conditioned))
    _, page = _report(project)
    section = _section(page, "records-utility")
    assert section.count('<svg class="mini"') == 3 and section.index("<code>age</code> <span") < section.index("<code>race</code> <span")  # least similar first
    assert 'class="s-real"' in section and 'class="s-generator"' in section and 'class="f-baseline"' in section
    assert section.count('<svg class="heat"') == 2 and "real train" in section
    assert "The bars start at 0.9, not 0" in section
    bars = re.findall(r'<g class="bar bar-drift">.*?width="([\d.]+)"', section, flags=re.DOTALL)
    assert float(bars[0]) < 0.5 * float(bars[-1])  # 0.93 is well short of 1.00 on an axis from 0.9
    assert "where <code>InvoiceNo.str.startswith(&#34;C&#34;)</code>" in section and "where <code>not InvoiceNo.str.startswith(&#34;C&#34;)</code>" in section


def test_row_conditions_read_as_steward_text() -> None:
    """Issue 18, item 5: two "expect_column_values_to_be_between on Quantity" rows told apart by their conditions."""
    from assay.report.formatting import condition_text

    assert condition_text({"type": "pass_through", "pass_through_filter": '~InvoiceNo.str.startswith("C")'}) == '~InvoiceNo.str.startswith("C")'
    assert condition_text({"type": "comparison", "column": {"name": "kind"}, "operator": "!=", "parameter": "equation"}) == 'kind != "equation"'
    both = {"type": "and", "conditions": [{"type": "comparison", "column": {"name": "a"}, "operator": ">", "parameter": 1}, "b < 2"]}
    assert condition_text(both) == "(a > 1) and (b < 2)"
    assert condition_text(None) == "" and condition_text("Quantity > 0") == "Quantity > 0"


def test_validation_rows_show_their_row_condition(project: Path) -> None:
    validation = _validation()
    first, second, third = validation.expectations
    condition = {"type": "pass_through", "pass_through_filter": 'InvoiceNo.str.startswith("C")'}
    conditioned = second.model_copy(update={"kwargs": {**second.kwargs, "row_condition": condition, "condition_parser": "pandas"}})
    _write(project / "reports" / "validation" / "records.json", validation.model_copy(update={"expectations": [first, conditioned, third]}))
    section = _section(_report(project)[1], "records-validation")
    assert "where <code>InvoiceNo.str.startswith(&#34;C&#34;)</code>" in section and "condition_parser" not in section
