"""The validate stage on Spark (``engine: spark``): the domain's suite through GX's own Spark datasource.

The clean data is read by Spark and validated where it lies (``context.data_sources.add_spark``,
a dataframe asset, a whole-dataframe batch definition), with the same two passes and the same
summary as the pandas path (:func:`assay.quality.validate.validate_batch`). Suites are written
for the pandas path, so two kinds of words are rewritten for GX's Spark engine, and the summary
keeps the suite's own:

- column types: pandas dtype names (``str``, ``int64``, ``datetime64``) become Spark type names
  (``StringType``, ``LongType``, ``TimestampNTZType`` or ``DateType``);
- ``pass_through`` row conditions, which GX hands to ``DataFrame.query`` on pandas and to
  ``DataFrame.filter`` on Spark: the pandas expression is translated to Spark SQL, with pandas'
  missing-value rules (a comparison with a missing value is false, ``!=`` true). Conditions
  written as GX conditions (column, operator, parameter) need no translation.

GX on Spark reports a type check's outcome and observed type, where pandas also counts values;
everything else (outcomes, counts, observed values) is the pandas path's on the demo data
(``tests/test_spark.py``).
"""

from __future__ import annotations

import ast
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assay.config import SparkSpec
from assay.engines import spark as engine
from assay.errors import AssayError
from assay.quality.validate import gx_context, validate_batch

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# The pandas dtype a suite names -> the Spark types that are the same column read by Spark from
# the Parquet file (the first is the one expected when the column is none of them).
SPARK_TYPES: dict[str, tuple[str, ...]] = {
    "str": ("StringType",),
    "string": ("StringType",),
    "object": ("StringType",),
    "bool": ("BooleanType",),
    "boolean": ("BooleanType",),
    "int8": ("ByteType",),
    "int16": ("ShortType",),
    "int32": ("IntegerType",),
    "int64": ("LongType",),
    "uint8": ("ShortType",),
    "uint16": ("IntegerType",),
    "uint32": ("LongType",),
    "uint64": ("DecimalType",),
    "float32": ("FloatType",),
    "float64": ("DoubleType",),
    # polars dates and date-times both reach pandas as datetime64
    "datetime64": ("TimestampNTZType", "DateType"),
    "datetime64[ns]": ("TimestampNTZType", "DateType"),
    "datetime64[us]": ("TimestampNTZType", "DateType"),
    "datetime64[ms]": ("TimestampNTZType", "DateType"),
}


def _where(expectation: dict[str, Any]) -> str:
    column = expectation["kwargs"].get("column")
    return f"{expectation['type']}" + (f" on {column}" if column else "")


def _spark_types(name: str, expectation: dict[str, Any]) -> tuple[str, ...]:
    try:
        return SPARK_TYPES[name.lower()] if name.lower() in SPARK_TYPES else SPARK_TYPES[name]
    except KeyError:
        raise AssayError(f"{_where(expectation)}: pandas type {name!r} has no Spark counterpart here; known: {', '.join(SPARK_TYPES)}") from None


def for_spark(expectation: dict[str, Any], column_types: dict[str, str]) -> dict[str, Any]:
    """``expectation`` in the words of GX's Spark engine, given the data's Spark type name per column."""
    kwargs = dict(expectation["kwargs"])
    actual = column_types.get(kwargs.get("column") or "")
    if "type_" in kwargs and kwargs["type_"] is not None:
        candidates = _spark_types(kwargs["type_"], expectation)
        kwargs["type_"] = actual if actual in candidates else candidates[0]
    if kwargs.get("type_list"):
        kwargs["type_list"] = list(dict.fromkeys(kind for name in kwargs["type_list"] for kind in _spark_types(name, expectation)))
    condition = kwargs.get("row_condition")
    if isinstance(condition, dict) and condition.get("type") == "pass_through":
        kwargs["row_condition"] = {**condition, "pass_through_filter": spark_sql(condition["pass_through_filter"], _where(expectation))}
    elif isinstance(condition, str) and kwargs.get("condition_parser") == "pandas":
        kwargs["row_condition"], kwargs["condition_parser"] = spark_sql(condition, _where(expectation)), "spark"
    return {**expectation, "kwargs": kwargs}


# pandas' .str methods that test each value, and their Spark SQL functions (false on a missing value, as in pandas).
_STRING_TESTS = {"startswith": "startswith", "endswith": "endswith", "contains": "rlike"}
_STRING_MAPS = {"lower": "lower", "upper": "upper", "strip": "trim", "len": "char_length"}
_COMPARISONS = {ast.Eq: "=", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
_ARITHMETIC = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}


class _Untranslatable(ValueError):
    pass


def spark_sql(condition: str, where: str = "row_condition") -> str:
    """A pandas ``DataFrame.query`` condition as a Spark SQL filter that keeps the same rows.

    Covers what the suites use: columns, literals, ``& | ~ and or not``, comparisons, ``in``,
    arithmetic, ``abs``, ``.isnull()``/``.notnull()`` and ``.str`` tests (``startswith``,
    ``endswith``, ``contains``), maps (``lower``, ``upper``, ``strip``, ``len``) and
    ``.str.split(sep).str[i]``. Anything else is a one-line error naming the expectation.
    """
    try:
        tree = ast.parse(condition.strip(), mode="eval")
        return _predicate(tree.body)
    except (SyntaxError, _Untranslatable) as exc:
        detail = exc.msg if isinstance(exc, SyntaxError) else str(exc)
        raise AssayError(
            f"{where}: row_condition {condition!r} has no Spark SQL translation ({detail}); write it as a GX condition "
            "(column, operator, parameter), which runs on every engine"
        ) from None


def _predicate(node: ast.expr) -> str:
    """A boolean SQL expression that is never null: false where pandas' would be false for a missing value."""
    if isinstance(node, ast.BoolOp):
        word = " AND " if isinstance(node.op, ast.And) else " OR "
        return "(" + word.join(_predicate(value) for value in node.values) + ")"
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
        word = " AND " if isinstance(node.op, ast.BitAnd) else " OR "
        return f"({_predicate(node.left)}{word}{_predicate(node.right)})"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert | ast.Not):
        return f"(NOT {_predicate(node.operand)})"
    if isinstance(node, ast.Compare):
        parts, left = [], node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            parts.append(_comparison(left, op, right))
            left = right
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, target = node.func.attr, node.func.value
        if method in ("isnull", "isna") and not node.args:
            return f"({_value(target)} IS NULL)"
        if method in ("notnull", "notna") and not node.args:
            return f"({_value(target)} IS NOT NULL)"
        if _is_str_accessor(target) and method in _STRING_TESTS and len(node.args) == 1 and not node.keywords:
            return f"coalesce({_STRING_TESTS[method]}({_value(target.value)}, {_literal(node.args[0])}), false)"  # type: ignore[attr-defined]
    if isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
        return f"coalesce({_value(node)}, false)"  # a boolean column
    raise _Untranslatable(f"unsupported {ast.unparse(node)!r}")


def _comparison(left: ast.expr, op: ast.cmpop, right: ast.expr) -> str:
    if isinstance(op, ast.In | ast.NotIn):
        if not isinstance(right, ast.List | ast.Tuple | ast.Set):
            raise _Untranslatable(f"'in' needs a list of values, got {ast.unparse(right)!r}")
        test = f"{_value(left)} IN ({', '.join(_literal(item) for item in right.elts)})"
        return f"coalesce({test}, false)" if isinstance(op, ast.In) else f"(NOT coalesce({test}, false))"
    if type(op) not in _COMPARISONS:
        raise _Untranslatable(f"unsupported comparison {type(op).__name__}")
    test = f"{_value(left)} {_COMPARISONS[type(op)]} {_value(right)}"
    # pandas: a missing value is unequal to everything, and neither less nor greater than anything.
    return f"coalesce({test}, {'true' if isinstance(op, ast.NotEq) else 'false'})"


def _is_str_accessor(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "str"


def _value(node: ast.expr) -> str:
    """A SQL value expression (null where pandas' is missing)."""
    if isinstance(node, ast.Name):
        return f"`{node.id}`"
    if isinstance(node, ast.Constant):
        return _literal(node)
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
        return f"({_value(node.left)} {_ARITHMETIC[type(node.op)]} {_value(node.right)})"
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return f"(-{_value(node.operand)})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "abs" and len(node.args) == 1:
        return f"abs({_value(node.args[0])})"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_str_accessor(node.func.value):
        method, target = node.func.attr, node.func.value.value  # type: ignore[attr-defined]
        if method in _STRING_MAPS and not node.args:
            return f"{_STRING_MAPS[method]}({_value(target)})"
        if method == "split" and len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            # pandas splits on a one-character separator literally; Spark's split takes a regular expression.
            separator = node.args[0].value
            if len(separator) != 1:
                raise _Untranslatable("str.split needs a one-character separator")
            return f"split({_value(target)}, {_sql_string(_regex_literal(separator))})"
    if isinstance(node, ast.Subscript) and _is_str_accessor(node.value):
        index = node.slice
        if isinstance(index, ast.Constant) and isinstance(index.value, int):
            return f"get({_value(node.value.value)}, {index.value})"  # type: ignore[attr-defined]
    raise _Untranslatable(f"unsupported {ast.unparse(node)!r}")


def _regex_literal(text: str) -> str:
    """``text`` as a Java regular expression that matches it literally."""
    return "".join(char if char.isalnum() or char == " " else "\\" + char for char in text)


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _literal(node: ast.expr) -> str:
    if not isinstance(node, ast.Constant):
        raise _Untranslatable(f"expected a literal, got {ast.unparse(node)!r}")
    value = node.value
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return _sql_string(value)
    raise _Untranslatable(f"unsupported literal {value!r}")


@lru_cache(maxsize=1)
def _batch_definition():
    source = gx_context().data_sources.add_spark("assay_spark")
    return source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")


def validate_spark(data: Path, suite: dict[str, Any], spark: SparkSession) -> dict[str, Any]:
    """:func:`assay.quality.validate.validate_frame` of a Parquet file read by Spark, through GX's Spark datasource."""
    frame = spark.read.parquet(engine.path_uri(data))
    column_types = {field.name: type(field.dataType).__name__ for field in frame.schema.fields}
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    return validate_batch(batch, suite, frame.count(), frame.columns, for_engine=lambda expectation: for_spark(expectation, column_types))


def run(data: Path, suite: dict[str, Any], spec: SparkSpec) -> dict[str, Any]:
    """The validate stage's hook: a session from params, then :func:`validate_spark`."""
    return validate_spark(data, suite, engine.session(spec))
