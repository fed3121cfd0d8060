"""Shared helpers for model tests: tiny batches per modality, gradient-flow checks, a small tokenizer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

TINY_CXR = ("tiny-cxr-resnet", "tiny-cxr-vit")
TINY_CT = ("tiny-ct-slicepool", "tiny-ct-vit3d", "tiny-ct-resnet3d", "tiny-ct-swin3d")
TINY = TINY_CXR + TINY_CT


def make_batch(
    modality: str,
    b: int = 2,
    depth: int = 16,
    size: int = 64,
    length: int = 12,
    vocab: int = 512,
    chans: int = 1,
    seed: int = 0,
) -> dict[str, Any]:
    """A batch per the contract; CT rows have 16 and 12 real slices (the rest zero padding)."""
    g = torch.Generator().manual_seed(seed)
    batch: dict[str, Any] = {}
    if modality == "ct":
        batch["image"] = torch.randn(b, chans, depth, size, size, generator=g)
        mask = torch.ones(b, depth, dtype=torch.bool)
        mask[1:, depth - 4 :] = False
        batch["image"][~mask[:, None, :, None, None].expand_as(batch["image"])] = 0.0
        batch["depth_mask"] = mask
    else:
        batch["image"] = torch.randn(b, chans, size, size, generator=g)
    batch["text_ids"] = torch.randint(5, vocab, (b, length), generator=g)
    batch["text_mask"] = torch.ones(b, length, dtype=torch.bool)
    batch["text_mask"][1:, length - 3 :] = False
    batch["labels"] = torch.zeros(b, 3)
    batch["sample_id"] = [f"s{i}" for i in range(b)]
    return batch


def output_sum(out: Any) -> torch.Tensor:
    """A scalar touching every tensor a VLPOutput holds (for gradient-flow checks)."""
    total = out.image.embeds.sum() + out.image.tokens.sum() + out.text.embeds.sum() + out.text.tokens.sum()
    total = total + out.logit_scale + out.logit_bias
    if out.streams is not None:
        s = out.streams
        total = total + s.anatomy.sum() + s.pathology.sum() + s.entity_embeds.sum()
    return total


def missing_grads(module: torch.nn.Module) -> tuple[list[str], list[str]]:
    """(trainable parameters without a gradient, frozen parameters with one)."""
    no_grad = [n for n, p in module.named_parameters() if p.requires_grad and (p.grad is None)]
    leaked = [n for n, p in module.named_parameters() if not p.requires_grad and p.grad is not None]
    return no_grad, leaked


@pytest.fixture
def batch_for() -> Callable[..., dict[str, Any]]:
    return make_batch


@pytest.fixture
def sum_outputs() -> Callable[[Any], torch.Tensor]:
    return output_sum


@pytest.fixture
def grad_report() -> Callable[[torch.nn.Module], tuple[list[str], list[str]]]:
    return missing_grads


@pytest.fixture(scope="session")
def small_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A WordPiece tokenizer trained in a second on a few report sentences and the knowledge graph's names."""
    from medvlp.knowledge import load_graph
    from medvlp.text.tokenizer import train_tokenizer

    graph = load_graph()
    texts = [e.name for e in graph] + [
        "FINDINGS: There is a small left pleural effusion. No pneumothorax.",
        "IMPRESSION: Right lower lobe consolidation, likely pneumonia.",
        "The heart size is normal. Lungs are clear.",
    ]
    out: Path = tmp_path_factory.mktemp("tok")
    return train_tokenizer(texts * 3, out, vocab_size=300, min_frequency=1)
