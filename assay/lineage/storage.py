"""Where the versioned data lives: the project's default DVC remote, and how to restore a model's inputs.

The lineage record and the model card name both, so that an auditor holding a model folder knows
where its inputs are kept and which command brings them back (:mod:`assay.lineage.restore`).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def default_remote(root: Path) -> dict[str, str] | None:
    """The project's default DVC remote: its name and URL as the config writes it, without credentials.

    Read from ``.dvc/config.local`` then ``.dvc/config`` (the first naming a default wins), not
    through DVC's merged config, which turns a relative URL into this machine's absolute path: the
    lineage record must be the same on every checkout. A relative URL is relative to ``.dvc/``.
    """
    from configobj import ConfigObj  # DVC's own config format (quoted section names)

    for name in ("config.local", "config"):
        path = root / ".dvc" / name
        if not path.is_file():
            continue
        config = ConfigObj(str(path))
        remote = (config.get("core") or {}).get("remote")
        if not remote:
            continue
        url = str((config.get(f'remote "{remote}"') or {}).get("url") or "")
        parts = urlsplit(url)
        if parts.username or parts.password:
            parts = parts._replace(netloc=(parts.hostname or "") + (f":{parts.port}" if parts.port else ""))
            url = urlunsplit(parts)
        return {"name": remote, "url": url}
    return None


def restore_command(model_dir: str, record_path: str) -> dict[str, str]:
    """How to restore a model's inputs: the command, and which revision to give it.

    The record cannot name the commit that will hold it (it is written before that commit is
    made), so it says how to find it.
    """
    return {
        "command": f"assay restore {model_dir} --rev REV --out DIR",
        "rev": f"the git commit that holds this record: git log -1 --format=%H -- {record_path}",
    }
