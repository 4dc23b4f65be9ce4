"""An artifact's lineage at past git revisions: ``assay trace --rev`` and ``assay diff``.

The lineage records (``reports/lineage/<domain>.json``) are versioned by git beside ``dvc.lock``,
so the record at any commit says what made each artifact then: the raw files' sha256, the params
each stage ran with, the suite, and the md5 of every code file. :func:`diff_lineage` compares two
of them, plus the suite's expectations at both revisions, and answers the auditor's question when
two model versions disagree: which raw files, params keys, expectations and code changed.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from assay.contracts import LineageRecord, as_contract
from assay.errors import AssayError
from assay.layout import LAYOUT


def git(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True)


def resolve_rev(root: Path, rev: str) -> str:
    """The full commit id of ``rev``; exit 2 when git does not know it."""
    result = git(root, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    if result.returncode != 0:
        raise AssayError(f"{rev}: not a git revision of {root.resolve()} (try a commit, tag or branch)")
    return result.stdout.decode().strip()


def records_at(root: Path, commit: str) -> dict[str, dict[str, Any]]:
    """Every lineage record at ``commit``, by path (they are git-tracked: ``cache: false``)."""
    folder = LAYOUT.lineage_record("_").parent.as_posix()
    listing = git(root, "ls-tree", "--name-only", commit, f"{folder}/").stdout.decode().split()
    records = {}
    for name in listing:
        if name.endswith(".json"):
            shown = git(root, "show", f"{commit}:{name}")
            if shown.returncode == 0:
                # Checked against the record's contract; the callers read the checked JSON.
                records[name] = as_contract(LineageRecord, json.loads(shown.stdout), f"{name}@{commit[:12]}").model_dump(mode="json")
    return records


def covers(node_path: str, path: str) -> bool:
    return node_path == path or node_path.startswith(path.rstrip("/") + "/") or path.startswith(node_path.rstrip("/") + "/")


def find_record(records: dict[str, dict[str, Any]], path: str, rev: str) -> tuple[str, dict[str, Any]]:
    """The record whose chain or targets hold ``path`` (or something inside it); exit 2 when none does."""
    for name, record in sorted(records.items()):
        nodes = [node["path"] for node in record.get("chain") or []] + [target for target in (record.get("targets") or {}).values() if target]
        if any(covers(node, path) for node in nodes):
            return name, record
    raise AssayError(f"{path}: no lineage record at {rev} names it ({LAYOUT.lineage_record('<domain>').as_posix()}); is it an artifact of the pipeline?")


def lineage_at(root: Path, rev: str, path: str) -> dict[str, Any]:
    """The lineage record that names ``path`` at ``rev``, with the commit and the record's file name."""
    commit = resolve_rev(root, rev)
    name, record = find_record(records_at(root, commit), path, rev)
    return {"rev": rev, "commit": commit, "record_path": name, "record": record}


def _show(root: Path, commit: str, path: str) -> Any:
    shown = git(root, "show", f"{commit}:{path}")
    return json.loads(shown.stdout) if shown.returncode == 0 else None


def raw_files(record: dict[str, Any]) -> dict[str, str | None]:
    """Every raw source file with its sha256 (a source folder without a file list, by its md5)."""
    files: dict[str, str | None] = {}
    for node in record.get("chain") or []:
        if node.get("role") != "source" or node.get("validation"):
            continue
        for file in node.get("files") or [{"path": node["path"], "sha256": node.get("md5")}]:
            files[file["path"]] = file.get("sha256")
    return files


def suite_path(record: dict[str, Any]) -> str | None:
    validation = next((node["validation"] for node in record.get("chain") or [] if node.get("validation")), None)
    return validation.get("suite") if validation else None


def _leaves(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _leaves(f"{prefix}.{key}", item, out)
    else:
        out[prefix] = value


def params_of(record: dict[str, Any]) -> dict[str, Any]:
    """Every param the chain's stages ran with, as leaf keys (``domains.records.clean.null_values``)."""
    leaves: dict[str, Any] = {}
    for node in record.get("chain") or []:
        for key, value in (node.get("params") or {}).items():
            _leaves(key, value, leaves)
    return leaves


def code_of(record: dict[str, Any]) -> dict[str, str | None]:
    """Every code file any stage of the chain ran with, and its md5 (from ``dvc.lock``)."""
    return {item["path"]: item.get("md5") for step in record.get("stages") or [] for item in step.get("code") or []}


def expectations_of(suite: dict[str, Any] | None) -> dict[str, Any]:
    """A suite's expectations by what they check (type and column), not by position."""
    found: dict[str, Any] = {}
    for expectation in (suite or {}).get("expectations") or []:
        kwargs = expectation.get("kwargs") or {}
        column = kwargs.get("column") or ",".join(kwargs.get("column_list") or []) or "(table)"
        key = f"{expectation.get('type')} {column}"
        n = 2
        while key in found:  # the same check twice on one column: tell them apart by order
            key, n = f"{expectation.get('type')} {column} #{n}", n + 1
        found[key] = {"kwargs": kwargs, "severity": expectation.get("severity") or (expectation.get("meta") or {}).get("severity")}
    return found


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key in sorted(set(before) | set(after)):
        if key not in before:
            rows.append({"key": key, "change": "added", "after": after[key]})
        elif key not in after:
            rows.append({"key": key, "change": "removed", "before": before[key]})
        elif before[key] != after[key]:
            rows.append({"key": key, "change": "changed", "before": before[key], "after": after[key]})
    return rows


def diff_lineage(root: Path, rev_a: str, rev_b: str, path: str) -> dict[str, Any]:
    """What changed in ``path``'s lineage from ``rev_a`` to ``rev_b``: raw files, params, expectations, code, artifacts."""
    a, b = lineage_at(root, rev_a, path), lineage_at(root, rev_b, path)
    ra, rb = a["record"], b["record"]
    suite_a, suite_b = suite_path(ra), suite_path(rb)

    def artifact_md5s(record: dict[str, Any]) -> dict[str, str | None]:
        return {node["path"]: node.get("md5") for node in record.get("chain") or [] if node.get("role") != "source" and covers(node["path"], path)}

    return {
        "path": path,
        "a": {key: a[key] for key in ("rev", "commit", "record_path")},
        "b": {key: b[key] for key in ("rev", "commit", "record_path")},
        "raw_files": _changes(raw_files(ra), raw_files(rb)),
        "params": _changes(params_of(ra), params_of(rb)),
        "suite": _changes(
            expectations_of(_show(root, a["commit"], suite_a) if suite_a else None), expectations_of(_show(root, b["commit"], suite_b) if suite_b else None)
        ),
        "code": _changes(code_of(ra), code_of(rb)),
        "artifact": _changes(artifact_md5s(ra), artifact_md5s(rb)),
    }


DIFF_PARTS = (
    ("raw_files", "raw files (sha256)"),
    ("params", "params"),
    ("suite", "suite expectations"),
    ("code", "code (md5)"),
    ("artifact", "artifact (md5)"),
)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "…"


def diff_lines(result: dict[str, Any]) -> list[str]:
    """The diff in words, one line per change, grouped by part."""
    a, b = result["a"], result["b"]
    lines = [f"{result['path']}: {a['rev']} ({a['commit'][:12]}) -> {b['rev']} ({b['commit'][:12]})"]
    for part, title in DIFF_PARTS:
        changes = result[part]
        lines.append(f"{title}: {len(changes)} changed" if changes else f"{title}: no change")
        for change in changes:
            if change["change"] == "changed":
                lines.append(f"  ~ {change['key']}: {_short(change['before'])} -> {_short(change['after'])}")
            else:
                sign = "+" if change["change"] == "added" else "-"
                lines.append(f"  {sign} {change['key']}: {_short(change.get('after', change.get('before')))}")
    return lines


def trace_lines(root: Path, path: str, rev: str) -> list[str]:
    """``assay trace PATH --rev REV``: the chain as that revision's lineage record has it."""
    found = lineage_at(root, rev, path)
    record = found["record"]
    run = (record.get("run") or {}).get("git") or {}
    lines = [f"{path} at {rev} ({found['commit'][:12]}), from {found['record_path']} (lineage written at {str(run.get('commit'))[:12]})"]
    for node in record.get("chain") or []:
        rows = node.get("rows")
        rows_text = f"  {rows:,} rows" if isinstance(rows, int) else ""
        made = node.get("stage") or "source"
        lines.append(f"  {node['path']}  ({made})  md5 {node.get('md5') or '—'}{rows_text}")
        for file in node.get("files") or []:
            lines.append(f"    file {file['path']}  sha256 {file.get('sha256')}")
        if node.get("validation"):
            validation = node["validation"]
            lines.append(f"    suite {validation.get('suite')}: {'passed' if validation.get('success') else 'FAILED'}")
    lines.append(f"as recorded at {rev}; the bytes are not re-read here: `assay restore {path} --rev {rev} --out DIR` brings them back and checks every hash")
    return lines
