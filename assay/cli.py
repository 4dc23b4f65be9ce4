"""The ``assay`` command line: thin wrappers over the stage modules (``assay.stages``) and tools.

Each command imports its stage inside the function: the stages pull in polars, Great
Expectations, torch and transformers, and a top-level import would make ``assay --help`` take
seconds. (``assay.code_deps`` follows these imports per command, so ``dvc.yaml`` still lists them.)
"""

from __future__ import annotations

import json
import logging
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
)

DomainOption = Annotated[str, typer.Option("--domain", "-d", help="Domain name, a key of `domains` in params.yaml.")]
ParamsOption = Annotated[Path, typer.Option("--params", help="Params file.")]
# How help texts name a domain's default paths (show_default): "data/clean/<domain>.parquet".
D = "<domain>"


log = logging.getLogger("assay.cli")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn AssayError into one line on stderr and its exit code: no traceback for bad input (``--verbose`` logs it)."""
    try:
        yield
    except AssayError as exc:
        log.debug("where the error was raised", exc_info=True)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"assay {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", envvar="ASSAY_VERBOSE", help="Also Assay's debug lines and the libraries' info messages.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", envvar="ASSAY_QUIET", help="Only warnings and errors; no progress bars.")] = False,
    log_file: Annotated[
        Path | None,
        typer.Option("--log-file", envvar="ASSAY_LOG_FILE", help="Also append every log line, with time, level and logger, to this file.", show_default=False),
    ] = None,
) -> None:
    """Assay: ingest -> clean -> validate -> split -> train -> synthesize -> evaluate, with lineage.

    The options go before the command: assay --quiet validate --domain records. Under dvc repro,
    set them through the environment: ASSAY_LOG_FILE=assay.log dvc repro.
    """
    if verbose and quiet:
        raise typer.BadParameter("--verbose and --quiet contradict each other; give one")
    setup_logging(verbose=verbose, quiet=quiet, log_file=log_file)


@app.command()
def schema(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    out: Annotated[Path | None, typer.Option(help="Where to write the columns.", show_default=str(LAYOUT.ingest_schema(D)))] = None,
) -> None:
    """Write what ingest reads of the domain's columns (names in source order, identifiers), without the cleaning rules.

    dvc repro runs it before ingest, so that a rule change does not re-run ingest.

    Example: assay schema --domain transactions && assay ingest --domain transactions
    """
    from assay.stages.schema import run_schema

    with _user_errors():
        run_schema(domain, params, out or LAYOUT.ingest_schema(domain))


@app.command()
def ingest(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    schema: Annotated[
        Path | None, typer.Option(help="The columns assay schema wrote; when it exists it must agree with params.", show_default=str(LAYOUT.ingest_schema(D)))
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Interim Parquet file.", show_default=str(LAYOUT.interim(D)))] = None,
    report: Annotated[Path | None, typer.Option(help="Ingest report.", show_default=str(LAYOUT.ingest_report(D)))] = None,
) -> None:
    """Read a domain's raw sources into data/interim/<domain>.parquet, with provenance.

    Example: assay ingest --domain transactions
    """
    from assay.stages.ingest import run_ingest

    with _user_errors():
        run_ingest(domain, params, out or LAYOUT.interim(domain), report or LAYOUT.ingest_report(domain), schema or LAYOUT.ingest_schema(domain))


@app.command()
def clean(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    interim: Annotated[Path | None, typer.Option(help="Interim input.", show_default=str(LAYOUT.interim(D)))] = None,
    out: Annotated[Path | None, typer.Option(help="Clean output.", show_default=str(LAYOUT.clean(D)))] = None,
    quarantine: Annotated[Path | None, typer.Option(help="Rejected rows.", show_default=str(LAYOUT.quarantine(D)))] = None,
    restricted: Annotated[
        Path | None,
        typer.Option(help="Broken lines in full, identifiers unmasked; store apart.", show_default=str(LAYOUT.restricted_quarantine(D))),
    ] = None,
    report: Annotated[Path | None, typer.Option(help="Cleaning metrics.", show_default=str(LAYOUT.clean_report(D)))] = None,
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
    data: Annotated[Path | None, typer.Option(help="Clean data.", show_default=str(LAYOUT.clean(D)))] = None,
    suite: Annotated[Path | None, typer.Option(help="Expectation suite.", show_default=str(LAYOUT.suite(D)))] = None,
    report: Annotated[Path | None, typer.Option(help="Validation report.", show_default=str(LAYOUT.validation_report(D)))] = None,
    docs: Annotated[Path | None, typer.Option(help="Data Docs folder.", show_default=str(LAYOUT.data_docs(D)))] = None,
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
    out: Annotated[Path | None, typer.Option(help="Folder every domain's Data Docs load assets from.", show_default=str(LAYOUT.data_docs_assets()))] = None,
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
    domain: Annotated[
        str | None,
        typer.Option("--domain", "-d", help="Domain whose fresh synthetic ids the file may hold.", show_default="the suite's name, when params define it"),
    ] = None,
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Validate any Parquet or CSV file against a suite; exit 1 if a critical expectation fails.

    Expectations the file cannot meet are skipped, and listed, by the evaluate stage's rules:
    those about provenance columns it does not carry (_source_file, _source_row), and checks of
    the format of ids that are fresh synthetic ids (the domain's generator.synthetic_ids).

    Example: assay check data/synthetic/records.parquet --suite expectations/records.json
    """
    from assay.quality.validate import run_check

    with _user_errors():
        code = run_check(file, suite, domain, params)
    raise typer.Exit(code)


suite_app = typer.Typer(help="Draft and manage expectation suites.", no_args_is_help=True)
app.add_typer(suite_app, name="suite")


@suite_app.command("scaffold")
def suite_scaffold(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    data: Annotated[Path | None, typer.Option(help="Clean data to profile.", show_default=str(LAYOUT.clean(D)))] = None,
    out: Annotated[
        Path | None, typer.Option(help="Suite to write.", show_default=f"{LAYOUT.suite(D)} when it does not exist yet, else {LAYOUT.draft_suite(D)}")
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
    data: Annotated[Path | None, typer.Option(help="Clean data.", show_default=str(LAYOUT.clean(D)))] = None,
    validation: Annotated[Path | None, typer.Option(help="Validation report that must show success.", show_default=str(LAYOUT.validation_report(D)))] = None,
    out_dir: Annotated[Path | None, typer.Option(help="Folder for train/dev/test.parquet.", show_default=str(LAYOUT.splits(D)))] = None,
    report: Annotated[Path | None, typer.Option(help="Split metrics.", show_default=str(LAYOUT.split_report(D)))] = None,
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
    train_split: Annotated[Path | None, typer.Option("--train", help="Train split.", show_default=str(LAYOUT.split(D, "train")))] = None,
    dev_split: Annotated[Path | None, typer.Option("--dev", help="Dev split, watched for early stopping.", show_default=str(LAYOUT.split(D, "dev")))] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option(help="Model folder: the generator goes to <model-dir>/generator, metrics to <model-dir>/metrics.json.", show_default=str(LAYOUT.model(D))),
    ] = None,
    live_dir: Annotated[Path | None, typer.Option(help="DVCLive folder for training curves.", show_default=str(LAYOUT.training_live(D)))] = None,
    checkpoints: Annotated[Path | None, typer.Option(help="Checkpoints kept for resuming.", show_default=str(LAYOUT.checkpoints(D)))] = None,
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
    rows: Annotated[int | None, typer.Option("-n", "--rows", help="Rows to sample.", show_default="generator.sample.rows, else the train split's size")] = None,
    where: Annotated[list[str] | None, typer.Option("--where", help='Fix a modelled column, e.g. --where "readmitted=<30" (repeatable).')] = None,
    model_dir: Annotated[Path | None, typer.Option(help="Model folder holding the trained generator/.", show_default=str(LAYOUT.model(D)))] = None,
    train_split: Annotated[
        Path | None, typer.Option("--train", help="Train split: schema, size and lookups.", show_default=str(LAYOUT.split(D, "train")))
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Synthetic data.", show_default=str(LAYOUT.synthetic(D)))] = None,
    report: Annotated[Path | None, typer.Option(help="Sampling report.", show_default=str(LAYOUT.synthesize_report(D)))] = None,
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
    splits: Annotated[Path | None, typer.Option(help="Folder with train/dev/test.parquet.", show_default=str(LAYOUT.splits(D)))] = None,
    synthetic: Annotated[Path | None, typer.Option(help="Synthetic data to test.", show_default=str(LAYOUT.synthetic(D)))] = None,
    suite: Annotated[Path | None, typer.Option(help="Expectation suite for validity.", show_default=str(LAYOUT.suite(D)))] = None,
    report: Annotated[Path | None, typer.Option(help="Metrics and detail.", show_default=str(LAYOUT.utility_report(D)))] = None,
    plots: Annotated[Path | None, typer.Option(help="Folder for per-column plot data.", show_default=str(LAYOUT.utility_plots(D)))] = None,
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
    out: Annotated[Path | None, typer.Option(help="The stewards' page.", show_default=str(LAYOUT.index_page()))] = None,
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
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many rows.", show_default="all with --out, 20 on screen")] = None,
    out: Annotated[Path | None, typer.Option(help="Write them to a .csv (formulas neutralised) or .parquet file instead of the screen.")] = None,
    data: Annotated[Path | None, typer.Option("--quarantine", help="Quarantine file.", show_default=str(LAYOUT.quarantine(D)))] = None,
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


@app.command()
def reproduced(
    rev: Annotated[str, typer.Option("--rev", help="The git revision whose committed figures the workspace's are compared with.")] = "HEAD",
) -> None:
    """Check that the workspace's DVC metrics are the committed ones, within the run-to-run tolerances.

    Runs `dvc metrics diff` and judges it: a release-gate figure may move by its tolerance (README,
    Determinism), every other figure must be equal. Names each figure that moved further. Exit 0
    when the figures reproduced, 1 when some moved too far, 2 when DVC could not compare them.

    Example: assay reproduced   (after `make demo` on a clean clone)
    """
    from assay.reproduced import metrics_diff, moved_too_far

    with _user_errors():
        diff = metrics_diff(rev)
    problems = moved_too_far(diff)
    if problems:
        typer.echo(f"{len(problems)} figures moved beyond their run-to-run tolerance against {rev}:")
        typer.echo("\n".join(f"  {line}" for line in problems))
        raise typer.Exit(1)
    moved = sum(len(figures) for figures in diff.values())
    typer.echo(f"the figures committed at {rev} reproduced: {moved} moved, each within its stated tolerance")


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


lineage_app = typer.Typer(help="Lineage records, model cards and OpenLineage export.", no_args_is_help=True)
app.add_typer(lineage_app, name="lineage")


@lineage_app.command("build")
def lineage_build(
    domain: DomainOption,
    params: ParamsOption = Path("params.yaml"),
    model_dir: Annotated[
        Path | None, typer.Option(help="Model folder: reads generator/ and metrics.json, writes README.md and lineage.json.", show_default=str(LAYOUT.model(D)))
    ] = None,
    synthetic: Annotated[Path | None, typer.Option(help="The synthetic data.", show_default=str(LAYOUT.synthetic(D)))] = None,
    utility: Annotated[Path | None, typer.Option(help="The utility report, if a stage makes it.", show_default=str(LAYOUT.utility_report(D)))] = None,
    out: Annotated[Path | None, typer.Option(help="Lineage record.", show_default=str(LAYOUT.lineage_record(D)))] = None,
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
    transport: Annotated[str, typer.Option(help="openlineage-python's transport: file (newline-delimited JSON), console (stdout) or http.")] = "file",
    out: Annotated[Path, typer.Option(help="The file the file transport writes (replaced).")] = Path("dist/openlineage/events.jsonl"),
    url: Annotated[
        str | None,
        typer.Option(
            help="Base URL of an OpenLineage endpoint for the http transport (Marquez: http://localhost:5000).",
            show_default="OPENLINEAGE_URL, else openlineage.url in params",
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Event format; openlineage is the one supported.")] = "openlineage",
    domain: Annotated[list[str] | None, typer.Option("--domain", "-d", help="Only this domain's stage runs (repeatable).", show_default="every stage")] = None,
    namespace: Annotated[str, typer.Option(help="OpenLineage namespace of the jobs (datasets are named as files are: namespace file).")] = "assay",
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Emit one OpenLineage RunEvent (COMPLETE) per stage run in dvc.lock, in dependency order, with openlineage-python.

    Example: assay lineage export --transport http --url http://localhost:5000
    """
    from assay.lineage.openlineage import run_export

    if fmt != "openlineage":
        with _user_errors():
            raise AssayError(f"--format {fmt}: unknown format; the one supported is openlineage")
    with _user_errors():
        count = run_export(transport, out, url, domain, namespace, params_path=params)
    if transport == "file":
        typer.echo(f"{out}: {count} events")


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
