"""Patient-level splits: stable, proportional, and never mixing a patient across splits."""

from __future__ import annotations

import pytest

from medvlp.data.splits import split_of

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def test_stable_and_proportional():
    splits = [split_of(f"P{i:05d}", RATIOS) for i in range(5000)]
    assert splits == [split_of(f"P{i:05d}", RATIOS) for i in range(5000)]
    share = {k: splits.count(k) / len(splits) for k in RATIOS}
    assert abs(share["train"] - 0.8) < 0.03 and abs(share["val"] - 0.1) < 0.02


def test_adding_a_split_ratio_changes_nothing_for_a_patient_with_the_same_edges():
    a = {"test": 0.1, "train": 0.8, "val": 0.1}
    assert [split_of(f"P{i}", a) for i in range(100)] == [split_of(f"P{i}", RATIOS) for i in range(100)]


@pytest.mark.parametrize("bad", [{"train": 0.9}, {"train": 1.2, "val": -0.2}, {}])
def test_bad_ratios_named(bad):
    with pytest.raises(ValueError, match=r"ingest\.splits"):
        split_of("P1", bad)
