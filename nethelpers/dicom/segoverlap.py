"""SEG segments that share voxels: refused, or resolved by an explicit policy, never silently.

A DICOM SEG keeps every segment in its own layer, so two segments may share voxels
(SegmentsOverlap YES: a whole-liver VOI drawn around a metastasis, two lesion outlines that
run into each other). The ROI store holds one label per voxel (:mod:`nethelpers.rois`): a
shared voxel can go to one segment only and the other loses it. For a lesion that loss
changes its MTV, SUVmean and TLA, and can change its SUVmax and SUVpeak, while each lesion's
numbers must come from the whole segment its reader drew. :func:`compose_label_map` builds
the label map slice by slice and counts every segment's voxels and every pair's shared
voxels exactly, then applies the overlap policy:

- ``"refuse"`` (:data:`DEFAULT_OVERLAP`): any shared voxel is an error naming every pair
  of segments (number, label, kind, voxels), the voxels and ml they share, what fraction of
  each segment that is, and the fix;
- ``"lesions-win"``: where a lesion overlaps a reference region (liver, spleen, blood pool,
  muscle), the lesion keeps every voxel and the reference region gives up the shared ones.
  A reference region samples normal tissue, and a background that holds tumour is not
  one (the PERCIST liver reference is placed away from lesions). Every lesion stays whole;
  what each reference region gave up (voxels, ml, %) goes into the provenance. Two lesions
  that overlap, two reference regions that overlap, or a reference region that would lose
  every voxel are still refused: no policy keeps both whole in one label map.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from nethelpers.dicom.errors import DicomInputError

__all__ = [
    "DEFAULT_OVERLAP",
    "OVERLAP_POLICIES",
    "LayerSegment",
    "SegmentOverlapError",
    "compose_label_map",
]

#: What to do with segments that share voxels (see the module docstring).
OVERLAP_POLICIES = ("refuse", "lesions-win")
#: The default: refuse.
DEFAULT_OVERLAP = "refuse"
#: Overlapping pairs listed in an error before "and N more".
_MAX_PAIRS_SHOWN = 8
_TAG = "SegmentsOverlap (0062,0013)"


class SegmentOverlapError(DicomInputError):
    """SEG segments share voxels that the ROI store can give to one of them only."""


@dataclass(frozen=True)
class LayerSegment:
    """One SEG segment as the label map will hold it.

    Attributes
    ----------
    number : int
        SegmentNumber.
    name : str
        SegmentLabel (the lesion_id or region name shown to the user).
    roi : str
        ROI kind (:data:`nethelpers.rois.ROI_KINDS`).
    label : int
        Its value in the label map.
    """

    number: int
    name: str
    roi: str
    label: int

    @property
    def is_lesion(self) -> bool:
        """Whether the segment is a lesion (else a reference region)."""
        return self.roi == "lesion"

    def text(self) -> str:
        """``segment 3 'P001-L02' (lesion)``."""
        return f"segment {self.number} '{self.name}' ({self.roi})"


def _percent(part: int, whole: int) -> str:
    value = 100.0 * part / whole if whole else 0.0
    return f"{value:.0f} %" if value >= 1 or value == 0 else f"{value:.1g} %"


def _ml(voxels: int, voxel_ml: float) -> str:
    return f"{voxels * voxel_ml:.3g} ml"


def _pair_text(a: LayerSegment, b: LayerSegment, shared: int, counts: Counter[int],
               voxel_ml: float) -> str:
    na, nb = counts[a.number], counts[b.number]
    return (f"{a.text()}, {na} voxels, and {b.text()}, {nb} voxels, share {shared} voxels "
            f"({_ml(shared, voxel_ml)}; {_percent(shared, na)} of segment {a.number}, "
            f"{_percent(shared, nb)} of segment {b.number})")


def _pairs_text(pairs: list[tuple[int, int]], shared: Counter[tuple[int, int]],
                segments: Mapping[int, LayerSegment], counts: Counter[int],
                voxel_ml: float) -> str:
    shown = [_pair_text(segments[a], segments[b], shared[(a, b)], counts, voxel_ml)
             for a, b in pairs[:_MAX_PAIRS_SHOWN]]
    more = len(pairs) - len(shown)
    return "; ".join(shown) + (f"; and {more} more pair(s)" if more > 0 else "")


_REEXPORT = ("re-export the SEG from the segmentation workstation with segments that do not "
             "overlap (each lesion's MTV and SUV need its whole segment, and the ROI store "
             "holds one label per voxel)")


def _refuse(pairs: list[tuple[int, int]], shared: Counter[tuple[int, int]],
            segments: Mapping[int, LayerSegment], counts: Counter[int], voxel_ml: float,
            file: str | None, policy: str) -> SegmentOverlapError:
    mixed = [(a, b) for a, b in pairs if segments[a].is_lesion != segments[b].is_lesion]
    listed = _pairs_text(pairs, shared, segments, counts, voxel_ml)
    if policy == "lesions-win":
        problem = ("segments share voxels that --overlap lesions-win cannot resolve (two "
                   f"lesions, or two reference regions): {listed}.")
        fix = _REEXPORT
    else:
        problem = (f"segments share voxels, but the ROI store holds one ROI per voxel: "
                   f"{listed}.")
        if len(mixed) == len(pairs):
            fix = (_REEXPORT + "; or, to keep every lesion whole and cut the shared voxels out "
                   "of the reference regions (a normal-tissue background excludes tumour), "
                   "import it with that policy: nethelpers rois import <scan_id> <SEG> -f "
                   "<parameters.yaml> --reader <you> --overlap lesions-win")
        elif mixed:
            fix = (_REEXPORT + "; --overlap lesions-win resolves only lesion/reference-region "
                   "pairs, not these")
        else:
            fix = _REEXPORT
    return SegmentOverlapError(problem, file=file, tag=_TAG, fix=fix)


def compose_label_map(slices: Iterable[tuple[int, dict[int, np.ndarray]]],
                      shape: tuple[int, int, int], segments: Mapping[int, LayerSegment], *,
                      voxel_ml: float, overlap: str = DEFAULT_OVERLAP,
                      file: str | None = None) -> tuple[np.ndarray, list[str]]:
    """Paint SEG segments into one label map, refusing or resolving shared voxels.

    Parameters
    ----------
    slices : iterable of (int, dict of int to numpy.ndarray)
        Per slice ``k`` (each at most once), a ``(rows, columns)`` boolean mask per segment
        number (:func:`nethelpers.dicom.segframes.slice_masks`).
    shape : tuple of int
        ``(nz, ny, nx)`` of the label map.
    segments : mapping of int to LayerSegment
        Every segment number the masks use.
    voxel_ml : float
        Volume of one voxel (ml), for the messages.
    overlap : str
        One of :data:`OVERLAP_POLICIES` (see the module docstring).
    file : str, optional
        The SEG as shown in errors (its name, never a path under the DICOM tree).

    Returns
    -------
    labels : numpy.ndarray
        ``uint16`` label map, ``(nz, ny, nx)``.
    notes : list of str
        For the provenance: what each reference region gave up under ``lesions-win``.

    Raises
    ------
    SegmentOverlapError
        Segments share voxels and the policy does not resolve them (every pair named).
    ValueError
        Unknown policy.
    """
    if overlap not in OVERLAP_POLICIES:
        raise ValueError(f"overlap {overlap!r}: use one of {', '.join(OVERLAP_POLICIES)}")
    out = np.zeros(shape, dtype=np.uint16)
    counts: Counter[int] = Counter()
    shared: Counter[tuple[int, int]] = Counter()
    for k, masks in slices:
        numbers = sorted(masks)
        for n in numbers:
            counts[n] += int(np.count_nonzero(masks[n]))
        for a, b in combinations(numbers, 2):
            both = int(np.count_nonzero(masks[a] & masks[b]))
            if both:
                shared[(a, b)] += both
        # reference regions first, so that under lesions-win the lesions keep their voxels
        for n in sorted(numbers, key=lambda n: (segments[n].is_lesion, n)):
            out[k][masks[n]] = segments[n].label
    pairs = sorted(shared)
    if not pairs:
        return out, []
    if overlap == "refuse":
        raise _refuse(pairs, shared, segments, counts, voxel_ml, file, overlap)
    same_kind = [(a, b) for a, b in pairs if segments[a].is_lesion == segments[b].is_lesion]
    if same_kind:
        raise _refuse(same_kind, shared, segments, counts, voxel_ml, file, overlap)
    return out, _reference_losses(out, pairs, segments, counts, voxel_ml, file)


def _reference_losses(out: np.ndarray, pairs: list[tuple[int, int]],
                      segments: Mapping[int, LayerSegment], counts: Counter[int],
                      voxel_ml: float, file: str | None) -> list[str]:
    """A provenance note per reference region that gave voxels to lesions (or refuse)."""
    lesions_of: dict[int, list[int]] = {}
    for a, b in pairs:
        ref, lesion = (a, b) if not segments[a].is_lesion else (b, a)
        lesions_of.setdefault(ref, []).append(lesion)
    notes = []
    for ref in sorted(lesions_of):
        seg = segments[ref]
        kept = int(np.count_nonzero(out == seg.label))
        lost = counts[ref] - kept
        lesions = ", ".join(segments[n].text() for n in sorted(lesions_of[ref]))
        if kept == 0:
            raise SegmentOverlapError(
                f"{seg.text()} lies entirely inside lesion segments ({lesions}): with "
                "--overlap lesions-win no voxel of it would be left.", file=file, tag=_TAG,
                fix=_REEXPORT)
        notes.append(f"{file or 'SEG'}: segments share voxels; --overlap lesions-win: "
                     f"{seg.text()} gave {lost} of its {counts[ref]} voxels "
                     f"({_ml(lost, voxel_ml)}, {_percent(lost, counts[ref])}) to {lesions} "
                     "(every lesion segment kept all its voxels)")
    return notes
