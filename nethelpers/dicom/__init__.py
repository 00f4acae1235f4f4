"""DICOM input: the tree index, PET SUV rules and volume loading.

- :func:`index_tree` — a DICOM folder as a table of series (header-only, parallel, cached, QC).
- :func:`load_pet` — a PET series as SUV with the provenance of the conversion.
- :func:`load_ct`, :func:`load_mr`, :func:`load_series`, :func:`resample_like`.
"""

from nethelpers.dicom.errors import DicomInputError, SeriesError, SuvError
from nethelpers.dicom.index import index_tree, summarise_index, write_index
from nethelpers.dicom.suv import PetHeader, SuvConversion, suv_conversion
from nethelpers.dicom.volume import (
    LoadedSeries,
    load_ct,
    load_mr,
    load_pet,
    load_pet_series,
    load_series,
    resample_like,
)

__all__ = [
    "DicomInputError",
    "LoadedSeries",
    "PetHeader",
    "SeriesError",
    "SuvConversion",
    "SuvError",
    "index_tree",
    "load_ct",
    "load_mr",
    "load_pet",
    "load_pet_series",
    "load_series",
    "resample_like",
    "summarise_index",
    "suv_conversion",
    "write_index",
]
