"""Generators of synthetic rows: causal language models over table rows or text units.

- ``base``: the one interface, :class:`~assay.generator.base.Generator` (``fit``,
  ``sample(n, where=...)``, ``save``, ``load``): the Trainer loop and the rejection loop of
  ``where`` live here, once. ``configs``: ``generator.json``, typed (one pydantic model per variant).
- ``variants``: the three generators (tabular from scratch, tabular fine-tuned from a local base
  model, text units), :func:`~assay.generator.variants.generator_for` (from params) and
  :func:`~assay.generator.variants.load_generator` (from a model folder).
- ``codec``: table rows as token sequences, one vocabulary per column, and constrained decoding;
  ``serialise``: rows as text, for fine-tuning a local base model.
- ``model``: the device, the files of a trained generator, tokenizers, building a GPT-2 or
  resolving a local base model.
- ``trainer``: the Hugging Face Trainer's parts (datasets, arguments, callbacks, checkpoints);
  ``training``: the ``train`` stage's library call (fit, then save the model and its metrics).
- ``privacy_checks``: during training, which checkpoints sit no closer to train than fresh rows do.
- ``sampling``: the decoding loops the variants call, ``--where`` parsing, and assembling
  sampled rows into the clean schema.
"""
