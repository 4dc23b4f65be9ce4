"""Ingest: raw source files -> one frame per domain, with provenance and nothing dropped.

``sources`` reads a domain's files as its params describe. The readers: ``tabular`` (CSV sniffing
and parsing), and for course material ``cnxml`` and ``markdown``, which return one row per unit
with the same columns (see ``UNIT_SCHEMA`` in :mod:`assay.ingest.cnxml`): structure (``chapter``,
``section``), a stable ``unit_id``, a ``kind``, the plain ``text``, and provenance
(``_source_file``, ``_source_row``). Nothing that fails to parse is dropped: it becomes a row whose
``_ingest_error`` says why and whose ``_raw`` holds the offending source, so a data steward sees
every problem in the ingest report. ``versioned`` brings raw data from outside the project under
DVC (``assay import-raw``).
"""
