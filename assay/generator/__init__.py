"""Generators of synthetic rows: causal language models over table rows or text units.

- ``codec``: table rows as token sequences, one vocabulary per column, and constrained decoding;
  ``serialise``: rows as text, for fine-tuning a local base model.
- ``model``: the device, the files of a trained generator, tokenizers, building or loading a model.
- ``training``: prepare data -> build model -> train (Hugging Face ``Trainer``) -> save.
- ``privacy_checks``: during training, which checkpoints sit no closer to train than fresh rows do.
- ``sampling``: drawing rows or units from a trained model, and assembling them into the schema.
"""
