"""Benchmark the 60-patient report (`nethelpers report`), with its anchors in the same run.

1. Anchor: papermill running an empty notebook (kernel start, the floor of each notebook).
2. The lesion gallery alone over the same scans, serial (``workers=1``) and parallel
   (``quantify.workers``, else one per core), with the PNG bytes compared (they must match).
3. The whole report: wall time, CPU time of the runner and its children (kernels, gallery
   workers), per notebook (``provenance.json``), and what comes after the notebooks (the
   index and the final privacy pass over every artefact).

The report is written to a temporary folder; ``quantify.output`` must already hold the
results (``nethelpers quantify -f <params>`` first): nothing under data/ is changed. Timings
on a shared machine are noisy: compare figures of the same run, and read the CPU seconds.

Usage: python benchmarks/bench_report.py [--params parameters/demo.yaml]
       [--gallery-patients 10] [--workers N] [--skip-report] [--notebooks 02_roi_review ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import yaml


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _params_copy(params_file: Path, tmp: Path) -> Path:
    """The parameters with absolute paths and the report written under ``tmp``."""
    from nethelpers.config import load_params

    params = load_params(params_file)
    raw = yaml.safe_load(params_file.read_text())
    raw["study"]["data_root"] = str(params.study.data_root)
    raw.setdefault("report", {})["output"] = str(tmp / "report")
    raw.setdefault("quantify", {})["output"] = str(params.quantify.output)
    path = tmp / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _empty_notebook(tmp: Path, params_file: Path) -> float:
    import nbformat
    import papermill

    from nethelpers.config import load_params

    source = tmp / "empty.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]),
                   source)
    start = time.perf_counter()
    papermill.execute_notebook(str(source), str(tmp / "empty_out.ipynb"), progress_bar=False,
                               log_output=False,
                               kernel_name=load_params(params_file).report.kernel)
    return time.perf_counter() - start


def _gallery(params_file: Path, tmp: Path, patients: int, workers: int | None) -> dict:
    from nethelpers.config import load_params
    from nethelpers.plots.galleryjobs import render_study_gallery
    from nethelpers.quantify import scan_jobs

    params = load_params(params_file)
    jobs = scan_jobs(params)
    wanted = sorted({j.patient_id for j in jobs})[:patients]
    jobs = [j for j in jobs if j.patient_id in wanted]
    out = {"scans": len(jobs)}
    results = {}
    for label, count in (("serial", 1), ("parallel", workers)):
        wall, cpu = time.perf_counter(), _self_cpu() + _children_cpu()
        results[label] = render_study_gallery(params, tmp / label, jobs=jobs, workers=count,
                                              progress=False)
        out[label] = (time.perf_counter() - wall, _self_cpu() + _children_cpu() - cpu)
    a, b = results["serial"], results["parallel"]
    out["same_bytes"] = a.names == b.names and all(
        x.read_bytes() == y.read_bytes() for x, y in zip(a.figures, b.figures, strict=True))
    out["failed"] = len(a.failed) + len(b.failed)
    return out


def _report(params_file: Path, notebooks: list[str] | None = None) -> dict:
    from nethelpers.report import run_report

    wall, cpu = time.perf_counter(), _self_cpu() + _children_cpu()
    out = run_report(params_file, notebooks=notebooks, progress=False)
    total = time.perf_counter() - wall
    record = json.loads((out / "provenance.json").read_text())
    notebooks = record["notebook_seconds"]
    started = datetime.fromisoformat(record["started"])
    finished = datetime.fromisoformat(record["finished"])
    return {"wall": total, "cpu": _self_cpu() + _children_cpu() - cpu,
            "notebooks": notebooks,
            "in_notebooks": (finished - started).total_seconds(),
            "status": record["status"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="parameters/demo.yaml")
    parser.add_argument("--gallery-patients", type=int, default=10,
                        help="patients whose scans the serial/parallel gallery draws")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--notebooks", nargs="+", default=None,
                        help="only these notebooks of the report (e.g. 02_roi_review)")
    args = parser.parse_args()
    print(f"# bench_report  {platform.node()}  {os.cpu_count()} cores  "
          f"Python {platform.python_version()}  load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="bench_report_") as name:
        tmp = Path(name)
        params_file = _params_copy(Path(args.params).resolve(), tmp)
        empty = _empty_notebook(tmp, params_file)
        print(f"anchor: papermill of an empty notebook {empty:.1f} s")
        g = _gallery(params_file, tmp, args.gallery_patients, args.workers)
        for label in ("serial", "parallel"):
            wall, cpu = g[label]
            print(f"gallery {label:8s} {g['scans']} scans: {wall:6.1f} s wall "
                  f"({wall / max(g['scans'], 1):.2f} s/scan), {cpu:6.1f} s CPU")
        print(f"gallery speed-up {g['serial'][0] / g['parallel'][0]:.2f}x; "
              f"same PNG bytes: {g['same_bytes']}; failed scans: {g['failed']}")
        if not args.skip_report:
            r = _report(params_file, args.notebooks)
            print(f"report ({r['status']}): {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU; "
                  f"notebooks {r['in_notebooks']:.1f} s, before/after them "
                  f"{r['wall'] - r['in_notebooks']:.1f} s")
            print("| notebook | s |\n|---|---|")
            for notebook, seconds in r["notebooks"].items():
                print(f"| {notebook} | {seconds} |")
        print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0 if not g["failed"] and g["same_bytes"] else 1


if __name__ == "__main__":
    sys.exit(main())
