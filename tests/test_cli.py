"""The CLI: help on every command, version, fast start, and one-line errors for bad params."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from assay import __version__
from assay.cli import app

from .conftest import REPO_ROOT

runner = CliRunner()
COMMANDS = sorted(command.name or command.callback.__name__ for command in app.registered_commands)


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name.replace("_", "-") in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(name: str) -> None:
    result = runner.invoke(app, [name.replace("_", "-"), "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"assay {__version__}"


def test_cli_import_stays_light() -> None:
    """`assay --help` must answer fast: no heavy library may load at import time."""
    heavy = "('polars', 'great_expectations', 'transformers', 'torch', 'pandas', 'sklearn', 'dvc')"
    code = f"import sys, assay.cli; print([m for m in {heavy} if m in sys.modules])"
    output = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def write_params(tmp_path: Path, params: dict) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture
def good_params(tmp_path: Path) -> dict:
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.csv").write_text("id,n\n1,2\n")
    return {
        "domains": {
            "toy": {
                "description": "toy",
                "raw_dir": "raw",
                "sources": [{"path": "raw/a.csv", "format": "csv"}],
                "columns": {"id": {"type": "int"}, "n": {"type": "int"}},
                "split": {"group_by": "id"},
                "generator": {"features": ["n"]},
                "evaluate": {"target": {"column": "n", "positive": ["1"]}},
            }
        }
    }


def run_ingest(params_path: Path, tmp_path: Path):
    return runner.invoke(
        app, ["ingest", "--domain", "toy", "--params", str(params_path), "--out", str(tmp_path / "o.parquet"), "--report", str(tmp_path / "r.json")]
    )


def test_good_params_ingest(tmp_path: Path, good_params: dict) -> None:
    result = run_ingest(write_params(tmp_path, good_params), tmp_path)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o.parquet").is_file()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["domains"]["toy"].update(colour="red"), "domains.toy.colour: unknown key"),
        (lambda p: p["domains"]["toy"]["columns"]["n"].update(type="integer"), "domains.toy.columns.n.type: Input should be"),
        (lambda p: p["domains"]["toy"].update(max_field_chars="many"), "domains.toy.max_field_chars: Input should be a valid integer"),
        (lambda p: p["domains"]["toy"]["sources"][0].update(path="raw/missing.csv"), "domains.toy.sources[0].path: source not found: raw/missing.csv"),
        (lambda p: p["domains"]["toy"]["sources"][0].update(format="xlsx"), "domains.toy.sources[0].format: Input should be"),
        (
            lambda p: p["domains"]["toy"].update(clean={"rules": [{"name": "r", "when": "n >>> 2", "reason": "x"}]}),
            "domains.toy.clean.rules[0].when: not a valid SQL expression",
        ),
        (
            lambda p: p["domains"]["toy"].update(
                columns={**p["domains"]["toy"]["columns"], "glyburide-metformin": {"type": "str"}},
                clean={"rules": [{"name": "r", "when": "glyburide-metformin = 'Up'", "reason": "x"}]},
            ),
            'write column names like glyburide-metformin in double quotes: "glyburide-metformin"',
        ),
        (lambda p: p["domains"]["toy"].update(clean={"unique_key": ["nope"]}), "clean.unique_key names unknown column(s) ['nope']"),
        (lambda p: p.update(extra_section=1), "extra_section: unknown key"),
    ],
)
def test_bad_params_give_one_line_and_exit_2(tmp_path: Path, good_params: dict, mutate, expected: str) -> None:
    mutate(good_params)
    result = run_ingest(write_params(tmp_path, good_params), tmp_path)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert expected in lines[0]
    assert "Traceback" not in result.output


def test_unknown_domain_names_the_known_ones(tmp_path: Path, good_params: dict) -> None:
    path = write_params(tmp_path, good_params)
    result = runner.invoke(app, ["clean", "--domain", "nope", "--params", str(path)])
    assert result.exit_code == 2
    assert "unknown domain 'nope'; params define: toy" in result.output


def test_bad_input_file_exits_2_without_traceback_in_a_real_process(tmp_path: Path, good_params: dict) -> None:
    (tmp_path / "raw" / "a.csv").write_text("")
    path = write_params(tmp_path, good_params)
    assay = Path(sys.executable).parent / "assay"
    result = subprocess.run(
        [str(assay), "ingest", "--domain", "toy", "--params", str(path), "--out", str(tmp_path / "o.parquet")], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path / 'raw' / 'a.csv'}: file is empty"
    assert "Traceback" not in result.stderr


def test_repo_params_files_validate() -> None:
    from assay.config import load_params

    params = load_params(REPO_ROOT / "params.yaml")
    assert set(params.domains) == {"records", "transactions", "course_material"}


def _options() -> list:
    """(command, option) for every option of every command and subcommand."""
    import typer.core
    import typer.main

    found, todo = [], [("", typer.main.get_command(app))]
    while todo:
        name, command = todo.pop()
        todo += [(f"{name} {inner}".strip(), sub) for inner, sub in getattr(command, "commands", {}).items()]
        found += [(name, param) for param in command.params if isinstance(param, typer.core.TyperOption)]
    return found


def test_help_is_rich_and_defaults_come_from_show_default() -> None:
    result = runner.invoke(app, ["validate", "--help"], terminal_width=160)
    assert result.exit_code == 0
    assert "╭─ Options" in result.output  # Typer's rich help panels
    assert "data/clean/<domain>.parquet" in result.output and "reports/validation/<domain>.json" in result.output
    # No option types its default into its help text any more (it went stale, and rich markup ate the brackets).
    typed = [f"{command} {param.name}" for command, param in _options() if "[default:" in (param.help or "")]
    assert typed == []
    shown = {(command, param.name): param.show_default for command, param in _options()}
    assert shown[("validate", "data")] == "data/clean/<domain>.parquet"


def test_quiet_keeps_warnings_and_errors_only(tmp_path: Path, good_params: dict) -> None:
    path = write_params(tmp_path, good_params)
    args = ["ingest", "--domain", "toy", "--params", str(path), "--out", str(tmp_path / "o.parquet"), "--report", str(tmp_path / "r.json")]
    loud, quiet = runner.invoke(app, args), runner.invoke(app, ["--quiet", *args])
    assert loud.exit_code == quiet.exit_code == 0
    assert "ingest toy: 1 rows from 1 file(s)" in loud.output
    assert "ingest toy" not in quiet.output


def test_verbose_logs_where_an_error_came_from(tmp_path: Path, good_params: dict) -> None:
    path = write_params(tmp_path, good_params)
    args = ["clean", "--domain", "nope", "--params", str(path)]
    plain, verbose = runner.invoke(app, args), runner.invoke(app, ["--verbose", *args])
    assert plain.exit_code == verbose.exit_code == 2
    assert "Traceback" not in plain.output
    assert "Traceback" in verbose.output and "unknown domain 'nope'" in verbose.output
    assert runner.invoke(app, ["--verbose", "--quiet", *args]).exit_code == 2


def test_log_file_gets_every_line_with_time_level_and_logger(tmp_path: Path, good_params: dict) -> None:
    path, log_file = write_params(tmp_path, good_params), tmp_path / "logs" / "assay.log"
    args = ["--log-file", str(log_file), "--quiet", "ingest", "--domain", "toy", "--params", str(path), "--out", str(tmp_path / "o.parquet")]
    result = runner.invoke(app, [*args, "--report", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "ingest toy" not in result.output  # --quiet is for the console only
    logged = log_file.read_text()
    assert f"DEBUG    assay.contracts: wrote {tmp_path / 'r.json'} (IngestReport)" in logged  # the file gets debug lines too
    line = next(line for line in logged.splitlines() if "rows from 1 file(s)" in line)
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO +assay\.ingest: ingest toy: 1 rows from 1 file\(s\)", line), line
