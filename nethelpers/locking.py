"""A lock on a folder: one writer at a time, and a message naming who holds it.

A lock is a small file ``<folder>/.<name>.lock`` created exclusively (``O_CREAT | O_EXCL``,
which is atomic on local disks and NFS v3+) and holding its owner: process ID, host,
start time (UTC) and a random token. A second writer polls until the file is gone, up to
a timeout, then refuses with one line naming the owner (never a path). A lock left by a
process that is gone (its PID is dead on this host, or the file stayed empty for
:data:`EMPTY_GRACE_S`) is taken over, with a note. A lock of another host is never judged
stale (its PID cannot be checked from here): the message says to delete the file if no
run is going on there.

Taking over goes through a second, short-lived guard file (``.<name>.lock.break``): only
one process breaks a stale lock at a time, and it removes the lock only if the file still
holds the owner it judged dead, so a fresh lock taken meanwhile is never removed.

The lock is re-entrant within one thread: the ``nethelpers quantify`` command holds it for
its whole run and :func:`nethelpers.quantify.write_results` takes it again to write.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

__all__ = ["EMPTY_GRACE_S", "FolderLock", "FolderLockedError", "LockHolder", "lock_holder"]

EMPTY_GRACE_S = 10.0
"""A lock file still empty after this many seconds was left by a process that died taking it."""

_GUARD_STALE_S = 10.0  # a break guard older than this was left by a crash (breaking takes ms)
_POLL_S = 0.05

_held: dict[tuple[int, str], list] = {}  # (pid, lock file) -> [thread ident, depth, token]
_held_guard = threading.Lock()


class FolderLockedError(RuntimeError):
    """Another process holds the folder's lock (the message says who, in one line)."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds a lock, as its file records it.

    Attributes
    ----------
    pid : int
        Process ID (-1 when the file is empty or unreadable).
    host : str
        Host name.
    started : str
        When the lock was taken (ISO 8601, UTC).
    token : str
        Random, unique to this taking of the lock.
    what : str
        The kind of run (e.g. ``quantify``).
    """

    pid: int
    host: str
    started: str
    token: str
    what: str = ""

    def describe(self) -> str:
        """``pid 123 on host lab-7 since 2025-01-09T10:02:03+00:00`` (no path)."""
        if self.pid < 0:
            return "a process that is still taking it (its lock file is empty)"
        return f"pid {self.pid} on host {self.host} since {self.started}"


def lock_holder(path: str | os.PathLike[str]) -> LockHolder | None:
    """The holder recorded in a lock file, or None if there is no lock file.

    Parameters
    ----------
    path : path-like
        The lock file.

    Returns
    -------
    LockHolder or None
        A file that is empty or unreadable gives ``pid`` -1.
    """
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError:
        raw = ""
    try:
        data = json.loads(raw)
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["started"]),
                          str(data["token"]), str(data.get("what", "")))
    except (ValueError, KeyError, TypeError):
        return LockHolder(-1, "", "", "")


def _pid_alive(pid: int) -> bool:
    """Whether a process of this host runs with this PID (True when it cannot be told)."""
    if os.name == "posix":
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:          # PermissionError: it runs, as another user
            return True
        return True
    try:
        import psutil  # installed with dask.distributed
    except ImportError:
        return True
    return bool(psutil.pid_exists(pid))


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return 0.0


class FolderLock:
    """An exclusive lock on a folder, held by one process (and re-entrant in its thread).

    Parameters
    ----------
    folder : str or Path
        The folder (created when the lock is taken).
    name : str
        Names the lock file ``.<name>.lock`` and the run in messages (e.g. ``quantify``).
    timeout : float
        Seconds to wait for another holder (0: refuse at once).
    say : callable, optional
        Receives the one-line notes: waiting for a holder, taking over a stale lock.
        Default: ignored.

    Examples
    --------
    >>> with FolderLock("derived/demo", "quantify", timeout=60):  # doctest: +SKIP
    ...     write_the_files()
    """

    def __init__(self, folder: str | os.PathLike[str], name: str, *, timeout: float,
                 say: Callable[[str], None] | None = None) -> None:
        self.folder = Path(folder)
        self.name = name
        self.path = self.folder / f".{name}.lock"
        self.timeout = max(float(timeout), 0.0)
        self.say = say or (lambda _text: None)
        self.token = ""

    # -- taking and releasing ----------------------------------------------------------------
    def acquire(self) -> FolderLock:
        """Take the lock, waiting up to ``timeout`` seconds for another holder.

        Returns
        -------
        FolderLock
            Itself.

        Raises
        ------
        FolderLockedError
            Another process still holds it after the timeout (the message names its PID,
            host and start time).
        """
        key = (os.getpid(), str(self.path.absolute()))  # a forked child holds nothing
        with _held_guard:
            mine = _held.get(key)
            if mine is not None and mine[0] == threading.get_ident():
                mine[1] += 1
                self.token = mine[2]
                return self
        self.folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.timeout
        told: str | None = None
        while True:
            if self._try_create():
                with _held_guard:
                    _held[key] = [threading.get_ident(), 1, self.token]
                return self
            holder = lock_holder(self.path)
            if holder is None:
                continue                                  # released meanwhile: try again
            if self._stale(holder):
                if self._break(holder):
                    self.say(f"{self.name}: took over the lock of the output folder left by "
                             f"{holder.describe()} (that process is gone)")
                continue
            if time.monotonic() >= deadline:
                raise FolderLockedError(self._refusal(holder))
            if told != holder.token:
                told = holder.token
                self.say(f"{self.name}: another {holder.what or self.name} run holds the lock "
                         f"of the output folder ({holder.describe()}); waiting up to "
                         f"{self.timeout:g} s")
            time.sleep(_POLL_S)

    def release(self) -> None:
        """Release the lock (the file is removed only if it still holds this owner)."""
        key = (os.getpid(), str(self.path.absolute()))
        with _held_guard:
            mine = _held.get(key)
            if mine is None or mine[0] != threading.get_ident():
                return
            mine[1] -= 1
            if mine[1] > 0:
                return
            del _held[key]
        holder = lock_holder(self.path)
        if holder is not None and holder.token == mine[2]:
            self.path.unlink(missing_ok=True)
        elif holder is not None:
            self.say(f"{self.name}: the lock of the output folder was taken over by "
                     f"{holder.describe()} while this run held it; left to that run")

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    # -- helpers -----------------------------------------------------------------------------
    def _try_create(self) -> bool:
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        token = uuid.uuid4().hex
        record = {"pid": os.getpid(), "host": socket.gethostname(), "what": self.name,
                  "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "token": token}
        try:
            os.write(fd, (json.dumps(record) + "\n").encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.path.unlink(missing_ok=True)
            raise
        os.close(fd)
        self.token = token
        return True

    def _stale(self, holder: LockHolder) -> bool:
        if holder.pid < 0:
            return _age_s(self.path) > EMPTY_GRACE_S
        return holder.host == socket.gethostname() and not _pid_alive(holder.pid)

    def _break(self, seen: LockHolder) -> bool:
        """Remove a stale lock if it still holds ``seen``; one breaker at a time."""
        guard = self.path.with_name(self.path.name + ".break")
        try:
            os.close(os.open(guard, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        except FileExistsError:
            if _age_s(guard) > _GUARD_STALE_S:
                guard.unlink(missing_ok=True)
            time.sleep(_POLL_S)
            return False
        try:
            now = lock_holder(self.path)
            if now is None or now != seen or not self._stale(now):
                return False
            self.path.unlink(missing_ok=True)
            return True
        finally:
            guard.unlink(missing_ok=True)

    def _refusal(self, holder: LockHolder | None) -> str:
        who = holder.describe() if holder else "another process"
        text = (f"the output folder is locked by another {self.name} run ({who}); waited "
                f"{self.timeout:g} s. Wait for that run to finish, or raise "
                f"{self.name}.lock_timeout")
        if holder is not None and holder.pid >= 0 and holder.host != socket.gethostname():
            text += (f"; if no {self.name} run is going on at host {holder.host}, delete "
                     f"{self.path.name} in the output folder")
        return text
