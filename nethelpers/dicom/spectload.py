"""Load an emission series, PET or SPECT: SUV where the values are activity, else counts.

:func:`emission` is the body of :func:`nethelpers.dicom.volume.load_emission_series` and
:func:`~nethelpers.dicom.volume.load_pet_series`:

- PET (single-frame, Enhanced or Legacy Converted): the SUV rules, unchanged; the
  provenance gains ``"system": "PET"`` and ``"quantity": "SUV"``.
- Quantitative SPECT, PT objects (xSPECT Quant, Units BQML from a SPECT system): the same
  SUV rules; ``"system": "SPECT"``.
- Quantitative SPECT, NM objects (Real World Value Mapping in Bq/ml or Units BQML): the
  frames read by :mod:`nethelpers.dicom.nmimage` in Bq/ml, times the SUV factor of the SUV
  rules on the header mapped by :func:`nethelpers.dicom.spect.nm_pet_keywords`
  (``nm_mapping`` in the provenance says how).
- Counts-only SPECT (NM without an activity scale, or PT from a SPECT system in CNTS or
  PROPCNTS): counts (stored value x slope) with ``"quantity": "counts"`` when counts are
  asked for (``load_emission_series``); refused with a :class:`SuvError` naming the file,
  the element and the fix otherwise (``load_pet_series``): it has no activity calibration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nethelpers.dicom.errors import SuvError
from nethelpers.dicom.nmimage import is_nm_object, nm_frame_views, nm_scale
from nethelpers.dicom.petheader import PetHeader
from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag
from nethelpers.dicom.spect import (
    COUNTS_FIX,
    header_system,
    is_counts_pt,
    nm_pet_keywords,
    spect_isotope,
)
from nethelpers.dicom.suv import suv_conversion
from nethelpers.dicom.volume import (
    LoadedSeries,
    _expect_modality,
    _load_pet_slices,
    _load_plain,
)

__all__ = ["counts_provenance", "emission", "load_nm_emission"]

_UNITS = keyword_tag("Units")


def counts_provenance(header: RawDataset, provenance: dict[str, Any], scale: str
                      ) -> dict[str, Any]:
    """The provenance of a counts-only SPECT volume.

    Parameters
    ----------
    header : RawDataset
        A (frame) header of the series.
    provenance : dict
        The loader's provenance (geometry, warnings, object, ...).
    scale : str
        Where the counts' scale came from.

    Returns
    -------
    dict
        ``system`` SPECT, ``quantity`` and ``units`` counts, ``radionuclide``, ``tracer``,
        ``value_scale``, ``geometry``, ``warnings`` (the counts note first), and whatever
        else the loader recorded; never a ``factor``.
    """
    isotope = spect_isotope(header)
    out = {"system": "SPECT", "quantity": "counts", "units": "counts",
           "radionuclide": isotope.get("radionuclide", ""),
           "tracer": isotope.get("tracer", ""), "value_scale": scale}
    out.update({k: v for k, v in provenance.items() if k not in out})
    out["warnings"] = ["counts-only SPECT: no activity calibration; measured as ratios, "
                       "not SUV", *provenance.get("warnings", [])]
    return out


def load_nm_emission(files: list[Path], headers: list[RawHeader], norm: str,
                     slice_tolerance: float, overrides: dict[str, Any], *,
                     counts_ok: bool) -> LoadedSeries:
    """An NM SPECT reconstruction in SUV (quantitative) or counts.

    Parameters
    ----------
    files, headers : list
        The series' files (one NM object) and their full headers.
    norm : str
        SUV normalisation.
    slice_tolerance : float
        Slice tolerance.
    overrides : dict
        Clinical-record values for the SUV rules.
    counts_ok : bool
        Return counts-only SPECT as counts (else refuse it).

    Returns
    -------
    LoadedSeries
        Its image carries the metadata ``quantity`` (``SUV`` or ``counts``).
    """
    from nethelpers.dicom import multiframe

    index = next(i for i, h in enumerate(headers) if is_nm_object(h))
    file, header = Path(files[index]), headers[index]
    nm_frame_views(header, file)   # a planar, multi-volume or unplaced object: say that first
    scale = nm_scale(header, file)
    if scale.units == "counts" and not counts_ok:
        raise SuvError("counts-only SPECT: the NM object has no activity scale (no Real "
                       "World Value Mapping in Bq/ml, no Units BQML)", file=file,
                       tag="RealWorldValueMappingSequence (0040,9096)", fix=COUNTS_FIX)
    loaded = multiframe.load_multiframe(files, headers, modality="NM",
                                        slice_tolerance=slice_tolerance)
    if scale.units == "counts":
        loaded.provenance = counts_provenance(header, loaded.provenance, scale.source)
        return loaded
    keywords, warnings, notes = nm_pet_keywords(
        header, file, scale.slope, scale.intercept,
        dose_given=overrides.get("dose_bq") is not None)
    conversion = suv_conversion(PetHeader.from_keywords([keywords], [str(file)]), norm,
                                **overrides)
    factor = float(conversion.factors[0])
    loaded.image = loaded.image * factor
    isotope = spect_isotope(header)
    provenance: dict[str, Any] = {"system": "SPECT", "quantity": "SUV",
                                  **conversion.provenance,
                                  "radionuclide": isotope.get("radionuclide", ""),
                                  "tracer": isotope.get("tracer", ""),
                                  "value_scale": scale.source, "nm_mapping": notes}
    for key, value in loaded.provenance.items():
        if key != "warnings":
            provenance.setdefault(key, value)
    provenance["n_slices"] = loaded.image.GetSize()[2]   # the SUV rules saw one header
    provenance["warnings"] = [*conversion.provenance.get("warnings", []), *warnings,
                              *loaded.provenance.get("warnings", [])]
    loaded.provenance = provenance
    return loaded


def emission(files: list[Path], headers: list[RawHeader], norm: str, slice_tolerance: float,
             overrides: dict[str, Any], *, counts_ok: bool) -> LoadedSeries:
    """A PET or SPECT series in SUV; counts-only SPECT as counts or refused.

    Parameters
    ----------
    files, headers : list
        The series' files and full headers.
    norm : str
        SUV normalisation.
    slice_tolerance : float
        Slice tolerance.
    overrides : dict
        Clinical-record values for the SUV rules.
    counts_ok : bool
        Return counts-only SPECT as counts (``load_emission_series``) or refuse it
        (``load_pet_series``).

    Returns
    -------
    LoadedSeries
        Its image carries the metadata ``quantity`` (``SUV`` or ``counts``).
    """
    from nethelpers.dicom import multiframe

    if any(is_nm_object(h) for h in headers):
        return _tagged(load_nm_emission(files, headers, norm, slice_tolerance, overrides,
                                        counts_ok=counts_ok))
    if any(multiframe.is_multiframe(h) for h in headers):  # Enhanced / Legacy Converted
        loaded = multiframe.load_multiframe(files, headers, modality="PT", norm=norm,
                                            slice_tolerance=slice_tolerance, **overrides)
    else:
        _expect_modality(headers, files, "PT")
        if is_counts_pt(headers[0]):
            units = headers[0].text(_UNITS) or "missing"
            if not counts_ok:
                raise SuvError(f"Units {units} from a SPECT system: counts-only SPECT",
                               file=files[0], tag="Units (0054,1001)", fix=COUNTS_FIX)
            loaded = _load_plain(files, None, "PT", slice_tolerance)
            loaded.provenance = counts_provenance(loaded.headers[0], loaded.provenance,
                                                  f"Units {units}, RescaleSlope per slice")
            return _tagged(loaded)
        loaded = _load_pet_slices(files, headers, norm, slice_tolerance, overrides)
    system = header_system(loaded.headers[0]) or "PET"
    named = spect_isotope(loaded.headers[0]) if system == "SPECT" else {}
    loaded.provenance = {"system": system, "quantity": "SUV", **named, **loaded.provenance}
    return _tagged(loaded)


def _tagged(loaded: LoadedSeries) -> LoadedSeries:
    """The image carries its scale as metadata ``quantity`` (``SUV`` or ``counts``).

    Whoever gets only the image (a figure, a thumbnail) can tell counts from SUV by it.
    """
    loaded.image.SetMetaData("quantity", str(loaded.provenance.get("quantity", "SUV")))
    return loaded
