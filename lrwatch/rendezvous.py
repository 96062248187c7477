"""The rendezvous line: how a Monitor tells ``lrwatch run`` where it logs.

``lrwatch run`` sets ``LRWATCH_LOG`` for a Monitor left at its defaults, but a script that
names its own file (``Monitor(log="runs/exp1.jsonl")``, the README's pattern) rightly ignores
it. So the parent also hands the child ``LRWATCH_RENDEZVOUS=DIR/NAME.rendezvous``, and every
Monitor (rank 0) appends one JSON line there once its log exists::

    {"log": "/abs/runs/exp1.jsonl", "run": "exp1", "pid": 4242, "console": null}

The training side writes it (:mod:`lrwatch.train.rendezvous`), the session reads it
(:mod:`lrwatch.session.rendezvous`); both take the format from here. A ``.rendezvous`` file
is never a run (:mod:`lrwatch.sources.naming`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

#: The environment variable that names the rendezvous file.
ENV_RENDEZVOUS = "LRWATCH_RENDEZVOUS"
#: The rendezvous file's suffix (``DIR/NAME.rendezvous``).
SUFFIX = ".rendezvous"


@dataclass(frozen=True)
class Announcement:
    """A Monitor said where it logs: its log, run name, pid and console file (if it tees)."""

    log: str
    run: str = ""
    pid: int | None = None
    console: str | None = None

    def line(self) -> bytes:
        """The announcement as one line of JSON, newline included."""
        return (json.dumps(asdict(self)) + "\n").encode()


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
