"""The report pipeline: papermill runs the notebooks, nbconvert renders them, provenance."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from nethelpers.cli import main
from nethelpers.cohort import CohortError
from nethelpers.config import ParamsError
from nethelpers.report import (
    DEFAULT_NOTEBOOKS_DIR,
    ReportDir,
    ReportError,
    run_report,
    tree_digest,
)
from tests.test_cohort import SCANS, write_params, write_study

STUDY = {"study": {"name": "t", "data_root": "."}}  # the keys every study must give

REPO = Path(__file__).resolve().parents[1]
FAKE_PHI = "DOE^JOHN"
FAKE_PHI_DIR = "DOE_JOHN_19570412"

pytestmark = pytest.mark.slow


def add_fake_dicom(root: Path) -> Path:
    """A DICOM-like tree whose folder names carry PHI (must never reach the report)."""
    folder = root / "dicom" / FAKE_PHI_DIR / "PET"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"IM{i:04d}.dcm").write_bytes(b"\0" * 128 + b"DICM" + FAKE_PHI.encode())
    return root / "dicom"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The report of the hand-made study, run once (about 5 s)."""
    tmp = tmp_path_factory.mktemp("report")
    study = write_study(tmp / "study")
    add_fake_dicom(study)
    params = write_params(tmp / "params.yaml", study, tmp / "out",
                          report={"notebooks": ["01_cohort"]})
    out = run_report(params, progress=False)
    return {"out": out, "params": params, "study": study, "tmp": tmp}


def test_report_layout(report):
    out = report["out"]
    assert out == report["tmp"] / "out"
    for name in (
        "index.html",
        "01_cohort.html",
        "provenance.json",
        "notebooks/01_cohort.ipynb",
        "tables/table1.csv",
        "tables/table1_numeric.csv",
        "tables/scan_inventory.csv",
        "tables/scan_totals.csv",
        "tables/exclusions.csv",
        "tables/summary_01_cohort.csv",
        "figures/participant_flow.png",
        "figures/participant_flow.svg",
    ):
        assert (out / name).is_file(), name


def test_table1_counts_equal_the_input(report):
    numeric = pd.read_csv(report["out"] / "tables/table1_numeric.csv")
    patients = pd.read_csv(report["study"] / "clinical/patients.csv")
    counts = numeric[numeric.variable == "patients"].set_index("group")["n"]
    expected = patients.groupby("group").size()
    for group, n in expected.items():
        assert counts[group] == n
    assert counts["Overall"] == len(patients) == 6
    age = numeric[(numeric.variable == "age") & (numeric.group == "suspected_net")].iloc[0]
    assert age["mean"] == pytest.approx(60.0)
    assert age["sd"] == pytest.approx(10.0)
    formatted = pd.read_csv(report["out"] / "tables/table1.csv")
    assert formatted.columns[1] == "Suspected NET (diagnosis) (n = 3)"
    assert formatted.columns[-1] == "Overall (n = 6)"


def test_scan_tables_and_summary(report):
    totals = pd.read_csv(report["out"] / "tables/scan_totals.csv").set_index("group")
    assert totals.loc["Overall", "total"] == 9
    assert totals.loc["suspected_tio", "HYNIC-TOC SPECT/CT"] == 1
    inventory = pd.read_csv(report["out"] / "tables/scan_inventory.csv")
    assert len(inventory) == 6
    summary = pd.read_csv(report["out"] / "tables/summary_01_cohort.csv")
    assert dict(zip(summary["item"], summary["value"], strict=True)) == {
        "Patients analysed": 6,
        "Patients excluded": 0,
        "Groups": 3,
        "Scans": 9,
        "Lesions": 5,
        "Reads": 6,
    }
    assert pd.read_csv(report["out"] / "tables/exclusions.csv").empty


def test_index_html(report):
    page = (report["out"] / "index.html").read_text()
    assert "<h1>handmade: statistical report</h1>" in page
    assert "Run on " in page
    assert "<td>Scans</td><td class='num'>9</td>" in page
    assert "href='01_cohort.html'" in page
    assert "href='notebooks/01_cohort.ipynb'" in page
    assert "href='tables/table1.csv'" in page
    assert "src='figures/participant_flow.png'" in page
    assert "href='figures/participant_flow.svg'" in page
    assert "href='provenance.json'" in page
    assert "Report incomplete" not in page


def test_notebook_html_has_outputs_but_no_code(report):
    page = (report["out"] / "01_cohort.html").read_text()
    assert "Study cohort" in page  # markdown is kept
    assert "Suspected NET (diagnosis) (n = 3)" in page  # Table 1 output
    assert "<img" in page  # the flow figure
    for code in ("load_cohort(", "params_file", "import pandas", "report.table("):
        assert code not in page
    assert '<div class="highlight' not in page  # no highlighted source block
    assert 'class="jp-CodeMirrorEditor' not in page


def test_provenance(report):
    prov = json.loads((report["out"] / "provenance.json").read_text())
    assert prov["status"] == "ok"
    assert prov["notebooks_completed"] == ["01_cohort"]
    assert set(prov) >= {"versions", "parameters", "git", "inputs", "started", "finished"}
    for package in (
        "python",
        "nethelpers",
        "numpy",
        "pandas",
        "scipy",
        "pydicom",
        "SimpleITK",
        "statsmodels",
        "matplotlib",
        "papermill",
    ):
        assert prov["versions"][package], package
    assert prov["parameters"]["study"]["name"] == "handmade"
    assert prov["parameters"]["stats"]["ci_method"] == "wilson"
    assert prov["parameters"]["report"]["timeout"] == 120
    assert set(prov["git"]) == {"commit", "dirty"}
    patients = report["study"] / "clinical/patients.csv"
    table = prov["inputs"]["tables"]["patients"]
    assert table["path"] == "clinical/patients.csv"
    assert table["sha256"] == hashlib.sha256(patients.read_bytes()).hexdigest()
    assert table["bytes"] == patients.stat().st_size
    dicom = prov["inputs"]["dicom"]
    assert dicom["files"] == 3
    assert dicom["bytes"] == 3 * (128 + 4 + len(FAKE_PHI))
    assert len(dicom["sha256"]) == 64
    assert prov["inputs"]["rois"] is None


def test_no_phi_and_no_dicom_paths_in_outputs(report):
    for path in report["out"].rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".csv", ".ipynb", ".svg"}:
            text = path.read_text(errors="replace")
            assert FAKE_PHI_DIR not in text, path
            assert FAKE_PHI not in text, path


def test_outputs_are_deterministic_and_rerun_replaces_report(report):
    out = report["out"]

    def files():
        paths = [*(out / "tables").glob("*.csv"), *(out / "figures").glob("*")]
        return {p.relative_to(out).as_posix(): p.read_bytes() for p in paths}

    before = files()
    (out / "tables" / "stale.csv").write_text("old\n")
    run_report(report["params"], progress=False)
    after = files()
    assert after == before  # same bytes (CSV, PNG, SVG); the stale file of the old run is gone
    # the run date is in index.html and provenance.json only
    today = str(pd.Timestamp.now().date()).encode()
    assert not any(today in content for content in after.values())
    assert today.decode() in (out / "provenance.json").read_text()


def test_unreadable_study_tables_stop_the_report_before_any_notebook(tmp_path, capsys):
    study = write_study(tmp_path / "study", scans=SCANS.replace(",tracer,", ",agent,", 1))
    params = write_params(tmp_path / "params.yaml", study, tmp_path / "out")
    with pytest.raises(CohortError, match="lacks required column"):
        run_report(params, progress=False)
    assert not (tmp_path / "out").exists()  # nothing was run, nothing written
    assert main(["report", "-f", str(params), "-q"]) == 2
    err = capsys.readouterr().err
    assert "scans.csv: scans table lacks required column(s) tracer" in err
    assert "Fix:" in err


def test_broken_notebook_names_notebook_and_cell(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    shutil.copy(DEFAULT_NOTEBOOKS_DIR / "01_cohort.ipynb", folder)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            'params_file = ""\noutput_dir = ""', metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_markdown_cell("A broken notebook."),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("y = x / 0"),
        nbformat.v4.new_code_cell("print('never')"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "99_broken.ipynb")
    study = write_study(tmp_path / "study")
    params = write_params(tmp_path / "p.yaml", study, tmp_path / "out")
    with pytest.raises(ReportError) as info:
        run_report(
            params, notebooks=["01_cohort", "99_broken"], notebooks_dir=folder, progress=False
        )
    message = str(info.value)
    assert "notebook 99_broken failed at cell 4" in message
    assert "ZeroDivisionError" in message
    prov = json.loads((tmp_path / "out/provenance.json").read_text())
    assert prov["notebooks_completed"] == ["01_cohort"]
    index = (tmp_path / "out/index.html").read_text()
    assert "href='01_cohort.html'" in index
    assert "99_broken</a> <em>(failed)</em>" in index


def test_invalid_params_fail_before_anything_runs(tmp_path):
    study = write_study(tmp_path / "study")
    params = write_params(tmp_path / "p.yaml", study, tmp_path / "out", stats={"ci_level": 95})
    with pytest.raises(ParamsError, match="stats.ci_level"):
        run_report(params, progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_names_the_bad_key_and_runs_nothing(tmp_path, capsys):
    from nethelpers.cli import main

    study = write_study(tmp_path / "study")
    params = write_params(tmp_path / "p.yaml", study, tmp_path / "out",
                          index_test={"equivocal": "maybe"}, stat={"seed": 1})
    assert main(["report", "-f", str(params), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"report: {params}: invalid parameters:")
    assert "index_test.equivocal: Input should be 'negative', 'positive' or 'exclude'" in err
    assert "stat: unknown key; allowed keys here: study, report" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()
    params.write_text("study: [unclosed\n")
    assert main(["report", "-f", str(params), "-q"]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_missing_notebook_lists_available(tmp_path):
    params = write_params(tmp_path / "p.yaml", tmp_path, tmp_path / "out")
    with pytest.raises(ReportError, match=r"02_nothing not found .* available: .*01_cohort"):
        run_report(params, notebooks=["02_nothing"], progress=False)


def test_refuses_foreign_non_empty_output(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.docx").write_text("precious")
    params = write_params(tmp_path / "p.yaml", tmp_path, tmp_path / "out")
    with pytest.raises(ReportError, match="not a nethelpers report"):
        run_report(params, progress=False)
    assert (tmp_path / "out" / "thesis.docx").read_text() == "precious"


# --------------------------------------------------------------------------------------------
# helpers without a kernel
# --------------------------------------------------------------------------------------------


def test_report_dir_table(tmp_path):
    out = ReportDir(tmp_path)
    path = out.table(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}), "t")
    assert path == tmp_path / "tables" / "t.csv"
    assert path.read_bytes() == b"a,b\n1,x\n2,y\n"
    with pytest.raises(ValueError, match="output name"):
        out.table(pd.DataFrame(), "../escape")


def test_tree_digest_reads_listing_only(tmp_path):
    root = add_fake_dicom(tmp_path)
    first = tree_digest(root)
    assert first["files"] == 3
    assert tree_digest(root) == first
    target = next(root.rglob("IM0000.dcm"))
    stat = target.stat()
    target.write_bytes(b"x" * stat.st_size)  # same size and mtime: same digest
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert tree_digest(root) == first
    target.write_bytes(b"longer content")  # size changes: digest changes
    assert tree_digest(root)["sha256"] != first["sha256"]
    assert tree_digest(tmp_path / "absent") is None


def test_tree_digest_follows_folder_links_once(tmp_path):
    archive = tmp_path / "archive" / "P001"
    archive.mkdir(parents=True)
    (archive / "IM1").write_bytes(b"x" * 10)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "P001").symlink_to(archive)
    (archive / "loop").symlink_to(archive)  # a cycle must not hang the walk
    first = tree_digest(tree)
    assert first["files"] == 1 and first["bytes"] == 10
    (archive / "IM2").write_bytes(b"y")
    assert tree_digest(tree)["files"] == 2


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_committed_notebooks_are_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    params = nb.cells[1]
    assert params.metadata["tags"] == ["parameters"]
    assert params.source.splitlines()[1:3] == [
        'params_file = "../parameters/demo.yaml"',
        'output_dir = "../reports/interactive"',
    ]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "report.summary(" in nb.cells[-1].source  # the headline numbers come last


def test_notebook_01_parameters():
    nb = nbformat.read(REPO / "notebooks/01_cohort.ipynb", as_version=4)
    assert nb.cells[1].source.splitlines()[3] == (
        "interactive = True     # False under papermill: the cohort browser prints static output")


def test_alt_text_from_titles_labels_or_boxes():
    from matplotlib.figure import Figure

    from nethelpers.report import alt_text

    fig = Figure()
    ax = fig.add_subplot()
    ax.set(title="Liver", xlabel="scan", ylabel="SUVmean (g/ml)")
    assert alt_text(fig) == "Liver: SUVmean (g/ml) against scan."
    fig.suptitle("Patient level")
    assert alt_text(fig) == "Patient level; Liver: SUVmean (g/ml) against scan."
    diagram = Figure()
    diagram.text(0, 0, "Eligible\nn = 6")
    diagram.text(0, 0, "Positive n = 4")
    assert alt_text(diagram) == "Eligible n = 6; Positive n = 4."
    assert alt_text(Figure(), "flow") == "Figure flow"
    long = Figure()
    long.text(0, 0, "x" * 500)
    assert len(alt_text(long)) == 400 and alt_text(long).endswith("…")


def test_report_dir_show_saves_and_carries_alt(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().set_xlabel("SUV")
    image = ReportDir(tmp_path).show(fig, "f1", alt="A described figure")
    assert (tmp_path / "figures/f1.png").is_file() and (tmp_path / "figures/f1.svg").is_file()
    assert image.data == (tmp_path / "figures/f1.png").read_bytes()
    assert image._repr_png_()[1]["alt"] == "A described figure"
    default = ReportDir(tmp_path).show(fig, "f2", formats=("png",))
    assert default._repr_png_()[1]["alt"] == "SUV."
    assert not (tmp_path / "figures/f2.svg").exists()


def test_render_html_writes_alt_into_img(tmp_path):
    import base64

    from nethelpers.report import render_html

    png = base64.b64encode(b"\x89PNG fake").decode()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png},
                               metadata={"image/png": {"alt": 'SUV "max" <b>'}}),
        nbformat.v4.new_output("display_data", data={"image/png": png}),
    ]
    nb.cells = [cell]
    nbformat.write(nb, tmp_path / "n.ipynb")
    from bs4 import BeautifulSoup

    page = render_html(tmp_path / "n.ipynb", tmp_path / "n.html").read_text()
    alts = [img["alt"] for img in BeautifulSoup(page, "html.parser").find_all("img")]
    assert alts == ['SUV "max" <b>', "No description has been provided for this image"]


def test_stard_checklist_marks_missing_files(tmp_path):
    from nethelpers.config import params_from_dict
    from nethelpers.stard import STARD_ITEMS, stard_checklist

    (tmp_path / "tables").mkdir()
    (tmp_path / "tables/table1.csv").write_text("x\n")
    params = params_from_dict(STUDY | {"index_test": {"equivocal": "exclude"},
                               "stats": {"ci_method": "clopper-pearson", "ci_level": 0.9}})
    table = stard_checklist(params, tmp_path, {"numpy": "9.9", "python": "3.11.2"})
    assert len(table) == len(STARD_ITEMS)
    row = table.set_index("topic").loc["Baseline characteristics"]
    assert row["status"] == "addressed" and row["files"] == "tables/table1.csv"
    cut = table[table.item == "12a"].iloc[0]
    assert cut["status"].startswith("incomplete: tables/cutoffs.csv, tables/roc_auc.csv missing")
    assert "05_diagnostic_accuracy" in cut["status"] and cut["files"] == ""
    how = " ".join(table["how"])
    assert "Main analysis: excluded; sensitivity analysis at lesion level: counted positive" in how
    assert "90% confidence intervals: proportions by the Clopper–Pearson (exact) interval" in how
    assert "numpy 9.9" in how and "Python 3.11.2" in how
