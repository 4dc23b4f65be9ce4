"""The import closure behind the train stage's resume fingerprint, read from the source."""

from __future__ import annotations

import ast
import textwrap

from stages.code_deps import PACKAGE_DIR, closure, imported_names


def test_imports_anywhere_count_function_local_ones_too() -> None:
    tree = ast.parse(
        textwrap.dedent(
            """
            import os
            from stages.io import write_json

            def later():
                from stages.generator import codec
                import stages.privacy
            """
        )
    )
    assert imported_names(tree) == {"stages.io", "stages.generator", "stages.generator.codec", "stages.privacy"}


def test_training_closure_holds_what_the_hand_kept_list_missed() -> None:
    files = {path.relative_to(PACKAGE_DIR).as_posix() for path in closure(["stages.train"])}
    # split.py (group keys, one row per group) was missing from the list this replaced
    assert {"train.py", "split.py", "privacy_guard.py", "privacy.py", "synthesize.py", "generator/codec.py", "__init__.py"} <= files
    assert "report.py" not in files and "cli.py" not in files
