"""``generator.json``, typed: what a trained generator's folder says about the generator.

One pydantic model per variant, told apart by ``kind`` and ``mode``; the file keeps its keys
(``schema`` included), so generators saved before these models existed still load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

from assay.errors import AssayError


class _Config(BaseModel):
    """What every ``generator.json`` holds: the domain, the variant, the modelled columns and the params it was trained with."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    domain: str
    features: list[str]
    params: dict[str, Any]  # the domain's generator params, as trained (GeneratorSpec)


class TabularScratchConfig(_Config):
    kind: Literal["tabular"] = "tabular"
    mode: Literal["scratch"] = "scratch"
    codec: dict[str, Any]  # TabularCodec.to_dict(): the column vocabularies, published with the model


class TabularFineTuneConfig(_Config):
    kind: Literal["tabular"] = "tabular"
    mode: Literal["fine-tune"] = "fine-tune"
    base_model: str
    column_types: dict[str, Any] = Field(alias="schema")  # dtype of each feature, to parse sampled text back


class TextConfig(_Config):
    kind: Literal["text"] = "text"
    mode: Literal["scratch", "fine-tune"]
    base_model: str | None
    text_column: str
    max_length: int
    controls: list[dict[str, Any]]  # control prefixes (chapter, unit kind) with their train counts ("len")


def variant_tag(kind: str, mode: str) -> str:
    """``tabular/scratch``, ``tabular/fine-tune`` or ``text`` (one text generator, from scratch or fine-tuned)."""
    return f"{kind}/{mode}" if kind == "tabular" else "text"


def _tag_of(data: Any) -> str | None:
    if isinstance(data, dict):
        return variant_tag(str(data.get("kind")), str(data.get("mode")))
    return variant_tag(data.kind, data.mode)


GeneratorConfig = Annotated[
    Annotated[TabularScratchConfig, Tag("tabular/scratch")] | Annotated[TabularFineTuneConfig, Tag("tabular/fine-tune")] | Annotated[TextConfig, Tag("text")],
    Discriminator(_tag_of),
]
_CONFIG = TypeAdapter(GeneratorConfig)
TAGS = ("tabular/scratch", "tabular/fine-tune", "text")


def read_config(path: Path) -> TabularScratchConfig | TabularFineTuneConfig | TextConfig:
    """A ``generator.json``, validated; a one-line error naming the file and the first bad key."""
    try:
        return _CONFIG.validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        if loc and loc[0] in TAGS:  # the variant pydantic tried, not a key of the file
            loc = loc[1:]
        where = ".".join(loc) or "(top level)"
        raise AssayError(f"{path}: {where}: {first['msg']}") from None
