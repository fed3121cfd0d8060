"""One small decorator registry per component kind: register by name, build by name, list what exists.

Components register themselves where they are defined (`@TOWERS.register("timm", config=TimmTowerConfig)`).
A registry knows which modules hold its components and imports them on the first lookup, so `import medvlp`
stays light and a name is found without the caller importing anything first. An unknown name is an error that
lists every registered name (and the closest ones).
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class UnknownComponentError(KeyError):
    """A name that no registry entry answers to; the message lists what is available."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component: the object (class or factory), its config dataclass (if any), its docstring line."""

    name: str
    obj: T
    config: type | None = None

    @property
    def summary(self) -> str:
        doc = (getattr(self.obj, "__doc__", None) or "").strip()
        return doc.splitlines()[0] if doc else ""


class Registry(Generic[T]):
    """Name -> component for one kind of component (image towers, poolers, losses, ...)."""

    def __init__(self, kind: str, modules: Sequence[str] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._modules: list[str] = list(modules)
        self._imported: set[str] = set()

    # ------------------------------------------------------------------------------------------- registering
    def register(self, name: str, *, config: type | None = None) -> Callable[[T], T]:
        """Decorator: register `obj` under `name`, optionally with the dataclass that configures it."""
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} registry: name must be a non-empty string, got {name!r}")

        def decorator(obj: T) -> T:
            old = self._entries.get(name)
            if old is not None and _qualname(old.obj) != _qualname(obj):
                raise ValueError(
                    f"{self.kind} '{name}' is already registered by {_qualname(old.obj)}; "
                    f"{_qualname(obj)} cannot take the same name"
                )
            self._entries[name] = Entry(name, obj, config)
            return obj

        return decorator

    def add_modules(self, *modules: str) -> None:
        """Declare more modules that register into this registry (imported on the next lookup)."""
        self._modules.extend(m for m in modules if m not in self._modules)

    def _load(self) -> None:
        for module in self._modules:
            if module not in self._imported:
                self._imported.add(module)
                importlib.import_module(module)

    # -------------------------------------------------------------------------------------------- looking up
    def entry(self, name: str) -> Entry[T]:
        """The entry registered under `name`; UnknownComponentError listing the available names otherwise."""
        self._load()
        if name in self._entries:
            return self._entries[name]
        names = self.names()
        close = difflib.get_close_matches(str(name), names, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UnknownComponentError(
            f"unknown {self.kind} '{name}'{hint}; available: {', '.join(names) or 'none registered'}"
        )

    def get(self, name: str) -> T:
        """The registered object (class or factory function)."""
        return self.entry(name).obj

    def config_class(self, name: str) -> type | None:
        """The config dataclass registered with `name` (None when it takes plain keyword arguments)."""
        return self.entry(name).config

    def build(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the registered object: `registry.build("mean", dim=64)`."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self._load()
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """Name -> first docstring line, for `--help` listings and error messages."""
        return {n: self._entries[n].summary for n in self.names()}

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {len(self._entries)} registered)"


def _qualname(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', repr(obj))}"


# One registry per component kind. Modules listed here are imported on the first lookup; other packages add
# theirs with `add_modules` (e.g. medvlp.losses: `LOSSES.add_modules("medvlp.losses.contrastive")`).
TOWERS: Registry[Any] = Registry(
    "image tower", modules=("medvlp.models.image_2d", "medvlp.models.image_3d", "medvlp.models.slice_pool")
)
POOLERS: Registry[Any] = Registry("depth pooler", modules=("medvlp.models.poolers",))
TEXT_TOWERS: Registry[Any] = Registry("text tower", modules=("medvlp.models.text",))
TEXT_POOLERS: Registry[Any] = Registry("text pooler", modules=("medvlp.models.poolers",))
PROJECTIONS: Registry[Any] = Registry("projection head", modules=("medvlp.models.projection",))
LOSSES: Registry[Any] = Registry(
    "loss",
    modules=("medvlp.losses.contrastive", "medvlp.losses.sigmoid", "medvlp.losses.local", "medvlp.losses.streams"),
)
HEADS: Registry[Any] = Registry("task head")

REGISTRIES: dict[str, Registry[Any]] = {
    "towers": TOWERS,
    "poolers": POOLERS,
    "text_towers": TEXT_TOWERS,
    "text_poolers": TEXT_POOLERS,
    "projections": PROJECTIONS,
    "losses": LOSSES,
    "heads": HEADS,
}
