"""Open a patient's review in napari: from Python, the command line or napari's Plugins menu.

* :func:`open_review` -- a viewer (new or given) with the patient's scans and the review
  dock widget; ``nethelpers review --patient P001`` calls it and runs the event loop.
* :func:`review_launcher` -- the npe2 widget contribution (Plugins ▸ nethelpers ▸ Lesion
  review): asks for the parameters file, patient, scan and reader, then opens the review
  in that viewer.

Without study data (``study.data_root`` missing) both say how to make the synthetic demo
study; the launcher can make it (``nethelpers demo`` in the background) and the command
asks on a terminal.
"""

from __future__ import annotations

import getpass
import os
import shlex
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "StudyDataMissing",
    "check_study_data",
    "default_reader",
    "demo_args",
    "demo_command",
    "open_review",
    "patients_of",
    "review_launcher",
    "run_review",
]

DEFAULT_PARAMS = Path("parameters/demo.yaml")


#: ms after opening before the reading views are built ("deferred": the axial view first)
DEFER_VIEWS_MS = 100


class StudyDataMissing(FileNotFoundError):
    """The study folder (or its scans table) of the parameters does not exist."""


def default_reader() -> str:
    """The login name (the reader recorded by default)."""
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return os.environ.get("USER", "") or "reader"


def _params(params: Any) -> Any:
    if isinstance(params, (str, os.PathLike)):
        from nethelpers.config import load_params

        return load_params(params)
    return params


def demo_args(params: Any) -> list[str]:
    """Arguments of ``nethelpers`` making the demo study where the parameters expect data."""
    params = _params(params)
    root = Path(params.study.data_root)
    try:
        shown = root.relative_to(Path.cwd())
    except ValueError:
        shown = root
    return ["demo", "--out", str(shown), "--patients", str(params.demo.patients),
            "--seed", str(params.demo.seed), "--if-missing"]


def demo_command(params: Any) -> str:
    """The command that makes the synthetic demo study where the parameters expect data."""
    return shlex.join(["nethelpers", *demo_args(params)])


def check_study_data(params: Any) -> None:
    """Raise :class:`StudyDataMissing` (saying how to make the demo) when there is no data."""
    params = _params(params)
    root = Path(params.study.data_root)
    scans = Path(params.study.tables.scans)
    if root.is_dir() and scans.is_file():
        return
    what = f"no study data at {root}" if not root.is_dir() else f"no scans table {scans}"
    raise StudyDataMissing(
        f"{what}. Make the synthetic demo study with `{demo_command(params)}` (a few "
        "minutes), or point study.data_root of the parameters file at your study.")


def patients_of(params: Any) -> list[str]:
    """Patients with at least one PET or SPECT scan (SPECT/CT opens like PET/CT), sorted."""
    from nethelpers.cohort import load_scans

    params = _params(params)
    check_study_data(params)
    scans = load_scans(params.study.tables.scans, strict=False)
    return sorted(scans["patient_id"].astype(str).unique().tolist())


def open_review(params: Any, patient_id: str | None = None, *, scan_id: str | None = None,
                reader: str | None = None, viewer: Any | None = None, show: bool = True,
                autosave_s: float = 180.0, reading_views: bool | str = True,
                adjudicate: bool = False) -> tuple[Any, Any]:
    """Open a patient's review: the scans in a napari viewer and the review dock widget.

    Parameters
    ----------
    params : nethelpers.config.Params or path
        Parameters (or the YAML file).
    patient_id : str, optional
        The patient; default the first with a PET scan.
    scan_id : str, optional
        The scan shown first (default: the session's first, DOTATATE PET/CT first).
    reader : str, optional
        Who reads (recorded with every save); default the login name.
    viewer : napari.Viewer, optional
        Use this viewer (default: a new one).
    show : bool
        Show a new viewer's window.
    autosave_s : float
        Autosave interval (0: off).
    reading_views : bool or "deferred"
        Dock the reading views beside the canvas: PET MIP, coronal and sagittal views with a
        linked crosshair, another scan registered beside, the axis ruler
        (:mod:`nethelpers.viewer._qt.reading`). ``"deferred"``: once the window has drawn
        the axial view (the reader starts in about 1.3 s instead of 2.7 s; the command opens
        so).
    adjudicate : bool
        Open as the adjudicator of the consensus read (sees every reader's calls).

    Returns
    -------
    (napari.Viewer, ReviewWidget)

    Raises
    ------
    StudyDataMissing
        No study data; the message gives the command making the demo study.
    KeyError
        The patient has no PET scan.
    """
    import napari

    from nethelpers.review import ReviewSession
    from nethelpers.viewer.widget import ReviewWidget

    params = _params(params)
    check_study_data(params)
    if not patient_id:
        patient_id = patients_of(params)[0]
    from nethelpers.registrationstore import SessionRegistrations

    session = ReviewSession(params, patient_id, reader or default_reader(), scan_id=scan_id,
                            **({"adjudicate": True} if adjudicate else {}))
    # markers of the other scans land on the lesion: carried through the registration,
    # the same one the side-by-side view shows
    registrations = SessionRegistrations(params, session.images_of, session._warn)
    session.point_map = registrations.point_map
    session.registrations = registrations          # and lesion matching (follow-up scans)
    if viewer is None:
        viewer = napari.Viewer(show=show, title=f"NET review · {patient_id}")
    widget = ReviewWidget(viewer, session, autosave_s=autosave_s)
    widget.registrations = registrations
    widget.dock_widget = viewer.window.add_dock_widget(
        widget, name=f"Lesion review {patient_id}", area="right", add_vertical_stretch=False)
    if reading_views == "deferred":
        from qtpy.QtCore import QTimer

        QTimer.singleShot(DEFER_VIEWS_MS, widget.attach_reading_views)  # after a first paint
    elif reading_views:
        widget.attach_reading_views()
    return viewer, widget


def _ask_yes_no(question: str) -> bool:
    if not sys.stdin.isatty():
        return False
    try:
        return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run_review(params_path: str | Path, patient_id: str, *, scan_id: str | None = None,
               reader: str | None = None, autosave_s: float = 180.0,
               adjudicate: bool = False) -> int:
    """``nethelpers review``: open the review and run napari's event loop (exit code)."""
    from nethelpers.config import ParamsError, load_params

    try:
        params = load_params(params_path)
        check_study_data(params)
    except ParamsError as exc:
        print(f"review: {exc}", file=sys.stderr)
        return 2
    except StudyDataMissing as exc:
        print(f"review: {exc}", file=sys.stderr)
        if not _ask_yes_no("Make the demo study now?"):
            return 2
        from nethelpers.demo.generate import generate_demo

        generate_demo(params.study.data_root, params.demo.patients, params.demo.seed)
    import napari

    try:
        viewer, widget = open_review(params, patient_id, scan_id=scan_id, reader=reader,
                                     autosave_s=autosave_s, adjudicate=adjudicate,
                                     reading_views="deferred")
    except (KeyError, ValueError) as exc:
        print(f"review: {str(exc).strip(chr(39))}", file=sys.stderr)
        return 2
    napari.run()
    return 0


# --------------------------------------------------------------------------------------------
# npe2 widget contribution
# --------------------------------------------------------------------------------------------


def review_launcher(napari_viewer: Any) -> Any:
    """The Plugins-menu widget: choose parameters, patient, scan and reader, then open.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        Injected by napari.

    Returns
    -------
    magicgui.widgets.Container
    """
    from magicgui.widgets import ComboBox, Container, FileEdit, Label, LineEdit, PushButton

    start = DEFAULT_PARAMS if DEFAULT_PARAMS.is_file() else Path.cwd()
    params_edit = FileEdit(label="parameters", value=start, filter="*.yaml *.yml")
    patient = ComboBox(label="patient", choices=[])
    scan = ComboBox(label="scan", choices=["(first)"])
    reader = LineEdit(label="reader", value=default_reader())
    open_button = PushButton(text="Open review")
    demo_button = PushButton(text="Make the demo study", visible=False)
    info = Label(value="")
    box = Container(widgets=[params_edit, patient, scan, reader, open_button, demo_button,
                             info], labels=True)
    box.native.setObjectName("nethelpers-review-launcher")
    state: dict[str, Any] = {"params": None, "process": None}

    def load_params_file(*_: Any) -> None:
        path = Path(params_edit.value)
        state["params"] = None
        patient.choices = []
        demo_button.visible = False
        if not path.is_file():
            info.value = "choose a parameters file (e.g. parameters/demo.yaml)"
            return
        try:
            params = _params(path)
            choices = patients_of(params)
        except StudyDataMissing as exc:
            info.value = str(exc)
            demo_button.visible = True
            state["params"] = params
            return
        except Exception as exc:  # noqa: BLE001 - shown to the user
            info.value = f"{type(exc).__name__}: {exc}"
            return
        state["params"] = params
        patient.choices = choices
        info.value = f"{len(choices)} patients"

    def update_scans(*_: Any) -> None:
        params = state["params"]
        if params is None or not patient.value:
            scan.choices = ["(first)"]
            return
        from nethelpers.quantify import scan_jobs

        ids = [j.scan_id for j in scan_jobs(params) if j.patient_id == patient.value]
        scan.choices = ["(first)", *ids]

    def open_clicked(*_: Any) -> None:
        params = state["params"]
        if params is None or not patient.value:
            info.value = "choose a parameters file and a patient"
            return
        if not str(reader.value).strip():
            info.value = "name the reader: every save records who made it"
            return
        try:
            open_review(params, patient.value, reader=str(reader.value).strip(),
                        scan_id=None if scan.value == "(first)" else scan.value,
                        viewer=napari_viewer)
        except Exception as exc:  # noqa: BLE001 - shown to the user
            info.value = f"{type(exc).__name__}: {exc}"
            return
        info.value = f"opened {patient.value}"

    def make_demo(*_: Any) -> None:
        from qtpy.QtCore import QProcess

        params = state["params"]
        if params is None or state["process"] is not None:
            return
        process = QProcess(box.native)
        process.setProgram(sys.executable)
        process.setArguments(["-m", "nethelpers", *demo_args(params), "-q"])
        process.finished.connect(lambda *a: (state.update(process=None), load_params_file()))
        state["process"] = process
        info.value = "making the demo study (a few minutes)…"
        process.start()

    params_edit.changed.connect(load_params_file)
    patient.changed.connect(update_scans)
    open_button.changed.connect(open_clicked)
    demo_button.changed.connect(make_demo)
    load_params_file()
    update_scans()
    return box
