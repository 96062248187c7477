"""What a session tells whoever drives it: plain dataclasses, posted by time, never per record.

The session's threads (readers, the rule engine, control I/O, the child's waiter) call an
``emit`` callback with these; the TUI wraps each in a Textual message
(:mod:`lrwatch.tui.messages`), ``guard`` or a test can take them as they are. Each carries the
data its consumer needs, so nobody has to reach back into the thread that made it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lrwatch.records import Event


@dataclass
class DataArrived:
    """New records are in the store: run name -> how many (at most ~10 of these a second).

    ``events``: the run events (``lr_change``, ``pause``, ``resume``, ``end`` …) among them,
    per run, in order, so a consumer can react to them without scanning the store.
    ``backlog``: see the field.
    """

    counts: dict[str, int]
    events: dict[str, list[Event]] = field(default_factory=dict)
    #: Part of the backlog (what the files held at start): more comes at once, and a
    #: :class:`ReadProgress` with ``done`` follows the last of it.
    backlog: bool = False

    def merge(self, other: DataArrived) -> None:
        """Add ``other``'s counts and events to these (an update that was not consumed yet)."""
        for name, n in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + n
        for name, evs in other.events.items():
            self.events.setdefault(name, []).extend(evs)


@dataclass
class FindingsChanged:
    """The rule engine of run ``run`` has new or changed findings (the full current list)."""

    run: str
    findings: list[Any] = field(default_factory=list)


@dataclass
class RulesProgress:
    """The rule engine is ``behind`` records behind the charts; ``skipped`` were never checked."""

    behind: int
    skipped: int = 0


@dataclass
class SourceProblem:
    """A reader or stream failed or lost its connection; ``text`` says what and where."""

    text: str
    fatal: bool = False


@dataclass
class InputClosed:
    """Run ``run``'s input (a pipe) reached EOF: nothing more will arrive."""

    run: str


@dataclass
class ReadProgress:
    """The reader is catching up with what the files held at start: ``read`` of ``total`` bytes.

    ``done``: the backlog is read (the charts draw all of it now); posted once, last.
    """

    read: int
    total: int
    done: bool = False


@dataclass
class ControlState:
    """The control connection of ``run`` connected (``client`` is it), failed or was lost."""

    run: str
    connected: bool
    error: str = ""
    client: Any = field(default=None, repr=False, compare=False)


@dataclass
class ControlReply:
    """The run answered a command (``ok`` false: refused or failed, ``error`` says why)."""

    run: str
    op: str
    ok: bool
    reply: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class ChildExited:
    """The training command started by ``lrwatch run`` exited with ``code``."""

    code: int


@dataclass
class StatusNote:
    """Something the status line should say (``attach`` waiting for its socket, connected)."""

    text: str
    error: bool = False


SessionEvent = (
    DataArrived
    | FindingsChanged
    | RulesProgress
    | SourceProblem
    | InputClosed
    | ReadProgress
    | ControlState
    | ControlReply
    | ChildExited
    | StatusNote
)
#: Where a session's threads send their events (the TUI: wrap and ``post_message``).
Emit = Callable[[SessionEvent], object]
