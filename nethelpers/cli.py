"""The ``nethelpers`` command: ``demo`` and ``report`` (more subcommands join as they land)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _cmd_demo(args: argparse.Namespace) -> int:
    from nethelpers.demo.generate import generate_demo, is_complete
    from nethelpers.demo.imaging import ImagingOptions

    options = ImagingOptions(blur=not args.no_blur, noise=not args.no_noise)
    out = Path(args.out)
    if args.if_missing and is_complete(out, args.patients, args.seed, options):
        print(f"demo: {out} is complete ({args.patients} patients, seed {args.seed}); kept")
        return 0
    if out.exists() and not (args.overwrite or args.if_missing):
        print(f"demo: {out} exists; use --overwrite to replace it or --if-missing to keep a "
              "complete one", file=sys.stderr)
        return 2
    generate_demo(out, args.patients, args.seed, options=options, workers=args.workers,
                  progress=not args.quiet, overwrite=True)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from nethelpers.report import run_report

    out = run_report(args.params, output=args.output, notebooks=args.notebooks,
                     progress=not args.quiet)
    print(f"report: {out / 'index.html'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``nethelpers`` command."""
    parser = argparse.ArgumentParser(
        prog="nethelpers",
        description="Analysis environment of a dual-tracer PET study (68Ga-DOTATATE, 18F-FDG)"
        " in neuroendocrine tumours and tumour-induced osteomalacia.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="write the synthetic demo study (real DICOM + truth)")
    demo.add_argument("--out", default="data/demo", help="output folder (default data/demo)")
    demo.add_argument("--patients", type=int, default=60, help="number of patients (60)")
    demo.add_argument("--seed", type=int, default=0, help="study seed (0)")
    demo.add_argument("--workers", type=int, default=None, help="processes (all cores)")
    demo.add_argument("--no-blur", action="store_true", help="no PET resolution blur")
    demo.add_argument("--no-noise", action="store_true", help="no image noise")
    demo.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    demo.add_argument("--if-missing", action="store_true",
                      help="do nothing if a complete study with these parameters exists")
    demo.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    demo.set_defaults(func=_cmd_demo)

    report = sub.add_parser("report", help="run the report notebooks with papermill")
    report.add_argument("-f", "--params", required=True, help="parameters YAML file")
    report.add_argument("-o", "--output", default=None, help="report folder (from the file)")
    report.add_argument("--notebooks", nargs="+", default=None, help="subset of notebooks")
    report.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    report.set_defaults(func=_cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``nethelpers`` console script."""
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
