"""Training and synthesis with tiny models on slices of the demo data (about a minute in all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from assay.config import GeneratorSpec
from assay.contracts import read_report_data
from assay.data.clean import clean_frame
from assay.errors import AssayError
from assay.generator.model import pick_device
from assay.generator.privacy_checks import NOT_CHOSEN, PrivacyLog
from assay.generator.sampling import assemble, parse_where
from assay.generator.trainer import best_checkpoint
from assay.generator.training import train_on_splits
from assay.generator.variants import TabularScratchGenerator, TextGenerator, load_generator
from assay.ingest.sources import ingest_domain

from .conftest import REPO_ROOT

# Privacy checks have their own tests (test_privacy_guard.py); here they would only slow things down.
TINY = {
    "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "max_length": 64},
    "train": {"budget": None, "max_epochs": 2, "tokens_per_batch": 2048, "patience": 2},
    "privacy": {"enabled": False},
}


def tiny_spec(demo_params, domain: str, **overrides) -> GeneratorSpec:
    spec = demo_params.domain(domain).generator
    return GeneratorSpec.model_validate({**spec.model_dump(), **TINY, **overrides})


def train_tiny(demo_params, splits, tmp_path: Path, name: str = "m", callbacks=(), **overrides) -> tuple[Path, dict]:
    train_path, dev_path, _ = splits
    spec = tiny_spec(demo_params, "records", **overrides)
    model_dir = tmp_path / name
    live, checkpoints = tmp_path / f"{name}-live", tmp_path / f"{name}-ckpt"
    metrics = train_on_splits("records", spec, train_path, dev_path, model_dir, live, checkpoints, device=pick_device(), callbacks=callbacks)
    return model_dir, metrics


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_model_dir_holds_model_tokenizer_generator_config_and_metrics(demo_params, records_splits, tmp_path: Path, capfd) -> None:
    model_dir, metrics = train_tiny(demo_params, records_splits, tmp_path)
    # transformers' noise a user cannot act on stays out of the log (the weights are tied)
    logged = capfd.readouterr().err
    assert "loss_type=None" not in logged and "missing keys" not in logged
    for name in ("generator/config.json", "generator/model.safetensors", "generator/tokenizer.json", "generator/generator.json", "metrics.json"):
        assert (model_dir / name).is_file(), name
    assert json.loads((model_dir / "metrics.json").read_text())["best_dev_loss"] == metrics["best_dev_loss"]
    # A finished run leaves nothing to resume: the same inputs again must train, not stop at once.
    assert not any((tmp_path / "m-ckpt").iterdir())
    generator = json.loads((model_dir / "generator" / "generator.json").read_text())
    assert generator["mode"] == "scratch" and generator["features"][0] == "race"
    assert "encounter_id" not in generator["features"] and "patient_nbr" not in generator["features"]
    assert metrics["epochs_run"] == 2 and metrics["best_dev_loss"] == min(metrics["dev_loss_per_epoch"])
    curves = (tmp_path / "m-live" / "plots" / "metrics" / "dev" / "loss.tsv").read_text().splitlines()
    assert curves[0] == "step\tloss" and [line.split("\t")[0] for line in curves[1:]] == ["1", "2"]


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_step_budget_sizes_the_batch_from_the_table(demo_params, records_splits, tmp_path: Path) -> None:
    train_rows = pl.read_parquet(records_splits[0]).height
    budget = {"budget": {"steps": 70}, "min_steps_per_epoch": 20, "max_epochs": 10, "tokens_per_batch": 16384, "patience": 10}
    _, metrics = train_tiny(demo_params, records_splits, tmp_path, train=budget)
    plan = metrics["plan"]
    assert plan["batch_size"] == max(16, train_rows // 20) and plan["steps_per_epoch"] >= 20
    assert plan["planned_steps"] == 70 and plan["steps_per_epoch"] * 3 < 70  # a partial fourth epoch
    # every step bought is run, and the partial epoch is evaluated like the whole ones
    assert metrics["epochs_run"] == pytest.approx(70 / plan["steps_per_epoch"]) and not metrics["stopped_early"]
    assert len(metrics["dev_loss_per_epoch"]) == 4
    assert "budget 70 steps" in plan["why"] and not metrics["stopped_by_deadline"]


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_minutes_budget_times_a_step_and_follows_the_clock(demo_params, records_splits, tmp_path: Path) -> None:
    minutes = 0.1  # 6 s: a few epochs of the tiny model on these rows
    _, metrics = train_tiny(
        demo_params, records_splits, tmp_path, train={"budget": {"minutes": minutes}, "min_steps_per_epoch": 20, "max_epochs": 50, "patience": 50}
    )
    plan = metrics["plan"]
    assert plan["seconds_per_step"] > 0 and f"{minutes:g} minutes" in plan["why"]
    assert plan["most_steps"] == 50 * plan["steps_per_epoch"]  # the Trainer may run up to max_epochs; the clock sets the end
    assert 1 <= metrics["epochs_run"] <= 50 and not metrics["stopped_early"]
    # the clock's last re-plan is where training ended, and the clock ended it
    if metrics["replans"]:
        assert metrics["replans"][-1]["planned_steps"] == metrics["steps_run"]
    assert metrics["stopped_by_deadline"]
    # the clock re-plans from each epoch's pace; one epoch's slack for a busy machine
    epoch_seconds = metrics["train_seconds"] / metrics["epochs_run"]
    assert metrics["train_seconds"] <= minutes * 60 + epoch_seconds + 5


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_an_interrupted_minutes_run_resumes_with_the_end_its_clock_set(demo_params, records_splits, tmp_path: Path) -> None:
    import torch
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.epoch and state.epoch >= 2:  # after the clock's first re-plan (at the second epoch's start)
                raise KeyboardInterrupt("simulated interruption")

    train = {"budget": {"minutes": 0.1}, "min_steps_per_epoch": 20, "max_epochs": 50, "patience": 50}
    with pytest.raises(KeyboardInterrupt):
        train_tiny(demo_params, records_splits, tmp_path, "r", callbacks=[Interrupt()], train=train)
    checkpoint = max((tmp_path / "r-ckpt").glob("*/checkpoint-*"), key=lambda path: int(path.name.rsplit("-", 1)[1]))
    # the schedule's end is in the checkpoint (LambdaLR keeps a callable object's state)
    saved = torch.load(checkpoint / "scheduler.pt", weights_only=True)["lr_lambdas"][0]
    assert saved["horizon"] > int(checkpoint.name.rsplit("-", 1)[1]) and saved["warmup_steps"] >= 1
    _, metrics = train_tiny(demo_params, records_splits, tmp_path, "r", train=train)
    assert metrics["resumed_from"] == str(checkpoint)
    assert metrics["steps_run"] > int(checkpoint.name.rsplit("-", 1)[1]) and metrics["stopped_by_deadline"]


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_same_seed_gives_the_same_weights_on_cpu(demo_params, records_splits, tmp_path: Path) -> None:
    first, _ = train_tiny(demo_params, records_splits, tmp_path, "a")
    second, _ = train_tiny(demo_params, records_splits, tmp_path, "b")
    assert (first / "generator/model.safetensors").read_bytes() == (second / "generator/model.safetensors").read_bytes()


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_interrupted_training_resumes_from_its_last_checkpoint(demo_params, records_splits, tmp_path: Path) -> None:
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001
            if state.epoch and state.epoch >= 1:
                raise KeyboardInterrupt("simulated interruption after the first checkpoint")

    with pytest.raises(KeyboardInterrupt):
        train_tiny(demo_params, records_splits, tmp_path, "r", callbacks=[Interrupt()], train={**TINY["train"], "max_epochs": 3})
    assert not (tmp_path / "r").exists(), "an interrupted run must not leave a model behind"
    _, metrics = train_tiny(demo_params, records_splits, tmp_path, "r", train={**TINY["train"], "max_epochs": 3})
    assert metrics["resumed_from"] is not None and Path(metrics["resumed_from"]).name.startswith("checkpoint-")
    assert metrics["epochs_run"] == 3


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_sampling_parses_every_row_and_keeps_the_clean_schema(demo_params, records_splits, tmp_path: Path) -> None:
    import numpy as np

    model_dir, _ = train_tiny(demo_params, records_splits, tmp_path)
    generator = load_generator(model_dir)
    assert isinstance(generator, TabularScratchGenerator) and generator.config.features == demo_params.domain("records").generator.features
    result = generator.sample(300, rng=np.random.default_rng(0), batch_size=128, temperature=1.0)
    sampled = result.rows
    assert result.drawn == 300 and sampled.height == 300 and result.parsed_share == 1.0  # every row parsed
    _, _, clean = records_splits
    synthetic = assemble(sampled, demo_params.domain("records"), dict(clean.schema), clean)
    expected = {name: dtype for name, dtype in clean.schema.items() if not name.startswith("_source")}
    assert dict(synthetic.schema) == expected
    assert synthetic["encounter_id"].to_list()[:2] == ["syn-000001", "syn-000002"]
    assert not synthetic["patient_nbr"].is_in(clean["patient_nbr"].implode()).any()
    # The flag is recomputed from the cleaning rule, not sampled.
    expired = synthetic["discharge_disposition_id"].is_in([11, 19, 20, 21])
    assert (synthetic["expired_at_discharge"] == expired).all()


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_conditional_sampling_cli(demo_params, records_splits, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assay.cli import app

    model_dir, _ = train_tiny(demo_params, records_splits, tmp_path)
    train_path = records_splits[0]
    out = tmp_path / "cond.parquet"
    args = [
        "synthesize",
        "--domain",
        "records",
        "--model-dir",
        str(model_dir),
        "--train",
        str(train_path),
        "--out",
        str(out),
        "--report",
        str(tmp_path / "r.json"),
    ]
    result = CliRunner().invoke(app, [*args, "--where", "readmitted=<30", "-n", "50"])
    assert result.exit_code == 0, result.output
    frame = pl.read_parquet(out)
    assert frame.height == 50 and frame["readmitted"].unique().to_list() == ["<30"]
    report = read_report_data(tmp_path / "r.json")
    assert report["conditions"] == {"readmitted": "<30"} and report["rows_drawn"] >= 50
    bad = CliRunner().invoke(app, [*args, "--where", "patient_nbr=abc"])
    assert bad.exit_code == 2 and "modelled columns" in bad.output
    # In a process of its own (as dvc runs it), loading the model draws no transformers progress bar.
    command = [str(Path(sys.executable).parent / "assay"), *args, "-n", "20"]
    alone = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert alone.returncode == 0, alone.stderr
    assert "Loading weights" not in alone.stderr and "it/s]" not in alone.stderr, alone.stderr


def test_parse_where_types_values() -> None:
    schema = {"readmitted": pl.String(), "time_in_hospital": pl.Int64()}
    assert parse_where(["readmitted='<30'", "time_in_hospital=3"], schema) == {"readmitted": "<30", "time_in_hospital": 3}
    with pytest.raises(AssayError, match="unknown column 'nope'"):
        parse_where(["nope=1"], schema)
    with pytest.raises(AssayError, match="not a valid Int64"):
        parse_where(["time_in_hospital=many"], schema)


def save_tiny_pretrained(folder: Path, texts: list[str]) -> Path:
    """A randomly initialised GPT-2 and a BPE tokenizer, saved like a hub model would be."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from assay.generator.model import train_bpe_tokenizer

    tokenizer = train_bpe_tokenizer(texts, 400)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=512, n_layer=1, n_head=2, n_embd=32, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_fine_tuning_path_with_a_local_base_model(demo_params, records_splits, tmp_path: Path) -> None:
    from assay.generator.serialise import frame_to_texts

    _, _, clean = records_splits
    spec = demo_params.domain("records").generator
    base = save_tiny_pretrained(tmp_path / "base", frame_to_texts(clean.head(300), spec.features, 0))
    model_dir, metrics = train_tiny(demo_params, records_splits, tmp_path, base_model=str(base), train={**TINY["train"], "max_epochs": 1})
    generator = json.loads((model_dir / "generator" / "generator.json").read_text())
    assert generator["mode"] == "fine-tune" and generator["base_model"] == str(base)
    assert metrics["epochs_run"] == 1


def test_unreachable_base_model_fails_fast_naming_the_setting(demo_params, records_splits, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(AssayError, match=r"generator.base_model='some-org/no-such-model'.*HF_HUB_OFFLINE=1"):
        train_tiny(demo_params, records_splits, tmp_path, base_model="some-org/no-such-model")
    assert time.perf_counter() - started < 5  # (GX/transformers imports included; the hub is never waited on)


@pytest.mark.slow  # trains a generator or runs a full evaluation
def test_text_generator_trains_and_samples_units(demo_params, tmp_path: Path) -> None:
    import numpy as np

    spec = demo_params.domain("course_material")
    interim, _ = ingest_domain("course_material", spec, REPO_ROOT)
    clean = clean_frame(interim, spec, b"").clean
    clean.head(150).write_parquet(tmp_path / "train.parquet")
    clean.slice(150, 40).write_parquet(tmp_path / "dev.parquet")
    gen = GeneratorSpec.model_validate({**spec.generator.model_dump(), **TINY, "vocab_size": 400})
    splits = (tmp_path / "train.parquet", tmp_path / "dev.parquet")
    train_on_splits("course_material", gen, *splits, tmp_path / "m", tmp_path / "live", tmp_path / "ckpt", device=pick_device())
    generator = load_generator(tmp_path / "m")
    assert isinstance(generator, TextGenerator) and generator.mode == "scratch"
    assert {"chapter", "kind", "len"} <= set(generator.config.controls[0])
    units = generator.sample(6, rng=np.random.default_rng(0), batch_size=3, temperature=1.0).rows
    assert units.height > 0 and set(units.columns) == {"chapter", "kind", "text"}
    assert set(units["chapter"].to_list()) <= set(clean["chapter"].to_list())


def test_identifiers_cannot_be_generator_features(demo_params) -> None:
    from assay.config import DomainSpec

    data = demo_params.domain("records").model_dump(mode="json")
    data["generator"]["features"] = [*data["generator"]["features"], "patient_nbr"]
    with pytest.raises(ValueError, match="must not include identifier column"):
        DomainSpec.model_validate(data)


def _state(best_step: int, best_metric: float) -> SimpleNamespace:
    history = [{"loss": 2.0, "epoch": 1.0, "step": 10}]
    history += [{"eval_loss": loss, "epoch": float(epoch), "step": 10 * epoch} for epoch, loss in ((1, 1.5), (2, 1.2), (3, 1.3))]
    return SimpleNamespace(best_model_checkpoint=f"/ckpt/checkpoint-{best_step}", best_metric=best_metric, log_history=history)


def test_kept_checkpoint_is_the_trainers_best_model_record():
    assert best_checkpoint(_state(20, 1.2), None) == (2.0, 1.2, None)
    # With privacy checks, the Trainer ranked by selection loss: epoch 2 failed its check, so epoch 3 is kept.
    log = PrivacyLog(checks=[{"epoch": 2, "dev_loss": 1.2, "within_threshold": False}, {"epoch": 3, "dev_loss": 1.3, "within_threshold": True}])
    assert best_checkpoint(_state(30, 1.3), (None, log)) == (3, 1.3, log.checks[1])
    # Every check failed: the Trainer's best is a NOT_CHOSEN checkpoint, and nothing may be kept.
    failed = PrivacyLog(checks=[{**check, "within_threshold": False} for check in log.checks])
    assert best_checkpoint(_state(20, NOT_CHOSEN), (None, failed))[2] is None


@pytest.mark.parametrize("kernels", [True, False])
def test_cpu_uses_bf16_only_where_it_has_kernels_for_it(monkeypatch, kernels: bool) -> None:
    """bf16 is emulated, and about ten times slower than fp32, on CPUs without AVX-512 or AMX."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: kernels)
    assert pick_device().bf16 is kernels


def test_training_models_the_utility_target_first_unless_told_not_to(demo_params) -> None:
    domain = demo_params.domain("records")
    given, trained = domain.generator.features, domain.trained_generator().features
    target = domain.evaluate.target.column
    assert given[0] != target and trained[0] == target
    assert sorted(trained) == sorted(given) and [name for name in trained if name != target] == [name for name in given if name != target]
    kept = domain.model_copy(update={"generator": domain.generator.model_copy(update={"target_first": False})})
    assert kept.trained_generator().features == given
    course = demo_params.domain("course_material")  # text units: the features are the units' controls, left as given
    assert course.trained_generator().features == course.generator.features
