"""params.real.yaml is params.yaml pointed at ../shared/data: same rules, other sources."""

from __future__ import annotations

import yaml

from .conftest import REPO_ROOT

# Keys that may differ between the demo and the real profile, per domain.
PROFILE_KEYS = {"raw_dir", "sources"}


# A split seed is chosen per dataset (re-randomisation: see assay/data/split.py), so it may differ too.
SEED_KEYS = {("split", "seed")}
# Privacy-check sampling, the batch size and the model are sized to the data: frequent small
# checks, smaller batches (more optimiser steps) and a smaller records model on the few thousand
# demo rows. The demo's records target is "readmitted at all", which has enough positives in a
# small test split to measure (README, "What makes the demo learnable").
SIZED_KEYS = {("generator", "privacy"), ("generator", "train"), ("generator", "model"), ("evaluate", "target")}
# The demo's release gate is looser on utility and detection: its generators train for seconds on a
# few thousand rows (README, "Synthetic-data tests"). test_demo_gate_is_no_looser_on_privacy checks the rest.
GATE = ("evaluate", "release_gate")


def strip_profile_keys(params: dict) -> dict:
    def domain(spec: dict) -> dict:
        kept = {k: v for k, v in spec.items() if k not in PROFILE_KEYS}
        for section, key in SEED_KEYS | SIZED_KEYS:
            kept[section] = {k: v for k, v in kept.get(section, {}).items() if k != key}
        section, group = GATE
        kept[section] = {k: v for k, v in kept.get(section, {}).items() if k != group}
        return kept

    return {section: ({name: domain(spec) for name, spec in value.items()} if section == "domains" else value) for section, value in params.items()}


# Real domains without demo data (added to the real profile by params and a suite only).
REAL_ONLY = {"learning"}


def test_real_profile_has_the_same_rules_as_the_demo() -> None:
    demo = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    assert set(real["domains"]) - set(demo["domains"]) == REAL_ONLY
    real["domains"] = {name: spec for name, spec in real["domains"].items() if name not in REAL_ONLY}
    assert strip_profile_keys(real) == strip_profile_keys(demo), "params.real.yaml drifted from params.yaml beyond sources/raw_dir"


def test_every_real_domain_has_a_suite() -> None:
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    for name in real["domains"]:
        assert (REPO_ROOT / "expectations" / f"{name}.json").is_file(), name


def test_real_profile_points_at_shared_data() -> None:
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    for name, spec in real["domains"].items():
        assert spec["raw_dir"].startswith("../shared/data/"), name


def test_gpu_profile_is_the_real_profile_with_bigger_generators() -> None:
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    gpu = yaml.safe_load((REPO_ROOT / "params.gpu.yaml").read_text())
    sizing = {"model", "train", "sample", "privacy"}

    def without_sizing(params: dict) -> dict:
        domains = {}
        for name, spec in params["domains"].items():
            generator = {k: v for k, v in spec["generator"].items() if k not in sizing}
            domains[name] = {**spec, "generator": generator}
        return {**params, "domains": domains}

    assert without_sizing(gpu) == without_sizing(real)
    for spec in gpu["domains"].values():
        assert spec["generator"]["model"]["n_embd"] > 128


def test_demo_gate_is_enforced_and_no_looser_on_privacy_or_validity() -> None:
    demo = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    for name, spec in demo["domains"].items():
        gate, real_gate = spec["evaluate"]["release_gate"], real["domains"][name]["evaluate"]["release_gate"]
        assert gate["enabled"] and real_gate["enabled"], name
        for key in ("min_dcr_p5_ratio", "max_exact_copy_excess", "max_mia_auc", "min_critical_row_pass_share", "max_verbatim_excess"):
            assert gate.get(key) == real_gate.get(key), (name, key)
