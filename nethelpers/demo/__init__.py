"""Synthetic demo study: phantoms written as real DICOM, with known ground truth."""
