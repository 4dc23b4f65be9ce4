"""Columns the pipeline adds to a domain's own: where each row came from, and why it broke.

Ingest adds all four; clean data keeps the provenance pair, quarantine keeps all four plus the
rule and reason. Validation examples and the report name rows by ``file:line`` through them.
"""

SOURCE_FILE = "_source_file"  # the raw file a row came from, relative to the domain's raw_dir
SOURCE_ROW = "_source_row"  # its line (CSV) or position (course material) in that file, from 1
PROVENANCE = (SOURCE_FILE, SOURCE_ROW)
INGEST_ERROR = "_ingest_error"  # why a row could not be parsed, or null
RAW = "_raw"  # the source text of a row that could not be parsed, identifiers masked
INGEST_COLUMNS = (*PROVENANCE, INGEST_ERROR, RAW)
# The full, unmasked text of a broken line, where ``_raw`` had identifiers masked, was withheld
# or was cut. Only the restricted quarantine keeps it; the report never reads that file.
RAW_RESTRICTED = "_raw_restricted"
