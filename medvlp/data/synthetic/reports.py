"""Free-text radiology reports of the phantom archive: one per study, describing what was drawn.

Real text supervision is noisy, so subtle findings are now and then omitted or hedged (recorded in
`Report.mentions`); labels elsewhere stay the drawn truth. Drawn findings are never negated, so a
negation-aware labeler can recover them. PHI is planted at varied places and every planted string is listed in
`Report.phi`, exactly as written, so de-identification can be tested against it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from medvlp.data.synthetic.findings import Finding, StudyTruth
from medvlp.data.synthetic.patients import Patient
from medvlp.data.synthetic.report_grammar import (
    Phrase,
    cap,
    hedged_sentence,
    impression_item,
    pick,
    positive_sentence,
)
from medvlp.data.synthetic.report_phrases import describe
from medvlp.data.synthetic.report_wording import (
    ASIDES,
    CHF_ENDINGS,
    COMPLAINTS,
    CT_NEGATIVES,
    CXR_NEGATIVES,
    DEVICE_COMPLAINTS,
    GROUP_TITLES,
    GROUPS,
    IMPRESSION_ORDER,
    NO_ACUTE,
    NORMAL_IMPRESSIONS,
)


@dataclass(frozen=True)
class Report:
    """One report: its text, what became of each drawn finding in it, and the PHI planted in it."""

    text: str
    mentions: dict[str, str]  # drawn finding name -> "positive" | "hedged" | "omitted"
    phi: tuple[str, ...]


# ------------------------------------------------------------------------------------------------------ PHI

_PHI_SLOTS = ("name", "mrn", "dob", "date", "address", "comparison", "referrer", "contact", "signature")


class _Phi:
    """Which PHI goes where in one report, and every string planted so far."""

    def __init__(self, rng: np.random.Generator, patient: Patient, phi_rate: float) -> None:
        self.patient = patient
        chosen: list[str] = []
        if rng.random() < phi_rate:
            chosen = [s for s in _PHI_SLOTS if rng.random() < 0.4] or [pick(rng, _PHI_SLOTS)]
        self.slots = frozenset(chosen)
        self.planted: list[str] = []

    def plant(self, text: str) -> str:
        if text not in self.planted:
            self.planted.append(text)
        return text

    def date(self, rng: np.random.Generator, when: dt.date) -> str:
        form = int(rng.integers(3))
        text = (when.strftime("%m/%d/%Y"), when.isoformat(), f"{when:%B} {when.day}, {when.year}")[form]
        return self.plant(text)

    def person(self, rng: np.random.Generator, who: tuple[str, str]) -> str:
        return self.plant(f"{who[0]} {who[1]}" if rng.random() < 0.85 else f"{who[0]} {who[1]}".upper())

    def header(self, rng: np.random.Generator, when: dt.date) -> str:
        """Demographic header lines, as some RIS exports prepend to the report body."""
        p, lines = self.patient, []
        if "name" in self.slots:
            form = pick(rng, (p.display_name, f"{p.family}, {p.given}", f"{p.family}, {p.given}".upper()))
            lines.append(f"{pick(rng, ('Patient', 'PATIENT NAME', 'Name'))}: {self.plant(form)}")
        if "mrn" in self.slots:
            mrn = p.mrn if rng.random() < 0.7 else p.mrn.removeprefix("MRN")
            lines.append(f"{pick(rng, ('MRN', 'Medical record number', 'Patient ID'))}: {self.plant(mrn)}")
        if "dob" in self.slots:
            lines.append(f"DOB: {self.plant(p.birth_date.strftime('%m/%d/%Y'))}")
        if "date" in self.slots:
            lines.append(f"{pick(rng, ('Exam date', 'DATE OF SERVICE', 'Study date'))}: {self.date(rng, when)}")
        if "address" in self.slots:
            lines.append(f"Address: {self.plant(p.address)}")
        return pick(rng, ("\n", "    ")).join(lines)


# ------------------------------------------------------------------------------------------------- sections


def _mention(rng: np.random.Generator, f: Finding, omit_rate: float, hedge_rate: float) -> str:
    """Subtle findings are omitted with probability omit_rate or hedged with probability hedge_rate."""
    if not f.subtle:
        return "positive"
    u = rng.random()
    return "omitted" if u < omit_rate else "hedged" if u < omit_rate + hedge_rate else "positive"


def _findings(
    rng: np.random.Generator,
    truth: StudyTruth,
    phrases: dict[str, Phrase],
    mentions: dict[str, str],
    present: frozenset[str],
) -> str:
    """FINDINGS body: per group the drawn findings, then normal statements of absent ones, then asides."""
    groups: dict[str, list[str]] = {g: [] for g in GROUPS[truth.modality]}
    for f in truth.findings:
        p, status = phrases[f.name], mentions[f.name]
        if status != "omitted":
            groups[p.group].append(positive_sentence(rng, p) if status == "positive" else hedged_sentence(rng, p))
    quiet = all(m == "omitted" for m in mentions.values())  # a normal-looking report says more boilerplate
    for slot in CXR_NEGATIVES if truth.modality == "cxr" else CT_NEGATIVES:
        if rng.random() < (slot.p + 0.3 if quiet else slot.p):
            usable = [options for absent, options in slot.choices if not absent & present]
            if usable:
                groups[slot.group].append(pick(rng, usable[0]))
    for group, sentence in ASIDES[truth.modality]:
        if rng.random() < 0.1:
            groups[group].append(sentence)
    order = list(groups)
    if truth.modality == "cxr" and rng.random() < 0.3:
        order.remove("heart")
        order.insert(1, "heart")
    filled = [(g, " ".join(groups[g])) for g in order if groups[g]]
    layout = rng.random()
    if layout < 0.25:
        # no subheader for devices: "Lines and tubes:" would read as a device mention to a keyword labeler
        return "\n".join(f"{GROUP_TITLES[g]}: {text}" if GROUP_TITLES[g] else text for g, text in filled)
    return ("\n" if layout < 0.45 else " ").join(text for _, text in filled)


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _impression(
    rng: np.random.Generator,
    truth: StudyTruth,
    phrases: dict[str, Phrase],
    mentions: dict[str, str],
    present: frozenset[str],
) -> list[str]:
    """IMPRESSION items: mentioned findings by urgency, heart failure described together, else boilerplate."""
    items: list[str] = []
    done: set[str] = set()
    chf = ("cardiomegaly", "edema", "pleural_effusion")
    if mentions.get("edema") == "positive" and (
        mentions.get("cardiomegaly") == "positive" or mentions.get("pleural_effusion") == "positive"
    ):
        parts = [phrases[n].impression for n in chf if mentions.get(n) == "positive"]
        items.append(cap(_join(parts)) + pick(rng, CHF_ENDINGS))
        done.update(n for n in chf if mentions.get(n) == "positive")
    for name in IMPRESSION_ORDER[truth.modality]:
        if name in mentions and name not in done and mentions[name] != "omitted":
            items.append(impression_item(rng, phrases[name], mentions[name] == "hedged"))
    devices = [f.subtype for f in truth.get("support_devices")]
    if ("cvc" in devices or "ett" in devices) and "pneumothorax" not in present and rng.random() < 0.5:
        items.append("No pneumothorax.")
    if not items:
        pool = NO_ACUTE[truth.modality] + (NORMAL_IMPRESSIONS[truth.modality] if not truth.findings else ())
        items.append(pick(rng, pool))
    return items


def _exam_and_technique(rng: np.random.Generator, modality: str, views: tuple[str, ...]) -> tuple[str, str]:
    if modality == "ct":
        exam = pick(
            rng,
            (
                "CT CHEST ABDOMEN WITHOUT CONTRAST",
                "CT CHEST AND UPPER ABDOMEN WITHOUT IV CONTRAST",
                "CT CHEST WITHOUT CONTRAST",
                "CT THORAX NON-CONTRAST",
            ),
        )
        tech = "Axial CT images of the chest and upper abdomen were obtained without intravenous contrast."
        tech += pick(rng, ("", " Multiplanar reformats were reviewed.", " Dose reduction technique was used."))
        return exam, tech
    names = [{"LL": "LATERAL", "LAT": "LATERAL"}.get(v, v) for v in views] or ["PA"]
    n, portable = len(names), " PORTABLE" if "AP" in views else ""
    exam = pick(
        rng,
        (
            f"CHEST {' AND '.join(names)}{portable}",
            f"XR CHEST {n} VIEW{'S' if n > 1 else ''}{portable}",
            f"RADIOGRAPH OF THE CHEST, {' AND '.join(names)}",
        ),
    )
    lower = " and ".join(x if x in ("PA", "AP") else x.lower() for x in names)
    tech = pick(
        rng,
        (
            f"{lower} view{'s' if n > 1 else ''} of the chest.",
            f"{'Single portable' if portable else 'Frontal'}{' and lateral' if n > 1 else ''} "
            f"radiograph{'s' if n > 1 else ''} of the chest.",
        ),
    )
    return exam, cap(tech)


def _indication(rng: np.random.Generator, truth: StudyTruth, patient: Patient, when: dt.date) -> str:
    pool = list(COMPLAINTS[truth.modality])
    pool += [DEVICE_COMPLAINTS[f.subtype] for f in truth.get("support_devices") if f.subtype in DEVICE_COMPLAINTS]
    complaint, age = pick(rng, pool), patient.age_at(when)
    sex = pick(rng, ("woman", "female") if patient.sex == "F" else ("man", "male"))
    who = f"{age}-year-old {sex}" if age < 90 else f"elderly {sex}"  # ages of 90 and over count as PHI
    return cap(complaint) + "." if rng.random() < 0.4 else f"{cap(who)} with {complaint}."


def _comparison(rng: np.random.Generator, modality: str, phi: _Phi, when: dt.date) -> str:
    kind = "chest radiograph" if modality == "cxr" else "CT chest"
    if "comparison" in phi.slots:
        prior = phi.date(rng, when - dt.timedelta(days=int(rng.integers(20, 2000))))
        return pick(rng, (f"{cap(kind)} dated {prior}.", f"{prior}.", f"{cap(kind)} from {prior}."))
    return pick(rng, ("None.", "None available.", f"Prior {kind}.", "No prior studies available."))


def _closing(rng: np.random.Generator, phi: _Phi, when: dt.date, abnormal: bool, critical: bool) -> list[str]:
    """Communication of results and signature lines (where the referrer, phone and reader are planted)."""
    lines, time = [], f"{int(rng.integers(7, 23)):02d}:{int(rng.integers(60)):02d}"
    p = phi.patient
    if "contact" in phi.slots:
        ref = phi.person(rng, p.referring_physician)
        phone = phi.plant(p.phone)
        form = int(rng.integers(3)) if abnormal else 3
        if form == 0:
            lines.append(f"Findings were discussed with Dr. {ref} at {phone} at {time}.")
        elif form == 1:
            lines.append(f"Results were called to Dr. {ref} at {phone} at {time} on {phi.date(rng, when)}.")
        elif form == 2:
            lines.append(f"Findings discussed with Dr. {ref} by telephone at {phone} at {time}.")
        else:
            lines.append(f"Report sent to the office of Dr. {ref}, {phone}.")
    elif critical or (abnormal and rng.random() < 0.2):
        lines.append(
            pick(
                rng,
                (
                    f"Findings were communicated to the ordering clinician at {time}.",
                    f"Results were discussed with the referring team by telephone at {time}.",
                ),
            )
        )
    if "signature" in phi.slots:
        rad, form = phi.person(rng, p.reading_radiologist), int(rng.integers(3))
        if form == 0:
            lines.append(f"Electronically signed by: {rad}, MD on {phi.date(rng, when)} at {time}.")
        else:
            lines.append(f"Dictated by Dr. {rad}." if form == 1 else f"Reading radiologist: {rad}, MD.")
    elif rng.random() < 0.1:
        lines.append("I have personally reviewed the images and agree with the report.")
    return lines


def _section(style: int, title: str, body: str, own_line: bool = False) -> str:
    """One section with the header style of this report ('FINDINGS:', 'Findings:', 'FINDINGS' on its own line)."""
    name = title.capitalize() if style == 1 else title
    if style == 2:
        return f"{name}\n{body}"
    separator = "\n" if own_line or "\n" in body or style == 3 else " "
    return f"{name}:{separator}{body}"


def write_report(
    rng: np.random.Generator,
    truth: StudyTruth,
    patient: Patient,
    study_date: dt.date,
    views: tuple[str, ...] = ("PA",),
    omit_rate: float = 0.05,
    hedge_rate: float = 0.15,
    phi_rate: float = 0.5,
) -> Report:
    """Write the report of one study: what was drawn, in a hospital's words, with its noise and its PHI.

    Deterministic in `rng`: the same generator state gives the same report.
    """
    mentions = {f.name: _mention(rng, f, omit_rate, hedge_rate) for f in truth.findings}
    phrases = {f.name: describe(rng, f, truth.modality, tuple(views)) for f in truth.findings}
    pseudo = {"tension"} if any(f.subtype == "tension" for f in truth.get("pneumothorax")) else set()
    present = frozenset({f.name for f in truth.findings} | pseudo | ({"ap"} if "AP" in views else set()))
    phi = _Phi(rng, patient, phi_rate)
    style = int(rng.integers(4))
    numbered = rng.random() < 0.5

    blocks: list[str] = []
    if phi.slots & {"name", "mrn", "dob", "date", "address"}:
        blocks.append(phi.header(rng, study_date))
    exam, technique = _exam_and_technique(rng, truth.modality, tuple(views))
    if rng.random() < 0.55:
        blocks.append(f"EXAM: {exam}")
    if "referrer" in phi.slots or rng.random() < 0.7:
        title = pick(rng, ("INDICATION", "CLINICAL HISTORY", "HISTORY", "REASON FOR EXAM"))
        body = _indication(rng, truth, patient, study_date)
        if "referrer" in phi.slots:
            label = pick(rng, ("Ordering physician", "Referred by"))
            body += f" {label}: Dr. {phi.person(rng, patient.referring_physician)}."
        blocks.append(_section(style, title, body))
    if rng.random() < 0.45:
        blocks.append(_section(style, "TECHNIQUE", technique))
    if "comparison" in phi.slots or rng.random() < 0.5:
        blocks.append(_section(style, "COMPARISON", _comparison(rng, truth.modality, phi, study_date)))
    blocks.append(_section(style, "FINDINGS", _findings(rng, truth, phrases, mentions, present)))
    items = _impression(rng, truth, phrases, mentions, present)
    if numbered:
        body = "\n".join(f"{i}. {x}" for i, x in enumerate(items, start=1))
        blocks.append(_section(style, "IMPRESSION", body, own_line=True))
    else:
        blocks.append(_section(style, "IMPRESSION", " ".join(items)))
    abnormal = any(m != "omitted" for m in mentions.values())
    critical = "tension" in present and mentions.get("pneumothorax") != "omitted"
    closing = _closing(rng, phi, study_date, abnormal, critical)
    if closing:
        blocks.append("\n".join(closing))
    text = ("\n\n" if rng.random() < 0.7 else "\n").join(blocks)
    return Report(text=text, mentions=mentions, phi=tuple(phi.planted))
