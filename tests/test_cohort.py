"""Cohort tables: loading, validation messages, lenient/strict modes, Table 1, flow figure.

The small study below is written by hand so every number of Table 1 can be computed by hand.
``write_study`` is also used by tests/test_report.py.
"""

from __future__ import annotations

import io
import itertools
import math
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg

from nethelpers.cohort import (
    Cohort,
    CohortError,
    load_cohort,
    load_patients,
    load_reads,
    load_scans,
    reads_joined,
)
from nethelpers.config import load_params
from nethelpers.plots import participant_flow
from nethelpers.report import ReportDir
from nethelpers.tables import scan_inventory, scan_totals, table1

PATIENTS = """\
patient_id,group,age,sex,weight_kg,height_cm,final_diagnosis,disease_present,reference_standard,grade,ki67,primary_site,fgf23_ru_ml,phosphate_mmol_l,site_note
P001,suspected_net,50,M,80,180,NET,true,histopathology,G1,2,pancreas,,,extra column
P002,suspected_net,60,F,60,160,none,false,follow-up,,,,,,
P003,suspected_net,70,F,70,170,NET,true,histopathology,G2,10,ileum,,,
P004,staging_net,40,M,90,175,NET,true,histopathology,G3,30,pancreas,,,
P005,suspected_tio,45,F,55,165,TIO,true,histopathology,,,,200,0.5,
P006,suspected_tio,35,M,75,180,none,false,follow-up,,,,100,0.7,
"""

SCANS = """\
scan_id,patient_id,tracer,modality,scan_date,study_uid,pet_series_uid,anat_series_uid,pet_dir,anat_dir,manufacturer,model
P001-DOTATATE-PETCT,P001,DOTATATE,PET/CT,2024-01-10,1.2.3.1,1.2.3.1.1,1.2.3.1.2,dicom/a,dicom/b,SIEMENS,Vision
P001-FDG-PETCT,P001,FDG,PET/CT,2024-01-11,,,,,,,
P002-DOTATATE-PETMR,P002,DOTATATE,PET/MR,2024-02-01,,,,,,,
P003-DOTATATE-PETCT,P003,DOTATATE,PET/CT,2024-02-03,,,,,,,
P004-DOTATATE-PETCT,P004,DOTATATE,PET/CT,2024-03-01,,,,,,,
P004-FDG-PETCT,P004,FDG,PET/CT,2024-03-02,,,,,,,
P005-HYNIC-SPECTCT,P005,HYNIC-TOC,SPECT/CT,2024-04-01,,,,,,,
P005-DOTATATE-PETCT,P005,DOTATATE,PET/CT,2024-04-02,,,,,,,
P006-DOTATATE-PETCT,P006,DOTATATE,PET/CT,2024-05-01,,,,,,,
"""

LESIONS = """\
patient_id,lesion_id,site,diameter_mm,truth,malignant,reference_standard,true_suv_dotatate,true_suv_fdg,description
P001,P001-L01,pancreas,20,malignant,true,histopathology,25,2.1,primary
P002,P002-L01,pancreas,8,physiological,false,follow-up,12,1.5,uncinate process
P003,P003-L01,liver,15,malignant,true,histopathology,30,3,metastasis
P004,P004-L01,liver,25,malignant,true,histopathology,6,11,metastasis
P005,P005-L01,femur,9,malignant,true,histopathology,18,2,phosphaturic tumour
"""

READS = """\
scan_id,lesion_id,reader,call,krenning,confidence,cause
P001-DOTATATE-PETCT,P001-L01,R1,positive,3,5,
P001-DOTATATE-PETCT,P001-L01,R2,positive,4,4,
P001-FDG-PETCT,P001-L01,R1,negative,,4,well-differentiated NET
P002-DOTATATE-PETMR,P002-L01,R1,equivocal,2,2,uncinate process uptake
P004-FDG-PETCT,P004-L01,R1,positive,,5,
P005-DOTATATE-PETCT,P005-L01,R1,positive,3,5,
"""

TABLES = {
    "patients": ("clinical/patients.csv", PATIENTS),
    "scans": ("clinical/scans.csv", SCANS),
    "lesions": ("truth/lesions.csv", LESIONS),
    "reads": ("reads/reads.csv", READS),
}


def write_study(root: Path, **replace: str) -> Path:
    """Write the four hand-made tables under ``root`` (``replace`` swaps a table's text)."""
    for name, (relative, text) in TABLES.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(replace.get(name, text))
    return root


def write_params(path: Path, data_root: Path, output: Path, **extra: object) -> Path:
    """Write a parameters YAML pointing at ``data_root``."""
    data = {"study": {"name": "handmade", "data_root": str(data_root)}}
    # no PDF/.docx: the exports have their own tests (a PDF costs seconds per report)
    data["report"] = ({"output": str(output), "timeout": 120, "exports": []}
                      | extra.pop("report", {}))
    data |= extra
    path.write_text(yaml.safe_dump(data))
    return path


def edit(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


@pytest.fixture
def study(tmp_path):
    return write_study(tmp_path / "study")


@pytest.fixture
def cohort(tmp_path, study):
    params = load_params(write_params(tmp_path / "p.yaml", study, tmp_path / "out"))
    return load_cohort(params)


def cohort_from(tmp_path: Path, strict: bool = False, **replace: str) -> Cohort:
    root = write_study(tmp_path / "variant", **replace)
    params = load_params(write_params(tmp_path / "variant.yaml", root, tmp_path / "o"))
    return load_cohort(params, strict=strict)


# --------------------------------------------------------------------------------------------
# loading and types
# --------------------------------------------------------------------------------------------


def test_load_clean_tables_and_types(cohort):
    p = cohort.patients
    assert list(p["patient_id"]) == ["P001", "P002", "P003", "P004", "P005", "P006"]
    assert isinstance(p["group"].dtype, pd.CategoricalDtype)
    assert p["group"].cat.ordered
    assert list(p["group"].cat.categories[:2]) == ["suspected_net", "staging_net"]
    assert str(p["age"].dtype) == "Int64"
    assert str(p["disease_present"].dtype) == "boolean"
    assert list(p["disease_present"]) == [True, False, True, True, True, False]
    assert p["weight_kg"].tolist() == [80.0, 60.0, 70.0, 90.0, 55.0, 75.0]
    assert p["ki67"].isna().sum() == 3
    assert p.loc[p.patient_id == "P001", "site_note"].item() == "extra column"
    s = cohort.scans
    assert s["scan_date"].dtype.kind == "M"
    assert s["scan_date"].iloc[0] == pd.Timestamp("2024-01-10")
    assert list(s["tracer"].cat.categories) == ["DOTATATE", "FDG", "HYNIC-TOC", "DOTATOC",
                                                "DOTANOC"]
    r = cohort.reads
    assert str(r["krenning"].dtype) == "Int64"
    assert r["krenning"].isna().sum() == 2
    assert str(cohort.lesions["malignant"].dtype) == "boolean"
    assert cohort.exclusions.empty
    assert list(cohort.exclusions.columns) == ["what", "id", "reason", "action", "source"]
    assert cohort.summary() == {
        "patients analysed": 6,
        "patients excluded": 0,
        "scans": 9,
        "lesions": 5,
        "reads": 6,
        "problems recorded": 0,
    }


def test_index_is_csv_line_number(study):
    patients = load_patients(study / "clinical/patients.csv")
    assert patients.index.name == "line"
    assert list(patients.index) == [2, 3, 4, 5, 6, 7]


def test_codes_are_matched_case_insensitively(tmp_path):
    text = edit(SCANS, "P001,FDG,PET/CT", "P001,fdg,pet/ct")
    path = tmp_path / "scans.csv"
    path.write_text(text)
    scans = load_scans(path)
    assert scans.loc[3, "tracer"] == "FDG"
    assert scans.loc[3, "modality"] == "PET/CT"


def test_optional_columns_may_be_absent(tmp_path):
    path = tmp_path / "reads.csv"
    path.write_text("scan_id,lesion_id,reader,call\nS1,L1,R1,positive\n")
    reads = load_reads(path)
    assert {"krenning", "confidence", "cause"} <= set(reads.columns)
    assert reads["krenning"].isna().all()


def test_reads_joined(cohort):
    joined = reads_joined(cohort)
    assert len(joined) == 6
    row = joined[(joined.scan_id == "P004-FDG-PETCT")].iloc[0]
    assert row["patient_id"] == "P004"
    assert row["group"] == "staging_net"
    assert row["tracer"] == "FDG"
    assert row["truth"] == "malignant"
    assert row["site"] == "liver"


# --------------------------------------------------------------------------------------------
# validation messages (strict): file, column, rows, fix
# --------------------------------------------------------------------------------------------


def strict_error(tmp_path: Path, table: str, text: str, loader) -> str:
    path = tmp_path / f"{table}.csv"
    path.write_text(text)
    with pytest.raises(CohortError) as info:
        loader(path)
    message = str(info.value)
    assert str(path) in message
    assert "Fix:" in message
    return message


def test_missing_required_column(tmp_path):
    text = SCANS.replace(",tracer,", ",agent,", 1)
    message = strict_error(tmp_path, "scans", text, load_scans)
    assert "lacks required column(s) tracer" in message
    assert "agent" in message  # the columns found are listed


@pytest.mark.parametrize("lenient", [False, True])
def test_missing_column_fails_in_both_modes(tmp_path, lenient):
    text = LESIONS.replace("lesion_id,", "lesion,", 1)
    with pytest.raises(CohortError, match="lacks required column.*lesion_id"):
        cohort_from(tmp_path, strict=not lenient, lesions=text)


def test_duplicate_ids(tmp_path):
    text = PATIENTS + "P003,staging_net,71,F,70,170,NET,true,histopathology,G2,10,,,,\n"
    message = strict_error(tmp_path, "patients", text, load_patients)
    assert "column patient_id: duplicate ID in 2 row(s)" in message
    assert "line 4 (P003" in message
    assert "line 8 (P003" in message


def test_duplicate_read_key(tmp_path):
    text = READS + "P001-DOTATATE-PETCT,P001-L01,R1,negative,1,3,\n"
    message = strict_error(tmp_path, "reads", text, load_reads)
    assert "scan_id + lesion_id + reader: duplicate ID" in message
    assert "line 2 (P001-DOTATATE-PETCT/P001-L01/R1" in message


@pytest.mark.parametrize(
    ("table", "old", "new", "column", "expected"),
    [
        ("patients", "P002,suspected_net", "P002,suspected", "group",
         "1 code(s) not in the study's vocabulary: 'suspected'"),
        ("patients", "60,F,60", "60,X,60", "sex", "unknown code"),
        (
            "patients",
            "P002,suspected_net,60,F,60",
            "P002,suspected_net,60,F,sixty",
            "weight_kg",
            "not numeric",
        ),
        ("patients", "60,F,60,160", "60,F,0,160", "weight_kg", "implausible value"),
        ("patients", "60,F,60,160", "60,F,401,160", "weight_kg", "implausible value"),
        ("patients", "60,F,60,160", "60,F,60,45", "height_cm", "implausible value"),
        ("patients", "60,F,60,160", "60,F,60,251", "height_cm", "implausible value"),
        ("patients", "P002,suspected_net,60", "P002,suspected_net,121", "age", "implausible value"),
        ("patients", "P002,suspected_net,60", "P002,suspected_net,60.5", "age", "not an integer"),
        (
            "patients",
            "none,false,follow-up",
            "none,maybe,follow-up",
            "disease_present",
            "not a boolean",
        ),
        (
            "patients",
            "none,false,follow-up",
            "none,false,biopsy",
            "reference_standard",
            "unknown code",
        ),
    ],
)
def test_bad_patient_values(tmp_path, table, old, new, column, expected):
    message = strict_error(tmp_path, table, edit(PATIENTS, old, new), load_patients)
    assert f"column {column}: {expected} in 1 row(s): line 3 (P002:" in message
    assert "Allowed:" in message


def test_implausible_message_states_range(tmp_path):
    message = strict_error(
        tmp_path, "patients", edit(PATIENTS, "60,F,60,160", "60,F,0,160"), load_patients
    )
    assert "line 3 (P002: '0')" in message
    assert "0 < weight_kg ≤ 400 kg" in message


@pytest.mark.parametrize(
    ("old", "new", "column", "expected"),
    [
        ("P001,FDG,PET/CT", "P001,FDG-X,PET/CT", "tracer",
         "1 code(s) not in the study's vocabulary: 'FDG-X'"),
        ("P001,FDG,PET/CT", "P001,FDG,PET", "modality",
         "1 code(s) not in the study's vocabulary: 'PET'"),
        ("PET/CT,2024-01-11", "PET/CT,11/01/2024", "scan_date", "not a date"),
    ],
)
def test_bad_scan_values(tmp_path, old, new, column, expected):
    message = strict_error(tmp_path, "scans", edit(SCANS, old, new), load_scans)
    assert f"column {column}: {expected} in 1 row(s): line 3 (P001-FDG-PETCT:" in message


def test_bad_read_values(tmp_path):
    text = edit(READS, "R2,positive,4,4", "R2,positive,5,4")
    message = strict_error(tmp_path, "reads", text, load_reads)
    assert "column krenning: implausible value" in message
    assert "line 3 (P001-DOTATATE-PETCT/P001-L01/R2: '5')" in message
    assert "leave the cell empty" in message  # optional column: the fix says so


def test_many_offending_rows_are_abbreviated(tmp_path):
    rows = "".join(f"X{i:02d},bogus,50,M,80,180,NET,true,histopathology\n" for i in range(8))
    text = (
        "patient_id,group,age,sex,weight_kg,height_cm,final_diagnosis,disease_present,"
        "reference_standard\n" + rows
    )
    message = strict_error(tmp_path, "patients", text, load_patients)
    assert "in 8 row(s)" in message
    assert "line 2 (X00: 'bogus')" in message
    assert "and 3 more" in message


@pytest.mark.parametrize(
    ("table", "old", "new", "expected"),
    [
        (
            "scans",
            "P006-DOTATATE-PETCT,P006",
            "P006-DOTATATE-PETCT,P099",
            "scans.csv: column patient_id: 1 row(s) point at a patient missing from the patients "
            "table: line 10 (P006-DOTATATE-PETCT: 'P099')",
        ),
        (
            "lesions",
            "P005,P005-L01",
            "P077,P005-L01",
            "lesions.csv: column patient_id: 1 row(s) point at a patient missing",
        ),
        (
            "reads",
            "P005-DOTATATE-PETCT,P005-L01",
            "P005-FDG-PETCT,P005-L01",
            "reads.csv: column scan_id: 1 row(s) point at a scan missing from the scans table: "
            "line 7",
        ),
        (
            "reads",
            "P004-FDG-PETCT,P004-L01",
            "P004-FDG-PETCT,P004-L09",
            "reads.csv: column lesion_id: 1 row(s) point at a lesion missing",
        ),
        (
            "reads",
            "P004-FDG-PETCT,P004-L01",
            "P004-FDG-PETCT,P003-L01",
            "reads.csv: columns scan_id, lesion_id: 1 read(s) pair a scan and a lesion of "
            "different patients: line 6 (P004-FDG-PETCT of P004 / P003-L01 of P003)",
        ),
    ],
)
def test_references_to_unknown_rows(tmp_path, table, old, new, expected):
    text = edit(TABLES[table][1], old, new)
    with pytest.raises(CohortError) as info:
        cohort_from(tmp_path, strict=True, **{table: text})
    assert expected in str(info.value)
    assert "Fix:" in str(info.value)
    # lenient mode drops exactly that row, records it (and what depends on it)
    lenient = cohort_from(tmp_path, strict=False, **{table: text})
    first = lenient.exclusions.iloc[0]
    assert first["what"] == table.removesuffix("s")
    assert first["action"] == "excluded"
    assert first["source"].startswith(f"{table}.csv line ")
    assert len(getattr(lenient, table)) == len(pd.read_csv(io.StringIO(text))) - 1


def test_missing_file_names_parameter(tmp_path):
    with pytest.raises(CohortError, match=r"scans table not found.*study\.tables\.scans"):
        load_scans(tmp_path / "nope.csv")


# --------------------------------------------------------------------------------------------
# lenient mode: exclusions
# --------------------------------------------------------------------------------------------


def test_lenient_mode_lists_exclusions_and_cascades(tmp_path):
    patients = edit(PATIENTS, "P001,suspected_net,50,M,80", "P001,suspected_net,50,M,0")
    patients = edit(patients, "G2,10,ileum", "G2,ten,ileum")
    patients += "P004,staging_net,41,M,90,175,NET,true,histopathology,G3,30,pancreas,,,\n"
    scans = SCANS + "P009-FDG-PETCT,P009,FDG,PET/CT,2024-06-01,,,,,,,\n"
    c = cohort_from(tmp_path, patients=patients, scans=scans)
    ex = c.exclusions
    by_id = {(r.what, r.id): r for r in ex.itertuples()}
    # the duplicated ID excludes both rows of patient P004 ...
    p4 = ex[(ex["what"] == "patient") & (ex["id"] == "P004")]
    assert list(p4["action"]) == ["excluded", "excluded"]
    assert list(p4["source"]) == ["patients.csv line 5", "patients.csv line 8"]
    assert "duplicate patient_id" in p4["reason"].iloc[0]
    # ... and everything hanging from it
    # ... and everything hanging from it
    assert by_id[("scan", "P004-DOTATATE-PETCT")].reason == "patient P004 was excluded"
    assert ("scan", "P004-FDG-PETCT") in by_id
    assert ("lesion", "P004-L01") in by_id
    assert (
        by_id[("read", "P004-FDG-PETCT/P004-L01/R1")].reason == "scan P004-FDG-PETCT was excluded"
    )
    # a bad optional value is set to missing, the patient stays (weight is optional: the
    # SUV takes the weight from the DICOM header)
    p1 = by_id[("patient value", "P001")]
    assert p1.action == "set to missing"
    assert "weight_kg '0': implausible value" in p1.reason
    assert "P001" in set(c.patients["patient_id"])
    p3 = by_id[("patient value", "P003")]
    assert p3.action == "set to missing"
    assert "ki67 'ten': not numeric" in p3.reason
    assert pd.isna(c.patients.set_index("patient_id").loc["P003", "ki67"])
    # a scan of an unknown patient
    assert "not in the patients table" in by_id[("scan", "P009-FDG-PETCT")].reason
    assert len(ex) == 9
    assert c.excluded_patients == ["P004"]
    assert "P004" not in set(c.patients["patient_id"])
    assert len(c.scans) == 7 and len(c.lesions) == 4 and len(c.reads) == 5


def test_strict_mode_raises_at_first_problem(tmp_path):
    patients = edit(PATIENTS, "P004,staging_net,40,M,90", "P004,staging_net,40,M,0")
    patients = edit(patients, "P001,suspected_net", "P001,unknown_group")
    with pytest.raises(CohortError) as info:
        cohort_from(tmp_path, strict=True, patients=patients)
    message = str(info.value)
    # the first check that fails
    assert "column group: 1 code(s) not in the study's vocabulary" in message
    assert "weight_kg" not in message


def test_loader_lenient_collects_into_list(tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text(edit(PATIENTS, "60,F,60,160", "60,F,60,45"))
    records: list[dict[str, str]] = []
    patients = load_patients(path, strict=False, exclusions=records)
    assert len(patients) == 6
    assert pd.isna(patients.set_index("patient_id").loc["P002", "height_cm"])
    assert records == [
        {
            "what": "patient value",
            "id": "P002",
            "reason": "height_cm '45': implausible value; allowed: a number with "
            "50 ≤ height_cm ≤ 250 cm",
            "action": "set to missing",
            "source": "patients.csv line 3",
        }
    ]


# --------------------------------------------------------------------------------------------
# Table 1 against hand computation
# --------------------------------------------------------------------------------------------


def value(numeric: pd.DataFrame, variable: str, group: str, stat: str, level: str = ""):
    row = numeric[
        (numeric.variable == variable) & (numeric.group == group) & (numeric.level == level)
    ]
    assert len(row) == 1, (variable, group, level)
    return row.iloc[0][stat]


def test_table1_numbers(cohort):
    t = table1(cohort.patients).numeric
    # counts per group equal the input
    assert value(t, "patients", "suspected_net", "n") == 3
    assert value(t, "patients", "staging_net", "n") == 1
    assert value(t, "patients", "suspected_tio", "n") == 2
    assert value(t, "patients", "Overall", "n") == 6
    assert set(t.group) == {"suspected_net", "staging_net", "suspected_tio", "Overall"}
    # age: suspected NET 50, 60, 70
    assert value(t, "age", "suspected_net", "mean") == pytest.approx(60.0)
    assert value(t, "age", "suspected_net", "sd") == pytest.approx(10.0)
    assert value(t, "age", "suspected_net", "median") == pytest.approx(60.0)
    assert value(t, "age", "suspected_net", "q1") == pytest.approx(55.0)
    assert value(t, "age", "suspected_net", "q3") == pytest.approx(65.0)
    # overall age: 50 60 70 40 45 35 -> mean 50, SS = 850, SD = sqrt(850 / 5)
    assert value(t, "age", "Overall", "mean") == pytest.approx(50.0)
    assert value(t, "age", "Overall", "sd") == pytest.approx(math.sqrt(170.0))
    assert value(t, "age", "Overall", "median") == pytest.approx(47.5)
    # sex: 2 of 3 female in suspected NET; 3 of 6 overall
    assert value(t, "sex", "suspected_net", "n", "F") == 2
    assert value(t, "sex", "suspected_net", "percent", "F") == pytest.approx(200 / 3)
    assert value(t, "sex", "Overall", "percent", "M") == pytest.approx(50.0)
    # weight, height, BMI
    assert value(t, "weight_kg", "suspected_net", "mean") == pytest.approx(70.0)
    assert value(t, "weight_kg", "suspected_net", "sd") == pytest.approx(10.0)
    assert value(t, "height_cm", "suspected_tio", "mean") == pytest.approx(172.5)
    bmis = [80 / 1.8**2, 60 / 1.6**2, 70 / 1.7**2]
    assert value(t, "bmi", "suspected_net", "mean") == pytest.approx(np.mean(bmis))
    assert value(t, "bmi", "suspected_net", "sd") == pytest.approx(np.std(bmis, ddof=1))
    # diagnosis and reference standard
    assert value(t, "final_diagnosis", "Overall", "n", "NET") == 3
    assert value(t, "final_diagnosis", "Overall", "n", "none") == 2
    assert value(t, "final_diagnosis", "suspected_tio", "percent", "TIO") == pytest.approx(50)
    assert value(t, "reference_standard", "Overall", "n", "follow-up") == 2
    assert value(t, "reference_standard", "Overall", "percent", "histopathology") == (
        pytest.approx(400 / 6)
    )
    # NET grade among NET patients only: suspected NET has P001 G1 and P003 G2
    assert value(t, "grade", "suspected_net", "denominator", "G1") == 2
    assert value(t, "grade", "suspected_net", "percent", "G1") == pytest.approx(50.0)
    assert value(t, "grade", "Overall", "percent", "G3") == pytest.approx(100 / 3)
    # Ki-67 among NET: 2, 10, 30 -> median 10, IQR 6-20
    assert value(t, "ki67", "Overall", "median") == pytest.approx(10.0)
    assert value(t, "ki67", "Overall", "q1") == pytest.approx(6.0)
    assert value(t, "ki67", "Overall", "q3") == pytest.approx(20.0)
    # FGF23 and phosphate in TIO groups only: 200, 100 / 0.5, 0.7
    assert value(t, "fgf23_ru_ml", "suspected_tio", "median") == pytest.approx(150.0)
    assert value(t, "fgf23_ru_ml", "suspected_tio", "q1") == pytest.approx(125.0)
    assert value(t, "phosphate_mmol_l", "suspected_tio", "mean") == pytest.approx(0.6)
    assert value(t, "phosphate_mmol_l", "suspected_tio", "sd") == pytest.approx(math.sqrt(0.02))
    assert not ((t.variable == "fgf23_ru_ml") & (t.group == "suspected_net")).any()


def test_table1_formatted(cohort):
    f = table1(cohort.patients).formatted.set_index("Characteristic")
    columns = list(f.columns)
    assert columns == [
        "Suspected NET (diagnosis) (n = 3)",
        "Confirmed NET (staging) (n = 1)",
        "Suspected TIO (localisation) (n = 2)",
        "Overall (n = 6)",
    ]
    assert f.loc["Age, years, mean ± SD", columns[0]] == "60.0 ± 10.0"
    assert f.loc["Age, years, median [IQR]", columns[0]] == "60.0 [55.0–65.0]"
    assert f.loc["Age, years, mean ± SD", columns[1]] == "40.0 ± –"  # one patient: no SD
    assert f.loc["  Female", columns[0]] == "2 (67%)"
    assert f.loc["  Female", columns[3]] == "3 (50%)"
    assert f.loc["  G1", columns[3]] == "1 (33%)"
    assert f.loc["  G1", columns[2]] == "–"  # no NET patient in suspected TIO
    assert f.loc["FGF23, RU/ml, median [IQR] (TIO groups only)", columns[0]] == "–"
    assert f.loc["FGF23, RU/ml, median [IQR] (TIO groups only)", columns[2]] == ("150 [125–175]")
    assert f.loc["Phosphate, mmol/l, mean ± SD (TIO groups only)", columns[3]] == "0.60 ± 0.14"


def test_table1_reports_missing_values(cohort):
    patients = cohort.patients.copy()
    patients.loc[patients.patient_id == "P002", "weight_kg"] = np.nan
    t = table1(patients)
    assert value(t.numeric, "weight_kg", "suspected_net", "n") == 2
    assert value(t.numeric, "weight_kg", "suspected_net", "n_missing") == 1
    assert value(t.numeric, "weight_kg", "suspected_net", "mean") == pytest.approx(75.0)
    cell = t.formatted.set_index("Characteristic").iloc[:, 0]["Weight, kg, mean ± SD"]
    assert cell == "75.0 ± 7.1 (1 missing)"


# --------------------------------------------------------------------------------------------
# scan inventory
# --------------------------------------------------------------------------------------------


def test_scan_inventory(cohort):
    inv = scan_inventory(cohort).set_index("patient_id")
    assert list(inv.columns) == [
        "group",
        "DOTATATE PET/CT",
        "DOTATATE PET/MR",
        "FDG PET/CT",
        "HYNIC-TOC SPECT/CT",
        "total",
    ]
    assert inv.loc["P001", "DOTATATE PET/CT"] == 1
    assert inv.loc["P001", "FDG PET/CT"] == 1
    assert inv.loc["P001", "total"] == 2
    assert inv.loc["P002", "DOTATATE PET/MR"] == 1
    assert inv.loc["P005", "HYNIC-TOC SPECT/CT"] == 1
    assert inv["total"].sum() == 9


def test_scan_totals(cohort):
    totals = scan_totals(cohort).set_index("group")
    assert list(totals.index) == ["suspected_net", "staging_net", "suspected_tio", "Overall"]
    assert totals.loc["suspected_net", "patients"] == 3
    assert totals.loc["suspected_net", "DOTATATE PET/CT"] == 2
    assert totals.loc["suspected_net", "total"] == 4
    assert totals.loc["staging_net", "FDG PET/CT"] == 1
    assert totals.loc["Overall", "patients"] == 6
    assert totals.loc["Overall", "DOTATATE PET/CT"] == 5
    assert totals.loc["Overall", "total"] == 9


# --------------------------------------------------------------------------------------------
# participant flow figure
# --------------------------------------------------------------------------------------------


def text_boxes(fig):
    """Window extents of every text (its box if it has one) after drawing."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    out = []
    for text in fig.texts:
        patch = text.get_bbox_patch()
        extent = (patch or text).get_window_extent(renderer)
        out.append((text.get_text(), extent))
    return out


def assert_no_overlap(fig):
    boxes = text_boxes(fig)
    width, height = fig.get_size_inches() * fig.dpi
    for label, box in boxes:
        assert box.x0 >= 0 and box.y0 >= 0, label
        assert box.x1 <= width + 0.5 and box.y1 <= height + 0.5, label
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        assert not box_a.overlaps(box_b), (a, b)


def test_participant_flow_counts_and_layout(cohort):
    fig = participant_flow(cohort)
    texts = [t.get_text() for t in fig.texts]
    assert "Patients enrolled\nn = 6" in texts
    assert "Suspected NET\n(diagnosis)\nn = 3" in texts
    assert "Scans: 4\nDOTATATE PET/CT: 2\nDOTATATE PET/MR: 1\nFDG PET/CT: 1" in texts
    assert "Reference standard\nHistopathology: 2\nFollow-up: 1" in texts
    assert "Final diagnosis\nDisease present: 2\nDisease absent: 1" in texts
    assert "Scans: 3\nDOTATATE PET/CT: 2\nHYNIC-TOC SPECT/CT: 1" in texts
    assert_no_overlap(fig)
    # readable at 100 %: the smallest font is 8 pt
    assert min(t.get_fontsize() for t in fig.texts) >= 8


def test_participant_flow_with_exclusions_and_all_groups(tmp_path):
    groups = [
        "suspected_net",
        "staging_net",
        "history_net",
        "prrt_net",
        "suspected_tio",
        "tio_post_surgery",
    ]
    header = PATIENTS.splitlines()[0]
    rows = [
        f"Q{i:02d},{groups[i % 6]},{30 + i},F,70,170,none,false,follow-up,,,,,," for i in range(18)
    ]
    rows.append(",prrt_net,50,F,-3,170,none,false,follow-up,,,,,,")  # no patient_id: excluded
    c = cohort_from(
        tmp_path,
        patients="\n".join([header, *rows]) + "\n",
        scans=SCANS.splitlines()[0] + "\n",
        lesions=LESIONS.splitlines()[0] + "\n",
        reads=READS.splitlines()[0] + "\n",
    )
    fig = participant_flow(c)
    texts = [t.get_text() for t in fig.texts]
    assert "Patients enrolled\nn = 19" in texts
    assert "Excluded: data problems\nn = 1\n(see exclusions table)" in texts
    assert "Scans: 0\nnone: 0" in texts
    assert_no_overlap(fig)


def test_report_dir_saves_png_and_svg(tmp_path, cohort):
    fig = participant_flow(cohort)
    paths = ReportDir(tmp_path).figure(fig, "flow")
    assert paths["png"] == tmp_path / "figures" / "flow.png"
    image = matplotlib.image.imread(paths["png"])
    width_in, height_in = fig.get_size_inches()
    # bbox "tight" trims to the drawing: the PNG is about the figure size at 200 dpi
    assert image.shape[1] == pytest.approx(width_in * 200, rel=0.05)
    assert image.shape[0] == pytest.approx(height_in * 200, rel=0.08)
    svg = paths["svg"].read_text()
    assert "Patients enrolled" in svg  # text stays text (editable)
    assert "<dc:date>" not in svg  # no timestamp: reproducible files
