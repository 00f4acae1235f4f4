"""Shared fixtures: small demo studies generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from nethelpers.demo.generate import generate_demo
from nethelpers.demo.imaging import ImagingOptions

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
