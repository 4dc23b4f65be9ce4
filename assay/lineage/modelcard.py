"""The model card: a Hugging Face ``README.md`` for a domain's generator, built from its lineage record.

YAML front matter (``license``, ``library_name``, ``pipeline_tag``, ``tags``, ``datasets``,
``model-index`` with the dev loss and any numeric utility result, and an ``assay`` block with the
source sha256s, the suite's hash, the validation status and the model's md5), then Markdown:
data provenance, training, utility and privacy, intended use and limits, how to verify.

The front matter is written with ``yaml.safe_dump`` (never by a template) so it always parses.
The card is a pure function of the lineage record, the domain's params and the utility report,
so it is byte-identical when they are (the ``lineage`` stage writes it to ``models/<domain>/README.md``;
see :mod:`assay.lineage.trace` for the layout of a model folder).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from assay.config import DomainSpec
from assay.contracts import TrainMetrics, UtilityReport
from assay.lineage.trace import summarise_utility

TEMPLATE = Path(__file__).parent / "templates" / "modelcard.md.j2"
UTILITY_ROWS = 30


def _utility_table(utility: UtilityReport | None) -> list[tuple[str, Any, Any]]:
    """(metric, generator, baseline) from the evaluate stage's report."""
    if utility is None:
        return []
    return [(key, value, utility.baseline.get(key)) for key, value in utility.generator.items()][:UTILITY_ROWS]


def _node(record: dict[str, Any], role: str) -> dict[str, Any] | None:
    path = record["targets"].get(role)
    return next((node for node in record["chain"] if node["path"] == path), None) if path else None


def _validation(record: dict[str, Any]) -> dict[str, Any] | None:
    return next((node["validation"] for node in record["chain"] if node.get("validation")), None)


def _suite_node(record: dict[str, Any], validation: dict[str, Any] | None) -> dict[str, Any] | None:
    if not validation:
        return None
    return next((node for node in record["chain"] if node["path"] == validation.get("suite")), None)


def _sources(record: dict[str, Any], suite_path: str | None) -> list[dict[str, Any]]:
    """Raw files with their sha256 (from the ingest report), or the source folders when none is listed."""
    files: list[dict[str, Any]] = []
    for node in record["chain"]:
        if node["role"] != "source" or node["path"] == suite_path:
            continue
        files.extend(node.get("files") or [{"path": node["path"], "sha256": None, "size": node.get("size"), "rows": None}])
    return files


def front_matter(
    record: dict[str, Any], spec: DomainSpec, utility: UtilityReport | None, model_metrics: TrainMetrics | None, lineage_path: str
) -> dict[str, Any]:
    """The card's YAML metadata, as a dict (Hugging Face model-card fields plus an ``assay`` block)."""
    domain = record["domain"]
    kind = spec.generator.kind
    validation = _validation(record)
    suite = _suite_node(record, validation)
    model = _node(record, "model") or {}
    metrics: list[dict[str, Any]] = []
    if model_metrics is not None:
        metrics.append({"type": "loss", "name": "Best dev loss (cross-entropy per token)", "value": round(model_metrics.best_dev_loss, 6)})
    for key, value, _ in _utility_table(utility):
        if isinstance(value, int | float) and not isinstance(value, bool) and len(metrics) < 16:
            metrics.append({"type": key, "name": f"Synthetic data: {key}", "value": value})
    sources = _sources(record, suite["path"] if suite else None)
    return {
        "license": "other",
        "license_name": "training-data-terms",
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["assay", "synthetic-data", "gpt2", f"{kind}-generation", domain],
        "datasets": sorted({source["path"] for source in sources}),
        "model-index": [
            {
                "name": f"assay-{domain}-generator",
                "results": [
                    {
                        "task": {"type": "text-generation", "name": f"Synthetic {kind} data generation"},
                        "dataset": {"type": domain, "name": f"{domain} (Assay dev split)", "split": "dev"},
                        "metrics": metrics,
                    }
                ],
            }
        ]
        if metrics
        else [],
        "assay": {
            "domain": domain,
            "lineage": lineage_path,
            "model": {"path": model.get("path"), "md5": model.get("md5")},
            "sources": [{"path": s["path"], "sha256": s.get("sha256"), "size": s.get("size")} for s in sources],
            "suite": {"path": suite["path"], "md5": suite.get("md5"), "sha256": validation.get("suite_sha256")} if suite and validation else None,
            "validation": "passed" if validation and validation.get("success") else ("failed" if validation else "not run"),
            "git_commit": record["run"]["git"].get("commit"),
            "pseudonym_key": record.get("pseudonym_key"),
        },
    }


def render_model_card(
    record: dict[str, Any], spec: DomainSpec, utility: UtilityReport | None, model_metrics: TrainMetrics | None = None, lineage_path: str = "lineage.json"
) -> str:
    """The whole card: YAML front matter, then the Markdown body from ``templates/modelcard.md.j2``.

    ``utility`` is the evaluate stage's report (None: not evaluated yet); ``model_metrics`` the
    ``metrics.json`` that train saved in the model folder; ``lineage_path`` where the record is.
    """
    import yaml
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    model = _node(record, "model") or {}
    meta = front_matter(record, spec, utility, model_metrics, lineage_path)
    validation = _validation(record)
    env = Environment(
        loader=FileSystemLoader(TEMPLATE.parent), autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    env.filters["cell"] = lambda value: "—" if value is None or value == "" else str(value).replace("|", "\\|").replace("\n", " ")
    env.filters["num"] = lambda value: f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else ("—" if value is None else str(value))
    body = env.get_template(TEMPLATE.name).render(
        domain=record["domain"],
        description=spec.description,
        generator=spec.generator,
        record=record,
        meta=meta,
        model=model,
        model_metrics=model_metrics.model_dump(exclude_unset=True) if model_metrics else {},
        privacy=model_metrics.privacy.model_dump(exclude_unset=True) if model_metrics else None,
        validation=validation,
        sources=_sources(record, meta["assay"]["suite"]["path"] if meta["assay"]["suite"] else None),
        suite=meta["assay"]["suite"],
        chain=[node for node in record["chain"] if node["role"] != "source"],
        utility_rows=_utility_table(utility),
        utility_gate=summarise_utility(utility) if utility else None,
        utility_has_baseline=utility is not None,
        utility_status=record["not_produced"].get("utility") if utility is None else None,
        training=_training_rows(spec),
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000) + "---\n\n" + body


def _training_rows(spec: DomainSpec) -> list[tuple[str, Any]]:
    generator = spec.generator
    rows: list[tuple[str, Any]] = [("kind", generator.kind), ("base model", generator.base_model or "none (trained from scratch)")]
    for name in type(generator).model_fields:
        section = getattr(generator, name)
        if isinstance(section, BaseModel):  # model, train, sample, privacy, ...
            rows += [(f"{name}.{key}", value) for key, value in section.model_dump().items() if value is not None]
    return rows
