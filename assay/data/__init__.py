"""Data: cleaning rules and quarantine (``clean``), leakage-free train/dev/test splits with group
helpers (``split``), and distribution drift between splits (``drift``)."""
