"""``assay lineage export --format openlineage``: one OpenLineage RunEvent per stage run in ``dvc.lock``.

Each event is ``COMPLETE`` with the job ``<namespace>/<stage>`` (``clean@records``), a run id that
is a UUID5 of the stage, its command, params and every md5 it read and wrote (so exporting the same
lock twice gives the same runs, not new ones), and the stage's data inputs and outputs as datasets
named by their path in the repo, each with the ``version`` facet (the md5 DVC records), a
``schema`` facet for Parquet files and, for outputs, ``outputStatistics`` (rows, bytes, files).
Code files are not datasets; they are part of the run id. ``eventTime`` is when the stage's newest
output was written. Files are numbered in dependency order, so posting them in name order to a
lineage server (Marquez: ``POST /api/v1/lineage``) builds the graph. The schemas the tests
validate against are in ``assay/lineage/assets/openlineage/`` (see its README).
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay import __version__
from assay.errors import AssayError
from assay.io import write_json
from assay.lineage.trace import Tracer, git_output, has_lock, is_code, is_params, kept_outs, lock_md5, open_repo, row_count, stage_id, stage_params

if TYPE_CHECKING:
    from dvc.output import Output
    from dvc.repo import Repo
    from dvc.stage import Stage

log = logging.getLogger("assay.lineage")

OPENLINEAGE_SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"
OPENLINEAGE_FACETS = {
    "version": "https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
    "schema": "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet",
    "outputStatistics": "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet",
    "jobType": "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
    "processing_engine": "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
}
PRODUCER = f"urn:assay:{__version__}"
RUN_ID_NAMESPACE = uuid.UUID("5b0c6a55-3c1e-4f0e-9a57-61a55a7d1e6e")


def _facet(facet: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": OPENLINEAGE_FACETS[facet], **fields}


def _schema_fields(path: Path) -> list[dict[str, str]] | None:
    import polars as pl

    if not (path.is_file() and path.suffix == ".parquet"):
        return None
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:  # an unreadable file simply gets no schema facet
        return None
    return [{"name": name, "type": str(dtype)} for name, dtype in schema.items()]


def _dataset(tracer: Tracer, item: Output, namespace: str, output: bool) -> dict[str, Any]:
    path = Path(item.fs_path)
    facets: dict[str, Any] = {}
    if item.hash_info:
        facets["version"] = _facet("version", datasetVersion=str(item.hash_info.value))
    fields = _schema_fields(path)
    if fields:
        facets["schema"] = _facet("schema", fields=fields)
    dataset: dict[str, Any] = {"namespace": namespace, "name": tracer.rel(item), "facets": facets}
    if output:
        stats: dict[str, Any] = {}
        rows = row_count(path)
        if isinstance(rows, int):
            stats["rowCount"] = rows
        elif isinstance(rows, dict) and all(isinstance(v, int) for v in rows.values()):
            stats["rowCount"] = sum(rows.values())
        if item.meta and item.meta.size is not None:
            stats["size"] = item.meta.size
        if item.meta and item.meta.nfiles:
            stats["fileCount"] = item.meta.nfiles
        dataset["outputFacets"] = {"outputStatistics": _facet("outputStatistics", **stats)} if stats else {}
    return dataset


def _event_time(stage: Stage, root: Path) -> str:
    """When the run completed, as near as the workspace tells: the newest output's mtime (UTC)."""
    times = [Path(out.fs_path).stat().st_mtime for out in stage.outs if Path(out.fs_path).exists()]
    if times:
        return datetime.fromtimestamp(max(times), tz=UTC).isoformat().replace("+00:00", "Z")
    commit_time = git_output(root, "log", "-1", "--format=%cI")
    return commit_time or datetime.now(tz=UTC).isoformat().replace("+00:00", "Z")


def run_event(tracer: Tracer, stage: Stage, namespace: str) -> dict[str, Any]:
    """The OpenLineage RunEvent (COMPLETE) of one stage run as ``dvc.lock`` records it."""
    from importlib.metadata import version

    repo = tracer.repo
    hashes = [f"{tracer.rel(item)}={lock_md5(item)}" for item in [*stage.deps, *stage.outs] if not is_params(item)]
    material = "\n".join([stage_id(stage), stage.cmd, json.dumps(stage_params(stage), sort_keys=True, default=str), *sorted(hashes)])
    inputs = [_dataset(tracer, dep, namespace, output=False) for dep in stage.deps if not is_params(dep) and not is_code(repo, dep)]
    outputs = [_dataset(tracer, out, namespace, output=True) for out in kept_outs(stage)]
    return {
        "eventType": "COMPLETE",
        "eventTime": _event_time(stage, Path(repo.root_dir)),
        "run": {
            "runId": str(uuid.uuid5(RUN_ID_NAMESPACE, material)),
            "facets": {"processing_engine": _facet("processing_engine", version=version("dvc"), name="dvc", openlineageAdapterVersion=__version__)},
        },
        "job": {
            "namespace": namespace,
            "name": stage_id(stage),
            "facets": {"jobType": _facet("jobType", processingType="BATCH", integration="DVC", jobType="STAGE")},
        },
        "inputs": inputs,
        "outputs": outputs,
        "producer": PRODUCER,
        "schemaURL": f"{OPENLINEAGE_SPEC}#/$defs/RunEvent",
    }


def openlineage_events(repo: Repo, domains: list[str] | None = None, namespace: str = "assay") -> list[tuple[str, dict[str, Any]]]:
    """(file name, RunEvent) for every stage run in ``dvc.lock`` (of ``domains`` if given), dependencies first."""
    import networkx as nx

    tracer = Tracer(repo, with_facts=False)
    graph = repo.index.graph
    order = list(nx.lexicographical_topological_sort(graph.reverse(copy=True), key=stage_id))
    events = []
    for stage in order:
        key = stage_id(stage).partition("@")[2]
        if domains and key not in domains:
            continue
        if not has_lock(stage):
            log.info("openlineage: %s has no entry in dvc.lock; no event", stage_id(stage))
            continue
        events.append((f"{len(events) + 1:02d}-{stage_id(stage).replace('@', '-')}.json", run_event(tracer, stage, namespace)))
    return events


def run_export(out_dir: Path, fmt: str = "openlineage", domains: list[str] | None = None, namespace: str = "assay", root: Path = Path(".")) -> list[Path]:
    """Entry point for ``assay lineage export``: one JSON file per stage run, in ``out_dir``."""

    if fmt != "openlineage":
        raise AssayError(f"--format {fmt}: unknown format; the one supported is openlineage")
    repo = open_repo(root)
    try:
        events = openlineage_events(repo, domains, namespace)
    finally:
        repo.close()
    if not events:
        raise AssayError("no stage has an entry in dvc.lock; run `dvc repro` first")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, event in events:
        write_json(event, out_dir / name)
        written.append(out_dir / name)
    log.info("openlineage: wrote %d RunEvent(s) to %s", len(written), out_dir)
    return written
