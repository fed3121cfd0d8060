"""Patient-level splits: a patient's every sample lands in one split, decided by a hash of the pseudonymous id.

Hashing (not random assignment) keeps splits stable when the archive grows: an existing patient never moves.
"""

from __future__ import annotations

import hashlib


def check_ratios(ratios: dict[str, float]) -> list[tuple[str, float]]:
    """Ratios sorted by split name, validated: non-negative, summing to 1."""
    if not ratios or any(v < 0 for v in ratios.values()) or abs(sum(ratios.values()) - 1.0) > 1e-6:
        raise ValueError(f"ingest.splits must be non-negative ratios summing to 1, got {ratios}")
    return sorted(ratios.items())


def split_of(patient_id: str, ratios: dict[str, float]) -> str:
    """The split of a patient: the hash of the id, as a fraction in [0, 1), falls into one ratio's interval."""
    fraction = int.from_bytes(hashlib.sha256(patient_id.encode()).digest()[:8], "big") / 2**64
    edge = 0.0
    ordered = check_ratios(ratios)
    for name, ratio in ordered:
        edge += ratio
        if fraction < edge:
            return name
    return ordered[-1][0]
