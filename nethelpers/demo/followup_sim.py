"""Follow-up scans of the demo cohort: treatment response, recurrence and a repositioned patient.

Patients of the groups with a history of NET or PRRT (:attr:`FollowupProtocol.groups`) have a
second 68Ga-DOTATATE PET/CT months after the baseline (time point "follow-up 1"), a second
PET/MR when they had one at baseline, and a second FDG PET/CT when they had one and a G2/G3
tumour (where FDG response matters). The follow-up's scan ID is the baseline's with ``-FU1``.

Truth: each patient draws a **course** and each lesion follows it with its own factors:

- ``responding``: SUV x 0.35-0.60 and diameter x 0.55-0.85 (a fall of 40-65 %, well past
  the 30 % of PERCIST-like rules), and some lesions (:attr:`FollowupProtocol.gone_share`)
  are gone;
- ``stable``: SUV x 0.88-1.12 and diameter x 0.95-1.05 (inside +/-12 %);
- ``progressing``: SUV x 1.5-2.2 and diameter x 1.15-1.5, plus 1-2 new lesions;
- ``recurrence`` (history of NET without disease at baseline): 1-2 new lesions;
- ``no evidence of disease``: nothing changes, nothing appears.

The factors keep clear of the rules' 30 % boundary so that a measured change, with the
scanner's noise and partial-volume loss, falls in the truth's category for every lesion large
enough to be measured (:data:`nethelpers.demo.readers` reads the same lesions). Benign and
physiological foci (mimics, the uncinate process) keep their uptake and size: they do not
respond to treatment. A lesion's course is ``new`` when it first appears at follow-up, ``gone``
when absent then, else the patient's course (``unchanged`` for the foci that do not respond).

The follow-up is a new acquisition: a new pose on the table (translation, roll and a small yaw:
the registration has work to do), the weight of that day (-8 % to +3 % after therapy), a
new injection and uptake time. The anatomy is the same body.

The course follows quotas over the group's ranks (:attr:`FollowupProtocol.course_cycle`; no
random draw). Random streams of patient ``i`` (seed ``s``): ``[s, i, 40]`` lesion factors,
``[s, i, 41]`` new lesions' places, ``[s, i, 42]`` the scans; none is used elsewhere, so every
baseline file and truth value is the same as without follow-up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from nethelpers.demo.anatomy import Anatomy, Ellipsoid, Pose
from nethelpers.demo.cohort_sim import (
    CENTRES,
    Lesion,
    Patient,
    Scan,
    _lesion,
    _net_uptake,
    _nth_in_group,
    _regions,
    _rng,
    _scan,
)
from nethelpers.demo.placement import PlacementError

#: The time points of the demo.
BASELINE, FOLLOW_UP = "baseline", "follow-up 1"
#: HYNIC-TOC SUV of a new lesion over its DOTATATE SUV (the middle of spect_sim's range;
#: nobody has a SPECT at follow-up, the truth table still has the column).
SPECT_TRACER, SPECT_FACTOR = "HYNIC-TOC", 0.55
#: Suffix of a follow-up scan's ID.
SUFFIX = "-FU1"
#: Courses of a patient, and the courses a lesion can have besides them.
COURSES = ("responding", "stable", "progressing", "recurrence", "no evidence of disease")
LESION_COURSES = ("responding", "stable", "progressing", "gone", "new", "unchanged")


@dataclass(frozen=True)
class FollowupProtocol:
    """Who has a follow-up, when, and how the lesions change (ranges drawn uniformly).

    Parameters
    ----------
    groups : tuple of str
        Groups with a follow-up DOTATATE PET/CT.
    days : tuple of int
        Days from the baseline DOTATATE PET/CT to the follow-up.
    fdg_grades : tuple of str
        Grades whose baseline FDG PET/CT is repeated.
    course_cycle : dict
        Per group, the courses of its patients with disease at baseline, in turn (the first
        six patients: P003 progressing, P004 responding).
    suv_factor, diameter_factor : dict
        Per course, the range of the lesion's follow-up / baseline SUV and diameter.
    gone_share : float
        Share of a responding patient's lesions that are gone at follow-up.
    new_lesions : tuple of int
        Range of new lesions of a progressing or recurrent patient.
    weight_change : tuple of float
        Range of the relative change of the body weight.
    yaw_deg : float
        Largest yaw of the follow-up pose.
    gap_mm : float
        Growing lesions keep this gap to every other lesion (or their baseline gap when it
        was smaller): each of two neighbours may take half of the room between them. New
        lesions are placed this far from the others' follow-up spheres. A reader's VOI of
        one lesion then does not take in its growing neighbour.
    """

    groups: tuple[str, ...] = ("history_net", "prrt_net")
    days: tuple[int, int] = (90, 270)
    fdg_grades: tuple[str, ...] = ("G2", "G3")
    course_cycle: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("prrt_net", ("responding", "progressing", "stable", "responding", "stable")),
        ("history_net", ("progressing", "stable", "responding")))
    suv_factor: tuple[tuple[str, tuple[float, float]], ...] = (
        ("responding", (0.35, 0.60)), ("stable", (0.88, 1.12)), ("progressing", (1.5, 2.2)))
    diameter_factor: tuple[tuple[str, tuple[float, float]], ...] = (
        ("responding", (0.55, 0.85)), ("stable", (0.95, 1.05)), ("progressing", (1.15, 1.5)))
    gone_share: float = 0.25
    new_lesions: tuple[int, int] = (1, 2)
    weight_change: tuple[float, float] = (-0.08, 0.03)
    yaw_deg: float = 2.0
    gap_mm: float = 8.0


#: The protocol the demo uses.
PROTOCOL = FollowupProtocol()


@dataclass
class LesionState:
    """A lesion at one time point: present or not, its diameter and true SUV per tracer."""

    present: bool
    diameter_mm: float
    suv: dict[str, float]


@dataclass
class Followup:
    """A patient's follow-up truth: the course and each lesion's state at each time point."""

    course: str
    lesion_course: dict[str, str]
    states: dict[str, dict[str, LesionState]]   # time point -> lesion_id -> state


def has_followup(p: Patient, protocol: FollowupProtocol = PROTOCOL) -> bool:
    """Whether a patient has follow-up scans (no random draw)."""
    return p.group in protocol.groups and p.final_diagnosis != "TIO"


def _course(p: Patient, protocol: FollowupProtocol) -> str:
    """The patient's course: deterministic quotas over the group's ranks (no random draw).

    With malignant lesions at baseline, the group's cycle of courses
    (:attr:`FollowupProtocol.course_cycle`); without, recurrence every other patient.
    """
    k = _nth_in_group(p.index)
    if not any(les.malignant for les in p.lesions):
        return "recurrence" if (k // 2) % 2 == 0 else "no evidence of disease"
    cycle = dict(protocol.course_cycle)[p.group]
    return cycle[(k // (2 if p.group == "history_net" else 1)) % len(cycle)]


def _new_lesions(p: Patient, n: int, rng: np.random.Generator, after: dict[str, LesionState],
                 gap_mm: float) -> list[Lesion]:
    """Place ``n`` new malignant lesions (liver, node or bone) clear of the others.

    Each keeps ``gap_mm`` from every other lesion's sphere at baseline and at follow-up.
    """
    body = p.anatomy.body
    regions = _regions(body.zscale, body.girth)
    placed = [Ellipsoid(0, tuple(les.center), (
        max(les.diameter_mm, after[les.lesion_id].diameter_mm) / 2.0 + gap_mm - 2.0,) * 3)
        for les in p.lesions]
    grade = p.grade or "G2"
    out: list[Lesion] = []
    sites = (("liver", "new liver metastasis", (8.0, 24.0)),
             ("lymph_node_paraaortic", "new lymph-node metastasis", (8.0, 18.0)),
             ("bone_spine", "new bone metastasis", (8.0, 16.0)))
    for _ in range(n):
        site, description, (d0, d1) = sites[int(rng.integers(len(sites)))]
        lesion_id = f"{p.patient_id}-L{len(p.lesions) + len(out) + 1:02d}"
        suv = _net_uptake(grade, rng)
        suv[SPECT_TRACER] = SPECT_FACTOR * suv["DOTATATE"]   # no SPECT at follow-up
        try:
            out.append(_lesion(lesion_id, site, description, "malignant", rng.uniform(d0, d1),
                               suv, p.anatomy, regions, rng, placed, "follow-up"))
        except PlacementError:   # the region is full
            continue
    return out


def _state(les: Lesion) -> LesionState:
    return LesionState(True, les.diameter_mm, dict(les.suv))


def _changed(les: Lesion, course: str, rng: np.random.Generator,
             protocol: FollowupProtocol) -> tuple[str, LesionState]:
    """A baseline lesion's course and its state at follow-up."""
    s0, s1 = dict(protocol.suv_factor)[course]
    d0, d1 = dict(protocol.diameter_factor)[course]
    suv_f, d_f = float(rng.uniform(s0, s1)), float(rng.uniform(d0, d1))
    gone = course == "responding" and rng.random() < protocol.gone_share
    if not les.malignant:
        return "unchanged", _state(les)
    if gone:
        return "gone", LesionState(False, les.diameter_mm, dict(les.suv))
    suv = {tracer: value * suv_f for tracer, value in les.suv.items()}
    return course, LesionState(True, round(les.diameter_mm * d_f, 1), suv)


def _keep_apart(lesions: list[Lesion], after: dict[str, LesionState], gap_mm: float) -> None:
    """Cap the growth of lesions so that neighbours keep ``gap_mm`` (or their baseline gap).

    Each lesion of a pair may grow by half the room the pair has beyond that gap; a
    lesion's diameter never falls below its baseline by this cap.
    """
    for les in lesions:
        state = after[les.lesion_id]
        grow = state.diameter_mm / 2.0 - les.diameter_mm / 2.0
        if grow <= 0 or not state.present:
            continue
        for other in lesions:
            if other is les:
                continue
            gap = float(np.linalg.norm(les.center - other.center)) - (
                les.diameter_mm + other.diameter_mm) / 2.0
            grow = min(grow, max(0.0, (gap - min(gap, gap_mm)) / 2.0))
        state.diameter_mm = round(les.diameter_mm + 2.0 * grow, 1)


def add_followup(p: Patient, seed: int, protocol: FollowupProtocol = PROTOCOL) -> None:
    """Draw a patient's follow-up truth, add its new lesions and its follow-up scans.

    New lesions are appended to ``p.lesions`` (absent at baseline); the follow-up scans are
    appended after every other scan, so the baseline scans keep their numbers (which seed
    their images, ROIs and reads).
    """
    if not has_followup(p, protocol):
        return
    rng = _rng(seed, p.index, 40)
    course = _course(p, protocol)
    base = {les.lesion_id: _state(les) for les in p.lesions}
    after: dict[str, LesionState] = {}
    lesion_course: dict[str, str] = {}
    for les in p.lesions:
        if course in ("responding", "stable", "progressing"):
            c, state = _changed(les, course, rng, protocol)
        else:
            c, state = "unchanged", _state(les)
        lesion_course[les.lesion_id], after[les.lesion_id] = c, state
    _keep_apart(p.lesions, after, protocol.gap_mm)
    if course in ("progressing", "recurrence"):
        lo, hi = protocol.new_lesions
        new = _new_lesions(p, int(rng.integers(lo, hi + 1)), _rng(seed, p.index, 41), after,
                           protocol.gap_mm)
        for les in new:
            p.lesions.append(les)
            lesion_course[les.lesion_id] = "new"
            after[les.lesion_id] = _state(les)
            base[les.lesion_id] = LesionState(False, les.diameter_mm, dict(les.suv))
    p.followup = Followup(course, lesion_course, {BASELINE: base, FOLLOW_UP: after})
    _add_scans(p, _rng(seed, p.index, 42), protocol)


def _add_scans(p: Patient, rng: np.random.Generator, protocol: FollowupProtocol) -> None:
    """Add the follow-up scans: each a new acquisition of the same body.

    DOTATATE PET/CT, PET/MR when at baseline (after the PET/CT, of the same injection, the
    same gap as at baseline), FDG PET/CT when at baseline and G2/G3.
    """
    baseline = [s for s in p.scans if s.tracer in ("DOTATATE", "FDG")]
    first = next(s for s in baseline if s.tracer == "DOTATATE" and s.modality == "PET/CT")
    day = first.injection.date() + timedelta(days=int(rng.integers(*protocol.days)))
    weight = round(p.weight_kg * (1.0 + float(rng.uniform(*protocol.weight_change))), 1)
    petct: Scan | None = None
    for s in baseline:
        if s.tracer == "FDG" and p.grade not in protocol.fdg_grades:
            continue
        shift = 0 if s.tracer == "DOTATATE" else int(rng.integers(2, 15))
        injection = datetime.combine(day + timedelta(days=shift), datetime.min.time()) + (
            timedelta(hours=8, minutes=15 * int(rng.integers(0, 16))))
        start = injection + (s.bed_starts[0] - s.injection)
        pose = Pose(translation=(float(rng.uniform(-20, 20)), float(rng.uniform(-10, 30)),
                                 float(rng.uniform(-50, 50))),
                    roll_deg=float(rng.uniform(-4, 4)),
                    yaw_deg=float(rng.uniform(-protocol.yaw_deg, protocol.yaw_deg)))
        shared = s.modality == "PET/MR" and petct is not None
        if shared:   # the PET/MR after the PET/CT of the same injection, as at baseline
            start = petct.bed_starts[0] + (s.bed_starts[0] - first.bed_starts[0])
            injection = petct.injection
        repeat = _scan(p, s.tracer, s.modality, CENTRES[p.index % len(CENTRES)], injection,
                       start, rng, s.post_processed, pose)
        repeat = dataclasses.replace(repeat, scan_id=s.scan_id + SUFFIX,
                                     weight_kg=round(weight + float(rng.normal(0, 0.3)), 1))
        if shared:
            repeat = dataclasses.replace(repeat, injected_dose_bq=petct.injected_dose_bq,
                                         weight_kg=petct.weight_kg)
        if s is first:
            petct = repeat
        p.scans.append(repeat)


def time_point(scan: Scan) -> str:
    """The time point of a demo scan."""
    return FOLLOW_UP if scan.scan_id.endswith(SUFFIX) else BASELINE


def lesions_at(p: Patient, scan: Scan) -> list[Lesion]:
    """The lesions present on a scan, with their size and uptake at its time point."""
    follow = getattr(p, "followup", None)
    if follow is None:
        return list(p.lesions)
    states = follow.states[time_point(scan)]
    return [dataclasses.replace(les, diameter_mm=st.diameter_mm, suv=dict(st.suv))
            for les in p.lesions if (st := states[les.lesion_id]).present]


def anatomy_at(p: Patient, scan: Scan) -> Anatomy:
    """The patient's anatomy with the lesions present on a scan."""
    return dataclasses.replace(p.anatomy, lesions=[
        Ellipsoid(0, tuple(les.center), (les.diameter_mm / 2.0,) * 3)
        for les in lesions_at(p, scan)])


def lesion_course_rows(p: Patient) -> list[dict]:
    """Truth of every lesion on every PET scan of a patient with follow-up.

    Present or not, diameter and true SUV of the scan's tracer at its time point (empty when
    the lesion is absent: gone, or not yet there), and the lesion's course.
    """
    if p.followup is None:
        return []
    rows = []
    for scan in p.scans:
        if scan.system != "PET":
            continue
        tp = time_point(scan)
        for les in p.lesions:
            state = p.followup.states[tp][les.lesion_id]
            rows.append({"patient_id": p.patient_id, "scan_id": scan.scan_id,
                         "lesion_id": les.lesion_id, "time_point": tp,
                         "present": state.present,
                         "diameter_mm": state.diameter_mm if state.present else np.nan,
                         "true_suv": round(state.suv[scan.tracer], 4) if state.present
                         else np.nan,
                         "course": p.followup.lesion_course[les.lesion_id]})
    return rows
