"""The decorator registries: register, look up, build, lazy module import, clear errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from medvlp.registry import (
    POOLERS,
    PROJECTIONS,
    REGISTRIES,
    TEXT_POOLERS,
    TEXT_TOWERS,
    TOWERS,
    Registry,
    UnknownComponentError,
)


def test_register_get_build_and_config_class():
    reg: Registry = Registry("widget")

    @dataclass
    class WidgetConfig:
        size: int = 1

    @reg.register("square", config=WidgetConfig)
    class Square:
        """A square widget."""

        def __init__(self, side: int = 2) -> None:
            self.side = side

    assert reg.get("square") is Square
    assert reg.build("square", side=5).side == 5
    assert reg.config_class("square") is WidgetConfig
    assert reg.names() == ["square"] and "square" in reg and len(reg) == 1
    assert reg.describe() == {"square": "A square widget."}


def test_unknown_name_lists_available_and_close_matches():
    reg: Registry = Registry("widget")
    for name in ("circle", "square", "triangle"):
        reg.register(name)(lambda: None)
    with pytest.raises(UnknownComponentError) as err:
        reg.get("sqare")
    msg = str(err.value)
    assert "unknown widget 'sqare'" in msg and "did you mean square" in msg
    assert "available: circle, square, triangle" in msg
    assert isinstance(err.value, KeyError)


def test_duplicate_name_from_another_object_is_refused():
    reg: Registry = Registry("widget")

    @reg.register("a")
    def first() -> None: ...

    reg.register("a")(first)  # the same object again (a module re-import) is fine

    def second() -> None: ...

    with pytest.raises(ValueError, match="already registered"):
        reg.register("a")(second)


def test_modules_are_imported_on_first_lookup():
    reg: Registry = Registry("pooler", modules=("medvlp.models.poolers",))
    assert reg._entries == {}
    reg.add_modules("medvlp.models.poolers")  # duplicates are ignored
    assert reg.names() == []  # the module registers into POOLERS, not this registry
    assert "mean" in POOLERS


def test_bundled_registries_know_their_components():
    assert set(TOWERS.names()) == {"timm", "monai_vit", "monai_resnet", "monai_swin", "slice_pool"}
    assert set(POOLERS.names()) == {"mean", "max", "attention", "transformer"}
    assert set(TEXT_TOWERS.names()) == {"bert", "hf_local"}
    assert set(TEXT_POOLERS.names()) == {"cls", "mean"}
    assert set(PROJECTIONS.names()) == {"linear", "mlp"}
    assert set(REGISTRIES) >= {"towers", "poolers", "text_towers", "text_poolers", "projections", "losses", "heads"}
    for name in TOWERS.names():
        assert TOWERS.config_class(name) is not None, name
