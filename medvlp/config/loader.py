"""Load, merge and validate configs: dataclass defaults < YAML files (in order) < `section.key=value` overrides.

Every error names the offending key and what is allowed, so the CLI can print it on one line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml

from medvlp.config.schema import Config

EXTENDS_KEY = "extends"


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key and the fix."""


def _read_yaml(path: Path, root: Path | None = None) -> dict[str, Any]:
    """Read one YAML file, following its `extends:` chain (paths relative to the file, kept inside `root`)."""
    path = Path(path)
    root = (root or path.resolve().parent.parent).resolve()
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections, got {type(data).__name__}")
    parent = data.pop(EXTENDS_KEY, None)
    if parent is None:
        return data
    target = (path.resolve().parent / str(parent)).resolve()
    if not target.is_relative_to(root):
        raise ConfigError(f"{path}: '{EXTENDS_KEY}: {parent}' points outside the config folder {root}")
    return merge(_read_yaml(target, root), data)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `over` wins, mappings merge key by key, everything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`section.key=value` strings to a nested dict; values are parsed as YAML scalars or lists."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or "." not in key or not key.strip():
            raise ConfigError(f"override '{item}' must look like section.key=value (e.g. synth.n_ct=10)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override '{item}': value is not valid YAML") from exc
        node = out
        *parents, leaf = key.strip().split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, meta: typing.Mapping[str, Any]) -> Any:
    """Check `value` against type `tp` (and bounds in `meta`), converting int->float and list->tuple where safe."""
    origin = get_origin(tp)
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: '{value}' is not allowed; choose one of {', '.join(map(str, allowed))}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(args) < len(get_args(tp)):
            return None
        errors = []
        for arg in args:
            try:
                return _coerce(value, arg, key, meta)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item_tp, *_) = get_args(tp) or (Any,)
        items = [_coerce(v, item_tp, f"{key}[{i}]", meta) for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if tp in (int, float, str) and (not isinstance(value, tp) or isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if isinstance(value, (int, float)):
        lo, hi = meta.get("min"), meta.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{key}: {value} is out of range [{lo}, {hi}]")
    return value


def build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    """Build dataclass `cls` from a nested dict, rejecting unknown keys with the list of allowed ones."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or 'config'}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            where = f"section '{prefix}'" if prefix else "the config"
            raise ConfigError(
                f"unknown key '{prefix + '.' if prefix else ''}{key}'; allowed in {where}: {', '.join(fields)}"
            )
    kwargs = {}
    for name, value in data.items():
        tp, key = hints[name], f"{prefix + '.' if prefix else ''}{name}"
        if dataclasses.is_dataclass(tp):
            kwargs[name] = build(tp, value, key)
        else:
            kwargs[name] = _coerce(value, tp, key, fields[name].metadata)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain nested dict of a config dataclass (what gets written beside a run's outputs)."""
    return dataclasses.asdict(cfg)


def load_config(files: list[Path] | tuple[Path, ...] = (), overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Resolve a config: schema defaults, then each YAML file in order, then `section.key=value` overrides."""
    data: dict[str, Any] = {}
    for path in files:
        data = merge(data, _read_yaml(Path(path)))
    data = merge(data, parse_overrides(list(overrides)))
    return build(Config, data)


def save_config(cfg: Any, path: Path) -> Path:
    """Write the resolved config as YAML (sorted, deterministic)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(to_dict(cfg), sort_keys=True, default_flow_style=None))
    return path
