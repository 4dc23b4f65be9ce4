"""The model card, built with huggingface_hub's ModelCard, ModelCardData and EvalResult, read back by ModelCard.load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assay.contracts import TrainMetrics, UtilityReport
from assay.lineage.modelcard import render_model_card
from assay.metrics.registry import METRICS

FIGURES = {metric.key: 0.5 + index / 100 for index, metric in enumerate(METRICS)}  # every figure the registry knows


def _record(domain: str) -> dict[str, Any]:
    model = {
        "path": f"models/{domain}/generator",
        "role": "model",
        "stage": f"train@{domain}",
        "md5": "a" * 32 + ".dir",
        "size": 1000,
        "nfiles": 4,
        "rows": None,
    }
    return {
        "domain": domain,
        "targets": {"model": model["path"], "synthetic": None, "utility": f"reports/utility/{domain}.json"},
        "not_produced": {},
        "chain": [{"path": f"data/raw/{domain}", "role": "source", "stage": None, "md5": "b" * 32, "size": 10}, model],
        "run": {"git": {"commit": "c" * 40, "dirty": False}},
    }


def _utility(domain: str, passed: bool) -> UtilityReport:
    check = {
        "check": "min_tstr_auc",
        "metric": "tstr_auc",
        "bound": "min",
        "threshold": 0.9,
        "value": 0.6,
        "passed": passed,
        "message": "tstr_auc = 0.6, needs >= 0.9",
    }
    return UtilityReport(
        domain=domain,
        kind="tabular",
        rows={"synthetic": 100},
        generator=FIGURES,
        baseline={key: value / 2 for key, value in FIGURES.items()},
        release_gate_enabled=True,
        release_gate_passed=passed,
        release_gate_failed=0 if passed else 1,
        gate_checks=[check],
    )


def _metrics() -> TrainMetrics:
    return TrainMetrics.model_validate(
        {
            **{"best_dev_loss": 0.8912345678, "best_epoch": 8, "epochs_run": 8, "stopped_early": False, "train_loss": 0.9, "dev_loss_per_epoch": [0.9, 0.89]},
            **{"train_seconds": 10.0, "train_tokens_per_second": 1.0, "parameters": 1000, "device": "cpu", "device_name": "cpu", "bf16": False, "threads": 2},
            **{"seed": 1, "torch": "2", "train_rows": 100, "dev_rows": 10, "resumed_from": None, "privacy": {"enabled": False}},
        }
    )


def _card(tmp_path: Path, demo_params, domain: str, passed: bool = False) -> Any:
    from huggingface_hub import ModelCard

    text = render_model_card(_record(domain), demo_params.domain(domain), _utility(domain, passed), _metrics())
    path = tmp_path / "README.md"
    path.write_text(text, encoding="utf-8")
    return ModelCard.load(path, ignore_metadata_errors=False)  # strict: a malformed model-index raises


def test_model_index_puts_every_figure_under_the_split_it_is_measured_on(tmp_path: Path, demo_params) -> None:
    card = _card(tmp_path, demo_params, "records")
    results = {result.metric_type: result for result in card.data.eval_results}
    assert len(results) == len(FIGURES) + 1  # every figure (no cap drops the gate figures), and the dev loss
    assert results["loss"].dataset_split == "dev" and results["loss"].metric_value == 0.891235
    assert {results[key].dataset_split for key in ("tstr_auc", "tstr_trtr_auc", "augmentation_auc_lift")} == {"test"}
    assert results["detection_auc"].dataset_split == "train" and results["mia_auc"].dataset_split == "train"
    assert results["tstr_auc"].metric_name == "Train-on-synthetic ROC AUC on real test"
    assert all(result.task_type == "tabular-generation" for result in results.values())


def test_front_matter_license_pipeline_and_gate(tmp_path: Path, demo_params) -> None:
    card = _card(tmp_path, demo_params, "records", passed=False)
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] == "training-data-terms" and data["license_link"] == "README.md#licence"
    assert "pipeline_tag" not in data  # a tabular generator is no text-generation pipeline
    assert data["assay"]["release_gate"] == {"enforced": True, "passed": False, "failed_checks": ["tstr_auc = 0.6, needs >= 0.9"]}
    assert "published with the model" in data["assay"]["vocabulary"]
    assert "\n## Licence\n" in card.text and "Assay's demo data" in card.text
    text_card = _card(tmp_path, demo_params, "course_material", passed=True)
    assert text_card.data.pipeline_tag == "text-generation" and text_card.data.to_dict()["assay"]["release_gate"]["passed"] is True


def test_how_to_use_loads_the_generator_and_samples_with_a_condition(tmp_path: Path, demo_params) -> None:
    card = _card(tmp_path, demo_params, "records")
    usage = card.text.split("## How to use\n", 1)[1].split("\n## ", 1)[0]
    assert 'load_generator(Path("models/records"))' in usage
    assert "generator.sample(1000, where={\"readmitted\": '<30'}, rng=np.random.default_rng(7))" in usage
    assert 'assay synthesize --domain records --model-dir models/records --where "readmitted=<30" -n 1000' in usage
    assert "The vocabulary is published with the model: `generator/generator.json`" in usage


@pytest.mark.parametrize("domain", ["records", "course_material"])
def test_card_is_the_same_bytes_for_the_same_inputs(tmp_path: Path, demo_params, domain: str) -> None:
    first = render_model_card(_record(domain), demo_params.domain(domain), _utility(domain, True), _metrics())
    assert first == render_model_card(_record(domain), demo_params.domain(domain), _utility(domain, True), _metrics())
