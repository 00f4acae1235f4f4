"""Real-study shapes derived from a demo study, for the report's degradation tests.

A real study rarely looks like the demo: one tracer only, no PET/MR, a single patient, no
reads yet, no liver VOI yet. :func:`make_shape` writes such a study beside a demo study by
editing its tables (and, for ``no_liver``, saving a new ROI version without the liver VOI);
the DICOM tree is linked, never copied or written to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

SHAPES = ("one_tracer", "no_petmr", "single_patient", "no_reads", "no_liver")
"""The study shapes of issue 14 besides the demo itself."""

NOTEBOOKS = ["01_cohort", "02_roi_review", "03_quantification", "04_tracer_comparison",
             "05_diagnostic_accuracy", "06_response"]


def _tables(src: Path, dst: Path) -> dict[str, pd.DataFrame]:
    frames = {}
    for rel in ("clinical/patients.csv", "clinical/scans.csv", "truth/lesions.csv",
                "reads/reads.csv"):
        frames[rel] = pd.read_csv(src / rel, dtype=str, keep_default_na=False)
    return frames


def _write(frames: dict[str, pd.DataFrame], dst: Path) -> None:
    for rel, df in frames.items():
        if df is None:
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(dst / rel, index=False)


def _keep_scans(frames: dict[str, pd.DataFrame], keep: pd.Series) -> None:
    scans = frames["clinical/scans.csv"]
    frames["clinical/scans.csv"] = scans[keep]
    reads = frames["reads/reads.csv"]
    frames["reads/reads.csv"] = reads[reads["scan_id"].isin(scans.loc[keep, "scan_id"])]


def _drop_liver(rois: Path) -> int:
    """Save a new version of every scan's ROIs without its liver VOI; return how many."""
    from nethelpers.rois import RoiStore

    store = RoiStore(rois)
    changed = 0
    for scan_id in store.scans():
        current = store.load(scan_id)
        liver = current.table["roi"] == "liver"
        if not liver.any():
            continue
        labels = sitk.GetArrayFromImage(current.labels)
        labels[np.isin(labels, current.table.loc[liver, "label"].astype(int))] = 0
        image = sitk.GetImageFromArray(labels)
        image.CopyInformation(current.labels)
        store.save(scan_id, image, current.table[~liver].reset_index(drop=True),
                   reader=current.version.reader, saved_by="test",
                   note="liver VOI removed (study shape no_liver)",
                   parent=current.version.version, reads=current.reads)
        changed += 1
    return changed


def make_shape(demo: Path, shape: str, out: Path) -> Path:
    """Write the study ``shape`` derived from the demo study ``demo`` into ``out``.

    Parameters
    ----------
    demo : Path
        A demo study (``nethelpers demo``).
    shape : str
        One of :data:`SHAPES`.
    out : Path
        New folder: tables rewritten, ``dicom`` linked, ``rois`` linked (copied for
        ``no_liver``).

    Returns
    -------
    Path
        ``out``.
    """
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r}")
    out.mkdir(parents=True)
    (out / "dicom").symlink_to(demo / "dicom", target_is_directory=True)
    frames = _tables(demo, out)
    scans = frames["clinical/scans.csv"]
    if shape == "one_tracer":
        _keep_scans(frames, scans["tracer"] == "DOTATATE")
    elif shape == "no_petmr":
        _keep_scans(frames, scans["modality"] != "PET/MR")
    elif shape == "single_patient":
        first = sorted(scans["patient_id"])[0]
        _keep_scans(frames, scans["patient_id"] == first)
        for rel in ("clinical/patients.csv", "truth/lesions.csv"):
            frames[rel] = frames[rel][frames[rel]["patient_id"] == first]
    elif shape == "no_reads":
        frames["reads/reads.csv"] = None
    if shape == "no_liver":
        shutil.copytree(demo / "rois", out / "rois")
        assert _drop_liver(out / "rois") > 0
    else:
        (out / "rois").symlink_to(demo / "rois", target_is_directory=True)
    _write(frames, out)
    return out


def shape_params(path: Path, data_root: Path, name: str, out: Path, quantify: Path) -> Path:
    """Parameters running every notebook on a shaped study."""
    path.write_text(
        f"study:\n  name: {name}\n  data_root: {data_root}\n"
        f"report:\n  output: {out}\n  notebooks: [{', '.join(NOTEBOOKS)}]\n  exports: []\n"
        # two reports run at a time: one gallery process each, no worker pool to spawn
        f"quantify:\n  output: {quantify}\n  scheduler: sync\n  workers: 1\n")
    return path


REPO = Path(__file__).resolve().parents[1]
ALL_SHAPES = (*SHAPES, "init")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "nethelpers", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200, check=False)


def _init_study(ideal: Path, tmp: Path, cwd: Path) -> Path:
    study = tmp / "init_study"
    done = _run(["init", str(ideal / "dicom"), "-o", str(study)], cwd)
    assert done.returncode == 0, done.stderr
    params = study / "parameters.yaml"   # no PDF/.docx here: the exports have their own tests
    text = params.read_text()
    assert text.count("\nreport:\n") == 1, "init writes one report section"
    params.write_text(text.replace("\nreport:\n", "\nreport:\n  exports: []\n"))
    return params


def run_all_shapes(ideal_study: Path, tmp: Path) -> dict[str, dict]:
    """Every shape's report and one of a study from ``nethelpers init``, two at a time.

    Returns shape → its parameters, report folder, shaped study and the command's output.
    """
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    runs: dict[str, dict] = {}
    for shape in SHAPES:
        study = make_shape(ideal_study, shape, tmp / shape)
        params = shape_params(tmp / f"{shape}.yaml", study, shape, tmp / f"report_{shape}",
                              tmp / f"q_{shape}")
        runs[shape] = {"params": params, "out": tmp / f"report_{shape}", "study": study,
                       "quantify": tmp / f"q_{shape}"}
    init_params = _init_study(ideal_study, tmp, cwd)
    runs["init"] = {"params": init_params, "study": init_params.parent,
                    "out": init_params.parent / "reports" / "init_study"}

    def report(shape: str) -> subprocess.CompletedProcess:
        return _run(["report", "-f", str(runs[shape]["params"]), "-q"], cwd)

    with ThreadPoolExecutor(max_workers=2) as pool:
        for shape, done in zip(ALL_SHAPES, pool.map(report, ALL_SHAPES), strict=True):
            runs[shape]["done"] = done
    return runs
