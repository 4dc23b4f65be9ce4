"""The generator model and where it runs: the device, the files of a trained generator, tokenizers, and building or loading a GPT-2."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay.errors import AssayError

# A model folder, models/<domain>: the trained generator (model, tokenizer, generator.json) in
# generator/, which checkpoint was kept and why in metrics.json; the lineage stage adds the model
# card (README.md) and lineage.json beside them. Separate outputs, because DVC lets one stage own
# a folder but not files that a later stage adds to it.
GENERATOR_DIR = "generator"
GENERATOR_FILE = "generator.json"
METRICS_FILE = "metrics.json"
EOS_TEXT = "<|endoftext|>"
PAD_TEXT = "<|pad|>"


@dataclass(frozen=True)
class Device:
    kind: str  # "cuda" or "cpu"
    name: str
    bf16: bool
    threads: int


THREADS_ENV = "ASSAY_NUM_THREADS"


def cpu_threads() -> int:
    """CPU threads for torch: ``ASSAY_NUM_THREADS`` when set (benchmarks and tests pin it to compare
    thread counts), else every core."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise AssayError(f"{THREADS_ENV}={value!r}: expected a whole number of threads, at least 1")
    return int(value)


def bf16_is_fast(kind: str) -> bool:
    """Whether bf16 autocast speeds this device up rather than slowing it down.

    On a GPU: when the card has bf16. On a CPU: when oneDNN has bf16 kernels for it (AVX-512 or
    AMX). Where it has none (AVX2 only, e.g. many AMD EPYC hosts), bf16 is emulated: a forward pass
    of the real-records generator took 54 s in bf16 against 5.8 s in fp32 on such a CPU, where a
    CPU with AVX-512 trained 2.7 times faster in bf16 than in fp32.
    """
    import torch

    if kind == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN: no bf16 kernels
        return False


def pick_device() -> Device:
    """CUDA when present (bf16 if the card has it, TF32 on), else the CPU with every core (or
    ``ASSAY_NUM_THREADS``), bf16 where the CPU has kernels for it (:func:`bf16_is_fast`)."""
    import torch

    threads = cpu_threads()
    torch.set_num_threads(threads)
    if torch.cuda.is_available():
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        return Device("cuda", torch.cuda.get_device_name(0), bf16_is_fast("cuda"), threads)
    return Device("cpu", "cpu", bf16_is_fast("cpu"), threads)


def control_prefix(row: dict[str, Any], features: list[str]) -> str:
    """The prompt that conditions a text unit, e.g. ``chapter: 2 Cleaning Data | kind: exercise\\n``."""
    return " | ".join(f"{name}: {row[name]}" for name in features) + "\n"


def train_bpe_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on ``texts`` (the train split only)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS_TEXT, PAD_TEXT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token=EOS_TEXT, eos_token=EOS_TEXT, pad_token=PAD_TEXT)


def tabular_tokenizer(codec: Any):
    """A word-level tokenizer whose vocabulary is the codec's tokens, so the model dir is self-describing."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {name: index for index, name in enumerate(codec.token_names())}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token=codec.token_names()[codec.pad_id]))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    names = codec.token_names()
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token=names[codec.pad_id], bos_token=names[codec.bos_id], eos_token=names[codec.eos_id])


def resolve_base_model(base_model: str):
    """Load a pretrained causal LM and its tokenizer without waiting on an unreachable hub.

    A local directory loads with ``local_files_only``. A hub id is tried from the local cache;
    beyond that, with ``HF_HUB_OFFLINE=1`` (set by the Makefile and CI) it fails at once with a
    message naming the setting, instead of retrying for half a minute.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(base_model)
    if path.is_dir():
        try:
            return AutoModelForCausalLM.from_pretrained(path, local_files_only=True), AutoTokenizer.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise AssayError(f"generator.base_model={base_model!r}: not a loadable causal LM directory ({str(exc).splitlines()[0]})") from None
    try:
        return AutoModelForCausalLM.from_pretrained(base_model, local_files_only=True), AutoTokenizer.from_pretrained(base_model, local_files_only=True)
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise AssayError(
            f"generator.base_model={base_model!r} is neither a local directory nor in the local cache, and HF_HUB_OFFLINE=1 forbids the hub; "
            "point generator.base_model at a local directory"
        )
    try:
        return AutoModelForCausalLM.from_pretrained(base_model), AutoTokenizer.from_pretrained(base_model)
    except OSError as exc:
        raise AssayError(f"generator.base_model={base_model!r} could not be loaded from the hub: {str(exc).splitlines()[0]}") from None
