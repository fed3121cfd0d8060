"""Text towers over Hugging Face transformers encoders, with reports longer than the context encoded in chunks.

Two kinds: `bert` builds a BertModel from config (vocabulary size from the project's tokenizer; nothing is
downloaded), `hf_local` loads any local Hugging Face folder with local_files_only and no remote code (a
hospital's clinical BERT). A report longer than the encoder's context is split into consecutive chunks of token
ids, each chunk after the first led by the report's own first token ([CLS]); chunks are encoded separately (only
the ones the report fills) and the outputs pooled over chunks, so nothing is truncated and token outputs stay
aligned with the input ids.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from medvlp.config.schema import knob
from medvlp.models.config import TextTowerConfig
from medvlp.models.weights import load_weights
from medvlp.registry import TEXT_POOLERS, TEXT_TOWERS


class TextTower(nn.Module):
    """Base: encoder + pooler + chunking. forward(ids [B, L], mask [B, L]) -> (tokens [B, L, H], pooled [B, H])."""

    def __init__(self, cfg: TextTowerConfig, encoder: nn.Module) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = encoder
        config = encoder.config
        self.hidden_size = int(getattr(config, "hidden_size", None) or config.d_model)
        self.vocab_size = int(getattr(config, "vocab_size", 0) or 0)
        self.pool = TEXT_POOLERS.get(cfg.pooler)
        emb = getattr(encoder, "embeddings", None)
        offset = (emb.padding_idx + 1) if getattr(emb, "padding_idx", None) is not None else 0  # RoBERTa positions
        limit = int(getattr(config, "max_position_embeddings", 0) or 0) - offset
        self.context_length = cfg.context_length or limit
        if self.context_length < 2 or (limit > 0 and self.context_length > limit):
            raise ValueError(f"text.context_length {self.context_length} must be in [2, {limit}] for this encoder")
        if cfg.freeze:
            for p in self.encoder.parameters():
                p.requires_grad_(False)
            self.eval()

    def train(self, mode: bool = True) -> TextTower:
        """A frozen tower stays in eval mode (no dropout)."""
        return super().train(mode and not self.cfg.freeze)

    def encode(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """One encoder pass: ids/mask [N, M] -> last hidden states [N, M, H]."""
        with torch.no_grad() if self.cfg.freeze else contextlib.nullcontext():
            return self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state

    def chunk(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ids/mask [B, L] -> chunks [B, K, M]: chunk 0 = ids[:, :M]; chunk k > 0 = first token + the next M-1 ids."""
        b, length = ids.shape
        m = self.context_length
        if length <= m:
            return ids[:, None], mask[:, None]  # [B, L] -> [B, 1, L]
        step = m - 1
        k_rest = math.ceil((length - m) / step)
        pad = k_rest * step - (length - m)
        rest_ids = nn.functional.pad(ids[:, m:], (0, pad)).reshape(b, k_rest, step)  # [B, (K-1)*step] -> [B, K-1, step]
        rest_mask = nn.functional.pad(mask[:, m:], (0, pad)).reshape(b, k_rest, step)  # [B, K-1, step]
        lead_ids = ids[:, None, :1].expand(b, k_rest, 1)  # the report's first token leads every chunk: [B, K-1, 1]
        lead_mask = mask[:, None, :1].expand(b, k_rest, 1)
        chunks = torch.cat([ids[:, None, :m], torch.cat([lead_ids, rest_ids], dim=2)], dim=1)  # [B, K, M]
        masks = torch.cat([mask[:, None, :m], torch.cat([lead_mask, rest_mask], dim=2)], dim=1)  # [B, K, M]
        return chunks, masks

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if ids.ndim != 2 or tuple(mask.shape) != tuple(ids.shape):
            raise ValueError(f"text_ids and text_mask must both be [B, L]; got {tuple(ids.shape)}, {tuple(mask.shape)}")
        mask = mask.to(torch.bool)
        b, length = ids.shape
        chunks, masks = self.chunk(ids, mask)  # [B, K, M]
        k, m = chunks.shape[1:]
        # A chunk counts when it holds a real token of its own (chunk 0: any real token; later: beyond the lead).
        chunk_mask = torch.cat([masks[:, :1].any(-1), masks[:, 1:, 1:].any(-1)], dim=1)  # [B, K]
        index = chunk_mask.reshape(b * k).nonzero().squeeze(1)  # [V]
        flat_ids, flat_mask = chunks.reshape(b * k, m), masks.reshape(b * k, m)  # [B, K, M] -> [B*K, M]
        hidden = self.encode(flat_ids.index_select(0, index), flat_mask.index_select(0, index))  # [V, M, H]
        out = hidden.new_zeros(b * k, m, hidden.shape[-1]).index_copy(0, index, hidden)  # [B*K, M, H]
        out = out.reshape(b, k, m, -1)  # [B*K, M, H] -> [B, K, M, H]
        chunk_cls = out[:, :, 0]  # [B, K, H]
        # Chunk 0 as is, later chunks without their lead: [B, M, H] + [B, K-1, M-1, H] -> [B, (K-1)*(M-1), H].
        later = out[:, 1:, 1:].reshape(b, (k - 1) * (m - 1), out.shape[-1])
        tokens = torch.cat([out[:, 0], later], dim=1)  # [B, M + (K-1)*(M-1), H]
        tokens = tokens[:, :length]  # [B, M + (K-1)*(M-1), H] -> [B, L, H], aligned with ids
        pooled = self.pool(tokens, mask, chunk_cls, chunk_mask)  # [B, H]
        return tokens, pooled


@dataclass
class BertTextConfig(TextTowerConfig):
    """A BERT encoder built from these numbers (no download); vocab_size 0 = take it from the tokenizer."""

    vocab_size: int = knob(
        0, help="vocabulary size; 0 = len(tokenizer) (create_model(tokenizer=...) or text.tokenizer)", min=0
    )
    tokenizer: str = knob("", help="tokenizer folder whose size sets vocab_size (when none is passed in)")
    hidden_size: int = knob(768, help="width H", min=8)
    num_layers: int = knob(12, help="encoder layers", min=1)
    num_heads: int = knob(12, help="attention heads", min=1)
    intermediate_size: int = knob(3072, help="MLP width", min=8)
    max_position_embeddings: int = knob(512, help="learned positions (the context of one pass)", min=2)
    dropout: float = knob(0.1, help="hidden and attention dropout", min=0, max=1)
    pad_token_id: int = knob(0, help="id of [PAD] (0 in tokenizers trained by medvlp)", min=0)
    weights: str = knob("", help="local weights file for the BertModel (safetensors or tensors-only torch file)")


@TEXT_TOWERS.register("bert", config=BertTextConfig)
class BertTextTower(TextTower):
    """BertModel built from config (BertConfig), vocabulary sized by the project's tokenizer."""

    def __init__(self, cfg: BertTextConfig) -> None:
        from transformers import BertConfig, BertModel

        if cfg.vocab_size <= 0 and cfg.tokenizer:
            from medvlp.text.tokenizer import load_tokenizer

            cfg.vocab_size = len(load_tokenizer(cfg.tokenizer))
        if cfg.vocab_size <= 0:
            raise ValueError(
                "text.vocab_size is 0: pass the tokenizer (create_model(..., tokenizer=tok)), set "
                "text.tokenizer to its folder, or set text.vocab_size"
            )
        config = BertConfig(
            vocab_size=cfg.vocab_size,
            hidden_size=cfg.hidden_size,
            num_hidden_layers=cfg.num_layers,
            num_attention_heads=cfg.num_heads,
            intermediate_size=cfg.intermediate_size,
            max_position_embeddings=cfg.max_position_embeddings,
            hidden_dropout_prob=cfg.dropout,
            attention_probs_dropout_prob=cfg.dropout,
            pad_token_id=cfg.pad_token_id,
        )
        encoder = BertModel(config, add_pooling_layer=False)
        if cfg.weights:
            load_weights(encoder, cfg.weights)
        super().__init__(cfg, encoder)


@dataclass
class HFTextConfig(TextTowerConfig):
    """Any local Hugging Face encoder folder (config.json + weights), read offline without remote code."""

    path: str = knob("", help="local model folder (e.g. a clinical BERT); hub names are never looked up")


@TEXT_TOWERS.register("hf_local", config=HFTextConfig)
class HFTextTower(TextTower):
    """A local Hugging Face model folder via AutoModel.from_pretrained(dir, local_files_only=True)."""

    def __init__(self, cfg: HFTextConfig) -> None:
        from pathlib import Path

        from transformers import AutoModel

        folder = Path(cfg.path).expanduser()
        if not cfg.path or not (folder / "config.json").is_file():
            raise FileNotFoundError(
                f"text.path must be a local Hugging Face model folder with config.json; got "
                f"'{cfg.path}' (hub names are not looked up)"
            )
        kwargs: dict[str, Any] = {"local_files_only": True, "trust_remote_code": False}
        try:  # BERT-like models: no pooler (the tower pools itself, and an unused pooler gets no gradient)
            encoder: Any = AutoModel.from_pretrained(str(folder), add_pooling_layer=False, **kwargs)
        except TypeError:
            encoder = AutoModel.from_pretrained(str(folder), **kwargs)
        if isinstance(getattr(encoder, "pooler", None), nn.Module):
            encoder.pooler = None
        if getattr(encoder.config, "is_encoder_decoder", False) and hasattr(encoder, "get_encoder"):
            encoder = encoder.get_encoder()  # e.g. T5: keep the encoder
        super().__init__(cfg, encoder)
