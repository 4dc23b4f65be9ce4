"""Geometry of the page's small charts, drawn by the templates as inline SVG (no script, nothing loaded).

Each function turns figures into numbers and SVG path data (``d`` attributes of digits and
letters only, so nothing from the data reaches the markup unescaped); labels stay separate and
go through the templates' autoescape. Bars are one ``<path>`` per series, not one ``<rect>``
per bar, and heat-map cells one path per colour level: the charts of a 50-column table add a
few tens of kilobytes to the page, not hundreds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

SPARK_WIDTH, SPARK_HEIGHT = 160, 34
OVERLAY_WIDTH, OVERLAY_HEIGHT = 220, 70
CELL = 13  # heat-map cell size in px
LEVELS = 8  # colour steps of a heat map


def _n(value: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros (fewer bytes, same picture)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def bars_path(heights: Sequence[float], width: float, height: float, x0: float = 0.0, gap: float = 1.0) -> str:
    """One path of vertical bars, ``heights`` as shares of the tallest, filling ``width`` x ``height``."""
    top = max(heights, default=0.0) or 1.0
    step = width / max(len(heights), 1)
    parts = []
    for index, value in enumerate(heights):
        bar = height * value / top
        if bar <= 0:
            continue
        parts.append(f"M{_n(x0 + index * step)},{_n(height)}v{_n(-bar)}h{_n(max(step - gap, 0.5))}v{_n(bar)}z")
    return "".join(parts)


def histogram(shares: Sequence[float], width: int = SPARK_WIDTH, height: int = SPARK_HEIGHT) -> dict[str, Any]:
    """A column's histogram as one path (the profile's sparkline)."""
    return {"width": width, "height": height, "d": bars_path(shares, width, height)}


def overlay(entry: dict[str, Any], sources: Sequence[str] = ("real", "generator", "baseline")) -> dict[str, Any]:
    """Real and synthetic distributions of one column on shared axes.

    Numbers and dates: a step line per source over the equal-width bins. Categories: a group of
    thin bars per category, one bar per source. Heights are shares of the tallest bin overall.
    """
    width, height, pad = OVERLAY_WIDTH, OVERLAY_HEIGHT, 2
    shares = {source: entry["shares"].get(source) or [] for source in sources}
    top = max((value for values in shares.values() for value in values), default=0.0) or 1.0
    bins = max((len(values) for values in shares.values()), default=1) or 1
    step = (width - 2 * pad) / bins
    series = []
    for position, source in enumerate(sources):
        values = shares[source]
        if not values:
            continue
        if entry["kind"] == "numeric":
            points = []
            for index, value in enumerate(values):
                y = height - pad - (height - 2 * pad) * value / top
                points.append(f"{_n(pad + index * step)},{_n(y)} {_n(pad + (index + 1) * step)},{_n(y)}")
            series.append({"source": source, "kind": "line", "points": " ".join(points)})
        else:
            bar = step / (len(sources) + 1)
            parts = []
            for index, value in enumerate(values):
                tall = (height - 2 * pad) * value / top
                if tall > 0:
                    parts.append(f"M{_n(pad + index * step + position * bar)},{_n(height - pad)}v{_n(-tall)}h{_n(bar)}v{_n(tall)}z")
            series.append({"source": source, "kind": "bars", "d": "".join(parts)})
    return {"width": width, "height": height, "series": series}


def _level(value: float | None) -> int | None:
    """The colour step of an association: steps of its square root, so 0.05 and 0.2 differ as 0.4 and 0.8 do."""
    if value is None or not math.isfinite(value):
        return None
    return min(LEVELS - 1, int(math.sqrt(abs(value)) * LEVELS))


def heat_map(associations: dict[str, Any], source: str) -> dict[str, Any] | None:
    """One source's association heat map: a path per colour level of ``|association|``, cells in the upper triangle.

    ``associations`` is :func:`assay.metrics.fidelity.association_map`'s output.
    """
    columns = associations.get("columns") or []
    if len(columns) < 2 or source not in associations.get("sources", []):
        return None
    position = associations["sources"].index(source) + 2
    label = min(max(len(name) for name in columns) * 6 + 8, 150)
    paths: dict[int, list[str]] = {}
    for cell in associations["cells"]:
        i, j, value = cell[0], cell[1], cell[position]
        level = _level(value)
        if level is None:
            continue
        # Row i, column j, and the mirror cell, so each map reads as a full square.
        for row, column in ((i, j), (j, i)):
            paths.setdefault(level, []).append(f"M{label + column * CELL},{row * CELL}h{CELL - 1}v{CELL - 1}h-{CELL - 1}z")
    size = len(columns) * CELL
    return {
        "width": label + size,
        "height": size,
        "label_x": label - 4,
        "rows": [{"name": name, "y": index * CELL + CELL - 3} for index, name in enumerate(columns)],
        "levels": [{"level": level, "d": "".join(parts)} for level, parts in sorted(paths.items())],
        "diagonal": "".join(f"M{label + index * CELL},{index * CELL}h{CELL - 1}v{CELL - 1}h-{CELL - 1}z" for index in range(len(columns))),
    }
