"""Walk a folder tree the way a DICOM export needs: symbolic links followed once, loops noted.

PACS exports and dcm2niix-style trees share a series between studies with symbolic links,
or link in a folder kept elsewhere: :func:`walk_tree` follows a link to a folder (inside or
outside the tree) and lists its files, but reaches every folder and every file once. What it
cannot list is not dropped silently: each link it does not follow, and each folder it cannot
open, gives one :class:`WalkNote` naming it relative to the root:

- ``loop``: a link to its own folder or a folder above it (``a -> ..``), or a cycle of links;
- ``dangling``: a link whose target does not exist;
- ``duplicate``: a link to a folder or file already listed under another path (counted once,
  under the path without links when there is one);
- ``unreadable``: a folder or link the walk may not open (permissions);
- ``special``: not a regular file (a FIFO, a socket, a device), never read.

Real folders are walked first, then the links in the order met (names sorted), so a file
reached both ways keeps its real path, and the listing does not depend on the order the
operating system returns names in.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["TreeWalk", "WalkNote", "walk_tree"]

#: ``skip(name, is_dir)``: True for an entry the walk leaves out without a note.
Skip = Callable[[str, bool], bool]

_KINDS = {
    "loop": "symbolic link loop, not followed",
    "dangling": "dangling symbolic link (its target does not exist), not followed",
    "duplicate": "symbolic link to files listed under another path, counted once",
    "unreadable": "could not be opened, its files are not listed",
    "special": "not a regular file, not read",
}


@dataclass(frozen=True)
class WalkNote:
    """One thing the walk did not list, named relative to the root (POSIX separators).

    Attributes
    ----------
    kind : str
        ``loop``, ``dangling``, ``duplicate``, ``unreadable`` or ``special``.
    path : str
        The link, folder or file, relative to the root.
    detail : str
        What it points to (relative to the root) or why it could not be opened.
    """

    kind: str
    path: str
    detail: str = ""

    def __str__(self) -> str:
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.path}: {_KINDS[self.kind]}{detail}"


@dataclass
class TreeWalk:
    """The files of a tree and the notes of what was not listed.

    Attributes
    ----------
    files : list of (str, int, int)
        ``(path relative to the root with the OS separator, size, mtime_ns)``, in walk
        order (not sorted).
    notes : list of WalkNote
        One per link not followed, folder not opened or special file.
    """

    files: list[tuple[str, int, int]] = field(default_factory=list)
    notes: list[WalkNote] = field(default_factory=list)


def _posix(rel: str) -> str:
    return rel.replace(os.sep, "/") if rel else "."


def _why(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__       # never the path: it is absolute


def _key(path: str, info: os.stat_result) -> tuple:
    """A folder's or file's identity: (device, inode), else its real path.

    ``DirEntry.stat`` gives no inode on Windows, and a few file systems have none: ask
    ``os.stat``, then fall back to the resolved path.
    """
    if not info.st_ino:
        info = os.stat(path)
    if info.st_ino:
        return (info.st_dev, info.st_ino)
    return (-1, os.path.normcase(os.path.realpath(path)))


class _Walker:
    """The state of one walk (see :func:`walk_tree`)."""

    def __init__(self, root: str, skip: Skip | None) -> None:
        self.root = root
        self.skip = skip or (lambda name, is_dir: False)
        self.out = TreeWalk()
        self.folders: dict[tuple, str] = {}    # identity -> path listed under
        self.links: list[tuple[str, str, tuple[tuple, ...]]] = []
        self.file_links: list[tuple[str, str, os.stat_result]] = []
        self.linked_files: dict[tuple, str] = {}

    def note(self, kind: str, rel: str, detail: str = "") -> None:
        self.out.notes.append(WalkNote(kind, _posix(rel), detail))

    def walk(self, folder: str, rel: str, chain: tuple[tuple, ...]) -> None:
        """List ``folder`` and the real folders below it; queue the links met."""
        stack = [(folder, rel, chain)]
        while stack:
            folder, rel, chain = stack.pop()
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: e.name, reverse=True)
            except OSError as exc:
                self.note("unreadable", rel, _why(exc))
                continue
            for entry in entries:
                child = os.path.join(rel, entry.name) if rel else entry.name
                try:
                    if entry.is_symlink():
                        self.links.append((child, entry.path, chain))
                    elif entry.is_dir(follow_symlinks=False):
                        if not self.skip(entry.name, True):
                            key = _key(entry.path, entry.stat(follow_symlinks=False))
                            if self.enter(key, child, chain):   # a bind mount seen before
                                stack.append((entry.path, child, (*chain, key)))
                    elif not self.skip(entry.name, False):
                        self.add_file(child, entry.stat(follow_symlinks=False))
                except OSError as exc:
                    self.note("unreadable", child, _why(exc))
        self.links.sort(key=lambda link: link[0], reverse=True)

    def enter(self, key: tuple, rel: str, chain: tuple[tuple, ...]) -> bool:
        """Whether a folder is new (then it is recorded); a note when it is not."""
        if key in chain:
            above = self.folders[key]
            where = ("the folder it is in" if key == chain[-1] else
                     f"{_posix(above) if above else 'the root folder'}, a folder above it")
            self.note("loop", rel, f"points to {where}")
            return False
        if key in self.folders:
            self.note("duplicate", rel, f"same folder as {_posix(self.folders[key])}")
            return False
        self.folders[key] = rel
        return True

    def add_file(self, rel: str, info: os.stat_result) -> None:
        if stat.S_ISREG(info.st_mode):
            self.out.files.append((rel, info.st_size, info.st_mtime_ns))
        else:
            self.note("special", rel)

    def follow(self, rel: str, path: str, chain: tuple[tuple, ...]) -> None:
        """Follow one link: a folder is walked once, a file listed once."""
        name = os.path.basename(rel)
        try:
            info = os.stat(path)
        except OSError as exc:
            if self.skip(name, True) and self.skip(name, False):
                return
            kind = {errno.ELOOP: "loop", errno.ENOENT: "dangling",
                    errno.ENOTDIR: "dangling"}.get(exc.errno, "unreadable")
            self.note(kind, rel, "a cycle of links" if kind == "loop" else
                      "" if kind == "dangling" else _why(exc))
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        if self.skip(name, is_dir):
            return
        if is_dir:
            key = _key(path, info)
            if self.enter(key, rel, chain):
                self.walk(path, rel, (*chain, key))
            return
        if stat.S_ISREG(info.st_mode):
            self.file_links.append((rel, path, info))   # once every folder is walked
        else:
            self.note("special", rel)

    def add_linked_file(self, rel: str, path: str, info: os.stat_result) -> None:
        """List a link to a file, unless its target is listed already."""
        listed = self.listed_as(path, info)
        if listed is not None:
            self.note("duplicate", rel, f"same file as {_posix(listed)}")
            return
        self.linked_files[_key(path, info)] = rel
        self.out.files.append((rel, info.st_size, info.st_mtime_ns))

    def listed_as(self, path: str, info: os.stat_result) -> str | None:
        """Where a linked file's target is already listed (its real folder, or a link)."""
        key = _key(path, info)
        if key in self.linked_files:
            return self.linked_files[key]
        real = os.path.realpath(path)
        try:
            parent = os.path.dirname(real)
            folder = self.folders.get(_key(parent, os.stat(parent)))
        except OSError:
            return None
        name = os.path.basename(real)
        if folder is None or self.skip(name, False):
            return None       # its folder was not walked, or the walk skips its name
        return os.path.join(folder, name) if folder else name

    def run(self) -> TreeWalk:
        key = _key(self.root, os.stat(self.root))
        self.folders[key] = ""
        self.walk(self.root, "", (key,))
        while self.links:
            self.follow(*self.links.pop())
        for link in sorted(self.file_links, key=lambda link: link[0]):
            self.add_linked_file(*link)
        return self.out


def walk_tree(root: str | os.PathLike[str], skip: Skip | None = None) -> TreeWalk:
    """Every regular file under ``root``, symbolic links followed once, with notes.

    Parameters
    ----------
    root : path-like
        The folder (not followed further if it is itself a link: give it resolved).
    skip : callable, optional
        ``skip(name, is_dir)``: entries to leave out without a note (hidden files, names
        that are never DICOM). Applied to the link's name for a link.

    Returns
    -------
    TreeWalk
        Files with their sizes and mtimes, and one note per link not followed, folder not
        opened, duplicate reached through a link or special file (see the module notes).
    """
    return _Walker(os.fspath(root), skip).run()
