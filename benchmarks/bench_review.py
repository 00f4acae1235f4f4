"""Benchmark the napari review: opening a patient, and click-to-VOI with its numbers.

1. Open a demo patient in the widget: ``ReviewSession`` (PET to SUV, CT or MR, newest ROI
   version) + the review widget (layers added, lesion table, references, versions), in a
   viewer created beforehand (not timed; one per patient). Goal < 2 s.
2. Click-to-VOI: for each lesion of the patients, its VOI is deleted (not timed), then a
   click at its true position (``truth/lesion_positions.csv``) in "add" mode is timed:
   ``add_lesion_at`` + the redraw of the label layer and the lesion table with the new
   numbers (``ReviewWidget.handle_click``, as a canvas click runs it). Goal < 200 ms.
   Also shown: ``ReviewSession.lesion_table()`` against one ``measure_rois`` call over the
   same ROIs (what the table refresh would cost with one call; same numbers).
3. Switching scans: each other scan of the patient opened for the first time (read and
   layers added), then back to a scan shown before (its kept layers shown again). Goal for
   switching back < 300 ms. Anchor in the same run: SimpleITK's ImageSeriesReader reading the
   same PET series (float32), the floor of any first open.
4. Cold first open in a fresh process (``--cold``): imports, viewer, session, widget, each
   timed; goal for the open (session + widget, viewer up) < 2 s.

Runs under a display: ``xvfb-run -a python benchmarks/bench_review.py``. The demo study's ROI
store is copied to a temporary folder first: nothing in data/demo is changed.

Usage: python benchmarks/bench_review.py [--params parameters/demo.yaml]
       [--patients P001 P002 P003 P004 P005 P006] [--cold]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from bench_dicom import _sitk


def _fmt_ms(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return (f"median {np.median(ms):6.1f} ms  max {ms.max():6.1f} ms  min {ms.min():6.1f} ms  "
            f"(n={len(ms)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="parameters/demo.yaml")
    parser.add_argument("--patients", nargs="+",
                        default=["P001", "P002", "P003", "P004", "P005", "P006"])
    parser.add_argument("--cold", action="store_true", help="also a fresh-process first open")
    parser.add_argument("--cold-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        return _cold_child(*args.cold_child)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        sys.exit("no display: run under `xvfb-run -a python benchmarks/bench_review.py`")

    import napari
    import SimpleITK as sitk
    from qtpy import API_NAME, QT_VERSION
    from qtpy.QtWidgets import QApplication

    from nethelpers.config import load_params, params_from_dict
    from nethelpers.quantify import measure_rois
    from nethelpers.review import ReviewSession
    from nethelpers.viewer.widget import ReviewWidget

    base = load_params(args.params)
    root = Path(base.study.data_root)
    if not (root / "clinical" / "scans.csv").is_file():
        sys.exit(f"{root}: no demo study; run `make demo` first")
    positions = pd.read_csv(root / "truth" / "lesion_positions.csv")

    print(f"machine: {platform.node()} {os.cpu_count()} cores, python "
          f"{platform.python_version()}, napari {napari.__version__}, {API_NAME} {QT_VERSION}, "
          f"SimpleITK {sitk.Version_VersionString()}")
    with tempfile.TemporaryDirectory() as tmp:
        rois = Path(tmp) / "rois"
        shutil.copytree(base.study.rois, rois)
        params = params_from_dict({"study": {"name": "bench", "data_root": str(root),
                                              "rois": str(rois)}})
        app = QApplication.instance() or QApplication([])

        # warm-up: imports, the first GL context, first-call allocations
        viewer = napari.Viewer(show=True)
        warm = ReviewWidget(viewer, ReviewSession(params, args.patients[0], "bench"),
                            autosave_s=0)
        viewer.window.add_dock_widget(warm, name="review")
        app.processEvents()
        warm.shutdown()
        viewer.close()

        opens, sessions, widgets, clicks, adds, tables, one_call = [], [], [], [], [], [], []
        firsts, backs, anchors = [], [], []
        lesions_seen = []
        for patient in args.patients:
            viewer = napari.Viewer(show=True)
            app.processEvents()
            t0 = time.perf_counter()
            session = ReviewSession(params, patient, "bench")
            t1 = time.perf_counter()
            widget = ReviewWidget(viewer, session, autosave_s=0)
            viewer.window.add_dock_widget(widget, name="review")
            app.processEvents()
            t2 = time.perf_counter()
            opens.append(t2 - t0)
            sessions.append(t1 - t0)
            widgets.append(t2 - t1)

            scan = session.current
            mine = positions[positions["scan_id"] == scan]
            lesions = [lid for lid in mine["lesion_id"]
                       if (session.table["lesion_id"] == lid).any()]
            lesions_seen.append(len(lesions))
            for lid in lesions:
                t0 = time.perf_counter()
                session.lesion_table()
                tables.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                measure_rois(session.images.suv, session.labels, session.table,
                             session.images.spacing, session.options)
                one_call.append(time.perf_counter() - t0)

                widget.select_lesion(lid, jump=False)
                widget.delete_selected()
                row = mine[mine["lesion_id"] == lid].iloc[0]
                world = (row.z_mm, row.y_mm, row.x_mm)
                widget.start("add")
                t0 = time.perf_counter()
                voi = widget.handle_click(world)
                app.processEvents()
                clicks.append(time.perf_counter() - t0)
                if voi is None:
                    print(f"  {lid}: click refused: {widget.messages[-1]}")
                    continue
                # the session call alone (undo, then the same click again)
                widget.undo()
                t0 = time.perf_counter()
                session.add_lesion_at(session.images.pet.TransformPhysicalPointToIndex(
                    (row.x_mm, row.y_mm, row.z_mm))[::-1])
                adds.append(time.perf_counter() - t0)
                widget.refresh()
            for sid in session.scan_ids[1:]:                   # first open of the others
                job = session.jobs[sid]
                t0 = time.perf_counter()
                _sitk(Path(job.pet))
                anchors.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                widget.select_scan(sid)
                app.processEvents()
                firsts.append(time.perf_counter() - t0)
            for sid in session.scan_ids[:-1]:                  # back to scans shown before
                t0 = time.perf_counter()
                widget.select_scan(sid)
                app.processEvents()
                backs.append(time.perf_counter() - t0)
            widget.shutdown()
            viewer.close()
            app.processEvents()
        cold = _cold(args.params, rois, args.patients[0]) if args.cold else None

    print(f"\n## Open a patient in the review widget ({len(opens)} demo patients, "
          "DOTATATE PET/CT first)")
    print(f"ReviewSession (PET to SUV + CT + ROIs)  {_fmt_ms(sessions)}")
    print(f"widget: layers, table, references       {_fmt_ms(widgets)}")
    print(f"open total                              {_fmt_ms(opens)}  (goal < 2000 ms)")
    print(f"\n## Click-to-VOI with its numbers ({len(clicks)} clicks at true lesion centres, "
          f"{statistics.mean(lesions_seen):.1f} lesions per scan)")
    print(f"handle_click: add_lesion_at + redraw    {_fmt_ms(clicks)}  (goal < 200 ms)")
    print(f"  add_lesion_at alone                   {_fmt_ms(adds)}")
    print(f"  lesion_table() (table numbers)        {_fmt_ms(tables)}")
    print(f"  one measure_rois over the same ROIs   {_fmt_ms(one_call)}")
    if firsts:
        print("\n## Switching scans (anchor: SimpleITK reads the same PET series)")
        print(f"anchor: ImageSeriesReader (float32)     {_fmt_ms(anchors)}")
        print(f"first open of another scan              {_fmt_ms(firsts)}  "
              f"({np.median(firsts) / np.median(anchors):.1f}x anchor)")
        print(f"back to a scan shown before             {_fmt_ms(backs)}  "
              f"({np.median(backs) / np.median(anchors):.2f}x anchor; goal < 300 ms)")
    if cold:
        print("\n## Cold first open in a fresh process (" + args.patients[0] + ")")
        for key, value in cold.items():
            print(f"{key:40s}{value * 1000:8.0f} ms")
    return 0


def _cold(params: str, rois: Path, patient: str) -> dict[str, float]:
    """Run :func:`_cold_child` in a fresh interpreter; its timings."""
    out = subprocess.run([sys.executable, __file__, "--params", params, "--cold-child",
                          str(rois), patient, "x"], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _cold_child(rois: str, patient: str, _: str) -> int:
    """Fresh process: import, viewer, session, widget; prints the timings as JSON."""
    t0 = time.perf_counter()
    import napari
    from qtpy.QtWidgets import QApplication

    t1 = time.perf_counter()
    from nethelpers.config import load_params, params_from_dict
    from nethelpers.review import ReviewSession
    from nethelpers.viewer.widget import ReviewWidget

    t2 = time.perf_counter()
    viewer = napari.Viewer(show=True)
    app = QApplication.instance()
    app.processEvents()
    t3 = time.perf_counter()
    root = load_params(sys.argv[sys.argv.index("--params") + 1]).study.data_root
    params = params_from_dict({"study": {"name": "bench", "data_root": str(root), "rois": rois}})
    t4 = time.perf_counter()
    session = ReviewSession(params, patient, "bench")
    t5 = time.perf_counter()
    widget = ReviewWidget(viewer, session, autosave_s=0)
    viewer.window.add_dock_widget(widget, name="review")
    app.processEvents()
    t6 = time.perf_counter()
    print(json.dumps({"import napari": t1 - t0, "import nethelpers review + widget": t2 - t1,
                      "napari.Viewer(show=True)": t3 - t2, "ReviewSession": t5 - t4,
                      "widget (layers, table, dock)": t6 - t5,
                      "open = session + widget": t6 - t4}))
    widget.shutdown()
    viewer.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
