"""The phantom hospital archive: medvlp's embedded default data (DICOM, reports, ground truth).

Entry point: `medvlp.data.synthetic.archive.generate_archive` (imported on demand: it pulls pydicom and nibabel).
"""
