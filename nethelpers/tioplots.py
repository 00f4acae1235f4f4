"""Figures of the TIO comparison (notebook 4): culprit size, uptake side by side, clinical.

Thin wrappers over :mod:`nethelpers.plots` where a figure of the same kind exists (the strip
plot, the paired plot); the clinical scatter is drawn here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from nethelpers.plots import paired_plot, strip_plot
from nethelpers.plots.style import OKABE_ITO, figure_style, log_axis
from nethelpers.tiocompare import ROLES
from nethelpers.tiouptake import CLINICAL, VALUES

__all__ = ["clinical_scatter", "size_strip", "uptake_paired"]


def size_strip(culprit_lesions: pd.DataFrame, order: list[str]) -> Figure:
    """Culprit diameters by scan type, detected and missed (one column of points each).

    Parameters
    ----------
    culprit_lesions : pandas.DataFrame
        :func:`nethelpers.tiocompare.culprit_lesion_reads`.
    order : list of str
        Scan types (labels) in the order drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = culprit_lesions.dropna(subset=["detected", "diameter_mm"])
    status = np.where(data["detected"].astype(bool), "detected", "missed")
    def wrapped(scan_type: str) -> str:  # tracer above modality: narrow column labels
        return scan_type.replace(" ", "\n", 1)

    data = data.assign(column=data["scan_type"].astype(str).map(wrapped) + "\n" + status)
    columns = [f"{wrapped(t)}\n{s}" for t in order for s in ("detected", "missed")]
    return strip_plot(data, group="column", value="diameter_mm", ylabel="Culprit diameter (mm)",
                      order=columns, title="Culprit tumours detected and missed")


def uptake_paired(uptake: pd.DataFrame, value: str, order: list[str]) -> Figure:
    """Each patient's culprit ratio on each scan type, joined by a line (descriptive).

    Parameters
    ----------
    uptake : pandas.DataFrame
        :func:`nethelpers.tiouptake.per_patient`.
    value : str
        ``"tb_liver"`` or ``"tb_shell"``.
    order : list of str
        Scan types (labels) in the order drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    data = uptake.dropna(subset=[value])
    return paired_plot(data, unit_id="patient_id", condition="scan_type", value=value,
                       order=[o for o in order if o in set(data["scan_type"])],
                       ylabel=f"Culprit {VALUES[value]}")


def clinical_scatter(patients: pd.DataFrame, uptake: pd.DataFrame, value: str = "tb_liver"
                     ) -> Figure:
    """The clinical variables of TIO against the culprit's uptake, one panel each.

    Parameters
    ----------
    patients : pandas.DataFrame
        The patients table (the :data:`~nethelpers.tiouptake.CLINICAL` columns it has).
    uptake : pandas.DataFrame
        :func:`nethelpers.tiouptake.per_patient`.
    value : str
        The uptake measure on the y axis (a column of ``uptake``).

    Returns
    -------
    matplotlib.figure.Figure
        A point per patient and scan type, coloured by scan type; FGF23 on a log axis.
    """
    variables = [v for v in CLINICAL if v in patients]
    if not variables:
        raise ValueError("clinical_scatter: the patients table has no FGF23 or phosphate")
    clinical = patients[["patient_id", *variables]].astype({"patient_id": str})
    data = uptake.dropna(subset=[value]).merge(clinical, on="patient_id", how="inner")
    with figure_style():
        fig = Figure(figsize=(2.9 * len(variables) + 1.6, 3.0), dpi=100)
        axes = fig.subplots(1, len(variables), squeeze=False)[0]
        ranks = {role: i for i, role in enumerate(ROLES)}
        types = list(dict.fromkeys(data.sort_values("role", key=lambda r: r.map(ranks))[
            "scan_type"]))
        for ax, variable in zip(axes, variables, strict=True):
            for k, scan_type in enumerate(types):
                part = data[(data["scan_type"] == scan_type)].dropna(subset=[variable])
                ax.scatter(part[variable], part[value], s=14, color=OKABE_ITO[k % len(OKABE_ITO)],
                           marker="osD^"[k % 4], label=f"{scan_type} (n = {len(part)})")
            shown = pd.to_numeric(data[variable], errors="coerce").dropna()
            if variable == "fgf23_ru_ml" and len(shown) and (shown > 0).all():
                log_axis(                       # labelled 20, 50, 100, 200 (never 10²)
                    ax.xaxis, float(shown.min()) / 1.3, float(shown.max()) * 1.3)
            ax.set_xlabel(CLINICAL[variable])
            ax.set_ylabel(f"Culprit {VALUES[value]}")
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=6.5)
        fig.suptitle("Exploratory: one point per patient and scan type", fontsize=7.5)
    return fig
