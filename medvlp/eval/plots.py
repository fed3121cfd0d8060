"""ROC curves as PNG (matplotlib, headless): one panel per method, one curve per finding."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np


def plot_roc(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]], names: Sequence[str], out: Path | str, title: str = ""
) -> Path:
    """curves: method -> (scores [N, F], labels [N, F] with NaN = unknown); one subplot per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4.6), dpi=100, squeeze=False)
    for ax, (method, (scores, labels)) in zip(axes[0], curves.items(), strict=True):
        for j, name in enumerate(names):
            known = ~np.isnan(labels[:, j])
            y, s = labels[known, j], scores[known, j]
            if y.size == 0 or y.min() == y.max():
                continue
            fpr, tpr, _ = roc_curve(y, s)
            ax.plot(fpr, tpr, lw=1.2, label=f"{name} ({roc_auc_score(y, s):.2f})")
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=0.8)
        ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=method, xlim=(0, 1), ylim=(0, 1.01))
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
