"""Carry out the autopilot's decisions on one run, through its control connection (blocking).

:meth:`PilotDriver.execute` sends a change, revert or rewind with its attribution
(``by="autopilot"``, the finding's id, the reason) and waits for the run's answer, or writes
a ``note`` record for a decision that changes nothing (skip, stop, held). Call it from a
worker thread: a change is answered at the run's next step boundary.

It sends through :meth:`RunControl.send_job`, the path the UI's keys take (so the run's
``lr_change`` record is known to be ours, not news); the :class:`PilotResult` carries that
job's events, which the owner hands back to the RunControl on its own thread
(``handle_reply``/``handle_state``) as for any job.

:func:`ask_status` is the ``status`` poll both drivers of the policy (``guard``'s and the
UI's) make for the snapshots a rewind needs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrwatch.session.autopilot import Autopilot, Decision
from lrwatch.session.commands import Command
from lrwatch.session.control import ASIDE_TIMEOUT, RunControl
from lrwatch.session.events import ControlReply, SessionEvent


@dataclass
class PilotResult:
    """How one decision went: the run's reply, and what else was written or learned."""

    decision: Decision
    ok: bool
    reply: dict[str, Any] = field(default_factory=dict)
    #: The RunControl jobs' events, for the owner to hand back on its own thread.
    events: list[SessionEvent] = field(default_factory=list)
    #: Notes written after the answer (a refusal: why, and that the finding is dropped).
    notes: list[Decision] = field(default_factory=list)


class PilotDriver:
    """Executes :class:`Decision` values on one run (see the module docstring).

    Every answer to a change is handed to :meth:`Autopilot.answered` (so the outcome is
    watched) and the notes it returns are written too.
    """

    def __init__(self, control: RunControl, autopilot: Autopilot) -> None:
        self.control = control
        self.autopilot = autopilot

    def execute(self, decision: Decision) -> PilotResult:
        """Send ``decision`` (blocking) and return the run's answer."""
        ok, reply, events = self.send(decision.request())
        result = PilotResult(decision, ok, reply, events)
        if not decision.changes:
            return result
        for note in self.autopilot.answered(decision, ok, reply):
            result.events += self.send(note.request())[2]
            result.notes.append(note)
        return result

    def send(self, cmd: Command) -> tuple[bool, dict[str, Any], list[SessionEvent]]:
        """One request: (ok, the reply, the RunControl job's events)."""
        events = self.control.send_job(cmd)()
        answer = next((ev for ev in events if isinstance(ev, ControlReply)), None)
        if answer is None:
            return False, _failed("no answer"), events
        reply = answer.reply or _failed(answer.error)
        return answer.ok, reply, events


def ask_status(rc: RunControl, timeout: float = ASIDE_TIMEOUT) -> dict[str, Any] | None:
    """The run's ``status`` reply (its ``snapshots``), asked on a connection of its own so it
    never waits behind a change in flight; None when the run gave none (asked again later)."""
    try:
        reply = rc.request_aside("status", timeout=timeout)
    except Exception:
        return None
    return reply if reply.get("ok") else None


def _failed(why: object) -> dict[str, Any]:
    """An error reply for a request that got no answer from the run (not connected, lost)."""
    return {"ok": False, "error": {"code": "not_sent", "message": str(why)}}
