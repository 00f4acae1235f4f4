"""Saved measurements as one set: the output folder's lock, and readers that never mix sets."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from nethelpers import resultset
from nethelpers.locking import EMPTY_GRACE_S, FolderLock, FolderLockedError, lock_holder
from nethelpers.quantify import QuantifyError, QuantifyResult, load_results
from nethelpers.resultset import ResultSetError
from nethelpers.savedresults import read_results, write_results

ROUNDS = 25          # forced races: both writers start each round together
WRITERS = 2
READERS = 2


def _result(tag: str, rows: int = 200) -> QuantifyResult:
    """Tables whose every value names the run that wrote them (``tag``)."""
    value = float(sum(map(ord, tag)))
    measurements = pd.DataFrame({"scan_id": [f"S{i:03d}" for i in range(rows)],
                                 "suv_max": value + pd.RangeIndex(rows) / 1000, "tag": tag})
    patients = pd.DataFrame({"patient_id": ["P001"], "netpet": [tag]})
    qc = pd.DataFrame({"scan_id": ["S000"], "status": ["ok"], "reason": [tag]})
    return QuantifyResult(measurements, patients, qc, info={"tag": tag})


def _tags(result: QuantifyResult) -> set[str]:
    """Which runs the tables and the record of a loaded set come from (one if whole)."""
    return (set(result.measurements["tag"]) | set(result.patients["netpet"])
            | set(result.qc["reason"]) | {result.info["tag"]})


def _write_lock(path: Path, pid: int, host: str, started: str = "2025-01-09T10:02:03+00:00"
                ) -> None:
    path.write_text(json.dumps({"pid": pid, "host": host, "started": started,
                                "token": "someone-else", "what": "quantify"}))


def _dead_pid() -> int:
    """The PID of a process that has ended (and was reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


# --------------------------------------------------------------------------------------------
# the lock
# --------------------------------------------------------------------------------------------


def test_a_held_lock_makes_a_writer_wait_then_refuse_naming_the_holder(tmp_path):
    folder = tmp_path / "DOE_JOHN_derived"
    folder.mkdir()
    _write_lock(folder / ".quantify.lock", os.getpid(), socket.gethostname())
    notes: list[str] = []
    start = time.monotonic()
    with pytest.raises(FolderLockedError) as info:
        FolderLock(folder, "quantify", timeout=0.3, say=notes.append).acquire()
    assert time.monotonic() - start >= 0.3                      # it waited the timeout
    message = str(info.value)
    assert "\n" not in message and str(tmp_path) not in message and "DOE_JOHN" not in message
    assert (f"pid {os.getpid()} on host {socket.gethostname()} since "
            "2025-01-09T10:02:03+00:00") in message
    assert "quantify.lock_timeout" in message
    assert len(notes) == 1 and "waiting up to 0.3 s" in notes[0] and f"pid {os.getpid()}" in (
        notes[0])
    assert lock_holder(folder / ".quantify.lock").token == "someone-else"   # left alone
    # a holder on another host cannot be checked from here: the fix says what to do
    _write_lock(folder / ".quantify.lock", 4242, "other-host")
    with pytest.raises(FolderLockedError, match="delete .quantify.lock in the output folder"):
        FolderLock(folder, "quantify", timeout=0).acquire()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_note(tmp_path):
    path = tmp_path / ".quantify.lock"
    dead = _dead_pid()
    _write_lock(path, dead, socket.gethostname())
    notes: list[str] = []
    with FolderLock(tmp_path, "quantify", timeout=0, say=notes.append):
        holder = lock_holder(path)
        assert holder.pid == os.getpid() and holder.host == socket.gethostname()
    assert not path.exists()                                      # released
    assert notes == [f"quantify: took over the lock of the output folder left by pid {dead} "
                     f"on host {socket.gethostname()} since 2025-01-09T10:02:03+00:00 "
                     "(that process is gone)"]
    # an empty lock file: someone is taking it (wait), or died doing so long ago (take over)
    path.write_text("")
    with pytest.raises(FolderLockedError, match="still taking it"):
        FolderLock(tmp_path, "quantify", timeout=0).acquire()
    old = time.time() - EMPTY_GRACE_S - 5
    os.utime(path, (old, old))
    with FolderLock(tmp_path, "quantify", timeout=0):
        assert lock_holder(path).pid == os.getpid()


def test_the_lock_is_reentrant_in_its_thread_and_exclusive_across_threads(tmp_path):
    path = tmp_path / ".quantify.lock"
    outer = FolderLock(tmp_path, "quantify", timeout=0)
    caught: list[BaseException] = []

    def other_thread() -> None:
        try:
            FolderLock(tmp_path, "quantify", timeout=0.1).acquire()
        except FolderLockedError as exc:
            caught.append(exc)

    with outer:
        token = lock_holder(path).token
        with FolderLock(tmp_path, "quantify", timeout=0):        # the same thread: re-entered
            assert lock_holder(path).token == token
        assert path.exists()                                      # still the outer's
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(caught) == 1 and f"pid {os.getpid()}" in str(caught[0])
    assert not path.exists()


# --------------------------------------------------------------------------------------------
# writing and reading a set
# --------------------------------------------------------------------------------------------


def test_sets_chain_and_a_changed_or_mixed_set_is_never_read(tmp_path):
    first, second = _result("first"), _result("second")
    written = write_results(first, tmp_path, say=lambda _: None)
    assert [p.name for p in written] == ["measurements.csv", "patients.csv", "qc.csv",
                                          "quantify.json"]
    write_results(second, tmp_path, say=lambda _: None)
    loaded = read_results(tmp_path)
    assert _tags(loaded) == {"second"}
    assert loaded.measurements["suv_max"].tolist() == pytest.approx(
        second.measurements["suv_max"].tolist(), rel=1e-9)
    assert loaded.info["set"]["id"] == second.info["set"]["id"] != first.info["set"]["id"]
    assert loaded.info["set"]["replaces"]["id"] == first.info["set"]["id"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging, no lock
    # a table of another set next to this record (what two unlocked runs left): refused
    record = (tmp_path / "quantify.json").read_bytes()
    write_results(first, tmp_path / "other", say=lambda _: None)
    (tmp_path / "patients.csv").write_bytes((tmp_path / "other/patients.csv").read_bytes())
    with pytest.raises(ResultSetError, match=r"^patients\.csv missing or not the file of set "
                       + second.info["set"]["id"]):
        read_results(tmp_path)
    # a table edited by hand: refused; a record written before sets existed: refused
    write_results(second, tmp_path, say=lambda _: None)
    table = tmp_path / "qc.csv"
    table.write_bytes(table.read_bytes().replace(b"second", b"secomd"))
    with pytest.raises(ResultSetError, match=r"^qc\.csv missing"):
        read_results(tmp_path)
    legacy = json.loads(record)
    del legacy["set"]
    (tmp_path / "quantify.json").write_text(json.dumps(legacy))
    with pytest.raises(ResultSetError, match="no set record"):
        read_results(tmp_path)


def test_strict_load_refuses_a_set_that_is_not_whole(tmp_path):
    from nethelpers.config import params_from_dict

    params = params_from_dict({"study": {"name": "t", "data_root": str(tmp_path / "none")},
                               "quantify": {"output": str(tmp_path / "q")}})
    write_results(_result("a"), tmp_path / "q", say=lambda _: None)
    (tmp_path / "q/measurements.csv").write_text("scan_id,suv_max,tag\nS000,9.9,a\n")
    with pytest.raises(QuantifyError, match=r"measurements\.csv missing or not the file of set"):
        load_results(params, strict=True)


def test_a_writer_that_fails_midway_never_leaves_a_set_that_reads(tmp_path, monkeypatch):
    write_results(_result("old"), tmp_path, say=lambda _: None)
    old_id = read_results(tmp_path).info["set"]["id"]

    def disk_full(path):
        raise OSError(28, "No space left on device")

    # failing while staging: the current set is untouched
    monkeypatch.setattr(resultset, "fsync_file", disk_full)
    with pytest.raises(OSError):
        write_results(_result("new"), tmp_path, say=lambda _: None)
    monkeypatch.undo()
    assert read_results(tmp_path).info["set"]["id"] == old_id
    # dying between the renames: the folder holds a mixed set, which is refused
    swaps: list[str] = []

    def die_after_one(source: Path, target: Path) -> None:
        if swaps:
            raise KeyboardInterrupt
        swaps.append(target.name)
        os.replace(source, target)

    monkeypatch.setattr(resultset, "_swap", die_after_one)
    with pytest.raises(KeyboardInterrupt):
        write_results(_result("new"), tmp_path, say=lambda _: None)
    monkeypatch.undo()
    assert swaps == ["measurements.csv"]
    with pytest.raises(ResultSetError, match=r"^measurements\.csv missing or not the file of "
                       f"set {old_id}"):
        read_results(tmp_path)
    write_results(_result("again"), tmp_path, say=lambda _: None)   # the next run repairs it
    assert _tags(read_results(tmp_path)) == {"again"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --------------------------------------------------------------------------------------------
# racing writers and readers (separate processes)
# --------------------------------------------------------------------------------------------


def _slow_swap(source: Path, target: Path) -> None:
    os.replace(source, target)
    time.sleep(0.002)                # widen the window between the renames: races show


def _writer(folder: str, index: int, barrier, out) -> None:
    resultset._swap = _slow_swap
    done = []
    notes: list[str] = []
    for round_ in range(ROUNDS):
        barrier.wait()
        started = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        barrier.wait()               # both have started before either writes: a forced race
        result = _result(f"w{index}-r{round_}")
        result.info["started"] = started
        write_results(result, folder, lock_timeout=30, say=notes.append)
        entry = result.info["set"]
        done.append((entry["id"], (entry["replaces"] or {}).get("id"), result.info["tag"]))
    out.put((index, done, notes))


def _reader(folder: str, stop, out) -> None:
    names = ("measurements.csv", "patients.csv", "qc.csv")
    verified = mixed = errors = naive_reads = naive_mixed = 0
    while not stop.is_set():
        try:
            tags = _tags(read_results(folder))
            verified += 1
            mixed += len(tags) != 1
        except ResultSetError:
            errors += 1
        # the control: the same files read without the set check do mix runs
        try:
            frames = [pd.read_csv(Path(folder, n)) for n in names]
            info = json.loads(Path(folder, "quantify.json").read_text())
            naive = set(frames[0]["tag"]) | set(frames[1]["netpet"]) | set(
                frames[2]["reason"]) | {info["tag"]}
            naive_reads += 1
            naive_mixed += len(naive) != 1
        except (OSError, ValueError, KeyError):
            pass
    out.put((verified, mixed, errors, naive_reads, naive_mixed))


@pytest.fixture
def fast_dir(tmp_path):
    """A folder in memory where there is one (fsync costs ~10 ms a file on disk), else tmp_path."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="nethelpers-race-", dir=shm))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_racing_writers_never_give_a_reader_a_mixed_set_nor_lose_a_set(fast_dir):
    folder = str(fast_dir / "q")
    write_results(_result("initial"), folder, say=lambda _: None)
    initial = read_results(folder).info["set"]["id"]
    # fork: the children start in milliseconds (spawn re-imports pandas: +6 s)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    barrier, stop = ctx.Barrier(WRITERS), ctx.Event()
    wrote, read = ctx.Queue(), ctx.Queue()
    readers = [ctx.Process(target=_reader, args=(folder, stop, read)) for _ in range(READERS)]
    writers = [ctx.Process(target=_writer, args=(folder, i, barrier, wrote))
               for i in range(WRITERS)]
    for p in readers + writers:
        p.start()
    results = [wrote.get(timeout=60) for _ in writers]
    stop.set()
    counts = [read.get(timeout=60) for _ in readers]
    for p in readers + writers:
        p.join(timeout=10)
    # readers: only whole sets, and the race was real (unchecked reads saw mixed sets)
    verified, mixed, errors, naive_reads, naive_mixed = map(sum, zip(*counts, strict=True))
    assert mixed == 0 and errors == 0 and verified >= 10
    assert naive_reads >= 10 and naive_mixed >= 1
    # writers: every set written was committed once, each replaced exactly the set before it
    writes = [w for _, done, _ in results for w in done]
    assert len(writes) == WRITERS * ROUNDS
    replaces = {before: set_id for set_id, before, _ in writes}
    assert len(replaces) == len(writes)                          # no set replaced twice
    chain, here = [], initial
    while here in replaces:
        here = replaces[here]
        chain.append(here)
    assert sorted(chain) == sorted(w[0] for w in writes)
    final = read_results(folder)
    assert final.info["set"]["id"] == chain[-1]
    assert _tags(final) == {dict((w[0], w[2]) for w in writes)[chain[-1]]}
    # each round, the writer that committed second waited for the lock, and says it
    # replaced the set the other wrote since it started
    notes = [n for _, _, ns in results for n in ns]
    replaced = [n for n in notes if n.startswith("quantify: replaced set ")]
    assert len(replaced) == ROUNDS
    assert all("written by another run" in n and "since this run started" in n
               for n in replaced)
    assert any("another quantify run holds the lock" in n for n in notes)
