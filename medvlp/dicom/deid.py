"""De-identification of DICOM headers: PS3.15 Annex E basic application level confidentiality profile.

Options applied (and declared in the output's DeidentificationMethodCodeSequence):
- 113100 Basic Application Confidentiality Profile;
- 113107 Retain Longitudinal Temporal Information with Modified Dates: every DA/DT value is shifted back by a
  per-patient offset (so intervals within a patient survive), times are kept,
  LongitudinalTemporalInformationModified is set to MODIFIED;
- 113108 Retain Patient Characteristics: PatientSex, PatientAge, PatientSize, PatientWeight, PregnancyStatus,
  SmokingStatus and PatientSexNeutered are kept. EthnicGroup, which the option may keep, is removed anyway
  (stricter than the option requires: it is rarely needed and is quasi-identifying in small populations).

Replacements are HMAC-SHA256 of a project secret, so the same input always gives the same UID or pseudonym,
across files and runs, and none can be reversed or recomputed without the secret.

Action codes of Annex E used in the table: X remove, Z replace by an empty value, D replace by a dummy value
(our pseudonyms), U replace the UID consistently, K keep. On top of the table, generic rules cover what the
table does not name: private tags and unknown (UN) elements are removed, overlay data/comments and curves are
removed, every UI value is remapped unless it is a well-known DICOM UID (SOP class, transfer syntax, ...),
every DA/DT is shifted and every other PN is removed. All rules apply recursively inside sequences.

Not handled: PHI burned into pixels (see `burned_in_annotation`, such images should be quarantined) and PHI in
the clinical descriptors the basic profile removes anyway (StudyDescription, SeriesDescription, ProtocolName).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

DICOM_UID_ROOT = "1.2.840.10008."  # well-known UIDs of the standard itself (SOP classes, transfer syntaxes)

# Basic profile actions per attribute (PS3.15 Table E.1-1, the subset that occurs in imaging exports).
ACTIONS: dict[str, str] = {
    # patient
    "PatientName": "D", "PatientID": "D", "PatientBirthDate": "Z", "PatientBirthTime": "X",
    "IssuerOfPatientID": "X", "IssuerOfPatientIDQualifiersSequence": "X", "OtherPatientIDs": "X",
    "OtherPatientIDsSequence": "X", "OtherPatientNames": "X", "PatientBirthName": "X",
    "PatientMotherBirthName": "X", "PatientAddress": "X", "PatientTelephoneNumbers": "X",
    "PatientTelecomInformation": "X", "CountryOfResidence": "X", "RegionOfResidence": "X", "MilitaryRank": "X",
    "BranchOfService": "X", "MedicalRecordLocator": "X", "EthnicGroup": "X", "Occupation": "X",
    "PatientReligiousPreference": "X", "PatientComments": "X", "AdditionalPatientHistory": "X",
    "MedicalAlerts": "X", "Allergies": "X", "PatientInsurancePlanCodeSequence": "X",
    "PatientPrimaryLanguageCodeSequence": "X", "PatientState": "X", "LastMenstrualDate": "X",
    "ResponsiblePerson": "X", "ResponsibleOrganization": "X", "ReferencedPatientSequence": "X",
    "ReferencedPatientPhotoSequence": "X", "PatientInstitutionResidence": "X", "CurrentPatientLocation": "X",
    "AdmissionID": "X", "IssuerOfAdmissionIDSequence": "X", "AdmittingDiagnosesDescription": "X",
    "AdmittingDiagnosesCodeSequence": "X", "ServiceEpisodeID": "X", "ServiceEpisodeDescription": "X",
    "VisitComments": "X", "PersonName": "X", "PersonAddress": "X", "PersonTelephoneNumbers": "X",
    # patient characteristics (Retain Patient Characteristics option)
    "PatientSex": "K", "PatientAge": "K", "PatientSize": "K", "PatientWeight": "K", "PregnancyStatus": "K",
    "SmokingStatus": "K", "PatientSexNeutered": "K",
    # study, request and people around it
    "AccessionNumber": "D", "StudyID": "Z", "IssuerOfAccessionNumberSequence": "X", "StudyDescription": "X",
    "StudyComments": "X", "ReferringPhysicianName": "Z", "ReferringPhysicianAddress": "X",
    "ReferringPhysicianTelephoneNumbers": "X", "ReferringPhysicianIdentificationSequence": "X",
    "ConsultingPhysicianName": "X", "ConsultingPhysicianIdentificationSequence": "X", "PhysiciansOfRecord": "X",
    "PhysiciansOfRecordIdentificationSequence": "X", "NameOfPhysiciansReadingStudy": "X",
    "PhysiciansReadingStudyIdentificationSequence": "X", "RequestingPhysician": "X",
    "RequestingPhysicianIdentificationSequence": "X", "RequestingService": "X",
    "RequestedProcedureDescription": "X", "RequestedProcedureID": "X", "RequestedProcedureComments": "X",
    "RequestedProcedureLocation": "X", "ReasonForStudy": "X", "ReasonForTheRequestedProcedure": "X",
    "ImagingServiceRequestComments": "X", "PlacerOrderNumberImagingServiceRequest": "X",
    "FillerOrderNumberImagingServiceRequest": "X", "OrderEnteredBy": "X", "OrderEntererLocation": "X",
    "OrderCallbackPhoneNumber": "X", "OrderCallbackTelecomInformation": "X", "RequestAttributesSequence": "X",
    # series, equipment, procedure steps
    "SeriesDescription": "X", "ProtocolName": "X", "PerformingPhysicianName": "X",
    "PerformingPhysicianIdentificationSequence": "X", "OperatorsName": "X", "OperatorIdentificationSequence": "X",
    "InstitutionName": "X", "InstitutionAddress": "X", "InstitutionalDepartmentName": "X",
    "InstitutionCodeSequence": "X", "InstitutionalDepartmentTypeCodeSequence": "X", "StationName": "X",
    "DeviceSerialNumber": "X", "DeviceUID": "U", "DetectorID": "X", "PlateID": "X", "CassetteID": "X",
    "GantryID": "X", "PerformedProcedureStepID": "X", "PerformedProcedureStepDescription": "X",
    "PerformedLocation": "X", "PerformedStationName": "X", "PerformedStationAETitle": "X",
    "PerformedStationNameCodeSequence": "X", "ScheduledProcedureStepDescription": "X",
    "ScheduledProcedureStepID": "X", "ScheduledPerformingPhysicianName": "X", "ScheduledStationName": "X",
    "ScheduledStationAETitle": "X", "ScheduledProcedureStepLocation": "X", "ScheduledStudyLocation": "X",
    "ScheduledStudyLocationAETitle": "X", "ScheduledHumanPerformersSequence": "X",
    "ActualHumanPerformersSequence": "X", "HumanPerformerName": "X", "HumanPerformerOrganization": "X",
    # free text, annotations, embedded copies of the header
    "AcquisitionDeviceProcessingDescription": "X", "AcquisitionComments": "X", "DerivationDescription": "X",
    "ImageComments": "X", "FrameComments": "X", "IconImageSequence": "X", "ContentSequence": "X",
    "TextValue": "X", "TextString": "X", "TextComments": "X", "GraphicAnnotationSequence": "X",
    "DischargeDiagnosisDescription": "X", "IdentifyingComments": "X", "TopicAuthor": "X", "TopicKeywords": "X",
    "TopicSubject": "X", "TopicTitle": "X", "DigitalSignaturesSequence": "X", "OriginalAttributesSequence": "X",
    "ModifiedAttributesSequence": "X", "EncryptedAttributesSequence": "X", "MACParametersSequence": "X",
    "DataSetTrailingPadding": "X", "VerifyingObserverName": "D", "VerifyingObserverIdentificationCodeSequence": "Z",
    "VerifyingOrganization": "X", "ContentCreatorName": "Z", "ContentCreatorIdentificationCodeSequence": "X",
    "AuthorObserverSequence": "X", "ParticipantSequence": "X", "CustodialOrganizationSequence": "X",
}  # fmt: skip

# UI attributes naming classes, syntaxes and software rather than instances: never remapped.
KEEP_UIDS = frozenset(
    {
        "SOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID", "ImplementationClassUID",
        "ReferencedSOPClassUID", "ReferencedSOPClassUIDInFile", "AffectedSOPClassUID", "RequestedSOPClassUID",
        "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID", "ReferencedTransferSyntaxUIDInFile",
        "CodingSchemeUID", "MappingResourceUID", "ContextGroupExtensionCreatorUID", "SOPClassesInStudy",
    }
)  # fmt: skip

# File meta elements that name the sending system.
_META_REMOVE = (
    "SourceApplicationEntityTitle", "SendingApplicationEntityTitle", "ReceivingApplicationEntityTitle",
    "SourcePresentationAddress", "SendingPresentationAddress", "ReceivingPresentationAddress",
    "PrivateInformationCreatorUID", "PrivateInformation",
)  # fmt: skip

METHOD_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ("113108", "Retain Patient Characteristics Option"),
)
METHOD = ("PS3.15 E.1 Basic Profile", "Retain Longitudinal Modified Dates", "Retain Patient Characteristics")


@dataclass(frozen=True)
class DeidPolicy:
    """How to de-identify: the project secret and the date shift range.

    secret: UIDs, pseudonyms and date offsets are HMAC-SHA256 of it; the same secret keeps them consistent
    across runs and files, and without it they cannot be reversed. Keep it out of the repository.
    """

    secret: bytes
    max_date_shift_days: int = 365
    uid_root: str = "2.25"  # remapped UIDs are <root>.<int from HMAC>, <= 64 chars

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or not self.secret:
            raise ValueError("DeidPolicy.secret must be non-empty bytes")
        if self.max_date_shift_days < 1:
            raise ValueError("max_date_shift_days must be >= 1 (dates are always shifted)")
        if not re.fullmatch(r"(?:0|[1-9]\d*)(?:\.(?:0|[1-9]\d*))*", self.uid_root) or len(self.uid_root) > 40:
            raise ValueError(f"uid_root {self.uid_root!r} is not a valid UID root of at most 40 characters")


class Deidentifier:
    """Applies the basic profile with consistent, keyed replacements (see the module docstring)."""

    def __init__(self, policy: DeidPolicy) -> None:
        self.policy = policy

    def _digest(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of one value, domain-separated by purpose so a UID and an ID never share a digest."""
        return hmac.new(self.policy.secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()

    def uid(self, original: str) -> str:
        """The remapped UID: <root>.<decimal of the HMAC>, at most 64 characters; '' stays ''."""
        original = original.strip().rstrip("\0")
        if not original:
            return ""
        number = int.from_bytes(self._digest("uid", original)[:16], "big")  # 128 bits, as 2.25 UUID UIDs
        digits = str(number)[: 64 - len(self.policy.uid_root) - 1].lstrip("0") or "0"
        return f"{self.policy.uid_root}.{digits}"

    def _pseudonym(self, prefix: str, purpose: str, value: str) -> str:
        code = base64.b32encode(self._digest(purpose, value.strip())).decode()[:10]  # 50 bits, [A-Z2-7]
        return prefix + code

    def patient_pseudonym(self, patient_id: str) -> str:
        """'P' + 10 base32 characters of the HMAC of the patient ID."""
        return self._pseudonym("P", "patient", patient_id)

    def accession_pseudonym(self, accession: str) -> str:
        """'A' + 10 base32 characters of the HMAC of the accession number ('' stays '')."""
        return self._pseudonym("A", "accession", accession) if accession.strip() else ""

    def date_shift_days(self, patient_id: str) -> int:
        """The patient's date offset in days: in [-max_date_shift_days, -1], the same for every file."""
        number = int.from_bytes(self._digest("date-shift", patient_id.strip())[:8], "big")
        return -(number % self.policy.max_date_shift_days + 1)

    def shift_date(self, value: str, patient_id: str) -> str:
        """Shift a DA ('YYYYMMDD'; also 'YYYY.MM.DD', ranges 'A-B') or DT (date prefix, rest kept) back.

        Partial dates (YYYY, YYYYMM) are shifted as the first day of their period and keep their precision.
        '' stays ''. Raises ValueError for a value that is not a date.
        """
        value = value.strip()
        if not value:
            return ""
        parts = re.split(r"(?:^|(?<=[\d.]))-(?=\d{8})", value)  # a range 'A-B' or '-B'; not a DT offset '-0500'
        if len(parts) == 1 and re.fullmatch(r"\d{8}-", value):  # open range 'A-'
            parts = [value[:-1], ""]
        if len(parts) == 2:
            return "-".join(self.shift_date(p, patient_id) if p else "" for p in parts)
        if legacy := re.fullmatch(r"(\d{4})\.(\d{2})\.(\d{2})", value):  # ACR-NEMA 'YYYY.MM.DD'
            value = "".join(legacy.groups())
        head = re.match(r"\d{4}(?:\d{2}){0,2}", value)
        if not head:
            raise ValueError(f"not a DICOM date: {value!r}")
        digits, rest = head.group(0), value[head.end() :]
        if not re.fullmatch(r"[\d.+-]*", rest):  # a DT keeps its time and offset; nothing else may follow
            raise ValueError(f"not a DICOM date: {value!r}")
        year, month, day = int(digits[:4]), int(digits[4:6] or 1), int(digits[6:8] or 1)
        try:
            shifted = dt.date(year, month, day) + dt.timedelta(days=self.date_shift_days(patient_id))
        except (ValueError, OverflowError) as err:
            raise ValueError(f"not a DICOM date: {value!r}") from err
        return shifted.strftime("%Y%m%d")[: len(digits)] + rest

    def dataset(self, ds: Dataset) -> Dataset:
        """A de-identified copy of `ds` (header and file meta); pixel data is copied untouched."""
        out = copy.deepcopy(ds)
        patient_key = str(ds.get("PatientID", "") or "").strip()  # as callers key patient_pseudonym()
        self._clean(out, patient_key)
        meta = getattr(out, "file_meta", None)
        if meta is not None:
            for keyword in _META_REMOVE:
                if keyword in meta:
                    delattr(meta, keyword)
            if meta.get("MediaStorageSOPInstanceUID"):
                meta.MediaStorageSOPInstanceUID = self.uid(str(meta.MediaStorageSOPInstanceUID))
        out.PatientIdentityRemoved = "YES"
        out.DeidentificationMethod = list(METHOD)
        out.DeidentificationMethodCodeSequence = Sequence([_code(value, meaning) for value, meaning in METHOD_CODES])
        out.LongitudinalTemporalInformationModified = "MODIFIED"
        return out

    def _clean(self, ds: Dataset, patient_key: str) -> None:
        """Apply the table and the generic rules to every element of `ds`, recursing into sequences."""
        for elem in list(ds):
            action = self._action(elem)
            if action == "X":
                del ds[elem.tag]
            elif action == "Z":
                elem.value = Sequence() if elem.VR == "SQ" else ""
            elif action == "D":
                elem.value = self._dummy(elem, patient_key)
            elif action == "U":
                elem.value = _map(elem.value, self.uid)
            elif action == "S":  # date shift
                elem.value = _map(elem.value, lambda v: self._shift_or_empty(v, patient_key))
            if action not in ("X", "Z") and elem.VR == "SQ":
                for item in elem.value:
                    self._clean(item, patient_key)

    def _action(self, elem: DataElement) -> str:
        """The action for one element: the table first, then the generic rules; K keeps it."""
        group, element = elem.tag.group, elem.tag.element
        if elem.tag.is_private or elem.VR == "UN":
            return "X"
        if group & 0xFF00 == 0x5000 or (group & 0xFF00 == 0x6000 and element in (0x3000, 0x4000)):
            return "X"  # curves, overlay data and overlay comments
        keyword = elem.keyword
        if keyword in ACTIONS:
            return ACTIONS[keyword]
        if elem.VR == "UI":
            return "K" if keyword in KEEP_UIDS or _well_known(elem.value) else "U"
        if elem.VR in ("DA", "DT"):
            return "S"
        if elem.VR == "PN":
            return "X"
        return "K"

    def _dummy(self, elem: DataElement, patient_key: str) -> str:
        if elem.keyword in ("PatientName", "PatientID"):
            return self.patient_pseudonym(patient_key)
        if elem.keyword == "AccessionNumber":
            return self.accession_pseudonym(str(elem.value or ""))
        return "ANONYMOUS"

    def _shift_or_empty(self, value: str, patient_key: str) -> str:
        """Shift a date; a value that is not a date is emptied (it cannot be shifted, so it must not stay)."""
        try:
            return self.shift_date(str(value), patient_key)
        except ValueError:
            return ""


def _map(value: object, fn: Callable[[str], str]) -> object:
    """Apply fn to a single value or to each of a multi-value, keeping the shape."""
    if isinstance(value, (MultiValue, list, tuple)):
        return [fn(str(v)) for v in value]
    return fn(str(value)) if value not in (None, "") else value


def _well_known(value: object) -> bool:
    values = value if isinstance(value, (MultiValue, list, tuple)) else [value]
    return all(str(v).startswith(DICOM_UID_ROOT) for v in values if v)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def burned_in_annotation(ds: Dataset) -> bool:
    """True when the header declares text burned into the pixels (such images need pixel scrubbing or quarantine)."""
    return str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES"


__all__ = ["ACTIONS", "DeidPolicy", "Deidentifier", "burned_in_annotation"]
