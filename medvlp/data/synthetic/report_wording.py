"""The fixed wording of phantom reports: normal statements and pertinent negatives per finding, asides that name
no finding, section groupings and impression order, indications. Data for reports.py, which composes them.
"""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------------- normal statements, negatives


@dataclass(frozen=True)
class Slot:
    """A normal statement of a findings group, said with probability p; the first choice whose findings are all
    absent is used. Pseudo findings: "tension" (mediastinal shift drawn) and "ap" (AP view)."""

    group: str
    p: float
    choices: tuple[tuple[frozenset[str], tuple[str, ...]], ...]


def fs(*names: str) -> frozenset[str]:
    return frozenset(names)


CXR_LUNG = fs("consolidation", "nodule", "mass", "atelectasis", "edema", "pneumothorax", "pleural_effusion")
CMS = (
    "The cardiomediastinal silhouette is within normal limits.",
    "Normal heart size and mediastinal contours.",
    "Heart size and mediastinal contours are within normal limits.",
    "Cardiomediastinal silhouette is unremarkable.",
)
CMS_AP = (
    "The cardiomediastinal silhouette is within normal limits given AP technique.",
    "Heart size is within normal limits for a portable AP radiograph.",
)
HEART = ("Heart size is normal.", "Normal heart size.", "The heart is not enlarged.")
CXR_NEGATIVES = (
    Slot(
        "lungs",
        0.85,
        (
            (
                CXR_LUNG,
                ("The lungs are clear.", "Lungs are clear.", "The lungs are well expanded and clear.", "Clear lungs."),
            ),
        ),
    ),
    Slot(
        "lungs",
        0.35,
        (
            (
                fs("consolidation"),
                ("No focal consolidation.", "No focal airspace consolidation.", "There is no focal consolidation."),
            ),
        ),
    ),
    Slot(
        "lungs",
        0.25,
        (
            (
                fs("edema"),
                (
                    "No pulmonary edema.",
                    "No evidence of pulmonary edema.",
                    "Pulmonary vascularity is within normal limits.",
                ),
            ),
        ),
    ),
    Slot(
        "lungs",
        0.15,
        ((fs("nodule", "mass"), ("No suspicious pulmonary nodule or mass.", "No pulmonary nodules or masses.")),),
    ),
    Slot(
        "pleura",
        0.9,
        (
            (
                fs("pleural_effusion", "pneumothorax"),
                (
                    "No pleural effusion or pneumothorax.",
                    "No pleural effusion. No pneumothorax.",
                    "There is no pleural effusion or pneumothorax.",
                    "No pneumothorax or pleural effusion.",
                ),
            ),
            (
                fs("pleural_effusion"),
                ("No pleural effusion.", "No pleural effusions.", "There is no pleural effusion."),
            ),
            (fs("pneumothorax"), ("No pneumothorax.", "There is no pneumothorax.", "No evidence of pneumothorax.")),
        ),
    ),
    Slot(
        "heart",
        0.85,
        (
            (fs("cardiomegaly", "tension", "ap"), CMS + HEART),
            (fs("cardiomegaly", "tension"), CMS_AP),
            (fs("cardiomegaly"), HEART),
        ),
    ),
    Slot(
        "bones",
        0.5,
        (
            (
                fs(),
                (
                    "No acute osseous abnormality.",
                    "The visualized osseous structures are intact.",
                    "No acute bony abnormality.",
                    "Osseous structures are unremarkable.",
                ),
            ),
        ),
    ),
    Slot("devices", 0.05, ((fs("support_devices"), ("No lines or tubes.",)),)),
)
CT_NEGATIVES = (
    Slot(
        "lungs",
        0.8,
        ((fs("lung_nodule", "consolidation", "emphysema"), ("The lungs are clear.", "Lungs are clear.")),),
    ),
    Slot(
        "lungs",
        0.5,
        (
            (
                fs("lung_nodule"),
                (
                    "No suspicious pulmonary nodules.",
                    "No pulmonary nodules.",
                    "No suspicious pulmonary nodule or mass.",
                ),
            ),
        ),
    ),
    Slot("lungs", 0.4, ((fs("consolidation"), ("No focal consolidation.", "No airspace consolidation.")),)),
    Slot("lungs", 0.5, ((fs(), ("The central airways are patent.", "The trachea and central bronchi are patent.")),)),
    Slot(
        "pleura",
        0.9,
        (
            (
                fs("pleural_effusion"),
                ("No pleural effusion.", "No pleural effusions.", "There is no pleural effusion."),
            ),
        ),
    ),
    Slot(
        "heart",
        0.8,
        (
            (
                fs("pericardial_effusion"),
                (
                    "No pericardial effusion.",
                    "Heart size is normal. No pericardial effusion.",
                    "Heart size is normal without pericardial effusion.",
                ),
            ),
            (fs(), ("Heart size is normal.",)),
        ),
    ),
    Slot(
        "heart",
        0.6,
        (
            (
                fs(),
                (
                    "No mediastinal or hilar lymphadenopathy.",
                    "No enlarged mediastinal lymph nodes.",
                    "The thoracic aorta is normal in caliber.",
                ),
            ),
        ),
    ),
    Slot(
        "abdomen",
        0.8,
        (
            (
                fs("liver_lesion"),
                (
                    "The liver is unremarkable.",
                    "No focal hepatic lesion.",
                    "The liver is normal in size and attenuation.",
                ),
            ),
        ),
    ),
    Slot(
        "abdomen",
        0.7,
        (
            (
                fs("kidney_cyst"),
                (
                    "The kidneys are unremarkable.",
                    "No focal renal abnormality.",
                    "The visualized kidneys are unremarkable.",
                ),
            ),
        ),
    ),
    Slot(
        "abdomen",
        0.5,
        (
            (
                fs(),
                (
                    "The spleen, pancreas and adrenal glands are unremarkable.",
                    "The visualized spleen and adrenal glands are unremarkable.",
                ),
            ),
        ),
    ),
    Slot(
        "bones",
        0.5,
        (
            (
                fs(),
                (
                    "No acute osseous abnormality.",
                    "No aggressive osseous abnormality.",
                    "The osseous structures are intact.",
                ),
            ),
        ),
    ),
)
# Asides for realism: (group, sentence); none names a catalogue finding.
ASIDES: dict[str, tuple[tuple[str, str], ...]] = {
    "cxr": (
        ("heart", "Atherosclerotic calcification of the aortic arch."),
        ("heart", "Tortuous thoracic aorta."),
        ("bones", "Degenerative changes of the thoracic spine."),
        ("bones", "Old healed rib fractures."),
        ("bones", "Mild thoracic kyphosis."),
        ("bones", "Degenerative changes of both shoulders."),
    ),
    "ct": (
        ("heart", "Coronary artery calcifications."),
        ("heart", "Atherosclerotic calcification of the aorta."),
        ("abdomen", "Small hiatal hernia."),
        ("abdomen", "Cholelithiasis."),
        ("bones", "Multilevel degenerative changes of the thoracic spine."),
        ("bones", "Old healed rib fracture."),
    ),
}
NORMAL_IMPRESSIONS = {
    "cxr": ("Normal chest radiograph.", "No radiographic evidence of acute cardiopulmonary disease."),
    "ct": ("Unremarkable CT of the chest and upper abdomen.", "Normal CT of the chest."),
}
NO_ACUTE = {
    "cxr": (
        "No acute cardiopulmonary process.",
        "No acute cardiopulmonary abnormality.",
        "No acute intrathoracic abnormality.",
    ),
    "ct": ("No acute abnormality in the chest or upper abdomen.", "No acute intrathoracic abnormality."),
}
GROUPS = {
    "cxr": ("devices", "lungs", "pleura", "heart", "bones"),
    "ct": ("lungs", "pleura", "heart", "abdomen", "bones"),
}
GROUP_TITLES = {
    "devices": "",
    "lungs": "Lungs",
    "pleura": "Pleura",
    "heart": "Heart and mediastinum",
    "abdomen": "Upper abdomen",
    "bones": "Bones and soft tissues",
}
IMPRESSION_ORDER = {
    "cxr": (
        "pneumothorax",
        "consolidation",
        "edema",
        "pleural_effusion",
        "cardiomegaly",
        "mass",
        "nodule",
        "atelectasis",
        "support_devices",
    ),
    "ct": (
        "consolidation",
        "pleural_effusion",
        "pericardial_effusion",
        "liver_lesion",
        "lung_nodule",
        "emphysema",
        "kidney_cyst",
    ),
}
CHF_ENDINGS = (
    ", consistent with congestive heart failure.",
    ", compatible with congestive heart failure.",
    ". Findings are consistent with congestive heart failure.",
    ", consistent with fluid overload.",
)
COMPLAINTS = {
    "cxr": (
        "shortness of breath",
        "cough",
        "fever and cough",
        "chest pain",
        "dyspnea",
        "hypoxia",
        "preoperative evaluation",
        "fall",
        "weakness",
        "follow-up",
    ),
    "ct": (
        "cough",
        "weight loss",
        "smoking history",
        "follow-up of prior imaging",
        "abdominal pain",
        "dyspnea",
        "staging of known malignancy",
        "chest pain",
    ),
}
DEVICE_COMPLAINTS = {"ett": "intubated patient", "cvc": "line placement", "ngt": "tube placement"}
