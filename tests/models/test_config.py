"""Model configs: YAML -> dataclasses, polymorphic tower sections, overrides, errors naming the key."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from medvlp.config.loader import ConfigError
from medvlp.models import list_models, load_model_config, model_config_to_dict, parse_model_config
from medvlp.models.config import dump_model_config, read_model_yaml
from medvlp.models.factory import CONFIG_DIR
from medvlp.models.image_2d import TimmTowerConfig
from medvlp.models.slice_pool import SlicePoolConfig
from medvlp.models.text import BertTextConfig, HFTextConfig


@pytest.mark.parametrize("name", list_models())
def test_every_bundled_config_parses_and_round_trips(name: str, tmp_path: Path):
    cfg = load_model_config(name)
    assert cfg.name == name
    assert parse_model_config(model_config_to_dict(cfg)) == cfg
    assert load_model_config(dump_model_config(cfg, tmp_path / "m.yaml")) == cfg


def test_tiny_config_of_every_family():
    names = set(list_models())
    assert {
        "tiny-cxr-resnet",
        "tiny-cxr-vit",
        "tiny-ct-slicepool",
        "tiny-ct-vit3d",
        "tiny-ct-resnet3d",
        "tiny-ct-swin3d",
    } <= names
    assert {"cxr-resnet50", "cxr-vit-b16", "ct-slicepool-resnet18", "ct-vit3d"} <= names


def test_polymorphic_sections_parse_into_their_tower_configs():
    cfg = load_model_config("tiny-ct-slicepool")
    assert isinstance(cfg.image, SlicePoolConfig) and isinstance(cfg.image.slice_tower, TimmTowerConfig)
    assert isinstance(cfg.text, BertTextConfig)
    assert math.isclose(cfg.logit_scale_init, math.log(1 / 0.07))


def test_overrides_strings_mapping_and_kind_switch(tmp_path: Path):
    cfg = load_model_config("tiny-cxr-resnet", ["embed_dim=48", "image.in_chans=3", "text.num_layers=1"])
    assert (cfg.embed_dim, cfg.image.in_chans, cfg.text.num_layers) == (48, 3, 1)
    cfg = load_model_config("tiny-cxr-resnet", {"streams": {"enabled": True, "num_heads": 2}})
    assert cfg.streams.enabled and cfg.streams.num_anatomy == 16
    # A new kind replaces the section: the BERT keys do not leak into the hf_local config.
    cfg = load_model_config("tiny-cxr-resnet", ["text.kind=hf_local", f"text.path={tmp_path}"])
    assert isinstance(cfg.text, HFTextConfig) and cfg.text.path == str(tmp_path)


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        (["image.modle=resnet18"], "unknown key 'image.modle'; allowed in section 'image': kind, in_chans"),
        (["image.kind=resnet"], "image.kind: unknown image tower 'resnet'"),
        (["text.hidden_size=abc"], "text.hidden_size: expected int"),
        (["embed_dim=0"], "embed_dim: 0 is out of range"),
        (["image.slice_tower.kind=nope"], "image.slice_tower.kind: unknown image tower 'nope'"),
        (["modality=mri"], "modality: 'mri' is not allowed; choose one of cxr, ct"),
    ],
)
def test_errors_name_the_key(override: list[str], needle: str):
    name = "tiny-ct-slicepool" if "slice_tower" in override[0] else "tiny-cxr-resnet"
    with pytest.raises(ConfigError) as err:
        load_model_config(name, override)
    assert needle in str(err.value)


def test_sections_need_a_kind():
    data = read_model_yaml(CONFIG_DIR / "tiny-cxr-resnet.yaml")
    del data["image"]["kind"]
    with pytest.raises(ConfigError, match=r"image.kind is required; choose one of .*monai_vit"):
        parse_model_config(data)
    with pytest.raises(ConfigError, match="needs both an 'image' and a 'text' section"):
        parse_model_config({"embed_dim": 8})


def test_yaml_is_data_only(tmp_path: Path):
    bad = tmp_path / "evil.yaml"
    bad.write_text("name: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_model_config(bad)


def test_bundled_configs_hold_no_expressions():
    for path in CONFIG_DIR.glob("*.yaml"):
        text = path.read_text()
        assert "!!" not in text and "lambda" not in text and "eval" not in text, path.name
