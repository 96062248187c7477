"""Where a child of ``lrwatch run`` logs, whatever its ``Monitor(log=...)`` says.

``lrwatch run`` hands the child ``LRWATCH_RENDEZVOUS=DIR/NAME.rendezvous``; a Monitor (rank 0)
appends one JSON line there once its log exists::

    {"log": "/abs/runs/exp1.jsonl", "run": "exp1", "pid": 4242, "console": null}

:class:`RendezvousReader` tails that file and hands back each announcement once. A name
ending in ``.rendezvous`` is no log suffix, so a directory watch never takes it for a run.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

#: The environment variable the Monitor reads (``lrwatch.train.monitor.ENV_RENDEZVOUS``;
#: repeated here: the session layer may not import the training side's module).
ENV_RENDEZVOUS = "LRWATCH_RENDEZVOUS"


@dataclass(frozen=True)
class Announcement:
    """A Monitor said where it logs: its log, run name, pid and console file (if it tees)."""

    log: str
    run: str = ""
    pid: int | None = None
    console: str | None = None


def parse_line(line: bytes) -> Announcement | None:
    """One rendezvous line, or None when it is not one (never raises)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("log"), str) or not obj["log"]:
        return None
    pid = obj.get("pid")
    console = obj.get("console")
    return Announcement(
        log=obj["log"],
        run=str(obj.get("run") or ""),
        pid=pid if isinstance(pid, int) else None,
        console=console if isinstance(console, str) and console else None,
    )


class RendezvousReader:
    """New announcements in ``path`` since the last :meth:`poll` (complete lines only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._rest = b""

    def poll(self) -> list[Announcement]:
        """Announcements appended since the last call (none while the file does not exist)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return []
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()  # a line being written: read when its newline is there
        return [a for raw in lines if raw.strip() and (a := parse_line(raw)) is not None]


def rendezvous_path(directory: str, name: str) -> str:
    """The rendezvous file of run ``name`` in ``directory``."""
    return os.path.join(directory, f"{name}.rendezvous")
