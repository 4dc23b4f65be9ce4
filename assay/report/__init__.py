"""The stewards' report: ``page`` gathers each stage's report into sections and renders
``reports/index.html`` from ``templates/``; ``utility`` and ``versions`` load the synthetic-data
and the versions sections; ``formatting`` is how figures and values read there."""
