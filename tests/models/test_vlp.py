"""VLPModel on every tiny config: the output contract, gradient flow, determinism, the same API for 2D and 3D."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from medvlp.models import ImageOutput, TextOutput, VLPOutput, create_model

TINY = ("tiny-cxr-resnet", "tiny-cxr-vit", "tiny-ct-slicepool", "tiny-ct-vit3d", "tiny-ct-resnet3d", "tiny-ct-swin3d")


def _model(name: str, *over: str, seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return create_model(name, overrides=list(over))


@pytest.mark.parametrize("name", TINY)
def test_output_contract_and_gradient_flow(name: str, batch_for: Any, sum_outputs: Any, grad_report: Any):
    model = _model(name).train()
    batch = batch_for(model.config.modality)
    out = model(batch)
    e, b = model.embed_dim, 2
    assert isinstance(out, VLPOutput) and isinstance(out.image, ImageOutput) and isinstance(out.text, TextOutput)
    n = out.image.tokens.shape[1]
    assert out.image.embeds.shape == (b, e) and out.image.tokens.shape == (b, n, e)
    assert out.image.token_mask.shape == (b, n) and out.image.token_mask.dtype == torch.bool
    assert len(out.image.grid) == model.spatial_dims and torch.tensor(out.image.grid).prod() == n
    assert out.text.embeds.shape == (b, e) and out.text.tokens.shape == (b, 12, e)
    assert torch.equal(out.text.mask, batch["text_mask"])
    torch.testing.assert_close(out.image.embeds.norm(dim=-1), torch.ones(b))
    torch.testing.assert_close(out.text.embeds.norm(dim=-1), torch.ones(b))
    assert out.logit_scale.ndim == 0 and out.logit_bias.ndim == 0
    torch.testing.assert_close(out.logit_scale, torch.tensor(1 / 0.07))
    assert (out.streams is not None) == model.config.streams.enabled
    sum_outputs(out).backward()
    no_grad, leaked = grad_report(model)
    assert no_grad == [] and leaked == []


@pytest.mark.parametrize("name", ["tiny-cxr-resnet", "tiny-ct-slicepool"])
def test_frozen_towers_get_no_gradient(name: str, batch_for: Any, sum_outputs: Any, grad_report: Any):
    over = ["image.freeze=true", "text.freeze=true"]
    model = _model(name, *over).train()
    sum_outputs(model(batch_for(model.config.modality))).backward()
    no_grad, leaked = grad_report(model)
    assert no_grad == [] and leaked == []
    assert all(p.grad is None for p in model.image_tower.parameters())
    assert all(p.grad is None for p in model.text_tower.parameters())
    assert model.image_proj.proj.weight.grad is not None and model.text_proj.proj.weight.grad is not None
    assert model.num_parameters(trainable_only=True) < model.num_parameters()


@pytest.mark.parametrize("name", TINY)
def test_determinism(name: str, batch_for: Any):
    a, b, c = _model(name).eval(), _model(name).eval(), _model(name, seed=1).eval()
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), k
    assert any(not torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    batch = batch_for(a.config.modality)
    with torch.no_grad():
        oa, ob = a(batch), b(batch)
    assert torch.equal(oa.image.embeds, ob.image.embeds) and torch.equal(oa.text.tokens, ob.text.tokens)


@pytest.mark.parametrize("name", [n for n in TINY if "-ct-" in n])
def test_depth_mask_honoured_by_the_model(name: str, batch_for: Any):
    model = _model(name).eval()
    batch = batch_for("ct")
    garbage = dict(batch)
    garbage["image"] = batch["image"].clone()
    garbage["image"][1, :, 12:] = 7.0  # the padded slices of row 1 (masked)
    with torch.no_grad():
        a, b = (
            model.encode_image(batch["image"], batch["depth_mask"]),
            model.encode_image(garbage["image"], garbage["depth_mask"]),
        )
        c = model.encode_image(batch["image"][1:, :, :12])  # row 1 without padding, no mask
    torch.testing.assert_close(a.embeds, b.embeds)
    torch.testing.assert_close(a.embeds[1:], c.embeds)


def test_same_encoders_for_2d_and_3d(batch_for: Any):
    for name in ("tiny-cxr-resnet", "tiny-ct-resnet3d"):
        model = _model(name).eval()
        batch = batch_for(model.config.modality)
        with torch.no_grad():
            image = model.encode_image(batch["image"], batch.get("depth_mask"))
            text = model.encode_text(batch["text_ids"], batch["text_mask"])
        assert (image.embeds @ text.embeds.T).shape == (2, 2)


def test_batch_errors(batch_for: Any):
    model = _model("tiny-cxr-resnet")
    with pytest.raises(KeyError, match="batch has no 'text_ids'"):
        model({"image": torch.zeros(1, 1, 64, 64)})
    with pytest.raises(ValueError, match=r"reads \[B, C, H, W\] images"):
        model.encode_image(torch.zeros(1, 1, 8, 64, 64))
    with pytest.raises(RuntimeError, match="no streams"):
        model.encode_streams(model.encode_image(torch.zeros(1, 1, 64, 64)))
