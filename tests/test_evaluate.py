"""Synthetic-data tests (assay/metrics/evaluate.py, assay/metrics/fidelity.py) on slices of the demo data.

The "synthetic" data here is the naive baseline drawn with another seed, or copies of train rows,
so no generator has to be trained: what is tested is the measuring, not a model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from assay.config import DomainSpec, load_params
from assay.contracts import read_report_data
from assay.data.clean import clean_frame
from assay.errors import AssayError
from assay.ingest.sources import ingest_domain
from assay.layout import Layout
from assay.metrics import fidelity
from assay.metrics.evaluate import gate_checks, naive_baseline
from assay.quality.applicability import not_applicable
from assay.stages.evaluate import run_evaluate

from .conftest import REPO_ROOT

FAST = {"max_rows": 600, "max_distance_rows": 300, "max_reference_rows": 600, "detection_folds": 2}


def split_clean(demo_params, domain: str, folder: Path, sizes: tuple[int, int, int]) -> tuple[Path, pl.DataFrame]:
    """Clean demo data cut into train/dev/test by position (no need for the split stage here)."""
    spec = demo_params.domain(domain)
    interim, _ = ingest_domain(domain, spec, REPO_ROOT)
    clean = clean_frame(interim, spec, b"test-key").clean.sample(fraction=1.0, shuffle=True, seed=1)
    n_train, n_dev, n_test = sizes
    parts = {"train": clean.head(n_train), "dev": clean.slice(n_train, n_dev), "test": clean.slice(n_train + n_dev, n_test)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in parts.items():
        part.write_parquet(folder / f"{name}.parquet")
    return folder, parts["train"]


@pytest.fixture(scope="module")
def records(demo_params, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    return split_clean(demo_params, "records", tmp_path_factory.mktemp("records"), (900, 200, 300))


# Every release check switched off; a test turns on the ones it is about.
OFF = {
    name: None
    for name in (
        "min_tstr_trtr_auc",
        "min_tstr_auc",
        "max_detection_auc",
        "min_dcr_p5_ratio",
        "max_exact_copy_excess",
        "max_mia_auc",
        "min_critical_row_pass_share",
    )
}


def params_file(folder: Path, evaluate: dict[str, dict]) -> Path:
    """params.yaml with absolute source paths (so it loads from anywhere) and evaluate settings merged in."""
    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for name, spec in params["domains"].items():
        spec["raw_dir"] = str(REPO_ROOT / spec["raw_dir"])
        for source in spec["sources"]:
            source["path"] = str(REPO_ROOT / source["path"])
        change = evaluate.get(name, {})
        gate = {**spec["evaluate"].get("release_gate", {}), **change.get("release_gate", {})}
        spec["evaluate"] = {**spec["evaluate"], **FAST, **change, "release_gate": gate}
    path = folder / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def evaluate_cli(params: Path, domain: str, splits: Path, synthetic: Path, out: Path) -> object:
    from assay.cli import app

    args = ["evaluate", "--domain", domain, "--params", str(params), "--splits", str(splits), "--synthetic", str(synthetic)]
    args += ["--suite", str(REPO_ROOT / f"expectations/{domain}.json"), "--report", str(out / f"{domain}.json"), "--plots", str(out / domain)]
    return CliRunner().invoke(app, args)


# ---------------------------------------------------------------------------------------------
# pieces


def test_baseline_has_the_synthetic_schema_and_is_seeded(demo_params, records) -> None:
    _, train = records
    domain = demo_params.domain("records")
    first, again, other = (naive_baseline(train, domain, 250, seed) for seed in (3, 3, 4))
    assert first.equals(again) and not first.equals(other)
    assert dict(first.schema) == {name: dtype for name, dtype in train.schema.items() if not name.startswith("_source")}
    assert first.height == 250 and first["encounter_id"][0] == "syn-000001"
    for column in ("age", "time_in_hospital", "readmitted"):
        assert set(first[column].drop_nulls().to_list()) <= set(train[column].drop_nulls().to_list())
    # flags are recomputed from the cleaning rule, as synthesize does
    assert (first["expired_at_discharge"] == first["discharge_disposition_id"].is_in([11, 19, 20, 21])).all()


def test_column_similarity_by_hand() -> None:
    real = pl.DataFrame({"n": [1, 2, 3, 4], "c": ["a", "a", "b", "b"]})
    assert [row["similarity"] for row in fidelity.column_similarities(real, real, {"n": "numeric", "c": "categorical"})] == [1.0, 1.0]
    shifted = pl.DataFrame({"n": [3, 4, 5, 6], "c": ["a", "b", "b", "b"]})
    numbers, categories = fidelity.column_similarities(real, shifted, {"n": "numeric", "c": "categorical"})
    assert numbers["metric"] == "ks_complement" and numbers["similarity"] == 0.5  # KS = 2/4
    assert categories["metric"] == "tv_complement" and categories["similarity"] == 0.75  # TVD = |0.5-0.25|


def test_pairwise_similarity_sees_a_broken_relation() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=2000)
    group = np.where(x > 0, "high", "low")
    real = pl.DataFrame({"x": x, "y": 2 * x + rng.normal(scale=0.1, size=2000), "g": group})
    broken = real.with_columns(pl.col("y").shuffle(seed=1), pl.col("g").shuffle(seed=2))
    kinds = {"x": "numeric", "y": "numeric", "g": "categorical"}
    pairs = {(p["a"], p["b"]): p for p in fidelity.pairwise_similarities(real, {"same": real, "broken": broken}, kinds)}
    assert pairs[("x", "y")]["metric"] == "spearman" and pairs[("x", "y")]["real"] > 0.95
    assert pairs[("x", "y")]["similarity_same"] == 1.0 and pairs[("x", "y")]["similarity_broken"] < 0.6
    assert pairs[("x", "g")]["metric"] == "cramers_v" and pairs[("x", "g")]["real"] > 0.9 and pairs[("x", "g")]["similarity_broken"] < 0.2
    assert fidelity.cramers_v(np.array([0, 1] * 50), np.array([0, 1] * 50), 2, 2) == pytest.approx(1.0, abs=0.02)


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_detection_auc_half_for_the_same_distribution_and_one_for_another() -> None:
    rng = np.random.default_rng(0)
    design = fidelity.Design(columns=("a", "b"), kinds=("numeric", "numeric"), categories=(None, None))

    def factory(n: int):
        return fidelity.make_model("hist_gradient_boosting", design, n, 0)

    real = rng.normal(size=(600, 2))
    same = fidelity.detection_auc(real, rng.normal(size=(600, 2)), factory, 3, 0)
    other = fidelity.detection_auc(real, rng.normal(loc=3.0, size=(600, 2)), factory, 3, 0)
    assert abs(same["auc"] - 0.5) < 0.08 and other["auc"] > 0.99 and len(other["folds"]) == 3


def test_expectations_on_fresh_ids_are_not_applicable(demo_params) -> None:
    from assay.quality.validate import load_suite

    suite = load_suite(REPO_ROOT / "expectations/transactions.json")
    synthetic = pl.DataFrame({"InvoiceNo": ["000001", "C000002"], "CustomerID": ["syn-000001", None], "_source_file": ["s"] * 2, "_source_row": [1, 2]})
    kept, skipped = not_applicable(suite, synthetic, demo_params.domain("transactions").generator.synthetic_ids)
    assert [(item["type"], item["column"]) for item in skipped] == [("expect_column_values_to_match_regex", "CustomerID")]
    # InvoiceNo keeps its checks: synthesis gives it the C prefix of a cancellation, as real data has.
    assert any(e["kwargs"].get("column") == "InvoiceNo" for e in kept["expectations"])
    assert len(kept["expectations"]) == len(suite["expectations"]) - 1
    # Pseudonyms are not fresh ids: clean data keeps every check.
    clean = synthetic.with_columns(pl.lit("0123456789abcdef").alias("CustomerID"))
    assert not_applicable(suite, clean, demo_params.domain("transactions").generator.synthetic_ids)[1] == []


def test_gate_messages_name_metric_value_and_threshold(demo_params) -> None:
    spec = demo_params.domain("records").evaluate
    metrics = {"tstr_trtr_auc": 0.5, "tstr_auc": 0.55, "detection_auc": 0.6, "dcr_p5_ratio": None, "dcr_p5": 0.1, "exact_copy_excess": None, "mia_auc": 0.5}
    checks = {check["check"]: check for check in gate_checks(spec, metrics)}
    # A ratio near 1 can hide a useless model when the real one is weak too: the AUC itself is checked.
    assert not checks["min_tstr_auc"]["passed"] and checks["min_tstr_auc"]["message"].startswith("tstr_auc = 0.55, needs >= 0.6")
    assert not checks["min_tstr_trtr_auc"]["passed"] and checks["min_tstr_trtr_auc"]["message"].startswith("tstr_trtr_auc = 0.5, needs >= ")
    assert checks["max_detection_auc"]["passed"]
    assert checks["min_dcr_p5_ratio"]["passed"]  # undefined ratio: holdout p5 is 0 and the synthetic one is not
    assert not checks["max_exact_copy_excess"]["passed"] and "not measured" in checks["max_exact_copy_excess"]["message"]


def test_a_check_on_too_few_rows_is_not_judged_and_does_not_pass(demo_params) -> None:
    """Issue 18, item 3: course material passed with a train-on-synthetic AUC of 0.222 on 19 test rows."""
    spec = demo_params.domain("records").evaluate
    metrics = {"tstr_trtr_auc": 0.95, "tstr_auc": 0.9, "detection_auc": 0.5, "dcr_p5_ratio": 1.0, "exact_copy_excess": 0.0, "mia_auc": 0.5}
    enough = {"test_class": 200, "detection": 3000, "distance": 3000, "members": 600, "copies": 3000, "synthetic": 3000}
    assert all(check["judged"] and check["passed"] for check in gate_checks(spec, metrics, enough))
    few = {**enough, "test_class": 1}
    checks = {check["check"]: check for check in gate_checks(spec, metrics, few)}
    for name in ("min_tstr_auc", "min_tstr_trtr_auc"):
        assert checks[name]["judged"] is False and checks[name]["passed"] is False and checks[name]["rows"] == 1
        assert checks[name]["message"].startswith("not enough rows to judge: ")
        assert "measured on 1 rows of the rarer class in the real test split" in checks[name]["message"] and "it needs at least 30" in checks[name]["message"]
    assert checks["max_detection_auc"]["judged"] and checks["max_detection_auc"]["passed"]


def test_roc_auc_intervals_come_from_a_seeded_bootstrap_of_the_test_rows() -> None:
    from sklearn.metrics import roc_auc_score

    from assay.metrics.evaluate import bootstrap_auc, interval, weighted_auc

    rng = np.random.default_rng(0)
    truth = rng.random(400) < 0.3
    scores = np.round(rng.random(400) + 0.6 * truth, 2)  # ties included
    assert weighted_auc(truth, scores, np.ones((1, 400)))[0] == pytest.approx(roc_auc_score(truth, scores))
    draws = bootstrap_auc(truth, {True: scores}, 500, seed=3)
    low, high = interval(draws)
    assert low < roc_auc_score(truth, scores) < high and np.array_equal(draws, bootstrap_auc(truth, {True: scores}, 500, seed=3))
    small_low, small_high = interval(bootstrap_auc(truth[:19], {True: scores[:19]}, 500, seed=3))
    assert small_high - small_low > 2 * (high - low)  # 19 rows: a much wider interval
    # A resample without one of the classes has no AUC; it is left out, not counted as 0 or 1.
    assert np.isnan(weighted_auc(truth, scores, np.where(truth, 0.0, 1.0)[None, :])[0])


def test_auc_and_accuracy_that_disagree_are_flagged() -> None:
    from assay.metrics.evaluate import auc_accuracy_disagreement

    notes = auc_accuracy_disagreement("logistic_regression", "real train", {"roc_auc": 1.0, "accuracy": 0.158, "rows": 19}, 0.947, 1)
    assert len(notes) == 1 and "ranks the test rows well (ROC AUC 1.000) but is right less often (0.158)" in notes[0]["message"]
    assert "(19 test rows, 1 of the rarest class)" in notes[0]["message"]
    assert auc_accuracy_disagreement("m", "generator", {"roc_auc": 0.81, "accuracy": 0.75, "rows": 472}, 0.578, 199) == []
    assert auc_accuracy_disagreement("m", "generator", {"roc_auc": 0.3, "accuracy": 0.9, "rows": 50}, 0.6, 20)[0]["message"].count("worse than chance") == 1


@pytest.mark.parametrize(
    ("domain", "change", "message"),
    [
        ("records", {"target": {"column": "patient_nbr", "positive": ["x"]}}, "evaluate.target.column 'patient_nbr' is not modelled"),
        ("records", {"target": {"column": "readmitted"}}, "evaluate.target needs 'positive'"),
        ("records", {"release_gate": {"max_verbatim_excess": 0.0}}, "evaluate.release_gate.max_verbatim_excess applies to text domains only"),
        ("course_material", {"release_gate": {"min_dcr_p5_ratio": 1.0}}, "evaluate.release_gate.min_dcr_p5_ratio"),
        ("course_material", {"models": ["hist_gradient_boosting"]}, "evaluate.models: a text domain uses TF-IDF"),
    ],
)
def test_evaluate_params_errors_name_the_key(demo_params, domain: str, change: dict, message: str) -> None:
    from pydantic import ValidationError

    data = demo_params.domain(domain).model_dump(mode="json")
    evaluate = data["evaluate"]
    for key, value in change.items():
        evaluate[key] = {**evaluate[key], **value} if key == "release_gate" else value
    with pytest.raises(ValidationError, match=message):
        DomainSpec.model_validate(data)


def test_unknown_evaluate_key_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AssayError, match=r"params.yaml: domains.records.evaluate.bogus: unknown key"):
        load_params(params_file(tmp_path, {"records": {"bogus": 1}}))


def test_text_domain_ignores_default_distance_thresholds(demo_params) -> None:
    data = demo_params.domain("course_material").model_dump(mode="json", exclude_unset=True)
    data["evaluate"]["release_gate"] = {"enabled": True}
    spec = DomainSpec.model_validate(data).evaluate
    checks = gate_checks(spec, {"tstr_trtr_auc": 1.0, "detection_auc": 0.5, "verbatim_excess": 0.0})
    assert [check["check"] for check in checks] == ["min_tstr_trtr_auc", "max_detection_auc"]


# ---------------------------------------------------------------------------------------------
# the stage


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_evaluate_writes_metrics_plots_and_is_deterministic(demo_params, records, tmp_path: Path) -> None:
    splits, train = records
    synthetic = naive_baseline(train, demo_params.domain("records"), 1000, seed=99)  # 1,000 rows: enough to judge copies
    synthetic.write_parquet(tmp_path / "synthetic.parquet")
    params = params_file(tmp_path, {"records": {"release_gate": {"enabled": True, **OFF, "min_dcr_p5_ratio": 0.95, "max_exact_copy_excess": 0.001}}})
    result = evaluate_cli(params, "records", splits, tmp_path / "synthetic.parquet", tmp_path / "out")
    assert result.exit_code == 0, result.output
    first = (tmp_path / "out/records.json").read_bytes()
    report = read_report_data(tmp_path / "out/records.json")
    for source in ("generator", "baseline"):
        metrics = report[source]
        assert 0 <= metrics["validity_row_pass_share"] <= 1 and 0 < metrics["column_similarity"] <= 1
        assert 0 <= metrics["detection_auc"] <= 1 and metrics["exact_copy_rate"] < 0.05 and 0.3 < metrics["mia_auc"] < 0.7
        assert metrics["tstr_trtr_auc"] is not None and metrics["dcr_p5_ratio"] > 0.5
    # the "generator" here is itself a baseline draw: the two sides must look alike
    assert abs(report["generator"]["column_similarity"] - report["baseline"]["column_similarity"]) < 0.03
    assert report["target"] == "readmitted in ['<30', '>30']" and report["rows"]["synthetic"] == 1000
    assert [check["check"] for check in report["gate_checks"]] == ["min_dcr_p5_ratio", "max_exact_copy_excess"] and report["release_gate_passed"]
    assert {m["model"] for m in report["utility"][0]["models"]} == {"hist_gradient_boosting", "logistic_regression"}
    assert any(row.get("not_applicable") and row["column"] == "encounter_id" for row in report["validity_expectations"])
    plot = json.loads((tmp_path / "out/records/columns.json").read_text())
    assert {"column", "kind", "similarity_generator", "similarity_baseline"} <= set(plot[0]) and len(plot) == len(report["columns"])
    assert "encounter_id" not in {row["column"] for row in plot}
    # Every figure's sample size, intervals for the utility AUCs, and the gate checks' rows (issue 18, item 3).
    sizes = report["sample_sizes"]
    assert sizes["test"] == 300 and sizes["synthetic"] == 1000 and 0 < sizes["test_class"] < 300 and sizes["members"] > 0
    low, high = report["intervals"]["generator"]["tstr_auc"]
    assert low <= report["generator"]["tstr_auc"] <= high and report["intervals"]["trtr_auc"][0] <= report["trtr_auc"]
    assert all(check["judged"] and check["rows"] for check in report["gate_checks"]) and report["release_gate_not_judged"] == 0
    assert isinstance(report["consistency"], list)

    again = evaluate_cli(params, "records", splits, tmp_path / "synthetic.parquet", tmp_path / "out")
    assert again.exit_code == 0 and (tmp_path / "out/records.json").read_bytes() == first


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_copies_of_train_fail_the_gate_with_one_line_per_check(demo_params, records, tmp_path: Path) -> None:
    splits, train = records
    copies = pl.concat([train.drop("_source_file", "_source_row").head(700)] * 2)  # 1,400 rows: enough to judge copies
    copies.write_parquet(tmp_path / "copies.parquet")
    params = params_file(
        tmp_path, {"records": {"release_gate": {"enabled": True, **OFF, "min_dcr_p5_ratio": 1.0, "max_exact_copy_excess": 0.0, "max_mia_auc": 0.6}}}
    )
    result = evaluate_cli(params, "records", splits, tmp_path / "copies.parquet", tmp_path / "out")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("release gate: ")]
    assert [line.split(" = ")[0] for line in lines] == ["release gate: dcr_p5_ratio", "release gate: exact_copy_excess", "release gate: mia_auc"]
    assert "exact_copy_excess = 1, needs <= 0" in result.output and "failed 3 release check(s)" in result.output
    report = read_report_data(tmp_path / "out/records.json")  # written before the gate stops the stage
    assert report["release_gate_passed"] is False and report["generator"]["exact_copy_rate"] == 1.0
    assert report["generator"]["mia_auc"] > 0.7 and report["generator"]["dcr_p5"] == 0.0  # 700 of the 900 train rows copied, twice


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_text_domain_reports_verbatim_copies(demo_params, tmp_path: Path) -> None:
    splits, train = split_clean(demo_params, "course_material", tmp_path / "course", (150, 30, 40))
    baseline = naive_baseline(train, demo_params.domain("course_material"), 120, seed=5)  # train texts: verbatim copies
    baseline.write_parquet(tmp_path / "units.parquet")
    params = params_file(tmp_path, {"course_material": {"release_gate": {"enabled": False}}})
    result = evaluate_cli(params, "course_material", splits, tmp_path / "units.parquet", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = read_report_data(tmp_path / "out/course_material.json")
    assert report["generator"]["verbatim_span_share"] > 0.8 and report["holdout"]["verbatim_span_share"] < 0.2
    checks = {check["check"]: check for check in report["gate_checks"]}
    assert not checks["max_verbatim_excess"]["passed"] and not report["release_gate_enabled"]
    assert "text_chars" in {row["column"] for row in report["columns"]} and report["target"] == "classify text into chapter"


def test_missing_inputs_are_one_line_errors(demo_params, records, tmp_path: Path) -> None:
    splits, _ = records
    with pytest.raises(AssayError, match=r"synthetic data not found: .*nothing.parquet; run `assay synthesize` first"):
        run_evaluate(
            "records",
            REPO_ROOT / "params.yaml",
            splits,
            tmp_path / "nothing.parquet",
            REPO_ROOT / "expectations/records.json",
            tmp_path / "r.json",
            tmp_path / "p",
        )
    with pytest.raises(AssayError, match="train split not found"):
        run_evaluate(
            "records", REPO_ROOT / "params.yaml", tmp_path, tmp_path / "x.parquet", REPO_ROOT / "expectations/records.json", tmp_path / "r.json", tmp_path / "p"
        )


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_report_section_shows_generator_and_baseline(demo_params, records, tmp_path: Path) -> None:
    from assay.report.page import build_report

    splits, train = records
    naive_baseline(train, demo_params.domain("records"), 500, seed=7).write_parquet(tmp_path / "s.parquet")
    params = params_file(tmp_path, {"records": {"release_gate": {"enabled": False}}})
    assert evaluate_cli(params, "records", splits, tmp_path / "s.parquet", tmp_path / "reports/utility").exit_code == 0
    check = {
        "dev_loss": 0.9,
        "closer_to_train_share": 0.51,
        "closer_to_train_threshold": 0.518,
        "dcr_p5_ratio": 1.02,
        "dcr_median_ratio": 1.0,
        "exact_copy_rate": 0.0,
    }
    checks = [{**check, "epoch": 1, "within_threshold": True}, {**check, "epoch": 2, "closer_to_train_share": 0.53, "within_threshold": False}]
    privacy = {"enabled": True, "chosen_epoch": 1, "why": "best dev loss among the 1 of 2 checked checkpoints <within>", "checks": checks}
    (tmp_path / "reports/train/records").mkdir(parents=True)
    (tmp_path / "reports/train/records/privacy.json").write_text(json.dumps(privacy))  # train writes it beside DVCLive's summary
    page = build_report(load_params(params), Layout(data=tmp_path / "data", reports=tmp_path / "reports"), tmp_path)
    section = page.split('id="records-utility"')[1].split("</section>")[0]
    assert "Generator against baseline" in section and "release check" in section and "<svg" in section
    assert "Exact copies of train rows" in section and "readmitted in [&#39;&lt;30&#39;, &#39;&gt;30&#39;]" in section
    assert "http" not in section and "<script" not in section
    assert "Privacy during training" in section and "1 (kept)" in section and "0.530" in section and "&lt;within&gt;" in section
    assert 'id="transactions-utility"' in page and "dvc repro evaluate@transactions" in page  # not run yet there


def test_column_distributions_share_bins_between_real_and_synthetic() -> None:
    """Issue 18, item 5: per column, real and synthetic distributions on one set of bins."""
    real = pl.DataFrame({"n": [0.0, 1.0, 2.0, 3.0, 4.0, None], "c": ["a", "a", "b", "c", None, "a"]})
    synthetic = pl.DataFrame({"n": [0.0, 0.0, 9.0, 4.0, 2.0, 2.0], "c": ["a", "z", "z", "b", "b", "b"]})
    entries = {e["column"]: e for e in fidelity.column_distributions(real, {"generator": synthetic}, {"n": "numeric", "c": "categorical"})}
    numeric = entries["n"]
    assert (numeric["low"], numeric["high"]) == (0.0, 4.0) and len(numeric["shares"]["real"]) == fidelity.OVERLAY_BINS
    assert sum(numeric["shares"]["real"]) == pytest.approx(1, abs=1e-3) and sum(numeric["shares"]["generator"]) == pytest.approx(1, abs=1e-3)
    assert numeric["outside"]["generator"] == pytest.approx(1 / 6, abs=1e-3) and numeric["missing"]["real"] == pytest.approx(1 / 6, abs=1e-3)
    assert numeric["shares"]["generator"][-1] == pytest.approx(2 / 6, abs=1e-3)  # 9.0 counted in the last bin beside 4.0
    categorical = entries["c"]
    assert categorical["categories"] == ["a", "b", "c", "(other)"]
    assert categorical["shares"]["generator"] == [pytest.approx(1 / 6, abs=1e-3), 0.5, 0.0, pytest.approx(2 / 6, abs=1e-3)]


def test_association_map_keeps_the_most_associated_columns() -> None:
    pairs = [
        {"a": f"c{i}", "b": f"c{j}", "real": (0.9 if (i, j) == (0, 1) else 0.01), "generator": 0.5, "baseline": 0.0}
        for i in range(30)
        for j in range(i + 1, 30)
    ]
    found = fidelity.association_map(pairs)
    assert len(found["columns"]) == fidelity.MAP_COLUMNS and found["left_out"] == 30 - fidelity.MAP_COLUMNS
    assert found["columns"][:2] == ["c0", "c1"] and found["sources"] == ["real", "generator", "baseline"]
    assert [0, 1, 0.9, 0.5, 0.0] in found["cells"] and len(found["cells"]) == fidelity.MAP_COLUMNS * (fidelity.MAP_COLUMNS - 1) // 2


def test_a_macro_average_rests_on_more_rows_than_its_rarest_class() -> None:
    from assay.metrics.evaluate import effective_class_rows

    assert effective_class_rows(np.array([199, 273]), binary=True) == 199
    assert effective_class_rows(np.array([18, 1]), binary=False) == 3  # demo course material: 19 units, 2 chapters
    thirty = np.array([4] + [22] * 29)  # real course material: 644 units over 30 chapters, the rarest with 4
    assert effective_class_rows(thirty, binary=False) > 300 > 30
