"""tables.docx: opens with python-docx and holds the CSV tables' numbers (re-derived here)."""

from __future__ import annotations

import math

import docx
import pandas as pd
import pytest

from nethelpers.exportdocx import PAPER_TABLES, export_docx

MINUS, DASH = "\u2212", "\u2013"


def two(x: float) -> str:
    """Two decimals with a true minus sign (the convention of proportions and κ)."""
    return f"{x:.2f}".replace("-", MINUS)


def interval(est: float, low: float, high: float) -> str:
    joiner = " to " if low < 0 or high < 0 else DASH
    return f"{two(est)} ({two(low)}{joiner}{two(high)})"


def p_text(p: float) -> str:
    """AMA style: < 0.001, 3 decimals below 0.1, else 2."""
    return "< 0.001" if p < 0.001 else f"{p:.3f}" if p < 0.1 else f"{p:.2f}"


def _tables(document) -> dict[str, list[list[str]]]:
    """Caption name -> rows of cell texts (the caption paragraph precedes each table)."""
    body = document.element.body
    out, caption = {}, None
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            text = "".join(t.text or "" for t in child.iter() if t.tag.endswith("}t"))
            if text.startswith("Table "):
                caption = text
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            out[caption] = [[c.text for c in row.cells] for row in table.rows]
    return out


def _by_caption(tables: dict, name: str) -> list[list[str]]:
    spec = next(s for s in PAPER_TABLES if s.name == name)
    hits = [rows for caption, rows in tables.items() if caption.endswith(spec.caption)]
    assert len(hits) == 1, f"{name}: {list(tables)}"
    return hits[0]


def test_a_small_report_numbers_captions_footnotes_and_missing_tables(tmp_path):
    (tmp_path / "tables").mkdir()
    acc = pd.DataFrame({
        "tracer": ["DOTATATE", "DOTATATE"], "modality": ["PET/CT"] * 2,
        "measure": ["sensitivity", "specificity"], "estimate": [43 / 43, 14 / 17],
        "lower": [0.9179901967742088, 0.5897054143116588], "upper": [1.0, 0.9380887336237901],
        "method": ["wilson", "wilson"], "numerator": [43, 14], "denominator": [43, 17],
        "note": ["", "two false positives were equivocal"]})
    acc.to_csv(tmp_path / "tables/accuracy_patient_level.csv", index=False)
    pd.DataFrame({"unit": ["lesions"], "a": ["DOTATATE PET/CT"], "b": ["FDG PET/CT"],
                  "method": ["obuchowski"], "statistic": [3.7217704210147535],
                  "p": [2.523673e-28], "dotatate_only": [70], "fdg_only": [31]}).to_csv(
        tmp_path / "tables/mcnemar_dotatate_vs_fdg.csv", index=False)
    path = export_docx(tmp_path, "demo: tables", "First paragraph.\n\nSecond paragraph.")
    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    assert texts[0] == "demo: tables"
    assert "First paragraph." in texts and "Second paragraph." in texts
    tables = _tables(document)
    assert list(tables) == [f"Table 1. {PAPER_TABLES[1].caption}",
                            f"Table 2. {PAPER_TABLES[4].caption}"]
    rows = _by_caption(tables, "accuracy_patient_level")
    assert rows[0] == ["Scan type", "Sensitivity", "Specificity"]   # one row per scan type
    assert rows[1] == ["DOTATATE PET/CT", "1.00 (0.92–1.00) 43/43", "0.82 (0.59–0.94) 14/17ᵃ"]
    assert any("two false positives were equivocal" in t for t in texts)  # row note
    mcnemar = _by_caption(tables, "mcnemar_dotatate_vs_fdg")
    header = mcnemar[0]
    assert mcnemar[1][header.index("p")] == "< 0.001"
    assert all("e-" not in cell and "nan" not in cell.lower() for r in mcnemar for cell in r)
    missing = texts[texts.index("Not produced in this run") + 1]
    assert "table1 (tables/table1.csv)" in missing and "agreement_petmr_petct" in missing


@pytest.mark.slow
def test_the_demo_report_docx_holds_the_csv_numbers(demo_report):
    out = demo_report["out"]
    document = docx.Document(str(out / "tables.docx"))
    tables = _tables(document)
    assert tables, "tables.docx has no table"
    csv = {s.name: pd.read_csv(out / "tables" / f"{s.name}.csv") for s in PAPER_TABLES
           if (out / "tables" / f"{s.name}.csv").is_file()}
    for name in ("table1", "accuracy_patient_level", "accuracy_lesion_level"):
        assert name in csv, f"the demo report wrote no {name}.csv"

    # Table 1: the CSV's cells are already text; every one is in the docx, row by row
    rows = _by_caption(tables, "table1")
    frame = csv["table1"].fillna("")
    assert len(rows) == len(frame) + 1
    for docx_row, (_, row) in zip(rows[1:], frame.iterrows(), strict=True):
        assert docx_row[0].strip() == str(row.iloc[0]).strip()
        for cell, value in zip(docx_row[1:], row.iloc[1:], strict=True):
            assert cell == (str(value) if value != "" else DASH), (docx_row[0], cell, value)

    # accuracy: one row per scan type; each measure "est (CI) num/den" (lesions: clustered CI)
    for name in ("accuracy_patient_level", "accuracy_lesion_level"):
        rows = _by_caption(tables, name)
        header, body = rows[0], rows[1:]
        frame = csv[name]
        scan_types = list(dict.fromkeys(frame["tracer"] + " " + frame["modality"]))
        assert [cells[0] for cells in body] == scan_types
        for _, row in frame.iterrows():
            cells = body[scan_types.index(f"{row['tracer']} {row['modality']}")]
            assert cells[1:5] == [str(int(row[c])) for c in ("tp", "fp", "fn", "tn")]
            if row["measure"] not in ("sensitivity", "specificity", "ppv", "npv", "accuracy") \
                    or math.isnan(row["estimate"]):
                continue
            clustered = name == "accuracy_lesion_level" and not math.isnan(row["cluster_lower"])
            low, high = (row["cluster_lower"], row["cluster_upper"]) if clustered else \
                (row["lower"], row["upper"])
            label = {"ppv": "PPV", "npv": "NPV"}.get(row["measure"], row["measure"].capitalize())
            expected = (f"{interval(row['estimate'], low, high)} "
                        f"{int(row['numerator'])}/{int(row['denominator'])}")
            assert cells[header.index(label)].rstrip("ᵃᵇᶜᵈᵉᶠ") == expected, (name, cells)

    # comparisons: the p values of the McNemar tests
    if "mcnemar_dotatate_vs_fdg" in csv:
        rows = _by_caption(tables, "mcnemar_dotatate_vs_fdg")
        column = rows[0].index("p")
        for cells, p in zip(rows[1:], csv["mcnemar_dotatate_vs_fdg"]["p"], strict=True):
            assert cells[column] == (p_text(p) if not math.isnan(p) else DASH)
    for rows in tables.values():
        assert not any("nan" == c.lower() or "e-" in c for r in rows for c in r)
