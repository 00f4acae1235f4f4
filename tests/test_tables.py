"""Table 1 as displayed: no cell a reader (or a NaN check) could take for a missing value."""

from __future__ import annotations

import pandas as pd

from nethelpers.pubformat import pub_table
from nethelpers.tables import table1


def test_table1_spells_no_disease_and_displays_without_missing_words():
    patients = pd.DataFrame({"patient_id": ["P1", "P2", "P3"],
                             "group": ["suspected_net", "suspected_net", "suspected_tio"],
                             "final_diagnosis": ["none", "NET", "TIO"], "age": [50, 60, 70]})
    for column in ("sex", "weight_kg", "height_cm", "grade", "ki67", "fgf23_ru_ml",
                   "phosphate_mmol_l", "reference_standard"):       # loaded but not recorded
        patients[column] = pd.NA
    shown = pub_table(table1(patients).formatted)
    labels = shown.frame.iloc[:, 0].str.strip().tolist()
    assert "No disease" in labels and "None" not in labels
    row = shown.frame[shown.frame.iloc[:, 0].str.strip() == "No disease"].iloc[0]
    assert row.iloc[-1] == "1 (33%)"                       # overall column: 1 of 3
    assert not shown.frame.isin(["nan", "NaN", "None"]).any().any()
