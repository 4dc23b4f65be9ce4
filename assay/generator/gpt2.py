"""Building a generator's GPT-2 from params (:func:`new_gpt2`); for tabular rows, one trained the way
it is sampled: each column's token scored among that column's own ids.

A tabular row is BOS, one token per column, EOS, and each column owns a block of the vocabulary
(:class:`assay.generator.codec.ColumnCodec`). The sampler only ever scores the column's own block
(:func:`assay.generator.sampling.sample_tabular_tokens`), so the training loss does the same: per
column, a cross-entropy over that block rather than over the whole vocabulary. Two things follow:

- the model is trained on exactly the distribution it is sampled from, and spends nothing on
  learning that an age token never follows the BOS token;
- it is cheaper: the output layer multiplies each position by its block (records: 345 ids at most)
  instead of all 1,479 ids, and the EOS token, which the sampler never draws, is not scored (nor
  is a column with a single legal id, which the codec leaves out of the sequence anyway). On real
  records (2 CPU cores, fp32) a 110-row training step took 279 ms instead of 336 (README, "Generators").

The weights are those of transformers' ``GPT2LMHeadModel`` and are saved as such: a trained
generator loads with ``AutoModelForCausalLM.from_pretrained`` like any GPT-2. Only training and
dev loss use the column scoring, and only when the config carries ``column_blocks``.
"""

from __future__ import annotations

import functools
from typing import Any

from assay.config import GeneratorSpec


@functools.cache
def column_scored_gpt2() -> type:
    """The ``ColumnScoredGPT2`` class: ``GPT2LMHeadModel`` whose loss, given ``labels``, is the mean
    over rows and scored columns of each column's cross-entropy within its own block
    (``config.column_blocks``). Built on first use, so that importing this module stays cheap."""
    import torch
    import torch.nn.functional as F
    from transformers import GPT2LMHeadModel
    from transformers.modeling_outputs import CausalLMOutputWithCrossAttentions

    class ColumnScoredGPT2(GPT2LMHeadModel):
        # The loss is a per-batch mean: the Trainer divides it by the gradient accumulation steps itself.
        accepts_loss_kwargs = False

        def forward(self, input_ids: torch.Tensor | None = None, labels: torch.Tensor | None = None, **kwargs: Any) -> Any:
            blocks = getattr(self.config, "column_blocks", None)
            if labels is None or not blocks:
                return super().forward(input_ids=input_ids, labels=labels, **kwargs)
            kwargs.pop("num_items_in_batch", None)
            hidden = self.transformer(input_ids, **kwargs).last_hidden_state
            weight = self.get_output_embeddings().weight
            total = hidden.new_zeros((), dtype=torch.float32)
            for position, start, size in blocks:
                # The hidden state at position p predicts the token at p + 1: column p's token (BOS is at 0).
                scores = hidden[:, position] @ weight[start : start + size].T
                total = total + F.cross_entropy(scores.float(), labels[:, position + 1] - start, reduction="sum")
            return CausalLMOutputWithCrossAttentions(loss=total / (labels.shape[0] * len(blocks)))

    return ColumnScoredGPT2


def column_blocks(ranges: list[tuple[int, int]], legal: list[int]) -> list[list[int]]:
    """``[position, first id, ids]`` for each column the loss scores: its whole block of ids
    (``ranges``, [start, end), so a dev value unseen at fit still has its token), for every
    column with more than one id the sampler may choose (``legal``)."""
    return [[position, start, end - start] for position, ((start, end), choices) in enumerate(zip(ranges, legal, strict=True)) if choices > 1]


def new_gpt2(spec: GeneratorSpec, vocab_size: int, n_positions: int, bos_id: int, eos_id: int, pad_id: int, column_blocks: list[list[int]] | None = None):
    """A GPT-2 from ``spec.model``; given ``column_blocks`` (tabular rows), one that scores each
    column among its own ids in training (:func:`column_scored_gpt2`)."""
    from transformers import AutoModelForCausalLM, GPT2Config

    config = GPT2Config(
        vocab_size=vocab_size,
        n_positions=n_positions,
        n_layer=spec.model.n_layer,
        n_head=spec.model.n_head,
        n_embd=spec.model.n_embd,
        resid_pdrop=spec.model.dropout,
        embd_pdrop=spec.model.dropout,
        attn_pdrop=spec.model.dropout,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
        # GPT-2's own tanh approximation of GELU, computed by one fused PyTorch kernel instead of
        # gelu_new's five elementwise operations (the same function; transformers' docs call it
        # much faster), which weigh on a model this small.
        activation_function="gelu_pytorch_tanh",
    )
    # Eager attention ran 2.5x faster than sdpa for these small models on CPU at dropout 0.
    if column_blocks:
        config.column_blocks = column_blocks
        return column_scored_gpt2()._from_config(config, attn_implementation="eager")
    return AutoModelForCausalLM.from_config(config, attn_implementation="eager")
