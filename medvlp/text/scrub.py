"""Scrub PHI from free-text radiology reports, keeping the clinical text intact.

Two sources of evidence, applied in this order:
1. what the study's own DICOM header says (`KnownIdentifiers`): the patient's and physicians' names in any
   written form, the MRN and accession with or without their letter prefix, the address and phone numbers;
2. patterns for PHI the header cannot know: names after titles (Dr., Mr., Mrs., Ms.), after signature and
   header labels ("Dictated by", "Electronically signed by:", "Patient:") or before degrees (", MD"); dates in
   numeric and spelled-out forms; phone numbers and extensions; street addresses; e-mail addresses; ID-like
   digit runs (6+ digits, or letters followed by 6+ digits); ages of 90 and over (HIPAA safe harbor).

Each is replaced by a bracketed placeholder: [NAME], [ID], [DATE], [PHONE], [ADDRESS], [EMAIL], [AGE].
Kept on purpose: times of day ("at 14:20"), years alone, measurements ("12 mm", "3-5 cm"), vertebral levels
("T10", "C7") and capitalised clinical words: names are only taken from context, never from capitalisation
alone. Hence a known family name standing alone without a title ("Smith reports") is not found.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import pydicom

NAME, ID, DATE, PHONE, ADDRESS, EMAIL, AGE = "[NAME]", "[ID]", "[DATE]", "[PHONE]", "[ADDRESS]", "[EMAIL]", "[AGE]"

_NAME_KEYWORDS = ("PatientName", "OtherPatientNames", "PatientBirthName", "PatientMotherBirthName")
_ID_KEYWORDS = (
    "PatientID",
    "OtherPatientIDs",
    "AccessionNumber",
    "StudyID",
    "AdmissionID",
    "MedicalRecordLocator",
    "RequestedProcedureID",
    "PerformedProcedureStepID",
    "ScheduledProcedureStepID",
)
_ADDRESS_KEYWORDS = ("PatientAddress", "ReferringPhysicianAddress", "InstitutionAddress", "PersonAddress")
_PHONE_KEYWORDS = (
    "PatientTelephoneNumbers",
    "ReferringPhysicianTelephoneNumbers",
    "PersonTelephoneNumbers",
    "OrderCallbackPhoneNumber",
)


@dataclass(frozen=True)
class KnownIdentifiers:
    """Identifiers the study's headers tell us, searched for in every written form in addition to the patterns."""

    names: tuple[str, ...] = ()  # DICOM PN "Family^Given^Middle", "Family, Given" or "Given Family"
    ids: tuple[str, ...] = ()  # MRN, accession number
    addresses: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()

    @classmethod
    def from_dataset(cls, ds: pydicom.Dataset) -> KnownIdentifiers:
        """Every person name (any PN element, nested ones too), ID, address and phone number in the header."""
        names, ids, addresses, phones = [], [], [], []
        for elem in ds.iterall():
            if elem.value in (None, "") or elem.VR == "SQ":
                continue
            values = [str(v) for v in elem.value] if elem.VM > 1 else [str(elem.value)]
            if elem.VR == "PN" or elem.keyword in _NAME_KEYWORDS:
                names += values
            elif elem.keyword in _ID_KEYWORDS:
                ids += values
            elif elem.keyword in _ADDRESS_KEYWORDS:
                addresses += values
            elif elem.keyword in _PHONE_KEYWORDS:
                phones += values
        return cls(_unique(names), _unique(ids), _unique(addresses), _unique(phones))


def _unique(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


# ---------------------------------------------------------------------------------------------- known values

_L, _R = r"(?<![A-Za-z])", r"(?![A-Za-z])"
# Dr/Prof in any case; Mr/Ms with or without a period; upper-case MR/MS only with one (MR angiography, MS).
_TITLE = r"\b(?:(?i:dr|doctor|prof)(?:\.[ ]*|[ ]+)|(?:Mr|Mrs|Ms|Mx|Miss)(?:\.[ ]*|[ ]+)|(?:MR|MRS|MS|MISS)\.[ ]*)"


def _words(text: str) -> str:
    """A literal that tolerates any run of whitespace where the original has one."""
    return r"\s+".join(re.escape(w) for w in text.split())


def _name_parts(name: str) -> tuple[str, str, str]:
    """(family, given, middle) of a PN 'Family^Given^Middle^Prefix^Suffix', 'Family, Given' or 'Given Family'."""
    name = name.split("=")[0].strip()  # alphabetic group of a PN only
    if "^" in name:
        parts = [*name.split("^"), "", ""]
        return parts[0].strip(), parts[1].strip(), parts[2].strip()
    if "," in name:
        family, rest = (s.strip() for s in name.split(",", 1))
        words = rest.split()
        return family, words[0] if words else "", " ".join(words[1:])
    words = name.split()
    return (words[-1], " ".join(words[:-1][:1]), " ".join(words[1:-1])) if words else ("", "", "")


def _name_forms(name: str) -> tuple[list[str], list[str]]:
    """Regexes for one known person: (full forms in either order, the family name after a title)."""
    family, given, middle = _name_parts(name)
    if len(family) < 2:
        return [], []
    sep, fam = r"[\s^,]+", _words(family)
    full: list[str] = []
    if given:
        mid = rf"(?:{sep}(?:{_words(middle)}|{re.escape(middle[0])}\.?))?" if middle else ""
        giv = _words(given)
        full += [rf"{giv}{mid}{sep}{fam}", rf"{fam}{sep}{giv}{mid}"]
    return full, [fam]


def _id_patterns(value: str) -> list[tuple[str, str]]:
    """An ID with or without its letter prefix ('MRN12345678', '12345678'), wherever it is not part of a number."""
    value = value.strip()
    digits = re.fullmatch(r"([A-Za-z]*)[-#]?(\d+)", value)
    if digits and len(digits.group(2)) >= 5:
        return [(rf"(?:(?<![A-Za-z0-9])[A-Za-z]{{1,5}}[-#]?)?(?<!\d){digits.group(2)}(?!\d)", ID)]
    return [(rf"(?<![\w-]){re.escape(value)}(?![\w-])", ID)] if len(value) >= 5 else []


def _address_patterns(address: str) -> list[tuple[str, str]]:
    """The whole address with flexible separators, then its street line alone."""
    parts = [p.strip() for p in re.split(r"[,^\n\r]+", address) if p.strip()]
    if not parts or len(address.strip()) < 6:
        return []
    whole = r"[\s,^]+".join(_words(p) for p in parts)
    out = [(rf"{_L}{whole}{_R}", ADDRESS)]
    if len(parts) > 1 and re.search(r"\d", parts[0]) and len(parts[0]) >= 6:
        out.append((rf"{_L}{_words(parts[0])}{_R}", ADDRESS))
    return out


def _phone_patterns(phone: str) -> list[tuple[str, str]]:
    """The phone's digits with any punctuation between them ('(555) 201-3344' == '555.201.3344')."""
    digits = re.sub(r"\D", "", phone.split("x")[0])
    if len(digits) < 7:
        return []
    forms = [digits] + ([digits[1:]] if len(digits) == 11 and digits[0] == "1" else [])
    return [(r"(?<!\d)(?:\+?1[\s.-]*)?\(?" + r"[\s().-]*".join(form) + r"(?!\d)" + _EXT, PHONE) for form in forms]


@functools.lru_cache(maxsize=4096)
def _known_patterns(known: KnownIdentifiers) -> tuple[tuple[re.Pattern[str], str], ...]:
    pairs: list[tuple[str, str]] = []
    for address in known.addresses:
        pairs += _address_patterns(address)
    for phone in known.phones:
        pairs += _phone_patterns(phone)
    forms = [_name_forms(n) for n in known.names]
    full, titled = [f for fs, _ in forms for f in fs], [t for _, ts in forms for t in ts]
    if full:  # one alternation, so a list of names is cut at its commas wherever a form starts ('A^B, B, A')
        pairs.append((rf"{_L}(?:{'|'.join(sorted(full, key=len, reverse=True))}){_R}", NAME))
    if titled:
        pairs.append((rf"({_TITLE})(?i:{'|'.join(titled)}){_R}", r"\1" + NAME))  # titles keep their case rules
    for value in known.ids:
        pairs += _id_patterns(value)
    return tuple((re.compile(rx, 0 if rx.startswith(f"({_TITLE})") else re.IGNORECASE), rep) for rx, rep in pairs)


# -------------------------------------------------------------------------------------------------- patterns

_TOK = r"(?<![\[\w])(?!(?i:dr|mr|mrs|ms|mx|prof)\b)(?:[A-Z]')?[A-Z][a-zA-Z]+(?:-[A-Z][a-zA-Z]+)?"
_INIT = r"[A-Z]\.?[ ]"
_PARTICLE = r"(?:(?:van|von|der|den|de|del|della|di|da|du|dos|das|le|la|ter|ten|bin|ibn|al|el)[ ])"
# 'Emma J. Richardson', 'de la Cruz'
_PERSON = rf"(?:{_INIT})?{_PARTICLE}{{0,2}}{_TOK}(?:[ ](?:{_INIT})?{_PARTICLE}{{0,2}}{_TOK}){{0,2}}"
_LISTED = rf"{_TOK}(?:,?[ ](?:{_INIT})?{_PARTICLE}{{0,2}}{_TOK}){{0,3}}"  # also 'RICHARDSON, EMMA'
_DR = r"(?:(?i:dr|doctor)\.?[ ]+)?"
_BY = (
    r"(?i:(?:electronically[ ])?signed|dictated|reviewed|read|verified|approved|interpreted|referred|attested"
    r"|transcribed|reported|prepared)[ ]by[ \t]*:?[ \t]*"
)
_LABEL = (
    r"(?i:patient(?:'s)?[ ]name|patient|(?<!\w[ ])name|reading[ ]radiologist|radiologist|attending(?:[ ]\w+)?"
    r"|resident|fellow|technologist|(?:ordering|referring|requesting|primary(?:[ ]care)?)[ ](?:physician|provider"
    r"|clinician|doctor)|physician|provider|cc|transcriptionist)[ \t]*:[ \t]*"
)
_DEGREE = r",?[ ](?:MD|M\.D\.|D\.O\.|PhD|MBBS|FRCR|FRCPC|DABR|NP|RN|PA-C)\b"

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_MONTH_CAP = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)"
)
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_STREET_KINDS = (
    "Street Avenue Road Lane Drive Court Boulevard Way Place Parkway Terrace Circle Highway Square Trail "
    "Plaza Alley Row St Ave Rd Ln Dr Ct Blvd Pl Pkwy Ter Cir Hwy Sq Trl".split()
)
# Title case, or upper case when spelt out: 'CT' and 'DR' in capitals are a modality and a view, not a street.
_STREET = "(?:" + "|".join(_STREET_KINDS + [k.upper() for k in _STREET_KINDS if len(k) > 3]) + ")"
_FIELD_END = r"(?=[ ]{2,}|\t|\n|;|$)"
_EXT = r"(?:[ ,]*(?:x|ext\.?|extension)[ ]?\d{1,6})?"

_RULES: tuple[tuple[str, str, int], ...] = (
    # (regex, replacement, flags)
    (r"\b[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+\b", EMAIL, 0),
    # labelled header fields
    (
        rf"(\b(?:home |street |mailing |patient )?address[ \t]*:[ \t]*)[^\n\t;]+?{_FIELD_END}",
        r"\1" + ADDRESS,
        re.IGNORECASE,
    ),
    (
        r"(\b(?:dob|d\.o\.b\.?|date of birth|birth ?date)[ \t]*:?[ \t]*)(?=[^\n\t;]*\d)[^\n\t;]+?" + _FIELD_END,
        r"\1" + DATE,
        re.IGNORECASE,
    ),
    (
        r"(\b(?:phone|tel|telephone|cell|mobile|pager|fax|contact number)\.?[ \t]*(?:#|no\.?|number)?[ \t]*:?[ \t]*)"
        r"\+?[\d(][\d ().-]{2,}\d" + _EXT,
        r"\1" + PHONE,
        re.IGNORECASE,
    ),
    (r"\b[A-Z]{1,5}[-#]?\d{6,}\b", ID, 0),  # MRN12345678, XR123456789
    (
        r"(\b(?:mrn|mr ?#|medical record(?: number| no\.?| #)?|patient id|accession(?: number| no\.?| #)?|acc ?#"
        r"|account(?: number| #)|acct ?#|ssn|social security(?: number)?|encounter(?: number| #))[ \t]*[:#]?[ \t]*)"
        r"[A-Za-z]{0,5}[-#]?\d[\w-]*",
        r"\1" + ID,
        re.IGNORECASE,
    ),
    (r"\b\d{3}-\d{2}-\d{4}\b", ID, 0),  # SSN, before dates and phones take it apart
    # dates
    (rf"\b{_MONTH}\.?[ ]+{_DAY},?[ ]+{_YEAR}\b", DATE, re.IGNORECASE),  # March 14, 2019 / Mar 14 2019
    (rf"\b{_DAY}[ ]+(?:of[ ]+)?{_MONTH}\.?,?[ ]+{_YEAR}\b", DATE, re.IGNORECASE),  # 14 March 2019
    (rf"\b{_DAY}([-/]){_MONTH}\1(?:{_YEAR}|\d{{2}})\b", DATE, re.IGNORECASE),  # 14-Mar-2019, 14-MAR-19
    (rf"\b{_MONTH}\.?,?[ ]+{_YEAR}\b", DATE, re.IGNORECASE),  # March 2019
    (rf"\b{_MONTH_CAP}\.?[ ]+{_DAY}\b(?![ ]*(?:mm|cm|%))", DATE, 0),  # March 14 (capitalised month only)
    (rf"\b{_DAY}[ ]+(?:of[ ]+)?{_MONTH_CAP}\b", DATE, 0),  # 14 March
    (rf"(?<![\d.-]){_YEAR}[-/.](?:0?[1-9]|1[0-2])[-/.](?:[12]\d|3[01]|0?[1-9])(?!\d)", DATE, 0),  # 2019-03-14
    (r"(?<![\d/.-])\d{1,2}([/-])\d{1,2}\1\d{2}(?:\d{2})?(?![\d/-]|\.\d)", DATE, 0),  # 03/14/2019, 3/14/19, 3-14-19
    (rf"(?<![\d.])\d{{1,2}}\.\d{{1,2}}\.{_YEAR}(?!\.?\d)", DATE, 0),  # 14.03.2019
    (rf"(?<!\d){_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)", DATE, 0),  # 20190314
    (rf"(?<![\d/.])(?:0?[1-9]|1[0-2])/{_YEAR}(?![\d/])", DATE, 0),  # 03/2019
    # phones
    (r"(?<![\w(])(?:\+?1[ .-]?)?\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}(?!\d)" + _EXT, PHONE, 0),  # (555) 201-3344
    (r"(?<![\w.-])(?:\+?1[ .-])?\d{3}([.-])\d{3}\1\d{4}(?!\d)" + _EXT, PHONE, 0),  # 555-201-3344, 555.201.3344
    (r"\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)", PHONE, 0),  # +44 20 7946 0958
    (r"\b(?:ext\.?|extension)[ ]?\d{2,6}\b|\bx\d{3,6}\b", PHONE, 0),  # x1234
    # addresses
    (
        rf"\b\d{{1,6}}[A-Za-z]?(?:[ ](?:[NSEW]|North|South|East|West)\.?)?(?:[ ](?:[A-Z][a-zA-Z]+|\d+(?:st|nd|rd|th)))"
        rf"{{1,3}}[ ]{_STREET}\b\.?(?:,?[ ](?:Apt|Apartment|Suite|Ste|Unit|Floor|Fl|#)\.?[ ]?#?\w+)?"
        r"(?:,[ ]?[A-Z][a-zA-Z]+(?:[ ][A-Z][a-zA-Z]+){0,2})?(?:,?[ ][A-Z]{2}\b)?(?:,?[ ]\d{5}(?:-\d{4})?)?",
        ADDRESS,
        0,
    ),
    (r"\b(?i:p\.?[ ]?o\.?[ ]?box)[ ]+\d+", ADDRESS, 0),
    # names from context
    (rf"({_TITLE}){_PERSON}", r"\1" + NAME, 0),  # Dr. Emma Richardson, Dr. RICHARDSON, Mrs. Smith
    (rf"(\b{_BY}{_DR}){_LISTED}", r"\1" + NAME, 0),  # Dictated by ..., Electronically signed by: ...
    (rf"(\b{_LABEL}{_DR}){_LISTED}", r"\1" + NAME, 0),  # Patient: ..., Reading radiologist: ...
    (
        rf"(\b(?i:discussed with|called to|communicated to|spoke with|d/w)[ ]+){_TOK}(?:[ ]{_TOK}){{1,2}}",
        r"\1" + NAME,
        0,
    ),  # unknown names without a title need two capitalised words
    (rf"{_TOK}(?:[ ](?:{_INIT})?{_TOK}){{1,3}}(?={_DEGREE})", NAME, 0),  # Kathleen Brown, MD
    # remaining IDs and ages
    (r"#\d{4,}\b", ID, 0),
    (r"(?<![\d.,])\d{6,}(?!\d|[.,]\d)", ID, 0),
    (r"\b(?:9\d|1[0-4]\d)(?=[- ]?(?:years?|yrs?|y/?o|yo)\b)", AGE, re.IGNORECASE),
)
_COMPILED = tuple((re.compile(rx, flags), rep) for rx, rep, flags in _RULES)


def scrub_report(text: str, known: KnownIdentifiers = KnownIdentifiers()) -> str:
    """Replace the PHI in a report by bracketed placeholders; everything else is returned unchanged."""
    for pattern, replacement in (*_known_patterns(known), *_COMPILED):
        text = pattern.sub(replacement, text)
    return text
