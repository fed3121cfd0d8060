"""Load local weights safely: safetensors, or a torch file read with weights_only=True (never unpickle code).

A checkpoint that holds anything but tensors and plain containers is refused with a message that says how to
convert it. Keys can be taken from under a prefix (a whole VLP checkpoint's `image_tower.` part into a tower), and
a first convolution saved for another channel count is adapted (a 1-channel CXR stem into a 3-window CT stem).
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)

_WRAPPER_KEYS = ("state_dict", "model", "module", "model_state_dict")


class UnsafeCheckpointError(ValueError):
    """The file holds pickled objects that weights_only loading refuses."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a local weights file as name -> tensor (CPU). Unwraps {'state_dict': ...}-style containers."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path} (medvlp never downloads weights)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(path), device="cpu"))
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only met a global it does not allow: code, not tensors
        raise UnsafeCheckpointError(
            f"refusing {path}: it contains pickled Python objects, not only tensors. Load it once in a trusted "
            "environment and save the state_dict with safetensors.torch.save_file"
        ) from exc
    for key in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    if not isinstance(obj, Mapping):
        raise ValueError(f"{path}: expected a mapping of tensor names to tensors, got {type(obj).__name__}")
    state = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not state:
        raise ValueError(f"{path}: no tensors found (keys: {', '.join(map(str, list(obj)[:8]))})")
    return state


def select_prefix(state: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Keys under `prefix` with the prefix removed (all keys when prefix is empty)."""
    if not prefix:
        return dict(state)
    prefix = prefix if prefix.endswith(".") else prefix + "."
    out = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
    if not out:
        some = ", ".join(sorted(state)[:5])
        raise ValueError(f"no weights under prefix '{prefix}' (first keys: {some})")
    return out


def adapt_in_chans(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    """A conv weight [O, C_src, *k] for C = in_chans input channels: 1 -> C repeats (scaled by 1/C),
    C -> 1 sums, other changes tile the source channels cyclically and rescale to keep the response."""
    src = weight.shape[1]
    if src == in_chans:
        return weight
    if src == 1:
        return weight.repeat(1, in_chans, *([1] * (weight.ndim - 2))) / in_chans  # [O, 1, k..] -> [O, C, k..]
    if in_chans == 1:
        return weight.sum(1, keepdim=True)  # [O, C_src, k..] -> [O, 1, k..]
    idx = torch.arange(in_chans) % src
    return weight[:, idx] * (src / in_chans)  # [O, C_src, k..] -> [O, C, k..]


def load_weights(
    module: nn.Module,
    source: str | Path | Mapping[str, torch.Tensor],
    prefix: str = "",
    strict: bool = True,
) -> list[str]:
    """Load a weights file (or a state dict) into `module`; returns the ignored (unexpected) keys.

    Missing keys are an error when strict (naming the first few); keys the module does not have are ignored
    with a warning (classifier heads of pretrained checkpoints). Conv weights whose only difference is the input
    channel count are adapted (adapt_in_chans); any other shape mismatch is an error naming the key.
    """
    state = read_state_dict(source) if isinstance(source, (str, Path)) else dict(source)
    state = select_prefix(state, prefix)
    own = module.state_dict()
    for key, value in list(state.items()):
        if key in own and own[key].shape != value.shape:
            target = own[key].shape
            if (
                value.ndim >= 3
                and value.ndim == len(target)
                and value.shape[0] == target[0]
                and value.shape[2:] == target[2:]
            ):
                state[key] = adapt_in_chans(value, target[1])
                log.info("adapted %s from %d to %d input channels", key, value.shape[1], target[1])
            else:
                raise ValueError(f"weights key '{key}' has shape {tuple(value.shape)}, the model wants {tuple(target)}")
    result = module.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if not _is_buffer_only(module, k)]
    if strict and missing:
        raise ValueError(f"{len(missing)} weights missing from the file, e.g. {', '.join(missing[:5])}")
    if result.unexpected_keys:
        log.warning(
            "ignored %d keys the model does not have, e.g. %s",
            len(result.unexpected_keys),
            ", ".join(result.unexpected_keys[:5]),
        )
    return list(result.unexpected_keys)


def _is_buffer_only(module: nn.Module, key: str) -> bool:
    """BatchNorm's num_batches_tracked is missing from many checkpoints and harmless."""
    return key.endswith("num_batches_tracked")


def save_weights(module: nn.Module | Mapping[str, torch.Tensor], path: str | Path) -> Path:
    """Write a module's state_dict (or a state dict) as safetensors (shared tensors are cloned)."""
    from safetensors.torch import save_file

    state = module.state_dict() if isinstance(module, nn.Module) else dict(module)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous().clone() for k, v in state.items()}, str(path))
    return path
