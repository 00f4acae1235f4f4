"""The study's patient groups as shown in tables and figures: order, labels, not recorded.

The groups are the study's own (``vocabulary.groups`` of the parameters; the protocol's by
default): tables and figures list them in the vocabulary's order, with their labels. A patient
whose group is not recorded is counted in a group of its own, :data:`NOT_RECORDED`, never
dropped.
"""

from __future__ import annotations

import pandas as pd

from nethelpers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

__all__ = [
    "NOT_RECORDED",
    "OVERALL",
    "group_label",
    "group_order",
    "group_table",
    "label_groups",
    "patient_groups",
]

OVERALL = "Overall"
"""The column or row of all patients."""

NOT_RECORDED = "Not recorded"
"""The group (column, box, row) of patients whose group is not recorded."""


def patient_groups(patients: pd.DataFrame, by: str = "group") -> pd.Series:
    """Return each patient's group as text, :data:`NOT_RECORDED` where it is missing.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (or any table with the column ``by``).
    by : str
        The grouping column.

    Returns
    -------
    pandas.Series
        ``object`` strings, same index as ``patients``.
    """
    values = patients[by]
    text = values.astype(object).where(values.notna(), NOT_RECORDED)
    return text.map(str).astype(object)


def group_order(groups: pd.Series | list[str], vocabulary: Vocabulary = DEFAULT_VOCABULARY,
                by: str = "group") -> list[str]:
    """Return the groups present, in the vocabulary's order, :data:`NOT_RECORDED` last.

    Parameters
    ----------
    groups : pandas.Series or list of str
        Group values (e.g. from :func:`patient_groups`).
    vocabulary : Vocabulary
        The study's codes (their order for ``by == "group"``).
    by : str
        The grouping column; other columns are sorted alphabetically.

    Returns
    -------
    list of str
        Each present value once; codes unknown to the vocabulary after its own, sorted.
    """
    present = {str(g) for g in pd.Series(list(groups), dtype=object).dropna()}
    known = [g for g in vocabulary.group_codes if g in present] if by == "group" else []
    others = sorted(present - set(known) - {NOT_RECORDED})
    return known + others + ([NOT_RECORDED] if NOT_RECORDED in present else [])


def group_label(group: object, vocabulary: Vocabulary = DEFAULT_VOCABULARY) -> str:
    """Return the readable label of a group code (:data:`NOT_RECORDED` for a missing one).

    Parameters
    ----------
    group : object
        A group code, :data:`NOT_RECORDED`, or a missing value.
    vocabulary : Vocabulary
        The study's codes and labels.

    Returns
    -------
    str
        E.g. ``"Suspected NET (diagnosis)"``; a code unknown to the vocabulary as it is.
    """
    if group is None or (not isinstance(group, str) and pd.isna(group)):
        return NOT_RECORDED
    return vocabulary.group_labels.get(str(group), str(group))


def label_groups(frame: pd.DataFrame, vocabulary: Vocabulary = DEFAULT_VOCABULARY,
                 column: str = "group") -> pd.DataFrame:
    """Return a copy of ``frame`` with its group codes replaced by their labels (for display).

    Parameters
    ----------
    frame : pandas.DataFrame
        A table with a group column (codes, :data:`NOT_RECORDED`, ``Overall``, or missing).
    vocabulary : Vocabulary
        The study's labels.
    column : str
        The group column.

    Returns
    -------
    pandas.DataFrame
        The copy; values that are not codes of the vocabulary are kept as they are.
    """
    return frame.assign(**{column: [group_label(g, vocabulary) for g in frame[column]]})


def group_table(patients: pd.DataFrame, vocabulary: Vocabulary = DEFAULT_VOCABULARY
                ) -> pd.DataFrame:
    """Return the study's patient groups with their labels, roles and number of patients.

    Parameters
    ----------
    patients : pandas.DataFrame
        Patients table (``group``).
    vocabulary : Vocabulary
        The study's groups (``vocabulary.groups`` of the parameters), in their order.

    Returns
    -------
    pandas.DataFrame
        ``group, label, tio, prrt, patients``: every group of the vocabulary (also those
        without patients), then a row :data:`NOT_RECORDED` when a patient has no group.
    """
    counts = patient_groups(patients).value_counts()
    rows = [{"group": g.code, "label": g.label or g.code, "tio": g.tio, "prrt": g.prrt,
             "patients": int(counts.get(g.code, 0))} for g in vocabulary.groups]
    if counts.get(NOT_RECORDED, 0):
        rows.append({"group": NOT_RECORDED, "label": NOT_RECORDED, "tio": False,
                     "prrt": False, "patients": int(counts[NOT_RECORDED])})
    return pd.DataFrame(rows, columns=["group", "label", "tio", "prrt", "patients"])
