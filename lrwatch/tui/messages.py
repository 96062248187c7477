"""Messages workers post to the app: small dataclasses, batched by time, never per record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class DataArrived(Message):
    """New records were added to the store: run name -> how many (≤10 per second)."""

    counts: dict[str, int]


@dataclass
class FindingsChanged(Message):
    """The rule engine of run ``run`` has new or changed findings (the full current list)."""

    run: str
    findings: list[Any] = field(default_factory=list)


@dataclass
class SourceProblem(Message):
    """A reader or stream failed or lost its connection; ``text`` says what and where."""

    text: str
    fatal: bool = False


@dataclass
class ControlState(Message):
    """The control connection of ``run`` connected, failed or was lost."""

    run: str
    connected: bool
    error: str = ""


@dataclass
class ControlReply(Message):
    """The run answered a command (``ok`` false: refused or failed, ``error`` says why)."""

    run: str
    op: str
    ok: bool
    reply: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class ChildExited(Message):
    """The training command started by ``lrwatch run`` exited with ``code``."""

    code: int


@dataclass
class RulesProgress(Message):
    """The rule engine is ``behind`` records behind the charts; ``skipped`` were never checked."""

    behind: int
    skipped: int = 0


@dataclass
class InputClosed(Message):
    """Run ``run``'s input (a pipe) reached EOF: nothing more will arrive."""

    run: str


@dataclass
class ReadProgress(Message):
    """The reader is catching up with what the files held at start: ``read`` of ``total`` bytes.

    ``done``: the backlog is read (the charts draw all of it now); posted once, last.
    """

    read: int
    total: int
    done: bool = False
