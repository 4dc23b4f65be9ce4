"""Quality: validating clean data against a domain's Great Expectations suite (``validate``),
scaffolding a suite from params and data (``suite``), and Data Docs that work offline (``datadocs``,
with its ``templates/`` and vendored ``assets/``)."""
