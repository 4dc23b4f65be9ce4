"""Which of the package's modules a stage runs: the import closure, read from the source.

DVC re-runs a stage when one of its deps changes, so a stage's code deps must cover every module
it can import, or an edit leaves results stale while ``dvc status`` is clean. This module computes
that set by walking the syntax trees (no import is executed), following every ``import`` of the
package, function-local ones included: a deferred import runs too.

Used by ``tests/test_code_deps.py`` (each stage's deps in ``dvc.yaml`` cover its closure) and by
the train stage's resume fingerprint (a checkpoint of other code is not resumed).
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

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
            # the package uses absolute imports only (ruff's TID252 says so)
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


def command_closure(cli: ModuleType, argv: list[str]) -> set[Path]:
    """The modules ``assay <argv>`` runs: the CLI module's top-level imports and helpers, the
    command function's own imports, and their closures (other commands' imports are not run).

    ``cli`` is the module holding the typer ``app`` (passed in, not imported here: an import of
    it would put every command's code into the closure of anything that imports this module).
    """
    function = command_function(cli.app, argv)
    cli_tree = ast.parse(Path(cli.__file__).read_text())
    shared = ast.Module(body=[node for node in cli_tree.body if not _is_command(node)], type_ignores=[])
    own = ast.parse(textwrap.dedent(inspect.getsource(function)))
    # cli.py itself is a dep, but only the parts this command runs are followed
    return closure(imported_names(shared) | imported_names(own)) | {Path(cli.__file__).resolve()}


def _is_command(node: ast.stmt) -> bool:
    """A function registered as a command (decorated with ``@app.command`` or ``@<group>.command``)."""
    if not isinstance(node, ast.FunctionDef):
        return False
    return any(isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command" for d in node.decorator_list)


def command_function(app: typer.Typer, argv: list[str]) -> Callable[..., object]:
    """The function behind ``assay argv[0]``, or ``assay argv[0] argv[1]`` for a command group."""
    name, rest = argv[0], argv[1:]
    for command in app.registered_commands:
        if (command.name or command.callback.__name__.replace("_", "-")) == name:
            return command.callback
    for group in app.registered_groups:
        if group.name == name and rest:
            return command_function(group.typer_instance, rest)
    raise KeyError(f"no assay command {' '.join(argv)!r}")


def relative(paths: Iterable[Path], root: Path) -> list[str]:
    """``paths`` relative to ``root``, sorted, as dvc.yaml writes them."""
    return sorted(path.resolve().relative_to(root.resolve()).as_posix() for path in paths)
