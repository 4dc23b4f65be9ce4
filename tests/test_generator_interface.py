"""One generator interface: typed generator.json, the rejection loop of ``where`` in the base class,
and no branching on a generator's kind or mode outside the variants (fast: no model is trained)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from assay.config import GeneratorSpec
from assay.errors import AssayError
from assay.generator.base import MAX_OVERSAMPLE, Generator
from assay.generator.configs import TabularFineTuneConfig, TabularScratchConfig, TextConfig, read_config
from assay.generator.trainer import Prepared
from assay.generator.variants import VARIANTS, TabularFineTuneGenerator, TabularScratchGenerator, TextGenerator, generator_for

from .conftest import REPO_ROOT


class CoinRows(Generator):
    """Draws rows of a fair coin column (no model): enough to drive the base class's sample loop."""

    kind, mode = "tabular", "scratch"

    def __init__(self, spec: GeneratorSpec, parse_share: float = 1.0) -> None:
        super().__init__("coins", spec)
        self.config = TabularScratchConfig(domain="coins", features=["side"], params={}, codec={})
        self.parse_share = parse_share
        self.drawn_batches: list[int] = []

    def prepare(self, data) -> Prepared:  # noqa: ANN001
        raise NotImplementedError

    def draw(self, n, batch_size, temperature, rng, progress=True):  # noqa: ANN001
        self.drawn_batches.append(n)
        sides = rng.choice(["heads", "tails"], size=int(n * self.parse_share))
        return pl.DataFrame({"side": sides}), n


@pytest.fixture
def spec(demo_params) -> GeneratorSpec:
    return demo_params.domain("records").generator


def test_sample_without_where_returns_exactly_n_rows_and_the_parsed_share(spec) -> None:
    result = CoinRows(spec).sample(500, rng=np.random.default_rng(0), batch_size=64)
    assert result.rows.height == 500 and result.drawn == 500 and result.parsed_share == 1.0


def test_sample_where_keeps_only_matching_rows_and_draws_more(spec) -> None:
    coins = CoinRows(spec)
    result = coins.sample(300, {"side": "heads"}, rng=np.random.default_rng(1), batch_size=64)
    assert result.rows.height == 300 and set(result.rows["side"]) == {"heads"}
    assert result.drawn > 300 and result.parsed_share is None and len(coins.drawn_batches) > 1


def test_sample_where_gives_up_on_a_condition_the_model_never_meets(spec) -> None:
    coins = CoinRows(spec)
    with pytest.raises(AssayError, match="only 0 of .* sampled rows have side='edge'; the model rarely produces it"):
        coins.sample(100, {"side": "edge"}, rng=np.random.default_rng(0), batch_size=64)
    assert sum(coins.drawn_batches) >= MAX_OVERSAMPLE * 100


def test_sample_where_refuses_a_column_the_generator_does_not_model(spec) -> None:
    with pytest.raises(AssayError, match=r"--where can only fix modelled columns .*\['age'\]"):
        CoinRows(spec).sample(10, {"age": 3}, rng=np.random.default_rng(0))


def test_a_model_whose_rows_never_parse_is_a_clear_error(spec) -> None:
    with pytest.raises(AssayError, match="no sampled row parsed into the schema"):
        CoinRows(spec, parse_share=0.0).sample(10, rng=np.random.default_rng(0))


def test_params_pick_the_variant(demo_params, spec) -> None:
    assert type(generator_for("records", spec)) is TabularScratchGenerator
    fine = GeneratorSpec.model_validate({**spec.model_dump(), "base_model": "/models/tiny-gpt2"})
    assert type(generator_for("records", fine)) is TabularFineTuneGenerator
    text = generator_for("course_material", demo_params.domain("course_material").generator)
    assert type(text) is TextGenerator and text.mode == "scratch"
    assert set(VARIANTS.values()) == {TabularScratchGenerator, TabularFineTuneGenerator, TextGenerator}


@pytest.mark.parametrize(
    ("payload", "typed"),
    [
        ({"kind": "tabular", "mode": "scratch", "codec": {"columns": []}}, TabularScratchConfig),
        ({"kind": "tabular", "mode": "fine-tune", "base_model": "/m", "schema": {"age": {"dtype": "Int64"}}}, TabularFineTuneConfig),
        (
            {"kind": "text", "mode": "fine-tune", "base_model": "/m", "text_column": "text", "max_length": 64, "controls": [{"chapter": "1", "len": 3}]},
            TextConfig,
        ),
    ],
)
def test_generator_json_reads_into_its_typed_config_and_writes_back_the_same_keys(tmp_path: Path, payload: dict, typed: type) -> None:
    data = {"domain": "d", "features": ["age"], "params": {"kind": payload["kind"]}, **payload}
    path = tmp_path / "generator.json"
    path.write_text(json.dumps(data))
    config = read_config(path)
    assert type(config) is typed
    assert config.model_dump(mode="json", by_alias=True) == data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mode": "fine-tune"}, "base_model: Field required"),
        ({"features": "age"}, "features: Input should be a valid array"),
        ({"extra": 1}, "extra: Extra inputs are not permitted"),
    ],
)
def test_a_broken_generator_json_is_one_line_naming_the_key(tmp_path: Path, change: dict, message: str) -> None:
    path = tmp_path / "generator.json"
    path.write_text(json.dumps({"domain": "d", "kind": "tabular", "mode": "scratch", "features": ["age"], "params": {}, "codec": {}, **change}))
    with pytest.raises(AssayError) as caught:
        read_config(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value) and "\n" not in str(caught.value)


GENERATOR_NAMES = {"tabular", "text", "scratch", "fine-tune"}
NO_BRANCHING = [
    "assay/stages/synthesize.py",
    "assay/stages/train.py",
    "assay/generator/base.py",
    "assay/generator/training.py",
    "assay/generator/privacy_checks.py",
    "assay/generator/sampling.py",
]


@pytest.mark.parametrize("module", NO_BRANCHING)
def test_synthesis_training_and_privacy_checks_do_not_branch_on_the_kind_of_generator(module: str) -> None:
    """Only the variants (and the factory that picks one) know which generator they are."""
    tree = ast.parse((REPO_ROOT / module).read_text())
    found = [
        f"{module}:{node.lineno}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare) and any(isinstance(part, ast.Constant) and part.value in GENERATOR_NAMES for part in [node.left, *node.comparators])
    ]
    assert not found, f"comparisons with a generator kind or mode: {found}"
