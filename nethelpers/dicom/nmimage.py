"""NM multi-frame tomographic reconstructions (SPECT) as frames placed in patient space.

An NM Image Storage object (PS3.3 A.5, C.8.4) holds every slice of a SPECT reconstruction
as one frame of one file. It has no functional groups: the geometry sits in the NM modules.

- ImageType value 3 must be ``RECON TOMO``: planar (STATIC, WHOLE BODY, DYNAMIC, GATED),
  projection (TOMO, GATED TOMO) and gated reconstructions (RECON GATED TOMO) are refused.
- FrameIncrementPointer names the vectors that index the frames; for RECON TOMO it is
  SliceVector (0054,0080). Energy Window, Detector, Rotation, R-R Interval, Time Slot and
  Phase vectors are accepted only when they hold one value (one volume); several energy
  windows (a scatter window reconstructed beside the photopeak), detectors, rotations or
  time slots in one object are refused, naming the vector (whether or not the
  FrameIncrementPointer names it).
- The first frame's ImagePositionPatient and ImageOrientationPatient are in a
  DetectorInformationSequence (0054,0022) item (Hermes writes one item per detector, the
  geometry in the first only; the top level is used, with a note, when a vendor writes them
  there instead). Copies that disagree are refused. Frame ``f`` showing slice
  ``s = SliceVector[f]`` lies at ``IPP + (s - 1) · SpacingBetweenSlices · (row × column)``
  (C.8.4.15: a negative spacing stacks the slices in front of the first one; GE writes
  such objects, and GDCM and so SimpleITK read them the same way, with the slice
  direction reversed). SpacingBetweenSlices missing or 0: SliceThickness is used, with a
  note.
- Values: the RealWorldValueMappingSequence (Bq/ml, kBq/ml or MBq/ml read as Bq/ml, or
  ``{counts}``, linear) when present,
  else RescaleSlope/RescaleIntercept (outside the NM IOD, written by several vendors), else
  the stored counts. Both present and different: refused (the scale is ambiguous).

:func:`nm_frame_views` turns the object into the :class:`~nethelpers.dicom.frameviews.FrameViews`
the multi-frame reader places and reads (per-frame ImagePositionPatient, ImageOrientationPatient
and the chosen rescale written into each frame's view), so the pixels go through the same
codec machinery as every other multi-frame object.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nethelpers.dicom.errors import SeriesError
from nethelpers.dicom.frameviews import FrameViews
from nethelpers.dicom.rawread import RawDataset, RawHeader, keyword_tag

__all__ = ["NM_IMAGE_STORAGE", "NmScale", "is_nm_object", "nm_frame_views", "nm_scale"]

NM_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.20"
_NM_RETIRED = "1.2.840.10008.5.1.4.1.1.5"

_T = {k: keyword_tag(k) for k in (
    "SOPClassUID", "Modality", "ImageType", "NumberOfFrames", "FrameIncrementPointer",
    "SliceVector", "NumberOfSlices", "DetectorInformationSequence", "ImagePositionPatient",
    "ImageOrientationPatient", "PixelSpacing", "SpacingBetweenSlices", "SliceThickness",
    "RealWorldValueMappingSequence", "MeasurementUnitsCodeSequence", "CodeValue",
    "RealWorldValueSlope", "RealWorldValueIntercept", "RescaleSlope", "RescaleIntercept",
    "Units", "RealWorldValueLUTData",
)}
#: Frame vectors other than SliceVector, with the fix of an object that uses several values.
_OTHER_VECTORS = {
    keyword_tag("EnergyWindowVector"): ("EnergyWindowVector (0054,0010)", "energy windows"),
    keyword_tag("DetectorVector"): ("DetectorVector (0054,0020)", "detectors"),
    keyword_tag("PhaseVector"): ("PhaseVector (0054,0030)", "phases"),
    keyword_tag("RotationVector"): ("RotationVector (0054,0050)", "rotations"),
    keyword_tag("RRIntervalVector"): ("RRIntervalVector (0054,0060)", "R-R intervals"),
    keyword_tag("TimeSlotVector"): ("TimeSlotVector (0054,0070)", "time slots"),
    keyword_tag("AngularViewVector"): ("AngularViewVector (0054,0090)", "angular views"),
    keyword_tag("TimeSliceVector"): ("TimeSliceVector (0054,0100)", "time slices"),
}
#: UCUM activity-concentration units of a Real World Value Mapping -> factor to Bq/ml.
_ACTIVITY_UNITS = {"bq/ml": 1.0, "kbq/ml": 1e3, "mbq/ml": 1e6}
#: Largest disagreement (mm) between two copies of the first frame's position.
_SAME_POSITION_MM = 0.01
_NOT_IN_VIEW = frozenset((_T["NumberOfFrames"], 0x7FE00008, 0x7FE00009, 0x7FE00010))
_LABEL = "NM RECON TOMO"


def is_nm_object(header: RawDataset) -> bool:
    """True for an NM Image Storage object (by SOP class, else by Modality NM).

    Parameters
    ----------
    header : RawDataset
        A file's header.

    Returns
    -------
    bool
    """
    sop = header.text(_T["SOPClassUID"]) or ""
    if sop in (NM_IMAGE_STORAGE, _NM_RETIRED):
        return True
    return not sop and header.text(_T["Modality"]) == "NM"


@dataclass(frozen=True)
class NmScale:
    """How the stored values of an NM object become real values.

    Attributes
    ----------
    slope, intercept : float
        ``value = stored · slope + intercept``.
    units : str
        ``"BQML"`` (activity concentration) or ``"counts"``.
    source : str
        Where the scale came from (for the provenance).
    notes : list of str
        What was unusual (accepted, stated).
    """

    slope: float
    intercept: float
    units: str
    source: str
    notes: list[str] = field(default_factory=list)


def _rwv_units(item: RawDataset) -> str | None:
    codes = item.seq(_T["MeasurementUnitsCodeSequence"])
    return codes[0].text(_T["CodeValue"]) if codes else None


def nm_scale(header: RawDataset, file: Path) -> NmScale:
    """The value scale of an NM object: Real World Value Mapping, rescale or counts.

    Parameters
    ----------
    header : RawDataset
        The object's header.
    file : pathlib.Path
        The file (for messages).

    Returns
    -------
    NmScale

    Raises
    ------
    SeriesError
        A lookup-table or non-activity mapping, several mappings, or a mapping and a
        rescale that disagree.
    """
    items = header.seq(_T["RealWorldValueMappingSequence"])
    units_tag = (header.text(_T["Units"]) or "").upper()
    rescale = header.float(_T["RescaleSlope"])
    rescale_b = header.float(_T["RescaleIntercept"], 0.0) or 0.0
    label = "RealWorldValueMappingSequence (0040,9096)"
    if len(items) > 1:
        raise SeriesError(f"{len(items)} real world value mappings: the quantity of the "
                          "pixels is ambiguous", file=file, tag=label,
                          fix="export the reconstruction with one mapping (Bq/ml or counts)")
    if items:
        item = items[0]
        code = (_rwv_units(item) or "").strip()
        slope = item.float(_T["RealWorldValueSlope"])
        if slope is None:
            raise SeriesError("a lookup-table mapping (no RealWorldValueSlope) is not read",
                              file=file, tag=label, fix="export the reconstruction with a "
                              "linear mapping or in counts")
        intercept = item.float(_T["RealWorldValueIntercept"], 0.0) or 0.0
        notes: list[str] = []
        if code.lower() in _ACTIVITY_UNITS:
            units = "BQML"
            to_bqml = _ACTIVITY_UNITS[code.lower()]
            if to_bqml != 1.0:
                notes.append(f"real world values in {code} converted to Bq/ml (x {to_bqml:g})")
        elif code in ("{counts}", "{counts}/s", "1") or not code:
            units = "counts"
            to_bqml = 1.0
        else:
            raise SeriesError(f"units {code!r} are neither Bq/ml nor counts", file=file,
                              tag="MeasurementUnitsCodeSequence (0040,08EA)",
                              fix="export the reconstruction in Bq/ml or in counts")
        if rescale is not None and (abs(rescale - slope) > 1e-6 * abs(slope)
                                    or abs(rescale_b - intercept) > 1e-6 * max(abs(slope), 1)):
            raise SeriesError(
                f"RescaleSlope {rescale:g} / RescaleIntercept {rescale_b:g} disagree with the "
                f"real world value mapping ({slope:g}, {intercept:g}): the scale is ambiguous",
                file=file, tag="RescaleSlope (0028,1053)",
                fix="check the export with the vendor; re-export with one scale")
        if units_tag and (units_tag == "BQML") != (units == "BQML"):
            raise SeriesError(f"Units {units_tag} disagrees with the real world value "
                              f"mapping's units {code!r}", file=file, tag="Units (0054,1001)",
                              fix="check the export with the vendor")
        return NmScale(float(slope) * to_bqml, float(intercept) * to_bqml, units,
                       f"{label} ({code or 'no units'})", notes)
    if rescale is not None:
        units = "BQML" if units_tag == "BQML" else "counts"
        note = ("RescaleSlope read although the NM IOD has no Modality LUT (vendor "
                f"extension); Units {units_tag or 'absent'}")
        return NmScale(float(rescale), float(rescale_b), units, "RescaleSlope (0028,1053)",
                       [note])
    if units_tag == "BQML":
        return NmScale(1.0, 0.0, "BQML", "Units (0054,1001) BQML, stored values")
    return NmScale(1.0, 0.0, "counts", "stored values (no mapping, no rescale)")


def _fail(problem: str, file: Path, tag: str, fix: str) -> SeriesError:
    return SeriesError(problem, file=file, tag=tag, fix=fix)


def _check_kind(header: RawHeader, file: Path) -> None:
    kind = header.texts(_T["ImageType"])
    value3 = kind[2].upper() if len(kind) > 2 else ""
    if value3 == "RECON TOMO":
        return
    what = {"RECON GATED TOMO": "a gated reconstruction (one volume per gate)",
            "TOMO": "SPECT projections, not a reconstruction",
            "GATED TOMO": "gated SPECT projections, not a reconstruction"}.get(
        value3, f"a planar NM image ({value3 or 'ImageType value 3 missing'})")
    raise _fail(f"the NM object is {what}; only RECON TOMO reconstructions are volumes",
                file, "ImageType (0008,0008)",
                "load the reconstructed SPECT (ImageType ...\\RECON TOMO) of this study")


def _slice_of_frames(header: RawHeader, file: Path, n: int) -> np.ndarray:
    """SliceVector (1-based) of every frame, checked; other vectors must be constant."""
    raw = header.raw(_T["FrameIncrementPointer"]) or b""
    order = "little" if header.little_endian else "big"
    pointers = [int.from_bytes(raw[i:i + 2], order) << 16  # AT: group, element
                | int.from_bytes(raw[i + 2:i + 4], order) for i in range(0, len(raw) - 3, 4)]
    for tag, (label, what) in _OTHER_VECTORS.items():
        values = header.floats(tag)
        if values and len(set(values)) > 1:   # several volumes, pointer or not
            raise _fail(f"the object holds {len(set(values))} {what} "
                        f"({sorted(set(int(v) for v in values))}) in its {n} frames: "
                        "several volumes in one object", file, label,
                        f"export one reconstruction per object (one of the {what}), "
                        "e.g. the photopeak window only")
    slices = header.floats(_T["SliceVector"])
    if not slices:
        if n > 1 and _T["SliceVector"] in pointers:
            raise _fail("missing", file, "SliceVector (0054,0080)", "restore the file")
        slices = list(range(1, n + 1))
    if len(slices) != n:
        raise _fail(f"{len(slices)} values for {n} frames", file, "SliceVector (0054,0080)",
                    "restore the file from the archive")
    vector = np.asarray(slices, dtype=int)
    if sorted(vector.tolist()) != list(range(1, n + 1)):
        raise _fail("is not one frame per slice 1..n (a slice repeated or missing)", file,
                    "SliceVector (0054,0080)", "export one reconstruction per object")
    expected = header.int(_T["NumberOfSlices"])
    if expected is not None and expected != n:
        raise _fail(f"NumberOfSlices {expected} but {n} frames", file,
                    "NumberOfSlices (0054,0081)", "restore the file from the archive")
    return vector


def _plane(header: RawHeader, file: Path) -> tuple[list[float], list[float], list[str]]:
    """First-frame position and orientation: the detector items, else the top level.

    Every copy (each DetectorInformationSequence item that holds one, and the top level)
    must agree: two different positions of one volume are refused.
    """
    items = header.seq(_T["DetectorInformationSequence"])
    found = []
    for i, (source, where) in enumerate([*((item, f"DetectorInformationSequence item {n}")
                                           for n, item in enumerate(items, start=1)),
                                         (header, "top level")]):
        ipp = source.floats(_T["ImagePositionPatient"])
        iop = source.floats(_T["ImageOrientationPatient"])
        if ipp and iop and len(ipp) == 3 and len(iop) == 6:
            found.append((ipp, iop, where, i == len(items)))
    if not found:
        raise _fail("missing: the reconstruction has no position or orientation (a planar "
                    "image or an export without the NM Detector module)", file,
                    "DetectorInformationSequence (0054,0022) > ImagePositionPatient (0020,0032)",
                    "re-export the reconstruction (ImageType ...\\RECON TOMO) with its NM "
                    "Detector module; planar images are not volumes")
    ipp, iop, where, top = found[0]
    for other_ipp, other_iop, other_where, _ in found[1:]:
        if (np.abs(np.subtract(ipp, other_ipp)).max() > _SAME_POSITION_MM
                or np.abs(np.subtract(iop, other_iop)).max() > 1e-4):
            raise _fail(f"the {where} and the {other_where} give different first-frame "
                        "positions or orientations: where the volume lies is ambiguous", file,
                        "ImagePositionPatient (0020,0032)", "check the export with the vendor "
                        "and re-export the reconstruction with one geometry")
    notes = []
    if top:
        notes.append("ImagePositionPatient/ImageOrientationPatient read from the top "
                     "level: no DetectorInformationSequence item holds them")
    elif where != "DetectorInformationSequence item 1":
        notes.append(f"ImagePositionPatient/ImageOrientationPatient read from the {where}")
    return ipp, iop, notes


def _spacing(header: RawHeader, file: Path) -> tuple[float, list[str]]:
    spacing = header.float(_T["SpacingBetweenSlices"])
    if spacing is not None and spacing != 0:
        return spacing, []
    thickness = header.float(_T["SliceThickness"])
    if thickness is not None and thickness > 0:
        what = "missing" if spacing is None else "0"
        return thickness, [f"SpacingBetweenSlices {what}: SliceThickness used as the spacing"]
    raise _fail("missing or zero (and no SliceThickness)", file,
                "SpacingBetweenSlices (0018,0088)", "re-export the reconstruction")


def _ds(values: list[float] | np.ndarray) -> bytes:
    text = "\\".join(f"{float(v):.10g}" for v in values)
    return (text + " " * (len(text) % 2)).encode("ascii")


def nm_frame_views(header: RawHeader, file: Path | None = None
                   ) -> tuple[FrameViews, NmScale, list[str]]:
    """One flat header per frame of an NM RECON TOMO object, placed in patient space.

    Parameters
    ----------
    header : RawHeader
        The object's full header.
    file : pathlib.Path, optional
        The file (default ``header.path``).

    Returns
    -------
    FrameViews
        Each frame's view holds its ImagePositionPatient, ImageOrientationPatient and the
        chosen RescaleSlope/RescaleIntercept.
    NmScale
        The value scale.
    list of str
        Notes: what was unusual and accepted (negative spacing, top-level geometry, ...).

    Raises
    ------
    SeriesError
        Not a RECON TOMO reconstruction, several volumes in one object, no geometry.
    """
    path = Path(file if file is not None else header.path or "<buffer>")
    _check_kind(header, path)
    n = header.int(_T["NumberOfFrames"]) or 1
    slices = _slice_of_frames(header, path, n)
    ipp, iop, notes = _plane(header, path)
    spacing, more = _spacing(header, path)
    notes += more
    if spacing < 0:
        notes.append(f"SpacingBetweenSlices {spacing:g} mm is negative: the frames are "
                     "stacked against row x column (PS3.3 C.8.4.15), read so")
    normal = np.cross(np.asarray(iop[:3]), np.asarray(iop[3:]))
    scale = nm_scale(header, path)
    top = {t: v for t, v in header.elements.items() if t not in _NOT_IN_VIEW}
    vrs = {t: header.vrs.get(t, "UN") for t in top}
    views, sources = [], []
    for f in range(n):
        position = np.asarray(ipp) + (slices[f] - 1) * spacing * normal
        view = RawHeader(dict(top), dict(vrs), header.little_endian, header.encodings,
                         path=path, transfer_syntax=header.transfer_syntax,
                         implicit_vr=header.implicit_vr, via_pydicom=header.via_pydicom)
        for key, value in (("ImagePositionPatient", position), ("ImageOrientationPatient", iop),
                           ("RescaleSlope", [scale.slope]),
                           ("RescaleIntercept", [scale.intercept])):
            view.elements[_T[key]] = _ds(value)
            view.vrs[_T[key]] = "DS"
        views.append(view)
        sources.append({_T["ImagePositionPatient"]: "DetectorInformationSequence + "
                        "SliceVector x SpacingBetweenSlices"})
    frames = FrameViews(path, _LABEL, views, sources, [[] for _ in range(n)], [])
    return frames, scale, notes + scale.notes
