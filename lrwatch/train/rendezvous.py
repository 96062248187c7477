"""Telling ``lrwatch run`` where this run logs, whatever ``log=`` says.

``lrwatch run`` sets ``LRWATCH_LOG`` for a Monitor left at its defaults, but a script that
names its own file (``Monitor(log="runs/exp1.jsonl")``, the README's pattern) rightly ignores
it, and the UI would wait on the wrong file. So the parent also sets ``LRWATCH_RENDEZVOUS`` to
a file, and every Monitor (rank 0) appends one JSON line to it once its log exists::

    {"log": "/abs/runs/exp1.jsonl", "run": "exp1", "pid": 4242, "console": null}

One ``write(2)`` on an ``O_APPEND`` descriptor, so lines of several Monitors (a script that
makes two) never interleave. Errors are swallowed: training never dies for this.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def announce(
    target: str | None,
    log: str | os.PathLike[str],
    run: str,
    console: str | os.PathLike[str] | None = None,
) -> bool:
    """Append this process's log to the file ``target`` (``$LRWATCH_RENDEZVOUS``, the name
    :data:`lrwatch.train.monitor.ENV_RENDEZVOUS`); False when unset or failing."""
    if not target:
        return False
    record = {
        "log": os.path.abspath(log),
        "run": run,
        "pid": os.getpid(),
        "console": None if console is None else os.path.abspath(console),
    }
    try:
        line = (json.dumps(record) + "\n").encode()
        fd = os.open(Path(target), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except Exception:
        return False
    return True
