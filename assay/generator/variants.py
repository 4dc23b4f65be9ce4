"""The three generators, behind one interface (:class:`assay.generator.base.Generator`).

- :class:`TabularScratchGenerator`: rows become token sequences through :class:`TabularCodec`
  (one token per column, each column its own vocabulary), a GPT-2 is trained from scratch from a
  ``GPT2Config``, and sampling uses constrained decoding, so every row parses.
- :class:`TabularFineTuneGenerator` (``generator.base_model`` set): rows are serialised as text
  ("age is [70-80), gender is Female, ..." in a random column order), that local model is
  fine-tuned, and sampled text is parsed back (the share that parsed is reported).
- :class:`TextGenerator` (course material): a causal LM over units, each prefixed by its control
  columns (chapter and unit kind), with a byte-level BPE tokenizer trained on the train split, or
  the base model's tokenizer when fine-tuning; sampling draws control prefixes with their train
  frequencies.

:func:`generator_for` picks the variant from a domain's params, :func:`load_generator` from a
trained model folder's ``generator.json``; nothing else branches on the kind of generator.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from assay.config import GeneratorSpec
from assay.errors import AssayError
from assay.generator.base import Generator, PrivacyCheck
from assay.generator.codec import TabularCodec, dtype_to_dict
from assay.generator.configs import TabularFineTuneConfig, TabularScratchConfig, TextConfig, read_config, variant_tag
from assay.generator.dependencies import FunctionalDependency
from assay.generator.gpt2 import column_blocks, new_gpt2
from assay.generator.model import (
    GENERATOR_DIR,
    GENERATOR_FILE,
    Device,
    control_prefix,
    resolve_base_model,
    tabular_tokenizer,
    train_bpe_tokenizer,
)
from assay.generator.privacy_checks import check_tabular, check_text, tabular_reference, text_reference
from assay.generator.sampling import sample_tabular_text, sample_tabular_tokens, sample_text_units
from assay.generator.serialise import frame_to_texts
from assay.generator.trainer import Prepared, TokenDataset, TrainingData

log = logging.getLogger("assay.train")


def _log_rare_values(codec: TabularCodec, min_count: int) -> None:
    """Say, per column, what happens to the values too rare for a token of their own."""
    for col in codec.columns:
        if col.masked:
            log.warning("column %s: every value is held by fewer than %d people in train, so none may be emitted; it is sampled as null", col.name, min_count)
        elif col.pool:
            log.info("column %s: %d rarer values share one token and are drawn with their train frequency", col.name, len(col.pool))


def _log_dependencies(codec: TabularCodec, dependencies: list[FunctionalDependency]) -> None:
    names = codec.token_names()
    offsets = {column.name: column.offset for column in codec.columns}
    for dependency in dependencies:
        if not dependency.partial:
            log.info(
                "%s determines %s in %.2f%% of train rows: sampled rows will hold to it",
                dependency.determinant,
                dependency.dependent,
                100 * dependency.share,
            )
            continue
        rules = [f"{names[offsets[dependency.determinant] + a]} -> {names[offsets[dependency.dependent] + b]}" for a, b in sorted(dependency.mapping.items())]
        log.info(
            "%s in %.2f%% of their train rows: sampled rows will hold to %s",
            ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else ""),
            100 * dependency.share,
            "it" if len(rules) == 1 else "them",
        )


def _base_model(name: str) -> tuple[Any, Any]:
    """A local base model and its tokenizer, with a pad token (GPT-2's tokenizer has none)."""
    model, tokenizer = resolve_base_model(name)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


class TabularScratchGenerator(Generator):
    kind = "tabular"
    mode = "scratch"
    codec: TabularCodec

    def prepare(self, data: TrainingData) -> Prepared:
        spec = self.spec
        # rare_count counts patients (customers) as well as rows: see TabularCodec.fit.
        self.codec = TabularCodec.fit(
            data.train,
            spec.features,
            numeric_bins=spec.numeric_bins,
            rare_count=spec.rare_count,
            min_count=spec.min_value_count,
            groups=data.train_groups,
        )
        _log_rare_values(self.codec, spec.min_value_count or spec.rare_count)
        if spec.dependency_share is not None:
            _log_dependencies(self.codec, self.codec.find_dependencies(data.train, spec.dependency_share))
        train_ids, dev_ids = self.codec.sequences(data.train).tolist(), self.codec.sequences(data.dev).tolist()
        columns = [self.codec.columns[position] for position in self.codec.sequence_positions]
        seq_len = len(columns) + 2
        blocks = column_blocks([(column.offset, column.offset + column.size) for column in columns], [column.n_legal for column in columns])
        self.model = new_gpt2(spec, self.codec.vocab_size, seq_len, self.codec.bos_id, self.codec.eos_id, self.codec.pad_id, blocks)
        self.tokenizer = tabular_tokenizer(self.codec)
        self.config = TabularScratchConfig(domain=self.domain, features=spec.features, params=spec.model_dump(mode="json"), codec=self.codec.to_dict())
        # Every sequence has the same length, so no padding: the default collator stacks them.
        return Prepared(TokenDataset(train_ids, True), TokenDataset(dev_ids, True), None, seq_len)

    def loaded(self) -> None:
        try:
            self.codec = TabularCodec.from_dict(self.config.codec)
        except ValueError as exc:
            raise AssayError(f"{self.folder / GENERATOR_FILE}: codec: {exc} (trained by another version of assay? train it again)") from None

    def sample_tokens(self, n: int, batch_size: int, temperature: float, progress: bool = True) -> np.ndarray:
        """``n`` rows as column tokens (n, n_columns), with constrained decoding."""
        return sample_tabular_tokens(self.model, self.codec, n, batch_size, temperature, progress)

    def draw(self, n: int, batch_size: int, temperature: float, rng: np.random.Generator, progress: bool = True) -> tuple[pl.DataFrame, int]:
        frame, parsed = self.codec.decode(self.sample_tokens(n, batch_size, temperature, progress), rng)
        return frame.filter(pl.Series(parsed)), n

    def privacy_check(self, data: TrainingData, device: Device) -> PrivacyCheck:
        guard = self.spec.privacy
        reference = tabular_reference(self.codec, data.train, data.dev, guard, device.kind, data.dev_groups, data.train_groups)
        return PrivacyCheck(
            lambda: check_tabular(self, reference, guard, self.spec.sample.temperature),
            f"closer-to-train share <= {reference.threshold_closer_share:.3f} (fresh dev rows: {reference.fresh_closer_share:.3f}), "
            f"exact copies <= {reference.threshold_copy_rate:.2%}, "
            + (
                f"DCR 5th-percentile ratio >= {reference.threshold_dcr_p5_ratio:.3f}"
                if reference.threshold_dcr_p5_ratio is not None
                else "no DCR floor (fresh dev rows have twins in train)"
            ),
        )


class TabularFineTuneGenerator(Generator):
    kind = "tabular"
    mode = "fine-tune"

    def prepare(self, data: TrainingData) -> Prepared:
        spec = self.spec
        assert spec.base_model is not None
        self.model, self.tokenizer = _base_model(spec.base_model)
        eos = self.tokenizer.eos_token or ""

        def encode(frame: pl.DataFrame, seed: int) -> list[list[int]]:
            return [self.tokenizer(text + eos)["input_ids"] for text in frame_to_texts(frame, spec.features, seed)]

        column_types = {name: dtype_to_dict(name, data.train.schema[name]) for name in spec.features}
        self.config = TabularFineTuneConfig(
            domain=self.domain, features=spec.features, params=spec.model_dump(mode="json"), base_model=spec.base_model, column_types=column_types
        )
        return Prepared.padded_lm(self.tokenizer, encode(data.train, spec.train.seed), encode(data.dev, spec.train.seed + 1))

    def draw(self, n: int, batch_size: int, temperature: float, rng: np.random.Generator, progress: bool = True) -> tuple[pl.DataFrame, int]:
        return sample_tabular_text(self.model, self.tokenizer, self.config.column_types, n, batch_size, temperature)

    def privacy_check(self, data: TrainingData, device: Device) -> None:
        # The checks measure distances on the codec's tokens, which a fine-tuned text model has not.
        log.warning("privacy checks during training need a generator trained from scratch; they are off for fine-tuning")
        return None


class TextGenerator(Generator):
    kind = "text"

    def __init__(self, domain: str, spec: GeneratorSpec) -> None:
        super().__init__(domain, spec)
        self.mode = "fine-tune" if spec.base_model else "scratch"

    def prepare(self, data: TrainingData) -> Prepared:
        spec = self.spec
        text_column = spec.text_column
        assert text_column is not None

        def documents(frame: pl.DataFrame) -> list[str]:
            return [control_prefix(row, spec.features) + row[text_column] for row in frame.select(*spec.features, text_column).iter_rows(named=True)]

        train_docs, dev_docs = documents(data.train), documents(data.dev)
        if spec.base_model:
            self.model, self.tokenizer = _base_model(spec.base_model)
        else:
            self.tokenizer = train_bpe_tokenizer(train_docs, spec.vocab_size)
            self.model = new_gpt2(
                spec, len(self.tokenizer), spec.model.max_length, self.tokenizer.bos_token_id, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id
            )
        eos = self.tokenizer.eos_token or ""

        def encode(docs: list[str]) -> list[list[int]]:
            return [self.tokenizer(doc + eos, truncation=True, max_length=spec.model.max_length)["input_ids"] for doc in docs]

        controls = data.train.group_by(spec.features, maintain_order=True).len().sort(spec.features)
        self.config = TextConfig(
            domain=self.domain,
            features=spec.features,
            params=spec.model_dump(mode="json"),
            mode=self.mode,
            base_model=spec.base_model,
            text_column=text_column,
            max_length=spec.model.max_length,
            controls=controls.to_dicts(),
        )
        return Prepared.padded_lm(self.tokenizer, encode(train_docs), encode(dev_docs))

    def loaded(self) -> None:
        self.mode = self.config.mode

    def draw(self, n: int, batch_size: int, temperature: float, rng: np.random.Generator, progress: bool = True) -> tuple[pl.DataFrame, int]:
        return sample_text_units(self.model, self.tokenizer, self.config, n, batch_size, temperature, rng, progress)

    def privacy_check(self, data: TrainingData, device: Device) -> PrivacyCheck:
        guard, text = self.spec.privacy, self.config.text_column
        reference = text_reference(data.train[text].to_list(), data.dev[text].to_list(), guard)
        return PrivacyCheck(
            lambda: check_text(self, reference, guard, self.spec.sample.temperature),
            f"verbatim 50-character share <= {reference.threshold_verbatim_share:.3f} (dev units: {reference.fresh_verbatim_share:.3f})",
        )


VARIANTS: dict[str, type[Generator]] = {
    "tabular/scratch": TabularScratchGenerator,
    "tabular/fine-tune": TabularFineTuneGenerator,
    "text": TextGenerator,
}


def generator_for(domain: str, spec: GeneratorSpec) -> Generator:
    """The generator a domain's params ask for, ready to :meth:`~Generator.fit`."""
    return VARIANTS[variant_tag(spec.kind, "fine-tune" if spec.base_model else "scratch")](domain, spec)


def load_generator(model_dir: Path) -> Generator:
    """The trained generator in ``model_dir/generator`` (model in eval mode, tokenizer, typed config)."""
    folder = model_dir / GENERATOR_DIR
    config_path = folder / GENERATOR_FILE
    if not config_path.is_file():
        raise AssayError(f"{model_dir}: no trained generator here ({GENERATOR_DIR}/{GENERATOR_FILE} missing); run `assay train` first")
    config = read_config(config_path)
    return VARIANTS[variant_tag(config.kind, config.mode)].load(folder, config)
