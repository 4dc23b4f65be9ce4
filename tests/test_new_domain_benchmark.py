"""The copy figures benchmarks/new_domain.py adds beside the evaluate stage's (README, "A new domain on default settings")."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import polars as pl
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def new_domain():
    sys.path.insert(0, str(BENCHMARKS))  # it imports its sibling scripts' helpers
    try:
        spec = importlib.util.spec_from_file_location("new_domain_benchmark", BENCHMARKS / "new_domain.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        while str(BENCHMARKS) in sys.path:  # the script adds its folder too
            sys.path.remove(str(BENCHMARKS))


def test_copies_of_rows_unique_in_train_are_told_from_copies_of_common_rows(new_domain) -> None:
    # "a" occurs three times in train (a common row), "b" once (a row that singles someone out).
    train = pl.DataFrame({"x": ["a", "a", "a", "b", "c", "d"], "y": [1, 1, 1, 2, 3, 4], "id": [1, 2, 3, 4, 5, 6]})
    holdout = pl.DataFrame({"x": ["a", "e", "f", "g"], "y": [1, 5, 6, 7]})  # fresh rows repeat the common one
    common = pl.DataFrame({"x": ["a", "a", "e", "f"], "y": [1, 1, 5, 6]})
    leaky = pl.DataFrame({"x": ["a", "b", "e", "f"], "y": [1, 2, 5, 6]})
    assert new_domain.copy_rates(train, holdout, common, ["x", "y"]) == {"modelled_copy_excess": 0.25, "unique_row_copy_excess": 0.0}
    assert new_domain.copy_rates(train, holdout, leaky, ["x", "y"]) == {"modelled_copy_excess": 0.25, "unique_row_copy_excess": 0.25}
    # only the modelled columns count: an identifier column in train alone changes nothing
    assert new_domain.copy_rates(train, holdout, leaky, ["x", "y", "id"])["unique_row_copy_excess"] == 0.25
