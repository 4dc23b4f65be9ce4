"""The stewards' report: ``page`` gathers each stage's report into sections and renders
``reports/index.html`` from ``templates/``; ``formatting`` is how figures and values read there."""
