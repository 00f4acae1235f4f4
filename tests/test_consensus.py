"""Per-reader ROI sets, migration of single-set stores, the consensus, store reads in the cohort."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from nethelpers.consensus import make_consensus, save_consensus
from nethelpers.rois import RoiStore, RoiStoreError, reader_folder, table_from_rows
from nethelpers.storereads import merge_store_reads, store_reads

SCAN = "P001-DOTATATE-PETCT"


def _labels() -> sitk.Image:
    arr = np.zeros((4, 5, 6), np.uint16)
    arr[1, 1:3, 1:3], arr[2, 3, 4] = 1, 11
    return sitk.GetImageFromArray(arr)


def _table(reader: str) -> pd.DataFrame:
    return table_from_rows([{"label": 1, "roi": "liver", "method": "sphere", "reader": reader},
                            {"label": 11, "roi": "lesion", "lesion_id": "P001-L01",
                             "method": "manual", "reader": reader}])


def test_each_reader_keeps_a_blinded_set_and_names_become_safe_folders(tmp_path):
    store = RoiStore(tmp_path)
    reads = pd.DataFrame([{"lesion_id": "P001-L01", "call": "positive", "krenning": 3,
                           "long_axis_mm": 12.5, "short_axis_mm": 8}])
    store.save(SCAN, _labels(), _table("R1"), reader="R1", reads=reads)
    assert store.latest(SCAN, reader="R2") is None                 # R2 sees nothing of R1
    v = store.save(SCAN, _labels(), _table("Dr Smith"), reader="Dr Smith", parent=0)
    assert (v.version, v.path.parent.name) == (1, "Dr%20Smith")
    assert store.readers(SCAN) == ["Dr Smith", "R1"]
    back = store.load(SCAN, reader="R1").reads.iloc[0]
    assert (back["call"], back["long_axis_mm"], back["short_axis_mm"]) == ("positive", "12.5", "8")
    with pytest.raises(RoiStoreError, match="short axis longer"):
        store.save(SCAN, _labels(), _table("R1"), reader="R1", reads=reads.assign(
            short_axis_mm=20))
    with pytest.raises(RoiStoreError, match="number >= 0"):
        store.save(SCAN, _labels(), _table("R1"), reader="R1", reads=reads.assign(
            long_axis_mm=-1))
    for bad in ("v000001", ".hidden", ""):
        with pytest.raises(RoiStoreError):
            reader_folder(bad)
    with pytest.raises(RoiStoreError, match="differs only in case"):
        store.save(SCAN, _labels(), _table("r1"), reader="r1")
    # a zero-width space or full-width letters would open a second set for the same reader
    for twin, plain in (("R1\u200b", "R1"), ("\uff32\uff21", "RA")):
        with pytest.raises(RoiStoreError, match=f"e.g. '{plain}'"):
            reader_folder(twin)
    assert reader_folder("Dr Émile") == "Dr%20%C3%89mile"            # plain accents are fine


def _legacy_store(root) -> dict[str, bytes]:
    """A single-set store written as the old layout (versions directly under the scan)."""
    store = RoiStore(root / "tmp")
    store.save(SCAN, _labels(), _table("R1"), reader="R1", saved_at="2024-01-01T10:00:00+00:00")
    store.save(SCAN, _labels(), _table("R2"), reader="R2", saved_at="2024-01-02T10:00:00+00:00")
    store.save(SCAN, _labels(), _table("R1"), reader="R1", saved_at="2024-01-03T10:00:00+00:00",
               reads=pd.DataFrame([{"lesion_id": "P001-L01", "call": "positive"}]))
    old = root / "rois" / SCAN
    old.mkdir(parents=True)
    for n, (reader, src) in enumerate([("R1", 1), ("R2", 1), ("R1", 2)], start=1):
        src_dir = root / "tmp" / SCAN / reader / f"v{src:06d}"
        meta = json.loads((src_dir / "meta.json").read_text())
        meta.update(version=n, format=1)
        os.rename(src_dir, old / f"v{n:06d}")
        (old / f"v{n:06d}" / "meta.json").write_text(json.dumps(meta))
    return {str(p.relative_to(old)): p.read_bytes() for p in old.rglob("*") if p.is_file()}


def test_migration_keeps_every_version_byte_for_byte_and_is_idempotent(tmp_path):
    before = _legacy_store(tmp_path)
    store = RoiStore(tmp_path / "rois")
    moved = store.migrate()
    # one shared chain: whole, into the set of its newest version's saver (R1)
    assert [(m.version, m.reader) for m in moved] == [(1, "R1"), (2, "R1"), (3, "R1")]
    assert store.migrate() == [] and "moved 3 version(s)" in store.notes[0]
    scan = tmp_path / "rois" / SCAN
    for rel, data in before.items():                    # plain file reads, not the store's
        version, name = rel.split("/")
        after = (scan / "R1" / version / name).read_bytes()
        assert hashlib.sha256(after).hexdigest() == hashlib.sha256(data).hexdigest()
    assert [v.version for v in store.versions(SCAN, reader="R1")] == [1, 2, 3]
    assert store.readers(SCAN) == ["R1"]
    assert store.history(SCAN, reader="R1")["saved_by"].tolist() == ["", "R2", ""]
    # a shared chain's reads are not an independent read: not in the cohort, and said so
    stored, problems = store_reads(tmp_path / "rois")
    assert stored.empty and len(problems) == 1 and "single-set store" in problems[0]
    assert store.history(SCAN)["saved_at"].str[:10].tolist() == [
        "2024-01-01", "2024-01-02", "2024-01-03"]
    assert store.load(SCAN, 3, reader="R1").table["reader"].tolist() == ["R1", "R1"]
    assert store.save(SCAN, _labels(), _table("R1"), reader="R1", parent=3).version == 4


def test_a_legacy_scan_migrates_on_first_use(tmp_path):
    _legacy_store(tmp_path)
    store = RoiStore(tmp_path / "rois")
    assert store.latest(SCAN, reader="R1").version == 3 and store.notes
    assert store.latest(SCAN, reader="R2") is None           # R2 saved v2 of the shared chain


READS = pd.DataFrame([
    ("S1", "L1", "R1", "positive", "3"), ("S1", "L1", "R2", "positive", "3"),   # agree
    ("S1", "L2", "R1", "positive", "3"), ("S1", "L2", "R2", "negative", "0"),   # disagree
    ("S1", "L3", "R1", "equivocal", "2"),                                        # R1 only
    ("S1", "L4", "R1", "negative", "0"), ("S1", "L4", "R2", "negative", "0"),
    ("S2", "none", "R1", "negative", ""), ("S2", "none", "R2", "negative", ""),
], columns=["scan_id", "lesion_id", "reader", "call", "krenning"])


def test_consensus_adopts_agreement_and_lists_what_the_adjudicator_did_not_decide():
    first = make_consensus(READS, ["R1", "R2"])
    got = first.reads[["scan_id", "lesion_id", "reader", "call", "krenning", "basis"]]
    expected = pd.DataFrame([("S1", "L1", "consensus", "positive", "3", "agreement"),
                             ("S1", "L4", "consensus", "negative", "0", "agreement"),
                             ("S2", "none", "consensus", "negative", "", "agreement")],
                            columns=got.columns)
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected)
    assert first.unresolved["lesion_id"].tolist() == ["L2", "L3"]
    assert first.unresolved.loc[0, ["call_R1", "call_R2"]].tolist() == ["positive", "negative"]
    with pytest.raises(ValueError, match="adjudicator"):
        make_consensus(READS, ["R1", "R2"], decisions={("S1", "L2"): {"call": "negative"}})
    with pytest.raises(ValueError, match="nothing to decide"):
        make_consensus(READS, ["R1", "R2"], decisions={("S1", "L1"): {"call": "negative"}},
                       adjudicator="AB")
    done = make_consensus(READS, ["R1", "R2"], adjudicator="AB",
                          decisions={("S1", "L2"): {"call": "negative", "krenning": 0}})
    row = done.reads.set_index("lesion_id").loc["L2"]
    assert (row["call"], row["krenning"], row["basis"], row["adjudicator"]) == (
        "negative", "0", "adjudicated", "AB")
    assert done.unresolved["lesion_id"].tolist() == ["L3"]       # still listed, never picked
    with pytest.raises(ValueError, match="independent"):
        make_consensus(READS, ["R1", "consensus"])


def test_consensus_is_saved_with_its_adjudicator_and_reaches_the_cohort(tmp_path):
    store = RoiStore(tmp_path)
    done = make_consensus(READS, ["R1", "R2"], adjudicator="AB",
                          decisions={("S1", "L2"): {"call": "negative", "krenning": 0}})
    v = save_consensus(store, "S1", done, readers=["R1", "R2"], labels=_labels() * 0)
    assert (v.reader, v.saved_by, v.consensus["adjudicated"]) == ("consensus", "AB", ["L2"])
    stored, problems = store_reads(tmp_path)
    assert problems == [] and sorted(stored["lesion_id"]) == ["L1", "L2", "L4"]
    table = READS.assign(krenning=pd.to_numeric(READS["krenning"]).astype("Int64"))
    table = pd.concat([table, pd.DataFrame([("S1", "L2", "consensus", "positive", 3)],
                                           columns=table.columns)], ignore_index=True)
    merged, differ = merge_store_reads(table, stored)
    ours = merged[merged["reader"] == "consensus"].set_index("lesion_id")
    assert ours.loc["L2", "call"] == "negative"                       # the store wins
    assert len(differ) == 1 and "table 'positive', store 'negative'" in differ[0]["reason"]
    assert sorted(ours.index) == ["L1", "L2", "L4"] and len(merged) == len(table) + 2


def test_the_readers_axes_reach_the_cohort_with_their_reads():
    table = READS.assign(krenning=pd.to_numeric(READS["krenning"]).astype("Int64"))
    first = table.iloc[0]
    stored = pd.DataFrame([{"scan_id": first["scan_id"], "lesion_id": first["lesion_id"],
                            "reader": first["reader"], "call": first["call"],
                            "krenning": str(first["krenning"]), "confidence": "",
                            "cause": "", "long_axis_mm": "22.0", "short_axis_mm": "15.0",
                            "roi_version": "1"}])
    merged, differ = merge_store_reads(table, stored)
    row = merged.iloc[0]
    assert (row["long_axis_mm"], row["short_axis_mm"]) == (22.0, 15.0) and differ == []
    assert merged["long_axis_mm"].iloc[1:].isna().all()              # none measured: empty


def test_kappa_refuses_the_consensus():
    from nethelpers.interreader import interreader_agreement

    with pytest.raises(ValueError, match="consensus"):
        interreader_agreement(pd.DataFrame(), ("R1", "consensus"))


# --------------------------------------------------------------------------------------------
# the index test may be the consensus: the report's accuracy against plain pandas
# --------------------------------------------------------------------------------------------


def test_index_test_consensus_accuracy_equals_a_plain_count_of_the_demo_csvs(demo_study,
                                                                            tmp_path):
    from nethelpers import readings
    from nethelpers.cohort import load_cohort
    from nethelpers.config import load_params
    from tests.test_cohort import write_params

    params = load_params(write_params(tmp_path / "p.yaml", demo_study, tmp_path / "o",
                                      index_test={"reader": "consensus"}))
    assert params.index_test.reader == params.readers.consensus == "consensus"
    cohort = load_cohort(params)
    lesions = readings.lesion_level(cohort, "consensus", "negative")    # as notebook 05
    acc = readings.accuracy_by(lesions, ["tracer", "modality"], test="test", truth="malignant",
                               cluster="patient_id")
    patients = readings.accuracy_by(readings.patient_level(cohort, "consensus", "negative"),
                                    ["tracer", "modality"], test="test",
                                    truth="disease_present")
    # independently: the consensus rows of reads.csv against the demo's truth
    reads = pd.read_csv(demo_study / "reads" / "reads.csv")
    reads = reads[reads["reader"] == "consensus"]
    truth = pd.read_csv(demo_study / "truth" / "lesions.csv")[["lesion_id", "malignant"]]
    scans = pd.read_csv(demo_study / "clinical" / "scans.csv")
    # the index tests are the baseline scans (follow-ups: the response, notebook 06)
    scans = scans.loc[scans["time_point"] == "baseline",
                      ["scan_id", "patient_id", "tracer", "modality"]]
    sick = pd.read_csv(demo_study / "clinical" / "patients.csv")[["patient_id",
                                                                  "disease_present"]]
    calls = reads.merge(truth, on="lesion_id").merge(scans, on="scan_id")
    positive_scans = set(reads.loc[reads["call"] == "positive", "scan_id"])
    per_scan = scans.merge(sick, on="patient_id").assign(
        positive=lambda d: d["scan_id"].isin(positive_scans))
    checked = 0
    for (tracer, modality), g in calls.groupby(["tracer", "modality"]):
        rows = acc[(acc["tracer"] == tracer) & (acc["modality"] == modality)].set_index(
            "measure")
        positive = g["call"] == "positive"            # equivocal counts negative
        for measure, subset, hit in (("sensitivity", g["malignant"], positive),
                                     ("specificity", ~g["malignant"], ~positive)):
            assert (rows.loc[measure, "numerator"], rows.loc[measure, "denominator"]) == (
                (subset & hit).sum(), subset.sum()), (tracer, modality, measure)
            checked += 1
        p = per_scan[(per_scan["tracer"] == tracer) & (per_scan["modality"] == modality)]
        sens = patients[(patients["tracer"] == tracer) & (patients["modality"] == modality)
                        & (patients["measure"] == "sensitivity")].iloc[0]
        assert (sens["numerator"], sens["denominator"]) == (
            (p["disease_present"] & p["positive"]).sum(), p["disease_present"].sum())
    assert checked == 2 * calls.groupby(["tracer", "modality"]).ngroups >= 6
    # the consensus differs from R1 somewhere: the test can tell the two index tests apart
    r1 = readings.lesion_level(cohort, "R1", "negative")
    assert not r1[["scan_id", "lesion_id", "test"]].reset_index(drop=True).equals(
        lesions[["scan_id", "lesion_id", "test"]].reset_index(drop=True))


# --------------------------------------------------------------------------------------------
# quantify takes the reader
# --------------------------------------------------------------------------------------------


def test_quantify_measures_the_readers_set_and_says_when_it_falls_back(ideal_study, tmp_path):
    import shutil

    from nethelpers.config import params_from_dict
    from nethelpers.quantify import inputs_fingerprint, quantify_scan, scan_jobs

    shutil.copytree(ideal_study / "rois", tmp_path / "rois")
    params = params_from_dict({"study": {"name": "t", "data_root": str(ideal_study),
                                         "rois": str(tmp_path / "rois")}})
    job = scan_jobs(params)[0]
    store = RoiStore(tmp_path / "rois")
    r1 = store.load(job.scan_id, reader="R1")
    lesion = int(r1.table.loc[r1.table["roi"] == "lesion", "label"].iloc[0])
    fewer = sitk.GetArrayFromImage(r1.labels)
    fewer[fewer == lesion] = 0                               # R2 left one of R1's lesions out
    labels = sitk.GetImageFromArray(fewer)
    labels.CopyInformation(r1.labels)
    store.save(job.scan_id, labels, r1.table[r1.table["label"] != lesion].assign(reader="R2"),
               reader="R2", series_uid=r1.version.series_uid)
    one = quantify_scan(job, reader="R1")
    two = quantify_scan(job, reader="R2")
    assert one.qc["status"] == two.qc["status"] == "ok"
    assert set(one.rows["reader"]) == {"R1"} and set(two.rows["reader"]) == {"R2"}
    assert "drew no ROIs" not in one.qc["warnings"] + two.qc["warnings"]
    # R2's rows are R1's without the lesion R2 left out: the same voxels, the same numbers
    same = one.rows[one.rows["label"] != lesion].drop(columns=["reader", "roi_version"])
    pd.testing.assert_frame_equal(same.reset_index(drop=True),
                                  two.rows.drop(columns=["reader", "roi_version"]))
    # a reader without a set: the first other reader by name (R1, though R2 saved last:
    # never the save time), stated in the QC warnings
    three = quantify_scan(job, reader="R3")
    assert set(three.rows["reader"]) == {"R1"} and len(three.rows) == len(one.rows)
    assert "reader R3 drew no ROIs on this scan; used reader R1's newest set (v1)" in (
        three.qc["warnings"])
    # saved results of one reader are never reused for another
    assert inputs_fingerprint(params)["reader"] == params.index_test.reader == "R1"
    assert inputs_fingerprint(params, "R2")["reader"] == "R2"


def test_full_agreement_leaves_nothing_unresolved():
    """Readers who agree on every lesion: every call adopted, an empty (not columnless)
    list of what is left to decide."""
    agree = READS[READS["lesion_id"].isin(["L1", "L4"])]
    done = make_consensus(agree, ["R1", "R2"])
    assert sorted(done.reads["lesion_id"]) == ["L1", "L4"]
    assert set(done.reads["basis"]) == {"agreement"}
    assert done.unresolved.empty and "lesion_id" in done.unresolved.columns
