"""Anatomy/pathology streams: query outputs and attention maps over 2D and 3D tokens, the link, entity embeddings."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from medvlp.knowledge import load_graph
from medvlp.models import StreamsConfig, create_model, tokenize_entities
from medvlp.models.streams import Streams


def _streams(link: str = "attend") -> Streams:
    torch.manual_seed(0)
    return Streams(StreamsConfig(enabled=True, num_anatomy=3, num_pathology=5, num_heads=2, link=link), 16).eval()


def test_shapes_and_attention_respects_token_mask():
    streams = _streams()
    tokens = torch.randn(2, 12, 16)
    mask = torch.ones(2, 12, dtype=torch.bool)
    mask[1, 8:] = False
    out = streams(tokens, mask)
    assert out["anatomy"].shape == (2, 3, 16) and out["pathology"].shape == (2, 5, 16)
    assert out["anatomy_attn"].shape == (2, 3, 12) and out["pathology_attn"].shape == (2, 5, 12)
    assert out["link_attn"].shape == (2, 5, 3)
    torch.testing.assert_close(out["anatomy"].norm(dim=-1), torch.ones(2, 3))
    torch.testing.assert_close(out["pathology_attn"].sum(-1), torch.ones(2, 5))
    assert out["pathology_attn"][1, :, 8:].abs().sum() == 0 and out["anatomy_attn"][1, :, 8:].abs().sum() == 0
    # Masked tokens may hold anything.
    tokens2 = tokens.clone()
    tokens2[1, 8:] = 50.0
    torch.testing.assert_close(streams(tokens2, mask)["pathology"], out["pathology"])


def test_link_none_and_head_check():
    assert _streams("none")(torch.randn(1, 4, 16))["link_attn"] is None
    with pytest.raises(ValueError, match="num_heads=3 must divide embed_dim=16"):
        Streams(StreamsConfig(enabled=True, num_heads=3), 16)


def test_tokenize_entities_follows_the_pipeline_index(small_tokenizer: Any):
    graph = load_graph()
    ids, mask, is_anatomy = tokenize_entities(graph, small_tokenizer, max_length=12)
    order = sorted(graph.ids)
    assert ids.shape[0] == mask.shape[0] == is_anatomy.shape[0] == len(order)
    assert ids.shape[1] <= 12 and mask.dtype == torch.bool
    assert is_anatomy.tolist() == [graph.get(i).kind == "anatomy" for i in order]
    assert 0 < int(is_anatomy.sum()) < len(order)


@pytest.mark.parametrize("name", ["tiny-cxr-vit", "tiny-ct-vit3d"])
def test_model_streams_with_entities(name: str, small_tokenizer: Any, batch_for: Any):
    entities = tokenize_entities(load_graph(), small_tokenizer, max_length=12)
    torch.manual_seed(0)
    model = create_model(name, tokenizer=small_tokenizer, entities=entities)
    batch = batch_for(model.config.modality, vocab=len(small_tokenizer))
    out = model(batch)
    s, k, e = out.streams, entities[0].shape[0], model.embed_dim
    n = out.image.tokens.shape[1]
    assert s.anatomy.shape == (2, 4, e) and s.pathology_attn.shape == (2, 4, n) and s.link_attn.shape == (2, 4, 4)
    assert s.entity_embeds.shape == (k, e) and torch.equal(s.entity_is_anatomy, entities[2])
    torch.testing.assert_close(s.entity_embeds.norm(dim=-1), torch.ones(k))
    # Attention maps reshape onto the token grid.
    assert s.anatomy_attn.reshape(2, 4, *out.image.grid).shape[2:] == out.image.grid
    # Entity embeddings backpropagate into the text tower.
    s.entity_embeds.sum().backward()
    assert model.text_tower.encoder.embeddings.word_embeddings.weight.grad is not None


def test_entity_grad_off_and_no_entities(small_tokenizer: Any, batch_for: Any):
    model = create_model("tiny-cxr-vit", overrides=["streams.entity_grad=false"], tokenizer=small_tokenizer)
    out = model(batch_for("cxr", vocab=len(small_tokenizer)))
    assert out.streams.entity_embeds.shape == (0, 32)
    model.set_entities(*tokenize_entities(load_graph(), small_tokenizer))
    assert not model(batch_for("cxr", vocab=len(small_tokenizer))).streams.entity_embeds.requires_grad
    with pytest.raises(ValueError, match="set_entities wants ids"):
        model.set_entities(torch.zeros(3, dtype=torch.long), torch.zeros(3, dtype=torch.bool), torch.zeros(3))
