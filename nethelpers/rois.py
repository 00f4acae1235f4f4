"""The ROI store and its tables: the public names, in one place.

ROIs are kept per scan and per reader (blinded reads), atomically saved and versioned; the
code lives in modules with one job each, re-exported here so that
``from nethelpers.rois import RoiStore`` keeps working:

- :mod:`nethelpers.roitables`: what a ROI set holds (ROI table, reads) and their checks;
- :mod:`nethelpers.roistore`: the versioned store (``<root>/<scan_id>/<reader>/v000001/``);
- :mod:`nethelpers.roicommit`: how a version is written (staging, fsync, rename);
- :mod:`nethelpers.roireaders`: reader folder names and the migration of single-set stores.
"""

from __future__ import annotations

from nethelpers.roireaders import Migrated, migrate_scan, reader_folder, reader_name
from nethelpers.roistore import (
    LABELS_FILE,
    META_FILE,
    READS_FILE,
    STORE_FORMAT,
    TABLE_FILE,
    RoiStore,
)
from nethelpers.roitables import (
    AXIS_COLUMNS,
    CALLS,
    METHODS,
    READ_COLUMNS,
    REFERENCE_ROIS,
    ROI_KINDS,
    TABLE_COLUMNS,
    RoiConflictError,
    RoiSet,
    RoiStoreError,
    RoiVersion,
    empty_reads,
    geometry,
    table_from_rows,
    validate_reads,
    validate_table,
)

__all__ = [
    "AXIS_COLUMNS", "CALLS", "LABELS_FILE", "METHODS", "META_FILE", "READS_FILE", "READ_COLUMNS",
    "REFERENCE_ROIS", "ROI_KINDS", "STORE_FORMAT", "TABLE_COLUMNS", "TABLE_FILE", "Migrated",
    "RoiConflictError", "RoiSet", "RoiStore", "RoiStoreError", "RoiVersion", "empty_reads",
    "geometry", "migrate_scan", "reader_folder", "reader_name", "table_from_rows",
    "validate_reads", "validate_table",
]
