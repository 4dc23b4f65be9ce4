"""Lineage: tracing any artifact through ``dvc.lock`` back to raw-file hashes (``trace``), the model
card written beside each model (``modelcard``), and OpenLineage events for other tools
(``openlineage``, with the schemas it validates against in ``assets/``)."""
