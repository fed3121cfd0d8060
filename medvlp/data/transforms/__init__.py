"""Transforms: array transforms do the maths, dict transforms route keys (MONAI style).

cxr.py and ct.py build the deterministic, cacheable CPU prefix per modality (and a per-item random variant for
CPU workers); text.py prepares report text, labels, entities and tokens; gpu.py is the batched random stage that
runs wherever the batch is (CUDA when present).
"""
