"""VLPModel: image tower + text tower + projections + logit scale/bias (+ anatomy/pathology streams, prompt bank).

The same calls serve 2D and 3D models: encode_image(image, depth_mask=None) -> ImageOutput,
encode_text(text_ids, text_mask) -> TextOutput, forward(batch) -> VLPOutput (batch per docs/architecture.md;
keys other than image, depth_mask, text_ids and text_mask are ignored). Zero-shot code needs only the two
encoders.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from medvlp.models.config import ModelConfig
from medvlp.models.outputs import ImageOutput, StreamOutput, TextOutput, VLPOutput
from medvlp.models.projection import LogitScale
from medvlp.models.prompt_bank import PromptTokens, class_vectors, sample_rows
from medvlp.models.streams import Streams
from medvlp.models.text import TextTower
from medvlp.models.towers import ImageTower
from medvlp.registry import PROJECTIONS


class VLPModel(nn.Module):
    """A report-image alignment model built from a ModelConfig (use medvlp.models.create_model)."""

    def __init__(self, cfg: ModelConfig, image_tower: ImageTower, text_tower: TextTower) -> None:
        super().__init__()
        self.config = cfg
        self.image_tower = image_tower
        self.text_tower = text_tower
        e, pc = cfg.embed_dim, cfg.projection
        head = PROJECTIONS.get(pc.kind)

        def make(in_dim: int) -> nn.Module:
            return head(in_dim, e, hidden_dim=pc.hidden_dim, dropout=pc.dropout)

        self.image_proj = make(image_tower.pooled_features)
        self.text_proj = make(text_tower.hidden_size)
        if pc.share_tokens and image_tower.pooled_features != image_tower.num_features:
            raise ValueError(
                f"projection.share_tokens needs equal pooled ({image_tower.pooled_features}) and token "
                f"({image_tower.num_features}) widths for this image tower"
            )
        self.image_token_proj = None if pc.share_tokens else make(image_tower.num_features)
        self.text_token_proj = None if pc.share_tokens else make(text_tower.hidden_size)
        self.logit = LogitScale(cfg.temperature_init, cfg.logit_scale_max, cfg.logit_bias_init)
        self.streams = Streams(cfg.streams, e) if cfg.streams.enabled else None
        # Tokenized entity names (set_entities); not saved in checkpoints: set them again after loading.
        self.register_buffer("entity_ids", torch.zeros(0, 1, dtype=torch.long), persistent=False)
        self.register_buffer("entity_mask", torch.zeros(0, 1, dtype=torch.bool), persistent=False)
        self.register_buffer("entity_is_anatomy", torch.zeros(0, dtype=torch.bool), persistent=False)
        # The prompt bank (set_prompts) for the prompt loss; not saved either.
        self.register_buffer("prompt_ids", torch.zeros(0, 1, dtype=torch.long), persistent=False)
        self.register_buffer("prompt_mask", torch.zeros(0, 1, dtype=torch.bool), persistent=False)
        self.prompt_groups: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None  # start, count, lengths (CPU)
        self.prompts_per_step = 0

    @property
    def spatial_dims(self) -> int:
        """2 for [B, C, H, W] images, 3 for [B, C, D, H, W] volumes."""
        return self.image_tower.spatial_dims

    @property
    def embed_dim(self) -> int:
        return self.config.embed_dim

    # -------------------------------------------------------------------------------------------- encoders
    def encode_image(self, image: torch.Tensor, depth_mask: torch.Tensor | None = None) -> ImageOutput:
        """image [B, C, H, W] or [B, C, D, H, W] (+ depth_mask [B, D]) -> ImageOutput (embeds, tokens, mask, grid)."""
        feats = self.image_tower.forward_features(image, depth_mask)
        pooled = self.image_tower.forward_head(feats)  # [B, F_pool]
        embeds = F.normalize(self.image_proj(pooled), dim=-1)  # [B, E]
        token_head = self.image_proj if self.image_token_proj is None else self.image_token_proj
        return ImageOutput(
            embeds=embeds, tokens=token_head(feats.tokens), token_mask=feats.full_mask(), grid=tuple(feats.grid)
        )

    def encode_text(self, text_ids: torch.Tensor, text_mask: torch.Tensor) -> TextOutput:
        """text_ids, text_mask [B, L] -> TextOutput (embeds [B, E] normalised, tokens [B, L, E], mask [B, L])."""
        tokens, pooled = self.text_tower(text_ids, text_mask)  # [B, L, H], [B, H]
        token_head = self.text_proj if self.text_token_proj is None else self.text_token_proj
        return TextOutput(
            embeds=F.normalize(self.text_proj(pooled), dim=-1), tokens=token_head(tokens), mask=text_mask.to(torch.bool)
        )

    # ------------------------------------------------------------------------------------------- entities
    def set_entities(self, entity_ids: torch.Tensor, entity_mask: torch.Tensor, is_anatomy: torch.Tensor) -> None:
        """Entity names tokenized [K, L] (+ mask [K, L], is_anatomy [K]); see streams.tokenize_entities.

        Row k must be entity index k of batch['entity_ids'] (sorted knowledge-graph ids)."""
        if entity_ids.ndim != 2 or entity_mask.shape != entity_ids.shape or is_anatomy.shape != entity_ids.shape[:1]:
            raise ValueError(
                f"set_entities wants ids [K, L], mask [K, L], is_anatomy [K]; got "
                f"{tuple(entity_ids.shape)}, {tuple(entity_mask.shape)}, {tuple(is_anatomy.shape)}"
            )
        device = self.logit.logit_scale.device
        self.entity_ids = entity_ids.to(device=device, dtype=torch.long)
        self.entity_mask = entity_mask.to(device=device, dtype=torch.bool)
        self.entity_is_anatomy = is_anatomy.to(device=device, dtype=torch.bool)

    def encode_entities(self) -> torch.Tensor:
        """Entity embeddings [K, E] (L2-normalised) through the text tower and projection; [0, E] when none set."""
        if self.entity_ids.shape[0] == 0:
            return self.logit.logit_scale.new_zeros(0, self.embed_dim)
        grad = self.streams is None or self.config.streams.entity_grad
        with torch.enable_grad() if grad and torch.is_grad_enabled() else torch.no_grad():
            return self.encode_text(self.entity_ids, self.entity_mask).embeds

    # -------------------------------------------------------------------------------------------- prompts
    def set_prompts(self, prompts: PromptTokens, per_step: int) -> None:
        """The findings' prompt ensembles (prompt_bank.tokenize_prompts, in the order of batch['labels'] columns);
        each forward then encodes `per_step` sampled prompts per finding and side."""
        if per_step < 1 or prompts.start.shape != (2 * len(prompts.names),) or int(prompts.count.min()) < 1:
            raise ValueError(f"set_prompts wants per_step >= 1 and 1+ prompt per finding and side, got {per_step}")
        device = self.logit.logit_scale.device
        self.prompt_ids, self.prompt_mask = prompts.ids.to(device), prompts.mask.to(device)
        self.prompt_groups = (prompts.start.cpu(), prompts.count.cpu(), prompts.mask.sum(1).cpu())
        self.prompts_per_step = int(per_step)

    def encode_prompts(self) -> torch.Tensor | None:
        """Class vectors [K, 2, E] (L2-normalised; side 0 positive, 1 negative) from freshly sampled prompts, or
        None when no prompt bank is set."""
        if self.prompt_groups is None:
            return None
        start, count, lengths = self.prompt_groups
        # Drawn on the CPU (its RNG is checkpointed and replayed by accumulation), so trimming the padding to the
        # longest drawn prompt needs no device sync: most prompts are ~10 tokens, a few descriptions ~80.
        rows = sample_rows(start, count, self.prompts_per_step).reshape(-1)  # [2K * M]
        width = int(lengths[rows].max())
        rows = rows.to(self.prompt_ids.device, non_blocking=True)
        embeds = self.encode_text(self.prompt_ids[rows, :width], self.prompt_mask[rows, :width]).embeds  # [2K*M, E]
        return class_vectors(embeds, start.shape[0], self.prompts_per_step)

    def encode_streams(self, image: ImageOutput) -> StreamOutput:
        """Anatomy and pathology streams over the image tokens (the model must have streams enabled)."""
        if self.streams is None:
            raise RuntimeError("this model has no streams (streams.enabled: false in its config)")
        out = self.streams(image.tokens, image.token_mask)
        return StreamOutput(
            anatomy=out["anatomy"],
            pathology=out["pathology"],
            anatomy_attn=out["anatomy_attn"],
            pathology_attn=out["pathology_attn"],
            entity_embeds=self.encode_entities(),
            entity_is_anatomy=self.entity_is_anatomy,
            link_attn=out["link_attn"],
        )

    # -------------------------------------------------------------------------------------------- forward
    @property
    def logit_scale(self) -> torch.Tensor:
        """exp(logit_scale), clamped: a scalar."""
        return self.logit.scale()

    @property
    def logit_bias(self) -> torch.Tensor:
        return self.logit.bias()

    def forward(self, batch: Mapping[str, Any]) -> VLPOutput:
        """A batch per the contract -> VLPOutput (streams None without streams)."""
        for key in ("image", "text_ids", "text_mask"):
            if key not in batch:
                raise KeyError(
                    f"batch has no '{key}' (the batch contract: image, depth_mask for CT, text_ids, "
                    f"text_mask); got keys {', '.join(map(str, batch))}"
                )
        image = self.encode_image(batch["image"], batch.get("depth_mask"))
        text = self.encode_text(batch["text_ids"], batch["text_mask"])
        streams = self.encode_streams(image) if self.streams is not None else None
        return VLPOutput(
            image=image,
            text=text,
            logit_scale=self.logit_scale,
            logit_bias=self.logit_bias,
            streams=streams,
            prompt_embeds=self.encode_prompts(),
        )

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
