"""Fictional patients with realistic PHI, planted in headers and reports so de-identification can be tested.

Every string planted here is listed by `Patient.phi_strings()` and written with the ground truth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

_GIVEN_M = (
    "James Robert John Michael David William Richard Joseph Thomas Charles Daniel Matthew Anthony Mark Donald Paul "
    "Steven Andrew Kenneth Joshua Kevin Brian George Edward Ronald Timothy Jason Jeffrey Ryan Jacob Gary Nicholas "
    "Eric Jonathan Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack "
    "Dennis Jerry Tyler Aaron Jose Adam"
).split()
_GIVEN_F = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Lisa Margaret Sandra Ashley "
    "Dorothy Kimberly Emily Donna Michelle Carol Amanda Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia "
    "Kathleen Amy Angela Shirley Anna Brenda Pamela Emma Nicole Helen Samantha Katherine Christine Debra Rachel "
    "Carolyn Janet Catherine Maria Heather Diane Ruth Julie Olivia"
).split()
_FAMILY = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson "
    "Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis "
    "Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera "
    "Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim "
    "Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo "
    "Sanders Patel Myers Long Ross Foster Jimenez Kowalski Lindqvist Okafor Haddad Novak Ferreira Schulz Dubois"
).split()
_STREETS = ("Oak Maple Cedar Elm Pine Birch Willow Lake Hill Park River Church Mill Station Spring Meadow").split()
_STREET_KINDS = ("Street Avenue Road Lane Drive Court Boulevard").split()
_CITIES = ("Springfield Riverton Fairview Greenville Madison Clinton Franklin Georgetown Salem Ashland").split()
_INSTITUTIONS = (
    "St. Hilda General Hospital",
    "Northgate University Medical Center",
    "Riverside Community Hospital",
    "Mercy Lakeshore Clinic",
)


@dataclass(frozen=True)
class Patient:
    """A fictional patient and the people and places around their studies."""

    given: str
    family: str
    mrn: str
    birth_date: dt.date
    sex: str
    institution: str
    referring_physician: tuple[str, str]  # (given, family)
    reading_radiologist: tuple[str, str]
    address: str
    phone: str

    @property
    def dicom_name(self) -> str:
        """PatientName in DICOM PN form (Family^Given)."""
        return f"{self.family}^{self.given}"

    @property
    def display_name(self) -> str:
        return f"{self.given} {self.family}"

    def age_at(self, when: dt.date) -> int:
        return (
            when.year - self.birth_date.year - ((when.month, when.day) < (self.birth_date.month, self.birth_date.day))
        )

    def phi_strings(self) -> list[str]:
        """Every identifying string planted for this patient (what must never reach an output)."""
        ref, rad = self.referring_physician, self.reading_radiologist
        return [
            self.dicom_name,
            self.display_name,
            self.mrn,
            self.birth_date.strftime("%Y%m%d"),
            self.birth_date.strftime("%m/%d/%Y"),
            self.address,
            self.phone,
            f"{ref[1]}^{ref[0]}",
            f"{ref[0]} {ref[1]}",
            f"{rad[0]} {rad[1]}",
        ]


def _person(rng: np.random.Generator, sex: str | None = None) -> tuple[str, str]:
    sex = sex or ("F" if rng.random() < 0.5 else "M")
    return str(rng.choice(_GIVEN_F if sex == "F" else _GIVEN_M)), str(rng.choice(_FAMILY))


def make_patient(rng: np.random.Generator) -> Patient:
    """A fictional adult (born 1925-1995), with a unique-looking MRN, address and phone."""
    sex = "F" if rng.random() < 0.5 else "M"
    given, family = _person(rng, sex)
    born = dt.date(1925, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 70)))
    number = int(rng.integers(100, 9999))
    address = f"{number} {rng.choice(_STREETS)} {rng.choice(_STREET_KINDS)}, {rng.choice(_CITIES)}"
    phone = f"({rng.integers(201, 989)}) {rng.integers(200, 999)}-{rng.integers(0, 10000):04d}"
    return Patient(
        given=given,
        family=family,
        mrn=f"MRN{rng.integers(10**7, 10**8)}",
        birth_date=born,
        sex=sex,
        institution=str(rng.choice(_INSTITUTIONS)),
        referring_physician=_person(rng),
        reading_radiologist=_person(rng),
        address=address,
        phone=phone,
    )


def study_date(rng: np.random.Generator) -> dt.date:
    """A study date between 2015 and 2024."""
    return dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 10)))
