"""Anatomy and pathology streams (MeDSLIP): learned queries cross-attending to the projected image tokens.

Each stream is a small query decoder (per layer: query self-attention, cross-attention over the image tokens,
MLP; pre-norm). It reads ImageOutput.tokens [B, N, E] with their token_mask, so the same module serves 2D grids
and 3D (slice or voxel) grids. Outputs are L2-normalised query embeddings in the joint space and the last layer's
cross-attention maps [B, Q, N] (head-averaged; reshape N to ImageOutput.grid to view them).

The prototype link between the streams (the choice made here): after the pathology queries have read the image,
they attend once more to the anatomy query outputs, so a pathology prototype carries where it is (anatomy) as well
as what it looks like. The link's attention [B, Qp, Qa] is returned as StreamOutput.link_attn (a pathology-to-
anatomy soft assignment the losses may supervise, e.g. with the knowledge graph's located_in relation); the
losses' stream_proto term contrasts per-sample prototypes of the two streams. `link: none` turns it off.

Entity embeddings: the knowledge-graph entity names, tokenized once (tokenize_entities, in the order of the data
pipeline's entity index: sorted entity ids) and handed to VLPModel.set_entities, are encoded by the text tower and
text projection on every forward, so the losses can align query outputs with the entities of each report.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from medvlp.models.config import StreamsConfig


class QueryLayer(nn.Module):
    """Pre-norm decoder layer: queries self-attend, cross-attend to memory tokens, then an MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        self.norm_self, self.norm_cross, self.norm_mlp = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.self_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(
        self, q: torch.Tensor, memory: torch.Tensor, ignore: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """q [B, Q, E], memory [B, N, E], ignore [B, N] (True = padding) -> q [B, Q, E], attention [B, Q, N]."""
        h = self.norm_self(q)
        q = q + self.self_attn(h, h, h, need_weights=False)[0]
        h = self.norm_cross(q)
        out, attn = self.cross_attn(
            h, memory, memory, key_padding_mask=ignore, need_weights=True, average_attn_weights=True
        )
        q = q + out
        return q + self.mlp(self.norm_mlp(q)), attn


class LinkLayer(nn.Module):
    """Pathology queries attend to the anatomy query outputs (the prototype link)."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.norm_q, self.norm_kv = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=dropout, batch_first=True)

    def forward(self, pathology: torch.Tensor, anatomy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, Qp, E], [B, Qa, E] -> updated pathology [B, Qp, E], attention [B, Qp, Qa]."""
        kv = self.norm_kv(anatomy)
        out, attn = self.attn(self.norm_q(pathology), kv, kv, need_weights=True, average_attn_weights=True)
        return pathology + out, attn


class Streams(nn.Module):
    """Learned anatomy and pathology queries over image tokens, with the pathology-to-anatomy link."""

    def __init__(self, cfg: StreamsConfig, dim: int) -> None:
        super().__init__()
        if dim % cfg.num_heads:
            raise ValueError(f"streams.num_heads={cfg.num_heads} must divide embed_dim={dim}")
        self.cfg = cfg
        self.anatomy_queries = nn.Parameter(torch.randn(cfg.num_anatomy, dim) * 0.02)
        self.pathology_queries = nn.Parameter(torch.randn(cfg.num_pathology, dim) * 0.02)
        self.memory_norm = nn.LayerNorm(dim)

        def stack() -> nn.ModuleList:
            return nn.ModuleList(
                QueryLayer(dim, cfg.num_heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.num_layers)
            )

        self.anatomy_layers, self.pathology_layers = stack(), stack()
        self.link = LinkLayer(dim, cfg.num_heads, cfg.dropout) if cfg.link == "attend" else None
        self.anatomy_norm, self.pathology_norm = nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, tokens: torch.Tensor, token_mask: torch.Tensor | None = None) -> dict[str, Any]:
        """tokens [B, N, E], token_mask [B, N] -> anatomy [B, Qa, E], pathology [B, Qp, E] (L2-normalised),
        anatomy_attn [B, Qa, N], pathology_attn [B, Qp, N], link_attn [B, Qp, Qa] or None."""
        b = tokens.shape[0]
        memory = self.memory_norm(tokens)
        ignore = None
        if token_mask is not None:
            ignore = ~token_mask.to(torch.bool)
            ignore = ignore & ~ignore.all(1, keepdim=True)  # a row without real tokens attends to all (no NaN)
        a = self.anatomy_queries.unsqueeze(0).expand(b, -1, -1)  # [Qa, E] -> [B, Qa, E]
        p = self.pathology_queries.unsqueeze(0).expand(b, -1, -1)  # [Qp, E] -> [B, Qp, E]
        a_attn = p_attn = None
        for layer in self.anatomy_layers:
            a, a_attn = layer(a, memory, ignore)
        for layer in self.pathology_layers:
            p, p_attn = layer(p, memory, ignore)
        a = self.anatomy_norm(a)
        link_attn = None
        if self.link is not None:
            p, link_attn = self.link(p, a)
        p = self.pathology_norm(p)
        return {
            "anatomy": nn.functional.normalize(a, dim=-1),
            "pathology": nn.functional.normalize(p, dim=-1),
            "anatomy_attn": a_attn,
            "pathology_attn": p_attn,
            "link_attn": link_attn,
        }


def tokenize_entities(
    graph: Any, tokenizer: Any, max_length: int = 16, kinds: tuple[str, ...] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Entity names of a KnowledgeGraph, tokenized for VLPModel.set_entities.

    Order = sorted(graph.ids), the index the data pipeline uses for batch['entity_ids'] (row k of
    StreamOutput.entity_embeds is entity k). Returns ids [K, L] long, mask [K, L] bool, is_anatomy [K] bool.
    `kinds` keeps only some entity kinds (the index then no longer matches the batch's entity_ids).
    """
    ids = [i for i in sorted(graph.ids) if kinds is None or graph.get(i).kind in kinds]
    names = [graph.get(i).name for i in ids]
    enc = tokenizer(names, padding="longest", truncation=True, max_length=max_length, return_tensors="pt")
    is_anatomy = torch.tensor([graph.get(i).kind == "anatomy" for i in ids], dtype=torch.bool)
    return enc["input_ids"].long(), enc["attention_mask"].bool(), is_anatomy
