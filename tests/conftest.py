"""Shared fixtures: small demo studies generated once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from nethelpers.demo.generate import generate_demo
from nethelpers.demo.imaging import ImagingOptions

# Property tests explore the same examples on every run: CI must not fail by chance. Explore
# further locally with `pytest --hypothesis-seed=random` (or HYPOTHESIS_PROFILE=explore).
settings.register_profile("nethelpers", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "nethelpers"))

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_study(tmp_path_factory) -> Path:
    """A realistic 6-patient demo study (blur and noise on), one patient per group."""
    out = tmp_path_factory.mktemp("demo") / "demo6"
    return generate_demo(out, n_patients=6, seed=0, progress=False)


@pytest.fixture(scope="session")
def ideal_study(tmp_path_factory) -> Path:
    """A blur-free, noise-free 3-patient study: Siemens, GE and Philips centres, PET/MR too."""
    out = tmp_path_factory.mktemp("ideal") / "ideal3"
    return generate_demo(out, n_patients=3, seed=0, progress=False,
                         options=ImagingOptions(blur=False, noise=False))


ALL_NOTEBOOKS = ["01_cohort", "02_roi_review", "03_quantification", "04_tracer_comparison",
                 "05_diagnostic_accuracy", "06_response"]


def write_demo_params(path: Path, data_root: Path, out: Path, quantify: Path) -> Path:
    """Parameters running every notebook on a demo study (quantification into ``quantify``)."""
    path.write_text(
        f"study:\n  name: demo6\n  data_root: {data_root}\n"
        f"report:\n  output: {out}\n  notebooks: [{', '.join(ALL_NOTEBOOKS)}]\n"
        f"quantify:\n  output: {quantify}\n")
    return path


@pytest.fixture(scope="session")
def demo_report(demo_study, tmp_path_factory) -> dict[str, Path]:
    """The full report (all five notebooks) of the 6-patient demo, run once (about 1 min)."""
    from nethelpers.report import run_report

    tmp = tmp_path_factory.mktemp("demo_report")
    params = write_demo_params(tmp / "p.yaml", demo_study, tmp / "out", tmp / "q")
    out = run_report(params, progress=False)
    return {"out": out, "params": params, "quantify": tmp / "q", "tmp": tmp}


@pytest.fixture(scope="session")
def shape_reports(ideal_study, tmp_path_factory) -> dict[str, dict]:
    """Every study shape's complete report (tests/shapes.py), run once per session."""
    from tests.shapes import run_all_shapes

    return run_all_shapes(ideal_study, tmp_path_factory.mktemp("shapes"))
