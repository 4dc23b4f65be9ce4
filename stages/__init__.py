"""Assay: a data-quality-first dataset pipeline driven by DVC.

One module per pipeline stage (``ingest``, ``clean``, ...), plus the typer CLI in ``cli``.
"""

__version__ = "0.1.0"
