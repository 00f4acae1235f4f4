"""The waterfall plot: what it draws (bars, order, heights, colours, thresholds, labels)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex

from nethelpers.plots import waterfall_plot
from nethelpers.plots.style import OKABE_ITO
from nethelpers.plots.waterfall import CATEGORY_COLOURS


def responses() -> pd.DataFrame:
    """Seven FDG PET/CT patients: five drawable (a tie of P03/P01), two not."""
    rows = [("P01", "SMD", 0.10, 4.0, 4.4, ""), ("P02", "PMR", -0.45, 6.0, 3.3, ""),
            ("P03", "SMD", 0.10, 5.0, 5.5, ""), ("P04", "PMD", 0.80, 2.5, 4.5, ""),
            ("P05", "CMR", -0.70, 3.0, 0.9, ""),
            ("P06", None, np.nan, np.nan, np.nan, "no measurable lesion at baseline"),
            ("P07", "PMD", np.nan, np.nan, 3.1, "")]
    out = pd.DataFrame(rows, columns=["patient_id", "category", "change_rel", "baseline_value",
                                      "followup_value", "reason"])
    return out.assign(tracer="FDG", modality="PET/CT", rule_set="percist",
                      statistic="sul_peak", days_between=[91, 120, 150, 180, 200, 210, 270])


def bars(fig):
    ax = fig.axes[0]
    return sorted(ax.patches, key=lambda p: p.get_x())


def test_bars_sorted_from_largest_rise_to_largest_fall_with_heights():
    fig = waterfall_plot(responses())
    ax = fig.axes[0]
    drawn = bars(fig)
    assert len(drawn) == 5                           # P06 and P07 are not drawn as 0
    assert [p.get_height() for p in drawn] == pytest.approx([80, 10, 10, -45, -70])
    # tie of P01 and P03 at +10 %: by patient_id
    assert [t.get_text() for t in ax.get_xticklabels()] == ["P04", "P01", "P03", "P02",
                                                            "P05"]
    assert [to_hex(p.get_facecolor()) for p in drawn] == [
        CATEGORY_COLOURS[c].lower() for c in ("PMD", "SMD", "SMD", "PMR", "CMR")]


def test_colours_are_the_colour_blind_safe_palette_and_distinct():
    assert set(CATEGORY_COLOURS) == {"CMR", "PMR", "SMD", "PMD"}
    assert set(CATEGORY_COLOURS.values()) <= set(OKABE_ITO)
    assert len(set(CATEGORY_COLOURS.values())) == 4


def test_threshold_lines_legend_labels_and_note():
    fig = waterfall_plot(responses(), relative_change=0.25)
    ax = fig.axes[0]
    dashed = sorted(line.get_ydata()[0] for line in ax.get_lines()
                    if line.get_linestyle() == "--")
    assert dashed == [-25.0, 25.0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["CMR (n = 1)", "PMR (n = 1)", "SMD (n = 2)", "PMD (n = 1)", "±25 %"]
    assert ax.get_ylabel() == "Change of target SULpeak (%)\nrule set: percist"
    assert ax.get_title() == "FDG PET/CT"
    note = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert ("Not drawn (2): P06 (no category: no measurable lesion at baseline); P07 (PMD, no "
            "baseline value).") in note
    assert "Days between scans: median 180 (range 91–270)." in note


def test_layout_note_below_the_axes_and_legend_inside_the_figure():
    fig = waterfall_plot(responses())
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    figure_box = fig.bbox
    note = fig.texts[0].get_window_extent(renderer)
    ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
    xlabel = ax.xaxis.label.get_window_extent(renderer)
    assert note.y1 < min(b.y0 for b in ticks) and note.y1 < xlabel.y0
    legend = ax.get_legend().get_window_extent(renderer)
    for box in (note, legend, xlabel):
        assert box.x0 >= 0 and box.y0 >= 0
        assert box.x1 <= figure_box.x1 + 0.5 and box.y1 <= figure_box.y1 + 0.5
    assert not legend.overlaps(ax.get_window_extent(renderer))
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    assert b"P04" in buf.getvalue()                  # editable text in the SVG


def test_no_tick_labels_beyond_max_labels():
    many = pd.DataFrame({"patient_id": [f"P{i:02d}" for i in range(31)], "category": "SMD",
                         "change_rel": np.linspace(0.2, -0.2, 31)})
    fig = waterfall_plot(many)
    assert len(bars(fig)) == 31
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == []
    fig = waterfall_plot(many.iloc[:30])
    assert len(fig.axes[0].get_xticklabels()) == 30


def test_all_not_categorised_draws_no_bar_and_lists_every_patient():
    none = responses().assign(category=None, reason="no follow-up scan")
    fig = waterfall_plot(none)
    assert bars(fig) == []
    texts = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "Not drawn (7)" in texts and "P03 (no category: no follow-up scan)" in texts
    assert "No patient has a category and a change to draw" in [
        t.get_text() for t in fig.axes[0].texts]


def test_refuses_mixed_scan_types_and_bad_input():
    mixed = responses()
    mixed.loc[0, "modality"] = "PET/MR"
    with pytest.raises(ValueError, match="column modality has PET/CT, PET/MR"):
        waterfall_plot(mixed)
    with pytest.raises(ValueError, match="the table is empty"):
        waterfall_plot(responses().iloc[:0])
    with pytest.raises(ValueError, match="category 'PD'"):
        waterfall_plot(responses().assign(category="PD"))
    with pytest.raises(ValueError, match="relative_change"):
        waterfall_plot(responses(), relative_change=30)


def measured(patient: str, scan_id: str, lesions: dict[str, float]) -> pd.DataFrame:
    """Measurement rows of one FDG scan: liver SULmean 2.0, SD 0.2 (PERCIST cut 3.4)."""
    ids = {"patient_id": patient, "scan_id": scan_id, "tracer": "FDG", "modality": "PET/CT",
           "quantity": "SUV"}
    rows = [ids | {"roi": "liver", "lesion_id": "", "suv_mean": 2.0, "suv_sd": 0.2,
                   "sul_mean": 2.0, "suv_max": 3.0}]
    rows += [ids | {"roi": "lesion", "lesion_id": lid, "sul_peak": v, "suv_peak": v,
                    "suv_max": 1.25 * v} for lid, v in lesions.items()]
    return pd.DataFrame(rows)


def test_patient_response_output_draws_and_counts():
    from nethelpers.response import patient_response
    from nethelpers.responsestats import category_counts

    base = {"P01": 10.0, "P02": 5.0, "P03": 5.0, "P04": 5.0, "P05": 2.0}
    follow = {"P01": 6.9, "P02": 8.0, "P03": 5.5, "P05": 2.2}      # P04: every lesion gone
    response = patient_response(
        pd.concat([measured(p, f"{p}-B", {"L1": v}) for p, v in base.items()]),
        pd.concat([measured(p, f"{p}-F", {"L1": v} if p in follow else {})
                   for p, v in {**base, **follow}.items()]))
    response = response.assign(modality="PET/CT")
    counts = category_counts(response)
    assert list(counts["n"]) == [1, 1, 1, 1, 1]       # CMR, PMR, SMD, PMD, not categorised
    assert "no measurable lesion at baseline" in counts["note"].iloc[4]
    fig = waterfall_plot(response)
    # PERCIST SULpeak changes worked out by hand: P02 +60 %, P03 +10 %, P01 -31 %
    assert [p.get_height() for p in bars(fig)] == pytest.approx([60.0, 10.0, -31.0])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["P02", "P03", "P01"]
    note = " ".join(t.get_text() for t in fig.texts).replace("\n", " ")
    assert "P04 (CMR, no follow-up value)" in note and "P05 (no category: no measurable" in note


def test_pmd_decided_by_a_new_lesion_is_hatched():
    frame = pd.DataFrame({
        "patient_id": ["A", "B", "C"], "category": ["PMD", "PMD", "PMR"],
        "change_rel": [0.10, 0.50, -0.40],
        "decided_by": ["new lesion(s) at follow-up: A-L3", "target suv_max rose +50.0%",
                       "target suv_max fell -40.0%"]})
    fig = waterfall_plot(frame)
    ax = fig.axes[0]
    bars = [p for p in ax.patches if p.get_height() != 0]
    # order: B (+50), A (+10), C (-40); only A's bar is hatched
    assert [round(p.get_height()) for p in bars] == [50, 10, -40]
    assert [bool(p.get_hatch()) for p in bars] == [False, True, False]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "  of which by a new lesion (n = 1)" in labels
    assert "PMD (n = 2)" in labels
