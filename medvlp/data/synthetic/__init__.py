"""The phantom hospital archive: medvlp's embedded default data (DICOM, reports, ground truth)."""

from medvlp.data.synthetic.archive import ArchiveSummary, generate_archive

__all__ = ["ArchiveSummary", "generate_archive"]
