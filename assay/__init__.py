"""Assay: a data-quality-first dataset pipeline driven by DVC.

The library is organised by concern; the pipeline's stages are thin entry points over it:

- ``assay.ingest``: raw files -> one frame per domain (CSV and course-material readers).
- ``assay.data``: cleaning rules and quarantine, leakage-free splits, drift between splits.
- ``assay.quality``: Great Expectations validation, suite scaffolding, offline Data Docs.
- ``assay.generator``: one ``Generator`` interface (fit, sample, save, load) with three variants
  (tabular from scratch, tabular fine-tuned, text), the tabular codec and constrained decoding,
  the model and its device, and the privacy checks that decide which checkpoint may be kept.
- ``assay.metrics``: privacy, fidelity and utility of synthetic data, and the release gate.
- ``assay.lineage``: tracing artifacts back to raw-file hashes, model cards, OpenLineage events.
- ``assay.report``: the stewards' page (sections, formatting, templates).
- ``assay.stages``: one module per DVC stage (params and paths in, one library call, outputs out).
- ``assay.cli``: the typer CLI ``assay``, whose commands call the stages and tools.

Shared by all: ``config`` (params, validated), ``contracts`` (a pydantic model for every report
one stage writes and another reads), ``errors`` (one-line errors), ``io`` (atomic writes,
hashes), ``progress`` (logging and progress bars), ``code_deps`` (each stage's import closure,
which ``dvc.yaml`` must cover), ``demo_data`` and ``workspace`` (scratch copies for tests and
benchmarks). Package modules import each other at the top; the only deferred imports are of
heavy third-party packages (GX, torch, transformers, sklearn), so that ``assay --help`` stays fast.
"""

__version__ = "0.1.0"
