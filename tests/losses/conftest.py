"""Random model outputs (float64) for the loss tests."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from medvlp.models.outputs import ImageOutput, StreamOutput, TextOutput, VLPOutput


def random_output(
    b: int = 5, e: int = 8, n: int = 6, length: int = 7, qa: int = 3, qp: int = 4, k: int = 9, seed: int = 0
) -> VLPOutput:
    """A VLPOutput of random float64 leaves (requires_grad) with partial token masks and streams."""
    g = torch.Generator().manual_seed(seed)

    def leaf(*shape: int, norm: bool = False) -> torch.Tensor:
        x = torch.randn(*shape, generator=g, dtype=torch.float64)
        return (F.normalize(x, dim=-1) if norm else x).detach().requires_grad_(True)

    token_mask = torch.rand(b, n, generator=g) > 0.3
    token_mask[:, 0] = True
    text_mask = torch.zeros(b, length, dtype=torch.bool)
    for i in range(b):
        text_mask[i, : 2 + i % (length - 1)] = True
    streams = StreamOutput(
        anatomy=leaf(b, qa, e, norm=True),
        pathology=leaf(b, qp, e, norm=True),
        anatomy_attn=torch.rand(b, qa, n, generator=g, dtype=torch.float64).softmax(-1),
        pathology_attn=torch.rand(b, qp, n, generator=g, dtype=torch.float64).softmax(-1),
        entity_embeds=leaf(k, e, norm=True),
        entity_is_anatomy=torch.arange(k) % 3 == 0,
    )
    return VLPOutput(
        image=ImageOutput(embeds=leaf(b, e, norm=True), tokens=leaf(b, n, e), token_mask=token_mask, grid=(2, n // 2)),
        text=TextOutput(embeds=leaf(b, e, norm=True), tokens=leaf(b, length, e), mask=text_mask),
        logit_scale=torch.tensor(math.exp(1.5), dtype=torch.float64, requires_grad=True),
        logit_bias=torch.tensor(-2.0, dtype=torch.float64, requires_grad=True),
        streams=streams,
    )


def random_labels(b: int, k: int = 6, seed: int = 0) -> torch.Tensor:
    """[b, k] labels drawn from {1, 0, -1, NaN}."""
    g = torch.Generator().manual_seed(seed)
    values = torch.tensor([1.0, 0.0, -1.0, math.nan], dtype=torch.float64)
    return values[torch.randint(4, (b, k), generator=g)]


@pytest.fixture
def out() -> VLPOutput:
    return random_output()


@pytest.fixture
def make_output():
    """The random_output factory."""
    return random_output


@pytest.fixture
def make_labels():
    """The random_labels factory."""
    return random_labels
