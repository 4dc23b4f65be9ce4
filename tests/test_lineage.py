"""Lineage: `assay trace`, the lineage record, the model folder (card and lineage copy), OpenLineage export.

The slow tests run `dvc repro lineage@records` once in a temporary copy of the repo with a tiny
generator (about a minute), then tamper with that copy and restore it after each test.
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from assay.contracts import GateCheck, UtilityReport, read_report_data
from assay.lineage.trace import STATES, node_label, seeds_by_key, summarise_utility, worst

from .conftest import REPO_ROOT, copy_repo, run_dvc

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


def test_openlineage_url_comes_from_the_flag_then_the_environment_then_params(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.errors import AssayError
    from assay.lineage.openlineage import openlineage_url

    params = yaml.safe_load((REPO_ROOT / "params.yaml").read_text())
    for domain in params["domains"].values():  # sources made absolute, so that the copy validates
        domain["raw_dir"] = str(REPO_ROOT / domain["raw_dir"])
        for source in domain["sources"]:
            source["path"] = str(REPO_ROOT / source["path"])
    params["openlineage"] = {"url": "http://params:5000"}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    monkeypatch.delenv("OPENLINEAGE_URL", raising=False)
    assert openlineage_url(None, path) == "http://params:5000"
    monkeypatch.setenv("OPENLINEAGE_URL", "http://env:5000")
    assert openlineage_url(None, path) == "http://env:5000"
    assert openlineage_url("http://flag:5000", path) == "http://flag:5000"
    monkeypatch.delenv("OPENLINEAGE_URL")
    with pytest.raises(AssayError, match=r"--transport http needs a URL: --url, OPENLINEAGE_URL, or openlineage.url in"):
        openlineage_url(None, tmp_path / "none.yaml")


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
    # A project whose runs were never committed: the copy's one commit leaves out the lock of the
    # working tree it was copied from, which may already hold some of the md5s these runs make
    # (and so their commit time as the runs' event time).
    (repo / "dvc.lock").unlink(missing_ok=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qa", "--amend", "--no-edit"], cwd=repo, check=True, capture_output=True)
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
    return read_report_data(repo / "reports/ingest/records.json")["sources"][0]["sha256"]


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
    # the target column is a train param too: the generator models it first (generator.target_first)
    assert {p["key"] for p in nodes["models/records/generator"]["params"]} == {"domains.records.generator", "domains.records.evaluate.target.column"}
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
    key = read_report_data(lineage_repo / "reports/clean/records.json")["pseudonym_key"]
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
        utility = read_report_data(lineage_repo / "reports/utility/records.json")
        indexed = {metric["type"] for result in meta["model-index"][0]["results"] for metric in result["metrics"]}
        assert indexed == {"loss"} | {key for key, value in utility["generator"].items() if value is not None}
        assert meta["assay"]["release_gate"]["passed"] == utility["release_gate_passed"]
    else:
        assert "Not evaluated yet" in body


@pytest.mark.slow
def test_model_card_loads_with_huggingface_hub_and_its_usage_example_runs(lineage_repo: Path, tmp_path: Path) -> None:
    from huggingface_hub import ModelCard

    card = ModelCard.load(lineage_repo / "models/records/README.md", ignore_metadata_errors=False)
    assert card.data.license_link == "README.md#licence" and card.data.pipeline_tag is None
    splits = {result.metric_type: result.dataset_split for result in card.data.eval_results}
    assert splits["loss"] == "dev" and splits.get("tstr_auc", "test") == "test"
    # The "How to use" example, run as written in the repository: it loads the generator and samples with the condition.
    snippet = card.text.split("## How to use", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "usage.py"
    script.write_text(snippet + "\nassert sampled.rows.height == 1000, sampled.rows.height\nprint(sorted(set(rows.columns)))\n")
    run = subprocess.run([sys.executable, str(script)], cwd=lineage_repo, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(lineage_repo)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "readmitted" in run.stdout


JOBS = ["schema", "ingest", "clean", "validate", "split", "train", "synthesize", "evaluate", "lineage"]


class _Collector(http.server.BaseHTTPRequestHandler):
    """A lineage server on 127.0.0.1 that keeps what it is sent (class attribute ``received``)."""

    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802 (the http.server hook)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.slow
def test_openlineage_http_transport_posts_every_event_built_with_the_client(lineage_repo: Path) -> None:
    import threading

    from openlineage.client.event_v2 import RunEvent
    from openlineage.client.generated import data_quality_assertions_dataset, source_code_location_job

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Collector.received = []
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = _assay(lineage_repo, "lineage", "export", "--transport", "http", "--url", url, "--domain", "records")
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stderr
    paths = {path for path, _ in _Collector.received}
    events = [event for _, event in _Collector.received]
    assert paths == {"/api/v1/lineage"}
    # Every stage run of the domain, in dependency order (evaluate only once the chain has one).
    jobs = [f"{job}@records" for job in JOBS if job != "evaluate" or (lineage_repo / "reports/utility/records.json").exists()]
    assert [event["job"]["name"] for event in events] == jobs
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=lineage_repo, capture_output=True, text=True, check=True).stdout.strip()
    for event in events:
        assert event["eventType"] == "COMPLETE" and uuid.UUID(event["run"]["runId"]) and event["schemaURL"] == RunEvent._get_schema()
        location = event["job"]["facets"]["sourceCodeLocation"]
        assert location["_schemaURL"] == source_code_location_job.SourceCodeLocationJobFacet._get_schema()
        assert location["version"] == head and location["path"] == f"assay/stages/{event['job']['name'].split('@')[0]}.py"
        for dataset in [*event["inputs"], *event["outputs"]]:  # the naming spec's local files
            assert dataset["namespace"] == "file" and Path(dataset["name"]).is_absolute(), dataset["name"]
    validate = events[jobs.index("validate@records")]
    checked = next(dataset for dataset in validate["inputs"] if dataset["name"].endswith("data/clean/records.parquet"))
    facet = checked["inputFacets"]["dataQualityAssertions"]
    suite = json.loads((lineage_repo / "expectations/records.json").read_text())
    assert facet["_schemaURL"] == data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet._get_schema()
    assert len(facet["assertions"]) == len(suite["expectations"])
    assert {assertion["severity"] for assertion in facet["assertions"]} == {"error", "warn"} and all(a["success"] for a in facet["assertions"])
    clean = events[jobs.index("clean@records")]
    assert clean["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0
    versions = {dataset["name"]: dataset["facets"]["version"]["datasetVersion"] for event in events for dataset in event["outputs"]}
    interim = next(dataset for dataset in clean["inputs"] if dataset["name"].endswith("data/interim/records.parquet"))
    assert versions[interim["name"]] == interim["facets"]["version"]["datasetVersion"]


@pytest.mark.slow
def test_openlineage_file_transport_is_deterministic_and_event_time_is_when_the_run_was_recorded(lineage_repo: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "events.jsonl"
    assert _assay(lineage_repo, "lineage", "export", "--out", str(out), "--domain", "records").returncode == 0
    first = out.read_bytes()
    events = [json.loads(line) for line in first.decode().splitlines()]
    # Not committed yet: the time DVC last wrote dvc.lock, whatever the outputs' modification times say.
    lock_time = datetime.fromtimestamp((lineage_repo / "dvc.lock").stat().st_mtime, tz=UTC)
    assert {datetime.fromisoformat(event["eventTime"]) for event in events} == {lock_time}
    os.utime(lineage_repo / "data/clean/records.parquet", (0, 0))  # as a checkout would: an old file date
    assert _assay(lineage_repo, "lineage", "export", "--out", str(out), "--domain", "records").returncode == 0
    assert out.read_bytes() == first  # same lock, same runs, same times: not new runs in Marquez

    # Committed: the time of the commit that recorded the runs, also in a fresh clone.
    repo = Path(shutil.copytree(lineage_repo, tmp_path / "repo", symlinks=True))
    env = {**os.environ, "GIT_COMMITTER_DATE": "2026-03-04T05:06:07+01:00", "GIT_AUTHOR_DATE": "2026-03-04T05:06:07+01:00"}
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run"], cwd=repo, check=True, capture_output=True, env=env)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(repo), str(clone)], check=True, capture_output=True)
    result = _assay(clone, "lineage", "export", "--transport", "console", "--domain", "records")
    assert result.returncode == 0, result.stderr
    times = {json.loads(line)["eventTime"] for line in result.stdout.splitlines() if line.startswith("{")}
    assert times == {"2026-03-04T04:06:07Z"}


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


@pytest.mark.slow
def test_dvc_metrics_are_figures_only_and_an_identical_rerun_changes_none(lineage_repo: Path, tmp_path: Path) -> None:
    """`dvc metrics show` over the whole chain of a domain holds only figures (no GX internals, timings,
    text), few enough to read; after re-running validate and synthesize on the same inputs,
    `dvc metrics diff` has nothing to say (GX's fingerprints and the timings were what changed)."""
    import shutil

    from .test_metrics import assert_figures_only, leaves

    shown = json.loads(run_dvc(lineage_repo, "metrics", "show", "--json").stdout)
    files = {path: entry["data"] for path, entry in shown[""]["data"].items()}
    assert {path for path in files if "records" in path} == {
        f"reports/{stage}/records.json" for stage in ("ingest", "clean", "validation", "split", "synthesize", "utility")
    } | {"reports/train/records/metrics.json"}
    figures = {f"{path}:{key}": value for path, data in files.items() if "records" in path for key, value in leaves(data).items()}
    assert_figures_only(figures, "dvc metrics show")
    assert 60 < len(figures) <= 200, len(figures)  # the utility report's two sources are most of them

    repo = Path(shutil.copytree(lineage_repo, tmp_path / "repo", symlinks=True))
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True, capture_output=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run"], cwd=repo, check=True, capture_output=True)
    run_dvc(repo, "repro", "--force", "--single-item", "validate@records", "synthesize@records")
    diff = json.loads(run_dvc(repo, "metrics", "diff", "--json").stdout or "{}")
    assert diff == {}, diff


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
