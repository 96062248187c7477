"""Telling ``lrwatch run`` where this run logs, whatever ``log=`` says (the line's format and
the environment variable: :mod:`lrwatch.rendezvous`).

One ``write(2)`` on an ``O_APPEND`` descriptor, so lines of several Monitors (a script that
makes two) never interleave. Errors are swallowed: training never dies for this.
"""

from __future__ import annotations

import os
from pathlib import Path

from lrwatch.rendezvous import Announcement


def announce(
    target: str | None,
    log: str | os.PathLike[str],
    run: str,
    console: str | os.PathLike[str] | None = None,
) -> bool:
    """Append this process's log to the file ``target`` (``$LRWATCH_RENDEZVOUS``); False when
    unset or failing."""
    if not target:
        return False
    try:
        line = Announcement(
            os.path.abspath(log),
            run,
            os.getpid(),
            None if console is None else os.path.abspath(console),
        ).line()
        fd = os.open(Path(target), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except Exception:
        return False
    return True
