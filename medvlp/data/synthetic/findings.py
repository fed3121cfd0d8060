"""What a phantom study contains: the finding catalogue and a sampler with clinical co-occurrence.

The sampler decides *what* is present; renderers decide how it looks and reports how it is described.
Keeping the truth in one typed object lets the labels stay the drawn truth, apart from the (noisy) reports.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

Modality = Literal["cxr", "ct"]
Laterality = Literal["left", "right", "bilateral", "none"]

# Label columns of the ground truth, in this order (the phantom's finding set per modality).
CXR_FINDINGS: tuple[str, ...] = (
    "cardiomegaly",
    "pleural_effusion",
    "pneumothorax",
    "consolidation",
    "nodule",
    "mass",
    "atelectasis",
    "edema",
    "support_devices",
)
CT_FINDINGS: tuple[str, ...] = (
    "lung_nodule",
    "pleural_effusion",
    "consolidation",
    "emphysema",
    "pericardial_effusion",
    "liver_lesion",
    "kidney_cyst",
)
FINDINGS: dict[str, tuple[str, ...]] = {"cxr": CXR_FINDINGS, "ct": CT_FINDINGS}

DEVICE_TYPES: tuple[str, ...] = ("ett", "cvc", "ngt", "pacemaker")


@dataclass(frozen=True)
class Finding:
    """One drawn abnormality.

    name: a key of FINDINGS[modality]. severity in [0, 1] drives size and contrast together; `subtle` marks the
    ones a reader could miss (small, faint or hidden), which reports may omit or hedge.
    size_mm: diameter of a nodule/mass/lesion/cyst, depth of an effusion, rim of a pneumothorax; None otherwise.
    subtype: nodule "solid" | "ground_glass"; device one of DEVICE_TYPES; pneumothorax "simple" | "tension";
    liver_lesion "cyst" | "metastasis"; None otherwise.
    zone: where it sits, "upper" | "middle" | "lower" lung zone (or "retrocardiac"), None when not applicable.
    """

    name: str
    laterality: Laterality = "none"
    severity: float = 0.5
    size_mm: float | None = None
    subtype: str | None = None
    zone: str | None = None
    subtle: bool = False

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class StudyTruth:
    """Ground truth of one study: what was drawn, independent of what the report says."""

    modality: Modality
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def labels(self) -> dict[str, int]:
        """1 if the finding was drawn, else 0, for every finding of the modality."""
        present = {f.name for f in self.findings}
        return {name: int(name in present) for name in FINDINGS[self.modality]}

    def get(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.name == name]


def _side(rng: np.random.Generator, p_bilateral: float = 0.0) -> Laterality:
    if rng.random() < p_bilateral:
        return "bilateral"
    return "left" if rng.random() < 0.5 else "right"


def _severity(rng: np.random.Generator) -> float:
    # Beta(1.6, 1.6): most findings moderate, with real shares of faint and florid ones.
    return float(np.clip(rng.beta(1.6, 1.6), 0.02, 0.98))


def _finding(rng: np.random.Generator, name: str, **kw: object) -> Finding:
    sev = float(kw.pop("severity", _severity(rng)))  # type: ignore[arg-type]
    subtle = bool(kw.pop("subtle", sev < 0.3))
    return Finding(name=name, severity=sev, subtle=subtle, **kw)  # type: ignore[arg-type]


def _cxr_lesion(rng: np.random.Generator) -> Finding:
    size = float(np.exp(rng.uniform(np.log(6.0), np.log(55.0))))
    name = "mass" if size >= 30.0 else "nodule"
    zone = str(rng.choice(["upper", "middle", "lower", "retrocardiac"], p=[0.35, 0.3, 0.25, 0.1]))
    sev = float(np.clip(size / 55.0 + rng.normal(0, 0.15), 0.05, 0.95))
    return _finding(rng, name, laterality=_side(rng), size_mm=round(size, 1), zone=zone, severity=sev)


def sample_cxr_findings(rng: np.random.Generator, normal_fraction: float = 0.33) -> StudyTruth:
    """Sample the findings of one chest X-ray, with clinical co-occurrence (edema with cardiomegaly and effusions)."""
    if rng.random() < normal_fraction:
        return StudyTruth("cxr")
    found: dict[str, Finding] = {}
    while not found:
        if rng.random() < 0.14:  # edema drags its companions along
            found["edema"] = _finding(rng, "edema", laterality="bilateral", zone="middle")
            if rng.random() < 0.75:
                found["cardiomegaly"] = _finding(rng, "cardiomegaly")
            if rng.random() < 0.6:
                found["pleural_effusion"] = _finding(
                    rng, "pleural_effusion", laterality=_side(rng, 0.7), size_mm=round(float(rng.uniform(8, 60)), 1)
                )
        if "cardiomegaly" not in found and rng.random() < 0.16:
            found["cardiomegaly"] = _finding(rng, "cardiomegaly")
        if "pleural_effusion" not in found and rng.random() < 0.16:
            sev = _severity(rng)
            found["pleural_effusion"] = _finding(
                rng, "pleural_effusion", laterality=_side(rng, 0.25), size_mm=round(8 + 90 * sev, 1), severity=sev
            )
        if rng.random() < 0.14:
            side = _side(rng)
            found["consolidation"] = _finding(
                rng, "consolidation", laterality=side, zone=str(rng.choice(["upper", "middle", "lower"]))
            )
            if "pleural_effusion" not in found and rng.random() < 0.3:
                found["pleural_effusion"] = _finding(rng, "pleural_effusion", laterality=side, size_mm=15.0)
        if rng.random() < 0.08:
            sev = _severity(rng)
            kind = "tension" if sev > 0.85 and rng.random() < 0.5 else "simple"
            found["pneumothorax"] = _finding(
                rng, "pneumothorax", laterality=_side(rng), size_mm=round(3 + 60 * sev, 1), subtype=kind, severity=sev
            )
        if rng.random() < 0.14:
            lesion = _cxr_lesion(rng)
            found[lesion.name] = lesion
        if rng.random() < 0.12:
            found["atelectasis"] = _finding(
                rng, "atelectasis", laterality=_side(rng, 0.2), zone=str(rng.choice(["middle", "lower"], p=[0.3, 0.7]))
            )
        if rng.random() < 0.14:
            kind = str(rng.choice(DEVICE_TYPES, p=[0.3, 0.35, 0.2, 0.15]))
            found["support_devices"] = _finding(rng, "support_devices", subtype=kind, severity=0.9, subtle=False)
    return StudyTruth("cxr", tuple(found[k] for k in CXR_FINDINGS if k in found))


def sample_ct_findings(rng: np.random.Generator, normal_fraction: float = 0.33) -> StudyTruth:
    """Sample the findings of one chest/upper-abdomen CT, with co-occurrence (consolidation with effusion)."""
    if rng.random() < normal_fraction:
        return StudyTruth("ct")
    found: dict[str, Finding] = {}
    while not found:
        if rng.random() < 0.22:
            size = float(np.exp(rng.uniform(np.log(4.0), np.log(30.0))))
            kind = "ground_glass" if rng.random() < 0.3 else "solid"
            zone = str(rng.choice(["upper", "middle", "lower"]))
            found["lung_nodule"] = _finding(
                rng,
                "lung_nodule",
                laterality=_side(rng),
                size_mm=round(size, 1),
                subtype=kind,
                zone=zone,
                severity=float(np.clip(size / 30.0, 0.05, 0.98)),
            )
        if rng.random() < 0.18:
            sev = _severity(rng)
            found["pleural_effusion"] = _finding(
                rng, "pleural_effusion", laterality=_side(rng, 0.35), size_mm=round(5 + 60 * sev, 1), severity=sev
            )
        if rng.random() < 0.15:
            side = _side(rng, 0.1)
            found["consolidation"] = _finding(
                rng, "consolidation", laterality=side, zone=str(rng.choice(["upper", "middle", "lower"]))
            )
            if "pleural_effusion" not in found and rng.random() < 0.3:
                found["pleural_effusion"] = _finding(rng, "pleural_effusion", laterality=side, size_mm=12.0)
        if rng.random() < 0.15:
            found["emphysema"] = _finding(rng, "emphysema", laterality="bilateral", zone="upper")
        if rng.random() < 0.1:
            sev = _severity(rng)
            found["pericardial_effusion"] = _finding(
                rng, "pericardial_effusion", size_mm=round(4 + 25 * sev, 1), severity=sev
            )
        if rng.random() < 0.15:
            size = float(np.exp(rng.uniform(np.log(6.0), np.log(45.0))))
            kind = "cyst" if rng.random() < 0.5 else "metastasis"
            found["liver_lesion"] = _finding(
                rng,
                "liver_lesion",
                size_mm=round(size, 1),
                subtype=kind,
                severity=float(np.clip(size / 45, 0.05, 0.98)),
            )
        if rng.random() < 0.15:
            size = float(np.exp(rng.uniform(np.log(6.0), np.log(40.0))))
            found["kidney_cyst"] = _finding(
                rng,
                "kidney_cyst",
                laterality=_side(rng),
                size_mm=round(size, 1),
                severity=float(np.clip(size / 40, 0.05, 0.98)),
            )
    return StudyTruth("ct", tuple(found[k] for k in CT_FINDINGS if k in found))
