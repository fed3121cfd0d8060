"""Hand-written report sentences in the style of hospital chest X-ray and CT reports, with the labels they should get.

Each case is (text, labels) or (text, labels, sides): labels maps knowledge-graph entity ids to 1 (positive),
0 (negative), -1 (uncertain) or None (not mentioned); sides maps an entity id to the laterality the matcher should
report for its first mention. Only the entities named are checked. Written for this project in our own words.
"""

from __future__ import annotations

NEGATION = [
    (
        "No focal consolidation, pleural effusion, or pneumothorax.",
        {"consolidation": 0, "pleural_effusion": 0, "pneumothorax": 0},
    ),
    ("No pleural effusion or pneumothorax.", {"pleural_effusion": 0, "pneumothorax": 0}),
    ("There is no pneumothorax.", {"pneumothorax": 0}),
    ("Lungs are clear without focal consolidation.", {"consolidation": 0}),
    ("Negative for pneumothorax.", {"pneumothorax": 0}),
    ("The lungs are free of focal airspace disease.", {"consolidation": 0}),
    ("No evidence of pulmonary edema.", {"edema": 0}),
    ("There is no evidence of acute fracture.", {"fracture": 0}),
    ("Pneumothorax is not seen.", {"pneumothorax": 0}),
    ("No pulmonary nodules or masses are identified.", {"lung_nodule": 0, "mass": 0}),
    ("No signs of pneumonia.", {"pneumonia": 0, "consolidation": 0}),
    ("Pulmonary vascular congestion is absent.", {"pulmonary_vascular_congestion": 0}),
    ("No large pleural effusion.", {"pleural_effusion": 0}),
    ("No displaced rib fractures are seen.", {"rib_fracture": 0, "fracture": 0}),
    ("Cardiomediastinal silhouette is within normal limits.", {"enlarged_cardiomediastinum": 0}),
    ("Heart size is normal.", {"cardiomegaly": 0}),
    ("The heart is not enlarged.", {"cardiomegaly": 0}),
    ("Normal heart size without pulmonary edema.", {"cardiomegaly": 0, "edema": 0}),
    (
        "No pneumothorax, pleural effusion, or focal airspace consolidation is seen.",
        {"pneumothorax": 0, "pleural_effusion": 0, "consolidation": 0},
    ),
    ("There is no pleural effusion and no pneumothorax.", {"pleural_effusion": 0, "pneumothorax": 0}),
    ("Neither pneumothorax nor pleural effusion is present.", {"pneumothorax": 0, "pleural_effusion": 0}),
    ("The lungs are clear of consolidation or edema.", {"consolidation": 0, "edema": 0}),
    ("No mediastinal or hilar lymphadenopathy.", {"lymphadenopathy": 0}),
    ("No pericardial effusion.", {"pericardial_effusion": 0, "pleural_effusion": None}),
    ("No free air under the diaphragm.", {"pneumoperitoneum": 0}),
    ("No definite focal consolidation.", {"consolidation": 0}),
    ("No new focal consolidation.", {"consolidation": 0}),
    ("Findings do not suggest pneumonia.", {"pneumonia": 0}),
    ("No focal consolidation to suggest pneumonia.", {"consolidation": 0, "pneumonia": 0}),
    ("No focal opacity concerning for pneumonia.", {"lung_opacity": 0, "pneumonia": 0}),
    ("Mild pulmonary vascular congestion without frank edema.", {"pulmonary_vascular_congestion": 1, "edema": 0}),
    (
        "Mild degenerative changes of the thoracic spine without compression fracture.",
        {"vertebral_compression_fracture": 0, "fracture": 0},
    ),
    ("No suspicious pulmonary nodules.", {"lung_nodule": 0}),
    ("No adrenal nodule.", {"adrenal_nodule": 0}),
    ("No pulmonary embolism.", {"pulmonary_embolism": 0}),
    ("The liver is unremarkable without focal lesion.", {"liver_lesion": 0}),
    ("There is no pneumothorax identified on this exam.", {"pneumothorax": 0}),
    ("No radiographic evidence of pneumonia or edema.", {"pneumonia": 0, "edema": 0}),
]

UNCERTAINTY = [
    ("Possible small left pleural effusion.", {"pleural_effusion": -1}),
    (
        "Patchy left basilar opacity may represent atelectasis or pneumonia.",
        {"lung_opacity": 1, "atelectasis": -1, "pneumonia": -1},
    ),
    ("A small right apical pneumothorax cannot be excluded.", {"pneumothorax": -1}),
    ("Cannot exclude early pneumonia.", {"pneumonia": -1}),
    ("Findings are suggestive of mild pulmonary edema.", {"edema": -1}),
    (
        "Retrocardiac opacity, atelectasis versus consolidation.",
        {"lung_opacity": 1, "atelectasis": -1, "consolidation": -1},
    ),
    ("Questionable tiny left apical pneumothorax.", {"pneumothorax": -1}),
    ("Right lower lobe opacity concerning for pneumonia.", {"lung_opacity": 1, "pneumonia": -1}),
    ("Probable small bilateral pleural effusions.", {"pleural_effusion": -1}),
    ("Likely bibasilar atelectasis.", {"atelectasis": -1}),
    ("Differential includes aspiration or infection.", {"aspiration_pneumonia": -1, "pneumonia": -1}),
    ("Mild interstitial prominence could be due to edema.", {"interstitial_opacity": 1, "edema": -1}),
    ("Subtle opacity at the right base, possibly atelectasis.", {"lung_opacity": 1, "atelectasis": -1}),
    ("Borderline cardiomegaly.", {"cardiomegaly": -1}),
    ("The heart is borderline enlarged.", {"cardiomegaly": -1}),
    ("Suspected right middle lobe pneumonia.", {"pneumonia": -1}),
    ("Cannot rule out a small pneumothorax.", {"pneumothorax": -1}),
    ("Increased opacity in the left lower lobe suspicious for pneumonia.", {"pneumonia": -1}),
    ("Pneumonia is not excluded.", {"pneumonia": -1}),
    (
        "Hazy opacity may reflect overlying soft tissue, although developing consolidation is possible.",
        {"lung_opacity": 1, "consolidation": -1},
    ),
    ("Questionable nodular opacity in the right upper lobe.", {"lung_nodule": -1}),
    (
        "Possible trace left pleural effusion versus pleural thickening.",
        {"pleural_effusion": -1, "pleural_thickening": -1},
    ),
    ("Apparent right apical pneumothorax is likely a skin fold.", {"pneumothorax": -1}),
    (
        "Right basilar opacity could represent atelectasis; pneumonia is less likely.",
        {"atelectasis": -1, "pneumonia": -1},
    ),
    (
        "There is increased opacity at the left base which may represent atelectasis.",
        {"lung_opacity": 1, "atelectasis": -1},
    ),
    ("Tiny left pleural effusion is not excluded.", {"pleural_effusion": -1}),
    ("Left lower lobe mass measuring 3.4 cm, concerning for primary lung malignancy.", {"mass": 1, "lung_cancer": -1}),
    ("Several hepatic hypodensities, likely cysts.", {"liver_lesion": 1, "cyst": -1}),
    ("Small effusion or atelectasis at the right base.", {"pleural_effusion": -1, "atelectasis": -1}),
    ("Equivocal small nodular opacity in the left mid lung, which could be a nipple shadow.", {"lung_nodule": -1}),
    ("Correlate clinically for pneumonia.", {"pneumonia": -1}),
]

LATERALITY = [
    ("Small left pleural effusion.", {"pleural_effusion": 1}, {"pleural_effusion": "left"}),
    (
        "Moderate right-sided pleural effusion with adjacent compressive atelectasis.",
        {"pleural_effusion": 1, "atelectasis": 1},
        {"pleural_effusion": "right", "atelectasis": None},
    ),
    (
        "Bilateral pleural effusions, left greater than right.",
        {"pleural_effusion": 1},
        {"pleural_effusion": "bilateral"},
    ),
    ("Bibasilar atelectasis.", {"atelectasis": 1}, {"atelectasis": "bilateral"}),
    ("Patchy opacities in both lungs.", {"lung_opacity": 1}, {"lung_opacity": "bilateral"}),
    ("Right upper lobe consolidation.", {"consolidation": 1}, {"consolidation": "right"}),
    ("Consolidation in the left lower lobe.", {"consolidation": 1}, {"consolidation": "left"}),
    ("A 6 mm nodule in the right middle lobe.", {"lung_nodule": 1}, {"lung_nodule": "right"}),
    ("Left-sided chest tube in place.", {"chest_tube": 1, "support_devices": 1}, {"chest_tube": "left"}),
    ("Small right apical pneumothorax.", {"pneumothorax": 1}, {"pneumothorax": "right"}),
    (
        "Right lower lobe consolidation and small left effusion.",
        {"consolidation": 1, "pleural_effusion": 1},
        {"consolidation": "right", "pleural_effusion": "left"},
    ),
    (
        "Patchy consolidation in the right lower lobe with air bronchograms.",
        {"consolidation": 1},
        {"consolidation": "right"},
    ),
    (
        "Large right pleural effusion with compressive atelectasis of the right lower lobe.",
        {"pleural_effusion": 1, "atelectasis": 1},
        {"pleural_effusion": "right", "atelectasis": "right"},
    ),
    (
        "Dual-chamber pacemaker with leads in the right atrium and right ventricle.",
        {"pacemaker": 1, "support_devices": 1},
        {"pacemaker": None},
    ),
    (
        "Left PICC line terminates in the mid SVC.",
        {"picc": 1, "central_venous_catheter": 1, "support_devices": 1},
        {"picc": "left"},
    ),
    (
        "Right chest tube remains in place, with no residual pneumothorax.",
        {"chest_tube": 1, "pneumothorax": 0},
        {"chest_tube": "right"},
    ),
    (
        "Scattered ground-glass opacities in both lower lobes.",
        {"ground_glass_opacity": 1, "lung_opacity": 1},
        {"ground_glass_opacity": "bilateral"},
    ),
    ("Simple cyst in the lower pole of the left kidney.", {"kidney_cyst": 1}, {"kidney_cyst": "left"}),
    (
        "Bilateral renal cysts, the largest measuring 2.3 cm on the left.",
        {"kidney_cyst": 1},
        {"kidney_cyst": "bilateral"},
    ),
    ("Moderate right hydronephrosis.", {"hydronephrosis": 1}, {"hydronephrosis": "right"}),
    ("Healed left rib fractures.", {"rib_fracture": 1, "fracture": 1}, {"rib_fracture": "left"}),
    ("On the right, there is a small pleural effusion.", {"pleural_effusion": 1}, {"pleural_effusion": "right"}),
    (
        "Cardiomegaly with small bilateral effusions.",
        {"cardiomegaly": 1, "pleural_effusion": 1},
        {"cardiomegaly": None, "pleural_effusion": "bilateral"},
    ),
    ("8 mm solid nodule in the right upper lobe (series 3, image 45).", {"lung_nodule": 1}, {"lung_nodule": "right"}),
]

CHANGE = [
    ("Interval resolution of the left pleural effusion.", {"pleural_effusion": 0}),
    ("The right pneumothorax has resolved.", {"pneumothorax": 0}),
    ("Previously seen left lower lobe consolidation has resolved.", {"consolidation": 0}),
    ("Pneumothorax is no longer visualized.", {"pneumothorax": 0}),
    ("The endotracheal tube has been removed.", {"endotracheal_tube": 0, "support_devices": 0}),
    (
        "Interval removal of the right internal jugular central venous catheter.",
        {"central_venous_catheter": 0, "support_devices": 0},
    ),
    ("Unchanged moderate cardiomegaly.", {"cardiomegaly": 1}),
    ("Stable small left pleural effusion.", {"pleural_effusion": 1}),
    ("Persistent right lower lobe consolidation.", {"consolidation": 1}),
    ("Again seen is a 1.2 cm nodule in the left upper lobe.", {"lung_nodule": 1}),
    ("No change in the small bilateral pleural effusions.", {"pleural_effusion": 1}),
    ("Cardiomegaly is unchanged.", {"cardiomegaly": 1}),
    ("No significant interval change in mild pulmonary edema.", {"edema": 1}),
    ("Stable appearance of the left chest wall pacemaker.", {"pacemaker": 1, "support_devices": 1}),
    (
        "Resolved right pneumothorax. Persistent small left pleural effusion.",
        {"pneumothorax": 0, "pleural_effusion": 1},
    ),
    (
        "Resolved right pneumothorax, persistent small left pleural effusion.",
        {"pneumothorax": 0, "pleural_effusion": 1},
    ),
    ("Near complete resolution of the right upper lobe pneumonia.", {"pneumonia": 0}),
    ("Interval improvement but persistent bibasilar atelectasis.", {"atelectasis": 1}),
    ("Left pleural effusion has decreased in size.", {"pleural_effusion": 1}),
    ("Pulmonary edema has improved but not resolved.", {"edema": 1}),
    ("Small left apical pneumothorax, decreased from prior.", {"pneumothorax": 1}),
    ("Moderate hiatal hernia is again noted.", {"hiatal_hernia": 1, "hernia": 1}),
    ("Ground-glass nodule in the left upper lobe measuring 9 mm, unchanged.", {"lung_nodule": 1}),
    ("Tracheostomy tube in unchanged position.", {"tracheostomy_tube": 1, "support_devices": 1}),
    ("The previously noted right pleural effusion is no longer present.", {"pleural_effusion": 0}),
    ("Redemonstrated small right pneumothorax, not significantly changed.", {"pneumothorax": 1}),
]

LISTS_AND_MULTI = [
    ("No effusion or pneumothorax.", {"pleural_effusion": 0, "pneumothorax": 0}),
    ("No consolidation, effusion, or pneumothorax.", {"consolidation": 0, "pleural_effusion": 0, "pneumothorax": 0}),
    ("No pneumothorax, pleural effusion, or pulmonary edema.", {"pneumothorax": 0, "pleural_effusion": 0, "edema": 0}),
    (
        "There is no pulmonary edema, focal consolidation, pleural effusion or pneumothorax.",
        {"edema": 0, "consolidation": 0, "pleural_effusion": 0, "pneumothorax": 0},
    ),
    ("No acute fracture or dislocation.", {"fracture": 0}),
    ("No effusion, small right pneumothorax.", {"pleural_effusion": 0, "pneumothorax": 1}),
    ("No pneumothorax, but there is a small left pleural effusion.", {"pneumothorax": 0, "pleural_effusion": 1}),
    ("No pleural effusion; mild cardiomegaly.", {"pleural_effusion": 0, "cardiomegaly": 1}),
    ("No pneumothorax. Cardiomegaly is stable.", {"pneumothorax": 0, "cardiomegaly": 1}),
    (
        "No focal consolidation; however, there is mild pulmonary vascular congestion.",
        {"consolidation": 0, "pulmonary_vascular_congestion": 1},
    ),
    ("No effusion, cardiomegaly is stable.", {"pleural_effusion": 0, "cardiomegaly": 1}),
    ("No pneumothorax and mild bibasilar atelectasis.", {"pneumothorax": 0, "atelectasis": 1}),
    ("Cardiomegaly with small bilateral pleural effusions.", {"cardiomegaly": 1, "pleural_effusion": 1}),
    (
        "Moderate pulmonary edema, cardiomegaly and bilateral pleural effusions, consistent with congestive heart "
        "failure.",
        {"edema": 1, "cardiomegaly": 1, "pleural_effusion": 1, "heart_failure": 1},
    ),
    (
        "Right lower lobe consolidation with a small parapneumonic effusion.",
        {"consolidation": 1, "pleural_effusion": 1},
    ),
    (
        "Endotracheal tube terminates 4 cm above the carina and an enteric tube courses below the diaphragm.",
        {"endotracheal_tube": 1, "nasogastric_tube": 1, "support_devices": 1},
    ),
    ("Stable cardiomegaly without pulmonary edema.", {"cardiomegaly": 1, "edema": 0}),
    ("Stable cardiomegaly without edema or effusion.", {"cardiomegaly": 1, "edema": 0, "pleural_effusion": 0}),
    (
        "Left lower lobe atelectasis and small left effusion, no pneumothorax.",
        {"atelectasis": 1, "pleural_effusion": 1, "pneumothorax": 0},
    ),
    ("Hyperinflated lungs consistent with emphysema.", {"hyperinflation": 1, "emphysema": 1}),
    ("Multiple bilateral pulmonary nodules, compatible with metastatic disease.", {"lung_nodule": 1, "metastasis": 1}),
    (
        "Right internal jugular central venous catheter terminates in the lower SVC. No pneumothorax.",
        {"central_venous_catheter": 1, "support_devices": 1, "pneumothorax": 0},
    ),
    ("Sternotomy wires are intact.", {"sternotomy_wires": 1, "support_devices": None}),
    ("Atelectasis rather than pneumonia.", {"atelectasis": 1, "pneumonia": 0}),
    ("Minimal linear atelectasis at the left base.", {"atelectasis": 1}),
    ("Trace right pleural effusion with adjacent atelectasis.", {"pleural_effusion": 1, "atelectasis": 1}),
    ("Centrilobular emphysema with upper lobe predominance.", {"emphysema": 1}),
    ("Small pericardial effusion. No pleural effusion.", {"pericardial_effusion": 1, "pleural_effusion": 0}),
    ("A 1.5 cm hypodense lesion in hepatic segment 7, too small to characterize.", {"liver_lesion": 1}),
    ("Small hiatal hernia.", {"hiatal_hernia": 1}),
    ("Cholelithiasis without evidence of cholecystitis.", {"cholelithiasis": 1}),
    ("Mild hepatic steatosis.", {"hepatic_steatosis": 1}),
    ("Mild bronchial wall thickening.", {"bronchial_wall_thickening": 1}),
    ("Coronary artery calcifications.", {"coronary_artery_calcification": 1}),
    ("Nasogastric tube tip is in the stomach.", {"nasogastric_tube": 1, "support_devices": 1}),
    ("ET tube tip is 5 cm above the carina.", {"endotracheal_tube": 1}),
    ("The cardiac silhouette is enlarged.", {"cardiomegaly": 1}),
    ("Mild enlargement of the cardiac silhouette.", {"cardiomegaly": 1}),
    ("The heart is moderately enlarged.", {"cardiomegaly": 1}),
    ("No acute cardiopulmonary process.", {"no_finding": 1}),
    ("Small left effusion. No pleural effusion on the right.", {"pleural_effusion": 1}),
    ("Hyperexpanded lungs, otherwise clear. No pneumothorax.", {"hyperinflation": 1, "pneumothorax": 0}),
    (
        "There is a 2.1 cm simple cyst in the right kidney and a 1.1 cm hepatic hypodensity.",
        {"kidney_cyst": 1, "liver_lesion": 1},
    ),
    (
        "Small bilateral effusions with bibasilar compressive atelectasis; no pneumothorax.",
        {"pleural_effusion": 1, "atelectasis": 1, "pneumothorax": 0},
    ),
    (
        "Emphysema. No pneumothorax or pleural effusion. Stable 4 mm left lower lobe nodule.",
        {"emphysema": 1, "pneumothorax": 0, "pleural_effusion": 0, "lung_nodule": 1},
    ),
]

# Longer sentences of the kind seen in portable ICU and follow-up films.
FOLLOW_UP = [
    (
        "There is no focal consolidation, and no pleural effusion or pneumothorax is seen.",
        {"consolidation": 0, "pleural_effusion": 0, "pneumothorax": 0},
    ),
    ("The lung volumes are low, and there is bibasilar atelectasis.", {"atelectasis": 1}, {"atelectasis": "bilateral"}),
    ("No pneumothorax is detected after removal of the left chest tube.", {"pneumothorax": 0, "chest_tube": 0}),
    (
        "Small left pleural effusion and adjacent atelectasis are slightly improved.",
        {"pleural_effusion": 1, "atelectasis": 1},
    ),
    ("There is mild interstitial edema, not significantly changed from the prior exam.", {"edema": 1}),
    (
        "Opacity at the right lung base is most likely atelectasis, but pneumonia cannot be entirely excluded.",
        {"lung_opacity": 1, "atelectasis": -1, "pneumonia": -1},
        {"lung_opacity": "right"},
    ),
    (
        "Left retrocardiac opacity, likely atelectasis, less likely pneumonia.",
        {"lung_opacity": 1, "atelectasis": -1, "pneumonia": -1},
    ),
    (
        "No evidence of pneumothorax or large pleural effusion, though a small effusion may be present.",
        {"pneumothorax": 0, "pleural_effusion": -1},
    ),
    ("The right PICC line has been pulled back and now terminates in the mid SVC.", {"picc": 1}, {"picc": "right"}),
    ("Moderate cardiomegaly is re-demonstrated.", {"cardiomegaly": 1}),
    (
        "Elevated left hemidiaphragm with adjacent atelectasis.",
        {"elevated_hemidiaphragm": 1, "atelectasis": 1},
        {"elevated_hemidiaphragm": "left"},
    ),
    ("There is a new right upper lobe opacity worrisome for pneumonia.", {"lung_opacity": 1, "pneumonia": -1}),
    ("No overt pulmonary edema.", {"edema": 0}),
    ("Pleural effusions have decreased bilaterally.", {"pleural_effusion": 1}, {"pleural_effusion": "bilateral"}),
    (
        "Right-sided Port-A-Cath with tip at the cavoatrial junction.",
        {"central_venous_catheter": 1},
        {"central_venous_catheter": "right"},
    ),
    (
        "There is no definite evidence of a pneumothorax; however, a tiny apical pneumothorax is difficult to exclude.",
        {"pneumothorax": -1},
    ),
    ("Mild vascular congestion without overt edema.", {"pulmonary_vascular_congestion": 1, "edema": 0}),
    (
        "Lungs are clear, with no effusion, consolidation or pneumothorax.",
        {"pleural_effusion": 0, "consolidation": 0, "pneumothorax": 0},
    ),
    (
        "Compared to the prior study, there is no significant interval change in the moderate right pleural effusion.",
        {"pleural_effusion": 1},
        {"pleural_effusion": "right"},
    ),
    (
        "Dobhoff tube tip projects over the stomach; the previously seen nasogastric tube has been removed.",
        {"nasogastric_tube": 1},
    ),
]

# Whole reports: what is written outside FINDINGS and IMPRESSION must not count.
REPORTS = [
    ("INDICATION: Evaluate for pneumonia.\nFINDINGS: The lungs are clear.", {"pneumonia": None}),
    (
        "CLINICAL HISTORY: Fever, rule out pneumothorax.\n\nIMPRESSION: No acute cardiopulmonary process.",
        {"pneumothorax": None, "no_finding": 1},
    ),
    (
        "COMPARISON: Chest radiograph with left pleural effusion.\nFINDINGS: No pleural effusion.",
        {"pleural_effusion": 0},
    ),
    (
        "TECHNIQUE: Portable AP view.\nFINDINGS: Stable cardiomegaly.\nIMPRESSION: Cardiomegaly without edema.",
        {"cardiomegaly": 1, "edema": 0},
    ),
    (
        "HISTORY: Intubated patient, assess endotracheal tube.\nFINDINGS:\nEndotracheal tube has been removed. "
        "Lungs are clear.\nIMPRESSION:\n1. Interval extubation.\n2. No acute process.",
        {"endotracheal_tube": 0},
    ),
    (
        "REASON FOR EXAM: Shortness of breath, history of CHF.\nFINDINGS: Mild cardiomegaly. No edema.\nIMPRESSION: "
        "Mild cardiomegaly without pulmonary edema.",
        {"heart_failure": None, "cardiomegaly": 1, "edema": 0},
    ),
    (
        "Findings: Small right pleural effusion.\nImpression: Possible small right pleural effusion.",
        {"pleural_effusion": 1},
    ),
    (
        "FINDINGS: Possible left lower lobe consolidation.\nIMPRESSION: No definite consolidation.",
        {"consolidation": -1},
    ),
]

CASES = NEGATION + UNCERTAINTY + LATERALITY + CHANGE + LISTS_AND_MULTI + FOLLOW_UP + REPORTS
