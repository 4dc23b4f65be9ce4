"""The ``assay`` command line: thin wrappers over the stage modules.

Heavy libraries (polars, Great Expectations, transformers) are imported inside commands so that
``assay --help`` answers at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from stages import __version__

app = typer.Typer(
    name="assay",
    help="Assay: a data-quality-first dataset pipeline. `dvc repro` runs these commands; you can run them by hand too.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DomainOption = Annotated[str, typer.Option("--domain", "-d", help="Domain name, a key of `domains` in params.yaml.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Params file.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn AssayError into one line on stderr and its exit code: no traceback for bad input."""
    from stages.errors import AssayError
    from stages.progress import setup_logging

    setup_logging()
    try:
        yield
    except AssayError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
) -> None:
    """Assay: ingest -> clean -> validate -> split -> train -> synthesize -> evaluate, with lineage."""


@app.command()
def ingest(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path | None, typer.Option(help="Interim Parquet file [default: data/interim/<domain>.parquet].")] = None,
    report: Annotated[Path | None, typer.Option(help="Ingest report [default: reports/ingest/<domain>.json].")] = None,
) -> None:
    """Read a domain's raw sources into data/interim/<domain>.parquet, with provenance.

    Example: assay ingest --domain transactions
    """
    from stages.ingest import run_ingest

    with _user_errors():
        run_ingest(domain, params, out or Path(f"data/interim/{domain}.parquet"), report or Path(f"reports/ingest/{domain}.json"))


@app.command()
def clean(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    interim: Annotated[Path | None, typer.Option(help="Interim input [default: data/interim/<domain>.parquet].")] = None,
    out: Annotated[Path | None, typer.Option(help="Clean output [default: data/clean/<domain>.parquet].")] = None,
    quarantine: Annotated[Path | None, typer.Option(help="Rejected rows [default: data/quarantine/<domain>.parquet].")] = None,
    report: Annotated[Path | None, typer.Option(help="Cleaning metrics [default: reports/clean/<domain>.json].")] = None,
) -> None:
    """Apply the domain's cleaning rules; rejected rows go to quarantine with the rule and reason.

    Example: assay clean --domain records
    """
    from stages.clean import run_clean

    with _user_errors():
        run_clean(
            domain,
            params,
            interim or Path(f"data/interim/{domain}.parquet"),
            out or Path(f"data/clean/{domain}.parquet"),
            quarantine or Path(f"data/quarantine/{domain}.parquet"),
            report or Path(f"reports/clean/{domain}.json"),
        )


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write data/raw/<domain>/ under.")] = Path("data/raw"),
) -> None:
    """Regenerate the committed demo raw data (deterministic: same bytes every time).

    Example: assay demo-data && git diff --stat data/raw
    """
    from stages.demo_data import write_demo_data

    with _user_errors():
        for path in write_demo_data(out):
            typer.echo(str(path))


def main() -> None:
    """Console-script entry point."""
    app()
