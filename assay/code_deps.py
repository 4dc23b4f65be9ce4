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

PACKAGE = "assay"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_file(name: str) -> Path | None:
    """The source file of package module ``name`` (``assay.x.y``), or None if it is not one."""
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
            # ``from assay.generator import codec`` imports a submodule
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if module_file(name) is not None}


def _with_parents(name: str) -> set[str]:
    """Importing ``assay.a.b`` runs ``assay/__init__.py`` and ``assay/a/__init__.py`` first."""
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


def resources(module: Path) -> set[Path]:
    """Files and folders ``module`` reads beside itself: ``Path(__file__).parent / "name" / ...``
    (templates, vendored assets), as written in its source."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(module.read_text(), filename=str(module))):
        parts: list[str] = []
        while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
            parts.insert(0, str(node.right.value))
            node = node.left
        if parts and _is_here(node):
            found.add(module.parent.joinpath(*parts).resolve())
    return {path for path in found if path.exists()}


def _is_here(node: ast.AST) -> bool:
    """``Path(__file__).parent``."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "parent"
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
        and node.value.func.id == "Path"
        and [getattr(arg, "id", None) for arg in node.value.args] == ["__file__"]
    )


def stage_code(cli: ModuleType, argv: list[str]) -> set[Path]:
    """Everything of the package that ``assay <argv>`` reads: its modules and their resources."""
    modules = command_closure(cli, argv)
    return modules | {resource for module in modules for resource in resources(module)}


def compact(paths: set[Path], root: Path) -> list[str]:
    """``paths`` as dvc.yaml deps: a package folder whose modules are all in ``paths`` is listed
    as the folder (the library folders a stage uses), the rest file by file."""
    paths = {path.resolve() for path in paths}
    folders = sorted({path.parent for path in paths if path.suffix == ".py" and path.parent != PACKAGE_DIR}, key=lambda p: len(p.parts))
    whole: list[Path] = []
    for folder in folders:
        if any(folder.is_relative_to(done) for done in whole):
            continue
        members = {path.resolve() for path in folder.rglob("*.py")}
        if members <= paths:
            whole.append(folder)
    kept = {path for path in paths if not any(path.is_relative_to(folder) for folder in whole)}
    kept = {path for path in kept if not any(path != other and path.is_relative_to(other) for other in kept)}
    return relative(kept | set(whole), root)


def covered(path: Path, deps: Iterable[Path]) -> bool:
    """Whether a dep (a file, or a folder above it) makes DVC see changes to ``path``."""
    return any(path == dep or path.is_relative_to(dep) for dep in deps)


def dvc_stage_commands(dvc_yaml: Path) -> dict[str, tuple[list[str], list[str]]]:
    """Each stage of ``dvc_yaml``: the ``assay`` command words of its ``cmd`` (``["lineage", "build"]``)
    and its deps as written. Stages whose command is not ``assay`` are left out."""
    import yaml  # only the tests read dvc.yaml

    stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    found = {}
    for name, stage in stages.items():
        body = stage.get("do", stage)
        words = str(body["cmd"]).split()
        if words[0] != "assay":
            continue
        argv = []
        for word in words[1:]:
            if word.startswith("-"):
                break
            argv.append(word)
        found[name] = (argv, [str(dep) for dep in body.get("deps", [])])
    return found
