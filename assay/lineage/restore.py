"""``assay restore PATH [--rev REV] --out DIR``: the exact inputs behind an artifact, at any git revision.

At the revision (a commit, tag or branch; ``HEAD`` by default) it reads the lineage record whose
chain holds ``PATH`` (``reports/lineage/<domain>.json``, versioned by git beside ``dvc.lock``), then
copies through DVC's own filesystem at that revision (``DVCFileSystem(rev=...)``: git for
git-tracked files, the DVC cache or else the default remote for DVC-tracked ones) into ``DIR``:

- ``artifact/``: the artifact itself (a model folder's generator and metrics, a synthetic
  dataset, a split);
- ``inputs/``: the raw source files and the expectation suite that produced it;
- ``code/``: ``params.yaml``, ``dvc.yaml``, ``dvc.lock``, ``pyproject.toml`` and the ``assay``
  package at that revision (``git archive``);
- ``manifest.json``: every restored file with its sha256 and md5, what the lineage record
  expected, and whether they match.

Every restored file is checked against the record: raw files by the sha256 the ingest report
recorded, the suite and artifact files by the md5 ``dvc.lock`` recorded, folders by DVC's
``.dir`` hash of their restored content. Exit 0 when everything matches, 1 on any mismatch or
anything the cache and the remote do not hold (each named), 2 for a bad path or revision.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.errors import AssayError
from assay.io import write_json
from assay.lineage.history import covers, find_record, git, records_at, resolve_rev
from assay.lineage.storage import default_remote
from assay.lineage.trace import hash_from_bytes

log = logging.getLogger("assay.lineage")

CODE_PATHS = ("assay", "pyproject.toml", "dvc.yaml", "dvc.lock", "params.yaml")


@dataclass
class Restored:
    """One restored file: where it came from, where it went, its hashes, and what was expected."""

    source: str
    path: str
    sha256: str | None = None
    md5: str | None = None
    expected: dict[str, str] = field(default_factory=dict)
    problem: str | None = None

    @property
    def matches(self) -> bool:
        return self.problem is None


def _digests(path: Path) -> tuple[str, str]:
    """sha256 and md5 of a file, in one read."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            sha256.update(chunk)
            md5.update(chunk)
    return sha256.hexdigest(), md5.hexdigest()


class Restorer:
    """Copies from ``DVCFileSystem`` at one revision into ``out`` and checks each file against the record."""

    def __init__(self, root: Path, commit: str, out: Path) -> None:
        from dvc.api import DVCFileSystem

        self.root, self.commit, self.out = root, commit, out
        self.fs = DVCFileSystem(url=str(root), rev=commit)
        self.files: list[Restored] = []

    def fetch(self, source: str, dest: Path) -> bool:
        """Copy ``source`` (a file or folder of the repo at the revision) to ``dest``, file by file.

        A file neither the cache nor the remote holds is recorded by name; False if any was.
        """
        try:
            files = sorted(self.fs.find(source)) if self.fs.isdir(source) else [source]
        except Exception as exc:  # the revision does not hold it at all
            self._missing(source, dest, exc)
            return False
        complete = True
        for name in files:
            target = dest / Path(name).relative_to(source) if name != source else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.fs.get_file(name, str(target))
            except Exception as exc:  # DVC raises several kinds for an object neither the cache nor the remote holds
                self._missing(name, target, exc)
                complete = False
        return complete

    def _missing(self, source: str, dest: Path, exc: Exception) -> None:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = f"missing: neither the DVC cache nor the remote has it ({reason})"
        self.files.append(Restored(source, dest.relative_to(self.out).as_posix(), problem=problem))

    def listed_md5(self, source: str) -> dict[str, str]:
        """The md5 that the revision's DVC listing gives a file inside a tracked folder (none for git files)."""
        try:
            md5 = self.fs.info(source).get("md5")
        except Exception:  # not known to DVC at that revision: the folder hash check still covers it
            return {}
        return {"md5": md5} if md5 else {}

    def add_file(self, source: str, dest: Path, expected: dict[str, str]) -> None:
        sha256, md5 = _digests(dest)
        entry = Restored(source, dest.relative_to(self.out).as_posix(), sha256, md5, expected)
        got = {"sha256": sha256, "md5": md5}
        for name, value in expected.items():
            if got[name] != value:
                entry.problem = f"{name} {got[name]} differs from the lineage record's {value}"
        self.files.append(entry)

    def restore_node(self, node: dict[str, Any], into: str) -> None:
        """A chain node: a file (checked by md5), a folder (by DVC's .dir hash), or raw files (by sha256)."""
        source = node["path"]
        dest = self.out / into / source
        if not self.fetch(source, dest):
            return
        sha256_of = {file["path"]: file["sha256"] for file in node.get("files") or [] if file.get("sha256")}
        if dest.is_dir():
            for file in sorted(path for path in dest.rglob("*") if path.is_file()):
                inner = f"{source}/{file.relative_to(dest).as_posix()}"
                self.add_file(inner, file, {"sha256": sha256_of[inner]} if inner in sha256_of else self.listed_md5(inner))
            missing = sorted(set(sha256_of) - {f"{source}/{p.relative_to(dest).as_posix()}" for p in dest.rglob("*") if p.is_file()})
            for name in missing:
                self.files.append(Restored(name, f"{into}/{name}", problem="missing: the lineage record lists it, the revision does not hold it"))
            md5 = node.get("md5")
            if md5 and md5.endswith(".dir"):
                got = hash_from_bytes(str(dest)).hash_info.value
                if got != md5:
                    self.files.append(
                        Restored(source, f"{into}/{source}", md5=got, expected={"md5": md5}, problem=f"folder hash {got} differs from dvc.lock's {md5}")
                    )
        else:
            expected = {"sha256": sha256_of[source]} if source in sha256_of else ({"md5": node["md5"]} if node.get("md5") else {})
            self.add_file(source, dest, expected)

    def restore_code(self) -> None:
        """params, pipeline, lock and package at the revision, from git (``git archive``)."""
        archive = git(self.root, "archive", "--format=tar", self.commit, "--", *CODE_PATHS)
        if archive.returncode != 0:
            raise AssayError(f"git archive {self.commit[:12]} failed: {archive.stderr.decode().strip().splitlines()[0]}", exit_code=1)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(self.out / "code", filter="data")


def restore(path: str, rev: str, out: Path, root: Path = Path(".")) -> dict[str, Any]:
    """Restore what made ``path`` at ``rev`` into ``out`` and return the manifest (also ``out/manifest.json``)."""
    commit = resolve_rev(root, rev)
    path = Path(path).as_posix().rstrip("/")
    record_path, record = find_record(records_at(root, commit), path, rev)
    if out.exists() and any(out.iterdir()):
        raise AssayError(f"{out}: not empty; restore writes into a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    restorer = Restorer(root, commit, out)
    chain = record.get("chain") or []
    for node in chain:
        if node.get("role") == "source":
            restorer.restore_node(node, "inputs")
    for node in chain:
        if node.get("role") != "source" and covers(node["path"], path):
            restorer.restore_node(node, "artifact")
    restorer.restore_code()
    problems = [entry for entry in restorer.files if not entry.matches]
    manifest = {
        "artifact": path,
        "rev": rev,
        "commit": commit,
        "lineage_record": record_path,
        "lineage_run_commit": ((record.get("run") or {}).get("git") or {}).get("commit"),
        "remote": default_remote(root),
        "files": [
            {"source": e.source, "path": e.path, "sha256": e.sha256, "md5": e.md5, "expected": e.expected, "matches": e.matches, "problem": e.problem}
            for e in restorer.files
        ],
        "code": [f"code/{name}" for name in CODE_PATHS],
        "verified": not problems,
    }
    write_json(manifest, out / "manifest.json")
    return manifest


def run_restore(path: str, rev: str, out: Path, root: Path = Path(".")) -> int:
    """Entry point for ``assay restore``: restore, print what was checked, 0 if all matched, else 1."""
    from rich.console import Console

    console = Console(soft_wrap=True, highlight=False)
    manifest = restore(path, rev, out, root)
    bad = [entry for entry in manifest["files"] if not entry["matches"]]
    head = f"{path} at {rev} ({manifest['commit'][:12]}): {len(manifest['files'])} file(s) restored into {out}, from {manifest['lineage_record']}"
    console.print(head, markup=False)
    for entry in bad:
        console.print(f"  ✗ {entry['source']}: {entry['problem']}", markup=False)
    if bad:
        console.print(f"{path}: NOT verified: {len(bad)} file(s) missing or not matching; see {out / 'manifest.json'}", markup=False)
        return 1
    console.print(f"{path}: verified: every restored file matches the lineage record ({out / 'manifest.json'})", markup=False)
    return 0
