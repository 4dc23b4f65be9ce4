"""Raw data from outside the project, brought under DVC: ``assay import-raw`` (``make real`` runs it).

A domain whose ``raw_dir`` lies outside the repository (the real profile's ``../shared/data/...``)
is imported with DVC's own ``import-url`` into ``<into>/<domain>`` (``data/real/records``): its
bytes go into the DVC cache (and, after ``dvc push``, the remote), and its md5 into
``<into>/<domain>.dvc``, which is committed with the params that read it. Run again, it re-imports
only what changed at the source (``dvc update``) and says which. A params file is written (by
default ``params.yaml``) whose ``raw_dir`` and source paths point at the imported copies, so the
pipeline reads versioned bytes and ``assay restore`` can bring them back at any revision.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

from assay.errors import AssayError
from assay.io import write_text

log = logging.getLogger("assay.ingest")


def _outside(root: Path, path: str) -> bool:
    return not (root / path).resolve().is_relative_to(root.resolve())


def _rebase(path: str, old: str, new: str) -> str:
    return new + path[len(old) :] if path == old or path.startswith(old.rstrip("/") + "/") else path


def import_raw(params_path: Path, into: Path, out_params: Path, root: Path = Path(".")) -> list[dict[str, Any]]:
    """Import every domain's external ``raw_dir`` with DVC and write ``out_params`` pointing at the copies.

    Returns what was done per domain: source, destination, ``.dvc`` file, md5, and whether it was
    imported, updated or already current.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo
    from ruamel.yaml import YAML  # round-trip YAML keeps the params file's comments and order

    yaml = YAML()
    yaml.preserve_quotes = True
    params = yaml.load(params_path.read_text(encoding="utf-8"))
    domains = params.get("domains") or {}
    done: list[dict[str, Any]] = []
    with Repo(str(root)) as repo:
        for name, domain in domains.items():
            raw_dir = str(domain.get("raw_dir") or "")
            if not raw_dir or not _outside(root, raw_dir):
                continue
            source = Path(os.path.abspath(root / raw_dir))  # not resolve(): a symlinked ../shared stays as params name it
            if not source.exists():
                raise AssayError(f"{params_path}: domains.{name}.raw_dir: {raw_dir} does not exist")
            dest = (into / name).as_posix()
            dvcfile = root / f"{dest}.dvc"
            before = dvcfile.read_text(encoding="utf-8") if dvcfile.is_file() else None
            (root / into).mkdir(parents=True, exist_ok=True)
            try:
                if before is None:
                    # Relative to the .dvc file's folder (as DVC reads a dependency), so it holds no machine's absolute path.
                    repo.imp_url(os.path.relpath(source, os.path.abspath(root / into)), out=dest)
                else:
                    repo.update([str(dvcfile)])
            except DvcException as exc:
                raise AssayError(f"import-raw {name}: {raw_dir} -> {dest}: {str(exc).splitlines()[0]}") from None
            action = "imported" if before is None else ("updated" if dvcfile.read_text(encoding="utf-8") != before else "unchanged")
            md5 = _out_md5(dvcfile)
            done.append({"domain": name, "source": raw_dir, "path": dest, "dvc_file": dvcfile.relative_to(root).as_posix(), "md5": md5, "action": action})
            log.info("import-raw %s: %s %s -> %s (md5 %s); commit %s with %s", name, action, raw_dir, dest, md5, dvcfile.relative_to(root), out_params)
            domain["raw_dir"] = dest
            for item in domain.get("sources") or []:
                if isinstance(item, dict) and "path" in item:
                    item["path"] = _rebase(str(item["path"]), raw_dir, dest)
    text = io.StringIO()
    text.write(f"# Written by `assay import-raw` from {params_path.name}: raw data read from the DVC-imported copies.\n")
    yaml.dump(params, text)
    write_text(text.getvalue(), out_params)
    return done


def _out_md5(dvcfile: Path) -> str | None:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(dvcfile.read_text(encoding="utf-8")) or {}
    outs = data.get("outs") or [{}]
    return outs[0].get("md5")
