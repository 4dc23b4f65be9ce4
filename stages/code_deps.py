"""Which of the package's modules a stage runs: the import closure, read from the source.

DVC re-runs a stage when one of its deps changes, so a stage's code deps must cover every module
it can import, or an edit leaves results stale while ``dvc status`` is clean. This module computes
that set by walking the syntax trees (no import is executed), following every ``import`` of the
package, function-local ones included: a deferred import runs too.

Used by the train stage's resume fingerprint: a checkpoint made by other code is not resumed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = "stages"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(name: str) -> Path | None:
    """The source file of package module ``name`` (``stages.x.y``), or None if it is not one."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    path = PACKAGE_DIR.joinpath(*name.split(".")[1:])
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree: ast.AST) -> set[str]:
    """Package modules named by the imports anywhere in ``tree``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            # the package uses absolute imports only, so a relative one names no package module
            base = node.module
            names.add(base)
            # ``from stages.generator import codec`` imports a submodule
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if module_file(name) is not None}


def _with_parents(name: str) -> set[str]:
    """Importing ``stages.a.b`` runs ``stages/__init__.py`` and ``stages/a/__init__.py`` first."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@cache
def _direct(name: str) -> frozenset[str]:
    path = module_file(name)
    assert path is not None
    return frozenset(imported_names(ast.parse(path.read_text(), filename=str(path))))


def closure(roots: Iterable[str]) -> set[Path]:
    """Source files of ``roots`` and of every package module they import, transitively."""
    seen: set[str] = set()
    todo = [parent for root in roots for parent in _with_parents(root)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(parent for imported in _direct(name) for parent in _with_parents(imported))
    return {path for path in map(module_file, seen) if path is not None}
