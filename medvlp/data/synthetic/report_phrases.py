"""Phrase bank of the phantom reports: how each drawn finding, normal structure and aside is worded.

Kept apart from the report assembly (reports.py) so the wording can grow without touching the structure.
Rules that keep the text machine-readable: one finding per findings sentence; a catalogue word appears only
in a sentence about that drawn finding or in a negation of an absent one; asides name no catalogue finding.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medvlp.data.synthetic.findings import Finding
from medvlp.data.synthetic.report_grammar import (
    Phrase,
    cap,
    grade,
    mm,
    pick,
)

_PNEUMONIA = (
    "This may represent pneumonia in the appropriate clinical setting.",
    "In the appropriate clinical setting, this may represent pneumonia.",
    "Findings are concerning for pneumonia.",
    "Correlate clinically for pneumonia.",
)

# ----------------------------------------------------------------------------------------------- locations


def _lung_place(rng: np.random.Generator, side: str, zone: str | None, ct: bool) -> tuple[str, str]:
    """(prepositional, adjectival) location of a lung finding, e.g. ('in the right upper lobe', 'right upper lobe')."""
    s = side if side in ("left", "right") else ""
    if side == "bilateral":
        adj = {"upper": "bilateral upper lobe", "middle": "bilateral perihilar"}.get(zone or "", "bilateral basilar")
        return "", adj
    if ct or zone is None:
        lobe = {"upper": "upper lobe", "lower": "lower lobe", "retrocardiac": "lower lobe"}.get(zone or "", "")
        if zone == "middle":
            return (
                ("in the right middle lobe", "right middle lobe")
                if s == "right"
                else ("in the lingula of the left upper lobe", "left lingular")
            )
        if not lobe:
            return f"in the {s} lung".replace("  ", " "), s
        return f"in the {s} {lobe}", f"{s} {lobe}"
    options = {
        "upper": [
            (f"in the {s} upper lobe", f"{s} upper lobe"),
            (f"in the {s} upper lung zone", f"{s} upper lung"),
            (f"at the {s} lung apex", f"{s} apical"),
        ],
        "middle": [(f"in the {s} mid lung zone", f"{s} mid lung"), (f"in the {s} perihilar region", f"{s} perihilar")]
        + (
            [("in the right middle lobe", "right middle lobe")]
            if s == "right"
            else [("in the lingula of the left upper lobe", "left lingular")]
        ),
        "lower": [
            (f"in the {s} lower lobe", f"{s} lower lobe"),
            (f"at the {s} lung base", f"{s} basilar"),
            (f"in the {s} lower lung zone", f"{s} lower lung"),
        ],
        "retrocardiac": [
            (f"in the retrocardiac {s} lower lobe", f"{s} retrocardiac"),
            (f"projecting behind the heart in the {s} lower lobe", f"{s} retrocardiac"),
        ],
    }[zone]
    return options[int(rng.integers(len(options)))]


def _placed(rng: np.random.Generator, mod: str, noun: str, place: tuple[str, str]) -> tuple[str, str]:
    """(findings noun phrase, impression phrase) of a lung finding at a place ('patchy consolidation in ...')."""
    prep, adj = place
    if not prep or rng.random() < 0.4:
        return f"{mod} {adj} {noun}", f"{mod} {adj} {noun}"
    return f"{mod} {noun} {prep}", f"{mod} {adj} {noun}"


# ------------------------------------------------------------------------------------------- CXR findings


def _cardiomegaly(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    word = grade(f.severity, (0.35, 0.7), ("mild", "moderate", "marked"))
    adverb = {"mild": "mildly", "moderate": "moderately", "marked": "markedly"}[word]
    if rng.random() < 0.5:
        return Phrase(f"{word} cardiomegaly", f"{word} cardiomegaly", "heart", countable=False)
    sentence = pick(rng, (f"The heart is {adverb} enlarged.", f"The cardiac silhouette is {adverb} enlarged."))
    return Phrase(f"{adverb} enlarged cardiac silhouette", f"{word} cardiomegaly", "heart", sentence=sentence)


def _effusion_word(f: Finding, cuts: tuple[float, float]) -> str:
    depth = f.size_mm if f.size_mm is not None else 100 * f.severity
    return grade(depth, cuts, ("small", "moderate", "large"))


def _pleural_effusion(rng: np.random.Generator, f: Finding, views: tuple[str, ...], ct: bool = False) -> Phrase:
    word = _effusion_word(f, (15, 35) if ct else (25, 55))
    if f.laterality == "bilateral":
        np_ = f"{word} bilateral pleural effusions"
        return Phrase(np_, np_, "pleura", detail=pick(rng, ("", " layering dependently")), plural=True)
    np_ = f"{word} {f.laterality} pleural effusion"
    details = ["", f" with blunting of the {f.laterality} costophrenic angle"]
    if ct:
        details = ["", " of simple fluid attenuation", f" measuring up to {mm(f.size_mm or 10)} in depth"]
    elif "LL" in views:
        details.append(" with blunting of the posterior costophrenic sulcus on the lateral view")
    return Phrase(np_, np_, "pleura", detail=pick(rng, details))


def _pneumothorax(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    side = f.laterality
    if f.subtype == "tension":
        np_ = f"large {side} tension pneumothorax"
        return Phrase(
            np_,
            f"{side} tension pneumothorax with contralateral mediastinal shift",
            "pleura",
            detail=pick(
                rng,
                (" with contralateral mediastinal shift", " with shift of the mediastinum away from the pneumothorax"),
            ),
            extra="Critical result.",
        )
    word = grade(f.size_mm or 10.0, (15, 35), ("small", "moderate", "large"))
    apical = "apical " if word == "small" and rng.random() < 0.5 else ""
    np_ = f"{word} {side} {apical}pneumothorax"
    detail = pick(
        rng,
        (
            "",
            f" measuring approximately {mm(f.size_mm or 10)}",
            f" with the visceral pleural line {mm(f.size_mm or 10)} from the chest wall",
        ),
    )
    return Phrase(np_, np_, "pleura", detail=detail)


def _consolidation(rng: np.random.Generator, f: Finding, views: tuple[str, ...], ct: bool = False) -> Phrase:
    word = grade(f.severity, (0.35, 0.7), ("patchy", "focal", "dense"))
    noun = pick(rng, ("consolidation", "airspace consolidation", "airspace disease"))
    np_, imp = _placed(rng, word, noun, _lung_place(rng, f.laterality, f.zone, ct))
    detail = pick(rng, ("", " with air bronchograms")) if f.severity > 0.45 else ""
    if not ct and f.zone == "lower" and f.laterality != "bilateral" and not detail and rng.random() < 0.5:
        detail = f" obscuring the {f.laterality} hemidiaphragm"
    return Phrase(
        np_,
        imp.replace("airspace disease", "consolidation"),
        "lungs",
        detail=detail,
        extra=pick(rng, _PNEUMONIA),
        countable=False,
    )


def _lesion(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    size = f.size_mm or 10.0
    if f.name == "mass":
        size_text = mm(size) if rng.random() < 0.5 else f"{size / 10:.1f} cm"
        word = f"{size_text} {pick(rng, ('mass', 'lobulated mass', 'spiculated mass', 'well-defined mass'))}"
        extra = pick(
            rng,
            (
                "Findings are concerning for malignancy; recommend contrast-enhanced chest CT.",
                "Recommend CT of the chest for further evaluation.",
            ),
        )
    else:
        word = f"{mm(size)} {pick(rng, ('nodule', 'pulmonary nodule', 'rounded nodule', 'well-circumscribed nodule'))}"
        extra = pick(
            rng,
            (
                "Recommend chest CT for further characterization.",
                "Further evaluation with chest CT is recommended.",
                "Comparison with prior imaging, if available, is recommended.",
            ),
        )
    prep = _lung_place(rng, f.laterality, f.zone, False)[0]
    return Phrase(f"{word} {prep}".strip(), f"{word} {prep}".strip(), "lungs", extra=extra)


def _atelectasis(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    word = grade(
        f.severity,
        (0.4, 0.75),
        (pick(rng, ("minimal", "linear", "subsegmental")), pick(rng, ("plate-like", "mild", "patchy")), "moderate"),
    )
    np_, imp = _placed(rng, word, "atelectasis", _lung_place(rng, f.laterality, f.zone or "lower", False))
    detail = " with mild volume loss" if f.severity > 0.6 else ""
    return Phrase(np_, imp, "lungs", detail=detail, countable=False)


def _edema(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    word = grade(f.severity, (0.35, 0.7), ("mild", "moderate", "severe"))
    np_ = pick(
        rng,
        (
            f"{word} bilateral interstitial pulmonary edema",
            f"{word} pulmonary edema with bilateral perihilar haziness",
            f"{word} pulmonary edema with bilateral Kerley B lines",
            f"{word} bilateral pulmonary edema with vascular congestion",
        ),
    )
    return Phrase(np_, f"{word} pulmonary edema", "lungs", countable=False)


def _device(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    kind = f.subtype or "ett"
    if kind == "ett":
        cm = f"{3.0 + 2.0 * rng.random():.1f} cm"
        sentence = pick(
            rng,
            (
                f"Endotracheal tube terminates approximately {cm} above the carina.",
                f"The endotracheal tube tip is {cm} above the carina.",
                f"Endotracheal tube in satisfactory position, {cm} above the carina.",
            ),
        )
        return Phrase(
            "endotracheal tube",
            pick(rng, ("endotracheal tube in satisfactory position", f"endotracheal tube tip {cm} above the carina")),
            "devices",
            sentence=sentence,
        )
    if kind == "cvc":
        access = pick(
            rng, ("right internal jugular", "right internal jugular", "left internal jugular", "right subclavian")
        )
        tip = pick(rng, ("the lower superior vena cava", "the cavoatrial junction", "the mid superior vena cava"))
        np_ = f"{access} central venous catheter"
        sentence = pick(rng, (f"{cap(np_)} with tip in {tip}.", f"{cap(np_)} terminates at {tip}."))
        return Phrase(np_, f"{np_} with tip at {tip}", "devices", sentence=sentence)
    if kind == "ngt":
        np_ = pick(rng, ("enteric tube", "nasogastric tube", "orogastric tube"))
        sentence = pick(
            rng,
            (
                f"{cap(np_)} courses below the diaphragm with tip in the stomach.",
                f"{cap(np_)} tip projects over the gastric body.",
                f"{cap(np_)} with tip and side port below the gastroesophageal junction.",
            ),
        )
        return Phrase(np_, f"{np_} with tip in the stomach", "devices", sentence=sentence)
    np_ = pick(rng, ("left chest wall pacemaker", "left-sided dual-chamber pacemaker"))
    sentence = pick(
        rng,
        (
            f"{cap(np_)} with leads in the right atrium and right ventricle.",
            f"{cap(np_)} with transvenous leads in expected position.",
        ),
    )
    return Phrase(np_, f"{np_} with leads in expected position", "devices", sentence=sentence)


# -------------------------------------------------------------------------------------------- CT findings


def _ct_nodule(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    size = f.size_mm or 6.0
    kind = "ground-glass" if f.subtype == "ground_glass" else "solid"
    prep, _ = _lung_place(rng, f.laterality, f.zone or "upper", True)
    np_ = f"{mm(size)} {kind} nodule {prep}"
    detail = f" (series {int(rng.integers(2, 6))}, image {int(rng.integers(20, 240))})" if rng.random() < 0.5 else ""
    if kind == "solid":
        extra = (
            "Per Fleischner Society guidelines, optional CT at 12 months if the patient is high risk."
            if size < 6
            else "Recommend follow-up CT in 6 to 12 months per Fleischner Society guidelines."
            if size <= 8
            else "Consider CT at 3 months, PET/CT or tissue sampling."
        )
    else:
        extra = (
            "Optional follow-up CT per Fleischner Society guidelines."
            if size < 6
            else "Recommend follow-up CT in 6 to 12 months to confirm persistence."
        )
    return Phrase(np_, np_, "lungs", detail=detail, extra=extra)


def _emphysema(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    word = grade(f.severity, (0.35, 0.7), ("mild", "moderate", "severe"))
    np_ = pick(
        rng,
        (
            f"{word} centrilobular emphysema with bilateral upper lobe predominance",
            f"{word} bilateral upper lobe predominant centrilobular emphysema",
            f"{word} bilateral emphysema with upper lobe predominance",
        ),
    )
    return Phrase(np_, f"{word} centrilobular emphysema", "lungs", countable=False)


def _pericardial(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    np_ = f"{grade(f.size_mm or 8.0, (10, 20), ('small', 'moderate', 'large'))} pericardial effusion"
    detail = pick(rng, ("", f" measuring up to {mm(f.size_mm or 8.0)}", " of simple fluid attenuation"))
    return Phrase(np_, np_, "heart", detail=detail)


def _liver(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    size, seg = mm(f.size_mm or 10.0), int(rng.integers(2, 9))
    if f.subtype == "cyst":
        np_ = pick(
            rng, (f"{size} simple cyst in hepatic segment {seg}", f"{size} simple hepatic cyst in segment {seg}")
        )
        return Phrase(
            np_,
            f"{size} simple hepatic cyst, benign",
            "abdomen",
            detail=pick(rng, ("", " with fluid attenuation and an imperceptible wall")),
            doubtful=f"{size} hepatic cyst",
        )
    np_ = f"{size} hypodense lesion in hepatic segment {seg}"
    sentence = cap(np_) + pick(rng, (", suspicious for metastasis.", ", concerning for metastatic disease."))
    return Phrase(
        np_,
        f"{size} hypodense liver lesion suspicious for metastasis",
        "abdomen",
        sentence=sentence,
        extra="Recommend MRI of the liver for further characterization.",
        doubtful=f"{size} hypodense liver lesion",
    )


def _kidney(rng: np.random.Generator, f: Finding, views: tuple[str, ...]) -> Phrase:
    size, side = mm(f.size_mm or 10.0), f.laterality
    np_ = pick(
        rng,
        (
            f"{size} simple cyst in the {side} kidney",
            f"{size} {side} renal cyst",
            f"{size} fluid-attenuation cyst in the {pick(rng, ('upper', 'lower'))} pole of the {side} kidney",
        ),
    )
    return Phrase(
        np_,
        f"{size} simple {side} renal cyst (Bosniak I)",
        "abdomen",
        detail=pick(rng, ("", " (Bosniak I)", " with a thin smooth wall")),
        doubtful=f"{size} {side} renal cyst",
    )


_BUILDERS: dict[str, Callable[[np.random.Generator, Finding, tuple[str, ...]], Phrase]] = {
    "cxr:cardiomegaly": _cardiomegaly,
    "cxr:pleural_effusion": _pleural_effusion,
    "cxr:pneumothorax": _pneumothorax,
    "cxr:consolidation": _consolidation,
    "cxr:nodule": _lesion,
    "cxr:mass": _lesion,
    "cxr:atelectasis": _atelectasis,
    "cxr:edema": _edema,
    "cxr:support_devices": _device,
    "ct:lung_nodule": _ct_nodule,
    "ct:pleural_effusion": lambda rng, f, v: _pleural_effusion(rng, f, v, ct=True),
    "ct:consolidation": lambda rng, f, v: _consolidation(rng, f, v, ct=True),
    "ct:emphysema": _emphysema,
    "ct:pericardial_effusion": _pericardial,
    "ct:liver_lesion": _liver,
    "ct:kidney_cyst": _kidney,
}


def describe(rng: np.random.Generator, f: Finding, modality: str, views: tuple[str, ...]) -> Phrase:
    """The wording of one drawn finding (size, side, severity and subtype folded in)."""
    return _BUILDERS[f"{modality}:{f.name}"](rng, f, views)
