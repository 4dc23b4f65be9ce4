"""Every path in assay.layout is one that dvc.yaml declares, so the CLI defaults, the report loaders
and the pipeline name the same files."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import yaml

from assay.layout import LAYOUT, SPLIT_NAMES, Layout

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "${key}"  # how dvc.yaml's foreach stages name the domain


def _entries(items: list) -> set[str]:
    """The paths of a deps/outs/metrics/plots list, whose items are strings or one-key mappings."""
    return {item if isinstance(item, str) else next(iter(item)) for item in items}


def declared_paths() -> set[str]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    paths: set[str] = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        for field in ("deps", "outs", "metrics", "plots"):
            paths |= _entries(body.get(field, []))
    return paths


def layout_paths(layout: Layout) -> dict[str, Path]:
    """Every artifact path ``layout`` gives for the dvc.yaml domain placeholder."""
    paths = {}
    for name, method in inspect.getmembers(layout, inspect.ismethod):
        if name.startswith("_"):
            continue
        parameters = inspect.signature(method).parameters
        if name == "split":
            paths |= {f"split:{split}": method(DOMAIN, split) for split in SPLIT_NAMES}
        elif parameters:
            paths[name] = method(DOMAIN)
        else:
            paths[name] = method()
    return paths


# The draft suite is written by `assay suite scaffold` for a steward to review, outside the pipeline;
# the checkpoints folder is train's scratch for resuming, deliberately not an output (see dvc.yaml).
OUTSIDE_THE_PIPELINE = {"draft_suite", "checkpoints"}


def test_the_checkpoints_folder_is_passed_to_train_but_not_declared() -> None:
    train = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["train"]["do"]
    assert f"--checkpoints {LAYOUT.checkpoints(DOMAIN).as_posix()}" in " ".join(train["cmd"].split())
    assert LAYOUT.checkpoints(DOMAIN).as_posix() not in declared_paths()


@pytest.mark.parametrize("name", sorted(set(layout_paths(LAYOUT)) - OUTSIDE_THE_PIPELINE))
def test_layout_path_is_declared_in_dvc_yaml(name):
    path = layout_paths(LAYOUT)[name].as_posix()
    declared = declared_paths()
    # A split file lives inside the declared splits folder; the model folder holds declared outs.
    inside = any(path.startswith(folder + "/") for folder in declared)
    holds = any(folder.startswith(path + "/") for folder in declared)
    assert path in declared or inside or holds, f"assay.layout.{name} gives {path}, which no stage in dvc.yaml declares"


def test_layout_moves_with_its_roots(tmp_path):
    layout = Layout(data=tmp_path / "d", reports=tmp_path / "r")
    assert layout.quarantine("records") == tmp_path / "d" / "quarantine" / "records.parquet"
    assert layout.lineage_record("records") == tmp_path / "r" / "lineage" / "records.json"
    assert layout.model("records") == Path("models/records")
