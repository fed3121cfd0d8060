"""Heads on a pre-trained model: zero-shot screening (classification, segmentation and generation to come)."""
