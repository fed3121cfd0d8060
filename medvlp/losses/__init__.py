"""Losses of report-image pre-training; each returns {"<name>_loss": term, "loss": total}.

Registered names (build with `build_loss(name, **options)` or `CompositeLoss(weights, options)`):
clip (contrastive.py), siglip (sigmoid.py), local (local.py), pathology / anatomy / stream_proto (streams.py),
prompt (prompt.py).
Soft targets (soft_targets.py) and MedCutMix (mixing.py) are options and batch-side helpers of these losses.
Only gather.py touches torch.distributed.
"""

from __future__ import annotations

from medvlp.losses.composite import CompositeLoss
from medvlp.losses.contrastive import ClipLoss, clip_loss
from medvlp.losses.local import LocalLoss, local_loss, local_similarity
from medvlp.losses.mixing import MixInfo, diagnostic_token_scores, medcutmix, pathology_attention
from medvlp.losses.prompt import PromptLoss, masked_bce, prompt_logits
from medvlp.losses.registry import available_losses, build_loss, register_loss
from medvlp.losses.sigmoid import SigLipLoss, siglip_loss
from medvlp.losses.soft_targets import SoftTargets, label_similarity
from medvlp.losses.streams import AnatomyStreamLoss, PathologyStreamLoss, StreamPrototypeLoss

__all__ = [
    "AnatomyStreamLoss",
    "ClipLoss",
    "CompositeLoss",
    "LocalLoss",
    "MixInfo",
    "PathologyStreamLoss",
    "PromptLoss",
    "SigLipLoss",
    "SoftTargets",
    "StreamPrototypeLoss",
    "available_losses",
    "build_loss",
    "clip_loss",
    "diagnostic_token_scores",
    "label_similarity",
    "local_loss",
    "local_similarity",
    "masked_bce",
    "medcutmix",
    "pathology_attention",
    "prompt_logits",
    "register_loss",
    "siglip_loss",
]
