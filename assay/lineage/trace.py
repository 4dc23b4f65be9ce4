"""Lineage: which raw files, rules, suite, validation, split, params and code made an artifact.

Everything here is read from ``dvc.yaml`` and ``dvc.lock`` through DVC's Python API
(``dvc.repo.Repo``: ``index.stages``, ``index.graph``, ``index.outs_trie``,
``find_outs_by_path``, each stage's ``deps``/``outs`` with the ``hash_info`` and ``meta`` DVC
filled in from the lock, ``ParamsDependency.hash_info.value`` for the params a stage ran with)
and checked against the workspace with DVC's own hashing (``dvc_data``'s ``build``, which makes
the ``.dir`` hashes of folders) and ``PipelineStage.cmd_changed``. ``dvc.lock`` is never parsed
by hand and no hash is reimplemented. Only the stages on the traced chain are checked.

By content, not by mtime: DVC's state cache (what ``dvc status`` uses) trusts a file whose
inode, mtime and size it has seen, so one flipped byte with its mtime put back (``touch -r``)
passes it. A trace therefore recomputes every hash from the bytes, through an object database
whose state is ``StateNoop``; ``--fast`` (``by_content=False``) trusts the state cache and the
output says so. A changed folder is compared file by file with the listing ``dvc.lock`` names
(``<md5>.dir``, read from the DVC cache), so the trace names the changed file; raw files are
also compared with the sha256 the ingest report recorded.
``repo.status()`` is deliberately not used: it takes DVC's repo lock, which ``dvc repro`` holds
while the ``lineage`` and ``report`` stages run.

States of a node in a trace, worst first:

- ``missing``: the file or folder is not in the workspace;
- ``modified``: its content differs from the md5 that ``dvc.lock`` records, either where its
  stage wrote it or where the next stage read it;
- ``stale``: the stage that made it would run again (its command, params or code changed, it has
  no lock entry, or anything further up the chain is not ok);
- ``ok``.

Where the lineage record and the model card live, and why
-----------------------------------------------------------
A model folder ``models/<domain>`` holds four outputs of two stages: ``train`` writes
``generator/`` (model, tokenizer, ``generator.json``) and ``metrics.json``; the ``lineage``
stage (foreach domain, after ``synthesize``/``evaluate``) writes

- ``reports/lineage/<domain>.json`` and its copy ``models/<domain>/lineage.json``: the chain raw
  sources -> interim -> clean (+ quarantine) -> validation -> splits -> model -> synthetic data
  -> utility report, each node with the md5 and size from ``dvc.lock``, rows, the stage that
  made it and the params it ran with, the suite's hash and result, and the run (git commit and
  dirty flag, package versions, device, seeds);
- ``models/<domain>/README.md``: the Hugging Face model card (:mod:`assay.lineage.modelcard`).

``train`` cannot write the card (the synthetic data and the utility report it describes do not
exist yet when it runs), and a later stage cannot add files to a folder ``train`` owns as one
output (DVC rejects overlapping outputs), hence the separate ``generator/`` folder. The lineage
outputs have ``cache: false``, so git versions them beside ``dvc.lock``. ``assay trace
models/<domain>`` verifies all four and the chain behind them.

The lineage file holds no wall-clock time, so it is byte-identical when nothing changed: its
``run.time`` is the commit time of ``HEAD``. ``run.git`` is ``HEAD`` and the dirty flag when the
stage ran; during ``dvc repro`` the tree is normally dirty (dvc.lock is committed afterwards),
which is why every stage also records the md5 of each code file it ran with, from ``dvc.lock``.
``run.git.uncommitted`` names the changed paths that no stage writes (the outputs and dvc.lock
left out), so an empty list means the code, params and suites were those of the commit.

The OpenLineage export (``assay lineage export``) is in :mod:`assay.lineage.openlineage`.
"""

from __future__ import annotations

import json
import logging
import platform
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.contracts import (
    CleanReport,
    IngestReport,
    LineageRecord,
    TrainMetrics,
    UtilityReport,
    ValidationReport,
    as_contract,
    is_details_path,
    read_report,
    read_report_data,
)
from assay.errors import AssayError
from assay.generator.model import METRICS_FILE
from assay.io import sha256_file
from assay.layout import LAYOUT
from assay.lineage.storage import default_remote, restore_command
from assay.report.formatting import fmt_bytes

if TYPE_CHECKING:
    from dvc.output import Output
    from dvc.repo import Repo
    from dvc.stage import Stage

log = logging.getLogger("assay.lineage")

LINEAGE_VERSION = 1
CODE_PACKAGE = Path(__file__).parents[1].name  # the package folder, "assay"
"""Deps inside this folder of the repo are code: shown per stage, not as data nodes."""
STATES = ("ok", "stale", "modified", "missing")
UPSTREAM = "upstream not verified: "  # a reason that echoes a flag further up the chain
MARKS = {"ok": "✓", "stale": "✗", "modified": "✗", "missing": "✗"}
PACKAGES = ("assay", "dvc", "polars", "pyarrow", "great-expectations", "torch", "transformers", "tokenizers", "scikit-learn")
VALIDATION_KEYS = ("suite", "suite_sha256", "success", "evaluated", "passed", "failed_critical", "failed_warning")
DEVICE_KEYS = ("device", "device_name", "bf16", "threads", "torch")
CARD_FILE = "README.md"  # the model card, Hugging Face style, in the model folder
LINEAGE_COPY = "lineage.json"  # the record's copy in the model folder


def worst(*states: str) -> str:
    """The worst of some states (``missing`` > ``modified`` > ``stale`` > ``ok``)."""
    return max(states, key=STATES.index, default="ok")


# ---------------------------------------------------------------------------------------------
# the DVC project


def open_repo(root: Path | str = ".") -> Repo:
    """The DVC project at ``root``; a one-line error when there is none."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Repo(str(root))
    except NotDvcRepoError:
        raise AssayError(f"{root}: not a DVC project (no .dvc folder); run this from the repository root") from None


def _relpath(repo: Repo, item: Output) -> str:
    return Path(repo.fs.relpath(item.fs_path, repo.root_dir)).as_posix()


def is_code(repo: Repo, dep: Output) -> bool:
    """The package's code, or DVC's own config (the remote the lineage record names): shown per stage, not as data."""
    return _relpath(repo, dep).split("/", 1)[0] in (CODE_PACKAGE, ".dvc")


def is_params(dep: Output) -> bool:
    from dvc.dependency.param import ParamsDependency

    return isinstance(dep, ParamsDependency)


def stage_id(stage: Stage) -> str:
    """``clean@records``; stages of a ``dvc.yaml`` in a subfolder keep their file: ``sub/dvc.yaml:name``.

    (DVC's ``addressing`` is relative to the current directory, so it is not used.)
    """
    dvcfile = Path(stage.path).relative_to(Path(stage.repo.root_dir)).as_posix() if Path(stage.path).is_absolute() else Path(stage.path).as_posix()
    return stage.name if dvcfile == "dvc.yaml" or not getattr(stage, "name", None) else f"{dvcfile}:{stage.name}"


def lock_md5(item: Output) -> str | None:
    return item.hash_info.value if item.hash_info else None


def has_lock(stage: Stage) -> bool:
    return any(bool(out.hash_info) for out in stage.outs)


def kept_outs(stage: Stage) -> list[Output]:
    """Outputs that belong to the artifact chain: not plots, not persisted scratch (checkpoints)."""
    return [out for out in stage.outs if not out.plot and not out.persist]


def producers(repo: Repo, dep: Output) -> list[Output]:
    """The outputs a dependency reads: those containing it, or inside it (as ``build_graph`` finds them)."""
    key = dep.fs.parts(dep.fs_path)
    trie = repo.index.outs_trie
    found = [node.value for node in trie.prefixes(key)]
    if trie.has_subtrie(key):
        found.extend(trie.values(prefix=key))
    return sorted({id(out): out for out in found}.values(), key=lambda out: _relpath(repo, out))


def stage_params(stage: Stage) -> dict[str, Any]:
    """The params a stage ran with, as ``dvc.lock`` records them: ``{"domains.records.clean": {...}}``."""
    values: dict[str, Any] = {}
    for dep in stage.deps:
        if is_params(dep) and dep.hash_info and isinstance(dep.hash_info.value, dict):
            values.update(dep.hash_info.value)
    return dict(sorted(values.items()))


def _status(item: Output) -> str:
    """``ok``, ``missing`` or ``modified`` by DVC's state cache (inode, mtime, size; ``--fast``)."""
    if not item.hash_info:
        return "ok" if item.exists else "missing"
    status = item.workspace_status()
    if not status:
        return "ok"
    value = next(iter(status.values()))
    return "missing" if value == "deleted" else "modified"


@dataclass
class ContentCheck:
    """A file or folder hashed from its bytes and compared with ``dvc.lock``."""

    state: str  # "ok", "modified" or "missing"
    changed: list[str] = field(default_factory=list)  # repo paths of the files that differ, inside a folder
    unnamed: str | None = None  # why the changed files of a folder cannot be named


def content_hash(item: Output) -> Any:
    """The hash of ``item`` recomputed from its bytes, and its tree for a folder.

    DVC's own ``build`` hashes it (``.dir`` listing and all), given an object database whose
    state is ``StateNoop``: DVC's state cache, which trusts inode, mtime and size, is neither
    read nor written, and nothing is added to the cache (``dry_run``).
    """
    return hash_from_bytes(item.fs_path, item.fs, item.hash_name, ignore=item.dvcignore, jobs=item.fs.hash_jobs)


def hash_from_bytes(path: str, fs: Any = None, hash_name: str = "md5", ignore: Any = None, jobs: int | None = None) -> Any:
    """DVC's hash of a file or folder at ``path`` (on ``fs``, the local disk by default), read from its bytes.

    The returned object's ``hash_info.value`` is what ``dvc.lock`` records (``<md5>.dir`` for a folder).
    """
    from dvc_data.hashfile.build import build
    from dvc_data.hashfile.db import HashFileDB
    from dvc_data.hashfile.state import StateNoop
    from dvc_objects.fs import LocalFileSystem, MemoryFileSystem

    scratch = HashFileDB(MemoryFileSystem(), "/assay-verify", state=StateNoop(), hash_name=hash_name)
    _, _, obj = build(scratch, path, fs or LocalFileSystem(), hash_name, ignore=ignore, dry_run=True, checksum_jobs=jobs)
    return obj


def _size_of(obj: Any, item: Output) -> int:
    """Bytes hashed to make ``obj``: a folder's files, or the file itself."""
    from dvc_data.hashfile.tree import Tree

    if isinstance(obj, Tree):
        return sum(meta.size or 0 for _, meta, _ in obj)
    return int(item.fs.size(item.fs_path) or 0)


def _tree_entries(tree: Any) -> dict[tuple[str, ...], str | None]:
    return {key: hash_info.value if hash_info else None for key, (_, hash_info) in tree.iteritems()}


def changed_files(repo: Repo, item: Output, now: Any) -> tuple[list[str], str | None]:
    """The files inside a tracked folder whose content differs from the listing ``dvc.lock`` names.

    The listing (``<md5>.dir``) is read from the DVC cache; without it (a fresh clone before
    ``dvc pull``, an output with ``cache: false``) the files cannot be named, and the reason says so.
    """
    from dvc_data.hashfile import load
    from dvc_data.hashfile.tree import Tree
    from dvc_objects.errors import ObjectFormatError

    try:
        recorded = load(item.cache, item.hash_info)
    except (FileNotFoundError, ObjectFormatError) as exc:
        return [], f"the folder listing {item.hash_info.value} is not in the DVC cache ({type(exc).__name__}; `dvc pull` brings it)"
    if not isinstance(recorded, Tree):
        return [], None
    before, after = _tree_entries(recorded), _tree_entries(now)
    folder = _relpath(repo, item)
    names = []
    for key in sorted(set(before) | set(after)):
        how = "added" if key not in before else "deleted" if key not in after else "modified" if before[key] != after[key] else None
        if how:
            names.append(f"{folder}/{'/'.join(key)} {how}")
    return names, None


# ---------------------------------------------------------------------------------------------
# facts read from the workspace: rows, validation result, utility gate, source files


def row_count(path: Path) -> int | dict[str, int] | None:
    """Rows of a Parquet file (from its footer), of each Parquet file in a folder, or a report's ``rows``."""
    import polars as pl

    try:
        if path.is_file() and path.suffix == ".parquet":
            return int(pl.scan_parquet(path).select(pl.len()).collect().item())
        if path.is_dir():
            files = sorted(path.glob("*.parquet"))
            return {file.name: int(pl.scan_parquet(file).select(pl.len()).collect().item()) for file in files} or None
        if path.is_file() and path.suffix == ".json":
            rows = read_json_or_empty(path).get("rows")
            return rows if isinstance(rows, int | dict) else None
    except Exception:  # an unreadable file is flagged by its hash; rows are only a fact
        return None
    return None


def read_json_or_empty(path: Path) -> dict[str, Any]:
    """A report as a dict, its details merged in (:func:`assay.contracts.read_report_data`); {} when unreadable."""
    try:
        return read_report_data(path) or {}
    except (OSError, AssayError):
        return {}


def summarise_utility(report: UtilityReport) -> dict[str, Any]:
    """The release gate of a utility report: enforced or not, passed, how many checks failed and why."""
    return {
        "release_gate_enabled": report.release_gate_enabled,
        "release_gate_passed": report.release_gate_passed,
        "release_gate_failed": report.release_gate_failed,
        "gate_checks_failed": [check.message for check in report.gate_checks if not check.passed],
    }


def _facts(path: Path) -> dict[str, Any]:
    """What a report says about the chain: a suite's hash and validation result, a utility gate.

    Reports are told apart by the keys only they have, then read through their contract (figures
    and details together: the details file alone says nothing of its own).
    """
    if not (path.is_file() and path.suffix == ".json") or is_details_path(path):
        return {}
    report = read_json_or_empty(path)
    facts: dict[str, Any] = {}
    if "suite_sha256" in report:
        validation = as_contract(ValidationReport, report, path)
        facts["validation"] = {key: getattr(validation, key) for key in VALIDATION_KEYS}
    if "release_gate_passed" in report:
        facts["utility"] = summarise_utility(as_contract(UtilityReport, report, path))
    return facts


def source_files(repo: Repo, stage: Stage, dep: Output) -> list[dict[str, Any]]:
    """The files of a raw source with their sha256, from the ingest report the consuming stage wrote."""
    prefix = _relpath(repo, dep)
    files: list[dict[str, Any]] = []
    for out in stage.outs:
        report = read_json_or_empty(Path(out.fs_path)) if out.metric else {}
        if "sources" not in report:  # only the ingest report lists source files
            continue
        for source in as_contract(IngestReport, report, out.fs_path).sources:
            if source.path == prefix or source.path.startswith(prefix.rstrip("/") + "/"):
                files.append({"path": source.path, "sha256": source.sha256, "size": source.size_bytes, "rows": source.rows})
    return files


# ---------------------------------------------------------------------------------------------
# trace: from an artifact back to the raw sources, verified against the workspace


@dataclass
class TraceNode:
    """One artifact in a trace, with what ``dvc.lock`` records and what the workspace holds."""

    path: str
    kind: str  # "output", "source" or "group" (a folder dependency holding several outputs)
    stage: str | None
    md5: str | None
    size: int | None = None
    nfiles: int | None = None
    rows: Any = None
    state: str = "ok"
    reasons: list[str] = field(default_factory=list)
    code: list[dict[str, Any]] = field(default_factory=list)
    params: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[TraceNode] = field(default_factory=list)
    see_above: bool = False

    def flag(self, state: str, reason: str) -> None:
        self.state = worst(self.state, state)
        if reason not in self.reasons:
            self.reasons.append(reason)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "path": self.path,
            "kind": self.kind,
            "stage": self.stage,
            "md5": self.md5,
            "size": self.size,
            "nfiles": self.nfiles,
            "rows": self.rows,
            "state": self.state,
            "verified": self.state == "ok",
            "reasons": self.reasons,
        }
        for name in ("code", "params", "facts", "files"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.see_above:
            data["see_above"] = True
        data["inputs"] = [node.to_dict() for node in self.inputs]
        return data


@dataclass
class _StageCheck:
    state: str
    reasons: list[str]
    code: list[dict[str, Any]]
    params: list[dict[str, Any]]


class Tracer:
    """Walks ``dvc.lock`` from outputs to sources, checking each node once (stages are memoised)."""

    def __init__(self, repo: Repo, with_facts: bool = True, by_content: bool = True, checked: dict[Any, ContentCheck] | None = None) -> None:
        self.repo = repo
        self.with_facts = with_facts
        self.by_content = by_content
        self._stages: dict[str, _StageCheck] = {}
        self._upstream: dict[str, tuple[str, list[str]]] = {}
        # Content checks by (path, lock hash); pass one dict to several tracers to hash each file once.
        self._checked: dict[Any, ContentCheck] = {} if checked is None else checked
        self.bytes_read = 0

    def rel(self, item: Output) -> str:
        return _relpath(self.repo, item)

    def status(self, item: Output) -> ContentCheck:
        """``item`` against the hash ``dvc.lock`` records: from its bytes, or (``by_content=False``) DVC's state cache.

        Each path is hashed once per trace, however many stages read it.
        """
        key = (item.fs_path, item.hash_info.value if item.hash_info else None)
        if key in self._checked:
            return self._checked[key]
        if not item.exists:
            check = ContentCheck("missing")
        elif not item.hash_info:
            check = ContentCheck("ok")
        elif not self.by_content:
            check = ContentCheck(_status(item))
        else:
            now = content_hash(item)
            self.bytes_read += _size_of(now, item)
            if now.hash_info.value == item.hash_info.value:
                check = ContentCheck("ok")
            elif item.hash_info.isdir:
                names, unnamed = changed_files(self.repo, item, now)
                check = ContentCheck("modified", names, unnamed)
            else:
                check = ContentCheck("modified")
        self._checked[key] = check
        return check

    def flag_content(self, node: TraceNode, item: Output, why: str) -> ContentCheck:
        """Flag ``node`` when ``item`` is missing or modified, naming the changed files inside a folder."""
        check = self.status(item)
        if check.state == "ok":
            return check
        node.flag(check.state, f"{self.rel(item)}: {check.state}: {why}")
        for name in check.changed:
            node.flag(check.state, f"changed inside: {name}")
        return check

    def check_stage(self, stage: Stage) -> _StageCheck:
        """The stage itself: command, params and code against the lock (data deps are checked as nodes)."""
        if stage_id(stage) in self._stages:
            return self._stages[stage_id(stage)]
        state, reasons = "ok", []
        if not has_lock(stage):
            state, reasons = "stale", [f"{stage_id(stage)} has not run: no entry in dvc.lock"]
        elif getattr(stage, "cmd_changed", False) or stage.changed_stage():
            state, reasons = "stale", [f"{stage_id(stage)}: command changed since it ran"]
        code, params = [], []
        for dep in stage.deps:
            if is_params(dep):
                changed = next(iter(dep.workspace_status().values()), {}) if dep.hash_info else {}
                if isinstance(changed, str):  # the whole params file is gone
                    changed = dict.fromkeys(dep.params or [self.rel(dep)], changed)
                for key in dep.params or sorted((dep.hash_info.value or {}) if dep.hash_info else {}):
                    params.append({"key": key, "state": "ok" if key not in changed else "stale"})
                for key, how in changed.items():
                    state = "stale"
                    reasons.append(f"{stage_id(stage)}: param {key} {how} since it ran")
            elif is_code(self.repo, dep):
                dep_state = self.status(dep).state
                code.append({"path": self.rel(dep), "md5": lock_md5(dep), "state": dep_state})
                if dep_state != "ok":
                    state = "stale"
                    reasons.append(f"{stage_id(stage)}: code {self.rel(dep)} {dep_state} since it ran")
        check = _StageCheck(state, reasons, code, params)
        self._stages[stage_id(stage)] = check
        return check

    def output_node(self, out: Output, consumer: Output | None = None, shown: str | None = None) -> TraceNode:
        """A stage output, as its consumer recorded it (``consumer`` dep) or as its stage wrote it."""
        stage = out.stage
        recorded = consumer if consumer is not None else out
        meta = recorded.meta
        node = TraceNode(
            path=shown or self.rel(recorded),
            kind="output",
            stage=stage_id(stage),
            md5=lock_md5(recorded),
            size=meta.size if meta else None,
            nfiles=meta.nfiles if meta else None,
        )
        if consumer is not None and consumer.hash_info:
            self.flag_content(node, consumer, f"not the version {stage_id(consumer.stage)} used (dvc.lock)")
        if out.hash_info:
            check = self.flag_content(node, out, f"not what {stage_id(stage)} wrote (dvc.lock)")
            if check.unnamed:
                node.flag(check.state, f"which files changed cannot be told: {check.unnamed}")
        elif not out.exists:
            node.flag("missing", f"{self.rel(out)}: missing")
        check = self.check_stage(stage)
        node.code, node.params = check.code, check.params
        if check.state != "ok":
            for reason in check.reasons:
                node.flag(check.state, reason)
        if stage_id(stage) in self._upstream:
            node.see_above = True
            upstream_state, upstream_reasons = self._upstream[stage_id(stage)]
        else:
            self._upstream[stage_id(stage)] = ("ok", [])  # acyclic: a placeholder is never read back
            node.inputs = [self.dep_node(stage, dep) for dep in stage.deps if not is_params(dep) and not is_code(self.repo, dep)]
            bad = [child for child in node.inputs if child.state != "ok"]
            upstream_state = "stale" if bad else "ok"
            upstream_reasons = [f"{UPSTREAM}{child.path} ({child.state})" for child in bad]
            self._upstream[stage_id(stage)] = (upstream_state, upstream_reasons)
        for reason in upstream_reasons:
            node.flag(upstream_state, reason)
        if self.with_facts and node.state != "missing":
            path = Path(recorded.fs_path)
            node.rows = row_count(path)
            node.facts = _facts(path)
        return node

    def dep_node(self, stage: Stage, dep: Output) -> TraceNode:
        """A data dependency of ``stage``: another stage's output, a folder of outputs, or a raw source."""
        made_by = producers(self.repo, dep)
        if len(made_by) == 1 and (made_by[0].fs_path == dep.fs_path or made_by[0].fs.isin(dep.fs_path, made_by[0].fs_path)):
            return self.output_node(made_by[0], consumer=dep)
        meta = dep.meta
        node = TraceNode(
            path=self.rel(dep),
            kind="group" if made_by else "source",
            stage=None,
            md5=lock_md5(dep),
            size=meta.size if meta else None,
            nfiles=meta.nfiles if meta else None,
        )
        check = self.flag_content(node, dep, f"not the version {stage_id(stage)} used (dvc.lock)")
        if made_by:
            node.inputs = [self.output_node(out) for out in made_by]
            bad = [child for child in node.inputs if child.state != "ok"]
            for child in bad:
                node.flag("stale", f"{UPSTREAM}{child.path} ({child.state})")
        elif self.with_facts:
            node.files = source_files(self.repo, stage, dep)
            node.facts = _facts(Path(dep.fs_path))
            if self.by_content and check.state != "ok" and not check.changed:
                self.flag_source_files(node)
        if check.unnamed and not any(reason.startswith("changed inside: ") for reason in node.reasons):
            node.flag(check.state, f"which files changed cannot be told: {check.unnamed}")
        return node

    def flag_source_files(self, node: TraceNode) -> None:
        """Name the raw files whose sha256 differs from the ingest report.

        DVC caches no listing of a folder that is only a dependency (raw data not added with
        ``dvc add``), so ``dvc.lock`` alone cannot say which of its files changed.
        """
        for file in node.files:
            path = Path(self.repo.root_dir) / file["path"]
            if not path.is_file():
                state, how = "missing", "missing"
            else:
                if sha256_file(path) == file.get("sha256"):
                    continue
                state, how = "modified", "modified: its sha256 differs from the ingest report"
            node.flag(state, f"changed inside: {file['path']} {how}")

    def source_node(self, target: str) -> TraceNode | None:
        """An absolute path no stage makes but some stage reads (raw data, a suite): checked against every reader."""
        node: TraceNode | None = None
        for stage in sorted(self.repo.index.stages, key=stage_id):
            for dep in stage.deps:
                if is_params(dep) or not (dep.fs_path == target or dep.fs.isin(target, dep.fs_path)):
                    continue
                child = self.dep_node(stage, dep)
                if node is None:
                    node = child
                else:
                    for reason in child.reasons:
                        node.flag(child.state, reason)
        return node


def trace(repo: Repo, path: str, by_content: bool = True, tracer: Tracer | None = None) -> TraceNode:
    """The chain behind ``path`` (any file or folder a stage makes or reads), verified against the workspace.

    ``by_content``: every hash is recomputed from the bytes; otherwise DVC's state cache is
    trusted for files whose inode, mtime and size it has seen (a flipped byte with its mtime put
    back passes). Pass a ``tracer`` to read how many bytes were hashed.
    """
    from dvc.exceptions import OutputNotFoundError

    tracer = tracer or Tracer(repo, by_content=by_content)
    absolute = repo.fs.join(repo.root_dir, path)  # DVC resolves relative paths against the cwd
    try:
        outs = repo.find_outs_by_path(absolute, strict=False)
    except OutputNotFoundError:
        outs = []
    if outs:
        return tracer.output_node(outs[0])
    node = tracer.source_node(absolute)
    if node is not None:
        return node
    try:
        # A folder holding several outputs (models/<domain>: the generator, its metrics, card and lineage).
        inside = sorted(repo.find_outs_by_path(absolute, recursive=True), key=lambda out: str(out.fs_path))
    except OutputNotFoundError:
        raise AssayError(f"{path}: not an output or a dependency of any stage in dvc.yaml") from None
    group = TraceNode(path=Path(repo.fs.relpath(absolute, repo.root_dir)).as_posix(), kind="group", stage=None, md5=None)
    group.inputs = [tracer.output_node(out) for out in inside]
    for child in group.inputs:
        if child.state != "ok":
            group.flag(child.state, f"{UPSTREAM}{child.path} ({child.state})")
    return group


def _repo_path(repo: Repo, path: Path | str) -> str:
    absolute = Path(path).resolve()
    root = Path(repo.root_dir).resolve()
    if not absolute.is_relative_to(root):
        raise AssayError(f"{path}: outside the DVC project at {root}")
    return absolute.relative_to(root).as_posix() or "."


def causes(tree: dict[str, Any]) -> list[str]:
    """The reasons a trace fails at their source (changed bytes, params, code), not their echo downstream."""
    found: dict[str, None] = {}

    def walk(node: dict[str, Any]) -> None:
        for reason in node["reasons"]:
            if not reason.startswith(UPSTREAM):
                found.setdefault(reason, None)
        for child in node["inputs"]:
            walk(child)

    walk(tree)
    return list(found)


CHECKED_BY = {
    "content": "every hash recomputed from the bytes",
    "state-cache": "DVC's state cache (files whose inode, mtime and size DVC has seen were not re-read)",
}


def trace_path(path: Path | str, root: Path | str = ".", by_content: bool = True) -> dict[str, Any]:
    """``assay trace PATH --json``: the tree as a dict, with ``verified`` and how it was checked at the top."""
    repo = open_repo(root)
    tracer = Tracer(repo, by_content=by_content)
    try:
        node = trace(repo, _repo_path(repo, path), tracer=tracer)
    finally:
        repo.close()
    checked_by = "content" if by_content else "state-cache"
    tree = node.to_dict()
    return {
        "path": Path(path).as_posix(),
        "verified": node.state == "ok",
        "state": node.state,
        "checked_by": checked_by,
        "bytes_hashed": tracer.bytes_read if by_content else None,
        "causes": causes(tree),
        "tree": tree,
    }


# ---------------------------------------------------------------------------------------------
# printing a trace


def _size(value: Any) -> str:

    return "" if value is None else fmt_bytes(value)


def _rows_text(rows: Any) -> str:
    if isinstance(rows, int):
        return f"{rows:,} rows"
    if isinstance(rows, dict) and all(isinstance(v, int) for v in rows.values()):
        return " / ".join(f"{Path(k).stem} {v:,}" for k, v in rows.items()) + " rows"
    return ""


def node_label(node: dict[str, Any]) -> str:
    """One line per node: mark, path, stage, md5 from dvc.lock, size and rows, state."""
    made = f"({node['stage']})" if node.get("stage") else f"({node['kind']})"
    details = ", ".join(
        part
        for part in (
            _size(node.get("size")),
            f"{node['nfiles']} file{'s' if node['nfiles'] != 1 else ''}" if node.get("nfiles") else "",
            _rows_text(node.get("rows")),
        )
        if part
    )
    validation = (node.get("facts") or {}).get("validation")
    extra = ""
    if validation:
        verdict = "passed" if validation.get("success") else "FAILED"
        extra = f"  suite {validation.get('suite')} sha256 {str(validation.get('suite_sha256'))[:12]}… {verdict}"
    utility = (node.get("facts") or {}).get("utility")
    if utility:
        extra += f"  utility {json.dumps(utility, sort_keys=True)}"
    line = f"{MARKS[node['state']]} {node['path']}  {made}  md5 {node.get('md5') or '—'}"
    if details:
        line += f"  {details}"
    line += f"  {node['state']}{extra}"
    if node.get("see_above"):
        line += "  (chain shown above)"
    return line


def render_tree(result: dict[str, Any]) -> Any:
    """A rich Tree of a trace: artifacts, with each stage's code and params, and the reasons for any flag."""
    from rich.markup import escape
    from rich.tree import Tree

    def add(parent: Tree | None, node: dict[str, Any]) -> Tree:
        style = "green" if node["state"] == "ok" else "red"
        label = f"[{style}]{escape(node_label(node))}[/{style}]"
        branch = Tree(label) if parent is None else parent.add(label)
        for reason in node["reasons"]:
            branch.add(f"[red]! {escape(reason)}[/red]")
        if not node.get("see_above"):
            if node.get("code"):
                bad = [c for c in node["code"] if c["state"] != "ok"]
                code = ", ".join(f"{c['path']} {c['md5']}" for c in node["code"])
                branch.add(escape(f"{'✗' if bad else '✓'} code  {code}"))
            if node.get("params"):
                bad = [p for p in node["params"] if p["state"] != "ok"]
                branch.add(
                    escape(f"{'✗' if bad else '✓'} params  {', '.join(p['key'] + ('' if p['state'] == 'ok' else ' (changed)') for p in node['params'])}")
                )
            for file in node.get("files") or []:
                branch.add(escape(f"  file {file['path']}  sha256 {file.get('sha256')}  {_size(file.get('size'))}"))
        for child in node["inputs"]:
            add(branch, child)
        return branch

    return add(None, result["tree"])


def run_trace(path: Path, root: Path = Path("."), as_json: bool = False, by_content: bool = True) -> int:
    """Entry point for ``assay trace``: print the tree (or JSON); 0 if every node verifies, else 1."""
    from rich.console import Console

    result = trace_path(path, root, by_content=by_content)
    console = Console(soft_wrap=True, highlight=False)
    if not console.is_terminal:
        # Piped or captured: whole lines (full md5s) rather than lines cut to 80 columns.
        console = Console(soft_wrap=True, highlight=False, width=400)
    if as_json:
        console.out(json.dumps(result, indent=2, ensure_ascii=False, default=str))
    else:
        console.print(render_tree(result))
        how = CHECKED_BY[result["checked_by"]]
        if result["verified"]:
            summary = f"verified: every hash matches dvc.lock and no stage on the chain is stale (checked by {how})"
        else:
            summary = f"NOT verified: {result['state']} (checked by {how})"
            console.print("what changed, at its source:")
            for cause in result["causes"]:
                console.print(f"  {cause}", markup=False)
        console.print(f"{result['path']}: {summary}")
        if not by_content:
            console.print("not checked by content: run without --fast to re-read every byte")
    return 0 if result["verified"] else 1


# ---------------------------------------------------------------------------------------------
# the lineage record written by the `lineage` stage


def git_output(root: Path, *args: str, strip: bool = True) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() if strip else result.stdout


def uncommitted_sources(porcelain: str, generated: Iterable[str]) -> list[str]:
    """The paths of ``git status --porcelain -z`` output, less those a pipeline stage writes.

    ``generated`` holds the outputs of every stage in ``dvc.yaml`` (a folder covers what is under
    it) and ``dvc.lock``: during ``dvc repro`` they differ from the commit by design, so they are
    not what "uncommitted changes" should warn about. A rename counts by its new path.
    """
    outputs = [path.rstrip("/") for path in generated]
    entries = [entry for entry in porcelain.split("\0") if entry]
    paths: list[str] = []
    index = 0
    while index < len(entries):
        entry = entries[index]
        status, path = entry[:2], entry[3:]
        if "R" in status or "C" in status:
            index += 1  # -z puts a rename's old path in the next entry
        index += 1
        path = path.rstrip("/")
        if not any(path == output or path.startswith(output + "/") or output.startswith(path + "/") for output in outputs):
            paths.append(path)
    return sorted(paths)


def run_info(root: Path, generated: Iterable[str] = ()) -> dict[str, Any]:
    """Git commit, dirty flag and commit time, and package versions (no wall clock: see the module docstring).

    ``git.uncommitted`` lists the changed or untracked paths that no stage writes (``generated``:
    see :func:`uncommitted_sources`); ``git.dirty`` is whether anything at all differed.
    """
    from importlib.metadata import PackageNotFoundError, version

    commit = git_output(root, "rev-parse", "HEAD")
    # Not stripped: the first entry's status may start with a space (" M path").
    listing = git_output(root, "status", "--porcelain=v1", "-z", "--untracked-files=normal", strip=False) if commit else None
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = None
    commit_time = git_output(root, "log", "-1", "--format=%cI") if commit else None
    return {
        "git": {
            "commit": commit,
            "dirty": bool(listing) if listing is not None else None,
            "uncommitted": uncommitted_sources(listing, [*generated, "dvc.lock"]) if listing is not None else None,
            "commit_time": commit_time,
        },
        "time": commit_time,
        "time_source": "commit time of HEAD when the lineage stage ran",
        "python": platform.python_version(),
        "packages": packages,
    }


def _upstream_stages(repo: Repo, targets: list[Stage]) -> list[Stage]:
    """The targets' stages and everything they depend on, dependencies first, in a stable order."""
    import networkx as nx

    graph = repo.index.graph
    keep: set[Stage] = set()
    for stage in targets:
        keep.update(nx.dfs_postorder_nodes(graph, stage))
    return list(nx.lexicographical_topological_sort(graph.subgraph(keep).reverse(copy=True), key=stage_id))


def _artifact(tracer: Tracer, item: Output, stage: Stage | None, role: str) -> dict[str, Any]:
    path = Path(item.fs_path)
    meta = item.meta
    node: dict[str, Any] = {
        "path": tracer.rel(item),
        "role": role,
        "stage": stage_id(stage) if stage else None,
        "md5": lock_md5(item),
        "size": meta.size if meta else None,
        "nfiles": meta.nfiles if meta else None,
        "rows": row_count(path),
    }
    if stage is not None:
        node["params"] = stage_params(stage)
    facts = _facts(path)
    if facts:
        node.update(facts)
    return node


def generated_outputs(repo: Repo) -> list[str]:
    """Every output path of every stage of the pipeline, relative to the project root."""
    root = Path(repo.root_dir)
    return sorted({Path(out.fs_path).relative_to(root).as_posix() for stage in repo.index.stages for out in stage.outs})


def build_lineage(repo: Repo, domain: str, targets: dict[str, str]) -> dict[str, Any]:
    """The lineage record of a domain: every stage and artifact from the raw sources to ``targets``.

    ``targets`` maps a role (``model``, ``synthetic``, ``utility``) to a path; a path that no stage
    makes yet (the utility report before ``evaluate`` exists) is recorded as not produced.
    """
    from dvc.exceptions import OutputNotFoundError

    tracer = Tracer(repo, with_facts=False)
    target_outs: dict[str, Output] = {}
    missing: dict[str, str] = {}
    for role, path in targets.items():
        try:
            target_outs[role] = repo.find_outs_by_path(repo.fs.join(repo.root_dir, path), strict=False)[0]
        except OutputNotFoundError:
            missing[role] = path
    if "model" not in target_outs:
        raise AssayError(f"{targets.get('model')}: not an output of any stage in dvc.yaml; cannot write lineage for {domain}")
    stages = _upstream_stages(repo, [out.stage for out in target_outs.values()])
    not_run = [stage_id(stage) for stage in stages if not has_lock(stage)]
    if not_run:
        raise AssayError(f"lineage {domain}: {', '.join(not_run)} has no entry in dvc.lock; run `dvc repro` first")

    chain: list[dict[str, Any]] = []
    sources: dict[str, dict[str, Any]] = {}
    steps: list[dict[str, Any]] = []
    for stage in stages:
        inputs, code = [], []
        for dep in stage.deps:
            if is_params(dep):
                continue
            if is_code(repo, dep):
                code.append({"path": tracer.rel(dep), "md5": lock_md5(dep)})
                continue
            made_by = producers(repo, dep)
            inputs.append({"path": tracer.rel(dep), "md5": lock_md5(dep), "from": sorted({stage_id(out.stage) for out in made_by}) or None})
            if not made_by:
                source = sources.setdefault(tracer.rel(dep), _artifact(tracer, dep, None, "source") | {"read_by": []})
                source["read_by"].append(stage_id(stage))
                source.setdefault("files", []).extend(f for f in source_files(repo, stage, dep) if f not in source.get("files", []))
        outputs = [_artifact(tracer, out, stage, stage.name.split("@")[0]) for out in kept_outs(stage)]
        chain.extend(outputs)
        steps.append(
            {
                "stage": stage_id(stage),
                "cmd": stage.cmd,
                "params": sorted(stage_params(stage)),
                "code": code,
                "inputs": inputs,
                "outputs": [{"path": node["path"], "md5": node["md5"]} for node in outputs],
            }
        )
    for source in sources.values():
        if not source.get("files"):
            source.pop("files", None)

    root = Path(repo.root_dir)
    # The generator folder's sibling: models/<domain>/metrics.json.
    model_metrics = read_report(TrainMetrics, Path(target_outs["model"].fs_path).parent / METRICS_FILE)
    device = {key: getattr(model_metrics, key) for key in DEVICE_KEYS} if model_metrics else {}
    # Which key pseudonymised the identifiers (its fingerprint, from the cleaning report; None: the domain has none).
    cleaning = read_report(CleanReport, root / LAYOUT.clean_report(domain))
    key = cleaning.pseudonym_key.model_dump() if cleaning and cleaning.pseudonym_key else None
    seeds = seeds_by_key({stage_id(stage): stage_params(stage) for stage in stages})
    model_folder = Path(tracer.rel(target_outs["model"])).parent.as_posix()  # models/<domain>, holding generator/
    record = {
        "lineage_version": LINEAGE_VERSION,
        "domain": domain,
        "targets": {role: tracer.rel(out) for role, out in sorted(target_outs.items())} | {role: None for role in sorted(missing)},
        "not_produced": {role: f"{path}: no stage in dvc.yaml makes it yet" for role, path in sorted(missing.items())},
        "chain": list(sources.values()) + chain,
        "stages": steps,
        "pseudonym_key": key,
        "storage": {
            "remote": default_remote(root),
            "restore": restore_command(model_folder, LAYOUT.lineage_record(domain).as_posix()),
        },
        "run": run_info(root, generated_outputs(repo)) | {"device": device, "seeds": seeds},
    }
    return record


def seeds_by_key(params_by_stage: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Every ``seed`` in the params the chain's stages ran with, by dotted key."""
    found: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "seed" and isinstance(item, int):
                    found[f"{prefix}.{key}"] = item
                else:
                    walk(f"{prefix}.{key}", item)

    for params in params_by_stage.values():
        for key, value in params.items():
            walk(key, value)
    return dict(sorted(found.items()))


# ---------------------------------------------------------------------------------------------
# the stewards' report: the "Lineage" section (assay/report/page.py registers this loader)


def _flatten(node: dict[str, Any], depth: int = 0) -> list[dict[str, Any]]:
    """A trace as table rows, parents first, with their depth for indenting."""
    row = {key: node.get(key) for key in ("path", "kind", "stage", "md5", "rows", "state", "verified", "reasons", "see_above")}
    row["depth"] = depth
    row["files"] = node.get("files") or []
    row["validation"] = (node.get("facts") or {}).get("validation")
    rows = [row]
    for child in node["inputs"]:
        rows.extend(_flatten(child, depth + 1))
    return rows


def load_lineage_section(domain: str, inputs: Any) -> dict[str, Any] | None:
    """The lineage record's targets and the synthetic data's chain, verified against the workspace now.

    ``inputs`` is the report's ``ReportInputs``; the project root is the folder holding ``reports/``.
    None when the lineage stage has not run for ``domain``.
    """
    record_path = inputs.layout.lineage_record(domain)
    lineage = read_report(LineageRecord, record_path)
    if lineage is None:
        return None
    root = inputs.layout.reports.parent
    roles = [role for role in ("synthetic", "model", "utility") if lineage.targets.get(role)]
    targets, chain, error = [], None, None
    try:
        repo = open_repo(root)
    except AssayError as exc:
        repo, error = None, str(exc)
    checked: dict[Any, ContentCheck] = {}
    bytes_hashed = 0
    try:
        for role in roles:
            path = lineage.targets[role]
            node = next((item for item in lineage.chain if item.get("path") == path), {})
            if repo is None:
                targets.append({"role": role, "path": path, "md5": node.get("md5"), "state": None, "verified": False})
                continue
            tracer = Tracer(repo, by_content=True, checked=checked)
            traced = trace(repo, path, tracer=tracer).to_dict()
            bytes_hashed += tracer.bytes_read
            targets.append({"role": role, "path": path, "md5": node.get("md5"), "state": traced["state"], "verified": traced["verified"]})
            if chain is None:
                chain = {"path": path, "rows": _flatten(traced)}
    except Exception as exc:  # the page must still build; it says why nothing could be verified
        error = f"could not verify against the workspace: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    finally:
        if repo is not None:
            repo.close()
    git = lineage.run.get("git") or {}
    return {
        "record": record_path.as_posix(),
        "targets": targets,
        "chain": chain,
        "error": error,
        "verified": bool(targets) and all(target["verified"] for target in targets) and error is None,
        "bytes_hashed": bytes_hashed,
        "git_commit": git.get("commit"),
        "git_dirty": git.get("dirty"),
        "git_uncommitted": git.get("uncommitted"),  # None in records written before it was kept
        "not_produced": lineage.not_produced,
    }
