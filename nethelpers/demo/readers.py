"""Simulated readers: visual calls, Krenning scores, causes of errors, and reader ROIs.

A reader sees a lesion's apparent contrast: its true SUV reduced by the partial-volume
recovery of the scanner's resolution (small lesions look fainter), over the SUV of the tissue
around it. Calls follow a noisy threshold on that contrast, so small, low-contrast lesions are
missed (realistic false negatives), and benign or physiological foci with high uptake are
called positive unless the reader recognises them (realistic false positives). A lesion
outside a scan's field of view (a distal femur below a vertex-to-mid-thigh scan) is not in
its image: the reader does not call it (:func:`lesions_in_view`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from nethelpers.demo.anatomy import Ellipsoid, Tissue, paint_shapes
from nethelpers.demo.cohort_sim import PETMR_BONE_BIAS, Lesion, Patient, Scan
from nethelpers.demo.followup_sim import lesions_at
from nethelpers.demo.grid import Grid
from nethelpers.demo.placement import PlacementError, grid_point, point_in
from nethelpers.demo.uptake import sphere_center_recovery

#: Readers: name -> (threshold shift in log-contrast units, chance of recognising a mimic).
READERS = {"R1": (0.0, 0.6), "R2": (0.08, 0.4)}

#: Apparent lesion-to-background contrast a reader calls positive half the time, per
#: system. Visibility goes with contrast over noise (Rose criterion): SPECT's noise (liver CV
#: 0.15-0.25) is about 1.8 times PET's (0.09-0.13), so the excess contrast needed,
#: 0.7 on PET, is about 1.8 x 0.7 = 1.2 on SPECT.
CONTRAST_THRESHOLD = {"PET": 1.7, "SPECT": 2.2}

#: SSTR tracers whose reads carry a Krenning score (on PET the modified, on SPECT the
#: original scale, both against liver and spleen).
KRENNING_TRACERS = ("DOTATATE", "HYNIC-TOC")

#: ROI label values of the reference regions; lesion n (1-based) gets ``LESION_ROI0 + n``.
ROI_LIVER, ROI_SPLEEN, LESION_ROI0 = 1, 2, 10

_HOST = {
    "pancreas": Tissue.PANCREAS, "liver": Tissue.LIVER, "small_bowel": Tissue.BOWEL,
    "accessory_spleen": Tissue.FAT, "uncinate": Tissue.PANCREAS,
    "soft_tissue_thigh": Tissue.MUSCLE, "head_sinonasal": Tissue.MUSCLE,
}


def host_tissue(lesion: Lesion) -> Tissue:
    """The tissue whose uptake forms a lesion's visual background."""
    if lesion.in_bone:
        return Tissue.MARROW
    return _HOST.get(lesion.site, Tissue.MUSCLE)


def apparent_suv(p: Patient, scan: Scan, lesion: Lesion) -> tuple[float, float]:
    """A lesion's apparent peak SUV and its background SUV on a scan."""
    organ = p.organ_suv[scan.tracer]
    background = organ[int(host_tissue(lesion))]
    true = lesion.suv[scan.tracer]
    if scan.modality == "PET/MR" and lesion.in_bone:
        true *= PETMR_BONE_BIAS
        background *= PETMR_BONE_BIAS
    rc = sphere_center_recovery(lesion.diameter_mm, scan.fwhm_mm)
    return rc * true + (1.0 - rc) * background, background


def _krenning(apparent: float, liver: float, spleen: float) -> int:
    """Modified Krenning score on PET: 1 faint, 2 up to liver, 3 above liver, 4 above spleen."""
    if apparent > spleen:
        return 4
    if apparent > liver:
        return 3
    return 2 if apparent > 0.5 * liver else 1


#: Free-text spellings of one cause, as readers write them (picked per read, no rng draw).
_SPELLINGS = {
    "small": ("small lesion ({d} mm) below PET resolution", "{d} mm, partial-volume effect",
              "too small ({d}mm)", "sub-centimetre lesion, below resolution"),
    "sstr": ("low SSTR expression (dedifferentiated G3 NET)", "SSTR-negative, G3",
             "no somatostatin-receptor uptake (dedifferentiated)"),
    "fdg": ("low FDG avidity (well-differentiated tumour)", "not FDG-avid, well-differentiated",
            "FDG negative (low grade NET)"),
    "liver": ("masked by high physiological liver uptake", "obscured by liver background",
              "hidden in background liver activity"),
    "contrast": ("low lesion-to-background contrast", "poor contrast against background"),
    "accessory_spleen": ("accessory spleen (splenule)", "splenunculus"),
    "uncinate": ("prominent physiological uncinate-process uptake",
                 "physiological uptake, uncinate process"),
    "lymph_node_mesenteric": ("reactive (inflammatory) lymph node", "reactive node"),
    "bone_spine": ("degenerative bone change", "osteophyte / degenerative change"),
    "bone_pelvis": ("healing insufficiency fracture", "insufficiency fracture"),
}


#: Smallest diameter (mm) with a finding on the CT or MR of the scan (SSTR-RADS correlate).
CORRELATE_MIN_MM = 10.0

#: Lesion sites that are not typical of NET (SSTR-RADS "site atypical").
ATYPICAL_NET_SITES = ("soft_tissue_thigh", "head_sinonasal")


def sstr_fields(p: Patient, scan: Scan, lesion: Lesion, apparent: float) -> dict:
    """The SSTR-RADS fields a reader of an SSTR PET records for one focus.

    Deterministic (no random draw, so the rest of the demo is unchanged). ``apparent`` is
    the uptake as this reader perceives it (lowered by the reader's threshold shift, so
    readers differ near a boundary). The uptake scale compares it with blood pool, liver and
    spleen (0 when the focus does not stand out from its host tissue by 10 %). The anatomic
    correlate is "suspicious" for a tumour of at least :data:`CORRELATE_MIN_MM`, "benign" for
    a benign lesion that anatomy characterises (not a reactive node), else "none". The site
    is atypical of NET at :data:`ATYPICAL_NET_SITES`. Empty for FDG reads.
    """
    if scan.tracer != "DOTATATE":
        return {"sstr_uptake": "", "anatomic_correlate": "", "site_typical": ""}
    organ = p.organ_suv[scan.tracer]
    _, background = apparent_suv(p, scan, lesion)
    blood, liver, spleen = (organ[int(t)] for t in (Tissue.BLOOD, Tissue.LIVER, Tissue.SPLEEN))
    if apparent <= 1.1 * background:
        uptake = 0
    else:
        uptake = 1 + int(apparent > blood) + int(apparent > liver) + int(apparent > spleen)
    if lesion.malignant:
        correlate = "suspicious" if lesion.diameter_mm >= CORRELATE_MIN_MM else "none"
    elif lesion.truth == "benign" and not lesion.site.startswith("lymph_node"):
        correlate = "benign"
    else:
        correlate = "none"
    return {"sstr_uptake": uptake, "anatomic_correlate": correlate,
            "site_typical": lesion.site not in ATYPICAL_NET_SITES}


def _cause(lesion: Lesion, scan: Scan, call: str, p: Patient) -> str:
    """Why a call disagrees with the reference standard (empty when it agrees).

    Spelled as readers do, several ways per cause (chosen from the scan and lesion IDs, so no
    random draw changes); an equivocal call on a malignant lesion gets a cause one time in
    three, else none (readers often give none).
    """
    pick = sum(map(ord, scan.scan_id + lesion.lesion_id))
    if lesion.malignant and (call == "negative" or (call == "equivocal" and pick % 3 == 0)):
        if lesion.diameter_mm < 10:
            key = "small"
        elif scan.tracer == "DOTATATE" and p.grade == "G3":
            key = "sstr"
        elif scan.tracer == "FDG" and lesion.suv["FDG"] < 4:
            key = "fdg"
        else:
            key = "liver" if lesion.site == "liver" else "contrast"
        texts = _SPELLINGS[key]
        text = texts[pick % len(texts)].format(d=f"{lesion.diameter_mm:.0f}")
        return text.replace("PET", "SPECT") if scan.modality.startswith("SPECT") else text
    if not lesion.malignant and call == "positive":
        texts = _SPELLINGS.get(lesion.site, (lesion.description,))
        return texts[pick % len(texts)] if lesion.description in texts else lesion.description
    return ""


def lesions_in_view(p: Patient, scan: Scan, grid: Grid) -> set[str]:
    """The lesions whose centre lies inside a scan's emission grid (what its image shows).

    Parameters
    ----------
    p, scan : Patient, Scan
        The patient and the scan (its pose places the body on the table).
    grid : Grid
        The scan's PET (SPECT) grid.

    Returns
    -------
    set of str
        Lesion IDs whose centre is within half a voxel of the grid's voxel centres.
    """
    upper = np.asarray(grid.size, dtype=float) - 0.5
    seen = set()
    for les in lesions_at(p, scan):
        ijk = grid.world_to_index(scan.pose.to_patient(np.asarray(les.center, dtype=float)))
        if np.all(ijk >= -0.5) and np.all(ijk <= upper):
            seen.add(les.lesion_id)
    return seen


def simulate_reads(p: Patient, scan: Scan, rng: np.random.Generator,
                   visible: set[str] | None = None) -> list[dict]:
    """Visual calls of every lesion of a patient on one scan by every reader.

    A patient without lesions gets one negative read per reader with lesion_id "none" (the
    scan was read and nothing was called), so the scan counts as read. ``visible``
    (:func:`lesions_in_view`; None: every lesion) leaves out the lesions the image does not
    show, with the same random draws for the others; a scan showing none of the patient's
    lesions is read with nothing called.
    """
    rows = []
    organ = p.organ_suv[scan.tracer]
    liver, spleen = organ[int(Tissue.LIVER)], organ[int(Tissue.SPLEEN)]
    threshold = CONTRAST_THRESHOLD[scan.system]
    for lesion in lesions_at(p, scan):
        apparent, background = apparent_suv(p, scan, lesion)
        contrast = apparent / max(background, 0.05)
        for reader, (shift, recognise) in READERS.items():
            z = (np.log(contrast) - np.log(threshold) - shift) / 0.25 + rng.normal(0.0, 0.6)
            if not lesion.malignant and rng.random() < recognise:
                z = min(z, -1.0 - abs(rng.normal()))       # recognised as benign
            call = "positive" if z > 0.6 else ("equivocal" if z > -0.6 else "negative")
            krenning = ""
            if scan.tracer in KRENNING_TRACERS:
                krenning = 0 if call == "negative" else _krenning(apparent, liver, spleen)
            rows.append({
                "scan_id": scan.scan_id, "lesion_id": lesion.lesion_id, "reader": reader,
                "call": call, "krenning": krenning,
                "confidence": int(np.clip(np.ceil(abs(z) / 0.8) + 1, 1, 5)),
                "cause": _cause(lesion, scan, call, p),
            } | sstr_fields(p, scan, lesion, apparent * float(np.exp(-shift))))
    if visible is not None:
        rows = [r for r in rows if r["lesion_id"] in visible]
    if not rows:  # read, nothing called: a "none" row, so the scan is not "not read"
        rows = [{"scan_id": scan.scan_id, "lesion_id": "none", "reader": reader,
                 "call": "negative", "krenning": "", "confidence": 5, "cause": "",
                 "sstr_uptake": "", "anatomic_correlate": "", "site_typical": ""}
                for reader in READERS]
    return rows


def _liver_reference(p: Patient, rng: np.random.Generator, radius: float,
                     lesions: list[Lesion]) -> np.ndarray:
    """Centre of the 3 cm liver reference sphere: anterior right lobe, clear of other organs.

    Organs painted over the liver ellipsoid (right kidney, adrenal, pancreatic head) and
    liver lesions are kept at least 6 mm from the sphere. When liver metastases fill the
    anterior right lobe, the sphere goes to a free place of the right half, else of the whole
    liver (:func:`nethelpers.demo.placement.grid_point`).
    """
    liver = p.anatomy.organ(Tissue.LIVER)[0]
    (cx, cy, cz), (a, b, c) = liver.center, liver.semi
    right = Ellipsoid(liver.tissue, (cx - 0.35 * a, cy - 0.25 * b, cz + 0.1 * c),
                      (0.5 * a, 0.6 * b, 0.6 * c))
    margin = radius + 6.0
    others = [s for t in (Tissue.KIDNEY, Tissue.ADRENAL, Tissue.PANCREAS, Tissue.UNCINATE,
                          Tissue.LUNG, Tissue.BLOOD, Tissue.MYOCARDIUM)
              for s in p.anatomy.organ(t) if isinstance(s, Ellipsoid)]
    grown = [Ellipsoid(s.tissue, s.center, tuple(v + margin for v in s.semi)) for s in others]
    avoid = [Ellipsoid(0, tuple(les.center), (les.diameter_mm / 2.0 + 4.0,) * 3)
             for les in lesions]
    inner = Ellipsoid(liver.tissue, liver.center, tuple(v - margin for v in liver.semi))

    def fits(points: np.ndarray) -> np.ndarray:     # (n, 3) -> (n,) bool
        x, y, z = points.T
        return inner.contains(x, y, z) & ~np.any([g.contains(x, y, z) for g in grown], axis=0)

    for _ in range(200):
        try:
            point = point_in([right], rng, margin=margin, avoid=avoid, clearance=margin)
        except PlacementError:      # crowded by liver lesions: search the whole grid
            break
        if fits(point[None])[0]:
            return point

    def right_half(points: np.ndarray) -> np.ndarray:
        return fits(points) & (points[:, 0] <= cx)

    # crowded: every free place of the anterior right lobe, else of the right half, else
    # of the whole liver
    for region, rule in (([right], fits), ([liver], right_half), ([liver], fits)):
        try:
            return grid_point(region, rng, margin=margin, avoid=avoid, clearance=margin,
                              accept=rule)
        except PlacementError:
            continue
    raise PlacementError(f"{p.patient_id}: no room for the liver reference sphere")


def reader_rois(p: Patient, scan: Scan, grid: Grid, rng: np.random.Generator
                ) -> tuple[np.ndarray, pd.DataFrame]:
    """Reader R1's ROIs on the PET grid: every lesion and the liver and spleen references.

    Lesion VOIs are spheres of the lesion's radius plus half the PSF FWHM around its
    centre, so they hold its blurred peak; the liver reference is a 3 cm sphere in the
    right lobe, the spleen reference a 2 cm sphere at the centre of the spleen.

    Returns
    -------
    labels : numpy.ndarray
        ``uint8`` label map on ``grid``.
    table : pandas.DataFrame
        One row per label: label, roi, lesion_id, method, reader, created.
    """
    spleen = p.anatomy.organ(Tissue.SPLEEN)[0]
    present = lesions_at(p, scan)
    spheres = [
        (ROI_LIVER, "liver", "", _liver_reference(p, rng, 15.0, present), 15.0),
        (ROI_SPLEEN, "spleen", "", np.asarray(spleen.center), 10.0),
    ]
    for n, les in enumerate(present, start=1):
        spheres.append((LESION_ROI0 + n, "lesion", les.lesion_id, les.center,
                        les.diameter_mm / 2.0 + scan.fwhm_mm / 2.0))
    labels = paint_shapes(grid, scan.pose, [
        (Ellipsoid(label, tuple(centre), (radius,) * 3), label)
        for label, _, _, centre, radius in spheres])
    created = (scan.bed_starts[-1] + pd.Timedelta(hours=3)).isoformat()
    table = pd.DataFrame([
        {"label": label, "roi": roi, "lesion_id": lesion_id, "method": "sphere",
         "reader": "R1", "created": created}
        for label, roi, lesion_id, _, _ in spheres])
    return labels, table


#: The simulated adjudicator of the demo's consensus.
ADJUDICATOR = "ADJ"


def consensus_rows(reads: list[dict], rng: np.random.Generator) -> list[dict]:
    """The consensus of R1 and R2 on one scan (:func:`nethelpers.consensus.make_consensus`).

    Where they disagree, the simulated adjudicator :data:`ADJUDICATOR` takes the call (and
    Krenning score) of the more confident reader, a coin flip on a tie (deterministic from
    ``rng``, drawn only for ties).
    """
    from nethelpers.consensus import make_consensus

    frame = pd.DataFrame(reads)
    first = make_consensus(frame, list(READERS))
    decisions = {}
    for row in first.unresolved.itertuples(index=False):
        mine = frame[(frame["scan_id"] == row.scan_id) & (frame["lesion_id"] == row.lesion_id)]
        conf = mine.set_index("reader")["confidence"].astype(int)
        best = conf[conf == conf.max()].index.tolist()
        pick = best[0] if len(best) == 1 else best[int(rng.integers(len(best)))]
        chosen = mine[mine["reader"] == pick].iloc[0]
        decisions[(row.scan_id, row.lesion_id)] = {"call": chosen["call"],
                                                   "krenning": chosen["krenning"]}
    out = make_consensus(frame, list(READERS), decisions=decisions, adjudicator=ADJUDICATOR)
    rows = out.reads.drop(columns=["basis", "adjudicator"]).to_dict("records")
    for row in rows:                       # numbers as the readers' rows carry them
        row["confidence"] = int(row["confidence"]) if row["confidence"] != "" else ""
    return rows
