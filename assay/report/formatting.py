"""How figures and values read on the page: numbers, shares, sizes, previews of values, and bar-chart geometry."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

PREVIEW = 80  # characters of a value shown before it is cut


def preview(value: Any, limit: int = PREVIEW) -> str:
    """A value as short text: None as an empty string, long text cut with an ellipsis."""
    if value is None:
        return ""
    if isinstance(value, float):
        return fmt_number(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


RAW_PREVIEW = 240  # characters of a broken line shown (the quarantine keeps up to 1,000)


def raw_preview(raw: str | None) -> str:
    """A broken line as the quarantine keeps it (identifier fields and personal data already
    masked by the clean stage), its first ``RAW_PREVIEW`` characters."""
    if not raw:
        return ""
    return raw if len(raw) <= RAW_PREVIEW else raw[:RAW_PREVIEW] + "…"


def axis_start(values: list[float], step: float = 0.05) -> float:
    """Where an axis of values near 1 should start: a round ``step`` below the smallest, never above 0.9.

    Similarities of 0.93 and 1.00 drawn from 0 look the same; drawn from 0.9 they do not.
    """
    low = min(values, default=0.0)
    return max(0.0, min(0.9, round(math.floor(low / step - 1e-9) * step, 10)))


def bar_chart(
    items: list[tuple[str, float, str]], value_format: Callable[[float], str], width: int = 640, marker: float | None = None, start: float = 0.0
) -> dict[str, Any] | None:
    """Geometry of a horizontal bar chart: ``items`` are (label, value, css class); the template draws it.

    ``marker`` draws a dashed vertical line at that value (a threshold); ``start`` is the value
    where the bars begin (0 unless the values all sit near the top of their range).
    """
    items = [(label, value, kind) for label, value, kind in items if value is not None and math.isfinite(value)]
    if not items:
        return None
    bar, gap, pad = 18, 8, 4
    label_width = min(max(len(label) for label, _, _ in items) * 7 + 12, 300)
    value_width = 70
    plot = width - label_width - value_width
    top = max([value for _, value, _ in items] + ([marker] if marker else [])) or 1.0
    span = (top - start) or 1.0
    bars = []
    for index, (label, value, kind) in enumerate(items):
        y = pad + index * (bar + gap)
        length = max((value - start) / span * plot, 1.0 if value > start else 0.0)
        bars.append(
            {
                "label": preview(label, 42),
                "value": value_format(value),
                "kind": kind,
                "y": y,
                "text_y": y + bar - 5,
                "x": label_width,
                "width": round(length, 1),
                "value_x": round(label_width + length + 6, 1),
            }
        )
    height = pad * 2 + len(items) * (bar + gap) - gap
    marker_x = round(label_width + (marker - start) / span * plot, 1) if marker else None
    return {"width": width, "height": height, "bar": bar, "label_x": label_width - 8, "bars": bars, "marker_x": marker_x, "start": start}


def banded_chart(
    items: list[tuple[str, float, float | None, float | None, float | None, str]], value_format: Callable[[float], str], width: int = 640
) -> dict[str, Any] | None:
    """Geometry of a horizontal bar chart whose bars each sit on a band (the range a reference
    gives, such as random splits of the same data) with a tick (their own threshold).

    ``items`` are (label, value, band low, band high, tick, css class); missing parts are None.
    """
    items = [item for item in items if item[1] is not None and math.isfinite(item[1])]
    if not items:
        return None
    chart = bar_chart([(label, value, kind) for label, value, _, _, _, kind in items], value_format, width)
    assert chart is not None
    top = max(value for item in items for value in (item[1], item[3], item[4]) if value is not None and math.isfinite(value)) or 1.0
    plot = width - (chart["label_x"] + 8) - 70
    for bar, (_, value, low, high, tick, _) in zip(chart["bars"], items, strict=True):
        length = max(value / top * plot, 1.0 if value > 0 else 0.0)
        bar["width"] = round(length, 1)
        bar["value_x"] = round(bar["x"] + max(length, (high or 0) / top * plot) + 6, 1)
        bar["band_x"] = round(bar["x"] + (low or 0) / top * plot, 1) if high is not None else None
        bar["band_width"] = round(max((high - (low or 0)) / top * plot, 1.0), 1) if high is not None else None
        bar["tick_x"] = round(bar["x"] + tick / top * plot, 1) if tick is not None else None
    return chart


def condition_text(condition: Any) -> str:
    """A GX row condition as a steward reads it: ``kind != "equation"``, ``InvoiceNo.str.startswith("C")``.

    GX 1.x stores conditions as objects (a comparison of a column with a parameter, a pandas
    pass-through filter, or an and/or of conditions); older suites as a string.
    """
    if not condition:
        return ""
    if isinstance(condition, str):
        return condition
    if isinstance(condition, dict):
        kind = condition.get("type")
        if kind == "pass_through":
            return str(condition.get("pass_through_filter", ""))
        if kind == "comparison":
            column = condition.get("column")
            name = column.get("name") if isinstance(column, dict) else column
            return f"{name} {condition.get('operator')} {json.dumps(condition.get('parameter'), ensure_ascii=False, default=str)}"
        if kind in ("and", "or") and isinstance(condition.get("conditions"), list):
            return f" {kind} ".join(f"({condition_text(part)})" for part in condition["conditions"])
    return json.dumps(condition, ensure_ascii=False, default=str)


def fmt_int(value: Any) -> str:
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A percentage (0-100) as text; tiny non-zero values are not rounded to 0."""
    if value is None:
        return "—"
    value = float(value)
    if 0 < value < 10**-digits:
        return f"<{10**-digits:.{digits}f}%"
    return f"{value:.{digits}f}%"


def fmt_share(value: Any) -> str:
    """A share (0-1) as a percentage."""
    return "—" if value is None else fmt_pct(float(value) * 100, 1)


def fmt_bytes(value: Any) -> str:
    if value is None:
        return "—"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(value)


def fmt_fixed(value: Any, digits: int = 3) -> str:
    """A statistic with a fixed number of decimals."""
    return "—" if not isinstance(value, int | float) else f"{value:.{digits}f}"


def fmt_significant(value: Any, digits: int = 4) -> str:
    """A small figure with ``digits`` significant digits (a distance of 0.000134 is not 0.000)."""
    if not isinstance(value, int | float):
        return "—"
    return f"{value:.{digits}g}" if value else "0"


def fmt_number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
