"""The model card: a Hugging Face ``README.md`` for a domain's generator, built from its lineage record.

Built with ``huggingface_hub``'s own classes: ``ModelCardData`` for the front matter (``license:
other`` with ``license_link`` to the card's section on the training data's terms, ``library_name``,
``tags``, ``datasets``, no ``pipeline_tag`` for a tabular generator, and an ``assay`` block with
the source sha256s, the suite's hash, the validation status, the release gate's outcome and the
model's md5), ``EvalResult`` for ``model-index`` (every figure, each under the real split it is
measured on: dev loss on dev, train-on-synthetic scores on test), and ``ModelCard`` for the file.
The Markdown body (``templates/modelcard.md.j2``): how to use the generator, data provenance,
training, utility and privacy, intended use and limits, licence, how to verify.

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
from assay.metrics.registry import METRICS

TEMPLATE = Path(__file__).parent / "templates" / "modelcard.md.j2"
LICENSE_ANCHOR = "README.md#licence"  # the card's own section on the training data's terms
# Which real data each group of utility figures is measured on: the split a model-index result names.
SPLIT_OF_GROUP = {"Utility": "test", "Fidelity": "train", "Privacy": "train", "Validity": "synthetic"}


def _utility_table(utility: UtilityReport | None) -> list[tuple[str, Any, Any]]:
    """(metric, generator, baseline) from the evaluate stage's report: every figure."""
    if utility is None:
        return []
    return [(key, value, utility.baseline.get(key)) for key, value in utility.generator.items()]


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


def eval_results(domain: str, kind: str, utility: UtilityReport | None, model_metrics: TrainMetrics | None) -> list[Any]:
    """The card's ``model-index`` as ``EvalResult``s: dev loss on the dev split, each utility figure on the
    real split it is measured against (the test split for train-on-synthetic scores), every figure."""
    from huggingface_hub import EvalResult

    task = {"task_type": "text-generation" if kind == "text" else "tabular-generation", "task_name": f"Synthetic {kind} data generation"}

    def result(split: str, key: str, value: Any, name: str) -> Any:
        return EvalResult(
            **task, dataset_type=domain, dataset_name=f"{domain} ({split})", dataset_split=split, metric_type=key, metric_value=value, metric_name=name
        )

    results = []
    if model_metrics is not None:
        results.append(result("dev", "loss", round(model_metrics.best_dev_loss, 6), "Best dev loss (mean cross-entropy per sampled token)"))
    described = {metric.key: metric for metric in METRICS}
    for key, value, _ in _utility_table(utility):
        if isinstance(value, int | float) and not isinstance(value, bool):
            metric = described.get(key)
            split = SPLIT_OF_GROUP.get(metric.group, "synthetic") if metric else "synthetic"
            named = metric is not None and metric.label is not None and not metric.label.startswith("…")  # "… ratio to holdout" reads as a row below another
            results.append(result(split, key, value, metric.label if named else key))
    return results


def card_data(record: dict[str, Any], spec: DomainSpec, utility: UtilityReport | None, model_metrics: TrainMetrics | None, lineage_path: str) -> Any:
    """The card's metadata as ``huggingface_hub``'s ``ModelCardData``: Hub fields, ``model-index`` and an ``assay`` block."""
    from huggingface_hub import ModelCardData

    domain = record["domain"]
    kind = spec.generator.kind
    validation = _validation(record)
    suite = _suite_node(record, validation)
    model = _node(record, "model") or {}
    sources = _sources(record, suite["path"] if suite else None)
    gate = summarise_utility(utility) if utility else None
    return ModelCardData(
        model_name=f"assay-{domain}-generator",
        license="other",
        license_name="training-data-terms",
        license_link=LICENSE_ANCHOR,
        library_name="transformers",
        # The Hub has no tabular-generation pipeline; a text-generation tag would put rows where prompts go.
        pipeline_tag="text-generation" if kind == "text" else None,
        tags=["assay", "synthetic-data", "gpt2", f"{kind}-generation", domain],
        datasets=sorted({source["path"] for source in sources}),
        eval_results=eval_results(domain, kind, utility, model_metrics) or None,
        assay={
            "domain": domain,
            "lineage": lineage_path,
            "model": {"path": model.get("path"), "md5": model.get("md5")},
            "sources": [{"path": s["path"], "sha256": s.get("sha256"), "size": s.get("size")} for s in sources],
            "suite": {"path": suite["path"], "md5": suite.get("md5"), "sha256": validation.get("suite_sha256")} if suite and validation else None,
            "validation": "passed" if validation and validation.get("success") else ("failed" if validation else "not run"),
            "release_gate": (
                {"enforced": gate["release_gate_enabled"], "passed": gate["release_gate_passed"], "failed_checks": gate["gate_checks_failed"]}
                if gate
                else "not evaluated"
            ),
            "vocabulary": "published with the model: generator/generator.json lists every category value the generator can emit",
            "git_commit": record["run"]["git"].get("commit"),
            "pseudonym_key": record.get("pseudonym_key"),
        },
    )


def _how_to_use(domain: str, spec: DomainSpec) -> dict[str, Any]:
    """A condition the usage example can fix: the utility target's positive class, else a modelled column's first allowed value."""
    generator, target = spec.generator, spec.evaluate.target
    if target.column in generator.features and target.positive:
        return {"column": target.column, "value": target.positive[0]}
    for name in generator.features:
        allowed = spec.columns[name].allowed if name in spec.columns else None
        if allowed:
            return {"column": name, "value": allowed[0]}
    return {"column": None, "value": None}


def render_model_card(
    record: dict[str, Any], spec: DomainSpec, utility: UtilityReport | None, model_metrics: TrainMetrics | None = None, lineage_path: str = "lineage.json"
) -> str:
    """The whole card, built with ``huggingface_hub``'s ``ModelCard``: front matter from :func:`card_data`,
    the Markdown body from ``templates/modelcard.md.j2``.

    ``utility`` is the evaluate stage's report (None: not evaluated yet); ``model_metrics`` the
    ``metrics.json`` that train saved in the model folder; ``lineage_path`` where the record is.
    """
    from huggingface_hub import ModelCard
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    model = _node(record, "model") or {}
    data = card_data(record, spec, utility, model_metrics, lineage_path)
    meta = data.to_dict()
    validation = _validation(record)
    env = Environment(
        loader=FileSystemLoader(TEMPLATE.parent), autoescape=False, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True
    )
    env.filters["cell"] = lambda value: "—" if value is None or value == "" else str(value).replace("|", "\\|").replace("\n", " ")
    env.filters["pyrepr"] = repr
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
        usage=_how_to_use(record["domain"], spec),
        demo_data=all(str(source.path).startswith("data/raw/") for source in spec.sources),
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _training_rows(spec: DomainSpec) -> list[tuple[str, Any]]:
    generator = spec.generator
    rows: list[tuple[str, Any]] = [("kind", generator.kind), ("base model", generator.base_model or "none (trained from scratch)")]
    for name in type(generator).model_fields:
        section = getattr(generator, name)
        if isinstance(section, BaseModel):  # model, train, sample, privacy, ...
            rows += [(f"{name}.{key}", value) for key, value in section.model_dump().items() if value is not None]
    return rows
