"""Registrations saved with the scans and reused while the images stay the same.

Layout (``registration.output``; default ``<quantify.output>/registration``, beside the
study's other derived results, never inside the ROI store or the DICOM tree)::

    <output>/<patient_id>/<fixed_scan>__<moving_scan>/transform.tfm      (sitk.WriteTransform)
    <output>/<patient_id>/<fixed_scan>__<moving_scan>/registration.json  (kind, quality,
        verdict, settings, SimpleITK version, fingerprints of both scans' images, created)

Both files are written atomically, the transform first; the JSON names the transform's
SHA-256, so a half-replaced pair is never used. A saved registration is reused when both
scans' image fingerprints (pixel data and geometry of PET and CT/MR) and the method settings
are unchanged; otherwise the pair is registered again and saved over it. The reverse of a
saved rigid pair is its exact inverse (no new registration).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from nethelpers.configregistration import RegistrationConfig
from nethelpers.files import atomic_write
from nethelpers.registration import ScanRegistration, judge, method_settings, register_scans

__all__ = ["SessionRegistrations", "image_fingerprint", "point_map_for", "registration_for",
           "store_root"]

_FORMAT = 1
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def store_root(params: Any) -> Path:
    """The store folder: ``registration.output``, else ``<quantify.output>/registration``."""
    out = params.registration.output
    return Path(out) if out is not None else Path(params.quantify.output) / "registration"


def _image_digest(h: Any, image: sitk.Image | None) -> None:
    if image is None:
        h.update(b"none")
        return
    geometry = (image.GetSize(), image.GetSpacing(), image.GetOrigin(), image.GetDirection(),
                image.GetPixelIDTypeAsString())
    h.update(repr(tuple(tuple(round(float(v), 6) for v in g) if isinstance(g, tuple) else g
                        for g in geometry)).encode())
    h.update(np.ascontiguousarray(sitk.GetArrayViewFromImage(image)).data)


def image_fingerprint(images: Any) -> str:
    """A digest of a scan's images: PET and CT/MR pixel data and geometry (BLAKE2b, hex).

    A changed series (a slice replaced, a new reconstruction, another CT) changes it.
    """
    h = hashlib.blake2b(digest_size=20)
    h.update(str(images.anatomy_kind).encode())
    _image_digest(h, images.pet)
    _image_digest(h, images.anatomy)
    return h.hexdigest()


def _folder(root: Path, patient_id: str, fixed: str, moving: str) -> Path:
    return root / _SAFE.sub("_", patient_id) / f"{_SAFE.sub('_', fixed)}__{_SAFE.sub('_', moving)}"


def _save(folder: Path, reg: ScanRegistration, fingerprints: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tfm.") as tmp:
        scratch = Path(tmp) / "transform.tfm"
        sitk.WriteTransform(reg.transform, str(scratch))
        data = scratch.read_bytes()
    with atomic_write(folder / "transform.tfm") as fh:
        fh.write(data)
    record = {
        "format": _FORMAT, "fixed_scan": reg.fixed_scan, "moving_scan": reg.moving_scan,
        "kind": reg.kind, "verdict": reg.verdict, "quality": reg.quality,
        "warnings": reg.warnings, "settings": reg.settings, "fingerprints": fingerprints,
        "transform_sha256": hashlib.sha256(data).hexdigest(),
        "simpleitk": sitk.Version_VersionString(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with atomic_write(folder / "registration.json", "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=2, sort_keys=True)


def _load(folder: Path, fingerprints: dict[str, str], settings: RegistrationConfig
          ) -> ScanRegistration | None:
    """The saved registration when it still fits the images and settings, else None."""
    try:
        record = json.loads((folder / "registration.json").read_text(encoding="utf-8"))
        data = (folder / "transform.tfm").read_bytes()
    except (OSError, ValueError):
        return None
    if (record.get("format") != _FORMAT or record.get("fingerprints") != fingerprints
            or record.get("settings") != method_settings(settings)
            or record.get("transform_sha256") != hashlib.sha256(data).hexdigest()):
        return None
    try:
        transform = sitk.ReadTransform(str(folder / "transform.tfm"))
    except RuntimeError:
        return None
    if record["verdict"] != "identity" and transform.GetName() == "CompositeTransform":
        transform = sitk.CompositeTransform(transform)
    reg = ScanRegistration(record["fixed_scan"], record["moving_scan"], record["kind"],
                           transform, {k: float(v) for k, v in record["quality"].items()},
                           record["verdict"], list(record["warnings"]), record["settings"])
    return judge(reg, settings)


def registration_for(params: Any, fixed_images: Any, moving_images: Any
                     ) -> ScanRegistration:
    """The registration of MOVING onto FIXED: the saved one when it still fits, else a new one.

    Parameters
    ----------
    params : nethelpers.config.Params
        ``registration:`` settings and where the store lies (:func:`store_root`).
    fixed_images, moving_images : nethelpers.review.ScanImages
        The two scans of one patient.

    Returns
    -------
    ScanRegistration
        Reused (same fingerprints and method settings; the verdict judged with today's
        ``min_dice``), the exact inverse of the saved reverse pair (rigid), or registered
        now and saved.
    """
    settings = params.registration
    fixed_id, moving_id = fixed_images.job.scan_id, moving_images.job.scan_id
    patient = str(fixed_images.job.patient_id)
    root = store_root(params)
    prints = {fixed_id: image_fingerprint(fixed_images),
              moving_id: image_fingerprint(moving_images)}
    saved = _load(_folder(root, patient, fixed_id, moving_id), prints, settings)
    if saved is not None:
        return saved
    reverse = _load(_folder(root, patient, moving_id, fixed_id), prints, settings)
    if reverse is not None and reverse.exact_inverse:
        return reverse.inverse()
    reg = register_scans(fixed_images, moving_images, settings)
    try:
        _save(_folder(root, patient, fixed_id, moving_id), reg, prints)
    except OSError as exc:               # the registration holds; only its cache is lost
        reg.warnings.append(f"registration {moving_id} onto {fixed_id} not saved "
                            f"({type(exc).__name__}: {exc.strerror or 'cannot write'}); it "
                            "is used now and computed again next time: check that "
                            "registration.output is a writable folder")
    return reg


class SessionRegistrations:
    """A review session's registrations: each scan pair computed or read once, then kept.

    The markers (:meth:`point_map`) and the side-by-side view (:meth:`get`) use the same
    pair -- the other scan (moving) onto the one read (fixed) -- so one registration
    serves both. Lesion matching at a follow-up needs the baseline as the fixed scan
    (:mod:`nethelpers.reviewmatch`): a rigid registration serves that direction too through
    its exact inverse; a deformable (B-spline) one has none and is registered in each
    direction.

    Parameters
    ----------
    params : nethelpers.config.Params
        Parameters (registration settings and store).
    images_of : callable
        ``scan_id -> ScanImages`` (e.g. the session's loader).
    warn : callable, optional
        Receives each pair's warnings (a poor registration, a store not written) once.
    """

    def __init__(self, params: Any, images_of: Callable[[str], Any],
                 warn: Callable[[str], None] | None = None) -> None:
        self.params = params
        self.images_of = images_of
        self.warn = warn
        self._done: dict[tuple[str, str], ScanRegistration] = {}

    def get(self, fixed_scan: str, moving_scan: str) -> ScanRegistration:
        """The registration of ``moving_scan`` onto ``fixed_scan`` (:func:`registration_for`)."""
        key = (fixed_scan, moving_scan)
        reverse = self._done.get((moving_scan, fixed_scan))
        if key not in self._done and reverse is not None and reverse.exact_inverse:
            self._done[key] = reverse.inverse()      # what the store would give, unread
            return self._done[key]
        if key not in self._done:
            reg = registration_for(self.params, self.images_of(fixed_scan),
                                   self.images_of(moving_scan))
            self._done[key] = reg
            if self.warn is not None:
                for message in reg.warnings:
                    self.warn(message)
        return self._done[key]

    def point_map(self, from_scan: str, to_scan: str, point: tuple[float, float, float]
                  ) -> tuple[float, float, float]:
        """A point of ``from_scan`` on ``to_scan``, through ``from_scan``'s registration onto it."""
        return self.get(to_scan, from_scan).to_fixed(point)


def point_map_for(params: Any, images_of: Callable[[str], Any],
                  warn: Callable[[str], None] | None = None
                  ) -> Callable[[str, str, tuple[float, float, float]], tuple[float, float, float]]:
    """A ``(from_scan, to_scan, point_lps_mm) -> point_lps_mm`` map for the review's markers.

    :meth:`SessionRegistrations.point_map` of a new set of registrations.
    """
    return SessionRegistrations(params, images_of, warn).point_map
