"""Model configs as dataclasses: the YAML files in model_configs/ are parsed into these at the boundary.

The image and text sections are polymorphic: their `kind` names a registered tower, whose own config dataclass
(a subclass of TowerConfig / TextTowerConfig, defined beside the tower) says which keys are allowed. A field typed
as the base class (e.g. the slice-pool tower's `slice_tower`) is parsed the same way, so towers nest. Every error
names the key and what is allowed (medvlp.config.loader does the checking). YAML is data: no expressions.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from medvlp.config.loader import ConfigError, build, parse_overrides
from medvlp.config.schema import knob
from medvlp.registry import TEXT_TOWERS, TOWERS, Registry


@dataclass
class TowerConfig:
    """Keys every image tower has; each tower kind extends it (see `TOWERS.config_class(kind)`)."""

    kind: str = knob("", help="registered image tower (medvlp.registry.TOWERS)")
    in_chans: int = knob(1, help="image channels C (CT: one per intensity window)", min=1)
    input_size: list[int] = knob([], help="[H, W] or [D, H, W] the tower is built for (ViTs need it)", min=1)
    weights: str = knob("", help="local weights file (.safetensors, or a torch file of tensors only)")
    weights_prefix: str = knob("", help="take only keys under this prefix from the weights file (prefix removed)")
    freeze: bool = knob(False, help="no gradients into the tower (run without autograd, kept in eval mode)")


@dataclass
class TextTowerConfig:
    """Keys every text tower has; each kind extends it (see `TEXT_TOWERS.config_class(kind)`)."""

    kind: str = knob("", help="registered text tower (medvlp.registry.TEXT_TOWERS)")
    pooler: str = knob("cls", help="text pooler (medvlp.registry.TEXT_POOLERS): cls or mean")
    context_length: int = knob(
        0,
        help="tokens per encoder pass; 0 = the model's position limit. Longer reports "
        "are encoded in chunks and pooled over chunks, never truncated",
        min=0,
    )
    freeze: bool = knob(False, help="frozen text tower, only the projection trains (M-FLAG)")


@dataclass
class ProjectionConfig:
    """Heads from tower features into the joint space (one for pooled features, one for local tokens)."""

    kind: str = knob("linear", help="registered projection head (medvlp.registry.PROJECTIONS): linear, mlp")
    hidden_dim: int = knob(0, help="hidden width of the mlp head; 0 = the joint dimension", min=0)
    dropout: float = knob(0.0, help="dropout inside the head", min=0, max=1)
    share_tokens: bool = knob(False, help="project local tokens with the global head instead of their own")


@dataclass
class StreamsConfig:
    """Anatomy and pathology streams (MeDSLIP): learned queries cross-attending to the image tokens."""

    enabled: bool = knob(False, help="build the streams (VLPOutput.streams is None without them)")
    num_anatomy: int = knob(16, help="learned anatomy queries Qa", min=1)
    num_pathology: int = knob(16, help="learned pathology queries Qp", min=1)
    num_layers: int = knob(1, help="decoder layers (query self-attention, image cross-attention, MLP)", min=1)
    num_heads: int = knob(4, help="attention heads (must divide embed_dim)", min=1)
    mlp_ratio: float = knob(2.0, help="MLP width as a multiple of embed_dim", min=0.5)
    dropout: float = knob(0.0, help="dropout in the decoder layers", min=0, max=1)
    link: Literal["attend", "none"] = knob(
        "attend", help="prototype link: pathology queries attend to the anatomy query outputs (attend) or not"
    )
    entity_grad: bool = knob(True, help="backpropagate into the text tower through the entity embeddings")


@dataclass
class ModelConfig:
    """A whole vision-language model: image tower, text tower, projections, streams, temperature and bias."""

    name: str = knob("", help="the model's name (the YAML file's stem for bundled configs)")
    modality: Literal["cxr", "ct"] = knob("cxr", help="what the image tower reads: cxr [B,C,H,W], ct [B,C,D,H,W]")
    embed_dim: int = knob(512, help="joint embedding dimension E", min=1)
    image: TowerConfig = field(default_factory=TowerConfig)
    text: TextTowerConfig = field(default_factory=TextTowerConfig)
    projection: ProjectionConfig = field(default_factory=ProjectionConfig)
    streams: StreamsConfig = field(default_factory=StreamsConfig)
    temperature_init: float = knob(
        0.07, help="initial softmax temperature; logit_scale starts at log(1/t)", min=1e-4, max=10
    )
    logit_scale_max: float = knob(100.0, help="exp(logit_scale) is clamped to this", min=1)
    logit_bias_init: float = knob(-10.0, help="initial bias of the sigmoid loss (SigLIP)")

    @property
    def logit_scale_init(self) -> float:
        """log(1 / temperature_init): the initial value of the learnable logit scale."""
        return math.log(1.0 / self.temperature_init)


# ------------------------------------------------------------------------------------------------- parsing
def _parse_polymorphic(data: Any, registry: Registry[Any], base: type, prefix: str) -> Any:
    """Build the config dataclass registered for data['kind'], parsing nested tower fields the same way."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix}: expected a mapping with a 'kind' key, got {data!r}")
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"{prefix}.kind is required; choose one of {', '.join(registry.names())}")
    try:
        cls = registry.config_class(kind) or base
    except KeyError as exc:
        raise ConfigError(f"{prefix}.kind: {exc}") from exc
    hints = typing.get_type_hints(cls)
    nested = {k: v for k, v in data.items() if hints.get(k) in (TowerConfig, TextTowerConfig)}
    cfg = build(cls, {k: v for k, v in data.items() if k not in nested}, prefix)
    for key, value in nested.items():
        sub_registry, sub_base = (TOWERS, TowerConfig) if hints[key] is TowerConfig else (TEXT_TOWERS, TextTowerConfig)
        setattr(cfg, key, _parse_polymorphic(value, sub_registry, sub_base, f"{prefix}.{key}"))
    return cfg


def parse_tower_config(data: Mapping[str, Any], prefix: str = "image") -> TowerConfig:
    """An image tower section (a mapping with `kind`) as its registered config dataclass."""
    return _parse_polymorphic(data, TOWERS, TowerConfig, prefix)


def parse_text_config(data: Mapping[str, Any], prefix: str = "text") -> TextTowerConfig:
    """A text tower section (a mapping with `kind`) as its registered config dataclass."""
    return _parse_polymorphic(data, TEXT_TOWERS, TextTowerConfig, prefix)


def parse_model_config(data: Mapping[str, Any]) -> ModelConfig:
    """A whole model config from a nested mapping (as read from YAML); unknown keys are errors."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"model config: expected a mapping, got {type(data).__name__}")
    rest = {k: v for k, v in data.items() if k not in ("image", "text")}
    cfg = build(ModelConfig, rest)
    if "image" not in data or "text" not in data:
        raise ConfigError("model config needs both an 'image' and a 'text' section (each with a 'kind')")
    cfg.image = parse_tower_config(data["image"])
    cfg.text = parse_text_config(data["text"])
    return cfg


def read_model_yaml(path: str | Path) -> dict[str, Any]:
    """Read a model YAML file (safe_load: data only) into a mapping."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data


def merge_configs(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive merge, `over` wins; a section whose override names a different `kind` is replaced, not merged
    (switching text.kind from bert to hf_local drops the BERT keys)."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(value, Mapping) and isinstance(old, Mapping):
            kind_changed = "kind" in value and value["kind"] != old.get("kind")
            out[key] = dict(value) if kind_changed else merge_configs(old, value)
        else:
            out[key] = value
    return out


def apply_overrides(data: Mapping[str, Any], overrides: Mapping[str, Any] | list[str] | tuple[str, ...]) -> dict:
    """Merge overrides into a raw config mapping: a nested mapping, or `key.sub=value` strings (YAML values)."""
    if isinstance(overrides, Mapping):
        over = dict(overrides)
    else:
        over = parse_overrides([o if "." in o.partition("=")[0] else f"_.{o}" for o in overrides])
        over = {**over.pop("_", {}), **over}  # top-level keys (embed_dim=64) ride under a dummy section
    return merge_configs(data, over)


def model_config_to_dict(cfg: ModelConfig) -> dict[str, Any]:
    """The resolved config as a plain nested mapping (what a run writes; parse_model_config reads it back)."""
    return dataclasses.asdict(cfg)


def dump_model_config(cfg: ModelConfig, path: str | Path) -> Path:
    """Write the resolved model config as YAML."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(model_config_to_dict(cfg), sort_keys=False, default_flow_style=None))
    return path
