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

Runs under a display: ``xvfb-run -a python benchmarks/bench_review.py``. The demo study's ROI
store is copied to a temporary folder first: nothing in data/demo is changed.

Usage: python benchmarks/bench_review.py [--params parameters/demo.yaml]
       [--patients P001 P002 P003 P004 P005 P006]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _fmt_ms(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return (f"median {np.median(ms):6.1f} ms  max {ms.max():6.1f} ms  min {ms.min():6.1f} ms  "
            f"(n={len(ms)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="parameters/demo.yaml")
    parser.add_argument("--patients", nargs="+",
                        default=["P001", "P002", "P003", "P004", "P005", "P006"])
    args = parser.parse_args()
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
        params = params_from_dict({"study": {"data_root": str(root), "rois": str(rois)}})
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
            widget.shutdown()
            viewer.close()
            app.processEvents()

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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
