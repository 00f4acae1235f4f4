"""The ROC table of notebook 5: AUC, DeLong and clustered CIs, Youden, paired comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nethelpers import rocanalysis
from nethelpers.stats import clustered_auc, compare_auc


def _scan_type(tracer: str, modality: str, suv: list[float], tb: list[float],
               malignant: list[bool], patients: list[str]) -> pd.DataFrame:
    n = len(suv)
    return pd.DataFrame({
        "scan_id": [f"{p}-{tracer}" for p in patients], "lesion_id": [f"L{i}" for i in range(n)],
        "patient_id": patients, "tracer": tracer, "modality": modality,
        "malignant": malignant, "suv_max": suv, "tb_liver": tb,
        "positive": [s > 4.0 if not np.isnan(s) else np.nan for s in suv]})


def _data() -> pd.DataFrame:
    """DOTATATE PET/CT: 7 malignant, 4 other lesions in 5 patients (one without T/B).

    FDG PET/CT: 4 malignant lesions and 1 other (too few controls for DeLong).
    """
    dota = _scan_type(
        "DOTATATE", "PET/CT",
        suv=[12.0, 8.0, 15.0, 3.5, 9.0, 22.0, 6.0, 2.0, 5.0, 4.5, 7.0],
        tb=[4.0, 2.5, 5.0, 1.1, np.nan, 7.0, 2.0, 0.6, 1.9, 1.2, 2.1],
        malignant=[True, True, True, True, True, True, True, False, False, False, False],
        patients=["A", "A", "B", "B", "C", "C", "D", "A", "B", "D", "E"])
    fdg = _scan_type("FDG", "PET/CT", suv=[5.0, 3.0, 8.0, 2.5, 2.0], tb=[2.0, 1.2, 3.0, 1.0, 0.9],
                     malignant=[True, True, True, True, False],
                     patients=["A", "A", "B", "B", "A"])
    return pd.concat([dota, fdg], ignore_index=True)


def _hand_auc(y: np.ndarray, score: np.ndarray) -> float:
    """AUC = Mann-Whitney U of the cases against the controls / (m n)."""
    u = stats.mannwhitneyu(score[y], score[~y], alternative="two-sided").statistic
    return float(u) / (y.sum() * (~y).sum())


def _hand_delong(y: np.ndarray, score: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """DeLong CI from the structural components (placements), clipped to [0, 1]."""
    cases, controls = score[y], score[~y]
    psi = (cases[:, None] > controls[None, :]) + 0.5 * (cases[:, None] == controls[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc = psi.mean()
    se = np.sqrt(v10.var(ddof=1) / cases.size + v01.var(ddof=1) / controls.size)
    z = stats.norm.ppf(0.5 + level / 2)
    return max(0.0, auc - z * se), min(1.0, auc + z * se)


def test_auc_delong_and_clustered_ci_equal_independent_computations():
    data = _data()
    analysis = rocanalysis.roc_analysis(data)
    table = analysis.table.set_index(["tracer", "measure"])
    dota = data[data.tracer == "DOTATATE"]
    for score, name in (("suv_max", "SUVmax"), ("tb_liver", "T/B liver")):
        scored = dota.dropna(subset=[score])
        y, s = scored.malignant.to_numpy(bool), scored[score].to_numpy(float)
        row = table.loc[("DOTATATE", name)]
        assert row["auc"] == pytest.approx(_hand_auc(y, s), abs=1e-12)
        assert (row["delong_lower"], row["delong_upper"]) == pytest.approx(
            _hand_delong(y, s), abs=1e-12)
        c = clustered_auc(y, s, scored.patient_id, direction="<")
        assert (row["clustered_lower"], row["clustered_upper"]) == pytest.approx(
            (c.lower, c.upper), abs=1e-12)
        assert (row["n_malignant"], row["n_other"]) == (int(y.sum()), int((~y).sum()))
    # T/B is missing for one lesion: it is left out of T/B only, and counted
    assert table.loc[("DOTATATE", "SUVmax"), "n_not_measured"] == 0
    assert table.loc[("DOTATATE", "T/B liver"), "n_not_measured"] == 1
    # the paired comparison uses the lesions with both scores
    both = dota.dropna(subset=["suv_max", "tb_liver"])
    comp = table.loc[("DOTATATE", "SUVmax − T/B liver (DeLong)")]
    y = both.malignant.to_numpy(bool)
    assert comp["auc"] == pytest.approx(
        _hand_auc(y, both.suv_max.to_numpy()) - _hand_auc(y, both.tb_liver.to_numpy()),
        abs=1e-12)
    direct = compare_auc(y, both.suv_max, both.tb_liver, direction="<")
    assert comp["p_value"] == pytest.approx(direct.p, rel=1e-12)
    assert comp["n_not_measured"] == 1


def test_too_few_controls_give_rows_that_say_so():
    analysis = rocanalysis.roc_analysis(_data())
    fdg = analysis.table[analysis.table.tracer == "FDG"].set_index("measure")
    assert list(fdg.index) == ["SUVmax", "T/B liver", "SUVmax − T/B liver (DeLong)"]
    assert fdg["auc"].isna().all()
    assert fdg.loc["SUVmax", "note"] == (
        "not estimated: the DeLong variance needs at least 2 malignant and 2 other lesions "
        "with a SUVmax value, there are 4 and 1")
    assert fdg.loc["SUVmax − T/B liver (DeLong)", "note"].startswith(
        "not compared: the paired DeLong test needs at least 2 malignant and 2 other")
    # curves and Youden cut-offs only where an AUC was estimated
    assert [(s, n) for s, n, _ in analysis.curves] == [("DOTATATE PET/CT", "SUVmax"),
                                                       ("DOTATATE PET/CT", "T/B liver")]
    assert analysis.youden["tracer"].tolist() == ["DOTATATE", "DOTATATE"]
    assert analysis.youden["kind"].str.startswith("exploratory").all()


def test_clustered_ci_needs_two_patients_per_class():
    # 3 malignant and 2 other lesions, the other lesions in one patient only
    data = _scan_type("DOTATATE", "PET/CT", suv=[9.0, 7.0, 3.0, 2.0, 5.0],
                      tb=[3.0, 2.0, 1.0, 0.5, 1.5], malignant=[True, True, True, False, False],
                      patients=["A", "B", "C", "D", "D"])
    row = rocanalysis.roc_analysis(data).table.iloc[0]
    y = data.malignant.to_numpy(bool)
    assert row["auc"] == pytest.approx(_hand_auc(y, data.suv_max.to_numpy()))
    assert np.isnan(row["clustered_lower"])
    assert ("clustered CI not estimated: Obuchowski's variance needs at least 2 patients with "
            "a malignant and 2 with another lesion, there are 3 and 1") in row["note"]


def test_no_measured_score_and_bad_minimums():
    data = _data().assign(tb_liver=np.nan)
    table = rocanalysis.roc_analysis(data).table.set_index(["tracer", "measure"])
    row = table.loc[("DOTATATE", "T/B liver")]
    assert np.isnan(row["auc"]) and row["n_not_measured"] == 11
    assert "there are 0 and 0" in row["note"]
    assert not np.isnan(table.loc[("DOTATATE", "SUVmax"), "auc"])
    with pytest.raises(ValueError, match="at least 2"):
        rocanalysis.roc_analysis(data, min_controls=1)


def test_scored_lesions_and_the_cutoff_table():
    data = _data()
    lesions = data[["scan_id", "lesion_id", "patient_id", "tracer", "modality", "malignant"]]
    measured = data.assign(roi="lesion").iloc[:-3]  # three FDG lesions not measured
    ref = data.iloc[:1].assign(roi="liver", lesion_id=np.nan)
    scored = rocanalysis.scored_lesions(lesions, pd.concat([measured, ref]))
    assert len(scored) == len(data)
    assert scored["suv_max"].isna().sum() == 3
    empty = rocanalysis.scored_lesions(lesions, pd.DataFrame())
    assert empty[["suv_max", "tb_liver", "positive"]].isna().all().all()
    analysis = rocanalysis.roc_analysis(data)
    cut = rocanalysis.cutoff_table(data, "SUVmax > 4", analysis, cluster=None)
    assert cut["kind"].tolist() == ["pre-specified (protocol)"] * 2 + [
        "exploratory (Youden J on these data)"] * 2
    pre = cut.iloc[0]  # DOTATATE: positive = SUVmax > 4
    dota = data[data.tracer == "DOTATATE"]
    pos, mal = dota.suv_max > 4, dota.malignant
    assert (pre.tp, pre.fp, pre.fn, pre.tn) == (int((pos & mal).sum()), int((pos & ~mal).sum()),
                                                int((~pos & mal).sum()), int((~pos & ~mal).sum()))
    # a scan type where no lesion has a positivity result: a row with a note, no error
    unmeasured = data.assign(positive=np.nan)
    cut = rocanalysis.cutoff_table(unmeasured, "SUVmax > 4", analysis)
    pre = cut[cut.kind.str.startswith("pre")]
    assert pre["sensitivity"].isna().all() and pre["n_excluded"].tolist() == [11, 5]
    assert pre["note"].str.startswith("not estimated: none of the").all()


def test_roc_figures_one_per_scan_type():
    analysis = rocanalysis.roc_analysis(_data())
    figures = rocanalysis.roc_figures(analysis, seed=1)
    assert [name for name, _ in figures] == ["roc_DOTATATE_PETCT"]
    assert len(figures[0][1].axes[0].get_legend().get_texts()) >= 2
