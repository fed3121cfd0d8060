"""The losses' view of the project-wide loss registry (medvlp.registry.LOSSES): register by decorator, build by
name from config, list the names.

Every registered loss is an nn.Module called as `loss(out: VLPOutput, batch: Mapping) -> dict[str, Tensor]` that
returns its named terms, `{"<name>_loss": term, "loss": term}` (house rule). The modules below register on import;
they are declared to LOSSES so that a lookup by name imports them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from medvlp.registry import LOSSES

MODULES = (
    "medvlp.losses.contrastive",
    "medvlp.losses.sigmoid",
    "medvlp.losses.local",
    "medvlp.losses.streams",
    "medvlp.losses.prompt",
)
LOSSES.add_modules(*MODULES)
L = TypeVar("L", bound=type[nn.Module])


def register_loss(name: str) -> Callable[[L], L]:
    """Class decorator: register a loss under `name` (the key of its term is f"{name}_loss")."""

    return LOSSES.register(name)


def available_losses() -> list[str]:
    """Registered loss names, sorted."""
    return LOSSES.names()


def build_loss(name: str, **options: Any) -> nn.Module:
    """Build a registered loss by name; an unknown name is an error (UnknownComponentError, a KeyError) listing
    the available ones."""
    return LOSSES.build(name, **options)
