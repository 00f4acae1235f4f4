"""The cohort browser: widget on the demo study, static output, PHI, unreadable scans."""

from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path

import ipywidgets as w
import nbformat
import pandas as pd
import pydicom
import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nethelpers.browser import _Browser, _redact, cohort_browser
from nethelpers.cohort import GROUP_LABELS, load_cohort
from nethelpers.config import load_params
from tests.test_cohort import write_params, write_study

REPO = Path(__file__).resolve().parents[1]
FAKE_PHI_DIR = "DOE_JOHN_19570412"


@pytest.fixture(scope="module")
def demo(demo_study, tmp_path_factory):
    """Parameters and cohort of the demo study, with its CSV tables."""
    path = tmp_path_factory.mktemp("browser") / "p.yaml"
    path.write_text(f"study:\n  name: t\n  data_root: {demo_study}\n")
    params = load_params(path)
    return {
        "root": demo_study, "params_file": path, "params": params,
        "cohort": load_cohort(params),
        "patients": pd.read_csv(demo_study / "clinical/patients.csv", dtype=str),
        "scans": pd.read_csv(demo_study / "clinical/scans.csv", dtype=str),
        "lesions": pd.read_csv(demo_study / "truth/lesions.csv", dtype=str),
        "reads": pd.read_csv(demo_study / "reads/reads.csv", dtype=str),
    }


def parts(view: w.VBox) -> dict:
    """The widget's parts: drop-down, summary, scans, thumbnails, lesions."""
    return dict(zip(["pick", "summary", "scans", "thumbs", "lesions"], view.children, strict=True))


def table(html: str) -> pd.DataFrame:
    return pd.read_html(StringIO(html))[0]


def pet_scans_with_dicom(demo, pid: str) -> list[str]:
    scans = demo["scans"][demo["scans"]["patient_id"] == pid]
    return [s.scan_id for s in scans.itertuples()
            if (demo["root"] / s.pet_dir).is_dir()]      # PET and SPECT alike


def phi_values(root: Path) -> set[str]:
    """Name, ID and birth date in the demo DICOM headers (one file per patient)."""
    values = set()
    for patient in sorted((root / "dicom").iterdir()):
        first = sorted(patient.rglob("*.dcm"))[0]
        ds = pydicom.dcmread(first, stop_before_pixels=True)
        name = str(ds.PatientName)
        values |= {name, name.replace("^", " "), *name.split("^"), str(ds.PatientID),
                   str(ds.PatientBirthDate)}
    return {v for v in values if len(v) >= 3}


def static_outputs(*args, **kwargs) -> list[dict]:
    """What the static browser displays: one mime bundle per displayed object."""
    InteractiveShell.instance()
    try:
        with capture_output() as captured:
            assert cohort_browser(*args, interactive=False, **kwargs) is None
    finally:  # napari, later in the session, must not think it runs inside IPython
        InteractiveShell.clear_instance()
    return [out.data for out in captured.outputs]


def test_dropdown_selects_a_patient_and_shows_exactly_its_scans_and_lesions(demo):
    view = cohort_browser(demo["params"], demo["cohort"])
    p = parts(view)
    patients = demo["patients"].set_index("patient_id")
    assert [value for _, value in p["pick"].options] == list(patients.index)
    assert [label for label, _ in p["pick"].options] == [
        f"{pid} · {GROUP_LABELS[patients.at[pid, 'group']]}" for pid in patients.index]
    for pid in reversed(patients.index):
        p["pick"].value = pid
        group = GROUP_LABELS[patients.at[pid, "group"]]
        assert p["summary"].value.startswith(f"<b>{pid}</b> · {group}")
        assert f"final diagnosis {patients.at[pid, 'final_diagnosis']}" in p["summary"].value
        scans = table(p["scans"].value)
        expected = demo["scans"][demo["scans"]["patient_id"] == pid]
        assert scans["scan_id"].tolist() == expected["scan_id"].tolist()
        assert scans["tracer"].tolist() == expected["tracer"].tolist()
        assert scans["model"].tolist() == expected["model"].tolist()
        lesions = table(p["lesions"].value)
        truth = demo["lesions"][demo["lesions"]["patient_id"] == pid]
        assert lesions["lesion_id"].tolist() == truth["lesion_id"].tolist()
        assert lesions["truth"].tolist() == truth["truth"].tolist()
        images = [c for c in p["thumbs"].children if isinstance(c, w.Image)]
        assert len(images) == len(pet_scans_with_dicom(demo, pid)) == len(expected) > 0
        assert all(img.value[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
        width = int.from_bytes(images[0].value[16:20], "big")          # IHDR width
        assert 160 <= width <= 200


def test_lesion_table_carries_the_readers_call_on_every_scan(demo):
    view = cohort_browser(demo["params"], demo["cohort"], reader="R2")
    p = parts(view)
    p["pick"].value = "P003"
    lesions = table(p["lesions"].value).set_index("lesion_id")
    reads = demo["reads"][(demo["reads"]["reader"] == "R2")
                          & demo["reads"]["lesion_id"].str.startswith("P003-")]
    assert len(reads) > 0
    for rec in reads.itertuples():
        assert lesions.at[rec.lesion_id, rec.scan_id] == rec.call
    assert "reader R2" in p["lesions"].value


def test_each_mip_is_rendered_once_however_often_a_patient_is_shown(demo, monkeypatch):
    rendered = []
    render = _Browser._render

    def counting(self, scan_id):
        rendered.append(scan_id)
        return render(self, scan_id)

    monkeypatch.setattr(_Browser, "_render", counting)
    p = parts(cohort_browser(demo["params"], demo["cohort"]))
    first = list(rendered)
    assert first == pet_scans_with_dicom(demo, "P001")
    for pid in ["P002", "P003", "P002", "P003", "P001"]:
        p["pick"].value = pid
    assert rendered == first + pet_scans_with_dicom(demo, "P002") + pet_scans_with_dicom(
        demo, "P003")
    assert sum(isinstance(c, w.Image) for c in p["thumbs"].children) == len(first)


def test_static_output_has_an_index_matching_the_tables_and_the_first_patients_mips(demo):
    outputs = static_outputs(demo["params"], demo["cohort"], reader="R1")
    index = table(outputs[0]["text/html"]).set_index("patient_id")
    patients, scans, lesions = demo["patients"], demo["scans"], demo["lesions"]
    assert list(index.index) == patients["patient_id"].tolist()
    assert (index["scans"] == scans.groupby("patient_id").size().reindex(index.index)).all()
    assert (index["lesions"] == lesions.groupby("patient_id").size().reindex(index.index)).all()
    dota = scans[(scans.tracer == "DOTATATE") & (scans.modality == "PET/CT")]
    assert (index["DOTATATE PET/CT"] == dota.groupby("patient_id").size()
            .reindex(index.index, fill_value=0)).all()
    assert index["group"].tolist() == patients["group"].map(GROUP_LABELS).tolist()
    first = patients["patient_id"].iloc[0]
    pngs = [o for o in outputs if "image/png" in o]
    assert len(pngs) == len(pet_scans_with_dicom(demo, first)) == 3
    html = "".join(o.get("text/html", "") for o in outputs)
    assert f"Patient {first}" in html and "Patient P002" not in html
    assert all(scan_id in html for scan_id in scans.loc[scans.patient_id == first, "scan_id"])
    lesion_table = table(outputs[-1]["text/html"])
    assert lesion_table["lesion_id"].tolist() == (
        lesions.loc[lesions.patient_id == first, "lesion_id"].tolist())
    assert "P001-DOTATATE-PETCT" in lesion_table.columns


def test_no_phi_dates_or_paths_in_anything_the_browser_shows(demo):
    forbidden = phi_values(demo["root"])
    assert len(forbidden) >= 6 * 3
    forbidden |= set(demo["scans"]["scan_date"]) | {str(demo["root"])}
    p = parts(cohort_browser(demo["params"], demo["cohort"], reader="R1"))
    texts = [str(label) for label, _ in p["pick"].options]
    for pid in demo["patients"]["patient_id"]:
        p["pick"].value = pid
        texts += [p["summary"].value, p["scans"].value, p["lesions"].value]
    outputs = static_outputs(demo["params"], demo["cohort"], reader="R1", static_patients=6)
    texts += [o.get("text/html", "") + o.get("text/plain", "") for o in outputs]
    text = "\n".join(texts)
    assert "P006-DOTATATE-PETCT" in text
    leaked = [value for value in forbidden if value in text]
    assert leaked == []


@pytest.mark.filterwarnings("ignore:Expected implicit VR")
def test_unreadable_or_missing_dicom_shows_a_reason_instead_of_a_mip(demo, tmp_path):
    root = tmp_path / "study"
    for folder in ("clinical", "truth", "reads"):
        shutil.copytree(demo["root"] / folder, root / folder)
    (root / "dicom").symlink_to(demo["root"] / "dicom")
    broken = root / FAKE_PHI_DIR / "PT"
    broken.mkdir(parents=True)
    (broken / "IM0001.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"DOE^JOHN")
    scans = pd.read_csv(root / "clinical/scans.csv", dtype=str, keep_default_na=False)
    scans.loc[scans.scan_id == "P001-DOTATATE-PETCT", "pet_dir"] = "dicom/nowhere"
    fdg = scans.scan_id == "P001-FDG-PETCT"
    scans.loc[fdg, "pet_dir"], scans.loc[fdg, "pet_series_uid"] = f"{FAKE_PHI_DIR}/PT", ""
    scans.to_csv(root / "clinical/scans.csv", index=False)
    path = tmp_path / "p.yaml"
    path.write_text(f"study:\n  name: t\n  data_root: {root}\n  rois: {demo['root'] / 'rois'}\n")
    params = load_params(path)
    p = parts(cohort_browser(params, load_cohort(params)))
    thumbs = p["thumbs"].children
    assert [type(t).__name__ for t in thumbs] == ["HTML", "Image", "HTML"]  # scans.csv order
    assert "P001-DOTATATE-PETCT" in thumbs[0].value
    assert "DICOM folder not found" in thumbs[0].value
    assert "P001-FDG-PETCT" in thumbs[2].value
    assert "no image: SeriesError: Modality is None" in thumbs[2].value
    assert FAKE_PHI_DIR not in thumbs[2].value and "DOE^JOHN" not in thumbs[2].value
    assert str(tmp_path) not in thumbs[2].value
    assert len(table(p["lesions"].value)) == 5


def test_paths_are_removed_from_reasons():
    text = "cannot read '/data/DOE_JOHN/PT/1.dcm' or C:\\dicom\\DOE in PET/CT\nTraceback"
    assert _redact(text) == "cannot read '…' or … in PET/CT"


def test_other_errors_show_no_message_that_could_quote_a_path(demo, monkeypatch):
    import nethelpers.browser as browser

    def broken(*args, **kwargs):
        raise OSError("cannot read /data/Doe John 19600101/PT/IM1.dcm: truncated")

    monkeypatch.setattr(browser, "load_emission_series", broken)
    view = browser._Browser(demo["params"], demo["cohort"], None, None)
    reason = view.thumbnail("P001-DOTATATE-PETCT")
    assert reason == "no image: OSError (message withheld: it may quote a path)"


def test_study_without_images_gives_reasons_for_every_scan(tmp_path):
    study = write_study(tmp_path / "study")
    params = load_params(write_params(tmp_path / "p.yaml", study, tmp_path / "out"))
    cohort = load_cohort(params)
    outputs = static_outputs(params, cohort, static_patients=6)
    assert not any("image/png" in o for o in outputs)
    html = "".join(o["text/html"] for o in outputs)
    for scan_id in cohort.scans["scan_id"]:
        assert f"{scan_id}: <i>no image" in html
    assert "P005-HYNIC-SPECTCT: <i>no image: " in html      # a SPECT scan is shown like PET
    assert "P001-DOTATATE-PETCT: <i>no image: DICOM folder not found" in html
    assert "P001-FDG-PETCT: <i>no image: no DICOM series" in html
    index = table(outputs[0]["text/html"]).set_index("patient_id")
    assert index.loc["P005", "HYNIC-TOC SPECT/CT"] == 1 and index.loc["P006", "lesions"] == 0


@pytest.mark.slow
def test_notebook_01_shows_the_static_browser_under_papermill(demo, tmp_path):
    import papermill

    executed = tmp_path / "01.ipynb"
    papermill.execute_notebook(
        str(REPO / "notebooks/01_cohort.ipynb"), str(executed),
        parameters={"params_file": str(demo["params_file"]), "output_dir": str(tmp_path / "out"),
                    "interactive": False},
        kernel_name="python3", cwd=str(REPO / "notebooks"), progress_bar=False)
    nb = nbformat.read(executed, as_version=4)
    cell = next(c for c in nb.cells
                if c.cell_type == "code" and "cohort_browser(params" in c.source)
    assert "report.summary(" in nb.cells[-1].source
    outputs = [o for o in cell.outputs if o.output_type == "display_data"]
    assert not any(o.output_type == "error" for o in cell.outputs)
    index = table(outputs[0].data["text/html"])
    assert index["patient_id"].tolist() == demo["patients"]["patient_id"].tolist()
    assert index["lesions"].sum() == len(demo["lesions"])
    pngs = [o for o in outputs if "image/png" in o.data]
    assert len(pngs) == len(pet_scans_with_dicom(demo, "P001")) == 3
    html = "".join(o.data.get("text/html", "") for o in outputs)
    for scan_id in demo["scans"].loc[demo["scans"].patient_id == "P001", "scan_id"]:
        assert scan_id in html
    assert not any(value in html for value in phi_values(demo["root"]))
