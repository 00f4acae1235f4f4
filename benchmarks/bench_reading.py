"""Benchmark the reading workstation: open a patient with every view, the second scan beside,
switching scans.

Times, in one process under a display (``xvfb-run -a python benchmarks/bench_reading.py``):
``open_review`` with the reading views (session, dock, MIP, coronal, sagittal; imports of
the review included), the first paint, showing the PET/MR beside the PET/CT (registration,
saved for the next time), the first open of another scan, and switching back to scans shown
before (our code, then the paint, apart: painting five canvases is the graphics card's).
Anchor in the same run: SimpleITK's ImageSeriesReader reading the same PET series (float32).
The ROI store and the registrations are written to a temporary folder.

Usage: python benchmarks/bench_reading.py [--params parameters/demo.yaml] [--patient P001]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_dicom import _sitk


def _anchor(pet_dir: Path) -> float:
    """Seconds SimpleITK takes to read the PET series (``bench_dicom``'s reader)."""
    t0 = time.perf_counter()
    _sitk(pet_dir)
    return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="parameters/demo.yaml")
    parser.add_argument("--patient", default="P001")
    args = parser.parse_args()
    t0 = time.perf_counter()
    import napari
    from qtpy.QtWidgets import QApplication

    from nethelpers.config import load_params, params_from_dict
    from nethelpers.viewer.app import open_review
    t_imports = time.perf_counter() - t0
    base = load_params(args.params)
    tmp = Path(tempfile.mkdtemp(prefix="bench_reading_"))
    shutil.copytree(base.study.rois, tmp / "rois")
    params = params_from_dict({"study": {"name": "bench", "data_root": str(base.study.data_root),
                                         "rois": str(tmp / "rois")},
                               "registration": {"output": str(tmp / "registration")}})
    t0 = time.perf_counter()
    viewer = napari.Viewer(show=True)
    t_viewer = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, w = open_review(params, args.patient, reader="bench", viewer=viewer, autosave_s=0)
    t_open = time.perf_counter() - t0
    t0 = time.perf_counter()
    QApplication.processEvents()
    t_paint = time.perf_counter() - t0
    s = w.session
    first = s.current
    mr = [sid for sid in s.scan_ids if s.jobs[sid].modality == "PET/MR"]
    others = [sid for sid in s.scan_ids if sid != first and sid not in mr]
    t0 = time.perf_counter()
    shown = w.show_beside(mr[0]) if mr else False
    t_beside = time.perf_counter() - t0
    QApplication.processEvents()
    t0 = time.perf_counter()
    w.select_scan(others[0])
    t_first_switch = time.perf_counter() - t0
    QApplication.processEvents()
    code, paint = [], []
    for scan in [first, others[0]] * 3:
        t0 = time.perf_counter()
        w.select_scan(scan)
        code.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        QApplication.processEvents()
        paint.append(time.perf_counter() - t0)
    anchor = statistics.median(_anchor(Path(s.jobs[first].pet)) for _ in range(3))
    w.shutdown()
    # as `nethelpers review` opens: the axial view first, the reading views after its paint
    second = napari.Viewer(show=True)
    t0 = time.perf_counter()
    _, w2 = open_review(params, args.patient, reader="bench2", viewer=second, autosave_s=0,
                        reading_views="deferred")
    t_deferred = time.perf_counter() - t0                  # the dock and the axial layers
    while w2.reading is None:
        QApplication.processEvents()
    t_all = time.perf_counter() - t0
    w2.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"imports {t_imports:.2f} s, napari.Viewer {t_viewer:.2f} s")
    print(f"open_review with the reading views {t_open:.2f} s, first paint {t_paint:.2f} s")
    print(f"deferred views (a second patient view, imports done): axial view and dock "
          f"{t_deferred:.2f} s, every view drawn {t_all:.2f} s")
    print(f"beside {mr[0] if mr else '-'} ({'shown' if shown else 'none'}): {t_beside:.2f} s")
    print(f"first open of {others[0]}: {t_first_switch:.2f} s")
    print(f"switch back: code median {statistics.median(code) * 1000:.0f} ms (max "
          f"{max(code) * 1000:.0f}), paint median {statistics.median(paint) * 1000:.0f} ms")
    print(f"anchor: SimpleITK reads the PET series in {anchor * 1000:.0f} ms; switch back / "
          f"anchor = {statistics.median(code) / anchor:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
