"""Word lists of the report matcher: fillers, cue helpers, normal statements that deny a finding, barrier and
side words, organs and their adjectives. Data for match.py, kept apart so the wording can grow on its own.
"""

from __future__ import annotations

FILLERS = frozenset(
    "mildly moderately markedly severely slightly minimally massively significantly again still now "
    "stably also not borderline left right bilateral".split()
)
CUE_FILLERS = frozenset("entirely completely definitely totally fully definitively".split())
GENERIC = "__generic__"  # a head word that names an entity only with an organ beside it
GENERIC_FORMS = "lesion|lesions|hypodensity|hypodensities|hypoattenuating lesion|focal lesion"
BLOCKED = "mass effect"  # looks like a form but names no finding
NORMAL_STATEMENTS = {  # statements that deny a finding without a cue word
    "cardiomegaly": "heart size is normal|heart size normal|normal heart size|heart is normal in size|"
    "heart size is within normal limits|heart size within normal limits|cardiac silhouette is normal|"
    "cardiac silhouette is normal in size|cardiac silhouette is within normal limits|normal cardiac silhouette|"
    "cardiac size is normal|heart size is not enlarged|normal sized heart|normal size heart|normal cardiac size",
    "enlarged_cardiomediastinum": "normal cardiomediastinal silhouette|normal cardiomediastinal contours|"
    "cardiomediastinal silhouette is normal|cardiomediastinal silhouette is within normal limits|"
    "cardiomediastinal silhouette is unremarkable|cardiomediastinal contours are normal|"
    "cardiomediastinal contours are within normal limits",
}
# Cue phrases by (status, direction). 'pre' cues govern what follows them in the clause, 'post' cues what precedes
# them (back to a comma), 'both' either side. 'weak' uncertainty leaves an active negation alone ('no consolidation
# suggestive of pneumonia'); 'pseudo' ends one ('no change in the effusion'); 'break' starts a new clause.
CUES: dict[tuple[str, str], str] = {
    ("neg", "pre"): "no|not|without|negative for|free of|clear of|absence of|rather than|no evidence of|never|neither|"
    "nor|no longer|resolution of|interval resolution of|removal of|interval removal of|no signs of|no sign of",
    ("neg", "post"): "not seen|not identified|not visualized|not visible|not appreciated|not present|not demonstrated|"
    "not evident|not detected|not noted|absent|has resolved|have resolved|no longer seen|no longer visualized|"
    "no longer visible|no longer present|no longer evident|no longer identified|no longer demonstrated|"
    "no longer appreciated|removed|has been removed|have been removed|ruled out|excluded|is negative|are negative",
    ("neg", "both"): "resolved",
    ("unc", "pre"): "possible|possibly|probable|probably|likely|most likely|may|might|could|cannot exclude|"
    "can not exclude|can t exclude|cannot rule out|can not rule out|questionable|question of|questioned|suspected|"
    "suspect|suspicion of|equivocal|borderline|differential includes|differential diagnosis|presumed|presumably|"
    "differential considerations include|evaluate for|evaluation for|assess for|correlate for|rule out|r / o|?|"
    "correlate clinically for|clinical correlation for",
    ("weak", "pre"): "suspicious for|suggestive of|suggesting|suggests|concerning for|concern for|worrisome for|"
    "raising concern for",
    ("unc", "post"): "cannot be excluded|can not be excluded|not excluded|cannot be ruled out|can not be ruled out|"
    "not ruled out|difficult to exclude|may be present|might be present|could be present|is possible|are possible|"
    "is suspected|are suspected|is questioned|is likely|are likely|is probable|is questionable|is not excluded|"
    "is a consideration",
    ("unc", "both"): "versus|vs|unlikely|less likely",
    ("pseudo", "pre"): "no change|no interval change|no significant change|no significant interval change|"
    "no appreciable change|no definite change|without change|without interval change|without significant change|"
    "no increase|no decrease|no significant increase|no significant decrease|not significantly changed|"
    "not changed|no other change|no substantial change|gram negative",
    ("break", ""): ";|:|but|however|although|though|whereas|which|except|except for|other than|apart from|"
    "aside from|with the exception of|yet|while",
}
# After ',' or 'and' inside a cue's scope, a word of ASSERT (or a PREDICATE further on) opens a new statement.
ASSERT = frozenset(
    "small moderate large mild marked severe trace tiny minimal patchy there the a an left right bilateral bibasilar "
    "stable unchanged persistent again increased increasing decreased decreasing improved improving worsening "
    "worsened interval redemonstrated residual new status otherwise moderately mildly markedly severely extensive "
    "scattered multiple several few numerous dense diffuse subtle subsegmental linear streaky layering loculated "
    "persisting redemonstration".split()
)
PREDICATE = frozenset(
    "stable unchanged persists persist persistent remains remain redemonstrated increased "
    "decreased improved improving worsened worsening enlarged".split()
)
# Words that end a premodifier: a side word before one of them belongs to the mention before it.
BARRIER = frozenset(
    ", and or with in at on of within along from to into without involving near overlying "
    "projecting over is are".split()
)
SIDE = {"left": "left", "right": "right"} | dict.fromkeys(
    "bilateral bilaterally bibasilar bibasal bibasally biapical".split(), "bilateral"
)
BOTH = frozenset("lungs lung bases sides hemithoraces apices lower upper pleural".split())  # 'both lungs'
ORGANS = dict(  # organ -> its adjective
    pair.split(":")
    for pair in "liver:hepatic kidney:renal spleen:splenic adrenal_gland:adrenal pancreas:pancreatic "
    "gallbladder:gallbladder lung:pulmonary".split()
)
ADJECTIVE_ORGAN = {adj: organ for organ, adj in ORGANS.items()}
MIDLINE = ("heart", "mediastinum")  # 'right atrium' names a chamber, not a side of the patient
