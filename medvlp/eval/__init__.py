"""Evaluation: metrics with patient-level confidence intervals, retrieval, the supervised baseline."""
