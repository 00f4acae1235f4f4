"""napari front end of the lesion review (the only part of nethelpers importing napari/Qt).

* :mod:`nethelpers.viewer.layers` -- layers with world geometry in patient millimetres;
* :mod:`nethelpers.viewer.widget` -- the review dock widget (:class:`ReviewWidget`);
* :mod:`nethelpers.viewer.app` -- :func:`open_review`, the ``nethelpers review`` command and
  the npe2 widget contribution (``napari.yaml`` in this folder).

Names are imported lazily, so ``import nethelpers.viewer`` does not start Qt.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ReviewWidget", "open_review"]


def __getattr__(name: str) -> Any:
    if name == "open_review":
        from nethelpers.viewer.app import open_review

        return open_review
    if name == "ReviewWidget":
        from nethelpers.viewer.widget import ReviewWidget

        return ReviewWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
