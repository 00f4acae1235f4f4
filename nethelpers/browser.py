"""Browse the cohort in JupyterLab: patient → scans, MIP thumbnails, lesion table.

:func:`cohort_browser` gives an ipywidgets view with a patient drop-down. Under papermill
(``interactive=False``) it displays the same content as static tables and PNG images: an
index of every patient, then the full view of the first patients. Only pseudonyms are shown
(patient, scan and lesion IDs): no name, date or DICOM header field, and no file path (the
reason a thumbnail is missing has its paths removed). Groups carry the labels of the study's
vocabulary (``cohort.vocabulary``); a value that is not recorded is shown as such.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
from IPython.display import HTML, Image, display

from nethelpers.cohort import Cohort
from nethelpers.dicom.volume import load_emission_series
from nethelpers.groups import group_label
from nethelpers.inventory import scan_types
from nethelpers.plots.gallery import failure_reason, redact_paths, scan_mip
from nethelpers.quantify import labels_on, scan_jobs
from nethelpers.roichoice import roi_set_for
from nethelpers.rois import RoiStore

__all__ = ["cohort_browser"]

_THUMB_WIDTH_IN = 1.8
_THUMB_DPI = 100
_redact = redact_paths


def _html_table(df: pd.DataFrame) -> str:
    return df.to_html(index=False, na_rep="", border=0, escape=True)


def _text(value: object, missing: str = "not recorded") -> str:
    """A cell as text, ``missing`` for a missing value."""
    return missing if value is None or pd.isna(value) else str(value)


def _lesions_heading(browser: _Browser) -> str:
    reader = f" and the calls of reader {html.escape(browser.reader)}" if browser.reader else ""
    return f"<h4>Lesions: reference standard{reader}</h4>"


class _Browser:
    """The tables and thumbnails of the browser, each MIP rendered once per scan."""

    def __init__(self, params: Any, cohort: Cohort, reader: str | None,
                 patient_ids: Sequence[str] | None) -> None:
        self.params, self.cohort, self.reader = params, cohort, reader
        known = cohort.patients["patient_id"].astype(str).tolist()
        self.patient_ids = known if patient_ids is None else [p for p in patient_ids
                                                             if p in known]
        # MIPs in SUV; a counts-only SPECT in its own counts window (gallery.display_scale)
        self.jobs = {job.scan_id: job for job in scan_jobs(params, cohort)}  # PET and SPECT
        self.thumbs: dict[str, bytes | str] = {}

    def summary(self, patient_id: str) -> str:
        """One line of HTML: group, final diagnosis, grade (nothing that identifies)."""
        p = self.cohort.patients.set_index("patient_id").loc[patient_id]
        parts = [self.group(patient_id),
                 f"final diagnosis {_text(p['final_diagnosis'])}",
                 f"grade {_text(p['grade'], '–')}",
                 f"reference standard {_text(p['reference_standard'])}"]
        return f"<b>{html.escape(patient_id)}</b> · " + " · ".join(map(html.escape, parts))

    def group(self, patient_id: str) -> str:
        """The label of the patient's group ("Not recorded" when missing)."""
        value = self.cohort.patients.set_index("patient_id").at[patient_id, "group"]
        return group_label(value, self.cohort.vocabulary)

    def scans(self, patient_id: str) -> pd.DataFrame:
        """The patient's scans: ``scan_id, tracer, modality, manufacturer, model``."""
        scans = self.cohort.scans
        cols = ["scan_id", "tracer", "modality", "manufacturer", "model"]
        return scans.loc[scans["patient_id"] == patient_id, cols].reset_index(drop=True)

    def lesions(self, patient_id: str) -> pd.DataFrame:
        """The patient's lesions with the truth and, given a reader, the call on each scan."""
        lesions = self.cohort.lesions
        cols = ["lesion_id", "site", "diameter_mm", "truth", "malignant"]
        out = lesions.loc[lesions["patient_id"] == patient_id, cols].reset_index(drop=True)
        if self.reader is None:
            return out
        reads = self.cohort.reads
        reads = reads[(reads["reader"] == self.reader)
                      & reads["lesion_id"].isin(out["lesion_id"])]
        calls = reads.astype({"call": str}).pivot(index="lesion_id", columns="scan_id",
                                                  values="call")
        calls = calls.reindex(columns=self.scans(patient_id)["scan_id"]).dropna(how="all", axis=1)
        return out.merge(calls.reset_index(), on="lesion_id", how="left")

    def index(self) -> pd.DataFrame:
        """One row per patient: group, scans by tracer and modality, lesions."""
        patients = self.cohort.patients.set_index("patient_id").loc[self.patient_ids]
        scans = self.cohort.scans
        kind = scans["tracer"].astype(str) + " " + scans["modality"].astype(str)
        columns = [f"{t} {m}" for t, m in scan_types(scans, self.cohort.vocabulary)]
        counts = pd.crosstab(scans["patient_id"].astype(str), kind).reindex(columns=columns)
        counts = counts.reindex(self.patient_ids).fillna(0).astype(int)
        lesions = self.cohort.lesions.groupby("patient_id", observed=True).size()
        labels = [group_label(g, self.cohort.vocabulary) for g in patients["group"]]
        out = pd.DataFrame({"patient_id": self.patient_ids, "group": labels})
        out[list(counts.columns)] = counts.values
        out["scans"] = counts.sum(axis=1).values
        out["lesions"] = lesions.reindex(self.patient_ids, fill_value=0).astype(int).values
        return out

    def thumbnail(self, scan_id: str) -> bytes | str:
        """PNG bytes of the scan's MIP, or the reason there is none (cached per scan)."""
        if scan_id not in self.thumbs:
            self.thumbs[scan_id] = self._render(scan_id)
        return self.thumbs[scan_id]

    def _render(self, scan_id: str) -> bytes | str:
        job = self.jobs.get(scan_id)
        if job is None:
            return "no image: the scan's modality is neither PET nor SPECT"
        if not job.pet:
            return "no image: no DICOM series recorded for this scan"
        if not Path(job.pet).is_dir():
            return "no image: DICOM folder not found"
        try:
            loaded = load_emission_series(job.pet, self.params.quantify.norm,
                                          series_uid=job.series_uid)
            pet = loaded.image    # SUV, or counts for counts-only SPECT (its own window)
            store = RoiStore(self.params.study.rois)
            labels = np.zeros(pet.GetSize()[::-1], dtype=np.uint16)
            table = pd.DataFrame(columns=["label", "roi", "lesion_id"])
            rois, _ = roi_set_for(store, scan_id, self.params.index_test.reader)
            if rois is not None:
                labels, table = labels_on(pet, rois.labels, rois.table)[0], rois.table
            fig = scan_mip(pet, labels, table, tracer=job.tracer, title=scan_id)
        except Exception as exc:  # noqa: BLE001 - one unreadable scan must not stop the browser
            # A DicomInputError's problem names the element, not the file; any other message
            # may quote a path (folders are often named after the patient): not shown.
            return f"no image: {failure_reason(exc)}"
        width, height = fig.get_size_inches()
        fig.set_size_inches(_THUMB_WIDTH_IN, _THUMB_WIDTH_IN * height / width)
        buffer = BytesIO()
        fig.savefig(buffer, format="png", dpi=_THUMB_DPI)
        return buffer.getvalue()


def _thumbnail_widget(browser: _Browser, scan_id: str) -> Any:
    thumb = browser.thumbnail(scan_id)
    if isinstance(thumb, bytes):
        return w.Image(value=thumb, format="png")
    width = f"{_THUMB_WIDTH_IN * _THUMB_DPI:.0f}px"
    return w.HTML(f"<p>{html.escape(scan_id)}:<br><i>{html.escape(thumb)}</i></p>",
                  layout=w.Layout(width=width))


def _widget(browser: _Browser) -> w.VBox:
    options = [(f"{pid} · {browser.group(pid)}", pid) for pid in browser.patient_ids]
    pick = w.Dropdown(options=options, description="Patient")
    summary, scans, lesions = w.HTML(), w.HTML(), w.HTML()
    thumbs = w.HBox(layout=w.Layout(flex_flow="row wrap"))

    def show(change: dict | None = None) -> None:
        pid = pick.value
        if pid is None:
            return
        summary.value = browser.summary(pid)
        table = browser.scans(pid)
        scans.value = "<h4>Scans</h4>" + _html_table(table)
        thumbs.children = [_thumbnail_widget(browser, s) for s in table["scan_id"]]
        lesions.value = _lesions_heading(browser) + _html_table(browser.lesions(pid))

    pick.observe(show, names="value")
    show()
    return w.VBox([pick, summary, scans, thumbs, lesions])


def _static(browser: _Browser, n_patients: int) -> list[HTML | Image]:
    shown = [HTML("<h4>Cohort index</h4>" + _html_table(browser.index()))]
    for pid in browser.patient_ids[:n_patients]:
        scans = browser.scans(pid)
        shown.append(HTML(f"<h4>Patient {html.escape(pid)}</h4><p>{browser.summary(pid)}</p>"
                          + _html_table(scans)))
        for scan_id in scans["scan_id"]:
            thumb = browser.thumbnail(scan_id)
            alt = f"Coronal maximum-intensity projection of {scan_id}, lesion VOIs marked"
            shown.append(Image(data=thumb, format="png", metadata={"alt": alt})
                         if isinstance(thumb, bytes) else HTML(
                f"<p>{html.escape(scan_id)}: <i>{html.escape(thumb)}</i></p>"))
        shown.append(HTML(_lesions_heading(browser) + _html_table(browser.lesions(pid))))
    return shown


def cohort_browser(params: Any, cohort: Cohort, *, interactive: bool = True,
                   reader: str | None = None, patient_ids: Sequence[str] | None = None,
                   static_patients: int = 1) -> Any:
    """Browse the patients: summary, scans, MIP thumbnails and lesions of one at a time.

    Parameters
    ----------
    params : nethelpers.config.Params
        The study (DICOM, ROI store, SUV normalisation).
    cohort : nethelpers.cohort.Cohort
        The loaded cohort.
    interactive : bool
        True: return an ipywidgets view with a patient drop-down (JupyterLab). False (under
        papermill): display an index of the patients and the view of the first
        ``static_patients`` as static tables and PNG images.
    reader : str, optional
        Add this reader's call on each scan to the lesion table.
    patient_ids : sequence of str, optional
        The patients to browse, in this order; default every patient of the cohort.
    static_patients : int
        How many patients the static output shows in full.

    Returns
    -------
    ipywidgets.VBox or None
        The widget (interactive), else None: the static output is displayed.

    Notes
    -----
    Each MIP is rendered once (the PET loaded as SUV, its newest ROIs marked) and kept, so
    going back to a patient is immediate. A scan without a readable PET series shows why.
    """
    browser = _Browser(params, cohort, reader, patient_ids)
    if interactive:
        return _widget(browser)
    display(*_static(browser, static_patients))
    return None
