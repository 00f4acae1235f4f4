"""The notes a section shows while it waits: what each says, and how repeats are shortened."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from nethelpers import readiness


def _cohort(lesions: pd.DataFrame | None = None, reads: pd.DataFrame | None = None,
            missing: dict[str, str] | None = None) -> SimpleNamespace:
    empty_lesions = pd.DataFrame(columns=["patient_id", "lesion_id", "truth", "malignant"])
    empty_reads = pd.DataFrame(columns=["scan_id", "lesion_id", "reader", "call"])
    return SimpleNamespace(lesions=empty_lesions if lesions is None else lesions,
                           reads=empty_reads if reads is None else reads,
                           missing=missing or {})


def test_gist_keeps_what_is_missing_and_drops_how_to_provide_it():
    assert readiness.needs_table(_cohort()) == ""  # no table asked for
    note = readiness.needs_table(_cohort(), "lesions", "reads")
    assert note.startswith("The lesions table has no rows yet: fill it with one row per lesion")
    assert readiness.gist(note) == ("the lesions table has no rows yet; the reads table has no "
                                    "rows yet")
    absent = readiness.needs_table(_cohort(missing={"reads": "reads/reads.csv"}), "reads")
    assert readiness.gist(absent) == "the reads table (reads/reads.csv) is not there yet"
    # clauses before the first colon belong together; parentheses are not split
    assert readiness.gist("The scans table has no A (x: 1; y: 2); and no B (z): it needs C; "
                          "and D.") == "the scans table has no A (x: 1; y: 2); and no B (z)"
    assert readiness.gist("Same as 05 · X above: the reads table has no rows yet.") == (
        "the reads table has no rows yet")
    assert readiness.gist("A note without a colon.") == "a note without a colon"


class _Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str]] = []

    def waiting(self, section: str, needs: str) -> str:
        self.rows.append((section, needs))
        return needs


def test_waiting_gives_a_repeated_note_in_full_once():
    report = _Report()
    waiting = readiness.Waiting(report)
    reads = readiness.needs_table(_cohort(), "lesions", "reads")
    measured = readiness.needs_measurements(pd.DataFrame())
    waiting("05 · Patient-level accuracy", reads)
    waiting("05 · ROC", measured)
    shown = waiting("05 · Cut-offs", reads)
    waiting("05 · False calls", measured)
    assert report.rows[0] == ("05 · Patient-level accuracy", reads)
    assert report.rows[1] == ("05 · ROC", measured)
    assert shown == report.rows[2][1] == (
        "Same as 05 · Patient-level accuracy above: the lesions table has no rows yet; the "
        "reads table has no rows yet.")
    assert report.rows[3][1] == "Same as 05 · ROC above: no scan has been measured yet."
    # a section shown again (a re-run cell) keeps its full note
    assert waiting("05 · Patient-level accuracy", reads) == reads


def test_needs_measurements_gives_the_full_review_command():
    qc = pd.DataFrame({"status": ["skipped", "skipped", "failed"]})
    note = readiness.needs_measurements(pd.DataFrame(), qc)
    assert note.startswith("No scan has been measured yet (2 skipped, 1 failed): draw and save")
    assert "`nethelpers review -f <parameters file> --patient <patient_id>`" in note
    assert readiness.needs_measurements(pd.DataFrame({"roi": ["liver"]})) == ""


def _scans_read(test: list, read: list, truth: list) -> pd.DataFrame:
    return pd.DataFrame({"test": pd.array(test, dtype="boolean"), "read": read,
                         "disease_present": pd.array(truth, dtype="boolean")})


def test_needs_results_says_why_no_result_can_be_scored():
    fill = "fill disease_present in patients.csv"
    kw = {"truth": "disease_present", "what": "scan", "fill": fill}
    ok = _scans_read([True, None], [True, False], [True, True])
    assert readiness.needs_results(ok, equivocal="negative", **kw) == ""
    unread = _scans_read([None, None], [False, False], [True, False])
    assert readiness.needs_results(unread, equivocal="negative", **kw).startswith(
        "No scan has been read yet by the index-test reader: record the calls with "
        "`nethelpers review -f <parameters file>")
    # every read scan indeterminate and excluded (the unread one does not count)
    excluded = _scans_read([None, None, None], [True, True, False], [True, False, True])
    assert readiness.needs_results(excluded, equivocal="exclude", **kw) == (
        "All 2 scan results were indeterminate (equivocal) and are excluded under "
        "index_test.equivocal = exclude: the section Indeterminate results reports them, with "
        "the sensitivity analysis under index_test.equivocal_sensitivity.")
    no_truth = _scans_read([True, False], [True, True], [None, None])
    assert readiness.needs_results(no_truth, equivocal="exclude", **kw) == (
        f"No scan with a result has its reference standard (disease_present) yet: {fill}.")
    # lesion calls have no "read" column: every row is a call
    calls = pd.DataFrame({"test": pd.array([None], dtype="boolean"), "malignant": [True]})
    assert readiness.needs_results(calls, truth="malignant", equivocal="exclude",
                                   what="lesion call", fill="x").startswith(
        "All 1 lesion call results were indeterminate")


def test_needs_malignant_without_the_table_and_without_a_malignant_lesion():
    what = "the flip-flop pattern"
    absent = readiness.needs_malignant(_cohort(missing={"lesions": "truth/lesions.csv"}), what)
    assert absent.startswith("The lesions table (truth/lesions.csv) is not there yet: add it")
    assert absent.endswith("; the flip-flop pattern is a property of malignant lesions, which "
                           "it names.")
    benign = pd.DataFrame({"patient_id": ["A"], "lesion_id": ["A1"], "truth": ["benign"],
                           "malignant": [False]})
    assert readiness.needs_malignant(_cohort(lesions=benign), what) == (
        "No lesion of the lesions table is malignant (column malignant): the flip-flop pattern "
        "is a property of malignant lesions, so there is nothing to show.")
    malignant = benign.assign(malignant=[True])
    assert readiness.needs_malignant(_cohort(lesions=malignant), what) == ""
