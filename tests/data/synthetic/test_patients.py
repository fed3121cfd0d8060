"""Fictional patients: deterministic, and their PHI list holds what the headers and reports carry."""

from __future__ import annotations

import datetime as dt

import numpy as np

from medvlp.data.synthetic.patients import make_patient, study_date


def test_deterministic_and_varied():
    a = [make_patient(np.random.default_rng(i)) for i in range(30)]
    assert a == [make_patient(np.random.default_rng(i)) for i in range(30)]
    assert len({p.mrn for p in a}) == 30 and len({p.display_name for p in a}) > 20


def test_phi_strings_cover_identifiers():
    p = make_patient(np.random.default_rng(0))
    phi = p.phi_strings()
    for value in (p.dicom_name, p.mrn, p.phone, p.address, p.birth_date.strftime("%Y%m%d")):
        assert value in phi


def test_ages_are_adult():
    rng = np.random.default_rng(5)
    for i in range(200):
        p = make_patient(np.random.default_rng(i))
        when = study_date(rng)
        assert 18 <= p.age_at(when) <= 100
        assert dt.date(2015, 1, 1) <= when <= dt.date(2025, 1, 1)


def test_given_name_matches_sex():
    from medvlp.data.synthetic.patients import _GIVEN_F, _GIVEN_M

    for i in range(100):
        p = make_patient(np.random.default_rng(i))
        assert p.given in (_GIVEN_F if p.sex == "F" else _GIVEN_M)
