"""The study's vocabulary: codes and aliases in the parameters, checked at load.

A real study's tables say ``Ga68-DOTATATE`` or ``PET-CT``, enrol groups the protocol did not
name, and leave clinical cells empty until the data are in. These tests pin what is accepted,
what is refused (with the key to change), and what is no longer required.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from nethelpers.cohort import CohortError, load_cohort
from nethelpers.config import ParamsError, load_params, params_from_dict
from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary, VocabularyError, code_key
from tests.test_cohort import PATIENTS, READS, SCANS, edit, write_params, write_study

STUDY = {"study": {"name": "t", "data_root": "."}}  # the keys every study must give


def _cohort(tmp_path: Path, extra: dict | None = None, strict: bool = False, **tables: str):
    root = write_study(tmp_path / "study", **tables)
    params = load_params(write_params(tmp_path / "p.yaml", root, tmp_path / "o", **(extra or {})))
    return load_cohort(params, strict=strict)


def test_code_key_ignores_case_spaces_and_punctuation():
    assert code_key("Ga-68 DOTA-TATE") == "ga68dotatate"
    assert code_key("PET/CT") == code_key("pet-ct") == code_key("PETCT") == "petct"


@pytest.mark.parametrize("written", ["Ga68-DOTATATE", "68Ga-DOTATATE", "DOTA-TATE", "dotatate",
                                     "Ga-68 DOTATATE", "NETSPOT"])
def test_dotatate_aliases(written):
    assert DEFAULT_VOCABULARY.canonical("tracer", written) == "DOTATATE"


@pytest.mark.parametrize(("written", "name"), [("68Ga-DOTATOC", "DOTATOC"),
                                               ("DOTANOC", "DOTANOC"), ("18F-FDG", "FDG"),
                                               ("99mTc-HYNIC-TOC", "HYNIC-TOC")])
def test_other_tracer_aliases_and_families(written, name):
    vocab = DEFAULT_VOCABULARY
    assert vocab.canonical("tracer", written) == name
    assert vocab.family(name) == ("fdg" if name == "FDG" else "sstr")


def test_families_and_systems_of_the_default():
    vocab = DEFAULT_VOCABULARY
    assert vocab.sstr_tracers == {"DOTATATE", "DOTATOC", "DOTANOC", "HYNIC-TOC"}
    assert vocab.fdg_tracers == {"FDG"}
    assert vocab.pet_modalities == ("PET/CT", "PET/MR")
    assert vocab.spect_modalities == ("SPECT/CT",)
    assert vocab.tio_groups == ("suspected_tio", "tio_post_surgery")
    assert vocab.prrt_groups == ("prrt_net",)


def test_unknown_code_names_the_key():
    with pytest.raises(VocabularyError) as info:
        DEFAULT_VOCABULARY.canonical("tracer", "Lu177-DOTATATE")
    message = str(info.value)
    assert "vocabulary.tracers" in message
    assert "DOTATATE, FDG, HYNIC-TOC, DOTATOC, DOTANOC" in message


def test_an_alias_naming_two_tracers_is_refused():
    with pytest.raises(ParamsError, match="'dota-tate' names both DOTATATE and X"):
        params_from_dict(STUDY | {"vocabulary": {"tracers": [
            {"name": "DOTATATE", "family": "sstr"},
            {"name": "X", "family": "fdg", "aliases": ["dota-tate"]}]}})


def test_aliases_in_the_scans_table_load_as_canonical_names(tmp_path):
    scans = edit(SCANS, "P001,FDG,PET/CT", "P001,18F-FDG,PET-CT")
    scans = edit(scans, "P003,DOTATATE,PET/CT", "P003,Ga68-DOTATATE,PETCT")
    c = _cohort(tmp_path, scans=scans)
    s = c.scans.set_index("scan_id")
    assert s.loc["P001-FDG-PETCT", ["tracer", "modality"]].tolist() == ["FDG", "PET/CT"]
    assert s.loc["P003-DOTATATE-PETCT", ["tracer", "modality"]].tolist() == ["DOTATATE",
                                                                             "PET/CT"]
    assert c.exclusions.empty


def test_unknown_tracer_is_an_error_even_in_lenient_mode(tmp_path):
    scans = edit(SCANS, "P001,FDG,PET/CT", "P001,Lu177-DOTATATE,PET/CT")
    with pytest.raises(CohortError) as info:
        _cohort(tmp_path, scans=scans)
    message = str(info.value)
    assert "scans.csv: column tracer" in message
    assert "'Lu177-DOTATATE'" in message
    assert "line 3 (P001-FDG-PETCT" in message
    assert "vocabulary.tracers" in message


def test_a_tracer_added_in_the_parameters_is_accepted(tmp_path):
    scans = edit(SCANS, "P001,FDG,PET/CT", "P001,Lu177-DOTATATE,SPECT/CT")
    tracers = [t.model_dump() for t in Vocabulary().tracers]
    tracers.append({"name": "Lu177-DOTATATE", "family": "sstr", "aliases": ["177Lu-DOTATATE"]})
    c = _cohort(tmp_path, extra={"vocabulary": {"tracers": tracers}}, scans=scans)
    assert c.scans.set_index("scan_id").loc["P001-FDG-PETCT", "tracer"] == "Lu177-DOTATATE"
    assert c.vocabulary.family("Lu177-DOTATATE") == "sstr"


def test_a_group_added_in_the_parameters_keeps_its_order_and_label(tmp_path):
    patients = edit(PATIENTS, "P002,suspected_net", "P002,registry_net")
    groups = [g.model_dump() for g in Vocabulary().groups]
    groups.insert(1, {"code": "registry_net", "label": "Registry NET"})
    c = _cohort(tmp_path, extra={"vocabulary": {"groups": groups}}, patients=patients)
    cats = list(c.patients["group"].cat.categories)
    assert cats[:3] == ["suspected_net", "registry_net", "staging_net"]
    assert c.vocabulary.group_labels["registry_net"] == "Registry NET"
    assert c.patients.set_index("patient_id").loc["P002", "group"] == "registry_net"


def test_empty_clinical_cells_are_not_exclusions(tmp_path):
    # a study straight from `nethelpers init`: IDs, weight and height from the headers; the
    # group, diagnosis and reference standard not filled in yet
    patients = edit(PATIENTS, "P002,suspected_net,60,F,60,160,none,false,follow-up",
                    "P002,,,,60,,,,")
    c = _cohort(tmp_path, patients=patients)
    assert c.exclusions.empty
    p = c.patients.set_index("patient_id").loc["P002"]
    for column in ("group", "age", "sex", "height_cm", "final_diagnosis", "disease_present",
                   "reference_standard"):
        assert pd.isna(p[column]), column
    assert p["weight_kg"] == 60.0


def test_height_is_required_for_a_lean_body_mass_norm(tmp_path):
    patients = edit(PATIENTS, "60,F,60,160", "60,F,60,")
    bw = _cohort(tmp_path / "bw", patients=patients)
    assert bw.exclusions.empty
    lbm = _cohort(tmp_path / "lbm", extra={"quantify": {"norm": "lbm"}}, patients=patients)
    assert lbm.excluded_patients == ["P002"]
    reason = lbm.exclusions.set_index("id").loc["P002", "reason"]
    assert reason.startswith("height_cm '': empty value")
    with pytest.raises(CohortError, match="Required because quantify.norm is lbm"):
        _cohort(tmp_path / "strict", extra={"quantify": {"norm": "lbm"}}, strict=True,
                patients=patients)


def test_lesions_and_reads_tables_are_optional(tmp_path):
    root = write_study(tmp_path / "study")
    (root / "truth/lesions.csv").unlink()
    (root / "reads/reads.csv").unlink()
    c = load_cohort(load_params(write_params(tmp_path / "p.yaml", root, tmp_path / "o")))
    assert c.missing == {"lesions": "truth/lesions.csv", "reads": "reads/reads.csv"}
    assert c.lesions.empty and c.reads.empty
    assert {"lesion_id", "truth", "malignant"} <= set(c.lesions.columns)
    assert {"scan_id", "reader", "call"} <= set(c.reads.columns)
    assert len(c.patients) == 6 and len(c.scans) == 9


def test_patients_and_scans_tables_stay_required(tmp_path):
    root = write_study(tmp_path / "study")
    (root / "clinical/scans.csv").unlink()
    params = load_params(write_params(tmp_path / "p.yaml", root, tmp_path / "o"))
    with pytest.raises(CohortError, match="scans table not found"):
        load_cohort(params)


def test_a_scan_read_with_no_lesion_called(tmp_path):
    reads = READS + "P006-DOTATATE-PETCT,none,R1,negative,,5,\n"
    c = _cohort(tmp_path, reads=reads)
    assert c.exclusions.empty
    row = c.reads[c.reads["scan_id"] == "P006-DOTATATE-PETCT"].iloc[0]
    assert row["lesion_id"] == "none" and row["call"] == "negative"


@pytest.mark.parametrize("written", ["⁶⁸Ga-DOTATATE", "[68Ga]Ga-DOTA-TATE", "Ga\u201168 DOTATATE",
                                     "DOTATATE\u00a0 "])
def test_unicode_spellings_of_dotatate(written):
    assert DEFAULT_VOCABULARY.canonical("tracer", written) == "DOTATATE"


def test_letters_of_any_script_are_kept():
    assert code_key("Gruppe Ä") != code_key("Gruppe Ö")
    assert code_key("¹⁸F-FDG") == "18ffdg"


@pytest.mark.parametrize("group", [{"code": "Not recorded"}, {"code": "overall"},
                                   {"code": "x", "label": "Not  recorded"}])
def test_words_of_the_report_are_not_group_codes(group):
    with pytest.raises(ParamsError, match="word the report uses for missing values"):
        params_from_dict(STUDY | {"vocabulary": {"groups": [{"code": "a"}, group]}})


def test_two_groups_with_one_label_are_refused():
    with pytest.raises(ParamsError, match="label 'NET' names two groups"):
        params_from_dict(STUDY | {"vocabulary": {"groups": [{"code": "a", "label": "NET"},
                                                    {"code": "b", "label": "NET"}]}})


def test_an_unknown_group_message_does_not_offer_aliases(tmp_path):
    with pytest.raises(CohortError) as info:
        _cohort(tmp_path, patients=edit(PATIENTS, "P002,suspected_net", "P002,registry"))
    message = str(info.value)
    assert "add it to vocabulary.groups" in message and "alias" not in message


def test_other_codes_ignore_case_spaces_and_punctuation(tmp_path):
    patients = edit(PATIENTS, "none,false,follow-up", "none,false,Follow up")
    c = _cohort(tmp_path, patients=patients)
    assert c.exclusions.empty
    assert c.patients.set_index("patient_id").loc["P002", "reference_standard"] == "follow-up"


@pytest.mark.parametrize("written", ["None", "NONE", " none"])
def test_no_lesion_reads_are_matched_without_regard_to_case(tmp_path, written):
    reads = READS + f"P006-DOTATATE-PETCT,{written},R1,negative,,5,\n"
    c = _cohort(tmp_path, reads=reads)
    assert c.exclusions.empty
    assert "none" in set(c.reads["lesion_id"])


def test_a_no_lesion_read_must_be_negative(tmp_path):
    reads = READS + "P006-DOTATATE-PETCT,none,R1,positive,,5,\n"
    c = _cohort(tmp_path, reads=reads)
    row = c.exclusions.iloc[0]
    assert (row["what"], row["id"], row["action"]) == ("read", "P006-DOTATATE-PETCT/none/R1",
                                                       "excluded")
    assert "only negative is possible" in row["reason"]
    assert not (c.reads["lesion_id"] == "none").any()
    with pytest.raises(CohortError, match="a positive or equivocal finding needs its own"):
        _cohort(tmp_path / "strict", strict=True, reads=reads)


def test_a_lesion_cannot_be_called_none(tmp_path):
    lesions = ("patient_id,lesion_id,site,diameter_mm,truth,malignant,reference_standard\n"
               "P001,NONE,liver,10,malignant,true,histopathology\n")
    c = _cohort(tmp_path, lesions=lesions, reads="scan_id,lesion_id,reader,call\n")
    assert c.lesions.empty
    assert "reserved" in c.exclusions.iloc[0]["reason"]


@pytest.mark.parametrize("content", ["", "\n\n", "  \r\n"])
def test_an_empty_lesions_file_is_an_empty_table(tmp_path, content):
    c = _cohort(tmp_path, lesions=content, reads=content)
    assert c.lesions.empty and c.reads.empty and c.missing == {}
    assert "lesion_id" in c.lesions.columns
