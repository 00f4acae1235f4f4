"""The index row of a multi-frame file: its frames counted and placed like a series' files.

:func:`index_fields` gives :mod:`nethelpers.dicom.index` what the per-file records of a
single-frame series give it, read from the functional groups: the frame count as
``n_slices``, the geometry of the placed frames, the acquisition span of the frames and, for
PET, units, tracer and radionuclide (Legacy Converted objects keep the isotope in the
unassigned shared attributes, which the header-only file records do not reach).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nethelpers.dicom.errors import DicomInputError
from nethelpers.dicom.frameviews import FrameViews, frame_views
from nethelpers.dicom.multiframe import frame_geometry
from nethelpers.dicom.rawread import RawHeader, keyword_tag
from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE

__all__ = ["index_fields"]

_ACQ = keyword_tag("AcquisitionDateTime")
_MODALITY = keyword_tag("Modality")


def _isotope_fields(view: RawHeader) -> dict[str, str]:
    from nethelpers.dicom.tracers import radionuclide_name, tracer_name

    items = view.seq(keyword_tag("RadiopharmaceuticalInformationSequence"))
    if not items:
        return {}
    item = items[0]
    code = item.seq(keyword_tag("RadiopharmaceuticalCodeSequence"))
    nuclide = item.seq(keyword_tag("RadionuclideCodeSequence"))
    text = item.text(keyword_tag("Radiopharmaceutical"))
    meaning = keyword_tag("CodeMeaning")
    return {
        "tracer": tracer_name(code[0].text(keyword_tag("CodeValue")) if code else None,
                              code[0].text(meaning) if code else None, text,
                              view.text(keyword_tag("SeriesDescription"))),
        "radionuclide": radionuclide_name(nuclide[0].text(meaning) if nuclide else None, text,
                                          item.float(keyword_tag("RadionuclideHalfLife")),
                                          single_photon=view.text(_MODALITY) == "NM"),
    }


def _units_field(frames: FrameViews) -> str | None:
    from nethelpers.dicom.enhancedpet import UCUM_UNITS

    units = frames.headers[0].text(keyword_tag("Units"))
    if units is not None:
        return units
    for item in frames.real_world[0]:
        codes = item.seq(keyword_tag("MeasurementUnitsCodeSequence"))
        code = codes[0].text(keyword_tag("CodeValue")) if codes else None
        if code in UCUM_UNITS:
            return UCUM_UNITS[code][0]
        if code:
            return code
    return None


def _acquisition_fields(frames: FrameViews) -> dict[str, str]:
    from nethelpers.dicom.datetimes import parse_dt

    times = []
    for view in frames.headers:
        text = view.text(_ACQ)
        try:
            times.append(parse_dt(text)[0].isoformat(timespec="seconds") if text else None)
        except ValueError:
            times.append(None)
    known = [t for t in times if t]
    return {"acquisition_start": min(known), "acquisition_end": max(known)} if known else {}


def index_fields(path: str | Path, tolerance: float = DEFAULT_SLICE_TOLERANCE
                 ) -> tuple[dict[str, Any], list[str], list[str]]:
    """The series-table fields of one multi-frame file (for :mod:`nethelpers.dicom.index`).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    tolerance : float
        Slice tolerance (as for single-frame series).

    Returns
    -------
    dict
        ``n_slices`` (frames), geometry (``rows``, ``columns``, pixel and slice spacing,
        ``slice_deviation_mm``, ``orientation``, ``origin_*``, ``extent_z_mm``), acquisition
        start and end from the frames, and for PET and NM SPECT ``units`` (NM: ``BQML`` or
        ``counts``), ``tracer``, ``radionuclide`` and ``expected_slices``. A planar NM
        object gets its frame count and a note only.
    list of str
        Problems that make the series unusable (QC ``fail``).
    list of str
        Notes (QC ``warn``): the kind of object and the frame count, slice placement.
    """
    from nethelpers.dicom.nmimage import is_nm_object
    from nethelpers.dicom.rawread import RawReadError, read_header

    try:
        header = read_header(path)
        if is_nm_object(header):
            return _nm_fields(header, Path(path), tolerance)
        frames = frame_views(header, Path(path))
    except (RawReadError, OSError) as exc:
        return {}, [f"multi-frame object unreadable: {exc}"], []
    except DicomInputError as exc:
        return {}, [exc.problem], []
    n = len(frames.headers)
    view = frames.headers[0]
    notes = [f"multi-frame {frames.object} object: {n} frames in one file"]
    fields: dict[str, Any] = {"n_slices": n, **_acquisition_fields(frames)}
    thickness = view.float(keyword_tag("SliceThickness"))
    if thickness is not None:
        fields["slice_thickness_mm"] = thickness
    if view.text(_MODALITY) == "PT":
        fields.update(_isotope_fields(view), units=_units_field(frames))
        expected = view.int(keyword_tag("NumberOfSlices"))
        if expected is not None:
            fields["expected_slices"] = expected
    return _placed(frames, fields, notes, tolerance)


def _nm_fields(header: RawHeader, path: Path, tolerance: float
               ) -> tuple[dict[str, Any], list[str], list[str]]:
    """The fields of an NM object: a SPECT reconstruction placed, planar NM only counted."""
    from nethelpers.dicom.nmimage import nm_frame_views
    from nethelpers.dicom.spect import spect_isotope

    n = header.int(keyword_tag("NumberOfFrames")) or 1
    kind = header.texts(keyword_tag("ImageType"))
    fields: dict[str, Any] = {"n_slices": n, **spect_isotope(header)}
    if len(kind) < 3 or kind[2].upper() != "RECON TOMO":
        what = kind[2] if len(kind) > 2 else "ImageType value 3 missing"
        return fields, [], [f"NM object is not a SPECT reconstruction ({what}): {n} frames, "
                            "not a volume"]
    try:
        frames, scale, nm_notes = nm_frame_views(header, path)
    except DicomInputError as exc:   # the element named: NM problems mean little without it
        return fields, [f"{exc.tag}: {exc.problem}" if exc.tag else exc.problem], []
    fields["units"] = scale.units
    expected = header.int(keyword_tag("NumberOfSlices"))
    if expected is not None:
        fields["expected_slices"] = expected
    return _placed(frames, fields, list(nm_notes), tolerance)   # one file: the NM norm


def _placed(frames: FrameViews, fields: dict[str, Any], notes: list[str], tolerance: float
            ) -> tuple[dict[str, Any], list[str], list[str]]:
    """Add the geometry of the placed frames to ``fields`` (or the reason it fails)."""
    try:
        geometry = frame_geometry(frames, tolerance)
    except DicomInputError as exc:
        return fields, [exc.problem], notes
    nz, ny, nx = geometry.shape
    d = geometry.direction  # columns: row direction, column direction, normal
    iop = (d[0], d[3], d[6], d[1], d[4], d[7])
    fields.update(
        rows=ny, columns=nx, pixel_spacing_x_mm=geometry.spacing[0],
        pixel_spacing_y_mm=geometry.spacing[1], slice_spacing_mm=geometry.spacing[2],
        orientation="\\".join(f"{round(v, 4):g}" for v in iop),
        origin_x=geometry.origin[0], origin_y=geometry.origin[1], origin_z=geometry.origin[2],
    )
    placement = geometry.placement
    if placement is not None:
        fields["slice_deviation_mm"] = placement.max_deviation_mm
        fields["extent_z_mm"] = float(placement.positions[-1] - placement.positions[0])
        if placement.placed:
            notes.append(placement.note())
    return fields, [], notes
