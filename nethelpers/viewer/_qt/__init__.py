"""Qt parts of the review (like napari-animation's ``_qt``): one module per job.

The dock (:mod:`.dock`) is assembled from :mod:`.scanswitch`, :mod:`.lesiontable`,
:mod:`.clicks`, :mod:`.saving`, :mod:`.shortcuts` and :mod:`.dialogs`; the views
(MIP, orthogonal views, side by side, line ruler) live in their own modules.
"""
