"""The session's events as Textual messages: the same dataclasses, deliverable to the app.

Each message class is its event class (:mod:`lrwatch.session.events`) and a Textual
:class:`~textual.message.Message`, so a handler reads the event's data and tests may post
either. Latest-state messages (reading and rules progress) say so with ``can_replace``: a
newer one supersedes one still queued.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from textual.message import Message

from lrwatch.session import events as ev


@dataclass
class DataArrived(ev.DataArrived, Message):
    """New records were added to the store (counts and run events per run)."""


@dataclass
class FindingsChanged(ev.FindingsChanged, Message):
    """The rule engine of a run has a new findings list (the full current list)."""


@dataclass
class RulesProgress(ev.RulesProgress, Message):
    """How far the rule engine is behind (latest state: a newer one replaces a queued one)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RulesProgress)  # ``message``: the newer one


@dataclass
class SourceProblem(ev.SourceProblem, Message):
    """A reader or stream failed or lost its connection."""


@dataclass
class InputClosed(ev.InputClosed, Message):
    """A run's input (a pipe) reached EOF."""


@dataclass
class ReadProgress(ev.ReadProgress, Message):
    """How much of the backlog is read (latest state, except the last one, ``done``)."""

    def can_replace(self, message: Message) -> bool:
        # ``message`` is the newer one; the last (``done``) is never dropped.
        return isinstance(message, ReadProgress) and not self.done


@dataclass
class ControlState(ev.ControlState, Message):
    """A run's control connection connected, failed or was lost."""


@dataclass
class ControlReply(ev.ControlReply, Message):
    """A run answered a command."""


@dataclass
class ChildExited(ev.ChildExited, Message):
    """The training command of ``lrwatch run`` exited."""


@dataclass
class StatusNote(ev.StatusNote, Message):
    """Something for the status line (attach: waiting for the socket)."""


_MESSAGES: dict[type, type[Message]] = {
    ev.DataArrived: DataArrived,
    ev.FindingsChanged: FindingsChanged,
    ev.RulesProgress: RulesProgress,
    ev.SourceProblem: SourceProblem,
    ev.InputClosed: InputClosed,
    ev.ReadProgress: ReadProgress,
    ev.ControlState: ControlState,
    ev.ControlReply: ControlReply,
    ev.ChildExited: ChildExited,
    ev.StatusNote: StatusNote,
}


def wrap(event: ev.SessionEvent) -> Message:
    """The message for a session event (a message already is one)."""
    if isinstance(event, Message):
        return event
    cls = _MESSAGES[type(event)]
    return cls(**{f.name: getattr(event, f.name) for f in fields(event)})
