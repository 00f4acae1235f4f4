"""The ``nethelpers`` command: demo, report, index, suv, measure, rois, quantify, review."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

from nethelpers.cliargs import at_least_one, image_file, injection_time, slice_tolerance
from nethelpers.clierrors import shown


def _cmd_demo(args: argparse.Namespace) -> int:
    from nethelpers.demo.generate import generate_demo, is_complete
    from nethelpers.demo.imaging import ImagingOptions

    options = ImagingOptions(blur=not args.no_blur, noise=not args.no_noise)
    out = Path(args.out)
    if out.exists() and not out.is_dir():     # refused before minutes of generating
        print(f"demo: --out {args.out} is a file, not a folder. Fix: give "
              "a new folder (or an existing demo folder with --overwrite)", file=sys.stderr)
        return 2
    kept = args.if_missing and is_complete(out, args.patients, args.seed, options)
    if kept:
        print(f"demo: {out} is complete ({args.patients} patients, seed {args.seed}); kept")
    elif out.exists() and not (args.overwrite or args.if_missing):
        print(f"demo: {out} exists; use --overwrite to replace it or --if-missing to keep a "
              "complete one", file=sys.stderr)
        return 2
    else:
        generate_demo(out, args.patients, args.seed, options=options, workers=args.workers,
                      progress=not args.quiet, overwrite=True)
    if args.variants:
        from nethelpers.demo.variants import write_variants

        manifest = write_variants(out)
        print(f"demo: real-world variants -> {manifest}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from nethelpers.config import load_params

    load_params(args.params)  # a refusal comes before papermill is even imported
    from nethelpers.report import run_report

    # parameters or tables refused: nothing was run (exit 2); a notebook failed: the
    # partial report is kept (ReportError, exit 1); see main()
    out = run_report(args.params, output=args.output, notebooks=args.notebooks,
                     progress=not args.quiet)
    from nethelpers.report import report_notes

    for line in report_notes(out):
        print(f"report: {line}")
    print(f"report: {out / 'index.html'}")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from nethelpers.studyinit import init_study, summary_text

    result = init_study(args.dicom_root, args.output, workers=args.workers,  # InitError: 2
                        progress=not args.quiet)
    print(summary_text(result))
    return 0


def _cmd_index(args: argparse.Namespace) -> int:
    from nethelpers.dicom.index import index_tree, summarise_index, write_index

    out = Path(args.output)
    if not Path(args.root).is_dir():
        print(f"index: ROOT {shown(args.root, [args.root])} is not a folder. Fix: give the "
              "folder of the DICOM export", file=sys.stderr)
        return 2
    if out.suffix == ".parquet" and importlib.util.find_spec("pyarrow") is None:
        print(f"index: -o {args.output}: writing .parquet needs "
              "pyarrow, which is not installed. Fix: write .csv (-o dicom-index.csv) or "
              "install pyarrow", file=sys.stderr)
        return 2
    cache = None if args.no_cache else out.with_name(out.name + ".cache")
    series = index_tree(args.root, cache=cache, workers=args.workers, progress=not args.quiet,
                        slice_tolerance=args.slice_tolerance)
    written = write_index(series, out)
    print(summarise_index(series))
    print("index: " + ", ".join(str(p) for p in written))
    if args.strict and (series["qc"] == "fail").any():
        return 1
    return 0


def _clinical(args: argparse.Namespace) -> dict:
    """The clinical-record values of the SUV options (see :func:`_pet_options`)."""
    return {"weight_kg": args.weight, "height_m": args.height, "sex": args.sex,
            "dose_bq": args.dose, "half_life_s": args.half_life, "injection": args.injection}


def _cmd_suv(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    from nethelpers.dicom.volume import load_pet, provenance_json

    image, provenance = load_pet(  # DicomInputError: exit 2, see main()
        args.series, args.norm, series_uid=args.series_uid,
        slice_tolerance=args.slice_tolerance, **_clinical(args))
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        sitk.WriteImage(image, str(out), useCompression=True)
    except RuntimeError:    # SimpleITK's message is a C++ stack: say what to check
        print(f"suv: could not write -o {args.output}. Fix: check that its folder can be "
              "written and the disk is not full", file=sys.stderr)
        return 1
    provenance["output"] = str(out)
    print(provenance_json(provenance))
    return 0


def _cmd_measure(args: argparse.Namespace) -> int:
    import json

    from nethelpers.files import atomic_write
    from nethelpers.measure import measure_file

    rows, provenance = measure_file(  # DicomInputError: exit 2, see main()
        args.pet, args.rois, norm=args.norm, series_uid=args.series_uid,
        slice_tolerance=args.slice_tolerance, sr=args.sr, **_clinical(args))
    if args.output is None:
        print(rows.to_csv(index=False), end="")
        return 0
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "w", encoding="utf-8") as fh:
        rows.to_csv(fh, index=False)
    beside = out.with_name(out.stem + ".provenance.json")
    with atomic_write(beside, "w", encoding="utf-8") as fh:
        json.dump(provenance, fh, indent=2, default=str)
    print(f"measure: {len(rows)} ROIs ({provenance['roi_file']['kind']}) -> {out}, {beside}")
    if "sr" in provenance:
        print(f"measure: DICOM SR {provenance['sr']['sr']} (SEG {provenance['sr']['seg']})")
    return 0


def _cmd_quantify(args: argparse.Namespace) -> int:
    from nethelpers.cohort import CohortError
    from nethelpers.config import ParamsError, load_params
    from nethelpers.locking import FolderLockedError
    from nethelpers.quantify import QuantifyError, quantify_cohort, results_lock, write_results

    try:
        params = load_params(args.params)
        out = Path(args.output) if args.output else params.quantify.output
        with results_lock(out, lock_timeout=params.quantify.lock_timeout):  # one run at a time
            result = quantify_cohort(params, scheduler=args.scheduler, workers=args.workers,
                                     strict=args.strict, progress=not args.quiet,
                                     reader=args.reader)
            written = write_results(result, out)
    except (ParamsError, CohortError, QuantifyError, FolderLockedError) as exc:
        print(f"quantify: {exc}", file=sys.stderr)
        return 2
    counts = result.qc["status"].value_counts().to_dict()
    lesions = int((result.measurements["roi"] == "lesion").sum())
    from nethelpers.exclusions import exclusion_table, format_exclusions

    print(f"quantify: {len(result.qc)} scans ({', '.join(f'{v} {k}' for k, v in counts.items())}),"
          f" {lesions} lesion VOIs, {result.info['seconds']} s on {result.info['scheduler']}")
    left_out = format_exclusions(exclusion_table(result.exclusions, result.qc))
    if left_out:
        print("quantify: " + left_out)
    print("quantify: " + ", ".join(str(p) for p in written))
    if not (result.qc["status"] == "ok").any():
        print("quantify: nothing was measured (see the reasons above): no scan has both a "
              "readable PET and saved ROIs", file=sys.stderr)
        return 1
    return 1 if args.strict and (result.qc["status"] != "ok").any() else 0


def _scan_job(params, scan_id: str):
    from nethelpers.quantify import scan_jobs

    for job in scan_jobs(params):
        if job.scan_id == scan_id:
            return job
    raise KeyError(f"scan {scan_id} is not in the scans table {params.study.tables.scans}")


def _cmd_rois(args: argparse.Namespace) -> int:
    from nethelpers.config import ParamsError, load_params
    from nethelpers.dicom.errors import DicomInputError
    from nethelpers.rois import RoiStore, RoiStoreError

    try:
        params = load_params(args.params)
        store = RoiStore(params.study.rois)
        if args.action == "migrate":
            moved = store.migrate()
            print(f"rois: moved {len(moved)} version(s) into their readers' sets"
                  + "".join(f"\nrois: {note}" for note in store.notes))
        elif args.action == "history":
            print(store.history(args.scan, reader=args.reader).to_string(index=False))
        elif args.action == "restore":
            v = store.restore(args.scan, args.version, reader=args.reader, saved_by=args.by)
            print(f"rois: {args.scan} v{args.version} of {v.reader} restored as v{v.version}")
        elif args.action == "export-seg":
            from nethelpers.dicom.seg import export_seg

            rois = store.load(args.scan, args.version, reader=args.reader)
            job = _scan_job(params, args.scan)
            if args.output.endswith(("/", os.sep)):
                Path(args.output).mkdir(parents=True, exist_ok=True)
            out = export_seg(rois.labels, rois.table, job.pet, args.output,
                             series_uid=job.series_uid)
            print(f"rois: {args.scan} v{rois.version.version} -> {out}")
        else:
            from nethelpers.dicom.roifile import read_roi_file
            from nethelpers.dicom.volume import load_series
            from nethelpers.roiseries import series_uid_of

            job = _scan_job(params, args.scan)
            tolerance = params.quantify.slice_tolerance
            pet = load_series(job.pet, series_uid=job.series_uid, slice_tolerance=tolerance)
            rois = read_roi_file(args.seg, pet.files, pet.image, slice_tolerance=tolerance,
                                 reader=args.reader, overlap=args.overlap)
            latest = store.latest(args.scan, reader=args.reader)
            note = "; ".join([f"imported from {rois.kind} {Path(args.seg).name}", *rois.notes])
            v = store.save(args.scan, rois.labels, rois.table, reader=args.reader, note=note,
                           parent=latest.version if latest else 0, saved_by=args.by,
                           series_uid=series_uid_of(pet.headers))
            print(f"rois: {args.seg} ({rois.kind}) -> {args.scan} v{v.version} "
                  f"({len(rois.table)} ROIs)")
    except (ParamsError, RoiStoreError, DicomInputError, KeyError) as exc:
        print(f"rois: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_review(args: argparse.Namespace) -> int:
    from nethelpers.viewer.app import run_review

    return run_review(args.params, args.patient, scan_id=args.scan, reader=args.reader,
                      autosave_s=args.autosave, adjudicate=args.adjudicate)


def _pet_options(parser: argparse.ArgumentParser) -> None:
    """The SUV options shared by ``suv`` and ``measure``."""
    parser.add_argument("--norm", default="bw",
                        choices=["bw", "lbm", "lbm-james", "lbm-james120", "bsa", "ibw"],
                        help="normalisation: bw (default), lbm (SUL, Janmahasatian), "
                        "lbm-james (James 128), lbm-james120, bsa (cm2/ml), ibw")
    parser.add_argument("--series-uid", default=None,
                        help="series to read if the folder has more")
    parser.add_argument("--weight", type=float, default=None, help="weight in kg (overrides)")
    parser.add_argument("--height", type=float, default=None, help="height in m (overrides)")
    parser.add_argument("--sex", choices=["M", "F", "O"], default=None, help="sex (overrides)")
    parser.add_argument("--dose", type=float, default=None, help="injected activity in Bq")
    parser.add_argument("--injection", default=None, type=injection_time,
                        help="injection date-time, ISO format (YYYY-MM-DDTHH:MM:SS)")
    parser.add_argument("--half-life", type=float, default=None, help="half-life in s")


def _tolerance_option(parser: argparse.ArgumentParser) -> None:
    from nethelpers.dicom.slicegrid import DEFAULT_SLICE_TOLERANCE

    parser.add_argument("--slice-tolerance", type=slice_tolerance, default=DEFAULT_SLICE_TOLERANCE,
                        help="slices within this fraction of the slice spacing of a uniform "
                        f"grid are placed on it (default {DEFAULT_SLICE_TOLERANCE})")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nethelpers`` command."""
    parser = argparse.ArgumentParser(
        prog="nethelpers",
        description="Analysis environment of a dual-tracer PET study (68Ga-DOTATATE, 18F-FDG)"
        " in neuroendocrine tumours and tumour-induced osteomalacia.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the synthetic demo study (real DICOM + truth)")
    demo.add_argument("--out", default="data/demo", help="output folder (default data/demo)")
    demo.add_argument("--patients", type=at_least_one, default=60,
                      help="number of patients (60)")
    demo.add_argument("--seed", type=int, default=0, help="study seed (0)")
    demo.add_argument("--workers", type=at_least_one, default=None,
                      help="processes (all cores)")
    demo.add_argument("--no-blur", action="store_true", help="no PET resolution blur")
    demo.add_argument("--no-noise", action="store_true", help="no image noise")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    demo.add_argument("--if-missing", action="store_true",
                      help="do nothing if a complete study with these parameters exists")
    demo.add_argument("--variants", action="store_true",
                      help="also write real-world variants (GE slice jitter, compressed "
                      "transfer syntaxes, Enhanced PET, RTSTRUCT) into <out>/variants/")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_cmd_demo)

    report = sub.add_parser("report", help="run the report notebooks with papermill")
    report.add_argument("-f", "--params", required=True, help="parameters YAML file")
    report.add_argument("-o", "--output", default=None, help="report folder (from the file)")
    report.add_argument("--notebooks", nargs="+", default=None, help="subset of notebooks")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    report.set_defaults(func=_cmd_report)

    init = sub.add_parser("init", help="scaffold a new study folder from a DICOM tree")
    init.add_argument("dicom_root", metavar="DICOM_ROOT", help="the DICOM export (read only)")
    init.add_argument("-o", "--output", required=True, metavar="STUDY_DIR",
                      help="new or empty study folder (parameters.yaml, tables, private/)")
    init.add_argument("--workers", type=at_least_one, default=None,
                      help="processes (all cores)")
    init.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    init.set_defaults(func=_cmd_init)

    index = sub.add_parser("index", help="index a DICOM tree into a series table with QC")
    index.add_argument("root", help="folder to index (recursively)")
    index.add_argument("-o", "--output", default="dicom-index.csv",
                       help="series table, .csv or .parquet (default dicom-index.csv); the "
                       "file list and the cache are written beside it")
    index.add_argument("--workers", type=at_least_one, default=None,
                       help="processes (all cores)")
    index.add_argument("--no-cache", action="store_true", help="read every header again")
    index.add_argument("--strict", action="store_true", help="exit 1 if a series fails QC")
    _tolerance_option(index)
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(func=_cmd_index)

    suv = sub.add_parser("suv", help="convert a PET or quantitative SPECT series to an SUV "
                         "volume (NIfTI etc.); counts-only SPECT is refused")
    suv.add_argument("series", help="PET or SPECT series folder (an NM SPECT: its file)")
    suv.add_argument("-o", "--output", required=True, type=image_file,
                     help="output image, e.g. suv.nii.gz (NIfTI), .nrrd, .mha")
    _pet_options(suv)
    _tolerance_option(suv)
    suv.set_defaults(func=_cmd_suv)

    measure = sub.add_parser("measure", help="measure a PET's ROIs from a SEG, RTSTRUCT or "
                             "label image (no study needed)")
    measure.add_argument("pet", help="PET series folder")
    measure.add_argument("rois", help="DICOM SEG, RTSTRUCT, or label image (NIfTI, NRRD)")
    measure.add_argument("-o", "--output", default=None,
                         help="CSV file (default: print); the SUV provenance goes beside it "
                         "as <name>.provenance.json")
    measure.add_argument("--sr", default=None, help="also write a DICOM SR (TID 1500) of the "
                         "measurements, referencing the PET and the SEG (written beside it "
                         "when the ROIs are not a SEG)")
    _pet_options(measure)
    _tolerance_option(measure)
    measure.set_defaults(func=_cmd_measure)

    rois = sub.add_parser("rois", help="ROI store: version history, restore, DICOM SEG")
    rois_sub = rois.add_subparsers(dest="action", required=True)
    def action(name: str, text: str) -> argparse.ArgumentParser:
        p = rois_sub.add_parser(name, help=text)
        p.add_argument("scan", help="scan_id")
        p.add_argument("-f", "--params", required=True, help="parameters YAML file")
        return p

    mig = rois_sub.add_parser("migrate", help="move single-set scans into their readers' "
                              "sets (history kept; also done on first use of a scan)")
    mig.add_argument("-f", "--params", required=True, help="parameters YAML file")
    hist = action("history", "every saved version of a scan's ROIs")
    rest = action("restore", "make an earlier version the newest again")
    rest.add_argument("version", type=int, help="version to restore")
    exp = action("export-seg", "write a version as DICOM SEG (3D Slicer, OHIF)")
    exp.add_argument("-o", "--output", required=True, help="SEG file, or folder ending in /")
    exp.add_argument("--version", type=int, default=None, help="version (default: newest)")
    imp = action("import", "save a DICOM SEG, RTSTRUCT or label image as the newest version")
    imp.add_argument("seg", metavar="FILE", help="SEG, RTSTRUCT, or label image (NIfTI, NRRD)")
    imp_seg = action("import-seg", "save a DICOM SEG as the newest version (= import)")
    imp_seg.add_argument("seg", help="the DICOM SEG file")
    for p in (rest, imp, imp_seg):
        p.add_argument("--reader", required=True, help="whose ROI set (each reader keeps "
                       "their own; recorded)")
        p.add_argument("--by", default=None, help="who does it, when not the reader "
                       "(recorded as saved_by)")
    for p in (hist, exp):
        p.add_argument("--reader", default=None, help="whose ROI set (default: every "
                       "reader's history; the newest set of any reader to export)")
    for p in (imp, imp_seg):
        p.add_argument("--overlap", choices=("refuse", "lesions-win"), default="refuse",
                       help="SEG segments that share voxels: refuse (default), or lesions-win "
                       "(a lesion keeps every voxel, the reference region gives them up)")
    rois.set_defaults(func=_cmd_rois)

    quant = sub.add_parser("quantify", help="measure every scan's ROIs: SUV, MTV, T/B, scores")
    quant.add_argument("-f", "--params", required=True, help="parameters YAML file")
    quant.add_argument("-o", "--output", default=None,
                       help="output folder (default: quantify.output of the file)")
    quant.add_argument("--scheduler", default=None,
                       help="dask scheduler address (tcp://host:8786), or 'sync' to run in "
                       "this process (default: local worker processes)")
    quant.add_argument("--workers", type=at_least_one, default=None,
                       help="local worker processes (default: one per core)")
    quant.add_argument("--strict", action="store_true",
                       help="stop at the first scan that cannot be measured (exit 2)")
    quant.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    quant.add_argument("--reader", default=None,
                       help="whose ROI sets to measure (default: index_test.reader; a scan "
                       "that reader drew nothing on falls back to the newest set, noted)")
    quant.set_defaults(func=_cmd_quantify)

    review = sub.add_parser("review", help="review a patient's lesions in napari (VOIs, calls)")
    review.add_argument("--patient", required=True, help="patient_id, e.g. P001")
    review.add_argument("--scan", default=None, help="scan shown first (default: the SSTR "
                        "PET, PET/CT first); switch scans in the widget")
    review.add_argument("-f", "--params", default="parameters/demo.yaml",
                        help="parameters YAML file (default parameters/demo.yaml)")
    review.add_argument("--reader", default=None,
                        help="who reads, recorded with every save (default: the login name)")
    review.add_argument("--autosave", type=float, default=180.0,
                        help="autosave interval in seconds (default 180; 0: off)")
    review.add_argument("--adjudicate", action="store_true",
                        help="read as the adjudicator: edit the consensus set, seeing every "
                        "reader's calls (the readers see only their own)")
    review.set_defaults(func=_cmd_review)
    return parser


#: Arguments that name a DICOM or ROI path (shown relative to them in errors: folder names
#: under a DICOM tree may hold patient names).
_PATH_ARGS = ("root", "dicom_root", "series", "pet", "rois", "seg")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nethelpers`` console script.

    Every error is one line on stderr (:mod:`nethelpers.clierrors`): exit 2 when the input
    is refused, 1 when the run failed; ``--debug`` (anywhere on the line) adds the
    traceback.
    """
    from nethelpers.clierrors import report

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nethelpers index ... | head` stopped reading: say nothing
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141
    except Exception as exc:  # one line, never a traceback (unless --debug)
        roots = [v for k in _PATH_ARGS if isinstance(v := getattr(args, k, None), str)]
        return report(args.command, exc, debug=debug, roots=roots)


if __name__ == "__main__":
    raise SystemExit(main())
