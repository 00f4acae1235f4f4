"""The report's exports: made after index.html, timed, and never breaking the report."""

from __future__ import annotations

import json

import docx
import pandas as pd
import pytest

from nethelpers import exportpdf, report
from nethelpers.config import params_from_dict
from nethelpers.privacy import Pseudonymiser
from nethelpers.reportexports import make_exports


def _run(tmp_path, exports=("pdf", "docx")):
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    (out / "index.html").write_text("<html><body><h1>t</h1></body></html>")
    pd.DataFrame({"tracer": ["FDG"], "modality": ["PET/CT"], "measure": ["sensitivity"],
                  "estimate": [0.5], "lower": [0.25], "upper": [0.75], "numerator": [4],
                  "denominator": [8], "method": ["wilson"]}).to_csv(
        out / "tables/accuracy_patient_level.csv", index=False)
    params = params_from_dict({"study": {"name": "t", "data_root": str(tmp_path)},
                               "report": {"exports": list(exports)}})
    run = report._Run(params, tmp_path / "p.yaml", out, [], Pseudonymiser())
    return run


def test_the_exports_parameter_defaults_to_both_and_refuses_others():
    from nethelpers.config import ParamsError

    assert params_from_dict({"study": {"name": "t", "data_root": "."}}).report.exports == [
        "pdf", "docx"]
    with pytest.raises((ParamsError, ValueError)):
        params_from_dict({"study": {"name": "t", "data_root": "."},
                          "report": {"exports": ["odt"]}})


def test_without_chromium_the_pdf_is_skipped_and_the_rest_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(exportpdf.shutil, "which", lambda name: None)
    run = _run(tmp_path)
    with pytest.warns(UserWarning, match="export pdf skipped: report.pdf not written"):
        make_exports(run)
    assert list(run.exports) == ["methods", "docx", "pdf"]
    assert run.exports["methods"]["status"] == run.exports["docx"]["status"] == "ok"
    assert run.exports["pdf"]["status"] == "skipped"
    assert "apt-get install -y --no-install-recommends chromium" in run.exports["pdf"]["note"]
    assert all(r["seconds"] >= 0 for r in run.exports.values())
    document = docx.Document(str(run.out / "tables.docx"))
    row = [cell.text for cell in document.tables[0].rows[1].cells]   # one row per scan type
    assert row == ["FDG PET/CT", "0.50 (0.25–0.75) 4/8"]
    assert "Statistical methods" in (run.out / "methods.md").read_text(encoding="utf-8")
    # the console lines of the CLI (read back from provenance.json)
    (run.out / "provenance.json").write_text(json.dumps({"exports": run.exports}))
    notes = report.export_notes(run.out)
    assert len(notes) == 1 and notes[0].startswith("export pdf skipped: report.pdf not written")


def test_a_failing_export_is_listed_and_the_others_still_run(tmp_path, monkeypatch):
    import nethelpers.exportdocx

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(nethelpers.exportdocx, "export_docx", broken)
    run = _run(tmp_path, exports=["docx"])
    with pytest.warns(UserWarning, match="export docx failed: OSError: disk full"):
        make_exports(run)
    assert run.exports["docx"] == {"status": "failed", "file": None,
                                   "note": "OSError: disk full",
                                   "seconds": run.exports["docx"]["seconds"]}
    assert run.exports["methods"]["status"] == "ok" and "pdf" not in run.exports
    assert not (run.out / "tables.docx").exists()


def test_no_exports_asked_writes_only_the_methods(tmp_path):
    run = _run(tmp_path, exports=[])
    make_exports(run)
    assert list(run.exports) == ["methods"]
    assert not (run.out / "tables.docx").exists() and not (run.out / "report.pdf").exists()
