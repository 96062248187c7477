"""Files a run creates and trusts: the log, the command file and the token.

A run obeys its command file and writes into its log, so neither may be a file somebody else
prepared. In a shared directory (the system temp folder, a group scratch folder) another user
can create ``exp.cmd`` with mode 0666 before the owner starts ``exp`` there, or plant a
symbolic link. So every such file is created with ``O_EXCL | O_NOFOLLOW``; an existing one is
opened without following links and checked on the open descriptor (no race between check and
use): a regular file, owned by this user, not writable by group or others, with one link. A file
that fails the check is never used: the caller takes a fresh name (:func:`open_owned_or_fresh`)
or turns the transport off.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path

O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_TRIES = 8


class UntrustedFile(OSError):
    """An existing file that this run must not read from or write to."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__(errno.EPERM, f"{path} {reason}")
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path} {self.reason}"


def untrusted_reason(st: os.stat_result) -> str | None:
    """Why a file with this ``stat`` cannot be trusted, or None when it can."""
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_uid != os.geteuid():
        return f"belongs to another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"can be written by other users (mode {stat.S_IMODE(st.st_mode):04o})"
    if st.st_nlink > 1:
        return "has other hard links"
    return None


def open_owned(path: str | os.PathLike[str], flags: int, mode: int) -> tuple[int, bool]:
    """Open ``path``: create it exclusively, or open the existing file only if it is trusted.

    Returns ``(fd, created)``. Raises :class:`UntrustedFile` for a file that fails the check
    (or a symbolic link), and ``OSError`` for what the OS refuses (read-only, full, missing
    directory).
    """
    path = os.fspath(path)
    for _ in range(_TRIES):
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        except FileExistsError:
            pass
        else:
            return fd, True
        try:
            # O_NONBLOCK: a FIFO planted at the path must not block the open.
            fd = os.open(path, flags | O_NOFOLLOW | O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            continue  # removed between the two opens: try to create it again
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UntrustedFile(path, "is a symbolic link") from None
            raise
        reason = untrusted_reason(os.fstat(fd))
        if reason is not None:
            os.close(fd)
            raise UntrustedFile(path, reason)
        return fd, False
    raise OSError(errno.EAGAIN, f"{path} keeps appearing and disappearing")


def fresh_name(path: str | os.PathLike[str]) -> Path:
    """``runs/exp.cmd`` → ``runs/exp.<8 random hex>.cmd``: a name nobody can have prepared."""
    path = Path(path)
    tag = secrets.token_hex(4)
    if path.suffix:
        return path.with_name(f"{path.stem}.{tag}{path.suffix}")
    return path.with_name(f"{path.name}.{tag}")


def open_owned_or_fresh(
    path: str | os.PathLike[str], flags: int, mode: int
) -> tuple[int, Path, UntrustedFile | None]:
    """:func:`open_owned`, falling back to a fresh name (created exclusively) when ``path``
    cannot be trusted. Returns ``(fd, the path used, the refusal or None)``."""
    try:
        fd, _ = open_owned(path, flags, mode)
        return fd, Path(path), None
    except UntrustedFile as refusal:
        for _ in range(_TRIES):
            fresh = fresh_name(path)
            with contextlib.suppress(FileExistsError):
                flags_x = flags | os.O_CREAT | os.O_EXCL | O_NOFOLLOW | O_CLOEXEC
                return os.open(fresh, flags_x, mode), fresh, refusal
        raise


def same_file(path: str | os.PathLike[str], ino: int | None) -> bool:
    """True when ``path`` still names the file with inode ``ino`` (no links followed)."""
    try:
        return ino is not None and os.lstat(path).st_ino == ino
    except OSError:
        return False


def remove_if_same(path: str | os.PathLike[str] | None, ino: int | None) -> OSError | None:
    """Remove ``path`` if it is still the file we created; the error when that fails."""
    if path is None or not same_file(path, ino):
        return None
    try:
        os.unlink(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return exc
    return None
