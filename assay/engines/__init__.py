"""Engines other than polars on this machine that stages can run on (``domains.<d>.engine`` in params)."""
