"""Cleaning on Spark: the polars rules per partition (``mapInArrow``) against the rules translated to Spark SQL.

Issue 19, item 4 asks to choose between the two by measurement. Builds the real retail file
(../shared/data) repeated COPIES times as ``benchmarks/scale.py`` does (the demo transactions when
the real data is absent), ingests it, then times, median of REPEATS runs in one local Spark
session (``--master``, default local[2]; the session is started and warmed up first):

- ``polars``: ``clean_file`` on this machine, the reference;
- ``spark stage``: ``clean_file_spark``, the whole stage as ``engine: spark`` runs it (global
  dedupe and keys, the three outputs sorted and written on the driver);
- ``checks, mapInArrow``: only the row-local work, every row's first failed check picked by the
  Cleaner's polars phases per partition (normalise, personal data, cast, check), counted by rule;
- ``checks, Spark SQL``: the same checks translated to Spark SQL (trim, whitespace, missing
  markers, casts, required / allowed / pattern / length / range, the rules), counted by rule.
  Spark SQL has no Unicode normal form, no mojibake repair and no HMAC, and runs Java's regular
  expressions, not Rust's: those parts are left out (they would be Python UDFs), so this is a
  lower bound of the translation's time.

Prints the times and whether the two ways count the same rows per rule. ``--validate`` also
times the domain's suite on the clean data through GX on pandas and through GX's Spark datasource.
Usage: python benchmarks/spark_clean.py [--copies 1] [--repeats 3] [--master local[2]] [--validate]
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's code, not an installed assay
sys.path.insert(0, str(Path(__file__).resolve().parent))

import polars as pl  # noqa: E402
from scale import RETAIL, build  # noqa: E402

from assay.columns import INGEST_ERROR  # noqa: E402
from assay.config import ColumnSpec, DomainSpec, SparkSpec, load_params  # noqa: E402
from assay.data.clean import ORDER_COLUMN, Cleaner, clean_file  # noqa: E402
from assay.engines import spark as engine  # noqa: E402

DOMAIN = "transactions"
KEY = b"spark-benchmark-key"

# strptime directives -> Spark's datetime pattern letters (for parsing, Spark reads 1 or 2 digits for M, d, H, m, s).
_DIRECTIVES = {"%Y": "yyyy", "%m": "M", "%d": "d", "%H": "H", "%M": "m", "%S": "s", "%y": "yy", "%b": "MMM", "%B": "MMMM", "%p": "a", "%I": "h"}


def _java_format(fmt: str) -> str:
    pieces = re.split(r"(%[A-Za-z])", fmt)
    return "".join(_DIRECTIVES[piece] if piece in _DIRECTIVES else ("'" + piece + "'" if piece.strip("-/: ") else piece) for piece in pieces if piece)


def _sql_text(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _typed_sql(name: str, spec: ColumnSpec) -> str:
    value = f"`{name}`"
    if spec.type == "int":
        return f"CASE WHEN {value} RLIKE '^[+-]?[0-9]+(\\\\.0*)?$' THEN try_cast(regexp_replace({value}, '\\\\.0*$', '') AS BIGINT) END"
    if spec.type == "float":
        return f"CASE WHEN NOT isnan(try_cast({value} AS DOUBLE)) AND abs(try_cast({value} AS DOUBLE)) != double('inf') THEN try_cast({value} AS DOUBLE) END"
    if spec.type == "bool":
        return f"CASE WHEN lower({value}) IN ('true','yes','y','1','t') THEN true WHEN lower({value}) IN ('false','no','n','0','f') THEN false END"
    if spec.type in ("date", "datetime"):
        parsed = [f"try_to_timestamp({value}, {_sql_text(_java_format(fmt))})" for fmt in spec.formats or []]
        return f"coalesce({', '.join(parsed)})" + ("" if spec.type == "datetime" else "::date")
    return value


def _bound(value: Any, spec: ColumnSpec) -> str:
    return f"timestamp{_sql_text(str(value))}" if spec.type in ("date", "datetime") else str(value)


def _checks_sql(domain: DomainSpec) -> list[tuple[str, str]]:
    """(rule, failed) pairs in Spark SQL over ``name`` (typed) and ``name__raw``, in the Cleaner's order."""
    checks = []
    for name, spec in domain.columns.items():
        raw, typed = f"`{name}__raw`", f"`{name}`"
        if spec.type != "str":
            checks.append((f"type:{name}", f"{raw} IS NOT NULL AND {typed} IS NULL"))
        if spec.required:
            checks.append((f"required:{name}", f"{raw} IS NULL"))
        if spec.allowed is not None:
            checks.append((f"allowed:{name}", f"{typed} IS NOT NULL AND NOT CAST({typed} AS STRING) IN ({', '.join(map(_sql_text, spec.allowed))})"))
        if spec.pattern is not None:
            checks.append((f"pattern:{name}", f"{typed} IS NOT NULL AND NOT {typed} RLIKE {_sql_text('^(?:' + spec.pattern + ')$')}"))
        if spec.min_length is not None:
            checks.append((f"length:{name}", f"char_length({typed}) < {spec.min_length}"))
        if spec.max_length is not None:
            checks.append((f"length:{name}", f"char_length({typed}) > {spec.max_length}"))
        if spec.min is not None:
            checks.append((f"range:{name}", f"{typed} < {_bound(spec.min, spec)}"))
        if spec.max is not None:
            checks.append((f"range:{name}", f"{typed} > {_bound(spec.max, spec)}"))
    # polars SQL's starts_with is Spark SQL's startswith: even the rules need translating.
    checks += [(rule.name, rule.when.replace("starts_with(", "startswith(")) for rule in domain.clean.rules if rule.action == "quarantine"]
    return checks


def checks_sql(frame: Any, domain: DomainSpec) -> Any:
    """Each parseable row's first failed check, in Spark SQL; counted by rule."""
    from pyspark.sql import functions as F

    spec = domain.clean
    markers = ", ".join(map(_sql_text, spec.null_values))
    normalised = {}
    for name in domain.columns:
        value = f"trim(`{name}`)" if spec.trim else f"`{name}`"
        if name in spec.collapse_whitespace:
            value = f"regexp_replace({value}, '\\\\s+', ' ')"
        normalised[name] = F.expr(f"CASE WHEN {value} IN ({markers}) THEN NULL ELSE {value} END")
    frame = frame.filter(F.col(INGEST_ERROR).isNull()).withColumns(normalised)
    frame = frame.withColumns({f"{name}__raw": F.col(name) for name in domain.columns})
    frame = frame.withColumns({name: F.expr(_typed_sql(name, column)) for name, column in domain.columns.items()})
    first = " ".join(f"WHEN coalesce({failed}, false) THEN {_sql_text(rule)}" for rule, failed in _checks_sql(domain))
    return frame.select(F.expr(f"CASE {first} END").alias("_rule")).groupBy("_rule").count()


def _first_rules(domain: DomainSpec, batches: Iterable[Any]) -> Iterator[Any]:
    import pyarrow as pa

    cleaner = Cleaner(domain, KEY, None)
    for batch in batches:
        frame = cleaner.normalised(pl.from_arrow(batch))  # type: ignore[arg-type]
        typed = cleaner.typed(frame.filter(pl.col(INGEST_ERROR).is_null()))
        typed = typed.with_columns(pl.lit(False).alias("_key_repeated"), pl.lit(None, pl.Int64).alias("_key_first_line"))
        yield pa.record_batch([typed.select(cleaner.first_rule).to_series().to_arrow().cast(pa.string())], names=["_rule"])


def checks_map_in_arrow(frame: Any, domain: DomainSpec) -> Any:
    """Each parseable row's first failed check by the Cleaner's polars phases per partition; counted by rule."""
    return frame.mapInArrow(partial(_first_rules, domain), "_rule string").groupBy("_rule").count()


def median_seconds(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--validate", action="store_true", help="also time the domain's suite through GX on pandas and on Spark")
    args = parser.parse_args()
    reason = engine.unavailable()
    if reason:
        print(f"skipped: {reason}")
        return
    logging.disable(logging.WARNING)
    from assay.data.spark_clean import clean_file_spark
    from assay.ingest.sources import write_interim

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        if RETAIL.is_file():
            build(folder, args.copies)
            params_path, source = folder / "params.yaml", f"real retail file x{args.copies}"
        else:
            params_path, source = ROOT / "params.yaml", "demo transactions (real data not found)"
        domain = load_params(params_path).domain(DOMAIN)
        interim = folder / "interim.parquet"
        write_interim(DOMAIN, domain, interim, params_path.parent)
        rows = pl.scan_parquet(interim).select(pl.len()).collect().item()
        spec = SparkSpec(master=args.master, app_name="assay-spark-benchmark", conf={"spark.ui.enabled": False, "spark.driver.host": "127.0.0.1"})
        spark = engine.session(spec)
        spark.sparkContext.setLogLevel("ERROR")
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(1 << 18))
        source_frame = spark.read.parquet(engine.path_uri(interim))
        source_frame = source_frame.select(spark_row_index(), *source_frame.columns)
        outs = [folder / f"{name}.parquet" for name in ("clean", "quarantine", "restricted")]
        checks_map_in_arrow(source_frame, domain).collect()  # warm up the JVM and the Python workers

        timings = {}
        timings["polars (clean_file, one process)"], _ = median_seconds(lambda: clean_file(interim, domain, KEY, *outs), args.repeats)
        timings["spark stage (clean_file_spark)"], _ = median_seconds(lambda: clean_file_spark(interim, domain, KEY, *outs, spark=spark), args.repeats)
        timings["checks, mapInArrow (polars per partition)"], by_arrow = median_seconds(
            lambda: sorted(checks_map_in_arrow(source_frame, domain).collect(), key=str), args.repeats
        )
        timings["checks, Spark SQL (lower bound)"], by_sql = median_seconds(lambda: sorted(checks_sql(source_frame, domain).collect(), key=str), args.repeats)
        if args.validate:
            from assay.quality.spark_validate import validate_spark
            from assay.quality.validate import load_suite, read_data, validate_frame

            suite = load_suite(folder / "suite.json" if RETAIL.is_file() else ROOT / "expectations" / f"{DOMAIN}.json")
            timings["validate, GX on pandas"], on_pandas = median_seconds(lambda: validate_frame(read_data(outs[0]), suite), args.repeats)
            timings["validate, GX on Spark"], on_spark = median_seconds(lambda: validate_spark(outs[0], suite, spark), args.repeats)
            outcomes = [[(e["success"], e["unexpected_count"]) for e in summary["expectations"]] for summary in (on_pandas, on_spark)]
        spark.stop()

    print(f"{source}: {rows:,} rows; Spark {args.master}; median of {args.repeats}")
    for name, seconds in timings.items():
        print(f"  {name:45s} {seconds:7.2f} s  {rows / seconds:>12,.0f} rows/s")
    arrow_counts, sql_counts = dict(map(tuple, by_arrow)), dict(map(tuple, by_sql))
    same = arrow_counts == sql_counts
    print(f"  rows per first failed check agree: {same}")
    for rule in sorted(set(arrow_counts) | set(sql_counts), key=str):
        if arrow_counts.get(rule) != sql_counts.get(rule):
            print(f"    {rule}: mapInArrow {arrow_counts.get(rule)}, Spark SQL {sql_counts.get(rule)}")
    if args.validate:
        passed = [sum(success for success, _ in outcome) for outcome in outcomes]
        print(f"  validation: {passed[0]} and {passed[1]} of {len(outcomes[0])} expectations pass on pandas and on Spark")


def spark_row_index() -> Any:
    from pyspark.sql import functions as F

    return F.col("_metadata.row_index").alias(ORDER_COLUMN)


if __name__ == "__main__":
    main()
