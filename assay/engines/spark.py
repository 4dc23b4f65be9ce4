"""The Spark session for domains with ``engine: spark``, and the Arrow glue between polars and Spark.

Only the Spark code path imports this module, and it imports pyspark inside its functions, so
``assay --help`` and the polars path never load pyspark or start a JVM.

Where the session comes from, in order:

1. a Spark Connect server: ``$SPARK_REMOTE`` or ``spark.remote`` in params (``sc://host:15002``);
2. ``spark-submit``, which started the JVM and set master and settings (``--master yarn``, ``--conf``);
3. otherwise a session Assay starts on ``spark.master`` (``local[*]`` by default) with ``spark.conf``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import polars as pl

from assay.config import SparkSpec
from assay.errors import AssayError

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger("assay.spark")

REMOTE_ENV = "SPARK_REMOTE"
# spark-submit starts the JVM first and hands its gateway port to the Python driver.
SPARK_SUBMIT_ENV = "PYSPARK_GATEWAY_PORT"


def remote_url(spec: SparkSpec) -> str | None:
    """The Spark Connect URL to use, if any: the environment's, else the params'."""
    return os.environ.get(REMOTE_ENV) or spec.remote


def unavailable(spec: SparkSpec | None = None) -> str | None:
    """Why a Spark session cannot start here (pyspark or Java missing), or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return 'pyspark is not installed; install the spark extra: pip install -c constraints-cpu.txt -e ".[spark]"'
    if spec is not None and remote_url(spec):
        return None  # a Spark Connect client needs no local JVM
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.isfile(os.path.join(java_home, "bin", "java"))) and shutil.which("java") is None:
        return "Java is not installed, and Spark runs on it; install a JRE 17 or 21 (Debian: apt-get install default-jre-headless)"
    return None


def session(spec: SparkSpec) -> SparkSession:
    """The Spark session the params' ``spark`` section describes (see the module docstring for which)."""
    reason = unavailable(spec)
    if reason:
        raise AssayError(f"engine: spark: {reason}")
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(spec.app_name)
    for key, value in spec.conf.items():
        builder = builder.config(key, str(value).lower() if isinstance(value, bool) else str(value))
    url = remote_url(spec)
    if url:
        # GX's Spark datasource finds a Connect session through the environment.
        os.environ[REMOTE_ENV] = url
        try:
            spark = builder.remote(url).getOrCreate()
            log.info("Spark %s through Spark Connect at %s", spark.version, url)
            return spark
        except ImportError as exc:
            raise AssayError(f"engine: spark: Spark Connect ({url}) needs pyspark's connect extra: pip install 'pyspark[connect]' ({exc})") from None
    if SPARK_SUBMIT_ENV not in os.environ:
        builder = builder.master(spec.master)
        if spec.master.startswith("local"):
            # Local workers are processes of this machine: they run this interpreter (with polars and
            # Assay), not whichever `python3` is first on PATH, unless the user says otherwise.
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = builder.getOrCreate()
    log.info("Spark %s, master %s", spark.version, spark.sparkContext.master)
    return spark


def path_uri(path: os.PathLike[str] | str) -> str:
    """A local path as the URI Spark reads: executors must see the same file (local mode, or a shared file system)."""
    text = os.fspath(path)
    return text if "://" in text else "file://" + os.path.abspath(text)


# Spark has no unsigned integers; polars' (string lengths, counts) travel as the next signed type.
_SIGNED = {pl.UInt8: pl.Int16, pl.UInt16: pl.Int32, pl.UInt32: pl.Int64, pl.UInt64: pl.Int64}


def _spark_dtype(dtype: pl.DataType) -> pl.DataType:
    if isinstance(dtype, pl.Struct):
        return pl.Struct({field.name: _spark_dtype(field.dtype) for field in dtype.fields})
    return _SIGNED.get(type(dtype), dtype)


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """The Arrow schema Spark accepts for frames of a polars ``schema``: plain strings, signed integers."""
    import pyarrow as pa

    arrow = pl.DataFrame(schema={name: _spark_dtype(dtype) for name, dtype in schema.items()}).to_arrow().schema

    def plain(kind: pa.DataType) -> pa.DataType:
        if pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
            return pa.string()
        if pa.types.is_large_binary(kind) or pa.types.is_binary_view(kind):
            return pa.binary()
        if pa.types.is_struct(kind):
            return pa.struct([pa.field(field.name, plain(field.type)) for field in kind])
        if pa.types.is_large_list(kind) or pa.types.is_list_view(kind):
            return pa.list_(plain(kind.value_type))
        return kind

    return pa.schema([pa.field(field.name, plain(field.type)) for field in arrow])


def spark_schema(schema: pl.Schema) -> Any:
    """The Spark ``StructType`` of frames of a polars ``schema`` (datetimes without a zone stay without one)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(arrow_schema(schema), prefer_timestamp_ntz=True)


def to_batches(frame: pl.DataFrame, schema: pl.Schema) -> Iterator[pa.RecordBatch]:
    """``frame`` as Arrow record batches for ``mapInArrow`` to hand back to Spark, whose declared schema is :func:`spark_schema` of ``schema``.

    Columns of ``schema`` that ``frame`` lacks are null.
    """
    frame = frame.select(pl.col(name) if name in frame.columns else pl.lit(None, dtype).alias(name) for name, dtype in schema.items())
    frame = frame.cast({name: _spark_dtype(dtype) for name, dtype in schema.items()})
    yield from frame.to_arrow().cast(arrow_schema(schema)).to_batches()


def too_few_partitions(frame: DataFrame, spark: SparkSession) -> int | None:
    """Spark's default parallelism when ``frame`` has fewer partitions than that, else None (and on Spark Connect, which does not say)."""
    try:
        cores, partitions = spark.sparkContext.defaultParallelism, frame.rdd.getNumPartitions()
    except Exception:  # Spark Connect has no SparkContext or RDDs
        return None
    return cores if partitions < cores else None
