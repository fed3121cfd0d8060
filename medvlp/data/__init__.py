"""Data: manifests, datasets, transforms and the phantom archive."""
