"""The prompt bank: tokenized prompt ensembles per finding, sampled and encoded into class vectors."""

from __future__ import annotations

import pytest
import torch

from medvlp.knowledge import load_graph
from medvlp.models import create_model
from medvlp.models.prompt_bank import class_vectors, sample_rows, tokenize_prompts
from medvlp.text.prompts import build_prompts, resolve_findings
from tests.models.conftest import make_batch


@pytest.fixture(scope="module")
def graph():
    return load_graph()


def test_tokenize_prompts_groups_each_finding_and_side(graph, tiny_tokenizer):
    bank = tokenize_prompts(graph, "phantom_cxr", "cxr", tiny_tokenizer, 32)
    names, ids = resolve_findings(graph, "phantom_cxr")
    assert bank.names == names and bank.start.shape == (2 * len(names),)
    sets = build_prompts(graph, ids, "cxr")
    assert bank.count.tolist() == [n for s in sets for n in (len(s.positives), len(s.negatives))]
    assert bank.ids.shape[0] == int(bank.count.sum()) and bank.ids.shape[1] <= 32
    # the first negative of finding 1 is the row its group starts at
    row = int(bank.start[3])
    decoded = tiny_tokenizer.decode(bank.ids[row][bank.mask[row]], skip_special_tokens=True)
    assert decoded.replace(" ", "").lower() == sets[1].negatives[0].replace(" ", "").lower()


def test_sample_rows_stay_in_their_group_and_follow_the_seed():
    start, count = torch.tensor([0, 3, 4, 10]), torch.tensor([3, 1, 6, 2])
    torch.manual_seed(0)
    rows = sample_rows(start, count, 50)
    assert ((rows >= start[:, None]) & (rows < (start + count)[:, None])).all()
    assert set(rows[2].tolist()) == set(range(4, 10))  # every prompt of a group gets drawn
    torch.manual_seed(0)
    assert torch.equal(rows, sample_rows(start, count, 50))


def test_class_vectors_average_then_normalise():
    embeds = torch.randn(2 * 3 * 4, 8)  # K=3 findings, 2 sides, M=4 prompts
    out = class_vectors(embeds, 6, 4)
    assert out.shape == (3, 2, 8) and torch.allclose(out.norm(dim=-1), torch.ones(3, 2))
    expected = torch.nn.functional.normalize(embeds[4:8].mean(0), dim=-1)  # group 1 = finding 0, negative side
    assert torch.allclose(out[0, 1], expected, atol=1e-6)


def test_model_outputs_prompt_class_vectors_with_gradient(graph, tiny_tokenizer):
    model = create_model("tiny-cxr-resnet", tokenizer=tiny_tokenizer)
    batch = make_batch("cxr", vocab=len(tiny_tokenizer))
    assert model(batch).prompt_embeds is None
    model.set_prompts(tokenize_prompts(graph, "phantom_cxr", "cxr", tiny_tokenizer, 32), per_step=2)
    out = model(batch)
    assert out.prompt_embeds.shape == (9, 2, model.embed_dim)
    out.prompt_embeds.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.text_tower.parameters())
    assert not any(k.startswith("prompt") for k in model.state_dict())  # checkpoints stay as they were
    with pytest.raises(ValueError, match="per_step"):
        model.set_prompts(tokenize_prompts(graph, "phantom_cxr", "cxr", tiny_tokenizer, 32), per_step=0)
