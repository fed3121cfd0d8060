"""create_model by name, from a file and from a config; clear errors; the resolved config rebuilds the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from medvlp.models import VLPModel, create_image_tower, create_model, dump_model_config, list_models, load_model_config
from medvlp.models.factory import CONFIG_DIR
from medvlp.registry import UnknownComponentError


def test_by_name_by_path_and_by_config(tmp_path: Path):
    torch.manual_seed(0)
    a = create_model("tiny-cxr-resnet")
    torch.manual_seed(0)
    b = create_model(CONFIG_DIR / "tiny-cxr-resnet.yaml")
    torch.manual_seed(0)
    c = create_model(load_model_config("tiny-cxr-resnet"))
    path = dump_model_config(a.config, tmp_path / "resolved.yaml")
    torch.manual_seed(0)
    d = create_model(str(path))
    assert isinstance(a, VLPModel) and a.config.name == "tiny-cxr-resnet"
    for other in (b, c, d):
        for (k, p), q in zip(a.state_dict().items(), other.state_dict().values(), strict=True):
            assert torch.equal(p, q), k


def test_unknown_name_lists_available_models():
    with pytest.raises(UnknownComponentError) as err:
        create_model("tiny-cxr-resnt")
    msg = str(err.value)
    assert "unknown model 'tiny-cxr-resnt'" in msg and "did you mean tiny-cxr-resnet" in msg
    assert all(name in msg for name in list_models())
    with pytest.raises(FileNotFoundError, match="model config file not found"):
        create_model("configs/nope.yaml")


def test_tokenizer_sets_vocab_and_is_recorded(small_tokenizer: Any, tmp_path: Path):
    model = create_model("tiny-cxr-resnet", tokenizer=small_tokenizer)
    assert model.config.text.vocab_size == len(small_tokenizer)
    small_tokenizer.save_pretrained(str(tmp_path / "tok"))
    assert create_model("tiny-cxr-resnet", tokenizer=tmp_path / "tok").text_tower.vocab_size == len(small_tokenizer)


def test_modality_must_match_the_tower():
    with pytest.raises(ValueError, match="modality ct needs a 3D image tower"):
        create_model("tiny-cxr-resnet", overrides=["modality=ct"])


def test_image_tower_alone_for_downstream_heads():
    tower = create_image_tower("tiny-ct-slicepool")
    assert tower.spatial_dims == 3 and tower.feature_info


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in list_models() if not n.startswith("tiny-")])
def test_real_size_image_towers_build(name: str):
    """Real configs are data only: their towers build (no download) and read an image of their input size."""
    tower = create_image_tower(name).eval()
    size = load_model_config(name).image.input_size
    assert tower.num_features > 0 and tower.feature_info
    if name.startswith("cxr-"):
        with torch.no_grad():
            assert tower(torch.zeros(1, 1, *size)).shape == (1, tower.pooled_features)
