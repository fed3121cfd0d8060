"""DICOM: reading archives correctly (index, series selection, pixel decoding, de-identification)."""
