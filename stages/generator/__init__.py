"""The generator's encoding layer: table rows as token sequences with one vocabulary per column and
constrained decoding (``codec``), and rows as text for the fine-tuning path (``serialise``)."""
