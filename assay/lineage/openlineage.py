"""``assay lineage export``: one OpenLineage RunEvent per stage run in ``dvc.lock``, through ``openlineage-python``.

Events are built with the client's own classes (``openlineage.client.event_v2`` and the facets in
``openlineage.client.generated``, which carry the current facet versions) and emitted through its
transports: ``file`` (newline-delimited JSON, the client's ``FileTransport``), ``console`` (stdout)
or ``http`` (a Marquez or any OpenLineage endpoint: ``--url``, else the client's own
``OPENLINEAGE_URL``, else ``openlineage.url`` in params).

Each event is ``COMPLETE``:

- **job**: ``<namespace>/<stage>`` (``clean@records``), with ``jobType`` (BATCH, DVC, STAGE) and
  ``sourceCodeLocation``: the git remote (without credentials; the checkout's folder when there is
  none), the stage's module and the commit.
- **run**: a UUID5 of the stage, its command, params and every md5 it read and wrote, so exporting
  the same lock twice gives the same runs, not new ones; ``processing_engine`` is DVC.
- **datasets**: the stage's data inputs and outputs, named as the OpenLineage naming spec names local
  files (namespace ``file``, name the absolute path), each with ``version`` (the md5 DVC records),
  ``schema`` for Parquet files and, for outputs, ``outputStatistics`` (rows, bytes, files). The data a
  validation checked gets ``dataQualityAssertions``: every expectation of the suite, its result and
  severity (critical as ``error``, warning as ``warn``). Code files are not datasets; they are part
  of the run id.
- **eventTime**: when the run was recorded, which survives a checkout and a clone: the commit time
  of the commit that first held this run's output md5s in ``dvc.lock``; a run not committed yet
  takes the time DVC last wrote ``dvc.lock`` (it writes the lock as each stage finishes). The
  outputs' modification times are when they were last checked out, not when they were made.

Events come in dependency order, so a lineage server builds the graph as they arrive.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from assay import __version__
from assay.config import load_params
from assay.contracts import ValidationReport, as_contract, is_details_path
from assay.errors import AssayError
from assay.lineage.trace import (
    Tracer,
    git_output,
    has_lock,
    is_code,
    is_params,
    kept_outs,
    lock_md5,
    open_repo,
    read_json_or_empty,
    row_count,
    stage_id,
    stage_params,
)

if TYPE_CHECKING:
    from dvc.output import Output
    from dvc.repo import Repo
    from dvc.stage import Stage

log = logging.getLogger("assay.lineage")

PRODUCER = f"urn:assay:{__version__}"  # a URI naming the producing code, as the spec asks
RUN_ID_NAMESPACE = uuid.UUID("5b0c6a55-3c1e-4f0e-9a57-61a55a7d1e6e")
TRANSPORTS = ("file", "console", "http")
SEVERITY = {"critical": "error", "warning": "warn"}  # the spec's words for blocking and non-blocking tests
_LOCK_MD5 = re.compile(r"^\+\s+md5: ([0-9a-f]{32}(?:\.dir)?)\s*$")


def _utc(stamp: datetime) -> str:
    return stamp.astimezone(UTC).isoformat().replace("+00:00", "Z")


def recorded_times(root: Path) -> dict[str, tuple[int, str]]:
    """``{md5: (commit number, time)}``: the first commit whose ``dvc.lock`` held each md5, oldest commit 0
    (one ``git log`` for all)."""
    history = git_output(root, "log", "--reverse", "--format=commit %cI", "-p", "--unified=0", "--", "dvc.lock") or ""
    found: dict[str, tuple[int, str]] = {}
    commit: tuple[int, str] | None = None
    for line in history.splitlines():
        if line.startswith("commit "):
            commit = (commit[0] + 1 if commit else 0, _utc(datetime.fromisoformat(line.removeprefix("commit ").strip())))
        elif commit and (match := _LOCK_MD5.match(line)):
            found.setdefault(match.group(1), commit)
    return found


def _event_time(stage: Stage, root: Path, recorded: dict[str, tuple[int, str]]) -> str:
    md5s = [lock_md5(out) for out in stage.outs]
    if md5s and all(md5 in recorded for md5 in md5s):
        return max(recorded[md5] for md5 in md5s if md5)[1]  # the first commit that held all of this run's outputs
    return _utc(datetime.fromtimestamp((root / "dvc.lock").stat().st_mtime, tz=UTC))


def _without_credentials(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        parts = parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts)


def _code_location(root: Path) -> dict[str, Any]:
    """The git remote (or this checkout), commit and branch: the same for every stage."""
    remote = git_output(root, "remote", "get-url", "origin")
    branch = git_output(root, "rev-parse", "--abbrev-ref", "HEAD")
    return {
        "url": _without_credentials(remote.strip()) if remote else root.resolve().as_uri(),
        "version": (git_output(root, "rev-parse", "HEAD") or "").strip() or None,
        "branch": branch.strip() if branch and branch.strip() != "HEAD" else None,
    }


def _stage_module(repo: Repo, stage: Stage) -> str | None:
    """The stage's entry module (``assay/stages/clean.py``), from its code deps."""
    code = [Path(dep.fs_path).relative_to(repo.root_dir).as_posix() for dep in stage.deps if is_code(repo, dep)]
    return next((path for path in code if path.startswith("assay/stages/") and not path.endswith("__init__.py")), None)


def _schema_facet(path: Path) -> Any:
    import polars as pl
    from openlineage.client.generated import schema_dataset

    if not (path.is_file() and path.suffix == ".parquet"):
        return None
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:  # an unreadable file simply gets no schema facet
        return None
    fields = [
        schema_dataset.SchemaDatasetFacetFields(name=name, type=str(dtype), ordinal_position=index) for index, (name, dtype) in enumerate(schema.items(), 1)
    ]
    return schema_dataset.SchemaDatasetFacet(fields=fields)


def _facets(item: Output) -> dict[str, Any]:
    from openlineage.client.generated import dataset_version_dataset

    facets: dict[str, Any] = {}
    if item.hash_info:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(item.hash_info.value))
    schema = _schema_facet(Path(item.fs_path))
    if schema is not None:
        facets["schema"] = schema
    return facets


def _name(item: Output) -> tuple[str, str]:
    from openlineage.client.naming.dataset import LocalFileSystem

    naming = LocalFileSystem(path=str(Path(item.fs_path).resolve()))
    return naming.get_namespace(), naming.get_name()


def _output_dataset(item: Output) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.generated import output_statistics_output_dataset

    rows = row_count(Path(item.fs_path))
    if isinstance(rows, dict):
        rows = sum(rows.values()) if all(isinstance(value, int) for value in rows.values()) else None
    stats = {
        "rowCount": rows if isinstance(rows, int) else None,
        "size": item.meta.size if item.meta and item.meta.size is not None else None,
        "fileCount": item.meta.nfiles if item.meta and item.meta.nfiles else None,
    }
    output_facets = {"outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(**stats)} if any(stats.values()) else {}
    namespace, name = _name(item)
    return OutputDataset(namespace=namespace, name=name, facets=_facets(item), outputFacets=output_facets)


def _validation(stage: Stage) -> ValidationReport | None:
    """The validation report among a stage's outputs, if it writes one."""
    for out in stage.outs:
        path = Path(out.fs_path)
        if path.suffix == ".json" and not is_details_path(path):
            data = read_json_or_empty(path)
            if "suite_sha256" in data:
                return as_contract(ValidationReport, data, path)
    return None


def _assertions(report: ValidationReport) -> Any:
    from openlineage.client.generated import data_quality_assertions_dataset as dq

    assertions = []
    for expectation in report.expectations:
        column = expectation.column if isinstance(expectation.column, str) else (", ".join(expectation.column) if expectation.column else None)
        observed = expectation.unexpected_count if expectation.unexpected_count is not None else expectation.observed_value
        assertions.append(
            dq.Assertion(
                assertion=expectation.type,
                success=expectation.success,
                column=column,
                severity=SEVERITY.get(expectation.severity or "", expectation.severity),
                name=expectation.id,
                description=expectation.notes or None,
                actual=None if observed is None else json.dumps(observed, default=str),
            )
        )
    return dq.DataQualityAssertionsDatasetFacet(assertions=assertions)


def _input_dataset(repo: Repo, item: Output, validation: ValidationReport | None) -> Any:
    from openlineage.client.event_v2 import InputDataset

    namespace, name = _name(item)
    checked = validation is not None and Path(item.fs_path).resolve() == (Path(repo.root_dir) / validation.data).resolve()
    return InputDataset(namespace=namespace, name=name, facets=_facets(item), inputFacets={"dataQualityAssertions": _assertions(validation)} if checked else {})


def run_event(tracer: Tracer, stage: Stage, namespace: str, code: dict[str, Any], recorded: dict[str, tuple[int, str]]) -> Any:
    """The OpenLineage RunEvent (COMPLETE) of one stage run as ``dvc.lock`` records it."""
    from importlib.metadata import version

    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.generated import job_type_job, processing_engine_run, source_code_location_job

    repo = tracer.repo
    hashes = [f"{tracer.rel(item)}={lock_md5(item)}" for item in [*stage.deps, *stage.outs] if not is_params(item)]
    material = "\n".join([stage_id(stage), stage.cmd, json.dumps(stage_params(stage), sort_keys=True, default=str), *sorted(hashes)])
    validation = _validation(stage)
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="DVC", jobType="STAGE"),
        "sourceCodeLocation": source_code_location_job.SourceCodeLocationJobFacet(type="git", path=_stage_module(repo, stage), **code),
    }
    engine = processing_engine_run.ProcessingEngineRunFacet(version=version("dvc"), name="dvc", openlineageAdapterVersion=__version__)
    return RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=_event_time(stage, Path(repo.root_dir), recorded),
        run=Run(runId=str(uuid.uuid5(RUN_ID_NAMESPACE, material)), facets={"processing_engine": engine}),
        job=Job(namespace=namespace, name=stage_id(stage), facets=job_facets),
        inputs=[_input_dataset(repo, dep, validation) for dep in stage.deps if not is_params(dep) and not is_code(repo, dep)],
        outputs=[_output_dataset(out) for out in kept_outs(stage)],
        producer=PRODUCER,
    )


def openlineage_events(repo: Repo, domains: list[str] | None = None, namespace: str = "assay") -> list[Any]:
    """A RunEvent for every stage run in ``dvc.lock`` (of ``domains`` if given), dependencies first."""
    import networkx as nx
    from openlineage.client.event_v2 import set_producer

    set_producer(PRODUCER)  # the facets' _producer
    root = Path(repo.root_dir)
    tracer = Tracer(repo, with_facts=False)
    code, recorded = _code_location(root), recorded_times(root)
    order = list(nx.lexicographical_topological_sort(repo.index.graph.reverse(copy=True), key=stage_id))
    events = []
    for stage in order:
        if domains and stage_id(stage).partition("@")[2] not in domains:
            continue
        if not has_lock(stage):
            log.info("openlineage: %s has no entry in dvc.lock; no event", stage_id(stage))
            continue
        events.append(run_event(tracer, stage, namespace, code, recorded))
    return events


def openlineage_url(url: str | None, params_path: Path) -> str:
    """Where ``http`` posts: ``url``, else ``OPENLINEAGE_URL`` (the client's own variable), else params' ``openlineage.url``."""
    found = url or os.environ.get("OPENLINEAGE_URL")
    if not found and params_path.is_file():
        spec = load_params(params_path).openlineage
        found = spec.url if spec else None
    if not found:
        raise AssayError(f"--transport http needs a URL: --url, OPENLINEAGE_URL, or openlineage.url in {params_path}")
    return found


def make_transport(kind: str, out: Path | None, url: str | None) -> Any:
    """The client's transport for ``kind``: file (newline-delimited JSON in ``out``, replaced), console, or http."""
    from openlineage.client.transport.console import ConsoleConfig, ConsoleTransport
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import HttpConfig, HttpTransport

    if kind == "file":
        if out is None or out.is_dir():
            raise AssayError(f"--transport file needs --out FILE{f'; {out} is a folder' if out else ''}")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)  # the same lock gives the same file, not one more copy of every event
        return FileTransport(FileConfig(log_file_path=str(out), append=True))
    if kind == "console":
        console = logging.getLogger("openlineage.client.transport.console")  # the transport logs each event at INFO
        if not any(getattr(handler, "assay_stdout", False) for handler in console.handlers):
            handler = logging.StreamHandler(sys.stdout)
            handler.assay_stdout = True  # type: ignore[attr-defined]
            console.addHandler(handler)
        console.setLevel(logging.INFO)
        console.propagate = False
        return ConsoleTransport(ConsoleConfig())
    if kind == "http":
        return HttpTransport(HttpConfig(url=str(url), timeout=10.0))
    raise AssayError(f"--transport {kind}: unknown; use one of {', '.join(TRANSPORTS)}")


def run_export(
    transport: str = "file",
    out: Path | None = None,
    url: str | None = None,
    domains: list[str] | None = None,
    namespace: str = "assay",
    root: Path = Path("."),
    params_path: Path = Path("params.yaml"),
) -> int:
    """Entry point for ``assay lineage export``: emit every stage run's event through the chosen transport; the count."""
    from openlineage.client import OpenLineageClient

    target = openlineage_url(url, params_path) if transport == "http" else None
    repo = open_repo(root)
    try:
        events = openlineage_events(repo, domains, namespace)
    finally:
        repo.close()
    if not events:
        raise AssayError("no stage has an entry in dvc.lock; run `dvc repro` first")
    client = OpenLineageClient(transport=make_transport(transport, out, target))
    for event in events:
        try:
            client.emit(event)
        except Exception as exc:  # requests' and the transports' own errors: one line, naming where
            where = target or out or "the console"
            raise AssayError(f"openlineage: could not emit {event.job.name} to {where}: {str(exc).splitlines()[0]}") from None
    log.info("openlineage: emitted %d RunEvent(s) through the %s transport%s", len(events), transport, f" to {target or out}" if transport != "console" else "")
    return len(events)
