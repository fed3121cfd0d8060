"""Training plots as PNG (matplotlib, headless): the loss curves people look at first."""

from __future__ import annotations

import json
from pathlib import Path


def plot_curves(history: Path, out: Path) -> Path:
    """Plot every `*loss` series of a history.jsonl (one JSON object per log step) against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in Path(history).read_text().splitlines() if line.strip()]
    rows.sort(key=lambda r: r["step"])
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for key in sorted({k for r in rows for k in r if k.endswith("loss")}):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out
