"""Lineage: tracing any artifact through ``dvc.lock`` back to raw-file hashes, re-reading the
bytes (``trace``); the lineage record at past git revisions, ``assay trace --rev`` and ``assay
diff`` (``history``); bringing back the exact inputs of a past artifact (``restore``); the DVC
remote the records name (``storage``); the model card written beside each model
(``modelcard``, with huggingface_hub); and OpenLineage events for other tools (``openlineage``,
with openlineage-python)."""
