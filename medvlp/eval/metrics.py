"""Classification and retrieval metrics with patient-level (cluster) bootstrap confidence intervals.

Point estimates are the metrics on the full data. A bootstrap replicate draws the patients with replacement; it is
expressed as integer multiplicity weights per sample (how often the sample's patient was drawn), and the weighted
AUROC / average precision / F1 computed below equal sklearn's metrics on the materialised resample. All replicates
are computed at once (vectorised over replicates), and the same patient draws serve every finding, so the "mean"
row's interval is the interval of the macro mean.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

METRICS = ("auroc", "auprc", "f1")
COLUMNS = ("finding", "n", "n_pos", *(f"{m}{s}" for m in METRICS for s in ("", "_lo", "_hi")))
_DRAW_CHUNK = 128  # replicates drawn per step; fixed so the draws depend on (seed, n_boot, n_patients) only


def _binary(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Scores and boolean labels with NaN labels dropped; None when fewer than two classes remain."""
    scores, labels = np.asarray(scores, dtype=float).ravel(), np.asarray(labels, dtype=float).ravel()
    known = ~np.isnan(labels)
    scores, y = scores[known], labels[known] == 1
    if y.all() or not y.any():
        return None
    return scores, y


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (sklearn); NaN when only one class is present (NaN labels are dropped)."""
    data = _binary(scores, labels)
    return float("nan") if data is None else float(roc_auc_score(data[1], data[0]))


def auprc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Average precision (sklearn's step-wise area under the PR curve); NaN when only one class is present."""
    data = _binary(scores, labels)
    return float("nan") if data is None else float(average_precision_score(data[1], data[0]))


def _auroc_ap_many(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROC and average precision of scores [N] / boolean labels [N] under R weightings weights [R, N] -> [R], [R].

    Tie-aware like sklearn: samples with equal scores form one threshold level; a positive-negative pair within a
    level counts 1/2 in the AUROC, and AP = sum over levels of (recall gain) * (precision at the level). With integer
    weights this equals sklearn on the resample that repeats sample i weights[r, i] times. NaN where a replicate
    holds only one class.
    """
    weights = np.atleast_2d(np.asarray(weights, dtype=float))  # [R, N]
    nan = np.full(weights.shape[0], np.nan)
    if weights.shape[1] == 0:
        return nan, nan.copy()
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")  # descending scores
    s, y = np.asarray(scores, dtype=float)[order], np.asarray(labels, dtype=bool)[order]  # [N], [N]
    w = weights[:, order]  # [R, N]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # [U] first sample of each distinct score level
    tp = np.add.reduceat(w * y, starts, axis=1)  # [R, U] positive weight per level
    fp = np.add.reduceat(w * ~y, starts, axis=1)  # [R, U] negative weight per level
    tps, fps = np.cumsum(tp, axis=1), np.cumsum(fp, axis=1)  # [R, U] at or above each level
    n_pos, n_neg = tps[:, -1], fps[:, -1]  # [R]
    valid = (n_pos > 0) & (n_neg > 0)
    # negatives strictly below the level, plus half the tied negatives, for every positive of the level
    auc_num = (tp * (n_neg[:, None] - fps + 0.5 * fp)).sum(axis=1)  # [R]
    flagged = tps + fps  # [R, U]
    precision = np.divide(tps, flagged, out=np.zeros_like(tps), where=flagged > 0)  # [R, U]
    ap_num = (tp * precision).sum(axis=1)  # [R]
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = np.where(valid, auc_num / (n_pos * n_neg), np.nan)
        ap = np.where(valid, ap_num / n_pos, np.nan)
    return auc, ap


def _f1_many(flagged: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """F1 of boolean predictions [N] against boolean labels [N] under weights [R, N] -> [R]; NaN when undefined."""
    weights = np.atleast_2d(np.asarray(weights, dtype=float))  # [R, N]
    flagged, y = np.asarray(flagged, dtype=bool), np.asarray(labels, dtype=bool)
    tp = weights @ (flagged & y)  # [R]
    wrong = weights @ (flagged ^ y)  # [R] false positives + false negatives
    denom = 2 * tp + wrong
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def _patient_weights(codes: np.ndarray, n_groups: int, n_rep: int, rng: np.random.Generator) -> np.ndarray:
    """Draw n_rep patient-level resamples: per-sample multiplicities [n_rep, N] of patient codes [N] in [0, G)."""
    drawn = rng.integers(0, n_groups, size=(n_rep, n_groups))  # [R, G] patient ids drawn
    flat = drawn + n_groups * np.arange(n_rep)[:, None]  # [R, G] offset per replicate for one bincount
    counts = np.bincount(flat.ravel(), minlength=n_rep * n_groups).reshape(n_rep, n_groups)  # [R, G]
    return counts[:, codes]  # [R, N]


def youden_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """Finite threshold maximising TPR - FPR (Youden's J) with score >= threshold flagged; NaN for one class.

    sklearn's first ROC threshold (inf, nothing flagged) is skipped; ties in J go to the highest threshold.
    """
    data = _binary(scores, labels)
    if data is None:
        return float("nan")
    fpr, tpr, thr = roc_curve(data[1], data[0])
    j = (tpr - fpr)[1:]  # [T-1] finite thresholds only
    return float(thr[1:][int(np.argmax(j))])


def sensitivity_threshold(scores: np.ndarray, labels: np.ndarray, target: float) -> float:
    """Highest threshold whose sensitivity (share of positives with score >= threshold) is >= target in (0, 1].

    That is the k-th highest positive score with k = ceil(target * n_pos); NaN when there are no positives.
    """
    if not 0 < target <= 1:
        raise ValueError(f"target sensitivity must lie in (0, 1], got {target}")
    scores, labels = np.asarray(scores, dtype=float).ravel(), np.asarray(labels, dtype=float).ravel()
    pos = np.sort(scores[labels == 1])[::-1]  # [P] descending
    if pos.size == 0:
        return float("nan")
    k = max(1, int(np.ceil(target * pos.size - 1e-9)))  # tolerance: 0.9 * 10 is 9.000000000000002
    return float(pos[k - 1])


def _check_inputs(
    scores: np.ndarray, labels: np.ndarray, names: Sequence[str], groups: Sequence[str], thresholds: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated float scores [N, F], labels [N, F] and thresholds [F] (0.5 when None)."""
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise ValueError(f"scores and labels must both be [N, F], got {scores.shape} and {labels.shape}")
    n, f = scores.shape
    if n == 0 or f == 0:
        raise ValueError(f"nothing to score: {n} samples x {f} findings (do the score and label names overlap?)")
    if len(names) != f or len(groups) != n:
        raise ValueError(f"need {f} names and {n} groups, got {len(names)} and {len(groups)}")
    known = ~np.isnan(labels)
    if not np.isin(labels[known], (0.0, 1.0)).all():
        raise ValueError("labels must be 1.0, 0.0 or NaN (unknown)")
    if not np.isfinite(scores[known]).all():
        raise ValueError("scores must be finite wherever a label is known")
    thr = np.full(f, 0.5) if thresholds is None else np.asarray(thresholds, dtype=float).ravel()
    if thr.shape != (f,):
        raise ValueError(f"thresholds must be [F={f}], got {thr.shape}")
    return scores, labels, thr


def _percentiles(reps: np.ndarray, ci: float) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware percentile interval of replicates [R, K] -> lo [K], hi [K] (NaN where no replicate is defined)."""
    alpha = 100 * (1 - ci) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        lo, hi = np.nanpercentile(reps, [alpha, 100 - alpha], axis=0)  # [K], [K]
    return lo, hi


def per_finding_metrics(
    scores: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    groups: Sequence[str],
    thresholds: np.ndarray | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """AUROC, AUPRC and F1 per finding with patient-level percentile bootstrap intervals, plus a "mean" row.

    scores [N, F]; labels [N, F] of 1.0 / 0.0 / NaN (unknown, excluded for that finding only); groups [N] patient
    ids; thresholds [F] for F1 (score >= threshold flagged; 0.5 when None). Replicates where a finding has one class
    are skipped for that finding. The "mean" row is the macro mean over findings with a defined AUROC; its interval
    uses the replicates where all of those findings are defined; its n / n_pos count samples with any of those labels
    known / positive.
    """
    if not 0 < ci < 1 or n_boot < 1:
        raise ValueError(f"need 0 < ci < 1 and n_boot >= 1, got ci={ci}, n_boot={n_boot}")
    scores, labels, thr = _check_inputs(scores, labels, names, groups, thresholds)
    n_findings = scores.shape[1]
    codes, uniques = pd.factorize(np.asarray(groups, dtype=object))  # [N] patient index per sample
    known = ~np.isnan(labels)  # [N, F]
    positive = labels == 1  # [N, F]
    flagged = scores >= thr[None, :]  # [N, F]; NaN thresholds flag nothing, F1 set to NaN below

    point = np.full((len(METRICS), n_findings), np.nan)  # [3, F]
    for f in range(n_findings):
        m = known[:, f]
        point[0, f], point[1, f] = auroc(scores[m, f], labels[m, f]), auprc(scores[m, f], labels[m, f])
        point[2, f] = _f1_many(flagged[m, f], positive[m, f], np.ones((1, m.sum())))[0]
    point[2, np.isnan(thr)] = np.nan

    rng = np.random.default_rng(seed)
    reps = np.full((len(METRICS), n_boot, n_findings), np.nan)  # [3, R, F]
    for start in range(0, n_boot, _DRAW_CHUNK):
        stop = min(start + _DRAW_CHUNK, n_boot)
        weights = _patient_weights(codes, len(uniques), stop - start, rng)  # [r, N]
        for f in range(n_findings):
            m = known[:, f]
            w, y = weights[:, m], positive[m, f]  # [r, n_f], [n_f]
            auc, ap = _auroc_ap_many(scores[m, f], y, w)  # [r], [r]
            f1 = _f1_many(flagged[m, f], y, w) if np.isfinite(thr[f]) else np.full(stop - start, np.nan)
            reps[:, start:stop, f] = np.stack([auc, ap, np.where(np.isnan(auc), np.nan, f1)])  # [3, r]

    included = ~np.isnan(point[0])  # [F] findings in the macro mean
    bounds = [_percentiles(reps[k], ci) for k in range(len(METRICS))]  # per metric ([F], [F])
    lo, hi = np.stack([b[0] for b in bounds]), np.stack([b[1] for b in bounds])  # [3, F], [3, F]
    if included.any():
        mean_point = point[:, included].mean(axis=1)  # [3]
        mean_lo, mean_hi = _percentiles(reps[:, :, included].mean(axis=2).T, ci)  # [R, 3] -> [3], [3]
    else:
        mean_point = mean_lo = mean_hi = np.full(len(METRICS), np.nan)

    rows = []
    for f, name in enumerate([*names, "mean"]):
        is_mean = f == n_findings
        vals = (mean_point, mean_lo, mean_hi) if is_mean else (point[:, f], lo[:, f], hi[:, f])
        row: dict[str, object] = {"finding": str(name)}
        if is_mean:
            sub = included[None, :]  # [1, F]
            row["n"], row["n_pos"] = int((known & sub).any(axis=1).sum()), int((positive & sub).any(axis=1).sum())
        else:
            row["n"], row["n_pos"] = int(known[:, f].sum()), int(positive[:, f].sum())
        for k, metric in enumerate(METRICS):
            row[metric], row[f"{metric}_lo"], row[f"{metric}_hi"] = (float(v[k]) for v in vals)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def retrieval_recall(
    image_embeds: np.ndarray, text_embeds: np.ndarray, ks: Sequence[int] = (1, 5, 10)
) -> dict[str, float]:
    """Recall@k of paired retrieval (image i <-> text i) by cosine similarity, both directions.

    Keys "i2t_R@k" and "t2i_R@k". Ties are pessimistic: the true partner ranks after every item with an equal score.
    """
    img, txt = np.asarray(image_embeds, dtype=float), np.asarray(text_embeds, dtype=float)
    if img.ndim != 2 or img.shape != txt.shape:
        raise ValueError(f"embeddings must both be [N, E], got {img.shape} and {txt.shape}")
    img = img / np.maximum(np.linalg.norm(img, axis=1, keepdims=True), 1e-12)  # [N, E]
    txt = txt / np.maximum(np.linalg.norm(txt, axis=1, keepdims=True), 1e-12)  # [N, E]
    n = img.shape[0]
    ranks = {"i2t": np.empty(n, dtype=int), "t2i": np.empty(n, dtype=int)}  # 1-based rank of the true partner
    for start in range(0, n, 1024):  # row blocks bound memory at [1024, N]
        rows = np.arange(start, min(start + 1024, n))
        for key, (q, c) in {"i2t": (img, txt), "t2i": (txt, img)}.items():
            sim = q[rows] @ c.T  # [b, N]
            true = sim[np.arange(rows.size), rows]  # [b]
            ranks[key][rows] = (sim >= true[:, None]).sum(axis=1)
    return {f"{key}_R@{k}": float(np.mean(r <= k)) if n else float("nan") for key, r in ranks.items() for k in ks}


def _cell(value: float, lo: float, hi: float) -> str:
    """'0.912 [0.871-0.950]'; '-' for a missing value, the bare value when the interval is missing."""
    if pd.isna(value):
        return "-"
    if pd.isna(lo) or pd.isna(hi):
        return f"{value:.3f}"
    return f"{value:.3f} [{lo:.3f}-{hi:.3f}]"


def _render(header: Sequence[str], body: Sequence[Sequence[str]]) -> str:
    """Aligned plain-text table: first column left-justified, the rest right-justified, a rule under the header."""
    widths = [max(len(str(r[i])) for r in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
        return "  ".join(padded)

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *(line(r) for r in body)])


def format_table(df: pd.DataFrame, columns: Sequence[str] = METRICS) -> str:
    """Plain-text table of per_finding_metrics output: finding, n, n_pos and `value [lo-hi]` per metric."""
    header = ["finding", "n", "n_pos", *columns]
    body = [
        [
            str(r["finding"]),
            "-" if pd.isna(r["n"]) else str(int(r["n"])),
            "-" if pd.isna(r["n_pos"]) else str(int(r["n_pos"])),
            *(_cell(r[c], r[f"{c}_lo"], r[f"{c}_hi"]) for c in columns),
        ]
        for _, r in df.iterrows()
    ]
    return _render(header, body)


def format_side_by_side(tables: Mapping[str, pd.DataFrame], metric: str = "auroc") -> str:
    """One row per finding, one `value [lo-hi]` column per method, e.g. zero-shot beside the supervised baseline.

    Findings follow the first table's order (others appended, "mean" last); '-' where a method lacks a finding.
    """
    findings: list[str] = []
    for df in tables.values():
        findings += [f for f in df["finding"].astype(str) if f not in findings and f != "mean"]
    if any((df["finding"] == "mean").any() for df in tables.values()):
        findings.append("mean")
    indexed = {name: df.set_index(df["finding"].astype(str)) for name, df in tables.items()}
    cols = [metric, f"{metric}_lo", f"{metric}_hi"]
    body = [[f, *(_cell(*t.loc[f, cols]) if f in t.index else "-" for t in indexed.values())] for f in findings]
    return _render([f"finding ({metric})", *tables], body)
