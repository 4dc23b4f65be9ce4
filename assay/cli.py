"""The ``assay`` command line: thin wrappers over the stage modules (``assay.stages``) and tools.

Each command imports its stage inside the function: the stages pull in polars, Great
Expectations, torch and transformers, and a top-level import would make ``assay --help`` take
seconds. (``assay.code_deps`` follows these imports per command, so ``dvc.yaml`` still lists them.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from assay import __version__
from assay.errors import AssayError
from assay.layout import LAYOUT
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
# How help texts name a domain's default paths: "[default: data/clean/<domain>.parquet]".
D = "<domain>"


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
    out: Annotated[Path | None, typer.Option(help=f"Interim Parquet file [default: {LAYOUT.interim(D)}].")] = None,
    report: Annotated[Path | None, typer.Option(help=f"Ingest report [default: {LAYOUT.ingest_report(D)}].")] = None,
) -> None:
    """Read a domain's raw sources into data/interim/<domain>.parquet, with provenance.

    Example: assay ingest --domain transactions
    """
    from assay.stages.ingest import run_ingest

    with _user_errors():
        run_ingest(domain, params, out or LAYOUT.interim(domain), report or LAYOUT.ingest_report(domain))


@app.command()
def clean(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    interim: Annotated[Path | None, typer.Option(help=f"Interim input [default: {LAYOUT.interim(D)}].")] = None,
    out: Annotated[Path | None, typer.Option(help=f"Clean output [default: {LAYOUT.clean(D)}].")] = None,
    quarantine: Annotated[Path | None, typer.Option(help=f"Rejected rows [default: {LAYOUT.quarantine(D)}].")] = None,
    restricted: Annotated[
        Path | None,
        typer.Option(help=f"Broken lines in full, identifiers unmasked; store apart [default: {LAYOUT.restricted_quarantine(D)}]."),
    ] = None,
    report: Annotated[Path | None, typer.Option(help=f"Cleaning metrics [default: {LAYOUT.clean_report(D)}].")] = None,
    allow_demo_key: Annotated[
        bool,
        typer.Option("--allow-demo-key", help="Accept the public demo key for real data (sources outside data/raw/); its pseudonyms can be reversed."),
    ] = False,
) -> None:
    """Apply the domain's cleaning rules; rejected rows go to quarantine with the rule and reason.

    Example: assay clean --domain records
    """
    from assay.stages.clean import run_clean

    with _user_errors():
        run_clean(
            domain,
            params,
            interim or LAYOUT.interim(domain),
            out or LAYOUT.clean(domain),
            quarantine or LAYOUT.quarantine(domain),
            restricted or LAYOUT.restricted_quarantine(domain),
            report or LAYOUT.clean_report(domain),
            allow_demo_key,
        )


@app.command()
def validate(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help=f"Clean data [default: {LAYOUT.clean(D)}].")] = None,
    suite: Annotated[Path | None, typer.Option(help=f"Expectation suite [default: {LAYOUT.suite(D)}].")] = None,
    report: Annotated[Path | None, typer.Option(help=f"Validation report [default: {LAYOUT.validation_report(D)}].")] = None,
    docs: Annotated[Path | None, typer.Option(help=f"Data Docs folder [default: {LAYOUT.data_docs(D)}].")] = None,
) -> None:
    """Validate clean data with the domain's GX suite; a failed critical expectation stops the pipeline.

    Example: assay validate --domain records
    """
    from assay.stages.validate import run_validate

    with _user_errors():
        run_validate(
            domain,
            params,
            data or LAYOUT.clean(domain),
            suite or LAYOUT.suite(domain),
            report or LAYOUT.validation_report(domain),
            docs or LAYOUT.data_docs(domain),
        )


@app.command("docs-assets")
def docs_assets(
    out: Annotated[Path | None, typer.Option(help=f"Folder every domain's Data Docs load assets from [default: {LAYOUT.data_docs_assets()}].")] = None,
) -> None:
    """Write the Data Docs' vendored assets (Bootstrap, Font Awesome, Vega) once, for every domain's pages.

    Example: assay docs-assets
    """
    from assay.quality.datadocs import write_assets

    with _user_errors():
        typer.echo(str(write_assets(out or LAYOUT.data_docs_assets())))


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
    data: Annotated[Path | None, typer.Option(help=f"Clean data to profile [default: {LAYOUT.clean(D)}].")] = None,
    out: Annotated[
        Path | None, typer.Option(help=f"Suite to write [default: {LAYOUT.suite(D)} when it does not exist yet, else {LAYOUT.draft_suite(D)}].")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Draft a suite from clean data (types, null rates, ranges, small value sets, key uniqueness) for a steward to edit.

    Example: assay suite scaffold --domain records --out expectations/records.draft.json
    """
    from assay.quality.suite import run_scaffold

    with _user_errors():
        # A new domain gets its suite; beside an existing one (a steward's), only a draft.
        default = LAYOUT.suite(domain) if not LAYOUT.suite(domain).exists() else LAYOUT.draft_suite(domain)
        path = run_scaffold(domain, params, data or LAYOUT.clean(domain), out or default, force)
    typer.echo(str(path))


@app.command()
def split(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help=f"Clean data [default: {LAYOUT.clean(D)}].")] = None,
    validation: Annotated[Path | None, typer.Option(help=f"Validation report that must show success [default: {LAYOUT.validation_report(D)}].")] = None,
    out_dir: Annotated[Path | None, typer.Option(help=f"Folder for train/dev/test.parquet [default: {LAYOUT.splits(D)}].")] = None,
    report: Annotated[Path | None, typer.Option(help=f"Split metrics [default: {LAYOUT.split_report(D)}].")] = None,
) -> None:
    """Cut validated clean data into leakage-free train/dev/test splits and measure drift between them.

    Example: assay split --domain transactions
    """
    from assay.stages.split import run_split

    with _user_errors():
        run_split(
            domain,
            params,
            data or LAYOUT.clean(domain),
            validation or LAYOUT.validation_report(domain),
            out_dir or LAYOUT.splits(domain),
            report or LAYOUT.split_report(domain),
        )


@app.command()
def train(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    train_split: Annotated[Path | None, typer.Option("--train", help=f"Train split [default: {LAYOUT.split(D, 'train')}].")] = None,
    dev_split: Annotated[Path | None, typer.Option("--dev", help=f"Dev split, watched for early stopping [default: {LAYOUT.split(D, 'dev')}].")] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(help=f"Model folder: the generator goes to <model-dir>/generator, metrics to <model-dir>/metrics.json [default: {LAYOUT.model(D)}]."),
    ] = None,
    live_dir: Annotated[Path | None, typer.Option(help=f"DVCLive folder for training curves [default: {LAYOUT.training_live(D)}].")] = None,
    checkpoints: Annotated[Path | None, typer.Option(help=f"Checkpoints kept for resuming [default: {LAYOUT.checkpoints(D)}].")] = None,
) -> None:
    """Train the domain's generator on the train split (GPU with bf16 when present, else CPU).

    Example: assay train --domain records
    """
    from assay.stages.train import run_train

    with _user_errors():
        run_train(
            domain,
            params,
            train_split or LAYOUT.split(domain, "train"),
            dev_split or LAYOUT.split(domain, "dev"),
            model_dir or LAYOUT.model(domain),
            live_dir or LAYOUT.training_live(domain),
            checkpoints or LAYOUT.checkpoints(domain),
        )


@app.command()
def synthesize(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    rows: Annotated[int | None, typer.Option("-n", "--rows", help="Rows to sample [default: generator.sample.rows, else the train split's size].")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help='Fix a modelled column, e.g. --where "readmitted=<30" (repeatable).')] = None,
    model_dir: Annotated[Path | None, typer.Option(help=f"Model folder holding the trained generator/ [default: {LAYOUT.model(D)}].")] = None,
    train_split: Annotated[Path | None, typer.Option("--train", help=f"Train split: schema, size and lookups [default: {LAYOUT.split(D, 'train')}].")] = None,
    out: Annotated[Path | None, typer.Option(help=f"Synthetic data [default: {LAYOUT.synthetic(D)}].")] = None,
    report: Annotated[Path | None, typer.Option(help=f"Sampling report [default: {LAYOUT.synthesize_report(D)}].")] = None,
) -> None:
    """Sample synthetic rows with the clean data's schema; fixed columns sample conditionally.

    Example: assay synthesize --domain records --where "readmitted=<30" -n 1000 --out /tmp/readmitted.parquet
    """
    from assay.stages.synthesize import run_synthesize

    with _user_errors():
        run_synthesize(
            domain,
            params,
            model_dir or LAYOUT.model(domain),
            train_split or LAYOUT.split(domain, "train"),
            out or LAYOUT.synthetic(domain),
            report or LAYOUT.synthesize_report(domain),
            rows,
            where,
        )


@app.command()
def evaluate(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    splits: Annotated[Path | None, typer.Option(help=f"Folder with train/dev/test.parquet [default: {LAYOUT.splits(D)}].")] = None,
    synthetic: Annotated[Path | None, typer.Option(help=f"Synthetic data to test [default: {LAYOUT.synthetic(D)}].")] = None,
    suite: Annotated[Path | None, typer.Option(help=f"Expectation suite for validity [default: {LAYOUT.suite(D)}].")] = None,
    report: Annotated[Path | None, typer.Option(help=f"Metrics and detail [default: {LAYOUT.utility_report(D)}].")] = None,
    plots: Annotated[Path | None, typer.Option(help=f"Folder for per-column plot data [default: {LAYOUT.utility_plots(D)}].")] = None,
) -> None:
    """Test synthetic data against a naive baseline (validity, fidelity, utility, privacy); exit 1 if the release gate fails.

    Example: assay evaluate --domain records && dvc metrics show reports/utility/records.json
    """
    from assay.stages.evaluate import run_evaluate

    with _user_errors():
        run_evaluate(
            domain,
            params,
            splits or LAYOUT.splits(domain),
            synthetic or LAYOUT.synthetic(domain),
            suite or LAYOUT.suite(domain),
            report or LAYOUT.utility_report(domain),
            plots or LAYOUT.utility_plots(domain),
        )


@app.command()
def report(
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path | None, typer.Option(help=f"The stewards' page [default: {LAYOUT.index_page()}].")] = None,
) -> None:
    """Build the stewards' report: one self-contained HTML page with a section per domain.

    Example: assay report && xdg-open reports/index.html
    """
    from assay.stages.report import run_report

    with _user_errors():
        path = run_report(params, out or LAYOUT.index_page())
    typer.echo(str(path))


@app.command()
def quarantine(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    rule: Annotated[str | None, typer.Option(help="Only the rows of this rule, as the report names it (e.g. range:Quantity).")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows [default: all with --out, 20 on screen].")] = None,
    out: Annotated[Path | None, typer.Option(help="Write them to a .csv (formulas neutralised) or .parquet file instead of the screen.")] = None,
    data: Annotated[Path | None, typer.Option("--quarantine", help=f"Quarantine file [default: {LAYOUT.quarantine(D)}].")] = None,
) -> None:
    """List or export a domain's quarantined rows, all of them or one rule's.

    Example: assay quarantine --domain transactions --rule stock_adjustment --out adjustments.csv
    """
    from assay.config import load_params
    from assay.data.quarantine import run_quarantine, screen_text

    with _user_errors():
        load_params(params).domain(domain)
        rows, total = run_quarantine(domain, data or LAYOUT.quarantine(domain), rule, limit, out)
    if out is None:
        typer.echo(screen_text(rows), nl=False)
    shown = f"{rows.height:,} of {total:,} row(s)" + (f" of rule {rule}" if rule else "")
    typer.echo(f"{shown} written to {out}" if out else f"{shown} shown; --out FILE.csv exports them all", err=True)


@app.command()
def trace(
    path: Annotated[Path, typer.Argument(help="Any artifact a stage makes or reads: a model folder, a synthetic or clean Parquet file, a split, a report.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the tree as JSON.")] = False,
    fast: Annotated[
        bool,
        typer.Option("--fast", help="Trust DVC's state cache (inode, mtime, size) instead of re-reading every byte; says so in the output."),
    ] = False,
    rev: Annotated[
        str | None, typer.Option("--rev", help="Show the lineage as the lineage record at this git revision has it (not verified against the workspace).")
    ] = None,
) -> None:
    """Trace an artifact back to the raw files through dvc.lock, verifying every hash in the workspace.

    Every hash is recomputed from the bytes (a changed byte is found even with its mtime put
    back); a changed file inside a tracked folder is named. Exit 0 when every node matches
    dvc.lock and no stage on the chain is stale, 1 otherwise, 2 for a path no stage makes or reads.

    Example: assay trace models/records
    """
    from assay.lineage.trace import run_trace

    if rev is not None:
        from assay.lineage.history import lineage_at, trace_lines

        with _user_errors():
            if as_json:
                typer.echo(json.dumps(lineage_at(Path("."), rev, Path(path).as_posix()), indent=2, ensure_ascii=False))
            else:
                typer.echo("\n".join(trace_lines(Path("."), Path(path).as_posix(), rev)))
        raise typer.Exit(0)
    with _user_errors():
        code = run_trace(path, as_json=as_json, by_content=not fast)
    raise typer.Exit(code)


@app.command()
def diff(
    rev_a: Annotated[str, typer.Argument(help="The earlier git revision.")],
    rev_b: Annotated[str, typer.Argument(help="The later git revision.")],
    path: Annotated[str, typer.Argument(help="An artifact: models/records, data/synthetic/records.parquet, a split.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the changes as JSON.")] = False,
) -> None:
    """What changed in an artifact's lineage between two git revisions: raw files (sha256), params, suite expectations, code.

    Read from the lineage records and suites that git holds at both revisions. Exit 0 (with or
    without changes), 2 for a bad revision or a path no lineage record names.

    Example: assay diff v1.0 HEAD models/records
    """
    from assay.lineage.history import diff_lineage, diff_lines

    with _user_errors():
        result = diff_lineage(Path("."), rev_a, rev_b, Path(path).as_posix())
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str) if as_json else "\n".join(diff_lines(result)))


@app.command("import-raw")
def import_raw_command(
    params: Annotated[Path, typer.Option(help="Params whose raw_dir lie outside the project (the real profile).")] = Path("params.real.yaml"),
    into: Annotated[Path, typer.Option(help="Where the DVC-imported copies go, one folder per domain.")] = Path("data/real"),
    out: Annotated[Path, typer.Option(help="The params file to write, pointing at the copies.")] = Path("params.yaml"),
) -> None:
    """Bring raw data from outside the project under DVC (dvc import-url), and write params that read the copies.

    Run again, it re-imports only what changed at the source. Commit the .dvc files it names
    with the params file, then `dvc push`. `make real` runs it.

    Example: assay import-raw --params params.real.yaml --out params.yaml
    """
    from assay.ingest.versioned import import_raw

    with _user_errors():
        done = import_raw(params, into, out)
    files = " ".join(item["dvc_file"] for item in done)
    typer.echo(f"wrote {out}; commit it with {files}" if done else f"wrote {out} (no raw_dir outside the project: nothing to import)")


@app.command()
def restore(
    path: Annotated[str, typer.Argument(help="An artifact: a model folder (models/records), a synthetic dataset, a split.")],
    out: Annotated[Path, typer.Option("--out", help="A new or empty folder to restore into.")],
    rev: Annotated[str, typer.Option("--rev", help="The git revision (commit, tag, branch) whose artifact to restore.")] = "HEAD",
) -> None:
    """Restore the exact raw files, suite, params and code behind an artifact at a git revision, and check every hash.

    Files come through DVC at that revision (git, the DVC cache, or the default remote). DIR gets
    artifact/, inputs/ (raw files, suite), code/ (params, dvc.yaml, dvc.lock, the package) and
    manifest.json. Exit 0 when every file matches the revision's lineage record, 1 on a mismatch
    or a missing object (named), 2 for a bad path or revision.

    Example: assay restore models/records --rev v1.0 --out /tmp/records-v1
    """
    from assay.lineage.restore import run_restore

    with _user_errors():
        code = run_restore(path, rev, out)
    raise typer.Exit(code)


lineage_app = typer.Typer(help="Lineage records, model cards and OpenLineage export.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(lineage_app, name="lineage")


@lineage_app.command("build")
def lineage_build(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    model_dir: Annotated[
        Path | None, typer.Option(help=f"Model folder: reads generator/ and metrics.json, writes README.md and lineage.json [default: {LAYOUT.model(D)}].")
    ] = None,
    synthetic: Annotated[Path | None, typer.Option(help=f"The synthetic data [default: {LAYOUT.synthetic(D)}].")] = None,
    utility: Annotated[Path | None, typer.Option(help=f"The utility report, if a stage makes it [default: {LAYOUT.utility_report(D)}].")] = None,
    out: Annotated[Path | None, typer.Option(help=f"Lineage record [default: {LAYOUT.lineage_record(D)}].")] = None,
) -> None:
    """Write a domain's lineage record, its copy in the model folder and the model card there (the `lineage` stage runs this).

    Example: assay lineage build --domain records
    """
    from assay.stages.lineage import run_lineage

    with _user_errors():
        run_lineage(
            domain,
            params,
            model_dir or LAYOUT.model(domain),
            {"synthetic": synthetic or LAYOUT.synthetic(domain), "utility": utility or LAYOUT.utility_report(domain)},
            out or LAYOUT.lineage_record(domain),
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
