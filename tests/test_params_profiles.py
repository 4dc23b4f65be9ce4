"""params.real.yaml is params.yaml pointed at ../shared/data: same rules, other sources."""

from __future__ import annotations

import yaml

from .conftest import REPO_ROOT

# Keys that may differ between the demo and the real profile, per domain.
PROFILE_KEYS = {"raw_dir", "sources"}


# A split seed is chosen per dataset (re-randomisation: see stages/split.py), so it may differ too.
SEED_KEYS = {("split", "seed")}
# Privacy-check sampling is sized to the data: frequent small checks on the demo, larger on real data.
SIZED_KEYS = {("generator", "privacy")}
# The release gate has the same thresholds everywhere; the demo reports its checks without stopping
# `dvc repro`: its generators train for seconds on a few thousand rows (README, "Synthetic-data tests").
GATE_SWITCH = ("evaluate", "release_gate", "enabled")


def strip_profile_keys(params: dict) -> dict:
    def domain(spec: dict) -> dict:
        kept = {k: v for k, v in spec.items() if k not in PROFILE_KEYS}
        for section, key in SEED_KEYS | SIZED_KEYS:
            kept[section] = {k: v for k, v in kept.get(section, {}).items() if k != key}
        section, group, switch = GATE_SWITCH
        if group in kept.get(section, {}):
            kept[section] = {**kept[section], group: {k: v for k, v in kept[section][group].items() if k != switch}}
        return kept

    return {section: ({name: domain(spec) for name, spec in value.items()} if section == "domains" else value) for section, value in params.items()}


def test_real_profile_has_the_same_rules_as_the_demo() -> None:
    demo = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    real = yaml.safe_load((REPO_ROOT / "params.real.yaml").read_text())
    assert strip_profile_keys(real) == strip_profile_keys(demo), "params.real.yaml drifted from params.yaml beyond sources/raw_dir"


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
