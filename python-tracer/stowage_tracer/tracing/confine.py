"""Which files of a model source may be read: every one must resolve inside an allowed root.

A source is walked before anything in it is opened. Each entry's real path (symlinks followed, as open()
would follow them) must lie inside one of the roots, and must be a directory or a regular file: a weights
file linked to a pickle elsewhere on the host, an `etc -> /etc` inside the folder, or a FIFO or device
(which would block or stream forever when read) fails the trace with the entry and where it points.
Nothing outside the roots is opened: resolving a link only reads link metadata (lstat, readlink).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from .errors import invalid_input

_SPECIAL = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def inside(path: Path, roots: Sequence[Path]) -> bool:
    return any(path.is_relative_to(root) for root in roots)


def confined_files(top: Path, roots: Sequence[Path], source: str) -> list[Path]:
    """Every regular file under `top` (as a path through `top`, in sorted order), once the whole tree is
    known to stay inside `roots`; otherwise a non-retryable InvalidInput naming the first offending entry."""
    files: list[Path] = []
    visited: set[Path] = set()

    def refuse(entry: Path, why: str):
        where = entry.relative_to(top).as_posix() if entry != top else top.name
        return invalid_input(f"source {source!r}: {where} {why}")

    pending = [top]
    while pending:
        entry = pending.pop()
        real = Path(os.path.realpath(entry))
        if not inside(real, roots):
            shown = ", ".join(str(r) for r in roots) or "none configured"
            link = "is a symlink to" if entry.is_symlink() else "resolves to"
            raise refuse(entry, f"{link} {real}, outside the allowed roots ({shown})")
        try:
            mode = os.stat(real).st_mode
        except OSError as err:  # a dangling or looping symlink: nothing to read there
            raise refuse(entry, f"is a broken link ({err.strerror})") from None
        if stat.S_ISREG(mode):
            files.append(entry)
        elif stat.S_ISDIR(mode):
            if real in visited:  # a link back up the tree: its files are listed once already
                continue
            visited.add(real)
            with os.scandir(entry) as entries:
                names = sorted((e.name for e in entries), reverse=True)
            pending.extend(entry / name for name in names)
        else:
            raise refuse(entry, f"is {_SPECIAL.get(stat.S_IFMT(mode), 'a special file')}, not a regular file")
    return sorted(files)
