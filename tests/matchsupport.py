"""Shared by the lesion-matching tests: parameters, fast sessions, the truth of each VOI.

Its fixtures (``registrations``, ``loaded``, ``params``) are module-scoped in each module
that binds them. Sessions open in milliseconds: each scan's images and demo ROIs (version 1,
identical in every test's copy of the ROI store) are loaded once per test module and handed
out as fresh copies; a scan saved since (version 2 and later) loads from the store as usual.
The registrations lie in one folder per module, so each scan pair is registered once.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.config import params_from_dict
from nethelpers.review import ReviewSession
from nethelpers.reviewscan import LoadedScan, ScanState

P3_BL, P3_FU = "P003-DOTATATE-PETCT", "P003-DOTATATE-PETCT-FU1"
P3_MR, P3_MR_FU = "P003-DOTATATE-PETMR", "P003-DOTATATE-PETMR-FU1"
P4_BL, P4_FU = "P004-DOTATATE-PETCT", "P004-DOTATATE-PETCT-FU1"


@pytest.fixture(scope="module")
def registrations(tmp_path_factory) -> Path:
    """One registration store per importing test module: each pair is registered once."""
    return tmp_path_factory.mktemp("registration")


@pytest.fixture(scope="module")
def loaded() -> dict:
    """Each scan's images and demo ROIs, loaded once per importing test module."""
    return {}


@pytest.fixture
def params(demo_study, tmp_path, registrations, loaded, monkeypatch):
    """Parameters on a copy of the demo's ROI store, scans loaded from the module's cache."""
    cache_loads(monkeypatch, loaded)
    return study_params(demo_study, tmp_path, registrations)


def study_params(demo_study: Path, tmp_path: Path, registrations: Path,
                 **sections: dict[str, Any]) -> Any:
    """Parameters on a copy of the demo's ROI store (``sections`` merged in)."""
    shutil.copytree(demo_study / "rois", tmp_path / "rois")
    study = {"name": "t", "data_root": str(demo_study), "rois": str(tmp_path / "rois"),
             **sections.pop("study", {})}
    return params_from_dict({"study": study, "registration": {"output": str(registrations),
                                                              **sections.pop("registration",
                                                                             {})},
                             **sections})


def cache_loads(monkeypatch: Any, cache: dict[tuple[str, str], LoadedScan]) -> None:
    """Make :class:`ReviewSession` load each scan's demo ROIs once (fresh copies after)."""
    import nethelpers.review as review

    real = review.load_scan

    def load(job: Any, options: Any, store: Any, reader: str, **kw: Any) -> LoadedScan:
        latest = store.latest(job.scan_id, reader=reader)
        if latest is not None and latest.version > 1:
            return real(job, options, store, reader, **kw)
        key = (job.scan_id, reader)
        if key not in cache:
            cache[key] = real(job, options, store, reader, **kw)
        hit = cache[key]
        state = ScanState(hit.state.labels.copy(), hit.state.table.copy(),
                          hit.state.reads.copy())
        return LoadedScan(hit.images, state, latest)

    monkeypatch.setattr(review, "load_scan", load)


def session(params: Any, patient: str, scan_id: str, reader: str = "R1") -> ReviewSession:
    """A reader's session on a scan."""
    return ReviewSession(params, patient, reader, scan_id=scan_id)


def voi_truth(study: Path, scan_id: str) -> dict[int, tuple[str, float]]:
    """Per R1 VOI label of a scan: the true lesion nearest its centre, and the distance (mm)."""
    folder = study / "rois" / scan_id / "R1" / "v000001"
    image = sitk.ReadImage(str(folder / "labels.nrrd"))
    array = sitk.GetArrayFromImage(image)
    table = pd.read_csv(folder / "rois.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(study / "truth" / "lesion_positions.csv")
    truth = truth[truth.scan_id == scan_id]
    out = {}
    for label in table.loc[table.roi == "lesion", "label"].astype(int):
        zyx = np.argwhere(array == label).mean(axis=0)
        centre = np.asarray(image.TransformContinuousIndexToPhysicalPoint(zyx[::-1].tolist()))
        dist = np.linalg.norm(truth[["x_mm", "y_mm", "z_mm"]].to_numpy() - centre, axis=1)
        out[label] = (truth["lesion_id"].iloc[int(dist.argmin())], float(dist.min()))
    return out


def scrambled(s: ReviewSession, prefix: str = "Q") -> dict[int, str]:
    """Give every lesion VOI of the current scan a neutral ID; return label -> that ID."""
    table = s.table.copy()
    lesion = table.roi == "lesion"
    table.loc[lesion, "lesion_id"] = [f"{prefix}{i}" for i in range(1, lesion.sum() + 1)]
    s._cur.state.table = table
    return dict(zip(table.loc[lesion, "label"].astype(int), table.loc[lesion, "lesion_id"],
                    strict=True))


def label_of(s: ReviewSession, lesion_id: str) -> int:
    """The label of the current scan's VOI carrying ``lesion_id``."""
    return int(s.table.set_index("lesion_id").at[lesion_id, "label"])


def truth_point(study: Path, scan_id: str, lesion_id: str) -> np.ndarray:
    """A lesion's true centre on a scan, LPS ``(x, y, z)`` mm."""
    truth = pd.read_csv(study / "truth" / "lesion_positions.csv")
    row = truth[(truth.scan_id == scan_id) & (truth.lesion_id == lesion_id)].iloc[0]
    return np.array([row.x_mm, row.y_mm, row.z_mm], dtype=float)
