"""Lineage: `assay trace`, the lineage record, the model folder (card and lineage copy), OpenLineage export.

The slow tests run `dvc repro lineage@records` once in a temporary copy of the repo with a tiny
generator (about a minute), then tamper with that copy and restore it after each test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.contracts import GateCheck, UtilityReport
from assay.lineage.trace import STATES, node_label, seeds_by_key, summarise_utility, worst

from .conftest import REPO_ROOT, copy_repo, run_dvc

SCHEMAS = REPO_ROOT / "assay" / "lineage" / "assets" / "openlineage"
SMALL_EVALUATE = {"max_rows": 2000, "max_distance_rows": 500, "max_reference_rows": 2000}
TINY = {"model": {"n_layer": 1, "n_head": 2, "n_embd": 32}, "train": {"budget": None, "max_epochs": 1, "tokens_per_batch": 16384, "patience": 1}}


# ---------------------------------------------------------------------------------------------
# fast: pure helpers


def test_worst_state_orders_missing_modified_stale_ok() -> None:
    assert STATES == ("ok", "stale", "modified", "missing")
    assert worst() == "ok"
    assert worst("ok", "stale") == "stale"
    assert worst("stale", "modified", "ok") == "modified"
    assert worst("missing", "modified") == "missing"


def test_seeds_are_found_at_any_depth() -> None:
    params = {
        "split@r": {"domains.r.split": {"seed": 42, "ratios": {"train": 0.8}}},
        "train@r": {"domains.r.generator": {"train": {"seed": 1}, "sample": {"seed": 7}}},
    }
    assert seeds_by_key(params) == {"domains.r.generator.sample.seed": 7, "domains.r.generator.train.seed": 1, "domains.r.split.seed": 42}


def test_utility_summary_names_the_failed_gate_checks() -> None:
    checks = [
        GateCheck(check="a", metric="tstr_trtr_auc", bound="min", threshold=0.7, value=0.9, passed=True, message="a fine"),
        GateCheck(check="b", metric="mia_auc", bound="max", threshold=0.6, value=0.7, passed=False, message="b too high"),
    ]
    report = UtilityReport(
        domain="records",
        kind="tabular",
        rows={"train": 10},
        generator={},
        baseline={},
        release_gate_enabled=True,
        release_gate_passed=False,
        release_gate_failed=1,
        gate_checks=checks,
    )
    assert summarise_utility(report) == {
        "release_gate_enabled": True,
        "release_gate_passed": False,
        "release_gate_failed": 1,
        "gate_checks_failed": ["b too high"],
    }


def test_node_label_names_path_stage_md5_and_state() -> None:
    node = {
        "path": "data/clean/r.parquet",
        "kind": "output",
        "stage": "clean@r",
        "md5": "a" * 32,
        "size": 2048,
        "nfiles": None,
        "rows": 10,
        "state": "modified",
    }
    label = node_label(node)
    assert label.startswith("✗ data/clean/r.parquet  (clean@r)  md5 " + "a" * 32)
    assert "2.0 KiB, 10 rows" in label and label.endswith("modified")


def _registry() -> Any:
    from referencing import Registry, Resource

    schemas = [json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")]
    return Registry().with_resources([(schema["$id"], Resource.from_contents(schema)) for schema in schemas])


def _openlineage_errors(event: dict[str, Any]) -> list[str]:
    """Errors of a RunEvent against the schema its schemaURL names, and of each facet against its own."""
    from jsonschema import Draft202012Validator

    registry = _registry()
    errors = [error.message for error in Draft202012Validator({"$ref": event["schemaURL"]}, registry=registry).iter_errors(event)]
    facets: list[dict[str, Any]] = [*event["run"].get("facets", {}).values(), *event["job"].get("facets", {}).values()]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        facets.extend(dataset.get("facets", {}).values())
        facets.extend(dataset.get("outputFacets", {}).values())
    for facet in facets:
        errors.extend(error.message for error in Draft202012Validator({"$ref": facet["_schemaURL"]}, registry=registry).iter_errors(facet))
    return errors


def test_openlineage_schema_rejects_a_broken_event() -> None:
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-01-01T00:00:00Z",
        "producer": "urn:assay:test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "assay", "name": "clean@records"},
        "inputs": [],
        "outputs": [{"namespace": "assay", "name": "data/clean/records.parquet", "facets": {}}],
    }
    assert _openlineage_errors(event) == []
    del event["run"]["runId"]
    event["eventType"] = "DONE"
    event["outputs"][0]["facets"]["version"] = {
        "_producer": "urn:assay:test",
        "_schemaURL": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    }
    errors = " ".join(_openlineage_errors(event))
    assert "'runId' is a required property" in errors
    assert "'DONE' is not one of" in errors
    assert "'datasetVersion' is a required property" in errors


# ---------------------------------------------------------------------------------------------
# slow: a real chain in a copy of the repo


def _assay(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run([str(bin_dir / "assay"), *args], cwd=repo, env=env, capture_output=True, text=True)


def tiny_records(repo: Path) -> None:
    """Make the records chain of ``repo``'s params quick to run: a tiny generator, small evaluation samples."""
    params_path = repo / "params.yaml"
    params = yaml.safe_load(params_path.read_text())
    generator = params["domains"]["records"]["generator"]
    for key, values in TINY.items():
        generator[key] = {**generator.get(key, {}), **values}
    generator["sample"] = {**generator.get("sample", {}), "rows": 200}
    # A one-epoch toy model is not what the privacy guard is for; its checks would only add time.
    generator["privacy"] = {**generator["privacy"], "enabled": False}
    # Nor is the release gate; smaller samples keep the evaluate stage quick.
    evaluate = params["domains"]["records"]["evaluate"]
    evaluate["release_gate"] = {**evaluate["release_gate"], "enabled": False}
    evaluate.update(SMALL_EVALUATE)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def lineage_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = copy_repo(tmp_path_factory.mktemp("lineage"))
    tiny_records(repo)
    run_dvc(repo, "repro", "lineage@records")
    return repo


@contextmanager
def _restored(path: Path) -> Iterator[bytes]:
    data = path.read_bytes()
    try:
        yield data
    finally:
        path.write_bytes(data)


@contextmanager
def _byte_flipped_mtime_kept(path: Path) -> Iterator[None]:
    """One byte flipped in ``path``, then its mtime put back, as ``touch -r`` would; restored afterwards."""
    data, before = path.read_bytes(), path.stat()
    middle = len(data) // 2
    try:
        path.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
        yield
    finally:
        path.write_bytes(data)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _ingest_sha256(repo: Path) -> str:
    return json.loads((repo / "reports/ingest/records.json").read_text())["sources"][0]["sha256"]


def _walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["inputs"]:
        yield from _walk(child)


@pytest.mark.slow
def test_trace_of_an_untouched_model_verifies_down_to_the_raw_files(lineage_repo: Path) -> None:
    result = _assay(lineage_repo, "trace", "models/records")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for path in (
        "models/records",
        "data/splits/records/train.parquet",
        "data/clean/records.parquet",
        "data/interim/records.parquet",
        "data/raw/records",
        "expectations/records.json",
    ):
        assert path in out
    assert _ingest_sha256(lineage_repo) in out
    assert "✗" not in out and "models/records: verified" in out


@pytest.mark.slow
def test_trace_json_has_lock_md5s_and_states(lineage_repo: Path) -> None:
    from dvc.repo import Repo

    result = _assay(lineage_repo, "trace", "data/synthetic/records.parquet", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"path", "verified", "state", "checked_by", "bytes_hashed", "causes", "tree"} and data["verified"] is True
    assert data["causes"] == [] and data["checked_by"] == "content"
    nodes = {node["path"]: node for node in _walk(data["tree"]) if not node.get("see_above")}
    with Repo(str(lineage_repo)) as repo:
        stages = {stage.name: stage for stage in repo.index.stages}
        synth_out = next(out for out in stages["synthesize@records"].outs if out.def_path == "data/synthetic/records.parquet")
        raw_dep = next(dep for dep in stages["ingest@records"].deps if dep.def_path == "data/raw/records")
        assert nodes["data/synthetic/records.parquet"]["md5"] == synth_out.hash_info.value
        assert nodes["data/raw/records"]["md5"] == raw_dep.hash_info.value
    assert nodes["data/raw/records"]["kind"] == "source" and nodes["data/raw/records"]["files"][0]["sha256"] == _ingest_sha256(lineage_repo)
    assert nodes["models/records/generator"]["stage"] == "train@records"
    assert {p["key"] for p in nodes["models/records/generator"]["params"]} == {"domains.records.generator"}
    assert nodes["reports/validation/records.json"]["facts"]["validation"]["success"] is True
    assert all(node["state"] == "ok" and node["verified"] for node in _walk(data["tree"]))


@pytest.mark.slow
def test_trace_of_an_unknown_path_is_one_line_and_exit_2(lineage_repo: Path) -> None:
    result = _assay(lineage_repo, "trace", "data/nowhere.parquet")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: data/nowhere.parquet: not an output or a dependency of any stage in dvc.yaml"]


@pytest.mark.slow
def test_a_changed_byte_in_clean_data_is_flagged(lineage_repo: Path) -> None:
    clean = lineage_repo / "data/clean/records.parquet"
    with _restored(clean) as data:
        clean.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
        result = _assay(lineage_repo, "trace", "models/records")
        assert result.returncode == 1
        flagged = [line for line in result.stdout.splitlines() if "data/clean/records.parquet  (clean@records)" in line]
        assert flagged and all(line.lstrip("│├└─ ").startswith("✗") and "modified" in line for line in flagged)
        assert "models/records: NOT verified" in result.stdout
        tree = json.loads(_assay(lineage_repo, "trace", "models/records", "--json").stdout)["tree"]
        assert tree["state"] == "stale"
        assert {node["state"] for node in _walk(tree) if node["path"] == "data/clean/records.parquet"} == {"modified"}
    assert _assay(lineage_repo, "trace", "models/records").returncode == 0


@pytest.mark.slow
def test_a_changed_cleaning_param_makes_the_chain_stale(lineage_repo: Path) -> None:
    params_path = lineage_repo / "params.yaml"
    with _restored(params_path):
        params = yaml.safe_load(params_path.read_text())
        params["domains"]["records"]["clean"]["null_values"].append("N/A")
        params_path.write_text(yaml.safe_dump(params, sort_keys=False))
        result = _assay(lineage_repo, "trace", "models/records/generator", "--json")
        assert result.returncode == 1
        tree = json.loads(result.stdout)["tree"]
        clean = next(node for node in _walk(tree) if node["path"] == "data/clean/records.parquet")
        assert clean["state"] == "stale"
        assert "clean@records: param domains.records.clean modified since it ran" in clean["reasons"]
        # Everything made from it is stale too, up to the model; the raw files are still fine.
        assert tree["state"] == "stale" and any("upstream not verified" in reason for reason in tree["reasons"])
        assert next(node for node in _walk(tree) if node["path"] == "data/raw/records")["state"] == "ok"


@pytest.mark.slow
def test_lineage_record_holds_the_chain_with_lock_md5s_params_and_run(lineage_repo: Path) -> None:
    from dvc.repo import Repo

    record = json.loads((lineage_repo / "reports/lineage/records.json").read_text())
    roles = [node["role"] for node in record["chain"]]
    assert (
        roles.index("source")
        < roles.index("ingest")
        < roles.index("clean")
        < roles.index("validate")
        < roles.index("split")
        < roles.index("train")
        < roles.index("synthesize")
    )
    nodes = {node["path"]: node for node in record["chain"]}
    assert {"data/quarantine/records.parquet", "reports/validation/records.json", "data/splits/records", "data/synthetic/records.parquet"} <= set(nodes)
    with Repo(str(lineage_repo)) as repo:
        for stage in repo.index.stages:
            for out in stage.outs:
                if out.def_path in nodes:
                    assert nodes[out.def_path]["md5"] == out.hash_info.value
                    assert nodes[out.def_path]["size"] == out.meta.size
    assert nodes["data/clean/records.parquet"]["stage"] == "clean@records"
    assert set(nodes["data/clean/records.parquet"]["params"]) == {"domains.records.columns", "domains.records.clean"}
    assert nodes["data/splits/records"]["rows"]["train.parquet"] > 0
    assert nodes["reports/validation/records.json"]["validation"]["suite"] == "expectations/records.json"
    assert nodes["data/raw/records"]["files"][0]["sha256"] == _ingest_sha256(lineage_repo)
    run = record["run"]
    assert len(run["git"]["commit"]) == 40 and isinstance(run["git"]["dirty"], bool) and run["time"] == run["git"]["commit_time"]
    # What the pipeline wrote is not an uncommitted change (issue 18, item 8).
    assert not any(path == "dvc.lock" or path.startswith(("reports/", "models/", "data/")) for path in run["git"]["uncommitted"])
    assert run["packages"]["dvc"] and run["device"]["device"] in ("cpu", "cuda") and run["seeds"]["domains.records.split.seed"] == 42
    assert record["targets"]["model"] == "models/records/generator" and record["targets"]["synthetic"] == "data/synthetic/records.parquet"


@pytest.mark.slow
def test_lineage_stage_output_is_deterministic(lineage_repo: Path) -> None:
    before = (lineage_repo / "reports/lineage/records.json").read_bytes(), (lineage_repo / "models/records/README.md").read_bytes()
    run_dvc(lineage_repo, "repro", "--force", "--single-item", "lineage@records")
    after = (lineage_repo / "reports/lineage/records.json").read_bytes(), (lineage_repo / "models/records/README.md").read_bytes()
    assert before == after
    assert "up to date" in run_dvc(lineage_repo, "status", "lineage@records").stdout.lower()


@pytest.mark.slow
def test_model_card_front_matter_is_yaml_naming_sources_suite_and_model(lineage_repo: Path) -> None:
    text = (lineage_repo / "models/records/README.md").read_text()
    assert text.startswith("---\n")
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["library_name"] == "transformers" and "synthetic-data" in meta["tags"] and meta["license"]
    assert meta["assay"]["sources"][0]["sha256"] == _ingest_sha256(lineage_repo)
    assert meta["assay"]["suite"]["path"] == "expectations/records.json" and len(meta["assay"]["suite"]["sha256"]) == 64
    assert meta["assay"]["validation"] == "passed"
    # The card names the fingerprint of the key that made the pseudonyms, as the cleaning report does.
    key = json.loads((lineage_repo / "reports/clean/records.json").read_text())["pseudonym_key"]
    assert meta["assay"]["pseudonym_key"] == key and len(key["fingerprint"]) == 16 and key["fingerprint"] in body
    assert ("the public demo key" in body) == key["demo_key"]
    assert json.loads((lineage_repo / "reports/lineage/records.json").read_text())["pseudonym_key"] == key
    assert meta["model-index"][0]["results"][0]["metrics"][0]["type"] == "loss"
    for heading in ("## Data provenance", "## Training", "## Utility and privacy", "## Intended use", "## Out of scope and limits", "## How to verify"):
        assert heading in body
    assert _ingest_sha256(lineage_repo) in body
    record = json.loads((lineage_repo / "reports/lineage/records.json").read_text())
    if record["targets"].get("utility"):  # the evaluate stage exists: its results are on the card
        assert "Release gate:" in body and "| Metric | Generator | Naive baseline |" in body
        assert any(metric["name"].startswith("Synthetic data:") for metric in meta["model-index"][0]["results"][0]["metrics"])
    else:
        assert "Not evaluated yet" in body


@pytest.mark.slow
def test_openlineage_export_writes_one_valid_run_event_per_stage_run(lineage_repo: Path, tmp_path: Path) -> None:
    result = _assay(lineage_repo, "lineage", "export", "--format", "openlineage", "--out", str(tmp_path), "--domain", "records")
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*.json"))
    events = [json.loads(path.read_text()) for path in files]
    jobs = [
        "ingest@records",
        "clean@records",
        "validate@records",
        "split@records",
        "train@records",
        "synthesize@records",
        "evaluate@records",
        "lineage@records",
    ]
    if not (lineage_repo / "reports/utility/records.json").exists():
        jobs.remove("evaluate@records")
    assert [event["job"]["name"] for event in events] == jobs
    for event in events:
        assert _openlineage_errors(event) == [], event["job"]["name"]
        assert event["eventType"] == "COMPLETE" and uuid.UUID(event["run"]["runId"])
        datetime.fromisoformat(event["eventTime"])
    clean = events[1]
    assert clean["inputs"][0]["name"] == "data/interim/records.parquet"
    versions = {dataset["name"]: dataset["facets"]["version"]["datasetVersion"] for event in events for dataset in event["outputs"]}
    assert versions["data/interim/records.parquet"] == clean["inputs"][0]["facets"]["version"]["datasetVersion"]
    assert clean["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0
    assert any(field["name"] == "encounter_id" for field in clean["outputs"][0]["facets"]["schema"]["fields"])
    # The same lock gives the same run ids: exporting twice does not create new runs in Marquez.
    again = _assay(lineage_repo, "lineage", "export", "--out", str(tmp_path / "again"), "--domain", "records")
    assert again.returncode == 0
    assert [json.loads(p.read_text())["run"]["runId"] for p in sorted((tmp_path / "again").glob("*.json"))] == [e["run"]["runId"] for e in events]


@pytest.mark.slow
def test_model_folder_holds_card_lineage_and_generator_and_verifies(lineage_repo: Path) -> None:
    folder = lineage_repo / "models/records"
    assert {"README.md", "lineage.json", "metrics.json", "generator"} <= {path.name for path in folder.iterdir()}
    assert (folder / "lineage.json").read_bytes() == (lineage_repo / "reports/lineage/records.json").read_bytes()
    assert (folder / "generator" / "model.safetensors").is_file()
    tree = json.loads(_assay(lineage_repo, "trace", "models/records", "--json").stdout)["tree"]
    assert tree["kind"] == "group" and tree["state"] == "ok"
    assert [child["path"] for child in tree["inputs"]] == [f"models/records/{name}" for name in ("README.md", "generator", "lineage.json", "metrics.json")]
    # The folder is all of train's and lineage's outputs: nothing there is unaccounted for by DVC.
    assert "up to date" in run_dvc(lineage_repo, "status", "train@records", "lineage@records").stdout.lower()
    card = folder / "README.md"
    with _restored(card) as text:
        card.write_bytes(text.replace(b"synthetic", b"SYNTHETIC", 1))
        result = _assay(lineage_repo, "trace", "models/records")
        assert result.returncode == 1 and "models/records: NOT verified" in result.stdout


@pytest.mark.slow
def test_report_has_a_lineage_section_with_verified_marks(lineage_repo: Path) -> None:
    result = _assay(lineage_repo, "report", "--out", "reports/index.html")
    assert result.returncode == 0, result.stderr
    page = (lineage_repo / "reports/index.html").read_text()
    section = page.split('id="records-lineage"', 1)[1].split("</section>", 1)[0]
    assert "✓ verified" in section and "✗ not verified" not in section
    assert "data/synthetic/records.parquet" in section and "data/raw/records" in section
    assert _ingest_sha256(lineage_repo) in section
    clean = lineage_repo / "data/clean/records.parquet"
    with _restored(clean) as data:
        clean.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
        assert _assay(lineage_repo, "report", "--out", "reports/index.html").returncode == 0
        section = (lineage_repo / "reports/index.html").read_text().split('id="records-lineage"', 1)[1].split("</section>", 1)[0]
        assert "✗ not verified" in section and "not what clean@records wrote" in section


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tampered", "traced", "named"),
    [
        ("data/clean/records.parquet", "models/records", "data/clean/records.parquet: modified"),
        ("models/records/generator/model.safetensors", "models/records", "changed inside: models/records/generator/model.safetensors modified"),
        ("data/raw/records/diabetic_data.csv", "models/records", "data/raw/records/diabetic_data.csv"),
        ("data/raw/records/diabetic_data.csv", "data/raw/records", "data/raw/records/diabetic_data.csv"),
    ],
)
def test_a_flipped_byte_with_its_mtime_put_back_is_found_and_named(lineage_repo: Path, tampered: str, traced: str, named: str) -> None:
    # Warm DVC's state cache first, so that it holds this file's inode, mtime and size.
    assert _assay(lineage_repo, "trace", traced, "--fast").returncode == 0
    with _byte_flipped_mtime_kept(lineage_repo / tampered):
        result = _assay(lineage_repo, "trace", traced)
        assert result.returncode == 1, result.stdout
        assert f"{traced}: NOT verified" in result.stdout and "checked by every hash recomputed from the bytes" in result.stdout
        reasons = [reason for node in _walk(json.loads(_assay(lineage_repo, "trace", traced, "--json").stdout)["tree"]) for reason in node["reasons"]]
        assert any(named in reason for reason in reasons), reasons
        fast = _assay(lineage_repo, "trace", traced, "--fast")
        # --fast trusts inode, mtime and size, and says so whatever it finds.
        assert "not checked by content" in fast.stdout and "DVC's state cache" in fast.stdout
    assert _assay(lineage_repo, "trace", traced).returncode == 0


@pytest.mark.slow
def test_trace_json_says_how_it_checked_and_how_much_it_read(lineage_repo: Path) -> None:
    by_content = json.loads(_assay(lineage_repo, "trace", "models/records", "--json").stdout)
    fast = json.loads(_assay(lineage_repo, "trace", "models/records", "--json", "--fast").stdout)
    assert by_content["checked_by"] == "content" and fast["checked_by"] == "state-cache"
    raw_size = (lineage_repo / "data/raw/records/diabetic_data.csv").stat().st_size
    weights = (lineage_repo / "models/records/generator/model.safetensors").stat().st_size
    assert by_content["bytes_hashed"] >= raw_size + weights and fast["bytes_hashed"] is None


def test_uncommitted_sources_leave_out_what_the_pipeline_writes() -> None:
    """Issue 18, item 8: the page said "with uncommitted changes" on every run, because dvc.lock and reports differ."""
    from assay.lineage.trace import uncommitted_sources

    porcelain = "\0".join(
        [
            " M dvc.lock",
            " M reports/split/records.json",
            " M assay/data/drift.py",
            "R  params.new.yaml",
            "params.yaml",
            "?? notes/",
            "?? reports/utility/records/x.json",
            "",
        ]
    )
    generated = ["reports/split/records.json", "reports/utility/records", "data/clean/records.parquet", "dvc.lock"]
    assert uncommitted_sources(porcelain, generated) == ["assay/data/drift.py", "notes", "params.new.yaml"]
    assert uncommitted_sources(" M dvc.lock\0 M reports/split/records.json\0", generated) == []
    assert uncommitted_sources("", generated) == []


def test_uncommitted_paths_are_read_whole_from_git(tmp_path: Path) -> None:
    """The first entry of `git status --porcelain` starts with a space (" M README.md"): not "EADME.md"."""
    import subprocess

    from assay.lineage.trace import run_info

    who = ["-c", "user.name=assay", "-c", "user.email=assay@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "README.md").write_text("a\n")
    (tmp_path / "dvc.lock").write_text("a\n")
    subprocess.run(["git", *who, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(["git", *who, "commit", "-q", "-m", "first"], cwd=tmp_path, check=True)
    (tmp_path / "README.md").write_text("b\n")
    (tmp_path / "dvc.lock").write_text("b\n")
    git = run_info(tmp_path)["git"]
    assert git["dirty"] is True and git["uncommitted"] == ["README.md"]
