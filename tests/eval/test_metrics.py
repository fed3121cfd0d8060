"""Metrics: vectorised weighted AUROC/AP/F1 against sklearn on materialised resamples, the patient-level bootstrap
(grouping, determinism, intervals), thresholds, retrieval recall and the text tables."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from medvlp.eval.metrics import (
    COLUMNS,
    _auroc_ap_many,
    _f1_many,
    _patient_weights,
    auprc,
    auroc,
    format_side_by_side,
    format_table,
    per_finding_metrics,
    retrieval_recall,
    sensitivity_threshold,
    youden_threshold,
)

CELL = re.compile(r"\d\.\d{3} \[\d\.\d{3}-\d\.\d{3}\]")


def make_data(n_patients: int, per_patient: int = 2, n_findings: int = 3, seed: int = 0):
    """Scores [N, F] that separate the classes imperfectly, labels [N, F], patient ids [N]."""
    rng = np.random.default_rng(seed)
    n = n_patients * per_patient
    labels = (rng.random((n, n_findings)) < 0.35).astype(float)  # [N, F]
    scores = labels * 0.6 + rng.random((n, n_findings))  # [N, F]
    groups = [f"p{i // per_patient}" for i in range(n)]
    return scores, labels, [f"finding{f}" for f in range(n_findings)], groups


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_sklearn_on_materialised_resample(seed):
    rng = np.random.default_rng(seed)
    n = 40
    scores = np.round(rng.random(n), 1)  # few distinct values: many ties, within and across classes
    labels = rng.random(n) < 0.4
    weights = rng.integers(0, 4, size=(12, n))  # [R, N] multiplicities, zeros included
    weights[0] = 1  # the plain metric
    weights[1] = np.where(labels, 0, 2)  # negatives only: undefined
    auc, ap = _auroc_ap_many(scores, labels, weights)
    flagged = scores >= 0.5
    f1 = _f1_many(flagged, labels, weights)
    assert np.isnan(auc[1]) and np.isnan(ap[1])
    for r in range(2, len(weights)):
        s, y = np.repeat(scores, weights[r]), np.repeat(labels, weights[r])  # the materialised resample
        assert auc[r] == pytest.approx(roc_auc_score(y, s), abs=1e-9)
        assert ap[r] == pytest.approx(average_precision_score(y, s), abs=1e-9)
        assert f1[r] == pytest.approx(f1_score(y, s >= 0.5), abs=1e-9)
    assert auc[0] == pytest.approx(roc_auc_score(labels, scores), abs=1e-9)
    assert ap[0] == pytest.approx(average_precision_score(labels, scores), abs=1e-9)


def test_perfect_inverted_and_random_scores():
    labels = np.array([0, 0, 1, 0, 1, 1, 0, 1], dtype=float)
    perfect = labels + 0.1 * np.arange(8)
    assert auroc(perfect, labels) == 1.0 and auprc(perfect, labels) == 1.0
    assert auroc(-perfect, labels) == 0.0
    assert auprc(-perfect, labels) == pytest.approx(average_precision_score(labels, -perfect))
    assert auprc(-perfect, labels) < 0.6
    rng = np.random.default_rng(3)
    scores, y = rng.random(200), (rng.random(200) < 0.3).astype(float)
    assert auroc(scores, y) == pytest.approx(roc_auc_score(y, scores))
    assert 0.35 < auroc(scores, y) < 0.65
    auc, ap = _auroc_ap_many(-perfect, labels == 1, np.ones((1, 8)))
    assert auc[0] == 0.0 and ap[0] == pytest.approx(auprc(-perfect, labels))


def test_one_class_gives_nan_and_is_left_out_of_the_mean():
    assert np.isnan(auroc(np.arange(4.0), np.zeros(4))) and np.isnan(auprc(np.arange(4.0), np.ones(4)))
    scores, labels, names, groups = make_data(30)
    labels[:, 1] = 0.0  # finding1 has no positives
    df = per_finding_metrics(scores, labels, names, groups, n_boot=50)
    row = df.set_index("finding").loc["finding1"]
    assert np.isnan(row["auroc"]) and np.isnan(row["auroc_lo"]) and np.isnan(row["auprc_hi"])
    assert row["n_pos"] == 0
    mean = df.set_index("finding").loc["mean"]
    assert mean["auroc"] == pytest.approx(df["auroc"].iloc[[0, 2]].mean())
    assert np.isfinite(mean["auroc_lo"]) and np.isfinite(mean["auroc_hi"])
    assert mean["n"] == 60 and mean["n_pos"] == (labels[:, [0, 2]] == 1).any(axis=1).sum()


def test_nan_labels_excluded_for_that_finding_only():
    scores, labels, names, groups = make_data(40)
    labels[::3, 0] = np.nan
    df = per_finding_metrics(scores, labels, names, groups, thresholds=np.array([0.7, 0.5, 0.9]), n_boot=20)
    known = ~np.isnan(labels[:, 0])
    assert list(df["n"].iloc[:3]) == [known.sum(), len(labels), len(labels)]
    assert df["n_pos"].iloc[0] == labels[known, 0].sum()
    assert df["auroc"].iloc[0] == pytest.approx(roc_auc_score(labels[known, 0], scores[known, 0]))
    assert df["auprc"].iloc[0] == pytest.approx(average_precision_score(labels[known, 0], scores[known, 0]))
    assert df["f1"].iloc[0] == pytest.approx(f1_score(labels[known, 0], scores[known, 0] >= 0.7))
    assert df["f1"].iloc[2] == pytest.approx(f1_score(labels[:, 2], scores[:, 2] >= 0.9))
    assert df["auroc"].iloc[1] == pytest.approx(roc_auc_score(labels[:, 1], scores[:, 1]))
    assert list(df.columns) == list(COLUMNS) and df["finding"].iloc[-1] == "mean"


def test_patient_weights_are_equal_within_a_patient():
    codes, _ = pd.factorize(np.array(["a", "a", "b", "c", "c", "c", "d"], dtype=object))  # [N] -> 4 patients
    w = _patient_weights(codes, 4, 200, np.random.default_rng(0))  # [R, N]
    assert w.shape == (200, 7)
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 4]).all() and (w[:, 4] == w[:, 5]).all()
    per_patient = w[:, [0, 2, 3, 6]]  # [R, G] one sample per patient
    assert (per_patient.sum(axis=1) == 4).all()  # 4 patients drawn with replacement
    assert (per_patient == 0).any() and (per_patient >= 2).any()  # some left out, some repeated


def test_bootstrap_resamples_patients_not_samples():
    scores, labels, names, _ = make_data(60, per_patient=1)
    groups = [f"p{i}" for i in range(60)]
    base = per_finding_metrics(scores, labels, names, groups, n_boot=300, seed=5)
    dup = np.repeat(np.arange(60), 4)  # each patient's sample four times: no new information
    by_patient = per_finding_metrics(scores[dup], labels[dup], names, [groups[i] for i in dup], n_boot=300, seed=5)
    cols = [c for c in COLUMNS if c not in ("finding", "n", "n_pos")]
    np.testing.assert_allclose(by_patient[cols].to_numpy(float), base[cols].to_numpy(float), rtol=0, atol=1e-12)
    by_sample = per_finding_metrics(scores[dup], labels[dup], names, [str(i) for i in range(240)], n_boot=300, seed=5)
    width_patient = by_patient["auroc_hi"] - by_patient["auroc_lo"]
    width_sample = by_sample["auroc_hi"] - by_sample["auroc_lo"]
    assert (width_sample < 0.75 * width_patient).all()  # treating duplicates as independent overstates precision


def test_intervals_are_percentiles_of_shared_patient_resamples():
    scores, labels, names, groups = make_data(15, per_patient=3, seed=4)
    scores = np.round(scores, 1)  # ties
    n_boot, seed = 40, 7
    df = per_finding_metrics(scores, labels, names, groups, n_boot=n_boot, ci=0.9, seed=seed)
    codes, uniques = pd.factorize(np.asarray(groups, dtype=object))
    weights = _patient_weights(codes, len(uniques), n_boot, np.random.default_rng(seed))  # the same draws
    reps = np.full((n_boot, 3), np.nan)
    for r in range(n_boot):
        for f in range(3):
            y, s = np.repeat(labels[:, f], weights[r]), np.repeat(scores[:, f], weights[r])
            if 0 < y.sum() < len(y):
                reps[r, f] = roc_auc_score(y, s)
    lo, hi = np.nanpercentile(reps, [5, 95], axis=0)
    np.testing.assert_allclose(df["auroc_lo"].iloc[:3], lo, atol=1e-9)
    np.testing.assert_allclose(df["auroc_hi"].iloc[:3], hi, atol=1e-9)
    mean_lo, mean_hi = np.nanpercentile(reps.mean(axis=1), [5, 95])
    assert df["auroc_lo"].iloc[-1] == pytest.approx(mean_lo) and df["auroc_hi"].iloc[-1] == pytest.approx(mean_hi)


def test_ci_contains_point_and_narrows_with_more_patients():
    small = per_finding_metrics(*make_data(30, seed=1), n_boot=300)
    large = per_finding_metrics(*make_data(300, seed=1), n_boot=300)
    for df in (small, large):
        for m in ("auroc", "auprc", "f1"):
            assert (df[f"{m}_lo"] <= df[m]).all() and (df[m] <= df[f"{m}_hi"]).all()
            assert (df[f"{m}_lo"] < df[f"{m}_hi"]).all()
    for m in ("auroc", "auprc", "f1"):
        width_small = small[f"{m}_hi"] - small[f"{m}_lo"]
        width_large = large[f"{m}_hi"] - large[f"{m}_lo"]
        assert (width_large < 0.6 * width_small).all()


def test_deterministic_under_a_fixed_seed():
    data = make_data(25, seed=2)
    a = per_finding_metrics(*data, n_boot=100, seed=11)
    b = per_finding_metrics(*data, n_boot=100, seed=11)
    c = per_finding_metrics(*data, n_boot=100, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["auroc_lo"], c["auroc_lo"])
    pd.testing.assert_series_equal(a["auroc"], c["auroc"])  # point estimates do not depend on the seed


def test_input_errors():
    scores, labels, names, groups = make_data(5)
    with pytest.raises(ValueError, match="N, F"):
        per_finding_metrics(scores[:, :2], labels, names, groups)
    with pytest.raises(ValueError, match="groups"):
        per_finding_metrics(scores, labels, names, groups[:-1])
    with pytest.raises(ValueError, match="labels"):
        per_finding_metrics(scores, labels * 2, names, groups)
    with pytest.raises(ValueError, match="target"):
        sensitivity_threshold(scores[:, 0], labels[:, 0], 0.0)


def test_youden_threshold():
    neg, pos = np.array([0.1, 0.2, 0.35, 0.3]), np.array([0.7, 0.8, 0.75])
    scores, labels = np.r_[neg, pos], np.r_[np.zeros(4), np.ones(3)]
    t = youden_threshold(scores, labels)
    assert np.isfinite(t) and neg.max() < t <= pos.min()
    assert np.isfinite(youden_threshold(-scores, labels))  # inverted: still a finite threshold
    assert np.isnan(youden_threshold(scores, np.zeros(7)))
    rng = np.random.default_rng(0)
    s, y = np.round(rng.random(80), 2), (rng.random(80) < 0.4).astype(float)
    s = s + 0.3 * y
    t = youden_threshold(s, y)
    j = {c: (s[y == 1] >= c).mean() - (s[y == 0] >= c).mean() for c in np.unique(s)}  # brute force over scores
    assert j[t] == pytest.approx(max(j.values()))


@pytest.mark.parametrize("target", [0.3, 0.5, 0.8, 0.9, 1.0])
def test_sensitivity_threshold_achieves_target(target):
    rng = np.random.default_rng(1)
    scores, labels = np.round(rng.random(60), 1), (rng.random(60) < 0.5).astype(float)  # ties among positives
    t = sensitivity_threshold(scores, labels, target)
    pos = scores[labels == 1]
    assert (pos >= t).mean() >= target
    higher = np.unique(scores[scores > t])
    assert all((pos >= c).mean() < target for c in higher)  # the highest such threshold
    assert sensitivity_threshold(np.arange(10.0), np.r_[np.zeros(5), np.ones(5)], 0.9) == 5.0


def test_retrieval_recall():
    rng = np.random.default_rng(0)
    eye = np.eye(6)
    got = retrieval_recall(eye * rng.uniform(0.5, 2, (6, 1)), eye, ks=(1, 5, 10))
    assert set(got) == {f"{d}_R@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}
    assert all(v == 1.0 for v in got.values())
    # texts are a known permutation (swap 0 and 1): a swapped image's true text ties with 3 others at 0 -> rank 4
    perm = retrieval_recall(np.eye(4), np.eye(4)[[1, 0, 2, 3]], ks=(1, 3, 4, 10))
    assert perm == {f"{d}_R@{k}": v for d in ("i2t", "t2i") for k, v in ((1, 0.5), (3, 0.5), (4, 1.0), (10, 1.0))}
    # angles: images at 0, 30, 90 degrees, texts at 10, 80, 70; i2t ranks [1, 3, 2], t2i ranks [1, 2, 1]
    unit = lambda deg: np.stack([np.cos(np.radians(deg)), np.sin(np.radians(deg))], axis=1)  # noqa: E731
    got = retrieval_recall(unit(np.array([0, 30, 90])) * 3, unit(np.array([10, 80, 70])), ks=(1, 2, 3))
    want = {"i2t_R@1": 1 / 3, "i2t_R@2": 2 / 3, "i2t_R@3": 1.0, "t2i_R@1": 2 / 3, "t2i_R@2": 1.0, "t2i_R@3": 1.0}
    assert got == pytest.approx(want)


def test_format_table_and_side_by_side():
    scores, labels, names, groups = make_data(30)
    names = ["Atelectasis", "Pleural Effusion", "Cardiomegaly"]
    zero_shot = per_finding_metrics(scores, labels, names, groups, n_boot=50)
    supervised = per_finding_metrics(scores + labels, labels, names, groups, n_boot=50)
    text = format_table(zero_shot)
    lines = text.splitlines()
    assert len(lines) == 2 + len(names) + 1 and len({len(line) for line in lines}) == 1  # aligned
    for name in [*names, "mean"]:
        line = next(line for line in lines if line.startswith(name))
        assert len(CELL.findall(line)) == 3
    row = zero_shot.iloc[0]
    assert f"{row['auroc']:.3f} [{row['auroc_lo']:.3f}-{row['auroc_hi']:.3f}]" in lines[2]
    assert str(row["n_pos"]) in lines[2] and "n_pos" in lines[0]
    side = format_side_by_side({"zero-shot": zero_shot, "supervised": supervised.iloc[1:]}, metric="auprc")
    lines = side.splitlines()
    assert "zero-shot" in lines[0] and "supervised" in lines[0] and len({len(line) for line in lines}) == 1
    for name in [*names, "mean"]:
        assert any(line.startswith(name) for line in lines)
    first = next(line for line in lines if line.startswith("Atelectasis"))
    assert len(CELL.findall(first)) == 1 and first.rstrip().endswith("-")  # no supervised row for it
    sup = supervised.iloc[1]
    cell = f"{sup['auprc']:.3f} [{sup['auprc_lo']:.3f}-{sup['auprc_hi']:.3f}]"
    assert next(line for line in lines if line.startswith("Pleural")).endswith(cell)
