"""dvc.yaml lists exactly the code each stage runs, and the package has no import cycle.

A stage whose deps miss a module it imports keeps stale results while ``dvc status`` is clean;
a stage whose deps list code it never runs re-runs for nothing. Both are read from the source
(``assay.code_deps``), so these tests fail on the edit that breaks them, not on a later run.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from assay import cli
from assay.code_deps import PACKAGE_DIR, closure, command_closure, compact, covered, dvc_stage_commands, imported_names, resources, stage_code

ROOT = PACKAGE_DIR.parent
STAGES = dvc_stage_commands(ROOT / "dvc.yaml")


def code_deps(deps: list[str]) -> list[Path]:
    return [(ROOT / dep).resolve() for dep in deps if dep.split("/", 1)[0] == PACKAGE_DIR.name]


def test_every_pipeline_stage_runs_an_assay_command():
    assert set(STAGES) >= {"ingest", "clean", "validate", "split", "train", "synthesize", "evaluate", "lineage", "report"}


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_exactly_the_code_it_runs(stage):
    argv, deps = STAGES[stage]
    needed = stage_code(cli, argv)
    listed = code_deps(deps)
    expected = "\n".join(f"        - {dep}" for dep in compact(needed, ROOT))
    missing = sorted(path.relative_to(ROOT).as_posix() for path in needed if not covered(path, listed))
    assert not missing, f"dvc.yaml stage {stage!r} runs {missing} but does not depend on it; its code deps should be:\n{expected}"
    for dep in listed:
        assert dep.exists(), f"dvc.yaml stage {stage!r}: dep {dep.relative_to(ROOT)} does not exist"
        files = [dep] if dep.is_file() else [path for path in dep.rglob("*") if path.is_file() and "__pycache__" not in path.parts]
        unused = [path for path in files if not covered(path, needed)]
        assert not unused, (
            f"dvc.yaml stage {stage!r}: dep {dep.relative_to(ROOT)} covers code the stage never runs "
            f"({', '.join(p.relative_to(ROOT).as_posix() for p in unused[:3])}), so edits there re-run it for nothing; "
            f"its code deps should be:\n{expected}"
        )


def test_closure_follows_function_local_imports(tmp_path):
    tree = ast.parse(
        textwrap.dedent(
            """
            import os
            from assay.io import write_json

            def later():
                from assay.data import split
                import assay.metrics.privacy
            """
        )
    )
    assert imported_names(tree) == {"assay.io", "assay.data", "assay.data.split", "assay.metrics.privacy"}


def test_closure_includes_parent_packages_and_transitive_imports():
    files = {path.relative_to(ROOT).as_posix() for path in closure(["assay.stages.split"])}
    # split -> assay.data.split -> assay.data.drift, and every package's __init__ on the way
    assert {"assay/stages/split.py", "assay/data/split.py", "assay/data/drift.py", "assay/data/__init__.py", "assay/__init__.py"} <= files
    assert "assay/generator/training.py" not in files


def test_a_command_runs_only_its_own_deferred_imports():
    files = {path.relative_to(ROOT).as_posix() for path in command_closure(cli, ["clean"])}
    assert "assay/stages/clean.py" in files and "assay/cli.py" in files
    assert not any(name.startswith(("assay/generator", "assay/quality")) for name in files)
    # params validation reads which gate thresholds apply to which kind of domain, nothing else of metrics/
    assert {name for name in files if name.startswith("assay/metrics")} == {"assay/metrics/__init__.py", "assay/metrics/registry.py"}


def test_resources_are_the_folders_a_module_reads_beside_itself():
    found = {path.relative_to(ROOT).as_posix() for path in resources(PACKAGE_DIR / "quality" / "datadocs.py")}
    assert found == {"assay/quality/templates", "assay/quality/assets"}


def test_resume_fingerprint_hashes_the_training_closure():
    from assay.generator import training

    source = Path(training.__file__).read_text()
    assert "closure([" in source and "TRAINING_CODE" not in source
    files = {path.relative_to(ROOT).as_posix() for path in closure([training.__name__])}
    # split.py was missing from the hand-kept list this replaced
    assert {"assay/data/split.py", "assay/generator/privacy_checks.py", "assay/generator/sampling.py", "assay/metrics/privacy.py"} <= files


# ---------------------------------------------------------------------------------------------
# import cycles


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE_DIR.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[name] = imported_names(ast.parse(path.read_text())) - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (a list of modules, first == last), or None."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_package_has_no_import_cycle():
    # every import counts, deferred ones too: a cycle hidden in a function still breaks on a refactor
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_package_code_is_imported_at_the_top_of_library_modules():
    """Deferred imports are for heavy third-party packages only (and the CLI's commands, so that
    ``assay --help`` stays fast); package modules import each other at the top."""
    deferred = []
    for path in PACKAGE_DIR.rglob("*.py"):
        if path.name == "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom) and imported_names(ast.Module(body=[inner], type_ignores=[])):
                        deferred.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not deferred, f"package modules imported inside functions: {deferred}"
