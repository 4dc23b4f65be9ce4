"""The tabular generator's training loss scores each column among its own ids, as the sampler does."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from assay.config import GeneratorSpec
from assay.generator.gpt2 import column_blocks, new_gpt2

# A vocabulary of 3 reserved ids and three columns: ids 3-6 (4 ids), 7-8 (2), 9-11 (3, one legal).
RANGES = [(3, 7), (7, 9), (9, 12)]
LEGAL = [4, 2, 1]
SPEC = GeneratorSpec.model_validate({"features": ["a", "b", "c"], "model": {"n_layer": 1, "n_head": 2, "n_embd": 16}})


def rows(n: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    columns = [torch.randint(start, start + legal, (n,), generator=generator) for (start, _), legal in zip(RANGES, LEGAL, strict=True)]
    return torch.stack([torch.full((n,), 1), *columns, torch.full((n,), 2)], dim=1)  # BOS, a, b, c, EOS


def model(blocks: list[list[int]] | None):
    torch.manual_seed(0)
    return new_gpt2(SPEC, vocab_size=12, n_positions=5, bos_id=1, eos_id=2, pad_id=0, column_blocks=blocks)


def test_blocks_leave_out_columns_with_one_legal_id() -> None:
    assert column_blocks(RANGES, LEGAL) == [[0, 3, 4], [1, 7, 2]]


def test_loss_is_each_columns_cross_entropy_within_its_block() -> None:
    blocks = column_blocks(RANGES, LEGAL)
    scored, plain = model(blocks), model(None)
    ids = rows(8)
    loss = scored(input_ids=ids, labels=ids).loss
    # the same weights scored over the whole vocabulary, then restricted to each block by hand
    logits = plain(input_ids=ids).logits
    expected = torch.stack(
        [F.cross_entropy(logits[:, position, start : start + size], ids[:, position + 1] - start) for position, start, size in blocks]
    ).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    # and it is not the whole-vocabulary loss: ids of other columns no longer take probability
    assert loss < plain(input_ids=ids, labels=ids).loss


def test_loss_trains_every_weight_it_uses() -> None:
    scored = model(column_blocks(RANGES, LEGAL))
    ids = rows(8)
    scored(input_ids=ids, labels=ids).loss.backward()
    embeddings = scored.get_input_embeddings().weight.grad
    assert embeddings is not None and embeddings[3:9].abs().sum() > 0  # the scored blocks' (tied) output rows


def test_saved_model_loads_as_a_plain_gpt2_with_the_same_scores(tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM

    scored = model(column_blocks(RANGES, LEGAL)).eval()
    scored.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path, local_files_only=True).eval()
    ids = rows(4)
    with torch.no_grad():
        # loaded with transformers' default attention (sdpa), so equal up to float rounding
        assert torch.allclose(loaded(input_ids=ids).logits, scored(input_ids=ids).logits, atol=1e-6)


@pytest.mark.parametrize("blocks", [None, []])
def test_without_blocks_it_is_gpt2s_own_loss(blocks) -> None:
    ids = rows(4)
    assert torch.allclose(model(blocks)(input_ids=ids, labels=ids).loss, model(None)(input_ids=ids, labels=ids).loss)
