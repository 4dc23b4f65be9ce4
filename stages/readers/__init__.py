"""Readers that turn course material into one row per unit for the ingest stage.

Each reader returns a polars frame with the same columns (see ``UNIT_SCHEMA`` in
:mod:`stages.readers.cnxml`): structure (``chapter``, ``section``), a stable ``unit_id``, a
``kind``, the plain ``text``, and provenance (``_source_file``, ``_source_row``). Nothing that
fails to parse is dropped: it becomes a row whose ``_ingest_error`` says why and whose ``_raw``
holds the offending source, so a data steward sees every problem in the ingest report.
"""
