"""Parameters files: schema, defaults, path resolution, error messages."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from nethelpers.config import (
    CI_METHODS,
    Params,
    ParamsError,
    load_params,
    params_from_dict,
    params_json_schema,
    write_json_schema,
)

REPO = Path(__file__).resolve().parents[1]
PARAMETER_FILES = sorted((REPO / "parameters").glob("*.yaml"))


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
    return path


def error_of(tmp_path: Path, data: object) -> str:
    path = write_yaml(tmp_path / "params.yaml", data)
    with pytest.raises(ParamsError) as info:
        load_params(path)
    return str(info.value)


def test_both_parameter_files_exist():
    names = {p.name for p in PARAMETER_FILES}
    assert {"demo.yaml", "study_template.yaml"} <= names


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda p: p.name)
def test_parameter_files_validate_against_json_schema(path):
    data = yaml.safe_load(path.read_text())
    jsonschema.Draft202012Validator(params_json_schema()).validate(data)
    params = load_params(path)
    assert isinstance(params, Params)


def test_json_schema_rejects_unknown_keys_and_bad_values():
    validator = jsonschema.Draft202012Validator(params_json_schema())
    study = {"name": "s", "data_root": "/d"}
    assert not validator.is_valid({"study": study, "stats": {"ci_levl": 0.9}})
    assert not validator.is_valid({"study": study, "stats": {"ci_method": "wald"}})
    assert not validator.is_valid({"study": study, "stats": {"ci_level": 1.2}})
    assert not validator.is_valid({"stats": {"ci_method": "jeffreys", "ci_level": 0.9}})
    assert validator.is_valid({"study": study, "stats": {"ci_method": "jeffreys",
                                                         "ci_level": 0.9}})


def test_write_json_schema(tmp_path):
    import json

    path = write_json_schema(tmp_path / "schema.json")
    schema = json.loads(path.read_text())
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"study", "report", "stats", "quantify", "scores",
                                         "index_test", "reading", "readers", "registration",
                                         "response", "review", "demo", "vocabulary"}


def test_demo_yaml_values():
    params = load_params(REPO / "parameters" / "demo.yaml")
    assert params.study.name == "demo"
    assert params.study.data_root == REPO / "data" / "demo"
    assert params.study.tables.patients == REPO / "data/demo/clinical/patients.csv"
    assert params.study.tables.reads == REPO / "data/demo/reads/reads.csv"
    assert params.study.dicom == REPO / "data/demo/dicom"
    assert params.report.output == REPO / "reports" / "demo"
    assert params.report.notebooks == ["01_cohort", "02_roi_review", "03_quantification",
                                       "04_tracer_comparison", "05_diagnostic_accuracy",
                                       "06_response"]
    assert params.quantify.output == REPO / "derived" / "demo"
    assert params.quantify.mtv_fraction == 0.41
    assert (params.index_test.reader, params.index_test.equivocal) == ("R1", "negative")
    assert params.index_test.equivocal_sensitivity == "positive"


def test_template_documents_every_key():
    text = (REPO / "parameters" / "study_template.yaml").read_text()
    data = yaml.safe_load(text)
    for section, model in Params.model_fields.items():
        assert section in data
        keys = model.annotation.model_fields
        assert set(data[section]) == set(keys), section
    assert set(data["study"]["tables"]) == {"patients", "scans", "lesions", "reads"}
    # every key has a comment line somewhere above it
    assert text.count("#") > 30


def test_template_shows_the_defaults_it_documents():
    """A user who copies the template and changes nothing gets the defaults."""
    text = (REPO / "parameters" / "study_template.yaml").read_text()
    data = yaml.safe_load(text)
    defaults = Params.model_validate({"study": {"name": "s", "data_root": "."}})
    assert Params.model_validate({"study": {"name": "s", "data_root": "."},
                                  "vocabulary": data["vocabulary"]}).vocabulary == (
        defaults.vocabulary)
    assert data["report"]["notebooks"] == defaults.report.notebooks
    for section in ("report", "stats", "quantify", "scores", "index_test"):
        model = getattr(defaults, section)
        for key, value in data[section].items():
            if key != "output":
                assert getattr(model, key) == value, f"{section}.{key}"


def test_an_empty_file_names_the_required_keys_and_never_means_the_demo(tmp_path):
    message = error_of(tmp_path, "")
    assert "\n  study.name: Field required" in message
    assert "\n  study.data_root: Field required" in message
    assert "parameters/demo.yaml" in message  # where the demo's own parameters are
    message = error_of(tmp_path, {"study": {"name": "registry"}})
    assert "study.data_root: Field required" in message and "study.name" not in message


def test_defaults_of_a_minimal_file(tmp_path):
    path = write_yaml(tmp_path / "p" / "study.yaml",
                      {"study": {"name": "registry", "data_root": "../data/registry"}})
    params = load_params(path)
    assert params.study.data_root == tmp_path / "data" / "registry"
    assert params.study.tables.lesions == tmp_path / "data/registry/truth/lesions.csv"
    # outputs are named after the study, never the demo's folders
    assert params.report.output == tmp_path / "reports" / "registry"
    assert params.quantify.output == tmp_path / "derived" / "registry"
    assert params.report.calendar_dates is False
    assert params.report.notebooks == ["01_cohort", "02_roi_review", "03_quantification",
                                       "04_tracer_comparison", "05_diagnostic_accuracy",
                                       "06_response"]
    assert params.report.kernel == "python3"
    assert params.report.timeout == 600
    assert params.stats.ci_method == "wilson"
    assert params.stats.ci_level == 0.95
    assert params.demo.patients == 60
    assert params.demo.seed == 0


def test_relative_paths_resolve_against_the_file_not_cwd(tmp_path, monkeypatch):
    path = write_yaml(
        tmp_path / "cfg" / "study.yaml",
        {
            "study": {
                "name": "s1",
                "data_root": "../data/s1",
                "tables": {"patients": "tables/p.csv", "scans": "/abs/scans.csv"},
                "dicom": "images",
            },
            "report": {"output": "out/run1", "notebooks_dir": "../nbs"},
        },
    )
    monkeypatch.chdir(tmp_path)  # a cwd that differs from the file's folder
    params = load_params(path)
    root = tmp_path / "data" / "s1"
    assert params.study.data_root == root
    assert params.study.tables.patients == root / "tables" / "p.csv"
    assert params.study.tables.scans == Path("/abs/scans.csv")
    assert params.study.tables.reads == root / "reads" / "reads.csv"
    assert params.study.dicom == root / "images"
    assert params.study.rois == root / "rois"
    assert params.report.output == tmp_path / "cfg" / "out" / "run1"
    assert params.report.notebooks_dir == tmp_path / "nbs"


def test_unknown_key_names_file_key_and_allowed_keys(tmp_path):
    message = error_of(tmp_path, {"study": {"nam": "x"}})
    assert str(tmp_path / "params.yaml") in message
    assert "study.nam: unknown key" in message
    assert "name, data_root, tables, dicom, rois" in message


def test_unknown_nested_and_top_level_keys(tmp_path):
    message = error_of(tmp_path, {"study": {"tables": {"patient": "x.csv"}}, "stat": {}})
    assert "study.tables.patient: unknown key" in message
    assert "patients, scans, lesions, reads" in message
    assert ("stat: unknown key; allowed keys here: study, report, stats, quantify, scores, "
            "index_test, reading, readers, registration, response, review, demo") in message


def test_bad_ci_level_names_key_and_range(tmp_path):
    message = error_of(tmp_path, {"stats": {"ci_level": 1.5}})
    assert "stats.ci_level" in message
    assert "1.5" in message
    assert "strictly between 0.5 and 1" in message


def test_bad_ci_method_lists_allowed_methods(tmp_path):
    message = error_of(tmp_path, {"stats": {"ci_method": "wald"}})
    assert "stats.ci_method" in message
    assert "'wald'" in message
    for method in CI_METHODS:
        assert method in message


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"demo": {"patients": 0}}, "demo.patients"),
        ({"demo": {"seed": "abc"}}, "demo.seed"),
        ({"report": {"timeout": -5}}, "report.timeout"),
        ({"report": {"notebooks": ["01_cohort.ipynb"]}}, "report.notebooks"),
        ({"report": {"notebooks": []}}, "report.notebooks"),
        ({"study": {"name": "my study/1"}}, "study.name"),
        ({"study": 3}, "study"),
    ],
)
def test_bad_values_name_the_key(tmp_path, data, key):
    message = error_of(tmp_path, data)
    assert f"\n  {key}:" in message


def test_all_errors_are_reported_at_once(tmp_path):
    message = error_of(tmp_path, {"stats": {"ci_level": 2, "seed": -1}, "demo": {"x": 1}})
    assert "stats.ci_level" in message
    assert "stats.seed" in message
    assert "demo.x: unknown key" in message


def test_unreadable_files(tmp_path):
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path / "missing.yaml")
    assert "not valid YAML" in error_of(tmp_path, "study: [unclosed\n")
    assert "must hold a mapping" in error_of(tmp_path, "- a\n- b\n")


def test_params_from_dict_uses_base_dir(tmp_path):
    params = params_from_dict({"study": {"name": "t", "data_root": "d"}}, base_dir=tmp_path)
    assert params.study.data_root == tmp_path / "d"
    with pytest.raises(ParamsError, match=r"<mine>: invalid parameters:\n  stats.ci_level"):
        params_from_dict({"study": {"name": "t", "data_root": "d"}, "stats": {"ci_level": 0.2}},
                         source="<mine>")
