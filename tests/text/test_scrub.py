"""Report scrubbing: every PHI form becomes a placeholder, the clinical text stays as written."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pydicom
import pytest

from medvlp.data.synthetic.dicom_write import CtEncoding, CxrEncoding, StudyInfo, ct_slice_dataset, cxr_dataset
from medvlp.data.synthetic.findings import sample_ct_findings, sample_cxr_findings
from medvlp.data.synthetic.patients import make_patient, study_date
from medvlp.data.synthetic.reports import write_report
from medvlp.text.scrub import KnownIdentifiers, scrub_report

KNOWN = KnownIdentifiers(
    names=("Richardson^Emma^Jane", "Long^Peter", "Okafor^Larry"),
    ids=("MRN12345678", "XR987654321"),
    addresses=("2831 Mill Boulevard, Madison",),
    phones=("(555) 201-3344",),
)

# (text, expected) with no knowledge of the study: patterns only.
PATTERN_CASES = [
    ("Findings discussed with Dr. Emma Richardson at 14:20.", "Findings discussed with Dr. [NAME] at 14:20."),
    ("Called Dr. RICHARDSON.", "Called Dr. [NAME]."),
    ("Results called to Dr. EMMA RICHARDSON by telephone.", "Results called to Dr. [NAME] by telephone."),
    ("Seen by Dr. J. O'Brien-Smith today.", "Seen by Dr. [NAME] today."),
    ("cc: Dr. van der Berg", "cc: Dr. [NAME]"),
    ("Dictated by Kathleen Brown.", "Dictated by [NAME]."),
    ("Dictated by Dr. Kathleen Brown.", "Dictated by Dr. [NAME]."),
    (
        "Electronically signed by: Kathleen Brown, MD on 12/13/2019 at 20:55.",
        "Electronically signed by: [NAME] on [DATE] at 20:55.",
    ),
    ("Reading radiologist: KATHLEEN BROWN, MD.", "Reading radiologist: [NAME]."),
    ("Referred by: Dr. Larry Allen.", "Referred by: Dr. [NAME]."),
    ("Ordering physician: Dr. Larry Allen.", "Ordering physician: Dr. [NAME]."),
    ("PATIENT NAME: RICHARDSON, EMMA", "PATIENT NAME: [NAME]"),
    ("Patient: Emma Richardson    MRN: 4455", "Patient: [NAME]    MRN: [ID]"),
    ("I agree. Jane Q. Doe, MD", "I agree. [NAME], MD"),
    ("Mrs. Kowalski tolerated the exam.", "Mrs. [NAME] tolerated the exam."),
    ("Comparison: 03/14/2019.", "Comparison: [DATE]."),
    ("Comparison: 3/14/19.", "Comparison: [DATE]."),
    ("Comparison: 2019-03-14.", "Comparison: [DATE]."),
    ("Comparison: March 14, 2019.", "Comparison: [DATE]."),
    ("Comparison: 14 March 2019.", "Comparison: [DATE]."),
    ("Comparison: Mar 14 2019.", "Comparison: [DATE]."),
    ("Comparison: 14-MAR-2019.", "Comparison: [DATE]."),
    ("Comparison: 20190314.", "Comparison: [DATE]."),
    ("Comparison: March 2019.", "Comparison: [DATE]."),
    ("Compared with the study of May 3.", "Compared with the study of [DATE]."),
    ("DOB: 8/18/28", "DOB: [DATE]"),
    ("Call (555) 201-3344.", "Call [PHONE]."),
    ("Call 555-201-3344 ext. 12 now.", "Call [PHONE] now."),
    ("Call 555.201.3344.", "Call [PHONE]."),
    ("Reading room x1234.", "Reading room [PHONE]."),
    ("Pager: 4567", "Pager: [PHONE]"),
    ("Lives at 2831 Mill Boulevard, Madison.", "Lives at [ADDRESS]."),
    ("Address: 12 Oak Lane, Salem, MA 01970", "Address: [ADDRESS]"),
    ("MRN: 12345678", "MRN: [ID]"),
    ("MRN12345678 and XR987654321.", "[ID] and [ID]."),
    ("Order 4455667 reviewed.", "Order [ID] reviewed."),
    ("Questions: jane.doe@hospital.org.", "Questions: [EMAIL]."),
    ("93-year-old man.", "[AGE]-year-old man."),
]

# (text, expected) with the header's identifiers known.
KNOWN_CASES = [
    ("Emma Richardson", "[NAME]"),
    ("EMMA RICHARDSON", "[NAME]"),
    ("Richardson, Emma", "[NAME]"),
    ("RICHARDSON, EMMA J.", "[NAME]"),
    ("Richardson^Emma", "[NAME]"),
    ("Emma Jane Richardson", "[NAME]"),
    ("Ms Richardson agreed.", "Ms [NAME] agreed."),
    ("Spoke to Mr. Okafor.", "Spoke to Mr. [NAME]."),
    ("RICHARDSON^EMMA, Richardson, Emma", "[NAME], [NAME]"),
    ("Patient ID 12345678.", "Patient ID [ID]."),
    ("MRN12345678", "[ID]"),
    ("Accession 987654321.", "Accession [ID]."),
    ("Lives at 2831 Mill Boulevard.", "Lives at [ADDRESS]."),
    ("2831 MILL BOULEVARD, MADISON", "[ADDRESS]"),
    ("Phone 555 201 3344.", "Phone [PHONE]."),
    ("Call +1 555.201.3344.", "Call [PHONE]."),
    ("Long segment of narrowing. Dr. Long agrees.", "Long segment of narrowing. Dr. [NAME] agrees."),
    ("TE 30 ms long echo train. MR LONG.", "TE 30 ms long echo train. MR LONG."),
]

# Clinical text that must come back unchanged, with or without known identifiers.
CLINICAL = [
    "A 12 mm nodule in the right upper lobe. 3-5 cm mass at the left lung base.",
    "The tip is 2 cm above the carina. Compression deformity of T10. C7 is intact.",
    "16 mm simple hepatic cyst. 40 mm simple right renal cyst (Bosniak I).",
    "Clear lungs. Moderate cardiomegaly. Right middle lobe and lingula are clear. Left lower lobe atelectasis.",
    "Findings were communicated to the ordering clinician at 14:20.",
    "MR angiography recommended. MS plaques are not assessed. Chest PA and lateral.",
    "Consider CT at 3 months, PET/CT or tissue sampling. Kerley B lines.",
    "Compared with 2 prior CT examinations from 2018. 3 Chest CT. Segment 2 lesion, 1/2 of the lobe.",
    "Heart size is normal given AP technique. Window 400/40. 120 kVp. Dose 3.2 mGy.",
    "IMPRESSION:\n1. No acute cardiopulmonary process.\n2. Attention on follow-up.",
    "Patient is a 45-year-old man. The lungs are clear bilaterally. May represent pneumonia.",
    "Exam name: CT Chest. Technique: Axial images. History: Intubated.",
]


@pytest.mark.parametrize(("text", "expected"), PATTERN_CASES)
def test_pattern_forms(text, expected):
    assert scrub_report(text) == expected


@pytest.mark.parametrize(("text", "expected"), KNOWN_CASES)
def test_known_identifier_forms(text, expected):
    assert scrub_report(text, KNOWN) == expected


@pytest.mark.parametrize("text", CLINICAL)
def test_clinical_text_is_kept(text):
    assert scrub_report(text) == text
    assert scrub_report(text, KNOWN) == text


def test_known_identifiers_from_a_header():
    p = make_patient(np.random.default_rng(5))
    info = StudyInfo(p, "1.2.3", "XR123456789", dt.date(2019, 3, 4), "101500", "XR CHEST", 60)
    ds = cxr_dataset(
        info, np.zeros((4, 4), np.float32), 0.4, "PA", CxrEncoding("DX", "MONOCHROME2", 12, 1, 0), "1.2.4", "1.2.5", 1
    )
    ds.OtherPatientIDs = ["A1", "B2"]
    known = KnownIdentifiers.from_dataset(ds)
    ref = p.referring_physician
    assert set(known.names) == {p.dicom_name, f"{ref[1]}^{ref[0]}"}
    assert {p.mrn, "XR123456789"} <= set(known.ids) and {"A1", "B2"} <= set(known.ids)
    assert p.address in known.addresses and known.phones == (p.phone,)
    assert KnownIdentifiers.from_dataset(pydicom.Dataset()) == KnownIdentifiers()


def _header(rng: np.random.Generator, modality: str, patient, when: dt.date) -> pydicom.Dataset:
    """The header the study's files would carry (what ingest builds KnownIdentifiers from)."""
    accession = f"{'XR' if modality == 'cxr' else 'CT'}{int(rng.integers(10**8, 10**9))}"
    info = StudyInfo(patient, "1.2.3", accession, when, "101500", "STUDY", patient.age_at(when))
    if modality == "cxr":
        enc = CxrEncoding("DX", "MONOCHROME2", 12, 1.0, 0.0)
        return cxr_dataset(info, np.zeros((4, 4), np.float32), 0.4, "PA", enc, "1.2.4", "1.2.5", 1)
    enc_ct = CtEncoding(True, 16, -1024.0, False)
    return ct_slice_dataset(info, np.zeros((4, 4), np.int16), (0, 0, 0), (1, 1), 1, enc_ct, "1.2.4", "1.2.5", 1, "1.6")


_CLINICAL_TOKENS = re.compile(
    r"\b\d+ mm\b|\b(?:left|right|bilateral)\b|effusion|pneumothorax|consolidation|nodule|mass\b|atelectasis|edema"
    r"|cardiomegaly|emphysema|cyst|lesion|Bosniak|lobe|lingula|catheter|tube",
    re.IGNORECASE,
)


def test_phantom_reports_lose_all_phi_and_keep_the_findings():
    """300 CXR and CT reports with every PHI slot possible: no planted string survives, the findings all do."""
    rng = np.random.default_rng(2024)
    changed_clean, leaks = 0, []
    for i in range(300):
        modality = "cxr" if i % 2 == 0 else "ct"
        patient, when = make_patient(rng), study_date(rng)
        truth = sample_cxr_findings(rng) if modality == "cxr" else sample_ct_findings(rng)
        views = ("PA", "LL") if modality == "cxr" else ()
        known = KnownIdentifiers.from_dataset(_header(rng, modality, patient, when))
        twin = np.random.default_rng(int(rng.integers(1 << 32)))
        report = write_report(rng, truth, patient, when, views=views, phi_rate=1.0)
        scrubbed = scrub_report(report.text, known)
        leaks += [(s, scrubbed) for s in (*report.phi, *patient.phi_strings()) if s in scrubbed]
        assert _CLINICAL_TOKENS.findall(scrubbed) == _CLINICAL_TOKENS.findall(report.text), scrubbed
        clean = write_report(twin, truth, patient, when, views=views, phi_rate=0.0)
        scrubbed_clean = scrub_report(clean.text, known)
        assert "[NAME]" not in scrubbed_clean, scrubbed_clean
        changed_clean += scrubbed_clean != clean.text
    assert not leaks, leaks[:3]
    assert changed_clean <= 3  # a report without PHI comes back unchanged (or nearly)
