"""The clean stage on Spark (``engine: spark``): the polars rules of :class:`assay.data.clean.Cleaner`, per partition.

Each Spark partition arrives in the Python workers as Arrow batches (``mapInArrow``), and a
``Cleaner`` runs its row-local phases on them: the same polars expressions as on one machine,
not a translation (``benchmarks/spark_clean.py`` measured the alternative, the row-local checks
as Spark SQL; see README, "Spark: past one machine"). What spans rows runs in Spark over the whole data set:

1. raw identifiers: normalised per partition, made distinct by Spark, sent to every worker;
2. pass A (per partition): normalise; broken lines to quarantine; every parseable row gets a
   128-bit fingerprint of its normalised values (the dedupe key of the polars path), and is cast;
3. dedupe (global): a row repeats the row of the lowest position with its fingerprint;
4. key uniqueness (global): a complete ``unique_key`` seen at a lower position repeats it;
5. pass B (per partition): checks, reasons, flags, pseudonyms, derived columns.

A row's position is its index in the interim file (``_metadata.row_index``), so "first" means
what it means on one machine, however Spark splits the file. Each partition sends its counts
(rows, rules, flags, normalisation, personal data) as one JSON row; the driver adds them up.
Outputs are sorted by position, written by Spark beside the output, and read back in order by
the driver into the same writer as the polars path: the files are byte for byte the polars path's.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from assay.columns import INGEST_ERROR, RAW_RESTRICTED, SOURCE_FILE, SOURCE_ROW
from assay.config import DomainSpec, SparkSpec
from assay.data.clean import CLEAN_BATCH_ROWS, EXAMPLE_DUPLICATES, FINGERPRINT_SEEDS, ORDER_COLUMN, Cleaner, normalise, parquet_batches
from assay.engines import spark as engine
from assay.io import ParquetBatchWriter

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

METRICS = "_metrics"
_FP = ("_fp1", "_fp2")
# The parts a pass hands back in one Arrow stream: each row holds one of them (a struct), or the counts.
TYPED, CLEAN, QUARANTINE, RESTRICTED = "typed", "clean", "quarantine", "restricted"


def _union(parts: dict[str, pl.DataFrame], counts: dict[str, Any] | None = None) -> pl.DataFrame:
    """One frame of several outputs: a struct column per part, and the counts as JSON in ``_metrics``."""
    frames = [frame.select(pl.struct(pl.all()).alias(name)) for name, frame in parts.items()]
    frames.append(pl.DataFrame({METRICS: [json.dumps(counts)] if counts is not None else []}, schema={METRICS: pl.String}))
    return pl.concat(frames, how="diagonal")


def _part(frame: DataFrame, name: str) -> DataFrame:
    return frame.filter(frame[name].isNotNull()).select(f"{name}.*")


def _identifier_values(domain: DomainSpec, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Pass 0, per partition: the distinct normalised values of the identifier columns."""
    import pyarrow as pa

    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    for batch in batches:
        normalised, _ = normalise(pl.from_arrow(batch), domain, identifiers)  # type: ignore[arg-type]
        values = pl.concat([normalised[name].drop_nulls().unique() for name in identifiers]).unique()
        yield pa.record_batch([values.to_arrow().cast(pa.string())], names=["value"])


def _pass_a(domain: DomainSpec, key: bytes, raw_ids: pl.Series | None, schema: pl.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Normalise, quarantine broken lines, fingerprint and cast the parseable rows; counts last."""
    cleaner = Cleaner(domain, key, raw_ids)
    for batch in batches:
        yield from engine.to_batches(_a_frame(cleaner, pl.from_arrow(batch)), schema)  # type: ignore[arg-type]
    yield from engine.to_batches(_union({}, cleaner.counts()), schema)


def _a_frame(cleaner: Cleaner, frame: pl.DataFrame) -> pl.DataFrame:
    frame = cleaner.normalised(frame)
    broken = frame.filter(pl.col(INGEST_ERROR).is_not_null())
    parseable = frame.filter(pl.col(INGEST_ERROR).is_null())
    quarantine, restricted = cleaner.finished(cleaner.broken(broken))
    subset = parseable.select(cleaner.spec.dedupe_subset or cleaner.columns)
    # The polars path's fingerprint (two seeded 64-bit row hashes), as signed integers for Spark.
    fingerprint = [subset.hash_rows(seed).reinterpret(signed=True).alias(name) for seed, name in zip(FINGERPRINT_SEEDS, _FP, strict=True)]
    typed = cleaner.typed(parseable.with_columns(fingerprint))
    return _union({TYPED: typed, QUARANTINE: quarantine, RESTRICTED: restricted})


def _pass_b(
    domain: DomainSpec, key: bytes, raw_ids: pl.Series | None, typed_schema: pl.Schema, schema: pl.Schema, batches: Iterable[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """Checks, reasons, flags, pseudonyms and derived columns of typed rows whose key marks are set; counts last."""
    cleaner = Cleaner(domain, key, raw_ids)
    for batch in batches:
        typed = pl.from_arrow(batch).select(typed_schema.names()).cast(dict(typed_schema))  # type: ignore[union-attr]
        clean, rejected = cleaner.checked(typed)
        quarantine, restricted = cleaner.finished(rejected)
        yield from engine.to_batches(_union({CLEAN: clean, QUARANTINE: quarantine, RESTRICTED: restricted}), schema)
    yield from engine.to_batches(_union({}, cleaner.counts()), schema)


def _counts(frame: DataFrame) -> Iterator[dict[str, Any]]:
    for row in frame.filter(frame[METRICS].isNotNull()).select(METRICS).collect():
        yield json.loads(row[METRICS])


def raw_identifiers(interim: DataFrame, domain: DomainSpec) -> pl.Series | None:
    """:func:`assay.data.clean.raw_identifiers` on Spark: every distinct normalised identifier value, sorted."""
    identifiers = [name for name, column in domain.columns.items() if column.identifier]
    if not identifiers:
        return None
    values = interim.select(identifiers).mapInArrow(partial(_identifier_values, domain), "value string").distinct()
    return pl.from_arrow(values.toArrow()).to_series().unique().sort()  # type: ignore[union-attr]


class _Schemas:
    """The polars schemas of each pass's parts, from running the phases on no rows (the polars path's schemas too)."""

    def __init__(self, cleaner: Cleaner, interim: pl.Schema) -> None:
        empty = pl.DataFrame(schema=interim).with_row_index(ORDER_COLUMN).with_columns(pl.col(ORDER_COLUMN).cast(pl.Int64))
        a = _a_frame(cleaner, empty)
        self.a = a.schema
        self.typed = pl.Schema({**a.schema[TYPED].to_schema(), "_key_repeated": pl.Boolean, "_key_first_line": pl.Int64})  # type: ignore[union-attr]
        clean, rejected = cleaner.checked(pl.DataFrame(schema=self.typed))
        quarantine, restricted = cleaner.finished(rejected)
        self.b = _union({CLEAN: clean, QUARANTINE: quarantine, RESTRICTED: restricted}).schema
        self.outputs = {CLEAN: clean.schema, QUARANTINE: quarantine.schema, RESTRICTED: restricted.schema}


def _without_duplicates(typed: DataFrame, cleaner: Cleaner) -> tuple[DataFrame, DataFrame]:
    """Typed rows less exact duplicates (global: each fingerprint keeps its lowest position), and the repeats (persisted).

    The count and the first examples go to ``cleaner``, as the polars path's dedupe keeps them.

    The window runs over the fingerprints and positions only; the rows are then joined against
    the repeats' positions (few, as a rule: Spark broadcasts them), so the wide rows are not shuffled.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    first = Window.partitionBy(*_FP).orderBy(ORDER_COLUMN)
    repeats = (
        typed.select(*_FP, ORDER_COLUMN, SOURCE_FILE, SOURCE_ROW)
        .withColumns({"_of_file": F.first(SOURCE_FILE).over(first), "_of_row": F.first(SOURCE_ROW).over(first), "_nth": F.row_number().over(first)})
        .filter("_nth > 1")
        .persist()
    )
    duplicates = cleaner.duplicates
    assert duplicates is not None
    duplicates.count = repeats.count()
    examples = repeats.orderBy(ORDER_COLUMN).limit(EXAMPLE_DUPLICATES).select(SOURCE_FILE, SOURCE_ROW, "_of_file", "_of_row").collect()
    duplicates.examples = [{SOURCE_FILE: row[0], SOURCE_ROW: row[1], "duplicate_of_file": row[2], "duplicate_of_row": row[3]} for row in examples]
    return typed.join(repeats.select(ORDER_COLUMN), on=ORDER_COLUMN, how="left_anti"), repeats


def _with_key_marks(typed: DataFrame, key: list[str] | None) -> DataFrame:
    """``_key_repeated`` (a complete key held by a row at a lower position) and, where it is, ``_key_first_line`` (global).

    As for duplicates, the window runs over the key and positions only, and the repeats are joined back.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not key:
        return typed.withColumns({"_key_repeated": F.lit(False), "_key_first_line": F.lit(None).cast("long")})
    first = Window.partitionBy(*key).orderBy(ORDER_COLUMN)
    repeats = (
        typed.select(*key, ORDER_COLUMN, SOURCE_ROW)
        .dropna(subset=key)
        .withColumns({"_key_first_line": F.first(SOURCE_ROW).over(first), "_nth": F.row_number().over(first)})
        .filter("_nth > 1")
        .select(ORDER_COLUMN, "_key_first_line", F.lit(True).alias("_key_repeated"))
    )
    return typed.join(repeats, on=ORDER_COLUMN, how="left").fillna(False, subset=["_key_repeated"])


def _write(frame: DataFrame, schema: pl.Schema, path: Path) -> None:
    """Rows of a Spark frame, in position order, to one Parquet file written as the polars path writes it.

    Spark writes the rows sorted, a part file per partition, to a folder beside ``path`` (which
    the executors see, as they see the interim file); the driver reads the parts back in order, a
    row group at a time, into the polars path's writer, and removes the folder.
    """
    for stale in path.parent.glob(f".spark.{path.name}.*.tmp"):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".spark.{path.name}.", suffix=".tmp", dir=path.parent))
    writer = ParquetBatchWriter(path)
    try:
        frame.orderBy(ORDER_COLUMN).write.mode("overwrite").parquet(engine.path_uri(staging / "parts"))
        writer.write(pl.DataFrame(schema=schema).drop(ORDER_COLUMN))
        last = -1
        for part in sorted((staging / "parts").glob("part-*.parquet")):
            for batch in parquet_batches(part, CLEAN_BATCH_ROWS):
                if batch.height and batch[ORDER_COLUMN][0] <= last:
                    raise RuntimeError(f"{path}: Spark wrote the rows out of order ({part.name})")
                last = batch[ORDER_COLUMN][-1] if batch.height else last
                writer.write(batch.select(schema.names()).cast(dict(schema)).drop(ORDER_COLUMN))
        writer.close()
    finally:
        writer.discard()
        shutil.rmtree(staging, ignore_errors=True)


def clean_file_spark(
    interim: Path,
    domain: DomainSpec,
    key: bytes,
    out: Path,
    quarantine: Path,
    restricted: Path,
    spark: SparkSession,
    partitions: int | None = None,
    batch_rows: int = CLEAN_BATCH_ROWS,
) -> dict[str, Any]:
    """:func:`assay.data.clean.clean_file` on Spark: the same three outputs and report.

    ``partitions`` deals the interim rows round-robin over that many partitions (tests use it
    to show that nothing depends on which rows a partition holds); by default that happens only
    when the file is read as fewer partitions than Spark has cores (a file of one row group is
    one partition). ``batch_rows`` is the most rows of an Arrow batch a worker cleans at once.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # Arrow batches of the size the polars path cleans at once (Spark's default is 10,000 rows).
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(batch_rows))
    # Let adaptive execution merge small shuffle partitions of the persisted passes too (by default
    # a cached plan keeps spark.sql.shuffle.partitions, 200: 200 Python tasks for a few MB).
    spark.conf.set("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
    source = spark.read.parquet(engine.path_uri(interim))
    frame = source.select(F.col("_metadata.row_index").alias(ORDER_COLUMN), *source.columns)
    partitions = partitions or engine.too_few_partitions(frame, spark)
    if partitions:
        frame = frame.repartition(partitions)
    if RAW_RESTRICTED not in source.columns:
        frame = frame.withColumn(RAW_RESTRICTED, F.lit(None).cast("string"))
    raw_ids = raw_identifiers(frame, domain)
    cleaner = Cleaner(domain, key, raw_ids)
    interim_schema = pl.scan_parquet(interim).collect_schema()
    schemas = _Schemas(cleaner, pl.Schema({**interim_schema, RAW_RESTRICTED: pl.String}))

    keep = StorageLevel.MEMORY_AND_DISK
    passed_a = frame.mapInArrow(partial(_pass_a, domain, key, raw_ids, schemas.a), engine.spark_schema(schemas.a)).persist(keep)
    typed = _part(passed_a, TYPED)
    persisted = [passed_a]
    if cleaner.duplicates:
        typed, repeats = _without_duplicates(typed, cleaner)
        persisted.append(repeats)
    typed = _with_key_marks(typed, domain.clean.unique_key).select(*schemas.typed.names())
    passed_b = typed.mapInArrow(partial(_pass_b, domain, key, raw_ids, schemas.typed, schemas.b), engine.spark_schema(schemas.b)).persist(keep)
    for counts in (*_counts(passed_a), *_counts(passed_b)):
        cleaner.add_counts(counts)

    _write(_part(passed_b, CLEAN), schemas.outputs[CLEAN], out)
    _write(_part(passed_a, QUARANTINE).unionByName(_part(passed_b, QUARANTINE)), schemas.outputs[QUARANTINE], quarantine)
    _write(_part(passed_a, RESTRICTED).unionByName(_part(passed_b, RESTRICTED)), schemas.outputs[RESTRICTED], restricted)
    report = cleaner.report()
    for frame in (*persisted, passed_b):
        frame.unpersist()
    return report


def run(interim: Path, domain: DomainSpec, spec: SparkSpec, key: bytes, out: Path, quarantine: Path, restricted: Path) -> dict[str, Any]:
    """The clean stage's hook: a session from params, then :func:`clean_file_spark`."""
    return clean_file_spark(interim, domain, key, out, quarantine, restricted, engine.session(spec))
