"""The app's LR-control keys: plan, confirm, send in a worker, show the run's answer.

A mixin of :class:`~lrwatch.tui.app.LRWatchApp`, kept apart so the app module stays small.
Nothing is shown as changed until the run writes its ``lr_change`` record into the log; the
reply only says the run accepted (and at which step it applied) the change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import work

from lrwatch.tui import messages as msg
from lrwatch.tui.cards import change_text, finding_label, fix_question
from lrwatch.tui.control import (
    Command,
    ack_text,
    connect,
    error_text,
    plan_action,
    plan_scale,
    plan_set,
    send,
)
from lrwatch.tui.scale import fmt_num
from lrwatch.tui.summary import DONE_STATES, run_state
from lrwatch.tui.view import lr_names
from lrwatch.tui.widgets.dialogs import ConfirmScreen, LRInputScreen

if TYPE_CHECKING:
    from lrwatch.tui.app import LRWatchApp

    _Base = LRWatchApp
else:
    _Base = object

#: An ``lr_change`` written this many seconds ago or less is news for the status line.
NEWS_WINDOW = 60.0
#: Seconds to wait after a connection drops for the run's ``end`` record before saying "lost".
LOST_GRACE = 1.5

READ_ONLY_HINT = (
    "run {run} is read-only: it has no control socket. Add lrwatch.Monitor() to the training "
    "script (or start it with `lrwatch run -- CMD`) to change its LR from here."
)


class LRActions(_Base):
    """Key actions and workers for LR commands (mixed into the app)."""

    # ---- connection -----------------------------------------------------------------------

    def _ended(self, name: str) -> bool:
        """The run wrote ``end`` (or the child of ``lrwatch run`` exited): nothing to control."""
        run = self.store.runs.get(name)
        return self.child_code is not None or (run is not None and run.ended is not None)

    def _maybe_connect(self, name: str) -> None:
        info = self.control_info(name)
        if self._ended(name):
            self._note_end(name)
            return
        if info.endpoint and not info.connected and name not in self._connecting:
            self._connecting.add(name)
            self._connect(name, info.endpoint)

    @property
    def _connecting(self) -> set[str]:
        if not hasattr(self, "_connecting_set"):
            self._connecting_set: set[str] = set()
        return self._connecting_set

    def _note_end(self, name: str, state: str | None = None) -> None:
        """Once per run that ended: drop its connection (no more pings) and say so, calmly."""
        if state is not None and state not in DONE_STATES:
            return
        done: set[str] = self.__dict__.setdefault("_ended_runs", set())
        if name in done:
            return
        done.add(name)
        info = self.control_info(name)
        client = self.clients.pop(name, None)
        if client is not None:
            client.close()
        # Say it when the run was watched live, or when a control error is on screen for it.
        worth_saying = info.seen or bool(info.error)
        info.connected = info.checking = False
        info.error = ""
        run = self.store.runs.get(name)
        end = run.ended if run is not None else None
        if worth_saying and end is not None:
            status = end.data.get("status", "finished")
            where = f" at step {end.step:,}" if end.step is not None else ""
            self.status_w.show(f"■ run {name} {status}{where}; its control socket closed")

    @work(thread=True, exit_on_error=False, group="control")
    def _connect(self, name: str, endpoint: str) -> None:
        run = self.store.runs.get(name)
        try:
            client = None
            if run is not None and run.path and run.path != "-" and not self.attach_target:
                from lrwatch.control.client import ControlClient

                client = ControlClient.from_log(run.path)
                if client.request("hello").get("ok") is not True:
                    client = None
            if client is None:
                client = connect(endpoint, self.token)
            self.clients[name] = client
            self.post_message(msg.ControlState(name, True))
        except Exception as exc:
            self.post_message(msg.ControlState(name, False, str(exc) or type(exc).__name__))

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping")
    def _ping(self) -> None:
        """Ask every connected run for its status, so a dead socket shows up as lost."""
        for name, client in list(self.clients.items()):
            try:
                with self.client_lock:
                    client.request("status", timeout=2.0)
            except Exception as exc:
                client.close()
                self.post_message(msg.ControlState(name, False, f"lost: {exc}"))

    def on_control_state(self, message: msg.ControlState) -> None:
        name = message.run
        info = self.control_info(name)
        was, old_error = info.connected, info.error
        if self._ended(name):
            # A finished run closes its socket: expected, not an error.
            self._note_end(name)
            self._refresh_header()
            return
        if message.connected:
            info.connected, info.seen, info.error, info.checking = True, True, "", False
            self.status_w.clear_topic("control", self.view.describe())  # "not connected yet"
            self._refresh_header()
            return
        info.connected = False
        self.clients.pop(name, None)
        # Retry on the next tick after a pause (a restarted run may open a new socket).
        self.set_timer(5.0, lambda: self._connecting.discard(name))
        if was:
            # The run may have just written its end record: look again before crying "lost".
            info.checking = True
            self.set_timer(LOST_GRACE, lambda: self._confirm_lost(name, message.error))
        elif not (info.seen and old_error.startswith("lost")):
            # A lost run's failed reconnects keep saying "lost", and say it once.
            info.error = message.error
            if message.error != old_error:  # once, not on every failed retry
                self.status_w.show(f"✗ control of {name}: {message.error}", error=True)
        self._refresh_header()

    def _confirm_lost(self, name: str, error: str) -> None:
        info = self.control_info(name)
        if not info.checking:
            return  # reconnected, or the run ended meanwhile
        info.checking = False
        if self._ended(name):
            self._note_end(name)
        else:
            info.error = error if error.startswith("lost") else f"lost: {error}"
            text = f"control of {name} {info.error} (the run wrote no end record)"
            self.status_w.show(f"✗ {text}", error=True)
            self.notify(text, severity="error", timeout=8)
        self._refresh_header()

    # ---- changes made elsewhere ----------------------------------------------------------

    @property
    def _awaiting(self) -> set[str]:
        """Runs with a command of ours in flight."""
        return self.__dict__.setdefault("_awaiting_set", set())

    @property
    def _ours(self) -> set[tuple[str, int | None]]:
        """(run, step) of the LR changes our own commands made (their ack is already shown)."""
        return self.__dict__.setdefault("_ours_set", set())

    def _note_lr_changes(self) -> None:
        """Say when a run's LR was changed by someone else (``lrwatch ctl``, another UI).

        Only changes written in the last minute count: opening an old log is not news. The
        chart's marker shows every change; this line says it happened while you watched.
        """
        seen: dict[str, int] = self.__dict__.setdefault("_events_seen", {})
        now = self.clock()
        for name, run in list(self.store.runs.items()):
            events = run.events
            start, seen[name] = seen.get(name, 0), len(events)
            if name in self._awaiting:
                continue
            for ev in events[start:]:
                if ev.kind != "lr_change" or ev.t is None or now - ev.t > NEWS_WINDOW:
                    continue
                if (name, ev.step) in self._ours:
                    continue
                old, new = ev.data.get("old"), ev.data.get("new")
                change = change_text(old, new) if isinstance(old, list) and old and new else ""
                where = f" at step {ev.step:,}" if ev.step is not None else ""
                how = " · ".join(str(ev.data[k]) for k in ("op", "mode") if ev.data.get(k))
                self.status_w.show(
                    f"↻ LR of {name} changed{where} from elsewhere: {change}"
                    + (f" ({how})" if how else "")
                )

    # ---- planning and confirming ----------------------------------------------------------

    def _lrs(self, name: str) -> list[float]:
        run = self.store.runs[name]
        with self.lock:
            lrs = [float(run.series[n].values[-1]) for n in lr_names(run) if len(run.series[n])]
        if not lrs and run.header and isinstance(run.header.get("lr"), list):
            lrs = [float(x) for x in run.header["lr"]]
        return lrs

    def _controllable(self) -> str | None:
        run = self.current_run
        if run is None:
            return None
        info = self.control_info(run.name)
        if info.endpoint is None:
            self.status_w.show(READ_ONLY_HINT.format(run=run.name), error=True, topic="control")
            return None
        if run.name not in self.clients:
            why = info.error or "not connected yet"
            self.status_w.show(f"✗ control of {run.name}: {why}", error=True, topic="control")
            return None
        return run.name

    def _confirm_and_send(self, name: str, cmd: Command, why: str = "") -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self._awaiting.add(name)  # its lr_change record is ours, not news
                self.status_w.show(f"… {cmd.describe()} sent to {name}, waiting for the run")
                self._send(name, cmd)
            else:
                self.status_w.show("cancelled")

        question = fix_question(why, cmd.prompt(name))
        self.push_screen(ConfirmScreen(question), answered)

    def action_scale(self, factor: float) -> None:
        """Scale the LR of the current run (×0.5, ×2, ÷10), after confirmation."""
        name = self._controllable()
        if name:
            mode = self.control_info(name).mode
            self._confirm_and_send(name, plan_scale(factor, self._lrs(name), mode))

    def action_set_lr(self) -> None:
        """Type an exact LR, confirm, send."""
        name = self._controllable()
        if not name:
            return
        lrs = self._lrs(name)

        def typed(value: float | None) -> None:
            if value is not None:
                mode = self.control_info(name).mode
                self._confirm_and_send(name, plan_set(value, lrs, mode))

        self.push_screen(LRInputScreen(fmt_num(lrs[0]) if lrs else "unknown"), typed)

    def action_apply_finding(self) -> None:
        """Apply the selected finding's suggested fix, after confirmation."""
        finding = self.findings_w.current
        if finding is None:
            self.status_w.show("no findings to apply", error=True, topic="findings")
            return
        what = finding_label(finding)
        if getattr(finding, "resolved", False):
            # Its fix answered a problem that is over: applying it now would be a stale change.
            self.status_w.show(
                f"{what} is resolved: its fix is not applied (j/k: select an open finding)",
                error=True,
                topic="findings",
            )
            return
        action = getattr(finding, "action", None)
        if not action:
            advice = f"; advice: {finding.suggestion}" if finding.suggestion else ""
            self.status_w.show(f"{what} has no one-key fix{advice}", error=True, topic="findings")
            return
        name = self._controllable()
        if name:
            cmd = plan_action(action, self._lrs(name), self.control_info(name).mode)
            if cmd is not None:
                self._confirm_and_send(name, cmd, f"{finding.severity} {what}")

    def action_mode(self) -> None:
        """Switch LR changes between rescale (schedule keeps its shape) and pin."""
        run = self.current_run
        if run is not None:
            info = self.control_info(run.name)
            info.mode = "pin" if info.mode == "rescale" else "rescale"
            self.status_w.show(f"LR changes now use mode {info.mode}")
            self._refresh_header()

    def action_pause(self) -> None:
        """Pause or resume training (confirmed)."""
        name = self._controllable()
        if name:
            paused = run_state(self.store.runs[name], 0.0, None) == "paused"
            self._confirm_and_send(name, Command("resume" if paused else "pause"))

    # ---- sending --------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="command")
    def _send(self, name: str, cmd: Command) -> None:
        client = self.clients.get(name)
        if client is None:
            self.post_message(msg.ControlReply(name, cmd.op, False, error="not connected"))
            return
        try:
            with self.client_lock:  # one request at a time on a client's socket
                reply: dict[str, Any] = send(client, cmd)
        except Exception as exc:
            self.post_message(msg.ControlReply(name, cmd.op, False, error=str(exc)))
            self.post_message(msg.ControlState(name, False, f"lost: {exc}"))
            return
        ok = bool(reply.get("ok"))
        text = ack_text(cmd, reply) if ok else error_text(reply)
        self.post_message(msg.ControlReply(name, cmd.op, ok, reply, "" if ok else text))

    def on_control_reply(self, message: msg.ControlReply) -> None:
        status = self.status_w
        self._awaiting.discard(message.run)
        if message.ok:
            step = message.reply.get("step", message.reply.get("applied_step"))
            self._ours.add((message.run, step if isinstance(step, int) else None))
            text = ack_text(Command(message.op), message.reply)
            status.show(f"✓ {message.run}: {text}")
            # Brief: the status line keeps it; a toast must not hide the chart that shows it.
            self.notify(text, title=f"run {message.run}", timeout=3)
        else:
            text = f"{message.run} refused {message.op}: {message.error}"
            status.show(f"✗ {text}", error=True)
            self.notify(text, severity="error", timeout=8)
