"""create_model over named model configs (model_configs/*.yaml), config files, mappings or ModelConfig objects.

    model = create_model("tiny-cxr-resnet", tokenizer=tok)                 # a bundled config by name
    model = create_model("runs/x/model.yaml", overrides=["embed_dim=256"])  # a config file
    model = create_model(cfg)                                              # a ModelConfig

The resolved config (with the vocabulary size actually used) is `model.config`; write it with
dump_model_config and rebuild the same model from that file.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medvlp.models.config import (
    ModelConfig,
    TextTowerConfig,
    TowerConfig,
    apply_overrides,
    model_config_to_dict,
    parse_model_config,
    parse_text_config,
    parse_tower_config,
    read_model_yaml,
)
from medvlp.registry import TEXT_TOWERS, TOWERS, UnknownComponentError

CONFIG_DIR = Path(__file__).resolve().parent / "model_configs"
Overrides = Mapping[str, Any] | Sequence[str]


def list_models() -> list[str]:
    """Names of the bundled model configs (the YAML stems in model_configs/), sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def model_config_path(name: str) -> Path:
    """The YAML file of a bundled model; UnknownComponentError listing the available names otherwise."""
    path = CONFIG_DIR / f"{name}.yaml"
    if path.is_file():
        return path
    names = list_models()
    close = difflib.get_close_matches(name, names, n=3)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownComponentError(f"unknown model '{name}'{hint}; available: {', '.join(names)}")


def _looks_like_path(text: str) -> bool:
    return text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text


def load_model_config(model: str | Path | Mapping[str, Any] | ModelConfig, overrides: Overrides = ()) -> ModelConfig:
    """A ModelConfig from a bundled name, a YAML path, a mapping or a ModelConfig, with overrides applied
    (`["embed_dim=256", "image.freeze=true"]` or a nested mapping)."""
    name = ""
    if isinstance(model, ModelConfig):
        data = model_config_to_dict(model)
    elif isinstance(model, Mapping):
        data = dict(model)
    elif isinstance(model, Path) or _looks_like_path(str(model)):
        path = Path(model)
        if not path.is_file():
            raise FileNotFoundError(f"model config file not found: {path}")
        data, name = read_model_yaml(path), path.stem
    elif isinstance(model, str):
        data, name = read_model_yaml(model_config_path(model)), model
    else:
        raise TypeError(f"create_model takes a model name, a config path, a mapping or a ModelConfig; got {model!r}")
    if overrides:
        data = apply_overrides(data, overrides)
    cfg = parse_model_config(data)
    if not cfg.name:
        cfg.name = name
    return cfg


def create_image_tower(spec: str | Path | Mapping[str, Any] | TowerConfig | ModelConfig) -> Any:
    """An image tower from a tower config (or mapping with `kind`), or the image section of a model config/name."""
    if isinstance(spec, TowerConfig):
        cfg = spec
    elif isinstance(spec, Mapping) and "kind" in spec:
        cfg = parse_tower_config(spec)
    else:
        cfg = (spec if isinstance(spec, ModelConfig) else load_model_config(spec)).image
    return TOWERS.get(cfg.kind)(cfg)


def create_text_tower(spec: Mapping[str, Any] | TextTowerConfig, tokenizer: Any = None) -> Any:
    """A text tower from its config; a tokenizer (object or folder) sets a BERT tower's vocabulary size."""
    cfg = spec if isinstance(spec, TextTowerConfig) else parse_text_config(spec)
    tok = _load_tokenizer(tokenizer)
    if tok is not None and hasattr(cfg, "vocab_size"):
        cfg.vocab_size = len(tok)
    tower = TEXT_TOWERS.get(cfg.kind)(cfg)
    if tok is not None and tower.vocab_size and len(tok) > tower.vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tok)} tokens but the text tower's vocabulary has "
            f"{tower.vocab_size}: use the tokenizer that came with the model"
        )
    return tower


def _load_tokenizer(tokenizer: Any) -> Any:
    if tokenizer is None or not isinstance(tokenizer, (str, Path)):
        return tokenizer
    from medvlp.text.tokenizer import load_tokenizer

    return load_tokenizer(tokenizer)


def create_model(
    model: str | Path | Mapping[str, Any] | ModelConfig,
    *,
    overrides: Overrides = (),
    tokenizer: Any = None,
    entities: tuple[Any, Any, Any] | None = None,
) -> Any:
    """Build a VLPModel.

    model: a bundled name (list_models()), a YAML path, a mapping or a ModelConfig. overrides: dotted
    `key=value` strings or a nested mapping. tokenizer: a tokenizer object or folder; a `bert` text tower takes
    its vocabulary size from it. entities: (ids [K, L], mask [K, L], is_anatomy [K]) for the streams
    (streams.tokenize_entities), or call model.set_entities later.
    """
    from medvlp.models.vlp import VLPModel

    cfg = load_model_config(model, overrides)
    image = create_image_tower(cfg.image)
    want = 3 if cfg.modality == "ct" else 2
    if image.spatial_dims != want:
        raise ValueError(
            f"model '{cfg.name}': modality {cfg.modality} needs a {want}D image tower, but "
            f"'{cfg.image.kind}' reads {image.spatial_dims}D images (CT: slice_pool or a 3D tower)"
        )
    text = create_text_tower(cfg.text, tokenizer)
    vlp = VLPModel(cfg, image, text)
    if entities is not None:
        vlp.set_entities(*entities)
    return vlp
