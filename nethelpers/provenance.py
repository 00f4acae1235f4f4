"""Where a report came from: package versions, parameters, git state, input fingerprints."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

from nethelpers.config import Params
from nethelpers.files import study_fingerprint

__all__ = ["VERSIONED", "provenance", "versions"]

VERSIONED = (
    "nethelpers",
    "numpy",
    "pandas",
    "scipy",
    "pydicom",
    "SimpleITK",
    "statsmodels",
    "matplotlib",
    "papermill",
    "nbconvert",
    "pydantic",
)


def versions() -> dict[str, str | None]:
    """Python's version and that of every package in :data:`VERSIONED` (None if absent)."""
    found: dict[str, str | None] = {"python": platform.python_version()}
    for dist in VERSIONED:
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = None
    return found


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(Path(__file__).resolve().parent), *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _git_state() -> dict[str, Any]:
    """Return the commit and dirty flag of the nethelpers checkout (nulls outside git)."""
    inside = _git("rev-parse", "--is-inside-work-tree") == "true"
    if not inside:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def provenance(params: Params) -> dict[str, Any]:
    """Describe what a report was made from: versions, parameters, git state, inputs.

    Parameters
    ----------
    params : Params
        Validated parameters.

    Returns
    -------
    dict
        ``versions``, ``parameters`` (as validated), ``git`` (``commit``, ``dirty``) and
        ``inputs``: sha256 of every input table and a listing digest of the DICOM tree and
        the ROI store (see :func:`tree_digest`).
    """
    return {
        "versions": versions(),
        "parameters": params.model_dump(mode="json"),
        "git": _git_state(),
        "inputs": study_fingerprint(params.study),
    }
