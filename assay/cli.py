"""The ``assay`` command line: thin wrappers over the stage modules (``assay.stages``) and tools.

Each command imports its stage inside the function: the stages pull in polars, Great
Expectations, torch and transformers, and a top-level import would make ``assay --help`` take
seconds. (``assay.code_deps`` follows these imports per command, so ``dvc.yaml`` still lists them.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from assay import __version__
from assay.errors import AssayError
from assay.progress import setup_logging

app = typer.Typer(
    name="assay",
    help="Assay: a data-quality-first dataset pipeline. `dvc repro` runs these commands; you can run them by hand too.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Help texts say "[default: ...]"; rich markup would swallow the brackets.
    rich_markup_mode=None,
)

DomainOption = Annotated[str, typer.Option("--domain", "-d", help="Domain name, a key of `domains` in params.yaml.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Params file.")]


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn AssayError into one line on stderr and its exit code: no traceback for bad input."""
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
    from assay.stages.ingest import run_ingest

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
    from assay.stages.clean import run_clean

    with _user_errors():
        run_clean(
            domain,
            params,
            interim or Path(f"data/interim/{domain}.parquet"),
            out or Path(f"data/clean/{domain}.parquet"),
            quarantine or Path(f"data/quarantine/{domain}.parquet"),
            report or Path(f"reports/clean/{domain}.json"),
        )


@app.command()
def validate(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help="Clean data [default: data/clean/<domain>.parquet].")] = None,
    suite: Annotated[Path | None, typer.Option(help="Expectation suite [default: expectations/<domain>.json].")] = None,
    report: Annotated[Path | None, typer.Option(help="Validation report [default: reports/validation/<domain>.json].")] = None,
    docs: Annotated[Path | None, typer.Option(help="Data Docs folder [default: reports/validation/docs/<domain>].")] = None,
) -> None:
    """Validate clean data with the domain's GX suite; a failed critical expectation stops the pipeline.

    Example: assay validate --domain records
    """
    from assay.stages.validate import run_validate

    with _user_errors():
        run_validate(
            domain,
            params,
            data or Path(f"data/clean/{domain}.parquet"),
            suite or Path(f"expectations/{domain}.json"),
            report or Path(f"reports/validation/{domain}.json"),
            docs or Path(f"reports/validation/docs/{domain}"),
        )


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="A Parquet or CSV file.")],
    suite: Annotated[Path, typer.Option("--suite", help="A GX 1.x expectation suite (JSON).")],
) -> None:
    """Validate any Parquet or CSV file against a suite; exit 1 if a critical expectation fails.

    Example: assay check data/synthetic/records.parquet --suite expectations/records.json
    """
    from assay.quality.validate import run_check

    with _user_errors():
        code = run_check(file, suite)
    raise typer.Exit(code)


suite_app = typer.Typer(help="Draft and manage expectation suites.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(suite_app, name="suite")


@suite_app.command("scaffold")
def suite_scaffold(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help="Clean data to profile [default: data/clean/<domain>.parquet].")] = None,
    out: Annotated[Path | None, typer.Option(help="Suite to write [default: expectations/<domain>.draft.json].")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Draft a suite from clean data (types, null rates, ranges, small value sets, key uniqueness) for a steward to edit.

    Example: assay suite scaffold --domain records --out expectations/records.draft.json
    """
    from assay.quality.suite import run_scaffold

    with _user_errors():
        path = run_scaffold(domain, params, data or Path(f"data/clean/{domain}.parquet"), out or Path(f"expectations/{domain}.draft.json"), force)
    typer.echo(str(path))


@app.command()
def split(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help="Clean data [default: data/clean/<domain>.parquet].")] = None,
    validation: Annotated[Path | None, typer.Option(help="Validation report that must show success [default: reports/validation/<domain>.json].")] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for train/dev/test.parquet [default: data/splits/<domain>].")] = None,
    report: Annotated[Path | None, typer.Option(help="Split metrics [default: reports/split/<domain>.json].")] = None,
) -> None:
    """Cut validated clean data into leakage-free train/dev/test splits and measure drift between them.

    Example: assay split --domain transactions
    """
    from assay.stages.split import run_split

    with _user_errors():
        run_split(
            domain,
            params,
            data or Path(f"data/clean/{domain}.parquet"),
            validation or Path(f"reports/validation/{domain}.json"),
            out_dir or Path(f"data/splits/{domain}"),
            report or Path(f"reports/split/{domain}.json"),
        )


@app.command()
def train(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    train_split: Annotated[Path | None, typer.Option("--train", help="Train split [default: data/splits/<domain>/train.parquet].")] = None,
    dev_split: Annotated[Path | None, typer.Option("--dev", help="Dev split, watched for early stopping [default: data/splits/<domain>/dev.parquet].")] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(help="Model folder: the generator goes to <model-dir>/generator, metrics to <model-dir>/metrics.json [default: models/<domain>]."),
    ] = None,
    live_dir: Annotated[Path | None, typer.Option(help="DVCLive folder for training curves [default: reports/train/<domain>].")] = None,
    checkpoints: Annotated[Path | None, typer.Option(help="Checkpoints kept for resuming [default: models/.checkpoints/<domain>].")] = None,
) -> None:
    """Train the domain's generator on the train split (GPU with bf16 when present, else CPU).

    Example: assay train --domain records
    """
    from assay.stages.train import run_train

    with _user_errors():
        run_train(
            domain,
            params,
            train_split or Path(f"data/splits/{domain}/train.parquet"),
            dev_split or Path(f"data/splits/{domain}/dev.parquet"),
            model_dir or Path(f"models/{domain}"),
            live_dir or Path(f"reports/train/{domain}"),
            checkpoints or Path(f"models/.checkpoints/{domain}"),
        )


@app.command()
def synthesize(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    rows: Annotated[int | None, typer.Option("-n", "--rows", help="Rows to sample [default: generator.sample.rows, else the train split's size].")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help='Fix a modelled column, e.g. --where "readmitted=<30" (repeatable).')] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Model folder holding the trained generator/ [default: models/<domain>].")] = None,
    train_split: Annotated[
        Path | None, typer.Option("--train", help="Train split: schema, size and lookups [default: data/splits/<domain>/train.parquet].")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Synthetic data [default: data/synthetic/<domain>.parquet].")] = None,
    report: Annotated[Path | None, typer.Option(help="Sampling report [default: reports/synthesize/<domain>.json].")] = None,
) -> None:
    """Sample synthetic rows with the clean data's schema; fixed columns sample conditionally.

    Example: assay synthesize --domain records --where "readmitted=<30" -n 1000 --out /tmp/readmitted.parquet
    """
    from assay.stages.synthesize import run_synthesize

    with _user_errors():
        run_synthesize(
            domain,
            params,
            model_dir or Path(f"models/{domain}"),
            train_split or Path(f"data/splits/{domain}/train.parquet"),
            out or Path(f"data/synthetic/{domain}.parquet"),
            report or Path(f"reports/synthesize/{domain}.json"),
            rows,
            where,
        )


@app.command()
def evaluate(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    splits: Annotated[Path | None, typer.Option(help="Folder with train/dev/test.parquet [default: data/splits/<domain>].")] = None,
    synthetic: Annotated[Path | None, typer.Option(help="Synthetic data to test [default: data/synthetic/<domain>.parquet].")] = None,
    suite: Annotated[Path | None, typer.Option(help="Expectation suite for validity [default: expectations/<domain>.json].")] = None,
    report: Annotated[Path | None, typer.Option(help="Metrics and detail [default: reports/utility/<domain>.json].")] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for per-column plot data [default: reports/utility/<domain>].")] = None,
) -> None:
    """Test synthetic data against a naive baseline (validity, fidelity, utility, privacy); exit 1 if the release gate fails.

    Example: assay evaluate --domain records && dvc metrics show reports/utility/records.json
    """
    from assay.stages.evaluate import run_evaluate

    with _user_errors():
        run_evaluate(
            domain,
            params,
            splits or Path(f"data/splits/{domain}"),
            synthetic or Path(f"data/synthetic/{domain}.parquet"),
            suite or Path(f"expectations/{domain}.json"),
            report or Path(f"reports/utility/{domain}.json"),
            plots or Path(f"reports/utility/{domain}"),
        )


@app.command()
def report(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path, typer.Option(help="The stewards' page.")] = Path("reports/index.html"),
) -> None:
    """Build the stewards' report: one self-contained HTML page with a section per domain.

    Example: assay report && xdg-open reports/index.html
    """
    from assay.stages.report import run_report

    with _user_errors():
        path = run_report(params, out)
    typer.echo(str(path))


@app.command()
def trace(
    path: Annotated[Path, typer.Argument(help="Any artifact a stage makes or reads: a model folder, a synthetic or clean Parquet file, a split, a report.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
) -> None:
    """Trace an artifact back to the raw files through dvc.lock, verifying every hash in the workspace.

    Exit 0 when every node matches dvc.lock and no stage on the chain is stale, 1 otherwise,
    2 for a path no stage makes or reads.

    Example: assay trace models/records
    """
    from assay.lineage.trace import run_trace

    with _user_errors():
        code = run_trace(path, as_json=as_json)
    raise typer.Exit(code)


lineage_app = typer.Typer(help="Lineage records, model cards and OpenLineage export.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(lineage_app, name="lineage")


@lineage_app.command("build")
def lineage_build(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    model_dir: Annotated[
        Path | None, typer.Option(help="Model folder: reads generator/ and metrics.json, writes README.md and lineage.json [default: models/<domain>].")
    ] = None,
    synthetic: Annotated[Path | None, typer.Option(help="The synthetic data [default: data/synthetic/<domain>.parquet].")] = None,
    utility: Annotated[Path | None, typer.Option(help="The utility report, if a stage makes it [default: reports/utility/<domain>.json].")] = None,
    out: Annotated[Path | None, typer.Option(help="Lineage record [default: reports/lineage/<domain>.json].")] = None,
) -> None:
    """Write a domain's lineage record, its copy in the model folder and the model card there (the `lineage` stage runs this).

    Example: assay lineage build --domain records
    """
    from assay.stages.lineage import run_lineage

    with _user_errors():
        run_lineage(
            domain,
            params,
            model_dir or Path(f"models/{domain}"),
            {"synthetic": synthetic or Path(f"data/synthetic/{domain}.parquet"), "utility": utility or Path(f"reports/utility/{domain}.json")},
            out or Path(f"reports/lineage/{domain}.json"),
        )


@lineage_app.command("export")
def lineage_export(
    out: Annotated[Path, typer.Option(help="Folder for the event files.")] = Path("dist/openlineage"),
    fmt: Annotated[str, typer.Option("--format", help="Event format; openlineage is the one supported.")] = "openlineage",
    domain: Annotated[list[str] | None, typer.Option("--domain", "-d", help="Only this domain's stage runs (repeatable) [default: every stage].")] = None,
    namespace: Annotated[str, typer.Option(help="OpenLineage namespace of jobs and datasets.")] = "assay",
) -> None:
    """Write one OpenLineage RunEvent (COMPLETE) per stage run in dvc.lock, ready to POST to Marquez.

    Post them in file order, e.g. to Marquez: for f in /tmp/ol/*.json; do curl -H 'Content-Type: application/json' -d @$f localhost:5000/api/v1/lineage; done

    Example: assay lineage export --format openlineage --out /tmp/ol
    """
    from assay.lineage.openlineage import run_export

    with _user_errors():
        paths = run_export(out, fmt, domain, namespace)
    for path in paths:
        typer.echo(str(path))


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option(help="Folder to write data/raw/<domain>/ under.")] = Path("data/raw"),
) -> None:
    """Regenerate the committed demo raw data (deterministic: same bytes every time).

    Example: assay demo-data && git diff --stat data/raw
    """
    from assay.demo_data import write_demo_data

    with _user_errors():
        for path in write_demo_data(out):
            typer.echo(str(path))


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":  # python -m assay.cli (accelerate launch, torchrun, benchmarks)
    main()
