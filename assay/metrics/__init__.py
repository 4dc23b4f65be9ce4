"""Metrics of synthetic data: privacy (distances, copies, membership inference), fidelity
(columns, pairs, detection), and ``evaluate``, which measures utility, validity and a naive
baseline and applies the release gate."""
